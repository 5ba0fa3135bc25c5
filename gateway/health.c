/*
 * health.c: consumer health and lag of the tasks topic.
 *
 * Lag is, per assigned partition, the log end as a read_committed
 * consumer sees it (the last stable offset) minus the offset this
 * gateway has committed (acknowledged transactions only). Transaction
 * markers take offsets that no consumer ever receives: when everything
 * delivered to us is committed and the consumer's position has moved
 * past the committed offset, the offsets in between are markers (or
 * aborted records), so they count as consumed and an idle partition
 * shows 0, not 1.
 *
 * The log end comes from ListOffsets requests on a worker thread of its
 * own (common/worker.c: the broker answers slowly when it answers at
 * all; the loop never waits), on a consumer handle with no group that
 * only asks. One round is out at a time.
 *
 * Two judgements, both rebuilt at every rebalance so no instance
 * judges partitions it no longer owns:
 *
 * Health, as Cloudflare did it: a partition is bad at a check when it
 * is behind the log end and nothing of it was committed since the last
 * check, while the gateway as a whole committed nothing either (a busy
 * gateway starving one partition for others is not stuck). /healthz
 * fails once a partition was bad at health.failures checks in a row
 * and says which partition and why.
 *
 * Status, with Burrow's window rules over the last health.window
 * checks: OK when lag was zero at some point in the window; REWIND when
 * the committed offset went back; STOP when no transaction at all was
 * acknowledged for longer than the window spans while behind; STALL
 * when transactions go through but this partition's committed offset
 * does not move and its lag does not shrink; WARN when it moves but the
 * lag does not shrink; OK otherwise.
 *
 * Lag in seconds, as kafka-lag-exporter estimates it: the time since
 * the log end first passed the committed offset, from a short history
 * of (time, log end) observations.
 *
 * Whether the broker answers at all (for /readyz): the time of the last
 * round with an answer. A round with no partition assigned asks for
 * metadata instead, so an idle member knows too; the first round goes
 * out at start.
 */
#include "config.h"
#include "gateway.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <librdkafka/rdkafka.h>

#define HEALTH_WINDOW_MAX 64
#define HEALTH_ENDS 64
#define HEALTH_HISTORY_MAX 600


struct health_part {
	int32_t partition;
	int64_t committed;	/* acknowledged; -1: nothing committed */
	uint64_t progress;	/* records of this partition acknowledged */
	int64_t commit_ms;	/* last acknowledged transaction carrying it */
	int64_t moved_ms;	/* last time committed/progress changed */
	int64_t end;		/* last stable offset; -1 unknown */
	int64_t end_ms;		/* wall ms of the broker's last answer with it; 0: none */
	int64_t lag;		/* -1 unknown */
	int64_t lag_ms;
	int checked;		/* at least one check done */
	int64_t checked_committed;
	uint64_t checked_progress;
	int bad;		/* consecutive bad checks */
	char *why;
	char *query_error;
	enum health_status status;
	struct health_sample win[HEALTH_WINDOW_MAX];
	size_t nwin;
	struct { int64_t t_ms, end; } ends[HEALTH_ENDS];
	size_t nends;
	/* The last health.history lag measurements: a ring, hist_first the oldest. */
	struct proto_lag_sample *hist;
	size_t nhist, hist_first;
};

/* One round of questions: the partitions, and the log end of each. */
struct health_round {
	struct worker_job job;		/* first */
	int answered;			/* the broker answered a question of this round */
	char *error;			/* else: why not (the first error) */
	size_t n;
	struct health_result {
		int32_t partition;
		int64_t end;
		char *error;
	} *res;
};

struct health {
	struct health_part *parts;
	size_t nparts;
	uint64_t progress, checked_progress;	/* all partitions */
	int64_t interval_ms, timeout_ms;
	int failures;
	size_t window;
	size_t history;			/* health.history */
	char *topic;
	struct event *timer;

