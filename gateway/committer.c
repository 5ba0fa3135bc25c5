/*
 * committer.c: the transactional producer on a worker thread of its own
 * (common/worker.c), because librdkafka's transaction calls block. The
 * loop hands over batches (records + offsets with metadata + group
 * metadata); the thread merges all that is queued into one transaction
 * (up to transaction_max_records) and hands each batch back with its
 * outcome.
 *
 * Errors (docs/design.md section 4): retriable -> call again after a pause;
 * requires abort -> abort and replay the same records and offsets in a
 * new transaction; fatal (fenced, ...) -> answer the batches with the
 * error and stop; the loop then exits non-zero for the supervisor.
 *
 * Latency (bench/eos): a transaction on a near broker is three round
 * trips in a row (AddOffsetsToTxn, TxnOffsetCommit, EndTxn; the records'
 * AddPartitionsToTxn and Produce overlap them), 3 to 6 ms. Each
 * transaction's steps are logged at debug level ("transaction
 * committed", their milliseconds), to see where a slow one spent its time.
 */
#include "config.h"
#include "gateway.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <librdkafka/rdkafka.h>

struct committer {
	rd_kafka_t *rk;
	char *txid;
	struct worker *worker;		/* NULL once stopped (committer_stop) */
	size_t max_records;		/* per transaction */
	rd_kafka_t *consumer;		/* for fresh group metadata; worker_lock */
	uint64_t epoch;			/* the gateway's ownership epoch; worker_lock */
	char *hold;			/* test only: wait while this file exists */
	uint64_t committed, aborted;	/* worker_lock */
	uint64_t delivered;		/* delivery reports of records; worker_lock */
	char *fatal_msg;		/* worker thread: set once, then every batch fails */
	int ready;			/* init_transactions done; worker_lock */
	int usable;			/* ready without a fatal error; worker_lock */
	size_t inflight;		/* loop: submitted, not answered */
	committer_done_cb *done_cb;
	void *done_arg;
};

/* Batches travel as worker jobs: the job is the batch's first member. */
#define committer_batch(j) ((struct commit_batch *)(void *)(j))

void
commit_batch_free(struct commit_batch *b)
{
	size_t i;

	if (b == NULL)
		return;
	for (i = 0; i < b->nrecords; i++) {
		free(b->records[i].topic);
		free(b->records[i].key);
		free(b->records[i].value);
	}
	free(b->records);
	for (i = 0; i < b->noffsets; i++)
		free(b->offsets[i].metadata);
	free(b->offsets);
	free(b->offsets_topic);
	if (b->group_metadata != NULL)
		rd_kafka_consumer_group_metadata_destroy(b->group_metadata);
	free(b->error);
	free(b);
}

static void
committer_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	kafka_log("producer", level, fac, buf);
}

/*
 * Delivery reports. commit_transaction flushes the transaction's records
 * by polling the report queue in slices of 10 ms until none is left in
 * flight: without a report callback nothing is ever queued there, so the
 * poll slept out its 10 ms after the last record was acknowledged (two
 * thirds of a commit on a near broker, bench/eos). With one, each
 * acknowledgement wakes the flush. A record not delivered fails the
 * commit, which says why; its report only names it, at debug level.
 */
static void
committer_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct committer *c = opaque;

	if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		/* An abort purges the records it drops: logged once, as the abort. */
		if (m->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE ||
		    m->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT)
			return;
		log_debug("transactional record not delivered", "topic=%s partition=%d error=%s",
		    log_q(rd_kafka_topic_name(m->rkt)), (int)m->partition,
		    log_q(rd_kafka_err2str(m->err)));
		return;
	}
	if (c->worker == NULL)
		return;
	worker_lock(c->worker);
	c->delivered++;
	worker_unlock(c->worker);
}

/* Milliseconds, with microseconds, for the debug timings. */
static double
committer_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

enum committer_step { STEP_OK, STEP_RETRY, STEP_ABORT, STEP_FATAL };

