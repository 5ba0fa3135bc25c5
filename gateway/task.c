/*
 * task.c: the task state machine.
 *
 *   received -> fetching -> launching -> running -> collecting
 *            -> uploading <-> upload_wait
 *            -> reporting -> done | failed
 *
 * A task enters "reporting" when its result record is queued for the
 * next transaction (outbox.c); it is done (or failed) only when that
 * transaction, which also carries the partition's offsets, has
 * committed. A task whose uploads cannot reach storage waits in
 * upload_wait, holding no game slot, until storage answers or
 * storage.upload_deadline_s has passed (uploads.c decides when it
 * tries again); outputs that could not be uploaded are kept on disk and
 * named in the result.
 *
 * The game's end is recorded in the task folder (.outcome, outcome.c)
 * before any upload: a task delivered again after a restart, whose
 * attempt this instance claimed and finished, uploads what is on disk
 * instead of running the game again (task_recover).
 *
 * It also decides what intake's rebalances mean (the ledger restored on
 * assign; on revoke, what is done committed first and the rest
 * abandoned to the new owner) and answers the control socket's cancel
 * and requeue.
 *
 * A task folder is touched only through taskdir.c and folders.c
 * (descriptors, no link followed): what the game left is refused, not
 * followed. The gateway's state is the struct gw each function is given
 * (or finds in its task); everything here runs in the loop thread.
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

const double step_bucket_le[STEP_BUCKETS] = {
	0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 600, 1800,
};

static void task_release_claims(struct task *);
static void task_unlink_active(struct task *);
static int task_retry_attempt(struct task *, const char *);
static void task_launch(struct task *);
static void task_collect(struct task *);
static void task_fetch_next(struct task *);
static void task_upload_next(struct task *);
static void task_report(struct task *);
static void task_start_waiting(struct gw *);
static void task_kick_cb(evutil_socket_t, short, void *);
static void task_history_add(struct task *);
static uint32_t *task_dir_ref(struct gw *, const char *);
static void task_check_drained(struct gw *);
static void task_receive(struct gw *, int32_t, int64_t, const void *, size_t);
static void task_revoke_partition(struct gw *, int32_t);
static void task_dead_letter(struct gw *, int32_t, int64_t, const void *, size_t,
    enum dlq_reason, const char *, const char *);

static void
task_set_state(struct task *t, enum task_state s)
{
	struct gw *gw = t->gw;
	int64_t now = util_now_ms();
	struct step_hist *h = &gw->steps[t->state];
	double d = (double)(now - t->ts[t->state]) / 1000.0;
	size_t i;

	if (t->state == TASK_UPLOAD_WAIT && s != TASK_UPLOAD_WAIT) {
		/* Logged again only once half of them have gone. */
		if (--gw->nupwait <= gw->max_upwait / 2)
			gw->upwait_full = 0;
	}
	else if (s == TASK_UPLOAD_WAIT && t->state != TASK_UPLOAD_WAIT)
		gw->nupwait++;
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
	log_debug("task state", "task=%s attempt=%d state=%s", log_q(t->spec->task_id),
	    t->spec->attempt, log_q(proto_state_name(s)));
	if (gw->control != NULL && control_has_subscribers(gw->control))
		control_publish(gw->control, PROTO_EVENT_TASK, views_task(t));
}

static void
task_free(struct task *t)
{
	size_t i;

	if (t->job != NULL)
		runner_abandon(t->job);
	if (t->xfer != NULL)
		storage_cancel(t->xfer);
	uploads_forget(t);
	for (i = 0; i < t->narts; i++) {
		free(t->arts[i].name);
		free(t->arts[i].path);
		free(t->arts[i].url);
		if (t->arts[i].fd >= 0)
			close(t->arts[i].fd);
	}
	for (i = 0; i < t->nrefused; i++) {
		free(t->refused[i].name);
		free(t->refused[i].reason);
	}
	free(t->fetch_name);
	gpus_task_clear(t);
	free(t->upload_error);
	cJSON_Delete(t->game_result);
	if (t->gw->dir_refs != NULL)
		(*task_dir_ref(t->gw, t->spec->task_id))--;
	proto_task_free(t->spec);
	free(t->error);
	free(t->dir);
	free(t->result_prefix);
	if (t->redelivery != NULL)
		free(t->redelivery->buf);
	free(t->redelivery);
	free(t);
}

struct task *
task_find(struct gw *gw, const char *id)
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
task_find_active(struct gw *gw, const char *id)
{
	struct task *t;

	TAILQ_FOREACH(t, &gw->active, entry)
		if (strcmp(t->spec->task_id, id) == 0)
			return t;
	return NULL;
}

size_t
task_running_count(const struct gw *gw)
{
	return gw->nactive - gw->nwaiting - gw->nreporting - gw->nupwait;
}

/* Out of the active list (revoked, abandoned, dropped while draining). */
static void
task_unlink_active(struct task *t)
{
	struct gw *gw = t->gw;

	TAILQ_REMOVE(&gw->active, t, entry);
	gw->nactive--;
	if (t->waiting)
		gw->nwaiting--;
	if (t->state == TASK_UPLOAD_WAIT)
		gw->nupwait--;
}

/*
 * Full when running tasks fill max_inflight and prefetched ones fill the
 * prefetch queue: a game can start from memory the moment a slot frees,
 * instead of after a pause, a resume and a fetch round trip (pausing a
 * partition drops what librdkafka had fetched). Tasks waiting only for
 * their transaction hold no game slot and do not count: a slow commit
 * must not stall the games (the ledger's metadata cap bounds them per
 * partition). Tasks whose uploads wait for storage hold no slot either,
 * up to storage.max_waiting_uploads of them: their outputs fill the
 * disk.
 */
int
task_intake_full(const struct gw *gw)
{
	return gw->nactive - gw->nreporting - gw->nupwait >= gw->max_inflight + gw->prefetch ||
	    gw->nupwait >= gw->max_upwait;
}

void
task_update_intake(struct gw *gw)
{
	int32_t *parts;
	size_t i, n;
	int near;

	if (gw->intake == NULL)
		return;
	intake_set_paused(gw->intake, gw->draining || task_intake_full(gw) ||
	    tunnel_intake_paused(gw));
	/* A partition whose commit metadata would outgrow the broker's cap waits. */
	n = intake_assigned(gw->intake, &parts);
	for (i = 0; i < n; i++) {
		near = ledger_near_cap(gw->ledger, parts[i], LEDGER_METADATA_MAX);
		if (!intake_set_capped(gw->intake, parts[i], near))
			continue;
		if (near)
			log_warn("partition paused: its commit metadata would outgrow the broker's "
			    "cap (too many offsets pending behind its oldest unfinished task)",
			    "partition=%d commit=%" PRId64 " pending=%zu", (int)parts[i],
			    ledger_commit_point(gw->ledger, parts[i]),
			    ledger_pending(gw->ledger, parts[i]));
		else
			log_info("partition resumed", "partition=%d", (int)parts[i]);
	}
	free(parts);
}

/* The dir_refs bucket of a task id (FNV-1a). */
static uint32_t *
task_dir_ref(struct gw *gw, const char *id)
{
	size_t want;

	if (gw->dir_refs == NULL) {
		want = (gw->max_history + gw->max_inflight + gw->prefetch + gw->max_upwait) * 8;
		for (gw->ndir_refs = 1024; gw->ndir_refs < want && gw->ndir_refs < (1u << 22);
		    gw->ndir_refs <<= 1)
			;
		gw->dir_refs = xcalloc(gw->ndir_refs, sizeof *gw->dir_refs);
	}
	return &gw->dir_refs[util_fnv1a(UTIL_FNV1A_INIT, id) & (gw->ndir_refs - 1)];
}

