/*
 * frames.c: stills of task videos for the control socket's "frame":
 * ffmpeg run as a child on the video the task folder holds, which the
 * game wrote (hostile input to a large decoder), so:
 *
 *   - the video reaches ffmpeg as a descriptor the gateway opened
 *     through taskdir (no link followed, a regular file of one link),
 *     inherited as fd 3 and named /dev/fd/3 (seekable: an MP4 whose
 *     index is at its end is read as a file, not a pipe);
 *   - the child gets nothing else of the gateway (descriptors closed,
 *     an empty environment but PATH, stdin /dev/null), one thread,
 *     rlimits on CPU, memory and file writes (none), and a deadline
 *     (control.frame_timeout_s) after which it is killed;
 *   - started as root, it runs as runner.user (as games do), never as
 *     root; with control.frame_sandbox = bwrap (the default) inside
 *     bubblewrap's namespaces: no network, and of the host's files only
 *     what a sandboxed game sees of the system (/usr, the loader's /etc
 *     files), so a crafted video that makes a demuxer open other files
 *     or URLs (a playlist, a reference) finds nothing of the gateway;
 *     and ffmpeg is told to read only MP4/QuickTime and Matroska/WebM
 *     (the video contract's containers) through no protocol but file;
 *   - its output is read from non-blocking pipes in the loop, at most
 *     PROTO_FRAME_MAX bytes of PNG and FRAMES_ERR_MAX of messages; more
 *     kills it;
 *   - at most control.frame_jobs run at once; another request is told
 *     the gateway is busy rather than queued.
 *
 * The loop never waits on a child: the reaper (common/reaper.c) says
 * when it ended. A job ends when the child was reaped and both pipes
 * are closed. It does not know tasks (views.c finds the video).
 * @locality loop.
 */
#include "config.h"
#include "gateway.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#define FRAMES_ERR_MAX 4096
#define FRAMES_MEMORY (2048ULL * 1024 * 1024)
/* The demuxers of the video contract (docs/messages.md): MP4 and WebM. */
#define FRAMES_FORMATS "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm"

struct frame_job {
	struct frames *f;
	pid_t pid;
	struct reaper_watch *watch;
	int out, err;			/* pipes from its stdout, stderr; -1 closed */
	struct event *out_ev, *err_ev, *deadline;
	char *png;
	size_t len;
	char errbuf[FRAMES_ERR_MAX + 1];
	size_t errlen;
	int status;			/* from the reaper; -2 until then */
	char *failure;			/* why we stopped it (killed) */
	frames_done_cb *done;		/* NULL: cancelled, waiting for the child to go */
	void *arg;
	LIST_ENTRY(frame_job) entry;
};

struct frames {
	struct event_base *base;
	char *ffmpeg;			/* control.ffmpeg, as configured */
	long timeout_s;
	long width;
	size_t max_jobs;
	size_t njobs;
	LIST_HEAD(, frame_job) jobs;

	int sandbox;			/* control.frame_sandbox = bwrap */
	char *bwrap;			/* runner.bwrap, as configured */
	char *user;			/* runner.user */
	/* Found at the first frame (and again after a failure): */
	int ready;
	char *bwrap_path;
	char **system;			/* bwrap options for the host's system files */
	int drop;			/* root: run as uid/gid */
	uid_t uid;
	gid_t gid;
};

struct frames *
frames_new(struct event_base *base, const struct config *conf)
{
	struct frames *f = xcalloc(1, sizeof *f);

	f->base = base;
	f->ffmpeg = xstrdup(config_get(conf, "control", "ffmpeg"));
	f->timeout_s = (long)config_get_int(conf, "control", "frame_timeout_s");
	f->width = (long)config_get_int(conf, "control", "frame_width");
	f->max_jobs = (size_t)config_get_int(conf, "control", "frame_jobs");
	f->sandbox = strcmp(config_get(conf, "control", "frame_sandbox"), "bwrap") == 0;
	f->bwrap = xstrdup(config_get(conf, "runner", "bwrap"));
	f->user = xstrdup(config_get(conf, "runner", "user"));
	LIST_INIT(&f->jobs);
	return f;
}

/*
 * What every job needs, found when the first frame is asked (a gateway
 * that never makes one needs neither bwrap nor runner.user); a failure
 * is the request's error and is looked at again on the next.
 */
