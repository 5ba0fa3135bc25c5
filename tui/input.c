/*
 * input.c: what keys do, with k9s' habits: number keys and ':' commands
 * switch views (":tasks", ":pods", ":task ID"), '/' filters (a regex,
 * and field terms such as state=running), esc goes back (a filter
 * first, then the view before), '?' shows the keys. A prompt (the
 * command line, the filter, a confirm) takes every key while it is
 * open. Handlers return CON_KEY_* flags: handled, redraw, quit.
 *
 * Actions that change the gateway (requeue, cancel) always ask first,
 * naming the task; under --readonly they are not offered at all. The
 * gateway's refusal is shown as it said it.
 */
#include "config.h"
#include "tui.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common.h"

#define CON_HELP_GLOBAL \
	"1-7      overview, tasks, pods, gpus, vpn, logs, videos\n" \
	":        a command: tasks [STATE], task ID, pods, gpus, vpn, logs [ID],\n" \
	"         videos, overview, sort COLUMN, requeue ID, cancel ID, help, q\n" \
	"/        filter: a regex; state=S status=S game=G terms; esc clears it\n" \
	"esc      clear the filter, or back to the view before\n" \
	"?        this help (any key closes it)\n" \
	"ctrl-l   redraw the screen\n" \
	"q        quit (also ctrl-c)\n"

static const struct con_view *const con_views[] = {
	&con_view_overview, &con_view_tasks, &con_view_pods, &con_view_gpus, &con_view_vpn,
	&con_view_logs, &con_view_videos, &con_view_task,
};

const char *con_help_global = CON_HELP_GLOBAL;

int
con_key_enter(int key)
{
	return key == '\r' || key == '\n' || key == CON_KEY(KEY_ENTER);
}

int
con_key_backspace(int key)
{
	return key == 127 || key == 8 || key == CON_KEY(KEY_BACKSPACE);
}

int
con_key_move(int key, size_t *sel, size_t n, int page)
{
	size_t s = *sel;

	if (page < 1)
		page = 1;
	if (key == CON_KEY(KEY_UP) || key == 'k')
		s = s > 0 ? s - 1 : 0;
	else if (key == CON_KEY(KEY_DOWN) || key == 'j')
		s = s + 1;
	else if (key == CON_KEY(KEY_PPAGE) || key == 2 /* ^B */)
		s = s > (size_t)page ? s - (size_t)page : 0;
	else if (key == CON_KEY(KEY_NPAGE) || key == 6 /* ^F */ || key == ' ')
		s = s + (size_t)page;
	else if (key == CON_KEY(KEY_HOME) || key == 'g')
		s = 0;
	else if (key == CON_KEY(KEY_END) || key == 'G')
		s = n > 0 ? n - 1 : 0;
	else
		return 0;
	if (n == 0)
		s = 0;
	else if (s >= n)
		s = n - 1;
	*sel = s;
	return CON_KEY_HANDLED | CON_KEY_REDRAW;
}

const struct con_view *
con_view_by_name(const char *name)
{
	size_t i, len = strlen(name);

	for (i = 0; i < nitems(con_views); i++)
		if (strcasecmp(con_views[i]->name, name) == 0)
			return con_views[i];
	/* k9s lets a command be shortened, and takes the plural or not. */
	if (len >= 2)
		for (i = 0; i < nitems(con_views); i++)
			if (strncasecmp(con_views[i]->name, name, len) == 0 && con_views[i]->key != 0)
				return con_views[i];
	return NULL;
}

void
con_message(struct con *con, int bad, const char *fmt, ...)
{
	va_list ap;

	free(con->ui.message);
	va_start(ap, fmt);
	xvasprintf(&con->ui.message, fmt, ap);
	va_end(ap);
	con->ui.message_bad = bad;
	con->ui.message_at = con->mono;
	con->ui.gen++;
}

void
con_view_show(struct con *con, const struct con_view *v, int push)
{
	struct con_ui *ui = &con->ui;

	if (push && ui->view != v) {
		if (ui->depth == CON_STACK_MAX) {
			memmove(ui->stack, ui->stack + 1, (CON_STACK_MAX - 1) * sizeof *ui->stack);
			ui->depth--;
		}
		ui->stack[ui->depth++] = ui->view;
	}
	ui->view = v;
	ui->help = 0;
	if (v->enter != NULL)
		v->enter(con);
	ui->gen++;
}

