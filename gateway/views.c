/*
 * views.c: the gateway as the control socket shows it: TASK and STATUS
 * filled from the loop's state into proto/'s views (proto/ writes the
 * field names), and the control socket's operations over the gateway.
 *
 * Runs in the loop.
 */
#include "config.h"
#include "gateway.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

cJSON *
views_task(const struct task *t)
{
	struct proto_task_view v;
	struct proto_refused refused[TASK_MAX_REFUSED];
	struct proto_task_gpu gpus[TASK_MAX_GPUS];
	const cJSON *score;
	char *log_path, *urls[TASK_MAX_ARTIFACTS];
	size_t i, nurls = 0;
	cJSON *j;

	memset(&v, 0, sizeof v);
	v.task_id = t->spec->task_id;
	v.attempt = t->spec->attempt;
	v.game = t->spec->game;
	v.state = t->state;
	v.has_status = t->state == TASK_DONE || t->state == TASK_FAILED ||
	    t->state == TASK_REPORTING;
	v.status = t->status;
	v.waiting = t->waiting;
	v.pid = t->job != NULL ? runner_job_pid(t->job) : -1;
	v.partition = t->partition;
	v.offset = t->offset;
	for (i = 0; i < TASK_NSTATES; i++)
		v.timeline[i] = t->ts[i];
	task_error_view(t, &v.has_error, &v.eclass, &v.error);
	v.dir = t->dir;
	xasprintf(&log_path, "%s/output/log.txt", t->dir);
	v.log_path = log_path;
	for (i = 0; i < t->narts; i++) {
		if (!t->arts[i].uploaded)
			continue;
		/* Reported as the world may see it: credentials and queries redacted. */
		if (strcmp(t->arts[i].name, "log.txt") == 0)
			v.log_url = urls[nurls++] = log_redact_url(t->arts[i].url);
		else if (strncmp(t->arts[i].content_type, "video/", 6) == 0) {
			v.video_url = urls[nurls++] = log_redact_url(t->arts[i].url);
			v.video_path = t->arts[i].path;
		}
	}
	for (i = 0; i < t->nrefused; i++) {
		refused[i].name = t->refused[i].name;
		refused[i].reason = t->refused[i].reason;
	}
	v.refused = refused;
	v.nrefused = t->nrefused;
	v.gpus = gpus;
	v.ngpus = gpus_task_view(t, gpus, nitems(gpus));
	score = t->game_result != NULL ?
	    cJSON_GetObjectItemCaseSensitive(t->game_result, "score") : NULL;
	v.has_score = cJSON_IsNumber(score);
	v.score = v.has_score ? score->valuedouble : 0;
	v.duration_ms = t->started_ms != 0 && t->finished_ms != 0 ?
	    t->finished_ms - t->started_ms : -1;
	j = proto_task_view_encode(&v);
	free(log_path);
	for (i = 0; i < nurls; i++)
		free(urls[i]);
	return j;
}

