/*
 * paiactl-console.c: what the console shows, for scripts and for an
 * operator without it: pods (the game pods with kubectl's STATUS),
 * logs (a task's log streamed through the control socket, so a remote
 * gateway works the same), videos and frame (a still of a task's video
 * made on the gateway side). Every view is decoded by proto/
 * (docs/control.md); flags come from paiactl.c's command table.
 *
 * Text a game wrote reaches the terminal cleaned: a log is written as
 * it is to a pipe or file, with control characters other than newline
 * and tab neutralised when stdout is a terminal, or (--json) as one
 * {"task_id","line"} object per line, valid UTF-8.
 */
#include "config.h"
#include "paiactl-int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto.h"

/* A frame is made by ffmpeg on the gateway: its own deadline first. */
#define PAIACTL_FRAME_MS 60000
/* logs --json: a line longer than this comes in pieces. */
#define PAIACTL_LINE_MAX (64 * 1024)

/* A wall time as an age ("-" when unknown). */
static char *
paiactl_age(int64_t ms)
{
	char dur[32];

	if (ms <= 0)
		return xstrdup("-");
	return xstrdup(client_text_duration(util_now_ms() - ms, dur, sizeof dur));
}

static char *
paiactl_str(const char *s)
{
	return client_text_clean(s != NULL && *s != '\0' ? s : "-");
}

/* An answer proto/ could not decode: say so (frees cause and resp); returns 1. */
static int
paiactl_bad_answer(struct paiactl *ctx, const char *what, char *cause, cJSON *resp)
{
	paiactl_err("%s: the %s answer: %s", ctx->loc.socket_path, what, cause);
	free(cause);
	cJSON_Delete(resp);
	return 1;
}

/* ---- pods ---- */

int
paiactl_cmd_pods(struct paiactl *ctx, const struct paiactl_args *a)
{
	static const char *const headers[] = {
		"NAME", "TASK", "ATTEMPT", "STATUS", "READY", "RESTARTS", "NODE", "AGE"
	};
	struct paiactl_table t;
	struct proto_pods p;
	cJSON *resp;
	char *cause = NULL;
	size_t i;

	if ((resp = paiactl_request(ctx, "pods", NULL, NULL, &cause)) == NULL)
		return paiactl_err_cause(cause);
	if (proto_pods_decode(resp, &p, &cause) != 0)
		return paiactl_bad_answer(ctx, "pods", cause, resp);
	if (paiactl_arg(a, "json") != NULL)
		paiactl_answer_print(resp);
	else if (strcmp(p.runner, "k8s") != 0)
		fprintf(stderr, "no pods: the gateway's runner is %s (runner.type = k8s runs games "
		    "as pods)\n", p.runner);
	else if (p.npods == 0)
		fprintf(stderr, "no game pods in namespace %s%s\n", p.namespace != NULL ?
		    p.namespace : "?", p.synced ? "" : " (the gateway has not listed them yet)");
	else {
		paiactl_table_init(&t, nitems(headers), headers);
		for (i = 0; i < p.npods; i++) {
			const struct proto_pod_view *v = &p.pods[i];

			paiactl_table_add(&t, paiactl_str(v->name));
			paiactl_table_add(&t, paiactl_str(v->task_id));
			if (v->attempt > 0)
				paiactl_table_addf(&t, "%d", v->attempt);
			else
				paiactl_table_add(&t, xstrdup("-"));
			paiactl_table_add(&t, paiactl_str(v->deleted ? "Deleted" : v->status));
			paiactl_table_addf(&t, "%d/%d", v->ready, v->total);
			paiactl_table_addf(&t, "%d", v->restarts);
			paiactl_table_add(&t, paiactl_str(v->node));
			paiactl_table_add(&t, paiactl_age(v->created_ms));
		}
		paiactl_table_print(&t, stdout);
		paiactl_table_free(&t);
	}
	proto_pods_clear(&p);
	cJSON_Delete(resp);
	return 0;
}

/* ---- logs ---- */

