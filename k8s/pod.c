/*
 * pod.c: the pod model: struct k8s_pod extracted from a pod's JSON by
 * walking it with the scanner and decoding only the fields a controller
 * reads (metadata names, labels and times, the annotations asked for,
 * phase, reasons, the PodScheduled, Initialized and Ready conditions,
 * container and init container states, how many containers the spec
 * has). spec and managedFields,
 * the bulk of a pod, are skipped unparsed. The result is one
 * allocation: the struct, its arrays, then its strings.
 *
 * It does not send requests (pods.c) nor cache (informer.c).
 */
#include "config.h"
#include "common.h"
#include "k8s.h"
#include "k8s-int.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define NOFF ((size_t)-1)

struct pod_cont {
	size_t name, wreason, wmsg, treason;
	int ready, restarts, running, terminated, exit_code, signal, started;
};

/* spec.initContainers[i]: its name, and whether it is a sidecar. */
struct pod_initspec {
	size_t name;
	int sidecar;
};

struct pod_build {
	struct kjson j;
	const struct k8s_pod_filter *f;
	struct kbuf s;		/* decoded strings, NUL-terminated */
	size_t ns, name, uid, rv, dts, node, phase, reason, message, created, start;
	size_t sch_status, sch_reason, sch_message, init_status, ready_status;
	int nspec, ninitspec;
	struct kbuf labels;	/* size_t key, value offset pairs */
	struct kbuf annots;
	struct kbuf conts;	/* struct pod_cont */
	struct kbuf inits;	/* struct pod_cont */
	struct kbuf initspec;	/* struct pod_initspec */
};

static __thread struct {
	struct kbuf s, labels, annots, conts, inits, initspec;
} pod_scratch;

/* A string or null (NOFF). */
static const char *
pod_str(struct pod_build *b, const char *p, size_t *off)
{
	if (kjson_null(&b->j, &p)) {
		*off = NOFF;
		return p;
	}
	return kjson_string(&b->j, p, &b->s, off);
}

static int
pod_annotation_wanted(const struct k8s_pod_filter *f, const char *key)
{
	const char *const *a;
	size_t n;

	if (f == NULL || f->annotations == NULL)
		return 0;
	for (a = f->annotations; *a != NULL; a++) {
		n = strlen(*a);
		if (n > 0 && (*a)[n - 1] == '*') {
			if (strncmp(key, *a, n - 1) == 0)
				return 1;
		} else if (n > 0 && (*a)[n - 1] == '/') {
			if (strncmp(key, *a, n) == 0)
				return 1;
		} else if (strcmp(key, *a) == 0)
			return 1;
	}
	return 0;
}

/* A map of strings (labels, annotations); filtered drops unwanted keys. */
static const char *
pod_map(struct pod_build *b, const char *p, struct kbuf *pairs, int filtered)
{
	size_t koff, voff, mark;
	const char *k;
	size_t kl;
	int r, n = 0;

	if (kjson_null(&b->j, &p))
		return p;
	if (kjson_obj_begin(&b->j, &p) != 0)
		return NULL;
	while ((r = kjson_obj_next(&b->j, &p, &n, &k, &kl)) == 1) {
		mark = b->s.len;
		/* The key again, decoded this time (it may hold escapes). */
		if (kjson_string(&b->j, k - 1, &b->s, &koff) == NULL)
			return NULL;
		if (filtered && !pod_annotation_wanted(b->f, b->s.p + koff)) {
			b->s.len = mark;
			if ((p = kjson_skip(&b->j, p)) == NULL)
				return NULL;
			continue;
		}
		if ((p = pod_str(b, p, &voff)) == NULL)
			return NULL;
		if (voff == NOFF) {
			b->s.len = mark;
			continue;
		}
		kbuf_add(pairs, &koff, sizeof koff);
		kbuf_add(pairs, &voff, sizeof voff);
	}
	return r == 0 ? p : NULL;
}

