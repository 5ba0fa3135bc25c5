/*
 * tui.h: what the parts of paia-console share, split as htop is:
 *
 *  - model.c: plain structs of what the gateway said (status, lag,
 *    tasks, and the sources the gateway may offer: pods, GPUs, VPN, a
 *    log, videos), each source with a stale mark; bounded; fed only
 *    with lines and answers through proto/. No I/O, no drawing.
 *  - feed.c: the only user of the connection (client/): asks, and hands
 *    what comes back to the model; asks again after a resync.
 *  - screen.c: the terminal (ncurses init and endwin, colours or
 *    NO_COLOR, UTF-8 or --ascii, resizes, the fatal path).
 *  - preview.c: a video's frame (PNG) as text cells, with libchafa.
 *  - player.c: a video in $PAIA_PLAYER (downloaded first when remote).
 *  - draw.c: what every view draws with (clipped text, columns, bars,
 *    sparklines, durations).
 *  - header.c and view-*.c: one file a view; each draws from the model
 *    and the UI state only, and handles its keys.
 *  - input.c: the key map, the ':' command line, the '/' filter, the
 *    confirm step of actions; handlers return CON_KEY_* flags.
 *  - console.c: main, options, the libevent loop (the connection,
 *    stdin, the frame timer, signals).
 *
 * Single-threaded: everything runs in the loop of console.c.
 */
#ifndef PAIA_TUI_H
#define PAIA_TUI_H

#include <regex.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#ifndef NCURSES_WIDECHAR
#define NCURSES_WIDECHAR 1
#endif
#include <curses.h>

#include "proto.h"

struct con;

/* ---- model.c ---- */

/* Where the model's knowledge comes from; each has its own stale mark. */
enum con_src {
	CON_SRC_STATUS,
	CON_SRC_TASKS,
	CON_SRC_LAG,
	CON_SRC_PODS,
	CON_SRC_GPUS,
	CON_SRC_VPN,
	CON_SRC_LOGS,
	CON_SRC_VIDEOS,
	CON_NSRC
};

enum con_offer {
	CON_OFFER_UNKNOWN,	/* not asked yet */
	CON_OFFER_YES,
	CON_OFFER_NO,		/* the gateway refused the command as unknown */
};

struct con_source {
	enum con_offer offer;
	int64_t updated;	/* monotonic ms of the last good news; 0: never */
	char *error;		/* the last failure (cleaned), or NULL */
	int stale_ms;		/* older than this: stale */
};

/* Samples of one number over time (a sparkline). */
#define CON_SERIES_MAX 120
struct con_series {
	int64_t v[CON_SERIES_MAX];
	size_t n;		/* filled, up to CON_SERIES_MAX */
	size_t head;		/* next slot */
};

/* A partition as STATUS and LAG show it, joined. */
struct con_part {
	int32_t partition;
	int64_t committed;	/* -1: nothing */
	int64_t high;		/* log end, -1 unknown */
	int64_t lag;
	int64_t pending;
	int paused;
	/* from LAG */
	int has_health;
	enum health_status health;
	int healthy;
	double lag_s;
	struct con_series series;	/* its lag, a sample a second */
	int seen;			/* in the last STATUS */
};

struct con_status {
	int has;
	char instance[65];
	char version[33];
	int64_t pid;
	int64_t uptime_s;
	int64_t uptime_at;	/* monotonic ms the uptime was read */
	int embedded;
	char group_id[129];
	int64_t max_inflight, inflight, backlog, reporting;
	int paused, draining;
	int64_t states[TASK_NSTATES];
	int64_t totals[RESULT_NSTATUSES];
	int64_t dlq, skipped_done, tx_committed, tx_aborted;
};

/* A task as the list needs it; the open task's every field is in con_detail. */
struct con_task {
	char id[TASK_ID_MAX + 1];
	int attempt;
	char game[33];
	enum task_state state;
	int has_status;
	enum result_status status;
	int waiting;
	int32_t partition;
	int64_t offset;
	int64_t timeline[TASK_NSTATES];	/* wall ms; 0: not reached */
	int has_error;
	enum error_class eclass;
	char *error;			/* cleaned, capped; NULL */
	int has_score;
	double score;
	int64_t duration_ms;		/* -1: none */
	int has_video;