static int
frames_ready(struct frames *f, char **cause)
{
	struct passwd *pw;
	char *why;

	if (f->ready)
		return 0;
	if (geteuid() == 0) {
		if ((pw = getpwnam(f->user)) == NULL) {
			xasprintf(cause, "runner.user %s does not exist: ffmpeg never reads a game's "
			    "video as root (scripts/setup.sh creates %s)", f->user, f->user);
			return -1;
		}
		if (pw->pw_uid == 0 || pw->pw_gid == 0) {
			xasprintf(cause, "runner.user %s is root (uid or gid 0): ffmpeg never reads a "
			    "game's video as root", f->user);
			return -1;
		}
		f->drop = 1;
		f->uid = pw->pw_uid;
		f->gid = pw->pw_gid;
	}
	if (f->sandbox) {
		if ((f->bwrap_path = util_which(f->bwrap, &why)) == NULL) {
			xasprintf(cause, "control.frame_sandbox = bwrap, but runner.bwrap %s (Debian "
			    "package bubblewrap); control.frame_sandbox = none runs ffmpeg without it",
			    why);
			free(why);
			return -1;
		}
		f->system = runner_local_system_args();
	}
	f->ready = 1;
	return 0;
}

/*
 * ffmpeg's command line, in bwrap when sandboxed: its own namespaces
 * (no network), the host's system files read-only, /proc for
 * /dev/fd/3, and the program itself when it is not among them.
 */
static char **
frames_argv(struct frames *f, const char *path, double at)
{
	static const char *const ns[] = {
		"--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent",
		"--new-session", "--proc", "/proc", "--dev", "/dev", NULL
	};
	char **v = NULL, ss[32], vf[96];
	size_t n = 0, i;

	snprintf(ss, sizeof ss, "%.3f", at);
	snprintf(vf, sizeof vf, "scale='min(%ld,iw)':-2", f->width);
	if (f->sandbox) {
		runner_local_strv_add(&v, &n, f->bwrap_path);
		for (i = 0; ns[i] != NULL; i++)
			runner_local_strv_add(&v, &n, ns[i]);
		for (i = 0; f->system[i] != NULL; i++)
			runner_local_strv_add(&v, &n, f->system[i]);
		if (strncmp(path, "/usr/", 5) != 0) {
			runner_local_strv_add(&v, &n, "--ro-bind");
			runner_local_strv_add(&v, &n, path);
			runner_local_strv_add(&v, &n, path);
		}
		runner_local_strv_add(&v, &n, "--remount-ro");
		runner_local_strv_add(&v, &n, "/");
		runner_local_strv_add(&v, &n, "--chdir");
		runner_local_strv_add(&v, &n, "/");
		runner_local_strv_add(&v, &n, "--");
	}
	{
		const char *const args[] = {
			path, "-nostdin", "-hide_banner", "-loglevel", "error", "-threads", "1",
			"-protocol_whitelist", "file", "-format_whitelist", FRAMES_FORMATS,
			"-ss", ss, "-i", "/dev/fd/3", "-frames:v", "1", "-vf", vf, "-an",
			"-f", "image2pipe", "-c:v", "png", "pipe:1", NULL
		};

		for (i = 0; args[i] != NULL; i++)
			runner_local_strv_add(&v, &n, args[i]);
	}
	return v;
}

static void
frames_job_free(struct frame_job *j)
{
	if (j->watch != NULL)
		reaper_cancel(j->watch);
	if (j->out_ev != NULL)
		event_free(j->out_ev);
	if (j->err_ev != NULL)
		event_free(j->err_ev);
	if (j->deadline != NULL)
		event_free(j->deadline);
	if (j->out >= 0)
		close(j->out);
	if (j->err >= 0)
		close(j->err);
	LIST_REMOVE(j, entry);
	j->f->njobs--;
	free(j->png);
	free(j->failure);
	free(j);
}

void
frames_free(struct frames *f)
{
	struct frame_job *j;

	if (f == NULL)
		return;
	while ((j = LIST_FIRST(&f->jobs)) != NULL) {
		if (j->pid > 0 && j->status == -2)
			kill(j->pid, SIGKILL);
		frames_job_free(j);
	}
	free(f->ffmpeg);
	free(f->bwrap);
	free(f->user);
	free(f->bwrap_path);
	runner_local_strv_free(f->system);
	free(f);
}

/* Stop the child; the job ends once it is reaped. */
static void
frames_kill(struct frame_job *j, const char *why)
{
	if (j->failure == NULL && why != NULL)
		j->failure = xstrdup(why);
	if (j->status == -2)
		kill(j->pid, SIGKILL);
}

