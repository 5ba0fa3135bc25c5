/*
 * outbox.c: records waiting for a transaction, and the batches the
 * committer has not yet answered.
 *
 * Results, dead letters and requeued tasks go to the committer at once
 * when no transaction is in flight (an idle gateway adds no wait to a
 * result); behind one, they wait for its answer, at most
 * gateway.batch_ms, or until gateway.batch_max of them are queued. So a
 * batch is as large as what arrived during the last transaction: small
 * when the rate is low, large when it is high (the committer also
 * merges what is queued behind it). gateway.batch_adaptive = false
 * keeps the fixed wait (fewer, larger transactions at low rates). Batches
 * go at most one every gateway.batch_min_ms: every transaction costs
 * librdkafka's transactional producer CPU of its own (about 1.7 ms of
 * 2.0.2's main thread; docs/performance.md), so at high rates a few more
 * milliseconds of gathering buy far fewer transactions; at low rates
 * results are further apart than that and go at once all the same. A
 * Once a batch carried gateway.batch_busy_records or more (results came
 * faster than transactions go one by one), the next waits
 * gateway.batch_busy_ms after it instead: at 1,000 results a second that
 * halves librdkafka's CPU per result, and a rate low enough for latency
 * to matter never fills such a batch. A
 * batch goes as one, with every partition's commit
 * point and metadata from the ledger (an offset is marked done in the
 * ledger when its record joins a batch). When the committer answers, the
 * tasks whose results the batch carried are reported (task.c), health
 * learns how far each partition's committed offset moved, and a fatal
 * answer stops the gateway.
 *
 * It does not decide what a record says (task.c and proto/ do), nor talk
 * to Kafka (committer.c does). Everything here runs in the loop.
 */
#include "config.h"
#include "gateway.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <event2/event.h>

/* A queued record and what it completes. */
struct outbox_rec {
	struct commit_record rec;
	int32_t partition;	/* -1: no offset to mark done */
	int64_t offset;
	struct task *task;	/* result records */
};

/* A batch handed to the committer, awaiting its answer. */
struct outbox_batch {
	uint64_t id;
	struct task **tasks;
	size_t ntasks;
	struct outbox_off {
		int32_t partition;
		int64_t offset;
		uint64_t records;	/* of this partition in the batch */
	} *offs;
	size_t noffs;
	TAILQ_ENTRY(outbox_batch) entry;
};
TAILQ_HEAD(outbox_batches, outbox_batch);

struct outbox {
	struct gw *gw;
	struct outbox_rec *pending;
	size_t npending, cap;
	struct outbox_batches awaiting;
	struct event *timer;
	uint64_t next_id;
	int64_t last_flush_ms;	/* monotonic: when the last batch went */
	size_t last_nrecords;	/* and how many records it carried */
};

static void
outbox_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	outbox_flush(arg);
}

struct outbox *
outbox_new(struct gw *gw)
{
	struct outbox *o = xcalloc(1, sizeof *o);

	o->gw = gw;
	o->next_id = 1;
	TAILQ_INIT(&o->awaiting);
	o->timer = evtimer_new(gw->base, outbox_timer_cb, o);
	return o;
}

static void
outbox_batch_free(struct outbox_batch *a)
{
	free(a->tasks);
	free(a->offs);
	free(a);
}

void
outbox_free(struct outbox *o)
{
	struct outbox_batch *a;
	size_t i;

	if (o == NULL)
		return;
	while ((a = TAILQ_FIRST(&o->awaiting)) != NULL) {
		TAILQ_REMOVE(&o->awaiting, a, entry);
		outbox_batch_free(a);
	}
	for (i = 0; i < o->npending; i++) {
		free(o->pending[i].rec.topic);
		free(o->pending[i].rec.key);
		free(o->pending[i].rec.value);
	}
	free(o->pending);
	event_free(o->timer);
	free(o);
}

int
outbox_idle(const struct outbox *o)
{
	return o->npending == 0 && TAILQ_EMPTY(&o->awaiting);
}

