/*
 * transport-ssh.c: a gateway's control socket reached over SSH, for a
 * console on another machine: one SSH session (common/ssh.c: host key
 * checked against known_hosts, key file or agent) and on it one exec
 * channel running "paiactl dial-stdio" on the gateway's host, which
 * relays the channel to the control socket (docker's ssh transport). No
 * port is opened on the gateway's host beyond sshd's, and an
 * authorized_keys command= can pin the key to that one command. With
 * libssh2 1.11 or later and the socket's path given, a direct-streamlocal
 * channel reaches the socket itself instead (libssh2 1.10, Debian
 * bookworm's, has none).
 *
 * The session lives on a libevent base and calls back from it; the
 * connection (conn.c) wants a descriptor to poll. The bridge is an
 * eventfd: whatever the session or channel does (ready, data, failure,
 * end) is kept here and the eventfd made readable, so the connection's
 * process call comes and reads it. Both must therefore run in that
 * base's loop (a console), not under client_conn_wait.
 *
 * Bounds: what the channel delivered and the connection has not read
 * yet is capped (past it the channel is paused and the SSH window holds
 * the gateway back); what the connection writes goes to the channel's
 * queue, capped by ssh.c (past a mark here, writes wait).
 *
 * It knows bytes only: lines, requests and answers are conn.c's.
 */
#include "config.h"
#include "client.h"

#include <sys/eventfd.h>

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "common.h"

#define CLIENT_SSH_IN_MAX (1024 * 1024)	/* read ahead, then pause the channel */
#define CLIENT_SSH_OUT_MAX (1024 * 1024)	/* queued to the channel, then wait */
#define CLIENT_SSH_ERR_KEEP 1024		/* the command's stderr, for messages */
#define CLIENT_SSH_WAKE_MS 50			/* a waiting write looks again */

enum client_ssh_state {
	CLIENT_SSH_IDLE,
	CLIENT_SSH_CONNECTING,
	CLIENT_SSH_UP,		/* authenticated; the channel's command runs */
	CLIENT_SSH_ENDED,	/* the command ended: read the rest, then the end */
	CLIENT_SSH_FAILED,	/* error says why */
};

struct client_ssh {
	struct client_transport tp;	/* first: the connection sees only this */
	struct event_base *base;
	struct ssh_options o;		/* strings owned below */
	char *host, *user, *key_file, *known_hosts;
	char *command;
	char *socket_path;		/* direct-streamlocal to it, not the command */

	enum client_ssh_state state;
	struct ssh_session *s;
	struct ssh_channel *ch;
	int efd;
	struct event *wake;		/* a write waited: poke the eventfd later */
	char *error;

	char *in;			/* from the command's stdout, not read yet */
	size_t in_off, in_len, in_cap;
	int paused;
	char err[CLIENT_SSH_ERR_KEEP + 1];	/* the tail of its stderr */
	size_t err_len;
};

/* Make the eventfd readable: the connection's process has something to see. */
static void
client_ssh_poke(struct client_ssh *t)
{
	uint64_t one = 1;

	if (t->efd >= 0 && write(t->efd, &one, sizeof one) < 0 && errno != EAGAIN)
		log_debug("ssh transport: eventfd write failed", "error=%s", log_q(strerror(errno)));
}

static void
client_ssh_unpoke(struct client_ssh *t)
{
	uint64_t v;

	if (t->efd >= 0 && read(t->efd, &v, sizeof v) < 0 && errno != EAGAIN)
		log_debug("ssh transport: eventfd read failed", "error=%s", log_q(strerror(errno)));
}

static void
client_ssh_fail(struct client_ssh *t, const char *error)
{
	if (t->state == CLIENT_SSH_FAILED)
		return;
	t->state = CLIENT_SSH_FAILED;
	free(t->error);
	t->error = xstrdup(error);
	client_ssh_poke(t);
}

/* The command's stderr, cleaned to one line, or "" (static buffer of t). */
static char *
client_ssh_stderr(struct client_ssh *t)
{
	char *s, *p, *e;

	t->err[t->err_len] = '\0';
	s = t->err;
	while (*s == '\n' || *s == '\r' || *s == ' ')
		s++;
	for (e = s + strlen(s); e > s && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' ');)
		*--e = '\0';
	for (p = s; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = (*p == '\n' || *p == '\t') ? ' ' : '?';
	return s;
}

static void
client_ssh_session_cb(struct ssh_session *s, const char *error, void *arg)
{
	struct client_ssh *t = arg;

	if (error != NULL)
		client_ssh_fail(t, error);
	else if (t->state == CLIENT_SSH_CONNECTING) {
		t->state = CLIENT_SSH_UP;
		client_ssh_poke(t);
	}
}

