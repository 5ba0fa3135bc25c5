/*
 * test-proto.c: the contracts of proto/ from both ends: every field of
 * result v1, the DLQ record, the control requests and the TASK, STATUS
 * and LAG views survives encode then decode; decoders name the field a
 * record got wrong; the names tables round-trip; a client refuses a
 * gateway of another protocol by name; the GPU view and a task's GPUs
 * (a result's optional field) round-trip.
 */
#include "config.h"
#include "proto.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common.h"

static void
test_names_round_trip(void **state)
{
	enum task_state st;
	enum result_status rs;
	enum error_class ec;
	enum dlq_reason dr;
	enum health_status hs;
	int i;

	for (i = 0; i < TASK_NSTATES; i++) {
		assert_int_equal(proto_state_parse(proto_state_name((enum task_state)i), &st), 0);
		assert_int_equal(st, i);
	}
	for (i = 0; i < RESULT_NSTATUSES; i++) {
		assert_int_equal(proto_status_parse(proto_status_name((enum result_status)i), &rs), 0);
		assert_int_equal(rs, i);
	}
	for (i = ERROR_USER; i <= ERROR_INVALID; i++) {
		assert_int_equal(proto_class_parse(proto_class_name((enum error_class)i), &ec), 0);
		assert_int_equal(ec, i);
	}
	assert_null(proto_class_name(ERROR_NONE));
	for (i = 0; i < DLQ_NREASONS; i++) {
		assert_int_equal(proto_dlq_reason_parse(proto_dlq_reason_name((enum dlq_reason)i),
		    &dr), 0);
		assert_int_equal(dr, i);
	}
	for (i = 0; i < HEALTH_NSTATUSES; i++) {
		assert_int_equal(proto_health_parse(proto_health_name((enum health_status)i), &hs),
		    0);
		assert_int_equal(hs, i);
	}
	assert_int_equal(proto_state_parse("runnin", &st), -1);
	assert_int_equal(proto_status_parse(NULL, &rs), -1);
	assert_string_equal(proto_state_name(TASK_UPLOADING), "uploading");
	assert_string_equal(proto_status_name(RESULT_CANCELLED), "cancelled");
	assert_string_equal(proto_dlq_reason_name(DLQ_DUPLICATE_TASK), "duplicate_task");
}

static void
test_task_encode_decode(void **state)
{
	struct proto_task in, *out;
	enum dlq_reason reason;
	char *text, *detail = NULL, *id = NULL;

	memset(&in, 0, sizeof in);
	in.task_id = (char *)"t-1";
	in.game = (char *)"catch";
	in.game_version = (char *)"2.1";
	in.program = (char *)"s3://b/p.py";
	in.model = (char *)"https://h/m.bin";
	in.entry = (char *)"src/main.py";
	in.params = (char *)"{\"seed\":9007199254740993,\"x\":1e400}";
	in.timeout_s = 90;
	in.gpu = 1;
	in.result_prefix = (char *)"s3://b/results";
	in.attempt = 1;
	text = proto_task_encode(&in);
	assert_int_equal(proto_task_decode(text, strlen(text), &out, &reason, &detail, &id), 0);
	assert_string_equal(out->task_id, "t-1");
	assert_string_equal(out->game, "catch");
	assert_string_equal(out->game_version, "2.1");
	assert_string_equal(out->program, "s3://b/p.py");
	assert_string_equal(out->model, "https://h/m.bin");
	assert_string_equal(out->entry, "src/main.py");
	/* params as written: the big numbers are not re-printed through doubles. */
	assert_string_equal(out->params, "{\"seed\":9007199254740993,\"x\":1e400}");
	assert_int_equal(out->timeout_s, 90);
	assert_int_equal(out->gpu, 1);
	assert_string_equal(out->result_prefix, "s3://b/results");
	assert_int_equal(out->attempt, 1);
	free(id);
	proto_task_free(out);
	free(text);

	/* gpu < 0 and timeout 0: no resources, no timeout_s. */
	in.gpu = -1;
	in.timeout_s = 0;
	in.model = in.entry = in.game_version = in.result_prefix = in.params = NULL;
	text = proto_task_encode(&in);
	assert_null(strstr(text, "resources"));
	assert_null(strstr(text, "timeout_s"));
	assert_int_equal(proto_task_decode(text, strlen(text), &out, &reason, &detail, &id), 0);
	assert_string_equal(out->params, "{}");
	assert_int_equal(out->gpu, 0);
	free(id);
	proto_task_free(out);
	free(text);
}

