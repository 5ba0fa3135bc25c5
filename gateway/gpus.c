/*
 * gpus.c: GPU telemetry in the daemon. gpu/'s prober, on the loop,
 * reads the nodes of [gpu] (and, with gpu.k8s_nodes, the Kubernetes
 * nodes that advertise nvidia.com/gpu, at their InternalIP) once per
 * gpu.interval_s for every client alike; this file turns what it keeps
 * into what the gateway shows:
 *
 *   - each GPU process names its pod by UID (from its cgroup); the
 *     runner finds its own pod of that UID (runner_pod_by_uid: the k8s
 *     runner's informer cache), hence the task attempt it runs;
 *   - per task attempt and GPU, every fresh round adds a sample: the
 *     memory its processes hold together (the peak is kept) and the
 *     card's utilisation (averaged), for its result and TASK view;
 *   - a "gpu" event per node round, the gpus answer, and /metrics in
 *     dcgm-exporter's names and labels (DCGM_FI_DEV_*, gpu, UUID,
 *     device, modelName, Hostname, container, namespace, pod), so its
 *     dashboards work; a stale node's gauges are left out, not repeated.
 *
 * It does not probe (gpu/probe.c), parse (gpu/parse.c) nor encode
 * (proto/gpu.c). A node's process map is worked out once per report
 * (the prober keeps the last good report while a node is stale, and
 * the map with it). @locality loop
 */
#include "config.h"
#include "gateway.h"
#include "gpu.h"
#include "k8s.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

/* Where a process of a node's report runs, as this gateway knows it. */
struct gpus_ref {
	char *namespace;
	char *pod;
	char *container;
	char *task_id;		/* NULL: not one of this runner's pods */
	int attempt;
};

struct gpus_node {
	char *name;
	int from_k8s;
	int was_stale;
	uint64_t mapped_rounds;	/* rounds_ok of the report refs is for; 0: none */
	struct gpus_ref *refs;	/* one per report process */
	size_t nrefs;
};

struct gpus {
	struct gw *gw;
	struct gpu_prober *prober;
	char *user;
	char *key_file;
	char *known_hosts;
	char *proc_root;
	char *display;
	int interval_ms;
	int k8s_port;
	uint64_t round;			/* rounds ended, all nodes: a task's sample key */
	struct gpus_node *nodes;
	size_t nnodes;
	struct k8s_client *client;	/* gpu.k8s_nodes */
	struct k8s_informer *inf;
};

/* ---- [gpu] nodes ---- */

void
gpus_node_spec_clear(struct gpus_node_spec *s)
{
	free(s->name);
	free(s->user);
	free(s->host);
	memset(s, 0, sizeof *s);
}

