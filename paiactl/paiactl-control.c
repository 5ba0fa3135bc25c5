/*
 * paiactl-control.c: the commands that talk to the control socket
 * (docs/control.md) through client/'s connection: status, tasks, task,
 * requeue, cancel, logs (read from the task folder the gateway names),
 * watch (the subscribe stream, printed as it comes) and wait (until a
 * starting gateway answers).
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
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PAIACTL_LOG_POLL_MS 200
#define PAIACTL_LOG_STATE_MS 1000

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

/* {"cmd": cmd, key: value} on a fresh connection: the answer, or NULL with *cause. */
cJSON *
paiactl_request(struct paiactl *ctx, const char *cmd, const char *key, const char *value,
    char **cause)
{
	cJSON *req = client_request_new(cmd, key, value), *resp;

	resp = paiactl_call(ctx, req, cause);
	cJSON_Delete(req);
	return resp;
}

/* A member of obj for display ("-" when missing); caller frees. */
static char *
paiactl_field(const cJSON *obj, const char *name)
{
	return client_text_json(cJSON_GetObjectItemCaseSensitive(obj, name));
}

/* An answer without its "ok", for --json. */
static void
paiactl_answer_print(cJSON *resp)
{
	cJSON_DeleteItemFromObjectCaseSensitive(resp, "ok");
	paiactl_json_print(resp);
}

/* ---- status ---- */

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
paiactl_cmd_status(struct paiactl *ctx, const struct paiactl_args *a)
{
	cJSON *resp, *st;
	char *cause = NULL;

	if ((resp = paiactl_request(ctx, "status", NULL, NULL, &cause)) == NULL)
		return paiactl_err_cause(cause);
	st = cJSON_GetObjectItemCaseSensitive(resp, "status");
	if (!cJSON_IsObject(st)) {
		cJSON_Delete(resp);
		return paiactl_err("%s: the status answer has no status object",
		    ctx->loc.socket_path);
	}
	if (paiactl_arg(a, "json") != NULL)
		paiactl_json_print(st);
	else
		paiactl_status_print(st);
	cJSON_Delete(resp);
	return 0;
}

/* ---- tasks and task ---- */

