/*
 * common.h: the small pieces every PAIA program shares: memory helpers
 * that abort on exhaustion, logfmt logging with secret redaction, the
 * INI configuration, a strict JSON checker for outside input, capped
 * exponential backoff with jitter, the libcurl multi <-> libevent glue,
 * the process's child reaper, and a few string, time and file helpers.
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

/*
 * log.c: logfmt lines (ts= level= msg= k=v ...) on standard error, with
 * journald's "<N>" priority prefixes when it is the journal's stream
 * ($JOURNAL_STREAM), or in a file (log_open). Any thread.
 */
enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR };
void log_set_level(enum log_level);
enum log_level log_get_level(void);
int log_level_parse(const char *, enum log_level *);
const char *log_level_name(enum log_level);
/*
 * Where lines go: path NULL or "" for standard error (checked against
 * $JOURNAL_STREAM), else a file opened for appending (mode 0640, created
 * if missing). 0, or -1 with *cause (the old destination is kept).
 */
int log_open(const char *path, char **cause);
/* Open the log file again (after a rotation); nothing for standard error. 0 or -1, *cause. */
int log_reopen(char **cause);
/* The log file's path, or NULL for standard error. */
const char *log_file(void);
/* Back to standard error; forget repeated lines (before exit, for leak checkers). */
void log_close(void);
/*
 * log_msg(level, msg, "key=%s other=%d", ...): msg is always quoted;
 * the fields string is printf-formatted and appended verbatim, so every
 * %s value goes through log_q() (tests/lint/log-calls.py checks it).
 * Use log_redact_url() for anything that may carry credentials.
 */
void log_msg(enum log_level, const char *msg, const char *fields, ...)
    printflike(3, 4);
/* A line below the level costs nothing, not even its fields' quoting (log_q). */
#define log_at(l, m, ...) do {						\
	if ((l) >= log_get_level())					\
		log_msg(l, m, __VA_ARGS__);				\
} while (0)
#define log_debug(m, ...) log_at(LOG_LEVEL_DEBUG, m, __VA_ARGS__)
#define log_info(m, ...) log_at(LOG_LEVEL_INFO, m, __VA_ARGS__)
#define log_warn(m, ...) log_at(LOG_LEVEL_WARN, m, __VA_ARGS__)
#define log_error(m, ...) log_at(LOG_LEVEL_ERROR, m, __VA_ARGS__)
/*
 * log_msg for what may repeat (a broker that does not answer): a line
 * whose level and key (NULL: msg and the formatted fields) were written
 * less than the repeat window ago is counted, not written; the next one
 * written carries repeated=N, the count left out since the previous.
 */
void log_limited(enum log_level, const char *key, const char *msg, const char *fields, ...)
    printflike(4, 5);
/* The repeat window in seconds (0: every line is written). Default 30. */
void log_set_repeat_window(int seconds);
/* Write the counts of windows that ended with lines left out (call every second or so). */
void log_limit_flush(void);
noreturn_fn void fatalx(const char *, ...) printflike(1, 2);
/* Quote a value for logfmt into a new string (always quoted; JSON's escapes). */
char *log_quote(const char *);
/*
 * A value for a log field: "error=%s", log_q(cause): bare when logfmt
 * allows it (non-empty UTF-8 without space, '"', '=', '\' or control
 * characters), else quoted as log_quote does. The result is owned by a
 * small per-thread ring and stays valid for 8 more calls.
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
uint64_t util_fnv1a(uint64_t h, const char *s);
#define UTIL_FNV1A_INIT 0xcbf29ce484222325ULL
/* RFC 3339 UTC with milliseconds into buf (>= 32 bytes). */
char *util_time_fmt(int64_t ms, char *buf, size_t len);
/*
 * RFC 3339 ("2026-11-28T10:00:00.123Z", an offset such as +02:00 instead
 * of Z, any fraction, 't' or ' ' for 'T') to wall ms: 0, or -1.
 */
int util_time_parse(const char *, int64_t *ms);
/* mkdir -p with mode; 0 or -1 with *cause. */
int util_mkdirs(const char *path, mode_t mode, char **cause);
/*
 * rm -rf of path: its parent is trusted, nothing below it is followed
 * (util_rmtree_at). 0, or -1 with errno.
 */
