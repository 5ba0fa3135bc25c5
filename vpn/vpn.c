/*
 * vpn.c: the supervisor. One state machine per tunnel, driven by the
 * loop:
 *
 *   STOPPED -> STARTING (openvpn spawned / socket being reached)
 *           -> CONNECTING (openvpn's WAIT, AUTH, ...) -> CONNECTED
 *   CONNECTED -> RECONNECTING (openvpn's RECONNECTING and whatever
 *           follows until CONNECTED again)
 *   any -> BACKOFF (openvpn exited, the socket is unreachable, or it
 *           stayed short of CONNECTED past connect_timeout_s) -> STARTING
 *   any -> STOPPING (vpn_stop: SIGTERM) -> STOPPED
 *
 * In spawn mode the supervisor starts openvpn with --management-hold,
 * connects to its management socket (retrying while openvpn creates
 * it), waits for the >INFO banner, asks for state and byte count
 * notifications, turns the hold flag off (so openvpn's own restarts
 * never wait for us) and releases the hold. It answers >PASSWORD from
 * the auth file. It restarts openvpn, with capped backoff, when the
 * process ends, when the tunnel stays down past the timeout, and when
 * its management socket disappears (without it, the next management
 * connection could not be made). In attach mode it only watches, and
 * retries the socket with backoff.
 *
 * Once CONNECTED it runs checks every probe_interval_s: each cloud
 * CIDR's first and last host must route through the tunnel device, and
 * each endpoint must accept a TCP connection within probe_timeout_ms.
 * healthy is CONNECTED with every check of the last round passed.
 *
 * Credentials never reach a log: the file is read when openvpn asks,
 * the commands carrying them are logged as 'password "Auth" [...]', and
 * the buffers holding them are wiped.
 */
#include "config.h"
#include "vpn-int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "common.h"

#define VPN_SOCK_RETRY_MS 200	/* spawn: while openvpn creates its socket */
#define VPN_BANNER_TIMEOUT_S 10
#define VPN_AUTH_FILE_MAX 4096

/* Command tags: which reply is which. */
enum {
	TAG_NONE,
	TAG_STATE,
	TAG_PID,
	TAG_AUTH,
};

struct vpn {
	struct event_base *base;
	enum vpn_mode mode;
	char *openvpn;
	char *config;
	char *sock;
	char *auth_file;
	char *opt_tun_dev;
	int connect_timeout_s;
	int backoff_min_ms, backoff_max_ms;
	int probe_interval_s, probe_timeout_ms;
	int kill_grace_ms;
	int bytecount_s;
	vpn_event_cb *cb;
	void *arg;

	enum vpn_state state;
	int64_t since_ms;
	int64_t connected_ms;
	int64_t next_try_ms;
	char ovpn_state[32];
	char ovpn_detail[128];
	char *error;
	int64_t error_ms;
	unsigned restarts;
	unsigned auth_failures;
	pid_t pid;
	uint64_t bytes_in, bytes_out;
	char tun_ip[64];
	char tun_dev[IF_NAMESIZE];
	int started;		/* a first try was made */
	int stopping;
	struct backoff backoff;

	struct vpn_job *job;

	/* The management connection. */
	struct bufferevent *bev;
	struct vpn_mgmt *mgmt;
	int skipping;		/* dropping an overlong line */
	dev_t sock_dev;		/* the socket connected to */
	ino_t sock_ino;
	int auth_rejected;	/* the server refused what this session sent */
	char *run_error;	/* what went wrong in this openvpn's life, for its exit */

	struct event *try_ev;	/* the next spawn / socket connection */
	struct event *timeout_ev; /* short of CONNECTED too long */
	struct event *banner_ev; /* no banner on a new connection */
	struct event *hold_ev;	/* a hold release openvpn asked to delay */
	struct event *auth_ev;	/* credentials delayed after a refusal */
	struct event *probe_ev;	/* the next round of checks */
	struct event *notify_ev; /* events raised inside an API call */
	int in_call;
	unsigned pending;	/* 1 << enum vpn_event */

	struct vpn_checks *checks;
	int healthy;
};

static void vpn_try(struct vpn *);
static void vpn_mgmt_close(struct vpn *);
static void vpn_checks_start(struct vpn *);
static void vpn_checks_stop(struct vpn *, const char *why);

static const char *vpn_state_names[] = {
	"STOPPED", "STARTING", "CONNECTING", "CONNECTED", "RECONNECTING", "BACKOFF", "STOPPING",
};

const char *
vpn_state_name(enum vpn_state s)
{
	if ((size_t)s >= nitems(vpn_state_names))
		return "?";
	return vpn_state_names[s];
}

const char *
vpn_check_kind_name(enum vpn_check_kind k)
{
	return k == VPN_CHECK_ROUTE ? "route" : "endpoint";
}

const char *
vpn_check_result_name(enum vpn_check_result r)
{
	switch (r) {
	case VPN_CHECK_OK:
		return "ok";
	case VPN_CHECK_FAILED:
		return "failed";
	default:
		return "pending";
	}
}

const char *
vpn_event_name(enum vpn_event e)
{
	static const char *names[] = { "state", "checks", "health", "stopped" };

	if ((size_t)e >= nitems(names))
		return "?";
	return names[e];
}

/* Events raised inside an API call wait for the loop (notify_ev). */
static void
vpn_emit(struct vpn *v, enum vpn_event e)
{
	struct timeval zero = { 0, 0 };

	if (v->in_call) {
		v->pending |= 1u << e;
		evtimer_add(v->notify_ev, &zero);
		return;
	}
	if (v->cb != NULL)
		v->cb(v, e, v->arg);
}