	/* The query thread. */
	rd_kafka_t *rk;			/* used by the worker only */
	struct worker *worker;
	int busy;			/* a round is out */
	int64_t answer_ms;		/* monotonic: the broker's last answer; 0: none yet */
	char *answer_error;		/* why the last round had none */
	health_position_cb *position_cb;
	void *position_arg;
};

static void
health_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	kafka_log("lag", level, fac, buf);
}

static struct health_part *
health_find(struct health *h, int32_t partition)
{
	size_t i;

	for (i = 0; i < h->nparts; i++)
		if (h->parts[i].partition == partition)
			return &h->parts[i];
	return NULL;
}

void
health_assigned(struct health *h, int32_t partition, int64_t committed)
{
	struct health_part *p;

	if (h == NULL)
		return;
	if ((p = health_find(h, partition)) == NULL) {
		h->parts = xreallocarray(h->parts, h->nparts + 1, sizeof *h->parts);
		p = &h->parts[h->nparts++];
	} else {
		free(p->why);
		free(p->query_error);
		free(p->hist);
	}
	memset(p, 0, sizeof *p);
	p->partition = partition;
	p->committed = committed;
	p->commit_ms = p->moved_ms = util_now_ms();
	p->end = p->lag = -1;
}

void
health_revoked(struct health *h, int32_t partition)
{
	struct health_part *p;

	if (h == NULL || (p = health_find(h, partition)) == NULL)
		return;
	free(p->why);
	free(p->query_error);
	free(p->hist);
	*p = h->parts[--h->nparts];
}

void
health_committed(struct health *h, int32_t partition, int64_t offset, uint64_t records)
{
	struct health_part *p;

	if (h == NULL || (p = health_find(h, partition)) == NULL)
		return;
	p->commit_ms = util_now_ms();
	if (offset != p->committed || records > 0)
		p->moved_ms = p->commit_ms;
	p->committed = offset;
	p->progress += records;
	h->progress += records;
}

/* Offsets between committed and the consumer's position that never
 * reached us (markers) count as consumed when nothing of ours is open. */
static int64_t
health_effective_committed(const struct health *h, const struct health_part *p)
{
	int64_t c = p->committed, pos;

	if (h->position_cb == NULL || c < 0)
		return c;
	pos = h->position_cb(p->partition, c, h->position_arg);
	if (pos > c)
		c = p->end >= 0 && pos > p->end ? p->end : pos;
	return c;
}

static int64_t
health_lag_ms(const struct health_part *p, int64_t committed, int64_t now)
{
	size_t i;

	if (p->lag <= 0 || p->nends == 0)
		return 0;
	if (committed < 0)
		committed = 0;
	/* The oldest observation whose log end had passed the committed offset. */
	for (i = 0; i < p->nends; i++)
		if (p->ends[i].end > committed)
			return now - p->ends[i].t_ms;
	return 0;
}

enum health_status
health_evaluate(const struct health_sample *win, size_t n, size_t window, int64_t now,
    int64_t commit_ms)
{
	const struct health_sample *first = &win[0], *last = &win[n - 1];
	size_t i;
	int moved = 0;

	if (n == 0)
		return HEALTH_OK;
	for (i = 1; i < n; i++)
		if (win[i].committed >= 0 && win[i - 1].committed > win[i].committed)
			return HEALTH_REWIND;
	for (i = 0; i < n; i++)
		if (win[i].lag <= 0)
			return HEALTH_OK;
	if (n < window)
		return HEALTH_OK;	/* not enough history to judge */
	if (now - commit_ms > last->t_ms - first->t_ms)
		return HEALTH_STOP;
	for (i = 1; i < n; i++)
		if (win[i].committed != win[i - 1].committed)
			moved = 1;
	if (last->lag >= first->lag)
		return moved ? HEALTH_WARN : HEALTH_STALL;
	return HEALTH_OK;
}

