/*
 * paiactl-control.c: paiactl's side of the control socket (docs/control.md):
 * one JSON request per line, one JSON answer per line, each answer awaited
 * for at most 5 s; then the commands built on it: status, tasks, task,
 * requeue, cancel, logs (read from the task folder the gateway names) and
 * watch (the subscribe stream, printed as it comes).
 *
 * One short connection per request; watch keeps its connection until the
 * gateway closes it or SIGINT. The gateway's answers are printed through
 * ctl_clean(): a task's error text is outside input and must not drive
 * the operator's terminal.
 */
#include "config.h"
#include "paiactl-int.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CTL_ANSWER_MS 5000		/* longest wait for one response */
#define CTL_LINE_MAX (64 * 1024 * 1024)	/* a status or tasks answer is far smaller */
#define CTL_LOG_POLL_MS 200
#define CTL_LOG_STATE_MS 1000

static const char *ctl_states[] = {
	"received", "fetching", "launching", "running", "collecting", "uploading",
	"reporting", "done", "failed",
};

/* ---- the control socket ---- */

struct ctl_conn {
	int fd;
	char *buf;
	size_t len;
	size_t cap;
	int eof;
};

static int
ctl_conn_open(struct ctl_conn *c, char **cause)
{
	struct sockaddr_un sa;
	const char *hint = "";
	int e;

	memset(c, 0, sizeof *c);
	c->fd = -1;
	if (ctl_socket_resolve(cause) != 0)
		return -1;
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	if (strlen(ctl.socket_path) >= sizeof sa.sun_path) {
		xasprintf(cause, "control socket path is too long: %s", ctl.socket_path);
		return -1;
	}
	strcpy(sa.sun_path, ctl.socket_path);
	if ((c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		xasprintf(cause, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		e = errno;
		if (e == ENOENT || e == ECONNREFUSED)
			hint = " (is paia-gateway running?)";
		else if (e == EACCES || e == EPERM)
			hint = " (the socket allows its owner and control.group only)";
		xasprintf(cause, "cannot connect to %s: %s%s", ctl.socket_path, strerror(e), hint);
		close(c->fd);
		c->fd = -1;
		return -1;
	}
	return 0;
}

static void
ctl_conn_close(struct ctl_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
	memset(c, 0, sizeof *c);
	c->fd = -1;
}

static void
ctl_conn_closed(char **cause)
{
	xasprintf(cause, "%s: connection closed by paia-gateway before it answered "
	    "(not allowed? the socket accepts its owner, root and control.group)",
	    ctl.socket_path);
}

static int
ctl_conn_send(struct ctl_conn *c, const cJSON *req, char **cause)
{
	char *text = cJSON_PrintUnformatted(req), *line;
	size_t len, off = 0;
	ssize_t n;
	int rc = 0;

	if (text == NULL)
		fatalx("paiactl: cannot print a request");
	len = (size_t)xasprintf(&line, "%s\n", text);
	cJSON_free(text);
	while (off < len) {
		/* MSG_NOSIGNAL: a gateway hanging up is an error, not SIGPIPE. */
		n = send(c->fd, line + off, len - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			if (errno == EPIPE || errno == ECONNRESET)
				ctl_conn_closed(cause);
			else
				xasprintf(cause, "%s: %s", ctl.socket_path, strerror(errno));
			rc = -1;
			break;
		}
		off += (size_t)n;
	}
	free(line);
	return rc;
}

/*
 * Next line from the gateway, without its newline. timeout_ms < 0 waits
 * for ever. Returns 1 with *line (caller frees), 0 at end of stream or
 * on SIGINT in follow modes, -1 with *cause.
 */
static int
ctl_conn_line(struct ctl_conn *c, int timeout_ms, char **line, char **cause)
{
	int64_t deadline = timeout_ms >= 0 ? util_mono_ms() + timeout_ms : -1;
	struct pollfd pfd;
	char *nl;
	size_t n;
	ssize_t r;
	int wait;

	for (;;) {
		if (c->len > 0 && (nl = memchr(c->buf, '\n', c->len)) != NULL) {
			n = (size_t)(nl - c->buf);
			*line = xstrndup(c->buf, n > 0 && c->buf[n - 1] == '\r' ? n - 1 : n);
			c->len -= n + 1;
			memmove(c->buf, nl + 1, c->len);
			return 1;
		}
		if (c->eof) {
			if (c->len != 0) {
				xasprintf(cause, "%s: connection closed in the middle of a line",
				    ctl.socket_path);
				return -1;
			}
			return 0;
		}
		if (ctl_interrupted)
			return 0;
		if (c->len > CTL_LINE_MAX) {
			xasprintf(cause, "%s: a line longer than %d bytes", ctl.socket_path,
			    CTL_LINE_MAX);
			return -1;
		}
		wait = -1;
		if (deadline >= 0) {
			int64_t left = deadline - util_mono_ms();
			if (left <= 0) {
				xasprintf(cause, "%s: no answer from paia-gateway within %d s",
				    ctl.socket_path, timeout_ms / 1000);
				return -1;
			}
			wait = (int)left;
		}
		pfd.fd = c->fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, wait) < 0) {
			if (errno == EINTR)
				continue;
			xasprintf(cause, "poll: %s", strerror(errno));
			return -1;
		}
		if (pfd.revents == 0)
			continue;
		if (c->cap - c->len < 65536) {
			c->cap = c->cap == 0 ? 65536 : c->cap * 2;
			c->buf = xrealloc(c->buf, c->cap);
		}
		r = read(c->fd, c->buf + c->len, c->cap - c->len);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r < 0 && errno == ECONNRESET) {
			/* The gateway refused us (peer credentials) or went away. */
			c->eof = 1;
			continue;
		}
		if (r < 0) {
			xasprintf(cause, "%s: %s", ctl.socket_path, strerror(errno));
			return -1;
		}
		if (r == 0)
			c->eof = 1;
		c->len += (size_t)r;
	}
}

