/*
 * paiactl.c: the scriptable twin of paia-console (kubectl to its k9s).
 * It finds one gateway (flags, environment, paia-gateway.conf, the
 * embedded.json an embedded gateway leaves in its state folder), talks
 * JSON lines to its control socket (status, tasks, task, requeue,
 * cancel, watch, wait: paiactl-control.c; logs, pods, videos, frame, video:
 * paiactl-console.c; docs/control.md), and reaches Kafka directly to
 * submit tasks, read results and measure a group's lag from the broker
 * (paiactl-kafka.c, paiactl-lag.c). Finding the
 * gateway, the connection and text are client/'s; this file holds main,
 * the command table and what it drives: flag parsing, -h, usage lines,
 * shell completion (paiactl __complete), and the tables all print.
 *
 * It keeps no state between runs and never changes the gateway except
 * through requeue and cancel. Every command takes --json: output for
 * scripts, one JSON value per line; tables are for people. Failures
 * print "paiactl: ..." and exit 1; usage errors exit 2.
 */
#include "config.h"
#include "paiactl-int.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "options.h"

extern char **environ;

#define PAIACTL_COMPLETE_MS 1000	/* completion asks the gateway this long at most */

/* The one global: what the signal handler sets (ctx->stop points here). */
static volatile sig_atomic_t paiactl_interrupted;

const char *const paiactl_states[] = {
	"received", "fetching", "launching", "running", "collecting", "uploading",
	"upload_wait", "reporting", "done", "failed",
};
const size_t paiactl_nstates = nitems(paiactl_states);

/* ---- the command table ---- */

#define PAIACTL_F_JSON(what) { "json", 0, NULL, what }
#define PAIACTL_F_END { NULL, 0, NULL, NULL }

