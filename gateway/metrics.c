/*
 * metrics.c: the HTTP side of health.listen, on libevent's evhttp:
 *
 *   GET /healthz   200 "ok" and a line per partition, or 503 naming the
 *                  partitions that failed health.failures checks in a
 *                  row and why (and 503 while draining)
 *   GET /metrics   Prometheus text exposition (version 0.0.4)
 *   GET /lag       the lag table as JSON (what "paiactl lag" shows)
 *
 * Read-only and unauthenticated, like every Prometheus endpoint: bind
 * it to loopback or a cluster-internal address.
 */
#include "config.h"
#include "gateway.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

struct metrics {
	struct evhttp *http;
};

static void
metrics_add(struct evbuffer *b, const char *name, const char *type, const char *help)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

char *
metrics_text(void)
{
	struct evbuffer *b = evbuffer_new();
	struct health_view *v;
	const struct task *t;
	uint64_t counts[TASK_NSTATES] = { 0 }, committed = 0, aborted = 0, in = 0, out = 0,
	    retries = 0;
	size_t i, j, n, len;
	char *s;

	TAILQ_FOREACH(t, &gw->active, entry)
		counts[t->state]++;
	metrics_add(b, "paia_tasks", "gauge", "Tasks in flight by state (waiting: held back by max_inflight).");
	for (i = 0; i < TASK_REPORTING + 1; i++)
		evbuffer_add_printf(b, "paia_tasks{state=\"%s\"} %" PRIu64 "\n",
		    task_state_name((enum task_state)i), counts[i]);
	evbuffer_add_printf(b, "paia_tasks{state=\"waiting\"} %zu\n", gw->nwaiting);
	metrics_add(b, "paia_max_inflight", "gauge", "Tasks allowed to run at once.");
	evbuffer_add_printf(b, "paia_max_inflight %zu\n", gw->max_inflight);

	metrics_add(b, "paia_results_total", "counter", "Results committed, by status.");
	for (i = 0; i <= RESULT_ERROR; i++)
		evbuffer_add_printf(b, "paia_results_total{status=\"%s\"} %" PRIu64 "\n",
		    msg_status_name((enum result_status)i), gw->totals[i]);
	metrics_add(b, "paia_dead_letters_total", "counter", "Malformed tasks sent to the dead-letter topic.");
	evbuffer_add_printf(b, "paia_dead_letters_total %" PRIu64 "\n", gw->dlq_total);
	metrics_add(b, "paia_skipped_done_total", "counter",
	    "Redelivered tasks skipped because an earlier life committed them.");
	evbuffer_add_printf(b, "paia_skipped_done_total %" PRIu64 "\n", gw->skipped_done);

	metrics_add(b, "paia_step_duration_seconds", "histogram", "Time tasks spent in each step.");
	for (i = 0; i < TASK_DONE; i++) {
		const struct step_hist *h = &gw->steps[i];
		const char *st = task_state_name((enum task_state)i);
		for (j = 0; j < STEP_BUCKETS; j++)
			evbuffer_add_printf(b, "paia_step_duration_seconds_bucket{step=\"%s\",le=\"%g\"} %"
			    PRIu64 "\n", st, step_bucket_le[j], h->le[j]);
		evbuffer_add_printf(b, "paia_step_duration_seconds_bucket{step=\"%s\",le=\"+Inf\"} %"
		    PRIu64 "\n", st, h->count);
		evbuffer_add_printf(b, "paia_step_duration_seconds_sum{step=\"%s\"} %.3f\n", st, h->sum_s);
		evbuffer_add_printf(b, "paia_step_duration_seconds_count{step=\"%s\"} %" PRIu64 "\n", st,
		    h->count);
	}

	if (gw->committer != NULL)
		committer_stats(gw->committer, &committed, &aborted);
	metrics_add(b, "paia_transactions_total", "counter", "Kafka transactions, by outcome.");
	evbuffer_add_printf(b, "paia_transactions_total{outcome=\"committed\"} %" PRIu64 "\n", committed);
	evbuffer_add_printf(b, "paia_transactions_total{outcome=\"aborted\"} %" PRIu64 "\n", aborted);

	if (gw->storage != NULL)
		storage_stats(gw->storage, &in, &out, &retries);
	metrics_add(b, "paia_storage_bytes_total", "counter", "Bytes moved to and from storage.");
	evbuffer_add_printf(b, "paia_storage_bytes_total{direction=\"download\"} %" PRIu64 "\n", in);
	evbuffer_add_printf(b, "paia_storage_bytes_total{direction=\"upload\"} %" PRIu64 "\n", out);
	metrics_add(b, "paia_storage_retries_total", "counter", "Storage transfers retried.");
	evbuffer_add_printf(b, "paia_storage_retries_total %" PRIu64 "\n", retries);

	n = health_partitions(gw->health, &v);
	metrics_add(b, "paia_consumer_lag", "gauge",
	    "Tasks behind the last stable offset, per assigned partition (-1: unknown).");
	for (i = 0; i < n; i++)
		evbuffer_add_printf(b, "paia_consumer_lag{topic=\"%s\",partition=\"%d\"} %" PRId64 "\n",
		    gw->tasks_topic, (int)v[i].partition, v[i].lag);
	metrics_add(b, "paia_consumer_lag_seconds", "gauge",
	    "Estimated age of the oldest task not yet committed, per partition.");
	for (i = 0; i < n; i++)
		evbuffer_add_printf(b, "paia_consumer_lag_seconds{topic=\"%s\",partition=\"%d\"} %.3f\n",
		    gw->tasks_topic, (int)v[i].partition, (double)v[i].lag_ms / 1000.0);
	metrics_add(b, "paia_consumer_committed_offset", "gauge", "Offset committed by transactions.");
	for (i = 0; i < n; i++)
		evbuffer_add_printf(b, "paia_consumer_committed_offset{topic=\"%s\",partition=\"%d\"} %"
		    PRId64 "\n", gw->tasks_topic, (int)v[i].partition, v[i].committed);
	metrics_add(b, "paia_consumer_status", "gauge",
	    "Burrow's evaluation of each partition: 1 for the status it is in.");
	for (i = 0; i < n; i++)
		for (j = HEALTH_OK; j <= HEALTH_REWIND; j++)
			evbuffer_add_printf(b, "paia_consumer_status{topic=\"%s\",partition=\"%d\","
			    "status=\"%s\"} %d\n", gw->tasks_topic, (int)v[i].partition,
			    health_status_name((enum health_status)j), v[i].status == j);
	metrics_add(b, "paia_consumer_healthy", "gauge", "1 while the partition passes its health checks.");
	for (i = 0; i < n; i++)
		evbuffer_add_printf(b, "paia_consumer_healthy{topic=\"%s\",partition=\"%d\"} %d\n",
		    gw->tasks_topic, (int)v[i].partition, v[i].healthy);
	free(v);
	metrics_add(b, "paia_draining", "gauge", "1 while the gateway drains (SIGTERM or a fatal error).");
	evbuffer_add_printf(b, "paia_draining %d\n", gw->draining);
	metrics_add(b, "paia_uptime_seconds", "gauge", "Seconds since start.");
	evbuffer_add_printf(b, "paia_uptime_seconds %" PRId64 "\n", (util_now_ms() - gw->start_ms) / 1000);

	len = evbuffer_get_length(b);
	s = xmalloc(len + 1);
	evbuffer_remove(b, s, len);
	s[len] = '\0';
	evbuffer_free(b);
	return s;
}

