/*
 * paiactl-kafka.c: the commands that reach Kafka directly. submit
 * builds task v1 messages (or takes them from a file, or raw bytes),
 * produces them keyed by task id and waits until the broker has them.
 * results reads the results or dead-letter topic from every partition
 * with read_committed, as the Webservice would see it.
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

#define CTL_DELIVERY_MS 30000		/* submit gives up after this */

/* The delivery timeout in force: kafka.message.timeout.ms may change it. */
static long long ctl_delivery_ms = CTL_DELIVERY_MS;
#define CTL_METADATA_MS 10000
#define CTL_FILE_MAX (64 * 1024 * 1024)
#define CTL_COUNT_MAX 1000000

/* Last error librdkafka reported (error_cb runs in our thread, from poll). */
static char ctl_kafka_last[512];

struct ctl_msg {
	char *key;		/* task id, or NULL */
	char *value;
	size_t len;
	char *label;		/* what to print once delivered */
	int state;		/* 0 waiting, 1 delivered, -1 failed */
	char *error;
};

static void
ctl_kafka_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	(void)rk;
	(void)err;
	(void)opaque;
	snprintf(ctl_kafka_last, sizeof ctl_kafka_last, "%s", reason);
}

/* librdkafka's own log lines are for kafka.debug; errors come by error_cb. */
static void
ctl_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void)rk;
	(void)level;
	(void)fac;
	(void)buf;
}

static void
ctl_kafka_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct ctl_msg *msg = m->_private;

	(void)rk;
	(void)opaque;
	if (msg == NULL)
		return;
	if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		msg->state = -1;
		free(msg->error);
		msg->error = xstrdup(rd_kafka_err2str(m->err));
	} else
		msg->state = 1;
}

/* " (last error: ...)" when librdkafka said something, else "". */
static const char *
ctl_kafka_hint(char *buf, size_t len)
{
	if (ctl_kafka_last[0] == '\0')
		return "";
	snprintf(buf, len, " (last error: %s)", ctl_kafka_last);
	return buf;
}