static const char *
pod_meta(struct pod_build *b, const char *p)
{
	const char *k;
	size_t kl;
	int r, n = 0;

	if (kjson_obj_begin(&b->j, &p) != 0)
		return NULL;
	while ((r = kjson_obj_next(&b->j, &p, &n, &k, &kl)) == 1) {
		if (KJSON_KEY(k, kl, "name"))
			p = pod_str(b, p, &b->name);
		else if (KJSON_KEY(k, kl, "namespace"))
			p = pod_str(b, p, &b->ns);
		else if (KJSON_KEY(k, kl, "uid"))
			p = pod_str(b, p, &b->uid);
		else if (KJSON_KEY(k, kl, "resourceVersion"))
			p = pod_str(b, p, &b->rv);
		else if (KJSON_KEY(k, kl, "deletionTimestamp"))
			p = pod_str(b, p, &b->dts);
		else if (KJSON_KEY(k, kl, "creationTimestamp"))
			p = pod_str(b, p, &b->created);
		else if (KJSON_KEY(k, kl, "labels"))
			p = pod_map(b, p, &b->labels, 0);
		else if (KJSON_KEY(k, kl, "annotations"))
			p = pod_map(b, p, &b->annots, 1);
		else
			p = kjson_skip(&b->j, p);
		if (p == NULL)
			return NULL;
	}
	return r == 0 ? p : NULL;
}

/* spec.containers (counted) or spec.initContainers (names, sidecars kept). */
static const char *
pod_spec_containers(struct pod_build *b, const char *p, int init)
{
	struct pod_initspec is;
	size_t policy, mark;
	const char *k;
	size_t kl;
	int r, r2, n = 0, m;

	if (kjson_null(&b->j, &p))
		return p;
	if (kjson_arr_begin(&b->j, &p) != 0)
		return NULL;
	while ((r = kjson_arr_next(&b->j, &p, &n)) == 1) {
		if (!init) {
			b->nspec++;
			if ((p = kjson_skip(&b->j, p)) == NULL)
				return NULL;
			continue;
		}
		b->ninitspec++;
		is.name = policy = NOFF;
		is.sidecar = 0;
		m = 0;
		if (kjson_obj_begin(&b->j, &p) != 0)
			return NULL;
		while ((r2 = kjson_obj_next(&b->j, &p, &m, &k, &kl)) == 1) {
			if (KJSON_KEY(k, kl, "name"))
				p = pod_str(b, p, &is.name);
			else if (KJSON_KEY(k, kl, "restartPolicy")) {
				mark = b->s.len;
				p = pod_str(b, p, &policy);
				is.sidecar = policy != NOFF && strcmp(b->s.p + policy, "Always") == 0;
				b->s.len = mark;
			} else
				p = kjson_skip(&b->j, p);
			if (p == NULL)
				return NULL;
		}
		if (r2 != 0)
			return NULL;
		if (is.name != NOFF)
			kbuf_add(&b->initspec, &is, sizeof is);
	}
	return r == 0 ? p : NULL;
}

static const char *
pod_spec(struct pod_build *b, const char *p)
{
	const char *k;
	size_t kl;
	int r, n = 0;

	if (kjson_obj_begin(&b->j, &p) != 0)
		return NULL;
	while ((r = kjson_obj_next(&b->j, &p, &n, &k, &kl)) == 1) {
		if (KJSON_KEY(k, kl, "nodeName"))
			p = pod_str(b, p, &b->node);
		else if (KJSON_KEY(k, kl, "containers")) {
			b->nspec = 0;
			p = pod_spec_containers(b, p, 0);
		} else if (KJSON_KEY(k, kl, "initContainers")) {
			b->ninitspec = 0;
			b->initspec.len = 0;
			p = pod_spec_containers(b, p, 1);
		} else
			p = kjson_skip(&b->j, p);
		if (p == NULL)
			return NULL;
	}
	return r == 0 ? p : NULL;
}

