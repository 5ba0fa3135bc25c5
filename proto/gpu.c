/*
 * gpu.c: the GPU view of the control protocol (docs/control.md): a GPU
 * node as the gateway's prober last saw it (its state, the age of its
 * report and why it is stale; per card the numbers nvidia-smi gave and
 * the processes holding it, each tied to its pod and, when the pod is
 * one of this gateway's, to the task attempt), as the "gpus" answer
 * lists them and a "gpu" event carries one; and a task's use of a GPU
 * (peak memory, mean utilisation), as result v1 and TASK carry it.
 *
 * A number nvidia-smi did not give is null, never 0 or -1, with the
 * reason in the card's "unavailable" object; clients show it as such.
 * Decoding is lenient about fields a newer gateway adds and strict
 * about the types of the known ones.
 */
#include "config.h"
#include "proto-int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static const char *metric_names[PROTO_GPU_NMETRICS] = {
	"util", "mem_util", "mem_used_mib", "mem_total_mib", "temp_c", "power_w",
	"power_limit_w", "sm_clock_mhz",
};
static const char *node_state_names[PROTO_GPU_NSTATES] = { "pending", "ok", "stale" };

const char *
proto_gpu_metric_name(enum proto_gpu_metric m)
{
	return (size_t)m < nitems(metric_names) ? metric_names[m] : "unknown";
}

const char *
proto_gpu_state_name(enum proto_gpu_node_state s)
{
	return (size_t)s < nitems(node_state_names) ? node_state_names[s] : "unknown";
}

int
proto_gpu_state_parse(const char *s, enum proto_gpu_node_state *out)
{
	size_t i;

	for (i = 0; s != NULL && i < nitems(node_state_names); i++) {
		if (strcmp(s, node_state_names[i]) == 0) {
			*out = (enum proto_gpu_node_state)i;
			return 0;
		}
	}
	return -1;
}

/* ---- encoding ---- */

static void
gpu_add_num(cJSON *o, const char *name, double v)
{
	if (isfinite(v))
		cJSON_AddNumberToObject(o, name, v);
	else
		cJSON_AddNullToObject(o, name);
}

static cJSON *
gpu_process_encode(const struct proto_gpu_process *p)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "pid", (double)p->pid);
	if (p->used_mib >= 0)
		cJSON_AddNumberToObject(o, "used_mib", p->used_mib);
	else
		cJSON_AddNullToObject(o, "used_mib");
	cJSON_AddStringToObject(o, "name", p->name != NULL ? p->name : "");
	proto_add_str_or_null(o, "pod_uid", p->pod_uid);
	if (p->container_id != NULL)
		cJSON_AddStringToObject(o, "container_id", p->container_id);
	if (p->namespace != NULL)
		cJSON_AddStringToObject(o, "namespace", p->namespace);
	if (p->pod != NULL)
		cJSON_AddStringToObject(o, "pod", p->pod);
	if (p->container != NULL)
		cJSON_AddStringToObject(o, "container", p->container);
	proto_add_str_or_null(o, "task_id", p->task_id);
	if (p->task_id != NULL)
		cJSON_AddNumberToObject(o, "attempt", p->attempt);
	return o;
}

static cJSON *
gpu_card_encode(const struct proto_gpu_card *c)
{
	cJSON *o = cJSON_CreateObject(), *why = NULL, *arr;
	size_t i;

	cJSON_AddNumberToObject(o, "index", c->index);
	cJSON_AddStringToObject(o, "uuid", c->uuid != NULL ? c->uuid : "");
	cJSON_AddStringToObject(o, "name", c->name != NULL ? c->name : "");
	for (i = 0; i < PROTO_GPU_NMETRICS; i++) {
		if (c->known & (1u << i))
			gpu_add_num(o, metric_names[i], c->value[i]);
		else {
			cJSON_AddNullToObject(o, metric_names[i]);
			if (c->why[i] != NULL) {
				if (why == NULL)
					why = cJSON_CreateObject();
				cJSON_AddStringToObject(why, metric_names[i], c->why[i]);
			}
		}
	}
	if (why != NULL)
		cJSON_AddItemToObject(o, "unavailable", why);
	proto_add_str_or_null(o, "pstate", c->pstate);
	arr = cJSON_AddArrayToObject(o, "processes");
	for (i = 0; i < c->nprocs; i++)
		cJSON_AddItemToArray(arr, gpu_process_encode(&c->procs[i]));
	return o;
}

