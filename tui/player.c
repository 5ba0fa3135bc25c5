/*
 * player.c: the Videos view's `o`: the video in $PAIA_PLAYER.
 *
 * Where the file comes from: a console on the gateway's host plays the
 * file in the task folder (the VIDEO's path), once it is seen to be a
 * regular file of one link reached through no symbolic link (a game
 * wrote that folder); a remote console (--ssh), or one that finds the
 * file otherwise, downloads it first through the control socket
 * (video_data, one piece of at most PROTO_VIDEO_CHUNK_MAX bytes at a
 * time, each written out before the next is asked: bounded on both
 * sides) into a private file (mkstemps, mode 0600) in $XDG_RUNTIME_DIR,
 * else $TMPDIR, else /tmp, removed once the player exits.
 *
 * How the player runs: detached, as a desktop player (mpv, vlc) is
 * expected to: its own session, stdin, stdout and stderr on /dev/null,
 * so the console keeps its terminal and goes on drawing. It is started
 * by execvp with an argv, never through a shell: $PAIA_PLAYER is split
 * on spaces (no quoting), the file appended as the last argument. Two
 * forks: the console reaps the first at once; the second (now init's)
 * waits for the player and then removes a downloaded file.
 */
#include "config.h"
#include "tui.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

#define CON_PLAYER_ARGS_MAX 64

struct con_fetch {
	struct con *con;
	char id[TASK_ID_MAX + 1];
	int attempt;
	int64_t size, offset;
	int fd;
	char *path;
};

void
con_argv_free(char **argv)
{
	size_t i;

	if (argv == NULL)
		return;
	for (i = 0; argv[i] != NULL; i++)
		free(argv[i]);
	free(argv);
}

char **
con_player_argv(const char *spec, const char *file, char **cause)
{
	char **argv = xcalloc(CON_PLAYER_ARGS_MAX + 2, sizeof *argv);
	size_t n = 0, len;
	const char *p = spec;

	if (spec == NULL || strspn(spec, " ") == strlen(spec)) {
		free(argv);
		xasprintf(cause, "PAIA_PLAYER is not set: set it to a video player (mpv, vlc, "
		    "\"mpv --loop\"; split on spaces) to play videos");
		return NULL;
	}
	while (*p != '\0') {
		if (*p == ' ') {
			p++;
			continue;
		}
		len = strcspn(p, " ");
		if (n == CON_PLAYER_ARGS_MAX) {
			con_argv_free(argv);
			xasprintf(cause, "PAIA_PLAYER has more than %d words", CON_PLAYER_ARGS_MAX);
			return NULL;
		}
		argv[n++] = xstrndup(p, len);
		p += len;
	}
	argv[n] = xstrdup(file);
	return argv;
}

