/*
 * control.c: the control protocol (docs/control.md). One JSON object a
 * line each way: requests (a command table: each command's name, the
 * fields it takes, its help), answers ({"ok":true,...} or
 * {"ok":false,"error":...}), and the events a subscribed connection
 * receives. The views (TASK, STATUS, LAG) are plain structs: the daemon
 * fills and encodes them, clients decode them; neither side writes a
 * field name of its own.
 *
 * Requests are parsed strictly (json.c first): one object, a known
 * command, only the fields it takes, each of its type, no control
 * characters. Answers and events are decoded leniently about fields a
 * newer gateway adds, strictly about the types of the ones known.
 */
#include "config.h"
#include "proto-int.h"

#include <stdlib.h>
#include <string.h>

#include "common.h"

enum { F_ID = 1, F_STATE = 2, F_CHECK = 4 };

static const struct proto_cmd_def {
	const char *name;
	enum proto_cmd cmd;
	int fields;		/* allowed besides cmd */
	int required;
	const char *takes;
	const char *help;
} proto_cmds[PROTO_NCMDS] = {
	{ "status", PROTO_CMD_STATUS, 0, 0, "no other field",
	  "the gateway at a glance (STATUS)" },
	{ "tasks", PROTO_CMD_TASKS, F_STATE, 0, "state",
	  "tasks in flight and recent ones, optionally of one state or \"active\"" },
	{ "task", PROTO_CMD_TASK, F_ID, F_ID, "id", "one task (TASK)" },
	{ "requeue", PROTO_CMD_REQUEUE, F_ID, F_ID, "id",
	  "run a finished task again as its next attempt" },
	{ "cancel", PROTO_CMD_CANCEL, F_ID, F_ID, "id", "stop a task in flight" },
	{ "lag", PROTO_CMD_LAG, F_CHECK, 0, "check", "lag and health per partition (LAG)" },
	{ "subscribe", PROTO_CMD_SUBSCRIBE, 0, 0, "no other field",
	  "turn the connection into a stream of events" },
	{ "gpus", PROTO_CMD_GPUS, 0, 0, "no other field",
	  "the GPU nodes, their cards and the tasks holding them (gpu.c)" },
};

const char *
proto_cmd_name(enum proto_cmd c)
{
	return (size_t)c < nitems(proto_cmds) ? proto_cmds[c].name : "unknown";
}

const char *
proto_cmd_list(void)
{
	static char list[256];
	size_t i, off = 0;

	if (list[0] != '\0')
		return list;
	for (i = 0; i < nitems(proto_cmds); i++)
		off += (size_t)snprintf(list + off, sizeof list - off, "%s%s", i > 0 ? ", " : "",
		    proto_cmds[i].name);
	return list;
}

/* ---- requests ---- */

/* A string field: of that type, no control characters. */
static int
control_string_field(const cJSON *j, char **out, char **cause)
{
	if (!cJSON_IsString(j)) {
		xasprintf(cause, "field '%s' must be a string, not %s", j->string,
		    proto_type_name(j));
		return -1;
	}
	if (util_find_control(j->valuestring) != NULL) {
		xasprintf(cause, "field '%s' must not hold control characters", j->string);
		return -1;
	}
	*out = xstrdup(j->valuestring);
	return 0;
}

void
proto_request_clear(struct proto_request *req)
{
	free(req->id);
	free(req->state);
	memset(req, 0, sizeof *req);
}

