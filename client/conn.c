/*
 * conn.c: one JSON-lines connection to a gateway's control socket
 * (docs/control.md), driven by whoever owns the loop: it says which
 * descriptor and events it waits for and when its next deadline is, and
 * does the work when client_conn_process is called, as curl's multi
 * does. It never blocks, except in the helpers at the end
 * (client_conn_wait, client_call), which are a poll(2) loop around it
 * for one-shot programs.
 *
 * The model: a queue of requests in the order they were sent; each line
 * that is not an event answers the oldest. Requests made while there is
 * no connection wait (their timeouts run) and go out when it is up; a
 * connection lost fails everything sent on it, since the gateway may or
 * may not have acted on a request (requeue is not idempotent): the
 * caller decides whether to ask again. Reconnecting is paced by a
 * capped exponential backoff with jitter (common/backoff.c), reset once
 * a gateway has said something.
 *
 * It knows lines, not commands: what a status or a task means is the
 * caller's (and, later, proto/'s).
 */
#include "config.h"
#include "client.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

#define CLIENT_LINE_MAX (64 * 1024 * 1024)	/* a status or tasks answer is far smaller */
#define CLIENT_TIMEOUT_MS 5000
#define CLIENT_BACKOFF_MS 200
#define CLIENT_BACKOFF_MAX_MS 10000
#define CLIENT_READ_CHUNK 65536
#define CLIENT_IN_KEEP (1024 * 1024)	/* an input buffer larger than this goes once empty */

enum client_phase {
	CLIENT_PHASE_IDLE,		/* not started */
	CLIENT_PHASE_CONNECTING,	/* transport open in progress */
	CLIENT_PHASE_CONNECTED,
	CLIENT_PHASE_WAITING,		/* lost; the next attempt at retry_at */
	CLIENT_PHASE_CLOSED,		/* ended, no reconnect */
};

struct client_req {
	struct client_req *next;
	char *line;			/* the request and its newline */
	size_t len;
	int64_t deadline;		/* monotonic ms */
	int timeout_ms;
	int sent;			/* in the output of the current connection */
	int subscribe;
	client_answer_cb *cb;
	void *arg;
};

struct client_conn {
	struct client_transport *tp;
	struct client_conn_opts o;
	enum client_phase phase;
	int was_up;			/* connected once: the next UP is a RESYNC */
	char *last_error;		/* why it went DOWN or CLOSED (NULL: closed cleanly) */

	struct client_req *head;
	struct client_req *tail;

	char *in;
	size_t in_off;			/* consumed up to here */
	size_t in_len;
	size_t in_cap;
	char *out;
	size_t out_off;
	size_t out_len;
	size_t out_cap;

	struct backoff backoff;
	int64_t retry_at;
	int subscribed;
	int64_t last_rx;
};

static void client_conn_attempt(struct client_conn *);

struct client_conn *
client_conn_new(struct client_transport *tp, const struct client_conn_opts *opts)
{
	struct client_conn *c = xcalloc(1, sizeof *c);

	c->tp = tp;
	if (opts != NULL)
		c->o = *opts;
	if (c->o.line_max == 0)
		c->o.line_max = CLIENT_LINE_MAX;
	if (c->o.timeout_ms <= 0)
		c->o.timeout_ms = CLIENT_TIMEOUT_MS;
	if (c->o.backoff_ms == 0)
		c->o.backoff_ms = CLIENT_BACKOFF_MS;
	if (c->o.backoff_max_ms == 0)
		c->o.backoff_max_ms = CLIENT_BACKOFF_MAX_MS;
	backoff_init(&c->backoff, c->o.backoff_ms, c->o.backoff_max_ms,
	    (uint64_t)util_now_ms() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)c);
	return c;
}

const char *
client_conn_name(const struct client_conn *c)
{
	return c->tp->name;
}

