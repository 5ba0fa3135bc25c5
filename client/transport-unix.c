/*
 * transport-unix.c: the control socket reached directly, a Unix stream
 * socket on this host. connect(2) on a Unix socket completes or fails at
 * once; a non-blocking one fails with EAGAIN when the gateway's backlog
 * is full, which is taken as a failed attempt (the connection's backoff
 * retries it), not waited for: a Unix socket does not finish connecting
 * in the background, so there is nothing to poll for.
 *
 * It knows bytes only: lines, requests and answers are conn.c's.
 */
#include "config.h"
#include "client.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

struct client_unix {
	struct client_transport tp;	/* first: the connection sees only this */
	int fd;
};

static int
client_unix_connect_error(struct client_unix *u, int e, char **cause)
{
	const char *hint = "";

	if (e == ENOENT || e == ECONNREFUSED)
		hint = " (is paia-gateway running?)";
	else if (e == EACCES || e == EPERM)
		hint = " (the socket allows its owner and control.group only)";
	xasprintf(cause, "cannot connect to %s: %s%s", u->tp.name, strerror(e), hint);
	close(u->fd);
	u->fd = -1;
	return -1;
}

static int
client_unix_open(struct client_transport *tp, char **cause)
{
	struct client_unix *u = (struct client_unix *)tp;
	struct sockaddr_un sa;

	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	if (strlen(tp->name) >= sizeof sa.sun_path) {
		xasprintf(cause, "control socket path is too long: %s", tp->name);
		return -1;
	}
	strcpy(sa.sun_path, tp->name);
	if ((u->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0) {
		xasprintf(cause, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(u->fd, (struct sockaddr *)&sa, sizeof sa) == 0)
		return 1;
	return client_unix_connect_error(u, errno, cause);
}

static int
client_unix_step(struct client_transport *tp, short revents, char **cause)
{
	return 1;
}

static int
client_unix_fd(const struct client_transport *tp)
{
	return ((const struct client_unix *)tp)->fd;
}

static short
client_unix_events(const struct client_transport *tp, int output)
{
	return POLLIN | (output ? POLLOUT : 0);
}

static ssize_t
client_unix_read(struct client_transport *tp, char *buf, size_t len, char **cause)
{
	struct client_unix *u = (struct client_unix *)tp;
	ssize_t n;

	do
		n = read(u->fd, buf, len);
	while (n < 0 && errno == EINTR);
	if (n >= 0)
		return n;
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return CLIENT_AGAIN;
	/* The gateway refused us (peer credentials) or went away: an end. */
	if (errno == ECONNRESET)
		return 0;
	xasprintf(cause, "%s: %s", tp->name, strerror(errno));
	return -1;
}

static ssize_t
client_unix_write(struct client_transport *tp, const char *buf, size_t len, char **cause)
{
	struct client_unix *u = (struct client_unix *)tp;
	ssize_t n;

	/* MSG_NOSIGNAL: a gateway hanging up is an error, not SIGPIPE. */
	do
		n = send(u->fd, buf, len, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n >= 0)
		return n;
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return CLIENT_AGAIN;
	if (errno == EPIPE || errno == ECONNRESET)
		return CLIENT_CLOSED;
	xasprintf(cause, "%s: %s", tp->name, strerror(errno));
	return -1;
}

static void
client_unix_close(struct client_transport *tp)
{
	struct client_unix *u = (struct client_unix *)tp;

	if (u->fd >= 0)
		close(u->fd);
	u->fd = -1;
}

static void
client_unix_free(struct client_transport *tp)
{
	client_unix_close(tp);
	free(tp->name);
	free(tp);
}

static const struct client_transport_ops client_unix_ops = {
	"unix", client_unix_open, client_unix_step, client_unix_fd, client_unix_events,
	client_unix_read, client_unix_write, client_unix_close, client_unix_free,
	" (not allowed? the socket accepts its owner, root and control.group)",
};

struct client_transport *
client_transport_unix_new(const char *path)
{
	struct client_unix *u = xcalloc(1, sizeof *u);

	u->tp.ops = &client_unix_ops;
	u->tp.name = xstrdup(path);
	u->fd = -1;
	return &u->tp;
}
