/*
 * view-videos.c: view 7, the result videos as they arrive (newest
 * first): task, attempt, size, when reported, where. Enter previews the
 * selected video: a frame asked from the gateway ("frame", made by its
 * ffmpeg) drawn as text by preview.c over the list, [ and ] (left and
 * right) a step of CON_FRAME_STEP_S seconds back and on, esc back to the
 * list. `o` plays the video in $PAIA_PLAYER (player.c). Where the
 * terminal shows images (preview.c decides, never inside tmux), the
 * preview is chafa's sixel or kitty image over blank cells, written
 * after ncurses' update.
 */
#include "config.h"
#include "tui.h"

#include <sys/ioctl.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

enum { COL_TASK, COL_ATT, COL_BYTES, COL_REPORTED, COL_URL, NCOLS };

static struct con_col con_videos_cols[NCOLS] = {
	[COL_TASK] = { "TASK", 20, CON_LEFT, 0 },
	[COL_ATT] = { "ATT", 3, CON_RIGHT, 1 },
	[COL_BYTES] = { "SIZE", 10, CON_RIGHT, 1 },
	[COL_REPORTED] = { "REPORTED", 12, CON_RIGHT, 0 },
	[COL_URL] = { "URL", 0, CON_LEFT, 0 },
};

#define CON_FRAME_STEP_S 5.0

/*
 * The frame as the terminal's image, where it shows them and says how
 * large a cell is (TIOCGWINSZ's pixels); 0: symbols instead.
 */
static int
con_videos_image(struct con *con, int cols, int rows)
{
	const struct con_frame *f = &con->model.frame;
	struct winsize ws;
	char *cause = NULL;
	int uc, ur;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) != 0 || ws.ws_col == 0 || ws.ws_row == 0 ||
	    ws.ws_xpixel < ws.ws_col || ws.ws_ypixel < ws.ws_row)
		return 0;
	if ((con->pixel_img = con_preview_pixels(f->png, f->len, cols, rows,
	    ws.ws_xpixel / ws.ws_col, ws.ws_ypixel / ws.ws_row, con->pixels, environ, &uc, &ur,
	    &cause)) == NULL) {
		con->canvas_error = cause;
		return 1;
	}
	/* Blank cells under it, centred as the symbols would be. */
	con->canvas.cols = uc;
	con->canvas.rows = ur;
	con->pixel_dirty = 1;
	return 1;
}

/* model->frame as cells for that room, rendered again only when it or the room changed. */
static void
con_videos_canvas(struct con *con, int cols, int rows)
{
	const struct con_frame *f = &con->model.frame;
	struct con_preview_opts o;

	if (con->canvas_gen == f->gen && con->canvas_cols == cols && con->canvas_rows == rows)
		return;
	con_canvas_free(&con->canvas);
	free(con->canvas_error);
	con->canvas_error = NULL;
	con->canvas_gen = f->gen;
	con->canvas_cols = cols;
	con->canvas_rows = rows;
	free(con->pixel_img);
	con->pixel_img = NULL;
	if (f->png == NULL)
		return;
	if (con->pixels != CON_PIXELS_NONE && con_videos_image(con, cols, rows))
		return;
	memset(&o, 0, sizeof o);
	o.ascii = con->o.ascii;
	o.mono = con->o.mono;
	o.colors = con->o.mono ? 0 : COLORS;
	(void)con_preview_render(f->png, f->len, cols, rows, &o, &con->canvas,
	    &con->canvas_error);
}

