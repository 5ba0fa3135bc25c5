/*
 * intake.c: the consumer of the tasks topic. Consumer group, no auto
 * commit (offsets go through the committer's transactions),
 * read_committed.
 *
 * Two queues, both woken through rd_kafka_queue_io_event_enable (a byte
 * on one pipe when a queue goes from empty to non-empty), so each wakeup
 * drains them (in slices, rescheduling itself, to stay fair to the rest
 * of the loop):
 *
 *   - the consumer queue: rebalances, errors. Served at every wakeup and
 *     every second, whatever else happens, so the group never sees this
 *     member stop polling (max.poll.interval.ms) and a rebalance is never
 *     kept waiting;
 *   - the message queue: every assigned partition's fetch queue is
 *     forwarded to it (rd_kafka_queue_forward, before the partition is
 *     assigned). It is drained only while the caller has room
 *     (intake_set_paused, "held" here).
 *
 * Backpressure is therefore not a pause: while held, what librdkafka
 * fetched stays in its queue, and its fetcher stops by itself when the
 * queue holds queued.max.messages.kbytes (1 MiB by default here) or
 * queued.min.messages. Pausing a partition would throw that away and
 * cost a fetch round trip at the log end (fetch.wait.max.ms, or the
 * broker thread's 1 s wakeup) before the same messages came back: the
 * 500 ms stall at every "full" that capped the gateway at ~96 tasks/s.
 * The only real pause left is one partition's, when its commit
 * metadata would outgrow the broker's cap (intake_set_capped).
 *
 * Rebalances run inside rd_kafka_consumer_poll, in the loop. Intake
 * does not decide what they mean (librdkafka's rebalance_cb pattern): it
 * reads each assigned partition's committed offset and metadata and
 * hands them to its caller's assigned callback before fetching starts;
 * on revoke the caller's revoked callback runs before the partitions
 * go; messages of a revoked partition still queued are outdated for
 * librdkafka (its version barrier) and never delivered. Messages go to
 * the message callback; a fatal consumer error to the fatal one.
 */
#include "config.h"
#include "gateway.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <librdkafka/rdkafka.h>

#define INTAKE_SLICE 256

struct intake {
	struct intake_cbs cbs;
	void *arg;
	char *topic;
	rd_kafka_t *rk;
	rd_kafka_queue_t *queue;	/* the consumer queue: rebalances, errors */
	rd_kafka_queue_t *msgq;		/* every assigned partition's messages */
	int pipefd[2];
	struct event *ev;
	struct event *tick;
	rd_kafka_topic_partition_list_t *assigned;
	int held;		/* no room (max_inflight, draining): msgq not drained */
	int32_t *capped;	/* partitions paused for their metadata size */
	size_t ncapped;
	int closed;
	int has_assignment;	/* the group's current generation gave us ours (maybe none) */
};

static void
intake_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	kafka_log("consumer", level, fac, buf);
}

static void
intake_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	struct intake *in = opaque;
	char *key;

	/*
	 * A broker that cannot be reached is in librdkafka's log line of
	 * the same moment already (facility FAIL or ERROR): once is enough.
	 */
	if (err == RD_KAFKA_RESP_ERR__TRANSPORT || err == RD_KAFKA_RESP_ERR__RESOLVE ||
	    err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
		log_debug("kafka consumer error", "error=%s", log_q(reason));
	else {
		key = kafka_log_key(reason);
		log_limited(LOG_LEVEL_WARN, key, "kafka consumer error", "error=%s", log_q(reason));
		free(key);
	}
	if (rd_kafka_fatal_error(rk, NULL, 0) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		log_error("kafka consumer fatal error, stopping", "error=%s", log_q(reason));
		in->cbs.fatal(reason, in->arg);
	}
}

static int
intake_is_capped(const struct intake *in, int32_t partition)
{
	size_t i;

	for (i = 0; i < in->ncapped; i++)
		if (in->capped[i] == partition)
			return 1;
	return 0;
}

static void
intake_apply_pause(struct intake *in, int32_t partition, int pause)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);

	rd_kafka_topic_partition_list_add(l, in->topic, partition);
	if (pause)
		rd_kafka_pause_partitions(in->rk, l);
	else
		rd_kafka_resume_partitions(in->rk, l);
	rd_kafka_topic_partition_list_destroy(l);
}

