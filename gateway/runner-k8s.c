/*
 * runner-k8s.c: games as pods (runner.type = k8s).
 *
 * Each task attempt is one pod, named from the task id and the attempt
 * (paia-<task>-<attempt>), built from the pod template (k8s.pod_template,
 * deploy/game-pod.json) and labelled paia.io/managed-by = k8s.managed_by.
 * The name is the claim: a create that finds the pod already there
 * (409 AlreadyExists) adopts it, so a gateway restarted after a crash,
 * or the new owner of a partition, follows the game that is already
 * running instead of starting a second one.
 *
 * One informer (list + watch, bookmarks, relist on 410) on the pods with
 * that label drives every job; no job polls. Each watch event is a pod
 * event for the console; a (re)list is one "listed afresh" instead (its
 * thousands of changes at once would overflow the control socket), the
 * jobs still judging each of its pods. The informer's events decide:
 *
 *   Running                            started
 *   Succeeded                          exited 0
 *   Failed, container exit code != 0   exited with that code (user)
 *   Failed, DeadlineExceeded           timeout (user)
 *   OOMKilled, Evicted, node lost,
 *   image pull failures, unschedulable
 *   longer than k8s.unschedulable_s,
 *   the pod deleted by someone else    infra (the task runs again as
 *                                      its next attempt, a new pod)
 *
 * Pods that ended stay until their task's result is committed
 * (runner_release, after k8s.pod_ttl_s): deleting one earlier would
 * let a redelivered task create it again and run that attempt twice.
 * Pods that never ran (unschedulable, image pull) are deleted at once.
 * Finished pods no job of this gateway claims for k8s.orphan_ttl_s are
 * swept (a crash between commit and delete).
 *
 * The informer refusing to list or watch (403: a Role without the
 * permission) stops the gateway with the API server's own message,
 * which names the verb and resource.
 */
#include "config.h"
#include "gateway.h"
#include "k8s.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/event.h>
#include <openssl/evp.h>

enum kjob_state { KJOB_WAIT_SYNC, KJOB_CREATING, KJOB_ACTIVE, KJOB_STOPPING, KJOB_DONE };

struct runner_k8s_job {
	struct runner_job gen;		/* first: the generic handle */
	struct runner_k8s *r;
	char *pod;
	char *task_id;
	int attempt;
	char *json;			/* the pod to create */
	long timeout_s;
	enum kjob_state state;
	int started;
	struct runner_outcome end;	/* STOPPING: what to report once the pod goes */
	char *end_msg;
	struct k8s_req *req;
	struct event *deadline;
	struct event *unsched;
	runner_started_cb *started_cb;
	runner_done_cb *done_cb;
	void *arg;
	LIST_ENTRY(runner_k8s_job) entry;
};
LIST_HEAD(runner_k8s_job_list, runner_k8s_job);

struct runner_k8s {
	struct runner gen;		/* first: the generic handle */
	struct event_base *base;
	const struct config *conf;
	runner_fatal_cb *fatal_cb;
	void *fatal_arg;
	struct k8s_client *client;
	struct k8s_informer *inf;
	char *ns;
	char *prefix;			/* of pod names */
	char *managed_by;
	char *template;
	char *template_path;
	char **images;			/* "game=image" pairs */
	size_t nimages;
	char *default_image;
	char **allowed;			/* k8s.param_annotations prefixes */
	size_t nallowed;
	char *tasks_topic;
	long unsched_s, pod_ttl_s, orphan_ttl_s, grace_s, slack_s;
	struct runner_k8s_job_list jobs;
	size_t njobs;
	uint64_t created, adopted, api_errors;	/* for /metrics */
	struct event *sweep;
	struct runner_k8s_orphan {
		char *pod;
		int64_t seen;	/* monotonic ms */
	} *orphans;
	size_t norphans;
	LIST_HEAD(, runner_k8s_reap) reaps;
};

static const struct runner_ops runner_k8s_ops;
static void runner_k8s_job_create(struct runner_k8s_job *);
static char *runner_k8s_label_value(const char *);

/* ---- names and the pod ---- */

static void
runner_k8s_hash8(const char *s, char out[9])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	int i;

	EVP_Digest(s, strlen(s), md, &n, EVP_sha256(), NULL);
	for (i = 0; i < 4; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static int
runner_k8s_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/*
 * A DNS-1123 pod name from a task id and attempt: lower case, '.' and
 * '_' as '-'; when that changed the id, a hash of the original keeps
 * "Task.A" and "task-a" apart.
 */
char *
runner_k8s_pod_name(const char *prefix, const char *task_id, int attempt)
{
	char *s = xstrdup(task_id), *name, h[9];
	int changed = 0;
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		char c = s[i];
		if (c >= 'A' && c <= 'Z')
			s[i] = (char)(c - 'A' + 'a');
		else if (c == '.' || c == '_')
			s[i] = '-';
		changed |= s[i] != c;
	}
	if (changed) {
		runner_k8s_hash8(task_id, h);
		xasprintf(&name, "%s-%s-%s-%d", prefix, s, h, attempt);
	} else
		xasprintf(&name, "%s-%s-%d", prefix, s, attempt);
	free(s);
	return name;
}

/* A label value: the id when it is one (alnum at both ends), else a hash. */
static char *
runner_k8s_label_value(const char *id)
{
	size_t n = strlen(id);
	char *s, h[9];

	if (n > 0 && n <= 63 && runner_k8s_alnum(id[0]) && runner_k8s_alnum(id[n - 1]))
		return xstrdup(id);
	runner_k8s_hash8(id, h);
	xasprintf(&s, "h-%s", h);
	return s;
}

/*
 * Annotations a task may ask for through params.pod_annotations, only
 * under the prefixes k8s.param_annotations allows (tests steer kwok's
 * fake pods this way; by default nothing is allowed).
 */
