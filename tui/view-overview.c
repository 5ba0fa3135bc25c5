/*
 * view-overview.c: view 1, whether tasks flow. Lag per partition with
 * Burrow's status and a sparkline of the last two minutes, results per
 * minute and by status, transactions, dead letters, the intake's
 * slots, and the health verdict with its reason in full.
 */
#include "config.h"
#include "tui.h"

#include <stdio.h>
#include <string.h>

#include "common.h"

static struct con_col con_ov_cols[] = {
	{ "PARTITION", 9, CON_RIGHT, 0 },
	{ "COMMITTED", 10, CON_RIGHT, 0 },
	{ "LOG END", 10, CON_RIGHT, 0 },
	{ "LAG", 8, CON_RIGHT, 0 },
	{ "PENDING", 7, CON_RIGHT, 2 },
	{ "STATUS", 6, CON_LEFT, 0 },
	{ "PAUSED", 6, CON_LEFT, 3 },
	{ "LAG OVER TIME", 0, CON_LEFT, 1 },
};
#define NCOLS nitems(con_ov_cols)

/* "label  value" pairs on one row from x. */
static int
con_ov_pair(WINDOW *w, int y, int x, int cols, const char *label, enum con_color c,
    const char *value)
{
	if (x >= cols)
		return x;
	x += con_put(w, y, x, cols - x, con_attr(CON_C_HEADER), CON_LEFT, 0, label);
	x += 1;
	x += con_put(w, y, x, cols - x, con_attr(c), CON_LEFT, 0, value);
	return x + 2;
}

