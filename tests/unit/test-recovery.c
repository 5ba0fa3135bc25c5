/*
 * test-recovery.c: what lets a gateway restarted during an outage upload
 * what its finished games left instead of running them again:
 * gateway/outcome.c (.outcome encoded, decoded strictly, written
 * durably, read without following links or trusting odd files) and
 * gateway/claims.c's questions (whose claim, a later attempt begun);
 * and uploads_origin() (gateway/uploads.c), which says which uploads
 * share an outage.
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

static struct outcome_record
sample(void)
{
	static char id[] = "t-42", instance[] = "gw-a", error[] = "game exited with code 2";
	struct outcome_record o;

	memset(&o, 0, sizeof o);
	o.task_id = id;
	o.attempt = 3;
	o.instance = instance;
	o.status = RESULT_FAILED;
	o.eclass = ERROR_USER;
	o.error = error;
	o.started_ms = 1764403200123LL;
	o.finished_ms = 1764403260456LL;
	return o;
}

static void
test_outcome_round_trip(void **state)
{
	struct outcome_record in = sample(), out;
	char *text, *cause = NULL;

	text = outcome_encode(&in);
	if (outcome_decode(text, strlen(text), &out, &cause) != 0)
		fail_msg("%s: %s", cause, text);
	assert_string_equal(out.task_id, "t-42");
	assert_int_equal(out.attempt, 3);
	assert_string_equal(out.instance, "gw-a");
	assert_int_equal(out.status, RESULT_FAILED);
	assert_int_equal(out.eclass, ERROR_USER);
	assert_string_equal(out.error, "game exited with code 2");
	assert_int_equal(out.started_ms, in.started_ms);
	assert_int_equal(out.finished_ms, in.finished_ms);
	outcome_clear(&out);
	free(text);

	/* A game that succeeded: no class, no error. */
	in.status = RESULT_SUCCEEDED;
	in.eclass = ERROR_NONE;
	in.error = NULL;
	text = outcome_encode(&in);
	assert_non_null(strstr(text, "\"error_class\":null"));
	assert_int_equal(outcome_decode(text, strlen(text), &out, &cause), 0);
	assert_int_equal(out.status, RESULT_SUCCEEDED);
	assert_int_equal(out.eclass, ERROR_NONE);
	assert_null(out.error);
	outcome_clear(&out);
	free(text);
}

static void
test_outcome_refused(void **state)
{
	static const struct {
		const char *text;
		const char *error;
	} bad[] = {
		{ "", "not valid JSON" },
		{ "[]", "not a JSON object" },
		{ "{\"version\":2,\"task_id\":\"t\"}", "version 2" },
		{ "{\"version\":1,\"task_id\":\"t\",\"task_id\":\"u\"}", "duplicate name" },
		{ "{\"version\":1,\"attempt\":1}", "'task_id'" },
		{ "{\"version\":1,\"task_id\":\"t\\n\",\"attempt\":1}", "'task_id'" },
		{ "{\"version\":1,\"task_id\":\"t\",\"attempt\":0,\"instance\":\"g\"}", "'attempt'" },
		{ "{\"version\":1,\"task_id\":\"t\",\"attempt\":1.5,\"instance\":\"g\"}", "'attempt'" },
		{ "{\"version\":1,\"task_id\":\"t\",\"attempt\":1,\"instance\":\"g\",\"status\":\"won\","
		  "\"error_class\":null,\"error\":null,\"started_ms\":1,\"finished_ms\":2}",
		  "'status'" },
		{ "{\"version\":1,\"task_id\":\"t\",\"attempt\":1,\"instance\":\"g\",\"status\":"
		  "\"failed\",\"error_class\":\"bad\",\"error\":null,\"started_ms\":1,\"finished_ms\":2}",
		  "'error_class'" },
		{ "{\"version\":1,\"task_id\":\"t\",\"attempt\":1,\"instance\":\"g\",\"status\":"
		  "\"failed\",\"error_class\":null,\"error\":null,\"started_ms\":-1,\"finished_ms\":2}",
		  "'started_ms'" },
	};
	struct outcome_record out;
	size_t i;
	char *cause;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cause = NULL;
		if (outcome_decode(bad[i].text, strlen(bad[i].text), &out, &cause) == 0)
			fail_msg("accepted: %s", bad[i].text);
		if (cause == NULL || strstr(cause, bad[i].error) == NULL)
			fail_msg("%s: \"%s\", expected \"%s\"", bad[i].text, cause, bad[i].error);
		assert_null(out.task_id);
		free(cause);
	}
}