static void
runner_k8s_param_annotations(const struct runner_k8s *r, cJSON *pod, const char *params)
{
	cJSON *p, *want, *a, *meta, *ann;
	size_t i;

	if (r->nallowed == 0 || (p = cJSON_Parse(params)) == NULL)
		return;
	want = cJSON_GetObjectItemCaseSensitive(p, "pod_annotations");
	meta = cJSON_GetObjectItemCaseSensitive(pod, "metadata");
	if (cJSON_IsObject(want) && cJSON_IsObject(meta)) {
		if ((ann = cJSON_GetObjectItemCaseSensitive(meta, "annotations")) == NULL)
			ann = cJSON_AddObjectToObject(meta, "annotations");
		cJSON_ArrayForEach(a, want) {
			if (!cJSON_IsString(a))
				continue;
			for (i = 0; i < r->nallowed; i++)
				if (strncmp(a->string, r->allowed[i], strlen(r->allowed[i])) == 0)
					break;
			if (i == r->nallowed) {
				log_warn("pod annotation from params not allowed (k8s.param_annotations)",
				    "annotation=%s", log_q(a->string));
				continue;
			}
			cJSON_DeleteItemFromObjectCaseSensitive(ann, a->string);
			cJSON_AddStringToObject(ann, a->string, a->valuestring);
		}
	}
	cJSON_Delete(p);
}

static const char *
runner_k8s_image(const struct runner_k8s *r, const char *game)
{
	size_t i, n = strlen(game);

	for (i = 0; i < r->nimages; i++)
		if (strncmp(r->images[i], game, n) == 0 && r->images[i][n] == '=')
			return r->images[i] + n + 1;
	return r->default_image;
}

/* ---- ending a job ---- */

static struct runner_k8s_job *
runner_k8s_job_find(struct runner_k8s *r, const char *pod)
{
	struct runner_k8s_job *j;

	LIST_FOREACH(j, &r->jobs, entry)
		if (strcmp(j->pod, pod) == 0)
			return j;
	return NULL;
}

static void
runner_k8s_job_free(struct runner_k8s_job *j)
{
	if (j->req != NULL)
		k8s_req_cancel(j->req);
	if (j->deadline != NULL)
		event_free(j->deadline);
	if (j->unsched != NULL)
		event_free(j->unsched);
	LIST_REMOVE(j, entry);
	j->r->njobs--;
	free(j->pod);
	free(j->task_id);
	free(j->json);
	free(j->end_msg);
	free(j);
}

static void
runner_k8s_job_end(struct runner_k8s_job *j, enum runner_end end, int code, const char *msg)
{
	struct runner_outcome o;

	memset(&o, 0, sizeof o);
	o.end = end;
	o.exit_code = code;
	o.message = msg;
	log_info("game pod ended", "task=%s attempt=%d pod=%s end=%d exit_code=%d message=%s",
	    log_q(j->task_id), j->attempt, log_q(j->pod), (int)end, code,
	    log_q(msg != NULL ? msg : ""));
	j->state = KJOB_DONE;
	j->done_cb(&j->gen, &o, j->arg);
	runner_k8s_job_free(j);
}

static void
runner_k8s_delete_done(const struct k8s_response *resp, void *arg)
{
	struct runner_k8s_job *j = arg;

	j->req = NULL;
	if (resp->error != K8S_OK && resp->error != K8S_ERR_NOT_FOUND) {
		j->r->api_errors++;
		log_warn("cannot delete a game pod", "pod=%s error=%s", log_q(j->pod),
		    log_q(resp->status.message));
	}
	/* Gone or going: report what stopped it. */
	runner_k8s_job_end(j, j->end.end, j->end.exit_code, j->end_msg);
}

/* Stop the pod, then report end (cancel, our deadline, infra before it ran). */
static void
runner_k8s_job_stop(struct runner_k8s_job *j, enum runner_end end, const char *msg)
{
	if (j->state == KJOB_STOPPING || j->state == KJOB_DONE)
		return;
	j->end.end = end;
	free(j->end_msg);
	j->end_msg = msg != NULL ? xstrdup(msg) : NULL;
	if (j->req != NULL) {
		k8s_req_cancel(j->req);
		j->req = NULL;
	}
	if (j->state == KJOB_WAIT_SYNC) {
		runner_k8s_job_end(j, end, 0, msg);
		return;
	}
	j->state = KJOB_STOPPING;
	j->req = k8s_pod_delete(j->r->client, j->r->ns, j->pod, j->r->grace_s, runner_k8s_delete_done, j);
}

/* ---- what a pod's state means ---- */

static int
runner_k8s_infra_waiting(const char *reason)
{
	static const char *const reasons[] = {
		"ImagePullBackOff", "ErrImagePull", "InvalidImageName", "ErrImageNeverPull",
		"CreateContainerConfigError", "CreateContainerError", "RunContainerError", NULL
	};
	size_t i;

	for (i = 0; reason != NULL && reasons[i] != NULL; i++)
		if (strcmp(reason, reasons[i]) == 0)
			return 1;
	return 0;
}

static void
runner_k8s_unsched_cb(evutil_socket_t fd, short what, void *arg)
{
	struct runner_k8s_job *j = arg;
	const struct k8s_pod *pod = (const struct k8s_pod *)k8s_informer_get(j->r->inf, j->r->ns,
	    j->pod);
	char *msg;

	xasprintf(&msg, "pod %s unschedulable for %ld s: %s", j->pod, j->r->unsched_s,
	    pod != NULL && pod->scheduled_message != NULL ? pod->scheduled_message : "no node fits");
	runner_k8s_job_stop(j, RUNNER_INFRA, msg);
	free(msg);
}

