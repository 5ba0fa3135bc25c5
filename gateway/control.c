/*
 * control.c: the control socket (docs/control.md): a unix stream socket,
 * mode 0660, peer credentials checked, JSON lines. Requests are answered
 * from the loop's state, in order; "subscribe" turns a connection into a
 * stream of task (pod, video) events, a status line every second, and the
 * VPN tunnel's events (published by tunnel.c); "logs" adds a task's log to
 * it as log events (logs.c reads only while the client's unread output is
 * under CONTROL_LOG_HIGH, at most CONTROL_FOLLOWS_MAX streams a
 * connection) and "logs" with stop takes it away again (the answer is its
 * end); "frame" is answered when ffmpeg is done (frames.c), the
 * connection's later requests waiting. Requests are held to strict JSON
 * and to the fields each command takes (proto/control.c);
 * the socket's path is taken over only from a stale socket, never from a
 * live one or another file.
 *
 * Bounds: a client's unread output (answers and events alike) is capped
 * at CONTROL_OUT_MAX. Past it, its requests are no longer read (they
 * wait in the kernel's socket buffer, then the client's write blocks)
 * until it has read half of what is queued; an event that finds a
 * subscriber over the cap drops the subscriber (events cannot wait).
 * An answer larger than the cap (the pods of a big cluster) is not held
 * against the events that follow it: while it drains, they count from
 * its end (so at most one answer past the cap, plus the cap, is queued),
 * and a client that reads nothing for CONTROL_STALL_S while output
 * waits is dropped. A request line is at most CONTROL_LINE_MAX bytes.
 * At most control.max_clients connections: one more is told so in an
 * error line and closed. Accept failures (out of descriptors) pause the
 * listener (evaccept.c).
 */
#include "config.h"
#include "gateway.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#define CONTROL_LINE_MAX (64 * 1024)
#define CONTROL_OUT_MAX (1024 * 1024)
#define CONTROL_STALL_S 60
#define CONTROL_LOG_INTERVAL_MS 10000
/* Log streams read on while the client's unread output is under this. */
#define CONTROL_LOG_HIGH (256 * 1024)
#define CONTROL_FOLLOWS_MAX 8

struct control_client;
/* A log stream of a connection (logs.c makes it; the sink's arg). */
struct control_follow {
	struct control_client *c;
	struct logs_stream *s;
	char *task_id;
	LIST_ENTRY(control_follow) entry;
};
LIST_HEAD(follow_list, control_follow);

struct control_client {
	struct control *ctl;
	struct bufferevent *bev;
	int subscribed;
	int held;		/* over CONTROL_OUT_MAX: requests not read */
	uint64_t added;		/* bytes ever queued to it */
	uint64_t answer_end;	/* added when its last answer was queued */
	int dropped;		/* freed at the loop's next turn */
	struct follow_list follows;
	size_t nfollows;
	struct frame_job *frame;	/* its answer is awaited: requests wait */
	int awaiting;
	LIST_ENTRY(control_client) entry;
};
LIST_HEAD(client_list, control_client);

struct control {
	struct event_base *base;
	const struct control_ops *ops;
	void *arg;
	char *path;
	struct evconnlistener *listener;
	struct evaccept *guard;
	struct client_list clients;
	size_t nclients;
	size_t max_clients;
	unsigned long refused;		/* over max_clients, since the last log line */
	int64_t refused_log_ms;
	struct event *tick;
	struct event *reap;		/* frees dropped clients */
	gid_t group;
	int has_group;
	dev_t sock_dev;		/* the socket file made: removed at the end only if still ours */
	ino_t sock_ino;
};

static void
control_follow_free(struct control_follow *f)
{
	LIST_REMOVE(f, entry);
	f->c->nfollows--;
	free(f->task_id);
	free(f);
}

