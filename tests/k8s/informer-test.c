/*
 * informer-test.c: the k8s library against a real kube-apiserver
 * (tests/env/k8s.sh), driven by tests/k8s/informer.sh. Prints TAP.
 *
 *   informer-test SCENARIO...   with KUBECONFIG (admin), K8S_NAMESPACE,
 *                               K8S_GATEWAY_KUBECONFIG, K8S_RESTART_CMD
 *
 * Scenarios:
 *   pods      create (then 409 AlreadyExists), get, merge patch, delete
 *   churn     500 pods created, updated, half deleted while an informer
 *             watches; the cache must equal a fresh list
 *   restart   the API server restarted mid-watch: the informer recovers
 *             and follows what happened meanwhile
 *   gone      pods deleted while the informer is cut off, then 410 Gone
 *             (etcd compacted, API server restarted: its watch cache
 *             starts anew): relist, deletes synthesised
 *   bookmark  bookmarks arrive and advance the resourceVersion
 *   forbidden the gateway's identity may not list pods cluster-wide: the
 *             fatal handler gets the server's message verbatim
 *
 * Pods carry paia.io/test-run=<random> and schedulerName "none", so no
 * scheduler or kwok touches them and runs do not see each other.
 */
#include "config.h"
#include "common.h"
#include "k8s.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>
#include <curl/curl.h>
#include <event2/event.h>

static struct event_base *base;
static struct evcurl *ec;
static struct k8s_client *client;
static const char *ns;
static char run[32];
static int tap_n, tap_failed;

static void
ok(int cond, const char *fmt, ...) printflike(2, 3);

static void
ok(int cond, const char *fmt, ...)
{
	va_list ap;

	printf("%s %d - ", cond ? "ok" : "not ok", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!cond)
		tap_failed++;
}

static void
diag(const char *fmt, ...) printflike(1, 2);

static void
diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/* ---- running the loop until something holds ---- */

