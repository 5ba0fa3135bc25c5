/*
 * common.h: the small pieces every PAIA program shares: memory helpers
 * that abort on exhaustion, logfmt logging with secret redaction, the
 * INI configuration, a strict JSON checker for outside input, capped
 * exponential backoff with jitter, the libcurl multi <-> libevent glue,
 * and a few string, time and file helpers.
 *
 * Nothing here knows of tasks, Kafka or screens.
 */
#ifndef PAIA_COMMON_H
#define PAIA_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#ifdef __GNUC__
#define printflike(a, b) __attribute__((format(printf, a, b)))
#define noreturn_fn __attribute__((noreturn))
#else
#define printflike(a, b)
#define noreturn_fn
#endif

#define nitems(a) (sizeof(a) / sizeof((a)[0]))

/* xmalloc.c: allocation that never returns NULL (aborts instead). */
void *xmalloc(size_t);
void *xcalloc(size_t, size_t);
void *xrealloc(void *, size_t);
void *xreallocarray(void *, size_t, size_t);
char *xstrdup(const char *);
char *xstrndup(const char *, size_t);
int xasprintf(char **, const char *, ...) printflike(2, 3);
int xvasprintf(char **, const char *, va_list);

/* log.c: logfmt lines on stderr (ts= level= msg= k=v ...). */
enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR };
void log_set_level(enum log_level);
int log_level_parse(const char *, enum log_level *);
const char *log_level_name(enum log_level);
/*
 * log_msg(level, msg, "key=%s other=%d", ...): msg is quoted as needed;
 * the fields string is printf-formatted and appended verbatim. Use
 * log_redact_url() for anything that may carry credentials.
 */
void log_msg(enum log_level, const char *msg, const char *fields, ...)
    printflike(3, 4);
#define log_debug(m, ...) log_msg(LOG_LEVEL_DEBUG, m, __VA_ARGS__)
#define log_info(m, ...) log_msg(LOG_LEVEL_INFO, m, __VA_ARGS__)
#define log_warn(m, ...) log_msg(LOG_LEVEL_WARN, m, __VA_ARGS__)
#define log_error(m, ...) log_msg(LOG_LEVEL_ERROR, m, __VA_ARGS__)
noreturn_fn void fatalx(const char *, ...) printflike(1, 2);
/* Quote a value for logfmt into a new string (always quoted). */
char *log_quote(const char *);
/*
 * Quote a value for a log field: "error=%s", log_q(cause). The result is
 * owned by a small per-thread ring and stays valid for 8 more calls.
 */
const char *log_q(const char *);
/* Free this thread's log_q ring (call before a thread or the program ends). */
void log_q_release(void);
/*
 * A copy of url with user:password@, query strings (presigned
 * signatures) and fragment replaced by "REDACTED". Caller frees.
 */
char *log_redact_url(const char *url);
/* True if a config key names a secret (password, secret, token, key). */
int log_key_is_secret(const char *key);

/* backoff.c: capped exponential backoff with equal jitter. */
struct backoff {
	uint32_t base_ms;
	uint32_t cap_ms;
	uint32_t attempt;
	uint64_t seed;
};
void backoff_init(struct backoff *, uint32_t base_ms, uint32_t cap_ms, uint64_t seed);
/* Next delay: uniform in [ceil/2, ceil], ceil = min(cap, base * 2^attempt). */
uint32_t backoff_next(struct backoff *);
void backoff_reset(struct backoff *);

/* util.c */
/* Wall clock in milliseconds since the epoch; monotonic milliseconds. */
int64_t util_now_ms(void);
int64_t util_mono_ms(void);
/* RFC 3339 UTC with milliseconds into buf (>= 32 bytes). */
char *util_time_fmt(int64_t ms, char *buf, size_t len);
/* mkdir -p with mode; 0 or -1 with *cause. */
int util_mkdirs(const char *path, mode_t mode, char **cause);
/* rm -rf below a directory (no symlink following). */
int util_rmtree(const char *path);
/* 1 if s[0..len) is valid UTF-8 (no overlongs, no surrogates). */
int util_utf8_valid(const char *s, size_t len);
/* Base64 (standard alphabet, padded) of len bytes. Caller frees. */
char *util_base64(const unsigned char *, size_t len);
/* Hex sha256 of a file into out[65]; 0 or -1 with *cause. */
int util_sha256_file(const char *path, char out[65], char **cause);
/* Directory holding the running executable (from /proc/self/exe). */
char *util_exe_dir(void);
/* Size of a regular file, or -1. */
off_t util_file_size(const char *path);
/* Read a whole small file into a NUL-terminated buffer. */
char *util_read_file(const char *path, size_t max, size_t *lenp, char **cause);
/* Write a file atomically (tmp + rename). */
int util_write_file(const char *path, const char *data, size_t len, mode_t mode, char **cause);
/* Parse a non-negative integer with bounds; 0 or -1. */
int util_parse_int(const char *s, long long min, long long max, long long *out);
/*
 * Block every signal in the calling thread (threads it creates inherit
 * the mask), saving the old mask; util_signals_restore puts it back.
 * Signals must reach only the loop thread: a helper thread's poll()
 * interrupted by SIGCHLD may give up (librdkafka's mock cluster does).
 */