/* Classify a transactional error (rd_kafka_error_t consumed). */
static enum committer_step
committer_classify(struct committer *c, rd_kafka_error_t *e, const char *what, char **fatal_msg)
{
	enum committer_step step;

	/* Each answer of the broker, good or bad, is a step: the thread is not stuck. */
	worker_beat(c->worker);
	if (e == NULL)
		return STEP_OK;
	if (rd_kafka_error_is_fatal(e)) {
		step = STEP_FATAL;
		xasprintf(fatal_msg, "%s: %s (transactional.id %s)", what, rd_kafka_error_string(e),
		    c->txid);
	} else if (rd_kafka_error_txn_requires_abort(e))
		step = STEP_ABORT;
	else if (rd_kafka_error_is_retriable(e))
		step = STEP_RETRY;
	else {
		/* Neither: treat as abortable, then retried in a new transaction. */
		step = STEP_ABORT;
	}
	log_msg(step == STEP_FATAL ? LOG_LEVEL_ERROR : LOG_LEVEL_WARN, "transaction step failed",
	    "step=%s error=%s action=%s", log_q(what), log_q(rd_kafka_error_string(e)),
	    log_q(step == STEP_FATAL ? "stop" : step == STEP_ABORT ? "abort" : "retry"));
	rd_kafka_error_destroy(e);
	return step;
}

/*
 * Batches built before the gateway's current ownership epoch (a revoke
 * came since) keep only what is not tied to a partition (requeues): the
 * partitions' results, dead letters and offsets are dropped, because the
 * new generation may have given those partitions to another member,
 * which runs their tasks again. Committing them under the new generation
 * (the broker takes offsets from any live member) would report those
 * tasks twice; this is how Kafka Streams closes a migrated task dirty.
 * Returns the records left in all batches.
 */
static size_t
committer_drop_stale(struct committer *c, struct worker_jobs *batches)
{
	struct commit_batch *b;
	struct worker_job *j;
	uint64_t epoch;
	size_t i, k, left = 0;

	worker_lock(c->worker);
	epoch = c->epoch;
	worker_unlock(c->worker);
	TAILQ_FOREACH(j, batches, entry) {
		b = committer_batch(j);
		if (b->epoch < epoch && !b->dropped) {
			for (i = k = 0; i < b->nrecords; i++) {
				if (b->records[i].partition < 0) {
					b->records[k++] = b->records[i];
					continue;
				}
				free(b->records[i].topic);
				free(b->records[i].key);
				free(b->records[i].value);
			}
			log_warn("partitions given up since this batch was built: their records and "
			    "offsets are dropped, their new owner runs the tasks",
			    "batch=%" PRIu64 " records=%zu dropped=%zu offsets=%zu", b->id,
			    b->nrecords, b->nrecords - k, b->noffsets);
			b->nrecords = k;
			for (i = 0; i < b->noffsets; i++)
				free(b->offsets[i].metadata);
			b->noffsets = 0;
			b->dropped = 1;
		}
		left += b->nrecords + b->noffsets;
	}
	return left;
}

/* The newest snapshot of each partition's offsets, from the batches that still carry any. */
static rd_kafka_topic_partition_list_t *
committer_offsets(struct worker_jobs *batches, struct commit_batch **last)
{
	rd_kafka_topic_partition_list_t *offsets;
	rd_kafka_topic_partition_t *tp;
	struct commit_batch *b;
	struct worker_job *j;
	size_t i;

	*last = NULL;
	TAILQ_FOREACH(j, batches, entry)
		if (committer_batch(j)->group_metadata != NULL)
			*last = committer_batch(j);
	if (*last == NULL)
		return NULL;
	offsets = rd_kafka_topic_partition_list_new(0);
	TAILQ_FOREACH(j, batches, entry) {
		b = committer_batch(j);
		for (i = 0; i < b->noffsets; i++) {
			tp = rd_kafka_topic_partition_list_find(offsets, b->offsets_topic,
			    b->offsets[i].partition);
			if (tp == NULL)
				tp = rd_kafka_topic_partition_list_add(offsets, b->offsets_topic,
				    b->offsets[i].partition);
			tp->offset = b->offsets[i].offset;
			free(tp->metadata);
			tp->metadata = xstrdup(b->offsets[i].metadata);
			tp->metadata_size = strlen(b->offsets[i].metadata);
		}
	}
	return offsets;
}

/* Test only (PAIA_TEST_COMMIT_HOLD): no transaction begins while the file exists. */
static void
committer_test_hold(struct committer *c, struct worker *w)
{
	while (c->hold != NULL && access(c->hold, F_OK) == 0 && !worker_stopping(w)) {
		worker_beat(w);
		usleep(20 * 1000);
	}
}

