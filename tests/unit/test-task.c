/*
 * test-task.c: the task state machine (gateway/task.c with outbox.c,
 * folders.c, claims.c and views.c) and what it makes of intake's
 * rebalances, built alone: the gateway's state is a struct gw made here
 * as main.c makes it, with real file:// storage below a temporary
 * folder (no server), a real ledger, real launch claims and task
 * folders, and three stand-ins linked in place of the parts that need a
 * broker or a game:
 *
 *   - a committer (committer_start, _submit, _sync, ... defined below, so
 *     the static library does not pull gateway/committer.o): it keeps
 *     each batch, and the test answers it, ok or fatal, through the
 *     callback the outbox gave it (outbox_answered);
 *   - an intake (intake_start, _set_paused, ... likewise for intake.o):
 *     the test delivers messages and rebalances through the callbacks
 *     task.c gives it, as librdkafka's would arrive;
 *   - a runner (a struct runner_ops of its own): each job waits until
 *     the test says it runs and how it ends (exit 0, exit 3, timeout,
 *     infra, invalid, cancelled), after writing what the game leaves in
 *     output/.
 *
 * Health is the real one (its lag client has no broker to ask, and no
 * check round is started). The loop is the test's; it is run until a
 * condition holds, with a generous deadline.
 */
#include "config.h"
#include "gateway.h"
#include "options.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <event2/event.h>

#define DEADLINE_MS 10000	/* for conditions that hold at once on any machine */
#define MAX_BATCHES 64
#define MAX_JOBS 32
#define MAX_PARTS 8

/* ---- the committer (in place of gateway/committer.o) ---- */

struct committer {
	struct event_base *base;
	committer_done_cb *cb;
	void *arg;
	struct commit_batch *batches[MAX_BATCHES];	/* every batch handed over */
	int answered[MAX_BATCHES];
	size_t nbatches;
	int nsyncs;
	int sync_timeout_ms;
	int sync_answers;	/* committer_sync answers what is open, ok */
	int auto_answer;	/* every batch is answered ok at the loop's next turn */
	struct event *answer_ev;
	uint64_t committed;
	uint64_t epoch;		/* what the gateway last told it */
};

static void committer_answer(struct committer *, size_t, int, const char *);

static void
committer_answer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct committer *c = arg;
	size_t i;

	for (i = 0; i < c->nbatches; i++)
		if (!c->answered[i])
			committer_answer(c, i, 1, NULL);
}

struct committer *
committer_start(struct event_base *base, const struct config *conf, const char *txid,
    committer_done_cb *cb, void *arg, char **cause)
{
	struct committer *c = xcalloc(1, sizeof *c);

	c->base = base;
	c->cb = cb;
	c->arg = arg;
	c->answer_ev = event_new(base, -1, 0, committer_answer_cb, c);
	return c;
}

void
committer_submit(struct committer *c, struct commit_batch *b)
{
	if (c->nbatches == MAX_BATCHES)
		fail_msg("more than %d batches", MAX_BATCHES);
	/* The consumer's group metadata rides along only with a real intake. */
	assert_null(b->group_metadata);
	c->batches[c->nbatches++] = b;
	if (c->auto_answer)
		event_active(c->answer_ev, EV_TIMEOUT, 0);
}

void
committer_set_consumer(struct committer *c, void *rk)
{
}

void
committer_set_epoch(struct committer *c, uint64_t epoch)
{
	c->epoch = epoch;
}

int
committer_sync(struct committer *c, int timeout_ms)
{
	c->nsyncs++;
	c->sync_timeout_ms = timeout_ms;
	if (c->sync_answers)
		committer_answer_cb(-1, 0, c);
	return committer_inflight(c) == 0 ? 0 : -1;
}

size_t
committer_inflight(const struct committer *c)
{
	size_t i, n = 0;

	for (i = 0; i < c->nbatches; i++)
		n += !c->answered[i];
	return n;
}

void
committer_stats(const struct committer *c, uint64_t *committed, uint64_t *aborted)
{
	*committed = c->committed;
	*aborted = 0;
}

void
commit_batch_free(struct commit_batch *b)
{
	size_t i;

	if (b == NULL)
		return;
	for (i = 0; i < b->nrecords; i++) {
		free(b->records[i].topic);
		free(b->records[i].key);
		free(b->records[i].value);
	}
	free(b->records);
	for (i = 0; i < b->noffsets; i++)
		free(b->offsets[i].metadata);
	free(b->offsets);
	free(b->offsets_topic);
	free(b->error);
	free(b);
}

void
committer_stop(struct committer *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->nbatches; i++)
		commit_batch_free(c->batches[i]);
	event_free(c->answer_ev);
	free(c);
}

/* Answer batch i (kept for the test to read until the committer stops). */
static void
committer_answer_as(struct committer *c, size_t i, int ok, int dropped, const char *error)
{
	assert_true(i < c->nbatches);
	assert_false(c->answered[i]);
	c->answered[i] = 1;
	if (ok)
		c->committed++;
	c->cb(c->batches[i]->id, ok, dropped, error, c->arg);
}

static void
committer_answer(struct committer *c, size_t i, int ok, const char *error)
{
	committer_answer_as(c, i, ok, 0, error);
}

/* ---- the intake (in place of gateway/intake.o) ---- */

struct intake {
	const struct intake_cbs *cbs;
	void *arg;
	int paused;
	int32_t parts[MAX_PARTS];	/* assigned */
	int capped[MAX_PARTS];
	int64_t position[MAX_PARTS];
	int64_t high[MAX_PARTS];
	size_t nparts;
};

static int
intake_index(const struct intake *in, int32_t partition)
{
	size_t i;

	for (i = 0; i < in->nparts; i++)
		if (in->parts[i] == partition)
			return (int)i;
	return -1;
}

struct intake *
intake_start(struct event_base *base, const struct config *conf, const char *topic,
    const char *group, const struct intake_cbs *cbs, void *arg, char **cause)
{
	struct intake *in = xcalloc(1, sizeof *in);

	in->cbs = cbs;
	in->arg = arg;
	return in;
}

void
intake_set_paused(struct intake *in, int paused)
{
	in->paused = paused;
}

int
intake_set_capped(struct intake *in, int32_t partition, int capped)
{
	int i = intake_index(in, partition), changed;

	if (i < 0)
		return 0;
	changed = in->capped[i] != capped;
	in->capped[i] = capped;
	return changed;
}

int
intake_paused(const struct intake *in, int32_t partition)
{
	int i = intake_index(in, partition);

	return in->paused || (i >= 0 && in->capped[i]);
}

size_t
intake_assigned(const struct intake *in, int32_t **out)
{
	*out = xcalloc(in->nparts + 1, sizeof **out);
	memcpy(*out, in->parts, in->nparts * sizeof **out);
	return in->nparts;
}

void *
intake_handle(struct intake *in)
{
	return NULL;
}

void *
intake_group_metadata(struct intake *in)
{
	return NULL;
}

int64_t
intake_high(struct intake *in, int32_t partition)
{
	int i = intake_index(in, partition);

	return i >= 0 ? in->high[i] : -1;
}

int64_t
intake_position(struct intake *in, int32_t partition)
{
	int i = intake_index(in, partition);

	return i >= 0 ? in->position[i] : -1;
}

void
intake_stop(struct intake *in)
{
	free(in);
}

/* ---- the runner ---- */

struct fake_job {
	struct runner_job gen;		/* first */
	struct fake_runner *r;
	char *task_id;
	int attempt;
	char *game;
	char *dir;
	char *entry;
	char *params;
	long timeout_s;
	int gpu;
	int32_t partition;
	int64_t offset;
	runner_started_cb *started_cb;
	runner_done_cb *done_cb;
	void *arg;
	int running, ended, abandoned, cancels;
};

struct fake_runner {
	struct runner gen;		/* first */
	struct fake_job *jobs[MAX_JOBS];	/* every start, in order */
	size_t njobs;
	int fail_starts;		/* starts that fail at once (infra) */
	int nstarts;
	char *released_id;
	int released_first, released_last, nreleased;
};

static struct runner_job *
fake_start(struct runner *rr, const struct runner_req *req, runner_started_cb *started,
    runner_done_cb *done, void *arg)
{
	struct fake_runner *r = (struct fake_runner *)rr;
	struct runner_outcome o;
	struct fake_job *j;

	r->nstarts++;
	if (r->fail_starts > 0) {
		r->fail_starts--;
		memset(&o, 0, sizeof o);
		o.end = RUNNER_INFRA;
		o.message = "the game could not start";
		done(NULL, &o, arg);
		return NULL;
	}
	if (r->njobs == MAX_JOBS)
		fail_msg("more than %d jobs", MAX_JOBS);
	j = xcalloc(1, sizeof *j);
	j->gen.ops = rr->ops;
	j->r = r;
	j->task_id = xstrdup(req->task_id);
	j->attempt = req->attempt;
	j->game = xstrdup(req->game);
	j->dir = xstrdup(req->dir);
	j->entry = xstrdup(req->entry);
	j->params = xstrdup(req->params);
	j->timeout_s = req->timeout_s;
	j->gpu = req->gpu;
	j->partition = req->partition;
	j->offset = req->offset;
	j->started_cb = started;
	j->done_cb = done;
	j->arg = arg;
	r->jobs[r->njobs++] = j;
	return &j->gen;
}

static void
fake_cancel(struct runner_job *jj)
{
	((struct fake_job *)jj)->cancels++;
}

static void
fake_abandon(struct runner_job *jj)
{
	struct fake_job *j = (struct fake_job *)jj;

	assert_false(j->ended);
	j->abandoned = 1;
}

static pid_t
fake_pid(const struct runner_job *jj)
{
	const struct fake_job *j = (const struct fake_job *)jj;

	return j->running ? 4000 + j->attempt : 0;
}

static size_t
fake_active(const struct runner *rr)
{
	const struct fake_runner *r = (const struct fake_runner *)rr;
	size_t i, n = 0;

	for (i = 0; i < r->njobs; i++)
		n += !r->jobs[i]->ended && !r->jobs[i]->abandoned;
	return n;
}

static void
fake_free(struct runner *rr)
{
	struct fake_runner *r = (struct fake_runner *)rr;
	size_t i;

	for (i = 0; i < r->njobs; i++) {
		free(r->jobs[i]->task_id);
		free(r->jobs[i]->game);
		free(r->jobs[i]->dir);
		free(r->jobs[i]->entry);
		free(r->jobs[i]->params);
		free(r->jobs[i]);
	}
	free(r->released_id);
	free(r);
}

static void
fake_release(struct runner *rr, const char *task_id, int first, int last)
{
	struct fake_runner *r = (struct fake_runner *)rr;

	free(r->released_id);
	r->released_id = xstrdup(task_id);
	r->released_first = first;
	r->released_last = last;
	r->nreleased++;
}

static const struct runner_ops fake_runner_ops = {
	"fake", fake_start, fake_cancel, fake_abandon, fake_pid, fake_active, fake_free, 1,
	fake_release,
};

