/*
 * client.c: REST requests to the API server on the shared curl multi.
 * Every request passes a client-side token bucket (qps, burst), is sent
 * with the config's TLS material and a fresh bearer token, and ends in
 * one callback with the body or a decoded Status. 429 and 5xx answers
 * are retried honouring Retry-After, otherwise after capped backoff
 * with jitter; connection failures likewise (not for a POST that may
 * have reached the server); a 401 re-reads a token file once.
 *
 * Transfers are started, and cancelled ones removed, from events of
 * their own, never from inside a curl callback: a caller may issue or
 * cancel requests from any callback, a stream's chunk callback
 * included. It does not know what the paths mean (pods.c, informer.c).
 */
#include "config.h"
#include "common.h"
#include "k8s.h"
#include "k8s-int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

#include <curl/curl.h>
#include <event2/event.h>

#define CLIENT_MAX_BODY ((size_t)1 << 30)
#define CLIENT_MAX_RETRY_AFTER_S 300

enum req_state { REQ_NEW, REQ_WAITING, REQ_RUNNING, REQ_BACKOFF, REQ_REAP };

struct k8s_req {
	struct k8s_client *c;
	TAILQ_ENTRY(k8s_req) all_entry;
	TAILQ_ENTRY(k8s_req) q_entry;	/* waiting or reap queue */
	enum req_state state;
	enum k8s_method method;
	char *path;
	char *url;
	char *body;
	size_t body_len;
	struct k8s_req_opts o;
	k8s_response_cb *done;
	void *arg;
	CURL *easy;
	struct curl_slist *headers;
	struct kbuf resp;
	int streamed;		/* chunks delivered in this attempt */
	int stopped;		/* the chunk callback asked to stop */
	int cancelled;
	int in_cb;
	int too_large;
	int auth_retried;
	long retry_after;
	unsigned attempt;
	struct backoff bo;
	struct event *timer;
	struct event *resume_ev;	/* pausable streams: curl_easy_pause from the loop */
	int paused;
	char errbuf[CURL_ERROR_SIZE];
};

TAILQ_HEAD(k8s_reqs, k8s_req);

struct k8s_client {
	struct event_base *base;
	struct evcurl *ec;
	struct k8s_config *cfg;
	struct k8s_client_opts o;
	char *user_agent;
	double tokens;
	int64_t refill_ms;
	struct k8s_reqs waiting;
	struct k8s_reqs reap;
	struct k8s_reqs all;
	struct event *bucket_ev;
	struct event *reap_ev;
	struct k8s_client_stats st;
};

static const char *client_errors[] = {
	"ok", "transport", "unauthorized", "forbidden", "not found", "already exists",
	"conflict", "gone", "invalid", "throttled", "server error", "http error", "decode"
};

const char *
k8s_error_name(enum k8s_error e)
{
	return (size_t)e < nitems(client_errors) ? client_errors[e] : "?";
}

void
k8s_status_clear(struct k8s_status *st)
{
	free(st->reason);
	free(st->message);
	st->reason = st->message = NULL;
	st->code = 0;
}

int
k8s_status_scan(const char *json, size_t len, struct k8s_status *st)
{
	struct kjson j;
	const char *p = json, *k;
	char *reason = NULL, *message = NULL, *kind = NULL, *s;
	long long code = 0;
	size_t kl;
	int r, n = 0, has_code = 0;

	kjson_init(&j, json, len);
	if (kjson_obj_begin(&j, &p) != 0)
		return -1;
	while ((r = kjson_obj_next(&j, &p, &n, &k, &kl)) == 1) {
		char **dst = KJSON_KEY(k, kl, "reason") ? &reason : KJSON_KEY(k, kl, "message") ?
		    &message : KJSON_KEY(k, kl, "kind") ? &kind : NULL;
		if (dst != NULL && !kjson_null(&j, &p)) {
			s = NULL;
			if ((p = kjson_string_dup(&j, p, &s)) == NULL)
				break;
			free(*dst);
			*dst = s;
		} else if (KJSON_KEY(k, kl, "code")) {
			if ((p = kjson_int(&j, p, &code)) == NULL)
				break;
			has_code = 1;
		} else if (dst == NULL && (p = kjson_skip(&j, p)) == NULL)
			break;
	}
	if (r != 0 || (kjson_ws(&j, p) != j.end) || (!has_code && (kind == NULL ||
	    strcmp(kind, "Status") != 0))) {
		free(reason);
		free(message);
		free(kind);
		return -1;
	}
	free(kind);
	k8s_status_clear(st);
	st->code = code < 0 || code > 999 ? 0 : (int)code;
	st->reason = reason != NULL ? reason : xstrdup("");
	st->message = message != NULL ? message : xstrdup("");
	return 0;
}