int util_rmtree(const char *path);
/*
 * rm -rf of the entry name of directory dirfd, relative to descriptors
 * all the way down: links are removed, never followed; a tree of any
 * depth takes a bounded number of descriptors. 0 (also when name does
 * not exist), or -1 with errno and *cause (if not NULL) naming it.
 */
int util_rmtree_at(int dirfd, const char *name, char **cause);
/*
 * open(2) of a relative path below dirfd that follows no symbolic link,
 * magic link or mount point on the way nor at the end, and cannot leave
 * dirfd (".." or an absolute path: EXDEV): openat2 with RESOLVE_BENEATH
 * | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV where
 * the kernel has it, else one openat(O_NOFOLLOW) per component from
 * dirfd, checking each stays on dirfd's file system. O_NOFOLLOW and
 * O_CLOEXEC are added to flags. A link met gives ELOOP. Returns the
 * descriptor, or -1 with errno.
 */
int util_open_beneath(int dirfd, const char *path, int flags, mode_t mode);
/*
 * The umask, noted once at start while one thread runs (util_umask_note(1);
 * a program that changes its umask for good notes it again, or forgets it
 * with util_umask_note(0)): then util_mode_needs_chmod(mode) is 0 when a
 * file or folder made with mode got exactly mode, and the chmod after it
 * can go. Not noted: always 1.
 */
void util_umask_note(int);
int util_mode_needs_chmod(mode_t);
/* Tests: 1 makes util_open_beneath use its fallback walk, as without openat2. */
void util_open_beneath_fallback(int on);
/* Disk use in bytes (allocated blocks) of entry name of dirfd and below; links not followed. */
uint64_t util_du_at(int dirfd, const char *name);
/*
 * Hold the lock file path (created 0644 if missing, never through a
 * link) with an exclusive flock(2) for as long as the descriptor returned
 * stays open, and write our pid into it. Held by another process: -1,
 * *holder its pid (0: unknown) and *cause naming it. The descriptor is
 * close-on-exec: games and other children do not keep it.
 */
int util_lock_file(const char *path, pid_t *holder, char **cause);
/* Remove the lock file (if it is still the one locked) and let it go. */
void util_unlock_file(int fd, const char *path);
/* Raise RLIMIT_NOFILE's soft limit to the hard one; returns the limit, or -1. */
int util_nofile_raise(void);
/* 1 if s[0..len) is valid UTF-8 (no overlongs, no surrogates). */
int util_utf8_valid(const char *s, size_t len);
/* Base64 (standard alphabet, padded) of len bytes. Caller frees. */
char *util_base64(const unsigned char *, size_t len);
/* Strict base64 (RFC 4648, padded) into an allocated buffer and *len; NULL if malformed. */
unsigned char *util_base64_decode(const char *, size_t *len);
/* name as execvp would find it on $PATH, made absolute and real; NULL with *cause if none. */
char *util_which(const char *name, char **cause);
/* Hex sha256 of a file into out[65]; 0 or -1 with *cause. */
int util_sha256_file(const char *path, char out[65], char **cause);
/* Hex sha256 of what fd holds, read with pread from offset 0; 0 or -1 with *cause. */
int util_sha256_fd(int fd, char out[65], char **cause);
/* Directory holding the running executable (from /proc/self/exe). */
char *util_exe_dir(void);
/* Size of a regular file, or -1. */
off_t util_file_size(const char *path);
/* Read a whole small file into a NUL-terminated buffer. */
char *util_read_file(const char *path, size_t max, size_t *lenp, char **cause);
/* The same from fd's current offset to its end (more than max bytes: NULL, *cause). */
char *util_read_fd(int fd, size_t max, size_t *lenp, char **cause);
/* Write a file atomically (tmp + rename). */
int util_write_file(const char *path, const char *data, size_t len, mode_t mode, char **cause);
/* All of len bytes to fd (a short write goes on, EINTR retried): 0, or -1 with errno. */
int util_write_all(int fd, const void *p, size_t len);
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
 * reaper.c: the process's one SIGCHLD handler. Register a child right
 * after fork (before returning to the loop); cb runs in the loop once
 * the child is collected, with its waitpid status, or -1 if something
 * else collected it first (the status is lost). The watch is freed
 * before cb runs. reaper_cancel forgets a child without a callback (the
 * caller collects it, or leaves it to orphan reaping). With orphan
 * reaping on (a child subreaper), children nobody registered are
 * collected and dropped. One event base per process.
 * @locality: the loop thread only.
 */
