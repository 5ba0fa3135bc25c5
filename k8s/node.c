/*
 * node.c: the node model: struct k8s_node, what a client that reaches
 * nodes by address reads of one (its name, InternalIP, whether it is
 * cordoned, and the capacity of one extended resource such as
 * nvidia.com/gpu), for informers of nodes. Nodes are few and change
 * slowly, so a node's JSON is parsed whole with cJSON (pods, many and
 * busy, have the scanner of pod.c). The result is one allocation.
 *
 * It does not send requests nor cache (informer.c).
 */
#include "config.h"
#include "common.h"
#include "k8s.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

static const char *
node_str(const cJSON *obj, const char *name)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, name);

	return cJSON_IsString(j) ? j->valuestring : NULL;
}

/* A quantity of whole units ("8"); anything else (fractions, suffixes) counts as 0. */
static long long
node_quantity(const char *q)
{
	long long n;

	if (q == NULL || util_parse_int(q, 0, 1000000, &n) != 0)
		return 0;
	return n;
}

struct k8s_node *
k8s_node_extract(const char *json, size_t len, const char *resource, char **cause)
{
	const char *f[6] = { NULL }, *ip = NULL;
	const cJSON *meta, *spec, *status, *e;
	struct k8s_node *node = NULL;
	long long capacity = 0;
	size_t n[6], total = 0, i;
	cJSON *root;
	char *p;

	if ((root = cJSON_ParseWithLength(json, len)) == NULL || !cJSON_IsObject(root)) {
		xasprintf(cause, "node JSON: not a JSON object");
		goto out;
	}
	meta = cJSON_GetObjectItemCaseSensitive(root, "metadata");
	spec = cJSON_GetObjectItemCaseSensitive(root, "spec");
	status = cJSON_GetObjectItemCaseSensitive(root, "status");
	f[0] = node_str(meta, "name");
	f[1] = node_str(meta, "uid");
	f[2] = node_str(meta, "resourceVersion");
	f[3] = node_str(meta, "deletionTimestamp");
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(status, "addresses")) {
		if (ip == NULL && node_str(e, "type") != NULL &&
		    strcmp(node_str(e, "type"), "InternalIP") == 0)
			ip = node_str(e, "address");
	}
	f[4] = ip;
	f[5] = "";
	if (f[0] == NULL || *f[0] == '\0') {
		xasprintf(cause, "node JSON: metadata.name missing");
		goto out;
	}
	if (resource != NULL)
		capacity = node_quantity(node_str(cJSON_GetObjectItemCaseSensitive(status,
		    "capacity"), resource));
	for (i = 0; i < nitems(f); i++)
		total += n[i] = f[i] != NULL ? strlen(f[i]) + 1 : 0;
	node = xcalloc(1, sizeof *node + total);
	p = (char *)(node + 1);
	for (i = 0; i < nitems(f); i++) {
		if (f[i] == NULL)
			continue;
		memcpy(p, f[i], n[i]);
		f[i] = p;
		p += n[i];
	}
	node->meta.name = f[0];
	node->meta.uid = f[1];
	node->meta.resource_version = f[2];
	node->meta.deletion_timestamp = f[3];
	node->meta.namespace = f[5];
	node->internal_ip = f[4];
	node->capacity = capacity;
	node->unschedulable = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(spec,
	    "unschedulable"));
out:
	cJSON_Delete(root);
	return node;
}

void
k8s_node_free(struct k8s_node *node)
{
	free(node);
}

static struct k8s_object *
node_kind_extract(const char *json, size_t len, const void *arg, char **cause)
{
	struct k8s_node *node = k8s_node_extract(json, len, arg, cause);

	return node != NULL ? &node->meta : NULL;
}

static void
node_kind_free(struct k8s_object *o)
{
	k8s_node_free((struct k8s_node *)o);
}

const struct k8s_kind k8s_node_kind = {
	"nodes", "/api/v1", "nodes", node_kind_extract, node_kind_free
};
