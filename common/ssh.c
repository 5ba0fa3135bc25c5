/*
 * ssh.c: one SSH client session (libssh2 in non-blocking mode) driven by
 * a libevent base. The session walks connect -> handshake -> host key
 * check -> authentication -> ready; once ready it runs exec channels,
 * one-shot (output collected up to a cap) or long-lived (stdin queued,
 * output streamed). Everything runs in the loop's thread: no threads,
 * no blocking call but the ssh-agent's local socket and the small
 * known_hosts file read.
 *
 * libssh2 non-blocking: a call that returns LIBSSH2_ERROR_EAGAIN must be
 * called again when the socket is ready in the directions
 * libssh2_session_block_directions() names. Two rules of libssh2 shape
 * the engine (ssh_session_run):
 *  - channel opens share one state machine per session, so one channel
 *    opens at a time (s->opening), the others wait;
 *  - a packet half-sent belongs to the call that sent it: when a call
 *    returns EAGAIN with data still to send, that same call is repeated
 *    before any other (s->hold). Otherwise the next caller's packet would
 *    be taken as sent, or the first one sent twice.
 *
 * It does not retry, reconnect or keep state across sessions: that is
 * the owner's job (gpu/probe.c, the console's remote transport). It does
 * not resolve names itself: numeric addresses are used as they are,
 * names need the caller's evdns base.
 *
 * Callbacks may free the session or a channel and start new channels:
 * while the engine runs (s->busy) freeing only marks, and the engine
 * sweeps when it unwinds.
 */
#include "config.h"
#include "common.h"

#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <libssh2.h>

#define SSH_CONNECT_TIMEOUT_MS 10000
/*
 * The SSH window a channel offers: what the peer may send unread, so what
 * a closing or paused channel can still cost. 256 KiB keeps a stream at
 * 5 MB/s over 50 ms of round trip.
 */
#define SSH_WINDOW (256 * 1024)
#define SSH_WRITE_CAP (4 * 1024 * 1024)
#define SSH_ERR_CAP 4096
#define SSH_KNOWN_HOSTS_MAX (4 * 1024 * 1024)
/* Engine passes over the channels before yielding to the loop. */
#define SSH_RUN_PASSES 32

enum ssh_state {
	SSH_RESOLVING,
	SSH_CONNECTING,
	SSH_HANDSHAKE,
	SSH_AUTH,
	SSH_READY,
	SSH_DEAD
};

enum ssh_ch_state {
	CH_WAITING,	/* for the session, or for another channel's open */
	CH_OPENING,
	CH_STARTING,	/* exec request */
	CH_RUNNING,
	CH_WAIT_CLOSED,	/* the command ended: wait for its exit status and close */
	CH_CLOSING,
	CH_FREEING,
	CH_DONE
};

/* What a RUNNING channel was doing when it had to stop mid-packet. */
enum ssh_ch_op { OP_NONE, OP_WRITE, OP_EOF, OP_READ_OUT, OP_READ_ERR };

struct ssh_exec {
	ssh_exec_cb *cb;
	void *arg;
	size_t cap;
	int timeout_ms;
	struct event *timer;
	struct ssh_exec_result r;
	size_t out_alloc;
};

struct ssh_channel {
	struct ssh_session *s;
	LIBSSH2_CHANNEL *ch;
	enum ssh_ch_state state;
	enum ssh_ch_op hold_op;
	char *command;
	char *socket_path;	/* a direct-streamlocal channel to this socket: no command */
	unsigned int window;

	char *wbuf;
	size_t wlen, woff, walloc;
	int eof_wanted, eof_sent;
	int paused;
	int out_eof, err_eof;	/* the stream's read returned 0 (end) */
	int ended;		/* remote EOF seen and both streams drained */
	int detached;		/* the owner let go: no more callbacks */
	int exit_status;
	char *exit_signal;
	char *error;

	ssh_data_cb *data_cb;
	ssh_close_cb *close_cb;
	void *arg;
	struct ssh_exec *exec;	/* one-shot: collects output */

	TAILQ_ENTRY(ssh_channel) entry;
};
TAILQ_HEAD(ssh_channels, ssh_channel);

struct ssh_resolve {
	struct ssh_session *s;
};

struct ssh_session {
	struct event_base *base;
	char *host, *user, *key_file, *known_hosts, *name, *kh_name;
	int port, accept_new, keepalive_s, timeout_ms;
	struct evdns_base *dns;
	struct ssh_resolve *resolve;
	struct evdns_getaddrinfo_request *dns_req;

	enum ssh_state state;
	const char *stage;	/* what a connect timeout interrupted */
	struct addrinfo *ai, *ai_next;
	int ai_from_dns;
	int fd;
	int connect_errno;
	LIBSSH2_SESSION *ssh;
	LIBSSH2_AGENT *agent;
	struct libssh2_agent_publickey *identity;
	int agent_keys;

	struct event *rev;	/* the socket, readable (persistent) */
	struct event *wev;	/* the socket, writable (persistent) */
	short ev_flags;		/* which of them are added */
	struct event *soon;	/* run again from the loop (kick) */
	struct event *timer;	/* connect deadline */
	struct event *keepalive;
	int hold_keepalive;
	struct ssh_channel *hold;
	struct ssh_channel *opening;
	int idle_data;		/* idle, and bytes wait that only a channel op will read */

	struct ssh_channels channels;
	ssh_session_cb *cb;
	void *arg;
	char *error;
	int busy;
	int free_wanted;
	int ready_told;
	int started;
};

static void ssh_session_run(struct ssh_session *);
static void ssh_session_fail(struct ssh_session *, const char *, ...) printflike(2, 3);
static void ssh_session_connect_next(struct ssh_session *);
static void ssh_session_unwatch(struct ssh_session *);
static void ssh_session_arm(struct ssh_session *);

static int ssh_lib_ready;

static void
ssh_lib_init(void)
{
	if (!ssh_lib_ready) {
		if (libssh2_init(0) != 0)
			fatalx("libssh2_init failed");
		ssh_lib_ready = 1;
	}
}

/* libssh2's last error message, or "" (owned by libssh2). */
static const char *
ssh_lasterr(struct ssh_session *s)
{
	char *msg = NULL;
	int len = 0;

	if (s->ssh == NULL)
		return "";
	libssh2_session_last_error(s->ssh, &msg, &len, 0);
	return msg != NULL ? msg : "";
}