static void
test_result_round_trip(void **state)
{
	struct proto_artifact arts[2] = {
		{ "log.txt", "s3://b/r/t/1/log.txt", "ab12", "text/plain; charset=utf-8", 10, 1 },
		{ "video.mp4", "s3://b/r/t/1/video.mp4", NULL, "video/mp4", 2048, 0 },
	};
	struct proto_refused refused[1] = { { "evil.mp4", "a symbolic link" } };
	struct proto_result in, out;
	char *text, *text2, *cause = NULL;
	double score;

	memset(&in, 0, sizeof in);
	in.task_id = "t-1";
	in.attempt = 3;
	in.status = RESULT_FAILED;
	in.game = "catch";
	in.game_result = "{\"score\":7.5,\"level\":2}";
	in.log_url = arts[0].url;
	in.video_url = arts[1].url;
	in.result_url = NULL;
	in.artifacts = arts;
	in.nartifacts = 2;
	in.refused = refused;
	in.nrefused = 1;
	in.received_ms = 1700000000123LL;
	in.started_ms = 1700000001000LL;
	in.finished_ms = 1700000011500LL;
	in.reported_ms = 1700000012000LL;
	in.duration_ms = 10500;
	in.eclass = ERROR_USER;
	in.error = "game exited with code 3";
	in.recovered = "uploaded from disk after a restart";
	in.source_topic = "paia.tasks";
	in.source_partition = 4;
	in.source_offset = 123456789012LL;
	in.gateway = "gw-a";
	text = proto_result_encode(&in);
	if (proto_result_decode(text, strlen(text), &out, &cause) != 0)
		fail_msg("%s: %s", cause, text);
	assert_string_equal(out.task_id, "t-1");
	assert_int_equal(out.attempt, 3);
	assert_int_equal(out.status, RESULT_FAILED);
	assert_string_equal(out.game, "catch");
	assert_string_equal(out.game_result, "{\"score\":7.5,\"level\":2}");
	assert_int_equal(proto_result_score(&out, &score), 0);
	assert_true(score == 7.5);
	assert_string_equal(out.log_url, "s3://b/r/t/1/log.txt");
	assert_string_equal(out.video_url, "s3://b/r/t/1/video.mp4");
	assert_null(out.result_url);
	assert_int_equal(out.nartifacts, 2);
	assert_string_equal(out.artifacts[0].name, "log.txt");
	assert_string_equal(out.artifacts[0].sha256, "ab12");
	assert_string_equal(out.artifacts[0].content_type, "text/plain; charset=utf-8");
	assert_int_equal(out.artifacts[0].bytes, 10);
	assert_int_equal(out.artifacts[0].truncated, 1);
	assert_int_equal(out.artifacts[1].truncated, 0);
	assert_null(out.artifacts[1].sha256);
	assert_int_equal(out.artifacts[1].bytes, 2048);
	assert_int_equal(out.nrefused, 1);
	assert_string_equal(out.refused[0].name, "evil.mp4");
	assert_string_equal(out.refused[0].reason, "a symbolic link");
	assert_int_equal(out.received_ms, in.received_ms);
	assert_int_equal(out.started_ms, in.started_ms);
	assert_int_equal(out.finished_ms, in.finished_ms);
	assert_int_equal(out.reported_ms, in.reported_ms);
	assert_int_equal(out.duration_ms, 10500);
	assert_int_equal(out.eclass, ERROR_USER);
	assert_string_equal(out.error, "game exited with code 3");
	assert_string_equal(out.recovered, "uploaded from disk after a restart");
	assert_string_equal(out.source_topic, "paia.tasks");
	assert_int_equal(out.source_partition, 4);
	assert_int_equal(out.source_offset, 123456789012LL);
	assert_string_equal(out.gateway, "gw-a");
	/* Decoding then encoding again gives the same text. */
	text2 = proto_result_encode(&out);
	assert_string_equal(text, text2);
	free(text2);
	proto_result_clear(&out);
	free(text);

	/* No error, no game result: both null; a cancel's error has a null class. */
	in.eclass = ERROR_NONE;
	in.error = NULL;
	in.game_result = NULL;
	in.nrefused = 0;
	in.recovered = NULL;
	text = proto_result_encode(&in);
	assert_non_null(strstr(text, "\"game_result\":null"));
	assert_non_null(strstr(text, "\"error\":null"));
	assert_non_null(strstr(text, "\"artifacts_refused\":[]"));
	assert_int_equal(proto_result_decode(text, strlen(text), &out, &cause), 0);
	assert_null(out.error);
	assert_null(out.game_result);
	assert_int_equal(proto_result_score(&out, &score), -1);
	proto_result_clear(&out);
	free(text);
	in.error = "cancelled by an operator";
	text = proto_result_encode(&in);
	assert_non_null(strstr(text, "\"error\":{\"class\":null,\"message\":\"cancelled by an "
	    "operator\"}"));
	free(text);
}

