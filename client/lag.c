/*
 * lag.c: a consumer group's position on one topic, read from the broker
 * alone, as Burrow and kafka-consumer-groups --describe do: it needs no
 * gateway running and sees every partition, not only one instance's.
 *
 * For each partition of the topic: the group's committed offset
 * (ListConsumerGroupOffsets), the log end as a read_committed consumer
 * sees it (the last stable offset, ListOffsets through
 * query_watermark_offsets on the read_committed handle of
 * client_kafka_new), the member that owns it (ListGroups and
 * DescribeGroups, the member's assignment decoded here),
 * and, where the log end is past the committed offset, the first record
 * a read_committed consumer would get from there: its timestamp is the
 * age of the oldest task waiting, and when there is none (only
 * transaction markers or aborted records: a requeue leaves a marker in
 * the tasks topic) the partition has no lag at all.
 *
 * It only reads: no group joined (the handle has none), no offset
 * committed, nothing produced. It does not judge health (paiactl does,
 * from these numbers) nor print. A call asks five questions in turn
 * (metadata, committed offsets, members, log ends, first records), each
 * bounded by its timeout, so it blocks for at most about five times it.
 */
#include "config.h"
#include "client.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static struct client_lag_part *
client_lag_find(struct client_lag *lag, int32_t partition)
{
	size_t i;

	for (i = 0; i < lag->nparts; i++)
		if (lag->parts[i].partition == partition)
			return &lag->parts[i];
	return NULL;
}

static void
client_lag_part_error(struct client_lag_part *p, const char *what, const char *why)
{
	char *s;

	xasprintf(&s, "%s%s%s: %s", p->error != NULL ? p->error : "", p->error != NULL ? "; " : "",
	    what, why);
	free(p->error);
	p->error = s;
}

/* The committed offsets of the group on every partition. */
static int
client_lag_committed(struct client_kafka *k, struct client_lag *lag, int timeout_ms,
    char **cause)
{
	rd_kafka_topic_partition_list_t *want = rd_kafka_topic_partition_list_new(
	    (int)lag->nparts);
	rd_kafka_ListConsumerGroupOffsets_t *req;
	const rd_kafka_ListConsumerGroupOffsets_result_t *res;
	const rd_kafka_topic_partition_list_t *got;
	const rd_kafka_group_result_t **groups;
	const rd_kafka_error_t *gerr;
	rd_kafka_AdminOptions_t *opts;
	rd_kafka_queue_t *q = rd_kafka_queue_new(k->rk);
	rd_kafka_event_t *ev;
	struct client_lag_part *p;
	char errstr[256];
	int64_t now;
	size_t i, n;
	int rc = -1;

	for (i = 0; i < lag->nparts; i++)
		rd_kafka_topic_partition_list_add(want, lag->topic, lag->parts[i].partition);
	req = rd_kafka_ListConsumerGroupOffsets_new(lag->group, want);
	opts = rd_kafka_AdminOptions_new(k->rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS);
	rd_kafka_AdminOptions_set_request_timeout(opts, timeout_ms, errstr, sizeof errstr);
	rd_kafka_ListConsumerGroupOffsets(k->rk, &req, 1, opts, q);
	ev = rd_kafka_queue_poll(q, timeout_ms + 1000);
	now = util_now_ms();
	if (ev == NULL || rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		xasprintf(cause, "cannot read the committed offsets of group %s at %s: %s",
		    lag->group, k->bootstrap, ev != NULL ? rd_kafka_event_error_string(ev) :
		    "no answer");
		goto out;
	}
	res = rd_kafka_event_ListConsumerGroupOffsets_result(ev);
	groups = rd_kafka_ListConsumerGroupOffsets_result_groups(res, &n);
	if (n != 1 || (gerr = rd_kafka_group_result_error(groups[0])) != NULL) {
		xasprintf(cause, "cannot read the committed offsets of group %s at %s: %s",
		    lag->group, k->bootstrap, n != 1 ? "no group in the answer" :
		    rd_kafka_error_string(gerr));
		goto out;
	}
	got = rd_kafka_group_result_partitions(groups[0]);
	for (i = 0; got != NULL && i < (size_t)got->cnt; i++) {
		const rd_kafka_topic_partition_t *tp = &got->elems[i];

		if (strcmp(tp->topic, lag->topic) != 0 ||
		    (p = client_lag_find(lag, tp->partition)) == NULL)
			continue;
		if (tp->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
			client_lag_part_error(p, "committed offset", rd_kafka_err2str(tp->err));
			continue;
		}
		p->committed = tp->offset >= 0 ? tp->offset : -1;
		p->committed_ms = now;
	}
	rc = 0;
out:
	if (ev != NULL)
		rd_kafka_event_destroy(ev);
	rd_kafka_AdminOptions_destroy(opts);
	rd_kafka_ListConsumerGroupOffsets_destroy(req);
	rd_kafka_topic_partition_list_destroy(want);
	rd_kafka_queue_destroy(q);
	return rc;
}

