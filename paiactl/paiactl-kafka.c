/*
 * paiactl-kafka.c: the commands that reach Kafka directly. submit
 * builds task v1 messages (or takes them from a file, or raw bytes),
 * produces them keyed by task id and waits until the broker has them.
 * results reads the results or dead-letter topic from every partition
 * with read_committed, as the Webservice would see it (client/'s
 * reader); topics lists or creates the gateway's three topics.
 *
 * Neither joins a consumer group or commits an offset, so they cannot
 * steal work from or move the position of the gateway or any other
 * reader. Tasks are not validated beyond "is it JSON": the gateway is
 * the judge and dead-letters what it refuses (see results --dlq).
 */
#include "config.h"
#include "paiactl-int.h"

#include <sys/random.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#define PAIACTL_DELIVERY_MS 30000		/* submit gives up after this */
#define PAIACTL_FILE_MAX (64 * 1024 * 1024)
#define PAIACTL_COUNT_MAX 1000000

struct paiactl_msg {
	char *key;		/* task id, or NULL */
	char *value;
	size_t len;
	char *label;		/* what to print once delivered */
	int state;		/* 0 waiting, 1 delivered, -1 failed */
	char *error;
};

static void
paiactl_kafka_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct paiactl_msg *msg = m->_private;

	if (msg == NULL)
		return;
	if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		msg->state = -1;
		free(msg->error);
		msg->error = xstrdup(rd_kafka_err2str(m->err));
	} else
		msg->state = 1;
}

/* A Kafka client for the gateway found, with the kafka.* keys of -c. */
static struct client_kafka *
paiactl_kafka_new(struct paiactl *ctx, rd_kafka_type_t type, size_t biggest, char **cause)
{
	struct client_kafka_args a;

	memset(&a, 0, sizeof a);
	a.bootstrap = ctx->loc.bootstrap;
	a.conf = ctx->conf;
	a.config_path = ctx->where.config_path;
	a.client_id = "paiactl";
	a.biggest = biggest;
	a.dr_msg_cb = paiactl_kafka_dr_cb;
	return client_kafka_new(type, &a, cause);
}

/* ---- submit ---- */

struct paiactl_submit {
	const char *game;
	char *program;
	const char *entry;
	char *model;
	cJSON *params;
	long long timeout_s;
	long long gpu;
	const char *id;
	long long count;
	const char *result_prefix;
	const char *file;	/* --file */
	const char *raw;	/* --raw */
	const char *raw_file;	/* --raw-file */
	const char *source;	/* which of those three was given */
	int built;		/* a flag that only makes sense when building tasks */
};

enum {
	PAIACTL_S_GAME = 256, PAIACTL_S_PROGRAM, PAIACTL_S_ENTRY, PAIACTL_S_MODEL,
	PAIACTL_S_PARAMS, PAIACTL_S_TIMEOUT, PAIACTL_S_GPU, PAIACTL_S_ID, PAIACTL_S_COUNT,
	PAIACTL_S_PREFIX, PAIACTL_S_FILE, PAIACTL_S_RAW, PAIACTL_S_RAW_FILE,
};

/* A URL as given; a local path (no "://") becomes a file:// URL. */
static int
paiactl_submit_url(const char *flag, const char *value, char **out, char **cause)
{
	char *abs;

	if (strstr(value, "://") != NULL) {
		*out = xstrdup(value);
		return 0;
	}
	if ((abs = realpath(value, NULL)) == NULL) {
		xasprintf(cause, "%s: %s: %s (give a URL, or a file that exists)", flag, value,
		    strerror(errno));
		return -1;
	}
	xasprintf(out, "file://%s", abs);
	free(abs);
	return 0;
}

static void
paiactl_submit_random(void *buf, size_t len)
{
	uint64_t x;

	if (getrandom(buf, len, GRND_NONBLOCK) == (ssize_t)len)
		return;
	x = (uint64_t)util_now_ms() ^ ((uint64_t)getpid() << 32);
	memcpy(buf, &x, len < sizeof x ? len : sizeof x);
}

