/*
 * job.c: the openvpn child, supervised like tmux's job.c: the pid, its
 * own process group, stdout and stderr read from a pipe by the loop,
 * SIGTERM to stop and SIGKILL to the group when the grace runs out, the
 * exit status collected by the process's reaper (common/reaper.c).
 *
 * Each line openvpn prints is logged at debug level and the last few
 * are kept, so that an exit can be explained with openvpn's own words
 * ("Options error: ...", "Cannot open TUN/TAP dev ...") even when it
 * ended before its management socket existed.
 *
 * It knows nothing of the management protocol.
 */
#include "config.h"
#include "vpn-int.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "common.h"

#define JOB_TAIL_LINES 16
#define JOB_LINE_MAX 1024

struct vpn_job {
	struct event_base *base;
	pid_t pid;
	int outfd;
	struct event *out_ev;
	struct event *kill_ev;
	struct reaper_watch *watch;
	char buf[JOB_LINE_MAX];	/* a line being read */
	size_t buflen;
	int skipping;		/* in a line too long to keep */
	char *tail[JOB_TAIL_LINES]; /* the last lines, oldest first */
	size_t ntail;
	vpn_job_exit_cb *cb;
	void *arg;
};

/* Keep a line (printable, without openvpn's "2026-12-06 19:26:20 " stamp). */
static void
job_line(struct vpn_job *j, char *line, size_t len)
{
	size_t i;

	if (len > 0 && line[len - 1] == '\r')
		len--;
	line[len] = '\0';
	for (i = 0; i < len; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			line[i] = '?';
	if (len > 20 && line[4] == '-' && line[7] == '-' && line[10] == ' ' && line[13] == ':' &&
	    line[16] == ':' && line[19] == ' ') {
		line += 20;
		len -= 20;
	}
	if (len == 0)
		return;
	log_debug("openvpn", "pid=%ld line=%s", (long)j->pid, log_q(line));
	/* Its echo of management traffic explains nothing. */
	if (strncmp(line, "MANAGEMENT:", 11) == 0)
		return;
	if (j->ntail == JOB_TAIL_LINES) {
		free(j->tail[0]);
		memmove(j->tail, j->tail + 1, (JOB_TAIL_LINES - 1) * sizeof *j->tail);
		j->ntail--;
	}
	j->tail[j->ntail++] = xstrdup(line);
}

static void
job_read(struct vpn_job *j)
{
	char chunk[4096], *nl, *p;
	ssize_t n;
	size_t take;

	while ((n = read(j->outfd, chunk, sizeof chunk)) > 0) {
		p = chunk;
		while (p < chunk + n) {
			nl = memchr(p, '\n', (size_t)(chunk + n - p));
			take = (size_t)((nl != NULL ? nl : chunk + n) - p);
			if (!j->skipping) {
				if (j->buflen + take < sizeof j->buf) {
					memcpy(j->buf + j->buflen, p, take);
					j->buflen += take;
				} else {
					/* Keep the start of an overlong line only. */
					take = sizeof j->buf - 1 - j->buflen;
					memcpy(j->buf + j->buflen, p, take);
					j->buflen += take;
					j->skipping = 1;
				}
			}
			if (nl == NULL)
				break;
			job_line(j, j->buf, j->buflen);
			j->buflen = 0;
			j->skipping = 0;
			p = nl + 1;
		}
	}
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		if (j->buflen > 0)
			job_line(j, j->buf, j->buflen);
		j->buflen = 0;
		event_del(j->out_ev);
		close(j->outfd);
		j->outfd = -1;
	}
}

static void
job_out_cb(evutil_socket_t fd, short what, void *arg)
{
	job_read(arg);
}

/*
 * The line that explains the end best: the one before "Exiting due to
 * fatal error" when openvpn says that, else the last one that reads like
 * an error, skipping notes and generic closing words.
 */
static int
job_generic(const char *line)
{
	static const char *generic[] = { "Exiting due to fatal error", "SIGTERM", "SIGINT",
		"Closing TUN", "net_route", "net_addr", "process exiting", "Use --help", "Note:" };
	size_t k;

	for (k = 0; k < nitems(generic); k++)
		if (strstr(line, generic[k]) != NULL)
			return 1;
	return 0;
}

static const char *
job_tail(const struct vpn_job *j)
{
	static const char *errs[] = { "rror", "annot", "ailed", "atal", "denied", "AUTH_FAILED",
		"No such", "not found", "can't" };
	size_t i, k;

	for (i = j->ntail; i-- > 0;)
		if (strstr(j->tail[i], "Exiting due to fatal error") != NULL) {
			while (i-- > 0)
				if (!job_generic(j->tail[i]))
					return j->tail[i];
			break;
		}
	for (i = j->ntail; i-- > 0;) {
		if (job_generic(j->tail[i]))
			continue;
		for (k = 0; k < nitems(errs); k++)
			if (strstr(j->tail[i], errs[k]) != NULL)
				return j->tail[i];
	}
	return j->ntail > 0 ? j->tail[j->ntail - 1] : "";
}

