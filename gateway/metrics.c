/*
 * metrics.c: the HTTP side of health.listen, on libevent's evhttp:
 *
 *   GET /livez     200 while the process is not wedged (probes.c): the
 *                  Deployment's liveness and startup probe
 *   GET /readyz    200 while it can take work: Kafka answers, the
 *                  producer is initialised, the consumer has its
 *                  assignment, it is not draining (readiness probe)
 *   GET /healthz   200 "ok" and a line per partition, or 503 naming the
 *                  partitions that made no progress for health.failures
 *                  checks in a row and why (and 503 while draining, or
 *                  once the VPN tunnel has been down longer than
 *                  vpn.unhealthy_after_s): Burrow's verdict, for alerts,
 *                  not for restarts
 *   GET /metrics   Prometheus text exposition (version 0.0.4)
 *   GET /lag       the LAG object (docs/control.md), as "paiactl lag"
 *
 * Read-only and unauthenticated, like every Prometheus endpoint: bind
 * it to loopback or a cluster-internal address.
 *
 * /metrics keeps Prometheus' conventions: counters end in _total, units
 * in the name (_seconds, _bytes); a value that is not known is left out,
 * never written as -1; gauges split by a label sum to the whole
 * (paia_tasks: every task in flight in exactly one state); consumer
 * series carry group, topic and partition as kafka-lag-exporter's do;
 * process_* as the official clients write them. One function a section.
 *
 * Bounds: request headers METRICS_HEADERS_MAX, a body METRICS_BODY_MAX
 * (more: 413), METRICS_TIMEOUT_S without progress ends a connection,
 * and at most health.max_connections at once: libevent 2.1's evhttp has
 * no such cap, so each accepted connection is counted where evhttp asks
 * us for its bufferevent (evhttp_set_bevcb) and uncounted in its close
 * callback, which a deferred event sets once evhttp has made the
 * connection; at the cap the listener is disabled (further connections
 * wait in the kernel's queue). Accept failures pause it (evaccept.c).
 */
#include "config.h"
#include "gateway.h"
#include "vpn.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <librdkafka/rdkafka.h>

#define METRICS_HEADERS_MAX (16 * 1024)
#define METRICS_BODY_MAX 1024
#define METRICS_TIMEOUT_S 10

struct metrics {
	struct gw *gw;
	struct evhttp *http;
	struct evconnlistener *listener;
	struct evaccept *guard;
	size_t nconns;
	size_t max_conns;
	struct bufferevent **fresh;	/* accepted, close callback not yet set */
	size_t nfresh;
	struct event *pickup;
};

static void
metrics_add(struct evbuffer *b, const char *name, const char *type, const char *help)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* ---- the build and the process ---- */

static void
metrics_build(struct evbuffer *b)
{
	metrics_add(b, "paia_build_info", "gauge",
	    "Always 1: the gateway's version and the libraries it runs on.");
	evbuffer_add(b, "paia_build_info{", 16);
	prom_label(b, "version", PACKAGE_VERSION, 1);
	prom_label(b, "librdkafka", rd_kafka_version_str(), 0);
	prom_label(b, "libcurl", curl_version_info(CURLVERSION_NOW)->version, 0);
	prom_label(b, "libevent", event_get_version(), 0);
	evbuffer_add(b, "} 1\n", 4);
}

/* The boot time (seconds since the epoch) from /proc/stat, or -1. */
static long long
metrics_boot_time(void)
{
	static long long btime = -1;
	char *s, *p, *cause = NULL;
	size_t len;

	if (btime >= 0)
		return btime;
	if ((s = util_read_file("/proc/stat", 1024 * 1024, &len, &cause)) == NULL) {
		free(cause);
		return -1;
	}
	if ((p = strstr(s, "\nbtime ")) != NULL)
		btime = strtoll(p + 7, NULL, 10);
	free(s);
	return btime;
}

