/*
 * view-task.c: one task, opened with Enter from the tasks (or pods)
 * view: its fields as the gateway's TASK answer has them, and its
 * timeline, from the offset it was read at through each state it
 * entered (fetch, launch, run, collect, upload, report) to its end,
 * each step with its clock time and how long it took (the step in
 * progress counts on). The feed asks the task again whenever one of its
 * events comes, so the view follows it; until the first answer the
 * list's copy stands in.
 */
#include "config.h"
#include "tui.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

/* "label value" at y; returns the next y. */
static int
con_task_field(WINDOW *w, int y, int cols, const char *label, attr_t a, const char *value)
{
	con_put(w, y, 1, 12, con_attr(CON_C_HEADER), CON_LEFT, 0, label);
	con_put(w, y, 14, cols - 15, a, CON_LEFT, 0, value != NULL ? value : "-");
	return y + 1;
}

static void
con_task_timeline(struct con *con, WINDOW *w, int y, int rows, int cols,
    const int64_t *tl, enum task_state cur, int32_t partition, int64_t offset)
{
	char at[32], took[32], pos[48];
	int i, next;
	int64_t d;

	if (y >= rows)
		return;
	con_put(w, y, 1, cols - 2, con_attr(CON_C_TITLE), CON_LEFT, 1,
	    " TIMELINE       AT              TOOK");
	y++;
	if (partition >= 0)
		snprintf(pos, sizeof pos, "partition %d offset %lld", (int)partition,
		    (long long)offset);
	else
		snprintf(pos, sizeof pos, "-");
	if (y < rows) {
		con_put(w, y, 2, 14, con_attr(CON_C_DIM), CON_LEFT, 0, "read at");
		con_put(w, y, 17, cols - 18, 0, CON_LEFT, 0, pos);
		y++;
	}
	for (i = 0; i < TASK_NSTATES && y < rows; i++) {
		if (tl[i] == 0)
			continue;
		/* Until the next state reached; the current one counts on. */
		for (next = i + 1; next < TASK_NSTATES && tl[next] == 0; next++)
			;
		if (next < TASK_NSTATES)
			d = tl[next] - tl[i];
		else if (i != TASK_DONE && i != TASK_FAILED && (int)cur == i)
			d = con->now - tl[i];
		else
			d = -2;
		con_put(w, y, 2, 14, con_attr(con_state_color((enum task_state)i, 0,
		    RESULT_SUCCEEDED)), CON_LEFT, 0, proto_state_name((enum task_state)i));
		con_put(w, y, 17, 14, 0, CON_LEFT, 0, con_fmt_clock(tl[i], at, sizeof at));
		if (d >= -1) {
			con_fmt_dur(d < 0 ? 0 : d, took, sizeof took);
			if (next == TASK_NSTATES)
				strncat(took, " ...", sizeof took - strlen(took) - 1);
			con_put(w, y, 33, cols - 34, 0, CON_LEFT, 0, took);
		}
		y++;
	}
}

