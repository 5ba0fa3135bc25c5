/*
 * informer.c: a cache of one kind of object kept in step with the API
 * server, after client-go's reflector: a paginated list, then a watch
 * from the list's resourceVersion with bookmarks. The watch stream's
 * normal end (timeoutSeconds) re-watches from the last resourceVersion
 * seen; 410 Gone (an ERROR event or the answer to the watch) relists,
 * and objects the new list lacks get synthesised deletes; failures back
 * off (0.8 s doubling to 30 s, jittered) and retry; refusals (401, 403,
 * 404, 400) stop it and reach the caller's fatal handler verbatim.
 *
 * Only what the kind's extract keeps is cached, in a hash table keyed
 * by namespace/name. The informer never blocks and may be freed from
 * its own handlers (the free is deferred to the loop).
 */
#include "config.h"
#include "common.h"
#include "k8s.h"
#include "k8s-int.h"

#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

struct inf_entry {
	struct inf_entry *next;
	uint64_t hash;
	uint32_t mark;
	struct k8s_object *obj;
};

enum inf_state { INF_IDLE, INF_LISTING, INF_WATCHING, INF_BACKOFF, INF_STOPPED };
enum inf_next { INF_NEXT_LIST, INF_NEXT_WATCH };
enum inf_action { INF_ACT_NONE, INF_ACT_RELIST, INF_ACT_ERROR };

struct k8s_informer {
	struct k8s_client *c;
	struct k8s_informer_opts o;
	char *ns, *label_selector, *field_selector;
	char *base_path;
	struct inf_entry **buckets;
	size_t nbuckets, count;
	uint32_t mark;
	char *rv;
	int synced;
	int listing;		/* the handlers run for a list being applied */
	int dead;
	int depth;		/* inside one of our callbacks */
	enum inf_state state;
	enum inf_next next;
	struct k8s_req *req;
	/* list in progress */
	struct k8s_object **pending;
	size_t npending, cappending;
	char *list_rv;
	char *cont;
	/* watch in progress */
	struct k8s_watch_decoder *dec;
	enum inf_action action;
	char *action_why;
	uint64_t watch_events;
	int64_t watch_started_ms;
	struct backoff bo;
	struct event *timer;
	struct event *free_ev;
	struct k8s_informer_stats st;
};

static void inf_list_page(struct k8s_informer *);
static void inf_list_done(const struct k8s_response *, void *);
static void inf_watch_done(const struct k8s_response *, void *);
static void inf_watch(struct k8s_informer *);

/* ---- the table ---- */

static uint64_t
inf_hash(const char *ns, const char *name)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *ns != '\0'; ns++)
		h = (h ^ (unsigned char)*ns) * 0x100000001b3ULL;
	h = (h ^ '/') * 0x100000001b3ULL;
	for (; *name != '\0'; name++)
		h = (h ^ (unsigned char)*name) * 0x100000001b3ULL;
	return h;
}

static struct inf_entry **
inf_find(const struct k8s_informer *inf, const char *ns, const char *name, uint64_t h)
{
	struct inf_entry **ep;

	if (inf->nbuckets == 0)
		return NULL;
	for (ep = &inf->buckets[h & (inf->nbuckets - 1)]; *ep != NULL; ep = &(*ep)->next) {
		if ((*ep)->hash == h && strcmp((*ep)->obj->name, name) == 0 &&
		    strcmp((*ep)->obj->namespace, ns) == 0)
			return ep;
	}
	return NULL;
}

static void
inf_grow(struct k8s_informer *inf)
{
	size_t n = inf->nbuckets == 0 ? 64 : inf->nbuckets * 2, i;
	struct inf_entry **b = xcalloc(n, sizeof *b), *e, *next;

	for (i = 0; i < inf->nbuckets; i++) {
		for (e = inf->buckets[i]; e != NULL; e = next) {
			next = e->next;
			e->next = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
		}
	}
	free(inf->buckets);
	inf->buckets = b;
	inf->nbuckets = n;
}