int
proto_request_parse(const char *line, size_t len, struct proto_request *req, char **cause)
{
	const struct proto_cmd_def *def = NULL;
	cJSON *root;
	const cJSON *cmd, *f;
	enum task_state st;
	char *why = NULL, *e;
	size_t i;
	int seen = 0, rc = -1;

	memset(req, 0, sizeof *req);
	if ((root = json_parse_object(line, len, &why)) == NULL) {
		xasprintf(cause, "request is %s", why);
		free(why);
		return -1;
	}
	cmd = cJSON_GetObjectItemCaseSensitive(root, "cmd");
	if (cmd == NULL) {
		xasprintf(cause, "request needs a string field 'cmd'");
		goto out;
	}
	if (control_string_field(cmd, &e, cause) != 0)
		goto out;
	for (i = 0; i < nitems(proto_cmds) && def == NULL; i++)
		if (strcmp(proto_cmds[i].name, e) == 0)
			def = &proto_cmds[i];
	if (def == NULL) {
		why = util_cut(e, 64);
		xasprintf(cause, "unknown command '%s' (%s)", why, proto_cmd_list());
		free(why);
		free(e);
		goto out;
	}
	free(e);
	req->cmd = def->cmd;
	cJSON_ArrayForEach(f, root) {
		int bit = strcmp(f->string, "id") == 0 ? F_ID :
		    strcmp(f->string, "state") == 0 ? F_STATE :
		    strcmp(f->string, "check") == 0 ? F_CHECK : 0;

		if (strcmp(f->string, "cmd") == 0)
			continue;
		if ((def->fields & bit) == 0) {
			why = util_cut(f->string, 64);
			xasprintf(cause, "unknown field '%s' for '%s' (it takes %s)",
			    util_find_control(why) != NULL ? "?" : why, def->name, def->takes);
			free(why);
			goto out;
		}
		seen |= bit;
		if (bit == F_CHECK) {
			if (!cJSON_IsBool(f)) {
				xasprintf(cause, "field 'check' must be a boolean, not %s",
				    proto_type_name(f));
				goto out;
			}
			req->check = cJSON_IsTrue(f);
		} else if (control_string_field(f, bit == F_ID ? &req->id : &req->state,
		    cause) != 0)
			goto out;
	}
	if ((def->required & ~seen) & F_ID) {
		xasprintf(cause, "request needs a string field 'id'");
		goto out;
	}
	if (req->id != NULL && (*req->id == '\0' || strlen(req->id) > TASK_ID_MAX)) {
		xasprintf(cause, "field 'id' must be 1 to %d bytes long (a task id)", TASK_ID_MAX);
		goto out;
	}
	if (req->state != NULL && strcmp(req->state, "active") != 0 &&
	    proto_state_parse(req->state, &st) != 0) {
		why = util_cut(req->state, 64);
		xasprintf(cause, "unknown state '%s'", why);
		free(why);
		goto out;
	}
	rc = 0;
out:
	if (rc != 0)
		proto_request_clear(req);
	cJSON_Delete(root);
	return rc;
}

static char *
control_print(cJSON *obj)
{
	char *text, *out;

	if ((text = cJSON_PrintUnformatted(obj)) == NULL)
		fatalx("proto: cannot print a control line");
	out = xstrdup(text);
	cJSON_free(text);
	cJSON_Delete(obj);
	return out;
}

char *
proto_request_build(const struct proto_request *req)
{
	cJSON *r = cJSON_CreateObject();

	cJSON_AddStringToObject(r, "cmd", proto_cmd_name(req->cmd));
	if (req->id != NULL)
		cJSON_AddStringToObject(r, "id", req->id);
	if (req->state != NULL)
		cJSON_AddStringToObject(r, "state", req->state);
	if (req->check)
		cJSON_AddTrueToObject(r, "check");
	return control_print(r);
}

/* ---- answers and events ---- */

cJSON *
proto_answer_ok(void)
{
	cJSON *r = cJSON_CreateObject();

	cJSON_AddTrueToObject(r, "ok");
	return r;
}

char *
proto_answer_error(const char *message)
{
	cJSON *r = cJSON_CreateObject();

	cJSON_AddFalseToObject(r, "ok");
	cJSON_AddStringToObject(r, "error", message);
	return control_print(r);
}