/* process_*: what the official Prometheus clients export, from /proc/self. */
static void
metrics_process(struct evbuffer *b)
{
	unsigned long long utime, stime, start, vsize;
	long long rss, btime;
	long ticks = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	char *s, *p, *cause = NULL;
	struct rlimit rl;
	struct dirent *de;
	size_t len, fds = 0;
	DIR *d;

	if ((s = util_read_file("/proc/self/stat", 4096, &len, &cause)) == NULL) {
		free(cause);
		return;
	}
	/* After the command's ")": state is field 3; utime 14, stime 15, starttime 22. */
	if ((p = strrchr(s, ')')) != NULL && ticks > 0 && sscanf(p + 2,
	    "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d %*d "
	    "%llu %llu %lld", &utime, &stime, &start, &vsize, &rss) == 5) {
		metrics_add(b, "process_cpu_seconds_total", "counter",
		    "Total user and system CPU time spent in seconds.");
		evbuffer_add_printf(b, "process_cpu_seconds_total %.2f\n",
		    (double)(utime + stime) / (double)ticks);
		metrics_add(b, "process_resident_memory_bytes", "gauge",
		    "Resident memory size in bytes.");
		evbuffer_add_printf(b, "process_resident_memory_bytes %lld\n", rss * page);
		metrics_add(b, "process_virtual_memory_bytes", "gauge",
		    "Virtual memory size in bytes.");
		evbuffer_add_printf(b, "process_virtual_memory_bytes %llu\n", vsize);
		if ((btime = metrics_boot_time()) >= 0) {
			metrics_add(b, "process_start_time_seconds", "gauge",
			    "Start time of the process since unix epoch in seconds.");
			evbuffer_add_printf(b, "process_start_time_seconds %.2f\n",
			    (double)btime + (double)start / (double)ticks);
		}
	}
	free(s);
	if ((d = opendir("/proc/self/fd")) != NULL) {
		while ((de = readdir(d)) != NULL)
			if (de->d_name[0] != '.')
				fds++;
		closedir(d);
		metrics_add(b, "process_open_fds", "gauge", "Number of open file descriptors.");
		/* Less the one reading the folder. */
		evbuffer_add_printf(b, "process_open_fds %zu\n", fds > 0 ? fds - 1 : 0);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
		metrics_add(b, "process_max_fds", "gauge",
		    "Maximum number of open file descriptors.");
		evbuffer_add_printf(b, "process_max_fds %llu\n", (unsigned long long)rl.rlim_cur);
	}
}

/* ---- the gateway ---- */

static void
metrics_gateway(struct evbuffer *b, struct gw *gw)
{
	char *why = NULL;
	int ready = probes_ready(gw, &why);

	free(why);
	metrics_add(b, "paia_ready", "gauge",
	    "1 while the gateway can take work (what /readyz says).");
	evbuffer_add_printf(b, "paia_ready %d\n", ready);
	metrics_add(b, "paia_draining", "gauge",
	    "1 while the gateway drains (SIGTERM or a fatal error).");
	evbuffer_add_printf(b, "paia_draining %d\n", gw->draining);
	metrics_add(b, "paia_uptime_seconds", "gauge", "Seconds since start.");
	evbuffer_add_printf(b, "paia_uptime_seconds %" PRId64 "\n",
	    (util_now_ms() - gw->start_ms) / 1000);
	metrics_add(b, "paia_max_inflight", "gauge", "Tasks allowed to run at once.");
	evbuffer_add_printf(b, "paia_max_inflight %zu\n", gw->max_inflight);
}

/* ---- tasks, results, dead letters, steps ---- */

static void
metrics_tasks(struct evbuffer *b, struct gw *gw)
{
	uint64_t counts[TASK_NSTATES] = { 0 }, waiting = 0;
	const struct task *t;
	size_t i;

	/* Each task in one state: a waiting task is not also counted as received. */
	TAILQ_FOREACH(t, &gw->active, entry) {
		if (t->waiting)
			waiting++;
		else
			counts[t->state]++;
	}
	metrics_add(b, "paia_tasks", "gauge", "Tasks in flight by state; they sum to all in flight "
	    "(waiting: received and held back by max_inflight).");
	evbuffer_add_printf(b, "paia_tasks{state=\"waiting\"} %" PRIu64 "\n", waiting);
	for (i = 0; i <= TASK_REPORTING; i++)
		evbuffer_add_printf(b, "paia_tasks{state=\"%s\"} %" PRIu64 "\n",
		    proto_state_name((enum task_state)i), counts[i]);
}