int
gpus_node_parse(const char *spec, struct gpus_node_spec *s, char **cause)
{
	const char *eq, *at, *p = spec, *hend, *colon = NULL;
	long long port = 22;
	char *name;

	memset(s, 0, sizeof *s);
	if ((eq = strchr(p, '=')) != NULL) {
		name = xstrndup(p, (size_t)(eq - p));
		if (config_name_check("gpu.nodes: a node's name", name, 1, 64, cause) != 0) {
			free(name);
			return -1;
		}
		s->name = name;
		p = eq + 1;
	}
	if ((at = strchr(p, '@')) != NULL) {
		s->user = xstrndup(p, (size_t)(at - p));
		if (config_name_check("gpu.nodes: a node's user", s->user, 1, 32, cause) != 0)
			goto fail;
		p = at + 1;
	}
	if (*p == '[') {
		/* [IPv6 address]:port, as OpenSSH writes it. */
		if ((hend = strchr(p, ']')) == NULL || hend == p + 1) {
			xasprintf(cause, "gpu.nodes: '%s': an IPv6 address needs its closing ']'", spec);
			goto fail;
		}
		s->host = xstrndup(p + 1, (size_t)(hend - p - 1));
		if (hend[1] == ':')
			colon = hend + 1;
		else if (hend[1] != '\0') {
			xasprintf(cause, "gpu.nodes: '%s': expected ':PORT' after ']'", spec);
			goto fail;
		}
	} else {
		colon = strchr(p, ':');
		s->host = colon != NULL ? xstrndup(p, (size_t)(colon - p)) : xstrdup(p);
		if (colon != NULL && strchr(colon + 1, ':') != NULL) {
			xasprintf(cause, "gpu.nodes: '%s': write an IPv6 address as [ADDRESS]:PORT",
			    spec);
			goto fail;
		}
	}
	if (*s->host == '\0' || strspn(s->host, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:%") != strlen(s->host)) {
		xasprintf(cause, "gpu.nodes: '%s': '%s' is not a host name or address", spec,
		    s->host);
		goto fail;
	}
	if (colon != NULL && util_parse_int(colon + 1, 1, 65535, &port) != 0) {
		xasprintf(cause, "gpu.nodes: '%s': the port must be a number from 1 to 65535", spec);
		goto fail;
	}
	s->port = (int)port;
	if (s->name == NULL) {
		/* The host is the name (with its port when not 22: nodes may share a host). */
		if (s->port == 22)
			s->name = xstrdup(s->host);
		else
			xasprintf(&s->name, "%s-%d", s->host, s->port);
		if (config_name_check("gpu.nodes: a node's name (give it one: NAME=HOST)",
		    s->name, 1, 64, cause) != 0)
			goto fail;
	}
	return 0;
fail:
	gpus_node_spec_clear(s);
	return -1;
}

/* Each entry of gpu.nodes in turn: cb(spec) returns 0 to go on. */
static int
gpus_nodes_each(const struct config *conf, int (*cb)(const struct gpus_node_spec *, void *,
    char **), void *arg, char **cause)
{
	char *list = xstrdup(config_get(conf, "gpu", "nodes")), *tok, *save = NULL;
	struct gpus_node_spec s;
	int rc = 0;

	for (tok = strtok_r(list, " \t,", &save); tok != NULL && rc == 0;
	    tok = strtok_r(NULL, " \t,", &save)) {
		if ((rc = gpus_node_parse(tok, &s, cause)) != 0)
			break;
		if (s.user == NULL && *config_get(conf, "gpu", "user") == '\0') {
			xasprintf(cause, "gpu.nodes: '%s' has no user and gpu.user is empty", tok);
			rc = -1;
		} else if (cb != NULL)
			rc = cb(&s, arg, cause);
		gpus_node_spec_clear(&s);
	}
	free(list);
	return rc;
}

static int
gpus_count_cb(const struct gpus_node_spec *s, void *arg, char **cause)
{
	(*(size_t *)arg)++;
	return 0;
}

static int
gpus_check_display(const char *d, char **cause)
{
	long long n;

	if (strcmp(d, "-") == 0 || (d[0] == ':' && util_parse_int(d + 1, 0, 65535, &n) == 0))
		return 0;
	xasprintf(cause, "gpu.display '%s': expected :N (the X display to check) or -", d);
	return -1;
}

int
gpus_check_config(const struct config *conf, char **cause)
{
	size_t n = 0;

	if (gpus_nodes_each(conf, gpus_count_cb, &n, cause) != 0 ||
	    gpus_check_display(config_get(conf, "gpu", "display"), cause) != 0)
		return -1;
	if ((n > 0 || config_get_bool(conf, "gpu", "k8s_nodes")) &&
	    *config_get(conf, "gpu", "known_hosts") == '\0') {
		xasprintf(cause, "gpu.known_hosts is not set: the GPU nodes' host keys are checked "
		    "against it (docs/operations.md)");
		return -1;
	}
	return 0;
}

static struct gpus_node *
gpus_node_find(struct gpus *g, const char *name)
{
	size_t i;

	for (i = 0; i < g->nnodes; i++)
		if (strcmp(g->nodes[i].name, name) == 0)
			return &g->nodes[i];
	return NULL;
}

static void
gpus_refs_free(struct gpus_node *gn)
{
	size_t i;

	for (i = 0; i < gn->nrefs; i++) {
		free(gn->refs[i].namespace);
		free(gn->refs[i].pod);
		free(gn->refs[i].container);
		free(gn->refs[i].task_id);
	}
	free(gn->refs);
	gn->refs = NULL;
	gn->nrefs = 0;
	gn->mapped_rounds = 0;
}

static int
gpus_node_add(struct gpus *g, const char *name, const char *user, const char *host, int port,
    int from_k8s, char **cause)
{
	struct gpu_node_options o;

	memset(&o, 0, sizeof o);
	o.name = name;
	o.host = host;
	o.port = port;
	o.user = user != NULL ? user : g->user;
	o.key_file = g->key_file;
	if (gpu_prober_add(g->prober, &o, cause) != 0)
		return -1;
	g->nodes = xreallocarray(g->nodes, g->nnodes + 1, sizeof *g->nodes);
	memset(&g->nodes[g->nnodes], 0, sizeof g->nodes[g->nnodes]);
	g->nodes[g->nnodes].name = xstrdup(name);
	g->nodes[g->nnodes].from_k8s = from_k8s;
	g->nnodes++;
	log_info("GPU node added", "node=%s host=%s port=%d user=%s source=%s", log_q(name),
	    log_q(host), port, log_q(o.user), log_q(from_k8s ? "kubernetes" : "config"));
	return 0;
}

static void
gpus_node_remove(struct gpus *g, const char *name)
{
	struct gpus_node *gn = gpus_node_find(g, name);

	if (gn == NULL)
		return;
	gpu_prober_remove(g->prober, name);
	gpus_refs_free(gn);
	free(gn->name);
	*gn = g->nodes[--g->nnodes];
	log_info("GPU node removed", "node=%s", log_q(name));
}

static int
gpus_add_cb(const struct gpus_node_spec *s, void *arg, char **cause)
{
	return gpus_node_add(arg, s->name, s->user, s->host, s->port, 0, cause);
}

/* ---- processes to pods and tasks ---- */

/* The map of a node's current report, worked out once per report. */
static void
gpus_node_map(struct gpus *g, struct gpus_node *gn, const struct gpu_node *node)
{
	const struct gpu_report *rep = node->report;
	struct runner_pod_ref ref;
	size_t i;

	if (rep == NULL || gn->mapped_rounds == node->rounds_ok)
		return;
	gpus_refs_free(gn);
	gn->mapped_rounds = node->rounds_ok;
	gn->refs = xcalloc(rep->nprocs + 1, sizeof *gn->refs);
	gn->nrefs = rep->nprocs;
	for (i = 0; i < rep->nprocs; i++) {
		if (rep->procs[i].pod_uid == NULL ||
		    runner_pod_by_uid(g->gw->runner, rep->procs[i].pod_uid, &ref) != 0)
			continue;
		gn->refs[i].namespace = ref.namespace != NULL ? xstrdup(ref.namespace) : NULL;
		gn->refs[i].pod = ref.pod != NULL ? xstrdup(ref.pod) : NULL;
		gn->refs[i].container = ref.container != NULL ? xstrdup(ref.container) : NULL;
		gn->refs[i].task_id = ref.task_id != NULL ? xstrdup(ref.task_id) : NULL;
		gn->refs[i].attempt = ref.attempt;
	}
}

void
gpus_task_clear(struct task *t)
{
	size_t i;

	for (i = 0; i < t->ngpus; i++) {
		free(t->gpus[i].node);
		free(t->gpus[i].uuid);
		free(t->gpus[i].name);
	}
	free(t->gpus);
	t->gpus = NULL;
	t->ngpus = 0;
}

/* The task's record of that GPU, made when first seen (NULL past TASK_MAX_GPUS). */
static struct task_gpu *
gpus_task_gpu(struct task *t, const char *node, const struct gpu_device *d)
{
	struct task_gpu *tg;
	size_t i;

	if (t->gpus_attempt != t->spec->attempt) {
		/* A new attempt: what the last one used is not this one's. */
		gpus_task_clear(t);
		t->gpus_attempt = t->spec->attempt;
	}
	for (i = 0; i < t->ngpus; i++)
		if (strcmp(t->gpus[i].node, node) == 0 && strcmp(t->gpus[i].uuid, d->uuid) == 0)
			return &t->gpus[i];
	if (t->ngpus == TASK_MAX_GPUS)
		return NULL;
	t->gpus = xreallocarray(t->gpus, t->ngpus + 1, sizeof *t->gpus);
	tg = &t->gpus[t->ngpus++];
	memset(tg, 0, sizeof *tg);
	tg->node = xstrdup(node);
	tg->uuid = xstrdup(d->uuid);
	tg->name = xstrdup(d->name);
	tg->index = d->index;
	tg->peak_mem_mib = -1;
	return tg;
}

/* A fresh report: each running task attempt's processes add a sample to their GPUs. */
static void
gpus_sample(struct gpus *g, struct gpus_node *gn, const struct gpu_node *node)
{
	const struct gpu_report *rep = node->report;
	const struct gpu_process *p;
	const struct gpu_device *d;
	struct task_gpu *tg;
	struct task *t;
	size_t i;

	g->round++;
	for (i = 0; i < rep->nprocs && i < gn->nrefs; i++) {
		p = &rep->procs[i];
		if (gn->refs[i].task_id == NULL || p->gpu < 0 || (size_t)p->gpu >= rep->ngpus)
			continue;
		t = task_find(g->gw, gn->refs[i].task_id);
		if (t == NULL || t->spec->attempt != gn->refs[i].attempt ||
		    t->state < TASK_LAUNCHING || t->state > TASK_COLLECTING)
			continue;
		d = &rep->gpus[p->gpu];
		if ((tg = gpus_task_gpu(t, gn->name, d)) == NULL)
			continue;
		if (tg->round != g->round) {
			/* Its first process this round: a new sample. */
			tg->round = g->round;
			tg->round_mem_mib = 0;
			tg->samples++;
			if (tg->first_ms == 0)
				tg->first_ms = node->report_ms;
			tg->last_ms = node->report_ms;
			if (d->util_gpu.state == GPU_VALUE_OK) {
				tg->util_sum += d->util_gpu.v;
				tg->util_n++;
			}
		}
		if (p->used_mem.state == GPU_VALUE_OK) {
			tg->round_mem_mib += p->used_mem.v;
			if (tg->round_mem_mib > tg->peak_mem_mib)
				tg->peak_mem_mib = tg->round_mem_mib;
		}
	}
}

size_t
gpus_task_view(const struct task *t, struct proto_task_gpu *out, size_t max)
{
	size_t i, n = 0;

	if (t->gpus_attempt != t->spec->attempt)
		return 0;
	for (i = 0; i < t->ngpus && n < max; i++, n++) {
		out[n].node = t->gpus[i].node;
		out[n].index = t->gpus[i].index;
		out[n].uuid = t->gpus[i].uuid;
		out[n].name = t->gpus[i].name;
		out[n].peak_mem_mib = t->gpus[i].peak_mem_mib;
		out[n].mean_util = t->gpus[i].util_n > 0 ?
		    t->gpus[i].util_sum / (double)t->gpus[i].util_n : -1;
		out[n].samples = t->gpus[i].samples;
		out[n].first_ms = t->gpus[i].first_ms;
		out[n].last_ms = t->gpus[i].last_ms;
	}
	return n;
}

/* ---- the node view (gpus answer, gpu events) ---- */

static enum proto_gpu_node_state
gpus_state(const struct gpu_node *node)
{
	if (node->stale != NULL)
		return PROTO_GPU_STALE;
	return node->report != NULL ? PROTO_GPU_OK : PROTO_GPU_PENDING;
}

static void
gpus_card_values(const struct gpu_device *d, struct proto_gpu_card *c)
{
	const struct gpu_value *v[PROTO_GPU_NMETRICS] = {
		&d->util_gpu, &d->util_mem, &d->mem_used, &d->mem_total, &d->temp, &d->power,
		&d->power_limit, &d->clock_sm,
	};
	size_t i;

	for (i = 0; i < PROTO_GPU_NMETRICS; i++) {
		if (v[i]->state == GPU_VALUE_OK) {
			c->value[i] = v[i]->v;
			c->known |= 1u << i;
		} else
			c->why[i] = gpu_value_state_name(v[i]->state);
	}
}

static cJSON *
gpus_node_view(struct gpus *g, struct gpus_node *gn, const struct gpu_node *node)
{
	const struct gpu_report *rep = node->report;
	struct proto_gpu_node v;
	struct proto_gpu_card *cards;
	struct proto_gpu_process *procs;
	size_t i, k, *fill;
	cJSON *j;

	gpus_node_map(g, gn, node);
	memset(&v, 0, sizeof v);
	v.node = node->name;
	v.host = node->host;
	v.port = node->port;
	v.source = gn->from_k8s ? "kubernetes" : "config";
	v.state = gpus_state(node);
	v.stale = node->stale;
	v.report_ms = node->report_ms;
	v.age_ms = gpu_node_age_ms(node, util_mono_ms());
	v.round_ms = node->round_ms;
	v.rounds_ok = (int64_t)node->rounds_ok;
	v.rounds_failed = (int64_t)node->rounds_failed;
	if (rep == NULL)
		return proto_gpu_node_encode(&v);
	v.apps_error = rep->apps_error;
	v.display = rep->display_name;
	v.display_state = gpu_display_state_name(rep->display);
	v.display_detail = rep->display_detail;
	cards = xcalloc(rep->ngpus + 1, sizeof *cards);
	procs = xcalloc(rep->nprocs + 1, sizeof *procs);
	fill = xcalloc(rep->ngpus + 1, sizeof *fill);
	/* Each card's processes side by side in procs, in the report's order. */
	for (i = 0; i < rep->nprocs; i++)
		if (rep->procs[i].gpu >= 0 && (size_t)rep->procs[i].gpu < rep->ngpus)
			cards[rep->procs[i].gpu].nprocs++;
	for (i = 0, k = 0; i < rep->ngpus; i++) {
		fill[i] = k;
		cards[i].procs = procs + k;
		k += cards[i].nprocs;
	}
	for (i = 0; i < rep->nprocs; i++) {
		const struct gpu_process *p = &rep->procs[i];
		struct proto_gpu_process *pp;

		if (p->gpu < 0 || (size_t)p->gpu >= rep->ngpus)
			continue;
		pp = &procs[fill[p->gpu]++];
		pp->pid = p->pid;
		pp->used_mib = p->used_mem.state == GPU_VALUE_OK ? p->used_mem.v : -1;
		pp->name = p->name;
		pp->pod_uid = p->pod_uid;
		pp->container_id = p->container_id;
		if (i < gn->nrefs) {
			pp->namespace = gn->refs[i].namespace;
			pp->pod = gn->refs[i].pod;
			pp->container = gn->refs[i].container;
			pp->task_id = gn->refs[i].task_id;
			pp->attempt = gn->refs[i].attempt;
		}
	}
	for (i = 0; i < rep->ngpus; i++) {
		cards[i].index = rep->gpus[i].index;
		cards[i].uuid = rep->gpus[i].uuid;
		cards[i].name = rep->gpus[i].name;
		cards[i].pstate = rep->gpus[i].pstate[0] != '\0' ? rep->gpus[i].pstate : NULL;
		gpus_card_values(&rep->gpus[i], &cards[i]);
	}
	v.cards = cards;
	v.ncards = rep->ngpus;
	j = proto_gpu_node_encode(&v);
	free(fill);
	free(procs);
	free(cards);
	return j;
}

void
gpus_answer(struct gpus *g, cJSON *r)
{
	cJSON *arr;
	size_t i;

	cJSON_AddBoolToObject(r, "enabled", g != NULL);
	if (g != NULL)
		cJSON_AddNumberToObject(r, "interval_ms", g->interval_ms);
	arr = cJSON_AddArrayToObject(r, "nodes");
	for (i = 0; g != NULL && i < g->nnodes; i++) {
		const struct gpu_node *node = gpu_prober_find(g->prober, g->nodes[i].name);

		if (node != NULL)
			cJSON_AddItemToArray(arr, gpus_node_view(g, &g->nodes[i], node));
	}
}

/* ---- the prober's rounds ---- */

static void
gpus_round_cb(struct gpu_prober *p, const struct gpu_node *node, void *arg)
{
	struct gpus *g = arg;
	struct gpus_node *gn = gpus_node_find(g, node->name);

	if (gn == NULL)
		return;
	if (node->stale != NULL && !gn->was_stale)
		log_warn("GPU node stale: its last values are kept", "node=%s error=%s",
		    log_q(node->name), log_q(node->stale));
	else if (node->stale == NULL && gn->was_stale)
		log_info("GPU node answers again", "node=%s", log_q(node->name));
	gn->was_stale = node->stale != NULL;
	if (node->stale == NULL && node->report != NULL) {
		gpus_node_map(g, gn, node);
		gpus_sample(g, gn, node);
	}
	if (g->gw->control != NULL && control_has_subscribers(g->gw->control))
		control_publish(g->gw->control, PROTO_EVENT_GPU, gpus_node_view(g, gn, node));
}

/* ---- Kubernetes nodes (gpu.k8s_nodes) ---- */

static void
gpus_k8s_apply(struct gpus *g, const struct k8s_object *o)
{
	const struct k8s_node *n = (const struct k8s_node *)o;
	struct gpus_node *gn = gpus_node_find(g, o->name);
	const struct gpu_node *pn;
	char *cause = NULL;
	int want = n->capacity > 0 && n->internal_ip != NULL && o->deletion_timestamp == NULL;

	if (gn != NULL && !gn->from_k8s) {
		if (want)
			log_debug("Kubernetes GPU node also in gpu.nodes: probed as configured",
			    "node=%s", log_q(o->name));
		return;
	}
	if (gn != NULL) {
		pn = gpu_prober_find(g->prober, o->name);
		/* Its address changed, or it has no GPU any more: made anew, or gone. */
		if (want && pn != NULL && strcmp(pn->host, n->internal_ip) == 0)
			return;
		gpus_node_remove(g, o->name);
	}
	if (!want)
		return;
	if (gpus_node_add(g, o->name, NULL, n->internal_ip, g->k8s_port, 1, &cause) != 0) {
		log_warn("cannot probe a Kubernetes GPU node", "node=%s error=%s", log_q(o->name),
		    log_q(cause));
		free(cause);
		return;
	}
	gpu_prober_round(g->prober);
}

static void
gpus_k8s_add(const struct k8s_object *o, void *arg)
{
	gpus_k8s_apply(arg, o);
}

static void
gpus_k8s_update(const struct k8s_object *old, const struct k8s_object *o, void *arg)
{
	gpus_k8s_apply(arg, o);
}

static void
gpus_k8s_del(const struct k8s_object *o, int final_unknown, void *arg)
{
	struct gpus *g = arg;
	struct gpus_node *gn = gpus_node_find(g, o->name);

	if (gn != NULL && gn->from_k8s)
		gpus_node_remove(g, o->name);
}

static void
gpus_k8s_fatal(const char *verb, const struct k8s_status *st, void *arg)
{
	/* Telemetry is not worth stopping the gateway for: say what is missing. */
	log_error("cannot follow the Kubernetes GPU nodes (gpu.k8s_nodes): the API server "
	    "refused", "verb=%s code=%d error=%s", log_q(verb), st->code, log_q(st->message));
}

static int
gpus_k8s_start(struct gpus *g, const struct config *conf, char **cause)
{
	static const char *const resource = "nvidia.com/gpu";
	const char *kubeconfig = config_get(conf, "k8s", "kubeconfig");
	const char *context = config_get(conf, "k8s", "context");
	struct k8s_informer_opts io;
	struct k8s_client_opts co;
	struct k8s_config *kc;

	kc = k8s_config_load(*kubeconfig != '\0' ? kubeconfig : NULL, *context != '\0' ? context :
	    NULL, config_get_bool(conf, "k8s", "allow_insecure") ? K8S_CONFIG_ALLOW_INSECURE : 0,
	    cause);
	if (kc == NULL)
		return -1;
	memset(&co, 0, sizeof co);
	co.qps = (double)config_get_int(conf, "k8s", "qps");
	co.burst = (int)config_get_int(conf, "k8s", "burst");
	g->client = k8s_client_new(g->gw->base, g->gw->evcurl, kc, &co);
	memset(&io, 0, sizeof io);
	io.kind = &k8s_node_kind;
	io.kind_arg = resource;
	if (*config_get(conf, "gpu", "k8s_selector") != '\0')
		io.label_selector = config_get(conf, "gpu", "k8s_selector");
	io.h.add = gpus_k8s_add;
	io.h.update = gpus_k8s_update;
	io.h.del = gpus_k8s_del;
	io.h.fatal = gpus_k8s_fatal;
	io.arg = g;
	g->inf = k8s_informer_new(g->client, &io);
	k8s_informer_start(g->inf);
	return 0;
}

/* ---- start and stop ---- */

struct gpus *
gpus_start(struct gw *gw, char **cause)
{
	const struct config *conf = gw->conf;
	struct gpu_options o;
	struct gpus *g;
	size_t n = 0;

	*cause = NULL;
	if (gpus_check_config(conf, cause) != 0)
		return NULL;
	if (gpus_nodes_each(conf, gpus_count_cb, &n, cause) != 0)
		return NULL;
	if (n == 0 && !config_get_bool(conf, "gpu", "k8s_nodes"))
		return NULL;
	g = xcalloc(1, sizeof *g);
	g->gw = gw;
	g->user = xstrdup(config_get(conf, "gpu", "user"));
	if (*config_get(conf, "gpu", "key_file") != '\0')
		g->key_file = xstrdup(config_get(conf, "gpu", "key_file"));
	g->known_hosts = xstrdup(config_get(conf, "gpu", "known_hosts"));
	if (*config_get(conf, "gpu", "proc_root") != '\0')
		g->proc_root = xstrdup(config_get(conf, "gpu", "proc_root"));
	g->display = xstrdup(config_get(conf, "gpu", "display"));
	g->interval_ms = (int)config_get_int(conf, "gpu", "interval_s") * 1000;
	g->k8s_port = (int)config_get_int(conf, "gpu", "k8s_port");
	memset(&o, 0, sizeof o);
	o.known_hosts = g->known_hosts;
	o.accept_new_hostkeys = config_get_bool(conf, "gpu", "accept_new_hostkeys");
	o.interval_ms = g->interval_ms;
	o.timeout_ms = (int)config_get_int(conf, "gpu", "timeout_ms");
	o.answer_cap = (size_t)config_get_int(conf, "gpu", "answer_cap");
	o.proc_root = g->proc_root;
	o.display = g->display;
	if (o.timeout_ms >= o.interval_ms)
		log_warn("gpu.timeout_ms is not under gpu.interval_s: a hung node misses rounds",
		    "timeout_ms=%d interval_ms=%d", o.timeout_ms, o.interval_ms);
	if ((g->prober = gpu_prober_new(gw->base, &o, gpus_round_cb, g, cause)) == NULL ||
	    gpus_nodes_each(conf, gpus_add_cb, g, cause) != 0 ||
	    (config_get_bool(conf, "gpu", "k8s_nodes") && gpus_k8s_start(g, conf, cause) != 0)) {
		gpus_stop(g);
		return NULL;
	}
	gpu_prober_start(g->prober);
	log_info("GPU telemetry started", "nodes=%zu k8s_nodes=%s interval_ms=%d known_hosts=%s",
	    n, log_q(config_get_bool(conf, "gpu", "k8s_nodes") ? "yes" : "no"), g->interval_ms,
	    log_q(g->known_hosts));
	return g;
}

void
gpus_stop(struct gpus *g)
{
	size_t i;

	if (g == NULL)
		return;
	if (g->inf != NULL)
		k8s_informer_free(g->inf);
	if (g->client != NULL)
		k8s_client_free(g->client);
	if (g->prober != NULL)
		gpu_prober_free(g->prober);
	for (i = 0; i < g->nnodes; i++) {
		gpus_refs_free(&g->nodes[i]);
		free(g->nodes[i].name);
	}
	free(g->nodes);
	free(g->user);
	free(g->key_file);
	free(g->known_hosts);
	free(g->proc_root);
	free(g->display);
	free(g);
}

/* ---- /metrics ---- */

static const struct gpus_dcgm {
	const char *name;
	const char *help;
} gpus_dcgm[] = {
	{ "DCGM_FI_DEV_GPU_UTIL", "GPU utilization (in %)." },
	{ "DCGM_FI_DEV_MEM_COPY_UTIL", "Memory utilization (in %)." },
	{ "DCGM_FI_DEV_FB_USED", "Framebuffer memory used (in MiB)." },
	{ "DCGM_FI_DEV_FB_FREE", "Framebuffer memory free (in MiB)." },
	{ "DCGM_FI_DEV_GPU_TEMP", "GPU temperature (in C)." },
	{ "DCGM_FI_DEV_POWER_USAGE", "Power draw (in W)." },
	{ "DCGM_FI_DEV_SM_CLOCK", "SM clock frequency (in MHz)." },
};

/* Metric m of a card: 0 with *v, or -1 when nvidia-smi did not give it. */
static int
gpus_dcgm_value(size_t m, const struct gpu_device *d, double *v)
{
	const struct gpu_value *src[] = { &d->util_gpu, &d->util_mem, &d->mem_used, NULL,
		&d->temp, &d->power, &d->clock_sm };

	if (src[m] == NULL) {
		if (d->mem_total.state != GPU_VALUE_OK || d->mem_used.state != GPU_VALUE_OK)
			return -1;
		*v = d->mem_total.v - d->mem_used.v;
		return 0;
	}
	if (src[m]->state != GPU_VALUE_OK)
		return -1;
	*v = src[m]->v;
	return 0;
}

/* The pod holding card gi of a node (of this gateway's: the first mapped process's). */
static const struct gpus_ref *
gpus_card_pod(const struct gpus_node *gn, const struct gpu_report *rep, size_t gi)
{
	size_t i;

	for (i = 0; i < rep->nprocs && i < gn->nrefs; i++)
		if (rep->procs[i].gpu == (int)gi && gn->refs[i].pod != NULL)
			return &gn->refs[i];
	return NULL;
}

void
gpus_metrics(struct gpus *g, struct evbuffer *b)
{
	const struct gpu_node *node;
	const struct gpu_report *rep;
	const struct gpus_ref *ref;
	int64_t now = util_mono_ms(), age;
	char idx[16], dev[32];
	size_t m, i, k;
	double v;

	if (g == NULL)
		return;
	for (i = 0; i < g->nnodes; i++)
		if ((node = gpu_prober_find(g->prober, g->nodes[i].name)) != NULL)
			gpus_node_map(g, &g->nodes[i], node);
	for (m = 0; m < nitems(gpus_dcgm); m++) {
		evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s gauge\n", gpus_dcgm[m].name,
		    gpus_dcgm[m].help, gpus_dcgm[m].name);
		for (i = 0; i < g->nnodes; i++) {
			node = gpu_prober_find(g->prober, g->nodes[i].name);
			/* A stale node's values are old: left out, as an exporter that is down. */
			if (node == NULL || node->stale != NULL || (rep = node->report) == NULL)
				continue;
			for (k = 0; k < rep->ngpus; k++) {
				if (gpus_dcgm_value(m, &rep->gpus[k], &v) != 0)
					continue;
				ref = gpus_card_pod(&g->nodes[i], rep, k);
				snprintf(idx, sizeof idx, "%d", rep->gpus[k].index);
				snprintf(dev, sizeof dev, "nvidia%d", rep->gpus[k].index);
				evbuffer_add_printf(b, "%s{", gpus_dcgm[m].name);
				prom_label(b, "gpu", idx, 1);
				prom_label(b, "UUID", rep->gpus[k].uuid, 0);
				prom_label(b, "device", dev, 0);
				prom_label(b, "modelName", rep->gpus[k].name, 0);
				prom_label(b, "Hostname", node->name, 0);
				prom_label(b, "container", ref != NULL ? ref->container : "", 0);
				prom_label(b, "namespace", ref != NULL ? ref->namespace : "", 0);
				prom_label(b, "pod", ref != NULL ? ref->pod : "", 0);
				evbuffer_add_printf(b, "} %g\n", v);
			}
		}
	}
	evbuffer_add_printf(b, "# HELP paia_gpu_node_up 1 when the last probe round of the "
	    "node succeeded.\n# TYPE paia_gpu_node_up gauge\n");
	for (i = 0; i < g->nnodes; i++)
		if ((node = gpu_prober_find(g->prober, g->nodes[i].name)) != NULL) {
			evbuffer_add_printf(b, "paia_gpu_node_up{");
			prom_label(b, "node", node->name, 1);
			evbuffer_add_printf(b, "} %d\n", node->stale == NULL && node->report != NULL);
		}
	evbuffer_add_printf(b, "# HELP paia_gpu_node_report_age_seconds Age of the node's last "
	    "good report.\n# TYPE paia_gpu_node_report_age_seconds gauge\n");
	for (i = 0; i < g->nnodes; i++)
		if ((node = gpu_prober_find(g->prober, g->nodes[i].name)) != NULL &&
		    (age = gpu_node_age_ms(node, now)) >= 0) {
			evbuffer_add_printf(b, "paia_gpu_node_report_age_seconds{");
			prom_label(b, "node", node->name, 1);
			evbuffer_add_printf(b, "} %.3f\n", (double)age / 1000.0);
		}
	evbuffer_add_printf(b, "# HELP paia_gpu_probe_rounds_total Probe rounds of the node, by "
	    "outcome.\n# TYPE paia_gpu_probe_rounds_total counter\n");
	for (i = 0; i < g->nnodes; i++)
		if ((node = gpu_prober_find(g->prober, g->nodes[i].name)) != NULL) {
			evbuffer_add_printf(b, "paia_gpu_probe_rounds_total{");
			prom_label(b, "node", node->name, 0);
			evbuffer_add_printf(b, "outcome=\"ok\"} %" PRIu64 "\n", node->rounds_ok);
			evbuffer_add_printf(b, "paia_gpu_probe_rounds_total{");
			prom_label(b, "node", node->name, 0);
			evbuffer_add_printf(b, "outcome=\"failed\"} %" PRIu64 "\n",
			    node->rounds_failed);
		}
}