static const struct paiactl_flag paiactl_f_submit[] = {
	{ "program", 0, "URL", "the user's program: a storage URL (file://, http(s)://, s3://), "
	  "or a local file, sent as the file:// URL of its absolute path (required to build tasks)" },
	{ "game", 0, "G", "the game (default catch)" },
	{ "entry", 0, "E", "the file to run, relative to the task's input/ (default: the "
	  "program's name)" },
	{ "model", 0, "URL", "a model to download next to the program (URL or local file)" },
	{ "params", 0, "JSON", "the game's parameters, a JSON object" },
	{ "timeout", 0, "S", "timeout_s of the task, 1 to 604800 (default: the gateway's)" },
	{ "gpu", 0, "N", "resources.gpu of the task, 0 to 16" },
	{ "id", 0, "ID", "the task id; with --count N, ID-1 to ID-N (default t-<ms>-<random>)" },
	{ "count", 0, "N", "submit N tasks, 1 to 1000000 (default 1)" },
	{ "result-prefix", 0, "URL", "result_prefix of the task (default: the gateway's)" },
	{ "file", 0, "FILE", "send tasks as they are from FILE (- for stdin): one JSON object, "
	  "or one per line" },
	{ "raw", 0, "STRING", "send one message of exactly these bytes, without a key" },
	{ "raw-file", 0, "FILE", "send one message with the bytes of FILE (- for stdin)" },
	PAIACTL_F_JSON("one line per task delivered: {\"task_id\",\"topic\",\"partition\","
	    "\"offset\"}"),
	PAIACTL_F_END
};
static const struct paiactl_flag paiactl_f_results[] = {
	{ "follow", 'f', NULL, "keep reading, printing records as they come (until SIGINT)" },
	PAIACTL_F_JSON("one line per record: {\"topic\",\"partition\",\"offset\",\"ts\",\"key\","
	    "\"value\"} (as kcat -J)"),
	{ "raw", 0, NULL, "each record's value as it is, one per line" },
	{ "dlq", 0, NULL, "read the dead-letter topic instead" },
	{ "count", 0, "N", "stop after N records, waiting for them (fewer: exit 1)" },
	{ "timeout", 0, "S", "stop after S seconds" },
	{ "from-beginning", 0, NULL, "start at the oldest record (the default)" },
	{ "from-end", 0, NULL, "only records produced from now on" },
	PAIACTL_F_END
};
static const struct paiactl_flag paiactl_f_topics[] = {
	{ "create", 0, NULL, "create the missing topics" },
	{ "partitions", 0, "T,R,D", "partitions of new tasks, results and DLQ topics "
	  "(default 6,3,1)" },
	{ "replication", 0, "N", "replication factor of new topics (default: the broker's)" },
	PAIACTL_F_JSON("{\"topics\":[{\"topic\",\"role\",\"partitions\",\"created\"}]}"),
	PAIACTL_F_END
};
static const struct paiactl_flag paiactl_f_gpus[] = {
	PAIACTL_F_JSON("the gpus answer: {\"enabled\",\"nodes\":[GPU node,...]}"),
	PAIACTL_F_END
};
static const struct paiactl_flag paiactl_f_vpn[] = {
	PAIACTL_F_JSON("the VPN object of the control protocol"),
	PAIACTL_F_END
};
static const struct paiactl_flag paiactl_f_status[] = {
	PAIACTL_F_JSON("the STATUS object of the control protocol"),
	PAIACTL_F_END
};
static const struct paiactl_flag paiactl_f_lag[] = {
	{ "group", 0, "G", "ask the broker, not a gateway: every partition of group G's "
	  "topic, also with every gateway down" },
	{ "broker", 0, NULL, "ask the broker for the group of -c (kafka.group.id, default "
	  "paia-gateway)" },
	{ "max-lag-s", 0, "S", "with the broker: also unhealthy when the oldest task waiting "
	  "is older than S seconds" },
	{ "history", 0, NULL, "a gateway's last lag checks per partition as a sparkline "
	  "(--json always has them)" },
	PAIACTL_F_JSON("the LAG object (docs/control.md), the same from a gateway or the "
	    "broker"),
	PAIACTL_F_END
};
static const struct paiactl_flag paiactl_f_tasks[] = {
	{ "state", 0, "STATE", "only tasks in STATE (a state name, or active)" },
	PAIACTL_F_JSON("{\"tasks\":[TASK,...]}"),
	PAIACTL_F_END
};
static const struct paiactl_flag paiactl_f_task[] = {
	PAIACTL_F_JSON("the TASK object of the control protocol"),
	PAIACTL_F_END
};
static const struct paiactl_flag paiactl_f_requeue[] = {
	{ "attempt", 0, "N", "requeue only attempt N: if N was requeued already, say so "
	  "instead of running it twice" },
	PAIACTL_F_JSON("the gateway's answer: {\"task_id\",\"attempt\"}"),
	PAIACTL_F_END
};
static const struct paiactl_flag paiactl_f_cancel[] = {
	PAIACTL_F_JSON("the gateway's answer: {\"task_id\"}"),
	PAIACTL_F_END
};
static const struct paiactl_flag paiactl_f_logs[] = {
	{ "follow", 'f', NULL, "keep printing what the game writes until it has ended" },
	PAIACTL_F_JSON("one line per log line: {\"task_id\",\"line\"} (a line over 64 KiB "
	    "in pieces)"),
	PAIACTL_F_END
};
static const struct paiactl_flag paiactl_f_pods[] = {
	PAIACTL_F_JSON("the pods answer: {\"runner\",\"namespace\",\"synced\",\"pods\":"
	    "[POD,...]}"),
	PAIACTL_F_END
};
static const struct paiactl_flag paiactl_f_videos[] = {
	PAIACTL_F_JSON("the videos answer: {\"videos\":[VIDEO,...]}"),
	PAIACTL_F_END
};
static const struct paiactl_flag paiactl_f_frame[] = {
	{ "output", 'o', "FILE", "where the PNG goes, - for stdout (required)" },
	{ "at", 0, "S", "the second of the video, 0 (the default) to 604800, fractions too" },
	PAIACTL_F_JSON("what was written: {\"task_id\",\"attempt\",\"at\",\"width\","
	    "\"height\",\"bytes\",\"file\"}"),
	PAIACTL_F_END
};
static const struct paiactl_flag paiactl_f_video[] = {
	{ "output", 'o', "FILE", "where the video goes, - for stdout (required)" },
	PAIACTL_F_JSON("what was written: {\"task_id\",\"attempt\",\"bytes\",\"file\"}"),
	PAIACTL_F_END
};
static const struct paiactl_flag paiactl_f_watch[] = {
	{ "count", 0, "N", "stop after N events (fewer: exit 1)" },
	PAIACTL_F_JSON("events are JSON lines already; accepted for symmetry"),
	PAIACTL_F_END
};

static const struct paiactl_flag paiactl_f_dial_stdio[] = {
	PAIACTL_F_END
};
static const struct paiactl_flag paiactl_f_wait[] = {
	{ "timeout", 0, "S", "give up after S seconds (default 30)" },
	PAIACTL_F_JSON("the STATUS object once the gateway is ready"),
	PAIACTL_F_END
};

