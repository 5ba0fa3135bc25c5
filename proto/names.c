/*
 * names.c: the one copy of every name the contracts use: task states,
 * result statuses, error classes, dead-letter reasons, Burrow's lag
 * statuses, the VPN tunnel's states and checks. The daemon writes them
 * and its clients read them through these tables only.
 */
#include "config.h"
#include "proto.h"

#include <string.h>

#include "common.h"

static const char *state_names[TASK_NSTATES] = {
	"received", "fetching", "launching", "running", "collecting",
	"uploading", "upload_wait", "reporting", "done", "failed",
};
static const char *status_names[RESULT_NSTATUSES] = {
	"succeeded", "failed", "timeout", "cancelled", "error",
};
static const char *class_names[] = { NULL, "user", "infra", "invalid" };
static const char *dlq_names[DLQ_NREASONS] = {
	"too_large", "invalid_utf8", "invalid_json", "not_object",
	"unsupported_version", "missing_field", "wrong_type", "invalid_value",
	"duplicate_task",
};
static const char *health_names[HEALTH_NSTATUSES] = {
	"OK", "WARN", "STALL", "STOP", "REWIND", "ERR",
};
/* As vpn/vpn.h names them (tests/unit/test-tunnel.c checks they agree). */
static const char *vpn_state_names[PROTO_VPN_NSTATES] = {
	"STOPPED", "STARTING", "CONNECTING", "CONNECTED", "RECONNECTING", "BACKOFF", "STOPPING",
};
static const char *vpn_kind_names[PROTO_VPN_NKINDS] = { "route", "endpoint" };
static const char *vpn_result_names[PROTO_VPN_NRESULTS] = { "pending", "ok", "failed" };

/* Index of s in names[0..n) (NULL entries skipped), or -1. */
static int
names_find(const char *const *names, size_t n, const char *s)
{
	size_t i;

	if (s == NULL)
		return -1;
	for (i = 0; i < n; i++)
		if (names[i] != NULL && strcmp(names[i], s) == 0)
			return (int)i;
	return -1;
}

const char *
proto_state_name(enum task_state s)
{
	return (size_t)s < nitems(state_names) ? state_names[s] : "unknown";
}

int
proto_state_parse(const char *s, enum task_state *out)
{
	int i = names_find(state_names, nitems(state_names), s);

	if (i < 0)
		return -1;
	*out = (enum task_state)i;
	return 0;
}

const char *
proto_status_name(enum result_status s)
{
	return (size_t)s < nitems(status_names) ? status_names[s] : "error";
}

int
proto_status_parse(const char *s, enum result_status *out)
{
	int i = names_find(status_names, nitems(status_names), s);

	if (i < 0)
		return -1;
	*out = (enum result_status)i;
	return 0;
}

const char *
proto_class_name(enum error_class c)
{
	return (size_t)c < nitems(class_names) ? class_names[c] : NULL;
}

int
proto_class_parse(const char *s, enum error_class *out)
{
	int i = names_find(class_names, nitems(class_names), s);

	if (i < 0)
		return -1;
	*out = (enum error_class)i;
	return 0;
}

const char *
proto_dlq_reason_name(enum dlq_reason r)
{
	return (size_t)r < nitems(dlq_names) ? dlq_names[r] : "unknown";
}

int
proto_dlq_reason_parse(const char *s, enum dlq_reason *out)
{
	int i = names_find(dlq_names, nitems(dlq_names), s);

	if (i < 0)
		return -1;
	*out = (enum dlq_reason)i;
	return 0;
}

const char *
proto_health_name(enum health_status s)
{
	return (size_t)s < nitems(health_names) ? health_names[s] : "unknown";
}

int
proto_health_parse(const char *s, enum health_status *out)
{
	int i = names_find(health_names, nitems(health_names), s);

	if (i < 0)
		return -1;
	*out = (enum health_status)i;
	return 0;
}

const char *
proto_vpn_state_name(enum proto_vpn_state v)
{
	return (size_t)v < nitems(vpn_state_names) ? vpn_state_names[v] : "unknown";
}

int
proto_vpn_state_parse(const char *s, enum proto_vpn_state *out)
{
	int i = names_find(vpn_state_names, nitems(vpn_state_names), s);

	if (i < 0)
		return -1;
	*out = (enum proto_vpn_state)i;
	return 0;
}

const char *
proto_vpn_kind_name(enum proto_vpn_kind v)
{
	return (size_t)v < nitems(vpn_kind_names) ? vpn_kind_names[v] : "unknown";
}

int
proto_vpn_kind_parse(const char *s, enum proto_vpn_kind *out)
{
	int i = names_find(vpn_kind_names, nitems(vpn_kind_names), s);

	if (i < 0)
		return -1;
	*out = (enum proto_vpn_kind)i;
	return 0;
}

const char *
proto_vpn_result_name(enum proto_vpn_result v)
{
	return (size_t)v < nitems(vpn_result_names) ? vpn_result_names[v] : "unknown";
}

int
proto_vpn_result_parse(const char *s, enum proto_vpn_result *out)
{
	int i = names_find(vpn_result_names, nitems(vpn_result_names), s);

	if (i < 0)
		return -1;
	*out = (enum proto_vpn_result)i;
	return 0;
}

const char *
proto_type_name(const cJSON *j)
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
