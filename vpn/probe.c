/*
 * probe.c: is a cloud endpoint reachable? A TCP connect, non-blocking,
 * inside one deadline that covers the name lookup (evdns, for names;
 * numeric addresses skip it) and the handshake. The connection is
 * closed as soon as it is made: nothing is sent, so any TCP service
 * can be probed.
 *
 * The result always comes from the loop (a deferred event), never from
 * inside vpn_probe_start(), and the probe frees itself after its
 * callback.
 */
#include "config.h"
#include "vpn-int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>

#include "common.h"

struct vpn_probe {
	struct event_base *base;
	struct evdns_getaddrinfo_request *dns_req;
	struct event *deadline;
	struct event *conn_ev;
	struct event *done_ev;
	int fd;
	char *host;
	unsigned port;
	int timeout_ms;
	char addr[INET6_ADDRSTRLEN + 8];	/* "10.77.0.10:9000", "[fd00::1]:443" */
	int64_t started_ms;	/* of the connect */
	int finished;
	int ok;
	char *reason;
	int64_t latency_ms;
	vpn_probe_cb *cb;
	void *arg;
};

static void
probe_free(struct vpn_probe *p)
{
	if (p->dns_req != NULL) {
		struct evdns_getaddrinfo_request *r = p->dns_req;

		p->dns_req = NULL;
		evdns_getaddrinfo_cancel(r);	/* its callback sees the cancel and returns */
	}
	if (p->deadline != NULL)
		event_free(p->deadline);
	if (p->conn_ev != NULL)
		event_free(p->conn_ev);
	if (p->done_ev != NULL)
		event_free(p->done_ev);
	if (p->fd >= 0)
		close(p->fd);
	free(p->host);
	free(p->reason);
	free(p);
}

static void
probe_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct vpn_probe *p = arg;

	p->cb(p->ok, p->reason, p->latency_ms, p->arg);
	probe_free(p);
}

/* The outcome is known: stop everything and report from the loop. */
static void
probe_finish(struct vpn_probe *p, int ok, char *reason)
{
	struct timeval zero = { 0, 0 };

	if (p->finished) {
		free(reason);
		return;
	}
	p->finished = 1;
	p->ok = ok;
	p->reason = reason;
	if (p->conn_ev != NULL)
		event_del(p->conn_ev);
	if (p->deadline != NULL)
		event_del(p->deadline);
	if (p->fd >= 0) {
		close(p->fd);
		p->fd = -1;
	}
	evtimer_add(p->done_ev, &zero);
}

static void
probe_connected(struct vpn_probe *p)
{
	char *r;

	p->latency_ms = util_mono_ms() - p->started_ms;
	xasprintf(&r, "connected to %s in %lld ms", p->addr, (long long)p->latency_ms);
	probe_finish(p, 1, r);
}

static void
probe_conn_cb(evutil_socket_t fd, short what, void *arg)
{
	struct vpn_probe *p = arg;
	socklen_t len = sizeof(int);
	int err = 0;
	char *r;

	if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		err = errno;
	if (err == 0) {
		probe_connected(p);
		return;
	}
	xasprintf(&r, "connect to %s: %s", p->addr, strerror(err));
	probe_finish(p, 0, r);
}

static void
probe_connect(struct vpn_probe *p, const struct sockaddr *sa, socklen_t salen)
{
	char text[INET6_ADDRSTRLEN], *r;
	const void *a;

	if (sa->sa_family == AF_INET) {
		a = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
		inet_ntop(AF_INET, a, text, sizeof text);
		snprintf(p->addr, sizeof p->addr, "%s:%u", text, p->port);
	} else {
		a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
		inet_ntop(AF_INET6, a, text, sizeof text);
		snprintf(p->addr, sizeof p->addr, "[%s]:%u", text, p->port);
	}
	p->started_ms = util_mono_ms();
	p->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->fd < 0) {
		xasprintf(&r, "socket for %s: %s", p->addr, strerror(errno));
		probe_finish(p, 0, r);
		return;
	}
	if (connect(p->fd, sa, salen) == 0) {
		probe_connected(p);
		return;
	}
	if (errno != EINPROGRESS) {
		xasprintf(&r, "connect to %s: %s", p->addr, strerror(errno));
		probe_finish(p, 0, r);
		return;
	}
	p->conn_ev = event_new(p->base, p->fd, EV_WRITE, probe_conn_cb, p);
	event_add(p->conn_ev, NULL);
}

