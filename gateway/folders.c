/*
 * folders.c: the task folders on disk, <state_dir>/tasks/<task_id>:
 * made fresh for a task (input/ for downloads, output/ for the game),
 * output/ cleared for a new attempt, and removed again.
 *
 * The tasks/ folder is opened once and everything below it is reached
 * through descriptors (taskdir.c, util_rmtree_at): what a game left is
 * removed, never followed. Folders of finished tasks go when
 * gateway.history newer tasks push them out (task.c), or sooner, oldest
 * first, when finished tasks' folders hold more than
 * gateway.disk_budget_mb (default: half the file system). Folders found
 * at start that no task of this run owns are leftovers of an earlier
 * run, and go first.
 *
 * A finished task's folder is measured (a walk: a few dozen system
 * calls) only when the budget needs it: while the whole file system uses
 * no more than the budget, no part of it can be over, and nothing is
 * walked (FOLDERS_UNMEASURED until then).
 *
 * Everything here runs in the loop.
 */
#include "config.h"
#include "gateway.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

/* Modes of a task folder and of its input/ and output/ (the game reads input/). */
#define FOLDER_MODE 0755

/* A folder found at start that no task of this run owns (yet). */
struct leftover {
	char *name;
	uint64_t bytes;
	int64_t mtime_ms;
};

struct folders {
	struct gw *gw;
	int fd;				/* <state_dir>/tasks: the trusted parent */
	struct leftover *leftovers;	/* oldest first */
	size_t nleftovers;
};

