/*
 * preview.c: a frame of a task's video (the PNG the gateway's "frame"
 * answer carries) drawn as text with libchafa, as chafa's own symbols
 * mode does: block and border symbols (ASCII only under --ascii), in
 * the terminal's palette or, on a direct-colour terminal, in RGB (none
 * under NO_COLOR). The console draws the
 * cells with ncurses like any other text, so tmux, a slow link and the
 * golden screens see characters, never image escapes.
 *
 * The PNG comes over the socket from a gateway that made it from a
 * video a game wrote: it is hostile. Its bytes are capped
 * (CON_PNG_BYTES_MAX) and its size read from IHDR before libpng sees
 * it (CON_PNG_SIDE_MAX, CON_PNG_PIXELS_MAX), libpng's own limits are
 * set as well, its errors come back by longjmp to one place that frees
 * what was taken, and only printable symbols leave this file.
 *
 * Where the terminal shows images (kitty's graphics protocol, sixel) as
 * chafa's terminal database tells from the environment, and not inside
 * tmux or screen, the preview is that image instead (chafa's escapes,
 * written by view-videos.c after ncurses' update); elsewhere, and
 * with PAIA_CONSOLE_GRAPHICS=symbols, the symbols.
 *
 * Without libchafa (configure did not find chafa and libpng) the
 * render says previews need it.
 */
#include "config.h"
#include "tui.h"

#include <stdlib.h>
#include <string.h>

#include "common.h"

#ifdef HAVE_CHAFA
#include <chafa.h>
#include <png.h>
#include <setjmp.h>
#endif

void
con_canvas_free(struct con_canvas *c)
{
	free(c->ch);
	free(c->fg);
	free(c->bg);
	memset(c, 0, sizeof *c);
}

int
con_preview_available(void)
{
#ifdef HAVE_CHAFA
	return 1;
#else
	return 0;
#endif
}

#ifndef HAVE_CHAFA

enum con_pixels
con_preview_pixels_detect(char **envp)
{
	return CON_PIXELS_NONE;
}

char *
con_preview_pixels(const unsigned char *png, size_t len, int cols, int rows, int cell_w,
    int cell_h, enum con_pixels mode, char **envp, int *used_cols, int *used_rows, char **cause)
{
	xasprintf(cause, "%s", CON_PREVIEW_MISSING);
	return NULL;
}

int
con_png_decode(const unsigned char *png, size_t len, unsigned char **rgba, int *w, int *h,
    char **cause)
{
	xasprintf(cause, "%s", CON_PREVIEW_MISSING);
	return -1;
}

int
con_preview_render(const unsigned char *png, size_t len, int cols, int rows,
    const struct con_preview_opts *o, struct con_canvas *out, char **cause)
{
	memset(out, 0, sizeof *out);
	xasprintf(cause, "%s", CON_PREVIEW_MISSING);
	return -1;
}

#else

struct con_png_src {
	const unsigned char *p;
	size_t len, off;
	char why[200];
};

static void
con_png_read(png_structp png, png_bytep out, size_t n)
{
	struct con_png_src *s = png_get_io_ptr(png);

	if (n > s->len - s->off)
		png_error(png, "the PNG is cut short");
	memcpy(out, s->p + s->off, n);
	s->off += n;
}

static void
con_png_error(png_structp png, png_const_charp msg)
{
	struct con_png_src *s = png_get_error_ptr(png);
	char *clean = util_cut(msg != NULL ? msg : "?", 120);

	snprintf(s->why, sizeof s->why, "%s", clean);
	free(clean);
	png_longjmp(png, 1);
}

static void
con_png_warning(png_structp png, png_const_charp msg)
{
}

