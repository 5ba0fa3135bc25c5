/*
 * gateway.h: what the parts of paia-gateway share: the task model and
 * its state machine, the message contracts (task v1, result v1, DLQ),
 * the ledger of offsets, the committer thread, the runner and storage
 * interfaces, the control socket. One libevent loop in the main thread
 * owns all of it; two workers (common/worker.c) block where librdkafka
 * does: the committer's transactions and health's ListOffsets; they talk
 * to the loop through a queue and an eventfd only. The VPN supervisor
 * (vpn/vpn.h) runs in the loop too, through tunnel.c.
 */
#ifndef PAIA_GATEWAY_H
#define PAIA_GATEWAY_H

#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#include "common.h"
#include "proto.h"

struct event_base;
struct rd_kafka_s;
struct vpn_options;
struct vpn_view;

/* The contracts (task v1, result v1, DLQ, control, names) are proto/proto.h. */

struct intake_assignment;
struct control_ops;

struct artifact {
	char *name;		/* log.txt, result.json, video.mp4 */
	char *path;		/* local file (for display: it is read from fd) */
	char *url;		/* where it was uploaded */
	const char *content_type;
	char sha256[65];
	off_t bytes;
	int fd;			/* checked and opened by collect; -1 once handed over */
	int capped;		/* log.txt: head and tail only */
	int uploaded;
	off_t max;		/* its cap, when opened again after a wait */
	const char *max_key;
};
/* An artifact the gateway would not read, and why (result: artifacts_refused). */
struct artifact_refusal {
	char *name;
	char *reason;
};


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
	int32_t partition;	/* the tasks-topic partition it completes; -1: none (requeue) */
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
	uint64_t epoch;		/* the gateway's ownership epoch when it was built */
	struct commit_record *records;
	size_t nrecords;
	char *offsets_topic;
	struct commit_offset *offsets;
	size_t noffsets;
	void *group_metadata;	/* rd_kafka_consumer_group_metadata_t */
	int ok;			/* the answer: committed, or the fatal error */
	int dropped;		/* its partitions' records and offsets were dropped, not committed */
	char *error;
};
struct committer;
/* A batch came back: committed (ok) or not (fatal error string). */
/*
 * A batch came back: committed (ok), or not (the fatal error string).
 * dropped: ok, but what it carried for the tasks topic's partitions was
 * dropped, not committed, because the gateway gave those partitions up
 * (a revoke) after the batch was built: their new owner runs them.
 */
typedef void committer_done_cb(uint64_t batch_id, int ok, int dropped, const char *error,
    void *arg);
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
 * The gateway gave its partitions up (a revoke): batches built before
 * this epoch must not commit what they carry for those partitions, even
 * under the group's next generation (the broker would take offsets of a
 * partition another member now runs). @locality loop
 */
void committer_set_epoch(struct committer *, uint64_t epoch);
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
/* 1 once init_transactions succeeded and no fatal error came since. @locality any */
int committer_ready(const struct committer *);
/* How long the committer's thread has been inside a run without a step; 0 while idle. */
int64_t committer_stalled_ms(const struct committer *);
/* Transactions committed and aborted so far. */
void committer_stats(const struct committer *, uint64_t *committed, uint64_t *aborted);
/* Records the broker acknowledged (delivery reports), committed or not. */
uint64_t committer_acked(const struct committer *);

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
/*
 * RUNNER_INFRA: the game could not run for a reason of ours (retried as
 * the next attempt); RUNNER_INVALID: it cannot run as the task asks,
 * whatever the attempt (E2BIG: the task's values do not fit a process's
 * environment), so the task ends at once with error class invalid.
 */
enum runner_end { RUNNER_EXITED, RUNNER_TIMEOUT, RUNNER_CANCELLED, RUNNER_INFRA, RUNNER_INVALID };
struct runner_outcome {
	enum runner_end end;
	int exit_code;		/* RUNNER_EXITED */
	int signal;		/* killed by a signal (EXITED with code 128+n) */
	const char *message;	/* RUNNER_INFRA, RUNNER_INVALID: why */
};
/* What a runner counts, for /metrics (a runner without pods leaves pods 0). */
struct runner_stats {
	int pods;			/* 1: it runs pods (the rest means something) */
	uint64_t pending;		/* pods created, not yet running */
	uint64_t unschedulable;		/* of them, the scheduler cannot place */
	uint64_t running;
	uint64_t created;		/* pods created since start */
	uint64_t adopted;		/* pods found there already and followed */
	uint64_t api_requests;		/* Kubernetes API requests sent (retries included) */
	uint64_t api_retries;
	uint64_t api_errors;		/* requests that failed for good, lists/watches retried */
	uint64_t watch_restarts;	/* watches started again (timeouts, errors) */
	uint64_t relists;		/* lists after the first (410 Gone, errors) */
};
/* A pod of the runner's, as runner_pod_by_uid finds it (strings borrowed). */
struct runner_pod_ref {
	const char *namespace;
	const char *pod;
	const char *container;	/* its only container's name, or NULL */
	const char *task_id;	/* the task the pod runs */
	int attempt;
};
struct runner_job;
typedef void runner_started_cb(struct runner_job *, void *arg);
typedef void runner_done_cb(struct runner_job *, const struct runner_outcome *, void *arg);
struct runner;
/*
 * The live log of a game a runner streams itself (k8s: the pod's log).
 * chunk returns 0 when it took the data, 1 to pause (the same data comes
 * again after runner_log_resume); end runs once, when the stream ends
 * (error NULL: the game's output ended), and the handle is gone after.
 */