static int
paiactl_state_known(const char *s)
{
	size_t i;

	for (i = 0; i < paiactl_nstates; i++)
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
paiactl_cmd_tasks(struct paiactl *ctx, const struct paiactl_args *a)
{
	static const char *const headers[] = {
		"TASK", "ATTEMPT", "STATE", "STATUS", "AGE", "PARTITION/OFFSET", "ERROR"
	};
	const char *state = paiactl_arg(a, "state");
	struct paiactl_table t;
	const cJSON *tasks, *task;
	cJSON *resp;
	char *cause = NULL, *p, *o, dur[32];
	int64_t first;

	if (state != NULL && strcmp(state, "active") != 0 && !paiactl_state_known(state))
		return paiactl_usage_err(a->cmd, "--state: \"%s\" is not a state (received "
		    "fetching launching running collecting uploading reporting done failed, or "
		    "active)", state);
	if ((resp = paiactl_request(ctx, "tasks", "state", state, &cause)) == NULL)
		return paiactl_err_cause(cause);
	tasks = cJSON_GetObjectItemCaseSensitive(resp, "tasks");
	if (!cJSON_IsArray(tasks)) {
		cJSON_Delete(resp);
		return paiactl_err("%s: the tasks answer has no tasks array", ctx->loc.socket_path);
	}
	if (paiactl_arg(a, "json") != NULL) {
		/* {"tasks":[...]}: room for what else a gateway may answer. */
		paiactl_answer_print(resp);
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
		fprintf(stderr, "no tasks%s%s\n", state != NULL ? " in state " : "",
		    state != NULL ? state : "");
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
	for (i = 0; i <= paiactl_nstates; i++) {
		cJSON_ArrayForEach(j, tl) {
			if (!cJSON_IsString(j) || j->string == NULL)
				continue;
			if (i < paiactl_nstates ? strcmp(j->string, paiactl_states[i]) != 0 :
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
paiactl_cmd_task(struct paiactl *ctx, const struct paiactl_args *a)
{
	const cJSON *task;
	cJSON *resp;
	char *cause = NULL;

	if ((resp = paiactl_request(ctx, "task", "id", a->operands[0], &cause)) == NULL)
		return paiactl_err_cause(cause);
	task = cJSON_GetObjectItemCaseSensitive(resp, "task");
	if (!cJSON_IsObject(task)) {
		cJSON_Delete(resp);
		return paiactl_err("%s: the task answer has no task object", ctx->loc.socket_path);
	}
	if (paiactl_arg(a, "json") != NULL)
		paiactl_json_print(task);
	else
		paiactl_task_print(task);
	cJSON_Delete(resp);
	return 0;
}

/* ---- requeue and cancel ---- */

int
paiactl_cmd_requeue(struct paiactl *ctx, const struct paiactl_args *a)
{
	const char *id = a->operands[0], *aid;
	long long want = 0;
	cJSON *req, *resp;
	char *cause = NULL, *attempt;
	int rc;

	if ((rc = paiactl_arg_int(a, "attempt", 1, INT32_MAX, &want)) != 0)
		return rc;
	req = client_request_new("requeue", "id", id);
	if (want > 0)
		cJSON_AddNumberToObject(req, "attempt", (double)want);
	resp = paiactl_call(ctx, req, &cause);
	cJSON_Delete(req);
	if (resp == NULL)
		return paiactl_err_cause(cause);
	if (paiactl_arg(a, "json") != NULL) {
		paiactl_answer_print(resp);
		cJSON_Delete(resp);
		return 0;
	}
	aid = client_json_str(resp, "task_id");
	id = aid != NULL ? aid : id;
	attempt = paiactl_field(resp, "attempt");
	/* "already": the gateway had requeued that attempt before; nothing new runs. */
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(resp, "already")))
		printf("%s was requeued already, as attempt %s\n", id, attempt);
	else
		printf("requeued %s as attempt %s\n", id, attempt);
	free(attempt);
	cJSON_Delete(resp);
	return 0;
}

int
paiactl_cmd_cancel(struct paiactl *ctx, const struct paiactl_args *a)
{
	cJSON *resp;
	const char *id;
	char *cause = NULL;

	if ((resp = paiactl_request(ctx, "cancel", "id", a->operands[0], &cause)) == NULL)
		return paiactl_err_cause(cause);
	if (paiactl_arg(a, "json") != NULL)
		paiactl_answer_print(resp);
	else {
		id = client_json_str(resp, "task_id");
		printf("cancelling %s\n", id != NULL ? id : a->operands[0]);
	}
	cJSON_Delete(resp);
	return 0;
}

/* ---- logs ---- */

#define PAIACTL_LINE_MAX (64 * 1024)	/* --json: longer lines come in pieces */

struct paiactl_tail {
	const char *path;
	int fd;
	off_t off;
	dev_t dev;
	ino_t ino;
	const char *json_id;	/* --json: the task id, else NULL (bytes as they are) */
	char *line;		/* --json: the line being read */
	size_t nline;
};

/* One log line as {"task_id","line"}: text the game wrote, made valid UTF-8. */
static void
paiactl_tail_line(struct paiactl_tail *tl)
{
	cJSON *j = cJSON_CreateObject();
	size_t n = tl->nline;
	char *text;

	if (n > 0 && tl->line[n - 1] == '\r')
		n--;
	text = client_text_utf8(tl->line, n);
	cJSON_AddStringToObject(j, "task_id", tl->json_id);
	cJSON_AddStringToObject(j, "line", text);
	paiactl_json_print(j);
	cJSON_Delete(j);
	free(text);
	tl->nline = 0;
}

/* Bytes of the log to stdout: as they are, or (--json) as lines. */
static int
paiactl_tail_out(struct paiactl_tail *tl, const char *buf, size_t n, char **cause)
{
	const char *nl;

	if (tl->json_id == NULL) {
		if (fwrite(buf, 1, n, stdout) != n) {
			xasprintf(cause, "stdout: %s", strerror(errno));
			return -1;
		}
		return 0;
	}
	while (n > 0) {
		size_t take = (nl = memchr(buf, '\n', n)) != NULL ? (size_t)(nl - buf) : n;

		if (take > PAIACTL_LINE_MAX - tl->nline)
			take = PAIACTL_LINE_MAX - tl->nline;
		if (tl->line == NULL)
			tl->line = xmalloc(PAIACTL_LINE_MAX);
		memcpy(tl->line + tl->nline, buf, take);
		tl->nline += take;
		buf += take;
		n -= take;
		if (n > 0 && *buf == '\n') {
			buf++;
			n--;
			paiactl_tail_line(tl);
		} else if (tl->nline == PAIACTL_LINE_MAX)
			paiactl_tail_line(tl);
	}
	return 0;
}

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
		if (paiactl_tail_out(tl, buf, (size_t)n, cause) != 0)
			return -1;
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
paiactl_cmd_logs(struct paiactl *ctx, const struct paiactl_args *a)
{
	const char *id = a->operands[0];
	struct paiactl_tail tl;
	cJSON *resp;
	const cJSON *task;
	char *cause = NULL, *path = NULL, *why = NULL;
	int64_t next_query;
	int rc = 1, final;

	if ((resp = paiactl_request(ctx, "task", "id", id, &cause)) == NULL)
		return paiactl_err_cause(cause);
	task = cJSON_GetObjectItemCaseSensitive(resp, "task");
	if (!cJSON_IsObject(task) || (path = paiactl_task_log_path(task)) == NULL) {
		cJSON_Delete(resp);
		return paiactl_err("task %s has no log_path", id);
	}
	final = paiactl_task_final(task);
	cJSON_Delete(resp);

	memset(&tl, 0, sizeof tl);
	tl.path = path;
	tl.fd = -1;
	if (paiactl_arg(a, "json") != NULL)
		tl.json_id = id;
	if (paiactl_arg(a, "follow") == NULL || final) {
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
			if ((resp = paiactl_request(ctx, "task", "id", id, &cause)) == NULL) {
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
	/* The last line, when the log does not end with a newline. */
	if (tl.nline > 0)
		paiactl_tail_line(&tl);
	free(tl.line);
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
paiactl_cmd_watch(struct paiactl *ctx, const struct paiactl_args *a)
{
	struct client_conn_opts opts;
	struct paiactl_watch w;
	struct client_conn *c;
	cJSON *req, *resp;
	char *cause = NULL;
	int rc, r;

	memset(&w, 0, sizeof w);
	if ((rc = paiactl_arg_int(a, "count", 1, INT32_MAX, &w.count)) != 0)
		return rc;
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
	if (rc == 0 && w.count > 0 && w.n < w.count && !*ctx->stop)
		rc = paiactl_err("%s: paia-gateway closed the connection after %lld of %lld events",
		    ctx->loc.socket_path, w.n, w.count);
	client_conn_free(c);
	free(w.error);
	return rc;
}

/* ---- wait ---- */

#define PAIACTL_WAIT_POLL_MS 200

/*
 * Is the gateway ready for paiactl: it answers status and, when it is
 * embedded, its embedded.json names its Kafka (it is written after the
 * socket listens)? The STATUS answer (caller frees), or NULL with *cause.
 */
static cJSON *
paiactl_wait_once(struct paiactl *ctx, char **cause)
{
	struct client_location loc;
	cJSON *resp, *st;

	if ((resp = paiactl_request(ctx, "status", NULL, NULL, cause)) == NULL)
		return NULL;
	st = cJSON_DetachItemFromObjectCaseSensitive(resp, "status");
	cJSON_Delete(resp);
	if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(st, "embedded")))
		return st;
	/* A fresh look each time: client_locate reads embedded.json once. */
	memset(&loc, 0, sizeof loc);
	if (client_locate(&ctx->where, CLIENT_LOCATE_KAFKA, &loc, cause) != 0) {
		cJSON_Delete(st);
		st = NULL;
	}
	client_location_clear(&loc);
	return st;
}

int
paiactl_cmd_wait(struct paiactl *ctx, const struct paiactl_args *a)
{
	long long timeout_s = 30;
	int64_t deadline;
	char *cause = NULL, *inst, *pid;
	cJSON *st;
	int rc;

	if ((rc = paiactl_arg_int(a, "timeout", 1, INT32_MAX / 1000, &timeout_s)) != 0)
		return rc;
	paiactl_signals_catch();
	deadline = util_mono_ms() + timeout_s * 1000;
	while ((st = paiactl_wait_once(ctx, &cause)) == NULL) {
		if (*ctx->stop || util_mono_ms() >= deadline) {
			rc = paiactl_err("no gateway ready within %lld s: %s", timeout_s,
			    *ctx->stop ? "interrupted" : cause);
			free(cause);
			return rc;
		}
		free(cause);
		cause = NULL;
		poll(NULL, 0, PAIACTL_WAIT_POLL_MS);
	}
	if (paiactl_arg(a, "json") != NULL)
		paiactl_json_print(st);
	else {
		inst = paiactl_field(st, "instance");
		pid = paiactl_field(st, "pid");
		printf("paia-gateway %s is ready (pid %s)\n", inst, pid);
		free(inst);
		free(pid);
	}
	cJSON_Delete(st);
	return 0;
}