/* The game is running now. */
static void
job_run(struct fake_job *j)
{
	assert_false(j->running);
	j->running = 1;
	j->started_cb(&j->gen, j->arg);
}

/* The game ended so. */
static void
job_end(struct fake_job *j, enum runner_end end, int code, const char *message)
{
	struct runner_outcome o;

	assert_false(j->ended);
	assert_false(j->abandoned);
	memset(&o, 0, sizeof o);
	o.end = end;
	o.exit_code = code;
	o.message = message;
	j->ended = 1;
	j->running = 0;
	j->done_cb(&j->gen, &o, j->arg);
}

/* What the game leaves in output/name. */
static void
job_write(struct fake_job *j, const char *name, const char *text)
{
	char *path;
	int fd;

	xasprintf(&path, "%s/output/%s", j->dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		fail_msg("%s: %s", path, strerror(errno));
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	free(path);
}

/* ---- the gateway, made as main.c makes it ---- */

struct fx {
	char tmp[256];
	char *root;		/* storage.file_root */
	char *prog_url;
	struct gw gw;
	struct fake_runner *runner;
	struct committer *committer;
	struct intake *in;
};

static const struct intake_cbs fx_intake_cbs = {
	task_on_message,
	task_on_assigned,
	task_on_settled,
	task_on_revoked,
	task_on_fatal,
};

static void
fx_set(struct fx *f, const char *section, const char *key, const char *value)
{
	char *cause = NULL;

	if (config_set(f->gw.conf, section, key, value, &cause) != 0)
		fail_msg("%s.%s: %s", section, key, cause);
}

static void
fx_write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	if (fp == NULL)
		fail_msg("%s: %s", path, strerror(errno));
	fputs(text, fp);
	fclose(fp);
}

/*
 * The gateway with opts ("section.key=value", NULL-terminated) over
 * these defaults: every record is a batch of its own (batch_max 1,
 * batch_ms a minute), max_inflight 4, no prefetch, runner.max_attempts
 * 2, revoke_commit_timeout_ms 1234, transfers not retried; health only
 * when asked for.
 */
static struct fx *
fx_new(const char *const *opts, int with_health)
{
	struct fx *f = xcalloc(1, sizeof *f);
	const char *tmpdir = getenv("TMPDIR");
	struct gw *gw = &f->gw;
	char *cause = NULL, *s, *dot, *eq, *section, *key;
	size_t i;

	snprintf(f->tmp, sizeof f->tmp, "%s/paia-test-task.XXXXXX",
	    tmpdir != NULL && *tmpdir != '\0' ? tmpdir : "/tmp");
	assert_non_null(mkdtemp(f->tmp));
	xasprintf(&f->root, "%s/root", f->tmp);
	assert_int_equal(mkdir(f->root, 0755), 0);
	xasprintf(&s, "%s/prog.py", f->root);
	fx_write_file(s, "print('the program')\n");
	xasprintf(&f->prog_url, "file://%s", s);
	free(s);

	gw->conf = config_new(options_schema, options_passthrough);
	fx_set(f, "storage", "file_root", f->root);
	xasprintf(&s, "file://%s/results", f->root);
	fx_set(f, "storage", "result_prefix", s);
	free(s);
	fx_set(f, "gateway", "batch_max", "1");
	fx_set(f, "gateway", "batch_ms", "60000");
	fx_set(f, "gateway", "max_inflight", "4");
	fx_set(f, "gateway", "prefetch", "0");
	fx_set(f, "gateway", "revoke_commit_timeout_ms", "1234");
	fx_set(f, "runner", "max_attempts", "2");
	fx_set(f, "storage", "retries", "0");
	fx_set(f, "health", "interval_ms", "3600000");
	for (i = 0; opts != NULL && opts[i] != NULL; i++) {
		dot = strchr(opts[i], '.');
		eq = strchr(opts[i], '=');
		assert_true(dot != NULL && eq != NULL && dot < eq);
		section = xstrndup(opts[i], (size_t)(dot - opts[i]));
		key = xstrndup(dot + 1, (size_t)(eq - dot - 1));
		fx_set(f, section, key, eq + 1);
		free(section);
		free(key);
	}

	xasprintf(&gw->state_dir, "%s/state", f->tmp);
	xasprintf(&gw->journal_dir, "%s/state/launched", f->tmp);
	xasprintf(&s, "%s/tasks", gw->state_dir);
	assert_int_equal(util_mkdirs(s, 0750, &cause), 0);
	free(s);
	assert_int_equal(util_mkdirs(gw->journal_dir, 0750, &cause), 0);
	gw->instance = xstrdup("gw-test");
	gw->group_id = xstrdup("paia-gateway");
	gw->bootstrap = xstrdup("");
	gw->tasks_topic = config_get(gw->conf, "gateway", "tasks_topic");
	gw->results_topic = config_get(gw->conf, "gateway", "results_topic");
	gw->dlq_topic = config_get(gw->conf, "gateway", "dlq_topic");
	gw->max_inflight = (size_t)config_get_int(gw->conf, "gateway", "max_inflight");
	gw->prefetch = (size_t)config_get_int(gw->conf, "gateway", "prefetch");
	gw->max_history = (size_t)config_get_int(gw->conf, "gateway", "history");
	gw->start_ms = util_now_ms();

	gw->base = event_base_new();
	if (task_init(gw, &cause) != 0)
		fail_msg("task_init: %s", cause);
	gw->ledger = ledger_new();
	gw->evcurl = evcurl_new(gw->base);
	if ((gw->storage = storage_new(gw->base, gw->evcurl, gw->conf, &cause)) == NULL)
		fail_msg("storage_new: %s", cause);
	f->runner = xcalloc(1, sizeof *f->runner);
	f->runner->gen.ops = &fake_runner_ops;
	gw->runner = &f->runner->gen;
	gw->committer = f->committer = committer_start(gw->base, gw->conf, "paia-gateway-gw-test",
	    outbox_answered, gw->outbox, &cause);
	if (with_health &&
	    (gw->health = health_start(gw->base, gw->conf, task_position, gw, &cause)) == NULL)
		fail_msg("health_start: %s", cause);
	gw->intake = f->in = intake_start(gw->base, gw->conf, gw->tasks_topic, gw->group_id,
	    &fx_intake_cbs, gw, &cause);
	return f;
}

/* Stop in main.c's order. */
static void
fx_free(struct fx *f)
{
	struct gw *gw = &f->gw;

	intake_stop(gw->intake);
	health_stop(gw->health);
	committer_stop(gw->committer);
	task_shutdown(gw);
	runner_free(gw->runner);
	storage_free(gw->storage);
	evcurl_free(gw->evcurl);
	ledger_free(gw->ledger);
	event_base_free(gw->base);
	free(gw->state_dir);
	free(gw->journal_dir);
	free(gw->instance);
	free(gw->group_id);
	free(gw->bootstrap);
	config_free(gw->conf);
	util_rmtree(f->tmp);
	free(f->root);
	free(f->prog_url);
	free(f);
}

/* Partition p is assigned, committed at committed with that metadata. */
static void
fx_assign(struct fx *f, int32_t p, int64_t committed, const char *metadata)
{
	struct intake_assignment as;

	assert_true(f->in->nparts < MAX_PARTS);
	f->in->parts[f->in->nparts] = p;
	f->in->capped[f->in->nparts] = 0;
	f->in->position[f->in->nparts] = -1;
	f->in->high[f->in->nparts] = -1;
	f->in->nparts++;
	as.partition = p;
	as.committed = committed;
	as.metadata = metadata;
	as.metadata_len = metadata != NULL ? strlen(metadata) : 0;
	f->in->cbs->assigned(&as, 1, f->in->arg);
	f->in->cbs->settled(f->in->arg);
}

/* Partition p goes (revoked before it is unassigned, as librdkafka does). */
static void
fx_revoke(struct fx *f, int32_t p)
{
	int i = intake_index(f->in, p);

	assert_true(i >= 0);
	f->in->cbs->revoked(&p, 1, f->in->arg);
	f->in->nparts--;
	f->in->parts[i] = f->in->parts[f->in->nparts];
	f->in->capped[i] = f->in->capped[f->in->nparts];
	f->in->position[i] = f->in->position[f->in->nparts];
	f->in->high[i] = f->in->high[f->in->nparts];
}

static void
fx_deliver(struct fx *f, int32_t p, int64_t offset, const char *text)
{
	f->in->cbs->message(p, offset, text, strlen(text), f->in->arg);
}

/* A task v1 message for the sample program, with more members when extra is set. */
static char *
fx_task_msg(const struct fx *f, const char *id, const char *extra)
{
	char *s;

	xasprintf(&s, "{\"version\":1,\"task_id\":\"%s\",\"game\":\"catch\",\"program\":\"%s\"%s%s}",
	    id, f->prog_url, extra != NULL ? "," : "", extra != NULL ? extra : "");
	return s;
}

static void
fx_deliver_task(struct fx *f, int32_t p, int64_t offset, const char *id, const char *extra)
{
	char *msg = fx_task_msg(f, id, extra);

	fx_deliver(f, p, offset, msg);
	free(msg);
}

static void
fx_tick_cb(evutil_socket_t fd, short what, void *arg)
{
}

/* Run the loop until cond holds; fails the test after the deadline. */
static void
fx_run_until(struct fx *f, int (*cond)(struct fx *, const void *), const void *arg,
    const char *what)
{
	int64_t end = util_mono_ms() + DEADLINE_MS;
	struct timeval tv = { 0, 10 * 1000 };
	struct event *tick = event_new(f->gw.base, -1, EV_PERSIST, fx_tick_cb, NULL);

	event_add(tick, &tv);
	while (!cond(f, arg)) {
		if (util_mono_ms() >= end)
			fail_msg("timed out waiting for %s", what);
		event_base_loop(f->gw.base, EVLOOP_ONCE);
	}
	event_free(tick);
}

static struct task *
fx_task(struct fx *f, const char *id)
{
	struct task *t = task_find(&f->gw, id);

	if (t == NULL)
		fail_msg("no task %s", id);
	return t;
}

static int
cond_njobs(struct fx *f, const void *arg)
{
	return f->runner->njobs >= *(const size_t *)arg;
}

static int
cond_state(struct fx *f, const void *arg)
{
	const struct { const char *id; enum task_state s; } *w = arg;
	struct task *t = task_find(&f->gw, w->id);

	return t != NULL && t->state == w->s;
}

static int
cond_nbatches(struct fx *f, const void *arg)
{
	return f->committer->nbatches >= *(const size_t *)arg;
}

static void
fx_wait_jobs(struct fx *f, size_t n)
{
	fx_run_until(f, cond_njobs, &n, "a game to be launched");
}

static void
fx_wait_state(struct fx *f, const char *id, enum task_state s)
{
	struct { const char *id; enum task_state s; } w = { id, s };
	char what[128];

	snprintf(what, sizeof what, "task %s to be %s", id, proto_state_name(s));
	fx_run_until(f, cond_state, &w, what);
}