static void
client_ssh_data_cb(struct ssh_channel *ch, int stream, const char *data, size_t len, void *arg)
{
	struct client_ssh *t = arg;
	size_t room;

	if (stream == 1) {
		/* Keep the tail: the last words of a failing command matter most. */
		if (len >= CLIENT_SSH_ERR_KEEP) {
			memcpy(t->err, data + len - CLIENT_SSH_ERR_KEEP, CLIENT_SSH_ERR_KEEP);
			t->err_len = CLIENT_SSH_ERR_KEEP;
		} else {
			room = CLIENT_SSH_ERR_KEEP - t->err_len;
			if (len > room) {
				memmove(t->err, t->err + (len - room), t->err_len - (len - room));
				t->err_len -= len - room;
			}
			memcpy(t->err + t->err_len, data, len);
			t->err_len += len;
		}
		return;
	}
	if (t->in_off > 0 && t->in_cap - t->in_len < len) {
		memmove(t->in, t->in + t->in_off, t->in_len - t->in_off);
		t->in_len -= t->in_off;
		t->in_off = 0;
	}
	if (t->in_cap - t->in_len < len) {
		t->in_cap = t->in_len + len > t->in_cap * 2 ? t->in_len + len : t->in_cap * 2;
		t->in = xrealloc(t->in, t->in_cap);
	}
	memcpy(t->in + t->in_len, data, len);
	t->in_len += len;
	if (t->in_len - t->in_off >= CLIENT_SSH_IN_MAX && !t->paused) {
		t->paused = 1;
		ssh_channel_pause(ch, 1);
	}
	client_ssh_poke(t);
}

static void
client_ssh_close_cb(struct ssh_channel *ch, int exit_status, const char *error, void *arg)
{
	struct client_ssh *t = arg;
	char *why;

	t->ch = NULL;	/* freed by ssh.c after this */
	if (t->state == CLIENT_SSH_FAILED)
		return;
	if (error != NULL) {
		client_ssh_fail(t, error);
		return;
	}
	/* A socket's channel has no exit status: its end is the gateway closing. */
	if ((exit_status == 0 || t->socket_path != NULL) && t->err_len == 0) {
		t->state = CLIENT_SSH_ENDED;
		client_ssh_poke(t);
		return;
	}
	if (exit_status >= 0)
		xasprintf(&why, "%s: '%s' on the gateway's host exited %d%s%s", t->tp.name,
		    t->command, exit_status, t->err_len > 0 ? ": " : "", client_ssh_stderr(t));
	else
		xasprintf(&why, "%s: '%s' on the gateway's host ended without a status%s%s",
		    t->tp.name, t->command, t->err_len > 0 ? ": " : "", client_ssh_stderr(t));
	client_ssh_fail(t, why);
	free(why);
}

static void
client_ssh_wake_cb(evutil_socket_t fd, short what, void *arg)
{
	client_ssh_poke(arg);
}