/* The player's child side: detached, /dev/null for stdio, execvp. */
static void __attribute__((noreturn))
con_player_exec(char **argv)
{
	int fd;

	if ((fd = open("/dev/null", O_RDWR)) >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	closefrom(STDERR_FILENO + 1);
	execvp(argv[0], argv);
	_exit(127);
}

/* The player can be run: a path that is executable, or a name found so on $PATH. */
static int
con_player_found(const char *name)
{
	const char *path = getenv("PATH"), *p, *end;
	char *try;
	int ok = 0;

	if (strchr(name, '/') != NULL)
		return access(name, X_OK) == 0;
	for (p = path != NULL && *path != '\0' ? path : "/usr/bin:/bin"; !ok; p = end + 1) {
		end = strchr(p, ':');
		if (end == NULL)
			end = p + strlen(p);
		xasprintf(&try, "%.*s/%s", (int)(end - p), end == p ? "." : p, name);
		ok = access(try, X_OK) == 0;
		free(try);
		if (*end == '\0')
			break;
	}
	return ok;
}

int
con_player_spawn(const char *spec, const char *file, int remove, char **cause)
{
	char **argv;
	pid_t pid, player;
	int status;
	sigset_t all, old;

	if ((argv = con_player_argv(spec, file, cause)) == NULL)
		return -1;
	/* Detached, its failure to start would go unseen: look first. */
	if (!con_player_found(argv[0])) {
		xasprintf(cause, "PAIA_PLAYER: %s is not a program that can be run (not found on "
		    "PATH, or not executable)", argv[0]);
		con_argv_free(argv);
		return -1;
	}
	/* The children start with the loop's signals blocked, then take the defaults. */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	if ((pid = fork()) < 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		xasprintf(cause, "cannot start %s: fork: %s", argv[0], strerror(errno));
		con_argv_free(argv);
		return -1;
	}
	if (pid == 0) {
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		signal(SIGCHLD, SIG_DFL);
		sigprocmask(SIG_SETMASK, &old, NULL);
		setsid();
		if ((player = fork()) < 0)
			_exit(1);
		if (player > 0)
			_exit(0);	/* the console reaps this one now */
		if (!remove)
			con_player_exec(argv);
		/* This one waits for the player, then removes the download. */
		if ((player = fork()) == 0)
			con_player_exec(argv);
		closefrom(STDERR_FILENO + 1);
		while (player > 0 && waitpid(player, &status, 0) < 0 && errno == EINTR)
			;
		unlink(file);
		_exit(0);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	con_argv_free(argv);
	return 0;
}

/*
 * The task folder's file, when this console may use it as it is: an
 * absolute path, no symbolic link on the way (realpath names it the
 * same), a regular file of one link, of the size the gateway gave.
 */
static int
con_video_local_ok(const struct con_video *v, char **why)
{
	char real[PATH_MAX];
	struct stat st;
	int fd;

	if (v->path == NULL || !v->local) {
		xasprintf(why, "the gateway names no local copy");
		return 0;
	}
	if (realpath(v->path, real) == NULL || strcmp(real, v->path) != 0) {
		xasprintf(why, "%s is reached through a symbolic link or is gone", v->path);
		return 0;
	}
	if ((fd = open(v->path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) < 0) {
		xasprintf(why, "%s: %s", v->path, strerror(errno));
		return 0;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1 ||
	    (v->bytes >= 0 && st.st_size != v->bytes)) {
		close(fd);
		xasprintf(why, "%s is not the regular file of one link the gateway reported",
		    v->path);
		return 0;
	}
	close(fd);
	return 1;
}

static void
con_fetch_end(struct con_fetch *fc, int keep)
{
	struct con *con = fc->con;

	if (fc->fd >= 0)
		close(fc->fd);
	if (!keep && fc->path != NULL)
		unlink(fc->path);
	free(fc->path);
	free(fc);
	if (con->fetch == fc)
		con->fetch = NULL;
	con->ui.gen++;
}

void
con_fetch_free(struct con *con)
{
	if (con->fetch != NULL)
		con_fetch_end(con->fetch, 0);
}

/* A piece came (or the request failed): write it, ask the next, or play. */
static void
con_fetch_piece(void *arg, const struct proto_video_data *d, const char *error)
{
	struct con_fetch *fc = arg;
	struct con *con = fc->con;
	char *cause = NULL;

	if (error != NULL) {
		con_message(con, 1, "video of %s: %s", fc->id, error);
		con_fetch_end(fc, 0);
		return;
	}
	if (d->offset != fc->offset || (fc->size >= 0 && (d->size != fc->size ||
	    d->attempt != fc->attempt)) || (d->len == 0 && d->offset < d->size)) {
		con_message(con, 1, "video of %s: it changed while it was downloaded (attempt %d, "
		    "%jd bytes; now attempt %d, %jd)", fc->id, fc->attempt, (intmax_t)fc->size,
		    d->attempt, (intmax_t)d->size);
		con_fetch_end(fc, 0);
		return;
	}
	fc->size = d->size;
	fc->attempt = d->attempt;
	if (util_write_all(fc->fd, d->data, d->len) != 0) {
		con_message(con, 1, "video of %s: %s: %s", fc->id, fc->path, strerror(errno));
		con_fetch_end(fc, 0);
		return;
	}
	fc->offset += (int64_t)d->len;
	con->ui.gen++;
	if (fc->offset < fc->size) {
		con_message(con, 0, "downloading the video of %s: %jd of %jd bytes", fc->id,
		    (intmax_t)fc->offset, (intmax_t)fc->size);
		feed_video_data(con->feed, fc->id, fc->offset, con_fetch_piece, fc);
		return;
	}
	close(fc->fd);
	fc->fd = -1;
	if (con_player_spawn(getenv("PAIA_PLAYER"), fc->path, 1, &cause) != 0) {
		con_message(con, 1, "%s", cause);
		free(cause);
		con_fetch_end(fc, 0);
		return;
	}
	con_message(con, 0, "playing %s (downloaded, %jd bytes) in %s", fc->id,
	    (intmax_t)fc->size, getenv("PAIA_PLAYER"));
	con_fetch_end(fc, 1);
}

/* A private file for the download, named like the video (its extension kept). */
static int
con_fetch_file(const struct con_video *v, char **path, char **cause)
{
	const char *dir = getenv("XDG_RUNTIME_DIR"), *ext = NULL;
	char *tmpl, *safe;
	int fd, suffix = 0;

	if (dir == NULL || *dir != '/')
		dir = getenv("TMPDIR");
	if (dir == NULL || *dir != '/')
		dir = "/tmp";
	if (v->name != NULL && (ext = strrchr(v->name, '.')) != NULL &&
	    (strlen(ext) < 2 || strlen(ext) > 8 || strspn(ext + 1,
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != strlen(ext + 1)))
		ext = NULL;
	safe = xstrdup(v->task);
	for (char *p = safe; *p != '\0'; p++)
		if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.",
		    *p) == NULL)
			*p = '_';
	xasprintf(&tmpl, "%s/paia-video-%s-XXXXXX%s", dir, safe, ext != NULL ? ext : "");
	free(safe);
	if (ext != NULL)
		suffix = (int)strlen(ext);
	if ((fd = mkstemps(tmpl, suffix)) < 0) {
		xasprintf(cause, "cannot make a file for the video in %s: %s", dir, strerror(errno));
		free(tmpl);
		return -1;
	}
	(void)fchmod(fd, 0600);
	(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	*path = tmpl;
	return fd;
}

void
con_video_play(struct con *con, const struct con_video *v)
{
	const char *spec = getenv("PAIA_PLAYER");
	struct con_fetch *fc;
	char *cause = NULL, *why = NULL, **argv;

	if ((argv = con_player_argv(spec, "-", &cause)) == NULL) {
		con_message(con, 1, "%s", cause);
		free(cause);
		return;
	}
	con_argv_free(argv);
	if (v->task == NULL)
		return;
	if (!con->o.remote && con_video_local_ok(v, &why)) {
		if (con_player_spawn(spec, v->path, 0, &cause) != 0) {
			con_message(con, 1, "%s", cause);
			free(cause);
		} else
			con_message(con, 0, "playing %s in %s", v->path, spec);
		return;
	}
	free(why);
	if (con->fetch != NULL) {
		con_message(con, 1, "the video of %s is being downloaded; wait for it",
		    con->fetch->id);
		return;
	}
	if (con->feed == NULL)
		return;
	fc = xcalloc(1, sizeof *fc);
	fc->con = con;
	snprintf(fc->id, sizeof fc->id, "%s", v->task);
	fc->size = -1;
	if ((fc->fd = con_fetch_file(v, &fc->path, &cause)) < 0) {
		con_message(con, 1, "%s", cause);
		free(cause);
		free(fc);
		return;
	}
	con->fetch = fc;
	con_message(con, 0, "downloading the video of %s", fc->id);
	feed_video_data(con->feed, fc->id, 0, con_fetch_piece, fc);
}
