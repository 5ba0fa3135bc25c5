/*
 * answer.c: the envelopes of the control protocol's answers
 * (docs/control.md, "Requests"): which member of {"ok":true,...} holds
 * what a command answered. The views inside (TASK, STATUS, LAG) are
 * control.c's; this file only finds them, so a client never names an
 * answer's field itself.
 *
 * Decoders borrow from the answer: keep it while what they return is in
 * use. They do not look at "ok" (client/ has done that before handing
 * an answer over).
 */
#include "config.h"
#include "proto-int.h"

#include <string.h>

#include "common.h"

int
proto_answer_status(const cJSON *answer, struct proto_status_view *v, char **cause)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(answer, "status");

	if (!cJSON_IsObject(j)) {
		memset(v, 0, sizeof *v);
		xasprintf(cause, "the status answer has no 'status' object");
		return -1;
	}
	return proto_status_view_decode(j, v, cause);
}

int
proto_answer_task(const cJSON *answer, struct proto_task_view *v, char **cause)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(answer, "task");

	if (!cJSON_IsObject(j)) {
		memset(v, 0, sizeof *v);
		xasprintf(cause, "the task answer has no 'task' object");
		return -1;
	}
	return proto_task_view_decode(j, v, cause);
}

const cJSON *
proto_answer_tasks(const cJSON *answer, size_t *n, char **cause)
{
	const cJSON *arr;

	if (proto_get_array(answer, "tasks", &arr, n, cause) != 0)
		return NULL;
	if (arr == NULL) {
		xasprintf(cause, "the tasks answer has no 'tasks' array");
		return NULL;
	}
	return arr;
}

int
proto_answer_requeue(const cJSON *answer, const char **task_id, int *attempt, char **cause)
{
	*task_id = NULL;
	*attempt = 0;
	if (proto_get_str(answer, "task_id", task_id, cause) != 0 ||
	    proto_get_int(answer, "attempt", attempt, cause) != 0)
		return -1;
	if (*task_id == NULL || *attempt < 1) {
		xasprintf(cause, "the requeue answer has no task_id and attempt");
		return -1;
	}
	return 0;
}

int
proto_answer_cancel(const cJSON *answer, const char **task_id, char **cause)
{
	*task_id = NULL;
	if (proto_get_str(answer, "task_id", task_id, cause) != 0)
		return -1;
	if (*task_id == NULL) {
		xasprintf(cause, "the cancel answer has no task_id");
		return -1;
	}
	return 0;
}

int
proto_answer_gpus(const cJSON *answer, struct proto_gpus *g, int *enabled, int64_t *interval_ms,
    char **cause)
{
	const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(answer, "nodes");

	memset(g, 0, sizeof *g);
	*enabled = 1;
	*interval_ms = 0;
	if (proto_get_bool(answer, "enabled", enabled, cause) != 0 ||
	    proto_get_i64(answer, "interval_ms", interval_ms, cause) != 0)
		return -1;
	if (!cJSON_IsArray(nodes)) {
		xasprintf(cause, "the gpus answer has no 'nodes' array");
		return -1;
	}
	return proto_gpus_decode(nodes, g, cause);
}

int
proto_answer_vpn(const cJSON *answer, struct proto_vpn_view *v, char **cause)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(answer, "vpn");

	memset(v, 0, sizeof *v);
	if (!cJSON_IsObject(j)) {
		xasprintf(cause, "the vpn answer has no 'vpn' object");
		return -1;
	}
	return proto_vpn_view_decode(j, v, cause);
}