static void
vpn_notify_cb(evutil_socket_t fd, short what, void *arg)
{
	struct vpn *v = arg;
	unsigned pending = v->pending;
	enum vpn_event e;

	v->pending = 0;
	for (e = VPN_EVENT_STATE; e <= VPN_EVENT_STOPPED; e++)
		if (pending & (1u << e))
			vpn_emit(v, e);
}

static void
vpn_timer(struct event *ev, int64_t ms)
{
	struct timeval tv;

	if (ms < 0)
		ms = 0;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
	evtimer_add(ev, &tv);
}

/* Record an error (taking msg) and log it; the caller emits the event. */
static void
vpn_error(struct vpn *v, char *msg)
{
	log_warn("vpn", "state=%s error=%s", log_q(vpn_state_name(v->state)), log_q(msg));
	free(v->error);
	v->error = msg;
	v->error_ms = util_now_ms();
}

/* An error that explains why this openvpn may end: its exit will say it too. */
static void
vpn_run_error(struct vpn *v, char *msg)
{
	free(v->run_error);
	v->run_error = xstrdup(msg);
	vpn_error(v, msg);
}

static void vpn_set_state(struct vpn *, enum vpn_state);

/* Wait before the next try: BACKOFF, the delay growing with each failure. */
static void
vpn_backoff(struct vpn *v)
{
	int64_t ms = backoff_next(&v->backoff);

	vpn_set_state(v, VPN_BACKOFF);
	v->next_try_ms = util_now_ms() + ms;
	vpn_timer(v->try_ev, ms);
	log_info("vpn: next try later", "delay_ms=%lld", (long long)ms);
}

static void
vpn_health_update(struct vpn *v, int healthy)
{
	if (v->healthy == healthy)
		return;
	v->healthy = healthy;
	log_info("vpn health", "healthy=%d", healthy);
	vpn_emit(v, VPN_EVENT_HEALTH);
}

/*
 * Enter a state. The connect timeout runs while the tunnel is wanted
 * but not up, from the moment it was lost (or first wanted), across
 * openvpn's own oscillations between states.
 */
static void
vpn_set_state(struct vpn *v, enum vpn_state s)
{
	enum vpn_state old = v->state;
	int wanted = s == VPN_STARTING || s == VPN_CONNECTING || s == VPN_RECONNECTING;

	if (wanted && !evtimer_pending(v->timeout_ev, NULL))
		vpn_timer(v->timeout_ev, (int64_t)v->connect_timeout_s * 1000);
	else if (!wanted)
		evtimer_del(v->timeout_ev);
	if (s == old)
		return;
	v->state = s;
	v->since_ms = util_now_ms();
	log_info("vpn state", "state=%s from=%s openvpn=%s detail=%s restarts=%u",
	    log_q(vpn_state_name(s)), log_q(vpn_state_name(old)),
	    log_q(v->ovpn_state[0] != '\0' ? v->ovpn_state : "-"), log_q(v->ovpn_detail),
	    v->restarts);
	if (s == VPN_CONNECTED) {
		v->connected_ms = v->since_ms;
		backoff_reset(&v->backoff);
	} else if (old == VPN_CONNECTED)
		vpn_checks_stop(v, "tunnel not connected");
}

/* ---- the auth file ---- */

/*
 * Read user and password (quoted for a command) from the auth file:
 * a regular file (not a link, FIFO or device), not open to others.
 */
