/*
 * client.h: the gateway's client library, what paiactl and paia-console
 * share. It finds one gateway (flags, environment, paia-gateway.conf,
 * the embedded.json an embedded gateway leaves, defaults), talks JSON
 * lines to its control socket (docs/control.md) over a non-blocking
 * connection any loop can drive (an fd, the events it waits for, a
 * timeout and a process call, like curl's multi), reads the results
 * and dead-letter topics of Kafka without joining a group, and turns
 * what gateways and user programs wrote into text a terminal can show.
 *
 * It keeps no global state: every handle is the caller's, and two
 * connections (or two gateways) in one process do not meet. It does not
 * print, exit or install signal handlers; errors come back as text
 * (char **cause, caller frees) naming what was wrong.
 *
 * @locality: a handle belongs to the thread that made it; nothing here
 * takes locks. The blocking helpers (client_call, client_conn_wait,
 * client_reader_run) are for one-shot programs; a console drives
 * client_conn_process from its own loop instead.
 */
#ifndef PAIA_CLIENT_H
#define PAIA_CLIENT_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cjson/cJSON.h>
#include <librdkafka/rdkafka.h>

struct config;

/* ---- text.c: terminal-safe text, JSON values, durations, times ---- */

/*
 * A copy of s (caller frees) that cannot drive a terminal: newline,
 * carriage return and tab become spaces, other control characters and
 * DEL become '?'. For anything a gateway relays from user programs.
 */
char *client_text_clean(const char *s);
/*
 * A JSON value for display (caller frees): "-" for missing or null,
 * strings cleaned, whole numbers without a fraction, other numbers %g,
 * arrays and objects as compact JSON, cleaned.
 */
char *client_text_json(const cJSON *);
/* A number as client_text_json shows it (an integer without a fraction). */
char *client_text_number(double);
/*
 * s[0..len) as valid UTF-8 (caller frees): each byte that does not
 * start a valid sequence (overlong, surrogate, cut short), and NUL,
 * becomes U+FFFD. For bytes from outside that go into JSON strings.
 */
char *client_text_utf8(const char *s, size_t len);
/* A string member of obj, or NULL (missing or not a string); borrowed. */
const char *client_json_str(const cJSON *obj, const char *name);
/* A number member of obj into *out: 0, or -1 when missing or not a number. */
int client_json_num(const cJSON *obj, const char *name, double *out);
/*
 * A duration into buf for people: 0.4s, 12s, 4m05s, 2h03m, 3d04h; "-"
 * when ms is negative. Returns buf (16 bytes are enough).
 */
char *client_text_duration(int64_t ms, char *buf, size_t len);
/* Milliseconds since the epoch as RFC 3339 UTC with milliseconds; buf >= 32 bytes. */
char *client_text_time_fmt(int64_t ms, char *buf, size_t len);

/* ---- locate.c: where one gateway is ---- */

/* Where a value came from (messages, "paia-console -v"). */
enum client_from {
	CLIENT_FROM_DEFAULT,	/* nothing said otherwise */
	CLIENT_FROM_ARG,	/* the caller's argument (a command-line flag) */
	CLIENT_FROM_ENV,	/* $PAIA_SOCKET, $PAIA_STATE_DIR, ... */
	CLIENT_FROM_CONFIG,	/* the paia-gateway.conf given */
	CLIENT_FROM_EMBEDDED,	/* <state_dir>/embedded.json */
};
const char *client_from_name(enum client_from);

/* What the caller was told; everything may be NULL. Borrowed for the call. */
struct client_locate_args {
	const char *socket;		/* control socket (paiactl -S) */
	const char *state_dir;		/* state folder (-d) */
	const char *bootstrap;		/* Kafka bootstrap servers (-b) */
	const struct config *conf;	/* paia-gateway.conf loaded (-c), with its env overrides */
	const char *config_path;	/* the file conf came from, for messages */
};

enum client_topic { CLIENT_TOPIC_TASKS, CLIENT_TOPIC_RESULTS, CLIENT_TOPIC_DLQ, CLIENT_TOPICS };

