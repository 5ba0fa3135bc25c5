/*
 * test-control.c: control request parsing (proto_request_parse in
 * gateway/control.c): each command with its fields, and a table of
 * requests that must be refused with an error naming what is wrong:
 * broken or lax JSON, trailing data, duplicate fields, wrong types,
 * unknown commands and fields, ids with NUL or control characters.
 *
 * The socket itself (each command reaching its operation, refusals,
 * pipelining, events) is test-control-socket.c's; peer credentials and
 * hostile clients are tested on a running gateway by
 * tests/integration/hostile-input.sh.
 */
#include "config.h"
#include "gateway.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* Parse a request that must be accepted. */
static struct proto_request
parse_ok(const char *line)
{
	struct proto_request req;
	char *cause = NULL;

	if (proto_request_parse(line, strlen(line), &req, &cause) != 0)
		fail_msg("%s refused: %s", line, cause);
	assert_null(cause);
	return req;
}

static void
test_accepted(void **state)
{
	struct proto_request r;

	r = parse_ok("{\"cmd\":\"status\"}");
	assert_int_equal(r.cmd, PROTO_CMD_STATUS);
	assert_null(r.id);
	proto_request_clear(&r);

	r = parse_ok("{\"cmd\":\"gpus\"}");
	assert_int_equal(r.cmd, PROTO_CMD_GPUS);
	proto_request_clear(&r);

	r = parse_ok(" {\"cmd\" : \"tasks\"}\r");	/* a CR before the LF is whitespace */
	assert_int_equal(r.cmd, PROTO_CMD_TASKS);
	assert_null(r.state);
	proto_request_clear(&r);

	r = parse_ok("{\"state\":\"running\",\"cmd\":\"tasks\"}");
	assert_string_equal(r.state, "running");
	proto_request_clear(&r);

	r = parse_ok("{\"cmd\":\"tasks\",\"state\":\"active\"}");
	assert_string_equal(r.state, "active");
	proto_request_clear(&r);

	r = parse_ok("{\"cmd\":\"task\",\"id\":\"t-1.x_Y\"}");
	assert_int_equal(r.cmd, PROTO_CMD_TASK);
	assert_string_equal(r.id, "t-1.x_Y");
	proto_request_clear(&r);

	r = parse_ok("{\"cmd\":\"requeue\",\"id\":\"\\u0074\\u0031\"}");	/* escapes are fine */
	assert_int_equal(r.cmd, PROTO_CMD_REQUEUE);
	assert_string_equal(r.id, "t1");
	assert_int_equal(r.attempt, 0);
	proto_request_clear(&r);

	r = parse_ok("{\"cmd\":\"requeue\",\"id\":\"t1\",\"attempt\":2147483647}");
	assert_int_equal(r.attempt, 2147483647);
	proto_request_clear(&r);

	r = parse_ok("{\"cmd\":\"cancel\",\"id\":\"a23456789b123456789c123456789d123456789e123456789f123456789abcd\"}");
	assert_int_equal(r.cmd, PROTO_CMD_CANCEL);
	assert_int_equal(strlen(r.id), TASK_ID_MAX);
	proto_request_clear(&r);

	r = parse_ok("{\"cmd\":\"lag\"}");
	assert_int_equal(r.cmd, PROTO_CMD_LAG);
	assert_false(r.check);
	proto_request_clear(&r);

	r = parse_ok("{\"cmd\":\"lag\",\"check\":true}");
	assert_true(r.check);
	proto_request_clear(&r);

	r = parse_ok("{\"cmd\":\"lag\",\"check\":false}");
	assert_false(r.check);
	proto_request_clear(&r);

	r = parse_ok("{\"cmd\":\"subscribe\"}");
	assert_int_equal(r.cmd, PROTO_CMD_SUBSCRIBE);
	proto_request_clear(&r);

	r = parse_ok("{\"cmd\":\"vpn\"}");
	assert_int_equal(r.cmd, PROTO_CMD_VPN);
	proto_request_clear(&r);

	r = parse_ok("{\"cmd\":\"video_data\",\"id\":\"t1\"}");
	assert_int_equal(r.cmd, PROTO_CMD_VIDEO_DATA);
	assert_string_equal(r.id, "t1");
	assert_true(r.offset == 0);
	proto_request_clear(&r);

	r = parse_ok("{\"cmd\":\"video_data\",\"id\":\"t1\",\"offset\":9007199254740992}");
	assert_true(r.offset == INT64_C(9007199254740992));
	proto_request_clear(&r);
}

struct bad {
	const char *line;
	size_t len;		/* 0: strlen */
	const char *error;	/* must appear in the error */
};