static const struct paiactl_cmd paiactl_cmds[] = {
	{ "submit", "", paiactl_f_submit, paiactl_cmd_submit,
	  "produce tasks to the tasks topic; prints one task id per line" },
	{ "results", "", paiactl_f_results, paiactl_cmd_results,
	  "read the results topic (or the dead-letter topic with --dlq)" },
	{ "topics", "", paiactl_f_topics, paiactl_cmd_topics,
	  "the gateway's topics; --create makes the missing ones" },
	{ "status", "", paiactl_f_status, paiactl_cmd_status,
	  "the gateway's state, queues and partitions" },
	{ "lag", "", paiactl_f_lag, paiactl_cmd_lag,
	  "lag, status and health per partition, from a gateway or the broker; exits 3 when "
	  "unhealthy" },
	{ "tasks", "", paiactl_f_tasks, paiactl_cmd_tasks,
	  "tasks the gateway knows" },
	{ "task", "ID", paiactl_f_task, paiactl_cmd_task, "one task with its timeline" },
	{ "requeue", "ID", paiactl_f_requeue, paiactl_cmd_requeue,
	  "run a finished task again as a new attempt" },
	{ "cancel", "ID", paiactl_f_cancel, paiactl_cmd_cancel,
	  "stop a task (it ends as cancelled)" },
	{ "logs", "ID", paiactl_f_logs, paiactl_cmd_logs,
	  "print a task's log, streamed by the gateway (a remote one too)" },
	{ "pods", "", paiactl_f_pods, paiactl_cmd_pods,
	  "the game pods (runner.type = k8s), kubectl-style" },
	{ "videos", "", paiactl_f_videos, paiactl_cmd_videos,
	  "recent tasks with a video, newest first" },
	{ "frame", "ID", paiactl_f_frame, paiactl_cmd_frame,
	  "a still of a task's video as PNG, made on the gateway" },
	{ "video", "ID", paiactl_f_video, paiactl_cmd_video,
	  "download a task's video file through the control socket (a remote gateway too)" },
	{ "watch", "", paiactl_f_watch, paiactl_cmd_watch,
	  "print the gateway's events as JSON lines" },
	{ "wait", "", paiactl_f_wait, paiactl_cmd_wait,
	  "wait until the gateway answers (and, embedded, names its Kafka)" },
	{ "gpus", "", paiactl_f_gpus, paiactl_cmd_gpus,
	  "GPU nodes and cards: utilisation, memory, temperature, power, the task holding each" },
	{ "vpn", "", paiactl_f_vpn, paiactl_cmd_vpn,
	  "the VPN tunnel, its routes and endpoints; exits 3 when not healthy" },
	{ "dial-stdio", "", paiactl_f_dial_stdio, paiactl_cmd_dial_stdio,
	  "relay stdin and stdout to the control socket (paia-console --ssh runs it)" },
};

/* paiactl's own flags, before the command. */
static const struct paiactl_flag paiactl_f_global[] = {
	{ "socket", 'S', "SOCKET", "control socket (default: $PAIA_SOCKET, control.socket, "
	  "embedded.json, <statedir>/control.sock)" },
	{ "state-dir", 'd', "DIR", "state folder (default: $PAIA_STATE_DIR, gateway.state_dir, "
	  "$TMPDIR/paia-<uid>)" },
	{ "config", 'c', "FILE", "paia-gateway.conf: state folder, topics, kafka.* settings" },
	{ "bootstrap", 'b', "SERVERS", "Kafka bootstrap servers (default: "
	  "kafka.bootstrap.servers, embedded.json)" },
	{ "help", 'h', NULL, "this help; paiactl COMMAND --help for a command's flags" },
	{ "version", 'V', NULL, "print the version" },
	PAIACTL_F_END
};

static const struct paiactl_cmd *
paiactl_cmd_find(const char *name)
{
	size_t i;

	for (i = 0; i < nitems(paiactl_cmds); i++)
		if (strcmp(name, paiactl_cmds[i].name) == 0)
			return &paiactl_cmds[i];
	return NULL;
}

static size_t
paiactl_nflags(const struct paiactl_flag *f)
{
	size_t n = 0;

	while (f != NULL && f[n].name != NULL)
		n++;
	return n;
}

/* ---- messages, usage and help ---- */