static const char *
pod_conditions(struct pod_build *b, const char *p)
{
	size_t type, status, reason, message, mark;
	const char *k;
	size_t kl;
	int r, r2, n = 0, m;

	if (kjson_null(&b->j, &p))
		return p;
	if (kjson_arr_begin(&b->j, &p) != 0)
		return NULL;
	while ((r = kjson_arr_next(&b->j, &p, &n)) == 1) {
		mark = b->s.len;
		type = status = reason = message = NOFF;
		m = 0;
		if (kjson_obj_begin(&b->j, &p) != 0)
			return NULL;
		while ((r2 = kjson_obj_next(&b->j, &p, &m, &k, &kl)) == 1) {
			if (KJSON_KEY(k, kl, "type"))
				p = pod_str(b, p, &type);
			else if (KJSON_KEY(k, kl, "status"))
				p = pod_str(b, p, &status);
			else if (KJSON_KEY(k, kl, "reason"))
				p = pod_str(b, p, &reason);
			else if (KJSON_KEY(k, kl, "message"))
				p = pod_str(b, p, &message);
			else
				p = kjson_skip(&b->j, p);
			if (p == NULL)
				return NULL;
		}
		if (r2 != 0)
			return NULL;
		if (type != NOFF && strcmp(b->s.p + type, "PodScheduled") == 0) {
			b->sch_status = status;
			b->sch_reason = reason;
			b->sch_message = message;
		} else if (type != NOFF && strcmp(b->s.p + type, "Initialized") == 0)
			b->init_status = status;
		else if (type != NOFF && strcmp(b->s.p + type, "Ready") == 0)
			b->ready_status = status;
		else
			b->s.len = mark;
	}
	return r == 0 ? p : NULL;
}

static const char *
pod_int(struct pod_build *b, const char *p, int *out)
{
	long long v;

	if (kjson_null(&b->j, &p)) {
		*out = 0;
		return p;
	}
	if ((p = kjson_int(&b->j, p, &v)) == NULL)
		return NULL;
	*out = v > INT_MAX ? INT_MAX : v < INT_MIN ? INT_MIN : (int)v;
	return p;
}

/* state: {waiting: {reason, message}, running: {...}, terminated: {exitCode, reason}} */
static const char *
pod_cstate(struct pod_build *b, const char *p, struct pod_cont *c)
{
	const char *k, *k2;
	size_t kl, kl2;
	int r, r2, n = 0, m;

	if (kjson_null(&b->j, &p))
		return p;
	if (kjson_obj_begin(&b->j, &p) != 0)
		return NULL;
	while ((r = kjson_obj_next(&b->j, &p, &n, &k, &kl)) == 1) {
		int which = KJSON_KEY(k, kl, "waiting") ? 1 : KJSON_KEY(k, kl, "terminated") ? 2 :
		    KJSON_KEY(k, kl, "running") ? 3 : 0;
		if (which == 0 || kjson_null(&b->j, &p)) {
			if (which == 0 && (p = kjson_skip(&b->j, p)) == NULL)
				return NULL;
			continue;
		}
		if (which == 3) {
			c->running = 1;
			if ((p = kjson_skip(&b->j, p)) == NULL)
				return NULL;
			continue;
		}
		if (which == 2)
			c->terminated = 1;
		m = 0;
		if (kjson_obj_begin(&b->j, &p) != 0)
			return NULL;
		while ((r2 = kjson_obj_next(&b->j, &p, &m, &k2, &kl2)) == 1) {
			if (KJSON_KEY(k2, kl2, "reason"))
				p = pod_str(b, p, which == 1 ? &c->wreason : &c->treason);
			else if (which == 1 && KJSON_KEY(k2, kl2, "message"))
				p = pod_str(b, p, &c->wmsg);
			else if (which == 2 && KJSON_KEY(k2, kl2, "exitCode"))
				p = pod_int(b, p, &c->exit_code);
			else if (which == 2 && KJSON_KEY(k2, kl2, "signal"))
				p = pod_int(b, p, &c->signal);
			else
				p = kjson_skip(&b->j, p);
			if (p == NULL)
				return NULL;
		}
		if (r2 != 0)
			return NULL;
	}
	return r == 0 ? p : NULL;
}