static void
runner_k8s_job_eval(struct runner_k8s_job *j, const struct k8s_pod *pod)
{
	const struct k8s_container_state *c = pod->ncontainers > 0 ? &pod->containers[0] : NULL;
	const char *phase = pod->phase != NULL ? pod->phase : "Pending";
	char *msg = NULL;
	struct timeval tv;
	size_t i;

	if (j->state != KJOB_ACTIVE)
		return;
	if (strcmp(phase, "Pending") != 0 && j->unsched != NULL && evtimer_pending(j->unsched, NULL))
		evtimer_del(j->unsched);
	if (strcmp(phase, "Running") == 0 && !j->started) {
		j->started = 1;
		log_info("game pod running", "task=%s attempt=%d pod=%s node=%s", log_q(j->task_id),
		    j->attempt, log_q(j->pod), log_q(pod->node_name != NULL ? pod->node_name : "-"));
		j->started_cb(&j->gen, j->arg);
		return;
	}
	if (strcmp(phase, "Succeeded") == 0) {
		if (!j->started) {
			j->started = 1;
			j->started_cb(&j->gen, j->arg);
		}
		runner_k8s_job_end(j, RUNNER_EXITED, 0, NULL);
		return;
	}
	if (strcmp(phase, "Failed") == 0 || strcmp(phase, "Unknown") == 0) {
		if (!j->started) {
			j->started = 1;
			j->started_cb(&j->gen, j->arg);
		}
		if (pod->reason != NULL && strcmp(pod->reason, "DeadlineExceeded") == 0) {
			runner_k8s_job_end(j, RUNNER_TIMEOUT, 0, NULL);
			return;
		}
		for (i = 0; i < pod->ncontainers; i++)
			if (pod->containers[i].terminated && pod->containers[i].terminated_reason != NULL &&
			    strcmp(pod->containers[i].terminated_reason, "OOMKilled") == 0) {
				xasprintf(&msg, "pod %s: container %s OOMKilled", j->pod,
				    pod->containers[i].name);
				runner_k8s_job_end(j, RUNNER_INFRA, 0, msg);
				free(msg);
				return;
			}
		if (strcmp(phase, "Failed") == 0 && pod->reason == NULL && c != NULL && c->terminated &&
		    c->exit_code != 0) {
			runner_k8s_job_end(j, RUNNER_EXITED, c->exit_code, NULL);
			return;
		}
		xasprintf(&msg, "pod %s %s: %s%s%s", j->pod, phase,
		    pod->reason != NULL ? pod->reason : "no reason given",
		    pod->message != NULL ? ": " : "", pod->message != NULL ? pod->message : "");
		runner_k8s_job_end(j, RUNNER_INFRA, 0, msg);
		free(msg);
		return;
	}
	/* Pending. */
	for (i = 0; i < pod->ncontainers; i++)
		if (runner_k8s_infra_waiting(pod->containers[i].waiting_reason)) {
			xasprintf(&msg, "pod %s: container %s %s: %s", j->pod, pod->containers[i].name,
			    pod->containers[i].waiting_reason, pod->containers[i].waiting_message != NULL ?
			    pod->containers[i].waiting_message : "");
			runner_k8s_job_stop(j, RUNNER_INFRA, msg);
			free(msg);
			return;
		}
	if (pod->scheduled_status != NULL && strcmp(pod->scheduled_status, "False") == 0 &&
	    (j->unsched == NULL || !evtimer_pending(j->unsched, NULL))) {
		log_warn("game pod unschedulable",
		    "task=%s attempt=%d pod=%s message=%s gives_up_after_s=%ld", log_q(j->task_id),
		    j->attempt, log_q(j->pod), log_q(pod->scheduled_message != NULL ?
		    pod->scheduled_message : ""), j->r->unsched_s);
		if (j->unsched == NULL)
			j->unsched = evtimer_new(j->r->base, runner_k8s_unsched_cb, j);
		tv.tv_sec = j->r->unsched_s;
		tv.tv_usec = 0;
		evtimer_add(j->unsched, &tv);
	}
}

/* ---- pods as the console sees them ---- */

/* A pod as POD (strings borrowed from pod and sum, which the caller keeps). */
static void
runner_k8s_pod_view(struct runner_k8s *r, const struct k8s_pod *pod, struct k8s_pod_summary *sum,
    struct proto_pod_view *v)
{
	const struct runner_k8s_job *j = runner_k8s_job_find(r, pod->meta.name);
	const char *a = k8s_pod_label(pod, "paia.io/attempt");
	long long attempt;
	size_t i;

	k8s_pod_summarize(pod, sum);
	memset(v, 0, sizeof *v);
	v->name = pod->meta.name;
	v->namespace = pod->meta.namespace;
	/* The label holds a hash for ids that are no label value; the job knows. */
	v->task_id = j != NULL ? j->task_id : k8s_pod_label(pod, "paia.io/task-id");
	if (a != NULL && util_parse_int(a, 1, INT32_MAX, &attempt) == 0)
		v->attempt = (int)attempt;
	v->phase = pod->phase;
	v->status = sum->status;
	v->ready = sum->ready;
	v->total = sum->total;
	v->restarts = sum->restarts;
	v->node = pod->node_name;
	if (util_time_parse(pod->created, &v->created_ms) != 0)
		v->created_ms = 0;
	if (util_time_parse(pod->start_time, &v->started_ms) != 0)
		v->started_ms = 0;
	v->deleting = pod->meta.deletion_timestamp != NULL;
	v->message = pod->message;
	for (i = 0; v->message == NULL && i < pod->ncontainers; i++)
		v->message = pod->containers[i].waiting_message;
	if (v->message == NULL && pod->scheduled_status != NULL &&
	    strcmp(pod->scheduled_status, "False") == 0)
		v->message = pod->scheduled_message;
}

/*
 * A pod changed: tell the console. Not while the informer applies a
 * (re)list: that is every pod at once (10,000: 2.7 MB of events queued to
 * each subscriber in one turn, over the control socket's cap, which drops
 * them); synced tells "listed afresh" once instead (runner_k8s_on_synced).
 */
static void
runner_k8s_pod_publish(struct runner_k8s *r, const struct k8s_object *o, int deleted)
{
	struct k8s_pod_summary sum;
	struct proto_pod_view v;

	if (r->gen.pod_cb == NULL || k8s_informer_listing(r->inf))
		return;
	runner_k8s_pod_view(r, (const struct k8s_pod *)o, &sum, &v);
	v.deleted = deleted;
	r->gen.pod_cb(&v, r->gen.pod_arg);
}

struct runner_k8s_podlist {
	struct runner_k8s *r;
	struct proto_pod_view *v;
	struct k8s_pod_summary *sum;
	size_t n;
};

