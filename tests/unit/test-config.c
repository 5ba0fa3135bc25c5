/*
 * test-config.c: the INI configuration of common/config.c, with a small
 * schema of its own and with the real one of paia-gateway.conf(5)
 * (options_schema, options_passthrough): unknown keys and sections,
 * typed values and their bounds, passthrough sections, PAIA_*
 * environment overrides, the priority of the sources, config_dump's
 * masking of secrets, syntax errors.
 *
 * Temporary INI files are written with mkstemp and removed afterwards.
 * Does not test librdkafka's judgement of kafka.* keys (main.c).
 */
#include "config.h"
#include "gateway.h"
#include "options.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static const struct config_key small_schema[] = {
	{ "s", "name", CONFIG_STRING, "dflt", 0, 0, NULL, "a string" },
	{ "s", "n", CONFIG_INT, "5", 1, 10, NULL, "an int in 1..10" },
	{ "s", "flag", CONFIG_BOOL, "false", 0, 0, NULL, "a boolean" },
	{ "s", "mode", CONFIG_ENUM, "a", 0, 0, "a|bb|c", "an enum" },
	{ "t", "x", CONFIG_STRING, NULL, 0, 0, NULL, "no default" },
	{ NULL, NULL, CONFIG_STRING, NULL, 0, 0, NULL, NULL }
};
static const char *small_passthrough[] = { "p", NULL };

/* A temporary INI file with the given text; caller unlinks and frees. */
static char *
ini_file(const char *text)
{
	const char *tmp = getenv("TMPDIR");
	size_t len = strlen(text);
	char *path;
	int fd;

	assert_true(asprintf(&path, "%s/paia-test-config-XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp") > 0);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	return path;
}

static void
ini_done(char *path)
{
	unlink(path);
	free(path);
}

/* Does s hold every one of the NULL-terminated substrings? */
static void
assert_mentions(const char *s, ...)
{
	const char *want;
	va_list ap;

	assert_non_null(s);
	va_start(ap, s);
	while ((want = va_arg(ap, const char *)) != NULL) {
		if (strstr(s, want) == NULL)
			fail_msg("\"%s\" does not mention \"%s\"", s, want);
	}
	va_end(ap);
}

/* Does s hold the number n as a whole token (not as part of a longer one)? */
static int
has_number(const char *s, long long n)
{
	char want[32];
	const char *p;
	size_t len;

	snprintf(want, sizeof want, "%lld", n);
	len = strlen(want);
	for (p = strstr(s, want); p != NULL; p = strstr(p + 1, want)) {
		int before = p > s && (p[-1] >= '0' && p[-1] <= '9');
		int after = p[len] >= '0' && p[len] <= '9';
		if (!before && !after)
			return 1;
	}
	return 0;
}

/* Load text as an INI file; returns the rc, *cause as config_load_file. */
static int
load_text(struct config *c, const char *text, char **pathp, char **cause)
{
	char *path = ini_file(text);
	int rc;

	*cause = NULL;
	rc = config_load_file(c, path, cause);
	if (pathp != NULL)
		*pathp = path;
	else
		ini_done(path);
	return rc;
}

/* The file must fail with a cause naming the file and every substring. */
#define LOAD_FAILS(c, text, ...)                                                   \
	do {                                                                       \
		char *path_, *cause_;                                              \
		assert_int_equal(load_text((c), (text), &path_, &cause_), -1);      \
		assert_mentions(cause_, path_, __VA_ARGS__, (const char *)NULL);   \
		free(cause_);                                                      \
		ini_done(path_);                                                   \
	} while (0)

/* ---- the small schema ---- */

static void
test_defaults(void **state)
{
	struct config *c = config_new(small_schema, small_passthrough);

	assert_string_equal(config_get(c, "s", "name"), "dflt");
	assert_int_equal(config_get_int(c, "s", "n"), 5);
	assert_int_equal(config_get_bool(c, "s", "flag"), 0);
	assert_string_equal(config_get(c, "s", "mode"), "a");
	assert_string_equal(config_get(c, "t", "x"), "");	/* NULL default: empty */
	assert_null(config_get(c, "s", "nope"));
	assert_null(config_get(c, "p", "anything"));
	/* Schema order. */
	assert_int_equal(config_count(c), 5);
	assert_string_equal(config_at(c, 0).key, "name");
	assert_string_equal(config_at(c, 3).key, "mode");
	assert_string_equal(config_at(c, 4).section, "t");
	config_free(c);
}

