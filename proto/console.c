/*
 * console.c: the views the operator console reads besides TASK, STATUS
 * and LAG (docs/control.md): POD (the game pods the k8s runner's
 * informer sees, with kubectl's STATUS) and the pods event (they were
 * listed afresh), the pieces of a task's log and
 * the end of its stream, VIDEO (a finished task with a video) and the
 * still of a video that "frame" answers. The daemon fills and encodes
 * them, clients decode them.
 *
 * Decoders borrow strings from the object decoded and are strict about
 * the types of the fields they know, lenient about fields they do not.
 * Log text is made here too (proto_log_text): a log is user output, any
 * bytes; a chunk carries it as valid UTF-8 text without NUL.
 */
#include "config.h"
#include "proto-int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

/* ---- POD ---- */

cJSON *
proto_pod_view_encode(const struct proto_pod_view *v)
{
	cJSON *j = cJSON_CreateObject();

	cJSON_AddStringToObject(j, "name", v->name);
	cJSON_AddStringToObject(j, "namespace", v->namespace != NULL ? v->namespace : "");
	proto_add_str_or_null(j, "task_id", v->task_id);
	if (v->attempt > 0)
		cJSON_AddNumberToObject(j, "attempt", v->attempt);
	else
		cJSON_AddNullToObject(j, "attempt");
	proto_add_str_or_null(j, "phase", v->phase);
	cJSON_AddStringToObject(j, "status", v->status != NULL ? v->status : "");
	cJSON_AddNumberToObject(j, "ready", v->ready);
	cJSON_AddNumberToObject(j, "total", v->total);
	cJSON_AddNumberToObject(j, "restarts", v->restarts);
	proto_add_str_or_null(j, "node", v->node);
	proto_add_time(j, "created", v->created_ms);
	proto_add_time(j, "started", v->started_ms);
	cJSON_AddBoolToObject(j, "deleting", v->deleting);
	proto_add_str_or_null(j, "message", v->message);
	if (v->deleted)
		cJSON_AddTrueToObject(j, "deleted");
	return j;
}

int
proto_pod_view_decode(const cJSON *j, struct proto_pod_view *v, char **cause)
{
	memset(v, 0, sizeof *v);
	if (!cJSON_IsObject(j)) {
		xasprintf(cause, "a pod that is %s, not an object", proto_type_name(j));
		return -1;
	}
	if (proto_need(j, "name", cause) != 0 ||
	    proto_get_str(j, "name", &v->name, cause) != 0 ||
	    proto_get_str(j, "namespace", &v->namespace, cause) != 0 ||
	    proto_get_str(j, "task_id", &v->task_id, cause) != 0 ||
	    proto_get_int(j, "attempt", &v->attempt, cause) != 0 ||
	    proto_get_str(j, "phase", &v->phase, cause) != 0 ||
	    proto_get_str(j, "status", &v->status, cause) != 0 ||
	    proto_get_int(j, "ready", &v->ready, cause) != 0 ||
	    proto_get_int(j, "total", &v->total, cause) != 0 ||
	    proto_get_int(j, "restarts", &v->restarts, cause) != 0 ||
	    proto_get_str(j, "node", &v->node, cause) != 0 ||
	    proto_get_time(j, "created", &v->created_ms, cause) != 0 ||
	    proto_get_time(j, "started", &v->started_ms, cause) != 0 ||
	    proto_get_bool(j, "deleting", &v->deleting, cause) != 0 ||
	    proto_get_str(j, "message", &v->message, cause) != 0 ||
	    proto_get_bool(j, "deleted", &v->deleted, cause) != 0)
		return -1;
	if (v->name == NULL) {
		xasprintf(cause, "field 'name' must not be null");
		return -1;
	}
	return 0;
}

cJSON *
proto_pods_event_encode(const struct proto_pods_event *e)
{
	cJSON *j = cJSON_CreateObject();

	cJSON_AddBoolToObject(j, "synced", e->synced);
	cJSON_AddNumberToObject(j, "count", (double)e->count);
	return j;
}