static void
health_check(struct health *h, struct health_part *p, int gw_moved, int64_t now)
{
	int64_t c = health_effective_committed(h, p);
	int moved, was_bad = p->bad > 0;

	p->lag = p->end < 0 ? -1 : p->end > c ? p->end - (c < 0 ? 0 : c) : 0;
	if (p->end >= 0 && (p->nends == 0 || p->ends[p->nends - 1].end != p->end)) {
		if (p->nends == HEALTH_ENDS)
			memmove(&p->ends[0], &p->ends[1], --p->nends * sizeof p->ends[0]);
		p->ends[p->nends].t_ms = now;
		p->ends[p->nends++].end = p->end;
	}
	p->lag_ms = health_lag_ms(p, c, now);

	moved = !p->checked || p->committed != p->checked_committed ||
	    p->progress != p->checked_progress;
	if (p->lag > 0 && !moved && !gw_moved) {
		p->bad++;
		free(p->why);
		xasprintf(&p->why, "partition %d: nothing committed for %d check%s (%" PRId64
		    " s) while %" PRId64 " behind the log end (committed %" PRId64 ", log end %"
		    PRId64 ")", (int)p->partition, p->bad, p->bad == 1 ? "" : "s",
		    (now - p->moved_ms) / 1000, p->lag, c < 0 ? 0 : c, p->end);
		if (p->bad == h->failures)
			log_warn("partition unhealthy", "partition=%d reason=%s", (int)p->partition,
			    log_q(p->why));
	} else if (p->end >= 0) {
		if (was_bad && p->bad >= h->failures)
			log_info("partition healthy again", "partition=%d lag=%" PRId64,
			    (int)p->partition, p->lag);
		p->bad = 0;
		free(p->why);
		p->why = NULL;
	}
	p->checked = 1;
	p->checked_committed = p->committed;
	p->checked_progress = p->progress;

	if (h->history > 0) {
		if (p->hist == NULL)
			p->hist = xcalloc(h->history, sizeof *p->hist);
		if (p->nhist == h->history) {
			p->hist[p->hist_first].t_ms = util_now_ms();
			p->hist[p->hist_first].lag = p->lag;
			p->hist_first = (p->hist_first + 1) % h->history;
		} else {
			p->hist[(p->hist_first + p->nhist) % h->history].t_ms = util_now_ms();
			p->hist[(p->hist_first + p->nhist) % h->history].lag = p->lag;
			p->nhist++;
		}
	}
	if (p->end >= 0) {
		if (p->nwin == h->window)
			memmove(&p->win[0], &p->win[1], --p->nwin * sizeof p->win[0]);
		p->win[p->nwin].t_ms = now;
		p->win[p->nwin].committed = c;
		p->win[p->nwin++].lag = p->lag;
		p->status = health_evaluate(p->win, p->nwin, h->window, now, p->commit_ms);
	}
}

/* ---- the query thread ---- */

static void
health_round_free(struct worker_job *j, void *arg)
{
	struct health_round *r = (struct health_round *)(void *)j;
	size_t i;

	for (i = 0; i < r->n; i++)
		free(r->res[i].error);
	free(r->res);
	free(r->error);
	free(r);
}

/* Ask the broker for each partition's last stable offset. @locality worker */
static void
health_query(struct worker *w, struct worker_jobs *jobs, void *arg)
{
	struct health *h = arg;
	struct worker_job *j;
	struct health_round *r;
	const struct rd_kafka_metadata *md;
	rd_kafka_resp_err_t err;
	int64_t lo, hi;
	size_t i;

	while ((j = TAILQ_FIRST(jobs)) != NULL) {
		r = (struct health_round *)(void *)j;
		/* No partition to ask about: is the broker there at all? */
		if (r->n == 0) {
			err = rd_kafka_metadata(h->rk, 0, NULL, &md, (int)h->timeout_ms);
			if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
				r->answered = 1;
				rd_kafka_metadata_destroy(md);
			} else
				r->error = xstrdup(rd_kafka_err2str(err));
		}
		for (i = 0; i < r->n; i++) {
			err = rd_kafka_query_watermark_offsets(h->rk, h->topic,
			    r->res[i].partition, &lo, &hi, (int)h->timeout_ms);
			worker_beat(w);
			if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
				r->res[i].end = hi;
				r->answered = 1;
			} else {
				r->res[i].end = -1;
				r->res[i].error = xstrdup(rd_kafka_err2str(err));
				if (r->error == NULL)
					r->error = xstrdup(r->res[i].error);
			}
		}
		worker_done(w, jobs, j);
	}
}