static char *
client_lag_strdup(const char *s)
{
	return s != NULL && *s != '\0' ? xstrdup(s) : NULL;
}

/* Big-endian readers over [*p, end): 0, or -1 when the bytes run out. */
static int
client_lag_i16(const unsigned char **p, const unsigned char *end, int *out)
{
	if (end - *p < 2)
		return -1;
	*out = (int16_t)((*p)[0] << 8 | (*p)[1]);
	*p += 2;
	return 0;
}

static int
client_lag_i32(const unsigned char **p, const unsigned char *end, int32_t *out)
{
	if (end - *p < 4)
		return -1;
	*out = (int32_t)((uint32_t)(*p)[0] << 24 | (uint32_t)(*p)[1] << 16 |
	    (uint32_t)(*p)[2] << 8 | (*p)[3]);
	*p += 4;
	return 0;
}

int
client_lag_assignment(const void *buf, size_t len, const char *topic,
    void (*cb)(int32_t partition, void *arg), void *arg)
{
	const unsigned char *p = buf, *end = p + len;
	int32_t ntopics, nparts, part = 0;
	int version, tlen, match;

	if (len == 0)
		return 0;	/* a member between rebalances: nothing assigned */
	if (client_lag_i16(&p, end, &version) != 0 || version < 0 ||
	    client_lag_i32(&p, end, &ntopics) != 0 || ntopics < 0)
		return -1;
	while (ntopics-- > 0) {
		if (client_lag_i16(&p, end, &tlen) != 0 || tlen < 0 || end - p < tlen)
			return -1;
		match = (size_t)tlen == strlen(topic) && memcmp(p, topic, (size_t)tlen) == 0;
		p += tlen;
		if (client_lag_i32(&p, end, &nparts) != 0 || nparts < 0 ||
		    end - p < (ptrdiff_t)nparts * 4)
			return -1;
		while (nparts-- > 0) {
			client_lag_i32(&p, end, &part);
			if (match)
				cb(part, arg);
		}
	}
	return 0;	/* user data after the partitions: not ours */
}

struct client_lag_own {
	struct client_lag *lag;
	const struct client_lag_owner *owner;
};

static void
client_lag_own_cb(int32_t partition, void *arg)
{
	struct client_lag_own *o = arg;
	struct client_lag_part *p;

	if ((p = client_lag_find(o->lag, partition)) != NULL)
		p->owner = o->owner;
}

/*
 * The group's state and members, and which member owns each partition,
 * through ListGroups and DescribeGroups (rd_kafka_list_groups: the
 * admin API's DescribeConsumerGroups of librdkafka 2.0.2 stops the
 * handle's main thread when the broker lacks DescribeGroups).
 */
