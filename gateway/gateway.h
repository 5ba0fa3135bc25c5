/*
 * gateway.h: what the parts of paia-gateway share: the task model and
 * its state machine, the message contracts (task v1, result v1, DLQ),
 * the ledger of offsets, the committer thread, the runner and storage
 * interfaces, the control socket. One libevent loop in the main thread
 * owns all of it; two workers (common/worker.c) block where librdkafka
 * does: the committer's transactions and health's ListOffsets; they talk
 * to the loop through a queue and an eventfd only.
 */
#ifndef PAIA_GATEWAY_H
#define PAIA_GATEWAY_H

#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#include "common.h"

struct event_base;
struct rd_kafka_s;

/* ---- message.c: the contracts of docs/messages.md ---- */

#define TASK_VERSION 1
#define RESULT_VERSION 1
#define TASK_MAX_BYTES (1024 * 1024)
#define TASK_ID_MAX 63
#define DLQ_ORIGINAL_MAX (64 * 1024)

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
};
const char *msg_dlq_reason_name(enum dlq_reason);

/* A decoded, validated task v1. */
struct task_spec {
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
 * Decode and validate one task message: strict JSON (json_check), then
 * the fields. On failure returns -1, sets *reason and an allocated
 * *detail naming the field and what is wrong; *task_id is set
 * (allocated) when the message had a readable task_id.
 */
int msg_task_decode(const void *buf, size_t len, struct task_spec **out,
    enum dlq_reason *reason, char **detail, char **task_id);
void msg_task_free(struct task_spec *);
/*
 * The task message to produce for a requeue: the original text with
 * the attempt's value one higher (added when it had none), every other
 * byte as it was.
 */
char *msg_task_requeue(const struct task_spec *);
/* "a string", "a number", "a boolean", "null", "an array", "an object". */
const char *msg_type_name(const cJSON *);
/* A safe file name from the last segment of a URL path ("program" if none). */
char *msg_url_basename(const char *url);

enum result_status {
	RESULT_SUCCEEDED,
	RESULT_FAILED,
	RESULT_TIMEOUT,
	RESULT_CANCELLED,
	RESULT_ERROR,
};
enum error_class { ERROR_NONE, ERROR_USER, ERROR_INFRA, ERROR_INVALID };
const char *msg_status_name(enum result_status);
const char *msg_error_class_name(enum error_class);

struct artifact {
	char *name;		/* log.txt, result.json, video.mp4 */
	char *path;		/* local file */
	char *url;		/* where it was uploaded */
	const char *content_type;
	char sha256[65];
	off_t bytes;
	int uploaded;
};

/* The DLQ record: {reason, detail, topic, partition, offset, original...}. */
char *msg_dlq_encode(enum dlq_reason, const char *detail, const char *task_id,
    const char *topic, int32_t partition, int64_t offset, const void *payload,
    size_t len, int64_t now_ms);

/* ---- ledger.c: per-partition offsets, out-of-order completion ---- */

#define LEDGER_METADATA_MAX 4096

enum ledger_verdict {
	LEDGER_NEW,		/* process it */
	LEDGER_DONE_BEFORE,	/* done in an earlier life (commit metadata) */
	LEDGER_DUPLICATE,	/* already received in this life */
};
struct ledger;
struct ledger *ledger_new(void);
void ledger_free(struct ledger *);
/* Forget everything about a partition (revoked). */
void ledger_forget(struct ledger *, int32_t partition);
/*
 * Restore a partition from its committed offset and metadata (assign).
 * committed < 0: nothing committed. Bad metadata is ignored with *cause
 * set (the partition restarts from the committed offset: at-least-once
 * for that range, never loss). Returns 0, or -1 with *cause.
 */
int ledger_restore(struct ledger *, int32_t partition, int64_t committed,
    const char *metadata, size_t len, char **cause);
enum ledger_verdict ledger_receive(struct ledger *, int32_t partition, int64_t offset);
/* Mark an offset done (its result or DLQ record is in the next commit). */
void ledger_done(struct ledger *, int32_t partition, int64_t offset);
/* Lowest offset not done (the offset to commit), or -1 if nothing seen. */
int64_t ledger_commit_point(const struct ledger *, int32_t partition);
/* Offsets received and not yet done. */
size_t ledger_pending(const struct ledger *, int32_t partition);
/* One past the highest offset accounted for. */
int64_t ledger_next(const struct ledger *, int32_t partition);
/* The commit metadata string (allocated). */
char *ledger_metadata(const struct ledger *, int32_t partition);
/* Would the metadata exceed the cap if one more offset stayed pending? */
int ledger_near_cap(const struct ledger *, int32_t partition, size_t cap);
/* Partitions the ledger knows, into an allocated array; returns count. */
size_t ledger_partitions(const struct ledger *, int32_t **out);

/* ---- committer.c: the transactional producer's thread ---- */

enum commit_kind { COMMIT_RESULT, COMMIT_DLQ, COMMIT_REQUEUE };
struct commit_record {
	enum commit_kind kind;
	char *topic;
	char *key;
	char *value;
	size_t len;
};
struct commit_offset {
	int32_t partition;
	int64_t offset;
	char *metadata;
};
struct commit_batch {
	struct worker_job job;	/* first: batches travel as worker jobs */
	uint64_t id;		/* 0: the committer's own start-up */
	struct commit_record *records;
	size_t nrecords;
	char *offsets_topic;
	struct commit_offset *offsets;
	size_t noffsets;
	void *group_metadata;	/* rd_kafka_consumer_group_metadata_t */
	int ok;			/* the answer: committed, or the fatal error */
	char *error;
};
struct committer;
/* A batch came back: committed (ok) or not (fatal error string). */
typedef void committer_done_cb(uint64_t batch_id, int ok, const char *error, void *arg);
/*
 * Start the committer thread with a transactional producer built from
 * conf (section kafka passthrough + transactional.id). done_cb runs in
 * the loop thread. Returns NULL with *cause on failure.
 */
struct committer *committer_start(struct event_base *, const struct config *,
    const char *transactional_id, committer_done_cb *, void *arg, char **cause);
/* Hand a batch over (ownership moves to the committer). @locality loop */
void committer_submit(struct committer *, struct commit_batch *);
/*
 * The consumer whose group metadata a replayed transaction refreshes
 * (NULL before the consumer is closed). @locality loop
 */
void committer_set_consumer(struct committer *, void *rk);
/*
 * Wait (blocking the loop, at most timeout_ms) until every batch handed
 * over is answered, then deliver the answers. On revoke: what is done
 * commits while this instance's generation is still valid. Returns 0
 * when all were answered, -1 on timeout.
 */
int committer_sync(struct committer *, int timeout_ms);
/* Batches handed over and not yet answered. */
size_t committer_inflight(const struct committer *);
/* Stop after the queued batches are done; joins the thread. */
void committer_stop(struct committer *);
void commit_batch_free(struct commit_batch *);
/* Transactions committed and aborted so far. */
void committer_stats(const struct committer *, uint64_t *committed, uint64_t *aborted);

/* ---- runner.c, runner-local.c: where the game runs ---- */

struct runner_req {
	const char *task_id;
	int attempt;
	const char *game;
	const char *dir;	/* task folder: input/ and output/ */
	const char *entry;	/* relative to input/ */
	const char *params;	/* JSON object text */
	long timeout_s;
	int gpu;		/* GPUs asked for (0: the runner's default) */
	int32_t partition;	/* where the task came from (pod annotations) */
	int64_t offset;
};
enum runner_end { RUNNER_EXITED, RUNNER_TIMEOUT, RUNNER_CANCELLED, RUNNER_INFRA };
struct runner_outcome {
	enum runner_end end;
	int exit_code;		/* RUNNER_EXITED */
	int signal;		/* killed by a signal (EXITED with code 128+n) */
	const char *message;	/* RUNNER_INFRA: why */
};
struct runner_job;
typedef void runner_started_cb(struct runner_job *, void *arg);
typedef void runner_done_cb(struct runner_job *, const struct runner_outcome *, void *arg);
struct runner;
/* What each kind of runner provides; its runner and jobs embed the handles first. */
struct runner_ops {
	const char *name;
	struct runner_job *(*start)(struct runner *, const struct runner_req *,
	    runner_started_cb *, runner_done_cb *, void *arg);
	void (*cancel)(struct runner_job *);
	void (*abandon)(struct runner_job *);
	pid_t (*pid)(const struct runner_job *);
	size_t (*active)(const struct runner *);
	void (*free)(struct runner *);
	/*
	 * 1: the gateway guards attempts with launch claims (runner.journal_dir);
	 * 0: the runner's own names do (a pod per task attempt, adopted).
	 */
	int claims;
	/* The task's result is committed: attempts first..last may be cleaned up (or NULL). */
	void (*release)(struct runner *, const char *task_id, int first, int last);
};
struct runner {
	const struct runner_ops *ops;
};
struct runner_job {
	const struct runner_ops *ops;
};
struct runner *runner_local_new(struct event_base *, const struct config *, char **cause);
/* runner.type decides: local or k8s. */
struct runner *runner_new(struct event_base *, struct evcurl *, const struct config *,
    char **cause);
/*
 * Start a job; started_cb when running, done_cb once at the end. NULL
 * when it failed at once (done_cb has been called with RUNNER_INFRA).
 */
struct runner_job *runner_start(struct runner *, const struct runner_req *,
    runner_started_cb *, runner_done_cb *, void *arg);
/* Ask a job to stop: done_cb follows with RUNNER_CANCELLED. */
void runner_cancel(struct runner_job *);
/*
 * Forget a job without calling done_cb (revoke, exit): a local game is
 * killed; a pod is left for the next owner to adopt.
 */
void runner_abandon(struct runner_job *);
pid_t runner_job_pid(const struct runner_job *);
size_t runner_active(const struct runner *);
int runner_uses_claims(const struct runner *);
void runner_release(struct runner *, const char *task_id, int first, int last);
/* runner-k8s.c */
struct runner *runner_k8s_new(struct event_base *, struct evcurl *, const struct config *,
    char **cause);
/* The pod of a task attempt: <prefix>-<task>-<attempt>, DNS-1123 (caller frees). */
char *runner_k8s_pod_name(const char *prefix, const char *task_id, int attempt);
void runner_free(struct runner *);

/*
 * ---- storage.c, storage-s3.c: file://, http(s):// and s3:// (SigV4,
 * multipart) through libcurl multi. Callbacks run from the loop, never
 * before storage_get/storage_put has returned. ----
 */

enum storage_result { STORAGE_OK, STORAGE_PERMANENT, STORAGE_TRANSIENT };
struct storage;
struct storage_xfer;
typedef void storage_done_cb(struct storage_xfer *, enum storage_result,
    const char *error, void *arg);
struct storage *storage_new(struct event_base *, struct evcurl *, const struct config *,
    char **cause);
void storage_free(struct storage *);
/* Download url into path (streamed, size-capped, retried). */
struct storage_xfer *storage_get(struct storage *, const char *url, const char *path,
    storage_done_cb *, void *arg);
/* Upload path to url (streamed, retried). */
struct storage_xfer *storage_put(struct storage *, const char *path, const char *url,
    const char *content_type, storage_done_cb *, void *arg);
/* Stop a transfer; its callback is not called. */
void storage_cancel(struct storage_xfer *);
/* Is url acceptable as a source/destination (scheme, file root)? */
int storage_check_url(const struct storage *, const char *url, char **cause);
void storage_stats(const struct storage *, uint64_t *bytes_in, uint64_t *bytes_out,
    uint64_t *retries);

/* ---- task.c: the task state machine and the gateway's state ---- */

enum task_state {
	TASK_RECEIVED,
	TASK_FETCHING,
	TASK_LAUNCHING,
	TASK_RUNNING,
	TASK_COLLECTING,
	TASK_UPLOADING,
	TASK_REPORTING,
	TASK_DONE,	/* reported, succeeded */
	TASK_FAILED,	/* reported, any other status */
	TASK_NSTATES
};
const char *task_state_name(enum task_state);
int task_state_parse(const char *, enum task_state *);

#define TASK_MAX_ARTIFACTS 4
#define STEP_BUCKETS 12
/* Upper bounds (seconds) of the step-duration histogram buckets. */
extern const double step_bucket_le[STEP_BUCKETS];

struct task {
	TAILQ_ENTRY(task) entry;
	struct task_spec *spec;
	int32_t partition;
	int64_t offset;
	enum task_state state;
	int64_t ts[TASK_NSTATES];	/* wall ms when each state was entered */
	int waiting;			/* received, held back by max_inflight */