/* Another task (a requeue, a resubmission) may use the same folder. */
int
task_dir_shared(const struct task *old)
{
	struct gw *gw = old->gw;
	const struct task *t;

	/* Alone in its bucket: no other task in memory has its id, so its folder. */
	if (*task_dir_ref(gw, old->spec->task_id) <= 1)
		return 0;
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
	struct gw *gw = t->gw;
	struct task *old;

	t->disk_bytes = FOLDERS_UNMEASURED;	/* measured if the disk budget needs it */
	TAILQ_INSERT_TAIL(&gw->history, t, entry);
	gw->nhistory++;
	while (gw->nhistory > gw->max_history && (old = TAILQ_FIRST(&gw->history)) != NULL) {
		TAILQ_REMOVE(&gw->history, old, entry);
		gw->nhistory--;
		if (!old->dir_gone && !task_dir_shared(old))
			folders_remove(gw->folders, old->spec->task_id, "gateway.history", old->disk_bytes);
		task_free(old);
	}
	folders_enforce(gw->folders);
}

static void
task_check_drained(struct gw *gw)
{
	if (!gw->draining)
		return;
	/* Uploads waiting for storage wait for it until the grace period ends. */
	if (gw->stopped || task_running_count(gw) > 0 || gw->nupwait > 0 ||
	    !outbox_idle(gw->outbox))
		return;
	gw->stopped = 1;
	log_info("drained", "reported=%" PRIu64, gw->totals[0] + gw->totals[1] +
	    gw->totals[2] + gw->totals[3] + gw->totals[4]);
	event_base_loopexit(gw->base, NULL);
}

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

/*
 * Claim this run's attempt before anything runs (claims.c): an attempt
 * found claimed was interrupted, and this run becomes the next one.
 */
static int
task_claim_attempt(struct task *t, char **cause)
{
	struct gw *gw = t->gw;

	if (claims_take(gw->journal_dir, gw->instance, t->spec->task_id, &t->spec->attempt,
	    t->first_attempt, config_get_int(gw->conf, "runner", "max_attempts"), cause) != 0)
		return -1;
	t->claimed = 1;
	return 0;
}

/* The result is committed: the claims (or pods) of every attempt of this run go. */
static void
task_release_claims(struct task *t)
{
	struct gw *gw = t->gw;

	if (t->first_attempt > 0)
		runner_release(gw->runner, t->spec->task_id, t->first_attempt, t->spec->attempt);
	if (t->claimed)
		claims_release(gw->journal_dir, t->spec->task_id, t->first_attempt,
		    t->spec->attempt);
	t->claimed = 0;
}