/* A PNG's size from its IHDR, or -1 when it is no PNG. */
static int
frames_png_size(const unsigned char *p, size_t len, int *w, int *h)
{
	static const unsigned char sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };

	if (len < 24 || memcmp(p, sig, 8) != 0 || memcmp(p + 12, "IHDR", 4) != 0)
		return -1;
	*w = (int)((uint32_t)p[16] << 24 | (uint32_t)p[17] << 16 | (uint32_t)p[18] << 8 | p[19]);
	*h = (int)((uint32_t)p[20] << 24 | (uint32_t)p[21] << 16 | (uint32_t)p[22] << 8 | p[23]);
	return *w > 0 && *h > 0 ? 0 : -1;
}

/* Both pipes closed and the child reaped: say how it went. */
static void
frames_maybe_done(struct frame_job *j)
{
	char *msg = NULL, *p;
	int w = 0, h = 0;

	if (j->out >= 0 || j->err >= 0 || j->status == -2)
		return;
	if (j->done != NULL) {
		j->errbuf[j->errlen] = '\0';
		/* ffmpeg's last message line says what went wrong. */
		while (j->errlen > 0 && (j->errbuf[j->errlen - 1] == '\n' ||
		    j->errbuf[j->errlen - 1] == '\r'))
			j->errbuf[--j->errlen] = '\0';
		p = strrchr(j->errbuf, '\n');
		p = p != NULL ? p + 1 : j->errbuf;
		if (j->failure != NULL)
			msg = xstrdup(j->failure);
		else if (j->status == -1 || !WIFEXITED(j->status) || WEXITSTATUS(j->status) != 0)
			xasprintf(&msg, "ffmpeg failed (%s %d)%s%s", WIFSIGNALED(j->status) ?
			    "signal" : "exit code", WIFSIGNALED(j->status) ? WTERMSIG(j->status) :
			    WEXITSTATUS(j->status), *p != '\0' ? ": " : "", p);
		else if (j->len == 0)
			xasprintf(&msg, "no frame there (is the video shorter?)%s%s",
			    *p != '\0' ? ": " : "", p);
		else if (frames_png_size((unsigned char *)j->png, j->len, &w, &h) != 0)
			msg = xstrdup("ffmpeg's output is not a PNG");
		if (msg != NULL) {
			p = util_cut(msg, 300);
			j->done(NULL, 0, 0, 0, p, j->arg);
			free(p);
		} else
			j->done((unsigned char *)j->png, j->len, w, h, NULL, j->arg);
		free(msg);
	}
	frames_job_free(j);
}

static void
frames_reaped(pid_t pid, int status, void *arg)
{
	struct frame_job *j = arg;

	j->watch = NULL;
	j->status = status;
	if (j->deadline != NULL)
		evtimer_del(j->deadline);
	frames_maybe_done(j);
}

static void
frames_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct frame_job *j = arg;
	char *why;

	xasprintf(&why, "ffmpeg took longer than control.frame_timeout_s (%ld s)", j->f->timeout_s);
	frames_kill(j, why);
	free(why);
}

