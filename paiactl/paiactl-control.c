/*
 * paiactl-control.c: the commands that talk to the control socket
 * (docs/control.md) through client/'s connection: status, lag, tasks,
 * task, requeue, cancel, logs (read from the task folder the gateway
 * names), watch (the subscribe stream, printed as it comes) and vpn
 * (the tunnel and its checks).
 *
 * One short connection per request, each answer awaited for at most
 * 5 s; watch keeps its connection until the gateway closes it or SIGINT.
 * The gateway's answers are printed through client_text_clean(): a
 * task's error text is outside input and must not drive the operator's
 * terminal.
 */
#include "config.h"
#include "paiactl-int.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto.h"

#define PAIACTL_ANSWER_MS 5000		/* longest wait for one response */
#define PAIACTL_LOG_POLL_MS 200
#define PAIACTL_LOG_STATE_MS 1000

static const char *paiactl_states[] = {
	"received", "fetching", "launching", "running", "collecting", "uploading",
	"upload_wait", "reporting", "done", "failed",
};

/* ---- the control socket ---- */

/* A connection to the gateway's socket (not yet connected); NULL with *cause. */
static struct client_conn *
paiactl_conn_new(struct paiactl *ctx, const struct client_conn_opts *opts, char **cause)
{
	const char *path;

	if ((path = paiactl_socket(ctx, cause)) == NULL)
		return NULL;
	return client_conn_new(client_transport_unix_new(path), opts);
}

/* One request on a fresh connection: the answer, or NULL with *cause. */
static cJSON *
paiactl_call(struct paiactl *ctx, const char *cmd, const char *key, const char *value,
    char **cause)
{
	struct client_conn *c;
	cJSON *req, *resp;

	if ((c = paiactl_conn_new(ctx, NULL, cause)) == NULL)
		return NULL;
	req = client_request_new(cmd, key, value);
	resp = client_call(c, req, PAIACTL_ANSWER_MS, ctx->stop, cause);
	cJSON_Delete(req);
	client_conn_free(c);
	return resp;
}

/* A member of obj for display ("-" when missing); caller frees. */
static char *
paiactl_field(const cJSON *obj, const char *name)
{
	return client_text_json(cJSON_GetObjectItemCaseSensitive(obj, name));
}

/* Print one JSON value compactly on a line. */
static void
paiactl_json_print(const cJSON *j)
{
	char *s = cJSON_PrintUnformatted(j);

	if (s == NULL)
		fatalx("paiactl: cannot print JSON");
	printf("%s\n", s);
	cJSON_free(s);
}

/* ---- flags shared by the control commands ---- */

enum { PAIACTL_OPT_JSON = 256, PAIACTL_OPT_STATE, PAIACTL_OPT_COUNT };

struct paiactl_flags {
	int json;
	const char *state;
	long long count;
	int follow;
	const char *id;
};

/*
 * Parse the flags of a control command (--json, --state, --count, -f;
 * allowed names those it accepts) and, with want_id, its task id.
 * Returns 0, PAIACTL_HELP_DONE, or an exit status after a usage message.
 */
static int
paiactl_flags_parse(const struct paiactl_cmd *cmd, int argc, char **argv, const char *allowed,
    int want_id, struct paiactl_flags *fl)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, PAIACTL_OPT_JSON },
		{ "state", required_argument, NULL, PAIACTL_OPT_STATE },
		{ "count", required_argument, NULL, PAIACTL_OPT_COUNT },
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
			return paiactl_usage_help(cmd);
		case PAIACTL_OPT_JSON:
			name = "json";
			fl->json = 1;
			break;
		case PAIACTL_OPT_STATE:
			name = "state";
			fl->state = optarg;
			break;
		case PAIACTL_OPT_COUNT:
			name = "count";
			if (paiactl_flag_int(cmd, "--count", optarg, 1, INT32_MAX, &fl->count) != 0)
				return 2;
			break;
		case 'f':
			name = "follow";
			fl->follow = 1;
			break;
		default:
			return paiactl_flag_bad(cmd, ch, argv, optopt);
		}
		if (name != NULL && strstr(allowed, name) == NULL)
			return paiactl_usage_err(cmd, "%s: unknown flag %s", cmd->name,
			    argv[optind - 1]);
	}
	if (want_id) {
		if (optind >= argc)
			return paiactl_usage_err(cmd, "%s: which task? give its id", cmd->name);
		fl->id = argv[optind++];
	}
	if (optind < argc)
		return paiactl_usage_err(cmd, "%s: unexpected argument %s", cmd->name,
		    argv[optind]);
	return 0;
}