static int
vpn_auth_read(const char *path, char **user, char **pass, char **cause)
{
	char buf[VPN_AUTH_FILE_MAX + 1], *nl, *p2;
	struct stat st;
	ssize_t n;
	size_t len = 0;
	int fd, rc = -1;

	*user = *pass = NULL;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) < 0) {
		xasprintf(cause, "auth file %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		xasprintf(cause, "auth file %s: not a regular file", path);
		goto out;
	}
	if (st.st_mode & 0007) {
		xasprintf(cause, "auth file %s: others may read or change it (mode %04o; chmod 600)",
		    path, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	while (len < sizeof buf - 1 && (n = read(fd, buf + len, sizeof buf - 1 - len)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			xasprintf(cause, "auth file %s: %s", path, strerror(errno));
			goto out;
		}
		len += (size_t)n;
	}
	if (len > VPN_AUTH_FILE_MAX - 1) {
		xasprintf(cause, "auth file %s: larger than %d bytes", path, VPN_AUTH_FILE_MAX - 1);
		goto out;
	}
	buf[len] = '\0';
	if (memchr(buf, '\0', len) != NULL) {
		xasprintf(cause, "auth file %s: holds a NUL byte", path);
		goto out;
	}
	/* Line 1 the user name, line 2 the password ("\r\n" endings too). */
	if ((nl = strchr(buf, '\n')) == NULL) {
		xasprintf(cause, "auth file %s: expected the user name and the password on two lines",
		    path);
		goto out;
	}
	*nl = '\0';
	p2 = nl + 1;
	p2[strcspn(p2, "\n")] = '\0';
	if (nl > buf && nl[-1] == '\r')
		nl[-1] = '\0';
	if (*p2 != '\0' && p2[strlen(p2) - 1] == '\r')
		p2[strlen(p2) - 1] = '\0';
	if (*buf == '\0') {
		xasprintf(cause, "auth file %s: the user name (line 1) is empty", path);
		goto out;
	}
	if ((*user = vpn_mgmt_quote(buf)) == NULL) {
		xasprintf(cause, "auth file %s: the user name holds a control character", path);
		goto out;
	}
	if ((*pass = vpn_mgmt_quote(p2)) == NULL) {
		xasprintf(cause, "auth file %s: the password holds a control character", path);
		goto out;
	}
	rc = 0;
out:
	explicit_bzero(buf, sizeof buf);
	close(fd);
	if (rc != 0) {
		free(*user);
		*user = NULL;
	}
	return rc;
}

static void
vpn_auth_send(struct vpn *v)
{
	char *user, *pass, *cmd, *cause = NULL;

	if (v->mgmt == NULL)
		return;
	if (vpn_auth_read(v->auth_file, &user, &pass, &cause) != 0) {
		vpn_error(v, cause);
		vpn_emit(v, VPN_EVENT_STATE);
		return;
	}
	xasprintf(&cmd, "username \"Auth\" %s", user);
	vpn_mgmt_command(v->mgmt, cmd, VPN_MGMT_REPLY_STATUS, TAG_AUTH, 1);
	explicit_bzero(cmd, strlen(cmd));
	free(cmd);
	xasprintf(&cmd, "password \"Auth\" %s", pass);
	vpn_mgmt_command(v->mgmt, cmd, VPN_MGMT_REPLY_STATUS, TAG_AUTH, 1);
	explicit_bzero(cmd, strlen(cmd));
	free(cmd);
	explicit_bzero(user, strlen(user));
	explicit_bzero(pass, strlen(pass));
	free(user);
	free(pass);
	log_info("vpn credentials sent", "file=%s", log_q(v->auth_file));
}

/* ---- the management connection ---- */

static void
vpn_flush(struct vpn *v)
{
	const char *out;
	size_t len;

	if (v->bev == NULL || v->mgmt == NULL)
		return;
	out = vpn_mgmt_output(v->mgmt, &len);
	if (len == 0)
		return;
	bufferevent_write(v->bev, out, len);
	vpn_mgmt_sent(v->mgmt, len);
}

/* The tunnel is up: which device carries it. */
static void
vpn_learn_dev(struct vpn *v)
{
	char *cause = NULL;

	if (v->opt_tun_dev != NULL) {
		snprintf(v->tun_dev, sizeof v->tun_dev, "%s", v->opt_tun_dev);
		return;
	}
	if (v->tun_ip[0] == '\0') {
		v->tun_dev[0] = '\0';
		return;
	}
	if (vpn_route_dev_of_addr(v->tun_ip, v->tun_dev, &cause) != 0) {
		log_warn("vpn: cannot find the tunnel device", "error=%s", log_q(cause));
		free(cause);
		v->tun_dev[0] = '\0';
	}
}

static void
vpn_apply_state(struct vpn *v, const struct vpn_mgmt_state *st)
{
	enum vpn_state next;
	const char *ip = st->local_ip[0] != '\0' ? st->local_ip : st->local_ipv6;

	snprintf(v->ovpn_state, sizeof v->ovpn_state, "%s", st->name);
	snprintf(v->ovpn_detail, sizeof v->ovpn_detail, "%s", st->desc);
	if (ip[0] != '\0')
		snprintf(v->tun_ip, sizeof v->tun_ip, "%s", ip);
	if (v->stopping || v->state == VPN_BACKOFF || v->state == VPN_STOPPED)
		return;
	next = vpn_state_next(v->state, st->name);
	if (next == v->state)
		return;
	if (next == VPN_CONNECTED)
		vpn_learn_dev(v);
	vpn_set_state(v, next);
	vpn_emit(v, VPN_EVENT_STATE);
	if (next == VPN_CONNECTED && !v->stopping)
		vpn_checks_start(v);
}

static void
vpn_hold_cb(evutil_socket_t fd, short what, void *arg)
{
	struct vpn *v = arg;

	if (v->mgmt == NULL)
		return;
	vpn_mgmt_command(v->mgmt, "hold release", VPN_MGMT_REPLY_STATUS, TAG_NONE, 0);
	vpn_flush(v);
}

static void
vpn_auth_cb(evutil_socket_t fd, short what, void *arg)
{
	struct vpn *v = arg;

	vpn_auth_send(v);
	vpn_flush(v);
}

static void
vpn_on_password(struct vpn *v, const struct vpn_mgmt_msg *m)
{
	const char *said;
	char *e;

	switch (m->pw) {
	case VPN_MGMT_PW_NEED_AUTH:
		if (v->auth_file == NULL) {
			vpn_run_error(v, xstrdup("openvpn asks for a user name and password, and no "
			    "auth file is configured"));
			vpn_emit(v, VPN_EVENT_STATE);
			return;
		}
		/* Asked again on this connection after a refusal: not at once. */
		if (v->auth_rejected) {
			int64_t ms = backoff_next(&v->backoff);

			log_info("vpn: credentials refused before, answering later", "delay_ms=%lld",
			    (long long)ms);
			vpn_timer(v->auth_ev, ms);
			return;
		}
		vpn_auth_send(v);
		return;
	case VPN_MGMT_PW_FAILED:
		v->auth_failures++;
		v->auth_rejected = 1;
		/* The server's reason, when it gave one (client-deny's text). */
		said = m->name[0] != '\0' && strcmp(m->name, "Auth") != 0 ? m->name : NULL;
		xasprintf(&e, "authentication failed: the server refused %s%s%s%s%s",
		    v->auth_file != NULL ? "the user name or password from " :
		    "openvpn's user name or password", v->auth_file != NULL ? v->auth_file : "",
		    said != NULL ? " (it says: " : "", said != NULL ? said : "",
		    said != NULL ? ")" : "");
		vpn_run_error(v, e);
		vpn_emit(v, VPN_EVENT_STATE);
		return;
	case VPN_MGMT_PW_NEED_KEY:
		vpn_run_error(v, xstrdup("openvpn asks for the private key's passphrase: not "
		    "supported (use a key without one, or askpass in its configuration)"));
		vpn_emit(v, VPN_EVENT_STATE);
		return;
	case VPN_MGMT_PW_TOKEN:
		log_debug("vpn: the server sent an auth token", "state=%s",
		    log_q(vpn_state_name(v->state)));
		return;
	default:
		xasprintf(&e, "openvpn asks for a password the supervisor cannot give: %s",
		    m->text);
		vpn_run_error(v, e);
		vpn_emit(v, VPN_EVENT_STATE);
		return;
	}
}

static void
vpn_on_notify(struct vpn *v, const struct vpn_mgmt_msg *m)
{
	char *e;

	switch (m->type) {
	case VPN_MGMT_STATE:
		vpn_apply_state(v, &m->state);
		break;
	case VPN_MGMT_BYTECOUNT:
		v->bytes_in = m->bytes_in;
		v->bytes_out = m->bytes_out;
		break;
	case VPN_MGMT_HOLD:
		/* openvpn says how long it would have waited itself: do the same. */
		vpn_timer(v->hold_ev, m->hold_s > 0 ?
		    (int64_t)(m->hold_s * 1000 < v->backoff_max_ms ? m->hold_s * 1000 :
		    v->backoff_max_ms) : 0);
		break;
	case VPN_MGMT_PASSWORD:
		vpn_on_password(v, m);
		break;
	case VPN_MGMT_NEED_OK:
	case VPN_MGMT_NEED_STR:
		xasprintf(&e, "openvpn waits for an answer to '%s' (%s): not supported", m->name,
		    m->text);
		vpn_run_error(v, e);
		vpn_emit(v, VPN_EVENT_STATE);
		break;
	case VPN_MGMT_FATAL:
		xasprintf(&e, "openvpn: fatal: %s", m->text);
		vpn_run_error(v, e);
		vpn_emit(v, VPN_EVENT_STATE);
		break;
	case VPN_MGMT_LOG:
		log_debug("openvpn log", "flags=%s text=%s", log_q(m->name), log_q(m->text));
		break;
	case VPN_MGMT_MALFORMED:
		log_warn("vpn: a management line that does not parse", "error=%s", log_q(m->text));
		break;
	case VPN_MGMT_INFO:
	case VPN_MGMT_NOTIFY:
		log_info("openvpn notice", "source=%s text=%s",
		    log_q(m->type == VPN_MGMT_INFO ? "INFO" : m->source), log_q(m->text));
		break;
	default:
		break;
	}
}

static void
vpn_on_reply(struct vpn *v, const struct vpn_mgmt_event *ev)
{
	const char *p, *nl, *last = NULL;
	struct vpn_mgmt_state st;
	long long pid;

	if (!ev->ok) {
		log_warn("vpn: openvpn refused a command", "command=%s reply=%s",
		    log_q(ev->command), log_q(ev->text));
		return;
	}
	switch (ev->tag) {
	case TAG_STATE:
		/* The current state is the last line. */
		for (p = ev->text; *p != '\0'; p = nl + 1) {
			if ((nl = strchr(p, '\n')) == NULL)
				break;
			last = p;
		}
		if (last != NULL &&
		    vpn_mgmt_parse_state(last, (size_t)(strchr(last, '\n') - last), &st) == 0)
			vpn_apply_state(v, &st);
		break;
	case TAG_PID:
		if (strncmp(ev->text, "pid=", 4) == 0 && util_parse_int(ev->text + 4, 1,
		    INT32_MAX, &pid) == 0 && v->mode == VPN_MODE_ATTACH)
			v->pid = (pid_t)pid;
		break;
	default:
		break;
	}
}

static void
vpn_on_line(struct vpn *v, const char *line, size_t len)
{
	struct vpn_mgmt_event ev;

	vpn_mgmt_feed(v->mgmt, line, len, &ev);
	switch (ev.type) {
	case VPN_MGMT_EV_BANNER:
		evtimer_del(v->banner_ev);
		log_debug("vpn: management interface ready", "text=%s", log_q(ev.msg.text));
		break;
	case VPN_MGMT_EV_NOTIFY:
		vpn_on_notify(v, &ev.msg);
		break;
	case VPN_MGMT_EV_REPLY:
		vpn_on_reply(v, &ev);
		break;
	case VPN_MGMT_EV_UNEXPECTED:
		log_warn("vpn: unexpected management line", "error=%s", log_q(ev.msg.text));
		break;
	default:
		break;
	}
}

/*
 * The connection is gone: closed by openvpn (fault 0), or given up by
 * us (fault 1: an error whatever the mode).
 */
static void
vpn_mgmt_lost(struct vpn *v, char *why, int fault)
{
	vpn_mgmt_close(v);
	if (v->stopping) {
		free(why);
		return;
	}
	if (v->mode == VPN_MODE_SPAWN) {
		/*
		 * Mostly openvpn ending (its exit will say why); if it still runs,
		 * reach it again, and the connect timeout restarts it if that fails.
		 */
		if (fault)
			vpn_run_error(v, why);
		else {
			log_info("vpn: management connection lost", "reason=%s", log_q(why));
			free(why);
		}
		vpn_timer(v->try_ev, VPN_SOCK_RETRY_MS);
		if (strcmp(v->ovpn_state, "EXITING") == 0)
			return;	/* its exit comes next */
		vpn_set_state(v, VPN_STARTING);
	} else {
		vpn_error(v, why);
		vpn_backoff(v);
	}
	vpn_emit(v, VPN_EVENT_STATE);
}

static void
vpn_read_cb(struct bufferevent *bev, void *arg)
{
	struct vpn *v = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer_ptr eol;
	char line[VPN_MGMT_LINE_MAX + 1], head[32];
	size_t len, n;

	while (v->bev != NULL) {
		eol = evbuffer_search_eol(in, NULL, NULL, EVBUFFER_EOL_LF);
		len = evbuffer_get_length(in);
		if (eol.pos < 0) {
			if (len > VPN_MGMT_LINE_MAX) {
				if (!v->skipping)
					log_warn("vpn: management line over the limit, dropped",
					    "limit=%d", VPN_MGMT_LINE_MAX);
				v->skipping = 1;
				evbuffer_drain(in, len);
			} else if (len > 0 && !v->skipping) {
				n = (size_t)evbuffer_copyout(in, head,
				    len < sizeof head ? len : sizeof head);
				if (vpn_mgmt_is_prompt(head, n))
					vpn_mgmt_lost(v, xstrdup("openvpn's management interface asks "
					    "for a password: not supported (drop the password file from "
					    "--management)"), 1);
			}
			break;
		}
		n = (size_t)eol.pos;
		if (v->skipping || n > VPN_MGMT_LINE_MAX) {
			if (!v->skipping)
				log_warn("vpn: management line over the limit, dropped", "limit=%d",
				    VPN_MGMT_LINE_MAX);
			evbuffer_drain(in, n + 1);
			v->skipping = 0;
			continue;
		}
		evbuffer_remove(in, line, n + 1);
		vpn_on_line(v, line, n);
		vpn_flush(v);
	}
}

static void
vpn_conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct vpn *v = arg;
	char *why;

	if (what & BEV_EVENT_EOF)
		xasprintf(&why, "management connection to %s closed by openvpn", v->sock);
	else
		xasprintf(&why, "management connection to %s: %s", v->sock,
		    strerror(EVUTIL_SOCKET_ERROR()));
	vpn_mgmt_lost(v, why, 0);
}

static void
vpn_banner_cb(evutil_socket_t fd, short what, void *arg)
{
	struct vpn *v = arg;
	char *why;

	xasprintf(&why, "no banner from openvpn's management interface at %s within %d s "
	    "(another client connected?)", v->sock, VPN_BANNER_TIMEOUT_S);
	vpn_mgmt_lost(v, why, 1);
}

static void
vpn_mgmt_close(struct vpn *v)
{
	if (v->bev != NULL)
		bufferevent_free(v->bev);
	v->bev = NULL;
	vpn_mgmt_free(v->mgmt);
	v->mgmt = NULL;
	v->skipping = 0;
	v->auth_rejected = 0;
	if (v->banner_ev != NULL) {
		evtimer_del(v->banner_ev);
		evtimer_del(v->hold_ev);
		evtimer_del(v->auth_ev);
	}
}

/*
 * Connect to the management socket: 0 connected, 1 not there yet (no
 * socket, nobody listening), -1 with *cause when it must not be used.
 */
static int
vpn_mgmt_connect(struct vpn *v, char **cause)
{
	struct sockaddr_un sun;
	struct stat st;
	char cmd[32];
	int fd, err;

	if (lstat(v->sock, &st) != 0) {
		err = errno;
		xasprintf(cause, "management socket %s: %s", v->sock, strerror(err));
		return err == ENOENT ? 1 : -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		xasprintf(cause, "management socket %s: not a socket", v->sock);
		return -1;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		xasprintf(cause, "management socket %s: owned by uid %u, not by root or us",
		    v->sock, (unsigned)st.st_uid);
		return -1;
	}
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", v->sock);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0) {
		xasprintf(cause, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) != 0 && errno != EINPROGRESS) {
		err = errno;
		xasprintf(cause, "management socket %s: %s", v->sock, strerror(err));
		close(fd);
		return err == ECONNREFUSED || err == EAGAIN ? 1 : -1;
	}
	v->sock_dev = st.st_dev;
	v->sock_ino = st.st_ino;
	v->bev = bufferevent_socket_new(v->base, fd, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(v->bev, vpn_read_cb, NULL, vpn_conn_event_cb, v);
	bufferevent_enable(v->bev, EV_READ | EV_WRITE);
	v->mgmt = vpn_mgmt_new();
	/* Queued until the banner: openvpn drops commands sent before it. */
	vpn_mgmt_command(v->mgmt, "state on", VPN_MGMT_REPLY_STATUS, TAG_NONE, 0);
	snprintf(cmd, sizeof cmd, "bytecount %d", v->bytecount_s);
	vpn_mgmt_command(v->mgmt, cmd, VPN_MGMT_REPLY_STATUS, TAG_NONE, 0);
	if (v->mode == VPN_MODE_SPAWN)
		vpn_mgmt_command(v->mgmt, "hold off", VPN_MGMT_REPLY_STATUS, TAG_NONE, 0);
	/* The pid first, so that the state it brings is reported with it. */
	vpn_mgmt_command(v->mgmt, "pid", VPN_MGMT_REPLY_STATUS, TAG_PID, 0);
	vpn_mgmt_command(v->mgmt, "state", VPN_MGMT_REPLY_LIST, TAG_STATE, 0);
	vpn_timer(v->banner_ev, VPN_BANNER_TIMEOUT_S * 1000);
	log_info("vpn: management socket connected", "socket=%s", log_q(v->sock));
	return 0;
}

/* ---- the process ---- */

static void
vpn_on_exit(int status, const char *tail, void *arg)
{
	struct vpn *v = arg;
	char *what = vpn_job_describe(status, tail), *e;

	v->job = NULL;
	v->pid = 0;
	vpn_mgmt_close(v);
	evtimer_del(v->try_ev);
	if (v->stopping) {
		log_info("vpn: openvpn stopped", "how=%s", log_q(what));
		free(what);
		vpn_set_state(v, VPN_STOPPED);
		/* What vpn_stop() raised goes first: nothing follows STOPPED. */
		evtimer_del(v->notify_ev);
		vpn_notify_cb(-1, 0, v);
		vpn_emit(v, VPN_EVENT_STOPPED);
		return;
	}
	/* A refusal of the credentials says more than the exit itself. */
	if (v->run_error != NULL) {
		xasprintf(&e, "%s; %s", v->run_error, what);
		free(what);
		free(v->run_error);
		v->run_error = NULL;
	} else
		e = what;
	vpn_error(v, e);
	vpn_backoff(v);
	vpn_emit(v, VPN_EVENT_STATE);
}

static void
vpn_spawn(struct vpn *v)
{
	char *argv[16], *cause = NULL;
	int n = 0;

	argv[n++] = v->openvpn;
	argv[n++] = (char *)"--config";
	argv[n++] = v->config;
	argv[n++] = (char *)"--management";
	argv[n++] = v->sock;
	argv[n++] = (char *)"unix";
	argv[n++] = (char *)"--management-hold";
	if (v->auth_file != NULL) {
		argv[n++] = (char *)"--management-query-passwords";
		argv[n++] = (char *)"--auth-user-pass";
	}
	argv[n] = NULL;
	v->job = vpn_job_start(v->base, argv, vpn_on_exit, v, &cause);
	if (v->job == NULL) {
		vpn_error(v, cause);
		vpn_backoff(v);
		vpn_emit(v, VPN_EVENT_STATE);
		return;
	}
	v->pid = vpn_job_pid(v->job);
	free(v->run_error);
	v->run_error = NULL;
	log_info("vpn: openvpn started", "pid=%ld config=%s restarts=%u", (long)v->pid,
	    log_q(v->config), v->restarts);
	v->ovpn_state[0] = v->ovpn_detail[0] = '\0';
	vpn_set_state(v, VPN_STARTING);
	vpn_timer(v->try_ev, 50);
	vpn_emit(v, VPN_EVENT_STATE);
}

/* A try: spawn openvpn, or reach its socket. */
static void
vpn_try(struct vpn *v)
{
	char *cause = NULL;
	int rc;

	if (v->stopping)
		return;
	if (v->mode == VPN_MODE_SPAWN && v->job == NULL) {
		if (v->started)
			v->restarts++;
		v->started = 1;
		vpn_spawn(v);
		return;
	}
	if (v->bev != NULL)
		return;
	if (v->mode == VPN_MODE_ATTACH && v->state != VPN_STARTING) {
		if (v->started)
			v->restarts++;
		v->started = 1;
		vpn_set_state(v, VPN_STARTING);
		vpn_emit(v, VPN_EVENT_STATE);
	}
	rc = vpn_mgmt_connect(v, &cause);
	if (rc == 0)
		return;
	if (v->mode == VPN_MODE_SPAWN && rc == 1) {
		/* openvpn is still creating it; the connect timeout bounds this. */
		free(cause);
		vpn_timer(v->try_ev, VPN_SOCK_RETRY_MS);
		return;
	}
	vpn_error(v, cause);
	if (v->mode == VPN_MODE_SPAWN) {
		/* A socket we must not use: start over with a fresh openvpn. */
		vpn_job_stop(v->job, v->kill_grace_ms);
		vpn_emit(v, VPN_EVENT_STATE);
		return;
	}
	vpn_backoff(v);
	vpn_emit(v, VPN_EVENT_STATE);
}

static void
vpn_try_cb(evutil_socket_t fd, short what, void *arg)
{
	vpn_try(arg);
}

static void
vpn_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct vpn *v = arg;
	char *e;

	if (v->bev == NULL)
		xasprintf(&e, "the management socket %s could not be reached within %d s",
		    v->sock, v->connect_timeout_s);
	else
		xasprintf(&e, "not connected within %d s (openvpn's state: %s%s%s)",
		    v->connect_timeout_s, v->ovpn_state[0] != '\0' ? v->ovpn_state : "unknown",
		    v->ovpn_detail[0] != '\0' ? ", " : "", v->ovpn_detail);
	vpn_error(v, e);
	if (v->mode == VPN_MODE_SPAWN && v->job != NULL) {
		log_warn("vpn: restarting openvpn", "pid=%ld", (long)v->pid);
		vpn_job_stop(v->job, v->kill_grace_ms);
	}
	vpn_emit(v, VPN_EVENT_STATE);
}

