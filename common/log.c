/*
 * log.c: logfmt lines, one per event:
 *   ts=2026-11-28T10:00:00.123Z level=info msg="task done" task=t1 ...
 *
 * Quoting follows logfmt as go-logfmt and Loki read it: a value is
 * written bare when it is non-empty valid UTF-8 without spaces, '"',
 * '=', '\' or control characters; else in double quotes with JSON's
 * escapes (\" \\ \n \r \t \u00XX), an invalid UTF-8 byte written as
 * \ufffd. msg is always quoted. Values that may hold credentials go
 * through log_redact_url(); config keys that name secrets are masked by
 * config_dump().
 *
 * Lines go to standard error (with journald's "<N>" priority prefix when
 * standard error is the journal's stream, $JOURNAL_STREAM) or to a file
 * that log_reopen() opens again after a rotation. Thread-safe: each line
 * is built in memory and written with one write(2); a reopen swaps the
 * descriptor under the writers with dup3(2).
 *
 * log_limited() writes a repeated line (same level, message and fields,
 * or the same key) at most once per window: the ones in between are
 * counted, and the next line written for it carries repeated=N, the
 * number left out (log_limit_flush() writes that line at the end of a
 * window even when no new one comes).
 */
#include "config.h"
#include "common.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG_REPEAT_SLOTS 64

static enum log_level log_threshold = LOG_LEVEL_INFO;
static const char *log_names[] = { "debug", "info", "warn", "error" };
/* syslog(3) priorities of the levels, for journald's "<N>" prefix. */
static const int log_priorities[] = { 7, 6, 4, 3 };

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int log_fd = STDERR_FILENO;
static char *log_path;		/* a log file; NULL: standard error */
static int log_journal;		/* standard error is the journal's stream */

static struct log_repeat {
	uint64_t key;			/* 0: a free slot */
	enum log_level level;
	int64_t written_ms;		/* monotonic: when a line of it was last written */
	int64_t seen_ms;
	unsigned long count;		/* left out since then */
	char *msg, *fields;		/* the last one left out */
} log_repeats[LOG_REPEAT_SLOTS];
static int64_t log_repeat_window_ms = 30000;

void
log_set_level(enum log_level level)
{
	log_threshold = level;
}

enum log_level
log_get_level(void)
{
	return log_threshold;
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

/* ---- where lines go ---- */

/* Is standard error the stream systemd gave us to the journal ($JOURNAL_STREAM=dev:ino)? */
static int
log_stderr_is_journal(void)
{
	const char *v = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat sb;
	char tail;

	if (v == NULL || sscanf(v, "%llu:%llu%c", &dev, &ino, &tail) != 2)
		return 0;
	if (fstat(STDERR_FILENO, &sb) != 0)
		return 0;
	return (unsigned long long)sb.st_dev == dev && (unsigned long long)sb.st_ino == ino;
}

static int
log_file_open(const char *path, char **cause)
{
	int fd;

	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640)) < 0) {
		xasprintf(cause, "log file %s: %s", path, strerror(errno));
		return -1;
	}
	return fd;
}

int
log_open(const char *path, char **cause)
{
	int fd;

	if (path == NULL || *path == '\0') {
		pthread_mutex_lock(&log_lock);
		if (log_fd != STDERR_FILENO)
			close(log_fd);
		log_fd = STDERR_FILENO;
		free(log_path);
		log_path = NULL;
		log_journal = log_stderr_is_journal();
		pthread_mutex_unlock(&log_lock);
		return 0;
	}
	if ((fd = log_file_open(path, cause)) < 0)
		return -1;
	pthread_mutex_lock(&log_lock);
	if (log_fd != STDERR_FILENO) {
		/* Writers keep a valid descriptor number throughout. */
		dup3(fd, log_fd, O_CLOEXEC);
		close(fd);
	} else
		log_fd = fd;
	free(log_path);
	log_path = xstrdup(path);
	log_journal = 0;
	pthread_mutex_unlock(&log_lock);
	return 0;
}

int
log_reopen(char **cause)
{
	char *path;
	int rc;

	pthread_mutex_lock(&log_lock);
	path = log_path != NULL ? xstrdup(log_path) : NULL;
	pthread_mutex_unlock(&log_lock);
	if (path == NULL)
		return 0;
	rc = log_open(path, cause);
	free(path);
	return rc;
}

const char *
log_file(void)
{
	return log_path;
}

void
log_close(void)
{
	size_t i;

	pthread_mutex_lock(&log_lock);
	if (log_fd != STDERR_FILENO)
		close(log_fd);
	log_fd = STDERR_FILENO;
	free(log_path);
	log_path = NULL;
	for (i = 0; i < nitems(log_repeats); i++) {
		free(log_repeats[i].msg);
		free(log_repeats[i].fields);
		memset(&log_repeats[i], 0, sizeof log_repeats[i]);
	}
	pthread_mutex_unlock(&log_lock);
}

/* ---- quoting ---- */