/* ---- status ---- */

static const char *
paiactl_yesno(const cJSON *j)
{
	if (!cJSON_IsBool(j))
		return "-";
	return cJSON_IsTrue(j) ? "yes" : "no";
}

static void
paiactl_status_counts(const char *label, const cJSON *obj)
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
		v = client_text_json(j);
		printf("%s%s %s", first ? "" : ", ", j->string, v);
		free(v);
		first = 0;
	}
	printf("\n");
}

static void
paiactl_status_print(const cJSON *st)
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
	struct paiactl_table t;
	double up;
	size_t i;

	a = paiactl_field(st, "instance");
	b = paiactl_field(st, "pid");
	c = paiactl_field(st, "version");
	printf("%-13s %s (pid %s, version %s%s)\n", "instance", a, b, c,
	    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(st, "embedded")) ? ", embedded" : "");
	free(a);
	free(b);
	free(c);
	if (client_json_num(st, "uptime_s", &up) == 0)
		printf("%-13s %s\n", "uptime", client_text_duration((int64_t)(up * 1000), dur,
		    sizeof dur));
	a = paiactl_field(st, "bootstrap_servers");
	b = paiactl_field(st, "group_id");
	printf("%-13s %s (group %s)\n", "kafka", a, b);
	free(a);
	free(b);
	a = paiactl_field(topics, "tasks");
	b = paiactl_field(topics, "results");
	c = paiactl_field(topics, "dlq");
	printf("%-13s tasks %s, results %s, dlq %s\n", "topics", a, b, c);
	free(a);
	free(b);
	free(c);
	a = paiactl_field(st, "inflight");
	b = paiactl_field(st, "max_inflight");
	c = paiactl_field(st, "backlog");
	d = paiactl_field(st, "reporting");
	printf("%-13s %s/%s (backlog %s, reporting %s)\n", "in-flight", a, b, c, d);
	free(a);
	free(b);
	free(c);
	free(d);
	printf("%-13s %s (draining %s)\n", "paused",
	    paiactl_yesno(cJSON_GetObjectItemCaseSensitive(st, "paused")),
	    paiactl_yesno(cJSON_GetObjectItemCaseSensitive(st, "draining")));
	paiactl_status_counts("states", cJSON_GetObjectItemCaseSensitive(st, "states"));
	paiactl_status_counts("totals", cJSON_GetObjectItemCaseSensitive(st, "totals"));
	paiactl_status_counts("transactions", cJSON_GetObjectItemCaseSensitive(st, "transactions"));

	if (!cJSON_IsArray(parts) || cJSON_GetArraySize(parts) == 0) {
		printf("\nno partitions assigned\n");
		return;
	}
	printf("\n");
	paiactl_table_init(&t, nitems(headers), headers);
	cJSON_ArrayForEach(p, parts) {
		for (i = 0; i < nitems(keys); i++) {
			j = cJSON_GetObjectItemCaseSensitive(p, keys[i]);
			if (cJSON_IsBool(j))
				paiactl_table_add(&t, xstrdup(paiactl_yesno(j)));
			else
				paiactl_table_add(&t, client_text_json(j));
		}
	}
	paiactl_table_print(&t, stdout);
	paiactl_table_free(&t);
}

int
paiactl_cmd_status(struct paiactl *ctx, const struct paiactl_cmd *cmd, int argc, char **argv)
{
	struct paiactl_flags fl;
	cJSON *resp, *st;
	char *cause = NULL;
	int rc;

	if ((rc = paiactl_flags_parse(cmd, argc, argv, "json", 0, &fl)) != 0)
		return PAIACTL_EXIT(rc);
	if ((resp = paiactl_call(ctx, "status", NULL, NULL, &cause)) == NULL)
		return paiactl_err_cause(cause);
	st = cJSON_GetObjectItemCaseSensitive(resp, "status");
	if (!cJSON_IsObject(st)) {
		cJSON_Delete(resp);
		return paiactl_err("%s: the status answer has no status object",
		    ctx->loc.socket_path);
	}
	if (fl.json)
		paiactl_json_print(st);
	else
		paiactl_status_print(st);
	cJSON_Delete(resp);
	return 0;
}