/* Ids: --id as is, ID-1..ID-N with --count, else t-<ms hex>-<4 hex>. */
static char *
paiactl_submit_id(const struct paiactl_submit *s, long long i, int64_t ms, uint16_t r)
{
	uint64_t v = (uint64_t)r + (uint64_t)i;
	char *id;

	if (s->id != NULL && s->count == 1)
		return xstrdup(s->id);
	if (s->id != NULL) {
		xasprintf(&id, "%s-%lld", s->id, i + 1);
		return id;
	}
	/* Consecutive suffixes carry into the time part: never two alike. */
	xasprintf(&id, "t-%llx-%04x", (unsigned long long)ms + (v >> 16),
	    (unsigned int)(v & 0xffff));
	return id;
}

static char *
paiactl_submit_task(const struct paiactl_submit *s, const char *id, size_t *len)
{
	cJSON *root = cJSON_CreateObject(), *res;
	char *text, *out;

	cJSON_AddNumberToObject(root, "version", 1);
	cJSON_AddStringToObject(root, "task_id", id);
	cJSON_AddStringToObject(root, "game", s->game);
	cJSON_AddStringToObject(root, "program", s->program);
	if (s->model != NULL)
		cJSON_AddStringToObject(root, "model", s->model);
	if (s->entry != NULL)
		cJSON_AddStringToObject(root, "entry", s->entry);
	if (s->params != NULL)
		cJSON_AddItemToObject(root, "params", cJSON_Duplicate(s->params, 1));
	if (s->timeout_s > 0)
		cJSON_AddNumberToObject(root, "timeout_s", (double)s->timeout_s);
	if (s->gpu >= 0) {
		res = cJSON_AddObjectToObject(root, "resources");
		cJSON_AddNumberToObject(res, "gpu", (double)s->gpu);
	}
	if (s->result_prefix != NULL)
		cJSON_AddStringToObject(root, "result_prefix", s->result_prefix);
	cJSON_AddNumberToObject(root, "attempt", 1);
	if ((text = cJSON_PrintUnformatted(root)) == NULL)
		fatalx("paiactl: cannot print a task");
	out = xstrdup(text);
	cJSON_free(text);
	cJSON_Delete(root);
	*len = strlen(out);
	return out;
}

static int
paiactl_submit_is_space(const char *p, const char *end)
{
	for (; p < end; p++)
		if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
			return 0;
	return 1;
}

/* Check one JSON object in [p, end) and append it as a message. */
static int
paiactl_submit_add_json(struct paiactl_msg **msgs, size_t *n, const char *p, const char *end,
    const char *where, char **cause)
{
	const char *stop = NULL, *id;
	struct paiactl_msg *m;
	cJSON *root;

	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
		p++;
	while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' ||
	    end[-1] == '\n'))
		end--;
	root = cJSON_ParseWithLengthOpts(p, (size_t)(end - p), &stop, 0);
	if (root == NULL || (stop != NULL && !paiactl_submit_is_space(stop, end))) {
		xasprintf(cause, "%s: not valid JSON (near byte %zu)", where,
		    stop != NULL ? (size_t)(stop - p) : (size_t)0);
		cJSON_Delete(root);
		return -1;
	}
	if (!cJSON_IsObject(root)) {
		xasprintf(cause, "%s: not a JSON object (one task object, or one per line)", where);
		cJSON_Delete(root);
		return -1;
	}
	*msgs = xreallocarray(*msgs, *n + 1, sizeof **msgs);
	m = &(*msgs)[(*n)++];
	memset(m, 0, sizeof *m);
	id = client_json_str(root, "task_id");
	m->key = id != NULL ? xstrdup(id) : NULL;
	m->label = id != NULL ? client_text_clean(id) : xstrdup("-");
	m->value = xstrndup(p, (size_t)(end - p));
	m->len = (size_t)(end - p);
	cJSON_Delete(root);
	return 0;
}

/* --file: one JSON object, or JSON lines (one task a line), sent as is. */
static int
paiactl_submit_file(const char *path, struct paiactl_msg **msgs, size_t *n, char **cause)
{
	const char *name = strcmp(path, "-") == 0 ? "stdin" : path, *p, *nl, *end;
	char *buf, *where, *c = NULL;
	size_t len, line;
	int rc = -1;

	buf = util_read_file(strcmp(path, "-") == 0 ? "/dev/stdin" : path, PAIACTL_FILE_MAX, &len,
	    cause);
	if (buf == NULL)
		return -1;
	end = buf + len;
	if (paiactl_submit_is_space(buf, end)) {
		xasprintf(cause, "%s: no tasks in it", name);
		goto out;
	}
	/* The whole file as one (perhaps pretty-printed) object first. */
	if (paiactl_submit_add_json(msgs, n, buf, end, name, &c) == 0) {
		rc = 0;
		goto out;
	}
	free(c);
	for (p = buf, line = 1; p < end; p = nl + 1, line++) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if (paiactl_submit_is_space(p, nl))
			continue;
		xasprintf(&where, "%s:%zu", name, line);
		if (paiactl_submit_add_json(msgs, n, p, nl, where, cause) != 0) {
			free(where);
			goto out;
		}
		free(where);
	}
	rc = 0;
