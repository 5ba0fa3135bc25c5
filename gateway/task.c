/*
 * task.c: the task state machine and the gateway's shared state.
 *
 *   received -> fetching -> launching -> running -> collecting
 *            -> uploading -> reporting -> done | failed
 *
 * A task enters "reporting" when its result record is queued for the
 * next transaction; it is done (or failed) only when that transaction,
 * which also carries the partition's offsets, has committed. Records
 * (results, dead letters, requeues) wait here at most batch_ms or until
 * batch_max of them are queued, then go to the committer as one batch.
 *
 * Everything here runs in the loop thread.
 */
#include "config.h"
#include "gateway.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

struct gw *gw;

const double step_bucket_le[STEP_BUCKETS] = {
	0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 600, 1800,
};

static const char *state_names[] = {
	"received", "fetching", "launching", "running", "collecting",
	"uploading", "reporting", "done", "failed",
};

/* A queued record and what it completes. */
struct pending_rec {
	struct commit_record rec;
	int32_t partition;	/* -1: no offset to mark done */
	int64_t offset;
	struct task *task;	/* result records */
};

/* A batch handed to the committer, awaiting its answer. */
struct awaiting {
	uint64_t id;
	struct task **tasks;
	size_t ntasks;
	size_t nrecords;
	struct awaiting_off {
		int32_t partition;
		int64_t offset;
		uint64_t records;	/* of this partition in the batch */
	} *offs;
	size_t noffs;
	TAILQ_ENTRY(awaiting) entry;
};
TAILQ_HEAD(awaiting_list, awaiting);

static struct pending_rec *pending;
static size_t npending, pending_cap;
static struct awaiting_list awaiting = TAILQ_HEAD_INITIALIZER(awaiting);
static struct event *flush_timer;
static struct event *kick_event;	/* start waiting tasks, from the loop */
static struct event *drain_timer;
static uint64_t next_batch_id = 1;

static void task_release_claims(struct task *);
static int task_retry_attempt(struct task *, const char *);
static void task_launch(struct task *);
static void task_collect(struct task *);

static void task_fetch_next(struct task *);
static void task_launch(struct task *);
static void task_upload_next(struct task *);
static void task_report(struct task *);
static void task_start_waiting(void);

const char *
task_state_name(enum task_state s)
{
	return (size_t)s < nitems(state_names) ? state_names[s] : "unknown";
}

int
task_state_parse(const char *s, enum task_state *out)
{
	size_t i;

	for (i = 0; i < nitems(state_names); i++) {
		if (strcmp(s, state_names[i]) == 0) {
			*out = (enum task_state)i;
			return 0;
		}
	}
	return -1;
}

static void
task_set_state(struct task *t, enum task_state s)
{
	int64_t now = util_now_ms();
	struct step_hist *h = &gw->steps[t->state];
	double d = (double)(now - t->ts[t->state]) / 1000.0;
	size_t i;

	/* How long the task spent in the state it leaves. */
	if (s != t->state && t->ts[t->state] > 0) {
		for (i = 0; i < STEP_BUCKETS; i++)
			if (d <= step_bucket_le[i])
				h->le[i]++;
		h->count++;
		h->sum_s += d;
	}
	t->state = s;
	t->ts[s] = now;
	log_debug("task state", "task=%s attempt=%d state=%s", t->spec->task_id,
	    t->spec->attempt, state_names[s]);
	if (gw->control != NULL)
		control_notify_task(gw->control, t);
}

static void
task_free(struct task *t)
{
	size_t i;

	if (t->job != NULL)
		runner_abandon(t->job);
	if (t->xfer != NULL)
		storage_cancel(t->xfer);
	for (i = 0; i < t->narts; i++) {
		free(t->arts[i].name);
		free(t->arts[i].path);
		free(t->arts[i].url);
	}
	cJSON_Delete(t->game_result);
	msg_task_free(t->spec);
	free(t->error);
	free(t->dir);
	free(t->result_prefix);
	free(t);
}

struct task *
task_find(const char *id)
{
	struct task *t;

	TAILQ_FOREACH(t, &gw->active, entry)
		if (strcmp(t->spec->task_id, id) == 0)
			return t;
	TAILQ_FOREACH_REVERSE(t, &gw->history, task_list, entry)
		if (strcmp(t->spec->task_id, id) == 0)
			return t;
	return NULL;
}

static struct task *
task_find_active(const char *id)
{
	struct task *t;

	TAILQ_FOREACH(t, &gw->active, entry)
		if (strcmp(t->spec->task_id, id) == 0)
			return t;
	return NULL;
}

static size_t
task_running_count(void)
{
	return gw->nactive - gw->nwaiting - gw->nreporting;
}

/*
 * Full when running tasks fill max_inflight and prefetched ones fill the
 * prefetch queue: a game can start from memory the moment a slot frees,
 * instead of after a pause, a resume and a fetch round trip (pausing a
 * partition drops what librdkafka had fetched). Tasks waiting only for
 * their transaction hold no game slot and do not count: a slow commit
 * must not stall the games (the ledger's metadata cap bounds them per
 * partition).
 */
static int
task_intake_full(void)
{
	return gw->nactive - gw->nreporting >= gw->max_inflight + gw->prefetch;
}

/* Pause intake while full or draining; resume when there is room. */
static void
task_update_intake(void)
{
	if (gw->intake == NULL)
		return;
	intake_set_paused(gw->intake, gw->draining || task_intake_full());
	intake_update_pauses(gw->intake);
}

/* ---- records waiting for a transaction ---- */

static void
task_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	task_flush();
}

static void
task_queue_record(enum commit_kind kind, const char *topic, const char *key, char *value,
    int32_t partition, int64_t offset, struct task *t)
{
	struct pending_rec *p;
	struct timeval tv;
	long long ms = config_get_int(gw->conf, "gateway", "batch_ms");

	if (npending == pending_cap) {
		pending_cap = pending_cap == 0 ? 64 : pending_cap * 2;
		pending = xreallocarray(pending, pending_cap, sizeof *pending);
	}
	p = &pending[npending++];
	p->rec.kind = kind;
	p->rec.topic = xstrdup(topic);
	p->rec.key = key != NULL ? xstrdup(key) : NULL;
	p->rec.value = value;
	p->rec.len = strlen(value);
	p->partition = partition;
	p->offset = offset;
	p->task = t;
	if ((long long)npending >= config_get_int(gw->conf, "gateway", "batch_max")) {
		task_flush();
		return;
	}
	if (!evtimer_pending(flush_timer, NULL)) {
		tv.tv_sec = ms / 1000;
		tv.tv_usec = (ms % 1000) * 1000;
		evtimer_add(flush_timer, &tv);
	}
}