struct runner_log;
struct runner_log_cbs {
	int (*chunk)(const char *data, size_t len, void *arg);
	void (*end)(const char *error, void *arg);
};
/* A pod changed (deleted: gone); the view's strings live during the call. */
typedef void runner_pod_cb(const struct proto_pod_view *, void *arg);
/*
 * The pods were listed afresh (count of them), their changes not told
 * one by one: whoever shows them asks the runner's pods again.
 */
typedef void runner_pods_cb(size_t count, void *arg);
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
	/*
	 * The game pods (NULL: a runner without pods): an allocated array
	 * (caller frees), strings borrowed until the loop runs again.
	 */
	size_t (*pods)(struct runner *, struct proto_pod_view **, const char **ns, int *synced);
	/* The live log of the attempt's game, or NULL: none (read output/log.txt). */
	struct runner_log *(*log_open)(struct runner *, const char *task_id, int attempt,
	    const struct runner_log_cbs *, void *arg);
	void (*log_resume)(struct runner_log *);
	/* Stop a stream without its end callback. */
	void (*log_close)(struct runner_log *);
	/* The runner's pod of that UID (GPU processes name theirs), or NULL: runs no pods. */
	int (*pod_by_uid)(struct runner *, const char *uid, struct runner_pod_ref *);
	/* Its counts for /metrics (or NULL: nothing to count). */
	void (*stats)(struct runner *, struct runner_stats *);
};
struct runner {
	const struct runner_ops *ops;
	runner_pod_cb *pod_cb;		/* runner_watch_pods */
	runner_pods_cb *pods_cb;
	void *pod_arg;
};
struct runner_job {
	const struct runner_ops *ops;
};
struct runner *runner_local_new(struct event_base *, const struct config *, char **cause);
/* The runner cannot go on (the API server refuses its Role): stop the gateway. */
typedef void runner_fatal_cb(const char *why, void *arg);
/* runner.type decides: local or k8s. */
struct runner *runner_new(struct event_base *, struct evcurl *, const struct config *,
    runner_fatal_cb *, void *arg, char **cause);
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
/*
 * Tell cb about every change of a game pod (k8s; the local runner has
 * none), but a list's: listed says a (re)list replaced them all.
 */
void runner_watch_pods(struct runner *, runner_pod_cb *cb, runner_pods_cb *listed, void *arg);
/* The pods answer's fields: the runner's name, its pods (none for the local runner). */
void runner_pods(struct runner *, struct proto_pods *, struct proto_pod_view **tofree);
struct runner_log *runner_log_open(struct runner *, const char *task_id, int attempt,
    const struct runner_log_cbs *, void *arg);
void runner_log_resume(struct runner *, struct runner_log *);
void runner_log_close(struct runner *, struct runner_log *);
/*
 * The runner's pod whose metadata.uid is uid: 0 with *ref filled (its
 * strings valid until the loop runs again), or -1 when it has none.
 */
int runner_pod_by_uid(struct runner *, const char *uid, struct runner_pod_ref *ref);
/* The runner's counts (zero for a runner that counts nothing). */
void runner_stats(struct runner *, struct runner_stats *);
/* runner-k8s.c */
struct runner *runner_k8s_new(struct event_base *, struct evcurl *, const struct config *,
    runner_fatal_cb *, void *arg, char **cause);
/* The pod of a task attempt: <prefix>-<task>-<attempt>, DNS-1123 (caller frees). */
char *runner_k8s_pod_name(const char *prefix, const char *task_id, int attempt);
void runner_free(struct runner *);

/*
 * ---- storage.c, storage-file.c, storage-s3.c: file://, http(s):// and
 * s3:// (SigV4, multipart), the network ones through libcurl multi.
 * Callbacks run from the loop, never before storage_get/storage_put has
 * returned. ----
 */

enum storage_result {
	STORAGE_OK,
	STORAGE_PERMANENT,	/* retrying cannot help: the URL, the object, its size */
	STORAGE_TRANSIENT,	/* retried; still failing after storage.retries */
	STORAGE_LOCAL,		/* this host: a full disk, an I/O error; not retried */
	STORAGE_TIMEOUT,	/* the transfer's deadline passed; not retried */
	STORAGE_NRESULTS
};
struct storage;
struct storage_xfer;
typedef void storage_done_cb(struct storage_xfer *, enum storage_result,
    const char *error, void *arg);
struct storage *storage_new(struct event_base *, struct evcurl *, const struct config *,
    char **cause);
void storage_free(struct storage *);
/*
 * Download url into fd (a new, empty file opened for writing: the
 * transfer owns it from now on and closes it). Streamed, capped at
 * storage.max_download_bytes, retried; each retry starts the file
 * afresh. deadline_ms (monotonic, util_mono_ms; 0: none) bounds the
 * whole transfer, retries included. The caller removes the file when the
 * outcome is not STORAGE_OK.
 */
struct storage_xfer *storage_get(struct storage *, const char *url, int fd, int64_t deadline_ms,
    storage_done_cb *, void *arg);
/*
 * Upload the first size bytes of fd (a regular file opened for reading,
 * checked by the caller: the transfer owns it from now on and closes it)
 * to url. Streamed from fd, never from a path; retried.
 */
struct storage_xfer *storage_put(struct storage *, int fd, off_t size, const char *url,
    const char *content_type, storage_done_cb *, void *arg);
/*
 * In an upload's callback with STORAGE_OK: the hex sha256 of the bytes
 * that were sent (computed while sending them).
 */
const char *storage_xfer_sha256(const struct storage_xfer *);
/* Stop a transfer; its callback is not called. */
void storage_cancel(struct storage_xfer *);
/*
 * A file:// URL's file below storage.file_root, opened for reading (a
 * regular file, no link out of the root followed); -1 with *cause, also
 * for any other scheme (nothing is downloaded).
 */
