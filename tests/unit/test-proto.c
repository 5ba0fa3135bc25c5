/*
 * test-proto.c: the contracts of proto/ from both ends: every field of
 * result v1, the DLQ record, the control requests and the TASK, STATUS,
 * LAG and VPN views survives encode then decode, and so do the console's
 * (POD, log chunks and ends, VIDEO, FRAME, the lag history); decoders
 * name the field a record got wrong; log text is valid UTF-8 whatever
 * the log's bytes; the names tables round-trip; a client refuses a
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
	enum proto_vpn_state vs;
	enum proto_vpn_kind vk;
	enum proto_vpn_result vr;
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
	for (i = 0; i < PROTO_VPN_NSTATES; i++) {
		assert_int_equal(proto_vpn_state_parse(proto_vpn_state_name((enum proto_vpn_state)i),
		    &vs), 0);
		assert_int_equal(vs, i);
	}
	for (i = 0; i < PROTO_VPN_NKINDS; i++) {
		assert_int_equal(proto_vpn_kind_parse(proto_vpn_kind_name((enum proto_vpn_kind)i),
		    &vk), 0);
		assert_int_equal(vk, i);
	}
	for (i = 0; i < PROTO_VPN_NRESULTS; i++) {
		assert_int_equal(proto_vpn_result_parse(
		    proto_vpn_result_name((enum proto_vpn_result)i), &vr), 0);
		assert_int_equal(vr, i);
	}
	assert_string_equal(proto_state_name(TASK_UPLOAD_WAIT), "upload_wait");
	assert_string_equal(proto_vpn_state_name(PROTO_VPN_RECONNECTING), "RECONNECTING");
	assert_int_equal(proto_vpn_state_parse("connected", &vs), -1);
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
	in.kept = "/var/lib/paia/kept/t-1.3";
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
	assert_string_equal(out.kept, "/var/lib/paia/kept/t-1.3");
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
	in.kept = NULL;
	text = proto_result_encode(&in);
	assert_null(strstr(text, "\"kept\""));
	assert_null(strstr(text, "\"recovered\""));
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
		if (c == PROTO_CMD_TASK || c == PROTO_CMD_REQUEUE || c == PROTO_CMD_CANCEL ||
		    c == PROTO_CMD_LOGS || c == PROTO_CMD_FRAME || c == PROTO_CMD_VIDEO_DATA)
			in.id = (char *)"t-1";
		if (c == PROTO_CMD_TASKS)
			in.state = (char *)"running";
		if (c == PROTO_CMD_LAG)
			in.check = 1;
		if (c == PROTO_CMD_LOGS)
			in.follow = 1;
		if (c == PROTO_CMD_FRAME)
			in.at = 2.5;
		if (c == PROTO_CMD_VIDEO_DATA)
			in.offset = (INT64_C(1) << 40) + 3;
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
		assert_int_equal(out.follow, in.follow);
		assert_int_equal(out.stop, 0);
		assert_true(out.at == in.at);
		assert_true(out.offset == in.offset);
		proto_request_clear(&out);
		free(line);
	}
	/* A stop, as the console builds it: the same id, stop and nothing else. */
	memset(&in, 0, sizeof in);
	in.cmd = PROTO_CMD_LOGS;
	in.id = (char *)"t-1";
	in.stop = 1;
	line = proto_request_build(&in);
	assert_string_equal(line, "{\"cmd\":\"logs\",\"id\":\"t-1\",\"stop\":true}");
	if (proto_request_parse(line, strlen(line), &out, &cause) != 0)
		fail_msg("%s: %s", line, cause);
	assert_int_equal(out.cmd, PROTO_CMD_LOGS);
	assert_string_equal(out.id, "t-1");
	assert_int_equal(out.stop, 1);
	assert_int_equal(out.follow, 0);
	proto_request_clear(&out);
	free(line);
	/* The unknown-command message lists the table's commands. */
	assert_int_equal(proto_request_parse("{\"cmd\":\"reboot\"}", 16, &out, &cause), -1);
	assert_non_null(strstr(cause, proto_cmd_list()));
	assert_non_null(strstr(proto_cmd_list(), "subscribe"));
	free(cause);
}

