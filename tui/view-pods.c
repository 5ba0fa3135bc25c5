/*
 * view-pods.c: view 3, the game pods as kubectl lists them: NAME, the
 * task and attempt, READY, STATUS in kubectl's words and colours
 * (Running, ContainerCreating, CrashLoopBackOff, OOMKilled, Completed),
 * RESTARTS, NODE, AGE. Enter opens the pod's task. A gateway whose
 * runner is local has no pods and the view says so.
 */
#include "config.h"
#include "tui.h"

#include <stdio.h>
#include <string.h>

#include "common.h"

enum { COL_NAME, COL_TASK, COL_ATT, COL_READY, COL_STATUS, COL_RESTARTS, COL_NODE, COL_AGE,
	NCOLS };

static struct con_col con_pods_cols[NCOLS] = {
	[COL_NAME] = { "NAME", 0, CON_LEFT, 0 },
	[COL_TASK] = { "TASK", 18, CON_LEFT, 1 },
	[COL_ATT] = { "ATT", 3, CON_RIGHT, 2 },
	[COL_READY] = { "READY", 5, CON_LEFT, 1 },
	[COL_STATUS] = { "STATUS", 18, CON_LEFT, 0 },
	[COL_RESTARTS] = { "RESTARTS", 8, CON_RIGHT, 1 },
	[COL_NODE] = { "NODE", 14, CON_LEFT, 2 },
	[COL_AGE] = { "AGE", 6, CON_RIGHT, 0 },
};

/* kubectl's STATUS in k9s' colours. */
static enum con_color
con_pod_color(const char *status)
{
	static const char *const ok[] = { "Running" };
	static const char *const done[] = { "Completed", "Succeeded" };
	static const char *const wait[] = { "Pending", "ContainerCreating", "PodInitializing",
		"Terminating", "Init:" };
	size_t i;

	if (status == NULL)
		return CON_C_DIM;
	for (i = 0; i < nitems(ok); i++)
		if (strcmp(status, ok[i]) == 0)
			return CON_C_OK;
	for (i = 0; i < nitems(done); i++)
		if (strcmp(status, done[i]) == 0)
			return CON_C_DIM;
	for (i = 0; i < nitems(wait); i++)
		if (strncmp(status, wait[i], strlen(wait[i])) == 0)
			return CON_C_WARN;
	return CON_C_BAD;	/* Error, CrashLoopBackOff, OOMKilled, ImagePullBackOff, ... */
}

static void
con_pods_draw(struct con *con, WINDOW *w, int rows, int cols)
{
	struct con_model *m = &con->model;
	struct con_col *c = con_pods_cols;
	struct con_ui *ui = &con->ui;
	const struct con_pod *p;
	attr_t base;
	char buf[128];
	size_t i, top = 0, page = rows > 2 ? (size_t)rows - 2 : 1;
	int y;

	con_model_pods_pack(m);
	con_cols_layout(c, NCOLS, cols);
	con_cols_title(w, 0, c, NCOLS, -1, 0);
	if (con_source_note(con, w, 1, cols, CON_SRC_PODS, "pods"))
		return;
	if (m->pods_runner != NULL && strcmp(m->pods_runner, "k8s") != 0) {
		snprintf(buf, sizeof buf, "runner is %s: games run as processes, not pods",
		    m->pods_runner);
		con_put(w, 1, 1, cols - 2, con_attr(CON_C_DIM), CON_LEFT, 0, buf);
		return;
	}
	if (m->npods == 0) {
		con_put(w, 1, 1, cols - 2, con_attr(CON_C_DIM), CON_LEFT, 0,
		    m->pods_runner == NULL ? "(asking the gateway)" : !m->pods_synced ?
		    "no game pod yet (the gateway has not listed the pods yet)" : "no game pod");
		return;
	}
	if (ui->pod_sel >= m->npods)
		ui->pod_sel = m->npods - 1;
	if (ui->pod_sel >= page)
		top = ui->pod_sel - page + 1;
	for (i = top, y = 1; i < m->npods && y <= (int)page; i++, y++) {
		p = m->pods[i];
		base = i == ui->pod_sel ? con_attr(CON_C_SELECT) : 0;
		if (base != 0)
			mvwhline(w, y, 0, ' ' | (chtype)base, cols);
		con_put(w, y, c[COL_NAME].x, c[COL_NAME].w, base, CON_LEFT, 0, p->name);
		if (c[COL_TASK].shown)
			con_put(w, y, c[COL_TASK].x, c[COL_TASK].w, base, CON_LEFT, 0, p->task);
		if (c[COL_ATT].shown) {
			snprintf(buf, sizeof buf, "%d", p->attempt);
			con_put(w, y, c[COL_ATT].x, c[COL_ATT].w, base, CON_RIGHT, 0, buf);
		}
		if (c[COL_READY].shown)
			con_put(w, y, c[COL_READY].x, c[COL_READY].w, base, CON_LEFT, 0, p->ready);
		con_put(w, y, c[COL_STATUS].x, c[COL_STATUS].w, base != 0 ? base :
		    con_attr(con_pod_color(p->status)), CON_LEFT, 0, p->status);
		if (c[COL_RESTARTS].shown) {
			snprintf(buf, sizeof buf, "%d", p->restarts);
			con_put(w, y, c[COL_RESTARTS].x, c[COL_RESTARTS].w, base != 0 ? base :
			    con_attr(p->restarts > 0 ? CON_C_WARN : CON_C_NORMAL), CON_RIGHT, 0, buf);
		}
		if (c[COL_NODE].shown)
			con_put(w, y, c[COL_NODE].x, c[COL_NODE].w, base, CON_LEFT, 0, p->node);
		con_put(w, y, c[COL_AGE].x, c[COL_AGE].w, base, CON_RIGHT, 0,
		    con_fmt_dur(p->created > 0 ? con->now - p->created : -1, buf, sizeof buf));
	}
	if (m->pods_cut > 0)
		snprintf(buf, sizeof buf, "%zu pods shown; more not (the console keeps %d)%s",
		    m->npods, CON_PODS_MAX,
		    con_model_stale(m, CON_SRC_PODS, con->mono) ? " (stale)" : "");
	else
		snprintf(buf, sizeof buf, "%zu pods%s", m->npods,
		    con_model_stale(m, CON_SRC_PODS, con->mono) ? " (stale)" : "");
	con_put(w, rows - 1, 1, cols - 2, con_attr(CON_C_DIM), CON_RIGHT, 0, buf);
}

static int
con_pods_key(struct con *con, int key)
{
	struct con_model *m = &con->model;
	int flags;

	con_model_pods_pack(m);
	if ((flags = con_key_move(key, &con->ui.pod_sel, m->npods, LINES - 6)) != 0)
		return flags;
	if (con_key_enter(key) && con->ui.pod_sel < m->npods &&
	    m->pods[con->ui.pod_sel]->task != NULL) {
		snprintf(con->ui.selected, sizeof con->ui.selected, "%s",
		    m->pods[con->ui.pod_sel]->task);
		con_view_show(con, &con_view_task, 1);
		return CON_KEY_HANDLED | CON_KEY_REDRAW;
	}
	return 0;
}

const struct con_view con_view_pods = {
	CON_V_PODS, "pods", "Pods", '3', con_pods_draw, con_pods_key, NULL,
	"up/down  select (j/k, PgUp/PgDn, g/G)\n"
	"enter    open the pod's task\n",
};
