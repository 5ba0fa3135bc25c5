/*
 * view-gpus.c: view 4, the GPUs of the nodes the gateway probes, as
 * nvtop shows them: a row per card with its utilisation and memory as
 * bars, temperature, power, and the task of ours holding it and its
 * pod (or how many other processes do). A node whose last probe round
 * failed keeps its last values, marked stale, their age and the reason
 * under the table; a node not heard from yet says so. Enter opens the
 * task on the selected GPU.
 */
#include "config.h"
#include "tui.h"

#include <stdio.h>
#include <string.h>

#include "common.h"

enum { COL_NODE, COL_GPU, COL_NAME, COL_UTIL, COL_MEM, COL_TEMP, COL_POWER, COL_TASK, COL_POD,
    NCOLS };

static struct con_col con_gpus_cols[NCOLS] = {
	[COL_NODE] = { "NODE", 12, CON_LEFT, 0 },
	[COL_GPU] = { "GPU", 3, CON_RIGHT, 0 },
	[COL_NAME] = { "NAME", 20, CON_LEFT, 3 },
	[COL_UTIL] = { "UTIL", 16, CON_LEFT, 0 },
	[COL_MEM] = { "MEMORY", 24, CON_LEFT, 1 },
	[COL_TEMP] = { "TEMP", 5, CON_RIGHT, 2 },
	[COL_POWER] = { "POWER", 9, CON_RIGHT, 2 },
	[COL_TASK] = { "TASK", 0, CON_LEFT, 0 },
	[COL_POD] = { "POD", 28, CON_LEFT, 4 },
};

/* The card at flat index i (over every node's cards), and its node. */
static const struct con_gpu *
con_gpus_at(const struct con_model *m, size_t i, const struct con_gpu_node **node)
{
	size_t k;

	for (k = 0; k < m->ngpu_nodes; k++) {
		if (i < m->gpu_nodes[k].ncards) {
			*node = &m->gpu_nodes[k];
			return &m->gpu_nodes[k].cards[i];
		}
		i -= m->gpu_nodes[k].ncards;
	}
	return NULL;
}

/* Memory for people: GiB with a decimal from 1 GiB of total up, MiB below. */
static void
con_gpus_mem(const struct con_gpu *g, char *buf, size_t len)
{
	if (g->mem_total >= 1024)
		snprintf(buf, len, "%.1f/%.1f GiB", (double)g->mem_used / 1024,
		    (double)g->mem_total / 1024);
	else
		snprintf(buf, len, "%lld/%lld MiB", (long long)g->mem_used, (long long)g->mem_total);
}