	enum result_status status;
	enum error_class eclass;
	char *error;
	int has_outcome;

	char *dir;			/* <state>/tasks/<task_id> */
	char *result_prefix;		/* ends with '/' */
	struct runner_job *job;
	struct storage_xfer *xfer;
	int fetch_step;			/* 0 program, 1 model */
	struct artifact arts[TASK_MAX_ARTIFACTS];
	size_t narts;
	size_t next_art;
	cJSON *game_result;
	int cancel_requested;
	long timeout_s;			/* effective: capped, defaulted */
	int64_t started_ms, finished_ms, reported_ms;
	int first_attempt;		/* as the message had it */
	int claimed;			/* holds a launch claim for spec->attempt */
	int requeued_as;		/* the attempt a requeue of this one sent, or 0 */
};
TAILQ_HEAD(task_list, task);

struct intake;
struct control;

struct gw {
	struct event_base *base;
	struct config *conf;
	char *state_dir;
	char *journal_dir;	/* launch claims */
	char *instance;
	char *group_id;
	char *bootstrap;
	const char *tasks_topic;
	const char *results_topic;
	const char *dlq_topic;
	int embedded;
	int64_t start_ms;

	struct evcurl *evcurl;
	struct storage *storage;
	struct runner *runner;
	struct committer *committer;
	struct ledger *ledger;
	struct intake *intake;
	struct control *control;
	struct health *health;
	struct metrics *metrics;