static const char *
pod_containers(struct pod_build *b, const char *p, struct kbuf *out)
{
	struct pod_cont c;
	const char *k;
	size_t kl;
	int r, r2, n = 0, m;

	if (kjson_null(&b->j, &p))
		return p;
	if (kjson_arr_begin(&b->j, &p) != 0)
		return NULL;
	while ((r = kjson_arr_next(&b->j, &p, &n)) == 1) {
		memset(&c, 0, sizeof c);
		c.name = c.wreason = c.wmsg = c.treason = NOFF;
		m = 0;
		if (kjson_obj_begin(&b->j, &p) != 0)
			return NULL;
		while ((r2 = kjson_obj_next(&b->j, &p, &m, &k, &kl)) == 1) {
			if (KJSON_KEY(k, kl, "name"))
				p = pod_str(b, p, &c.name);
			else if (KJSON_KEY(k, kl, "ready")) {
				if (kjson_null(&b->j, &p))
					c.ready = 0;
				else
					p = kjson_bool(&b->j, p, &c.ready);
			} else if (KJSON_KEY(k, kl, "started")) {
				if (kjson_null(&b->j, &p))
					c.started = 0;
				else
					p = kjson_bool(&b->j, p, &c.started);
			} else if (KJSON_KEY(k, kl, "restartCount"))
				p = pod_int(b, p, &c.restarts);
			else if (KJSON_KEY(k, kl, "state"))
				p = pod_cstate(b, p, &c);
			else
				p = kjson_skip(&b->j, p);
			if (p == NULL)
				return NULL;
		}
		if (r2 != 0)
			return NULL;
		kbuf_add(out, &c, sizeof c);
	}
	return r == 0 ? p : NULL;
}

static const char *
pod_status(struct pod_build *b, const char *p)
{
	const char *k;
	size_t kl;
	int r, n = 0;

	if (kjson_obj_begin(&b->j, &p) != 0)
		return NULL;
	while ((r = kjson_obj_next(&b->j, &p, &n, &k, &kl)) == 1) {
		if (KJSON_KEY(k, kl, "phase"))
			p = pod_str(b, p, &b->phase);
		else if (KJSON_KEY(k, kl, "reason"))
			p = pod_str(b, p, &b->reason);
		else if (KJSON_KEY(k, kl, "message"))
			p = pod_str(b, p, &b->message);
		else if (KJSON_KEY(k, kl, "conditions"))
			p = pod_conditions(b, p);
		else if (KJSON_KEY(k, kl, "startTime"))
			p = pod_str(b, p, &b->start);
		else if (KJSON_KEY(k, kl, "containerStatuses")) {
			b->conts.len = 0;
			p = pod_containers(b, p, &b->conts);
		} else if (KJSON_KEY(k, kl, "initContainerStatuses")) {
			b->inits.len = 0;
			p = pod_containers(b, p, &b->inits);
		} else
			p = kjson_skip(&b->j, p);
		if (p == NULL)
			return NULL;
	}
	return r == 0 ? p : NULL;
}

static const char *
pod_str_at(const struct pod_build *b, char *strings, size_t off)
{
	return off == NOFF ? NULL : strings + off;
}

static void
pod_finish_cont(const struct pod_cont *pc, char *strings, struct k8s_container_state *c)
{
	c->name = pc->name == NOFF ? NULL : strings + pc->name;
	c->ready = pc->ready;
	c->restart_count = pc->restarts;
	c->waiting_reason = pc->wreason == NOFF ? NULL : strings + pc->wreason;
	c->waiting_message = pc->wmsg == NOFF ? NULL : strings + pc->wmsg;
	c->running = pc->running;
	c->terminated = pc->terminated;
	c->exit_code = pc->exit_code;
	c->signal = pc->signal;
	c->terminated_reason = pc->treason == NOFF ? NULL : strings + pc->treason;
	c->started = pc->started;
}

