/*
 * paiactl-kafka.c: the commands that reach Kafka directly. submit
 * builds task v1 messages (or takes them from a file, or raw bytes),
 * produces them keyed by task id and waits until the broker has them.
 * results reads the results or dead-letter topic from every partition
 * with read_committed, as the Webservice would see it (client/'s
 * reader), and prints records as a table, as kcat -J envelopes
 * (--json) or as their bare values (--raw); topics lists or creates the
 * gateway's three topics.
 *
 * Neither joins a consumer group or commits an offset, so they cannot
 * steal work from or move the position of the gateway or any other
 * reader. Tasks are not validated beyond "is it JSON": the gateway is
 * the judge and dead-letters what it refuses (see results --dlq).
 */
#include "config.h"
#include "paiactl-int.h"
#include "proto.h"

#include <sys/random.h>

#include <errno.h>
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
	int32_t partition;	/* where it was delivered */
	int64_t offset;
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
	} else {
		msg->state = 1;
		msg->partition = m->partition;
		msg->offset = m->offset;
	}
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
};

/* A URL as given; a local path (no "://") becomes a file:// URL. */
static int
paiactl_submit_url(const char *flag, const char *value, char **out, char **cause)
{
	char *abs, *enc;

	if (strstr(value, "://") != NULL) {
		*out = xstrdup(value);
		return 0;
	}
	if ((abs = realpath(value, NULL)) == NULL) {
		xasprintf(cause, "%s: %s: %s (give a URL, or a file that exists)", flag, value,
		    strerror(errno));
		return -1;
	}
	/* Percent-encoded: a path may hold spaces, '%', '?' or '#'. */
	enc = util_url_encode(abs, 1);
	xasprintf(out, "file://%s", enc);
	free(enc);
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
	struct proto_task t;
	char *params = NULL, *text, *out;

	memset(&t, 0, sizeof t);
	t.task_id = (char *)id;
	t.game = (char *)s->game;
	t.program = (char *)s->program;
	t.model = (char *)s->model;
	t.entry = (char *)s->entry;
	if (s->params != NULL) {
		if ((text = cJSON_PrintUnformatted(s->params)) == NULL)
			fatalx("paiactl: cannot print params");
		params = xstrdup(text);
		cJSON_free(text);
	}
	t.params = params;
	t.timeout_s = (long)s->timeout_s;
	t.gpu = (int)s->gpu;
	t.result_prefix = (char *)s->result_prefix;
	t.attempt = 1;
	out = proto_task_encode(&t);
	free(params);
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
paiactl_submit_parse(const struct paiactl_args *a, struct paiactl_submit *s)
{
	/* Flags that build a task: none of them goes with a ready-made one. */
	static const char *building[] = {
		"program", "game", "entry", "model", "params", "timeout", "gpu", "id",
		"result-prefix", "count",
	};
	static const char *sources[] = { "file", "raw", "raw-file" };
	const char *program = paiactl_arg(a, "program"), *model = paiactl_arg(a, "model"), *v;
	char *cause = NULL;
	size_t i;
	int rc;

	for (i = 0; i < nitems(sources); i++) {
		if (paiactl_arg(a, sources[i]) == NULL)
			continue;
		if (s->source != NULL)
			return paiactl_usage_err(a->cmd, "--%s and --%s cannot be used together",
			    s->source, sources[i]);
		s->source = sources[i];
	}
	for (i = 0; s->source != NULL && i < nitems(building); i++)
		if (paiactl_arg(a, building[i]) != NULL)
			return paiactl_usage_err(a->cmd, "--%s sends tasks as they are: no --%s "
			    "(nor any flag that builds a task) with it", s->source, building[i]);
	s->file = paiactl_arg(a, "file");
	s->raw = paiactl_arg(a, "raw");
	s->raw_file = paiactl_arg(a, "raw-file");
	if ((v = paiactl_arg(a, "game")) != NULL)
		s->game = v;
	s->entry = paiactl_arg(a, "entry");
	s->result_prefix = paiactl_arg(a, "result-prefix");
	if ((v = paiactl_arg(a, "params")) != NULL) {
		if ((s->params = cJSON_Parse(v)) == NULL)
			return paiactl_usage_err(a->cmd, "--params: not valid JSON: %s", v);
		if (!cJSON_IsObject(s->params))
			return paiactl_usage_err(a->cmd, "--params: not a JSON object: %s", v);
	}
	if ((rc = paiactl_arg_int(a, "timeout", 1, 7 * 86400, &s->timeout_s)) != 0 ||
	    (rc = paiactl_arg_int(a, "gpu", 0, 16, &s->gpu)) != 0 ||
	    (rc = paiactl_arg_int(a, "count", 1, PAIACTL_COUNT_MAX, &s->count)) != 0)
		return rc;
	if ((s->id = paiactl_arg(a, "id")) != NULL && *s->id == '\0')
		return paiactl_usage_err(a->cmd, "--id: empty");
	if (s->source == NULL && program == NULL)
		return paiactl_usage_err(a->cmd, "--program is required (or --file, --raw, "
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
	if ((k = paiactl_kafka_new(ctx, RD_KAFKA_PRODUCER, biggest, paiactl_kafka_dr_cb,
	    cause)) == NULL)
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

/* What submit prints for a task delivered: its id, or (--json) where it went. */
static void
paiactl_submit_print(const struct paiactl *ctx, const struct paiactl_msg *m, int json)
{
	cJSON *j;
	char *key;

	if (!json) {
		printf("%s\n", m->label);
		return;
	}
	j = cJSON_CreateObject();
	if (m->key != NULL) {
		key = client_text_utf8(m->key, strlen(m->key));
		cJSON_AddStringToObject(j, "task_id", key);
		free(key);
	} else
		cJSON_AddNullToObject(j, "task_id");
	cJSON_AddStringToObject(j, "topic", ctx->loc.topics[CLIENT_TOPIC_TASKS]);
	cJSON_AddNumberToObject(j, "partition", m->partition);
	cJSON_AddNumberToObject(j, "offset", (double)m->offset);
	paiactl_json_print(j);
	cJSON_Delete(j);
}

int
paiactl_cmd_submit(struct paiactl *ctx, const struct paiactl_args *a)
{
	struct paiactl_submit s;
	struct paiactl_msg *msgs = NULL;
	size_t n = 0, i;
	char *cause = NULL;
	int64_t ms;
	uint16_t r;
	int rc, json = paiactl_arg(a, "json") != NULL;

	memset(&s, 0, sizeof s);
	s.game = "catch";
	s.gpu = -1;
	s.count = 1;
	if ((rc = paiactl_submit_parse(a, &s)) != 0)
		goto out;
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
				paiactl_submit_print(ctx, &msgs[i], json);
		goto out;
	}
	for (i = 0; i < n; i++)
		paiactl_submit_print(ctx, &msgs[i], json);
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

enum paiactl_results_fmt { PAIACTL_TABLE, PAIACTL_JSON, PAIACTL_RAW };

struct paiactl_results {
	int follow;
	enum paiactl_results_fmt fmt;
	int dlq;
	long long count;
	long long timeout_s;
	int from_end;
};

static int
paiactl_results_parse(const struct paiactl_args *a, struct paiactl_results *o)
{
	int rc;

	o->follow = paiactl_arg(a, "follow") != NULL;
	o->dlq = paiactl_arg(a, "dlq") != NULL;
	o->from_end = paiactl_arg(a, "from-end") != NULL;
	if (paiactl_arg(a, "json") != NULL && paiactl_arg(a, "raw") != NULL)
		return paiactl_usage_err(a->cmd, "--json or --raw, not both");
	o->fmt = paiactl_arg(a, "json") != NULL ? PAIACTL_JSON : paiactl_arg(a, "raw") != NULL ?
	    PAIACTL_RAW : PAIACTL_TABLE;
	if ((rc = paiactl_arg_int(a, "count", 1, INT32_MAX, &o->count)) != 0 ||
	    (rc = paiactl_arg_int(a, "timeout", 1, INT32_MAX / 1000, &o->timeout_s)) != 0)
		return rc;
	if (paiactl_arg(a, "from-beginning") != NULL && o->from_end)
		return paiactl_usage_err(a->cmd, "--from-beginning or --from-end, not both");
	return 0;
}

/* A number, or "-" when absent (-1). */
static char *
paiactl_results_num(int64_t v)
{
	char *s;

	if (v < 0)
		return xstrdup("-");
	xasprintf(&s, "%lld", (long long)v);
	return s;
}

/* A string from a record, made safe for the terminal, or "-". */
static char *
paiactl_results_str(const char *s)
{
	return s != NULL ? client_text_clean(s) : xstrdup("-");
}

/* A dead-letter record's row: where the refused task was, why. */
static void
paiactl_results_dlq_row(struct paiactl_table *t, const struct client_record *rec,
    const char *id)
{
	struct proto_dlq d;
	char *cause = NULL;

	if (proto_dlq_decode(rec->value, rec->len, &d, &cause) != 0) {
		free(cause);
		paiactl_table_addf(t, "%d", (int)rec->partition);
		paiactl_table_addf(t, "%lld", (long long)rec->offset);
		paiactl_table_add(t, xstrdup("(not a DLQ record)"));
		paiactl_table_add(t, client_text_clean(id));
		paiactl_table_add(t, xstrdup("-"));
		return;
	}
	/* Where the refused task was, not where its DLQ record is. */
	paiactl_table_addf(t, "%d", (int)(d.partition >= 0 ? d.partition : rec->partition));
	paiactl_table_addf(t, "%lld", (long long)(d.offset >= 0 ? d.offset : rec->offset));
	paiactl_table_add(t, paiactl_results_str(d.reason_name));
	paiactl_table_add(t, paiactl_results_str(d.task_id));
	paiactl_table_add(t, paiactl_results_str(d.detail));
	proto_dlq_clear(&d);
}

/* "class: message" of a result's error, or "-". */
static char *
paiactl_results_error(const struct proto_result *r)
{
	const char *cls = proto_class_name(r->eclass), *msg = r->error;
	char *s, *c;

	if (cls == NULL && msg == NULL)
		return xstrdup("-");
	xasprintf(&s, "%s%s%s", cls != NULL ? cls : "", cls != NULL && msg != NULL ? ": " : "",
	    msg != NULL ? msg : "");
	c = client_text_clean(s);
	free(s);
	return c;
}

static void
paiactl_results_row(struct paiactl_table *t, const struct client_record *rec, int dlq)
{
	struct proto_result r;
	char *key = NULL, *cause = NULL, dur[32];
	const char *id = "-";
	double score;
	int i;

	if (rec->key != NULL)
		id = key = xstrndup(rec->key, rec->key_len);
	if (dlq)
		paiactl_results_dlq_row(t, rec, id);
	else if (proto_result_decode(rec->value, rec->len, &r, &cause) != 0) {
		free(cause);
		paiactl_table_add(t, client_text_clean(id));
		paiactl_table_add(t, xstrdup("-"));
		paiactl_table_add(t, xstrdup("(not a result)"));
		for (i = 0; i < 4; i++)
			paiactl_table_add(t, xstrdup("-"));
	} else {
		paiactl_table_add(t, client_text_clean(r.task_id));
		paiactl_table_add(t, paiactl_results_num(r.attempt));
		paiactl_table_add(t, xstrdup(proto_status_name(r.status)));
		paiactl_table_add(t, proto_result_score(&r, &score) == 0 ?
		    client_text_number(score) : xstrdup("-"));
		paiactl_table_add(t, xstrdup(r.duration_ms >= 0 ?
		    client_text_duration(r.duration_ms, dur, sizeof dur) : "-"));
		paiactl_table_add(t, paiactl_results_str(r.video_url));
		/* Last, as it may be long: why a task did not succeed. */
		paiactl_table_add(t, paiactl_results_error(&r));
		proto_result_clear(&r);
	}
	free(key);
}

/*
 * A record as kcat -J prints it: {"topic","partition","offset","ts",
 * "key","value"}. The value is spliced in as it is (whitespace outside
 * strings dropped, so it stays one line) when it is one strict JSON
 * value, which keeps every number exact; anything else becomes a
 * string, as does the key, with bytes that are not UTF-8 replaced.
 */
static void
paiactl_results_envelope(const struct client_record *rec, const char *topic)
{
	cJSON *j = cJSON_CreateObject();
	char *s, *v = NULL;

	cJSON_AddStringToObject(j, "topic", topic);
	cJSON_AddNumberToObject(j, "partition", rec->partition);
	cJSON_AddNumberToObject(j, "offset", (double)rec->offset);
	if (rec->timestamp >= 0)
		cJSON_AddNumberToObject(j, "ts", (double)rec->timestamp);
	else
		cJSON_AddNullToObject(j, "ts");
	if (rec->key != NULL) {
		s = client_text_utf8(rec->key, rec->key_len);
		cJSON_AddStringToObject(j, "key", s);
		free(s);
	} else
		cJSON_AddNullToObject(j, "key");
	if (rec->value == NULL)
		cJSON_AddNullToObject(j, "value");
	else if (json_check(rec->value, rec->len, NULL, NULL, NULL) == 0) {
		v = xstrndup(rec->value, rec->len);
		cJSON_Minify(v);
		cJSON_AddRawToObject(j, "value", v);
	} else {
		s = client_text_utf8(rec->value, rec->len);
		cJSON_AddStringToObject(j, "value", s);
		free(s);
	}
	paiactl_json_print(j);
	cJSON_Delete(j);
	free(v);
}

struct paiactl_results_out {
	const struct paiactl_results *o;
	const char *topic;
	struct paiactl_table *t;
	int streaming;
};

static void
paiactl_results_record(const struct client_record *rec, void *arg)
{
	struct paiactl_results_out *out = arg;

	switch (out->o->fmt) {
	case PAIACTL_RAW:
		fwrite(rec->value, 1, rec->len, stdout);
		fputc('\n', stdout);
		break;
	case PAIACTL_JSON:
		paiactl_results_envelope(rec, out->topic);
		break;
	case PAIACTL_TABLE:
		paiactl_results_row(out->t, rec, out->o->dlq);
		if (out->streaming)
			paiactl_table_flush(out->t, stdout);
		return;
	}
	if (out->streaming)
		fflush(stdout);
}

static void
paiactl_results_warning(const char *text, void *arg)
{
	paiactl_err("warning: %s", text);
}

int
paiactl_cmd_results(struct paiactl *ctx, const struct paiactl_args *a)
{
	static const char *const rheaders[] = {
		"TASK", "ATTEMPT", "STATUS", "SCORE", "DURATION", "VIDEO", "ERROR"
	};
	static const char *const dheaders[] = {
		"PARTITION", "OFFSET", "REASON", "TASK", "DETAIL"
	};
	static const size_t rwidth[] = { 24, 7, 9, 6, 8, 5 }, dwidth[] = { 9, 8, 19, 24 };
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
	if ((rc = paiactl_results_parse(a, &o)) != 0)
		return rc;
	if (paiactl_kafka_resolve(ctx, &cause) != 0)
		return paiactl_err_cause(cause);
	topic = ctx->loc.topics[o.dlq ? CLIENT_TOPIC_DLQ : CLIENT_TOPIC_RESULTS];
	if ((k = paiactl_kafka_new(ctx, RD_KAFKA_CONSUMER, 0, NULL, &cause)) == NULL)
		return paiactl_err_cause(cause);
	rc = 1;
	if ((rd = client_reader_open(k, topic, o.from_end, &cause)) == NULL) {
		paiactl_err_cause(cause);
		goto out;
	}

	/* --count waits for records as --follow does: show them as they come. */
	streaming = o.follow || o.count > 0;
	if (o.fmt == PAIACTL_TABLE) {
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
	out.topic = topic;
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
	if (o.fmt == PAIACTL_TABLE && !streaming) {
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

static const char *const paiactl_topic_roles[CLIENT_TOPICS] = {
	"tasks", "results", "dead letters"
};

/* The topics' table, or (--json) {"topics":[{"topic","role","partitions","created"}]}. */
static void
paiactl_topics_print(const char *const *names, const int *found, const int *created, int json)
{
	cJSON *j, *arr, *o;
	int i;

	if (!json) {
		for (i = 0; i < CLIENT_TOPICS; i++) {
			if (created[i])
				printf("created %s\n", names[i]);
		}
		for (i = 0; i < CLIENT_TOPICS; i++) {
			if (found[i] >= 0)
				printf("%-24s %-12s %d partitions\n", names[i],
				    paiactl_topic_roles[i], found[i]);
			else
				printf("%-24s %-12s missing\n", names[i], paiactl_topic_roles[i]);
		}
		return;
	}
	j = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(j, "topics");
	for (i = 0; i < CLIENT_TOPICS; i++) {
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "topic", names[i]);
		cJSON_AddStringToObject(o, "role", i == CLIENT_TOPIC_DLQ ? "dlq" :
		    paiactl_topic_roles[i]);
		if (found[i] >= 0)
			cJSON_AddNumberToObject(o, "partitions", found[i]);
		else
			cJSON_AddNullToObject(o, "partitions");
		cJSON_AddBoolToObject(o, "created", created[i]);
		cJSON_AddItemToArray(arr, o);
	}
	paiactl_json_print(j);
	cJSON_Delete(j);
}

/*
 * topics: list the gateway's three topics with their partition counts
 * (missing ones say so, exit 1); with --create, create the missing ones
 * (tasks, results and DLQ partitions from --partitions T,R,D; default
 * 6,3,1; replication factor from --replication, default the broker's).
 */
int
paiactl_cmd_topics(struct paiactl *ctx, const struct paiactl_args *a)
{
	const char *names[CLIENT_TOPICS], *pv = paiactl_arg(a, "partitions");
	int parts[CLIENT_TOPICS] = { 6, 3, 1 }, found[CLIENT_TOPICS] = { -1, -1, -1 };
	int created[CLIENT_TOPICS] = { 0, 0, 0 }, end = 0, i, j, rc;
	long long repl = -1;
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_NewTopic_t *nt[CLIENT_TOPICS];
	rd_kafka_queue_t *q = NULL;
	rd_kafka_event_t *ev = NULL;
	struct client_kafka *kafka;
	rd_kafka_t *rk;
	rd_kafka_resp_err_t err;
	char *cause = NULL, errstr[1024];
	size_t nnew = 0, k;

	if (pv != NULL && (sscanf(pv, "%d,%d,%d%n", &parts[0], &parts[1], &parts[2], &end) != 3 ||
	    pv[end] != '\0' || parts[0] < 1 || parts[1] < 1 || parts[2] < 1))
		return paiactl_usage_err(a->cmd, "--partitions %s: expected T,R,D (three positive "
		    "counts: tasks, results, dead letters)", pv);
	if ((rc = paiactl_arg_int(a, "replication", 1, 100, &repl)) != 0)
		return rc;
	if (paiactl_kafka_resolve(ctx, &cause) != 0)
		return paiactl_err_cause(cause);
	for (j = 0; j < CLIENT_TOPICS; j++)
		names[j] = ctx->loc.topics[j];
	if ((kafka = paiactl_kafka_new(ctx, RD_KAFKA_PRODUCER, 0, NULL, &cause)) == NULL)
		return paiactl_err_cause(cause);
	rc = 1;
	rk = kafka->rk;
	err = rd_kafka_metadata(rk, 1, NULL, &md, 10000);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		client_kafka_hint(kafka, errstr, sizeof errstr);
		paiactl_err("cannot read topics from %s: %s%s", ctx->loc.bootstrap,
		    rd_kafka_err2str(err), errstr);
		goto out;
	}
	for (i = 0; i < md->topic_cnt; i++)
		for (j = 0; j < CLIENT_TOPICS; j++)
			if (strcmp(md->topics[i].topic, names[j]) == 0 &&
			    md->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR)
				found[j] = md->topics[i].partition_cnt;
	for (j = 0; paiactl_arg(a, "create") != NULL && j < CLIENT_TOPICS; j++) {
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
			for (j = 0; j < CLIENT_TOPICS; j++) {
				if (strcmp(rd_kafka_topic_result_name(tr[k]), names[j]) != 0)
					continue;
				found[j] = parts[j];
				created[j] = err == RD_KAFKA_RESP_ERR_NO_ERROR;
			}
		}
	}
	paiactl_topics_print(names, found, created, paiactl_arg(a, "json") != NULL);
	rc = found[0] >= 0 && found[1] >= 0 && found[2] >= 0 ? 0 : 1;
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
