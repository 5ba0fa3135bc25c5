/*
 * kafka.c: a client's side of the gateway's Kafka, read only. A handle
 * configured like the gateway's (every kafka.* key of its config file:
 * SASL, TLS, ...) but never as the gateway: no group, no transaction, no
 * offsets committed, so a reader cannot steal work from or move the
 * position of the gateway or any other reader. A reader assigns every
 * partition of a topic directly with read_committed, as the Webservice
 * sees results. And the decoding of result v1 and dead-letter records
 * for display, in one place each until proto/ holds the contracts.
 *
 * It does not produce (paiactl's submit builds on the handle) nor print.
 */
#include "config.h"
#include "client.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define CLIENT_DELIVERY_MS 30000
#define CLIENT_METADATA_MS 10000
#define CLIENT_POLL_MS 200

struct client_reader {
	struct client_kafka *k;
	char *topic;
	rd_kafka_topic_t *rkt;
	rd_kafka_queue_t *q;
	const struct rd_kafka_metadata *md;
	int started;			/* partitions started, in metadata order */
	int32_t maxp;
	unsigned char *eof;		/* per partition id: its end was reported */
	int neof;
	int nparts;
	rd_kafka_message_t *last;	/* the record handed out last */
};

static void
client_kafka_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	struct client_kafka *k = opaque;

	snprintf(k->last_error, sizeof k->last_error, "%s", reason);
}

/* librdkafka's own log lines are for kafka.debug; errors come by error_cb. */
static void
client_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
}

const char *
client_kafka_hint(const struct client_kafka *k, char *buf, size_t len)
{
	if (k == NULL || k->last_error[0] == '\0')
		snprintf(buf, len, "%s", "");
	else
		snprintf(buf, len, " (last error: %s)", k->last_error);
	return buf;
}