struct paiactl_logs {
	const char *id;
	int tty;
	int json;		/* --json: lines as {"task_id","line"} */
	int attempt;		/* of the last chunk */
	char *line;		/* --json: the line being put together */
	size_t nline;
	int ended;
	int closed;
	char *error;		/* why it ended badly */
};

/*
 * --json: the first n bytes of the line as {"task_id","line"}, valid
 * UTF-8; the rest (a character cut by a piece's end) starts the next.
 */
static void
paiactl_logs_line(struct paiactl_logs *l, size_t n, int whole)
{
	cJSON *j = cJSON_CreateObject();
	size_t len = n;
	char *text;

	if (whole && len > 0 && l->line[len - 1] == '\r')
		len--;
	text = client_text_utf8(l->line, len);
	cJSON_AddStringToObject(j, "task_id", l->id);
	cJSON_AddStringToObject(j, "line", text);
	paiactl_json_print(j);
	cJSON_Delete(j);
	free(text);
	memmove(l->line, l->line + n, l->nline - n);
	l->nline -= n;
}

/* Where a full piece ends: before a UTF-8 character its end would cut. */
static size_t
paiactl_logs_cut(const struct paiactl_logs *l)
{
	const unsigned char *p = (const unsigned char *)l->line;
	size_t i = l->nline, need;

	while (i > 0 && l->nline - i < 4 && (p[i - 1] & 0xc0) == 0x80)
		i--;
	if (i == 0 || l->nline - i >= 4)
		return l->nline;
	i--;	/* the last character's first byte */
	need = p[i] >= 0xf0 ? 4 : p[i] >= 0xe0 ? 3 : p[i] >= 0xc0 ? 2 : 1;
	return i > 0 && i + need > l->nline ? i : l->nline;
}

/* --json: log text into lines; a line over PAIACTL_LINE_MAX in pieces. */
static void
paiactl_logs_lines(struct paiactl_logs *l, const char *data, size_t len)
{
	const char *nl;
	size_t take;

	if (l->line == NULL)
		l->line = xmalloc(PAIACTL_LINE_MAX);
	while (len > 0) {
		take = (nl = memchr(data, '\n', len)) != NULL ? (size_t)(nl - data) : len;
		if (take > PAIACTL_LINE_MAX - l->nline)
			take = PAIACTL_LINE_MAX - l->nline;
		memcpy(l->line + l->nline, data, take);
		l->nline += take;
		data += take;
		len -= take;
		if (len > 0 && *data == '\n') {
			data++;
			len--;
			paiactl_logs_line(l, l->nline, 1);
		} else if (l->nline == PAIACTL_LINE_MAX)
			paiactl_logs_line(l, paiactl_logs_cut(l), 0);
	}
}

/* Write a log's text; on a terminal, no control character but newline and tab. */
static void
paiactl_logs_write(struct paiactl_logs *l, const char *data, size_t len)
{
	char *copy;
	size_t i;

	if (l->json) {
		paiactl_logs_lines(l, data, len);
		return;
	}
	if (!l->tty) {
		fwrite(data, 1, len, stdout);
		return;
	}
	copy = xmalloc(len + 1);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)data[i];
		copy[i] = (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f ? '?' : (char)c;
	}
	fwrite(copy, 1, len, stdout);
	free(copy);
}