cJSON *
proto_gpu_node_encode(const struct proto_gpu_node *n)
{
	cJSON *o = cJSON_CreateObject(), *arr;
	size_t i;

	cJSON_AddStringToObject(o, "node", n->node);
	cJSON_AddStringToObject(o, "host", n->host != NULL ? n->host : "");
	cJSON_AddNumberToObject(o, "port", n->port);
	if (n->source != NULL)
		cJSON_AddStringToObject(o, "source", n->source);
	cJSON_AddStringToObject(o, "state", proto_gpu_state_name(n->state));
	proto_add_str_or_null(o, "stale", n->stale);
	proto_add_time(o, "report_time", n->report_ms);
	if (n->age_ms >= 0)
		cJSON_AddNumberToObject(o, "age_ms", (double)n->age_ms);
	else
		cJSON_AddNullToObject(o, "age_ms");
	cJSON_AddNumberToObject(o, "round_ms", (double)n->round_ms);
	cJSON_AddNumberToObject(o, "rounds_ok", (double)n->rounds_ok);
	cJSON_AddNumberToObject(o, "rounds_failed", (double)n->rounds_failed);
	if (n->apps_error != NULL)
		cJSON_AddStringToObject(o, "apps_error", n->apps_error);
	if (n->display_state != NULL) {
		cJSON *d = cJSON_AddObjectToObject(o, "display");

		cJSON_AddStringToObject(d, "name", n->display != NULL ? n->display : "");
		cJSON_AddStringToObject(d, "state", n->display_state);
		if (n->display_detail != NULL)
			cJSON_AddStringToObject(d, "detail", n->display_detail);
	}
	arr = cJSON_AddArrayToObject(o, "gpus");
	for (i = 0; i < n->ncards; i++)
		cJSON_AddItemToArray(arr, gpu_card_encode(&n->cards[i]));
	return o;
}

cJSON *
proto_task_gpus_encode(const struct proto_task_gpu *g, size_t n)
{
	cJSON *arr = cJSON_CreateArray(), *o;
	size_t i;

	for (i = 0; i < n; i++) {
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "node", g[i].node);
		cJSON_AddNumberToObject(o, "index", g[i].index);
		cJSON_AddStringToObject(o, "uuid", g[i].uuid != NULL ? g[i].uuid : "");
		cJSON_AddStringToObject(o, "name", g[i].name != NULL ? g[i].name : "");
		if (g[i].peak_mem_mib >= 0)
			cJSON_AddNumberToObject(o, "peak_mem_mib", g[i].peak_mem_mib);
		else
			cJSON_AddNullToObject(o, "peak_mem_mib");
		if (g[i].mean_util >= 0)
			cJSON_AddNumberToObject(o, "mean_util", g[i].mean_util);
		else
			cJSON_AddNullToObject(o, "mean_util");
		cJSON_AddNumberToObject(o, "samples", (double)g[i].samples);
		proto_add_time(o, "first_seen", g[i].first_ms);
		proto_add_time(o, "last_seen", g[i].last_ms);
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}

/* ---- decoding ---- */

/* A number or null (absent, null: *known stays 0). */
static int
gpu_get_opt_num(const cJSON *obj, const char *name, double *out, int *known, char **cause)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, name);

	*known = 0;
	if (j == NULL || cJSON_IsNull(j))
		return 0;
	if (proto_get_double(obj, name, out, cause) != 0)
		return -1;
	*known = 1;
	return 0;
}

static int
gpu_process_decode(const cJSON *j, struct proto_gpu_process *p, char **cause)
{
	int known;

	p->used_mib = -1;
	if (proto_get_i64(j, "pid", &p->pid, cause) != 0 ||
	    gpu_get_opt_num(j, "used_mib", &p->used_mib, &known, cause) != 0 ||
	    proto_get_str(j, "name", &p->name, cause) != 0 ||
	    proto_get_str(j, "pod_uid", &p->pod_uid, cause) != 0 ||
	    proto_get_str(j, "container_id", &p->container_id, cause) != 0 ||
	    proto_get_str(j, "namespace", &p->namespace, cause) != 0 ||
	    proto_get_str(j, "pod", &p->pod, cause) != 0 ||
	    proto_get_str(j, "container", &p->container, cause) != 0 ||
	    proto_get_str(j, "task_id", &p->task_id, cause) != 0 ||
	    proto_get_int(j, "attempt", &p->attempt, cause) != 0)
		return -1;
	if (!known)
		p->used_mib = -1;
	return 0;
}

