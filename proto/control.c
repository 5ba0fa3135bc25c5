/*
 * control.c: the control protocol (docs/control.md). One JSON object a
 * line each way: requests (a command table: each command's name, the
 * fields it takes, its help), answers ({"ok":true,...} or
 * {"ok":false,"error":...}), and the events a subscribed connection
 * receives. The views (TASK, STATUS, LAG; VPN is vpn.c's) are plain
 * structs: the daemon fills and encodes them, clients decode them; neither side writes a
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

enum { F_ID = 1, F_STATE = 2, F_CHECK = 4, F_FOLLOW = 8, F_AT = 16, F_ATTEMPT = 32,
	F_OFFSET = 64, F_STOP = 128 };

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
	{ "requeue", PROTO_CMD_REQUEUE, F_ID | F_ATTEMPT, F_ID, "id, attempt",
	  "run a finished task again as its next attempt (attempt: only if it is that one)" },
	{ "cancel", PROTO_CMD_CANCEL, F_ID, F_ID, "id", "stop a task in flight" },
	{ "lag", PROTO_CMD_LAG, F_CHECK, 0, "check", "lag and health per partition (LAG)" },
	{ "subscribe", PROTO_CMD_SUBSCRIBE, 0, 0, "no other field",
	  "turn the connection into a stream of events" },
	{ "gpus", PROTO_CMD_GPUS, 0, 0, "no other field",
	  "the GPU nodes, their cards and the tasks holding them (gpu.c)" },
	{ "vpn", PROTO_CMD_VPN, 0, 0, "no other field", "the VPN tunnel and its checks (VPN)" },
	{ "pods", PROTO_CMD_PODS, 0, 0, "no other field",
	  "the game pods as the k8s runner's informer sees them (POD)" },
	{ "logs", PROTO_CMD_LOGS, F_ID | F_FOLLOW | F_STOP, F_ID, "id, follow, stop",
	  "a task's log as log events, then log_end (stop: end this connection's stream of it)" },
	{ "videos", PROTO_CMD_VIDEOS, 0, 0, "no other field",
	  "recent tasks whose result has a video, newest first (VIDEO)" },
	{ "frame", PROTO_CMD_FRAME, F_ID | F_AT, F_ID, "id, at",
	  "a still of a task's video as PNG" },
	{ "video_data", PROTO_CMD_VIDEO_DATA, F_ID | F_OFFSET, F_ID, "id, offset",
	  "a piece of a task's video file, from offset" },
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
		    strcmp(f->string, "check") == 0 ? F_CHECK :
		    strcmp(f->string, "follow") == 0 ? F_FOLLOW :
		    strcmp(f->string, "at") == 0 ? F_AT :
		    strcmp(f->string, "attempt") == 0 ? F_ATTEMPT :
		    strcmp(f->string, "offset") == 0 ? F_OFFSET :
		    strcmp(f->string, "stop") == 0 ? F_STOP : 0;

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
		if (bit == F_CHECK || bit == F_FOLLOW || bit == F_STOP) {
			if (!cJSON_IsBool(f)) {
				xasprintf(cause, "field '%s' must be a boolean, not %s", f->string,
				    proto_type_name(f));
				goto out;
			}
			*(bit == F_CHECK ? &req->check : bit == F_FOLLOW ? &req->follow :
			    &req->stop) = cJSON_IsTrue(f);
		} else if (bit == F_AT) {
			if (!cJSON_IsNumber(f)) {
				xasprintf(cause, "field 'at' must be a number, not %s",
				    proto_type_name(f));
				goto out;
			}
			if (!(f->valuedouble >= 0 && f->valuedouble <= PROTO_FRAME_AT_MAX)) {
				xasprintf(cause, "field 'at' must be 0 to %.0f (seconds into the video)",
				    PROTO_FRAME_AT_MAX);
				goto out;
			}
			req->at = f->valuedouble;
		} else if (bit == F_ATTEMPT) {
			/* In range before the cast: a cast out of int's range is undefined. */
			if (!cJSON_IsNumber(f) || !(f->valuedouble >= 1 &&
			    f->valuedouble <= INT32_MAX) ||
			    f->valuedouble != (double)(int)f->valuedouble) {
				xasprintf(cause, "field 'attempt' must be an integer from 1 to %d%s%s",
				    INT32_MAX, cJSON_IsNumber(f) ? "" : ", not ",
				    cJSON_IsNumber(f) ? "" : proto_type_name(f));
				goto out;
			}
			req->attempt = (int)f->valuedouble;
		} else if (bit == F_OFFSET) {
			if (!cJSON_IsNumber(f) || !(f->valuedouble >= 0 &&
			    f->valuedouble <= (double)PROTO_OFFSET_MAX) ||
			    f->valuedouble != (double)(int64_t)f->valuedouble) {
				xasprintf(cause, "field 'offset' must be an integer from 0 to %jd%s%s",
				    (intmax_t)PROTO_OFFSET_MAX, cJSON_IsNumber(f) ? "" : ", not ",
				    cJSON_IsNumber(f) ? "" : proto_type_name(f));
				goto out;
			}
			req->offset = (int64_t)f->valuedouble;
		} else if (control_string_field(f, bit == F_ID ? &req->id : &req->state,
		    cause) != 0)
			goto out;
	}
	/* A stop starts nothing: what it would follow is a mistake worth naming. */
	if (req->stop && req->follow) {
		xasprintf(cause, "fields 'stop' and 'follow' do not go together "
		    "(stop ends a stream)");
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
	if (req->follow)
		cJSON_AddTrueToObject(r, "follow");
	if (req->stop)
		cJSON_AddTrueToObject(r, "stop");
	if (req->cmd == PROTO_CMD_FRAME && req->at > 0)
		cJSON_AddNumberToObject(r, "at", req->at);
	if (req->attempt > 0)
		cJSON_AddNumberToObject(r, "attempt", req->attempt);
	if (req->cmd == PROTO_CMD_VIDEO_DATA && req->offset > 0)
		cJSON_AddNumberToObject(r, "offset", (double)req->offset);
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

static const char *event_names[] = {
	"task", "status", "gpu", "vpn", "pod", "video", "log", "log_end", "pods"
};

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
	proto_add_time(j, "upload_waiting_since", v->upload_waiting_since);
	proto_add_time(j, "upload_next_try", v->upload_next_try);
	proto_add_time(j, "upload_deadline", v->upload_deadline);
	if (v->upload_error != NULL)
		cJSON_AddStringToObject(j, "upload_error", v->upload_error);
	if (v->recovered != NULL)
		cJSON_AddStringToObject(j, "recovered", v->recovered);
	return j;
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
	if (proto_get_name(e, "class", 0, control_parse_class, ec, NULL, cause) != 0 ||
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
	    proto_get_name(j, "state", 1, control_parse_state, &v->state, NULL, cause) != 0 ||
	    proto_get_name(j, "status", 0, control_parse_status, &v->status, &v->has_status,
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
	    proto_get_i64(j, "duration_ms", &v->duration_ms, cause) != 0 ||
	    proto_get_time(j, "upload_waiting_since", &v->upload_waiting_since, cause) != 0 ||
	    proto_get_time(j, "upload_next_try", &v->upload_next_try, cause) != 0 ||
	    proto_get_time(j, "upload_deadline", &v->upload_deadline, cause) != 0 ||
	    proto_get_str(j, "upload_error", &v->upload_error, cause) != 0 ||
	    proto_get_str(j, "recovered", &v->recovered, cause) != 0)
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
	cJSON_AddNumberToObject(s, "upload_waiting", (double)v->upload_waiting);
	if (!v->vpn_enabled)
		cJSON_AddNullToObject(s, "vpn");
	else {
		o = cJSON_AddObjectToObject(s, "vpn");
		cJSON_AddStringToObject(o, "state", proto_vpn_state_name(v->vpn_state));
		cJSON_AddBoolToObject(o, "healthy", v->vpn_healthy);
		proto_add_time(o, "since", v->vpn_since_ms);
	}
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

static int
control_parse_vpn_state(const char *s, void *out)
{
	return proto_vpn_state_parse(s, out);
}

int
proto_status_view_decode(const cJSON *j, struct proto_status_view *v, char **cause)
{
	const cJSON *topics, *states, *totals, *tx, *parts, *e, *vpn;
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
	    proto_get_object(j, "topics", &topics, cause) != 0 ||
	    proto_get_object(j, "states", &states, cause) != 0 ||
	    proto_get_object(j, "totals", &totals, cause) != 0 ||
	    proto_get_object(j, "transactions", &tx, cause) != 0 ||
	    proto_get_str(topics, "tasks", &v->tasks_topic, cause) != 0 ||
	    proto_get_str(topics, "results", &v->results_topic, cause) != 0 ||
	    proto_get_str(topics, "dlq", &v->dlq_topic, cause) != 0 ||
	    proto_get_i64(totals, "dlq", &v->dlq, cause) != 0 ||
	    proto_get_i64(totals, "skipped_done", &v->skipped_done, cause) != 0 ||
	    proto_get_i64(tx, "committed", &v->tx_committed, cause) != 0 ||
	    proto_get_i64(tx, "aborted", &v->tx_aborted, cause) != 0 ||
	    proto_get_i64(j, "upload_waiting", &v->upload_waiting, cause) != 0 ||
	    proto_get_object(j, "vpn", &vpn, cause) != 0)
		goto fail;
	if (vpn != NULL) {
		v->vpn_enabled = 1;
		if (proto_get_name(vpn, "state", 1, control_parse_vpn_state, &v->vpn_state, NULL,
		    cause) != 0 ||
		    proto_get_bool(vpn, "healthy", &v->vpn_healthy, cause) != 0 ||
		    proto_get_time(vpn, "since", &v->vpn_since_ms, cause) != 0)
			goto fail;
	}
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

static void
control_lag_age(cJSON *o, const char *name, double age)
{
	if (age < 0)
		cJSON_AddNullToObject(o, name);
	else
		cJSON_AddNumberToObject(o, name, age);
}

static cJSON *
control_lag_owner(const struct proto_lag_owner *ow)
{
	cJSON *o;

	if (ow == NULL)
		return cJSON_CreateNull();
	o = cJSON_CreateObject();
	if (ow->instance != NULL)
		cJSON_AddStringToObject(o, "instance", ow->instance);
	if (ow->member_id != NULL)
		cJSON_AddStringToObject(o, "member_id", ow->member_id);
	if (ow->client_id != NULL)
		cJSON_AddStringToObject(o, "client_id", ow->client_id);
	if (ow->host != NULL)
		cJSON_AddStringToObject(o, "host", ow->host);
	return o;
}

void
proto_lag_encode_into(cJSON *j, const struct proto_lag *l)
{
	const struct proto_lag_view *v;
	cJSON *a, *o, *h, *e;
	size_t i, k;

	cJSON_AddNumberToObject(j, "version", LAG_VERSION);
	cJSON_AddStringToObject(j, "source", l->source != NULL ? l->source : "gateway");
	cJSON_AddStringToObject(j, "group", l->group != NULL ? l->group : "");
	cJSON_AddStringToObject(j, "topic", l->topic != NULL ? l->topic : "");
	if (l->instance != NULL)
		cJSON_AddStringToObject(j, "instance", l->instance);
	proto_add_time(j, "time", l->time_ms);
	if (l->has_group_state) {
		proto_add_str_or_null(j, "group_state", l->group_state);
		if (l->members >= 0)
			cJSON_AddNumberToObject(j, "members", (double)l->members);
		else
			cJSON_AddNullToObject(j, "members");
		if (l->group_error != NULL)
			cJSON_AddStringToObject(j, "group_error", l->group_error);
	}
	cJSON_AddBoolToObject(j, "healthy", l->healthy);
	if (l->why != NULL)
		cJSON_AddStringToObject(j, "why", l->why);
	a = cJSON_AddArrayToObject(j, "partitions");
	for (i = 0; i < l->npartitions; i++) {
		v = &l->partitions[i];
		o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "partition", v->partition);
		cJSON_AddNumberToObject(o, "committed", (double)v->committed);
		control_lag_age(o, "committed_age_s", v->committed_age_s);
		cJSON_AddNumberToObject(o, "log_end", (double)v->log_end);
		control_lag_age(o, "log_end_age_s", v->log_end_age_s);
		cJSON_AddNumberToObject(o, "lag", (double)v->lag);
		cJSON_AddNumberToObject(o, "lag_s", v->lag_s);
		cJSON_AddItemToObject(o, "owner", control_lag_owner(v->owner));
		cJSON_AddStringToObject(o, "status", proto_health_name(v->status));
		cJSON_AddBoolToObject(o, "healthy", v->healthy);
		if (v->bad_checks >= 0)
			cJSON_AddNumberToObject(o, "bad_checks", v->bad_checks);
		if (v->why != NULL)
			cJSON_AddStringToObject(o, "why", v->why);
		if (v->error != NULL)
			cJSON_AddStringToObject(o, "error", v->error);
		if (v->nhistory > 0) {
			h = cJSON_AddArrayToObject(o, "history");
			for (k = 0; k < v->nhistory; k++) {
				e = cJSON_CreateArray();
				cJSON_AddItemToArray(e,
				    cJSON_CreateNumber((double)v->history[k].t_ms));
				cJSON_AddItemToArray(e, cJSON_CreateNumber((double)v->history[k].lag));
				cJSON_AddItemToArray(h, e);
			}
		}
		cJSON_AddItemToArray(a, o);
	}
}

cJSON *
proto_lag_encode(const struct proto_lag *l)
{
	cJSON *j = cJSON_CreateObject();

	proto_lag_encode_into(j, l);
	return j;
}

/* An owner object (or null) into *ow; strings borrowed. */
static int
control_lag_owner_decode(const cJSON *o, struct proto_lag_owner *ow, int *present, char **cause)
{
	*present = 0;
	if (o == NULL || cJSON_IsNull(o))
		return 0;
	if (!cJSON_IsObject(o)) {
		xasprintf(cause, "field 'owner' must be an object or null, not %s", proto_type_name(o));
		return -1;
	}
	if (proto_get_str(o, "instance", &ow->instance, cause) != 0 ||
	    proto_get_str(o, "member_id", &ow->member_id, cause) != 0 ||
	    proto_get_str(o, "client_id", &ow->client_id, cause) != 0 ||
	    proto_get_str(o, "host", &ow->host, cause) != 0)
		return -1;
	*present = 1;
	return 0;
}

/* history: [[t_ms, lag], ...] of whole numbers; the samples go to out (counted first). */
static int
control_get_history(const cJSON *e, struct proto_lag_sample *out, size_t *n, char **cause)
{
	const cJSON *h = cJSON_GetObjectItemCaseSensitive(e, "history"), *s, *t, *l;

	*n = 0;
	if (h == NULL || cJSON_IsNull(h))
		return 0;
	if (!cJSON_IsArray(h)) {
		xasprintf(cause, "field 'history' must be an array, not %s", proto_type_name(h));
		return -1;
	}
	cJSON_ArrayForEach(s, h) {
		t = cJSON_GetArrayItem(s, 0);
		l = cJSON_GetArrayItem(s, 1);
		if (!cJSON_IsArray(s) || cJSON_GetArraySize(s) != 2 || !cJSON_IsNumber(t) ||
		    !cJSON_IsNumber(l) || !(t->valuedouble >= 0 && t->valuedouble < 9e15) ||
		    !(l->valuedouble >= -1 && l->valuedouble < 9e15)) {
			xasprintf(cause, "field 'history' must hold [time_ms, lag] pairs of numbers");
			return -1;
		}
		if (out != NULL) {
			out[*n].t_ms = (int64_t)t->valuedouble;
			out[*n].lag = (int64_t)l->valuedouble;
		}
		(*n)++;
	}
	return 0;
}

int
proto_lag_decode(const cJSON *j, struct proto_lag *l, char **cause)
{
	const cJSON *parts, *e, *gs;
	struct proto_lag_view *pv;
	struct proto_lag_owner *owners;
	struct proto_lag_sample *samples;
	size_t i, n, k, total = 0;
	int owned;

	memset(l, 0, sizeof *l);
	l->healthy = 1;
	l->members = -1;
	/* GET /lag of gateways before the LAG object: the bare array. */
	if (cJSON_IsArray(j))
		parts = j;
	else if (cJSON_IsObject(j)) {
		if (proto_get_int(j, "version", &l->version, cause) != 0 ||
		    proto_get_str(j, "source", &l->source, cause) != 0 ||
		    proto_get_str(j, "group", &l->group, cause) != 0 ||
		    proto_get_str(j, "topic", &l->topic, cause) != 0 ||
		    proto_get_str(j, "instance", &l->instance, cause) != 0 ||
		    proto_get_time(j, "time", &l->time_ms, cause) != 0 ||
		    proto_get_str(j, "group_state", &l->group_state, cause) != 0 ||
		    proto_get_i64(j, "members", &l->members, cause) != 0 ||
		    proto_get_str(j, "group_error", &l->group_error, cause) != 0 ||
		    proto_get_bool(j, "healthy", &l->healthy, cause) != 0 ||
		    proto_get_str(j, "why", &l->why, cause) != 0)
			return -1;
		gs = cJSON_GetObjectItemCaseSensitive(j, "group_state");
		l->has_group_state = gs != NULL;
		parts = cJSON_GetObjectItemCaseSensitive(j, "partitions");
	} else {
		xasprintf(cause, "a lag answer that is %s, not an object", proto_type_name(j));
		return -1;
	}
	if (!cJSON_IsArray(parts)) {
		xasprintf(cause, "field 'partitions' must be an array, not %s",
		    proto_type_name(parts));
		return -1;
	}
	n = (size_t)cJSON_GetArraySize(parts);
	cJSON_ArrayForEach(e, parts) {
		if (control_get_history(e, NULL, &k, cause) != 0)
			return -1;
		total += k;
	}
	l->own = proto_own_new(NULL);
	((struct proto_own *)l->own)->arrays[0] = pv = xcalloc(n + 1, sizeof *pv);
	((struct proto_own *)l->own)->arrays[1] = owners = xcalloc(n + 1, sizeof *owners);
	((struct proto_own *)l->own)->arrays[2] = samples = xcalloc(total + 1, sizeof *samples);
	i = 0;
	cJSON_ArrayForEach(e, parts) {
		pv[i].committed = pv[i].log_end = pv[i].lag = -1;
		pv[i].committed_age_s = pv[i].log_end_age_s = pv[i].lag_s = -1;
		pv[i].bad_checks = -1;
		control_get_history(e, samples, &pv[i].nhistory, cause);
		pv[i].history = samples;
		samples += pv[i].nhistory;
		if (!cJSON_IsObject(e)) {
			xasprintf(cause, "field 'partitions' must hold objects, not %s",
			    proto_type_name(e));
			goto fail;
		}
		if (proto_get_i32(e, "partition", &pv[i].partition, cause) != 0 ||
		    proto_get_i64(e, "committed", &pv[i].committed, cause) != 0 ||
		    proto_get_double(e, "committed_age_s", &pv[i].committed_age_s, cause) != 0 ||
		    proto_get_i64(e, "log_end", &pv[i].log_end, cause) != 0 ||
		    proto_get_double(e, "log_end_age_s", &pv[i].log_end_age_s, cause) != 0 ||
		    proto_get_i64(e, "lag", &pv[i].lag, cause) != 0 ||
		    proto_get_double(e, "lag_s", &pv[i].lag_s, cause) != 0 ||
		    control_lag_owner_decode(cJSON_GetObjectItemCaseSensitive(e, "owner"),
		    &owners[i], &owned, cause) != 0 ||
		    proto_get_name(e, "status", 0, control_parse_health, &pv[i].status, NULL,
		    cause) != 0 ||
		    proto_get_bool(e, "healthy", &pv[i].healthy, cause) != 0 ||
		    proto_get_int(e, "bad_checks", &pv[i].bad_checks, cause) != 0 ||
		    proto_get_str(e, "why", &pv[i].why, cause) != 0 ||
		    proto_get_str(e, "error", &pv[i].error, cause) != 0 ||
		    (pv[i].error == NULL &&
		    proto_get_str(e, "log_end_error", &pv[i].error, cause) != 0))
			goto fail;
		pv[i].owner = owned ? &owners[i] : NULL;
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