static struct inf_entry *
inf_insert(struct k8s_informer *inf, struct k8s_object *obj, uint64_t h)
{
	struct inf_entry *e = xmalloc(sizeof *e);

	if (inf->count >= inf->nbuckets)
		inf_grow(inf);
	e->hash = h;
	e->obj = obj;
	e->mark = inf->mark;
	e->next = inf->buckets[h & (inf->nbuckets - 1)];
	inf->buckets[h & (inf->nbuckets - 1)] = e;
	inf->count++;
	return e;
}

static void
inf_set_rv(struct k8s_informer *inf, const char *rv)
{
	if (rv == NULL || *rv == '\0' || (inf->rv != NULL && strcmp(inf->rv, rv) == 0))
		return;
	free(inf->rv);
	inf->rv = xstrdup(rv);
}

/* ---- scheduling ---- */

static void
inf_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct k8s_informer *inf = arg;

	if (inf->dead || inf->state == INF_STOPPED)
		return;
	if (inf->next == INF_NEXT_LIST || inf->rv == NULL)
		inf_list_page(inf);
	else
		inf_watch(inf);
}

/* Run next after delay_ms (0: from the loop at once). */
static void
inf_schedule(struct k8s_informer *inf, enum inf_next next, uint32_t delay_ms)
{
	struct timeval tv;

	inf->state = INF_BACKOFF;
	inf->next = next;
	tv.tv_sec = delay_ms / 1000;
	tv.tv_usec = (delay_ms % 1000) * 1000;
	evtimer_add(inf->timer, &tv);
}

static void
inf_backoff(struct k8s_informer *inf, enum inf_next next, const char *verb,
    const struct k8s_response *resp, const char *why)
{
	uint32_t ms = backoff_next(&inf->bo);

	if (resp != NULL && resp->retry_after_s > ms / 1000)
		ms = (uint32_t)(resp->retry_after_s > 300 ? 300 : resp->retry_after_s) * 1000;
	inf->st.errors++;
	log_warn("informer: failed, retrying", "kind=%s verb=%s error=%s retry_in_ms=%u",
	    log_q(inf->o.kind->name), log_q(verb), log_q(why), ms);
	inf_schedule(inf, next, ms);
}

/* Refusals that no retry will cure stop the informer. */
static int
inf_refused(struct k8s_informer *inf, const char *verb, const struct k8s_response *resp)
{
	switch (resp->error) {
	case K8S_ERR_AUTH:
	case K8S_ERR_FORBIDDEN:
	case K8S_ERR_NOT_FOUND:
	case K8S_ERR_INVALID:
	case K8S_ERR_HTTP:
		break;
	default:
		return 0;
	}
	inf->state = INF_STOPPED;
	log_error("informer: refused by the API server, stopped", "kind=%s verb=%s http=%ld "
	    "reason=%s error=%s", log_q(inf->o.kind->name), log_q(verb), resp->http_code,
	    log_q(resp->status.reason), log_q(resp->status.message));
	if (inf->o.h.fatal != NULL)
		inf->o.h.fatal(verb, &resp->status, inf->o.arg);
	return 1;
}

/* ---- list ---- */

static void
inf_pending_clear(struct k8s_informer *inf)
{
	size_t i;

	for (i = 0; i < inf->npending; i++)
		inf->o.kind->free(inf->pending[i]);
	inf->npending = 0;
	free(inf->list_rv);
	inf->list_rv = NULL;
	free(inf->cont);
	inf->cont = NULL;
}