static uint32_t
con_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int
con_png_decode(const unsigned char *data, size_t len, unsigned char **rgba, int *wp, int *hp,
    char **cause)
{
	static const unsigned char sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
	struct con_png_src src;
	png_structp png;
	png_infop info;
	unsigned char *volatile pix = NULL;
	png_bytep *volatile rowp = NULL;
	png_uint_32 w, h, y;
	int depth, type, interlace;

	*rgba = NULL;
	if (len > CON_PNG_BYTES_MAX) {
		xasprintf(cause, "the frame is %zu bytes, more than the %d a preview takes", len,
		    CON_PNG_BYTES_MAX);
		return -1;
	}
	/* The signature, then IHDR first (as the PNG spec has it): the size before libpng. */
	if (len < 33 || memcmp(data, sig, sizeof sig) != 0 || memcmp(data + 12, "IHDR", 4) != 0) {
		xasprintf(cause, "the frame is not a PNG (%zu bytes, no PNG signature and header)",
		    len);
		return -1;
	}
	w = con_be32(data + 16);
	h = con_be32(data + 20);
	if (w == 0 || h == 0 || w > CON_PNG_SIDE_MAX || h > CON_PNG_SIDE_MAX ||
	    (uint64_t)w * h > CON_PNG_PIXELS_MAX) {
		xasprintf(cause, "the frame is %ux%u pixels; a preview takes 1 to %d a side and %d "
		    "in all", (unsigned)w, (unsigned)h, CON_PNG_SIDE_MAX, CON_PNG_PIXELS_MAX);
		return -1;
	}

	memset(&src, 0, sizeof src);
	src.p = data;
	src.len = len;
	if ((png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, con_png_error,
	    con_png_warning)) == NULL) {
		xasprintf(cause, "libpng cannot start (out of memory)");
		return -1;
	}
	if ((info = png_create_info_struct(png)) == NULL) {
		png_destroy_read_struct(&png, NULL, NULL);
		xasprintf(cause, "libpng cannot start (out of memory)");
		return -1;
	}
	if (setjmp(png_jmpbuf(png))) {
		free(pix);
		free(rowp);
		png_destroy_read_struct(&png, &info, NULL);
		xasprintf(cause, "the frame is not a PNG that can be read: %s", src.why);
		return -1;
	}
	png_set_user_limits(png, CON_PNG_SIDE_MAX, CON_PNG_SIDE_MAX);
	png_set_chunk_cache_max(png, 64);
	png_set_chunk_malloc_max(png, CON_PNG_BYTES_MAX);
	png_set_read_fn(png, &src, con_png_read);
	png_read_info(png, info);
	png_get_IHDR(png, info, &w, &h, &depth, &type, &interlace, NULL, NULL);
	if (w != con_be32(data + 16) || h != con_be32(data + 20))
		png_error(png, "the header changed under libpng");
	png_set_expand(png);
	png_set_strip_16(png);
	png_set_gray_to_rgb(png);
	png_set_add_alpha(png, 0xff, PNG_FILLER_AFTER);
	(void)png_set_interlace_handling(png);
	png_read_update_info(png, info);
	if (png_get_rowbytes(png, info) != (size_t)w * 4)
		png_error(png, "unexpected row size after the conversion to RGBA");
	pix = xmalloc((size_t)w * h * 4);
	rowp = xcalloc(h, sizeof *rowp);
	for (y = 0; y < h; y++)
		rowp[y] = pix + (size_t)y * w * 4;
	png_read_image(png, rowp);
	png_read_end(png, NULL);
	png_destroy_read_struct(&png, &info, NULL);
	free(rowp);
	*rgba = pix;
	*wp = (int)w;
	*hp = (int)h;
	return 0;
}

/* What reaches the terminal: a printable symbol, never a control character. */
static uint32_t
con_preview_char(uint32_t c, int ascii)
{
	if (c < 0x20 || (c >= 0x7f && c < 0xa0) || c > 0x10ffff || (c >= 0xd800 && c < 0xe000))
		return ' ';
	if (ascii && c > 0x7e)
		return '#';
	return c;
}