static void
test_file_good(void **state)
{
	struct config *c = config_new(small_schema, small_passthrough);
	char *cause;

	assert_int_equal(load_text(c,
	    "; a comment\n"
	    "[s]\n"
	    "name = hello world\n"
	    "n = 10\n"
	    "flag = yes\n"
	    "mode = bb\n"
	    "\n"
	    "[t]\n"
	    "x = 1\n"
	    "[p]\n"
	    "any.key.at.all = 7\n"
	    "foo = bar\n", NULL, &cause), 0);
	assert_null(cause);
	assert_string_equal(config_get(c, "s", "name"), "hello world");
	assert_int_equal(config_get_int(c, "s", "n"), 10);
	assert_int_equal(config_get_bool(c, "s", "flag"), 1);
	assert_string_equal(config_get(c, "s", "mode"), "bb");
	assert_string_equal(config_get(c, "t", "x"), "1");
	assert_string_equal(config_get(c, "p", "any.key.at.all"), "7");
	assert_string_equal(config_get(c, "p", "foo"), "bar");
	/* Passthrough keys come after the schema, in the order set. */
	assert_int_equal(config_count(c), 7);
	assert_string_equal(config_at(c, 5).key, "any.key.at.all");
	assert_string_equal(config_at(c, 6).section, "p");
	config_free(c);
}

static void
test_file_misspelt_key(void **state)
{
	struct config *c = config_new(small_schema, small_passthrough);

	LOAD_FAILS(c, "[s]\nname = x\nnmae = y\n", "s.nmae");
	config_free(c);
}

static void
test_file_unknown_section(void **state)
{
	struct config *c = config_new(small_schema, small_passthrough);

	LOAD_FAILS(c, "[s]\nn = 3\n[sectoin]\na = 1\n", "sectoin");
	/* A key before any section header belongs to none: an error naming its line. */
	LOAD_FAILS(c, "orphan = 1\n", ":1: key orphan before any [section]");
	/* An unknown section is named on its header's line, even when empty. */
	LOAD_FAILS(c, "[s]\n[sectoin]\n", ":2: unknown section [sectoin]");
	config_free(c);
}

static void
test_file_bad_int(void **state)
{
	static const char *bad[] = { "0", "11", "-1", "abc", "5x", "1.5", "99999999999999999999" };
	struct config *c = config_new(small_schema, small_passthrough);
	char text[128], *path, *cause;
	char *copy, *value;
	size_t i;

	for (i = 0; i < nitems(bad); i++) {
		snprintf(text, sizeof text, "[s]\nn = %s\n", bad[i]);
		assert_int_equal(load_text(c, text, &path, &cause), -1);
		assert_mentions(cause, path, "s.n", bad[i], (const char *)NULL);
		/*
		 * The bounds, as whole numbers, past the file name (its random
		 * part may hold digits) and outside the quoted bad value.
		 */
		copy = strdup(strstr(cause, "s.n"));
		assert_non_null(copy);
		if ((value = strstr(copy, bad[i])) != NULL)
			memset(value, ' ', strlen(bad[i]));
		if (!has_number(copy, 1) || !has_number(copy, 10))
			fail_msg("\"%s\" does not name the bounds 1 and 10", cause);
		free(copy);
		free(cause);
		ini_done(path);
	}
	/* A failed load leaves the value alone. */
	assert_int_equal(config_get_int(c, "s", "n"), 5);
	config_free(c);
}

static void
test_file_bad_bool_enum(void **state)
{
	struct config *c = config_new(small_schema, small_passthrough);

	LOAD_FAILS(c, "[s]\nflag = maybe\n", "s.flag", "maybe");
	LOAD_FAILS(c, "[s]\nflag = 2\n", "s.flag");
	LOAD_FAILS(c, "[s]\nmode = d\n", "s.mode", "\"d\"", "a", "bb", "c");
	/* A prefix or an extension of a choice is not the choice. */
	LOAD_FAILS(c, "[s]\nmode = b\n", "s.mode", "bb");
	LOAD_FAILS(c, "[s]\nmode = bbb\n", "s.mode");
	LOAD_FAILS(c, "[s]\nmode = A\n", "s.mode");
	LOAD_FAILS(c, "[s]\nmode =\n", "s.mode");
	assert_string_equal(config_get(c, "s", "mode"), "a");
	assert_int_equal(config_get_bool(c, "s", "flag"), 0);
	config_free(c);
}

static void
test_enum_choices(void **state)
{
	struct config *c = config_new(small_schema, small_passthrough);
	char *cause = NULL;

	/* First, middle and last choices are all accepted. */
	assert_int_equal(config_set(c, "s", "mode", "a", &cause), 0);
	assert_int_equal(config_set(c, "s", "mode", "c", &cause), 0);
	assert_int_equal(config_set(c, "s", "mode", "bb", &cause), 0);
	assert_null(cause);
	assert_string_equal(config_get(c, "s", "mode"), "bb");
	config_free(c);
}