/* A libssh2 error that leaves the connection unusable. */
static int
ssh_error_fatal(int rc)
{
	switch (rc) {
	case LIBSSH2_ERROR_CHANNEL_OUTOFORDER:
	case LIBSSH2_ERROR_CHANNEL_FAILURE:
	case LIBSSH2_ERROR_CHANNEL_REQUEST_DENIED:
	case LIBSSH2_ERROR_CHANNEL_UNKNOWN:
	case LIBSSH2_ERROR_CHANNEL_WINDOW_EXCEEDED:
	case LIBSSH2_ERROR_CHANNEL_PACKET_EXCEEDED:
	case LIBSSH2_ERROR_CHANNEL_CLOSED:
	case LIBSSH2_ERROR_CHANNEL_EOF_SENT:
	case LIBSSH2_ERROR_CHANNEL_WINDOW_FULL:
	case LIBSSH2_ERROR_REQUEST_DENIED:
	case LIBSSH2_ERROR_BAD_USE:
	case LIBSSH2_ERROR_INVAL:
		return 0;
	default:
		return 1;
	}
}

char *
ssh_fingerprint_sha256(const unsigned char digest[32])
{
	char *b64 = util_base64(digest, 32), *out, *eq;

	if ((eq = strchr(b64, '=')) != NULL)
		*eq = '\0';
	xasprintf(&out, "SHA256:%s", b64);
	free(b64);
	return out;
}

/* ---- the socket ---- */

static void
ssh_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ssh_session *s = arg;
	char c;
	ssize_t n;

	if (s->state == SSH_CONNECTING) {
		int err = 0;
		socklen_t len = sizeof err;

		if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
			err = errno;
		if (err != 0) {
			s->connect_errno = err;
			ssh_session_unwatch(s);
			close(s->fd);
			s->fd = -1;
			ssh_session_connect_next(s);
			return;
		}
		s->state = SSH_HANDSHAKE;
		s->stage = "SSH handshake";
	} else if (s->state == SSH_READY && s->hold == NULL && !s->hold_keepalive &&
	    TAILQ_EMPTY(&s->channels)) {
		/*
		 * Idle: libssh2 has no call that only reads, so look whether the
		 * peer left (EOF) or sent something a later channel will read.
		 */
		n = recv(s->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
		if (n == 0)
			ssh_session_fail(s, "connection closed by the host");
		else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			ssh_session_fail(s, "connection lost: %s", strerror(errno));
		else if (n > 0) {
			s->idle_data = 1;
			ssh_session_arm(s);	/* stop reading until a channel does */
		}
		return;
	}
	ssh_session_run(s);
}

/* Stop watching the socket (before it closes or changes). */
static void
ssh_session_unwatch(struct ssh_session *s)
{
	if (s->rev != NULL)
		event_del(s->rev);
	if (s->wev != NULL)
		event_del(s->wev);
	s->ev_flags = 0;
}

/* A new socket: the events follow it. */
static void
ssh_session_watch_fd(struct ssh_session *s)
{
	ssh_session_unwatch(s);
	event_assign(s->rev, s->base, s->fd, EV_READ | EV_PERSIST, ssh_event_cb, s);
	event_assign(s->wev, s->base, s->fd, EV_WRITE | EV_PERSIST, ssh_event_cb, s);
}

/*
 * Watch the socket in the directions the state needs. The events persist:
 * they are added or removed only when the directions change, not each run.
 */
static void
ssh_session_arm(struct ssh_session *s)
{
	short flags = 0;
	int dirs;
	struct ssh_channel *c;
	int active = 0;

	if (s->fd < 0 || s->state == SSH_DEAD || s->state == SSH_RESOLVING)
		return;
	dirs = s->ssh != NULL ? libssh2_session_block_directions(s->ssh) : 0;
	switch (s->state) {
	case SSH_CONNECTING:
		flags = EV_WRITE;
		break;
	case SSH_HANDSHAKE:
	case SSH_AUTH:
		if (dirs & LIBSSH2_SESSION_BLOCK_INBOUND)
			flags |= EV_READ;
		if (dirs & LIBSSH2_SESSION_BLOCK_OUTBOUND)
			flags |= EV_WRITE;
		if (flags == 0)
			flags = EV_READ;
		break;
	case SSH_READY:
		/*
		 * A paused channel with nothing to send needs nothing read: while
		 * all are so, the socket waits too (else it stays readable and
		 * wakes the loop for nothing). Writes need reading: the peer's
		 * window adjustments come in.
		 */
		TAILQ_FOREACH(c, &s->channels, entry) {
			if (c->state != CH_DONE && c->state != CH_WAITING &&
			    !(c->state == CH_RUNNING && c->paused && !c->detached &&
			    c->woff == c->wlen && (!c->eof_wanted || c->eof_sent)))
				active = 1;
		}
		if (active || s->hold != NULL || s->hold_keepalive ||
		    (!s->idle_data && TAILQ_EMPTY(&s->channels)))
			flags |= EV_READ;
		if (dirs & LIBSSH2_SESSION_BLOCK_OUTBOUND)
			flags |= EV_WRITE;
		break;
	default:
		break;
	}
	if ((flags & EV_READ) != (s->ev_flags & EV_READ)) {
		if (flags & EV_READ)
			event_add(s->rev, NULL);
		else
			event_del(s->rev);
	}
	if ((flags & EV_WRITE) != (s->ev_flags & EV_WRITE)) {
		if (flags & EV_WRITE)
			event_add(s->wev, NULL);
		else
			event_del(s->wev);
	}
	s->ev_flags = flags;
}

static void ssh_session_start(struct ssh_session *);

static void
ssh_soon_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ssh_session *s = arg;

	if (!s->started)
		ssh_session_start(s);
	else
		ssh_session_run(s);
}

/* Run the engine from the loop soon (after an API call queued work). */
static void
ssh_session_kick(struct ssh_session *s)
{
	if (s->state != SSH_DEAD && !s->busy && s->started)
		event_active(s->soon, 0, 0);
}

/* ---- teardown ---- */

/* Drop the connection at once: nothing more is sent nor waited for. */
static void
ssh_session_teardown(struct ssh_session *s, int polite)
{
	struct ssh_channel *c;

	ssh_session_unwatch(s);
	if (s->timer != NULL)
		evtimer_del(s->timer);
	if (s->keepalive != NULL)
		evtimer_del(s->keepalive);
	if (s->dns_req != NULL) {
		/* The request calls back with EVUTIL_EAI_CANCEL later; it frees its context. */
		s->resolve->s = NULL;
		evdns_getaddrinfo_cancel(s->dns_req);
		s->dns_req = NULL;
		s->resolve = NULL;
	}
	TAILQ_FOREACH(c, &s->channels, entry)
		c->ch = NULL;	/* freed with the session below */
	s->hold = NULL;
	s->opening = NULL;
	if (s->agent != NULL) {
		libssh2_agent_disconnect(s->agent);
		libssh2_agent_free(s->agent);
		s->agent = NULL;
	}
	if (s->ssh != NULL) {
		if (polite && s->state == SSH_READY)
			libssh2_session_disconnect(s->ssh, "closing");
		/*
		 * With the socket shut down every libssh2 send or receive fails
		 * at once, so freeing in blocking mode cannot wait on the peer.
		 */
		if (s->fd >= 0)
			shutdown(s->fd, SHUT_RDWR);
		libssh2_session_set_blocking(s->ssh, 1);
		libssh2_session_set_timeout(s->ssh, 1000);
		libssh2_session_free(s->ssh);
		s->ssh = NULL;
	}
	if (s->fd >= 0) {
		close(s->fd);
		s->fd = -1;
	}
}