void
task_flush(void)
{
	struct commit_batch *b;
	struct awaiting *a;
	int32_t *parts, *pending_parts;
	size_t i, n, nparts;

	evtimer_del(flush_timer);
	if (npending == 0 || gw->committer == NULL)
		return;
	b = xcalloc(1, sizeof *b);
	a = xcalloc(1, sizeof *a);
	b->id = a->id = next_batch_id++;
	b->records = xreallocarray(NULL, npending, sizeof *b->records);
	a->tasks = xreallocarray(NULL, npending, sizeof *a->tasks);
	pending_parts = xreallocarray(NULL, npending, sizeof *pending_parts);
	for (i = 0; i < npending; i++) {
		b->records[i] = pending[i].rec;
		pending_parts[i] = pending[i].partition;
		if (pending[i].partition >= 0)
			ledger_done(gw->ledger, pending[i].partition, pending[i].offset);
		if (pending[i].task != NULL)
			a->tasks[a->ntasks++] = pending[i].task;
	}
	b->nrecords = a->nrecords = npending;
	npending = 0;

	/* Every partition's commit point and metadata ride along. */
	nparts = ledger_partitions(gw->ledger, &parts);
	b->offsets_topic = xstrdup(gw->tasks_topic);
	b->offsets = nparts > 0 ? xcalloc(nparts, sizeof *b->offsets) : NULL;
	for (i = 0, n = 0; i < nparts; i++) {
		int64_t cp = ledger_commit_point(gw->ledger, parts[i]);
		if (cp < 0)
			continue;
		b->offsets[n].partition = parts[i];
		b->offsets[n].offset = cp;
		b->offsets[n].metadata = ledger_metadata(gw->ledger, parts[i]);
		n++;
	}
	b->noffsets = n;
	free(parts);
	/* What health learns when this batch is acknowledged. */
	a->offs = n > 0 ? xcalloc(n, sizeof *a->offs) : NULL;
	a->noffs = n;
	for (i = 0; i < n; i++) {
		a->offs[i].partition = b->offsets[i].partition;
		a->offs[i].offset = b->offsets[i].offset;
	}
	for (i = 0; i < b->nrecords; i++) {
		size_t j;
		for (j = 0; j < a->noffs && pending_parts[i] >= 0; j++)
			if (a->offs[j].partition == pending_parts[i])
				a->offs[j].records++;
	}
	free(pending_parts);
	b->group_metadata = gw->intake != NULL ? intake_group_metadata(gw->intake) : NULL;
	TAILQ_INSERT_TAIL(&awaiting, a, entry);
	log_debug("batch submitted", "batch=%" PRIu64 " records=%zu offsets=%zu", b->id,
	    b->nrecords, b->noffsets);
	committer_submit(gw->committer, b);
	task_update_intake();
}

/* Another task (a requeue, a resubmission) may use the same folder. */
static int
task_dir_shared(const struct task *old)
{
	const struct task *t;

	TAILQ_FOREACH(t, &gw->active, entry)
		if (strcmp(t->dir, old->dir) == 0)
			return 1;
	TAILQ_FOREACH(t, &gw->history, entry)
		if (t != old && strcmp(t->dir, old->dir) == 0)
			return 1;
	return 0;
}

static void
task_history_add(struct task *t)
{
	struct task *old;

	TAILQ_INSERT_TAIL(&gw->history, t, entry);
	gw->nhistory++;
	while (gw->nhistory > gw->max_history && (old = TAILQ_FIRST(&gw->history)) != NULL) {
		TAILQ_REMOVE(&gw->history, old, entry);
		gw->nhistory--;
		if (!task_dir_shared(old))
			util_rmtree(old->dir);
		task_free(old);
	}
}

static void
task_check_drained(void)
{
	if (!gw->draining)
		return;
	if (gw->stopped || task_running_count() > 0 || npending > 0 || !TAILQ_EMPTY(&awaiting))
		return;
	gw->stopped = 1;
	log_info("drained", "reported=%" PRIu64, gw->totals[0] + gw->totals[1] +
	    gw->totals[2] + gw->totals[3] + gw->totals[4]);
	event_base_loopexit(gw->base, NULL);
}

void
task_batch_done(uint64_t id, int ok, const char *error, void *arg)
{
	struct awaiting *a;
	struct task *t;
	size_t i;

	if (id == 0) {
		/* The committer itself failed (init_transactions). */
		log_error("transactional producer failed, stopping", "error=%s",
		    log_q(error != NULL ? error : "unknown"));
		gw->exit_code = 1;
		task_drain(1);
		event_base_loopexit(gw->base, NULL);
		return;
	}
	TAILQ_FOREACH(a, &awaiting, entry)
		if (a->id == id)
			break;
	if (a == NULL)
		fatalx("committer answered unknown batch %" PRIu64, id);
	TAILQ_REMOVE(&awaiting, a, entry);
	if (!ok) {
		/* The committer only gives up on fatal errors: stop intake. */
		log_error("transaction failed, stopping", "batch=%" PRIu64 " error=%s", id,
		    log_q(error != NULL ? error : "unknown"));
		free(a->tasks);
		free(a->offs);
		free(a);
		gw->exit_code = 1;
		task_drain(1);
		event_base_loopexit(gw->base, NULL);
		return;
	}
	for (i = 0; i < a->ntasks; i++) {
		t = a->tasks[i];
		TAILQ_REMOVE(&gw->active, t, entry);
		gw->nactive--;
		gw->nreporting--;
		gw->totals[t->status]++;
		task_set_state(t, t->status == RESULT_SUCCEEDED ? TASK_DONE : TASK_FAILED);
		task_release_claims(t);
		log_info("task reported", "task=%s attempt=%d status=%s duration_ms=%" PRId64,
		    t->spec->task_id, t->spec->attempt, msg_status_name(t->status),
		    t->ts[t->state] - t->ts[TASK_RECEIVED]);
		if (gw->on_reported != NULL)
			gw->on_reported(t);
		task_history_add(t);
	}
	for (i = 0; i < a->noffs; i++)
		health_committed(gw->health, a->offs[i].partition, a->offs[i].offset,
		    a->offs[i].records);
	free(a->tasks);
	free(a->offs);
	free(a);
	task_start_waiting();
	task_update_intake();
	task_check_drained();
}