/* Read what a pipe has: 1 open still, 0 closed. */
static int
frames_read(struct frame_job *j, int *fd, struct event **ev, int is_out)
{
	char buf[65536];
	ssize_t n;

	for (;;) {
		n = read(*fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 1;
		if (n <= 0)
			break;
		if (is_out) {
			if (j->len + (size_t)n > PROTO_FRAME_MAX) {
				frames_kill(j, "the frame is over 2 MiB of PNG");
				break;
			}
			j->png = xrealloc(j->png, j->len + (size_t)n);
			memcpy(j->png + j->len, buf, (size_t)n);
			j->len += (size_t)n;
		} else {
			if ((size_t)n > FRAMES_ERR_MAX - j->errlen)
				n = (ssize_t)(FRAMES_ERR_MAX - j->errlen);
			memcpy(j->errbuf + j->errlen, buf, (size_t)n);
			j->errlen += (size_t)n;
			if (j->errlen == FRAMES_ERR_MAX)
				break;	/* enough said; the rest is not read */
		}
	}
	event_free(*ev);
	*ev = NULL;
	close(*fd);
	*fd = -1;
	return 0;
}

static void
frames_out_cb(evutil_socket_t fd, short what, void *arg)
{
	struct frame_job *j = arg;

	if (frames_read(j, &j->out, &j->out_ev, 1) == 0)
		frames_maybe_done(j);
}

static void
frames_err_cb(evutil_socket_t fd, short what, void *arg)
{
	struct frame_job *j = arg;

	if (frames_read(j, &j->err, &j->err_ev, 0) == 0)
		frames_maybe_done(j);
}

/* In the child, after fork: only async-signal-safe calls until exec. */
static void
frames_child(const struct frames *f, int video, int out, int err, char *const argv[],
    char *const envp[], long cpu_s)
{
	struct rlimit rl;
	sigset_t none;
	int devnull;

	if ((devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0 || dup2(devnull, 0) < 0 ||
	    dup2(out, 1) < 0 || dup2(err, 2) < 0 || dup2(video, 3) < 0)
		_exit(126);
	close_range(4, ~0U, 0);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	rl.rlim_cur = rl.rlim_max = (rlim_t)cpu_s;
	setrlimit(RLIMIT_CPU, &rl);
	rl.rlim_cur = rl.rlim_max = FRAMES_MEMORY;
	setrlimit(RLIMIT_AS, &rl);
	rl.rlim_cur = rl.rlim_max = 0;
	setrlimit(RLIMIT_FSIZE, &rl);
	setrlimit(RLIMIT_CORE, &rl);
	/* For real, and checked: the video is the game's, its decoder never root. */
	if (f->drop && (setgroups(0, NULL) != 0 || setresgid(f->gid, f->gid, f->gid) != 0 ||
	    setresuid(f->uid, f->uid, f->uid) != 0 || setuid(0) != -1))
		_exit(126);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	execve(argv[0], argv, envp);
	_exit(127);
}

struct frame_job *
frames_start(struct frames *f, int fd, double at, frames_done_cb *done, void *arg, char **cause)
{
	struct frame_job *j;
	struct timeval tv = { f->timeout_s, 0 };
	char *path = NULL, **argv = NULL, *env[] = { (char *)"PATH=/usr/local/bin:/usr/bin:/bin", NULL };
	int out[2] = { -1, -1 }, err[2] = { -1, -1 };
	pid_t pid;

	if (f->njobs >= f->max_jobs) {
		xasprintf(cause, "busy: %zu frames are being made (control.frame_jobs); ask again "
		    "in a moment", f->njobs);
		close(fd);
		return NULL;
	}
	if (frames_ready(f, cause) != 0 || (path = util_which(f->ffmpeg, cause)) == NULL) {
		close(fd);
		return NULL;
	}
	argv = frames_argv(f, path, at);
	if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
		xasprintf(cause, "pipe: %s", strerror(errno));
		goto fail;
	}
	if ((pid = fork()) < 0) {
		xasprintf(cause, "fork: %s", strerror(errno));
		goto fail;
	}
	if (pid == 0)
		frames_child(f, fd, out[1], err[1], argv, env, f->timeout_s + 1);
	close(out[1]);
	close(err[1]);
	close(fd);
	free(path);
	runner_local_strv_free(argv);
	j = xcalloc(1, sizeof *j);
	j->f = f;
	j->pid = pid;
	j->status = -2;
	j->out = out[0];
	j->err = err[0];
	j->done = done;
	j->arg = arg;
	LIST_INSERT_HEAD(&f->jobs, j, entry);
	f->njobs++;
	j->watch = reaper_watch(f->base, pid, frames_reaped, j);
	fcntl(j->out, F_SETFL, O_NONBLOCK);
	fcntl(j->err, F_SETFL, O_NONBLOCK);
	j->out_ev = event_new(f->base, j->out, EV_READ | EV_PERSIST, frames_out_cb, j);
	j->err_ev = event_new(f->base, j->err, EV_READ | EV_PERSIST, frames_err_cb, j);
	j->deadline = evtimer_new(f->base, frames_deadline_cb, j);
	event_add(j->out_ev, NULL);
	event_add(j->err_ev, NULL);
	evtimer_add(j->deadline, &tv);
	return j;
fail:
	if (out[0] >= 0) {
		close(out[0]);
		close(out[1]);
	}
	if (err[0] >= 0) {
		close(err[0]);
		close(err[1]);
	}
	close(fd);
	free(path);
	runner_local_strv_free(argv);
	return NULL;
}

void
frames_cancel(struct frame_job *j)
{
	frames_done_cb *done = j->done;

	/* The child is killed; the job goes once it is reaped. */
	j->done = NULL;
	frames_kill(j, NULL);
	if (done != NULL)
		done(NULL, 0, 0, 0, "cancelled", j->arg);
}
