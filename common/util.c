/*
 * util.c: time, file and string helpers with no state of their own.
 *
 * The *_at and *_beneath file helpers work relative to a directory
 * descriptor and never follow a link below it: they are how the gateway
 * touches folders that user code has written (task folders). Only the
 * directory the caller names is trusted, nothing found inside it.
 */
#include "config.h"
#include "common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/openat2.h>

#include <pthread.h>
#include <signal.h>

#include <openssl/evp.h>

int64_t
util_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
util_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * FNV-1a of s continuing from h (UTIL_FNV1A_INIT to start), closed by a
 * separator so that "ab" then "c" differs from "a" then "bc".
 */
uint64_t
util_fnv1a(uint64_t h, const char *s)
{
	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return (h ^ 0xff) * 0x100000001b3ULL;
}

char *
util_time_fmt(int64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
	return buf;
}

int
util_mkdirs(const char *path, mode_t mode, char **cause)
{
	char *copy = xstrdup(path), *p;
	int rc = 0;

	for (p = copy + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;
		*p = '\0';
		if (mkdir(copy, mode) != 0 && errno != EEXIST) {
			xasprintf(cause, "mkdir %s: %s", copy, strerror(errno));
			rc = -1;
			break;
		}
		*p = saved;
		if (saved == '\0')
			break;
	}
	free(copy);
	return rc;
}

/* What a directory entry is, without following it; 0 with *mode, or -1. */
static int
util_entry_mode(int dirfd, const char *name, mode_t *mode)
{
	struct stat st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return -1;
	*mode = st.st_mode;
	return 0;
}

/* An entry as getdents64(2) returns it (glibc's wrapper is 2.30 and later). */
struct util_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

/*
 * Empty the directory dirfd (the top of a removal at depth 0). Below
 * UTIL_RMTREE_DEPTH levels a directory is not descended into but moved
 * up to the top (top) under a fresh name, so that a tree of any depth
 * goes with a bounded number of descriptors; the top's loop meets it
 * again. Entries are opened and removed relative to their parent's
 * descriptor, so a rename racing us cannot lead the walk outside.
 *
 * The entries are read with getdents64 on dirfd itself into a buffer on
 * the stack (opendir's dup, fcntl and rewind cost three calls a folder):
 * dirfd must be freshly opened (at offset 0); a second pass of the top
 * seeks back to 0 first.
 */
#define UTIL_RMTREE_DEPTH 16
static int
util_rmtree_dir(int top, int dirfd, int depth, unsigned long *moved, int *err)
{
	uint64_t buf[512];	/* 4 KiB, aligned for the entries; 16 levels at most */
	struct util_dirent64 *de;
	char fresh[64];
	mode_t mode;
	unsigned long before;
	long n, off;
	int sub, rc = 0, passes;

	/* Each pass of the top takes UTIL_RMTREE_DEPTH levels off the deepest branch. */
	for (passes = 0; passes < 4096; passes++) {
		before = *moved;
		if (passes > 0 && lseek(dirfd, 0, SEEK_SET) != 0) {
			*err = errno;
			return -1;
		}
		for (;;) {
			if ((n = syscall(SYS_getdents64, dirfd, buf, sizeof buf)) <= 0) {
				if (n < 0) {
					*err = errno;
					rc = -1;
				}
				break;
			}
			for (off = 0; off < n; off += de->d_reclen) {
				de = (struct util_dirent64 *)((char *)buf + off);
				if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
					continue;
				/*
				 * A folder by its d_type goes straight to the walk (the
				 * open below refuses anything else put there meanwhile);
				 * the rest, or a file system without d_type, is unlinked
				 * first.
				 */
				if (de->d_type != DT_DIR) {
					if (unlinkat(dirfd, de->d_name, 0) == 0 || errno == ENOENT)
						continue;
					if (errno != EISDIR && errno != EPERM) {
						*err = errno;
						rc = -1;
						continue;
					}
					if (util_entry_mode(dirfd, de->d_name, &mode) != 0 ||
					    !S_ISDIR(mode)) {
						*err = errno != 0 ? errno : EPERM;
						rc = -1;
						continue;
					}
				}
				if (depth >= UTIL_RMTREE_DEPTH) {
					snprintf(fresh, sizeof fresh, ".paia-rm-%ld-%lu",
					    (long)getpid(), ++*moved);
					if (renameat(dirfd, de->d_name, top, fresh) != 0) {
						*err = errno;
						rc = -1;
					}
					continue;
				}
				sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
				    O_CLOEXEC);
				/* Not a folder after all (swapped since it was read): unlink it. */
				if (sub < 0 && (errno == ELOOP || errno == ENOTDIR) &&
				    (unlinkat(dirfd, de->d_name, 0) == 0 || errno == ENOENT))
					continue;
				if (sub < 0) {
					*err = errno;
					rc = -1;
					continue;
				}
				if (util_rmtree_dir(top, sub, depth + 1, moved, err) != 0)
					rc = -1;
				close(sub);
				if (unlinkat(dirfd, de->d_name, AT_REMOVEDIR) != 0 && errno != ENOENT) {
					*err = errno;
					rc = -1;
				}
			}
		}
		/* Only the top is read again: what was moved up lands there. */
		if (*moved == before || depth > 0 || rc != 0)
			break;
	}
	return rc;
}