int
proto_pods_event_decode(const cJSON *j, struct proto_pods_event *e, char **cause)
{
	memset(e, 0, sizeof *e);
	if (!cJSON_IsObject(j)) {
		xasprintf(cause, "a pods event that is %s, not an object", proto_type_name(j));
		return -1;
	}
	if (proto_get_bool(j, "synced", &e->synced, cause) != 0 ||
	    proto_get_i64(j, "count", &e->count, cause) != 0)
		return -1;
	if (e->count < 0) {
		xasprintf(cause, "field 'count' must not be negative");
		return -1;
	}
	return 0;
}

void
proto_pods_encode(cJSON *answer, const struct proto_pods *p)
{
	cJSON *a;
	size_t i;

	cJSON_AddStringToObject(answer, "runner", p->runner);
	if (p->namespace != NULL)
		cJSON_AddStringToObject(answer, "namespace", p->namespace);
	cJSON_AddBoolToObject(answer, "synced", p->synced);
	a = cJSON_AddArrayToObject(answer, "pods");
	for (i = 0; i < p->npods; i++)
		cJSON_AddItemToArray(a, proto_pod_view_encode(&p->pods[i]));
}

int
proto_pods_decode(const cJSON *answer, struct proto_pods *p, char **cause)
{
	struct proto_pod_view *pv;
	const cJSON *arr, *e;
	size_t i = 0, n;

	memset(p, 0, sizeof *p);
	if (proto_get_str(answer, "runner", &p->runner, cause) != 0 ||
	    proto_get_str(answer, "namespace", &p->namespace, cause) != 0 ||
	    proto_get_bool(answer, "synced", &p->synced, cause) != 0 ||
	    proto_get_array(answer, "pods", &arr, &n, cause) != 0)
		return -1;
	if (p->runner == NULL) {
		xasprintf(cause, "field 'runner' is missing");
		return -1;
	}
	p->own = proto_own_new(NULL);
	((struct proto_own *)p->own)->arrays[0] = pv = xcalloc(n + 1, sizeof *pv);
	cJSON_ArrayForEach(e, arr) {
		if (proto_pod_view_decode(e, &pv[i++], cause) != 0) {
			proto_pods_clear(p);
			return -1;
		}
	}
	p->pods = pv;
	p->npods = n;
	return 0;
}

void
proto_pods_clear(struct proto_pods *p)
{
	proto_own_free(p->own);
	memset(p, 0, sizeof *p);
}

/* ---- log chunks and ends ---- */

/* The length of the valid UTF-8 character at s[0..n), 0 if none, -1 if cut short. */
static int
console_utf8_char(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	int len, i;
	unsigned int cp;

	if (c < 0x80)
		return c == 0 ? 0 : 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
	} else
		return 0;
	for (i = 1; i < len; i++) {
		if ((size_t)i >= n)
			return -1;
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
		/* Overlong, surrogate or too high: known at the second byte. */
		if (i == 1 && ((len == 3 && cp < 0x20) || (len == 3 && cp >= 0x360) ||
		    (len == 4 && (cp < 0x10 || cp > 0x10f))))
			return 0;
	}
	return len;
}

char *
proto_log_text(const char *raw, size_t len, int final, size_t *keep)
{
	const unsigned char *s = (const unsigned char *)raw;
	char *out = xmalloc(len * 3 + 1), *o = out;
	size_t i = 0;
	int n;

	*keep = 0;
	while (i < len) {
		n = console_utf8_char(s + i, len - i);
		if (n < 0 && !final) {
			*keep = len - i;
			break;
		}
		if (n <= 0) {
			memcpy(o, "\xef\xbf\xbd", 3);	/* U+FFFD */
			o += 3;
			i++;
			continue;
		}
		memcpy(o, s + i, (size_t)n);
		o += n;
		i += (size_t)n;
	}
	*o = '\0';
	return out;
}

cJSON *
proto_log_chunk_encode(const struct proto_log_chunk *c)
{
	cJSON *j = cJSON_CreateObject();

	cJSON_AddStringToObject(j, "task_id", c->task_id);
	cJSON_AddNumberToObject(j, "attempt", c->attempt);
	cJSON_AddStringToObject(j, "source", c->source);
	cJSON_AddNumberToObject(j, "offset", (double)c->offset);
	cJSON_AddNumberToObject(j, "bytes", (double)c->bytes);
	cJSON_AddStringToObject(j, "data", c->data);
	return j;
}