static void
test_result_decode_errors(void **state)
{
	static const struct {
		const char *text;
		const char *cause;
	} cases[] = {
		{ "not json", "not valid JSON" },
		{ "[1]", "not a JSON object" },
		{ "{\"task_id\":\"t\"}", "field 'version' is missing" },
		{ "{\"version\":2,\"task_id\":\"t\",\"attempt\":1,\"status\":\"failed\"}",
		  "result version 2" },
		{ "{\"version\":1,\"task_id\":5,\"attempt\":1,\"status\":\"failed\"}",
		  "field 'task_id' must be a string, not a number" },
		{ "{\"version\":1,\"task_id\":\"t\",\"attempt\":\"1\",\"status\":\"failed\"}",
		  "field 'attempt' must be an integer, not a string" },
		{ "{\"version\":1,\"task_id\":\"t\",\"attempt\":1,\"status\":\"fine\"}",
		  "field 'status' is not a status" },
		{ "{\"version\":1,\"task_id\":\"t\",\"attempt\":1,\"status\":\"failed\","
		  "\"artifacts\":[1]}", "field 'artifacts' must hold objects, not a number" },
		{ "{\"version\":1,\"task_id\":\"t\",\"attempt\":1,\"status\":\"failed\","
		  "\"timings\":{\"started\":\"yesterday\"}}", "field 'started' is not an RFC 3339" },
		{ "{\"version\":1,\"task_id\":\"t\",\"attempt\":1,\"status\":\"failed\","
		  "\"error\":{\"class\":\"cosmic\"}}", "field 'error.class'" },
		{ "{\"version\":1,\"version\":1}", "duplicate name" },
	};
	struct proto_result r;
	char *cause;
	size_t i;

	for (i = 0; i < nitems(cases); i++) {
		cause = NULL;
		if (proto_result_decode(cases[i].text, strlen(cases[i].text), &r, &cause) == 0)
			fail_msg("accepted: %s", cases[i].text);
		if (cause == NULL || strstr(cause, cases[i].cause) == NULL)
			fail_msg("%s: cause \"%s\", want \"%s\"", cases[i].text,
			    cause != NULL ? cause : "(none)", cases[i].cause);
		free(cause);
	}
}

static void
test_result_from_timings(void **state)
{
	struct proto_result r;
	const char *v;
	char *cause = NULL;

	/* An older record without duration_ms: finished - started. */
	v = "{\"version\":1,\"task_id\":\"t\",\"attempt\":1,\"status\":\"succeeded\","
	    "\"timings\":{\"started\":\"2023-11-14T22:13:20Z\","
	    "\"finished\":\"2023-11-14T22:13:30.250Z\"}}";
	assert_int_equal(proto_result_decode(v, strlen(v), &r, &cause), 0);
	assert_int_equal(r.duration_ms, 10250);
	proto_result_clear(&r);
	v = "{\"version\":1,\"task_id\":\"t\",\"attempt\":1,\"status\":\"succeeded\","
	    "\"timings\":{\"started\":\"2023-11-14T22:13:30Z\","
	    "\"finished\":\"2023-11-14T22:13:20Z\"}}";
	assert_int_equal(proto_result_decode(v, strlen(v), &r, &cause), 0);
	assert_int_equal(r.duration_ms, -1);
	proto_result_clear(&r);
}

static void
test_dlq_round_trip(void **state)
{
	struct proto_dlq d;
	char *text, *cause = NULL;
	unsigned char bin[3] = { 0xff, 0x00, 0x41 };

	text = proto_dlq_encode(DLQ_MISSING_FIELD, "field 'game' is required", "t-9",
	    "paia.tasks", 3, 77, "{\"task_id\":\"t-9\"}", 17, 1700000000000LL);
	assert_int_equal(proto_dlq_decode(text, strlen(text), &d, &cause), 0);
	assert_int_equal(d.reason, DLQ_MISSING_FIELD);
	assert_string_equal(d.reason_name, "missing_field");
	assert_string_equal(d.detail, "field 'game' is required");
	assert_string_equal(d.task_id, "t-9");
	assert_string_equal(d.topic, "paia.tasks");
	assert_int_equal(d.partition, 3);
	assert_int_equal(d.offset, 77);
	assert_int_equal(d.received_ms, 1700000000000LL);
	assert_string_equal(d.original, "{\"task_id\":\"t-9\"}");
	assert_string_equal(d.original_encoding, "utf-8");
	assert_int_equal(d.original_bytes, 17);
	assert_int_equal(d.original_truncated, 0);
	proto_dlq_clear(&d);
	free(text);

	/* Bytes that are not text are kept as base64; no task id is null. */
	text = proto_dlq_encode(DLQ_INVALID_UTF8, "not UTF-8", NULL, "paia.tasks", 0, 1, bin,
	    sizeof bin, 1700000000000LL);
	assert_int_equal(proto_dlq_decode(text, strlen(text), &d, &cause), 0);
	assert_null(d.task_id);
	assert_string_equal(d.original_encoding, "base64");
	assert_string_equal(d.original, "/wBB");
	proto_dlq_clear(&d);
	free(text);

	/* A reason a newer gateway adds is kept by name. */
	text = xstrdup("{\"version\":1,\"reason\":\"too_spicy\",\"partition\":1}");
	assert_int_equal(proto_dlq_decode(text, strlen(text), &d, &cause), 0);
	assert_int_equal(d.reason, DLQ_NREASONS);
	assert_string_equal(d.reason_name, "too_spicy");
	proto_dlq_clear(&d);
	free(text);
	assert_int_equal(proto_dlq_decode("{\"partition\":1}", 15, &d, &cause), -1);
	assert_non_null(strstr(cause, "'reason'"));
	free(cause);
}

