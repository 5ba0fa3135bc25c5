/*
 * test-taskdir.c: the gateway's hands in a task folder (gateway/taskdir.c)
 * and the descriptor-relative helpers under them (common/util.c:
 * util_open_beneath, util_rmtree_at, util_du_at), against what a hostile
 * game leaves: symbolic links (absolute, "../..", through a linked
 * directory), hard links, FIFOs, devices, directories, sparse and huge
 * files, deep trees. Every case runs twice: with openat2 and with the
 * per-component walk used where the kernel lacks it.
 */
#include "config.h"
#include "gateway.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cmocka.h>

/* A fresh folder: <tmp>/task with output/ and input/, and a secret beside it. */
struct fixture {
	char *top;		/* holds task/ and secret */
	char *task;
	char *secret;
	int taskfd;
	int outfd;
};

static void
mk(const char *path)
{
	if (mkdir(path, 0755) != 0)
		fail_msg("mkdir %s: %s", path, strerror(errno));
}

static void
put(const char *path, const char *text)
{
	char *cause = NULL;

	if (util_write_file(path, text, strlen(text), 0600, &cause) != 0)
		fail_msg("%s", cause);
}

static char *
at(const struct fixture *f, const char *rel)
{
	char *p;

	xasprintf(&p, "%s/%s", f->task, rel);
	return p;
}

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof *f);
	const char *tmp = getenv("TMPDIR");
	char *p;

	xasprintf(&f->top, "%s/paia-test-taskdir.XXXXXX", tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(f->top) == NULL)
		fail_msg("mkdtemp: %s", strerror(errno));
	xasprintf(&f->task, "%s/task", f->top);
	xasprintf(&f->secret, "%s/secret", f->top);
	mk(f->task);
	p = at(f, "output");
	mk(p);
	free(p);
	p = at(f, "input");
	mk(p);
	free(p);
	put(f->secret, "gateway secret\n");
	f->taskfd = open(f->task, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	f->outfd = open(f->task, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	close(f->outfd);
	p = at(f, "output");
	f->outfd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(p);
	assert_true(f->taskfd >= 0 && f->outfd >= 0);
	*state = f;
	return 0;
}

static int
setup_fallback(void **state)
{
	util_open_beneath_fallback(1);
	return setup(state);
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	util_open_beneath_fallback(0);
	close(f->taskfd);
	close(f->outfd);
	assert_int_equal(util_rmtree(f->top), 0);
	free(f->top);
	free(f->task);
	free(f->secret);
	free(f);
	return 0;
}

/* Open name of output/ as an artifact: the reason, or NULL with *fd. */
static char *
open_art(struct fixture *f, const char *name, off_t max, int *fdp, off_t *size)
{
	char *why = NULL;
	int fd;

	fd = taskdir_artifact_open(f->outfd, name, max, "storage.max_artifact_bytes", size, &why);
	if (fdp != NULL)
		*fdp = fd;
	else if (fd >= 0)
		close(fd);
	if (fd >= 0)
		assert_null(why);
	return why;
}

static void
assert_refused(struct fixture *f, const char *name, const char *reason)
{
	off_t size;
	char *why = open_art(f, name, 1 << 20, NULL, &size);

	if (why == NULL)
		fail_msg("%s: accepted", name);
	if (strstr(why, reason) == NULL)
		fail_msg("%s: \"%s\" does not say \"%s\"", name, why, reason);
	free(why);
}

static void
test_regular(void **state)
{
	struct fixture *f = *state;
	char *p = at(f, "output/video.mp4"), *why, *buf = NULL;
	off_t size = 0;
	size_t len;
	int fd;

	put(p, "frames");
	why = open_art(f, "video.mp4", 100, &fd, &size);
	assert_null(why);
	assert_int_equal(size, 6);
	/* The descriptor is read, whatever the name becomes afterwards. */
	assert_int_equal(unlink(p), 0);
	assert_int_equal(symlink(f->secret, p), 0);
	buf = util_read_fd(fd, 100, &len, &why);
	assert_string_equal(buf, "frames");
	free(buf);
	close(fd);
	free(p);
	/* Absent: no reason, nothing to refuse. */
	assert_null(open_art(f, "video.webm", 100, NULL, &size));
}

static void
test_links(void **state)
{
	struct fixture *f = *state;
	char *p, *rel;

	/* Absolute and relative symbolic links to the gateway's secret. */
	p = at(f, "output/video.mp4");
	assert_int_equal(symlink(f->secret, p), 0);
	free(p);
	assert_refused(f, "video.mp4", "a symbolic link");
	p = at(f, "output/log.txt");
	assert_int_equal(symlink("../../secret", p), 0);
	free(p);
	assert_refused(f, "log.txt", "a symbolic link");
	/* A link to a sibling task's input/. */
	xasprintf(&rel, "%s/other/input", f->top);
	assert_int_equal(util_mkdirs(rel, 0755, &p), 0);
	free(rel);
	xasprintf(&rel, "%s/other/input/program.py", f->top);
	put(rel, "someone else's program\n");
	free(rel);
	p = at(f, "output/video.webm");
	assert_int_equal(symlink("../../other/input/program.py", p), 0);
	free(p);
	assert_refused(f, "video.webm", "a symbolic link");
	/* A hard link to the gateway's file: two links, refused. */
	p = at(f, "output/result.json");
	assert_int_equal(link(f->secret, p), 0);
	free(p);
	assert_refused(f, "result.json", "a hard link (2 links");
}

static void
test_special_files(void **state)
{
	struct fixture *f = *state;
	char *p;
	off_t size;
	int fd;

	/* A FIFO is looked at, never opened: this returns at once. */
	p = at(f, "output/video.mp4");
	assert_int_equal(mkfifo(p, 0644), 0);
	free(p);
	assert_refused(f, "video.mp4", "a FIFO");
	p = at(f, "output/log.txt");
	mk(p);
	free(p);
	assert_refused(f, "log.txt", "a directory");
	/* A device (only root may make one). */
	p = at(f, "output/result.json");
	if (mknod(p, S_IFCHR | 0644, makedev(1, 3)) == 0)
		assert_refused(f, "result.json", "a character device");
	free(p);
	/* A sparse file "of" 100 GiB: refused on its size, nothing read. */
	p = at(f, "output/huge.mp4");
	fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	assert_int_equal(ftruncate(fd, (off_t)100 << 30), 0);
	close(fd);
	free(p);
	assert_refused(f, "huge.mp4", "107374182400 bytes, over storage.max_artifact_bytes (1048576)");
	/* Names that are not one plain component. */
	assert_refused(f, "../secret", "not a plain file name");
	assert_refused(f, "a/b", "not a plain file name");
	assert_refused(f, ".hidden", "not a plain file name");
	(void)size;
}

static void
test_output_linked(void **state)
{
	struct fixture *f = *state;
	char *p, *why = NULL, *elsewhere;
	int fd;

	/* output/ itself replaced by a link to a directory elsewhere. */
	xasprintf(&elsewhere, "%s/elsewhere", f->top);
	mk(elsewhere);
	p = at(f, "output");
	assert_int_equal(util_rmtree(p), 0);
	assert_int_equal(symlink(elsewhere, p), 0);
	free(p);
	fd = taskdir_open_sub(f->taskfd, "output", &why);
	assert_int_equal(fd, -1);
	assert_non_null(why);
	assert_non_null(strstr(why, "a symbolic link"));
	free(why);
	/* And a path through a linked directory below the folder. */
	why = NULL;
	p = at(f, "input/sub");
	assert_int_equal(symlink(elsewhere, p), 0);
	free(p);
	assert_int_equal(util_open_beneath(f->taskfd, "input/sub/x", O_RDONLY, 0), -1);
	assert_int_equal(errno, ELOOP);
	/* Absent: no reason. */
	fd = taskdir_open_sub(f->taskfd, "nothing", &why);
	assert_int_equal(fd, -1);
	assert_null(why);
	free(elsewhere);
}

static void
test_open_beneath(void **state)
{
	struct fixture *f = *state;
	char *p = at(f, "input/program.py");
	int fd;

	put(p, "x");
	free(p);
	fd = util_open_beneath(f->taskfd, "input/program.py", O_RDONLY, 0);
	assert_true(fd >= 0);
	close(fd);
	fd = util_open_beneath(f->taskfd, "./input//program.py", O_RDONLY, 0);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(util_open_beneath(f->taskfd, "input/../../secret", O_RDONLY, 0), -1);
	assert_int_equal(errno, EXDEV);
	assert_int_equal(util_open_beneath(f->taskfd, f->secret, O_RDONLY, 0), -1);
	assert_int_equal(errno, EXDEV);
	p = at(f, "input/link");
	assert_int_equal(symlink(f->secret, p), 0);
	free(p);
	assert_int_equal(util_open_beneath(f->taskfd, "input/link", O_RDONLY, 0), -1);
	assert_int_equal(errno, ELOOP);
}

static void
test_create(void **state)
{
	struct fixture *f = *state;
	char *p, *cause = NULL, *text;
	size_t len;
	int fd;

	fd = taskdir_create(f->taskfd, "input/program.py", 0644, &cause);
	assert_true(fd >= 0);
	close(fd);
	/* The mode exactly, whatever the umask (the game runs what input/ holds). */
	{
		mode_t old = umask(077);
		struct stat st;

		fd = taskdir_create(f->taskfd, "input/run.sh", 0755, &cause);
		umask(old);
		assert_true(fd >= 0);
		assert_int_equal(fstat(fd, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0755);
		close(fd);
	}
	/* Never twice, never through a link planted at the name. */
	assert_int_equal(taskdir_create(f->taskfd, "input/program.py", 0644, &cause), -1);
	assert_non_null(strstr(cause, "exists already"));
	free(cause);
	p = at(f, "input/model.bin");
	assert_int_equal(symlink(f->secret, p), 0);
	free(p);
	assert_int_equal(taskdir_create(f->taskfd, "input/model.bin", 0644, &cause), -1);
	free(cause);
	text = util_read_file(f->secret, 100, &len, &cause);
	assert_string_equal(text, "gateway secret\n");
	free(text);
	/* input/ itself a link: nothing is created where it points. */
	p = at(f, "input");
	assert_int_equal(util_rmtree(p), 0);
	assert_int_equal(symlink(f->top, p), 0);
	free(p);
	assert_int_equal(taskdir_create(f->taskfd, "input/planted", 0644, &cause), -1);
	assert_non_null(strstr(cause, "symbolic link"));
	free(cause);
	xasprintf(&p, "%s/planted", f->top);
	assert_int_equal(access(p, F_OK), -1);
	free(p);
}

static void
test_mkdir(void **state)
{
	struct fixture *f = *state;
	char *cause = NULL, *p;
	struct stat st;

	assert_int_equal(taskdir_mkdir(f->taskfd, "output", 0751, (uid_t)-1, (gid_t)-1, &cause), 0);
	p = at(f, "output");
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0751);
	free(p);
	/* Made new: the mode exactly, whatever the umask. */
	{
		mode_t old = umask(077);
		int rc = taskdir_mkdir(f->taskfd, "made", 0755, (uid_t)-1, (gid_t)-1, &cause);

		umask(old);
		assert_int_equal(rc, 0);
	}
	p = at(f, "made");
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
	free(p);
	/* The umask noted (the daemon's start): the chmod goes only when it took no bits. */
	{
		mode_t old = umask(077);
		int rc;

		util_umask_note(1);
		rc = taskdir_mkdir(f->taskfd, "noted", 0755, (uid_t)-1, (gid_t)-1, &cause);
		assert_int_equal(util_mode_needs_chmod(0755), 1);
		umask(022);
		util_umask_note(1);
		assert_int_equal(util_mode_needs_chmod(0755), 0);
		assert_int_equal(util_mode_needs_chmod(0775), 1);
		umask(old);
		util_umask_note(0);
		assert_int_equal(rc, 0);
	}
	p = at(f, "noted");
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
	free(p);
	p = at(f, "output");
	/* A link where the directory should be: refused, its target untouched. */
	assert_int_equal(util_rmtree(p), 0);
	assert_int_equal(symlink(f->top, p), 0);
	free(p);
	assert_int_equal(taskdir_mkdir(f->taskfd, "output", 0777, (uid_t)-1, (gid_t)-1, &cause), -1);
	free(cause);
	assert_int_equal(stat(f->top, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
}

static void
test_log_cap(void **state)
{
	struct fixture *f = *state;
	char *p = at(f, "output/log.txt"), *buf, *why = NULL, *marker;
	off_t size, newsize;
	size_t len, i;
	int fd, capped;

	/* 100,000 bytes of numbered lines: the first and last survive. */
	fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	for (i = 0; i < 10000; i++)
		dprintf(fd, "line %04zu\n", i);
	close(fd);
	free(p);
	fd = taskdir_artifact_open(f->outfd, "log.txt", INT64_MAX, "-", &size, &why);
	assert_true(fd >= 0);
	assert_int_equal(size, 100000);
	assert_int_equal(taskdir_log_cap(fd, size, 200000, f->top, &newsize, &why), -1);
	assert_null(why);
	capped = taskdir_log_cap(fd, size, 4096, f->top, &newsize, &why);
	assert_true(capped >= 0);
	assert_true(newsize <= 4096 && newsize > 3000);
	lseek(capped, 0, SEEK_SET);
	buf = util_read_fd(capped, 8192, &len, &why);
	assert_int_equal((off_t)len, newsize);
	assert_true(strncmp(buf, "line 0000\n", 10) == 0);
	assert_non_null(strstr(buf, "line 9999\n"));
	marker = strstr(buf, "[paia-gateway: ");
	assert_non_null(marker);
	/* It says how much was cut: what is kept plus what was cut is all of it. */
	assert_int_equal(strtoll(marker + 15, NULL, 10) + newsize - (off_t)(strchr(marker, '\n') -
	    marker + 2), 100000);
	assert_non_null(strstr(marker, "storage.max_log_bytes is 4096]"));
	free(buf);
	close(capped);
	close(fd);
}

static void
test_rmtree(void **state)
{
	struct fixture *f = *state;
	char *p, *q, *cause = NULL, *outside;
	size_t i;
	int fd;

	/* Links inside go, what they point to stays. */
	xasprintf(&outside, "%s/outside", f->top);
	mk(outside);
	xasprintf(&q, "%s/keep", outside);
	put(q, "keep me");
	p = at(f, "output/dirlink");
	assert_int_equal(symlink(outside, p), 0);
	free(p);
	p = at(f, "output/hard");
	assert_int_equal(link(q, p), 0);
	free(p);
	/* A tree deeper than the walk keeps descriptors for. */
	fd = dup(f->outfd);
	for (i = 0; i < 200; i++) {
		int next;
		assert_int_equal(mkdirat(fd, "d", 0755), 0);
		next = openat(fd, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		assert_true(next >= 0);
		close(fd);
		fd = next;
	}
	assert_int_equal(symlinkat(q, fd, "deep-link"), 0);
	close(fd);
	/*
	 * A folder of more entries than one read of the walk holds (4 KiB):
	 * read on while its entries go; a FIFO among them is unlinked, not
	 * opened (that would block).
	 */
	p = at(f, "output/many");
	mk(p);
	fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	free(p);
	for (i = 0; i < 400; i++) {
		char name[80];
		int one;

		snprintf(name, sizeof name, "a-rather-long-file-name-to-fill-the-buffer-%03zu", i);
		one = openat(fd, name, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		assert_true(one >= 0);
		close(one);
	}
	assert_int_equal(mkfifoat(fd, "fifo", 0644), 0);
	close(fd);
	assert_true(util_du_at(f->taskfd, "output") > 0);
	assert_int_equal(util_rmtree_at(f->taskfd, "output", &cause), 0);
	p = at(f, "output");
	assert_int_equal(access(p, F_OK), -1);
	free(p);
	assert_int_equal(access(q, F_OK), 0);
	free(q);
	free(outside);
	/* Absent: fine. */
	assert_int_equal(util_rmtree_at(f->taskfd, "output", &cause), 0);
}

static void
test_du(void **state)
{
	struct fixture *f = *state;
	char *p = at(f, "output/data");
	uint64_t before, after;
	char buf[65536];
	int fd;

	before = util_du_at(f->taskfd, "output");
	fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	memset(buf, 'x', sizeof buf);
	assert_int_equal(write(fd, buf, sizeof buf), (ssize_t)sizeof buf);
	/* Sparse: its size is not its disk use. */
	assert_int_equal(ftruncate(fd, (off_t)1 << 40), 0);
	close(fd);
	free(p);
	p = at(f, "output/link");
	assert_int_equal(symlink("/usr", p), 0);
	free(p);
	after = util_du_at(f->taskfd, "output");
	assert_true(after - before >= sizeof buf);
	assert_true(after - before < (uint64_t)64 << 20);
}

int
main(void)
{
#define BOTH(t) cmocka_unit_test_setup_teardown(t, setup, teardown), \
	cmocka_unit_test_setup_teardown(t, setup_fallback, teardown)
	const struct CMUnitTest tests[] = {
		BOTH(test_regular),
		BOTH(test_links),
		BOTH(test_special_files),
		BOTH(test_output_linked),
		BOTH(test_open_beneath),
		BOTH(test_create),
		BOTH(test_mkdir),
		BOTH(test_log_cap),
		BOTH(test_rmtree),
		BOTH(test_du),
	};
	int rc;

	rc = cmocka_run_group_tests(tests, NULL, NULL);
	log_q_release();
	return rc;
}
