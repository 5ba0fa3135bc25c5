/*
 * logs.c: a task's log, streamed to a control client ("logs"): pieces
 * of at most PROTO_LOG_CHUNK bytes as log events, then one log_end.
 *
 * Where the log is: output/log.txt of the task's folder, which user code
 * writes (once the folder was removed, the uploaded copy when file://
 * storage holds it). It is reached as taskdir.c reaches artifacts: the task folder
 * by descriptor, output/ without following links, log.txt looked at
 * before it is opened (a FIFO, a device or a link is refused by name,
 * never opened) and checked again on the descriptor; then read from
 * that descriptor only, so a name swapped later changes nothing. A
 * following stream polls the file's size (LOGS_POLL_MS) while the game
 * runs; once the task has left "running" it reads the rest and ends. A
 * new attempt (an infra failure run again) empties output/: the stream
 * goes on with the new attempt's log.txt from its start. While a game
 * runs as a pod (runner.type = k8s) a follower gets the pod's log from
 * the API server instead (pods/log?follow), until that stream ends or,
 * once the task has left "running", LOGS_POD_GRACE_MS later; then the
 * end.
 *
 * Bounds: the stream reads only when the sink has room (the client's
 * unread output under the control socket's mark), at most LOGS_TURN
 * bytes a loop turn; a paused stream costs a descriptor and this
 * struct, whatever the log's size. A pod's stream is paused the same
 * way (the API server's connection stops being read).
 *
 * It keeps no list of streams: the control connection owns each one.
 * @locality loop.
 */
#include "config.h"
#include "gateway.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#define LOGS_POLL_MS 250
#define LOGS_TURN (1024 * 1024)
/* A pod's log stream may lag its end: it gets this long to end by itself. */
#define LOGS_POD_GRACE_MS 2000

enum logs_source { LOGS_FILE, LOGS_POD, LOGS_STORED };

struct logs_stream {
	struct gw *gw;
	char *task_id;
	int attempt;
	int follow;
	const struct logs_sink *sink;
	void *sink_arg;
	enum logs_source source;
	int fd;			/* output/log.txt; -1 until it is there */
	int64_t off;		/* of the next byte, in the current source */
	char keep[4];		/* the start of a character cut by the last chunk */
	size_t nkeep;
	struct runner_log *pod;
	int pod_tried;		/* this attempt's pod log was asked for */
	int pod_ended;
	int64_t pod_grace;	/* the game ended: monotonic ms the stream is closed at */
	int paused;
	struct event *ev;
};

static void logs_schedule(struct logs_stream *, int ms);

/* Send one chunk of raw bytes (with what the last one kept); final flushes. */
static void
logs_emit(struct logs_stream *s, const char *raw, size_t len, int final)
{
	struct proto_log_chunk c;
	char buf[PROTO_LOG_CHUNK + sizeof s->keep], *text;
	size_t n = s->nkeep, keep;

	memcpy(buf, s->keep, n);
	memcpy(buf + n, raw, len);
	n += len;
	if (n == 0)
		return;
	text = proto_log_text(buf, n, final, &keep);
	memcpy(s->keep, buf + n - keep, keep);
	memset(&c, 0, sizeof c);
	c.task_id = s->task_id;
	c.attempt = s->attempt;
	c.source = s->source == LOGS_POD ? "pod" : s->source == LOGS_STORED ? "stored" : "file";
	c.offset = s->off - (int64_t)s->nkeep;
	c.bytes = (int64_t)(n - keep);
	c.data = text;
	s->off += (int64_t)len;
	s->nkeep = keep;
	if (c.bytes > 0 || final)
		s->sink->event(PROTO_EVENT_LOG, proto_log_chunk_encode(&c), s->sink_arg);
	free(text);
}

/* The last event: the stream is freed after. */
static void
logs_end(struct logs_stream *s, enum proto_log_reason reason, const char *error)
{
	struct proto_log_end e;
	const struct logs_sink *sink = s->sink;
	void *arg = s->sink_arg;
	cJSON *payload;

	if (s->nkeep > 0)
		logs_emit(s, "", 0, 1);
	memset(&e, 0, sizeof e);
	e.task_id = s->task_id;
	e.attempt = s->attempt;
	e.reason = reason;
	e.bytes = s->off;
	e.error = error;
	payload = proto_log_end_encode(&e);
	logs_close(s);
	sink->event(PROTO_EVENT_LOG_END, payload, arg);
}

/* How a finished game's stream ends, from its task's status. */
static enum proto_log_reason
logs_reason(const struct task *t)
{
	if (!t->has_outcome)
		return PROTO_LOG_FAILED;
	switch (t->status) {
	case RESULT_SUCCEEDED:
		return PROTO_LOG_DONE;
	case RESULT_CANCELLED:
		return PROTO_LOG_CANCELLED;
	default:
		return PROTO_LOG_FAILED;
	}
}

