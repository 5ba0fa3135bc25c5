/*
 * runner.c: the runner interface over its kinds (runner-local.c: a
 * child process; runner-k8s.c: a pod), chosen by runner.type.
 */
#include "config.h"
#include "gateway.h"

#include <string.h>


struct runner *
runner_new(struct event_base *base, struct evcurl *ec, const struct config *conf,
    runner_fatal_cb *fatal_cb, void *arg, char **cause)
{
	if (strcmp(config_get(conf, "runner", "type"), "k8s") == 0)
		return runner_k8s_new(base, ec, conf, fatal_cb, arg, cause);
	return runner_local_new(base, conf, cause);
}

struct runner_job *
runner_start(struct runner *r, const struct runner_req *req, runner_started_cb *started,
    runner_done_cb *done, void *arg)
{
	return r->ops->start(r, req, started, done, arg);
}

void
runner_cancel(struct runner_job *j)
{
	j->ops->cancel(j);
}

void
runner_abandon(struct runner_job *j)
{
	j->ops->abandon(j);
}

pid_t
runner_job_pid(const struct runner_job *j)
{
	return j->ops->pid != NULL ? j->ops->pid(j) : 0;
}

size_t
runner_active(const struct runner *r)
{
	return r->ops->active(r);
}

int
runner_uses_claims(const struct runner *r)
{
	return r->ops->claims;
}

void
runner_release(struct runner *r, const char *task_id, int first, int last)
{
	if (r->ops->release != NULL)
		r->ops->release(r, task_id, first, last);
}

int
runner_pod_by_uid(struct runner *r, const char *uid, struct runner_pod_ref *ref)
{
	if (r == NULL || r->ops->pod_by_uid == NULL)
		return -1;
	return r->ops->pod_by_uid(r, uid, ref);
}

void
runner_stats(struct runner *r, struct runner_stats *st)
{
	memset(st, 0, sizeof *st);
	if (r != NULL && r->ops->stats != NULL)
		r->ops->stats(r, st);
}

void
runner_free(struct runner *r)
{
	if (r != NULL)
		r->ops->free(r);
}

void
runner_watch_pods(struct runner *r, runner_pod_cb *cb, runner_pods_cb *listed, void *arg)
{
	r->pod_cb = cb;
	r->pods_cb = listed;
	r->pod_arg = arg;
}

void
runner_pods(struct runner *r, struct proto_pods *p, struct proto_pod_view **tofree)
{
	memset(p, 0, sizeof *p);
	*tofree = NULL;
	p->runner = r->ops->name;
	if (r->ops->pods == NULL)
		return;
	p->npods = r->ops->pods(r, tofree, &p->namespace, &p->synced);
	p->pods = *tofree;
}

struct runner_log *
runner_log_open(struct runner *r, const char *task_id, int attempt,
    const struct runner_log_cbs *cbs, void *arg)
{
	if (r->ops->log_open == NULL)
		return NULL;
	return r->ops->log_open(r, task_id, attempt, cbs, arg);
}

void
runner_log_resume(struct runner *r, struct runner_log *l)
{
	r->ops->log_resume(l);
}

void
runner_log_close(struct runner *r, struct runner_log *l)
{
	if (l != NULL)
		r->ops->log_close(l);
}