static void
test_request_build_parse(void **state)
{
	struct proto_request in, out;
	char *line, *cause = NULL;
	int c;

	for (c = 0; c < PROTO_NCMDS; c++) {
		memset(&in, 0, sizeof in);
		in.cmd = (enum proto_cmd)c;
		if (c == PROTO_CMD_TASK || c == PROTO_CMD_REQUEUE || c == PROTO_CMD_CANCEL)
			in.id = (char *)"t-1";
		if (c == PROTO_CMD_TASKS)
			in.state = (char *)"running";
		if (c == PROTO_CMD_LAG)
			in.check = 1;
		line = proto_request_build(&in);
		if (proto_request_parse(line, strlen(line), &out, &cause) != 0)
			fail_msg("%s: %s", line, cause);
		assert_int_equal(out.cmd, c);
		if (in.id != NULL)
			assert_string_equal(out.id, "t-1");
		else
			assert_null(out.id);
		if (in.state != NULL)
			assert_string_equal(out.state, "running");
		assert_int_equal(out.check, in.check);
		proto_request_clear(&out);
		free(line);
	}
	/* The unknown-command message lists the table's commands. */
	assert_int_equal(proto_request_parse("{\"cmd\":\"reboot\"}", 16, &out, &cause), -1);
	assert_non_null(strstr(cause, proto_cmd_list()));
	assert_non_null(strstr(proto_cmd_list(), "subscribe"));
	free(cause);
}

static void
test_task_view_round_trip(void **state)
{
	struct proto_refused refused[1] = { { "video.webm", "a FIFO" } };
	struct proto_task_view in, out;
	cJSON *j;
	char *cause = NULL;
	int i;

	memset(&in, 0, sizeof in);
	in.task_id = "t-7";
	in.attempt = 2;
	in.game = "catch";
	in.state = TASK_FAILED;
	in.has_status = 1;
	in.status = RESULT_TIMEOUT;
	in.waiting = 0;
	in.pid = 4242;
	in.partition = 5;
	in.offset = 99;
	for (i = 0; i < TASK_NSTATES; i++)
		in.timeline[i] = 1700000000000LL + i * 1000;
	in.has_error = 1;
	in.eclass = ERROR_USER;
	in.error = "exceeded its timeout of 60 s";
	in.dir = "/var/lib/paia/tasks/t-7";
	in.log_path = "/var/lib/paia/tasks/t-7/output/log.txt";
	in.log_url = "s3://b/t-7/2/log.txt";
	in.video_url = "s3://b/t-7/2/video.mp4";
	in.video_path = "/var/lib/paia/tasks/t-7/output/video.mp4";
	in.refused = refused;
	in.nrefused = 1;
	in.has_score = 1;
	in.score = -3.25;
	in.duration_ms = 60000;
	j = proto_task_view_encode(&in);
	if (proto_task_view_decode(j, &out, &cause) != 0)
		fail_msg("%s", cause);
	assert_string_equal(out.task_id, "t-7");
	assert_int_equal(out.attempt, 2);
	assert_string_equal(out.game, "catch");
	assert_int_equal(out.state, TASK_FAILED);
	assert_int_equal(out.has_status, 1);
	assert_int_equal(out.status, RESULT_TIMEOUT);
	assert_int_equal(out.waiting, 0);
	assert_int_equal(out.pid, 4242);
	assert_int_equal(out.partition, 5);
	assert_int_equal(out.offset, 99);
	for (i = 0; i < TASK_NSTATES; i++)
		assert_int_equal(out.timeline[i], in.timeline[i]);
	assert_int_equal(out.has_error, 1);
	assert_int_equal(out.eclass, ERROR_USER);
	assert_string_equal(out.error, in.error);
	assert_string_equal(out.dir, in.dir);
	assert_string_equal(out.log_path, in.log_path);
	assert_string_equal(out.log_url, in.log_url);
	assert_string_equal(out.video_url, in.video_url);
	assert_string_equal(out.video_path, in.video_path);
	assert_int_equal(out.nrefused, 1);
	assert_string_equal(out.refused[0].name, "video.webm");
	assert_string_equal(out.refused[0].reason, "a FIFO");
	assert_int_equal(out.has_score, 1);
	assert_true(out.score == -3.25);
	assert_int_equal(out.duration_ms, 60000);
	proto_task_view_clear(&out);
	cJSON_Delete(j);

	/* What a task that has not run shows: nulls, decoded as absent. */
	memset(&in, 0, sizeof in);
	in.task_id = "t-8";
	in.game = "catch";
	in.state = TASK_RECEIVED;
	in.pid = -1;
	in.duration_ms = -1;
	in.dir = in.log_path = "/x";
	j = proto_task_view_encode(&in);
	assert_int_equal(proto_task_view_decode(j, &out, &cause), 0);
	assert_int_equal(out.has_status, 0);
	assert_int_equal(out.pid, -1);
	assert_int_equal(out.has_error, 0);
	assert_null(out.log_url);
	assert_null(out.video_path);
	assert_int_equal(out.has_score, 0);
	assert_int_equal(out.duration_ms, -1);
	assert_int_equal(out.timeline[TASK_RECEIVED], 0);
	proto_task_view_clear(&out);
	cJSON_Delete(j);
}

