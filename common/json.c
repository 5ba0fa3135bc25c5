/*
 * json.c: a strict RFC 8259 checker for JSON text that comes from
 * outside (task messages, control requests). One pass, no tree: it says
 * whether the text is exactly one JSON value under the rules below and,
 * for a top-level object, where each member lies, so that a caller can
 * splice the original text (requeue) instead of printing it again
 * through doubles. Building values is cJSON's job, on text that passed
 * here; every text accepted here parses in cJSON (tests/fuzz/fuzz-json).
 *
 * The RFC's grammar: no byte order mark, no leading zeros, no "1." or
 * ".5", no raw control characters in strings, only the escapes it
 * lists, UTF-8 only, nothing but whitespace after the value. Where the
 * RFC leaves room ("names SHOULD be unique", limits are the
 * implementation's), the strict choice: no name twice in one object
 * (compared after unescaping, as any parser sees them: the first wins
 * in cJSON, the last in Python), no \u0000 (C strings end there) and no
 * lone surrogates in strings, at most JSON_DEPTH_MAX levels of nesting.
 *
 * No globals and no I/O; it allocates only the names it compares and
 * the member list it hands back.
 */
#include "config.h"
#include "common.h"

#include <stdlib.h>
#include <string.h>

/* A name seen in an open object: its unescaped bytes in the arena. */
struct json_name {
	size_t at;		/* offset in the arena */
	size_t len;
	size_t off;		/* its opening quote in the text */
};

/* A name being compared: pointers into the arena, stable while sorting. */
struct json_key {
	const char *s;
	size_t len;
	size_t off;
};

struct json_scan {
	const unsigned char *p;
	size_t len;
	size_t i;
	int depth;
	struct json_name *names;	/* of every open object, innermost last */
	size_t nnames, names_cap;
	char *arena;
	size_t arena_len, arena_cap;
	struct json_key *keys;		/* scratch for the duplicate check */
	size_t keys_cap;
	struct json_doc *doc;		/* top-level members go here (or NULL) */
	size_t members_cap;
	size_t errpos;
	char *cause;
};

static int json_value(struct json_scan *);

static int
json_fail(struct json_scan *s, size_t at, const char *fmt, ...) printflike(3, 4);

static int
json_fail(struct json_scan *s, size_t at, const char *fmt, ...)
{
	va_list ap;

	if (s->cause != NULL)
		return -1;
	s->errpos = at;
	va_start(ap, fmt);
	xvasprintf(&s->cause, fmt, ap);
	va_end(ap);
	return -1;
}

/* "'x'", "a NUL byte", "byte 0xff" or "the end": what stands at i. */
static const char *
json_what(const struct json_scan *s, size_t i, char *buf, size_t size)
{
	unsigned char c;

	if (i >= s->len)
		return "the end of the text";
	c = s->p[i];
	if (c == '\0')
		return "a NUL byte";
	if (c > 0x20 && c < 0x7f)
		snprintf(buf, size, "'%c'", c);
	else
		snprintf(buf, size, "byte 0x%02x", c);
	return buf;
}

static int
json_unexpected(struct json_scan *s, const char *expected)
{
	char b[16];

	return json_fail(s, s->i, "expected %s, found %s", expected, json_what(s, s->i, b, sizeof b));
}

static void
json_ws(struct json_scan *s)
{
	while (s->i < s->len && (s->p[s->i] == ' ' || s->p[s->i] == '\t' ||
	    s->p[s->i] == '\n' || s->p[s->i] == '\r'))
		s->i++;
}

static void
json_arena_add(struct json_scan *s, const void *b, size_t n)
{
	if (s->arena_len + n > s->arena_cap) {
		s->arena_cap = (s->arena_len + n) * 2 + 64;
		s->arena = xrealloc(s->arena, s->arena_cap);
	}
	memcpy(s->arena + s->arena_len, b, n);
	s->arena_len += n;
}