/* The console's commands: their fields, and what is refused. */
static void
test_request_console_fields(void **state)
{
	static const struct {
		const char *line;
		const char *error;	/* NULL: accepted */
	} cases[] = {
		{ "{\"cmd\":\"pods\"}", NULL },
		{ "{\"cmd\":\"videos\"}", NULL },
		{ "{\"cmd\":\"logs\",\"id\":\"t1\"}", NULL },
		{ "{\"cmd\":\"logs\",\"id\":\"t1\",\"follow\":false}", NULL },
		{ "{\"cmd\":\"frame\",\"id\":\"t1\",\"at\":0}", NULL },
		{ "{\"cmd\":\"frame\",\"id\":\"t1\",\"at\":12.75}", NULL },
		{ "{\"cmd\":\"logs\"}", "request needs a string field 'id'" },
		{ "{\"cmd\":\"logs\",\"id\":\"t1\",\"follow\":1}",
		  "field 'follow' must be a boolean, not a number" },
		{ "{\"cmd\":\"logs\",\"id\":\"t1\",\"at\":1}",
		  "unknown field 'at' for 'logs' (it takes id, follow, stop)" },
		{ "{\"cmd\":\"logs\",\"id\":\"t1\",\"stop\":true}", NULL },
		{ "{\"cmd\":\"logs\",\"id\":\"t1\",\"stop\":false,\"follow\":true}", NULL },
		{ "{\"cmd\":\"logs\",\"id\":\"t1\",\"stop\":true,\"follow\":false}", NULL },
		{ "{\"cmd\":\"logs\",\"stop\":true}", "request needs a string field 'id'" },
		{ "{\"cmd\":\"logs\",\"id\":\"t1\",\"stop\":1}",
		  "field 'stop' must be a boolean, not a number" },
		{ "{\"cmd\":\"logs\",\"id\":\"t1\",\"stop\":true,\"follow\":true}",
		  "fields 'stop' and 'follow' do not go together" },
		{ "{\"cmd\":\"task\",\"id\":\"t1\",\"stop\":true}",
		  "unknown field 'stop' for 'task' (it takes id)" },
		{ "{\"cmd\":\"frame\",\"id\":\"t1\",\"at\":-1}",
		  "field 'at' must be 0 to 604800 (seconds into the video)" },
		{ "{\"cmd\":\"frame\",\"id\":\"t1\",\"at\":\"1\"}",
		  "field 'at' must be a number, not a string" },
		{ "{\"cmd\":\"frame\",\"id\":\"t1\",\"at\":1e999}",
		  "field 'at' must be 0 to 604800 (seconds into the video)" },
		{ "{\"cmd\":\"frame\",\"at\":1}", "request needs a string field 'id'" },
		{ "{\"cmd\":\"pods\",\"id\":\"x\"}",
		  "unknown field 'id' for 'pods' (it takes no other field)" },
		{ "{\"cmd\":\"videos\",\"follow\":true}",
		  "unknown field 'follow' for 'videos' (it takes no other field)" },
	};
	struct proto_request req;
	char *cause = NULL;
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int rc = proto_request_parse(cases[i].line, strlen(cases[i].line), &req, &cause);

		if (cases[i].error == NULL) {
			if (rc != 0)
				fail_msg("%s: %s", cases[i].line, cause);
			proto_request_clear(&req);
			continue;
		}
		if (rc == 0)
			fail_msg("%s: accepted", cases[i].line);
		if (strncmp(cause, cases[i].error, strlen(cases[i].error)) != 0)
			fail_msg("%s: \"%s\", not \"%s\"", cases[i].line, cause, cases[i].error);
		free(cause);
		cause = NULL;
	}
}

static void
test_pod_view_round_trip(void **state)
{
	struct proto_pod_view in[2], out;
	struct proto_pods pods, back;
	cJSON *j, *answer;
	char *cause = NULL;

	memset(in, 0, sizeof in);
	in[0].name = "paia-t1-1";
	in[0].namespace = "paia";
	in[0].task_id = "t1";
	in[0].attempt = 1;
	in[0].phase = "Pending";
	in[0].status = "ImagePullBackOff";
	in[0].ready = 0;
	in[0].total = 1;
	in[0].restarts = 2;
	in[0].node = "gpu-1";
	in[0].created_ms = 1764324000123;
	in[0].started_ms = 1764324001000;
	in[0].deleting = 1;
	in[0].message = "Back-off pulling image \"x\"";
	in[0].deleted = 1;
	in[1].name = "paia-orphan-3";
	in[1].status = "Pending";
	j = proto_pod_view_encode(&in[0]);
	if (proto_pod_view_decode(j, &out, &cause) != 0)
		fail_msg("%s", cause);
	assert_string_equal(out.name, in[0].name);
	assert_string_equal(out.namespace, "paia");
	assert_string_equal(out.task_id, "t1");
	assert_int_equal(out.attempt, 1);
	assert_string_equal(out.phase, "Pending");
	assert_string_equal(out.status, "ImagePullBackOff");
	assert_int_equal(out.ready, 0);
	assert_int_equal(out.total, 1);
	assert_int_equal(out.restarts, 2);
	assert_string_equal(out.node, "gpu-1");
	assert_int_equal(out.created_ms, in[0].created_ms);
	assert_int_equal(out.started_ms, in[0].started_ms);
	assert_int_equal(out.deleting, 1);
	assert_string_equal(out.message, in[0].message);
	assert_int_equal(out.deleted, 1);
	cJSON_Delete(j);

	/* Unknown values stay unknown: null, not "" or 0 made up. */
	j = proto_pod_view_encode(&in[1]);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "task_id")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "attempt")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "node")));
	assert_null(cJSON_GetObjectItem(j, "created"));
	assert_null(cJSON_GetObjectItem(j, "deleted"));
	assert_int_equal(proto_pod_view_decode(j, &out, &cause), 0);
	assert_null(out.task_id);
	assert_int_equal(out.attempt, 0);
	assert_int_equal(out.created_ms, 0);
	cJSON_Delete(j);

	memset(&pods, 0, sizeof pods);
	pods.runner = "k8s";
	pods.namespace = "paia";
	pods.synced = 1;
	pods.pods = in;
	pods.npods = 2;
	answer = proto_answer_ok();
	proto_pods_encode(answer, &pods);
	if (proto_pods_decode(answer, &back, &cause) != 0)
		fail_msg("%s", cause);
	assert_string_equal(back.runner, "k8s");
	assert_string_equal(back.namespace, "paia");
	assert_int_equal(back.synced, 1);
	assert_int_equal(back.npods, 2);
	assert_string_equal(back.pods[1].name, "paia-orphan-3");
	proto_pods_clear(&back);
	cJSON_Delete(answer);

	/* The local runner's answer: no pods, said plainly. */
	answer = cJSON_Parse("{\"ok\":true,\"runner\":\"local\",\"synced\":false,\"pods\":[]}");
	assert_int_equal(proto_pods_decode(answer, &back, &cause), 0);
	assert_string_equal(back.runner, "local");
	assert_int_equal(back.npods, 0);
	proto_pods_clear(&back);
	cJSON_Delete(answer);
	answer = cJSON_Parse("{\"runner\":\"k8s\",\"pods\":[{\"name\":\"a\",\"ready\":\"1\"}]}");
	assert_int_equal(proto_pods_decode(answer, &back, &cause), -1);
	assert_string_equal(cause, "field 'ready' must be an integer, not a string");
	free(cause);
	cJSON_Delete(answer);
}

