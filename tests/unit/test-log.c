/*
 * test-log.c: common/log.c: logfmt values (bare or quoted with JSON's
 * escapes, invalid UTF-8 made visible), where lines go (a file reopened
 * after a rotation, journald's priority prefix only when standard error
 * is the journal's stream), repeated lines left out with their count;
 * and gateway/kafka.c's key for librdkafka's repeats and its levels.
 *
 * Lines are read back from files of the test's own; standard error is
 * pointed at one where a test needs it, and put back.
 */
#include "config.h"
#include "gateway.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static char dir[] = "/tmp/paia-test-log.XXXXXX";

static int
setup(void **state)
{
	const char *tmp = getenv("TMPDIR");
	char *d;

	if (tmp != NULL && *tmp != '\0') {
		xasprintf(&d, "%s/paia-test-log.XXXXXX", tmp);
		if (strlen(d) < sizeof dir)
			strcpy(dir, d);
		free(d);
	}
	assert_non_null(mkdtemp(dir));
	log_set_level(LOG_LEVEL_INFO);
	return 0;
}

static int
teardown(void **state)
{
	char *cmd;

	log_close();
	log_q_release();
	xasprintf(&cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	return 0;
}

static char *
slurp(const char *path)
{
	char *cause = NULL, *s;
	size_t len;

	s = util_read_file(path, 1 << 20, &len, &cause);
	assert_non_null(s);
	return s;
}

static size_t
count(const char *hay, const char *needle)
{
	size_t n = 0;

	while ((hay = strstr(hay, needle)) != NULL) {
		n++;
		hay++;
	}
	return n;
}

/* ---- values ---- */

static void
test_quote(void **state)
{
	char *q;

	q = log_quote("plain");
	assert_string_equal(q, "\"plain\"");
	free(q);
	q = log_quote("a \"b\" \\ c\nd\te\r\001\177");
	assert_string_equal(q, "\"a \\\"b\\\" \\\\ c\\nd\\te\\r\\u0001\\u007f\"");
	free(q);
	/* Valid UTF-8 stays; each byte of a broken sequence is U+FFFD. */
	q = log_quote("caf\xc3\xa9 \xff\xc3");
	assert_string_equal(q, "\"caf\xc3\xa9 \\ufffd\\ufffd\"");
	free(q);
	/* Overlong and surrogate encodings are broken too. */
	q = log_quote("\xc0\xaf\xed\xa0\x80");
	assert_string_equal(q, "\"\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\"");
	free(q);
}

static void
test_q(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "t1", "t1" },
		{ "/var/lib/paia/control.sock", "/var/lib/paia/control.sock" },
		{ "caf\xc3\xa9", "caf\xc3\xa9" },
		{ "", "\"\"" },
		{ "a b", "\"a b\"" },
		{ "a=b", "\"a=b\"" },
		{ "say\"", "\"say\\\"\"" },
		{ "back\\slash", "\"back\\\\slash\"" },
		{ "tab\there", "\"tab\\there\"" },
		{ "\xff", "\"\\ufffd\"" },
	};
	const char *q[8];
	char want[16];
	size_t i;

	for (i = 0; i < nitems(cases); i++)
		assert_string_equal(log_q(cases[i].in), cases[i].out);
	assert_string_equal(log_q(NULL), "\"\"");
	/* Eight results stay valid at once. */
	for (i = 0; i < 8; i++) {
		snprintf(want, sizeof want, "v %zu", i);
		q[i] = log_q(want);
	}
	for (i = 0; i < 8; i++) {
		snprintf(want, sizeof want, "\"v %zu\"", i);
		assert_string_equal(q[i], want);
	}
}

/* ---- where lines go ---- */

static void
test_file_reopen(void **state)
{
	char *path, *moved, *a, *b, *cause = NULL;

	xasprintf(&path, "%s/gw.log", dir);
	xasprintf(&moved, "%s/gw.log.1", dir);
	assert_int_equal(log_open(path, &cause), 0);
	assert_string_equal(log_file(), path);
	log_info("before the rotation", "n=%d", 1);
	assert_int_equal(rename(path, moved), 0);
	log_info("still the old file", "n=%d", 2);
	assert_int_equal(log_reopen(&cause), 0);
	log_info("after the rotation", "n=%d", 3);
	log_debug("below the threshold", "n=%d", 4);
	a = slurp(moved);
	b = slurp(path);
	assert_int_equal(count(a, "\n"), 2);
	assert_non_null(strstr(a, "level=info msg=\"before the rotation\" n=1\n"));
	assert_non_null(strstr(a, "msg=\"still the old file\" n=2\n"));
	assert_int_equal(count(b, "\n"), 1);
	assert_non_null(strstr(b, "level=info msg=\"after the rotation\" n=3\n"));
	assert_int_equal(strncmp(b, "ts=", 3), 0);
	free(a);
	free(b);
	/* A file that cannot be opened: said, and the old one kept. */
	assert_int_equal(log_open("/nonexistent/dir/x.log", &cause), -1);
	assert_string_equal(cause, "log file /nonexistent/dir/x.log: No such file or directory");
	free(cause);
	assert_string_equal(log_file(), path);
	log_close();
	assert_null(log_file());
	free(path);
	free(moved);
}

