/*
 * screen.c: the terminal, and nothing drawn on it. It takes the
 * terminal (newterm: a missing or unknown one is an error, not an exit
 * inside ncurses), picks colours (none with NO_COLOR, --mono or a
 * terminal without them: attributes instead) and glyphs (UTF-8 box and
 * block characters, or ASCII under --ascii or a locale that is not
 * UTF-8), follows resizes, and gives the terminal back: on quit, on a
 * fatal error before the message is printed (htop's CRT_fatalError),
 * and on a crash before the signal's default action.
 *
 * While it holds a terminal that is also stderr, stderr goes to a pipe
 * (what the libraries log would draw over the screen): the loop shows
 * those lines on the status line, and what is left in the pipe is
 * written to the real stderr when the terminal is given back, so a
 * library's fatal message (fatalx, then exit) or a sanitizer's report
 * is not lost on the alternate screen. The pipe does not block: a full
 * one drops lines.
 *
 * Signals that end the console normally (SIGINT, SIGTERM, SIGHUP) and
 * SIGWINCH are console.c's, through the loop; only crashes are caught
 * here.
 */
#include "config.h"
#include "tui.h"

#include <sys/ioctl.h>

#include <fcntl.h>
#include <langinfo.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static SCREEN *con_scr;
static int con_active;
static int con_err_saved = -1;	/* the real stderr while it goes to the pipe */
static int con_err_pipe = -1;	/* the pipe's read end */
static int con_ascii;
static attr_t con_attrs[CON_NCOLORS];

static const char *const con_glyphs_utf8[CON_NGLYPHS] = {
	"\u2502", "\u2500", "\u25cf", "\u2026", "\u2192", "\u2588", "\u2591",
	"\u2581", "\u2582", "\u2583", "\u2584", "\u2585", "\u2586", "\u2587", "\u2588",
};
static const char *const con_glyphs_ascii[CON_NGLYPHS] = {
	"|", "-", "*", "~", ">", "#", ".",
	"_", ".", "-", "~", "=", "+", "*", "#",
};

const char *
con_glyph(enum con_glyph g)
{
	return (con_ascii ? con_glyphs_ascii : con_glyphs_utf8)[g];
}

int
con_screen_ascii(void)
{
	return con_ascii;
}

attr_t
con_attr(enum con_color c)
{
	return con_attrs[c];
}

static void
con_colors_setup(int mono)
{
	static const struct {
		enum con_color c;
		short fg, bg;
		attr_t extra;
		attr_t mono;
	} map[] = {
		{ CON_C_NORMAL, -1, -1, 0, 0 },
		{ CON_C_HEADER, COLOR_CYAN, -1, 0, 0 },
		{ CON_C_VALUE, -1, -1, A_BOLD, A_BOLD },
		{ CON_C_TITLE, COLOR_BLACK, COLOR_GREEN, 0, A_REVERSE },
		{ CON_C_SELECT, COLOR_BLACK, COLOR_CYAN, 0, A_REVERSE | A_BOLD },
		{ CON_C_OK, COLOR_GREEN, -1, 0, 0 },
		{ CON_C_WARN, COLOR_YELLOW, -1, A_BOLD, A_BOLD },
		{ CON_C_BAD, COLOR_RED, -1, A_BOLD, A_BOLD | A_UNDERLINE },
		{ CON_C_DIM, COLOR_BLUE, -1, A_BOLD, A_DIM },
		{ CON_C_KEY, COLOR_CYAN, -1, A_BOLD, A_BOLD },
		{ CON_C_TAB, COLOR_BLACK, COLOR_YELLOW, 0, A_REVERSE },
		{ CON_C_PROMPT, COLOR_YELLOW, -1, A_BOLD, A_BOLD },
	};
	size_t i;

	if (!mono) {
		start_color();
		use_default_colors();
	}
	for (i = 0; i < sizeof map / sizeof map[0]; i++) {
		if (mono) {
			con_attrs[map[i].c] = map[i].mono;
			continue;
		}
		init_pair((short)(i + 1), map[i].fg, map[i].bg);
		con_attrs[map[i].c] = COLOR_PAIR((int)(i + 1)) | map[i].extra;
	}
}