int storage_open_local(struct storage *, const char *url, char **cause);
/* Is url acceptable as a source/destination (scheme, file root)? */
int storage_check_url(const struct storage *, const char *url, char **cause);
void storage_stats(const struct storage *, uint64_t *bytes_in, uint64_t *bytes_out,
    uint64_t *retries);
/* Transfers that ended with r (not STORAGE_OK), downloads or uploads. */
uint64_t storage_failures(const struct storage *, int upload, enum storage_result r);
/* "permanent", "transient", "local", "timeout" (and "ok"). */
const char *storage_result_name(enum storage_result);

/* ---- taskdir.c: the gateway's hands in a task folder (see its opening comment) ---- */

/* The task folder dir (a path of the gateway's own) as a directory descriptor; -1, *cause. */
int taskdir_open(const char *dir, char **cause);
/*
 * A directory rel below the task folder, links not followed; -1 with
 * *why (allocated) saying why it is refused, or *why NULL when absent.
 */
int taskdir_open_sub(int taskfd, const char *rel, char **why);
/*
 * Open the entry name of dirfd for reading as an artifact: a plain name,
 * a regular file (a FIFO or device is never opened), one link, at most
 * max bytes (max_key names the setting in the reason). The descriptor
 * with *size; else -1 with *why (allocated) the reason it is refused,
 * or *why NULL when there is no such entry.
 */
int taskdir_artifact_open(int dirfd, const char *name, off_t max, const char *max_key,
    off_t *size, char **why);
/* A refusal reason for an errno met opening something (allocated). */
char *taskdir_reason(int err);
/* "a FIFO", "a symbolic link", "a directory"...: what a mode is. */
const char *taskdir_type_name(mode_t mode);
/* A plain file name: [A-Za-z0-9._-], not starting with '.', 1 to 128 bytes. */
int taskdir_name_ok(const char *name);
/*
 * A log of size bytes (fd) over max: a new descriptor, an unnamed file
 * in tmpdir (else memory), holding its head, a line saying how many
 * bytes were cut, and its tail, max bytes at most, with *newsize. -1
 * when size <= max (upload it as it is), or -1 with *cause.
 */
int taskdir_log_cap(int fd, off_t size, off_t max, const char *tmpdir, off_t *newsize,
    char **cause);
/*
 * Make directory name in dirfd (or keep the one there) with mode, owned
 * by uid:gid (-1: unchanged), never through a link; 0 or -1 with *cause.
 */
int taskdir_mkdir(int dirfd, const char *name, mode_t mode, uid_t uid, gid_t gid, char **cause);
/* Create the new file rel below the task folder (O_EXCL, no link followed, mode exact); -1. */
int taskdir_create(int taskfd, const char *rel, mode_t mode, char **cause);

/* ---- task.c: the task state machine and the gateway's state ---- */


#define TASK_MAX_ARTIFACTS 4
#define TASK_MAX_REFUSED 8
/* result.json is read into memory: its cap (and its artifact's). */
#define TASK_RESULT_JSON_MAX (1024 * 1024)
#define STEP_BUCKETS 12
/* Upper bounds (seconds) of the step-duration histogram buckets. */
extern const double step_bucket_le[STEP_BUCKETS];

struct gw;
struct task {
	TAILQ_ENTRY(task) entry;
	struct gw *gw;			/* the gateway it belongs to */
	struct proto_task *spec;
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
	struct artifact_refusal refused[TASK_MAX_REFUSED];
	size_t nrefused;
	int64_t fetch_deadline_ms;	/* monotonic: downloads end by then */
	char *fetch_name;		/* the file being downloaded into input/ */
	uint64_t disk_bytes;		/* finished: what its folder holds, or FOLDERS_UNMEASURED */
	int dir_gone;			/* finished: its folder was removed (disk budget) */
	size_t next_art;
	cJSON *game_result;
	int cancel_requested;
	long timeout_s;			/* effective: capped, defaulted */
	int64_t started_ms, finished_ms, reported_ms;
	int first_attempt;		/* as the message had it */
	int claimed;			/* holds a launch claim for spec->attempt */
	uint64_t epoch;			/* the gateway's epoch when its result went to the committer */
	/* Delivered again (a rebalance gave the partition back) while reporting. */
	struct task_redelivery {
		int32_t partition;
		int64_t offset;
		void *buf;
		size_t len;
	} *redelivery;
	struct task_gpu *gpus;		/* the GPUs its attempt was seen on (gpus.c) */
	size_t ngpus;
	int gpus_attempt;		/* the attempt they are of */
	int requeued_as;		/* the attempt a requeue of this one sent, or 0 */
	/* Uploads that wait for storage (uploads.c). */
	int64_t upload_deadline_ms;	/* wall: they give up then */
	int64_t upload_wait_ms;		/* wall: first entered upload_wait (0: never) */
	char *upload_error;		/* why they wait */
	int upload_resumed;		/* uploading again after a wait */
	const char *recovered;		/* static: outputs recovered after a restart */
	int kept;			/* outputs not uploaded: dir is under kept/ */
};
TAILQ_HEAD(task_list, task);

