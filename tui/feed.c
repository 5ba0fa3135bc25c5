/*
 * feed.c: the console's one connection to the gateway and the only user
 * of it (client/'s conn, over a Unix socket or SSH). It follows
 * docs/control.md "Notes for the console": subscribe, then ask status,
 * tasks and lag; keep the model current from the events; ask lag again
 * every few seconds (it has no events); after a resync ask everything
 * afresh. The open task's full view is asked when it opens and again
 * after each of its events, one request at a time. Pods, the VPN and
 * videos are asked once a connection, then kept current by their
 * events; pods again after a pods event (the gateway listed them
 * afresh), unless a pods request is out (its answer, read after the
 * event, was made after it). The log shown is followed on the same connection (logs with
 * follow): its chunks and end come as events. Requeue and cancel go on
 * the same connection; their answers come back in order. The frame
 * previewed is asked one request at a time (the gateway's ffmpeg makes
 * it; a newer wish waits for the answer out), and a video for the
 * player in pieces (video_data), each asked by player.c once the one
 * before is written.
 *
 * One log is streamed: the shown one's. When another task's log is
 * shown, the stream of the one before is stopped (logs with stop) ahead
 * of the new request, so the gateway's cap (FEED_STREAMS_MAX a
 * connection) is never met however many logs are browsed; leaving the
 * view keeps the stream, so the log is current when the view is back.
 * The feed keeps the streams it asked for, at most one a task (the
 * gateway refuses a second): one leaves on its stop's answer or its
 * log_end, whichever comes first. Chunks of a task no longer shown,
 * sent before the stop's answer, are dropped by the model. A log shown
 * again while its stream is being stopped is asked afresh once the stop
 * is answered, its lines started over then (what came meanwhile was the
 * old stream's). A gateway that does not know stop (an older one)
 * refuses it: its stream goes on until its end, counted against the cap
 * as before, and no other stop is asked on that connection (every
 * stream then counts, so a ninth is not asked while eight go on).
 *
 * Every request is built by proto/ (proto_request_build) and every
 * answer handed to the model, which decodes it through proto/.
 *
 * The connection is driven from the libevent base: one event on its
 * descriptor (or a timer alone while there is none), re-armed after
 * each thing it does, as curl's multi-socket glue is.
 */
#include "config.h"
#include "tui.h"

#include <malloc.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "client.h"
#include "common.h"

#define FEED_LAG_MS 2000
#define FEED_IDLE_MS 3000
#define FEED_BACKOFF_MAX_MS 2000
#define FEED_ANSWER_MS 5000
/*
 * A frame waits for ffmpeg (control.frame_timeout_s, 10 s by default),
 * a piece of video for 256 KiB over a slow link: as paiactl waits.
 */
#define FEED_SLOW_MS 60000
#define FEED_STREAMS_MAX 8		/* the gateway's cap a connection (docs/control.md) */

/* A log stream asked on this connection. */
struct feed_stream {
	uint64_t seq;			/* its requests' tag: an id may be asked again */
	char id[TASK_ID_MAX + 1];
	int stopping;			/* a stop is out */
	TAILQ_ENTRY(feed_stream) entry;
};
TAILQ_HEAD(feed_streams, feed_stream);

struct feed {
	struct event_base *base;
	struct con_model *m;
	struct client_conn *conn;
	char *name;
	int64_t (*mono)(void);

	struct event *ev;		/* the connection's descriptor and deadline */
	struct event *tick;		/* asks lag again */
	int freeing;

	int lag_asked;			/* a lag request is out */
	int detail_asked;		/* a task request is out */
	int detail_again;		/* and another is wanted after it */
	int frame_asked;		/* a frame request is out */
	int frame_again;		/* model->frame wants another after it */
	int pods_out;			/* pods requests out */

	struct feed_streams streams;	/* asked, oldest first */
	uint64_t stream_seq;
	int no_stop;			/* the gateway refused a stop: streams end with log_end */
};

/* A request's context: which feed, and the caller's callback for actions. */
struct feed_req {
	struct feed *f;
	enum proto_cmd cmd;
	char id[TASK_ID_MAX + 1];
	uint64_t stream;		/* logs: the stream it starts or stops */
	int stop;
	feed_done_cb *done;
	feed_piece_cb *piece;
	void *arg;
};

