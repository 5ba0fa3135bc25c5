/*
 * demo-game.c -- paia-demo-game, a tiny stand-in for the paiagym game pod.
 *
 * Holds the model of one "catch" game: a ball falls down a W x H grid and
 * the user's program moves a paddle on the bottom row.  It follows the pod
 * contract: the current directory (or PAIA_WORKSPACE / -w) is the task's
 * workspace with input/ (the user's program) and output/ (ours to fill);
 * params come from -p, PAIA_PARAMS, or the file PAIA_PARAMS_FILE names.
 * The program runs as a child with pipes; each frame it gets one JSON state
 * line on stdin and must answer one line (LEFT, RIGHT, STAY) on stdout.
 * Frames are rendered as raw RGB into an ffmpeg child that writes
 * output/video.mp4; the outcome goes to output/result.json.
 *
 * It does not upload anything, does not write output/log.txt (the runner
 * captures our stdout and stderr) and uses no threads: one poll() loop
 * per frame, bounded by the frame timeout.
 *
 * Exit codes: 0 game finished, the program's code (or 128+signal) when it
 * failed, 2 usage, 70 internal error, 143 on SIGTERM.
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#define DEMO_GAME_NAME		"catch"
#define DEMO_GAME_VERSION	"1"
#define DEMO_GAME_W		16
#define DEMO_GAME_H		12
#define DEMO_GAME_CELL		10
#define DEMO_GAME_BAR		8
#define DEMO_GAME_VW		(DEMO_GAME_W * DEMO_GAME_CELL)
#define DEMO_GAME_VH		(DEMO_GAME_H * DEMO_GAME_CELL + DEMO_GAME_BAR)
#define DEMO_GAME_EX_USAGE	2
#define DEMO_GAME_EX_INTERNAL	70
#define DEMO_GAME_LOG_LIMIT	20

enum demo_game_action { DEMO_GAME_STAY, DEMO_GAME_LEFT, DEMO_GAME_RIGHT };

struct demo_game_params {
	long		 frames;
	long		 frame_timeout_ms;
	long		 fps;
	int		 video;
	uint64_t	 seed;
	int		 seed_given;
};

/* The user's program: pipes both ways, our line buffers for each. */
struct demo_game_child {
	pid_t		 pid;
	int		 in_fd;		/* its stdin, non-blocking */
	int		 out_fd;	/* its stdout */
	int		 eof;
	unsigned long	 lines;		/* reply lines consumed so far */
	char		 rbuf[4096];
	size_t		 rlen;
	int		 overflow;	/* discarding an over-long line */
	char		 wbuf[65536];
	size_t		 wlen;
	int		 stalled;	/* logged that it does not read */
};

struct demo_game {
	int		 ball_x, ball_y, paddle, landed;
	long		 score, catches, misses, played, timeouts, invalid;
	uint64_t	 rng;
	int		 video_fd;
	unsigned char	 rgb[DEMO_GAME_VW * DEMO_GAME_VH * 3];
};

static struct demo_game_child demo_game_child = { .pid = -1, .in_fd = -1,
    .out_fd = -1 };
static struct demo_game demo_game = { .video_fd = -1 };

/* Read by the SIGTERM handler, which must not touch anything else. */
static volatile pid_t demo_game_child_pid = -1;
static volatile pid_t demo_game_ffmpeg_pid = -1;

static void demo_game_log(const char *, ...)
    __attribute__((format(printf, 1, 2)));

static void
demo_game_log(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	fputs("[demo-game] ", stdout);
	vfprintf(stdout, fmt, ap);
	fputc('\n', stdout);
	fflush(stdout);
	va_end(ap);
}

static void __attribute__((noreturn))
demo_game_usage(const char *why)
{
	if (why != NULL)
		fprintf(stderr, "paia-demo-game: %s\n", why);
	fprintf(stderr, "usage: paia-demo-game [-w workspace] [-e entry] "
	    "[-p params-json] [-t task-id] [-g game]\n");
	exit(DEMO_GAME_EX_USAGE);
}

static void
demo_game_signal_handle(int sig)
{
	if (demo_game_child_pid > 0) {
		kill(-demo_game_child_pid, SIGTERM);
		kill(demo_game_child_pid, SIGTERM);
	}
	if (demo_game_ffmpeg_pid > 0)
		kill(demo_game_ffmpeg_pid, SIGTERM);
	_exit(128 + sig);
}