/* ---- checks ---- */

/* The tunnel is gone (or we stop): no round, checks pending, not healthy. */
static void
vpn_checks_stop(struct vpn *v, const char *why)
{
	vpn_checks_reset(v->checks, why);
	evtimer_del(v->probe_ev);
	vpn_health_update(v, 0);
}

static void
vpn_round_done(void *arg)
{
	struct vpn *v = arg;

	vpn_timer(v->probe_ev, (int64_t)v->probe_interval_s * 1000);
	vpn_emit(v, VPN_EVENT_CHECKS);
	if (!v->stopping)
		vpn_health_update(v, v->state == VPN_CONNECTED && vpn_checks_passed(v->checks));
}

/* Is the management socket still the one we talk to? */
static int
vpn_sock_check(struct vpn *v, char **cause)
{
	struct stat st;

	if (lstat(v->sock, &st) != 0) {
		xasprintf(cause, "the management socket %s was removed (%s)", v->sock,
		    strerror(errno));
		return -1;
	}
	if (st.st_dev != v->sock_dev || st.st_ino != v->sock_ino) {
		xasprintf(cause, "the management socket %s was replaced", v->sock);
		return -1;
	}
	return 0;
}

static void
vpn_checks_start(struct vpn *v)
{
	char *cause = NULL;

	if (v->state != VPN_CONNECTED || v->stopping)
		return;
	evtimer_del(v->probe_ev);
	if (v->bev != NULL && vpn_sock_check(v, &cause) != 0) {
		/* Attach mode keeps watching: say it once, not every round. */
		if (v->error != NULL && strcmp(v->error, cause) == 0) {
			free(cause);
			vpn_checks_run(v->checks, v->tun_dev);
			return;
		}
		vpn_error(v, cause);
		if (v->mode == VPN_MODE_SPAWN && v->job != NULL) {
			/* Without its socket, openvpn could not be reached again: restart now. */
			log_warn("vpn: restarting openvpn", "pid=%ld", (long)v->pid);
			vpn_job_stop(v->job, v->kill_grace_ms);
		}
		vpn_emit(v, VPN_EVENT_STATE);
		if (v->stopping || v->state != VPN_CONNECTED)
			return;
	}
	vpn_checks_run(v->checks, v->tun_dev);
}