int
con_view_back(struct con *con)
{
	struct con_ui *ui = &con->ui;

	if (ui->depth == 0)
		return CON_KEY_HANDLED;
	ui->view = ui->stack[--ui->depth];
	if (ui->view->enter != NULL)
		ui->view->enter(con);
	return CON_KEY_HANDLED | CON_KEY_REDRAW;
}

/* ---- filters ---- */

void
con_filter_clear(struct con_filter *f)
{
	uint64_t gen = f->gen;

	free(f->text);
	if (f->has_re)
		regfree(&f->re);
	free(f->game);
	memset(f, 0, sizeof *f);
	f->state = f->status = -1;
	f->gen = gen + 1;
}

int
con_filter_set(struct con_filter *f, const char *text, char **cause)
{
	struct con_filter n;
	enum task_state st;
	enum result_status rs;
	char *copy, *word, *save = NULL, *re = NULL, *val;
	int rc = -1, err;
	char ebuf[128];

	memset(&n, 0, sizeof n);
	n.state = n.status = -1;
	copy = xstrdup(text);
	for (word = strtok_r(copy, " ", &save); word != NULL; word = strtok_r(NULL, " ", &save)) {
		if ((val = strchr(word, '=')) != NULL && val > word) {
			*val++ = '\0';
			if (strcasecmp(word, "state") == 0) {
				if (strcasecmp(val, "active") == 0)
					n.state = -2;
				else if (proto_state_parse(val, &st) == 0)
					n.state = (int)st;
				else {
					xasprintf(cause, "unknown state '%s' (received, fetching, "
					    "launching, running, collecting, uploading, upload_wait, "
					    "reporting, done, failed, active)", val);
					goto out;
				}
				continue;
			}
			if (strcasecmp(word, "status") == 0) {
				if (proto_status_parse(val, &rs) != 0) {
					xasprintf(cause, "unknown status '%s' (succeeded, failed, "
					    "timeout, cancelled, error)", val);
					goto out;
				}
				n.status = (int)rs;
				continue;
			}
			if (strcasecmp(word, "game") == 0) {
				free(n.game);
				n.game = xstrdup(val);
				continue;
			}
			val[-1] = '=';	/* not a field: part of the regex */
		}
		if (re == NULL)
			re = xstrdup(word);
		else {
			char *joined;

			xasprintf(&joined, "%s %s", re, word);
			free(re);
			re = joined;
		}
	}
	if (re != NULL) {
		if ((err = regcomp(&n.re, re, REG_EXTENDED | REG_ICASE | REG_NOSUB)) != 0) {
			regerror(err, &n.re, ebuf, sizeof ebuf);
			xasprintf(cause, "/%s: %s", re, ebuf);
			goto out;
		}
		n.has_re = 1;
	}
	n.text = xstrdup(text);
	n.gen = f->gen;
	con_filter_clear(f);
	n.gen = f->gen;
	*f = n;
	memset(&n, 0, sizeof n);
	rc = 0;
out:
	if (rc != 0)
		free(n.game);
	free(re);
	free(copy);
	return rc;
}

int
con_filter_task(const struct con_filter *f, const struct con_task *t)
{
	char line[TASK_ID_MAX + 1 + 32 + 64 + 600];

	if (f->state == -2 && (t->state == TASK_DONE || t->state == TASK_FAILED))
		return 0;
	if (f->state >= 0 && (int)t->state != f->state)
		return 0;
	if (f->status >= 0 && (!t->has_status || (int)t->status != f->status))
		return 0;
	if (f->game != NULL && strcasecmp(t->game, f->game) != 0)
		return 0;
	if (!f->has_re)
		return 1;
	/* What the row shows, as k9s matches a row. */
	snprintf(line, sizeof line, "%s %s %s %s %s", t->id, t->game, proto_state_name(t->state),
	    t->has_status ? proto_status_name(t->status) : "",
	    t->error != NULL ? t->error : "");
	return regexec(&f->re, line, 0, NULL, 0) == 0;
}

/* ---- actions ---- */

static void
con_action_done(void *arg, int ok, const char *text)
{
	con_message(arg, !ok, "%s", text);
}