int
k8s_status_decode(const char *json, size_t len, struct k8s_status *st)
{
	return k8s_status_scan(json, len, st);
}

static void
client_status_set(struct k8s_status *st, int code, const char *reason, const char *message)
{
	k8s_status_clear(st);
	st->code = code;
	st->reason = xstrdup(reason);
	st->message = xstrdup(message);
}

char *
k8s_query_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = xmalloc(strlen(s) * 3 + 1), *o = out;

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~')
			*o++ = (char)c;
		else {
			*o++ = '%';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	*o = '\0';
	return out;
}

/* ---- token bucket ---- */

static void
client_refill(struct k8s_client *c)
{
	int64_t now = util_mono_ms();

	c->tokens += (double)(now - c->refill_ms) * c->o.qps / 1000.0;
	if (c->tokens > c->o.burst)
		c->tokens = c->o.burst;
	c->refill_ms = now;
}

static void
client_bucket_schedule(struct k8s_client *c)
{
	struct timeval tv = { 0, 0 };
	double ms;

	if (TAILQ_EMPTY(&c->waiting) || evtimer_pending(c->bucket_ev, NULL))
		return;
	if (c->tokens < 1) {
		ms = (1 - c->tokens) * 1000.0 / c->o.qps + 1;
		tv.tv_sec = (long)(ms / 1000);
		tv.tv_usec = (long)((long long)ms % 1000) * 1000;
	}
	evtimer_add(c->bucket_ev, &tv);
}

static void client_start(struct k8s_req *);

static void
client_bucket_cb(evutil_socket_t fd, short what, void *arg)
{
	struct k8s_client *c = arg;
	struct k8s_req *r;

	client_refill(c);
	while ((r = TAILQ_FIRST(&c->waiting)) != NULL && c->tokens >= 1) {
		TAILQ_REMOVE(&c->waiting, r, q_entry);
		c->tokens -= 1;
		client_start(r);
	}
	client_bucket_schedule(c);
}

static void
client_submit(struct k8s_req *r)
{
	struct k8s_client *c = r->c;

	client_refill(c);
	if (c->tokens < 1 || !TAILQ_EMPTY(&c->waiting))
		c->st.throttled++;
	r->state = REQ_WAITING;
	TAILQ_INSERT_TAIL(&c->waiting, r, q_entry);
	client_bucket_schedule(c);
}

/* ---- requests ---- */

static void
client_req_free(struct k8s_req *r)
{
	struct curl_slist *h;

	TAILQ_REMOVE(&r->c->all, r, all_entry);
	if (r->easy != NULL)
		curl_easy_cleanup(r->easy);
	for (h = r->headers; h != NULL; h = h->next)
		memset(h->data, 0, strlen(h->data));	/* the bearer token */
	curl_slist_free_all(r->headers);
	if (r->timer != NULL)
		event_free(r->timer);
	if (r->resume_ev != NULL)
		event_free(r->resume_ev);
	kbuf_free(&r->resp);
	free(r->path);
	free(r->url);
	free(r->body);
	free(r);
}

static void
client_reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct k8s_client *c = arg;
	struct k8s_req *r;

	while ((r = TAILQ_FIRST(&c->reap)) != NULL) {
		TAILQ_REMOVE(&c->reap, r, q_entry);
		evcurl_remove(c->ec, r->easy);
		client_req_free(r);
	}
}

void
k8s_req_cancel(struct k8s_req *r)
{
	if (r == NULL || r->cancelled)
		return;
	r->cancelled = 1;
	if (r->in_cb)
		return;		/* freed when its callback returns */
	switch (r->state) {
	case REQ_WAITING:
		TAILQ_REMOVE(&r->c->waiting, r, q_entry);
		client_req_free(r);
		break;
	case REQ_RUNNING:
		/* Maybe inside a curl callback: remove it from the loop. */
		r->state = REQ_REAP;
		TAILQ_INSERT_TAIL(&r->c->reap, r, q_entry);
		event_active(r->c->reap_ev, EV_TIMEOUT, 1);
		break;
	case REQ_BACKOFF:
	case REQ_NEW:
		client_req_free(r);
		break;
	case REQ_REAP:
		break;
	}
}