/* Send req and read its answer; an answer with "ok": false is an error. */
static cJSON *
ctl_conn_call(struct ctl_conn *c, const cJSON *req, char **cause)
{
	const char *error;
	cJSON *resp;
	char *line = NULL;
	int r;

	if (ctl_conn_send(c, req, cause) != 0)
		return NULL;
	if ((r = ctl_conn_line(c, CTL_ANSWER_MS, &line, cause)) < 0)
		return NULL;
	if (r == 0) {
		if (ctl_interrupted)
			*cause = xstrdup("interrupted");
		else
			ctl_conn_closed(cause);
		return NULL;
	}
	resp = cJSON_Parse(line);
	free(line);
	if (!cJSON_IsObject(resp)) {
		xasprintf(cause, "%s: the answer is not a JSON object", ctl.socket_path);
		cJSON_Delete(resp);
		return NULL;
	}
	if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(resp, "ok"))) {
		error = ctl_json_str(resp, "error");
		*cause = ctl_clean(error != NULL ? error : "request failed (no error given)");
		cJSON_Delete(resp);
		return NULL;
	}
	return resp;
}

static cJSON *
ctl_request_new(const char *cmd, const char *key, const char *value)
{
	cJSON *req = cJSON_CreateObject();

	cJSON_AddStringToObject(req, "cmd", cmd);
	if (key != NULL && value != NULL)
		cJSON_AddStringToObject(req, key, value);
	return req;
}

/* One request on a fresh connection. */
static cJSON *
ctl_call(const char *cmd, const char *key, const char *value, char **cause)
{
	struct ctl_conn c;
	cJSON *req, *resp = NULL;

	if (ctl_conn_open(&c, cause) != 0)
		return NULL;
	req = ctl_request_new(cmd, key, value);
	resp = ctl_conn_call(&c, req, cause);
	cJSON_Delete(req);
	ctl_conn_close(&c);
	return resp;
}

/* Print one JSON value compactly on a line. */
static void
ctl_json_print(const cJSON *j)
{
	char *s = cJSON_PrintUnformatted(j);

	if (s == NULL)
		fatalx("paiactl: cannot print JSON");
	printf("%s\n", s);
	cJSON_free(s);
}

/* ---- flags shared by the control commands ---- */

enum { CTL_OPT_JSON = 256, CTL_OPT_STATE, CTL_OPT_COUNT };

struct ctl_flags {
	int json;
	const char *state;
	long long count;
	int follow;
	const char *id;
};

/*
 * Parse the flags of a control command (--json, --state, --count, -f;
 * allowed names those it accepts) and, with want_id, its task id.
 * Returns 0, CTL_HELP_DONE, or an exit status after a usage message.
 */
