/*
 * vpn-test.c: runs the VPN supervisor (vpn/vpn.h) from flags and prints
 * what it reports, one line per event, for the tests in tests/vpn/:
 *
 *   event=state state=CONNECTED restarts=0 ... error="..."
 *   event=checks healthy=1
 *   check kind=route target=10.77.0.0/24 result=ok reason="via tun0" ...
 *   event=health healthy=1
 *   event=stopped
 *
 * SIGTERM stops the supervisor (vpn_stop) and exits once it has
 * stopped; SIGINT frees it at once (vpn_free: openvpn is killed and
 * collected before it returns); SIGUSR1 prints the whole view
 * (event=view). --for S
 * stops after S seconds; --until-healthy stops (exit 0) as soon as the
 * tunnel is healthy, and exits 1 if --for runs out first.
 */
#include "config.h"
#include "vpn.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "common.h"

static int until_healthy;
static int reached;
static struct event_base *base;

static void
print_view(const char *what, struct vpn *v)
{
	struct vpn_view *w = vpn_view_get(v);
	size_t i;

	printf("event=%s state=%s restarts=%u auth_failures=%u pid=%ld openvpn=%s detail=%s "
	    "tun_ip=%s tun_dev=%s healthy=%d bytes_in=%llu bytes_out=%llu since_ms=%lld "
	    "connected_ms=%lld next_try_ms=%lld error=%s\n", what, w->state_name, w->restarts,
	    w->auth_failures, (long)w->pid, w->ovpn_state[0] != '\0' ? w->ovpn_state : "-",
	    log_q(w->ovpn_detail), w->tun_ip[0] != '\0' ? w->tun_ip : "-",
	    w->tun_dev[0] != '\0' ? w->tun_dev : "-", w->healthy,
	    (unsigned long long)w->bytes_in, (unsigned long long)w->bytes_out,
	    (long long)w->since_ms, (long long)w->connected_ms, (long long)w->next_try_ms,
	    log_q(w->error));
	if (strcmp(what, "state") != 0)
		for (i = 0; i < w->nchecks; i++)
			printf("check kind=%s target=%s result=%s reason=%s latency_ms=%lld\n",
			    vpn_check_kind_name(w->checks[i].kind), w->checks[i].target,
			    vpn_check_result_name(w->checks[i].result), log_q(w->checks[i].reason),
			    (long long)w->checks[i].latency_ms);
	fflush(stdout);
	vpn_view_free(w);
}

static void
on_event(struct vpn *v, enum vpn_event e, void *arg)
{
	switch (e) {
	case VPN_EVENT_STATE:
		print_view("state", v);
		break;
	case VPN_EVENT_CHECKS:
		print_view("checks", v);
		break;
	case VPN_EVENT_HEALTH:
		print_view("health", v);
		if (until_healthy && !reached) {
			struct vpn_view *w = vpn_view_get(v);

			if (w->healthy) {
				reached = 1;
				vpn_stop(v);
			}
			vpn_view_free(w);
		}
		break;
	case VPN_EVENT_STOPPED:
		printf("event=stopped\n");
		fflush(stdout);
		event_base_loopexit(base, NULL);
		break;
	}
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct vpn *v = arg;

	if (sig == SIGUSR1) {
		print_view("view", v);
		return;
	}
	if (sig == SIGINT) {
		printf("event=freed\n");
		fflush(stdout);
		event_base_loopbreak(base);
		return;
	}
	vpn_stop(v);
}

static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	printf("event=deadline\n");
	fflush(stdout);
	vpn_stop(arg);
}

static void
usage(void)
{
	fprintf(stderr, "usage: vpn-test [--attach] [--openvpn PATH] [--config FILE] --socket PATH "
	    "[--auth FILE] [--dev NAME] [--cidrs LIST] [--endpoints LIST] [--connect-timeout S] "
	    "[--backoff-min MS] [--backoff-max MS] [--probe-interval S] [--probe-timeout MS] "
	    "[--kill-grace MS] [--bytecount S] [--for S] [--until-healthy] [-v]\n");
	exit(2);
}