static void
test_syntax_error_line(void **state)
{
	struct config *c = config_new(small_schema, small_passthrough);
	char *path, *cause, want[256];

	assert_int_equal(load_text(c, "[s]\nname = a\n\nthis line has no equals sign\nn = 3\n",
	    &path, &cause), -1);
	snprintf(want, sizeof want, "%s:4", path);
	assert_mentions(cause, want, (const char *)NULL);
	free(cause);
	ini_done(path);

	assert_int_equal(load_text(c, "[s]\n[broken\nn = 3\n", &path, &cause), -1);
	snprintf(want, sizeof want, "%s:2", path);
	assert_mentions(cause, want, (const char *)NULL);
	free(cause);
	ini_done(path);

	/* A missing file names it. */
	cause = NULL;
	assert_int_equal(config_load_file(c, "/nonexistent/paia.conf", &cause), -1);
	assert_mentions(cause, "/nonexistent/paia.conf", (const char *)NULL);
	free(cause);
	config_free(c);
}

static void
test_set(void **state)
{
	struct config *c = config_new(small_schema, small_passthrough);
	char *cause = NULL;

	assert_int_equal(config_set(c, "s", "n", "7", &cause), 0);
	assert_int_equal(config_get_int(c, "s", "n"), 7);
	assert_int_equal(config_set(c, "s", "nn", "7", &cause), -1);
	assert_mentions(cause, "s.nn", (const char *)NULL);
	free(cause);
	assert_int_equal(config_set(c, "q", "n", "7", &cause), -1);
	assert_mentions(cause, "[q]", (const char *)NULL);
	free(cause);
	assert_int_equal(config_set(c, "s", "n", "70", &cause), -1);
	assert_mentions(cause, "s.n", "70", (const char *)NULL);
	free(cause);
	assert_int_equal(config_set(c, "p", "", "1", &cause), -1);
	assert_mentions(cause, "p", (const char *)NULL);
	free(cause);
	assert_int_equal(config_set(c, "p", "k", "1", &cause), 0);
	assert_string_equal(config_get(c, "p", "k"), "1");
	assert_int_equal(config_get_int(c, "s", "n"), 7);
	config_free(c);
}

/*
 * Values are found by a hash of section and key, grown as keys come: a
 * few thousand passthrough keys (several rebuilds of the index), keys
 * that differ only in where section and key split, each set twice.
 */
static void
test_many_keys(void **state)
{
	struct config *c = config_new(small_schema, small_passthrough);
	char *cause = NULL, key[32], val[32];
	int i, round;

	for (round = 0; round < 2; round++)
		for (i = 0; i < 3000; i++) {
			snprintf(key, sizeof key, "k%d", i);
			snprintf(val, sizeof val, "%d-%d", i, round);
			assert_int_equal(config_set(c, "p", key, val, &cause), 0);
		}
	for (i = 0; i < 3000; i++) {
		snprintf(key, sizeof key, "k%d", i);
		snprintf(val, sizeof val, "%d-1", i);
		assert_string_equal(config_get(c, "p", key), val);
	}
	assert_null(config_get(c, "p", "k3000"));
	assert_null(config_get(c, "pk", "1"));
	assert_int_equal(config_get_int(c, "s", "n"), 5);
	assert_int_equal(config_count(c), 3000 + 5);
	config_free(c);
	(void)state;
}

/*
 * BUG (common/config.c config_store): it frees the old value before
 * copying the new one, so setting a key to the string config_get()
 * returned for that same key reads freed memory (heap-use-after-free
 * under ASan; a garbled value without it).
 */
static void
test_set_own_value_regression(void **state)
{
	struct config *c = config_new(small_schema, small_passthrough);
	char *cause = NULL;

	assert_int_equal(config_set(c, "s", "name", "a value longer than sixteen bytes", &cause), 0);
	assert_int_equal(config_set(c, "s", "name", config_get(c, "s", "name"), &cause), 0);
	assert_string_equal(config_get(c, "s", "name"), "a value longer than sixteen bytes");
	config_set_default(c, "t", "x", "another value longer than sixteen bytes");
	config_set_default(c, "t", "x", config_get(c, "t", "x"));
	assert_string_equal(config_get(c, "t", "x"), "another value longer than sixteen bytes");
	config_free(c);
}

/* ---- the real schema ---- */

static struct config *
gw_config(void)
{
	return config_new(options_schema, options_passthrough);
}

/* ---- the reader: limits, and what inih got wrong ---- */