struct event_base;
struct reaper_watch;
typedef void reaper_cb(pid_t pid, int status, void *arg);
struct reaper_watch *reaper_watch(struct event_base *, pid_t, reaper_cb *, void *arg);
void reaper_cancel(struct reaper_watch *);
void reaper_set_orphans(struct event_base *, int on);

/* config.c: INI configuration (our own reader) with PAIA_* overrides. */
struct config;
struct config_entry {
	const char *section;
	const char *key;
	const char *value;
	int user;		/* set by the file, the environment or a flag, not a default */
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
struct evcurl;
typedef void evcurl_done_cb(void *easy, int curlcode, void *arg);
struct evcurl *evcurl_new(struct event_base *);
void evcurl_free(struct evcurl *);
void evcurl_add(struct evcurl *, void *easy, evcurl_done_cb *, void *arg);
/* Remove a running transfer without calling its callback; caller cleans up. */
void evcurl_remove(struct evcurl *, void *easy);
size_t evcurl_running(const struct evcurl *);

/*
 * evaccept.c: accept(2) failures of a libevent listener (EMFILE...)
 * pause it for a second instead of spinning, logged at most once per
 * 10 s with a count. can_resume (may be NULL) may keep it paused (the
 * owner's connection cap). Free it before the listener.
 * @locality: the loop thread only.
 */
struct evconnlistener;
struct evaccept;
struct evaccept *evaccept_new(struct event_base *, struct evconnlistener *, const char *what,
    int (*can_resume)(void *), void *arg);
/* 1 while a failure holds the listener paused. */
int evaccept_paused(const struct evaccept *);
void evaccept_free(struct evaccept *);

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
/*
 * A sign of life from a run that takes long (between the retries of a
 * blocking call): the loop's liveness check tells a thread that waits on
 * a slow broker from one that is stuck. Starting a run and handing a job
 * back count too. @locality worker
 */
void worker_beat(struct worker *);
/* How long a run has gone without a sign of life; 0 while idle. @locality any */
int64_t worker_stalled_ms(struct worker *);
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

/*
 * ssh.c: one SSH client session (libssh2, non-blocking) driven by a
 * libevent base: TCP connect, handshake, host key checked against a
 * known_hosts file (an unknown or changed key is refused naming the host
 * and its SHA256 fingerprint as OpenSSH prints it; accept_new records
 * unknown keys like StrictHostKeyChecking=accept-new, never changed
 * ones), public key authentication with a key file or the ssh-agent,
 * then exec channels: one-shot (ssh_exec: stdout up to a cap, stderr,
 * exit status) or long-lived (ssh_channel_open: stdin from a bounded
 * queue, stdout and stderr streamed to a callback).
 *
 * Every wait is bounded: connect_timeout_ms covers TCP connect through
 * authentication, an exec has its own deadline; a session whose peer
 * stops answering fails. Errors name "user@host:port" and what failed.
 * Callbacks may free the session or any channel, and start new ones.
 * @locality: the loop thread only.
 */
struct evdns_base;
struct ssh_session;
struct ssh_channel;
struct ssh_options {
	const char *host;	 /* name or address; the known_hosts name too */
	int port;		 /* 0: 22 */
	const char *user;
	const char *key_file;	 /* private key; NULL: the agent at $SSH_AUTH_SOCK */
	const char *known_hosts; /* required */
	int accept_new;		 /* append unknown host keys to known_hosts */
	int connect_timeout_ms;	 /* 0: 10000 */
	int keepalive_s;	 /* SSH keepalive interval; 0: none */
	struct evdns_base *dns;	 /* for names; NULL: numeric addresses only */
};
/*
 * Called once with error NULL when the session is authenticated, and
 * once with the reason when it fails (connect, host key, authentication,
 * timeout, or later the connection is lost). After a failure the
 * session is dead (its calls fail); its owner frees it.
 */
typedef void ssh_session_cb(struct ssh_session *, const char *error, void *arg);
/* Start connecting. Strings are copied. Never NULL. */
struct ssh_session *ssh_session_new(struct event_base *, const struct ssh_options *,
    ssh_session_cb *, void *arg);
/* Close the connection; no callback runs afterwards (channels included). */
void ssh_session_free(struct ssh_session *);
int ssh_session_ready(const struct ssh_session *);
/* Why the session died, or NULL. */
const char *ssh_session_error(const struct ssh_session *);
/* Where it is: "TCP connect", "SSH handshake", "authentication", "ready". */
const char *ssh_session_stage(const struct ssh_session *);
/* "user@host:port" ("[::1]:22" for IPv6 addresses). */
const char *ssh_session_name(const struct ssh_session *);
/* "SHA256:" + unpadded base64 of a 32-byte digest, as OpenSSH prints it. Caller frees. */
char *ssh_fingerprint_sha256(const unsigned char digest[32]);

/*
 * A one-shot command's outcome. out is NUL-terminated; the callback may
 * take it (set out to NULL) or err. exit_status is -1 when the command
 * reported none (cut, or killed: then exit_signal names the signal).
 */
struct ssh_exec_result {
	int exit_status;
	char *exit_signal;
	char *out;
	size_t out_len;
	int out_truncated; /* more than out_cap bytes came: the channel was cut */
	char *err;	   /* the first 4 KiB of stderr */
	size_t err_len;
};
/*
 * error is NULL when the command ran to its end (whatever its exit
 * status); else it says why not ("output over 1048576 bytes, cut", "no
 * answer within 3000 ms (212 bytes read)", or the session's failure),
 * with whatever output came. A timed-out exec fails its session too: a
 * peer that misses a deadline is treated as lost.
 */
typedef void ssh_exec_cb(struct ssh_exec_result *, const char *error, void *arg);
/*
 * Run command; usable before the session is ready (it waits). NULL if
 * the session is dead. The handle is gone once the callback has run
 * (output cut at the cap: the channel closes in the background); before
 * that, ssh_channel_free cancels the exec.
 */
struct ssh_channel *ssh_exec(struct ssh_session *, const char *command, size_t out_cap,
    int timeout_ms, ssh_exec_cb *, void *arg);

/* stream 0 is stdout, 1 stderr. */
typedef void ssh_data_cb(struct ssh_channel *, int stream, const char *data, size_t len,
    void *arg);
/* The channel closed: exit status (-1: none) or an error; the handle is freed after. */
typedef void ssh_close_cb(struct ssh_channel *, int exit_status, const char *error, void *arg);
/* A long-lived exec channel (no deadline; the session's keepalive watches it). */
struct ssh_channel *ssh_channel_open(struct ssh_session *, const char *command,
    ssh_data_cb *, ssh_close_cb *, void *arg);
/*
 * A channel to a Unix socket on the server's host (direct-streamlocal,
 * OpenSSH's -L /local:/remote/socket), with no command: bytes written
 * reach the socket, what it says comes to data_cb as stream 0; close_cb
 * with exit status -1 when it closes. Only with libssh2 1.11 or later
 * (ssh_stream_supported); else NULL. The server may refuse it
 * (AllowStreamLocalForwarding, no-port-forwarding keys): close_cb then
 * says so.
 */
struct ssh_channel *ssh_stream_open(struct ssh_session *, const char *socket_path,
    ssh_data_cb *, ssh_close_cb *, void *arg);
int ssh_stream_supported(void);
/*
 * Queue bytes for the command's stdin (usable before the session is
 * ready); -1 with *cause over the 4 MiB queue cap or when closed.
 */
int ssh_channel_write(struct ssh_channel *, const void *, size_t, char **cause);
/* Bytes queued and not yet sent. */
size_t ssh_channel_pending(const struct ssh_channel *);
/* Send EOF on stdin once the queue is sent. */
void ssh_channel_send_eof(struct ssh_channel *);
/* Stop (1) or resume (0) reading: the peer is held by the SSH window. */
void ssh_channel_pause(struct ssh_channel *, int paused);
/* Close; no callback runs afterwards. Also cancels an exec. */
void ssh_channel_free(struct ssh_channel *);

#endif
