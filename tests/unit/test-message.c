/*
 * test-message.c: the message contracts of gateway/message.c: task v1
 * decoding and validation (one table case or more per dead-letter
 * reason, each checking the reason and that the detail names what is
 * wrong), the decoded fields of valid tasks and their defaults, the
 * requeued task, the dead-letter record (text, base64, truncation) and
 * the file name taken from a URL.
 *
 * Result v1 is built in task.c and is not tested here.
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

/* A valid task is BASE inside braces; cases add or replace fields. */
#define BASE_NO_ID "\"version\":1,\"game\":\"pong\",\"program\":\"file:///srv/p.py\""
#define BASE "\"task_id\":\"t1\"," BASE_NO_ID
#define TASK(extra) "{" BASE extra "}"
#define ID64 "a123456789b123456789c123456789d123456789e123456789f123456789abcd"

struct bad_case {
	const char *name;
	const char *msg;	/* NULL: generated (too large) */
	size_t len;		/* 0: strlen(msg) */
	enum dlq_reason reason;
	const char *detail;	/* must appear in the detail */
	const char *detail2;	/* and this too, when not NULL */
	const char *task_id;	/* the readable task id, or NULL */
};

static const struct bad_case bad_cases[] = {
	/* too_large */
	{ "over 1 MiB", NULL, TASK_MAX_BYTES + 1, DLQ_TOO_LARGE, "1048576", "1048577", NULL },

	/* invalid_utf8 */
	{ "overlong slash", TASK(",\"entry\":\"\xc0\xaf\""), 0, DLQ_INVALID_UTF8, "UTF-8", NULL, NULL },
	{ "overlong 3-byte", TASK(",\"game_version\":\"\xe0\x80\xaf\""), 0, DLQ_INVALID_UTF8,
	    "UTF-8", NULL, NULL },
	{ "surrogate", TASK(",\"params\":{\"s\":\"\xed\xa0\x80\"}"), 0, DLQ_INVALID_UTF8, "UTF-8",
	    NULL, NULL },
	{ "truncated sequence at end", TASK("") "\xe2\x82", 0, DLQ_INVALID_UTF8, "UTF-8", NULL,
	    NULL },
	{ "truncated sequence inside", TASK(",\"entry\":\"a\xe2\x82\""), 0, DLQ_INVALID_UTF8,
	    "UTF-8", NULL, NULL },
	{ "latin-1 byte", TASK(",\"game_version\":\"caf\xe9\""), 0, DLQ_INVALID_UTF8, "UTF-8",
	    NULL, NULL },
	{ "0xff byte", "\xff" TASK(""), 0, DLQ_INVALID_UTF8, "UTF-8", NULL, NULL },

	/* invalid_json */
	{ "empty", "", 0, DLQ_INVALID_JSON, "empty", NULL, NULL },
	{ "whitespace only", " \n\t ", 0, DLQ_INVALID_JSON, "JSON", NULL, NULL },
	{ "truncated object", "{\"version\":1,", 0, DLQ_INVALID_JSON, "JSON", NULL, NULL },
	{ "single quotes", "{'version':1}", 0, DLQ_INVALID_JSON, "JSON", NULL, NULL },
	{ "trailing comma", "{\"version\":1,}", 0, DLQ_INVALID_JSON, "JSON", NULL, NULL },
	{ "bare word", "hello", 0, DLQ_INVALID_JSON, "JSON", NULL, NULL },
	{ "trailing garbage", TASK("") " x", 0, DLQ_INVALID_JSON, "trailing", NULL, NULL },
	{ "two objects", TASK("") TASK(""), 0, DLQ_INVALID_JSON, "trailing", NULL, NULL },
	{ "NUL after object", TASK("") "\0", sizeof(TASK("")), DLQ_INVALID_JSON, "NUL", NULL,
	    NULL },
	{ "NUL inside", "{\"version\":1,\0\"task_id\":\"t1\"}",
	    sizeof("{\"version\":1,\0\"task_id\":\"t1\"}") - 1, DLQ_INVALID_JSON, "NUL",
	    NULL, NULL },

	/* strict JSON: \u0000 in any string, names twice, the RFC's grammar */
	{ "NUL escape in task_id", "{\"task_id\":\"a\\u0000b\"," BASE_NO_ID "}", 0, DLQ_INVALID_JSON,
	    "\\u0000", "byte 13", NULL },
	{ "NUL escape in game", "{\"version\":1,\"task_id\":\"t1\",\"game\":\"pong\\u0000x\","
	    "\"program\":\"file:///p\"}", 0, DLQ_INVALID_JSON, "\\u0000", NULL, NULL },
	{ "NUL escape in program", "{\"version\":1,\"task_id\":\"t1\",\"game\":\"pong\","
	    "\"program\":\"file:///p\\u0000.sh\"}", 0, DLQ_INVALID_JSON, "\\u0000", NULL, NULL },
	{ "NUL escape in game_version", TASK(",\"game_version\":\"1\\u0000\""), 0,
	    DLQ_INVALID_JSON, "\\u0000", NULL, NULL },
	{ "NUL escape in model", TASK(",\"model\":\"s3://b/m\\u0000\""), 0, DLQ_INVALID_JSON,
	    "\\u0000", NULL, NULL },
	{ "NUL escape in entry", TASK(",\"entry\":\"main.py\\u0000.txt\""), 0, DLQ_INVALID_JSON,
	    "\\u0000", NULL, NULL },
	{ "NUL escape in result_prefix", TASK(",\"result_prefix\":\"s3://b/\\u0000x/\""), 0,
	    DLQ_INVALID_JSON, "\\u0000", NULL, NULL },
	{ "NUL escape in a params key", TASK(",\"params\":{\"seed\\u0000x\":1}"), 0,
	    DLQ_INVALID_JSON, "\\u0000", NULL, NULL },
	{ "NUL escape in a params value", TASK(",\"params\":{\"n\":[\"a\\u0000\"]}"), 0,
	    DLQ_INVALID_JSON, "\\u0000", NULL, NULL },
	{ "NUL escape in an unknown field", TASK(",\"note\\u0000\":1"), 0, DLQ_INVALID_JSON,
	    "\\u0000", NULL, NULL },
	{ "task_id twice", TASK(",\"task_id\":\"t2\""), 0, DLQ_INVALID_JSON,
	    "duplicate name \"task_id\"", "byte 71", NULL },
	{ "program twice", TASK(",\"program\":\"file:///srv/evil.py\""), 0, DLQ_INVALID_JSON,
	    "duplicate name \"program\"", NULL, NULL },
	{ "program twice, escaped", TASK(",\"pro\\u0067ram\":\"file:///srv/evil.py\""), 0,
	    DLQ_INVALID_JSON, "duplicate name \"program\"", NULL, NULL },
	{ "attempt twice", TASK(",\"attempt\":1,\"attempt\":5"), 0, DLQ_INVALID_JSON,
	    "duplicate name \"attempt\"", NULL, NULL },
	{ "params key twice", TASK(",\"params\":{\"seed\":1,\"seed\":2}"), 0, DLQ_INVALID_JSON,
	    "duplicate name \"seed\"", NULL, NULL },
	{ "nested key twice", TASK(",\"resources\":{\"gpu\":0,\"gpu\":16}"), 0,
	    DLQ_INVALID_JSON, "duplicate name \"gpu\"", NULL, NULL },
	{ "leading zero", "{\"version\":01,\"task_id\":\"t1\"}", 0, DLQ_INVALID_JSON,
	    "leading zero", "byte 11", NULL },
	{ "number ends in a dot", TASK(",\"timeout_s\":1."), 0, DLQ_INVALID_JSON, "'.'", NULL,
	    NULL },
	{ "number starts with a dot", TASK(",\"params\":{\"x\":.5}"), 0, DLQ_INVALID_JSON,
	    "digit", NULL, NULL },
	{ "byte order mark", "\xef\xbb\xbf" TASK(""), 0, DLQ_INVALID_JSON, "byte order mark",
	    NULL, NULL },
	{ "raw tab in a string", TASK(",\"game_version\":\"1\t2\""), 0, DLQ_INVALID_JSON,
	    "control character", NULL, NULL },
	{ "lone surrogate", TASK(",\"params\":{\"s\":\"\\udc00\"}"), 0, DLQ_INVALID_JSON,
	    "surrogate", NULL, NULL },
	{ "nested too deep", TASK(",\"params\":{\"a\":"
	    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}"),
	    0, DLQ_INVALID_JSON, "nested deeper", NULL, NULL },

	/* not_object */
	{ "array", "[{" BASE "}]", 0, DLQ_NOT_OBJECT, "object", "array", NULL },
	{ "number", "42", 0, DLQ_NOT_OBJECT, "object", "number", NULL },
	{ "string", "\"task\"", 0, DLQ_NOT_OBJECT, "object", "string", NULL },
	{ "null", "null", 0, DLQ_NOT_OBJECT, "object", "null", NULL },
	{ "boolean", "true", 0, DLQ_NOT_OBJECT, "object", "boolean", NULL },

	/* unsupported_version */
	{ "version 2", "{\"version\":2,\"task_id\":\"t1\"}", 0, DLQ_UNSUPPORTED_VERSION,
	    "version", "2", "t1" },
	{ "version 0", "{\"version\":0,\"task_id\":\"t1\"}", 0, DLQ_UNSUPPORTED_VERSION,
	    "version", NULL, "t1" },
	{ "version 1.5", "{\"version\":1.5,\"task_id\":\"t1\"}", 0, DLQ_UNSUPPORTED_VERSION,
	    "version", "1.5", "t1" },
	{ "version -1", "{\"version\":-1}", 0, DLQ_UNSUPPORTED_VERSION, "version", NULL, NULL },

	/* missing_field */
	{ "no version", "{\"task_id\":\"t1\",\"game\":\"pong\",\"program\":\"file:///p\"}", 0,
	    DLQ_MISSING_FIELD, "version", NULL, "t1" },
	{ "empty object", "{}", 0, DLQ_MISSING_FIELD, "version", NULL, NULL },
	{ "no task_id", "{" BASE_NO_ID "}", 0, DLQ_MISSING_FIELD, "task_id", NULL, NULL },
	{ "no game", "{\"version\":1,\"task_id\":\"t1\",\"program\":\"file:///p\"}", 0,
	    DLQ_MISSING_FIELD, "game", NULL, "t1" },
	{ "no program", "{\"version\":1,\"task_id\":\"t1\",\"game\":\"pong\"}", 0,
	    DLQ_MISSING_FIELD, "program", NULL, "t1" },
	{ "field names are case-sensitive", "{\"Version\":1}", 0, DLQ_MISSING_FIELD, "version",
	    NULL, NULL },

	/* wrong_type */
	{ "version string", "{\"version\":\"1\",\"task_id\":\"t1\"}", 0, DLQ_WRONG_TYPE,
	    "version", "string", "t1" },
	{ "version null", "{\"version\":null}", 0, DLQ_WRONG_TYPE, "version", NULL, NULL },
	{ "version bool", "{\"version\":true}", 0, DLQ_WRONG_TYPE, "version", NULL, NULL },
	{ "task_id number", "{\"task_id\":5," BASE_NO_ID "}", 0, DLQ_WRONG_TYPE, "task_id",
	    "number", NULL },
	{ "task_id null", "{\"task_id\":null," BASE_NO_ID "}", 0, DLQ_WRONG_TYPE, "task_id",
	    NULL, NULL },
	{ "game array", "{\"version\":1,\"task_id\":\"t1\",\"game\":[\"pong\"],\"program\":\"file:///p\"}",
	    0, DLQ_WRONG_TYPE, "game", "array", "t1" },
	{ "program object", "{\"version\":1,\"task_id\":\"t1\",\"game\":\"pong\",\"program\":{}}",
	    0, DLQ_WRONG_TYPE, "program", "object", "t1" },
	{ "game_version number", TASK(",\"game_version\":1"), 0, DLQ_WRONG_TYPE, "game_version",
	    NULL, "t1" },
	{ "model number", TASK(",\"model\":1"), 0, DLQ_WRONG_TYPE, "model", NULL, "t1" },
	{ "entry bool", TASK(",\"entry\":false"), 0, DLQ_WRONG_TYPE, "entry", NULL, "t1" },
	{ "params array", TASK(",\"params\":[]"), 0, DLQ_WRONG_TYPE, "params", "array", "t1" },
	{ "params string", TASK(",\"params\":\"{}\""), 0, DLQ_WRONG_TYPE, "params", NULL, "t1" },
	{ "params number", TASK(",\"params\":1"), 0, DLQ_WRONG_TYPE, "params", NULL, "t1" },
	{ "timeout_s string", TASK(",\"timeout_s\":\"60\""), 0, DLQ_WRONG_TYPE, "timeout_s", NULL,
	    "t1" },
	{ "timeout_s fraction", TASK(",\"timeout_s\":1.5"), 0, DLQ_WRONG_TYPE, "timeout_s", NULL,
	    "t1" },
	{ "timeout_s bool", TASK(",\"timeout_s\":true"), 0, DLQ_WRONG_TYPE, "timeout_s", NULL,
	    "t1" },
	{ "attempt string", TASK(",\"attempt\":\"2\""), 0, DLQ_WRONG_TYPE, "attempt", NULL, "t1" },
	{ "attempt fraction", TASK(",\"attempt\":2.5"), 0, DLQ_WRONG_TYPE, "attempt", NULL, "t1" },
	{ "attempt array", TASK(",\"attempt\":[1]"), 0, DLQ_WRONG_TYPE, "attempt", NULL, "t1" },
	{ "resources array", TASK(",\"resources\":[]"), 0, DLQ_WRONG_TYPE, "resources", NULL,
	    "t1" },
	{ "resources number", TASK(",\"resources\":1"), 0, DLQ_WRONG_TYPE, "resources", NULL,
	    "t1" },
	{ "resources.gpu string", TASK(",\"resources\":{\"gpu\":\"1\"}"), 0, DLQ_WRONG_TYPE,
	    "resources", "gpu", "t1" },
	{ "resources.gpu fraction", TASK(",\"resources\":{\"gpu\":0.5}"), 0, DLQ_WRONG_TYPE,
	    "resources", "gpu", "t1" },
	{ "result_prefix number", TASK(",\"result_prefix\":1"), 0, DLQ_WRONG_TYPE,
	    "result_prefix", NULL, "t1" },

	/* invalid_value */
	{ "task_id empty", "{\"task_id\":\"\"," BASE_NO_ID "}", 0, DLQ_INVALID_VALUE, "task_id",
	    NULL, NULL },
	{ "task_id slash", "{\"task_id\":\"a/b\"," BASE_NO_ID "}", 0, DLQ_INVALID_VALUE,
	    "task_id", NULL, NULL },
	{ "task_id dot-dot", "{\"task_id\":\"..\"," BASE_NO_ID "}", 0, DLQ_INVALID_VALUE,
	    "task_id", NULL, NULL },
	{ "task_id leading dot", "{\"task_id\":\".x\"," BASE_NO_ID "}", 0, DLQ_INVALID_VALUE,
	    "task_id", NULL, NULL },
	{ "task_id leading dash", "{\"task_id\":\"-x\"," BASE_NO_ID "}", 0, DLQ_INVALID_VALUE,
	    "task_id", NULL, NULL },
	{ "task_id space", "{\"task_id\":\"a b\"," BASE_NO_ID "}", 0, DLQ_INVALID_VALUE,
	    "task_id", NULL, NULL },
	{ "task_id non-ascii", "{\"task_id\":\"t\xc3\xa9\"," BASE_NO_ID "}", 0, DLQ_INVALID_VALUE,
	    "task_id", NULL, NULL },
	{ "task_id 64 chars", "{\"task_id\":\"" ID64 "\"," BASE_NO_ID "}", 0, DLQ_INVALID_VALUE,
	    "task_id", "63", NULL },
	{ "game empty", "{\"version\":1,\"task_id\":\"t1\",\"game\":\"\",\"program\":\"file:///p\"}",
	    0, DLQ_INVALID_VALUE, "game", NULL, "t1" },
	{ "game slash", "{\"version\":1,\"task_id\":\"t1\",\"game\":\"a/b\",\"program\":\"file:///p\"}",
	    0, DLQ_INVALID_VALUE, "game", NULL, "t1" },
	{ "game_version empty", TASK(",\"game_version\":\"\""), 0, DLQ_INVALID_VALUE,
	    "game_version", NULL, "t1" },
	{ "program not a URL", "{\"version\":1,\"task_id\":\"t1\",\"game\":\"g\",\"program\":\"p.py\"}",
	    0, DLQ_INVALID_VALUE, "program", NULL, "t1" },
	{ "program absolute path", "{\"version\":1,\"task_id\":\"t1\",\"game\":\"g\",\"program\":\"/srv/p.py\"}",
	    0, DLQ_INVALID_VALUE, "program", NULL, "t1" },
	{ "program ftp", "{\"version\":1,\"task_id\":\"t1\",\"game\":\"g\",\"program\":\"ftp://h/p\"}",
	    0, DLQ_INVALID_VALUE, "program", NULL, "t1" },
	{ "program scheme only", "{\"version\":1,\"task_id\":\"t1\",\"game\":\"g\",\"program\":\"file://\"}",
	    0, DLQ_INVALID_VALUE, "program", NULL, "t1" },
	{ "program with space", "{\"version\":1,\"task_id\":\"t1\",\"game\":\"g\",\"program\":\"http://h/a b\"}",
	    0, DLQ_INVALID_VALUE, "program", NULL, "t1" },
	{ "program empty", "{\"version\":1,\"task_id\":\"t1\",\"game\":\"g\",\"program\":\"\"}",
	    0, DLQ_INVALID_VALUE, "program", NULL, "t1" },
	{ "model not a URL", TASK(",\"model\":\"m.bin\""), 0, DLQ_INVALID_VALUE, "model", NULL,
	    "t1" },
	{ "entry ..", TASK(",\"entry\":\"..\""), 0, DLQ_INVALID_VALUE, "entry", "'..'", "t1" },
	{ "entry ../x", TASK(",\"entry\":\"../x\""), 0, DLQ_INVALID_VALUE, "entry", "'..'", "t1" },
	{ "entry a/../b", TASK(",\"entry\":\"a/../b\""), 0, DLQ_INVALID_VALUE, "entry", "'..'",
	    "t1" },
	{ "entry a/..", TASK(",\"entry\":\"a/..\""), 0, DLQ_INVALID_VALUE, "entry", "'..'", "t1" },
	{ "entry absolute", TASK(",\"entry\":\"/etc/passwd\""), 0, DLQ_INVALID_VALUE, "entry",
	    "relative", "t1" },
	{ "entry absolute with ..", TASK(",\"entry\":\"/../x\""), 0, DLQ_INVALID_VALUE, "entry",
	    "relative", "t1" },
	{ "entry empty", TASK(",\"entry\":\"\""), 0, DLQ_INVALID_VALUE, "entry", "empty", "t1" },
	{ "entry empty segment", TASK(",\"entry\":\"a//b\""), 0, DLQ_INVALID_VALUE, "entry",
	    "empty or '.' segments", "t1" },
	{ "entry dot segment", TASK(",\"entry\":\"./a\""), 0, DLQ_INVALID_VALUE, "entry",
	    "'.' segments", "t1" },
	{ "entry trailing slash", TASK(",\"entry\":\"a/\""), 0, DLQ_INVALID_VALUE, "entry",
	    "empty or '.' segments", "t1" },
	{ "entry backslash", TASK(",\"entry\":\"..\\\\x\""), 0, DLQ_INVALID_VALUE, "entry",
	    "backslash", "t1" },
	{ "entry control char", TASK(",\"entry\":\"a\\u0001b\""), 0, DLQ_INVALID_VALUE, "entry",
	    "control characters", "t1" },
	{ "entry DEL", TASK(",\"entry\":\"a\x7f\""), 0, DLQ_INVALID_VALUE, "entry",
	    "control characters", "t1" },
	{ "entry newline", TASK(",\"entry\":\"a\\nb\""), 0, DLQ_INVALID_VALUE, "entry",
	    "control characters", "t1" },
	{ "entry 256 bytes", TASK(",\"entry\":\"" ID64 ID64 ID64 ID64 "\""), 0, DLQ_INVALID_VALUE,
	    "entry", "255", "t1" },
	{ "game_version control char", TASK(",\"game_version\":\"1\\u001b[2J\""), 0,
	    DLQ_INVALID_VALUE, "game_version", "control", "t1" },
	{ "timeout_s 0", TASK(",\"timeout_s\":0"), 0, DLQ_INVALID_VALUE, "timeout_s", NULL, "t1" },
	{ "timeout_s negative", TASK(",\"timeout_s\":-5"), 0, DLQ_INVALID_VALUE, "timeout_s",
	    NULL, "t1" },
	{ "timeout_s over a week", TASK(",\"timeout_s\":604801"), 0, DLQ_INVALID_VALUE,
	    "timeout_s", "604800", "t1" },
	{ "timeout_s huge", TASK(",\"timeout_s\":1e300"), 0, DLQ_INVALID_VALUE, "timeout_s", NULL,
	    "t1" },
	{ "attempt 0", TASK(",\"attempt\":0"), 0, DLQ_INVALID_VALUE, "attempt", NULL, "t1" },
	{ "attempt negative", TASK(",\"attempt\":-1"), 0, DLQ_INVALID_VALUE, "attempt", NULL,
	    "t1" },
	{ "attempt 1001", TASK(",\"attempt\":1001"), 0, DLQ_INVALID_VALUE, "attempt", "1000",
	    "t1" },
	{ "resources.gpu 17", TASK(",\"resources\":{\"gpu\":17}"), 0, DLQ_INVALID_VALUE,
	    "resources", "gpu", "t1" },
	{ "resources.gpu negative", TASK(",\"resources\":{\"gpu\":-1}"), 0, DLQ_INVALID_VALUE,
	    "resources", "gpu", "t1" },
	{ "result_prefix not a URL", TASK(",\"result_prefix\":\"results/\""), 0,
	    DLQ_INVALID_VALUE, "result_prefix", NULL, "t1" },
	{ "result_prefix with user info", TASK(",\"result_prefix\":\"https://u:pw@h/r/\""), 0,
	    DLQ_INVALID_VALUE, "result_prefix", "user information", "t1" },
	{ "result_prefix with a user", TASK(",\"result_prefix\":\"http://u@h:8080/r/\""), 0,
	    DLQ_INVALID_VALUE, "result_prefix", "user information", "t1" },
	{ "result_prefix with a query", TASK(",\"result_prefix\":\"https://h/r/?X-Amz-Signature=s\""),
	    0, DLQ_INVALID_VALUE, "result_prefix", "query", "t1" },
	{ "result_prefix with an empty query", TASK(",\"result_prefix\":\"https://h/r?\""), 0,
	    DLQ_INVALID_VALUE, "result_prefix", "query", "t1" },
	{ "result_prefix with a fragment", TASK(",\"result_prefix\":\"http://h/r/#x\""), 0,
	    DLQ_INVALID_VALUE, "result_prefix", "fragment", "t1" },
	{ "result_prefix with a query, s3", TASK(",\"result_prefix\":\"s3://b/r/?versionId=1\""), 0,
	    DLQ_INVALID_VALUE, "result_prefix", "query", "t1" },
	{ "result_prefix file with a query", TASK(",\"result_prefix\":\"file:///srv/r?x\""), 0,
	    DLQ_INVALID_VALUE, "result_prefix", "query", "t1" },
	{ "result_prefix without a host", TASK(",\"result_prefix\":\"https:///r/\""), 0,
	    DLQ_INVALID_VALUE, "result_prefix", "host", "t1" },
};