/* A file of len bytes: head, then fill up to len. Caller unlinks and frees. */
static char *
big_file(const char *head, size_t len, char fill)
{
	char *text = malloc(len + 1), *path;

	assert_non_null(text);
	memset(text, fill, len);
	memcpy(text, head, strlen(head));
	text[len] = '\0';
	path = ini_file(text);
	free(text);
	return path;
}

/*
 * BUG (libinih, INI_MAX_LINE 200): a longer line was split and the rest
 * parsed as a line of its own, so a long instance_id could carry
 * "max_inflight = 7" into the configuration. Now a value is whole up to
 * 4096 bytes and a longer line is an error naming it.
 */
static void
test_long_lines(void **state)
{
	struct config *c = gw_config();
	char *text, *cause = NULL, *path;
	size_t i;

	/* A 4000-byte value arrives whole. */
	text = malloc(5000);
	assert_non_null(text);
	strcpy(text, "[runner]\ncommand = ");
	for (i = 0; i < 4000; i++)
		strcat(text, i % 50 == 25 ? " " : "x");
	strcat(text, "\n");
	assert_int_equal(load_text(c, text, NULL, &cause), 0);
	assert_int_equal(strlen(config_get(c, "runner", "command")), 4000);
	free(text);

	/* The injection: the tail of a long line is not a line of its own. */
	text = malloc(1000);
	assert_non_null(text);
	strcpy(text, "[gateway]\ninstance_id = ");
	for (i = 0; i < 200; i++)
		strcat(text, "A");
	strcat(text, "max_inflight = 7\n");
	LOAD_FAILS(c, text, ":2:", "gateway.instance_id", "is not a name");
	assert_int_equal(config_get_int(c, "gateway", "max_inflight"), 8);
	free(text);

	/* 4097 bytes is one too many, named with its line. */
	path = big_file("[gateway]\n\n; ", 4097 + 11, 'x');
	assert_int_equal(config_load_file(c, path, &cause), -1);
	assert_mentions(cause, path, ":3: line longer than 4096 bytes", (const char *)NULL);
	free(cause);
	ini_done(path);
	/* 4096 is fine. */
	path = big_file("[gateway]\n\n; ", 4096 + 11, 'x');
	assert_int_equal(config_load_file(c, path, &cause), 0);
	ini_done(path);
	config_free(c);
}

