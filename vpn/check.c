/*
 * check.c: rounds of checks that the tunnel carries what it must: each
 * cloud CIDR's first and last host route through the tunnel device
 * (route.c), and each cloud endpoint accepts a TCP connection within
 * its deadline (probe.c). A round's route checks are answered at once;
 * it ends when the last probe has its result.
 *
 * It does not know the tunnel's state nor when to run: the supervisor
 * (vpn.c) starts rounds while CONNECTED and resets the checks to
 * pending when the tunnel goes.
 */
#include "config.h"
#include "vpn-int.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include <event2/dns.h>

#include "common.h"

struct check_endpoint {
	struct vpn_checks *cs;
	size_t index;		/* of its check */
	char *host;
	unsigned port;
	struct vpn_probe *probe; /* while one runs */
};

struct vpn_checks {
	struct event_base *base;
	struct evdns_base *dns;	/* only when an endpoint is a name */
	struct vpn_cidr *cidrs;
	size_t ncidrs;
	struct check_endpoint *eps;
	size_t neps;
	struct vpn_check *checks; /* the CIDRs' first, then the endpoints' */
	size_t nchecks;
	int timeout_ms;
	size_t running;		/* probes of this round still out */
	int round;		/* a round is under way */
	vpn_checks_done_cb *done;
	void *arg;
};

/* Set a result; a change of result or reason is logged (not every round). */
static void
check_set(struct vpn_check *c, enum vpn_check_result r, char *reason)
{
	int changed = c->result != r || strcmp(c->reason, reason) != 0;

	if (changed && r == VPN_CHECK_FAILED)
		log_warn("vpn check failed", "kind=%s target=%s reason=%s",
		    log_q(vpn_check_kind_name(c->kind)), log_q(c->target), log_q(reason));
	else if (r == VPN_CHECK_OK && c->result == VPN_CHECK_FAILED)
		log_info("vpn check passes again", "kind=%s target=%s",
		    log_q(vpn_check_kind_name(c->kind)), log_q(c->target));
	c->result = r;
	free(c->reason);
	c->reason = reason;
	c->checked_ms = util_now_ms();
}

void
vpn_checks_free(struct vpn_checks *cs)
{
	size_t i;

	if (cs == NULL)
		return;
	for (i = 0; i < cs->neps; i++) {
		vpn_probe_cancel(cs->eps[i].probe);
		free(cs->eps[i].host);
	}
	for (i = 0; i < cs->nchecks; i++) {
		free(cs->checks[i].target);
		free(cs->checks[i].reason);
	}
	if (cs->dns != NULL)
		evdns_base_free(cs->dns, 0);
	free(cs->eps);
	free(cs->checks);
	free(cs->cidrs);
	free(cs);
}

struct vpn_checks *
vpn_checks_new(struct event_base *base, const char *cidrs, const char *endpoints, int timeout_ms,
    vpn_checks_done_cb *done, void *arg, char **cause)
{
	struct vpn_checks *cs = xcalloc(1, sizeof *cs);
	char **ci = vpn_list_split(cidrs, &cs->ncidrs);
	char **ei = vpn_list_split(endpoints, &cs->neps);
	char *err = NULL, *host;
	struct in6_addr a6;
	size_t i;
	int names = 0;

	cs->base = base;
	cs->timeout_ms = timeout_ms;
	cs->done = done;
	cs->arg = arg;
	cs->nchecks = cs->ncidrs + cs->neps;
	cs->cidrs = xcalloc(cs->ncidrs + 1, sizeof *cs->cidrs);
	cs->eps = xcalloc(cs->neps + 1, sizeof *cs->eps);
	cs->checks = xcalloc(cs->nchecks + 1, sizeof *cs->checks);
	for (i = 0; i < cs->nchecks; i++) {
		cs->checks[i].kind = i < cs->ncidrs ? VPN_CHECK_ROUTE : VPN_CHECK_ENDPOINT;
		cs->checks[i].reason = xstrdup("tunnel not connected");
		cs->checks[i].latency_ms = -1;
	}
	for (i = 0; i < cs->ncidrs; i++) {
		if (vpn_cidr_parse(ci[i], &cs->cidrs[i], &err) != 0) {
			xasprintf(cause, "vpn: cidrs: %s", err);
			goto fail;
		}
		cs->checks[i].target = xstrdup(cs->cidrs[i].text);
	}
	for (i = 0; i < cs->neps; i++) {
		if (vpn_endpoint_parse(ei[i], &host, &cs->eps[i].port, &err) != 0) {
			xasprintf(cause, "vpn: endpoints: %s", err);
			goto fail;
		}
		cs->eps[i].cs = cs;
		cs->eps[i].index = cs->ncidrs + i;
		cs->eps[i].host = host;
		cs->checks[cs->ncidrs + i].target = xstrdup(ei[i]);
		if (inet_pton(AF_INET, host, &a6) != 1 && inet_pton(AF_INET6, host, &a6) != 1)
			names = 1;
	}
	vpn_list_free(ci);
	vpn_list_free(ei);
	/* A resolver only for names; it stays quiet while nothing is asked. */
	if (names)
		cs->dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
		    EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	return cs;
fail:
	free(err);
	vpn_list_free(ci);
	vpn_list_free(ei);
	vpn_checks_free(cs);
	return NULL;
}

