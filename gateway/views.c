/*
 * views.c: the gateway as the control socket shows it: TASK, STATUS,
 * VIDEO and POD filled from the loop's state into proto/'s views
 * (proto/ writes the field names), and the control socket's operations
 * over the gateway: logs (logs.c streams them), frame (frames.c runs
 * ffmpeg on the video the task folder holds).
 *
 * Runs in the loop.
 */
#include "config.h"
#include "gateway.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The task's uploaded video artifact, or NULL. */
static const struct artifact *
views_video_artifact(const struct task *t)
{
	size_t i;

	for (i = 0; i < t->narts; i++)
		if (t->arts[i].uploaded && strncmp(t->arts[i].content_type, "video/", 6) == 0)
			return &t->arts[i];
	return NULL;
}

cJSON *
views_video(const struct task *t)
{
	const struct artifact *a = views_video_artifact(t);
	struct proto_video_view v;
	char *url;
	cJSON *j;

	if (a == NULL)
		return NULL;
	memset(&v, 0, sizeof v);
	v.task_id = t->spec->task_id;
	v.attempt = t->spec->attempt;
	v.game = t->spec->game;
	v.status = t->has_outcome ? proto_status_name(t->status) : NULL;
	v.name = a->name;
	v.url = url = log_redact_url(a->url);
	v.content_type = a->content_type;
	v.bytes = (int64_t)a->bytes;
	v.reported_ms = t->ts[TASK_DONE] > t->ts[TASK_FAILED] ? t->ts[TASK_DONE] :
	    t->ts[TASK_FAILED];
	v.local = !t->dir_gone;
	v.path = v.local ? a->path : NULL;
	j = proto_video_view_encode(&v);
	free(url);
	return j;
}

void
views_pod_changed(const struct proto_pod_view *v, void *arg)
{
	struct gw *gw = arg;

	if (gw->control != NULL && control_has_subscribers(gw->control))
		control_publish(gw->control, PROTO_EVENT_POD, proto_pod_view_encode(v));
}

void
views_pods_listed(size_t count, void *arg)
{
	struct gw *gw = arg;
	struct proto_pods_event e;

	if (gw->control != NULL && control_has_subscribers(gw->control)) {
		e.synced = 1;
		e.count = (int64_t)count;
		control_publish(gw->control, PROTO_EVENT_PODS, proto_pods_event_encode(&e));
	}
}

cJSON *
views_task(const struct task *t)
{
	struct proto_task_view v;
	struct proto_refused refused[TASK_MAX_REFUSED];
	struct proto_task_gpu gpus[TASK_MAX_GPUS];
	const cJSON *score;
	char *log_path, *urls[TASK_MAX_ARTIFACTS];
	size_t i, nurls = 0;
	cJSON *j;

	memset(&v, 0, sizeof v);
	v.task_id = t->spec->task_id;
	v.attempt = t->spec->attempt;
	v.game = t->spec->game;
	v.state = t->state;
	v.has_status = t->state == TASK_DONE || t->state == TASK_FAILED ||
	    t->state == TASK_REPORTING;
	v.status = t->status;
	v.waiting = t->waiting;
	v.pid = t->job != NULL ? runner_job_pid(t->job) : -1;
	v.partition = t->partition;
	v.offset = t->offset;
	for (i = 0; i < TASK_NSTATES; i++)
		v.timeline[i] = t->ts[i];
	task_error_view(t, &v.has_error, &v.eclass, &v.error);
	v.dir = t->dir;
	xasprintf(&log_path, "%s/output/log.txt", t->dir);
	v.log_path = log_path;
	for (i = 0; i < t->narts; i++) {
		if (!t->arts[i].uploaded)
			continue;
		/* Reported as the world may see it: credentials and queries redacted. */
		if (strcmp(t->arts[i].name, "log.txt") == 0)
			v.log_url = urls[nurls++] = log_redact_url(t->arts[i].url);
		else if (strncmp(t->arts[i].content_type, "video/", 6) == 0) {
			v.video_url = urls[nurls++] = log_redact_url(t->arts[i].url);
			v.video_path = t->arts[i].path;
		}
	}
	for (i = 0; i < t->nrefused; i++) {
		refused[i].name = t->refused[i].name;
		refused[i].reason = t->refused[i].reason;
	}
	v.refused = refused;
	v.nrefused = t->nrefused;
	v.gpus = gpus;
	v.ngpus = gpus_task_view(t, gpus, nitems(gpus));
	score = t->game_result != NULL ?
	    cJSON_GetObjectItemCaseSensitive(t->game_result, "score") : NULL;
	v.has_score = cJSON_IsNumber(score);
	v.score = v.has_score ? score->valuedouble : 0;
	v.duration_ms = t->started_ms != 0 && t->finished_ms != 0 ?
	    t->finished_ms - t->started_ms : -1;
	if (t->state == TASK_UPLOAD_WAIT) {
		v.upload_waiting_since = t->upload_wait_ms;
		v.upload_next_try = uploads_next_try(t);
		v.upload_deadline = t->upload_deadline_ms;
		v.upload_error = t->upload_error;
	}
	v.recovered = t->recovered;
	j = proto_task_view_encode(&v);
	free(log_path);
	for (i = 0; i < nurls; i++)
		free(urls[i]);
	return j;
}

