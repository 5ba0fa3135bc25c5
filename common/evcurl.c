/*
 * evcurl.c: one libcurl multi handle driven by a libevent base, after
 * curl's docs/examples/multi-event.c: curl tells us which sockets to
 * watch (CURLMOPT_SOCKETFUNCTION) and when to time out
 * (CURLMOPT_TIMERFUNCTION); libevent tells curl when they fire.
 * Finished transfers are handed to their owner's callback.
 */
#include "config.h"
#include "common.h"

#include <curl/curl.h>
#include <event2/event.h>
#include <stdlib.h>

struct evcurl_sock {
	struct event *ev;
	struct evcurl *ec;
	curl_socket_t fd;
};

struct evcurl_xfer {
	evcurl_done_cb *cb;
	void *arg;
};

struct evcurl {
	struct event_base *base;
	CURLM *multi;
	struct event *timer;
	size_t running;
};

static void evcurl_check(struct evcurl *);

static void
evcurl_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct evcurl_sock *s = arg;
	struct evcurl *ec = s->ec;
	int flags = 0, still;

	if (what & EV_READ)
		flags |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		flags |= CURL_CSELECT_OUT;
	curl_multi_socket_action(ec->multi, fd, flags, &still);
	evcurl_check(ec);
}

static void
evcurl_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct evcurl *ec = arg;
	int still;

	curl_multi_socket_action(ec->multi, CURL_SOCKET_TIMEOUT, 0, &still);
	evcurl_check(ec);
}

static int
evcurl_socket_cb(CURL *easy, curl_socket_t fd, int action, void *arg, void *sockp)
{
	struct evcurl *ec = arg;
	struct evcurl_sock *s = sockp;
	short kind = EV_PERSIST;

	if (action == CURL_POLL_REMOVE) {
		if (s != NULL) {
			event_free(s->ev);
			free(s);
			curl_multi_assign(ec->multi, fd, NULL);
		}
		return 0;
	}
	if (action & CURL_POLL_IN)
		kind |= EV_READ;
	if (action & CURL_POLL_OUT)
		kind |= EV_WRITE;
	if (s == NULL) {
		s = xcalloc(1, sizeof *s);
		s->ec = ec;
		s->fd = fd;
		curl_multi_assign(ec->multi, fd, s);
	} else
		event_free(s->ev);
	s->ev = event_new(ec->base, fd, kind, evcurl_event_cb, s);
	event_add(s->ev, NULL);
	return 0;
}

static int
evcurl_timerfunc_cb(CURLM *multi, long timeout_ms, void *arg)
{
	struct evcurl *ec = arg;
	struct timeval tv;

	if (timeout_ms < 0) {
		evtimer_del(ec->timer);
		return 0;
	}
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	evtimer_add(ec->timer, &tv);
	return 0;
}

static void
evcurl_check(struct evcurl *ec)
{
	struct evcurl_xfer *x;
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(ec->multi, &left)) != NULL) {
		CURL *easy = msg->easy_handle;
		CURLcode rc = msg->data.result;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
		curl_multi_remove_handle(ec->multi, easy);
		ec->running--;
		curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
		if (x != NULL) {
			evcurl_done_cb *cb = x->cb;
			void *arg = x->arg;
			free(x);
			cb(easy, (int)rc, arg);
		}
	}
}

struct evcurl *
evcurl_new(struct event_base *base)
{
	struct evcurl *ec = xcalloc(1, sizeof *ec);

	ec->base = base;
	if ((ec->multi = curl_multi_init()) == NULL)
		fatalx("curl_multi_init failed");
	ec->timer = evtimer_new(base, evcurl_timer_cb, ec);
	curl_multi_setopt(ec->multi, CURLMOPT_SOCKETFUNCTION, evcurl_socket_cb);
	curl_multi_setopt(ec->multi, CURLMOPT_SOCKETDATA, ec);
	curl_multi_setopt(ec->multi, CURLMOPT_TIMERFUNCTION, evcurl_timerfunc_cb);
	curl_multi_setopt(ec->multi, CURLMOPT_TIMERDATA, ec);
	return ec;
}

void
evcurl_free(struct evcurl *ec)
{
	if (ec == NULL)
		return;
	curl_multi_cleanup(ec->multi);
	event_free(ec->timer);
	free(ec);
}

void
evcurl_add(struct evcurl *ec, void *easy, evcurl_done_cb *cb, void *arg)
{
	struct evcurl_xfer *x = xmalloc(sizeof *x);

	x->cb = cb;
	x->arg = arg;
	curl_easy_setopt(easy, CURLOPT_PRIVATE, x);
	curl_multi_add_handle(ec->multi, easy);
	ec->running++;
}

void
evcurl_remove(struct evcurl *ec, void *easy)
{
	struct evcurl_xfer *x = NULL;

	curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
	curl_multi_remove_handle(ec->multi, easy);
	curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
	free(x);
	ec->running--;
}

size_t
evcurl_running(const struct evcurl *ec)
{
	return ec->running;
}