static int
ctl_flags_parse(const struct ctl_cmd *cmd, int argc, char **argv, const char *allowed,
    int want_id, struct ctl_flags *fl)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, CTL_OPT_JSON },
		{ "state", required_argument, NULL, CTL_OPT_STATE },
		{ "count", required_argument, NULL, CTL_OPT_COUNT },
		{ "follow", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *name = NULL;
	int ch;

	memset(fl, 0, sizeof *fl);
	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":fh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			return ctl_usage_help(cmd);
		case CTL_OPT_JSON:
			name = "json";
			fl->json = 1;
			break;
		case CTL_OPT_STATE:
			name = "state";
			fl->state = optarg;
			break;
		case CTL_OPT_COUNT:
			name = "count";
			if (ctl_flag_int(cmd, "--count", optarg, 1, INT32_MAX, &fl->count) != 0)
				return 2;
			break;
		case 'f':
			name = "follow";
			fl->follow = 1;
			break;
		default:
			return ctl_flag_bad(cmd, ch, argv, optopt);
		}
		if (name != NULL && strstr(allowed, name) == NULL)
			return ctl_usage_err(cmd, "%s: unknown flag %s", cmd->name,
			    argv[optind - 1]);
	}
	if (want_id) {
		if (optind >= argc)
			return ctl_usage_err(cmd, "%s: which task? give its id", cmd->name);
		fl->id = argv[optind++];
	}
	if (optind < argc)
		return ctl_usage_err(cmd, "%s: unexpected argument %s", cmd->name, argv[optind]);
	return 0;
}

/* ---- status ---- */

static const char *
ctl_yesno(const cJSON *j)
{
	if (!cJSON_IsBool(j))
		return "-";
	return cJSON_IsTrue(j) ? "yes" : "no";
}

static void
ctl_status_counts(const char *label, const cJSON *obj)
{
	const cJSON *j;
	char *v;
	int first = 1;

	printf("%-13s ", label);
	if (!cJSON_IsObject(obj)) {
		printf("-\n");
		return;
	}
	cJSON_ArrayForEach(j, obj) {
		v = ctl_json_text(j);
		printf("%s%s %s", first ? "" : ", ", j->string, v);
		free(v);
		first = 0;
	}
	printf("\n");
}

static void
ctl_status_print(const cJSON *st)
{
	static const char *const headers[] = {
		"PARTITION", "COMMITTED", "NEXT", "PENDING", "HIGH", "LAG", "PAUSED"
	};
	static const char *const keys[] = {
		"partition", "committed", "next", "pending", "high", "lag", "paused"
	};
	const cJSON *topics = cJSON_GetObjectItemCaseSensitive(st, "topics"), *p, *j;
	const cJSON *parts = cJSON_GetObjectItemCaseSensitive(st, "partitions");
	char *a, *b, *c, *d, dur[32];
	struct ctl_table t;
	double up;
	size_t i;

	a = ctl_json_text(cJSON_GetObjectItemCaseSensitive(st, "instance"));
	b = ctl_json_text(cJSON_GetObjectItemCaseSensitive(st, "pid"));
	c = ctl_json_text(cJSON_GetObjectItemCaseSensitive(st, "version"));
	printf("%-13s %s (pid %s, version %s%s)\n", "instance", a, b, c,
	    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(st, "embedded")) ? ", embedded" : "");
	free(a);
	free(b);
	free(c);
	if (ctl_json_num(st, "uptime_s", &up) == 0)
		printf("%-13s %s\n", "uptime", ctl_duration_fmt((int64_t)(up * 1000), dur, sizeof dur));
	a = ctl_json_text(cJSON_GetObjectItemCaseSensitive(st, "bootstrap_servers"));
	b = ctl_json_text(cJSON_GetObjectItemCaseSensitive(st, "group_id"));
	printf("%-13s %s (group %s)\n", "kafka", a, b);
	free(a);
	free(b);
	a = ctl_json_text(cJSON_GetObjectItemCaseSensitive(topics, "tasks"));
	b = ctl_json_text(cJSON_GetObjectItemCaseSensitive(topics, "results"));
	c = ctl_json_text(cJSON_GetObjectItemCaseSensitive(topics, "dlq"));
	printf("%-13s tasks %s, results %s, dlq %s\n", "topics", a, b, c);
	free(a);
	free(b);
	free(c);
	a = ctl_json_text(cJSON_GetObjectItemCaseSensitive(st, "inflight"));
	b = ctl_json_text(cJSON_GetObjectItemCaseSensitive(st, "max_inflight"));
	c = ctl_json_text(cJSON_GetObjectItemCaseSensitive(st, "backlog"));
	d = ctl_json_text(cJSON_GetObjectItemCaseSensitive(st, "reporting"));
	printf("%-13s %s/%s (backlog %s, reporting %s)\n", "in-flight", a, b, c, d);
	free(a);
	free(b);
	free(c);
	free(d);
	printf("%-13s %s (draining %s)\n", "paused",
	    ctl_yesno(cJSON_GetObjectItemCaseSensitive(st, "paused")),
	    ctl_yesno(cJSON_GetObjectItemCaseSensitive(st, "draining")));
	ctl_status_counts("states", cJSON_GetObjectItemCaseSensitive(st, "states"));
	ctl_status_counts("totals", cJSON_GetObjectItemCaseSensitive(st, "totals"));
	ctl_status_counts("transactions", cJSON_GetObjectItemCaseSensitive(st, "transactions"));

	if (!cJSON_IsArray(parts) || cJSON_GetArraySize(parts) == 0) {
		printf("\nno partitions assigned\n");
		return;
	}
	printf("\n");
	ctl_table_init(&t, nitems(headers), headers);
	cJSON_ArrayForEach(p, parts) {
		for (i = 0; i < nitems(keys); i++) {
			j = cJSON_GetObjectItemCaseSensitive(p, keys[i]);
			if (cJSON_IsBool(j))
				ctl_table_add(&t, xstrdup(ctl_yesno(j)));
			else
				ctl_table_add(&t, ctl_json_text(j));
		}
	}
	ctl_table_print(&t, stdout);
	ctl_table_free(&t);
}