int
proto_answer_parse(const char *line, size_t len, cJSON **root, int *ok, const char **error,
    char **cause)
{
	const cJSON *j;

	*error = NULL;
	if ((*root = cJSON_ParseWithLength(line, len)) == NULL || !cJSON_IsObject(*root)) {
		xasprintf(cause, "the gateway's answer is not a JSON object");
		goto fail;
	}
	j = cJSON_GetObjectItemCaseSensitive(*root, "ok");
	if (!cJSON_IsBool(j)) {
		xasprintf(cause, "the gateway's answer has no boolean 'ok'");
		goto fail;
	}
	*ok = cJSON_IsTrue(j);
	if (!*ok) {
		j = cJSON_GetObjectItemCaseSensitive(*root, "error");
		*error = cJSON_IsString(j) ? j->valuestring : "refused (no reason given)";
	}
	return 0;
fail:
	cJSON_Delete(*root);
	*root = NULL;
	return -1;
}

static const char *event_names[] = { "task", "status", "gpu" };

char *
proto_event_encode(enum proto_event_type type, cJSON *payload)
{
	cJSON *ev = cJSON_CreateObject();

	cJSON_AddStringToObject(ev, "event", event_names[type]);
	cJSON_AddItemToObject(ev, event_names[type], payload);
	return control_print(ev);
}

int
proto_event_parse(const char *line, size_t len, cJSON **root, enum proto_event_type *type,
    const cJSON **payload, char **cause)
{
	const cJSON *j;
	size_t i;

	*payload = NULL;
	if ((*root = cJSON_ParseWithLength(line, len)) == NULL || !cJSON_IsObject(*root)) {
		xasprintf(cause, "an event that is not a JSON object");
		goto fail;
	}
	j = cJSON_GetObjectItemCaseSensitive(*root, "event");
	if (!cJSON_IsString(j)) {
		xasprintf(cause, "a line with no string 'event' (an answer?)");
		goto fail;
	}
	*type = PROTO_EVENT_OTHER;
	for (i = 0; i < nitems(event_names); i++) {
		if (strcmp(j->valuestring, event_names[i]) == 0) {
			*type = (enum proto_event_type)i;
			*payload = cJSON_GetObjectItemCaseSensitive(*root, event_names[i]);
			if (!cJSON_IsObject(*payload)) {
				xasprintf(cause, "a %s event without its object", event_names[i]);
				goto fail;
			}
		}
	}
	return 0;
fail:
	cJSON_Delete(*root);
	*root = NULL;
	return -1;
}

/* ---- TASK ---- */

cJSON *
proto_task_view_encode(const struct proto_task_view *v)
{
	cJSON *j = cJSON_CreateObject(), *tl, *e;
	size_t i;

	cJSON_AddStringToObject(j, "task_id", v->task_id);
	cJSON_AddNumberToObject(j, "attempt", v->attempt);
	cJSON_AddStringToObject(j, "game", v->game);
	cJSON_AddStringToObject(j, "state", proto_state_name(v->state));
	proto_add_str_or_null(j, "status", v->has_status ? proto_status_name(v->status) : NULL);
	cJSON_AddBoolToObject(j, "waiting", v->waiting);
	if (v->pid >= 0)
		cJSON_AddNumberToObject(j, "pid", (double)v->pid);
	else
		cJSON_AddNullToObject(j, "pid");
	cJSON_AddNumberToObject(j, "partition", v->partition);
	cJSON_AddNumberToObject(j, "offset", (double)v->offset);
	tl = cJSON_AddObjectToObject(j, "timeline");
	for (i = 0; i < TASK_NSTATES; i++)
		proto_add_time(tl, proto_state_name((enum task_state)i), v->timeline[i]);
	if (!v->has_error)
		cJSON_AddNullToObject(j, "error");
	else {
		e = cJSON_AddObjectToObject(j, "error");
		proto_add_str_or_null(e, "class", proto_class_name(v->eclass));
		cJSON_AddStringToObject(e, "message", v->error != NULL ? v->error : "");
	}
	cJSON_AddStringToObject(j, "dir", v->dir);
	cJSON_AddStringToObject(j, "log_path", v->log_path);
	proto_add_str_or_null(j, "log_url", v->log_url);
	proto_add_str_or_null(j, "video_url", v->video_url);
	if (v->video_path != NULL)
		cJSON_AddStringToObject(j, "video_path", v->video_path);
	cJSON_AddItemToObject(j, "artifacts_refused", proto_refused_encode(v->refused,
	    v->nrefused));
	if (v->ngpus > 0)
		cJSON_AddItemToObject(j, "gpus", proto_task_gpus_encode(v->gpus, v->ngpus));
	if (v->has_score)
		cJSON_AddNumberToObject(j, "score", v->score);
	else
		cJSON_AddNullToObject(j, "score");
	if (v->duration_ms >= 0)
		cJSON_AddNumberToObject(j, "duration_ms", (double)v->duration_ms);
	else
		cJSON_AddNullToObject(j, "duration_ms");
	return j;
}