/* Length of the valid UTF-8 sequence at s (left bytes), or 0 (overlongs and surrogates too). */
static size_t
log_utf8_len(const unsigned char *s, size_t left)
{
	unsigned char c = s[0];
	size_t n, i;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, cp = c & 0x07;
	else
		return 0;
	if (left < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

/* Can s be written without quotes? */
static int
log_bare_ok(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t left = strlen(s), n;

	if (left == 0)
		return 0;
	while (left > 0) {
		if (*p <= ' ' || *p == 0x7f || *p == '"' || *p == '=' || *p == '\\')
			return 0;
		if ((n = log_utf8_len(p, left)) == 0)
			return 0;
		p += n;
		left -= n;
	}
	return 1;
}

char *
log_quote(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t left = strlen(s), o = 0, n;
	/* Every byte may become 6 ("\u00XX", "\ufffd"). */
	char *out = xmalloc(left * 6 + 3);

	out[o++] = '"';
	while (left > 0) {
		unsigned char c = *p;
		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c == '\n' || c == '\r' || c == '\t') {
			out[o++] = '\\';
			out[o++] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
		} else if (c < 0x20 || c == 0x7f)
			o += (size_t)sprintf(out + o, "\\u%04x", c);
		else if ((n = log_utf8_len(p, left)) == 0) {
			memcpy(out + o, "\\ufffd", 6);
			o += 6;
		} else {
			memcpy(out + o, p, n);
			o += n;
			p += n;
			left -= n;
			continue;
		}
		p++;
		left--;
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
	if (s == NULL)
		s = "";
	*slot = log_bare_ok(s) ? xstrdup(s) : log_quote(s);
	return *slot;
}

/* ---- lines ---- */

/* Write one line: level, msg and the formatted fields (may be NULL). */
static void
log_write(enum log_level level, const char *msg, const char *fields, unsigned long repeated)
{
	char ts[40], prefix[8] = "", rep[40] = "", *line, *q;
	ssize_t n;
	int fd;

	if (log_journal)
		snprintf(prefix, sizeof prefix, "<%d>", log_priorities[level]);
	if (repeated > 0)
		snprintf(rep, sizeof rep, " repeated=%lu", repeated);
	q = log_quote(msg);
	n = xasprintf(&line, "%sts=%s level=%s msg=%s%s%s%s\n", prefix,
	    util_time_fmt(util_now_ms(), ts, sizeof ts), log_names[level], q,
	    fields != NULL && *fields != '\0' ? " " : "", fields != NULL ? fields : "", rep);
	fd = log_fd;
	if (write(fd, line, (size_t)n) < 0) {
		/* Nothing sensible to do when the log is gone. */
	}
	free(line);
	free(q);
}

void
log_msg(enum log_level level, const char *msg, const char *fields, ...)
{
	char *f = NULL;
	va_list ap;

	if (level < log_threshold)
		return;
	if (fields != NULL && *fields != '\0') {
		va_start(ap, fields);
		xvasprintf(&f, fields, ap);
		va_end(ap);
	}
	log_write(level, msg, f, 0);
	free(f);
}

/* ---- repeated lines ---- */

void
log_set_repeat_window(int seconds)
{
	log_repeat_window_ms = (int64_t)seconds * 1000;
}

/* The summary line of a slot's left-out lines. @locked */
static void
log_repeat_flush(struct log_repeat *r, int64_t now)
{
	if (r->count > 0)
		log_write(r->level, r->msg, r->fields, r->count);
	r->count = 0;
	r->written_ms = now;
	free(r->msg);
	free(r->fields);
	r->msg = r->fields = NULL;
}

void
log_limited(enum log_level level, const char *key, const char *msg, const char *fields, ...)
{
	struct log_repeat *r = NULL, *old = NULL;
	char *f = NULL;
	int64_t now = util_mono_ms();
	uint64_t h;
	va_list ap;
	size_t i;

	if (level < log_threshold)
		return;
	if (fields != NULL && *fields != '\0') {
		va_start(ap, fields);
		xvasprintf(&f, fields, ap);
		va_end(ap);
	}
	if (log_repeat_window_ms <= 0) {
		log_write(level, msg, f, 0);
		free(f);
		return;
	}
	h = util_fnv1a(UTIL_FNV1A_INIT + (uint64_t)level, key != NULL ? key : msg);
	if (key == NULL && f != NULL)
		h = util_fnv1a(h, f);
	if (h == 0)
		h = 1;
	pthread_mutex_lock(&log_lock);
	for (i = 0; i < nitems(log_repeats) && r == NULL; i++) {
		if (log_repeats[i].key == h)
			r = &log_repeats[i];
		else if (old == NULL || log_repeats[i].key == 0 ||
		    (old->key != 0 && log_repeats[i].seen_ms < old->seen_ms))
			old = &log_repeats[i];
	}
	if (r == NULL) {
		/* A new one takes the slot seen least recently (its count written first). */
		r = old;
		log_repeat_flush(r, now);
		r->key = h;
		r->level = level;
		r->written_ms = r->seen_ms = now;
		log_write(level, msg, f, 0);
	} else if (now - r->written_ms >= log_repeat_window_ms) {
		r->seen_ms = now;
		log_write(level, msg, f, r->count);
		r->count = 0;
		r->written_ms = now;
		free(r->msg);
		free(r->fields);
		r->msg = r->fields = NULL;
	} else {
		r->seen_ms = now;
		r->count++;
		free(r->msg);
		free(r->fields);
		r->msg = xstrdup(msg);
		r->fields = f;
		f = NULL;
	}
	pthread_mutex_unlock(&log_lock);
	free(f);
}

void
log_limit_flush(void)
{
	int64_t now = util_mono_ms();
	size_t i;

	pthread_mutex_lock(&log_lock);
	for (i = 0; i < nitems(log_repeats); i++) {
		struct log_repeat *r = &log_repeats[i];
		if (r->key != 0 && r->count > 0 && now - r->written_ms >= log_repeat_window_ms)
			log_repeat_flush(r, now);
	}
	pthread_mutex_unlock(&log_lock);
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