	/* the model's bookkeeping */
	struct con_task *hnext;		/* hash chain */
	size_t slot;			/* index in model->tasks */
	uint64_t seq;			/* order of first arrival */
	uint64_t touched;		/* order of the last change */
	int journaled;
	int gone;			/* removed; freed once the journal is taken */
	/* the tasks view's cache */
	uint64_t match_gen;
	int match;
};

/* The task open in the Task view: its every field, as the last answer said. */
struct con_detail {
	char id[TASK_ID_MAX + 1];
	int has;			/* an answer came */
	int64_t asked;			/* monotonic ms */
	char *error;			/* why there is none (refused, lost) */
	cJSON *root;			/* keeps v's strings */
	struct proto_task_view v;
};

/* A game pod (kubectl's columns). */
struct con_pod {
	char *name;
	char *task;
	int attempt;
	char *phase;
	char *status;			/* kubectl's STATUS: Running, ContainerCreating, OOMKilled... */
	char *ready;			/* "1/1" */
	int restarts;
	char *node;
	int64_t created;		/* wall ms; 0 unknown */
	/* the model's own */
	size_t at;			/* its index in the model's pods */
	uint64_t hash;			/* of name */
	struct con_pod *hnext;		/* the index by name */
};

/* One GPU of a node, as the gateway's prober last saw it. */
struct con_gpu {
	int index;
	char *name;
	int util;			/* percent; -1 unknown */
	int64_t mem_used, mem_total;	/* MiB; -1 unknown */
	int temp;			/* C; -1 */
	int power, power_limit;		/* W; -1 */
	char *task_id;			/* the first task of ours holding it, or NULL */
	char *task;			/* as shown: "t1#1" (more: "t1#1 +2"), or NULL */
	char *pod;			/* the first task's pod, or NULL */
	int others;			/* processes holding it that are no task of ours */
};
/* A GPU node: its cards, and whether its last round worked. */
struct con_gpu_node {
	char *node;
	enum proto_gpu_node_state state;
	char *stale;			/* why its last round failed; NULL */
	char *apps_error;		/* the process list failed: why */
	int64_t report_ms;		/* wall ms of the values shown; 0 none */
	struct con_gpu *cards;
	size_t ncards;
};

struct con_vpn {
	int has;			/* an answer or event came */
	int enabled;			/* 0: no tunnel configured (not an error) */
	char *state;			/* CONNECTED, RECONNECTING, ... */
	int healthy;			/* CONNECTED and every check passed */
	int64_t since;			/* wall ms */
	int64_t bytes_in, bytes_out;
	char *checks;			/* route and endpoint checks, one line */
	char *error;
};

/* The log of one task: a capped ring of lines, the offset read up to. */
#define CON_LOG_LINES 5000
#define CON_LOG_LINE_MAX 4096
struct con_log {
	char id[TASK_ID_MAX + 1];
	int attempt;			/* of the chunks read; 0 none yet */
	char *lines[CON_LOG_LINES];	/* cleaned, each capped */
	size_t head, n;			/* ring */
	uint64_t total;			/* lines ever added (the ring's numbering) */
	int64_t offset;			/* bytes of the log consumed */
	char *partial;			/* a line not ended yet */
	int ended;			/* the task ended and the log is read */
	char *end;			/* why it ended ("done", "error: ..."), or NULL */
	char *error;			/* why there is no log (the request refused), or NULL */
	uint64_t gen;
};

struct con_video {
	char *task;
	int attempt;
	char *url;
	char *path;			/* on the gateway's host, or NULL */
	char *name;			/* the file's name (video.mp4) */
	int local;			/* the file is still in the task folder */
	int64_t bytes;			/* -1 unknown */
	int64_t reported;		/* wall ms */
};

/* The frame previewed: what was asked, and the last answer. */
struct con_frame {
	char id[TASK_ID_MAX + 1];	/* the task previewed; "" none */
	double at;			/* the second asked */
	int waiting;			/* its answer is awaited */
	char *error;			/* the gateway's reason (cleaned), or NULL */
	unsigned char *png;		/* the last frame of that task, or NULL */
	size_t len;
	int attempt, width, height;
	double png_at;			/* its second */
	uint64_t gen;			/* bumped at each change */
};

