/*
 * notify.c: the service manager's readiness protocol (sd_notify(3)),
 * without libsystemd: one datagram of "KEY=VALUE" lines to the Unix
 * socket named by $NOTIFY_SOCKET (a path, or an abstract name written
 * with a leading '@'). It lets a Type=notify unit (deploy/systemd/) know
 * when paia-gateway is ready and when it drains.
 *
 * Without $NOTIFY_SOCKET (not under systemd, or Type=simple) it does
 * nothing. It never blocks: the datagram is sent non-blocking, and a
 * manager that is not listening costs one failed send.
 */
#include "config.h"
#include "common.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
notify_send(const char *state, char **cause)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	socklen_t salen;
	size_t len;
	ssize_t n;
	int fd;

	if (path == NULL || *path == '\0')
		return 0;
	len = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || len >= sizeof sa.sun_path) {
		xasprintf(cause, "NOTIFY_SOCKET %s: not a socket path or an @abstract name", path);
		return -1;
	}
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, len);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';	/* the abstract namespace */
	salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0) {
		xasprintf(cause, "NOTIFY_SOCKET %s: socket: %s", path, strerror(errno));
		return -1;
	}
	n = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, salen);
	if (n < 0)
		xasprintf(cause, "NOTIFY_SOCKET %s: %s", path, strerror(errno));
	close(fd);
	return n < 0 ? -1 : 0;
}
