/*
 * test-control-socket.c: the control socket (gateway/control.c) alone: a
 * real socket (control_start on a temporary path) over a struct
 * control_ops of the test's own that records each call and answers
 * with canned views, driven by real client sockets in the same libevent
 * loop (no threads, no sleeps: the loop runs until each condition holds,
 * with a generous deadline). Each command reaches its operation with
 * its arguments; refusals come back as {"ok":false,"error":...}; an
 * unknown command names every command there is; pipelined requests are
 * answered in order; subscribers get control_publish's events and the
 * status tick, others do not.
 *
 * What a request may hold is test-control.c's (proto_request_parse);
 * output caps and the client limit are tests/integration/bounds.sh's;
 * the socket path's takeover rules and peer credentials,
 * tests/integration/hostile-input.sh's.
 */
#include "config.h"
#include "gateway.h"
#include "options.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#define DEADLINE_MS 10000	/* for conditions that hold at once on any machine */
#define MAX_LINES 32

/* ---- the gateway's side: operations that record what they were asked ---- */

struct rec {
	char calls[512];	/* "status,tasks(running),task(t1),..." */
	int nstatus;
};

static void
rec_call(struct rec *r, const char *fmt, ...)
{
	size_t len = strlen(r->calls);
	va_list ap;

	if (len > 0 && len < sizeof r->calls - 1)
		r->calls[len++] = ',';
	va_start(ap, fmt);
	vsnprintf(r->calls + len, sizeof r->calls - len, fmt, ap);
	va_end(ap);
}

static cJSON *
fake_status(void *arg)
{
	struct rec *r = arg;
	cJSON *s = cJSON_CreateObject();

	rec_call(r, "status");
	r->nstatus++;
	cJSON_AddStringToObject(s, "instance", "fake-gateway");
	cJSON_AddNumberToObject(s, "calls", r->nstatus);
	return s;
}

static cJSON *
fake_tasks(const char *state, void *arg)
{
	cJSON *a = cJSON_CreateArray(), *t = cJSON_CreateObject();

	rec_call(arg, "tasks(%s)", state != NULL ? state : "NULL");
	cJSON_AddStringToObject(t, "task_id", "listed");
	cJSON_AddItemToArray(a, t);
	/* "failed": an answer of about 3 MB, three times the cap on unread output. */
	if (state != NULL && strcmp(state, "failed") == 0) {
		char pad[501];
		int i;

		memset(pad, 'x', sizeof pad - 1);
		pad[sizeof pad - 1] = '\0';
		for (i = 0; i < 6000; i++) {
			t = cJSON_CreateObject();
			cJSON_AddStringToObject(t, "task_id", pad);
			cJSON_AddItemToArray(a, t);
		}
	}
	return a;
}

static cJSON *
fake_task(const char *id, char **cause, void *arg)
{
	cJSON *t;

	rec_call(arg, "task(%s)", id);
	if (strcmp(id, "missing") == 0) {
		xasprintf(cause, "no task %s known to this gateway", id);
		return NULL;
	}
	t = cJSON_CreateObject();
	cJSON_AddStringToObject(t, "task_id", id);
	return t;
}

static int
fake_cancel(const char *id, char **cause, void *arg)
{
	rec_call(arg, "cancel(%s)", id);
	if (strcmp(id, "busy") == 0) {
		xasprintf(cause, "task %s is already uploading", id);
		return -1;
	}
	return 0;
}

static int
fake_requeue(const char *id, int want, int *attempt, int *already, char **cause, void *arg)
{
	rec_call(arg, "requeue(%s,%d)", id, want);
	if (strcmp(id, "running") == 0) {
		xasprintf(cause, "task %s is running; cancel it first or wait for its result", id);
		return -1;
	}
	*attempt = 7;
	*already = want == 6;
	return 0;
}

static void
fake_lag(cJSON *answer, int check, void *arg)
{
	rec_call(arg, "lag(%d)", check);
	cJSON_AddItemToObject(answer, "partitions", cJSON_CreateArray());
	cJSON_AddBoolToObject(answer, "healthy", 1);
}

static const struct control_ops fake_ops = {
	fake_status, fake_tasks, fake_task, fake_cancel, fake_requeue, fake_lag,
};

/* ---- the socket, and clients on it ---- */

struct client {
	struct bufferevent *bev;
	char *lines[MAX_LINES];
	size_t nlines;
	size_t seen;		/* events looked at so far */
	int eof;
};