/* ---- the steps ---- */

static void
task_finish(struct task *t, enum result_status st, enum error_class ec, const char *fmt, ...)
    printflike(4, 5);

/* Record the outcome; uploads still follow if there is anything to upload. */
static void
task_finish(struct task *t, enum result_status st, enum error_class ec, const char *fmt, ...)
{
	va_list ap;

	if (t->has_outcome)
		return;
	t->has_outcome = 1;
	t->status = st;
	t->eclass = ec;
	free(t->error);
	t->error = NULL;
	if (fmt != NULL) {
		va_start(ap, fmt);
		xvasprintf(&t->error, fmt, ap);
		va_end(ap);
	}
}

static int
task_prepare_dirs(struct task *t, char **cause)
{
	char *p;
	int rc;

	util_rmtree(t->dir);
	xasprintf(&p, "%s/input", t->dir);
	rc = util_mkdirs(p, 0755, cause);
	free(p);
	if (rc != 0)
		return -1;
	xasprintf(&p, "%s/output", t->dir);
	rc = util_mkdirs(p, 0755, cause);
	free(p);
	return rc;
}

/* ---- launch claims: never run a game twice for the same attempt ---- */

static char *
task_claim_path(const struct task *t, int attempt)
{
	char *p;

	xasprintf(&p, "%s/%s.%d", gw->journal_dir, t->spec->task_id, attempt);
	return p;
}

/*
 * Claim (task, attempt) before anything runs: a file created with
 * O_EXCL in runner.journal_dir. Finding a claim already there means a
 * run of that attempt began before and was interrupted (a crash, a
 * revoked partition): its game may have run in part, so this run is the
 * next attempt (DESIGN §7: infra failures retry as a new attempt).
 * Returns 0, or -1 with *cause (an infra failure, or too many attempts).
 */
static int
task_claim_attempt(struct task *t, char **cause)
{
	long long max = config_get_int(gw->conf, "runner", "max_attempts");
	char *path, buf[128];
	int fd, n;

	for (;;) {
		if (t->spec->attempt - t->first_attempt >= max) {
			xasprintf(cause, "interrupted %d time%s (gateway crash or rebalance) by attempt %d; "
			    "runner.max_attempts is %lld", t->spec->attempt - t->first_attempt,
			    t->spec->attempt - t->first_attempt == 1 ? "" : "s", t->spec->attempt - 1, max);
			t->spec->attempt--;
			return -1;
		}
		path = task_claim_path(t, t->spec->attempt);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
		if (fd >= 0) {
			n = snprintf(buf, sizeof buf, "%s %" PRId64 "\n", gw->instance, util_now_ms());
			if (write(fd, buf, (size_t)n) != n)
				log_warn("launch claim not written in full", "path=%s", log_q(path));
			close(fd);
			free(path);
			t->claimed = 1;
			return 0;
		}
		if (errno != EEXIST) {
			xasprintf(cause, "launch claim %s: %s", path, strerror(errno));
			free(path);
			return -1;
		}
		free(path);
		log_warn("an earlier run of this attempt was interrupted; running the next attempt",
		    "task=%s attempt=%d next=%d", t->spec->task_id, t->spec->attempt,
		    t->spec->attempt + 1);
		t->spec->attempt++;
	}
}

/* The result is committed: the claims of every attempt of this run go. */
static void
task_release_claims(struct task *t)
{
	char *path;
	int a;

	if (t->first_attempt > 0)
		runner_release(gw->runner, t->spec->task_id, t->first_attempt, t->spec->attempt);
	if (!t->claimed)
		return;
	for (a = t->first_attempt; a <= t->spec->attempt; a++) {
		path = task_claim_path(t, a);
		if (unlink(path) != 0 && errno != ENOENT)
			log_warn("cannot remove a launch claim", "path=%s error=%s", log_q(path),
			    log_q(strerror(errno)));
		free(path);
	}
	t->claimed = 0;
}

/* Where results go: the task's result_prefix, else storage.result_prefix. */
static const char *
task_prefix_base(const struct task *t)
{
	return t->spec->result_prefix != NULL ? t->spec->result_prefix :
	    config_get(gw->conf, "storage", "result_prefix");
}

/* Results go below <prefix>/<task>/<attempt>/. */
static void
task_set_prefix(struct task *t)
{
	const char *prefix = task_prefix_base(t);

	free(t->result_prefix);
	xasprintf(&t->result_prefix, "%s%s%s/%d/", prefix,
	    prefix[strlen(prefix) - 1] == '/' ? "" : "/", t->spec->task_id, t->spec->attempt);
}

static void
task_start(struct task *t)
{
	char *cause = NULL;
	const char *prefix;

	t->waiting = 0;
	t->first_attempt = t->spec->attempt;
	if (runner_uses_claims(gw->runner) && task_claim_attempt(t, &cause) != 0) {
		task_finish(t, RESULT_ERROR, ERROR_INFRA, "%s", cause);
		free(cause);
		task_report(t);
		return;
	}
	prefix = task_prefix_base(t);
	if (prefix == NULL || *prefix == '\0') {
		task_finish(t, RESULT_ERROR, ERROR_INVALID,
		    "no result_prefix in the task and storage.result_prefix is not set");
		task_report(t);
		return;
	}
	task_set_prefix(t);
	if (storage_check_url(gw->storage, t->result_prefix, &cause) != 0) {
		task_finish(t, RESULT_ERROR, ERROR_INVALID, "result_prefix: %s", cause);
		free(cause);
		task_report(t);
		return;
	}
	if (task_prepare_dirs(t, &cause) != 0) {
		task_finish(t, RESULT_ERROR, ERROR_INFRA, "%s", cause);
		free(cause);
		task_report(t);
		return;
	}
	task_set_state(t, TASK_FETCHING);
	t->fetch_step = 0;
	task_fetch_next(t);
}

