/*
 * test-console.c: the pure parts of paia-console (tui/): the model fed
 * with events and answers made by proto/'s encoders (status, a relist,
 * eviction at the cap, the journal, the rate, a task's log, GPU nodes
 * from the gpus answer and gpu events; pods, the VPN and videos from
 * their answers and events, a followed log's chunks and end), the tasks view's rows patched
 * from the journal against rows rebuilt, filters, durations, columns,
 * and con_put's cleaning of text (into a window of a terminal that
 * writes to /dev/null).
 *
 * The screens themselves are tests/tui/'s (tmux, golden files).
 */
#include "config.h"
#include "tui.h"

#include <locale.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include <cmocka.h>

#include "common.h"

#define T0 1796000000000LL	/* a wall time for timelines */

/* A task event line, as a gateway writes it (proto/'s encoders). */
static char *
ev_task(const char *id, enum task_state st, int64_t received, int attempt)
{
	struct proto_task_view v;

	memset(&v, 0, sizeof v);
	v.task_id = id;
	v.attempt = attempt;
	v.game = "catch";
	v.state = st;
	v.pid = -1;
	v.partition = 0;
	v.offset = 1;
	v.timeline[TASK_RECEIVED] = received;
	v.dir = "/d";
	v.log_path = "/d/log";
	v.duration_ms = -1;
	if (st == TASK_DONE) {
		v.has_status = 1;
		v.status = RESULT_SUCCEEDED;
	}
	return proto_event_encode(PROTO_EVENT_TASK, proto_task_view_encode(&v));
}

static void
feed(struct con_model *m, char *line, int64_t now)
{
	char *cause = NULL;

	assert_int_equal(con_model_event(m, line, strlen(line), now, &cause), 0);
	free(line);
}

static struct proto_status_view *
status_view(int64_t lag0, int64_t succeeded, struct proto_partition_view *parts)
{
	static struct proto_status_view v;

	memset(&v, 0, sizeof v);
	v.protocol = PROTO_VERSION;
	v.instance = "gw\x1b[31m1";
	v.version = "0.1.0";
	v.group_id = "g";
	v.tasks_topic = "t";
	v.results_topic = "r";
	v.dlq_topic = "d";
	v.totals[RESULT_SUCCEEDED] = succeeded;
	memset(parts, 0, 2 * sizeof *parts);
	parts[0].partition = 3;
	parts[0].lag = lag0;
	parts[0].committed = 10;
	parts[0].high = 10 + lag0;
	parts[1].partition = 1;
	parts[1].lag = 0;
	v.partitions = parts;
	v.npartitions = 2;
	return &v;
}

/* ---- the model ---- */

static void
test_model_status(void **state)
{
	struct proto_partition_view parts[2];
	struct proto_status_view *v;
	struct con_model m;
	char *line, *cause = NULL;
	int i;

	con_model_init(&m, 0);
	m.link = CON_LINK_UP;
	for (i = 0; i < 6; i++) {
		line = proto_event_encode(PROTO_EVENT_STATUS,
		    proto_status_view_encode(status_view(i, 60 * i, parts)));
		feed(&m, line, 1000 + i * 1000);
	}
	/* The instance cleaned of its escape, partitions sorted, a sample a second. */
	assert_string_equal(m.status.instance, "gw?[31m1");
	assert_int_equal(m.nparts, 2);
	assert_int_equal(m.parts[0].partition, 1);
	assert_int_equal(m.parts[1].partition, 3);
	assert_int_equal(m.parts[1].series.n, 6);
	assert_int_equal(con_series_at(&m.parts[1].series, 0), 5);
	assert_int_equal(con_series_at(&m.parts[1].series, 5), 0);
	/* 60 results a second: 3600 a minute. */
	assert_true(con_model_rate(&m) > 3599 && con_model_rate(&m) < 3601);
	assert_false(con_model_stale(&m, CON_SRC_STATUS, 6000));
	assert_true(con_model_stale(&m, CON_SRC_STATUS, 6000 + 4000));
	m.link = CON_LINK_DOWN;
	assert_true(con_model_stale(&m, CON_SRC_STATUS, 6000));

	/* Another protocol: refused by name, the model kept. */
	m.link = CON_LINK_UP;
	v = status_view(0, 0, parts);
	v->protocol = PROTO_VERSION + 1;
	line = proto_event_encode(PROTO_EVENT_STATUS, proto_status_view_encode(v));
	assert_int_equal(con_model_event(&m, line, strlen(line), 7000, &cause), -1);
	assert_non_null(strstr(cause, "speaks control protocol"));
	assert_non_null(m.refusal);
	assert_int_equal(m.parts[1].series.n, 6);
	free(cause);
	free(line);
	con_model_free(&m);
}

static void
test_model_bad_lines(void **state)
{
	static const char *const bad[] = {
		"not json", "[1]", "{\"event\":\"task\"}", "{\"event\":\"task\",\"task\":5}",
		"{\"event\":\"task\",\"task\":{\"task_id\":\"\",\"state\":\"done\"}}",
		"{\"event\":\"task\",\"task\":{\"task_id\":\"a\",\"state\":\"sleeping\"}}",
		"{\"event\":\"task\",\"task\":{\"task_id\":\"a\x01\",\"state\":\"done\"}}",
	};
	struct con_model m;
	char *cause = NULL, *line;
	size_t i;

	con_model_init(&m, 0);
	for (i = 0; i < nitems(bad); i++) {
		assert_int_equal(con_model_event(&m, bad[i], strlen(bad[i]), 1, &cause), -1);
		assert_non_null(cause);
		free(cause);
		cause = NULL;
	}
	assert_int_equal(m.bad_lines, nitems(bad));
	assert_int_equal(m.ntasks, 0);
	/* A task id longer than any task id is refused, not cut. */
	line = ev_task("0123456789012345678901234567890123456789012345678901234567890123",
	    TASK_DONE, T0, 1);
	assert_int_equal(con_model_event(&m, line, strlen(line), 1, &cause), -1);
	assert_non_null(strstr(cause, "task id of 64 bytes"));
	free(cause);
	free(line);
	/* An event a newer gateway sends: ignored, not an error. */
	assert_int_equal(con_model_event(&m, "{\"event\":\"news\",\"news\":{}}", 27, 1, &cause), 1);
	con_model_free(&m);
}

static cJSON *
tasks_answer(int n, const char *prefix)
{
	struct proto_task_view v;
	cJSON *a = proto_answer_ok(), *arr = cJSON_AddArrayToObject(a, "tasks");
	char id[32];
	int i;

	for (i = 0; i < n; i++) {
		memset(&v, 0, sizeof v);
		snprintf(id, sizeof id, "%s%03d", prefix, i);
		v.task_id = id;
		v.attempt = 1;
		v.game = "catch";
		v.state = TASK_RUNNING;
		v.pid = -1;
		v.dir = v.log_path = "/d";
		v.duration_ms = -1;
		cJSON_AddItemToArray(arr, proto_task_view_encode(&v));
	}
	return a;
}

