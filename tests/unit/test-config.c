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
	/* A key before any section header belongs to the unnamed section. */
	LOAD_FAILS(c, "orphan = 1\n", "[]");
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
		cmocka_unit_test(test_options_defaults),
		cmocka_unit_test(test_options_file),
		cmocka_unit_test(test_env),
		cmocka_unit_test(test_env_misspelt),
		cmocka_unit_test(test_env_bad),
		cmocka_unit_test(test_priority),
		cmocka_unit_test(test_dump_masks_secrets),
		/* Known bugs last: under ASan they abort the program. */
		cmocka_unit_test(test_set_own_value_regression),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