struct fx {
	char dir[256];
	char path[300];
	struct event_base *base;
	struct config *conf;
	struct control *ctl;
	struct rec rec;
};

static struct fx *
fx_new(void)
{
	struct fx *f = xcalloc(1, sizeof *f);
	const char *tmpdir = getenv("TMPDIR");
	char *cause = NULL;

	/* A socket path has room for 107 bytes: a short folder. */
	snprintf(f->dir, sizeof f->dir, "%s/paia-ctl.XXXXXX",
	    tmpdir != NULL && *tmpdir != '\0' && strlen(tmpdir) < 64 ? tmpdir : "/tmp");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof f->path, "%s/control.sock", f->dir);
	f->base = event_base_new();
	f->conf = config_new(options_schema, options_passthrough);
	f->ctl = control_start(f->base, f->conf, f->path, &fake_ops, &f->rec, &cause);
	if (f->ctl == NULL)
		fail_msg("control_start: %s", cause);
	return f;
}

static void
fx_free(struct fx *f)
{
	control_stop(f->ctl);
	assert_int_equal(access(f->path, F_OK), -1);
	event_base_free(f->base);
	config_free(f->conf);
	rmdir(f->dir);
	free(f);
}

static void
client_read_cb(struct bufferevent *bev, void *arg)
{
	struct client *c = arg;
	char *line;
	size_t len;

	while ((line = evbuffer_readln(bufferevent_get_input(bev), &len, EVBUFFER_EOL_LF)) != NULL) {
		if (c->nlines == MAX_LINES)
			fail_msg("more than %d lines", MAX_LINES);
		c->lines[c->nlines++] = line;
	}
}

static void
client_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct client *c = arg;

	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		c->eof = 1;
}

static struct client *
client_new(struct fx *f)
{
	struct client *c = xcalloc(1, sizeof *c);
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, f->path, strlen(f->path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) != 0)
		fail_msg("connect %s: %s", f->path, strerror(errno));
	evutil_make_socket_nonblocking(fd);
	c->bev = bufferevent_socket_new(f->base, fd, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(c->bev, client_read_cb, NULL, client_event_cb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	return c;
}

static void
client_free(struct client *c)
{
	size_t i;

	bufferevent_free(c->bev);
	for (i = 0; i < c->nlines; i++)
		free(c->lines[i]);
	free(c);
}

static void
client_send(struct client *c, const char *text)
{
	bufferevent_write(c->bev, text, strlen(text));
}

static void
fx_tick_cb(evutil_socket_t fd, short what, void *arg)
{
}

/* Run the loop until c has n lines; fails the test after the deadline. */
static void
fx_wait_lines(struct fx *f, struct client *c, size_t n)
{
	int64_t end = util_mono_ms() + DEADLINE_MS;
	struct timeval tv = { 0, 10 * 1000 };
	struct event *tick = event_new(f->base, -1, EV_PERSIST, fx_tick_cb, NULL);

	event_add(tick, &tv);
	while (c->nlines < n) {
		if (util_mono_ms() >= end)
			fail_msg("timed out waiting for line %zu (have %zu)", n, c->nlines);
		event_base_loop(f->base, EVLOOP_ONCE);
	}
	event_free(tick);
}

/* Send one request and wait for its answer: line i, parsed (cJSON_Delete it). */
static cJSON *
fx_ask(struct fx *f, struct client *c, const char *request, int want_ok)
{
	size_t n = c->nlines;
	const char *error = NULL;
	char *cause = NULL, *line;
	cJSON *root;
	int ok;

	xasprintf(&line, "%s\n", request);
	client_send(c, line);
	free(line);
	fx_wait_lines(f, c, n + 1);
	if (proto_answer_parse(c->lines[n], strlen(c->lines[n]), &root, &ok, &error, &cause) != 0)
		fail_msg("%s: answer %s: %s", request, c->lines[n], cause);
	if (ok != want_ok)
		fail_msg("%s: answer %s", request, c->lines[n]);
	return root;
}

static const char *
get_str(const cJSON *o, const char *name)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, name);

	if (!cJSON_IsString(j))
		fail_msg("no string %s", name);
	return j->valuestring;
}

/*
 * Wait for the next event of that type on a subscriber (others before it
 * are skipped: a status tick may come at any time): its root (delete it)
 * and payload.
 */
