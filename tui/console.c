/*
 * console.c: paia-console, the operator's board (k9s for the gateway,
 * nvtop for its GPUs): main, options, and the loop. One libevent base
 * runs everything: the connection (feed.c, over a Unix socket or SSH),
 * the keyboard, a frame timer, the signals, and the pipe stderr goes to
 * while the screen is up.
 *
 * A frame is built and drawn only when something changed (the model,
 * the UI, the second shown by ages and uptimes) and at most 10 times a
 * second; drawing reads the model and never waits on the network. With
 * -n N it runs N frame ticks and exits (tests, sanitizers).
 *
 * It keeps no state between runs. Under --readonly it has no action
 * that changes the gateway.
 */
#include "config.h"
#include "tui.h"

#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/dns.h>
#include <event2/event.h>

#include "client.h"
#include "common.h"
#include "options.h"

#define CON_FRAME_MS 100		/* at most 10 frames a second */
#define CON_MIN_COLS 80
#define CON_MIN_ROWS 24

extern char **environ;

/* PAIA_CONSOLE_FRAME_LOG: how long frames took (bench/console), written at exit. */
#define CON_FRAME_SAMPLES 100000
struct con_frames {
	char *path;
	uint32_t *us;		/* each frame's build and draw, microseconds */
	size_t n;
};

struct con_loop {
	struct con *con;
	struct event_base *base;
	struct evdns_base *dns;
	WINDOW *header, *body, *status;
	struct event *input;
	uint64_t drawn_model, drawn_ui;
	int64_t drawn_sec;
	int resized;
	long long ticks;
	int quit;
	struct con_frames frames;
};

static int64_t
con_clock_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int
con_u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* "frames N p50_us X p99_us Y max_us Z" into the log file. */
static void
con_frames_write(struct con_frames *f)
{
	FILE *out;

	if (f->path == NULL)
		return;
	if ((out = fopen(f->path, "w")) != NULL) {
		if (f->n > 0) {
			qsort(f->us, f->n, sizeof *f->us, con_u32_cmp);
			fprintf(out, "frames %zu p50_us %u p99_us %u max_us %u\n", f->n,
			    f->us[f->n / 2], f->us[f->n * 99 / 100], f->us[f->n - 1]);
		} else
			fprintf(out, "frames 0\n");
		fclose(out);
	}
	free(f->us);
	f->us = NULL;
}

/* PAIA_CONSOLE_NOW (ms since the epoch, or RFC 3339): the wall clock pinned, for tests. */
static int64_t con_now_pinned;

static int64_t
con_clock_now(void)
{
	return con_now_pinned > 0 ? con_now_pinned : util_now_ms();
}

static int64_t
con_clock_mono(void)
{
	return util_mono_ms();
}

/* The test hooks of the environment (paia-console(1), ENVIRONMENT). */
static int
con_test_env(void)
{
	const char *s;
	long long v;

	if ((s = getenv("PAIA_CONSOLE_TEST_TIMES")) != NULL && *s != '\0' && strcmp(s, "0") != 0)
		con_fmt_freeze(1);
	if ((s = getenv("PAIA_CONSOLE_NOW")) != NULL && *s != '\0') {
		if (util_parse_int(s, 1, INT64_MAX, &v) == 0)
			con_now_pinned = v;
		else if (util_time_parse(s, &con_now_pinned) != 0 || con_now_pinned <= 0) {
			fprintf(stderr, "paia-console: PAIA_CONSOLE_NOW=%s: ms since the epoch or an "
			    "RFC 3339 time\n", s);
			return -1;
		}
	}
	return 0;
}

