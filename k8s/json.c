/*
 * json.c: a JSON scanner for the decoders of k8s/ (watch events, list
 * pages, pods, Status). It walks the text in place and never builds a
 * tree: what a decoder does not keep is skipped, with its syntax
 * checked strictly (RFC 8259 grammar; strings are found with memchr
 * and escapes are checked only in the strings that are decoded), which
 * is what makes a 10 KB pod cost a few microseconds.
 *
 * It does not check UTF-8 nor control characters inside strings.
 */
#include "config.h"
#include "common.h"
#include "k8s.h"
#include "k8s-int.h"

#include <ctype.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <stdlib.h>
#include <string.h>

void
kjson_init(struct kjson *j, const char *p, size_t len)
{
	j->start = p;
	j->end = p + len;
	j->err_at = NULL;
	j->err = NULL;
}

const char *
kjson_fail(struct kjson *j, const char *at, const char *why)
{
	if (j->err_at == NULL) {
		j->err_at = at != NULL ? at : j->end;
		j->err = why;
	}
	return NULL;
}

const char *
kjson_ws(const struct kjson *j, const char *p)
{
	while (p < j->end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
		p++;
	return p;
}

static int kjson_hex4(const char *, unsigned *);

/*
 * The first '"' or '\\' at or after q (or e): sixteen bytes at a time
 * with SSE2, else eight with the "has a zero byte" trick.
 */
static inline const char *
kjson_find_quote(const char *q, const char *e)
{
#ifdef __SSE2__
	const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');
	__m128i x;
	int m;

	while (e - q >= 16) {
		x = _mm_loadu_si128((const __m128i *)(const void *)q);
		m = _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(x, quote),
		    _mm_cmpeq_epi8(x, bslash)));
		if (m != 0)
			return q + __builtin_ctz((unsigned)m);
		q += 16;
	}
#elif defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
	uint64_t x, a, b, t;

	while (e - q >= 8) {
		memcpy(&x, q, 8);
		a = x ^ (ones * '"');
		b = x ^ (ones * '\\');
		t = (((a - ones) & ~a) | ((b - ones) & ~b)) & highs;
		if (t != 0)
			return q + (__builtin_ctzll(t) >> 3);
		q += 8;
	}
#endif
	while (q < e && *q != '"' && *q != '\\')
		q++;
	return q;
}

/* One pass: the closing quote found, escapes checked on the way. */
static inline const char *
kjson_str_end(struct kjson *j, const char *p, int *has_escape)
{
	const char *q = p + 1, *e = j->end;
	unsigned cp, lo;

	if (has_escape != NULL)
		*has_escape = 0;
	for (;;) {
		q = kjson_find_quote(q, e);
		if (q >= e)
			return kjson_fail(j, p, "unterminated string");
		if (*q == '"')
			return q + 1;
		if (has_escape != NULL)
			*has_escape = 1;
		if (e - q < 2)
			return kjson_fail(j, p, "unterminated string");
		switch (q[1]) {
		case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
			q += 2;
			break;
		case 'u':
			if (e - q < 6 || kjson_hex4(q + 2, &cp) != 0)
				return kjson_fail(j, q, "bad \\u escape");
			/* UTF-16 surrogates come in pairs. */
			if (cp >= 0xdc00 && cp < 0xe000)
				return kjson_fail(j, q, "unpaired surrogate");
			if (cp >= 0xd800 && cp < 0xdc00) {
				if (e - q < 12 || q[6] != '\\' || q[7] != 'u' ||
				    kjson_hex4(q + 8, &lo) != 0 || lo < 0xdc00 || lo >= 0xe000)
					return kjson_fail(j, q, "unpaired surrogate");
				q += 6;
			}
			q += 6;
			break;
		default:
			return kjson_fail(j, q, "bad escape");
		}
	}
}

const char *
kjson_string_end(struct kjson *j, const char *p, int *has_escape)
{
	return kjson_str_end(j, p, has_escape);
}

static const char *
kjson_number_end(struct kjson *j, const char *p)
{
	const char *s = p, *e = j->end;

	if (p < e && *p == '-')
		p++;
	if (p >= e || *p < '0' || *p > '9')
		return kjson_fail(j, s, "bad number");
	if (*p == '0')
		p++;
	else
		while (p < e && *p >= '0' && *p <= '9')
			p++;
	if (p < e && *p == '.') {
		p++;
		if (p >= e || *p < '0' || *p > '9')
			return kjson_fail(j, s, "bad number");
		while (p < e && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < e && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < e && (*p == '+' || *p == '-'))
			p++;
		if (p >= e || *p < '0' || *p > '9')
			return kjson_fail(j, s, "bad number");
		while (p < e && *p >= '0' && *p <= '9')
			p++;
	}
	return p;
}

static const char *
kjson_literal(struct kjson *j, const char *p, const char *lit, size_t n)
{
	if ((size_t)(j->end - p) < n || memcmp(p, lit, n) != 0)
		return kjson_fail(j, p, "invalid literal");
	return p + n;
}

