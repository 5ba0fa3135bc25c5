/*
 * paiactl.c: the scriptable twin of paia-console (kubectl to its k9s).
 * It finds one gateway (flags, environment, paia-gateway.conf, the
 * embedded.json an embedded gateway leaves in its state folder), talks
 * JSON lines to its control socket (status, tasks, task, requeue,
 * cancel, logs, watch: paiactl-control.c, docs/control.md), and reaches
 * Kafka directly to submit tasks and read results (paiactl-kafka.c).
 * Finding the gateway, the connection and text are client/'s; this
 * file holds main, the command table, usage and the tables all print.
 *
 * It keeps no state between runs and never changes the gateway except
 * through requeue and cancel. Output meant for scripts is --json (one
 * object per line, exactly what the gateway or Kafka said); tables are
 * for people. Failures print "paiactl: ..." and exit 1; usage errors
 * exit 2.
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

/* The one global: what the signal handler sets (ctx->stop points here). */
static volatile sig_atomic_t paiactl_interrupted;

static const struct paiactl_cmd paiactl_cmds[] = {
	{ "submit", "[--game G] [--program URL] [--entry E] [--model URL] [--params JSON] "
	    "[--timeout S] [--gpu N] [--id ID] [--count N] [--result-prefix URL] "
	    "[--file FILE|-] [--raw STRING] [--raw-file FILE|-]", paiactl_cmd_submit,
	  "produce tasks to the tasks topic; prints one task id per line" },
	{ "results", "[--follow] [--json] [--dlq] [--count N] [--timeout S] "
	    "[--from-beginning|--from-end]", paiactl_cmd_results,
	  "read the results topic (or the dead-letter topic with --dlq)" },
	{ "topics", "[--create] [--partitions T,R,D] [--replication N]", paiactl_cmd_topics,
	  "the gateway's topics; --create makes the missing ones" },
	{ "status", "[--json]", paiactl_cmd_status, "the gateway's state, queues and partitions" },
	{ "lag", "[--json]", paiactl_cmd_lag,
	  "lag, Burrow status and health per partition; exits 3 when unhealthy" },
	{ "tasks", "[--state STATE] [--json]", paiactl_cmd_tasks,
	  "tasks the gateway knows (STATE: a state name or active)" },
	{ "task", "ID [--json]", paiactl_cmd_task, "one task with its timeline" },
	{ "requeue", "ID", paiactl_cmd_requeue, "run a task again as a new attempt" },
	{ "cancel", "ID", paiactl_cmd_cancel, "stop a task (it ends as cancelled)" },
	{ "logs", "ID [-f]", paiactl_cmd_logs,
	  "print a task's log; -f follows it until the task ends" },
	{ "watch", "[--count N]", paiactl_cmd_watch, "print the gateway's events as JSON lines" },
	{ "dial-stdio", "", paiactl_cmd_dial_stdio,
	  "relay stdin and stdout to the control socket (a remote paia-console runs it over SSH)" },
};

/* ---- messages and usage ---- */

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

static void
paiactl_usage_global(FILE *f)
{
	fprintf(f, "usage: paiactl [-hV] [-S socket] [-d statedir] [-c config] [-b bootstrap] "
	    "command [flags]\n");
}

static void
paiactl_usage_full(FILE *f)
{
	size_t i;

	paiactl_usage_global(f);
	fputs("\ncommands:\n", f);
	for (i = 0; i < nitems(paiactl_cmds); i++)
		fprintf(f, "  %-8s %s\n", paiactl_cmds[i].name, paiactl_cmds[i].help);
	fputs("\nglobal flags:\n"
	    "  -S socket     control socket (default: $PAIA_SOCKET, control.socket,\n"
	    "                embedded.json, <statedir>/control.sock)\n"
	    "  -d statedir   state folder (default: $PAIA_STATE_DIR, gateway.state_dir,\n"
	    "                $TMPDIR/paia-<uid>)\n"
	    "  -c config     paia-gateway.conf: state folder, topics, kafka.* settings\n"
	    "  -b bootstrap  Kafka bootstrap servers (default: kafka.bootstrap.servers,\n"
	    "                embedded.json)\n"
	    "  -h            this help; paiactl COMMAND -h for a command's flags\n"
	    "  -V            version\n", f);
}

int
paiactl_usage_err(const struct paiactl_cmd *cmd, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("paiactl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (cmd != NULL)
		fprintf(stderr, "usage: paiactl %s %s\n", cmd->name, cmd->args);
	else
		paiactl_usage_global(stderr);
	return 2;
}

int
paiactl_usage_help(const struct paiactl_cmd *cmd)
{
	printf("usage: paiactl %s %s\n%s\n", cmd->name, cmd->args, cmd->help);
	return PAIACTL_HELP_DONE;
}

int
paiactl_flag_bad(const struct paiactl_cmd *cmd, int ch, char **argv, int optopt_)
{
	char flag[3] = { '-', (char)optopt_, '\0' };
	const char *name = optopt_ > 0 && optopt_ < 256 ? flag : argv[optind - 1];

	if (ch == ':')
		return paiactl_usage_err(cmd, "%s: flag %s needs a value", cmd->name, name);
	return paiactl_usage_err(cmd, "%s: unknown flag %s", cmd->name, name);
}

int
paiactl_flag_int(const struct paiactl_cmd *cmd, const char *flag, const char *value, long long min,
    long long max, long long *out)
{
	if (util_parse_int(value, min, max, out) != 0) {
		paiactl_usage_err(cmd, "%s: \"%s\" is not a whole number between %lld and %lld",
		    flag, value, min, max);
		return -1;
	}
	return 0;
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

/* ---- tables ---- */

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

/* ---- main ---- */

int
main(int argc, char **argv)
{
	const struct paiactl_cmd *cmd = NULL;
	struct paiactl ctx;
	char *cause = NULL;
	size_t i;
	int ch, rc;

	memset(&ctx, 0, sizeof ctx);
	ctx.stop = &paiactl_interrupted;
	opterr = 0;
	while ((ch = getopt(argc, argv, "+:S:d:c:b:hV")) != -1) {
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
			return paiactl_usage_err(NULL, "flag -%c needs a value", optopt);
		default:
			return paiactl_usage_err(NULL, "unknown flag -%c", optopt);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0)
		return paiactl_usage_err(NULL, "no command given (paiactl -h lists them)");
	if (strcmp(argv[0], "help") == 0) {
		paiactl_usage_full(stdout);
		return 0;
	}
	for (i = 0; i < nitems(paiactl_cmds); i++)
		if (strcmp(argv[0], paiactl_cmds[i].name) == 0)
			cmd = &paiactl_cmds[i];
	if (cmd == NULL)
		return paiactl_usage_err(NULL, "unknown command: %s (paiactl -h lists them)",
		    argv[0]);

	if (ctx.where.config_path != NULL) {
		ctx.conf = config_new(options_schema, options_passthrough);
		if (config_load_file(ctx.conf, ctx.where.config_path, &cause) != 0 ||
		    config_load_env(ctx.conf, environ, &cause) != 0) {
			rc = paiactl_err_cause(cause);
			config_free(ctx.conf);
			return rc;
		}
		ctx.where.conf = ctx.conf;
	}
	/* The state folder now; the socket and Kafka when a command asks. */
	client_locate(&ctx.where, 0, &ctx.loc, NULL);
	rc = cmd->exec(&ctx, cmd, argc, argv);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		paiactl_err("stdout: %s", strerror(errno));
		rc = 1;
	}
	client_location_clear(&ctx.loc);
	config_free(ctx.conf);
	return rc;
}