cJSON *
views_status(struct gw *gw)
{
	struct proto_status_view v;
	struct proto_partition_view *pv;
	const struct task *t;
	uint64_t committed = 0, aborted = 0;
	int32_t *ids;
	size_t i, n;
	cJSON *s;

	memset(&v, 0, sizeof v);
	v.protocol = PROTO_VERSION;
	v.instance = gw->instance;
	v.version = PACKAGE_VERSION;
	v.pid = getpid();
	v.uptime_s = (util_now_ms() - gw->start_ms) / 1000;
	v.embedded = gw->embedded;
	v.bootstrap_servers = gw->bootstrap;
	v.group_id = gw->group_id;
	v.tasks_topic = gw->tasks_topic;
	v.results_topic = gw->results_topic;
	v.dlq_topic = gw->dlq_topic;
	v.max_inflight = (int64_t)gw->max_inflight;
	v.inflight = (int64_t)task_running_count(gw);
	v.backlog = (int64_t)gw->nwaiting;
	v.paused = gw->draining || task_intake_full(gw) || tunnel_intake_paused(gw);
	v.reporting = (int64_t)gw->nreporting;
	v.draining = gw->draining;
	TAILQ_FOREACH(t, &gw->active, entry)
		v.states[t->state]++;
	TAILQ_FOREACH(t, &gw->history, entry)
		v.states[t->state]++;
	for (i = 0; i < RESULT_NSTATUSES; i++)
		v.totals[i] = (int64_t)gw->totals[i];
	v.dlq = (int64_t)gw->dlq_total;
	v.skipped_done = (int64_t)gw->skipped_done;
	if (gw->committer != NULL)
		committer_stats(gw->committer, &committed, &aborted);
	v.tx_committed = (int64_t)committed;
	v.tx_aborted = (int64_t)aborted;
	v.upload_waiting = (int64_t)gw->nupwait;
	tunnel_status(gw, &v);
	n = ledger_partitions(gw->ledger, &ids);
	pv = xcalloc(n + 1, sizeof *pv);
	for (i = 0; i < n; i++) {
		int64_t cp = ledger_commit_point(gw->ledger, ids[i]);
		int64_t high = gw->intake != NULL ? intake_high(gw->intake, ids[i]) : -1;

		pv[i].partition = ids[i];
		pv[i].committed = cp;
		pv[i].next = ledger_next(gw->ledger, ids[i]);
		pv[i].pending = (int64_t)ledger_pending(gw->ledger, ids[i]);
		pv[i].high = high;
		pv[i].lag = high >= 0 && cp >= 0 && high > cp ? high - cp : 0;
		pv[i].paused = gw->intake != NULL && intake_paused(gw->intake, ids[i]);
	}
	v.partitions = pv;
	v.npartitions = n;
	s = proto_status_view_encode(&v);
	free(pv);
	free(ids);
	return s;
}

/*
 * LAG: the partitions this gateway owns as health.c judges them. Its
 * committed offsets are its own commits, so their age is 0; the log end
 * is as old as the lag thread's last answer for it.
 */
cJSON *
views_lag(struct gw *gw, cJSON *obj)
{
	struct proto_lag l;
	struct proto_lag_view *pv;
	struct proto_lag_owner owner = { gw->instance, NULL, NULL, NULL };
	struct proto_lag_sample *samples;
	struct health_view *v;
	int64_t now = util_now_ms();
	char *why = NULL;
	size_t i, n, hist;

	memset(&l, 0, sizeof l);
	n = health_partitions(gw->health, &v);
	pv = xcalloc(n + 1, sizeof *pv);
	hist = (size_t)config_get_int(gw->conf, "health", "history");
	samples = xcalloc(n * hist + 1, sizeof *samples);
	for (i = 0; i < n; i++) {
		pv[i].history = samples + i * hist;
		pv[i].nhistory = gw->health == NULL ? 0 :
		    health_history(gw->health, v[i].partition, samples + i * hist, hist);
		pv[i].partition = v[i].partition;
		pv[i].committed = v[i].committed;
		pv[i].committed_age_s = 0;
		pv[i].log_end = v[i].end;
		pv[i].log_end_age_s = v[i].end_ms > 0 ?
		    (double)(now > v[i].end_ms ? now - v[i].end_ms : 0) / 1000.0 : -1;
		pv[i].lag = v[i].lag;
		pv[i].lag_s = v[i].lag < 0 ? -1 : (double)v[i].lag_ms / 1000.0;
		pv[i].owner = &owner;
		pv[i].status = v[i].status;
		pv[i].healthy = v[i].healthy;
		pv[i].bad_checks = v[i].bad;
		pv[i].why = v[i].why;
		pv[i].error = v[i].query_error;
	}
	l.source = "gateway";
	l.group = gw->group_id;
	l.topic = gw->tasks_topic;
	l.instance = gw->instance;
	l.time_ms = now;
	l.healthy = gw->health == NULL || health_ok(gw->health, &why);
	l.why = why;
	l.partitions = pv;
	l.npartitions = n;
	if (obj == NULL)
		obj = proto_lag_encode(&l);
	else
		proto_lag_encode_into(obj, &l);
	free(why);
	free(samples);
	free(pv);
	free(v);
	return obj;
}