static void
test_status_view_round_trip(void **state)
{
	struct proto_partition_view parts[2] = {
		{ 0, 10, 12, 2, 20, 10, 0 },
		{ 3, -1, 0, 0, -1, 0, 1 },
	};
	struct proto_status_view in, out;
	cJSON *j;
	char *cause = NULL;
	int i;

	memset(&in, 0, sizeof in);
	in.protocol = PROTO_VERSION;
	in.instance = "gw-a";
	in.version = "0.1.0";
	in.pid = 321;
	in.uptime_s = 3600;
	in.embedded = 1;
	in.bootstrap_servers = "127.0.0.1:9092";
	in.group_id = "paia-gateway";
	in.tasks_topic = "paia.tasks";
	in.results_topic = "paia.results";
	in.dlq_topic = "paia.tasks.dlq";
	in.max_inflight = 8;
	in.inflight = 5;
	in.backlog = 3;
	in.paused = 1;
	in.reporting = 2;
	in.draining = 1;
	for (i = 0; i < TASK_NSTATES; i++)
		in.states[i] = i + 1;
	for (i = 0; i < RESULT_NSTATUSES; i++)
		in.totals[i] = 100 + i;
	in.dlq = 7;
	in.skipped_done = 4;
	in.tx_committed = 50;
	in.tx_aborted = 1;
	in.partitions = parts;
	in.npartitions = 2;
	j = proto_status_view_encode(&in);
	if (proto_status_view_decode(j, &out, &cause) != 0)
		fail_msg("%s", cause);
	assert_int_equal(out.protocol, PROTO_VERSION);
	assert_string_equal(out.instance, "gw-a");
	assert_string_equal(out.version, "0.1.0");
	assert_int_equal(out.pid, 321);
	assert_int_equal(out.uptime_s, 3600);
	assert_int_equal(out.embedded, 1);
	assert_string_equal(out.bootstrap_servers, "127.0.0.1:9092");
	assert_string_equal(out.group_id, "paia-gateway");
	assert_string_equal(out.tasks_topic, "paia.tasks");
	assert_string_equal(out.results_topic, "paia.results");
	assert_string_equal(out.dlq_topic, "paia.tasks.dlq");
	assert_int_equal(out.max_inflight, 8);
	assert_int_equal(out.inflight, 5);
	assert_int_equal(out.backlog, 3);
	assert_int_equal(out.paused, 1);
	assert_int_equal(out.reporting, 2);
	assert_int_equal(out.draining, 1);
	for (i = 0; i < TASK_NSTATES; i++)
		assert_int_equal(out.states[i], i + 1);
	for (i = 0; i < RESULT_NSTATUSES; i++)
		assert_int_equal(out.totals[i], 100 + i);
	assert_int_equal(out.dlq, 7);
	assert_int_equal(out.skipped_done, 4);
	assert_int_equal(out.tx_committed, 50);
	assert_int_equal(out.tx_aborted, 1);
	assert_int_equal(out.npartitions, 2);
	for (i = 0; i < 2; i++) {
		assert_int_equal(out.partitions[i].partition, parts[i].partition);
		assert_int_equal(out.partitions[i].committed, parts[i].committed);
		assert_int_equal(out.partitions[i].next, parts[i].next);
		assert_int_equal(out.partitions[i].pending, parts[i].pending);
		assert_int_equal(out.partitions[i].high, parts[i].high);
		assert_int_equal(out.partitions[i].lag, parts[i].lag);
		assert_int_equal(out.partitions[i].paused, parts[i].paused);
	}
	assert_int_equal(proto_status_compatible(&out, &cause), 0);
	proto_status_view_clear(&out);
	cJSON_Delete(j);

	/* Another protocol: refused by the gateway's name and both versions. */
	in.protocol = PROTO_VERSION + 1;
	j = proto_status_view_encode(&in);
	assert_int_equal(proto_status_view_decode(j, &out, &cause), 0);
	assert_int_equal(proto_status_compatible(&out, &cause), -1);
	assert_non_null(strstr(cause, "gw-a"));
	assert_non_null(strstr(cause, "speaks control protocol 2"));
	free(cause);
	proto_status_view_clear(&out);
	cJSON_Delete(j);
}