static void
con_usage(FILE *f)
{
	fprintf(f,
	    "usage: paia-console [-hV] [-S socket] [-d statedir] [-c config] [--readonly]\n"
	    "                    [--ascii] [--mono] [-n cycles]\n"
	    "       paia-console --ssh [user@]host[:port] [--socket PATH] [-i keyfile]\n"
	    "                    [--known-hosts FILE] [--paiactl COMMAND] [options above]\n"
	    "\n"
	    "  -S socket       the control socket (default: $PAIA_SOCKET, control.socket,\n"
	    "                  embedded.json, <statedir>/control.sock)\n"
	    "  -d statedir     the gateway's state folder ($PAIA_STATE_DIR, $TMPDIR/paia-<uid>)\n"
	    "  -c config       paia-gateway.conf (control.socket, gateway.state_dir)\n"
	    "  --ssh DEST      a gateway on another host, through SSH: its paiactl dial-stdio\n"
	    "  --socket PATH   with --ssh: the control socket on that host\n"
	    "  -i keyfile      with --ssh: the private key (default: the ssh-agent)\n"
	    "  --known-hosts F with --ssh: host keys (default: ~/.ssh/known_hosts)\n"
	    "  --paiactl CMD   with --ssh: paiactl on that host (default: paiactl)\n"
	    "  --readonly      no requeue, no cancel\n"
	    "  --ascii         ASCII only (also when the locale is not UTF-8)\n"
	    "  --mono          no colours (also with NO_COLOR set)\n"
	    "  -n cycles       draw that many frame ticks (100 ms each), then exit\n"
	    "\n"
	    "keys: 1-7 views, : command, / filter, ? help, esc back, q quit\n");
}

/* ---- the frame ---- */

/* (Re)make the three windows for the terminal's size. */
static void
con_windows(struct con_loop *l)
{
	int rows = LINES, cols = COLS;

	if (l->header != NULL) {
		delwin(l->header);
		delwin(l->body);
		delwin(l->status);
	}
	if (rows < CON_HEADER_ROWS + 2)
		rows = CON_HEADER_ROWS + 2;
	l->header = newwin(CON_HEADER_ROWS, cols, 0, 0);
	l->body = newwin(rows - CON_HEADER_ROWS - 1, cols, CON_HEADER_ROWS, 0);
	l->status = newwin(1, cols, rows - 1, 0);
	leaveok(l->header, TRUE);
	leaveok(l->body, TRUE);
	leaveok(l->status, TRUE);
}

void
con_frame(struct con *con, WINDOW *header, WINDOW *body, WINDOW *status)
{
	int rows, cols;

	getmaxyx(body, rows, cols);
	con->pixel_want = 0;
	werase(header);
	werase(body);
	werase(status);
	if (COLS < CON_MIN_COLS || LINES < CON_MIN_ROWS) {
		con_putf(body, 0, 0, cols, con_attr(CON_C_WARN),
		    "the terminal is %dx%d; paia-console needs at least %dx%d", COLS, LINES,
		    CON_MIN_COLS, CON_MIN_ROWS);
	} else {
		con_header_draw(con, header, cols);
		if (con->ui.help)
			con_help_draw(con, body, rows, cols);
		else
			con->ui.view->draw(con, body, rows, cols);
		con_link_banner(con, body, rows, cols);
		con_status_draw(con, status, cols);
	}
	wnoutrefresh(header);
	wnoutrefresh(body);
	wnoutrefresh(status);
	doupdate();
	con_videos_pixels(con);
}

static void
con_frame_tick(evutil_socket_t fd, short what, void *arg)
{
	struct con_loop *l = arg;
	struct con *con = l->con;
	int64_t sec;

	con->now = con_clock_now();
	con->mono = util_mono_ms();
	sec = con->mono / 1000;
	if (l->resized) {
		l->resized = 0;
		con_screen_resize();
		con_windows(l);
		l->drawn_model = ~(uint64_t)0;
	}
	if (con->model.gen != l->drawn_model || con->ui.gen != l->drawn_ui || sec != l->drawn_sec) {
		int64_t t0 = l->frames.path != NULL ? con_clock_us() : 0;

		con_frame(con, l->header, l->body, l->status);
		if (l->frames.path != NULL && l->frames.n < CON_FRAME_SAMPLES)
			l->frames.us[l->frames.n++] = (uint32_t)(con_clock_us() - t0);
		l->drawn_model = con->model.gen;
		l->drawn_ui = con->ui.gen;
		l->drawn_sec = sec;
	}
	if (con->o.cycles > 0 && ++l->ticks >= con->o.cycles)
		event_base_loopbreak(l->base);
}