int
ctl_cmd_status(const struct ctl_cmd *cmd, int argc, char **argv)
{
	struct ctl_flags fl;
	cJSON *resp, *st;
	char *cause = NULL;
	int rc;

	if ((rc = ctl_flags_parse(cmd, argc, argv, "json", 0, &fl)) != 0)
		return CTL_EXIT(rc);
	if ((resp = ctl_call("status", NULL, NULL, &cause)) == NULL)
		return ctl_err_cause(cause);
	st = cJSON_GetObjectItemCaseSensitive(resp, "status");
	if (!cJSON_IsObject(st)) {
		cJSON_Delete(resp);
		return ctl_err("%s: the status answer has no status object", ctl.socket_path);
	}
	if (fl.json)
		ctl_json_print(st);
	else
		ctl_status_print(st);
	cJSON_Delete(resp);
	return 0;
}

/* ---- lag ---- */

int
ctl_cmd_lag(const struct ctl_cmd *cmd, int argc, char **argv)
{
	static const char *const headers[] = {
		"PARTITION", "COMMITTED", "LOG-END", "LAG", "LAG-S", "STATUS", "HEALTHY"
	};
	static const char *const keys[] = {
		"partition", "committed", "log_end", "lag", "lag_s", "status", "healthy"
	};
	struct ctl_flags fl;
	const cJSON *parts, *p, *j;
	cJSON *resp;
	struct ctl_table t;
	char *cause = NULL;
	size_t i;
	int rc, healthy;

	if ((rc = ctl_flags_parse(cmd, argc, argv, "json", 0, &fl)) != 0)
		return CTL_EXIT(rc);
	if ((resp = ctl_call("lag", NULL, NULL, &cause)) == NULL)
		return ctl_err_cause(cause);
	parts = cJSON_GetObjectItemCaseSensitive(resp, "partitions");
	healthy = !cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(resp, "healthy"));
	if (fl.json) {
		cJSON_DeleteItemFromObjectCaseSensitive(resp, "ok");
		ctl_json_print(resp);
	} else if (!cJSON_IsArray(parts) || cJSON_GetArraySize(parts) == 0)
		printf("no partitions assigned\n");
	else {
		ctl_table_init(&t, nitems(headers), headers);
		cJSON_ArrayForEach(p, parts) {
			for (i = 0; i < nitems(keys); i++) {
				j = cJSON_GetObjectItemCaseSensitive(p, keys[i]);
				if (cJSON_IsBool(j))
					ctl_table_add(&t, xstrdup(ctl_yesno(j)));
				else if (cJSON_IsNumber(j) && j->valuedouble < 0)
					ctl_table_add(&t, xstrdup("-"));
				else
					ctl_table_add(&t, ctl_json_text(j));
			}
		}
		ctl_table_print(&t, stdout);
		ctl_table_free(&t);
		cJSON_ArrayForEach(p, parts) {
			j = cJSON_GetObjectItemCaseSensitive(p, "why");
			if (cJSON_IsString(j))
				printf("%s\n", j->valuestring);
			j = cJSON_GetObjectItemCaseSensitive(p, "log_end_error");
			if (cJSON_IsString(j))
				printf("partition %d: log end unknown: %s\n", (int)cJSON_GetNumberValue(
				    cJSON_GetObjectItemCaseSensitive(p, "partition")), j->valuestring);
		}
	}
	cJSON_Delete(resp);
	/* Scripts and probes: 3 says "unhealthy", as opposed to 1 for an error. */
	return healthy ? 0 : 3;
}

