/*
 * test-k8s-client.c: the request engine (k8s/client.c), the pods calls
 * and the informer against a scripted HTTP server (libevent's evhttp)
 * in the same loop: 429 with Retry-After, 5xx retried with backoff,
 * Status errors decoded verbatim (403, 409 AlreadyExists against a
 * conflict, a proxy's HTML page), headers and bodies of merge PATCH and
 * DELETE, the bearer token re-read from its file after a 401, the
 * token bucket, streams (stopped by their callback, cancelled from it),
 * connection refused; an informer listing two pages, then an ERROR 410
 * on its watch: relist, synthesised delete.
 *
 * The real API server's behaviour is tested by tests/k8s/informer.sh.
 */
#include "config.h"
#include "common.h"
#include "k8s.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

static struct event_base *base;
static struct evcurl *ec;
static struct evhttp *http;
static int port;
static char *tmpdir, *token_path;
static int hits_retry_after, hits_flaky, hits_list, hits_watch;

/* ---- the scripted server ---- */

static void
reply(struct evhttp_request *req, int code, const char *body)
{
	struct evbuffer *b = evbuffer_new();

	evbuffer_add(b, body, strlen(body));
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	    "application/json");
	evhttp_send_reply(req, code, "X", b);
	evbuffer_free(b);
}

static void
reply_status(struct evhttp_request *req, int code, const char *reason, const char *message)
{
	char *body;

	xasprintf(&body, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":"
	    "\"Failure\",\"message\":\"%s\",\"reason\":\"%s\",\"code\":%d}", message, reason, code);
	reply(req, code, body);
	free(body);
}

static const char *
method_name(struct evhttp_request *req)
{
	switch (evhttp_request_get_command(req)) {
	case EVHTTP_REQ_GET: return "GET";
	case EVHTTP_REQ_POST: return "POST";
	case EVHTTP_REQ_PUT: return "PUT";
	case EVHTTP_REQ_PATCH: return "PATCH";
	case EVHTTP_REQ_DELETE: return "DELETE";
	default: return "?";
	}
}

struct stream_state {
	struct evhttp_request *req;
	struct event *ev;
	int step;
	const char **chunks;
};

static void
stream_next(evutil_socket_t fd, short what, void *arg)
{
	struct stream_state *s = arg;
	struct evbuffer *b;
	struct timeval tv = { 0, 20000 };

	if (s->chunks[s->step] == NULL) {
		evhttp_send_reply_end(s->req);
		event_free(s->ev);
		free(s);
		return;
	}
	b = evbuffer_new();
	evbuffer_add(b, s->chunks[s->step], strlen(s->chunks[s->step]));
	evhttp_send_reply_chunk(s->req, b);
	evbuffer_free(b);
	s->step++;
	evtimer_add(s->ev, &tv);
}

static void
stream_start(struct evhttp_request *req, const char **chunks)
{
	struct stream_state *s = xcalloc(1, sizeof *s);

	s->req = req;
	s->chunks = chunks;
	s->ev = evtimer_new(base, stream_next, s);
	evhttp_send_reply_start(req, 200, "OK");
	stream_next(-1, 0, s);
}

static const char *log_chunks[] = { "line one\n", "line two\n", "line three\n", NULL };

#define POD(name, rv) "{\"metadata\":{\"name\":\"" name "\",\"namespace\":\"ns\"," \
	"\"resourceVersion\":\"" rv "\"},\"status\":{\"phase\":\"Pending\"}}"
static const char *watch1[] = {
	"{\"type\":\"ADDED\",\"object\":" POD("p4", "11") "}\n{\"type\":\"MODI",
	"FIED\",\"object\":" POD("p1", "12") "}\n",
	"{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"15\"}}}\n",
	"{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
	"\"status\":\"Failure\",\"message\":\"too old resource version: 15 (20)\",\"reason\":"
	"\"Expired\",\"code\":410}}\n",
	NULL
};
static const char *watch_quiet[] = { "", NULL };