/* A name field that must be one of a table's names. */
static int
control_get_name(const cJSON *obj, const char *field, int required,
    int (*parse)(const char *, void *), void *out, int *present, char **cause)
{
	const char *s = NULL;

	if (present != NULL)
		*present = 0;
	if ((required && proto_need(obj, field, cause) != 0) ||
	    proto_get_str(obj, field, &s, cause) != 0)
		return -1;
	if (s == NULL) {
		if (!required)
			return 0;
		xasprintf(cause, "field '%s' must not be null", field);
		return -1;
	}
	if (parse(s, out) != 0) {
		xasprintf(cause, "field '%s' is not a name this reads", field);
		return -1;
	}
	if (present != NULL)
		*present = 1;
	return 0;
}

static int
control_parse_state(const char *s, void *out)
{
	return proto_state_parse(s, out);
}

static int
control_parse_status(const char *s, void *out)
{
	return proto_status_parse(s, out);
}

static int
control_parse_class(const char *s, void *out)
{
	return proto_class_parse(s, out);
}

static int
control_parse_health(const char *s, void *out)
{
	return proto_health_parse(s, out);
}

/* error: null or {class, message}. */
static int
control_get_error(const cJSON *obj, int *has, enum error_class *ec, const char **msg,
    char **cause)
{
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(obj, "error");

	*has = 0;
	*ec = ERROR_NONE;
	if (e == NULL || cJSON_IsNull(e))
		return 0;
	if (!cJSON_IsObject(e)) {
		xasprintf(cause, "field 'error' must be an object, not %s", proto_type_name(e));
		return -1;
	}
	if (control_get_name(e, "class", 0, control_parse_class, ec, NULL, cause) != 0 ||
	    proto_get_str(e, "message", msg, cause) != 0)
		return -1;
	*has = 1;
	return 0;
}