static void
control_client_free(struct control_client *c)
{
	struct control_follow *f;
	struct frame_job *job = c->frame;

	while ((f = LIST_FIRST(&c->follows)) != NULL) {
		logs_close(f->s);
		control_follow_free(f);
	}
	/* Its done callback runs now: c->frame NULL tells it the client is going. */
	c->frame = NULL;
	if (job != NULL)
		frames_cancel(job);
	LIST_REMOVE(c, entry);
	c->ctl->nclients--;
	bufferevent_free(c->bev);
	free(c);
}

/*
 * Drop a client from inside a request or a broadcast, where callers up
 * the stack still hold it: silenced now, freed at the loop's next turn.
 */
static void
control_client_drop(struct control_client *c)
{
	if (c->dropped)
		return;
	c->dropped = 1;
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	event_active(c->ctl->reap, EV_TIMEOUT, 0);
}

static void
control_reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct control *ctl = arg;
	struct control_client *c, *next;

	for (c = LIST_FIRST(&ctl->clients); c != NULL; c = next) {
		next = LIST_NEXT(c, entry);
		if (c->dropped)
			control_client_free(c);
	}
}

/* Queue a line (without its newline) to the client. */
static void
control_out(struct control_client *c, const char *s, size_t len)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);

	evbuffer_add(out, s, len);
	evbuffer_add(out, "\n", 1);
	c->added += len + 1;
}

/* Queued output that events count: what is left of the last answer is not. */
static size_t
control_event_queued(const struct control_client *c)
{
	size_t queued = evbuffer_get_length(bufferevent_get_output(c->bev));
	uint64_t drained = c->added - queued, answer_left;

	answer_left = c->answer_end > drained ? c->answer_end - drained : 0;
	return queued - (size_t)answer_left;
}

static void
control_send(struct control_client *c, cJSON *obj)
{
	char *s = cJSON_PrintUnformatted(obj);

	control_out(c, s, strlen(s));
	c->answer_end = c->added;
	free(s);
}

static void
control_send_error(struct control_client *c, const char *fmt, ...) printflike(2, 3);

static void
control_send_error(struct control_client *c, const char *fmt, ...)
{
	cJSON *r = cJSON_CreateObject();
	va_list ap;
	char *m;

	va_start(ap, fmt);
	xvasprintf(&m, fmt, ap);
	va_end(ap);
	cJSON_AddFalseToObject(r, "ok");
	cJSON_AddStringToObject(r, "error", m);
	control_send(c, r);
	cJSON_Delete(r);
	free(m);
}

/* ---- the commands: one handler each, over the gateway's ops ---- */

/* Fill the answer r, or return -1 with *cause (sent as the error), or 1: answered later. */
typedef int control_cmd_fn(struct control *, struct control_client *,
    const struct proto_request *, cJSON *r, char **cause);

static int
control_cmd_status(struct control *ctl, struct control_client *c,
    const struct proto_request *req, cJSON *r, char **cause)
{
	cJSON_AddItemToObject(r, "status", ctl->ops->status(ctl->arg));
	return 0;
}

static int
control_cmd_tasks(struct control *ctl, struct control_client *c,
    const struct proto_request *req, cJSON *r, char **cause)
{
	cJSON_AddItemToObject(r, "tasks", ctl->ops->tasks(req->state, ctl->arg));
	return 0;
}

static int
control_cmd_task(struct control *ctl, struct control_client *c,
    const struct proto_request *req, cJSON *r, char **cause)
{
	cJSON *t;

	if ((t = ctl->ops->task(req->id, cause, ctl->arg)) == NULL)
		return -1;
	cJSON_AddItemToObject(r, "task", t);
	return 0;
}

static int
control_cmd_cancel(struct control *ctl, struct control_client *c,
    const struct proto_request *req, cJSON *r, char **cause)
{
	if (ctl->ops->cancel(req->id, cause, ctl->arg) != 0)
		return -1;
	cJSON_AddStringToObject(r, "task_id", req->id);
	return 0;
}