static void
test_lag_round_trip(void **state)
{
	struct proto_lag_view in[2] = {
		{ 0, 10, 15, 5, 2.5, HEALTH_STALL, 0, 3, "nothing committed for 3 checks", NULL },
		{ 1, -1, -1, -1, 0, HEALTH_OK, 1, 0, NULL, "Broker: Not leader" },
	};
	struct proto_lag out;
	cJSON *a = cJSON_CreateObject();
	char *cause = NULL;

	cJSON_AddItemToObject(a, "partitions", proto_lag_encode_partitions(in, 2));
	cJSON_AddFalseToObject(a, "healthy");
	cJSON_AddStringToObject(a, "why", "partition 0: stalled");
	if (proto_lag_decode(a, &out, &cause) != 0)
		fail_msg("%s", cause);
	assert_int_equal(out.healthy, 0);
	assert_string_equal(out.why, "partition 0: stalled");
	assert_int_equal(out.npartitions, 2);
	assert_int_equal(out.partitions[0].committed, 10);
	assert_int_equal(out.partitions[0].log_end, 15);
	assert_int_equal(out.partitions[0].lag, 5);
	assert_true(out.partitions[0].lag_s == 2.5);
	assert_int_equal(out.partitions[0].status, HEALTH_STALL);
	assert_int_equal(out.partitions[0].bad_checks, 3);
	assert_string_equal(out.partitions[0].why, in[0].why);
	assert_null(out.partitions[0].log_end_error);
	assert_int_equal(out.partitions[1].lag, -1);
	assert_int_equal(out.partitions[1].healthy, 1);
	assert_string_equal(out.partitions[1].log_end_error, "Broker: Not leader");
	proto_lag_clear(&out);
	cJSON_Delete(a);
}

static void
test_answers_and_events(void **state)
{
	cJSON *root, *ok;
	const cJSON *payload;
	enum proto_event_type type;
	const char *error;
	char *line, *cause = NULL;
	int isok;

	line = proto_answer_error("no task x known to this gateway");
	assert_int_equal(proto_answer_parse(line, strlen(line), &root, &isok, &error, &cause), 0);
	assert_int_equal(isok, 0);
	assert_string_equal(error, "no task x known to this gateway");
	cJSON_Delete(root);
	free(line);
	ok = proto_answer_ok();
	line = cJSON_PrintUnformatted(ok);
	assert_int_equal(proto_answer_parse(line, strlen(line), &root, &isok, &error, &cause), 0);
	assert_int_equal(isok, 1);
	assert_null(error);
	cJSON_Delete(root);
	cJSON_free(line);
	cJSON_Delete(ok);
	assert_int_equal(proto_answer_parse("{}", 2, &root, &isok, &error, &cause), -1);
	assert_null(root);
	free(cause);

	line = proto_event_encode(PROTO_EVENT_STATUS, cJSON_CreateObject());
	assert_string_equal(line, "{\"event\":\"status\",\"status\":{}}");
	assert_int_equal(proto_event_parse(line, strlen(line), &root, &type, &payload, &cause),
	    0);
	assert_int_equal(type, PROTO_EVENT_STATUS);
	assert_true(cJSON_IsObject(payload));
	cJSON_Delete(root);
	free(line);
	assert_int_equal(proto_event_parse("{\"event\":\"task\"}", 16, &root, &type, &payload,
	    &cause), -1);
	free(cause);
	cause = NULL;
	/* An event a newer gateway sends: read as "other", not refused. */
	assert_int_equal(proto_event_parse("{\"event\":\"newer\",\"newer\":{}}", 28, &root,
	    &type, &payload, &cause), 0);
	assert_int_equal(type, PROTO_EVENT_OTHER);
	cJSON_Delete(root);
	line = proto_event_encode(PROTO_EVENT_GPU, cJSON_CreateObject());
	assert_string_equal(line, "{\"event\":\"gpu\",\"gpu\":{}}");
	assert_int_equal(proto_event_parse(line, strlen(line), &root, &type, &payload, &cause),
	    0);
	assert_int_equal(type, PROTO_EVENT_GPU);
	cJSON_Delete(root);
	free(line);
}