/* ---- the control socket's operations (arg: the struct gw) ---- */

static cJSON *
views_ops_status(void *arg)
{
	return views_status(arg);
}

static cJSON *
views_ops_tasks(const char *state, void *arg)
{
	struct gw *gw = arg;
	const struct task *t;
	enum task_state want = TASK_RECEIVED;
	int filter = 0, active_only = 0;
	cJSON *arr = cJSON_CreateArray();

	if (state != NULL && strcmp(state, "active") == 0)
		active_only = 1;
	else if (state != NULL && proto_state_parse(state, &want) == 0)
		filter = 1;
	TAILQ_FOREACH(t, &gw->active, entry)
		if (!filter || t->state == want)
			cJSON_AddItemToArray(arr, views_task(t));
	if (!active_only) {
		TAILQ_FOREACH(t, &gw->history, entry)
			if (!filter || t->state == want)
				cJSON_AddItemToArray(arr, views_task(t));
	}
	return arr;
}

static cJSON *
views_ops_task(const char *id, char **cause, void *arg)
{
	const struct task *t;

	if ((t = task_find(arg, id)) == NULL) {
		xasprintf(cause, "no task %s known to this gateway", id);
		return NULL;
	}
	return views_task(t);
}

static int
views_ops_cancel(const char *id, char **cause, void *arg)
{
	return task_cancel(arg, id, cause);
}

static int
views_ops_requeue(const char *id, int want, int *attempt, int *already, char **cause,
    void *arg)
{
	return task_requeue(arg, id, want, attempt, already, cause);
}

static void
views_ops_lag(cJSON *r, int check, void *arg)
{
	struct gw *gw = arg;

	views_lag(gw, r);
	if (check)
		health_poke(gw->health);
}

static void
views_ops_pods(cJSON *answer, void *arg)
{
	struct gw *gw = arg;
	struct proto_pod_view *tofree;
	struct proto_pods p;

	runner_pods(gw->runner, &p, &tofree);
	proto_pods_encode(answer, &p);
	free(tofree);
}

/* Finished tasks with a video, newest first. */
static cJSON *
views_ops_videos(void *arg)
{
	struct gw *gw = arg;
	const struct task *t;
	cJSON *arr = cJSON_CreateArray(), *v;

	TAILQ_FOREACH_REVERSE(t, &gw->history, task_list, entry)
		if ((v = views_video(t)) != NULL)
			cJSON_AddItemToArray(arr, v);
	return arr;
}

static struct logs_stream *
views_ops_logs(const char *id, int follow, const struct logs_sink *sink, void *sink_arg,
    cJSON *answer, char **cause, void *arg)
{
	return logs_open(arg, id, follow, sink, sink_arg, answer, cause);
}

/* A frame being made: what its answer needs. */
struct views_frame {
	char *task_id;
	int attempt;
	double at;
	void (*done)(cJSON *, const char *, void *);
	void *done_arg;
};

static void
views_frame_done(const unsigned char *png, size_t len, int width, int height,
    const char *error, void *arg)
{
	struct views_frame *vf = arg;
	struct proto_frame f;
	cJSON *answer = NULL;

	if (error == NULL) {
		memset(&f, 0, sizeof f);
		f.task_id = vf->task_id;
		f.attempt = vf->attempt;
		f.at = vf->at;
		f.width = width;
		f.height = height;
		f.content_type = "image/png";
		f.data = png;
		f.len = len;
		answer = proto_answer_ok();
		cJSON_AddItemToObject(answer, "frame", proto_frame_encode(&f));
	}
	vf->done(answer, error, vf->done_arg);
	cJSON_Delete(answer);
	free(vf->task_id);
	free(vf);
}

/*
 * The video of task id, opened as the game left it in the task folder
 * (no link followed, a regular file of one link, within
 * storage.max_artifact_bytes): the descriptor, or -1 with *cause.
 */