static int
con_action_run(struct con *con)
{
	struct con_ui *ui = &con->ui;

	if (ui->action == CON_ACT_REQUEUE) {
		con_message(con, 0, "requeueing %s ...", ui->action_id);
		feed_requeue(con->feed, ui->action_id, con_action_done, con);
	} else if (ui->action == CON_ACT_CANCEL) {
		con_message(con, 0, "cancelling %s ...", ui->action_id);
		feed_cancel(con->feed, ui->action_id, con_action_done, con);
	}
	ui->action = CON_ACT_NONE;
	return CON_KEY_HANDLED | CON_KEY_REDRAW;
}

int
con_action_ask(struct con *con, enum con_action act, const char *id)
{
	struct con_ui *ui = &con->ui;

	if (con->o.readonly) {
		con_message(con, 1, "read-only console: no %s", act == CON_ACT_REQUEUE ?
		    "requeue" : "cancel");
		return CON_KEY_HANDLED | CON_KEY_REDRAW;
	}
	if (id == NULL || *id == '\0') {
		con_message(con, 1, "no task selected");
		return CON_KEY_HANDLED | CON_KEY_REDRAW;
	}
	ui->action = act;
	snprintf(ui->action_id, sizeof ui->action_id, "%s", id);
	ui->prompt = CON_PROMPT_CONFIRM;
	ui->len = 0;
	ui->line[0] = '\0';
	return CON_KEY_HANDLED | CON_KEY_REDRAW;
}

/* ---- commands ---- */

int
con_command(struct con *con, const char *text)
{
	const struct con_view *v;
	char *copy = xstrdup(text), *cmd, *arg, *save = NULL, *cause = NULL;
	int flags = CON_KEY_HANDLED | CON_KEY_REDRAW;

	cmd = strtok_r(copy, " ", &save);
	arg = cmd != NULL ? strtok_r(NULL, "", &save) : NULL;
	while (arg != NULL && *arg == ' ')
		arg++;
	if (arg != NULL && *arg == '\0')
		arg = NULL;
	if (cmd == NULL)
		goto out;
	if (strcmp(cmd, "q") == 0 || strcmp(cmd, "quit") == 0 || strcmp(cmd, "q!") == 0) {
		flags |= CON_KEY_QUIT;
		goto out;
	}
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "?") == 0) {
		con->ui.help = 1;
		goto out;
	}
	if (strcmp(cmd, "requeue") == 0 || strcmp(cmd, "cancel") == 0) {
		if (arg == NULL)
			con_message(con, 1, ":%s needs a task id", cmd);
		else
			flags = con_action_ask(con, cmd[0] == 'r' ? CON_ACT_REQUEUE : CON_ACT_CANCEL,
			    arg);
		goto out;
	}
	if (strcmp(cmd, "sort") == 0) {
		if (con->ui.view != &con_view_tasks)
			con_view_show(con, &con_view_tasks, 1);
		if (arg == NULL)
			con_message(con, 1, ":sort needs a column of the tasks view");
		else if (con_tasks_sort_by(con, arg) != 0)
			con_message(con, 1, ":sort %s: no such column (task, attempt, game, "
			    "state, status, age, duration, partition, score)", arg);
		goto out;
	}
	if ((v = con_view_by_name(cmd)) == NULL) {
		con_message(con, 1, "unknown command :%s (? lists them)", cmd);
		goto out;
	}
	if (v == &con_view_task || (v == &con_view_logs && arg != NULL)) {
		if (arg == NULL) {
			con_message(con, 1, ":task needs a task id");
			goto out;
		}
		snprintf(con->ui.selected, sizeof con->ui.selected, "%s", arg);
	} else if (v == &con_view_tasks && arg != NULL) {
		/* ":tasks running" filters by state, as k9s' ":pods ns" scopes. */
		char *f;

		xasprintf(&f, "state=%s", arg);
		if (con_filter_set(&con->ui.filter, f, &cause) != 0) {
			con_message(con, 1, "%s", cause);
			free(f);
			goto out;
		}
		free(f);
	}
	con_view_show(con, v, 1);
out:
	free(cause);
	free(copy);
	return flags;
}

/* ---- the prompt ---- */

