/*
 * test-preview.c: the console's frame preview (tui/preview.c) and the
 * player's argv (tui/player.c). A PNG made here with libpng renders to
 * a canvas of the room asked (aspect kept), holding something besides
 * blanks, printable symbols only (ASCII under --ascii, no colour under
 * NO_COLOR, palette indexes within the terminal's colours, RGB on a
 * direct-colour one); a PNG cut short, one with a broken IDAT, one over the
 * size caps and bytes that are no PNG are refused with a reason and
 * nothing kept (LeakSanitizer under --enable-asan). $PAIA_PLAYER is
 * split on spaces, the file last, never through a shell. Images (kitty,
 * sixel) only where chafa's terminal database says the terminal shows
 * them and never inside tmux or screen, and then chafa's escapes.
 */
#include "config.h"
#include "tui.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common.h"

#ifdef HAVE_CHAFA
#include <png.h>

struct membuf {
	unsigned char *p;
	size_t len, cap;
};

static void
mem_write(png_structp png, png_bytep data, size_t n)
{
	struct membuf *b = png_get_io_ptr(png);

	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2;
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
}

static void
mem_flush(png_structp png)
{
}

/* A w x h RGB PNG: a colour gradient with a dark square, so a picture has shapes. */
static unsigned char *
make_png(int w, int h, size_t *len)
{
	struct membuf b = { NULL, 0, 0 };
	png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	png_infop info = png_create_info_struct(png);
	unsigned char *row = xmalloc((size_t)w * 3);
	int x, y;

	assert_non_null(png);
	assert_non_null(info);
	if (setjmp(png_jmpbuf(png)))
		fail_msg("libpng could not write the test PNG");
	png_set_write_fn(png, &b, mem_write, mem_flush);
	png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB,
	    PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_write_info(png, info);
	for (y = 0; y < h; y++) {
		for (x = 0; x < w; x++) {
			int dark = x > w / 4 && x < w / 2 && y > h / 4 && y < h * 3 / 4;

			row[x * 3] = dark ? 10 : (unsigned char)(255 * x / w);
			row[x * 3 + 1] = dark ? 10 : (unsigned char)(255 * y / h);
			row[x * 3 + 2] = dark ? 10 : 200;
		}
		png_write_row(png, row);
	}
	png_write_end(png, NULL);
	png_destroy_write_struct(&png, &info);
	free(row);
	*len = b.len;
	return b.p;
}

static int
canvas_blank(const struct con_canvas *c)
{
	size_t i;

	for (i = 0; i < (size_t)c->cols * c->rows; i++)
		if (c->ch[i] != ' ' || c->fg[i] != c->bg[0] || c->bg[i] != c->bg[0])
			return 0;
	return 1;
}

static void
test_render_symbols(void **state)
{
	struct con_preview_opts o = { 0, 0, 256 };
	struct con_canvas c;
	unsigned char *png;
	char *cause = NULL;
	size_t len, i;

	png = make_png(160, 120, &len);
	assert_int_equal(con_preview_render(png, len, 40, 20, &o, &c, &cause), 0);
	assert_null(cause);
	/* Fitted into 40x20 cells, aspect kept: one side fills the room. */
	assert_true(c.cols <= 40 && c.rows <= 20);
	assert_true(c.cols == 40 || c.rows == 20);
	assert_true(c.cols >= 20 && c.rows >= 10);
	assert_false(canvas_blank(&c));
	for (i = 0; i < (size_t)c.cols * c.rows; i++) {
		assert_true(c.ch[i] >= 0x20 && !(c.ch[i] >= 0x7f && c.ch[i] < 0xa0));
		assert_true(c.fg[i] >= -1 && c.fg[i] < 256 && c.bg[i] >= -1 && c.bg[i] < 256);
	}
	con_canvas_free(&c);

	/* --ascii: ASCII symbols only; NO_COLOR: no colour at all, shapes still. */
	o.ascii = 1;
	o.mono = 1;
	assert_int_equal(con_preview_render(png, len, 30, 10, &o, &c, &cause), 0);
	assert_true(c.cols <= 30 && c.rows <= 10 && (c.cols == 30 || c.rows == 10));
	for (i = 0; i < (size_t)c.cols * c.rows; i++) {
		assert_true(c.ch[i] >= 0x20 && c.ch[i] <= 0x7e);
		assert_int_equal(c.fg[i], -1);
		assert_int_equal(c.bg[i], -1);
	}
	assert_false(canvas_blank(&c));
	con_canvas_free(&c);

	/* 16 colours: the palette's first 16 only. */
	o.ascii = o.mono = 0;
	o.colors = 16;
	assert_int_equal(con_preview_render(png, len, 20, 8, &o, &c, &cause), 0);
	for (i = 0; i < (size_t)c.cols * c.rows; i++)
		assert_true(c.fg[i] < 16 && c.bg[i] < 16);
	con_canvas_free(&c);

	/* A direct-colour terminal: RGB, several of them. */
	o.colors = CON_COLORS_DIRECT;
	assert_int_equal(con_preview_render(png, len, 20, 8, &o, &c, &cause), 0);
	{
		int distinct = 0;

		for (i = 0; i < (size_t)c.cols * c.rows; i++) {
			assert_true(c.fg[i] >= -1 && c.fg[i] <= 0xffffff);
			assert_true(c.bg[i] >= -1 && c.bg[i] <= 0xffffff);
			distinct += i > 0 && c.bg[i] != c.bg[i - 1];
		}
		assert_true(distinct > 5);
	}
	con_canvas_free(&c);
	free(png);
}