/* The cells at (y, x), in their colours (a pair each, as ncurses allocates them). */
static void
con_videos_cells(struct con *con, WINDOW *w, int y0, int x0)
{
	const struct con_canvas *c = &con->canvas;
	wchar_t wc[2] = { 0, 0 };
	cchar_t cc;
	int x, y, pair;
	size_t i;

	for (y = 0; y < c->rows; y++) {
		for (x = 0; x < c->cols; x++) {
			i = (size_t)y * c->cols + x;
			wc[0] = (wchar_t)c->ch[i];
			pair = 0;
			if (!con->o.mono && (c->fg[i] >= 0 || c->bg[i] >= 0) &&
			    (pair = alloc_pair(c->fg[i], c->bg[i])) < 0)
				pair = 0;
#if NCURSES_EXT_COLORS
			/* A pair past a short's range goes by opts (ncurses' extended colours). */
			setcchar(&cc, wc, A_NORMAL, (short)(pair <= SHRT_MAX ? pair : 0), &pair);
#else
			setcchar(&cc, wc, A_NORMAL, (short)(pair <= SHRT_MAX ? pair : 0), NULL);
#endif
			mvwadd_wch(w, y0 + y, x0 + x, &cc);
		}
	}
}

static void
con_videos_preview(struct con *con, WINDOW *w, int rows, int cols)
{
	const struct con_frame *f = &con->model.frame;
	char at[32];
	int room = rows - 3;

	snprintf(at, sizeof at, "%g", f->at);
	mvwhline(w, 0, 0, ' ' | (chtype)con_attr(CON_C_TITLE), cols);
	con_putf(w, 0, 0, cols, con_attr(CON_C_TITLE), " PREVIEW %s at %s s%s%s", f->id, at,
	    f->png != NULL && f->png_at != f->at ? " (showing " : "",
	    f->png != NULL && f->png_at != f->at ? "an earlier second)" : "");
	if (!con_preview_available())
		con_put(w, 1, 1, cols - 2, con_attr(CON_C_BAD), CON_LEFT, 0, CON_PREVIEW_MISSING);
	else if (f->error != NULL)
		con_putf(w, 1, 1, cols - 2, con_attr(CON_C_BAD), "no frame at %s s: %s", at,
		    f->error);
	else if (f->waiting)
		con_putf(w, 1, 1, cols - 2, con_attr(CON_C_DIM),
		    "asking the gateway for the frame of %s at %s s%s", f->id, at,
		    con_glyph(CON_G_ELLIPSIS));
	else if (f->png != NULL)
		con_putf(w, 1, 1, cols - 2, con_attr(CON_C_DIM), "attempt %d, %dx%d pixels, %zu "
		    "bytes   [ ] %g s back and on   o play   esc back", f->attempt, f->width,
		    f->height, f->len, CON_FRAME_STEP_S);
	if (room < 1 || cols < 4)
		return;
	con_videos_canvas(con, cols - 2, room);
	if (con->canvas_error != NULL)
		con_put(w, 2, 1, cols - 2, con_attr(CON_C_BAD), CON_LEFT, 0, con->canvas_error);
	else if (con->pixel_img != NULL) {
		getbegyx(w, con->pixel_y, con->pixel_x);
		con->pixel_y += 2;
		con->pixel_x += 1 + (cols - 2 - con->canvas.cols) / 2;
		con->pixel_want = 1;
	} else if (con->canvas.ch != NULL)
		con_videos_cells(con, w, 2, 1 + (cols - 2 - con->canvas.cols) / 2);
}

/*
 * After ncurses' update: the image written where the preview's blank
 * cells are (cursor saved and put back, so ncurses' idea of it holds),
 * again after the screen was cleared or the image changed; taken away
 * when the frame no longer draws it (kitty: deleted; sixel: the screen
 * drawn again over it).
 */