static int
control_cmd_requeue(struct control *ctl, struct control_client *c,
    const struct proto_request *req, cJSON *r, char **cause)
{
	int attempt, already;

	if (ctl->ops->requeue(req->id, req->attempt, &attempt, &already, cause, ctl->arg) != 0)
		return -1;
	cJSON_AddStringToObject(r, "task_id", req->id);
	cJSON_AddNumberToObject(r, "attempt", attempt);
	if (already)
		cJSON_AddTrueToObject(r, "already");
	return 0;
}

static int
control_cmd_lag(struct control *ctl, struct control_client *c,
    const struct proto_request *req, cJSON *r, char **cause)
{
	ctl->ops->lag(r, req->check, ctl->arg);
	return 0;
}

static int
control_cmd_gpus(struct control *ctl, struct control_client *c,
    const struct proto_request *req, cJSON *r, char **cause)
{
	ctl->ops->gpus(r, ctl->arg);
	return 0;
}

static int
control_cmd_vpn(struct control *ctl, struct control_client *c,
    const struct proto_request *req, cJSON *r, char **cause)
{
	cJSON_AddItemToObject(r, "vpn", ctl->ops->vpn(ctl->arg));
	return 0;
}

static int
control_cmd_subscribe(struct control *ctl, struct control_client *c,
    const struct proto_request *req, cJSON *r, char **cause)
{
	c->subscribed = 1;
	return 0;
}

static int
control_cmd_pods(struct control *ctl, struct control_client *c,
    const struct proto_request *req, cJSON *r, char **cause)
{
	ctl->ops->pods(r, ctl->arg);
	return 0;
}

static int
control_cmd_videos(struct control *ctl, struct control_client *c,
    const struct proto_request *req, cJSON *r, char **cause)
{
	cJSON_AddItemToObject(r, "videos", ctl->ops->videos(ctl->arg));
	return 0;
}

/* ---- log streams: the sink logs.c writes to ---- */

static size_t control_queued(const struct control_client *);

static int
control_follow_room(void *arg)
{
	struct control_follow *f = arg;

	return !f->c->dropped && control_queued(f->c) < CONTROL_LOG_HIGH;
}

static void
control_follow_event(enum proto_event_type type, cJSON *payload, void *arg)
{
	struct control_follow *f = arg;
	struct control_client *c = f->c;
	char *line;

	if (type == PROTO_EVENT_LOG_END)
		control_follow_free(f);	/* the stream is gone */
	if (c->dropped) {
		cJSON_Delete(payload);
		return;
	}
	line = proto_event_encode(type, payload);
	control_out(c, line, strlen(line));
	free(line);
}

static const struct logs_sink control_follow_sink = {
	control_follow_room, control_follow_event
};

/*
 * End the connection's stream of a task's log now. Its chunks queued so
 * far go out before the answer, none after it: the answer is its end
 * (no log_end). The stream's descriptor, timer and pod log request go at
 * once.
 */
static int
control_logs_stop(struct control_client *c, const struct proto_request *req, cJSON *r,
    char **cause)
{
	struct control_follow *f;

	LIST_FOREACH(f, &c->follows, entry)
		if (strcmp(f->task_id, req->id) == 0)
			break;
	if (f == NULL) {
		xasprintf(cause, "this connection does not stream the log of %s", req->id);
		return -1;
	}
	logs_close(f->s);
	control_follow_free(f);
	cJSON_AddStringToObject(r, "task_id", req->id);
	cJSON_AddTrueToObject(r, "stopped");
	return 0;
}