/* Not a text file: a NUL, a directory, a FIFO, a device, a huge file. */
static void
test_not_a_config(void **state)
{
	static const char nul_text[] = "[s]\nname = a\0b\n";
	struct config *c = config_new(small_schema, small_passthrough);
	const char *tmp = getenv("TMPDIR");
	char *path, *cause = NULL, dir[256], fifo[300];
	int fd;

	/* BUG (libinih): the value ended at the NUL and the rest was dropped. */
	assert_true(asprintf(&path, "%s/paia-test-config-XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp") > 0);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, nul_text, sizeof nul_text - 1), (ssize_t)(sizeof nul_text - 1));
	close(fd);
	assert_int_equal(config_load_file(c, path, &cause), -1);
	assert_mentions(cause, path, ":2: a NUL byte", (const char *)NULL);
	free(cause);
	assert_string_equal(config_get(c, "s", "name"), "dflt");
	ini_done(path);

	/* BUG (libinih): a directory read as an empty configuration. */
	snprintf(dir, sizeof dir, "%s/paia-test-config-dir-XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(config_load_file(c, dir, &cause), -1);
	assert_mentions(cause, dir, "not a regular file (a directory)", (const char *)NULL);
	free(cause);

	/* A FIFO is refused at once, without waiting for a writer. */
	snprintf(fifo, sizeof fifo, "%s/fifo", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	alarm(20);	/* a hang fails the test instead of stalling make check */
	assert_int_equal(config_load_file(c, fifo, &cause), -1);
	assert_mentions(cause, fifo, "not a regular file (a FIFO)", (const char *)NULL);
	free(cause);
	unlink(fifo);
	rmdir(dir);

	/* BUG (libinih): -c /dev/zero read forever. */
	assert_int_equal(config_load_file(c, "/dev/zero", &cause), -1);
	alarm(0);
	assert_mentions(cause, "/dev/zero", "not a regular file (a device)", (const char *)NULL);
	free(cause);

	/* Over 1 MiB: refused, naming the file. */
	path = big_file("[s]\n; ", 1024 * 1024 + 1, 'x');
	assert_int_equal(config_load_file(c, path, &cause), -1);
	assert_mentions(cause, path, "larger than 1048576 bytes", (const char *)NULL);
	free(cause);
	ini_done(path);
	config_free(c);
}

static void
test_syntax(void **state)
{
	struct config *c = config_new(small_schema, small_passthrough);
	char *cause = NULL;

	/* BUG (libinih): "[s" was "unknown section []" with no line. */
	LOAD_FAILS(c, "[s\nname = x\n", ":1: section header without ']'");
	LOAD_FAILS(c, "[s] name = x\n", ":1: text after the section header's ']'");
	LOAD_FAILS(c, "[]\n", ":1: unknown section []");
	LOAD_FAILS(c, "[s]\n= x\n", ":2: no key before '='");
	LOAD_FAILS(c, "[s]\nname\n", ":2: expected key = value");
	LOAD_FAILS(c, "[s]\nname x = 1\n", ":2:", "key name \"name x\"");
	LOAD_FAILS(c, "[s]\nname = a\tb\n", ":2: s.name: the value holds a control character (byte 0x09)");
	LOAD_FAILS(c, "[s]\nname = a\rb\n", ":2: s.name: the value holds a control character (byte 0x0d)");
	LOAD_FAILS(c, "[s]\nname = a\x1b[2Jb\n", ":2: s.name:", "0x1b");
	/* More than 1024 keys (passthrough would take any) is not a configuration. */
	{
		char *text = malloc(1100 * 16), *p = text;
		size_t i;

		assert_non_null(text);
		p += sprintf(p, "[p]\n");
		for (i = 0; i < 1100; i++)
			p += sprintf(p, "k%zu = 1\n", i);
		LOAD_FAILS(c, text, ":1026: more than 1024 keys");
		free(text);
	}
	config_free(c);

	/* Accepted: CRLF, a byte order mark, blanks, indentation, comments. */
	c = config_new(small_schema, small_passthrough);
	assert_int_equal(load_text(c,
	    "\xef\xbb\xbf; comment\r\n"
	    "  [ s ]  ; a comment after the header\r\n"
	    "\tname\t=\t two words ; a comment\r\n"
	    "  n=3\n"
	    "# another\n"
	    "[p]\n"
	    "url = http://h/#frag;x ; but # and ; inside stay\n"
	    "empty =\n"
	    "[t]\n"
	    "x = last line without a newline", NULL, &cause), 0);
	assert_null(cause);
	assert_string_equal(config_get(c, "s", "name"), "two words");
	assert_int_equal(config_get_int(c, "s", "n"), 3);
	assert_string_equal(config_get(c, "p", "url"), "http://h/#frag;x");
	assert_string_equal(config_get(c, "p", "empty"), "");
	assert_string_equal(config_get(c, "t", "x"), "last line without a newline");
	config_free(c);

	/* A key set twice keeps its last value (an appended override), even in a reopened section. */
	c = config_new(small_schema, small_passthrough);
	assert_int_equal(load_text(c, "[s]\nn = 1\n[t]\nx = 2\n[s]\nn = 3\n[p]\na = 1\na = 2\n", NULL,
	    &cause), 0);
	assert_int_equal(config_get_int(c, "s", "n"), 3);
	assert_string_equal(config_get(c, "p", "a"), "2");
	config_free(c);
}

/* Control characters are refused from every source, naming section.key. */
static void
test_control_characters(void **state)
{
	struct config *c = gw_config();
	const char *env1[] = { "PAIA_GATEWAY_STATE_DIR=/srv/a\nlevel=error msg=forged", NULL };
	const char *env2[] = { "PAIA_KAFKA_CLIENT_ID=a\x1b]0;x\x07", NULL };
	char *cause = NULL;

	assert_int_equal(config_set(c, "runner", "command", "game\n--evil", &cause), -1);
	assert_mentions(cause, "runner.command", "control character (byte 0x0a)", (const char *)NULL);
	free(cause);
	assert_int_equal(config_set(c, "kafka", "client.id", "a\x7f", &cause), -1);
	assert_mentions(cause, "kafka.client.id", "byte 0x7f", (const char *)NULL);
	free(cause);
	assert_int_equal(config_set(c, "kafka", "a\nb", "1", &cause), -1);
	assert_mentions(cause, "[kafka]: key name \"a\\nb\"", (const char *)NULL);
	free(cause);
	assert_int_equal(config_set(c, "gate\nway", "x", "1", &cause), -1);
	assert_mentions(cause, "section name \"gate\\nway\"", (const char *)NULL);
	free(cause);
	assert_int_equal(config_load_env(c, (char **)env1, &cause), -1);
	assert_mentions(cause, "environment PAIA_GATEWAY_STATE_DIR", "gateway.state_dir",
	    "control character", (const char *)NULL);
	free(cause);
	assert_int_equal(config_load_env(c, (char **)env2, &cause), -1);
	assert_mentions(cause, "environment PAIA_KAFKA_CLIENT_ID", "kafka.client.id",
	    "control character", (const char *)NULL);
	free(cause);
	assert_null(config_get(c, "kafka", "client.id"));
	assert_string_equal(config_get(c, "gateway", "state_dir"), "/var/lib/paia");
	config_free(c);
}

/* Names and ids: instance_id, the topics. */
static void
test_names(void **state)
{
	static const char *bad_ids[] = { "gw 1", "gw/1", "gw:1", "..", ".", "g\xc3\xa9",
	    "a123456789b123456789c123456789d123456789e123456789f123456789abcde" };
	struct config *c = gw_config();
	char *cause = NULL, topic[300];
	size_t i;

	assert_int_equal(config_set(c, "gateway", "instance_id", "gw-1.a_B", &cause), 0);
	assert_int_equal(config_set(c, "gateway", "instance_id", "", &cause), 0);
	for (i = 0; i < nitems(bad_ids); i++) {
		if (config_set(c, "gateway", "instance_id", bad_ids[i], &cause) != -1)
			fail_msg("instance_id \"%s\" accepted", bad_ids[i]);
		assert_mentions(cause, "gateway.instance_id", "is not a name", "0 to 64",
		    (const char *)NULL);
		free(cause);
	}
	/* Kafka topic names: its charset, 1 to 249 characters. */
	memset(topic, 't', 249);
	topic[249] = '\0';
	assert_int_equal(config_set(c, "gateway", "tasks_topic", topic, &cause), 0);
	topic[249] = 't';
	topic[250] = '\0';
	assert_int_equal(config_set(c, "gateway", "dlq_topic", topic, &cause), -1);
	assert_mentions(cause, "gateway.dlq_topic", "1 to 249", (const char *)NULL);
	/* The echo of a long value is cut. */
	assert_true(strlen(cause) < 200);
	free(cause);
	assert_int_equal(config_set(c, "gateway", "results_topic", "", &cause), -1);
	free(cause);
	assert_int_equal(config_set(c, "gateway", "results_topic", "paia results", &cause), -1);
	assert_mentions(cause, "gateway.results_topic", "\"paia results\"", (const char *)NULL);
	free(cause);
	/* The check main.c applies to kafka.group.id and the host name. */
	assert_int_equal(config_name_check("kafka.group.id", "paia-gateway", 1, 249, &cause), 0);
	assert_int_equal(config_name_check("kafka.group.id", "a\nb", 1, 249, &cause), -1);
	assert_mentions(cause, "kafka.group.id", (const char *)NULL);
	free(cause);
	config_free(c);
}

static void
test_options_defaults(void **state)
{
	struct config *c = gw_config();
	const struct config_key *k;
	char *cause = NULL;

	/* Every default passes its own schema. */
	for (k = options_schema; k->section != NULL; k++) {
		char *v;

		assert_non_null(config_get(c, k->section, k->key));
		v = strdup(config_get(c, k->section, k->key));
		if (config_set(c, k->section, k->key, v, &cause) != 0)
			fail_msg("default of %s.%s is invalid: %s", k->section, k->key, cause);
		assert_string_equal(config_get(c, k->section, k->key), v);
		free(v);
	}
	assert_int_equal(config_get_int(c, "gateway", "max_inflight"), 8);
	assert_string_equal(config_get(c, "gateway", "tasks_topic"), "paia.tasks");
	assert_string_equal(config_get(c, "gateway", "results_topic"), "paia.results");
	assert_string_equal(config_get(c, "gateway", "dlq_topic"), "paia.tasks.dlq");
	config_free(c);
}

static void
test_options_file(void **state)
{
	struct config *c = gw_config();
	char *cause;

	LOAD_FAILS(c, "[gateway]\nmax_inflihgt = 3\n", "gateway.max_inflihgt");
	LOAD_FAILS(c, "[storage]\nretires = 3\n", "storage.retires");
	LOAD_FAILS(c, "[gatway]\nmax_inflight = 3\n", "gatway");
	LOAD_FAILS(c, "[gateway]\nmax_inflight = 0\n", "gateway.max_inflight", "10000");
	LOAD_FAILS(c, "[gateway]\nmax_inflight = many\n", "gateway.max_inflight", "many");
	LOAD_FAILS(c, "[gateway]\nlog_level = loud\n", "gateway.log_level", "debug", "error");
	LOAD_FAILS(c, "[runner]\ntype = docker\n", "runner.type", "local", "k8s");

	/* [kafka] is passthrough: any key goes, librdkafka judges it later. */
	assert_int_equal(load_text(c,
	    "[gateway]\n"
	    "max_inflight = 3\n"
	    "log_level = debug\n"
	    "[kafka]\n"
	    "bootstrap.servers = broker:9092\n"
	    "some.future.librdkafka.option = 1\n", NULL, &cause), 0);
	assert_int_equal(config_get_int(c, "gateway", "max_inflight"), 3);
	assert_string_equal(config_get(c, "gateway", "log_level"), "debug");
	assert_string_equal(config_get(c, "kafka", "bootstrap.servers"), "broker:9092");
	assert_string_equal(config_get(c, "kafka", "some.future.librdkafka.option"), "1");
	config_free(c);
}

/* A misspelt variable of a known section is an error naming it. */
static void
test_env_misspelt(void **state)
{
	const char *env[] = { "PAIA_GATEWAY_MAX_INFLIHGT=3", NULL };
	const char *bad[] = { "PAIA_GATEWAY_MAX_INFLIGHT=zero", NULL };
	struct config *c = gw_config();
	char *cause = NULL;

	assert_int_equal(config_load_env(c, (char **)env, &cause), -1);
	assert_non_null(strstr(cause, "PAIA_GATEWAY_MAX_INFLIHGT"));
	free(cause);
	cause = NULL;
	assert_int_equal(config_load_env(c, (char **)bad, &cause), -1);
	assert_non_null(strstr(cause, "environment PAIA_GATEWAY_MAX_INFLIGHT"));
	assert_non_null(strstr(cause, "gateway.max_inflight"));
	free(cause);
	config_free(c);
}

static void
test_env(void **state)
{
	const char *env[] = {
		"PATH=/usr/bin",
		"PAIA_GATEWAY_MAX_INFLIGHT=3",
		"PAIA_KAFKA_BOOTSTRAP_SERVERS=x",
		"PAIA_KAFKA_SASL_PASSWORD=pw",
		"PAIA_STORAGE_FILE_ROOT=/srv",
		"PAIA_SOCKET=/run/paia.sock",	/* a program's, not the config's */
		"PAIA_KAFKA_=empty-key",
		"NOT_PAIA_GATEWAY_HISTORY=5",
		"PAIA_NOEQUALS",
		NULL
	};
	struct config *c = gw_config();
	char *cause = NULL;

	assert_int_equal(config_load_env(c, (char **)env, &cause), 0);
	assert_null(cause);
	assert_int_equal(config_get_int(c, "gateway", "max_inflight"), 3);
	assert_string_equal(config_get(c, "kafka", "bootstrap.servers"), "x");
	assert_string_equal(config_get(c, "kafka", "sasl.password"), "pw");
	assert_string_equal(config_get(c, "storage", "file_root"), "/srv");
	assert_int_equal(config_get_int(c, "gateway", "history"), 1000);
	assert_null(config_get(c, "kafka", ""));
	config_free(c);
}

static void
test_env_bad(void **state)
{
	static const char *bad[] = {
		"PAIA_GATEWAY_MAX_INFLIGHT=0",
		"PAIA_GATEWAY_MAX_INFLIGHT=lots",
		"PAIA_GATEWAY_MAX_INFLIGHT=",
		"PAIA_GATEWAY_LOG_LEVEL=chatty",
	};
	size_t i;

	for (i = 0; i < nitems(bad); i++) {
		const char *env[] = { bad[i], NULL };
		struct config *c = gw_config();
		char *cause = NULL;

		if (config_load_env(c, (char **)env, &cause) != -1)
			fail_msg("%s accepted", bad[i]);
		assert_mentions(cause, strstr(bad[i], "LOG") != NULL ? "gateway.log_level" :
		    "gateway.max_inflight", (const char *)NULL);
		free(cause);
		config_free(c);
	}
}

static void
test_priority(void **state)
{
	struct config *c = gw_config();
	const char *env[] = { "PAIA_GATEWAY_HISTORY=4000", "PAIA_KAFKA_GROUP_ID=from-env", NULL };
	char *cause = NULL;

	/* default */
	assert_int_equal(config_get_int(c, "gateway", "history"), 1000);
	/* < set_default */
	config_set_default(c, "gateway", "history", "2000");
	config_set_default(c, "gateway", "batch_ms", "50");
	config_set_default(c, "gateway", "grace_s", "7");
	config_set_default(c, "kafka", "group.id", "dflt-group");
	config_set_default(c, "kafka", "session.timeout.ms", "6000");
	assert_int_equal(config_get_int(c, "gateway", "history"), 2000);
	assert_string_equal(config_get(c, "kafka", "group.id"), "dflt-group");
	/* < file */
	assert_int_equal(load_text(c,
	    "[gateway]\nhistory = 3000\nbatch_ms = 60\nmax_inflight = 4\n", NULL, &cause), 0);
	assert_int_equal(config_get_int(c, "gateway", "history"), 3000);
	assert_int_equal(config_get_int(c, "gateway", "batch_ms"), 60);
	/* < env */
	assert_int_equal(config_load_env(c, (char **)env, &cause), 0);
	assert_int_equal(config_get_int(c, "gateway", "history"), 4000);
	assert_string_equal(config_get(c, "kafka", "group.id"), "from-env");
	/* < config_set (-o) */
	assert_int_equal(config_set(c, "gateway", "history", "5000", &cause), 0);
	assert_int_equal(config_get_int(c, "gateway", "history"), 5000);

	/* Values from lower sources that nothing above touched survive. */
	assert_int_equal(config_get_int(c, "gateway", "batch_ms"), 60);
	assert_int_equal(config_get_int(c, "gateway", "max_inflight"), 4);
	assert_int_equal(config_get_int(c, "gateway", "grace_s"), 7);
	assert_string_equal(config_get(c, "kafka", "session.timeout.ms"), "6000");

	/* A later config_set_default (embedded mode) overrides no user value... */
	config_set_default(c, "gateway", "history", "1");
	config_set_default(c, "gateway", "batch_ms", "1");
	config_set_default(c, "gateway", "max_inflight", "1");
	config_set_default(c, "kafka", "group.id", "mock");
	assert_int_equal(config_get_int(c, "gateway", "history"), 5000);
	assert_int_equal(config_get_int(c, "gateway", "batch_ms"), 60);
	assert_int_equal(config_get_int(c, "gateway", "max_inflight"), 4);
	assert_string_equal(config_get(c, "kafka", "group.id"), "from-env");
	/* ...but replaces defaults, its own earlier ones included. */
	config_set_default(c, "gateway", "grace_s", "9");
	config_set_default(c, "kafka", "session.timeout.ms", "7000");
	config_set_default(c, "storage", "file_root", "/tmp/x");
	assert_int_equal(config_get_int(c, "gateway", "grace_s"), 9);
	assert_string_equal(config_get(c, "kafka", "session.timeout.ms"), "7000");
	assert_string_equal(config_get(c, "storage", "file_root"), "/tmp/x");
	config_free(c);
}

/* config_dump into a string. */
static char *
dump(const struct config *c)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	config_dump(c, f);
	fclose(f);
	return buf;
}

