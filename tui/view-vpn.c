/*
 * view-vpn.c: view 5, the tunnel to the cloud: its state and since
 * when, bytes each way, the route and endpoint checks, and the last
 * error; the vpn answer first, then the vpn events. "no VPN tunnel
 * configured" when the gateway runs without one (not an error).
 */
#include "config.h"
#include "tui.h"

#include <stdio.h>
#include <string.h>

#include "common.h"

static int
con_vpn_row(WINDOW *w, int y, int cols, const char *label, attr_t a, const char *value)
{
	con_put(w, y, 1, 12, con_attr(CON_C_HEADER), CON_LEFT, 0, label);
	con_put(w, y, 14, cols - 15, a, CON_LEFT, 0, value != NULL ? value : "-");
	return y + 1;
}

static void
con_vpn_draw(struct con *con, WINDOW *w, int rows, int cols)
{
	struct con_model *m = &con->model;
	const struct con_vpn *v = &m->vpn;
	char buf[128], a[32], b[32];
	int y = 0;

	if (con_source_note(con, w, 0, cols, CON_SRC_VPN, "the VPN's state"))
		return;
	if (!v->has || !v->enabled) {
		con_put(w, 0, 1, cols - 2, con_attr(CON_C_DIM), CON_LEFT, 0, !v->has ?
		    "(asking the gateway)" : "no VPN tunnel configured on this gateway");
		return;
	}
	y = con_vpn_row(w, y, cols, "state", con_attr(v->state == NULL ||
	    strcmp(v->state, "CONNECTED") != 0 ? CON_C_BAD : v->healthy ? CON_C_OK : CON_C_WARN),
	    v->state);
	y = con_vpn_row(w, y, cols, "healthy", con_attr(v->healthy ? CON_C_OK : CON_C_WARN),
	    v->healthy ? "yes" : "no: a check failed or the tunnel is down");
	if (v->since > 0) {
		snprintf(buf, sizeof buf, "%s ago", con_fmt_dur(con->now - v->since, a, sizeof a));
		y = con_vpn_row(w, y, cols, "since", 0, buf);
	}
	snprintf(buf, sizeof buf, "in %s, out %s", con_fmt_bytes(v->bytes_in, a, sizeof a),
	    con_fmt_bytes(v->bytes_out, b, sizeof b));
	y = con_vpn_row(w, y, cols, "traffic", 0, buf);
	y = con_vpn_row(w, y, cols, "checks", 0, v->checks);
	if (v->error != NULL)
		y = con_vpn_row(w, y, cols, "error", con_attr(CON_C_BAD), v->error);
	if (con_model_stale(m, CON_SRC_VPN, con->mono) && y + 1 < rows)
		con_put(w, y + 1, 1, cols - 2, con_attr(CON_C_WARN), CON_LEFT, 0, "(stale)");
}

static int
con_vpn_key(struct con *con, int key)
{
	return 0;
}

const struct con_view con_view_vpn = {
	CON_V_VPN, "vpn", "VPN", '5', con_vpn_draw, con_vpn_key, NULL,
	"         (no keys of its own)\n",
};