/* ---- lag ---- */

int
paiactl_cmd_lag(struct paiactl *ctx, const struct paiactl_cmd *cmd, int argc, char **argv)
{
	static const char *const headers[] = {
		"PARTITION", "COMMITTED", "LOG-END", "LAG", "LAG-S", "STATUS", "HEALTHY"
	};
	static const char *const keys[] = {
		"partition", "committed", "log_end", "lag", "lag_s", "status", "healthy"
	};
	struct paiactl_flags fl;
	const cJSON *parts, *p, *j;
	cJSON *resp;
	struct paiactl_table t;
	char *cause = NULL;
	size_t i;
	int rc, healthy;

	if ((rc = paiactl_flags_parse(cmd, argc, argv, "json", 0, &fl)) != 0)
		return PAIACTL_EXIT(rc);
	if ((resp = paiactl_call(ctx, "lag", NULL, NULL, &cause)) == NULL)
		return paiactl_err_cause(cause);
	parts = cJSON_GetObjectItemCaseSensitive(resp, "partitions");
	healthy = !cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(resp, "healthy"));
	if (fl.json) {
		cJSON_DeleteItemFromObjectCaseSensitive(resp, "ok");
		paiactl_json_print(resp);
	} else if (!cJSON_IsArray(parts) || cJSON_GetArraySize(parts) == 0)
		printf("no partitions assigned\n");
	else {
		paiactl_table_init(&t, nitems(headers), headers);
		cJSON_ArrayForEach(p, parts) {
			for (i = 0; i < nitems(keys); i++) {
				j = cJSON_GetObjectItemCaseSensitive(p, keys[i]);
				if (cJSON_IsBool(j))
					paiactl_table_add(&t, xstrdup(paiactl_yesno(j)));
				else if (cJSON_IsNumber(j) && j->valuedouble < 0)
					paiactl_table_add(&t, xstrdup("-"));
				else
					paiactl_table_add(&t, client_text_json(j));
			}
		}
		paiactl_table_print(&t, stdout);
		paiactl_table_free(&t);
		cJSON_ArrayForEach(p, parts) {
			j = cJSON_GetObjectItemCaseSensitive(p, "why");
			if (cJSON_IsString(j))
				printf("%s\n", j->valuestring);
			j = cJSON_GetObjectItemCaseSensitive(p, "log_end_error");
			if (cJSON_IsString(j))
				printf("partition %d: log end unknown: %s\n",
				    (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(p,
				    "partition")), j->valuestring);
		}
	}
	cJSON_Delete(resp);
	/* Scripts and probes: 3 says "unhealthy", as opposed to 1 for an error. */
	return healthy ? 0 : 3;
}

/* ---- tasks and task ---- */

static int
paiactl_state_known(const char *s)
{
	size_t i;

	for (i = 0; i < nitems(paiactl_states); i++)
		if (strcmp(s, paiactl_states[i]) == 0)
			return 1;
	return 0;
}

/* "class: message" of a task's or result's error, or "-". */
static char *
paiactl_error_text(const cJSON *err)
{
	const char *cls, *msg;
	char *s, *c;

	if (cJSON_IsString(err))
		return client_text_clean(err->valuestring);
	if (!cJSON_IsObject(err))
		return xstrdup("-");
	cls = client_json_str(err, "class");
	msg = client_json_str(err, "message");
	xasprintf(&s, "%s%s%s", cls != NULL ? cls : "", cls != NULL && msg != NULL ? ": " : "",
	    msg != NULL ? msg : "");
	c = client_text_clean(*s != '\0' ? s : "-");
	free(s);
	return c;
}

/* The earliest time in a task's timeline, or -1. */
static int64_t
paiactl_task_first_ms(const cJSON *task)
{
	const cJSON *tl = cJSON_GetObjectItemCaseSensitive(task, "timeline"), *j;
	int64_t ms, first = -1;

	cJSON_ArrayForEach(j, tl) {
		if (cJSON_IsString(j) && util_time_parse(j->valuestring, &ms) == 0 &&
		    (first < 0 || ms < first))
			first = ms;
	}
	return first;
}