static void
vpn_probe_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	vpn_checks_start(arg);
}

/* ---- the public face ---- */

static int
vpn_opt_int(int val, int def, const char *name, char **cause)
{
	if (val < 0) {
		xasprintf(cause, "vpn: %s: %d is negative", name, val);
		return -1;
	}
	return val == 0 ? def : val;
}

/* Copy and check the options into v; -1 with *cause naming the bad one. */
static int
vpn_options_load(struct vpn *v, const struct vpn_options *o, char **cause)
{
	char *err = NULL, *user, *pass;

	v->mode = o->mode;
	if (o->mode != VPN_MODE_SPAWN && o->mode != VPN_MODE_ATTACH) {
		xasprintf(cause, "vpn: mode: %d is neither spawn nor attach", (int)o->mode);
		return -1;
	}
	if (o->mgmt_socket == NULL || *o->mgmt_socket == '\0') {
		xasprintf(cause, "vpn: mgmt_socket: not set");
		return -1;
	}
	if (strlen(o->mgmt_socket) >= sizeof(((struct sockaddr_un *)NULL)->sun_path)) {
		xasprintf(cause, "vpn: mgmt_socket: \"%s\" is longer than a unix socket path may be",
		    o->mgmt_socket);
		return -1;
	}
	v->sock = xstrdup(o->mgmt_socket);
	if (o->mode == VPN_MODE_SPAWN) {
		if (o->config == NULL || *o->config == '\0') {
			xasprintf(cause, "vpn: config: not set (spawn mode needs openvpn's "
			    "configuration file)");
			return -1;
		}
		if (access(o->config, R_OK) != 0) {
			xasprintf(cause, "vpn: config: %s: %s", o->config, strerror(errno));
			return -1;
		}
		v->config = xstrdup(o->config);
		v->openvpn = xstrdup(o->openvpn != NULL && *o->openvpn != '\0' ? o->openvpn :
		    "openvpn");
	}
	if (o->auth_file != NULL && *o->auth_file != '\0') {
		if (vpn_auth_read(o->auth_file, &user, &pass, &err) != 0) {
			xasprintf(cause, "vpn: auth_file: %s", err);
			free(err);
			return -1;
		}
		explicit_bzero(user, strlen(user));
		explicit_bzero(pass, strlen(pass));
		free(user);
		free(pass);
		v->auth_file = xstrdup(o->auth_file);
	}
	if (o->tun_dev != NULL && *o->tun_dev != '\0') {
		if (strlen(o->tun_dev) >= IF_NAMESIZE || strchr(o->tun_dev, '/') != NULL) {
			xasprintf(cause, "vpn: tun_dev: \"%s\" is not a device name", o->tun_dev);
			return -1;
		}
		v->opt_tun_dev = xstrdup(o->tun_dev);
	}

	if ((v->connect_timeout_s = vpn_opt_int(o->connect_timeout_s, 60, "connect_timeout_s",
	    cause)) < 0 ||
	    (v->backoff_min_ms = vpn_opt_int(o->backoff_min_ms, 1000, "backoff_min_ms",
	    cause)) < 0 ||
	    (v->backoff_max_ms = vpn_opt_int(o->backoff_max_ms, 60000, "backoff_max_ms",
	    cause)) < 0 ||
	    (v->probe_interval_s = vpn_opt_int(o->probe_interval_s, 30, "probe_interval_s",
	    cause)) < 0 ||
	    (v->probe_timeout_ms = vpn_opt_int(o->probe_timeout_ms, 5000, "probe_timeout_ms",
	    cause)) < 0 ||
	    (v->kill_grace_ms = vpn_opt_int(o->kill_grace_ms, 5000, "kill_grace_ms", cause)) < 0 ||
	    (v->bytecount_s = vpn_opt_int(o->bytecount_s, 5, "bytecount_s", cause)) < 0)
		return -1;
	if (v->backoff_min_ms > v->backoff_max_ms) {
		xasprintf(cause, "vpn: backoff_min_ms (%d) is above backoff_max_ms (%d)",
		    v->backoff_min_ms, v->backoff_max_ms);
		return -1;
	}
	return 0;
}