enum con_link {
	CON_LINK_CONNECTING,	/* never up yet */
	CON_LINK_UP,
	CON_LINK_DOWN,		/* lost: retrying */
	CON_LINK_CLOSED,
};

#define CON_TASKS_MAX_DEFAULT 20000
#define CON_JOURNAL_MAX 4096

struct con_model {
	struct con_source src[CON_NSRC];
	enum con_link link;
	char *link_error;
	int64_t link_since;		/* monotonic ms of the last change */
	int64_t last_rx;		/* monotonic ms of the last line */
	char *refusal;			/* the gateway cannot be read (protocol) */

	struct con_status status;
	struct con_part *parts;
	size_t nparts;
	int healthy;			/* LAG's verdict; -1 unknown */
	char *health_why;		/* cleaned */
	struct con_series results;	/* finished results, cumulative */
	struct con_series results_at;	/* their monotonic times */
	int64_t last_sample;		/* monotonic ms */

	/*
	 * The hashes of task ids and pod names start from a secret drawn at
	 * init: ids come from whoever writes to the tasks topic, and ones
	 * chosen to share a bucket of a fixed hash would make every event's
	 * lookup a walk of them all.
	 */
	uint64_t hash_seed;

	/* tasks: a hash by id and an array, bounded */
	struct con_task **tasks;
	size_t ntasks, tasks_cap;
	struct con_task **buckets;
	size_t nbuckets;
	size_t max_tasks;
	uint64_t seq;
	/* what changed since the tasks view last looked */
	struct con_task **journal;
	size_t njournal;
	int journal_overflow;

	struct con_detail detail;

	/*
	 * pods: oldest first, as the gateway lists them, new ones after;
	 * indexed by name. A delete leaves a hole (NULL) in pods[0..pods_len)
	 * that con_model_pods_pack closes (views call it before reading
	 * pods[0..npods)), so no event moves the others.
	 */
	struct con_pod **pods;
	size_t npods;			/* pods kept */
	size_t pods_len, pods_cap;	/* slots used (holes too), allocated */
	struct con_pod **pod_buckets;	/* by name */
	size_t pod_nbuckets;
	size_t pods_cut;		/* pods not kept (CON_PODS_MAX) since the last answer */
	char *pods_runner;		/* "k8s", "local"; NULL until answered */
	int pods_synced;		/* the informer has listed once */
	uint64_t pods_listed;		/* pods events: listed afresh (the feed asks pods) */
	struct con_gpu_node *gpu_nodes;	/* in the gateway's order */
	size_t ngpu_nodes;
	int gpu_enabled;		/* the gateway probes GPU nodes */
	struct con_vpn vpn;
	struct con_log log;
	struct con_video *videos;	/* newest first, at most CON_VIDEOS_MAX */
	size_t nvideos;
	struct con_frame frame;

	uint64_t gen;			/* anything changed: a frame is due */
	uint64_t bad_lines;		/* lines the model could not use */
	char *last_bad;			/* why the last one was refused */
};

void con_model_init(struct con_model *, size_t max_tasks);
void con_model_free(struct con_model *);
/* The connection changed (error: why it went down, or NULL). */
void con_model_link(struct con_model *, enum con_link, const char *error, int64_t now);
/* Mark a source refused or failed; error NULL: a good answer came. */
void con_model_source(struct con_model *, enum con_src, enum con_offer, const char *error,
    int64_t now);
/* Stale: never updated, or not within its stale_ms, or the link is down. */
int con_model_stale(const struct con_model *, enum con_src, int64_t now);

/*
 * One line from a subscribed connection (an event), decoded through
 * proto/: 0 used, 1 ignored (an event this console does not know),
 * -1 refused with *cause (counted in bad_lines).
 */
int con_model_event(struct con_model *, const char *line, size_t len, int64_t now,
    char **cause);