/* ---- tasks and task ---- */

static int
ctl_state_known(const char *s)
{
	size_t i;

	for (i = 0; i < nitems(ctl_states); i++)
		if (strcmp(s, ctl_states[i]) == 0)
			return 1;
	return 0;
}

/* "class: message" of a task's or result's error, or "-". */
static char *
ctl_error_text(const cJSON *err)
{
	const char *cls, *msg;
	char *s, *c;

	if (cJSON_IsString(err))
		return ctl_clean(err->valuestring);
	if (!cJSON_IsObject(err))
		return xstrdup("-");
	cls = ctl_json_str(err, "class");
	msg = ctl_json_str(err, "message");
	xasprintf(&s, "%s%s%s", cls != NULL ? cls : "", cls != NULL && msg != NULL ? ": " : "",
	    msg != NULL ? msg : "");
	c = ctl_clean(*s != '\0' ? s : "-");
	free(s);
	return c;
}

/* The earliest time in a task's timeline, or -1. */
static int64_t
ctl_task_first_ms(const cJSON *task)
{
	const cJSON *tl = cJSON_GetObjectItemCaseSensitive(task, "timeline"), *j;
	int64_t ms, first = -1;

	cJSON_ArrayForEach(j, tl) {
		if (cJSON_IsString(j) && ctl_time_parse(j->valuestring, &ms) == 0 &&
		    (first < 0 || ms < first))
			first = ms;
	}
	return first;
}

int
ctl_cmd_tasks(const struct ctl_cmd *cmd, int argc, char **argv)
{
	static const char *const headers[] = {
		"TASK", "ATTEMPT", "STATE", "STATUS", "AGE", "PARTITION/OFFSET", "ERROR"
	};
	struct ctl_flags fl;
	struct ctl_table t;
	const cJSON *tasks, *task;
	cJSON *resp;
	char *cause = NULL, *p, *o, dur[32];
	int64_t first;
	int rc;

	if ((rc = ctl_flags_parse(cmd, argc, argv, "json state", 0, &fl)) != 0)
		return CTL_EXIT(rc);
	if (fl.state != NULL && strcmp(fl.state, "active") != 0 && !ctl_state_known(fl.state))
		return ctl_usage_err(cmd, "--state: \"%s\" is not a state (received fetching "
		    "launching running collecting uploading reporting done failed, or active)",
		    fl.state);
	if ((resp = ctl_call("tasks", "state", fl.state, &cause)) == NULL)
		return ctl_err_cause(cause);
	tasks = cJSON_GetObjectItemCaseSensitive(resp, "tasks");
	if (!cJSON_IsArray(tasks)) {
		cJSON_Delete(resp);
		return ctl_err("%s: the tasks answer has no tasks array", ctl.socket_path);
	}
	if (fl.json) {
		/* {"tasks":[...]}: room for what else a gateway may answer. */
		cJSON_DeleteItemFromObjectCaseSensitive(resp, "ok");
		ctl_json_print(resp);
		cJSON_Delete(resp);
		return 0;
	}
	ctl_table_init(&t, nitems(headers), headers);
	cJSON_ArrayForEach(task, tasks) {
		ctl_table_add(&t, ctl_json_text(cJSON_GetObjectItemCaseSensitive(task, "task_id")));
		ctl_table_add(&t, ctl_json_text(cJSON_GetObjectItemCaseSensitive(task, "attempt")));
		ctl_table_add(&t, ctl_json_text(cJSON_GetObjectItemCaseSensitive(task, "state")));
		ctl_table_add(&t, ctl_json_text(cJSON_GetObjectItemCaseSensitive(task, "status")));
		first = ctl_task_first_ms(task);
		ctl_table_add(&t, xstrdup(first < 0 ? "-" :
		    ctl_duration_fmt(util_now_ms() - first, dur, sizeof dur)));
		p = ctl_json_text(cJSON_GetObjectItemCaseSensitive(task, "partition"));
		o = ctl_json_text(cJSON_GetObjectItemCaseSensitive(task, "offset"));
		ctl_table_addf(&t, "%s/%s", p, o);
		free(p);
		free(o);
		ctl_table_add(&t, ctl_error_text(cJSON_GetObjectItemCaseSensitive(task, "error")));
	}
	if (ctl_table_rows(&t) == 0)
		fprintf(stderr, "no tasks%s%s\n", fl.state != NULL ? " in state " : "",
		    fl.state != NULL ? fl.state : "");
	else
		ctl_table_print(&t, stdout);
	ctl_table_free(&t);
	cJSON_Delete(resp);
	return 0;
}

