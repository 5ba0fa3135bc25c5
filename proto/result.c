/*
 * result.c: result v1 (docs/messages.md), the record the gateway reports
 * for every task attempt it finishes, in the transaction that commits
 * the task's offset. The daemon fills a view from what it knows (URLs
 * already redacted, derived fields such as log_url set) and encodes it;
 * the Webservice and paiactl decode it. Field order is part of what
 * readers see, so the encoder writes one fixed order.
 */
#include "config.h"
#include "proto-int.h"

#include <stdlib.h>
#include <string.h>

#include "common.h"

char *
proto_result_encode(const struct proto_result *r)
{
	cJSON *root = cJSON_CreateObject(), *tm, *arr, *e, *src;
	const struct proto_artifact *a;
	char *text, *out;
	size_t i;

	cJSON_AddNumberToObject(root, "version", RESULT_VERSION);
	cJSON_AddStringToObject(root, "task_id", r->task_id);
	cJSON_AddNumberToObject(root, "attempt", r->attempt);
	cJSON_AddStringToObject(root, "status", proto_status_name(r->status));
	cJSON_AddStringToObject(root, "game", r->game);
	if (r->game_result != NULL)
		cJSON_AddRawToObject(root, "game_result", r->game_result);
	else
		cJSON_AddNullToObject(root, "game_result");
	proto_add_str_or_null(root, "log_url", r->log_url);
	proto_add_str_or_null(root, "video_url", r->video_url);
	proto_add_str_or_null(root, "result_url", r->result_url);
	arr = cJSON_AddArrayToObject(root, "artifacts");
	for (i = 0; i < r->nartifacts; i++) {
		a = &r->artifacts[i];
		e = cJSON_CreateObject();
		cJSON_AddStringToObject(e, "name", a->name);
		cJSON_AddStringToObject(e, "url", a->url);
		cJSON_AddNumberToObject(e, "bytes", (double)a->bytes);
		if (a->sha256 != NULL)
			cJSON_AddStringToObject(e, "sha256", a->sha256);
		cJSON_AddStringToObject(e, "content_type", a->content_type);
		if (a->truncated)
			cJSON_AddTrueToObject(e, "truncated");
		cJSON_AddItemToArray(arr, e);
	}
	cJSON_AddItemToObject(root, "artifacts_refused",
	    proto_refused_encode(r->refused, r->nrefused));
	tm = cJSON_AddObjectToObject(root, "timings");
	proto_add_time(tm, "received", r->received_ms);
	proto_add_time(tm, "started", r->started_ms);
	proto_add_time(tm, "finished", r->finished_ms);
	proto_add_time(tm, "reported", r->reported_ms);
	if (r->duration_ms >= 0)
		cJSON_AddNumberToObject(root, "duration_ms", (double)r->duration_ms);
	if (r->eclass == ERROR_NONE && r->error == NULL)
		cJSON_AddNullToObject(root, "error");
	else {
		e = cJSON_AddObjectToObject(root, "error");
		proto_add_str_or_null(e, "class", proto_class_name(r->eclass));
		cJSON_AddStringToObject(e, "message", r->error != NULL ? r->error : "");
	}
	if (r->recovered != NULL)
		cJSON_AddStringToObject(root, "recovered", r->recovered);
	src = cJSON_AddObjectToObject(root, "source");
	cJSON_AddStringToObject(src, "topic", r->source_topic);
	cJSON_AddNumberToObject(src, "partition", r->source_partition);
	cJSON_AddNumberToObject(src, "offset", (double)r->source_offset);
	cJSON_AddStringToObject(root, "gateway", r->gateway);
	/* Optional, last: readers of result v1 before it skip it. */
	if (r->ngpus > 0)
		cJSON_AddItemToObject(root, "gpus", proto_task_gpus_encode(r->gpus, r->ngpus));
	if ((text = cJSON_PrintUnformatted(root)) == NULL)
		fatalx("proto: cannot print a result");
	out = xstrdup(text);
	cJSON_free(text);
	cJSON_Delete(root);
	return out;
}