static void
fx_wait_batches(struct fx *f, size_t n)
{
	fx_run_until(f, cond_nbatches, &n, "a batch");
}

/* Deliver task id at p/offset and run it until its game runs: its job. */
static struct fake_job *
fx_run_task(struct fx *f, int32_t p, int64_t offset, const char *id, const char *extra)
{
	size_t n = f->runner->njobs;
	struct fake_job *j;

	fx_deliver_task(f, p, offset, id, extra);
	fx_wait_jobs(f, n + 1);
	j = f->runner->jobs[n];
	assert_string_equal(j->task_id, id);
	assert_int_equal(fx_task(f, id)->state, TASK_LAUNCHING);
	job_run(j);
	assert_int_equal(fx_task(f, id)->state, TASK_RUNNING);
	return j;
}

/* Record i of batch b. */
static const struct commit_record *
fx_record(struct fx *f, size_t b, size_t i)
{
	assert_true(b < f->committer->nbatches);
	assert_true(i < f->committer->batches[b]->nrecords);
	return &f->committer->batches[b]->records[i];
}

/* Decode record i of batch b as a result (proto_result_clear it). */
static void
fx_result(struct fx *f, size_t b, size_t i, struct proto_result *r)
{
	const struct commit_record *rec = fx_record(f, b, i);
	char *cause = NULL;

	assert_int_equal(rec->kind, COMMIT_RESULT);
	assert_string_equal(rec->topic, f->gw.results_topic);
	if (proto_result_decode(rec->value, rec->len, r, &cause) != 0)
		fail_msg("result %s does not decode: %s", rec->value, cause);
	assert_string_equal(rec->key, r->task_id);
}

/* Decode record i of batch b as a dead letter (proto_dlq_clear it). */
static void
fx_dlq(struct fx *f, size_t b, size_t i, struct proto_dlq *d)
{
	const struct commit_record *rec = fx_record(f, b, i);
	char *cause = NULL;

	assert_int_equal(rec->kind, COMMIT_DLQ);
	assert_string_equal(rec->topic, f->gw.dlq_topic);
	if (proto_dlq_decode(rec->value, rec->len, d, &cause) != 0)
		fail_msg("DLQ record %s does not decode: %s", rec->value, cause);
}

/* The batch's commit offset for partition p, or -1; its metadata in *md. */
static int64_t
fx_batch_offset(struct fx *f, size_t b, int32_t p, const char **md)
{
	const struct commit_batch *batch = f->committer->batches[b];
	size_t i;

	assert_string_equal(batch->offsets_topic, f->gw.tasks_topic);
	for (i = 0; i < batch->noffsets; i++) {
		if (batch->offsets[i].partition == p) {
			if (md != NULL)
				*md = batch->offsets[i].metadata;
			return batch->offsets[i].offset;
		}
	}
	return -1;
}

static int
fx_exists(const char *fmt, ...)
{
	va_list ap;
	char *path;
	struct stat sb;
	int rc;

	va_start(ap, fmt);
	xvasprintf(&path, fmt, ap);
	va_end(ap);
	rc = lstat(path, &sb) == 0;
	free(path);
	return rc;
}

/* ---- the state machine ---- */

/* Every state in order, the game's files uploaded, one result that says so. */
static void
test_happy_path(void **state)
{
	struct fx *f = fx_new(NULL, 0);
	struct gw *gw = &f->gw;
	struct proto_result r;
	struct fake_job *j;
	struct task *t;
	char *cause = NULL, *path, *text, sha[65], *want;
	const char *md;
	size_t i, len;
	int s;

	fx_assign(f, 0, 5, NULL);
	fx_deliver_task(f, 0, 5, "t1", "\"params\":{\"seed\":1},\"timeout_s\":30");
	t = fx_task(f, "t1");
	/* Started at once: its folder made, its program being fetched. */
	assert_int_equal(t->state, TASK_FETCHING);
	assert_int_equal(ledger_pending(gw->ledger, 0), 1);
	assert_true(fx_exists("%s/tasks/t1/output", gw->state_dir));
	fx_wait_jobs(f, 1);
	j = f->runner->jobs[0];
	assert_int_equal(t->state, TASK_LAUNCHING);
	assert_string_equal(j->task_id, "t1");
	assert_int_equal(j->attempt, 1);
	assert_string_equal(j->game, "catch");
	xasprintf(&path, "%s/tasks/t1", gw->state_dir);
	assert_string_equal(j->dir, path);
	free(path);
	assert_string_equal(j->entry, "prog.py");
	assert_string_equal(j->params, "{\"seed\":1}");
	assert_int_equal(j->timeout_s, 30);
	assert_int_equal(j->partition, 0);
	assert_int_equal(j->offset, 5);
	/* The program is in input/, and the attempt is claimed before it runs. */
	xasprintf(&path, "%s/input/prog.py", j->dir);
	text = util_read_file(path, 4096, &len, &cause);
	assert_non_null(text);
	assert_string_equal(text, "print('the program')\n");
	free(text);
	free(path);
	assert_true(fx_exists("%s/t1.1", gw->journal_dir));

	job_run(j);
	assert_int_equal(t->state, TASK_RUNNING);
	job_write(j, "log.txt", "a line of log\n");
	job_write(j, "result.json", "{\"score\":7,\"winner\":\"ai\"}");
	job_write(j, "video.mp4", "not really a video");
	job_end(j, RUNNER_EXITED, 0, NULL);
	/* Collected at once; the uploads run in the loop. */
	assert_int_equal(t->state, TASK_UPLOADING);
	fx_wait_state(f, "t1", TASK_REPORTING);
	assert_int_equal(gw->nreporting, 1);
	assert_int_equal(task_running_count(gw), 0);

	/* One batch (batch_max 1), one result record; the offset done at the flush. */
	assert_int_equal(f->committer->nbatches, 1);
	assert_int_equal(f->committer->batches[0]->nrecords, 1);
	assert_int_equal(ledger_commit_point(gw->ledger, 0), 6);
	assert_int_equal(fx_batch_offset(f, 0, 0, &md), 6);
	want = ledger_metadata(gw->ledger, 0);
	assert_string_equal(md, want);
	free(want);
	fx_result(f, 0, 0, &r);
	assert_string_equal(r.task_id, "t1");
	assert_int_equal(r.attempt, 1);
	assert_int_equal(r.status, RESULT_SUCCEEDED);
	assert_string_equal(r.game, "catch");
	assert_string_equal(r.game_result, "{\"score\":7,\"winner\":\"ai\"}");
	assert_int_equal(r.eclass, ERROR_NONE);
	assert_null(r.error);
	assert_string_equal(r.source_topic, gw->tasks_topic);
	assert_int_equal(r.source_partition, 0);
	assert_int_equal(r.source_offset, 5);
	assert_string_equal(r.gateway, "gw-test");
	assert_int_equal(r.received_ms, t->ts[TASK_RECEIVED]);
	assert_true(r.started_ms >= r.received_ms && r.finished_ms >= r.started_ms &&
	    r.reported_ms >= r.finished_ms);
	assert_int_equal(r.duration_ms, r.finished_ms - r.started_ms);
	assert_int_equal(r.nartifacts, 3);
	assert_int_equal(r.nrefused, 0);
	{
		static const char *names[] = { "log.txt", "result.json", "video.mp4" };
		static const char *bodies[] = { "a line of log\n", "{\"score\":7,\"winner\":\"ai\"}",
		    "not really a video" };

		for (i = 0; i < 3; i++) {
			const struct proto_artifact *a = &r.artifacts[i];

			assert_string_equal(a->name, names[i]);
			xasprintf(&want, "file://%s/results/t1/1/%s", f->root, names[i]);
			assert_string_equal(a->url, want);
			free(want);
			assert_int_equal(a->bytes, (int64_t)strlen(bodies[i]));
			/* What was uploaded is the game's file, and the hash is of what was sent. */
			xasprintf(&path, "%s/results/t1/1/%s", f->root, names[i]);
			text = util_read_file(path, 4096, &len, &cause);
			assert_non_null(text);
			assert_string_equal(text, bodies[i]);
			free(text);
			assert_int_equal(util_sha256_file(path, sha, &cause), 0);
			assert_string_equal(a->sha256, sha);
			free(path);
		}
	}
	assert_string_equal(r.log_url, r.artifacts[0].url);
	assert_string_equal(r.result_url, r.artifacts[1].url);
	assert_string_equal(r.video_url, r.artifacts[2].url);
	proto_result_clear(&r);

	/* Committed: done, its claims gone, its runner told, kept in history. */
	committer_answer(f->committer, 0, 1, NULL);
	assert_int_equal(t->state, TASK_DONE);
	assert_int_equal(gw->nreporting, 0);
	assert_int_equal(gw->nactive, 0);
	assert_int_equal(gw->nhistory, 1);
	assert_int_equal(gw->totals[RESULT_SUCCEEDED], 1);
	assert_false(fx_exists("%s/t1.1", gw->journal_dir));
	assert_int_equal(f->runner->nreleased, 1);
	assert_string_equal(f->runner->released_id, "t1");
	assert_int_equal(f->runner->released_first, 1);
	assert_int_equal(f->runner->released_last, 1);
	assert_ptr_equal(task_find(gw, "t1"), t);
	/* The timeline: every state but upload_wait and failed, in order. */
	for (s = 0; s < TASK_NSTATES; s++) {
		if (s == TASK_FAILED || s == TASK_UPLOAD_WAIT) {
			assert_int_equal(t->ts[s], 0);
			continue;
		}
		assert_true(t->ts[s] > 0);
		if (s > 0)
			assert_true(t->ts[s] >= t->ts[s - 1]);
	}
	/* Each state left was counted in the step histogram. */
	for (s = TASK_RECEIVED; s <= TASK_REPORTING; s++)
		assert_int_equal(gw->steps[s].count, s == TASK_UPLOAD_WAIT ? 0 : 1);
	fx_free(f);
}