static void
con_gpus_row(WINDOW *w, int y, const struct con_gpu_node *n,
    const struct con_gpu *g, int first, int selected)
{
	struct con_col *c = con_gpus_cols;
	attr_t base = selected ? con_attr(CON_C_SELECT) : 0;
	char buf[160];
	int stale = n->state == PROTO_GPU_STALE;

	if (selected)
		mvwhline(w, y, 0, ' ' | (chtype)base, getmaxx(w));
	if (first)
		con_put(w, y, c[COL_NODE].x, c[COL_NODE].w, base != 0 ? base :
		    con_attr(stale ? CON_C_WARN : CON_C_VALUE), CON_LEFT, 0, n->node);
	snprintf(buf, sizeof buf, "%d", g->index);
	con_put(w, y, c[COL_GPU].x, c[COL_GPU].w, base, CON_RIGHT, 0, buf);
	if (c[COL_NAME].shown)
		con_put(w, y, c[COL_NAME].x, c[COL_NAME].w, base, CON_LEFT, 0, g->name);
	if (g->util >= 0) {
		con_bar(w, y, c[COL_UTIL].x, c[COL_UTIL].w - 5, g->util, 100);
		snprintf(buf, sizeof buf, "%d%%", g->util);
		con_put(w, y, c[COL_UTIL].x + c[COL_UTIL].w - 4, 4, base, CON_RIGHT, 0, buf);
	} else
		con_put(w, y, c[COL_UTIL].x, c[COL_UTIL].w, base != 0 ? base : con_attr(CON_C_DIM),
		    CON_LEFT, 0, "n/a");
	if (c[COL_MEM].shown) {
		if (g->mem_used >= 0 && g->mem_total > 0) {
			con_bar(w, y, c[COL_MEM].x, 10, (double)g->mem_used, (double)g->mem_total);
			con_gpus_mem(g, buf, sizeof buf);
			con_put(w, y, c[COL_MEM].x + 11, c[COL_MEM].w - 11, base, CON_LEFT, 0, buf);
		} else
			con_put(w, y, c[COL_MEM].x, c[COL_MEM].w, base != 0 ? base :
			    con_attr(CON_C_DIM), CON_LEFT, 0, "n/a");
	}
	if (c[COL_TEMP].shown) {
		if (g->temp >= 0)
			snprintf(buf, sizeof buf, "%dC", g->temp);
		else
			snprintf(buf, sizeof buf, "-");
		con_put(w, y, c[COL_TEMP].x, c[COL_TEMP].w, base != 0 ? base :
		    con_attr(g->temp >= 85 ? CON_C_BAD : g->temp >= 75 ? CON_C_WARN : CON_C_NORMAL),
		    CON_RIGHT, 0, buf);
	}
	if (c[COL_POWER].shown) {
		if (g->power >= 0 && g->power_limit > 0)
			snprintf(buf, sizeof buf, "%d/%dW", g->power, g->power_limit);
		else if (g->power >= 0)
			snprintf(buf, sizeof buf, "%dW", g->power);
		else
			snprintf(buf, sizeof buf, "-");
		con_put(w, y, c[COL_POWER].x, c[COL_POWER].w, base, CON_RIGHT, 0, buf);
	}
	if (g->task != NULL && g->others > 0)
		snprintf(buf, sizeof buf, "%s (+%d other)", g->task, g->others);
	else if (g->task != NULL)
		snprintf(buf, sizeof buf, "%s", g->task);
	else if (g->others > 0)
		snprintf(buf, sizeof buf, "%d other process%s", g->others, g->others > 1 ? "es" : "");
	else
		snprintf(buf, sizeof buf, "-");
	con_put(w, y, c[COL_TASK].x, c[COL_TASK].w, base != 0 ? base : g->task != NULL ?
	    con_attr(CON_C_VALUE) : con_attr(CON_C_DIM), CON_LEFT, 0, buf);
	if (c[COL_POD].shown)
		con_put(w, y, c[COL_POD].x, c[COL_POD].w, base != 0 ? base : con_attr(CON_C_DIM),
		    CON_LEFT, 0, g->pod != NULL ? g->pod : "-");
}

/*
 * The note under the table for node n, or 0 when it needs none: a stale
 * node, the age of the values shown and why its last round failed; a
 * node with no card yet; a process list that failed.
 */
static int
con_gpus_note(const struct con *con, const struct con_gpu_node *n, char *buf, size_t len,
    enum con_color *color)
{
	char age[32];

	*color = CON_C_WARN;
	if (n->stale != NULL || n->state == PROTO_GPU_STALE) {
		if (n->report_ms > 0)
			snprintf(buf, len, "%s: stale, values %s old: %s", n->node,
			    con_fmt_dur(con->now - n->report_ms, age, sizeof age),
			    n->stale != NULL ? n->stale : "?");
		else
			snprintf(buf, len, "%s: stale, no values yet: %s", n->node,
			    n->stale != NULL ? n->stale : "?");
		return 1;
	}
	if (n->ncards == 0) {
		*color = CON_C_DIM;
		snprintf(buf, len, "%s: %s", n->node, n->state == PROTO_GPU_PENDING ?
		    "no probe round has ended yet" : "no GPU reported");
		return 1;
	}
	if (n->apps_error != NULL) {
		snprintf(buf, len, "%s: processes unknown: %s", n->node, n->apps_error);
		return 1;
	}
	return 0;
}