struct ctl_stamp {
	const char *state;
	int64_t ms;
	const char *text;
};

static void
ctl_task_timeline(const cJSON *task)
{
	static const char *const headers[] = { "STATE", "AT", "SPENT" };
	const cJSON *tl = cJSON_GetObjectItemCaseSensitive(task, "timeline"), *j;
	const char *state = ctl_json_str(task, "state");
	struct ctl_stamp *st = NULL, tmp;
	struct ctl_table t;
	size_t n = 0, i, k;
	char dur[32];
	int final;

	if (!cJSON_IsObject(tl) || cJSON_GetArraySize(tl) == 0)
		return;
	/* Known states in their order, then anything newer gateways add. */
	for (i = 0; i <= nitems(ctl_states); i++) {
		cJSON_ArrayForEach(j, tl) {
			if (!cJSON_IsString(j) || j->string == NULL)
				continue;
			if (i < nitems(ctl_states) ? strcmp(j->string, ctl_states[i]) != 0 :
			    ctl_state_known(j->string))
				continue;
			st = xreallocarray(st, n + 1, sizeof *st);
			st[n].state = j->string;
			st[n].text = j->valuestring;
			if (ctl_time_parse(j->valuestring, &st[n].ms) != 0)
				st[n].ms = -1;
			n++;
		}
	}
	/* Stable sort by time: a requeued task may revisit states. */
	for (i = 1; i < n; i++) {
		for (k = i; k > 0 && st[k].ms >= 0 && st[k - 1].ms > st[k].ms; k--) {
			tmp = st[k];
			st[k] = st[k - 1];
			st[k - 1] = tmp;
		}
	}
	final = state != NULL && (strcmp(state, "done") == 0 || strcmp(state, "failed") == 0);
	printf("\n");
	ctl_table_init(&t, nitems(headers), headers);
	for (i = 0; i < n; i++) {
		ctl_table_add(&t, ctl_clean(st[i].state));
		ctl_table_add(&t, ctl_clean(st[i].text));
		if (st[i].ms < 0)
			ctl_table_add(&t, xstrdup("-"));
		else if (i + 1 < n && st[i + 1].ms >= 0)
			ctl_table_add(&t, xstrdup(ctl_duration_fmt(st[i + 1].ms - st[i].ms, dur,
			    sizeof dur)));
		else if (i + 1 == n && !final)
			ctl_table_addf(&t, "%s (so far)", ctl_duration_fmt(util_now_ms() - st[i].ms,
			    dur, sizeof dur));
		else
			ctl_table_add(&t, xstrdup("-"));
	}
	ctl_table_print(&t, stdout);
	ctl_table_free(&t);
	free(st);
}

static void
ctl_task_print(const cJSON *task)
{
	static const char *const order[] = {
		"task_id", "attempt", "game", "state", "status", "error", "partition", "offset",
		"score", "duration_ms", "dir", "log_path", "log_url", "video_url",
	};
	const cJSON *j;
	char *v, dur[32];
	double ms;
	size_t i;
	int known;

	for (i = 0; i < nitems(order); i++) {
		j = cJSON_GetObjectItemCaseSensitive(task, order[i]);
		if (strcmp(order[i], "error") == 0)
			v = ctl_error_text(j);
		else if (strcmp(order[i], "duration_ms") == 0 &&
		    ctl_json_num(task, "duration_ms", &ms) == 0)
			v = xstrdup(ctl_duration_fmt((int64_t)ms, dur, sizeof dur));
		else
			v = ctl_json_text(j);
		printf("%-12s %s\n", strcmp(order[i], "task_id") == 0 ? "task" :
		    strcmp(order[i], "duration_ms") == 0 ? "duration" : order[i], v);
		free(v);
	}
	/* Fields this paiactl does not know yet, as they are. */
	cJSON_ArrayForEach(j, task) {
		if (j->string == NULL || strcmp(j->string, "timeline") == 0)
			continue;
		for (known = 0, i = 0; i < nitems(order) && !known; i++)
			known = strcmp(j->string, order[i]) == 0;
		if (known)
			continue;
		v = ctl_json_text(j);
		printf("%-12s %s\n", j->string, v);
		free(v);
	}
	ctl_task_timeline(task);
}

