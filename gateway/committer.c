/*
 * committer.c: the only thread besides the loop. It owns the
 * transactional producer, because librdkafka's transaction calls block.
 * The loop hands over batches (records + offsets with metadata + group
 * metadata) through a mutex-protected queue; the thread merges all that
 * is queued into one transaction and answers each batch through a
 * second queue and an eventfd that wakes the loop.
 *
 * Errors (DESIGN section 4): retriable -> call again after a pause;
 * requires abort -> abort and replay the same records and offsets in a
 * new transaction; fatal (fenced, ...) -> answer the batches with the
 * error and stop; the loop then exits non-zero for the supervisor.
 */
#include "config.h"
#include "gateway.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <librdkafka/rdkafka.h>

TAILQ_HEAD(batch_list, commit_batch);

struct committer_answer {
	uint64_t id;
	int ok;
	char *error;
};

struct committer {
	rd_kafka_t *rk;
	char *txid;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_cond_t idle;		/* unanswered reached 0 */
	size_t unanswered;		/* under lock: submitted, not answered */
	struct batch_list queue;	/* loop -> thread */
	struct committer_answer *answers; /* thread -> loop */
	size_t nanswers, answers_cap;
	size_t max_records;		/* per transaction */
	rd_kafka_t *consumer;		/* for fresh group metadata; under lock */
	int stopping;
	int fatal;
	size_t inflight;		/* loop side: submitted, not answered */
	int efd;
	struct event *ev;
	committer_done_cb *done_cb;
	void *done_arg;
	uint64_t committed, aborted;	/* under lock */
};

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
	free(b);
}

static void
committer_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	log_msg(level <= 3 ? LOG_LEVEL_ERROR : level <= 4 ? LOG_LEVEL_WARN :
	    level <= 6 ? LOG_LEVEL_INFO : LOG_LEVEL_DEBUG, buf, "component=producer facility=%s", fac);
}

/* Post answers for ids and wake the loop. Called with the lock held. */
static void
committer_answer(struct committer *c, uint64_t id, int ok, const char *error)
{
	uint64_t one = 1;

	if (c->nanswers == c->answers_cap) {
		c->answers_cap = c->answers_cap == 0 ? 16 : c->answers_cap * 2;
		c->answers = xreallocarray(c->answers, c->answers_cap, sizeof *c->answers);
	}
	c->answers[c->nanswers].id = id;
	c->answers[c->nanswers].ok = ok;
	c->answers[c->nanswers].error = error != NULL ? xstrdup(error) : NULL;
	c->nanswers++;
	if (write(c->efd, &one, sizeof one) < 0 && errno != EAGAIN)
		log_error("committer: eventfd write failed", "error=%s", log_q(strerror(errno)));
}

enum committer_step { STEP_OK, STEP_RETRY, STEP_ABORT, STEP_FATAL };

/* Classify a transactional error (rd_kafka_error_t consumed). */
static enum committer_step
committer_classify(struct committer *c, rd_kafka_error_t *e, const char *what, char **fatal_msg)
{
	enum committer_step step;

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
	    "step=%s error=%s action=%s", what, log_q(rd_kafka_error_string(e)),
	    step == STEP_FATAL ? "stop" : step == STEP_ABORT ? "abort" : "retry");
	rd_kafka_error_destroy(e);
	return step;
}