static int
client_ssh_open(struct client_transport *tp, char **cause)
{
	struct client_ssh *t = (struct client_ssh *)tp;

	if (t->efd < 0 && (t->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
		xasprintf(cause, "eventfd: %s", strerror(errno));
		return -1;
	}
	t->state = CLIENT_SSH_CONNECTING;
	t->in_off = t->in_len = 0;
	t->err_len = 0;
	t->paused = 0;
	free(t->error);
	t->error = NULL;
	t->s = ssh_session_new(t->base, &t->o, client_ssh_session_cb, t);
	if (t->socket_path != NULL)
		t->ch = ssh_stream_open(t->s, t->socket_path, client_ssh_data_cb,
		    client_ssh_close_cb, t);
	else
		t->ch = ssh_channel_open(t->s, t->command, client_ssh_data_cb,
		    client_ssh_close_cb, t);
	if (t->ch == NULL) {
		xasprintf(cause, "%s: cannot open a channel", tp->name);
		return -1;
	}
	return 0;
}

static int
client_ssh_step(struct client_transport *tp, short revents, char **cause)
{
	struct client_ssh *t = (struct client_ssh *)tp;

	switch (t->state) {
	case CLIENT_SSH_UP:
	case CLIENT_SSH_ENDED:
		/* Leave the eventfd set: what came already is read next. */
		return 1;
	case CLIENT_SSH_FAILED:
		*cause = xstrdup(t->error);
		return -1;
	default:
		client_ssh_unpoke(t);
		return 0;
	}
}

static int
client_ssh_fd(const struct client_transport *tp)
{
	const struct client_ssh *t = (const struct client_ssh *)tp;

	return t->state == CLIENT_SSH_IDLE ? -1 : t->efd;
}

static short
client_ssh_events(const struct client_transport *tp, int output)
{
	return POLLIN;
}

static ssize_t
client_ssh_read(struct client_transport *tp, char *buf, size_t len, char **cause)
{
	struct client_ssh *t = (struct client_ssh *)tp;
	size_t n = t->in_len - t->in_off;

	if (n > 0) {
		if (n > len)
			n = len;
		memcpy(buf, t->in + t->in_off, n);
		t->in_off += n;
		if (t->in_off == t->in_len)
			t->in_off = t->in_len = 0;
		if (t->paused && t->in_len - t->in_off < CLIENT_SSH_IN_MAX / 2 && t->ch != NULL) {
			t->paused = 0;
			ssh_channel_pause(t->ch, 0);
		}
		return (ssize_t)n;
	}
	switch (t->state) {
	case CLIENT_SSH_ENDED:
		return 0;
	case CLIENT_SSH_FAILED:
		*cause = xstrdup(t->error);
		return -1;
	default:
		client_ssh_unpoke(t);
		return CLIENT_AGAIN;
	}
}

static ssize_t
client_ssh_write(struct client_transport *tp, const char *buf, size_t len, char **cause)
{
	struct client_ssh *t = (struct client_ssh *)tp;
	struct timeval tv = { 0, CLIENT_SSH_WAKE_MS * 1000 };

	if (t->state == CLIENT_SSH_FAILED) {
		*cause = xstrdup(t->error);
		return -1;
	}
	if (t->state == CLIENT_SSH_ENDED || t->ch == NULL)
		return CLIENT_CLOSED;
	if (ssh_channel_pending(t->ch) >= CLIENT_SSH_OUT_MAX) {
		/* Nothing tells us when the queue drains: look again soon. */
		evtimer_add(t->wake, &tv);
		return CLIENT_AGAIN;
	}
	if (len > CLIENT_SSH_OUT_MAX)
		len = CLIENT_SSH_OUT_MAX;
	if (ssh_channel_write(t->ch, buf, len, cause) != 0)
		return -1;
	return (ssize_t)len;
}

static void
client_ssh_close(struct client_transport *tp)
{
	struct client_ssh *t = (struct client_ssh *)tp;

	if (t->ch != NULL)
		ssh_channel_free(t->ch);
	t->ch = NULL;
	if (t->s != NULL)
		ssh_session_free(t->s);
	t->s = NULL;
	evtimer_del(t->wake);
	if (t->efd >= 0)
		close(t->efd);
	t->efd = -1;
	t->state = CLIENT_SSH_IDLE;
	t->in_off = t->in_len = 0;
}

static void
client_ssh_free(struct client_transport *tp)
{
	struct client_ssh *t = (struct client_ssh *)tp;

	client_ssh_close(tp);
	event_free(t->wake);
	free(t->host);
	free(t->user);
	free(t->key_file);
	free(t->known_hosts);
	free(t->command);
	free(t->socket_path);
	free(t->error);
	free(t->in);
	free(tp->name);
	free(t);
}

static const struct client_transport_ops client_ssh_ops = {
	"ssh", client_ssh_open, client_ssh_step, client_ssh_fd, client_ssh_events,
	client_ssh_read, client_ssh_write, client_ssh_close, client_ssh_free,
	" (over SSH: is paiactl on the gateway's host's PATH, and may that user use the socket?)",
};

struct client_transport *
client_transport_ssh_new(struct event_base *base, const struct ssh_options *o,
    const char *command, const char *socket_path)
{
	struct client_ssh *t = xcalloc(1, sizeof *t);

	t->tp.ops = &client_ssh_ops;
	t->base = base;
	t->o = *o;
	t->o.host = t->host = xstrdup(o->host != NULL ? o->host : "");
	t->o.user = t->user = xstrdup(o->user != NULL ? o->user : "");
	t->o.key_file = t->key_file = o->key_file != NULL ? xstrdup(o->key_file) : NULL;
	t->o.known_hosts = t->known_hosts = xstrdup(o->known_hosts != NULL ? o->known_hosts : "");
	t->command = xstrdup(command);
	if (socket_path != NULL && ssh_stream_supported())
		t->socket_path = xstrdup(socket_path);
	t->efd = -1;
	t->wake = evtimer_new(base, client_ssh_wake_cb, t);
	if (strchr(t->host, ':') != NULL)
		xasprintf(&t->tp.name, "ssh %s@[%s]:%d", t->user, t->host,
		    o->port > 0 ? o->port : 22);
	else
		xasprintf(&t->tp.name, "ssh %s@%s:%d", t->user, t->host, o->port > 0 ? o->port : 22);
	return &t->tp;
}