/* Where results go: the task's result_prefix, else storage.result_prefix. */
static const char *
task_prefix_base(const struct task *t)
{
	struct gw *gw = t->gw;
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

/* The task's timeout: its timeout_s, else runner.default_timeout_s, capped by runner.max_timeout_s. */
static long
task_timeout_s(const struct task *t)
{
	struct gw *gw = t->gw;
	long timeout = t->spec->timeout_s;
	long max = (long)config_get_int(gw->conf, "runner", "max_timeout_s");

	if (timeout <= 0)
		timeout = (long)config_get_int(gw->conf, "runner", "default_timeout_s");
	return timeout > max ? max : timeout;
}

/* How long downloads may take in all: the task's timeout or storage.fetch_timeout_s. */
static long
task_fetch_limit_s(const struct task *t, const char **which)
{
	struct gw *gw = t->gw;
	long cap = (long)config_get_int(gw->conf, "storage", "fetch_timeout_s");

	if (which != NULL)
		*which = t->timeout_s < cap ? "the task's timeout" : "storage.fetch_timeout_s";
	return t->timeout_s < cap ? t->timeout_s : cap;
}

/*
 * The game of this attempt ran to its end in an earlier life of this
 * gateway (or in this one, and its result went with a revoked
 * partition), and its result was not reported (its launch claim is
 * still held by this instance, no later attempt began): upload what it
 * left instead of running it again. Returns 1 when the task goes on
 * from collecting.
 */
static int
task_recover(struct task *t)
{
	struct gw *gw = t->gw;
	struct outcome_record o;
	char *cause = NULL, *why = NULL;
	int taskfd = -1, outfd = -1, ok;

	if (outcome_read(t->dir, &o, &cause) != 0) {
		if (cause != NULL)
			log_warn("an earlier outcome cannot be used: the game runs again",
			    "task=%s attempt=%d error=%s", log_q(t->spec->task_id), t->spec->attempt,
			    log_q(cause));
		free(cause);
		return 0;
	}
	ok = strcmp(o.task_id, t->spec->task_id) == 0 && strcmp(o.instance, gw->instance) == 0 &&
	    o.attempt >= t->first_attempt &&
	    o.attempt - t->first_attempt < config_get_int(gw->conf, "runner", "max_attempts");
	/* With claims, the attempt must still be ours and the last one begun. */
	if (ok && runner_uses_claims(gw->runner))
		ok = claims_held(gw->journal_dir, gw->instance, t->spec->task_id, o.attempt) &&
		    !claims_exist(gw->journal_dir, t->spec->task_id, o.attempt + 1);
	else if (ok)
		ok = o.attempt == t->spec->attempt;
	if (ok && ((taskfd = folders_task_open(t->gw->folders, t, &cause)) < 0 ||
	    (outfd = taskdir_open_sub(taskfd, "output", &why)) < 0)) {
		if (taskfd >= 0)
			close(taskfd);
		ok = 0;
	} else if (ok) {
		close(outfd);
		close(taskfd);
	}
	free(cause);
	free(why);
	if (!ok) {
		log_info("an earlier outcome does not apply to this delivery: the game runs",
		    "task=%s attempt=%d outcome_attempt=%d outcome_instance=%s",
		    log_q(t->spec->task_id), t->spec->attempt, o.attempt, log_q(o.instance));
		outcome_clear(&o);
		return 0;
	}
	folders_keep(gw->folders, t->spec->task_id);
	t->spec->attempt = o.attempt;
	t->claimed = runner_uses_claims(gw->runner);
	t->timeout_s = task_timeout_s(t);
	task_set_prefix(t);
	if (o.error != NULL)
		task_finish(t, o.status, o.eclass, "%s", o.error);
	else
		task_finish(t, o.status, o.eclass, NULL);
	t->started_ms = o.started_ms;
	t->finished_ms = o.finished_ms;
	/* Finished in an earlier life, or in this one before a rebalance took its result. */
	t->recovered = o.finished_ms < gw->start_ms ?
	    "outputs of the finished game uploaded after a gateway restart" :
	    "outputs of the finished game uploaded after it was delivered again (its result "
	    "had not been committed)";
	gw->recovered_total++;
	log_info("finished game found on disk: uploading its outputs, not running it again",
	    "task=%s attempt=%d status=%s finished_ms=%" PRId64, log_q(t->spec->task_id),
	    o.attempt, log_q(proto_status_name(o.status)), o.finished_ms);
	outcome_clear(&o);
	task_collect(t);
	return 1;
}

/* Record how the game ended before anything is uploaded (outcome.c). */
static void
task_outcome_save(struct task *t)
{
	struct gw *gw = t->gw;
	struct outcome_record o;
	char *cause = NULL;

	memset(&o, 0, sizeof o);
	o.task_id = t->spec->task_id;
	o.attempt = t->spec->attempt;
	o.instance = gw->instance;
	o.status = t->status;
	o.eclass = t->eclass;
	o.error = t->error;
	o.started_ms = t->started_ms;
	o.finished_ms = t->finished_ms;
	if (outcome_write(t->dir, &o, &cause) != 0) {
		log_warn("cannot record the game's outcome: after a restart it would run again",
		    "task=%s attempt=%d error=%s", log_q(t->spec->task_id), t->spec->attempt,
		    log_q(cause));
		free(cause);
	}
}

static void
task_start(struct task *t)
{
	struct gw *gw = t->gw;
	char *cause = NULL;
	const char *prefix;
	int made;

	t->waiting = 0;
	t->first_attempt = t->spec->attempt;
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
	/*
	 * The folder made first: a new one (the usual case) holds no outcome
	 * of an earlier life to look for, nor anything to clear.
	 */
	if ((made = folders_make(gw->folders, t->spec->task_id, &cause)) < 0) {
		task_finish(t, RESULT_ERROR, ERROR_INFRA, "%s", cause);
		free(cause);
		task_report(t);
		return;
	}
	if (!made && task_recover(t))
		return;
	if (runner_uses_claims(gw->runner) && task_claim_attempt(t, &cause) != 0) {
		task_finish(t, RESULT_ERROR, ERROR_INFRA, "%s", cause);
		free(cause);
		task_report(t);
		return;
	}
	task_set_prefix(t);
	if (folders_prepare(gw->folders, t->spec->task_id, t->dir, made, &cause) != 0) {
		task_finish(t, RESULT_ERROR, ERROR_INFRA, "%s", cause);
		free(cause);
		task_report(t);
		return;
	}
	task_set_state(t, TASK_FETCHING);
	t->fetch_step = 0;
	t->timeout_s = task_timeout_s(t);
	t->fetch_deadline_ms = util_mono_ms() + task_fetch_limit_s(t, NULL) * 1000;
	task_fetch_next(t);
}

static void
task_start_waiting(struct gw *gw)
{
	struct task *t, *next;

	/* Revoking: no new game for a partition about to go (kicked after). */
	if (gw->draining || gw->revoking)
		return;
	for (t = TAILQ_FIRST(&gw->active); t != NULL && task_running_count(gw) < gw->max_inflight;
	    t = next) {
		next = TAILQ_NEXT(t, entry);
		if (t->waiting) {
			gw->nwaiting--;
			task_start(t);
		}
	}
}

/* A download that did not finish leaves nothing in input/. */
static void
task_fetch_remove(struct task *t)
{
	char *rel, *cause = NULL;
	int fd;

	if (t->fetch_name == NULL)
		return;
	if ((fd = folders_task_open(t->gw->folders, t, &cause)) >= 0) {
		xasprintf(&rel, "input/%s", t->fetch_name);
		if (unlinkat(fd, rel, 0) != 0 && errno != ENOENT)
			log_warn("cannot remove a partial download",
			    "task=%s attempt=%d file=%s error=%s", log_q(t->spec->task_id),
			    t->spec->attempt, log_q(rel), log_q(strerror(errno)));
		free(rel);
		close(fd);
	} else
		free(cause);
	free(t->fetch_name);
	t->fetch_name = NULL;
}

static void
task_fetch_done(struct storage_xfer *x, enum storage_result r, const char *error, void *arg)
{
	struct task *t = arg;
	const char *what = t->fetch_step == 0 ? "program" : "model", *which;
	long limit;

	t->xfer = NULL;
	if (r != STORAGE_OK) {
		task_fetch_remove(t);
		switch (r) {
		case STORAGE_PERMANENT:
			task_finish(t, RESULT_ERROR, ERROR_INVALID, "downloading the %s: %s", what,
			    error);
			break;
		case STORAGE_TIMEOUT:
			limit = task_fetch_limit_s(t, &which);
			task_finish(t, RESULT_ERROR, ERROR_INFRA, "downloading the %s: %s; downloads "
			    "get %ld s in all (%s)", what, error, limit, which);
			break;
		default:
			task_finish(t, RESULT_ERROR, ERROR_INFRA, "downloading the %s: %s", what,
			    error);
			break;
		}
		task_report(t);
		return;
	}
	free(t->fetch_name);
	t->fetch_name = NULL;
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
	struct gw *gw = t->gw;
	const char *url = t->fetch_step == 0 ? t->spec->program : t->spec->model;
	const char *what = t->fetch_step == 0 ? "program" : "model";
	char *name, *rel, *cause = NULL, *prog;
	int taskfd, fd;

	if (t->fetch_step == 1 && url == NULL)
		t->fetch_step++;
	if (t->fetch_step >= 2) {
		task_launch(t);
		return;
	}
	if (storage_check_url(gw->storage, url, &cause) != 0) {
		task_finish(t, RESULT_ERROR, ERROR_INVALID, "%s: %s", what, cause);
		free(cause);
		task_report(t);
		return;
	}
	name = proto_url_basename(url);
	if (t->fetch_step == 1) {
		prog = proto_url_basename(t->spec->program);
		if (strcmp(prog, name) == 0) {
			task_finish(t, RESULT_ERROR, ERROR_INVALID, "the model's file name %s is the "
			    "program's: input/ cannot hold both", name);
			free(prog);
			free(name);
			task_report(t);
			return;
		}
		free(prog);
	}
	/* A new file of the gateway's, below the folder's own input/, no link followed. */
	if ((taskfd = folders_task_open(t->gw->folders, t, &cause)) < 0) {
		fd = -1;
	} else {
		xasprintf(&rel, "input/%s", name);
		/* Readable and runnable by the game (input/ is read-only to it). */
		fd = taskdir_create(taskfd, rel, 0755, &cause);
		free(rel);
		close(taskfd);
	}
	if (fd < 0) {
		task_finish(t, RESULT_ERROR, ERROR_INFRA, "downloading the %s: %s", what, cause);
		free(cause);
		free(name);
		task_report(t);
		return;
	}
	t->fetch_name = name;
	t->xfer = storage_get(gw->storage, url, fd, t->fetch_deadline_ms, task_fetch_done, t);
}

static void
task_run_started(struct runner_job *job, void *arg)
{
	struct task *t = arg;

	t->job = job;	/* runner_start has not returned yet */
	t->started_ms = util_now_ms();
	task_set_state(t, TASK_RUNNING);
}

/* Name an artifact the gateway would not read, and why (reason is taken over). */
static void
task_refuse(struct task *t, const char *name, char *reason)
{
	log_warn("artifact refused", "task=%s attempt=%d name=%s reason=%s",
	    log_q(t->spec->task_id), t->spec->attempt, log_q(name), log_q(reason));
	if (t->nrefused == TASK_MAX_REFUSED) {
		free(reason);
		return;
	}
	t->refused[t->nrefused].name = xstrdup(name);
	t->refused[t->nrefused].reason = reason;
	t->nrefused++;
}

/* Bytes the artifacts taken so far will upload. */
static off_t
task_artifact_bytes(const struct task *t)
{
	off_t sum = 0;
	size_t i;

	for (i = 0; i < t->narts; i++)
		sum += t->arts[i].bytes;
	return sum;
}

/*
 * Take the artifact name of output/ (outfd) if it is one: 1 taken, 0
 * absent, -1 refused (named in the result). max caps it (max_key names
 * the setting); all of a task's artifacts share storage.max_task_bytes.
 * log.txt over storage.max_log_bytes is cut to its head and tail.
 */
static int
task_add_artifact(struct task *t, int outfd, const char *name, const char *ctype, off_t max,
    const char *max_key)
{
	struct gw *gw = t->gw;
	off_t task_max = (off_t)config_get_int(gw->conf, "storage", "max_task_bytes");
	off_t log_max = (off_t)config_get_int(gw->conf, "storage", "max_log_bytes");
	off_t size, capped;
	struct artifact *a;
	char *why = NULL, *cause = NULL;
	int fd, cfd, cut = 0, is_log = strcmp(name, "log.txt") == 0;

	if (t->narts == TASK_MAX_ARTIFACTS)
		return 0;
	fd = taskdir_artifact_open(outfd, name, is_log ? INT64_MAX : max, max_key, &size, &why);
	if (fd < 0) {
		if (why == NULL)
			return 0;
		task_refuse(t, name, why);
		return -1;
	}
	if (is_log && size > log_max) {
		if ((cfd = taskdir_log_cap(fd, size, log_max, gw->state_dir, &capped, &cause)) < 0) {
			close(fd);
			task_refuse(t, name, cause);
			return -1;
		}
		log_info("log.txt cut to its head and tail (storage.max_log_bytes)",
		    "task=%s attempt=%d bytes=%jd kept=%jd", log_q(t->spec->task_id),
		    t->spec->attempt, (intmax_t)size, (intmax_t)capped);
		close(fd);
		fd = cfd;
		size = capped;
		cut = 1;
	}
	if (size > task_max - task_artifact_bytes(t)) {
		close(fd);
		xasprintf(&why, "%jd bytes, over what is left of storage.max_task_bytes (%jd) after "
		    "the artifacts before it", (intmax_t)size, (intmax_t)task_max);
		task_refuse(t, name, why);
		return -1;
	}
	a = &t->arts[t->narts++];
	memset(a, 0, sizeof *a);
	a->name = xstrdup(name);
	xasprintf(&a->path, "%s/output/%s", t->dir, name);
	a->bytes = size;
	a->fd = fd;
	a->capped = cut;
	a->content_type = ctype;
	a->max = is_log ? INT64_MAX : max;
	a->max_key = max_key;
	xasprintf(&a->url, "%s%s", t->result_prefix, name);
	return 1;
}

/*
 * What the game left in output/: log.txt, result.json (parsed: its
 * "video" names the video, else video.mp4, else video.webm), each
 * opened and checked by taskdir.c; refusals go into the result.
 */
static void
task_collect(struct task *t)
{
	struct gw *gw = t->gw;
	off_t art_max = (off_t)config_get_int(gw->conf, "storage", "max_artifact_bytes");
	off_t json_max = art_max < TASK_RESULT_JSON_MAX ? art_max : TASK_RESULT_JSON_MAX;
	struct artifact *a;
	char *buf, *cause = NULL, *why = NULL;
	const cJSON *v;
	int taskfd, outfd = -1;
	size_t len;

	task_set_state(t, TASK_COLLECTING);
	if ((taskfd = folders_task_open(t->gw->folders, t, &cause)) < 0) {
		log_warn("task folder gone, nothing to upload", "task=%s attempt=%d error=%s",
		    log_q(t->spec->task_id), t->spec->attempt, log_q(cause));
		free(cause);
	} else {
		outfd = taskdir_open_sub(taskfd, "output", &why);
		close(taskfd);
		if (outfd < 0 && why != NULL)
			task_refuse(t, "output", why);
	}
	if (outfd >= 0) {
		task_add_artifact(t, outfd, "log.txt", "text/plain; charset=utf-8", art_max,
		    "storage.max_artifact_bytes");
		if (task_add_artifact(t, outfd, "result.json", "application/json", json_max,
		    art_max < TASK_RESULT_JSON_MAX ? "storage.max_artifact_bytes" :
		    "the result.json limit") == 1) {
			a = &t->arts[t->narts - 1];
			if ((buf = util_read_fd(a->fd, (size_t)json_max, &len, &cause)) != NULL) {
				t->game_result = cJSON_ParseWithLength(buf, len);
				if (t->game_result == NULL || !cJSON_IsObject(t->game_result)) {
					cJSON_Delete(t->game_result);
					t->game_result = NULL;
					log_warn("result.json is not a JSON object",
					    "task=%s attempt=%d", log_q(t->spec->task_id),
					    t->spec->attempt);
				}
				free(buf);
			} else {
				log_warn("cannot read result.json", "task=%s attempt=%d error=%s",
				    log_q(t->spec->task_id), t->spec->attempt, log_q(cause));
				free(cause);
			}
		}
		/* The video the game names, else the usual names. */
		v = t->game_result != NULL ?
		    cJSON_GetObjectItemCaseSensitive(t->game_result, "video") : NULL;
		if (cJSON_IsString(v)) {
			if (!taskdir_name_ok(v->valuestring) || strcmp(v->valuestring, "log.txt") == 0 ||
			    strcmp(v->valuestring, "result.json") == 0)
				task_refuse(t, v->valuestring, xstrdup("result.json's video is not a "
				    "plain file name of its own (letters, digits, '.', '_', '-')"));
			else
				task_add_artifact(t, outfd, v->valuestring, "video/mp4", art_max,
				    "storage.max_artifact_bytes");
		} else if (task_add_artifact(t, outfd, "video.mp4", "video/mp4", art_max,
		    "storage.max_artifact_bytes") == 0)
			task_add_artifact(t, outfd, "video.webm", "video/webm", art_max,
			    "storage.max_artifact_bytes");
		close(outfd);
	}
	task_set_state(t, TASK_UPLOADING);
	t->next_art = 0;
	/* From the game's end: a recovered task keeps the deadline of its first life. */
	t->upload_deadline_ms = (t->finished_ms > 0 ? t->finished_ms : util_now_ms()) +
	    config_get_int(gw->conf, "storage", "upload_deadline_s") * 1000;
	task_upload_next(t);
}

static void
task_run_done(struct runner_job *job, const struct runner_outcome *o, void *arg)
{
	struct task *t = arg;
	struct gw *gw = t->gw;

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
	case RUNNER_INVALID:
		/* Deterministic: another attempt would fail the same way. */
		task_finish(t, RESULT_ERROR, ERROR_INVALID, "%s", o->message);
		break;
	}
	task_outcome_save(t);
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
	struct gw *gw = t->gw;
	long long max = config_get_int(gw->conf, "runner", "max_attempts");
	char *cause = NULL;

	if (t->cancel_requested || t->spec->attempt - t->first_attempt + 1 >= max)
		return 0;
	log_warn("infra failure, running the next attempt", "task=%s attempt=%d next=%d error=%s",
	    log_q(t->spec->task_id), t->spec->attempt, t->spec->attempt + 1, log_q(why));
	t->spec->attempt++;
	if (runner_uses_claims(gw->runner) && task_claim_attempt(t, &cause) != 0) {
		task_finish(t, RESULT_ERROR, ERROR_INFRA, "%s", cause);
		free(cause);
		task_collect(t);
		return 1;
	}
	task_set_prefix(t);
	if (folders_reset_output(t->dir, &cause) != 0) {
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
	struct gw *gw = t->gw;
	struct runner_req req;
	struct runner_job *job;
	char *entry = t->spec->entry != NULL ? xstrdup(t->spec->entry) :
	    proto_url_basename(t->spec->program);
	long timeout = task_timeout_s(t);

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

/*
 * Open an artifact again after a wait (its descriptor was closed then):
 * by name in output/, with the checks and caps of collect; a log is cut
 * again. The descriptor, or -1 with the artifact refused (named in the
 * result).
 */
static int
task_artifact_reopen(struct task *t, struct artifact *a)
{
	struct gw *gw = t->gw;
	off_t log_max = (off_t)config_get_int(gw->conf, "storage", "max_log_bytes");
	off_t size = 0, capped = 0;
	char *why = NULL, *cause = NULL;
	int taskfd, outfd, fd = -1, cfd;

	if ((taskfd = folders_task_open(t->gw->folders, t, &cause)) >= 0) {
		if ((outfd = taskdir_open_sub(taskfd, "output", &why)) >= 0) {
			fd = taskdir_artifact_open(outfd, a->name, a->max, a->max_key, &size, &why);
			close(outfd);
		}
		close(taskfd);
	} else
		why = cause;
	if (fd >= 0 && a->capped) {
		if ((cfd = taskdir_log_cap(fd, size, log_max, gw->state_dir, &capped, &why)) < 0 &&
		    why == NULL)
			xasprintf(&why, "it became shorter while its upload waited");
		close(fd);
		fd = cfd;
		size = capped;
	}
	if (fd >= 0 && size < a->bytes) {
		xasprintf(&why, "it became shorter while its upload waited (%jd bytes, %jd before)",
		    (intmax_t)size, (intmax_t)a->bytes);
		close(fd);
		fd = -1;
	}
	if (fd < 0)
		task_refuse(t, a->name, why != NULL ? why : xstrdup("it is gone"));
	return fd;
}

/*
 * Keep the outputs of a task whose uploads failed: its folder moves to
 * <state_dir>/kept/<task>.<attempt>, out of reach of gateway.history and
 * the disk budget, for an operator to upload by hand.
 */
static void
task_keep_outputs(struct task *t)
{
	struct gw *gw = t->gw;
	char *kept, *path, *cause = NULL;
	size_t i;
	int rc;

	xasprintf(&kept, "%s/kept", gw->state_dir);
	xasprintf(&path, "%s/%s.%d", kept, t->spec->task_id, t->spec->attempt);
	if (util_mkdirs(kept, 0750, &cause) == 0) {
		rc = renameat2(AT_FDCWD, t->dir, AT_FDCWD, path, RENAME_NOREPLACE);
		if (rc != 0 && errno == EEXIST) {
			free(path);
			xasprintf(&path, "%s/%s.%d.%" PRId64, kept, t->spec->task_id,
			    t->spec->attempt, util_now_ms());
			rc = renameat2(AT_FDCWD, t->dir, AT_FDCWD, path, RENAME_NOREPLACE);
		}
		if (rc != 0)
			xasprintf(&cause, "moving %s to %s: %s", t->dir, path, strerror(errno));
	}
	if (cause != NULL) {
		/* Left where it is: no longer the history's to remove either. */
		log_warn("cannot move the outputs to kept/; they stay in the task folder",
		    "task=%s attempt=%d error=%s", log_q(t->spec->task_id), t->spec->attempt,
		    log_q(cause));
		free(cause);
		free(path);
	} else {
		for (i = 0; i < t->narts; i++) {
			free(t->arts[i].path);
			xasprintf(&t->arts[i].path, "%s/output/%s", path, t->arts[i].name);
		}
		free(t->dir);
		t->dir = path;
	}
	free(kept);
	t->kept = 1;
	t->dir_gone = 1;
	gw->kept_total++;
	log_warn("outputs not uploaded: kept on disk", "task=%s attempt=%d dir=%s",
	    log_q(t->spec->task_id), t->spec->attempt, log_q(t->dir));
}

/* An upload failed for good: the result says why and where the outputs are kept. */
static void
task_upload_fail(struct task *t, const char *name, const char *error, int deadline)
{
	struct gw *gw = t->gw;

	task_keep_outputs(t);
	/* The game's own outcome is replaced: its results did not arrive. */
	t->has_outcome = 0;
	if (deadline)
		task_finish(t, RESULT_ERROR, ERROR_INFRA, "uploading %s: %s; storage did not answer "
		    "within storage.upload_deadline_s (%lld s) after the game ended; the outputs are "
		    "kept in %s on %s", name, error,
		    config_get_int(gw->conf, "storage", "upload_deadline_s"), t->dir, gw->instance);
	else
		task_finish(t, RESULT_ERROR, ERROR_INFRA, "uploading %s: %s; the outputs are kept "
		    "in %s on %s", name, error, t->dir, gw->instance);
	task_report(t);
}

/* Wait for storage: no descriptor held, no game slot (uploads.c says when to try again). */
static void
task_upload_park(struct task *t, const char *why)
{
	struct gw *gw = t->gw;
	size_t i;

	for (i = t->next_art; i < t->narts; i++) {
		if (t->arts[i].fd >= 0)
			close(t->arts[i].fd);
		t->arts[i].fd = -1;
	}
	if (why != NULL && (t->upload_error == NULL || strcmp(t->upload_error, why) != 0)) {
		free(t->upload_error);
		t->upload_error = xstrdup(why);
	}
	if (t->upload_wait_ms == 0) {
		t->upload_wait_ms = util_now_ms();
		log_info("uploads wait for storage", "task=%s attempt=%d error=%s deadline_in_s=%"
		    PRId64, log_q(t->spec->task_id), t->spec->attempt, log_q(t->upload_error),
		    (t->upload_deadline_ms - t->upload_wait_ms) / 1000);
	}
	uploads_forget(t);
	task_set_state(t, TASK_UPLOAD_WAIT);
	if (gw->nupwait >= gw->max_upwait && !gw->upwait_full) {
		gw->upwait_full = 1;
		log_warn("intake paused: storage.max_waiting_uploads tasks wait for storage",
		    "waiting=%zu", gw->nupwait);
	}
	/* Its game slot is free for the next task. */
	task_kick(gw);
	task_check_drained(gw);
}

void
task_upload_resume(struct task *t)
{
	task_set_state(t, TASK_UPLOADING);
	task_upload_next(t);
}

void
task_upload_give_up(struct task *t)
{
	task_upload_fail(t, t->arts[t->next_art].name, t->upload_error != NULL ?
	    t->upload_error : "storage did not answer", 1);
}

static void
task_upload_done(struct storage_xfer *x, enum storage_result r, const char *error, void *arg)
{
	struct task *t = arg;
	struct artifact *a = &t->arts[t->next_art];

	t->xfer = NULL;
	if (r != STORAGE_OK) {
		/* Storage away (the network, the VPN, a 5xx): wait for it, up to the deadline. */
		if (r == STORAGE_TRANSIENT && uploads_failed(t, error)) {
			task_upload_park(t, error);
			return;
		}
		/* A refusal is an answer: storage is there, the others may try. */
		if (r == STORAGE_PERMANENT)
			uploads_answered(t);
		task_upload_fail(t, a->name, error, r == STORAGE_TRANSIENT);
		return;
	}
	memcpy(a->sha256, storage_xfer_sha256(x), sizeof a->sha256);
	a->uploaded = 1;
	t->next_art++;
	uploads_answered(t);
	task_upload_next(t);
}

static void
task_upload_next(struct task *t)
{
	struct gw *gw = t->gw;
	struct artifact *a;
	const char *why = NULL;
	int fd;

	for (;;) {
		if (t->next_art >= t->narts) {
			task_report(t);
			return;
		}
		if (uploads_hold(t, &why)) {
			task_upload_park(t, why);
			return;
		}
		a = &t->arts[t->next_art];
		if (a->fd >= 0 || (a->fd = task_artifact_reopen(t, a)) >= 0)
			break;
		t->next_art++;
	}
	/* Sent (and hashed) from the descriptor collect checked; the transfer owns it now. */
	fd = a->fd;
	a->fd = -1;
	t->xfer = storage_put(gw->storage, fd, a->bytes, a->url, a->content_type, task_upload_done,
	    t);
}

/* The error a result or TASK reports: one once the task has an outcome with an error. */
void
task_error_view(const struct task *t, int *has, enum error_class *ec, const char **msg)
{
	*has = t->has_outcome && (t->eclass != ERROR_NONE || t->error != NULL);
	*ec = *has ? t->eclass : ERROR_NONE;
	*msg = *has ? (t->error != NULL ? t->error : "") : NULL;
}

/* The result v1 record of a task (proto/result.c writes it). */
static char *
task_result_encode(const struct task *t)
{
	struct gw *gw = t->gw;
	struct proto_result r;
	struct proto_artifact arts[TASK_MAX_ARTIFACTS];
	struct proto_refused refused[TASK_MAX_REFUSED];
	struct proto_task_gpu gpus[TASK_MAX_GPUS];
	char *urls[TASK_MAX_ARTIFACTS], *game_result = NULL, *text;
	size_t i;
	int has;

	memset(&r, 0, sizeof r);
	r.task_id = t->spec->task_id;
	r.attempt = t->spec->attempt;
	r.status = t->status;
	r.game = t->spec->game;
	if (t->game_result != NULL) {
		if ((text = cJSON_PrintUnformatted(t->game_result)) == NULL)
			fatalx("cannot print a game result");
		game_result = xstrdup(text);
		cJSON_free(text);
		r.game_result = game_result;
	}
	for (i = 0; i < t->narts; i++) {
		const struct artifact *a = &t->arts[i];
		struct proto_artifact *pa;

		if (!a->uploaded)
			continue;
		pa = &arts[r.nartifacts];
		/* Reported as the world may see it: credentials and queries redacted. */
		pa->url = urls[r.nartifacts] = log_redact_url(a->url);
		pa->name = a->name;
		pa->bytes = a->bytes;
		pa->sha256 = a->sha256[0] != '\0' ? a->sha256 : NULL;
		pa->content_type = a->content_type;
		pa->truncated = a->capped;
		if (strcmp(a->name, "log.txt") == 0)
			r.log_url = pa->url;
		else if (strcmp(a->name, "result.json") == 0)
			r.result_url = pa->url;
		else if (strncmp(a->content_type, "video/", 6) == 0)
			r.video_url = pa->url;
		r.nartifacts++;
	}
	r.artifacts = arts;
	for (i = 0; i < t->nrefused; i++) {
		refused[i].name = t->refused[i].name;
		refused[i].reason = t->refused[i].reason;
	}
	r.refused = refused;
	r.nrefused = t->nrefused;
	r.received_ms = t->ts[TASK_RECEIVED];
	r.started_ms = t->started_ms;
	r.finished_ms = t->finished_ms;
	r.reported_ms = t->reported_ms;
	r.duration_ms = t->started_ms != 0 && t->finished_ms != 0 ?
	    t->finished_ms - t->started_ms : -1;
	task_error_view(t, &has, &r.eclass, &r.error);
	r.recovered = t->recovered;
	r.kept = t->kept ? t->dir : NULL;
	r.source_topic = gw->tasks_topic;
	r.source_partition = t->partition;
	r.source_offset = t->offset;
	r.gateway = gw->instance;
	r.gpus = gpus;
	r.ngpus = gpus_task_view(t, gpus, nitems(gpus));
	text = proto_result_encode(&r);
	for (i = 0; i < r.nartifacts; i++)
		free(urls[i]);
	free(game_result);
	return text;
}

static void
task_report(struct task *t)
{
	struct gw *gw = t->gw;

	if (!t->has_outcome)
		task_finish(t, RESULT_ERROR, ERROR_INFRA, "no outcome recorded");
	uploads_forget(t);
	t->reported_ms = util_now_ms();
	gw->nreporting++;
	task_set_state(t, TASK_REPORTING);
	/* Its game slot is free now, not when the transaction commits. */
	event_active(gw->kick_event, EV_TIMEOUT, 0);
	outbox_queue(gw->outbox, COMMIT_RESULT, gw->results_topic, t->spec->task_id,
	    task_result_encode(t), t->partition, t->offset, t);
	task_check_drained(gw);
}

static void
task_dead_letter(struct gw *gw, int32_t partition, int64_t offset, const void *buf, size_t len,
    enum dlq_reason reason, const char *detail, const char *task_id)
{
	char *rec;

	log_warn("task dead-lettered", "partition=%d offset=%" PRId64 " reason=%s task=%s "
	    "attempt=%s detail=%s", (int)partition, offset, log_q(proto_dlq_reason_name(reason)),
	    log_q(task_id != NULL ? task_id : "-"), log_q("-"), log_q(detail));
	gw->dlq_total++;
	gw->dlq_reasons[reason]++;
	rec = proto_dlq_encode(reason, detail, task_id, gw->tasks_topic, partition, offset, buf,
	    len, util_now_ms());
	outbox_queue(gw->outbox, COMMIT_DLQ, gw->dlq_topic, task_id, rec, partition, offset, NULL);
}

void
task_on_message(int32_t partition, int64_t offset, const void *buf, size_t len, void *arg)
{
	struct gw *gw = arg;
	struct task *t;

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
	 * before this task's transaction committed). Its result went to the
	 * committer before the revoke: whether it commits or is dropped (the
	 * partition was given up in between) is decided there. Keep the
	 * message: once reported, the new ledger counts it done; if dropped,
	 * it runs again from this message.
	 */
	TAILQ_FOREACH(t, &gw->active, entry) {
		if (t->partition != partition || t->offset != offset)
			continue;
		log_info("task delivered again after a rebalance while its result is on its way",
		    "task=%s attempt=%d partition=%d offset=%" PRId64 " state=%s",
		    log_q(t->spec->task_id), t->spec->attempt, (int)partition, offset,
		    log_q(proto_state_name(t->state)));
		if (t->state == TASK_REPORTING && t->epoch == gw->epoch)
			ledger_done(gw->ledger, partition, offset);
		else if (t->state == TASK_REPORTING && t->redelivery == NULL) {
			t->redelivery = xcalloc(1, sizeof *t->redelivery);
			t->redelivery->partition = partition;
			t->redelivery->offset = offset;
			t->redelivery->buf = xmalloc(len > 0 ? len : 1);
			memcpy(t->redelivery->buf, buf, len);
			t->redelivery->len = len;
		}
		return;
	}
	task_receive(gw, partition, offset, buf, len);
}

/* A message the ledger let through: a new task, or a dead letter. */
static void
task_receive(struct gw *gw, int32_t partition, int64_t offset, const void *buf, size_t len)
{
	struct proto_task *spec;
	struct task *t;
	enum dlq_reason reason;
	char *detail = NULL, *task_id = NULL;

	if (proto_task_decode(buf, len, &spec, &reason, &detail, &task_id) != 0) {
		task_dead_letter(gw, partition, offset, buf, len, reason, detail, task_id);
		free(detail);
		free(task_id);
		return;
	}
	free(task_id);
	if (task_find_active(gw, spec->task_id) != NULL) {
		xasprintf(&detail, "task %s is already in flight on this gateway", spec->task_id);
		task_dead_letter(gw, partition, offset, buf, len, DLQ_DUPLICATE_TASK, detail,
		    spec->task_id);
		free(detail);
		proto_task_free(spec);
		return;
	}
	t = xcalloc(1, sizeof *t);
	t->gw = gw;
	t->spec = spec;
	t->partition = partition;
	t->offset = offset;
	xasprintf(&t->dir, "%s/tasks/%s", gw->state_dir, spec->task_id);
	(*task_dir_ref(gw, spec->task_id))++;
	TAILQ_INSERT_TAIL(&gw->active, t, entry);
	gw->nactive++;
	task_set_state(t, TASK_RECEIVED);
	log_info("task received", "task=%s attempt=%d game=%s partition=%d offset=%" PRId64,
	    log_q(spec->task_id), spec->attempt, log_q(spec->game), (int)partition, offset);
	if (task_running_count(gw) > gw->max_inflight || gw->draining) {
		t->waiting = 1;
		gw->nwaiting++;
	} else
		task_start(t);
	task_update_intake(gw);
}

/* Start waiting tasks from the loop's next turn (after a revoke). */
void
task_kick(struct gw *gw)
{
	if (gw->kick_event != NULL)
		event_active(gw->kick_event, EV_TIMEOUT, 0);
}

void
task_revoke_partition(struct gw *gw, int32_t partition)
{
	struct task *t, *next;

	for (t = TAILQ_FIRST(&gw->active); t != NULL; t = next) {
		next = TAILQ_NEXT(t, entry);
		if (t->partition != partition || t->state == TASK_REPORTING)
			continue;
		log_warn("partition revoked, task abandoned to its new owner",
		    "task=%s attempt=%d partition=%d offset=%" PRId64, log_q(t->spec->task_id),
		    t->spec->attempt, (int)partition, t->offset);
		task_unlink_active(t);
		task_free(t);
	}
	ledger_forget(gw->ledger, partition);
	task_start_waiting(gw);
}

int
task_cancel(struct gw *gw, const char *id, char **cause)
{
	struct task *t = task_find_active(gw, id);

	if (t == NULL) {
		xasprintf(cause, "no task %s in flight", id);
		return -1;
	}
	if (t->state >= TASK_COLLECTING) {
		xasprintf(cause, "task %s is already %s", id, proto_state_name(t->state));
		return -1;
	}
	log_info("task cancel requested", "task=%s attempt=%d state=%s", log_q(id),
	    t->spec->attempt, log_q(proto_state_name(t->state)));
	t->cancel_requested = 1;
	if (t->waiting) {
		t->waiting = 0;
		gw->nwaiting--;
		task_finish(t, RESULT_CANCELLED, ERROR_NONE, "cancelled by an operator");
		task_report(t);
	} else if (t->job != NULL)
		runner_cancel(t->job);
	else if (t->xfer != NULL && t->state == TASK_FETCHING) {
		/* A download stops now, and what it wrote goes. */
		storage_cancel(t->xfer);
		t->xfer = NULL;
		task_fetch_remove(t);
		task_finish(t, RESULT_CANCELLED, ERROR_NONE, "cancelled by an operator (while "
		    "downloading the %s)", t->fetch_step == 0 ? "program" : "model");
		task_report(t);
	}
	return 0;
}

/* The newest task of that id that ran attempt (as its last one), or NULL. */
static struct task *
task_find_attempt(struct gw *gw, const char *id, int attempt)
{
	struct task *t;

	TAILQ_FOREACH(t, &gw->active, entry)
		if (strcmp(t->spec->task_id, id) == 0 && t->spec->attempt == attempt)
			return t;
	TAILQ_FOREACH_REVERSE(t, &gw->history, task_list, entry)
		if (strcmp(t->spec->task_id, id) == 0 && t->spec->attempt == attempt)
			return t;
	return NULL;
}

int
task_requeue(struct gw *gw, const char *id, int want, int *attempt, int *already, char **cause)
{
	struct task *t = task_find(gw, id), *o;
	char *msg;

	*already = 0;
	if (t == NULL) {
		xasprintf(cause, "no task %s known to this gateway", id);
		return -1;
	}
	if (gw->draining) {
		xasprintf(cause, "the gateway is shutting down");
		return -1;
	}
	/*
	 * Once per attempt: a second requeue before the new attempt arrives
	 * (two operators, a retried paiactl) answers the attempt already
	 * sent instead of sending a duplicate that would be dead-lettered;
	 * asked by attempt, the answer holds whatever came since.
	 */
	o = want > 0 ? task_find_attempt(gw, id, want) : t;
	if (o != NULL && o->requeued_as > 0) {
		*attempt = o->requeued_as;
		*already = 1;
		log_info("task requeued already", "task=%s attempt=%d", log_q(id), *attempt);
		return 0;
	}
	if (want > 0 && want != t->spec->attempt) {
		if (want > t->spec->attempt)
			xasprintf(cause, "task %s has no attempt %d (its latest is %d)", id, want,
			    t->spec->attempt);
		else
			xasprintf(cause, "attempt %d of task %s is not its latest (attempt %d is)", want,
			    id, t->spec->attempt);
		return -1;
	}
	if (t->state != TASK_DONE && t->state != TASK_FAILED) {
		xasprintf(cause, "task %s is %s; cancel it first or wait for its result", id,
		    proto_state_name(t->state));
		return -1;
	}
	msg = proto_task_requeue(t->spec);
	*attempt = t->requeued_as = t->spec->attempt + 1;
	log_info("task requeued", "task=%s attempt=%d", log_q(id), *attempt);
	outbox_queue(gw->outbox, COMMIT_REQUEUE, gw->tasks_topic, id, msg, -1, -1, NULL);
	return 0;
}

/* ---- what intake says (the rebalance_cb pattern: intake reports, this decides) ---- */

void
task_on_assigned(const struct intake_assignment *as, size_t n, void *arg)
{
	struct gw *gw = arg;
	char *cause = NULL;
	size_t i;

	/* Where each partition stands: committed offset and done set restore the ledger. */
	for (i = 0; i < n; i++) {
		if (ledger_restore(gw->ledger, as[i].partition, as[i].committed, as[i].metadata,
		    as[i].metadata_len, &cause) != 0) {
			log_warn("commit metadata ignored", "partition=%d error=%s",
			    (int)as[i].partition, log_q(cause));
			free(cause);
			cause = NULL;
		}
		health_assigned(gw->health, as[i].partition, as[i].committed);
		log_info("partition assigned", "topic=%s partition=%d committed=%" PRId64
		    " resume_after=%" PRId64, log_q(gw->tasks_topic), (int)as[i].partition,
		    as[i].committed, ledger_next(gw->ledger, as[i].partition));
	}
}

void
task_on_settled(void *arg)
{
	task_update_intake(arg);
}

void
task_on_revoked(const int32_t *parts, size_t n, void *arg)
{
	struct gw *gw = arg;
	int timeout_ms = (int)config_get_int(gw->conf, "gateway", "revoke_commit_timeout_ms");
	int64_t t0 = util_now_ms();
	size_t i;

	/*
	 * What is done commits now, while this instance's generation is
	 * still valid: the new owner then reads it (the broker holds its
	 * offset fetch until our transaction ends) instead of running those
	 * tasks again after our late commit is refused. No new game starts
	 * meanwhile for a partition about to go.
	 */
	gw->revoking = 1;
	outbox_flush(gw->outbox);
	if (gw->committer != NULL && committer_inflight(gw->committer) > 0) {
		if (committer_sync(gw->committer, timeout_ms) != 0)
			log_warn("revoke: transactions still open after the timeout; the new owner may "
			    "run their tasks again (results stay exactly once)", "timeout_ms=%d",
			    timeout_ms);
		else
			log_info("revoke: done tasks committed before handing over",
			    "wait_ms=%" PRId64, util_now_ms() - t0);
	}
	for (i = 0; i < n; i++) {
		task_revoke_partition(gw, parts[i]);
		health_revoked(gw->health, parts[i]);
	}
	/* Batches built before now must not commit these partitions' results. */
	gw->epoch++;
	if (gw->committer != NULL)
		committer_set_epoch(gw->committer, gw->epoch);
	gw->revoking = 0;
	task_kick(gw);
}

void
task_on_fatal(const char *reason, void *arg)
{
	task_fatal(arg, "the task consumer cannot go on, stopping", reason);
}

int64_t
task_position(int32_t partition, int64_t committed, void *arg)
{
	struct gw *gw = arg;

	if (gw->intake == NULL || ledger_commit_point(gw->ledger, partition) != committed ||
	    ledger_next(gw->ledger, partition) != committed)
		return -1;
	return intake_position(gw->intake, partition);
}

void
task_fatal(struct gw *gw, const char *msg, const char *error)
{
	log_error(msg, "error=%s", log_q(error != NULL ? error : "unknown"));
	gw->exit_code = 1;
	task_drain(gw, 1);
	event_base_loopexit(gw->base, NULL);
}

/* ---- what the outbox says ---- */

void
task_reported(struct task *t)
{
	struct gw *gw = t->gw;
	cJSON *v;
	enum error_class eclass;
	const char *error;
	int has_error;

	TAILQ_REMOVE(&gw->active, t, entry);
	gw->nactive--;
	gw->nreporting--;
	gw->totals[t->status]++;
	task_set_state(t, t->status == RESULT_SUCCEEDED ? TASK_DONE : TASK_FAILED);
	task_release_claims(t);
	task_error_view(t, &has_error, &eclass, &error);
	if (has_error)
		gw->error_classes[eclass]++;
	/* How it ended, and why when not well: an incident starts from this line. */
	if (has_error)
		log_msg(t->status == RESULT_ERROR ? LOG_LEVEL_WARN : LOG_LEVEL_INFO,
		    "task reported", "task=%s attempt=%d status=%s error_class=%s error=%s "
		    "duration_ms=%" PRId64, log_q(t->spec->task_id), t->spec->attempt,
		    log_q(proto_status_name(t->status)), log_q(proto_class_name(eclass) != NULL ?
		    proto_class_name(eclass) : "none"), log_q(error),
		    t->ts[t->state] - t->ts[TASK_RECEIVED]);
	else
		log_info("task reported", "task=%s attempt=%d status=%s duration_ms=%" PRId64,
		    log_q(t->spec->task_id), t->spec->attempt, log_q(proto_status_name(t->status)),
		    t->ts[t->state] - t->ts[TASK_RECEIVED]);
	if (t->redelivery != NULL) {
		ledger_done(gw->ledger, t->redelivery->partition, t->redelivery->offset);
		free(t->redelivery->buf);
		free(t->redelivery);
		t->redelivery = NULL;
	}
	if (gw->on_reported != NULL)
		gw->on_reported(t);
	if (gw->control != NULL && control_has_subscribers(gw->control) &&
	    (v = views_video(t)) != NULL)
		control_publish(gw->control, PROTO_EVENT_VIDEO, v);
	task_history_add(t);
}

void
task_dropped(struct task *t)
{
	struct gw *gw = t->gw;
	struct task_redelivery *rd = t->redelivery;

	TAILQ_REMOVE(&gw->active, t, entry);
	gw->nactive--;
	gw->nreporting--;
	/* Its claim stays: whoever runs it again runs the next attempt. */
	log_warn("task result dropped: its partition was given up before it committed; its new "
	    "owner runs it", "task=%s attempt=%d partition=%d offset=%" PRId64 " again_here=%s",
	    log_q(t->spec->task_id), t->spec->attempt, (int)t->partition, t->offset,
	    log_q(rd != NULL ? "yes" : "no"));
	t->redelivery = NULL;
	task_free(t);
	if (rd != NULL) {
		task_receive(gw, rd->partition, rd->offset, rd->buf, rd->len);
		free(rd->buf);
		free(rd);
	}
}

void
task_committed(struct gw *gw)
{
	task_start_waiting(gw);
	task_update_intake(gw);
	task_check_drained(gw);
}

static void
task_kick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gw *gw = arg;

	task_start_waiting(gw);
	task_update_intake(gw);
}

static void
task_drain_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gw *gw = arg;
	struct task *t, *next;

	/* Out of grace: abandon what still runs; its offsets stay uncommitted. */
	for (t = TAILQ_FIRST(&gw->active); t != NULL; t = next) {
		next = TAILQ_NEXT(t, entry);
		if (t->state == TASK_REPORTING)
			continue;
		log_warn("grace period over, task abandoned (it will run again after restart, or "
		    "upload what it left)", "task=%s attempt=%d state=%s", log_q(t->spec->task_id),
		    t->spec->attempt, log_q(proto_state_name(t->state)));
		task_unlink_active(t);
		task_free(t);
	}
	outbox_flush(gw->outbox);
	task_check_drained(gw);
}

