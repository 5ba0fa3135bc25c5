/*
 * config.c: the effective configuration: a schema of known keys with
 * types, defaults and bounds, plus "passthrough" sections (kafka.*)
 * whose keys are validated by their consumer (librdkafka). Values come
 * from, in rising priority: defaults, config_set_default() (modes such
 * as --embedded), the INI file, PAIA_* environment variables, -o flags.
 *
 * Environment names: PAIA_<SECTION>_<KEY> upper-cased; for passthrough
 * sections "_" in the key maps to "." (PAIA_KAFKA_BOOTSTRAP_SERVERS ->
 * kafka.bootstrap.servers).
 *
 * The INI reader is our own, strict where the file is wrong: a regular
 * file of at most CONFIG_FILE_MAX bytes (a directory, FIFO or device
 * such as /dev/zero is refused before reading), lines of at most
 * CONFIG_LINE_MAX bytes (never split), no NUL, closed section headers,
 * key = value lines; every error names file and line. A key set twice
 * keeps its last value (as documented, and as harnesses that append an
 * override rely on).
 * Values from any source hold no control characters, and names and ids
 * (CONFIG_NAME) keep to A-Z a-z 0-9 . _ -: they reach log lines, file
 * names and Kafka ids.
 */
#include "config.h"
#include "common.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONFIG_FILE_MAX (1024 * 1024)
#define CONFIG_LINE_MAX 4096
#define CONFIG_FILE_KEYS_MAX 1024

struct config_value {
	char *section;
	char *key;
	char *value;
	int user; /* set by file, env or flag (not a default) */
	const struct config_key *schema;
};

struct config {
	const struct config_key *schema;
	const char **passthrough;
	struct config_value *values;
	size_t nvalues;
	size_t *index;		/* open addressing by section and key: value + 1, 0 free */
	size_t nindex;		/* a power of two, over twice nvalues */
};

static int
config_is_passthrough(const struct config *c, const char *section)
{
	const char **p;

	for (p = c->passthrough; p != NULL && *p != NULL; p++)
		if (strcmp(*p, section) == 0)
			return 1;
	return 0;
}

static const struct config_key *
config_find_schema(const struct config *c, const char *section, const char *key)
{
	const struct config_key *k;

	for (k = c->schema; k->section != NULL; k++)
		if (strcmp(k->section, section) == 0 && strcmp(k->key, key) == 0)
			return k;
	return NULL;
}

static int
config_section_known(const struct config *c, const char *section)
{
	const struct config_key *k;

	if (config_is_passthrough(c, section))
		return 1;
	for (k = c->schema; k->section != NULL; k++)
		if (strcmp(k->section, section) == 0)
			return 1;
	return 0;
}

static size_t
config_slot(const struct config *c, const char *section, const char *key)
{
	return (size_t)util_fnv1a(util_fnv1a(UTIL_FNV1A_INIT, section), key) & (c->nindex - 1);
}

/* The daemon reads its settings as it goes (task after task): no walk of them. */
static struct config_value *
config_find(const struct config *c, const char *section, const char *key)
{
	struct config_value *v;
	size_t i;

	if (c->nindex == 0)
		return NULL;
	for (i = config_slot(c, section, key); c->index[i] != 0; i = (i + 1) & (c->nindex - 1)) {
		v = &c->values[c->index[i] - 1];
		if (strcmp(v->key, key) == 0 && strcmp(v->section, section) == 0)
			return v;
	}
	return NULL;
}

/* Index value n (the index grown and rebuilt when it is half full). */
static void
config_index(struct config *c, size_t n)
{
	size_t i, j;

	if (2 * (n + 1) > c->nindex) {
		free(c->index);
		c->nindex = c->nindex == 0 ? 256 : 2 * c->nindex;
		c->index = xcalloc(c->nindex, sizeof *c->index);
		for (j = 0; j < n; j++)
			config_index(c, j);
	}
	for (i = config_slot(c, c->values[n].section, c->values[n].key); c->index[i] != 0;
	    i = (i + 1) & (c->nindex - 1))
		;
	c->index[i] = n + 1;
}