static void
expect_refused(const unsigned char *png, size_t len, const char *why)
{
	struct con_preview_opts o = { 0, 0, 256 };
	struct con_canvas c;
	char *cause = NULL;

	assert_int_equal(con_preview_render(png, len, 40, 20, &o, &c, &cause), -1);
	assert_non_null(cause);
	if (strstr(cause, why) == NULL)
		fail_msg("refused with \"%s\", not naming \"%s\"", cause, why);
	assert_null(c.ch);
	free(cause);
}

static void
test_render_refused(void **state)
{
	unsigned char *png, *bad;
	size_t len, i;

	png = make_png(64, 48, &len);
	/* Cut short: the header is there, the image data is not. */
	expect_refused(png, len / 2, "not a PNG that can be read");
	expect_refused(png, 40, "not a PNG that can be read");
	/* A broken IDAT (its CRC no longer matches). */
	bad = xmalloc(len);
	memcpy(bad, png, len);
	for (i = 0; i + 4 < len; i++)
		if (memcmp(bad + i, "IDAT", 4) == 0)
			break;
	assert_true(i + 12 < len);
	bad[i + 8] ^= 0xff;
	bad[i + 9] ^= 0x55;
	expect_refused(bad, len, "not a PNG that can be read");
	/* Over the caps: a side, the pixels in all, the bytes. */
	memcpy(bad, png, len);
	bad[16] = 0; bad[17] = 0; bad[18] = 0x13; bad[19] = 0x88;	/* 5000 wide */
	expect_refused(bad, len, "5000x48 pixels");
	bad[18] = 0x0f; bad[19] = 0xa0;				/* 4000 wide */
	bad[22] = 0x0f; bad[23] = 0xa0;				/* 4000 high */
	expect_refused(bad, len, "4000x4000 pixels");
	bad[18] = 0; bad[19] = 0;				/* 0 wide */
	expect_refused(bad, len, "0x4000 pixels");
	free(bad);
	bad = xcalloc(1, CON_PNG_BYTES_MAX + 1);
	memcpy(bad, png, len);
	expect_refused(bad, CON_PNG_BYTES_MAX + 1, "more than the");
	free(bad);
	/* Not a PNG at all. */
	expect_refused((const unsigned char *)"GIF89a.........................................",
	    48, "not a PNG");
	/* No room. */
	{
		struct con_preview_opts o = { 0, 0, 256 };
		struct con_canvas c;
		char *cause = NULL;

		assert_int_equal(con_preview_render(png, len, 0, 20, &o, &c, &cause), -1);
		assert_non_null(strstr(cause, "no room"));
		free(cause);
	}
	free(png);
}

