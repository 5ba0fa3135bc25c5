/*
 * vpn.c: the VPN view of the control protocol (docs/control.md, "vpn"):
 * the tunnel as the gateway's supervisor (vpn/) sees it, its checks,
 * and what the gateway does about it (intake paused while it is down).
 * The daemon fills it from vpn_view_get() and encodes it for the "vpn"
 * answer and event; clients (paiactl vpn, the console's VPN view)
 * decode it.
 *
 * It does not know vpn/: the names of states, check kinds and results
 * are names.c's, kept equal to vpn/'s by a unit test.
 */
#include "config.h"
#include "proto-int.h"

#include <stdlib.h>
#include <string.h>

#include "common.h"

static void
vpn_add_i64_or_null(cJSON *obj, const char *name, int64_t v, int64_t none)
{
	if (v == none)
		cJSON_AddNullToObject(obj, name);
	else
		cJSON_AddNumberToObject(obj, name, (double)v);
}

cJSON *
proto_vpn_view_encode(const struct proto_vpn_view *v)
{
	cJSON *j = cJSON_CreateObject(), *arr, *c;
	const struct proto_vpn_check *k;
	size_t i;

	cJSON_AddBoolToObject(j, "enabled", v->enabled);
	if (!v->enabled)
		return j;
	cJSON_AddStringToObject(j, "mode", v->mode != NULL ? v->mode : "");
	cJSON_AddStringToObject(j, "state", proto_vpn_state_name(v->state));
	proto_add_time(j, "since", v->since_ms);
	proto_add_time(j, "connected", v->connected_ms);
	proto_add_time(j, "next_try", v->next_try_ms);
	cJSON_AddStringToObject(j, "openvpn_state", v->openvpn_state != NULL ?
	    v->openvpn_state : "");
	cJSON_AddStringToObject(j, "openvpn_detail", v->openvpn_detail != NULL ?
	    v->openvpn_detail : "");
	vpn_add_i64_or_null(j, "pid", v->pid, -1);
	proto_add_str_or_null(j, "error", v->error);
	proto_add_time(j, "error_at", v->error_ms);
	cJSON_AddNumberToObject(j, "restarts", (double)v->restarts);
	cJSON_AddNumberToObject(j, "auth_failures", (double)v->auth_failures);
	cJSON_AddNumberToObject(j, "bytes_in", (double)v->bytes_in);
	cJSON_AddNumberToObject(j, "bytes_out", (double)v->bytes_out);
	cJSON_AddStringToObject(j, "tun_ip", v->tun_ip != NULL ? v->tun_ip : "");
	cJSON_AddStringToObject(j, "tun_dev", v->tun_dev != NULL ? v->tun_dev : "");
	cJSON_AddBoolToObject(j, "healthy", v->healthy);
	proto_add_time(j, "down_since", v->down_since_ms);
	cJSON_AddBoolToObject(j, "pause_intake_when_down", v->pause_intake);
	cJSON_AddBoolToObject(j, "intake_paused", v->intake_paused);
	arr = cJSON_AddArrayToObject(j, "checks");
	for (i = 0; i < v->nchecks; i++) {
		k = &v->checks[i];
		c = cJSON_CreateObject();
		cJSON_AddStringToObject(c, "kind", proto_vpn_kind_name(k->kind));
		cJSON_AddStringToObject(c, "target", k->target);
		cJSON_AddStringToObject(c, "result", proto_vpn_result_name(k->result));
		cJSON_AddStringToObject(c, "reason", k->reason != NULL ? k->reason : "");
		proto_add_time(c, "checked", k->checked_ms);
		vpn_add_i64_or_null(c, "age_ms", k->age_ms, -1);
		vpn_add_i64_or_null(c, "latency_ms", k->latency_ms, -1);
		cJSON_AddItemToArray(arr, c);
	}
	return j;
}

static int
vpn_parse_state(const char *s, void *out)
{
	return proto_vpn_state_parse(s, out);
}

static int
vpn_parse_kind(const char *s, void *out)
{
	return proto_vpn_kind_parse(s, out);
}

static int
vpn_parse_result(const char *s, void *out)
{
	return proto_vpn_result_parse(s, out);
}