/*
 * Open output/log.txt of t: 1 opened, 0 not there (yet), -1 refused or
 * unreachable with *cause.
 */
static int
logs_file_open(struct logs_stream *s, const struct task *t, char **cause)
{
	char *why = NULL;
	off_t size;
	size_t i;
	int taskfd, outfd;

	if (t->dir_gone) {
		/* Its uploaded copy, when the gateway's own storage holds it. */
		for (i = 0; i < t->narts; i++)
			if (strcmp(t->arts[i].name, "log.txt") == 0 && t->arts[i].uploaded)
				break;
		if (i < t->narts && (s->fd = storage_open_local(s->gw->storage, t->arts[i].url,
		    &why)) >= 0) {
			s->source = LOGS_STORED;
			s->off = 0;
			s->nkeep = 0;
			return 1;
		}
		xasprintf(cause, "the folder of task %s was removed (gateway.history, "
		    "gateway.disk_budget_mb)%s%s", t->spec->task_id, i < t->narts ?
		    "; its uploaded log: " : "", i < t->narts ? why : "");
		free(why);
		return -1;
	}
	if ((taskfd = folders_task_open(t->gw->folders, t, cause)) < 0)
		return -1;
	outfd = taskdir_open_sub(taskfd, "output", &why);
	close(taskfd);
	if (outfd < 0) {
		if (why == NULL)
			return 0;
		xasprintf(cause, "task %s: output/ is not read: %s", t->spec->task_id, why);
		free(why);
		return -1;
	}
	s->fd = taskdir_artifact_open(outfd, "log.txt", INT64_MAX, "no limit", &size, &why);
	close(outfd);
	if (s->fd < 0) {
		if (why == NULL)
			return 0;
		xasprintf(cause, "task %s: output/log.txt is not read: %s", t->spec->task_id, why);
		free(why);
		return -1;
	}
	s->source = LOGS_FILE;
	s->off = 0;
	s->nkeep = 0;
	return 1;
}

/* ---- the pod's log ---- */

static int
logs_pod_chunk(const char *data, size_t len, void *arg)
{
	struct logs_stream *s = arg;
	size_t n;

	if (!s->sink->room(s->sink_arg)) {
		s->paused = 1;
		return 1;
	}
	while (len > 0) {
		n = len > PROTO_LOG_CHUNK ? PROTO_LOG_CHUNK : len;
		logs_emit(s, data, n, 0);
		data += n;
		len -= n;
	}
	return 0;
}

static void
logs_pod_end(const char *error, void *arg)
{
	struct logs_stream *s = arg;

	s->pod = NULL;
	s->pod_ended = 1;
	if (error != NULL && s->off == 0) {
		/* Nothing came (no log yet, refused): the task folder's log.txt instead. */
		log_debug("pod log unavailable, reading log.txt", "task=%s attempt=%d error=%s",
		    log_q(s->task_id), s->attempt, log_q(error));
		s->source = LOGS_FILE;
	}
	logs_schedule(s, 0);
}

static const struct runner_log_cbs logs_pod_cbs = { logs_pod_chunk, logs_pod_end };

/* ---- the stream ---- */