static void
config_store(struct config *c, const char *section, const char *key, const char *value,
    int user, const struct config_key *schema)
{
	struct config_value *v = config_find(c, section, key);
	char *copy;

	if (v == NULL) {
		c->values = xreallocarray(c->values, c->nvalues + 1, sizeof *c->values);
		v = &c->values[c->nvalues++];
		v->section = xstrdup(section);
		v->key = xstrdup(key);
		v->value = NULL;
		v->schema = schema;
		config_index(c, c->nvalues - 1);
	}
	/* value may be v->value itself (config_get's answer): copy first. */
	copy = xstrdup(value);
	free(v->value);
	v->value = copy;
	v->user = user;
}

struct config *
config_new(const struct config_key *schema, const char **passthrough)
{
	struct config *c = xcalloc(1, sizeof *c);
	const struct config_key *k;

	c->schema = schema;
	c->passthrough = passthrough;
	for (k = schema; k->section != NULL; k++)
		config_store(c, k->section, k->key, k->def != NULL ? k->def : "", 0, k);
	return c;
}

void
config_free(struct config *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->nvalues; i++) {
		free(c->values[i].section);
		free(c->values[i].key);
		free(c->values[i].value);
	}
	free(c->values);
	free(c->index);
	free(c);
}

int
config_name_check(const char *what, const char *value, size_t min, size_t max, char **cause)
{
	size_t i, len = strlen(value);
	char *e;

	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)value[i];
		if (!isalnum(ch) && ch != '.' && ch != '_' && ch != '-')
			break;
	}
	if (i == len && len >= min && len <= max && strcmp(value, ".") != 0 &&
	    strcmp(value, "..") != 0)
		return 0;
	e = util_cut(value, 64);
	xasprintf(cause, "%s: \"%s\" is not a name: %zu to %zu characters of A-Z a-z 0-9 . _ - "
	    "(and not . or ..)", what, e, min, max);
	free(e);
	return -1;
}

static int
config_check(const struct config_key *k, const char *value, char **cause)
{
	long long n;
	int b, rc = -1;
	const char *p, *bar;
	char *e, what[256];
	size_t len;

	if (k->type == CONFIG_STRING)
		return 0;
	if (k->type == CONFIG_NAME) {
		snprintf(what, sizeof what, "%s.%s", k->section, k->key);
		return config_name_check(what, value, (size_t)k->min, (size_t)k->max, cause);
	}
	e = util_cut(value, 64);
	switch (k->type) {
	case CONFIG_STRING:
	case CONFIG_NAME:
		break;
	case CONFIG_INT:
		if ((rc = util_parse_int(value, k->min, k->max, &n)) != 0)
			xasprintf(cause, "%s.%s: \"%s\" is not an integer between %lld and %lld",
			    k->section, k->key, e, k->min, k->max);
		break;
	case CONFIG_BOOL:
		if ((rc = util_parse_bool(value, &b)) != 0)
			xasprintf(cause, "%s.%s: \"%s\" is not a boolean (true or false)",
			    k->section, k->key, e);
		break;
	case CONFIG_ENUM:
		len = strlen(value);
		for (p = k->choices; p != NULL && *p != '\0'; p = bar + 1) {
			bar = strchr(p, '|');
			if (bar == NULL)
				bar = p + strlen(p);
			if ((size_t)(bar - p) == len && strncmp(p, value, len) == 0) {
				rc = 0;
				break;
			}
			if (*bar == '\0')
				break;
		}
		if (rc != 0)
			xasprintf(cause, "%s.%s: \"%s\" is not one of %s", k->section, k->key, e,
			    k->choices);
		break;
	}
	free(e);
	return rc;
}