int
ctl_cmd_task(const struct ctl_cmd *cmd, int argc, char **argv)
{
	struct ctl_flags fl;
	const cJSON *task;
	cJSON *resp;
	char *cause = NULL;
	int rc;

	if ((rc = ctl_flags_parse(cmd, argc, argv, "json", 1, &fl)) != 0)
		return CTL_EXIT(rc);
	if ((resp = ctl_call("task", "id", fl.id, &cause)) == NULL)
		return ctl_err_cause(cause);
	task = cJSON_GetObjectItemCaseSensitive(resp, "task");
	if (!cJSON_IsObject(task)) {
		cJSON_Delete(resp);
		return ctl_err("%s: the task answer has no task object", ctl.socket_path);
	}
	if (fl.json)
		ctl_json_print(task);
	else
		ctl_task_print(task);
	cJSON_Delete(resp);
	return 0;
}

/* ---- requeue and cancel ---- */

int
ctl_cmd_requeue(const struct ctl_cmd *cmd, int argc, char **argv)
{
	struct ctl_flags fl;
	cJSON *resp;
	const char *id;
	char *cause = NULL, *attempt;
	int rc;

	if ((rc = ctl_flags_parse(cmd, argc, argv, "", 1, &fl)) != 0)
		return CTL_EXIT(rc);
	if ((resp = ctl_call("requeue", "id", fl.id, &cause)) == NULL)
		return ctl_err_cause(cause);
	id = ctl_json_str(resp, "task_id");
	attempt = ctl_json_text(cJSON_GetObjectItemCaseSensitive(resp, "attempt"));
	printf("requeued %s as attempt %s\n", id != NULL ? id : fl.id, attempt);
	free(attempt);
	cJSON_Delete(resp);
	return 0;
}

int
ctl_cmd_cancel(const struct ctl_cmd *cmd, int argc, char **argv)
{
	struct ctl_flags fl;
	cJSON *resp;
	const char *id;
	char *cause = NULL;
	int rc;

	if ((rc = ctl_flags_parse(cmd, argc, argv, "", 1, &fl)) != 0)
		return CTL_EXIT(rc);
	if ((resp = ctl_call("cancel", "id", fl.id, &cause)) == NULL)
		return ctl_err_cause(cause);
	id = ctl_json_str(resp, "task_id");
	printf("cancelling %s\n", id != NULL ? id : fl.id);
	cJSON_Delete(resp);
	return 0;
}

/* ---- logs ---- */

struct ctl_tail {
	const char *path;
	int fd;
	off_t off;
	dev_t dev;
	ino_t ino;
};

/* Copy what is new in the file to stdout; 0, or -1 with *cause. */
static int
ctl_tail_copy(struct ctl_tail *tl, char **cause)
{
	char buf[65536];
	struct stat st;
	ssize_t n;

	if (tl->fd < 0) {
		if ((tl->fd = open(tl->path, O_RDONLY | O_CLOEXEC)) < 0) {
			if (errno == ENOENT)
				return 0;	/* not written yet */
			xasprintf(cause, "%s: %s", tl->path, strerror(errno));
			return -1;
		}
		if (fstat(tl->fd, &st) == 0) {
			tl->dev = st.st_dev;
			tl->ino = st.st_ino;
		}
		tl->off = 0;
	}
	/* Replaced (a new attempt) or truncated: start again from the top. */
	if (stat(tl->path, &st) == 0 && (st.st_ino != tl->ino || st.st_dev != tl->dev)) {
		close(tl->fd);
		tl->fd = -1;
		return ctl_tail_copy(tl, cause);
	}
	if (fstat(tl->fd, &st) == 0 && st.st_size < tl->off) {
		lseek(tl->fd, 0, SEEK_SET);
		tl->off = 0;
	}
	while ((n = read(tl->fd, buf, sizeof buf)) > 0) {
		if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n) {
			xasprintf(cause, "stdout: %s", strerror(errno));
			return -1;
		}
		tl->off += n;
	}
	if (n < 0 && errno != EINTR) {
		xasprintf(cause, "%s: %s", tl->path, strerror(errno));
		return -1;
	}
	fflush(stdout);
	return 0;
}

static int
ctl_task_final(const cJSON *task)
{
	const char *s = ctl_json_str(task, "state");

	return s != NULL && (strcmp(s, "done") == 0 || strcmp(s, "failed") == 0);
}

/* Where a task's log is: its folder, else a file:// log_url once uploaded. */
static char *
ctl_task_log_path(const cJSON *task)
{
	const char *p = ctl_json_str(task, "log_path"), *u = ctl_json_str(task, "log_url");

	if (p != NULL && *p != '\0' && (access(p, F_OK) == 0 || u == NULL ||
	    strncmp(u, "file://", 7) != 0))
		return xstrdup(p);
	if (u != NULL && strncmp(u, "file://", 7) == 0 && u[7] == '/')
		return xstrdup(u + 7);
	return p != NULL && *p != '\0' ? xstrdup(p) : NULL;
}