static int
client_kafka_set(rd_kafka_conf_t *conf, const struct client_kafka_args *a, const char *key,
    const char *value, char **cause)
{
	char errstr[512];

	if (rd_kafka_conf_set(conf, key, value, errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
		xasprintf(cause, "%s%skafka.%s: %s", a->config_path != NULL ? a->config_path : "",
		    a->config_path != NULL ? ": " : "", key, errstr);
		return -1;
	}
	return 0;
}

struct client_kafka *
client_kafka_new(rd_kafka_type_t type, const struct client_kafka_args *a, char **cause)
{
	static const char *skip[] = {
		"bootstrap.servers", "group.id", "group.instance.id", "transactional.id",
		"enable.partition.eof", "isolation.level", "enable.auto.commit",
	};
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	struct client_kafka *k = xcalloc(1, sizeof *k);
	struct config_entry e;
	char errstr[512], max[32];
	int timeout_set = 0, max_set = 0, debug = 0, skipped;
	size_t i, n;

	k->delivery_ms = CLIENT_DELIVERY_MS;
	for (i = 0; a->conf != NULL && i < config_count(a->conf); i++) {
		e = config_at(a->conf, i);
		if (strcmp(e.section, "kafka") != 0)
			continue;
		for (skipped = 0, n = 0; n < nitems(skip) && !skipped; n++)
			skipped = strcmp(e.key, skip[n]) == 0;
		if (skipped)
			continue;
		if (client_kafka_set(conf, a, e.key, e.value, cause) != 0)
			goto fail;
		if (strcmp(e.key, "message.timeout.ms") == 0 ||
		    strcmp(e.key, "delivery.timeout.ms") == 0) {
			timeout_set = 1;
			if (util_parse_int(e.value, 0, INT32_MAX, &k->delivery_ms) != 0)
				k->delivery_ms = CLIENT_DELIVERY_MS;
		}
		if (strcmp(e.key, "debug") == 0)
			debug = 1;
		if (strcmp(e.key, "message.max.bytes") == 0)
			max_set = 1;
	}
	if (client_kafka_set(conf, a, "bootstrap.servers", a->bootstrap, cause) != 0 ||
	    client_kafka_set(conf, a, "client.id", a->client_id != NULL ? a->client_id :
	    "paia-client", cause) != 0)
		goto fail;
	if (type == RD_KAFKA_PRODUCER) {
		if (!timeout_set && client_kafka_set(conf, a, "message.timeout.ms", "30000",
		    cause) != 0)
			goto fail;
		/*
		 * Oversized tasks are how the gateway's too_large check is
		 * tested: let the broker, not the client, refuse them.
		 */
		snprintf(max, sizeof max, "%zu", a->biggest + 65536);
		if (!max_set && a->biggest + 65536 > 1000000 &&
		    client_kafka_set(conf, a, "message.max.bytes", max, cause) != 0)
			goto fail;
		if (a->dr_msg_cb != NULL)
			rd_kafka_conf_set_dr_msg_cb(conf, a->dr_msg_cb);
	} else {
		if (client_kafka_set(conf, a, "enable.partition.eof", "true", cause) != 0 ||
		    client_kafka_set(conf, a, "isolation.level", "read_committed", cause) != 0 ||
		    client_kafka_set(conf, a, "enable.auto.commit", "false", cause) != 0)
			goto fail;
	}
	rd_kafka_conf_set_opaque(conf, k);
	rd_kafka_conf_set_error_cb(conf, client_kafka_error_cb);
	if (!debug)
		rd_kafka_conf_set_log_cb(conf, client_kafka_log_cb);
	if ((k->rk = rd_kafka_new(type, conf, errstr, sizeof errstr)) == NULL) {
		xasprintf(cause, "cannot create a Kafka client for %s: %s", a->bootstrap, errstr);
		goto fail;
	}
	k->bootstrap = xstrdup(a->bootstrap);
	return k;
fail:
	rd_kafka_conf_destroy(conf);
	free(k);
	return NULL;
}

void
client_kafka_free(struct client_kafka *k)
{
	if (k == NULL)
		return;
	if (k->rk != NULL)
		rd_kafka_destroy(k->rk);
	free(k->bootstrap);
	free(k);
}

/* ---- the reader ---- */

struct client_reader *
client_reader_open(struct client_kafka *k, const char *topic, int from_end, char **cause)
{
	struct client_reader *rd = xcalloc(1, sizeof *rd);
	const struct rd_kafka_metadata_topic *mt;
	rd_kafka_resp_err_t err;
	char hint[600];
	int i;

	rd->k = k;
	rd->topic = xstrdup(topic);
	rd->maxp = -1;
	rd->rkt = rd_kafka_topic_new(k->rk, topic, NULL);
	err = rd_kafka_metadata(k->rk, 0, rd->rkt, &rd->md, CLIENT_METADATA_MS);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		rd_kafka_poll(k->rk, 0);	/* serve error_cb for the hint */
		xasprintf(cause, "cannot read the metadata of topic %s from %s: %s%s", topic,
		    k->bootstrap, rd_kafka_err2str(err), client_kafka_hint(k, hint, sizeof hint));
		rd->md = NULL;
		goto fail;
	}
	mt = rd->md->topic_cnt == 1 ? &rd->md->topics[0] : NULL;
	if (mt == NULL || mt->err != RD_KAFKA_RESP_ERR_NO_ERROR || mt->partition_cnt <= 0) {
		xasprintf(cause, "topic %s at %s: %s", topic, k->bootstrap, mt == NULL ?
		    "not in metadata" : mt->err != RD_KAFKA_RESP_ERR_NO_ERROR ?
		    rd_kafka_err2str(mt->err) : "no partitions");
		goto fail;
	}
	rd->nparts = mt->partition_cnt;
	for (i = 0; i < mt->partition_cnt; i++)
		if (mt->partitions[i].id > rd->maxp)
			rd->maxp = mt->partitions[i].id;
	rd->eof = xcalloc((size_t)rd->maxp + 1, 1);

	/* The simple consumer: assign partitions directly, no group at all. */
	rd->q = rd_kafka_queue_new(k->rk);
	for (i = 0; i < mt->partition_cnt; i++) {
		if (rd_kafka_consume_start_queue(rd->rkt, mt->partitions[i].id, from_end ?
		    RD_KAFKA_OFFSET_END : RD_KAFKA_OFFSET_BEGINNING, rd->q) != 0) {
			xasprintf(cause, "cannot read topic %s partition %d: %s", topic,
			    (int)mt->partitions[i].id, rd_kafka_err2str(rd_kafka_last_error()));
			goto fail;
		}
		rd->started++;
	}
	return rd;
fail:
	client_reader_close(rd);
	return NULL;
}

int
client_reader_poll(struct client_reader *rd, int timeout_ms, struct client_record *rec,
    char **cause)
{
	rd_kafka_message_t *m;
	rd_kafka_timestamp_type_t tstype;
	int64_t ts;

	if (rd->last != NULL) {
		rd_kafka_message_destroy(rd->last);
		rd->last = NULL;
	}
	rd_kafka_poll(rd->k->rk, 0);
	if ((m = rd_kafka_consume_queue(rd->q, timeout_ms)) == NULL)
		return 0;
	if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
		if (m->partition >= 0 && m->partition <= rd->maxp && !rd->eof[m->partition]) {
			rd->eof[m->partition] = 1;
			rd->neof++;
		}
		rd_kafka_message_destroy(m);
		return 0;
	}
	if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		xasprintf(cause, "reading topic %s partition %d: %s", rd->topic, (int)m->partition,
		    rd_kafka_message_errstr(m));
		rd_kafka_message_destroy(m);
		return -1;
	}
	ts = rd_kafka_message_timestamp(m, &tstype);
	rec->partition = m->partition;
	rec->offset = m->offset;
	rec->timestamp = tstype == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? -1 : ts;
	rec->key = m->key != NULL && m->key_len > 0 ? m->key : NULL;
	rec->key_len = rec->key != NULL ? m->key_len : 0;
	rec->value = m->payload;
	rec->len = m->len;
	rd->last = m;
	return 1;
}