int
con_preview_render(const unsigned char *png, size_t len, int cols, int rows,
    const struct con_preview_opts *o, struct con_canvas *out, char **cause)
{
	static int threads_set;
	ChafaSymbolMap *map;
	ChafaCanvasConfig *cfg;
	ChafaCanvas *canvas;
	unsigned char *rgba;
	int w, h, cw = cols, ch = rows, x, y, fg, bg, colors = o->colors;
	size_t i;

	memset(out, 0, sizeof *out);
	if (cols < 1 || rows < 1 || cols > CON_CANVAS_SIDE_MAX || rows > CON_CANVAS_SIDE_MAX) {
		xasprintf(cause, "no room for a preview (%dx%d cells)", cols, rows);
		return -1;
	}
	if (con_png_decode(png, len, &rgba, &w, &h, cause) != 0)
		return -1;
	if (!threads_set) {
		/* The console's loop is its only thread: chafa works in it too. */
		chafa_set_n_threads(1);
		threads_set = 1;
	}
	/* Fit the picture, aspect kept; a cell is about twice as high as wide. */
	chafa_calc_canvas_geometry(w, h, &cw, &ch, 0.5f, FALSE, FALSE);
	if (cw < 1)
		cw = 1;
	if (ch < 1)
		ch = 1;

	map = chafa_symbol_map_new();
	if (o->ascii)
		chafa_symbol_map_add_by_tags(map, CHAFA_SYMBOL_TAG_ASCII);
	else {
		chafa_symbol_map_add_by_tags(map, CHAFA_SYMBOL_TAG_BLOCK | CHAFA_SYMBOL_TAG_BORDER |
		    CHAFA_SYMBOL_TAG_SPACE);
		chafa_symbol_map_remove_by_tags(map, CHAFA_SYMBOL_TAG_WIDE |
		    CHAFA_SYMBOL_TAG_AMBIGUOUS);
	}
	cfg = chafa_canvas_config_new();
	chafa_canvas_config_set_geometry(cfg, cw, ch);
	chafa_canvas_config_set_pixel_mode(cfg, CHAFA_PIXEL_MODE_SYMBOLS);
	chafa_canvas_config_set_symbol_map(cfg, map);
	if (o->mono || colors < 8) {
		colors = 0;
		chafa_canvas_config_set_canvas_mode(cfg, CHAFA_CANVAS_MODE_FGBG);
		chafa_canvas_config_set_fg_color(cfg, 0xffffff);
		chafa_canvas_config_set_bg_color(cfg, 0x000000);
	} else {
		/* A direct-colour terminal (xterm-direct) takes RGB for a colour number. */
		if (colors > 256 && colors < CON_COLORS_DIRECT)
			colors = 256;
		chafa_canvas_config_set_canvas_mode(cfg, colors >= CON_COLORS_DIRECT ?
		    CHAFA_CANVAS_MODE_TRUECOLOR : colors >= 256 ? CHAFA_CANVAS_MODE_INDEXED_240 :
		    colors >= 16 ? CHAFA_CANVAS_MODE_INDEXED_16 : CHAFA_CANVAS_MODE_INDEXED_8);
	}
	canvas = chafa_canvas_new(cfg);
	chafa_canvas_draw_all_pixels(canvas, CHAFA_PIXEL_RGBA8_UNASSOCIATED, rgba, w, h,
	    w * 4);
	free(rgba);

	out->cols = cw;
	out->rows = ch;
	out->ch = xcalloc((size_t)cw * ch, sizeof *out->ch);
	out->fg = xcalloc((size_t)cw * ch, sizeof *out->fg);
	out->bg = xcalloc((size_t)cw * ch, sizeof *out->bg);
	for (y = 0; y < ch; y++) {
		for (x = 0; x < cw; x++) {
			i = (size_t)y * cw + x;
			out->ch[i] = con_preview_char(chafa_canvas_get_char_at(canvas, x, y),
			    o->ascii);
			fg = bg = -1;
			if (colors > 0)
				chafa_canvas_get_raw_colors_at(canvas, x, y, &fg, &bg);
			out->fg[i] = fg >= 0 && fg < colors ? fg : -1;
			out->bg[i] = bg >= 0 && bg < colors ? bg : -1;
		}
	}
	chafa_canvas_unref(canvas);
	chafa_canvas_config_unref(cfg);
	chafa_symbol_map_unref(map);
	return 0;
}