/* A round came back: judge each partition still ours. @locality loop */
static void
health_answered(struct worker_job *j, void *arg)
{
	struct health *h = arg;
	struct health_round *r = (struct health_round *)(void *)j;
	struct health_part *p;
	size_t i;
	int64_t now = util_now_ms();
	int gw_moved;

	h->busy = 0;
	if (r->answered) {
		h->answer_ms = util_mono_ms();
		free(h->answer_error);
		h->answer_error = NULL;
	} else if (r->error != NULL) {
		free(h->answer_error);
		h->answer_error = xstrdup(r->error);
	}
	gw_moved = h->progress != h->checked_progress;
	h->checked_progress = h->progress;
	for (i = 0; i < r->n; i++) {
		/* Revoked while the question was out: not ours to judge. */
		if ((p = health_find(h, r->res[i].partition)) == NULL)
			continue;
		free(p->query_error);
		p->query_error = r->res[i].error;
		r->res[i].error = NULL;
		if (r->res[i].end >= 0) {
			p->end = r->res[i].end;
			p->end_ms = now;
		} else
			log_debug("log end unknown", "partition=%d error=%s", (int)p->partition,
			    log_q(p->query_error));
		health_check(h, p, gw_moved, now);
	}
	health_round_free(j, arg);
}

static void
health_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct health *h = arg;
	struct health_round *r;
	size_t i;

	if (h->busy)
		return;
	r = xcalloc(1, sizeof *r);
	r->n = h->nparts;
	r->res = xcalloc(r->n + 1, sizeof *r->res);
	for (i = 0; i < h->nparts; i++)
		r->res[i].partition = h->parts[i].partition;
	h->busy = 1;
	worker_post(h->worker, &r->job);
}

/* Run a check round now (tests, paiactl lag --now): the answer is async. */
void
health_poke(struct health *h)
{
	if (h != NULL)
		health_tick_cb(-1, 0, h);
}

struct health *
health_start(struct event_base *base, const struct config *conf, health_position_cb *pos_cb,
    void *pos_arg, char **cause)
{
	struct health *h;
	rd_kafka_conf_t *kc = rd_kafka_conf_new();
	char errstr[512];
	struct timeval tv;
	size_t i;

	for (i = 0; i < config_count(conf); i++) {
		struct config_entry e = config_at(conf, i);
		/* Only what a connection needs: this handle joins no group and produces nothing. */
		if (strcmp(e.section, "kafka") != 0 || (strcmp(e.key, "bootstrap.servers") != 0 &&
		    strncmp(e.key, "security.", 9) != 0 && strncmp(e.key, "ssl.", 4) != 0 &&
		    strncmp(e.key, "sasl.", 5) != 0 && strcmp(e.key, "client.id") != 0))
			continue;
		if (rd_kafka_conf_set(kc, e.key, e.value, errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
			xasprintf(cause, "kafka.%s: %s", e.key, errstr);
			rd_kafka_conf_destroy(kc);
			return NULL;
		}
	}
	/* ListOffsets then answers with the last stable offset. */
	rd_kafka_conf_set(kc, "isolation.level", "read_committed", errstr, sizeof errstr);
	rd_kafka_conf_set(kc, "log_level", "3", errstr, sizeof errstr);
	rd_kafka_conf_set_log_cb(kc, health_log_cb);
	h = xcalloc(1, sizeof *h);
	if ((h->rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, errstr, sizeof errstr)) == NULL) {
		xasprintf(cause, "creating the lag client: %s", errstr);
		rd_kafka_conf_destroy(kc);
		free(h);
		return NULL;
	}
	h->topic = xstrdup(config_get(conf, "gateway", "tasks_topic"));
	h->position_cb = pos_cb;
	h->position_arg = pos_arg;
	h->interval_ms = config_get_int(conf, "health", "interval_ms");
	h->timeout_ms = config_get_int(conf, "health", "query_timeout_ms");
	h->failures = (int)config_get_int(conf, "health", "failures");
	h->window = (size_t)config_get_int(conf, "health", "window");
	h->history = (size_t)config_get_int(conf, "health", "history");
	h->worker = worker_start(base, "health", health_query, health_answered, h);
	h->timer = event_new(base, -1, EV_PERSIST, health_tick_cb, h);
	tv.tv_sec = h->interval_ms / 1000;
	tv.tv_usec = (h->interval_ms % 1000) * 1000;
	event_add(h->timer, &tv);
	/* The first round now: whether the broker answers is known early (/readyz). */
	health_tick_cb(-1, 0, h);
	return h;
}