static void
metrics_results(struct evbuffer *b, struct gw *gw)
{
	size_t i, j;

	metrics_add(b, "paia_results_total", "counter", "Results committed, by status.");
	for (i = 0; i < RESULT_NSTATUSES; i++)
		evbuffer_add_printf(b, "paia_results_total{status=\"%s\"} %" PRIu64 "\n",
		    proto_status_name((enum result_status)i), gw->totals[i]);
	metrics_add(b, "paia_result_errors_total", "counter",
	    "Results committed with an error, by its class (user, infra, invalid).");
	for (i = ERROR_USER; i <= ERROR_INVALID; i++)
		evbuffer_add_printf(b, "paia_result_errors_total{class=\"%s\"} %" PRIu64 "\n",
		    proto_class_name((enum error_class)i), gw->error_classes[i]);
	metrics_add(b, "paia_dead_letters_total", "counter",
	    "Malformed tasks sent to the dead-letter topic, by reason.");
	for (i = 0; i < DLQ_NREASONS; i++)
		evbuffer_add_printf(b, "paia_dead_letters_total{reason=\"%s\"} %" PRIu64 "\n",
		    proto_dlq_reason_name((enum dlq_reason)i), gw->dlq_reasons[i]);
	metrics_add(b, "paia_skipped_done_total", "counter",
	    "Redelivered tasks skipped because an earlier life committed them.");
	evbuffer_add_printf(b, "paia_skipped_done_total %" PRIu64 "\n", gw->skipped_done);

	metrics_add(b, "paia_step_duration_seconds", "histogram", "Time tasks spent in each step.");
	for (i = 0; i < TASK_DONE; i++) {
		const struct step_hist *h = &gw->steps[i];
		const char *st = proto_state_name((enum task_state)i);
		for (j = 0; j < STEP_BUCKETS; j++)
			evbuffer_add_printf(b, "paia_step_duration_seconds_bucket{step=\"%s\",le=\"%g\"} %"
			    PRIu64 "\n", st, step_bucket_le[j], h->le[j]);
		evbuffer_add_printf(b, "paia_step_duration_seconds_bucket{step=\"%s\",le=\"+Inf\"} %"
		    PRIu64 "\n", st, h->count);
		evbuffer_add_printf(b, "paia_step_duration_seconds_sum{step=\"%s\"} %.3f\n", st,
		    h->sum_s);
		evbuffer_add_printf(b, "paia_step_duration_seconds_count{step=\"%s\"} %" PRIu64 "\n",
		    st, h->count);
	}
}

/* ---- Kafka: transactions and the consumer's partitions ---- */

static void
metrics_transactions(struct evbuffer *b, struct gw *gw)
{
	uint64_t committed = 0, aborted = 0;

	if (gw->committer != NULL)
		committer_stats(gw->committer, &committed, &aborted);
	metrics_add(b, "paia_transactions_total", "counter", "Kafka transactions, by outcome.");
	evbuffer_add_printf(b, "paia_transactions_total{outcome=\"committed\"} %" PRIu64 "\n",
	    committed);
	evbuffer_add_printf(b, "paia_transactions_total{outcome=\"aborted\"} %" PRIu64 "\n",
	    aborted);
}

/* The labels of a partition's series: group, topic, partition. */
static void
metrics_partition_labels(struct evbuffer *b, struct gw *gw, int32_t partition)
{
	prom_label(b, "group", gw->group_id, 1);
	prom_label(b, "topic", gw->tasks_topic, 0);
	evbuffer_add_printf(b, ",partition=\"%d\"", (int)partition);
}

/* One gauge per partition; values < 0 (unknown) are left out. */
static void
metrics_partition_gauge(struct evbuffer *b, struct gw *gw, const struct health_view *v,
    size_t n, const char *name, const char *help, int64_t (*get)(const struct health_view *))
{
	size_t i;

	metrics_add(b, name, "gauge", help);
	for (i = 0; i < n; i++) {
		if (get(&v[i]) < 0)
			continue;
		evbuffer_add_printf(b, "%s{", name);
		metrics_partition_labels(b, gw, v[i].partition);
		evbuffer_add_printf(b, "} %" PRId64 "\n", get(&v[i]));
	}
}