enum client_conn_state
client_conn_state(const struct client_conn *c)
{
	switch (c->phase) {
	case CLIENT_PHASE_CONNECTED:
		return c->was_up > 1 ? CLIENT_CONN_RESYNC : CLIENT_CONN_UP;
	case CLIENT_PHASE_CLOSED:
		return CLIENT_CONN_CLOSED;
	default:
		return CLIENT_CONN_DOWN;
	}
}

int
client_conn_connected(const struct client_conn *c)
{
	return c->phase == CLIENT_PHASE_CONNECTED;
}

static void
client_conn_out_add(struct client_conn *c, const char *data, size_t len)
{
	if (c->out_cap - c->out_len < len) {
		c->out_cap = c->out_len + len + CLIENT_READ_CHUNK;
		c->out = xrealloc(c->out, c->out_cap);
	}
	memcpy(c->out + c->out_len, data, len);
	c->out_len += len;
}

static void
client_req_free(struct client_req *r)
{
	free(r->line);
	free(r);
}

/* Detach the requests sent on the current connection (all, with all set). */
static struct client_req *
client_conn_take(struct client_conn *c, int all)
{
	struct client_req *taken = NULL, **tp = &taken, *r, **rp = &c->head;

	c->tail = NULL;
	while ((r = *rp) != NULL) {
		if (all || r->sent) {
			*rp = r->next;
			r->next = NULL;
			*tp = r;
			tp = &r->next;
		} else {
			c->tail = r;
			rp = &r->next;
		}
	}
	return taken;
}

/* Call each detached request's callback with error, then free it. */
static void
client_conn_fail_list(struct client_conn *c, struct client_req *list, const char *error)
{
	struct client_req *r;

	while ((r = list) != NULL) {
		list = r->next;
		r->cb(c, NULL, error, r->arg);
		client_req_free(r);
	}
}

static void
client_conn_report(struct client_conn *c, enum client_conn_state st, const char *error)
{
	if (c->o.on_state != NULL)
		c->o.on_state(c, st, error, c->o.arg);
}

/*
 * The connection is gone (error NULL: closed cleanly by the gateway).
 * Requests sent on it fail; then it waits to reconnect or ends. The
 * phase changes first, so a callback asking again queues its request
 * for the next connection instead of onto this dead one.
 */
static void
client_conn_lost(struct client_conn *c, const char *error)
{
	struct client_req *failed;
	char *closed = NULL;

	c->tp->ops->close(c->tp);
	c->in_off = c->in_len = 0;
	c->out_off = c->out_len = 0;
	c->subscribed = 0;
	free(c->last_error);
	c->last_error = error != NULL ? xstrdup(error) : NULL;
	if (c->o.reconnect) {
		c->phase = CLIENT_PHASE_WAITING;
		c->retry_at = util_mono_ms() + backoff_next(&c->backoff);
	} else
		c->phase = CLIENT_PHASE_CLOSED;
	failed = client_conn_take(c, !c->o.reconnect);
	if (failed != NULL) {
		if (error == NULL)
			xasprintf(&closed, "%s: connection closed by paia-gateway before it "
			    "answered%s", c->tp->name, c->tp->ops->closed_hint);
		client_conn_fail_list(c, failed, error != NULL ? error : closed);
		free(closed);
	}
	client_conn_report(c, c->o.reconnect ? CLIENT_CONN_DOWN : CLIENT_CONN_CLOSED,
	    c->last_error);
}

static void
client_conn_up(struct client_conn *c)
{
	struct client_req *r;

	c->phase = CLIENT_PHASE_CONNECTED;
	c->last_rx = util_mono_ms();
	for (r = c->head; r != NULL; r = r->next) {
		client_conn_out_add(c, r->line, r->len);
		r->sent = 1;
	}
	if (c->was_up < 2)
		c->was_up++;
	client_conn_report(c, c->was_up > 1 ? CLIENT_CONN_RESYNC : CLIENT_CONN_UP, NULL);
}