static cJSON *
fx_wait_event(struct fx *f, struct client *c, enum proto_event_type want,
    const cJSON **payload)
{
	enum proto_event_type type;
	char *cause = NULL, *line;
	cJSON *root;

	for (;;) {
		fx_wait_lines(f, c, c->seen + 1);
		line = c->lines[c->seen++];
		if (proto_event_parse(line, strlen(line), &root, &type, payload, &cause) != 0)
			fail_msg("%s: %s", line, cause);
		if (type == want)
			return root;
		cJSON_Delete(root);
	}
}

/* ---- the cases ---- */

/* Each command reaches its operation with its arguments; the answer carries what it gave. */
static void
test_commands(void **state)
{
	struct fx *f = fx_new();
	struct client *c = client_new(f);
	const cJSON *j;
	cJSON *a;

	a = fx_ask(f, c, "{\"cmd\":\"status\"}", 1);
	j = cJSON_GetObjectItemCaseSensitive(a, "status");
	assert_string_equal(get_str(j, "instance"), "fake-gateway");
	cJSON_Delete(a);

	a = fx_ask(f, c, "{\"cmd\":\"tasks\"}", 1);
	j = cJSON_GetObjectItemCaseSensitive(a, "tasks");
	assert_true(cJSON_IsArray(j));
	assert_string_equal(get_str(cJSON_GetArrayItem(j, 0), "task_id"), "listed");
	cJSON_Delete(a);
	cJSON_Delete(fx_ask(f, c, "{\"cmd\":\"tasks\",\"state\":\"running\"}", 1));
	cJSON_Delete(fx_ask(f, c, "{\"state\":\"active\",\"cmd\":\"tasks\"}", 1));

	a = fx_ask(f, c, "{\"cmd\":\"task\",\"id\":\"t1\"}", 1);
	assert_string_equal(get_str(cJSON_GetObjectItemCaseSensitive(a, "task"), "task_id"), "t1");
	cJSON_Delete(a);

	a = fx_ask(f, c, "{\"cmd\":\"cancel\",\"id\":\"t2\"}", 1);
	assert_string_equal(get_str(a, "task_id"), "t2");
	cJSON_Delete(a);

	a = fx_ask(f, c, "{\"cmd\":\"requeue\",\"id\":\"t3\"}", 1);
	assert_string_equal(get_str(a, "task_id"), "t3");
	j = cJSON_GetObjectItemCaseSensitive(a, "attempt");
	assert_true(cJSON_IsNumber(j));
	assert_int_equal(j->valueint, 7);
	assert_null(cJSON_GetObjectItemCaseSensitive(a, "already"));
	cJSON_Delete(a);
	/* An attempt requeued before: the attempt sent then, and "already". */
	a = fx_ask(f, c, "{\"cmd\":\"requeue\",\"id\":\"t3\",\"attempt\":6}", 1);
	assert_int_equal(cJSON_GetObjectItemCaseSensitive(a, "attempt")->valueint, 7);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a, "already")));
	cJSON_Delete(a);

	a = fx_ask(f, c, "{\"cmd\":\"lag\",\"check\":true}", 1);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a, "healthy")));
	assert_true(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(a, "partitions")));
	cJSON_Delete(a);
	cJSON_Delete(fx_ask(f, c, "{\"cmd\":\"lag\"}", 1));

	/* subscribe asks nothing of the gateway. */
	cJSON_Delete(fx_ask(f, c, "{\"cmd\":\"subscribe\"}", 1));

	assert_string_equal(f->rec.calls, "status,tasks(NULL),tasks(running),tasks(active),task(t1),"
	    "cancel(t2),requeue(t3,0),requeue(t3,6),lag(1),lag(0)");
	client_free(c);
	fx_free(f);
}