static int
folders_leftover_cmp(const void *a, const void *b)
{
	const struct leftover *x = a, *y = b;

	if (x->mtime_ms != y->mtime_ms)
		return x->mtime_ms < y->mtime_ms ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Every folder below tasks/ is a leftover, oldest (by mtime) first. */
static void
folders_scan(struct folders *f)
{
	struct dirent *de;
	struct stat st;
	DIR *d;
	int fd;

	if ((fd = dup(f->fd)) < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' ||
		    fstatat(f->fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISDIR(st.st_mode))
			continue;
		f->leftovers = xreallocarray(f->leftovers, f->nleftovers + 1,
		    sizeof *f->leftovers);
		f->leftovers[f->nleftovers].name = xstrdup(de->d_name);
		f->leftovers[f->nleftovers].bytes = util_du_at(f->fd, de->d_name);
		f->leftovers[f->nleftovers].mtime_ms = (int64_t)st.st_mtim.tv_sec * 1000 +
		    st.st_mtim.tv_nsec / 1000000;
		f->nleftovers++;
	}
	closedir(d);
	if (f->nleftovers > 0) {
		qsort(f->leftovers, f->nleftovers, sizeof *f->leftovers, folders_leftover_cmp);
		log_info("task folders of an earlier run found", "count=%zu", f->nleftovers);
	}
}

struct folders *
folders_open(struct gw *gw, char **cause)
{
	struct folders *f;
	char *tasks;
	int fd;

	xasprintf(&tasks, "%s/tasks", gw->state_dir);
	if ((fd = open(tasks, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		xasprintf(cause, "task folders %s: %s", tasks, strerror(errno));
		free(tasks);
		return NULL;
	}
	free(tasks);
	f = xcalloc(1, sizeof *f);
	f->gw = gw;
	f->fd = fd;
	folders_scan(f);
	folders_enforce(f);
	return f;
}

void
folders_close(struct folders *f)
{
	size_t i;

	if (f == NULL)
		return;
	for (i = 0; i < f->nleftovers; i++)
		free(f->leftovers[i].name);
	free(f->leftovers);
	close(f->fd);
	free(f);
}

void
folders_remove(struct folders *f, const char *name, const char *why, uint64_t bytes)
{
	char *cause = NULL;

	if (util_rmtree_at(f->fd, name, &cause) != 0) {
		log_warn("cannot remove a task folder", "folder=%s error=%s", log_q(name),
		    log_q(cause));
		free(cause);
		return;
	}
	if (bytes == FOLDERS_UNMEASURED)
		log_debug("task folder removed", "folder=%s why=%s", log_q(name), log_q(why));
	else
		log_debug("task folder removed", "folder=%s why=%s bytes=%llu", log_q(name),
		    log_q(why), (unsigned long long)bytes);
}

/*
 * Bytes finished tasks' folders may hold: gateway.disk_budget_mb, or
 * half the file system; *fs_used is what the whole file system uses
 * (UINT64_MAX: unknown).
 */
static uint64_t
folders_budget(struct folders *f, uint64_t *fs_used)
{
	long long mb = config_get_int(f->gw->conf, "gateway", "disk_budget_mb");
	struct statvfs sv;

	if (fstatvfs(f->fd, &sv) != 0) {
		*fs_used = UINT64_MAX;
		return mb > 0 ? (uint64_t)mb * 1024 * 1024 : UINT64_MAX;
	}
	*fs_used = (uint64_t)(sv.f_blocks - sv.f_bfree) * sv.f_frsize;
	if (mb > 0)
		return (uint64_t)mb * 1024 * 1024;
	return (uint64_t)sv.f_blocks * sv.f_frsize / 2;
}

void
folders_enforce(struct folders *f)
{
	uint64_t fs_used, budget = folders_budget(f, &fs_used), used = 0;
	struct task *t;
	size_t i, n;

	/* Our folders are part of the file system: under the budget as a whole, nothing to do. */
	if (fs_used <= budget)
		return;
	for (i = 0; i < f->nleftovers; i++)
		used += f->leftovers[i].bytes;
	TAILQ_FOREACH(t, &f->gw->history, entry) {
		if (t->dir_gone)
			continue;
		if (t->disk_bytes == FOLDERS_UNMEASURED)
			t->disk_bytes = util_du_at(f->fd, t->spec->task_id);
		used += t->disk_bytes;
	}
	for (n = 0; n < f->nleftovers && used > budget; n++) {
		log_info("task folder of an earlier run removed (gateway.disk_budget_mb)",
		    "folder=%s bytes=%llu", log_q(f->leftovers[n].name),
		    (unsigned long long)f->leftovers[n].bytes);
		folders_remove(f, f->leftovers[n].name, "disk budget", f->leftovers[n].bytes);
		used -= f->leftovers[n].bytes;
		free(f->leftovers[n].name);
	}
	if (n > 0) {
		memmove(f->leftovers, f->leftovers + n, (f->nleftovers - n) *
		    sizeof *f->leftovers);
		f->nleftovers -= n;
	}
	TAILQ_FOREACH(t, &f->gw->history, entry) {
		if (used <= budget)
			break;
		if (t->dir_gone || task_dir_shared(t))
			continue;
		log_info("task folder removed (gateway.disk_budget_mb)",
		    "task=%s attempt=%d bytes=%llu", log_q(t->spec->task_id), t->spec->attempt,
		    (unsigned long long)t->disk_bytes);
		folders_remove(f, t->spec->task_id, "disk budget", t->disk_bytes);
		t->dir_gone = 1;
		used -= t->disk_bytes;
	}
}

/* A task of this run now owns its folder: it is no leftover. */
void
folders_keep(struct folders *f, const char *name)
{
	size_t i;

	for (i = 0; i < f->nleftovers; i++) {
		if (strcmp(f->leftovers[i].name, name) == 0) {
			free(f->leftovers[i].name);
			memmove(f->leftovers + i, f->leftovers + i + 1,
			    (f->nleftovers - i - 1) * sizeof *f->leftovers);
			f->nleftovers--;
			return;
		}
	}
}

int
folders_make(struct folders *f, const char *id, char **cause)
{
	/*
	 * Made first, not looked for first: a new task's folder (the usual
	 * case) costs one call and no failing lookup. tasks/ is the
	 * gateway's alone; what is there already (a folder of an earlier
	 * attempt or life, or anything else) is for the caller to read and
	 * folders_prepare to clear.
	 */
	if (mkdirat(f->fd, id, FOLDER_MODE) == 0) {
		if (util_mode_needs_chmod(FOLDER_MODE) && fchmodat(f->fd, id, FOLDER_MODE, 0) != 0) {
			xasprintf(cause, "chmod %s: %s", id, strerror(errno));
			return -1;
		}
		return 1;
	}
	if (errno == EEXIST)
		return 0;
	xasprintf(cause, "mkdir %s: %s", id, strerror(errno));
	return -1;
}

int
folders_prepare(struct folders *f, const char *id, const char *dir, int made, char **cause)
{
	int fd, rc;

	folders_keep(f, id);
	/* A folder folders_make made is new and empty: nothing to clear. */
	if (!made && (util_rmtree_at(f->fd, id, cause) != 0 ||
	    taskdir_mkdir(f->fd, id, FOLDER_MODE, (uid_t)-1, (gid_t)-1, cause) != 0))
		return -1;
	/* Below the tasks/ descriptor: no walk of the whole path. */
	if ((fd = openat(f->fd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		xasprintf(cause, "%s: %s", dir, strerror(errno));
		return -1;
	}
	rc = taskdir_mkdir(fd, "input", FOLDER_MODE, (uid_t)-1, (gid_t)-1, cause);
	if (rc == 0)
		rc = taskdir_mkdir(fd, "output", FOLDER_MODE, (uid_t)-1, (gid_t)-1, cause);
	close(fd);
	return rc;
}

int
folders_task_open(struct folders *f, const struct task *t, char **cause)
{
	int fd;

	if (f == NULL || t->kept)
		return taskdir_open(t->dir, cause);
	if ((fd = openat(f->fd, t->spec->task_id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0)
		xasprintf(cause, "%s: %s", t->dir, strerror(errno));
	return fd;
}

int
folders_reset_output(const char *dir, char **cause)
{
	int fd, rc;

	if ((fd = taskdir_open(dir, cause)) < 0)
		return -1;
	outcome_remove(fd);
	rc = util_rmtree_at(fd, "output", cause);
	if (rc == 0)
		rc = taskdir_mkdir(fd, "output", FOLDER_MODE, (uid_t)-1, (gid_t)-1, cause);
	close(fd);
	return rc;
}