/* Items and metadata of one page. -1 with *cause if malformed. */
static int
inf_list_decode(struct k8s_informer *inf, const char *body, size_t len, char **cause)
{
	struct kjson j;
	struct k8s_object *obj;
	const char *p = body, *k, *k2, *item;
	char *err = NULL;
	size_t kl, kl2;
	int r, r2, n = 0, m;

	/* The token of the page before is spent: only this page's counts. */
	free(inf->cont);
	inf->cont = NULL;
	kjson_init(&j, body, len);
	if (kjson_obj_begin(&j, &p) != 0)
		goto bad;
	while ((r = kjson_obj_next(&j, &p, &n, &k, &kl)) == 1) {
		if (KJSON_KEY(k, kl, "metadata")) {
			m = 0;
			if (kjson_obj_begin(&j, &p) != 0)
				goto bad;
			while ((r2 = kjson_obj_next(&j, &p, &m, &k2, &kl2)) == 1) {
				char **dst = KJSON_KEY(k2, kl2, "resourceVersion") ? &inf->list_rv :
				    KJSON_KEY(k2, kl2, "continue") ? &inf->cont : NULL;
				if (dst != NULL && !kjson_null(&j, &p)) {
					free(*dst);
					*dst = NULL;
					p = kjson_string_dup(&j, p, dst);
				} else if (dst == NULL)
					p = kjson_skip(&j, p);
				if (p == NULL)
					goto bad;
			}
			if (r2 != 0)
				goto bad;
		} else if (KJSON_KEY(k, kl, "items") && !kjson_null(&j, &p)) {
			m = 0;
			if (kjson_arr_begin(&j, &p) != 0)
				goto bad;
			while ((r2 = kjson_arr_next(&j, &p, &m)) == 1) {
				item = p;
				if ((p = kjson_skip(&j, p)) == NULL)
					goto bad;
				obj = inf->o.kind->extract(item, (size_t)(p - item), inf->o.kind_arg, &err);
				if (obj == NULL) {
					log_error("informer: list item skipped", "kind=%s error=%s",
					    log_q(inf->o.kind->name), log_q(err));
					free(err);
					err = NULL;
					continue;
				}
				if (inf->npending == inf->cappending) {
					inf->cappending = inf->cappending == 0 ? 256 : inf->cappending * 2;
					inf->pending = xreallocarray(inf->pending, inf->cappending,
					    sizeof *inf->pending);
				}
				inf->pending[inf->npending++] = obj;
			}
			if (r2 != 0)
				goto bad;
		} else if ((p = kjson_skip(&j, p)) == NULL)
			goto bad;
	}
	if (r != 0)
		goto bad;
	return 0;
bad:
	xasprintf(cause, "list of %s: malformed JSON at byte %zu: %s", inf->o.kind->name,
	    (size_t)((j.err_at != NULL ? j.err_at : body) - body), j.err != NULL ? j.err : "?");
	return -1;
}

/* The complete list replaces the cache: adds, updates, synthesised deletes. */
static void
inf_list_apply(struct k8s_informer *inf)
{
	struct inf_entry **ep, *e;
	struct k8s_object *obj, *old;
	size_t i;
	uint64_t h;

	inf->mark++;
	inf->listing = 1;
	for (i = 0; i < inf->npending && !inf->dead; i++) {
		obj = inf->pending[i];
		inf->pending[i] = NULL;
		h = inf_hash(obj->namespace, obj->name);
		if ((ep = inf_find(inf, obj->namespace, obj->name, h)) == NULL) {
			inf_insert(inf, obj, h);
			if (inf->o.h.add != NULL)
				inf->o.h.add(obj, inf->o.arg);
			continue;
		}
		e = *ep;
		e->mark = inf->mark;
		if (e->obj->resource_version != NULL && obj->resource_version != NULL &&
		    strcmp(e->obj->resource_version, obj->resource_version) == 0) {
			inf->o.kind->free(obj);
			continue;
		}
		old = e->obj;
		e->obj = obj;
		if (inf->o.h.update != NULL)
			inf->o.h.update(old, obj, inf->o.arg);
		inf->o.kind->free(old);
	}
	for (; i < inf->npending; i++)
		if (inf->pending[i] != NULL)
			inf->o.kind->free(inf->pending[i]);
	inf->npending = 0;
	/* What the list did not return is gone: its final state is unknown. */
	for (i = 0; i < inf->nbuckets && !inf->dead; i++) {
		ep = &inf->buckets[i];
		while ((e = *ep) != NULL && !inf->dead) {
			if (e->mark == inf->mark) {
				ep = &e->next;
				continue;
			}
			*ep = e->next;
			inf->count--;
			inf->st.synthesised_deletes++;
			if (inf->o.h.del != NULL)
				inf->o.h.del(e->obj, 1, inf->o.arg);
			inf->o.kind->free(e->obj);
			free(e);
		}
	}
	inf->listing = 0;
	if (inf->dead)
		return;
	inf_set_rv(inf, inf->list_rv);
	inf->synced = 1;
	inf->st.lists++;
	log_info("informer: listed", "kind=%s objects=%zu resource_version=%s",
	    log_q(inf->o.kind->name), inf->count, log_q(inf->rv != NULL ? inf->rv : ""));
	if (inf->o.h.synced != NULL)
		inf->o.h.synced(inf->o.arg);
}