/* How each end of a game becomes a result: status, error class and message. */
static void
test_game_ends(void **state)
{
	static const struct {
		const char *id;
		enum runner_end end;
		int code, signal;
		const char *message;
		enum result_status status;
		enum error_class eclass;
		const char *error;
	} cases[] = {
		{ "exit3", RUNNER_EXITED, 3, 0, NULL, RESULT_FAILED, ERROR_USER,
		  "game exited with code 3" },
		{ "killed", RUNNER_EXITED, 137, 9, NULL, RESULT_FAILED, ERROR_USER,
		  "game killed by signal 9" },
		{ "slow", RUNNER_TIMEOUT, 0, 0, NULL, RESULT_TIMEOUT, ERROR_USER,
		  "exceeded its timeout of 30 s" },
		{ "bad", RUNNER_INVALID, 0, 0, "its params do not fit an environment",
		  RESULT_ERROR, ERROR_INVALID, "its params do not fit an environment" },
	};
	size_t i;

	for (i = 0; i < nitems(cases); i++) {
		struct fx *f = fx_new(NULL, 0);
		struct proto_result r;
		struct runner_outcome o;
		struct fake_job *j;
		struct task *t;

		fx_assign(f, 0, 0, NULL);
		j = fx_run_task(f, 0, 0, cases[i].id, "\"timeout_s\":30");
		t = fx_task(f, cases[i].id);
		job_write(j, "log.txt", "what the game said\n");
		memset(&o, 0, sizeof o);
		o.end = cases[i].end;
		o.exit_code = cases[i].code;
		o.signal = cases[i].signal;
		o.message = cases[i].message;
		j->ended = 1;
		j->done_cb(&j->gen, &o, j->arg);
		fx_wait_state(f, cases[i].id, TASK_REPORTING);
		/* Invalid is deterministic: no other attempt. */
		assert_int_equal(f->runner->njobs, 1);
		fx_result(f, 0, 0, &r);
		assert_int_equal(r.attempt, 1);
		if (r.status != cases[i].status || r.eclass != cases[i].eclass ||
		    strcmp(r.error, cases[i].error) != 0)
			fail_msg("%s: %s/%s \"%s\", expected %s/%s \"%s\"", cases[i].id,
			    proto_status_name(r.status), proto_class_name(r.eclass), r.error,
			    proto_status_name(cases[i].status), proto_class_name(cases[i].eclass),
			    cases[i].error);
		/* The log is uploaded whatever the outcome. */
		assert_non_null(r.log_url);
		proto_result_clear(&r);
		committer_answer(f->committer, 0, 1, NULL);
		assert_int_equal(t->state, TASK_FAILED);
		assert_int_equal(f->gw.totals[cases[i].status], 1);
		assert_int_equal(t->ts[TASK_DONE], 0);
		fx_free(f);
	}
}

/* Infra: the next attempt, output/ emptied, up to runner.max_attempts; then error/infra. */
static void
test_infra_retries(void **state)
{
	struct fx *f = fx_new(NULL, 0);
	struct gw *gw = &f->gw;
	struct proto_result r;
	struct fake_job *j;
	struct task *t;

	fx_assign(f, 0, 0, NULL);
	j = fx_run_task(f, 0, 0, "t1", NULL);
	t = fx_task(f, "t1");
	job_write(j, "log.txt", "attempt 1\n");
	job_write(j, "stale", "left by attempt 1");
	job_end(j, RUNNER_INFRA, 0, "node lost");
	/* Attempt 2 launched at once, claimed, output/ empty, results under .../2/. */
	assert_int_equal(f->runner->njobs, 2);
	j = f->runner->jobs[1];
	assert_int_equal(j->attempt, 2);
	assert_int_equal(t->spec->attempt, 2);
	assert_int_equal(t->state, TASK_LAUNCHING);
	assert_true(fx_exists("%s/t1.2", gw->journal_dir));
	assert_true(fx_exists("%s/t1.1", gw->journal_dir));
	assert_false(fx_exists("%s/output/stale", j->dir));
	assert_false(fx_exists("%s/output/log.txt", j->dir));
	assert_non_null(strstr(t->result_prefix, "/t1/2/"));
	job_run(j);
	job_write(j, "log.txt", "attempt 2\n");
	job_end(j, RUNNER_INFRA, 0, "node lost");
	/* max_attempts 2: no third. */
	assert_int_equal(f->runner->njobs, 2);
	fx_wait_state(f, "t1", TASK_REPORTING);
	fx_result(f, 0, 0, &r);
	assert_int_equal(r.attempt, 2);
	assert_int_equal(r.status, RESULT_ERROR);
	assert_int_equal(r.eclass, ERROR_INFRA);
	assert_string_equal(r.error, "node lost (attempt 2, runner.max_attempts 2)");
	assert_non_null(strstr(r.log_url, "/results/t1/2/log.txt"));
	proto_result_clear(&r);
	committer_answer(f->committer, 0, 1, NULL);
	/* Every attempt's claim goes, and the runner hears of both. */
	assert_false(fx_exists("%s/t1.1", gw->journal_dir));
	assert_false(fx_exists("%s/t1.2", gw->journal_dir));
	assert_int_equal(f->runner->released_first, 1);
	assert_int_equal(f->runner->released_last, 2);
	fx_free(f);
}

/* A start that fails at once (NULL from runner_start) is retried the same way. */
static void
test_start_fails_at_once(void **state)
{
	struct fx *f = fx_new(NULL, 0);
	struct proto_result r;
	struct fake_job *j;

	f->runner->fail_starts = 1;
	fx_assign(f, 0, 0, NULL);
	fx_deliver_task(f, 0, 0, "t1", NULL);
	fx_wait_jobs(f, 1);
	assert_int_equal(f->runner->nstarts, 2);
	j = f->runner->jobs[0];
	assert_int_equal(j->attempt, 2);
	job_run(j);
	job_end(j, RUNNER_EXITED, 0, NULL);
	fx_wait_state(f, "t1", TASK_REPORTING);
	fx_result(f, 0, 0, &r);
	assert_int_equal(r.status, RESULT_SUCCEEDED);
	assert_int_equal(r.attempt, 2);
	proto_result_clear(&r);

	/* Both attempts failing at once: error/infra, and no job ever ran. */
	f->runner->fail_starts = 2;
	fx_deliver_task(f, 0, 1, "t2", NULL);
	fx_wait_state(f, "t2", TASK_REPORTING);
	assert_int_equal(f->runner->njobs, 1);
	fx_result(f, 1, 0, &r);
	assert_int_equal(r.status, RESULT_ERROR);
	assert_int_equal(r.eclass, ERROR_INFRA);
	assert_int_equal(r.attempt, 2);
	assert_non_null(strstr(r.error, "the game could not start"));
	proto_result_clear(&r);
	fx_free(f);
}

/* Cancel: a waiting task at once, a running one through its runner, a download at once. */
static void
test_cancel(void **state)
{
	const char *const opts[] = { "gateway.max_inflight=1", NULL };
	struct fx *f = fx_new(opts, 0);
	struct gw *gw = &f->gw;
	struct proto_result r;
	struct fake_job *j;
	struct task *t2, *t3;
	char *cause = NULL;

	fx_assign(f, 0, 0, NULL);
	j = fx_run_task(f, 0, 0, "t1", NULL);
	/* max_inflight 1: t2 waits, never started. */
	fx_deliver_task(f, 0, 1, "t2", NULL);
	t2 = fx_task(f, "t2");
	assert_true(t2->waiting);
	assert_int_equal(t2->state, TASK_RECEIVED);
	assert_int_equal(gw->nwaiting, 1);

	assert_int_equal(task_cancel(gw, "nope", &cause), -1);
	assert_string_equal(cause, "no task nope in flight");
	free(cause);
	cause = NULL;

	assert_int_equal(task_cancel(gw, "t2", &cause), 0);
	assert_int_equal(t2->state, TASK_REPORTING);
	assert_false(t2->waiting);
	assert_int_equal(gw->nwaiting, 0);
	fx_result(f, 0, 0, &r);
	assert_string_equal(r.task_id, "t2");
	assert_int_equal(r.status, RESULT_CANCELLED);
	assert_string_equal(r.error, "cancelled by an operator");
	assert_null(r.log_url);
	proto_result_clear(&r);
	committer_answer(f->committer, 0, 1, NULL);
	assert_int_equal(t2->state, TASK_FAILED);
	/* Its offset is done behind t1's, still in flight. */
	assert_int_equal(ledger_commit_point(gw->ledger, 0), 0);
	assert_int_equal(ledger_pending(gw->ledger, 0), 1);

	/* Running: the runner is asked; the task ends when the game does. */
	assert_int_equal(task_cancel(gw, "t1", &cause), 0);
	assert_int_equal(j->cancels, 1);
	assert_int_equal(fx_task(f, "t1")->state, TASK_RUNNING);
	job_end(j, RUNNER_CANCELLED, 0, NULL);
	fx_wait_state(f, "t1", TASK_REPORTING);
	fx_result(f, 1, 0, &r);
	assert_int_equal(r.status, RESULT_CANCELLED);
	assert_string_equal(r.error, "cancelled by an operator");
	proto_result_clear(&r);
	committer_answer(f->committer, 1, 1, NULL);
	assert_int_equal(ledger_commit_point(gw->ledger, 0), 2);
	/* A reported task is not in flight any more. */
	assert_int_equal(task_cancel(gw, "t1", &cause), -1);
	assert_string_equal(cause, "no task t1 in flight");
	free(cause);
	cause = NULL;

	/* Downloading: stopped now, and nothing of it left in input/. */
	fx_deliver_task(f, 0, 2, "t3", NULL);
	t3 = fx_task(f, "t3");
	assert_int_equal(t3->state, TASK_FETCHING);
	assert_non_null(t3->xfer);
	assert_int_equal(task_cancel(gw, "t3", &cause), 0);
	assert_int_equal(t3->state, TASK_REPORTING);
	assert_null(t3->xfer);
	assert_false(fx_exists("%s/input/prog.py", t3->dir));
	fx_result(f, 2, 0, &r);
	assert_int_equal(r.status, RESULT_CANCELLED);
	assert_string_equal(r.error, "cancelled by an operator (while downloading the program)");
	proto_result_clear(&r);
	assert_int_equal(f->runner->njobs, 1);
	fx_free(f);
}

/* A second message for a task in flight is a dead letter; the first goes on. */
static void
test_duplicate_task(void **state)
{
	struct fx *f = fx_new(NULL, 0);
	struct gw *gw = &f->gw;
	struct proto_dlq d;
	char *msg = fx_task_msg(f, "t1", "\"attempt\":3");
	const char *md;

	fx_assign(f, 0, 0, NULL);
	fx_run_task(f, 0, 0, "t1", NULL);
	fx_deliver(f, 0, 1, msg);
	assert_int_equal(gw->dlq_total, 1);
	assert_int_equal(gw->nactive, 1);
	assert_int_equal(f->committer->nbatches, 1);
	assert_int_equal(f->committer->batches[0]->nrecords, 1);
	fx_dlq(f, 0, 0, &d);
	assert_int_equal(d.reason, DLQ_DUPLICATE_TASK);
	assert_string_equal(d.reason_name, "duplicate_task");
	assert_string_equal(d.task_id, "t1");
	assert_string_equal(d.detail, "task t1 is already in flight on this gateway");
	assert_string_equal(d.topic, gw->tasks_topic);
	assert_int_equal(d.partition, 0);
	assert_int_equal(d.offset, 1);
	assert_string_equal(d.original, msg);
	assert_string_equal(fx_record(f, 0, 0)->key, "t1");
	proto_dlq_clear(&d);
	/* Offset 1 is done, offset 0 (t1) still pending: the commit stays at 0. */
	assert_int_equal(fx_batch_offset(f, 0, 0, &md), 0);
	assert_int_equal(ledger_pending(gw->ledger, 0), 1);
	assert_int_equal(ledger_next(gw->ledger, 0), 2);
	free(msg);
	fx_free(f);
}