int
proto_task_view_decode(const cJSON *j, struct proto_task_view *v, char **cause)
{
	struct proto_refused *ref;
	struct proto_task_gpu *gpus;
	const cJSON *tl, *rarr, *garr;
	size_t i;

	memset(v, 0, sizeof *v);
	v->pid = -1;
	v->duration_ms = -1;
	v->partition = -1;
	v->offset = -1;
	if (!cJSON_IsObject(j)) {
		xasprintf(cause, "a task that is %s, not an object", proto_type_name(j));
		return -1;
	}
	if (proto_need(j, "task_id", cause) != 0 ||
	    proto_get_str(j, "task_id", &v->task_id, cause) != 0 ||
	    proto_get_int(j, "attempt", &v->attempt, cause) != 0 ||
	    proto_get_str(j, "game", &v->game, cause) != 0 ||
	    control_get_name(j, "state", 1, control_parse_state, &v->state, NULL, cause) != 0 ||
	    control_get_name(j, "status", 0, control_parse_status, &v->status, &v->has_status,
	    cause) != 0 ||
	    proto_get_bool(j, "waiting", &v->waiting, cause) != 0 ||
	    proto_get_i64(j, "pid", &v->pid, cause) != 0 ||
	    proto_get_i32(j, "partition", &v->partition, cause) != 0 ||
	    proto_get_i64(j, "offset", &v->offset, cause) != 0 ||
	    control_get_error(j, &v->has_error, &v->eclass, &v->error, cause) != 0 ||
	    proto_get_str(j, "dir", &v->dir, cause) != 0 ||
	    proto_get_str(j, "log_path", &v->log_path, cause) != 0 ||
	    proto_get_str(j, "log_url", &v->log_url, cause) != 0 ||
	    proto_get_str(j, "video_url", &v->video_url, cause) != 0 ||
	    proto_get_str(j, "video_path", &v->video_path, cause) != 0 ||
	    proto_get_i64(j, "duration_ms", &v->duration_ms, cause) != 0)
		goto fail;
	if (v->task_id == NULL) {
		xasprintf(cause, "field 'task_id' must not be null");
		goto fail;
	}
	if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(j, "score")))
		v->has_score = 1;
	if (proto_get_double(j, "score", &v->score, cause) != 0)
		goto fail;
	tl = cJSON_GetObjectItemCaseSensitive(j, "timeline");
	if (tl != NULL && !cJSON_IsObject(tl)) {
		xasprintf(cause, "field 'timeline' must be an object, not %s", proto_type_name(tl));
		goto fail;
	}
	for (i = 0; i < TASK_NSTATES; i++)
		if (proto_get_time(tl, proto_state_name((enum task_state)i), &v->timeline[i],
		    cause) != 0)
			goto fail;
	if (proto_get_array(j, "artifacts_refused", &rarr, &v->nrefused, cause) != 0 ||
	    proto_get_array(j, "gpus", &garr, &v->ngpus, cause) != 0)
		goto fail;
	v->own = proto_own_new(NULL);
	/* One allocation holds both arrays. */
	((struct proto_own *)v->own)->arrays[0] = gpus = xcalloc(v->ngpus * sizeof *gpus +
	    (v->nrefused + 1) * sizeof *ref, 1);
	ref = (struct proto_refused *)(void *)(gpus + v->ngpus);
	if (proto_refused_decode(rarr, ref, cause) != 0 ||
	    proto_task_gpus_decode(garr, gpus, cause) != 0)
		goto fail;
	v->refused = ref;
	v->gpus = gpus;
	return 0;
fail:
	proto_task_view_clear(v);
	return -1;
}

void
proto_task_view_clear(struct proto_task_view *v)
{
	/* Its strings are borrowed from the object decoded; the refusals array is its own. */
	proto_own_free(v->own);
	memset(v, 0, sizeof *v);
}

/* ---- STATUS ---- */