cJSON *
views_status(struct gw *gw)
{
	struct proto_status_view v;
	struct proto_partition_view *pv;
	const struct task *t;
	uint64_t committed = 0, aborted = 0;
	int32_t *ids;
	size_t i, n;
	cJSON *s;

	memset(&v, 0, sizeof v);
	v.protocol = PROTO_VERSION;
	v.instance = gw->instance;
	v.version = PACKAGE_VERSION;
	v.pid = getpid();
	v.uptime_s = (util_now_ms() - gw->start_ms) / 1000;
	v.embedded = gw->embedded;
	v.bootstrap_servers = gw->bootstrap;
	v.group_id = gw->group_id;
	v.tasks_topic = gw->tasks_topic;
	v.results_topic = gw->results_topic;
	v.dlq_topic = gw->dlq_topic;
	v.max_inflight = (int64_t)gw->max_inflight;
	v.inflight = (int64_t)task_running_count(gw);
	v.backlog = (int64_t)gw->nwaiting;
	v.paused = gw->draining || task_intake_full(gw);
	v.reporting = (int64_t)gw->nreporting;
	v.draining = gw->draining;
	TAILQ_FOREACH(t, &gw->active, entry)
		v.states[t->state]++;
	TAILQ_FOREACH(t, &gw->history, entry)
		v.states[t->state]++;
	for (i = 0; i < RESULT_NSTATUSES; i++)
		v.totals[i] = (int64_t)gw->totals[i];
	v.dlq = (int64_t)gw->dlq_total;
	v.skipped_done = (int64_t)gw->skipped_done;
	if (gw->committer != NULL)
		committer_stats(gw->committer, &committed, &aborted);
	v.tx_committed = (int64_t)committed;
	v.tx_aborted = (int64_t)aborted;
	n = ledger_partitions(gw->ledger, &ids);
	pv = xcalloc(n + 1, sizeof *pv);
	for (i = 0; i < n; i++) {
		int64_t cp = ledger_commit_point(gw->ledger, ids[i]);
		int64_t high = gw->intake != NULL ? intake_high(gw->intake, ids[i]) : -1;

		pv[i].partition = ids[i];
		pv[i].committed = cp;
		pv[i].next = ledger_next(gw->ledger, ids[i]);
		pv[i].pending = (int64_t)ledger_pending(gw->ledger, ids[i]);
		pv[i].high = high;
		pv[i].lag = high >= 0 && cp >= 0 && high > cp ? high - cp : 0;
		pv[i].paused = gw->intake != NULL && intake_paused(gw->intake, ids[i]);
	}
	v.partitions = pv;
	v.npartitions = n;
	s = proto_status_view_encode(&v);
	free(pv);
	free(ids);
	return s;
}

/* ---- the control socket's operations (arg: the struct gw) ---- */

static cJSON *
views_ops_status(void *arg)
{
	return views_status(arg);
}

static cJSON *
views_ops_tasks(const char *state, void *arg)
{
	struct gw *gw = arg;
	const struct task *t;
	enum task_state want = TASK_RECEIVED;
	int filter = 0, active_only = 0;
	cJSON *arr = cJSON_CreateArray();

	if (state != NULL && strcmp(state, "active") == 0)
		active_only = 1;
	else if (state != NULL && proto_state_parse(state, &want) == 0)
		filter = 1;
	TAILQ_FOREACH(t, &gw->active, entry)
		if (!filter || t->state == want)
			cJSON_AddItemToArray(arr, views_task(t));
	if (!active_only) {
		TAILQ_FOREACH(t, &gw->history, entry)
			if (!filter || t->state == want)
				cJSON_AddItemToArray(arr, views_task(t));
	}
	return arr;
}

static cJSON *
views_ops_task(const char *id, char **cause, void *arg)
{
	const struct task *t;

	if ((t = task_find(arg, id)) == NULL) {
		xasprintf(cause, "no task %s known to this gateway", id);
		return NULL;
	}
	return views_task(t);
}

static int
views_ops_cancel(const char *id, char **cause, void *arg)
{
	return task_cancel(arg, id, cause);
}

static int
views_ops_requeue(const char *id, int *attempt, char **cause, void *arg)
{
	return task_requeue(arg, id, attempt, cause);
}

static void
views_ops_lag(cJSON *r, int check, void *arg)
{
	struct gw *gw = arg;
	char *why = NULL;

	cJSON_AddItemToObject(r, "partitions", health_json(gw->health));
	cJSON_AddBoolToObject(r, "healthy", gw->health == NULL || health_ok(gw->health, &why));
	if (why != NULL)
		cJSON_AddStringToObject(r, "why", why);
	free(why);
	if (check)
		health_poke(gw->health);
}

static void
views_ops_gpus(cJSON *r, void *arg)
{
	gpus_answer(((struct gw *)arg)->gpus, r);
}

const struct control_ops views_control_ops = {
	views_ops_status,
	views_ops_tasks,
	views_ops_task,
	views_ops_cancel,
	views_ops_requeue,
	views_ops_lag,
	views_ops_gpus,
};