int
paiactl_err(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("paiactl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

int
paiactl_err_cause(char *cause)
{
	paiactl_err("%s", cause != NULL ? cause : "failed");
	free(cause);
	return 1;
}

static void paiactl_wrap(const char *text, int col, int indent, FILE *f);

/* "usage: paiactl CMD OPERANDS [-f|--follow] [--count N] ...", from its table. */
static void
paiactl_synopsis(const struct paiactl_cmd *cmd, FILE *f)
{
	const struct paiactl_flag *fl;
	char *s, *t;

	xasprintf(&s, "usage: paiactl %s%s%s", cmd->name, *cmd->operands != '\0' ? " " : "",
	    cmd->operands);
	for (fl = cmd->flags; fl->name != NULL; fl++) {
		xasprintf(&t, "%s [%s%c%s--%s%s%s]", s, fl->letter != 0 ? "-" : "",
		    fl->letter != 0 ? fl->letter : '[', fl->letter != 0 ? "|" : "", fl->name,
		    fl->value != NULL ? " " : "", fl->value != NULL ? fl->value : "");
		free(s);
		s = t;
	}
	/* "[[--x]" from the letter-less form above: drop the stray bracket. */
	for (t = s; (t = strstr(t, "[[--")) != NULL;)
		memmove(t, t + 1, strlen(t));
	paiactl_wrap(s, 0, 8, f);
	free(s);
}

static void
paiactl_usage_global(FILE *f)
{
	fprintf(f, "usage: paiactl [-hV] [-S socket] [-d statedir] [-c config] [-b bootstrap] "
	    "command [flags]\n");
}

/* text from column indent on, wrapped before column 80 at spaces. */
static void
paiactl_wrap(const char *text, int col, int indent, FILE *f)
{
	const char *p = text, *sp;
	int len;

	while (*p != '\0') {
		len = (int)strlen(p);
		if (col + len > 79) {
			/* The last space that fits, else the first one after. */
			for (sp = p + (79 - col); sp > p && *sp != ' '; sp--)
				;
			if (sp == p && (sp = strchr(p, ' ')) == NULL)
				sp = p + len;
			len = (int)(sp - p);
		}
		fprintf(f, "%.*s\n", len, p);
		p += len;
		while (*p == ' ')
			p++;
		if (*p != '\0')
			fprintf(f, "%*s", indent, "");
		col = indent;
	}
}

/* The flags of a table as an aligned list with their help. */
static void
paiactl_flags_print(const struct paiactl_flag *flags, FILE *f)
{
	const struct paiactl_flag *fl;
	char left[64];

	for (fl = flags; fl->name != NULL; fl++) {
		snprintf(left, sizeof left, "%s%c%s--%s%s%s", fl->letter != 0 ? "-" : " ",
		    fl->letter != 0 ? fl->letter : ' ', fl->letter != 0 ? ", " : "  ", fl->name,
		    fl->value != NULL ? " " : "", fl->value != NULL ? fl->value : "");
		if (strlen(left) > 22)
			fprintf(f, "  %s\n  %-22s ", left, "");
		else
			fprintf(f, "  %-22s ", left);
		paiactl_wrap(fl->help, 25, 25, f);
	}
}

static void
paiactl_usage_full(FILE *f)
{
	size_t i;

	paiactl_usage_global(f);
	fputs("\ncommands:\n", f);
	for (i = 0; i < nitems(paiactl_cmds); i++) {
		fprintf(f, "  %-8s ", paiactl_cmds[i].name);
		paiactl_wrap(paiactl_cmds[i].help, 11, 11, f);
	}
	fputs("\nglobal flags (before the command):\n", f);
	paiactl_flags_print(paiactl_f_global, f);
	fputs("\nExit status: 0 done, 1 failed, 2 usage error, 3 lag found a partition "
	    "unhealthy.\nSee paiactl(1) and docs/control.md.\n", f);
}

/* A command's -h: synopsis, what it does, each flag. */
static void
paiactl_cmd_help(const struct paiactl_cmd *cmd, FILE *f)
{
	static const struct paiactl_flag help[] = {
		{ "help", 'h', NULL, "this help" },
		PAIACTL_F_END
	};

	paiactl_synopsis(cmd, f);
	paiactl_wrap(cmd->help, 0, 0, f);
	fprintf(f, "\nflags:\n");
	paiactl_flags_print(cmd->flags, f);
	paiactl_flags_print(help, f);
}

int
paiactl_usage_err(const struct paiactl_cmd *cmd, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("paiactl: ", stderr);
	if (cmd != NULL)
		fprintf(stderr, "%s: ", cmd->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (cmd != NULL) {
		paiactl_synopsis(cmd, stderr);
		fprintf(stderr, "(paiactl %s --help describes each flag)\n", cmd->name);
	} else
		paiactl_usage_global(stderr);
	return 2;
}

static void
paiactl_signal(int sig)
{
	(void)sig;
	paiactl_interrupted = 1;
}

void
paiactl_signals_catch(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = paiactl_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;	/* no SA_RESTART: poll(2) must return */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* ---- flags, from the table ---- */

#define PAIACTL_OPT_BASE 256

/*
 * Parse argv (argv[0] is the command's name) by cmd's flag table into a.
 * Returns 0, -1 after --help was printed (exit 0), or 2 after a usage
 * message.
 */
static int
paiactl_args_parse(const struct paiactl_cmd *cmd, int argc, char **argv, struct paiactl_args *a)
{
	size_t n = paiactl_nflags(cmd->flags), i, k = 0;
	struct option *longopts = xcalloc(n + 2, sizeof *longopts);
	char *shorts = xcalloc(2 * n + 4, 1), flag[3] = { '-', 0, 0 };
	const char *name, *last = NULL;
	int ch, rc = 0;

	memset(a, 0, sizeof *a);
	a->cmd = cmd;
	a->values = xcalloc(n + 1, sizeof *a->values);
	strcpy(shorts, "+:h");
	for (i = 0; i < n; i++) {
		longopts[i].name = cmd->flags[i].name;
		longopts[i].has_arg = cmd->flags[i].value != NULL ? required_argument : no_argument;
		longopts[i].val = PAIACTL_OPT_BASE + (int)i;
		if (cmd->flags[i].letter != 0) {
			k = strlen(shorts);
			shorts[k] = cmd->flags[i].letter;
			if (cmd->flags[i].value != NULL)
				shorts[k + 1] = ':';
		}
	}
	longopts[n].name = "help";
	longopts[n].val = 'h';
	optind = 0;
	opterr = 0;
	/* Operands may come before flags ("task t1 --json"): restart after each one. */
	for (;;) {
		while ((ch = getopt_long(argc, argv, shorts, longopts, NULL)) != -1) {
			if (ch == 'h') {
				paiactl_cmd_help(cmd, stdout);
				rc = -1;
				goto out;
			}
			last = optarg;
			if (ch >= PAIACTL_OPT_BASE && ch < PAIACTL_OPT_BASE + (int)n) {
				a->values[ch - PAIACTL_OPT_BASE] = optarg != NULL ? optarg : "";
				continue;
			}
			for (i = 0; i < n && ch != ':' && ch != '?'; i++) {
				if (cmd->flags[i].letter == ch) {
					a->values[i] = optarg != NULL ? optarg : "";
					break;
				}
			}
			if (i < n && ch != ':' && ch != '?')
				continue;
			flag[1] = (char)optopt;
			name = optopt > 0 && optopt < PAIACTL_OPT_BASE ? flag : argv[optind - 1];
			rc = paiactl_usage_err(cmd, ch == ':' ? "flag %s needs a value" :
			    "unknown flag %s", name);
			goto out;
		}
		if (optind >= argc)
			break;
		if (optind > 1 && strcmp(argv[optind - 1], "--") == 0 && argv[optind - 1] != last) {
			/* Everything after "--" is an operand. */
			for (; optind < argc; optind++) {
				a->operands = xreallocarray(a->operands, (size_t)a->noperands + 1,
				    sizeof *a->operands);
				a->operands[a->noperands++] = argv[optind];
			}
			break;
		}
		a->operands = xreallocarray(a->operands, (size_t)a->noperands + 1,
		    sizeof *a->operands);
		a->operands[a->noperands++] = argv[optind];
		/* Go on after the operand: argv[optind] becomes the new argv[0]. */
		argc -= optind;
		argv += optind;
		optind = 0;
	}
	if (*cmd->operands == '\0' && a->noperands > 0) {
		rc = paiactl_usage_err(cmd, "unexpected argument %s", a->operands[0]);
		goto out;
	}
	if (*cmd->operands != '\0' && a->noperands == 0) {
		rc = paiactl_usage_err(cmd, "which task? give its %s", cmd->operands);
		goto out;
	}
	if (*cmd->operands != '\0' && a->noperands > 1)
		rc = paiactl_usage_err(cmd, "unexpected argument %s (one %s at a time)",
		    a->operands[1], cmd->operands);
out:
	free(longopts);
	free(shorts);
	return rc;
}

static void
paiactl_args_free(struct paiactl_args *a)
{
	free(a->values);
	free(a->operands);
}

const char *
paiactl_arg(const struct paiactl_args *a, const char *name)
{
	size_t i;

	for (i = 0; a->cmd->flags[i].name != NULL; i++)
		if (strcmp(a->cmd->flags[i].name, name) == 0)
			return a->values[i];
	fatalx("paiactl: %s has no flag --%s", a->cmd->name, name);
}

int
paiactl_arg_int(const struct paiactl_args *a, const char *name, long long min, long long max,
    long long *out)
{
	const char *v = paiactl_arg(a, name);

	if (v == NULL)
		return 0;
	if (util_parse_int(v, min, max, out) != 0)
		return paiactl_usage_err(a->cmd, "--%s: \"%s\" is not a whole number between %lld "
		    "and %lld", name, v, min, max);
	return 0;
}

/* ---- finding the gateway ---- */

const char *
paiactl_socket(struct paiactl *ctx, char **cause)
{
	if (client_locate(&ctx->where, CLIENT_LOCATE_SOCKET, &ctx->loc, cause) != 0)
		return NULL;
	return ctx->loc.socket_path;
}

int
paiactl_kafka_resolve(struct paiactl *ctx, char **cause)
{
	return client_locate(&ctx->where, CLIENT_LOCATE_KAFKA, &ctx->loc, cause);
}

struct client_kafka *
paiactl_kafka_new(struct paiactl *ctx, rd_kafka_type_t type, size_t biggest,
    void (*dr_msg_cb)(rd_kafka_t *, const rd_kafka_message_t *, void *), char **cause)
{
	struct client_kafka_args a;

	memset(&a, 0, sizeof a);
	a.bootstrap = ctx->loc.bootstrap;
	a.conf = ctx->conf;
	a.config_path = ctx->where.config_path;
	a.client_id = "paiactl";
	a.biggest = biggest;
	a.dr_msg_cb = dr_msg_cb;
	return client_kafka_new(type, &a, cause);
}

struct client_conn *
paiactl_conn_new(struct paiactl *ctx, const struct client_conn_opts *opts, char **cause)
{
	const char *path;

	if ((path = paiactl_socket(ctx, cause)) == NULL)
		return NULL;
	return client_conn_new(client_transport_unix_new(path), opts);
}

cJSON *
paiactl_call_ms(struct paiactl *ctx, const cJSON *req, int timeout_ms, char **cause)
{
	struct client_conn *c;
	cJSON *resp;

	if ((c = paiactl_conn_new(ctx, NULL, cause)) == NULL)
		return NULL;
	resp = client_call(c, req, timeout_ms, ctx->stop, cause);
	client_conn_free(c);
	return resp;
}

cJSON *
paiactl_call(struct paiactl *ctx, const cJSON *req, char **cause)
{
	return paiactl_call_ms(ctx, req, PAIACTL_ANSWER_MS, cause);
}

cJSON *
paiactl_request(struct paiactl *ctx, const char *cmd, const char *key, const char *value,
    char **cause)
{
	cJSON *req = client_request_new(cmd, key, value), *resp;

	resp = paiactl_call(ctx, req, cause);
	cJSON_Delete(req);
	return resp;
}

void
paiactl_task_ids(struct paiactl *ctx, FILE *f)
{
	cJSON *req = client_request_new("tasks", NULL, NULL), *resp;
	const cJSON *t;
	const char *id;
	char *cause = NULL;

	resp = paiactl_call_ms(ctx, req, PAIACTL_COMPLETE_MS, &cause);
	free(cause);
	cJSON_Delete(req);
	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(resp, "tasks")) {
		/* Only ids a shell word can hold as they are. */
		if ((id = client_json_str(t, "task_id")) != NULL &&
		    strcspn(id, " \t\n'\"\\$`;&|<>()*?[]{}!#~") == strlen(id))
			fprintf(f, "%s\n", id);
	}
	cJSON_Delete(resp);
}

/* ---- output ---- */

void
paiactl_json_print(const cJSON *j)
{
	char *s = cJSON_PrintUnformatted(j);

	if (s == NULL)
		fatalx("paiactl: cannot print JSON");
	printf("%s\n", s);
	cJSON_free(s);
}

void
paiactl_answer_print(cJSON *resp)
{
	cJSON_DeleteItemFromObjectCaseSensitive(resp, "ok");
	paiactl_json_print(resp);
}

const char *
paiactl_yesno(const cJSON *j)
{
	if (!cJSON_IsBool(j))
		return "-";
	return cJSON_IsTrue(j) ? "yes" : "no";
}

void
paiactl_table_init(struct paiactl_table *t, size_t ncols, const char *const *headers)
{
	size_t i;

	memset(t, 0, sizeof *t);
	t->ncols = ncols;
	t->width = xcalloc(ncols, sizeof *t->width);
	for (i = 0; i < ncols; i++)
		paiactl_table_add(t, xstrdup(headers[i]));
}

void
paiactl_table_add(struct paiactl_table *t, char *owned)
{
	size_t col = t->ncells % t->ncols, len = strlen(owned);

	t->cells = xreallocarray(t->cells, t->ncells + 1, sizeof *t->cells);
	t->cells[t->ncells++] = owned;
	if (len > t->width[col])
		t->width[col] = len;
}

void
paiactl_table_addf(struct paiactl_table *t, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	xvasprintf(&s, fmt, ap);
	va_end(ap);
	paiactl_table_add(t, s);
}

void
paiactl_table_add_json(struct paiactl_table *t, const cJSON *j)
{
	if (cJSON_IsBool(j))
		paiactl_table_add(t, xstrdup(paiactl_yesno(j)));
	else if (cJSON_IsNumber(j) && j->valuedouble < 0)
		paiactl_table_add(t, xstrdup("-"));
	else
		paiactl_table_add(t, client_text_json(j));
}

size_t
paiactl_table_rows(const struct paiactl_table *t)
{
	return t->ncells / t->ncols - 1;
}

void
paiactl_table_flush(struct paiactl_table *t, FILE *f)
{
	size_t i, col;

	for (i = t->printed; i + t->ncols <= t->ncells; i += t->ncols) {
		for (col = 0; col < t->ncols; col++) {
			if (col + 1 == t->ncols)
				fprintf(f, "%s\n", t->cells[i + col]);
			else
				fprintf(f, "%-*s   ", (int)t->width[col], t->cells[i + col]);
		}
	}
	t->printed = i;
	fflush(f);
}

void
paiactl_table_print(struct paiactl_table *t, FILE *f)
{
	t->printed = 0;
	paiactl_table_flush(t, f);
}

void
paiactl_table_free(struct paiactl_table *t)
{
	size_t i;

	for (i = 0; i < t->ncells; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t->width);
	memset(t, 0, sizeof *t);
}

/* ---- shell completion: paiactl __complete WORD... ---- */

/* The flags of a table as completion candidates. */
static void
paiactl_complete_flags(const struct paiactl_flag *flags, int help)
{
	const struct paiactl_flag *fl;

	for (fl = flags; fl->name != NULL; fl++)
		printf("--%s\n", fl->name);
	if (help)
		printf("--help\n");
}

/* The flag of a table that word names (-x, --name), or NULL. */
static const struct paiactl_flag *
paiactl_complete_flag(const struct paiactl_flag *flags, const char *word)
{
	const struct paiactl_flag *fl;

	for (fl = flags; word[0] == '-' && fl->name != NULL; fl++) {
		if (word[1] == '-' && strcmp(word + 2, fl->name) == 0)
			return fl;
		if (word[1] == fl->letter && word[1] != '\0' && word[2] == '\0')
			return fl;
	}
	return NULL;
}

/*
 * The candidates for the last of words (what is being typed; the ones
 * before it are the command line after "paiactl"), one per line, for
 * paiactl.bash-completion. Nothing printed: let the shell complete
 * file names. The command table is the only source: a new flag
 * completes without touching the script.
 */
static int
paiactl_complete(struct paiactl *ctx, int nwords, char **words)
{
	const struct paiactl_flag *fl, *prev = NULL;
	const struct paiactl_cmd *cmd = NULL;
	const char *cur = nwords > 0 ? words[nwords - 1] : "";
	int i, operands = 0;
	size_t k;

	for (i = 0; i < nwords - 1; i++) {
		if (prev != NULL) {
			/* The value of the flag before: where the gateway is, too. */
			if (cmd == NULL && prev->letter == 'S')
				ctx->where.socket = words[i];
			else if (cmd == NULL && prev->letter == 'd')
				ctx->where.state_dir = words[i];
			prev = NULL;
			continue;
		}
		fl = paiactl_complete_flag(cmd != NULL ? cmd->flags : paiactl_f_global, words[i]);
		if (fl != NULL) {
			prev = fl->value != NULL ? fl : NULL;
			continue;
		}
		if (cmd == NULL && words[i][0] != '-')
			cmd = paiactl_cmd_find(words[i]);
		else if (cmd != NULL && words[i][0] != '-')
			operands++;
	}
	if (prev != NULL) {
		if (strcmp(prev->name, "state") == 0) {
			for (k = 0; k < paiactl_nstates; k++)
				printf("%s\n", paiactl_states[k]);
			printf("active\n");
		}
		return 0;	/* other values: files, or nothing to offer */
	}
	if (cmd == NULL) {
		if (cur[0] == '-')
			paiactl_complete_flags(paiactl_f_global, 0);
		else {
			for (k = 0; k < nitems(paiactl_cmds); k++)
				printf("%s\n", paiactl_cmds[k].name);
			printf("help\n");
		}
		return 0;
	}
	if (cur[0] == '-')
		paiactl_complete_flags(cmd->flags, 1);
	else if (*cmd->operands != '\0' && operands == 0)
		paiactl_task_ids(ctx, stdout);
	return 0;
}

/* ---- main ---- */

static int
paiactl_conf_load(struct paiactl *ctx)
{
	char *cause = NULL;

	ctx->conf = config_new(options_schema, options_passthrough);
	if (config_load_file(ctx->conf, ctx->where.config_path, &cause) != 0 ||
	    config_load_env(ctx->conf, environ, &cause) != 0)
		return paiactl_err_cause(cause);
	ctx->where.conf = ctx->conf;
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 'S' },
		{ "state-dir", required_argument, NULL, 'd' },
		{ "config", required_argument, NULL, 'c' },
		{ "bootstrap", required_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	const struct paiactl_cmd *cmd = NULL;
	struct paiactl_args args;
	struct paiactl ctx;
	int ch, rc;

	memset(&ctx, 0, sizeof ctx);
	ctx.stop = &paiactl_interrupted;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+:S:d:c:b:hV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'S':
			ctx.where.socket = optarg;
			break;
		case 'd':
			ctx.where.state_dir = optarg;
			break;
		case 'c':
			ctx.where.config_path = optarg;
			break;
		case 'b':
			ctx.where.bootstrap = optarg;
			break;
		case 'h':
			paiactl_usage_full(stdout);
			return 0;
		case 'V':
			printf("paiactl %s\n", PACKAGE_VERSION);
			return 0;
		case ':':
			if (optopt != 0)
				return paiactl_usage_err(NULL, "flag -%c needs a value", optopt);
			return paiactl_usage_err(NULL, "flag %s needs a value", argv[optind - 1]);
		default:
			if (optopt != 0)
				return paiactl_usage_err(NULL, "unknown flag -%c", optopt);
			return paiactl_usage_err(NULL, "unknown flag %s", argv[optind - 1]);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0)
		return paiactl_usage_err(NULL, "no command given (paiactl --help lists them)");
	if (strcmp(argv[0], "help") == 0) {
		if (argc > 1 && (cmd = paiactl_cmd_find(argv[1])) != NULL)
			paiactl_cmd_help(cmd, stdout);
		else if (argc > 1)
			return paiactl_usage_err(NULL, "unknown command: %s (paiactl --help lists "
			    "them)", argv[1]);
		else
			paiactl_usage_full(stdout);
		return 0;
	}
	if (strcmp(argv[0], "__complete") == 0) {
		/* Quietly: a broken -c must not spill errors into the prompt. */
		client_locate(&ctx.where, 0, &ctx.loc, NULL);
		rc = paiactl_complete(&ctx, argc - 1, argv + 1);
		client_location_clear(&ctx.loc);
		return rc;
	}
	if ((cmd = paiactl_cmd_find(argv[0])) == NULL)
		return paiactl_usage_err(NULL, "unknown command: %s (paiactl --help lists them)",
		    argv[0]);
	if ((rc = paiactl_args_parse(cmd, argc, argv, &args)) != 0) {
		paiactl_args_free(&args);
		return rc < 0 ? 0 : rc;
	}

	if (ctx.where.config_path != NULL && (rc = paiactl_conf_load(&ctx)) != 0) {
		config_free(ctx.conf);
		paiactl_args_free(&args);
		return rc;
	}
	/* The state folder now; the socket and Kafka when a command asks. */
	client_locate(&ctx.where, 0, &ctx.loc, NULL);
	rc = cmd->exec(&ctx, &args);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		paiactl_err("stdout: %s", strerror(errno));
		rc = 1;
	}
	paiactl_args_free(&args);
	client_location_clear(&ctx.loc);
	config_free(ctx.conf);
	return rc;
}