cJSON *
proto_status_view_encode(const struct proto_status_view *v)
{
	cJSON *s = cJSON_CreateObject(), *o, *parts;
	const struct proto_partition_view *p;
	size_t i;

	cJSON_AddNumberToObject(s, "protocol", v->protocol);
	cJSON_AddStringToObject(s, "instance", v->instance);
	cJSON_AddStringToObject(s, "version", v->version);
	cJSON_AddNumberToObject(s, "pid", (double)v->pid);
	cJSON_AddNumberToObject(s, "uptime_s", (double)v->uptime_s);
	cJSON_AddBoolToObject(s, "embedded", v->embedded);
	cJSON_AddStringToObject(s, "bootstrap_servers", v->bootstrap_servers != NULL ?
	    v->bootstrap_servers : "");
	cJSON_AddStringToObject(s, "group_id", v->group_id);
	o = cJSON_AddObjectToObject(s, "topics");
	cJSON_AddStringToObject(o, "tasks", v->tasks_topic);
	cJSON_AddStringToObject(o, "results", v->results_topic);
	cJSON_AddStringToObject(o, "dlq", v->dlq_topic);
	cJSON_AddNumberToObject(s, "max_inflight", (double)v->max_inflight);
	cJSON_AddNumberToObject(s, "inflight", (double)v->inflight);
	cJSON_AddNumberToObject(s, "backlog", (double)v->backlog);
	cJSON_AddBoolToObject(s, "paused", v->paused);
	cJSON_AddNumberToObject(s, "reporting", (double)v->reporting);
	cJSON_AddBoolToObject(s, "draining", v->draining);
	o = cJSON_AddObjectToObject(s, "states");
	for (i = 0; i < TASK_NSTATES; i++)
		cJSON_AddNumberToObject(o, proto_state_name((enum task_state)i),
		    (double)v->states[i]);
	o = cJSON_AddObjectToObject(s, "totals");
	for (i = 0; i < RESULT_NSTATUSES; i++)
		cJSON_AddNumberToObject(o, proto_status_name((enum result_status)i),
		    (double)v->totals[i]);
	cJSON_AddNumberToObject(o, "dlq", (double)v->dlq);
	cJSON_AddNumberToObject(o, "skipped_done", (double)v->skipped_done);
	o = cJSON_AddObjectToObject(s, "transactions");
	cJSON_AddNumberToObject(o, "committed", (double)v->tx_committed);
	cJSON_AddNumberToObject(o, "aborted", (double)v->tx_aborted);
	parts = cJSON_AddArrayToObject(s, "partitions");
	for (i = 0; i < v->npartitions; i++) {
		p = &v->partitions[i];
		o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "partition", p->partition);
		cJSON_AddNumberToObject(o, "committed", (double)p->committed);
		cJSON_AddNumberToObject(o, "next", (double)p->next);
		cJSON_AddNumberToObject(o, "pending", (double)p->pending);
		cJSON_AddNumberToObject(o, "high", (double)p->high);
		cJSON_AddNumberToObject(o, "lag", (double)p->lag);
		cJSON_AddBoolToObject(o, "paused", p->paused);
		cJSON_AddItemToArray(parts, o);
	}
	return s;
}

/* An object field (absent: NULL), or -1 when of another type. */
static int
control_get_object(const cJSON *obj, const char *name, const cJSON **out, char **cause)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, name);

	*out = NULL;
	if (j == NULL || cJSON_IsNull(j))
		return 0;
	if (!cJSON_IsObject(j)) {
		xasprintf(cause, "field '%s' must be an object, not %s", name, proto_type_name(j));
		return -1;
	}
	*out = j;
	return 0;
}