struct intake;
struct control;
struct uploads;
struct tunnel;

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
	int64_t loop_beat_ms;		/* monotonic: the loop's tick last ran (main.c) */

	struct evcurl *evcurl;
	struct storage *storage;
	struct runner *runner;
	struct committer *committer;
	struct ledger *ledger;
	struct intake *intake;
	struct control *control;
	struct health *health;
	struct metrics *metrics;
	struct outbox *outbox;		/* records waiting for a transaction */
	struct frames *frames;		/* ffmpeg jobs of the frame command */
	struct folders *folders;	/* the task folders on disk */
	struct gpus *gpus;		/* GPU telemetry ([gpu]); NULL: off */
	struct uploads *uploads;	/* uploads waiting for storage */
	struct tunnel *tunnel;		/* the VPN supervisor, or NULL */
	struct event *kick_event;	/* start waiting tasks, from the loop */
	struct event *drain_timer;

	struct task_list active;	/* received, not yet reported */
	struct task_list history;	/* reported, oldest first */
	size_t nactive;
	size_t nwaiting;
	size_t nreporting;		/* waiting for their transaction */
	size_t nupwait;			/* upload_wait: outputs waiting for storage */
	int upwait_full;		/* max_upwait reached (logged once) */
	size_t nhistory;
	/*
	 * Tasks in memory (active or history) per bucket of a hash of their
	 * task id, which names their folder: a bucket of 1 means no other
	 * attempt shares the folder (task_dir_shared without a walk). Made
	 * at the first task, ~8 buckets a task the gateway may hold.
	 */
	uint32_t *dir_refs;
	size_t ndir_refs;
	size_t max_inflight;
	size_t prefetch;		/* received tasks held ready beyond max_inflight */
	size_t max_history;
	size_t max_upwait;		/* storage.max_waiting_uploads */

	uint64_t totals[RESULT_NSTATUSES];
	uint64_t dlq_total;
	uint64_t dlq_reasons[DLQ_NREASONS];
	uint64_t error_classes[ERROR_INVALID + 1];	/* results with an error, by class */
	uint64_t skipped_done;		/* done in an earlier life */
	uint64_t recovered_total;	/* finished games' outputs uploaded after a restart */
	uint64_t kept_total;		/* outputs kept on disk, not uploaded */
	/* Time spent in each state by the tasks that left it (histogram). */
	struct step_hist {
		uint64_t le[STEP_BUCKETS];	/* cumulative by bucket */
		uint64_t count;
		double sum_s;
	} steps[TASK_NSTATES];

	int draining;
	int revoking;		/* inside a revoke: start no new game */
	uint64_t epoch;		/* ownership epoch: one more at every revoke */
	int stopped;		/* loop exit requested */
	int exit_code;
	int64_t drain_deadline_ms;
	/* Called for each task when its result is committed (demo). */
	void (*on_reported)(struct task *);
};

/*
 * How task folders are made: <state_dir>/tasks/<task> (folder_mode, the
 * gateway's), its input/ (input_mode, the gateway's: downloads) and
 * output/ (output_mode, owned by output_uid:output_gid, -1: the
 * gateway's). A runner that runs games as another user sets these
 * before the first task. @locality loop
 */
/*
 * The gateway's state lives in one struct gw, made by main.c and handed
 * to every function that needs it (no global). @locality loop, all of
 * it.
 */
int task_init(struct gw *, char **cause);
void task_shutdown(struct gw *);
/* intake's callbacks (arg: the struct gw): the rebalance_cb pattern. */
void task_on_message(int32_t partition, int64_t offset, const void *buf, size_t len,
    void *arg);
void task_on_assigned(const struct intake_assignment *, size_t n, void *arg);
void task_on_settled(void *arg);
void task_on_revoked(const int32_t *partitions, size_t n, void *arg);
void task_on_fatal(const char *reason, void *arg);
/* health's question (health_position_cb; arg: the struct gw). */
int64_t task_position(int32_t partition, int64_t committed, void *arg);
/* Stop now: log msg with the error, drain with exit code 1, leave the loop. */
void task_fatal(struct gw *, const char *msg, const char *error);
/* Start waiting tasks at the loop's next turn. */
void task_kick(struct gw *);
int task_cancel(struct gw *, const char *id, char **cause);
/*
 * Produce a finished task's message again as its next attempt. want > 0:
 * only if want is its latest attempt. Once per attempt: one requeued
 * already answers 0 with *already set and the attempt that was sent.
 */
int task_requeue(struct gw *, const char *id, int want, int *attempt, int *already,
    char **cause);
struct task *task_find(struct gw *, const char *id);
/* Tasks running a game or about to (not waiting, not reporting). */
size_t task_running_count(const struct gw *);
/* Holding as many tasks as max_inflight and prefetch allow. */
int task_intake_full(const struct gw *);
/* Pause intake while full or draining, resume when there is room; cap partitions. */
void task_update_intake(struct gw *);
/* Another task (a requeue, a resubmission) uses old's folder. */
int task_dir_shared(const struct task *old);
/* The error a result or TASK reports: *has once the task has an outcome with an error. */
void task_error_view(const struct task *, int *has, enum error_class *, const char **msg);
/* Start draining: stop intake, let in-flight finish, exit when done. */
void task_drain(struct gw *, int exit_code);
/* outbox.c: a task's result committed / every batch answered so far handled. */
void task_reported(struct task *);
/* outbox.c: a task's result was dropped with its given-up partition. */
void task_dropped(struct task *);
void task_committed(struct gw *);
/* uploads.c: a waiting task tries its uploads again / gives up (deadline passed). */
void task_upload_resume(struct task *);
void task_upload_give_up(struct task *);

/* ---- outbox.c: records waiting for a transaction ---- */

struct outbox *outbox_new(struct gw *);
void outbox_free(struct outbox *);
/* Queue a record (value is taken over) completing partition/offset (-1: none) and t (or NULL). */
void outbox_queue(struct outbox *, enum commit_kind, const char *topic, const char *key,
    char *value, int32_t partition, int64_t offset, struct task *t);