static int
loop_until(int (*cond)(void *), void *arg, int timeout_ms)
{
	int64_t end = util_mono_ms() + timeout_ms;
	struct timeval tv = { 0, 20000 };

	while (!cond(arg)) {
		if (util_mono_ms() > end)
			return 0;
		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
	return 1;
}

static void
loop_for(int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

/* ---- requests in flight ---- */

struct batch {
	int pending;
	int failed;
	int exists;
	char *last_error;
	char *body;	/* of the last success */
};

static int
batch_done_cond(void *arg)
{
	return ((struct batch *)arg)->pending == 0;
}

static void
batch_cb(const struct k8s_response *resp, void *arg)
{
	struct batch *b = arg;

	b->pending--;
	if (resp->error == K8S_ERR_EXISTS)
		b->exists++;
	if (resp->error != K8S_OK) {
		b->failed++;
		free(b->last_error);
		xasprintf(&b->last_error, "%s (%ld %s): %s", k8s_error_name(resp->error),
		    resp->http_code, resp->status.reason, resp->status.message);
	} else {
		free(b->body);
		b->body = xstrndup(resp->body, resp->body_len);
	}
}

static int
batch_wait(struct batch *b, int timeout_ms)
{
	if (loop_until(batch_done_cond, b, timeout_ms))
		return 1;
	/* Requests still run (their retries are bounded): b must outlive them. */
	diag("requests still running after %d ms, waiting for them", timeout_ms);
	loop_until(batch_done_cond, b, 1 << 30);
	return 0;
}

static void
batch_clear(struct batch *b)
{
	free(b->last_error);
	free(b->body);
	memset(b, 0, sizeof *b);
}

static char *
pod_json(const char *name, const char *group)
{
	char *s;

	xasprintf(&s, "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\","
	    "\"labels\":{\"paia.io/test-run\":\"%s\",\"group\":\"%s\"},\"annotations\":"
	    "{\"paia.io/note\":\"created\"}},\"spec\":{\"schedulerName\":\"none\","
	    "\"restartPolicy\":\"Never\",\"terminationGracePeriodSeconds\":0,"
	    "\"securityContext\":{\"runAsNonRoot\":true,\"runAsUser\":1000,"
	    "\"seccompProfile\":{\"type\":\"RuntimeDefault\"}},\"containers\":[{\"name\":\"game\","
	    "\"image\":\"registry.invalid/paiagym:test\",\"resources\":{\"limits\":{\"cpu\":"
	    "\"100m\",\"memory\":\"64Mi\"}},\"securityContext\":{\"allowPrivilegeEscalation\":"
	    "false,\"capabilities\":{\"drop\":[\"ALL\"]}}}]}}", name, run, group);
	return s;
}

static void
create_pods(const char *prefix, const char *group, int from, int to, struct batch *b)
{
	char name[64], *json;
	int i;

	for (i = from; i < to; i++) {
		snprintf(name, sizeof name, "%s-%04d", prefix, i);
		json = pod_json(name, group);
		b->pending++;
		k8s_pod_create(client, ns, json, batch_cb, b);
		free(json);
	}
}

static void
patch_pods(const char *prefix, int from, int to, const char *note, struct batch *b)
{
	char name[64], *path, *json;
	int i;

	xasprintf(&json, "{\"metadata\":{\"annotations\":{\"paia.io/note\":\"%s\"},\"labels\":"
	    "{\"updated\":\"yes\"}}}", note);
	for (i = from; i < to; i++) {
		snprintf(name, sizeof name, "%s-%04d", prefix, i);
		xasprintf(&path, "/api/v1/namespaces/%s/pods/%s", ns, name);
		b->pending++;
		k8s_patch_merge(client, path, json, batch_cb, b);
		free(path);
	}
	free(json);
}

static void
delete_pods(struct k8s_client *c, const char *prefix, int from, int to, struct batch *b)
{
	char name[64];
	int i;

	for (i = from; i < to; i++) {
		snprintf(name, sizeof name, "%s-%04d", prefix, i);
		b->pending++;
		k8s_pod_delete(c, ns, name, 0, batch_cb, b);
	}
}

/* ---- an informer and what it told us ---- */

struct watcher {
	struct k8s_informer *inf;
	int adds, updates, deletes, synthesised, syncs, fatal;
	char *fatal_message;
	char *fatal_verb;
	const char *note_wanted;	/* wait until every pod shows this note */
};

static const char *keep_paia[] = { "paia.io/", NULL };
static const struct k8s_pod_filter keep_filter = { keep_paia };

static void
w_add(const struct k8s_object *o, void *arg)
{
	((struct watcher *)arg)->adds++;
}

static void
w_update(const struct k8s_object *old, const struct k8s_object *o, void *arg)
{
	((struct watcher *)arg)->updates++;
}

static void
w_del(const struct k8s_object *o, int final_unknown, void *arg)
{
	struct watcher *w = arg;

	w->deletes++;
	w->synthesised += final_unknown;
}

static void
w_synced(void *arg)
{
	((struct watcher *)arg)->syncs++;
}

static void
w_fatal(const char *verb, const struct k8s_status *st, void *arg)
{
	struct watcher *w = arg;

	w->fatal++;
	w->fatal_verb = xstrdup(verb);
	w->fatal_message = xstrdup(st->message);
}

static void
watcher_start(struct watcher *w, struct k8s_client *c, const char *namespace, unsigned timeout_s)
{
	struct k8s_informer_opts o;
	char *sel;

	memset(w, 0, sizeof *w);
	memset(&o, 0, sizeof o);
	xasprintf(&sel, "paia.io/test-run=%s", run);
	o.kind = &k8s_pod_kind;
	o.kind_arg = &keep_filter;
	o.namespace = namespace;
	o.label_selector = sel;
	o.page_size = 100;	/* several pages for 500 pods */
	o.watch_timeout_s = timeout_s;
	o.h.add = w_add;
	o.h.update = w_update;
	o.h.del = w_del;
	o.h.synced = w_synced;
	o.h.fatal = w_fatal;
	o.arg = w;
	w->inf = k8s_informer_new(c, &o);
	free(sel);
	k8s_informer_start(w->inf);
}

static void
watcher_stop(struct watcher *w)
{
	k8s_informer_free(w->inf);
	free(w->fatal_message);
	free(w->fatal_verb);
	memset(w, 0, sizeof *w);
}

static int
synced_cond(void *arg)
{
	struct watcher *w = arg;

	return w->syncs > 0 || w->fatal > 0;
}

/* ---- the cache against a fresh list ---- */

struct compare {
	struct watcher *w;
	cJSON *items;
	int missing, stale, extra, checked;
	char first_diff[256];
};

static void
compare_extra(const struct k8s_object *o, void *arg)
{
	struct compare *c = arg;
	cJSON *it;
	int found = 0;

	cJSON_ArrayForEach(it, c->items) {
		cJSON *md = cJSON_GetObjectItem(it, "metadata");
		if (strcmp(cJSON_GetObjectItem(md, "name")->valuestring, o->name) == 0)
			found = 1;
	}
	if (!found) {
		c->extra++;
		if (c->first_diff[0] == '\0')
			snprintf(c->first_diff, sizeof c->first_diff, "cached but not listed: %s",
			    o->name);
	}
}

/* 0 when the informer's cache holds exactly the listed pods, same versions. */
static int
compare_with_list(struct watcher *w, struct compare *c)
{
	struct batch b = { 0 };
	char *path, *sel;
	cJSON *list, *it;

	memset(c, 0, sizeof *c);
	sel = NULL;
	xasprintf(&sel, "paia.io%%2Ftest-run%%3D%s", run);
	xasprintf(&path, "/api/v1/namespaces/%s/pods?labelSelector=%s", ns, sel);
	b.pending = 1;
	k8s_get(client, path, batch_cb, &b);
	free(path);
	free(sel);
	if (!batch_wait(&b, 60000) || b.failed) {
		snprintf(c->first_diff, sizeof c->first_diff, "list failed: %s",
		    b.last_error != NULL ? b.last_error : "timeout");
		batch_clear(&b);
		return -1;
	}
	list = cJSON_Parse(b.body);
	batch_clear(&b);
	c->items = cJSON_GetObjectItem(list, "items");
	cJSON_ArrayForEach(it, c->items) {
		cJSON *md = cJSON_GetObjectItem(it, "metadata");
		const char *name = cJSON_GetObjectItem(md, "name")->valuestring;
		const char *rv = cJSON_GetObjectItem(md, "resourceVersion")->valuestring;
		const struct k8s_pod *p = (const struct k8s_pod *)k8s_informer_get(w->inf, ns, name);
		const char *note = cJSON_GetObjectItem(cJSON_GetObjectItem(md, "annotations"),
		    "paia.io/note")->valuestring;

		c->checked++;
		if (p == NULL) {
			c->missing++;
			if (c->first_diff[0] == '\0')
				snprintf(c->first_diff, sizeof c->first_diff, "listed, not cached: %s",
				    name);
		} else if (strcmp(p->meta.resource_version, rv) != 0 ||
		    k8s_pod_annotation(p, "paia.io/note") == NULL ||
		    strcmp(k8s_pod_annotation(p, "paia.io/note"), note) != 0) {
			c->stale++;
			if (c->first_diff[0] == '\0')
				snprintf(c->first_diff, sizeof c->first_diff, "%s: cached rv %s, listed "
				    "rv %s", name, p->meta.resource_version, rv);
		}
	}
	k8s_informer_foreach(w->inf, compare_extra, c);
	cJSON_Delete(list);
	return c->missing + c->stale + c->extra == 0 ? 0 : -1;
}

/* Wait (events may still be on their way) until the cache equals a list. */
static int
converge(struct watcher *w, struct compare *c, int timeout_ms)
{
	int64_t end = util_mono_ms() + timeout_ms;

	for (;;) {
		if (compare_with_list(w, c) == 0)
			return 0;
		if (util_mono_ms() > end)
			return -1;
		loop_for(500);
	}
}

static void
cleanup_run(void)
{
	struct batch b = { 0 };
	char *path;

	/* Everything of this run, by label, at once (deletecollection). */
	xasprintf(&path, "/api/v1/namespaces/%s/pods?labelSelector=paia.io%%2Ftest-run%%3D%s",
	    ns, run);
	b.pending = 1;
	k8s_delete(client, path, 0, NULL, batch_cb, &b);
	batch_wait(&b, 60000);
	batch_clear(&b);
	free(path);
}

/* ---- scenarios ---- */

static void
scenario_pods(void)
{
	struct batch b = { 0 };
	struct k8s_pod *p;
	char *json = pod_json("api-0001", "api"), *cause = NULL, *path;

	b.pending = 1;
	k8s_pod_create(client, ns, json, batch_cb, &b);
	batch_wait(&b, 30000);
	ok(b.failed == 0, "pods: create (%s)", b.last_error != NULL ? b.last_error : "ok");
	batch_clear(&b);
	b.pending = 1;
	k8s_pod_create(client, ns, json, batch_cb, &b);
	batch_wait(&b, 30000);
	ok(b.exists == 1, "pods: a second create is K8S_ERR_EXISTS (%s)",
	    b.last_error != NULL ? b.last_error : "no error");
	batch_clear(&b);
	b.pending = 1;
	k8s_pod_get(client, ns, "api-0001", batch_cb, &b);
	batch_wait(&b, 30000);
	p = b.body != NULL ? k8s_pod_extract(b.body, strlen(b.body), &keep_filter, &cause) : NULL;
	ok(p != NULL && strcmp(p->meta.name, "api-0001") == 0 && strcmp(p->phase, "Pending") == 0 &&
	    strcmp(k8s_pod_label(p, "group"), "api") == 0, "pods: get and extract");
	k8s_pod_free(p);
	free(cause);
	batch_clear(&b);
	xasprintf(&path, "/api/v1/namespaces/%s/pods/api-0001", ns);
	b.pending = 1;
	k8s_patch_merge(client, path, "{\"metadata\":{\"annotations\":{\"paia.io/note\":"
	    "\"patched\"}}}", batch_cb, &b);
	batch_wait(&b, 30000);
	p = b.body != NULL ? k8s_pod_extract(b.body, strlen(b.body), &keep_filter, NULL) : NULL;
	ok(p != NULL && strcmp(k8s_pod_annotation(p, "paia.io/note"), "patched") == 0,
	    "pods: merge patch");
	k8s_pod_free(p);
	batch_clear(&b);
	free(path);
	b.pending = 1;
	k8s_pod_get(client, ns, "no-such-pod", batch_cb, &b);
	batch_wait(&b, 30000);
	ok(b.failed == 1 && strstr(b.last_error, "not found (404 NotFound): pods \"no-such-pod\" "
	    "not found") != NULL, "pods: get of a missing pod: %s", b.last_error);
	batch_clear(&b);
	delete_pods(client, "api", 1, 2, &b);
	batch_wait(&b, 30000);
	ok(b.failed == 0, "pods: delete with grace 0");
	batch_clear(&b);
	free(json);
}

static void
scenario_churn(void)
{
	int rc;
	struct watcher w;
	struct compare c;
	struct batch b = { 0 };
	struct k8s_informer_stats st;
	int64_t t0;

	watcher_start(&w, client, ns, 0);
	ok(loop_until(synced_cond, &w, 30000) && w.fatal == 0, "churn: informer synced");
	t0 = util_mono_ms();
	create_pods("churn", "churn", 0, 500, &b);
	batch_wait(&b, 180000);
	ok(b.failed == 0, "churn: 500 pods created (%s)", b.last_error ? b.last_error : "ok");
	batch_clear(&b);
	patch_pods("churn", 0, 500, "updated", &b);
	batch_wait(&b, 180000);
	ok(b.failed == 0, "churn: 500 pods updated (%s)", b.last_error ? b.last_error : "ok");
	batch_clear(&b);
	delete_pods(client, "churn", 0, 250, &b);
	batch_wait(&b, 180000);
	ok(b.failed == 0, "churn: 250 pods deleted (%s)", b.last_error ? b.last_error : "ok");
	batch_clear(&b);
	diag("churn: writes took %.1f s", (double)(util_mono_ms() - t0) / 1000);
	rc = converge(&w, &c, 60000);
	ok(rc == 0, "churn: the cache equals a fresh list (%d pods; %s)",
	    c.checked, c.first_diff);
	ok(k8s_informer_count(w.inf) == 250, "churn: 250 pods cached (%zu)",
	    k8s_informer_count(w.inf));
	ok(w.adds == 500 && w.deletes == 250 && w.synthesised == 0 && w.updates >= 500,
	    "churn: handlers saw 500 adds, >= 500 updates, 250 deletes (%d, %d, %d)", w.adds,
	    w.updates, w.deletes);
	k8s_informer_stats(w.inf, &st);
	diag("churn: events=%llu watches=%llu relists=%llu errors=%llu",
	    (unsigned long long)st.events, (unsigned long long)st.watches,
	    (unsigned long long)st.relists, (unsigned long long)st.errors);
	watcher_stop(&w);
}

static int
run_cmd(const char *what)
{
	const char *cmd = getenv(what);
	int rc;

	if (cmd == NULL || *cmd == '\0') {
		diag("%s is not set", what);
		return -1;
	}
	/* The loop stands still meanwhile, as if this process were stopped. */
	rc = system(cmd);
	return rc == 0 ? 0 : -1;
}

static void
scenario_restart(void)
{
	int rc;
	struct watcher w;
	struct compare c;
	struct batch b = { 0 };
	struct k8s_informer_stats st;

	watcher_start(&w, client, ns, 0);
	ok(loop_until(synced_cond, &w, 30000), "restart: informer synced");
	create_pods("rs", "restart", 0, 20, &b);
	batch_wait(&b, 60000);
	batch_clear(&b);
	rc = converge(&w, &c, 30000);
	ok(rc == 0, "restart: cache equals the list before (%s)",
	    c.first_diff);
	ok(run_cmd("K8S_RESTART_CMD") == 0, "restart: API server restarted");
	/* Writes right after: the client retries until the server answers. */
	create_pods("rs", "restart", 20, 40, &b);
	delete_pods(client, "rs", 0, 10, &b);
	batch_wait(&b, 120000);
	ok(b.failed == 0, "restart: writes after the restart (%s)", b.last_error ? b.last_error :
	    "ok");
	batch_clear(&b);
	rc = converge(&w, &c, 90000);
	ok(rc == 0, "restart: the cache caught up (%d pods; %s)", c.checked,
	    c.first_diff);
	k8s_informer_stats(w.inf, &st);
	ok(st.watches >= 2, "restart: the watch was re-established (watches=%llu relists=%llu "
	    "errors=%llu)", (unsigned long long)st.watches, (unsigned long long)st.relists,
	    (unsigned long long)st.errors);
	ok(w.fatal == 0, "restart: no fatal error");
	watcher_stop(&w);
}

static void
scenario_gone(void)
{
	int rc;
	struct watcher w;
	struct compare c;
	struct batch b = { 0 };
	struct k8s_informer_stats st;
	struct event_base *side_base = event_base_new(), *main_base = base;
	struct evcurl *side_ec = evcurl_new(side_base);
	struct k8s_config *cfg;
	struct k8s_client *side;
	char *cause = NULL;

	watcher_start(&w, client, ns, 0);
	ok(loop_until(synced_cond, &w, 30000), "gone: informer synced");
	create_pods("gone", "gone", 0, 30, &b);
	batch_wait(&b, 60000);
	batch_clear(&b);
	rc = converge(&w, &c, 30000);
	ok(rc == 0, "gone: cache equals the list before (%s)", c.first_diff);
	/*
	 * The informer is cut off: its loop stands still while the API
	 * server restarts (its watch connection dies unread), 12 pods are
	 * deleted through another client on another loop, history is
	 * compacted and the server restarted again: resuming from the old
	 * resourceVersion answers 410, and only a relist shows the deletes.
	 */
	ok(run_cmd("K8S_RESTART_CMD") == 0, "gone: API server restarted (the watch is cut)");
	cfg = k8s_config_load(NULL, NULL, 0, &cause);
	side = k8s_client_new(side_base, side_ec, cfg, NULL);
	base = side_base;
	delete_pods(side, "gone", 0, 12, &b);
	batch_wait(&b, 60000);
	ok(b.failed == 0, "gone: 12 pods deleted behind the informer's back");
	batch_clear(&b);
	k8s_client_free(side);
	evcurl_free(side_ec);
	event_base_free(side_base);
	base = main_base;
	ok(run_cmd("K8S_COMPACT_CMD") == 0, "gone: etcd compacted");
	ok(run_cmd("K8S_RESTART_CMD") == 0, "gone: API server restarted");
	rc = converge(&w, &c, 90000);
	ok(rc == 0, "gone: the cache equals the list after (%d pods; %s)",
	    c.checked, c.first_diff);
	k8s_informer_stats(w.inf, &st);
	ok(st.relists >= 1, "gone: relisted (relists=%llu watches=%llu errors=%llu)",
	    (unsigned long long)st.relists, (unsigned long long)st.watches,
	    (unsigned long long)st.errors);
	ok(w.synthesised == 12 && st.synthesised_deletes == 12,
	    "gone: 12 deletes synthesised with final state unknown (%d)", w.synthesised);
	ok(k8s_informer_count(w.inf) == 18, "gone: 18 pods cached (%zu)",
	    k8s_informer_count(w.inf));
	watcher_stop(&w);
}

struct bm_wait {
	struct watcher *w;
	uint64_t bookmarks;
};

static int
bookmark_cond(void *arg)
{
	struct bm_wait *bw = arg;
	struct k8s_informer_stats st;

	k8s_informer_stats(bw->w->inf, &st);
	return st.bookmarks > bw->bookmarks;
}

static void
scenario_bookmark(void)
{
	struct watcher w;
	struct bm_wait bw;
	struct k8s_informer_stats st;
	struct batch b = { 0 };
	char *rv0;

	/*
	 * The API server sends a bookmark shortly before a watch times out
	 * (and about once a minute): a 20 s watch sees one soon.
	 */
	watcher_start(&w, client, ns, 20);
	ok(loop_until(synced_cond, &w, 30000), "bookmark: informer synced");
	rv0 = xstrdup(k8s_informer_resource_version(w.inf));
	/* Other objects change (another run's): the store's revision moves on. */
	strcat(run, "x");
	create_pods("bm", "other-run", 0, 3, &b);
	batch_wait(&b, 30000);
	batch_clear(&b);
	delete_pods(client, "bm", 0, 3, &b);
	batch_wait(&b, 30000);
	batch_clear(&b);
	run[strlen(run) - 1] = '\0';
	bw.w = &w;
	bw.bookmarks = 0;
	ok(loop_until(bookmark_cond, &bw, 90000), "bookmark: a bookmark arrived");
	k8s_informer_stats(w.inf, &st);
	ok(strtoull(k8s_informer_resource_version(w.inf), NULL, 10) > strtoull(rv0, NULL, 10),
	    "bookmark: the resourceVersion advanced (%s -> %s) with no event of ours "
	    "(events=%llu, bookmarks=%llu)", rv0, k8s_informer_resource_version(w.inf),
	    (unsigned long long)st.events, (unsigned long long)st.bookmarks);
	ok(st.events == 0, "bookmark: no events for the selector");
	free(rv0);
	watcher_stop(&w);
}

static void
scenario_forbidden(void)
{
	const char *kc = getenv("K8S_GATEWAY_KUBECONFIG");
	struct event_base *b2 = base;
	struct k8s_config *cfg;
	struct k8s_client *gw;
	struct watcher w;
	char *cause = NULL;

	if (kc == NULL || (cfg = k8s_config_load_kubeconfig(kc, NULL, 0, &cause)) == NULL) {
		ok(0, "forbidden: gateway kubeconfig: %s", cause != NULL ? cause : "not set");
		free(cause);
		return;
	}
	gw = k8s_client_new(b2, ec, cfg, NULL);
	watcher_start(&w, gw, NULL, 0);	/* all namespaces: not granted */
	ok(loop_until(synced_cond, &w, 30000) && w.fatal == 1, "forbidden: fatal handler called");
	ok(w.fatal_message != NULL && strcmp(w.fatal_verb, "list") == 0 &&
	    strstr(w.fatal_message, "pods is forbidden: User \"system:serviceaccount:") != NULL &&
	    strstr(w.fatal_message, "cannot list resource \"pods\" in API group \"\" at the cluster "
	    "scope") != NULL, "forbidden: verbatim message: %s", w.fatal_message);
	watcher_stop(&w);
	/* In its own namespace it may list and watch. */
	watcher_start(&w, gw, ns, 0);
	ok(loop_until(synced_cond, &w, 30000) && w.fatal == 0 && w.syncs == 1,
	    "forbidden: the same identity lists its own namespace");
	watcher_stop(&w);
	k8s_client_free(gw);
}

int
main(int argc, char **argv)
{
	struct k8s_client_opts co;
	struct k8s_config *cfg;
	char *cause = NULL;
	int i;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (getenv("K8S_TEST_DEBUG") != NULL)
		log_set_level(LOG_LEVEL_DEBUG);
	ns = getenv("K8S_NAMESPACE") != NULL ? getenv("K8S_NAMESPACE") : "paia";
	snprintf(run, sizeof run, "r%lx%x", (unsigned long)util_now_ms() % 0xffffff,
	    (unsigned)getpid());
	if ((cfg = k8s_config_load(NULL, NULL, 0, &cause)) == NULL) {
		printf("Bail out! %s\n", cause);
		return 1;
	}
	base = event_base_new();
	ec = evcurl_new(base);
	memset(&co, 0, sizeof co);
	co.qps = 200;
	co.burst = 200;
	client = k8s_client_new(base, ec, cfg, &co);
	printf("# run %s in namespace %s against %s\n", run, ns, k8s_config_server(cfg));
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "pods") == 0)
			scenario_pods();
		else if (strcmp(argv[i], "churn") == 0)
			scenario_churn();
		else if (strcmp(argv[i], "restart") == 0)
			scenario_restart();
		else if (strcmp(argv[i], "gone") == 0)
			scenario_gone();
		else if (strcmp(argv[i], "bookmark") == 0)
			scenario_bookmark();
		else if (strcmp(argv[i], "forbidden") == 0)
			scenario_forbidden();
		else
			printf("Bail out! unknown scenario %s\n", argv[i]);
		cleanup_run();
	}
	printf("1..%d\n", tap_n);
	k8s_client_free(client);
	evcurl_free(ec);
	event_base_free(base);
	curl_global_cleanup();
	return tap_failed > 0;
}