static void
ssh_exec_free(struct ssh_exec *x)
{
	if (x == NULL)
		return;
	if (x->timer != NULL)
		event_free(x->timer);
	free(x->r.out);
	free(x->r.err);
	free(x->r.exit_signal);
	free(x);
}

static void
ssh_channel_destroy(struct ssh_channel *c)
{
	TAILQ_REMOVE(&c->s->channels, c, entry);
	ssh_exec_free(c->exec);
	free(c->command);
	free(c->socket_path);
	free(c->wbuf);
	free(c->exit_signal);
	free(c->error);
	free(c);
}

static void
ssh_session_destroy(struct ssh_session *s)
{
	struct ssh_channel *c;

	ssh_session_teardown(s, 1);
	while ((c = TAILQ_FIRST(&s->channels)) != NULL)
		ssh_channel_destroy(c);
	if (s->ai != NULL) {
		if (s->ai_from_dns)
			evutil_freeaddrinfo(s->ai);
		else
			freeaddrinfo(s->ai);
	}
	if (s->rev != NULL)
		event_free(s->rev);
	if (s->wev != NULL)
		event_free(s->wev);
	if (s->soon != NULL)
		event_free(s->soon);
	if (s->timer != NULL)
		event_free(s->timer);
	if (s->keepalive != NULL)
		event_free(s->keepalive);
	free(s->host);
	free(s->user);
	free(s->key_file);
	free(s->known_hosts);
	free(s->name);
	free(s->kh_name);
	free(s->error);
	free(s);
}

/* Channels finished or let go are freed once no callback is on the stack. */
static void
ssh_session_sweep(struct ssh_session *s)
{
	struct ssh_channel *c, *next;

	for (c = TAILQ_FIRST(&s->channels); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->state == CH_DONE)
			ssh_channel_destroy(c);
	}
}

/* Leave the engine: free what was let go, or watch the socket again. */
static void
ssh_session_unwind(struct ssh_session *s)
{
	if (--s->busy > 0)
		return;
	if (s->free_wanted) {
		ssh_session_destroy(s);
		return;
	}
	ssh_session_sweep(s);
	ssh_session_arm(s);
}

/* ---- channel outcomes ---- */

/* Tell the owner how the channel ended (once), unless it let go. */
static void
ssh_channel_tell(struct ssh_channel *c)
{
	struct ssh_session *s = c->s;
	struct ssh_exec *x = c->exec;

	if (c->detached || s->free_wanted)
		return;
	c->detached = 1;
	if (x != NULL) {
		if (x->timer != NULL)
			evtimer_del(x->timer);
		x->r.exit_status = c->exit_status;
		x->r.exit_signal = c->exit_signal;
		c->exit_signal = NULL;
		if (x->r.out == NULL)
			x->r.out = xstrdup("");
		x->cb(&x->r, c->error, x->arg);
	} else if (c->close_cb != NULL)
		c->close_cb(c, c->exit_status, c->error, c->arg);
}

static void
ssh_channel_finish(struct ssh_channel *c)
{
	c->state = CH_DONE;
	ssh_channel_tell(c);
}

/* What a fatal libssh2 error means for the connection, in words. */
static const char *
ssh_error_words(int rc)
{
	switch (rc) {
	case LIBSSH2_ERROR_SOCKET_RECV:
	case LIBSSH2_ERROR_SOCKET_DISCONNECT:
		return "connection closed or reset by the host";
	case LIBSSH2_ERROR_SOCKET_SEND:
		return "connection lost while sending";
	case LIBSSH2_ERROR_SOCKET_TIMEOUT:
	case LIBSSH2_ERROR_TIMEOUT:
		return "connection timed out";
	case LIBSSH2_ERROR_DECRYPT:
	case LIBSSH2_ERROR_INVALID_MAC:
		return "corrupt data from the host";
	default:
		return "protocol error";
	}
}

/* A channel-level failure: remember why and close it. */
static int
ssh_channel_error(struct ssh_channel *c, const char *what, int rc)
{
	struct ssh_session *s = c->s;

	if (ssh_error_fatal(rc)) {
		ssh_session_fail(s, "%s: %s (libssh2: %s)", what, ssh_error_words(rc),
		    ssh_lasterr(s));
		return -1;
	}
	if (c->error == NULL)
		xasprintf(&c->error, "%s: %s: %s", s->name, what, ssh_lasterr(s));
	c->state = c->ch != NULL ? CH_CLOSING : CH_DONE;
	if (c->state == CH_DONE)
		ssh_channel_finish(c);
	return 1;
}

/* A call returned EAGAIN: if a packet is half-sent, only it may go on. */
static int
ssh_channel_blocked(struct ssh_channel *c, enum ssh_ch_op op)
{
	struct ssh_session *s = c->s;

	if (libssh2_session_block_directions(s->ssh) & LIBSSH2_SESSION_BLOCK_OUTBOUND) {
		s->hold = c;
		c->hold_op = op;
	}
	return 0;
}

static void
ssh_exec_collect(struct ssh_channel *c, int stream, const char *data, size_t len)
{
	struct ssh_exec *x = c->exec;
	size_t room;

	if (stream == 1) {
		room = SSH_ERR_CAP - x->r.err_len;
		if (len > room)
			len = room;
		if (len == 0)
			return;
		x->r.err = xrealloc(x->r.err, x->r.err_len + len + 1);
		memcpy(x->r.err + x->r.err_len, data, len);
		x->r.err_len += len;
		x->r.err[x->r.err_len] = '\0';
		return;
	}
	room = x->cap - x->r.out_len;
	if (len > room) {
		x->r.out_truncated = 1;
		len = room;
	}
	if (len > 0) {
		if (x->r.out_len + len + 1 > x->out_alloc) {
			x->out_alloc = x->out_alloc * 2 + len + 1;
			if (x->out_alloc > x->cap + 1)
				x->out_alloc = x->cap + 1;
			x->r.out = xrealloc(x->r.out, x->out_alloc);
		}
		memcpy(x->r.out + x->r.out_len, data, len);
		x->r.out_len += len;
		x->r.out[x->r.out_len] = '\0';
	}
	if (x->r.out_truncated) {
		/* Hand over what fits now; the channel closes in the background. */
		xasprintf(&c->error, "%s: output over %zu bytes, cut", c->s->name, x->cap);
		c->state = CH_CLOSING;
		ssh_channel_tell(c);
	}
}

