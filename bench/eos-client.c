/*
 * eos-client.c: the two halves of bench/eos, against a real broker.
 *
 *   eos commit BOOTSTRAP TOPIC N BATCH
 *	results per second through the gateway's own committer (its
 *	thread, its transactional producer): N result-sized records in
 *	batches of BATCH, so BATCH=1 is one transaction per result.
 *
 *   eos e2e BOOTSTRAP TASKS RESULTS PROGRAM_URL N RATE
 *	end-to-end latency through a running gateway: N tasks produced at
 *	RATE per second; a read_committed consumer on RESULTS (polled every
 *	millisecond, fetch.wait.max.ms 10) times each result from its
 *	task's produce call to its arrival, the task's own produce round
 *	trip included. Prints p50, p90, p99 and max; with EOS_TRACE=FILE
 *	also each task's times (id, produced, acknowledged, arrived: seconds
 *	on CLOCK_MONOTONIC, as the gateway's debug timings) to FILE.
 */
#include "config.h"
#include "gateway.h"
#include "options.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <librdkafka/rdkafka.h>

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- commit ---- */

static size_t answered;
static struct event_base *base;

static void
commit_done(uint64_t id, int ok, int dropped, const char *error, void *arg)
{
	if (!ok)
		fatalx("transaction failed: %s", error != NULL ? error : "?");
	answered++;
	if (answered == (size_t)(uintptr_t)arg)
		event_base_loopbreak(base);
}

static int
bench_commit(const char *bootstrap, const char *topic, long n, long batch)
{
	struct config *conf = config_new(options_schema, options_passthrough);
	struct committer *c;
	struct commit_batch *b;
	char *cause = NULL, *txid, value[1024];
	long i, j, nbatches = (n + batch - 1) / batch;
	double t0, t1;

	config_set(conf, "kafka", "bootstrap.servers", bootstrap, &cause);
	xasprintf(&txid, "paia-bench-eos-%ld-%d", batch, (int)getpid());
	base = event_base_new();
	memset(value, 'x', sizeof value - 1);
	value[sizeof value - 1] = '\0';
	/* One transaction per batch at most; the committer merges queued batches up to this. */
	config_set(conf, "gateway", "transaction_max_records", batch > 1 ? "1000000" : "1", &cause);
	if ((c = committer_start(base, conf, txid, commit_done, (void *)(uintptr_t)nbatches,
	    &cause)) == NULL)
		fatalx("%s", cause);
	t0 = now_s();
	for (i = 0; i < nbatches; i++) {
		long k = i == nbatches - 1 ? n - i * batch : batch;
		b = xcalloc(1, sizeof *b);
		b->id = (uint64_t)i + 1;
		b->records = xcalloc((size_t)k, sizeof *b->records);
		for (j = 0; j < k; j++) {
			b->records[j].kind = COMMIT_RESULT;
			b->records[j].topic = xstrdup(topic);
			xasprintf(&b->records[j].key, "t-%ld", i * batch + j);
			b->records[j].value = xstrdup(value);
			b->records[j].len = strlen(value);
		}
		b->nrecords = (size_t)k;
		committer_submit(c, b);
	}
	event_base_dispatch(base);
	t1 = now_s();
	printf("batch=%ld results=%ld transactions<=%ld seconds=%.3f results_per_s=%.1f\n",
	    batch, n, nbatches, t1 - t0, (double)n / (t1 - t0));
	committer_stop(c);
	event_base_free(base);
	config_free(conf);
	free(txid);
	return 0;
}

/* ---- e2e ---- */

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

struct sent {
	double t;
	double acked;
	double arrived;	/* its result, read_committed */
};
static struct sent *sent;

static void
dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR)
		fatalx("produce failed: %s", rd_kafka_err2str(m->err));
	sent[(uintptr_t)m->_private].acked = now_s();
}

static rd_kafka_t *
client(rd_kafka_type_t type, const char *bootstrap, const char *group)
{
	rd_kafka_conf_t *kc = rd_kafka_conf_new();
	char errstr[512];
	rd_kafka_t *rk;

	rd_kafka_conf_set(kc, "bootstrap.servers", bootstrap, errstr, sizeof errstr);
	if (type == RD_KAFKA_PRODUCER) {
		rd_kafka_conf_set(kc, "linger.ms", "0", errstr, sizeof errstr);
		rd_kafka_conf_set_dr_msg_cb(kc, dr_cb);
	} else {
		rd_kafka_conf_set(kc, "group.id", group, errstr, sizeof errstr);
		rd_kafka_conf_set(kc, "isolation.level", "read_committed", errstr, sizeof errstr);
		/*
		 * From the start: a result committed before the reader's
		 * position was set would be missed with "latest". Results of
		 * other runs are skipped by their id.
		 */
		rd_kafka_conf_set(kc, "auto.offset.reset", "earliest", errstr, sizeof errstr);
		rd_kafka_conf_set(kc, "enable.auto.commit", "false", errstr, sizeof errstr);
		rd_kafka_conf_set(kc, "fetch.wait.max.ms", "10", errstr, sizeof errstr);
	}
	if ((rk = rd_kafka_new(type, kc, errstr, sizeof errstr)) == NULL)
		fatalx("%s", errstr);
	return rk;
}