/*
 * Iterative, so depth costs a bit each, not a stack frame: bit i of
 * stack is 1 when level i is an object.
 */
const char *
kjson_skip(struct kjson *j, const char *p)
{
	uint64_t stack[KJSON_MAX_DEPTH / 64];
	const char *e = j->end;
	int depth = 0;

value:
	p = kjson_ws(j, p);
	if (p >= e)
		return kjson_fail(j, p, "value expected");
	switch (*p) {
	case '{':
		if (depth == KJSON_MAX_DEPTH)
			return kjson_fail(j, p, "nested too deep");
		stack[depth / 64] |= 1ULL << (depth % 64);
		depth++;
		p = kjson_ws(j, p + 1);
		if (p < e && *p == '}') {
			p++;
			depth--;
			goto after;
		}
		goto key;
	case '[':
		if (depth == KJSON_MAX_DEPTH)
			return kjson_fail(j, p, "nested too deep");
		stack[depth / 64] &= ~(1ULL << (depth % 64));
		depth++;
		p = kjson_ws(j, p + 1);
		if (p < e && *p == ']') {
			p++;
			depth--;
			goto after;
		}
		goto value;
	case '"':
		if ((p = kjson_str_end(j, p, NULL)) == NULL)
			return NULL;
		goto after;
	case 't':
		p = kjson_literal(j, p, "true", 4);
		break;
	case 'f':
		p = kjson_literal(j, p, "false", 5);
		break;
	case 'n':
		p = kjson_literal(j, p, "null", 4);
		break;
	case '-': case '0': case '1': case '2': case '3': case '4':
	case '5': case '6': case '7': case '8': case '9':
		p = kjson_number_end(j, p);
		break;
	default:
		return kjson_fail(j, p, "value expected");
	}
	if (p == NULL)
		return NULL;
	goto after;

key:
	if (p >= e || *p != '"')
		return kjson_fail(j, p, "member name expected");
	if ((p = kjson_str_end(j, p, NULL)) == NULL)
		return NULL;
	p = kjson_ws(j, p);
	if (p >= e || *p != ':')
		return kjson_fail(j, p, "':' expected");
	p++;
	goto value;

after:
	if (depth == 0)
		return p;
	p = kjson_ws(j, p);
	if (p >= e)
		return kjson_fail(j, p, "unexpected end");
	if (*p == ',') {
		p = kjson_ws(j, p + 1);
		if (stack[(depth - 1) / 64] & (1ULL << ((depth - 1) % 64)))
			goto key;
		goto value;
	}
	if (stack[(depth - 1) / 64] & (1ULL << ((depth - 1) % 64))) {
		if (*p != '}')
			return kjson_fail(j, p, "',' or '}' expected");
	} else if (*p != ']')
		return kjson_fail(j, p, "',' or ']' expected");
	p++;
	depth--;
	goto after;
}

int
kjson_obj_begin(struct kjson *j, const char **pp)
{
	const char *p = kjson_ws(j, *pp);

	if (p >= j->end || *p != '{') {
		kjson_fail(j, p, "object expected");
		return -1;
	}
	*pp = p + 1;
	return 0;
}

int
kjson_obj_next(struct kjson *j, const char **pp, int *n, const char **key, size_t *klen)
{
	const char *p = kjson_ws(j, *pp), *e = j->end, *k;

	if (p < e && *p == '}') {
		*pp = p + 1;
		return 0;
	}
	if (*n > 0) {
		if (p >= e || *p != ',') {
			kjson_fail(j, p, "',' or '}' expected");
			return -1;
		}
		p = kjson_ws(j, p + 1);
	}
	if (p >= e || *p != '"') {
		kjson_fail(j, p, "member name expected");
		return -1;
	}
	k = p + 1;
	if ((p = kjson_str_end(j, p, NULL)) == NULL)
		return -1;
	*key = k;
	*klen = (size_t)(p - 1 - k);
	p = kjson_ws(j, p);
	if (p >= e || *p != ':') {
		kjson_fail(j, p, "':' expected");
		return -1;
	}
	p = kjson_ws(j, p + 1);
	if (p >= e) {
		kjson_fail(j, p, "value expected");
		return -1;
	}
	(*n)++;
	*pp = p;
	return 1;
}

int
kjson_arr_begin(struct kjson *j, const char **pp)
{
	const char *p = kjson_ws(j, *pp);

	if (p >= j->end || *p != '[') {
		kjson_fail(j, p, "array expected");
		return -1;
	}
	*pp = p + 1;
	return 0;
}

int
kjson_arr_next(struct kjson *j, const char **pp, int *n)
{
	const char *p = kjson_ws(j, *pp), *e = j->end;

	if (p < e && *p == ']') {
		*pp = p + 1;
		return 0;
	}
	if (*n > 0) {
		if (p >= e || *p != ',') {
			kjson_fail(j, p, "',' or ']' expected");
			return -1;
		}
		p = kjson_ws(j, p + 1);
	}
	if (p >= e) {
		kjson_fail(j, p, "value expected");
		return -1;
	}
	(*n)++;
	*pp = p;
	return 1;
}