/* A valid task padded with spaces to len bytes (len > its length). */
static char *
padded_task(size_t len)
{
	static const char t[] = TASK("");
	char *buf = malloc(len);

	assert_non_null(buf);
	memset(buf, ' ', len);
	memcpy(buf, t, sizeof t - 1);
	return buf;
}

static void
test_decode_bad(void **state)
{
	int seen[DLQ_DUPLICATE_TASK + 1] = { 0 };
	size_t i, len;
	int r, failures = 0;

	for (i = 0; i < nitems(bad_cases); i++) {
		const struct bad_case *c = &bad_cases[i];
		struct task_spec *spec = (struct task_spec *)1;
		enum dlq_reason reason = DLQ_DUPLICATE_TASK;
		char *detail = NULL, *task_id = (char *)1, *buf = NULL;
		const void *msg = c->msg;

		len = c->len != 0 ? c->len : strlen(c->msg);
		if (c->msg == NULL)
			msg = buf = padded_task(len);
		r = msg_task_decode(msg, len, &spec, &reason, &detail, &task_id);
		seen[reason]++;
		if (r != -1 || spec != NULL || detail == NULL) {
			print_error("case \"%s\": decode returned %d, spec %p, detail %s\n", c->name,
			    r, (void *)spec, detail != NULL ? detail : "NULL");
			failures++;
		} else if (reason != c->reason) {
			print_error("case \"%s\": reason %s, expected %s (detail: %s)\n", c->name,
			    msg_dlq_reason_name(reason), msg_dlq_reason_name(c->reason), detail);
			failures++;
		} else if (strstr(detail, c->detail) == NULL ||
		    (c->detail2 != NULL && strstr(detail, c->detail2) == NULL)) {
			print_error("case \"%s\": detail \"%s\" does not name \"%s\"%s%s\n", c->name,
			    detail, c->detail, c->detail2 != NULL ? " and " : "",
			    c->detail2 != NULL ? c->detail2 : "");
			failures++;
		} else if (strlen(detail) > 160) {
			print_error("case \"%s\": detail too long (%zu bytes): %s\n", c->name,
			    strlen(detail), detail);
			failures++;
		} else if ((c->task_id == NULL) != (task_id == NULL) ||
		    (task_id != NULL && strcmp(task_id, c->task_id) != 0)) {
			print_error("case \"%s\": task_id %s, expected %s\n", c->name,
			    task_id != NULL ? task_id : "NULL", c->task_id != NULL ? c->task_id : "NULL");
			failures++;
		}
		if (spec != NULL && spec != (struct task_spec *)1)
			msg_task_free(spec);
		if (task_id != (char *)1)
			free(task_id);
		free(detail);
		free(buf);
	}
	assert_int_equal(failures, 0);
	/* The table covers every reason a decode can give. */
	for (r = DLQ_TOO_LARGE; r <= DLQ_INVALID_VALUE; r++)
		if (seen[r] == 0)
			fail_msg("no case gave %s", msg_dlq_reason_name((enum dlq_reason)r));
}