int
proto_status_view_decode(const cJSON *j, struct proto_status_view *v, char **cause)
{
	const cJSON *topics, *states, *totals, *tx, *parts, *e;
	struct proto_partition_view *pv = NULL;
	size_t i, n;

	memset(v, 0, sizeof *v);
	if (!cJSON_IsObject(j)) {
		xasprintf(cause, "a status that is %s, not an object", proto_type_name(j));
		return -1;
	}
	if (proto_get_int(j, "protocol", &v->protocol, cause) != 0 ||
	    proto_get_str(j, "instance", &v->instance, cause) != 0 ||
	    proto_get_str(j, "version", &v->version, cause) != 0 ||
	    proto_get_i64(j, "pid", &v->pid, cause) != 0 ||
	    proto_get_i64(j, "uptime_s", &v->uptime_s, cause) != 0 ||
	    proto_get_bool(j, "embedded", &v->embedded, cause) != 0 ||
	    proto_get_str(j, "bootstrap_servers", &v->bootstrap_servers, cause) != 0 ||
	    proto_get_str(j, "group_id", &v->group_id, cause) != 0 ||
	    proto_get_i64(j, "max_inflight", &v->max_inflight, cause) != 0 ||
	    proto_get_i64(j, "inflight", &v->inflight, cause) != 0 ||
	    proto_get_i64(j, "backlog", &v->backlog, cause) != 0 ||
	    proto_get_bool(j, "paused", &v->paused, cause) != 0 ||
	    proto_get_i64(j, "reporting", &v->reporting, cause) != 0 ||
	    proto_get_bool(j, "draining", &v->draining, cause) != 0 ||
	    control_get_object(j, "topics", &topics, cause) != 0 ||
	    control_get_object(j, "states", &states, cause) != 0 ||
	    control_get_object(j, "totals", &totals, cause) != 0 ||
	    control_get_object(j, "transactions", &tx, cause) != 0 ||
	    proto_get_str(topics, "tasks", &v->tasks_topic, cause) != 0 ||
	    proto_get_str(topics, "results", &v->results_topic, cause) != 0 ||
	    proto_get_str(topics, "dlq", &v->dlq_topic, cause) != 0 ||
	    proto_get_i64(totals, "dlq", &v->dlq, cause) != 0 ||
	    proto_get_i64(totals, "skipped_done", &v->skipped_done, cause) != 0 ||
	    proto_get_i64(tx, "committed", &v->tx_committed, cause) != 0 ||
	    proto_get_i64(tx, "aborted", &v->tx_aborted, cause) != 0)
		goto fail;
	for (i = 0; i < TASK_NSTATES; i++)
		if (proto_get_i64(states, proto_state_name((enum task_state)i), &v->states[i],
		    cause) != 0)
			goto fail;
	for (i = 0; i < RESULT_NSTATUSES; i++)
		if (proto_get_i64(totals, proto_status_name((enum result_status)i), &v->totals[i],
		    cause) != 0)
			goto fail;
	parts = cJSON_GetObjectItemCaseSensitive(j, "partitions");
	if (parts != NULL && !cJSON_IsArray(parts)) {
		xasprintf(cause, "field 'partitions' must be an array, not %s",
		    proto_type_name(parts));
		goto fail;
	}
	n = (size_t)cJSON_GetArraySize(parts);
	v->own = proto_own_new(NULL);
	((struct proto_own *)v->own)->arrays[0] = pv = xcalloc(n + 1, sizeof *pv);
	i = 0;
	cJSON_ArrayForEach(e, parts) {
		pv[i].high = pv[i].committed = -1;
		if (!cJSON_IsObject(e)) {
			xasprintf(cause, "field 'partitions' must hold objects, not %s",
			    proto_type_name(e));
			goto fail;
		}
		if (proto_get_i32(e, "partition", &pv[i].partition, cause) != 0 ||
		    proto_get_i64(e, "committed", &pv[i].committed, cause) != 0 ||
		    proto_get_i64(e, "next", &pv[i].next, cause) != 0 ||
		    proto_get_i64(e, "pending", &pv[i].pending, cause) != 0 ||
		    proto_get_i64(e, "high", &pv[i].high, cause) != 0 ||
		    proto_get_i64(e, "lag", &pv[i].lag, cause) != 0 ||
		    proto_get_bool(e, "paused", &pv[i].paused, cause) != 0)
			goto fail;
		i++;
	}
	v->partitions = pv;
	v->npartitions = n;
	return 0;
fail:
	proto_status_view_clear(v);
	return -1;
}

void
proto_status_view_clear(struct proto_status_view *v)
{
	proto_own_free(v->own);
	memset(v, 0, sizeof *v);
}

int
proto_status_compatible(const struct proto_status_view *v, char **cause)
{
	/* Gateways before the field existed spoke protocol 1. */
	int theirs = v->protocol != 0 ? v->protocol : 1;

	if (theirs == PROTO_VERSION)
		return 0;
	xasprintf(cause, "gateway %s (paia %s) speaks control protocol %d; this client speaks %d",
	    v->instance != NULL ? v->instance : "?", v->version != NULL ? v->version : "?",
	    theirs, PROTO_VERSION);
	return -1;
}