int
proto_result_decode(const char *buf, size_t len, struct proto_result *r, char **cause)
{
	struct proto_own *own;
	struct proto_artifact *arts = NULL;
	struct proto_refused *ref = NULL;
	struct proto_task_gpu *gpus;
	const cJSON *j, *e, *arr, *rarr, *garr;
	const char *s = NULL;
	char *text;
	cJSON *root;
	size_t i;
	int version = 0;

	memset(r, 0, sizeof *r);
	r->duration_ms = -1;
	r->source_partition = -1;
	r->source_offset = -1;
	if ((root = json_parse_object(buf, len, cause)) == NULL)
		return -1;
	r->own = own = proto_own_new(root);
	if (proto_need(root, "version", cause) != 0 ||
	    proto_get_int(root, "version", &version, cause) != 0)
		goto fail;
	if (version != RESULT_VERSION) {
		xasprintf(cause, "result version %d (this reads version %d)", version,
		    RESULT_VERSION);
		goto fail;
	}
	if (proto_need(root, "task_id", cause) != 0 ||
	    proto_get_str(root, "task_id", &r->task_id, cause) != 0 ||
	    proto_need(root, "attempt", cause) != 0 ||
	    proto_get_int(root, "attempt", &r->attempt, cause) != 0 ||
	    proto_need(root, "status", cause) != 0 ||
	    proto_get_str(root, "status", &s, cause) != 0 ||
	    proto_get_str(root, "game", &r->game, cause) != 0 ||
	    proto_get_str(root, "log_url", &r->log_url, cause) != 0 ||
	    proto_get_str(root, "video_url", &r->video_url, cause) != 0 ||
	    proto_get_str(root, "result_url", &r->result_url, cause) != 0 ||
	    proto_get_i64(root, "duration_ms", &r->duration_ms, cause) != 0 ||
	    proto_get_str(root, "recovered", &r->recovered, cause) != 0 ||
	    proto_get_str(root, "gateway", &r->gateway, cause) != 0)
		goto fail;
	if (r->task_id == NULL || s == NULL) {
		xasprintf(cause, "field '%s' must not be null", r->task_id == NULL ? "task_id" :
		    "status");
		goto fail;
	}
	if (proto_status_parse(s, &r->status) != 0) {
		xasprintf(cause, "field 'status' is not a status this reads");
		goto fail;
	}
	j = cJSON_GetObjectItemCaseSensitive(root, "game_result");
	if (cJSON_IsObject(j)) {
		/* Kept as text: the caller may parse it or show it. */
		if ((text = cJSON_PrintUnformatted(j)) == NULL)
			fatalx("proto: cannot print game_result");
		r->game_result = own->arrays[0] = xstrdup(text);
		cJSON_free(text);
	} else if (j != NULL && !cJSON_IsNull(j)) {
		xasprintf(cause, "field 'game_result' must be an object, not %s",
		    proto_type_name(j));
		goto fail;
	}

	if (proto_get_array(root, "artifacts", &arr, &r->nartifacts, cause) != 0 ||
	    proto_get_array(root, "artifacts_refused", &rarr, &r->nrefused, cause) != 0 ||
	    proto_get_array(root, "gpus", &garr, &r->ngpus, cause) != 0)
		goto fail;
	/* One allocation holds the three arrays. */
	own->arrays[1] = xcalloc(r->nartifacts * sizeof *arts + r->nrefused * sizeof *ref +
	    r->ngpus * sizeof *gpus + 1, 1);
	arts = own->arrays[1];
	gpus = (struct proto_task_gpu *)(void *)(arts + r->nartifacts);
	ref = (struct proto_refused *)(void *)(gpus + r->ngpus);
	i = 0;
	cJSON_ArrayForEach(e, arr) {
		arts[i].bytes = -1;
		if (proto_get_str(e, "name", &arts[i].name, cause) != 0 ||
		    proto_get_str(e, "url", &arts[i].url, cause) != 0 ||
		    proto_get_i64(e, "bytes", &arts[i].bytes, cause) != 0 ||
		    proto_get_str(e, "sha256", &arts[i].sha256, cause) != 0 ||
		    proto_get_str(e, "content_type", &arts[i].content_type, cause) != 0 ||
		    proto_get_bool(e, "truncated", &arts[i].truncated, cause) != 0)
			goto fail;
		i++;
	}
	if (proto_refused_decode(rarr, ref, cause) != 0 ||
	    proto_task_gpus_decode(garr, gpus, cause) != 0)
		goto fail;
	r->artifacts = arts;
	r->refused = ref;
	r->gpus = gpus;

	j = cJSON_GetObjectItemCaseSensitive(root, "timings");
	if (j != NULL && !cJSON_IsObject(j)) {
		xasprintf(cause, "field 'timings' must be an object, not %s", proto_type_name(j));
		goto fail;
	}
	if (proto_get_time(j, "received", &r->received_ms, cause) != 0 ||
	    proto_get_time(j, "started", &r->started_ms, cause) != 0 ||
	    proto_get_time(j, "finished", &r->finished_ms, cause) != 0 ||
	    proto_get_time(j, "reported", &r->reported_ms, cause) != 0)
		goto fail;
	/* Older records carry only the timings. */
	if (r->duration_ms < 0 && r->started_ms != 0 && r->finished_ms >= r->started_ms)
		r->duration_ms = r->finished_ms - r->started_ms;

	j = cJSON_GetObjectItemCaseSensitive(root, "error");
	if (cJSON_IsObject(j)) {
		s = NULL;
		if (proto_get_str(j, "class", &s, cause) != 0 ||
		    proto_get_str(j, "message", &r->error, cause) != 0)
			goto fail;
		if (s != NULL && proto_class_parse(s, &r->eclass) != 0) {
			xasprintf(cause, "field 'error.class' is not a class this reads");
			goto fail;
		}
		if (r->error == NULL)
			r->error = "";
	} else if (j != NULL && !cJSON_IsNull(j)) {
		xasprintf(cause, "field 'error' must be an object, not %s", proto_type_name(j));
		goto fail;
	}

	j = cJSON_GetObjectItemCaseSensitive(root, "source");
	if (j != NULL && !cJSON_IsObject(j)) {
		xasprintf(cause, "field 'source' must be an object, not %s", proto_type_name(j));
		goto fail;
	}
	if (proto_get_str(j, "topic", &r->source_topic, cause) != 0 ||
	    proto_get_i32(j, "partition", &r->source_partition, cause) != 0 ||
	    proto_get_i64(j, "offset", &r->source_offset, cause) != 0)
		goto fail;
	return 0;
fail:
	proto_result_clear(r);
	return -1;
}

void
proto_result_clear(struct proto_result *r)
{
	proto_own_free(r->own);
	memset(r, 0, sizeof *r);
}

int
proto_result_score(const struct proto_result *r, double *score)
{
	cJSON *gr, *s;
	int rc = -1;

	if (r->game_result == NULL || (gr = cJSON_Parse(r->game_result)) == NULL)
		return -1;
	s = cJSON_GetObjectItemCaseSensitive(gr, "score");
	if (cJSON_IsNumber(s)) {
		*score = s->valuedouble;
		rc = 0;
	}
	cJSON_Delete(gr);
	return rc;
}