static void
test_pixels(void **state)
{
	static char t_kitty[] = "TERM=xterm-kitty", t_foot[] = "TERM=foot",
	    t_tmux[] = "TERM=tmux-256color", t_xterm[] = "TERM=xterm-256color",
	    e_tmux[] = "TMUX=/tmp/tmux-0/default,1,0", e_sty[] = "STY=1.pts-0",
	    e_off[] = "PAIA_CONSOLE_GRAPHICS=symbols";
	char *kitty[] = { t_kitty, NULL };
	char *kitty_tmux[] = { t_kitty, e_tmux, NULL };
	char *foot[] = { t_foot, NULL };
	char *foot_off[] = { t_foot, e_off, NULL };
	char *foot_screen[] = { t_foot, e_sty, NULL };
	char *tmux[] = { t_tmux, NULL };
	char *xterm[] = { t_xterm, NULL };
	char *none[] = { NULL };
	unsigned char *png;
	char *img, *cause = NULL;
	size_t len;
	int uc = 0, ur = 0;

	/* As chafa's database says, never inside a multiplexer, never when told not to. */
	assert_int_equal(con_preview_pixels_detect(kitty), CON_PIXELS_KITTY);
	assert_int_equal(con_preview_pixels_detect(foot), CON_PIXELS_SIXEL);
	assert_int_equal(con_preview_pixels_detect(kitty_tmux), CON_PIXELS_NONE);
	assert_int_equal(con_preview_pixels_detect(foot_off), CON_PIXELS_NONE);
	assert_int_equal(con_preview_pixels_detect(foot_screen), CON_PIXELS_NONE);
	assert_int_equal(con_preview_pixels_detect(tmux), CON_PIXELS_NONE);
	assert_int_equal(con_preview_pixels_detect(xterm), CON_PIXELS_NONE);
	assert_int_equal(con_preview_pixels_detect(none), CON_PIXELS_NONE);

	png = make_png(160, 120, &len);
	img = con_preview_pixels(png, len, 40, 20, 10, 20, CON_PIXELS_KITTY, kitty, &uc, &ur,
	    &cause);
	assert_non_null(img);
	assert_true(strncmp(img, "\033_G", 3) == 0);
	assert_true(uc >= 1 && uc <= 40 && ur >= 1 && ur <= 20 && (uc == 40 || ur == 20));
	free(img);
	img = con_preview_pixels(png, len, 40, 20, 10, 20, CON_PIXELS_SIXEL, foot, &uc, &ur,
	    &cause);
	assert_non_null(img);
	assert_non_null(strstr(img, "\033P"));
	assert_non_null(strstr(img, "\033\\"));
	free(img);
	assert_null(con_preview_pixels(png, len / 2, 40, 20, 10, 20, CON_PIXELS_SIXEL, foot, &uc,
	    &ur, &cause));
	assert_non_null(strstr(cause, "not a PNG that can be read"));
	free(cause);
	assert_null(con_preview_pixels(png, len, 40, 20, 0, 20, CON_PIXELS_SIXEL, foot, &uc, &ur,
	    &cause));
	assert_non_null(strstr(cause, "no room"));
	free(cause);
	free(png);
}

#else

static void
test_render_missing(void **state)
{
	struct con_preview_opts o = { 0, 0, 256 };
	struct con_canvas c;
	char *cause = NULL;

	assert_int_equal(con_preview_available(), 0);
	assert_int_equal(con_preview_render((const unsigned char *)"x", 1, 10, 10, &o, &c,
	    &cause), -1);
	assert_non_null(strstr(cause, "previews need libchafa"));
	free(cause);
}

#endif

static void
test_player_argv(void **state)
{
	char **argv, *cause = NULL;

	argv = con_player_argv("  mpv  --loop --title=a;b  ", "/tmp/x y.mp4", &cause);
	assert_non_null(argv);
	assert_string_equal(argv[0], "mpv");
	assert_string_equal(argv[1], "--loop");
	assert_string_equal(argv[2], "--title=a;b");
	assert_string_equal(argv[3], "/tmp/x y.mp4");
	assert_null(argv[4]);
	con_argv_free(argv);

	assert_null(con_player_argv(NULL, "f", &cause));
	assert_non_null(strstr(cause, "PAIA_PLAYER is not set"));
	free(cause);
	assert_null(con_player_argv("   ", "f", &cause));
	assert_non_null(strstr(cause, "PAIA_PLAYER is not set"));
	free(cause);

	/* A player that cannot run is said so, nothing is started. */
	assert_int_equal(con_player_spawn("/nonexistent/player --x", "/tmp/f", 0, &cause), -1);
	assert_non_null(strstr(cause, "/nonexistent/player is not a program that can be run"));
	free(cause);
	assert_int_equal(con_player_spawn("no-such-player-paia", "/tmp/f", 0, &cause), -1);
	assert_non_null(strstr(cause, "no-such-player-paia is not a program"));
	free(cause);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#ifdef HAVE_CHAFA
		cmocka_unit_test(test_render_symbols),
		cmocka_unit_test(test_render_refused),
		cmocka_unit_test(test_pixels),
#else
		cmocka_unit_test(test_render_missing),
#endif
		cmocka_unit_test(test_player_argv),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