/* Hand what is queued to the committer now. */
void outbox_flush(struct outbox *);
/* Nothing queued and no batch unanswered. */
int outbox_idle(const struct outbox *);
/* The committer's answer (committer_done_cb; arg: the outbox). */
void outbox_answered(uint64_t batch_id, int ok, int dropped, const char *error, void *arg);

/* ---- folders.c: the task folders on disk ---- */

/* Open <state_dir>/tasks, find an earlier run's folders, apply the disk budget. */
struct folders *folders_open(struct gw *, char **cause);
void folders_close(struct folders *);
/*
 * The task's folder made if it is not there: 1 made now (new and empty:
 * no earlier outcome to look for), 0 there already, -1 with *cause.
 */
int folders_make(struct folders *, const char *id, char **cause);
/*
 * A fresh, empty folder for the task: input/ and output/. made is what
 * folders_make said: a folder there already (0) is removed and made again.
 */
int folders_prepare(struct folders *, const char *id, const char *dir, int made, char **cause);
/*
 * The task's folder as a descriptor (taskdir.c's model): by its name
 * beneath the open tasks/ folder (one lookup, not the whole path), or by
 * its path once it moved under kept/. -1 with *cause.
 */
int folders_task_open(struct folders *, const struct task *, char **cause);
/* A new attempt: output/ emptied (and the last attempt's .outcome removed). */
int folders_reset_output(const char *dir, char **cause);
/* A task of this run owns the folder name (found at start: no longer a leftover). */
void folders_keep(struct folders *, const char *name);
/* A finished task's disk_bytes until folders_enforce needs them measured. */
#define FOLDERS_UNMEASURED UINT64_MAX
void folders_remove(struct folders *, const char *name, const char *why, uint64_t bytes);
/* Remove finished tasks' folders, oldest first, while over gateway.disk_budget_mb. */
void folders_enforce(struct folders *);

/* ---- claims.c: launch claims, never one attempt run twice ---- */

/*
 * Claim task_id's *attempt in the journal; an attempt found claimed (an
 * interrupted run) moves *attempt to the next one, up to first + max.
 * 0, or -1 with *cause.
 */
int claims_take(const char *journal, const char *instance, const char *task_id, int *attempt,
    int first, long long max, char **cause);
void claims_release(const char *journal, const char *task_id, int first, int last);
/* Is task_id's attempt claimed by instance? */
int claims_held(const char *journal, const char *instance, const char *task_id, int attempt);
/* Is task_id's attempt claimed by anyone (or unknown: 1)? */
int claims_exist(const char *journal, const char *task_id, int attempt);
/* The journal folder: runner.journal_dir, or <state_dir>/launched (allocated). */
char *claims_dir(const struct config *);
/* Add the process group of the attempt's game to its claim (none: nothing). */
void claims_note_pid(const char *journal, const char *task_id, int attempt, pid_t pgid);
/* Every process group recorded in the journal's claims, with its task id (at start). */
void claims_scan(const char *journal, void (*cb)(const char *task_id, int attempt, pid_t pgid,
    void *arg), void *arg);

/* ---- outcome.c: <task>/.outcome, how an attempt's game ended (recovery) ---- */

struct outcome_record {
	char *task_id;
	int attempt;
	char *instance;
	enum result_status status;
	enum error_class eclass;
	char *error;		/* NULL: none */
	int64_t started_ms, finished_ms;
};
/* The file's JSON text (caller frees). */
char *outcome_encode(const struct outcome_record *);
/* Decode strictly into o (outcome_clear it after); -1 with *cause. */
int outcome_decode(const char *buf, size_t len, struct outcome_record *, char **cause);
void outcome_clear(struct outcome_record *);
/* Write dir/.outcome durably (temporary name, fsync, rename, fsync); -1 with *cause. */
int outcome_write(const char *dir, const struct outcome_record *, char **cause);
/*
 * Read dir/.outcome: 0; -1 with *cause NULL when there is none, or with
 * *cause saying why it cannot be used.
 */
int outcome_read(const char *dir, struct outcome_record *, char **cause);
/* Remove it from the task folder taskfd (a new attempt begins). */
void outcome_remove(int taskfd);

/* ---- uploads.c: uploads that wait for storage to come back ---- */

struct uploads *uploads_new(struct gw *);
void uploads_free(struct uploads *);
/* "s3://bucket", "https://host:port", "file://": whose outage a URL shares (allocated). */
char *uploads_origin(const char *url);
/*
 * The task's destination is down and it is not its probe: it waits
 * without trying (*why: the destination's last failure, borrowed).
 */
int uploads_hold(const struct task *, const char **why);
/*
 * An upload of the task failed, and may pass: 1 when it waits now (the
 * caller parks it in upload_wait), 0 when its deadline has passed.
 */
int uploads_failed(struct task *, const char *msg);
/* The task's destination answered an upload (it went through, or was refused): it is up. */
void uploads_answered(struct task *);
/* The task leaves uploading or waiting (reported, freed). */
void uploads_forget(struct task *);
/* The tunnel is back: probe every destination that is down now. */
void uploads_kick(struct gw *);
/* When the task's destination is tried next (wall ms), 0 when not waiting. */
int64_t uploads_next_try(const struct task *);
/* Destinations down now. */
size_t uploads_down(const struct gw *);

/* ---- tunnel.c: the VPN supervisor in the daemon ([vpn], docs/vpn.md) ---- */

/*
 * [vpn] into o (its strings point into conf and *sock, which the caller
 * frees): 1 configured, 0 vpn.mode = off, -1 with *cause.
 */