static int
gpu_card_decode(const cJSON *j, struct proto_gpu_card *c, struct proto_gpu_process **procs,
    char **cause)
{
	const cJSON *arr, *e, *why;
	size_t i, n;
	int known;

	if (proto_get_int(j, "index", &c->index, cause) != 0 ||
	    proto_get_str(j, "uuid", &c->uuid, cause) != 0 ||
	    proto_get_str(j, "name", &c->name, cause) != 0 ||
	    proto_get_str(j, "pstate", &c->pstate, cause) != 0)
		return -1;
	why = cJSON_GetObjectItemCaseSensitive(j, "unavailable");
	if (why != NULL && !cJSON_IsObject(why)) {
		xasprintf(cause, "field 'unavailable' must be an object, not %s",
		    proto_type_name(why));
		return -1;
	}
	for (i = 0; i < PROTO_GPU_NMETRICS; i++) {
		if (gpu_get_opt_num(j, metric_names[i], &c->value[i], &known, cause) != 0 ||
		    proto_get_str(why, metric_names[i], &c->why[i], cause) != 0)
			return -1;
		if (known)
			c->known |= 1u << i;
	}
	if (proto_get_array(j, "processes", &arr, &n, cause) != 0)
		return -1;
	c->procs = *procs;
	c->nprocs = n;
	i = 0;
	cJSON_ArrayForEach(e, arr) {
		if (gpu_process_decode(e, &(*procs)[i], cause) != 0)
			return -1;
		i++;
	}
	*procs += n;
	return 0;
}

static int
gpu_node_decode(const cJSON *j, struct proto_gpu_node *n, struct proto_gpu_card **cards,
    struct proto_gpu_process **procs, char **cause)
{
	const cJSON *arr, *e, *d;
	const char *state = NULL;
	size_t i, k;

	n->age_ms = -1;
	if (!cJSON_IsObject(j)) {
		xasprintf(cause, "a GPU node that is %s, not an object", proto_type_name(j));
		return -1;
	}
	if (proto_need(j, "node", cause) != 0 ||
	    proto_get_str(j, "node", &n->node, cause) != 0 ||
	    proto_get_str(j, "host", &n->host, cause) != 0 ||
	    proto_get_int(j, "port", &n->port, cause) != 0 ||
	    proto_get_str(j, "source", &n->source, cause) != 0 ||
	    proto_get_str(j, "state", &state, cause) != 0 ||
	    proto_get_str(j, "stale", &n->stale, cause) != 0 ||
	    proto_get_time(j, "report_time", &n->report_ms, cause) != 0 ||
	    proto_get_i64(j, "age_ms", &n->age_ms, cause) != 0 ||
	    proto_get_i64(j, "round_ms", &n->round_ms, cause) != 0 ||
	    proto_get_i64(j, "rounds_ok", &n->rounds_ok, cause) != 0 ||
	    proto_get_i64(j, "rounds_failed", &n->rounds_failed, cause) != 0 ||
	    proto_get_str(j, "apps_error", &n->apps_error, cause) != 0)
		return -1;
	if (n->node == NULL) {
		xasprintf(cause, "field 'node' must not be null");
		return -1;
	}
	if (state != NULL && proto_gpu_state_parse(state, &n->state) != 0) {
		xasprintf(cause, "field 'state' is not a name this reads");
		return -1;
	}
	d = cJSON_GetObjectItemCaseSensitive(j, "display");
	if (d != NULL && !cJSON_IsNull(d)) {
		if (!cJSON_IsObject(d)) {
			xasprintf(cause, "field 'display' must be an object, not %s",
			    proto_type_name(d));
			return -1;
		}
		if (proto_get_str(d, "name", &n->display, cause) != 0 ||
		    proto_get_str(d, "state", &n->display_state, cause) != 0 ||
		    proto_get_str(d, "detail", &n->display_detail, cause) != 0)
			return -1;
	}
	if (proto_get_array(j, "gpus", &arr, &k, cause) != 0)
		return -1;
	n->cards = *cards;
	n->ncards = k;
	i = 0;
	cJSON_ArrayForEach(e, arr) {
		if (gpu_card_decode(e, &(*cards)[i], procs, cause) != 0)
			return -1;
		i++;
	}
	*cards += k;
	return 0;
}

