/*
 * paiactl-gpu.c: "paiactl gpus": the gateway's GPU nodes as its prober
 * last saw them (the gpus answer, decoded by proto/), one row a card
 * like nvidia-smi's or nvtop's, with what neither shows: the task of
 * this gateway holding each card. A stale node keeps its last values,
 * marked with their age, and its reason is printed under the table.
 *
 * Names and reasons come from the nodes (nvidia-smi, users' process
 * names): printed through client_text_clean().
 */
#include "config.h"
#include "paiactl-int.h"

#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

/* "v unit" of a card's metric, or "-" (caller frees). */
static char *
paiactl_gpu_num(const struct proto_gpu_card *c, enum proto_gpu_metric m, const char *unit)
{
	char *s;

	if (!(c->known & (1u << m)))
		return xstrdup("-");
	xasprintf(&s, "%.0f%s", c->value[m], unit);
	return s;
}

/* "used/total MiB" or what is known of it. */
static char *
paiactl_gpu_pair(const struct proto_gpu_card *c, enum proto_gpu_metric a,
    enum proto_gpu_metric b, const char *unit)
{
	char *x = paiactl_gpu_num(c, a, ""), *y = paiactl_gpu_num(c, b, ""), *s;

	xasprintf(&s, "%s/%s%s", x, y, unit);
	free(x);
	free(y);
	return s;
}

/* The tasks holding a card ("t-1#2"), else its processes' count, else "-". */
static char *
paiactl_gpu_tasks(const struct proto_gpu_card *c)
{
	char *s = NULL, *t;
	size_t i, k, others = 0;
	int dup;

	for (i = 0; i < c->nprocs; i++) {
		if (c->procs[i].task_id == NULL) {
			others++;
			continue;
		}
		for (dup = 0, k = 0; k < i && !dup; k++)
			dup = c->procs[k].task_id != NULL &&
			    strcmp(c->procs[k].task_id, c->procs[i].task_id) == 0 &&
			    c->procs[k].attempt == c->procs[i].attempt;
		if (dup)
			continue;
		xasprintf(&t, "%s%s%s#%d", s != NULL ? s : "", s != NULL ? "," : "",
		    c->procs[i].task_id, c->procs[i].attempt);
		free(s);
		s = t;
	}
	if (s == NULL && others == 0)
		return xstrdup("-");
	if (others > 0) {
		xasprintf(&t, "%s%s(%zu other process%s)", s != NULL ? s : "", s != NULL ? " " : "",
		    others, others == 1 ? "" : "es");
		free(s);
		s = t;
	}
	t = client_text_clean(s);
	free(s);
	return t;
}

static void
paiactl_gpus_print(const struct proto_gpus *g)
{
	static const char *const headers[] = {
		"NODE", "GPU", "NAME", "UTIL", "MEM", "TEMP", "POWER", "TASK"
	};
	struct paiactl_table t;
	const struct proto_gpu_node *n;
	const struct proto_gpu_card *c;
	char age[32], *node;
	size_t i, k;

	paiactl_table_init(&t, nitems(headers), headers);
	for (i = 0; i < g->nnodes; i++) {
		n = &g->nodes[i];
		if (n->state == PROTO_GPU_STALE)
			xasprintf(&node, "%s (stale%s%s)", n->node, n->age_ms >= 0 ? ", " : "",
			    n->age_ms >= 0 ? client_text_duration(n->age_ms, age, sizeof age) : "");
		else
			node = xstrdup(n->node);
		if (n->ncards == 0) {
			paiactl_table_add(&t, client_text_clean(node));
			paiactl_table_add(&t, xstrdup("-"));
			paiactl_table_add(&t, xstrdup(n->state == PROTO_GPU_PENDING ?
			    "(no report yet)" : "(no GPU)"));
			for (k = 0; k < 5; k++)
				paiactl_table_add(&t, xstrdup("-"));
		}
		for (k = 0; k < n->ncards; k++) {
			c = &n->cards[k];
			paiactl_table_add(&t, client_text_clean(node));
			paiactl_table_addf(&t, "%d", c->index);
			paiactl_table_add(&t, client_text_clean(c->name != NULL ? c->name : "-"));
			paiactl_table_add(&t, paiactl_gpu_num(c, PROTO_GPU_UTIL, "%"));
			paiactl_table_add(&t, paiactl_gpu_pair(c, PROTO_GPU_MEM_USED,
			    PROTO_GPU_MEM_TOTAL, "MiB"));
			paiactl_table_add(&t, paiactl_gpu_num(c, PROTO_GPU_TEMP, "C"));
			paiactl_table_add(&t, paiactl_gpu_pair(c, PROTO_GPU_POWER,
			    PROTO_GPU_POWER_LIMIT, "W"));
			paiactl_table_add(&t, paiactl_gpu_tasks(c));
		}
		free(node);
	}
	paiactl_table_print(&t, stdout);
	paiactl_table_free(&t);
	for (i = 0; i < g->nnodes; i++) {
		n = &g->nodes[i];
		if (n->stale != NULL) {
			node = client_text_clean(n->stale);
			printf("%s: stale: %s\n", n->node, node);
			free(node);
		}
		if (n->apps_error != NULL) {
			node = client_text_clean(n->apps_error);
			printf("%s: no process list: %s\n", n->node, node);
			free(node);
		}
	}
}

int
paiactl_cmd_gpus(struct paiactl *ctx, const struct paiactl_args *a)
{
	const cJSON *nodes;
	struct proto_gpus g;
	cJSON *resp;
	char *cause = NULL;
	int rc, json = paiactl_arg(a, "json") != NULL;

	if ((resp = paiactl_request(ctx, "gpus", NULL, NULL, &cause)) == NULL)
		return paiactl_err_cause(cause);
	nodes = cJSON_GetObjectItemCaseSensitive(resp, "nodes");
	if (json) {
		cJSON_DeleteItemFromObjectCaseSensitive(resp, "ok");
		paiactl_json_print(resp);
	} else if (proto_gpus_decode(nodes, &g, &cause) != 0) {
		cJSON_Delete(resp);
		rc = paiactl_err("%s: the gpus answer: %s", ctx->loc.socket_path, cause);
		free(cause);
		return rc;
	} else {
		if (cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(resp, "enabled")))
			fprintf(stderr, "GPU telemetry is off on this gateway (no [gpu] nodes)\n");
		else if (g.nnodes == 0)
			fprintf(stderr, "no GPU nodes yet\n");
		else
			paiactl_gpus_print(&g);
		proto_gpus_clear(&g);
	}
	cJSON_Delete(resp);
	return 0;
}