/* Read one stream until it blocks or ends: 1 progress, 0 not, -1 dead. */
static int
ssh_channel_read(struct ssh_channel *c, int stream)
{
	struct ssh_session *s = c->s;
	char buf[32768];
	ssize_t n;
	int progress = 0;

	while (c->state == CH_RUNNING) {
		n = libssh2_channel_read_ex(c->ch, stream, buf, sizeof buf);
		if (n == LIBSSH2_ERROR_EAGAIN) {
			ssh_channel_blocked(c, stream == 0 ? OP_READ_OUT : OP_READ_ERR);
			return progress;
		}
		if (n < 0)
			return ssh_channel_error(c, "reading the command's output", (int)n);
		if (n == 0) {
			if (stream == 0)
				c->out_eof = 1;
			else
				c->err_eof = 1;
			return progress;
		}
		progress = 1;
		if (c->exec != NULL)
			ssh_exec_collect(c, stream, buf, (size_t)n);
		else if (!c->detached && c->data_cb != NULL)
			c->data_cb(c, stream, buf, (size_t)n, c->arg);
		if (s->state == SSH_DEAD || s->free_wanted)
			return -1;
		if (c->paused && !c->detached)
			return progress;
	}
	return progress;
}

/* Send the stdin queue: 1 progress, 0 blocked or empty, -1 session dead. */
static int
ssh_channel_send_queue(struct ssh_channel *c)
{
	ssize_t n;
	int progress = 0;

	while (c->woff < c->wlen) {
		n = libssh2_channel_write_ex(c->ch, 0, c->wbuf + c->woff, c->wlen - c->woff);
		if (n == LIBSSH2_ERROR_EAGAIN)
			return ssh_channel_blocked(c, OP_WRITE) | progress;
		if (n < 0)
			return ssh_channel_error(c, "writing to the command", (int)n) < 0 ? -1 : 1;
		c->woff += (size_t)n;
		progress = 1;
	}
	c->woff = c->wlen = 0;
	return progress;
}

/* EOF on stdin once asked for and the queue is out. */
static int
ssh_channel_send_eof_now(struct ssh_channel *c)
{
	int rc;

	if (!c->eof_wanted || c->eof_sent || c->woff < c->wlen)
		return 0;
	rc = libssh2_channel_send_eof(c->ch);
	if (rc == LIBSSH2_ERROR_EAGAIN)
		return ssh_channel_blocked(c, OP_EOF);
	if (rc < 0)
		return ssh_channel_error(c, "sending EOF", rc) < 0 ? -1 : 1;
	c->eof_sent = 1;
	return 1;
}

/* stdin, EOF, then both output streams. */
static int
ssh_channel_io(struct ssh_channel *c)
{
	struct ssh_session *s = c->s;
	int progress = 0, r;

	if ((r = ssh_channel_send_queue(c)) < 0)
		return -1;
	progress |= r;
	if (s->hold != NULL || c->state != CH_RUNNING)
		return progress;
	if ((r = ssh_channel_send_eof_now(c)) < 0)
		return -1;
	progress |= r;
	if (s->hold != NULL || c->state != CH_RUNNING)
		return progress;
	if (c->paused && !c->detached)
		return progress;
	c->out_eof = c->err_eof = 0;
	if ((r = ssh_channel_read(c, 0)) < 0 || c->state != CH_RUNNING)
		return r < 0 ? -1 : 1;
	progress |= r;
	if (s->hold != NULL)
		return progress;
	if ((r = ssh_channel_read(c, 1)) < 0 || c->state != CH_RUNNING)
		return r < 0 ? -1 : 1;
	progress |= r;
	if (c->out_eof && c->err_eof && libssh2_channel_eof(c->ch)) {
		c->ended = 1;
		c->state = CH_WAIT_CLOSED;
		progress = 1;
	}
	return progress;
}

/* The operation a held channel must repeat first. */
static int
ssh_channel_resume(struct ssh_channel *c)
{
	enum ssh_ch_op op = c->hold_op;
	int r;

	c->s->hold = NULL;
	c->hold_op = OP_NONE;
	if (c->state != CH_RUNNING)
		return 1;	/* the state machine repeats the same call */
	if (op == OP_WRITE)
		r = ssh_channel_send_queue(c);
	else if (op == OP_EOF)
		r = ssh_channel_send_eof_now(c);
	else
		r = ssh_channel_read(c, op == OP_READ_OUT ? 0 : 1);
	return r < 0 ? -1 : 1;
}

/* Advance one channel as far as it goes: 1 progress, 0 none, -1 session dead. */
static int
ssh_channel_step(struct ssh_channel *c)
{
	struct ssh_session *s = c->s;
	int rc, progress = 0;
	char *sig = NULL;
	size_t siglen = 0;

	for (;;) {
		switch (c->state) {
		case CH_WAITING:
			if (c->detached) {
				c->state = CH_DONE;
				return 1;
			}
			if (s->state != SSH_READY || s->opening != NULL)
				return progress;
			s->opening = c;
			c->state = CH_OPENING;
			/* FALLTHROUGH */
		case CH_OPENING:
#ifdef HAVE_LIBSSH2_CHANNEL_DIRECT_STREAMLOCAL_EX
			if (c->socket_path != NULL)
				c->ch = libssh2_channel_direct_streamlocal_ex(s->ssh, c->socket_path,
				    "127.0.0.1", 0);
			else
#endif
				c->ch = libssh2_channel_open_ex(s->ssh, "session", 7, c->window,
				    LIBSSH2_CHANNEL_PACKET_DEFAULT, NULL, 0);
			if (c->ch == NULL) {
				rc = libssh2_session_last_errno(s->ssh);
				if (rc == LIBSSH2_ERROR_EAGAIN)
					return ssh_channel_blocked(c, OP_NONE) | progress;
				s->opening = NULL;
				return ssh_channel_error(c, c->socket_path != NULL ?
				    "opening a channel to the socket (direct-streamlocal)" :
				    "opening a channel", rc);
			}
			s->opening = NULL;
			/* A socket's channel has no command to start: it carries bytes at once. */
			c->state = c->detached ? CH_CLOSING : c->socket_path != NULL ? CH_RUNNING :
			    CH_STARTING;
			progress = 1;
			break;
		case CH_STARTING:
			rc = libssh2_channel_process_startup(c->ch, "exec", 4, c->command,
			    (unsigned int)strlen(c->command));
			if (rc == LIBSSH2_ERROR_EAGAIN)
				return ssh_channel_blocked(c, OP_NONE) | progress;
			if (rc < 0)
				return ssh_channel_error(c, "running the command", rc);
			c->state = c->detached ? CH_CLOSING : CH_RUNNING;
			progress = 1;
			break;
		case CH_RUNNING:
			if (c->detached) {
				c->state = CH_CLOSING;
				break;
			}
			rc = ssh_channel_io(c);
			if (rc < 0)
				return -1;
			progress |= rc;
			if (c->state == CH_RUNNING || s->hold != NULL)
				return progress;
			break;
		case CH_CLOSING:
			rc = libssh2_channel_close(c->ch);
			if (rc == LIBSSH2_ERROR_EAGAIN)
				return ssh_channel_blocked(c, OP_NONE) | progress;
			if (rc < 0 && ssh_error_fatal(rc)) {
				ssh_session_fail(s, "closing a channel: %s", ssh_lasterr(s));
				return -1;
			}
			c->state = CH_FREEING;
			progress = 1;
			break;
		case CH_WAIT_CLOSED:
			rc = libssh2_channel_wait_closed(c->ch);
			if (rc == LIBSSH2_ERROR_EAGAIN)
				return ssh_channel_blocked(c, OP_NONE) | progress;
			if (rc == 0) {
				c->exit_status = libssh2_channel_get_exit_status(c->ch);
				if (libssh2_channel_get_exit_signal(c->ch, &sig, &siglen, NULL,
				    NULL, NULL, NULL) == 0 && sig != NULL) {
					if (siglen > 0) {
						c->exit_signal = xstrndup(sig, siglen);
						c->exit_status = -1;
					}
					libssh2_free(s->ssh, sig);
				}
			} else if (ssh_error_fatal(rc)) {
				ssh_session_fail(s, "closing a channel: %s", ssh_lasterr(s));
				return -1;
			}
			/* The peer closed; our close goes back at once. */
			c->state = CH_CLOSING;
			progress = 1;
			break;
		case CH_FREEING:
			rc = libssh2_channel_free(c->ch);
			if (rc == LIBSSH2_ERROR_EAGAIN)
				return ssh_channel_blocked(c, OP_NONE) | progress;
			c->ch = NULL;
			ssh_channel_finish(c);
			return 1;
		case CH_DONE:
			return progress;
		}
		if (s->state == SSH_DEAD || s->free_wanted)
			return -1;
	}
}