static void
test_model_relist(void **state)
{
	struct con_model m;
	cJSON *a;
	char *cause = NULL;

	con_model_init(&m, 0);
	feed(&m, ev_task("old", TASK_DONE, T0, 1), 1);
	a = tasks_answer(3, "n");
	assert_int_equal(con_model_tasks_answer(&m, a, 2, &cause), 0);
	cJSON_Delete(a);
	/* What the gateway does not list any more is gone; a relist overflows the journal. */
	assert_int_equal(m.ntasks, 3);
	assert_null(con_model_task(&m, "old"));
	assert_non_null(con_model_task(&m, "n002"));
	assert_true(m.journal_overflow);
	con_model_journal_done(&m);
	/* A bad answer leaves the model as it was. */
	a = tasks_answer(2, "x");
	cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(a, "tasks"), cJSON_CreateNumber(1));
	assert_int_equal(con_model_tasks_answer(&m, a, 3, &cause), -1);
	assert_non_null(cause);
	free(cause);
	cJSON_Delete(a);
	assert_int_equal(m.ntasks, 3);
	assert_null(con_model_task(&m, "x000"));
	con_model_free(&m);
}

static void
test_model_evict(void **state)
{
	struct con_model m;
	char id[16];
	int i;

	con_model_init(&m, 32);
	/* 16 finished first, then running ones: past the cap, finished ones go first. */
	for (i = 0; i < 16; i++) {
		snprintf(id, sizeof id, "done%02d", i);
		feed(&m, ev_task(id, TASK_DONE, T0, 1), 1);
	}
	for (i = 0; i < 40; i++) {
		snprintf(id, sizeof id, "run%02d", i);
		feed(&m, ev_task(id, TASK_RUNNING, T0, 1), 1);
		assert_true(m.ntasks <= 32);
	}
	assert_null(con_model_task(&m, "done00"));
	assert_non_null(con_model_task(&m, "run39"));
	/* The oldest running ones went only once no finished one was left. */
	for (i = 0; i < 16; i++) {
		snprintf(id, sizeof id, "done%02d", i);
		assert_null(con_model_task(&m, id));
	}
	con_model_free(&m);
}