int
intake_paused(const struct intake *in, int32_t partition)
{
	return in->held || intake_is_capped(in, partition);
}

void
intake_set_paused(struct intake *in, int paused)
{
	if (in->closed || paused == in->held)
		return;
	in->held = paused;
	log_debug(paused ? "intake held" : "intake resumed", "topic=%s", log_q(in->topic));
	/* What waits in the message queue raises no new wakeup: drain it now. */
	if (!paused)
		event_active(in->ev, EV_READ, 0);
}

int
intake_set_capped(struct intake *in, int32_t p, int cap)
{
	size_t j;
	int capped = intake_is_capped(in, p);

	if (in->closed || cap == capped)
		return 0;
	if (cap) {
		in->capped = xreallocarray(in->capped, in->ncapped + 1, sizeof *in->capped);
		in->capped[in->ncapped++] = p;
	} else {
		for (j = 0; j < in->ncapped; j++)
			if (in->capped[j] == p)
				in->capped[j] = in->capped[--in->ncapped];
	}
	intake_apply_pause(in, p, cap);
	return 1;
}

size_t
intake_assigned(const struct intake *in, int32_t **out)
{
	size_t i, n = in->assigned != NULL ? (size_t)in->assigned->cnt : 0;

	*out = xcalloc(n + 1, sizeof **out);
	for (i = 0; i < n; i++)
		(*out)[i] = in->assigned->elems[i].partition;
	return n;
}

static void
intake_assign(struct intake *in, rd_kafka_topic_partition_list_t *parts)
{
	struct intake_assignment *as;
	rd_kafka_resp_err_t err;
	int i;

	/* Where each partition stands: committed offset and done set. */
	err = rd_kafka_committed(in->rk, parts, 10000);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
		log_warn("cannot read committed offsets; starting from the reset policy",
		    "error=%s", log_q(rd_kafka_err2str(err)));
	as = xcalloc((size_t)parts->cnt + 1, sizeof *as);
	for (i = 0; i < parts->cnt; i++) {
		rd_kafka_topic_partition_t *tp = &parts->elems[i];

		as[i].partition = tp->partition;
		as[i].committed = err == RD_KAFKA_RESP_ERR_NO_ERROR && tp->offset >= 0 ?
		    tp->offset : -1;
		as[i].metadata = tp->metadata;
		as[i].metadata_len = tp->metadata_size;
	}
	in->cbs.assigned(as, (size_t)parts->cnt, in->arg);
	free(as);
	/*
	 * Their messages go to the message queue, set before the assignment
	 * starts fetching (librdkafka then leaves an application's forward
	 * alone).
	 */
	for (i = 0; i < parts->cnt; i++) {
		rd_kafka_queue_t *pq = rd_kafka_queue_get_partition(in->rk, parts->elems[i].topic,
		    parts->elems[i].partition);
		if (pq == NULL)
			continue;
		rd_kafka_queue_forward(pq, in->msgq);
		rd_kafka_queue_destroy(pq);
	}
	if (in->assigned != NULL)
		rd_kafka_topic_partition_list_destroy(in->assigned);
	in->assigned = rd_kafka_topic_partition_list_copy(parts);
	in->ncapped = 0;
	in->has_assignment = 1;
	rd_kafka_assign(in->rk, parts);
	/*
	 * Resume each partition outright: librdkafka keeps a partition's
	 * pause flag across unassign and assign, so a partition capped when
	 * it was revoked would otherwise come back paused, and never be
	 * fetched again.
	 */
	rd_kafka_resume_partitions(in->rk, parts);
	if (in->cbs.settled != NULL)
		in->cbs.settled(in->arg);
}

static void
intake_revoke(struct intake *in, rd_kafka_topic_partition_list_t *parts)
{
	int32_t *ps = xcalloc((size_t)parts->cnt + 1, sizeof *ps);
	int i;

	for (i = 0; i < parts->cnt; i++) {
		log_info("partition revoked", "topic=%s partition=%d", log_q(parts->elems[i].topic),
		    (int)parts->elems[i].partition);
		ps[i] = parts->elems[i].partition;
	}
	in->cbs.revoked(ps, (size_t)parts->cnt, in->arg);
	free(ps);
	if (in->assigned != NULL)
		rd_kafka_topic_partition_list_destroy(in->assigned);
	in->assigned = NULL;
	in->ncapped = 0;
	in->has_assignment = 0;
	rd_kafka_assign(in->rk, NULL);
}