/* A section or key name: what a file may hold and an error may quote. */
static int
config_word_ok(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && *s != '.' && *s != '_' && *s != '-')
			return 0;
	return 1;
}

int
config_set(struct config *c, const char *section, const char *key, const char *value,
    char **cause)
{
	const struct config_key *k;
	const char *p;
	char *q;

	if (!config_word_ok(section)) {
		q = log_quote(section);
		xasprintf(cause, "section name %s is not made of A-Z a-z 0-9 . _ -", q);
		free(q);
		return -1;
	}
	if (!config_section_known(c, section)) {
		xasprintf(cause, "unknown section [%s]", section);
		return -1;
	}
	if (*key == '\0') {
		xasprintf(cause, "[%s]: empty key", section);
		return -1;
	}
	if (!config_word_ok(key)) {
		q = log_quote(key);
		xasprintf(cause, "[%s]: key name %s is not made of A-Z a-z 0-9 . _ -", section, q);
		free(q);
		return -1;
	}
	/* Values reach log lines and commands: no line breaks, escapes or NULs. */
	if ((p = util_find_control(value)) != NULL) {
		xasprintf(cause, "%s.%s: the value holds a control character (byte 0x%02x)",
		    section, key, (unsigned char)*p);
		return -1;
	}
	if (config_is_passthrough(c, section)) {
		config_store(c, section, key, value, 1, NULL);
		return 0;
	}
	if ((k = config_find_schema(c, section, key)) == NULL) {
		xasprintf(cause, "unknown key %s.%s", section, key);
		return -1;
	}
	if (config_check(k, value, cause) != 0)
		return -1;
	config_store(c, section, key, value, 1, k);
	return 0;
}

void
config_set_default(struct config *c, const char *section, const char *key, const char *value)
{
	struct config_value *v = config_find(c, section, key);

	if (v != NULL && v->user)
		return;
	config_store(c, section, key, value, 0, config_find_schema(c, section, key));
}

/* Trim blanks (space, tab) at both ends of s[0..*len); returns the new start. */
static char *
config_trim(char *s, size_t *len)
{
	while (*len > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		(*len)--;
	}
	while (*len > 0 && (s[*len - 1] == ' ' || s[*len - 1] == '\t'))
		(*len)--;
	s[*len] = '\0';
	return s;
}