static int
num(const char *s)
{
	long long v;

	if (util_parse_int(s, 0, 1000000000, &v) != 0) {
		fprintf(stderr, "vpn-test: \"%s\" is not a number\n", s);
		exit(2);
	}
	return (int)v;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "attach", no_argument, NULL, 'A' },
		{ "openvpn", required_argument, NULL, 'o' },
		{ "config", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ "auth", required_argument, NULL, 'a' },
		{ "dev", required_argument, NULL, 'd' },
		{ "cidrs", required_argument, NULL, 'C' },
		{ "endpoints", required_argument, NULL, 'E' },
		{ "connect-timeout", required_argument, NULL, 't' },
		{ "backoff-min", required_argument, NULL, 'b' },
		{ "backoff-max", required_argument, NULL, 'B' },
		{ "probe-interval", required_argument, NULL, 'i' },
		{ "probe-timeout", required_argument, NULL, 'T' },
		{ "kill-grace", required_argument, NULL, 'k' },
		{ "bytecount", required_argument, NULL, 'n' },
		{ "for", required_argument, NULL, 'f' },
		{ "until-healthy", no_argument, NULL, 'u' },
		{ NULL, 0, NULL, 0 }
	};
	struct vpn_options o;
	struct event *sigs[4], *deadline = NULL;
	struct timeval tv;
	struct vpn *v;
	char *cause = NULL;
	int c, run_for = 0, i;
	static const int signums[] = { SIGTERM, SIGINT, SIGUSR1, SIGHUP };

	memset(&o, 0, sizeof o);
	o.mode = VPN_MODE_SPAWN;
	while ((c = getopt_long(argc, argv, "v", longopts, NULL)) != -1) {
		switch (c) {
		case 'A': o.mode = VPN_MODE_ATTACH; break;
		case 'o': o.openvpn = optarg; break;
		case 'c': o.config = optarg; break;
		case 's': o.mgmt_socket = optarg; break;
		case 'a': o.auth_file = optarg; break;
		case 'd': o.tun_dev = optarg; break;
		case 'C': o.cidrs = optarg; break;
		case 'E': o.endpoints = optarg; break;
		case 't': o.connect_timeout_s = num(optarg); break;
		case 'b': o.backoff_min_ms = num(optarg); break;
		case 'B': o.backoff_max_ms = num(optarg); break;
		case 'i': o.probe_interval_s = num(optarg); break;
		case 'T': o.probe_timeout_ms = num(optarg); break;
		case 'k': o.kill_grace_ms = num(optarg); break;
		case 'n': o.bytecount_s = num(optarg); break;
		case 'f': run_for = num(optarg); break;
		case 'u': until_healthy = 1; break;
		case 'v': log_set_level(LOG_LEVEL_DEBUG); break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	signal(SIGPIPE, SIG_IGN);
	base = event_base_new();
	v = vpn_start(base, &o, on_event, NULL, &cause);
	if (v == NULL) {
		printf("event=error error=%s\n", log_q(cause));
		free(cause);
		event_base_free(base);
		log_q_release();
		return 2;
	}
	for (i = 0; i < 4; i++) {
		sigs[i] = evsignal_new(base, signums[i], on_signal, v);
		evsignal_add(sigs[i], NULL);
	}
	if (run_for > 0) {
		tv.tv_sec = run_for;
		tv.tv_usec = 0;
		deadline = evtimer_new(base, on_deadline, v);
		evtimer_add(deadline, &tv);
	}
	event_base_dispatch(base);
	for (i = 0; i < 4; i++)
		event_free(sigs[i]);
	if (deadline != NULL)
		event_free(deadline);
	vpn_free(v);
	event_base_free(base);
	log_q_release();
	return until_healthy && !reached ? 1 : 0;
}
