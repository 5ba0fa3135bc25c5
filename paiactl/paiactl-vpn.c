/*
 * paiactl-vpn.c: "paiactl vpn": the VPN tunnel the gateway supervises
 * (the vpn answer, decoded by proto/): its state and since when, openvpn's
 * own state, the tunnel address, bytes, whether intake pauses, and one row
 * a route or endpoint check. Exits 3 while the tunnel is not healthy, as
 * lag does, for scripts and probes.
 *
 * Strings come from openvpn and the checks: printed through
 * client_text_clean().
 */
#include "config.h"
#include "paiactl-int.h"

#include <stdlib.h>
#include <string.h>

#include "proto.h"


/* Bytes for people: "812 B", "3.4 MiB". */
static void
paiactl_bytes(int64_t n, char *buf, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	size_t u = 0;

	while (v >= 1024 && u + 1 < nitems(units)) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%lld B", (long long)n);
	else
		snprintf(buf, len, "%.1f %s", v, units[u]);
}

/* "2026-11-28T10:00:00.123Z (3m 2s ago)", or "-". */
static void
paiactl_when(int64_t ms, char *buf, size_t len)
{
	char at[40], ago[32];

	if (ms <= 0) {
		snprintf(buf, len, "-");
		return;
	}
	snprintf(buf, len, "%s (%s ago)", client_text_time_fmt(ms, at, sizeof at),
	    client_text_duration(util_now_ms() - ms, ago, sizeof ago));
}

static void
paiactl_vpn_print(const struct proto_vpn_view *v)
{
	static const char *const headers[] = {
		"KIND", "TARGET", "RESULT", "AGE", "LATENCY", "REASON"
	};
	struct paiactl_table t;
	char a[96], b[32], c[32];
	char *s1, *s2;
	size_t i;

	paiactl_when(v->since_ms, a, sizeof a);
	printf("%-13s %s since %s, %s\n", "state", proto_vpn_state_name(v->state), a,
	    v->healthy ? "healthy" : "NOT healthy");
	if (!v->healthy && v->down_since_ms > 0) {
		paiactl_when(v->down_since_ms, a, sizeof a);
		printf("%-13s not healthy since %s\n", "", a);
	}
	paiactl_when(v->connected_ms, a, sizeof a);
	printf("%-13s %s\n", "connected", a);
	if (v->next_try_ms > 0) {
		paiactl_when(v->next_try_ms, a, sizeof a);
		printf("%-13s next try at %s\n", "", a);
	}
	s1 = client_text_clean(v->openvpn_state != NULL ? v->openvpn_state : "");
	s2 = client_text_clean(v->openvpn_detail != NULL ? v->openvpn_detail : "");
	printf("%-13s %s%s%s, pid %lld, %s mode, %lld restarts, %lld auth failures\n", "openvpn",
	    *s1 != '\0' ? s1 : "-", *s2 != '\0' ? " " : "", s2, (long long)v->pid,
	    v->mode != NULL ? v->mode : "?", (long long)v->restarts,
	    (long long)v->auth_failures);
	free(s1);
	free(s2);
	s1 = client_text_clean(v->tun_ip != NULL && *v->tun_ip != '\0' ? v->tun_ip : "-");
	s2 = client_text_clean(v->tun_dev != NULL && *v->tun_dev != '\0' ? v->tun_dev : "-");
	printf("%-13s %s on %s\n", "tunnel", s1, s2);
	free(s1);
	free(s2);
	paiactl_bytes(v->bytes_in, b, sizeof b);
	paiactl_bytes(v->bytes_out, c, sizeof c);
	printf("%-13s in %s, out %s\n", "bytes", b, c);
	printf("%-13s %s\n", "intake", !v->pause_intake ? "goes on while the tunnel is down" :
	    v->intake_paused ? "PAUSED: the tunnel is down (vpn.pause_intake_when_down)" :
	    "pauses while the tunnel is down");
	if (v->error != NULL) {
		s1 = client_text_clean(v->error);
		paiactl_when(v->error_ms, a, sizeof a);
		printf("%-13s %s (%s)\n", "last error", s1, a);
		free(s1);
	}
	if (v->nchecks == 0) {
		printf("\nno route or endpoint checks (vpn.cidrs, vpn.endpoints)\n");
		return;
	}
	printf("\n");
	paiactl_table_init(&t, nitems(headers), headers);
	for (i = 0; i < v->nchecks; i++) {
		const struct proto_vpn_check *k = &v->checks[i];

		paiactl_table_add(&t, xstrdup(proto_vpn_kind_name(k->kind)));
		paiactl_table_add(&t, client_text_clean(k->target));
		paiactl_table_add(&t, xstrdup(proto_vpn_result_name(k->result)));
		paiactl_table_add(&t, xstrdup(k->age_ms < 0 ? "-" :
		    client_text_duration(k->age_ms, b, sizeof b)));
		if (k->latency_ms < 0)
			paiactl_table_add(&t, xstrdup("-"));
		else
			paiactl_table_addf(&t, "%lld ms", (long long)k->latency_ms);
		paiactl_table_add(&t, client_text_clean(k->reason != NULL ? k->reason : ""));
	}
	paiactl_table_print(&t, stdout);
	paiactl_table_free(&t);
}

int
paiactl_cmd_vpn(struct paiactl *ctx, const struct paiactl_args *a)
{
	struct proto_vpn_view v;
	const cJSON *j;
	cJSON *resp;
	char *cause = NULL;
	int rc, healthy;

	if ((resp = paiactl_request(ctx, "vpn", NULL, NULL, &cause)) == NULL)
		return paiactl_err_cause(cause);
	j = cJSON_GetObjectItemCaseSensitive(resp, "vpn");
	if (proto_vpn_view_decode(j, &v, &cause) != 0) {
		cJSON_Delete(resp);
		rc = paiactl_err("%s: the vpn answer: %s", ctx->loc.socket_path, cause);
		free(cause);
		return rc;
	}
	healthy = !v.enabled || v.healthy;
	if (paiactl_arg(a, "json") != NULL)
		paiactl_json_print(j);
	else if (!v.enabled)
		printf("no VPN tunnel supervised by this gateway (vpn.mode = off)\n");
	else
		paiactl_vpn_print(&v);
	proto_vpn_view_clear(&v);
	cJSON_Delete(resp);
	return healthy ? 0 : 3;
}