out:
	free(buf);
	return rc;
}

static int
paiactl_submit_parse(const struct paiactl_cmd *cmd, int argc, char **argv, struct paiactl_submit *s)
{
	static const struct option longopts[] = {
		{ "game", required_argument, NULL, PAIACTL_S_GAME },
		{ "program", required_argument, NULL, PAIACTL_S_PROGRAM },
		{ "entry", required_argument, NULL, PAIACTL_S_ENTRY },
		{ "model", required_argument, NULL, PAIACTL_S_MODEL },
		{ "params", required_argument, NULL, PAIACTL_S_PARAMS },
		{ "timeout", required_argument, NULL, PAIACTL_S_TIMEOUT },
		{ "gpu", required_argument, NULL, PAIACTL_S_GPU },
		{ "id", required_argument, NULL, PAIACTL_S_ID },
		{ "count", required_argument, NULL, PAIACTL_S_COUNT },
		{ "result-prefix", required_argument, NULL, PAIACTL_S_PREFIX },
		{ "file", required_argument, NULL, PAIACTL_S_FILE },
		{ "raw", required_argument, NULL, PAIACTL_S_RAW },
		{ "raw-file", required_argument, NULL, PAIACTL_S_RAW_FILE },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *program = NULL, *model = NULL, *source;
	char *cause = NULL;
	int ch, counted = 0;

	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			return paiactl_usage_help(cmd);
		case PAIACTL_S_GAME:
			s->game = optarg;
			s->built = 1;
			break;
		case PAIACTL_S_PROGRAM:
			program = optarg;
			s->built = 1;
			break;
		case PAIACTL_S_ENTRY:
			s->entry = optarg;
			s->built = 1;
			break;
		case PAIACTL_S_MODEL:
			model = optarg;
			s->built = 1;
			break;
		case PAIACTL_S_PARAMS:
			cJSON_Delete(s->params);
			if ((s->params = cJSON_Parse(optarg)) == NULL)
				return paiactl_usage_err(cmd, "--params: not valid JSON: %s",
				    optarg);
			if (!cJSON_IsObject(s->params))
				return paiactl_usage_err(cmd, "--params: not a JSON object: %s",
				    optarg);
			s->built = 1;
			break;
		case PAIACTL_S_TIMEOUT:
			if (paiactl_flag_int(cmd, "--timeout", optarg, 1, 7 * 86400,
			    &s->timeout_s) != 0)
				return 2;
			s->built = 1;
			break;
		case PAIACTL_S_GPU:
			if (paiactl_flag_int(cmd, "--gpu", optarg, 0, 16, &s->gpu) != 0)
				return 2;
			s->built = 1;
			break;
		case PAIACTL_S_ID:
			if (*optarg == '\0')
				return paiactl_usage_err(cmd, "--id: empty");
			s->id = optarg;
			s->built = 1;
			break;
		case PAIACTL_S_COUNT:
			if (paiactl_flag_int(cmd, "--count", optarg, 1, PAIACTL_COUNT_MAX,
			    &s->count) != 0)
				return 2;
			counted = 1;
			break;
		case PAIACTL_S_PREFIX:
			s->result_prefix = optarg;
			s->built = 1;
			break;
		case PAIACTL_S_FILE:
		case PAIACTL_S_RAW:
		case PAIACTL_S_RAW_FILE:
			source = ch == PAIACTL_S_FILE ? "--file" : ch == PAIACTL_S_RAW ? "--raw" :
			    "--raw-file";
			if (s->source != NULL && strcmp(s->source, source) != 0)
				return paiactl_usage_err(cmd, "submit: %s and %s cannot be used "
				    "together", s->source, source);
			s->source = source;
			if (ch == PAIACTL_S_FILE)
				s->file = optarg;
			else if (ch == PAIACTL_S_RAW)
				s->raw = optarg;
			else
				s->raw_file = optarg;
			break;
		default:
			return paiactl_flag_bad(cmd, ch, argv, optopt);
		}
	}
	if (optind < argc)
		return paiactl_usage_err(cmd, "submit: unexpected argument %s", argv[optind]);
	if (s->source != NULL && counted)
		return paiactl_usage_err(cmd, "submit: --count cannot be used with %s", s->source);
	if (s->source != NULL && s->built)
		return paiactl_usage_err(cmd, "submit: %s sends tasks as they are: no --game, "
		    "--program, --id or other task flags with it", s->source);
	if (s->source == NULL && program == NULL)
		return paiactl_usage_err(cmd, "submit: --program is required (or --file, --raw, "
		    "--raw-file)");
	if (program != NULL && paiactl_submit_url("--program", program, &s->program, &cause) != 0)
		return paiactl_err_cause(cause);
	if (model != NULL && paiactl_submit_url("--model", model, &s->model, &cause) != 0)
		return paiactl_err_cause(cause);
	return 0;
}

