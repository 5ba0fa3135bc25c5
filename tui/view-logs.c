/*
 * view-logs.c: view 6, a live tail of the selected task's log: it
 * follows the end as lines come, space pauses (the lines held stay on
 * screen while more arrive), arrows and pages scroll back through the
 * ring the model keeps (the last CON_LOG_LINES lines), '/' searches
 * (n older, N newer), w wraps long lines. User programs write these
 * logs: every line was cleaned by the model and is drawn through
 * con_put, so no byte of it reaches the terminal raw.
 */
#include "config.h"
#include "tui.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common.h"

/* The line number the view ends at (the newest shown). */
static uint64_t
con_logs_end(struct con *con, uint64_t *frozen)
{
	const struct con_log *l = &con->model.log;
	uint64_t end = con->ui.log_paused && *frozen > 0 ? *frozen : l->total;

	if (end > l->total)
		end = l->total;
	if (con->ui.log_scroll >= end)
		return end > 0 ? 1 : 0;
	return end - con->ui.log_scroll;
}

static uint64_t con_logs_frozen;	/* the end when paused */

static void
con_logs_draw(struct con *con, WINDOW *w, int rows, int cols)
{
	const struct con_log *l = &con->model.log;
	struct con_ui *ui = &con->ui;
	const char *line;
	char info[160];
	uint64_t end, n;
	int y, h, body = rows - 1;
	attr_t a;

	if (ui->selected[0] == '\0') {
		con_put(w, 0, 1, cols - 2, con_attr(CON_C_DIM), CON_LEFT, 0,
		    "no task selected: pick one in the tasks view (2), then l");
		return;
	}
	snprintf(info, sizeof info, "log of %s", ui->selected);
	con_put(w, 0, 1, cols - 2, con_attr(CON_C_TITLE), CON_LEFT, 1, info);
	if (con_source_note(con, w, 1, cols, CON_SRC_LOGS, "task logs"))
		return;
	end = con_logs_end(con, &con_logs_frozen);
	/* From the bottom up: the newest line shown sits on the last row. */
	y = body;
	for (n = end; n > 0 && y > 1; n--) {
		if ((line = con_log_line(l, n - 1)) == NULL)
			break;
		a = (int64_t)(n - 1) == ui->log_hit ? con_attr(CON_C_SELECT) : 0;
		if (ui->log_wrap) {
			h = con_wrap_rows(line, cols - 1);
			if (h > y - 1) {
				h = y - 1;
			}
			y -= h;
			con_put_wrap(w, y, 0, cols - 1, h, a, line);
		} else {
			y--;
			con_put(w, y, 0, cols - 1, a, CON_LEFT, 0, line);
		}
	}
	if (l->error != NULL && strcmp(l->id, ui->selected) == 0)
		con_put(w, 1, 1, cols - 2, con_attr(CON_C_BAD), CON_LEFT, 0, l->error);
	else if (l->total == 0)
		con_put(w, 1, 1, cols - 2, con_attr(CON_C_DIM), CON_LEFT, 0,
		    l->ended ? "(the log is empty)" : "(nothing yet)");
	snprintf(info, sizeof info, "%llu lines%s  %s%s%s  %s%s%s",
	    (unsigned long long)l->total, l->total > l->n ? " (older ones dropped)" : "",
	    ui->log_paused ? "PAUSED" : ui->log_scroll > 0 ? "scrolled" :
	    l->ended ? "ended" : "following", l->ended && l->end != NULL ? ": " : "",
	    l->ended && l->end != NULL ? l->end : "", ui->log_wrap ? "wrap" : "nowrap",
	    ui->log_search != NULL ? "  /" : "", ui->log_search != NULL ? ui->log_search : "");
	con_put(w, rows - 1, 1, cols - 2, con_attr(ui->log_paused ? CON_C_WARN : CON_C_DIM),
	    CON_RIGHT, 0, info);
}

