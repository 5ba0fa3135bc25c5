/*
 * draw.c: what every view draws with. Text goes through con_put alone:
 * it decodes UTF-8 with the C library, shows what is not printable (a
 * C0 or C1 control, a broken sequence, anything under --ascii beyond
 * ASCII) as '?', counts display columns with wcwidth, and cuts with an
 * ellipsis; no byte of a gateway's or a user program's text reaches
 * the terminal otherwise. Also table columns that give way on a narrow
 * screen, bars, sparklines, and durations and times for people.
 *
 * Pure drawing into a WINDOW: no model, no state.
 */
#include "config.h"
#include "tui.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wchar.h>
#include <wctype.h>

#include "client.h"
#include "common.h"

#define CON_PUT_MAX 1024	/* characters drawn by one call at most */

/* Golden screens: every time and duration drawn as "~" (PAIA_CONSOLE_TEST_TIMES). */
static int con_times_frozen;

/* One character of s at *i: its wide char (L'?' when not showable) and columns. */
static wchar_t
con_next(const char *s, size_t len, size_t *i, mbstate_t *ps, int *cols)
{
	wchar_t wc;
	size_t n;
	int w;

	n = mbrtowc(&wc, s + *i, len - *i, ps);
	if (n == (size_t)-1 || n == (size_t)-2 || n == 0) {
		memset(ps, 0, sizeof *ps);
		*i += 1;
		*cols = 1;
		return L'?';
	}
	*i += n;
	if (!iswprint((wint_t)wc) || (con_screen_ascii() && wc > 0x7e) ||
	    (w = wcwidth(wc)) < 0) {
		*cols = 1;
		return L'?';
	}
	*cols = w;
	return wc;
}

int
con_width(const char *s)
{
	mbstate_t ps;
	size_t i = 0, len = strlen(s);
	int w = 0, c;

	memset(&ps, 0, sizeof ps);
	while (i < len) {
		con_next(s, len, &i, &ps, &c);
		w += c;
	}
	return w;
}

int
con_put(WINDOW *w, int y, int x, int width, attr_t attr, enum con_align align, int pad,
    const char *s)
{
	wchar_t buf[CON_PUT_MAX + 2];
	const wchar_t *ell;
	mbstate_t ps;
	size_t i = 0, len, n = 0;
	int used = 0, c, total, maxx, maxy, lead = 0;
	wchar_t wc, ellw[4];

	getmaxyx(w, maxy, maxx);
	if (y < 0 || y >= maxy || x >= maxx || width <= 0)
		return 0;
	if (x + width > maxx)
		width = maxx - x;
	if (s == NULL)
		s = "";
	len = strlen(s);
	total = con_width(s);
	/* The ellipsis as wide characters (one column in either glyph set). */
	mbstowcs(ellw, con_glyph(CON_G_ELLIPSIS), 3);
	ellw[1] = L'\0';
	ell = ellw;
	memset(&ps, 0, sizeof ps);
	while (i < len && n < CON_PUT_MAX) {
		wc = con_next(s, len, &i, &ps, &c);
		/* Cut: keep a column for the ellipsis. */
		if (total > width && used + c > width - 1) {
			if (width > 0 && used < width)
				buf[n++] = ell[0], used++;
			break;
		}
		buf[n++] = wc;
		used += c;
	}
	buf[n] = L'\0';
	if (align == CON_RIGHT && used < width)
		lead = width - used;
	wattr_set(w, attr, PAIR_NUMBER(attr), NULL);
	if (lead > 0 && pad)
		mvwhline(w, y, x, ' ' | (chtype)attr, lead);
	mvwaddnwstr(w, y, x + lead, buf, (int)n);
	if (pad && align == CON_LEFT && used < width)
		mvwhline(w, y, x + lead + used, ' ' | (chtype)attr, width - used);
	wattr_set(w, A_NORMAL, 0, NULL);
	return pad ? width : lead + used;
}

int
con_putf(WINDOW *w, int y, int x, int width, attr_t attr, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	xvasprintf(&s, fmt, ap);
	va_end(ap);
	n = con_put(w, y, x, width, attr, CON_LEFT, 0, s);
	free(s);
	return n;
}