/* Answers (after "ok": true): 0, or -1 with *cause; the model is unchanged then. */
int con_model_status_answer(struct con_model *, const cJSON *answer, int64_t now, char **cause);
int con_model_tasks_answer(struct con_model *, const cJSON *answer, int64_t now, char **cause);
int con_model_lag_answer(struct con_model *, const cJSON *answer, int64_t now, char **cause);
int con_model_gpus_answer(struct con_model *, const cJSON *answer, int64_t now, char **cause);
int con_model_pods_answer(struct con_model *, const cJSON *answer, int64_t now, char **cause);
int con_model_vpn_answer(struct con_model *, const cJSON *answer, int64_t now, char **cause);
int con_model_videos_answer(struct con_model *, const cJSON *answer, int64_t now, char **cause);
/*
 * A cluster's worth of game pods (10,000 in bench/console-k9s), still a
 * bound: a gateway sending more costs at most this many.
 */
#define CON_PODS_MAX 65536
/* The pod of that name as the model keeps it (cleaned and cut), or NULL. */
struct con_pod *con_model_pod(const struct con_model *, const char *name);
/* Close the holes deletes left: pods[0..npods) are the pods, in order. */
void con_model_pods_pack(struct con_model *);
#define CON_VIDEOS_MAX 1000
/* GPUs busy (a task of ours on it, or in use) and known. */
void con_model_gpu_count(const struct con_model *, size_t *busy, size_t *total);
/* The task answer for the open task (the model takes answer). */
int con_model_detail_answer(struct con_model *, cJSON *answer, char **cause);
void con_model_detail_open(struct con_model *, const char *id, int64_t now);
void con_model_detail_fail(struct con_model *, const char *error);

/* The log shown is that task's (a new id starts it empty). */
void con_model_log_open(struct con_model *, const char *id);
/*
 * Bytes of that task's log from offset (ended: that was its end). Cut
 * into lines, each cleaned and capped; the ring keeps the last
 * CON_LOG_LINES. A chunk of another task's log, or from before what was
 * read, is ignored; one past it (a gap) starts the lines over there.
 */
int con_model_log_append(struct con_model *, const char *id, int64_t offset, const char *data,
    size_t len, int ended);
/* The log is asked again from its start (a new connection): the lines start over. */
void con_model_log_restart(struct con_model *);
/* The request for that task's log was refused: why (shown instead of the lines). */
void con_model_log_fail(struct con_model *, const char *id, const char *error);
/* A frame of that task at that second is asked: waiting (the last one of that task kept). */
void con_model_frame_open(struct con_model *, const char *id, double at);
/* The frame answer (after "ok": true) for id: 0, or -1 with *cause (shown as the error). */
int con_model_frame_answer(struct con_model *, const char *id, const cJSON *answer,
    char **cause);
/* The frame request for id failed: the gateway's reason. */
void con_model_frame_fail(struct con_model *, const char *id, const char *error);
void con_model_frame_close(struct con_model *);

/* Line number n of the log (0: the first ever added), or NULL when not held. */
const char *con_log_line(const struct con_log *, uint64_t n);

struct con_task *con_model_task(const struct con_model *, const char *id);
/* Take what changed since the last take (overflow: rebuild from model->tasks). */
void con_model_journal_done(struct con_model *);
/* Results per minute over the last minute of samples; -1 unknown. */
double con_model_rate(const struct con_model *);
/* The uptime now, counted on from when it was read. */
int64_t con_model_uptime(const struct con_model *, int64_t now);
/* Tasks in progress (received to reporting). */
int64_t con_model_active(const struct con_model *);
/* Total lag over the partitions, and the worst Burrow status. */
int64_t con_model_lag_total(const struct con_model *, enum health_status *worst);

void con_series_add(struct con_series *, int64_t v);
/* The i-th newest sample (0: the newest). */
int64_t con_series_at(const struct con_series *, size_t i);

/* ---- feed.c ---- */

struct event_base;
struct client_transport;
struct feed;

struct feed_args {
	struct event_base *base;
	struct con_model *model;
	struct client_transport *tp;	/* owned from now on */
	const char *name;		/* for the header: "local", "ssh user@host:22" */
	int idle_ms;			/* silent this long: lost (0: 3000) */
	int backoff_max_ms;		/* longest wait between attempts (0: 2000) */
	int64_t (*mono)(void);		/* the console's monotonic clock, ms */
};
/* The connection's driver on base; it starts connecting at once. */
struct feed *feed_new(const struct feed_args *);
/* Close the connection (pending actions are told "connection closed"). */
void feed_free(struct feed *);
/* The open task's answer wanted (again): asked now, and after each of its events. */
void feed_task(struct feed *, const char *id);
/*
 * Show that task's log (the model's log starts over for a new id) and
 * follow it on the connection, unless it is followed already; the
 * stream of the log shown before is stopped. Asked again from its start
 * after a reconnect.
 */