int
paiactl_cmd_tasks(struct paiactl *ctx, const struct paiactl_cmd *cmd, int argc, char **argv)
{
	static const char *const headers[] = {
		"TASK", "ATTEMPT", "STATE", "STATUS", "AGE", "PARTITION/OFFSET", "ERROR"
	};
	struct paiactl_flags fl;
	struct paiactl_table t;
	const cJSON *tasks, *task;
	cJSON *resp;
	char *cause = NULL, *p, *o, dur[32];
	int64_t first;
	int rc;

	if ((rc = paiactl_flags_parse(cmd, argc, argv, "json state", 0, &fl)) != 0)
		return PAIACTL_EXIT(rc);
	if (fl.state != NULL && strcmp(fl.state, "active") != 0 && !paiactl_state_known(fl.state))
		return paiactl_usage_err(cmd, "--state: \"%s\" is not a state (received fetching "
		    "launching running collecting uploading upload_wait reporting done failed, or "
		    "active)",
		    fl.state);
	if ((resp = paiactl_call(ctx, "tasks", "state", fl.state, &cause)) == NULL)
		return paiactl_err_cause(cause);
	tasks = cJSON_GetObjectItemCaseSensitive(resp, "tasks");
	if (!cJSON_IsArray(tasks)) {
		cJSON_Delete(resp);
		return paiactl_err("%s: the tasks answer has no tasks array", ctx->loc.socket_path);
	}
	if (fl.json) {
		/* {"tasks":[...]}: room for what else a gateway may answer. */
		cJSON_DeleteItemFromObjectCaseSensitive(resp, "ok");
		paiactl_json_print(resp);
		cJSON_Delete(resp);
		return 0;
	}
	paiactl_table_init(&t, nitems(headers), headers);
	cJSON_ArrayForEach(task, tasks) {
		paiactl_table_add(&t, paiactl_field(task, "task_id"));
		paiactl_table_add(&t, paiactl_field(task, "attempt"));
		paiactl_table_add(&t, paiactl_field(task, "state"));
		paiactl_table_add(&t, paiactl_field(task, "status"));
		first = paiactl_task_first_ms(task);
		paiactl_table_add(&t, xstrdup(first < 0 ? "-" :
		    client_text_duration(util_now_ms() - first, dur, sizeof dur)));
		p = paiactl_field(task, "partition");
		o = paiactl_field(task, "offset");
		paiactl_table_addf(&t, "%s/%s", p, o);
		free(p);
		free(o);
		paiactl_table_add(&t, paiactl_error_text(cJSON_GetObjectItemCaseSensitive(task,
		    "error")));
	}
	if (paiactl_table_rows(&t) == 0)
		fprintf(stderr, "no tasks%s%s\n", fl.state != NULL ? " in state " : "",
		    fl.state != NULL ? fl.state : "");
	else
		paiactl_table_print(&t, stdout);
	paiactl_table_free(&t);
	cJSON_Delete(resp);
	return 0;
}

struct paiactl_stamp {
	const char *state;
	int64_t ms;
	const char *text;
};