static void
paiactl_logs_event(struct client_conn *c, cJSON *event, const char *line, void *arg)
{
	struct paiactl_logs *l = arg;
	enum proto_event_type type;
	struct proto_log_chunk ch;
	struct proto_log_end e;
	const cJSON *payload;
	cJSON *root = NULL;
	char *cause = NULL;

	cJSON_Delete(event);
	if (proto_event_parse(line, strlen(line), &root, &type, &payload, &cause) != 0) {
		free(cause);
		return;
	}
	if (type == PROTO_EVENT_LOG && proto_log_chunk_decode(payload, &ch, &cause) == 0 &&
	    strcmp(ch.task_id, l->id) == 0) {
		/* A new attempt's log starts on a line of its own. */
		if (ch.attempt != l->attempt && l->nline > 0)
			paiactl_logs_line(l, l->nline, 0);
		l->attempt = ch.attempt;
		paiactl_logs_write(l, ch.data, ch.len);
		fflush(stdout);
	} else if (type == PROTO_EVENT_LOG_END && proto_log_end_decode(payload, &e, &cause) == 0 &&
	    strcmp(e.task_id, l->id) == 0) {
		l->ended = 1;
		if (e.reason == PROTO_LOG_ERROR)
			xasprintf(&l->error, "the log of %s: %s", l->id, e.error != NULL ? e.error :
			    "cannot be read on");
		else if (e.reason == PROTO_LOG_GONE)
			xasprintf(&l->error, "task %s left the gateway before its log ended", l->id);
	}
	free(cause);
	cJSON_Delete(root);
}

static void
paiactl_logs_state(struct client_conn *c, enum client_conn_state st, const char *error,
    void *arg)
{
	struct paiactl_logs *l = arg;

	if (st != CLIENT_CONN_CLOSED)
		return;
	l->closed = 1;
	if (l->error == NULL && !l->ended)
		l->error = xstrdup(error != NULL ? error : "the gateway closed the connection before "
		    "the log ended");
}

static int
paiactl_logs_done(void *arg)
{
	const struct paiactl_logs *l = arg;

	return l->ended || l->closed;
}

int
paiactl_cmd_logs(struct paiactl *ctx, const struct paiactl_args *a)
{
	struct client_conn_opts opts;
	struct paiactl_logs l;
	struct client_conn *c;
	cJSON *req, *resp;
	char *cause = NULL;
	int rc;

	memset(&l, 0, sizeof l);
	l.id = a->operands[0];
	l.tty = isatty(STDOUT_FILENO);
	l.json = paiactl_arg(a, "json") != NULL;
	memset(&opts, 0, sizeof opts);
	opts.on_event = paiactl_logs_event;
	opts.on_state = paiactl_logs_state;
	opts.arg = &l;
	if ((c = paiactl_conn_new(ctx, &opts, &cause)) == NULL)
		return paiactl_err_cause(cause);
	req = client_request_new("logs", "id", l.id);
	if (paiactl_arg(a, "follow") != NULL)
		cJSON_AddTrueToObject(req, "follow");
	paiactl_signals_catch();
	resp = client_call(c, req, PAIACTL_ANSWER_MS, ctx->stop, &cause);
	cJSON_Delete(req);
	rc = 0;
	if (resp == NULL) {
		rc = *ctx->stop ? 0 : paiactl_err_cause(cause);
		if (*ctx->stop)
			free(cause);
	} else if (client_conn_wait(c, paiactl_logs_done, &l, ctx->stop, &cause) < 0)
		rc = paiactl_err_cause(cause);
	/* The last line, when the log does not end with a newline. */
	if (l.nline > 0)
		paiactl_logs_line(&l, l.nline, 1);
	if (rc == 0 && l.error != NULL && !*ctx->stop) {
		rc = paiactl_err_cause(l.error);
		l.error = NULL;
	}
	cJSON_Delete(resp);
	client_conn_free(c);
	free(l.line);
	free(l.error);
	return rc;
}

/* ---- videos ---- */

