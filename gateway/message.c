/*
 * message.c: the message contracts of docs/messages.md: task v1
 * decoding and validation, the dead-letter record, the requeued task.
 * Pure functions: no I/O, no global state, so unit tests and fuzz
 * targets drive them directly. Result v1 is built in task.c, where the
 * facts it reports live.
 *
 * A task is read twice: json_check (common/json.c) holds it to strict
 * JSON (no duplicate names, no \u0000, RFC 8259's grammar) and notes
 * where its top-level members lie; cJSON then gives the values. The
 * original text is kept: params and the requeued task are cut from it,
 * so no number passes through a double on its way.
 */
#include "config.h"
#include "gateway.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *dlq_names[] = {
	"too_large", "invalid_utf8", "invalid_json", "not_object",
	"unsupported_version", "missing_field", "wrong_type", "invalid_value",
	"duplicate_task",
};

const char *
msg_dlq_reason_name(enum dlq_reason r)
{
	return (size_t)r < nitems(dlq_names) ? dlq_names[r] : "unknown";
}

static const char *status_names[] = { "succeeded", "failed", "timeout", "cancelled", "error" };

const char *
msg_status_name(enum result_status s)
{
	return (size_t)s < nitems(status_names) ? status_names[s] : "error";
}

const char *
msg_error_class_name(enum error_class c)
{
	switch (c) {
	case ERROR_USER:
		return "user";
	case ERROR_INFRA:
		return "infra";
	case ERROR_INVALID:
		return "invalid";
	case ERROR_NONE:
		break;
	}
	return NULL;
}

void
msg_task_free(struct task_spec *t)
{
	if (t == NULL)
		return;
	free(t->task_id);
	free(t->game);
	free(t->game_version);
	free(t->program);
	free(t->model);
	free(t->entry);
	free(t->params);
	free(t->result_prefix);
	free(t->raw);
	free(t);
}

/* Task ids become folder names and pod names: keep them tame. */
static int
msg_id_valid(const char *s)
{
	size_t i, len = strlen(s);

	if (len == 0 || len > TASK_ID_MAX || s[0] == '.' || s[0] == '-')
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!isalnum(c) && c != '-' && c != '_' && c != '.')
			return 0;
	}
	return 1;
}

/*
 * A relative path with no ".", ".." or empty segments: NULL, or what is
 * wrong with it.
 */
static const char *
msg_relpath_check(const char *s)
{
	const char *p = s, *slash;
	size_t n;

	if (*s == '/')
		return "must be relative (it starts with '/')";
	if (strlen(s) > 255)
		return "is longer than 255 bytes";
	if (util_find_control(s) != NULL)
		return "must not hold control characters";
	if (strchr(s, '\\') != NULL)
		return "must not hold a backslash";
	for (;;) {
		slash = strchr(p, '/');
		n = slash != NULL ? (size_t)(slash - p) : strlen(p);
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return "must not have '..' segments";
		if (n == 0 || (n == 1 && p[0] == '.'))
			return "must not have empty or '.' segments";
		if (slash == NULL)
			return NULL;
		p = slash + 1;
	}
}

static int
msg_url_valid(const char *s)
{
	const char *schemes[] = { "file://", "http://", "https://", "s3://" };
	size_t i;

	for (i = 0; i < nitems(schemes); i++) {
		size_t n = strlen(schemes[i]);
		if (strncmp(s, schemes[i], n) == 0 && s[n] != '\0') {
			for (const char *p = s; *p != '\0'; p++)
				if ((unsigned char)*p <= 0x20 || *p == 0x7f)
					return 0;
			return 1;
		}
	}
	return 0;
}

/*
 * NULL, or what is wrong with a task's result_prefix: a storage URL that
 * artifact names can be appended to (no query, no fragment: they would
 * swallow the names), reported in every result, so without user
 * information.
 */
static const char *
msg_prefix_check(const char *url)
{
	const char *host;
	size_t hlen;

	if (!msg_url_valid(url))
		return "must be a file://, http(s):// or s3:// URL";
	host = strstr(url, "://") + 3;
	hlen = strcspn(host, "/?#");
	if (memchr(host, '@', hlen) != NULL)
		return "must not carry user information (user:password@)";
	if (strchr(url, '?') != NULL)
		return "must not have a query ('?')";
	if (strchr(url, '#') != NULL)
		return "must not have a fragment ('#')";
	if (hlen == 0 && strncmp(url, "file://", 7) != 0)
		return "must name a host or bucket";
	return NULL;
}