/* One transaction over the merged batches; returns STEP_OK or STEP_FATAL. */
static enum committer_step
committer_run(struct committer *c, struct worker_jobs *batches, char **fatal_msg)
{
	struct commit_batch *b, *last = NULL;
	struct worker_job *j;
	rd_kafka_topic_partition_list_t *offsets = NULL;
	rd_kafka_resp_err_t err;
	enum committer_step step;
	struct backoff bo;
	size_t i, nrecords = 0;
	int tries;
	double t0, t_begun = 0, t_produced = 0, t_offsets = 0;

	backoff_init(&bo, 100, 5000, (uint64_t)util_mono_ms());
	committer_test_hold(c, c->worker);
	t0 = committer_now_ms();
	for (tries = 0; ; tries++) {
		if (tries > 0)
			usleep(backoff_next(&bo) * 1000U);
		/* Checked before every attempt: a revoke may come while we retry. */
		if (committer_drop_stale(c, batches) == 0) {
			step = STEP_OK;
			goto out;
		}
		if (offsets != NULL)
			rd_kafka_topic_partition_list_destroy(offsets);
		offsets = committer_offsets(batches, &last);
		t_begun = committer_now_ms();
		step = committer_classify(c, rd_kafka_begin_transaction(c->rk), "begin", fatal_msg);
		if (step == STEP_FATAL)
			goto out;
		if (step != STEP_OK)
			continue;
		nrecords = 0;
		TAILQ_FOREACH(j, batches, entry) {
			b = committer_batch(j);
			nrecords += b->nrecords;
			for (i = 0; i < b->nrecords; i++) {
				struct commit_record *r = &b->records[i];
				size_t klen = r->key != NULL ? strlen(r->key) : 0;
				err = rd_kafka_producev(c->rk, RD_KAFKA_V_TOPIC(r->topic),
				    RD_KAFKA_V_KEY(r->key, klen),
				    RD_KAFKA_V_VALUE(r->value, r->len),
				    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
				while (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
					rd_kafka_poll(c->rk, 100);
					worker_beat(c->worker);
					err = rd_kafka_producev(c->rk, RD_KAFKA_V_TOPIC(r->topic),
					    RD_KAFKA_V_KEY(r->key, klen),
					    RD_KAFKA_V_VALUE(r->value, r->len),
					    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
				}
				if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
					log_warn("produce failed inside transaction", "topic=%s error=%s",
					    log_q(r->topic), log_q(rd_kafka_err2str(err)));
					step = STEP_ABORT;
					goto abort;
				}
			}
		}
		t_produced = committer_now_ms();
		if (offsets != NULL && offsets->cnt > 0) {
			int sent = 0;
			while (!sent) {
				step = committer_classify(c, rd_kafka_send_offsets_to_transaction(c->rk,
				    offsets, last->group_metadata, 30000), "send_offsets", fatal_msg);
				if (step == STEP_RETRY) {
					usleep(backoff_next(&bo) * 1000U);
					continue;
				}
				sent = 1;
			}
			if (step == STEP_FATAL)
				goto out;
			if (step == STEP_ABORT)
				goto abort;
		}
		t_offsets = committer_now_ms();
		for (;;) {
			step = committer_classify(c, rd_kafka_commit_transaction(c->rk, 60000),
			    "commit", fatal_msg);
			if (step != STEP_RETRY)
				break;
			/* Outcome unknown: calling commit again resolves it. */
			usleep(backoff_next(&bo) * 1000U);
		}
		if (step == STEP_OK)
			log_debug("transaction committed", "records=%zu offsets=%d tries=%d "
			    "retry_ms=%.1f produce_ms=%.1f send_offsets_ms=%.1f commit_ms=%.1f",
			    nrecords, offsets != NULL ? offsets->cnt : 0, tries + 1, t_begun - t0,
			    t_produced - t_begun, t_offsets - t_produced,
			    committer_now_ms() - t_offsets);
		if (step == STEP_OK || step == STEP_FATAL)
			goto out;
abort:
		worker_lock(c->worker);
		c->aborted++;
		/*
		 * The group may have moved on (a rebalance) since the batch was
		 * built: replaying with the old generation would fail forever.
		 */
		if (last != NULL && c->consumer != NULL) {
			rd_kafka_consumer_group_metadata_t *md =
			    rd_kafka_consumer_group_metadata(c->consumer);
			if (md != NULL) {
				rd_kafka_consumer_group_metadata_destroy(last->group_metadata);
				last->group_metadata = md;
			}
		}
		worker_unlock(c->worker);
		for (;;) {
			step = committer_classify(c, rd_kafka_abort_transaction(c->rk, 60000), "abort",
			    fatal_msg);
			if (step != STEP_RETRY)
				break;
			usleep(backoff_next(&bo) * 1000U);
		}
		if (step == STEP_FATAL)
			goto out;
		/* Replay the same batch in a new transaction. */
	}
out:
	if (offsets != NULL)
		rd_kafka_topic_partition_list_destroy(offsets);
	return step;
}

/* init_transactions fences any older instance with our id. */
static void
committer_init(struct worker *w, struct committer *c)
{
	rd_kafka_error_t *e;

	for (;;) {
		e = rd_kafka_init_transactions(c->rk, 30000);
		worker_beat(w);
		if (e == NULL)
			break;
		if (rd_kafka_error_is_retriable(e) && !worker_stopping(w)) {
			log_warn("init_transactions failed, retrying", "error=%s",
			    log_q(rd_kafka_error_string(e)));
			rd_kafka_error_destroy(e);
			usleep(1000U * 1000U);
			continue;
		}
		xasprintf(&c->fatal_msg, "init_transactions: %s (transactional.id %s)",
		    rd_kafka_error_string(e), c->txid);
		rd_kafka_error_destroy(e);
		break;
	}
	if (c->fatal_msg == NULL)
		log_info("transactional producer ready", "transactional_id=%s", log_q(c->txid));
	worker_lock(w);
	c->ready = 1;
	c->usable = c->fatal_msg == NULL;
	worker_unlock(w);
}

/* Hand a batch back with the outcome of its transaction. */
static void
committer_answer(struct worker *w, struct worker_jobs *jobs, struct commit_batch *b, int ok,
    const char *error)
{
	b->ok = ok;
	b->error = error != NULL ? xstrdup(error) : NULL;
	worker_done(w, jobs, &b->job);
}

/*
 * The worker's run: the first job (batch id 0) starts the producer and
 * answers at once, so a failed init_transactions is known now, not at
 * the first result; then one transaction per run of queued batches.
 */
static void
committer_work(struct worker *w, struct worker_jobs *jobs, void *arg)
{
	struct committer *c = arg;
	struct worker_jobs merged;
	struct worker_job *j;
	struct commit_batch *b;
	enum committer_step step;
	size_t nrecords;

	if (!c->ready)
		committer_init(w, c);
	while ((j = TAILQ_FIRST(jobs)) != NULL) {
		b = committer_batch(j);
		if (b->id == 0) {
			committer_answer(w, jobs, b, c->fatal_msg == NULL, c->fatal_msg);
			continue;
		}
		/* Merge what is queued, up to the cap (at least one batch). */
		TAILQ_INIT(&merged);
		nrecords = 0;
		while ((j = TAILQ_FIRST(jobs)) != NULL) {
			b = committer_batch(j);
			if (nrecords > 0 && nrecords + b->nrecords > c->max_records)
				break;
			nrecords += b->nrecords;
			TAILQ_REMOVE(jobs, j, entry);
			TAILQ_INSERT_TAIL(&merged, j, entry);
		}
		step = c->fatal_msg != NULL ? STEP_FATAL : committer_run(c, &merged, &c->fatal_msg);
		worker_lock(w);
		if (step == STEP_OK)
			c->committed++;
		else if (step == STEP_FATAL)
			c->usable = 0;
		worker_unlock(w);
		while ((j = TAILQ_FIRST(&merged)) != NULL)
			committer_answer(w, &merged, committer_batch(j), step == STEP_OK,
			    c->fatal_msg);
	}
}

static void
committer_delivered(struct worker_job *j, void *arg)
{
	struct committer *c = arg;
	struct commit_batch *b = committer_batch(j);

	if (b->id != 0)
		c->inflight--;
	if (b->id != 0 || !b->ok)
		c->done_cb(b->id, b->ok, b->dropped, b->error, c->done_arg);
	commit_batch_free(b);
}

static void
committer_discard(struct worker_job *j, void *arg)
{
	commit_batch_free(committer_batch(j));
}

struct committer *
committer_start(struct event_base *base, const struct config *conf, const char *txid,
    committer_done_cb *cb, void *arg, char **cause)
{
	struct committer *c;
	struct commit_batch *init;
	rd_kafka_conf_t *kc = rd_kafka_conf_new();
	char errstr[512];
	size_t i;

	/* A short linger batches a transaction's records; the user may override it. */
	rd_kafka_conf_set(kc, "linger.ms", "5", errstr, sizeof errstr);
	/*
	 * A transaction begun right after the last one's commit meets
	 * CONCURRENT_TRANSACTIONS until the broker has written the markers:
	 * retried after 100 ms by default, which was most of a result's
	 * latency at low rates. The user may override it too.
	 */
	rd_kafka_conf_set(kc, "retry.backoff.ms", "10", errstr, sizeof errstr);
	for (i = 0; i < config_count(conf); i++) {
		struct config_entry e = config_at(conf, i);
		if (strcmp(e.section, "kafka") != 0 || strcmp(e.key, "group.id") == 0)
			continue;
		/* Consumer-only keys are refused by a producer: skip quietly. */
		if (strcmp(e.key, "isolation.level") == 0 || strcmp(e.key, "auto.offset.reset") == 0 ||
		    strncmp(e.key, "session.", 8) == 0 || strncmp(e.key, "fetch.", 6) == 0 ||
		    strcmp(e.key, "max.poll.interval.ms") == 0 ||
		    strcmp(e.key, "partition.assignment.strategy") == 0 ||
		    strcmp(e.key, "heartbeat.interval.ms") == 0 ||
		    strcmp(e.key, "group.instance.id") == 0)
			continue;
		if (rd_kafka_conf_set(kc, e.key, e.value, errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
			xasprintf(cause, "kafka.%s: %s", e.key, errstr);
			rd_kafka_conf_destroy(kc);
			return NULL;
		}
	}
	if (rd_kafka_conf_set(kc, "transactional.id", txid, errstr, sizeof errstr) != RD_KAFKA_CONF_OK ||
	    rd_kafka_conf_set(kc, "enable.idempotence", "true", errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
		xasprintf(cause, "producer configuration: %s", errstr);
		rd_kafka_conf_destroy(kc);
		return NULL;
	}
	rd_kafka_conf_set_log_cb(kc, committer_log_cb);
	rd_kafka_conf_set_dr_msg_cb(kc, committer_dr_cb);
	c = xcalloc(1, sizeof *c);
	rd_kafka_conf_set_opaque(kc, c);
	if ((c->rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, errstr, sizeof errstr)) == NULL) {
		xasprintf(cause, "creating the transactional producer: %s", errstr);
		rd_kafka_conf_destroy(kc);
		free(c);
		return NULL;
	}
	c->txid = xstrdup(txid);
	c->max_records = (size_t)config_get_int(conf, "gateway", "transaction_max_records");
	if (getenv("PAIA_TEST_COMMIT_HOLD") != NULL)
		c->hold = xstrdup(getenv("PAIA_TEST_COMMIT_HOLD"));
	c->done_cb = cb;
	c->done_arg = arg;
	c->worker = worker_start(base, "committer", committer_work, committer_delivered, c);
	/* Batch 0 starts the producer: its answer says at once if that failed. */
	init = xcalloc(1, sizeof *init);
	worker_post(c->worker, &init->job);
	return c;
}

void
committer_submit(struct committer *c, struct commit_batch *b)
{
	c->inflight++;
	worker_post(c->worker, &b->job);
}

void
committer_set_epoch(struct committer *c, uint64_t epoch)
{
	worker_lock(c->worker);
	c->epoch = epoch;
	worker_unlock(c->worker);
}

void
committer_set_consumer(struct committer *c, void *rk)
{
	worker_lock(c->worker);
	c->consumer = rk;
	worker_unlock(c->worker);
}

int
committer_sync(struct committer *c, int timeout_ms)
{
	return worker_sync(c->worker, timeout_ms);
}

size_t
committer_inflight(const struct committer *c)
{
	return c->inflight;
}

int
committer_ready(const struct committer *c)
{
	int ready;

	worker_lock(c->worker);
	ready = c->usable;
	worker_unlock(c->worker);
	return ready;
}

int64_t
committer_stalled_ms(const struct committer *c)
{
	return worker_stalled_ms(c->worker);
}

void
committer_stats(const struct committer *c, uint64_t *committed, uint64_t *aborted)
{
	worker_lock(c->worker);
	*committed = c->committed;
	*aborted = c->aborted;
	worker_unlock(c->worker);
}

uint64_t
committer_acked(const struct committer *c)
{
	uint64_t n;

	worker_lock(c->worker);
	n = c->delivered;
	worker_unlock(c->worker);
	return n;
}

void
committer_stop(struct committer *c)
{
	if (c == NULL)
		return;
	/* The batches queued are committed first. */
	worker_stop(c->worker, 1, committer_discard);
	/* Gone: the reports this flush serves (on this thread) are not counted. */
	c->worker = NULL;
	rd_kafka_flush(c->rk, 5000);
	rd_kafka_destroy(c->rk);
	free(c->fatal_msg);
	free(c->hold);
	free(c->txid);
	free(c);
}