static int
bench_e2e(const char *bootstrap, const char *tasks, const char *results, const char *program,
    long n, double rate)
{
	rd_kafka_t *p = client(RD_KAFKA_PRODUCER, bootstrap, NULL);
	rd_kafka_t *c;
	rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
	rd_kafka_message_t *m;
	double *lat, t0, next, deadline;
	long i, got = 0, produced = 0;
	char *group, *v, id[64], mine[32];
	cJSON *j, *tid;
	FILE *tf;
	rd_kafka_topic_t *pt;
	const struct rd_kafka_metadata *md;

	xasprintf(&group, "paia-bench-eos-%d", (int)getpid());
	snprintf(mine, sizeof mine, "lat-%d-", (int)getpid());
	c = client(RD_KAFKA_CONSUMER, bootstrap, group);
	rd_kafka_poll_set_consumer(c);
	rd_kafka_topic_partition_list_add(sub, results, RD_KAFKA_PARTITION_UA);
	rd_kafka_subscribe(c, sub);
	rd_kafka_topic_partition_list_destroy(sub);
	/* Join the group before the first task goes out. */
	for (i = 0; i < 100 && rd_kafka_assignment(c, &sub) == 0 && sub->cnt == 0; i++) {
		rd_kafka_topic_partition_list_destroy(sub);
		if ((m = rd_kafka_consumer_poll(c, 100)) != NULL)
			rd_kafka_message_destroy(m);
	}
	rd_kafka_topic_partition_list_destroy(sub);
	/*
	 * The producer connected, and the topic's leaders known, before the
	 * first task: else the first second's tasks wait for that and go
	 * out as one burst, not at RATE.
	 */
	pt = rd_kafka_topic_new(p, tasks, NULL);
	if (rd_kafka_metadata(p, 0, pt, &md, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR)
		fatalx("no metadata for %s", tasks);
	rd_kafka_metadata_destroy(md);
	rd_kafka_topic_destroy(pt);
	sent = xcalloc((size_t)n, sizeof *sent);
	lat = xcalloc((size_t)n, sizeof *lat);
	t0 = next = now_s();
	deadline = t0 + (double)n / rate + 120;
	while (got < n && now_s() < deadline) {
		while (produced < n && now_s() >= next) {
			snprintf(id, sizeof id, "lat-%d-%ld", (int)getpid(), produced);
			xasprintf(&v, "{\"version\":1,\"task_id\":\"%s\",\"game\":\"catch\","
			    "\"program\":\"%s\",\"params\":{\"frames\":0,\"video\":false}}", id, program);
			sent[produced].t = now_s();
			if (rd_kafka_producev(p, RD_KAFKA_V_TOPIC(tasks), RD_KAFKA_V_KEY(id, strlen(id)),
			    RD_KAFKA_V_VALUE(v, strlen(v)), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE),
			    RD_KAFKA_V_OPAQUE((void *)(uintptr_t)produced), RD_KAFKA_V_END) != 0)
				fatalx("produce failed");
			produced++;
			next += 1.0 / rate;
		}
		rd_kafka_poll(p, 0);
		if ((m = rd_kafka_consumer_poll(c, 1)) == NULL)
			continue;
		if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR && m->len > 0 &&
		    (j = cJSON_ParseWithLength(m->payload, m->len)) != NULL) {
			tid = cJSON_GetObjectItemCaseSensitive(j, "task_id");
			/*
			 * The acknowledgement may still wait in the producer's
			 * queue (served by rd_kafka_poll above): a task counts
			 * once it is in too, after the loop.
			 */
			if (cJSON_IsString(tid) && strncmp(tid->valuestring, mine, strlen(mine)) == 0 &&
			    sscanf(tid->valuestring + strlen(mine), "%ld", &i) == 1 &&
			    i >= 0 && i < produced && sent[i].arrived == 0) {
				sent[i].arrived = now_s();
				got++;
			}
			cJSON_Delete(j);
		}
		rd_kafka_message_destroy(m);
	}
	rd_kafka_flush(p, 5000);
	for (i = 0, got = 0; i < produced; i++)
		if (sent[i].arrived > 0 && sent[i].acked > 0)
			lat[got++] = (sent[i].arrived - sent[i].t) * 1000.0;
	if (getenv("EOS_TRACE") != NULL && (tf = fopen(getenv("EOS_TRACE"), "w")) != NULL) {
		for (i = 0; i < produced; i++)
			fprintf(tf, "lat-%d-%ld %.6f %.6f %.6f\n", (int)getpid(), i, sent[i].t,
			    sent[i].acked, sent[i].arrived);
		fclose(tf);
	}
	qsort(lat, (size_t)got, sizeof *lat, cmp_double);
	if (got == 0)
		fatalx("no results arrived");
	printf("tasks=%ld results=%ld rate=%.0f/s latency_ms p50=%.1f p90=%.1f p99=%.1f max=%.1f\n",
	    n, got, rate, lat[got / 2], lat[got * 9 / 10], lat[got * 99 / 100], lat[got - 1]);
	rd_kafka_consumer_close(c);
	rd_kafka_destroy(c);
	rd_kafka_destroy(p);
	free(sent);
	free(lat);
	free(group);
	return got == n ? 0 : 1;
}

int
main(int argc, char **argv)
{
	evthread_use_pthreads();
	log_set_level(LOG_LEVEL_WARN);
	if (argc == 6 && strcmp(argv[1], "commit") == 0)
		return bench_commit(argv[2], argv[3], atol(argv[4]), atol(argv[5]));
	if (argc == 8 && strcmp(argv[1], "e2e") == 0)
		return bench_e2e(argv[2], argv[3], argv[4], argv[5], atol(argv[6]), atof(argv[7]));
	fprintf(stderr, "usage: eos commit BOOTSTRAP TOPIC N BATCH\n"
	    "       eos e2e BOOTSTRAP TASKS RESULTS PROGRAM_URL N RATE\n");
	return 2;
}