static void
con_ov_num(char *buf, size_t len, int64_t v)
{
	if (v < 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%lld", (long long)v);
}

/* The reason, word-wrapped over at most max rows; returns the rows used. */
static int
con_ov_wrap(WINDOW *w, int y, int x, int width, int max, attr_t a, const char *text)
{
	char line[512];
	const char *p = text, *brk;
	int rows = 0;
	size_t n;

	while (*p != '\0' && rows < max && width > 8) {
		while (*p == ' ')
			p++;
		n = strlen(p);
		if ((int)n > width) {
			/* Break at the last space that fits (bytes: close enough for a reason). */
			for (brk = p + width; brk > p && *brk != ' '; brk--)
				;
			n = brk > p ? (size_t)(brk - p) : (size_t)width;
		}
		if (n >= sizeof line)
			n = sizeof line - 1;
		memcpy(line, p, n);
		line[n] = '\0';
		con_put(w, y + rows, x, width, a, CON_LEFT, 0, line);
		p += n;
		rows++;
	}
	return rows;
}

static void
con_ov_draw(struct con *con, WINDOW *w, int rows, int cols)
{
	struct con_model *m = &con->model;
	struct con_status *s = &m->status;
	struct con_col *c = con_ov_cols;
	struct con_part *p;
	char a[32], b[32], d[32];
	int y = 0, x, stale, maxparts, i, left;
	double rate;
	size_t k;

	con_cols_layout(c, NCOLS, cols);
	con_cols_title(w, y++, c, NCOLS, -1, 0);
	stale = con_model_stale(m, CON_SRC_STATUS, con->mono);
	/* Leave room for the summary below. */
	maxparts = rows - 9;
	if (maxparts < 1)
		maxparts = 1;
	if (m->nparts == 0)
		con_put(w, y++, 1, cols - 2, con_attr(CON_C_DIM), CON_LEFT, 0,
		    s->has ? "no partition assigned to this gateway yet" :
		    "waiting for the gateway's status");
	for (k = 0; k < m->nparts && (int)k < maxparts; k++, y++) {
		p = &m->parts[k];
		if ((int)k == maxparts - 1 && m->nparts > (size_t)maxparts) {
			con_putf(w, y, 1, cols - 2, con_attr(CON_C_DIM), "... and %zu more partitions",
			    m->nparts - k);
			y++;
			break;
		}
		con_putf(w, y, c[0].x, c[0].w, 0, "%*d", c[0].w, (int)p->partition);
		con_ov_num(a, sizeof a, p->committed);
		con_put(w, y, c[1].x, c[1].w, 0, CON_RIGHT, 0, a);
		con_ov_num(a, sizeof a, p->high);
		con_put(w, y, c[2].x, c[2].w, 0, CON_RIGHT, 0, a);
		con_ov_num(a, sizeof a, p->lag);
		con_put(w, y, c[3].x, c[3].w, con_attr(p->lag > 0 ? CON_C_WARN : CON_C_NORMAL),
		    CON_RIGHT, 0, a);
		if (c[4].shown) {
			con_ov_num(a, sizeof a, p->pending);
			con_put(w, y, c[4].x, c[4].w, 0, CON_RIGHT, 0, a);
		}
		if (p->has_health)
			con_put(w, y, c[5].x, c[5].w, con_attr(con_health_color(p->health)), CON_LEFT,
			    0, proto_health_name(p->health));
		else
			con_put(w, y, c[5].x, c[5].w, con_attr(CON_C_DIM), CON_LEFT, 0, "-");
		if (c[6].shown)
			con_put(w, y, c[6].x, c[6].w, con_attr(p->paused ? CON_C_WARN : CON_C_DIM),
			    CON_LEFT, 0, p->paused ? "paused" : "no");
		if (c[7].shown)
			con_spark(w, y, c[7].x, c[7].w, con_attr(stale ? CON_C_DIM : CON_C_OK),
			    &p->series);
	}
	y++;

	/* Results */
	x = 1;
	rate = con_model_rate(m);
	con_fmt_rate(rate, a, sizeof a);
	x = con_ov_pair(w, y, x, cols, "results/min", CON_C_VALUE, a);
	for (i = 0; i < RESULT_NSTATUSES; i++) {
		snprintf(b, sizeof b, "%lld", (long long)s->totals[i]);
		x = con_ov_pair(w, y, x, cols, proto_status_name((enum result_status)i),
		    s->totals[i] > 0 && i != RESULT_SUCCEEDED ? CON_C_WARN : CON_C_VALUE, b);
	}
	y++;
	/* Transactions and dead letters */
	x = 1;
	snprintf(a, sizeof a, "%lld", (long long)s->tx_committed);
	x = con_ov_pair(w, y, x, cols, "transactions committed", CON_C_VALUE, a);
	snprintf(a, sizeof a, "%lld", (long long)s->tx_aborted);
	x = con_ov_pair(w, y, x, cols, "aborted", s->tx_aborted > 0 ? CON_C_WARN : CON_C_VALUE, a);
	snprintf(a, sizeof a, "%lld", (long long)s->dlq);
	x = con_ov_pair(w, y, x, cols, "dead letters", s->dlq > 0 ? CON_C_WARN : CON_C_VALUE, a);
	snprintf(a, sizeof a, "%lld", (long long)s->skipped_done);
	con_ov_pair(w, y, x, cols, "skipped (done before)", CON_C_VALUE, a);
	y++;
	/* Intake */
	x = 1;
	snprintf(a, sizeof a, "%lld/%lld", (long long)s->inflight, (long long)s->max_inflight);
	x = con_ov_pair(w, y, x, cols, "in flight", CON_C_VALUE, a);
	snprintf(a, sizeof a, "%lld", (long long)s->backlog);
	x = con_ov_pair(w, y, x, cols, "waiting", s->backlog > 0 ? CON_C_WARN : CON_C_VALUE, a);
	snprintf(a, sizeof a, "%lld", (long long)s->reporting);
	x = con_ov_pair(w, y, x, cols, "reporting", CON_C_VALUE, a);
	x = con_ov_pair(w, y, x, cols, "intake", s->paused ? CON_C_WARN : CON_C_OK,
	    s->draining ? "draining" : s->paused ? "paused" : "open");
	if (m->bad_lines > 0) {
		snprintf(d, sizeof d, "%llu", (unsigned long long)m->bad_lines);
		con_ov_pair(w, y, x, cols, "unreadable lines", CON_C_BAD, d);
	}
	y += 2;
	/* Health */
	x = con_put(w, y, 1, 7, con_attr(CON_C_HEADER), CON_LEFT, 0, "health") + 2;
	if (m->healthy < 0) {
		con_put(w, y, x, cols - x, con_attr(CON_C_DIM), CON_LEFT, 0,
		    m->src[CON_SRC_LAG].error != NULL ? m->src[CON_SRC_LAG].error :
		    "not known yet");
		return;
	}
	x += con_put(w, y, x, cols - x, con_attr(m->healthy ? CON_C_OK : CON_C_BAD), CON_LEFT, 0,
	    m->healthy ? "healthy" : "UNHEALTHY") + 2;
	if (con_model_stale(m, CON_SRC_LAG, con->mono))
		con_put(w, y, x, cols - x, con_attr(CON_C_DIM), CON_LEFT, 0, "(stale)");
	left = rows - y - 1;
	if (m->health_why != NULL && left > 0)
		con_ov_wrap(w, y + 1, 3, cols - 4, left, con_attr(m->healthy ? CON_C_NORMAL :
		    CON_C_BAD), m->health_why);
}

static int
con_ov_key(struct con *con, int key)
{
	return 0;
}

const struct con_view con_view_overview = {
	CON_V_OVERVIEW, "overview", "Overview", '1', con_ov_draw, con_ov_key, NULL,
	"         (no keys of its own)\n",
};