static void
serve(struct evhttp_request *req, void *arg)
{
	const char *uri = evhttp_request_get_uri(req);
	struct evkeyvalq *in = evhttp_request_get_input_headers(req), q;
	struct evbuffer *body = evhttp_request_get_input_buffer(req);
	const char *ct = evhttp_find_header(in, "Content-Type");
	const char *auth = evhttp_find_header(in, "Authorization");
	char *text, *out;
	size_t n;

	if (strncmp(uri, "/retry-after", 12) == 0) {
		if (hits_retry_after++ == 0) {
			evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "1");
			reply_status(req, 429, "TooManyRequests", "slow down");
		} else
			reply(req, 200, "{\"ok\":1}");
	} else if (strncmp(uri, "/flaky", 6) == 0) {
		if (hits_flaky++ < 2)
			reply_status(req, 503, "ServiceUnavailable", "etcd leader changed");
		else
			reply(req, 200, "{\"ok\":2}");
	} else if (strcmp(uri, "/forbidden") == 0) {
		reply_status(req, 403, "Forbidden", "pods is forbidden: User \\\"system:serviceaccount:"
		    "paia:gw\\\" cannot watch resource \\\"pods\\\" in API group \\\"\\\" in the "
		    "namespace \\\"paia\\\"");
	} else if (strncmp(uri, "/api/v1/namespaces/ns/pods", 26) == 0 &&
	    evhttp_request_get_command(req) == EVHTTP_REQ_POST) {
		text = xstrndup((const char *)evbuffer_pullup(body, -1), evbuffer_get_length(body));
		if (strstr(text, "\"taken\"") != NULL)
			reply_status(req, 409, "AlreadyExists", "pods \\\"taken\\\" already exists");
		else if (strstr(text, "\"busy\"") != NULL)
			reply_status(req, 409, "Conflict", "the object has been modified");
		else
			reply(req, 201, text);
		free(text);
	} else if (strcmp(uri, "/proxy") == 0) {
		reply(req, 502, "<html><body>Bad\tGateway</body></html>");
	} else if (strncmp(uri, "/echo", 5) == 0) {
		n = evbuffer_get_length(body);
		text = n > 0 ? xstrndup((const char *)evbuffer_pullup(body, -1), n) : xstrdup("");
		xasprintf(&out, "{\"method\":\"%s\",\"ct\":\"%s\",\"auth\":\"%s\",\"body\":%s}",
		    method_name(req), ct != NULL ? ct : "", auth != NULL ? auth : "",
		    n > 0 ? text : "null");
		reply(req, 200, out);
		free(out);
		free(text);
	} else if (strcmp(uri, "/auth") == 0) {
		if (auth != NULL && strcmp(auth, "Bearer new-token") == 0)
			reply(req, 200, "{}");
		else
			reply_status(req, 401, "Unauthorized", "Unauthorized");
	} else if (strncmp(uri, "/api/v1/namespaces/ns/pods/p/log", 32) == 0) {
		stream_start(req, log_chunks);
	} else if (strncmp(uri, "/api/v1/namespaces/ns/pods?", 27) == 0) {
		evhttp_parse_query(uri, &q);
		if (evhttp_find_header(&q, "watch") != NULL) {
			stream_start(req, hits_watch++ == 0 ? watch1 : watch_quiet);
		} else if (evhttp_find_header(&q, "continue") == NULL) {
			hits_list++;
			/* The second list (after the 410) lacks p2: deleted meanwhile. */
			if (hits_list == 1)
				reply(req, 200, "{\"kind\":\"PodList\",\"metadata\":{\"resourceVersion\":\"10\","
				    "\"continue\":\"tok/1\"},\"items\":[" POD("p1", "5") "," POD("p2", "6") "]}");
			else
				reply(req, 200, "{\"kind\":\"PodList\",\"metadata\":{\"resourceVersion\":\"21\","
				    "\"continue\":\"tok/2\"},\"items\":[" POD("p1", "12") "]}");
		} else if (strcmp(evhttp_find_header(&q, "continue"), "tok/1") == 0)
			reply(req, 200, "{\"kind\":\"PodList\",\"metadata\":{\"resourceVersion\":\"10\"},"
			    "\"items\":[" POD("p3", "7") "]}");
		else
			reply(req, 200, "{\"kind\":\"PodList\",\"metadata\":{\"resourceVersion\":\"21\"},"
			    "\"items\":[" POD("p3", "7") "," POD("p4", "11") "]}");
		evhttp_clear_headers(&q);
	} else
		reply_status(req, 404, "NotFound", "no such path");
}