static size_t
client_write_cb(char *data, size_t size, size_t n, void *arg)
{
	struct k8s_req *r = arg;
	size_t len = size * n;
	long code = 0;
	int rc;

	if (r->cancelled || r->stopped)
		return 0;
	if (r->o.chunk != NULL) {
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
		if (code >= 200 && code < 300) {
			r->streamed = 1;
			r->in_cb++;
			rc = r->o.chunk(data, len, r->arg);
			r->in_cb--;
			if (r->cancelled)
				return 0;
			if (rc == K8S_CHUNK_PAUSE && r->o.pausable) {
				r->paused = 1;
				return CURL_WRITEFUNC_PAUSE;
			}
			if (rc != 0) {
				r->stopped = 1;
				return 0;
			}
			return len;
		}
	}
	if (r->resp.len + len > CLIENT_MAX_BODY) {
		r->too_large = 1;
		return 0;
	}
	kbuf_add(&r->resp, data, len);
	return len;
}

static size_t
client_header_cb(char *data, size_t size, size_t n, void *arg)
{
	struct k8s_req *r = arg;
	size_t len = size * n;
	long long v;
	char buf[32];
	const char *p;
	size_t i;

	if (len >= 5 && strncmp(data, "HTTP/", 5) == 0)
		r->retry_after = -1;
	else if (len > 12 && strncasecmp(data, "Retry-After:", 12) == 0) {
		for (p = data + 12; p < data + len && (*p == ' ' || *p == '\t'); p++)
			;
		for (i = 0; p < data + len && i < sizeof buf - 1 && *p >= '0' && *p <= '9'; p++)
			buf[i++] = *p;
		buf[i] = '\0';
		/* HTTP dates are not used by the API server: ignored (backoff instead). */
		if (i > 0 && util_parse_int(buf, 0, CLIENT_MAX_RETRY_AFTER_S * 100, &v) == 0)
			r->retry_after = (long)v;
	}
	return len;
}

static enum k8s_error
client_map(long http, const char *reason)
{
	if (http >= 200 && http < 300)
		return K8S_OK;
	switch (http) {
	case 400:
	case 422:
		return K8S_ERR_INVALID;
	case 401:
		return K8S_ERR_AUTH;
	case 403:
		return K8S_ERR_FORBIDDEN;
	case 404:
		return K8S_ERR_NOT_FOUND;
	case 409:
		return reason != NULL && strcmp(reason, "AlreadyExists") == 0 ? K8S_ERR_EXISTS :
		    K8S_ERR_CONFLICT;
	case 410:
		return K8S_ERR_GONE;
	case 429:
		return K8S_ERR_THROTTLED;
	}
	return http >= 500 ? K8S_ERR_SERVER : K8S_ERR_HTTP;
}

static const char *
client_method_name(enum k8s_method m)
{
	static const char *names[] = { "GET", "POST", "PUT", "PATCH", "DELETE" };

	return names[m];
}

/* Call done once and free the request. */
static void
client_finish(struct k8s_req *r, enum k8s_error err, long http, const char *msg)
{
	struct k8s_response resp;
	char *m = NULL;
	size_t i, n;

	memset(&resp, 0, sizeof resp);
	resp.error = err;
	resp.http_code = http;
	resp.retries = r->attempt;
	resp.retry_after_s = r->retry_after;
	kbuf_reserve(&r->resp, 1);
	r->resp.p[r->resp.len] = '\0';
	if (err == K8S_OK) {
		resp.body = r->resp.p;
		resp.body_len = r->resp.len;
	} else {
		if (msg == NULL && k8s_status_scan(r->resp.p, r->resp.len, &resp.status) == 0) {
			if (resp.status.code == 0)
				resp.status.code = (int)http;
			if (http == 409)
				resp.error = client_map(http, resp.status.reason);
		} else {
			if (msg == NULL) {
				/* Not a Status: a proxy's page, say. Keep it short and printable. */
				n = r->resp.len < 200 ? r->resp.len : 200;
				xasprintf(&m, "HTTP %ld%s%.*s", http, n > 0 ? ": " : "", (int)n,
				    r->resp.p);
				for (i = 0; m[i] != '\0'; i++)
					if ((unsigned char)m[i] < 0x20 || (unsigned char)m[i] >= 0x7f)
						m[i] = ' ';
				msg = m;
			}
			client_status_set(&resp.status, (int)http, "", msg);
		}
		resp.body = r->resp.p;
		resp.body_len = r->resp.len;
	}
	log_debug("kubernetes API request done", "method=%s path=%s http=%ld error=%s retries=%u",
	    log_q(client_method_name(r->method)), log_q(r->path), http,
	    log_q(k8s_error_name(resp.error)), r->attempt);
	r->in_cb++;
	r->done(&resp, r->arg);
	r->in_cb--;
	k8s_status_clear(&resp.status);
	free(m);
	client_req_free(r);
}