void feed_log(struct feed *, const char *id);
/*
 * requeue/cancel: done(arg, ok, text) later with what to show: what
 * the gateway did, or its refusal, naming the task.
 */
typedef void feed_done_cb(void *arg, int ok, const char *text);
void feed_requeue(struct feed *, const char *id, feed_done_cb *, void *arg);
void feed_cancel(struct feed *, const char *id, feed_done_cb *, void *arg);
/*
 * The frame of that task at that second (model->frame): one request
 * out at a time; asked while one is out, it is asked after it (the
 * last wish only).
 */
void feed_frame(struct feed *, const char *id, double at);
/* A piece of a task's video from offset: done(arg, piece, NULL) or done(arg, NULL, why). */
struct proto_video_data;
typedef void feed_piece_cb(void *arg, const struct proto_video_data *, const char *error);
void feed_video_data(struct feed *, const char *id, int64_t offset, feed_piece_cb *, void *arg);
/* "local", "ssh user@host:port" */
const char *feed_name(const struct feed *);

/* ---- screen.c ---- */

enum con_color {
	CON_C_NORMAL,
	CON_C_HEADER,		/* the header's labels */
	CON_C_VALUE,		/* the header's values */
	CON_C_TITLE,		/* a table's column titles */
	CON_C_SELECT,		/* the selected row */
	CON_C_OK,
	CON_C_WARN,
	CON_C_BAD,
	CON_C_DIM,
	CON_C_KEY,		/* key names in hints */
	CON_C_TAB,		/* the current view's tab */
	CON_C_PROMPT,
	CON_NCOLORS
};

enum con_glyph {
	CON_G_VLINE,
	CON_G_HLINE,
	CON_G_BULLET,
	CON_G_ELLIPSIS,
	CON_G_ARROW,
	CON_G_BAR_FULL,
	CON_G_BAR_EMPTY,
	CON_G_SPARK0,	/* SPARK0 .. SPARK0 + 7: eight heights */
	CON_NGLYPHS = CON_G_SPARK0 + 8
};

struct con_screen_opts {
	int ascii;		/* --ascii, or a locale that is not UTF-8 */
	int mono;		/* NO_COLOR, or a terminal without colours */
};
/* The whole screen is drawn again at the next update (resize, ^L): its count goes up. */
void con_screen_clear(void);
uint64_t con_screen_epoch(void);
/* Take the terminal; 0, or -1 with *cause (no terminal). */
int con_screen_init(struct con_screen_opts *);
/* The read end of the pipe stderr goes to while the screen is up, or -1. */
int con_screen_errfd(void);
/* Give it back (idempotent; safe from the fatal path). */
void con_screen_end(void);
/* The terminal changed size: take the new size. */
void con_screen_resize(void);
attr_t con_attr(enum con_color);
const char *con_glyph(enum con_glyph);
int con_screen_ascii(void);
/* Restore the terminal, print "paia-console: ..." and exit 1 (htop CRT_fatalError). */
void con_fatal(const char *, ...) __attribute__((noreturn, format(printf, 1, 2)));

/* ---- preview.c ---- */

/* What a frame may be: bytes, pixels a side and in all (checked before decoding). */
#define CON_PNG_BYTES_MAX PROTO_FRAME_MAX
#define CON_PNG_SIDE_MAX 4096
#define CON_PNG_PIXELS_MAX (2048 * 2048)
#define CON_CANVAS_SIDE_MAX 1000
#define CON_PREVIEW_MISSING "previews need libchafa: this paia-console was built without " \
	"it (Debian packages libchafa-dev, libpng-dev; then configure again)"
/*
 * Text cells: a code point each (printable), its colours (-1: the
 * terminal's): palette indexes, or 0xRRGGBB on a direct-colour terminal.
 */
