/*
 * tunnel.c: the daemon's glue to vpn/, the OpenVPN supervisor: [vpn] of
 * paia-gateway.conf(5) turned into struct vpn_options, the supervisor
 * started with the loop and stopped after everything else (so uploads
 * and reports of a draining gateway still have the tunnel), its events
 * published on the control socket ("vpn" events), and what the gateway
 * does about the tunnel:
 *
 *   intake    paused while it is not healthy, with
 *             vpn.pause_intake_when_down (games in flight go on)
 *   uploads   waiting ones are tried at once when it is healthy again
 *             (uploads.c), not at their next backoff
 *   /healthz  fails once it has not been healthy for longer than
 *             vpn.unhealthy_after_s (0: never)
 *
 * "Healthy" is vpn/'s: CONNECTED and every route and endpoint check of
 * the last round passed. It decides nothing about tasks and knows vpn/
 * only through vpn.h. Runs in the loop.
 */
#include "config.h"
#include "gateway.h"
#include "vpn.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <event2/event.h>

struct tunnel {
	struct gw *gw;
	struct vpn *vpn;
	enum vpn_mode mode;
	int pause_intake;
	long long unhealthy_after_s;
	int kill_grace_ms;
	int healthy;
	int64_t down_since_ms;	/* wall: not healthy since (start, at first) */
	int stopping;		/* tunnel_stop() runs the loop for it */
	int stopped;		/* VPN_EVENT_STOPPED came */
};

int
tunnel_options(const struct config *conf, const char *state_dir, struct vpn_options *o,
    char **sock, char **cause)
{
	const char *mode = config_get(conf, "vpn", "mode"), *s;

	memset(o, 0, sizeof *o);
	*sock = NULL;
	if (strcmp(mode, "off") == 0)
		return 0;
	o->mode = strcmp(mode, "attach") == 0 ? VPN_MODE_ATTACH : VPN_MODE_SPAWN;
	o->openvpn = config_get(conf, "vpn", "openvpn");
	s = config_get(conf, "vpn", "config");
	o->config = *s != '\0' ? s : NULL;
	if (o->mode == VPN_MODE_SPAWN && o->config == NULL) {
		xasprintf(cause, "vpn.mode = spawn needs vpn.config (openvpn's configuration file)");
		return -1;
	}
	s = config_get(conf, "vpn", "management_socket");
	if (*s != '\0')
		*sock = xstrdup(s);
	else if (o->mode == VPN_MODE_ATTACH) {
		xasprintf(cause, "vpn.mode = attach needs vpn.management_socket (the socket of "
		    "the openvpn that runs: its \"management PATH unix\")");
		return -1;
	} else
		xasprintf(sock, "%s/vpn/openvpn.sock", state_dir);
	o->mgmt_socket = *sock;
	s = config_get(conf, "vpn", "auth_file");
	o->auth_file = *s != '\0' ? s : NULL;
	s = config_get(conf, "vpn", "device");
	o->tun_dev = *s != '\0' ? s : NULL;
	o->cidrs = config_get(conf, "vpn", "cidrs");
	o->endpoints = config_get(conf, "vpn", "endpoints");
	o->connect_timeout_s = (int)config_get_int(conf, "vpn", "connect_timeout_s");
	o->backoff_min_ms = (int)config_get_int(conf, "vpn", "backoff_min_ms");
	o->backoff_max_ms = (int)config_get_int(conf, "vpn", "backoff_max_ms");
	o->probe_interval_s = (int)config_get_int(conf, "vpn", "probe_interval_s");
	o->probe_timeout_ms = (int)config_get_int(conf, "vpn", "probe_timeout_ms");
	o->kill_grace_ms = (int)config_get_int(conf, "vpn", "kill_grace_ms");
	o->bytecount_s = (int)config_get_int(conf, "vpn", "bytecount_s");
	if (o->backoff_min_ms > o->backoff_max_ms) {
		xasprintf(cause, "vpn.backoff_min_ms (%d) is above vpn.backoff_max_ms (%d)",
		    o->backoff_min_ms, o->backoff_max_ms);
		free(*sock);
		*sock = NULL;
		return -1;
	}
	return 1;
}

int
tunnel_verdict(const struct tunnel_health *h, int64_t now_ms, char **why)
{
	int64_t down_s;

	*why = NULL;
	if (h->healthy || h->after_s <= 0 || h->down_since_ms <= 0)
		return 1;
	down_s = (now_ms - h->down_since_ms) / 1000;
	if (down_s <= h->after_s)
		return 1;
	xasprintf(why, "vpn: not healthy for %" PRId64 " s, over vpn.unhealthy_after_s (%lld): "
	    "%s\n", down_s, h->after_s, h->reason);
	return 0;
}