/* Decode that must succeed. */
static struct task_spec *
decode_ok(const char *msg, size_t len)
{
	struct task_spec *spec = NULL;
	enum dlq_reason reason;
	char *detail = NULL, *task_id = NULL;

	if (msg_task_decode(msg, len, &spec, &reason, &detail, &task_id) != 0)
		fail_msg("decode of %.200s failed: %s: %s", msg, msg_dlq_reason_name(reason),
		    detail != NULL ? detail : "");
	assert_non_null(spec);
	assert_null(detail);
	/* The task id is not handed back on success (it is in spec). */
	free(task_id);
	return spec;
}

static void
assert_json_equal(const char *got, const char *want)
{
	cJSON *a = cJSON_Parse(got), *b = cJSON_Parse(want);

	assert_non_null(a);
	assert_non_null(b);
	if (!cJSON_Compare(a, b, 1))
		fail_msg("JSON %s, expected %s", got, want);
	cJSON_Delete(a);
	cJSON_Delete(b);
}

static void
test_decode_minimal(void **state)
{
	static const char msg[] = TASK("");
	struct task_spec *t = decode_ok(msg, strlen(msg));

	assert_string_equal(t->task_id, "t1");
	assert_string_equal(t->game, "pong");
	assert_string_equal(t->program, "file:///srv/p.py");
	assert_int_equal(t->attempt, 1);
	assert_string_equal(t->params, "{}");
	assert_int_equal(t->timeout_s, 0);
	assert_int_equal(t->gpu, 0);
	assert_null(t->game_version);
	assert_null(t->model);
	assert_null(t->entry);
	assert_null(t->result_prefix);
	assert_int_equal(t->rawlen, strlen(msg));
	assert_memory_equal(t->raw, msg, strlen(msg));
	msg_task_free(t);
}