/* Length of the UTF-8 sequence at i (valid, not overlong, no surrogate), or 0. */
static size_t
json_utf8_len(const struct json_scan *s, size_t i)
{
	const unsigned char *p = s->p + i;
	size_t left = s->len - i, n, k;
	unsigned int cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		cp = p[0] & 0x07;
	} else
		return 0;
	if (left < n)
		return 0;
	for (k = 1; k < n; k++) {
		if ((p[k] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[k] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* Four hex digits at i; -1 when they are not. */
static long
json_hex4(const struct json_scan *s, size_t i)
{
	long v = 0;
	size_t k;

	if (s->len - i < 4)
		return -1;
	for (k = 0; k < 4; k++) {
		unsigned char c = s->p[i + k];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

static void
json_arena_cp(struct json_scan *s, unsigned long cp)
{
	unsigned char b[4];
	size_t n;

	if (cp < 0x80) {
		b[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (unsigned char)(0xc0 | cp >> 6);
		b[1] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (unsigned char)(0xe0 | cp >> 12);
		b[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		b[2] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (unsigned char)(0xf0 | cp >> 18);
		b[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
		b[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		b[3] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	json_arena_add(s, b, n);
}

/* A string at s->i (its quote); a name is unescaped into the arena. */
static int
json_string(struct json_scan *s, int name)
{
	static const char plain[] = "\"\\/bfnrt", meant[] = "\"\\/\b\f\n\r\t";
	size_t start = s->i, n;
	unsigned char c;
	const char *e;
	long cp, lo;

	s->i++;
	for (;;) {
		if (s->i >= s->len)
			return json_fail(s, start, "a string is not closed");
		c = s->p[s->i];
		if (c == '"') {
			s->i++;
			return 0;
		}
		if (c < 0x20)
			return json_fail(s, s->i, "control character 0x%02x inside a string "
			    "(write it as \\u%04x)", c, c);
		if (c != '\\') {
			if ((n = json_utf8_len(s, s->i)) == 0)
				return json_fail(s, s->i, "invalid UTF-8 inside a string");
			if (name)
				json_arena_add(s, s->p + s->i, n);
			s->i += n;
			continue;
		}
		if (s->i + 1 >= s->len)
			return json_fail(s, start, "a string is not closed");
		c = s->p[s->i + 1];
		if (c != 'u') {
			if (c == '\0' || (e = strchr(plain, c)) == NULL) {
				char b[16];
				return json_fail(s, s->i, "invalid escape: a backslash before %s",
				    json_what(s, s->i + 1, b, sizeof b));
			}
			if (name)
				json_arena_add(s, &meant[e - plain], 1);
			s->i += 2;
			continue;
		}
		if ((cp = json_hex4(s, s->i + 2)) < 0)
			return json_fail(s, s->i, "invalid escape: \\u needs four hex digits");
		if (cp == 0)
			return json_fail(s, s->i, "\\u0000 (NUL) inside a string");
		if (cp >= 0xdc00 && cp <= 0xdfff)
			return json_fail(s, s->i, "lone surrogate \\u%04lx inside a string", cp);
		if (cp >= 0xd800 && cp <= 0xdbff) {
			if (s->len - s->i < 12 || s->p[s->i + 6] != '\\' || s->p[s->i + 7] != 'u' ||
			    (lo = json_hex4(s, s->i + 8)) < 0xdc00 || lo > 0xdfff)
				return json_fail(s, s->i, "lone surrogate \\u%04lx inside a string",
				    cp);
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			s->i += 6;
		}
		if (name)
			json_arena_cp(s, (unsigned long)cp);
		s->i += 6;
	}
}

static int
json_digits(struct json_scan *s)
{
	size_t start = s->i;

	while (s->i < s->len && s->p[s->i] >= '0' && s->p[s->i] <= '9')
		s->i++;
	return s->i > start;
}

static int
json_number(struct json_scan *s)
{
	size_t start = s->i;

	if (s->p[s->i] == '-')
		s->i++;
	if (s->i >= s->len || s->p[s->i] < '0' || s->p[s->i] > '9')
		return json_fail(s, start, "a number needs a digit after '-'");
	if (s->p[s->i] == '0') {
		s->i++;
		if (s->i < s->len && s->p[s->i] >= '0' && s->p[s->i] <= '9')
			return json_fail(s, start, "a number has a leading zero");
	} else
		json_digits(s);
	if (s->i < s->len && s->p[s->i] == '.') {
		s->i++;
		if (!json_digits(s))
			return json_fail(s, start, "a number needs digits after its '.'");
	}
	if (s->i < s->len && (s->p[s->i] == 'e' || s->p[s->i] == 'E')) {
		s->i++;
		if (s->i < s->len && (s->p[s->i] == '+' || s->p[s->i] == '-'))
			s->i++;
		if (!json_digits(s))
			return json_fail(s, start, "a number needs digits in its exponent");
	}
	return 0;
}

static int
json_literal(struct json_scan *s, const char *word)
{
	size_t n = strlen(word);

	if (s->len - s->i < n || memcmp(s->p + s->i, word, n) != 0)
		return json_unexpected(s, "a value");
	s->i += n;
	return 0;
}

static int
json_key_cmp(const void *a, const void *b)
{
	const struct json_key *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->s, y->s, n);

	if (c != 0)
		return c;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return x->off < y->off ? -1 : x->off > y->off;
}

/*
 * A name, short and printable, for a message: quoted, escapes for quotes,
 * backslashes and control characters, cut at 40 bytes on a character
 * boundary.
 */
static char *
json_name_quote(const char *s, size_t len)
{
	size_t i, o = 0, n = len < 40 ? len : 40;
	char *out = xmalloc(n * 6 + 8);

	while (n < len && n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;	/* cut before a character, not inside it */
	out[o++] = '"';
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20 || c == 0x7f)
			o += (size_t)sprintf(out + o, "\\u%04x", c);
		else
			out[o++] = (char)c;
	}
	out[o++] = '"';
	if (n < len) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}

/* An object closes: are the names from first on unique? */
static int
json_names_unique(struct json_scan *s, size_t first)
{
	size_t n = s->nnames - first, i, dup = 0;
	struct json_key *k, *d = NULL;
	char *q;

	if (n < 2)
		return 0;
	if (n > s->keys_cap) {
		s->keys_cap = n * 2;
		s->keys = xreallocarray(s->keys, s->keys_cap, sizeof *s->keys);
	}
	k = s->keys;
	for (i = 0; i < n; i++) {
		k[i].s = s->arena + s->names[first + i].at;
		k[i].len = s->names[first + i].len;
		k[i].off = s->names[first + i].off;
	}
	qsort(k, n, sizeof *k, json_key_cmp);
	/* Name the repeat that comes first in the text. */
	for (i = 1; i < n; i++) {
		if (k[i].len == k[i - 1].len && memcmp(k[i].s, k[i - 1].s, k[i].len) == 0 &&
		    (d == NULL || k[i].off < dup)) {
			d = &k[i];
			dup = k[i].off;
		}
	}
	if (d == NULL)
		return 0;
	q = json_name_quote(d->s, d->len);
	json_fail(s, dup, "duplicate name %s in an object", q);
	free(q);
	return -1;
}

static int
json_object(struct json_scan *s)
{
	size_t first = s->nnames, arena_mark = s->arena_len, name_off, at;
	int top = s->depth == 1;
	struct json_member *m;

	s->i++;
	json_ws(s);
	if (s->i < s->len && s->p[s->i] == '}') {
		s->i++;
		return 0;
	}
	for (;;) {
		if (s->i >= s->len || s->p[s->i] != '"')
			return json_unexpected(s, "a name (a string)");
		name_off = s->i;
		at = s->arena_len;
		if (json_string(s, 1) != 0)
			return -1;
		if (s->nnames == s->names_cap) {
			s->names_cap = s->names_cap * 2 + 16;
			s->names = xreallocarray(s->names, s->names_cap, sizeof *s->names);
		}
		s->names[s->nnames].at = at;
		s->names[s->nnames].len = s->arena_len - at;
		s->names[s->nnames].off = name_off;
		s->nnames++;
		json_ws(s);
		if (s->i >= s->len || s->p[s->i] != ':')
			return json_unexpected(s, "':' after a name");
		s->i++;
		json_ws(s);
		if (top && s->doc != NULL) {
			if (s->doc->nmembers == s->members_cap) {
				s->members_cap = s->members_cap * 2 + 8;
				s->doc->members = xreallocarray(s->doc->members, s->members_cap,
				    sizeof *s->doc->members);
			}
			m = &s->doc->members[s->doc->nmembers++];
			m->name = xstrndup(s->arena + at, s->arena_len - at);
			m->name_off = name_off;
			m->value_off = s->i;
			m->value_end = s->i;
		}
		if (json_value(s) != 0)
			return -1;
		if (top && s->doc != NULL)
			s->doc->members[s->doc->nmembers - 1].value_end = s->i;
		json_ws(s);
		if (s->i < s->len && s->p[s->i] == ',') {
			s->i++;
			json_ws(s);
			if (s->i < s->len && s->p[s->i] == '}')
				return json_fail(s, s->i, "a comma before '}'");
			continue;
		}
		if (s->i < s->len && s->p[s->i] == '}')
			break;
		return json_unexpected(s, "',' or '}' after a member");
	}
	if (json_names_unique(s, first) != 0)
		return -1;
	s->i++;
	s->nnames = first;
	s->arena_len = arena_mark;
	return 0;
}

static int
json_array(struct json_scan *s)
{
	s->i++;
	json_ws(s);
	if (s->i < s->len && s->p[s->i] == ']') {
		s->i++;
		return 0;
	}
	for (;;) {
		if (json_value(s) != 0)
			return -1;
		json_ws(s);
		if (s->i < s->len && s->p[s->i] == ',') {
			s->i++;
			json_ws(s);
			if (s->i < s->len && s->p[s->i] == ']')
				return json_fail(s, s->i, "a comma before ']'");
			continue;
		}
		if (s->i < s->len && s->p[s->i] == ']') {
			s->i++;
			return 0;
		}
		return json_unexpected(s, "',' or ']' after an element");
	}
}

static int
json_value(struct json_scan *s)
{
	int rc;

	if (s->i >= s->len)
		return json_unexpected(s, "a value");
	switch (s->p[s->i]) {
	case '{':
	case '[':
		if (++s->depth > JSON_DEPTH_MAX)
			return json_fail(s, s->i, "nested deeper than %d levels", JSON_DEPTH_MAX);
		rc = s->p[s->i] == '{' ? json_object(s) : json_array(s);
		s->depth--;
		return rc;
	case '"':
		return json_string(s, 0);
	case 't':
		return json_literal(s, "true");
	case 'f':
		return json_literal(s, "false");
	case 'n':
		return json_literal(s, "null");
	case '.':
		return json_fail(s, s->i, "a number must start with a digit or '-'");
	default:
		if (s->p[s->i] == '-' || (s->p[s->i] >= '0' && s->p[s->i] <= '9'))
			return json_number(s);
		return json_unexpected(s, "a value");
	}
}

static enum json_type
json_type_at(const unsigned char *p)
{
	switch (*p) {
	case '{':
		return JSON_OBJECT;
	case '[':
		return JSON_ARRAY;
	case '"':
		return JSON_STRING;
	case 't':
		return JSON_TRUE;
	case 'f':
		return JSON_FALSE;
	case 'n':
		return JSON_NULL;
	default:
		return JSON_NUMBER;
	}
}

int
json_check(const void *buf, size_t len, struct json_doc *doc, size_t *errpos, char **cause)
{
	struct json_scan s;
	int rc = -1;

	memset(&s, 0, sizeof s);
	s.p = buf;
	s.len = buf != NULL ? len : 0;
	s.doc = doc;
	/* Never NULL: empty names point into it too. */
	s.arena_cap = 64;
	s.arena = xmalloc(s.arena_cap);
	if (doc != NULL)
		memset(doc, 0, sizeof *doc);
	if (s.len >= 3 && memcmp(s.p, "\xef\xbb\xbf", 3) == 0) {
		json_fail(&s, 0, "a byte order mark before the text (JSON has none)");
		goto out;
	}
	json_ws(&s);
	if (s.i == s.len) {
		json_fail(&s, s.i, s.len == 0 ? "no text" : "only whitespace");
		goto out;
	}
	if (doc != NULL) {
		doc->start = s.i;
		doc->type = json_type_at(s.p + s.i);
	}
	if (json_value(&s) != 0)
		goto out;
	if (doc != NULL)
		doc->end = s.i;
	json_ws(&s);
	if (s.i < s.len) {
		char b[16];
		json_fail(&s, s.i, "trailing data (%s) after the value",
		    json_what(&s, s.i, b, sizeof b));
		goto out;
	}
	rc = 0;
out:
	free(s.names);
	free(s.arena);
	free(s.keys);
	if (rc != 0) {
		if (doc != NULL) {
			json_doc_free(doc);
			memset(doc, 0, sizeof *doc);
		}
		if (errpos != NULL)
			*errpos = s.errpos;
		if (cause != NULL)
			*cause = s.cause;
		else
			free(s.cause);
	}
	return rc;
}

void
json_doc_free(struct json_doc *doc)
{
	size_t i;

	if (doc == NULL)
		return;
	for (i = 0; i < doc->nmembers; i++)
		free(doc->members[i].name);
	free(doc->members);
	doc->members = NULL;
	doc->nmembers = 0;
}

const struct json_member *
json_doc_member(const struct json_doc *doc, const char *name)
{
	size_t i;

	for (i = 0; i < doc->nmembers; i++)
		if (strcmp(doc->members[i].name, name) == 0)
			return &doc->members[i];
	return NULL;
}

const char *
json_type_name(enum json_type t)
{
	static const char *names[] = { "null", "a boolean", "a boolean", "a number",
	    "a string", "an array", "an object" };

	return (size_t)t < nitems(names) ? names[t] : "unknown";
}