static void
paiactl_task_timeline(const cJSON *task)
{
	static const char *const headers[] = { "STATE", "AT", "SPENT" };
	const cJSON *tl = cJSON_GetObjectItemCaseSensitive(task, "timeline"), *j;
	const char *state = client_json_str(task, "state");
	struct paiactl_stamp *st = NULL, tmp;
	struct paiactl_table t;
	size_t n = 0, i, k;
	char dur[32];
	int final;

	if (!cJSON_IsObject(tl) || cJSON_GetArraySize(tl) == 0)
		return;
	/* Known states in their order, then anything newer gateways add. */
	for (i = 0; i <= nitems(paiactl_states); i++) {
		cJSON_ArrayForEach(j, tl) {
			if (!cJSON_IsString(j) || j->string == NULL)
				continue;
			if (i < nitems(paiactl_states) ? strcmp(j->string, paiactl_states[i]) != 0 :
			    paiactl_state_known(j->string))
				continue;
			st = xreallocarray(st, n + 1, sizeof *st);
			st[n].state = j->string;
			st[n].text = j->valuestring;
			if (util_time_parse(j->valuestring, &st[n].ms) != 0)
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
	paiactl_table_init(&t, nitems(headers), headers);
	for (i = 0; i < n; i++) {
		paiactl_table_add(&t, client_text_clean(st[i].state));
		paiactl_table_add(&t, client_text_clean(st[i].text));
		if (st[i].ms < 0)
			paiactl_table_add(&t, xstrdup("-"));
		else if (i + 1 < n && st[i + 1].ms >= 0)
			paiactl_table_add(&t, xstrdup(client_text_duration(st[i + 1].ms -
			    st[i].ms, dur, sizeof dur)));
		else if (i + 1 == n && !final)
			paiactl_table_addf(&t, "%s (so far)", client_text_duration(util_now_ms() -
			    st[i].ms, dur, sizeof dur));
		else
			paiactl_table_add(&t, xstrdup("-"));
	}
	paiactl_table_print(&t, stdout);
	paiactl_table_free(&t);
	free(st);
}

static void
paiactl_task_print(const cJSON *task)
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
			v = paiactl_error_text(j);
		else if (strcmp(order[i], "duration_ms") == 0 &&
		    client_json_num(task, "duration_ms", &ms) == 0)
			v = xstrdup(client_text_duration((int64_t)ms, dur, sizeof dur));
		else
			v = client_text_json(j);
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
		v = client_text_json(j);
		printf("%-12s %s\n", j->string, v);
		free(v);
	}
	paiactl_task_timeline(task);
}

int
paiactl_cmd_task(struct paiactl *ctx, const struct paiactl_cmd *cmd, int argc, char **argv)
{
	struct paiactl_flags fl;
	const cJSON *task;
	cJSON *resp;
	char *cause = NULL;
	int rc;

	if ((rc = paiactl_flags_parse(cmd, argc, argv, "json", 1, &fl)) != 0)
		return PAIACTL_EXIT(rc);
	if ((resp = paiactl_call(ctx, "task", "id", fl.id, &cause)) == NULL)
		return paiactl_err_cause(cause);
	task = cJSON_GetObjectItemCaseSensitive(resp, "task");
	if (!cJSON_IsObject(task)) {
		cJSON_Delete(resp);
		return paiactl_err("%s: the task answer has no task object", ctx->loc.socket_path);
	}
	if (fl.json)
		paiactl_json_print(task);
	else
		paiactl_task_print(task);
	cJSON_Delete(resp);
	return 0;
}

/* ---- requeue and cancel ---- */

int
paiactl_cmd_requeue(struct paiactl *ctx, const struct paiactl_cmd *cmd, int argc, char **argv)
{
	struct paiactl_flags fl;
	cJSON *resp;
	const char *id;
	char *cause = NULL, *attempt;
	int rc;

	if ((rc = paiactl_flags_parse(cmd, argc, argv, "", 1, &fl)) != 0)
		return PAIACTL_EXIT(rc);
	if ((resp = paiactl_call(ctx, "requeue", "id", fl.id, &cause)) == NULL)
		return paiactl_err_cause(cause);
	id = client_json_str(resp, "task_id");
	attempt = paiactl_field(resp, "attempt");
	printf("requeued %s as attempt %s\n", id != NULL ? id : fl.id, attempt);
	free(attempt);
	cJSON_Delete(resp);
	return 0;
}

int
paiactl_cmd_cancel(struct paiactl *ctx, const struct paiactl_cmd *cmd, int argc, char **argv)
{
	struct paiactl_flags fl;
	cJSON *resp;
	const char *id;
	char *cause = NULL;
	int rc;

	if ((rc = paiactl_flags_parse(cmd, argc, argv, "", 1, &fl)) != 0)
		return PAIACTL_EXIT(rc);
	if ((resp = paiactl_call(ctx, "cancel", "id", fl.id, &cause)) == NULL)
		return paiactl_err_cause(cause);
	id = client_json_str(resp, "task_id");
	printf("cancelling %s\n", id != NULL ? id : fl.id);
	cJSON_Delete(resp);
	return 0;
}

/* ---- logs ---- */

struct paiactl_tail {
	const char *path;
	int fd;
	off_t off;
	dev_t dev;
	ino_t ino;
};