static void
vpn_release(struct vpn *v)
{
	vpn_mgmt_close(v);
	vpn_job_free(v->job);
	v->job = NULL;
	vpn_checks_free(v->checks);
	if (v->try_ev != NULL) {
		event_free(v->try_ev);
		event_free(v->timeout_ev);
		event_free(v->banner_ev);
		event_free(v->hold_ev);
		event_free(v->auth_ev);
		event_free(v->probe_ev);
		event_free(v->notify_ev);
	}
	free(v->openvpn);
	free(v->config);
	free(v->sock);
	free(v->auth_file);
	free(v->opt_tun_dev);
	free(v->error);
	free(v->run_error);
	free(v);
}

struct vpn *
vpn_start(struct event_base *base, const struct vpn_options *o, vpn_event_cb *cb, void *arg,
    char **cause)
{
	struct vpn *v = xcalloc(1, sizeof *v);

	v->base = base;
	v->cb = cb;
	v->arg = arg;
	if (vpn_options_load(v, o, cause) != 0) {
		vpn_release(v);
		return NULL;
	}
	v->checks = vpn_checks_new(base, o->cidrs, o->endpoints, v->probe_timeout_ms, vpn_round_done,
	    v, cause);
	if (v->checks == NULL) {
		vpn_release(v);
		return NULL;
	}
	v->try_ev = evtimer_new(base, vpn_try_cb, v);
	v->timeout_ev = evtimer_new(base, vpn_timeout_cb, v);
	v->banner_ev = evtimer_new(base, vpn_banner_cb, v);
	v->hold_ev = evtimer_new(base, vpn_hold_cb, v);
	v->auth_ev = evtimer_new(base, vpn_auth_cb, v);
	v->probe_ev = evtimer_new(base, vpn_probe_tick_cb, v);
	v->notify_ev = evtimer_new(base, vpn_notify_cb, v);
	backoff_init(&v->backoff, (uint32_t)v->backoff_min_ms, (uint32_t)v->backoff_max_ms,
	    (uint64_t)util_mono_ms() ^ (uint64_t)getpid());
	v->state = VPN_STOPPED;
	v->since_ms = util_now_ms();
	log_info("vpn: starting", "mode=%s socket=%s config=%s checks=%zu",
	    log_q(v->mode == VPN_MODE_SPAWN ? "spawn" : "attach"), log_q(v->sock),
	    log_q(v->config != NULL ? v->config : "-"), vpn_checks_count(v->checks));
	vpn_timer(v->try_ev, 0);
	return v;
}

