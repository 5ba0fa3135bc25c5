/*
 * intake.c: the consumer of the tasks topic. Consumer group, no auto
 * commit (offsets go through the committer's transactions),
 * read_committed. librdkafka wakes the loop through
 * rd_kafka_queue_io_event_enable on the consumer queue: a byte on a
 * pipe whenever the queue goes from empty to non-empty, so each wakeup
 * drains the queue (in slices, rescheduling itself, to stay fair to the
 * rest of the loop).
 *
 * Rebalances run inside rd_kafka_consumer_poll, in the loop: on assign
 * the committed offsets and their metadata restore the ledger before
 * fetching starts; on revoke the partition's tasks are abandoned to
 * the new owner.
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
	rd_kafka_t *rk;
	rd_kafka_queue_t *queue;
	int pipefd[2];
	struct event *ev;
	struct event *tick;
	rd_kafka_topic_partition_list_t *assigned;
	int all_paused;		/* max_inflight / draining */
	int32_t *capped;	/* partitions paused for their metadata size */
	size_t ncapped;
	int closed;
};

static void
intake_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	log_msg(level <= 3 ? LOG_LEVEL_ERROR : level <= 4 ? LOG_LEVEL_WARN :
	    level <= 6 ? LOG_LEVEL_INFO : LOG_LEVEL_DEBUG, buf, "component=consumer facility=%s", fac);
}

static void
intake_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	log_warn("kafka consumer error", "error=%s", log_q(reason));
	if (rd_kafka_fatal_error(rk, NULL, 0) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		log_error("kafka consumer fatal error, stopping", "error=%s", log_q(reason));
		task_drain(1);
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

	rd_kafka_topic_partition_list_add(l, gw->tasks_topic, partition);
	if (pause)
		rd_kafka_pause_partitions(in->rk, l);
	else
		rd_kafka_resume_partitions(in->rk, l);
	rd_kafka_topic_partition_list_destroy(l);
}

int
intake_paused(const struct intake *in, int32_t partition)
{
	return in->all_paused || intake_is_capped(in, partition);
}

void
intake_set_paused(struct intake *in, int paused)
{
	int i;

	if (in->closed || paused == in->all_paused)
		return;
	in->all_paused = paused;
	log_debug(paused ? "intake paused" : "intake resumed", "inflight=%zu", gw->nactive);
	if (in->assigned == NULL)
		return;
	for (i = 0; i < in->assigned->cnt; i++) {
		int32_t p = in->assigned->elems[i].partition;
		if (!paused && intake_is_capped(in, p))
			continue;
		intake_apply_pause(in, p, paused);
	}
}

void
intake_update_pauses(struct intake *in)
{
	int i;
	size_t j;

	if (in->closed || in->assigned == NULL)
		return;
	for (i = 0; i < in->assigned->cnt; i++) {
		int32_t p = in->assigned->elems[i].partition;
		int near = ledger_near_cap(gw->ledger, p, LEDGER_METADATA_MAX);
		int capped = intake_is_capped(in, p);

		if (near && !capped) {
			log_warn("partition paused: its commit metadata would outgrow the broker's cap "
			    "(too many offsets pending behind its oldest unfinished task)", "partition=%d commit=%" PRId64 " pending=%zu",
			    (int)p, ledger_commit_point(gw->ledger, p), ledger_pending(gw->ledger, p));
			in->capped = xreallocarray(in->capped, in->ncapped + 1, sizeof *in->capped);
			in->capped[in->ncapped++] = p;
			if (!in->all_paused)
				intake_apply_pause(in, p, 1);
		} else if (!near && capped) {
			for (j = 0; j < in->ncapped; j++)
				if (in->capped[j] == p)
					in->capped[j] = in->capped[--in->ncapped];
			log_info("partition resumed", "partition=%d", (int)p);
			if (!in->all_paused)
				intake_apply_pause(in, p, 0);
		}
	}
}

