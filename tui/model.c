/*
 * model.c: what the console knows of one gateway, as plain structs: the
 * STATUS at a glance, the partitions with their lag history and
 * health, the tasks, the open task's every field, and the sources a
 * gateway may offer besides (pods, GPUs, VPN, a log, videos). Each
 * source has a stale mark: when it last said something good, and why
 * not when it failed; a lost connection makes every source stale but
 * keeps the last good values on screen.
 *
 * It is fed only with lines and answers, decoded through proto/ (the
 * console names no field of the protocol): events of a subscribed
 * connection (con_model_event) and the answers the feed asked for. It
 * does no I/O and draws nothing; times come in as arguments, so it can
 * be driven by a fuzzer or a test with any clock.
 *
 * Bounded: at most max_tasks tasks (the oldest finished ones go first
 * when more come), CON_PODS_MAX pods (more are counted, not kept), every
 * string copied with a cap and cleaned for the terminal, a fixed number
 * of samples per series. Tasks and pods are found by a hash of their
 * id or name, so an event costs the same with 10 or 50,000 of them; the
 * hash is seeded at init, so ids chosen to share a bucket cannot be
 * made in advance.
 *
 * The tasks view keeps its rows sorted and filtered across frames; to
 * patch them instead of sorting 10,000 tasks a frame it reads the
 * journal: the tasks changed or removed since it last looked. A removed
 * task stays allocated (marked gone) until the journal is taken; when
 * too much changed (a relist, an overflow) the journal says so and the
 * view rebuilds its rows from the model.
 */
#include "config.h"
#include "tui.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "common.h"

#define CON_ERROR_MAX 512		/* a task's error as the list keeps it */
#define CON_SAMPLE_MS 900		/* one sample a second (status events) */
#define CON_RATE_WINDOW_MS 60000
#define CON_RATE_MIN_SPAN_MS 5000

/* Defaults of the stale marks: a little over what each source's cadence promises. */
static const int con_stale_ms[CON_NSRC] = {
	[CON_SRC_STATUS] = 3000,	/* a status event every second */
	[CON_SRC_TASKS] = 0,		/* events: stale only with the link */
	[CON_SRC_LAG] = 8000,		/* asked every 2 s */
	[CON_SRC_PODS] = 0,		/* asked once, then events (on change only) */
	[CON_SRC_GPUS] = 15000,
	[CON_SRC_VPN] = 0,		/* as pods */
	[CON_SRC_LOGS] = 0,
	[CON_SRC_VIDEOS] = 0,
};

static void con_gpu_node_clear(struct con_gpu_node *);
static void con_pods_clear(struct con_model *);
static void con_vpn_clear(struct con_vpn *);
static void con_video_clear(struct con_video *);
static void con_log_clear(struct con_log *);
static int con_log_chunk(struct con_model *, const struct proto_log_chunk *, int64_t now,
    char **cause);
static void con_log_end(struct con_model *, const struct proto_log_end *, int64_t now);

/* A cleaned copy of s cut to at most max bytes (on a character boundary); NULL for NULL. */
static char *
con_copy(const char *s, size_t max)
{
	char *cut, *clean;

	if (s == NULL)
		return NULL;
	cut = util_cut(s, max);
	clean = client_text_clean(cut);
	free(cut);
	return clean;
}

/* Into a fixed buffer, cleaned and cut. */
static void
con_copy_to(char *dst, size_t size, const char *s)
{
	char *c = con_copy(s != NULL ? s : "", size - 4);

	snprintf(dst, size, "%s", c);
	free(c);
}

/* ---- series ---- */

void
con_series_add(struct con_series *s, int64_t v)
{
	s->v[s->head] = v;
	s->head = (s->head + 1) % CON_SERIES_MAX;
	if (s->n < CON_SERIES_MAX)
		s->n++;
}

int64_t
con_series_at(const struct con_series *s, size_t i)
{
	if (i >= s->n)
		return 0;
	return s->v[(s->head + CON_SERIES_MAX - 1 - i) % CON_SERIES_MAX];
}

/* ---- life ---- */

void
con_model_init(struct con_model *m, size_t max_tasks)
{
	size_t i;

	memset(m, 0, sizeof *m);
	for (i = 0; i < CON_NSRC; i++)
		m->src[i].stale_ms = con_stale_ms[i];
	m->max_tasks = max_tasks > 0 ? max_tasks : CON_TASKS_MAX_DEFAULT;
	m->nbuckets = 1024;
	while (m->nbuckets < m->max_tasks)
		m->nbuckets *= 2;
	m->buckets = xcalloc(m->nbuckets, sizeof *m->buckets);
	m->journal = xcalloc(CON_JOURNAL_MAX, sizeof *m->journal);
	m->healthy = -1;
	m->link = CON_LINK_CONNECTING;
	if (getrandom(&m->hash_seed, sizeof m->hash_seed, GRND_NONBLOCK) !=
	    (ssize_t)sizeof m->hash_seed) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		m->hash_seed = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL ^
		    (uint64_t)ts.tv_sec << 20 ^ (uint64_t)getpid();
	}
}

static void
con_task_free(struct con_task *t)
{
	free(t->error);
	free(t);
}

static void
con_detail_clear(struct con_detail *d)
{
	proto_task_view_clear(&d->v);
	cJSON_Delete(d->root);
	d->root = NULL;
	free(d->error);
	d->error = NULL;
	d->has = 0;
}

void
con_model_free(struct con_model *m)
{
	size_t i;

	con_model_journal_done(m);
	for (i = 0; i < m->ntasks; i++)
		con_task_free(m->tasks[i]);
	free(m->tasks);
	free(m->buckets);
	free(m->journal);
	for (i = 0; i < CON_NSRC; i++)
		free(m->src[i].error);
	free(m->link_error);
	free(m->refusal);
	free(m->parts);
	free(m->health_why);
	free(m->last_bad);
	con_detail_clear(&m->detail);
	con_pods_clear(m);
	free(m->pods);
	free(m->pod_buckets);
	free(m->pods_runner);
	for (i = 0; i < m->ngpu_nodes; i++)
		con_gpu_node_clear(&m->gpu_nodes[i]);
	free(m->gpu_nodes);
	con_vpn_clear(&m->vpn);
	con_log_clear(&m->log);
	for (i = 0; i < m->nvideos; i++)
		con_video_clear(&m->videos[i]);
	free(m->videos);
	con_model_frame_close(m);
	memset(m, 0, sizeof *m);
}

/* ---- link and sources ---- */