static void
probe_dns_cb(int result, struct evutil_addrinfo *res, void *arg)
{
	struct vpn_probe *p = arg;
	char *r;

	if (result == EVUTIL_EAI_CANCEL) {
		if (res != NULL)
			evutil_freeaddrinfo(res);
		return;		/* p is being freed */
	}
	p->dns_req = NULL;
	if (result != 0 || res == NULL) {
		xasprintf(&r, "name lookup for %s: %s", p->host, evutil_gai_strerror(result));
		probe_finish(p, 0, r);
	} else
		probe_connect(p, res->ai_addr, (socklen_t)res->ai_addrlen);
	if (res != NULL)
		evutil_freeaddrinfo(res);
}

static void
probe_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct vpn_probe *p = arg;
	char *r;

	if (p->dns_req != NULL)
		xasprintf(&r, "name lookup for %s: no answer within %d ms", p->host,
		    p->timeout_ms);
	else
		xasprintf(&r, "connect to %s: no answer within %d ms", p->addr, p->timeout_ms);
	if (p->dns_req != NULL) {
		struct evdns_getaddrinfo_request *req = p->dns_req;

		p->dns_req = NULL;
		evdns_getaddrinfo_cancel(req);
	}
	probe_finish(p, 0, r);
}

struct vpn_probe *
vpn_probe_start(struct event_base *base, struct evdns_base *dns, const char *host, unsigned port,
    int timeout_ms, vpn_probe_cb *cb, void *arg)
{
	struct vpn_probe *p = xcalloc(1, sizeof *p);
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	struct evutil_addrinfo hints;
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	struct evdns_getaddrinfo_request *req;
	char portstr[8], *r;

	p->base = base;
	p->fd = -1;
	p->host = xstrdup(host);
	p->port = port;
	p->timeout_ms = timeout_ms;
	p->latency_ms = -1;
	p->cb = cb;
	p->arg = arg;
	snprintf(p->addr, sizeof p->addr, "%s:%u", host, port);
	p->done_ev = evtimer_new(base, probe_done_cb, p);
	p->deadline = evtimer_new(base, probe_deadline_cb, p);
	evtimer_add(p->deadline, &tv);

	memset(&sin, 0, sizeof sin);
	memset(&sin6, 0, sizeof sin6);
	if (inet_pton(AF_INET, host, &sin.sin_addr) == 1) {
		sin.sin_family = AF_INET;
		sin.sin_port = htons((uint16_t)port);
		probe_connect(p, (struct sockaddr *)&sin, sizeof sin);
		return p;
	}
	if (inet_pton(AF_INET6, host, &sin6.sin6_addr) == 1) {
		sin6.sin6_family = AF_INET6;
		sin6.sin6_port = htons((uint16_t)port);
		probe_connect(p, (struct sockaddr *)&sin6, sizeof sin6);
		return p;
	}
	if (dns == NULL) {
		xasprintf(&r, "name lookup for %s: no resolver", host);
		probe_finish(p, 0, r);
		return p;
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = EVUTIL_AI_ADDRCONFIG;
	snprintf(portstr, sizeof portstr, "%u", port);
	/* The callback may run before this returns (an /etc/hosts answer). */
	p->dns_req = (void *)1;
	req = evdns_getaddrinfo(dns, host, portstr, &hints, probe_dns_cb, p);
	if (p->dns_req == (void *)1)
		p->dns_req = req;
	return p;
}

void
vpn_probe_cancel(struct vpn_probe *p)
{
	if (p != NULL)
		probe_free(p);
}