int tunnel_options(const struct config *, const char *state_dir, struct vpn_options *o,
    char **sock, char **cause);
/* /healthz's verdict on the tunnel (pure): 1 healthy enough, else 0 with *why. */
struct tunnel_health {
	int healthy;
	int64_t down_since_ms;	/* wall */
	long long after_s;	/* vpn.unhealthy_after_s; 0: never unhealthy */
	const char *reason;	/* why it is down */
};
int tunnel_verdict(const struct tunnel_health *, int64_t now_ms, char **why);
/* Start the supervisor: NULL with *cause on bad options, NULL and *cause NULL when off. */
struct tunnel *tunnel_start(struct gw *, char **cause);
/* Stop it, running the loop until openvpn has ended (call after everything else). */
void tunnel_stop(struct tunnel *);
/* The VPN view (proto's, enabled false when off). */
cJSON *tunnel_json(struct gw *);
/* Fill STATUS's vpn fields. */
void tunnel_status(struct gw *, struct proto_status_view *);
/* vpn.pause_intake_when_down and the tunnel is not healthy. */
int tunnel_intake_paused(const struct gw *);
/* 1 unless the tunnel has been down longer than vpn.unhealthy_after_s (*why says so). */
int tunnel_healthz(struct gw *, char **why);
/* vpn/'s view for metrics (vpn_view_free it), NULL when off. */
struct vpn_view *tunnel_view(struct gw *);
/* Wall ms since which it has not been healthy; 0 when healthy or off. */
int64_t tunnel_down_since(const struct gw *);

/* ---- views.c: what the control socket shows, through proto/ ---- */

cJSON *views_task(const struct task *);
cJSON *views_status(struct gw *);
/* The task's uploaded video as a VIDEO, or NULL when it has none. */
cJSON *views_video(const struct task *);
/* A pod changed (runner_pod_cb; arg: the struct gw): a pod event. */
void views_pod_changed(const struct proto_pod_view *, void *arg);
/* The pods were listed afresh (runner_pods_cb): one pods event. */
void views_pods_listed(size_t count, void *arg);

/* ---- logs.c: a task's log, streamed to a control client ---- */

/*
 * Where the chunks go (the control connection). room says whether the
 * client can take more now; when it cannot, the stream waits for
 * logs_resume. chunk and end get proto/'s encoded events (taken over).
 * end runs once; the stream is freed after it returns.
 */
struct logs_sink {
	int (*room)(void *arg);
	void (*event)(enum proto_event_type, cJSON *payload, void *arg);
};
struct logs_stream;
/*
 * Start streaming task id's log: output/log.txt of its folder, read
 * through taskdir (no link followed, never a FIFO), or the pod's log
 * while it runs on Kubernetes. follow: until the game ends, else what
 * there is now. Adds the answer's fields to answer; NULL with *cause
 * when there is no such task or log. The first chunks go out from the
 * loop's next turn, never from in here.
 */
struct logs_stream *logs_open(struct gw *, const char *id, int follow, const struct logs_sink *,
    void *sink_arg, cJSON *answer, char **cause);
/* The client drained its output: go on. */
void logs_resume(struct logs_stream *);
/*
 * The client went, or stopped the stream: end it now, without an end
 * event; a pod's log request is cancelled (its connection closed).
 */
void logs_close(struct logs_stream *);

/*
 * runner-local.c, shared with frames.c: bwrap options that show the
 * host's system files (/usr, the loader's /etc files) and nothing else
 * of it; a NULL-terminated list of copies.
 */
char **runner_local_system_args(void);
void runner_local_strv_add(char ***, size_t *, const char *);
void runner_local_strv_free(char **);

/* ---- frames.c: stills of videos, made by ffmpeg ---- */

struct frames;
struct frames *frames_new(struct event_base *, const struct config *);
void frames_free(struct frames *);
struct frame_job;
/* The PNG (borrowed during the call) or an error. */
typedef void frames_done_cb(const unsigned char *png, size_t len, int width, int height,
    const char *error, void *arg);
/*
 * Run ffmpeg on the video fd (taken over) for the frame at `at`
 * seconds, scaled to at most control.frame_width pixels wide: a child
 * with a deadline and capped output, watched from the loop. NULL with
 * *cause when control.frame_jobs are busy or ffmpeg cannot start. done
 * runs once, later.
 */
struct frame_job *frames_start(struct frames *, int fd, double at, frames_done_cb *, void *arg,
    char **cause);
/* Stop a job: done runs now with error "cancelled", not later. */
void frames_cancel(struct frame_job *);
/* The LAG object of this gateway's partitions, into obj (NULL: a new object). */
cJSON *views_lag(struct gw *, cJSON *obj);
/* The control socket's operations over the gateway (arg: the struct gw). */
extern const struct control_ops views_control_ops;

/* ---- kafka.c: librdkafka's log lines through ours (any thread) ---- */

/* One of librdkafka's lines: its syslog level mapped, component= the handle, repeats limited. */
void kafka_log(const char *component, int syslog_level, const char *facility, const char *text);
/* Our level for a syslog level (0-3 error, 4 warn, 5-6 info, 7 debug). */
enum log_level kafka_log_level(int syslog_level);
/* The text a repeat is recognised by: librdkafka's counts and timings left out (caller frees). */
char *kafka_log_key(const char *text);

/* ---- intake.c: the consumer on the tasks topic ---- */

