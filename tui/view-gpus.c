/*
 * view-gpus.c: view 4, the GPUs of the nodes as nvtop shows them: per
 * GPU its utilisation and memory as bars, temperature, power and the
 * task it runs; a node whose probe failed keeps its last values,
 * marked stale with the reason. Enter opens the task on the GPU.
 */
#include "config.h"
#include "tui.h"

#include <stdio.h>
#include <string.h>

#include "common.h"

enum { COL_NODE, COL_GPU, COL_NAME, COL_UTIL, COL_MEM, COL_TEMP, COL_POWER, COL_TASK, NCOLS };

static struct con_col con_gpus_cols[NCOLS] = {
	[COL_NODE] = { "NODE", 12, CON_LEFT, 0 },
	[COL_GPU] = { "GPU", 3, CON_RIGHT, 0 },
	[COL_NAME] = { "NAME", 16, CON_LEFT, 3 },
	[COL_UTIL] = { "UTIL", 16, CON_LEFT, 0 },
	[COL_MEM] = { "MEMORY", 22, CON_LEFT, 1 },
	[COL_TEMP] = { "TEMP", 5, CON_RIGHT, 2 },
	[COL_POWER] = { "POWER", 6, CON_RIGHT, 2 },
	[COL_TASK] = { "TASK", 0, CON_LEFT, 0 },
};

static void
con_gpus_draw(struct con *con, WINDOW *w, int rows, int cols)
{
	struct con_model *m = &con->model;
	struct con_col *c = con_gpus_cols;
	const struct con_gpu *g;
	attr_t base;
	char buf[64];
	size_t i;
	int y;

	con_cols_layout(c, NCOLS, cols);
	con_cols_title(w, 0, c, NCOLS, -1, 0);
	if (con_source_note(con, w, 1, cols, CON_SRC_GPUS, "GPU telemetry"))
		return;
	if (m->ngpus == 0) {
		con_put(w, 1, 1, cols - 2, con_attr(CON_C_DIM), CON_LEFT, 0, "no GPU reported");
		return;
	}
	if (con->ui.gpu_sel >= m->ngpus)
		con->ui.gpu_sel = m->ngpus - 1;
	for (i = 0, y = 1; i < m->ngpus && y < rows - 1; i++, y++) {
		g = &m->gpus[i];
		base = i == con->ui.gpu_sel ? con_attr(CON_C_SELECT) : 0;
		if (base != 0)
			mvwhline(w, y, 0, ' ' | (chtype)base, cols);
		con_put(w, y, c[COL_NODE].x, c[COL_NODE].w, g->stale != NULL ? con_attr(CON_C_WARN) :
		    base, CON_LEFT, 0, g->node);
		snprintf(buf, sizeof buf, "%d", g->index);
		con_put(w, y, c[COL_GPU].x, c[COL_GPU].w, base, CON_RIGHT, 0, buf);
		if (c[COL_NAME].shown)
			con_put(w, y, c[COL_NAME].x, c[COL_NAME].w, base, CON_LEFT, 0, g->name);
		if (g->util >= 0) {
			con_bar(w, y, c[COL_UTIL].x, c[COL_UTIL].w - 5, g->util, 100);
			snprintf(buf, sizeof buf, "%3d%%", g->util);
			con_put(w, y, c[COL_UTIL].x + c[COL_UTIL].w - 4, 4, base, CON_RIGHT, 0, buf);
		} else
			con_put(w, y, c[COL_UTIL].x, c[COL_UTIL].w, con_attr(CON_C_DIM), CON_LEFT, 0, "-");
		if (c[COL_MEM].shown) {
			con_bar(w, y, c[COL_MEM].x, 10, (double)g->mem_used, (double)g->mem_total);
			snprintf(buf, sizeof buf, "%lld/%lldM", (long long)g->mem_used,
			    (long long)g->mem_total);
			con_put(w, y, c[COL_MEM].x + 11, c[COL_MEM].w - 11, base, CON_LEFT, 0, buf);
		}
		if (c[COL_TEMP].shown) {
			snprintf(buf, sizeof buf, g->temp >= 0 ? "%dC" : "-", g->temp);
			con_put(w, y, c[COL_TEMP].x, c[COL_TEMP].w, con_attr(g->temp >= 85 ? CON_C_BAD :
			    CON_C_NORMAL), CON_RIGHT, 0, buf);
		}
		if (c[COL_POWER].shown) {
			snprintf(buf, sizeof buf, g->power >= 0 ? "%dW" : "-", g->power);
			con_put(w, y, c[COL_POWER].x, c[COL_POWER].w, base, CON_RIGHT, 0, buf);
		}
		con_put(w, y, c[COL_TASK].x, c[COL_TASK].w, g->stale != NULL ? con_attr(CON_C_WARN) :
		    base, CON_LEFT, 0, g->stale != NULL ? g->stale : g->task != NULL ? g->task : "-");
	}
}

static int
con_gpus_key(struct con *con, int key)
{
	struct con_model *m = &con->model;
	int flags;

	if ((flags = con_key_move(key, &con->ui.gpu_sel, m->ngpus, LINES - 6)) != 0)
		return flags;
	if (con_key_enter(key) && con->ui.gpu_sel < m->ngpus &&
	    m->gpus[con->ui.gpu_sel].task != NULL) {
		snprintf(con->ui.selected, sizeof con->ui.selected, "%s",
		    m->gpus[con->ui.gpu_sel].task);
		con_view_show(con, &con_view_task, 1);
		return CON_KEY_HANDLED | CON_KEY_REDRAW;
	}
	return 0;
}

const struct con_view con_view_gpus = {
	CON_V_GPUS, "gpus", "GPUs", '4', con_gpus_draw, con_gpus_key, NULL,
	"up/down  select\n"
	"enter    open the task running on the GPU\n",
};