static void
metrics_reply(struct evhttp_request *req, int code, const char *reason, const char *type,
    const char *body)
{
	struct evbuffer *b = evbuffer_new();

	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", type);
	evbuffer_add(b, body, strlen(body));
	evhttp_send_reply(req, code, reason, b);
	evbuffer_free(b);
}

static void
metrics_healthz(struct evhttp_request *req)
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
	if (!ok) {
		metrics_reply(req, 503, "Service Unavailable", "text/plain; charset=utf-8", why);
		free(why);
		return;
	}
	n = health_partitions(gw->health, &v);
	xasprintf(&s, "ok\n");
	for (i = 0; i < n; i++) {
		xasprintf(&t, "%spartition %d: lag %" PRId64 ", %s\n", s, (int)v[i].partition,
		    v[i].lag, health_status_name(v[i].status));
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
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	char *s;
	cJSON *j;

	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET &&
	    evhttp_request_get_command(req) != EVHTTP_REQ_HEAD) {
		metrics_reply(req, 405, "Method Not Allowed", "text/plain", "GET only\n");
		return;
	}
	if (path != NULL && strcmp(path, "/healthz") == 0)
		metrics_healthz(req);
	else if (path != NULL && strcmp(path, "/metrics") == 0) {
		s = metrics_text();
		metrics_reply(req, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", s);
		free(s);
	} else if (path != NULL && strcmp(path, "/lag") == 0) {
		j = health_json(gw->health);
		s = cJSON_PrintUnformatted(j);
		cJSON_Delete(j);
		metrics_reply(req, 200, "OK", "application/json", s);
		cJSON_free(s);
	} else
		metrics_reply(req, 404, "Not Found", "text/plain", "not found: try /healthz, /metrics, /lag\n");
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
metrics_start(struct event_base *base, const char *listen, char **cause)
{
	struct metrics *m;
	char *host;
	int port;

	if (metrics_listen_parse(listen, &host, &port, cause) != 0)
		return NULL;
	m = xcalloc(1, sizeof *m);
	m->http = evhttp_new(base);
	evhttp_set_allowed_methods(m->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_gencb(m->http, metrics_request_cb, m);
	evhttp_set_timeout(m->http, 10);
	if (evhttp_bind_socket(m->http, host, (ev_uint16_t)port) != 0) {
		xasprintf(cause, "health.listen %s: cannot listen (address in use or not local?)", listen);
		evhttp_free(m->http);
		free(m);
		free(host);
		return NULL;
	}
	log_info("health endpoint listening", "listen=%s paths=/healthz,/metrics,/lag", listen);
	free(host);
	return m;
}

void
metrics_stop(struct metrics *m)
{
	if (m == NULL)
		return;
	evhttp_free(m->http);
	free(m);
}
