/*
 * test-worker.c: the worker primitive (common/worker.c) with a real
 * thread and a real libevent loop: jobs come back in order, a run takes
 * everything queued at once, worker_sync delivers before it returns,
 * jobs left undone are run again, and worker_stop drains or discards.
 */
#include "config.h"
#include "common.h"

#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/event.h>

struct tjob {
	struct worker_job job;	/* first */
	int n;
	int run_id;		/* which run of the thread handled it */
	pthread_t thread;
};

struct tstate {
	struct event_base *base;
	pthread_mutex_t gate_lock;
	pthread_cond_t gate_cond;
	int gate_open;		/* runs wait until the test opens the gate */
	int in_run;		/* a run has taken its jobs */
	int runs;
	int leave_one;		/* the next run hands back all but its last job */
	int delivered[64];
	size_t ndelivered;
	int discarded[64];
	size_t ndiscarded;
	pthread_t loop_thread;
	int wrong_thread;
};

static void
gate_wait(struct tstate *s)
{
	pthread_mutex_lock(&s->gate_lock);
	s->in_run = 1;
	pthread_cond_broadcast(&s->gate_cond);
	while (!s->gate_open)
		pthread_cond_wait(&s->gate_cond, &s->gate_lock);
	pthread_mutex_unlock(&s->gate_lock);
}

static void
gate_open(struct tstate *s)
{
	pthread_mutex_lock(&s->gate_lock);
	s->gate_open = 1;
	pthread_cond_broadcast(&s->gate_cond);
	pthread_mutex_unlock(&s->gate_lock);
}

static void
t_run(struct worker *w, struct worker_jobs *jobs, void *arg)
{
	struct tstate *s = arg;
	struct worker_job *j, *next;
	int run;

	gate_wait(s);
	worker_lock(w);
	run = ++s->runs;
	worker_unlock(w);
	for (j = TAILQ_FIRST(jobs); j != NULL; j = next) {
		next = TAILQ_NEXT(j, entry);
		if (next == NULL && s->leave_one) {
			s->leave_one = 0;
			break;
		}
		((struct tjob *)(void *)j)->run_id = run;
		((struct tjob *)(void *)j)->thread = pthread_self();
		worker_done(w, jobs, j);
	}
}

static void
t_done(struct worker_job *j, void *arg)
{
	struct tstate *s = arg;
	struct tjob *t = (struct tjob *)(void *)j;

	if (!pthread_equal(pthread_self(), s->loop_thread) ||
	    pthread_equal(t->thread, s->loop_thread))
		s->wrong_thread = 1;
	s->delivered[s->ndelivered++] = t->n;
	free(t);
}

static void
t_discard(struct worker_job *j, void *arg)
{
	struct tstate *s = arg;

	s->discarded[s->ndiscarded++] = ((struct tjob *)(void *)j)->n;
	free(j);
}

static struct tjob *
t_job(int n)
{
	struct tjob *t = calloc(1, sizeof *t);

	t->n = n;
	return t;
}

static void
t_init(struct tstate *s)
{
	memset(s, 0, sizeof *s);
	s->base = event_base_new();
	pthread_mutex_init(&s->gate_lock, NULL);
	pthread_cond_init(&s->gate_cond, NULL);
	s->loop_thread = pthread_self();
}

static void
t_fini(struct tstate *s)
{
	event_base_free(s->base);
	pthread_mutex_destroy(&s->gate_lock);
	pthread_cond_destroy(&s->gate_cond);
}

/* Jobs queued while the thread is held are taken in one run, in order, and delivered in the loop. */
static void
test_worker_merges_and_delivers_in_order(void **unused)
{
	struct tstate s;
	struct worker *w;
	int i;

	t_init(&s);
	w = worker_start(s.base, "test", t_run, t_done, &s);
	for (i = 0; i < 5; i++)
		worker_post(w, &t_job(i)->job);
	assert_int_equal(worker_pending(w), 5);
	gate_open(&s);
	assert_int_equal(worker_sync(w, 10000), 0);
	assert_int_equal(s.ndelivered, 5);
	for (i = 0; i < 5; i++)
		assert_int_equal(s.delivered[i], i);
	assert_int_equal(worker_pending(w), 0);
	assert_int_equal(s.wrong_thread, 0);
	/* Everything queued before the gate opened went in the first run (or the one after). */
	assert_true(s.runs <= 2);
	worker_stop(w, 1, t_discard);
	assert_int_equal(s.ndiscarded, 0);
	t_fini(&s);
}