static void
inf_list_done1(struct k8s_informer *inf, const struct k8s_response *resp)
{
	char *cause = NULL;

	inf->req = NULL;
	if (inf->dead)
		return;
	if (resp->error != K8S_OK) {
		if (resp->error == K8S_ERR_GONE && inf->cont != NULL) {
			/* The continue token expired: list again from the start. */
			inf_pending_clear(inf);
			inf_schedule(inf, INF_NEXT_LIST, 0);
			return;
		}
		if (inf_refused(inf, "list", resp))
			return;
		inf_pending_clear(inf);
		inf_backoff(inf, INF_NEXT_LIST, "list", resp, resp->status.message);
		return;
	}
	inf->st.list_pages++;
	if (inf_list_decode(inf, resp->body, resp->body_len, &cause) != 0) {
		inf_pending_clear(inf);
		inf_backoff(inf, INF_NEXT_LIST, "list", NULL, cause);
		free(cause);
		return;
	}
	if (inf->cont != NULL && *inf->cont != '\0') {
		inf_list_page(inf);
		return;
	}
	inf_list_apply(inf);
	if (inf->dead)
		return;
	inf_pending_clear(inf);
	backoff_reset(&inf->bo);
	inf_watch(inf);
}

static void
inf_list_done(const struct k8s_response *resp, void *arg)
{
	struct k8s_informer *inf = arg;

	inf->depth++;
	inf_list_done1(inf, resp);
	inf->depth--;
}

static char *
inf_selectors(const struct k8s_informer *inf)
{
	char *q = xstrdup(""), *nq, *e;

	if (inf->label_selector != NULL) {
		e = k8s_query_escape(inf->label_selector);
		xasprintf(&nq, "%s&labelSelector=%s", q, e);
		free(e);
		free(q);
		q = nq;
	}
	if (inf->field_selector != NULL) {
		e = k8s_query_escape(inf->field_selector);
		xasprintf(&nq, "%s&fieldSelector=%s", q, e);
		free(e);
		free(q);
		q = nq;
	}
	return q;
}

static void
inf_list_page(struct k8s_informer *inf)
{
	char *sel = inf_selectors(inf), *path, *cont = NULL;

	if (inf->cont == NULL || *inf->cont == '\0') {
		inf_pending_clear(inf);
		if (inf->st.lists > 0 || inf->st.errors > 0)
			inf->st.relists++;
	} else
		cont = k8s_query_escape(inf->cont);
	xasprintf(&path, "%s?limit=%u%s%s%s", inf->base_path, inf->o.page_size, sel,
	    cont != NULL ? "&continue=" : "", cont != NULL ? cont : "");
	inf->state = INF_LISTING;
	inf->req = k8s_get(inf->c, path, inf_list_done, inf);
	free(path);
	free(sel);
	free(cont);
}