/* The pods event: listed afresh, how many; an old client reads it as "other". */
static void
test_pods_event_round_trip(void **state)
{
	struct proto_pods_event e = { 1, 10000 }, back;
	enum proto_event_type type;
	const cJSON *payload;
	cJSON *root;
	char *line, *cause = NULL;

	line = proto_event_encode(PROTO_EVENT_PODS, proto_pods_event_encode(&e));
	assert_string_equal(line, "{\"event\":\"pods\",\"pods\":{\"synced\":true,\"count\":10000}}");
	assert_int_equal(proto_event_parse(line, strlen(line), &root, &type, &payload, &cause), 0);
	assert_int_equal(type, PROTO_EVENT_PODS);
	if (proto_pods_event_decode(payload, &back, &cause) != 0)
		fail_msg("%s", cause);
	assert_int_equal(back.synced, 1);
	assert_int_equal(back.count, 10000);
	cJSON_Delete(root);
	free(line);

	/* Strict about the fields it knows, lenient about the rest. */
	root = cJSON_Parse("{\"count\":-1}");
	assert_int_equal(proto_pods_event_decode(root, &back, &cause), -1);
	assert_string_equal(cause, "field 'count' must not be negative");
	free(cause);
	cause = NULL;
	cJSON_Delete(root);
	root = cJSON_Parse("{\"count\":\"3\"}");
	assert_int_equal(proto_pods_event_decode(root, &back, &cause), -1);
	free(cause);
	cause = NULL;
	cJSON_Delete(root);
	root = cJSON_Parse("{\"newer\":[1]}");
	assert_int_equal(proto_pods_event_decode(root, &back, &cause), 0);
	assert_int_equal(back.count, 0);
	cJSON_Delete(root);
	assert_int_equal(proto_pods_event_decode(NULL, &back, &cause), -1);
	free(cause);
}

/* Log bytes become valid UTF-8 text: kept, replaced, or held for the next chunk. */
static void
test_log_text(void **state)
{
	static const struct {
		const char *raw;
		size_t len;
		int final;
		const char *text;
		size_t keep;
	} cases[] = {
		{ "plain\n", 6, 0, "plain\n", 0 },
		{ "caf\xc3\xa9", 5, 0, "caf\xc3\xa9", 0 },
		{ "caf\xc3", 4, 0, "caf", 1 },			/* cut: the rest comes later */
		{ "caf\xc3", 4, 1, "caf\xef\xbf\xbd", 0 },	/* the end: replaced */
		{ "\xe2\x82", 2, 0, "", 2 },
		{ "\xf0\x9f\x8e", 3, 0, "", 3 },
		{ "a\0b", 3, 0, "a\xef\xbf\xbd" "b", 0 },	/* NUL */
		{ "\xff\xfe", 2, 0, "\xef\xbf\xbd\xef\xbf\xbd", 0 },
		{ "\xc0\xaf", 2, 0, "\xef\xbf\xbd\xef\xbf\xbd", 0 },	/* overlong */
		{ "\xed\xa0\x80", 3, 0, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", 0 },	/* surrogate */
		{ "\xf4\x90\x80\x80", 4, 0,
		  "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", 0 },	/* > U+10FFFF */
		{ "\xc3x", 2, 0, "\xef\xbf\xbdx", 0 },	/* not cut: broken */
		{ "\x1b[31mred", 8, 0, "\x1b[31mred", 0 },	/* kept: the client cleans */
	};
	char *text;
	size_t i, keep;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		text = proto_log_text(cases[i].raw, cases[i].len, cases[i].final, &keep);
		if (strcmp(text, cases[i].text) != 0 || keep != cases[i].keep)
			fail_msg("case %zu: \"%s\" keep %zu", i, text, keep);
		assert_true(util_utf8_valid(text, strlen(text)));
		free(text);
	}
}