struct con_canvas {
	int cols, rows;
	uint32_t *ch;
	int32_t *fg, *bg;
};
#define CON_COLORS_DIRECT 0x1000000
struct con_preview_opts {
	int ascii;		/* ASCII symbols only */
	int mono;		/* no colours */
	int colors;		/* terminfo's colours: 8, 16, 256, CON_COLORS_DIRECT (RGB) */
};
/* 1 when built with libchafa and libpng. */
int con_preview_available(void);
/* Images a terminal shows besides text. */
enum con_pixels { CON_PIXELS_NONE, CON_PIXELS_SIXEL, CON_PIXELS_KITTY };
/*
 * What the terminal of this environment shows, as chafa's terminal
 * database reads it (TERM, TERM_PROGRAM...), kept conservative: none
 * inside tmux or screen ($TMUX, $STY, TERM screen* or tmux*), nor with
 * PAIA_CONSOLE_GRAPHICS=symbols, nor without libchafa.
 */
enum con_pixels con_preview_pixels_detect(char **envp);
/*
 * The PNG as that terminal's image escapes (chafa's), fitted into at
 * most cols x rows cells of cell_w x cell_h pixels, aspect kept; *used_cols
 * and *used_rows the cells it covers. NULL with *cause.
 */
char *con_preview_pixels(const unsigned char *png, size_t len, int cols, int rows, int cell_w,
    int cell_h, enum con_pixels, char **envp, int *used_cols, int *used_rows, char **cause);
/* A PNG into RGBA8 (*rgba freed by the caller), within the caps: 0, or -1 with *cause. */
int con_png_decode(const unsigned char *png, size_t len, unsigned char **rgba, int *w, int *h,
    char **cause);
/* The PNG fitted into at most cols x rows cells, aspect kept: 0, or -1 with *cause. */
int con_preview_render(const unsigned char *png, size_t len, int cols, int rows,
    const struct con_preview_opts *, struct con_canvas *, char **cause);
void con_canvas_free(struct con_canvas *);

/* ---- draw.c ---- */

enum con_align { CON_LEFT, CON_RIGHT };
/*
 * Text at (y, x) in at most width columns (padded with spaces to width
 * when pad is set), control characters and what is not printable shown
 * as '?', non-ASCII as '?' under --ascii, cut with an ellipsis. Returns
 * the columns used.
 */