static int
ctl_kafka_set(rd_kafka_conf_t *conf, const char *key, const char *value, char **cause)
{
	char errstr[512];

	if (rd_kafka_conf_set(conf, key, value, errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
		xasprintf(cause, "%s%skafka.%s: %s", ctl.arg_config != NULL ? ctl.arg_config : "",
		    ctl.arg_config != NULL ? ": " : "", key, errstr);
		return -1;
	}
	return 0;
}

/*
 * A client for the resolved bootstrap servers with every kafka.* key of
 * the config (SASL, TLS, ...), except those naming a group or a
 * transaction: paiactl must never act as the gateway.
 */
static rd_kafka_t *
ctl_kafka_new(rd_kafka_type_t type, size_t biggest, char **cause)
{
	static const char *skip[] = {
		"bootstrap.servers", "group.id", "group.instance.id", "transactional.id",
		"enable.partition.eof", "isolation.level", "enable.auto.commit",
	};
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	struct config_entry e;
	rd_kafka_t *rk;
	char errstr[512];
	char max[32];
	int timeout_set = 0, max_set = 0, debug = 0, skipped;
	size_t i, k;

	for (i = 0; ctl.conf != NULL && i < config_count(ctl.conf); i++) {
		e = config_at(ctl.conf, i);
		if (strcmp(e.section, "kafka") != 0)
			continue;
		for (skipped = 0, k = 0; k < nitems(skip) && !skipped; k++)
			skipped = strcmp(e.key, skip[k]) == 0;
		if (skipped)
			continue;
		if (ctl_kafka_set(conf, e.key, e.value, cause) != 0)
			goto fail;
		if (strcmp(e.key, "message.timeout.ms") == 0 ||
		    strcmp(e.key, "delivery.timeout.ms") == 0) {
			timeout_set = 1;
			if (util_parse_int(e.value, 0, INT32_MAX, &ctl_delivery_ms) != 0)
				ctl_delivery_ms = CTL_DELIVERY_MS;
		}
		if (strcmp(e.key, "debug") == 0)
			debug = 1;
		if (strcmp(e.key, "message.max.bytes") == 0)
			max_set = 1;
	}
	if (ctl_kafka_set(conf, "bootstrap.servers", ctl.bootstrap, cause) != 0 ||
	    ctl_kafka_set(conf, "client.id", "paiactl", cause) != 0)
		goto fail;
	if (type == RD_KAFKA_PRODUCER) {
		if (!timeout_set && ctl_kafka_set(conf, "message.timeout.ms", "30000", cause) != 0)
			goto fail;
		/*
		 * Oversized tasks are how the gateway's too_large check is
		 * tested: let the broker, not the client, refuse them.
		 */
		snprintf(max, sizeof max, "%zu", biggest + 65536);
		if (!max_set && biggest + 65536 > 1000000 &&
		    ctl_kafka_set(conf, "message.max.bytes", max, cause) != 0)
			goto fail;
		rd_kafka_conf_set_dr_msg_cb(conf, ctl_kafka_dr_cb);
	} else {
		if (ctl_kafka_set(conf, "enable.partition.eof", "true", cause) != 0 ||
		    ctl_kafka_set(conf, "isolation.level", "read_committed", cause) != 0 ||
		    ctl_kafka_set(conf, "enable.auto.commit", "false", cause) != 0)
			goto fail;
	}
	rd_kafka_conf_set_error_cb(conf, ctl_kafka_error_cb);
	if (!debug)
		rd_kafka_conf_set_log_cb(conf, ctl_kafka_log_cb);
	if ((rk = rd_kafka_new(type, conf, errstr, sizeof errstr)) == NULL) {
		xasprintf(cause, "cannot create a Kafka client for %s: %s", ctl.bootstrap, errstr);
		goto fail;
	}
	return rk;
fail:
	rd_kafka_conf_destroy(conf);
	return NULL;
}

/* ---- submit ---- */

struct ctl_submit {
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
	CTL_S_GAME = 256, CTL_S_PROGRAM, CTL_S_ENTRY, CTL_S_MODEL, CTL_S_PARAMS,
	CTL_S_TIMEOUT, CTL_S_GPU, CTL_S_ID, CTL_S_COUNT, CTL_S_PREFIX, CTL_S_FILE, CTL_S_RAW,
	CTL_S_RAW_FILE,
};

/* A URL as given; a local path (no "://") becomes a file:// URL. */
static int
ctl_submit_url(const char *flag, const char *value, char **out, char **cause)
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
ctl_submit_random(void *buf, size_t len)
{
	uint64_t x;

	if (getrandom(buf, len, GRND_NONBLOCK) == (ssize_t)len)
		return;
	x = (uint64_t)util_now_ms() ^ ((uint64_t)getpid() << 32);
	memcpy(buf, &x, len < sizeof x ? len : sizeof x);
}

/* Ids: --id as is, ID-1..ID-N with --count, else t-<ms hex>-<4 hex>. */
static char *
ctl_submit_id(const struct ctl_submit *s, long long i, int64_t ms, uint16_t r)
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
ctl_submit_task(const struct ctl_submit *s, const char *id, size_t *len)
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
ctl_submit_is_space(const char *p, const char *end)
{
	for (; p < end; p++)
		if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
			return 0;
	return 1;
}

/* Check one JSON object in [p, end) and append it as a message. */
static int
ctl_submit_add_json(struct ctl_msg **msgs, size_t *n, const char *p, const char *end,
    const char *where, char **cause)
{
	const char *stop = NULL, *id;
	struct ctl_msg *m;
	cJSON *root;

	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
		p++;
	while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' ||
	    end[-1] == '\n'))
		end--;
	root = cJSON_ParseWithLengthOpts(p, (size_t)(end - p), &stop, 0);
	if (root == NULL || (stop != NULL && !ctl_submit_is_space(stop, end))) {
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
	id = ctl_json_str(root, "task_id");
	m->key = id != NULL ? xstrdup(id) : NULL;
	m->label = id != NULL ? ctl_clean(id) : xstrdup("-");
	m->value = xstrndup(p, (size_t)(end - p));
	m->len = (size_t)(end - p);
	cJSON_Delete(root);
	return 0;
}