static int
control_cmd_logs(struct control *ctl, struct control_client *c,
    const struct proto_request *req, cJSON *r, char **cause)
{
	struct control_follow *f;

	if (req->stop)
		return control_logs_stop(c, req, r, cause);
	LIST_FOREACH(f, &c->follows, entry)
		if (strcmp(f->task_id, req->id) == 0) {
			xasprintf(cause, "this connection already streams the log of %s", req->id);
			return -1;
		}
	if (c->nfollows >= CONTROL_FOLLOWS_MAX) {
		xasprintf(cause, "this connection already streams %d logs (the most one may)",
		    CONTROL_FOLLOWS_MAX);
		return -1;
	}
	f = xcalloc(1, sizeof *f);
	f->c = c;
	f->task_id = xstrdup(req->id);
	if ((f->s = ctl->ops->logs(req->id, req->follow, &control_follow_sink, f, r, cause,
	    ctl->arg)) == NULL) {
		free(f->task_id);
		free(f);
		return -1;
	}
	LIST_INSERT_HEAD(&c->follows, f, entry);
	c->nfollows++;
	/* Its write callback resumes paused streams once output drains below this. */
	bufferevent_setwatermark(c->bev, EV_WRITE, c->held ? CONTROL_OUT_MAX / 2 :
	    CONTROL_LOG_HIGH / 2, 0);
	return 0;
}

static void control_read_cb(struct bufferevent *, void *);

/* The frame is made (or not): its answer, then the requests that waited. */
static void
control_frame_done(cJSON *answer, const char *error, void *arg)
{
	struct control_client *c = arg;

	if (c->frame == NULL)
		return;		/* the client is being freed */
	c->frame = NULL;
	c->awaiting = 0;
	if (c->dropped)
		return;
	if (error != NULL)
		control_send_error(c, "%s", error);
	else
		control_send(c, answer);
	control_read_cb(c->bev, c);
}

/* Answered later: 1. */
static int
control_cmd_frame(struct control *ctl, struct control_client *c,
    const struct proto_request *req, cJSON *r, char **cause)
{
	if ((c->frame = ctl->ops->frame(req->id, req->at, control_frame_done, c, cause,
	    ctl->arg)) == NULL)
		return -1;
	c->awaiting = 1;
	return 1;
}

static int
control_cmd_video_data(struct control *ctl, struct control_client *c,
    const struct proto_request *req, cJSON *r, char **cause)
{
	cJSON *d;

	if ((d = ctl->ops->video_data(req->id, req->offset, cause, ctl->arg)) == NULL)
		return -1;
	cJSON_AddItemToObject(r, "video_data", d);
	return 0;
}

/* Indexed by enum proto_cmd: proto/ names the commands and their fields. */
static control_cmd_fn *const control_cmds[PROTO_NCMDS] = {
	[PROTO_CMD_STATUS] = control_cmd_status,
	[PROTO_CMD_TASKS] = control_cmd_tasks,
	[PROTO_CMD_TASK] = control_cmd_task,
	[PROTO_CMD_REQUEUE] = control_cmd_requeue,
	[PROTO_CMD_CANCEL] = control_cmd_cancel,
	[PROTO_CMD_LAG] = control_cmd_lag,
	[PROTO_CMD_SUBSCRIBE] = control_cmd_subscribe,
	[PROTO_CMD_PODS] = control_cmd_pods,
	[PROTO_CMD_LOGS] = control_cmd_logs,
	[PROTO_CMD_VIDEOS] = control_cmd_videos,
	[PROTO_CMD_FRAME] = control_cmd_frame,
	[PROTO_CMD_VIDEO_DATA] = control_cmd_video_data,
	[PROTO_CMD_GPUS] = control_cmd_gpus,
	[PROTO_CMD_VPN] = control_cmd_vpn,
};

static void
control_handle(struct control *ctl, struct control_client *c, const char *line, size_t len)
{
	struct proto_request req;
	cJSON *r;
	char *cause = NULL;
	int rc;

	if (proto_request_parse(line, len, &req, &cause) != 0) {
		control_send_error(c, "%s", cause);
		free(cause);
		return;
	}
	r = proto_answer_ok();
	if ((rc = control_cmds[req.cmd](ctl, c, &req, r, &cause)) < 0) {
		control_send_error(c, "%s", cause);
		free(cause);
	} else if (rc == 0)
		control_send(c, r);
	cJSON_Delete(r);
	proto_request_clear(&req);
}