/* ---- input and signals ---- */

static void
con_stdin_cb(evutil_socket_t fd, short what, void *arg)
{
	struct con_loop *l = arg;
	struct con *con = l->con;
	wint_t wch;
	int r, flags, n = 0;

	con->now = con_clock_now();
	con->mono = util_mono_ms();
	while ((r = wget_wch(stdscr, &wch)) != ERR) {
		if (r == KEY_CODE_YES && wch == KEY_RESIZE) {
			l->resized = 1;
			continue;
		}
		/* Ordinary keys above ASCII are not commands: typed text only. */
		flags = con_input_key(con, r == KEY_CODE_YES ? (int)wch + 0x10000 :
		    (int)wch);
		if (flags & CON_KEY_QUIT) {
			l->quit = 1;
			event_base_loopbreak(l->base);
			return;
		}
		if (flags & CON_KEY_REDRAW)
			con->ui.gen++;
		n++;
	}
	if (n == 0 && (what & EV_READ)) {
		/*
		 * Readable, and ncurses (which reads all there is) got nothing:
		 * the end of input. A terminal that ends is gone; anything else
		 * (-n under /dev/null) just stops being read.
		 */
		struct pollfd pfd = { STDIN_FILENO, POLLIN, 0 };
		unsigned char c;
		ssize_t got;

		if (poll(&pfd, 1, 0) != 1)
			return;	/* ncurses took what there was (half a sequence) */
		got = read(STDIN_FILENO, &c, 1);
		if (got == 1)
			ungetch(c);	/* it came just now */
		else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
			event_del(l->input);
			if (isatty(STDIN_FILENO)) {
				l->quit = 1;
				event_base_loopbreak(l->base);
			}
		}
	}
}

static void
con_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct con_loop *l = arg;

	if (sig == SIGWINCH) {
		l->resized = 1;
		return;
	}
	l->quit = 1;
	event_base_loopbreak(l->base);
}

/* What the libraries wrote to stderr while the screen is up: shown, one line at a time. */
static void
con_stderr_cb(evutil_socket_t fd, short what, void *arg)
{
	struct con_loop *l = arg;
	char buf[2048], *nl, *line;
	ssize_t n;

	if ((n = read(fd, buf, sizeof buf - 1)) <= 0)
		return;
	buf[n] = '\0';
	/* The last whole line, as the message. */
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	line = (nl = strrchr(buf, '\n')) != NULL ? nl + 1 : buf;
	con_message(l->con, 1, "%s", line);
}

/* ---- the transport ---- */

/* "[user@]host[:port]" into its parts (user defaults to ours). */
static int
con_ssh_dest(const char *dest, char **user, char **host, int *port, char **cause)
{
	const char *at = strrchr(dest, '@'), *h = at != NULL ? at + 1 : dest, *colon, *end;
	long long p = 22;

	*user = at != NULL ? xstrndup(dest, (size_t)(at - dest)) : NULL;
	if (*user == NULL) {
		const char *u = getenv("USER");

		*user = xstrdup(u != NULL && *u != '\0' ? u : "root");
	}
	if (*h == '[' && (end = strchr(h, ']')) != NULL) {
		*host = xstrndup(h + 1, (size_t)(end - h - 1));
		colon = end[1] == ':' ? end + 1 : NULL;
	} else if ((colon = strchr(h, ':')) != NULL && strchr(colon + 1, ':') == NULL)
		*host = xstrndup(h, (size_t)(colon - h));
	else {
		*host = xstrdup(h);
		colon = NULL;
	}
	if (colon != NULL && util_parse_int(colon + 1, 1, 65535, &p) != 0) {
		xasprintf(cause, "--ssh %s: the port must be 1 to 65535", dest);
		goto fail;
	}
	if (**user == '\0' || **host == '\0') {
		xasprintf(cause, "--ssh %s: give [user@]host[:port]", dest);
		goto fail;
	}
	*port = (int)p;
	return 0;
fail:
	free(*user);
	free(*host);
	return -1;
}