/* Parse the text of an INI file (buf[len] is a NUL); errors name path:line. */
static int
config_parse(struct config *c, const char *path, char *buf, size_t len, char **cause)
{
	size_t nkeys = 0, lineno = 0, n, i;
	char *line, *next, *end, *eq, *key, *value, *section = NULL, *why = NULL;
	int rc = -1;

	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0) {
		buf += 3;	/* an editor's byte order mark */
		len -= 3;
	}
	for (line = buf; line < buf + len; line = next) {
		lineno++;
		end = memchr(line, '\n', (size_t)(buf + len - line));
		if (end == NULL)
			end = buf + len;
		next = end + 1;
		n = (size_t)(end - line);
		if (n > CONFIG_LINE_MAX) {
			xasprintf(cause, "%s:%zu: line longer than %d bytes", path, lineno,
			    CONFIG_LINE_MAX);
			goto out;
		}
		if (memchr(line, '\0', n) != NULL) {
			xasprintf(cause, "%s:%zu: a NUL byte (not a text file?)", path, lineno);
			goto out;
		}
		if (n > 0 && line[n - 1] == '\r')
			n--;
		line = config_trim(line, &n);
		if (n == 0 || *line == ';' || *line == '#')
			continue;
		if (*line == '[') {
			if ((end = strchr(line, ']')) == NULL) {
				xasprintf(cause, "%s:%zu: section header without ']'", path, lineno);
				goto out;
			}
			*end++ = '\0';
			while (*end == ' ' || *end == '\t')
				end++;
			if (*end != '\0' && *end != ';' && *end != '#') {
				xasprintf(cause, "%s:%zu: text after the section header's ']'", path,
				    lineno);
				goto out;
			}
			n = strlen(line + 1);
			key = config_trim(line + 1, &n);
			if (!config_word_ok(key) || !config_section_known(c, key)) {
				/* Quoted when it holds what a terminal would act on. */
				char *q = log_quote(key);
				xasprintf(cause, "%s:%zu: unknown section [%s]", path, lineno,
				    strlen(q) == strlen(key) + 2 ? key : q);
				free(q);
				goto out;
			}
			free(section);
			section = xstrdup(key);
			continue;
		}
		if ((eq = strchr(line, '=')) == NULL) {
			xasprintf(cause, "%s:%zu: expected key = value (no '=')", path, lineno);
			goto out;
		}
		*eq = '\0';
		n = (size_t)(eq - line);
		key = config_trim(line, &n);
		if (n == 0) {
			xasprintf(cause, "%s:%zu: no key before '='", path, lineno);
			goto out;
		}
		/* A ';' after a blank starts a comment; '#' inside a value is the value's. */
		value = eq + 1;
		for (i = 1; value[i - 1] != '\0' && value[i] != '\0'; i++) {
			if (value[i] == ';' && (value[i - 1] == ' ' || value[i - 1] == '\t')) {
				value[i] = '\0';
				break;
			}
		}
		n = strlen(value);
		value = config_trim(value, &n);
		if (section == NULL) {
			xasprintf(cause, "%s:%zu: key %s before any [section]", path, lineno,
			    config_word_ok(key) ? key : "(unprintable)");
			goto out;
		}
		if (nkeys++ == CONFIG_FILE_KEYS_MAX) {
			xasprintf(cause, "%s:%zu: more than %d keys in one file", path, lineno,
			    CONFIG_FILE_KEYS_MAX);
			goto out;
		}
		if (config_set(c, section, key, value, &why) != 0) {
			xasprintf(cause, "%s:%zu: %s", path, lineno, why);
			free(why);
			goto out;
		}
	}
	rc = 0;
out:
	free(section);
	return rc;
}