static void
task_start_waiting(void)
{
	struct task *t, *next;

	/* Revoking: no new game for a partition about to go (kicked after). */
	if (gw->draining || gw->revoking)
		return;
	for (t = TAILQ_FIRST(&gw->active); t != NULL && task_running_count() < gw->max_inflight;
	    t = next) {
		next = TAILQ_NEXT(t, entry);
		if (t->waiting) {
			gw->nwaiting--;
			task_start(t);
		}
	}
}

static void
task_fetch_done(struct storage_xfer *x, enum storage_result r, const char *error, void *arg)
{
	struct task *t = arg;

	t->xfer = NULL;
	if (r != STORAGE_OK) {
		task_finish(t, RESULT_ERROR, r == STORAGE_PERMANENT ? ERROR_INVALID : ERROR_INFRA,
		    "downloading the %s: %s", t->fetch_step == 0 ? "program" : "model", error);
		task_report(t);
		return;
	}
	if (t->cancel_requested) {
		task_finish(t, RESULT_CANCELLED, ERROR_NONE, "cancelled by an operator");
		task_report(t);
		return;
	}
	t->fetch_step++;
	task_fetch_next(t);
}

static void
task_fetch_next(struct task *t)
{
	const char *url = t->fetch_step == 0 ? t->spec->program : t->spec->model;
	char *name, *path, *cause = NULL;

	if (t->fetch_step == 1 && url == NULL)
		t->fetch_step++;
	if (t->fetch_step >= 2) {
		task_launch(t);
		return;
	}
	if (storage_check_url(gw->storage, url, &cause) != 0) {
		task_finish(t, RESULT_ERROR, ERROR_INVALID, "%s: %s",
		    t->fetch_step == 0 ? "program" : "model", cause);
		free(cause);
		task_report(t);
		return;
	}
	name = msg_url_basename(url);
	xasprintf(&path, "%s/input/%s", t->dir, name);
	t->xfer = storage_get(gw->storage, url, path, task_fetch_done, t);
	free(path);
	free(name);
}

static void
task_run_started(struct runner_job *job, void *arg)
{
	struct task *t = arg;

	t->job = job;	/* runner_start has not returned yet */
	t->started_ms = util_now_ms();
	task_set_state(t, TASK_RUNNING);
}

static void
task_add_artifact(struct task *t, const char *name, const char *ctype)
{
	struct artifact *a;
	char *path;
	off_t size;

	xasprintf(&path, "%s/output/%s", t->dir, name);
	if ((size = util_file_size(path)) < 0 || t->narts == TASK_MAX_ARTIFACTS) {
		free(path);
		return;
	}
	a = &t->arts[t->narts++];
	memset(a, 0, sizeof *a);
	a->name = xstrdup(name);
	a->path = path;
	a->bytes = size;
	a->content_type = ctype;
	xasprintf(&a->url, "%s%s", t->result_prefix, name);
}

static void
task_collect(struct task *t)
{
	char *path, *buf, *cause = NULL;
	const cJSON *v;
	size_t len;

	task_set_state(t, TASK_COLLECTING);
	xasprintf(&path, "%s/output/result.json", t->dir);
	buf = util_read_file(path, 1024 * 1024, &len, &cause);
	free(path);
	if (buf != NULL) {
		t->game_result = cJSON_ParseWithLength(buf, len);
		if (t->game_result == NULL || !cJSON_IsObject(t->game_result)) {
			cJSON_Delete(t->game_result);
			t->game_result = NULL;
			log_warn("result.json is not a JSON object", "task=%s", t->spec->task_id);
		}
		free(buf);
	} else
		free(cause);
	task_add_artifact(t, "log.txt", "text/plain; charset=utf-8");
	task_add_artifact(t, "result.json", "application/json");
	/* The video the game names, else the usual names. */
	v = t->game_result != NULL ? cJSON_GetObjectItemCaseSensitive(t->game_result, "video") : NULL;
	if (cJSON_IsString(v) && strchr(v->valuestring, '/') == NULL && v->valuestring[0] != '.')
		task_add_artifact(t, v->valuestring, "video/mp4");
	else {
		task_add_artifact(t, "video.mp4", "video/mp4");
		if (t->narts < 3)
			task_add_artifact(t, "video.webm", "video/webm");
	}
	task_set_state(t, TASK_UPLOADING);
	t->next_art = 0;
	task_upload_next(t);
}

static void
task_run_done(struct runner_job *job, const struct runner_outcome *o, void *arg)
{
	struct task *t = arg;

	t->job = NULL;
	t->finished_ms = util_now_ms();
	switch (o->end) {
	case RUNNER_EXITED:
		if (o->exit_code == 0)
			task_finish(t, RESULT_SUCCEEDED, ERROR_NONE, NULL);
		else if (o->signal != 0)
			task_finish(t, RESULT_FAILED, ERROR_USER, "game killed by signal %d",
			    o->signal);
		else
			task_finish(t, RESULT_FAILED, ERROR_USER, "game exited with code %d",
			    o->exit_code);
		break;
	case RUNNER_TIMEOUT:
		task_finish(t, RESULT_TIMEOUT, ERROR_USER, "exceeded its timeout of %ld s",
		    t->timeout_s);
		break;
	case RUNNER_CANCELLED:
		task_finish(t, RESULT_CANCELLED, ERROR_NONE, "cancelled by an operator");
		break;
	case RUNNER_INFRA:
		if (task_retry_attempt(t, o->message))
			return;
		task_finish(t, RESULT_ERROR, ERROR_INFRA, "%s (attempt %d, runner.max_attempts %lld)",
		    o->message, t->spec->attempt, config_get_int(gw->conf, "runner", "max_attempts"));
		break;
	}
	task_collect(t);
}

/*
 * An infra failure (eviction, image pull, node lost, a pod deleted by
 * someone else, a game that could not start) is not the user's: run the
 * task again as its next attempt, while attempts remain. Returns 1 when
 * a new attempt was launched.
 */