/* A word for a remote shell: single-quoted. */
static char *
con_shell_quote(const char *s)
{
	size_t n = 3, i, o = 0;
	char *q;

	for (i = 0; s[i] != '\0'; i++)
		n += s[i] == '\'' ? 4 : 1;
	q = xmalloc(n);
	q[o++] = '\'';
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] == '\'') {
			memcpy(q + o, "'\\''", 4);
			o += 4;
		} else
			q[o++] = s[i];
	}
	q[o++] = '\'';
	q[o] = '\0';
	return q;
}

struct con_args {
	struct client_locate_args where;
	const char *ssh, *remote_socket, *key_file, *known_hosts, *paiactl;
};

static struct client_transport *
con_transport(struct con_loop *l, const struct con_args *a, char **name, char **cause)
{
	struct client_location loc;
	struct ssh_options o;
	struct client_transport *tp = NULL;
	char *user = NULL, *host = NULL, *kh = NULL, *cmd, *qs;
	const char *home;
	int port = 22;

	if (a->ssh == NULL) {
		memset(&loc, 0, sizeof loc);
		if (client_locate(&a->where, CLIENT_LOCATE_SOCKET, &loc, cause) != 0) {
			client_location_clear(&loc);
			return NULL;
		}
		tp = client_transport_unix_new(loc.socket_path);
		xasprintf(name, "local");
		client_location_clear(&loc);
		return tp;
	}
	if (con_ssh_dest(a->ssh, &user, &host, &port, cause) != 0)
		return NULL;
	if (a->known_hosts != NULL)
		kh = xstrdup(a->known_hosts);
	else if ((home = getenv("HOME")) != NULL && *home != '\0')
		xasprintf(&kh, "%s/.ssh/known_hosts", home);
	else {
		xasprintf(cause, "--ssh: no --known-hosts and no $HOME to find ~/.ssh/known_hosts");
		goto out;
	}
	memset(&o, 0, sizeof o);
	o.host = host;
	o.port = port;
	o.user = user;
	o.key_file = a->key_file;
	o.known_hosts = kh;
	o.connect_timeout_ms = 10000;
	o.keepalive_s = 5;
	o.dns = l->dns;
	if (a->remote_socket != NULL) {
		qs = con_shell_quote(a->remote_socket);
		xasprintf(&cmd, "%s -S %s dial-stdio", a->paiactl, qs);
		free(qs);
	} else
		xasprintf(&cmd, "%s dial-stdio", a->paiactl);
	/* libssh2 1.11 reaches a named socket itself; else paiactl dial-stdio does. */
	tp = client_transport_ssh_new(l->base, &o, cmd, a->remote_socket);
	free(cmd);
	if (strchr(host, ':') != NULL)
		xasprintf(name, "ssh %s@[%s]:%d", user, host, port);
	else
		xasprintf(name, "ssh %s@%s:%d", user, host, port);
out:
	free(user);
	free(host);
	free(kh);
	return tp;
}

/* ---- main ---- */