/* The eventfd wakes the loop: event_base_loop delivers without worker_sync. */
static void
test_worker_wakes_loop(void **unused)
{
	struct tstate s;
	struct worker *w;
	int spins = 0;

	t_init(&s);
	gate_open(&s);
	w = worker_start(s.base, "test", t_run, t_done, &s);
	worker_post(w, &t_job(7)->job);
	while (s.ndelivered == 0 && spins++ < 1000)
		event_base_loop(s.base, EVLOOP_ONCE);
	assert_int_equal(s.ndelivered, 1);
	assert_int_equal(s.delivered[0], 7);
	worker_stop(w, 1, t_discard);
	t_fini(&s);
}

/* A job the run does not hand back is run again, first. */
static void
test_worker_reruns_undone(void **unused)
{
	struct tstate s;
	struct worker *w;

	t_init(&s);
	s.leave_one = 1;
	w = worker_start(s.base, "test", t_run, t_done, &s);
	worker_post(w, &t_job(1)->job);
	worker_post(w, &t_job(2)->job);
	gate_open(&s);
	assert_int_equal(worker_sync(w, 10000), 0);
	assert_int_equal(s.ndelivered, 2);
	assert_int_equal(s.delivered[0], 1);
	assert_int_equal(s.delivered[1], 2);
	assert_true(s.runs >= 2);
	worker_stop(w, 1, t_discard);
	t_fini(&s);
}

/* sync gives up at its deadline while the thread is held. */
static void
test_worker_sync_times_out(void **unused)
{
	struct tstate s;
	struct worker *w;

	t_init(&s);
	w = worker_start(s.base, "test", t_run, t_done, &s);
	worker_post(w, &t_job(1)->job);
	assert_int_equal(worker_sync(w, 50), -1);
	assert_int_equal(s.ndelivered, 0);
	gate_open(&s);
	assert_int_equal(worker_sync(w, 10000), 0);
	assert_int_equal(s.ndelivered, 1);
	worker_stop(w, 1, t_discard);
	t_fini(&s);
}

/* Stop with drain runs what is queued; the answers, never delivered, are discarded. */
static void
test_worker_stop_drains(void **unused)
{
	struct tstate s;
	struct worker *w;
	int i;

	t_init(&s);
	w = worker_start(s.base, "test", t_run, t_done, &s);
	for (i = 0; i < 3; i++)
		worker_post(w, &t_job(i)->job);
	gate_open(&s);
	worker_stop(w, 1, t_discard);
	assert_int_equal(s.ndelivered, 0);
	assert_int_equal(s.ndiscarded, 3);
	assert_int_equal(s.runs >= 1, 1);
	t_fini(&s);
}

struct opener {
	struct worker *w;
	struct tstate *s;
};

/* Open the gate once worker_stop has been called. */
static void *
t_open_when_stopping(void *arg)
{
	struct opener *o = arg;

	while (!worker_stopping(o->w))
		sched_yield();
	gate_open(o->s);
	return NULL;
}

/* Stop without drain: the run under way finishes; a job never run is discarded, not run. */
static void
test_worker_stop_without_drain(void **unused)
{
	struct tstate s;
	struct worker *w;
	struct opener o;
	pthread_t th;

	t_init(&s);
	w = worker_start(s.base, "test", t_run, t_done, &s);
	worker_post(w, &t_job(1)->job);
	/* Job 1 is taken by a run held at the gate; job 2 waits in the queue. */
	pthread_mutex_lock(&s.gate_lock);
	while (!s.in_run)
		pthread_cond_wait(&s.gate_cond, &s.gate_lock);
	pthread_mutex_unlock(&s.gate_lock);
	worker_post(w, &t_job(2)->job);
	o.w = w;
	o.s = &s;
	pthread_create(&th, NULL, t_open_when_stopping, &o);
	worker_stop(w, 0, t_discard);
	pthread_join(th, NULL);
	assert_int_equal(s.runs, 1);
	assert_int_equal(s.ndelivered, 0);
	assert_int_equal(s.ndiscarded, 2);
	t_fini(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_worker_merges_and_delivers_in_order),
		cmocka_unit_test(test_worker_wakes_loop),
		cmocka_unit_test(test_worker_reruns_undone),
		cmocka_unit_test(test_worker_sync_times_out),
		cmocka_unit_test(test_worker_stop_drains),
		cmocka_unit_test(test_worker_stop_without_drain),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
