/*
 * uploads.c: uploads that wait for storage to come back (DESIGN §7: a
 * finished game is never run again only because its upload could not
 * happen yet; its outputs on disk are the durable queue).
 *
 * A task whose upload still fails after storage.retries with a failure
 * that may pass (no route, the VPN down, a timeout, a 5xx) does not end:
 * task.c parks it in state upload_wait, where it holds no game slot and
 * no descriptor, its outputs in its folder. Its destination, the
 * scheme://authority of its result URLs (an S3 bucket, an http(s) host,
 * file://), is then down. While a destination is down, tasks whose
 * uploads go there wait without trying, and one of them at a time (the
 * oldest) probes it: its uploads are tried again after a capped backoff
 * (storage.backoff_ms doubling to storage.backoff_max_ms, with jitter),
 * or at once when the VPN tunnel comes back (tunnel.c). The first upload
 * that the destination answers (it went through, or was refused for
 * good: storage is there either way) brings it back up, and the tasks
 * waiting for it resume, at most gateway.max_inflight at a time, oldest
 * first. A task still waiting storage.upload_deadline_s after its game
 * ended gives up (task.c reports it as error and keeps its outputs).
 *
 * So during an outage a destination gets one probe at a time, whatever
 * the number of tasks waiting, and a destination that is down does not
 * hold back uploads to another.
 *
 * It knows tasks through task.c's calls only (task_upload_resume,
 * task_upload_give_up). Everything runs in the loop.
 */
#include "config.h"
#include "gateway.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

struct uploads_dest {
	struct uploads *u;
	char *origin;
	int64_t down_ms;		/* wall: down since */
	char *error;			/* its last failure */
	struct backoff bo;
	struct event *timer;		/* the next probe */
	int64_t next_ms;		/* wall: when the timer fires; 0: not armed */
	struct task *probe;		/* the task trying it now */
	LIST_ENTRY(uploads_dest) entry;
};
LIST_HEAD(uploads_dest_list, uploads_dest);

struct uploads {
	struct gw *gw;
	struct uploads_dest_list dests;
	struct event *pump;		/* resume tasks whose destination is back */
};

char *
uploads_origin(const char *url)
{
	const char *sep = strstr(url, "://"), *auth, *end, *at;
	char *s;

	if (sep == NULL)
		return xstrdup("?");
	auth = sep + 3;
	end = auth + strcspn(auth, "/?#");
	/* User information is the operator's secret: never part of a name we log. */
	if ((at = memchr(auth, '@', (size_t)(end - auth))) != NULL)
		auth = at + 1;
	if (end - auth == 9 && strncmp(auth, "localhost", 9) == 0 && sep - url == 4 &&
	    strncmp(url, "file", 4) == 0)
		end = auth;
	xasprintf(&s, "%.*s://%.*s", (int)(sep - url), url, (int)(end - auth), auth);
	return s;
}

struct uploads *
uploads_new(struct gw *gw)
{
	struct uploads *u = xcalloc(1, sizeof *u);

	u->gw = gw;
	LIST_INIT(&u->dests);
	return u;
}

static void
uploads_dest_free(struct uploads_dest *d)
{
	LIST_REMOVE(d, entry);
	event_free(d->timer);
	free(d->origin);
	free(d->error);
	free(d);
}

void
uploads_free(struct uploads *u)
{
	struct uploads_dest *d;

	if (u == NULL)
		return;
	while ((d = LIST_FIRST(&u->dests)) != NULL)
		uploads_dest_free(d);
	if (u->pump != NULL)
		event_free(u->pump);
	free(u);
}

/* The destination of a task's uploads, when it is down. */
static struct uploads_dest *
uploads_dest_find(struct uploads *u, const char *origin)
{
	struct uploads_dest *d;

	LIST_FOREACH(d, &u->dests, entry)
		if (strcmp(d->origin, origin) == 0)
			return d;
	return NULL;
}

/* The task's destination (its result prefix's origin), allocated. */
static char *
uploads_task_origin(const struct task *t)
{
	return uploads_origin(t->result_prefix);
}

static struct uploads_dest *
uploads_task_dest(const struct task *t)
{
	struct uploads_dest *d;
	char *o = uploads_task_origin(t);

	d = uploads_dest_find(t->gw->uploads, o);
	free(o);
	return d;
}

static void
uploads_arm(struct uploads_dest *d, uint32_t ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	d->next_ms = util_now_ms() + ms;
	evtimer_add(d->timer, &tv);
}

/* Tasks waiting for this destination: give up those past their deadline; probe with the oldest. */
static void
uploads_probe_cb(evutil_socket_t fd, short what, void *arg)
{
	struct uploads_dest *d = arg;
	struct gw *gw = d->u->gw;
	struct task *t, *next, *probe = NULL;
	int64_t now = util_now_ms();
	char *o;
	size_t n = 0;

	d->next_ms = 0;
	for (t = TAILQ_FIRST(&gw->active); t != NULL; t = next) {
		next = TAILQ_NEXT(t, entry);
		if (t->state != TASK_UPLOAD_WAIT)
			continue;
		o = uploads_task_origin(t);
		if (strcmp(o, d->origin) == 0) {
			if (now >= t->upload_deadline_ms)
				task_upload_give_up(t);	/* reporting now: still in the list */
			else {
				if (probe == NULL)
					probe = t;
				n++;
			}
		}
		free(o);
	}
	if (probe == NULL) {
		log_info("no upload waits for this destination any more", "origin=%s",
		    log_q(d->origin));
		uploads_dest_free(d);
		return;
	}
	log_info("storage still away: trying one waiting upload", "origin=%s task=%s attempt=%d "
	    "waiting=%zu down_s=%" PRId64, log_q(d->origin), log_q(probe->spec->task_id),
	    probe->spec->attempt, n, (now - d->down_ms) / 1000);
	d->probe = probe;
	task_upload_resume(probe);
}