/* ---- watch ---- */

static void
inf_set_action(struct k8s_informer *inf, enum inf_action a, const char *why)
{
	if (inf->action != INF_ACT_NONE)
		return;
	inf->action = a;
	free(inf->action_why);
	inf->action_why = xstrdup(why);
}

static int
inf_event(const struct k8s_watch_event *ev, void *arg)
{
	struct k8s_informer *inf = arg;
	struct k8s_object *obj, *old;
	struct inf_entry **ep, *e;
	char *err = NULL, *why;
	uint64_t h;

	switch (ev->type) {
	case K8S_EVENT_BOOKMARK:
		inf_set_rv(inf, ev->resource_version);
		inf->st.bookmarks++;
		return 0;
	case K8S_EVENT_ERROR:
		if (ev->status->code == 410) {
			inf_set_action(inf, INF_ACT_RELIST, ev->status->message);
			return 1;
		}
		xasprintf(&why, "watch ERROR event: %d %s: %s", ev->status->code,
		    ev->status->reason, ev->status->message);
		inf_set_action(inf, INF_ACT_ERROR, why);
		free(why);
		return 1;
	default:
		break;
	}
	if ((obj = inf->o.kind->extract(ev->object, ev->object_len, inf->o.kind_arg, &err)) == NULL) {
		log_error("informer: watch event skipped", "kind=%s type=%s error=%s",
		    log_q(inf->o.kind->name), log_q(k8s_event_type_name(ev->type)), log_q(err));
		free(err);
		return 0;
	}
	inf->watch_events++;
	inf->st.events++;
	inf_set_rv(inf, obj->resource_version);
	h = inf_hash(obj->namespace, obj->name);
	ep = inf_find(inf, obj->namespace, obj->name, h);
	if (ev->type == K8S_EVENT_DELETED) {
		if (ep != NULL) {
			e = *ep;
			*ep = e->next;
			inf->count--;
			inf->o.kind->free(e->obj);
			free(e);
		}
		if (inf->o.h.del != NULL)
			inf->o.h.del(obj, 0, inf->o.arg);
		inf->o.kind->free(obj);
		return inf->dead;
	}
	if (ep == NULL) {
		inf_insert(inf, obj, h);
		if (inf->o.h.add != NULL)
			inf->o.h.add(obj, inf->o.arg);
		return inf->dead;
	}
	old = (*ep)->obj;
	(*ep)->obj = obj;
	(*ep)->mark = inf->mark;
	if (inf->o.h.update != NULL)
		inf->o.h.update(old, obj, inf->o.arg);
	inf->o.kind->free(old);
	return inf->dead;
}

static int
inf_watch_chunk(const char *data, size_t len, void *arg)
{
	struct k8s_informer *inf = arg;
	char *cause = NULL;
	int r;

	if (inf->dead)
		return 1;
	inf->depth++;
	r = k8s_watch_decoder_feed(inf->dec, data, len, &cause);
	inf->depth--;
	if (r < 0) {
		inf_set_action(inf, INF_ACT_ERROR, cause);
		free(cause);
		return 1;
	}
	return r;
}