static const struct bad bad[] = {
	/* not strict JSON, or not one object */
	{ "", 0, "not valid JSON: no text" },
	{ "hello", 0, "not valid JSON" },
	{ "{\"cmd\":\"status\"", 0, "not valid JSON" },
	{ "{\"cmd\":\"status\"} x", 0, "trailing data ('x')" },
	{ "{\"cmd\":\"status\"}{\"cmd\":\"tasks\"}", 0, "trailing data ('{')" },
	{ "{\"cmd\":\"status\"}\0garbage", sizeof("{\"cmd\":\"status\"}\0garbage") - 1,
	  "trailing data (a NUL byte)" },
	{ "\xef\xbb\xbf{\"cmd\":\"status\"}", 0, "byte order mark" },
	{ "{\"cmd\":\"status\",}", 0, "a comma before '}'" },
	{ "{'cmd':'status'}", 0, "not valid JSON" },
	{ "{\"cmd\":\"task\",\"id\":\"t1\",\"id\":\"t2\"}", 0, "duplicate name \"id\"" },
	{ "{\"cmd\":\"status\",\"cmd\":\"cancel\"}", 0, "duplicate name \"cmd\"" },
	{ "{\"cmd\":\"task\",\"id\":\"a\\u0000b\"}", 0, "\\u0000" },
	{ "{\"cmd\":\"task\",\"id\":\"a\0b\"}", sizeof("{\"cmd\":\"task\",\"id\":\"a\0b\"}") - 1,
	  "control character 0x00" },
	{ "{\"cmd\":\"lag\",\"check\":01}", 0, "leading zero" },
	{ "[{\"cmd\":\"status\"}]", 0, "not a JSON object (it is an array)" },
	{ "\"status\"", 0, "not a JSON object (it is a string)" },
	{ "null", 0, "not a JSON object (it is null)" },
	/* cmd */
	{ "{}", 0, "request needs a string field 'cmd'" },
	{ "{\"id\":\"t1\"}", 0, "request needs a string field 'cmd'" },
	{ "{\"cmd\":5}", 0, "field 'cmd' must be a string, not a number" },
	{ "{\"cmd\":null}", 0, "field 'cmd' must be a string, not null" },
	{ "{\"cmd\":[\"status\"]}", 0, "field 'cmd' must be a string, not an array" },
	{ "{\"cmd\":\"stat\"}", 0, "unknown command 'stat' (status, tasks, task, requeue, cancel, lag, subscribe, gpus, vpn, pods, logs, videos, frame, video_data)" },
	{ "{\"cmd\":\"vpn\",\"check\":true}", 0, "unknown field 'check' for 'vpn' (it takes no other field)" },
	{ "{\"cmd\":\"Status\"}", 0, "unknown command 'Status'" },
	{ "{\"cmd\":\"status\\n\"}", 0, "field 'cmd' must not hold control characters" },
	{ "{\"cmd\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}",
	  0, "xxxxxxxx...' (status" },
	/* fields */
	{ "{\"cmd\":\"status\",\"id\":\"t1\"}", 0, "unknown field 'id' for 'status' (it takes no other field)" },
	{ "{\"cmd\":\"tasks\",\"sate\":\"running\"}", 0, "unknown field 'sate' for 'tasks' (it takes state)" },
	{ "{\"cmd\":\"task\",\"ID\":\"t1\"}", 0, "unknown field 'ID' for 'task' (it takes id)" },
	{ "{\"cmd\":\"lag\",\"chek\":true}", 0, "unknown field 'chek' for 'lag' (it takes check)" },
	{ "{\"cmd\":\"subscribe\",\"state\":\"running\"}", 0, "unknown field 'state' for 'subscribe'" },
	{ "{\"cmd\":\"tasks\",\"a\\u0001\":1}", 0, "unknown field '?' for 'tasks'" },
	{ "{\"cmd\":\"tasks\",\"state\":1}", 0, "field 'state' must be a string, not a number" },
	{ "{\"cmd\":\"tasks\",\"state\":null}", 0, "field 'state' must be a string, not null" },
	{ "{\"cmd\":\"tasks\",\"state\":\"runing\"}", 0, "unknown state 'runing'" },
	{ "{\"cmd\":\"tasks\",\"state\":\"run\\u001b[2J\"}", 0, "field 'state' must not hold control characters" },
	{ "{\"cmd\":\"task\"}", 0, "request needs a string field 'id'" },
	{ "{\"cmd\":\"cancel\"}", 0, "request needs a string field 'id'" },
	{ "{\"cmd\":\"requeue\"}", 0, "request needs a string field 'id'" },
	{ "{\"cmd\":\"task\",\"id\":5}", 0, "field 'id' must be a string, not a number" },
	{ "{\"cmd\":\"cancel\",\"id\":true}", 0, "field 'id' must be a string, not a boolean" },
	{ "{\"cmd\":\"requeue\",\"id\":{}}", 0, "field 'id' must be a string, not an object" },
	{ "{\"cmd\":\"task\",\"id\":\"\"}", 0, "field 'id' must be 1 to 63 bytes" },
	{ "{\"cmd\":\"task\",\"id\":\"a23456789b123456789c123456789d123456789e123456789f123456789abcde\"}",
	  0, "field 'id' must be 1 to 63 bytes" },
	{ "{\"cmd\":\"task\",\"id\":\"t1\\n\"}", 0, "field 'id' must not hold control characters" },
	{ "{\"cmd\":\"cancel\",\"id\":\"t\\u007f\"}", 0, "field 'id' must not hold control characters" },
	{ "{\"cmd\":\"gpus\",\"id\":\"n1\"}", 0, "unknown field 'id' for 'gpus' (it takes no other field)" },
	{ "{\"cmd\":\"lag\",\"check\":1}", 0, "field 'check' must be a boolean, not a number" },
	{ "{\"cmd\":\"requeue\",\"id\":\"t1\",\"attempt\":0}", 0,
	  "field 'attempt' must be an integer from 1 to 2147483647" },
	{ "{\"cmd\":\"requeue\",\"id\":\"t1\",\"attempt\":1.5}", 0,
	  "field 'attempt' must be an integer from 1 to 2147483647" },
	{ "{\"cmd\":\"requeue\",\"id\":\"t1\",\"attempt\":1e300}", 0,
	  "field 'attempt' must be an integer from 1 to 2147483647" },
	{ "{\"cmd\":\"requeue\",\"id\":\"t1\",\"attempt\":\"2\"}", 0,
	  "field 'attempt' must be an integer from 1 to 2147483647, not a string" },
	{ "{\"cmd\":\"task\",\"id\":\"t1\",\"attempt\":2}", 0,
	  "unknown field 'attempt' for 'task' (it takes id)" },
	{ "{\"cmd\":\"lag\",\"check\":\"true\"}", 0, "field 'check' must be a boolean, not a string" },
	{ "{\"cmd\":\"video_data\"}", 0, "request needs a string field 'id'" },
	{ "{\"cmd\":\"video_data\",\"id\":\"t1\",\"offset\":-1}", 0,
	  "field 'offset' must be an integer from 0 to 9007199254740992" },
	{ "{\"cmd\":\"video_data\",\"id\":\"t1\",\"offset\":1.5}", 0,
	  "field 'offset' must be an integer from 0 to 9007199254740992" },
	{ "{\"cmd\":\"video_data\",\"id\":\"t1\",\"offset\":1e300}", 0,
	  "field 'offset' must be an integer from 0 to 9007199254740992" },
	{ "{\"cmd\":\"video_data\",\"id\":\"t1\",\"offset\":\"0\"}", 0,
	  "field 'offset' must be an integer from 0 to 9007199254740992, not a string" },
	{ "{\"cmd\":\"frame\",\"id\":\"t1\",\"offset\":0}", 0,
	  "unknown field 'offset' for 'frame' (it takes id, at)" },
	{ "{\"cmd\":\"video_data\",\"id\":\"t1\",\"at\":0}", 0,
	  "unknown field 'at' for 'video_data' (it takes id, offset)" },
};

static void
test_refused(void **state)
{
	struct proto_request req;
	size_t i;
	int failures = 0;

	for (i = 0; i < nitems(bad); i++) {
		size_t len = bad[i].len != 0 ? bad[i].len : strlen(bad[i].line);
		char *cause = NULL;

		if (proto_request_parse(bad[i].line, len, &req, &cause) == 0) {
			print_error("case %zu %s: accepted\n", i, bad[i].line);
			failures++;
			proto_request_clear(&req);
			continue;
		}
		if (cause == NULL || strstr(cause, bad[i].error) == NULL) {
			print_error("case %zu %s: error \"%s\", expected \"%s\"\n", i, bad[i].line,
			    cause != NULL ? cause : "NULL", bad[i].error);
			failures++;
		} else if (strlen(cause) > 200) {
			print_error("case %zu: error too long: %s\n", i, cause);
			failures++;
		}
		/* Nothing is left allocated in a refused request. */
		assert_null(req.id);
		assert_null(req.state);
		free(cause);
	}
	assert_int_equal(failures, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepted),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