void
health_stop(struct health *h)
{
	size_t i;

	if (h == NULL)
		return;
	worker_stop(h->worker, 0, health_round_free);
	event_free(h->timer);
	rd_kafka_destroy(h->rk);
	for (i = 0; i < h->nparts; i++) {
		free(h->parts[i].why);
		free(h->parts[i].query_error);
		free(h->parts[i].hist);
	}
	free(h->parts);
	free(h->topic);
	free(h->answer_error);
	free(h);
}

static int
health_part_cmp(const void *a, const void *b)
{
	const struct health_part *x = a, *y = b;

	return (x->partition > y->partition) - (x->partition < y->partition);
}

size_t
health_partitions(struct health *h, struct health_view **out)
{
	size_t i;

	*out = NULL;
	if (h == NULL || h->nparts == 0)
		return 0;
	qsort(h->parts, h->nparts, sizeof *h->parts, health_part_cmp);
	*out = xcalloc(h->nparts, sizeof **out);
	for (i = 0; i < h->nparts; i++) {
		const struct health_part *p = &h->parts[i];
		struct health_view *v = &(*out)[i];

		v->partition = p->partition;
		v->committed = p->committed;
		v->end = p->end;
		v->end_ms = p->end_ms;
		v->lag = p->lag;
		v->lag_ms = p->lag_ms;
		v->status = p->status;
		v->healthy = p->bad < h->failures;
		v->bad = p->bad;
		v->why = p->why;
		v->query_error = p->query_error;
	}
	return h->nparts;
}

size_t
health_history(struct health *h, int32_t partition, struct proto_lag_sample *out, size_t max)
{
	struct health_part *p = h != NULL ? health_find(h, partition) : NULL;
	size_t i, n;

	if (p == NULL)
		return 0;
	n = p->nhist < max ? p->nhist : max;
	/* The newest n, oldest first. */
	for (i = 0; i < n; i++)
		out[i] = p->hist[(p->hist_first + p->nhist - n + i) % h->history];
	return n;
}

int
health_reachable(struct health *h, char **why)
{
	int64_t limit = 3 * h->interval_ms + h->timeout_ms, age;

	*why = NULL;
	if (h->answer_ms == 0) {
		xasprintf(why, "no answer from the broker yet%s%s", h->answer_error != NULL ?
		    ": " : "", h->answer_error != NULL ? h->answer_error : "");
		return 0;
	}
	if ((age = util_mono_ms() - h->answer_ms) > limit) {
		xasprintf(why, "no answer from the broker for %lld s%s%s", (long long)(age / 1000),
		    h->answer_error != NULL ? ": " : "", h->answer_error != NULL ?
		    h->answer_error : "");
		return 0;
	}
	return 1;
}

int64_t
health_stalled_ms(struct health *h)
{
	return worker_stalled_ms(h->worker);
}

int
health_ok(struct health *h, char **why)
{
	struct health_view *v;
	size_t n, i;
	int ok = 1;
	char *s = NULL, *t;

	*why = NULL;
	n = health_partitions(h, &v);
	for (i = 0; i < n; i++) {
		if (v[i].healthy)
			continue;
		ok = 0;
		xasprintf(&t, "%s%s\n", s != NULL ? s : "", v[i].why);
		free(s);
		s = t;
	}
	free(v);
	*why = s;
	return ok;
}