static int log_evaluated;

static const char *
log_counted(const char *s)
{
	log_evaluated++;
	return s;
}

/* A line below the level is not formatted: its fields are not even evaluated. */
static void
test_level_skips_fields(void **state)
{
	enum log_level old = log_get_level();
	char *path, *cause = NULL, *text;

	xasprintf(&path, "%s/levels.log", dir);
	assert_int_equal(log_open(path, &cause), 0);
	log_set_level(LOG_LEVEL_WARN);
	log_evaluated = 0;
	log_debug("hidden", "v=%s", log_q(log_counted("a")));
	log_info("hidden", "v=%s", log_q(log_counted("b")));
	assert_int_equal(log_evaluated, 0);
	log_warn("shown", "v=%s", log_q(log_counted("c")));
	log_error("shown", "v=%s", log_q(log_counted("d")));
	assert_int_equal(log_evaluated, 2);
	log_set_level(old);
	log_close();
	text = slurp(path);
	assert_int_equal(count(text, "\n"), 2);
	assert_non_null(strstr(text, "level=warn msg=\"shown\" v=c\n"));
	assert_null(strstr(text, "hidden"));
	free(text);
	free(path);
	(void)state;
}

/* Point standard error at a file; returns the saved descriptor. */
static int
stderr_to(const char *path)
{
	int saved = dup(STDERR_FILENO), fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0 && saved >= 0);
	assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	close(fd);
	return saved;
}

static void
stderr_back(int saved)
{
	assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
}

static void
test_journal_prefix(void **state)
{
	char *path, *v, *s, *cause = NULL;
	struct stat sb;
	int saved;

	xasprintf(&path, "%s/stderr", dir);
	saved = stderr_to(path);
	assert_int_equal(fstat(STDERR_FILENO, &sb), 0);
	/* Another stream's numbers: no prefix (a child of a unit, writing elsewhere). */
	xasprintf(&v, "%llu:%llu", (unsigned long long)sb.st_dev,
	    (unsigned long long)sb.st_ino + 1);
	setenv("JOURNAL_STREAM", v, 1);
	free(v);
	assert_int_equal(log_open(NULL, &cause), 0);
	log_info("not the journal", "n=%d", 1);
	xasprintf(&v, "%llu:%llu", (unsigned long long)sb.st_dev, (unsigned long long)sb.st_ino);
	setenv("JOURNAL_STREAM", v, 1);
	free(v);
	assert_int_equal(log_open(NULL, &cause), 0);
	log_set_level(LOG_LEVEL_DEBUG);
	log_debug("d", "n=%d", 2);
	log_info("i", "n=%d", 3);
	log_warn("w", "n=%d", 4);
	log_error("e", "n=%d", 5);
	log_set_level(LOG_LEVEL_INFO);
	unsetenv("JOURNAL_STREAM");
	assert_int_equal(log_open(NULL, &cause), 0);
	log_info("the journal is gone", "n=%d", 6);
	stderr_back(saved);
	s = slurp(path);
	assert_int_equal(strncmp(s, "ts=", 3), 0);
	assert_non_null(strstr(s, "\n<7>ts="));
	assert_non_null(strstr(s, "\n<6>ts="));
	assert_non_null(strstr(s, "\n<4>ts="));
	assert_non_null(strstr(s, "\n<3>ts="));
	assert_non_null(strstr(s, "level=error msg=\"e\" n=5\nts="));
	assert_int_equal(count(s, "<"), 4);
	free(s);
	free(path);
}

/* ---- repeated lines ---- */

