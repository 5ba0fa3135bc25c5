/*
 * storage-file.c: file:// URLs, below storage.file_root, on the attempt
 * and retry machinery of storage.c. A local copy needs no libcurl, and
 * doing it here lets us say what went wrong: curl's file:// "downloads"
 * a directory as 0 bytes, reads a FIFO until someone writes, and says
 * "Failed sending data to the peer" for a full disk.
 *
 * A download opens the source below the root's descriptor (openat2
 * RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS: a link may point elsewhere
 * below the root, never out of it), checks it is a regular file within
 * storage.max_download_bytes, and copies it into the transfer's
 * descriptor (copy_file_range: no trip through user space; read and
 * write where the kernel cannot). An upload copies the first size bytes
 * of its descriptor into a new temporary file next to the destination
 * (O_EXCL) and renames it into place, so a reader never sees half a
 * result; its folder is opened beneath the root the same way, and made
 * below the deepest folder known to be there (made lately), so only the
 * missing folders cost a call and none a failing one. Either copies at
 * most STORAGE_FILE_STEP bytes per turn of the loop, so a 2 GiB video
 * does not stall the gateway, and stops at the transfer's deadline.
 *
 * No realpath on the way: a path below the root by its letters is opened
 * beneath the root's descriptor. Only a path the kernel says leads out
 * (EXDEV: an absolute link, or one through ".."), or one spelled through
 * another name of the root, or a kernel without openat2, takes the slow
 * way: resolved with realpath, checked against the root, then opened.
 *
 * Errors name the file and errno's words ("No space left on device");
 * a source that is missing, not a regular file or too large is
 * permanent, an error reading what is sent is STORAGE_LOCAL. The
 * destination of an upload is the storage's: a folder that cannot be
 * made or written (read-only, full, gone, not a folder: a file system
 * mounted there is away) may come back, so that is STORAGE_TRANSIENT,
 * and the upload waits for it (uploads.c); only a name the file system
 * will never take is permanent.
 */
#include "config.h"
#include "storage-int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <event2/event.h>
#include <linux/openat2.h>

#define STORAGE_FILE_STEP (4 * 1024 * 1024)

struct storage_file {
	int put;
	int src;		/* get: the source; put: x->fd */
	int dst;		/* get: x->fd; put: the temporary file */
	int dirfd;		/* put: the destination's directory */
	char *name;		/* put: the destination's name in dirfd */
	char *tmp;		/* put: the temporary file's name in dirfd */
	off_t done;
	off_t total;		/* get: the source's size; put: x->size */
	int no_cfr;		/* get: copy_file_range refused; read and write */
	struct event *step;
};