/*
 * Nothing in flight: the batch goes now, or when gateway.batch_min_ms
 * (gateway.batch_busy_ms after a busy batch) since the last one has
 * passed (the timer brought forward to then).
 */
static void
outbox_flush_soon(struct outbox *o)
{
	struct gw *gw = o->gw;
	int64_t min = config_get_int(gw->conf, "gateway", "batch_min_ms");
	int64_t busy = config_get_int(gw->conf, "gateway", "batch_busy_ms");
	int64_t left, most = config_get_int(gw->conf, "gateway", "batch_ms");
	struct timeval tv, due, now, when;

	if (busy > min && (long long)o->last_nrecords >=
	    config_get_int(gw->conf, "gateway", "batch_busy_records"))
		min = busy;
	left = o->last_flush_ms + min - util_mono_ms();

	if (o->last_flush_ms == 0 || left <= 0) {
		outbox_flush(o);
		return;
	}
	if (left > most)
		left = most;
	tv.tv_sec = (time_t)(left / 1000);
	tv.tv_usec = (suseconds_t)((left % 1000) * 1000);
	/* Sooner than a pending batch_ms timer, never later (both in wall-clock time). */
	if (evtimer_pending(o->timer, &due)) {
		event_base_gettimeofday_cached(gw->base, &now);
		timeradd(&now, &tv, &when);
		if (timercmp(&due, &when, <=))
			return;
	}
	evtimer_add(o->timer, &tv);
}

void
outbox_queue(struct outbox *o, enum commit_kind kind, const char *topic, const char *key,
    char *value, int32_t partition, int64_t offset, struct task *t)
{
	struct gw *gw = o->gw;
	struct outbox_rec *p;
	struct timeval tv;
	long long ms = config_get_int(gw->conf, "gateway", "batch_ms");

	if (o->npending == o->cap) {
		o->cap = o->cap == 0 ? 64 : o->cap * 2;
		o->pending = xreallocarray(o->pending, o->cap, sizeof *o->pending);
	}
	p = &o->pending[o->npending++];
	p->rec.kind = kind;
	p->rec.partition = partition;
	p->rec.topic = xstrdup(topic);
	p->rec.key = key != NULL ? xstrdup(key) : NULL;
	p->rec.value = value;
	p->rec.len = strlen(value);
	p->partition = partition;
	p->offset = offset;
	p->task = t;
	if ((long long)o->npending >= config_get_int(gw->conf, "gateway", "batch_max")) {
		outbox_flush(o);
		return;
	}
	if (gw->committer != NULL && committer_inflight(gw->committer) == 0 &&
	    config_get_bool(gw->conf, "gateway", "batch_adaptive")) {
		outbox_flush_soon(o);
		return;
	}
	if (!evtimer_pending(o->timer, NULL)) {
		tv.tv_sec = ms / 1000;
		tv.tv_usec = (ms % 1000) * 1000;
		evtimer_add(o->timer, &tv);
	}
}