/* A message that is not a task is a dead letter naming what is wrong. */
static void
test_malformed(void **state)
{
	static const struct {
		const char *text;
		enum dlq_reason reason;
		const char *detail;	/* in the record's detail */
		const char *task_id;
	} cases[] = {
		{ "{\"version\":1,\"task_id\":\"t9\"", DLQ_INVALID_JSON, "JSON", NULL },
		{ "[1,2]", DLQ_NOT_OBJECT, "object", NULL },
		{ "{\"version\":1,\"task_id\":\"t9\",\"game\":\"catch\"}", DLQ_MISSING_FIELD,
		  "'program'", "t9" },
		{ "{\"version\":2,\"task_id\":\"t8\"}", DLQ_UNSUPPORTED_VERSION, "version 2", "t8" },
	};
	const char *const opts[] = { "gateway.batch_max=4", "gateway.batch_adaptive=false", NULL };
	struct fx *f = fx_new(opts, 0);
	struct proto_dlq d;
	size_t i;

	fx_assign(f, 3, 100, NULL);
	for (i = 0; i < nitems(cases); i++)
		fx_deliver(f, 3, 100 + (int64_t)i, cases[i].text);
	assert_int_equal(f->gw.nactive, 0);
	assert_int_equal(f->gw.dlq_total, nitems(cases));
	assert_int_equal(f->committer->nbatches, 1);
	for (i = 0; i < nitems(cases); i++) {
		fx_dlq(f, 0, i, &d);
		if (d.reason != cases[i].reason || strstr(d.detail, cases[i].detail) == NULL)
			fail_msg("%s: %s \"%s\", expected %s with \"%s\"", cases[i].text,
			    d.reason_name, d.detail, proto_dlq_reason_name(cases[i].reason),
			    cases[i].detail);
		if (cases[i].task_id == NULL)
			assert_null(d.task_id);
		else
			assert_string_equal(d.task_id, cases[i].task_id);
		assert_int_equal(d.partition, 3);
		assert_int_equal(d.offset, 100 + (int64_t)i);
		assert_string_equal(d.original, cases[i].text);
		proto_dlq_clear(&d);
	}
	assert_int_equal(fx_batch_offset(f, 0, 3, NULL), 104);
	assert_int_equal(f->runner->nstarts, 0);
	fx_free(f);
}

/* The same offset twice (a redelivery in this life) is ignored. */
static void
test_redelivered_offset(void **state)
{
	struct fx *f = fx_new(NULL, 0);

	fx_assign(f, 0, 0, NULL);
	fx_run_task(f, 0, 0, "t1", NULL);
	fx_deliver_task(f, 0, 0, "t1", NULL);
	fx_deliver(f, 0, 0, "garbage");
	assert_int_equal(f->gw.nactive, 1);
	assert_int_equal(f->gw.dlq_total, 0);
	assert_int_equal(f->committer->nbatches, 0);
	fx_free(f);
}

/* Requeue: the original message byte for byte, attempt + 1, to the tasks topic. */
static void
test_requeue(void **state)
{
	struct fx *f = fx_new(NULL, 0);
	struct gw *gw = &f->gw;
	const struct commit_record *rec;
	struct fake_job *j;
	char *cause = NULL, *want;
	int attempt = 0, already = 0;

	fx_assign(f, 0, 0, NULL);
	j = fx_run_task(f, 0, 0, "t1", "\"attempt\" :  1 ,\"params\":{\"seed\":18446744073709551617}");
	/* Not while it runs. */
	assert_int_equal(task_requeue(gw, "t1", 0, &attempt, &already, &cause), -1);
	assert_string_equal(cause, "task t1 is running; cancel it first or wait for its result");
	free(cause);
	cause = NULL;
	assert_int_equal(task_requeue(gw, "nope", 0, &attempt, &already, &cause), -1);
	assert_string_equal(cause, "no task nope known to this gateway");
	free(cause);
	cause = NULL;
	job_end(j, RUNNER_EXITED, 1, NULL);
	fx_wait_state(f, "t1", TASK_REPORTING);
	committer_answer(f->committer, 0, 1, NULL);
	assert_int_equal(fx_task(f, "t1")->state, TASK_FAILED);

	assert_int_equal(task_requeue(gw, "t1", 0, &attempt, &already, &cause), 0);
	assert_int_equal(attempt, 2);
	assert_int_equal(f->committer->nbatches, 2);
	rec = fx_record(f, 1, 0);
	assert_int_equal(rec->kind, COMMIT_REQUEUE);
	assert_string_equal(rec->topic, gw->tasks_topic);
	assert_string_equal(rec->key, "t1");
	want = fx_task_msg(f, "t1", "\"attempt\" :  2 ,\"params\":{\"seed\":18446744073709551617}");
	assert_int_equal(rec->len, strlen(want));
	assert_memory_equal(rec->value, want, rec->len);
	free(want);
	/* It completes no offset of ours. */
	assert_int_equal(fx_batch_offset(f, 1, 0, NULL), 1);
	committer_answer(f->committer, 1, 1, NULL);
	assert_int_equal(already, 0);

	/* Once per attempt: again, by attempt or not, answers attempt 2 sent already. */
	attempt = 0;
	assert_int_equal(task_requeue(gw, "t1", 0, &attempt, &already, &cause), 0);
	assert_int_equal(attempt, 2);
	assert_int_equal(already, 1);
	attempt = already = 0;
	assert_int_equal(task_requeue(gw, "t1", 1, &attempt, &already, &cause), 0);
	assert_int_equal(attempt, 2);
	assert_int_equal(already, 1);
	assert_int_equal(f->committer->nbatches, 2);
	/* An attempt it has not seen is named. */
	assert_int_equal(task_requeue(gw, "t1", 2, &attempt, &already, &cause), -1);
	assert_string_equal(cause, "task t1 has no attempt 2 (its latest is 1)");
	free(cause);
	cause = NULL;
	/* Attempt 2 arrives and ends: asked for attempt 1, the answer is still "already, as 2"; for 2, attempt 3 goes. */
	j = fx_run_task(f, 0, 1, "t1", "\"attempt\":2");
	job_end(j, RUNNER_EXITED, 0, NULL);
	fx_wait_state(f, "t1", TASK_REPORTING);
	committer_answer(f->committer, 2, 1, NULL);
	attempt = already = 0;
	assert_int_equal(task_requeue(gw, "t1", 1, &attempt, &already, &cause), 0);
	assert_int_equal(attempt, 2);
	assert_int_equal(already, 1);
	assert_int_equal(f->committer->nbatches, 3);
	assert_int_equal(task_requeue(gw, "t1", 2, &attempt, &already, &cause), 0);
	assert_int_equal(attempt, 3);
	assert_int_equal(already, 0);
	assert_int_equal(f->committer->nbatches, 4);
	committer_answer(f->committer, 3, 1, NULL);

	/* A message without an attempt gets one after its last member. */
	j = fx_run_task(f, 0, 2, "t2", NULL);
	job_end(j, RUNNER_EXITED, 0, NULL);
	fx_wait_state(f, "t2", TASK_REPORTING);
	committer_answer(f->committer, 4, 1, NULL);
	assert_int_equal(task_requeue(gw, "t2", 0, &attempt, &already, &cause), 0);
	assert_int_equal(attempt, 2);
	rec = fx_record(f, 5, 0);
	want = fx_task_msg(f, "t2", "\"attempt\":2");
	assert_int_equal(rec->len, strlen(want));
	assert_memory_equal(rec->value, want, rec->len);
	free(want);
	committer_answer(f->committer, 5, 1, NULL);

	/* Not while shutting down. */
	task_drain(gw, 0);
	assert_int_equal(task_requeue(gw, "t2", 0, &attempt, &already, &cause), -1);
	assert_string_equal(cause, "the gateway is shutting down");
	free(cause);
	fx_free(f);
}

static void
fx_loop_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fx *f = arg;

	f->gw.exit_code = -1000;
	event_base_loopbreak(f->gw.base);
}

/*
 * Run the loop as main.c does (event_base_dispatch) until something
 * asks it to exit; 1 when that happened, 0 when the deadline broke it.
 */
static int
fx_dispatch(struct fx *f)
{
	struct timeval tv = { DEADLINE_MS / 1000, 0 };
	struct event *deadline = evtimer_new(f->gw.base, fx_loop_deadline_cb, f);
	int saved = f->gw.exit_code, exited;

	evtimer_add(deadline, &tv);
	event_base_dispatch(f->gw.base);
	event_free(deadline);
	exited = event_base_got_exit(f->gw.base) && f->gw.exit_code != -1000;
	if (f->gw.exit_code == -1000)
		f->gw.exit_code = saved;
	return exited;
}

/* Draining: waiting tasks dropped, intake paused, the loop left once in-flight ones commit. */
/*
 * A folder is shared by the attempts of one task id: the oldest leaving
 * the history (gateway.history = 1) keeps it while a newer attempt uses
 * it, and an unshared one goes at once (the dir_refs fast path).
 */
static int
fx_folder_exists(struct fx *f, const char *id)
{
	struct stat st;
	char *path;
	int rc;

	xasprintf(&path, "%s/tasks/%s", f->gw.state_dir, id);
	rc = lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
	free(path);
	return rc;
}

static void
test_history_shared_folder(void **state)
{
	const char *opts[] = { "gateway.history=1", NULL };
	struct fx *f = fx_new(opts, 0);
	struct fake_job *j;

	fx_assign(f, 0, 0, NULL);
	j = fx_run_task(f, 0, 0, "t1", "\"attempt\":1");
	job_end(j, RUNNER_EXITED, 0, NULL);
	fx_wait_state(f, "t1", TASK_REPORTING);
	committer_answer(f->committer, 0, 1, NULL);
	assert_true(fx_folder_exists(f, "t1"));
	/* Attempt 2 of t1 runs in the same folder while t9 ends and pushes attempt 1 out. */
	j = fx_run_task(f, 0, 1, "t1", "\"attempt\":2");
	assert_true(fx_folder_exists(f, "t1"));
	{
		struct fake_job *j9 = fx_run_task(f, 0, 2, "t9", "\"attempt\":1");
		job_end(j9, RUNNER_EXITED, 0, NULL);
		fx_wait_state(f, "t9", TASK_REPORTING);
		committer_answer(f->committer, 1, 1, NULL);
	}
	assert_int_equal(f->gw.nhistory, 1);
	assert_true(fx_folder_exists(f, "t1"));
	assert_true(fx_folder_exists(f, "t9"));
	/* Attempt 2 ends: t9 leaves the history, and its folder, shared with no one, with it. */
	job_end(j, RUNNER_EXITED, 0, NULL);
	fx_wait_state(f, "t1", TASK_REPORTING);
	committer_answer(f->committer, 2, 1, NULL);
	assert_false(fx_folder_exists(f, "t9"));
	assert_true(fx_folder_exists(f, "t1"));
	fx_free(f);
	(void)state;
}

/*
 * A task's folder is made first (folders_make), not looked for: a new
 * one is used as made; one there already (an earlier delivery, an
 * earlier life) is cleared and made again, what it held gone and links
 * in it removed, not followed.
 */