static void feed_arm(struct feed *);
static void feed_stream_free(struct feed *, struct feed_stream *);
static struct feed_stream *feed_stream_find(struct feed *, uint64_t);
static void feed_stop_answer(struct feed *, const struct feed_req *, const char *error);

/* A gateway that does not know a command says so: the source is not offered, not failing. */
static enum con_offer
feed_offer(const char *error)
{
	return strncmp(error, "unknown command", 15) == 0 ? CON_OFFER_NO : CON_OFFER_YES;
}

const char *
feed_name(const struct feed *f)
{
	return f->name;
}

/*
 * The answer for a source a gateway may not offer (gpus, pods, vpn,
 * videos): into the model, or the refusal (an unknown command: not
 * offered) or the decode's failure on the source.
 */
static void
feed_source_answer(struct feed *f, enum con_src src,
    int (*take)(struct con_model *, const cJSON *, int64_t, char **), const cJSON *answer,
    const char *error)
{
	char *cause = NULL;

	if (error == NULL && take(f->m, answer, f->mono(), &cause) != 0)
		error = cause;
	if (error != NULL)
		con_model_source(f->m, src, feed_offer(error), error, f->mono());
	free(cause);
}

static void
feed_answer_cb(struct client_conn *c, cJSON *answer, const char *error, void *arg)
{
	struct feed_req *r = arg;
	struct feed *f = r->f;
	struct con_model *m = f->m;
	const char *id;
	char *cause = NULL, *text;
	int attempt;

	if (f->freeing) {
		if (r->done != NULL)
			r->done(r->arg, 0, "connection closed");
		if (r->piece != NULL)
			r->piece(r->arg, NULL, "connection closed");
		cJSON_Delete(answer);
		free(r);
		return;
	}
	switch (r->cmd) {
	case PROTO_CMD_SUBSCRIBE:
		if (error != NULL)
			con_model_source(m, CON_SRC_TASKS, CON_OFFER_YES, error, f->mono());
		break;
	case PROTO_CMD_STATUS:
		if (error == NULL && con_model_status_answer(m, answer, f->mono(), &cause) != 0)
			error = cause;
		if (error != NULL)
			con_model_source(m, CON_SRC_STATUS, CON_OFFER_YES, error, f->mono());
		break;
	case PROTO_CMD_TASKS:
		if (error == NULL && con_model_tasks_answer(m, answer, f->mono(), &cause) != 0)
			error = cause;
		/*
		 * The parse of a long list (10,000 tasks: tens of MB) is freed in
		 * small pieces among the model's: give the pages back now, or the
		 * console keeps the peak as its size.
		 */
		cJSON_Delete(answer);
		answer = NULL;
#ifdef __GLIBC__
		malloc_trim(0);
#endif
		if (error != NULL)
			con_model_source(m, CON_SRC_TASKS, CON_OFFER_YES, error, f->mono());
		break;
	case PROTO_CMD_LAG:
		f->lag_asked = 0;
		if (error == NULL && con_model_lag_answer(m, answer, f->mono(), &cause) != 0)
			error = cause;
		if (error != NULL)
			con_model_source(m, CON_SRC_LAG, CON_OFFER_YES, error, f->mono());
		break;
	case PROTO_CMD_GPUS:
		feed_source_answer(f, CON_SRC_GPUS, con_model_gpus_answer, answer, error);
		break;
	case PROTO_CMD_PODS:
		f->pods_out--;
		feed_source_answer(f, CON_SRC_PODS, con_model_pods_answer, answer, error);
		break;
	case PROTO_CMD_VPN:
		feed_source_answer(f, CON_SRC_VPN, con_model_vpn_answer, answer, error);
		break;
	case PROTO_CMD_VIDEOS:
		feed_source_answer(f, CON_SRC_VIDEOS, con_model_videos_answer, answer, error);
		break;
	case PROTO_CMD_LOGS:
		if (r->stop)
			feed_stop_answer(f, r, error);
		else if (error == NULL)
			con_model_source(m, CON_SRC_LOGS, CON_OFFER_YES, NULL, f->mono());
		else {
			feed_stream_free(f, feed_stream_find(f, r->stream));
			if (feed_offer(error) == CON_OFFER_NO)
				con_model_source(m, CON_SRC_LOGS, CON_OFFER_NO, error, f->mono());
			else
				con_model_log_fail(m, r->id, error);
		}
		break;
	case PROTO_CMD_TASK:
		f->detail_asked = 0;
		if (error != NULL)
			con_model_detail_fail(m, error);
		else {
			if (con_model_detail_answer(m, answer, &cause) != 0)
				con_model_detail_fail(m, cause);
			answer = NULL;	/* the model took it */
		}
		if (f->detail_again) {
			f->detail_again = 0;
			feed_task(f, m->detail.id);
		}
		break;
	case PROTO_CMD_FRAME:
		f->frame_asked = 0;
		if (error != NULL)
			con_model_frame_fail(m, r->id, error);
		else
			(void)con_model_frame_answer(m, r->id, answer, &cause);
		if (f->frame_again) {
			f->frame_again = 0;
			feed_frame(f, m->frame.id, m->frame.at);
		}
		break;
	case PROTO_CMD_VIDEO_DATA: {
		struct proto_video_data d;

		if (error == NULL && proto_video_data_decode(cJSON_GetObjectItemCaseSensitive(answer,
		    "video_data"), &d, &cause) != 0)
			error = cause;
		r->piece(r->arg, error == NULL ? &d : NULL, error);
		if (error == NULL)
			proto_video_data_clear(&d);
		break;
	}
	case PROTO_CMD_REQUEUE:
		if (error == NULL && proto_answer_requeue(answer, &id, &attempt, &cause) != 0)
			error = cause;
		if (error != NULL)
			xasprintf(&text, "requeue %s refused: %s", r->id, error);
		else
			xasprintf(&text, "requeued %s as attempt %d", r->id, attempt);
		r->done(r->arg, error == NULL, text);
		free(text);
		break;
	case PROTO_CMD_CANCEL:
		if (error == NULL && proto_answer_cancel(answer, &id, &cause) != 0)
			error = cause;
		if (error != NULL)
			xasprintf(&text, "cancel %s refused: %s", r->id, error);
		else
			xasprintf(&text, "cancelling %s (it ends as cancelled)", r->id);
		r->done(r->arg, error == NULL, text);
		free(text);
		break;
	default:
		break;
	}
	free(cause);
	cJSON_Delete(answer);
	free(r);
}