struct util_sigmask {
	unsigned long bits[128 / sizeof(unsigned long)];
};
void util_signals_block(struct util_sigmask *old);
void util_signals_restore(const struct util_sigmask *old);
/* Parse a boolean: true/false/yes/no/on/off/1/0. */
int util_parse_bool(const char *s, int *out);
/*
 * The gateway's default state folder (caller frees): /var/lib/paia, or
 * $TMPDIR/paia-<uid> (TMPDIR unset or empty: /tmp) for an embedded
 * gateway, which is where its clients look for it.
 */
char *util_state_dir_default(int embedded);
/* The first control character (U+0000-U+001F, U+007F) in s, or NULL. */
const char *util_find_control(const char *s);
/*
 * A copy of s for an error message: at most max bytes, cut on a UTF-8
 * character boundary, "..." appended when cut. Caller frees.
 */
char *util_cut(const char *s, size_t max);
/*
 * s percent-encoded as RFC 3986 wants a path or query part (caller
 * frees): all but A-Z a-z 0-9 - _ . ~, and / when keep_slash. A local
 * path becomes a file:// URL as "file://" + util_url_encode(path, 1).
 */
char *util_url_encode(const char *s, int keep_slash);

/*
 * notify.c: tell the service manager (systemd, Type=notify) about the
 * daemon's state: state is "READY=1", "STOPPING=1", "STATUS=text", ...
 * (sd_notify(3)). 0 (also when $NOTIFY_SOCKET is not set: not under a
 * notify unit), or -1 with *cause. Never blocks; any thread.
 */
int notify_send(const char *state, char **cause);

/*
 * json.c: a strict RFC 8259 checker for JSON from outside (see the file):
 * no duplicate names, no \u0000, no lone surrogates, no byte order mark,
 * nothing after the value, at most JSON_DEPTH_MAX levels. Pure: no
 * globals, no I/O; any thread.
 */
#define JSON_DEPTH_MAX 64
enum json_type { JSON_NULL, JSON_FALSE, JSON_TRUE, JSON_NUMBER, JSON_STRING, JSON_ARRAY,
	JSON_OBJECT };
struct json_member {
	char *name;		/* unescaped; never holds a NUL */
	size_t name_off;	/* its opening quote in the text */
	size_t value_off;	/* the value's first byte */
	size_t value_end;	/* one past its last byte */
};
struct json_doc {
	enum json_type type;	/* of the top-level value */
	size_t start, end;	/* its span, whitespace around it excluded */
	struct json_member *members;	/* a top-level object's, in text order */
	size_t nmembers;
};
/*
 * Check that buf[0..len) is one JSON value by those rules. Returns 0 and
 * fills *doc (json_doc_free it after; doc may be NULL), or -1 with
 * *errpos the offending byte's offset and *cause an allocated, short
 * sentence saying what is wrong ("duplicate name \"id\" in an object",
 * "a number has a leading zero"); errpos and cause may be NULL.
 */
int json_check(const void *buf, size_t len, struct json_doc *doc, size_t *errpos,
    char **cause);
void json_doc_free(struct json_doc *);
/* The top-level member of that (unescaped) name, or NULL. */
const struct json_member *json_doc_member(const struct json_doc *, const char *name);
/* "null", "a boolean", "a number", "a string", "an array", "an object". */
const char *json_type_name(enum json_type);

/* config.c: INI configuration (our own reader) with PAIA_* overrides. */
struct config;
struct config_entry {
	const char *section;
	const char *key;
	const char *value;
};
/*
 * Schema of one known key: a type and bounds. Sections listed with
 * passthrough accept any key (e.g. kafka.*, handed to librdkafka).
 */
enum config_type { CONFIG_STRING, CONFIG_INT, CONFIG_BOOL, CONFIG_ENUM, CONFIG_NAME };
struct config_key {
	const char *section;
	const char *key;
	enum config_type type;
	const char *def;
	long long min, max;	/* CONFIG_INT: bounds; CONFIG_NAME: length bounds */
	const char *choices; /* CONFIG_ENUM: "a|b|c" */
	const char *help;
};
struct config *config_new(const struct config_key *schema, const char **passthrough);
void config_free(struct config *);
/*
 * Load an INI file (paia-gateway.conf(5)): a regular file of at most
 * 1 MiB, lines of at most 4096 bytes. Unknown sections or keys, bad
 * values, broken lines and a key set twice fail naming file and line.
 */