/* FNV-1a as the model used to hash ids: fixed, so collisions could be made in advance. */
static uint64_t
fnv1a_plain(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

/*
 * Task ids chosen to share one bucket of a fixed hash (anyone who may
 * write to the tasks topic can pick them) spread over the buckets: the
 * hash is seeded per model. Without the seed, every lookup of these
 * tasks would walk all of them.
 */
static void
test_model_hash_seeded(void **state)
{
	enum { N = 1000 };
	struct con_model m, m2;
	char (*ids)[16] = calloc(N, sizeof *ids);
	uint64_t want = 0;
	size_t i, n = 0, longest = 0, len;
	struct con_task *t;
	unsigned int k;

	con_model_init(&m, N);
	assert_int_equal(m.nbuckets, 1024);
	for (k = 0; n < N; k++) {
		char id[16];

		snprintf(id, sizeof id, "c%08x", k);
		if (n == 0)
			want = fnv1a_plain(id) & (m.nbuckets - 1);
		if ((fnv1a_plain(id) & (m.nbuckets - 1)) == want)
			memcpy(ids[n++], id, sizeof id);
	}
	for (i = 0; i < N; i++)
		feed(&m, ev_task(ids[i], TASK_RUNNING, T0, 1), 1);
	assert_int_equal(m.ntasks, N);
	for (i = 0; i < N; i++)
		assert_non_null(con_model_task(&m, ids[i]));
	for (i = 0; i < m.nbuckets; i++) {
		for (len = 0, t = m.buckets[i]; t != NULL; t = t->hnext)
			len++;
		if (len > longest)
			longest = len;
	}
	/* 1,000 ids in 1,024 buckets at random: the longest chain is over 16 about once in 10^11. */
	assert_true(longest <= 16);
	/* Another model, another seed. */
	con_model_init(&m2, N);
	assert_true(m2.hash_seed != m.hash_seed);
	con_model_free(&m2);
	con_model_free(&m);
	free(ids);
}

static void
test_model_log(void **state)
{
	struct con_model m;
	struct con_log *l = &m.log;
	char big[CON_LOG_LINE_MAX + 100];

	con_model_init(&m, 0);
	con_model_log_open(&m, "t1");
	assert_int_equal(con_model_log_append(&m, "t1", 0, "one\ntw", 6, 0), 0);
	assert_int_equal(l->total, 1);
	assert_string_equal(con_log_line(l, 0), "one");
	assert_int_equal(con_model_log_append(&m, "t1", 6, "o\x1b[2J\r\nthree", 12, 0), 0);
	/* Joined across chunks; an escape and the carriage return made harmless. */
	assert_string_equal(con_log_line(l, 1), "two?[2J ");
	/* Another task's chunk, or one from before: ignored. */
	assert_int_equal(con_model_log_append(&m, "t2", 18, "x\n", 2, 0), 0);
	assert_int_equal(con_model_log_append(&m, "t1", 3, "x\n", 2, 0), 0);
	assert_int_equal(l->total, 2);
	/* The end: what is left becomes the last line. */
	assert_int_equal(con_model_log_append(&m, "t1", 18, "", 0, 1), 0);
	assert_string_equal(con_log_line(l, 2), "three");
	assert_true(l->ended);
	/* A line with no end goes in capped pieces, nothing dropped. */
	con_model_log_open(&m, "t3");
	memset(big, 'a', sizeof big);
	assert_int_equal(con_model_log_append(&m, "t3", 0, big, sizeof big, 0), 0);
	assert_int_equal(l->total, 1);
	assert_int_equal(strlen(con_log_line(l, 0)), CON_LOG_LINE_MAX);
	assert_int_equal(con_model_log_append(&m, "t3", sizeof big, "b\n", 2, 0), 0);
	assert_int_equal(l->total, 2);
	assert_int_equal(strlen(con_log_line(l, 1)), 101);
	/* A piece ends on a character boundary: a two-byte character is not split. */
	con_model_log_open(&m, "t4");
	memset(big, 'a', sizeof big);
	big[CON_LOG_LINE_MAX - 1] = '\xc3';
	big[CON_LOG_LINE_MAX] = '\xa9';
	big[sizeof big - 1] = '\n';
	assert_int_equal(con_model_log_append(&m, "t4", 0, big, sizeof big, 0), 0);
	assert_int_equal(l->total, 2);
	assert_int_equal(strlen(con_log_line(l, 0)), CON_LOG_LINE_MAX - 1);
	assert_memory_equal(con_log_line(l, 1), "\xc3\xa9", 2);
	/* An offset that would overflow: refused. */
	assert_int_equal(con_model_log_append(&m, "t4", INT64_MAX - 1, "abc", 3, 0), -1);
	assert_null(con_log_line(l, 5));
	con_model_free(&m);
}

/* A GPU node as the gateway encodes it: ncards cards, card 0 held as procs says. */
static cJSON *
gpu_node(const char *name, enum proto_gpu_node_state st, size_t ncards,
    const struct proto_gpu_process *procs, size_t nprocs, double util)
{
	struct proto_gpu_card *cards = calloc(ncards, sizeof *cards);
	struct proto_gpu_node n;
	cJSON *j;
	size_t i;

	assert_non_null(cards);
	memset(&n, 0, sizeof n);
	n.node = name;
	n.host = "10.0.0.1";
	n.port = 22;
	n.source = "config";
	n.state = st;
	n.stale = st == PROTO_GPU_STALE ? "ssh p@10.0.0.1:22: connect: Connection refused" : NULL;
	n.report_ms = T0;
	n.age_ms = 1000;
	for (i = 0; i < ncards; i++) {
		cards[i].index = (int)i;
		cards[i].uuid = "GPU-x";
		cards[i].name = "NVIDIA L40S";
		/* Card 0 known; the others' utilisation unknown (MIG). */
		cards[i].value[PROTO_GPU_UTIL] = util;
		cards[i].value[PROTO_GPU_MEM_USED] = 1000.4;
		cards[i].value[PROTO_GPU_MEM_TOTAL] = 46068;
		cards[i].known = (1u << PROTO_GPU_MEM_USED) | (1u << PROTO_GPU_MEM_TOTAL) |
		    (i == 0 ? 1u << PROTO_GPU_UTIL : 0);
		cards[i].why[PROTO_GPU_UTIL] = i == 0 ? NULL : "n/a";
	}
	if (ncards > 0) {
		cards[0].procs = procs;
		cards[0].nprocs = nprocs;
	}
	n.cards = cards;
	n.ncards = ncards;
	j = proto_gpu_node_encode(&n);
	free(cards);
	return j;
}

static cJSON *
gpus_answer(int enabled, int64_t interval_ms)
{
	cJSON *a = cJSON_CreateObject();

	cJSON_AddBoolToObject(a, "ok", 1);
	cJSON_AddBoolToObject(a, "enabled", enabled);
	cJSON_AddNumberToObject(a, "interval_ms", (double)interval_ms);
	cJSON_AddArrayToObject(a, "nodes");
	return a;
}

static void
test_model_gpus(void **state)
{
	static const struct proto_gpu_process procs[3] = {
		{ .pid = 1, .used_mib = 10, .name = "x", .task_id = NULL },
		{ .pid = 2, .used_mib = 10, .name = "python3", .namespace = "paia",
		  .pod = "paia-t1-2", .container = "game", .task_id = "t1", .attempt = 2 },
		{ .pid = 3, .used_mib = 10, .name = "python3", .namespace = "paia",
		  .pod = "paia-t2-1", .container = "game", .task_id = "t2", .attempt = 1 },
	};
	const struct con_gpu *g;
	struct con_model m;
	cJSON *a, *nodes;
	char *line, *cause = NULL;
	size_t busy, total;

	(void)state;
	con_model_init(&m, 0);
	m.link = CON_LINK_UP;
	a = gpus_answer(1, 2000);
	nodes = cJSON_GetObjectItem(a, "nodes");
	cJSON_AddItemToArray(nodes, gpu_node("a\x1b[2Jb", PROTO_GPU_OK, 2, procs, 3, 59.6));
	cJSON_AddItemToArray(nodes, gpu_node("gpu-b", PROTO_GPU_STALE, 1, NULL, 0, 3));
	assert_int_equal(con_model_gpus_answer(&m, a, 1000, &cause), 0);
	cJSON_Delete(a);
	assert_true(m.gpu_enabled);
	assert_int_equal(m.ngpu_nodes, 2);
	/* The node's name cleaned; the first task of ours named, the others counted. */
	assert_string_equal(m.gpu_nodes[0].node, "a?[2Jb");
	g = &m.gpu_nodes[0].cards[0];
	assert_string_equal(g->task_id, "t1");
	assert_string_equal(g->task, "t1#2 +1");
	assert_string_equal(g->pod, "paia-t1-2");
	assert_int_equal(g->others, 1);
	assert_int_equal(g->util, 60);
	assert_int_equal(g->mem_used, 1000);
	assert_int_equal(g->temp, -1);
	/* A value nvidia-smi did not give is unknown, not 0. */
	assert_int_equal(m.gpu_nodes[0].cards[1].util, -1);
	assert_null(m.gpu_nodes[0].cards[1].task);
	assert_int_equal(m.gpu_nodes[1].state, PROTO_GPU_STALE);
	assert_non_null(strstr(m.gpu_nodes[1].stale, "Connection refused"));
	assert_int_equal(m.gpu_nodes[1].report_ms, T0);
	/* Busy: a task on it; not: unknown or idle (3% under the 5% mark). */
	con_model_gpu_count(&m, &busy, &total);
	assert_int_equal(busy, 1);
	assert_int_equal(total, 3);
	/* Stale after three intervals without news. */
	assert_false(con_model_stale(&m, CON_SRC_GPUS, 1000 + 5999));
	assert_true(con_model_stale(&m, CON_SRC_GPUS, 1000 + 6001));

	/* An event replaces its node in place; a new node goes last. */
	line = proto_event_encode(PROTO_EVENT_GPU, gpu_node("gpu-b", PROTO_GPU_OK, 1, NULL, 0, 90));
	feed(&m, line, 8000);
	assert_false(con_model_stale(&m, CON_SRC_GPUS, 8000));
	assert_int_equal(m.ngpu_nodes, 2);
	assert_string_equal(m.gpu_nodes[1].node, "gpu-b");
	assert_int_equal(m.gpu_nodes[1].state, PROTO_GPU_OK);
	assert_null(m.gpu_nodes[1].stale);
	line = proto_event_encode(PROTO_EVENT_GPU, gpu_node("gpu-c", PROTO_GPU_OK, 100, NULL, 0, 0));
	feed(&m, line, 8000);
	assert_int_equal(m.ngpu_nodes, 3);
	/* A node's cards are capped. */
	assert_int_equal(m.gpu_nodes[2].ncards, 64);
	con_model_gpu_count(&m, &busy, &total);
	assert_int_equal(busy, 2);
	assert_int_equal(total, 2 + 1 + 64);

	/* No nodes key: refused by name, the model kept. */
	a = cJSON_Parse("{\"ok\":true,\"enabled\":true}");
	assert_int_equal(con_model_gpus_answer(&m, a, 9000, &cause), -1);
	assert_non_null(strstr(cause, "'nodes'"));
	free(cause);
	cJSON_Delete(a);
	assert_int_equal(m.ngpu_nodes, 3);
	/* Probing off: no node left. */
	a = gpus_answer(0, 0);
	assert_int_equal(con_model_gpus_answer(&m, a, 9000, &cause), 0);
	cJSON_Delete(a);
	assert_false(m.gpu_enabled);
	assert_int_equal(m.ngpu_nodes, 0);
	con_model_free(&m);
}

/* ---- pods, the VPN, videos, a followed log ---- */

static cJSON *
pod_view(const char *name, const char *task, const char *status, int deleted)
{
	struct proto_pod_view v;

	memset(&v, 0, sizeof v);
	v.name = name;
	v.namespace = "paia";
	v.task_id = task;
	v.attempt = 1;
	v.phase = "Running";
	v.status = status;
	v.ready = 1;
	v.total = 2;
	v.restarts = 3;
	v.node = "gpu-node-2";
	v.created_ms = T0;
	v.deleted = deleted;
	return proto_pod_view_encode(&v);
}

static void
test_model_pods(void **state)
{
	struct proto_pod_view pv[2];
	struct proto_pods p;
	struct con_model m;
	cJSON *a;
	char *cause = NULL, name[32];
	int i;

	con_model_init(&m, 100);
	/* A local runner: none, and the answer says which runner. */
	memset(&p, 0, sizeof p);
	p.runner = "local";
	a = proto_answer_ok();
	proto_pods_encode(a, &p);
	assert_int_equal(con_model_pods_answer(&m, a, 1000, &cause), 0);
	cJSON_Delete(a);
	assert_string_equal(m.pods_runner, "local");
	assert_int_equal(m.npods, 0);
	assert_int_equal(m.src[CON_SRC_PODS].offer, CON_OFFER_YES);

	/* k8s: two pods, kubectl's columns, text cleaned. */
	memset(pv, 0, sizeof pv);
	assert_int_equal(proto_pod_view_decode(a = pod_view("paia-t1-1", "t1", "Running", 0),
	    &pv[0], &cause), 0);
	memset(&p, 0, sizeof p);
	p.runner = "k8s";
	p.namespace = "paia";
	p.synced = 1;
	pv[1] = pv[0];
	pv[1].name = "paia-t2-1";
	pv[1].status = "OOM\x1b[2JKilled";
	p.pods = pv;
	p.npods = 2;
	{
		cJSON *ans = proto_answer_ok();

		proto_pods_encode(ans, &p);
		cJSON_Delete(a);
		assert_int_equal(con_model_pods_answer(&m, ans, 2000, &cause), 0);
		cJSON_Delete(ans);
	}
	assert_string_equal(m.pods_runner, "k8s");
	assert_true(m.pods_synced);
	assert_int_equal(m.npods, 2);
	assert_string_equal(m.pods[0]->name, "paia-t1-1");
	assert_string_equal(m.pods[0]->task, "t1");
	assert_string_equal(m.pods[0]->ready, "1/2");
	assert_int_equal(m.pods[0]->restarts, 3);
	assert_string_equal(m.pods[0]->node, "gpu-node-2");
	assert_int_equal(m.pods[0]->created, T0);
	assert_string_equal(m.pods[1]->status, "OOM?[2JKilled");

	/* Events: a change replaces by name, a new one is added, deleted removes. */
	feed(&m, proto_event_encode(PROTO_EVENT_POD, pod_view("paia-t1-1", "t1", "Completed", 0)),
	    3000);
	assert_int_equal(m.npods, 2);
	assert_string_equal(m.pods[0]->status, "Completed");
	feed(&m, proto_event_encode(PROTO_EVENT_POD, pod_view("paia-t3-1", "t3", "Pending", 0)),
	    3000);
	assert_int_equal(m.npods, 3);
	assert_string_equal(m.pods[2]->name, "paia-t3-1");
	feed(&m, proto_event_encode(PROTO_EVENT_POD, pod_view("paia-t1-1", "t1", "Completed", 1)),
	    3000);
	assert_int_equal(m.npods, 2);
	con_model_pods_pack(&m);
	assert_string_equal(m.pods[0]->name, "paia-t2-1");
	assert_string_equal(m.pods[1]->name, "paia-t3-1");
	/* A name with a control character matches itself as kept (cleaned). */
	feed(&m, proto_event_encode(PROTO_EVENT_POD, pod_view("odd\x1bpod", NULL, "Running", 0)),
	    3000);
	feed(&m, proto_event_encode(PROTO_EVENT_POD, pod_view("odd\x1bpod", NULL, "Running", 1)),
	    3000);
	assert_int_equal(m.npods, 2);
	/* A pod gone that was never seen: nothing. */
	feed(&m, proto_event_encode(PROTO_EVENT_POD, pod_view("paia-x", NULL, "Failed", 1)), 3000);
	assert_int_equal(m.npods, 2);
	con_model_pods_pack(&m);
	assert_null(m.pods[0]->task == NULL ? NULL : strstr(m.pods[0]->task, "x"));
	/* Bounded. */
	for (i = 0; i < CON_PODS_MAX + 10; i++) {
		snprintf(name, sizeof name, "p-%d", i);
		feed(&m, proto_event_encode(PROTO_EVENT_POD, pod_view(name, NULL, "Running", 0)),
		    4000);
	}
	assert_int_equal(m.npods, CON_PODS_MAX);
	assert_null(m.pods[5]->task);
	/* ... and it knows it: the view says more are not shown. */
	assert_int_equal(m.pods_cut, 12);

	/* A bad answer leaves the model as it was. */
	a = cJSON_Parse("{\"ok\":true,\"pods\":[]}");
	assert_int_equal(con_model_pods_answer(&m, a, 5000, &cause), -1);
	assert_non_null(strstr(cause, "runner"));
	free(cause);
	cause = NULL;
	cJSON_Delete(a);
	assert_int_equal(m.npods, CON_PODS_MAX);
	con_model_free(&m);
}

static cJSON *
vpn_view(int enabled, enum proto_vpn_result r2)
{
	static struct proto_vpn_check checks[2];
	struct proto_vpn_view v;

	memset(&v, 0, sizeof v);
	memset(checks, 0, sizeof checks);
	v.enabled = enabled;
	v.mode = "spawn";
	v.state = PROTO_VPN_CONNECTED;
	v.since_ms = T0;
	v.pid = 4711;
	v.bytes_in = 81234;
	v.bytes_out = 20480;
	v.tun_ip = "10.8.0.2";
	v.tun_dev = "tun0";
	v.healthy = r2 == PROTO_VPN_OK;
	checks[0].kind = PROTO_VPN_ROUTE;
	checks[0].target = "10.77.0.0/24";
	checks[0].result = PROTO_VPN_OK;
	checks[0].reason = "via tun0";
	checks[0].age_ms = checks[0].latency_ms = -1;
	checks[1].kind = PROTO_VPN_ENDPOINT;
	checks[1].target = "10.77.0.10:443";
	checks[1].result = r2;
	checks[1].reason = "connection refused";
	checks[1].age_ms = checks[1].latency_ms = -1;
	v.checks = checks;
	v.nchecks = 2;
	if (r2 == PROTO_VPN_FAILED)
		v.error = "a \x1b]0;title\x07 error";
	return proto_vpn_view_encode(&v);
}

/* pod_event NAME STATUS DELETED: a pod event fed to the model. */
static void
pod_event(struct con_model *m, const char *name, const char *status, int deleted)
{
	feed(m, proto_event_encode(PROTO_EVENT_POD, pod_view(name, NULL, status, deleted)), 1000);
}

/* Every pod is found by its name at its place; the places are in order. */
static void
pods_index_ok(struct con_model *m)
{
	size_t i;

	con_model_pods_pack(m);
	assert_int_equal(m->pods_len, m->npods);
	for (i = 0; i < m->npods; i++) {
		assert_non_null(m->pods[i]);
		assert_int_equal(m->pods[i]->at, i);
		assert_ptr_equal(con_model_pod(m, m->pods[i]->name), m->pods[i]);
		if (i > 0)
			assert_true(strcmp(m->pods[i - 1]->name, m->pods[i]->name) < 0);
	}
}

/*
 * A big cluster's pods (tens of thousands): found by name, changed and
 * deleted by event in place, the gateway's order kept; bounded at
 * CON_PODS_MAX, more counted; a pods event asks for the list again.
 */
static void
test_model_pods_index(void **state)
{
	enum { N = 20000, NN = CON_PODS_MAX + N };
	struct proto_pod_view *pv = calloc(NN, sizeof *pv);
	char (*names)[16] = calloc(NN, sizeof *names);
	struct proto_pods_event pe = { 1, N };
	struct proto_pods p;
	struct con_model m;
	cJSON *a;
	char *cause = NULL;
	size_t i, n;

	assert_true(CON_PODS_MAX >= 50000);
	con_model_init(&m, 100);
	/* The answer: N pods, oldest first. */
	for (i = 0; i < NN; i++) {
		snprintf(names[i], sizeof names[i], "pod-%06zu", i);
		pv[i].name = names[i];
		pv[i].status = "Running";
	}
	memset(&p, 0, sizeof p);
	p.runner = "k8s";
	p.synced = 1;
	p.pods = pv;
	p.npods = N;
	a = proto_answer_ok();
	proto_pods_encode(a, &p);
	assert_int_equal(con_model_pods_answer(&m, a, 1000, &cause), 0);
	cJSON_Delete(a);
	assert_int_equal(m.npods, N);
	assert_int_equal(m.pods_cut, 0);
	pods_index_ok(&m);
	assert_string_equal(m.pods[N - 1]->name, "pod-019999");
	assert_null(con_model_pod(&m, "pod-020000"));

	/* Changes by event: in place, order kept. */
	for (i = 0; i < N; i += 3)
		pod_event(&m, names[i], "Completed", 0);
	assert_int_equal(m.npods, N);
	assert_string_equal(con_model_pod(&m, "pod-000003")->status, "Completed");
	assert_string_equal(con_model_pod(&m, "pod-000004")->status, "Running");
	assert_ptr_equal(m.pods[3], con_model_pod(&m, "pod-000003"));

	/* Deletes by event: every other pod; the rest keep their order. */
	for (i = 0; i < N; i += 2)
		pod_event(&m, names[i], "Completed", 1);
	assert_int_equal(m.npods, N / 2);
	assert_null(con_model_pod(&m, "pod-000000"));
	assert_null(con_model_pod(&m, "pod-019998"));
	assert_non_null(con_model_pod(&m, "pod-019999"));
	assert_true(m.pods_len <= 2 * m.npods + 1);	/* holes closed as they pile up */
	pods_index_ok(&m);
	assert_string_equal(m.pods[0]->name, "pod-000001");
	assert_string_equal(m.pods[N / 2 - 1]->name, "pod-019999");
	/* A delete of a pod not kept, again: nothing. */
	pod_event(&m, names[0], "Completed", 1);
	assert_int_equal(m.npods, N / 2);

	/* New pods come after the others, up to the bound; more are counted, not kept. */
	for (i = N; i < N + CON_PODS_MAX - N / 2 + 10; i++)
		pod_event(&m, names[i], "Pending", 0);
	assert_int_equal(m.npods, CON_PODS_MAX);
	pods_index_ok(&m);
	assert_string_equal(m.pods[N / 2]->name, "pod-020000");
	assert_int_equal(m.pods_cut, 10);
	n = m.pods_cut;
	/* At the bound a kept pod still changes, and one gone makes room. */
	pod_event(&m, "pod-000001", "Error", 0);
	assert_string_equal(con_model_pod(&m, "pod-000001")->status, "Error");
	assert_int_equal(m.pods_cut, n);
	pod_event(&m, "pod-new", "Pending", 0);
	assert_int_equal(m.pods_cut, n + 1);
	assert_null(con_model_pod(&m, "pod-new"));
	pod_event(&m, "pod-000001", "Error", 1);
	pod_event(&m, "pod-new", "Pending", 0);
	assert_int_equal(m.npods, CON_PODS_MAX);
	pods_index_ok(&m);
	assert_string_equal(m.pods[CON_PODS_MAX - 1]->name, "pod-new");

	/* A pods event: the list was replaced; the model counts it for the feed, keeps the list. */
	feed(&m, proto_event_encode(PROTO_EVENT_PODS, proto_pods_event_encode(&pe)), 2000);
	assert_int_equal(m.pods_listed, 1);
	assert_int_equal(m.npods, CON_PODS_MAX);
	/* The answer then replaces it: more than the bound, the first kept, the rest counted. */
	p.npods = CON_PODS_MAX + 10;
	a = proto_answer_ok();
	proto_pods_encode(a, &p);
	assert_int_equal(con_model_pods_answer(&m, a, 3000, &cause), 0);
	cJSON_Delete(a);
	assert_int_equal(m.npods, CON_PODS_MAX);
	assert_int_equal(m.pods_cut, 10);
	pods_index_ok(&m);
	assert_string_equal(m.pods[0]->name, "pod-000000");
	assert_null(con_model_pod(&m, "pod-new"));
	assert_null(con_model_pod(&m, names[CON_PODS_MAX]));

	con_model_free(&m);
	free(pv);
	free(names);
}

static void
test_model_vpn(void **state)
{
	struct con_model m;
	cJSON *a;
	char *cause = NULL;

	con_model_init(&m, 100);
	/* Not configured: an answer, not an error. */
	a = proto_answer_ok();
	cJSON_AddItemToObject(a, "vpn", vpn_view(0, PROTO_VPN_OK));
	assert_int_equal(con_model_vpn_answer(&m, a, 1000, &cause), 0);
	cJSON_Delete(a);
	assert_true(m.vpn.has);
	assert_false(m.vpn.enabled);
	assert_null(m.vpn.state);
	assert_int_equal(m.src[CON_SRC_VPN].offer, CON_OFFER_YES);
	assert_null(m.src[CON_SRC_VPN].error);

	a = proto_answer_ok();
	cJSON_AddItemToObject(a, "vpn", vpn_view(1, PROTO_VPN_OK));
	assert_int_equal(con_model_vpn_answer(&m, a, 1000, &cause), 0);
	cJSON_Delete(a);
	assert_true(m.vpn.enabled);
	assert_true(m.vpn.healthy);
	assert_string_equal(m.vpn.state, "CONNECTED");
	assert_int_equal(m.vpn.since, T0);
	assert_int_equal(m.vpn.bytes_in, 81234);
	assert_int_equal(m.vpn.bytes_out, 20480);
	assert_string_equal(m.vpn.checks, "2 ok, 0 failed, 0 pending");
	assert_null(m.vpn.error);

	/* An event carries the whole view: a failed check and its reason, the error cleaned. */
	feed(&m, proto_event_encode(PROTO_EVENT_VPN, vpn_view(1, PROTO_VPN_FAILED)), 2000);
	assert_false(m.vpn.healthy);
	assert_string_equal(m.vpn.checks,
	    "1 ok, 1 failed, 0 pending; 10.77.0.10:443: connection refused");
	assert_non_null(m.vpn.error);
	assert_null(strchr(m.vpn.error, '\x1b'));
	assert_null(strchr(m.vpn.error, '\x07'));

	/* No vpn object: refused, the model unchanged. */
	a = proto_answer_ok();
	assert_int_equal(con_model_vpn_answer(&m, a, 3000, &cause), -1);
	assert_non_null(strstr(cause, "vpn"));
	free(cause);
	cJSON_Delete(a);
	assert_string_equal(m.vpn.state, "CONNECTED");
	con_model_free(&m);
}

static cJSON *
video_view(const char *task, int attempt, int64_t reported)
{
	struct proto_video_view v;

	memset(&v, 0, sizeof v);
	v.task_id = task;
	v.attempt = attempt;
	v.game = "catch";
	v.status = "succeeded";
	v.name = "video.mp4";
	v.url = "s3://results/t/1/video.mp4";
	v.content_type = "video/mp4";
	v.bytes = 11431;
	v.reported_ms = reported;
	return proto_video_view_encode(&v);
}

static void
test_model_videos(void **state)
{
	struct con_model m;
	cJSON *a, *arr;
	char *cause = NULL, id[32];
	int i;

	con_model_init(&m, 100);
	/* The answer is newest first, and so is the model. */
	a = proto_answer_ok();
	arr = cJSON_AddArrayToObject(a, "videos");
	cJSON_AddItemToArray(arr, video_view("t2", 1, T0 + 2000));
	cJSON_AddItemToArray(arr, video_view("t1", 1, T0 + 1000));
	assert_int_equal(con_model_videos_answer(&m, a, 1000, &cause), 0);
	cJSON_Delete(a);
	assert_int_equal(m.nvideos, 2);
	assert_string_equal(m.videos[0].task, "t2");
	assert_string_equal(m.videos[1].task, "t1");
	assert_int_equal(m.videos[1].bytes, 11431);
	assert_int_equal(m.videos[1].reported, T0 + 1000);
	assert_string_equal(m.videos[1].url, "s3://results/t/1/video.mp4");

	/* An event goes first; a repeat of one moves it first, not twice. */
	feed(&m, proto_event_encode(PROTO_EVENT_VIDEO, video_view("t3", 1, T0 + 3000)), 2000);
	assert_int_equal(m.nvideos, 3);
	assert_string_equal(m.videos[0].task, "t3");
	feed(&m, proto_event_encode(PROTO_EVENT_VIDEO, video_view("t1", 1, T0 + 4000)), 2000);
	assert_int_equal(m.nvideos, 3);
	assert_string_equal(m.videos[0].task, "t1");
	assert_string_equal(m.videos[1].task, "t3");
	assert_string_equal(m.videos[2].task, "t2");
	/* Another attempt is another video. */
	feed(&m, proto_event_encode(PROTO_EVENT_VIDEO, video_view("t1", 2, T0 + 5000)), 2000);
	assert_int_equal(m.nvideos, 4);
	/* Bounded: the oldest go. */
	for (i = 0; i < CON_VIDEOS_MAX + 5; i++) {
		snprintf(id, sizeof id, "v%d", i);
		feed(&m, proto_event_encode(PROTO_EVENT_VIDEO, video_view(id, 1, T0 + i)), 3000);
	}
	assert_int_equal(m.nvideos, CON_VIDEOS_MAX);
	snprintf(id, sizeof id, "v%d", CON_VIDEOS_MAX + 4);
	assert_string_equal(m.videos[0].task, id);
	assert_string_equal(m.videos[CON_VIDEOS_MAX - 1].task, "v5");

	a = cJSON_Parse("{\"ok\":true}");
	assert_int_equal(con_model_videos_answer(&m, a, 4000, &cause), -1);
	free(cause);
	cJSON_Delete(a);
	assert_int_equal(m.nvideos, CON_VIDEOS_MAX);
	con_model_free(&m);
}

static char *
ev_log(const char *id, int attempt, int64_t offset, const char *raw)
{
	struct proto_log_chunk c;
	size_t keep;
	char *text, *line;

	memset(&c, 0, sizeof c);
	c.task_id = id;
	c.attempt = attempt;
	c.source = "file";
	c.offset = offset;
	c.bytes = (int64_t)strlen(raw);
	text = proto_log_text(raw, strlen(raw), 1, &keep);
	c.data = text;
	c.len = strlen(text);
	line = proto_event_encode(PROTO_EVENT_LOG, proto_log_chunk_encode(&c));
	free(text);
	return line;
}

static char *
ev_log_end(const char *id, int attempt, enum proto_log_reason r, const char *error)
{
	struct proto_log_end e;

	memset(&e, 0, sizeof e);
	e.task_id = id;
	e.attempt = attempt;
	e.reason = r;
	e.error = error;
	e.bytes = 10;
	return proto_event_encode(PROTO_EVENT_LOG_END, proto_log_end_encode(&e));
}

static void
test_model_log_events(void **state)
{
	struct con_model m;

	con_model_init(&m, 100);
	con_model_log_open(&m, "t1");
	/*
	 * A byte that is no UTF-8 comes as U+FFFD (3 bytes of text for 1 of
	 * log): the next chunk's offset counts the log's bytes, so it is
	 * not taken for a repeat.
	 */
	feed(&m, ev_log("t1", 1, 0, "a\xff\n"), 1000);
	feed(&m, ev_log("t1", 1, 3, "b\nc"), 1000);
	assert_int_equal(m.log.total, 2);
	assert_int_equal(m.log.offset, 6);
	assert_string_equal(con_log_line(&m.log, 1), "b");
	/* Another task's chunk, and a repeat: ignored. */
	feed(&m, ev_log("t2", 1, 6, "x\n"), 1000);
	feed(&m, ev_log("t1", 1, 3, "b\nc"), 1000);
	assert_int_equal(m.log.total, 2);
	assert_int_equal(m.src[CON_SRC_LOGS].offer, CON_OFFER_YES);
	/* The end: the partial line is a line, and why it ended. */
	feed(&m, ev_log_end("t2", 1, PROTO_LOG_DONE, NULL), 1000);
	assert_false(m.log.ended);
	feed(&m, ev_log_end("t1", 1, PROTO_LOG_ERROR, "log.txt is a FIFO"), 1000);
	assert_true(m.log.ended);
	assert_int_equal(m.log.total, 3);
	assert_string_equal(con_log_line(&m.log, 2), "c");
	assert_string_equal(m.log.end, "error: log.txt is a FIFO");

	/* Asked again from the start (a reconnect): the lines start over. */
	con_model_log_restart(&m);
	assert_string_equal(m.log.id, "t1");
	assert_int_equal(m.log.total, 0);
	assert_false(m.log.ended);
	assert_null(m.log.end);
	feed(&m, ev_log("t1", 1, 0, "a\n"), 2000);
	assert_int_equal(m.log.total, 1);
	/* A later attempt's log starts over from its own start. */
	feed(&m, ev_log("t1", 2, 0, "second\n"), 2000);
	assert_int_equal(m.log.attempt, 2);
	assert_int_equal(m.log.total, 1);
	assert_string_equal(con_log_line(&m.log, 0), "second");
	/* The older attempt's rest is dropped. */
	feed(&m, ev_log("t1", 1, 2, "late\n"), 2000);
	assert_int_equal(m.log.total, 1);
	feed(&m, ev_log_end("t1", 2, PROTO_LOG_DONE, NULL), 2000);
	assert_string_equal(m.log.end, "done");

	/* Refused: why, for that task only. */
	con_model_log_fail(&m, "t9", "no task t9");
	assert_null(m.log.error);
	con_model_log_open(&m, "t9");
	con_model_log_fail(&m, "t9", "no task \x1bt9");
	assert_string_equal(m.log.error, "no task ?t9");
	con_model_free(&m);
}

/* ---- the tasks view's rows ---- */

static void
rows_equal_rebuilt(struct con *con)
{
	struct con_task **patched;
	size_t i, n = con->nrows;

	patched = xcalloc(n + 1, sizeof *patched);
	memcpy(patched, con->rows, n * sizeof *patched);
	con->rows_valid = 0;
	con_rows_update(con);
	assert_int_equal(con->nrows, n);
	for (i = 0; i < n; i++)
		assert_ptr_equal(con->rows[i], patched[i]);
	free(patched);
}

static void
test_rows_patch(void **state)
{
	struct con con;
	int i;
	char id[16];

	memset(&con, 0, sizeof con);
	con_model_init(&con.model, 0);
	con.ui.filter.state = con.ui.filter.status = -1;
	con.ui.task_sort = 5;	/* age: the latest received first */
	for (i = 0; i < 10; i++) {
		snprintf(id, sizeof id, "t%d", i);
		feed(&con.model, ev_task(id, TASK_RUNNING, T0 + i * 1000, 1), 1);
	}
	con_rows_update(&con);
	assert_int_equal(con.nrows, 10);
	assert_string_equal(con.rows[0]->id, "t9");
	/*
	 * Two tasks move in one batch (received again, requeued): t1 to just
	 * after t9, then t5 to the top. Put back one at a time into rows
	 * where t5 still sits at its old place with its new key, t1's binary
	 * search would follow t5's key and land it far down.
	 */
	feed(&con.model, ev_task("t1", TASK_RECEIVED, T0 + 8500, 2), 2);
	feed(&con.model, ev_task("t5", TASK_RECEIVED, T0 + 99999, 2), 2);
	con_rows_update(&con);
	assert_string_equal(con.rows[0]->id, "t5");
	assert_string_equal(con.rows[1]->id, "t9");
	assert_string_equal(con.rows[2]->id, "t1");
	assert_string_equal(con.rows[3]->id, "t8");
	assert_string_equal(con.rows[9]->id, "t0");
	rows_equal_rebuilt(&con);
	/* A filter: only what matches, patched as things change. */
	assert_int_equal(con_filter_set(&con.ui.filter, "state=running", NULL), 0);
	con_rows_update(&con);
	assert_int_equal(con.nrows, 8);
	feed(&con.model, ev_task("t3", TASK_DONE, T0 + 3000, 1), 3);
	feed(&con.model, ev_task("t1", TASK_RUNNING, T0 + 20000, 2), 3);
	con_rows_update(&con);
	assert_int_equal(con.nrows, 8);
	assert_string_equal(con.rows[0]->id, "t1");
	rows_equal_rebuilt(&con);
	con_filter_clear(&con.ui.filter);
	free(con.rows);
	con_model_free(&con.model);
}

/* ---- filters ---- */

static void
test_filter(void **state)
{
	struct con_filter f;
	struct con_task t;
	char *cause = NULL;

	memset(&f, 0, sizeof f);
	f.state = f.status = -1;
	memset(&t, 0, sizeof t);
	strcpy(t.id, "demo-12");
	strcpy(t.game, "catch");
	t.state = TASK_RUNNING;
	assert_true(con_filter_task(&f, &t));
	assert_int_equal(con_filter_set(&f, "DEMO-1[0-9]", &cause), 0);
	assert_true(con_filter_task(&f, &t));
	assert_int_equal(con_filter_set(&f, "state=running game=catch demo", &cause), 0);
	assert_true(con_filter_task(&f, &t));
	assert_int_equal(con_filter_set(&f, "state=active", &cause), 0);
	assert_true(con_filter_task(&f, &t));
	t.state = TASK_FAILED;
	assert_false(con_filter_task(&f, &t));
	assert_int_equal(con_filter_set(&f, "status=failed", &cause), 0);
	assert_false(con_filter_task(&f, &t));	/* no status yet */
	t.has_status = 1;
	t.status = RESULT_FAILED;
	assert_true(con_filter_task(&f, &t));
	/* A key that is not a field is part of the regex. */
	assert_int_equal(con_filter_set(&f, "x=1", &cause), 0);
	assert_false(con_filter_task(&f, &t));
	assert_int_equal(con_filter_set(&f, "state=sleeping", &cause), -1);
	assert_non_null(strstr(cause, "unknown state 'sleeping'"));
	free(cause);
	assert_int_equal(con_filter_set(&f, "(", &cause), -1);
	assert_non_null(strstr(cause, "/("));
	free(cause);
	/* A refused filter leaves the one in force. */
	assert_string_equal(f.text, "x=1");
	con_filter_clear(&f);
	assert_null(f.text);
}

/* ---- formats and layout ---- */

static void
test_formats(void **state)
{
	char b[32];

	assert_string_equal(con_fmt_dur(0, b, sizeof b), "0ms");
	assert_string_equal(con_fmt_dur(428, b, sizeof b), "428ms");
	assert_string_equal(con_fmt_dur(4200, b, sizeof b), "4.2s");
	assert_string_equal(con_fmt_dur(245000, b, sizeof b), "4m05s");
	assert_string_equal(con_fmt_dur(-1, b, sizeof b), "-");
	assert_string_equal(con_fmt_clock(T0 + 123, b, sizeof b), "00:53:20.123");
	assert_string_equal(con_fmt_clock(0, b, sizeof b), "-");
	assert_string_equal(con_fmt_bytes(1536, b, sizeof b), "1.5 KiB");
	assert_string_equal(con_fmt_rate(12.25, b, sizeof b), "12.2");
	assert_string_equal(con_fmt_rate(-1, b, sizeof b), "-");
	con_fmt_freeze(1);
	assert_string_equal(con_fmt_dur(4200, b, sizeof b), "~");
	assert_string_equal(con_fmt_clock(T0, b, sizeof b), "~");
	assert_string_equal(con_fmt_rate(-1, b, sizeof b), "~");
	assert_string_equal(con_fmt_dur(-1, b, sizeof b), "-");
	con_fmt_freeze(0);
}

static void
test_cols(void **state)
{
	struct con_col c[] = {
		{ "A", 10, CON_LEFT, 0 }, { "B", 20, CON_LEFT, 3 }, { "C", 0, CON_LEFT, 1 },
		{ "D", 5, CON_RIGHT, 2 },
	};

	/* Wide: all, the flexible one takes the rest. */
	assert_int_equal(con_cols_layout(c, 4, 100), 4);
	assert_int_equal(c[2].w, 100 - 10 - 20 - 5 - 3);
	assert_int_equal(c[3].x + c[3].w, 100);
	/* Narrow: the least kept (B) goes, the flexible one keeps its minimum. */
	assert_int_equal(con_cols_layout(c, 4, 40), 3);
	assert_false(c[1].shown);
	assert_true(c[2].w >= 12);
}

/* ---- con_put: what reaches the terminal ---- */

static SCREEN *scr;
static FILE *scr_out, *scr_in;

static int
put_setup(void **state)
{
	scr_out = fopen("/dev/null", "w");
	scr_in = fopen("/dev/null", "r");
	if ((scr = newterm("xterm-256color", scr_out, scr_in)) == NULL)
		return -1;
	set_term(scr);
	return 0;
}

static int
put_teardown(void **state)
{
	endwin();
	delscreen(scr);
	fclose(scr_out);
	fclose(scr_in);
	return 0;
}

/* Row y of w as wide characters, trailing spaces cut. */
static void
row(WINDOW *w, int y, wchar_t *out, int n)
{
	int i;

	mvwinnwstr(w, y, 0, out, n);
	for (i = (int)wcslen(out); i > 0 && out[i - 1] == L' '; i--)
		out[i - 1] = L'\0';
}

static void
test_put(void **state)
{
	WINDOW *w = newwin(4, 20, 0, 0);
	wchar_t got[64];

	/* C0, DEL, C1 (U+009B, a CSI in some terminals), broken UTF-8: each a '?'. */
	con_put(w, 0, 0, 20, 0, CON_LEFT, 0, "a\x1b[2J\x7f\xc2\x9b\xff" "b");
	row(w, 0, got, 64);
	assert_true(wcscmp(got, L"a?[2J???b") == 0);
	/* Cut with an ellipsis at the width. */
	con_put(w, 1, 0, 8, 0, CON_LEFT, 0, "abcdefghijkl");
	row(w, 1, got, 64);
	assert_true(wcscmp(got, L"abcdefg\u2026") == 0);
	/* Wide characters count two columns; right alignment pads on the left. */
	assert_int_equal(con_width("\xe4\xb8\xad\xe6\x96\x87"), 4);
	con_put(w, 2, 0, 6, 0, CON_RIGHT, 1, "\xe4\xb8\xad\xe6\x96\x87");
	row(w, 2, got, 64);
	assert_true(wcscmp(got, L"  \u4e2d\u6587") == 0);
	delwin(w);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_model_status),
		cmocka_unit_test(test_model_bad_lines),
		cmocka_unit_test(test_model_relist),
		cmocka_unit_test(test_model_evict),
		cmocka_unit_test(test_model_hash_seeded),
		cmocka_unit_test(test_model_log),
		cmocka_unit_test(test_model_gpus),
		cmocka_unit_test(test_model_pods),
		cmocka_unit_test(test_model_pods_index),
		cmocka_unit_test(test_model_vpn),
		cmocka_unit_test(test_model_videos),
		cmocka_unit_test(test_model_log_events),
		cmocka_unit_test(test_rows_patch),
		cmocka_unit_test(test_filter),
		cmocka_unit_test(test_formats),
		cmocka_unit_test(test_cols),
		cmocka_unit_test_setup_teardown(test_put, put_setup, put_teardown),
	};

	setlocale(LC_ALL, "C.UTF-8");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