static void
intake_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
    rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	struct intake *in = opaque;

	switch (err) {
	case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
		intake_assign(in, parts);
		break;
	case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
		intake_revoke(in, parts);
		break;
	default:
		log_error("rebalance failed", "error=%s", log_q(rd_kafka_err2str(err)));
		intake_revoke(in, parts);
		break;
	}
}

/* Hand over one message, or log its error. */
static void
intake_deliver(struct intake *in, rd_kafka_message_t *m)
{
	if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
		/* nothing */
	} else if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		log_warn("consume error", "topic=%s partition=%d error=%s",
		    log_q(m->rkt != NULL ? rd_kafka_topic_name(m->rkt) : "-"), (int)m->partition,
		    log_q(rd_kafka_message_errstr(m)));
	} else
		in->cbs.message(m->partition, m->offset, m->payload, m->len, in->arg);
	rd_kafka_message_destroy(m);
}

static void
intake_drain(struct intake *in)
{
	rd_kafka_message_t *m;
	int n, more = 0;

	/*
	 * The consumer queue first, always (rebalances, errors; the poll is
	 * what max.poll.interval.ms watches). A message there came before
	 * its partition's forward took hold: it is handed over all the same.
	 */
	for (n = 0; n < INTAKE_SLICE && !in->closed; n++) {
		if ((m = rd_kafka_consumer_poll(in->rk, 0)) == NULL)
			break;
		intake_deliver(in, m);
	}
	more = n == INTAKE_SLICE;
	/* Messages only while there is room (the callback may take it). */
	for (n = 0; n < INTAKE_SLICE && !in->closed && !in->held; n++) {
		if ((m = rd_kafka_consume_queue(in->msgq, 0)) == NULL)
			break;
		intake_deliver(in, m);
	}
	more |= n == INTAKE_SLICE;
	/* More may be queued: come back after other events had a turn. */
	if (more && !in->closed)
		event_active(in->ev, EV_READ, 0);
}

static void
intake_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct intake *in = arg;
	char buf[64];

	while (read(in->pipefd[0], buf, sizeof buf) > 0)
		;
	intake_drain(in);
}

/* The wakeup is edge-triggered; a slow tick guards against a lost edge. */
static void
intake_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	intake_drain(arg);
}

