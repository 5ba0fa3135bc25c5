/*
 * test-committer.c: the committer (gateway/committer.c) with its real
 * thread and transactional producer against librdkafka's mock cluster:
 * batches come back committed, and every record's delivery report
 * reaches the committer. Those reports are what wake the flush inside
 * commit_transaction; without a report callback it sleeps out 10 ms
 * polls instead (the bench/eos latency), and no report is counted.
 * Nothing here is timed.
 */
#include "config.h"
#include "gateway.h"
#include "options.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define NBATCHES 5
#define NRECORDS 3	/* per batch */

struct tstate {
	struct event_base *base;
	size_t answered, ok;
};

static void
done_cb(uint64_t id, int ok, int dropped, const char *error, void *arg)
{
	struct tstate *s = arg;

	if (id == 0) {
		/* Only a failed start answers batch 0. */
		fail_msg("committer failed to start: %s", error != NULL ? error : "?");
		return;
	}
	s->answered++;
	if (ok && !dropped)
		s->ok++;
	if (s->answered == NBATCHES)
		event_base_loopbreak(s->base);
}

static void
quiet_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
}

static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(arg);
}

static void
test_committer_commits_with_delivery_reports(void **unused)
{
	struct tstate s = { 0 };
	struct config *conf = config_new(options_schema, options_passthrough);
	rd_kafka_conf_t *kc = rd_kafka_conf_new();
	rd_kafka_mock_cluster_t *mc;
	struct committer *c;
	struct commit_batch *b;
	struct event *deadline;
	struct timeval tv = { 120, 0 };	/* a guard, not a measure */
	char errstr[256], *cause = NULL;
	uint64_t committed, aborted;
	rd_kafka_t *owner;
	size_t i, j;

	rd_kafka_conf_set_log_cb(kc, quiet_log);	/* it has no bootstrap.servers, by design */
	owner = rd_kafka_new(RD_KAFKA_PRODUCER, kc, errstr, sizeof errstr);
	assert_non_null(owner);
	assert_non_null(mc = rd_kafka_mock_cluster_new(owner, 1));
	assert_int_equal(rd_kafka_mock_topic_create(mc, "results", 2, 1), 0);
	assert_int_equal(config_set(conf, "kafka", "bootstrap.servers",
	    rd_kafka_mock_cluster_bootstraps(mc), &cause), 0);

	s.base = event_base_new();
	c = committer_start(s.base, conf, "paia-test-committer", done_cb, &s, &cause);
	assert_non_null(c);
	for (i = 0; i < NBATCHES; i++) {
		b = xcalloc(1, sizeof *b);
		b->id = i + 1;
		b->records = xcalloc(NRECORDS, sizeof *b->records);
		b->nrecords = NRECORDS;
		for (j = 0; j < NRECORDS; j++) {
			b->records[j].kind = COMMIT_RESULT;
			b->records[j].partition = -1;
			b->records[j].topic = xstrdup("results");
			xasprintf(&b->records[j].key, "t-%zu-%zu", i, j);
			b->records[j].value = xstrdup("{}");
			b->records[j].len = 2;
		}
		committer_submit(c, b);
	}
	deadline = evtimer_new(s.base, deadline_cb, s.base);
	evtimer_add(deadline, &tv);
	event_base_dispatch(s.base);

	assert_int_equal(s.answered, NBATCHES);
	assert_int_equal(s.ok, NBATCHES);
	committer_stats(c, &committed, &aborted);
	assert_true(committed >= 1 && committed <= NBATCHES);
	assert_int_equal(aborted, 0);
	/* Every record's report came through the callback. */
	assert_int_equal(committer_acked(c), NBATCHES * NRECORDS);

	committer_stop(c);
	event_free(deadline);
	event_base_free(s.base);
	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(owner);
	config_free(conf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_committer_commits_with_delivery_reports),
	};

	evthread_use_pthreads();
	log_set_level(LOG_LEVEL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