char *
msg_url_basename(const char *url)
{
	const char *end, *start;
	char *name;
	size_t i;

	end = url + strcspn(url, "?#");
	start = end;
	while (start > url && start[-1] != '/')
		start--;
	if (start == end || (end - start == 1 && *start == '.') ||
	    (end - start == 2 && start[0] == '.' && start[1] == '.'))
		return xstrdup("program");
	name = xstrndup(start, (size_t)(end - start > 128 ? 128 : end - start));
	for (i = 0; name[i] != '\0'; i++) {
		unsigned char c = (unsigned char)name[i];
		if (!isalnum(c) && c != '-' && c != '_' && c != '.')
			name[i] = '_';
	}
	if (name[0] == '.')
		name[0] = '_';
	return name;
}

struct msg_ctx {
	enum dlq_reason *reason;
	char **detail;
};

static int
msg_fail(struct msg_ctx *ctx, enum dlq_reason r, const char *fmt, ...) printflike(3, 4);

static int
msg_fail(struct msg_ctx *ctx, enum dlq_reason r, const char *fmt, ...)
{
	va_list ap;

	*ctx->reason = r;
	va_start(ap, fmt);
	xvasprintf(ctx->detail, fmt, ap);
	va_end(ap);
	return -1;
}

const char *
msg_type_name(const cJSON *j)
{
	if (cJSON_IsString(j))
		return "a string";
	if (cJSON_IsNumber(j))
		return "a number";
	if (cJSON_IsBool(j))
		return "a boolean";
	if (cJSON_IsNull(j))
		return "null";
	if (cJSON_IsArray(j))
		return "an array";
	if (cJSON_IsObject(j))
		return "an object";
	return "invalid";
}

/* Fetch an optional or required string field; 0 absent, 1 present, -1 error. */
static int
msg_get_string(struct msg_ctx *ctx, const cJSON *obj, const char *name, int required,
    char **out)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, name);

	*out = NULL;
	if (j == NULL || (cJSON_IsNull(j) && !required)) {
		if (required)
			return msg_fail(ctx, DLQ_MISSING_FIELD, "field '%s' is required", name);
		return 0;
	}
	if (!cJSON_IsString(j))
		return msg_fail(ctx, DLQ_WRONG_TYPE, "field '%s' must be a string, not %s", name,
		    msg_type_name(j));
	if (*j->valuestring == '\0')
		return msg_fail(ctx, DLQ_INVALID_VALUE, "field '%s' must not be empty", name);
	*out = xstrdup(j->valuestring);
	return 1;
}

/* An optional or required integer in [min, max]; 0 absent, 1 present, -1 error. */
static int
msg_get_int(struct msg_ctx *ctx, const cJSON *obj, const char *name, int required,
    double min, double max, long *out)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, name);
	double v;

	if (j == NULL || (cJSON_IsNull(j) && !required)) {
		if (required)
			return msg_fail(ctx, DLQ_MISSING_FIELD, "field '%s' is required", name);
		return 0;
	}
	if (!cJSON_IsNumber(j))
		return msg_fail(ctx, DLQ_WRONG_TYPE, "field '%s' must be an integer, not %s", name,
		    msg_type_name(j));
	v = j->valuedouble;
	if (v != floor(v) || isnan(v))
		return msg_fail(ctx, DLQ_WRONG_TYPE, "field '%s' must be an integer, not %g", name, v);
	if (v < min || v > max) {
		/* Short, whatever the number: no 309 digits for 1e308. */
		if (fabs(v) < 1e15)
			return msg_fail(ctx, DLQ_INVALID_VALUE, "field '%s' is %.0f, outside "
			    "%.0f..%.0f", name, v, min, max);
		return msg_fail(ctx, DLQ_INVALID_VALUE, "field '%s' is %g, outside %.0f..%.0f",
		    name, v, min, max);
	}
	*out = (long)v;
	return 1;
}