static int64_t metrics_get_lag(const struct health_view *v) { return v->lag; }
static int64_t metrics_get_committed(const struct health_view *v) { return v->committed; }
static int64_t metrics_get_end(const struct health_view *v) { return v->end; }
static int64_t metrics_get_healthy(const struct health_view *v) { return v->healthy; }

static void
metrics_consumer(struct evbuffer *b, struct gw *gw)
{
	struct health_view *v;
	size_t i, j, n;

	n = health_partitions(gw->health, &v);
	metrics_partition_gauge(b, gw, v, n, "paia_consumer_lag",
	    "Tasks behind the last stable offset, per assigned partition (absent: unknown).",
	    metrics_get_lag);
	metrics_add(b, "paia_consumer_lag_seconds", "gauge",
	    "Estimated age of the oldest task not yet committed, per partition.");
	for (i = 0; i < n; i++) {
		if (v[i].lag < 0)
			continue;
		evbuffer_add(b, "paia_consumer_lag_seconds{", 26);
		metrics_partition_labels(b, gw, v[i].partition);
		evbuffer_add_printf(b, "} %.3f\n", (double)v[i].lag_ms / 1000.0);
	}
	metrics_partition_gauge(b, gw, v, n, "paia_consumer_committed_offset",
	    "Offset committed by this gateway's transactions (absent: none yet).",
	    metrics_get_committed);
	metrics_partition_gauge(b, gw, v, n, "paia_consumer_log_end_offset",
	    "The partition's last stable offset, as a read_committed consumer sees it (absent: "
	    "unknown).", metrics_get_end);
	metrics_add(b, "paia_consumer_status", "gauge",
	    "Burrow's evaluation of each partition: 1 for the status it is in.");
	for (i = 0; i < n; i++)
		for (j = HEALTH_OK; j <= HEALTH_REWIND; j++) {
			evbuffer_add(b, "paia_consumer_status{", 21);
			metrics_partition_labels(b, gw, v[i].partition);
			evbuffer_add_printf(b, ",status=\"%s\"} %d\n",
			    proto_health_name((enum health_status)j), v[i].status == j);
		}
	metrics_partition_gauge(b, gw, v, n, "paia_consumer_healthy",
	    "1 while the partition passes its health checks.", metrics_get_healthy);
	free(v);
}

/* ---- storage and the runner ---- */

static void
metrics_storage(struct evbuffer *b, struct gw *gw)
{
	uint64_t in = 0, out = 0, retries = 0;
	int up, r;

	if (gw->storage != NULL)
		storage_stats(gw->storage, &in, &out, &retries);
	metrics_add(b, "paia_storage_bytes_total", "counter", "Bytes moved to and from storage.");
	evbuffer_add_printf(b, "paia_storage_bytes_total{direction=\"download\"} %" PRIu64 "\n", in);
	evbuffer_add_printf(b, "paia_storage_bytes_total{direction=\"upload\"} %" PRIu64 "\n", out);
	metrics_add(b, "paia_storage_retries_total", "counter", "Storage transfers retried.");
	evbuffer_add_printf(b, "paia_storage_retries_total %" PRIu64 "\n", retries);
	metrics_add(b, "paia_storage_errors_total", "counter", "Storage transfers that failed for "
	    "good, by direction and kind (permanent, transient: retries spent, local, timeout).");
	for (up = 0; up <= 1; up++)
		for (r = STORAGE_PERMANENT; r < STORAGE_NRESULTS; r++)
			evbuffer_add_printf(b, "paia_storage_errors_total{direction=\"%s\",kind=\"%s\"} %"
			    PRIu64 "\n", up ? "upload" : "download",
			    storage_result_name((enum storage_result)r),
			    gw->storage != NULL ? storage_failures(gw->storage, up,
			    (enum storage_result)r) : 0);
	metrics_add(b, "paia_storage_destinations_down", "gauge",
	    "Storage destinations that did not answer: uploads to them wait.");
	evbuffer_add_printf(b, "paia_storage_destinations_down %zu\n", uploads_down(gw));
	metrics_add(b, "paia_uploads_recovered_total", "counter",
	    "Finished games whose outputs were uploaded from disk after a restart (not run again).");
	evbuffer_add_printf(b, "paia_uploads_recovered_total %" PRIu64 "\n", gw->recovered_total);
	metrics_add(b, "paia_outputs_kept_total", "counter",
	    "Tasks whose outputs could not be uploaded and were kept on disk.");
	evbuffer_add_printf(b, "paia_outputs_kept_total %" PRIu64 "\n", gw->kept_total);
}