int
util_rmtree_at(int dirfd, const char *name, char **cause)
{
	unsigned long moved = 0;
	mode_t mode;
	int fd, err = 0, rc;

	if (util_entry_mode(dirfd, name, &mode) != 0) {
		if (errno == ENOENT)
			return 0;
		err = errno;
		goto fail;
	}
	if (!S_ISDIR(mode)) {
		if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
			return 0;
		err = errno;
		goto fail;
	}
	if ((fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		err = errno;
		goto fail;
	}
	rc = util_rmtree_dir(fd, fd, 0, &moved, &err);
	close(fd);
	if (unlinkat(dirfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT) {
		if (rc == 0)
			err = errno;
		goto fail;
	}
	if (rc == 0)
		return 0;
fail:
	if (cause != NULL)
		xasprintf(cause, "removing %s: %s", name, strerror(err));
	errno = err;
	return -1;
}

int
util_rmtree(const char *path)
{
	char *copy = xstrdup(path), *slash, *name;
	const char *parent;
	int dirfd, rc;

	/* The parent is trusted (the caller named it); below it nothing is. */
	while (strlen(copy) > 1 && copy[strlen(copy) - 1] == '/')
		copy[strlen(copy) - 1] = '\0';
	if ((slash = strrchr(copy, '/')) == NULL) {
		parent = ".";
		name = copy;
	} else if (slash == copy) {
		parent = "/";
		name = slash + 1;
	} else {
		*slash = '\0';
		parent = copy;
		name = slash + 1;
	}
	if (*name == '\0' || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
		free(copy);
		errno = EINVAL;
		return -1;
	}
	if ((dirfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		rc = errno == ENOENT ? 0 : -1;
		free(copy);
		return rc;
	}
	rc = util_rmtree_at(dirfd, name, NULL);
	close(dirfd);
	free(copy);
	return rc;
}

/* 0: openat2 is tried; 1: it is missing (ENOSYS) or a test turned it off. */
static int util_no_openat2;

static int util_umask_known;
static mode_t util_umask_bits;

void
util_umask_note(int known)
{
	mode_t m;

	if ((util_umask_known = known)) {
		m = umask(0);
		umask(m);
		util_umask_bits = m;
	}
}

int
util_mode_needs_chmod(mode_t mode)
{
	return !util_umask_known || (mode & util_umask_bits) != 0;
}

void
util_open_beneath_fallback(int on)
{
	util_no_openat2 = on;
}

/* The per-component walk: each directory opened with O_NOFOLLOW from its parent. */
static int
util_open_walk(int dirfd, const char *path, int flags, mode_t mode)
{
	char *copy = xstrdup(path), *comp, *next, *save = NULL;
	struct stat root, st;
	int cur = dirfd, fd, err;
	mode_t m;

	if (fstat(dirfd, &root) != 0)
		goto fail;
	comp = strtok_r(copy, "/", &save);
	for (;;) {
		if (comp == NULL) {
			errno = EINVAL;
			goto fail;
		}
		next = strtok_r(NULL, "/", &save);
		if (strcmp(comp, ".") == 0) {
			if (next == NULL) {
				errno = EINVAL;
				goto fail;
			}
			comp = next;
			continue;
		}
		if (next == NULL)
			break;
		fd = openat(cur, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			/* O_PATH|O_NOFOLLOW names a link ENOTDIR: say what it is. */
			if (errno == ENOTDIR && util_entry_mode(cur, comp, &m) == 0 && S_ISLNK(m))
				errno = ELOOP;
			goto fail;
		}
		if (cur != dirfd)
			close(cur);
		cur = fd;
		if (fstat(cur, &st) != 0)
			goto fail;
		if (st.st_dev != root.st_dev) {
			errno = EXDEV;
			goto fail;
		}
		comp = next;
	}
	if ((fd = openat(cur, comp, flags | O_NOFOLLOW | O_CLOEXEC, mode)) < 0)
		goto fail;
	if (fstat(fd, &st) != 0 || st.st_dev != root.st_dev) {
		err = st.st_dev != root.st_dev ? EXDEV : errno;
		close(fd);
		errno = err;
		goto fail;
	}
	if (cur != dirfd)
		close(cur);
	free(copy);
	return fd;
fail:
	err = errno;
	if (cur != dirfd)
		close(cur);
	free(copy);
	errno = err;
	return -1;
}

int
util_open_beneath(int dirfd, const char *path, int flags, mode_t mode)
{
	struct open_how how;
	const char *p;
	size_t n;
	mode_t m;
	int fd;

	/* Refused before any lookup, the same with or without openat2. */
	if (*path == '/' || *path == '\0') {
		errno = EXDEV;
		return -1;
	}
	for (p = path; *p != '\0'; p += n + (p[n] == '/')) {
		n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			errno = EXDEV;
			return -1;
		}
	}
	fd = -1;
	errno = ENOSYS;
	if (!util_no_openat2) {
		memset(&how, 0, sizeof how);
		how.flags = (uint64_t)(flags | O_NOFOLLOW | O_CLOEXEC);
		how.mode = (flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE ? mode : 0;
		how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
		    RESOLVE_NO_XDEV;
		fd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
		if (fd < 0 && errno == ENOSYS)
			util_no_openat2 = 1;
	}
	if (fd < 0 && errno == ENOSYS)
		fd = util_open_walk(dirfd, path, flags, mode);
	/* O_DIRECTORY | O_NOFOLLOW names a final link ENOTDIR: say it is a link. */
	if (fd < 0 && errno == ENOTDIR && (flags & O_DIRECTORY) != 0 &&
	    util_entry_mode(dirfd, path, &m) == 0 && S_ISLNK(m))
		errno = ELOOP;
	return fd;
}

/* Disk use (allocated blocks) of a tree, below depth levels, links not followed. */
static uint64_t
util_du_dir(int dirfd, int depth)
{
	struct dirent *de;
	struct stat st;
	uint64_t sum = 0;
	DIR *d;
	int fd, sub;

	if ((fd = dup(dirfd)) < 0)
		return 0;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			continue;
		sum += (uint64_t)st.st_blocks * 512;
		if (!S_ISDIR(st.st_mode) || depth >= UTIL_RMTREE_DEPTH * 4)
			continue;
		sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub >= 0) {
			sum += util_du_dir(sub, depth + 1);
			close(sub);
		}
	}
	closedir(d);
	return sum;
}

uint64_t
util_du_at(int dirfd, const char *name)
{
	struct stat st;
	uint64_t sum;
	int fd;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return 0;
	sum = (uint64_t)st.st_blocks * 512;
	if (!S_ISDIR(st.st_mode))
		return sum;
	if ((fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return sum;
	sum += util_du_dir(fd, 1);
	close(fd);
	return sum;
}

int
util_utf8_valid(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, n, k;
	uint32_t cp;

	while (i < len) {
		unsigned char c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else
			return 0;
		if (len - i - 1 < n)
			return 0;
		for (k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += n + 1;
	}
	return 1;
}

char *
util_base64(const unsigned char *in, size_t len)
{
	static const char tbl[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out = xmalloc((len + 2) / 3 * 4 + 1), *o = out;
	size_t i;

	for (i = 0; i + 2 < len; i += 3) {
		*o++ = tbl[in[i] >> 2];
		*o++ = tbl[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
		*o++ = tbl[((in[i + 1] & 15) << 2) | (in[i + 2] >> 6)];
		*o++ = tbl[in[i + 2] & 63];
	}
	if (i < len) {
		*o++ = tbl[in[i] >> 2];
		if (i + 1 < len) {
			*o++ = tbl[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
			*o++ = tbl[(in[i + 1] & 15) << 2];
		} else {
			*o++ = tbl[(in[i] & 3) << 4];
			*o++ = '=';
		}
		*o++ = '=';
	}
	*o = '\0';
	return out;
}

unsigned char *
util_base64_decode(const char *in, size_t *lenp)
{
	size_t n = strlen(in), i, k = 0;
	unsigned char *out;
	unsigned int acc = 0;
	int bits = 0, v, pad = 0;

	if (n % 4 != 0)
		return NULL;
	out = xmalloc(n / 4 * 3 + 1);
	for (i = 0; i < n; i++) {
		char c = in[i];

		if (c == '=') {
			/* Only at the end, at most two, and what they stand for is zero. */
			if (i < n - 2 || (pad == 0 && i == n - 2 && in[n - 1] != '='))
				goto bad;
			pad++;
			continue;
		}
		if (pad > 0)
			goto bad;
		v = c >= 'A' && c <= 'Z' ? c - 'A' : c >= 'a' && c <= 'z' ? c - 'a' + 26 :
		    c >= '0' && c <= '9' ? c - '0' + 52 : c == '+' ? 62 : c == '/' ? 63 : -1;
		if (v < 0)
			goto bad;
		acc = (acc << 6) | (unsigned int)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[k++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (acc != 0)
		goto bad;
	*lenp = k;
	return out;
bad:
	free(out);
	return NULL;
}

int
util_sha256_fd(int fd, char out[65], char **cause)
{
	unsigned char buf[65536], md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	EVP_MD_CTX *ctx;
	off_t off = 0;
	ssize_t n;
	int rc = -1;

	ctx = EVP_MD_CTX_new();
	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		xasprintf(cause, "sha256: cannot initialise digest");
		goto out;
	}
	/* pread: the descriptor's offset is the caller's. */
	while ((n = pread(fd, buf, sizeof buf, off)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			xasprintf(cause, "read: %s", strerror(errno));
			goto out;
		}
		EVP_DigestUpdate(ctx, buf, (size_t)n);
		off += n;
	}
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	for (i = 0; i < mdlen && i < 32; i++)
		sprintf(out + i * 2, "%02x", md[i]);
	out[64] = '\0';
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	return rc;
}

int
util_sha256_file(const char *path, char out[65], char **cause)
{
	char *why = NULL;
	int fd, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		xasprintf(cause, "open %s: %s", path, strerror(errno));
		return -1;
	}
	if ((rc = util_sha256_fd(fd, out, &why)) != 0) {
		xasprintf(cause, "%s: %s", path, why);
		free(why);
	}
	close(fd);
	return rc;
}

char *
util_exe_dir(void)
{
	char buf[PATH_MAX], *slash;
	ssize_t n;

	if ((n = readlink("/proc/self/exe", buf, sizeof buf - 1)) <= 0)
		return xstrdup(".");
	buf[n] = '\0';
	if ((slash = strrchr(buf, '/')) != NULL)
		*slash = '\0';
	return xstrdup(buf);
}

off_t
util_file_size(const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
		return -1;
	return st.st_size;
}

char *
util_read_fd(int fd, size_t max, size_t *lenp, char **cause)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	ssize_t n;

	for (;;) {
		if (len + 4096 + 1 > cap) {
			cap = cap == 0 ? 8192 : cap * 2;
			buf = xrealloc(buf, cap);
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			xasprintf(cause, "read: %s", strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max) {
			xasprintf(cause, "larger than %zu bytes", max);
			goto fail;
		}
	}
	if (buf == NULL)
		buf = xmalloc(1);
	buf[len] = '\0';
	if (lenp != NULL)
		*lenp = len;
	return buf;
fail:
	free(buf);
	return NULL;
}

char *
util_read_file(const char *path, size_t max, size_t *lenp, char **cause)
{
	char *buf, *why = NULL;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		xasprintf(cause, "open %s: %s", path, strerror(errno));
		return NULL;
	}
	if ((buf = util_read_fd(fd, max, lenp, &why)) == NULL) {
		xasprintf(cause, "%s: %s", path, why);
		free(why);
	}
	close(fd);
	return buf;
}

int
util_write_all(int fd, const void *p, size_t len)
{
	const char *b = p;
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, b, len)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

int
util_write_file(const char *path, const char *data, size_t len, mode_t mode, char **cause)
{
	char *tmp;
	int fd;

	xasprintf(&tmp, "%s.tmp.%ld", path, (long)getpid());
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)) < 0) {
		xasprintf(cause, "open %s: %s", tmp, strerror(errno));
		free(tmp);
		return -1;
	}
	if (util_write_all(fd, data, len) != 0) {
		xasprintf(cause, "write %s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		free(tmp);
		return -1;
	}
	close(fd);
	if (rename(tmp, path) != 0) {
		xasprintf(cause, "rename %s: %s", path, strerror(errno));
		unlink(tmp);
		free(tmp);
		return -1;
	}
	free(tmp);
	return 0;
}

int
util_parse_int(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;

	if (s == NULL || (*s != '-' && (*s < '0' || *s > '9')))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int
util_parse_bool(const char *s, int *out)
{
	static const char *yes[] = { "true", "yes", "on", "1" };
	static const char *no[] = { "false", "no", "off", "0" };
	size_t i;

	for (i = 0; i < nitems(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

void
util_signals_block(struct util_sigmask *old)
{
	sigset_t all;

	_Static_assert(sizeof(struct util_sigmask) >= sizeof(sigset_t), "sigset_t fits");
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, (sigset_t *)(void *)old);
}

void
util_signals_restore(const struct util_sigmask *old)
{
	pthread_sigmask(SIG_SETMASK, (const sigset_t *)(const void *)old, NULL);
}

char *
util_state_dir_default(int embedded)
{
	const char *tmp = getenv("TMPDIR");
	char *s;

	if (!embedded)
		return xstrdup("/var/lib/paia");
	xasprintf(&s, "%s/paia-%ld", tmp != NULL && *tmp != '\0' ? tmp : "/tmp", (long)getuid());
	return s;
}

const char *
util_find_control(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return s;
	return NULL;
}

char *
util_cut(const char *s, size_t max)
{
	size_t n = strlen(s);
	char *out;

	if (n <= max)
		return xstrdup(s);
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;	/* cut before a character, not inside it */
	xasprintf(&out, "%.*s...", (int)n, s);
	return out;
}

int
util_time_parse(const char *s, int64_t *ms)
{
	struct tm tm;
	int y, mo, d, h, mi, sec, n = 0, oh, om, sign = 1;
	int64_t frac = 0, scale = 100, off = 0;
	const char *p;
	time_t t;

	if (s == NULL)
		return -1;
	if (sscanf(s, "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 ||
	    n == 0)
		return -1;
	p = s + n;
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++) {
			frac += (*p - '0') * scale;
			scale /= 10;
		}
	}
	if (*p == 'Z' || *p == 'z')
		p++;
	else if (*p == '+' || *p == '-') {
		sign = *p == '-' ? -1 : 1;
		if (sscanf(p + 1, "%2d:%2d", &oh, &om) != 2 || strlen(p) != 6)
			return -1;
		off = sign * ((int64_t)oh * 3600 + (int64_t)om * 60) * 1000;
		p += 6;
	} else
		return -1;
	if (*p != '\0')
		return -1;
	memset(&tm, 0, sizeof tm);
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	if ((t = timegm(&tm)) == (time_t)-1)
		return -1;
	*ms = (int64_t)t * 1000 + frac - off;
	return 0;
}

int
util_nofile_raise(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return -1;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			return -1;
	}
	return (int)(rl.rlim_cur > INT_MAX ? INT_MAX : rl.rlim_cur);
}

/* The pid written in a lock file, or 0 when it holds none. */
static pid_t
util_lock_holder(int fd)
{
	char buf[32];
	long long pid;
	ssize_t n;

	if ((n = pread(fd, buf, sizeof buf - 1, 0)) <= 0)
		return 0;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if (util_parse_int(buf, 1, INT32_MAX, &pid) != 0)
		return 0;
	return (pid_t)pid;
}

int
util_lock_file(const char *path, pid_t *holder, char **cause)
{
	struct stat fsb, psb;
	char buf[32];
	int fd, tries, n;

	*holder = 0;
	for (tries = 0; tries < 10; tries++) {
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0644);
		if (fd < 0) {
			xasprintf(cause, "lock file %s: %s", path, strerror(errno));
			return -1;
		}
		if (fstat(fd, &fsb) != 0 || !S_ISREG(fsb.st_mode)) {
			xasprintf(cause, "lock file %s: not a regular file", path);
			close(fd);
			return -1;
		}
		if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
			if (errno == EWOULDBLOCK) {
				*holder = util_lock_holder(fd);
				if (*holder > 0)
					xasprintf(cause, "%s is held by process %ld", path, (long)*holder);
				else
					xasprintf(cause, "%s is held by another process", path);
			} else
				xasprintf(cause, "lock file %s: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
		/*
		 * A holder removes the file as it exits: the one locked must
		 * still be the one at path, or a third process could create
		 * and lock a new file beside ours.
		 */
		if (stat(path, &psb) == 0 && psb.st_dev == fsb.st_dev && psb.st_ino == fsb.st_ino)
			break;
		close(fd);
		fd = -1;
	}
	if (fd < 0) {
		xasprintf(cause, "lock file %s: replaced while being locked, again and again", path);
		return -1;
	}
	n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
		xasprintf(cause, "lock file %s: %s", path, strerror(errno));
		util_unlock_file(fd, path);
		return -1;
	}
	return fd;
}

void
util_unlock_file(int fd, const char *path)
{
	struct stat fsb, psb;

	if (fd < 0)
		return;
	/* Removed while still held, and only if it is still ours. */
	if (fstat(fd, &fsb) == 0 && lstat(path, &psb) == 0 && psb.st_dev == fsb.st_dev &&
	    psb.st_ino == fsb.st_ino)
		unlink(path);
	close(fd);
}

char *
util_url_encode(const char *s, int keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t len = strlen(s), o = 0, i;
	char *out = xmalloc(len * 3 + 1);

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/'))
			out[o++] = (char)c;
		else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return out;
}

char *
util_which(const char *name, char **cause)
{
	const char *path = getenv("PATH");
	char *copy, *dir, *save = NULL, *cand = NULL, *real = NULL;
	struct stat sb;

	if (*name == '\0') {
		xasprintf(cause, "an empty command");
		return NULL;
	}
	if (strchr(name, '/') != NULL)
		cand = xstrdup(name);
	else {
		copy = xstrdup(path != NULL && *path != '\0' ? path : "/usr/local/bin:/usr/bin:/bin");
		for (dir = strtok_r(copy, ":", &save); dir != NULL; dir = strtok_r(NULL, ":", &save)) {
			xasprintf(&cand, "%s/%s", dir, name);
			if (*dir == '/' && stat(cand, &sb) == 0 && S_ISREG(sb.st_mode) &&
			    access(cand, X_OK) == 0)
				break;
			free(cand);
			cand = NULL;
		}
		free(copy);
		if (cand == NULL) {
			xasprintf(cause, "%s: not found on PATH", name);
			return NULL;
		}
	}
	if (stat(cand, &sb) != 0 || (real = realpath(cand, NULL)) == NULL)
		xasprintf(cause, "%s: %s", cand, strerror(errno));
	else if (!S_ISREG(sb.st_mode) || access(real, X_OK) != 0) {
		xasprintf(cause, "%s: not an executable file", cand);
		free(real);
		real = NULL;
	}
	free(cand);
	return real;
}