/* --file: one JSON object, or JSON lines (one task a line), sent as is. */
static int
ctl_submit_file(const char *path, struct ctl_msg **msgs, size_t *n, char **cause)
{
	const char *name = strcmp(path, "-") == 0 ? "stdin" : path, *p, *nl, *end;
	char *buf, *where, *c = NULL;
	size_t len, line;
	int rc = -1;

	buf = util_read_file(strcmp(path, "-") == 0 ? "/dev/stdin" : path, CTL_FILE_MAX, &len,
	    cause);
	if (buf == NULL)
		return -1;
	end = buf + len;
	if (ctl_submit_is_space(buf, end)) {
		xasprintf(cause, "%s: no tasks in it", name);
		goto out;
	}
	/* The whole file as one (perhaps pretty-printed) object first. */
	if (ctl_submit_add_json(msgs, n, buf, end, name, &c) == 0) {
		rc = 0;
		goto out;
	}
	free(c);
	for (p = buf, line = 1; p < end; p = nl + 1, line++) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if (ctl_submit_is_space(p, nl))
			continue;
		xasprintf(&where, "%s:%zu", name, line);
		if (ctl_submit_add_json(msgs, n, p, nl, where, cause) != 0) {
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
ctl_submit_parse(const struct ctl_cmd *cmd, int argc, char **argv, struct ctl_submit *s)
{
	static const struct option longopts[] = {
		{ "game", required_argument, NULL, CTL_S_GAME },
		{ "program", required_argument, NULL, CTL_S_PROGRAM },
		{ "entry", required_argument, NULL, CTL_S_ENTRY },
		{ "model", required_argument, NULL, CTL_S_MODEL },
		{ "params", required_argument, NULL, CTL_S_PARAMS },
		{ "timeout", required_argument, NULL, CTL_S_TIMEOUT },
		{ "gpu", required_argument, NULL, CTL_S_GPU },
		{ "id", required_argument, NULL, CTL_S_ID },
		{ "count", required_argument, NULL, CTL_S_COUNT },
		{ "result-prefix", required_argument, NULL, CTL_S_PREFIX },
		{ "file", required_argument, NULL, CTL_S_FILE },
		{ "raw", required_argument, NULL, CTL_S_RAW },
		{ "raw-file", required_argument, NULL, CTL_S_RAW_FILE },
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
			return ctl_usage_help(cmd);
		case CTL_S_GAME:
			s->game = optarg;
			s->built = 1;
			break;
		case CTL_S_PROGRAM:
			program = optarg;
			s->built = 1;
			break;
		case CTL_S_ENTRY:
			s->entry = optarg;
			s->built = 1;
			break;
		case CTL_S_MODEL:
			model = optarg;
			s->built = 1;
			break;
		case CTL_S_PARAMS:
			cJSON_Delete(s->params);
			if ((s->params = cJSON_Parse(optarg)) == NULL)
				return ctl_usage_err(cmd, "--params: not valid JSON: %s", optarg);
			if (!cJSON_IsObject(s->params))
				return ctl_usage_err(cmd, "--params: not a JSON object: %s", optarg);
			s->built = 1;
			break;
		case CTL_S_TIMEOUT:
			if (ctl_flag_int(cmd, "--timeout", optarg, 1, 7 * 86400, &s->timeout_s) != 0)
				return 2;
			s->built = 1;
			break;
		case CTL_S_GPU:
			if (ctl_flag_int(cmd, "--gpu", optarg, 0, 16, &s->gpu) != 0)
				return 2;
			s->built = 1;
			break;
		case CTL_S_ID:
			if (*optarg == '\0')
				return ctl_usage_err(cmd, "--id: empty");
			s->id = optarg;
			s->built = 1;
			break;
		case CTL_S_COUNT:
			if (ctl_flag_int(cmd, "--count", optarg, 1, CTL_COUNT_MAX, &s->count) != 0)
				return 2;
			counted = 1;
			break;
		case CTL_S_PREFIX:
			s->result_prefix = optarg;
			s->built = 1;
			break;
		case CTL_S_FILE:
		case CTL_S_RAW:
		case CTL_S_RAW_FILE:
			source = ch == CTL_S_FILE ? "--file" : ch == CTL_S_RAW ? "--raw" :
			    "--raw-file";
			if (s->source != NULL && strcmp(s->source, source) != 0)
				return ctl_usage_err(cmd, "submit: %s and %s cannot be used together",
				    s->source, source);
			s->source = source;
			if (ch == CTL_S_FILE)
				s->file = optarg;
			else if (ch == CTL_S_RAW)
				s->raw = optarg;
			else
				s->raw_file = optarg;
			break;
		default:
			return ctl_flag_bad(cmd, ch, argv, optopt);
		}
	}
	if (optind < argc)
		return ctl_usage_err(cmd, "submit: unexpected argument %s", argv[optind]);
	if (s->source != NULL && counted)
		return ctl_usage_err(cmd, "submit: --count cannot be used with %s", s->source);
	if (s->source != NULL && s->built)
		return ctl_usage_err(cmd, "submit: %s sends tasks as they are: no --game, "
		    "--program, --id or other task flags with it", s->source);
	if (s->source == NULL && program == NULL)
		return ctl_usage_err(cmd, "submit: --program is required (or --file, --raw, "
		    "--raw-file)");
	if (program != NULL && ctl_submit_url("--program", program, &s->program, &cause) != 0)
		return ctl_err_cause(cause);
	if (model != NULL && ctl_submit_url("--model", model, &s->model, &cause) != 0)
		return ctl_err_cause(cause);
	return 0;
}

/* Produce every message and wait for the broker's word on each. */
static int
ctl_submit_send(struct ctl_msg *msgs, size_t n, char **cause)
{
	rd_kafka_resp_err_t err;
	rd_kafka_t *rk;
	int64_t deadline;
	struct ctl_msg *first = NULL;
	size_t i, failed = 0, keylen, biggest = 0;
	char hint[600];

	for (i = 0; i < n; i++)
		if (msgs[i].len > biggest)
			biggest = msgs[i].len;
	if ((rk = ctl_kafka_new(RD_KAFKA_PRODUCER, biggest, cause)) == NULL)
		return -1;
	deadline = util_mono_ms() + CTL_DELIVERY_MS;
	for (i = 0; i < n; i++) {
		keylen = msgs[i].key != NULL ? strlen(msgs[i].key) : 0;
		for (;;) {
			err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(ctl.tasks_topic),
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
			ctl_err("task %s: %s", msgs[i].label, msgs[i].error);
	}
	rd_kafka_poll(rk, 0);	/* serve error_cb for the hint */
	rd_kafka_destroy(rk);
	if (first == NULL)
		return 0;
	if (n == 1)
		xasprintf(cause, "task %s not delivered to topic %s at %s within %g s: %s%s",
		    first->label, ctl.tasks_topic, ctl.bootstrap, (double)ctl_delivery_ms / 1000,
		    first->error, ctl_kafka_hint(hint, sizeof hint));
	else
		xasprintf(cause, "%zu of %zu tasks not delivered to topic %s at %s within %g s%s",
		    failed, n, ctl.tasks_topic, ctl.bootstrap, (double)ctl_delivery_ms / 1000,
		    ctl_kafka_hint(hint, sizeof hint));
	return -1;
}

int
ctl_cmd_submit(const struct ctl_cmd *cmd, int argc, char **argv)
{
	struct ctl_submit s;
	struct ctl_msg *msgs = NULL;
	size_t n = 0, i;
	char *cause = NULL;
	int64_t ms;
	uint16_t r;
	int rc;

	memset(&s, 0, sizeof s);
	s.game = "catch";
	s.gpu = -1;
	s.count = 1;
	if ((rc = ctl_submit_parse(cmd, argc, argv, &s)) != 0) {
		rc = CTL_EXIT(rc);
		goto out;
	}
	rc = 1;
	if (s.file != NULL) {
		if (ctl_submit_file(s.file, &msgs, &n, &cause) != 0) {
			ctl_err_cause(cause);
			goto out;
		}
	} else if (s.raw != NULL || s.raw_file != NULL) {
		msgs = xcalloc(1, sizeof *msgs);
		if (s.raw != NULL) {
			msgs[0].value = xstrdup(s.raw);
			msgs[0].len = strlen(s.raw);
		} else if ((msgs[0].value = util_read_file(strcmp(s.raw_file, "-") == 0 ?
		    "/dev/stdin" : s.raw_file, CTL_FILE_MAX, &msgs[0].len, &cause)) == NULL) {
			free(msgs);
			msgs = NULL;
			ctl_err_cause(cause);
			goto out;
		}
		msgs[0].label = xstrdup("raw");
		n = 1;
	} else {
		ms = util_now_ms();
		ctl_submit_random(&r, sizeof r);
		msgs = xcalloc((size_t)s.count, sizeof *msgs);
		for (n = 0; n < (size_t)s.count; n++) {
			msgs[n].key = ctl_submit_id(&s, (long long)n, ms, r);
			msgs[n].label = xstrdup(msgs[n].key);
			msgs[n].value = ctl_submit_task(&s, msgs[n].key, &msgs[n].len);
		}
	}
	if (ctl_kafka_resolve(&cause) != 0 || ctl_submit_send(msgs, n, &cause) != 0) {
		ctl_err_cause(cause);
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
	CTL_R_JSON = 256, CTL_R_DLQ, CTL_R_COUNT, CTL_R_TIMEOUT, CTL_R_BEGINNING, CTL_R_END,
};

struct ctl_results {
	int follow;
	int json;
	int dlq;
	long long count;
	long long timeout_s;
	int from_end;
};

static int
ctl_results_parse(const struct ctl_cmd *cmd, int argc, char **argv, struct ctl_results *o)
{
	static const struct option longopts[] = {
		{ "follow", no_argument, NULL, 'f' },
		{ "json", no_argument, NULL, CTL_R_JSON },
		{ "dlq", no_argument, NULL, CTL_R_DLQ },
		{ "count", required_argument, NULL, CTL_R_COUNT },
		{ "timeout", required_argument, NULL, CTL_R_TIMEOUT },
		{ "from-beginning", no_argument, NULL, CTL_R_BEGINNING },
		{ "from-end", no_argument, NULL, CTL_R_END },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int ch, beginning = 0;

	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":fh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			return ctl_usage_help(cmd);
		case 'f':
			o->follow = 1;
			break;
		case CTL_R_JSON:
			o->json = 1;
			break;
		case CTL_R_DLQ:
			o->dlq = 1;
			break;
		case CTL_R_COUNT:
			if (ctl_flag_int(cmd, "--count", optarg, 1, INT32_MAX, &o->count) != 0)
				return 2;
			break;
		case CTL_R_TIMEOUT:
			if (ctl_flag_int(cmd, "--timeout", optarg, 1, INT32_MAX / 1000,
			    &o->timeout_s) != 0)
				return 2;
			break;
		case CTL_R_BEGINNING:
			beginning = 1;
			break;
		case CTL_R_END:
			o->from_end = 1;
			break;
		default:
			return ctl_flag_bad(cmd, ch, argv, optopt);
		}
	}
	if (optind < argc)
		return ctl_usage_err(cmd, "results: unexpected argument %s", argv[optind]);
	if (beginning && o->from_end)
		return ctl_usage_err(cmd, "results: --from-beginning or --from-end, not both");
	return 0;
}

/* Seconds between two RFC 3339 fields of timings, or -1. */
static int64_t
ctl_results_span(const cJSON *timings, const char *from, const char *to)
{
	int64_t a, b;

	if (ctl_time_parse(ctl_json_str(timings, from), &a) != 0 ||
	    ctl_time_parse(ctl_json_str(timings, to), &b) != 0 || b < a)
		return -1;
	return b - a;
}

static void
ctl_results_row(struct ctl_table *t, const rd_kafka_message_t *m, int dlq)
{
	const cJSON *gr;
	cJSON *r = cJSON_ParseWithLength(m->payload, m->len);
	char *key = NULL, dur[32];
	const char *id;
	double ms;
	int64_t span;

	if (m->key != NULL && m->key_len > 0) {
		key = xstrndup(m->key, m->key_len);
		id = key;
	} else
		id = "-";
	if (!cJSON_IsObject(r)) {
		if (dlq) {
			ctl_table_addf(t, "%d", (int)m->partition);
			ctl_table_addf(t, "%lld", (long long)m->offset);
			ctl_table_add(t, xstrdup("(not JSON)"));
			ctl_table_add(t, ctl_clean(id));
			ctl_table_add(t, xstrdup("-"));
		} else {
			ctl_table_add(t, ctl_clean(id));
			ctl_table_add(t, xstrdup("-"));
			ctl_table_add(t, xstrdup("(not JSON)"));
			ctl_table_add(t, xstrdup("-"));
			ctl_table_add(t, xstrdup("-"));
			ctl_table_add(t, xstrdup("-"));
		}
		goto out;
	}
	if (dlq) {
		/* Where the refused task was, not where its DLQ record is. */
		if (ctl_json_num(r, "partition", &ms) == 0)
			ctl_table_add(t, ctl_json_text(cJSON_GetObjectItemCaseSensitive(r,
			    "partition")));
		else
			ctl_table_addf(t, "%d", (int)m->partition);
		if (ctl_json_num(r, "offset", &ms) == 0)
			ctl_table_add(t, ctl_json_text(cJSON_GetObjectItemCaseSensitive(r, "offset")));
		else
			ctl_table_addf(t, "%lld", (long long)m->offset);
		ctl_table_add(t, ctl_json_text(cJSON_GetObjectItemCaseSensitive(r, "reason")));
		ctl_table_add(t, ctl_json_text(cJSON_GetObjectItemCaseSensitive(r, "task_id")));
		ctl_table_add(t, ctl_json_text(cJSON_GetObjectItemCaseSensitive(r, "detail")));
		goto out;
	}
	if (ctl_json_str(r, "task_id") != NULL)
		ctl_table_add(t, ctl_clean(ctl_json_str(r, "task_id")));
	else
		ctl_table_add(t, ctl_clean(id));
	ctl_table_add(t, ctl_json_text(cJSON_GetObjectItemCaseSensitive(r, "attempt")));
	ctl_table_add(t, ctl_json_text(cJSON_GetObjectItemCaseSensitive(r, "status")));
	gr = cJSON_GetObjectItemCaseSensitive(r, "game_result");
	ctl_table_add(t, ctl_json_text(cJSON_GetObjectItemCaseSensitive(gr, "score")));
	if (ctl_json_num(r, "duration_ms", &ms) == 0 && ms >= 0)
		ctl_table_add(t, xstrdup(ctl_duration_fmt((int64_t)ms, dur, sizeof dur)));
	else if ((span = ctl_results_span(cJSON_GetObjectItemCaseSensitive(r, "timings"),
	    "started", "finished")) >= 0)
		ctl_table_add(t, xstrdup(ctl_duration_fmt(span, dur, sizeof dur)));
	else
		ctl_table_add(t, xstrdup("-"));
	ctl_table_add(t, ctl_json_text(cJSON_GetObjectItemCaseSensitive(r, "video_url")));
out:
	cJSON_Delete(r);
	free(key);
}

int
ctl_cmd_results(const struct ctl_cmd *cmd, int argc, char **argv)
{
	static const char *const rheaders[] = {
		"TASK", "ATTEMPT", "STATUS", "SCORE", "DURATION", "VIDEO"
	};
	static const char *const dheaders[] = {
		"PARTITION", "OFFSET", "REASON", "TASK", "DETAIL"
	};
	static const size_t rwidth[] = { 24, 7, 9, 6, 8 }, dwidth[] = { 9, 8, 19, 24 };
	const struct rd_kafka_metadata *md = NULL;
	const struct rd_kafka_metadata_topic *mt;
	struct ctl_results o;
	struct ctl_table t;
	rd_kafka_t *rk = NULL;
	rd_kafka_topic_t *rkt = NULL;
	rd_kafka_queue_t *q = NULL;
	rd_kafka_message_t *m;
	rd_kafka_resp_err_t err;
	const char *topic;
	char *cause = NULL, hint[600], why[64] = "reached the end of every partition";
	unsigned char *eof = NULL;
	int32_t maxp = -1, started = 0;
	int64_t deadline = -1;
	long long n = 0;
	int rc, i, neof = 0, streaming;

	memset(&o, 0, sizeof o);
	memset(&t, 0, sizeof t);
	if ((rc = ctl_results_parse(cmd, argc, argv, &o)) != 0)
		return CTL_EXIT(rc);
	if (ctl_kafka_resolve(&cause) != 0)
		return ctl_err_cause(cause);
	topic = o.dlq ? ctl.dlq_topic : ctl.results_topic;
	if ((rk = ctl_kafka_new(RD_KAFKA_CONSUMER, 0, &cause)) == NULL)
		return ctl_err_cause(cause);
	rc = 1;
	rkt = rd_kafka_topic_new(rk, topic, NULL);
	err = rd_kafka_metadata(rk, 0, rkt, &md, CTL_METADATA_MS);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		rd_kafka_poll(rk, 0);	/* serve error_cb for the hint */
		ctl_err("cannot read the metadata of topic %s from %s: %s%s", topic, ctl.bootstrap,
		    rd_kafka_err2str(err), ctl_kafka_hint(hint, sizeof hint));
		md = NULL;
		goto out;
	}
	mt = md->topic_cnt == 1 ? &md->topics[0] : NULL;
	if (mt == NULL || mt->err != RD_KAFKA_RESP_ERR_NO_ERROR || mt->partition_cnt <= 0) {
		ctl_err("topic %s at %s: %s", topic, ctl.bootstrap, mt == NULL ? "not in metadata" :
		    mt->err != RD_KAFKA_RESP_ERR_NO_ERROR ? rd_kafka_err2str(mt->err) :
		    "no partitions");
		goto out;
	}
	for (i = 0; i < mt->partition_cnt; i++)
		if (mt->partitions[i].id > maxp)
			maxp = mt->partitions[i].id;
	eof = xcalloc((size_t)maxp + 1, 1);

	/* The simple consumer: assign partitions directly, no group at all. */
	q = rd_kafka_queue_new(rk);
	for (i = 0; i < mt->partition_cnt; i++) {
		if (rd_kafka_consume_start_queue(rkt, mt->partitions[i].id, o.from_end ?
		    RD_KAFKA_OFFSET_END : RD_KAFKA_OFFSET_BEGINNING, q) != 0) {
			ctl_err("cannot read topic %s partition %d: %s", topic,
			    (int)mt->partitions[i].id, rd_kafka_err2str(rd_kafka_last_error()));
			goto out;
		}
		started++;
	}

	/* --count waits for records as --follow does: show them as they come. */
	streaming = o.follow || o.count > 0;
	if (!o.json) {
		if (o.dlq)
			ctl_table_init(&t, nitems(dheaders), dheaders);
		else
			ctl_table_init(&t, nitems(rheaders), rheaders);
		if (streaming) {
			/* Rows come one by one: start wide so columns rarely shift. */
			for (i = 0; i < (int)t.ncols - 1; i++)
				if (t.width[i] < (o.dlq ? dwidth : rwidth)[i])
					t.width[i] = (o.dlq ? dwidth : rwidth)[i];
			ctl_table_flush(&t, stdout);
		}
	}
	if (streaming || o.timeout_s > 0)
		ctl_signals_catch();
	if (o.timeout_s > 0)
		deadline = util_mono_ms() + o.timeout_s * 1000;
	for (;;) {
		if (o.count > 0 && n >= o.count)
			break;
		if (ctl_interrupted) {
			snprintf(why, sizeof why, "interrupted");
			break;
		}
		if (deadline >= 0 && util_mono_ms() >= deadline) {
			snprintf(why, sizeof why, "timed out after %lld s", o.timeout_s);
			break;
		}
		rd_kafka_poll(rk, 0);
		if ((m = rd_kafka_consume_queue(q, 200)) == NULL)
			continue;
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			if (m->partition >= 0 && m->partition <= maxp && !eof[m->partition]) {
				eof[m->partition] = 1;
				neof++;
			}
			rd_kafka_message_destroy(m);
			/* --count waits for its records; only a plain read stops here. */
			if (!o.follow && o.count == 0 && neof >= mt->partition_cnt)
				break;
			continue;
		}
		if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
			ctl_err("%sreading topic %s partition %d: %s", streaming ? "warning: " : "",
			    topic, (int)m->partition, rd_kafka_message_errstr(m));
			rd_kafka_message_destroy(m);
			if (streaming)
				continue;
			goto out;
		}
		if (o.json) {
			fwrite(m->payload, 1, m->len, stdout);
			fputc('\n', stdout);
			if (streaming)
				fflush(stdout);
		} else {
			ctl_results_row(&t, m, o.dlq);
			if (streaming)
				ctl_table_flush(&t, stdout);
		}
		n++;
		rd_kafka_message_destroy(m);
	}
	if (!o.json && !streaming) {
		if (ctl_table_rows(&t) > 0)
			ctl_table_print(&t, stdout);
		else
			fprintf(stderr, "no records in topic %s\n", topic);
	}
	if (o.count > 0 && n < o.count) {
		fflush(stdout);
		ctl_err("read %lld of %lld records from topic %s (%s)", n, o.count, topic, why);
		goto out;
	}
	rc = 0;