struct intake *
intake_start(struct event_base *base, const struct config *conf, const char *topic,
    const char *group, const struct intake_cbs *cbs, void *arg, char **cause)
{
	struct intake *in;
	rd_kafka_conf_t *kc = rd_kafka_conf_new();
	rd_kafka_topic_partition_list_t *sub;
	rd_kafka_resp_err_t err;
	char errstr[512];
	struct timeval tv = { 1, 0 };
	size_t i;
	static const char *defaults[][2] = {
		{ "auto.offset.reset", "earliest" },
		{ "queued.max.messages.kbytes", "1024" },
		{ "queued.min.messages", "10000" },
	};
	static const char *forced[][2] = {
		{ "enable.auto.commit", "false" },
		{ "enable.auto.offset.store", "false" },
		{ "isolation.level", "read_committed" },
		{ "enable.partition.eof", "false" },
	};

	/* Defaults the file may override: the prefetch a held intake keeps is small. */
	for (i = 0; i < nitems(defaults); i++)
		if (rd_kafka_conf_set(kc, defaults[i][0], defaults[i][1], errstr, sizeof errstr) !=
		    RD_KAFKA_CONF_OK)
			fatalx("%s: %s", defaults[i][0], errstr);
	for (i = 0; i < config_count(conf); i++) {
		struct config_entry e = config_at(conf, i);
		if (strcmp(e.section, "kafka") != 0 || strcmp(e.key, "transactional.id") == 0)
			continue;
		if (strcmp(e.key, "linger.ms") == 0 || strcmp(e.key, "acks") == 0 ||
		    strcmp(e.key, "compression.type") == 0 || strcmp(e.key, "enable.idempotence") == 0)
			continue;
		if (rd_kafka_conf_set(kc, e.key, e.value, errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
			xasprintf(cause, "kafka.%s: %s", e.key, errstr);
			rd_kafka_conf_destroy(kc);
			return NULL;
		}
	}
	for (i = 0; i < nitems(forced); i++)
		rd_kafka_conf_set(kc, forced[i][0], forced[i][1], errstr, sizeof errstr);
	if (rd_kafka_conf_set(kc, "group.id", group, errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
		xasprintf(cause, "group.id: %s", errstr);
		rd_kafka_conf_destroy(kc);
		return NULL;
	}
	in = xcalloc(1, sizeof *in);
	in->cbs = *cbs;
	in->arg = arg;
	in->topic = xstrdup(topic);
	rd_kafka_conf_set_opaque(kc, in);
	rd_kafka_conf_set_rebalance_cb(kc, intake_rebalance_cb);
	rd_kafka_conf_set_log_cb(kc, intake_log_cb);
	rd_kafka_conf_set_error_cb(kc, intake_error_cb);
	if ((in->rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, errstr, sizeof errstr)) == NULL) {
		xasprintf(cause, "creating the consumer: %s", errstr);
		rd_kafka_conf_destroy(kc);
		free(in->topic);
		free(in);
		return NULL;
	}
	rd_kafka_poll_set_consumer(in->rk);
	in->queue = rd_kafka_queue_get_consumer(in->rk);
	if (pipe2(in->pipefd, O_NONBLOCK | O_CLOEXEC) != 0)
		fatalx("pipe: %s", strerror(errno));
	rd_kafka_queue_io_event_enable(in->queue, in->pipefd[1], "1", 1);
	in->msgq = rd_kafka_queue_new(in->rk);
	rd_kafka_queue_io_event_enable(in->msgq, in->pipefd[1], "1", 1);
	in->ev = event_new(base, in->pipefd[0], EV_READ | EV_PERSIST, intake_event_cb, in);
	event_add(in->ev, NULL);
	in->tick = event_new(base, -1, EV_PERSIST, intake_tick_cb, in);
	event_add(in->tick, &tv);

	sub = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(sub, topic, RD_KAFKA_PARTITION_UA);
	err = rd_kafka_subscribe(in->rk, sub);
	rd_kafka_topic_partition_list_destroy(sub);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		xasprintf(cause, "subscribing to %s: %s", topic, rd_kafka_err2str(err));
		intake_stop(in);
		return NULL;
	}
	log_info("intake started", "topic=%s group=%s", log_q(topic), log_q(group));
	return in;
}

int
intake_has_assignment(const struct intake *in)
{
	return in->has_assignment;
}

void *
intake_handle(struct intake *in)
{
	return in->rk;
}

void *
intake_group_metadata(struct intake *in)
{
	return rd_kafka_consumer_group_metadata(in->rk);
}

int64_t
intake_high(struct intake *in, int32_t partition)
{
	int64_t low = -1, high = -1;

	if (rd_kafka_get_watermark_offsets(in->rk, in->topic, partition, &low, &high) !=
	    RD_KAFKA_RESP_ERR_NO_ERROR)
		return -1;
	return high;
}

int64_t
intake_position(struct intake *in, int32_t partition)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	int64_t pos = -1;

	rd_kafka_topic_partition_list_add(l, in->topic, partition);
	if (rd_kafka_position(in->rk, l) == RD_KAFKA_RESP_ERR_NO_ERROR && l->elems[0].offset >= 0)
		pos = l->elems[0].offset;
	rd_kafka_topic_partition_list_destroy(l);
	return pos;
}

void
intake_stop(struct intake *in)
{
	if (in == NULL)
		return;
	in->closed = 1;
	event_free(in->ev);
	event_free(in->tick);
	/* Leaves the group; the rebalance callback may run (revoke). */
	rd_kafka_consumer_close(in->rk);
	rd_kafka_queue_destroy(in->queue);
	rd_kafka_queue_destroy(in->msgq);
	rd_kafka_destroy(in->rk);
	close(in->pipefd[0]);
	close(in->pipefd[1]);
	if (in->assigned != NULL)
		rd_kafka_topic_partition_list_destroy(in->assigned);
	free(in->capped);
	free(in->topic);
	free(in);
}
