/*
 * taskdir.c: how the gateway touches a task folder, which user code has
 * written: the game (a local child or a pod on the shared volume) and
 * the user's program may leave symbolic links (absolute, "../..",
 * through a linked directory, to another task's folder), hard links to
 * files they could not read, FIFOs, devices, sparse or huge files, and
 * may rename things while the gateway looks. With runner.type = k8s a
 * link resolves in the gateway's mount namespace, not the pod's.
 *
 * The model: only the path of the task folder itself is the gateway's
 * (<state_dir>/tasks/<task_id>); it is opened once as a directory
 * descriptor and everything inside is reached relative to it, never by
 * a path string:
 *
 *   - directories below it (output/, input/) are opened with
 *     util_open_beneath: openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
 *     RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV, or O_NOFOLLOW per
 *     component on kernels without openat2;
 *   - an artifact is a single name in such a directory: looked at with
 *     fstatat(AT_SYMLINK_NOFOLLOW) first (a FIFO or a device is never
 *     opened), then opened O_NOFOLLOW | O_NONBLOCK and checked again on
 *     the descriptor: a regular file, one link, within its size cap.
 *     It is read, hashed and uploaded from that descriptor, so swapping
 *     the name afterwards changes nothing;
 *   - downloads are created O_CREAT | O_EXCL below input/, removals are
 *     util_rmtree_at walks that never follow a link.
 *
 * A refusal is not an error of the task: the caller names the artifact
 * and the reason in the result and the log, and uploads the rest. This
 * file holds no state and knows nothing of tasks' life cycles (task.c)
 * or of storage.
 * @locality: any thread (it is used from the loop).
 */
#include "config.h"
#include "gateway.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int
taskdir_open(const char *dir, char **cause)
{
	int fd;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		xasprintf(cause, "%s: %s", dir, strerror(errno));
	return fd;
}

int
taskdir_open_sub(int taskfd, const char *rel, char **why)
{
	int fd;

	if ((fd = util_open_beneath(taskfd, rel, O_RDONLY | O_DIRECTORY, 0)) >= 0)
		return fd;
	if (errno == ENOENT)
		*why = NULL;
	else
		*why = taskdir_reason(errno);
	return -1;
}

char *
taskdir_reason(int err)
{
	char *s;

	switch (err) {
	case ELOOP:
		return xstrdup("a symbolic link (or a path through one)");
	case EXDEV:
		return xstrdup("leads outside the task folder or across a mount");
	case ENOTDIR:
		return xstrdup("not a directory");
	default:
		xasprintf(&s, "cannot open: %s", strerror(err));
		return s;
	}
}

const char *
taskdir_type_name(mode_t mode)
{
	if (S_ISREG(mode))
		return "a regular file";
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISLNK(mode))
		return "a symbolic link";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	if (S_ISSOCK(mode))
		return "a socket";
	return "not a regular file";
}

int
taskdir_name_ok(const char *name)
{
	size_t i, len = strlen(name);

	if (len == 0 || len > 128 || name[0] == '.')
		return 0;
	for (i = 0; i < len; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/* Why st is not an artifact we read (allocated), or NULL when it is one. */
static char *
taskdir_check(const struct stat *st, off_t max, const char *max_key)
{
	char *s;

	if (!S_ISREG(st->st_mode))
		return xstrdup(taskdir_type_name(st->st_mode));
	if (st->st_nlink != 1) {
		xasprintf(&s, "a hard link (%ju links to the file)", (uintmax_t)st->st_nlink);
		return s;
	}
	if (st->st_size > max) {
		xasprintf(&s, "%jd bytes, over %s (%jd)", (intmax_t)st->st_size, max_key,
		    (intmax_t)max);
		return s;
	}
	return NULL;
}

int
taskdir_artifact_open(int dirfd, const char *name, off_t max, const char *max_key, off_t *size,
    char **why)
{
	struct stat before, st;
	int fd;

	*why = NULL;
	if (!taskdir_name_ok(name)) {
		*why = xstrdup("not a plain file name (letters, digits, '.', '_', '-')");
		return -1;
	}
	/* Look before opening: a FIFO would block open, a device would be opened. */
	if (fstatat(dirfd, name, &before, AT_SYMLINK_NOFOLLOW) != 0) {
		if (errno != ENOENT)
			*why = taskdir_reason(errno);
		return -1;
	}
	if ((*why = taskdir_check(&before, max, max_key)) != NULL)
		return -1;
	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT)
			*why = taskdir_reason(errno);
		return -1;
	}
	/* The descriptor is what counts: the name may have been swapped meanwhile. */
	if (fstat(fd, &st) != 0) {
		*why = taskdir_reason(errno);
		close(fd);
		return -1;
	}
	if ((*why = taskdir_check(&st, max, max_key)) != NULL) {
		close(fd);
		return -1;
	}
	*size = st.st_size;
	return fd;
}