/*
 * One gateway's locations; every string is owned by the struct (zero it
 * before the first client_locate; client_location_clear frees).
 *
 * The state folder: args->state_dir, $PAIA_STATE_DIR,
 * $PAIA_GATEWAY_STATE_DIR, gateway.state_dir of conf, $TMPDIR/paia-<uid>.
 * The socket: args->socket, $PAIA_SOCKET, $PAIA_CONTROL_SOCKET,
 * control.socket of conf, control_socket of embedded.json,
 * <state_dir>/control.sock. Kafka: args->bootstrap,
 * kafka.bootstrap.servers of conf, bootstrap_servers of embedded.json
 * (refused when the gateway that wrote it is gone); each topic from
 * gateway.*_topic of conf, embedded.json, then paia.tasks, paia.results,
 * paia.tasks.dlq.
 */
struct client_location {
	char *state_dir;
	enum client_from state_dir_from;
	char *socket_path;		/* NULL until CLIENT_LOCATE_SOCKET */
	enum client_from socket_from;
	char *bootstrap;		/* NULL until CLIENT_LOCATE_KAFKA */
	enum client_from bootstrap_from;
	char *topics[CLIENT_TOPICS];
	enum client_from topics_from[CLIENT_TOPICS];

	/* <state_dir>/embedded.json, read once and only when needed. */
	char *embedded_path;
	int embedded_read;
	int embedded_present;
	long embedded_pid;		/* 0: not given */
	char *embedded_socket;
	char *embedded_bootstrap;
	char *embedded_topics[CLIENT_TOPICS];
};

#define CLIENT_LOCATE_SOCKET 0x1	/* the control socket */
#define CLIENT_LOCATE_KAFKA 0x2		/* bootstrap servers and topics */
/*
 * Fill what (CLIENT_LOCATE_*; the state folder always) into loc. Parts
 * already filled are kept, so a program resolves the socket or Kafka
 * only when a command needs it, and a broken embedded.json only hurts
 * when it is read. Returns 0, or -1 with *cause (an unreadable or
 * malformed embedded.json, no bootstrap servers anywhere, a stale
 * embedded.json).
 */
int client_locate(const struct client_locate_args *, int what, struct client_location *loc,
    char **cause);
/* 1 if embedded.json was read and names a pid that no longer runs. */
int client_location_embedded_stale(const struct client_location *);
void client_location_clear(struct client_location *);

/* ---- transport-*.c: how bytes reach a gateway ---- */

/*
 * A transport carries the JSON lines of one connection: a Unix socket,
 * or SSH (exec of "paiactl dial-stdio" over libssh2). Every
 * call is non-blocking. An implementation embeds struct client_transport
 * first in its own struct; the connection owns it and calls free.
 *
 * CLIENT_AGAIN from read or write: nothing moved now; wait for
 * events() and call again. A transport whose reads need writes (TLS,
 * SSH) says so through events(), and does its own protocol work inside
 * step, read and write.
 */
#define CLIENT_AGAIN (-2)
struct client_transport;
struct client_transport_ops {
	const char *name;		/* "unix", "ssh" */
	/* Begin connecting: 1 connected, 0 in progress (then step), -1 with *cause. */
	int (*open)(struct client_transport *, char **cause);
	/* Go on connecting after poll said revents: 1 connected, 0 not yet, -1 *cause. */
	int (*step)(struct client_transport *, short revents, char **cause);
	/* The descriptor to poll, -1 when closed. */
	int (*fd)(const struct client_transport *);
	/* POLLIN/POLLOUT to wait for; output: the connection has bytes to send. */
	short (*events)(const struct client_transport *, int output);
	/* >0 bytes read; 0 end of stream; CLIENT_AGAIN; -1 with *cause. */
	ssize_t (*read)(struct client_transport *, char *buf, size_t len, char **cause);
	/* >0 bytes written; CLIENT_AGAIN; -1 with *cause (a peer gone is CLIENT_CLOSED). */
	ssize_t (*write)(struct client_transport *, const char *buf, size_t len, char **cause);
	/* Drop the connection; open may follow. */
	void (*close)(struct client_transport *);
	void (*free)(struct client_transport *);
	/* Appended to "connection closed ... before it answered", or "". */
	const char *closed_hint;
};
/* -1 from write meaning "the peer hung up" (not an error of its own). */
#define CLIENT_CLOSED (-3)
struct client_transport {
	const struct client_transport_ops *ops;
	char *name;			/* for messages: the socket path, host:path */
};
/*
 * A Unix stream socket at path (copied). Connection errors read
 * "cannot connect to PATH: No such file or directory (is paia-gateway
 * running?)".
 */