static void
client_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	client_submit(arg);
}

static void
client_retry(struct k8s_req *r, long http, const char *why, uint32_t ms)
{
	struct timeval tv;

	r->attempt++;
	r->c->st.retries++;
	log_info("kubernetes API request failed, retrying", "method=%s path=%s http=%ld error=%s "
	    "attempt=%u retry_in_ms=%u", log_q(client_method_name(r->method)), log_q(r->path), http,
	    log_q(why), r->attempt, ms);
	r->state = REQ_BACKOFF;
	if (r->timer == NULL)
		r->timer = evtimer_new(r->c->base, client_retry_cb, r);
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(r->timer, &tv);
}

static int
client_may_retry(const struct k8s_req *r)
{
	int max = r->c->o.max_retries;

	return !r->o.no_retry && max > 0 && r->attempt < (unsigned)max;
}

static void
client_done_cb(void *easy, int code, void *arg)
{
	struct k8s_req *r = arg;
	long http = 0;
	uint32_t ms;
	char *msg;

	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &http);
	if (r->state == REQ_REAP) {
		TAILQ_REMOVE(&r->c->reap, r, q_entry);
		client_req_free(r);
		return;
	}
	r->state = REQ_NEW;
	if (r->cancelled) {
		client_req_free(r);
		return;
	}
	if (r->stopped) {
		client_finish(r, K8S_OK, http, NULL);
		return;
	}
	if (code != CURLE_OK) {
		if (r->too_large) {
			client_finish(r, K8S_ERR_DECODE, http, "response larger than 1 GiB");
			return;
		}
		xasprintf(&msg, "%s %s: %s", client_method_name(r->method), r->path,
		    r->errbuf[0] != '\0' ? r->errbuf : curl_easy_strerror((CURLcode)code));
		if (!r->streamed && client_may_retry(r) && code != CURLE_PEER_FAILED_VERIFICATION &&
		    code != CURLE_SSL_CERTPROBLEM && code != CURLE_URL_MALFORMAT &&
		    (r->method != K8S_POST || code == CURLE_COULDNT_CONNECT ||
		    code == CURLE_COULDNT_RESOLVE_HOST)) {
			client_retry(r, 0, msg, backoff_next(&r->bo));
			free(msg);
			return;
		}
		client_finish(r, K8S_ERR_TRANSPORT, http, msg);
		free(msg);
		return;
	}
	if (http >= 200 && http < 300) {
		client_finish(r, K8S_OK, http, NULL);
		return;
	}
	if (http == 401 && !r->auth_retried && r->c->cfg->token_file != NULL) {
		/* The token may have rotated under us: read it again, once. */
		r->auth_retried = 1;
		k8s_config_token_invalidate(r->c->cfg);
		r->resp.len = 0;
		client_retry(r, http, "unauthorized, token file re-read", 0);
		return;
	}
	if ((http == 429 || (http >= 500 && http != 501 && http != 505)) && client_may_retry(r)) {
		ms = backoff_next(&r->bo);
		if (r->retry_after >= 0)
			ms = (uint32_t)(r->retry_after > CLIENT_MAX_RETRY_AFTER_S ?
			    CLIENT_MAX_RETRY_AFTER_S : r->retry_after) * 1000;
		r->resp.len = 0;
		client_retry(r, http, http == 429 ? "too many requests" : "server error", ms);
		return;
	}
	client_finish(r, client_map(http, NULL), http, NULL);
}