/* Queued for the client and not yet written. */
static size_t
control_queued(const struct control_client *c)
{
	return evbuffer_get_length(bufferevent_get_output(c->bev));
}

static void
control_read_cb(struct bufferevent *bev, void *arg)
{
	struct control_client *c = arg;
	struct control *ctl = c->ctl;
	struct evbuffer *in = bufferevent_get_input(bev);
	char *line;
	size_t len;

	while (!c->dropped && !c->awaiting && control_queued(c) < CONTROL_OUT_MAX &&
	    (line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF)) != NULL) {
		control_handle(ctl, c, line, len);
		free(line);
	}
	/* Awaiting an answer (frame): the next requests wait their turn. */
	if (c->dropped || c->awaiting)
		return;
	if (control_queued(c) >= CONTROL_OUT_MAX) {
		/* Backpressure: no more requests until it has read half of it. */
		if (!c->held)
			log_debug("control client not reading its answers, holding its requests",
			    "queued=%zu", control_queued(c));
		c->held = 1;
		bufferevent_disable(bev, EV_READ);
		bufferevent_setwatermark(bev, EV_WRITE, CONTROL_OUT_MAX / 2, 0);
		return;
	}
	if (evbuffer_get_length(in) > CONTROL_LINE_MAX) {
		log_warn("control request line too long, closing", "bytes=%zu",
		    evbuffer_get_length(in));
		control_client_free(c);
	}
}

/* Its output drained below the low mark: read its requests again, resume its log streams. */
static void
control_write_cb(struct bufferevent *bev, void *arg)
{
	struct control_client *c = arg;
	struct control_follow *f;

	LIST_FOREACH(f, &c->follows, entry)
		logs_resume(f->s);
	if (!c->held)
		return;
	c->held = 0;
	bufferevent_setwatermark(bev, EV_WRITE, c->nfollows > 0 ? CONTROL_LOG_HIGH / 2 : 0, 0);
	bufferevent_enable(bev, EV_READ);
	/* Lines already read wait in the input buffer: no new data may come to call us. */
	control_read_cb(bev, c);
}

static void
control_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct control_client *c = arg;

	if (what & BEV_EVENT_TIMEOUT) {
		log_warn("control client read nothing for a while, dropped", "queued=%zu stall_s=%d",
		    control_queued(c), CONTROL_STALL_S);
		control_client_free(c);
	} else if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		control_client_free(c);
}

static int
control_peer_allowed(struct control *ctl, int fd, struct ucred *cred)
{
	socklen_t len = sizeof *cred;
	gid_t groups[256];
	int n = (int)nitems(groups), i;
	struct passwd *pw;

	memset(cred, 0, sizeof *cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred, &len) != 0)
		return 0;
	if (cred->uid == 0 || cred->uid == geteuid())
		return 1;
	if (!ctl->has_group)
		return 0;
	if (cred->gid == ctl->group)
		return 1;
	/* Supplementary groups of the peer's user. */
	if ((pw = getpwuid(cred->uid)) == NULL ||
	    getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) < 0)
		return 0;
	for (i = 0; i < n; i++)
		if (groups[i] == ctl->group)
			return 1;
	return 0;
}