static void
test_log_events_round_trip(void **state)
{
	struct proto_log_chunk c, cout;
	struct proto_log_end e, eout;
	enum proto_event_type type;
	const cJSON *payload;
	cJSON *root;
	char *line, *cause = NULL;
	int r;

	memset(&c, 0, sizeof c);
	c.task_id = "t1";
	c.attempt = 2;
	c.source = "pod";
	c.offset = 16384;
	c.bytes = 5;
	c.data = "hi\n\xc3\xa9";
	line = proto_event_encode(PROTO_EVENT_LOG, proto_log_chunk_encode(&c));
	assert_int_equal(proto_event_parse(line, strlen(line), &root, &type, &payload, &cause), 0);
	assert_int_equal(type, PROTO_EVENT_LOG);
	if (proto_log_chunk_decode(payload, &cout, &cause) != 0)
		fail_msg("%s", cause);
	assert_string_equal(cout.task_id, "t1");
	assert_int_equal(cout.attempt, 2);
	assert_string_equal(cout.source, "pod");
	assert_int_equal(cout.offset, 16384);
	assert_int_equal(cout.bytes, 5);
	assert_string_equal(cout.data, c.data);
	assert_int_equal(cout.len, 5);
	cJSON_Delete(root);
	free(line);

	for (r = 0; r < PROTO_LOG_NREASONS; r++) {
		memset(&e, 0, sizeof e);
		e.task_id = "t1";
		e.attempt = 1;
		e.reason = (enum proto_log_reason)r;
		e.bytes = 123;
		e.error = r == PROTO_LOG_ERROR ? "output/log.txt is not read: a FIFO" : NULL;
		line = proto_event_encode(PROTO_EVENT_LOG_END, proto_log_end_encode(&e));
		assert_int_equal(proto_event_parse(line, strlen(line), &root, &type, &payload,
		    &cause), 0);
		assert_int_equal(type, PROTO_EVENT_LOG_END);
		if (proto_log_end_decode(payload, &eout, &cause) != 0)
			fail_msg("%s", cause);
		assert_int_equal(eout.reason, r);
		assert_string_equal(eout.reason_name, proto_log_reason_name(e.reason));
		assert_int_equal(eout.bytes, 123);
		if (e.error != NULL)
			assert_string_equal(eout.error, e.error);
		else
			assert_null(eout.error);
		cJSON_Delete(root);
		free(line);
	}
	/* A newer gateway's reason stays readable; bad fields are named. */
	root = cJSON_Parse("{\"task_id\":\"t\",\"reason\":\"moved\"}");
	assert_int_equal(proto_log_end_decode(root, &eout, &cause), 0);
	assert_int_equal(eout.reason, PROTO_LOG_ERROR);
	assert_string_equal(eout.reason_name, "moved");
	cJSON_Delete(root);
	root = cJSON_Parse("{\"task_id\":\"t\",\"data\":\"x\",\"offset\":-4}");
	assert_int_equal(proto_log_chunk_decode(root, &cout, &cause), -1);
	assert_string_equal(cause, "fields 'offset' and 'bytes' must not be negative");
	free(cause);
	cJSON_Delete(root);
}