static void
client_conn_attempt(struct client_conn *c)
{
	char *cause = NULL;
	int r;

	if ((r = c->tp->ops->open(c->tp, &cause)) < 0) {
		client_conn_lost(c, cause);
		free(cause);
	} else if (r == 0)
		c->phase = CLIENT_PHASE_CONNECTING;
	else
		client_conn_up(c);
}

int
client_conn_start(struct client_conn *c, char **cause)
{
	if (c->phase == CLIENT_PHASE_CONNECTED || c->phase == CLIENT_PHASE_CONNECTING)
		return 0;
	client_conn_attempt(c);
	if (c->phase == CLIENT_PHASE_CONNECTED || c->phase == CLIENT_PHASE_CONNECTING)
		return 0;
	if (cause != NULL)
		*cause = xstrdup(c->last_error != NULL ? c->last_error : "cannot connect");
	return -1;
}

int
client_conn_fd(const struct client_conn *c)
{
	if (c->phase != CLIENT_PHASE_CONNECTED && c->phase != CLIENT_PHASE_CONNECTING)
		return -1;
	return c->tp->ops->fd(c->tp);
}

short
client_conn_events(const struct client_conn *c)
{
	if (c->phase != CLIENT_PHASE_CONNECTED && c->phase != CLIENT_PHASE_CONNECTING)
		return 0;
	return c->tp->ops->events(c->tp, c->out_off < c->out_len);
}

int
client_conn_timeout(const struct client_conn *c)
{
	const struct client_req *r;
	int64_t next = -1, now = util_mono_ms();

	if (c->phase == CLIENT_PHASE_CLOSED && c->head != NULL)
		return 0;
	for (r = c->head; r != NULL; r = r->next)
		if (next < 0 || r->deadline < next)
			next = r->deadline;
	if (c->phase == CLIENT_PHASE_WAITING && (next < 0 || c->retry_at < next))
		next = c->retry_at;
	if (c->phase == CLIENT_PHASE_CONNECTED && c->subscribed && c->o.idle_ms > 0 &&
	    (next < 0 || c->last_rx + c->o.idle_ms < next))
		next = c->last_rx + c->o.idle_ms;
	if (next < 0)
		return -1;
	if (next <= now)
		return 0;
	return next - now > INT32_MAX ? INT32_MAX : (int)(next - now);
}

/* The answer to the oldest request sent. */
static void
client_conn_answer(struct client_conn *c, cJSON *j)
{
	struct client_req *r = c->head;
	const char *error;
	char *text;

	c->head = r->next;
	if (c->head == NULL)
		c->tail = NULL;
	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		xasprintf(&text, "%s: the answer is not a JSON object", c->tp->name);
		r->cb(c, NULL, text, r->arg);
		free(text);
	} else if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "ok"))) {
		error = client_json_str(j, "error");
		text = client_text_clean(error != NULL ? error : "request failed (no error given)");
		r->cb(c, j, text, r->arg);
		free(text);
	} else {
		if (r->subscribe)
			c->subscribed = 1;
		r->cb(c, j, NULL, r->arg);
	}
	client_req_free(r);
}

/* One line from the gateway, without its newline (a NUL-terminated copy of len bytes). */
static void
client_conn_line(struct client_conn *c, char *line, size_t len)
{
	cJSON *j = cJSON_ParseWithLength(line, len);
	const cJSON *ev = cJSON_GetObjectItemCaseSensitive(j, "event");

	if (cJSON_IsObject(j) && ev != NULL && cJSON_GetObjectItemCaseSensitive(j, "ok") == NULL) {
		if (c->o.on_event != NULL)
			c->o.on_event(c, j, line, c->o.arg);
		else
			cJSON_Delete(j);
	} else if (c->head != NULL && c->head->sent)
		client_conn_answer(c, j);
	else if (len == 0)
		cJSON_Delete(j);
	else {
		/* Said unasked: the stream's business (or nobody's). */
		if (!cJSON_IsObject(j)) {
			cJSON_Delete(j);
			j = NULL;
		}
		if (c->o.on_event != NULL)
			c->o.on_event(c, j, line, c->o.arg);
		else
			cJSON_Delete(j);
	}
}