/* Copy len bytes at off of in to the end of out; 0 or -1 with errno. */
static int
taskdir_copy(int in, off_t off, off_t len, int out)
{
	char buf[65536];
	ssize_t n, w;
	size_t want, done;

	while (len > 0) {
		want = len > (off_t)sizeof buf ? sizeof buf : (size_t)len;
		if ((n = pread(in, buf, want, off)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;	/* shorter than it was: what there is */
		for (done = 0; done < (size_t)n; done += (size_t)w) {
			if ((w = write(out, buf + done, (size_t)n - done)) < 0) {
				if (errno == EINTR) {
					w = 0;
					continue;
				}
				return -1;
			}
		}
		off += n;
		len -= n;
	}
	return 0;
}

int
taskdir_log_cap(int fd, off_t size, off_t max, const char *tmpdir, off_t *newsize, char **cause)
{
	char marker[256];
	off_t head, tail, cut;
	struct stat st;
	int out, n;

	if (size <= max)
		return -1;
	/* The marker's length depends on the count cut: bound it with size. */
	n = snprintf(marker, sizeof marker, "\n[paia-gateway: %jd bytes cut from the middle of "
	    "this log (%jd bytes); storage.max_log_bytes is %jd]\n", (intmax_t)size, (intmax_t)size,
	    (intmax_t)max);
	head = max > n ? (max - n) / 2 : 0;
	tail = max > n ? max - n - head : 0;
	cut = size - head - tail;
	n = snprintf(marker, sizeof marker, "\n[paia-gateway: %jd bytes cut from the middle of "
	    "this log (%jd bytes); storage.max_log_bytes is %jd]\n", (intmax_t)cut, (intmax_t)size,
	    (intmax_t)max);
	/* A file of the gateway's own, with no name: nothing of it lingers. */
	out = open(tmpdir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (out < 0)
		out = memfd_create("paia-log", MFD_CLOEXEC);
	if (out < 0) {
		xasprintf(cause, "a temporary file for the capped log: %s", strerror(errno));
		return -1;
	}
	if (taskdir_copy(fd, 0, head, out) != 0 || write(out, marker, (size_t)n) != n ||
	    taskdir_copy(fd, size - tail, tail, out) != 0 || fstat(out, &st) != 0) {
		xasprintf(cause, "writing the capped log: %s", strerror(errno));
		close(out);
		return -1;
	}
	*newsize = st.st_size;
	return out;
}

int
taskdir_mkdir(int dirfd, const char *name, mode_t mode, uid_t uid, gid_t gid, char **cause)
{
	struct stat st;
	int fd;

	/*
	 * Made now, in a folder only the gateway writes (the state folder's
	 * tasks/, a task folder): it is ours, a directory. Only the mode
	 * (if the umask took bits) and the owner are left: two calls at most.
	 */
	if (mkdirat(dirfd, name, mode) == 0) {
		if (util_mode_needs_chmod(mode) && fchmodat(dirfd, name, mode, 0) != 0) {
			xasprintf(cause, "chmod %s: %s", name, strerror(errno));
			return -1;
		}
		if ((uid != (uid_t)-1 || gid != (gid_t)-1) &&
		    fchownat(dirfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) != 0) {
			xasprintf(cause, "chown %s to %ld:%ld: %s", name, (long)uid, (long)gid,
			    strerror(errno));
			return -1;
		}
		return 0;
	}
	if (errno != EEXIST) {
		xasprintf(cause, "mkdir %s: %s", name, strerror(errno));
		return -1;
	}
	/* What is there now must be a directory (not a link made meanwhile). */
	if ((fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
	    fstat(fd, &st) != 0) {
		xasprintf(cause, "mkdir %s: %s", name, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (((uid != (uid_t)-1 && st.st_uid != uid) || (gid != (gid_t)-1 && st.st_gid != gid)) &&
	    fchown(fd, uid, gid) != 0) {
		xasprintf(cause, "chown %s to %ld:%ld: %s", name, (long)uid, (long)gid,
		    strerror(errno));
		close(fd);
		return -1;
	}
	if (fchmod(fd, mode) != 0) {
		xasprintf(cause, "chmod %s: %s", name, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

int
taskdir_create(int taskfd, const char *rel, mode_t mode, char **cause)
{
	int fd;

	fd = util_open_beneath(taskfd, rel, O_WRONLY | O_CREAT | O_EXCL | O_NOCTTY, mode);
	/* The mode exactly (the umask may have taken bits): ours, new, by its descriptor. */
	if (fd >= 0 && util_mode_needs_chmod(mode) && fchmod(fd, mode) != 0) {
		xasprintf(cause, "chmod %s: %s", rel, strerror(errno));
		close(fd);
		unlinkat(taskfd, rel, 0);
		return -1;
	}
	if (fd < 0) {
		if (errno == EEXIST)
			xasprintf(cause, "%s exists already", rel);
		else if (errno == ELOOP || errno == EXDEV) {
			char *why = taskdir_reason(errno);
			xasprintf(cause, "%s: %s", rel, why);
			free(why);
		} else
			xasprintf(cause, "%s: %s", rel, strerror(errno));
	}
	return fd;
}