void
kbuf_reserve(struct kbuf *b, size_t more)
{
	size_t want;

	if (b->cap - b->len >= more)
		return;
	want = b->cap == 0 ? 256 : b->cap;
	while (want - b->len < more)
		want *= 2;
	b->p = xrealloc(b->p, want);
	b->cap = want;
}

void
kbuf_add(struct kbuf *b, const void *data, size_t len)
{
	kbuf_reserve(b, len);
	memcpy(b->p + b->len, data, len);
	b->len += len;
}

void
kbuf_free(struct kbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

static int
kjson_hex4(const char *p, unsigned *out)
{
	unsigned v = 0;
	int i;

	for (i = 0; i < 4; i++) {
		char c = p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

static size_t
kjson_utf8(unsigned cp, char *o)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

const char *
kjson_string(struct kjson *j, const char *p, struct kbuf *b, size_t *off)
{
	const char *s, *q, *end;
	int esc;
	char *o;
	unsigned cp, lo;

	p = kjson_ws(j, p);
	if (p >= j->end || *p != '"')
		return kjson_fail(j, p, "string expected");
	if ((end = kjson_string_end(j, p, &esc)) == NULL)
		return NULL;
	s = p + 1;
	q = end - 1;
	/* Decoded text is never longer than the escaped one. */
	kbuf_reserve(b, (size_t)(q - s) + 1);
	*off = b->len;
	o = b->p + b->len;
	if (!esc) {
		memcpy(o, s, (size_t)(q - s));
		o += q - s;
	} else {
		while (s < q) {
			if (*s != '\\') {
				*o++ = *s++;
				continue;
			}
			s++;
			switch (*s++) {
			case '"': *o++ = '"'; break;
			case '\\': *o++ = '\\'; break;
			case '/': *o++ = '/'; break;
			case 'b': *o++ = '\b'; break;
			case 'f': *o++ = '\f'; break;
			case 'n': *o++ = '\n'; break;
			case 'r': *o++ = '\r'; break;
			case 't': *o++ = '\t'; break;
			case 'u':
				if (q - s < 4 || kjson_hex4(s, &cp) != 0)
					return kjson_fail(j, s - 2, "bad \\u escape");
				s += 4;
				if (cp >= 0xd800 && cp < 0xdc00) {
					if (q - s < 6 || s[0] != '\\' || s[1] != 'u' ||
					    kjson_hex4(s + 2, &lo) != 0 || lo < 0xdc00 || lo >= 0xe000)
						return kjson_fail(j, s - 6, "unpaired surrogate");
					s += 6;
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				} else if (cp >= 0xdc00 && cp < 0xe000)
					return kjson_fail(j, s - 6, "unpaired surrogate");
				if (cp == 0)
					return kjson_fail(j, s - 6, "NUL in string");
				/* \uXXXX is 6 bytes, its UTF-8 at most 3 (4 for 12). */
				o += kjson_utf8(cp, o);
				break;
			default:
				return kjson_fail(j, s - 2, "bad escape");
			}
		}
	}
	*o = '\0';
	if (memchr(b->p + *off, '\0', (size_t)(o - (b->p + *off))) != NULL)
		return kjson_fail(j, p, "NUL in string");
	b->len = (size_t)(o - b->p) + 1;
	return end;
}

const char *
kjson_string_dup(struct kjson *j, const char *p, char **out)
{
	struct kbuf b = { NULL, 0, 0 };
	size_t off;

	if ((p = kjson_string(j, p, &b, &off)) == NULL) {
		kbuf_free(&b);
		return NULL;
	}
	*out = b.p;
	return p;
}

const char *
kjson_int(struct kjson *j, const char *p, long long *out)
{
	const char *s = kjson_ws(j, p), *e;
	long long v = 0;
	int neg = 0;

	if ((e = kjson_number_end(j, s)) == NULL)
		return NULL;
	p = s;
	if (*p == '-') {
		neg = 1;
		p++;
	}
	for (; p < e; p++) {
		if (*p < '0' || *p > '9')
			return kjson_fail(j, s, "integer expected");
		if (v > (INT64_MAX - 9) / 10)
			return kjson_fail(j, s, "integer too large");
		v = v * 10 + (*p - '0');
	}
	*out = neg ? -v : v;
	return e;
}

const char *
kjson_bool(struct kjson *j, const char *p, int *out)
{
	p = kjson_ws(j, p);
	if (p < j->end && *p == 't') {
		*out = 1;
		return kjson_literal(j, p, "true", 4);
	}
	if (p < j->end && *p == 'f') {
		*out = 0;
		return kjson_literal(j, p, "false", 5);
	}
	return kjson_fail(j, p, "boolean expected");
}

int
kjson_null(struct kjson *j, const char **pp)
{
	const char *p = kjson_ws(j, *pp);

	if ((size_t)(j->end - p) >= 4 && memcmp(p, "null", 4) == 0) {
		*pp = p + 4;
		return 1;
	}
	return 0;
}