static void
intake_assign(struct intake *in, rd_kafka_topic_partition_list_t *parts)
{
	rd_kafka_resp_err_t err;
	char *cause = NULL;
	int i;

	/* Where each partition stands: committed offset and done set. */
	err = rd_kafka_committed(in->rk, parts, 10000);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
		log_warn("cannot read committed offsets; starting from the reset policy",
		    "error=%s", log_q(rd_kafka_err2str(err)));
	for (i = 0; i < parts->cnt; i++) {
		rd_kafka_topic_partition_t *tp = &parts->elems[i];
		int64_t off = err == RD_KAFKA_RESP_ERR_NO_ERROR && tp->offset >= 0 ? tp->offset : -1;

		if (ledger_restore(gw->ledger, tp->partition, off, tp->metadata, tp->metadata_size,
		    &cause) != 0) {
			log_warn("commit metadata ignored", "partition=%d error=%s", (int)tp->partition,
			    log_q(cause));
			free(cause);
			cause = NULL;
		}
		health_assigned(gw->health, tp->partition, off);
		log_info("partition assigned", "topic=%s partition=%d committed=%" PRId64
		    " resume_after=%" PRId64, tp->topic, (int)tp->partition, off,
		    ledger_next(gw->ledger, tp->partition));
	}
	if (in->assigned != NULL)
		rd_kafka_topic_partition_list_destroy(in->assigned);
	in->assigned = rd_kafka_topic_partition_list_copy(parts);
	rd_kafka_assign(in->rk, parts);
	/*
	 * Set each partition's pause state outright: librdkafka keeps a
	 * partition's pause flag across unassign and assign, so a partition
	 * paused when it was revoked would otherwise come back paused while
	 * intake is running, and never be fetched again.
	 */
	if (in->all_paused)
		rd_kafka_pause_partitions(in->rk, parts);
	else
		rd_kafka_resume_partitions(in->rk, parts);
	intake_update_pauses(in);
}