enum {
	CON_OPT_SSH = 256, CON_OPT_SOCKET, CON_OPT_KNOWN_HOSTS, CON_OPT_PAIACTL, CON_OPT_READONLY,
	CON_OPT_ASCII, CON_OPT_MONO, CON_OPT_MAX_TASKS
};

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "ssh", required_argument, NULL, CON_OPT_SSH },
		{ "socket", required_argument, NULL, CON_OPT_SOCKET },
		{ "known-hosts", required_argument, NULL, CON_OPT_KNOWN_HOSTS },
		{ "paiactl", required_argument, NULL, CON_OPT_PAIACTL },
		{ "readonly", no_argument, NULL, CON_OPT_READONLY },
		{ "ascii", no_argument, NULL, CON_OPT_ASCII },
		{ "mono", no_argument, NULL, CON_OPT_MONO },
		{ "max-tasks", required_argument, NULL, CON_OPT_MAX_TASKS },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct con_screen_opts so;
	struct con_args a;
	struct con_loop l;
	struct con con;
	struct config *conf = NULL;
	struct feed_args fa;
	struct event *frame, *input, *errev = NULL, *sigs[4];
	static const int signums[4] = { SIGWINCH, SIGINT, SIGTERM, SIGHUP };
	struct timeval tv = { 0, CON_FRAME_MS * 1000 };
	struct client_transport *tp;
	struct stat st;
	const char *nc;
	char *cause = NULL, *name = NULL;
	long long v;
	int ch;
	size_t i;

	setlocale(LC_ALL, "");
	if (con_test_env() != 0)
		return 2;
	memset(&a, 0, sizeof a);
	memset(&con, 0, sizeof con);
	memset(&l, 0, sizeof l);
	a.paiactl = "paiactl";
	nc = getenv("NO_COLOR");
	con.o.mono = nc != NULL && *nc != '\0';
	while ((ch = getopt_long(argc, argv, "S:d:c:i:n:hV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'S':
			a.where.socket = optarg;
			break;
		case 'd':
			a.where.state_dir = optarg;
			break;
		case 'c':
			a.where.config_path = optarg;
			break;
		case 'i':
			a.key_file = optarg;
			break;
		case 'n':
			if (util_parse_int(optarg, 1, 1000000000, &v) != 0) {
				fprintf(stderr, "paia-console: -n %s: a number of cycles (1 or more)\n",
				    optarg);
				return 2;
			}
			con.o.cycles = v;
			break;
		case CON_OPT_SSH:
			a.ssh = optarg;
			break;
		case CON_OPT_SOCKET:
			a.remote_socket = optarg;
			break;
		case CON_OPT_KNOWN_HOSTS:
			a.known_hosts = optarg;
			break;
		case CON_OPT_PAIACTL:
			a.paiactl = optarg;
			break;
		case CON_OPT_READONLY:
			con.o.readonly = 1;
			break;
		case CON_OPT_ASCII:
			con.o.ascii = 1;
			break;
		case CON_OPT_MONO:
			con.o.mono = 1;
			break;
		case CON_OPT_MAX_TASKS:
			if (util_parse_int(optarg, 100, 10000000, &v) != 0) {
				fprintf(stderr, "paia-console: --max-tasks %s: 100 to 10000000\n",
				    optarg);
				return 2;
			}
			con.o.max_tasks = (size_t)v;
			break;
		case 'h':
			con_usage(stdout);
			return 0;
		case 'V':
			printf("paia-console %s\n", PACKAGE_VERSION);
			return 0;
		default:
			con_usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "paia-console: unexpected argument %s\n", argv[optind]);
		con_usage(stderr);
		return 2;
	}
	if (a.ssh == NULL && (a.remote_socket != NULL || a.key_file != NULL ||
	    a.known_hosts != NULL)) {
		fprintf(stderr, "paia-console: --socket, -i and --known-hosts go with --ssh "
		    "(a local socket is -S)\n");
		return 2;
	}
	if (a.ssh != NULL && (a.where.socket != NULL || a.where.state_dir != NULL)) {
		fprintf(stderr, "paia-console: -S and -d name a local gateway; with --ssh use "
		    "--socket PATH\n");
		return 2;
	}
	if (a.where.config_path != NULL) {
		conf = config_new(options_schema, options_passthrough);
		if (config_load_file(conf, a.where.config_path, &cause) != 0 ||
		    config_load_env(conf, environ, &cause) != 0) {
			fprintf(stderr, "paia-console: %s\n", cause);
			free(cause);
			config_free(conf);
			return 1;
		}
		a.where.conf = conf;
	}

	l.con = &con;
	if ((l.base = event_base_new()) == NULL) {
		fprintf(stderr, "paia-console: cannot make an event base\n");
		return 1;
	}
	if (a.ssh != NULL)
		l.dns = evdns_base_new(l.base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
		    EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if ((tp = con_transport(&l, &a, &name, &cause)) == NULL) {
		fprintf(stderr, "paia-console: %s\n", cause);
		free(cause);
		config_free(conf);
		return 1;
	}

	con.o.remote = a.ssh != NULL;
	con_model_init(&con.model, con.o.max_tasks);
	con.ui.view = &con_view_overview;
	con.ui.task_sort = -1;
	con.ui.log_hit = -1;
	con.ui.filter.state = con.ui.filter.status = -1;
	con.now = con_clock_now();
	con.mono = util_mono_ms();

	so.ascii = con.o.ascii;
	so.mono = con.o.mono;
	if (con_screen_init(&so) != 0) {
		tp->ops->free(tp);
		con_model_free(&con.model);
		config_free(conf);
		return 1;
	}
	con.o.ascii = so.ascii;
	con.o.mono = so.mono;
	/* Images only in colour and beyond ASCII, where the terminal says it shows them. */
	if (!con.o.ascii && !con.o.mono)
		con.pixels = con_preview_pixels_detect(environ);
	con_windows(&l);
	if ((nc = getenv("PAIA_CONSOLE_FRAME_LOG")) != NULL && *nc != '\0') {
		l.frames.path = (char *)nc;
		l.frames.us = xcalloc(CON_FRAME_SAMPLES, sizeof *l.frames.us);
	}

	memset(&fa, 0, sizeof fa);
	fa.base = l.base;
	fa.model = &con.model;
	fa.tp = tp;
	fa.name = name;
	fa.mono = con_clock_mono;
	if (a.ssh != NULL) {
		fa.idle_ms = 6000;	/* a round trip or two more than locally */
		fa.backoff_max_ms = 10000;
	}
	con.feed = feed_new(&fa);
	con_view_show(&con, con.ui.view, 0);

	frame = event_new(l.base, -1, EV_PERSIST, con_frame_tick, &l);
	event_add(frame, &tv);
	/* A terminal, a pipe or a socket can be waited on; /dev/null or a file cannot. */
	l.input = input = event_new(l.base, STDIN_FILENO, EV_READ | EV_PERSIST, con_stdin_cb, &l);
	if (isatty(STDIN_FILENO) || (fstat(STDIN_FILENO, &st) == 0 &&
	    (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))))
		event_add(input, NULL);
	if (con_screen_errfd() >= 0) {
		errev = event_new(l.base, con_screen_errfd(), EV_READ | EV_PERSIST, con_stderr_cb,
		    &l);
		event_add(errev, NULL);
	}
	for (i = 0; i < nitems(sigs); i++) {
		sigs[i] = evsignal_new(l.base, signums[i], con_signal_cb, &l);
		event_add(sigs[i], NULL);
	}
	/* The first frame at once, not a tick later. */
	con_frame_tick(-1, 0, &l);

	event_base_dispatch(l.base);

	con_screen_end();
	con_frames_write(&l.frames);
	for (i = 0; i < nitems(sigs); i++)
		event_free(sigs[i]);
	if (errev != NULL)
		event_free(errev);
	event_free(input);
	event_free(frame);
	feed_free(con.feed);
	con_fetch_free(&con);
	con_canvas_free(&con.canvas);
	free(con.canvas_error);
	free(con.pixel_img);
	delwin(l.header);
	delwin(l.body);
	delwin(l.status);
	if (l.dns != NULL)
		evdns_base_free(l.dns, 0);
	event_base_free(l.base);
	con_filter_clear(&con.ui.filter);
	free(con.ui.message);
	free(con.ui.log_search);
	free(con.rows);
	con_model_free(&con.model);
	config_free(conf);
	free(name);
	return 0;
}