/* Queue one request (built by proto/) with its context; stream: the log stream it is about. */
static void
feed_ask_req(struct feed *f, const struct proto_request *req, uint64_t stream,
    feed_done_cb *done, feed_piece_cb *piece, void *arg)
{
	struct feed_req *r = xcalloc(1, sizeof *r);
	enum proto_cmd cmd = req->cmd;
	const char *id = req->id;
	cJSON *j;
	char *line;

	line = proto_request_build(req);
	if ((j = cJSON_Parse(line)) == NULL)
		fatalx("console: a request proto/ built does not parse: %s", line);
	free(line);
	r->f = f;
	r->cmd = cmd;
	if (cmd == PROTO_CMD_PODS)
		f->pods_out++;
	if (id != NULL)
		snprintf(r->id, sizeof r->id, "%s", id);
	r->stream = stream;
	r->stop = req->stop;
	r->done = done;
	r->piece = piece;
	r->arg = arg;
	client_conn_request(f->conn, j, cmd == PROTO_CMD_FRAME || cmd == PROTO_CMD_VIDEO_DATA ?
	    FEED_SLOW_MS : FEED_ANSWER_MS, feed_answer_cb, r);
	cJSON_Delete(j);
	feed_arm(f);
}

static void
feed_ask(struct feed *f, enum proto_cmd cmd, const char *id, feed_done_cb *done, void *arg)
{
	struct proto_request req;

	memset(&req, 0, sizeof req);
	req.cmd = cmd;
	req.id = (char *)id;
	feed_ask_req(f, &req, 0, done, NULL, arg);
}