/* Resume tasks whose destination is back, up to max_inflight uploading again at once. */
static void
uploads_pump_cb(evutil_socket_t fd, short what, void *arg)
{
	struct uploads *u = arg;
	struct gw *gw = u->gw;
	struct task *t, *next;
	size_t busy = 0;

	TAILQ_FOREACH(t, &gw->active, entry)
		if (t->upload_resumed)
			busy++;
	for (t = TAILQ_FIRST(&gw->active); t != NULL && busy < gw->max_inflight; t = next) {
		next = TAILQ_NEXT(t, entry);
		if (t->state != TASK_UPLOAD_WAIT || uploads_task_dest(t) != NULL)
			continue;
		busy++;
		t->upload_resumed = 1;
		task_upload_resume(t);
	}
}

static void
uploads_pump(struct uploads *u)
{
	if (u->pump == NULL)
		u->pump = event_new(u->gw->base, -1, 0, uploads_pump_cb, u);
	event_active(u->pump, EV_TIMEOUT, 0);
}

int
uploads_hold(const struct task *t, const char **why)
{
	struct uploads_dest *d = uploads_task_dest(t);

	if (d == NULL || d->probe == t)
		return 0;
	*why = d->error;
	return 1;
}

int
uploads_failed(struct task *t, const char *msg)
{
	struct uploads *u = t->gw->uploads;
	struct uploads_dest *d;
	char *o;

	if (util_now_ms() >= t->upload_deadline_ms)
		return 0;
	o = uploads_task_origin(t);
	if ((d = uploads_dest_find(u, o)) == NULL) {
		d = xcalloc(1, sizeof *d);
		d->u = u;
		d->origin = o;
		d->down_ms = util_now_ms();
		d->timer = evtimer_new(u->gw->base, uploads_probe_cb, d);
		backoff_init(&d->bo, (uint32_t)config_get_int(u->gw->conf, "storage", "backoff_ms"),
		    (uint32_t)config_get_int(u->gw->conf, "storage", "backoff_max_ms"),
		    (uint64_t)util_mono_ms() ^ (uint64_t)(uintptr_t)d);
		LIST_INSERT_HEAD(&u->dests, d, entry);
		log_warn("storage unreachable: finished tasks' uploads wait for it", "origin=%s "
		    "error=%s deadline_s=%lld", log_q(o), log_q(msg),
		    config_get_int(u->gw->conf, "storage", "upload_deadline_s"));
	} else
		free(o);
	free(d->error);
	d->error = xstrdup(msg);
	if (d->probe == t)
		d->probe = NULL;
	if (d->probe == NULL && d->next_ms == 0)
		uploads_arm(d, backoff_next(&d->bo));
	return 1;
}

void
uploads_answered(struct task *t)
{
	struct uploads_dest *d = uploads_task_dest(t);
	struct task *w;
	size_t n = 0;

	if (d == NULL)
		return;
	TAILQ_FOREACH(w, &t->gw->active, entry)
		if (w->state == TASK_UPLOAD_WAIT && w != t)
			n++;
	log_info("storage answers again: waiting uploads resume", "origin=%s down_s=%" PRId64
	    " waiting=%zu", log_q(d->origin), (util_now_ms() - d->down_ms) / 1000, n);
	uploads_dest_free(d);
	uploads_pump(t->gw->uploads);
}

void
uploads_forget(struct task *t)
{
	struct uploads *u = t->gw->uploads;
	struct uploads_dest *d;

	if (u == NULL)
		return;
	LIST_FOREACH(d, &u->dests, entry) {
		if (d->probe != t)
			continue;
		/* Its probe went away without an answer: another task probes now. */
		d->probe = NULL;
		if (d->next_ms == 0)
			uploads_arm(d, 0);
	}
	if (t->upload_resumed) {
		t->upload_resumed = 0;
		uploads_pump(u);
	}
}

void
uploads_kick(struct gw *gw)
{
	struct uploads_dest *d;

	if (gw->uploads == NULL)
		return;
	LIST_FOREACH(d, &gw->uploads->dests, entry) {
		backoff_reset(&d->bo);
		if (d->probe != NULL)
			continue;
		evtimer_del(d->timer);
		uploads_arm(d, 0);
	}
}

int64_t
uploads_next_try(const struct task *t)
{
	struct uploads_dest *d = t->state == TASK_UPLOAD_WAIT ? uploads_task_dest(t) : NULL;

	return d != NULL ? d->next_ms : 0;
}

size_t
uploads_down(const struct gw *gw)
{
	const struct uploads_dest *d;
	size_t n = 0;

	if (gw->uploads == NULL)
		return 0;
	LIST_FOREACH(d, &gw->uploads->dests, entry)
		n++;
	return n;
}
