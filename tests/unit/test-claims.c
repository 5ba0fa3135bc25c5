/*
 * test-claims.c: launch claims (gateway/claims.c): one file per task
 * attempt, taken with O_EXCL (a claim already there moves the task to
 * its next attempt, up to runner.max_attempts), the game's process group
 * noted in it, read back by the next gateway (claims_scan) and removed
 * with the result. What the scan reports is what a start-up kills, so a
 * line that is not a plain group number (0, 1, negative, not a number,
 * too large) and a file not named <task>.<attempt> are never reported.
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
#include <unistd.h>

#include <cmocka.h>

/* What claims_scan reported, as "task.attempt=pgid;" one after another. */
struct seen {
	char text[1024];
	int n;
};

static void
seen_cb(const char *task_id, int attempt, pid_t pgid, void *arg)
{
	struct seen *s = arg;
	size_t len = strlen(s->text);

	snprintf(s->text + len, sizeof s->text - len, "%s.%d=%ld;", task_id, attempt, (long)pgid);
	s->n++;
}

static char *
journal_new(void)
{
	const char *tmp = getenv("TMPDIR");
	char *dir;

	xasprintf(&dir, "%s/paia-test-claims.XXXXXX", tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	assert_non_null(mkdtemp(dir));
	return dir;
}

static void
put(const char *dir, const char *name, const char *text)
{
	char *path, *cause = NULL;

	xasprintf(&path, "%s/%s", dir, name);
	if (util_write_file(path, text, strlen(text), 0640, &cause) != 0)
		fail_msg("%s", cause);
	free(path);
}

static void
test_take_note_scan_release(void **state)
{
	char *dir = journal_new(), *path, *cause = NULL;
	struct seen s;
	int attempt = 1;

	/* The first claim of attempt 1; the group noted; the scan sees it. */
	assert_int_equal(claims_take(dir, "gw-1", "t1", &attempt, 1, 3, &cause), 0);
	assert_int_equal(attempt, 1);
	claims_note_pid(dir, "t1", 1, 4242);
	memset(&s, 0, sizeof s);
	claims_scan(dir, seen_cb, &s);
	assert_string_equal(s.text, "t1.1=4242;");
	/* Attempt 1 claimed already (a run was interrupted): the next attempt. */
	attempt = 1;
	assert_int_equal(claims_take(dir, "gw-2", "t1", &attempt, 1, 3, &cause), 0);
	assert_int_equal(attempt, 2);
	/* Both claimed, max 2: refused, saying why, at the last attempt tried. */
	attempt = 1;
	assert_int_equal(claims_take(dir, "gw-2", "t1", &attempt, 1, 2, &cause), -1);
	assert_non_null(strstr(cause, "runner.max_attempts is 2"));
	assert_int_equal(attempt, 2);
	free(cause);
	cause = NULL;
	/* No claim for an attempt: noting its group makes none. */
	claims_note_pid(dir, "t9", 1, 777);
	xasprintf(&path, "%s/t9.1", dir);
	assert_int_equal(access(path, F_OK), -1);
	free(path);
	/* The result in: the claims go, the scan sees nothing. */
	claims_release(dir, "t1", 1, 2);
	memset(&s, 0, sizeof s);
	claims_scan(dir, seen_cb, &s);
	assert_int_equal(s.n, 0);
	assert_int_equal(util_rmtree(dir), 0);
	free(dir);
}

static void
test_scan_hostile(void **state)
{
	char *dir = journal_new(), *missing;
	struct seen s;

	put(dir, "a.1", "gw-1 1700000000000\npid 0\npid 1\npid -5\npid 12x\npid "
	    "99999999999\npid\npid 31337\nPID 555\n pid 556\n");
	put(dir, "nodot", "pid 600\n");
	put(dir, "b.x", "pid 601\n");
	put(dir, "c.0", "pid 602\n");
	put(dir, ".hidden.1", "pid 603\n");
	put(dir, "d.e.2", "pid 604\n");
	memset(&s, 0, sizeof s);
	claims_scan(dir, seen_cb, &s);
	/* Only plain groups >= 2 of files named <task>.<attempt >= 1> (readdir's order). */
	assert_int_equal(s.n, 2);
	assert_non_null(strstr(s.text, "a.1=31337;"));
	assert_non_null(strstr(s.text, "d.e.2=604;"));
	/* No journal folder: nothing, no error. */
	xasprintf(&missing, "%s/none", dir);
	memset(&s, 0, sizeof s);
	claims_scan(missing, seen_cb, &s);
	assert_int_equal(s.n, 0);
	free(missing);
	assert_int_equal(util_rmtree(dir), 0);
	free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_take_note_scan_release),
		cmocka_unit_test(test_scan_hostile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
