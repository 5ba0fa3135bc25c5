/*
 * view-tasks.c: view 2, the tasks the gateway holds, as k9s lists pods:
 * sortable columns (s: the next column, S: reverse, :sort NAME), the
 * '/' filter (a regex over the row, and state=, status=, game= terms),
 * Enter opens the task, r and c requeue and cancel it (after a
 * confirm), l tails its log.
 *
 * The rows are kept across frames, filtered and sorted: each frame
 * patches them with the tasks the model's journal says changed (all of
 * them out in one pass, then a binary-search insertion each), and
 * rebuilds them only
 * when the filter or the order changed or the journal overflowed, so a
 * frame costs what is drawn, not the 10,000 tasks held. The selection
 * is kept by task id, so it follows its task when the order moves.
 */
#include "config.h"
#include "tui.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common.h"

enum { COL_TASK, COL_ATTEMPT, COL_GAME, COL_STATE, COL_STATUS, COL_AGE, COL_DURATION,
	COL_POS, COL_SCORE, COL_ERROR, NCOLS };

static struct con_col con_tasks_cols[NCOLS] = {
	[COL_TASK] = { "TASK", 20, CON_LEFT, 0 },
	[COL_ATTEMPT] = { "ATT", 3, CON_RIGHT, 1 },
	[COL_GAME] = { "GAME", 10, CON_LEFT, 4 },
	[COL_STATE] = { "STATE", 10, CON_LEFT, 0 },
	[COL_STATUS] = { "STATUS", 9, CON_LEFT, 1 },
	[COL_AGE] = { "AGE", 6, CON_RIGHT, 1 },
	[COL_DURATION] = { "DURATION", 8, CON_RIGHT, 2 },
	[COL_POS] = { "PART/OFFSET", 11, CON_RIGHT, 4 },
	[COL_SCORE] = { "SCORE", 6, CON_RIGHT, 4 },
	[COL_ERROR] = { "ERROR", 0, CON_LEFT, 2 },
};
static const char *const con_tasks_sort_names[NCOLS] = {
	"task", "attempt", "game", "state", "status", "age", "duration", "partition", "score",
	"error",
};

/* The order in force (qsort has no argument: the rows are sorted one view at a time). */
static int con_sort_col;
static int con_sort_rev;

static int
con_cmp_i64(int64_t a, int64_t b)
{
	return a < b ? -1 : a > b;
}

static int
con_task_cmp(const struct con_task *a, const struct con_task *b)
{
	int r = 0;

	switch (con_sort_col) {
	case COL_ATTEMPT:
		r = a->attempt - b->attempt;
		break;
	case COL_GAME:
		r = strcmp(a->game, b->game);
		break;
	case COL_STATE:
		r = (int)a->state - (int)b->state;
		break;
	case COL_STATUS:
		r = (a->has_status ? (int)a->status : -1) - (b->has_status ? (int)b->status : -1);
		break;
	case COL_AGE:
		/* Youngest first: the latest received. */
		r = -con_cmp_i64(a->timeline[TASK_RECEIVED], b->timeline[TASK_RECEIVED]);
		break;
	case COL_DURATION:
		r = con_cmp_i64(a->duration_ms, b->duration_ms);
		break;
	case COL_POS:
		r = a->partition != b->partition ? (a->partition < b->partition ? -1 : 1) :
		    con_cmp_i64(a->offset, b->offset);
		break;
	case COL_SCORE:
		r = a->has_score != b->has_score ? a->has_score - b->has_score :
		    a->score < b->score ? -1 : a->score > b->score;
		break;
	case COL_ERROR:
		r = strcmp(a->error != NULL ? a->error : "", b->error != NULL ? b->error : "");
		break;
	default:
		break;
	}
	if (r == 0)
		r = strcmp(a->id, b->id);
	return con_sort_rev ? -r : r;
}

static int
con_task_qcmp(const void *a, const void *b)
{
	return con_task_cmp(*(struct con_task *const *)a, *(struct con_task *const *)b);
}