int
paiactl_cmd_videos(struct paiactl *ctx, const struct paiactl_args *a)
{
	static const char *const headers[] = {
		"TASK", "ATTEMPT", "STATUS", "BYTES", "AGE", "LOCAL", "URL"
	};
	struct paiactl_table t;
	struct proto_videos vs;
	cJSON *resp;
	char *cause = NULL;
	size_t i;

	if ((resp = paiactl_request(ctx, "videos", NULL, NULL, &cause)) == NULL)
		return paiactl_err_cause(cause);
	if (proto_videos_decode(resp, &vs, &cause) != 0)
		return paiactl_bad_answer(ctx, "videos", cause, resp);
	if (paiactl_arg(a, "json") != NULL)
		paiactl_answer_print(resp);
	else if (vs.nvideos == 0)
		fprintf(stderr, "no videos among the tasks the gateway remembers\n");
	else {
		paiactl_table_init(&t, nitems(headers), headers);
		for (i = 0; i < vs.nvideos; i++) {
			const struct proto_video_view *v = &vs.videos[i];

			paiactl_table_add(&t, paiactl_str(v->task_id));
			paiactl_table_addf(&t, "%d", v->attempt);
			paiactl_table_add(&t, paiactl_str(v->status));
			paiactl_table_addf(&t, "%jd", (intmax_t)v->bytes);
			paiactl_table_add(&t, paiactl_age(v->reported_ms));
			paiactl_table_add(&t, xstrdup(v->local ? "yes" : "no"));
			paiactl_table_add(&t, paiactl_str(v->url));
		}
		paiactl_table_print(&t, stdout);
		paiactl_table_free(&t);
	}
	proto_videos_clear(&vs);
	cJSON_Delete(resp);
	return 0;
}

/* ---- frame ---- */

