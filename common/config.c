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
 */
#include "config.h"
#include "common.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdlib.h>
#include <string.h>

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
	char *load_cause; /* first error while parsing an INI file */
	const char *load_path;
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

static struct config_value *
config_find(const struct config *c, const char *section, const char *key)
{
	size_t i;

	for (i = 0; i < c->nvalues; i++)
		if (strcmp(c->values[i].section, section) == 0 &&
		    strcmp(c->values[i].key, key) == 0)
			return &c->values[i];
	return NULL;
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
	free(c->load_cause);
	free(c);
}

static int
config_check(const struct config_key *k, const char *value, char **cause)
{
	long long n;
	int b;
	const char *p, *bar;
	size_t len;

	switch (k->type) {
	case CONFIG_STRING:
		return 0;
	case CONFIG_INT:
		if (util_parse_int(value, k->min, k->max, &n) != 0) {
			xasprintf(cause, "%s.%s: \"%s\" is not an integer between %lld and %lld",
			    k->section, k->key, value, k->min, k->max);
			return -1;
		}
		return 0;
	case CONFIG_BOOL:
		if (util_parse_bool(value, &b) != 0) {
			xasprintf(cause, "%s.%s: \"%s\" is not a boolean (true or false)",
			    k->section, k->key, value);
			return -1;
		}
		return 0;
	case CONFIG_ENUM:
		len = strlen(value);
		for (p = k->choices; p != NULL && *p != '\0'; p = bar + 1) {
			bar = strchr(p, '|');
			if (bar == NULL)
				bar = p + strlen(p);
			if ((size_t)(bar - p) == len && strncmp(p, value, len) == 0)
				return 0;
			if (*bar == '\0')
				break;
		}
		xasprintf(cause, "%s.%s: \"%s\" is not one of %s", k->section, k->key, value,
		    k->choices);
		return -1;
	}
	return -1;
}

int
config_set(struct config *c, const char *section, const char *key, const char *value,
    char **cause)
{
	const struct config_key *k;

	if (!config_section_known(c, section)) {
		xasprintf(cause, "unknown section [%s]", section);
		return -1;
	}
	if (config_is_passthrough(c, section)) {
		if (*key == '\0') {
			xasprintf(cause, "[%s]: empty key", section);
			return -1;
		}
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

static int
config_ini_handler(void *arg, const char *section, const char *key, const char *value)
{
	struct config *c = arg;
	char *cause = NULL;

	if (c->load_cause != NULL)
		return 0;
	if (config_set(c, section, key, value, &cause) != 0) {
		xasprintf(&c->load_cause, "%s: %s", c->load_path, cause);
		free(cause);
		return 0;
	}
	return 1;
}

int
config_load_file(struct config *c, const char *path, char **cause)
{
	int rc;

	c->load_path = path;
	errno = 0;
	rc = ini_parse(path, config_ini_handler, c);
	if (c->load_cause != NULL) {
		*cause = c->load_cause;
		c->load_cause = NULL;
		return -1;
	}
	if (rc < 0) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (rc > 0) {
		xasprintf(cause, "%s:%d: syntax error", path, rc);
		return -1;
	}
	return 0;
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
			config_store(c, *p, key, eq + 1, 1, NULL);
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
	struct config_entry e = { c->values[i].section, c->values[i].key, c->values[i].value };

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