static struct feed_stream *
feed_stream_find(struct feed *f, uint64_t seq)
{
	struct feed_stream *s;

	TAILQ_FOREACH(s, &f->streams, entry)
		if (s->seq == seq)
			return s;
	return NULL;
}

/* The stream of that task (one at most). */
static struct feed_stream *
feed_stream_of(struct feed *f, const char *id)
{
	struct feed_stream *s;

	TAILQ_FOREACH(s, &f->streams, entry)
		if (strcmp(s->id, id) == 0)
			return s;
	return NULL;
}

/* That stream is over (ended, stopped or refused): the task's log may be asked again. */
static void
feed_stream_free(struct feed *f, struct feed_stream *s)
{
	if (s == NULL)
		return;
	TAILQ_REMOVE(&f->streams, s, entry);
	free(s);
}

static void
feed_streams_clear(struct feed *f)
{
	while (!TAILQ_EMPTY(&f->streams))
		feed_stream_free(f, TAILQ_FIRST(&f->streams));
}

/* Ask the gateway to end a stream: it is over on the answer. */
static void
feed_stream_stop(struct feed *f, struct feed_stream *s)
{
	struct proto_request req;

	s->stopping = 1;
	memset(&req, 0, sizeof req);
	req.cmd = PROTO_CMD_LOGS;
	req.id = s->id;
	req.stop = 1;
	feed_ask_req(f, &req, s->seq, NULL, NULL, NULL);
}

/*
 * A stop answered (or failed with the connection). A gateway that does
 * not know stop leaves the stream running: it ends with its log_end.
 * When the log shown is that task's again and no stream of it is left
 * (it was shown anew while being stopped), its lines start over and it
 * is asked afresh: what came meanwhile was the stopped stream's.
 */
static void
feed_stop_answer(struct feed *f, const struct feed_req *r, const char *error)
{
	struct feed_stream *s = feed_stream_find(f, r->stream);

	if (s != NULL) {
		if (error != NULL && strncmp(error, "unknown field", 13) == 0) {
			s->stopping = 0;
			f->no_stop = 1;
		} else
			feed_stream_free(f, s);
	}
	if (strcmp(f->m->log.id, r->id) == 0 && feed_stream_of(f, r->id) == NULL &&
	    client_conn_connected(f->conn)) {
		con_model_log_restart(f->m);
		feed_log(f, r->id);
	}
}

/* A log_end event: that stream is over (other lines are left alone). */
static void
feed_stream_event(struct feed *f, const char *line)
{
	struct proto_log_end e;
	enum proto_event_type type;
	const cJSON *payload;
	cJSON *root;
	char *cause = NULL;

	if (strstr(line, "log_end") == NULL)
		return;
	if (proto_event_parse(line, strlen(line), &root, &type, &payload, &cause) == 0) {
		if (type == PROTO_EVENT_LOG_END && proto_log_end_decode(payload, &e, &cause) == 0 &&
		    e.task_id != NULL)
			feed_stream_free(f, feed_stream_of(f, e.task_id));
		cJSON_Delete(root);
	}
	free(cause);
}

static void
feed_event_cb(struct client_conn *c, cJSON *event, const char *line, void *arg)
{
	struct feed *f = arg;
	struct con_model *m = f->m;
	struct con_task *t;
	uint64_t before = m->seq, listed = m->pods_listed;
	char *cause = NULL;

	cJSON_Delete(event);
	if (f->freeing)
		return;
	feed_stream_event(f, line);
	if (con_model_event(m, line, strlen(line), f->mono(), &cause) == 0 &&
	    m->detail.id[0] != '\0' && (t = con_model_task(m, m->detail.id)) != NULL &&
	    t->touched > before)
		feed_task(f, m->detail.id);	/* the open task changed */
	/* The gateway listed its pods afresh, not as pod events: ask for them. */
	if (m->pods_listed != listed && f->pods_out == 0)
		feed_ask(f, PROTO_CMD_PODS, NULL, NULL, NULL);
	free(cause);
}