/* The next line holding the search (older: up), from the hit or the view's end. */
static int
con_logs_search(struct con *con, int older)
{
	const struct con_log *l = &con->model.log;
	struct con_ui *ui = &con->ui;
	uint64_t first = l->total - l->n, n, end = con_logs_end(con, &con_logs_frozen);
	int64_t from = ui->log_hit >= 0 ? ui->log_hit : (int64_t)end;
	const char *line;

	if (ui->log_search == NULL) {
		con_message(con, 1, "no search: / to give one");
		return CON_KEY_HANDLED | CON_KEY_REDRAW;
	}
	for (n = 0; n < l->n; n++) {
		int64_t i = older ? from - 1 - (int64_t)n : from + 1 + (int64_t)n;

		if (i < (int64_t)first || i >= (int64_t)l->total)
			break;
		if ((line = con_log_line(l, (uint64_t)i)) != NULL &&
		    strcasestr(line, ui->log_search) != NULL) {
			ui->log_hit = i;
			/* Scroll so the hit is the newest line shown. */
			ui->log_scroll = (size_t)(l->total - (uint64_t)i - 1);
			return CON_KEY_HANDLED | CON_KEY_REDRAW;
		}
	}
	con_message(con, 1, "'%s' not found %s", ui->log_search, older ? "above" : "below");
	return CON_KEY_HANDLED | CON_KEY_REDRAW;
}

static void
con_logs_enter(struct con *con)
{
	if (con->ui.selected[0] == '\0')
		return;
	if (con->feed != NULL)
		feed_log(con->feed, con->ui.selected);
	else
		con_model_log_open(&con->model, con->ui.selected);
}

static int
con_logs_key(struct con *con, int key)
{
	struct con_ui *ui = &con->ui;
	const struct con_log *l = &con->model.log;
	size_t page = LINES > 8 ? (size_t)LINES - 6 : 1;

	switch (key) {
	case ' ':
	case 'p':
		ui->log_paused = !ui->log_paused;
		con_logs_frozen = l->total;
		return CON_KEY_HANDLED | CON_KEY_REDRAW;
	case 'w':
		ui->log_wrap = !ui->log_wrap;
		return CON_KEY_HANDLED | CON_KEY_REDRAW;
	case 'k':
	case CON_KEY(KEY_UP):
		if (ui->log_scroll + 1 < l->n)
			ui->log_scroll++;
		return CON_KEY_HANDLED | CON_KEY_REDRAW;
	case 'j':
	case CON_KEY(KEY_DOWN):
		if (ui->log_scroll > 0)
			ui->log_scroll--;
		return CON_KEY_HANDLED | CON_KEY_REDRAW;
	case CON_KEY(KEY_PPAGE):
		ui->log_scroll = ui->log_scroll + page < l->n ? ui->log_scroll + page :
		    (l->n > 0 ? l->n - 1 : 0);
		return CON_KEY_HANDLED | CON_KEY_REDRAW;
	case CON_KEY(KEY_NPAGE):
		ui->log_scroll = ui->log_scroll > page ? ui->log_scroll - page : 0;
		return CON_KEY_HANDLED | CON_KEY_REDRAW;
	case 'g':
	case CON_KEY(KEY_HOME):
		ui->log_scroll = l->n > 0 ? l->n - 1 : 0;
		return CON_KEY_HANDLED | CON_KEY_REDRAW;
	case 'G':
	case CON_KEY(KEY_END):
		ui->log_scroll = 0;
		ui->log_paused = 0;
		ui->log_hit = -1;
		return CON_KEY_HANDLED | CON_KEY_REDRAW;
	case '/':
		ui->prompt = CON_PROMPT_SEARCH;
		ui->len = 0;
		ui->line[0] = '\0';
		return CON_KEY_HANDLED | CON_KEY_REDRAW;
	case 'n':
		return con_logs_search(con, 1);
	case 'N':
		return con_logs_search(con, 0);
	}
	return 0;
}

const struct con_view con_view_logs = {
	CON_V_LOGS, "logs", "Logs", '6', con_logs_draw, con_logs_key, con_logs_enter,
	"space/p  pause / follow again\n"
	"up/down  scroll (j/k, PgUp/PgDn; g the oldest held, G the end)\n"
	"/        search; n the next match above, N below\n"
	"w        wrap long lines\n",
};