/* Two nodes, one stale with no report; every field of a card and process survives. */
static void
test_gpu_nodes_round_trip(void **state)
{
	struct proto_gpu_process procs[2] = {
		{ 41001, 15690, "python3", "6f1c2b3a-9d4e-4c6b-8a55-2f0e1d7c9b11",
		  "0123abcd", "paia", "paia-t-1-2", "game", "t-1", 2 },
		{ 2165, -1, "/usr/bin/kwin_wayland", NULL, NULL, NULL, NULL, NULL, NULL, 0 },
	};
	struct proto_gpu_card card;
	struct proto_gpu_node in[2];
	struct proto_gpus out;
	const struct proto_gpu_card *c;
	cJSON *arr, *again;
	char *text, *text2, *cause = NULL;
	size_t i;

	memset(&card, 0, sizeof card);
	card.index = 3;
	card.uuid = "GPU-00000003-0000-0000-0000-000000000003";
	card.name = "NVIDIA H100 80GB HBM3";
	for (i = 0; i < PROTO_GPU_NMETRICS; i++) {
		card.value[i] = 10.5 * (double)(i + 1);
		card.known |= 1u << i;
	}
	/* Power not supported: null with its reason, never 0. */
	card.known &= ~(1u << PROTO_GPU_POWER);
	card.value[PROTO_GPU_POWER] = 0;
	card.why[PROTO_GPU_POWER] = "not supported";
	card.known &= ~(1u << PROTO_GPU_SM_CLOCK);
	card.value[PROTO_GPU_SM_CLOCK] = 0;
	card.pstate = "P0";
	card.procs = procs;
	card.nprocs = 2;
	memset(in, 0, sizeof in);
	in[0].node = "gpu1";
	in[0].host = "10.0.0.11";
	in[0].port = 22;
	in[0].source = "config";
	in[0].state = PROTO_GPU_OK;
	in[0].report_ms = 1700000000123LL;
	in[0].age_ms = 1500;
	in[0].round_ms = 42;
	in[0].rounds_ok = 7;
	in[0].rounds_failed = 1;
	in[0].apps_error = "line 3: ...";
	in[0].display = ":0";
	in[0].display_state = "up";
	in[0].display_detail = "xset answered";
	in[0].cards = &card;
	in[0].ncards = 1;
	in[1].node = "gpu2";
	in[1].host = "10.0.0.12";
	in[1].port = 2222;
	in[1].source = "kubernetes";
	in[1].state = PROTO_GPU_STALE;
	in[1].stale = "ssh paia-probe@10.0.0.12:2222: connection refused";
	in[1].age_ms = -1;
	arr = cJSON_CreateArray();
	cJSON_AddItemToArray(arr, proto_gpu_node_encode(&in[0]));
	cJSON_AddItemToArray(arr, proto_gpu_node_encode(&in[1]));
	text = cJSON_PrintUnformatted(arr);
	assert_non_null(strstr(text, "\"power_w\":null"));
	assert_non_null(strstr(text, "\"unavailable\":{\"power_w\":\"not supported\"}"));
	assert_non_null(strstr(text, "\"age_ms\":null"));
	if (proto_gpus_decode(arr, &out, &cause) != 0)
		fail_msg("%s", cause);
	assert_int_equal(out.nnodes, 2);
	assert_string_equal(out.nodes[0].node, "gpu1");
	assert_string_equal(out.nodes[0].source, "config");
	assert_int_equal(out.nodes[0].state, PROTO_GPU_OK);
	assert_int_equal(out.nodes[0].report_ms, in[0].report_ms);
	assert_int_equal(out.nodes[0].age_ms, 1500);
	assert_int_equal(out.nodes[0].rounds_ok, 7);
	assert_string_equal(out.nodes[0].display_detail, "xset answered");
	assert_int_equal(out.nodes[0].ncards, 1);
	c = &out.nodes[0].cards[0];
	assert_int_equal(c->index, 3);
	assert_string_equal(c->name, "NVIDIA H100 80GB HBM3");
	assert_int_equal(c->known, card.known);
	assert_true(c->value[PROTO_GPU_TEMP] == card.value[PROTO_GPU_TEMP]);
	assert_string_equal(c->why[PROTO_GPU_POWER], "not supported");
	assert_null(c->why[PROTO_GPU_SM_CLOCK]);
	assert_string_equal(c->pstate, "P0");
	assert_int_equal(c->nprocs, 2);
	assert_string_equal(c->procs[0].task_id, "t-1");
	assert_int_equal(c->procs[0].attempt, 2);
	assert_string_equal(c->procs[0].container, "game");
	assert_true(c->procs[0].used_mib == 15690);
	assert_true(c->procs[1].used_mib < 0);
	assert_null(c->procs[1].pod_uid);
	assert_null(c->procs[1].task_id);
	assert_int_equal(out.nodes[1].state, PROTO_GPU_STALE);
	assert_string_equal(out.nodes[1].stale, in[1].stale);
	assert_int_equal(out.nodes[1].age_ms, -1);
	assert_int_equal(out.nodes[1].ncards, 0);
	/* Encoding what was decoded (its strings borrowed from arr) gives the same text. */
	again = cJSON_CreateArray();
	for (i = 0; i < out.nnodes; i++)
		cJSON_AddItemToArray(again, proto_gpu_node_encode(&out.nodes[i]));
	text2 = cJSON_PrintUnformatted(again);
	assert_string_equal(text, text2);
	cJSON_free(text2);
	cJSON_Delete(again);
	proto_gpus_clear(&out);

	/* One node (a gpu event's payload) decodes too. */
	assert_int_equal(proto_gpus_decode(cJSON_GetArrayItem(arr, 0), &out, &cause), 0);
	assert_int_equal(out.nnodes, 1);
	assert_int_equal(out.nodes[0].cards[0].nprocs, 2);
	proto_gpus_clear(&out);
	cJSON_Delete(arr);
	cJSON_free(text);

	/* A field of the wrong type is named. */
	arr = cJSON_Parse("[{\"node\":\"n\",\"gpus\":[{\"index\":0,\"temp_c\":\"hot\"}]}]");
	assert_int_equal(proto_gpus_decode(arr, &out, &cause), -1);
	assert_non_null(strstr(cause, "temp_c"));
	free(cause);
	cJSON_Delete(arr);
	arr = cJSON_Parse("[{\"node\":\"n\",\"state\":\"melting\"}]");
	assert_int_equal(proto_gpus_decode(arr, &out, &cause), -1);
	assert_non_null(strstr(cause, "state"));
	free(cause);
	cJSON_Delete(arr);
	arr = cJSON_Parse("[{\"host\":\"h\"}]");
	assert_int_equal(proto_gpus_decode(arr, &out, &cause), -1);
	assert_non_null(strstr(cause, "'node'"));
	free(cause);
	cJSON_Delete(arr);
}

