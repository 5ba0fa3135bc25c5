/*
 * proto.h: the contracts, in one place, used by the daemon and by its
 * clients (paiactl, paia-console) alike, as tmux-protocol.h is by its
 * client and server: task v1, result v1 and the dead-letter record
 * (docs/messages.md); the control protocol's requests, answers and
 * events (docs/control.md), the VPN view among them; the names of
 * states, statuses, error classes, lag statuses and the tunnel's
 * states; the strict JSON reader that every message from outside
 * passes first.
 *
 * Pure: cJSON and common/'s string helpers only, no I/O, no globals;
 * any thread. Encoders take views whose strings the caller keeps.
 * Decoders of text (a record, a line) return structs that own what they
 * point to (release them with the matching *_free or *_clear); decoders
 * of a parsed object (the control views) borrow its strings: keep the
 * object while the view is in use.
 */
#ifndef PAIA_PROTO_H
#define PAIA_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/*
 * The control protocol's version, in every STATUS answer. A client that
 * speaks another refuses the gateway by name and version instead of
 * misreading it (tmux's PROTOCOL_VERSION rule). Bump it when an answer
 * changes meaning; adding a field does not.
 */
#define PROTO_VERSION 1

#define TASK_VERSION 1
#define RESULT_VERSION 1
#define DLQ_VERSION 1
#define TASK_MAX_BYTES (1024 * 1024)
#define TASK_ID_MAX 63
#define DLQ_ORIGINAL_MAX (64 * 1024)

/* ---- names.c: one copy of every name the contracts use ---- */

enum task_state {
	TASK_RECEIVED,
	TASK_FETCHING,
	TASK_LAUNCHING,
	TASK_RUNNING,
	TASK_COLLECTING,
	TASK_UPLOADING,
	TASK_UPLOAD_WAIT,	/* the game ended; storage away: outputs wait on disk */
	TASK_REPORTING,
	TASK_DONE,	/* reported, succeeded */
	TASK_FAILED,	/* reported, any other status */
	TASK_NSTATES
};
enum result_status {
	RESULT_SUCCEEDED,
	RESULT_FAILED,
	RESULT_TIMEOUT,
	RESULT_CANCELLED,
	RESULT_ERROR,
	RESULT_NSTATUSES
};
enum error_class { ERROR_NONE, ERROR_USER, ERROR_INFRA, ERROR_INVALID };
enum dlq_reason {
	DLQ_TOO_LARGE,
	DLQ_INVALID_UTF8,
	DLQ_INVALID_JSON,
	DLQ_NOT_OBJECT,
	DLQ_UNSUPPORTED_VERSION,
	DLQ_MISSING_FIELD,
	DLQ_WRONG_TYPE,
	DLQ_INVALID_VALUE,
	DLQ_DUPLICATE_TASK,
	DLQ_NREASONS
};
/* Burrow's statuses of a partition's consumer. */
enum health_status { HEALTH_OK, HEALTH_WARN, HEALTH_STALL, HEALTH_STOP, HEALTH_REWIND,
	HEALTH_ERR,	/* the broker's view: the partition's numbers could not be read */
	HEALTH_NSTATUSES };

const char *proto_state_name(enum task_state);
int proto_state_parse(const char *, enum task_state *);
const char *proto_status_name(enum result_status);
int proto_status_parse(const char *, enum result_status *);
/* NULL for ERROR_NONE. */
const char *proto_class_name(enum error_class);
int proto_class_parse(const char *, enum error_class *);
const char *proto_dlq_reason_name(enum dlq_reason);
int proto_dlq_reason_parse(const char *, enum dlq_reason *);
const char *proto_health_name(enum health_status);
int proto_health_parse(const char *, enum health_status *);
/* The VPN tunnel's states (vpn/vpn.h's, by the same names), its checks and their results. */
enum proto_vpn_state { PROTO_VPN_STOPPED, PROTO_VPN_STARTING, PROTO_VPN_CONNECTING,
	PROTO_VPN_CONNECTED, PROTO_VPN_RECONNECTING, PROTO_VPN_BACKOFF, PROTO_VPN_STOPPING,
	PROTO_VPN_NSTATES };
enum proto_vpn_kind { PROTO_VPN_ROUTE, PROTO_VPN_ENDPOINT, PROTO_VPN_NKINDS };
enum proto_vpn_result { PROTO_VPN_PENDING, PROTO_VPN_OK, PROTO_VPN_FAILED, PROTO_VPN_NRESULTS };
const char *proto_vpn_state_name(enum proto_vpn_state);
int proto_vpn_state_parse(const char *, enum proto_vpn_state *);
const char *proto_vpn_kind_name(enum proto_vpn_kind);
int proto_vpn_kind_parse(const char *, enum proto_vpn_kind *);
const char *proto_vpn_result_name(enum proto_vpn_result);
int proto_vpn_result_parse(const char *, enum proto_vpn_result *);
/* "a string", "a number", ... for messages about a JSON value. */
const char *proto_type_name(const cJSON *);

/* ---- json.c: the strict reader ---- */

/*
 * A strict RFC 8259 checker for JSON from outside: no duplicate names,
 * no \u0000, no lone surrogates, no byte order mark, nothing after the
 * value, at most JSON_DEPTH_MAX levels. cJSON then parses only text that
 * passed.
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
/*
 * Check strictly, then parse with cJSON: the object, or NULL with
 * *cause ("not valid JSON: ... (byte N)", "not a JSON object").
 */
cJSON *json_parse_object(const char *buf, size_t len, char **cause);

/* ---- task.c: task v1 ---- */

struct proto_task {
	char *task_id;
	int attempt;		/* >= 1 */
	char *game;
	char *game_version;	/* may be NULL */
	char *program;		/* storage URL */
	char *model;		/* storage URL or NULL */
	char *entry;		/* relative path inside input/, or NULL */
	char *params;		/* JSON object text as written ("{}" when absent) */
	long timeout_s;		/* 0: the runner's default */
	int gpu;
	char *result_prefix;	/* storage URL prefix or NULL */
	char *raw;		/* the original message, for requeue */
	size_t rawlen;
	size_t attempt_off;	/* raw's attempt value, [off, end) */
	size_t attempt_end;
	int attempt_insert;	/* no attempt: a requeue adds one at attempt_off */
};
/*
 * Decode and validate one task message. On failure returns -1, sets
 * *reason and an allocated *detail naming the field and what is wrong;
 * *task_id is set (allocated) when the message had a readable task_id.
 */
int proto_task_decode(const void *buf, size_t len, struct proto_task **out,
    enum dlq_reason *reason, char **detail, char **task_id);
void proto_task_free(struct proto_task *);
/*
 * A task message for a new task (paiactl submit): the fields of t that
 * are set (raw and the offsets are ignored; params is JSON object text,
 * written as is, or NULL; resources.gpu when gpu >= 0; timeout_s when
 * above 0). Caller frees.
 */
char *proto_task_encode(const struct proto_task *t);
/* The task message to produce for a requeue: byte for byte the original, attempt + 1. */
char *proto_task_requeue(const struct proto_task *);
/* A safe file name from the last segment of a URL path ("program" if none). */
char *proto_url_basename(const char *url);

/* ---- result.c: result v1 ---- */

/*
 * A task attempt's use of one GPU, as the gateway's prober saw it (a
 * process of the task's pod holding the card): result v1's and TASK's
 * optional "gpus" (gpu.c encodes it).
 */
struct proto_task_gpu {
	const char *node;		/* the [gpu] node name */
	int index;
	const char *uuid;
	const char *name;		/* "NVIDIA H100 80GB HBM3" */
	double peak_mem_mib;		/* most the task's processes held at once; -1: unknown */
	double mean_util;		/* the card's mean utilisation (%) while held; -1: unknown */
	int64_t samples;		/* probe rounds that saw it */
	int64_t first_ms, last_ms;	/* wall ms of the first and last of them */
};

struct proto_artifact {
	const char *name;		/* log.txt, result.json, video.mp4 */
	const char *url;
	const char *sha256;		/* hex, or NULL */
	const char *content_type;
	int64_t bytes;
	int truncated;			/* log.txt cut to its head and tail */
};
/* An artifact the gateway would not upload, and why (a link, too big, ...). */
struct proto_refused {
	const char *name;
	const char *reason;
};
struct proto_result {
	const char *task_id;
	int attempt;
	enum result_status status;
	const char *game;
	const char *game_result;	/* the game's result.json object as JSON text, or NULL */
	const char *log_url;		/* NULL: null */
	const char *video_url;
	const char *result_url;
	const struct proto_artifact *artifacts;
	size_t nartifacts;
	const struct proto_refused *refused;
	size_t nrefused;
	int64_t received_ms;		/* wall ms; 0: absent */
	int64_t started_ms;
	int64_t finished_ms;
	int64_t reported_ms;
	int64_t duration_ms;		/* -1: absent */
	enum error_class eclass;	/* with error NULL and ERROR_NONE: "error": null */
	const char *error;
	const char *recovered;		/* how outputs were recovered, or NULL */
	const char *kept;		/* outputs not uploaded, kept in this folder, or NULL */
	const char *source_topic;
	int32_t source_partition;
	int64_t source_offset;
	const char *gateway;
	/* The GPUs the attempt ran on (optional: absent when none was seen). */
	const struct proto_task_gpu *gpus;
	size_t ngpus;
	/* decoded results own their memory here */
	void *own;
};
/* The record's JSON text. Caller frees. */
char *proto_result_encode(const struct proto_result *);
/*
 * Decode a result record (what the Webservice and paiactl read). Fields
 * a record lacks are NULL, 0 or -1; a field of the wrong type is an
 * error naming it. 0, or -1 with *cause.
 */
int proto_result_decode(const char *buf, size_t len, struct proto_result *, char **cause);
void proto_result_clear(struct proto_result *);
/* game_result.score when it is a number: 0, else -1. */
int proto_result_score(const struct proto_result *, double *score);

/* ---- dlq.c: the dead-letter record ---- */

struct proto_dlq {
	enum dlq_reason reason;
	const char *reason_name;	/* as written (a newer gateway's reason stays readable) */
	const char *detail;
	const char *task_id;		/* NULL: null */
	const char *topic;
	int32_t partition;
	int64_t offset;
	int64_t received_ms;
	const char *original;		/* text, or base64 when original_encoding says so */
	const char *original_encoding;	/* "utf-8" | "base64" */
	int64_t original_bytes;
	int original_truncated;
	void *own;
};
/* The DLQ record of a refused message (payload kept as text, or base64). */
char *proto_dlq_encode(enum dlq_reason, const char *detail, const char *task_id,
    const char *topic, int32_t partition, int64_t offset, const void *payload,
    size_t len, int64_t now_ms);
int proto_dlq_decode(const char *buf, size_t len, struct proto_dlq *, char **cause);
void proto_dlq_clear(struct proto_dlq *);

/* ---- control.c: the control protocol (docs/control.md) ---- */

enum proto_cmd {
	PROTO_CMD_STATUS,
	PROTO_CMD_TASKS,
	PROTO_CMD_TASK,
	PROTO_CMD_REQUEUE,
	PROTO_CMD_CANCEL,
	PROTO_CMD_LAG,
	PROTO_CMD_SUBSCRIBE,
	PROTO_CMD_GPUS,
	PROTO_CMD_VPN,
	PROTO_CMD_PODS,
	PROTO_CMD_LOGS,
	PROTO_CMD_VIDEOS,
	PROTO_CMD_FRAME,
	PROTO_CMD_VIDEO_DATA,
	PROTO_NCMDS
};
/* frame: the longest "at" taken (seconds into a video). */
#define PROTO_FRAME_AT_MAX (7 * 24 * 3600.0)
struct proto_request {
	enum proto_cmd cmd;
	char *id;	/* task, requeue, cancel, logs, frame, video_data: 1..TASK_ID_MAX bytes */
	char *state;	/* tasks: a state name, "active", or NULL for all */
	int check;	/* lag: start a health check round */
	int follow;	/* logs: go on until the task's game ends */
	int stop;	/* logs: end this connection's stream of the task's log instead */
	double at;	/* frame: seconds into the video, 0..PROTO_FRAME_AT_MAX */
	int attempt;	/* requeue: only this attempt (0: the latest) */
	int64_t offset;	/* video_data: the first byte wanted, 0..PROTO_OFFSET_MAX */
};
/* video_data: the largest offset taken (2^53, exact in JSON). */
#define PROTO_OFFSET_MAX (INT64_C(1) << 53)
/* The command's name ("status", ...). */
const char *proto_cmd_name(enum proto_cmd);
/* "status, tasks, task, ..." (static). */
const char *proto_cmd_list(void);
/*
 * Parse one request line strictly: one JSON object, a known cmd, only
 * the fields it takes, each of its type, no control characters. 0, or
 * -1 with *cause (short: names the field or the command).
 */
int proto_request_parse(const char *line, size_t len, struct proto_request *, char **cause);
void proto_request_clear(struct proto_request *);
/* The request's line, without the newline. Caller frees. */
char *proto_request_build(const struct proto_request *);

/* A task as the control socket shows it (TASK). */
struct proto_task_view {
	const char *task_id;
	int attempt;
	const char *game;
	enum task_state state;
	int has_status;			/* reporting, done or failed */
	enum result_status status;
	int waiting;
	int64_t pid;			/* -1: none */
	int32_t partition;
	int64_t offset;
	int64_t timeline[TASK_NSTATES];	/* wall ms each state was entered; 0: not */
	int has_error;
	enum error_class eclass;
	const char *error;
	const char *dir;
	const char *log_path;
	const char *log_url;		/* NULL: null */
	const char *video_url;
	const char *video_path;		/* NULL: absent */
	const struct proto_refused *refused;	/* artifacts not uploaded, and why */
	size_t nrefused;
	const struct proto_task_gpu *gpus;	/* the GPUs it ran on (absent: none seen) */
	size_t ngpus;
	int has_score;
	double score;
	int64_t duration_ms;		/* -1: null */
	/* Uploads that wait for storage (state upload_wait; 0 and NULL: absent). */
	int64_t upload_waiting_since;	/* wall ms it first waited */
	int64_t upload_next_try;	/* wall ms of its next try (0: when storage answers) */
	int64_t upload_deadline;	/* wall ms it gives up and keeps the outputs */
	const char *upload_error;	/* why it waits */
	const char *recovered;		/* as in the result */
	void *own;
};
cJSON *proto_task_view_encode(const struct proto_task_view *);
int proto_task_view_decode(const cJSON *, struct proto_task_view *, char **cause);
void proto_task_view_clear(struct proto_task_view *);

/* A partition as the gateway's ledger sees it (in STATUS). */
struct proto_partition_view {
	int32_t partition;
	int64_t committed;
	int64_t next;
	int64_t pending;
	int64_t high;			/* -1: unknown */
	int64_t lag;
	int paused;
};
/* The gateway at a glance (STATUS). */
struct proto_status_view {
	int protocol;			/* PROTO_VERSION of the gateway */
	const char *instance;
	const char *version;
	int64_t pid;
	int64_t uptime_s;
	int embedded;
	const char *bootstrap_servers;
	const char *group_id;
	const char *tasks_topic;
	const char *results_topic;
	const char *dlq_topic;
	int64_t max_inflight;
	int64_t inflight;
	int64_t backlog;
	int paused;
	int64_t reporting;
	int draining;
	int64_t states[TASK_NSTATES];
	int64_t totals[RESULT_NSTATUSES];
	int64_t dlq;
	int64_t skipped_done;
	int64_t tx_committed;
	int64_t tx_aborted;
	int64_t upload_waiting;		/* tasks in upload_wait (they hold no slot) */
	/* The tunnel at a glance ("vpn": null when none is configured). */
	int vpn_enabled;
	enum proto_vpn_state vpn_state;
	int vpn_healthy;
	int64_t vpn_since_ms;
	const struct proto_partition_view *partitions;
	size_t npartitions;
	void *own;
};
cJSON *proto_status_view_encode(const struct proto_status_view *);
int proto_status_view_decode(const cJSON *, struct proto_status_view *, char **cause);
void proto_status_view_clear(struct proto_status_view *);
/*
 * 0 when a client speaking PROTO_VERSION can read this gateway, else -1
 * with *cause naming the gateway, its protocol and ours.
 */
int proto_status_compatible(const struct proto_status_view *, char **cause);

/*
 * LAG (docs/control.md): a consumer group's lag, one shape wherever it
 * comes from: a gateway's own partitions (the control socket's "lag",
 * GET /lag) or the broker's view of every partition ("paiactl lag
 * --group"). Fields one source does not have are absent (NULL, -1).
 */
#define LAG_VERSION 1
/* Who owns a partition: a gateway names its instance; the broker, its member. */
struct proto_lag_owner {
	const char *instance;
	const char *member_id;
	const char *client_id;
	const char *host;
};
struct proto_lag_view {
	int32_t partition;
	int64_t committed;		/* -1: nothing committed */
	double committed_age_s;		/* since it was confirmed; < 0: null */
	int64_t log_end;		/* -1: unknown (error says why) */
	double log_end_age_s;		/* since it was read; < 0: null */
	int64_t lag;			/* -1: unknown */
	double lag_s;			/* -1: unknown */
	const struct proto_lag_owner *owner;	/* NULL: null (no member owns it) */
	enum health_status status;
	int healthy;
	int bad_checks;			/* -1: absent (the broker's view) */
	const char *why;		/* NULL: absent */
	const char *error;		/* what could not be read; NULL: absent */
	/* The last lag measurements, oldest first ("history": [[t_ms, lag], ...]). */
	const struct proto_lag_sample *history;
	size_t nhistory;
};
struct proto_lag_sample {
	int64_t t_ms;			/* wall ms */
	int64_t lag;
};
struct proto_lag {
	int version;			/* LAG_VERSION; 0 in an answer older than the field */
	const char *source;		/* "gateway" or "broker" (NULL: absent) */
	const char *group;
	const char *topic;
	const char *instance;		/* a gateway's view: whose */
	int64_t time_ms;		/* wall ms it was made; 0: absent */
	int has_group_state;		/* the broker's view: the next three are there */
	const char *group_state;	/* NULL: null, group_error says why */
	int64_t members;		/* -1: null */
	const char *group_error;
	int healthy;
	const char *why;		/* NULL: absent */
	const struct proto_lag_view *partitions;
	size_t npartitions;
	void *own;
};
/* The LAG object (GET /lag, paiactl lag --json). */
cJSON *proto_lag_encode(const struct proto_lag *);
/* Its fields into obj (the control socket's answer: {"ok":true, LAG}). */
void proto_lag_encode_into(cJSON *obj, const struct proto_lag *);
/*
 * Decode a LAG object or an answer holding one; also what gateways sent
 * before it ({"healthy","why","partitions"}, a bare "partitions" array
 * from /lag, "log_end_error" for "error"). Strings borrowed from j.
 */
int proto_lag_decode(const cJSON *j, struct proto_lag *, char **cause);
void proto_lag_clear(struct proto_lag *);

/* A check of the tunnel: a route through it, or an endpoint behind it. */
struct proto_vpn_check {
	enum proto_vpn_kind kind;
	const char *target;		/* "10.77.0.0/24", "s3.cloud:443" */
	enum proto_vpn_result result;
	const char *reason;
	int64_t checked_ms;		/* wall ms; 0: never */
	int64_t age_ms;			/* since then, when the view was made; -1: never */
	int64_t latency_ms;		/* endpoints: connect time; -1: unknown */
};
/* The VPN tunnel (VPN, and the vpn event): vpn/'s view as the gateway uses it. */
struct proto_vpn_view {
	int enabled;			/* 0: no [vpn] configured; nothing else is set */
	const char *mode;		/* "spawn" | "attach" */
	enum proto_vpn_state state;
	int64_t since_ms;		/* wall ms the state began */
	int64_t connected_ms;		/* last CONNECTED (0: never) */
	int64_t next_try_ms;		/* BACKOFF: the next try (0: none) */
	const char *openvpn_state;	/* openvpn's own: "WAIT", "RECONNECTING", ... */
	const char *openvpn_detail;	/* its reason: "ping-restart", ... */
	int64_t pid;			/* openvpn's; -1: unknown */
	const char *error;		/* the last error, or NULL */
	int64_t error_ms;
	int64_t restarts;
	int64_t auth_failures;
	int64_t bytes_in;
	int64_t bytes_out;
	const char *tun_ip;		/* "" when unknown */
	const char *tun_dev;
	int healthy;			/* CONNECTED and every check passed */
	int64_t down_since_ms;		/* not healthy since (0: healthy) */
	int pause_intake;		/* vpn.pause_intake_when_down */
	int intake_paused;		/* intake paused because of the tunnel now */
	const struct proto_vpn_check *checks;
	size_t nchecks;
	void *own;
};
cJSON *proto_vpn_view_encode(const struct proto_vpn_view *);
int proto_vpn_view_decode(const cJSON *, struct proto_vpn_view *, char **cause);
void proto_vpn_view_clear(struct proto_vpn_view *);

/* Answers: {"ok":true, ...} or {"ok":false,"error":"..."}. */
cJSON *proto_answer_ok(void);
char *proto_answer_error(const char *message);
/*
 * Read an answer line: -1 with *cause when it is not an answer; else 0
 * with *root the parsed object (caller deletes) and *ok; a refusal's
 * message in *error (borrowed from *root).
 */
int proto_answer_parse(const char *line, size_t len, cJSON **root, int *ok,
    const char **error, char **cause);

/*
 * Events: task, status, gpu, vpn (and pod, pods, video) on a subscribed
 * connection; log and log_end on a connection that asked for a task's log.
 * OTHER is an event this client does not know (a newer gateway's).
 */
enum proto_event_type { PROTO_EVENT_TASK, PROTO_EVENT_STATUS, PROTO_EVENT_GPU, PROTO_EVENT_VPN,
	PROTO_EVENT_POD, PROTO_EVENT_VIDEO, PROTO_EVENT_LOG, PROTO_EVENT_LOG_END, PROTO_EVENT_PODS,
	PROTO_EVENT_OTHER };
char *proto_event_encode(enum proto_event_type, cJSON *payload);
/*
 * Which event a line is, and its payload (borrowed from *root, which the
 * caller deletes). A line that is an answer, not an event, is -1.
 */
int proto_event_parse(const char *line, size_t len, cJSON **root,
    enum proto_event_type *type, const cJSON **payload, char **cause);

/* ---- console.c: the views the console reads besides TASK, STATUS, LAG ---- */

/* One of the gateway's game pods as its informer sees it (POD). */
struct proto_pod_view {
	const char *name;
	const char *namespace;
	const char *task_id;		/* NULL: not known (a pod of no task) */
	int attempt;			/* 0: not known */
	const char *phase;		/* Pending Running Succeeded Failed Unknown; NULL: none yet */
	const char *status;		/* kubectl's STATUS column */
	int ready;			/* containers ready ... */
	int total;			/* ... of these */
	int restarts;
	const char *node;		/* NULL: not scheduled */
	int64_t created_ms;		/* wall ms; 0: unknown */
	int64_t started_ms;		/* status.startTime; 0: not started */
	int deleting;			/* deletionTimestamp set */
	const char *message;		/* why it is in that status, when the pod says; or NULL */
	int deleted;			/* events only: the pod is gone */
};
cJSON *proto_pod_view_encode(const struct proto_pod_view *);
/* Strings borrowed from j. */
int proto_pod_view_decode(const cJSON *j, struct proto_pod_view *, char **cause);

/*
 * The game pods were listed afresh (event "pods"): the k8s runner's
 * informer applied a complete list (at start, after 410 Gone). The list's
 * changes do not come as pod events (thousands at once): a client asks
 * pods again for them.
 */
struct proto_pods_event {
	int synced;			/* the informer has listed (the pods answer's) */
	int64_t count;			/* pods in the list */
};
cJSON *proto_pods_event_encode(const struct proto_pods_event *);
int proto_pods_event_decode(const cJSON *j, struct proto_pods_event *, char **cause);

/* The pods answer: the runner, and its pods (runner "local": none). */
struct proto_pods {
	const char *runner;		/* "k8s", "local" */
	const char *namespace;		/* k8s: where the pods are */
	int synced;			/* the informer has listed once */
	const struct proto_pod_view *pods;
	size_t npods;
	void *own;
};
/* Add the answer's fields to answer (pods copied in). */
void proto_pods_encode(cJSON *answer, const struct proto_pods *);
int proto_pods_decode(const cJSON *answer, struct proto_pods *, char **cause);
void proto_pods_clear(struct proto_pods *);

/*
 * A piece of a task's log (event "log"). data is text: the log's bytes
 * as UTF-8, each byte that is not part of valid UTF-8, and each NUL,
 * replaced by U+FFFD; offset and bytes count the log's own bytes, so a
 * client can resume or tell a gap. At most PROTO_LOG_CHUNK bytes of log
 * a chunk.
 */
#define PROTO_LOG_CHUNK (16 * 1024)
struct proto_log_chunk {
	const char *task_id;
	int attempt;
	const char *source;		/* "file" (output/log.txt), "stored" (its uploaded copy), "pod" */
	int64_t offset;			/* of the first byte in the log */
	int64_t bytes;			/* of the log this chunk covers */
	const char *data;
	size_t len;			/* of data (encode: the raw bytes; decode: the text) */
};
/*
 * The log's bytes raw[0..len) as a chunk's text (caller frees): invalid
 * UTF-8 and NUL become U+FFFD. *keep says how many bytes at the end are
 * the start of a character cut by the chunk's end (send them with the
 * next chunk); with final set, none are kept.
 */
char *proto_log_text(const char *raw, size_t len, int final, size_t *keep);
/* data: the text already (proto_log_text). */
cJSON *proto_log_chunk_encode(const struct proto_log_chunk *);
int proto_log_chunk_decode(const cJSON *j, struct proto_log_chunk *, char **cause);

/* Why a log stream ended (event "log_end"). */
enum proto_log_reason {
	PROTO_LOG_DONE,		/* the game ended; the task succeeded */
	PROTO_LOG_FAILED,	/* ... failed, timed out or ended in error */
	PROTO_LOG_CANCELLED,	/* ... was cancelled */
	PROTO_LOG_EOF,		/* not following: all there is now was sent */
	PROTO_LOG_GONE,		/* the task left this gateway (revoked, forgotten) */
	PROTO_LOG_ERROR,	/* the log cannot be read on (error says why) */
	PROTO_LOG_NREASONS
};
const char *proto_log_reason_name(enum proto_log_reason);
struct proto_log_end {
	const char *task_id;
	int attempt;
	enum proto_log_reason reason;
	const char *reason_name;	/* as written (a newer gateway's stays readable) */
	int64_t bytes;			/* the log's length when it ended */
	const char *error;		/* PROTO_LOG_ERROR: why; else NULL */
};
cJSON *proto_log_end_encode(const struct proto_log_end *);
int proto_log_end_decode(const cJSON *j, struct proto_log_end *, char **cause);

/* A finished task with a video (VIDEO: videos, event "video"). */
struct proto_video_view {
	const char *task_id;
	int attempt;
	const char *game;
	const char *status;		/* the task's result status */
	const char *name;		/* video.mp4, ... */
	const char *url;		/* where it was uploaded, redacted */
	const char *content_type;
	int64_t bytes;
	int64_t reported_ms;		/* wall ms */
	int local;			/* its file is still in the task folder: frame works */
	const char *path;		/* that file on the gateway's host (when local), or NULL */
};
cJSON *proto_video_view_encode(const struct proto_video_view *);
int proto_video_view_decode(const cJSON *j, struct proto_video_view *, char **cause);
/* The videos answer's array, newest first (own: arrays freed with proto_videos_clear). */
struct proto_videos {
	const struct proto_video_view *videos;
	size_t nvideos;
	void *own;
};
int proto_videos_decode(const cJSON *answer, struct proto_videos *, char **cause);
void proto_videos_clear(struct proto_videos *);

/* A still of a task's video (the frame answer's "frame"). */
#define PROTO_FRAME_MAX (2 * 1024 * 1024)
struct proto_frame {
	const char *task_id;
	int attempt;
	double at;
	int width, height;
	const char *content_type;	/* image/png */
	const unsigned char *data;	/* decode: allocated (own) */
	size_t len;
	void *own;
};
cJSON *proto_frame_encode(const struct proto_frame *);
/* The PNG decoded from base64, at most PROTO_FRAME_MAX bytes. */
int proto_frame_decode(const cJSON *j, struct proto_frame *, char **cause);
void proto_frame_clear(struct proto_frame *);

/*
 * A piece of a task's video file (the video_data answer's "video_data"):
 * at most PROTO_VIDEO_CHUNK_MAX bytes from offset, of a file of size
 * bytes; len 0 at or past its end.
 */
#define PROTO_VIDEO_CHUNK_MAX (256 * 1024)
struct proto_video_data {
	const char *task_id;
	int attempt;
	int64_t offset;
	int64_t size;			/* the whole file's */
	const unsigned char *data;	/* decode: allocated (own) */
	size_t len;
	void *own;
};
cJSON *proto_video_data_encode(const struct proto_video_data *);
/* At most PROTO_VIDEO_CHUNK_MAX bytes, within size from offset. */
int proto_video_data_decode(const cJSON *j, struct proto_video_data *, char **cause);
void proto_video_data_clear(struct proto_video_data *);

/* ---- gpu.c: GPU nodes ("gpus" answer, "gpu" events) and a task's GPUs ---- */

/* What a card reports; a value nvidia-smi did not give is null, with why. */
enum proto_gpu_metric {
	PROTO_GPU_UTIL,			/* "util", percent */
	PROTO_GPU_MEM_UTIL,		/* "mem_util", percent */
	PROTO_GPU_MEM_USED,		/* "mem_used_mib" */
	PROTO_GPU_MEM_TOTAL,		/* "mem_total_mib" */
	PROTO_GPU_TEMP,			/* "temp_c" */
	PROTO_GPU_POWER,		/* "power_w" */
	PROTO_GPU_POWER_LIMIT,		/* "power_limit_w" */
	PROTO_GPU_SM_CLOCK,		/* "sm_clock_mhz" */
	PROTO_GPU_NMETRICS
};
const char *proto_gpu_metric_name(enum proto_gpu_metric);
/* pending: no round has ended yet; stale: the last one failed (the report shown is older). */
enum proto_gpu_node_state { PROTO_GPU_PENDING, PROTO_GPU_OK, PROTO_GPU_STALE, PROTO_GPU_NSTATES };
const char *proto_gpu_state_name(enum proto_gpu_node_state);
int proto_gpu_state_parse(const char *, enum proto_gpu_node_state *);

/* A compute process holding a card. */
struct proto_gpu_process {
	int64_t pid;			/* in the node's PID namespace */
	double used_mib;		/* -1: unknown */
	const char *name;
	const char *pod_uid;		/* from its cgroup; NULL: not in a pod */
	const char *container_id;
	const char *namespace;		/* the pod's, when it is one of this gateway's */
	const char *pod;
	const char *container;
	const char *task_id;		/* NULL: no task of this gateway */
	int attempt;
};
struct proto_gpu_card {
	int index;
	const char *uuid;
	const char *name;
	double value[PROTO_GPU_NMETRICS];
	unsigned known;			/* bit 1 << metric: value[metric] is known */
	/* Unknown: "n/a", "not supported", "insufficient permissions", "error". */
	const char *why[PROTO_GPU_NMETRICS];
	const char *pstate;		/* "P0".."P15"; NULL: not given */
	const struct proto_gpu_process *procs;
	size_t nprocs;
};
struct proto_gpu_node {
	const char *node;
	const char *host;
	int port;
	const char *source;		/* "config" or "kubernetes" */
	enum proto_gpu_node_state state;
	const char *stale;		/* why the last round failed; NULL unless stale */
	int64_t report_ms;		/* wall ms of the report shown; 0: none */
	int64_t age_ms;			/* its age; -1: none */
	int64_t round_ms;		/* the last round's length */
	int64_t rounds_ok, rounds_failed;
	const char *apps_error;		/* the process list failed: why (GPUs still shown) */
	const char *display;		/* ":0" */
	const char *display_state;	/* "up", "down", "unknown", "unchecked"; NULL: none */
	const char *display_detail;
	const struct proto_gpu_card *cards;
	size_t ncards;
};
/* A node as the "gpus" answer lists it and a "gpu" event carries it. */
cJSON *proto_gpu_node_encode(const struct proto_gpu_node *);
struct proto_gpus {
	const struct proto_gpu_node *nodes;
	size_t nnodes;
	void *own;
};
/*
 * Decode the "gpus" answer's "nodes" array, or one node object (a "gpu"
 * event's payload). Strings are borrowed from j: keep it while g is in
 * use. 0, or -1 with *cause naming the field.
 */
int proto_gpus_decode(const cJSON *j, struct proto_gpus *g, char **cause);
void proto_gpus_clear(struct proto_gpus *);
/* A task's "gpus" array (result v1, TASK). */
cJSON *proto_task_gpus_encode(const struct proto_task_gpu *, size_t n);

/* ---- answer.c: where each command's answer keeps its view ---- */

/*
 * The members of an answer that said "ok": true (borrowed from answer;
 * keep it while the view is in use). -1 with *cause when the member is
 * missing or of the wrong type, or the view inside does not decode.
 */
int proto_answer_status(const cJSON *answer, struct proto_status_view *, char **cause);
int proto_answer_task(const cJSON *answer, struct proto_task_view *, char **cause);
/* The TASK objects of a tasks answer (decode each with proto_task_view_decode); *n of them. */
const cJSON *proto_answer_tasks(const cJSON *answer, size_t *n, char **cause);
int proto_answer_requeue(const cJSON *answer, const char **task_id, int *attempt,
    char **cause);
int proto_answer_cancel(const cJSON *answer, const char **task_id, char **cause);
/* The gpus answer: its nodes (proto_gpus_clear after), whether probing is on, its interval. */
int proto_answer_gpus(const cJSON *answer, struct proto_gpus *, int *enabled,
    int64_t *interval_ms, char **cause);
/* The vpn answer's view (proto_vpn_view_clear after; enabled 0: no tunnel configured). */
int proto_answer_vpn(const cJSON *answer, struct proto_vpn_view *, char **cause);

#endif