#define FULL_TASK                                                                  \
	"{\"version\":1,\"task_id\":\"task-42.b_C\",\"attempt\":3,\"game\":\"pong\","      \
	"\"game_version\":\"1.2.0\",\"program\":\"https://store.example/p/ai.py\","        \
	"\"model\":\"s3://models/m.bin\",\"entry\":\"src/main.py\","                       \
	"\"params\":{\"speed\":2,\"name\":\"x\xc3\xa9\",\"nested\":{\"a\":[1,2.5,null]}}," \
	"\"timeout_s\":120,\"resources\":{\"gpu\":1},"                                     \
	"\"result_prefix\":\"file:///srv/results/\",\"comment\":\"unknown fields are ignored\"}"

static void
assert_full_task(const struct task_spec *t, int attempt)
{
	assert_string_equal(t->task_id, "task-42.b_C");
	assert_int_equal(t->attempt, attempt);
	assert_string_equal(t->game, "pong");
	assert_string_equal(t->game_version, "1.2.0");
	assert_string_equal(t->program, "https://store.example/p/ai.py");
	assert_string_equal(t->model, "s3://models/m.bin");
	assert_string_equal(t->entry, "src/main.py");
	assert_json_equal(t->params, "{\"speed\":2,\"name\":\"x\xc3\xa9\",\"nested\":{\"a\":[1,2.5,null]}}");
	assert_int_equal(t->timeout_s, 120);
	assert_int_equal(t->gpu, 1);
	assert_string_equal(t->result_prefix, "file:///srv/results/");
}