static void
runner_k8s_pods_one(const struct k8s_object *o, void *arg)
{
	struct runner_k8s_podlist *p = arg;

	runner_k8s_pod_view(p->r, (const struct k8s_pod *)o, &p->sum[p->n], &p->v[p->n]);
	p->n++;
}

static int
runner_k8s_pod_cmp(const void *a, const void *b)
{
	const struct proto_pod_view *x = a, *y = b;

	if (x->created_ms != y->created_ms)
		return x->created_ms < y->created_ms ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Oldest first; one block: the views, then the summaries their statuses live in. */
static size_t
runner_k8s_pods(struct runner *rr, struct proto_pod_view **out, const char **ns, int *synced)
{
	struct runner_k8s *r = (struct runner_k8s *)rr;
	size_t n = k8s_informer_count(r->inf);
	struct runner_k8s_podlist p;

	p.r = r;
	p.n = 0;
	p.v = xcalloc(n + 1, sizeof *p.v + sizeof *p.sum);
	p.sum = (struct k8s_pod_summary *)(p.v + n + 1);
	k8s_informer_foreach(r->inf, runner_k8s_pods_one, &p);
	qsort(p.v, p.n, sizeof *p.v, runner_k8s_pod_cmp);
	*out = p.v;
	*ns = r->ns;
	*synced = k8s_informer_synced(r->inf);
	return p.n;
}

/* ---- a running game's log: the pod's, streamed ---- */

struct runner_log {
	struct runner_k8s *r;
	struct k8s_req *req;
	const struct runner_log_cbs *cbs;
	void *arg;
};

static int
runner_k8s_log_chunk(const char *data, size_t len, void *arg)
{
	struct runner_log *l = arg;

	return l->cbs->chunk(data, len, l->arg) != 0 ? K8S_CHUNK_PAUSE : 0;
}

static void
runner_k8s_log_done(const struct k8s_response *resp, void *arg)
{
	struct runner_log *l = arg;
	char *error = NULL;

	l->req = NULL;
	if (resp->error != K8S_OK)
		xasprintf(&error, "the pod's log: %s %s", k8s_error_name(resp->error),
		    resp->status.message);
	l->cbs->end(error, l->arg);
	free(error);
	free(l);
}

static struct runner_log *
runner_k8s_log_open(struct runner *rr, const char *task_id, int attempt,
    const struct runner_log_cbs *cbs, void *arg)
{
	struct runner_k8s *r = (struct runner_k8s *)rr;
	char *name = runner_k8s_pod_name(r->prefix, task_id, attempt);
	const struct k8s_pod *pod = (const struct k8s_pod *)k8s_informer_get(r->inf, r->ns, name);
	struct k8s_pod_log_opts lo;
	struct runner_log *l;

	/* Only a running pod has a log to follow; else the task folder's log.txt. */
	if (pod == NULL || pod->phase == NULL || strcmp(pod->phase, "Running") != 0) {
		free(name);
		return NULL;
	}
	l = xcalloc(1, sizeof *l);
	l->r = r;
	l->cbs = cbs;
	l->arg = arg;
	memset(&lo, 0, sizeof lo);
	lo.follow = 1;
	lo.tail_lines = -1;
	l->req = k8s_pod_logs(r->client, r->ns, name, &lo, runner_k8s_log_chunk,
	    runner_k8s_log_done, l);
	free(name);
	return l;
}

static void
runner_k8s_log_resume(struct runner_log *l)
{
	k8s_req_resume(l->req);
}

static void
runner_k8s_log_close(struct runner_log *l)
{
	k8s_req_cancel(l->req);
	free(l);
}

/* ---- informer ---- */

static void
runner_k8s_on_add(const struct k8s_object *o, void *arg)
{
	struct runner_k8s_job *j = runner_k8s_job_find(arg, o->name);

	runner_k8s_pod_publish(arg, o, 0);
	if (j != NULL)
		runner_k8s_job_eval(j, (const struct k8s_pod *)o);
}

static void
runner_k8s_on_update(const struct k8s_object *old, const struct k8s_object *o, void *arg)
{
	runner_k8s_on_add(o, arg);
}

static void
runner_k8s_on_del(const struct k8s_object *o, int final_unknown, void *arg)
{
	struct runner_k8s_job *j = runner_k8s_job_find(arg, o->name);
	char *msg;

	runner_k8s_pod_publish(arg, o, 1);
	if (j == NULL || j->state != KJOB_ACTIVE)
		return;	/* ours to delete (STOPPING) or not ours */
	xasprintf(&msg, "pod %s was deleted before it finished%s", j->pod,
	    final_unknown ? " (seen on a relist)" : "");
	runner_k8s_job_end(j, RUNNER_INFRA, 0, msg);
	free(msg);
}


static void
runner_k8s_on_synced(void *arg)
{
	struct runner_k8s *r = arg;
	struct runner_k8s_job *j, *next;

	/* The list's changes were not published one by one (runner_k8s_pod_publish). */
	if (r->gen.pods_cb != NULL)
		r->gen.pods_cb(k8s_informer_count(r->inf), r->gen.pod_arg);
	for (j = LIST_FIRST(&r->jobs); j != NULL; j = next) {
		next = LIST_NEXT(j, entry);
		if (j->state == KJOB_WAIT_SYNC)
			runner_k8s_job_create(j);
	}
}

static void
runner_k8s_on_fatal(const char *verb, const struct k8s_status *st, void *arg)
{
	struct runner_k8s *r = arg;
	char *why;

	log_error("the Kubernetes API refuses the gateway; it needs its Role (deploy/rbac) to "
	    "allow this", "verb=%s code=%d reason=%s message=%s", log_q(verb), st->code,
	    log_q(st->reason), log_q(st->message));
	xasprintf(&why, "Kubernetes refuses to %s pods: %s", verb, st->message != NULL ?
	    st->message : "(no message)");
	r->fatal_cb(why, r->fatal_arg);
	free(why);
}

/* ---- jobs ---- */

/* A pod of our name that the informer does not show: ours (just made by another instance) or not? */
static void
runner_k8s_exists_done(const struct k8s_response *resp, void *arg)
{
	struct runner_k8s_job *j = arg;
	struct k8s_pod *pod = NULL;
	const struct k8s_object *o;
	const char *mb = NULL, *tid = NULL;
	char *cause = NULL, *msg;
	char *label = runner_k8s_label_value(j->task_id);

	j->req = NULL;
	if (resp->error == K8S_OK &&
	    (pod = k8s_pod_extract(resp->body, resp->body_len, NULL, &cause)) != NULL) {
		mb = k8s_pod_label(pod, "paia.io/managed-by");
		tid = k8s_pod_label(pod, "paia.io/task-id");
	}
	if (resp->error == K8S_ERR_NOT_FOUND) {
		/* Gone since: create it again. */
		free(label);
		runner_k8s_job_create(j);
		return;
	}
	if (pod != NULL && mb != NULL && strcmp(mb, j->r->managed_by) == 0 && tid != NULL &&
	    strcmp(tid, label) == 0) {
		log_info("game pod exists: adopted", "task=%s attempt=%d pod=%s", log_q(j->task_id),
		    j->attempt, log_q(j->pod));
		j->r->adopted++;
		j->state = KJOB_ACTIVE;
		if ((o = k8s_informer_get(j->r->inf, j->r->ns, j->pod)) != NULL)
			runner_k8s_job_eval(j, (const struct k8s_pod *)o);
		else
			runner_k8s_job_eval(j, pod);
	} else {
		if (pod != NULL)
			xasprintf(&msg, "pod %s already exists and is not this task's (paia.io/managed-by=%s, "
			    "paia.io/task-id=%s; this gateway is %s): set k8s.pod_name_prefix apart",
			    j->pod, mb != NULL ? mb : "none", tid != NULL ? tid : "none", j->r->managed_by);
		else
			xasprintf(&msg, "pod %s already exists and cannot be read: %s", j->pod,
			    cause != NULL ? cause : resp->status.message);
		runner_k8s_job_end(j, RUNNER_INFRA, 0, msg);
		free(msg);
	}
	free(cause);
	free(label);
	k8s_pod_free(pod);
}

static void
runner_k8s_create_done(const struct k8s_response *resp, void *arg)
{
	struct runner_k8s_job *j = arg;
	const struct k8s_object *o;
	char *msg;

	j->req = NULL;
	if (resp->error == K8S_ERR_EXISTS &&
	    k8s_informer_get(j->r->inf, j->r->ns, j->pod) == NULL) {
		j->req = k8s_pod_get(j->r->client, j->r->ns, j->pod, runner_k8s_exists_done, j);
		return;
	}
	if (resp->error == K8S_OK || resp->error == K8S_ERR_EXISTS) {
		if (resp->error == K8S_ERR_EXISTS) {
			log_info("game pod exists: adopted", "task=%s attempt=%d pod=%s",
			    log_q(j->task_id), j->attempt, log_q(j->pod));
			j->r->adopted++;
		} else {
			log_info("game pod created", "task=%s attempt=%d pod=%s", log_q(j->task_id),
			    j->attempt, log_q(j->pod));
			j->r->created++;
		}
		j->state = KJOB_ACTIVE;
		if ((o = k8s_informer_get(j->r->inf, j->r->ns, j->pod)) != NULL)
			runner_k8s_job_eval(j, (const struct k8s_pod *)o);
		return;
	}
	j->r->api_errors++;
	xasprintf(&msg, "creating pod %s in namespace %s: %s %s", j->pod, j->r->ns,
	    k8s_error_name(resp->error), resp->status.message);
	if (resp->error == K8S_ERR_FORBIDDEN)
		log_error("the gateway may not create pods: check its Role", "error=%s", log_q(msg));
	/*
	 * 400/422: the pod itself is refused (the admission policy, a
	 * template the API server rejects): it would be at every attempt.
	 */
	runner_k8s_job_end(j, resp->error == K8S_ERR_INVALID ? RUNNER_INVALID : RUNNER_INFRA, 0,
	    msg);
	free(msg);
}

static void
runner_k8s_job_create(struct runner_k8s_job *j)
{
	j->state = KJOB_CREATING;
	j->req = k8s_pod_create(j->r->client, j->r->ns, j->json, runner_k8s_create_done, j);
}

static void
runner_k8s_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct runner_k8s_job *j = arg;

	/* activeDeadlineSeconds did not end it (no kubelet acted, a node lost): we do. */
	if (j->state == KJOB_ACTIVE)
		runner_k8s_job_stop(j, RUNNER_TIMEOUT, NULL);
	else if (j->state == KJOB_WAIT_SYNC || j->state == KJOB_CREATING)
		runner_k8s_job_stop(j, RUNNER_INFRA, "no pod by the task's deadline: the Kubernetes API "
		    "did not answer (see the k8s runner's warnings)");
}