static struct k8s_client *
client_new(const struct k8s_client_opts *o, int recheck_ms)
{
	struct k8s_config *cfg;
	char *kc, *cause = NULL;

	xasprintf(&kc, "current-context: t\ncontexts:\n- name: t\n  context: {cluster: t, user: t}\n"
	    "clusters:\n- name: t\n  cluster: {server: \"http://127.0.0.1:%d\"}\nusers:\n- name: t\n"
	    "  user: {tokenFile: %s}\n", port, token_path);
	cfg = k8s_config_parse_kubeconfig(kc, strlen(kc), NULL, NULL, K8S_CONFIG_ALLOW_INSECURE,
	    &cause);
	if (cfg == NULL)
		fail_msg("%s", cause);
	k8s_config_set_token_recheck(cfg, recheck_ms);
	free(kc);
	return k8s_client_new(base, ec, cfg, o);
}

static int
setup(void **state)
{
	struct evhttp_bound_socket *sock;
	struct sockaddr_in sin;
	socklen_t sl = sizeof sin;
	const char *tmp = getenv("TMPDIR");
	char *cause = NULL;

	log_set_level(LOG_LEVEL_ERROR);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	base = event_base_new();
	ec = evcurl_new(base);
	http = evhttp_new(base);
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PATCH |
	    EVHTTP_REQ_DELETE | EVHTTP_REQ_PUT);
	sock = evhttp_bind_socket_with_handle(http, "127.0.0.1", 0);
	if (sock == NULL)
		return -1;
	getsockname(evhttp_bound_socket_get_fd(sock), (struct sockaddr *)&sin, &sl);
	port = ntohs(sin.sin_port);
	evhttp_set_gencb(http, serve, NULL);
	xasprintf(&tmpdir, "%s/paia-k8s-client-XXXXXX", tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	xasprintf(&token_path, "%s/token", tmpdir);
	return util_write_file(token_path, "old-token\n", 10, 0600, &cause);
}

static int
teardown(void **state)
{
	struct timeval tv = { 0, 300000 };

	/* Let the server's streams run to their end. */
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
	evhttp_free(http);
	evcurl_free(ec);
	event_base_free(base);
	util_rmtree(tmpdir);
	free(tmpdir);
	free(token_path);
	curl_global_cleanup();
	return 0;
}

/* ---- one request, run to its end ---- */

struct result {
	int done;
	enum k8s_error error;
	long http;
	unsigned retries;
	char *reason, *message, *body;
	char chunks[256];
	int nchunks;
	int stop_after;		/* chunk callback: stop (1) or cancel (2) after this many */
	int cancel;
	struct k8s_req *req;
};

static void
result_cb(const struct k8s_response *r, void *arg)
{
	struct result *res = arg;

	res->done++;
	res->error = r->error;
	res->http = r->http_code;
	res->retries = r->retries;
	res->reason = xstrdup(r->status.reason != NULL ? r->status.reason : "");
	res->message = xstrdup(r->status.message != NULL ? r->status.message : "");
	res->body = xstrndup(r->body != NULL ? r->body : "", r->body_len);
}

static int
chunk_cb(const char *data, size_t len, void *arg)
{
	struct result *res = arg;

	res->nchunks++;
	strncat(res->chunks, data, len < sizeof res->chunks - strlen(res->chunks) - 1 ? len :
	    sizeof res->chunks - strlen(res->chunks) - 1);
	if (res->stop_after > 0 && res->nchunks >= res->stop_after) {
		if (res->cancel) {
			k8s_req_cancel(res->req);
			return 0;
		}
		return 1;
	}
	return 0;
}