int
ctl_cmd_logs(const struct ctl_cmd *cmd, int argc, char **argv)
{
	struct ctl_flags fl;
	struct ctl_tail tl;
	cJSON *resp;
	const cJSON *task;
	char *cause = NULL, *path = NULL, *why = NULL;
	int64_t next_query;
	int rc = 1, final;

	if ((rc = ctl_flags_parse(cmd, argc, argv, "follow", 1, &fl)) != 0)
		return CTL_EXIT(rc);
	rc = 1;
	if ((resp = ctl_call("task", "id", fl.id, &cause)) == NULL)
		return ctl_err_cause(cause);
	task = cJSON_GetObjectItemCaseSensitive(resp, "task");
	if (!cJSON_IsObject(task) || (path = ctl_task_log_path(task)) == NULL) {
		cJSON_Delete(resp);
		return ctl_err("task %s has no log_path", fl.id);
	}
	final = ctl_task_final(task);
	cJSON_Delete(resp);

	memset(&tl, 0, sizeof tl);
	tl.path = path;
	tl.fd = -1;
	if (!fl.follow || final) {
		if (ctl_tail_copy(&tl, &cause) != 0) {
			ctl_err_cause(cause);
			goto out;
		}
		if (tl.fd < 0) {
			ctl_err("%s: %s", path, strerror(ENOENT));
			goto out;
		}
		rc = 0;
		goto out;
	}

	ctl_signals_catch();
	next_query = util_mono_ms() + CTL_LOG_STATE_MS;
	while (!ctl_interrupted) {
		if (ctl_tail_copy(&tl, &cause) != 0) {
			ctl_err_cause(cause);
			goto out;
		}
		if (util_mono_ms() >= next_query) {
			if ((resp = ctl_call("task", "id", fl.id, &cause)) == NULL) {
				if (ctl_interrupted) {
					free(cause);
					break;
				}
				/* Show what the log has before saying why we stop. */
				if (ctl_tail_copy(&tl, &why) != 0)
					free(why);
				ctl_err_cause(cause);
				goto out;
			}
			final = ctl_task_final(cJSON_GetObjectItemCaseSensitive(resp, "task"));
			cJSON_Delete(resp);
			if (final)
				break;
			next_query = util_mono_ms() + CTL_LOG_STATE_MS;
		}
		poll(NULL, 0, CTL_LOG_POLL_MS);
	}
	/* What the game wrote between the last read and its end. */
	if (ctl_tail_copy(&tl, &cause) != 0) {
		ctl_err_cause(cause);
		goto out;
	}
	if (tl.fd < 0 && !ctl_interrupted) {
		ctl_err("%s: %s", path, strerror(ENOENT));
		goto out;
	}
	rc = 0;
out:
	if (tl.fd >= 0)
		close(tl.fd);
	free(path);
	return rc;
}

/* ---- watch ---- */

int
ctl_cmd_watch(const struct ctl_cmd *cmd, int argc, char **argv)
{
	struct ctl_flags fl;
	struct ctl_conn c;
	cJSON *req, *resp;
	char *cause = NULL, *line;
	long long n = 0;
	int rc, r;

	if ((rc = ctl_flags_parse(cmd, argc, argv, "count json", 0, &fl)) != 0)
		return CTL_EXIT(rc);
	if (ctl_conn_open(&c, &cause) != 0)
		return ctl_err_cause(cause);
	req = ctl_request_new("subscribe", NULL, NULL);
	resp = ctl_conn_call(&c, req, &cause);
	cJSON_Delete(req);
	if (resp == NULL) {
		ctl_conn_close(&c);
		return ctl_err_cause(cause);
	}
	cJSON_Delete(resp);
	ctl_signals_catch();
	rc = 0;
	while (fl.count == 0 || n < fl.count) {
		if ((r = ctl_conn_line(&c, -1, &line, &cause)) < 0) {
			rc = ctl_err_cause(cause);
			break;
		}
		if (r == 0)
			break;
		if (*line != '\0') {
			printf("%s\n", line);
			fflush(stdout);
			n++;
		}
		free(line);
	}
	if (rc == 0 && fl.count > 0 && n < fl.count && !ctl_interrupted)
		rc = ctl_err("%s: paia-gateway closed the connection after %lld of %lld events",
		    ctl.socket_path, n, fl.count);
	ctl_conn_close(&c);
	return rc;
}