static int
task_retry_attempt(struct task *t, const char *why)
{
	long long max = config_get_int(gw->conf, "runner", "max_attempts");
	char *cause = NULL, *out;

	if (t->cancel_requested || t->spec->attempt - t->first_attempt + 1 >= max)
		return 0;
	log_warn("infra failure, running the next attempt", "task=%s attempt=%d next=%d error=%s",
	    t->spec->task_id, t->spec->attempt, t->spec->attempt + 1, log_q(why));
	t->spec->attempt++;
	if (runner_uses_claims(gw->runner) && task_claim_attempt(t, &cause) != 0) {
		task_finish(t, RESULT_ERROR, ERROR_INFRA, "%s", cause);
		free(cause);
		task_collect(t);
		return 1;
	}
	task_set_prefix(t);
	/* What the failed attempt left in output/ is not this attempt's. */
	xasprintf(&out, "%s/output", t->dir);
	util_rmtree(out);
	free(out);
	if (task_prepare_dirs(t, &cause) != 0) {
		task_finish(t, RESULT_ERROR, ERROR_INFRA, "%s", cause);
		free(cause);
		task_collect(t);
		return 1;
	}
	task_launch(t);
	return 1;
}

static void
task_launch(struct task *t)
{
	struct runner_req req;
	struct runner_job *job;
	char *entry = t->spec->entry != NULL ? xstrdup(t->spec->entry) :
	    msg_url_basename(t->spec->program);
	long timeout = t->spec->timeout_s;
	long max = (long)config_get_int(gw->conf, "runner", "max_timeout_s");

	if (timeout <= 0)
		timeout = (long)config_get_int(gw->conf, "runner", "default_timeout_s");
	if (timeout > max)
		timeout = max;
	task_set_state(t, TASK_LAUNCHING);
	memset(&req, 0, sizeof req);
	req.task_id = t->spec->task_id;
	req.attempt = t->spec->attempt;
	req.game = t->spec->game;
	req.dir = t->dir;
	req.entry = entry;
	req.params = t->spec->params;
	req.timeout_s = timeout;
	req.gpu = t->spec->gpu;
	req.partition = t->partition;
	req.offset = t->offset;
	t->timeout_s = timeout;
	/* A start that fails at once has already called task_run_done (which may relaunch). */
	if ((job = runner_start(gw->runner, &req, task_run_started, task_run_done, t)) != NULL)
		t->job = job;
	free(entry);
}

static void
task_upload_done(struct storage_xfer *x, enum storage_result r, const char *error, void *arg)
{
	struct task *t = arg;
	struct artifact *a = &t->arts[t->next_art];

	t->xfer = NULL;
	if (r != STORAGE_OK) {
		/* The game's own outcome is replaced: its results did not arrive. */
		t->has_outcome = 0;
		task_finish(t, RESULT_ERROR, ERROR_INFRA, "uploading %s: %s", a->name, error);
		task_report(t);
		return;
	}
	a->uploaded = 1;
	t->next_art++;
	task_upload_next(t);
}

static void
task_upload_next(struct task *t)
{
	struct artifact *a;
	char *cause = NULL;

	if (t->next_art >= t->narts) {
		task_report(t);
		return;
	}
	a = &t->arts[t->next_art];
	if (util_sha256_file(a->path, a->sha256, &cause) != 0) {
		log_warn("cannot checksum artifact", "task=%s error=%s", t->spec->task_id, log_q(cause));
		free(cause);
		a->sha256[0] = '\0';
	}
	a->bytes = util_file_size(a->path);
	t->xfer = storage_put(gw->storage, a->path, a->url, a->content_type, task_upload_done, t);
}

/* "error": {class, message} once the task has an outcome with an error, else null. */
static void
task_error_json(const struct task *t, cJSON *obj)
{
	cJSON *e;

	if (!t->has_outcome || (t->eclass == ERROR_NONE && t->error == NULL)) {
		cJSON_AddNullToObject(obj, "error");
		return;
	}
	e = cJSON_AddObjectToObject(obj, "error");
	if (t->eclass != ERROR_NONE)
		cJSON_AddStringToObject(e, "class", msg_error_class_name(t->eclass));
	else
		cJSON_AddNullToObject(e, "class");
	cJSON_AddStringToObject(e, "message", t->error != NULL ? t->error : "");
}

static cJSON *
task_result_json(const struct task *t)
{
	cJSON *r = cJSON_CreateObject(), *tm, *arts, *e, *src;
	char ts[40], *url;
	size_t i;

	cJSON_AddNumberToObject(r, "version", RESULT_VERSION);
	cJSON_AddStringToObject(r, "task_id", t->spec->task_id);
	cJSON_AddNumberToObject(r, "attempt", t->spec->attempt);
	cJSON_AddStringToObject(r, "status", msg_status_name(t->status));
	cJSON_AddStringToObject(r, "game", t->spec->game);
	if (t->game_result != NULL)
		cJSON_AddItemToObject(r, "game_result", cJSON_Duplicate(t->game_result, 1));
	else
		cJSON_AddNullToObject(r, "game_result");
	cJSON_AddNullToObject(r, "log_url");
	cJSON_AddNullToObject(r, "video_url");
	cJSON_AddNullToObject(r, "result_url");
	arts = cJSON_AddArrayToObject(r, "artifacts");
	for (i = 0; i < t->narts; i++) {
		const struct artifact *a = &t->arts[i];
		const char *field = NULL;

		if (!a->uploaded)
			continue;
		/* Reported as the world may see it: credentials and queries redacted. */
		url = log_redact_url(a->url);
		e = cJSON_CreateObject();
		cJSON_AddStringToObject(e, "name", a->name);
		cJSON_AddStringToObject(e, "url", url);
		cJSON_AddNumberToObject(e, "bytes", (double)a->bytes);
		if (a->sha256[0] != '\0')
			cJSON_AddStringToObject(e, "sha256", a->sha256);
		cJSON_AddStringToObject(e, "content_type", a->content_type);
		cJSON_AddItemToArray(arts, e);
		if (strcmp(a->name, "log.txt") == 0)
			field = "log_url";
		else if (strcmp(a->name, "result.json") == 0)
			field = "result_url";
		else if (strncmp(a->content_type, "video/", 6) == 0)
			field = "video_url";
		if (field != NULL)
			cJSON_ReplaceItemInObjectCaseSensitive(r, field, cJSON_CreateString(url));
		free(url);
	}
	tm = cJSON_AddObjectToObject(r, "timings");
	cJSON_AddStringToObject(tm, "received", util_time_fmt(t->ts[TASK_RECEIVED], ts, sizeof ts));
	if (t->started_ms != 0)
		cJSON_AddStringToObject(tm, "started", util_time_fmt(t->started_ms, ts, sizeof ts));
	if (t->finished_ms != 0)
		cJSON_AddStringToObject(tm, "finished", util_time_fmt(t->finished_ms, ts, sizeof ts));
	cJSON_AddStringToObject(tm, "reported", util_time_fmt(t->reported_ms, ts, sizeof ts));
	if (t->started_ms != 0 && t->finished_ms != 0)
		cJSON_AddNumberToObject(r, "duration_ms", (double)(t->finished_ms - t->started_ms));
	task_error_json(t, r);
	src = cJSON_AddObjectToObject(r, "source");
	cJSON_AddStringToObject(src, "topic", gw->tasks_topic);
	cJSON_AddNumberToObject(src, "partition", t->partition);
	cJSON_AddNumberToObject(src, "offset", (double)t->offset);
	cJSON_AddStringToObject(r, "gateway", gw->instance);
	return r;
}