static int
con_prompt_key(struct con *con, int key)
{
	struct con_ui *ui = &con->ui;
	enum con_prompt p = ui->prompt;
	char *cause = NULL;
	int flags = CON_KEY_HANDLED | CON_KEY_REDRAW;

	if (p == CON_PROMPT_CONFIRM) {
		ui->prompt = CON_PROMPT_NONE;
		if (key == 'y' || key == 'Y')
			return con_action_run(con);
		con_message(con, 0, "%s %s: not done", ui->action == CON_ACT_REQUEUE ? "requeue" :
		    "cancel", ui->action_id);
		ui->action = CON_ACT_NONE;
		return flags;
	}
	if (key == CON_ESC) {
		ui->prompt = CON_PROMPT_NONE;
		return flags;
	}
	if (con_key_backspace(key)) {
		if (ui->len == 0) {
			ui->prompt = CON_PROMPT_NONE;
			return flags;
		}
		/* Back over one UTF-8 character. */
		do
			ui->len--;
		while (ui->len > 0 && ((unsigned char)ui->line[ui->len] & 0xc0) == 0x80);
		ui->line[ui->len] = '\0';
		return flags;
	}
	if (key == 21 /* ^U */) {
		ui->len = 0;
		ui->line[0] = '\0';
		return flags;
	}
	if (con_key_enter(key)) {
		ui->prompt = CON_PROMPT_NONE;
		if (p == CON_PROMPT_CMD)
			return con_command(con, ui->line);
		if (p == CON_PROMPT_SEARCH) {
			free(ui->log_search);
			ui->log_search = ui->len > 0 ? xstrdup(ui->line) : NULL;
			ui->log_hit = -1;
			return con_view_logs.keypress(con, 'n');
		}
		if (ui->len == 0)
			con_filter_clear(&ui->filter);
		else if (con_filter_set(&ui->filter, ui->line, &cause) != 0) {
			con_message(con, 1, "%s", cause);
			free(cause);
		}
		ui->task_top = 0;
		return flags;
	}
	/* Printable characters only; a line holds a command, not a paste of anything. */
	if (key >= 0x20 && key < 0x10000 && key != 0x7f) {
		char mb[8];
		int n = wctomb(mb, (wchar_t)key);

		if (n > 0 && ui->len + (size_t)n < sizeof ui->line) {
			memcpy(ui->line + ui->len, mb, (size_t)n);
			ui->len += (size_t)n;
			ui->line[ui->len] = '\0';
		}
	}
	return flags;
}

int
con_input_key(struct con *con, int key)
{
	struct con_ui *ui = &con->ui;
	int flags;

	if (ui->prompt != CON_PROMPT_NONE)
		return con_prompt_key(con, key);
	if (ui->help) {
		ui->help = 0;
		return CON_KEY_HANDLED | CON_KEY_REDRAW;
	}
	if (key == 12 /* ^L */) {
		con_screen_clear();
		return CON_KEY_HANDLED | CON_KEY_REDRAW;
	}
	/* The view first: it may give a key its own meaning (Enter, r, /). */
	if ((flags = ui->view->keypress(con, key)) & CON_KEY_HANDLED)
		return flags;
	if (key >= '1' && key <= '7') {
		con_view_show(con, con_views[key - '1'], 1);
		return CON_KEY_HANDLED | CON_KEY_REDRAW;
	}
	switch (key) {
	case ':':
		ui->prompt = CON_PROMPT_CMD;
		ui->len = 0;
		ui->line[0] = '\0';
		return CON_KEY_HANDLED | CON_KEY_REDRAW;
	case '/':
		/* A new filter, as k9s starts one (esc clears the one in force). */
		ui->prompt = CON_PROMPT_FILTER;
		ui->len = 0;
		ui->line[0] = '\0';
		return CON_KEY_HANDLED | CON_KEY_REDRAW;
	case '?':
		ui->help = 1;
		return CON_KEY_HANDLED | CON_KEY_REDRAW;
	case CON_ESC:
		if (ui->filter.text != NULL) {
			con_filter_clear(&ui->filter);
			return CON_KEY_HANDLED | CON_KEY_REDRAW;
		}
		return con_view_back(con);
	case 'q':
		return CON_KEY_HANDLED | CON_KEY_QUIT;
	default:
		return 0;
	}
}