/* An assigned partition: where its group committed, and the metadata. */
struct intake_assignment {
	int32_t partition;
	int64_t committed;	/* -1: nothing committed */
	const char *metadata;	/* may be NULL */
	size_t metadata_len;
};
/*
 * What intake tells its caller, from the loop (inside a poll of the
 * consumer: a rebalance runs to completion before fetching goes on).
 */
struct intake_cbs {
	void (*message)(int32_t partition, int64_t offset, const void *buf, size_t len,
	    void *arg);
	/* Before fetching starts on them. */
	void (*assigned)(const struct intake_assignment *, size_t n, void *arg);
	/* After they were assigned and their pause state set (may be NULL). */
	void (*settled)(void *arg);
	/* Before they go: the last moment this instance's generation is valid. */
	void (*revoked)(const int32_t *partitions, size_t n, void *arg);
	/* The consumer cannot go on (fenced, ...): stop. */
	void (*fatal)(const char *reason, void *arg);
};
struct intake *intake_start(struct event_base *, const struct config *, const char *topic,
    const char *group, const struct intake_cbs *, void *arg, char **cause);
/*
 * No room (max_inflight, drain): take no more messages, or take them
 * again. Not a pause: what was fetched waits in librdkafka (intake.c).
 */
void intake_set_paused(struct intake *, int paused);
/* Hold one partition back (its commit metadata is near the cap), or let it go: 1 if that changed. */
int intake_set_capped(struct intake *, int32_t partition, int capped);
int intake_paused(const struct intake *, int32_t partition);
/* The assigned partitions into an allocated array; returns the count. */
size_t intake_assigned(const struct intake *, int32_t **out);
/* 1 once the group's current generation gave this member its partitions (maybe none). */
int intake_has_assignment(const struct intake *);
/* The consumer handle (rd_kafka_t *), for fresh group metadata. */
void *intake_handle(struct intake *);
/* The consumer group metadata for send_offsets (caller frees). */
void *intake_group_metadata(struct intake *);
/* Log end (high watermark) of a partition from the fetcher's cache, or -1. */
int64_t intake_high(struct intake *, int32_t partition);
/* Position (next offset the application gets) of a partition, or -1. */
int64_t intake_position(struct intake *, int32_t partition);
/* Leave the group (the revoked callback may run) and free. */
void intake_stop(struct intake *);

/* ---- health.c: consumer health and lag (Cloudflare's check, Burrow's rules) ---- */