/* A task folder of our own in $TMPDIR. */
static char *
folder(void)
{
	char tmpl[512];

	snprintf(tmpl, sizeof tmpl, "%s/paia-test-recovery.XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(tmpl) == NULL)
		fail_msg("mkdtemp: %s", strerror(errno));
	return xstrdup(tmpl);
}

static void
test_outcome_files(void **state)
{
	struct outcome_record in = sample(), out;
	char *dir = folder(), *path, *victim, *cause = NULL;
	struct stat st;
	int fd;

	/* None yet: -1 and no cause. */
	assert_int_equal(outcome_read(dir, &out, &cause), -1);
	assert_null(cause);
	if (outcome_write(dir, &in, &cause) != 0)
		fail_msg("%s", cause);
	assert_int_equal(outcome_read(dir, &out, &cause), 0);
	assert_string_equal(out.task_id, "t-42");
	assert_int_equal(out.attempt, 3);
	outcome_clear(&out);
	/* No temporary file is left, and writing again replaces it. */
	xasprintf(&path, "%s/.outcome.tmp", dir);
	assert_int_equal(lstat(path, &st), -1);
	in.attempt = 4;
	assert_int_equal(outcome_write(dir, &in, &cause), 0);
	assert_int_equal(outcome_read(dir, &out, &cause), 0);
	assert_int_equal(out.attempt, 4);
	outcome_clear(&out);
	/* A stale temporary file (a crash mid-write) does not stop the next write. */
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "{\"ver", 5), 5);
	close(fd);
	assert_int_equal(outcome_write(dir, &in, &cause), 0);
	assert_int_equal(lstat(path, &st), -1);
	/*
	 * Nor does one planted as a symbolic link or a hard link to another
	 * file: the write goes to a new file, the other is never written.
	 */
	xasprintf(&victim, "%s/victim", dir);
	fd = open(victim, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "keep", 4), 4);
	close(fd);
	assert_int_equal(symlink(victim, path), 0);
	assert_int_equal(outcome_write(dir, &in, &cause), 0);
	assert_int_equal(lstat(path, &st), -1);
	assert_int_equal(lstat(victim, &st), 0);
	assert_int_equal(st.st_size, 4);
	assert_int_equal(link(victim, path), 0);
	assert_int_equal(outcome_write(dir, &in, &cause), 0);
	assert_int_equal(lstat(path, &st), -1);
	assert_int_equal(lstat(victim, &st), 0);
	assert_int_equal(st.st_size, 4);
	assert_int_equal(st.st_nlink, 1);
	assert_int_equal(outcome_read(dir, &out, &cause), 0);
	assert_int_equal(out.attempt, 4);
	outcome_clear(&out);
	unlink(victim);
	free(victim);
	free(path);

	/* A symbolic link in its place is not followed. */
	xasprintf(&path, "%s/.outcome", dir);
	unlink(path);
	assert_int_equal(symlink("/etc/passwd", path), 0);
	assert_int_equal(outcome_read(dir, &out, &cause), -1);
	assert_non_null(cause);
	free(cause);
	cause = NULL;
	/* Nor is a FIFO opened for reading (it would block). */
	unlink(path);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(outcome_read(dir, &out, &cause), -1);
	assert_non_null(strstr(cause, "not a regular file"));
	free(cause);
	cause = NULL;
	/* Nor a huge one. */
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	assert_int_equal(ftruncate(fd, 1 << 20), 0);
	close(fd);
	assert_int_equal(outcome_read(dir, &out, &cause), -1);
	assert_non_null(strstr(cause, "at most"));
	free(cause);
	cause = NULL;
	/* A folder that is a link is not ours. */
	unlink(path);
	free(path);
	xasprintf(&path, "%s.link", dir);
	assert_int_equal(symlink(dir, path), 0);
	assert_int_equal(outcome_write(path, &in, &cause), -1);
	assert_non_null(cause);
	free(cause);
	unlink(path);
	free(path);

	/* A new attempt removes it. */
	cause = NULL;
	assert_int_equal(outcome_write(dir, &in, &cause), 0);
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	outcome_remove(fd);
	close(fd);
	assert_int_equal(outcome_read(dir, &out, &cause), -1);
	assert_null(cause);
	util_rmtree(dir);
	free(dir);
}

static void
test_claims_questions(void **state)
{
	char *journal = folder(), *cause = NULL;
	int attempt = 1;

	assert_int_equal(claims_exist(journal, "t1", 1), 0);
	assert_int_equal(claims_take(journal, "gw-a", "t1", &attempt, 1, 3, &cause), 0);
	assert_int_equal(attempt, 1);
	assert_int_equal(claims_exist(journal, "t1", 1), 1);
	assert_int_equal(claims_held(journal, "gw-a", "t1", 1), 1);
	/* Another instance, or a name that only begins like ours, does not hold it. */
	assert_int_equal(claims_held(journal, "gw-b", "t1", 1), 0);
	assert_int_equal(claims_held(journal, "gw-", "t1", 1), 0);
	assert_int_equal(claims_held(journal, "gw-a", "t1", 2), 0);
	claims_release(journal, "t1", 1, 1);
	assert_int_equal(claims_exist(journal, "t1", 1), 0);
	util_rmtree(journal);
	free(journal);
}

static void
test_uploads_origin(void **state)
{
	static const struct {
		const char *url, *origin;
	} cases[] = {
		{ "s3://bucket/results/t1/1/log.txt", "s3://bucket" },
		{ "s3://bucket", "s3://bucket" },
		{ "https://store.example:8443/r/t1/1/", "https://store.example:8443" },
		{ "https://user:secret@store.example/r?x=1", "https://store.example" },
		{ "http://10.77.0.10:9000?sig=1", "http://10.77.0.10:9000" },
		{ "file:///var/lib/paia/results/t1/1/", "file://" },
		{ "file://localhost/var/lib/paia/results/", "file://" },
		{ "no-scheme", "?" },
	};
	size_t i;
	char *o;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		o = uploads_origin(cases[i].url);
		assert_string_equal(o, cases[i].origin);
		assert_null(strstr(o, "secret"));
		free(o);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_outcome_round_trip),
		cmocka_unit_test(test_outcome_refused),
		cmocka_unit_test(test_outcome_files),
		cmocka_unit_test(test_claims_questions),
		cmocka_unit_test(test_uploads_origin),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