static struct runner_job *
runner_k8s_start(struct runner *rr, const struct runner_req *req, runner_started_cb *started,
    runner_done_cb *done, void *arg)
{
	struct runner_k8s *r = (struct runner_k8s *)rr;
	struct runner_k8s_job *j = xcalloc(1, sizeof *j);
	char attempt[16], deadline[32], partition[16], offset[32], gpus[16], *label, *cause = NULL;
	struct timeval tv;
	const char *image = runner_k8s_image(r, req->game);
	struct runner_outcome o;
	cJSON *pod;
	char *text = NULL;

	j->gen.ops = &runner_k8s_ops;
	j->r = r;
	j->task_id = xstrdup(req->task_id);
	j->attempt = req->attempt;
	j->pod = runner_k8s_pod_name(r->prefix, req->task_id, req->attempt);
	j->timeout_s = req->timeout_s;
	j->started_cb = started;
	j->done_cb = done;
	j->arg = arg;
	LIST_INSERT_HEAD(&r->jobs, j, entry);
	r->njobs++;
	snprintf(attempt, sizeof attempt, "%d", req->attempt);
	snprintf(deadline, sizeof deadline, "%ld", req->timeout_s);
	snprintf(partition, sizeof partition, "%d", (int)req->partition);
	snprintf(offset, sizeof offset, "%" PRId64, req->offset);
	snprintf(gpus, sizeof gpus, "%d", req->gpu > 0 ? req->gpu : 1);
	label = runner_k8s_label_value(req->task_id);
	if (image == NULL || *image == '\0')
		xasprintf(&cause, "no image for game '%s' (k8s.images, k8s.default_image)", req->game);
	else {
		const char *vars[] = {
			"POD_NAME", j->pod, "TASK_ID", req->task_id, "TASK_LABEL", label,
			"ATTEMPT", attempt, "GATEWAY_ID", r->managed_by, "GAME", req->game,
			"KAFKA_TOPIC", r->tasks_topic, "KAFKA_PARTITION", partition,
			"KAFKA_OFFSET", offset, "DEADLINE_S", deadline, "IMAGE", image,
			"ENTRY", req->entry, "PARAMS", req->params, "GPUS", gpus,
			"NAMESPACE", r->ns, NULL
		};
		if ((text = k8s_pod_build(r->template, r->template_path, vars, &cause)) != NULL &&
		    (pod = cJSON_Parse(text)) != NULL) {
			runner_k8s_param_annotations(r, pod, req->params);
			j->json = cJSON_PrintUnformatted(pod);
			cJSON_Delete(pod);
		}
		free(text);
	}
	free(label);
	if (j->json == NULL) {
		memset(&o, 0, sizeof o);
		o.end = RUNNER_INFRA;
		o.message = cause;
		log_error("cannot build the game pod", "task=%s attempt=%d error=%s",
		    log_q(req->task_id), req->attempt, log_q(cause));
		done(&j->gen, &o, arg);
		runner_k8s_job_free(j);
		free(cause);
		return NULL;
	}
	/* Our own deadline, a little after the pod's activeDeadlineSeconds. */
	j->deadline = evtimer_new(r->base, runner_k8s_deadline_cb, j);
	tv.tv_sec = req->timeout_s + r->slack_s;
	tv.tv_usec = 0;
	evtimer_add(j->deadline, &tv);
	if (k8s_informer_synced(r->inf))
		runner_k8s_job_create(j);
	else
		j->state = KJOB_WAIT_SYNC;	/* adoption needs the cache first */
	return &j->gen;
}