/* ---- the session ---- */

static void
ssh_session_fail(struct ssh_session *s, const char *fmt, ...)
{
	struct ssh_channel *c;
	va_list ap;
	char *why;

	if (s->state == SSH_DEAD)
		return;
	va_start(ap, fmt);
	xvasprintf(&why, fmt, ap);
	va_end(ap);
	xasprintf(&s->error, "ssh %s: %s", s->name, why);
	free(why);
	s->state = SSH_DEAD;
	ssh_session_teardown(s, 0);
	s->busy++;
	TAILQ_FOREACH(c, &s->channels, entry) {
		if (c->state == CH_DONE)
			continue;
		if (c->error == NULL)
			c->error = xstrdup(s->error);
		ssh_channel_finish(c);
	}
	if (!s->free_wanted && s->cb != NULL)
		s->cb(s, s->error, s->arg);
	ssh_session_unwind(s);
}

static void
ssh_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ssh_session *s = arg;

	ssh_session_fail(s, "no connection within %d ms (%s)", s->timeout_ms, s->stage);
}

static void
ssh_keepalive_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ssh_session *s = arg;
	struct timeval tv = { s->keepalive_s, 0 };

	if (s->state != SSH_READY)
		return;
	evtimer_add(s->keepalive, &tv);
	if (s->hold != NULL)
		return;		/* the pending packet goes first; skip this one */
	s->hold_keepalive = 1;
	ssh_session_run(s);
}

static const char *
ssh_keytype_name(int type)
{
	switch (type) {
	case LIBSSH2_HOSTKEY_TYPE_RSA:
		return "ssh-rsa";
	case LIBSSH2_HOSTKEY_TYPE_DSS:
		return "ssh-dss";
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_256:
		return "ecdsa-sha2-nistp256";
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_384:
		return "ecdsa-sha2-nistp384";
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_521:
		return "ecdsa-sha2-nistp521";
	case LIBSSH2_HOSTKEY_TYPE_ED25519:
		return "ssh-ed25519";
	default:
		return "unknown";
	}
}