void
con_spark(WINDOW *w, int y, int x, int width, attr_t attr, const struct con_series *s)
{
	int64_t max = 0, v;
	size_t n = s->n < (size_t)width ? s->n : (size_t)width, i;
	int level;

	if (con_times_frozen) {
		/* How many samples there are depends on time. */
		if (n > 0)
			con_put(w, y, x + width - 1, 1, attr, CON_LEFT, 0, "~");
		return;
	}
	for (i = 0; i < n; i++)
		if ((v = con_series_at(s, i)) > max)
			max = v;
	wattr_set(w, attr, PAIR_NUMBER(attr), NULL);
	for (i = 0; i < n; i++) {
		v = con_series_at(s, i);
		/* Zero is the lowest bar; anything above it shows at least one step. */
		level = max <= 0 || v <= 0 ? 0 : 1 + (int)((v * 6 + max - 1) / max);
		if (level > 7)
			level = 7;
		mvwaddstr(w, y, x + width - 1 - (int)i, con_glyph(CON_G_SPARK0 + level));
	}
	wattr_set(w, A_NORMAL, 0, NULL);
}

void
con_bar(WINDOW *w, int y, int x, int width, double value, double max)
{
	int fill, i;
	enum con_color c;
	double frac;

	if (width < 3)
		return;
	frac = max > 0 && value > 0 ? value / max : 0;
	if (frac > 1)
		frac = 1;
	fill = (int)(frac * (width - 2) + 0.5);
	c = frac >= 0.9 ? CON_C_BAD : frac >= 0.6 ? CON_C_WARN : CON_C_OK;
	mvwaddstr(w, y, x, "[");
	wattr_set(w, con_attr(c), PAIR_NUMBER(con_attr(c)), NULL);
	for (i = 0; i < fill; i++)
		mvwaddstr(w, y, x + 1 + i, con_glyph(CON_G_BAR_FULL));
	wattr_set(w, con_attr(CON_C_DIM), PAIR_NUMBER(con_attr(CON_C_DIM)), NULL);
	for (; i < width - 2; i++)
		mvwaddstr(w, y, x + 1 + i, con_glyph(CON_G_BAR_EMPTY));
	wattr_set(w, A_NORMAL, 0, NULL);
	mvwaddstr(w, y, x + width - 1, "]");
}

void
con_fmt_freeze(int on)
{
	con_times_frozen = on;
}

int
con_fmt_frozen(void)
{
	return con_times_frozen;
}

char *
con_fmt_dur(int64_t ms, char *buf, size_t len)
{
	if (con_times_frozen && ms >= 0)
		snprintf(buf, len, "~");
	else if (ms >= 0 && ms < 1000)
		snprintf(buf, len, "%lldms", (long long)ms);
	else
		client_text_duration(ms, buf, len);
	return buf;
}