int
client_reader_at_end(const struct client_reader *rd)
{
	return rd->neof >= rd->nparts;
}

void
client_reader_close(struct client_reader *rd)
{
	int i;

	if (rd == NULL)
		return;
	if (rd->last != NULL)
		rd_kafka_message_destroy(rd->last);
	for (i = 0; rd->md != NULL && i < rd->started; i++)
		rd_kafka_consume_stop(rd->rkt, rd->md->topics[0].partitions[i].id);
	if (rd->q != NULL)
		rd_kafka_queue_destroy(rd->q);
	if (rd->md != NULL)
		rd_kafka_metadata_destroy(rd->md);
	if (rd->rkt != NULL)
		rd_kafka_topic_destroy(rd->rkt);
	free(rd->eof);
	free(rd->topic);
	free(rd);
}

int
client_reader_run(struct client_reader *rd, const struct client_read_args *a, long long *n,
    char *why, size_t whylen, char **cause)
{
	struct client_record rec;
	int streaming = a->follow || a->count > 0, r;
	int64_t deadline = a->timeout_s > 0 ? util_mono_ms() + a->timeout_s * 1000 : -1;
	char *warning = NULL;

	*n = 0;
	snprintf(why, whylen, "reached the end of every partition");
	for (;;) {
		if (a->count > 0 && *n >= a->count)
			break;
		if (a->stop != NULL && *a->stop) {
			snprintf(why, whylen, "interrupted");
			break;
		}
		if (deadline >= 0 && util_mono_ms() >= deadline) {
			snprintf(why, whylen, "timed out after %lld s", a->timeout_s);
			break;
		}
		if ((r = client_reader_poll(rd, CLIENT_POLL_MS, &rec, &warning)) == 0) {
			/* A count waits for its records; only a plain read stops here. */
			if (!a->follow && a->count == 0 && client_reader_at_end(rd))
				break;
			continue;
		}
		if (r < 0) {
			if (!streaming) {
				*cause = warning;
				return -1;
			}
			if (a->on_warning != NULL)
				a->on_warning(warning, a->arg);
			free(warning);
			warning = NULL;
			continue;
		}
		a->on_record(&rec, a->arg);
		(*n)++;
	}
	return 0;
}

/* ---- records for display ---- */

/* Milliseconds between two RFC 3339 fields of timings, or -1. */
static int64_t
client_result_span(const cJSON *timings, const char *from, const char *to)
{
	int64_t a, b;

	if (client_text_time_parse(client_json_str(timings, from), &a) != 0 ||
	    client_text_time_parse(client_json_str(timings, to), &b) != 0 || b < a)
		return -1;
	return b - a;
}

int
client_result_decode(const char *value, size_t len, struct client_result *r)
{
	double ms;

	memset(r, 0, sizeof *r);
	r->duration_ms = -1;
	r->root = cJSON_ParseWithLength(value, len);
	if (!cJSON_IsObject(r->root)) {
		cJSON_Delete(r->root);
		r->root = NULL;
		return -1;
	}
	r->task_id = client_json_str(r->root, "task_id");
	r->attempt = cJSON_GetObjectItemCaseSensitive(r->root, "attempt");
	r->status = cJSON_GetObjectItemCaseSensitive(r->root, "status");
	r->score = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r->root,
	    "game_result"), "score");
	r->video_url = cJSON_GetObjectItemCaseSensitive(r->root, "video_url");
	if (client_json_num(r->root, "duration_ms", &ms) == 0 && ms >= 0)
		r->duration_ms = (int64_t)ms;
	else
		r->duration_ms = client_result_span(cJSON_GetObjectItemCaseSensitive(r->root,
		    "timings"), "started", "finished");
	return 0;
}

int
client_dlq_decode(const char *value, size_t len, struct client_dlq *d)
{
	const cJSON *j;

	memset(d, 0, sizeof *d);
	d->root = cJSON_ParseWithLength(value, len);
	if (!cJSON_IsObject(d->root)) {
		cJSON_Delete(d->root);
		d->root = NULL;
		return -1;
	}
	j = cJSON_GetObjectItemCaseSensitive(d->root, "partition");
	d->partition = cJSON_IsNumber(j) ? j : NULL;
	j = cJSON_GetObjectItemCaseSensitive(d->root, "offset");
	d->offset = cJSON_IsNumber(j) ? j : NULL;
	d->reason = cJSON_GetObjectItemCaseSensitive(d->root, "reason");
	d->task_id = cJSON_GetObjectItemCaseSensitive(d->root, "task_id");
	d->detail = cJSON_GetObjectItemCaseSensitive(d->root, "detail");
	return 0;
}