static void
test_dump_masks_secrets(void **state)
{
	struct config *c = gw_config();
	char *cause, *s;

	assert_int_equal(load_text(c,
	    "[gateway]\n"
	    "max_inflight = 12\n"
	    "[storage]\n"
	    "result_prefix = https://alice:opensesame@store.example/r/?sig=abc123\n"
	    "[kafka]\n"
	    "bootstrap.servers = broker:9092\n"
	    "sasl.username = paia\n"
	    "sasl.password = hunter2\n"
	    "ssl.key.password = sekrit\n"
	    "ssl.key.location = /etc/paia/key.pem\n", NULL, &cause), 0);
	s = dump(c);
	assert_null(strstr(s, "hunter2"));
	assert_null(strstr(s, "sekrit"));
	assert_null(strstr(s, "opensesame"));
	assert_null(strstr(s, "abc123"));
	assert_mentions(s,
	    "[gateway]\n",
	    "max_inflight = 12\n",
	    "tasks_topic = paia.tasks\n",
	    "[kafka]\n",
	    "bootstrap.servers = broker:9092\n",
	    "sasl.username = paia\n",
	    "sasl.password = ********\n",
	    "ssl.key.password = ********\n",
	    "ssl.key.location = /etc/paia/key.pem\n",
	    "store.example/r/",
	    (const char *)NULL);
	free(s);
	config_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_file_good),
		cmocka_unit_test(test_file_misspelt_key),
		cmocka_unit_test(test_file_unknown_section),
		cmocka_unit_test(test_file_bad_int),
		cmocka_unit_test(test_file_bad_bool_enum),
		cmocka_unit_test(test_enum_choices),
		cmocka_unit_test(test_syntax_error_line),
		cmocka_unit_test(test_set),
		cmocka_unit_test(test_many_keys),
		cmocka_unit_test(test_options_defaults),
		cmocka_unit_test(test_options_file),
		cmocka_unit_test(test_env),
		cmocka_unit_test(test_env_misspelt),
		cmocka_unit_test(test_env_bad),
		cmocka_unit_test(test_priority),
		cmocka_unit_test(test_dump_masks_secrets),
		cmocka_unit_test(test_long_lines),
		cmocka_unit_test(test_not_a_config),
		cmocka_unit_test(test_syntax),
		cmocka_unit_test(test_control_characters),
		cmocka_unit_test(test_names),
		/* Known bugs last: under ASan they abort the program. */
		cmocka_unit_test(test_set_own_value_regression),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