static void
intake_revoke(struct intake *in, rd_kafka_topic_partition_list_t *parts)
{
	int i, timeout_ms = (int)config_get_int(gw->conf, "gateway", "revoke_commit_timeout_ms");
	int64_t t0 = util_now_ms();

	/*
	 * What is done commits now, while this instance's generation is
	 * still valid: the new owner then reads it (the broker holds its
	 * offset fetch until our transaction ends) instead of running those
	 * tasks again after our late commit is refused.
	 */
	gw->revoking = 1;
	task_flush();
	if (gw->committer != NULL && committer_inflight(gw->committer) > 0) {
		if (committer_sync(gw->committer, timeout_ms) != 0)
			log_warn("revoke: transactions still open after the timeout; the new owner may "
			    "run their tasks again (results stay exactly once)", "timeout_ms=%d",
			    timeout_ms);
		else
			log_info("revoke: done tasks committed before handing over",
			    "wait_ms=%" PRId64, util_now_ms() - t0);
	}
	for (i = 0; i < parts->cnt; i++) {
		log_info("partition revoked", "topic=%s partition=%d", parts->elems[i].topic,
		    (int)parts->elems[i].partition);
		task_revoke_partition(parts->elems[i].partition);
		health_revoked(gw->health, parts->elems[i].partition);
	}
	gw->revoking = 0;
	task_kick();
	if (in->assigned != NULL)
		rd_kafka_topic_partition_list_destroy(in->assigned);
	in->assigned = NULL;
	in->ncapped = 0;
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

static void
intake_drain(struct intake *in)
{
	rd_kafka_message_t *m;
	int n;

	for (n = 0; n < INTAKE_SLICE && !in->closed; n++) {
		if ((m = rd_kafka_consumer_poll(in->rk, 0)) == NULL)
			return;
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			/* nothing */
		} else if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
			log_warn("consume error", "topic=%s partition=%d error=%s",
			    m->rkt != NULL ? rd_kafka_topic_name(m->rkt) : "-", (int)m->partition,
			    log_q(rd_kafka_message_errstr(m)));
		} else
			task_receive(m->partition, m->offset, m->payload, m->len);
		rd_kafka_message_destroy(m);
	}
	/* More may be queued: come back after other events had a turn. */
	if (!in->closed)
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
intake_start(char **cause)
{
	struct intake *in;
	rd_kafka_conf_t *kc = rd_kafka_conf_new();
	rd_kafka_topic_partition_list_t *sub;
	rd_kafka_resp_err_t err;
	char errstr[512];
	struct timeval tv = { 1, 0 };
	size_t i;
	static const char *forced[][2] = {
		{ "enable.auto.commit", "false" },
		{ "enable.auto.offset.store", "false" },
		{ "isolation.level", "read_committed" },
		{ "enable.partition.eof", "false" },
	};

	if (rd_kafka_conf_set(kc, "auto.offset.reset", "earliest", errstr, sizeof errstr) !=
	    RD_KAFKA_CONF_OK)
		fatalx("auto.offset.reset: %s", errstr);
	for (i = 0; i < config_count(gw->conf); i++) {
		struct config_entry e = config_at(gw->conf, i);
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
	if (rd_kafka_conf_set(kc, "group.id", gw->group_id, errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
		xasprintf(cause, "group.id: %s", errstr);
		rd_kafka_conf_destroy(kc);
		return NULL;
	}
	in = xcalloc(1, sizeof *in);
	rd_kafka_conf_set_opaque(kc, in);
	rd_kafka_conf_set_rebalance_cb(kc, intake_rebalance_cb);
	rd_kafka_conf_set_log_cb(kc, intake_log_cb);
	rd_kafka_conf_set_error_cb(kc, intake_error_cb);
	if ((in->rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, errstr, sizeof errstr)) == NULL) {
		xasprintf(cause, "creating the consumer: %s", errstr);
		rd_kafka_conf_destroy(kc);
		free(in);
		return NULL;
	}
	rd_kafka_poll_set_consumer(in->rk);
	if (gw->committer != NULL)
		committer_set_consumer(gw->committer, in->rk);
	in->queue = rd_kafka_queue_get_consumer(in->rk);
	if (pipe2(in->pipefd, O_NONBLOCK | O_CLOEXEC) != 0)
		fatalx("pipe: %s", strerror(errno));
	rd_kafka_queue_io_event_enable(in->queue, in->pipefd[1], "1", 1);
	in->ev = event_new(gw->base, in->pipefd[0], EV_READ | EV_PERSIST, intake_event_cb, in);
	event_add(in->ev, NULL);
	in->tick = event_new(gw->base, -1, EV_PERSIST, intake_tick_cb, in);
	event_add(in->tick, &tv);

	sub = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(sub, gw->tasks_topic, RD_KAFKA_PARTITION_UA);
	err = rd_kafka_subscribe(in->rk, sub);
	rd_kafka_topic_partition_list_destroy(sub);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		xasprintf(cause, "subscribing to %s: %s", gw->tasks_topic, rd_kafka_err2str(err));
		intake_stop(in);
		return NULL;
	}
	log_info("intake started", "topic=%s group=%s", gw->tasks_topic, gw->group_id);
	return in;
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

	if (rd_kafka_get_watermark_offsets(in->rk, gw->tasks_topic, partition, &low, &high) !=
	    RD_KAFKA_RESP_ERR_NO_ERROR)
		return -1;
	return high;
}

int64_t
intake_position(struct intake *in, int32_t partition)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	int64_t pos = -1;

	rd_kafka_topic_partition_list_add(l, gw->tasks_topic, partition);
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
	if (gw->committer != NULL)
		committer_set_consumer(gw->committer, NULL);
	event_free(in->ev);
	event_free(in->tick);
	/* Leaves the group; the rebalance callback may run (revoke). */
	rd_kafka_consumer_close(in->rk);
	rd_kafka_queue_destroy(in->queue);
	rd_kafka_destroy(in->rk);
	close(in->pipefd[0]);
	close(in->pipefd[1]);
	if (in->assigned != NULL)
		rd_kafka_topic_partition_list_destroy(in->assigned);
	free(in->capped);
	free(in);
}