static void
test_video_and_frame_round_trip(void **state)
{
	static const unsigned char png[] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 1, 2 };
	struct proto_video_view v, out;
	struct proto_videos vs;
	struct proto_frame f, fout;
	cJSON *j, *answer, *arr;
	char *cause = NULL;

	memset(&v, 0, sizeof v);
	v.task_id = "t1";
	v.attempt = 3;
	v.game = "catch";
	v.status = "succeeded";
	v.name = "video.mp4";
	v.url = "s3://bucket/t1/3/video.mp4";
	v.content_type = "video/mp4";
	v.bytes = 123456;
	v.reported_ms = 1764324000123;
	v.local = 1;
	j = proto_video_view_encode(&v);
	if (proto_video_view_decode(j, &out, &cause) != 0)
		fail_msg("%s", cause);
	assert_string_equal(out.task_id, "t1");
	assert_int_equal(out.attempt, 3);
	assert_string_equal(out.game, "catch");
	assert_string_equal(out.status, "succeeded");
	assert_string_equal(out.name, "video.mp4");
	assert_string_equal(out.url, v.url);
	assert_string_equal(out.content_type, "video/mp4");
	assert_int_equal(out.bytes, 123456);
	assert_int_equal(out.reported_ms, v.reported_ms);
	assert_int_equal(out.local, 1);
	answer = proto_answer_ok();
	arr = cJSON_AddArrayToObject(answer, "videos");
	cJSON_AddItemToArray(arr, j);
	assert_int_equal(proto_videos_decode(answer, &vs, &cause), 0);
	assert_int_equal(vs.nvideos, 1);
	assert_string_equal(vs.videos[0].task_id, "t1");
	proto_videos_clear(&vs);
	cJSON_Delete(answer);

	memset(&f, 0, sizeof f);
	f.task_id = "t1";
	f.attempt = 3;
	f.at = 1.25;
	f.width = 640;
	f.height = 360;
	f.content_type = "image/png";
	f.data = png;
	f.len = sizeof png;
	j = proto_frame_encode(&f);
	if (proto_frame_decode(j, &fout, &cause) != 0)
		fail_msg("%s", cause);
	assert_int_equal(fout.len, sizeof png);
	assert_memory_equal(fout.data, png, sizeof png);
	assert_true(fout.at == 1.25);
	assert_int_equal(fout.width, 640);
	assert_int_equal(fout.height, 360);
	assert_string_equal(fout.content_type, "image/png");
	proto_frame_clear(&fout);
	/* Its bytes count must match; data must be base64. */
	cJSON_ReplaceItemInObject(j, "bytes", cJSON_CreateNumber(3));
	assert_int_equal(proto_frame_decode(j, &fout, &cause), -1);
	assert_string_equal(cause, "field 'bytes' says 3, the data holds 11");
	free(cause);
	cJSON_ReplaceItemInObject(j, "data", cJSON_CreateString("iVBO!w=="));
	assert_int_equal(proto_frame_decode(j, &fout, &cause), -1);
	assert_string_equal(cause, "field 'data' is not base64");
	free(cause);
	cJSON_Delete(j);

	/* A piece of a video: round trip; it must fit its file, and the cap. */
	{
		struct proto_video_data d, dout;

		memset(&d, 0, sizeof d);
		d.task_id = "t1";
		d.attempt = 2;
		d.offset = 100;
		d.size = 111;
		d.data = png;
		d.len = sizeof png;
		j = proto_video_data_encode(&d);
		if (proto_video_data_decode(j, &dout, &cause) != 0)
			fail_msg("%s", cause);
		assert_int_equal(dout.len, sizeof png);
		assert_memory_equal(dout.data, png, sizeof png);
		assert_true(dout.offset == 100 && dout.size == 111 && dout.attempt == 2);
		assert_string_equal(dout.task_id, "t1");
		proto_video_data_clear(&dout);
		cJSON_ReplaceItemInObject(j, "size", cJSON_CreateNumber(105));
		assert_int_equal(proto_video_data_decode(j, &dout, &cause), -1);
		assert_non_null(strstr(cause, "does not fit"));
		free(cause);
		cJSON_ReplaceItemInObject(j, "size", cJSON_CreateNumber(-1));
		assert_int_equal(proto_video_data_decode(j, &dout, &cause), -1);
		assert_non_null(strstr(cause, "out of range"));
		free(cause);
		cJSON_DeleteItemFromObject(j, "offset");
		assert_int_equal(proto_video_data_decode(j, &dout, &cause), -1);
		assert_non_null(strstr(cause, "offset"));
		free(cause);
		cJSON_Delete(j);
	}
}

static void
test_lag_history_round_trip(void **state)
{
	struct proto_lag_sample h0[3] = { { 1000, 0 }, { 2000, 7 }, { 3000, -1 } };
	struct proto_lag_view in[2];
	struct proto_lag l, out;
	cJSON *a;
	char *cause = NULL;

	memset(in, 0, sizeof in);
	memset(&l, 0, sizeof l);
	in[0].partition = 0;
	in[0].history = h0;
	in[0].nhistory = 3;
	in[1].partition = 1;
	l.partitions = in;
	l.npartitions = 2;
	a = proto_lag_encode(&l);
	if (proto_lag_decode(a, &out, &cause) != 0)
		fail_msg("%s", cause);
	assert_int_equal(out.partitions[0].nhistory, 3);
	assert_int_equal(out.partitions[0].history[1].t_ms, 2000);
	assert_int_equal(out.partitions[0].history[1].lag, 7);
	assert_int_equal(out.partitions[0].history[2].lag, -1);
	assert_int_equal(out.partitions[1].nhistory, 0);
	proto_lag_clear(&out);
	cJSON_Delete(a);
	a = cJSON_Parse("{\"partitions\":[{\"partition\":0,\"history\":[[1,2,3]]}]}");
	assert_int_equal(proto_lag_decode(a, &out, &cause), -1);
	assert_string_equal(cause, "field 'history' must hold [time_ms, lag] pairs of numbers");
	free(cause);
	cJSON_Delete(a);
}