static void
runner_k8s_cancel(struct runner_job *jj)
{
	runner_k8s_job_stop((struct runner_k8s_job *)jj, RUNNER_CANCELLED, NULL);
}

static void
runner_k8s_abandon(struct runner_job *jj)
{
	struct runner_k8s_job *j = (struct runner_k8s_job *)jj;

	/* The pod stays: whoever gets the task next adopts it. */
	log_info("game pod left to the next owner", "task=%s attempt=%d pod=%s", log_q(j->task_id),
	    j->attempt, log_q(j->pod));
	runner_k8s_job_free(j);
}

static size_t
runner_k8s_active(const struct runner *r)
{
	return ((const struct runner_k8s *)r)->njobs;
}

/* ---- deleting finished pods ---- */

/* A finished pod to delete: waiting for its TTL (ev), then its DELETE (req). */
struct runner_k8s_reap {
	struct runner_k8s *r;
	char *pod;
	struct event *ev;
	struct k8s_req *req;
	LIST_ENTRY(runner_k8s_reap) entry;
};

static void
runner_k8s_reap_free(struct runner_k8s_reap *rp)
{
	if (rp->ev != NULL)
		event_free(rp->ev);
	if (rp->req != NULL)
		k8s_req_cancel(rp->req);
	LIST_REMOVE(rp, entry);
	free(rp->pod);
	free(rp);
}

static void
runner_k8s_reap_done(const struct k8s_response *resp, void *arg)
{
	struct runner_k8s_reap *rp = arg;

	rp->req = NULL;
	if (resp->error != K8S_OK && resp->error != K8S_ERR_NOT_FOUND) {
		rp->r->api_errors++;
		log_warn("cannot delete a finished game pod", "pod=%s error=%s", log_q(rp->pod),
		    log_q(resp->status.message));
	} else
		log_debug("finished game pod deleted", "pod=%s", log_q(rp->pod));
	runner_k8s_reap_free(rp);
}

static void
runner_k8s_reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct runner_k8s_reap *rp = arg;

	event_free(rp->ev);
	rp->ev = NULL;
	rp->req = k8s_pod_delete(rp->r->client, rp->r->ns, rp->pod, 0, runner_k8s_reap_done, rp);
}

static void
runner_k8s_reap_later(struct runner_k8s *r, const char *pod, long after_s)
{
	struct runner_k8s_reap *rp = xcalloc(1, sizeof *rp);
	struct timeval tv = { after_s, 0 };

	rp->r = r;
	rp->pod = xstrdup(pod);
	LIST_INSERT_HEAD(&r->reaps, rp, entry);
	rp->ev = evtimer_new(r->base, runner_k8s_reap_cb, rp);
	evtimer_add(rp->ev, &tv);
}

/* The task's result is committed: its pods may go. */
static void
runner_k8s_release(struct runner *rr, const char *task_id, int first, int last)
{
	struct runner_k8s *r = (struct runner_k8s *)rr;
	char *pod;
	int a;

	for (a = first; a <= last; a++) {
		pod = runner_k8s_pod_name(r->prefix, task_id, a);
		if (k8s_informer_get(r->inf, r->ns, pod) != NULL && runner_k8s_job_find(r, pod) == NULL)
			runner_k8s_reap_later(r, pod, r->pod_ttl_s);
		free(pod);
	}
}

/*
 * Finished pods no job claims, with when this gateway first saw them so:
 * a sweep deletes those seen for orphan_ttl_s (there is no finish time
 * in the cached pod, and clocks differ anyway).
 */
struct runner_k8s_sweep {
	struct runner_k8s *r;
	int64_t now;
	struct runner_k8s_orphan *next;	/* this sweep's list */
	size_t nnext;
};