static void
inf_watch_done1(struct k8s_informer *inf, const struct k8s_response *resp)
{
	char *cause = NULL, *why;
	int lasted;

	inf->req = NULL;
	if (inf->dead)
		return;
	lasted = inf->watch_events > 0 || util_mono_ms() - inf->watch_started_ms >= 1000;
	if (inf->action == INF_ACT_RELIST) {
		log_info("informer: resourceVersion expired, relisting", "kind=%s error=%s",
		    log_q(inf->o.kind->name), log_q(inf->action_why));
		inf_schedule(inf, INF_NEXT_LIST, 0);
		return;
	}
	if (inf->action == INF_ACT_ERROR) {
		inf_backoff(inf, INF_NEXT_WATCH, "watch", NULL, inf->action_why);
		return;
	}
	if (resp->error == K8S_ERR_GONE) {
		log_info("informer: resourceVersion expired, relisting", "kind=%s error=%s",
		    log_q(inf->o.kind->name), log_q(resp->status.message));
		inf_schedule(inf, INF_NEXT_LIST, 0);
		return;
	}
	if (resp->error != K8S_OK) {
		if (inf_refused(inf, "watch", resp))
			return;
		inf_backoff(inf, INF_NEXT_WATCH, "watch", resp, resp->status.message);
		return;
	}
	if (k8s_watch_decoder_finish(inf->dec, &cause) != 0) {
		xasprintf(&why, "watch stream: %s", cause);
		inf_backoff(inf, INF_NEXT_WATCH, "watch", NULL, why);
		free(why);
		free(cause);
		return;
	}
	/* The server ended the watch (timeoutSeconds): go on from where we are. */
	log_debug("informer: watch ended, re-watching", "kind=%s events=%llu resource_version=%s",
	    log_q(inf->o.kind->name), (unsigned long long)inf->watch_events, log_q(inf->rv));
	if (lasted) {
		backoff_reset(&inf->bo);
		inf_schedule(inf, INF_NEXT_WATCH, 0);
	} else
		inf_backoff(inf, INF_NEXT_WATCH, "watch", NULL, "watch ended at once");
}

static void
inf_watch_done(const struct k8s_response *resp, void *arg)
{
	struct k8s_informer *inf = arg;

	inf->depth++;
	inf_watch_done1(inf, resp);
	inf->depth--;
}

static void
inf_watch(struct k8s_informer *inf)
{
	struct k8s_req_opts o;
	char *sel = inf_selectors(inf), *path, *rv = k8s_query_escape(inf->rv);
	unsigned t = inf->o.watch_timeout_s;

	if (t == 0)
		t = 300 + (unsigned)((((uint64_t)util_mono_ms() * 2654435761u) ^
		    ((uint64_t)(uintptr_t)inf >> 4)) % 300);
	xasprintf(&path, "%s?watch=1&resourceVersion=%s&allowWatchBookmarks=true&"
	    "timeoutSeconds=%u%s", inf->base_path, rv, t, sel);
	k8s_watch_decoder_reset(inf->dec);
	inf->action = INF_ACT_NONE;
	inf->watch_events = 0;
	inf->watch_started_ms = util_mono_ms();
	memset(&o, 0, sizeof o);
	o.chunk = inf_watch_chunk;
	o.timeout_s = (long)t + 60;
	o.no_retry = 1;
	inf->state = INF_WATCHING;
	inf->st.watches++;
	inf->req = k8s_request(inf->c, K8S_GET, path, NULL, 0, &o, inf_watch_done, inf);
	free(path);
	free(sel);
	free(rv);
}

void
k8s_informer_rewatch(struct k8s_informer *inf)
{
	if (inf->state != INF_WATCHING || inf->req == NULL)
		return;
	k8s_req_cancel(inf->req);
	inf->req = NULL;
	inf_schedule(inf, INF_NEXT_WATCH, 0);
}

/* ---- life ---- */

static void
inf_destroy(struct k8s_informer *inf)
{
	struct inf_entry *e, *next;
	size_t i;

	if (inf->req != NULL)
		k8s_req_cancel(inf->req);
	inf_pending_clear(inf);
	for (i = 0; i < inf->nbuckets; i++) {
		for (e = inf->buckets[i]; e != NULL; e = next) {
			next = e->next;
			inf->o.kind->free(e->obj);
			free(e);
		}
	}
	free(inf->buckets);
	free(inf->pending);
	k8s_watch_decoder_free(inf->dec);
	event_free(inf->timer);
	event_free(inf->free_ev);
	free(inf->action_why);
	free(inf->rv);
	free(inf->ns);
	free(inf->label_selector);
	free(inf->field_selector);
	free(inf->base_path);
	free(inf);
}