static void
feed_state_cb(struct client_conn *c, enum client_conn_state st, const char *error, void *arg)
{
	struct feed *f = arg;
	struct con_model *m = f->m;

	if (f->freeing)
		return;
	switch (st) {
	case CLIENT_CONN_UP:
	case CLIENT_CONN_RESYNC:
		/* Subscribe first: nothing that happens after the lists is missed. */
		con_model_link(m, CON_LINK_UP, NULL, f->mono());
		f->lag_asked = f->detail_asked = f->detail_again = 0;
		f->frame_asked = f->frame_again = 0;
		feed_ask(f, PROTO_CMD_SUBSCRIBE, NULL, NULL, NULL);
		feed_ask(f, PROTO_CMD_STATUS, NULL, NULL, NULL);
		feed_ask(f, PROTO_CMD_TASKS, NULL, NULL, NULL);
		feed_ask(f, PROTO_CMD_LAG, NULL, NULL, NULL);
		f->lag_asked = 1;
		feed_ask(f, PROTO_CMD_GPUS, NULL, NULL, NULL);
		feed_ask(f, PROTO_CMD_PODS, NULL, NULL, NULL);
		feed_ask(f, PROTO_CMD_VPN, NULL, NULL, NULL);
		feed_ask(f, PROTO_CMD_VIDEOS, NULL, NULL, NULL);
		if (m->detail.id[0] != '\0')
			feed_task(f, m->detail.id);
		/* A frame asked on the last connection is not coming: ask again. */
		if (m->frame.id[0] != '\0' && m->frame.waiting)
			feed_frame(f, m->frame.id, m->frame.at);
		/* The last connection's streams are gone: the log shown starts over. */
		feed_streams_clear(f);
		f->no_stop = 0;		/* perhaps another gateway */
		if (m->log.id[0] != '\0') {
			con_model_log_restart(m);
			feed_log(f, m->log.id);
		}
		break;
	case CLIENT_CONN_DOWN:
		con_model_link(m, CON_LINK_DOWN, error, f->mono());
		break;
	case CLIENT_CONN_CLOSED:
		con_model_link(m, CON_LINK_CLOSED, error, f->mono());
		break;
	}
}

static void
feed_io_cb(evutil_socket_t fd, short what, void *arg)
{
	struct feed *f = arg;
	short revents = 0;

	if (what & EV_READ)
		revents |= POLLIN;
	if (what & EV_WRITE)
		revents |= POLLOUT;
	client_conn_process(f->conn, revents);
	feed_arm(f);
}

/* Wait for what the connection waits for, and its next deadline. */
static void
feed_arm(struct feed *f)
{
	int fd, ms;
	short events, what = 0;
	struct timeval tv;

	if (f->freeing)
		return;
	fd = client_conn_fd(f->conn);
	events = client_conn_events(f->conn);
	ms = client_conn_timeout(f->conn);
	event_del(f->ev);
	if (fd >= 0) {
		if (events & POLLIN)
			what |= EV_READ;
		if (events & POLLOUT)
			what |= EV_WRITE;
	}
	event_assign(f->ev, f->base, fd >= 0 && what != 0 ? fd : -1, what, feed_io_cb, f);
	if (ms >= 0) {
		tv.tv_sec = ms / 1000;
		tv.tv_usec = (ms % 1000) * 1000;
		event_add(f->ev, &tv);
	} else if (what != 0)
		event_add(f->ev, NULL);
}

static void
feed_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct feed *f = arg;

	if (client_conn_connected(f->conn) && !f->lag_asked) {
		f->lag_asked = 1;
		feed_ask(f, PROTO_CMD_LAG, NULL, NULL, NULL);
	}
}

void
feed_task(struct feed *f, const char *id)
{
	con_model_detail_open(f->m, id, f->mono());
	if (f->detail_asked) {
		f->detail_again = 1;
		return;
	}
	f->detail_asked = 1;
	feed_ask(f, PROTO_CMD_TASK, id, NULL, NULL);
}