static void
test_base64_decode(void **state)
{
	static const char *const bad[] = { "A", "AB=C", "A===", "AB==C===", "QR==", "QUJ=\n",
	    "Q!==" };
	unsigned char *out;
	size_t i, len;
	char *enc;

	for (i = 0; i < 40; i++) {
		unsigned char in[40];
		size_t k;

		for (k = 0; k < i; k++)
			in[k] = (unsigned char)(k * 37 + i);
		enc = util_base64(in, i);
		out = util_base64_decode(enc, &len);
		assert_non_null(out);
		assert_int_equal(len, i);
		assert_memory_equal(out, in, i);
		free(out);
		free(enc);
	}
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if ((out = util_base64_decode(bad[i], &len)) != NULL)
			fail_msg("\"%s\" decoded", bad[i]);
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
	in.upload_waiting_since = 1700000005000LL;
	in.upload_next_try = 1700000006500LL;
	in.upload_deadline = 1700021600000LL;
	in.upload_error = "s3://b/t-7/2/log.txt: Couldn't connect to server";
	in.recovered = "outputs of the finished game uploaded after a gateway restart";
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
	assert_int_equal(out.upload_waiting_since, in.upload_waiting_since);
	assert_int_equal(out.upload_next_try, in.upload_next_try);
	assert_int_equal(out.upload_deadline, in.upload_deadline);
	assert_string_equal(out.upload_error, in.upload_error);
	assert_string_equal(out.recovered, in.recovered);
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
	assert_int_equal(out.upload_waiting_since, 0);
	assert_null(out.upload_error);
	assert_null(out.recovered);
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
	in.upload_waiting = 12;
	in.vpn_enabled = 1;
	in.vpn_state = PROTO_VPN_RECONNECTING;
	in.vpn_healthy = 0;
	in.vpn_since_ms = 1700000009000LL;
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
	assert_int_equal(out.upload_waiting, 12);
	assert_int_equal(out.vpn_enabled, 1);
	assert_int_equal(out.vpn_state, PROTO_VPN_RECONNECTING);
	assert_int_equal(out.vpn_healthy, 0);
	assert_int_equal(out.vpn_since_ms, 1700000009000LL);
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

	/* No tunnel configured: "vpn": null, read as not enabled. */
	in.vpn_enabled = 0;
	j = proto_status_view_encode(&in);
	assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "vpn")));
	assert_int_equal(proto_status_view_decode(j, &out, &cause), 0);
	assert_int_equal(out.vpn_enabled, 0);
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
	static const struct proto_lag_owner gw = { "gw-1", NULL, NULL, NULL };
	static const struct proto_lag_owner member = { NULL, "m-1", "paia-gateway-gw-2", "/10.0.0.2" };
	struct proto_lag_view parts[3] = {
		{ 0, 10, 0, 15, 1.5, 5, 2.5, &gw, HEALTH_STALL, 0, 3,
		  "nothing committed for 3 checks", NULL },
		{ 1, -1, 0, -1, -1, -1, -1, &gw, HEALTH_OK, 1, 0, NULL, "Broker: Not leader" },
		{ 2, 7, 4.25, 7, 0.5, 0, 0, NULL, HEALTH_ERR, 0, -1, NULL, NULL },
	};
	struct proto_lag in, out;
	cJSON *j, *p;
	char *cause = NULL, *text;

	memset(&in, 0, sizeof in);
	in.source = "gateway";
	in.group = "paia-gateway";
	in.topic = "paia.tasks";
	in.instance = "gw-1";
	in.time_ms = 1796594960123;
	in.healthy = 0;
	in.why = "partition 0: stalled\n";
	in.partitions = parts;
	in.npartitions = 3;
	j = proto_lag_encode(&in);
	/* The fields docs/control.md names, nulls where a value is not known. */
	text = cJSON_PrintUnformatted(j);
	assert_non_null(strstr(text, "{\"version\":1,\"source\":\"gateway\",\"group\":\"paia-gateway\","
	    "\"topic\":\"paia.tasks\",\"instance\":\"gw-1\",\"time\":\"2026-12-06T22:09:20.123Z\","
	    "\"healthy\":false,"));
	assert_non_null(strstr(text, "{\"partition\":1,\"committed\":-1,\"committed_age_s\":0,"
	    "\"log_end\":-1,\"log_end_age_s\":null,\"lag\":-1,\"lag_s\":-1,\"owner\":{\"instance\":"
	    "\"gw-1\"},\"status\":\"OK\",\"healthy\":true,\"bad_checks\":0,\"error\":"
	    "\"Broker: Not leader\"}"));
	assert_non_null(strstr(text, "\"owner\":null,\"status\":\"ERR\",\"healthy\":false}"));
	assert_null(strstr(text, "log_end_error"));
	cJSON_free(text);
	if (proto_lag_decode(j, &out, &cause) != 0)
		fail_msg("%s", cause);
	assert_int_equal(out.version, 1);
	assert_string_equal(out.source, "gateway");
	assert_string_equal(out.group, "paia-gateway");
	assert_string_equal(out.instance, "gw-1");
	assert_int_equal(out.time_ms, in.time_ms);
	assert_int_equal(out.has_group_state, 0);
	assert_int_equal(out.healthy, 0);
	assert_string_equal(out.why, in.why);
	assert_int_equal(out.npartitions, 3);
	assert_int_equal(out.partitions[0].committed, 10);
	assert_int_equal(out.partitions[0].log_end, 15);
	assert_true(out.partitions[0].log_end_age_s == 1.5);
	assert_int_equal(out.partitions[0].lag, 5);
	assert_true(out.partitions[0].lag_s == 2.5);
	assert_int_equal(out.partitions[0].status, HEALTH_STALL);
	assert_int_equal(out.partitions[0].bad_checks, 3);
	assert_string_equal(out.partitions[0].owner->instance, "gw-1");
	assert_string_equal(out.partitions[0].why, parts[0].why);
	assert_null(out.partitions[0].error);
	assert_int_equal(out.partitions[1].lag, -1);
	assert_true(out.partitions[1].log_end_age_s < 0);
	assert_string_equal(out.partitions[1].error, "Broker: Not leader");
	assert_null(out.partitions[2].owner);
	assert_int_equal(out.partitions[2].status, HEALTH_ERR);
	assert_int_equal(out.partitions[2].bad_checks, -1);
	assert_true(out.partitions[2].committed_age_s == 4.25);
	proto_lag_clear(&out);
	cJSON_Delete(j);

	/* The broker's view: the group's state and members, owners by member. */
	in.source = "broker";
	in.instance = NULL;
	in.has_group_state = 1;
	in.group_state = NULL;
	in.members = -1;
	in.group_error = "the broker cannot describe groups";
	parts[0].owner = &member;
	j = proto_lag_encode(&in);
	assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "group_state")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "members")));
	assert_null(cJSON_GetObjectItemCaseSensitive(j, "instance"));
	if (proto_lag_decode(j, &out, &cause) != 0)
		fail_msg("%s", cause);
	assert_string_equal(out.source, "broker");
	assert_int_equal(out.has_group_state, 1);
	assert_null(out.group_state);
	assert_int_equal(out.members, -1);
	assert_string_equal(out.group_error, "the broker cannot describe groups");
	assert_string_equal(out.partitions[0].owner->client_id, "paia-gateway-gw-2");
	assert_string_equal(out.partitions[0].owner->host, "/10.0.0.2");
	assert_null(out.partitions[0].owner->instance);
	proto_lag_clear(&out);

	/* What gateways before the LAG object sent: the answer, and /lag's bare array. */
	p = cJSON_GetObjectItemCaseSensitive(j, "partitions");
	cJSON_AddStringToObject(cJSON_GetArrayItem(p, 2), "log_end_error", "Broker: timed out");
	if (proto_lag_decode(p, &out, &cause) != 0)
		fail_msg("%s", cause);
	assert_int_equal(out.version, 0);
	assert_int_equal(out.healthy, 1);
	assert_int_equal(out.npartitions, 3);
	assert_string_equal(out.partitions[2].error, "Broker: timed out");
	proto_lag_clear(&out);
	/* A wrong type is named. */
	cJSON_ReplaceItemInObjectCaseSensitive(cJSON_GetArrayItem(p, 0), "owner",
	    cJSON_CreateString("gw-1"));
	assert_int_equal(proto_lag_decode(j, &out, &cause), -1);
	assert_string_equal(cause, "field 'owner' must be an object or null, not a string");
	free(cause);
	cJSON_Delete(j);
}