/* One connection too many: say so in one line and close (logged once per interval). */
static void
control_refuse(struct control *ctl, int fd)
{
	char line[160];
	int64_t now = util_mono_ms();
	int n;

	n = snprintf(line, sizeof line, "{\"ok\":false,\"error\":\"too many control connections "
	    "(control.max_clients is %zu)\"}\n", ctl->max_clients);
	/* A new socket's buffer is empty: this fits, or the client is gone. */
	if (send(fd, line, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		/* Nothing to do: it is closed either way. */
	}
	close(fd);
	ctl->refused++;
	if (ctl->refused_log_ms == 0 || now - ctl->refused_log_ms >= CONTROL_LOG_INTERVAL_MS) {
		log_warn("control connections refused: too many clients", "refused=%lu max_clients=%zu",
		    ctl->refused, ctl->max_clients);
		ctl->refused = 0;
		ctl->refused_log_ms = now;
	}
}

static void
control_accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len,
    void *arg)
{
	struct control *ctl = arg;
	struct control_client *c;
	struct timeval stall = { CONTROL_STALL_S, 0 };
	struct ucred cred;

	if (!control_peer_allowed(ctl, fd, &cred)) {
		log_warn("control connection refused", "uid=%ld pid=%ld", (long)cred.uid,
		    (long)cred.pid);
		close(fd);
		return;
	}
	if (ctl->nclients >= ctl->max_clients) {
		control_refuse(ctl, fd);
		return;
	}
	c = xcalloc(1, sizeof *c);
	c->ctl = ctl;
	LIST_INIT(&c->follows);
	c->bev = bufferevent_socket_new(ctl->base, fd, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(c->bev, control_read_cb, control_write_cb, control_event_cb, c);
	/* Input stops growing at a line's cap; a client that reads nothing for long goes. */
	bufferevent_setwatermark(c->bev, EV_READ, 0, CONTROL_LINE_MAX + 1);
	bufferevent_set_timeouts(c->bev, NULL, &stall);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	LIST_INSERT_HEAD(&ctl->clients, c, entry);
	ctl->nclients++;
}

/* Queue an event line (text without its newline) to every subscriber. */
static void
control_broadcast(struct control *ctl, const char *s)
{
	struct control_client *c, *next;
	size_t len = strlen(s);

	for (c = LIST_FIRST(&ctl->clients); c != NULL; c = next) {
		next = LIST_NEXT(c, entry);
		if (!c->subscribed || c->dropped)
			continue;
		if (control_event_queued(c) > CONTROL_OUT_MAX) {
			log_warn("control subscriber too slow, dropped", "queued=%zu events=%zu",
			    evbuffer_get_length(bufferevent_get_output(c->bev)),
			    control_event_queued(c));
			control_client_drop(c);
			continue;
		}
		control_out(c, s, len);
	}
}

/* Events are built only when someone listens. */
int
control_has_subscribers(const struct control *ctl)
{
	const struct control_client *c;

	LIST_FOREACH(c, &ctl->clients, entry)
		if (c->subscribed && !c->dropped)
			return 1;
	return 0;
}

void
control_publish(struct control *ctl, enum proto_event_type type, cJSON *payload)
{
	char *line;

	if (ctl == NULL || !control_has_subscribers(ctl)) {
		cJSON_Delete(payload);
		return;
	}
	line = proto_event_encode(type, payload);
	control_broadcast(ctl, line);
	free(line);
}

/* A status event every second while someone listens. */
static void
control_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct control *ctl = arg;

	if (control_has_subscribers(ctl))
		control_publish(ctl, PROTO_EVENT_STATUS, ctl->ops->status(ctl->arg));
}

/*
 * Make room for a socket at path: nothing there, or a stale socket no
 * one answers on (removed). A live socket is another gateway's; any
 * other file is someone's data: never removed.
 */