static void
con_task_draw(struct con *con, WINDOW *w, int rows, int cols)
{
	struct con_model *m = &con->model;
	struct con_detail *d = &m->detail;
	const struct proto_task_view *v = d->has ? &d->v : NULL;
	const struct con_task *t = con_model_task(m, con->ui.selected);
	char buf[256], dur[32];
	enum task_state state;
	int has_status, y = 0;
	enum result_status status;
	size_t i;

	if (v == NULL && t == NULL) {
		con_putf(w, 0, 1, cols - 2, con_attr(d->error != NULL ? CON_C_BAD : CON_C_DIM),
		    "task %s: %s", con->ui.selected, d->error != NULL ? d->error : "asking...");
		return;
	}
	state = v != NULL ? v->state : t->state;
	has_status = v != NULL ? v->has_status : t->has_status;
	status = v != NULL ? v->status : t->status;
	snprintf(buf, sizeof buf, "Task %s  attempt %d", con->ui.selected,
	    v != NULL ? v->attempt : t->attempt);
	con_put(w, y, 1, cols / 2, con_attr(CON_C_VALUE), CON_LEFT, 0, buf);
	snprintf(buf, sizeof buf, "%s%s%s", proto_state_name(state), has_status ? " / " : "",
	    has_status ? proto_status_name(status) : "");
	con_put(w, y, cols / 2, cols / 2 - 1, con_attr(con_state_color(state, has_status, status)),
	    CON_RIGHT, 0, buf);
	y += 2;
	y = con_task_field(w, y, cols, "game", 0, v != NULL ? v->game : t->game);
	if (v != NULL && v->pid >= 0)
		snprintf(buf, sizeof buf, "%lld", (long long)v->pid);
	else
		snprintf(buf, sizeof buf, "-");
	y = con_task_field(w, y, cols, "pid", 0, buf);
	if ((v != NULL ? v->has_score : t->has_score))
		snprintf(buf, sizeof buf, "%g", v != NULL ? v->score : t->score);
	else
		snprintf(buf, sizeof buf, "-");
	y = con_task_field(w, y, cols, "score", 0, buf);
	y = con_task_field(w, y, cols, "game time", 0,
	    con_fmt_dur(v != NULL ? v->duration_ms : t->duration_ms, dur, sizeof dur));
	if ((v != NULL && v->has_error) || (v == NULL && t->has_error)) {
		enum error_class ec = v != NULL ? v->eclass : t->eclass;
		const char *msg = v != NULL ? v->error : t->error;

		snprintf(buf, sizeof buf, "%s: %s", ec != ERROR_NONE ? proto_class_name(ec) :
		    "error", msg != NULL ? msg : "");
		y = con_task_field(w, y, cols, "error", con_attr(CON_C_BAD), buf);
	}
	if (v != NULL) {
		y = con_task_field(w, y, cols, "folder", 0, v->dir);
		y = con_task_field(w, y, cols, "log", 0, v->log_url != NULL ? v->log_url :
		    v->log_path);
		y = con_task_field(w, y, cols, "video", 0, v->video_url);
		for (i = 0; i < v->ngpus && y < rows - 4; i++) {
			const struct proto_task_gpu *g = &v->gpus[i];
			char peak[32], mean[32];

			if (g->peak_mem_mib >= 0)
				snprintf(peak, sizeof peak, ", peak %.0f MiB", g->peak_mem_mib);
			else
				peak[0] = '\0';
			if (g->mean_util >= 0)
				snprintf(mean, sizeof mean, ", mean %.0f%%", g->mean_util);
			else
				mean[0] = '\0';
			snprintf(buf, sizeof buf, "%s GPU %d %s%s%s", g->node != NULL ? g->node : "?",
			    g->index, g->name != NULL ? g->name : "", peak, mean);
			y = con_task_field(w, y, cols, i == 0 ? "gpus" : "", 0, buf);
		}
		for (i = 0; i < v->nrefused && y < rows - 4; i++) {
			snprintf(buf, sizeof buf, "%s: %s", v->refused[i].name != NULL ?
			    v->refused[i].name : "?", v->refused[i].reason != NULL ?
			    v->refused[i].reason : "?");
			y = con_task_field(w, y, cols, i == 0 ? "not uploaded" : "", con_attr(CON_C_WARN),
			    buf);
		}
	} else
		y = con_task_field(w, y, cols, "", con_attr(CON_C_DIM), d->error != NULL ?
		    d->error : "asking the gateway for the rest...");
	if (d->error != NULL && v != NULL)
		y = con_task_field(w, y, cols, "", con_attr(CON_C_WARN), d->error);
	y++;
	con_task_timeline(con, w, y, rows, cols, v != NULL ? v->timeline : t->timeline, state,
	    v != NULL ? v->partition : t->partition, v != NULL ? v->offset : t->offset);
}

static void
con_task_enter(struct con *con)
{
	if (con->ui.selected[0] != '\0')
		feed_task(con->feed, con->ui.selected);
}

static int
con_task_key(struct con *con, int key)
{
	switch (key) {
	case 'r':
		return con_action_ask(con, CON_ACT_REQUEUE, con->ui.selected);
	case 'c':
		return con_action_ask(con, CON_ACT_CANCEL, con->ui.selected);
	case 'l':
		con_view_show(con, &con_view_logs, 1);
		return CON_KEY_HANDLED | CON_KEY_REDRAW;
	}
	return 0;
}

const struct con_view con_view_task = {
	CON_V_TASK, "task", "Task", 0, con_task_draw, con_task_key, con_task_enter,
	"r        requeue the task (a finished one), after a confirm\n"
	"c        cancel the task (one in progress), after a confirm\n"
	"l        tail its log\n"
	"esc      back to the list\n",
};