static void
test_existing_folder(void **state)
{
	struct fx *f = fx_new(NULL, 0);
	struct fake_job *j;
	char *outside, *p, *cause = NULL;
	struct stat st;
	size_t len;

	xasprintf(&outside, "%s/outside", f->tmp);
	fx_write_file(outside, "keep me\n");
	xasprintf(&p, "%s/tasks/t1/output/sub", f->gw.state_dir);
	assert_int_equal(util_mkdirs(p, 0755, &cause), 0);
	free(p);
	xasprintf(&p, "%s/tasks/t1/input", f->gw.state_dir);
	assert_int_equal(util_mkdirs(p, 0755, &cause), 0);
	free(p);
	xasprintf(&p, "%s/tasks/t1/output/sub/stale", f->gw.state_dir);
	fx_write_file(p, "left by an earlier delivery");
	free(p);
	xasprintf(&p, "%s/tasks/t1/input/old.py", f->gw.state_dir);
	fx_write_file(p, "old");
	free(p);
	xasprintf(&p, "%s/tasks/t1/output/link", f->gw.state_dir);
	assert_int_equal(symlink(outside, p), 0);
	free(p);
	xasprintf(&p, "%s/tasks/t1/.outcome.tmp", f->gw.state_dir);
	assert_int_equal(symlink(outside, p), 0);
	free(p);

	fx_assign(f, 0, 0, NULL);
	j = fx_run_task(f, 0, 0, "t1", NULL);
	assert_false(fx_exists("%s/output/sub", j->dir));
	assert_false(fx_exists("%s/output/link", j->dir));
	assert_false(fx_exists("%s/input/old.py", j->dir));
	assert_false(fx_exists("%s/.outcome.tmp", j->dir));
	xasprintf(&p, "%s/output", j->dir);
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	free(p);
	/* A new one: made with input/ and output/. */
	j = fx_run_task(f, 0, 1, "t2", NULL);
	xasprintf(&p, "%s/output", j->dir);
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	free(p);
	xasprintf(&p, "%s/input", j->dir);
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	free(p);
	/* What the links pointed to stays as it was. */
	p = util_read_file(outside, 100, &len, &cause);
	assert_string_equal(p, "keep me\n");
	free(p);
	free(outside);
	fx_free(f);
	(void)state;
}

static void
test_drain(void **state)
{
	const char *const opts[] = { "gateway.max_inflight=1", "gateway.prefetch=2",
	    "gateway.batch_ms=5", "gateway.batch_max=100", NULL };
	struct fx *f = fx_new(opts, 0);
	struct gw *gw = &f->gw;
	struct proto_result r;
	struct fake_job *j;
	int i;

	fx_assign(f, 0, 0, NULL);
	j = fx_run_task(f, 0, 0, "t1", NULL);
	fx_deliver_task(f, 0, 1, "t2", NULL);
	assert_true(fx_task(f, "t2")->waiting);
	assert_false(f->in->paused);

	task_drain(gw, 0);
	assert_true(gw->draining);
	assert_true(f->in->paused);
	/* t2 never started: gone, its offset left uncommitted for the next owner. */
	assert_null(task_find(gw, "t2"));
	assert_int_equal(gw->nactive, 1);
	assert_int_equal(gw->nwaiting, 0);
	assert_int_equal(ledger_pending(gw->ledger, 0), 2);
	/* While t1 runs, the loop goes on. */
	for (i = 0; i < 10; i++)
		event_base_loop(gw->base, EVLOOP_NONBLOCK);
	assert_false(gw->stopped);
	assert_false(event_base_got_exit(gw->base));

	/* t1 ends; its result commits (answered from the loop): then the loop exits. */
	f->committer->auto_answer = 1;
	job_end(j, RUNNER_EXITED, 0, NULL);
	assert_true(fx_dispatch(f));
	assert_true(gw->stopped);
	assert_int_equal(gw->exit_code, 0);
	assert_int_equal(fx_task(f, "t1")->state, TASK_DONE);
	assert_int_equal(f->committer->nbatches, 1);
	fx_result(f, 0, 0, &r);
	assert_int_equal(r.status, RESULT_SUCCEEDED);
	proto_result_clear(&r);
	assert_int_equal(fx_batch_offset(f, 0, 0, NULL), 1);
	fx_free(f);
}

/* Draining with nothing in flight exits at once; the grace period abandons what still runs. */
static void
test_drain_grace(void **state)
{
	const char *const opts[] = { "gateway.grace_s=0", NULL };
	struct fx *f = fx_new(opts, 0);
	struct gw *gw = &f->gw;
	struct fake_job *j;

	fx_assign(f, 0, 0, NULL);
	j = fx_run_task(f, 0, 0, "t1", NULL);
	task_drain(gw, 0);
	assert_false(gw->stopped);
	assert_true(fx_dispatch(f));
	assert_true(gw->stopped);
	/* Abandoned to whoever runs it next: no result, the offset uncommitted. */
	assert_true(j->abandoned);
	assert_null(task_find(gw, "t1"));
	assert_int_equal(f->committer->nbatches, 0);
	assert_int_equal(ledger_commit_point(gw->ledger, 0), 0);
	fx_free(f);
}

/* A commit that fails for good stops the gateway with exit code 1. */
static void
test_fatal_commit(void **state)
{
	struct fx *f = fx_new(NULL, 0);
	struct gw *gw = &f->gw;
	struct fake_job *j;

	fx_assign(f, 0, 0, NULL);
	j = fx_run_task(f, 0, 0, "t1", NULL);
	fx_run_task(f, 0, 1, "t2", NULL);
	job_end(j, RUNNER_EXITED, 0, NULL);
	fx_wait_state(f, "t1", TASK_REPORTING);
	committer_answer(f->committer, 0, 0, "producer fenced");
	assert_int_equal(gw->exit_code, 1);
	assert_true(gw->draining);
	assert_true(f->in->paused);
	/* Not reported: its transaction did not commit. */
	assert_int_equal(fx_task(f, "t1")->state, TASK_REPORTING);
	assert_int_equal(gw->totals[RESULT_SUCCEEDED], 0);
	assert_true(fx_dispatch(f));
	assert_int_equal(gw->exit_code, 1);
	fx_free(f);

	/* The committer failing at its start (batch 0) does the same. */
	f = fx_new(NULL, 0);
	outbox_answered(0, 0, 0, "init_transactions: timed out", f->gw.outbox);
	assert_int_equal(f->gw.exit_code, 1);
	assert_true(fx_dispatch(f));
	fx_free(f);

	/* And so does intake's fatal callback. */
	f = fx_new(NULL, 0);
	f->in->cbs->fatal("fenced by a newer instance", f->in->arg);
	assert_int_equal(f->gw.exit_code, 1);
	assert_true(f->gw.draining);
	assert_true(fx_dispatch(f));
	fx_free(f);
}

/* Records wait for batch_max of them, or batch_ms; the ledger is marked done at the flush. */
static void
test_batching(void **state)
{
	const char *const opts[] = { "gateway.batch_max=3", "gateway.batch_adaptive=false", NULL };
	const char *const opts_ms[] = { "gateway.batch_max=100", "gateway.batch_ms=50",
	    "gateway.batch_adaptive=false", NULL };
	struct fx *f = fx_new(opts, 0);
	struct gw *gw = &f->gw;
	const char *md;
	char *want;
	int64_t t0;

	fx_assign(f, 0, 0, NULL);
	fx_assign(f, 1, 40, NULL);
	fx_deliver(f, 0, 0, "not json");
	fx_deliver(f, 0, 1, "not json");
	assert_int_equal(f->committer->nbatches, 0);
	/* Received, queued, not yet done. */
	assert_int_equal(ledger_commit_point(gw->ledger, 0), 0);
	assert_int_equal(ledger_pending(gw->ledger, 0), 2);
	fx_deliver(f, 0, 2, "not json");
	assert_int_equal(f->committer->nbatches, 1);
	assert_int_equal(f->committer->batches[0]->nrecords, 3);
	assert_int_equal(ledger_commit_point(gw->ledger, 0), 3);
	assert_int_equal(ledger_pending(gw->ledger, 0), 0);
	/* Every partition's commit point rides along, with the ledger's metadata. */
	assert_int_equal(f->committer->batches[0]->noffsets, 2);
	assert_int_equal(fx_batch_offset(f, 0, 0, &md), 3);
	want = ledger_metadata(gw->ledger, 0);
	assert_string_equal(md, want);
	free(want);
	assert_int_equal(fx_batch_offset(f, 0, 1, &md), 40);
	fx_free(f);

	f = fx_new(opts_ms, 0);
	gw = &f->gw;
	fx_assign(f, 0, 0, NULL);
	t0 = util_mono_ms();
	fx_deliver(f, 0, 0, "not json");
	assert_int_equal(f->committer->nbatches, 0);
	fx_wait_batches(f, 1);
	/*
	 * Not before batch_ms, give or take a tick: libevent's timers run on
	 * CLOCK_MONOTONIC_COARSE (a jiffy, up to 10 ms), util_mono_ms on the
	 * precise clock, in whole ms. Fired at once would be ~0.
	 */
	assert_true(util_mono_ms() - t0 >= 50 - 11);
	assert_int_equal(f->committer->batches[0]->nrecords, 1);
	assert_int_equal(ledger_commit_point(gw->ledger, 0), 1);
	fx_free(f);
}

/*
 * gateway.batch_adaptive (the default): a record goes at once when no
 * transaction is in flight; behind one, records gather and go as one
 * batch when it is answered (not batch_ms later).
 */
static void
test_batching_adaptive(void **state)
{
	const char *const opts[] = { "gateway.batch_max=100", "gateway.batch_ms=60000",
	    "gateway.batch_min_ms=0", NULL };
	struct fx *f = fx_new(opts, 0);
	struct gw *gw = &f->gw;

	fx_assign(f, 0, 0, NULL);
	fx_deliver(f, 0, 0, "not json");
	/* Idle: sent at once, without a turn of the loop. */
	assert_int_equal(f->committer->nbatches, 1);
	assert_int_equal(f->committer->batches[0]->nrecords, 1);
	fx_deliver(f, 0, 1, "not json");
	fx_deliver(f, 0, 2, "not json");
	/* Behind the first: they wait. */
	assert_int_equal(f->committer->nbatches, 1);
	assert_int_equal(ledger_pending(gw->ledger, 0), 2);
	committer_answer(f->committer, 0, 1, NULL);
	/* The answer sends what gathered meanwhile, as one batch. */
	assert_int_equal(f->committer->nbatches, 2);
	assert_int_equal(f->committer->batches[1]->nrecords, 2);
	assert_int_equal(fx_batch_offset(f, 1, 0, NULL), 3);
	fx_free(f);
}

/*
 * gateway.batch_min_ms: idle or not, batches go at most one that often;
 * what waits goes when the spacing allows, never later than batch_ms.
 */
