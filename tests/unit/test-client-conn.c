/*
 * test-client-conn.c: client/'s JSON-lines connection against a scripted
 * gateway: a Unix socket server run by the test in the same poll loop
 * as the connection (no threads, no sleeps: the test moves the server
 * and the client step by step and polls for each condition with a
 * generous deadline). Answers in order, lines split and merged, events
 * between answers, the line cap, a server closing mid-answer or never
 * answering, a short request waiting behind a slow one, reconnecting with resync after a restart, and the blocking
 * client_call against a forked server.
 *
 * Does not test the SSH transport (it does not exist yet) nor what a
 * status or a task means (the connection knows lines only).
 */
#include "config.h"
#include "client.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common.h"

#define DEADLINE_MS 10000	/* for conditions that hold at once on any machine */

/* ---- the scripted server ---- */

struct srv {
	char dir[256];
	char path[300];
	int lfd;
	int cfd;
	int accepted;
	char in[65536];		/* what the client sent on the current connection */
	size_t in_len;
	int eof;		/* the client closed the current connection */
};

static void
srv_listen(struct srv *s)
{
	struct sockaddr_un sa;

	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	assert_true(strlen(s->path) < sizeof sa.sun_path);
	memcpy(sa.sun_path, s->path, strlen(s->path) + 1);
	s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(s->lfd >= 0);
	unlink(s->path);
	assert_int_equal(bind(s->lfd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(listen(s->lfd, 8), 0);
}

static struct srv *
srv_new(int listening)
{
	struct srv *s = xcalloc(1, sizeof *s);
	const char *tmp = getenv("TMPDIR");

	snprintf(s->dir, sizeof s->dir, "%s/test-client-conn.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	assert_non_null(mkdtemp(s->dir));
	snprintf(s->path, sizeof s->path, "%s/control.sock", s->dir);
	s->lfd = s->cfd = -1;
	if (listening)
		srv_listen(s);
	return s;
}

/* Drop the current client connection (the gateway hanging up). */
static void
srv_hangup(struct srv *s)
{
	if (s->cfd >= 0)
		close(s->cfd);
	s->cfd = -1;
	s->in_len = 0;
	s->eof = 0;
}

/* The gateway stops: no listener, no connection, no socket file. */
static void
srv_stop(struct srv *s)
{
	srv_hangup(s);
	if (s->lfd >= 0)
		close(s->lfd);
	s->lfd = -1;
	unlink(s->path);
}

static void
srv_free(struct srv *s)
{
	srv_stop(s);
	rmdir(s->dir);
	free(s);
}

static void
srv_send_n(struct srv *s, const char *data, size_t len)
{
	size_t off = 0;
	ssize_t n;

	assert_true(s->cfd >= 0);
	while (off < len) {
		n = send(s->cfd, data + off, len - off, MSG_NOSIGNAL);
		assert_true(n > 0);
		off += (size_t)n;
	}
}

static void
srv_send(struct srv *s, const char *data)
{
	srv_send_n(s, data, strlen(data));
}

/* Lines the client has sent on the current connection. */
static int
srv_lines(const struct srv *s)
{
	int n = 0;
	size_t i;

	for (i = 0; i < s->in_len; i++)
		n += s->in[i] == '\n';
	return n;
}

/* Accept and read what is there, once. */
static void
srv_step(struct srv *s, short lrev, short crev)
{
	ssize_t n;
	int fd;

	if (s->lfd >= 0 && (lrev & POLLIN)) {
		if ((fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
			srv_hangup(s);
			s->cfd = fd;
			s->accepted++;
		}
	}
	if (s->cfd >= 0 && crev != 0 && !s->eof) {
		n = read(s->cfd, s->in + s->in_len, sizeof s->in - s->in_len - 1);
		if (n == 0 || (n < 0 && errno != EAGAIN))
			s->eof = 1;
		else if (n > 0)
			s->in_len += (size_t)n;
		s->in[s->in_len] = '\0';
	}
}

/* One round of the shared loop: poll server and client, move both. */
static void
pump_once(struct srv *s, struct client_conn *c, int max_ms)
{
	struct pollfd p[3];
	int t = client_conn_timeout(c), n;

	p[0].fd = s->lfd;
	p[0].events = POLLIN;
	p[1].fd = s->eof ? -1 : s->cfd;
	p[1].events = POLLIN;
	p[2].fd = client_conn_fd(c);
	p[2].events = client_conn_events(c);
	p[0].revents = p[1].revents = p[2].revents = 0;
	if (t < 0 || t > max_ms)
		t = max_ms;
	n = poll(p, 3, t);
	assert_true(n >= 0 || errno == EINTR);
	srv_step(s, p[0].revents, p[1].revents);
	client_conn_process(c, p[2].fd >= 0 ? p[2].revents : 0);
}

/* Run the loop until cond(arg) holds; fails the test after the deadline. */
static void
pump_until(struct srv *s, struct client_conn *c, int (*cond)(void *), void *arg)
{
	int64_t end = util_mono_ms() + DEADLINE_MS;

	while (!cond(arg)) {
		assert_true(util_mono_ms() < end);
		pump_once(s, c, 50);
	}
}

/* ---- what the client saw ---- */

#define MAX_SEEN 16
struct seen {
	struct srv *s;
	int nanswers;
	char *answers[MAX_SEEN];	/* the answer printed, or "ERR: error" */
	int nevents;
	char *events[MAX_SEEN];		/* the raw line */
	int event_json[MAX_SEEN];	/* parsed as an object */
	int nstates;
	enum client_conn_state states[MAX_SEEN * 4];
	char *state_errors[MAX_SEEN * 4];
	int want;			/* for the conditions below */
};

static void
seen_clear(struct seen *w)
{
	int i;

	for (i = 0; i < w->nanswers; i++)
		free(w->answers[i]);
	for (i = 0; i < w->nevents; i++)
		free(w->events[i]);
	for (i = 0; i < w->nstates; i++)
		free(w->state_errors[i]);
	memset(w, 0, sizeof *w);
}

static void
on_answer(struct client_conn *c, cJSON *answer, const char *error, void *arg)
{
	struct seen *w = arg;
	char *s;

	assert_true(w->nanswers < MAX_SEEN);
	if (error != NULL)
		xasprintf(&w->answers[w->nanswers++], "ERR: %s", error);
	else {
		assert_non_null(answer);
		s = cJSON_PrintUnformatted(answer);
		w->answers[w->nanswers++] = xstrdup(s);
		cJSON_free(s);
	}
	cJSON_Delete(answer);
}

static void
on_event(struct client_conn *c, cJSON *event, const char *line, void *arg)
{
	struct seen *w = arg;

	assert_true(w->nevents < MAX_SEEN);
	w->event_json[w->nevents] = event != NULL;
	w->events[w->nevents++] = xstrdup(line);
	cJSON_Delete(event);
}

static void
on_state(struct client_conn *c, enum client_conn_state st, const char *error, void *arg)
{
	struct seen *w = arg;

	assert_true(w->nstates < MAX_SEEN * 4);
	w->state_errors[w->nstates] = error != NULL ? xstrdup(error) : NULL;
	w->states[w->nstates++] = st;
}

static int
answers_ge(void *arg)
{
	struct seen *w = arg;

	return w->nanswers >= w->want;
}

static int
events_ge(void *arg)
{
	struct seen *w = arg;

	return w->nevents >= w->want;
}

static int
srv_lines_ge(void *arg)
{
	struct seen *w = arg;

	return srv_lines(w->s) >= w->want;
}

static int
srv_eof(void *arg)
{
	return ((struct seen *)arg)->s->eof;
}

static int
states_ge(void *arg)
{
	struct seen *w = arg;

	return w->nstates >= w->want;
}

/* The last state reported is want. */
static int
state_is(void *arg)
{
	struct seen *w = arg;

	return w->nstates > 0 && (int)w->states[w->nstates - 1] == w->want;
}

static struct client_conn *
conn_new(struct srv *s, struct seen *w, struct client_conn_opts *o)
{
	struct client_conn_opts def;

	if (o == NULL) {
		memset(&def, 0, sizeof def);
		o = &def;
	}
	o->on_event = on_event;
	o->on_state = on_state;
	o->arg = w;
	w->s = s;
	return client_conn_new(client_transport_unix_new(s->path), o);
}

static void
request(struct client_conn *c, const char *cmd, struct seen *w, int timeout_ms)
{
	cJSON *req = client_request_new(cmd, NULL, NULL);

	client_conn_request(c, req, timeout_ms, on_answer, w);
	cJSON_Delete(req);
}

/* Start connecting and wait until the server has n request lines. */
static void
start_sent(struct srv *s, struct client_conn *c, struct seen *w, int n)
{
	client_conn_start(c, NULL);
	w->want = n;
	pump_until(s, c, srv_lines_ge, w);
}

static void
finish(struct srv *s, struct client_conn *c, struct seen *w)
{
	client_conn_free(c);
	seen_clear(w);
	srv_free(s);
}

/* ---- cases ---- */

static void
test_answers_in_order_merged(void **state)
{
	struct srv *s = srv_new(1);
	struct seen w = { 0 };
	struct client_conn *c = conn_new(s, &w, NULL);
	cJSON *req = client_request_new("task", "id", "t\"1");

	request(c, "status", &w, 0);
	client_conn_request(c, req, 0, on_answer, &w);
	cJSON_Delete(req);
	request(c, "tasks", &w, 0);
	assert_int_equal(client_conn_start(c, NULL), 0);
	assert_int_equal(w.nstates, 1);
	assert_int_equal(w.states[0], CLIENT_CONN_UP);
	w.want = 3;
	pump_until(s, c, srv_lines_ge, &w);
	/* What went out: one compact object a line, in order. */
	assert_string_equal(s->in, "{\"cmd\":\"status\"}\n{\"cmd\":\"task\",\"id\":\"t\\\"1\"}\n"
	    "{\"cmd\":\"tasks\"}\n");
	/* Three answers in one write, a \r before one newline. */
	srv_send(s, "{\"ok\":true,\"n\":1}\n{\"ok\":true,\"n\":2}\r\n{\"ok\":true,\"n\":3}\n");
	pump_until(s, c, answers_ge, &w);
	assert_string_equal(w.answers[0], "{\"ok\":true,\"n\":1}");
	assert_string_equal(w.answers[1], "{\"ok\":true,\"n\":2}");
	assert_string_equal(w.answers[2], "{\"ok\":true,\"n\":3}");
	assert_int_equal(w.nevents, 0);
	assert_true(client_conn_connected(c));
	finish(s, c, &w);
}

static void
test_split_lines(void **state)
{
	struct srv *s = srv_new(1);
	struct seen w = { 0 };
	struct client_conn *c = conn_new(s, &w, NULL);
	int i;

	request(c, "status", &w, 0);
	request(c, "tasks", &w, 0);
	start_sent(s, c, &w, 2);
	/* An answer in three pieces, the next one's start riding along. */
	srv_send(s, "{\"ok\":tr");
	for (i = 0; i < 5; i++)
		pump_once(s, c, 20);
	assert_int_equal(w.nanswers, 0);
	srv_send(s, "ue,\"a\":1}\n{\"ok\"");
	w.want = 1;
	pump_until(s, c, answers_ge, &w);
	assert_string_equal(w.answers[0], "{\"ok\":true,\"a\":1}");
	for (i = 0; i < 5; i++)
		pump_once(s, c, 20);
	assert_int_equal(w.nanswers, 1);
	srv_send(s, ":true,\"b\":2}\n");
	w.want = 2;
	pump_until(s, c, answers_ge, &w);
	assert_string_equal(w.answers[1], "{\"ok\":true,\"b\":2}");
	finish(s, c, &w);
}

static void
test_events_between_answers(void **state)
{
	struct srv *s = srv_new(1);
	struct seen w = { 0 };
	struct client_conn *c = conn_new(s, &w, NULL);

	request(c, "subscribe", &w, 0);
	start_sent(s, c, &w, 1);
	srv_send(s, "{\"ok\":true}\n{\"event\": \"task\", \"task\": {}}\n");
	w.want = 1;
	pump_until(s, c, events_ge, &w);
	assert_int_equal(w.nanswers, 1);
	/* A request on the subscribed connection: its answer among events. */
	request(c, "status", &w, 0);
	w.want = 2;
	pump_until(s, c, srv_lines_ge, &w);
	srv_send(s, "{\"event\":\"status\",\"status\":{}}\n{\"ok\":true,\"status\":{}}\n"
	    "not json\n\n{\"event\":\"task\",\"task\":{\"ok\":1}}\n");
	w.want = 4;
	pump_until(s, c, events_ge, &w);
	assert_int_equal(w.nanswers, 2);
	assert_string_equal(w.answers[1], "{\"ok\":true,\"status\":{}}");
	/* Events as received, byte for byte; a line nobody asked for too. */
	assert_string_equal(w.events[0], "{\"event\": \"task\", \"task\": {}}");
	assert_string_equal(w.events[1], "{\"event\":\"status\",\"status\":{}}");
	assert_string_equal(w.events[2], "not json");
	assert_int_equal(w.event_json[2], 0);
	assert_string_equal(w.events[3], "{\"event\":\"task\",\"task\":{\"ok\":1}}");
	assert_int_equal(w.event_json[3], 1);
	finish(s, c, &w);
}

static void
test_errors_in_answers(void **state)
{
	static const char nul_line[] = "{\"ok\":true,\0\"a\":1}\n";
	struct srv *s = srv_new(1);
	struct seen w = { 0 };
	struct client_conn *c = conn_new(s, &w, NULL);
	char want[512];

	request(c, "task", &w, 0);
	request(c, "cancel", &w, 0);
	request(c, "x", &w, 0);
	request(c, "y", &w, 0);
	start_sent(s, c, &w, 4);
	srv_send(s, "{\"ok\":false,\"error\":\"no task \\u001b[31mt9\\n known\"}\n"
	    "{\"ok\":false}\n[1,2]\n");
	/*
	 * A NUL inside a line: the line's bytes are parsed, all of them and
	 * no more (cJSON skips a NUL as it does blanks).
	 */
	srv_send_n(s, nul_line, sizeof nul_line - 1);
	w.want = 4;
	pump_until(s, c, answers_ge, &w);
	/* The gateway's error, made harmless for a terminal. */
	assert_string_equal(w.answers[0], "ERR: no task ?[31mt9  known");
	assert_string_equal(w.answers[1], "ERR: request failed (no error given)");
	snprintf(want, sizeof want, "ERR: %s: the answer is not a JSON object", s->path);
	assert_string_equal(w.answers[2], want);
	assert_string_equal(w.answers[3], "{\"ok\":true,\"a\":1}");
	assert_true(client_conn_connected(c));
	finish(s, c, &w);
}

static void
test_line_cap(void **state)
{
	struct srv *s = srv_new(1);
	struct seen w = { 0 };
	struct client_conn_opts o = { 0 };
	struct client_conn *c;
	char want[512], big[200];

	o.line_max = 64;
	c = conn_new(s, &w, &o);
	request(c, "status", &w, 0);
	request(c, "tasks", &w, 0);
	start_sent(s, c, &w, 2);
	/* 64 bytes pass; 100 without a newline yet are refused, naming the cap. */
	memset(big, 'x', sizeof big);
	memcpy(big, "{\"ok\":true,\"pad\":\"", 18);
	memcpy(big + 62, "\"}\n", 4);
	srv_send(s, big);
	w.want = 1;
	pump_until(s, c, answers_ge, &w);
	assert_int_equal(strlen(w.answers[0]), 64);
	assert_string_equal(w.answers[0] + strlen(w.answers[0]) - 3, "x\"}");
	memset(big, 'y', 100);
	big[100] = '\0';
	srv_send(s, big);
	w.want = 2;
	pump_until(s, c, answers_ge, &w);
	snprintf(want, sizeof want, "ERR: %s: a line longer than 64 bytes", s->path);
	assert_string_equal(w.answers[1], want);
	assert_int_equal(client_conn_state(c), CLIENT_CONN_CLOSED);
	assert_string_equal(w.state_errors[w.nstates - 1], want + 5);
	finish(s, c, &w);
}

static void
test_close_mid_answer(void **state)
{
	struct srv *s = srv_new(1);
	struct seen w = { 0 };
	struct client_conn *c = conn_new(s, &w, NULL);
	char want[512];

	request(c, "status", &w, 0);
	start_sent(s, c, &w, 1);
	srv_send(s, "{\"ok\":tr");
	srv_hangup(s);
	pump_until(s, c, answers_ge, &w);
	snprintf(want, sizeof want, "ERR: %s: connection closed in the middle of a line", s->path);
	assert_string_equal(w.answers[0], want);
	assert_int_equal(w.states[w.nstates - 1], CLIENT_CONN_CLOSED);
	/* A request after the end fails from process, not from request. */
	request(c, "status", &w, 0);
	assert_int_equal(w.nanswers, 1);
	assert_int_equal(client_conn_timeout(c), 0);
	client_conn_process(c, 0);
	assert_int_equal(w.nanswers, 2);
	assert_string_equal(w.answers[1], want);
	finish(s, c, &w);
}

static void
test_close_before_answer(void **state)
{
	struct srv *s = srv_new(1);
	struct seen w = { 0 };
	struct client_conn *c = conn_new(s, &w, NULL);
	char want[512];

	request(c, "status", &w, 0);
	start_sent(s, c, &w, 1);
	srv_hangup(s);
	pump_until(s, c, answers_ge, &w);
	snprintf(want, sizeof want, "ERR: %s: connection closed by paia-gateway before it "
	    "answered (not allowed? the socket accepts its owner, root and control.group)",
	    s->path);
	assert_string_equal(w.answers[0], want);
	finish(s, c, &w);
}

static void
test_never_answers(void **state)
{
	struct srv *s = srv_new(1);
	struct seen w = { 0 };
	struct client_conn *c = conn_new(s, &w, NULL);
	char want[512];
	int64_t t0 = util_mono_ms();

	request(c, "task", &w, 300);
	request(c, "status", &w, 0);
	client_conn_start(c, NULL);
	w.want = 2;
	pump_until(s, c, answers_ge, &w);
	assert_true(util_mono_ms() - t0 >= 300);
	snprintf(want, sizeof want, "ERR: %s: no answer from paia-gateway within 300 ms",
	    s->path);
	assert_string_equal(w.answers[0], want);
	/* The connection is dropped: the next answer would be misread. */
	assert_string_equal(w.answers[1], want);
	assert_int_equal(client_conn_state(c), CLIENT_CONN_CLOSED);
	pump_until(s, c, srv_eof, &w);
	finish(s, c, &w);
}

static int64_t behind_t0;

static int
behind_past(void *arg)
{
	return util_mono_ms() - behind_t0 >= 600;
}

/*
 * A short request behind a slow one (a console's lag after a frame that
 * ffmpeg makes): answers come in order, so its time counts from the one
 * ahead of it; it is not failed, nor the connection dropped, while the
 * slow one may still be answered.
 */
static void
test_short_behind_slow(void **state)
{
	struct srv *s = srv_new(1);
	struct seen w = { 0 };
	struct client_conn *c = conn_new(s, &w, NULL);

	request(c, "frame", &w, 5000);
	request(c, "lag", &w, 200);
	start_sent(s, c, &w, 2);
	behind_t0 = util_mono_ms();
	pump_until(s, c, behind_past, &w);
	assert_int_equal(w.nanswers, 0);
	assert_true(client_conn_connected(c));
	srv_send(s, "{\"ok\":true,\"n\":1}\n{\"ok\":true,\"n\":2}\n");
	w.want = 2;
	pump_until(s, c, answers_ge, &w);
	assert_string_equal(w.answers[0], "{\"ok\":true,\"n\":1}");
	assert_string_equal(w.answers[1], "{\"ok\":true,\"n\":2}");
	assert_true(client_conn_connected(c));
	finish(s, c, &w);
}

static void
test_no_gateway(void **state)
{
	struct srv *s = srv_new(0);
	struct seen w = { 0 };
	struct client_conn *c = conn_new(s, &w, NULL);
	char want[512], *cause = NULL;

	request(c, "status", &w, 0);
	assert_int_equal(client_conn_start(c, &cause), -1);
	snprintf(want, sizeof want, "cannot connect to %s: No such file or directory "
	    "(is paia-gateway running?)", s->path);
	assert_string_equal(cause, want);
	free(cause);
	assert_int_equal(w.nanswers, 1);
	assert_string_equal(w.answers[0] + 5, want);
	assert_int_equal(w.states[0], CLIENT_CONN_CLOSED);
	assert_int_equal(client_conn_fd(c), -1);
	finish(s, c, &w);
}

static void
test_reconnect_resync(void **state)
{
	struct srv *s = srv_new(1);
	struct seen w = { 0 };
	struct client_conn_opts o = { 0 };
	struct client_conn *c;
	int down;

	o.reconnect = 1;
	o.backoff_ms = 10;
	o.backoff_max_ms = 40;
	c = conn_new(s, &w, &o);
	request(c, "subscribe", &w, 0);
	start_sent(s, c, &w, 1);
	srv_send(s, "{\"ok\":true}\n");
	pump_until(s, c, answers_ge, &w);
	assert_int_equal(w.states[0], CLIENT_CONN_UP);
	assert_int_equal(s->accepted, 1);

	/* The gateway goes away: DOWN, then failed attempts while it is gone. */
	srv_stop(s);
	w.want = CLIENT_CONN_DOWN;
	pump_until(s, c, state_is, &w);
	down = w.nstates;
	assert_null(w.state_errors[down - 1]);
	w.want = down + 2;
	pump_until(s, c, states_ge, &w);
	assert_int_equal(w.states[w.nstates - 1], CLIENT_CONN_DOWN);
	assert_non_null(strstr(w.state_errors[w.nstates - 1], "cannot connect to"));
	assert_int_equal(client_conn_fd(c), -1);
	assert_true(client_conn_timeout(c) >= 0 && client_conn_timeout(c) <= 40);

	/* A request made while down waits for the connection. */
	request(c, "status", &w, 0);
	srv_listen(s);
	w.want = CLIENT_CONN_RESYNC;
	pump_until(s, c, state_is, &w);
	assert_int_equal(client_conn_state(c), CLIENT_CONN_RESYNC);
	w.want = 1;
	pump_until(s, c, srv_lines_ge, &w);
	assert_string_equal(s->in, "{\"cmd\":\"status\"}\n");
	srv_send(s, "{\"ok\":true,\"again\":1}\n");
	w.want = 2;
	pump_until(s, c, answers_ge, &w);
	assert_string_equal(w.answers[1], "{\"ok\":true,\"again\":1}");
	assert_int_equal(s->accepted, 2);
	finish(s, c, &w);
}

static void
test_idle_subscriber(void **state)
{
	struct srv *s = srv_new(1);
	struct seen w = { 0 };
	struct client_conn_opts o = { 0 };
	struct client_conn *c;
	int64_t t0;

	o.idle_ms = 200;
	c = conn_new(s, &w, &o);
	request(c, "subscribe", &w, 0);
	start_sent(s, c, &w, 1);
	t0 = util_mono_ms();
	srv_send(s, "{\"ok\":true}\n");
	w.want = CLIENT_CONN_CLOSED;
	pump_until(s, c, state_is, &w);
	assert_true(util_mono_ms() - t0 >= 200);
	assert_non_null(strstr(w.state_errors[w.nstates - 1],
	    "nothing from paia-gateway for 200 ms"));
	finish(s, c, &w);
}

static void
test_free_fails_pending(void **state)
{
	struct srv *s = srv_new(1);
	struct seen w = { 0 };
	struct client_conn *c = conn_new(s, &w, NULL);

	request(c, "status", &w, 0);
	client_conn_start(c, NULL);
	assert_int_equal(w.nanswers, 0);
	client_conn_free(c);
	assert_int_equal(w.nanswers, 1);
	assert_string_equal(w.answers[0], "ERR: connection closed");
	seen_clear(&w);
	srv_free(s);
}

/* ---- client_call against a forked gateway ---- */

/* A child serving one connection: answer each line with the next of answers. */
static pid_t
fork_gateway(struct srv *s, const char *const *answers)
{
	struct pollfd pfd;
	char buf[4096];
	ssize_t n;
	pid_t pid;
	int fd, i = 0;

	pid = fork();
	assert_true(pid >= 0);
	if (pid > 0) {
		close(s->lfd);
		s->lfd = -1;
		return pid;
	}
	/* The listener is non-blocking: wait for the parent to connect. */
	pfd.fd = s->lfd;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, DEADLINE_MS) != 1 || (fd = accept(s->lfd, NULL, NULL)) < 0)
		_exit(1);
	while ((n = read(fd, buf, sizeof buf)) > 0) {
		if (answers[i] == NULL)
			continue;	/* never answers */
		if (write(fd, answers[i], strlen(answers[i])) < 0)
			_exit(1);
		i++;
	}
	_exit(0);
}

static void
reap(pid_t pid)
{
	int st;

	kill(pid, SIGTERM);
	waitpid(pid, &st, 0);
}

static void
test_call(void **state)
{
	static const char *const answers[] = {
		"{\"ok\":true,\"status\":{\"instance\":\"h1\"}}\n",
		"{\"ok\":false,\"error\":\"no\"}\n", NULL
	};
	struct srv *s = srv_new(1);
	struct client_conn *c = client_conn_new(client_transport_unix_new(s->path), NULL);
	pid_t pid = fork_gateway(s, answers);
	cJSON *req = client_request_new("status", NULL, NULL), *resp;
	char *cause = NULL, want[512];
	volatile sig_atomic_t stop = 0;

	resp = client_call(c, req, 5000, &stop, &cause);
	assert_non_null(resp);
	assert_string_equal(client_json_str(cJSON_GetObjectItemCaseSensitive(resp, "status"),
	    "instance"), "h1");
	cJSON_Delete(resp);
	assert_null(client_call(c, req, 5000, &stop, &cause));
	assert_string_equal(cause, "no");
	free(cause);
	assert_null(client_call(c, req, 200, &stop, &cause));
	snprintf(want, sizeof want, "%s: no answer from paia-gateway within 200 ms", s->path);
	assert_string_equal(cause, want);
	free(cause);
	client_conn_free(c);
	cJSON_Delete(req);
	reap(pid);
	srv_free(s);
}

static void
test_call_interrupted(void **state)
{
	static const char *const answers[] = { NULL };
	struct srv *s = srv_new(1);
	struct client_conn *c = client_conn_new(client_transport_unix_new(s->path), NULL);
	pid_t pid = fork_gateway(s, answers);
	cJSON *req = client_request_new("status", NULL, NULL);
	volatile sig_atomic_t stop = 1;
	char *cause = NULL;

	/* The request must not outlive the call (ASan would see its callback). */
	assert_null(client_call(c, req, 5000, &stop, &cause));
	assert_string_equal(cause, "interrupted");
	free(cause);
	assert_int_equal(client_conn_state(c), CLIENT_CONN_CLOSED);
	client_conn_process(c, 0);
	client_conn_free(c);
	cJSON_Delete(req);
	reap(pid);
	srv_free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_answers_in_order_merged),
		cmocka_unit_test(test_split_lines),
		cmocka_unit_test(test_events_between_answers),
		cmocka_unit_test(test_errors_in_answers),
		cmocka_unit_test(test_line_cap),
		cmocka_unit_test(test_close_mid_answer),
		cmocka_unit_test(test_close_before_answer),
		cmocka_unit_test(test_never_answers),
		cmocka_unit_test(test_short_behind_slow),
		cmocka_unit_test(test_no_gateway),
		cmocka_unit_test(test_reconnect_resync),
		cmocka_unit_test(test_idle_subscriber),
		cmocka_unit_test(test_free_fails_pending),
		cmocka_unit_test(test_call),
		cmocka_unit_test(test_call_interrupted),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