static void
test_decode_full(void **state)
{
	struct task_spec *t = decode_ok(FULL_TASK, strlen(FULL_TASK));

	assert_full_task(t, 3);
	assert_int_equal(t->rawlen, strlen(FULL_TASK));
	assert_memory_equal(t->raw, FULL_TASK, strlen(FULL_TASK));
	msg_task_free(t);
}

static void
test_decode_nulls_and_bounds(void **state)
{
	static const char nulls[] = TASK(",\"game_version\":null,\"model\":null,\"entry\":null,"
	    "\"params\":null,\"timeout_s\":null,\"attempt\":null,\"resources\":null,"
	    "\"result_prefix\":null");
	static const char bounds[] = "{\"version\":1.0,\"task_id\":\"" ID64 "\",\"game\":\"g\","
	    "\"program\":\"http://h/p\",\"timeout_s\":604800,\"attempt\":1000,"
	    "\"resources\":{\"gpu\":16},\"entry\":\"a.b/c..d/e./...x\",\"params\":{}}";
	static const char low[] = TASK(",\"timeout_s\":1,\"resources\":{},\"entry\":\"x\"");
	static const char spaced[] = " \t\r\n" TASK("") " \r\n\t ";
	struct task_spec *t;

	t = decode_ok(nulls, strlen(nulls));
	assert_null(t->game_version);
	assert_null(t->model);
	assert_null(t->entry);
	assert_string_equal(t->params, "{}");
	assert_int_equal(t->timeout_s, 0);
	assert_int_equal(t->attempt, 1);
	assert_int_equal(t->gpu, 0);
	assert_null(t->result_prefix);
	msg_task_free(t);

	/* The longest id is 64 characters minus one: cut the last. */
	{
		char *msg = strdup(bounds);
		char *cut = strstr(msg, "abcd\"");
		assert_non_null(cut);
		memmove(cut + 3, cut + 4, strlen(cut + 4) + 1);
		t = decode_ok(msg, strlen(msg));
		assert_int_equal(strlen(t->task_id), TASK_ID_MAX);
		assert_int_equal(t->timeout_s, 604800);
		assert_int_equal(t->attempt, 1000);
		assert_int_equal(t->gpu, 16);
		assert_string_equal(t->entry, "a.b/c..d/e./...x");
		assert_string_equal(t->params, "{}");
		msg_task_free(t);
		free(msg);
	}

	t = decode_ok(low, strlen(low));
	assert_int_equal(t->timeout_s, 1);
	assert_int_equal(t->gpu, 0);
	assert_string_equal(t->entry, "x");
	msg_task_free(t);

	/* Whitespace around the object is not trailing data. */
	t = decode_ok(spaced, strlen(spaced));
	assert_string_equal(t->task_id, "t1");
	msg_task_free(t);

	/* The length, not a NUL, ends the message (Kafka payloads are not strings). */
	{
		static const char longer[] = TASK("") "GARBAGE";
		t = decode_ok(longer, strlen(TASK("")));
		assert_int_equal(t->rawlen, strlen(TASK("")));
		assert_string_equal(t->raw, TASK(""));
		msg_task_free(t);
	}
}