static void
check_round_end(struct vpn_checks *cs)
{
	cs->round = 0;
	cs->done(cs->arg);
}

static void
check_on_probe(int ok, const char *reason, int64_t latency_ms, void *arg)
{
	struct check_endpoint *ep = arg;
	struct vpn_checks *cs = ep->cs;
	struct vpn_check *c = &cs->checks[ep->index];

	ep->probe = NULL;	/* it frees itself */
	check_set(c, ok ? VPN_CHECK_OK : VPN_CHECK_FAILED, xstrdup(reason));
	c->latency_ms = latency_ms;
	if (--cs->running == 0)
		check_round_end(cs);
}

/* One CIDR: its first and last hosts must leave through dev. */
static void
check_route(const struct vpn_cidr *cidr, const char *dev, struct vpn_check *c)
{
	unsigned char a[16];
	char text[INET6_ADDRSTRLEN], out[IF_NAMESIZE], *r = NULL;
	int last;

	if (dev == NULL || *dev == '\0') {
		check_set(c, VPN_CHECK_FAILED, xstrdup("the tunnel device is unknown (set tun_dev, "
		    "or openvpn reported no tunnel address)"));
		return;
	}
	for (last = 0; last <= 1; last++) {
		vpn_cidr_edge(cidr, last, a, text, sizeof text);
		if (vpn_route_dev(cidr->family, a, out, &r) != 0) {
			check_set(c, VPN_CHECK_FAILED, r);
			return;
		}
		if (strcmp(out, dev) != 0) {
			xasprintf(&r, "%s leaves through %s, not %s", text, out, dev);
			check_set(c, VPN_CHECK_FAILED, r);
			return;
		}
	}
	xasprintf(&r, "via %s", dev);
	check_set(c, VPN_CHECK_OK, r);
}

void
vpn_checks_run(struct vpn_checks *cs, const char *dev)
{
	size_t i;

	if (cs->round)
		return;
	cs->round = 1;
	for (i = 0; i < cs->ncidrs; i++)
		check_route(&cs->cidrs[i], dev, &cs->checks[i]);
	for (i = 0; i < cs->neps; i++) {
		cs->eps[i].probe = vpn_probe_start(cs->base, cs->dns, cs->eps[i].host,
		    cs->eps[i].port, cs->timeout_ms, check_on_probe, &cs->eps[i]);
		cs->running++;
	}
	if (cs->running == 0)
		check_round_end(cs);
}

void
vpn_checks_reset(struct vpn_checks *cs, const char *why)
{
	size_t i;

	for (i = 0; i < cs->neps; i++) {
		vpn_probe_cancel(cs->eps[i].probe);
		cs->eps[i].probe = NULL;
	}
	cs->running = 0;
	cs->round = 0;
	for (i = 0; i < cs->nchecks; i++) {
		check_set(&cs->checks[i], VPN_CHECK_PENDING, xstrdup(why));
		cs->checks[i].latency_ms = -1;
	}
}

int
vpn_checks_passed(const struct vpn_checks *cs)
{
	size_t i;

	for (i = 0; i < cs->nchecks; i++)
		if (cs->checks[i].result != VPN_CHECK_OK)
			return 0;
	return 1;
}

size_t
vpn_checks_count(const struct vpn_checks *cs)
{
	return cs->nchecks;
}

const struct vpn_check *
vpn_checks_get(const struct vpn_checks *cs, size_t i)
{
	return &cs->checks[i];
}