static void
job_clear(struct vpn_job *j)
{
	size_t i;

	if (j->watch != NULL)
		reaper_cancel(j->watch);
	if (j->out_ev != NULL)
		event_free(j->out_ev);
	if (j->kill_ev != NULL)
		event_free(j->kill_ev);
	if (j->outfd >= 0)
		close(j->outfd);
	for (i = 0; i < j->ntail; i++)
		free(j->tail[i]);
	free(j);
}

static void
job_reaped_cb(pid_t pid, int status, void *arg)
{
	struct vpn_job *j = arg;

	j->watch = NULL;	/* the reaper freed it */
	/* What it printed last is in the pipe already: read it before judging. */
	if (j->outfd >= 0)
		job_read(j);
	/* Whatever it left in its group goes too (up/down scripts). */
	kill(-j->pid, SIGKILL);
	j->cb(status, job_tail(j), j->arg);
	job_clear(j);
}

static void
job_kill_cb(evutil_socket_t fd, short what, void *arg)
{
	struct vpn_job *j = arg;

	log_warn("openvpn ignored SIGTERM, sending SIGKILL", "pid=%ld", (long)j->pid);
	kill(-j->pid, SIGKILL);
}

/* In the child: never returns. */
static void
job_child(char *const argv[], int outfd)
{
	sigset_t none;
	int fd;

	dup2(outfd, STDOUT_FILENO);
	dup2(outfd, STDERR_FILENO);
	if ((fd = open("/dev/null", O_RDONLY)) >= 0)
		dup2(fd, STDIN_FILENO);
	close_range(3, ~0U, 0);
	setpgid(0, 0);
	/* A supervisor killed with -9 takes its openvpn along (it ends cleanly). */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	execvp(argv[0], argv);
	dprintf(STDERR_FILENO, "cannot run %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

struct vpn_job *
vpn_job_start(struct event_base *base, char *const argv[], vpn_job_exit_cb *cb, void *arg,
    char **cause)
{
	struct vpn_job *j;
	int pipefd[2];
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) != 0) {
		xasprintf(cause, "pipe: %s", strerror(errno));
		return NULL;
	}
	fflush(NULL);
	if ((pid = fork()) < 0) {
		xasprintf(cause, "fork: %s", strerror(errno));
		close(pipefd[0]);
		close(pipefd[1]);
		return NULL;
	}
	if (pid == 0) {
		close(pipefd[0]);
		job_child(argv, pipefd[1]);
	}
	close(pipefd[1]);
	/* Both sides set the group, so a kill right after fork still lands. */
	setpgid(pid, pid);
	j = xcalloc(1, sizeof *j);
	j->base = base;
	j->pid = pid;
	j->cb = cb;
	j->arg = arg;
	j->outfd = pipefd[0];
	fcntl(j->outfd, F_SETFL, fcntl(j->outfd, F_GETFL) | O_NONBLOCK);
	j->out_ev = event_new(base, j->outfd, EV_READ | EV_PERSIST, job_out_cb, j);
	event_add(j->out_ev, NULL);
	j->watch = reaper_watch(base, pid, job_reaped_cb, j);
	return j;
}

pid_t
vpn_job_pid(const struct vpn_job *j)
{
	return j->pid;
}

void
vpn_job_stop(struct vpn_job *j, int grace_ms)
{
	struct timeval tv = { grace_ms / 1000, (grace_ms % 1000) * 1000 };

	if (j->kill_ev != NULL)
		return;
	kill(j->pid, SIGTERM);
	j->kill_ev = evtimer_new(j->base, job_kill_cb, j);
	evtimer_add(j->kill_ev, &tv);
}

void
vpn_job_free(struct vpn_job *j)
{
	if (j == NULL)
		return;
	if (j->watch != NULL) {
		kill(-j->pid, SIGKILL);
		kill(j->pid, SIGKILL);
		while (waitpid(j->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	job_clear(j);
}

char *
vpn_job_describe(int status, const char *tail)
{
	char *s, what[64];

	if (status == -1)
		snprintf(what, sizeof what, "ended (its status was collected elsewhere)");
	else if (WIFEXITED(status))
		snprintf(what, sizeof what, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(what, sizeof what, "was killed by signal %d (%s)", WTERMSIG(status),
		    strsignal(WTERMSIG(status)));
	else
		snprintf(what, sizeof what, "ended (status 0x%x)", (unsigned)status);
	if (tail != NULL && *tail != '\0')
		xasprintf(&s, "openvpn %s: %s", what, tail);
	else
		xasprintf(&s, "openvpn %s", what);
	return s;
}