/* The VPN tunnel (nothing when vpn.mode = off). */
static void
metrics_vpn(struct evbuffer *b, struct gw *gw)
{
	struct vpn_view *v = tunnel_view(gw);
	const struct vpn_check *c;
	int64_t now = util_now_ms();
	size_t i;
	int s;

	if (v == NULL)
		return;
	metrics_add(b, "paia_vpn_state", "gauge",
	    "The VPN supervisor's state: 1 for the one it is in.");
	for (s = VPN_STOPPED; s <= VPN_STOPPING; s++)
		evbuffer_add_printf(b, "paia_vpn_state{state=\"%s\"} %d\n",
		    vpn_state_name((enum vpn_state)s), v->state == (enum vpn_state)s);
	metrics_add(b, "paia_vpn_state_since_seconds", "gauge",
	    "When the current state began (Unix time).");
	evbuffer_add_printf(b, "paia_vpn_state_since_seconds %.3f\n", (double)v->since_ms / 1000.0);
	metrics_add(b, "paia_vpn_healthy", "gauge",
	    "1 while the tunnel is CONNECTED and every route and endpoint check passed.");
	evbuffer_add_printf(b, "paia_vpn_healthy %d\n", v->healthy);
	metrics_add(b, "paia_vpn_down_seconds", "gauge",
	    "How long the tunnel has not been healthy (0: healthy).");
	evbuffer_add_printf(b, "paia_vpn_down_seconds %.3f\n", tunnel_down_since(gw) > 0 ?
	    (double)(now - tunnel_down_since(gw)) / 1000.0 : 0.0);
	metrics_add(b, "paia_vpn_bytes_total", "counter",
	    "Bytes through the tunnel, as openvpn counts them.");
	evbuffer_add_printf(b, "paia_vpn_bytes_total{direction=\"in\"} %" PRIu64 "\n", v->bytes_in);
	evbuffer_add_printf(b, "paia_vpn_bytes_total{direction=\"out\"} %" PRIu64 "\n", v->bytes_out);
	metrics_add(b, "paia_vpn_restarts_total", "counter",
	    "openvpn started again (spawn) or tries again (attach) after the first.");
	evbuffer_add_printf(b, "paia_vpn_restarts_total %u\n", v->restarts);
	metrics_add(b, "paia_vpn_auth_failures_total", "counter", "Credentials the server refused.");
	evbuffer_add_printf(b, "paia_vpn_auth_failures_total %u\n", v->auth_failures);
	metrics_add(b, "paia_vpn_check_ok", "gauge",
	    "Each route and endpoint check: 1 passed, 0 failed, -1 pending.");
	for (i = 0; i < v->nchecks; i++) {
		c = &v->checks[i];
		evbuffer_add(b, "paia_vpn_check_ok{", 18);
		prom_label(b, "kind", vpn_check_kind_name(c->kind), 1);
		prom_label(b, "target", c->target, 0);
		evbuffer_add_printf(b, "} %d\n", c->result == VPN_CHECK_OK ? 1 :
		    c->result == VPN_CHECK_FAILED ? 0 : -1);
	}
	metrics_add(b, "paia_vpn_check_age_seconds", "gauge", "Since each check's last result.");
	for (i = 0; i < v->nchecks; i++) {
		c = &v->checks[i];
		if (c->checked_ms <= 0)
			continue;
		evbuffer_add(b, "paia_vpn_check_age_seconds{", 27);
		prom_label(b, "kind", vpn_check_kind_name(c->kind), 1);
		prom_label(b, "target", c->target, 0);
		evbuffer_add_printf(b, "} %.3f\n", (double)(now - c->checked_ms) / 1000.0);
	}
	metrics_add(b, "paia_vpn_check_latency_seconds", "gauge", "Each endpoint's last connect time.");
	for (i = 0; i < v->nchecks; i++) {
		c = &v->checks[i];
		if (c->latency_ms < 0)
			continue;
		evbuffer_add(b, "paia_vpn_check_latency_seconds{", 31);
		prom_label(b, "kind", vpn_check_kind_name(c->kind), 1);
		prom_label(b, "target", c->target, 0);
		evbuffer_add_printf(b, "} %.3f\n", (double)c->latency_ms / 1000.0);
	}
	vpn_view_free(v);
}