/* A result's and TASK's optional gpus: round trip, and absent when none was seen. */
static void
test_task_gpus(void **state)
{
	struct proto_task_gpu g[2] = {
		{ "gpu1", 0, "GPU-0", "NVIDIA L40S", 20480, 87.5, 12, 1700000001000LL,
		  1700000012000LL },
		{ "gpu1", 1, "GPU-1", "NVIDIA L40S", 100, -1, 1, 1700000002000LL,
		  1700000002000LL },
	};
	struct proto_result in, out;
	struct proto_task_view v, vout;
	char *text, *text2, *cause = NULL;
	cJSON *j;

	memset(&in, 0, sizeof in);
	in.task_id = "t-1";
	in.attempt = 1;
	in.status = RESULT_SUCCEEDED;
	in.game = "catch";
	in.duration_ms = -1;
	in.source_topic = "paia.tasks";
	in.gateway = "gw";
	text = proto_result_encode(&in);
	assert_null(strstr(text, "gpus"));
	assert_int_equal(proto_result_decode(text, strlen(text), &out, &cause), 0);
	assert_int_equal(out.ngpus, 0);
	proto_result_clear(&out);
	free(text);
	in.gpus = g;
	in.ngpus = 2;
	text = proto_result_encode(&in);
	assert_non_null(strstr(text, "\"mean_util\":null"));
	if (proto_result_decode(text, strlen(text), &out, &cause) != 0)
		fail_msg("%s: %s", cause, text);
	assert_int_equal(out.ngpus, 2);
	assert_string_equal(out.gpus[0].node, "gpu1");
	assert_string_equal(out.gpus[0].name, "NVIDIA L40S");
	assert_true(out.gpus[0].peak_mem_mib == 20480);
	assert_true(out.gpus[0].mean_util == 87.5);
	assert_int_equal(out.gpus[0].samples, 12);
	assert_int_equal(out.gpus[0].first_ms, 1700000001000LL);
	assert_int_equal(out.gpus[0].last_ms, 1700000012000LL);
	assert_int_equal(out.gpus[1].index, 1);
	assert_true(out.gpus[1].mean_util < 0);
	text2 = proto_result_encode(&out);
	assert_string_equal(text, text2);
	free(text2);
	proto_result_clear(&out);
	free(text);
	text = xstrdup("{\"version\":1,\"task_id\":\"t\",\"attempt\":1,\"status\":\"failed\","
	    "\"gpus\":[{\"node\":\"n\",\"peak_mem_mib\":\"lots\"}]}");
	assert_int_equal(proto_result_decode(text, strlen(text), &out, &cause), -1);
	assert_non_null(strstr(cause, "peak_mem_mib"));
	free(cause);
	free(text);

	memset(&v, 0, sizeof v);
	v.task_id = "t-1";
	v.attempt = 1;
	v.game = "catch";
	v.state = TASK_RUNNING;
	v.pid = -1;
	v.duration_ms = -1;
	v.dir = "/d";
	v.log_path = "/d/output/log.txt";
	v.gpus = g;
	v.ngpus = 1;
	j = proto_task_view_encode(&v);
	assert_int_equal(proto_task_view_decode(j, &vout, &cause), 0);
	assert_int_equal(vout.ngpus, 1);
	assert_string_equal(vout.gpus[0].uuid, "GPU-0");
	assert_int_equal(vout.nrefused, 0);
	proto_task_view_clear(&vout);
	cJSON_Delete(j);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_round_trip),
		cmocka_unit_test(test_task_encode_decode),
		cmocka_unit_test(test_result_round_trip),
		cmocka_unit_test(test_result_decode_errors),
		cmocka_unit_test(test_result_from_timings),
		cmocka_unit_test(test_dlq_round_trip),
		cmocka_unit_test(test_request_build_parse),
		cmocka_unit_test(test_task_view_round_trip),
		cmocka_unit_test(test_status_view_round_trip),
		cmocka_unit_test(test_lag_round_trip),
		cmocka_unit_test(test_answers_and_events),
		cmocka_unit_test(test_gpu_nodes_round_trip),
		cmocka_unit_test(test_task_gpus),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