static void
runner_k8s_sweep_one(const struct k8s_object *o, void *arg)
{
	struct runner_k8s_sweep *sw = arg;
	const struct k8s_pod *p = (const struct k8s_pod *)o;
	int64_t seen = sw->now;
	size_t i;

	if (p->phase == NULL || (strcmp(p->phase, "Succeeded") != 0 && strcmp(p->phase, "Failed") != 0))
		return;
	if (o->deletion_timestamp != NULL || runner_k8s_job_find(sw->r, o->name) != NULL)
		return;
	for (i = 0; i < sw->r->norphans; i++)
		if (strcmp(sw->r->orphans[i].pod, o->name) == 0)
			seen = sw->r->orphans[i].seen;
	sw->next = xreallocarray(sw->next, sw->nnext + 1, sizeof *sw->next);
	sw->next[sw->nnext].pod = xstrdup(o->name);
	sw->next[sw->nnext++].seen = seen;
}

static void
runner_k8s_sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	struct runner_k8s *r = arg;
	struct runner_k8s_sweep sw = { r, util_mono_ms(), NULL, 0 };
	size_t i, keep = 0;

	if (!k8s_informer_synced(r->inf))
		return;
	k8s_informer_foreach(r->inf, runner_k8s_sweep_one, &sw);
	for (i = 0; i < r->norphans; i++)
		free(r->orphans[i].pod);
	free(r->orphans);
	for (i = 0; i < sw.nnext; i++) {
		if (sw.now - sw.next[i].seen < r->orphan_ttl_s * 1000) {
			sw.next[keep++] = sw.next[i];
			continue;
		}
		log_info("deleting a finished game pod no task claims", "pod=%s orphan_ttl_s=%ld",
		    log_q(sw.next[i].pod), r->orphan_ttl_s);
		runner_k8s_reap_later(r, sw.next[i].pod, 0);
		free(sw.next[i].pod);
	}
	r->orphans = sw.next;
	r->norphans = keep;
}

/* ---- pods by UID (the GPU prober's processes name their pod so) ---- */

struct runner_k8s_uid_find {
	const char *uid;
	const struct k8s_pod *pod;
};

static void
runner_k8s_uid_one(const struct k8s_object *o, void *arg)
{
	struct runner_k8s_uid_find *f = arg;

	if (f->pod == NULL && o->uid != NULL && strcmp(o->uid, f->uid) == 0)
		f->pod = (const struct k8s_pod *)o;
}

/*
 * A walk of the cache: it holds this gateway's game pods only (a few
 * hundred at most), and a GPU round asks once per pod UID it saw.
 */
static int
runner_k8s_pod_by_uid(struct runner *rr, const char *uid, struct runner_pod_ref *ref)
{
	struct runner_k8s *r = (struct runner_k8s *)rr;
	struct runner_k8s_uid_find f = { uid, NULL };
	const struct runner_k8s_job *j;
	const char *attempt;
	long long a;

	k8s_informer_foreach(r->inf, runner_k8s_uid_one, &f);
	if (f.pod == NULL)
		return -1;
	memset(ref, 0, sizeof *ref);
	ref->namespace = f.pod->meta.namespace;
	ref->pod = f.pod->meta.name;
	ref->container = f.pod->ncontainers == 1 ? f.pod->containers[0].name : NULL;
	/* The job knows the task id as it is; the label may be its hash. */
	j = runner_k8s_job_find(r, f.pod->meta.name);
	ref->task_id = j != NULL ? j->task_id : k8s_pod_label(f.pod, "paia.io/task-id");
	attempt = k8s_pod_label(f.pod, "paia.io/attempt");
	if (attempt != NULL && util_parse_int(attempt, 1, INT32_MAX, &a) == 0)
		ref->attempt = (int)a;
	return 0;
}

/* ---- set-up ---- */

static void runner_k8s_free(struct runner *);

/* The counts of /metrics: the jobs' pods now, the client's and informer's totals. */
static void
runner_k8s_stats(struct runner *rr, struct runner_stats *st)
{
	struct runner_k8s *r = (struct runner_k8s *)rr;
	const struct runner_k8s_job *j;
	struct k8s_client_stats cs;
	struct k8s_informer_stats is;

	st->pods = 1;
	LIST_FOREACH(j, &r->jobs, entry) {
		if (j->state != KJOB_ACTIVE)
			continue;
		if (j->started)
			st->running++;
		else {
			st->pending++;
			if (j->unsched != NULL && evtimer_pending(j->unsched, NULL))
				st->unschedulable++;
		}
	}
	st->created = r->created;
	st->adopted = r->adopted;
	k8s_client_stats(r->client, &cs);
	k8s_informer_stats(r->inf, &is);
	st->api_requests = cs.requests;
	st->api_retries = cs.retries;
	st->api_errors = r->api_errors + is.errors;
	st->watch_restarts = is.watches > 0 ? is.watches - 1 : 0;
	st->relists = is.relists;
}

static const struct runner_ops runner_k8s_ops = {
	"k8s", runner_k8s_start, runner_k8s_cancel, runner_k8s_abandon, NULL, runner_k8s_active,
	runner_k8s_free, 0, runner_k8s_release, runner_k8s_pods, runner_k8s_log_open,
	runner_k8s_log_resume, runner_k8s_log_close,
	runner_k8s_pod_by_uid, runner_k8s_stats,
};

static char *
runner_k8s_find_template(const struct config *conf)
{
	const char *t = config_get(conf, "k8s", "pod_template");

	if (*t != '\0')
		return xstrdup(t);
	return bundle_find("game-pod.json", PAIA_PKGDATADIR);
}