/* Split what was read into lines; 0, or -1 after the connection was lost. */
static int
client_conn_lines(struct client_conn *c)
{
	char *start, *nl, *line, *error;
	size_t n, len;

	while (c->phase == CLIENT_PHASE_CONNECTED && c->in_off < c->in_len) {
		start = c->in + c->in_off;
		nl = memchr(start, '\n', c->in_len - c->in_off);
		n = nl != NULL ? (size_t)(nl - start) : c->in_len - c->in_off;
		if (n > c->o.line_max) {
			xasprintf(&error, "%s: a line longer than %zu bytes", c->tp->name,
			    c->o.line_max);
			client_conn_lost(c, error);
			free(error);
			return -1;
		}
		if (nl == NULL)
			break;
		len = n > 0 && start[n - 1] == '\r' ? n - 1 : n;
		/*
		 * Terminated where it lies, not copied: a 10,000-task answer is
		 * megabytes. The buffer is not touched until the callbacks return.
		 */
		line = start;
		line[len] = '\0';
		c->in_off += n + 1;
		client_conn_line(c, line, len);
	}
	if (c->phase != CLIENT_PHASE_CONNECTED)
		return -1;
	if (c->in_off == c->in_len) {
		c->in_off = c->in_len = 0;
		/* A big answer (10,000 tasks) is past: do not keep its buffer. */
		if (c->in_cap > CLIENT_IN_KEEP) {
			free(c->in);
			c->in = NULL;
			c->in_cap = 0;
		}
	}
	return 0;
}

static void
client_conn_read(struct client_conn *c)
{
	char *cause = NULL;
	ssize_t r;

	for (;;) {
		if (c->in_off > 0 && c->in_off == c->in_len)
			c->in_off = c->in_len = 0;
		if (c->in_off > 0 && c->in_cap - c->in_len < CLIENT_READ_CHUNK) {
			memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
			c->in_len -= c->in_off;
			c->in_off = 0;
		}
		if (c->in_cap - c->in_len < CLIENT_READ_CHUNK) {
			c->in_cap = c->in_cap == 0 ? CLIENT_READ_CHUNK : c->in_cap * 2;
			c->in = xrealloc(c->in, c->in_cap);
		}
		r = c->tp->ops->read(c->tp, c->in + c->in_len, c->in_cap - c->in_len, &cause);
		if (r == CLIENT_AGAIN)
			return;
		if (r < 0) {
			client_conn_lost(c, cause);
			free(cause);
			return;
		}
		if (r == 0) {
			if (c->in_off < c->in_len) {
				xasprintf(&cause, "%s: connection closed in the middle of a line",
				    c->tp->name);
				client_conn_lost(c, cause);
				free(cause);
			} else
				client_conn_lost(c, NULL);
			return;
		}
		c->in_len += (size_t)r;
		c->last_rx = util_mono_ms();
		backoff_reset(&c->backoff);
		if (client_conn_lines(c) != 0)
			return;
	}
}

static void
client_conn_write(struct client_conn *c)
{
	char *cause = NULL;
	ssize_t n;

	while (c->phase == CLIENT_PHASE_CONNECTED && c->out_off < c->out_len) {
		n = c->tp->ops->write(c->tp, c->out + c->out_off, c->out_len - c->out_off, &cause);
		if (n == CLIENT_AGAIN)
			return;
		if (n == CLIENT_CLOSED) {
			client_conn_lost(c, NULL);
			return;
		}
		if (n < 0) {
			client_conn_lost(c, cause);
			free(cause);
			return;
		}
		c->out_off += (size_t)n;
	}
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
}