void
outbox_flush(struct outbox *o)
{
	struct gw *gw = o->gw;
	struct commit_batch *b;
	struct outbox_batch *a;
	int32_t *parts, *pending_parts;
	size_t i, j, n, nparts;

	evtimer_del(o->timer);
	if (o->npending == 0 || gw->committer == NULL)
		return;
	o->last_flush_ms = util_mono_ms();
	b = xcalloc(1, sizeof *b);
	a = xcalloc(1, sizeof *a);
	b->id = a->id = o->next_id++;
	b->epoch = gw->epoch;
	b->records = xreallocarray(NULL, o->npending, sizeof *b->records);
	a->tasks = xreallocarray(NULL, o->npending, sizeof *a->tasks);
	pending_parts = xreallocarray(NULL, o->npending, sizeof *pending_parts);
	for (i = 0; i < o->npending; i++) {
		b->records[i] = o->pending[i].rec;
		pending_parts[i] = o->pending[i].partition;
		if (o->pending[i].partition >= 0)
			ledger_done(gw->ledger, o->pending[i].partition, o->pending[i].offset);
		if (o->pending[i].task != NULL) {
			o->pending[i].task->epoch = gw->epoch;
			a->tasks[a->ntasks++] = o->pending[i].task;
		}
	}
	b->nrecords = o->npending;
	o->last_nrecords = o->npending;
	o->npending = 0;

	/* Every partition's commit point and metadata ride along. */
	nparts = ledger_partitions(gw->ledger, &parts);
	b->offsets_topic = xstrdup(gw->tasks_topic);
	b->offsets = nparts > 0 ? xcalloc(nparts, sizeof *b->offsets) : NULL;
	for (i = 0, n = 0; i < nparts; i++) {
		int64_t cp = ledger_commit_point(gw->ledger, parts[i]);
		if (cp < 0)
			continue;
		b->offsets[n].partition = parts[i];
		b->offsets[n].offset = cp;
		b->offsets[n].metadata = ledger_metadata(gw->ledger, parts[i]);
		n++;
	}
	b->noffsets = n;
	free(parts);
	/* What health learns when this batch is acknowledged. */
	a->offs = n > 0 ? xcalloc(n, sizeof *a->offs) : NULL;
	a->noffs = n;
	for (i = 0; i < n; i++) {
		a->offs[i].partition = b->offsets[i].partition;
		a->offs[i].offset = b->offsets[i].offset;
	}
	for (i = 0; i < b->nrecords; i++)
		for (j = 0; j < a->noffs && pending_parts[i] >= 0; j++)
			if (a->offs[j].partition == pending_parts[i])
				a->offs[j].records++;
	free(pending_parts);
	b->group_metadata = gw->intake != NULL ? intake_group_metadata(gw->intake) : NULL;
	TAILQ_INSERT_TAIL(&o->awaiting, a, entry);
	log_debug("batch submitted", "batch=%" PRIu64 " records=%zu offsets=%zu", b->id,
	    b->nrecords, b->noffsets);
	committer_submit(gw->committer, b);
	task_update_intake(gw);
}

void
outbox_answered(uint64_t id, int ok, int dropped, const char *error, void *arg)
{
	struct outbox *o = arg;
	struct gw *gw = o->gw;
	struct outbox_batch *a;
	size_t i;

	if (id == 0) {
		/* The committer itself failed (init_transactions). */
		task_fatal(gw, "transactional producer failed, stopping", error);
		return;
	}
	TAILQ_FOREACH(a, &o->awaiting, entry)
		if (a->id == id)
			break;
	if (a == NULL)
		fatalx("committer answered unknown batch %" PRIu64, id);
	TAILQ_REMOVE(&o->awaiting, a, entry);
	if (!ok) {
		/* The committer only gives up on fatal errors: stop intake. */
		log_error("transaction failed", "batch=%" PRIu64, id);
		outbox_batch_free(a);
		task_fatal(gw, "transaction failed, stopping", error);
		return;
	}
	/*
	 * Dropped: the partitions were given up before this batch could
	 * commit; its results are not reported, their new owner (perhaps this
	 * gateway again) runs the tasks.
	 */
	for (i = 0; i < a->ntasks; i++) {
		if (dropped && a->tasks[i]->partition >= 0)
			task_dropped(a->tasks[i]);
		else
			task_reported(a->tasks[i]);
	}
	for (i = 0; i < a->noffs && !dropped; i++)
		health_committed(gw->health, a->offs[i].partition, a->offs[i].offset,
		    a->offs[i].records);
	outbox_batch_free(a);
	/* What came in during that transaction goes now, as one batch. */
	if (o->npending > 0 && committer_inflight(gw->committer) == 0 &&
	    config_get_bool(gw->conf, "gateway", "batch_adaptive"))
		outbox_flush_soon(o);
	task_committed(gw);
}