int
paiactl_cmd_frame(struct paiactl *ctx, const struct paiactl_args *a)
{
	const char *id = a->operands[0], *out = paiactl_arg(a, "output");
	const char *at_s = paiactl_arg(a, "at");
	int json = paiactl_arg(a, "json") != NULL, rc, fd = -1;
	struct proto_frame f;
	cJSON *req, *resp, *j;
	char *cause = NULL, *end;
	double at = 0;

	if (out == NULL || *out == '\0')
		return paiactl_usage_err(a->cmd, "where to? give -o FILE.png (- for stdout)");
	if (json && strcmp(out, "-") == 0)
		return paiactl_usage_err(a->cmd, "--json with -o -: stdout cannot hold both the "
		    "PNG and the JSON");
	if (at_s != NULL) {
		errno = 0;
		at = strtod(at_s, &end);
		if (errno != 0 || end == at_s || *end != '\0' || !(at >= 0 &&
		    at <= PROTO_FRAME_AT_MAX))
			return paiactl_usage_err(a->cmd, "--at: \"%s\" is not a number of seconds "
			    "from 0 to %.0f", at_s, PROTO_FRAME_AT_MAX);
	}
	req = client_request_new("frame", "id", id);
	if (at > 0)
		cJSON_AddNumberToObject(req, "at", at);
	resp = paiactl_call_ms(ctx, req, PAIACTL_FRAME_MS, &cause);
	cJSON_Delete(req);
	if (resp == NULL)
		return paiactl_err_cause(cause);
	if (proto_frame_decode(cJSON_GetObjectItemCaseSensitive(resp, "frame"), &f, &cause) != 0)
		return paiactl_bad_answer(ctx, "frame", cause, resp);
	rc = 0;
	if (strcmp(out, "-") == 0)
		fd = STDOUT_FILENO;
	else if ((fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
		rc = paiactl_err("%s: %s", out, strerror(errno));
	if (rc == 0 && util_write_all(fd, f.data, f.len) != 0)
		rc = paiactl_err("%s: %s", out, strerror(errno));
	if (fd >= 0 && fd != STDOUT_FILENO && close(fd) != 0 && rc == 0)
		rc = paiactl_err("%s: %s", out, strerror(errno));
	if (rc == 0 && json) {
		j = cJSON_CreateObject();
		cJSON_AddStringToObject(j, "task_id", f.task_id != NULL ? f.task_id : id);
		cJSON_AddNumberToObject(j, "attempt", f.attempt);
		cJSON_AddNumberToObject(j, "at", f.at);
		cJSON_AddNumberToObject(j, "width", f.width);
		cJSON_AddNumberToObject(j, "height", f.height);
		cJSON_AddNumberToObject(j, "bytes", (double)f.len);
		cJSON_AddStringToObject(j, "file", out);
		paiactl_json_print(j);
		cJSON_Delete(j);
	} else if (rc == 0 && fd != STDOUT_FILENO)
		fprintf(stderr, "wrote %s: %dx%d PNG, %zu bytes, at %.3g s of task %s\n", out,
		    f.width, f.height, f.len, f.at, id);
	proto_frame_clear(&f);
	cJSON_Delete(resp);
	return rc;
}

/* ---- video ---- */

/*
 * The video file, piece by piece (video_data) on one connection, into
 * FILE: each piece must follow the one before, of the same attempt and
 * the same size, or the download stops naming what changed.
 */
int
paiactl_cmd_video(struct paiactl *ctx, const struct paiactl_args *a)
{
	const char *id = a->operands[0], *out = paiactl_arg(a, "output");
	int json = paiactl_arg(a, "json") != NULL, rc = 0, fd = -1, attempt = 0;
	struct proto_video_data d;
	struct client_conn *c;
	int64_t offset = 0, size = -1;
	cJSON *req, *resp, *j;
	char *cause = NULL;

	if (out == NULL || *out == '\0')
		return paiactl_usage_err(a->cmd, "where to? give -o FILE (- for stdout)");
	if (json && strcmp(out, "-") == 0)
		return paiactl_usage_err(a->cmd, "--json with -o -: stdout cannot hold both the "
		    "video and the JSON");
	if ((c = paiactl_conn_new(ctx, NULL, &cause)) == NULL)
		return paiactl_err_cause(cause);
	for (;;) {
		req = client_request_new("video_data", "id", id);
		if (offset > 0)
			cJSON_AddNumberToObject(req, "offset", (double)offset);
		resp = client_call(c, req, PAIACTL_FRAME_MS, ctx->stop, &cause);
		cJSON_Delete(req);
		if (resp == NULL) {
			rc = paiactl_err_cause(cause);
			break;
		}
		if (proto_video_data_decode(cJSON_GetObjectItemCaseSensitive(resp, "video_data"),
		    &d, &cause) != 0) {
			rc = paiactl_bad_answer(ctx, "video_data", cause, resp);
			break;
		}
		if (d.offset != offset || (size >= 0 && (d.size != size || d.attempt != attempt)) ||
		    (d.len == 0 && offset < d.size)) {
			rc = paiactl_err("%s: the video of task %s changed while it was read "
			    "(attempt %d, %jd bytes; now attempt %d, %jd bytes from %jd)", out, id,
			    attempt, (intmax_t)size, d.attempt, (intmax_t)d.size, (intmax_t)d.offset);
			proto_video_data_clear(&d);
			cJSON_Delete(resp);
			break;
		}
		size = d.size;
		attempt = d.attempt;
		if (fd < 0 && strcmp(out, "-") == 0)
			fd = STDOUT_FILENO;
		else if (fd < 0 && (fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		    0644)) < 0)
			rc = paiactl_err("%s: %s", out, strerror(errno));
		if (rc == 0 && util_write_all(fd, d.data, d.len) != 0)
			rc = paiactl_err("%s: %s", out, strerror(errno));
		offset += (int64_t)d.len;
		proto_video_data_clear(&d);
		cJSON_Delete(resp);
		if (rc != 0 || offset >= size)
			break;
	}
	client_conn_free(c);
	if (fd >= 0 && fd != STDOUT_FILENO && close(fd) != 0 && rc == 0)
		rc = paiactl_err("%s: %s", out, strerror(errno));
	if (rc == 0 && json) {
		j = cJSON_CreateObject();
		cJSON_AddStringToObject(j, "task_id", id);
		cJSON_AddNumberToObject(j, "attempt", attempt);
		cJSON_AddNumberToObject(j, "bytes", (double)offset);
		cJSON_AddStringToObject(j, "file", out);
		paiactl_json_print(j);
		cJSON_Delete(j);
	} else if (rc == 0 && fd != STDOUT_FILENO)
		fprintf(stderr, "wrote %s: %jd bytes, the video of task %s (attempt %d)\n", out,
		    (intmax_t)offset, id, attempt);
	return rc;
}