/* Produce every message and wait for the broker's word on each. */
static int
paiactl_submit_send(struct paiactl *ctx, struct paiactl_msg *msgs, size_t n, char **cause)
{
	const char *topic = ctx->loc.topics[CLIENT_TOPIC_TASKS];
	struct client_kafka *k;
	rd_kafka_resp_err_t err;
	rd_kafka_t *rk;
	double delivery_s;
	int64_t deadline;
	struct paiactl_msg *first = NULL;
	size_t i, failed = 0, keylen, biggest = 0;
	char hint[600];

	for (i = 0; i < n; i++)
		if (msgs[i].len > biggest)
			biggest = msgs[i].len;
	if ((k = paiactl_kafka_new(ctx, RD_KAFKA_PRODUCER, biggest, cause)) == NULL)
		return -1;
	rk = k->rk;
	deadline = util_mono_ms() + PAIACTL_DELIVERY_MS;
	for (i = 0; i < n; i++) {
		keylen = msgs[i].key != NULL ? strlen(msgs[i].key) : 0;
		for (;;) {
			err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
			    RD_KAFKA_V_KEY(msgs[i].key, keylen),
			    RD_KAFKA_V_VALUE(msgs[i].value, msgs[i].len),
			    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(&msgs[i]),
			    RD_KAFKA_V_END);
			if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || util_mono_ms() >= deadline)
				break;
			rd_kafka_poll(rk, 100);
		}
		if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
			msgs[i].state = -1;
			msgs[i].error = xstrdup(rd_kafka_err2str(err));
		}
	}
	while (rd_kafka_outq_len(rk) > 0 && util_mono_ms() < deadline)
		rd_kafka_flush(rk, 100);
	if (rd_kafka_outq_len(rk) > 0) {
		/* Fails what is left through the delivery callback. */
		rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
		rd_kafka_flush(rk, 1000);
	}
	for (i = 0; i < n; i++) {
		if (msgs[i].state == 1)
			continue;
		if (msgs[i].state == 0 || msgs[i].error == NULL) {
			free(msgs[i].error);
			msgs[i].error = xstrdup("no answer from the broker");
		}
		if (failed++ == 0)
			first = &msgs[i];
		if (n > 1 && failed <= 5)
			paiactl_err("task %s: %s", msgs[i].label, msgs[i].error);
	}
	rd_kafka_poll(rk, 0);	/* serve error_cb for the hint */
	client_kafka_hint(k, hint, sizeof hint);
	delivery_s = (double)k->delivery_ms / 1000;
	client_kafka_free(k);
	if (first == NULL)
		return 0;
	if (n == 1)
		xasprintf(cause, "task %s not delivered to topic %s at %s within %g s: %s%s",
		    first->label, topic, ctx->loc.bootstrap, delivery_s, first->error, hint);
	else
		xasprintf(cause, "%zu of %zu tasks not delivered to topic %s at %s within %g s%s",
		    failed, n, topic, ctx->loc.bootstrap, delivery_s, hint);
	return -1;
}