	struct task_list active;	/* received, not yet reported */
	struct task_list history;	/* reported, oldest first */
	size_t nactive;
	size_t nwaiting;
	size_t nreporting;		/* waiting for their transaction */
	size_t nhistory;
	size_t max_inflight;
	size_t prefetch;		/* received tasks held ready beyond max_inflight */
	size_t max_history;

	uint64_t totals[RESULT_ERROR + 1];
	uint64_t dlq_total;
	uint64_t skipped_done;		/* done in an earlier life */
	/* Time spent in each state by the tasks that left it (histogram). */
	struct step_hist {
		uint64_t le[STEP_BUCKETS];	/* cumulative by bucket */
		uint64_t count;
		double sum_s;
	} steps[TASK_NSTATES];

	int draining;
	int revoking;		/* inside a revoke: start no new game */
	int stopped;		/* loop exit requested */
	int exit_code;
	int64_t drain_deadline_ms;
	/* Called for each task when its result is committed (demo). */
	void (*on_reported)(struct task *);
};
extern struct gw *gw;

/* A message from the tasks topic (intake.c calls this). */
void task_receive(int32_t partition, int64_t offset, const void *buf, size_t len);
/* Partitions revoked: abandon their tasks (the new owner runs them). */
void task_revoke_partition(int32_t partition);
/* Start waiting tasks at the loop's next turn. */
void task_kick(void);
int task_cancel(const char *id, char **cause);
int task_requeue(const char *id, int *attempt, char **cause);
struct task *task_find(const char *id);
cJSON *task_to_json(const struct task *);
cJSON *task_status_json(void);
/* Flush records waiting for a transaction now. */
void task_flush(void);
/* Start draining: stop intake, let in-flight finish, exit when done. */
void task_drain(int exit_code);
void task_init(void);
void task_shutdown(void);
/* The committer answered a batch. */
void task_batch_done(uint64_t batch_id, int ok, const char *error, void *arg);

/* ---- intake.c: the consumer on the tasks topic ---- */

struct intake *intake_start(char **cause);
/* Pause or resume every assigned partition (max_inflight, drain). */
void intake_set_paused(struct intake *, int paused);
/* Pause one partition whose commit metadata is near the cap. */
void intake_update_pauses(struct intake *);
int intake_paused(const struct intake *, int32_t partition);
/* The consumer group metadata for send_offsets (caller frees). */
void *intake_group_metadata(struct intake *);
/* Log end (high watermark) of a partition from the fetcher's cache, or -1. */
int64_t intake_high(struct intake *, int32_t partition);
void intake_stop(struct intake *);

/* Position (next offset the application gets) of a partition, or -1. */
int64_t intake_position(struct intake *, int32_t partition);

/* ---- health.c: consumer health and lag (Cloudflare's check, Burrow's rules) ---- */

enum health_status { HEALTH_OK, HEALTH_WARN, HEALTH_STALL, HEALTH_STOP, HEALTH_REWIND };
struct health_view {
	int32_t partition;
	int64_t committed;	/* acknowledged by a transaction; -1 none */
	int64_t end;		/* last stable offset; -1 unknown */
	int64_t lag;		/* -1 unknown */
	int64_t lag_ms;
	enum health_status status;
	int healthy;
	int bad;		/* consecutive bad checks */
	const char *why;	/* the last bad check, or NULL */
	const char *query_error; /* why the log end is unknown, or NULL */
};
struct health_sample {
	int64_t t_ms;
	int64_t committed;
	int64_t lag;
};
/*
 * Burrow's rules over a window of checks, oldest first: commit_ms is
 * when a transaction last carried the partition. Needs window samples
 * to call WARN, STALL or STOP.
 */
enum health_status health_evaluate(const struct health_sample *, size_t n, size_t window,
    int64_t now, int64_t commit_ms);
struct health;
struct health *health_start(struct event_base *, const struct config *, char **cause);
void health_stop(struct health *);
const char *health_status_name(enum health_status);
/* Rebalance: a partition's state starts afresh / is dropped. */
void health_assigned(struct health *, int32_t partition, int64_t committed);
void health_revoked(struct health *, int32_t partition);
/* A transaction was acknowledged with this partition's offset and records. */
void health_committed(struct health *, int32_t partition, int64_t offset, uint64_t records);
/* Start a check round now (its answer comes through the loop). */
void health_poke(struct health *);
/* Partitions sorted by number (caller frees the array; strings borrowed). */
size_t health_partitions(struct health *, struct health_view **);
/* 1 when every partition is healthy; else 0 and *why (allocated) says which. */
int health_ok(struct health *, char **why);
cJSON *health_json(struct health *);

/* ---- metrics.c: /healthz and /metrics (Prometheus text) over evhttp ---- */

struct metrics;
struct metrics *metrics_start(struct event_base *, const char *listen, char **cause);
/* health.listen HOST:PORT ([v6]:PORT) split: 0 with *host (caller frees), or -1 with *cause. */
int metrics_listen_parse(const char *listen, char **host, int *port, char **cause);
void metrics_stop(struct metrics *);
/* The Prometheus exposition, as served on /metrics (caller frees). */
char *metrics_text(void);

/* ---- control.c: the control socket ---- */

enum control_cmd {
	CONTROL_STATUS, CONTROL_TASKS, CONTROL_TASK, CONTROL_REQUEUE, CONTROL_CANCEL,
	CONTROL_LAG, CONTROL_SUBSCRIBE,
};
struct control_request {
	enum control_cmd cmd;
	char *id;	/* task, requeue, cancel: 1..TASK_ID_MAX bytes */
	char *state;	/* tasks: a state name, "active", or NULL for all */
	int check;	/* lag: start a health check round */
};
/*
 * Parse one request line (docs/control.md): strict JSON, one object, a
 * known cmd, only its fields, each of its type, no control characters
 * in strings. 0, or -1 with *cause the error to answer. Pure: no I/O.
 */
int control_request_parse(const char *line, size_t len, struct control_request *,
    char **cause);
void control_request_clear(struct control_request *);
/*
 * Listen on path. An existing socket there is replaced only when no
 * one answers on it (a stale one); anything else there is an error.
 */
struct control *control_start(const char *path, char **cause);
/* Tell subscribers about a task's change. */
void control_notify_task(struct control *, const struct task *);
void control_stop(struct control *);

/* ---- embedded.c: mock cluster and demo ---- */

/* Start the mock cluster, set kafka.* and storage defaults; 0 or -1. */
int embedded_start(char **cause);
int embedded_write_info(const char *control_path, char **cause);
void embedded_stop(void);
/* Submit n demo tasks; print the summary and drain when all reported. */
int demo_start(int n, char **cause);
/* Locate a bundled file: next to the binary (build tree), else installed. */
char *embedded_find(const char *name, const char *installed_dir);

#endif