int
proto_log_chunk_decode(const cJSON *j, struct proto_log_chunk *c, char **cause)
{
	memset(c, 0, sizeof *c);
	if (!cJSON_IsObject(j)) {
		xasprintf(cause, "a log chunk that is %s, not an object", proto_type_name(j));
		return -1;
	}
	if (proto_need(j, "task_id", cause) != 0 || proto_need(j, "data", cause) != 0 ||
	    proto_get_str(j, "task_id", &c->task_id, cause) != 0 ||
	    proto_get_int(j, "attempt", &c->attempt, cause) != 0 ||
	    proto_get_str(j, "source", &c->source, cause) != 0 ||
	    proto_get_i64(j, "offset", &c->offset, cause) != 0 ||
	    proto_get_i64(j, "bytes", &c->bytes, cause) != 0 ||
	    proto_get_str(j, "data", &c->data, cause) != 0)
		return -1;
	if (c->task_id == NULL || c->data == NULL) {
		xasprintf(cause, "fields 'task_id' and 'data' must not be null");
		return -1;
	}
	if (c->offset < 0 || c->bytes < 0) {
		xasprintf(cause, "fields 'offset' and 'bytes' must not be negative");
		return -1;
	}
	c->len = strlen(c->data);
	return 0;
}

static const char *const console_log_reasons[PROTO_LOG_NREASONS] = {
	"done", "failed", "cancelled", "eof", "gone", "error",
};

const char *
proto_log_reason_name(enum proto_log_reason r)
{
	return (size_t)r < nitems(console_log_reasons) ? console_log_reasons[r] : "error";
}

cJSON *
proto_log_end_encode(const struct proto_log_end *e)
{
	cJSON *j = cJSON_CreateObject();

	cJSON_AddStringToObject(j, "task_id", e->task_id);
	cJSON_AddNumberToObject(j, "attempt", e->attempt);
	cJSON_AddStringToObject(j, "reason", proto_log_reason_name(e->reason));
	cJSON_AddNumberToObject(j, "bytes", (double)e->bytes);
	if (e->error != NULL)
		cJSON_AddStringToObject(j, "error", e->error);
	return j;
}

int
proto_log_end_decode(const cJSON *j, struct proto_log_end *e, char **cause)
{
	size_t i;

	memset(e, 0, sizeof *e);
	e->reason = PROTO_LOG_ERROR;
	if (!cJSON_IsObject(j)) {
		xasprintf(cause, "a log end that is %s, not an object", proto_type_name(j));
		return -1;
	}
	if (proto_need(j, "task_id", cause) != 0 || proto_need(j, "reason", cause) != 0 ||
	    proto_get_str(j, "task_id", &e->task_id, cause) != 0 ||
	    proto_get_int(j, "attempt", &e->attempt, cause) != 0 ||
	    proto_get_str(j, "reason", &e->reason_name, cause) != 0 ||
	    proto_get_i64(j, "bytes", &e->bytes, cause) != 0 ||
	    proto_get_str(j, "error", &e->error, cause) != 0)
		return -1;
	if (e->task_id == NULL || e->reason_name == NULL) {
		xasprintf(cause, "fields 'task_id' and 'reason' must not be null");
		return -1;
	}
	for (i = 0; i < nitems(console_log_reasons); i++)
		if (strcmp(e->reason_name, console_log_reasons[i]) == 0)
			e->reason = (enum proto_log_reason)i;
	return 0;
}

/* ---- VIDEO ---- */

cJSON *
proto_video_view_encode(const struct proto_video_view *v)
{
	cJSON *j = cJSON_CreateObject();

	cJSON_AddStringToObject(j, "task_id", v->task_id);
	cJSON_AddNumberToObject(j, "attempt", v->attempt);
	proto_add_str_or_null(j, "game", v->game);
	proto_add_str_or_null(j, "status", v->status);
	cJSON_AddStringToObject(j, "name", v->name);
	proto_add_str_or_null(j, "url", v->url);
	proto_add_str_or_null(j, "content_type", v->content_type);
	cJSON_AddNumberToObject(j, "bytes", (double)v->bytes);
	proto_add_time(j, "reported", v->reported_ms);
	cJSON_AddBoolToObject(j, "local", v->local);
	if (v->path != NULL)
		cJSON_AddStringToObject(j, "path", v->path);
	return j;
}