int
paiactl_cmd_submit(struct paiactl *ctx, const struct paiactl_cmd *cmd, int argc, char **argv)
{
	struct paiactl_submit s;
	struct paiactl_msg *msgs = NULL;
	size_t n = 0, i;
	char *cause = NULL;
	int64_t ms;
	uint16_t r;
	int rc;

	memset(&s, 0, sizeof s);
	s.game = "catch";
	s.gpu = -1;
	s.count = 1;
	if ((rc = paiactl_submit_parse(cmd, argc, argv, &s)) != 0) {
		rc = PAIACTL_EXIT(rc);
		goto out;
	}
	rc = 1;
	if (s.file != NULL) {
		if (paiactl_submit_file(s.file, &msgs, &n, &cause) != 0) {
			paiactl_err_cause(cause);
			goto out;
		}
	} else if (s.raw != NULL || s.raw_file != NULL) {
		msgs = xcalloc(1, sizeof *msgs);
		if (s.raw != NULL) {
			msgs[0].value = xstrdup(s.raw);
			msgs[0].len = strlen(s.raw);
		} else if ((msgs[0].value = util_read_file(strcmp(s.raw_file, "-") == 0 ?
		    "/dev/stdin" : s.raw_file, PAIACTL_FILE_MAX, &msgs[0].len, &cause)) == NULL) {
			free(msgs);
			msgs = NULL;
			paiactl_err_cause(cause);
			goto out;
		}
		msgs[0].label = xstrdup("raw");
		n = 1;
	} else {
		ms = util_now_ms();
		paiactl_submit_random(&r, sizeof r);
		msgs = xcalloc((size_t)s.count, sizeof *msgs);
		for (n = 0; n < (size_t)s.count; n++) {
			msgs[n].key = paiactl_submit_id(&s, (long long)n, ms, r);
			msgs[n].label = xstrdup(msgs[n].key);
			msgs[n].value = paiactl_submit_task(&s, msgs[n].key, &msgs[n].len);
		}
	}
	if (paiactl_kafka_resolve(ctx, &cause) != 0 ||
	    paiactl_submit_send(ctx, msgs, n, &cause) != 0) {
		paiactl_err_cause(cause);
		/* The ones that made it are in Kafka: say which. */
		for (i = 0; i < n; i++)
			if (msgs[i].state == 1)
				printf("%s\n", msgs[i].label);
		goto out;
	}
	for (i = 0; i < n; i++)
		printf("%s\n", msgs[i].label);
	rc = 0;
out:
	for (i = 0; i < n; i++) {
		free(msgs[i].key);
		free(msgs[i].value);
		free(msgs[i].label);
		free(msgs[i].error);
	}
	free(msgs);
	free(s.program);
	free(s.model);
	cJSON_Delete(s.params);
	return rc;
}

/* ---- results ---- */

enum {
	PAIACTL_R_JSON = 256, PAIACTL_R_DLQ, PAIACTL_R_COUNT, PAIACTL_R_TIMEOUT,
	PAIACTL_R_BEGINNING, PAIACTL_R_END,
};

struct paiactl_results {
	int follow;
	int json;
	int dlq;
	long long count;
	long long timeout_s;
	int from_end;
};

static int
paiactl_results_parse(const struct paiactl_cmd *cmd, int argc, char **argv,
    struct paiactl_results *o)
{
	static const struct option longopts[] = {
		{ "follow", no_argument, NULL, 'f' },
		{ "json", no_argument, NULL, PAIACTL_R_JSON },
		{ "dlq", no_argument, NULL, PAIACTL_R_DLQ },
		{ "count", required_argument, NULL, PAIACTL_R_COUNT },
		{ "timeout", required_argument, NULL, PAIACTL_R_TIMEOUT },
		{ "from-beginning", no_argument, NULL, PAIACTL_R_BEGINNING },
		{ "from-end", no_argument, NULL, PAIACTL_R_END },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int ch, beginning = 0;

	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":fh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			return paiactl_usage_help(cmd);
		case 'f':
			o->follow = 1;
			break;
		case PAIACTL_R_JSON:
			o->json = 1;
			break;
		case PAIACTL_R_DLQ:
			o->dlq = 1;
			break;
		case PAIACTL_R_COUNT:
			if (paiactl_flag_int(cmd, "--count", optarg, 1, INT32_MAX, &o->count) != 0)
				return 2;
			break;
		case PAIACTL_R_TIMEOUT:
			if (paiactl_flag_int(cmd, "--timeout", optarg, 1, INT32_MAX / 1000,
			    &o->timeout_s) != 0)
				return 2;
			break;
		case PAIACTL_R_BEGINNING:
			beginning = 1;
			break;
		case PAIACTL_R_END:
			o->from_end = 1;
			break;
		default:
			return paiactl_flag_bad(cmd, ch, argv, optopt);
		}
	}
	if (optind < argc)
		return paiactl_usage_err(cmd, "results: unexpected argument %s", argv[optind]);
	if (beginning && o->from_end)
		return paiactl_usage_err(cmd, "results: --from-beginning or --from-end, not both");
	return 0;
}