/* One transaction over the merged batches; returns STEP_OK or STEP_FATAL. */
static enum committer_step
committer_run(struct committer *c, struct batch_list *batches, char **fatal_msg)
{
	struct commit_batch *b, *last = NULL;
	rd_kafka_topic_partition_list_t *offsets = NULL;
	rd_kafka_resp_err_t err;
	enum committer_step step;
	struct backoff bo;
	size_t i;
	int tries;

	backoff_init(&bo, 100, 5000, (uint64_t)util_mono_ms());
	TAILQ_FOREACH(b, batches, entry)
		if (b->group_metadata != NULL)
			last = b;
	/* The newest snapshot of each partition's offsets wins. */
	if (last != NULL) {
		offsets = rd_kafka_topic_partition_list_new(0);
		TAILQ_FOREACH(b, batches, entry) {
			for (i = 0; i < b->noffsets; i++) {
				rd_kafka_topic_partition_t *tp;
				tp = rd_kafka_topic_partition_list_find(offsets, b->offsets_topic,
				    b->offsets[i].partition);
				if (tp == NULL)
					tp = rd_kafka_topic_partition_list_add(offsets,
					    b->offsets_topic, b->offsets[i].partition);
				tp->offset = b->offsets[i].offset;
				free(tp->metadata);
				tp->metadata = xstrdup(b->offsets[i].metadata);
				tp->metadata_size = strlen(b->offsets[i].metadata);
			}
		}
	}
	for (tries = 0; ; tries++) {
		if (tries > 0)
			usleep(backoff_next(&bo) * 1000U);
		step = committer_classify(c, rd_kafka_begin_transaction(c->rk), "begin", fatal_msg);
		if (step == STEP_FATAL)
			goto out;
		if (step != STEP_OK)
			continue;
		TAILQ_FOREACH(b, batches, entry) {
			for (i = 0; i < b->nrecords; i++) {
				struct commit_record *r = &b->records[i];
				size_t klen = r->key != NULL ? strlen(r->key) : 0;
				err = rd_kafka_producev(c->rk, RD_KAFKA_V_TOPIC(r->topic),
				    RD_KAFKA_V_KEY(r->key, klen),
				    RD_KAFKA_V_VALUE(r->value, r->len),
				    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
				while (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
					rd_kafka_poll(c->rk, 100);
					err = rd_kafka_producev(c->rk, RD_KAFKA_V_TOPIC(r->topic),
					    RD_KAFKA_V_KEY(r->key, klen),
					    RD_KAFKA_V_VALUE(r->value, r->len),
					    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
				}
				if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
					log_warn("produce failed inside transaction", "topic=%s error=%s",
					    r->topic, log_q(rd_kafka_err2str(err)));
					step = STEP_ABORT;
					goto abort;
				}
			}
		}
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
		for (;;) {
			step = committer_classify(c, rd_kafka_commit_transaction(c->rk, 60000),
			    "commit", fatal_msg);
			if (step != STEP_RETRY)
				break;
			/* Outcome unknown: calling commit again resolves it. */
			usleep(backoff_next(&bo) * 1000U);
		}
		if (step == STEP_OK || step == STEP_FATAL)
			goto out;
abort:
		pthread_mutex_lock(&c->lock);
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
		pthread_mutex_unlock(&c->lock);
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

static void *
committer_main(void *arg)
{
	struct committer *c = arg;
	struct batch_list batches;
	struct commit_batch *b;
	enum committer_step step;
	char *fatal_msg = NULL;
	rd_kafka_error_t *e;
	size_t nrecords;

	/* init_transactions fences any older instance with our id. */
	for (;;) {
		e = rd_kafka_init_transactions(c->rk, 30000);
		if (e == NULL)
			break;
		if (rd_kafka_error_is_retriable(e) && !c->stopping) {
			log_warn("init_transactions failed, retrying", "error=%s",
			    log_q(rd_kafka_error_string(e)));
			rd_kafka_error_destroy(e);
			usleep(1000U * 1000U);
			continue;
		}
		xasprintf(&fatal_msg, "init_transactions: %s (transactional.id %s)",
		    rd_kafka_error_string(e), c->txid);
		rd_kafka_error_destroy(e);
		break;
	}
	if (fatal_msg == NULL)
		log_info("transactional producer ready", "transactional_id=%s", c->txid);
	else {
		/* Say so now, not at the first result: batch id 0 is "the committer". */
		pthread_mutex_lock(&c->lock);
		committer_answer(c, 0, 0, fatal_msg);
		c->fatal = 1;
		pthread_mutex_unlock(&c->lock);
	}
	for (;;) {
		pthread_mutex_lock(&c->lock);
		while (TAILQ_EMPTY(&c->queue) && !c->stopping)
			pthread_cond_wait(&c->cond, &c->lock);
		if (TAILQ_EMPTY(&c->queue) && c->stopping) {
			pthread_mutex_unlock(&c->lock);
			break;
		}
		/* Merge what is queued, up to the cap (at least one batch). */
		TAILQ_INIT(&batches);
		nrecords = 0;
		while ((b = TAILQ_FIRST(&c->queue)) != NULL) {
			if (nrecords > 0 && nrecords + b->nrecords > c->max_records)
				break;
			nrecords += b->nrecords;
			TAILQ_REMOVE(&c->queue, b, entry);
			TAILQ_INSERT_TAIL(&batches, b, entry);
		}
		pthread_mutex_unlock(&c->lock);

		step = fatal_msg != NULL ? STEP_FATAL : committer_run(c, &batches, &fatal_msg);
		pthread_mutex_lock(&c->lock);
		if (step == STEP_OK)
			c->committed++;
		while ((b = TAILQ_FIRST(&batches)) != NULL) {
			TAILQ_REMOVE(&batches, b, entry);
			committer_answer(c, b->id, step == STEP_OK, fatal_msg);
			commit_batch_free(b);
			c->unanswered--;
		}
		if (c->unanswered == 0)
			pthread_cond_broadcast(&c->idle);
		if (step == STEP_FATAL)
			c->fatal = 1;
		pthread_mutex_unlock(&c->lock);
	}
	free(fatal_msg);
	log_q_release();
	return NULL;
}

static void
committer_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct committer *c = arg;
	struct committer_answer *ans;
	size_t n, i;
	uint64_t v;

	if (read(c->efd, &v, sizeof v) < 0 && errno != EAGAIN)
		log_warn("committer: eventfd read failed", "error=%s", log_q(strerror(errno)));
	pthread_mutex_lock(&c->lock);
	ans = c->answers;
	n = c->nanswers;
	c->answers = NULL;
	c->nanswers = c->answers_cap = 0;
	pthread_mutex_unlock(&c->lock);
	for (i = 0; i < n; i++) {
		if (ans[i].id != 0)
			c->inflight--;
		c->done_cb(ans[i].id, ans[i].ok, ans[i].error, c->done_arg);
		free(ans[i].error);
	}
	free(ans);
}

struct committer *
committer_start(struct event_base *base, const struct config *conf, const char *txid,
    committer_done_cb *cb, void *arg, char **cause)
{
	struct committer *c;
	struct util_sigmask mask;
	rd_kafka_conf_t *kc = rd_kafka_conf_new();
	char errstr[512];
	size_t i;

	/* A short linger batches a transaction's records; the user may override it. */
	rd_kafka_conf_set(kc, "linger.ms", "5", errstr, sizeof errstr);
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
	c = xcalloc(1, sizeof *c);
	if ((c->rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, errstr, sizeof errstr)) == NULL) {
		xasprintf(cause, "creating the transactional producer: %s", errstr);
		rd_kafka_conf_destroy(kc);
		free(c);
		return NULL;
	}
	c->txid = xstrdup(txid);
	c->max_records = (size_t)config_get_int(conf, "gateway", "transaction_max_records");
	TAILQ_INIT(&c->queue);
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	pthread_cond_init(&c->idle, NULL);
	c->done_cb = cb;
	c->done_arg = arg;
	if ((c->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
		fatalx("eventfd: %s", strerror(errno));
	c->ev = event_new(base, c->efd, EV_READ | EV_PERSIST, committer_event_cb, c);
	event_add(c->ev, NULL);
	util_signals_block(&mask);
	if (pthread_create(&c->thread, NULL, committer_main, c) != 0)
		fatalx("pthread_create: %s", strerror(errno));
	util_signals_restore(&mask);
	return c;
}

void
committer_submit(struct committer *c, struct commit_batch *b)
{
	pthread_mutex_lock(&c->lock);
	TAILQ_INSERT_TAIL(&c->queue, b, entry);
	c->inflight++;
	c->unanswered++;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

void
committer_set_consumer(struct committer *c, void *rk)
{
	pthread_mutex_lock(&c->lock);
	c->consumer = rk;
	pthread_mutex_unlock(&c->lock);
}

int
committer_sync(struct committer *c, int timeout_ms)
{
	struct timespec ts;
	int rc;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&c->lock);
	while (c->unanswered > 0)
		if (pthread_cond_timedwait(&c->idle, &c->lock, &ts) == ETIMEDOUT)
			break;
	rc = c->unanswered == 0 ? 0 : -1;
	pthread_mutex_unlock(&c->lock);
	/* Deliver what was answered now, not at the loop's next turn. */
	committer_event_cb(c->efd, EV_READ, c);
	return rc;
}

size_t
committer_inflight(const struct committer *c)
{
	return c->inflight;
}

void
committer_stats(const struct committer *c, uint64_t *committed, uint64_t *aborted)
{
	pthread_mutex_lock((pthread_mutex_t *)&c->lock);
	*committed = c->committed;
	*aborted = c->aborted;
	pthread_mutex_unlock((pthread_mutex_t *)&c->lock);
}

void
committer_stop(struct committer *c)
{
	struct commit_batch *b;
	size_t i;

	if (c == NULL)
		return;
	pthread_mutex_lock(&c->lock);
	c->stopping = 1;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
	pthread_join(c->thread, NULL);
	while ((b = TAILQ_FIRST(&c->queue)) != NULL) {
		TAILQ_REMOVE(&c->queue, b, entry);
		commit_batch_free(b);
	}
	for (i = 0; i < c->nanswers; i++)
		free(c->answers[i].error);
	free(c->answers);
	event_free(c->ev);
	close(c->efd);
	rd_kafka_flush(c->rk, 5000);
	rd_kafka_destroy(c->rk);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cond);
	pthread_cond_destroy(&c->idle);
	free(c->txid);
	free(c);
}