void
feed_log(struct feed *f, const char *id)
{
	struct proto_request req;
	struct feed_stream *s;
	size_t running = 0;

	con_model_log_open(f->m, id);
	if (!client_conn_connected(f->conn))
		return;		/* asked once it is up */
	/* The logs no longer shown first: ahead of the request, so their places are free. */
	TAILQ_FOREACH(s, &f->streams, entry) {
		if (strcmp(s->id, id) != 0 && !s->stopping && !f->no_stop)
			feed_stream_stop(f, s);
		if (!s->stopping)
			running++;
	}
	/*
	 * Streaming already (the gateway refuses a second), or being
	 * stopped: then asked again once the stop is answered.
	 */
	if (feed_stream_of(f, id) != NULL)
		return;
	if (running >= FEED_STREAMS_MAX) {
		con_model_log_fail(f->m, id, "this connection follows 8 logs already "
		    "(the gateway's limit; this gateway cannot stop them): come back when "
		    "one of them has ended");
		return;
	}
	s = xcalloc(1, sizeof *s);
	s->seq = ++f->stream_seq;
	snprintf(s->id, sizeof s->id, "%s", id);
	TAILQ_INSERT_TAIL(&f->streams, s, entry);
	memset(&req, 0, sizeof req);
	req.cmd = PROTO_CMD_LOGS;
	req.id = (char *)id;
	req.follow = 1;
	feed_ask_req(f, &req, s->seq, NULL, NULL, NULL);
}

void
feed_frame(struct feed *f, const char *id, double at)
{
	struct proto_request req;

	con_model_frame_open(f->m, id, at);
	if (f->frame_asked) {
		f->frame_again = 1;
		return;
	}
	if (!client_conn_connected(f->conn))
		return;		/* asked once it is up */
	f->frame_asked = 1;
	memset(&req, 0, sizeof req);
	req.cmd = PROTO_CMD_FRAME;
	req.id = (char *)id;
	req.at = at;
	feed_ask_req(f, &req, 0, NULL, NULL, NULL);
}

void
feed_video_data(struct feed *f, const char *id, int64_t offset, feed_piece_cb *done, void *arg)
{
	struct proto_request req;

	memset(&req, 0, sizeof req);
	req.cmd = PROTO_CMD_VIDEO_DATA;
	req.id = (char *)id;
	req.offset = offset;
	feed_ask_req(f, &req, 0, NULL, done, arg);
}

void
feed_requeue(struct feed *f, const char *id, feed_done_cb *done, void *arg)
{
	feed_ask(f, PROTO_CMD_REQUEUE, id, done, arg);
}

void
feed_cancel(struct feed *f, const char *id, feed_done_cb *done, void *arg)
{
	feed_ask(f, PROTO_CMD_CANCEL, id, done, arg);
}

struct feed *
feed_new(const struct feed_args *a)
{
	struct feed *f = xcalloc(1, sizeof *f);
	struct client_conn_opts o;
	struct timeval tv = { FEED_LAG_MS / 1000, (FEED_LAG_MS % 1000) * 1000 };

	f->base = a->base;
	f->m = a->model;
	f->name = xstrdup(a->name);
	f->mono = a->mono;
	TAILQ_INIT(&f->streams);
	memset(&o, 0, sizeof o);
	o.timeout_ms = FEED_ANSWER_MS;
	o.idle_ms = a->idle_ms > 0 ? a->idle_ms : FEED_IDLE_MS;
	o.reconnect = 1;
	o.backoff_ms = 200;
	o.backoff_max_ms = a->backoff_max_ms > 0 ? (uint32_t)a->backoff_max_ms : FEED_BACKOFF_MAX_MS;
	o.on_event = feed_event_cb;
	o.on_state = feed_state_cb;
	o.arg = f;
	f->conn = client_conn_new(a->tp, &o);
	f->ev = event_new(f->base, -1, 0, feed_io_cb, f);
	f->tick = event_new(f->base, -1, EV_PERSIST, feed_tick_cb, f);
	event_add(f->tick, &tv);
	client_conn_start(f->conn, NULL);
	feed_arm(f);
	return f;
}

void
feed_free(struct feed *f)
{
	if (f == NULL)
		return;
	f->freeing = 1;
	event_free(f->tick);
	event_free(f->ev);
	client_conn_free(f->conn);
	feed_streams_clear(f);
	free(f->name);
	free(f);
}