static void
test_limited(void **state)
{
	char *path, *s, *cause = NULL;
	int64_t deadline;
	int i;

	xasprintf(&path, "%s/limited.log", dir);
	assert_int_equal(log_open(path, &cause), 0);
	log_set_repeat_window(3600);
	for (i = 0; i < 5; i++)
		log_limited(LOG_LEVEL_WARN, NULL, "broker down", "broker=%s", log_q("b1:9092"));
	/* Other fields, another key, another level: lines of their own. */
	log_limited(LOG_LEVEL_WARN, NULL, "broker down", "broker=%s", log_q("b2:9092"));
	log_limited(LOG_LEVEL_WARN, "k", "text one", "n=%d", 1);
	log_limited(LOG_LEVEL_WARN, "k", "text two", "n=%d", 2);
	log_limited(LOG_LEVEL_ERROR, "k", "text three", "n=%d", 3);
	log_limit_flush();	/* the window has not ended: nothing */
	s = slurp(path);
	assert_int_equal(count(s, "\n"), 4);
	assert_int_equal(count(s, "msg=\"broker down\" broker=b1:9092\n"), 1);
	assert_int_equal(count(s, "msg=\"broker down\" broker=b2:9092\n"), 1);
	assert_int_equal(count(s, "msg=\"text one\" n=1\n"), 1);
	assert_int_equal(count(s, "level=error msg=\"text three\" n=3\n"), 1);
	assert_null(strstr(s, "repeated="));
	free(s);

	/* A short window: at its end the count is written, with the last one left out. */
	log_close();
	assert_int_equal(log_open(path, &cause), 0);
	log_set_repeat_window(2);
	for (i = 0; i < 4; i++)
		log_limited(LOG_LEVEL_WARN, NULL, "again", "i=%d", 7);
	deadline = util_mono_ms() + 30000;
	for (;;) {
		log_limit_flush();
		s = slurp(path);
		if (strstr(s, "repeated=") != NULL || util_mono_ms() > deadline)
			break;
		free(s);
		usleep(50 * 1000);
	}
	assert_int_equal(count(s, "msg=\"again\" i=7\n"), 1);
	assert_int_equal(count(s, "msg=\"again\" i=7 repeated=3\n"), 1);
	free(s);
	/* 0: every line. */
	log_set_repeat_window(0);
	log_limited(LOG_LEVEL_WARN, NULL, "every", "i=%d", 1);
	log_limited(LOG_LEVEL_WARN, NULL, "every", "i=%d", 1);
	s = slurp(path);
	assert_int_equal(count(s, "msg=\"every\" i=1\n"), 2);
	free(s);
	log_set_repeat_window(30);
	free(path);
}

/* ---- librdkafka's lines (gateway/kafka.c) ---- */

static void
test_kafka_key(void **state)
{
	char *a, *b;

	a = kafka_log_key("[thrd:h:1/bootstrap]: h:1/bootstrap: Connect to ipv4#127.0.0.1:1 "
	    "failed: Connection refused (after 0ms in state CONNECT)");
	b = kafka_log_key("[thrd:h:1/bootstrap]: h:1/bootstrap: Connect to ipv4#127.0.0.1:1 "
	    "failed: Connection refused (after 1012ms in state CONNECT, 4 identical error(s) "
	    "suppressed)");
	assert_string_equal(a, b);
	assert_string_equal(a, "[thrd:h:1/bootstrap]: h:1/bootstrap: Connect to ipv4#127.0.0.1:1 "
	    "failed: Connection refused (after ms in state CONNECT)");
	free(a);
	free(b);
	/* Other numbers are the message: another broker is another line. */
	a = kafka_log_key("Connect to ipv4#10.0.0.1:9092 failed");
	b = kafka_log_key("Connect to ipv4#10.0.0.2:9092 failed");
	assert_string_not_equal(a, b);
	free(a);
	free(b);
	assert_int_equal(kafka_log_level(0), LOG_LEVEL_ERROR);
	assert_int_equal(kafka_log_level(3), LOG_LEVEL_ERROR);
	assert_int_equal(kafka_log_level(4), LOG_LEVEL_WARN);
	assert_int_equal(kafka_log_level(5), LOG_LEVEL_INFO);
	assert_int_equal(kafka_log_level(6), LOG_LEVEL_INFO);
	assert_int_equal(kafka_log_level(7), LOG_LEVEL_DEBUG);
}

static void
test_kafka_log(void **state)
{
	char *path, *s, *cause = NULL;
	int i;

	xasprintf(&path, "%s/kafka.log", dir);
	assert_int_equal(log_open(path, &cause), 0);
	log_set_repeat_window(3600);
	for (i = 0; i < 3; i++)
		kafka_log("consumer", 3, "FAIL", "b:1/bootstrap: Connect failed (after 0ms in state "
		    "CONNECT)");
	kafka_log("producer", 7, "BROKER", "debug chatter");
	s = slurp(path);
	assert_int_equal(count(s, "\n"), 1);
	assert_non_null(strstr(s, "level=error msg=\"b:1/bootstrap: Connect failed (after 0ms in "
	    "state CONNECT)\" component=consumer facility=FAIL\n"));
	assert_null(strstr(s, "%3|"));
	free(s);
	log_set_repeat_window(30);
	free(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quote),
		cmocka_unit_test(test_q),
		cmocka_unit_test(test_file_reopen),
		cmocka_unit_test(test_level_skips_fields),
		cmocka_unit_test(test_journal_prefix),
		cmocka_unit_test(test_limited),
		cmocka_unit_test(test_kafka_key),
		cmocka_unit_test(test_kafka_log),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