struct client_transport *client_transport_unix_new(const char *path);
/*
 * The socket of a gateway on another host, over SSH (common/ssh.c: the
 * host key checked against o->known_hosts, o->key_file or the agent):
 * an exec channel running command there, normally "paiactl dial-stdio"
 * (with -S PATH for a socket of its own), which relays the channel to
 * the control socket. With socket_path given and libssh2 1.11 or later
 * (ssh_stream_supported), a direct-streamlocal channel to that socket
 * instead, and command is not run. o and the strings are copied. The
 * session runs on base: the connection must be processed from that
 * base's loop, not by client_conn_wait. Errors name "ssh
 * user@host:port" and, when the command failed, its exit status and
 * the last of its stderr.
 */
struct event_base;
struct ssh_options;
struct client_transport *client_transport_ssh_new(struct event_base *base,
    const struct ssh_options *o, const char *command, const char *socket_path);

/* ---- conn.c: one JSON-lines connection to a gateway ---- */

/*
 * Requests go out in order and each answer is matched to the oldest
 * request waiting (the gateway answers one line per request, in order).
 * A line with an "event" member is an event (after subscribe), whatever
 * is pending; a line nobody waits for is handed to on_event too.
 *
 * A request not answered within its timeout fails, and the connection
 * is dropped (a late answer would be taken for the next one's); a
 * request is never due before one queued ahead of it (a short lag
 * behind a frame ffmpeg makes waits as long as the frame may). A line
 * longer than line_max fails the request waiting for it naming the cap,
 * and drops the connection. A connection lost fails every request sent
 * on it (the gateway may or may not have acted on them); requests not
 * sent yet wait for the next connection when there is one to come.
 *
 * With reconnect set, a lost connection (or one never made) is tried
 * again after a capped exponential backoff with jitter; once it is back
 * on_state says CLIENT_CONN_RESYNC: events were missed, so the caller
 * subscribes again and asks status and tasks afresh. Without it the
 * connection ends (CLIENT_CONN_CLOSED) and requests fail at once.
 */
struct client_conn;

enum client_conn_state {
	CLIENT_CONN_UP,		/* connected for the first time */
	CLIENT_CONN_DOWN,	/* lost or not made (or not started); retried after a backoff */
	CLIENT_CONN_RESYNC,	/* connected again after DOWN: resubscribe, relist */
	CLIENT_CONN_CLOSED,	/* ended for good (no reconnect) */
};

/*
 * An answer: answer is the parsed line (owned by the callback, NULL
 * when there is none) and error NULL when it says "ok": true. Else
 * error says why (borrowed): the gateway's "error" text cleaned, "the
 * answer is not a JSON object", a timeout, the connection closed.
 */
typedef void client_answer_cb(struct client_conn *, cJSON *answer, const char *error, void *arg);
/*
 * An event line: event is the parsed object (owned by the callback;
 * NULL when the line is not a JSON object) and line its text as
 * received (borrowed, without the newline).
 */
typedef void client_event_cb(struct client_conn *, cJSON *event, const char *line, void *arg);
/*
 * The connection changed: error says why it went DOWN or CLOSED
 * (borrowed; NULL when the gateway simply closed it between lines).
 */
typedef void client_state_cb(struct client_conn *, enum client_conn_state, const char *error,
    void *arg);

struct client_conn_opts {
	size_t line_max;		/* longest line accepted; 0: 64 MiB */
	int timeout_ms;			/* default per-request timeout; 0: 5000 */
	int idle_ms;			/* subscribed and silent this long: lost; 0: never */
	int reconnect;			/* reconnect with backoff (a console) */
	uint32_t backoff_ms;		/* first retry delay; 0: 200 */
	uint32_t backoff_max_ms;	/* longest; 0: 10000 */
	client_event_cb *on_event;	/* may be NULL: events are dropped */
	client_state_cb *on_state;	/* may be NULL */
	void *arg;
};

/* A connection over tp (owned from now on); opts copied. Not connected yet. */
struct client_conn *client_conn_new(struct client_transport *tp, const struct client_conn_opts *);
/*
 * Start connecting (again, after CLOSED). Returns 0 (connected or in
 * progress), or -1 when the attempt failed at once: on_state runs (DOWN
 * with a retry scheduled, or CLOSED and the queued requests fail), and
 * *cause (when cause is not NULL) says why.
 */