/* A dead-letter record's row: where the refused task was, why. */
static void
paiactl_results_dlq_row(struct paiactl_table *t, const struct client_record *rec,
    const char *id)
{
	struct client_dlq d;

	if (client_dlq_decode(rec->value, rec->len, &d) != 0) {
		paiactl_table_addf(t, "%d", (int)rec->partition);
		paiactl_table_addf(t, "%lld", (long long)rec->offset);
		paiactl_table_add(t, xstrdup("(not JSON)"));
		paiactl_table_add(t, client_text_clean(id));
		paiactl_table_add(t, xstrdup("-"));
		return;
	}
	/* Where the refused task was, not where its DLQ record is. */
	if (d.partition != NULL)
		paiactl_table_add(t, client_text_json(d.partition));
	else
		paiactl_table_addf(t, "%d", (int)rec->partition);
	if (d.offset != NULL)
		paiactl_table_add(t, client_text_json(d.offset));
	else
		paiactl_table_addf(t, "%lld", (long long)rec->offset);
	paiactl_table_add(t, client_text_json(d.reason));
	paiactl_table_add(t, client_text_json(d.task_id));
	paiactl_table_add(t, client_text_json(d.detail));
	cJSON_Delete(d.root);
}

static void
paiactl_results_row(struct paiactl_table *t, const struct client_record *rec, int dlq)
{
	struct client_result r;
	char *key = NULL, dur[32];
	const char *id = "-";

	if (rec->key != NULL)
		id = key = xstrndup(rec->key, rec->key_len);
	if (dlq)
		paiactl_results_dlq_row(t, rec, id);
	else if (client_result_decode(rec->value, rec->len, &r) != 0) {
		paiactl_table_add(t, client_text_clean(id));
		paiactl_table_add(t, xstrdup("-"));
		paiactl_table_add(t, xstrdup("(not JSON)"));
		paiactl_table_add(t, xstrdup("-"));
		paiactl_table_add(t, xstrdup("-"));
		paiactl_table_add(t, xstrdup("-"));
	} else {
		paiactl_table_add(t, client_text_clean(r.task_id != NULL ? r.task_id : id));
		paiactl_table_add(t, client_text_json(r.attempt));
		paiactl_table_add(t, client_text_json(r.status));
		paiactl_table_add(t, client_text_json(r.score));
		paiactl_table_add(t, xstrdup(r.duration_ms >= 0 ?
		    client_text_duration(r.duration_ms, dur, sizeof dur) : "-"));
		paiactl_table_add(t, client_text_json(r.video_url));
		cJSON_Delete(r.root);
	}
	free(key);
}

struct paiactl_results_out {
	const struct paiactl_results *o;
	struct paiactl_table *t;
	int streaming;
};

static void
paiactl_results_record(const struct client_record *rec, void *arg)
{
	struct paiactl_results_out *out = arg;

	if (out->o->json) {
		fwrite(rec->value, 1, rec->len, stdout);
		fputc('\n', stdout);
		if (out->streaming)
			fflush(stdout);
	} else {
		paiactl_results_row(out->t, rec, out->o->dlq);
		if (out->streaming)
			paiactl_table_flush(out->t, stdout);
	}
}

static void
paiactl_results_warning(const char *text, void *arg)
{
	paiactl_err("warning: %s", text);
}

