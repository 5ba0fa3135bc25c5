/*
 * evaccept.c: what a libevent listener does when accept(2) fails.
 *
 * Without an error callback libevent 2.1 logs "Error from accept()" and
 * tries again at once: out of descriptors (EMFILE, ENFILE) the listening
 * socket stays readable, so the loop spins and the log grows by millions
 * of lines while the connection waits in the queue. Here a failure
 * pauses the listener for EVACCEPT_PAUSE_MS (the queued connection
 * waits in the kernel's backlog; games and transfers get the
 * descriptors first), and is logged at most once per
 * EVACCEPT_LOG_INTERVAL_MS with the count of failures since the last
 * line. The owner may veto a resume (can_resume: a connection cap it
 * enforces by disabling the listener itself).
 *
 * It does not accept, count or close connections: the listener's owner
 * does.
 * @locality: the loop of the listener.
 */
#include "config.h"
#include "common.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/event.h>
#include <event2/listener.h>

#define EVACCEPT_PAUSE_MS 1000
#define EVACCEPT_LOG_INTERVAL_MS 10000

struct evaccept {
	struct evconnlistener *listener;
	struct event *timer;
	char *what;
	int (*can_resume)(void *);
	void *arg;
	unsigned long failures;	/* since the last log line */
	int64_t last_log_ms;
	int paused;
	LIST_ENTRY(evaccept) entry;
};
/*
 * libevent hands the error callback the listener's own argument (its
 * owner's, evhttp's for instance), not one of ours: find the guard by
 * its listener. There are two listeners in a gateway.
 */
static LIST_HEAD(, evaccept) guards = LIST_HEAD_INITIALIZER(guards);

static void
evaccept_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct evaccept *g = arg;

	g->paused = 0;
	if (g->can_resume == NULL || g->can_resume(g->arg))
		evconnlistener_enable(g->listener);
}

static void
evaccept_error_cb(struct evconnlistener *l, void *arg)
{
	struct evaccept *g;
	struct timeval tv = { EVACCEPT_PAUSE_MS / 1000, (EVACCEPT_PAUSE_MS % 1000) * 1000 };
	int err = EVUTIL_SOCKET_ERROR();
	int64_t now = util_mono_ms();

	LIST_FOREACH(g, &guards, entry)
		if (g->listener == l)
			break;
	if (g == NULL)
		return;
	g->failures++;
	if (g->last_log_ms == 0 || now - g->last_log_ms >= EVACCEPT_LOG_INTERVAL_MS) {
		log_warn("cannot accept connections, pausing the listener", "listener=%s error=%s "
		    "failures=%lu pause_ms=%d", log_q(g->what), log_q(strerror(err)), g->failures,
		    EVACCEPT_PAUSE_MS);
		g->failures = 0;
		g->last_log_ms = now;
	}
	evconnlistener_disable(l);
	g->paused = 1;
	evtimer_add(g->timer, &tv);
}

struct evaccept *
evaccept_new(struct event_base *base, struct evconnlistener *l, const char *what,
    int (*can_resume)(void *), void *arg)
{
	struct evaccept *g = xcalloc(1, sizeof *g);

	g->listener = l;
	g->what = xstrdup(what);
	g->can_resume = can_resume;
	g->arg = arg;
	g->timer = evtimer_new(base, evaccept_resume_cb, g);
	LIST_INSERT_HEAD(&guards, g, entry);
	evconnlistener_set_error_cb(l, evaccept_error_cb);
	return g;
}

int
evaccept_paused(const struct evaccept *g)
{
	return g != NULL && g->paused;
}

void
evaccept_free(struct evaccept *g)
{
	if (g == NULL)
		return;
	LIST_REMOVE(g, entry);
	event_free(g->timer);
	free(g->what);
	free(g);
}