int
proto_video_view_decode(const cJSON *j, struct proto_video_view *v, char **cause)
{
	memset(v, 0, sizeof *v);
	v->bytes = -1;
	if (!cJSON_IsObject(j)) {
		xasprintf(cause, "a video that is %s, not an object", proto_type_name(j));
		return -1;
	}
	if (proto_need(j, "task_id", cause) != 0 ||
	    proto_get_str(j, "task_id", &v->task_id, cause) != 0 ||
	    proto_get_int(j, "attempt", &v->attempt, cause) != 0 ||
	    proto_get_str(j, "game", &v->game, cause) != 0 ||
	    proto_get_str(j, "status", &v->status, cause) != 0 ||
	    proto_get_str(j, "name", &v->name, cause) != 0 ||
	    proto_get_str(j, "url", &v->url, cause) != 0 ||
	    proto_get_str(j, "content_type", &v->content_type, cause) != 0 ||
	    proto_get_i64(j, "bytes", &v->bytes, cause) != 0 ||
	    proto_get_time(j, "reported", &v->reported_ms, cause) != 0 ||
	    proto_get_bool(j, "local", &v->local, cause) != 0 ||
	    proto_get_str(j, "path", &v->path, cause) != 0)
		return -1;
	if (v->task_id == NULL) {
		xasprintf(cause, "field 'task_id' must not be null");
		return -1;
	}
	return 0;
}

int
proto_videos_decode(const cJSON *answer, struct proto_videos *vs, char **cause)
{
	struct proto_video_view *vv;
	const cJSON *arr, *e;
	size_t i = 0, n;

	memset(vs, 0, sizeof *vs);
	if (proto_need(answer, "videos", cause) != 0 ||
	    proto_get_array(answer, "videos", &arr, &n, cause) != 0)
		return -1;
	vs->own = proto_own_new(NULL);
	((struct proto_own *)vs->own)->arrays[0] = vv = xcalloc(n + 1, sizeof *vv);
	cJSON_ArrayForEach(e, arr) {
		if (proto_video_view_decode(e, &vv[i++], cause) != 0) {
			proto_videos_clear(vs);
			return -1;
		}
	}
	vs->videos = vv;
	vs->nvideos = n;
	return 0;
}

void
proto_videos_clear(struct proto_videos *vs)
{
	proto_own_free(vs->own);
	memset(vs, 0, sizeof *vs);
}

/* ---- FRAME ---- */

/* A "data" field: base64 of at most max bytes, decoded (caller frees), or NULL with *cause. */
static unsigned char *
proto_b64_data(const char *data, size_t max, size_t *len, char **cause)
{
	unsigned char *bin;

	if (data == NULL) {
		xasprintf(cause, "field 'data' must not be null");
		return NULL;
	}
	if (strlen(data) > (max / 3 + 1) * 4) {
		xasprintf(cause, "field 'data' is over %zu bytes decoded", max);
		return NULL;
	}
	if ((bin = util_base64_decode(data, len)) == NULL) {
		xasprintf(cause, "field 'data' is not base64");
		return NULL;
	}
	return bin;
}

cJSON *
proto_frame_encode(const struct proto_frame *f)
{
	cJSON *j = cJSON_CreateObject();
	char *b64 = util_base64(f->data, f->len);

	cJSON_AddStringToObject(j, "task_id", f->task_id);
	cJSON_AddNumberToObject(j, "attempt", f->attempt);
	cJSON_AddNumberToObject(j, "at", f->at);
	cJSON_AddNumberToObject(j, "width", f->width);
	cJSON_AddNumberToObject(j, "height", f->height);
	cJSON_AddStringToObject(j, "content_type", f->content_type);
	cJSON_AddNumberToObject(j, "bytes", (double)f->len);
	cJSON_AddStringToObject(j, "data", b64);
	free(b64);
	return j;
}