static int
con_tasks_col(const struct con *con)
{
	return con->ui.task_sort >= 0 && con->ui.task_sort < NCOLS ? con->ui.task_sort : COL_TASK;
}

static void
con_rows_reserve(struct con *con, size_t n)
{
	if (n <= con->rows_cap)
		return;
	con->rows_cap = n + n / 2 + 64;
	con->rows = xreallocarray(con->rows, con->rows_cap, sizeof *con->rows);
}

static void
con_rows_rebuild(struct con *con)
{
	struct con_model *m = &con->model;
	struct con_filter *f = &con->ui.filter;
	struct con_task *t;
	size_t i;

	con_rows_reserve(con, m->ntasks);
	con->nrows = 0;
	for (i = 0; i < m->ntasks; i++) {
		t = m->tasks[i];
		t->match = con_filter_task(f, t);
		t->match_gen = f->gen;
		if (t->match)
			con->rows[con->nrows++] = t;
	}
	if (con->nrows > 1)
		qsort(con->rows, con->nrows, sizeof *con->rows, con_task_qcmp);
}

/* Put one changed task back where it belongs (if it still exists and matches). */
static void
con_rows_insert(struct con *con, struct con_task *t)
{
	struct con_filter *f = &con->ui.filter;
	size_t lo, hi, mid;

	if (t->gone)
		return;
	t->match = con_filter_task(f, t);
	t->match_gen = f->gen;
	if (!t->match)
		return;
	lo = 0;
	hi = con->nrows;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (con_task_cmp(con->rows[mid], t) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	con_rows_reserve(con, con->nrows + 1);
	memmove(con->rows + lo + 1, con->rows + lo, (con->nrows - lo) * sizeof *con->rows);
	con->rows[lo] = t;
	con->nrows++;
}

void
con_rows_update(struct con *con)
{
	struct con_model *m = &con->model;
	size_t i, j;

	con_sort_col = con_tasks_col(con);
	con_sort_rev = con->ui.task_reverse;
	if (!con->rows_valid || m->journal_overflow || con->rows_filter_gen != con->ui.filter.gen ||
	    con->rows_sort != con_sort_col || con->rows_reverse != con_sort_rev) {
		con_rows_rebuild(con);
		con->rows_valid = 1;
		con->rows_filter_gen = con->ui.filter.gen;
		con->rows_sort = con_sort_col;
		con->rows_reverse = con_sort_rev;
	} else if (m->njournal > 0) {
		/*
		 * The changed tasks out first: their keys moved, so the rows are
		 * sorted again only without them; then each back in its place.
		 */
		for (i = j = 0; i < con->nrows; i++)
			if (!con->rows[i]->journaled)
				con->rows[j++] = con->rows[i];
		con->nrows = j;
		for (i = 0; i < m->njournal; i++)
			con_rows_insert(con, m->journal[i]);
	}
	con_model_journal_done(m);
}

struct con_task *
con_rows_selected(struct con *con, size_t *index)
{
	struct con_ui *ui = &con->ui;
	size_t i, hint = *index;

	if (con->nrows == 0) {
		*index = 0;
		return NULL;
	}
	if (hint < con->nrows && strcmp(con->rows[hint]->id, ui->selected) == 0)
		return con->rows[hint];
	for (i = 0; i < con->nrows; i++) {
		if (strcmp(con->rows[i]->id, ui->selected) == 0) {
			*index = i;
			return con->rows[i];
		}
	}
	/* Gone or filtered out: the row where it was. */
	if (hint >= con->nrows)
		hint = con->nrows - 1;
	*index = hint;
	snprintf(ui->selected, sizeof ui->selected, "%s", con->rows[hint]->id);
	return con->rows[hint];
}

int
con_tasks_sort_by(struct con *con, const char *name)
{
	size_t i;

	for (i = 0; i < NCOLS; i++) {
		if (strncasecmp(con_tasks_sort_names[i], name, strlen(name)) == 0 ||
		    strcasecmp(con_tasks_cols[i].title, name) == 0) {
			con->ui.task_reverse = con->ui.task_sort == (int)i ? !con->ui.task_reverse : 0;
			con->ui.task_sort = (int)i;
			con->ui.gen++;
			return 0;
		}
	}
	return -1;
}

static void
con_tasks_row(struct con *con, WINDOW *w, int y, const struct con_task *t, int selected)
{
	struct con_col *c = con_tasks_cols;
	attr_t base = selected ? con_attr(CON_C_SELECT) : 0;
	char buf[64];
	int64_t age;
	int cols = getmaxx(w);

	if (selected)
		mvwhline(w, y, 0, ' ' | (chtype)base, cols);
	con_put(w, y, c[COL_TASK].x, c[COL_TASK].w, base, CON_LEFT, 0, t->id);
	if (c[COL_ATTEMPT].shown) {
		snprintf(buf, sizeof buf, "%d", t->attempt);
		con_put(w, y, c[COL_ATTEMPT].x, c[COL_ATTEMPT].w, base, CON_RIGHT, 0, buf);
	}
	if (c[COL_GAME].shown)
		con_put(w, y, c[COL_GAME].x, c[COL_GAME].w, base, CON_LEFT, 0, t->game);
	snprintf(buf, sizeof buf, "%s%s", proto_state_name(t->state), t->waiting ? "*" : "");
	con_put(w, y, c[COL_STATE].x, c[COL_STATE].w, selected ? base :
	    con_attr(con_state_color(t->state, t->has_status, t->status)), CON_LEFT, 0, buf);
	if (c[COL_STATUS].shown)
		con_put(w, y, c[COL_STATUS].x, c[COL_STATUS].w, selected ? base :
		    con_attr(t->has_status && t->status != RESULT_SUCCEEDED ? CON_C_BAD :
		    CON_C_NORMAL), CON_LEFT, 0, t->has_status ? proto_status_name(t->status) : "-");
	if (c[COL_AGE].shown) {
		age = t->timeline[TASK_RECEIVED] > 0 ? con->now - t->timeline[TASK_RECEIVED] : -1;
		con_put(w, y, c[COL_AGE].x, c[COL_AGE].w, base, CON_RIGHT, 0,
		    con_fmt_dur(age < 0 && t->timeline[TASK_RECEIVED] > 0 ? 0 : age, buf,
		    sizeof buf));
	}
	if (c[COL_DURATION].shown)
		con_put(w, y, c[COL_DURATION].x, c[COL_DURATION].w, base, CON_RIGHT, 0,
		    con_fmt_dur(t->duration_ms, buf, sizeof buf));
	if (c[COL_POS].shown) {
		if (t->partition >= 0)
			snprintf(buf, sizeof buf, "%d/%lld", (int)t->partition, (long long)t->offset);
		else
			snprintf(buf, sizeof buf, "-");
		con_put(w, y, c[COL_POS].x, c[COL_POS].w, base, CON_RIGHT, 0, buf);
	}
	if (c[COL_SCORE].shown) {
		if (t->has_score)
			snprintf(buf, sizeof buf, "%g", t->score);
		else
			snprintf(buf, sizeof buf, "-");
		con_put(w, y, c[COL_SCORE].x, c[COL_SCORE].w, base, CON_RIGHT, 0, buf);
	}
	if (c[COL_ERROR].shown && t->error != NULL) {
		snprintf(buf, sizeof buf, "%s: ", t->eclass != ERROR_NONE ?
		    proto_class_name(t->eclass) : "error");
		{
			char *e;

			xasprintf(&e, "%s%s", buf, t->error);
			con_put(w, y, c[COL_ERROR].x, c[COL_ERROR].w, selected ? base :
			    con_attr(CON_C_BAD), CON_LEFT, 0, e);
			free(e);
		}
	}
}

static void
con_tasks_draw(struct con *con, WINDOW *w, int rows, int cols)
{
	struct con_ui *ui = &con->ui;
	struct con_model *m = &con->model;
	char info[128];
	size_t i, page;
	int y;

	con_rows_update(con);
	con_cols_layout(con_tasks_cols, NCOLS, cols);
	con_cols_title(w, 0, con_tasks_cols, NCOLS, con_tasks_col(con), ui->task_reverse);
	page = rows > 2 ? (size_t)rows - 2 : 1;
	if (con->nrows == 0) {
		con_put(w, 1, 1, cols - 2, con_attr(CON_C_DIM), CON_LEFT, 0,
		    m->ntasks == 0 ? (m->src[CON_SRC_TASKS].updated == 0 ?
		    "waiting for the gateway's tasks" : "no task: the gateway holds none yet") :
		    "no task matches the filter (esc clears it)");
	} else {
		con_rows_selected(con, &ui->task_sel);
		if (ui->task_sel < ui->task_top)
			ui->task_top = ui->task_sel;
		if (ui->task_sel >= ui->task_top + page)
			ui->task_top = ui->task_sel - page + 1;
		if (ui->task_top + page > con->nrows)
			ui->task_top = con->nrows > page ? con->nrows - page : 0;
		for (i = ui->task_top, y = 1; i < con->nrows && y <= (int)page; i++, y++)
			con_tasks_row(con, w, y, con->rows[i], i == ui->task_sel);
	}
	snprintf(info, sizeof info, "%zu of %zu tasks%s", con->nrows, m->ntasks,
	    con_model_stale(m, CON_SRC_TASKS, con->mono) ? " (stale)" : "");
	con_put(w, rows - 1, 1, cols - 2, con_attr(CON_C_DIM), CON_RIGHT, 0, info);
}

static int
con_tasks_key(struct con *con, int key)
{
	struct con_ui *ui = &con->ui;
	struct con_task *t;
	int rows = LINES - CON_HEADER_ROWS - 1 - 2, flags;
	size_t sel;

	con_rows_update(con);
	sel = ui->task_sel;
	t = con_rows_selected(con, &sel);
	if ((flags = con_key_move(key, &sel, con->nrows, rows)) != 0) {
		ui->task_sel = sel;
		if (sel < con->nrows)
			snprintf(ui->selected, sizeof ui->selected, "%s", con->rows[sel]->id);
		return flags;
	}
	if (con_key_enter(key)) {
		if (t == NULL)
			return CON_KEY_HANDLED;
		con_view_show(con, &con_view_task, 1);
		return CON_KEY_HANDLED | CON_KEY_REDRAW;
	}
	switch (key) {
	case 'r':
		return con_action_ask(con, CON_ACT_REQUEUE, t != NULL ? t->id : NULL);
	case 'c':
		return con_action_ask(con, CON_ACT_CANCEL, t != NULL ? t->id : NULL);
	case 'l':
		if (t != NULL)
			con_view_show(con, &con_view_logs, 1);
		return CON_KEY_HANDLED | CON_KEY_REDRAW;
	case 's':
		ui->task_sort = (con_tasks_col(con) + 1) % NCOLS;
		ui->task_reverse = 0;
		return CON_KEY_HANDLED | CON_KEY_REDRAW;
	case 'S':
		ui->task_sort = con_tasks_col(con);
		ui->task_reverse = !ui->task_reverse;
		return CON_KEY_HANDLED | CON_KEY_REDRAW;
	}
	return 0;
}

const struct con_view con_view_tasks = {
	CON_V_TASKS, "tasks", "Tasks", '2', con_tasks_draw, con_tasks_key, NULL,
	"up/down  select (j/k, PgUp/PgDn, g/G)\n"
	"enter    open the task: its fields and timeline\n"
	"r        requeue the task (a finished one), after a confirm\n"
	"c        cancel the task (one in progress), after a confirm\n"
	"l        tail its log\n"
	"s / S    sort by the next column / reverse (or :sort age)\n"
	"/        filter: a regex, state=running, status=failed, game=catch\n",
};
