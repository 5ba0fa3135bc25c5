/*
 * test-client.c: the pure parts of client/: terminal-safe text, JSON
 * values for display, durations, RFC 3339; where a gateway is found
 * (every source of the state folder, the socket, Kafka and the topics,
 * and which wins); the decoding of result v1 and dead-letter records
 * for display; UTF-8 made valid; a group member's assignment as the
 * broker hands it over (client_lag_assignment).
 *
 * The connection is test-client-conn.c's; the Kafka reader runs against
 * a broker in the integration tests (embedded.sh, tests/kafka/).
 */
#include "config.h"
#include "client.h"

#include <sys/wait.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common.h"
#include "options.h"

/* ---- text ---- */

static void
test_text_clean(void **state)
{
	char *s;

	s = client_text_clean("a\tb\nc\rd\x1b[31me\x7f\x01 \xc3\xa9");
	assert_string_equal(s, "a b c d?[31me?? \xc3\xa9");
	free(s);
	s = client_text_clean("");
	assert_string_equal(s, "");
	free(s);
}

static void
test_text_json(void **state)
{
	static const struct {
		const char *json;
		const char *want;
	} cases[] = {
		{ "null", "-" },
		{ "\"x\\u001by\\nz\"", "x?y z" },
		{ "true", "true" },
		{ "false", "false" },
		{ "42", "42" },
		{ "-7", "-7" },
		{ "1.5", "1.5" },
		{ "1e300", "1e+300" },
		{ "123456789012345", "123456789012345" },
		{ "[1,\"a\\tb\"]", "[1,\"a\\tb\"]" },
		{ "{\"k\":\"\\u0007\"}", "{\"k\":\"\\u0007\"}" },
	};
	cJSON *j;
	char *s;
	size_t i;

	s = client_text_json(NULL);
	assert_string_equal(s, "-");
	free(s);
	for (i = 0; i < nitems(cases); i++) {
		j = cJSON_Parse(cases[i].json);
		assert_non_null(j);
		s = client_text_json(j);
		if (strcmp(s, cases[i].want) != 0)
			fail_msg("%s: got %s, want %s", cases[i].json, s, cases[i].want);
		free(s);
		cJSON_Delete(j);
	}
}

static void
test_json_members(void **state)
{
	cJSON *j = cJSON_Parse("{\"s\":\"v\",\"n\":2.5,\"b\":true}");
	double d = 0;

	assert_string_equal(client_json_str(j, "s"), "v");
	assert_null(client_json_str(j, "n"));
	assert_null(client_json_str(j, "missing"));
	assert_null(client_json_str(NULL, "s"));
	assert_int_equal(client_json_num(j, "n", &d), 0);
	assert_true(d == 2.5);
	assert_int_equal(client_json_num(j, "b", &d), -1);
	assert_int_equal(client_json_num(j, "s", &d), -1);
	cJSON_Delete(j);
}

static void
test_text_duration(void **state)
{
	static const struct {
		int64_t ms;
		const char *want;
	} cases[] = {
		{ -1, "-" }, { 0, "0.0s" }, { 400, "0.4s" }, { 9999, "10.0s" }, { 10000, "10s" },
		{ 59999, "59s" }, { 60000, "1m00s" }, { 245000, "4m05s" }, { 3599999, "59m59s" },
		{ 3600000, "1h00m" }, { 7380000, "2h03m" }, { 86399999, "23h59m" },
		{ 86400000, "1d00h" }, { 273600000, "3d04h" },
	};
	char buf[32];
	size_t i;

	for (i = 0; i < nitems(cases); i++) {
		client_text_duration(cases[i].ms, buf, sizeof buf);
		if (strcmp(buf, cases[i].want) != 0)
			fail_msg("%lld ms: got %s, want %s", (long long)cases[i].ms, buf,
			    cases[i].want);
	}
}