/* Why the tunnel is not healthy, from its view (allocated). */
static char *
tunnel_reason(const struct vpn_view *v)
{
	char *s;
	size_t i;

	if (v->state != VPN_CONNECTED) {
		if (*v->error != '\0')
			xasprintf(&s, "the tunnel is %s (%s)", v->state_name, v->error);
		else if (*v->ovpn_detail != '\0')
			xasprintf(&s, "the tunnel is %s (openvpn: %s %s)", v->state_name,
			    v->ovpn_state, v->ovpn_detail);
		else
			xasprintf(&s, "the tunnel is %s", v->state_name);
		return s;
	}
	for (i = 0; i < v->nchecks; i++) {
		if (v->checks[i].result == VPN_CHECK_FAILED) {
			xasprintf(&s, "%s check of %s failed: %s",
			    vpn_check_kind_name(v->checks[i].kind), v->checks[i].target,
			    v->checks[i].reason);
			return s;
		}
	}
	return xstrdup("the tunnel's checks have not passed yet");
}

static enum proto_vpn_state
tunnel_proto_state(enum vpn_state s)
{
	enum proto_vpn_state p = PROTO_VPN_STOPPED;

	proto_vpn_state_parse(vpn_state_name(s), &p);
	return p;
}

cJSON *
tunnel_json(struct gw *gw)
{
	struct tunnel *t = gw->tunnel;
	struct proto_vpn_view p;
	struct proto_vpn_check *checks;
	struct vpn_view *v;
	int64_t now = util_now_ms();
	cJSON *j;
	size_t i;

	memset(&p, 0, sizeof p);
	if (t == NULL || t->vpn == NULL)
		return proto_vpn_view_encode(&p);
	v = vpn_view_get(t->vpn);
	p.enabled = 1;
	p.mode = t->mode == VPN_MODE_ATTACH ? "attach" : "spawn";
	p.state = tunnel_proto_state(v->state);
	p.since_ms = v->since_ms;
	p.connected_ms = v->connected_ms;
	p.next_try_ms = v->next_try_ms;
	p.openvpn_state = v->ovpn_state;
	p.openvpn_detail = v->ovpn_detail;
	p.pid = v->pid > 0 ? v->pid : -1;
	p.error = *v->error != '\0' ? v->error : NULL;
	p.error_ms = v->error_ms;
	p.restarts = v->restarts;
	p.auth_failures = v->auth_failures;
	p.bytes_in = (int64_t)v->bytes_in;
	p.bytes_out = (int64_t)v->bytes_out;
	p.tun_ip = v->tun_ip;
	p.tun_dev = v->tun_dev;
	p.healthy = v->healthy;
	p.down_since_ms = v->healthy ? 0 : t->down_since_ms;
	p.pause_intake = t->pause_intake;
	p.intake_paused = tunnel_intake_paused(gw);
	checks = xcalloc(v->nchecks + 1, sizeof *checks);
	for (i = 0; i < v->nchecks; i++) {
		checks[i].kind = v->checks[i].kind == VPN_CHECK_ROUTE ? PROTO_VPN_ROUTE :
		    PROTO_VPN_ENDPOINT;
		checks[i].target = v->checks[i].target;
		checks[i].result = v->checks[i].result == VPN_CHECK_OK ? PROTO_VPN_OK :
		    v->checks[i].result == VPN_CHECK_FAILED ? PROTO_VPN_FAILED : PROTO_VPN_PENDING;
		checks[i].reason = v->checks[i].reason;
		checks[i].checked_ms = v->checks[i].checked_ms;
		checks[i].age_ms = v->checks[i].checked_ms > 0 ? now - v->checks[i].checked_ms : -1;
		checks[i].latency_ms = v->checks[i].latency_ms;
	}
	p.checks = checks;
	p.nchecks = v->nchecks;
	j = proto_vpn_view_encode(&p);
	free(checks);
	vpn_view_free(v);
	return j;
}

void
tunnel_status(struct gw *gw, struct proto_status_view *s)
{
	struct tunnel *t = gw->tunnel;
	struct vpn_view *v;

	if (t == NULL || t->vpn == NULL)
		return;
	v = vpn_view_get(t->vpn);
	s->vpn_enabled = 1;
	s->vpn_state = tunnel_proto_state(v->state);
	s->vpn_healthy = v->healthy;
	s->vpn_since_ms = v->since_ms;
	vpn_view_free(v);
}

int
tunnel_intake_paused(const struct gw *gw)
{
	const struct tunnel *t = gw->tunnel;

	return t != NULL && t->vpn != NULL && t->pause_intake && !t->healthy;
}

int
tunnel_healthz(struct gw *gw, char **why)
{
	struct tunnel *t = gw->tunnel;
	struct tunnel_health h;
	struct vpn_view *v;
	char *reason;
	int ok;

	*why = NULL;
	if (t == NULL || t->vpn == NULL || t->unhealthy_after_s <= 0 || t->healthy)
		return 1;
	v = vpn_view_get(t->vpn);
	h.healthy = v->healthy;
	h.down_since_ms = t->down_since_ms;
	h.after_s = t->unhealthy_after_s;
	h.reason = reason = tunnel_reason(v);
	ok = tunnel_verdict(&h, util_now_ms(), why);
	free(reason);
	vpn_view_free(v);
	return ok;
}