static void
run_until(int *flag, int want, int timeout_ms)
{
	int64_t end = util_mono_ms() + timeout_ms;
	struct timeval tv = { 0, 10000 };

	while (*flag < want && util_mono_ms() < end) {
		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
}

static void
result_clear(struct result *r)
{
	free(r->reason);
	free(r->message);
	free(r->body);
	memset(r, 0, sizeof *r);
}

static const struct k8s_client_opts fast = { 1000, 1000, 5, 10, 50, 2, 5, NULL };

/* ---- tests ---- */

static void
test_retry_after(void **state)
{
	struct k8s_client *c = client_new(&fast, 1000);
	struct result r = { 0 };
	int64_t t0 = util_mono_ms();

	k8s_get(c, "/retry-after", result_cb, &r);
	run_until(&r.done, 1, 10000);
	assert_int_equal(r.done, 1);
	assert_int_equal(r.error, K8S_OK);
	assert_int_equal(r.retries, 1);
	assert_string_equal(r.body, "{\"ok\":1}");
	/* The backoff would be 10 ms: the wait is the server's second. */
	assert_true(util_mono_ms() - t0 >= 990);
	result_clear(&r);
	k8s_client_free(c);
}

static void
test_5xx_retried(void **state)
{
	struct k8s_client *c = client_new(&fast, 1000);
	struct k8s_client_opts once = fast;
	struct result r = { 0 };

	k8s_get(c, "/flaky", result_cb, &r);
	run_until(&r.done, 1, 10000);
	assert_int_equal(r.error, K8S_OK);
	assert_int_equal(r.retries, 2);
	result_clear(&r);
	k8s_client_free(c);
	/* Out of retries: the last Status. */
	hits_flaky = 0;
	once.max_retries = 1;
	c = client_new(&once, 1000);
	k8s_get(c, "/flaky", result_cb, &r);
	run_until(&r.done, 1, 10000);
	assert_int_equal(r.error, K8S_ERR_SERVER);
	assert_int_equal(r.http, 503);
	assert_int_equal(r.retries, 1);
	assert_string_equal(r.message, "etcd leader changed");
	result_clear(&r);
	k8s_client_free(c);
}

static void
test_status_errors(void **state)
{
	struct k8s_client *c = client_new(&fast, 1000);
	struct result r = { 0 };

	k8s_get(c, "/forbidden", result_cb, &r);
	run_until(&r.done, 1, 10000);
	assert_int_equal(r.error, K8S_ERR_FORBIDDEN);
	assert_int_equal(r.retries, 0);
	assert_string_equal(r.reason, "Forbidden");
	assert_string_equal(r.message, "pods is forbidden: User \"system:serviceaccount:paia:gw\" "
	    "cannot watch resource \"pods\" in API group \"\" in the namespace \"paia\"");
	result_clear(&r);
	k8s_pod_create(c, "ns", "{\"metadata\":{\"name\":\"taken\"}}", result_cb, &r);
	run_until(&r.done, 1, 10000);
	assert_int_equal(r.error, K8S_ERR_EXISTS);
	assert_string_equal(r.message, "pods \"taken\" already exists");
	result_clear(&r);
	k8s_pod_create(c, "ns", "{\"metadata\":{\"name\":\"busy\"}}", result_cb, &r);
	run_until(&r.done, 1, 10000);
	assert_int_equal(r.error, K8S_ERR_CONFLICT);
	result_clear(&r);
	k8s_pod_create(c, "ns", "{\"metadata\":{\"name\":\"new\"}}", result_cb, &r);
	run_until(&r.done, 1, 10000);
	assert_int_equal(r.error, K8S_OK);
	assert_int_equal(r.http, 201);
	result_clear(&r);
	k8s_request(c, K8S_GET, "/proxy", NULL, 0, &(struct k8s_req_opts){ NULL, 0, 1 },
	    result_cb, &r);
	run_until(&r.done, 1, 10000);
	assert_int_equal(r.error, K8S_ERR_SERVER);
	assert_string_equal(r.message, "HTTP 502: <html><body>Bad Gateway</body></html>");
	result_clear(&r);
	k8s_get(c, "/nowhere", result_cb, &r);
	run_until(&r.done, 1, 10000);
	assert_int_equal(r.error, K8S_ERR_NOT_FOUND);
	result_clear(&r);
	k8s_client_free(c);
}

static void
test_methods_and_bodies(void **state)
{
	struct k8s_client *c = client_new(&fast, 1000);
	struct result r = { 0 };

	k8s_patch_merge(c, "/echo", "{\"metadata\":{\"labels\":{\"a\":\"b\"}}}", result_cb, &r);
	run_until(&r.done, 1, 10000);
	assert_string_equal(r.body, "{\"method\":\"PATCH\",\"ct\":\"application/merge-patch+json\","
	    "\"auth\":\"Bearer old-token\",\"body\":{\"metadata\":{\"labels\":{\"a\":\"b\"}}}}");
	result_clear(&r);
	k8s_delete(c, "/echo", 0, "Background", result_cb, &r);
	run_until(&r.done, 1, 10000);
	assert_string_equal(r.body, "{\"method\":\"DELETE\",\"ct\":\"application/json\",\"auth\":"
	    "\"Bearer old-token\",\"body\":{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\","
	    "\"gracePeriodSeconds\":0,\"propagationPolicy\":\"Background\"}}");
	result_clear(&r);
	k8s_post(c, "/echo", "{}", result_cb, &r);
	run_until(&r.done, 1, 10000);
	assert_non_null(strstr(r.body, "\"method\":\"POST\",\"ct\":\"application/json\""));
	result_clear(&r);
	k8s_client_free(c);
}

static void
test_token_reread_after_401(void **state)
{
	/* The file changes, but the client would not look before a minute. */
	struct k8s_client *c = client_new(&fast, 60000);
	struct result r = { 0 };
	char *cause = NULL;

	k8s_get(c, "/auth", result_cb, &r);
	run_until(&r.done, 1, 10000);
	assert_int_equal(r.error, K8S_ERR_AUTH);	/* old-token, read again: still refused */
	assert_int_equal(r.retries, 1);
	result_clear(&r);
	assert_int_equal(util_write_file(token_path, "new-token\n", 10, 0600, &cause), 0);
	k8s_get(c, "/auth", result_cb, &r);
	run_until(&r.done, 1, 10000);
	assert_int_equal(r.error, K8S_OK);
	assert_int_equal(r.retries, 1);
	result_clear(&r);
	k8s_client_free(c);
	assert_int_equal(util_write_file(token_path, "old-token\n", 10, 0600, &cause), 0);
}

static void
test_token_bucket(void **state)
{
	struct k8s_client_opts slow = fast;
	struct k8s_client_stats st;
	struct k8s_client *c;
	struct result r[6];
	int64_t t0;
	int i, done = 0;

	slow.qps = 20;
	slow.burst = 1;
	c = client_new(&slow, 1000);
	memset(r, 0, sizeof r);
	t0 = util_mono_ms();
	for (i = 0; i < 6; i++)
		k8s_get(c, "/echo", result_cb, &r[i]);
	while (done < 6 && util_mono_ms() - t0 < 10000) {
		run_until(&r[done].done, 1, 10000);
		if (r[done].done)
			done++;
	}
	assert_int_equal(done, 6);
	/* One at once, then one per 50 ms. */
	assert_true(util_mono_ms() - t0 >= 240);
	k8s_client_stats(c, &st);
	assert_true(st.throttled >= 5);
	for (i = 0; i < 6; i++)
		result_clear(&r[i]);
	k8s_client_free(c);
}

static void
test_streams(void **state)
{
	struct k8s_client *c = client_new(&fast, 1000);
	struct k8s_pod_log_opts lo = { NULL, 1, 0, 10, 0 };
	struct result r = { 0 }, r2 = { 0 };

	k8s_pod_logs(c, "ns", "p", &lo, chunk_cb, result_cb, &r);
	run_until(&r.done, 1, 10000);
	assert_int_equal(r.error, K8S_OK);
	assert_string_equal(r.chunks, "line one\nline two\nline three\n");
	assert_string_equal(r.body, "");
	result_clear(&r);
	/* Stopped by its callback: done with K8S_OK. */
	r.stop_after = 2;
	k8s_pod_logs(c, "ns", "p", &lo, chunk_cb, result_cb, &r);
	run_until(&r.done, 1, 10000);
	assert_int_equal(r.error, K8S_OK);
	assert_string_equal(r.chunks, "line one\nline two\n");
	result_clear(&r);
	/* Cancelled from its callback: no done, and nothing left running. */
	r.stop_after = 1;
	r.cancel = 1;
	r.req = k8s_pod_logs(c, "ns", "p", &lo, chunk_cb, result_cb, &r);
	/* A request cancelled before it starts. */
	k8s_req_cancel(k8s_get(c, "/echo", result_cb, &r2));
	run_until(&r.nchunks, 1, 10000);
	{
		int never = 0;
		run_until(&never, 1, 300);
	}
	assert_int_equal(r.nchunks, 1);
	assert_int_equal(r.done, 0);
	assert_int_equal(r2.done, 0);
	assert_int_equal(evcurl_running(ec), 0);
	result_clear(&r);
	k8s_client_free(c);
}

static void
test_connection_refused(void **state)
{
	struct k8s_client_opts o = fast;
	struct k8s_config *cfg;
	struct k8s_client *c;
	struct result r = { 0 };
	char *cause = NULL;
	const char *kc = "current-context: t\ncontexts:\n- name: t\n  context: {cluster: t}\n"
	    "clusters:\n- name: t\n  cluster: {server: \"http://127.0.0.1:1\"}\n";

	o.max_retries = 2;
	cfg = k8s_config_parse_kubeconfig(kc, strlen(kc), NULL, NULL, K8S_CONFIG_ALLOW_INSECURE,
	    &cause);
	c = k8s_client_new(base, ec, cfg, &o);
	k8s_get(c, "/x", result_cb, &r);
	run_until(&r.done, 1, 10000);
	assert_int_equal(r.error, K8S_ERR_TRANSPORT);
	assert_int_equal(r.retries, 2);
	assert_int_equal(r.http, 0);
	assert_non_null(strstr(r.message, "GET /x: "));
	result_clear(&r);
	k8s_client_free(c);
}

struct inf_log {
	char text[1024];
	int syncs;
	struct k8s_informer *inf;
};

/* "list " for a call of a list being applied (k8s_informer_listing). */
static const char *
il_listing(const struct inf_log *l)
{
	return l->inf != NULL && k8s_informer_listing(l->inf) ? "list " : "";
}

static void
il_add(const struct k8s_object *o, void *arg)
{
	struct inf_log *l = arg;
	size_t n = strlen(l->text);

	snprintf(l->text + n, sizeof l->text - n, "%sadd %s@%s;", il_listing(l), o->name,
	    o->resource_version);
}

static void
il_update(const struct k8s_object *old, const struct k8s_object *o, void *arg)
{
	struct inf_log *l = arg;
	size_t n = strlen(l->text);

	snprintf(l->text + n, sizeof l->text - n, "%supdate %s@%s->%s;", il_listing(l), o->name,
	    old->resource_version, o->resource_version);
}

static void
il_del(const struct k8s_object *o, int final_unknown, void *arg)
{
	struct inf_log *l = arg;
	size_t n = strlen(l->text);

	snprintf(l->text + n, sizeof l->text - n, "%sdel%s %s;", il_listing(l),
	    final_unknown ? "?" : "", o->name);
}

static void
il_synced(void *arg)
{
	struct inf_log *l = arg;
	size_t n = strlen(l->text);

	l->syncs++;
	snprintf(l->text + n, sizeof l->text - n, "%ssynced;", il_listing(l));
}

static void
test_informer_relist(void **state)
{
	struct k8s_client *c = client_new(&fast, 1000);
	struct k8s_informer_opts o;
	struct k8s_informer_stats st;
	struct k8s_informer *inf;
	struct inf_log l;

	memset(&l, 0, sizeof l);
	memset(&o, 0, sizeof o);
	o.kind = &k8s_pod_kind;
	o.namespace = "ns";
	o.label_selector = "app=x";
	o.page_size = 2;
	o.watch_timeout_s = 30;
	o.backoff_ms = 10;
	o.h.add = il_add;
	o.h.update = il_update;
	o.h.del = il_del;
	o.h.synced = il_synced;
	o.arg = &l;
	l.inf = inf = k8s_informer_new(c, &o);
	k8s_informer_start(inf);
	run_until(&l.syncs, 2, 10000);
	/*
	 * List of two pages (p1, p2 | p3), watch: p4 added, p1 modified, a
	 * bookmark, ERROR 410: relist (p1, p3, p4: p2 was deleted unseen).
	 * The lists' calls say so (k8s_informer_listing), the watch's and
	 * synced do not.
	 */
	assert_string_equal(l.text, "list add p1@5;list add p2@6;list add p3@7;synced;add p4@11;"
	    "update p1@5->12;list del? p2;synced;");
	assert_false(k8s_informer_listing(inf));
	assert_int_equal(k8s_informer_count(inf), 3);
	assert_null(k8s_informer_get(inf, "ns", "p2"));
	assert_string_equal(((const struct k8s_pod *)k8s_informer_get(inf, "ns", "p4"))->phase,
	    "Pending");
	assert_string_equal(k8s_informer_resource_version(inf), "21");
	k8s_informer_stats(inf, &st);
	assert_int_equal(st.lists, 2);
	assert_int_equal(st.list_pages, 4);
	assert_int_equal(st.relists, 1);
	assert_int_equal(st.bookmarks, 1);
	assert_int_equal(st.synthesised_deletes, 1);
	k8s_informer_free(inf);
	k8s_client_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_retry_after),
		cmocka_unit_test(test_5xx_retried),
		cmocka_unit_test(test_status_errors),
		cmocka_unit_test(test_methods_and_bodies),
		cmocka_unit_test(test_token_reread_after_401),
		cmocka_unit_test(test_token_bucket),
		cmocka_unit_test(test_streams),
		cmocka_unit_test(test_connection_refused),
		cmocka_unit_test(test_informer_relist),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