static void
test_text_time(void **state)
{
	static const struct {
		const char *s;
		int rc;
		int64_t ms;
	} cases[] = {
		{ "2023-11-14T22:13:20.123Z", 0, 1700000000123LL },
		{ "2023-11-14T22:13:20Z", 0, 1700000000000LL },
		{ "2023-11-14t22:13:20.5z", 0, 1700000000500LL },
		{ "2023-11-14 22:13:20.123456Z", 0, 1700000000123LL },
		{ "2023-11-15T00:13:20.123+02:00", 0, 1700000000123LL },
		{ "2023-11-14T20:43:20-01:30", 0, 1700000000000LL },
		{ "1970-01-01T00:00:00Z", 0, 0 },
		{ "2023-11-14T22:13:20", -1, 0 },	/* no zone */
		{ "2023-11-14T22:13:20Zjunk", -1, 0 },
		{ "2023-11-14T22:13:20+0200", -1, 0 },
		{ "2023-11-14", -1, 0 },
		{ "yesterday", -1, 0 },
		{ "", -1, 0 },
	};
	char buf[32];
	int64_t ms;
	size_t i;

	assert_int_equal(util_time_parse(NULL, &ms), -1);
	for (i = 0; i < nitems(cases); i++) {
		ms = -42;
		if (util_time_parse(cases[i].s, &ms) != cases[i].rc)
			fail_msg("%s: rc %d expected", cases[i].s, cases[i].rc);
		if (cases[i].rc == 0 && ms != cases[i].ms)
			fail_msg("%s: got %lld, want %lld", cases[i].s, (long long)ms,
			    (long long)cases[i].ms);
	}
	/* What the gateway writes reads back exactly. */
	assert_string_equal(client_text_time_fmt(1700000000123LL, buf, sizeof buf),
	    "2023-11-14T22:13:20.123Z");
	assert_int_equal(util_time_parse(buf, &ms), 0);
	assert_int_equal(ms, 1700000000123LL);
}

/* ---- locate ---- */

static char tmpdir[256];

static const char *envs[] = {
	"PAIA_STATE_DIR", "PAIA_GATEWAY_STATE_DIR", "PAIA_SOCKET", "PAIA_CONTROL_SOCKET",
};