int con_put(WINDOW *, int y, int x, int width, attr_t, enum con_align, int pad, const char *s);
int con_putf(WINDOW *, int y, int x, int width, attr_t, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* Display columns of s as con_put draws it. */
int con_width(const char *s);
/* A sparkline of the newest width samples of series (right-aligned). */
void con_spark(WINDOW *, int y, int x, int width, attr_t, const struct con_series *);
/* Rows s takes wrapped at width columns; draw it so from (y, x), at most max rows. */
int con_wrap_rows(const char *s, int width);
int con_put_wrap(WINDOW *, int y, int x, int width, int max, attr_t, const char *s);
/* A bar [|||||    ] of value/max in width columns. */
void con_bar(WINDOW *, int y, int x, int width, double value, double max);
/*
 * Durations for people: 420ms below a second, then client_text_duration's
 * rules (4.2s, 12s, 4m05s, 2h03m, 3d04h); "-" when negative.
 */
char *con_fmt_dur(int64_t ms, char *buf, size_t len);
/*
 * Golden screens: on, every duration and clock time (and what is
 * computed from them: rates, sparklines' spans) is drawn as "~", so a
 * screen of a real gateway is the same from run to run.
 */
void con_fmt_freeze(int on);
/* Results a minute, "12.5"; "-" unknown. */
char *con_fmt_rate(double per_min, char *buf, size_t len);
int con_fmt_frozen(void);
/* Wall ms as HH:MM:SS.mmm (UTC), "-" for 0. */
char *con_fmt_clock(int64_t ms, char *buf, size_t len);
char *con_fmt_bytes(int64_t n, char *buf, size_t len);
/* The colour of a task state / result status / Burrow status. */
enum con_color con_state_color(enum task_state, int has_status, enum result_status);
enum con_color con_health_color(enum health_status);

/* Table columns: a title, a width (0: what is left), and a priority to keep when narrow. */
struct con_col {
	const char *title;
	int width;
	enum con_align align;
	int keep;		/* lower keeps longer when the screen is narrow */
	/* laid out */
	int x, w, shown;
};
/* Lay out cols over width columns (1 space apart); returns the columns shown. */
int con_cols_layout(struct con_col *, size_t n, int width);
void con_cols_title(WINDOW *, int y, const struct con_col *, size_t n, int sorted, int reverse);

/* ---- the console: UI state shared by views and input ---- */

#define CON_KEY_HANDLED 0x1
#define CON_KEY_REDRAW 0x2
#define CON_KEY_QUIT 0x4

/* Keys as handlers get them: characters as they are, ncurses' KEY_* above them. */
#define CON_KEY(k) ((k) + 0x10000)
#define CON_ESC 27
/* Enter (\r under nonl, \n, the keypad's), Backspace in its spellings. */
int con_key_enter(int key);
int con_key_backspace(int key);
/* A movement key (arrows, j/k, pages, g/G, home/end) over n rows: the new selection. */
int con_key_move(int key, size_t *sel, size_t n, int page);

enum con_view_id {
	CON_V_OVERVIEW,
	CON_V_TASKS,
	CON_V_PODS,
	CON_V_GPUS,
	CON_V_VPN,
	CON_V_LOGS,
	CON_V_VIDEOS,
	CON_V_TASK,	/* one task: not on a number key */
	CON_NVIEWS
};

struct con_view {
	enum con_view_id id;
	const char *name;	/* its ':' command */
	const char *title;
	int key;		/* '1'..'7', or 0 */
	void (*draw)(struct con *, WINDOW *, int rows, int cols);
	int (*keypress)(struct con *, int key);
	void (*enter)(struct con *);	/* shown: ask for what it needs; may be NULL */
	const char *help;	/* its keys, "key  what" lines separated by \n */
};
extern const struct con_view con_view_overview, con_view_tasks, con_view_task, con_view_pods,
    con_view_gpus, con_view_vpn, con_view_logs, con_view_videos;

/* A filter: regex text and field terms (state=running, status=, game=). */
struct con_filter {
	char *text;		/* as typed, or NULL */
	int has_re;
	regex_t re;
	int state;		/* -1, a task_state, or -2 for "active" */
	int status;		/* -1 or a result_status */
	char *game;
	uint64_t gen;		/* bumped at each change */
};
/* Parse text into f (replacing it): 0, or -1 with *cause (a bad regex, an unknown state). */
int con_filter_set(struct con_filter *, const char *text, char **cause);
void con_filter_clear(struct con_filter *);
int con_filter_task(const struct con_filter *, const struct con_task *);

enum con_prompt { CON_PROMPT_NONE, CON_PROMPT_CMD, CON_PROMPT_FILTER, CON_PROMPT_CONFIRM,
	CON_PROMPT_SEARCH };
enum con_action { CON_ACT_NONE, CON_ACT_REQUEUE, CON_ACT_CANCEL };

#define CON_STACK_MAX 8
struct con_ui {
	const struct con_view *view;
	const struct con_view *stack[CON_STACK_MAX];	/* esc goes back */
	size_t depth;
	int help;			/* the help overlay is shown */

	enum con_prompt prompt;
	char line[256];			/* what is typed at the prompt */
	size_t len;
	enum con_action action;		/* waiting for its confirm */
	char action_id[TASK_ID_MAX + 1];
	char *message;			/* the status line */
	int message_bad;
	int64_t message_at;

	/* tasks */
	char selected[TASK_ID_MAX + 1];	/* the selected task, by id */
	size_t task_sel;		/* its row, a hint kept across frames */
	size_t task_top;
	int task_sort;			/* a column of the tasks view */
	int task_reverse;
	struct con_filter filter;
	/* pods, gpus, videos */
	size_t pod_sel, gpu_sel, video_sel;
	/* logs */
	int video_preview;		/* the videos view shows model->frame */
	int log_paused, log_wrap;
	size_t log_scroll;		/* lines up from the end */
	char *log_search;
	int64_t log_hit;		/* line number of the search hit; -1 */
	uint64_t gen;			/* the UI changed: a frame is due */
};

struct con_opts {
	int readonly;
	int ascii;
	int mono;
	long long cycles;		/* -n: frames, then exit; 0: until quit */
	int remote;			/* --ssh: the gateway's files are not ours to read */
	size_t max_tasks;
};

struct con {
	struct con_opts o;
	struct con_model model;
	struct con_ui ui;
	struct feed *feed;
	/* the tasks view's rows: filtered and sorted, rebuilt or patched from the journal */
	struct con_task **rows;
	size_t nrows, rows_cap;
	uint64_t rows_filter_gen;
	int rows_sort, rows_reverse;
	int rows_valid;
	int64_t now;			/* wall ms, this frame */
	int64_t mono;			/* monotonic ms, this frame */
	struct con_fetch *fetch;	/* a video being downloaded for the player, or NULL */
	/* the preview drawn: model->frame rendered for that room and those options */
	struct con_canvas canvas;
	uint64_t canvas_gen;
	int canvas_cols, canvas_rows;
	char *canvas_error;
	/* the preview as the terminal's image (sixel, kitty) instead, where it shows them */
	enum con_pixels pixels;
	char *pixel_img;		/* the escapes, or NULL */
	int pixel_y, pixel_x;		/* where (the screen's row and column) */
	int pixel_want;			/* this frame draws it */
	int pixel_shown;		/* the terminal shows it now */
	int pixel_dirty;		/* a new one, not written yet */
	uint64_t pixel_epoch;		/* con_screen_epoch() when written */
};

/* view-videos.c: after the frame's update, the preview's image written, or taken away. */
void con_videos_pixels(struct con *);

/* player.c */
/* $PAIA_PLAYER split on spaces, then file: a NULL-ended argv, or NULL with *cause. */
char **con_player_argv(const char *spec, const char *file, char **cause);
void con_argv_free(char **);
/*
 * Run the player on file, detached (its own session, stdin/out/err on
 * /dev/null; execvp, no shell); remove: unlink file once it exits. 0,
 * or -1 with *cause.
 */
int con_player_spawn(const char *spec, const char *file, int remove, char **cause);
/* The `o` key: that video in $PAIA_PLAYER (downloaded first when remote). */
void con_video_play(struct con *, const struct con_video *);
/* A download cancelled (quit). */
void con_fetch_free(struct con *);

/* input.c */
int con_input_key(struct con *, int key);
void con_view_show(struct con *, const struct con_view *, int push);
int con_view_back(struct con *);
/* Run a ':' command line ("tasks", "q", "sort age"...): flags. */
int con_command(struct con *, const char *line);
void con_message(struct con *, int bad, const char *, ...) __attribute__((format(printf, 3, 4)));
/* Ask to confirm an action on a task; y runs it (nothing under --readonly). */
int con_action_ask(struct con *, enum con_action, const char *id);
const struct con_view *con_view_by_name(const char *);

/* header.c: the header's lines, the tab bar and the status line. */
#define CON_HEADER_ROWS 3
void con_header_draw(struct con *, WINDOW *, int cols);
void con_status_draw(struct con *, WINDOW *, int cols);
void con_help_draw(struct con *, WINDOW *, int rows, int cols);
/* Why the gateway cannot be reached (or is refused), over the bottom of the body. */
void con_link_banner(struct con *, WINDOW *, int rows, int cols);
/*
 * A source this view needs that is not there: one plain line saying why
 * ("the gateway does not offer pods: unknown command"), drawn at y. 1
 * when drawn.
 */
int con_source_note(struct con *, WINDOW *, int y, int cols, enum con_src, const char *what);

/* The keys every view has, for the help. */
extern const char *con_help_global;

/* view-tasks.c: the rows, brought up to date with the model; the selected row. */
void con_rows_update(struct con *);
struct con_task *con_rows_selected(struct con *, size_t *index);
/* Sort the tasks by the column of that name ("age", "state"...): 0, or -1 when none is. */
int con_tasks_sort_by(struct con *, const char *name);

/* console.c: draw a frame now (the bench calls it). */
void con_frame(struct con *, WINDOW *header, WINDOW *body, WINDOW *status);

#endif