static void
logs_step(struct logs_stream *s)
{
	struct gw *gw = s->gw;
	struct task *t = task_find(gw, s->task_id);
	char buf[PROTO_LOG_CHUNK], *cause = NULL;
	size_t turn = 0;
	ssize_t n;
	int finished, r;

	if (t == NULL) {
		logs_end(s, PROTO_LOG_GONE, NULL);
		return;
	}
	/* Seen before reading to the end: a game over now wrote all it will. */
	finished = t->state >= TASK_COLLECTING;
	if (t->spec->attempt != s->attempt && (t->state >= TASK_LAUNCHING || finished)) {
		/* The next attempt: its own log.txt, from its start. */
		if (s->pod != NULL)
			runner_log_close(gw->runner, s->pod);
		if (s->fd >= 0)
			close(s->fd);
		s->pod = NULL;
		s->fd = -1;
		s->attempt = t->spec->attempt;
		s->pod_tried = s->pod_ended = 0;
		s->pod_grace = 0;
		s->source = LOGS_FILE;
		s->off = 0;
		s->nkeep = 0;
	}
	if (s->follow && !s->pod_tried && t->state == TASK_RUNNING && s->fd < 0) {
		s->pod_tried = 1;
		if ((s->pod = runner_log_open(gw->runner, s->task_id, s->attempt, &logs_pod_cbs,
		    s)) != NULL) {
			s->source = LOGS_POD;
			logs_schedule(s, LOGS_POLL_MS);
			return;
		}
	}
	if (s->source == LOGS_POD) {
		if (s->pod != NULL && finished) {
			if (s->pod_grace == 0)
				s->pod_grace = util_mono_ms() + LOGS_POD_GRACE_MS;
			else if (util_mono_ms() >= s->pod_grace) {
				/* The API server may follow a deleted pod's log for ever. */
				runner_log_close(gw->runner, s->pod);
				s->pod = NULL;
			}
		}
		if (s->pod != NULL) {
			if (s->paused && s->sink->room(s->sink_arg)) {
				s->paused = 0;
				runner_log_resume(gw->runner, s->pod);
			}
			logs_schedule(s, LOGS_POLL_MS);
			return;
		}
		if (finished)
			logs_end(s, logs_reason(t), NULL);
		else
			logs_schedule(s, LOGS_POLL_MS);
		return;
	}
	if (s->fd < 0 && (r = logs_file_open(s, t, &cause)) <= 0) {
		if (r < 0) {
			logs_end(s, PROTO_LOG_ERROR, cause);
			free(cause);
		} else if (!s->follow)
			logs_end(s, PROTO_LOG_EOF, NULL);
		else if (finished)
			logs_end(s, logs_reason(t), NULL);
		else
			logs_schedule(s, LOGS_POLL_MS);
		return;
	}
	for (;;) {
		if (!s->sink->room(s->sink_arg)) {
			s->paused = 1;	/* logs_resume goes on */
			return;
		}
		if (turn >= LOGS_TURN) {
			logs_schedule(s, 0);
			return;
		}
		n = pread(s->fd, buf, sizeof buf, s->off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			xasprintf(&cause, "reading output/log.txt: %s", strerror(errno));
			logs_end(s, PROTO_LOG_ERROR, cause);
			free(cause);
			return;
		}
		if (n == 0)
			break;
		logs_emit(s, buf, (size_t)n, 0);
		turn += (size_t)n;
	}
	if (!s->follow)
		logs_end(s, PROTO_LOG_EOF, NULL);
	else if (finished && t->spec->attempt == s->attempt)
		logs_end(s, logs_reason(t), NULL);
	else
		logs_schedule(s, LOGS_POLL_MS);
}

static void
logs_cb(evutil_socket_t fd, short what, void *arg)
{
	logs_step(arg);
}

static void
logs_schedule(struct logs_stream *s, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	if (ms == 0)
		event_active(s->ev, EV_TIMEOUT, 1);
	else
		evtimer_add(s->ev, &tv);
}

struct logs_stream *
logs_open(struct gw *gw, const char *id, int follow, const struct logs_sink *sink,
    void *sink_arg, cJSON *answer, char **cause)
{
	struct task *t = task_find(gw, id);
	struct logs_stream *s;
	int r;

	if (t == NULL) {
		xasprintf(cause, "no task %s known to this gateway", id);
		return NULL;
	}
	s = xcalloc(1, sizeof *s);
	s->gw = gw;
	s->task_id = xstrdup(id);
	s->attempt = t->spec->attempt;
	s->follow = follow;
	s->sink = sink;
	s->sink_arg = sink_arg;
	s->fd = -1;
	s->ev = evtimer_new(gw->base, logs_cb, s);
	/* What cannot be read is said now, in the answer. */
	if (!(follow && t->state == TASK_RUNNING && gw->runner->ops->log_open != NULL)) {
		if ((r = logs_file_open(s, t, cause)) < 0) {
			logs_close(s);
			return NULL;
		}
		if (r == 0 && (!follow || t->state >= TASK_COLLECTING)) {
			if (t->state < TASK_RUNNING)
				xasprintf(cause, "task %s has no log yet (it is %s)", id,
				    proto_state_name(t->state));
			else
				xasprintf(cause, "task %s has no log (its game left no output/log.txt)",
				    id);
			logs_close(s);
			return NULL;
		}
	}
	cJSON_AddStringToObject(answer, "task_id", id);
	cJSON_AddNumberToObject(answer, "attempt", s->attempt);
	cJSON_AddBoolToObject(answer, "follow", follow);
	cJSON_AddStringToObject(answer, "state", proto_state_name(t->state));
	logs_schedule(s, 0);
	return s;
}

void
logs_resume(struct logs_stream *s)
{
	if (!s->paused)
		return;
	if (s->source == LOGS_POD && s->pod != NULL) {
		s->paused = 0;
		runner_log_resume(s->gw->runner, s->pod);
		return;
	}
	s->paused = 0;
	logs_schedule(s, 0);
}

void
logs_close(struct logs_stream *s)
{
	if (s == NULL)
		return;
	if (s->pod != NULL)
		runner_log_close(s->gw->runner, s->pod);
	if (s->fd >= 0)
		close(s->fd);
	event_free(s->ev);
	free(s->task_id);
	free(s);
}