static const char *
con_env(char **envp, const char *name)
{
	size_t n = strlen(name);

	for (; envp != NULL && *envp != NULL; envp++)
		if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
			return *envp + n + 1;
	return NULL;
}

enum con_pixels
con_preview_pixels_detect(char **envp)
{
	const char *v;
	ChafaTermInfo *ti;
	enum con_pixels p = CON_PIXELS_NONE;

	if ((v = con_env(envp, "PAIA_CONSOLE_GRAPHICS")) != NULL && strcmp(v, "symbols") == 0)
		return CON_PIXELS_NONE;
	/* A multiplexer passes images on badly or not at all: symbols there. */
	if (con_env(envp, "TMUX") != NULL || con_env(envp, "STY") != NULL)
		return CON_PIXELS_NONE;
	if ((v = con_env(envp, "TERM")) == NULL || strncmp(v, "screen", 6) == 0 ||
	    strncmp(v, "tmux", 4) == 0 || strcmp(v, "dumb") == 0)
		return CON_PIXELS_NONE;
	ti = chafa_term_db_detect(chafa_term_db_get_default(), envp);
	if (chafa_term_info_have_seq(ti, CHAFA_TERM_SEQ_BEGIN_KITTY_IMMEDIATE_IMAGE_V1))
		p = CON_PIXELS_KITTY;
	else if (chafa_term_info_have_seq(ti, CHAFA_TERM_SEQ_BEGIN_SIXELS))
		p = CON_PIXELS_SIXEL;
	chafa_term_info_unref(ti);
	return p;
}

char *
con_preview_pixels(const unsigned char *png, size_t len, int cols, int rows, int cell_w,
    int cell_h, enum con_pixels mode, char **envp, int *used_cols, int *used_rows, char **cause)
{
	ChafaCanvasConfig *cfg;
	ChafaCanvas *canvas;
	ChafaTermInfo *ti;
	unsigned char *rgba;
	int w, h, cw = cols, ch = rows;
	GString *gs;
	char *out;

	if (mode == CON_PIXELS_NONE || cols < 1 || rows < 1 || cols > CON_CANVAS_SIDE_MAX ||
	    rows > CON_CANVAS_SIDE_MAX || cell_w < 1 || cell_h < 1 || cell_w > 256 ||
	    cell_h > 256) {
		xasprintf(cause, "no room for an image (%dx%d cells of %dx%d pixels)", cols, rows,
		    cell_w, cell_h);
		return NULL;
	}
	if (con_png_decode(png, len, &rgba, &w, &h, cause) != 0)
		return NULL;
	chafa_set_n_threads(1);
	chafa_calc_canvas_geometry(w, h, &cw, &ch, (float)cell_w / (float)cell_h, TRUE, FALSE);
	if (cw < 1)
		cw = 1;
	if (ch < 1)
		ch = 1;
	cfg = chafa_canvas_config_new();
	chafa_canvas_config_set_geometry(cfg, cw, ch);
	chafa_canvas_config_set_cell_geometry(cfg, cell_w, cell_h);
	chafa_canvas_config_set_pixel_mode(cfg, mode == CON_PIXELS_KITTY ? CHAFA_PIXEL_MODE_KITTY :
	    CHAFA_PIXEL_MODE_SIXELS);
	chafa_canvas_config_set_canvas_mode(cfg, CHAFA_CANVAS_MODE_TRUECOLOR);
	canvas = chafa_canvas_new(cfg);
	chafa_canvas_draw_all_pixels(canvas, CHAFA_PIXEL_RGBA8_UNASSOCIATED, rgba, w, h, w * 4);
	free(rgba);
	ti = chafa_term_db_detect(chafa_term_db_get_default(), envp);
	gs = chafa_canvas_print(canvas, ti);
	out = xstrdup(gs->str);
	g_string_free(gs, TRUE);
	chafa_term_info_unref(ti);
	chafa_canvas_unref(canvas);
	chafa_canvas_config_unref(cfg);
	*used_cols = cw;
	*used_rows = ch;
	return out;
}

#endif