static void
task_report(struct task *t)
{
	cJSON *r;

	if (!t->has_outcome)
		task_finish(t, RESULT_ERROR, ERROR_INFRA, "no outcome recorded");
	t->reported_ms = util_now_ms();
	gw->nreporting++;
	task_set_state(t, TASK_REPORTING);
	/* Its game slot is free now, not when the transaction commits. */
	event_active(kick_event, EV_TIMEOUT, 0);
	r = task_result_json(t);
	task_queue_record(COMMIT_RESULT, gw->results_topic, t->spec->task_id,
	    cJSON_PrintUnformatted(r), t->partition, t->offset, t);
	cJSON_Delete(r);
	task_check_drained();
}

/* ---- intake ---- */

static void
task_dead_letter(int32_t partition, int64_t offset, const void *buf, size_t len,
    enum dlq_reason reason, const char *detail, const char *task_id)
{
	char *rec;

	log_warn("task dead-lettered", "partition=%d offset=%" PRId64 " reason=%s task=%s",
	    (int)partition, offset, msg_dlq_reason_name(reason), task_id != NULL ? task_id : "-");
	gw->dlq_total++;
	rec = msg_dlq_encode(reason, detail, task_id, gw->tasks_topic, partition, offset, buf,
	    len, util_now_ms());
	task_queue_record(COMMIT_DLQ, gw->dlq_topic, task_id, rec, partition, offset, NULL);
}

void
task_receive(int32_t partition, int64_t offset, const void *buf, size_t len)
{
	struct task_spec *spec;
	struct task *t;
	enum dlq_reason reason;
	char *detail = NULL, *task_id = NULL;

	switch (ledger_receive(gw->ledger, partition, offset)) {
	case LEDGER_NEW:
		break;
	case LEDGER_DONE_BEFORE:
		gw->skipped_done++;
		log_debug("offset done before, skipped", "partition=%d offset=%" PRId64,
		    (int)partition, offset);
		return;
	case LEDGER_DUPLICATE:
		log_debug("offset received twice, ignored", "partition=%d offset=%" PRId64,
		    (int)partition, offset);
		return;
	}
	/*
	 * The same message again after a rebalance (the partition came back
	 * before this task's transaction committed): its result is already
	 * on its way in an earlier transaction, which the committer finishes
	 * before any later one, so the new ledger may count it done.
	 */
	TAILQ_FOREACH(t, &gw->active, entry) {
		if (t->partition == partition && t->offset == offset) {
			log_info("task delivered again after a rebalance; its result is on its way",
			    "task=%s partition=%d offset=%" PRId64 " state=%s", t->spec->task_id,
			    (int)partition, offset, task_state_name(t->state));
			if (t->state == TASK_REPORTING)
				ledger_done(gw->ledger, partition, offset);
			return;
		}
	}
	if (msg_task_decode(buf, len, &spec, &reason, &detail, &task_id) != 0) {
		task_dead_letter(partition, offset, buf, len, reason, detail, task_id);
		free(detail);
		free(task_id);
		return;
	}
	free(task_id);
	if (task_find_active(spec->task_id) != NULL) {
		xasprintf(&detail, "task %s is already in flight on this gateway", spec->task_id);
		task_dead_letter(partition, offset, buf, len, DLQ_DUPLICATE_TASK, detail,
		    spec->task_id);
		free(detail);
		msg_task_free(spec);
		return;
	}
	t = xcalloc(1, sizeof *t);
	t->spec = spec;
	t->partition = partition;
	t->offset = offset;
	xasprintf(&t->dir, "%s/tasks/%s", gw->state_dir, spec->task_id);
	TAILQ_INSERT_TAIL(&gw->active, t, entry);
	gw->nactive++;
	task_set_state(t, TASK_RECEIVED);
	log_info("task received", "task=%s attempt=%d game=%s partition=%d offset=%" PRId64,
	    spec->task_id, spec->attempt, spec->game, (int)partition, offset);
	if (task_running_count() > gw->max_inflight || gw->draining) {
		t->waiting = 1;
		gw->nwaiting++;
	} else
		task_start(t);
	task_update_intake();
}

/* Start waiting tasks from the loop's next turn (after a revoke). */
void
task_kick(void)
{
	if (kick_event != NULL)
		event_active(kick_event, EV_TIMEOUT, 0);
}

void
task_revoke_partition(int32_t partition)
{
	struct task *t, *next;

	for (t = TAILQ_FIRST(&gw->active); t != NULL; t = next) {
		next = TAILQ_NEXT(t, entry);
		if (t->partition != partition || t->state == TASK_REPORTING)
			continue;
		log_warn("partition revoked, task abandoned to its new owner",
		    "task=%s partition=%d offset=%" PRId64, t->spec->task_id, (int)partition,
		    t->offset);
		TAILQ_REMOVE(&gw->active, t, entry);
		gw->nactive--;
		if (t->waiting)
			gw->nwaiting--;
		task_free(t);
	}
	ledger_forget(gw->ledger, partition);
	task_start_waiting();
}