int
msg_task_decode(const void *buf, size_t len, struct task_spec **out, enum dlq_reason *reason,
    char **detail, char **task_id)
{
	struct msg_ctx ctx = { reason, detail };
	struct task_spec *t = NULL;
	struct json_doc doc;
	const struct json_member *m;
	cJSON *root = NULL, *j;
	const char *why;
	char *cause = NULL;
	size_t at;
	long n;
	int rc = -1;

	*out = NULL;
	*task_id = NULL;
	memset(&doc, 0, sizeof doc);
	if (buf == NULL || len == 0)
		return msg_fail(&ctx, DLQ_INVALID_JSON, "message is empty");
	if (len > TASK_MAX_BYTES)
		return msg_fail(&ctx, DLQ_TOO_LARGE, "message is %zu bytes, the limit is %d",
		    len, TASK_MAX_BYTES);
	if (!util_utf8_valid(buf, len))
		return msg_fail(&ctx, DLQ_INVALID_UTF8, "message is not valid UTF-8");
	if (memchr(buf, '\0', len) != NULL)
		return msg_fail(&ctx, DLQ_INVALID_JSON, "message contains a NUL byte");
	if (json_check(buf, len, &doc, &at, &cause) != 0) {
		msg_fail(&ctx, DLQ_INVALID_JSON, "message is not valid JSON: %s (byte %zu)", cause,
		    at);
		free(cause);
		return -1;
	}
	if (doc.type != JSON_OBJECT) {
		msg_fail(&ctx, DLQ_NOT_OBJECT, "message is %s, not a JSON object",
		    json_type_name(doc.type));
		goto out;
	}
	if ((root = cJSON_ParseWithLength(buf, len)) == NULL) {
		/* json_check passed it: cJSON and it disagree (fuzz-json looks for this). */
		msg_fail(&ctx, DLQ_INVALID_JSON, "message is not JSON cJSON can read");
		goto out;
	}
	j = cJSON_GetObjectItemCaseSensitive(root, "task_id");
	if (cJSON_IsString(j) && msg_id_valid(j->valuestring))
		*task_id = xstrdup(j->valuestring);

	j = cJSON_GetObjectItemCaseSensitive(root, "version");
	if (j == NULL) {
		msg_fail(&ctx, DLQ_MISSING_FIELD, "field 'version' is required");
		goto out;
	}
	if (!cJSON_IsNumber(j)) {
		msg_fail(&ctx, DLQ_WRONG_TYPE, "field 'version' must be an integer, not %s",
		    msg_type_name(j));
		goto out;
	}
	if (j->valuedouble != TASK_VERSION) {
		msg_fail(&ctx, DLQ_UNSUPPORTED_VERSION, "version %g is not supported (this gateway reads version %d)",
		    j->valuedouble, TASK_VERSION);
		goto out;
	}

	t = xcalloc(1, sizeof *t);
	if (msg_get_string(&ctx, root, "task_id", 1, &t->task_id) < 0)
		goto out;
	if (!msg_id_valid(t->task_id)) {
		msg_fail(&ctx, DLQ_INVALID_VALUE,
		    "field 'task_id' must be 1 to %d characters of A-Z a-z 0-9 . _ - not starting with . or -",
		    TASK_ID_MAX);
		goto out;
	}
	if (msg_get_string(&ctx, root, "game", 1, &t->game) < 0)
		goto out;
	if (!msg_id_valid(t->game)) {
		msg_fail(&ctx, DLQ_INVALID_VALUE, "field 'game' is not a valid game name");
		goto out;
	}
	if (msg_get_string(&ctx, root, "game_version", 0, &t->game_version) < 0)
		goto out;
	if (t->game_version != NULL && util_find_control(t->game_version) != NULL) {
		msg_fail(&ctx, DLQ_INVALID_VALUE, "field 'game_version' must not hold control "
		    "characters");
		goto out;
	}
	if (msg_get_string(&ctx, root, "program", 1, &t->program) < 0)
		goto out;
	if (!msg_url_valid(t->program)) {
		msg_fail(&ctx, DLQ_INVALID_VALUE,
		    "field 'program' must be a file://, http(s):// or s3:// URL");
		goto out;
	}
	if (msg_get_string(&ctx, root, "model", 0, &t->model) < 0)
		goto out;
	if (t->model != NULL && !msg_url_valid(t->model)) {
		msg_fail(&ctx, DLQ_INVALID_VALUE,
		    "field 'model' must be a file://, http(s):// or s3:// URL");
		goto out;
	}
	if (msg_get_string(&ctx, root, "entry", 0, &t->entry) < 0)
		goto out;
	if (t->entry != NULL && (why = msg_relpath_check(t->entry)) != NULL) {
		msg_fail(&ctx, DLQ_INVALID_VALUE, "field 'entry' %s", why);
		goto out;
	}
	j = cJSON_GetObjectItemCaseSensitive(root, "params");
	if (j != NULL && !cJSON_IsNull(j)) {
		if (!cJSON_IsObject(j)) {
			msg_fail(&ctx, DLQ_WRONG_TYPE, "field 'params' must be an object, not %s",
			    msg_type_name(j));
			goto out;
		}
		/* As written: a seed of 2^53 + 1 reaches the game unrounded. */
		m = json_doc_member(&doc, "params");
		t->params = xstrndup((const char *)buf + m->value_off, m->value_end - m->value_off);
	} else
		t->params = xstrdup("{}");
	n = 0;
	if (msg_get_int(&ctx, root, "timeout_s", 0, 1, 7 * 86400, &n) < 0)
		goto out;
	t->timeout_s = n;
	n = 1;
	if (msg_get_int(&ctx, root, "attempt", 0, 1, 1000, &n) < 0)
		goto out;
	t->attempt = (int)n;
	j = cJSON_GetObjectItemCaseSensitive(root, "resources");
	if (j != NULL && !cJSON_IsNull(j)) {
		if (!cJSON_IsObject(j)) {
			msg_fail(&ctx, DLQ_WRONG_TYPE, "field 'resources' must be an object, not %s",
			    msg_type_name(j));
			goto out;
		}
		n = 0;
		if (msg_get_int(&ctx, j, "gpu", 0, 0, 16, &n) < 0) {
			char *d = *detail;
			xasprintf(detail, "resources: %s", d);
			free(d);
			goto out;
		}
		t->gpu = (int)n;
	}
	if (msg_get_string(&ctx, root, "result_prefix", 0, &t->result_prefix) < 0)
		goto out;
	if (t->result_prefix != NULL &&
	    (why = msg_prefix_check(t->result_prefix)) != NULL) {
		msg_fail(&ctx, DLQ_INVALID_VALUE, "field 'result_prefix' %s", why);
		goto out;
	}
	t->raw = xstrndup(buf, len);
	t->rawlen = len;
	/* Where a requeue writes the next attempt: over the value, or after the last member. */
	if ((m = json_doc_member(&doc, "attempt")) != NULL) {
		t->attempt_off = m->value_off;
		t->attempt_end = m->value_end;
	} else {
		t->attempt_off = t->attempt_end = doc.members[doc.nmembers - 1].value_end;
		t->attempt_insert = 1;
	}
	*out = t;
	t = NULL;
	rc = 0;
out:
	msg_task_free(t);
	cJSON_Delete(root);
	json_doc_free(&doc);
	return rc;
}

char *
msg_task_requeue(const struct task_spec *t)
{
	const char *raw = t->raw;
	char *s;

	/* Byte for byte the original but for the attempt's value. */
	if (t->attempt_insert)
		xasprintf(&s, "%.*s,\"attempt\":%d%s", (int)t->attempt_off, raw, t->attempt + 1,
		    raw + t->attempt_off);
	else
		xasprintf(&s, "%.*s%d%s", (int)t->attempt_off, raw, t->attempt + 1,
		    raw + t->attempt_end);
	return s;
}

char *
msg_dlq_encode(enum dlq_reason reason, const char *detail, const char *task_id,
    const char *topic, int32_t partition, int64_t offset, const void *payload, size_t len,
    int64_t now_ms)
{
	cJSON *root = cJSON_CreateObject();
	char ts[40], *s, *b64;

	cJSON_AddNumberToObject(root, "version", 1);
	cJSON_AddStringToObject(root, "reason", msg_dlq_reason_name(reason));
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
