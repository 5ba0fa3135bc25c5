/*
 * dlq.c: the dead-letter record (docs/messages.md): why a task message
 * was refused, where it was, and the message itself so nothing is lost.
 * The daemon encodes it in the same transaction as the refused offset;
 * paiactl (and anyone reading the DLQ topic) decodes it.
 */
#include "config.h"
#include "proto-int.h"

#include <stdlib.h>
#include <string.h>

#include "common.h"

char *
proto_dlq_encode(enum dlq_reason reason, const char *detail, const char *task_id,
    const char *topic, int32_t partition, int64_t offset, const void *payload, size_t len,
    int64_t now_ms)
{
	cJSON *root = cJSON_CreateObject();
	char ts[40], *s, *b64;

	cJSON_AddNumberToObject(root, "version", DLQ_VERSION);
	cJSON_AddStringToObject(root, "reason", proto_dlq_reason_name(reason));
	cJSON_AddStringToObject(root, "detail", detail != NULL ? detail : "");
	if (task_id != NULL)
		cJSON_AddStringToObject(root, "task_id", task_id);
	else
		cJSON_AddNullToObject(root, "task_id");
	cJSON_AddStringToObject(root, "topic", topic);
	cJSON_AddNumberToObject(root, "partition", partition);
	cJSON_AddNumberToObject(root, "offset", (double)offset);
	cJSON_AddStringToObject(root, "received", util_time_fmt(now_ms, ts, sizeof ts));
	/*
	 * Lose nothing: text as is when it can be, base64 otherwise. A
	 * message too large for the task topic's own limit would not fit in
	 * the DLQ either: keep its head and size (the original stays in the
	 * tasks topic at the named offset).
	 */
	if (payload == NULL)
		len = 0;
	cJSON_AddNumberToObject(root, "original_bytes", (double)len);
	if (len > DLQ_ORIGINAL_MAX) {
		len = DLQ_ORIGINAL_MAX;
		cJSON_AddTrueToObject(root, "original_truncated");
	}
	if (len == 0) {
		cJSON_AddStringToObject(root, "original", "");
		cJSON_AddStringToObject(root, "original_encoding", "utf-8");
	} else if (util_utf8_valid(payload, len) && memchr(payload, '\0', len) == NULL) {
		char *copy = xstrndup(payload, len);
		cJSON_AddStringToObject(root, "original", copy);
		cJSON_AddStringToObject(root, "original_encoding", "utf-8");
		free(copy);
	} else {
		b64 = util_base64(payload, len);
		cJSON_AddStringToObject(root, "original", b64);
		cJSON_AddStringToObject(root, "original_encoding", "base64");
		free(b64);
	}
	s = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return s;
}

int
proto_dlq_decode(const char *buf, size_t len, struct proto_dlq *d, char **cause)
{
	cJSON *root;

	memset(d, 0, sizeof *d);
	d->partition = -1;
	d->offset = -1;
	d->original_bytes = -1;
	if ((root = json_parse_object(buf, len, cause)) == NULL)
		return -1;
	d->own = proto_own_new(root);
	if (proto_need(root, "reason", cause) != 0 ||
	    proto_get_str(root, "reason", &d->reason_name, cause) != 0 ||
	    proto_get_str(root, "detail", &d->detail, cause) != 0 ||
	    proto_get_str(root, "task_id", &d->task_id, cause) != 0 ||
	    proto_get_str(root, "topic", &d->topic, cause) != 0 ||
	    proto_get_i32(root, "partition", &d->partition, cause) != 0 ||
	    proto_get_i64(root, "offset", &d->offset, cause) != 0 ||
	    proto_get_time(root, "received", &d->received_ms, cause) != 0 ||
	    proto_get_str(root, "original", &d->original, cause) != 0 ||
	    proto_get_str(root, "original_encoding", &d->original_encoding, cause) != 0 ||
	    proto_get_i64(root, "original_bytes", &d->original_bytes, cause) != 0 ||
	    proto_get_bool(root, "original_truncated", &d->original_truncated, cause) != 0) {
		proto_dlq_clear(d);
		return -1;
	}
	/* A reason a newer gateway added stays readable by its name. */
	if (d->reason_name == NULL || proto_dlq_reason_parse(d->reason_name, &d->reason) != 0)
		d->reason = DLQ_NREASONS;
	return 0;
}

void
proto_dlq_clear(struct proto_dlq *d)
{
	proto_own_free(d->own);
	memset(d, 0, sizeof *d);
}