static void
client_start(struct k8s_req *r)
{
	struct k8s_client *c = r->c;
	struct k8s_config *cfg = c->cfg;
	struct curl_blob blob;
	struct curl_slist *h;
	const char *token = NULL;
	char *cause = NULL, *auth;
	CURL *e;
	long timeout;

	if (r->easy == NULL) {
		if ((r->easy = curl_easy_init()) == NULL)
			fatalx("curl_easy_init failed");
	} else
		curl_easy_reset(r->easy);
	e = r->easy;
	for (h = r->headers; h != NULL; h = h->next)
		memset(h->data, 0, strlen(h->data));
	curl_slist_free_all(r->headers);
	r->headers = NULL;
	r->resp.len = 0;
	r->streamed = r->stopped = r->too_large = 0;
	r->retry_after = -1;
	r->errbuf[0] = '\0';

	if (k8s_config_token(cfg, &token, &cause) != 0) {
		r->state = REQ_NEW;
		client_finish(r, K8S_ERR_AUTH, 0, cause);
		free(cause);
		return;
	}
	r->headers = curl_slist_append(r->headers, "Accept: application/json");
	r->headers = curl_slist_append(r->headers, "Expect:");
	if (r->body != NULL)
		r->headers = curl_slist_append(r->headers, r->method == K8S_PATCH_MERGE ?
		    "Content-Type: application/merge-patch+json" : "Content-Type: application/json");
	if (token != NULL) {
		xasprintf(&auth, "Authorization: Bearer %s", token);
		r->headers = curl_slist_append(r->headers, auth);
		memset(auth, 0, strlen(auth));
		free(auth);
	}
	curl_easy_setopt(e, CURLOPT_URL, r->url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, cfg->insecure ? "http,https" : "https");
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
	curl_easy_setopt(e, CURLOPT_USERAGENT, c->user_agent);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, c->o.connect_timeout_s);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 30L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 15L);
	timeout = r->o.timeout_s > 0 ? r->o.timeout_s : r->o.chunk != NULL ? 0 :
	    c->o.request_timeout_s;
	curl_easy_setopt(e, CURLOPT_TIMEOUT, timeout);
	if (r->o.chunk == NULL)
		curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	if (r->o.pausable)
		curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	r->paused = 0;
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, client_write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, client_header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
	if (cfg->ca != NULL) {
		blob.data = cfg->ca;
		blob.len = cfg->ca_len;
		blob.flags = CURL_BLOB_COPY;
		curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &blob);
	}
	if (cfg->cert != NULL) {
		blob.data = cfg->cert;
		blob.len = cfg->cert_len;
		blob.flags = CURL_BLOB_COPY;
		curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &blob);
		curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
		blob.data = cfg->key;
		blob.len = cfg->key_len;
		curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &blob);
		curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
	}
	if (cfg->insecure) {
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	switch (r->method) {
	case K8S_GET:
		break;
	case K8S_POST:
		curl_easy_setopt(e, CURLOPT_POST, 1L);
		break;
	default:
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, client_method_name(r->method));
		break;
	}
	if (r->body != NULL) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
	} else if (r->method == K8S_POST)
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
	r->state = REQ_RUNNING;
	c->st.requests++;
	evcurl_add(c->ec, e, client_done_cb, r);
}

struct k8s_req *
k8s_request(struct k8s_client *c, enum k8s_method m, const char *path, const char *body,
    size_t body_len, const struct k8s_req_opts *o, k8s_response_cb *done, void *arg)
{
	struct k8s_req *r = xcalloc(1, sizeof *r);

	r->c = c;
	r->method = m;
	r->path = xstrdup(path);
	xasprintf(&r->url, "%s%s", c->cfg->server, path);
	if (body != NULL) {
		r->body = xmalloc(body_len + 1);
		memcpy(r->body, body, body_len);
		r->body[body_len] = '\0';
		r->body_len = body_len;
	}
	if (o != NULL)
		r->o = *o;
	r->done = done;
	r->arg = arg;
	r->retry_after = -1;
	backoff_init(&r->bo, c->o.backoff_ms, c->o.backoff_max_ms,
	    (uint64_t)util_mono_ms() ^ ((uint64_t)(uintptr_t)r << 7));
	TAILQ_INSERT_TAIL(&c->all, r, all_entry);
	client_submit(r);
	return r;
}

static void
client_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct k8s_req *r = arg;

	if (r->cancelled || r->state != REQ_RUNNING || !r->paused)
		return;
	r->paused = 0;
	/* curl may hand the held chunk to client_write_cb from in here. */
	curl_easy_pause(r->easy, CURLPAUSE_CONT);
}