char *
con_fmt_rate(double per_min, char *buf, size_t len)
{
	if (con_times_frozen)
		snprintf(buf, len, "~");
	else if (per_min < 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.1f", per_min);
	return buf;
}

char *
con_fmt_clock(int64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (con_times_frozen && ms > 0) {
		snprintf(buf, len, "~");
		return buf;
	}
	if (ms <= 0 || gmtime_r(&t, &tm) == NULL) {
		snprintf(buf, len, "-");
		return buf;
	}
	snprintf(buf, len, "%02d:%02d:%02d.%03d", tm.tm_hour, tm.tm_min, tm.tm_sec,
	    (int)(ms % 1000));
	return buf;
}

char *
con_fmt_bytes(int64_t n, char *buf, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	size_t u = 0;

	if (n < 0) {
		snprintf(buf, len, "-");
		return buf;
	}
	while (v >= 1024 && u + 1 < nitems(units)) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%lld B", (long long)n);
	else
		snprintf(buf, len, "%.1f %s", v, units[u]);
	return buf;
}

enum con_color
con_state_color(enum task_state st, int has_status, enum result_status status)
{
	switch (st) {
	case TASK_DONE:
		return CON_C_OK;
	case TASK_FAILED:
		return has_status && status == RESULT_CANCELLED ? CON_C_WARN : CON_C_BAD;
	case TASK_RUNNING:
		return CON_C_VALUE;
	case TASK_RECEIVED:
		return CON_C_DIM;
	case TASK_UPLOAD_WAIT:
		return CON_C_WARN;	/* storage away: its outputs wait on disk */
	default:
		return CON_C_NORMAL;
	}
}

enum con_color
con_health_color(enum health_status h)
{
	switch (h) {
	case HEALTH_OK:
		return CON_C_OK;
	case HEALTH_WARN:
		return CON_C_WARN;
	default:
		return CON_C_BAD;
	}
}

#define CON_FLEX_MIN 12	/* the flexible column, before other columns take the room */

int
con_cols_layout(struct con_col *c, size_t n, int width)
{
	size_t i, flex = n;
	int used = 0, shown = 0, x = 0;
	int keep;

	for (i = 0; i < n; i++)
		c[i].shown = 0;
	/* Keep columns by priority while their fixed widths fit. */
	for (keep = 0; keep < 10; keep++) {
		for (i = 0; i < n; i++) {
			if (c[i].keep != keep)
				continue;
			if (c[i].width == 0) {
				if (used + (shown > 0) + CON_FLEX_MIN <= width) {
					c[i].shown = 1;
					flex = i;
					used += (shown > 0) + CON_FLEX_MIN;
					shown++;
				}
				continue;
			}
			if (used + (shown > 0) + c[i].width <= width) {
				c[i].shown = 1;
				used += (shown > 0) + c[i].width;
				shown++;
			}
		}
	}
	for (i = 0; i < n; i++) {
		if (!c[i].shown)
			continue;
		if (x > 0)
			x++;
		c[i].x = x;
		c[i].w = c[i].width > 0 ? c[i].width : CON_FLEX_MIN;
		if (i == flex)
			c[i].w += width - used;
		x += c[i].w;
	}
	return shown;
}

void
con_cols_title(WINDOW *w, int y, const struct con_col *c, size_t n, int sorted, int reverse)
{
	attr_t a = con_attr(CON_C_TITLE);
	char title[64];
	size_t i;
	int maxx = getmaxx(w);

	wattr_set(w, a, PAIR_NUMBER(a), NULL);
	mvwhline(w, y, 0, ' ' | (chtype)a, maxx);
	for (i = 0; i < n; i++) {
		if (!c[i].shown)
			continue;
		if ((int)i == sorted)
			snprintf(title, sizeof title, "%s%s", c[i].title, reverse ? "^" : "v");
		else
			snprintf(title, sizeof title, "%s", c[i].title);
		con_put(w, y, c[i].x, c[i].w, a, c[i].align, 1, title);
	}
	wattr_set(w, A_NORMAL, 0, NULL);
}

int
con_wrap_rows(const char *s, int width)
{
	int w = con_width(s);

	if (width <= 0)
		return 1;
	return w == 0 ? 1 : (w + width - 1) / width;
}

int
con_put_wrap(WINDOW *w, int y, int x, int width, int max, attr_t attr, const char *s)
{
	char chunk[CON_PUT_MAX * 4 + 1];
	mbstate_t ps;
	size_t i = 0, start = 0, len = strlen(s), n;
	int rows = 0, used = 0, c;

	if (width <= 0 || max <= 0)
		return 0;
	memset(&ps, 0, sizeof ps);
	while (rows < max) {
		start = i;
		used = 0;
		while (i < len) {
			size_t before = i;
			mbstate_t save = ps;

			con_next(s, len, &i, &ps, &c);
			if (used + c > width) {
				i = before;
				ps = save;
				break;
			}
			used += c;
		}
		n = i - start < sizeof chunk - 1 ? i - start : sizeof chunk - 1;
		memcpy(chunk, s + start, n);
		chunk[n] = '\0';
		con_put(w, y + rows, x, width, attr, CON_LEFT, 0, chunk);
		rows++;
		if (i >= len || i == start)
			break;
	}
	return rows;
}