/* ---- operator requests ---- */

int
task_cancel(const char *id, char **cause)
{
	struct task *t = task_find_active(id);

	if (t == NULL) {
		xasprintf(cause, "no task %s in flight", id);
		return -1;
	}
	if (t->state >= TASK_COLLECTING) {
		xasprintf(cause, "task %s is already %s", id, task_state_name(t->state));
		return -1;
	}
	log_info("task cancel requested", "task=%s state=%s", id, task_state_name(t->state));
	t->cancel_requested = 1;
	if (t->waiting) {
		t->waiting = 0;
		gw->nwaiting--;
		task_finish(t, RESULT_CANCELLED, ERROR_NONE, "cancelled by an operator");
		task_report(t);
	} else if (t->job != NULL)
		runner_cancel(t->job);
	/* Fetching: task_fetch_done sees cancel_requested. */
	return 0;
}

int
task_requeue(const char *id, int *attempt, char **cause)
{
	struct task *t = task_find(id);
	char *msg;

	if (t == NULL) {
		xasprintf(cause, "no task %s known to this gateway", id);
		return -1;
	}
	if (t->state != TASK_DONE && t->state != TASK_FAILED) {
		xasprintf(cause, "task %s is %s; cancel it first or wait for its result", id,
		    task_state_name(t->state));
		return -1;
	}
	/*
	 * Once per attempt: a second requeue before the new attempt arrives
	 * (two operators, a retried paiactl) answers the attempt already
	 * sent instead of sending a duplicate that would be dead-lettered.
	 */
	if (t->requeued_as > 0) {
		*attempt = t->requeued_as;
		log_info("task requeued already", "task=%s attempt=%d", id, *attempt);
		return 0;
	}
	if (gw->draining) {
		xasprintf(cause, "the gateway is shutting down");
		return -1;
	}
	msg = msg_task_requeue(t->spec);
	*attempt = t->requeued_as = t->spec->attempt + 1;
	log_info("task requeued", "task=%s attempt=%d", id, *attempt);
	task_queue_record(COMMIT_REQUEUE, gw->tasks_topic, id, msg, -1, -1, NULL);
	return 0;
}

/* ---- views for the control socket ---- */

cJSON *
task_to_json(const struct task *t)
{
	cJSON *j = cJSON_CreateObject(), *tl;
	const cJSON *score;
	char ts[40], *p;
	size_t i;

	cJSON_AddStringToObject(j, "task_id", t->spec->task_id);
	cJSON_AddNumberToObject(j, "attempt", t->spec->attempt);
	cJSON_AddStringToObject(j, "game", t->spec->game);
	cJSON_AddStringToObject(j, "state", state_names[t->state]);
	if (t->state == TASK_DONE || t->state == TASK_FAILED || t->state == TASK_REPORTING)
		cJSON_AddStringToObject(j, "status", msg_status_name(t->status));
	else
		cJSON_AddNullToObject(j, "status");
	cJSON_AddBoolToObject(j, "waiting", t->waiting);
	if (t->job != NULL)
		cJSON_AddNumberToObject(j, "pid", runner_job_pid(t->job));
	else
		cJSON_AddNullToObject(j, "pid");
	cJSON_AddNumberToObject(j, "partition", t->partition);
	cJSON_AddNumberToObject(j, "offset", (double)t->offset);
	tl = cJSON_AddObjectToObject(j, "timeline");
	for (i = 0; i < TASK_NSTATES; i++)
		if (t->ts[i] != 0)
			cJSON_AddStringToObject(tl, state_names[i], util_time_fmt(t->ts[i], ts, sizeof ts));
	task_error_json(t, j);
	cJSON_AddStringToObject(j, "dir", t->dir);
	xasprintf(&p, "%s/output/log.txt", t->dir);
	cJSON_AddStringToObject(j, "log_path", p);
	free(p);
	cJSON_AddNullToObject(j, "log_url");
	cJSON_AddNullToObject(j, "video_url");
	for (i = 0; i < t->narts; i++) {
		if (!t->arts[i].uploaded)
			continue;
		p = log_redact_url(t->arts[i].url);
		if (strcmp(t->arts[i].name, "log.txt") == 0)
			cJSON_ReplaceItemInObjectCaseSensitive(j, "log_url", cJSON_CreateString(p));
		else if (strncmp(t->arts[i].content_type, "video/", 6) == 0) {
			cJSON_ReplaceItemInObjectCaseSensitive(j, "video_url", cJSON_CreateString(p));
			cJSON_AddStringToObject(j, "video_path", t->arts[i].path);
		}
		free(p);
	}
	score = t->game_result != NULL ?
	    cJSON_GetObjectItemCaseSensitive(t->game_result, "score") : NULL;
	if (cJSON_IsNumber(score))
		cJSON_AddNumberToObject(j, "score", score->valuedouble);
	else
		cJSON_AddNullToObject(j, "score");
	if (t->started_ms != 0 && t->finished_ms != 0)
		cJSON_AddNumberToObject(j, "duration_ms", (double)(t->finished_ms - t->started_ms));
	else
		cJSON_AddNullToObject(j, "duration_ms");
	return j;
}