/* The k8s runner's pods and its talk with the API server (nothing for the local runner). */
static void
metrics_runner(struct evbuffer *b, struct gw *gw)
{
	struct runner_stats st;

	runner_stats(gw->runner, &st);
	if (!st.pods)
		return;
	metrics_add(b, "paia_k8s_pods", "gauge", "Game pods of this gateway's tasks, by phase "
	    "(pending: created, not running; unschedulable: pending that the scheduler cannot "
	    "place, also counted in pending).");
	evbuffer_add_printf(b, "paia_k8s_pods{phase=\"pending\"} %" PRIu64 "\n", st.pending);
	evbuffer_add_printf(b, "paia_k8s_pods{phase=\"unschedulable\"} %" PRIu64 "\n",
	    st.unschedulable);
	evbuffer_add_printf(b, "paia_k8s_pods{phase=\"running\"} %" PRIu64 "\n", st.running);
	metrics_add(b, "paia_k8s_pods_created_total", "counter", "Game pods created.");
	evbuffer_add_printf(b, "paia_k8s_pods_created_total %" PRIu64 "\n", st.created);
	metrics_add(b, "paia_k8s_pods_adopted_total", "counter",
	    "Game pods found already there (a restart, a rebalance) and followed.");
	evbuffer_add_printf(b, "paia_k8s_pods_adopted_total %" PRIu64 "\n", st.adopted);
	metrics_add(b, "paia_k8s_api_requests_total", "counter",
	    "Requests to the Kubernetes API server (retries included).");
	evbuffer_add_printf(b, "paia_k8s_api_requests_total %" PRIu64 "\n", st.api_requests);
	metrics_add(b, "paia_k8s_api_retries_total", "counter", "Kubernetes API requests retried.");
	evbuffer_add_printf(b, "paia_k8s_api_retries_total %" PRIu64 "\n", st.api_retries);
	metrics_add(b, "paia_k8s_api_errors_total", "counter",
	    "Kubernetes API requests that failed (pods not created or deleted, lists and watches "
	    "retried).");
	evbuffer_add_printf(b, "paia_k8s_api_errors_total %" PRIu64 "\n", st.api_errors);
	metrics_add(b, "paia_k8s_watch_restarts_total", "counter",
	    "Watches of the game pods started again (server timeouts, errors).");
	evbuffer_add_printf(b, "paia_k8s_watch_restarts_total %" PRIu64 "\n", st.watch_restarts);
	metrics_add(b, "paia_k8s_relists_total", "counter",
	    "Lists of the game pods after the first (410 Gone, errors).");
	evbuffer_add_printf(b, "paia_k8s_relists_total %" PRIu64 "\n", st.relists);
}

char *
metrics_text(struct gw *gw)
{
	struct evbuffer *b = evbuffer_new();
	size_t len;
	char *s;

	metrics_build(b);
	metrics_process(b);
	metrics_gateway(b, gw);
	metrics_tasks(b, gw);
	metrics_results(b, gw);
	metrics_transactions(b, gw);
	metrics_consumer(b, gw);
	metrics_storage(b, gw);
	metrics_runner(b, gw);
	metrics_vpn(b, gw);
	gpus_metrics(gw->gpus, b);

	len = evbuffer_get_length(b);
	s = xmalloc(len + 1);
	evbuffer_remove(b, s, len);
	s[len] = '\0';
	evbuffer_free(b);
	return s;
}

/* ---- the endpoints ---- */

static void
metrics_reply(struct evhttp_request *req, int code, const char *reason, const char *type,
    const char *body)
{
	struct evbuffer *b = evbuffer_new();

	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", type);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-store");
	evbuffer_add(b, body, strlen(body));
	evhttp_send_reply(req, code, reason, b);
	evbuffer_free(b);
}