struct vpn_view *
tunnel_view(struct gw *gw)
{
	return gw->tunnel != NULL && gw->tunnel->vpn != NULL ? vpn_view_get(gw->tunnel->vpn) :
	    NULL;
}

int64_t
tunnel_down_since(const struct gw *gw)
{
	const struct tunnel *t = gw->tunnel;

	return t != NULL && !t->healthy ? t->down_since_ms : 0;
}

static void
tunnel_event_cb(struct vpn *vpn, enum vpn_event ev, void *arg)
{
	struct tunnel *t = arg;
	struct gw *gw = t->gw;
	struct vpn_view *v;
	char *why;
	int was = t->healthy;

	if (ev == VPN_EVENT_STOPPED) {
		t->stopped = 1;
		if (t->stopping)
			event_base_loopbreak(gw->base);
		return;
	}
	if (t->stopping)
		return;
	v = vpn_view_get(vpn);
	t->healthy = v->healthy;
	if (was && !t->healthy) {
		t->down_since_ms = util_now_ms();
		why = tunnel_reason(v);
		log_warn("the tunnel to the cloud is down: uploads wait for it", "state=%s reason=%s "
		    "intake=%s", log_q(v->state_name), log_q(why),
		    log_q(t->pause_intake ? "paused" : "goes on"));
		free(why);
	} else if (!was && t->healthy)
		log_info("the tunnel to the cloud is up", "down_s=%" PRId64 " tun_ip=%s",
		    (util_now_ms() - t->down_since_ms) / 1000, log_q(v->tun_ip));
	vpn_view_free(v);
	if (was != t->healthy) {
		if (t->pause_intake)
			task_update_intake(gw);
		if (t->healthy)
			uploads_kick(gw);
	}
	if (gw->control != NULL && control_has_subscribers(gw->control))
		control_publish(gw->control, PROTO_EVENT_VPN, tunnel_json(gw));
}

struct tunnel *
tunnel_start(struct gw *gw, char **cause)
{
	struct vpn_options o;
	struct tunnel *t;
	char *sock = NULL, *dir;
	int rc;

	*cause = NULL;
	if ((rc = tunnel_options(gw->conf, gw->state_dir, &o, &sock, cause)) <= 0)
		return NULL;
	if (o.mode == VPN_MODE_SPAWN &&
	    *config_get(gw->conf, "vpn", "management_socket") == '\0') {
		/* The default socket's folder: the gateway's alone (vpn.h asks for it). */
		xasprintf(&dir, "%s/vpn", gw->state_dir);
		if (util_mkdirs(dir, 0700, cause) != 0 || chmod(dir, 0700) != 0) {
			if (*cause == NULL)
				xasprintf(cause, "%s: %s", dir, strerror(errno));
			free(dir);
			free(sock);
			return NULL;
		}
		free(dir);
	}
	t = xcalloc(1, sizeof *t);
	t->gw = gw;
	t->mode = o.mode;
	t->pause_intake = config_get_bool(gw->conf, "vpn", "pause_intake_when_down");
	t->unhealthy_after_s = config_get_int(gw->conf, "vpn", "unhealthy_after_s");
	t->kill_grace_ms = o.kill_grace_ms;
	t->down_since_ms = util_now_ms();
	if ((t->vpn = vpn_start(gw->base, &o, tunnel_event_cb, t, cause)) == NULL) {
		free(sock);
		free(t);
		return NULL;
	}
	log_info("vpn supervisor started", "mode=%s socket=%s pause_intake_when_down=%d "
	    "unhealthy_after_s=%lld", log_q(o.mode == VPN_MODE_ATTACH ? "attach" : "spawn"),
	    log_q(sock), t->pause_intake, t->unhealthy_after_s);
	free(sock);
	return t;
}

/* The tunnel's stop did not finish in time. */
static void
tunnel_stop_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tunnel *t = arg;

	log_warn("vpn supervisor did not stop in time: openvpn is killed", "grace_ms=%d",
	    t->kill_grace_ms);
	event_base_loopbreak(t->gw->base);
}

void
tunnel_stop(struct tunnel *t)
{
	struct timeval tv;
	struct event *timer;

	if (t == NULL)
		return;
	/*
	 * Everything else is stopped by now: the loop runs for the
	 * supervisor alone, until openvpn has ended (SIGTERM, then SIGKILL
	 * after vpn.kill_grace_ms) or a second after that.
	 */
	t->stopping = 1;
	vpn_stop(t->vpn);
	tv.tv_sec = (t->kill_grace_ms + 1000) / 1000;
	tv.tv_usec = ((t->kill_grace_ms + 1000) % 1000) * 1000;
	timer = evtimer_new(t->gw->base, tunnel_stop_timer_cb, t);
	evtimer_add(timer, &tv);
	if (!t->stopped)
		event_base_loop(t->gw->base, 0);
	event_free(timer);
	vpn_free(t->vpn);
	free(t);
}