static void
test_decode_size_limit(void **state)
{
	char *buf = padded_task(TASK_MAX_BYTES);
	struct task_spec *t;

	/* Exactly the limit is fine. */
	t = decode_ok(buf, TASK_MAX_BYTES);
	assert_int_equal(t->rawlen, TASK_MAX_BYTES);
	msg_task_free(t);
	free(buf);
}

/*
 * A Kafka record with a null value (a tombstone, or a producer sending
 * no value) reaches the decoder as (NULL, 0) from intake.c through
 * task_receive(). It must be dead-lettered like an empty message.
 *
 * BUG (gateway/message.c msg_task_decode, memchr(buf, '\0', len) with
 * buf NULL; the same in msg_dlq_encode, memchr and xstrndup of payload
 * NULL): passing NULL to memchr/strndup is undefined even with length 0.
 * Works by luck with glibc; UBSan aborts ("null pointer passed as
 * argument 1, which is declared to never be null", message.c:255).
 */
static void
test_decode_null_payload_regression(void **state)
{
	struct task_spec *spec = NULL;
	enum dlq_reason reason = DLQ_DUPLICATE_TASK;
	char *detail = NULL, *task_id = NULL, *rec;
	cJSON *j;

	assert_int_equal(msg_task_decode(NULL, 0, &spec, &reason, &detail, &task_id), -1);
	assert_null(spec);
	assert_int_equal(reason, DLQ_INVALID_JSON);
	assert_non_null(detail);
	assert_null(task_id);
	rec = msg_dlq_encode(reason, detail, NULL, "paia.tasks", 0, 7, NULL, 0, 0);
	j = cJSON_Parse(rec);
	assert_non_null(j);
	assert_string_equal(cJSON_GetObjectItem(j, "original")->valuestring, "");
	assert_int_equal(cJSON_GetObjectItem(j, "original_bytes")->valuedouble, 0);
	cJSON_Delete(j);
	free(rec);
	free(detail);
}

static void
test_requeue(void **state)
{
	static const char no_attempt[] = TASK(",\"params\":{\"k\":[1,{\"x\":true}]}");
	struct task_spec *t, *t2;
	char *s, *s2;
	cJSON *j, *a;

	t = decode_ok(FULL_TASK, strlen(FULL_TASK));
	s = msg_task_requeue(t);
	assert_non_null(s);
	t2 = decode_ok(s, strlen(s));
	assert_full_task(t2, 4);
	/* Nothing else changed, unknown fields included; attempt appears once. */
	j = cJSON_Parse(s);
	a = cJSON_Parse(FULL_TASK);
	assert_int_equal(cJSON_GetArraySize(j), cJSON_GetArraySize(a));
	cJSON_ReplaceItemInObjectCaseSensitive(a, "attempt", cJSON_CreateNumber(4));
	assert_true(cJSON_Compare(j, a, 1));
	cJSON_Delete(j);
	cJSON_Delete(a);

	/* Requeue of a requeue keeps counting. */
	s2 = msg_task_requeue(t2);
	msg_task_free(t2);
	t2 = decode_ok(s2, strlen(s2));
	assert_full_task(t2, 5);
	msg_task_free(t2);
	free(s2);
	free(s);
	msg_task_free(t);

	/* A task without attempt was attempt 1: the requeue is attempt 2. */
	t = decode_ok(no_attempt, strlen(no_attempt));
	s = msg_task_requeue(t);
	t2 = decode_ok(s, strlen(s));
	assert_int_equal(t2->attempt, 2);
	assert_string_equal(t2->task_id, "t1");
	assert_string_equal(t2->game, "pong");
	assert_string_equal(t2->program, "file:///srv/p.py");
	assert_json_equal(t2->params, "{\"k\":[1,{\"x\":true}]}");
	msg_task_free(t2);
	msg_task_free(t);
	free(s);
}

/* Is got the text want with the attempt's value from..to replaced by value? */
static void
assert_spliced(const char *got, const char *want, const char *from, const char *value)
{
	const char *at = strstr(want, from);
	size_t head, flen = strlen(from);
	char *expected;

	assert_non_null(at);
	head = (size_t)(at - want);
	assert_true(asprintf(&expected, "%.*s%s%s", (int)head, want, value, at + flen) > 0);
	if (strcmp(got, expected) != 0)
		fail_msg("requeued\n  %s\nexpected\n  %s", got, expected);
	free(expected);
}

/*
 * BUG (gateway/message.c msg_task_requeue, before json_check): the task
 * went back through cJSON, so every number became a double and was
 * printed again (2^53 + 1 came back as 9007199254740992, 1e400 as
 * null), and the message's spacing and field order were lost.
 */