void
con_model_link(struct con_model *m, enum con_link link, const char *error, int64_t now)
{
	if (m->link != link)
		m->link_since = now;
	m->link = link;
	free(m->link_error);
	m->link_error = con_copy(error, 512);
	if (link == CON_LINK_UP) {
		free(m->refusal);
		m->refusal = NULL;
	}
	m->gen++;
}

void
con_model_source(struct con_model *m, enum con_src src, enum con_offer offer, const char *error,
    int64_t now)
{
	struct con_source *s = &m->src[src];

	s->offer = offer;
	free(s->error);
	s->error = con_copy(error, 512);
	if (error == NULL && offer == CON_OFFER_YES)
		s->updated = now;
	m->gen++;
}

int
con_model_stale(const struct con_model *m, enum con_src src, int64_t now)
{
	const struct con_source *s = &m->src[src];

	if (m->link != CON_LINK_UP || s->updated == 0)
		return 1;
	return s->stale_ms > 0 && now - s->updated > s->stale_ms;
}

/* ---- tasks ---- */

/*
 * FNV-1a from the model's seed, then murmur3's finaliser: FNV's low bits
 * (the bucket) depend only on the low bits of what came before, and the
 * finaliser spreads the whole state into them.
 */
static uint64_t
con_hash(const struct con_model *m, const char *s)
{
	uint64_t h = util_fnv1a(UTIL_FNV1A_INIT ^ m->hash_seed, s);

	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

struct con_task *
con_model_task(const struct con_model *m, const char *id)
{
	struct con_task *t;

	for (t = m->buckets[con_hash(m, id) & (m->nbuckets - 1)]; t != NULL; t = t->hnext)
		if (strcmp(t->id, id) == 0)
			return t;
	return NULL;
}

/*
 * Empty the journal: tasks removed meanwhile are freed now, the others
 * may be journaled again. overflow: too much changed to patch, the tasks
 * view rebuilds (and nothing more is journaled until it has).
 */
static void
con_journal_reset(struct con_model *m, int overflow)
{
	size_t i;

	for (i = 0; i < m->njournal; i++) {
		if (m->journal[i]->gone)
			con_task_free(m->journal[i]);
		else
			m->journal[i]->journaled = 0;
	}
	m->njournal = 0;
	m->journal_overflow = overflow;
}

static void
con_journal_add(struct con_model *m, struct con_task *t)
{
	if (m->journal_overflow || t->journaled)
		return;
	if (m->njournal == CON_JOURNAL_MAX) {
		con_journal_reset(m, 1);
		return;
	}
	t->journaled = 1;
	m->journal[m->njournal++] = t;
}

void
con_model_journal_done(struct con_model *m)
{
	con_journal_reset(m, 0);
}

static void
con_task_remove(struct con_model *m, struct con_task *t)
{
	struct con_task **tp;
	size_t slot = t->slot;

	for (tp = &m->buckets[con_hash(m, t->id) & (m->nbuckets - 1)]; *tp != NULL;
	    tp = &(*tp)->hnext) {
		if (*tp == t) {
			*tp = t->hnext;
			break;
		}
	}
	m->tasks[slot] = m->tasks[--m->ntasks];
	m->tasks[slot]->slot = slot;
	t->gone = 1;
	t->hnext = NULL;
	if (m->journal_overflow)
		con_task_free(t);
	else if (t->journaled)
		;	/* freed when the journal is taken */
	else if (m->njournal < CON_JOURNAL_MAX) {
		t->journaled = 1;
		m->journal[m->njournal++] = t;
	} else {
		con_journal_reset(m, 1);
		con_task_free(t);
	}
	m->gen++;
}

static int
con_task_finished(const struct con_task *t)
{
	return t->state == TASK_DONE || t->state == TASK_FAILED;
}

static int
con_task_cmp_touched(const void *a, const void *b)
{
	const struct con_task *x = *(struct con_task *const *)a, *y = *(struct con_task *const *)b;
	int fx = con_task_finished(x), fy = con_task_finished(y);

	if (fx != fy)
		return fx ? -1 : 1;	/* finished ones go first */
	return x->touched < y->touched ? -1 : x->touched > y->touched;
}

/* Full: drop the oldest sixteenth, finished tasks first (one sort, not one scan a task). */
static void
con_tasks_evict(struct con_model *m)
{
	struct con_task **order;
	size_t n = m->ntasks / 16 + 1, i;

	order = xreallocarray(NULL, m->ntasks, sizeof *order);
	memcpy(order, m->tasks, m->ntasks * sizeof *order);
	qsort(order, m->ntasks, sizeof *order, con_task_cmp_touched);
	for (i = 0; i < n; i++)
		con_task_remove(m, order[i]);
	free(order);
}

static struct con_task *
con_task_add(struct con_model *m, const char *id)
{
	struct con_task *t;
	size_t b;

	if (m->ntasks >= m->max_tasks)
		con_tasks_evict(m);
	if (m->ntasks == m->tasks_cap) {
		m->tasks_cap = m->tasks_cap == 0 ? 256 : m->tasks_cap * 2;
		m->tasks = xreallocarray(m->tasks, m->tasks_cap, sizeof *m->tasks);
	}
	t = xcalloc(1, sizeof *t);
	snprintf(t->id, sizeof t->id, "%s", id);
	t->seq = ++m->seq;
	t->duration_ms = -1;
	t->slot = m->ntasks;
	m->tasks[m->ntasks++] = t;
	b = con_hash(m, t->id) & (m->nbuckets - 1);
	t->hnext = m->buckets[b];
	m->buckets[b] = t;
	return t;
}

/* A task id as the model keys it: 1..63 bytes, no control characters. */
static int
con_task_id_ok(const char *id, char **cause)
{
	size_t len = id != NULL ? strlen(id) : 0;

	if (len == 0 || len > TASK_ID_MAX) {
		xasprintf(cause, "a task id of %zu bytes (1 to %d expected)", len, TASK_ID_MAX);
		return -1;
	}
	if (util_find_control(id) != NULL) {
		xasprintf(cause, "a task id with control characters");
		return -1;
	}
	return 0;
}

/* Copy a decoded TASK into the model (new or changed). */
static int
con_task_apply(struct con_model *m, const struct proto_task_view *v, char **cause)
{
	struct con_task *t;

	if (con_task_id_ok(v->task_id, cause) != 0)
		return -1;
	if ((t = con_model_task(m, v->task_id)) == NULL)
		t = con_task_add(m, v->task_id);
	t->attempt = v->attempt;
	con_copy_to(t->game, sizeof t->game, v->game);
	t->state = v->state;
	t->has_status = v->has_status;
	t->status = v->status;
	t->waiting = v->waiting;
	t->partition = v->partition;
	t->offset = v->offset;
	memcpy(t->timeline, v->timeline, sizeof t->timeline);
	t->has_error = v->has_error;
	t->eclass = v->eclass;
	free(t->error);
	t->error = v->has_error ? con_copy(v->error != NULL ? v->error : "", CON_ERROR_MAX) : NULL;
	t->has_score = v->has_score;
	t->score = v->score;
	t->duration_ms = v->duration_ms;
	t->has_video = v->video_url != NULL || v->video_path != NULL;
	t->touched = ++m->seq;
	con_journal_add(m, t);
	m->gen++;
	return 0;
}

/* ---- status and lag ---- */

static struct con_part *
con_part_get(struct con_model *m, int32_t partition)
{
	struct con_part *p;
	size_t i;

	for (i = 0; i < m->nparts; i++)
		if (m->parts[i].partition == partition)
			return &m->parts[i];
	/* kept sorted by partition */
	m->parts = xreallocarray(m->parts, m->nparts + 1, sizeof *m->parts);
	for (i = m->nparts; i > 0 && m->parts[i - 1].partition > partition; i--)
		m->parts[i] = m->parts[i - 1];
	p = &m->parts[i];
	memset(p, 0, sizeof *p);
	p->partition = partition;
	p->committed = p->high = -1;
	m->nparts++;
	return p;
}

static void
con_status_apply(struct con_model *m, const struct proto_status_view *v, int64_t now)
{
	struct con_status *s = &m->status;
	int64_t finished = 0;
	struct con_part *p;
	size_t i, j;
	int sample;

	s->has = 1;
	con_copy_to(s->instance, sizeof s->instance, v->instance);
	con_copy_to(s->version, sizeof s->version, v->version);
	con_copy_to(s->group_id, sizeof s->group_id, v->group_id);
	s->pid = v->pid;
	s->uptime_s = v->uptime_s;
	s->uptime_at = now;
	s->embedded = v->embedded;
	s->max_inflight = v->max_inflight;
	s->inflight = v->inflight;
	s->backlog = v->backlog;
	s->reporting = v->reporting;
	s->paused = v->paused;
	s->draining = v->draining;
	memcpy(s->states, v->states, sizeof s->states);
	memcpy(s->totals, v->totals, sizeof s->totals);
	s->dlq = v->dlq;
	s->skipped_done = v->skipped_done;
	s->tx_committed = v->tx_committed;
	s->tx_aborted = v->tx_aborted;

	sample = m->last_sample == 0 || now - m->last_sample >= CON_SAMPLE_MS;
	for (i = 0; i < m->nparts; i++)
		m->parts[i].seen = 0;
	for (i = 0; i < v->npartitions && i < 4096; i++) {
		p = con_part_get(m, v->partitions[i].partition);
		p->seen = 1;
		p->committed = v->partitions[i].committed;
		p->high = v->partitions[i].high;
		p->lag = v->partitions[i].lag;
		p->pending = v->partitions[i].pending;
		p->paused = v->partitions[i].paused;
		if (sample)
			con_series_add(&p->series, p->lag);
	}
	/* Partitions this gateway no longer owns leave the table. */
	for (i = j = 0; i < m->nparts; i++)
		if (m->parts[i].seen)
			m->parts[j++] = m->parts[i];
	m->nparts = j;
	if (sample) {
		for (i = 0; i < RESULT_NSTATUSES; i++)
			finished += s->totals[i];
		con_series_add(&m->results, finished);
		con_series_add(&m->results_at, now);
		m->last_sample = now;
	}
	m->gen++;
}

double
con_model_rate(const struct con_model *m)
{
	int64_t t0, t1, v0, v1;
	size_t i, oldest = 0;

	if (m->results.n < 2)
		return -1;
	t1 = con_series_at(&m->results_at, 0);
	v1 = con_series_at(&m->results, 0);
	for (i = 1; i < m->results.n; i++) {
		if (t1 - con_series_at(&m->results_at, i) > CON_RATE_WINDOW_MS)
			break;
		oldest = i;
	}
	t0 = con_series_at(&m->results_at, oldest);
	v0 = con_series_at(&m->results, oldest);
	if (t1 - t0 < CON_RATE_MIN_SPAN_MS || v1 < v0)
		return -1;
	return (double)(v1 - v0) * 60000.0 / (double)(t1 - t0);
}

int64_t
con_model_uptime(const struct con_model *m, int64_t now)
{
	if (!m->status.has)
		return -1;
	if (m->link != CON_LINK_UP)
		return m->status.uptime_s;
	return m->status.uptime_s + (now - m->status.uptime_at) / 1000;
}

int64_t
con_model_active(const struct con_model *m)
{
	int64_t n = 0;
	int i;

	for (i = TASK_RECEIVED; i <= TASK_REPORTING; i++)
		n += m->status.states[i];
	return n;
}

int64_t
con_model_lag_total(const struct con_model *m, enum health_status *worst)
{
	int64_t lag = 0;
	size_t i;

	*worst = HEALTH_OK;
	for (i = 0; i < m->nparts; i++) {
		lag += m->parts[i].lag > 0 ? m->parts[i].lag : 0;
		if (m->parts[i].has_health && m->parts[i].health > *worst)
			*worst = m->parts[i].health;
	}
	return lag;
}

/* ---- GPUs ---- */

#define CON_GPU_NODES_MAX 1024
#define CON_GPU_CARDS_MAX 64	/* a node's cards kept */

static void
con_gpu_node_clear(struct con_gpu_node *n)
{
	size_t i;

	for (i = 0; i < n->ncards; i++) {
		free(n->cards[i].name);
		free(n->cards[i].task_id);
		free(n->cards[i].task);
		free(n->cards[i].pod);
	}
	free(n->cards);
	free(n->node);
	free(n->stale);
	free(n->apps_error);
	memset(n, 0, sizeof *n);
}

static int
con_gpu_metric(const struct proto_gpu_card *c, enum proto_gpu_metric k)
{
	return (c->known & (1u << k)) ? (int)(c->value[k] + 0.5) : -1;
}

/* A decoded node into the model's (its old values go). */
static void
con_gpu_node_set(struct con_gpu_node *n, const struct proto_gpu_node *v)
{
	const struct proto_gpu_card *c;
	struct con_gpu *g;
	size_t i, j, tasks;
	char *t;

	con_gpu_node_clear(n);
	n->node = con_copy(v->node != NULL ? v->node : "?", 64);
	n->state = v->state;
	n->stale = con_copy(v->stale, 512);
	n->apps_error = con_copy(v->apps_error, 256);
	n->report_ms = v->report_ms;
	n->ncards = v->ncards < CON_GPU_CARDS_MAX ? v->ncards : CON_GPU_CARDS_MAX;
	n->cards = xcalloc(n->ncards + 1, sizeof *n->cards);
	for (i = 0; i < n->ncards; i++) {
		c = &v->cards[i];
		g = &n->cards[i];
		g->index = c->index;
		g->name = con_copy(c->name != NULL ? c->name : "-", 64);
		g->util = con_gpu_metric(c, PROTO_GPU_UTIL);
		g->mem_used = con_gpu_metric(c, PROTO_GPU_MEM_USED);
		g->mem_total = con_gpu_metric(c, PROTO_GPU_MEM_TOTAL);
		g->temp = con_gpu_metric(c, PROTO_GPU_TEMP);
		g->power = con_gpu_metric(c, PROTO_GPU_POWER);
		g->power_limit = con_gpu_metric(c, PROTO_GPU_POWER_LIMIT);
		for (j = tasks = 0; j < c->nprocs; j++) {
			if (c->procs[j].task_id == NULL) {
				g->others++;
				continue;
			}
			if (tasks++ == 0) {
				g->task_id = con_copy(c->procs[j].task_id, TASK_ID_MAX);
				xasprintf(&t, "%s#%d", g->task_id, c->procs[j].attempt);
				g->task = t;
				g->pod = con_copy(c->procs[j].pod, 253);
			}
		}
		if (tasks > 1) {
			xasprintf(&t, "%s +%zu", g->task, tasks - 1);
			free(g->task);
			g->task = t;
		}
	}
}

/* Replace the node of that name, or add it at the end. */
static void
con_gpu_node_put(struct con_model *m, const struct proto_gpu_node *v)
{
	size_t i;

	for (i = 0; i < m->ngpu_nodes; i++)
		if (v->node != NULL && strcmp(m->gpu_nodes[i].node, v->node) == 0)
			break;
	if (i == m->ngpu_nodes) {
		if (m->ngpu_nodes == CON_GPU_NODES_MAX)
			return;
		m->gpu_nodes = xreallocarray(m->gpu_nodes, m->ngpu_nodes + 1,
		    sizeof *m->gpu_nodes);
		memset(&m->gpu_nodes[m->ngpu_nodes++], 0, sizeof *m->gpu_nodes);
	}
	con_gpu_node_set(&m->gpu_nodes[i], v);
}

int
con_model_gpus_answer(struct con_model *m, const cJSON *answer, int64_t now, char **cause)
{
	struct proto_gpus g;
	int64_t interval = 0;
	int enabled;
	size_t i;

	if (proto_answer_gpus(answer, &g, &enabled, &interval, cause) != 0)
		return -1;
	for (i = 0; i < m->ngpu_nodes; i++)
		con_gpu_node_clear(&m->gpu_nodes[i]);
	m->ngpu_nodes = 0;
	for (i = 0; i < g.nnodes; i++)
		con_gpu_node_put(m, &g.nodes[i]);
	proto_gpus_clear(&g);
	m->gpu_enabled = enabled;
	/* A round a node, each interval: stale when two are missed (default 5 s). */
	m->src[CON_SRC_GPUS].stale_ms = (int)(interval > 0 && interval < 600000 ? interval : 5000) *
	    3;
	con_model_source(m, CON_SRC_GPUS, CON_OFFER_YES, NULL, now);
	return 0;
}

void
con_model_gpu_count(const struct con_model *m, size_t *busy, size_t *total)
{
	const struct con_gpu *g;
	size_t i, j;

	*busy = *total = 0;
	for (i = 0; i < m->ngpu_nodes; i++) {
		for (j = 0; j < m->gpu_nodes[i].ncards; j++) {
			g = &m->gpu_nodes[i].cards[j];
			(*total)++;
			if (g->task != NULL || g->others > 0 || g->util >= 5)
				(*busy)++;
		}
	}
}

/* ---- pods, the VPN, videos ---- */

static void
con_pod_free(struct con_pod *p)
{
	free(p->name);
	free(p->task);
	free(p->phase);
	free(p->status);
	free(p->ready);
	free(p->node);
	free(p);
}

/* Every pod, and the index: empty. */
static void
con_pods_clear(struct con_model *m)
{
	size_t i;

	for (i = 0; i < m->pods_len; i++)
		if (m->pods[i] != NULL)
			con_pod_free(m->pods[i]);
	m->npods = m->pods_len = 0;
	if (m->pod_buckets != NULL)
		memset(m->pod_buckets, 0, m->pod_nbuckets * sizeof *m->pod_buckets);
}

/* Its fields but the name (the key) from v. */
static void
con_pod_set(struct con_pod *p, const struct proto_pod_view *v)
{
	free(p->task);
	free(p->phase);
	free(p->status);
	free(p->ready);
	free(p->node);
	p->task = con_copy(v->task_id, TASK_ID_MAX);
	p->attempt = v->attempt;
	p->phase = con_copy(v->phase, 32);
	p->status = con_copy(v->status, 64);
	xasprintf(&p->ready, "%d/%d", v->ready, v->total);
	p->restarts = v->restarts;
	p->node = con_copy(v->node, 253);
	p->created = v->created_ms;
}

static struct con_pod *
con_pod_find(const struct con_model *m, const char *name, uint64_t h)
{
	struct con_pod *p;

	if (m->pod_nbuckets == 0)
		return NULL;
	for (p = m->pod_buckets[h & (m->pod_nbuckets - 1)]; p != NULL; p = p->hnext)
		if (p->hash == h && strcmp(p->name, name) == 0)
			return p;
	return NULL;
}

struct con_pod *
con_model_pod(const struct con_model *m, const char *name)
{
	return con_pod_find(m, name, con_hash(m, name));
}

/* At most one pod a bucket on average: at CON_PODS_MAX, that many buckets. */
static void
con_pod_buckets_grow(struct con_model *m)
{
	size_t n = m->pod_nbuckets == 0 ? 256 : m->pod_nbuckets * 2, i, b;
	struct con_pod **nb = xcalloc(n, sizeof *nb), *p, *next;

	for (i = 0; i < m->pod_nbuckets; i++) {
		for (p = m->pod_buckets[i]; p != NULL; p = next) {
			next = p->hnext;
			b = p->hash & (n - 1);
			p->hnext = nb[b];
			nb[b] = p;
		}
	}
	free(m->pod_buckets);
	m->pod_buckets = nb;
	m->pod_nbuckets = n;
}

/* A new pod (name taken: cleaned and cut) after the others. */
static struct con_pod *
con_pod_add(struct con_model *m, char *name, uint64_t h)
{
	struct con_pod *p = xcalloc(1, sizeof *p);
	size_t b;

	if (m->npods >= m->pod_nbuckets)
		con_pod_buckets_grow(m);
	if (m->pods_len == m->pods_cap) {
		m->pods_cap = m->pods_cap == 0 ? 64 : m->pods_cap * 2;
		m->pods = xreallocarray(m->pods, m->pods_cap, sizeof *m->pods);
	}
	p->name = name;
	p->hash = h;
	b = h & (m->pod_nbuckets - 1);
	p->hnext = m->pod_buckets[b];
	m->pod_buckets[b] = p;
	p->at = m->pods_len;
	m->pods[m->pods_len++] = p;
	m->npods++;
	return p;
}

void
con_model_pods_pack(struct con_model *m)
{
	size_t i, n = 0;

	if (m->pods_len == m->npods)
		return;
	for (i = 0; i < m->pods_len; i++) {
		if (m->pods[i] == NULL)
			continue;
		m->pods[n] = m->pods[i];
		m->pods[n]->at = n;
		n++;
	}
	m->pods_len = n;
}

/*
 * Out of the index and the order: its slot becomes a hole, closed once
 * the holes outnumber the pods (each hole is moved over once: O(1) a
 * delete, amortised) or when a view reads the list.
 */
static void
con_pod_remove(struct con_model *m, struct con_pod *p)
{
	struct con_pod **pp;

	for (pp = &m->pod_buckets[p->hash & (m->pod_nbuckets - 1)]; *pp != p; pp = &(*pp)->hnext)
		;
	*pp = p->hnext;
	m->pods[p->at] = NULL;
	m->npods--;
	con_pod_free(p);
	if (m->pods_len - m->npods > m->npods)
		con_model_pods_pack(m);
}

/* A pod event: added or changed (by name), or gone (deleted). */
static void
con_pod_put(struct con_model *m, const struct proto_pod_view *v)
{
	struct con_pod *p;
	char *name;
	uint64_t h;

	if (v->name == NULL)
		return;
	/* By the name as kept (cleaned and cut), so an odd one still matches itself. */
	name = con_copy(v->name, 253);
	h = con_hash(m, name);
	p = con_pod_find(m, name, h);
	if (v->deleted) {
		free(name);
		if (p != NULL) {
			con_pod_remove(m, p);
			m->gen++;
		}
		return;
	}
	if (p == NULL) {
		if (m->npods == CON_PODS_MAX) {
			free(name);
			m->pods_cut++;
			return;
		}
		p = con_pod_add(m, name, h);
	} else
		free(name);
	con_pod_set(p, v);
	m->gen++;
}

int
con_model_pods_answer(struct con_model *m, const cJSON *answer, int64_t now, char **cause)
{
	struct proto_pods p;
	size_t i;

	if (proto_pods_decode(answer, &p, cause) != 0)
		return -1;
	con_pods_clear(m);
	m->pods_cut = 0;
	for (i = 0; i < p.npods; i++)
		con_pod_put(m, &p.pods[i]);
	free(m->pods_runner);
	m->pods_runner = con_copy(p.runner, 32);
	m->pods_synced = p.synced;
	proto_pods_clear(&p);
	m->gen++;
	con_model_source(m, CON_SRC_PODS, CON_OFFER_YES, NULL, now);
	return 0;
}

static void
con_vpn_clear(struct con_vpn *v)
{
	free(v->state);
	free(v->checks);
	free(v->error);
	memset(v, 0, sizeof *v);
}

/* The checks in one line: "2 ok", "1 ok, 1 failed: s3.cloud:443: refused", ... */
static char *
con_vpn_checks(const struct proto_vpn_view *v)
{
	const struct proto_vpn_check *bad = NULL;
	size_t i, n[PROTO_VPN_NRESULTS] = { 0 };
	char *s, *c;

	if (v->nchecks == 0)
		return xstrdup("none configured");
	for (i = 0; i < v->nchecks; i++) {
		if ((size_t)v->checks[i].result < PROTO_VPN_NRESULTS)
			n[v->checks[i].result]++;
		if (v->checks[i].result == PROTO_VPN_FAILED && bad == NULL)
			bad = &v->checks[i];
	}
	xasprintf(&s, "%zu ok, %zu failed, %zu pending%s%s%s%s", n[PROTO_VPN_OK],
	    n[PROTO_VPN_FAILED], n[PROTO_VPN_PENDING], bad != NULL ? "; " : "",
	    bad != NULL && bad->target != NULL ? bad->target : "",
	    bad != NULL && bad->reason != NULL ? ": " : "",
	    bad != NULL && bad->reason != NULL ? bad->reason : "");
	c = con_copy(s, 512);
	free(s);
	return c;
}

static void
con_vpn_set(struct con_vpn *c, const struct proto_vpn_view *v)
{
	con_vpn_clear(c);
	c->has = 1;
	c->enabled = v->enabled;
	if (!v->enabled)
		return;
	c->state = xstrdup(proto_vpn_state_name(v->state));
	c->healthy = v->healthy;
	c->since = v->since_ms;
	c->bytes_in = v->bytes_in;
	c->bytes_out = v->bytes_out;
	c->checks = con_vpn_checks(v);
	c->error = con_copy(v->error, 512);
}

int
con_model_vpn_answer(struct con_model *m, const cJSON *answer, int64_t now, char **cause)
{
	struct proto_vpn_view v;

	if (proto_answer_vpn(answer, &v, cause) != 0)
		return -1;
	con_vpn_set(&m->vpn, &v);
	proto_vpn_view_clear(&v);
	m->gen++;
	con_model_source(m, CON_SRC_VPN, CON_OFFER_YES, NULL, now);
	return 0;
}

static void
con_video_clear(struct con_video *v)
{
	free(v->task);
	free(v->url);
	free(v->path);
	free(v->name);
	memset(v, 0, sizeof *v);
}

static void
con_video_set(struct con_video *c, const struct proto_video_view *v)
{
	con_video_clear(c);
	c->task = con_copy(v->task_id, TASK_ID_MAX);
	c->attempt = v->attempt;
	c->url = con_copy(v->url, 1024);
	c->name = con_copy(v->name, 255);
	c->local = v->local;
	/* A path is used as it is (for the player), or not at all. */
	if (v->path != NULL && *v->path == '/' && strlen(v->path) < 4096 &&
	    util_find_control(v->path) == NULL)
		c->path = xstrdup(v->path);
	c->bytes = v->bytes;
	c->reported = v->reported_ms;
}

/* A new video goes first (a repeat of a task attempt's replaces it); the oldest beyond the cap go. */
static void
con_video_put(struct con_model *m, const struct proto_video_view *v)
{
	size_t i;

	for (i = 0; i < m->nvideos; i++)
		if (m->videos[i].attempt == v->attempt && v->task_id != NULL &&
		    m->videos[i].task != NULL && strcmp(m->videos[i].task, v->task_id) == 0)
			break;
	if (i == m->nvideos) {
		if (m->nvideos == CON_VIDEOS_MAX)
			con_video_clear(&m->videos[--m->nvideos]);
		else
			m->videos = xreallocarray(m->videos, m->nvideos + 1, sizeof *m->videos);
		memset(&m->videos[m->nvideos++], 0, sizeof *m->videos);
		i = m->nvideos - 1;
	}
	/* To the front, the others one down. */
	if (i > 0) {
		struct con_video keep = m->videos[i];

		memmove(&m->videos[1], &m->videos[0], i * sizeof *m->videos);
		m->videos[0] = keep;
	}
	con_video_set(&m->videos[0], v);
	m->gen++;
}

int
con_model_videos_answer(struct con_model *m, const cJSON *answer, int64_t now, char **cause)
{
	struct proto_videos vs;
	size_t i, n;

	if (proto_videos_decode(answer, &vs, cause) != 0)
		return -1;
	for (i = 0; i < m->nvideos; i++)
		con_video_clear(&m->videos[i]);
	m->nvideos = 0;
	/* Newest first: put the oldest kept first, each next one in front of it. */
	n = vs.nvideos < CON_VIDEOS_MAX ? vs.nvideos : CON_VIDEOS_MAX;
	for (i = n; i > 0; i--)
		con_video_put(m, &vs.videos[i - 1]);
	proto_videos_clear(&vs);
	m->gen++;
	con_model_source(m, CON_SRC_VIDEOS, CON_OFFER_YES, NULL, now);
	return 0;
}

/* ---- the frame previewed ---- */

void
con_model_frame_close(struct con_model *m)
{
	struct con_frame *f = &m->frame;

	free(f->error);
	free(f->png);
	memset(f, 0, sizeof *f);
	f->gen = ++m->gen;
}

void
con_model_frame_open(struct con_model *m, const char *id, double at)
{
	struct con_frame *f = &m->frame;

	if (strcmp(f->id, id) != 0) {
		con_model_frame_close(m);
		snprintf(f->id, sizeof f->id, "%s", id);
	}
	f->at = at;
	f->waiting = 1;
	free(f->error);
	f->error = NULL;
	f->gen = ++m->gen;
}

int
con_model_frame_answer(struct con_model *m, const char *id, const cJSON *answer, char **cause)
{
	struct con_frame *f = &m->frame;
	struct proto_frame pf;

	if (strcmp(f->id, id) != 0)
		return 0;	/* another task's, asked before this one */
	f->waiting = 0;
	f->gen = ++m->gen;
	if (proto_frame_decode(cJSON_GetObjectItemCaseSensitive(answer, "frame"), &pf,
	    cause) != 0) {
		free(f->error);
		f->error = con_copy(*cause, 256);
		return -1;
	}
	free(f->png);
	f->png = xmalloc(pf.len + 1);
	memcpy(f->png, pf.data, pf.len);
	f->len = pf.len;
	f->attempt = pf.attempt;
	f->width = pf.width;
	f->height = pf.height;
	f->png_at = pf.at;
	proto_frame_clear(&pf);
	return 0;
}

void
con_model_frame_fail(struct con_model *m, const char *id, const char *error)
{
	struct con_frame *f = &m->frame;

	if (strcmp(f->id, id) != 0)
		return;
	f->waiting = 0;
	free(f->error);
	f->error = con_copy(error, 512);
	f->gen = ++m->gen;
}

/* ---- lines and answers ---- */

static int
con_model_bad(struct con_model *m, char **cause)
{
	m->bad_lines++;
	free(m->last_bad);
	m->last_bad = con_copy(*cause, 256);
	return -1;
}

/* A decoded STATUS (cleared here): applied, or refused when its protocol is not ours. */
static int
con_model_status_view(struct con_model *m, struct proto_status_view *v, int64_t now,
    char **cause)
{
	if (proto_status_compatible(v, cause) != 0) {
		free(m->refusal);
		m->refusal = con_copy(*cause, 256);
		proto_status_view_clear(v);
		m->gen++;
		return -1;
	}
	con_status_apply(m, v, now);
	proto_status_view_clear(v);
	con_model_source(m, CON_SRC_STATUS, CON_OFFER_YES, NULL, now);
	return 0;
}

int
con_model_event(struct con_model *m, const char *line, size_t len, int64_t now, char **cause)
{
	struct proto_status_view sv;
	struct proto_task_view tv;
	struct proto_gpus gv;
	struct proto_pod_view pv;
	struct proto_pods_event pe;
	struct proto_vpn_view vv;
	struct proto_video_view dv;
	struct proto_log_chunk lc;
	struct proto_log_end le;
	enum proto_event_type type;
	const cJSON *payload;
	cJSON *root;
	int rc = 0;

	m->last_rx = now;
	if (proto_event_parse(line, len, &root, &type, &payload, cause) != 0)
		return con_model_bad(m, cause);
	switch (type) {
	case PROTO_EVENT_TASK:
		if (proto_task_view_decode(payload, &tv, cause) != 0) {
			rc = -1;
			break;
		}
		rc = con_task_apply(m, &tv, cause);
		proto_task_view_clear(&tv);
		if (rc == 0)
			con_model_source(m, CON_SRC_TASKS, CON_OFFER_YES, NULL, now);
		break;
	case PROTO_EVENT_STATUS:
		if (proto_status_view_decode(payload, &sv, cause) != 0) {
			rc = -1;
			break;
		}
		rc = con_model_status_view(m, &sv, now, cause);
		break;
	case PROTO_EVENT_GPU:
		if (proto_gpus_decode(payload, &gv, cause) != 0) {
			rc = -1;
			break;
		}
		if (gv.nnodes == 1) {
			con_gpu_node_put(m, &gv.nodes[0]);
			m->gpu_enabled = 1;
			con_model_source(m, CON_SRC_GPUS, CON_OFFER_YES, NULL, now);
		}
		proto_gpus_clear(&gv);
		break;
	case PROTO_EVENT_POD:
		if ((rc = proto_pod_view_decode(payload, &pv, cause)) == 0) {
			con_pod_put(m, &pv);
			con_model_source(m, CON_SRC_PODS, CON_OFFER_YES, NULL, now);
		}
		break;
	case PROTO_EVENT_PODS:
		/* Listed afresh: the list is what pods answers now (the feed asks). */
		if ((rc = proto_pods_event_decode(payload, &pe, cause)) == 0) {
			m->pods_listed++;
			con_model_source(m, CON_SRC_PODS, CON_OFFER_YES, NULL, now);
		}
		break;
	case PROTO_EVENT_VPN:
		if ((rc = proto_vpn_view_decode(payload, &vv, cause)) == 0) {
			con_vpn_set(&m->vpn, &vv);
			proto_vpn_view_clear(&vv);
			con_model_source(m, CON_SRC_VPN, CON_OFFER_YES, NULL, now);
		}
		break;
	case PROTO_EVENT_VIDEO:
		if ((rc = proto_video_view_decode(payload, &dv, cause)) == 0) {
			con_video_put(m, &dv);
			con_model_source(m, CON_SRC_VIDEOS, CON_OFFER_YES, NULL, now);
		}
		break;
	case PROTO_EVENT_LOG:
		if ((rc = proto_log_chunk_decode(payload, &lc, cause)) == 0)
			rc = con_log_chunk(m, &lc, now, cause);
		break;
	case PROTO_EVENT_LOG_END:
		if ((rc = proto_log_end_decode(payload, &le, cause)) == 0)
			con_log_end(m, &le, now);
		break;
	default:
		rc = 1;
		break;
	}
	cJSON_Delete(root);
	if (rc < 0)
		return con_model_bad(m, cause);
	return rc;
}

int
con_model_status_answer(struct con_model *m, const cJSON *answer, int64_t now, char **cause)
{
	struct proto_status_view v;

	if (proto_answer_status(answer, &v, cause) != 0)
		return -1;
	return con_model_status_view(m, &v, now, cause);
}

int
con_model_tasks_answer(struct con_model *m, const cJSON *answer, int64_t now, char **cause)
{
	struct proto_task_view *views;
	const cJSON *arr, *e;
	size_t n, i = 0, j;
	uint64_t mark;
	int rc = -1;

	if ((arr = proto_answer_tasks(answer, &n, cause)) == NULL)
		return -1;
	/* Decode all first: a bad answer leaves the model as it was. */
	views = xcalloc(n + 1, sizeof *views);
	cJSON_ArrayForEach(e, arr) {
		if (proto_task_view_decode(e, &views[i], cause) != 0 ||
		    con_task_id_ok(views[i].task_id, cause) != 0) {
			proto_task_view_clear(&views[i]);
			goto out;
		}
		i++;
	}
	/* A relist: the whole table may change; rebuild rather than patch. */
	con_journal_reset(m, 1);
	mark = m->seq;
	for (i = 0; i < n; i++)
		if (con_task_apply(m, &views[i], cause) != 0)
			goto out;
	/* What the gateway no longer lists is gone (it forgot it, or it was before our time). */
	for (j = m->ntasks; j > 0; j--)
		if (m->tasks[j - 1]->touched <= mark)
			con_task_remove(m, m->tasks[j - 1]);
	con_model_source(m, CON_SRC_TASKS, CON_OFFER_YES, NULL, now);
	rc = 0;
out:
	for (i = 0; i < n; i++)
		proto_task_view_clear(&views[i]);
	free(views);
	return rc;
}

int
con_model_lag_answer(struct con_model *m, const cJSON *answer, int64_t now, char **cause)
{
	struct proto_lag l;
	struct con_part *p;
	size_t i;

	if (proto_lag_decode(answer, &l, cause) != 0)
		return -1;
	for (i = 0; i < l.npartitions && i < 4096; i++) {
		p = con_part_get(m, l.partitions[i].partition);
		p->has_health = 1;
		p->health = l.partitions[i].status;
		p->healthy = l.partitions[i].healthy;
		p->lag_s = l.partitions[i].lag_s;
		if (p->committed < 0)
			p->committed = l.partitions[i].committed;
		if (p->high < 0)
			p->high = l.partitions[i].log_end;
		if (l.partitions[i].lag >= 0)
			p->lag = l.partitions[i].lag;
	}
	m->healthy = l.healthy;
	free(m->health_why);
	m->health_why = l.why != NULL && *l.why != '\0' ? con_copy(l.why, 512) : NULL;
	proto_lag_clear(&l);
	con_model_source(m, CON_SRC_LAG, CON_OFFER_YES, NULL, now);
	return 0;
}

void
con_model_detail_open(struct con_model *m, const char *id, int64_t now)
{
	if (strcmp(m->detail.id, id) != 0) {
		con_detail_clear(&m->detail);
		snprintf(m->detail.id, sizeof m->detail.id, "%s", id);
	}
	m->detail.asked = now;
	m->gen++;
}

int
con_model_detail_answer(struct con_model *m, cJSON *answer, char **cause)
{
	struct con_detail *d = &m->detail;
	struct proto_task_view v;

	if (proto_answer_task(answer, &v, cause) != 0) {
		cJSON_Delete(answer);
		return -1;
	}
	if (v.task_id == NULL || strcmp(v.task_id, d->id) != 0) {
		/* An answer for a task no longer open. */
		proto_task_view_clear(&v);
		cJSON_Delete(answer);
		return 0;
	}
	con_detail_clear(d);
	d->root = answer;
	d->v = v;
	d->has = 1;
	m->gen++;
	return 0;
}

void
con_model_detail_fail(struct con_model *m, const char *error)
{
	free(m->detail.error);
	m->detail.error = con_copy(error, 512);
	m->gen++;
}

/* ---- the log of one task ---- */

static void
con_log_clear(struct con_log *l)
{
	size_t i;

	for (i = 0; i < CON_LOG_LINES; i++)
		free(l->lines[i]);
	free(l->partial);
	free(l->end);
	free(l->error);
	memset(l, 0, sizeof *l);
}

/* Empty, for that task (its generation goes on). */
static void
con_log_reset(struct con_model *m, const char *id)
{
	struct con_log *l = &m->log;
	uint64_t gen = l->gen;
	char keep[sizeof l->id];

	snprintf(keep, sizeof keep, "%s", id);
	con_log_clear(l);
	snprintf(l->id, sizeof l->id, "%s", keep);
	l->gen = gen + 1;
	m->gen++;
}

void
con_model_log_open(struct con_model *m, const char *id)
{
	if (strcmp(m->log.id, id) != 0)
		con_log_reset(m, id);
}

void
con_model_log_restart(struct con_model *m)
{
	con_log_reset(m, m->log.id);
}

void
con_model_log_fail(struct con_model *m, const char *id, const char *error)
{
	struct con_log *l = &m->log;

	if (strcmp(l->id, id) != 0)
		return;
	free(l->error);
	l->error = con_copy(error, 512);
	l->gen++;
	m->gen++;
}

/* One line of the ring (s[0..len) holds no newline), cleaned, not cut. */
static void
con_log_line_add(struct con_log *l, const char *s, size_t len)
{
	char *raw = xstrndup(s, len);

	free(l->lines[l->head]);
	l->lines[l->head] = client_text_clean(raw);
	free(raw);
	l->head = (l->head + 1) % CON_LOG_LINES;
	if (l->n < CON_LOG_LINES)
		l->n++;
	l->total++;
}

/* A line longer than CON_LOG_LINE_MAX goes in pieces, cut on character boundaries. */
static void
con_log_add(struct con_log *l, const char *s, size_t len)
{
	size_t n;

	do {
		n = len;
		if (n > CON_LOG_LINE_MAX) {
			n = CON_LOG_LINE_MAX;
			while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
				n--;
			if (n == 0)
				n = CON_LOG_LINE_MAX;
		}
		con_log_line_add(l, s, n);
		s += n;
		len -= n;
	} while (len > 0);
}

/* Append to the unfinished line; what outgrows a line goes out in pieces. */
static void
con_log_partial(struct con_log *l, const char *s, size_t len)
{
	size_t have = l->partial != NULL ? strlen(l->partial) : 0, keep;
	char *joined = xmalloc(have + len + 1);

	memcpy(joined, l->partial != NULL ? l->partial : "", have);
	memcpy(joined + have, s, len);
	joined[have + len] = '\0';
	free(l->partial);
	l->partial = NULL;
	if (have + len < CON_LOG_LINE_MAX) {
		l->partial = joined;
		return;
	}
	/* Full pieces out; the rest (on a character boundary) waits. */
	keep = (have + len) % CON_LOG_LINE_MAX;
	while (keep < have + len && ((unsigned char)joined[have + len - keep] & 0xc0) == 0x80)
		keep++;
	con_log_add(l, joined, have + len - keep);
	if (keep > 0)
		l->partial = xstrndup(joined + have + len - keep, keep);
	free(joined);
}

/* data[0..len) is the text of bytes bytes of the log from offset. */
static int
con_log_append(struct con_model *m, const char *id, int64_t offset, int64_t bytes,
    const char *data, size_t len, int ended)
{
	struct con_log *l = &m->log;
	const char *p = data, *end = data + len, *nl;
	size_t plen;
	char *joined;

	if (strcmp(l->id, id) != 0)
		return 0;	/* the log of a task no longer shown */
	if (offset < 0 || bytes < 0 || offset > INT64_MAX - bytes)
		return -1;
	if (offset != l->offset) {
		/* A repeat is dropped; a gap (the log moved on) starts over there. */
		if (offset < l->offset)
			return 0;
		free(l->partial);
		l->partial = NULL;
	}
	while (p < end) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL) {
			con_log_partial(l, p, (size_t)(end - p));
			break;
		}
		if (l->partial != NULL) {
			plen = strlen(l->partial);
			joined = xmalloc(plen + (size_t)(nl - p) + 1);
			memcpy(joined, l->partial, plen);
			memcpy(joined + plen, p, (size_t)(nl - p));
			con_log_add(l, joined, plen + (size_t)(nl - p));
			free(joined);
			free(l->partial);
			l->partial = NULL;
		} else
			con_log_add(l, p, (size_t)(nl - p));
		p = nl + 1;
	}
	l->offset = offset + bytes;
	if (ended) {
		if (l->partial != NULL) {
			con_log_add(l, l->partial, strlen(l->partial));
			free(l->partial);
			l->partial = NULL;
		}
		l->ended = 1;
	}
	l->gen++;
	m->gen++;
	return 0;
}