static void
inf_free_cb(evutil_socket_t fd, short what, void *arg)
{
	inf_destroy(arg);
}

struct k8s_informer *
k8s_informer_new(struct k8s_client *c, const struct k8s_informer_opts *o)
{
	struct k8s_informer *inf = xcalloc(1, sizeof *inf);
	char *ens;

	inf->c = c;
	inf->o = *o;
	if (inf->o.page_size == 0)
		inf->o.page_size = 500;
	if (inf->o.backoff_ms == 0)
		inf->o.backoff_ms = 800;
	if (inf->o.backoff_max_ms == 0)
		inf->o.backoff_max_ms = 30000;
	if (o->namespace != NULL && *o->namespace != '\0')
		inf->ns = xstrdup(o->namespace);
	if (o->label_selector != NULL && *o->label_selector != '\0')
		inf->label_selector = xstrdup(o->label_selector);
	if (o->field_selector != NULL && *o->field_selector != '\0')
		inf->field_selector = xstrdup(o->field_selector);
	inf->o.namespace = inf->o.label_selector = inf->o.field_selector = NULL;
	if (inf->ns != NULL) {
		ens = k8s_query_escape(inf->ns);
		xasprintf(&inf->base_path, "%s/namespaces/%s/%s", o->kind->api_path, ens,
		    o->kind->resource);
		free(ens);
	} else
		xasprintf(&inf->base_path, "%s/%s", o->kind->api_path, o->kind->resource);
	backoff_init(&inf->bo, inf->o.backoff_ms, inf->o.backoff_max_ms,
	    (uint64_t)util_mono_ms() ^ ((uint64_t)(uintptr_t)inf << 3));
	inf->dec = k8s_watch_decoder_new(inf_event, inf, 0);
	inf->timer = evtimer_new(k8s_client_base(c), inf_timer_cb, inf);
	inf->free_ev = event_new(k8s_client_base(c), -1, 0, inf_free_cb, inf);
	return inf;
}

void
k8s_informer_start(struct k8s_informer *inf)
{
	if (inf->state != INF_IDLE)
		return;
	inf_schedule(inf, INF_NEXT_LIST, 0);
}

void
k8s_informer_free(struct k8s_informer *inf)
{
	if (inf == NULL || inf->dead)
		return;
	if (inf->depth == 0) {
		inf_destroy(inf);
		return;
	}
	/* Inside one of our handlers: finish from the loop. */
	inf->dead = 1;
	if (inf->req != NULL) {
		k8s_req_cancel(inf->req);
		inf->req = NULL;
	}
	evtimer_del(inf->timer);
	event_active(inf->free_ev, EV_TIMEOUT, 1);
}

const struct k8s_object *
k8s_informer_get(const struct k8s_informer *inf, const char *ns, const char *name)
{
	struct inf_entry **ep;

	if (ns == NULL)
		ns = "";
	ep = inf_find(inf, ns, name, inf_hash(ns, name));
	return ep != NULL ? (*ep)->obj : NULL;
}

size_t
k8s_informer_count(const struct k8s_informer *inf)
{
	return inf->count;
}

void
k8s_informer_foreach(const struct k8s_informer *inf, void (*cb)(const struct k8s_object *,
    void *), void *arg)
{
	struct inf_entry *e;
	size_t i;

	for (i = 0; i < inf->nbuckets; i++)
		for (e = inf->buckets[i]; e != NULL; e = e->next)
			cb(e->obj, arg);
}

int
k8s_informer_synced(const struct k8s_informer *inf)
{
	return inf->synced;
}

int
k8s_informer_listing(const struct k8s_informer *inf)
{
	return inf->listing;
}

const char *
k8s_informer_resource_version(const struct k8s_informer *inf)
{
	return inf->rv != NULL ? inf->rv : "";
}

void
k8s_informer_stats(const struct k8s_informer *inf, struct k8s_informer_stats *st)
{
	*st = inf->st;
}