/* Copy what is new in the file to stdout; 0, or -1 with *cause. */
static int
paiactl_tail_copy(struct paiactl_tail *tl, char **cause)
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
		return paiactl_tail_copy(tl, cause);
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
paiactl_task_final(const cJSON *task)
{
	const char *s = client_json_str(task, "state");

	return s != NULL && (strcmp(s, "done") == 0 || strcmp(s, "failed") == 0);
}

/* Where a task's log is: its folder, else a file:// log_url once uploaded. */
static char *
paiactl_task_log_path(const cJSON *task)
{
	const char *p = client_json_str(task, "log_path"), *u = client_json_str(task, "log_url");

	if (p != NULL && *p != '\0' && (access(p, F_OK) == 0 || u == NULL ||
	    strncmp(u, "file://", 7) != 0))
		return xstrdup(p);
	if (u != NULL && strncmp(u, "file://", 7) == 0 && u[7] == '/')
		return xstrdup(u + 7);
	return p != NULL && *p != '\0' ? xstrdup(p) : NULL;
}

int
paiactl_cmd_logs(struct paiactl *ctx, const struct paiactl_cmd *cmd, int argc, char **argv)
{
	struct paiactl_flags fl;
	struct paiactl_tail tl;
	cJSON *resp;
	const cJSON *task;
	char *cause = NULL, *path = NULL, *why = NULL;
	int64_t next_query;
	int rc = 1, final;

	if ((rc = paiactl_flags_parse(cmd, argc, argv, "follow", 1, &fl)) != 0)
		return PAIACTL_EXIT(rc);
	rc = 1;
	if ((resp = paiactl_call(ctx, "task", "id", fl.id, &cause)) == NULL)
		return paiactl_err_cause(cause);
	task = cJSON_GetObjectItemCaseSensitive(resp, "task");
	if (!cJSON_IsObject(task) || (path = paiactl_task_log_path(task)) == NULL) {
		cJSON_Delete(resp);
		return paiactl_err("task %s has no log_path", fl.id);
	}
	final = paiactl_task_final(task);
	cJSON_Delete(resp);

	memset(&tl, 0, sizeof tl);
	tl.path = path;
	tl.fd = -1;
	if (!fl.follow || final) {
		if (paiactl_tail_copy(&tl, &cause) != 0) {
			paiactl_err_cause(cause);
			goto out;
		}
		if (tl.fd < 0) {
			paiactl_err("%s: %s", path, strerror(ENOENT));
			goto out;
		}
		rc = 0;
		goto out;
	}

	paiactl_signals_catch();
	next_query = util_mono_ms() + PAIACTL_LOG_STATE_MS;
	while (!*ctx->stop) {
		if (paiactl_tail_copy(&tl, &cause) != 0) {
			paiactl_err_cause(cause);
			goto out;
		}
		if (util_mono_ms() >= next_query) {
			if ((resp = paiactl_call(ctx, "task", "id", fl.id, &cause)) == NULL) {
				if (*ctx->stop) {
					free(cause);
					break;
				}
				/* Show what the log has before saying why we stop. */
				if (paiactl_tail_copy(&tl, &why) != 0)
					free(why);
				paiactl_err_cause(cause);
				goto out;
			}
			final = paiactl_task_final(cJSON_GetObjectItemCaseSensitive(resp, "task"));
			cJSON_Delete(resp);
			if (final)
				break;
			next_query = util_mono_ms() + PAIACTL_LOG_STATE_MS;
		}
		poll(NULL, 0, PAIACTL_LOG_POLL_MS);
	}
	/* What the game wrote between the last read and its end. */
	if (paiactl_tail_copy(&tl, &cause) != 0) {
		paiactl_err_cause(cause);
		goto out;
	}
	if (tl.fd < 0 && !*ctx->stop) {
		paiactl_err("%s: %s", path, strerror(ENOENT));
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

struct paiactl_watch {
	long long count;	/* 0: for ever */
	long long n;
	int closed;
	char *error;		/* why the stream ended, NULL: the gateway closed it */
};

/* Each event line as received; none beyond --count. */
static void
paiactl_watch_event(struct client_conn *c, cJSON *event, const char *line, void *arg)
{
	struct paiactl_watch *w = arg;

	cJSON_Delete(event);
	if (w->count > 0 && w->n >= w->count)
		return;
	printf("%s\n", line);
	fflush(stdout);
	w->n++;
}

static void
paiactl_watch_state(struct client_conn *c, enum client_conn_state st, const char *error,
    void *arg)
{
	struct paiactl_watch *w = arg;

	if (st != CLIENT_CONN_CLOSED)
		return;
	w->closed = 1;
	free(w->error);
	w->error = error != NULL ? xstrdup(error) : NULL;
}

static int
paiactl_watch_done(void *arg)
{
	const struct paiactl_watch *w = arg;

	return w->closed || (w->count > 0 && w->n >= w->count);
}

int
paiactl_cmd_watch(struct paiactl *ctx, const struct paiactl_cmd *cmd, int argc, char **argv)
{
	struct client_conn_opts opts;
	struct paiactl_watch w;
	struct paiactl_flags fl;
	struct client_conn *c;
	cJSON *req, *resp;
	char *cause = NULL;
	int rc, r;

	if ((rc = paiactl_flags_parse(cmd, argc, argv, "count json", 0, &fl)) != 0)
		return PAIACTL_EXIT(rc);
	memset(&w, 0, sizeof w);
	w.count = fl.count;
	memset(&opts, 0, sizeof opts);
	opts.on_event = paiactl_watch_event;
	opts.on_state = paiactl_watch_state;
	opts.arg = &w;
	if ((c = paiactl_conn_new(ctx, &opts, &cause)) == NULL)
		return paiactl_err_cause(cause);
	req = client_request_new("subscribe", NULL, NULL);
	resp = client_call(c, req, PAIACTL_ANSWER_MS, ctx->stop, &cause);
	cJSON_Delete(req);
	if (resp == NULL) {
		client_conn_free(c);
		free(w.error);
		return paiactl_err_cause(cause);
	}
	cJSON_Delete(resp);
	paiactl_signals_catch();
	rc = 0;
	if ((r = client_conn_wait(c, paiactl_watch_done, &w, ctx->stop, &cause)) < 0)
		rc = paiactl_err_cause(cause);
	else if (w.error != NULL) {
		rc = paiactl_err_cause(w.error);
		w.error = NULL;
	}
	if (rc == 0 && fl.count > 0 && w.n < fl.count && !*ctx->stop)
		rc = paiactl_err("%s: paia-gateway closed the connection after %lld of %lld events",
		    ctx->loc.socket_path, w.n, fl.count);
	client_conn_free(c);
	free(w.error);
	return rc;
}

/* ---- vpn ---- */

/* Bytes for people: "812 B", "3.4 MiB". */
static void
paiactl_bytes(int64_t n, char *buf, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	size_t u = 0;

	while (v >= 1024 && u + 1 < nitems(units)) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%lld B", (long long)n);
	else
		snprintf(buf, len, "%.1f %s", v, units[u]);
}

/* "2026-11-28T10:00:00.123Z (3m 2s ago)", or "-". */
static void
paiactl_when(int64_t ms, char *buf, size_t len)
{
	char at[40], ago[32];

	if (ms <= 0) {
		snprintf(buf, len, "-");
		return;
	}
	snprintf(buf, len, "%s (%s ago)", client_text_time_fmt(ms, at, sizeof at),
	    client_text_duration(util_now_ms() - ms, ago, sizeof ago));
}

static void
paiactl_vpn_print(const struct proto_vpn_view *v)
{
	static const char *const headers[] = { "KIND", "TARGET", "RESULT", "AGE", "LATENCY", "REASON" };
	struct paiactl_table t;
	char a[96], b[32], c[32];
	char *s1, *s2;
	size_t i;

	paiactl_when(v->since_ms, a, sizeof a);
	printf("%-13s %s since %s, %s\n", "state", proto_vpn_state_name(v->state), a,
	    v->healthy ? "healthy" : "NOT healthy");
	if (!v->healthy && v->down_since_ms > 0) {
		paiactl_when(v->down_since_ms, a, sizeof a);
		printf("%-13s not healthy since %s\n", "", a);
	}
	paiactl_when(v->connected_ms, a, sizeof a);
	printf("%-13s %s\n", "connected", a);
	if (v->next_try_ms > 0) {
		paiactl_when(v->next_try_ms, a, sizeof a);
		printf("%-13s next try at %s\n", "", a);
	}
	s1 = client_text_clean(v->openvpn_state != NULL ? v->openvpn_state : "");
	s2 = client_text_clean(v->openvpn_detail != NULL ? v->openvpn_detail : "");
	printf("%-13s %s%s%s, pid %lld, %s mode, %lld restarts, %lld auth failures\n", "openvpn",
	    *s1 != '\0' ? s1 : "-", *s2 != '\0' ? " " : "", s2, (long long)v->pid,
	    v->mode != NULL ? v->mode : "?", (long long)v->restarts,
	    (long long)v->auth_failures);
	free(s1);
	free(s2);
	s1 = client_text_clean(v->tun_ip != NULL && *v->tun_ip != '\0' ? v->tun_ip : "-");
	s2 = client_text_clean(v->tun_dev != NULL && *v->tun_dev != '\0' ? v->tun_dev : "-");
	printf("%-13s %s on %s\n", "tunnel", s1, s2);
	free(s1);
	free(s2);
	paiactl_bytes(v->bytes_in, b, sizeof b);
	paiactl_bytes(v->bytes_out, c, sizeof c);
	printf("%-13s in %s, out %s\n", "bytes", b, c);
	printf("%-13s %s\n", "intake", !v->pause_intake ? "goes on while the tunnel is down" :
	    v->intake_paused ? "PAUSED: the tunnel is down (vpn.pause_intake_when_down)" :
	    "pauses while the tunnel is down");
	if (v->error != NULL) {
		s1 = client_text_clean(v->error);
		paiactl_when(v->error_ms, a, sizeof a);
		printf("%-13s %s (%s)\n", "last error", s1, a);
		free(s1);
	}
	if (v->nchecks == 0) {
		printf("\nno route or endpoint checks (vpn.cidrs, vpn.endpoints)\n");
		return;
	}
	printf("\n");
	paiactl_table_init(&t, nitems(headers), headers);
	for (i = 0; i < v->nchecks; i++) {
		const struct proto_vpn_check *k = &v->checks[i];

		paiactl_table_add(&t, xstrdup(proto_vpn_kind_name(k->kind)));
		paiactl_table_add(&t, client_text_clean(k->target));
		paiactl_table_add(&t, xstrdup(proto_vpn_result_name(k->result)));
		paiactl_table_add(&t, xstrdup(k->age_ms < 0 ? "-" :
		    client_text_duration(k->age_ms, b, sizeof b)));
		if (k->latency_ms < 0)
			paiactl_table_add(&t, xstrdup("-"));
		else
			paiactl_table_addf(&t, "%lld ms", (long long)k->latency_ms);
		paiactl_table_add(&t, client_text_clean(k->reason != NULL ? k->reason : ""));
	}
	paiactl_table_print(&t, stdout);
	paiactl_table_free(&t);
}

int
paiactl_cmd_vpn(struct paiactl *ctx, const struct paiactl_cmd *cmd, int argc, char **argv)
{
	struct proto_vpn_view v;
	struct paiactl_flags fl;
	const cJSON *j;
	cJSON *resp;
	char *cause = NULL;
	int rc, healthy;

	if ((rc = paiactl_flags_parse(cmd, argc, argv, "json", 0, &fl)) != 0)
		return PAIACTL_EXIT(rc);
	if ((resp = paiactl_call(ctx, "vpn", NULL, NULL, &cause)) == NULL)
		return paiactl_err_cause(cause);
	j = cJSON_GetObjectItemCaseSensitive(resp, "vpn");
	if (proto_vpn_view_decode(j, &v, &cause) != 0) {
		cJSON_Delete(resp);
		paiactl_err("%s: the vpn answer: %s", ctx->loc.socket_path, cause);
		free(cause);
		return 1;
	}
	healthy = !v.enabled || v.healthy;
	if (fl.json)
		paiactl_json_print(j);
	else if (!v.enabled)
		printf("no VPN tunnel supervised by this gateway (vpn.mode = off)\n");
	else
		paiactl_vpn_print(&v);
	proto_vpn_view_clear(&v);
	cJSON_Delete(resp);
	/* Scripts and probes: 3 says "not healthy", as lag does. */
	return healthy ? 0 : 3;
}