int
paiactl_cmd_results(struct paiactl *ctx, const struct paiactl_cmd *cmd, int argc, char **argv)
{
	static const char *const rheaders[] = {
		"TASK", "ATTEMPT", "STATUS", "SCORE", "DURATION", "VIDEO"
	};
	static const char *const dheaders[] = {
		"PARTITION", "OFFSET", "REASON", "TASK", "DETAIL"
	};
	static const size_t rwidth[] = { 24, 7, 9, 6, 8 }, dwidth[] = { 9, 8, 19, 24 };
	struct paiactl_results_out out;
	struct client_read_args ra;
	struct paiactl_results o;
	struct paiactl_table t;
	struct client_kafka *k;
	struct client_reader *rd = NULL;
	const char *topic;
	char *cause = NULL, why[64];
	long long n = 0;
	int rc, i, streaming;

	memset(&o, 0, sizeof o);
	memset(&t, 0, sizeof t);
	if ((rc = paiactl_results_parse(cmd, argc, argv, &o)) != 0)
		return PAIACTL_EXIT(rc);
	if (paiactl_kafka_resolve(ctx, &cause) != 0)
		return paiactl_err_cause(cause);
	topic = ctx->loc.topics[o.dlq ? CLIENT_TOPIC_DLQ : CLIENT_TOPIC_RESULTS];
	if ((k = paiactl_kafka_new(ctx, RD_KAFKA_CONSUMER, 0, &cause)) == NULL)
		return paiactl_err_cause(cause);
	rc = 1;
	if ((rd = client_reader_open(k, topic, o.from_end, &cause)) == NULL) {
		paiactl_err_cause(cause);
		goto out;
	}

	/* --count waits for records as --follow does: show them as they come. */
	streaming = o.follow || o.count > 0;
	if (!o.json) {
		if (o.dlq)
			paiactl_table_init(&t, nitems(dheaders), dheaders);
		else
			paiactl_table_init(&t, nitems(rheaders), rheaders);
		if (streaming) {
			/* Rows come one by one: start wide so columns rarely shift. */
			for (i = 0; i < (int)t.ncols - 1; i++)
				if (t.width[i] < (o.dlq ? dwidth : rwidth)[i])
					t.width[i] = (o.dlq ? dwidth : rwidth)[i];
			paiactl_table_flush(&t, stdout);
		}
	}
	if (streaming || o.timeout_s > 0)
		paiactl_signals_catch();
	out.o = &o;
	out.t = &t;
	out.streaming = streaming;
	memset(&ra, 0, sizeof ra);
	ra.follow = o.follow;
	ra.count = o.count;
	ra.timeout_s = o.timeout_s;
	ra.stop = ctx->stop;
	ra.on_record = paiactl_results_record;
	ra.on_warning = paiactl_results_warning;
	ra.arg = &out;
	if (client_reader_run(rd, &ra, &n, why, sizeof why, &cause) != 0) {
		paiactl_err_cause(cause);
		goto out;
	}
	if (!o.json && !streaming) {
		if (paiactl_table_rows(&t) > 0)
			paiactl_table_print(&t, stdout);
		else
			fprintf(stderr, "no records in topic %s\n", topic);
	}
	if (o.count > 0 && n < o.count) {
		fflush(stdout);
		paiactl_err("read %lld of %lld records from topic %s (%s)", n, o.count, topic, why);
		goto out;
	}
	rc = 0;
out:
	client_reader_close(rd);
	client_kafka_free(k);
	if (t.ncols != 0)
		paiactl_table_free(&t);
	return rc;
}

/* ---- topics ---- */

/*
 * topics: list the gateway's three topics with their partition counts
 * (missing ones say so); with --create, create the missing ones
 * (tasks, results and DLQ partitions from --partitions T,R,D; default
 * 6,3,1; replication factor from --replication, default the broker's).
 */