static int
locate_setup(void **state)
{
	const char *tmp = getenv("TMPDIR");
	size_t i;

	snprintf(tmpdir, sizeof tmpdir, "%s/test-client.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	for (i = 0; i < nitems(envs); i++)
		unsetenv(envs[i]);
	return 0;
}

static int
locate_teardown(void **state)
{
	size_t i;

	for (i = 0; i < nitems(envs); i++)
		unsetenv(envs[i]);
	util_rmtree(tmpdir);
	return 0;
}

static char *
path(const char *name)
{
	char *p;

	xasprintf(&p, "%s/%s", tmpdir, name);
	return p;
}

static void
write_file(const char *name, const char *text)
{
	char *p = path(name), *cause = NULL;

	if (util_write_file(p, text, strlen(text), 0644, &cause) != 0)
		fail_msg("%s", cause);
	free(p);
}

static struct config *
conf_load(const char *name, const char *text)
{
	struct config *conf = config_new(options_schema, options_passthrough);
	char *p = path(name), *cause = NULL;

	write_file(name, text);
	if (config_load_file(conf, p, &cause) != 0)
		fail_msg("%s", cause);
	free(p);
	return conf;
}

static void
test_locate_state_dir(void **state)
{
	struct client_locate_args a = { 0 };
	struct client_location loc = { 0 };
	struct config *conf = conf_load("s.conf", "[gateway]\nstate_dir = /from/conf\n");
	struct config *bare = conf_load("bare.conf", "");
	char *def = util_state_dir_default(1);

	/* Default, then the config (its schema default when silent), env, argument. */
	assert_int_equal(client_locate(&a, 0, &loc, NULL), 0);
	assert_string_equal(loc.state_dir, def);
	assert_int_equal(loc.state_dir_from, CLIENT_FROM_DEFAULT);
	assert_null(loc.socket_path);
	assert_null(loc.bootstrap);
	assert_int_equal(loc.embedded_read, 0);
	client_location_clear(&loc);
	a.conf = bare;
	client_locate(&a, 0, &loc, NULL);
	assert_string_equal(loc.state_dir, "/var/lib/paia");
	assert_int_equal(loc.state_dir_from, CLIENT_FROM_CONFIG);
	client_location_clear(&loc);
	a.conf = conf;
	client_locate(&a, 0, &loc, NULL);
	assert_string_equal(loc.state_dir, "/from/conf");
	client_location_clear(&loc);
	setenv("PAIA_GATEWAY_STATE_DIR", "/from/env2", 1);
	client_locate(&a, 0, &loc, NULL);
	assert_string_equal(loc.state_dir, "/from/env2");
	assert_int_equal(loc.state_dir_from, CLIENT_FROM_ENV);
	client_location_clear(&loc);
	setenv("PAIA_STATE_DIR", "", 1);	/* empty: as if unset */
	client_locate(&a, 0, &loc, NULL);
	assert_string_equal(loc.state_dir, "/from/env2");
	client_location_clear(&loc);
	setenv("PAIA_STATE_DIR", "/from/env1", 1);
	client_locate(&a, 0, &loc, NULL);
	assert_string_equal(loc.state_dir, "/from/env1");
	client_location_clear(&loc);
	a.state_dir = "/from/arg";
	client_locate(&a, 0, &loc, NULL);
	assert_string_equal(loc.state_dir, "/from/arg");
	assert_int_equal(loc.state_dir_from, CLIENT_FROM_ARG);
	assert_string_equal(client_from_name(loc.state_dir_from), "argument");
	client_location_clear(&loc);
	free(def);
	config_free(conf);
	config_free(bare);
}

static void
test_locate_socket(void **state)
{
	struct client_locate_args a = { 0 };
	struct client_location loc = { 0 };
	struct config *conf = conf_load("c.conf", "[control]\nsocket = /conf.sock\n");
	char *want, *cause = NULL;

	a.state_dir = tmpdir;
	/* Nothing anywhere: <state_dir>/control.sock. */
	assert_int_equal(client_locate(&a, CLIENT_LOCATE_SOCKET, &loc, &cause), 0);
	want = path("control.sock");
	assert_string_equal(loc.socket_path, want);
	assert_int_equal(loc.socket_from, CLIENT_FROM_DEFAULT);
	free(want);
	client_location_clear(&loc);

	write_file("embedded.json", "{\"control_socket\":\"/emb.sock\",\"pid\":1}");
	client_locate(&a, CLIENT_LOCATE_SOCKET, &loc, &cause);
	assert_string_equal(loc.socket_path, "/emb.sock");
	assert_int_equal(loc.socket_from, CLIENT_FROM_EMBEDDED);
	client_location_clear(&loc);

	a.conf = conf;
	client_locate(&a, CLIENT_LOCATE_SOCKET, &loc, &cause);
	assert_string_equal(loc.socket_path, "/conf.sock");
	assert_int_equal(loc.socket_from, CLIENT_FROM_CONFIG);
	/* embedded.json is not read when the config already said. */
	assert_int_equal(loc.embedded_read, 0);
	client_location_clear(&loc);

	setenv("PAIA_CONTROL_SOCKET", "/env2.sock", 1);
	client_locate(&a, CLIENT_LOCATE_SOCKET, &loc, &cause);
	assert_string_equal(loc.socket_path, "/env2.sock");
	assert_int_equal(loc.socket_from, CLIENT_FROM_ENV);
	client_location_clear(&loc);
	setenv("PAIA_SOCKET", "/env1.sock", 1);
	client_locate(&a, CLIENT_LOCATE_SOCKET, &loc, &cause);
	assert_string_equal(loc.socket_path, "/env1.sock");
	client_location_clear(&loc);
	a.socket = "/arg.sock";
	client_locate(&a, CLIENT_LOCATE_SOCKET, &loc, &cause);
	assert_string_equal(loc.socket_path, "/arg.sock");
	assert_int_equal(loc.socket_from, CLIENT_FROM_ARG);
	client_location_clear(&loc);
	config_free(conf);
}

static void
test_locate_broken_embedded(void **state)
{
	struct client_locate_args a = { 0 };
	struct client_location loc = { 0 };
	char *cause = NULL, *want;

	a.state_dir = tmpdir;
	write_file("embedded.json", "[\"not an object\"]");
	/* Harmless while nothing needs it ... */
	a.socket = "/arg.sock";
	assert_int_equal(client_locate(&a, CLIENT_LOCATE_SOCKET, &loc, &cause), 0);
	assert_string_equal(loc.socket_path, "/arg.sock");
	/* ... named when something does. */
	assert_int_equal(client_locate(&a, CLIENT_LOCATE_KAFKA, &loc, &cause), -1);
	want = path("embedded.json: not a JSON object");
	assert_string_equal(cause, want);
	free(want);
	free(cause);
	client_location_clear(&loc);
}

static void
test_locate_kafka(void **state)
{
	struct client_locate_args a = { 0 };
	struct client_location loc = { 0 };
	struct config *conf = conf_load("k.conf", "[kafka]\nbootstrap.servers = conf:9092\n"
	    "[gateway]\nresults_topic = conf.results\n");
	struct config *bare = conf_load("bare.conf", "[gateway]\ndlq_topic = bare.dlq\n");
	char *cause = NULL, *want;

	a.state_dir = tmpdir;
	/* Nothing anywhere: an error naming embedded.json, with and without -c. */
	assert_int_equal(client_locate(&a, CLIENT_LOCATE_KAFKA, &loc, &cause), -1);
	xasprintf(&want, "no Kafka bootstrap servers: give -b or -c, or start paia-gateway "
	    "--embedded (%s/embedded.json not found)", tmpdir);
	assert_string_equal(cause, want);
	free(want);
	free(cause);
	client_location_clear(&loc);
	a.conf = bare;
	a.config_path = "bare.conf";
	assert_int_equal(client_locate(&a, CLIENT_LOCATE_KAFKA, &loc, &cause), -1);
	xasprintf(&want, "no Kafka bootstrap servers: bare.conf has no kafka.bootstrap.servers "
	    "and %s/embedded.json is not there; give -b", tmpdir);
	assert_string_equal(cause, want);
	free(want);
	free(cause);
	client_location_clear(&loc);

	/* embedded.json of a running gateway (us): its servers and topics. */
	a.conf = NULL;
	xasprintf(&want, "{\"bootstrap_servers\":\"emb:1\",\"tasks_topic\":\"emb.tasks\","
	    "\"results_topic\":\"emb.results\",\"dlq_topic\":\"\",\"pid\":%d}", (int)getpid());
	write_file("embedded.json", want);
	free(want);
	assert_int_equal(client_locate(&a, CLIENT_LOCATE_KAFKA, &loc, &cause), 0);
	assert_string_equal(loc.bootstrap, "emb:1");
	assert_int_equal(loc.bootstrap_from, CLIENT_FROM_EMBEDDED);
	assert_string_equal(loc.topics[CLIENT_TOPIC_TASKS], "emb.tasks");
	assert_string_equal(loc.topics[CLIENT_TOPIC_RESULTS], "emb.results");
	/* An empty topic in embedded.json is no topic: the default. */
	assert_string_equal(loc.topics[CLIENT_TOPIC_DLQ], "paia.tasks.dlq");
	assert_int_equal(loc.topics_from[CLIENT_TOPIC_DLQ], CLIENT_FROM_DEFAULT);
	assert_int_equal(client_location_embedded_stale(&loc), 0);
	/* Filled parts stay; the socket comes from the same file read. */
	assert_int_equal(client_locate(&a, CLIENT_LOCATE_SOCKET | CLIENT_LOCATE_KAFKA, &loc,
	    &cause), 0);
	assert_string_equal(loc.bootstrap, "emb:1");
	client_location_clear(&loc);

	/* The config's servers and topics win over embedded.json. */
	a.conf = conf;
	a.config_path = "k.conf";
	client_locate(&a, CLIENT_LOCATE_KAFKA, &loc, &cause);
	assert_string_equal(loc.bootstrap, "conf:9092");
	assert_int_equal(loc.bootstrap_from, CLIENT_FROM_CONFIG);
	assert_string_equal(loc.topics[CLIENT_TOPIC_RESULTS], "conf.results");
	assert_int_equal(loc.topics_from[CLIENT_TOPIC_RESULTS], CLIENT_FROM_CONFIG);
	/* The schema gives every topic a default: a config always names them. */
	assert_string_equal(loc.topics[CLIENT_TOPIC_TASKS], "paia.tasks");
	client_location_clear(&loc);
	/* And the argument over both. */
	a.bootstrap = "arg:1";
	client_locate(&a, CLIENT_LOCATE_KAFKA, &loc, &cause);
	assert_string_equal(loc.bootstrap, "arg:1");
	assert_int_equal(loc.bootstrap_from, CLIENT_FROM_ARG);
	client_location_clear(&loc);
	config_free(conf);
	config_free(bare);
}

static void
test_locate_stale(void **state)
{
	struct client_locate_args a = { 0 };
	struct client_location loc = { 0 };
	char *cause = NULL, *json, *want;
	pid_t pid;
	int st;

	/* A pid that existed and is gone. */
	if ((pid = fork()) == 0)
		_exit(0);
	assert_true(pid > 0);
	waitpid(pid, &st, 0);
	xasprintf(&json, "{\"bootstrap_servers\":\"emb:1\",\"pid\":%d}", (int)pid);
	write_file("embedded.json", json);
	free(json);
	a.state_dir = tmpdir;
	assert_int_equal(client_locate(&a, CLIENT_LOCATE_KAFKA, &loc, &cause), -1);
	xasprintf(&want, "%s/embedded.json is stale: paia-gateway (pid %d) is not running; "
	    "start it or give -b", tmpdir, (int)pid);
	assert_string_equal(cause, want);
	free(want);
	free(cause);
	assert_int_equal(client_location_embedded_stale(&loc), 1);
	client_location_clear(&loc);
	/* -b does without it. */
	a.bootstrap = "arg:1";
	assert_int_equal(client_locate(&a, CLIENT_LOCATE_KAFKA, &loc, &cause), 0);
	client_location_clear(&loc);
}

/*
 * The hint is written into the caller's buffer even when there is none:
 * paiactl topics printed the buffer, uninitialised stack bytes and all.
 */
static void
test_kafka_hint(void **state)
{
	struct client_kafka k;
	char buf[64];

	memset(&k, 0, sizeof k);
	memset(buf, 'x', sizeof buf);
	assert_ptr_equal(client_kafka_hint(&k, buf, sizeof buf), buf);
	assert_string_equal(buf, "");
	snprintf(k.last_error, sizeof k.last_error, "1/1 brokers are down");
	client_kafka_hint(&k, buf, sizeof buf);
	assert_string_equal(buf, " (last error: 1/1 brokers are down)");
	client_kafka_hint(&k, buf, 10);
	assert_string_equal(buf, " (last er");
}

static void
test_text_utf8(void **state)
{
	char *s;

	s = client_text_utf8("ok \xc3\xa9", 5);
	assert_string_equal(s, "ok \xc3\xa9");
	free(s);
	/* A lone continuation byte, a cut sequence, an overlong '/', a surrogate, a NUL. */
	s = client_text_utf8("a\x80" "b\xe2\x82" "c\xc0\xaf" "d\xed\xa0\x80" "e\0f", 15);
	assert_string_equal(s, "a\xef\xbf\xbd" "b\xef\xbf\xbd\xef\xbf\xbd" "c\xef\xbf\xbd\xef\xbf\xbd"
	    "d\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" "e\xef\xbf\xbd" "f");
	free(s);
}

struct parts {
	int32_t p[8];
	int n;
};

static void
parts_cb(int32_t partition, void *arg)
{
	struct parts *ps = arg;

	if (ps->n < 8)
		ps->p[ps->n++] = partition;
}

static void
test_lag_assignment(void **state)
{
	/* version 1; [("t", [0, 2]), ("other", [1])]; user data of 2 bytes */
	static const unsigned char a[] = {
		0, 1, 0, 0, 0, 2,
		0, 1, 't', 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2,
		0, 5, 'o', 't', 'h', 'e', 'r', 0, 0, 0, 1, 0, 0, 0, 1,
		0, 0, 0, 2, 'u', 'd',
	};
	struct parts ps;
	size_t cut;

	memset(&ps, 0, sizeof ps);
	assert_int_equal(client_lag_assignment(a, sizeof a, "t", parts_cb, &ps), 0);
	assert_int_equal(ps.n, 2);
	assert_int_equal(ps.p[0], 0);
	assert_int_equal(ps.p[1], 2);
	memset(&ps, 0, sizeof ps);
	assert_int_equal(client_lag_assignment(a, sizeof a, "other", parts_cb, &ps), 0);
	assert_int_equal(ps.n, 1);
	/* A topic named like a prefix of another is not it. */
	memset(&ps, 0, sizeof ps);
	assert_int_equal(client_lag_assignment(a, sizeof a, "othe", parts_cb, &ps), 0);
	assert_int_equal(ps.n, 0);
	/* Nothing assigned (between rebalances): no partitions, no error. */
	assert_int_equal(client_lag_assignment(a, 0, "t", parts_cb, &ps), 0);
	/* Cut anywhere inside the partitions: malformed, never read past the end. */
	for (cut = 1; cut < 34; cut++) {
		unsigned char *b = malloc(cut);

		memcpy(b, a, cut);
		memset(&ps, 0, sizeof ps);
		assert_int_equal(client_lag_assignment(b, cut, "t", parts_cb, &ps), -1);
		free(b);
	}
	/* Counts that claim more than there is, or less than nothing. */
	{
		unsigned char big[] = { 0, 1, 0x7f, 0xff, 0xff, 0xff };
		unsigned char neg[] = { 0, 1, 0, 0, 0, 1, 0, 1, 't', 0xff, 0xff, 0xff, 0xff };

		assert_int_equal(client_lag_assignment(big, sizeof big, "t", parts_cb, &ps), -1);
		assert_int_equal(client_lag_assignment(neg, sizeof neg, "t", parts_cb, &ps), -1);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_clean),
		cmocka_unit_test(test_text_json),
		cmocka_unit_test(test_json_members),
		cmocka_unit_test(test_text_duration),
		cmocka_unit_test(test_text_time),
		cmocka_unit_test_setup_teardown(test_locate_state_dir, locate_setup,
		    locate_teardown),
		cmocka_unit_test_setup_teardown(test_locate_socket, locate_setup,
		    locate_teardown),
		cmocka_unit_test_setup_teardown(test_locate_broken_embedded, locate_setup,
		    locate_teardown),
		cmocka_unit_test_setup_teardown(test_locate_kafka, locate_setup, locate_teardown),
		cmocka_unit_test_setup_teardown(test_locate_stale, locate_setup, locate_teardown),
		cmocka_unit_test(test_kafka_hint),
		cmocka_unit_test(test_text_utf8),
		cmocka_unit_test(test_lag_assignment),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