void
task_drain(struct gw *gw, int exit_code)
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
	    task_running_count(gw), grace);
	/* Waiting tasks never started: leave their offsets uncommitted. */
	for (t = TAILQ_FIRST(&gw->active); t != NULL; t = next) {
		next = TAILQ_NEXT(t, entry);
		if (!t->waiting)
			continue;
		task_unlink_active(t);
		task_free(t);
	}
	task_update_intake(gw);
	gw->drain_timer = evtimer_new(gw->base, task_drain_timer_cb, gw);
	tv.tv_sec = grace;
	tv.tv_usec = 0;
	evtimer_add(gw->drain_timer, &tv);
	outbox_flush(gw->outbox);
	task_check_drained(gw);
}

int
task_init(struct gw *gw, char **cause)
{
	TAILQ_INIT(&gw->active);
	TAILQ_INIT(&gw->history);
	if ((gw->folders = folders_open(gw, cause)) == NULL)
		return -1;
	gw->outbox = outbox_new(gw);
	gw->uploads = uploads_new(gw);
	gw->max_upwait = (size_t)config_get_int(gw->conf, "storage", "max_waiting_uploads");
	gw->kick_event = event_new(gw->base, -1, 0, task_kick_cb, gw);
	return 0;
}

void
task_shutdown(struct gw *gw)
{
	struct task *t;

	while ((t = TAILQ_FIRST(&gw->active)) != NULL) {
		TAILQ_REMOVE(&gw->active, t, entry);
		task_free(t);
	}
	while ((t = TAILQ_FIRST(&gw->history)) != NULL) {
		TAILQ_REMOVE(&gw->history, t, entry);
		task_free(t);
	}
	free(gw->dir_refs);
	gw->dir_refs = NULL;
	outbox_free(gw->outbox);
	gw->outbox = NULL;
	uploads_free(gw->uploads);
	gw->uploads = NULL;
	folders_close(gw->folders);
	gw->folders = NULL;
	if (gw->drain_timer != NULL)
		event_free(gw->drain_timer);
	if (gw->kick_event != NULL)
		event_free(gw->kick_event);
	gw->drain_timer = gw->kick_event = NULL;
}