static int64_t
demo_game_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* splitmix64: small, good enough and identical everywhere. */
static uint64_t
demo_game_rng_next(uint64_t *state)
{
	uint64_t	z;

	z = (*state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return (z ^ (z >> 31));
}

static uint64_t
demo_game_seed_hash(const char *s)
{
	uint32_t	h = 2166136261U;

	for (; s != NULL && *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619U;
	return (h);
}

static int
demo_game_params_long(const cJSON *obj, const char *key, long long min,
    long long max, long long *out)
{
	const cJSON	*item = cJSON_GetObjectItemCaseSensitive(obj, key);
	double		 v;

	if (item == NULL || cJSON_IsNull(item))
		return (0);
	if (!cJSON_IsNumber(item))
		return (-1);
	v = item->valuedouble;
	/* Range first: casting an out-of-range double is undefined. */
	if (!(v >= (double)min && v <= (double)max) ||
	    v != (double)(long long)v)
		return (-1);
	*out = (long long)v;
	return (0);
}

/*
 * The text of PAIA_PARAMS_FILE (large params come only there: one
 * environment string may not pass 128 KiB); NULL and errno on failure.
 */
static char *
demo_game_params_read(const char *path)
{
	FILE	*f;
	char	*buf = NULL;
	size_t	 len = 0, cap = 0, n;

	if ((f = fopen(path, "re")) == NULL)
		return (NULL);
	do {
		if (cap - len < 4096) {
			char *nb;

			if (cap >= 64 * 1024 * 1024 ||
			    (nb = realloc(buf, cap + 65536)) == NULL) {
				free(buf);
				fclose(f);
				errno = EFBIG;
				return (NULL);
			}
			buf = nb;
			cap += 65536;
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
	} while (n > 0);
	buf[len] = '\0';
	fclose(f);
	return (buf);
}

/* Parse the params; unknown keys are ignored, bad values are usage errors. */
static void
demo_game_params_parse(const char *json, struct demo_game_params *p)
{
	cJSON		*root;
	const cJSON	*item;
	long long	 frames = 60, timeout = 1000, fps = 10, seed = -1;

	p->video = 1;
	if (json != NULL && *json != '\0') {
		root = cJSON_Parse(json);
		if (root == NULL || !cJSON_IsObject(root))
			demo_game_usage("params are not a JSON object");
		if (demo_game_params_long(root, "frames", 0, 100000,
		    &frames) != 0)
			demo_game_usage("params.frames must be 0..100000");
		if (demo_game_params_long(root, "frame_timeout_ms", 1, 600000,
		    &timeout) != 0)
			demo_game_usage("params.frame_timeout_ms must be "
			    "1..600000");
		if (demo_game_params_long(root, "fps", 1, 120, &fps) != 0)
			demo_game_usage("params.fps must be 1..120");
		if (demo_game_params_long(root, "seed", 0, 4294967295LL,
		    &seed) != 0)
			demo_game_usage("params.seed must be 0..4294967295");
		item = cJSON_GetObjectItemCaseSensitive(root, "video");
		if (item != NULL && !cJSON_IsNull(item)) {
			if (!cJSON_IsBool(item))
				demo_game_usage("params.video must be a "
				    "boolean");
			p->video = cJSON_IsTrue(item);
		}
		cJSON_Delete(root);
	}
	p->frames = (long)frames;
	p->frame_timeout_ms = (long)timeout;
	p->fps = (long)fps;
	p->seed_given = seed >= 0;
	p->seed = seed >= 0 ? (uint64_t)seed : 0;
}

/*
 * Fork and exec argv (argv[0] looked up on PATH unless it has a slash) with
 * in_fd as stdin and out_fd (unless -1) as stdout; stderr is inherited.  The
 * pid is stored in *slot before SIGTERM can see it.  Returns -1 on failure.
 */
static pid_t
demo_game_spawn(const char *const *argv, int in_fd, int out_fd, int own_group,
    volatile pid_t *slot)
{
	sigset_t	block, old;
	pid_t		pid;

	fflush(stdout);
	fflush(stderr);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &old);
	if ((pid = fork()) == 0) {
		/* Ignored SIGPIPE would survive exec: give back the default. */
		signal(SIGPIPE, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		sigprocmask(SIG_SETMASK, &old, NULL);
		if (own_group)
			setpgid(0, 0);
		if (dup2(in_fd, STDIN_FILENO) == -1 ||
		    (out_fd != -1 && dup2(out_fd, STDOUT_FILENO) == -1))
			_exit(127);
		/*
		 * ETXTBSY: a process forked while the program was being written
		 * still holds it open for writing; that passes within moments.
		 */
		for (int tries = 0; tries < 50; tries++) {
			execvp(argv[0], (char *const *)argv);
			if (errno != ETXTBSY)
				break;
			usleep(10000);
		}
		fprintf(stderr, "[demo-game] exec %s: %s\n", argv[0],
		    strerror(errno));
		_exit(127);
	}
	if (pid > 0) {
		if (own_group)
			setpgid(pid, pid);
		*slot = pid;
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	return (pid);
}

static char *
demo_game_ffmpeg_find(void)
{
	const char	*env = getenv("PAIA_FFMPEG"), *path;
	char		*copy, *dir, *save = NULL, *found = NULL;
	char		 cand[PATH_MAX];

	if (env != NULL && *env != '\0')
		return (access(env, X_OK) == 0 ? strdup(env) : NULL);
	if ((path = getenv("PATH")) == NULL)
		path = "/usr/local/bin:/usr/bin:/bin";
	if ((copy = strdup(path)) == NULL)
		return (NULL);
	for (dir = strtok_r(copy, ":", &save); dir != NULL && found == NULL;
	    dir = strtok_r(NULL, ":", &save)) {
		snprintf(cand, sizeof cand, "%s/ffmpeg", *dir ? dir : ".");
		if (access(cand, X_OK) == 0)
			found = strdup(cand);
	}
	free(copy);
	return (found);
}

/* Start ffmpeg reading raw frames from a pipe; -1 if video is unavailable. */
static int
demo_game_video_start(long fps)
{
	char		 size[32], rate[32];
	const char	*argv[] = { NULL, "-hide_banner", "-loglevel", "error",
	    "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", size, "-r", rate,
	    "-i", "-", "-c:v", "mpeg4", "-q:v", "5", "-pix_fmt", "yuv420p",
	    "output/video.mp4", NULL };
	char		*ffmpeg;
	int		 fds[2];
	pid_t		 pid = -1;

	if ((ffmpeg = demo_game_ffmpeg_find()) == NULL) {
		demo_game_log("warning: ffmpeg not found, no video");
		return (-1);
	}
	argv[0] = ffmpeg;
	snprintf(size, sizeof size, "%dx%d", DEMO_GAME_VW, DEMO_GAME_VH);
	snprintf(rate, sizeof rate, "%ld", fps);
	if (pipe2(fds, O_CLOEXEC) == 0) {
		pid = demo_game_spawn(argv, fds[0], -1, 0,
		    &demo_game_ffmpeg_pid);
		close(fds[0]);
		if (pid < 0)
			close(fds[1]);
	}
	if (pid < 0)
		demo_game_log("warning: cannot start %s: %s, no video", ffmpeg,
		    strerror(errno));
	else
		demo_game_log("rendering video with %s (%s, %s fps)", ffmpeg,
		    size, rate);
	free(ffmpeg);
	return (pid < 0 ? -1 : fds[1]);
}

static void
demo_game_video_rect(int x0, int y0, int w, int h, unsigned char r,
    unsigned char g, unsigned char b)
{
	unsigned char	*px;
	int		 x, y;

	for (y = y0; y < y0 + h && y < DEMO_GAME_VH; y++) {
		for (x = x0; x < x0 + w && x < DEMO_GAME_VW; x++) {
			px = &demo_game.rgb[(y * DEMO_GAME_VW + x) * 3];
			px[0] = r;
			px[1] = g;
			px[2] = b;
		}
	}
}

/* Draw the current state and hand it to ffmpeg; drop video on failure. */
static void
demo_game_video_frame(long frames)
{
	struct demo_game	*g = &demo_game;
	const int		 c = DEMO_GAME_CELL, top = DEMO_GAME_BAR;
	int			 x, y, w;
	unsigned char		 k;
	size_t			 off = 0;
	ssize_t			 n;

	if (g->video_fd == -1)
		return;
	demo_game_video_rect(0, 0, DEMO_GAME_VW, top, 40, 40, 40);
	if (g->catches + g->misses > 0) {
		w = (int)(DEMO_GAME_VW * g->catches / (g->catches + g->misses));
		demo_game_video_rect(0, 0, DEMO_GAME_VW, top - 2, 120, 30, 30);
		demo_game_video_rect(0, 0, w, top - 2, 40, 200, 70);
	}
	w = frames > 0 ? (int)(DEMO_GAME_VW * (g->played + 1) / frames) : 0;
	demo_game_video_rect(0, top - 1, w, 1, 180, 180, 180);
	for (y = 0; y < DEMO_GAME_H; y++) {
		for (x = 0; x < DEMO_GAME_W; x++) {
			k = (x + y) % 2 * 8;
			demo_game_video_rect(x * c, top + y * c, c, c, 18 + k,
			    18 + k, 28 + k * 3 / 2);
		}
	}
	demo_game_video_rect(g->paddle * c, top + (DEMO_GAME_H - 1) * c, c,
	    c, 80, 160, 255);
	demo_game_video_rect(g->ball_x * c + 2, top + g->ball_y * c + 2,
	    c - 4, c - 4, 250, 200, 40);
	while (off < sizeof g->rgb) {
		n = write(g->video_fd, g->rgb + off, sizeof g->rgb - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			demo_game_log("warning: writing to ffmpeg: %s, "
			    "no video", strerror(errno));
			close(g->video_fd);
			g->video_fd = -1;
			return;
		}
		off += (size_t)n;
	}
}

/* Close the pipe and wait for ffmpeg; 0 if output/video.mp4 is good. */
static int
demo_game_video_finish(void)
{
	int	status;
	pid_t	pid = demo_game_ffmpeg_pid;

	if (pid <= 0)
		return (-1);
	if (demo_game.video_fd != -1)
		close(demo_game.video_fd);
	demo_game.video_fd = -1;
	if (demo_game.played == 0)	/* it would leave a streamless file */
		kill(pid, SIGTERM);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	demo_game_ffmpeg_pid = -1;
	if (demo_game.played > 0 && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0)
		return (0);
	if (demo_game.played == 0)
		demo_game_log("no frames played, no video");
	else
		demo_game_log("warning: ffmpeg failed (status %d), no video",
		    status);
	unlink("output/video.mp4");
	return (-1);
}

/* Start the user's program in its own process group, pipes both ways. */
static int
demo_game_child_start(const char *entry)
{
	struct demo_game_child	*ch = &demo_game_child;
	char			 path[PATH_MAX];
	const char		*dot = strrchr(entry, '.');
	int			 in[2], out[2], py;
	struct stat		 sb;
	pid_t			 pid = -1;

	snprintf(path, sizeof path, "input/%s", entry);
	py = dot != NULL && strcmp(dot, ".py") == 0;
	if (!py) {
		if (stat(path, &sb) == 0)
			chmod(path, (sb.st_mode & 07777) | S_IXUSR);
		else
			demo_game_log("warning: %s: %s", path, strerror(errno));
	}
	if (pipe2(in, O_CLOEXEC) != 0)
		return (-1);
	if (pipe2(out, O_CLOEXEC) == 0) {
		const char *const pyargv[] = { "python3", "-u", path, NULL };
		const char *const argv[] = { path, NULL };

		/*
		 * The program stays in our process group: the runner owns
		 * that group and kills it whole at a deadline, which a
		 * SIGKILLed game could not pass on.
		 */
		pid = demo_game_spawn(py ? pyargv : argv, in[0], out[1], 0,
		    &demo_game_child_pid);
		close(out[1]);
		if (pid < 0)
			close(out[0]);
	}
	close(in[0]);
	if (pid < 0) {
		close(in[1]);
		return (-1);
	}
	ch->pid = pid;
	ch->in_fd = in[1];
	ch->out_fd = out[0];
	fcntl(ch->in_fd, F_SETFL, fcntl(ch->in_fd, F_GETFL) | O_NONBLOCK);
	return (0);
}

static enum demo_game_action
demo_game_reply_parse(char *line, long frame)
{
	struct demo_game	*g = &demo_game;
	cJSON			*obj = NULL;
	const cJSON		*act;
	char			*s = line, *e;
	enum demo_game_action	 a = DEMO_GAME_STAY;
	int			 ok = 1;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	if (*s == '{') {
		obj = cJSON_Parse(s);
		act = cJSON_GetObjectItemCaseSensitive(obj, "action");
		s = cJSON_IsString(act) ? act->valuestring : NULL;
	}
	if (s != NULL && strcasecmp(s, "LEFT") == 0)
		a = DEMO_GAME_LEFT;
	else if (s != NULL && strcasecmp(s, "RIGHT") == 0)
		a = DEMO_GAME_RIGHT;
	else if (s == NULL || strcasecmp(s, "STAY") != 0)
		ok = 0;
	if (!ok && ++g->invalid <= DEMO_GAME_LOG_LIMIT)
		demo_game_log("frame %ld: invalid reply \"%.60s\", STAY",
		    frame, line);
	cJSON_Delete(obj);
	return (a);
}

/* Take complete lines from rbuf; 1 when this frame's reply was found. */
static int
demo_game_child_lines(long frame, enum demo_game_action *action)
{
	struct demo_game_child	*ch = &demo_game_child;
	char			*nl, empty[1] = "";
	size_t			 used;
	int			 found = 0;

	while (!found && (nl = memchr(ch->rbuf, '\n', ch->rlen)) != NULL) {
		*nl = '\0';
		used = (size_t)(nl - ch->rbuf) + 1;
		if (ch->overflow)
			ch->overflow = 0;	/* tail of a counted line */
		else {
			/* A reply coming after its frame timed out is stale. */
			if (ch->lines++ == (unsigned long)frame) {
				*action = demo_game_reply_parse(ch->rbuf,
				    frame);
				found = 1;
			}
		}
		memmove(ch->rbuf, ch->rbuf + used, ch->rlen - used);
		ch->rlen -= used;
	}
	if (!found && ch->rlen == sizeof ch->rbuf) {
		/* Over-long line: drop it, counted once as an invalid reply. */
		ch->rlen = 0;
		if (!ch->overflow) {
			ch->overflow = 1;
			if (ch->lines++ == (unsigned long)frame) {
				*action = demo_game_reply_parse(empty, frame);
				found = 1;
			}
		}
	}
	return (found);
}

static void
demo_game_child_write(void)
{
	struct demo_game_child	*ch = &demo_game_child;
	ssize_t			 n;

	n = write(ch->in_fd, ch->wbuf, ch->wlen);
	if (n > 0) {
		memmove(ch->wbuf, ch->wbuf + n, ch->wlen - (size_t)n);
		ch->wlen -= (size_t)n;
	} else if (n == -1 && errno != EAGAIN && errno != EINTR) {
		/* EPIPE: it closed stdin; its exit shows up as EOF. */
		close(ch->in_fd);
		ch->in_fd = -1;
		ch->wlen = 0;
	}
}

/*
 * Send this frame's state line and wait for its reply until the deadline.
 * Returns 0 with *action set, 1 on timeout, -1 when the program's stdout
 * reached EOF.
 */
static int
demo_game_child_exchange(const char *line, long frame, int64_t deadline,
    enum demo_game_action *action)
{
	struct demo_game_child	*ch = &demo_game_child;
	struct pollfd		 pfd[2];
	size_t			 len = strlen(line);
	int64_t			 left;
	ssize_t			 n;
	int			 nfd;

	if (ch->in_fd != -1 && len <= sizeof ch->wbuf - ch->wlen) {
		memcpy(ch->wbuf + ch->wlen, line, len);
		ch->wlen += len;
	} else if (ch->in_fd != -1 && !ch->stalled) {
		ch->stalled = 1;
		demo_game_log("frame %ld: program is not reading its input",
		    frame);
	}
	for (;;) {
		if (demo_game_child_lines(frame, action))
			return (0);
		if (ch->eof)
			return (-1);
		if ((left = deadline - demo_game_now_ms()) <= 0)
			return (1);
		nfd = 0;
		pfd[nfd].fd = ch->out_fd;
		pfd[nfd++].events = POLLIN;
		if (ch->in_fd != -1 && ch->wlen > 0) {
			pfd[nfd].fd = ch->in_fd;
			pfd[nfd++].events = POLLOUT;
		}
		if (poll(pfd, (nfds_t)nfd, (int)left) == -1) {
			if (errno == EINTR)
				continue;
			return (1);
		}
		if (nfd == 2 && pfd[1].revents != 0)
			demo_game_child_write();
		if (pfd[0].revents == 0)
			continue;
		n = read(ch->out_fd, ch->rbuf + ch->rlen,
		    sizeof ch->rbuf - ch->rlen);
		if (n > 0)
			ch->rlen += (size_t)n;
		else if (n == 0 || (errno != EINTR && errno != EAGAIN))
			ch->eof = 1;
	}
}

/*
 * Close the program's stdin and wait for it, draining its stdout, ~1 s
 * before SIGTERM and ~1 s more before SIGKILL.  Returns its wait status
 * and sets *killed when we had to end it.
 */
static int
demo_game_child_reap(int *killed)
{
	struct demo_game_child	*ch = &demo_game_child;
	struct pollfd		 pfd;
	char			 junk[4096];
	int64_t			 start = demo_game_now_ms(), elapsed;
	int			 status = 0, termed = 0, hard = 0;
	pid_t			 r;

	if (ch->in_fd != -1)
		close(ch->in_fd);
	ch->in_fd = -1;
	for (;;) {
		r = waitpid(ch->pid, &status, WNOHANG);
		if (r == ch->pid || (r == -1 && errno != EINTR))
			break;
		elapsed = demo_game_now_ms() - start;
		if ((!termed && elapsed >= 1000) ||
		    (!hard && elapsed >= 2000)) {
			if (termed)
				hard = 1;
			termed = 1;
			kill(-ch->pid, hard ? SIGKILL : SIGTERM);
			kill(ch->pid, hard ? SIGKILL : SIGTERM);
		}
		/* Keep reading so a program blocked on a full pipe can exit. */
		pfd.fd = ch->out_fd;
		pfd.events = POLLIN;
		if (ch->out_fd == -1)
			poll(NULL, 0, 10);
		else if (poll(&pfd, 1, 10) > 0 &&
		    read(ch->out_fd, junk, sizeof junk) <= 0) {
			close(ch->out_fd);
			ch->out_fd = -1;
		}
	}
	*killed = termed;
	demo_game_child_pid = -1;
	if (ch->out_fd != -1)
		close(ch->out_fd);
	ch->out_fd = -1;
	return (status);
}

/* Entry must stay inside input/: not absolute, no ".." component. */
static int
demo_game_entry_valid(const char *entry)
{
	const char	*s = entry;

	if (*entry == '/')
		return (0);
	while ((s = strstr(s, "..")) != NULL) {
		if ((s == entry || s[-1] == '/') &&
		    (s[2] == '\0' || s[2] == '/'))
			return (0);
		s += 2;
	}
	return (1);
}

static void
demo_game_ball_spawn(void)
{
	demo_game.ball_x = (int)(demo_game_rng_next(&demo_game.rng) %
	    DEMO_GAME_W);
	demo_game.ball_y = 0;
	demo_game.landed = 0;
}

/* Apply one action: move the paddle, drop the ball, score a landing. */
static void
demo_game_step(enum demo_game_action a)
{
	struct demo_game	*g = &demo_game;

	if (a == DEMO_GAME_LEFT && g->paddle > 0)
		g->paddle--;
	else if (a == DEMO_GAME_RIGHT && g->paddle < DEMO_GAME_W - 1)
		g->paddle++;
	if (++g->ball_y < DEMO_GAME_H - 1)
		return;
	g->landed = 1;
	if (g->ball_x == g->paddle) {
		g->score++;
		g->catches++;
	} else
		g->misses++;
}

/* Write output/result.json through a temporary file and rename(). */
static int
demo_game_result_write(const char *task, uint64_t seed, int have_exit,
    int program_exit, const char *error, int video)
{
	struct demo_game	*g = &demo_game;
	cJSON			*o = cJSON_CreateObject();
	char			*text;
	FILE			*f;
	int			 rc = -1;

	cJSON_AddStringToObject(o, "game", DEMO_GAME_NAME);
	cJSON_AddStringToObject(o, "game_version", DEMO_GAME_VERSION);
	if (task != NULL)
		cJSON_AddStringToObject(o, "task_id", task);
	else
		cJSON_AddNullToObject(o, "task_id");
	cJSON_AddNumberToObject(o, "score", (double)g->score);
	cJSON_AddNumberToObject(o, "frames", (double)g->played);
	cJSON_AddNumberToObject(o, "catches", (double)g->catches);
	cJSON_AddNumberToObject(o, "misses", (double)g->misses);
	cJSON_AddNumberToObject(o, "timeouts", (double)g->timeouts);
	cJSON_AddNumberToObject(o, "seed", (double)seed);
	if (have_exit)
		cJSON_AddNumberToObject(o, "program_exit", program_exit);
	else
		cJSON_AddNullToObject(o, "program_exit");
	if (error != NULL)
		cJSON_AddStringToObject(o, "error", error);
	if (video)
		cJSON_AddStringToObject(o, "video", "video.mp4");
	else
		cJSON_AddNullToObject(o, "video");
	text = cJSON_Print(o);
	cJSON_Delete(o);
	if (text == NULL)
		return (-1);
	if ((f = fopen("output/result.json.tmp", "w")) != NULL) {
		/*
		 * No fsync: the gateway reads the file after we exit; rename
		 * keeps a reader from seeing half of it.
		 */
		if (fputs(text, f) >= 0 && fputc('\n', f) != EOF &&
		    fflush(f) == 0)
			rc = 0;
		if (fclose(f) != 0)
			rc = -1;
		if (rc == 0 && rename("output/result.json.tmp",
		    "output/result.json") != 0)
			rc = -1;
	}
	if (rc != 0) {
		demo_game_log("error: cannot write output/result.json: %s",
		    strerror(errno));
		unlink("output/result.json.tmp");
	}
	free(text);
	return (rc);
}

int
main(int argc, char **argv)
{
	struct demo_game	*g = &demo_game;
	struct demo_game_params	 p;
	struct sigaction	 sa;
	struct stat		 sb;
	const char		*ws, *entry, *params, *pfile, *task, *game;
	char			*ptext = NULL;
	const char		*error = NULL;
	char			 line[256], errbuf[128];
	enum demo_game_action	 action;
	int			 opt, r, status, killed, rc = 0, have_exit = 0;
	int			 program_exit = 0, video = 0;
	long			 frame;

	setvbuf(stdout, NULL, _IOLBF, 0);
	ws = getenv("PAIA_WORKSPACE");
	entry = getenv("PAIA_ENTRY");
	params = getenv("PAIA_PARAMS");
	pfile = getenv("PAIA_PARAMS_FILE");
	task = getenv("PAIA_TASK_ID");
	game = getenv("PAIA_GAME");
	while ((opt = getopt(argc, argv, "w:e:p:t:g:")) != -1) {
		switch (opt) {
		case 'w':
			ws = optarg;
			break;
		case 'e':
			entry = optarg;
			break;
		case 'p':
			params = optarg;
			break;
		case 't':
			task = optarg;
			break;
		case 'g':
			game = optarg;
			break;
		default:
			demo_game_usage(NULL);
		}
	}
	if (optind != argc)
		demo_game_usage("unexpected arguments");
	if (game != NULL && *game != '\0' && strcmp(game, DEMO_GAME_NAME) != 0)
		demo_game_usage("unknown game (only \"catch\")");
	if (params == NULL && pfile != NULL && *pfile != '\0') {
		if ((ptext = demo_game_params_read(pfile)) == NULL) {
			fprintf(stderr, "paia-demo-game: %s: %s\n", pfile,
			    strerror(errno));
			exit(DEMO_GAME_EX_USAGE);
		}
		params = ptext;
	}
	demo_game_params_parse(params, &p);
	free(ptext);
	if (p.frames > 0 && (entry == NULL || *entry == '\0'))
		demo_game_usage("no entry (PAIA_ENTRY or -e)");
	if (entry != NULL && !demo_game_entry_valid(entry))
		demo_game_usage("entry must be a path inside input/");

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = demo_game_signal_handle;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	if (ws != NULL && *ws != '\0' && chdir(ws) != 0) {
		demo_game_log("error: workspace %s: %s", ws, strerror(errno));
		return (DEMO_GAME_EX_INTERNAL);
	}
	r = 0;
	if ((mkdir("output", 0755) != 0 && errno != EEXIST) ||
	    stat("output", &sb) != 0 || access("output", W_OK) != 0)
		r = -1;
	else if (!S_ISDIR(sb.st_mode)) {
		errno = ENOTDIR;
		r = -1;
	}
	if (r != 0) {
		demo_game_log("error: output/: %s", strerror(errno));
		return (DEMO_GAME_EX_INTERNAL);
	}
	if (!p.seed_given)
		p.seed = demo_game_seed_hash(task);
	g->rng = p.seed;
	g->paddle = DEMO_GAME_W / 2;
	demo_game_log("start: task %s, game %s, entry %s, frames %ld, "
	    "seed %llu",
	    task != NULL ? task : "-", DEMO_GAME_NAME,
	    entry != NULL ? entry : "-", p.frames, (unsigned long long)p.seed);
	if (p.frames == 0) {
		demo_game_log("frames is 0: game exits at once");
		if (demo_game_result_write(task, p.seed, 0, 0, NULL, 0) != 0)
			return (DEMO_GAME_EX_INTERNAL);
		return (0);
	}

	if (p.video)
		g->video_fd = demo_game_video_start(p.fps);
	if (demo_game_child_start(entry) != 0) {
		demo_game_log("error: cannot start program: %s",
		    strerror(errno));
		demo_game_video_finish();
		return (DEMO_GAME_EX_INTERNAL);
	}
	demo_game_ball_spawn();
	for (frame = 0; frame < p.frames; frame++) {
		if (g->landed)
			demo_game_ball_spawn();
		snprintf(line, sizeof line, "{\"frame\":%ld,\"width\":%d,"
		    "\"height\":%d,\"ball\":{\"x\":%d,\"y\":%d},\"paddle\":"
		    "{\"x\":%d},\"score\":%ld}\n", frame, DEMO_GAME_W,
		    DEMO_GAME_H, g->ball_x, g->ball_y, g->paddle, g->score);
		r = demo_game_child_exchange(line, frame, demo_game_now_ms() +
		    p.frame_timeout_ms, &action);
		if (r == -1) {
			demo_game_log("frame %ld: program closed its output",
			    frame);
			break;
		}
		if (r == 1) {
			action = DEMO_GAME_STAY;
			if (++g->timeouts <= DEMO_GAME_LOG_LIMIT)
				demo_game_log("frame %ld: no reply within %ld "
				    "ms, STAY", frame, p.frame_timeout_ms);
		}
		demo_game_step(action);
		demo_game_video_frame(p.frames);
		g->played++;
		if (frame % 20 == 0)
			demo_game_log("frame %ld: ball %d,%d paddle %d score "
			    "%ld", frame, g->ball_x, g->ball_y, g->paddle,
			    g->score);
	}

	status = demo_game_child_reap(&killed);
	if (killed)
		demo_game_log("program still running after the game: killed");
	else if (WIFEXITED(status)) {
		have_exit = 1;
		program_exit = WEXITSTATUS(status);
	} else if (WIFSIGNALED(status)) {
		have_exit = 1;
		program_exit = 128 + WTERMSIG(status);
	}
	if (have_exit && program_exit != 0) {
		if (WIFSIGNALED(status))
			snprintf(errbuf, sizeof errbuf, "program killed by "
			    "signal %d", WTERMSIG(status));
		else
			snprintf(errbuf, sizeof errbuf, "program exited with "
			    "code %d", program_exit);
		error = errbuf;
		rc = program_exit;
		demo_game_log("error: %s after %ld frames", error, g->played);
	}
	if (g->video_fd != -1 || demo_game_ffmpeg_pid > 0)
		video = demo_game_video_finish() == 0;
	demo_game_log("end: score %ld, frames %ld, catches %ld, misses %ld, "
	    "timeouts %ld", g->score, g->played, g->catches, g->misses,
	    g->timeouts);
	if (demo_game_result_write(task, p.seed, have_exit, program_exit,
	    error, video) != 0)
		return (DEMO_GAME_EX_INTERNAL);
	return (rc);
}