static void
con_gpus_draw(struct con *con, WINDOW *w, int rows, int cols)
{
	struct con_model *m = &con->model;
	const struct con_gpu_node *n;
	enum con_color color;
	size_t k, j, flat, busy, total, top, nstale = 0;
	char buf[1024];
	int y, notes = 0, avail;

	con_cols_layout(con_gpus_cols, NCOLS, cols);
	con_cols_title(w, 0, con_gpus_cols, NCOLS, -1, 0);
	if (con_source_note(con, w, 1, cols, CON_SRC_GPUS, "GPU telemetry"))
		return;
	if (m->src[CON_SRC_GPUS].updated == 0) {
		con_put(w, 1, 1, cols - 2, con_attr(CON_C_DIM), CON_LEFT, 0, "asking...");
		return;
	}
	if (!m->gpu_enabled || m->ngpu_nodes == 0) {
		con_put(w, 1, 1, cols - 2, con_attr(CON_C_DIM), CON_LEFT, 0,
		    "not configured: this gateway probes no GPU node ([gpu] in paia-gateway.conf)");
		return;
	}
	con_model_gpu_count(m, &busy, &total);
	if (con->ui.gpu_sel >= total && total > 0)
		con->ui.gpu_sel = total - 1;
	/* The notes (up to 2 rows each) take the bottom; the cards what is left, scrolled. */
	for (k = 0; k < m->ngpu_nodes; k++) {
		if (con_gpus_note(con, &m->gpu_nodes[k], buf, sizeof buf, &color)) {
			j = (size_t)con_wrap_rows(buf, cols - 2);
			notes += j > 2 ? 2 : (int)j;
		}
		nstale += m->gpu_nodes[k].state == PROTO_GPU_STALE;
	}
	avail = rows - 3 - notes;	/* the title, a gap, the footer */
	if (avail < 3)
		avail = rows - 2;	/* the cards first: the notes get what is left */
	if (avail < 1)
		avail = 1;
	top = con->ui.gpu_sel >= (size_t)avail ? con->ui.gpu_sel - (size_t)avail + 1 : 0;
	y = 1;
	for (k = 0, flat = 0; k < m->ngpu_nodes && y <= avail; k++) {
		n = &m->gpu_nodes[k];
		for (j = 0; j < n->ncards && y <= avail; j++, flat++) {
			if (flat < top)
				continue;
			/* The node's name on its first row shown. */
			con_gpus_row(w, y++, n, &n->cards[j], j == 0 || flat == top,
			    flat == con->ui.gpu_sel);
		}
	}
	y++;
	for (k = 0; k < m->ngpu_nodes && y < rows - 1; k++) {
		if (!con_gpus_note(con, &m->gpu_nodes[k], buf, sizeof buf, &color))
			continue;
		y += con_put_wrap(w, y, 1, cols - 2, rows - 1 - y < 2 ? rows - 1 - y : 2,
		    con_attr(color), buf);
	}
	snprintf(buf, sizeof buf, "%zu of %zu GPUs busy on %zu node%s", busy, total,
	    m->ngpu_nodes, m->ngpu_nodes == 1 ? "" : "s");
	if (nstale > 0)
		snprintf(buf + strlen(buf), sizeof buf - strlen(buf), ", %zu stale", nstale);
	if (con_model_stale(m, CON_SRC_GPUS, con->mono))
		snprintf(buf + strlen(buf), sizeof buf - strlen(buf), " (no news from the gateway)");
	con_put(w, rows - 1, 1, cols - 2, con_attr(CON_C_DIM), CON_RIGHT, 0, buf);
}

static int
con_gpus_key(struct con *con, int key)
{
	struct con_model *m = &con->model;
	const struct con_gpu_node *n;
	const struct con_gpu *g;
	size_t busy, total;
	int flags;

	con_model_gpu_count(m, &busy, &total);
	if ((flags = con_key_move(key, &con->ui.gpu_sel, total, LINES - 6)) != 0)
		return flags;
	if (con_key_enter(key) && (g = con_gpus_at(m, con->ui.gpu_sel, &n)) != NULL &&
	    g->task_id != NULL) {
		snprintf(con->ui.selected, sizeof con->ui.selected, "%s", g->task_id);
		con_view_show(con, &con_view_task, 1);
		return CON_KEY_HANDLED | CON_KEY_REDRAW;
	}
	return 0;
}

const struct con_view con_view_gpus = {
	CON_V_GPUS, "gpus", "GPUs", '4', con_gpus_draw, con_gpus_key, NULL,
	"up/down  select a GPU\n"
	"enter    open the task running on it\n",
};