void
k8s_req_resume(struct k8s_req *r)
{
	if (r == NULL || r->cancelled || !r->paused)
		return;
	if (r->resume_ev == NULL)
		r->resume_ev = event_new(r->c->base, -1, 0, client_resume_cb, r);
	event_active(r->resume_ev, EV_TIMEOUT, 1);
}

struct k8s_req *
k8s_get(struct k8s_client *c, const char *path, k8s_response_cb *cb, void *arg)
{
	return k8s_request(c, K8S_GET, path, NULL, 0, NULL, cb, arg);
}

struct k8s_req *
k8s_post(struct k8s_client *c, const char *path, const char *json, k8s_response_cb *cb,
    void *arg)
{
	return k8s_request(c, K8S_POST, path, json, strlen(json), NULL, cb, arg);
}

struct k8s_req *
k8s_patch_merge(struct k8s_client *c, const char *path, const char *json, k8s_response_cb *cb,
    void *arg)
{
	return k8s_request(c, K8S_PATCH_MERGE, path, json, strlen(json), NULL, cb, arg);
}

struct k8s_req *
k8s_delete(struct k8s_client *c, const char *path, long grace_s, const char *propagation,
    k8s_response_cb *cb, void *arg)
{
	struct k8s_req *r;
	char *body, *g = NULL, *p = NULL;

	if (grace_s >= 0)
		xasprintf(&g, ",\"gracePeriodSeconds\":%ld", grace_s);
	if (propagation != NULL)
		xasprintf(&p, ",\"propagationPolicy\":\"%s\"", propagation);
	xasprintf(&body, "{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\"%s%s}",
	    g != NULL ? g : "", p != NULL ? p : "");
	r = k8s_request(c, K8S_DELETE, path, body, strlen(body), NULL, cb, arg);
	free(body);
	free(g);
	free(p);
	return r;
}

struct k8s_client *
k8s_client_new(struct event_base *base, struct evcurl *ec, struct k8s_config *cfg,
    const struct k8s_client_opts *o)
{
	struct k8s_client *c = xcalloc(1, sizeof *c);

	c->base = base;
	c->ec = ec;
	c->cfg = cfg;
	if (o != NULL)
		c->o = *o;
	if (c->o.qps <= 0)
		c->o.qps = 50;
	if (c->o.burst <= 0)
		c->o.burst = 100;
	if (c->o.max_retries == 0)
		c->o.max_retries = 10;
	if (c->o.backoff_ms == 0)
		c->o.backoff_ms = 800;
	if (c->o.backoff_max_ms == 0)
		c->o.backoff_max_ms = 30000;
	if (c->o.connect_timeout_s <= 0)
		c->o.connect_timeout_s = 10;
	if (c->o.request_timeout_s <= 0)
		c->o.request_timeout_s = 60;
	c->user_agent = xstrdup(c->o.user_agent != NULL ? c->o.user_agent :
	    "paia/" PACKAGE_VERSION);
	c->o.user_agent = NULL;
	c->tokens = c->o.burst;
	c->refill_ms = util_mono_ms();
	TAILQ_INIT(&c->waiting);
	TAILQ_INIT(&c->reap);
	TAILQ_INIT(&c->all);
	c->bucket_ev = evtimer_new(base, client_bucket_cb, c);
	c->reap_ev = event_new(base, -1, 0, client_reap_cb, c);
	return c;
}

void
k8s_client_free(struct k8s_client *c)
{
	struct k8s_req *r;

	if (c == NULL)
		return;
	while ((r = TAILQ_FIRST(&c->all)) != NULL) {
		if (r->state == REQ_RUNNING || r->state == REQ_REAP)
			evcurl_remove(c->ec, r->easy);
		client_req_free(r);
	}
	event_free(c->bucket_ev);
	event_free(c->reap_ev);
	k8s_config_free(c->cfg);
	free(c->user_agent);
	free(c);
}

struct k8s_config *
k8s_client_config(struct k8s_client *c)
{
	return c->cfg;
}

struct event_base *
k8s_client_base(struct k8s_client *c)
{
	return c->base;
}

void
k8s_client_stats(const struct k8s_client *c, struct k8s_client_stats *st)
{
	*st = c->st;
}