static int
views_video_open(struct gw *gw, const char *id, const struct task **tp, off_t *size,
    char **cause)
{
	const struct task *t = task_find(gw, id);
	const struct artifact *a;
	char *why = NULL, *url;
	int taskfd, outfd, fd;

	if (t == NULL) {
		xasprintf(cause, "no task %s known to this gateway", id);
		return -1;
	}
	if ((a = views_video_artifact(t)) == NULL) {
		if (t->state < TASK_DONE)
			xasprintf(cause, "task %s has no video yet (it is %s)", id,
			    proto_state_name(t->state));
		else
			xasprintf(cause, "task %s has no video", id);
		return -1;
	}
	if (t->dir_gone) {
		url = log_redact_url(a->url);
		/* An http(s) or s3 copy is not downloaded for a still or a piece. */
		xasprintf(cause, "no local copy of the video of task %s (its folder was removed); "
		    "it is at %s", id, url);
		free(url);
		return -1;
	}
	if ((taskfd = folders_task_open(t->gw->folders, t, cause)) < 0)
		return -1;
	outfd = taskdir_open_sub(taskfd, "output", &why);
	close(taskfd);
	fd = outfd < 0 ? -1 : taskdir_artifact_open(outfd, a->name,
	    (off_t)config_get_int(gw->conf, "storage", "max_artifact_bytes"),
	    "storage.max_artifact_bytes", size, &why);
	if (outfd >= 0)
		close(outfd);
	if (fd < 0) {
		xasprintf(cause, "task %s: output/%s is not read: %s", id, a->name,
		    why != NULL ? why : "it is gone");
		free(why);
		return -1;
	}
	*tp = t;
	return fd;
}

static struct frame_job *
views_ops_frame(const char *id, double at, void (*done)(cJSON *, const char *, void *),
    void *done_arg, char **cause, void *arg)
{
	struct gw *gw = arg;
	const struct task *t;
	struct views_frame *vf;
	struct frame_job *job;
	off_t size;
	int fd;

	if ((fd = views_video_open(gw, id, &t, &size, cause)) < 0)
		return NULL;
	vf = xcalloc(1, sizeof *vf);
	vf->task_id = xstrdup(id);
	vf->attempt = t->spec->attempt;
	vf->at = at;
	vf->done = done;
	vf->done_arg = done_arg;
	if ((job = frames_start(gw->frames, fd, at, views_frame_done, vf, cause)) == NULL) {
		free(vf->task_id);
		free(vf);
	}
	return job;
}

/*
 * A piece of a task's video (video_data): at most PROTO_VIDEO_CHUNK_MAX
 * bytes from offset, read from the descriptor views_video_open checked.
 * One read a request: a client asks piece after piece, and the answers
 * it has not read hold up its next requests (control.c's cap), so a
 * download costs the gateway one piece at a time.
 */
static cJSON *
views_ops_video_data(const char *id, int64_t offset, char **cause, void *arg)
{
	struct gw *gw = arg;
	const struct task *t;
	struct proto_video_data d;
	unsigned char *buf;
	off_t size;
	ssize_t n;
	size_t want;
	cJSON *j;
	int fd;

	if ((fd = views_video_open(gw, id, &t, &size, cause)) < 0)
		return NULL;
	want = offset >= (int64_t)size ? 0 : (int64_t)size - offset > PROTO_VIDEO_CHUNK_MAX ?
	    PROTO_VIDEO_CHUNK_MAX : (size_t)((int64_t)size - offset);
	buf = xmalloc(want + 1);
	do
		n = want == 0 ? 0 : pread(fd, buf, want, (off_t)offset);
	while (n < 0 && errno == EINTR);
	close(fd);
	if (n < 0) {
		xasprintf(cause, "task %s: cannot read its video: %s", id, strerror(errno));
		free(buf);
		return NULL;
	}
	memset(&d, 0, sizeof d);
	d.task_id = id;
	d.attempt = t->spec->attempt;
	d.offset = offset;
	d.size = (int64_t)size;
	d.data = buf;
	d.len = (size_t)n;
	j = proto_video_data_encode(&d);
	free(buf);
	return j;
}

static void
views_ops_gpus(cJSON *r, void *arg)
{
	gpus_answer(((struct gw *)arg)->gpus, r);
}

static cJSON *
views_ops_vpn(void *arg)
{
	return tunnel_json(arg);
}

const struct control_ops views_control_ops = {
	views_ops_status,
	views_ops_tasks,
	views_ops_task,
	views_ops_cancel,
	views_ops_requeue,
	views_ops_lag,
	views_ops_pods,
	views_ops_videos,
	views_ops_logs,
	views_ops_frame,
	views_ops_video_data,
	views_ops_gpus,
	views_ops_vpn,
};