/* Append "name type key" to known_hosts (accept-new). */
static int
ssh_known_hosts_add(struct ssh_session *s, const char *type, const char *b64, char **cause)
{
	char *line, last = '\n';
	int fd, rc = 0;
	struct stat st;
	size_t len;

	fd = open(s->known_hosts, O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		xasprintf(cause, "cannot record the new host key in %s: %s", s->known_hosts,
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == 0 && st.st_size > 0 &&
	    pread(fd, &last, 1, st.st_size - 1) != 1)
		last = '\n';
	len = (size_t)xasprintf(&line, "%s%s %s %s\n", last == '\n' ? "" : "\n", s->kh_name,
	    type, b64);
	if (write(fd, line, len) != (ssize_t)len) {
		xasprintf(cause, "cannot record the new host key in %s: %s", s->known_hosts,
		    strerror(errno));
		rc = -1;
	}
	free(line);
	close(fd);
	return rc;
}

/* The host key against known_hosts; 0, or -1 with *cause. */
static int
ssh_hostkey_check(struct ssh_session *s, char **cause)
{
	LIBSSH2_KNOWNHOSTS *kh;
	const char *key, *hash, *type;
	char *data = NULL, *fp, *b64, *line, *end, *rest, *errmsg = NULL;
	size_t keylen = 0, len = 0;
	int keytype = 0, rc, revoked = 0, skipped = 0;
	struct stat st;

	key = libssh2_session_hostkey(s->ssh, &keylen, &keytype);
	hash = libssh2_hostkey_hash(s->ssh, LIBSSH2_HOSTKEY_HASH_SHA256);
	if (key == NULL || hash == NULL) {
		xasprintf(cause, "the host sent no host key");
		return -1;
	}
	type = ssh_keytype_name(keytype);
	fp = ssh_fingerprint_sha256((const unsigned char *)hash);
	b64 = util_base64((const unsigned char *)key, keylen);

	/* accept-new starts a known_hosts file that is not there yet. */
	if (s->accept_new && lstat(s->known_hosts, &st) != 0 && errno == ENOENT)
		data = NULL;
	else if ((data = util_read_file(s->known_hosts, SSH_KNOWN_HOSTS_MAX, &len,
	    &errmsg)) == NULL) {
		xasprintf(cause, "host key %s %s not checked: known_hosts: %s", type, fp, errmsg);
		rc = -1;
		goto out;
	}
	kh = libssh2_knownhost_init(s->ssh);
	/*
	 * Line by line: libssh2's readfile stops at the first line it cannot
	 * read (a marker, a key type it lacks) and drops the rest.
	 */
	for (line = data; line != NULL && *line != '\0'; line = end) {
		if ((end = strchr(line, '\n')) != NULL)
			*end++ = '\0';
		while (*line == ' ' || *line == '\t')
			line++;
		if (*line == '\0' || *line == '#')
			continue;
		if (strncmp(line, "@revoked", 8) == 0) {
			/* "@revoked hosts type key": a key listed here is never trusted. */
			rest = line + 8;
			if ((rest = strstr(rest, b64)) != NULL &&
			    (rest[strlen(b64)] == '\0' || rest[strlen(b64)] == ' ' ||
			    rest[strlen(b64)] == '\t') && rest[-1] == ' ')
				revoked = 1;
			continue;
		}
		if (libssh2_knownhost_readline(kh, line, strlen(line),
		    LIBSSH2_KNOWNHOST_FILE_OPENSSH) != 0)
			skipped++;
	}
	if (revoked) {
		xasprintf(cause, "host key %s %s is marked @revoked in %s: refused", type, fp,
		    s->known_hosts);
		libssh2_knownhost_free(kh);
		rc = -1;
		goto out;
	}
	/* Key type 0: a host known with any other key counts as changed. */
	rc = libssh2_knownhost_checkp(kh, s->kh_name, -1, key, keylen,
	    LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW, NULL);
	libssh2_knownhost_free(kh);
	switch (rc) {
	case LIBSSH2_KNOWNHOST_CHECK_MATCH:
		rc = 0;
		break;
	case LIBSSH2_KNOWNHOST_CHECK_MISMATCH:
		xasprintf(cause, "host key for %s has CHANGED: %s %s does not match %s; refused"
		    " (if the change is expected: ssh-keygen -R '%s' -f %s)", s->kh_name, type, fp,
		    s->known_hosts, s->kh_name, s->known_hosts);
		rc = -1;
		break;
	case LIBSSH2_KNOWNHOST_CHECK_NOTFOUND:
		if (s->accept_new) {
			rc = ssh_known_hosts_add(s, type, b64, cause);
			if (rc == 0)
				log_info("ssh: new host key recorded", "host=%s key=%s file=%s",
				    log_q(s->kh_name), log_q(fp), log_q(s->known_hosts));
			break;
		}
		xasprintf(cause, "host key for %s is unknown: %s %s is not in %s%s; refused",
		    s->kh_name, type, fp, s->known_hosts,
		    skipped > 0 ? " (some of its lines could not be read)" : "");
		rc = -1;
		break;
	default:
		xasprintf(cause, "host key %s %s: checking known_hosts failed: %s", type, fp,
		    ssh_lasterr(s));
		rc = -1;
		break;
	}
out:
	free(errmsg);
	free(data);
	free(b64);
	free(fp);
	return rc;
}

/* Public key authentication: key file, else each key of the agent. */
static int
ssh_session_auth(struct ssh_session *s)
{
	struct libssh2_agent_publickey *next;
	int rc;

	if (s->key_file != NULL) {
		rc = libssh2_userauth_publickey_fromfile_ex(s->ssh, s->user,
		    (unsigned int)strlen(s->user), NULL, s->key_file, NULL);
		if (rc == LIBSSH2_ERROR_EAGAIN)
			return 0;
		if (rc != 0) {
			ssh_session_fail(s, "user %s: key %s refused or unreadable: %s", s->user,
			    s->key_file, ssh_lasterr(s));
			return -1;
		}
		return 1;
	}
	if (s->agent == NULL) {
		/* The agent's socket is local: these calls block briefly. */
		if ((s->agent = libssh2_agent_init(s->ssh)) == NULL ||
		    libssh2_agent_connect(s->agent) != 0 ||
		    libssh2_agent_list_identities(s->agent) != 0) {
			ssh_session_fail(s, "user %s: no key file and no ssh-agent: %s", s->user,
			    ssh_lasterr(s));
			return -1;
		}
		s->identity = NULL;
		if (libssh2_agent_get_identity(s->agent, &s->identity, NULL) != 0) {
			ssh_session_fail(s, "user %s: the ssh-agent holds no key", s->user);
			return -1;
		}
		s->agent_keys = 1;
	}
	for (;;) {
		rc = libssh2_agent_userauth(s->agent, s->user, s->identity);
		if (rc == LIBSSH2_ERROR_EAGAIN)
			return 0;
		if (rc == 0)
			return 1;
		if (ssh_error_fatal(rc) && rc != LIBSSH2_ERROR_AUTHENTICATION_FAILED &&
		    rc != LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED && rc != LIBSSH2_ERROR_AGENT_PROTOCOL) {
			ssh_session_fail(s, "user %s: authentication: %s", s->user, ssh_lasterr(s));
			return -1;
		}
		if (libssh2_agent_get_identity(s->agent, &next, s->identity) != 0) {
			ssh_session_fail(s, "user %s: none of the ssh-agent's %d keys was accepted",
			    s->user, s->agent_keys);
			return -1;
		}
		s->identity = next;
		s->agent_keys++;
	}
}

/* Connect through authentication: 1 when ready, 0 waiting, -1 dead. */
static int
ssh_session_setup(struct ssh_session *s)
{
	char *cause = NULL;
	int rc;

	switch (s->state) {
	case SSH_HANDSHAKE:
		if (s->ssh == NULL) {
			if ((s->ssh = libssh2_session_init_ex(NULL, NULL, NULL, s)) == NULL)
				fatalx("libssh2_session_init failed");
			libssh2_session_set_blocking(s->ssh, 0);
		}
		rc = libssh2_session_handshake(s->ssh, s->fd);
		if (rc == LIBSSH2_ERROR_EAGAIN)
			return 0;
		if (rc != 0) {
			ssh_session_fail(s, "SSH handshake failed: %s", ssh_lasterr(s));
			return -1;
		}
		if (ssh_hostkey_check(s, &cause) != 0) {
			ssh_session_fail(s, "%s", cause);
			free(cause);
			return -1;
		}
		s->state = SSH_AUTH;
		s->stage = "authentication";
		/* FALLTHROUGH */
	case SSH_AUTH:
		if ((rc = ssh_session_auth(s)) <= 0)
			return rc;
		s->state = SSH_READY;
		s->stage = "ready";
		evtimer_del(s->timer);
		if (s->keepalive_s > 0) {
			struct timeval tv = { s->keepalive_s, 0 };

			libssh2_keepalive_config(s->ssh, 1, (unsigned int)s->keepalive_s);
			evtimer_add(s->keepalive, &tv);
		}
		return 1;
	default:
		return s->state == SSH_READY ? 1 : 0;
	}
}

/* The engine: advance everything that can, then watch the socket. */
static void
ssh_session_run(struct ssh_session *s)
{
	struct ssh_channel *c;
	int progress, pass, rc, next;

	if (s->state == SSH_DEAD || s->state == SSH_RESOLVING || s->state == SSH_CONNECTING)
		return;
	s->busy++;
	rc = ssh_session_setup(s);
	if (rc <= 0)
		goto out;
	if (!s->ready_told) {
		s->ready_told = 1;
		if (s->cb != NULL)
			s->cb(s, NULL, s->arg);
		if (s->state == SSH_DEAD || s->free_wanted)
			goto out;
	}
	s->idle_data = 0;
	for (pass = 0; pass < SSH_RUN_PASSES; pass++) {
		progress = 0;
		if (s->hold != NULL) {
			c = s->hold;
			if ((rc = ssh_channel_resume(c)) < 0)
				goto out;
			if (s->hold != NULL)
				goto out;	/* still half-sent: wait for the socket */
			if ((rc = ssh_channel_step(c)) < 0 || s->hold != NULL)
				goto out;
			progress = 1;
		}
		if (s->hold_keepalive) {
			rc = libssh2_keepalive_send(s->ssh, &next);
			if (rc == LIBSSH2_ERROR_EAGAIN &&
			    (libssh2_session_block_directions(s->ssh) & LIBSSH2_SESSION_BLOCK_OUTBOUND))
				goto out;
			s->hold_keepalive = 0;
			if (rc < 0 && rc != LIBSSH2_ERROR_EAGAIN) {
				ssh_session_fail(s, "keepalive: %s", ssh_lasterr(s));
				goto out;
			}
		}
		TAILQ_FOREACH(c, &s->channels, entry) {
			if ((rc = ssh_channel_step(c)) < 0)
				goto out;
			progress |= rc;
			if (s->hold != NULL)
				goto out;
		}
		if (!progress)
			goto out;
	}
	/* Still busy (a fast stream): let the loop breathe, then go on. */
	event_active(s->soon, 0, 0);
out:
	ssh_session_unwind(s);
}

static int
ssh_socket_open(struct ssh_session *s, const struct addrinfo *ai)
{
	int fd, one = 1;

	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0)
		return -1;
	/* Small request/answer packets: no Nagle wait behind a delayed ACK. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
	if (s->keepalive_s > 0) {
		unsigned int ms = (unsigned int)s->keepalive_s * 3000;

		/* Unacknowledged data for 3 keepalives: the peer is gone. */
		setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof ms);
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
		s->connect_errno = errno;
		close(fd);
		return -1;
	}
	s->fd = fd;
	ssh_session_watch_fd(s);
	return 0;
}