static void
client_lag_members(struct client_kafka *k, struct client_lag *lag, int timeout_ms)
{
	const struct rd_kafka_group_list *gl = NULL;
	const struct rd_kafka_group_info *g = NULL;
	const struct rd_kafka_group_member_info *m;
	struct client_lag_owner *o;
	struct client_lag_own own;
	rd_kafka_resp_err_t err;
	int i;

	err = rd_kafka_list_groups(k->rk, lag->group, &gl, timeout_ms);
	for (i = 0; err == RD_KAFKA_RESP_ERR_NO_ERROR && i < gl->group_cnt; i++)
		if (strcmp(gl->groups[i].group, lag->group) == 0)
			g = &gl->groups[i];
	if (err == RD_KAFKA_RESP_ERR_NO_ERROR && g == NULL) {
		/* Every broker answered and none knows it: a group without members. */
		lag->group_state = xstrdup("Dead");
		lag->owners = xcalloc(1, sizeof *lag->owners);
		lag->members_known = 1;
		goto out;
	}
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR || g->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		xasprintf(&lag->group_error, "cannot describe group %s: %s", lag->group,
		    rd_kafka_err2str(err != RD_KAFKA_RESP_ERR_NO_ERROR ? err : g->err));
		goto out;
	}
	lag->group_state = xstrdup(g->state != NULL ? g->state : "Unknown");
	lag->nowners = g->member_cnt > 0 ? (size_t)g->member_cnt : 0;
	lag->owners = xcalloc(lag->nowners + 1, sizeof *lag->owners);
	for (i = 0; i < g->member_cnt; i++) {
		m = &g->members[i];
		o = &lag->owners[i];
		o->member_id = client_lag_strdup(m->member_id);
		o->client_id = client_lag_strdup(m->client_id);
		o->host = client_lag_strdup(m->client_host);
		own.lag = lag;
		own.owner = o;
		if (g->protocol_type != NULL && strcmp(g->protocol_type, "consumer") == 0 &&
		    m->member_assignment_size > 0 &&
		    client_lag_assignment(m->member_assignment, (size_t)m->member_assignment_size,
		    lag->topic, client_lag_own_cb, &own) != 0 && lag->group_error == NULL)
			xasprintf(&lag->group_error, "group %s: the assignment of member %s is "
			    "malformed", lag->group, m->member_id != NULL ? m->member_id : "?");
	}
	lag->members_known = 1;
out:
	if (gl != NULL)
		rd_kafka_group_list_destroy(gl);
}

/* Where a read_committed consumer of the group starts: committed, or the log start. */
static int64_t
client_lag_start(const struct client_lag_part *p)
{
	return p->committed >= 0 && p->committed >= p->log_start ? p->committed : p->log_start;
}

/*
 * For each partition with records past its start: read from there until
 * the first record (its timestamp), or the partition's end (none: only
 * markers or aborted records), or the deadline.
 */
static void
client_lag_first_records(struct client_kafka *k, struct client_lag *lag, int timeout_ms)
{
	rd_kafka_topic_conf_t *tc = rd_kafka_topic_conf_new();
	rd_kafka_topic_t *rkt;
	rd_kafka_queue_t *q = rd_kafka_queue_new(k->rk);
	rd_kafka_message_t *m;
	struct client_lag_part *p;
	char errstr[256];
	int64_t deadline;
	size_t i, waiting = 0;

	/* A committed offset below the log start is an error here, not a silent jump. */
	rd_kafka_topic_conf_set(tc, "auto.offset.reset", "error", errstr, sizeof errstr);
	rkt = rd_kafka_topic_new(k->rk, lag->topic, tc);
	for (i = 0; i < lag->nparts; i++) {
		p = &lag->parts[i];
		if (p->log_end < 0 || p->log_end <= client_lag_start(p))
			continue;
		if (rd_kafka_consume_start_queue(rkt, p->partition, client_lag_start(p), q) != 0) {
			client_lag_part_error(p, "first record waiting",
			    rd_kafka_err2str(rd_kafka_last_error()));
			continue;
		}
		p->probing = 1;
		waiting++;
	}
	deadline = util_mono_ms() + timeout_ms;
	while (waiting > 0 && util_mono_ms() < deadline) {
		rd_kafka_poll(k->rk, 0);
		if ((m = rd_kafka_consume_queue(q, 100)) == NULL)
			continue;
		p = client_lag_find(lag, m->partition);
		if (p == NULL || p->probing != 1) {
			rd_kafka_message_destroy(m);
			continue;
		}
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			/* Nothing a consumer would receive: markers, aborted records. */
			p->first_offset = p->log_end;
			p->oldest_ts = -1;
		} else if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
			client_lag_part_error(p, "first record waiting",
			    rd_kafka_message_errstr(m));
		} else {
			rd_kafka_timestamp_type_t tstype;

			p->first_offset = m->offset;
			p->oldest_ts = rd_kafka_message_timestamp(m, &tstype);
		}
		p->probing = 2;
		waiting--;
		rd_kafka_message_destroy(m);
	}
	for (i = 0; i < lag->nparts; i++) {
		p = &lag->parts[i];
		if (p->probing == 1)
			client_lag_part_error(p, "first record waiting", "no answer in time");
		if (p->probing != 0)
			rd_kafka_consume_stop(rkt, p->partition);
	}
	rd_kafka_queue_destroy(q);
	rd_kafka_topic_destroy(rkt);
}