int
proto_vpn_view_decode(const cJSON *j, struct proto_vpn_view *v, char **cause)
{
	struct proto_vpn_check *checks;
	const cJSON *arr, *e;
	size_t i, n;

	memset(v, 0, sizeof v[0]);
	v->pid = -1;
	if (!cJSON_IsObject(j)) {
		xasprintf(cause, "a vpn view that is %s, not an object", proto_type_name(j));
		return -1;
	}
	if (proto_need(j, "enabled", cause) != 0 ||
	    proto_get_bool(j, "enabled", &v->enabled, cause) != 0)
		return -1;
	if (!v->enabled)
		return 0;
	if (proto_get_str(j, "mode", &v->mode, cause) != 0 ||
	    proto_get_name(j, "state", 1, vpn_parse_state, &v->state, NULL, cause) != 0 ||
	    proto_get_time(j, "since", &v->since_ms, cause) != 0 ||
	    proto_get_time(j, "connected", &v->connected_ms, cause) != 0 ||
	    proto_get_time(j, "next_try", &v->next_try_ms, cause) != 0 ||
	    proto_get_str(j, "openvpn_state", &v->openvpn_state, cause) != 0 ||
	    proto_get_str(j, "openvpn_detail", &v->openvpn_detail, cause) != 0 ||
	    proto_get_i64(j, "pid", &v->pid, cause) != 0 ||
	    proto_get_str(j, "error", &v->error, cause) != 0 ||
	    proto_get_time(j, "error_at", &v->error_ms, cause) != 0 ||
	    proto_get_i64(j, "restarts", &v->restarts, cause) != 0 ||
	    proto_get_i64(j, "auth_failures", &v->auth_failures, cause) != 0 ||
	    proto_get_i64(j, "bytes_in", &v->bytes_in, cause) != 0 ||
	    proto_get_i64(j, "bytes_out", &v->bytes_out, cause) != 0 ||
	    proto_get_str(j, "tun_ip", &v->tun_ip, cause) != 0 ||
	    proto_get_str(j, "tun_dev", &v->tun_dev, cause) != 0 ||
	    proto_get_bool(j, "healthy", &v->healthy, cause) != 0 ||
	    proto_get_time(j, "down_since", &v->down_since_ms, cause) != 0 ||
	    proto_get_bool(j, "pause_intake_when_down", &v->pause_intake, cause) != 0 ||
	    proto_get_bool(j, "intake_paused", &v->intake_paused, cause) != 0 ||
	    proto_get_array(j, "checks", &arr, &n, cause) != 0)
		goto fail;
	v->own = proto_own_new(NULL);
	((struct proto_own *)v->own)->arrays[0] = checks = xcalloc(n + 1, sizeof *checks);
	i = 0;
	cJSON_ArrayForEach(e, arr) {
		checks[i].age_ms = checks[i].latency_ms = -1;
		if (proto_get_name(e, "kind", 1, vpn_parse_kind, &checks[i].kind, NULL, cause) != 0 ||
		    proto_need(e, "target", cause) != 0 ||
		    proto_get_str(e, "target", &checks[i].target, cause) != 0 ||
		    proto_get_name(e, "result", 1, vpn_parse_result, &checks[i].result, NULL,
		    cause) != 0 ||
		    proto_get_str(e, "reason", &checks[i].reason, cause) != 0 ||
		    proto_get_time(e, "checked", &checks[i].checked_ms, cause) != 0 ||
		    proto_get_i64(e, "age_ms", &checks[i].age_ms, cause) != 0 ||
		    proto_get_i64(e, "latency_ms", &checks[i].latency_ms, cause) != 0)
			goto fail;
		if (checks[i].target == NULL) {
			xasprintf(cause, "field 'target' must not be null");
			goto fail;
		}
		i++;
	}
	v->checks = checks;
	v->nchecks = n;
	return 0;
fail:
	proto_vpn_view_clear(v);
	return -1;
}

void
proto_vpn_view_clear(struct proto_vpn_view *v)
{
	/* Strings are borrowed from the object decoded; the checks array is its own. */
	proto_own_free(v->own);
	memset(v, 0, sizeof v[0]);
}