/* One block: struct, labels, annotations, containers, init containers, strings. */
static struct k8s_pod *
pod_finish(struct pod_build *b)
{
	size_t nl = b->labels.len / (2 * sizeof(size_t)), na = b->annots.len / (2 * sizeof(size_t));
	size_t nc = b->conts.len / sizeof(struct pod_cont), i, k, size;
	size_t ni = b->inits.len / sizeof(struct pod_cont);
	size_t nis = b->initspec.len / sizeof(struct pod_initspec);
	const struct pod_initspec *is = (const struct pod_initspec *)b->initspec.p;
	const size_t *pair;
	const struct pod_cont *pc;
	struct k8s_pod *pod;
	char *strings;

	size = sizeof *pod + (nl + na) * sizeof(struct k8s_label) +
	    (nc + ni) * sizeof(struct k8s_container_state);
	pod = xmalloc(size + b->s.len);
	memset(pod, 0, size);
	strings = (char *)pod + size;
	if (b->s.len > 0)
		memcpy(strings, b->s.p, b->s.len);
	pod->labels = (struct k8s_label *)(pod + 1);
	pod->annotations = pod->labels + nl;
	pod->containers = (struct k8s_container_state *)(pod->annotations + na);
	pod->nlabels = nl;
	pod->nannotations = na;
	pod->ncontainers = nc;
	pair = (const size_t *)b->labels.p;
	for (i = 0; i < nl; i++) {
		pod->labels[i].key = strings + pair[2 * i];
		pod->labels[i].value = strings + pair[2 * i + 1];
	}
	pair = (const size_t *)b->annots.p;
	for (i = 0; i < na; i++) {
		pod->annotations[i].key = strings + pair[2 * i];
		pod->annotations[i].value = strings + pair[2 * i + 1];
	}
	pod->init_containers = pod->containers + nc;
	pod->ninit_containers = ni;
	pc = (const struct pod_cont *)b->conts.p;
	for (i = 0; i < nc; i++)
		pod_finish_cont(&pc[i], strings, &pod->containers[i]);
	pc = (const struct pod_cont *)b->inits.p;
	for (i = 0; i < ni; i++) {
		pod_finish_cont(&pc[i], strings, &pod->init_containers[i]);
		for (k = 0; k < nis && pc[i].name != NOFF; k++)
			if (strcmp(strings + is[k].name, strings + pc[i].name) == 0)
				pod->init_containers[i].restartable = is[k].sidecar;
	}
	pod->spec_containers = b->nspec;
	pod->spec_init_containers = b->ninitspec;
	for (k = 0; k < nis; k++)
		pod->spec_sidecars += is[k].sidecar;
	pod->initialized_status = pod_str_at(b, strings, b->init_status);
	pod->ready_status = pod_str_at(b, strings, b->ready_status);
	pod->created = pod_str_at(b, strings, b->created);
	pod->start_time = pod_str_at(b, strings, b->start);
	pod->meta.namespace = pod_str_at(b, strings, b->ns);
	if (pod->meta.namespace == NULL)
		pod->meta.namespace = "";
	pod->meta.name = pod_str_at(b, strings, b->name);
	pod->meta.uid = pod_str_at(b, strings, b->uid);
	pod->meta.resource_version = pod_str_at(b, strings, b->rv);
	pod->meta.deletion_timestamp = pod_str_at(b, strings, b->dts);
	pod->node_name = pod_str_at(b, strings, b->node);
	pod->phase = pod_str_at(b, strings, b->phase);
	pod->reason = pod_str_at(b, strings, b->reason);
	pod->message = pod_str_at(b, strings, b->message);
	pod->scheduled_status = pod_str_at(b, strings, b->sch_status);
	pod->scheduled_reason = pod_str_at(b, strings, b->sch_reason);
	pod->scheduled_message = pod_str_at(b, strings, b->sch_message);
	return pod;
}