out:
	for (i = 0; md != NULL && i < started; i++)
		rd_kafka_consume_stop(rkt, md->topics[0].partitions[i].id);
	if (q != NULL)
		rd_kafka_queue_destroy(q);
	if (md != NULL)
		rd_kafka_metadata_destroy(md);
	if (rkt != NULL)
		rd_kafka_topic_destroy(rkt);
	rd_kafka_destroy(rk);
	free(eof);
	if (t.ncols != 0)
		ctl_table_free(&t);
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
ctl_cmd_topics(const struct ctl_cmd *cmd, int argc, char **argv)
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
	rd_kafka_t *rk = NULL;
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
				return ctl_usage_err(cmd, "--partitions %s: expected T,R,D (three "
				    "positive counts: tasks, results, dead letters)", optarg);
			break;
		case 'r':
			if (ctl_flag_int(cmd, "--replication", optarg, 1, 100, &repl) != 0)
				return 2;
			break;
		case 'h':
			return ctl_usage_help(cmd);
		default:
			return ctl_flag_bad(cmd, ch, argv, optopt);
		}
	}
	if (optind != argc)
		return ctl_usage_err(cmd, "unexpected argument %s", argv[optind]);
	if (ctl_kafka_resolve(&cause) != 0)
		return ctl_err_cause(cause);
	names[0] = ctl.tasks_topic;
	names[1] = ctl.results_topic;
	names[2] = ctl.dlq_topic;
	if ((rk = ctl_kafka_new(RD_KAFKA_PRODUCER, 0, &cause)) == NULL)
		return ctl_err_cause(cause);
	err = rd_kafka_metadata(rk, 1, NULL, &md, 10000);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		ctl_kafka_hint(errstr, sizeof errstr);
		ctl_err("cannot read topics from %s: %s%s", ctl.bootstrap, rd_kafka_err2str(err),
		    errstr);
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
				ctl_err("topic %s: %s", names[j], errstr);
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
			ctl_err("creating topics at %s: %s", ctl.bootstrap,
			    ev != NULL ? rd_kafka_event_error_string(ev) : "no answer in 30 s");
			goto out;
		}
		res = rd_kafka_event_CreateTopics_result(ev);
		tr = rd_kafka_CreateTopics_result_topics(res, &ntr);
		for (k = 0; k < ntr; k++) {
			err = rd_kafka_topic_result_error(tr[k]);
			if (err != RD_KAFKA_RESP_ERR_NO_ERROR &&
			    err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
				ctl_err("creating topic %s: %s", rd_kafka_topic_result_name(tr[k]),
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
	rd_kafka_destroy(rk);
	return rc;
}