struct health_view {
	int32_t partition;
	int64_t committed;	/* acknowledged by a transaction; -1 none */
	int64_t end;		/* last stable offset; -1 unknown */
	int64_t end_ms;		/* wall ms it was last read; 0: never */
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
/*
 * The position (next offset the consumer gets) of a partition when
 * everything delivered of it is committed up to committed, else -1:
 * then the offsets between the committed offset and it are transaction
 * markers.
 */
typedef int64_t health_position_cb(int32_t partition, int64_t committed, void *arg);
struct health *health_start(struct event_base *, const struct config *, health_position_cb *,
    void *arg, char **cause);
void health_stop(struct health *);
/* Rebalance: a partition's state starts afresh / is dropped. */
void health_assigned(struct health *, int32_t partition, int64_t committed);
void health_revoked(struct health *, int32_t partition);
/* A transaction was acknowledged with this partition's offset and records. */
void health_committed(struct health *, int32_t partition, int64_t offset, uint64_t records);
/* Start a check round now (its answer comes through the loop). */
void health_poke(struct health *);
/* Partitions sorted by number (caller frees the array; strings borrowed). */
size_t health_partitions(struct health *, struct health_view **);
/*
 * The last health.history lag measurements of a partition, oldest
 * first, into out (at most max); returns how many.
 */
size_t health_history(struct health *, int32_t partition, struct proto_lag_sample *out,
    size_t max);
/*
 * 1 when the broker answered a round lately (within 3 intervals and a
 * query timeout); else 0 and *why (allocated) says since when and why.
 */
int health_reachable(struct health *, char **why);
/* How long the lag thread has been inside a round without a step; 0 while idle. */
int64_t health_stalled_ms(struct health *);
/* 1 when every partition is healthy; else 0 and *why (allocated) says which. */
int health_ok(struct health *, char **why);

/* ---- probes.c: what /livez and /readyz say (see its opening comment) ---- */

struct probes_input {
	int64_t limit_ms;		/* health.live_stall_s */
	int64_t loop_idle_ms;		/* since the loop's tick last ran */
	int64_t committer_stall_ms;	/* worker runs without a step */
	int64_t health_stall_ms;
	int draining;
	int reachable;			/* the broker answered lately */
	char *unreachable_why;		/* else why (allocated) */
	int producer_ready;
	int assigned;			/* the consumer has its assignment */
};
/* 1 when live; else 0 and *why (allocated). Pure. */
int probes_live_judge(const struct probes_input *, char **why);
/* 1 when ready; else 0 and *why (allocated). Pure. */
int probes_ready_judge(const struct probes_input *, char **why);
/* Gather the inputs from the gateway (frees and replaces in->unreachable_why). */
void probes_input_fill(struct gw *, struct probes_input *);
int probes_live(struct gw *, char **why);
int probes_ready(struct gw *, char **why);

/* ---- metrics.c: /healthz and /metrics (Prometheus text) over evhttp ---- */

struct metrics;
struct metrics *metrics_start(struct gw *, const char *listen, char **cause);
/* health.listen HOST:PORT ([v6]:PORT) split: 0 with *host (caller frees), or -1 with *cause. */
int metrics_listen_parse(const char *listen, char **host, int *port, char **cause);
void metrics_stop(struct metrics *);
/* The Prometheus exposition, as served on /metrics (caller frees). */
char *metrics_text(struct gw *);

/* ---- prom.c: the Prometheus text format's pieces ---- */

/*
 * One label, name="value" with \\, \" and \n escaped as the text format
 * wants (a NULL value is empty), after a comma unless first.
 */
struct evbuffer;
void prom_label(struct evbuffer *, const char *name, const char *value, int first);

/* ---- control.c: the control socket ---- */

/*
 * What the control socket asks of the gateway (arg as given to
 * control_start). Each returns what proto/ encodes (views.c fills
 * them); a refusal is -1 or NULL with *cause, sent as the error.
 */
struct control_ops {
	cJSON *(*status)(void *arg);
	/* state: NULL for all, "active", or a state name (checked by proto). */
	cJSON *(*tasks)(const char *state, void *arg);
	cJSON *(*task)(const char *id, char **cause, void *arg);
	int (*cancel)(const char *id, char **cause, void *arg);
	/* want: the attempt to requeue (0: the latest); *already: it was requeued before. */
	int (*requeue)(const char *id, int want, int *attempt, int *already, char **cause,
	    void *arg);
	/* Add the LAG answer's fields to answer; check: start a check round. */
	void (*lag)(cJSON *answer, int check, void *arg);
	/* Add the pods answer's fields. */
	void (*pods)(cJSON *answer, void *arg);
	cJSON *(*videos)(void *arg);
	/* A log stream (logs.c); answer gets its fields. */
	struct logs_stream *(*logs)(const char *id, int follow, const struct logs_sink *,
	    void *sink_arg, cJSON *answer, char **cause, void *arg);
	/* Start making a frame: done answers later (frames.c). */
	struct frame_job *(*frame)(const char *id, double at, void (*done)(cJSON *answer,
	    const char *error, void *done_arg), void *done_arg, char **cause, void *arg);
	/* A piece of a task's video from offset (the video_data answer's object). */
	cJSON *(*video_data)(const char *id, int64_t offset, char **cause, void *arg);
	/* Add the gpus answer's fields to answer. */
	void (*gpus)(cJSON *answer, void *arg);
	/* The VPN view (enabled false when no tunnel is configured). */
	cJSON *(*vpn)(void *arg);
};
/*
 * Listen on path (control.group, control.max_clients from conf). An
 * existing socket there is replaced only when no one answers on it (a
 * stale one); anything else there is an error.
 */
struct control *control_start(struct event_base *, const struct config *, const char *path,
    const struct control_ops *, void *arg, char **cause);
/* Send an event to every subscriber (payload is taken over). */
void control_publish(struct control *, enum proto_event_type, cJSON *payload);
/* Anyone subscribed (so a caller can skip building an event). */
int control_has_subscribers(const struct control *);
void control_stop(struct control *);

/*
 * ---- gpus.c: GPU telemetry in the daemon: the [gpu] nodes (and the
 * Kubernetes nodes that advertise nvidia.com/gpu) probed by gpu/'s
 * prober on the loop, their processes tied to this gateway's pods and
 * tasks, "gpu" events, the gpus answer, dcgm-exporter's gauges, and
 * each task attempt's use of its GPUs for its result. @locality loop ----
 */

#define TASK_MAX_GPUS 16
/* A task attempt's use of one GPU, sampled each probe round that saw it. */
struct task_gpu {
	char *node;
	char *uuid;
	char *name;
	int index;
	double peak_mem_mib;	/* the most its processes held at once; -1: unknown */
	double round_mem_mib;	/* what they hold in the round being added up */
	double util_sum;	/* the card's utilisation, summed over util_n rounds */
	int64_t util_n;
	int64_t samples;
	int64_t first_ms, last_ms;
	uint64_t round;		/* the probe round last counted */
};
struct gpus;
/* A [gpu] nodes entry: [name=][user@]host[:port]. */
struct gpus_node_spec {
	char *name;
	char *user;		/* NULL: gpu.user */
	char *host;
	int port;
};
/* Parse one nodes entry; 0, or -1 with *cause naming it. Pure. */
int gpus_node_parse(const char *spec, struct gpus_node_spec *, char **cause);
void gpus_node_spec_clear(struct gpus_node_spec *);
/* Check the [gpu] section without starting anything (--check-config). */
int gpus_check_config(const struct config *, char **cause);
/*
 * Start probing the [gpu] nodes on gw's loop. NULL with *cause NULL
 * when none is configured (telemetry off), with *cause on a bad setting.
 */
struct gpus *gpus_start(struct gw *, char **cause);
void gpus_stop(struct gpus *);
/* The gpus answer's fields into answer: enabled, interval_ms, nodes (g may be NULL). */
void gpus_answer(struct gpus *, cJSON *answer);
/* dcgm-exporter's gauges and the probe's own series (nothing when g is NULL). */
void gpus_metrics(struct gpus *, struct evbuffer *);
/* A task's GPUs for its result and TASK view, into out[0..max); the count. */
size_t gpus_task_view(const struct task *, struct proto_task_gpu *out, size_t max);
/* Free a task's GPU records (the task is going). */
void gpus_task_clear(struct task *);

/* ---- embedded.c: mock cluster and demo ---- */

/* Start the mock cluster, set kafka.* and storage defaults; 0 or -1. */
int embedded_start(struct gw *, char **cause);
int embedded_write_info(struct gw *, const char *control_path, char **cause);
void embedded_stop(void);
/* Submit n demo tasks; print the summary and drain when all reported. */
int demo_start(struct gw *, int n, char **cause);
/* ---- bundle.c ---- */

/* Locate a bundled file: next to the binary (build tree), else installed. */
char *bundle_find(const char *name, const char *installed_dir);

#endif