static void
test_batching_min_spacing(void **state)
{
	const char *const opts[] = { "gateway.batch_max=100", "gateway.batch_ms=50",
	    "gateway.batch_min_ms=60000", NULL };
	struct fx *f = fx_new(opts, 0);

	fx_assign(f, 0, 0, NULL);
	fx_deliver(f, 0, 0, "not json");
	/* The first batch of the gateway's life: at once. */
	assert_int_equal(f->committer->nbatches, 1);
	committer_answer(f->committer, 0, 1, NULL);
	fx_deliver(f, 0, 1, "not json");
	fx_deliver(f, 0, 2, "not json");
	/* Nothing in flight, but the last batch went less than batch_min_ms ago. */
	assert_int_equal(f->committer->nbatches, 1);
	/* batch_ms (50 ms) comes first: both go then, as one batch. */
	fx_wait_batches(f, 2);
	assert_int_equal(f->committer->batches[1]->nrecords, 2);
	assert_int_equal(fx_batch_offset(f, 1, 0, NULL), 3);
	fx_free(f);
	(void)state;
}

/*
 * gateway.batch_busy_ms: after a batch of batch_busy_records or more, the
 * next waits that long (here batch_ms comes first); after smaller ones,
 * batch_min_ms (here 0) applies and records go at once.
 */
static void
test_batching_busy_spacing(void **state)
{
	const char *const opts[] = { "gateway.batch_max=100", "gateway.batch_ms=50",
	    "gateway.batch_min_ms=0", "gateway.batch_busy_records=2",
	    "gateway.batch_busy_ms=60000", NULL };
	struct fx *f = fx_new(opts, 0);
	int64_t t0;

	fx_assign(f, 0, 0, NULL);
	fx_deliver(f, 0, 0, "not json");
	assert_int_equal(f->committer->nbatches, 1);
	committer_answer(f->committer, 0, 1, NULL);
	/* After a batch of one: at once. */
	fx_deliver(f, 0, 1, "not json");
	assert_int_equal(f->committer->nbatches, 2);
	fx_deliver(f, 0, 2, "not json");
	fx_deliver(f, 0, 3, "not json");
	assert_int_equal(f->committer->nbatches, 2);
	/* The answer sends the two that gathered (the last batch had one). */
	committer_answer(f->committer, 1, 1, NULL);
	assert_int_equal(f->committer->nbatches, 3);
	assert_int_equal(f->committer->batches[2]->nrecords, 2);
	committer_answer(f->committer, 2, 1, NULL);
	/* After a busy batch: the next waits, here until batch_ms. */
	t0 = util_mono_ms();
	fx_deliver(f, 0, 4, "not json");
	assert_int_equal(f->committer->nbatches, 3);
	fx_wait_batches(f, 4);
	assert_true(util_mono_ms() - t0 >= 50 - 11);
	assert_int_equal(f->committer->batches[3]->nrecords, 1);
	assert_int_equal(fx_batch_offset(f, 3, 0, NULL), 5);
	fx_free(f);
	(void)state;
}

/* TASK and STATUS as the control socket shows them, decoded through proto/. */
static void
test_views(void **state)
{
	const char *const opts[] = { "gateway.max_inflight=1", NULL };
	struct fx *f = fx_new(opts, 0);
	struct gw *gw = &f->gw;
	struct proto_task_view v;
	struct proto_status_view s;
	struct fake_job *j;
	char *cause = NULL, *want;
	cJSON *o;

	fx_assign(f, 2, 10, NULL);
	f->in->high[0] = 25;
	j = fx_run_task(f, 2, 10, "t1", NULL);
	fx_deliver_task(f, 2, 11, "t2", NULL);
	fx_deliver(f, 2, 12, "not json");

	o = views_task(fx_task(f, "t1"));
	if (proto_task_view_decode(o, &v, &cause) != 0)
		fail_msg("TASK does not decode: %s", cause);
	assert_string_equal(v.task_id, "t1");
	assert_int_equal(v.attempt, 1);
	assert_string_equal(v.game, "catch");
	assert_int_equal(v.state, TASK_RUNNING);
	assert_false(v.has_status);
	assert_false(v.waiting);
	assert_int_equal(v.pid, 4001);
	assert_int_equal(v.partition, 2);
	assert_int_equal(v.offset, 10);
	assert_int_equal(v.timeline[TASK_RUNNING], fx_task(f, "t1")->ts[TASK_RUNNING]);
	assert_int_equal(v.timeline[TASK_DONE], 0);
	assert_false(v.has_error);
	assert_string_equal(v.dir, j->dir);
	xasprintf(&want, "%s/output/log.txt", j->dir);
	assert_string_equal(v.log_path, want);
	free(want);
	assert_null(v.log_url);
	assert_int_equal(v.duration_ms, -1);
	proto_task_view_clear(&v);
	cJSON_Delete(o);

	o = views_task(fx_task(f, "t2"));
	assert_int_equal(proto_task_view_decode(o, &v, &cause), 0);
	assert_true(v.waiting);
	assert_int_equal(v.pid, -1);
	proto_task_view_clear(&v);
	cJSON_Delete(o);

	o = views_status(gw);
	if (proto_status_view_decode(o, &s, &cause) != 0)
		fail_msg("STATUS does not decode: %s", cause);
	assert_int_equal(s.protocol, PROTO_VERSION);
	assert_int_equal(proto_status_compatible(&s, &cause), 0);
	assert_string_equal(s.instance, "gw-test");
	assert_string_equal(s.version, PACKAGE_VERSION);
	assert_int_equal(s.pid, getpid());
	assert_string_equal(s.group_id, "paia-gateway");
	assert_string_equal(s.tasks_topic, gw->tasks_topic);
	assert_string_equal(s.results_topic, gw->results_topic);
	assert_string_equal(s.dlq_topic, gw->dlq_topic);
	assert_int_equal(s.max_inflight, 1);
	assert_int_equal(s.inflight, 1);
	assert_int_equal(s.backlog, 1);
	assert_false(s.draining);
	assert_int_equal(s.states[TASK_RUNNING], 1);
	assert_int_equal(s.states[TASK_RECEIVED], 1);
	assert_int_equal(s.dlq, 1);
	assert_int_equal(s.tx_committed, 0);
	assert_int_equal(s.npartitions, 1);
	assert_int_equal(s.partitions[0].partition, 2);
	assert_int_equal(s.partitions[0].committed, 10);
	assert_int_equal(s.partitions[0].next, 13);
	assert_int_equal(s.partitions[0].pending, 2);
	assert_int_equal(s.partitions[0].high, 25);
	assert_int_equal(s.partitions[0].lag, 15);
	proto_status_view_clear(&s);
	cJSON_Delete(o);
	committer_answer(f->committer, 0, 1, NULL);

	/* Done: its status, urls, score and duration. */
	job_write(j, "log.txt", "log\n");
	job_write(j, "result.json", "{\"score\":2.5}");
	job_write(j, "video.webm", "webm");
	job_end(j, RUNNER_EXITED, 0, NULL);
	fx_wait_state(f, "t1", TASK_REPORTING);
	committer_answer(f->committer, 1, 1, NULL);
	assert_int_equal(fx_task(f, "t1")->state, TASK_DONE);
	o = views_task(fx_task(f, "t1"));
	assert_int_equal(proto_task_view_decode(o, &v, &cause), 0);
	assert_int_equal(v.state, TASK_DONE);
	assert_true(v.has_status);
	assert_int_equal(v.status, RESULT_SUCCEEDED);
	assert_true(v.has_score);
	assert_true(v.score == 2.5);
	xasprintf(&want, "file://%s/results/t1/1/log.txt", f->root);
	assert_string_equal(v.log_url, want);
	free(want);
	xasprintf(&want, "file://%s/results/t1/1/video.webm", f->root);
	assert_string_equal(v.video_url, want);
	free(want);
	assert_true(v.duration_ms >= 0);
	proto_task_view_clear(&v);
	cJSON_Delete(o);

	o = views_status(gw);
	assert_int_equal(proto_status_view_decode(o, &s, &cause), 0);
	assert_int_equal(s.totals[RESULT_SUCCEEDED], 1);
	assert_int_equal(s.states[TASK_DONE], 1);
	assert_int_equal(s.tx_committed, 2);
	proto_status_view_clear(&s);
	cJSON_Delete(o);
	fx_free(f);
}

/* Intake is paused while running and prefetched tasks fill their slots, resumed after. */
static void
test_intake_pause(void **state)
{
	const char *const opts[] = { "gateway.max_inflight=1", "gateway.prefetch=1", NULL };
	struct fx *f = fx_new(opts, 0);
	struct fake_job *j;

	fx_assign(f, 0, 0, NULL);
	j = fx_run_task(f, 0, 0, "t1", NULL);
	assert_false(f->in->paused);
	fx_deliver_task(f, 0, 1, "t2", NULL);
	assert_true(fx_task(f, "t2")->waiting);
	assert_true(f->in->paused);
	assert_true(intake_paused(f->in, 0));
	/* t1 reporting frees its slot: t2 starts at the loop's next turn. */
	job_end(j, RUNNER_EXITED, 0, NULL);
	fx_wait_state(f, "t1", TASK_REPORTING);
	fx_wait_jobs(f, 2);
	assert_string_equal(f->runner->jobs[1]->task_id, "t2");
	assert_false(fx_task(f, "t2")->waiting);
	committer_answer(f->committer, 0, 1, NULL);
	assert_false(f->in->paused);
	fx_free(f);
}

/* ---- intake's coordination ---- */

/* Assigned: the ledger restored from the committed offset and metadata, health told. */
static void
test_assigned(void **state)
{
	struct fx *f = fx_new(NULL, 1);
	struct gw *gw = &f->gw;
	struct health_view *hv;
	struct ledger *l = ledger_new();
	char *cause = NULL, *md;
	size_t n;

	/* What an earlier owner committed: 10 and 12 pending, 11 and 13 done. */
	assert_int_equal(ledger_restore(l, 0, 10, NULL, 0, &cause), 0);
	assert_int_equal(ledger_receive(l, 0, 10), LEDGER_NEW);
	assert_int_equal(ledger_receive(l, 0, 11), LEDGER_NEW);
	assert_int_equal(ledger_receive(l, 0, 12), LEDGER_NEW);
	assert_int_equal(ledger_receive(l, 0, 13), LEDGER_NEW);
	ledger_done(l, 0, 11);
	ledger_done(l, 0, 13);
	md = ledger_metadata(l, 0);
	ledger_free(l);

	fx_assign(f, 0, 10, md);
	fx_assign(f, 1, -1, NULL);
	assert_int_equal(ledger_commit_point(gw->ledger, 0), 10);
	assert_int_equal(ledger_next(gw->ledger, 0), 14);
	n = health_partitions(gw->health, &hv);
	assert_int_equal(n, 2);
	assert_int_equal(hv[0].partition, 0);
	assert_int_equal(hv[0].committed, 10);
	assert_int_equal(hv[1].partition, 1);
	assert_int_equal(hv[1].committed, -1);
	free(hv);

	/* Done before: skipped without a word; pending ones run. */
	fx_deliver_task(f, 0, 11, "done-before", NULL);
	fx_deliver_task(f, 0, 13, "done-before-too", NULL);
	assert_int_equal(gw->skipped_done, 2);
	assert_int_equal(gw->nactive, 0);
	fx_deliver_task(f, 0, 10, "t10", NULL);
	fx_deliver_task(f, 0, 12, "t12", NULL);
	assert_int_equal(gw->nactive, 2);
	/* Again in this life: ignored. */
	fx_deliver_task(f, 0, 12, "t12", NULL);
	assert_int_equal(gw->nactive, 2);
	assert_int_equal(gw->dlq_total, 0);
	assert_int_equal(f->committer->nbatches, 0);

	/* Metadata not ours: ignored, the partition starts at its committed offset. */
	fx_assign(f, 2, 7, "someone else's");
	assert_int_equal(ledger_commit_point(gw->ledger, 2), 7);
	assert_int_equal(ledger_next(gw->ledger, 2), 7);
	fx_deliver_task(f, 2, 8, "t8", NULL);
	assert_int_equal(gw->skipped_done, 2);
	assert_int_equal(gw->nactive, 3);
	free(md);
	fx_free(f);
}

