/*
 * paiactl-console.c: what the console shows, for scripts and for an
 * operator without it: pods (the game pods with kubectl's STATUS),
 * logs (a task's log streamed through the control socket, so a remote
 * gateway works the same), videos and frame (a still of a task's video
 * made on the gateway side), and the lag history's sparklines of
 * "lag --history". Every view is decoded by proto/ (docs/control.md).
 *
 * Text a game wrote reaches the terminal cleaned: a log is written as
 * it is to a pipe or file, and with control characters other than
 * newline and tab neutralised when stdout is a terminal.
 */
#include "config.h"
#include "paiactl-int.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto.h"

#define PAIACTL_ANSWER_MS 5000
/* A frame is made by ffmpeg on the gateway: its own deadline first. */
#define PAIACTL_FRAME_MS 60000

/* Flags of these commands: --json, -f, --at S, -o FILE; want_id: the task id. */
struct paiactl_cflags {
	int json;
	int follow;
	const char *at;
	const char *out;
	const char *id;
};

static int
paiactl_cflags_parse(const struct paiactl_cmd *cmd, int argc, char **argv, const char *allowed,
    int want_id, struct paiactl_cflags *fl)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "follow", no_argument, NULL, 'f' },
		{ "at", required_argument, NULL, 'a' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	char letter[2] = { 0, 0 };
	int ch;

	memset(fl, 0, sizeof *fl);
	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":fho:", longopts, NULL)) != -1) {
		if (ch == 'h')
			return paiactl_usage_help(cmd);
		if (ch == ':' || ch == '?')
			return paiactl_flag_bad(cmd, ch, argv, optopt);
		letter[0] = (char)ch;
		if (strstr(allowed, letter) == NULL)
			return paiactl_usage_err(cmd, "%s: unknown flag %s", cmd->name,
			    argv[optind - 1]);
		switch (ch) {
		case 'j':
			fl->json = 1;
			break;
		case 'f':
			fl->follow = 1;
			break;
		case 'a':
			fl->at = optarg;
			break;
		case 'o':
			fl->out = optarg;
			break;
		}
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
paiactl_cmd_pods(struct paiactl *ctx, const struct paiactl_cmd *cmd, int argc, char **argv)
{
	static const char *const headers[] = {
		"NAME", "TASK", "ATTEMPT", "STATUS", "READY", "RESTARTS", "NODE", "AGE"
	};
	struct paiactl_cflags fl;
	struct paiactl_table t;
	struct proto_pods p;
	cJSON *resp;
	char *cause = NULL;
	size_t i;
	int rc;

	if ((rc = paiactl_cflags_parse(cmd, argc, argv, "j", 0, &fl)) != 0)
		return PAIACTL_EXIT(rc);
	if ((resp = paiactl_call(ctx, "pods", NULL, NULL, &cause)) == NULL)
		return paiactl_err_cause(cause);
	if (proto_pods_decode(resp, &p, &cause) != 0)
		return paiactl_bad_answer(ctx, "pods", cause, resp);
	if (fl.json) {
		cJSON_DeleteItemFromObjectCaseSensitive(resp, "ok");
		paiactl_json_print(resp);
	} else if (strcmp(p.runner, "k8s") != 0)
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
	int ended;
	int closed;
	char *error;		/* why it ended badly */
};

/* Write a log's text; on a terminal, no control character but newline and tab. */
static void
paiactl_logs_write(const struct paiactl_logs *l, const char *data, size_t len)
{
	char *copy;
	size_t i;

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
paiactl_cmd_logs(struct paiactl *ctx, const struct paiactl_cmd *cmd, int argc, char **argv)
{
	struct client_conn_opts opts;
	struct paiactl_cflags fl;
	struct paiactl_logs l;
	struct client_conn *c;
	cJSON *req, *resp;
	char *cause = NULL;
	int rc;

	if ((rc = paiactl_cflags_parse(cmd, argc, argv, "f", 1, &fl)) != 0)
		return PAIACTL_EXIT(rc);
	memset(&l, 0, sizeof l);
	l.id = fl.id;
	l.tty = isatty(STDOUT_FILENO);
	memset(&opts, 0, sizeof opts);
	opts.on_event = paiactl_logs_event;
	opts.on_state = paiactl_logs_state;
	opts.arg = &l;
	if ((c = paiactl_conn_new(ctx, &opts, &cause)) == NULL)
		return paiactl_err_cause(cause);
	req = client_request_new("logs", "id", fl.id);
	if (fl.follow)
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
	else if (l.error != NULL && !*ctx->stop) {
		rc = paiactl_err_cause(l.error);
		l.error = NULL;
	}
	cJSON_Delete(resp);
	client_conn_free(c);
	free(l.error);
	return rc;
}

/* ---- videos ---- */

int
paiactl_cmd_videos(struct paiactl *ctx, const struct paiactl_cmd *cmd, int argc, char **argv)
{
	static const char *const headers[] = {
		"TASK", "ATTEMPT", "STATUS", "BYTES", "AGE", "LOCAL", "URL"
	};
	struct paiactl_cflags fl;
	struct paiactl_table t;
	struct proto_videos vs;
	cJSON *resp;
	char *cause = NULL;
	size_t i;
	int rc;

	if ((rc = paiactl_cflags_parse(cmd, argc, argv, "j", 0, &fl)) != 0)
		return PAIACTL_EXIT(rc);
	if ((resp = paiactl_call(ctx, "videos", NULL, NULL, &cause)) == NULL)
		return paiactl_err_cause(cause);
	if (proto_videos_decode(resp, &vs, &cause) != 0)
		return paiactl_bad_answer(ctx, "videos", cause, resp);
	if (fl.json) {
		cJSON_DeleteItemFromObjectCaseSensitive(resp, "ok");
		paiactl_json_print(resp);
	} else if (vs.nvideos == 0)
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

static int
paiactl_write_all(int fd, const unsigned char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, p, len)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
paiactl_cmd_frame(struct paiactl *ctx, const struct paiactl_cmd *cmd, int argc, char **argv)
{
	struct paiactl_cflags fl;
	struct client_conn *c;
	struct proto_frame f;
	cJSON *req, *resp;
	char *cause = NULL, *end;
	double at = 0;
	int rc, fd;

	if ((rc = paiactl_cflags_parse(cmd, argc, argv, "ao", 1, &fl)) != 0)
		return PAIACTL_EXIT(rc);
	if (fl.out == NULL)
		return paiactl_usage_err(cmd, "frame: where to? give -o FILE.png (- for stdout)");
	if (fl.at != NULL) {
		errno = 0;
		at = strtod(fl.at, &end);
		if (errno != 0 || end == fl.at || *end != '\0' || !(at >= 0 &&
		    at <= PROTO_FRAME_AT_MAX))
			return paiactl_usage_err(cmd, "--at: \"%s\" is not a number of seconds "
			    "from 0 to %.0f", fl.at, PROTO_FRAME_AT_MAX);
	}
	req = client_request_new("frame", "id", fl.id);
	if (at > 0)
		cJSON_AddNumberToObject(req, "at", at);
	if ((c = paiactl_conn_new(ctx, NULL, &cause)) == NULL) {
		cJSON_Delete(req);
		return paiactl_err_cause(cause);
	}
	resp = client_call(c, req, PAIACTL_FRAME_MS, ctx->stop, &cause);
	cJSON_Delete(req);
	client_conn_free(c);
	if (resp == NULL)
		return paiactl_err_cause(cause);
	if (proto_frame_decode(cJSON_GetObjectItemCaseSensitive(resp, "frame"), &f, &cause) != 0)
		return paiactl_bad_answer(ctx, "frame", cause, resp);
	rc = 0;
	if (strcmp(fl.out, "-") == 0)
		fd = STDOUT_FILENO;
	else if ((fd = open(fl.out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
		rc = paiactl_err("%s: %s", fl.out, strerror(errno));
	if (rc == 0 && paiactl_write_all(fd, f.data, f.len) != 0)
		rc = paiactl_err("%s: %s", fl.out, strerror(errno));
	if (fd >= 0 && fd != STDOUT_FILENO && close(fd) != 0 && rc == 0)
		rc = paiactl_err("%s: %s", fl.out, strerror(errno));
	if (rc == 0 && fd != STDOUT_FILENO)
		fprintf(stderr, "wrote %s: %dx%d PNG, %zu bytes, at %.3g s of task %s\n", fl.out,
		    f.width, f.height, f.len, f.at, fl.id);
	proto_frame_clear(&f);
	cJSON_Delete(resp);
	return rc;
}

/* ---- lag history ---- */

void
paiactl_lag_history_print(const cJSON *partitions)
{
	static const char *const bars[] = { "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█" };
	const struct proto_lag_view *v;
	struct proto_lag l;
	cJSON *answer = cJSON_CreateObject();
	char *cause = NULL, dur[32];
	int64_t max, span;
	size_t i, k;

	cJSON_AddItemToObject(answer, "partitions", cJSON_Duplicate(partitions, 1));
	if (proto_lag_decode(answer, &l, &cause) != 0) {
		paiactl_err("the lag answer: %s", cause);
		free(cause);
		cJSON_Delete(answer);
		return;
	}
	printf("\n");
	for (i = 0; i < l.npartitions; i++) {
		v = &l.partitions[i];
		if (v->nhistory == 0) {
			printf("partition %d: no history yet\n", (int)v->partition);
			continue;
		}
		for (max = 0, k = 0; k < v->nhistory; k++)
			if (v->history[k].lag > max)
				max = v->history[k].lag;
		printf("partition %d: ", (int)v->partition);
		for (k = 0; k < v->nhistory; k++)
			fputs(v->history[k].lag < 0 ? " " : max == 0 ? bars[0] :
			    bars[(size_t)(v->history[k].lag * 7 / max)], stdout);
		span = v->history[v->nhistory - 1].t_ms - v->history[0].t_ms;
		printf("  %zu checks over %s, max lag %jd, now %jd\n", v->nhistory,
		    client_text_duration(span, dur, sizeof dur), (intmax_t)max,
		    (intmax_t)v->history[v->nhistory - 1].lag);
	}
	proto_lag_clear(&l);
	cJSON_Delete(answer);
}