/* A probe's answer: 200 "ok", or 503 and why. */
static void
metrics_verdict(struct evhttp_request *req, int ok, const char *why)
{
	char *s;

	if (ok) {
		metrics_reply(req, 200, "OK", "text/plain; charset=utf-8", "ok\n");
		return;
	}
	xasprintf(&s, "%s\n", why != NULL ? why : "not ok");
	metrics_reply(req, 503, "Service Unavailable", "text/plain; charset=utf-8", s);
	free(s);
}

static void
metrics_healthz(struct gw *gw, struct evhttp_request *req)
{
	struct health_view *v;
	size_t n, i;
	char *why = NULL, *s = NULL, *t;
	int ok;

	if (gw->draining) {
		metrics_reply(req, 503, "Service Unavailable", "text/plain; charset=utf-8",
		    "draining: intake stopped, in-flight tasks finishing\n");
		return;
	}
	ok = health_ok(gw->health, &why);
	if (ok)
		ok = tunnel_healthz(gw, &why);
	if (!ok) {
		metrics_reply(req, 503, "Service Unavailable", "text/plain; charset=utf-8", why);
		free(why);
		return;
	}
	n = health_partitions(gw->health, &v);
	xasprintf(&s, "ok\n");
	for (i = 0; i < n; i++) {
		if (v[i].lag >= 0)
			xasprintf(&t, "%spartition %d: lag %" PRId64 ", %s\n", s, (int)v[i].partition,
			    v[i].lag, proto_health_name(v[i].status));
		else
			xasprintf(&t, "%spartition %d: lag unknown, %s\n", s, (int)v[i].partition,
			    proto_health_name(v[i].status));
		free(s);
		s = t;
	}
	free(v);
	metrics_reply(req, 200, "OK", "text/plain; charset=utf-8", s);
	free(s);
}

static void
metrics_request_cb(struct evhttp_request *req, void *arg)
{
	struct metrics *m = arg;
	struct gw *gw = m->gw;
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	char *s, *why = NULL;
	cJSON *j;
	int ok;

	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET &&
	    evhttp_request_get_command(req) != EVHTTP_REQ_HEAD) {
		metrics_reply(req, 405, "Method Not Allowed", "text/plain", "GET only\n");
		return;
	}
	if (path == NULL)
		path = "";
	if (strcmp(path, "/livez") == 0 || strcmp(path, "/readyz") == 0) {
		ok = path[1] == 'l' ? probes_live(gw, &why) : probes_ready(gw, &why);
		metrics_verdict(req, ok, why);
		free(why);
	} else if (strcmp(path, "/healthz") == 0)
		metrics_healthz(gw, req);
	else if (strcmp(path, "/metrics") == 0) {
		s = metrics_text(gw);
		metrics_reply(req, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", s);
		free(s);
	} else if (strcmp(path, "/lag") == 0) {
		j = views_lag(gw, NULL);
		s = cJSON_PrintUnformatted(j);
		cJSON_Delete(j);
		metrics_reply(req, 200, "OK", "application/json", s);
		cJSON_free(s);
	} else
		metrics_reply(req, 404, "Not Found", "text/plain",
		    "not found: try /livez, /readyz, /healthz, /metrics, /lag\n");
}

/* The listener may run while under the cap (and no accept failure holds it). */
static int
metrics_can_accept(void *arg)
{
	struct metrics *m = arg;

	return m->nconns < m->max_conns;
}

static void
metrics_conn_closed(struct evhttp_connection *evcon, void *arg)
{
	struct metrics *m = arg;

	m->nconns--;
	if (m->listener != NULL && m->nconns < m->max_conns && !evaccept_paused(m->guard))
		evconnlistener_enable(m->listener);
}