int config_load_file(struct config *, const char *path, char **cause);
/* Apply PAIA_<SECTION>_<KEY> environment variables (see paia-gateway.conf(5)). */
int config_load_env(struct config *, char **envp, char **cause);
/*
 * Set one value with validation (command line -o section.key=value):
 * known section and key, no control characters, the key's type.
 */
int config_set(struct config *, const char *section, const char *key, const char *value, char **cause);
/*
 * Is value a name (what, e.g. "gateway.instance_id", names it in the
 * error): min to max characters of A-Z a-z 0-9 . _ -, not . or ..?
 * 0, or -1 with *cause.
 */
int config_name_check(const char *what, const char *value, size_t min, size_t max,
    char **cause);
/* Set a value only if the user has not set it (used by --embedded). */
void config_set_default(struct config *, const char *section, const char *key, const char *value);
const char *config_get(const struct config *, const char *section, const char *key);
long long config_get_int(const struct config *, const char *section, const char *key);
int config_get_bool(const struct config *, const char *section, const char *key);
/* Iterate the effective configuration in schema order, then passthrough. */
size_t config_count(const struct config *);
struct config_entry config_at(const struct config *, size_t);
/* Print "section.key = value" lines, secrets masked. */
void config_dump(const struct config *, FILE *);

/*
 * evcurl.c: one libcurl multi handle driven by a libevent base (curl's
 * multi-socket API: CURLMOPT_SOCKETFUNCTION + TIMERFUNCTION). Callers
 * add easy handles with a completion callback; the callback runs in the
 * loop with curl's result and the easy handle, which the callback owns
 * from then on (it must curl_easy_cleanup it or re-add it).
 * @locality: the loop thread only.
 */
struct event_base;
struct evcurl;
typedef void evcurl_done_cb(void *easy, int curlcode, void *arg);
struct evcurl *evcurl_new(struct event_base *);
void evcurl_free(struct evcurl *);
void evcurl_add(struct evcurl *, void *easy, evcurl_done_cb *, void *arg);
/* Remove a running transfer without calling its callback; caller cleans up. */
void evcurl_remove(struct evcurl *, void *easy);
size_t evcurl_running(const struct evcurl *);


/*
 * worker.c: one thread for a library call that blocks, fed by the loop
 * through a queue and answering through an eventfd (the committer's
 * transactions, health's ListOffsets). Callers embed struct worker_job
 * in their own job struct. The thread runs with every signal blocked.
 */
struct worker;
struct worker_job {
	TAILQ_ENTRY(worker_job) entry;
};
TAILQ_HEAD(worker_jobs, worker_job);
/*
 * Run what was queued (every job posted since the last run, oldest
 * first); hand each job back with worker_done() when it is finished.
 * Jobs not handed back are run again, first, next time.
 * @locality worker
 */
typedef void worker_run_cb(struct worker *, struct worker_jobs *, void *arg);
/* A job handed back; the callback owns it from now on. @locality loop */
typedef void worker_done_cb(struct worker_job *, void *arg);
/* Start the thread; name is for messages. @locality loop */
struct worker *worker_start(struct event_base *, const char *name, worker_run_cb *,
    worker_done_cb *, void *arg);
/* Queue a job (ownership moves to the worker until done_cb). @locality loop */
void worker_post(struct worker *, struct worker_job *);
/* Hand a finished job (removed from jobs) back to the loop. @locality worker */
void worker_done(struct worker *, struct worker_jobs *jobs, struct worker_job *);
/*
 * Wait, blocking the loop at most timeout_ms, until every posted job was
 * handed back, then deliver them. 0 when all were, -1 on timeout.
 * @locality loop
 */
int worker_sync(struct worker *, int timeout_ms);
/* Posted and not yet delivered. @locality loop */
size_t worker_pending(const struct worker *);
/* 1 once worker_stop was called (long retries check it). @locality worker */
int worker_stopping(struct worker *);
/* Guard the few fields a caller shares between the loop and its run_cb. */
void worker_lock(struct worker *);
void worker_unlock(struct worker *);
/*
 * Stop and join: with drain, what is queued runs first; without, only
 * the run under way finishes. Jobs never run or never delivered go to
 * discard_cb (from the calling thread; the loop no longer runs).
 * @locality loop
 */
void worker_stop(struct worker *, int drain, worker_done_cb *discard_cb);

#endif