cJSON *
task_status_json(void)
{
	cJSON *s = cJSON_CreateObject(), *o, *parts;
	const struct task *t;
	size_t counts[TASK_NSTATES] = { 0 }, i, n;
	uint64_t committed = 0, aborted = 0;
	int32_t *ids;

	cJSON_AddStringToObject(s, "instance", gw->instance);
	cJSON_AddStringToObject(s, "version", PACKAGE_VERSION);
	cJSON_AddNumberToObject(s, "pid", getpid());
	cJSON_AddNumberToObject(s, "uptime_s", (double)((util_now_ms() - gw->start_ms) / 1000));
	cJSON_AddBoolToObject(s, "embedded", gw->embedded);
	cJSON_AddStringToObject(s, "bootstrap_servers", gw->bootstrap != NULL ? gw->bootstrap : "");
	cJSON_AddStringToObject(s, "group_id", gw->group_id);
	o = cJSON_AddObjectToObject(s, "topics");
	cJSON_AddStringToObject(o, "tasks", gw->tasks_topic);
	cJSON_AddStringToObject(o, "results", gw->results_topic);
	cJSON_AddStringToObject(o, "dlq", gw->dlq_topic);
	cJSON_AddNumberToObject(s, "max_inflight", (double)gw->max_inflight);
	cJSON_AddNumberToObject(s, "inflight", (double)task_running_count());
	cJSON_AddNumberToObject(s, "backlog", (double)gw->nwaiting);
	cJSON_AddBoolToObject(s, "paused", gw->draining || task_intake_full());
	cJSON_AddNumberToObject(s, "reporting", (double)gw->nreporting);
	cJSON_AddBoolToObject(s, "draining", gw->draining);
	TAILQ_FOREACH(t, &gw->active, entry)
		counts[t->state]++;
	TAILQ_FOREACH(t, &gw->history, entry)
		counts[t->state]++;
	o = cJSON_AddObjectToObject(s, "states");
	for (i = 0; i < TASK_NSTATES; i++)
		cJSON_AddNumberToObject(o, state_names[i], (double)counts[i]);
	o = cJSON_AddObjectToObject(s, "totals");
	for (i = 0; i <= RESULT_ERROR; i++)
		cJSON_AddNumberToObject(o, msg_status_name((enum result_status)i), (double)gw->totals[i]);
	cJSON_AddNumberToObject(o, "dlq", (double)gw->dlq_total);
	cJSON_AddNumberToObject(o, "skipped_done", (double)gw->skipped_done);
	if (gw->committer != NULL)
		committer_stats(gw->committer, &committed, &aborted);
	o = cJSON_AddObjectToObject(s, "transactions");
	cJSON_AddNumberToObject(o, "committed", (double)committed);
	cJSON_AddNumberToObject(o, "aborted", (double)aborted);
	parts = cJSON_AddArrayToObject(s, "partitions");
	n = ledger_partitions(gw->ledger, &ids);
	for (i = 0; i < n; i++) {
		int64_t cp = ledger_commit_point(gw->ledger, ids[i]);
		int64_t high = gw->intake != NULL ? intake_high(gw->intake, ids[i]) : -1;

		o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "partition", ids[i]);
		cJSON_AddNumberToObject(o, "committed", (double)cp);
		cJSON_AddNumberToObject(o, "next", (double)ledger_next(gw->ledger, ids[i]));
		cJSON_AddNumberToObject(o, "pending", (double)ledger_pending(gw->ledger, ids[i]));
		cJSON_AddNumberToObject(o, "high", (double)high);
		cJSON_AddNumberToObject(o, "lag", high >= 0 && cp >= 0 && high > cp ?
		    (double)(high - cp) : 0);
		cJSON_AddBoolToObject(o, "paused",
		    gw->intake != NULL && intake_paused(gw->intake, ids[i]));
		cJSON_AddItemToArray(parts, o);
	}
	free(ids);
	return s;
}

/* ---- life cycle ---- */

static void
task_drain_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct task *t, *next;

	/* Out of grace: abandon what still runs; its offsets stay uncommitted. */
	for (t = TAILQ_FIRST(&gw->active); t != NULL; t = next) {
		next = TAILQ_NEXT(t, entry);
		if (t->state == TASK_REPORTING)
			continue;
		log_warn("grace period over, task abandoned (it will run again after restart)",
		    "task=%s state=%s", t->spec->task_id, task_state_name(t->state));
		TAILQ_REMOVE(&gw->active, t, entry);
		gw->nactive--;
		if (t->waiting)
			gw->nwaiting--;
		task_free(t);
	}
	task_flush();
	task_check_drained();
}

void
task_drain(int exit_code)
{
	struct task *t, *next;
	struct timeval tv;
	long long grace = config_get_int(gw->conf, "gateway", "grace_s");

	if (exit_code > gw->exit_code)
		gw->exit_code = exit_code;
	if (gw->draining)
		return;
	gw->draining = 1;
	log_info("draining: intake stopped, in-flight tasks finish", "inflight=%zu grace_s=%lld",
	    task_running_count(), grace);
	/* Waiting tasks never started: leave their offsets uncommitted. */
	for (t = TAILQ_FIRST(&gw->active); t != NULL; t = next) {
		next = TAILQ_NEXT(t, entry);
		if (!t->waiting)
			continue;
		TAILQ_REMOVE(&gw->active, t, entry);
		gw->nactive--;
		gw->nwaiting--;
		task_free(t);
	}
	task_update_intake();
	drain_timer = evtimer_new(gw->base, task_drain_timer_cb, NULL);
	tv.tv_sec = grace;
	tv.tv_usec = 0;
	evtimer_add(drain_timer, &tv);
	task_flush();
	task_check_drained();
}

static void
task_kick_cb(evutil_socket_t fd, short what, void *arg)
{
	task_start_waiting();
	task_update_intake();
}

void
task_init(void)
{
	TAILQ_INIT(&gw->active);
	TAILQ_INIT(&gw->history);
	flush_timer = evtimer_new(gw->base, task_flush_cb, NULL);
	kick_event = event_new(gw->base, -1, 0, task_kick_cb, NULL);
}

void
task_shutdown(void)
{
	struct task *t;
	struct awaiting *a;
	size_t i;

	while ((t = TAILQ_FIRST(&gw->active)) != NULL) {
		TAILQ_REMOVE(&gw->active, t, entry);
		task_free(t);
	}
	while ((t = TAILQ_FIRST(&gw->history)) != NULL) {
		TAILQ_REMOVE(&gw->history, t, entry);
		task_free(t);
	}
	while ((a = TAILQ_FIRST(&awaiting)) != NULL) {
		TAILQ_REMOVE(&awaiting, a, entry);
		free(a->tasks);
		free(a->offs);
		free(a);
	}
	for (i = 0; i < npending; i++) {
		free(pending[i].rec.topic);
		free(pending[i].rec.key);
		free(pending[i].rec.value);
	}
	free(pending);
	pending = NULL;
	npending = pending_cap = 0;
	if (flush_timer != NULL)
		event_free(flush_timer);
	if (drain_timer != NULL)
		event_free(drain_timer);
	if (kick_event != NULL)
		event_free(kick_event);
	flush_timer = drain_timer = kick_event = NULL;
}