/* Fail requests past their deadline; one sent on the connection drops it. */
static void
client_conn_expire(struct client_conn *c, int64_t now)
{
	struct client_req *expired = NULL, **ep = &expired, *r, **rp;
	char *text, *drop = NULL;

	c->tail = NULL;
	for (rp = &c->head; (r = *rp) != NULL;) {
		if (r->deadline > now) {
			c->tail = r;
			rp = &r->next;
			continue;
		}
		*rp = r->next;
		r->next = NULL;
		*ep = r;
		ep = &r->next;
	}
	while ((r = expired) != NULL) {
		expired = r->next;
		if (r->timeout_ms % 1000 == 0)
			xasprintf(&text, "%s: no answer from paia-gateway within %d s",
			    c->tp->name, r->timeout_ms / 1000);
		else
			xasprintf(&text, "%s: no answer from paia-gateway within %d ms",
			    c->tp->name, r->timeout_ms);
		r->cb(c, NULL, text, r->arg);
		if (r->sent && drop == NULL)
			drop = text;
		else
			free(text);
		client_req_free(r);
	}
	/* A late answer would be taken for the next request's. */
	if (drop != NULL && c->phase == CLIENT_PHASE_CONNECTED)
		client_conn_lost(c, drop);
	free(drop);
}

void
client_conn_process(struct client_conn *c, short revents)
{
	struct client_req *failed;
	char *cause = NULL, *text;
	int64_t now;
	int r;

	switch (c->phase) {
	case CLIENT_PHASE_IDLE:
		break;
	case CLIENT_PHASE_CONNECTING:
		if ((r = c->tp->ops->step(c->tp, revents, &cause)) < 0) {
			client_conn_lost(c, cause);
			free(cause);
		} else if (r == 1)
			client_conn_up(c);
		break;
	case CLIENT_PHASE_CONNECTED:
		if (revents & POLLNVAL) {
			xasprintf(&text, "%s: descriptor closed under the connection", c->tp->name);
			client_conn_lost(c, text);
			free(text);
			break;
		}
		if (revents != 0)
			client_conn_read(c);
		break;
	case CLIENT_PHASE_WAITING:
		if (util_mono_ms() >= c->retry_at)
			client_conn_attempt(c);
		break;
	case CLIENT_PHASE_CLOSED:
		failed = client_conn_take(c, 1);
		client_conn_fail_list(c, failed, c->last_error != NULL ? c->last_error :
		    "connection closed by paia-gateway");
		return;
	}
	if (c->phase == CLIENT_PHASE_CONNECTED)
		client_conn_write(c);
	now = util_mono_ms();
	client_conn_expire(c, now);
	if (c->phase == CLIENT_PHASE_CONNECTED && c->subscribed && c->o.idle_ms > 0 &&
	    now - c->last_rx >= c->o.idle_ms) {
		xasprintf(&text, "%s: nothing from paia-gateway for %d ms", c->tp->name,
		    c->o.idle_ms);
		client_conn_lost(c, text);
		free(text);
	}
}

void
client_conn_request(struct client_conn *c, const cJSON *req, int timeout_ms,
    client_answer_cb *cb, void *arg)
{
	struct client_req *r = xcalloc(1, sizeof *r);
	const char *cmd = client_json_str(req, "cmd");
	char *text = cJSON_PrintUnformatted(req);

	if (text == NULL)
		fatalx("client: cannot print a request");
	r->len = (size_t)xasprintf(&r->line, "%s\n", text);
	cJSON_free(text);
	r->timeout_ms = timeout_ms > 0 ? timeout_ms : c->o.timeout_ms;
	r->deadline = util_mono_ms() + r->timeout_ms;
	/* Answers come in order: none is due before the one ahead of it. */
	if (c->tail != NULL && r->deadline < c->tail->deadline)
		r->deadline = c->tail->deadline;
	r->subscribe = cmd != NULL && strcmp(cmd, "subscribe") == 0;
	r->cb = cb;
	r->arg = arg;
	if (c->tail != NULL)
		c->tail->next = r;
	else
		c->head = r;
	c->tail = r;
	if (c->phase == CLIENT_PHASE_CONNECTED) {
		client_conn_out_add(c, r->line, r->len);
		r->sent = 1;
	}
}

