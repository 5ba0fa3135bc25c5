/*
 * fuzz-console-model.c: paia-console's model fed arbitrary lines, as a
 * gateway (or anything that answers on its socket) could send them:
 * events, and answers to status, tasks, lag and task, decoded through
 * proto/; log chunks; filters and orders of the tasks view. After every
 * line the tasks view's rows, patched from the model's journal, must
 * equal rows rebuilt from scratch, and the model must stay within its
 * bounds. Nothing may crash, leak or read out of bounds.
 *
 * A line is an event, unless it starts with a tag: "S:" status answer,
 * "T:" tasks answer, "L:" lag answer, "K:" task answer (the open task
 * is "t1"), "U:" gpus answer, "P:" pods answer, "V:" vpn answer, "D:"
 * videos answer, "G:<offset>:" a chunk of t1's log ("G!" its end, "G~"
 * its restart), "F:" a filter, "O:<n>" the order (column n, odd:
 * reversed), "R:" a frame answer for t1, its PNG then rendered as the
 * preview draws it. Events include pod, pods, vpn, video, log and
 * log_end. The pods are found by name at their place, holes or not.
 */
#include "config.h"
#include "tui.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The rows as a rebuild would make them, compared with the patched ones. */
static void
fuzz_rows_check(struct con *con)
{
	struct con_task **want;
	size_t i, n = con->nrows;

	want = malloc((n + 1) * sizeof *want);
	if (n > 0)
		memcpy(want, con->rows, n * sizeof *want);
	con->rows_valid = 0;
	con_rows_update(con);
	assert(con->nrows == n);
	for (i = 0; i < n; i++)
		assert(con->rows[i] == want[i]);
	free(want);
}

/* A frame answer for t1, and its PNG drawn as the preview would (a hostile PNG). */
static void
fuzz_frame(struct con *con, const cJSON *j)
{
	struct con_model *m = &con->model;
	struct con_preview_opts o = { 0, 0, 256 };
	struct con_canvas c;
	char *cause = NULL;
	size_t i;

	con_model_frame_open(m, "t1", 0);
	if (con_model_frame_answer(m, "t1", j, &cause) != 0) {
		assert(cause != NULL && m->frame.error != NULL && !m->frame.waiting);
		free(cause);
		return;
	}
	assert(m->frame.png != NULL && m->frame.len <= CON_PNG_BYTES_MAX);
	if (con_preview_render(m->frame.png, m->frame.len, 24, 12, &o, &c, &cause) != 0) {
		assert(cause != NULL && c.ch == NULL);
		free(cause);
		return;
	}
	assert(c.cols >= 1 && c.cols <= 24 && c.rows >= 1 && c.rows <= 12);
	for (i = 0; i < (size_t)c.cols * c.rows; i++)
		assert(c.ch[i] >= 0x20 && !(c.ch[i] >= 0x7f && c.ch[i] < 0xa0));
	con_canvas_free(&c);
}

static void
fuzz_line(struct con *con, const char *line, size_t len, int64_t now)
{
	struct con_model *m = &con->model;
	char *cause = NULL, *end;
	cJSON *j = NULL;
	long long off;

	if (len >= 2 && line[1] == ':' && strchr("STLKUPVDGFOR", line[0]) != NULL) {
		const char *body = line + 2;
		size_t blen = len - 2;

		switch (line[0]) {
		case 'G':
			off = strtoll(body, &end, 10);
			if (end < line + len && *end == ':')
				con_model_log_append(m, "t1", off, end + 1,
				    (size_t)(line + len - end - 1), 0);
			return;
		case 'F':
			if (con_filter_set(&con->ui.filter, body, &cause) != 0)
				assert(cause != NULL);
			free(cause);
			return;
		case 'O':
			con->ui.task_sort = (int)(strtol(body, NULL, 10) & 0xff) % 10;
			con->ui.task_reverse = (int)(strtol(body, NULL, 10) & 1);
			return;
		}
		if ((j = cJSON_ParseWithLength(body, blen)) == NULL)
			return;
		switch (line[0]) {
		case 'S':
			(void)con_model_status_answer(m, j, now, &cause);
			break;
		case 'T':
			(void)con_model_tasks_answer(m, j, now, &cause);
			break;
		case 'L':
			(void)con_model_lag_answer(m, j, now, &cause);
			break;
		case 'U':
			(void)con_model_gpus_answer(m, j, now, &cause);
			break;
		case 'P':
			(void)con_model_pods_answer(m, j, now, &cause);
			break;
		case 'V':
			(void)con_model_vpn_answer(m, j, now, &cause);
			break;
		case 'D':
			(void)con_model_videos_answer(m, j, now, &cause);
			break;
		case 'K':
			(void)con_model_detail_answer(m, j, &cause);
			j = NULL;	/* taken */
			break;
		case 'R':
			fuzz_frame(con, j);
			break;
		}
		cJSON_Delete(j);
		free(cause);
		return;
	}
	if (len == 2 && line[0] == 'G' && line[1] == '!') {
		con_model_log_append(m, "t1", m->log.offset, "", 0, 1);
		return;
	}
	if (len == 2 && line[0] == 'G' && line[1] == '~') {
		con_model_log_restart(m);
		return;
	}
	if (con_model_event(m, line, len, now, &cause) < 0)
		assert(cause != NULL);
	free(cause);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct con con;
	const char *p = (const char *)data, *end = p + size, *nl;
	int64_t now = 1000;
	size_t i, len, kept, nlines = 0;
	char *line;

	memset(&con, 0, sizeof con);
	con_model_init(&con.model, 100);	/* small: eviction is reached */
	con.model.link = CON_LINK_UP;
	con.ui.filter.state = con.ui.filter.status = -1;
	con_model_detail_open(&con.model, "t1", now);
	con_model_log_open(&con.model, "t1");
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		len = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		/* As the connection hands lines over: a NUL-terminated copy. */
		line = malloc(len + 1);
		memcpy(line, p, len);
		line[len] = '\0';
		fuzz_line(&con, line, len, now);
		free(line);
		now += 700;
		con_rows_update(&con);
		fuzz_rows_check(&con);
		assert(con.model.ntasks <= con.model.max_tasks);
		assert(con.model.log.n <= CON_LOG_LINES);
		assert(con.model.npods <= CON_PODS_MAX);
		assert(con.model.pods_len <= 2 * con.model.npods + 1);
		for (i = 0, kept = 0; i < con.model.pods_len; i++) {
			if (con.model.pods[i] == NULL)
				continue;
			kept++;
			assert(con.model.pods[i]->at == i);
			assert(con_model_pod(&con.model, con.model.pods[i]->name) ==
			    con.model.pods[i]);
		}
		assert(kept == con.model.npods);
		if (++nlines % 3 == 0)
			con_model_pods_pack(&con.model);	/* as the pods view does now and then */
		assert(con.model.nvideos <= CON_VIDEOS_MAX);
		assert(!con.model.vpn.enabled || con.model.vpn.has);
		for (i = 0; i < con.model.ntasks; i++) {
			assert(strlen(con.model.tasks[i]->id) > 0);
			assert(con_model_task(&con.model, con.model.tasks[i]->id) ==
			    con.model.tasks[i]);
		}
		(void)con_model_rate(&con.model);
		con_model_gpu_count(&con.model, &i, &len);
		assert(i <= len);
		p = nl != NULL ? nl + 1 : end;
	}
	con_filter_clear(&con.ui.filter);
	free(con.rows);
	con_model_free(&con.model);
	return 0;
}