int client_conn_start(struct client_conn *, char **cause);
/* The descriptor to poll (-1 while none: between attempts). */
int client_conn_fd(const struct client_conn *);
/* POLLIN/POLLOUT to poll for. */
short client_conn_events(const struct client_conn *);
/* Milliseconds until process must run even without events; -1 none, 0 now. */
int client_conn_timeout(const struct client_conn *);
/*
 * Do what is due: read and dispatch lines, write, connect, fail expired
 * requests, reconnect. revents as poll(2) gave them (0 after a timeout).
 * Callbacks run from here; they may queue requests but must not free
 * the connection.
 */
void client_conn_process(struct client_conn *, short revents);
/*
 * Queue req (copied) with its callback; timeout_ms 0: the connection's
 * default. The callback runs exactly once, later: from
 * client_conn_start, _process (and so _wait and client_call) or _free
 * (error "connection closed"), never from here. A "subscribe" answered
 * ok turns idle_ms on.
 */
void client_conn_request(struct client_conn *, const cJSON *req, int timeout_ms,
    client_answer_cb *, void *arg);
enum client_conn_state client_conn_state(const struct client_conn *);
int client_conn_connected(const struct client_conn *);
/* The transport's name (socket path), for messages. */
const char *client_conn_name(const struct client_conn *);
/* Fail what is pending ("connection closed"), close and free. */
void client_conn_free(struct client_conn *);

/*
 * Blocking helpers for one-shot programs: poll(2) the connection until
 * done(arg) returns true (checked after each process), the connection is
 * CLOSED, or *stop becomes non-zero (SIGINT: install the handler without
 * SA_RESTART). Returns 0 when done, 1 on stop, -1 with *cause when the
 * connection closed first or poll failed.
 */
int client_conn_wait(struct client_conn *, int (*done)(void *), void *arg,
    const volatile sig_atomic_t *stop, char **cause);
/*
 * Send req on conn (started here if need be) and wait for its answer:
 * the answer (caller frees) when "ok" is true, else NULL with *cause
 * ("interrupted" after *stop).
 */
cJSON *client_call(struct client_conn *, const cJSON *req, int timeout_ms,
    const volatile sig_atomic_t *stop, char **cause);
/* {"cmd": cmd} plus key: value when both are given; caller frees. */
cJSON *client_request_new(const char *cmd, const char *key, const char *value);

/* ---- kafka.c: the gateway's Kafka, read side ---- */

/*
 * A librdkafka client for one gateway's cluster, configured with every
 * kafka.* key of paia-gateway.conf (SASL, TLS, ...) except those that
 * name a group, a transaction or offsets: a client must never act as the
 * gateway. Errors librdkafka reports (error_cb) are kept for hints.
 */
struct client_kafka {
	rd_kafka_t *rk;
	char *bootstrap;
	long long delivery_ms;		/* producers: the delivery timeout in force */
	char last_error[512];		/* "" until librdkafka reports one */
};
struct client_kafka_args {
	const char *bootstrap;		/* required */
	const struct config *conf;	/* kafka.* applied; NULL: none */
	const char *config_path;	/* names conf in messages */
	const char *client_id;		/* "paiactl", ... */
	size_t biggest;			/* producers: the largest message to send */
	/* Producers: delivery reports (m->_private is the message's opaque). */
	void (*dr_msg_cb)(rd_kafka_t *, const rd_kafka_message_t *, void *);
};
/*
 * A producer (admin requests, metadata, paiactl's submit) or a consumer
 * (read_committed, no group, no commits). NULL with *cause naming a bad
 * kafka.* key and the file.
 */
struct client_kafka *client_kafka_new(rd_kafka_type_t, const struct client_kafka_args *,
    char **cause);
/* " (last error: ...)" when librdkafka said something, else "", into buf; returns buf. */
const char *client_kafka_hint(const struct client_kafka *, char *buf, size_t len);
void client_kafka_free(struct client_kafka *);

/* One record as read; everything borrowed until the next read. */
struct client_record {
	int32_t partition;
	int64_t offset;
	int64_t timestamp;		/* ms since the epoch; -1 unknown */
	const char *key;		/* NULL: no key; not NUL-terminated */
	size_t key_len;
	const char *value;
	size_t len;
};