struct k8s_pod *
k8s_pod_extract(const char *json, size_t len, const struct k8s_pod_filter *f, char **cause)
{
	struct pod_build b;
	struct k8s_pod *pod = NULL;
	const char *p = json, *k;
	size_t kl;
	int r, n = 0;

	memset(&b, 0, sizeof b);
	/* Scratch buffers kept per thread: one malloc per pod, the result. */
	b.s = pod_scratch.s;
	b.labels = pod_scratch.labels;
	b.annots = pod_scratch.annots;
	b.conts = pod_scratch.conts;
	b.inits = pod_scratch.inits;
	b.initspec = pod_scratch.initspec;
	b.s.len = b.labels.len = b.annots.len = b.conts.len = b.inits.len = b.initspec.len = 0;
	kjson_init(&b.j, json, len);
	b.f = f;
	b.ns = b.name = b.uid = b.rv = b.dts = b.node = b.phase = b.reason = b.message = NOFF;
	b.sch_status = b.sch_reason = b.sch_message = b.init_status = b.ready_status = NOFF;
	b.created = b.start = NOFF;
	kbuf_reserve(&b.s, 512);
	if (kjson_obj_begin(&b.j, &p) != 0)
		goto out;
	while ((r = kjson_obj_next(&b.j, &p, &n, &k, &kl)) == 1) {
		if (KJSON_KEY(k, kl, "metadata"))
			p = pod_meta(&b, p);
		else if (KJSON_KEY(k, kl, "spec"))
			p = kjson_null(&b.j, &p) ? p : pod_spec(&b, p);
		else if (KJSON_KEY(k, kl, "status"))
			p = kjson_null(&b.j, &p) ? p : pod_status(&b, p);
		else
			p = kjson_skip(&b.j, p);
		if (p == NULL)
			goto out;
	}
	if (r != 0)
		goto out;
	p = kjson_ws(&b.j, p);
	if (p != b.j.end) {
		kjson_fail(&b.j, p, "trailing data");
		goto out;
	}
	if (b.name == NOFF || b.s.p[b.name] == '\0') {
		kjson_fail(&b.j, json, "metadata.name missing");
		goto out;
	}
	pod = pod_finish(&b);
out:
	if (pod == NULL && cause != NULL)
		xasprintf(cause, "pod JSON at byte %zu: %s", (size_t)(b.j.err_at - json),
		    b.j.err != NULL ? b.j.err : "malformed");
	pod_scratch.s = b.s;
	pod_scratch.labels = b.labels;
	pod_scratch.annots = b.annots;
	pod_scratch.conts = b.conts;
	pod_scratch.inits = b.inits;
	pod_scratch.initspec = b.initspec;
	/* A huge pod's scratch is not kept. */
	if (pod_scratch.s.cap > (1u << 20))
		kbuf_free(&pod_scratch.s);
	if (pod_scratch.annots.cap > (1u << 16))
		kbuf_free(&pod_scratch.annots);
	if (pod_scratch.labels.cap > (1u << 16))
		kbuf_free(&pod_scratch.labels);
	if (pod_scratch.conts.cap > (1u << 16))
		kbuf_free(&pod_scratch.conts);
	if (pod_scratch.inits.cap > (1u << 16))
		kbuf_free(&pod_scratch.inits);
	if (pod_scratch.initspec.cap > (1u << 16))
		kbuf_free(&pod_scratch.initspec);
	return pod;
}

void
k8s_pod_free(struct k8s_pod *pod)
{
	free(pod);
}

const char *
k8s_pod_label(const struct k8s_pod *pod, const char *key)
{
	size_t i;

	for (i = pod->nlabels; i > 0; i--)	/* the last duplicate wins */
		if (strcmp(pod->labels[i - 1].key, key) == 0)
			return pod->labels[i - 1].value;
	return NULL;
}

const char *
k8s_pod_annotation(const struct k8s_pod *pod, const char *key)
{
	size_t i;

	for (i = pod->nannotations; i > 0; i--)
		if (strcmp(pod->annotations[i - 1].key, key) == 0)
			return pod->annotations[i - 1].value;
	return NULL;
}

static struct k8s_object *
pod_kind_extract(const char *json, size_t len, const void *arg, char **cause)
{
	struct k8s_pod *pod = k8s_pod_extract(json, len, arg, cause);

	return pod != NULL ? &pod->meta : NULL;
}

static void
pod_kind_free(struct k8s_object *o)
{
	k8s_pod_free((struct k8s_pod *)o);
}

const struct k8s_kind k8s_pod_kind = {
	"pods", "/api/v1", "pods", pod_kind_extract, pod_kind_free
};