struct runner *
runner_k8s_new(struct event_base *base, struct evcurl *ec, const struct config *conf,
    runner_fatal_cb *fatal_cb, void *fatal_arg, char **cause)
{
	struct runner_k8s *r;
	struct k8s_config *kc;
	struct k8s_client_opts copts;
	struct k8s_informer_opts iopts;
	static const char *const keep[] = { "paia.io/", NULL };
	static struct k8s_pod_filter filter = { keep };
	const char *kubeconfig = config_get(conf, "k8s", "kubeconfig");
	const char *context = config_get(conf, "k8s", "context");
	char *selector, *tok, *save = NULL, *list, *path;
	struct timeval tv = { 60, 0 };

	if ((path = runner_k8s_find_template(conf)) == NULL) {
		xasprintf(cause, "k8s.pod_template is not set and game-pod.json is not installed");
		return NULL;
	}
	r = xcalloc(1, sizeof *r);
	r->gen.ops = &runner_k8s_ops;
	r->template_path = path;
	if ((r->template = util_read_file(path, 1024 * 1024, NULL, cause)) == NULL) {
		free(path);
		free(r);
		return NULL;
	}
	kc = k8s_config_load(*kubeconfig != '\0' ? kubeconfig : NULL, *context != '\0' ? context : NULL,
	    config_get_bool(conf, "k8s", "allow_insecure") ? K8S_CONFIG_ALLOW_INSECURE : 0, cause);
	if (kc == NULL) {
		free(r->template);
		free(path);
		free(r);
		return NULL;
	}
	r->base = base;
	r->conf = conf;
	r->fatal_cb = fatal_cb;
	r->fatal_arg = fatal_arg;
	r->ns = xstrdup(*config_get(conf, "k8s", "namespace") != '\0' ?
	    config_get(conf, "k8s", "namespace") : k8s_config_namespace(kc));
	r->managed_by = xstrdup(*config_get(conf, "k8s", "managed_by") != '\0' ?
	    config_get(conf, "k8s", "managed_by") : config_get(conf, "kafka", "group.id") != NULL ?
	    config_get(conf, "kafka", "group.id") : "paia-gateway");
	r->tasks_topic = xstrdup(config_get(conf, "gateway", "tasks_topic"));
	r->prefix = xstrdup(config_get(conf, "k8s", "pod_name_prefix"));
	r->default_image = xstrdup(config_get(conf, "k8s", "default_image"));
	list = xstrdup(config_get(conf, "k8s", "images"));
	for (tok = strtok_r(list, ", ", &save); tok != NULL; tok = strtok_r(NULL, ", ", &save)) {
		if (strchr(tok, '=') == NULL) {
			xasprintf(cause, "k8s.images: '%s' is not GAME=IMAGE", tok);
			free(list);
			k8s_config_free(kc);
			r->client = NULL;
			runner_k8s_free(&r->gen);
			return NULL;
		}
		r->images = xreallocarray(r->images, r->nimages + 1, sizeof *r->images);
		r->images[r->nimages++] = xstrdup(tok);
	}
	free(list);
	list = xstrdup(config_get(conf, "k8s", "param_annotations"));
	for (tok = strtok_r(list, ", ", &save); tok != NULL; tok = strtok_r(NULL, ", ", &save)) {
		r->allowed = xreallocarray(r->allowed, r->nallowed + 1, sizeof *r->allowed);
		r->allowed[r->nallowed++] = xstrdup(tok);
	}
	free(list);
	r->unsched_s = config_get_int(conf, "k8s", "unschedulable_s");
	r->pod_ttl_s = config_get_int(conf, "k8s", "pod_ttl_s");
	r->orphan_ttl_s = config_get_int(conf, "k8s", "orphan_ttl_s");
	r->grace_s = config_get_int(conf, "k8s", "delete_grace_s");
	r->slack_s = config_get_int(conf, "k8s", "deadline_slack_s");
	LIST_INIT(&r->jobs);
	LIST_INIT(&r->reaps);

	memset(&copts, 0, sizeof copts);
	copts.qps = (double)config_get_int(conf, "k8s", "qps");
	copts.burst = (int)config_get_int(conf, "k8s", "burst");
	r->client = k8s_client_new(base, ec, kc, &copts);

	memset(&iopts, 0, sizeof iopts);
	xasprintf(&selector, "paia.io/managed-by=%s", r->managed_by);
	iopts.kind = &k8s_pod_kind;
	iopts.kind_arg = &filter;
	iopts.namespace = r->ns;
	iopts.label_selector = selector;
	iopts.h.add = runner_k8s_on_add;
	iopts.h.update = runner_k8s_on_update;
	iopts.h.del = runner_k8s_on_del;
	iopts.h.synced = runner_k8s_on_synced;
	iopts.h.fatal = runner_k8s_on_fatal;
	iopts.arg = r;
	r->inf = k8s_informer_new(r->client, &iopts);
	free(selector);
	k8s_informer_start(r->inf);
	r->sweep = event_new(base, -1, EV_PERSIST, runner_k8s_sweep_cb, r);
	event_add(r->sweep, &tv);
	log_info("k8s runner started", "api=%s namespace=%s managed_by=%s template=%s",
	    log_q(k8s_config_describe(k8s_client_config(r->client))), log_q(r->ns),
	    log_q(r->managed_by), log_q(path));
	return &r->gen;
}

static void
runner_k8s_free(struct runner *rr)
{
	struct runner_k8s *r = (struct runner_k8s *)rr;
	size_t i;

	while (!LIST_EMPTY(&r->jobs))
		runner_k8s_job_free(LIST_FIRST(&r->jobs));
	while (!LIST_EMPTY(&r->reaps))
		runner_k8s_reap_free(LIST_FIRST(&r->reaps));
	if (r->sweep != NULL)
		event_free(r->sweep);
	if (r->inf != NULL)
		k8s_informer_free(r->inf);
	if (r->client != NULL)
		k8s_client_free(r->client);
	for (i = 0; i < r->norphans; i++)
		free(r->orphans[i].pod);
	free(r->orphans);
	for (i = 0; i < r->nimages; i++)
		free(r->images[i]);
	free(r->images);
	for (i = 0; i < r->nallowed; i++)
		free(r->allowed[i]);
	free(r->allowed);
	free(r->default_image);
	free(r->tasks_topic);
	free(r->managed_by);
	free(r->prefix);
	free(r->ns);
	free(r->template);
	free(r->template_path);
	free(r);
}
