/*
 * pods.c: the pod calls a controller of game pods makes: create (409
 * AlreadyExists reported as K8S_ERR_EXISTS so the caller adopts), get,
 * delete with a grace period, and the log, streamed (follow) for a live
 * tail. Thin wrappers over client.c that build paths and queries.
 */
#include "config.h"
#include "common.h"
#include "k8s.h"
#include "k8s-int.h"

#include <stdlib.h>
#include <string.h>

static char *
pods_path(const char *ns, const char *name, const char *sub)
{
	char *ens = k8s_query_escape(ns), *ename = name != NULL ? k8s_query_escape(name) : NULL;
	char *p;

	xasprintf(&p, "/api/v1/namespaces/%s/pods%s%s%s%s", ens, ename != NULL ? "/" : "",
	    ename != NULL ? ename : "", sub != NULL ? "/" : "", sub != NULL ? sub : "");
	free(ens);
	free(ename);
	return p;
}

struct k8s_req *
k8s_pod_create(struct k8s_client *c, const char *ns, const char *json, k8s_response_cb *cb,
    void *arg)
{
	char *path = pods_path(ns, NULL, NULL);
	struct k8s_req *r = k8s_post(c, path, json, cb, arg);

	free(path);
	return r;
}

struct k8s_req *
k8s_pod_get(struct k8s_client *c, const char *ns, const char *name, k8s_response_cb *cb,
    void *arg)
{
	char *path = pods_path(ns, name, NULL);
	struct k8s_req *r = k8s_get(c, path, cb, arg);

	free(path);
	return r;
}

struct k8s_req *
k8s_pod_delete(struct k8s_client *c, const char *ns, const char *name, long grace_s,
    k8s_response_cb *cb, void *arg)
{
	char *path = pods_path(ns, name, NULL);
	struct k8s_req *r = k8s_delete(c, path, grace_s, "Background", cb, arg);

	free(path);
	return r;
}

struct k8s_req *
k8s_pod_logs(struct k8s_client *c, const char *ns, const char *name,
    const struct k8s_pod_log_opts *lo, k8s_chunk_cb *chunk, k8s_response_cb *done, void *arg)
{
	struct k8s_req_opts o;
	struct k8s_req *r;
	char *base = pods_path(ns, name, "log"), *path, *q = xstrdup(""), *nq, *ec;

	if (lo != NULL && lo->container != NULL) {
		ec = k8s_query_escape(lo->container);
		xasprintf(&nq, "%s&container=%s", q, ec);
		free(ec);
		free(q);
		q = nq;
	}
	if (lo != NULL && lo->follow) {
		xasprintf(&nq, "%s&follow=true", q);
		free(q);
		q = nq;
	}
	if (lo != NULL && lo->since_seconds > 0) {
		xasprintf(&nq, "%s&sinceSeconds=%ld", q, lo->since_seconds);
		free(q);
		q = nq;
	}
	if (lo != NULL && lo->tail_lines >= 0) {
		xasprintf(&nq, "%s&tailLines=%ld", q, lo->tail_lines);
		free(q);
		q = nq;
	}
	if (lo != NULL && lo->limit_bytes > 0) {
		xasprintf(&nq, "%s&limitBytes=%ld", q, lo->limit_bytes);
		free(q);
		q = nq;
	}
	xasprintf(&path, "%s%s%s", base, *q != '\0' ? "?" : "", *q != '\0' ? q + 1 : "");
	memset(&o, 0, sizeof o);
	o.chunk = chunk;
	o.pausable = 1;
	r = k8s_request(c, K8S_GET, path, NULL, 0, &o, done, arg);
	free(base);
	free(path);
	free(q);
	return r;
}
