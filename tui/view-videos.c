/*
 * view-videos.c: view 7, the result videos as they arrive (newest
 * first): task, attempt, size, when reported, where. No preview yet: a
 * still is "paiactl frame ID --at S" (the gateway's frame command).
 */
#include "config.h"
#include "tui.h"

#include <stdio.h>
#include <string.h>

#include "common.h"

enum { COL_TASK, COL_ATT, COL_BYTES, COL_REPORTED, COL_URL, NCOLS };

static struct con_col con_videos_cols[NCOLS] = {
	[COL_TASK] = { "TASK", 20, CON_LEFT, 0 },
	[COL_ATT] = { "ATT", 3, CON_RIGHT, 1 },
	[COL_BYTES] = { "SIZE", 10, CON_RIGHT, 1 },
	[COL_REPORTED] = { "REPORTED", 12, CON_RIGHT, 0 },
	[COL_URL] = { "URL", 0, CON_LEFT, 0 },
};

static void
con_videos_draw(struct con *con, WINDOW *w, int rows, int cols)
{
	struct con_model *m = &con->model;
	struct con_col *c = con_videos_cols;
	const struct con_video *v;
	attr_t base;
	char buf[64];
	size_t i;
	int y;

	con_cols_layout(c, NCOLS, cols);
	con_cols_title(w, 0, c, NCOLS, -1, 0);
	if (con_source_note(con, w, 1, cols, CON_SRC_VIDEOS, "result videos"))
		return;
	if (m->nvideos == 0) {
		con_put(w, 1, 1, cols - 2, con_attr(CON_C_DIM), CON_LEFT, 0, "no video yet");
		return;
	}
	if (con->ui.video_sel >= m->nvideos)
		con->ui.video_sel = m->nvideos - 1;
	for (i = 0, y = 1; i < m->nvideos && y < rows - 1; i++, y++) {
		v = &m->videos[i];
		base = i == con->ui.video_sel ? con_attr(CON_C_SELECT) : 0;
		if (base != 0)
			mvwhline(w, y, 0, ' ' | (chtype)base, cols);
		con_put(w, y, c[COL_TASK].x, c[COL_TASK].w, base, CON_LEFT, 0, v->task);
		if (c[COL_ATT].shown) {
			snprintf(buf, sizeof buf, "%d", v->attempt);
			con_put(w, y, c[COL_ATT].x, c[COL_ATT].w, base, CON_RIGHT, 0, buf);
		}
		if (c[COL_BYTES].shown)
			con_put(w, y, c[COL_BYTES].x, c[COL_BYTES].w, base, CON_RIGHT, 0,
			    con_fmt_bytes(v->bytes, buf, sizeof buf));
		con_put(w, y, c[COL_REPORTED].x, c[COL_REPORTED].w, base, CON_RIGHT, 0,
		    con_fmt_clock(v->reported, buf, sizeof buf));
		con_put(w, y, c[COL_URL].x, c[COL_URL].w, base, CON_LEFT, 0, v->url);
	}
}

static int
con_videos_key(struct con *con, int key)
{
	return con_key_move(key, &con->ui.video_sel, con->model.nvideos, LINES - 6);
}

const struct con_view con_view_videos = {
	CON_V_VIDEOS, "videos", "Videos", '7', con_videos_draw, con_videos_key, NULL,
	"up/down  select\n",
};