/* A refusal is {"ok":false,"error":...} with the operation's words; a bad request reaches none. */
static void
test_refusals(void **state)
{
	static const struct {
		const char *request, *answer, *call;
	} cases[] = {
		{ "{\"cmd\":\"task\",\"id\":\"missing\"}",
		  "{\"ok\":false,\"error\":\"no task missing known to this gateway\"}", "task(missing)" },
		{ "{\"cmd\":\"cancel\",\"id\":\"busy\"}",
		  "{\"ok\":false,\"error\":\"task busy is already uploading\"}", "cancel(busy)" },
		{ "{\"cmd\":\"requeue\",\"id\":\"running\"}",
		  "{\"ok\":false,\"error\":\"task running is running; cancel it first or wait for its "
		  "result\"}", "requeue(running,0)" },
		{ "{\"cmd\":\"task\"}", NULL, "" },
		{ "{\"cmd\":\"status\",\"id\":\"x\"}", NULL, "" },
		{ "{\"cmd\":\"tasks\",\"state\":\"sleeping\"}", NULL, "" },
		{ "not json", NULL, "" },
		{ "{\"cmd\":\"status\",\"cmd\":\"status\"}", NULL, "" },
	};
	struct fx *f = fx_new();
	struct client *c = client_new(f);
	const cJSON *j;
	cJSON *a;
	size_t i;

	for (i = 0; i < nitems(cases); i++) {
		f->rec.calls[0] = '\0';
		a = fx_ask(f, c, cases[i].request, 0);
		j = cJSON_GetObjectItemCaseSensitive(a, "error");
		assert_true(cJSON_IsString(j) && *j->valuestring != '\0');
		if (cases[i].answer != NULL)
			assert_string_equal(c->lines[c->nlines - 1], cases[i].answer);
		/* Nothing but ok and error in a refusal. */
		assert_int_equal(cJSON_GetArraySize(a), 2);
		assert_string_equal(f->rec.calls, cases[i].call);
		cJSON_Delete(a);
	}
	/* The connection goes on after a refusal. */
	cJSON_Delete(fx_ask(f, c, "{\"cmd\":\"status\"}", 1));
	client_free(c);
	fx_free(f);
}

/* An unknown command is refused with the list of the commands there are. */
static void
test_unknown_command(void **state)
{
	struct fx *f = fx_new();
	struct client *c = client_new(f);
	const char *error;
	cJSON *a;
	int i;

	a = fx_ask(f, c, "{\"cmd\":\"reboot\"}", 0);
	error = get_str(a, "error");
	assert_non_null(strstr(error, "unknown command 'reboot'"));
	for (i = 0; i < PROTO_NCMDS; i++)
		if (strstr(error, proto_cmd_name((enum proto_cmd)i)) == NULL)
			fail_msg("\"%s\" does not name %s", error, proto_cmd_name((enum proto_cmd)i));
	assert_string_equal(f->rec.calls, "");
	cJSON_Delete(a);
	client_free(c);
	fx_free(f);
}

/* Requests sent together, or a line in pieces, are answered one line each, in order. */
static void
test_pipelined(void **state)
{
	static const char *const want[] = { "status", "task", "error", "tasks", "task_id", "error" };
	struct fx *f = fx_new();
	struct client *c = client_new(f);
	const char *error;
	char *cause = NULL;
	cJSON *root;
	size_t i;
	int ok;

	client_send(c, "{\"cmd\":\"status\"}\n{\"cmd\":\"task\",\"id\":\"t1\"}\n"
	    "{\"cmd\":\"task\",\"id\":\"missing\"}\n{\"cmd\":\"tasks\"}\n"
	    "{\"cmd\":\"cancel\",\"id\":\"t2\"}\n{\"cmd\":\"nope\"}\n");
	fx_wait_lines(f, c, nitems(want));
	for (i = 0; i < nitems(want); i++) {
		assert_int_equal(proto_answer_parse(c->lines[i], strlen(c->lines[i]), &root, &ok,
		    &error, &cause), 0);
		if (cJSON_GetObjectItemCaseSensitive(root, want[i]) == NULL)
			fail_msg("answer %zu is %s, expected one with %s", i, c->lines[i], want[i]);
		assert_int_equal(ok, strcmp(want[i], "error") != 0);
		cJSON_Delete(root);
	}
	assert_string_equal(f->rec.calls, "status,task(t1),task(missing),tasks(NULL),cancel(t2)");

	/* A request in three pieces is one request, answered once it is whole. */
	client_send(c, "{\"cmd\":\"ta");
	client_send(c, "sk\",\"id\":\"pie");
	client_send(c, "ce\"}\n{\"cmd\":\"lag\"}\n");
	fx_wait_lines(f, c, nitems(want) + 2);
	assert_non_null(strstr(c->lines[nitems(want)], "\"task_id\":\"piece\""));
	assert_non_null(strstr(c->lines[nitems(want) + 1], "\"healthy\":true"));
	client_free(c);
	fx_free(f);
}

/*
 * An answer bigger than the cap on unread output (a big cluster's pods)
 * does not get its subscriber dropped by the events that follow it while
 * it drains: the events count from its end.
 */