static void
test_requeue_exact(void **state)
{
	static const char with[] = " {\"task_id\":\"big\", \"version\":1,\"game\":\"pong\","
	    "\"program\":\"file:///srv/p.py\",\"attempt\" :  2 ,\"params\":{\"seed\":9007199254740993,"
	    "\"huge\":1e400,\"neg\":-0,\"e\":1E+2,\"s\":\"\\u00e9\\ud83d\\ude00\"},"
	    "\"extra\":[1.0, 2.50]}\n";
	static const char without[] = "{\"task_id\":\"big\",\"version\":1,\"game\":\"pong\","
	    "\"program\":\"file:///srv/p.py\",\"params\":{\"seed\":9007199254740993},"
	    "\"huge\":1e400 }";
	static const char nulled[] = TASK(",\"attempt\":null");
	struct task_spec *t, *t2;
	char *s;

	t = decode_ok(with, strlen(with));
	assert_int_equal(t->attempt, 2);
	/* params reach the game as written, big numbers unrounded. */
	assert_string_equal(t->params, "{\"seed\":9007199254740993,\"huge\":1e400,\"neg\":-0,"
	    "\"e\":1E+2,\"s\":\"\\u00e9\\ud83d\\ude00\"}");
	s = msg_task_requeue(t);
	assert_spliced(s, with, "2 ,", "3 ,");
	t2 = decode_ok(s, strlen(s));
	assert_int_equal(t2->attempt, 3);
	assert_string_equal(t2->params, t->params);
	free(s);
	/* And again from the requeued text. */
	s = msg_task_requeue(t2);
	assert_spliced(s, with, "2 ,", "4 ,");
	free(s);
	msg_task_free(t2);
	msg_task_free(t);

	/* No attempt: one is added after the last member, nothing else moves. */
	t = decode_ok(without, strlen(without));
	s = msg_task_requeue(t);
	assert_spliced(s, without, "1e400", "1e400,\"attempt\":2");
	t2 = decode_ok(s, strlen(s));
	assert_int_equal(t2->attempt, 2);
	msg_task_free(t2);
	free(s);
	msg_task_free(t);

	/* attempt null was attempt 1: its value is replaced. */
	t = decode_ok(nulled, strlen(nulled));
	s = msg_task_requeue(t);
	assert_spliced(s, nulled, "null", "2");
	free(s);
	msg_task_free(t);
}

/* ---- dead-letter records ---- */

static int
b64_value(int c)
{
	const char *tbl = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = c != '\0' ? strchr(tbl, c) : NULL;

	return p != NULL ? (int)(p - tbl) : -1;
}

/* Decode standard padded base64; returns the length or -1. */
static long
b64_decode(const char *s, unsigned char *out, size_t max)
{
	size_t len = strlen(s), i, k, o = 0, pad = 0;
	int v[4];

	if (len % 4 != 0)
		return -1;
	if (len > 0 && s[len - 1] == '=')
		pad = len > 1 && s[len - 2] == '=' ? 2 : 1;
	for (i = 0; i < len; i += 4) {
		size_t n = i + 4 == len ? 3 - pad : 3;
		for (k = 0; k < 4; k++) {
			if (k > n)
				v[k] = 0;	/* padding */
			else if ((v[k] = b64_value(s[i + k])) < 0)
				return -1;
		}
		if (o + n > max)
			return -1;
		out[o++] = (unsigned char)(v[0] << 2 | v[1] >> 4);
		if (n > 1)
			out[o++] = (unsigned char)((v[1] & 15) << 4 | v[2] >> 2);
		if (n > 2)
			out[o++] = (unsigned char)((v[2] & 3) << 6 | v[3]);
	}
	return (long)o;
}

static cJSON *
dlq_parse(const char *s)
{
	cJSON *j = cJSON_Parse(s);

	if (j == NULL)
		fail_msg("DLQ record is not JSON: %.200s", s);
	return j;
}

static const char *
get_str(const cJSON *j, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, name);

	if (!cJSON_IsString(v))
		fail_msg("DLQ record has no string \"%s\"", name);
	return v->valuestring;
}

static double
get_num(const cJSON *j, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, name);

	if (!cJSON_IsNumber(v))
		fail_msg("DLQ record has no number \"%s\"", name);
	return v->valuedouble;
}

static void
test_dlq_text(void **state)
{
	static const char payload[] = "{\"version\":1,\"task_id\":\"t9\",\"game\":\"caf\xc3\xa9\"} x";
	char *s;
	cJSON *j;

	s = msg_dlq_encode(DLQ_INVALID_JSON, "trailing data after JSON at byte 50", "t9",
	    "paia.tasks", 3, 123456789012LL, payload, strlen(payload), 1700000000123LL);
	j = dlq_parse(s);
	assert_int_equal(get_num(j, "version"), 1);
	assert_string_equal(get_str(j, "reason"), "invalid_json");
	assert_string_equal(get_str(j, "detail"), "trailing data after JSON at byte 50");
	assert_string_equal(get_str(j, "task_id"), "t9");
	assert_string_equal(get_str(j, "topic"), "paia.tasks");
	assert_int_equal(get_num(j, "partition"), 3);
	assert_true(get_num(j, "offset") == 123456789012.0);
	assert_string_equal(get_str(j, "received"), "2023-11-14T22:13:20.123Z");
	assert_string_equal(get_str(j, "original_encoding"), "utf-8");
	assert_string_equal(get_str(j, "original"), payload);
	assert_int_equal(get_num(j, "original_bytes"), strlen(payload));
	assert_false(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "original_truncated")));
	cJSON_Delete(j);
	free(s);

	/* No task id: null, not absent. NULL detail: empty. */
	s = msg_dlq_encode(DLQ_NOT_OBJECT, NULL, NULL, "tasks", 0, 0, "[]", 2, 0);
	j = dlq_parse(s);
	assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "task_id")));
	assert_string_equal(get_str(j, "detail"), "");
	assert_string_equal(get_str(j, "reason"), "not_object");
	assert_string_equal(get_str(j, "original"), "[]");
	cJSON_Delete(j);
	free(s);
}

static void
check_base64_original(const void *payload, size_t len, size_t kept)
{
	unsigned char *back = malloc(kept + 3);
	char *s;
	cJSON *j;
	long n;

	assert_non_null(back);
	s = msg_dlq_encode(DLQ_INVALID_UTF8, "message is not valid UTF-8", NULL, "paia.tasks", 1, 9,
	    payload, len, 0);
	j = dlq_parse(s);
	assert_string_equal(get_str(j, "original_encoding"), "base64");
	assert_int_equal(get_num(j, "original_bytes"), len);
	n = b64_decode(get_str(j, "original"), back, kept + 3);
	assert_int_equal(n, (long)kept);
	assert_memory_equal(back, payload, kept);
	cJSON_Delete(j);
	free(s);
	free(back);
}