/* Cards and processes below the node objects of arr (shapes checked later). */
static void
gpu_count(const cJSON *arr, size_t *ncards, size_t *nprocs)
{
	const cJSON *n, *c, *gpus, *procs;

	cJSON_ArrayForEach(n, arr) {
		gpus = cJSON_IsObject(n) ? cJSON_GetObjectItemCaseSensitive(n, "gpus") : NULL;
		if (!cJSON_IsArray(gpus))
			continue;
		cJSON_ArrayForEach(c, gpus) {
			(*ncards)++;
			procs = cJSON_IsObject(c) ? cJSON_GetObjectItemCaseSensitive(c, "processes") :
			    NULL;
			if (cJSON_IsArray(procs))
				*nprocs += (size_t)cJSON_GetArraySize(procs);
		}
	}
}

int
proto_gpus_decode(const cJSON *j, struct proto_gpus *g, char **cause)
{
	struct proto_gpu_node *nodes;
	struct proto_gpu_card *cards;
	struct proto_gpu_process *procs;
	struct proto_own *own;
	const cJSON *e, *arr = j;
	cJSON *one = NULL;
	size_t n, ncards = 0, nprocs = 0, i = 0;
	int rc = -1;

	memset(g, 0, sizeof *g);
	if (cJSON_IsObject(j)) {
		/* One node (a gpu event): counted through a borrowed one-element array. */
		one = cJSON_CreateArray();
		cJSON_AddItemToArray(one, cJSON_CreateObjectReference(j->child));
		arr = one;
	} else if (!cJSON_IsArray(j)) {
		xasprintf(cause, "GPU nodes that are %s, not an array or an object",
		    proto_type_name(j));
		return -1;
	}
	n = (size_t)cJSON_GetArraySize(arr);
	gpu_count(arr, &ncards, &nprocs);
	g->own = own = proto_own_new(NULL);
	own->arrays[0] = nodes = xcalloc(n + 1, sizeof *nodes);
	own->arrays[1] = xcalloc(ncards * sizeof *cards + nprocs * sizeof *procs + 1, 1);
	cards = own->arrays[1];
	procs = (struct proto_gpu_process *)(void *)(cards + ncards);
	cJSON_ArrayForEach(e, arr) {
		if (gpu_node_decode(e, &nodes[i], &cards, &procs, cause) != 0)
			goto out;
		i++;
	}
	g->nodes = nodes;
	g->nnodes = n;
	rc = 0;
out:
	cJSON_Delete(one);
	if (rc != 0)
		proto_gpus_clear(g);
	return rc;
}

void
proto_gpus_clear(struct proto_gpus *g)
{
	proto_own_free(g->own);
	memset(g, 0, sizeof *g);
}

int
proto_task_gpus_decode(const cJSON *arr, struct proto_task_gpu *out, char **cause)
{
	const cJSON *e;
	size_t i = 0;
	int known;

	cJSON_ArrayForEach(e, arr) {
		out[i].peak_mem_mib = out[i].mean_util = -1;
		if (proto_get_str(e, "node", &out[i].node, cause) != 0 ||
		    proto_get_int(e, "index", &out[i].index, cause) != 0 ||
		    proto_get_str(e, "uuid", &out[i].uuid, cause) != 0 ||
		    proto_get_str(e, "name", &out[i].name, cause) != 0 ||
		    gpu_get_opt_num(e, "peak_mem_mib", &out[i].peak_mem_mib, &known, cause) != 0 ||
		    gpu_get_opt_num(e, "mean_util", &out[i].mean_util, &known, cause) != 0 ||
		    proto_get_i64(e, "samples", &out[i].samples, cause) != 0 ||
		    proto_get_time(e, "first_seen", &out[i].first_ms, cause) != 0 ||
		    proto_get_time(e, "last_seen", &out[i].last_ms, cause) != 0)
			return -1;
		if (out[i].node == NULL) {
			xasprintf(cause, "field 'gpus' holds a GPU without its 'node'");
			return -1;
		}
		i++;
	}
	return 0;
}