int
paiactl_cmd_topics(struct paiactl *ctx, const struct paiactl_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "create", no_argument, NULL, 'c' },
		{ "partitions", required_argument, NULL, 'p' },
		{ "replication", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *names[3];
	int parts[3] = { 6, 3, 1 }, found[3] = { -1, -1, -1 }, create = 0, ch, i, j, rc = 1;
	long long repl = -1;
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_NewTopic_t *nt[3];
	rd_kafka_queue_t *q = NULL;
	rd_kafka_event_t *ev = NULL;
	struct client_kafka *kafka;
	rd_kafka_t *rk;
	rd_kafka_resp_err_t err;
	char *cause = NULL, errstr[1024];
	size_t nnew = 0, k;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			create = 1;
			break;
		case 'p':
			if (sscanf(optarg, "%d,%d,%d", &parts[0], &parts[1], &parts[2]) != 3 ||
			    parts[0] < 1 || parts[1] < 1 || parts[2] < 1)
				return paiactl_usage_err(cmd, "--partitions %s: expected T,R,D "
				    "(three positive counts: tasks, results, dead letters)", optarg);
			break;
		case 'r':
			if (paiactl_flag_int(cmd, "--replication", optarg, 1, 100, &repl) != 0)
				return 2;
			break;
		case 'h':
			return paiactl_usage_help(cmd);
		default:
			return paiactl_flag_bad(cmd, ch, argv, optopt);
		}
	}
	if (optind != argc)
		return paiactl_usage_err(cmd, "unexpected argument %s", argv[optind]);
	if (paiactl_kafka_resolve(ctx, &cause) != 0)
		return paiactl_err_cause(cause);
	names[0] = ctx->loc.topics[CLIENT_TOPIC_TASKS];
	names[1] = ctx->loc.topics[CLIENT_TOPIC_RESULTS];
	names[2] = ctx->loc.topics[CLIENT_TOPIC_DLQ];
	if ((kafka = paiactl_kafka_new(ctx, RD_KAFKA_PRODUCER, 0, &cause)) == NULL)
		return paiactl_err_cause(cause);
	rk = kafka->rk;
	err = rd_kafka_metadata(rk, 1, NULL, &md, 10000);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		client_kafka_hint(kafka, errstr, sizeof errstr);
		paiactl_err("cannot read topics from %s: %s%s", ctx->loc.bootstrap,
		    rd_kafka_err2str(err), errstr);
		goto out;
	}
	for (i = 0; i < md->topic_cnt; i++)
		for (j = 0; j < 3; j++)
			if (strcmp(md->topics[i].topic, names[j]) == 0 &&
			    md->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR)
				found[j] = md->topics[i].partition_cnt;
	if (create) {
		for (j = 0; j < 3; j++) {
			if (found[j] >= 0)
				continue;
			nt[nnew] = rd_kafka_NewTopic_new(names[j], parts[j], (int)repl, errstr,
			    sizeof errstr);
			if (nt[nnew] == NULL) {
				paiactl_err("topic %s: %s", names[j], errstr);
				goto out;
			}
			nnew++;
		}
	}
	if (nnew > 0) {
		const rd_kafka_CreateTopics_result_t *res;
		const rd_kafka_topic_result_t **tr;
		size_t ntr;

		q = rd_kafka_queue_new(rk);
		rd_kafka_CreateTopics(rk, nt, nnew, NULL, q);
		ev = rd_kafka_queue_poll(q, 30000);
		if (ev == NULL || rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
			paiactl_err("creating topics at %s: %s", ctx->loc.bootstrap,
			    ev != NULL ? rd_kafka_event_error_string(ev) : "no answer in 30 s");
			goto out;
		}
		res = rd_kafka_event_CreateTopics_result(ev);
		tr = rd_kafka_CreateTopics_result_topics(res, &ntr);
		for (k = 0; k < ntr; k++) {
			err = rd_kafka_topic_result_error(tr[k]);
			if (err != RD_KAFKA_RESP_ERR_NO_ERROR &&
			    err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
				paiactl_err("creating topic %s: %s",
				    rd_kafka_topic_result_name(tr[k]),
				    rd_kafka_topic_result_error_string(tr[k]));
				goto out;
			}
			for (j = 0; j < 3; j++)
				if (strcmp(rd_kafka_topic_result_name(tr[k]), names[j]) == 0)
					found[j] = parts[j];
			printf("created %s\n", rd_kafka_topic_result_name(tr[k]));
		}
	}
	rc = 0;
	for (j = 0; j < 3; j++) {
		static const char *role[] = { "tasks", "results", "dead letters" };
		if (found[j] >= 0)
			printf("%-24s %-12s %d partitions\n", names[j], role[j], found[j]);
		else {
			printf("%-24s %-12s missing\n", names[j], role[j]);
			rc = 1;
		}
	}
out:
	for (k = 0; k < nnew; k++)
		rd_kafka_NewTopic_destroy(nt[k]);
	if (ev != NULL)
		rd_kafka_event_destroy(ev);
	if (q != NULL)
		rd_kafka_queue_destroy(q);
	if (md != NULL)
		rd_kafka_metadata_destroy(md);
	client_kafka_free(kafka);
	return rc;
}