int
config_load_file(struct config *c, const char *path, char **cause)
{
	struct stat sb;
	char *buf = NULL;
	size_t len = 0;
	ssize_t n;
	int fd, rc = -1;

	/* O_NONBLOCK: opening a FIFO must not wait for a writer; fstat refuses it. */
	if ((fd = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)) < 0) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) != 0) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		xasprintf(cause, "%s: not a regular file (%s)", path, S_ISDIR(sb.st_mode) ?
		    "a directory" : S_ISFIFO(sb.st_mode) ? "a FIFO" : S_ISCHR(sb.st_mode) ||
		    S_ISBLK(sb.st_mode) ? "a device" : S_ISSOCK(sb.st_mode) ? "a socket" : "special");
		goto out;
	}
	/* Read one byte past the cap: a file that grew while read is caught too. */
	buf = xmalloc(CONFIG_FILE_MAX + 2);
	while (len <= CONFIG_FILE_MAX) {
		n = read(fd, buf + len, CONFIG_FILE_MAX + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			xasprintf(cause, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > CONFIG_FILE_MAX) {
		xasprintf(cause, "%s: larger than %d bytes (not a configuration file?)", path,
		    CONFIG_FILE_MAX);
		goto out;
	}
	buf[len] = '\0';
	rc = config_parse(c, path, buf, len, cause);
out:
	free(buf);
	close(fd);
	return rc;
}

int
config_load_env(struct config *c, char **envp, char **cause)
{
	const struct config_key *k;
	const char **p;
	char name[256], *key, *why = NULL;
	size_t i, plen;

	for (; envp != NULL && *envp != NULL; envp++) {
		const char *e = *envp, *eq = strchr(e, '=');
		int matched = 0;

		if (strncmp(e, "PAIA_", 5) != 0 || eq == NULL)
			continue;
		for (k = c->schema; k->section != NULL && !matched; k++) {
			snprintf(name, sizeof name, "PAIA_%s_%s", k->section, k->key);
			for (i = 0; name[i] != '\0'; i++)
				name[i] = (char)toupper((unsigned char)name[i]);
			if (strlen(name) == (size_t)(eq - e) && strncmp(name, e, (size_t)(eq - e)) == 0) {
				if (config_set(c, k->section, k->key, eq + 1, &why) != 0) {
					xasprintf(cause, "environment %.*s: %s", (int)(eq - e), e, why);
					free(why);
					return -1;
				}
				matched = 1;
			}
		}
		/* PAIA_<known section>_<unknown key> is a typo, not someone else's. */
		for (k = c->schema; k->section != NULL && !matched; k++) {
			snprintf(name, sizeof name, "PAIA_%s_", k->section);
			for (i = 0; name[i] != '\0'; i++)
				name[i] = (char)toupper((unsigned char)name[i]);
			if (strncmp(e, name, strlen(name)) == 0) {
				xasprintf(cause, "environment %.*s: no key of [%s] has this name",
				    (int)(eq - e), e, k->section);
				return -1;
			}
		}
		for (p = c->passthrough; p != NULL && *p != NULL && !matched; p++) {
			snprintf(name, sizeof name, "PAIA_%s_", *p);
			for (i = 0; name[i] != '\0'; i++)
				name[i] = (char)toupper((unsigned char)name[i]);
			plen = strlen(name);
			if (strncmp(e, name, plen) != 0 || (size_t)(eq - e) <= plen)
				continue;
			key = xstrndup(e + plen, (size_t)(eq - e) - plen);
			for (i = 0; key[i] != '\0'; i++)
				key[i] = key[i] == '_' ? '.' : (char)tolower((unsigned char)key[i]);
			if (config_set(c, *p, key, eq + 1, &why) != 0) {
				xasprintf(cause, "environment %.*s: %s", (int)(eq - e), e, why);
				free(why);
				free(key);
				return -1;
			}
			free(key);
			matched = 1;
		}
		/* Other PAIA_* variables (PAIA_SOCKET, ...) belong to programs. */
	}
	return 0;
}

const char *
config_get(const struct config *c, const char *section, const char *key)
{
	struct config_value *v = config_find(c, section, key);

	return v != NULL ? v->value : NULL;
}

long long
config_get_int(const struct config *c, const char *section, const char *key)
{
	const char *s = config_get(c, section, key);
	long long n = 0;

	if (s == NULL || util_parse_int(s, INT64_MIN, INT64_MAX, &n) != 0)
		fatalx("config: %s.%s is not an integer", section, key);
	return n;
}

int
config_get_bool(const struct config *c, const char *section, const char *key)
{
	const char *s = config_get(c, section, key);
	int b = 0;

	if (s == NULL || util_parse_bool(s, &b) != 0)
		fatalx("config: %s.%s is not a boolean", section, key);
	return b;
}

size_t
config_count(const struct config *c)
{
	return c->nvalues;
}

struct config_entry
config_at(const struct config *c, size_t i)
{
	struct config_entry e = { c->values[i].section, c->values[i].key, c->values[i].value,
	    c->values[i].user };

	return e;
}

void
config_dump(const struct config *c, FILE *f)
{
	const char *last = NULL;
	char *red;
	size_t i;

	for (i = 0; i < c->nvalues; i++) {
		const struct config_value *v = &c->values[i];

		if (last == NULL || strcmp(last, v->section) != 0)
			fprintf(f, "%s[%s]\n", last != NULL ? "\n" : "", v->section);
		last = v->section;
		if (log_key_is_secret(v->key) && *v->value != '\0')
			fprintf(f, "%s = ********\n", v->key);
		else if (strstr(v->value, "://") != NULL) {
			red = log_redact_url(v->value);
			fprintf(f, "%s = %s\n", v->key, red);
			free(red);
		} else
			fprintf(f, "%s = %s\n", v->key, v->value);
	}
}