int
proto_frame_decode(const cJSON *j, struct proto_frame *f, char **cause)
{
	const char *data = NULL;
	unsigned char *bin;
	int64_t bytes = -1;
	size_t len;

	memset(f, 0, sizeof *f);
	if (!cJSON_IsObject(j)) {
		xasprintf(cause, "a frame that is %s, not an object", proto_type_name(j));
		return -1;
	}
	if (proto_need(j, "data", cause) != 0 ||
	    proto_get_str(j, "task_id", &f->task_id, cause) != 0 ||
	    proto_get_int(j, "attempt", &f->attempt, cause) != 0 ||
	    proto_get_double(j, "at", &f->at, cause) != 0 ||
	    proto_get_int(j, "width", &f->width, cause) != 0 ||
	    proto_get_int(j, "height", &f->height, cause) != 0 ||
	    proto_get_str(j, "content_type", &f->content_type, cause) != 0 ||
	    proto_get_i64(j, "bytes", &bytes, cause) != 0 ||
	    proto_get_str(j, "data", &data, cause) != 0)
		return -1;
	if ((bin = proto_b64_data(data, PROTO_FRAME_MAX, &len, cause)) == NULL)
		return -1;
	if (bytes >= 0 && (size_t)bytes != len) {
		free(bin);
		xasprintf(cause, "field 'bytes' says %jd, the data holds %zu", (intmax_t)bytes, len);
		return -1;
	}
	f->own = proto_own_new(NULL);
	((struct proto_own *)f->own)->arrays[0] = bin;
	f->data = bin;
	f->len = len;
	return 0;
}

void
proto_frame_clear(struct proto_frame *f)
{
	proto_own_free(f->own);
	memset(f, 0, sizeof *f);
}

/* ---- VIDEO DATA ---- */

cJSON *
proto_video_data_encode(const struct proto_video_data *d)
{
	cJSON *j = cJSON_CreateObject();
	char *b64 = util_base64(d->data, d->len);

	cJSON_AddStringToObject(j, "task_id", d->task_id);
	cJSON_AddNumberToObject(j, "attempt", d->attempt);
	cJSON_AddNumberToObject(j, "offset", (double)d->offset);
	cJSON_AddNumberToObject(j, "bytes", (double)d->len);
	cJSON_AddNumberToObject(j, "size", (double)d->size);
	cJSON_AddStringToObject(j, "data", b64);
	free(b64);
	return j;
}

int
proto_video_data_decode(const cJSON *j, struct proto_video_data *d, char **cause)
{
	const char *data = NULL;
	unsigned char *bin;
	int64_t bytes = -1;
	size_t len;

	memset(d, 0, sizeof *d);
	d->size = -1;
	if (!cJSON_IsObject(j)) {
		xasprintf(cause, "a video piece that is %s, not an object", proto_type_name(j));
		return -1;
	}
	if (proto_need(j, "data", cause) != 0 || proto_need(j, "offset", cause) != 0 ||
	    proto_need(j, "size", cause) != 0 ||
	    proto_get_str(j, "task_id", &d->task_id, cause) != 0 ||
	    proto_get_int(j, "attempt", &d->attempt, cause) != 0 ||
	    proto_get_i64(j, "offset", &d->offset, cause) != 0 ||
	    proto_get_i64(j, "size", &d->size, cause) != 0 ||
	    proto_get_i64(j, "bytes", &bytes, cause) != 0 ||
	    proto_get_str(j, "data", &data, cause) != 0)
		return -1;
	if (d->offset < 0 || d->size < 0 || d->offset > PROTO_OFFSET_MAX ||
	    d->size > PROTO_OFFSET_MAX) {
		xasprintf(cause, "field 'offset' or 'size' is out of range (%jd, %jd)",
		    (intmax_t)d->offset, (intmax_t)d->size);
		return -1;
	}
	if ((bin = proto_b64_data(data, PROTO_VIDEO_CHUNK_MAX, &len, cause)) == NULL)
		return -1;
	if (len > PROTO_VIDEO_CHUNK_MAX || (bytes >= 0 && (size_t)bytes != len) ||
	    (int64_t)len > d->size - (d->offset < d->size ? d->offset : d->size)) {
		free(bin);
		xasprintf(cause, "a video piece of %zu bytes at %jd does not fit (bytes %jd, "
		    "size %jd, at most %d a piece)", len, (intmax_t)d->offset, (intmax_t)bytes,
		    (intmax_t)d->size, PROTO_VIDEO_CHUNK_MAX);
		return -1;
	}
	d->own = proto_own_new(NULL);
	((struct proto_own *)d->own)->arrays[0] = bin;
	d->data = bin;
	d->len = len;
	return 0;
}

void
proto_video_data_clear(struct proto_video_data *d)
{
	proto_own_free(d->own);
	memset(d, 0, sizeof *d);
}