static void
test_big_answer_then_events(void **state)
{
	struct fx *f = fx_new();
	struct client *c = client_new(f);
	const cJSON *payload;
	cJSON *root;
	size_t n;
	int i;

	cJSON_Delete(fx_ask(f, c, "{\"cmd\":\"subscribe\"}", 1));
	n = c->nlines;
	/* The client stops reading; its answer waits in the gateway's buffer. */
	bufferevent_disable(c->bev, EV_READ);
	client_send(c, "{\"cmd\":\"tasks\",\"state\":\"failed\"}\n");
	{
		int64_t end = util_mono_ms() + DEADLINE_MS;

		while (strstr(f->rec.calls, "tasks(failed)") == NULL) {
			if (util_mono_ms() >= end)
				fail_msg("the tasks request never came: %s", f->rec.calls);
			event_base_loop(f->base, EVLOOP_NONBLOCK);
		}
	}
	for (i = 0; i < 5; i++) {
		cJSON *p = cJSON_CreateObject();

		cJSON_AddStringToObject(p, "task_id", "after");
		control_publish(f->ctl, PROTO_EVENT_TASK, p);
	}
	/* Reading again: the whole answer, then every event, and no hang-up. */
	bufferevent_enable(c->bev, EV_READ);
	/* (A status tick may have come before it.) */
	for (;;) {
		fx_wait_lines(f, c, n + 1);
		if (strlen(c->lines[n]) > 3000000)
			break;
		n++;
	}
	assert_non_null(strstr(c->lines[n], "\"ok\":true"));
	c->seen = n + 1;
	for (i = 0; i < 5; i++) {
		root = fx_wait_event(f, c, PROTO_EVENT_TASK, &payload);
		assert_string_equal(get_str(payload, "task_id"), "after");
		cJSON_Delete(root);
	}
	assert_false(c->eof);
	client_free(c);
	fx_free(f);
	(void)state;
}

/* Only subscribers get events: control_publish's, and a status line every second. */
static void
test_subscribe(void **state)
{
	struct fx *f = fx_new();
	struct client *sub = client_new(f), *other = client_new(f);
	const cJSON *payload;
	cJSON *root, *ev;
	size_t i;
	int64_t end;

	/* Nobody listens yet: the payload is dropped (and freed). */
	cJSON_Delete(fx_ask(f, other, "{\"cmd\":\"status\"}", 1));
	assert_false(control_has_subscribers(f->ctl));
	control_publish(f->ctl, PROTO_EVENT_TASK, cJSON_CreateObject());

	cJSON_Delete(fx_ask(f, sub, "{\"cmd\":\"subscribe\"}", 1));
	sub->seen = sub->nlines;
	assert_true(control_has_subscribers(f->ctl));
	ev = cJSON_CreateObject();
	cJSON_AddStringToObject(ev, "task_id", "t1");
	cJSON_AddStringToObject(ev, "state", "running");
	control_publish(f->ctl, PROTO_EVENT_TASK, ev);
	root = fx_wait_event(f, sub, PROTO_EVENT_TASK, &payload);
	assert_string_equal(get_str(payload, "task_id"), "t1");
	assert_string_equal(get_str(payload, "state"), "running");
	cJSON_Delete(root);

	/* The other client's next line is its answer, not the event. */
	cJSON_Delete(fx_ask(f, other, "{\"cmd\":\"tasks\"}", 1));
	assert_int_equal(other->nlines, 2);

	/* The tick: a status event from the gateway's status operation. */
	root = fx_wait_event(f, sub, PROTO_EVENT_STATUS, &payload);
	assert_string_equal(get_str(payload, "instance"), "fake-gateway");
	cJSON_Delete(root);
	/* Only subscribers get events. */
	for (i = 0; i < other->nlines; i++)
		assert_null(strstr(other->lines[i], "\"event\""));

	/* The subscriber goes: events are no longer built. */
	client_free(sub);
	end = util_mono_ms() + DEADLINE_MS;
	while (control_has_subscribers(f->ctl)) {
		assert_true(util_mono_ms() < end);
		cJSON_Delete(fx_ask(f, other, "{\"cmd\":\"lag\"}", 1));
	}
	client_free(other);
	fx_free(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_commands),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_unknown_command),
		cmocka_unit_test(test_pipelined),
		cmocka_unit_test(test_subscribe),
		cmocka_unit_test(test_big_answer_then_events),
	};

	log_set_level(LOG_LEVEL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
