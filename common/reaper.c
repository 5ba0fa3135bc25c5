/*
 * reaper.c: one SIGCHLD handler for the whole process, shared by every
 * module that supervises children (the local runner's games, the VPN
 * supervisor's openvpn). A module registers the pid it forked with a
 * callback; the reaper collects that pid's exit status in the loop and
 * hands it over. Without it, two modules each calling waitpid(-1) would
 * steal each other's children.
 *
 * Children nobody registered are left alone, unless orphan reaping is
 * on (a child subreaper adopts its games' orphans and must collect
 * them): then waitpid(-1) collects everything, and what is not
 * registered is dropped.
 *
 * Signals are per process, so the state is too: the first watch binds
 * the reaper to its event base, and a watch from another base is a
 * broken invariant. The SIGCHLD event lives while something is
 * registered (or orphan reaping is on), so a program that has stopped
 * its children holds no signal event.
 *
 * @locality: the loop thread only.
 */
#include "config.h"
#include "common.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/queue.h>
#include <sys/wait.h>

#include <event2/event.h>

struct reaper_watch {
	pid_t pid;
	reaper_cb *cb;
	void *arg;
	LIST_ENTRY(reaper_watch) entry;
};

static LIST_HEAD(, reaper_watch) reaper_watches = LIST_HEAD_INITIALIZER(reaper_watches);
static struct event_base *reaper_base;
static struct event *reaper_ev;
static int reaper_orphans;

static struct reaper_watch *
reaper_find(pid_t pid)
{
	struct reaper_watch *w;

	LIST_FOREACH(w, &reaper_watches, entry)
		if (w->pid == pid)
			return w;
	return NULL;
}

/* Hand a collected child to its watcher, who may add or cancel watches. */
static void
reaper_dispatch(pid_t pid, int status)
{
	struct reaper_watch *w = reaper_find(pid);
	reaper_cb *cb;
	void *arg;

	if (w == NULL)
		return;		/* an orphan adopted as subreaper */
	cb = w->cb;
	arg = w->arg;
	LIST_REMOVE(w, entry);
	free(w);
	cb(pid, status, arg);
}

static void reaper_release(void);

static void
reaper_sigchld_cb(evutil_socket_t sig, short what, void *arg)
{
	struct reaper_watch *w;
	pid_t pid;
	int status, again;

	if (reaper_orphans) {
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
			reaper_dispatch(pid, status);
	} else {
		/* Only our own: a callback may change the list, so start over. */
		do {
			again = 0;
			LIST_FOREACH(w, &reaper_watches, entry) {
				pid = waitpid(w->pid, &status, WNOHANG);
				if (pid == w->pid ||
				    (pid < 0 && errno == ECHILD)) {
					/* ECHILD: someone else reaped it; the status is lost. */
					if (pid < 0)
						status = -1;
					reaper_dispatch(w->pid, status);
					again = 1;
					break;
				}
			}
		} while (again);
	}
	reaper_release();
}

static void
reaper_hold(struct event_base *base)
{
	if (reaper_base != NULL && reaper_base != base)
		fatalx("reaper: children watched from two event bases");
	reaper_base = base;
	if (reaper_ev == NULL) {
		reaper_ev = evsignal_new(base, SIGCHLD, reaper_sigchld_cb, NULL);
		if (reaper_ev == NULL || evsignal_add(reaper_ev, NULL) != 0)
			fatalx("reaper: cannot watch SIGCHLD");
		/*
		 * A child that ended before the handler was installed raised a
		 * SIGCHLD no one heard: look once, from the loop.
		 */
		event_active(reaper_ev, EV_SIGNAL, 1);
	}
}

/* Free the signal event once nothing needs it. */
static void
reaper_release(void)
{
	if (!LIST_EMPTY(&reaper_watches) || reaper_orphans || reaper_ev == NULL)
		return;
	event_free(reaper_ev);
	reaper_ev = NULL;
	reaper_base = NULL;
}

struct reaper_watch *
reaper_watch(struct event_base *base, pid_t pid, reaper_cb *cb, void *arg)
{
	struct reaper_watch *w = xcalloc(1, sizeof *w);

	w->pid = pid;
	w->cb = cb;
	w->arg = arg;
	LIST_INSERT_HEAD(&reaper_watches, w, entry);
	reaper_hold(base);
	return w;
}

void
reaper_cancel(struct reaper_watch *w)
{
	if (w == NULL)
		return;
	LIST_REMOVE(w, entry);
	free(w);
	reaper_release();
}

void
reaper_set_orphans(struct event_base *base, int on)
{
	if (on) {
		reaper_orphans = 1;
		reaper_hold(base);
	} else {
		reaper_orphans = 0;
		reaper_release();
	}
}