void
con_videos_pixels(struct con *con)
{
	char *pos;

	if (con->pixels == CON_PIXELS_NONE)
		return;
	if (!con->pixel_want || con->pixel_img == NULL) {
		if (con->pixel_shown) {
			con->pixel_shown = 0;
			if (con->pixels == CON_PIXELS_KITTY)
				(void)util_write_all(STDOUT_FILENO, "\033_Ga=d\033\\", 8);
			else {
				con_screen_clear();
				doupdate();
			}
		}
		return;
	}
	if (con->pixel_shown && !con->pixel_dirty && con->pixel_epoch == con_screen_epoch())
		return;
	xasprintf(&pos, "\0337%s\033[%d;%dH", con->pixels == CON_PIXELS_KITTY ?
	    "\033_Ga=d\033\\" : "", con->pixel_y + 1, con->pixel_x + 1);
	(void)util_write_all(STDOUT_FILENO, pos, strlen(pos));
	(void)util_write_all(STDOUT_FILENO, con->pixel_img, strlen(con->pixel_img));
	(void)util_write_all(STDOUT_FILENO, "\0338", 2);
	free(pos);
	con->pixel_shown = 1;
	con->pixel_dirty = 0;
	con->pixel_epoch = con_screen_epoch();
}

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

	if (con->ui.video_preview) {
		con_videos_preview(con, w, rows, cols);
		return;
	}
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

/* The video of that task in the list, or NULL. */
static const struct con_video *
con_videos_find(struct con *con, const char *id)
{
	size_t i;

	for (i = 0; i < con->model.nvideos; i++)
		if (con->model.videos[i].task != NULL && strcmp(con->model.videos[i].task, id) == 0)
			return &con->model.videos[i];
	return NULL;
}

static int
con_videos_preview_key(struct con *con, int key)
{
	struct con_frame *f = &con->model.frame;
	const struct con_video *v;
	double at = f->at;

	switch (key) {
	case CON_ESC:
		con->ui.video_preview = 0;
		con_model_frame_close(&con->model);
		return CON_KEY_HANDLED | CON_KEY_REDRAW;
	case '[':
	case CON_KEY(KEY_LEFT):
		at = at > CON_FRAME_STEP_S ? at - CON_FRAME_STEP_S : 0;
		break;
	case ']':
	case CON_KEY(KEY_RIGHT):
		at = at + CON_FRAME_STEP_S <= PROTO_FRAME_AT_MAX ? at + CON_FRAME_STEP_S : at;
		break;
	case 'o':
		if ((v = con_videos_find(con, f->id)) != NULL)
			con_video_play(con, v);
		else
			con_message(con, 1, "%s is no longer among the videos", f->id);
		return CON_KEY_HANDLED | CON_KEY_REDRAW;
	default:
		if (con_key_enter(key))
			break;
		return 0;
	}
	if (con->feed != NULL && con_preview_available())
		feed_frame(con->feed, f->id, at);
	return CON_KEY_HANDLED | CON_KEY_REDRAW;
}

static int
con_videos_key(struct con *con, int key)
{
	struct con_model *m = &con->model;
	const struct con_video *v;

	if (con->ui.video_preview)
		return con_videos_preview_key(con, key);
	if (m->nvideos == 0 || con->ui.video_sel >= m->nvideos ||
	    (v = &m->videos[con->ui.video_sel])->task == NULL)
		return con_key_move(key, &con->ui.video_sel, m->nvideos, LINES - 6);
	if (con_key_enter(key)) {
		con->ui.video_preview = 1;
		con_model_frame_close(m);
		if (con->feed != NULL && con_preview_available())
			feed_frame(con->feed, v->task, 0);
		else
			con_model_frame_open(m, v->task, 0);
		return CON_KEY_HANDLED | CON_KEY_REDRAW;
	}
	if (key == 'o') {
		con_video_play(con, v);
		return CON_KEY_HANDLED | CON_KEY_REDRAW;
	}
	return con_key_move(key, &con->ui.video_sel, m->nvideos, LINES - 6);
}

const struct con_view con_view_videos = {
	CON_V_VIDEOS, "videos", "Videos", '7', con_videos_draw, con_videos_key, NULL,
	"up/down  select\n"
	"Enter    preview a frame of the video (made by the gateway's ffmpeg)\n"
	"[ ]      in the preview: 5 s back, 5 s on (left, right too)\n"
	"o        play the video in $PAIA_PLAYER (downloaded first over --ssh)\n"
	"esc      from the preview back to the list\n",
};