void
vpn_stop(struct vpn *v)
{
	if (v->stopping)
		return;
	v->stopping = 1;
	v->in_call = 1;
	evtimer_del(v->try_ev);
	vpn_checks_stop(v, "stopped");
	if (v->mode == VPN_MODE_SPAWN && v->job != NULL) {
		/* VPN_EVENT_STOPPED when it has exited. */
		vpn_set_state(v, VPN_STOPPING);
		vpn_emit(v, VPN_EVENT_STATE);
		vpn_job_stop(v->job, v->kill_grace_ms);
	} else {
		vpn_mgmt_close(v);
		vpn_set_state(v, VPN_STOPPED);
		vpn_emit(v, VPN_EVENT_STATE);
		vpn_emit(v, VPN_EVENT_STOPPED);
	}
	v->in_call = 0;
}

void
vpn_free(struct vpn *v)
{
	if (v != NULL)
		vpn_release(v);
}

struct vpn_view *
vpn_view_get(const struct vpn *v)
{
	struct vpn_view *w = xcalloc(1, sizeof *w);
	size_t i;

	w->state = v->state;
	w->state_name = vpn_state_name(v->state);
	w->since_ms = v->since_ms;
	w->connected_ms = v->connected_ms;
	w->next_try_ms = v->state == VPN_BACKOFF ? v->next_try_ms : 0;
	w->ovpn_state = xstrdup(v->ovpn_state);
	w->ovpn_detail = xstrdup(v->ovpn_detail);
	w->error = xstrdup(v->error != NULL ? v->error : "");
	w->error_ms = v->error_ms;
	w->restarts = v->restarts;
	w->auth_failures = v->auth_failures;
	w->pid = v->pid;
	w->bytes_in = v->bytes_in;
	w->bytes_out = v->bytes_out;
	w->tun_ip = xstrdup(v->tun_ip);
	w->tun_dev = xstrdup(v->tun_dev);
	w->healthy = v->healthy;
	w->nchecks = vpn_checks_count(v->checks);
	w->checks = xcalloc(w->nchecks + 1, sizeof *w->checks);
	for (i = 0; i < w->nchecks; i++) {
		w->checks[i] = *vpn_checks_get(v->checks, i);
		w->checks[i].target = xstrdup(w->checks[i].target);
		w->checks[i].reason = xstrdup(w->checks[i].reason);
	}
	return w;
}

void
vpn_view_free(struct vpn_view *w)
{
	size_t i;

	if (w == NULL)
		return;
	for (i = 0; i < w->nchecks; i++) {
		free(w->checks[i].target);
		free(w->checks[i].reason);
	}
	free(w->checks);
	free(w->ovpn_state);
	free(w->ovpn_detail);
	free(w->error);
	free(w->tun_ip);
	free(w->tun_dev);
	free(w);
}
