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

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

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

char *
metrics_text(struct gw *gw)
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
		    proto_state_name((enum task_state)i), counts[i]);
	evbuffer_add_printf(b, "paia_tasks{state=\"waiting\"} %zu\n", gw->nwaiting);
	metrics_add(b, "paia_max_inflight", "gauge", "Tasks allowed to run at once.");
	evbuffer_add_printf(b, "paia_max_inflight %zu\n", gw->max_inflight);

	metrics_add(b, "paia_results_total", "counter", "Results committed, by status.");
	for (i = 0; i <= RESULT_ERROR; i++)
		evbuffer_add_printf(b, "paia_results_total{status=\"%s\"} %" PRIu64 "\n",
		    proto_status_name((enum result_status)i), gw->totals[i]);
	metrics_add(b, "paia_dead_letters_total", "counter", "Malformed tasks sent to the dead-letter topic.");
	evbuffer_add_printf(b, "paia_dead_letters_total %" PRIu64 "\n", gw->dlq_total);
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
			    proto_health_name((enum health_status)j), v[i].status == j);
	metrics_add(b, "paia_consumer_healthy", "gauge", "1 while the partition passes its health checks.");
	for (i = 0; i < n; i++)
		evbuffer_add_printf(b, "paia_consumer_healthy{topic=\"%s\",partition=\"%d\"} %d\n",
		    gw->tasks_topic, (int)v[i].partition, v[i].healthy);
	free(v);
	metrics_add(b, "paia_draining", "gauge", "1 while the gateway drains (SIGTERM or a fatal error).");
	evbuffer_add_printf(b, "paia_draining %d\n", gw->draining);
	metrics_add(b, "paia_uptime_seconds", "gauge", "Seconds since start.");
	evbuffer_add_printf(b, "paia_uptime_seconds %" PRId64 "\n", (util_now_ms() - gw->start_ms) / 1000);
	gpus_metrics(gw->gpus, b);

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
	if (!ok) {
		metrics_reply(req, 503, "Service Unavailable", "text/plain; charset=utf-8", why);
		free(why);
		return;
	}
	n = health_partitions(gw->health, &v);
	xasprintf(&s, "ok\n");
	for (i = 0; i < n; i++) {
		xasprintf(&t, "%spartition %d: lag %" PRId64 ", %s\n", s, (int)v[i].partition,
		    v[i].lag, proto_health_name(v[i].status));
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
	char *s;
	cJSON *j;

	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET &&
	    evhttp_request_get_command(req) != EVHTTP_REQ_HEAD) {
		metrics_reply(req, 405, "Method Not Allowed", "text/plain", "GET only\n");
		return;
	}
	if (path != NULL && strcmp(path, "/healthz") == 0)
		metrics_healthz(gw, req);
	else if (path != NULL && strcmp(path, "/metrics") == 0) {
		s = metrics_text(gw);
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
	log_info("health endpoint listening", "listen=%s paths=/healthz,/metrics,/lag", listen);
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
