/*
 * paiactl-dial.c: "paiactl dial-stdio", a relay between its stdin and
 * stdout and the gateway's control socket (found as every command finds
 * it), as docker's "system dial-stdio" is for docker's ssh transport. A
 * remote paia-console runs it over an SSH exec channel: SSH
 * authenticates the operator, the gateway checks the peer credentials
 * of whoever runs paiactl, and no port is opened. It also works under a
 * forced command (authorized_keys command="paiactl dial-stdio").
 *
 * It knows bytes, not lines: the gateway's limits apply as they would to
 * any client. Each direction has a fixed buffer, read only when there is
 * room, so a side that stops reading holds the other back (the SSH
 * window, the socket) instead of growing memory. End of stdin is passed
 * on (shutdown of the socket's write side: the gateway then closes);
 * it exits when the socket has closed and what it said is written out,
 * or at once when stdout is gone.
 */
#include "config.h"
#include "paiactl-int.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PAIACTL_DIAL_BUF 65536

struct paiactl_pipe {
	char buf[PAIACTL_DIAL_BUF];
	size_t off, len;
	int open;		/* the reading side may still give bytes */
};

/* Non-blocking, unless fd is a terminal (shared with the shell). Returns the old flags. */
static int
paiactl_dial_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl >= 0 && !isatty(fd))
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	return fl;
}

/* Read into p: 0, or -1 with errno (EAGAIN: nothing now). End of input clears p->open. */
static int
paiactl_dial_fill(int fd, struct paiactl_pipe *p)
{
	ssize_t n;

	if (p->off == p->len)
		p->off = p->len = 0;
	do
		n = read(fd, p->buf + p->len, sizeof p->buf - p->len);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno == ECONNRESET)
			p->open = 0;	/* the gateway dropped us: an end, not an error */
		else if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		return 0;
	}
	if (n == 0)
		p->open = 0;
	p->len += (size_t)n;
	return 0;
}

/* Write what p holds to fd: 0, or -1 with errno. */
static int
paiactl_dial_drain(int fd, struct paiactl_pipe *p, int sock)
{
	ssize_t n;

	do
		n = sock ? send(fd, p->buf + p->off, p->len - p->off, MSG_NOSIGNAL) :
		    write(fd, p->buf + p->off, p->len - p->off);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
	p->off += (size_t)n;
	if (p->off == p->len)
		p->off = p->len = 0;
	return 0;
}

static int
paiactl_dial_connect(const char *path, char **cause)
{
	struct sockaddr_un sa;
	int fd;

	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sa.sun_path) {
		xasprintf(cause, "control socket path is too long: %s", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		xasprintf(cause, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		xasprintf(cause, "cannot connect to %s: %s%s", path, strerror(errno),
		    errno == ENOENT || errno == ECONNREFUSED ? " (is paia-gateway running?)" : "");
		close(fd);
		return -1;
	}
	paiactl_dial_nonblock(fd);
	return fd;
}

int
paiactl_cmd_dial_stdio(struct paiactl *ctx, const struct paiactl_args *a)
{
	static struct paiactl_pipe up, down;	/* stdin -> socket, socket -> stdout */
	struct pollfd pfd[3];
	const char *path;
	char *cause = NULL;
	int fd, fl_in, fl_out, rc = 1, wr_shut = 0;

	if ((path = paiactl_socket(ctx, &cause)) == NULL)
		return paiactl_err_cause(cause);
	if ((fd = paiactl_dial_connect(path, &cause)) < 0)
		return paiactl_err_cause(cause);
	signal(SIGPIPE, SIG_IGN);	/* a reader gone is EPIPE, handled above */
	fl_in = paiactl_dial_nonblock(STDIN_FILENO);
	fl_out = paiactl_dial_nonblock(STDOUT_FILENO);
	up.off = up.len = down.off = down.len = 0;
	up.open = down.open = 1;

	for (;;) {
		/* Everything the gateway said is out, and it said its last. */
		if (!down.open && down.len == 0) {
			rc = 0;
			break;
		}
		if (!up.open && up.len == 0 && !wr_shut) {
			shutdown(fd, SHUT_WR);
			wr_shut = 1;
		}
		memset(pfd, 0, sizeof pfd);
		pfd[0].fd = up.open && up.len < sizeof up.buf ? STDIN_FILENO : -1;
		pfd[0].events = POLLIN;
		pfd[1].fd = fd;
		pfd[1].events = (down.open && down.len < sizeof down.buf ? POLLIN : 0) |
		    (up.len > 0 ? POLLOUT : 0);
		pfd[2].fd = down.len > 0 ? STDOUT_FILENO : -1;
		pfd[2].events = POLLOUT;
		if (poll(pfd, 3, -1) < 0) {
			if (errno == EINTR && !*ctx->stop)
				continue;
			paiactl_err("poll: %s", strerror(errno));
			break;
		}
		if (pfd[0].revents != 0 && paiactl_dial_fill(STDIN_FILENO, &up) != 0) {
			paiactl_err("stdin: %s", strerror(errno));
			break;
		}
		if ((pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) && down.open &&
		    paiactl_dial_fill(fd, &down) != 0) {
			paiactl_err("%s: %s", path, strerror(errno));
			break;
		}
		if ((pfd[1].revents & (POLLOUT | POLLERR)) && up.len > 0 &&
		    paiactl_dial_drain(fd, &up, 1) != 0) {
			/* The gateway closed: what it said still goes out. */
			if (errno != EPIPE && errno != ECONNRESET) {
				paiactl_err("%s: %s", path, strerror(errno));
				break;
			}
			up.open = 0;
			up.off = up.len = 0;
			wr_shut = 1;
		}
		/* Nobody reads us any more: nothing left to relay. */
		if (pfd[2].revents & (POLLERR | POLLHUP | POLLNVAL)) {
			rc = 0;
			break;
		}
		if (pfd[2].revents != 0 && paiactl_dial_drain(STDOUT_FILENO, &down, 0) != 0) {
			if (errno == EPIPE)
				rc = 0;
			else
				paiactl_err("stdout: %s", strerror(errno));
			break;
		}
	}
	close(fd);
	if (fl_in >= 0)
		fcntl(STDIN_FILENO, F_SETFL, fl_in);
	if (fl_out >= 0)
		fcntl(STDOUT_FILENO, F_SETFL, fl_out);
	return rc;
}
