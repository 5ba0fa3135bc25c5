/*
 * header.c: what every screen shows around its view, from the model
 * and the UI state only. The header answers at a glance whether tasks
 * flow: which gateway (instance, version, uptime), how it is reached
 * (local or ssh, and how stale), the VPN, the GPUs busy, the group lag
 * with Burrow's status and the health verdict, the tasks by state, the
 * results per minute; then the tab bar of views. The status line at the
 * bottom holds the prompt, the last message, or the keys.
 *
 * A line too long for the screen drops its least useful segments first
 * (zero counts), never the connection or the health.
 */
#include "config.h"
#include "tui.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define CON_MESSAGE_MS 8000	/* a message stays this long */
#define CON_SEGS_MAX 24

/* One piece of a header line, in its colour. */
struct con_seg {
	char text[96];
	enum con_color color;
	int drop;	/* may go when the line is too long (higher goes first) */
	int sep;	/* a separator before it */
};

struct con_line {
	struct con_seg seg[CON_SEGS_MAX];
	size_t n;
};

static struct con_seg *
con_seg_add(struct con_line *l, enum con_color c, int drop, int sep, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static struct con_seg *
con_seg_add(struct con_line *l, enum con_color c, int drop, int sep, const char *fmt, ...)
{
	struct con_seg *s;
	va_list ap;

	if (l->n == CON_SEGS_MAX)
		return NULL;
	s = &l->seg[l->n++];
	va_start(ap, fmt);
	vsnprintf(s->text, sizeof s->text, fmt, ap);
	va_end(ap);
	s->color = c;
	s->drop = drop;
	s->sep = sep;
	return s;
}

/* Width of the line with segments of drop level below limit. */
static int
con_line_width(const struct con_line *l, int limit)
{
	size_t i;
	int w = 1, first = 1;

	for (i = 0; i < l->n; i++) {
		if (l->seg[i].drop >= limit)
			continue;
		if (!first)
			w += l->seg[i].sep ? 3 : 1;
		w += con_width(l->seg[i].text);
		first = 0;
	}
	return w;
}

static void
con_line_draw(WINDOW *w, int y, int cols, const struct con_line *l)
{
	size_t i;
	int limit = 10, x = 1, first = 1;

	while (limit > 1 && con_line_width(l, limit) > cols)
		limit--;
	for (i = 0; i < l->n && x < cols; i++) {
		if (l->seg[i].drop >= limit)
			continue;
		if (!first) {
			if (l->seg[i].sep) {
				x += 1;
				x += con_put(w, y, x, 1, con_attr(CON_C_DIM), CON_LEFT, 0,
				    con_glyph(CON_G_VLINE));
				x += 1;
			} else
				x += 1;
		}
		x += con_put(w, y, x, cols - x, con_attr(l->seg[i].color), CON_LEFT, 0,
		    l->seg[i].text);
		first = 0;
	}
}

/* The connection: how the gateway is reached, and how fresh what we show is. */
static void
con_header_link(struct con *con, struct con_line *l)
{
	struct con_model *m = &con->model;
	char dur[16];
	int64_t age;

	if (m->refusal != NULL) {
		con_seg_add(l, CON_C_BAD, 0, 1, "%s: %s", feed_name(con->feed), m->refusal);
		return;
	}
	switch (m->link) {
	case CON_LINK_CONNECTING:
		con_seg_add(l, CON_C_WARN, 0, 1, "%s connecting", feed_name(con->feed));
		break;
	case CON_LINK_DOWN:
	case CON_LINK_CLOSED:
		con_seg_add(l, CON_C_BAD, 0, 1, "%s disconnected, retrying (%s)",
		    feed_name(con->feed), con_fmt_dur(con->mono - m->link_since, dur, sizeof dur));
		break;
	case CON_LINK_UP:
		if (con_model_stale(m, CON_SRC_STATUS, con->mono) && m->src[CON_SRC_STATUS].updated) {
			age = con->mono - m->src[CON_SRC_STATUS].updated;
			con_seg_add(l, CON_C_WARN, 0, 1, "%s stale %s", feed_name(con->feed),
			    con_fmt_dur(age, dur, sizeof dur));
		} else
			con_seg_add(l, CON_C_OK, 0, 1, "%s", feed_name(con->feed));
		break;
	}
}

static void
con_header_vpn_gpus(struct con *con, struct con_line *l)
{
	struct con_model *m = &con->model;
	size_t busy, total;

	if (m->src[CON_SRC_VPN].offer != CON_OFFER_YES)
		con_seg_add(l, CON_C_DIM, 2, 1, "vpn n/a");
	else if (!m->vpn.has)
		con_seg_add(l, CON_C_DIM, 2, 1, "vpn ?");
	else if (!m->vpn.enabled)
		con_seg_add(l, CON_C_DIM, 2, 1, "vpn off");
	else
		con_seg_add(l, m->vpn.state == NULL || strcmp(m->vpn.state, "CONNECTED") != 0 ?
		    CON_C_BAD : m->vpn.healthy ? CON_C_OK : CON_C_WARN, 2, 1, "vpn %s",
		    m->vpn.state != NULL ? m->vpn.state : "?");
	con_model_gpu_count(m, &busy, &total);
	if (m->src[CON_SRC_GPUS].offer != CON_OFFER_YES || !m->gpu_enabled)
		con_seg_add(l, CON_C_DIM, 2, 1, "gpus n/a");
	else
		con_seg_add(l, con_model_stale(m, CON_SRC_GPUS, con->mono) ? CON_C_WARN :
		    CON_C_VALUE, 2, 1, "gpus %zu/%zu busy", busy, total);
}

void
con_header_draw(struct con *con, WINDOW *w, int cols)
{
	static const char *const abbrev[TASK_NSTATES] = {
		[TASK_RECEIVED] = "recv", [TASK_FETCHING] = "fetch", [TASK_LAUNCHING] = "launch",
		[TASK_RUNNING] = "run", [TASK_COLLECTING] = "collect", [TASK_UPLOADING] = "upload",
		[TASK_UPLOAD_WAIT] = "upwait", [TASK_REPORTING] = "report", [TASK_DONE] = "done",
		[TASK_FAILED] = "failed"
	};
	struct con_model *m = &con->model;
	struct con_status *s = &m->status;
	struct con_line l;
	enum health_status worst;
	char dur[16];
	int64_t lag;
	double rate;
	size_t i;
	int x;

	/* Line 1: the gateway, the link, vpn, gpus, health. */
	memset(&l, 0, sizeof l);
	if (s->has) {
		con_seg_add(&l, CON_C_VALUE, 0, 0, "%s", s->instance);
		con_seg_add(&l, CON_C_HEADER, 3, 0, "paia %s%s", s->version,
		    s->embedded ? " embedded" : "");
		con_seg_add(&l, CON_C_HEADER, 1, 0, "up %s",
		    con_fmt_dur(con_model_uptime(m, con->mono) * 1000, dur, sizeof dur));
	} else
		con_seg_add(&l, CON_C_DIM, 0, 0, "paia-console");
	con_header_link(con, &l);
	con_header_vpn_gpus(con, &l);
	if (m->healthy < 0)
		con_seg_add(&l, CON_C_DIM, 0, 1, "health ?");
	else
		con_seg_add(&l, m->healthy ? CON_C_OK : CON_C_BAD, 0, 1, "%s",
		    m->healthy ? "healthy" : "UNHEALTHY");
	con_line_draw(w, 0, cols, &l);

	/* Line 2: lag, tasks by state, results. */
	memset(&l, 0, sizeof l);
	lag = con_model_lag_total(m, &worst);
	if (m->nparts == 0 && !s->has)
		con_seg_add(&l, CON_C_DIM, 0, 0, "lag ?");
	else {
		con_seg_add(&l, CON_C_HEADER, 0, 0, "lag");
		con_seg_add(&l, lag > 0 ? CON_C_WARN : CON_C_VALUE, 0, 0, "%lld", (long long)lag);
		if (m->src[CON_SRC_LAG].updated != 0)
			con_seg_add(&l, con_health_color(worst), 0, 0, "%s",
			    proto_health_name(worst));
	}
	con_seg_add(&l, CON_C_HEADER, 0, 1, "tasks");
	con_seg_add(&l, CON_C_VALUE, 0, 0, "active %lld", (long long)con_model_active(m));
	for (i = 0; i < TASK_NSTATES; i++) {
		/*
		 * When the line is long, zero counts of states in progress go
		 * first, then the others but running ("active" sums them).
		 */
		int drop = i >= TASK_DONE || (i == TASK_RUNNING && s->states[i] > 0) ? 0 :
		    s->states[i] == 0 ? 4 : 3;

		con_seg_add(&l, con_state_color((enum task_state)i, 0, RESULT_SUCCEEDED), drop,
		    i == TASK_DONE, "%s %lld", abbrev[i], (long long)s->states[i]);
	}
	if (s->backlog > 0)
		con_seg_add(&l, CON_C_WARN, 1, 0, "(%lld waiting)", (long long)s->backlog);
	rate = con_model_rate(m);
	con_seg_add(&l, rate >= 0 ? CON_C_VALUE : CON_C_DIM, 2, 1, "%s/min",
	    con_fmt_rate(rate, dur, sizeof dur));
	con_line_draw(w, 1, cols, &l);

	/* Line 3: the views. */
	x = 1;
	{
		static const struct con_view *const tabs[] = {
			&con_view_overview, &con_view_tasks, &con_view_pods, &con_view_gpus,
			&con_view_vpn, &con_view_logs, &con_view_videos,
		};
		char t[96];
		const struct con_view *cur = con->ui.view == &con_view_task ? &con_view_tasks :
		    con->ui.view;

		for (i = 0; i < nitems(tabs) && x < cols; i++) {
			snprintf(t, sizeof t, " %d %s ", tabs[i]->key - '0', tabs[i]->name);
			x += con_put(w, 2, x, cols - x, con_attr(tabs[i] == cur ? CON_C_TAB :
			    CON_C_HEADER), CON_LEFT, 0, t);
		}
		if (con->ui.view == &con_view_task && x + 4 < cols) {
			snprintf(t, sizeof t, "%s %s", con_glyph(CON_G_ARROW), con->ui.selected);
			x += 1 + con_put(w, 2, x + 1, cols - x - 1, con_attr(CON_C_VALUE), CON_LEFT, 0,
			    t);
		}
		if (con->o.readonly && x + 10 < cols)
			con_put(w, 2, cols - 10, 10, con_attr(CON_C_WARN), CON_RIGHT, 0, "read-only");
	}
}

void
con_status_draw(struct con *con, WINDOW *w, int cols)
{
	struct con_ui *ui = &con->ui;
	char q[160];
	const char *hint;
	int x;

	switch (ui->prompt) {
	case CON_PROMPT_CMD:
	case CON_PROMPT_FILTER:
	case CON_PROMPT_SEARCH:
		x = con_put(w, 0, 0, 1, con_attr(CON_C_PROMPT), CON_LEFT, 0,
		    ui->prompt == CON_PROMPT_CMD ? ":" : "/");
		x += con_put(w, 0, x, cols - x - 1, con_attr(CON_C_NORMAL), CON_LEFT, 0, ui->line);
		con_put(w, 0, x, 1, A_REVERSE, CON_LEFT, 1, " ");
		return;
	case CON_PROMPT_CONFIRM:
		snprintf(q, sizeof q, "%s %s? [y/N]", ui->action == CON_ACT_REQUEUE ?
		    "Requeue task" : "Cancel task", ui->action_id);
		con_put(w, 0, 0, cols, con_attr(CON_C_PROMPT), CON_LEFT, 0, q);
		return;
	case CON_PROMPT_NONE:
		break;
	}
	if (ui->message != NULL && con->mono - ui->message_at < CON_MESSAGE_MS) {
		con_put(w, 0, 0, cols, con_attr(ui->message_bad ? CON_C_BAD : CON_C_VALUE),
		    CON_LEFT, 0, ui->message);
		return;
	}
	if (ui->filter.text != NULL && (ui->view == &con_view_tasks)) {
		snprintf(q, sizeof q, "/%s", ui->filter.text);
		x = con_put(w, 0, 0, cols / 2, con_attr(CON_C_PROMPT), CON_LEFT, 0, q);
	} else
		x = 0;
	hint = "<1-7> view  : cmd  / filter  ? help  q quit";
	con_put(w, 0, x + 1, cols - x - 1, con_attr(CON_C_DIM), CON_RIGHT, 1, hint);
}

/* Lines of text ("key  what\n...") from y on; returns the next y. */
static int
con_help_lines(WINDOW *w, int y, int rows, int cols, const char *text)
{
	const char *p = text, *nl;
	char line[256];
	size_t n;

	while (*p != '\0' && y < rows) {
		nl = strchr(p, '\n');
		n = nl != NULL ? (size_t)(nl - p) : strlen(p);
		if (n >= sizeof line)
			n = sizeof line - 1;
		memcpy(line, p, n);
		line[n] = '\0';
		if (n > 9 && line[0] != ' ') {
			con_put(w, y, 11, cols - 12, con_attr(CON_C_NORMAL), CON_LEFT, 0, line + 9);
			line[8] = '\0';
			con_put(w, y, 2, 8, con_attr(CON_C_KEY), CON_LEFT, 0, line);
		} else
			con_put(w, y, 2, cols - 3, con_attr(CON_C_NORMAL), CON_LEFT, 0, line);
		y++;
		p = nl != NULL ? nl + 1 : p + n;
	}
	return y;
}

void
con_help_draw(struct con *con, WINDOW *w, int rows, int cols)
{
	int y = 0;

	con_put(w, y++, 1, cols - 2, con_attr(CON_C_TITLE), CON_LEFT, 1, " Keys: every view");
	y = con_help_lines(w, y, rows, cols, con_help_global);
	y++;
	if (y < rows) {
		char t[64];

		snprintf(t, sizeof t, " Keys: %s", con->ui.view->title);
		con_put(w, y++, 1, cols - 2, con_attr(CON_C_TITLE), CON_LEFT, 1, t);
	}
	y = con_help_lines(w, y, rows, cols, con->ui.view->help);
	if (con->o.readonly && y + 1 < rows)
		con_put(w, y + 1, 2, cols - 3, con_attr(CON_C_WARN), CON_LEFT, 0,
		    "read-only: requeue and cancel are off (--readonly)");
}

int
con_source_note(struct con *con, WINDOW *w, int y, int cols, enum con_src src, const char *what)
{
	const struct con_source *s = &con->model.src[src];
	char text[512];

	switch (s->offer) {
	case CON_OFFER_NO:
		snprintf(text, sizeof text, "the gateway does not offer %s%s%s", what,
		    s->error != NULL ? ": " : "", s->error != NULL ? s->error : "");
		break;
	default:
		if (s->error != NULL && s->updated == 0) {
			snprintf(text, sizeof text, "%s: %s", what, s->error);
			con_put(w, y, 1, cols - 2, con_attr(CON_C_BAD), CON_LEFT, 0, text);
			return 1;
		}
		return 0;
	}
	con_put(w, y, 1, cols - 2, con_attr(CON_C_DIM), CON_LEFT, 0, text);
	return 1;
}

void
con_link_banner(struct con *con, WINDOW *w, int rows, int cols)
{
	const struct con_model *m = &con->model;
	const char *why = m->refusal != NULL ? m->refusal : m->link_error;
	char text[1024];
	int need, y;

	if ((m->link == CON_LINK_UP && m->refusal == NULL) || why == NULL)
		return;
	snprintf(text, sizeof text, "%s: %s", m->link == CON_LINK_UP ? "refused" :
	    "cannot reach the gateway", why);
	/*
	 * At the bottom of the body, over the view, as many rows as it takes
	 * (up to 4), above the view's last row: its counts and stale mark
	 * stay in sight.
	 */
	need = con_wrap_rows(text, cols - 2);
	if (need > 4)
		need = 4;
	y = rows - 1 - need;
	if (y < 0)
		y = 0;
	mvwhline(w, y > 0 ? y - 1 : 0, 0, ' ', cols);
	for (int i = y; i < y + need && i < rows; i++)
		mvwhline(w, i, 0, ' ', cols);
	con_put_wrap(w, y, 1, cols - 2, need, con_attr(CON_C_BAD), text);
}