/* Try the next address; fail when none is left. */
static void
ssh_session_connect_next(struct ssh_session *s)
{
	while (s->ai_next != NULL) {
		const struct addrinfo *ai = s->ai_next;

		s->ai_next = ai->ai_next;
		if (ssh_socket_open(s, ai) == 0) {
			s->state = SSH_CONNECTING;
			s->stage = "TCP connect";
			ssh_session_arm(s);
			return;
		}
	}
	ssh_session_fail(s, "connect: %s", s->connect_errno != 0 ?
	    strerror(s->connect_errno) : "no usable address");
}

static void
ssh_resolve_cb(int err, struct evutil_addrinfo *res, void *arg)
{
	struct ssh_resolve *r = arg;
	struct ssh_session *s = r->s;

	free(r);
	if (s == NULL) {	/* cancelled */
		if (res != NULL)
			evutil_freeaddrinfo(res);
		return;
	}
	s->dns_req = NULL;
	s->resolve = NULL;
	if (err != 0) {
		ssh_session_fail(s, "resolving %s: %s", s->host, evutil_gai_strerror(err));
		return;
	}
	s->ai = res;
	s->ai_from_dns = 1;
	s->ai_next = res;
	ssh_session_connect_next(s);
}

/* Resolve (numeric, or through evdns) and connect to the first address. */
static void
ssh_session_start(struct ssh_session *s)
{
	struct addrinfo hints;
	char port[16];
	int rc;

	s->started = 1;
	s->busy++;
	if (*s->host == '\0' || *s->user == '\0' || *s->known_hosts == '\0') {
		ssh_session_fail(s, "host, user and known_hosts file are required");
		goto out;
	}
	snprintf(port, sizeof port, "%d", s->port);
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	rc = getaddrinfo(s->host, port, &hints, &s->ai);
	if (rc == 0) {
		s->ai_next = s->ai;
		ssh_session_connect_next(s);
	} else if (s->dns != NULL) {
		struct evutil_addrinfo ehints;

		memset(&ehints, 0, sizeof ehints);
		ehints.ai_family = AF_UNSPEC;
		ehints.ai_socktype = SOCK_STREAM;
		ehints.ai_flags = EVUTIL_AI_NUMERICSERV;
		s->resolve = xcalloc(1, sizeof *s->resolve);
		s->resolve->s = s;
		s->dns_req = evdns_getaddrinfo(s->dns, s->host, port, &ehints, ssh_resolve_cb,
		    s->resolve);
		/* Answered at once (from /etc/hosts, say): the callback ran already. */
	} else {
		ssh_session_fail(s, "%s is not a numeric address and no resolver was given",
		    s->host);
	}
out:
	ssh_session_unwind(s);
}

struct ssh_session *
ssh_session_new(struct event_base *base, const struct ssh_options *o, ssh_session_cb *cb,
    void *arg)
{
	struct ssh_session *s = xcalloc(1, sizeof *s);
	struct timeval tv;

	ssh_lib_init();
	s->base = base;
	s->host = xstrdup(o->host != NULL ? o->host : "");
	s->user = xstrdup(o->user != NULL ? o->user : "");
	s->key_file = o->key_file != NULL ? xstrdup(o->key_file) : NULL;
	s->known_hosts = xstrdup(o->known_hosts != NULL ? o->known_hosts : "");
	s->port = o->port > 0 ? o->port : 22;
	s->accept_new = o->accept_new;
	s->keepalive_s = o->keepalive_s;
	s->timeout_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms : SSH_CONNECT_TIMEOUT_MS;
	s->dns = o->dns;
	s->cb = cb;
	s->arg = arg;
	s->fd = -1;
	TAILQ_INIT(&s->channels);
	/* known_hosts spells a non-22 port "[host]:port", as OpenSSH does. */
	if (s->port == 22)
		s->kh_name = xstrdup(s->host);
	else
		xasprintf(&s->kh_name, "[%s]:%d", s->host, s->port);
	if (strchr(s->host, ':') != NULL)
		xasprintf(&s->name, "%s@[%s]:%d", s->user, s->host, s->port);
	else
		xasprintf(&s->name, "%s@%s:%d", s->user, s->host, s->port);
	s->rev = event_new(base, -1, 0, ssh_event_cb, s);
	s->wev = event_new(base, -1, 0, ssh_event_cb, s);
	s->soon = event_new(base, -1, 0, ssh_soon_cb, s);
	s->timer = evtimer_new(base, ssh_timer_cb, s);
	s->keepalive = evtimer_new(base, ssh_keepalive_cb, s);
	s->state = SSH_RESOLVING;
	s->stage = "name resolution";
	tv.tv_sec = s->timeout_ms / 1000;
	tv.tv_usec = (s->timeout_ms % 1000) * 1000;
	evtimer_add(s->timer, &tv);

	/* Start from the loop: no callback runs before this returns. */
	event_active(s->soon, 0, 0);
	return s;
}