/* evhttp asks for a new connection's bufferevent: count the connection. */
static struct bufferevent *
metrics_bev_cb(struct event_base *base, void *arg)
{
	struct metrics *m = arg;
	struct bufferevent *bev;

	/* What evhttp makes itself when not asked (it closes the socket). */
	if ((bev = bufferevent_socket_new(base, -1, 0)) == NULL)
		return NULL;
	/* Held until the pickup: then evhttp has set it up, or freed it on failure. */
	bufferevent_incref(bev);
	m->fresh = xreallocarray(m->fresh, m->nfresh + 1, sizeof *m->fresh);
	m->fresh[m->nfresh++] = bev;
	event_active(m->pickup, EV_TIMEOUT, 0);
	if (++m->nconns >= m->max_conns)
		evconnlistener_disable(m->listener);
	return bev;
}

/* After the accept: the connection's bufferevent names its evhttp_connection. */
static void
metrics_pickup_cb(evutil_socket_t fd, short what, void *arg)
{
	struct metrics *m = arg;
	bufferevent_event_cb eventcb;
	void *cbarg;
	size_t i;

	for (i = 0; i < m->nfresh; i++) {
		bufferevent_getcb(m->fresh[i], NULL, NULL, &eventcb, &cbarg);
		if (eventcb != NULL && cbarg != NULL)
			evhttp_connection_set_closecb(cbarg, metrics_conn_closed, m);
		else {
			/* evhttp gave up on it already: its callbacks are cleared. */
			bufferevent_disable(m->fresh[i], EV_READ | EV_WRITE);
			m->nconns--;
		}
		bufferevent_decref(m->fresh[i]);
	}
	m->nfresh = 0;
	if (m->nconns < m->max_conns && !evaccept_paused(m->guard))
		evconnlistener_enable(m->listener);
}

int
metrics_listen_parse(const char *listen, char **hostp, int *portp, char **cause)
{
	const char *colon = strrchr(listen, ':');
	char *host, *end;
	long port;

	if (colon == NULL || colon == listen) {
		xasprintf(cause, "health.listen '%s': expected HOST:PORT", listen);
		return -1;
	}
	port = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || port < 0 || port > 65535) {
		xasprintf(cause, "health.listen '%s': bad port", listen);
		return -1;
	}
	host = xstrndup(listen, (size_t)(colon - listen));
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	*hostp = host;
	*portp = (int)port;
	return 0;
}

struct metrics *
metrics_start(struct gw *gw, const char *listen, char **cause)
{
	struct event_base *base = gw->base;
	struct metrics *m;
	struct evhttp_bound_socket *bound;
	char *host;
	int port;

	if (metrics_listen_parse(listen, &host, &port, cause) != 0)
		return NULL;
	m = xcalloc(1, sizeof *m);
	m->gw = gw;
	m->max_conns = (size_t)config_get_int(gw->conf, "health", "max_connections");
	m->http = evhttp_new(base);
	evhttp_set_allowed_methods(m->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_gencb(m->http, metrics_request_cb, m);
	evhttp_set_timeout(m->http, METRICS_TIMEOUT_S);
	evhttp_set_max_headers_size(m->http, METRICS_HEADERS_MAX);
	evhttp_set_max_body_size(m->http, METRICS_BODY_MAX);
	evhttp_set_bevcb(m->http, metrics_bev_cb, m);
	m->pickup = event_new(base, -1, 0, metrics_pickup_cb, m);
	if ((bound = evhttp_bind_socket_with_handle(m->http, host, (ev_uint16_t)port)) == NULL) {
		xasprintf(cause, "health.listen %s: cannot listen (address in use or not local?)", listen);
		evhttp_free(m->http);
		event_free(m->pickup);
		free(m);
		free(host);
		return NULL;
	}
	m->listener = evhttp_bound_socket_get_listener(bound);
	m->guard = evaccept_new(base, m->listener, "health", metrics_can_accept, m);
	log_info("health endpoint listening", "listen=%s paths=/livez,/readyz,/healthz,/metrics,/lag",
	    log_q(listen));
	free(host);
	return m;
}

void
metrics_stop(struct metrics *m)
{
	size_t i;

	if (m == NULL)
		return;
	evaccept_free(m->guard);
	m->guard = NULL;
	/* evhttp_free frees the listener, then the connections: their close callbacks run. */
	m->listener = NULL;
	evhttp_free(m->http);
	for (i = 0; i < m->nfresh; i++)
		bufferevent_decref(m->fresh[i]);
	free(m->fresh);
	event_free(m->pickup);
	free(m);
}
