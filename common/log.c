/*
 * log.c: logfmt lines on stderr, one per event:
 *   ts=2026-11-28T10:00:00.123Z level=info msg="task done" task=t1 ...
 * Values that may hold credentials go through log_redact_url(); config
 * keys that name secrets are masked by config_dump(). Thread-safe: each
 * line is built in memory and written with one write(2).
 */
#include "config.h"
#include "common.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static enum log_level log_threshold = LOG_LEVEL_INFO;
static const char *log_names[] = { "debug", "info", "warn", "error" };

void
log_set_level(enum log_level level)
{
	log_threshold = level;
}

int
log_level_parse(const char *s, enum log_level *out)
{
	size_t i;

	for (i = 0; i < nitems(log_names); i++) {
		if (strcmp(s, log_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

const char *
log_level_name(enum log_level level)
{
	return log_names[level];
}

char *
log_quote(const char *s)
{
	size_t len = strlen(s), i, o = 0;
	char *out = xmalloc(len * 4 + 3);

	out[o++] = '"';
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else if (c < 0x20 || c == 0x7f) {
			o += (size_t)sprintf(out + o, "\\x%02x", c);
		} else
			out[o++] = (char)c;
	}
	out[o++] = '"';
	out[o] = '\0';
	return out;
}

static __thread char *log_q_ring[8];
static __thread unsigned int log_q_next;

void
log_q_release(void)
{
	size_t i;

	for (i = 0; i < nitems(log_q_ring); i++) {
		free(log_q_ring[i]);
		log_q_ring[i] = NULL;
	}
}

const char *
log_q(const char *s)
{
	char **slot = &log_q_ring[log_q_next++ % nitems(log_q_ring)];

	free(*slot);
	*slot = log_quote(s != NULL ? s : "");
	return *slot;
}

void
log_msg(enum log_level level, const char *msg, const char *fields, ...)
{
	char ts[40], *line, *f = NULL, *q;
	va_list ap;
	ssize_t n;

	if (level < log_threshold)
		return;
	if (fields != NULL && *fields != '\0') {
		va_start(ap, fields);
		xvasprintf(&f, fields, ap);
		va_end(ap);
	}
	q = log_quote(msg);
	n = xasprintf(&line, "ts=%s level=%s msg=%s%s%s\n",
	    util_time_fmt(util_now_ms(), ts, sizeof ts), log_names[level], q,
	    f != NULL ? " " : "", f != NULL ? f : "");
	if (write(STDERR_FILENO, line, (size_t)n) < 0) {
		/* Nothing sensible to do when stderr is gone. */
	}
	free(line);
	free(q);
	free(f);
}

void
fatalx(const char *fmt, ...)
{
	char *m;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&m, fmt, ap) < 0)
		m = NULL;
	va_end(ap);
	if (m != NULL)
		log_msg(LOG_LEVEL_ERROR, m, "fatal=1");
	free(m);
	exit(1);
}

char *
log_redact_url(const char *url)
{
	const char *scheme, *at, *slash, *cut;
	char *out;

	if (url == NULL)
		return xstrdup("");
	scheme = strstr(url, "://");
	out = xstrdup(url);
	if (scheme != NULL) {
		const char *host = scheme + 3;
		slash = strchr(host, '/');
		at = strchr(host, '@');
		if (at != NULL && (slash == NULL || at < slash)) {
			free(out);
			xasprintf(&out, "%.*sREDACTED@%s", (int)(host - url), url, at + 1);
		}
	}
	cut = strpbrk(out, "?#");
	if (cut != NULL) {
		char *tmp;
		xasprintf(&tmp, "%.*s%cREDACTED", (int)(cut - out), out, *cut);
		free(out);
		out = tmp;
	}
	return out;
}

int
log_key_is_secret(const char *key)
{
	static const char *words[] = { "password", "secret", "token", "key",
	    "credential", "sasl.oauthbearer.config" };
	char lower[256];
	size_t i;

	for (i = 0; key[i] != '\0' && i < sizeof lower - 1; i++)
		lower[i] = (char)tolower((unsigned char)key[i]);
	lower[i] = '\0';
	/* Locations of keys are not keys themselves, nor files holding them. */
	if (strstr(lower, "location") != NULL || strstr(lower, "key_id") != NULL ||
	    (i >= 5 && strcmp(lower + i - 5, "_file") == 0))
		return 0;
	for (i = 0; i < nitems(words); i++)
		if (strstr(lower, words[i]) != NULL)
			return 1;
	return 0;
}