static int
storage_file_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * %XX escapes are decoded (RFC 8089: a path with a space is
 * file:///a%20b); a '%' not followed by two hex digits stays as it is, so
 * an operator's raw path (a state folder with a '%') still works. The .
 * and .. check is on the decoded path.
 */
char *
storage_file_path(const char *url, char **cause)
{
	const char *p = url + strlen("file://");
	char *path, *o;
	size_t len;
	int hi, lo;

	if (strncmp(p, "localhost/", 10) == 0)
		p += 9;
	if (*p != '/') {
		xasprintf(cause, "file URL must be file:///absolute/path");
		return NULL;
	}
	if (strchr(p, '?') != NULL || strchr(p, '#') != NULL) {
		xasprintf(cause, "file URL must not contain ? or #");
		return NULL;
	}
	o = path = xmalloc(strlen(p) + 1);
	for (; *p != '\0'; p++) {
		if (*p == '%' && (hi = storage_file_hex(p[1])) >= 0 &&
		    (lo = storage_file_hex(p[2])) >= 0) {
			if ((*o++ = (char)(hi << 4 | lo)) == '\0') {
				xasprintf(cause, "file URL must not contain %%00");
				free(path);
				return NULL;
			}
			p += 2;
		} else
			*o++ = *p;
	}
	*o = '\0';
	len = strlen(path);
	if (strstr(path, "/../") != NULL || strstr(path, "/./") != NULL ||
	    (len >= 3 && strcmp(path + len - 3, "/..") == 0) ||
	    (len >= 2 && strcmp(path + len - 2, "/.") == 0)) {
		xasprintf(cause, "file URL must not contain . or .. segments");
		free(path);
		return NULL;
	}
	return path;
}

void
storage_file_free(struct storage_file *f)
{
	if (f == NULL)
		return;
	if (f->step != NULL)
		event_free(f->step);
	/* The transfer's own descriptor (x->fd) is the transfer's to close. */
	if (!f->put && f->src >= 0)
		close(f->src);
	if (f->put && f->dst >= 0)
		close(f->dst);
	if (f->tmp != NULL && f->dirfd >= 0)
		unlinkat(f->dirfd, f->tmp, 0);
	if (f->dirfd >= 0)
		close(f->dirfd);
	free(f->name);
	free(f->tmp);
	free(f);
}

/* The end of this attempt: tidy what it opened, then report or retry. */
static void
storage_file_end(struct storage_xfer *x, enum storage_result r, const char *msg)
{
	struct storage_file *f = x->file;
	char *final;

	x->file = NULL;
	storage_file_free(f);
	if (r == STORAGE_OK) {
		storage_finish(x, r, NULL);
		return;
	}
	if (!storage_retry(x, r, msg, &final)) {
		storage_finish(x, r, final);
		free(final);
	}
}

#define STORAGE_FILE_SENDING "reading the file to send"

/* Fail this attempt with "<url>: <what>: <errno's words>" (r by errno). */
static void
storage_file_fail(struct storage_xfer *x, const char *what, int err)
{
	enum storage_result r;
	char *msg;

	/*
	 * A source that is not there or not readable will not be on a retry;
	 * nor will a place that a link leads out of the root.
	 */
	if (err == EXDEV || (!x->put && (err == ENOENT || err == EACCES || err == ENOTDIR ||
	    err == ELOOP)))
		r = STORAGE_PERMANENT;
	else if (!x->put || strcmp(what, STORAGE_FILE_SENDING) == 0)
		r = STORAGE_LOCAL;
	else if (err == EINVAL || err == ENAMETOOLONG || err == EFBIG)
		r = STORAGE_PERMANENT;
	else
		r = STORAGE_TRANSIENT;
	if (err == EXDEV)
		xasprintf(&msg, "%s: %s: it leads outside storage.file_root (%s) through a link",
		    x->url, what, x->s->file_root);
	else
		xasprintf(&msg, "%s: %s: %s", x->url, what, strerror(err));
	storage_file_end(x, r, msg);
	free(msg);
}

/* openat2 beneath dirfd, no magic links; -1 with errno (ENOSYS: no openat2). */
static int
storage_file_beneath(int dirfd, const char *rel, int flags)
{
	struct open_how how;

	memset(&how, 0, sizeof how);
	how.flags = (uint64_t)flags | O_CLOEXEC;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
	return (int)syscall(SYS_openat2, dirfd, rel, &how, sizeof how);
}

/* Open a download's source below the root; -1 with errno. */
static int
storage_file_open_source(struct storage *s, const char *path)
{
	char real[PATH_MAX];
	size_t n = strlen(s->file_root);
	const char *rel = storage_file_rel(s, path);
	int fd, flags = O_RDONLY | O_NONBLOCK | O_NOCTTY;

	if (rel != NULL && ((fd = storage_file_beneath(s->root_fd, rel, flags)) >= 0 ||
	    (errno != EXDEV && errno != ENOSYS)))
		return fd;
	/* The slow way: an absolute link below the root may still stay below it. */
	if (realpath(path, real) == NULL)
		return -1;
	if (strncmp(real, s->file_root, n) != 0 || (real[n] != '/' && real[n] != '\0')) {
		errno = EXDEV;
		return -1;
	}
	rel = real[n] == '/' ? real + n + 1 : ".";
	if ((fd = storage_file_beneath(s->root_fd, rel, flags)) >= 0 || errno != ENOSYS)
		return fd;
	/* No openat2: realpath resolved every link; none may appear now. */
	return open(real, flags | O_NOFOLLOW | O_CLOEXEC);
}

/*
 * The folder rel below the root's descriptor, made as needed, deepest
 * first: one call when it exists, one more per missing level. An O_PATH
 * descriptor, or -1 with errno (EXDEV: a link leads out; ENOSYS).
 */
static int
storage_file_open_deep(int rootfd, const char *rel)
{
	const char *slash = strrchr(rel, '/'), *name = slash != NULL ? slash + 1 : rel;
	char *parent;
	int fd, pfd, err;

	if ((fd = storage_file_beneath(rootfd, rel, O_PATH | O_DIRECTORY)) >= 0 || errno != ENOENT)
		return fd;
	if (slash == NULL)
		pfd = rootfd;
	else {
		parent = xstrndup(rel, (size_t)(slash - rel));
		pfd = storage_file_open_deep(rootfd, parent);
		free(parent);
		if (pfd < 0)
			return -1;
	}
	if (mkdirat(pfd, name, 0755) != 0 && errno != EEXIST)
		fd = -1;
	else
		fd = storage_file_beneath(pfd, name, O_PATH | O_DIRECTORY);
	err = errno;
	if (pfd != rootfd)
		close(pfd);
	errno = err;
	return fd;
}

/*
 * How many leading bytes of rel name a folder that known names or holds:
 * whole components only ("a/b" of "a/b/c"; "a" of "a/x" when known is
 * "a/b"); 0 when none.
 */
static size_t
storage_file_common(const char *known, const char *rel)
{
	size_t i, last = 0;

	for (i = 0; known[i] != '\0' && known[i] == rel[i]; i++) {
		if (rel[i] == '/')
			last = i;
	}
	if (known[i] == '\0' && (rel[i] == '/' || rel[i] == '\0'))
		return i;
	return last;
}

/*
 * The folder rel below the root, made as needed: an O_PATH descriptor,
 * or -1 with errno (EXDEV: a link leads out; ENOSYS: no openat2).
 *
 * The folders made lately are remembered (s->dirs), so that the usual
 * upload costs no failing call: into a folder made before, one open; into
 * a new one (results/<task>/<attempt> next to results/<other task>/...),
 * the part known opened and each level below made first and opened
 * after (EEXIST: someone made it, open it all the same). Every open is
 * beneath the root's descriptor or a descriptor so opened, with the same
 * rules as the first lookup; what is remembered decides only the order
 * of the calls, and a folder gone meanwhile (ENOENT) takes the deepest
 * first way, which needs no memory.
 */
static int
storage_file_open_dir(struct storage *s, const char *rel)
{
	size_t i, n, best = 0, len = strlen(rel);
	const char *p, *end;
	char *part;
	int fd, pfd, err;

	for (i = 0; i < nitems(s->dirs) && s->dirs[i] != NULL && best < len; i++) {
		if ((n = storage_file_common(s->dirs[i], rel)) > best)
			best = n;
	}
	if (best == len) {
		if ((fd = storage_file_beneath(s->root_fd, rel, O_PATH | O_DIRECTORY)) >= 0 ||
		    errno != ENOENT)
			return fd;
		best = 0;
	}
	if (best == 0)
		fd = storage_file_open_deep(s->root_fd, rel);
	else {
		part = xstrndup(rel, best);
		pfd = storage_file_beneath(s->root_fd, part, O_PATH | O_DIRECTORY);
		free(part);
		if (pfd < 0)
			return errno == ENOENT ? storage_file_open_deep(s->root_fd, rel) : -1;
		for (p = rel + best; pfd >= 0; p = end) {
			while (*p == '/')
				p++;
			if (*p == '\0')
				break;
			if ((end = strchr(p, '/')) == NULL)
				end = p + strlen(p);
			part = xstrndup(p, (size_t)(end - p));
			if (mkdirat(pfd, part, 0755) != 0 && errno != EEXIST)
				fd = -1;
			else
				fd = storage_file_beneath(pfd, part, O_PATH | O_DIRECTORY);
			err = errno;
			close(pfd);
			free(part);
			errno = err;
			pfd = fd;
		}
		fd = pfd;
	}
	if (fd >= 0) {
		free(s->dirs[s->dirs_next]);
		s->dirs[s->dirs_next] = xstrdup(rel);
		s->dirs_next = (s->dirs_next + 1) % nitems(s->dirs);
	}
	return fd;
}

int
storage_open_local(struct storage *s, const char *url, char **cause)
{
	struct stat st;
	char *path;
	int fd;

	if (strncmp(url, "file://", 7) != 0) {
		xasprintf(cause, "not a local copy (%s storage)", strncmp(url, "s3://", 5) == 0 ?
		    "s3" : "http");
		return -1;
	}
	if (storage_check_url(s, url, cause) != 0 || (path = storage_file_path(url, cause)) == NULL)
		return -1;
	fd = storage_file_open_source(s, path);
	free(path);
	if (fd < 0) {
		xasprintf(cause, "the stored copy: %s", strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		xasprintf(cause, "the stored copy is not a regular file");
		close(fd);
		return -1;
	}
	return fd;
}

static void
storage_file_step_cb(evutil_socket_t fd, short what, void *arg)
{
	struct storage_xfer *x = arg;
	struct storage_file *f = x->file;
	char *buf = NULL, *msg;
	off_t left = STORAGE_FILE_STEP;
	ssize_t n, w;
	size_t want, off;
	struct timeval now = { 0, 0 };
	int eof = 0;

	if (storage_time_left(x) == 0) {
		msg = storage_timeout_msg(x, x->url);
		storage_file_end(x, STORAGE_TIMEOUT, msg);
		free(msg);
		return;
	}
	/* A download in the kernel (an upload is hashed as it goes: read and write). */
	while (!x->put && !f->no_cfr && !eof && left > 0 && f->done < f->total) {
		off_t in = f->done, out = f->done;

		want = f->total - f->done < left ? (size_t)(f->total - f->done) : (size_t)left;
		if ((n = copy_file_range(f->src, &in, f->dst, &out, want, 0)) < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EXDEV || errno == ENOSYS || errno == EINVAL ||
			    errno == EOPNOTSUPP || errno == EBADF) {
				f->no_cfr = 1;	/* the kernel cannot here: read and write */
				break;
			}
			storage_file_fail(x, "copying", errno);
			return;
		}
		if (n == 0) {
			eof = 1;
			break;
		}
		f->done += n;
		left -= n;
		if (f->done > x->s->max_download)
			break;
	}
	while (!eof && left > 0 && f->done < f->total && (x->put || f->done <= x->s->max_download)) {
		if (buf == NULL)
			buf = xmalloc(65536);
		want = f->total - f->done < 65536 ? (size_t)(f->total - f->done) : 65536;
		if ((n = pread(f->src, buf, want, f->done)) < 0) {
			if (errno == EINTR)
				continue;
			free(buf);
			storage_file_fail(x, x->put ? STORAGE_FILE_SENDING : "reading", errno);
			return;
		}
		if (n == 0) {
			eof = 1;
			break;
		}
		for (off = 0; off < (size_t)n; off += (size_t)w) {
			if ((w = pwrite(f->dst, buf + off, (size_t)n - off, f->done + (off_t)off)) < 0) {
				if (errno == EINTR) {
					w = 0;
					continue;
				}
				free(buf);
				storage_file_fail(x, x->put ? "writing" : "writing the download", errno);
				return;
			}
		}
		if (x->put)
			storage_hash_update(x, buf, (size_t)n);
		f->done += n;
		left -= n;
		if (!x->put && f->done > x->s->max_download)
			break;
	}
	free(buf);
	if (!x->put && f->done > x->s->max_download) {
		xasprintf(&msg, "%s is larger than storage.max_download_bytes (%lld)", x->url,
		    x->s->max_download);
		storage_file_end(x, STORAGE_PERMANENT, msg);
		free(msg);
		return;
	}
	if (!eof && left <= 0 && f->done < f->total) {
		evtimer_add(f->step, &now);	/* the rest on the next turn */
		return;
	}
	if (x->put && f->done < f->total) {
		xasprintf(&msg, "%s: the file became shorter while it was being sent", x->url);
		storage_file_end(x, STORAGE_PERMANENT, msg);
		free(msg);
		return;
	}
	if (x->put) {
		if (fsync(f->dst) != 0 || renameat(f->dirfd, f->tmp, f->dirfd, f->name) != 0) {
			storage_file_fail(x, "writing", errno);
			return;
		}
		free(f->tmp);
		f->tmp = NULL;
		storage_hash_final(x);
		x->s->bytes_out += (uint64_t)f->done;
	} else
		x->s->bytes_in += (uint64_t)f->done;
	x->bytes = f->done;
	storage_file_end(x, STORAGE_OK, NULL);
}

/* Open the destination's directory (made as needed) and a temporary file in it. */
static int
storage_file_open_dest(struct storage_xfer *x, const char *path, char **what)
{
	struct storage_file *f = x->file;
	char *dir = xstrdup(path), *slash = strrchr(dir, '/'), *cause = NULL;
	const char *rel;

	*slash = '\0';
	f->name = xstrdup(slash + 1);
	if (*f->name == '\0') {
		free(dir);
		*what = xstrdup("no file name");
		errno = EINVAL;
		return -1;
	}
	rel = storage_file_rel(x->s, *dir != '\0' ? dir : "/");
	if (rel == NULL || (f->dirfd = storage_file_open_dir(x->s, rel)) < 0) {
		if (rel != NULL && errno != EXDEV && errno != ENOSYS) {
			free(dir);
			*what = xstrdup("making its folder");
			return -1;
		}
		/* The slow way: resolved as far as it exists, below the root, then made. */
		if (!storage_file_resolves_below(x->s, *dir != '\0' ? dir : "/")) {
			free(dir);
			*what = xstrdup("its folder");
			errno = EXDEV;
			return -1;
		}
		if (util_mkdirs(*dir != '\0' ? dir : "/", 0755, &cause) != 0) {
			free(cause);
			*what = xstrdup("making its folder");
			free(dir);
			return -1;
		}
		f->dirfd = open(*dir != '\0' ? dir : "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	}
	free(dir);
	if (f->dirfd < 0) {
		*what = xstrdup("opening its folder");
		return -1;
	}
	if (x->s->pid == 0)
		x->s->pid = (long)getpid();	/* a system call each time otherwise */
	xasprintf(&f->tmp, ".%.200s.part-%ld-%lu", f->name, x->s->pid, ++x->s->nfiles);
	f->dst = openat(f->dirfd, f->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0644);
	if (f->dst < 0) {
		free(f->tmp);
		f->tmp = NULL;
		*what = xstrdup("creating");
		return -1;
	}
	return 0;
}

void
storage_file_attempt(struct storage_xfer *x)
{
	struct storage_file *f;
	struct timeval now = { 0, 0 };
	struct stat st;
	char *path, *cause = NULL, *what = NULL, *msg;
	int err;

	x->file = f = xcalloc(1, sizeof *f);
	f->put = x->put;
	f->src = f->dst = f->dirfd = -1;
	f->step = evtimer_new(x->s->base, storage_file_step_cb, x);
	if (storage_check_url(x->s, x->url, &cause) != 0 ||
	    (path = storage_file_path(x->url, &cause)) == NULL) {
		storage_file_end(x, STORAGE_PERMANENT, cause);
		free(cause);
		return;
	}
	if (x->put) {
		f->src = x->fd;
		f->total = x->size;
		err = storage_file_open_dest(x, path, &what) != 0 ? errno : 0;
		free(path);
		if (err != 0) {
			storage_file_fail(x, what, err);
			free(what);
			return;
		}
	} else {
		f->dst = x->fd;
		f->src = storage_file_open_source(x->s, path);
		free(path);
		if (f->src < 0) {
			storage_file_fail(x, "opening", errno);
			return;
		}
		if (fstat(f->src, &st) != 0) {
			storage_file_fail(x, "opening", errno);
			return;
		}
		if (!S_ISREG(st.st_mode)) {
			xasprintf(&msg, "%s: not a regular file (%s)", x->url,
			    taskdir_type_name(st.st_mode));
			storage_file_end(x, STORAGE_PERMANENT, msg);
			free(msg);
			return;
		}
		if (st.st_size > x->s->max_download) {
			xasprintf(&msg, "%s is larger than storage.max_download_bytes (%lld)", x->url,
			    x->s->max_download);
			storage_file_end(x, STORAGE_PERMANENT, msg);
			free(msg);
			return;
		}
		/* Read to the end, however long it has grown meanwhile (capped). */
		f->total = x->s->max_download + 1;
	}
	evtimer_add(f->step, &now);
}