int
con_model_log_append(struct con_model *m, const char *id, int64_t offset, const char *data,
    size_t len, int ended)
{
	if (len > INT64_MAX)
		return -1;
	return con_log_append(m, id, offset, (int64_t)len, data, len, ended);
}

/* A log event: its chunk, for the log shown (a later attempt's starts the lines over). */
static int
con_log_chunk(struct con_model *m, const struct proto_log_chunk *c, int64_t now, char **cause)
{
	struct con_log *l = &m->log;

	if (c->task_id == NULL || strcmp(l->id, c->task_id) != 0 || c->attempt < l->attempt)
		return 0;
	if (l->attempt != 0 && c->attempt > l->attempt)
		con_log_reset(m, c->task_id);
	l->attempt = c->attempt;
	if (con_log_append(m, c->task_id, c->offset, c->bytes, c->data, c->len, 0) != 0) {
		xasprintf(cause, "a log chunk at offset %lld of %lld bytes is out of range",
		    (long long)c->offset, (long long)c->bytes);
		return -1;
	}
	con_model_source(m, CON_SRC_LOGS, CON_OFFER_YES, NULL, now);
	return 0;
}

/* A log_end event: the lines held are all there is; why it ended. */
static void
con_log_end(struct con_model *m, const struct proto_log_end *e, int64_t now)
{
	struct con_log *l = &m->log;
	char *why;

	if (e->task_id == NULL || strcmp(l->id, e->task_id) != 0 || e->attempt < l->attempt)
		return;
	con_log_append(m, l->id, l->offset, 0, "", 0, 1);
	free(l->end);
	if (e->error != NULL) {
		xasprintf(&why, "%s: %s", e->reason_name != NULL ? e->reason_name : "error",
		    e->error);
		l->end = con_copy(why, 512);
		free(why);
	} else
		l->end = con_copy(e->reason_name != NULL ? e->reason_name :
		    proto_log_reason_name(e->reason), 64);
	con_model_source(m, CON_SRC_LOGS, CON_OFFER_YES, NULL, now);
}

const char *
con_log_line(const struct con_log *l, uint64_t number)
{
	uint64_t first = l->total - l->n;

	if (number < first || number >= l->total)
		return NULL;
	return l->lines[(l->head + CON_LOG_LINES - (size_t)(l->total - number)) % CON_LOG_LINES];
}