/*
 * A reader of every partition of one topic, assigned directly (no
 * group, no offsets committed), read_committed: what the Webservice
 * sees.
 */
struct client_reader;
/* NULL with *cause: metadata unreadable, topic missing, a partition refused. */
struct client_reader *client_reader_open(struct client_kafka *, const char *topic,
    int from_end, char **cause);
/*
 * The next record within timeout_ms: 1 with *rec, 0 none (or the end of
 * a partition), -1 with *cause for an error of one partition (reading
 * may go on).
 */
int client_reader_poll(struct client_reader *, int timeout_ms, struct client_record *rec,
    char **cause);
/* 1 once every partition has reported its end at least once. */
int client_reader_at_end(const struct client_reader *);
void client_reader_close(struct client_reader *);

/*
 * Read until the end of every partition (plain), count records (waits
 * for them), for ever (follow), timeout_s or *stop. Errors of a
 * partition go to on_warning when following or counting, else end the
 * read (-1, *cause). *n: records read; why: how it ended ("reached the
 * end of every partition", "timed out after N s", "interrupted").
 */
struct client_read_args {
	int follow;
	long long count;		/* 0: no count */
	long long timeout_s;		/* 0: none */
	const volatile sig_atomic_t *stop;
	void (*on_record)(const struct client_record *, void *arg);
	void (*on_warning)(const char *text, void *arg);
	void *arg;
};
int client_reader_run(struct client_reader *, const struct client_read_args *, long long *n,
    char *why, size_t whylen, char **cause);

/* ---- lag.c: a consumer group's lag, read from the broker ---- */

/* A member of the group (strings owned; NULL when the broker sent none). */
struct client_lag_owner {
	char *member_id;
	char *client_id;
	char *host;			/* as the broker saw it: "/10.0.0.5" */
};
struct client_lag_part {
	int32_t partition;
	int64_t committed;		/* the group's committed offset; -1: none */
	int64_t committed_ms;		/* when it was read (epoch ms); -1: not read */
	int64_t log_start;		/* the oldest offset still in the log */
	int64_t log_end;		/* the last stable offset; -1: unknown */
	int64_t log_end_ms;		/* when it was read; -1: not read */
	/*
	 * Records a consumer of the group would still get: from the first
	 * one past the committed offset (or the log start) to the log end;
	 * transaction markers and aborted records before it do not count.
	 * -1: unknown.
	 */
	int64_t lag;
	int64_t first_offset;		/* that first record's offset; -1: none or unknown */
	int64_t oldest_ts;		/* its timestamp (epoch ms); -1: none or unknown */
	const struct client_lag_owner *owner;	/* NULL: no member owns it (or unknown) */
	char *error;			/* what could not be read, or NULL */
	int probing;			/* lag.c's own */
};
struct client_lag {
	char *group;
	char *topic;
	/* From DescribeConsumerGroups; members_known 0 when it failed (group_error says why). */
	int members_known;
	char *group_state;		/* "Stable", "Empty", "PreparingRebalance", ... */
	char *group_error;
	struct client_lag_owner *owners;
	size_t nowners;
	struct client_lag_part *parts;	/* every partition of the topic, in order */
	size_t nparts;
};
/*
 * Read group's committed offsets on topic, the log ends, the owners and
 * the first record waiting on each partition, with k (a consumer from
 * client_kafka_new: read_committed, no group). It joins nothing and
 * commits nothing. Each of its five questions (metadata, committed
 * offsets, members, log ends, first records) waits up to timeout_ms.
 * Returns 0 with
 * *lag filled (client_lag_clear after), or -1 with *cause when the topic
 * or the committed offsets cannot be read; a partition whose log end or
 * first record cannot be read says so in its error.
 */
int client_lag_read(struct client_kafka *k, const char *group, const char *topic, int timeout_ms,
    struct client_lag *lag, char **cause);
void client_lag_clear(struct client_lag *);
/*
 * Decode a consumer group member's assignment (the classic consumer
 * protocol: version, [topic, [partition]], user data) as the broker
 * hands it over, calling cb for each partition of topic. 0, or -1 when
 * the bytes are malformed (cb may have run for some partitions).
 */
int client_lag_assignment(const void *buf, size_t len, const char *topic,
    void (*cb)(int32_t partition, void *arg), void *arg);


#endif