/* ---- LAG ---- */

cJSON *
proto_lag_encode_partitions(const struct proto_lag_view *v, size_t n)
{
	cJSON *a = cJSON_CreateArray(), *o;
	size_t i;

	for (i = 0; i < n; i++) {
		o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "partition", v[i].partition);
		cJSON_AddNumberToObject(o, "committed", (double)v[i].committed);
		cJSON_AddNumberToObject(o, "log_end", (double)v[i].log_end);
		cJSON_AddNumberToObject(o, "lag", (double)v[i].lag);
		cJSON_AddNumberToObject(o, "lag_s", v[i].lag_s);
		cJSON_AddStringToObject(o, "status", proto_health_name(v[i].status));
		cJSON_AddBoolToObject(o, "healthy", v[i].healthy);
		cJSON_AddNumberToObject(o, "bad_checks", v[i].bad_checks);
		if (v[i].why != NULL)
			cJSON_AddStringToObject(o, "why", v[i].why);
		if (v[i].log_end_error != NULL)
			cJSON_AddStringToObject(o, "log_end_error", v[i].log_end_error);
		cJSON_AddItemToArray(a, o);
	}
	return a;
}

int
proto_lag_decode(const cJSON *answer, struct proto_lag *l, char **cause)
{
	const cJSON *parts, *e;
	struct proto_lag_view *pv;
	size_t i, n;

	memset(l, 0, sizeof *l);
	l->healthy = 1;
	if (proto_get_bool(answer, "healthy", &l->healthy, cause) != 0 ||
	    proto_get_str(answer, "why", &l->why, cause) != 0)
		return -1;
	parts = cJSON_GetObjectItemCaseSensitive(answer, "partitions");
	if (!cJSON_IsArray(parts)) {
		xasprintf(cause, "field 'partitions' must be an array, not %s",
		    proto_type_name(parts));
		return -1;
	}
	n = (size_t)cJSON_GetArraySize(parts);
	l->own = proto_own_new(NULL);
	((struct proto_own *)l->own)->arrays[0] = pv = xcalloc(n + 1, sizeof *pv);
	i = 0;
	cJSON_ArrayForEach(e, parts) {
		pv[i].committed = pv[i].log_end = pv[i].lag = -1;
		if (!cJSON_IsObject(e)) {
			xasprintf(cause, "field 'partitions' must hold objects, not %s",
			    proto_type_name(e));
			goto fail;
		}
		if (proto_get_i32(e, "partition", &pv[i].partition, cause) != 0 ||
		    proto_get_i64(e, "committed", &pv[i].committed, cause) != 0 ||
		    proto_get_i64(e, "log_end", &pv[i].log_end, cause) != 0 ||
		    proto_get_i64(e, "lag", &pv[i].lag, cause) != 0 ||
		    proto_get_double(e, "lag_s", &pv[i].lag_s, cause) != 0 ||
		    control_get_name(e, "status", 0, control_parse_health, &pv[i].status, NULL,
		    cause) != 0 ||
		    proto_get_bool(e, "healthy", &pv[i].healthy, cause) != 0 ||
		    proto_get_int(e, "bad_checks", &pv[i].bad_checks, cause) != 0 ||
		    proto_get_str(e, "why", &pv[i].why, cause) != 0 ||
		    proto_get_str(e, "log_end_error", &pv[i].log_end_error, cause) != 0)
			goto fail;
		i++;
	}
	l->partitions = pv;
	l->npartitions = n;
	return 0;
fail:
	proto_lag_clear(l);
	return -1;
}

void
proto_lag_clear(struct proto_lag *l)
{
	proto_own_free(l->own);
	memset(l, 0, sizeof *l);
}