/*
 * Revoked: the outbox flushed and the committer synced (done tasks
 * commit while this generation is valid), the partition's running tasks
 * abandoned (not those reporting), the ledger and health forget it, and
 * no game starts until the revoke is over.
 */
static void
test_revoked(void **state)
{
	const char *const opts[] = { "gateway.max_inflight=2", "gateway.batch_max=100",
	    "gateway.batch_adaptive=false", NULL };
	struct fx *f = fx_new(opts, 1);
	struct gw *gw = &f->gw;
	struct fake_job *ja, *jb, *jd;
	struct health_view *hv;
	int32_t *parts;
	size_t n;

	fx_assign(f, 0, 0, NULL);
	fx_assign(f, 1, 0, NULL);
	jd = fx_run_task(f, 0, 0, "d", NULL);
	ja = fx_run_task(f, 0, 1, "a", NULL);
	/* d is done and waits for its transaction (batch_max 100, batch_ms 60 s). */
	job_end(jd, RUNNER_EXITED, 0, NULL);
	fx_wait_state(f, "d", TASK_REPORTING);
	assert_int_equal(f->committer->nbatches, 0);
	jb = fx_run_task(f, 1, 0, "b", NULL);
	fx_deliver_task(f, 1, 1, "c", NULL);
	assert_true(fx_task(f, "c")->waiting);

	f->committer->sync_answers = 1;
	fx_revoke(f, 0);
	/* d's result went out and committed before the partition went. */
	assert_int_equal(f->committer->nbatches, 1);
	assert_int_equal(f->committer->nsyncs, 1);
	assert_int_equal(f->committer->sync_timeout_ms, 1234);
	assert_int_equal(f->committer->batches[0]->nrecords, 1);
	assert_string_equal(fx_record(f, 0, 0)->key, "d");
	assert_int_equal(fx_batch_offset(f, 0, 0, NULL), 1);
	assert_int_equal(fx_task(f, "d")->state, TASK_DONE);
	/* a is abandoned to the new owner; b and c (partition 1) stay. */
	assert_true(ja->abandoned);
	assert_null(task_find(gw, "a"));
	assert_false(jb->abandoned);
	assert_int_equal(fx_task(f, "b")->state, TASK_RUNNING);
	assert_int_equal(gw->nactive, 2);
	/* Forgotten by the ledger and health. */
	n = ledger_partitions(gw->ledger, &parts);
	assert_int_equal(n, 1);
	assert_int_equal(parts[0], 1);
	free(parts);
	assert_int_equal(ledger_commit_point(gw->ledger, 0), -1);
	n = health_partitions(gw->health, &hv);
	assert_int_equal(n, 1);
	assert_int_equal(hv[0].partition, 1);
	free(hv);
	/* a's slot is free, but c starts only after the revoke, at the loop's next turn. */
	assert_true(fx_task(f, "c")->waiting);
	assert_int_equal(f->runner->njobs, 3);
	fx_wait_jobs(f, 4);
	assert_string_equal(f->runner->jobs[3]->task_id, "c");
	assert_false(fx_task(f, "c")->waiting);
	fx_free(f);
}

/* Nothing waits for the committer on revoke when nothing is open; a timeout is survived. */
static void
test_revoked_sync(void **state)
{
	const char *const opts[] = { "gateway.batch_max=100", NULL };
	struct fx *f = fx_new(opts, 0);
	struct fake_job *j;

	fx_assign(f, 0, 0, NULL);
	fx_revoke(f, 0);
	assert_int_equal(f->committer->nsyncs, 0);

	/* The committer does not answer in time: the partition still goes. */
	fx_assign(f, 0, 0, NULL);
	j = fx_run_task(f, 0, 0, "t1", NULL);
	job_end(j, RUNNER_EXITED, 0, NULL);
	fx_wait_state(f, "t1", TASK_REPORTING);
	fx_revoke(f, 0);
	assert_int_equal(f->committer->nsyncs, 1);
	assert_int_equal(committer_inflight(f->committer), 1);
	assert_int_equal(ledger_commit_point(f->gw.ledger, 0), -1);
	/* A reporting task is not abandoned: its result is on its way. */
	assert_int_equal(fx_task(f, "t1")->state, TASK_REPORTING);
	/*
	 * The partition comes back before the answer: the same message is not
	 * run again while its result may still commit; it is counted done
	 * once it did.
	 */
	fx_assign(f, 0, 0, NULL);
	fx_deliver_task(f, 0, 0, "t1", NULL);
	assert_int_equal(f->runner->njobs, 1);
	assert_int_equal(f->gw.dlq_total, 0);
	assert_int_equal(ledger_pending(f->gw.ledger, 0), 1);
	assert_int_equal(f->committer->epoch, f->gw.epoch);
	assert_true(f->committer->batches[0]->epoch < f->gw.epoch);
	committer_answer(f->committer, 0, 1, NULL);
	assert_int_equal(fx_task(f, "t1")->state, TASK_DONE);
	assert_int_equal(ledger_pending(f->gw.ledger, 0), 0);
	assert_int_equal(ledger_commit_point(f->gw.ledger, 0), 1);
	fx_free(f);
}

/*
 * The committer dropped a batch built before a revoke (the partitions
 * were given up): its tasks are not reported; one delivered again here
 * meanwhile goes on from that message (its finished game recovered from
 * disk, not run again), one that was not is left to its new owner.
 */
static void
test_revoked_dropped(void **state)
{
	const char *const opts[] = { "gateway.batch_max=100", "gateway.batch_adaptive=false", NULL };
	struct fx *f = fx_new(opts, 0);
	struct gw *gw = &f->gw;
	struct fake_job *j1, *j2;

	fx_assign(f, 0, 0, NULL);
	j1 = fx_run_task(f, 0, 0, "t1", NULL);
	j2 = fx_run_task(f, 0, 1, "t2", NULL);
	job_end(j1, RUNNER_EXITED, 0, NULL);
	job_end(j2, RUNNER_EXITED, 0, NULL);
	fx_wait_state(f, "t1", TASK_REPORTING);
	fx_wait_state(f, "t2", TASK_REPORTING);
	fx_revoke(f, 0);
	assert_int_equal(f->committer->nbatches, 1);
	/* Back here; only t1 is delivered again before the answer. */
	fx_assign(f, 0, 0, NULL);
	fx_deliver_task(f, 0, 0, "t1", NULL);
	assert_int_equal(f->runner->njobs, 2);
	committer_answer_as(f->committer, 0, 1, 1, NULL);
	/*
	 * Neither is reported; t2 is gone; t1, delivered again, is not run
	 * again: its game's outcome is on disk (.outcome) and its claim still
	 * ours, so its outputs are uploaded and reported as recovered.
	 */
	assert_int_equal(gw->totals[RESULT_SUCCEEDED], 0);
	assert_null(task_find(gw, "t2"));
	fx_wait_state(f, "t1", TASK_REPORTING);
	assert_int_equal(f->runner->njobs, 2);
	assert_non_null(fx_task(f, "t1")->recovered);
	assert_non_null(strstr(fx_task(f, "t1")->recovered, "delivered again"));
	assert_int_equal(gw->recovered_total, 1);
	assert_int_equal(gw->nreporting, 1);
	assert_int_equal(gw->nactive, 1);
	fx_free(f);
}

/* The consumer's position counts only when everything delivered is committed. */
static void
test_position(void **state)
{
	struct fx *f = fx_new(NULL, 0);
	struct gw *gw = &f->gw;
	struct fake_job *j;

	fx_assign(f, 0, 10, NULL);
	f->in->position[0] = 12;
	/* Nothing delivered yet, all committed at 10: the offsets up to 12 are markers. */
	assert_int_equal(task_position(0, 10, gw), 12);
	/* Health's committed offset behind the ledger's commit point: not yet. */
	assert_int_equal(task_position(0, 9, gw), -1);
	/* A partition not assigned. */
	assert_int_equal(task_position(5, 0, gw), -1);
	/* Without an intake there is no position. */
	gw->intake = NULL;
	assert_int_equal(task_position(0, 10, gw), -1);
	gw->intake = f->in;

	/*
	 * A task in flight at the committed offset: the commit point is still
	 * 10, but the consumer has moved past what is committed: -1 until its
	 * result is.
	 */
	j = fx_run_task(f, 0, 10, "t1", NULL);
	f->in->position[0] = 11;
	assert_int_equal(ledger_commit_point(gw->ledger, 0), 10);
	assert_int_equal(task_position(0, 10, gw), -1);
	job_end(j, RUNNER_EXITED, 0, NULL);
	fx_wait_state(f, "t1", TASK_REPORTING);
	/* Done in the ledger (the flush), the batch not yet acknowledged: health still says 10. */
	assert_int_equal(task_position(0, 10, gw), -1);
	committer_answer(f->committer, 0, 1, NULL);
	assert_int_equal(task_position(0, 11, gw), 11);
	fx_free(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_happy_path),
		cmocka_unit_test(test_game_ends),
		cmocka_unit_test(test_infra_retries),
		cmocka_unit_test(test_start_fails_at_once),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_duplicate_task),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_redelivered_offset),
		cmocka_unit_test(test_requeue),
		cmocka_unit_test(test_history_shared_folder),
		cmocka_unit_test(test_existing_folder),
		cmocka_unit_test(test_drain),
		cmocka_unit_test(test_drain_grace),
		cmocka_unit_test(test_fatal_commit),
		cmocka_unit_test(test_batching),
		cmocka_unit_test(test_batching_adaptive),
		cmocka_unit_test(test_batching_min_spacing),
		cmocka_unit_test(test_batching_busy_spacing),
		cmocka_unit_test(test_views),
		cmocka_unit_test(test_intake_pause),
		cmocka_unit_test(test_assigned),
		cmocka_unit_test(test_revoked),
		cmocka_unit_test(test_revoked_sync),
		cmocka_unit_test(test_revoked_dropped),
		cmocka_unit_test(test_position),
	};

	log_set_level(LOG_LEVEL_ERROR);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