void
client_conn_free(struct client_conn *c)
{
	struct client_req *failed;

	if (c == NULL)
		return;
	failed = client_conn_take(c, 1);
	client_conn_fail_list(c, failed, "connection closed");
	c->tp->ops->free(c->tp);
	free(c->last_error);
	free(c->in);
	free(c->out);
	free(c);
}

/* ---- blocking helpers ---- */

int
client_conn_wait(struct client_conn *c, int (*done)(void *), void *arg,
    const volatile sig_atomic_t *stop, char **cause)
{
	struct pollfd pfd;
	int n, fd, timeout;

	for (;;) {
		if (done(arg))
			return 0;
		if (stop != NULL && *stop)
			return 1;
		if (c->phase == CLIENT_PHASE_CLOSED && c->head == NULL) {
			*cause = xstrdup(c->last_error != NULL ? c->last_error :
			    "connection closed by paia-gateway");
			return -1;
		}
		fd = client_conn_fd(c);
		timeout = client_conn_timeout(c);
		if (fd < 0 && timeout < 0) {
			*cause = xstrdup("not connected");
			return -1;
		}
		pfd.fd = fd;
		pfd.events = client_conn_events(c);
		pfd.revents = 0;
		if ((n = poll(&pfd, fd >= 0 ? 1 : 0, timeout)) < 0) {
			if (errno == EINTR)
				continue;
			xasprintf(cause, "poll: %s", strerror(errno));
			return -1;
		}
		client_conn_process(c, n > 0 ? pfd.revents : 0);
	}
}

struct client_call_state {
	int done;
	cJSON *answer;
	char *error;
};

static void
client_call_cb(struct client_conn *c, cJSON *answer, const char *error, void *arg)
{
	struct client_call_state *st = arg;

	st->done = 1;
	if (error != NULL) {
		cJSON_Delete(answer);
		st->error = xstrdup(error);
	} else
		st->answer = answer;
}

static int
client_call_done(void *arg)
{
	return ((struct client_call_state *)arg)->done;
}

/* Take back the request of a blocking call that stops waiting for it. */
static void
client_call_forget(struct client_conn *c, void *arg, const char *why)
{
	struct client_req *r, **rp;
	int sent = 0;

	c->tail = NULL;
	for (rp = &c->head; (r = *rp) != NULL;) {
		if (r->cb == client_call_cb && r->arg == arg) {
			*rp = r->next;
			sent = r->sent;
			client_req_free(r);
			continue;
		}
		c->tail = r;
		rp = &r->next;
	}
	if (sent && c->phase == CLIENT_PHASE_CONNECTED)
		client_conn_lost(c, why);
}

cJSON *
client_call(struct client_conn *c, const cJSON *req, int timeout_ms,
    const volatile sig_atomic_t *stop, char **cause)
{
	struct client_call_state st;
	int r;

	memset(&st, 0, sizeof st);
	client_conn_request(c, req, timeout_ms, client_call_cb, &st);
	if (c->phase == CLIENT_PHASE_IDLE || c->phase == CLIENT_PHASE_CLOSED)
		client_conn_attempt(c);
	if ((r = client_conn_wait(c, client_call_done, &st, stop, cause)) != 0) {
		if (r == 1)
			*cause = xstrdup("interrupted");
		client_call_forget(c, &st, *cause);
		return NULL;
	}
	if (st.error != NULL) {
		*cause = st.error;
		return NULL;
	}
	return st.answer;
}

cJSON *
client_request_new(const char *cmd, const char *key, const char *value)
{
	cJSON *req = cJSON_CreateObject();

	cJSON_AddStringToObject(req, "cmd", cmd);
	if (key != NULL && value != NULL)
		cJSON_AddStringToObject(req, key, value);
	return req;
}