static int
control_path_claim(const struct sockaddr_un *sun, char **cause)
{
	const char *path = sun->sun_path;
	struct stat sb;
	int fd, live;

	if (lstat(path, &sb) != 0) {
		if (errno == ENOENT)
			return 0;
		xasprintf(cause, "control socket %s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(sb.st_mode)) {
		xasprintf(cause, "control socket %s: a %s is there, not a socket; not replacing "
		    "it (remove it or set control.socket elsewhere)", path,
		    S_ISDIR(sb.st_mode) ? "directory" : S_ISLNK(sb.st_mode) ? "symbolic link" :
		    S_ISREG(sb.st_mode) ? "regular file" : "file");
		return -1;
	}
	/* Non-blocking: a listener with a full backlog answers EAGAIN, not never. */
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0) {
		xasprintf(cause, "control socket %s: socket: %s", path, strerror(errno));
		return -1;
	}
	live = connect(fd, (const struct sockaddr *)sun, sizeof *sun) == 0 ||
	    (errno != ECONNREFUSED && errno != ENOENT);
	close(fd);
	if (live) {
		xasprintf(cause, "control socket %s: another process (a running gateway?) listens "
		    "on it; not replacing it", path);
		return -1;
	}
	if (unlink(path) != 0 && errno != ENOENT) {
		xasprintf(cause, "control socket %s: cannot remove the stale socket: %s", path,
		    strerror(errno));
		return -1;
	}
	log_info("stale control socket replaced", "path=%s", log_q(path));
	return 0;
}

struct control *
control_start(struct event_base *base, const struct config *conf, const char *path,
    const struct control_ops *ops, void *arg, char **cause)
{
	struct control *ctl;
	struct sockaddr_un sun;
	const char *group = config_get(conf, "control", "group");
	struct timeval tv = { 1, 0 };
	struct group *gr;
	struct stat sb;
	mode_t old;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun.sun_path) {
		xasprintf(cause, "control socket path too long: %s", path);
		return NULL;
	}
	strcpy(sun.sun_path, path);
	ctl = xcalloc(1, sizeof *ctl);
	ctl->base = base;
	ctl->ops = ops;
	ctl->arg = arg;
	LIST_INIT(&ctl->clients);
	if (group != NULL && *group != '\0') {
		if ((gr = getgrnam(group)) == NULL) {
			xasprintf(cause, "control.group: no group named %s", group);
			free(ctl);
			return NULL;
		}
		ctl->group = gr->gr_gid;
		ctl->has_group = 1;
	}
	if (control_path_claim(&sun, cause) != 0) {
		free(ctl);
		return NULL;
	}
	old = umask(0117);
	ctl->listener = evconnlistener_new_bind(base, control_accept_cb, ctl,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 16, (struct sockaddr *)&sun, sizeof sun);
	umask(old);
	if (ctl->listener == NULL) {
		xasprintf(cause, "control socket %s: %s", path, strerror(errno));
		free(ctl);
		return NULL;
	}
	ctl->max_clients = (size_t)config_get_int(conf, "control", "max_clients");
	ctl->guard = evaccept_new(base, ctl->listener, "control", NULL, NULL);
	ctl->reap = event_new(base, -1, 0, control_reap_cb, ctl);
	if (lstat(path, &sb) == 0) {
		ctl->sock_dev = sb.st_dev;
		ctl->sock_ino = sb.st_ino;
	}
	chmod(path, 0660);
	if (ctl->has_group && chown(path, (uid_t)-1, ctl->group) != 0)
		log_warn("cannot give the control socket to its group", "group=%s error=%s",
		    log_q(group), log_q(strerror(errno)));
	ctl->path = xstrdup(path);
	ctl->tick = event_new(base, -1, EV_PERSIST, control_tick_cb, ctl);
	event_add(ctl->tick, &tv);
	log_info("control socket listening", "path=%s", log_q(path));
	return ctl;
}

void
control_stop(struct control *ctl)
{
	struct control_client *c;
	struct stat sb;

	if (ctl == NULL)
		return;
	while ((c = LIST_FIRST(&ctl->clients)) != NULL)
		control_client_free(c);
	evaccept_free(ctl->guard);
	event_free(ctl->reap);
	evconnlistener_free(ctl->listener);
	event_free(ctl->tick);
	/* Not another's: a socket someone put there since is theirs. */
	if (lstat(ctl->path, &sb) == 0 && S_ISSOCK(sb.st_mode) && sb.st_dev == ctl->sock_dev &&
	    sb.st_ino == ctl->sock_ino)
		unlink(ctl->path);
	free(ctl->path);
	free(ctl);
}