int
client_lag_read(struct client_kafka *k, const char *group, const char *topic, int timeout_ms,
    struct client_lag *lag, char **cause)
{
	const struct rd_kafka_metadata *md = NULL;
	const struct rd_kafka_metadata_topic *mt;
	rd_kafka_topic_t *rkt;
	rd_kafka_resp_err_t err;
	struct client_lag_part *p;
	int64_t lo, hi, deadline, left;
	char hint[600];
	size_t i;

	memset(lag, 0, sizeof *lag);
	lag->group = xstrdup(group);
	lag->topic = xstrdup(topic);
	rkt = rd_kafka_topic_new(k->rk, topic, NULL);
	err = rd_kafka_metadata(k->rk, 0, rkt, &md, timeout_ms);
	rd_kafka_topic_destroy(rkt);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		rd_kafka_poll(k->rk, 0);	/* serve error_cb for the hint */
		xasprintf(cause, "cannot read the metadata of topic %s from %s: %s%s", topic,
		    k->bootstrap, rd_kafka_err2str(err), client_kafka_hint(k, hint, sizeof hint));
		return -1;
	}
	mt = md->topic_cnt == 1 ? &md->topics[0] : NULL;
	if (mt == NULL || mt->err != RD_KAFKA_RESP_ERR_NO_ERROR || mt->partition_cnt <= 0) {
		xasprintf(cause, "topic %s at %s: %s", topic, k->bootstrap, mt == NULL ?
		    "not in metadata" : mt->err != RD_KAFKA_RESP_ERR_NO_ERROR ?
		    rd_kafka_err2str(mt->err) : "no partitions");
		rd_kafka_metadata_destroy(md);
		return -1;
	}
	lag->nparts = (size_t)mt->partition_cnt;
	lag->parts = xcalloc(lag->nparts, sizeof *lag->parts);
	for (i = 0; i < lag->nparts; i++) {
		p = &lag->parts[i];
		p->partition = mt->partitions[i].id;
		p->committed = p->log_end = p->lag = p->oldest_ts = p->first_offset = -1;
		p->committed_ms = p->log_end_ms = -1;
	}
	rd_kafka_metadata_destroy(md);
	/* In partition order, as every view of a topic shows them. */
	for (i = 1; i < lag->nparts; i++) {
		struct client_lag_part tmp = lag->parts[i];
		size_t j = i;

		for (; j > 0 && lag->parts[j - 1].partition > tmp.partition; j--)
			lag->parts[j] = lag->parts[j - 1];
		lag->parts[j] = tmp;
	}

	if (client_lag_committed(k, lag, timeout_ms, cause) != 0)
		return -1;
	client_lag_members(k, lag, timeout_ms);
	/* One budget for all the partitions' log ends, however many. */
	deadline = util_mono_ms() + timeout_ms;
	for (i = 0; i < lag->nparts; i++) {
		p = &lag->parts[i];
		if ((left = deadline - util_mono_ms()) <= 0) {
			client_lag_part_error(p, "log end", "no answer in time");
			continue;
		}
		err = rd_kafka_query_watermark_offsets(k->rk, topic, p->partition, &lo, &hi,
		    (int)left);
		if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
			client_lag_part_error(p, "log end", rd_kafka_err2str(err));
			continue;
		}
		p->log_start = lo;
		p->log_end = hi;
		p->log_end_ms = util_now_ms();
	}
	client_lag_first_records(k, lag, timeout_ms);
	for (i = 0; i < lag->nparts; i++) {
		p = &lag->parts[i];
		if (p->log_end < 0)
			continue;
		if (p->log_end <= client_lag_start(p))
			p->lag = 0;
		else if (p->first_offset >= 0)
			p->lag = p->log_end > p->first_offset ? p->log_end - p->first_offset : 0;
		else
			p->lag = p->log_end - client_lag_start(p);
	}
	return 0;
}

void
client_lag_clear(struct client_lag *lag)
{
	size_t i;

	for (i = 0; i < lag->nparts; i++)
		free(lag->parts[i].error);
	for (i = 0; lag->owners != NULL && i < lag->nowners; i++) {
		free(lag->owners[i].member_id);
		free(lag->owners[i].client_id);
		free(lag->owners[i].host);
	}
	free(lag->owners);
	free(lag->parts);
	free(lag->group);
	free(lag->topic);
	free(lag->group_state);
	free(lag->group_error);
	memset(lag, 0, sizeof *lag);
}
