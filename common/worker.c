/*
 * worker.c: one thread for a library call that blocks (librdkafka's
 * transaction calls, ListOffsets, an SSH round), fed by the loop.
 *
 * The loop posts jobs; the thread takes every job queued at once (so it
 * may merge them, as the committer merges batches into one transaction)
 * and hands each one back with worker_done(); an eventfd wakes the loop,
 * which gives finished jobs to the done callback in the order they were
 * handed back. A job is the caller's struct with struct worker_job
 * embedded: the worker never looks inside.
 *
 * The thread starts with every signal blocked, so signals reach the loop
 * thread only. Besides the two queues, the only shared state is what a
 * caller guards with worker_lock() (a counter or two): never the loop's
 * own structs.
 */
#include "config.h"
#include "common.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

struct worker {
	char *name;
	worker_run_cb *run_cb;
	worker_done_cb *done_cb;
	void *arg;

	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;		/* loop -> thread: a job or stop */
	pthread_cond_t idle;		/* thread -> loop: unanswered reached 0 */
	struct worker_jobs queue;	/* posted, not taken; under lock */
	struct worker_jobs answers;	/* handed back, not delivered; under lock */
	size_t unanswered;		/* posted, not handed back; under lock */
	int stopping;			/* under lock */
	int drain;			/* run what is queued before stopping */
	int running;			/* inside run_cb; under lock */
	int64_t beat_ms;		/* monotonic: the run's last sign of life; under lock */

	size_t pending;			/* loop side: posted, not delivered */
	int efd;
	struct event *ev;
};

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct worker_jobs jobs;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (TAILQ_EMPTY(&w->queue) && !w->stopping)
			pthread_cond_wait(&w->cond, &w->lock);
		if (w->stopping && (!w->drain || TAILQ_EMPTY(&w->queue)))
			break;
		TAILQ_INIT(&jobs);
		TAILQ_CONCAT(&jobs, &w->queue, entry);
		w->running = 1;
		w->beat_ms = util_mono_ms();
		pthread_mutex_unlock(&w->lock);
		w->run_cb(w, &jobs, w->arg);
		pthread_mutex_lock(&w->lock);
		w->running = 0;
		/* What the run did not hand back goes back to the queue's head. */
		if (!TAILQ_EMPTY(&jobs)) {
			TAILQ_CONCAT(&jobs, &w->queue, entry);
			TAILQ_CONCAT(&w->queue, &jobs, entry);
		}
	}
	pthread_mutex_unlock(&w->lock);
	log_q_release();
	return NULL;
}

void
worker_done(struct worker *w, struct worker_jobs *jobs, struct worker_job *job)
{
	uint64_t one = 1;

	TAILQ_REMOVE(jobs, job, entry);
	pthread_mutex_lock(&w->lock);
	TAILQ_INSERT_TAIL(&w->answers, job, entry);
	w->beat_ms = util_mono_ms();
	if (--w->unanswered == 0)
		pthread_cond_broadcast(&w->idle);
	if (write(w->efd, &one, sizeof one) < 0 && errno != EAGAIN)
		log_error("worker: eventfd write failed", "worker=%s error=%s", log_q(w->name),
		    log_q(strerror(errno)));
	pthread_mutex_unlock(&w->lock);
}

/* Give the loop what the thread handed back. */
static void
worker_deliver(struct worker *w)
{
	struct worker_jobs done;
	struct worker_job *job;

	TAILQ_INIT(&done);
	pthread_mutex_lock(&w->lock);
	TAILQ_CONCAT(&done, &w->answers, entry);
	pthread_mutex_unlock(&w->lock);
	while ((job = TAILQ_FIRST(&done)) != NULL) {
		TAILQ_REMOVE(&done, job, entry);
		w->pending--;
		w->done_cb(job, w->arg);
	}
}

static void
worker_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	uint64_t v;

	if (read(w->efd, &v, sizeof v) < 0 && errno != EAGAIN)
		log_warn("worker: eventfd read failed", "worker=%s error=%s", log_q(w->name),
		    log_q(strerror(errno)));
	worker_deliver(w);
}

struct worker *
worker_start(struct event_base *base, const char *name, worker_run_cb *run_cb,
    worker_done_cb *done_cb, void *arg)
{
	struct worker *w = xcalloc(1, sizeof *w);
	struct util_sigmask mask;
	int e;

	w->name = xstrdup(name);
	w->run_cb = run_cb;
	w->done_cb = done_cb;
	w->arg = arg;
	TAILQ_INIT(&w->queue);
	TAILQ_INIT(&w->answers);
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	pthread_cond_init(&w->idle, NULL);
	if ((w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
		fatalx("worker %s: eventfd: %s", name, strerror(errno));
	w->ev = event_new(base, w->efd, EV_READ | EV_PERSIST, worker_event_cb, w);
	event_add(w->ev, NULL);
	util_signals_block(&mask);
	if ((e = pthread_create(&w->thread, NULL, worker_main, w)) != 0)
		fatalx("worker %s: pthread_create: %s", name, strerror(e));
	util_signals_restore(&mask);
	return w;
}

void
worker_post(struct worker *w, struct worker_job *job)
{
	pthread_mutex_lock(&w->lock);
	TAILQ_INSERT_TAIL(&w->queue, job, entry);
	w->unanswered++;
	w->pending++;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

int
worker_sync(struct worker *w, int timeout_ms)
{
	struct timespec ts;
	int rc;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&w->lock);
	while (w->unanswered > 0)
		if (pthread_cond_timedwait(&w->idle, &w->lock, &ts) == ETIMEDOUT)
			break;
	rc = w->unanswered == 0 ? 0 : -1;
	pthread_mutex_unlock(&w->lock);
	/* Deliver what was answered now, not at the loop's next turn. */
	worker_deliver(w);
	return rc;
}

size_t
worker_pending(const struct worker *w)
{
	return w->pending;
}

int
worker_stopping(struct worker *w)
{
	int s;

	pthread_mutex_lock(&w->lock);
	s = w->stopping;
	pthread_mutex_unlock(&w->lock);
	return s;
}

void
worker_beat(struct worker *w)
{
	pthread_mutex_lock(&w->lock);
	w->beat_ms = util_mono_ms();
	pthread_mutex_unlock(&w->lock);
}

int64_t
worker_stalled_ms(struct worker *w)
{
	int64_t ms;

	pthread_mutex_lock(&w->lock);
	ms = w->running ? util_mono_ms() - w->beat_ms : 0;
	pthread_mutex_unlock(&w->lock);
	return ms;
}

void
worker_lock(struct worker *w)
{
	pthread_mutex_lock(&w->lock);
}

void
worker_unlock(struct worker *w)
{
	pthread_mutex_unlock(&w->lock);
}

void
worker_stop(struct worker *w, int drain, worker_done_cb *discard_cb)
{
	struct worker_job *job;

	if (w == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = 1;
	w->drain = drain;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	/* The loop has stopped: what is left is discarded, never delivered. */
	TAILQ_CONCAT(&w->answers, &w->queue, entry);
	while ((job = TAILQ_FIRST(&w->answers)) != NULL) {
		TAILQ_REMOVE(&w->answers, job, entry);
		discard_cb(job, w->arg);
	}
	event_free(w->ev);
	close(w->efd);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	pthread_cond_destroy(&w->idle);
	free(w->name);
	free(w);
}