static void
test_vpn_view_round_trip(void **state)
{
	struct proto_vpn_check checks[2] = {
		{ PROTO_VPN_ROUTE, "10.77.0.0/24", PROTO_VPN_OK, "via tun0", 1700000001000LL, 2500,
		  -1 },
		{ PROTO_VPN_ENDPOINT, "10.77.0.10:9000", PROTO_VPN_FAILED,
		  "connect to 10.77.0.10:9000: no answer within 5000 ms", 0, -1, -1 },
	};
	struct proto_vpn_view in, out;
	cJSON *j, *bad;
	char *cause = NULL;

	memset(&in, 0, sizeof in);
	in.enabled = 1;
	in.mode = "spawn";
	in.state = PROTO_VPN_CONNECTED;
	in.since_ms = 1700000000000LL;
	in.connected_ms = 1700000000000LL;
	in.openvpn_state = "CONNECTED";
	in.openvpn_detail = "SUCCESS";
	in.pid = 4711;
	in.error = "openvpn exited with status 1: Options error";
	in.error_ms = 1699999990000LL;
	in.restarts = 2;
	in.auth_failures = 1;
	in.bytes_in = 123456789;
	in.bytes_out = 42;
	in.tun_ip = "10.8.0.2";
	in.tun_dev = "tun0";
	in.healthy = 0;
	in.down_since_ms = 1699999980000LL;
	in.pause_intake = 1;
	in.intake_paused = 1;
	in.checks = checks;
	in.nchecks = 2;
	j = proto_vpn_view_encode(&in);
	if (proto_vpn_view_decode(j, &out, &cause) != 0)
		fail_msg("%s", cause);
	assert_int_equal(out.enabled, 1);
	assert_string_equal(out.mode, "spawn");
	assert_int_equal(out.state, PROTO_VPN_CONNECTED);
	assert_int_equal(out.since_ms, in.since_ms);
	assert_int_equal(out.connected_ms, in.connected_ms);
	assert_int_equal(out.next_try_ms, 0);
	assert_string_equal(out.openvpn_state, "CONNECTED");
	assert_string_equal(out.openvpn_detail, "SUCCESS");
	assert_int_equal(out.pid, 4711);
	assert_string_equal(out.error, in.error);
	assert_int_equal(out.error_ms, in.error_ms);
	assert_int_equal(out.restarts, 2);
	assert_int_equal(out.auth_failures, 1);
	assert_int_equal(out.bytes_in, 123456789);
	assert_int_equal(out.bytes_out, 42);
	assert_string_equal(out.tun_ip, "10.8.0.2");
	assert_string_equal(out.tun_dev, "tun0");
	assert_int_equal(out.healthy, 0);
	assert_int_equal(out.down_since_ms, in.down_since_ms);
	assert_int_equal(out.pause_intake, 1);
	assert_int_equal(out.intake_paused, 1);
	assert_int_equal(out.nchecks, 2);
	assert_int_equal(out.checks[0].kind, PROTO_VPN_ROUTE);
	assert_string_equal(out.checks[0].target, "10.77.0.0/24");
	assert_int_equal(out.checks[0].result, PROTO_VPN_OK);
	assert_string_equal(out.checks[0].reason, "via tun0");
	assert_int_equal(out.checks[0].checked_ms, 1700000001000LL);
	assert_int_equal(out.checks[0].age_ms, 2500);
	assert_int_equal(out.checks[0].latency_ms, -1);
	assert_int_equal(out.checks[1].kind, PROTO_VPN_ENDPOINT);
	assert_int_equal(out.checks[1].result, PROTO_VPN_FAILED);
	assert_int_equal(out.checks[1].checked_ms, 0);
	assert_int_equal(out.checks[1].age_ms, -1);
	proto_vpn_view_clear(&out);

	/* As an event. */
	{
		char *line = proto_event_encode(PROTO_EVENT_VPN, j);
		enum proto_event_type type;
		const cJSON *payload;
		cJSON *root;

		assert_int_equal(proto_event_parse(line, strlen(line), &root, &type, &payload,
		    &cause), 0);
		assert_int_equal(type, PROTO_EVENT_VPN);
		assert_int_equal(proto_vpn_view_decode(payload, &out, &cause), 0);
		assert_int_equal(out.nchecks, 2);
		proto_vpn_view_clear(&out);
		cJSON_Delete(root);
		free(line);
	}

	/* No tunnel: {"enabled":false} and nothing else. */
	memset(&in, 0, sizeof in);
	j = proto_vpn_view_encode(&in);
	assert_int_equal(cJSON_GetArraySize(j), 1);
	assert_int_equal(proto_vpn_view_decode(j, &out, &cause), 0);
	assert_int_equal(out.enabled, 0);
	proto_vpn_view_clear(&out);
	cJSON_Delete(j);

	/* Wrong types and names are named. */
	bad = cJSON_Parse("{\"enabled\":true,\"state\":\"UP\"}");
	assert_int_equal(proto_vpn_view_decode(bad, &out, &cause), -1);
	assert_non_null(strstr(cause, "'state'"));
	free(cause);
	cJSON_Delete(bad);
	bad = cJSON_Parse("{\"enabled\":true,\"state\":\"CONNECTED\",\"checks\":"
	    "[{\"kind\":\"route\",\"result\":\"ok\"}]}");
	assert_int_equal(proto_vpn_view_decode(bad, &out, &cause), -1);
	assert_non_null(strstr(cause, "'target'"));
	free(cause);
	cJSON_Delete(bad);
	bad = cJSON_Parse("{\"enabled\":1}");
	assert_int_equal(proto_vpn_view_decode(bad, &out, &cause), -1);
	assert_non_null(strstr(cause, "'enabled' must be a boolean"));
	free(cause);
	cJSON_Delete(bad);
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
		cmocka_unit_test(test_request_console_fields),
		cmocka_unit_test(test_pod_view_round_trip),
		cmocka_unit_test(test_pods_event_round_trip),
		cmocka_unit_test(test_log_text),
		cmocka_unit_test(test_log_events_round_trip),
		cmocka_unit_test(test_video_and_frame_round_trip),
		cmocka_unit_test(test_lag_history_round_trip),
		cmocka_unit_test(test_base64_decode),
		cmocka_unit_test(test_vpn_view_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