static void
test_dlq_binary(void **state)
{
	static const unsigned char bin[] = { 0x00, 0xff, 0x80, 'a', 'b', 0xc0, 0xaf, 0x01, 0xfe };
	static const char with_nul[] = "{\"a\":1}\0tail";
	static const char bad_utf8[] = "{\"game\":\"\xed\xa0\x80\"}";
	size_t i;

	for (i = 1; i <= sizeof bin; i++)	/* every padding length */
		check_base64_original(bin, i, i);
	/* Valid UTF-8 with a NUL is not text either. */
	check_base64_original(with_nul, sizeof with_nul - 1, sizeof with_nul - 1);
	check_base64_original(bad_utf8, strlen(bad_utf8), strlen(bad_utf8));
}

static void
test_dlq_truncated(void **state)
{
	size_t big = DLQ_ORIGINAL_MAX + 1000, i;
	char *payload = malloc(big), *s;
	cJSON *j;

	assert_non_null(payload);
	for (i = 0; i < big; i++)
		payload[i] = (char)('a' + i % 26);

	/* Exactly the limit: whole and not marked. */
	s = msg_dlq_encode(DLQ_TOO_LARGE, "d", NULL, "paia.tasks", 0, 1, payload, DLQ_ORIGINAL_MAX, 0);
	j = dlq_parse(s);
	assert_int_equal(strlen(get_str(j, "original")), DLQ_ORIGINAL_MAX);
	assert_false(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "original_truncated")));
	cJSON_Delete(j);
	free(s);

	/* Over: the head, marked, with the full size. */
	s = msg_dlq_encode(DLQ_TOO_LARGE, "d", NULL, "paia.tasks", 0, 1, payload, big, 0);
	j = dlq_parse(s);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "original_truncated")));
	assert_int_equal(get_num(j, "original_bytes"), big);
	assert_string_equal(get_str(j, "original_encoding"), "utf-8");
	assert_int_equal(strlen(get_str(j, "original")), DLQ_ORIGINAL_MAX);
	assert_memory_equal(get_str(j, "original"), payload, DLQ_ORIGINAL_MAX);
	cJSON_Delete(j);
	free(s);

	/* Binary over the limit: the head in base64. */
	payload[10] = '\xff';
	check_base64_original(payload, big, DLQ_ORIGINAL_MAX);
	/* A cut through a UTF-8 sequence loses nothing either (base64 then). */
	payload[10] = 'x';
	payload[DLQ_ORIGINAL_MAX - 1] = '\xc3';
	payload[DLQ_ORIGINAL_MAX] = '\xa9';
	check_base64_original(payload, big, DLQ_ORIGINAL_MAX);
	free(payload);
}

static void
test_dlq_reason_names(void **state)
{
	static const char *names[] = {
		"too_large", "invalid_utf8", "invalid_json", "not_object", "unsupported_version",
		"missing_field", "wrong_type", "invalid_value", "duplicate_task",
	};
	int r;

	for (r = DLQ_TOO_LARGE; r <= DLQ_DUPLICATE_TASK; r++)
		assert_string_equal(msg_dlq_reason_name((enum dlq_reason)r), names[r]);
	assert_string_equal(msg_dlq_reason_name((enum dlq_reason)99), "unknown");
	assert_string_equal(msg_status_name(RESULT_SUCCEEDED), "succeeded");
	assert_string_equal(msg_status_name(RESULT_TIMEOUT), "timeout");
	assert_string_equal(msg_status_name(RESULT_ERROR), "error");
	assert_string_equal(msg_error_class_name(ERROR_USER), "user");
	assert_string_equal(msg_error_class_name(ERROR_INFRA), "infra");
	assert_string_equal(msg_error_class_name(ERROR_INVALID), "invalid");
	assert_null(msg_error_class_name(ERROR_NONE));
}

/* ---- file names from URLs ---- */

static void
test_url_basename(void **state)
{
	static const struct {
		const char *url, *name;
	} v[] = {
		{ "https://store.example/dir/ai.py", "ai.py" },
		{ "https://h/dir/ai.py?X-Amz-Signature=abc/def", "ai.py" },
		{ "https://h/dir/ai.py#frag/x", "ai.py" },
		{ "s3://bucket/models/m.bin", "m.bin" },
		{ "file:///srv/in/prog", "prog" },
		{ "https://h/dir/", "program" },
		{ "https://h/dir/?x=1", "program" },
		{ "https://h/..", "program" },
		{ "https://h/a/..?x", "program" },
		{ "https://h/a/.", "program" },
		{ "", "program" },
		{ "https://h/a b$c;d.py", "a_b_c_d.py" },
		{ "https://h/caf\xc3\xa9.py", "caf__.py" },
		{ "https://h/.bashrc", "_bashrc" },
		{ "https://h/...", "_.." },
		{ "https://h/%2e%2e", "_2e_2e" },
		{ "https://h/a\\..", "a_.." },
		{ "plain-name.py", "plain-name.py" },
	};
	char longurl[400], *s;
	size_t i;

	for (i = 0; i < nitems(v); i++) {
		s = msg_url_basename(v[i].url);
		if (strcmp(s, v[i].name) != 0)
			fail_msg("msg_url_basename(\"%s\") = \"%s\", expected \"%s\"", v[i].url, s,
			    v[i].name);
		free(s);
	}
	/* Long names are cut; the result is always a safe single segment. */
	strcpy(longurl, "https://h/");
	memset(longurl + 10, 'x', 300);
	longurl[310] = '\0';
	s = msg_url_basename(longurl);
	assert_int_equal(strlen(s), 128);
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_bad),
		cmocka_unit_test(test_decode_minimal),
		cmocka_unit_test(test_decode_full),
		cmocka_unit_test(test_decode_nulls_and_bounds),
		cmocka_unit_test(test_decode_size_limit),
		cmocka_unit_test(test_requeue),
		cmocka_unit_test(test_requeue_exact),
		cmocka_unit_test(test_dlq_text),
		cmocka_unit_test(test_dlq_binary),
		cmocka_unit_test(test_dlq_truncated),
		cmocka_unit_test(test_dlq_reason_names),
		cmocka_unit_test(test_url_basename),
		/* Known bugs last: under UBSan they abort the program. */
		cmocka_unit_test(test_decode_null_payload_regression),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