/* Put stderr back and copy what the pipe still holds to it. */
static void
con_err_restore(void)
{
	char buf[4096];
	ssize_t n;

	if (con_err_saved < 0)
		return;
	dup2(con_err_saved, STDERR_FILENO);
	close(con_err_saved);
	con_err_saved = -1;
	while ((n = read(con_err_pipe, buf, sizeof buf)) > 0)
		if (write(STDERR_FILENO, buf, (size_t)n) < 0)
			break;
	close(con_err_pipe);
	con_err_pipe = -1;
}

/* stderr into a pipe while stderr is the terminal we draw on. */
static void
con_err_capture(void)
{
	int p[2];

	if (!isatty(STDERR_FILENO) || pipe2(p, O_NONBLOCK | O_CLOEXEC) != 0)
		return;
	if ((con_err_saved = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3)) < 0) {
		close(p[0]);
		close(p[1]);
		return;
	}
	dup2(p[1], STDERR_FILENO);
	close(p[1]);
	con_err_pipe = p[0];
}

int
con_screen_errfd(void)
{
	return con_err_pipe;
}

/* A crash: the terminal back first, then the signal's own action. */
static void
con_crash(int sig)
{
	if (con_active) {
		endwin();
		con_active = 0;
	}
	con_err_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* exit() from anywhere (a library's fatalx): the terminal back, its words kept. */
static void
con_atexit(void)
{
	con_screen_end();
}

static void
con_crash_handlers(void)
{
	static const int sigs[] = {
#if !defined(__SANITIZE_ADDRESS__)
		SIGSEGV, SIGBUS,	/* AddressSanitizer reports these itself */
#endif
		SIGFPE, SIGILL, SIGABRT,
	};
	struct sigaction sa;
	size_t i;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = con_crash;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESETHAND;
	for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		sigaction(sigs[i], &sa, NULL);
}

int
con_screen_init(struct con_screen_opts *o)
{
	const char *term = getenv("TERM");
	const char *codeset = nl_langinfo(CODESET);

	if (term == NULL || *term == '\0') {
		fprintf(stderr, "paia-console: TERM is not set: which terminal is this?\n");
		return -1;
	}
	if ((con_scr = newterm(NULL, stdout, stdin)) == NULL) {
		fprintf(stderr, "paia-console: cannot use the terminal '%s' (unknown to terminfo?)\n",
		    term);
		return -1;
	}
	set_term(con_scr);
	con_active = 1;
	con_crash_handlers();
	con_err_capture();
	atexit(con_atexit);
	if (codeset == NULL || strcmp(codeset, "UTF-8") != 0)
		o->ascii = 1;	/* the locale cannot show what UTF-8 glyphs need */
	con_ascii = o->ascii;
	if (!has_colors())
		o->mono = 1;
	con_colors_setup(o->mono);
	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	set_escdelay(25);
	curs_set(0);
	leaveok(stdscr, TRUE);
	return 0;
}

void
con_screen_end(void)
{
	if (!con_active)
		return;
	con_active = 0;
	curs_set(1);
	endwin();
	fflush(stdout);
	con_err_restore();
}

static uint64_t con_epoch;

void
con_screen_clear(void)
{
	clearok(curscr, TRUE);
	con_epoch++;
}

uint64_t
con_screen_epoch(void)
{
	return con_epoch;
}

void
con_screen_resize(void)
{
	struct winsize ws;

	if (!con_active)
		return;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0)
		resizeterm(ws.ws_row, ws.ws_col);
	else
		resizeterm(LINES, COLS);
	con_screen_clear();
}

void
con_fatal(const char *fmt, ...)
{
	va_list ap;

	con_screen_end();
	fputs("paia-console: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}