void
ssh_session_free(struct ssh_session *s)
{
	struct ssh_channel *c;

	if (s == NULL)
		return;
	s->cb = NULL;
	TAILQ_FOREACH(c, &s->channels, entry)
		c->detached = 1;
	if (s->busy > 0) {
		s->free_wanted = 1;
		return;
	}
	ssh_session_destroy(s);
}

int
ssh_session_ready(const struct ssh_session *s)
{
	return s->state == SSH_READY;
}

const char *
ssh_session_error(const struct ssh_session *s)
{
	return s->error;
}

const char *
ssh_session_stage(const struct ssh_session *s)
{
	return s->stage;
}

const char *
ssh_session_name(const struct ssh_session *s)
{
	return s->name;
}

/* ---- channels ---- */

static struct ssh_channel *
ssh_channel_add(struct ssh_session *s, const char *command, unsigned int window)
{
	struct ssh_channel *c;

	if (s->state == SSH_DEAD || s->free_wanted)
		return NULL;
	c = xcalloc(1, sizeof *c);
	c->s = s;
	c->command = xstrdup(command != NULL ? command : "");
	c->window = window;
	c->exit_status = -1;
	c->state = CH_WAITING;
	TAILQ_INSERT_TAIL(&s->channels, c, entry);
	s->idle_data = 0;
	ssh_session_kick(s);
	return c;
}

static void
ssh_exec_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ssh_channel *c = arg;
	struct ssh_session *s = c->s;
	struct ssh_exec *x = c->exec;

	s->busy++;
	if (c->error == NULL)
		xasprintf(&c->error, "%s: no answer within %d ms (%zu bytes read)", s->name,
		    x->timeout_ms, x->r.out_len);
	ssh_channel_tell(c);
	/* The peer missed its deadline: the connection goes with it. */
	ssh_session_fail(s, "a command got no answer within %d ms; connection dropped",
	    x->timeout_ms);
	ssh_session_unwind(s);
}

struct ssh_channel *
ssh_exec(struct ssh_session *s, const char *command, size_t out_cap, int timeout_ms,
    ssh_exec_cb *cb, void *arg)
{
	struct ssh_channel *c;
	struct ssh_exec *x;
	struct timeval tv;
	unsigned int window = SSH_WINDOW;

	if (out_cap < window)
		window = out_cap < 32768 ? 32768 : (unsigned int)out_cap;
	if ((c = ssh_channel_add(s, command, window)) == NULL)
		return NULL;
	c->eof_wanted = 1;	/* no stdin */
	x = c->exec = xcalloc(1, sizeof *x);
	x->cb = cb;
	x->arg = arg;
	x->cap = out_cap;
	x->timeout_ms = timeout_ms > 0 ? timeout_ms : 60000;
	x->r.exit_status = -1;
	x->timer = evtimer_new(s->base, ssh_exec_timer_cb, c);
	tv.tv_sec = x->timeout_ms / 1000;
	tv.tv_usec = (x->timeout_ms % 1000) * 1000;
	evtimer_add(x->timer, &tv);
	return c;
}

struct ssh_channel *
ssh_channel_open(struct ssh_session *s, const char *command, ssh_data_cb *data_cb,
    ssh_close_cb *close_cb, void *arg)
{
	struct ssh_channel *c;

	if ((c = ssh_channel_add(s, command, SSH_WINDOW)) == NULL)
		return NULL;
	c->data_cb = data_cb;
	c->close_cb = close_cb;
	c->arg = arg;
	return c;
}

struct ssh_channel *
ssh_stream_open(struct ssh_session *s, const char *socket_path, ssh_data_cb *data_cb,
    ssh_close_cb *close_cb, void *arg)
{
#ifdef HAVE_LIBSSH2_CHANNEL_DIRECT_STREAMLOCAL_EX
	struct ssh_channel *c;

	if ((c = ssh_channel_add(s, NULL, SSH_WINDOW)) == NULL)
		return NULL;
	c->socket_path = xstrdup(socket_path);
	c->data_cb = data_cb;
	c->close_cb = close_cb;
	c->arg = arg;
	return c;
#else
	return NULL;
#endif
}

int
ssh_stream_supported(void)
{
#ifdef HAVE_LIBSSH2_CHANNEL_DIRECT_STREAMLOCAL_EX
	return 1;
#else
	return 0;
#endif
}

int
ssh_channel_write(struct ssh_channel *c, const void *data, size_t len, char **cause)
{
	if (c->state == CH_DONE || c->state >= CH_CLOSING || c->eof_wanted) {
		xasprintf(cause, "%s: the channel is closed", c->s->name);
		return -1;
	}
	if (c->wlen - c->woff + len > SSH_WRITE_CAP) {
		xasprintf(cause, "%s: over %d bytes wait to be sent", c->s->name, SSH_WRITE_CAP);
		return -1;
	}
	if (len == 0)
		return 0;
	if (c->wlen + len > c->walloc && c->woff > 0) {
		memmove(c->wbuf, c->wbuf + c->woff, c->wlen - c->woff);
		c->wlen -= c->woff;
		c->woff = 0;
	}
	if (c->wlen + len > c->walloc) {
		/* Geometric: many small writes cost linear time. */
		c->walloc = c->walloc * 2 > c->wlen + len ? c->walloc * 2 : c->wlen + len;
		c->wbuf = xrealloc(c->wbuf, c->walloc);
	}
	memcpy(c->wbuf + c->wlen, data, len);
	c->wlen += len;
	ssh_session_kick(c->s);
	return 0;
}

size_t
ssh_channel_pending(const struct ssh_channel *c)
{
	return c->wlen - c->woff;
}

void
ssh_channel_send_eof(struct ssh_channel *c)
{
	c->eof_wanted = 1;
	ssh_session_kick(c->s);
}

void
ssh_channel_pause(struct ssh_channel *c, int paused)
{
	c->paused = paused;
	if (!paused)
		ssh_session_kick(c->s);
}

void
ssh_channel_free(struct ssh_channel *c)
{
	struct ssh_session *s;

	if (c == NULL)
		return;
	s = c->s;
	c->detached = 1;
	if (c->exec != NULL && c->exec->timer != NULL)
		evtimer_del(c->exec->timer);
	if (s->state == SSH_DEAD || c->state == CH_WAITING || c->ch == NULL) {
		if (c->state != CH_OPENING)
			c->state = CH_DONE;
		if (!s->busy && c->state == CH_DONE)
			ssh_channel_destroy(c);
		return;
	}
	/*
	 * Opened: the engine closes it politely in the background, once any
	 * call of it left half-sent is through (never here: see s->hold).
	 */
	ssh_session_kick(s);
}
