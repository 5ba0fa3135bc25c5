/*
 * fuzz-event.c: what a client does with a line from the gateway
 * (docs/control.md): proto_event_parse, then the decoder of the event's
 * view (TASK, STATUS, GPU node, VPN, POD, pods, VIDEO, log chunk, log end),
 * or, for a line that is an answer, proto_answer_parse and every answer
 * decoder
 * (pods, videos, LAG with its history, FRAME, TASK, STATUS). A hostile
 * or broken gateway (or a man in the middle of an SSH transport) must
 * not make a client crash, leak, or read out of bounds; what decodes
 * keeps the promises the headers make (strings that must be there are,
 * counts match arrays, a frame's data is at most PROTO_FRAME_MAX).
 */
#include "config.h"
#include "proto.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_event_payload(enum proto_event_type type, const cJSON *payload)
{
	struct proto_task_view tv;
	struct proto_status_view sv;
	struct proto_pod_view pv;
	struct proto_pods_event pe;
	struct proto_video_view vv;
	struct proto_log_chunk lc;
	struct proto_log_end le;
	struct proto_gpus g;
	struct proto_vpn_view vpn;
	char *cause = NULL;
	int rc = 0;

	switch (type) {
	case PROTO_EVENT_TASK:
		if ((rc = proto_task_view_decode(payload, &tv, &cause)) == 0) {
			assert(tv.task_id != NULL);
			proto_task_view_clear(&tv);
		}
		break;
	case PROTO_EVENT_STATUS:
		if ((rc = proto_status_view_decode(payload, &sv, &cause)) == 0) {
			assert(sv.npartitions == 0 || sv.partitions != NULL);
			proto_status_view_clear(&sv);
		}
		break;
	case PROTO_EVENT_POD:
		if ((rc = proto_pod_view_decode(payload, &pv, &cause)) == 0)
			assert(pv.name != NULL);
		break;
	case PROTO_EVENT_PODS:
		if ((rc = proto_pods_event_decode(payload, &pe, &cause)) == 0)
			assert(pe.count >= 0);
		break;
	case PROTO_EVENT_VIDEO:
		if ((rc = proto_video_view_decode(payload, &vv, &cause)) == 0)
			assert(vv.task_id != NULL);
		break;
	case PROTO_EVENT_LOG:
		if ((rc = proto_log_chunk_decode(payload, &lc, &cause)) == 0)
			assert(lc.task_id != NULL && lc.data != NULL && strlen(lc.data) == lc.len &&
			    lc.offset >= 0 && lc.bytes >= 0);
		break;
	case PROTO_EVENT_LOG_END:
		if ((rc = proto_log_end_decode(payload, &le, &cause)) == 0)
			assert(le.task_id != NULL && le.reason_name != NULL &&
			    (size_t)le.reason < PROTO_LOG_NREASONS);
		break;
	case PROTO_EVENT_GPU:
		if ((rc = proto_gpus_decode(payload, &g, &cause)) == 0)
			proto_gpus_clear(&g);
		break;
	case PROTO_EVENT_VPN:
		if ((rc = proto_vpn_view_decode(payload, &vpn, &cause)) == 0) {
			assert(vpn.nchecks == 0 || vpn.checks != NULL);
			proto_vpn_view_clear(&vpn);
		}
		break;
	case PROTO_EVENT_OTHER:
		break;
	}
	assert(rc == 0 ? cause == NULL : cause != NULL && *cause != '\0');
	free(cause);
}

static void
fuzz_event_answer(const cJSON *root)
{
	struct proto_pods pods;
	struct proto_videos vs;
	struct proto_lag lag;
	struct proto_frame f;
	struct proto_task_view tv;
	struct proto_status_view sv;
	struct proto_gpus g;
	char *cause = NULL;
	size_t i;

	if (proto_gpus_decode(cJSON_GetObjectItemCaseSensitive(root, "nodes"), &g, &cause) == 0)
		proto_gpus_clear(&g);
	else
		free(cause);
	cause = NULL;
	if (proto_pods_decode(root, &pods, &cause) == 0) {
		assert(pods.runner != NULL);
		for (i = 0; i < pods.npods; i++)
			assert(pods.pods[i].name != NULL);
		proto_pods_clear(&pods);
	} else
		free(cause);
	cause = NULL;
	if (proto_videos_decode(root, &vs, &cause) == 0) {
		for (i = 0; i < vs.nvideos; i++)
			assert(vs.videos[i].task_id != NULL);
		proto_videos_clear(&vs);
	} else
		free(cause);
	cause = NULL;
	if (proto_lag_decode(root, &lag, &cause) == 0) {
		for (i = 0; i < lag.npartitions; i++)
			assert(lag.partitions[i].nhistory == 0 || lag.partitions[i].history != NULL);
		proto_lag_clear(&lag);
	} else
		free(cause);
	cause = NULL;
	if (proto_frame_decode(cJSON_GetObjectItemCaseSensitive(root, "frame"), &f, &cause) == 0) {
		assert(f.len <= PROTO_FRAME_MAX + 3);
		proto_frame_clear(&f);
	} else
		free(cause);
	cause = NULL;
	if (proto_task_view_decode(cJSON_GetObjectItemCaseSensitive(root, "task"), &tv,
	    &cause) == 0)
		proto_task_view_clear(&tv);
	else
		free(cause);
	cause = NULL;
	if (proto_status_view_decode(cJSON_GetObjectItemCaseSensitive(root, "status"), &sv,
	    &cause) == 0) {
		assert(proto_status_compatible(&sv, &cause) == 0 || cause != NULL);
		free(cause);
		proto_status_view_clear(&sv);
	} else
		free(cause);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum proto_event_type type;
	const cJSON *payload;
	const char *error;
	cJSON *root;
	char *cause = NULL;
	int ok;

	if (proto_event_parse((const char *)data, size, &root, &type, &payload, &cause) == 0) {
		assert(type == PROTO_EVENT_OTHER || cJSON_IsObject(payload));
		fuzz_event_payload(type, payload);
		cJSON_Delete(root);
		return 0;
	}
	assert(root == NULL && cause != NULL);
	free(cause);
	cause = NULL;
	if (proto_answer_parse((const char *)data, size, &root, &ok, &error, &cause) != 0) {
		assert(root == NULL && cause != NULL);
		free(cause);
		return 0;
	}
	assert(ok || error != NULL);
	fuzz_event_answer(root);
	cJSON_Delete(root);
	return 0;
}
