/*
 * paiactl.c: the scriptable twin of paia-console (kubectl to its k9s).
 * It finds one gateway (flags, environment, paia-gateway.conf, the
 * embedded.json an embedded gateway leaves in its state folder), talks
 * JSON lines to its control socket (status, tasks, task, requeue,
 * cancel, logs, watch: paiactl-control.c, docs/control.md), and reaches
 * Kafka directly to submit tasks and read results (paiactl-kafka.c).
 * This file holds main, the finding, and the text helpers all share.
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
#include <time.h>
#include <unistd.h>

#include "options.h"

extern char **environ;

struct ctl ctl;
volatile sig_atomic_t ctl_interrupted;

static const struct ctl_cmd ctl_cmds[] = {
	{ "submit", "[--game G] [--program URL] [--entry E] [--model URL] [--params JSON] "
	    "[--timeout S] [--gpu N] [--id ID] [--count N] [--result-prefix URL] "
	    "[--file FILE|-] [--raw STRING] [--raw-file FILE|-]", ctl_cmd_submit,
	  "produce tasks to the tasks topic; prints one task id per line" },
	{ "results", "[--follow] [--json] [--dlq] [--count N] [--timeout S] "
	    "[--from-beginning|--from-end]", ctl_cmd_results,
	  "read the results topic (or the dead-letter topic with --dlq)" },
	{ "topics", "[--create] [--partitions T,R,D] [--replication N]", ctl_cmd_topics,
	  "the gateway's topics; --create makes the missing ones" },
	{ "status", "[--json]", ctl_cmd_status, "the gateway's state, queues and partitions" },
	{ "lag", "[--json]", ctl_cmd_lag,
	  "lag, Burrow status and health per partition; exits 3 when unhealthy" },
	{ "tasks", "[--state STATE] [--json]", ctl_cmd_tasks,
	  "tasks the gateway knows (STATE: a state name or active)" },
	{ "task", "ID [--json]", ctl_cmd_task, "one task with its timeline" },
	{ "requeue", "ID", ctl_cmd_requeue, "run a task again as a new attempt" },
	{ "cancel", "ID", ctl_cmd_cancel, "stop a task (it ends as cancelled)" },
	{ "logs", "ID [-f]", ctl_cmd_logs, "print a task's log; -f follows it until the task ends" },
	{ "watch", "[--count N]", ctl_cmd_watch, "print the gateway's events as JSON lines" },
};

/* ---- messages and usage ---- */

int
ctl_err(const char *fmt, ...)
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
ctl_err_cause(char *cause)
{
	ctl_err("%s", cause != NULL ? cause : "failed");
	free(cause);
	return 1;
}

static void
ctl_usage_global(FILE *f)
{
	fprintf(f, "usage: paiactl [-hV] [-S socket] [-d statedir] [-c config] [-b bootstrap] "
	    "command [flags]\n");
}

static void
ctl_usage_full(FILE *f)
{
	size_t i;

	ctl_usage_global(f);
	fputs("\ncommands:\n", f);
	for (i = 0; i < nitems(ctl_cmds); i++)
		fprintf(f, "  %-8s %s\n", ctl_cmds[i].name, ctl_cmds[i].help);
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
ctl_usage_err(const struct ctl_cmd *cmd, const char *fmt, ...)
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
		ctl_usage_global(stderr);
	return 2;
}

int
ctl_usage_help(const struct ctl_cmd *cmd)
{
	printf("usage: paiactl %s %s\n%s\n", cmd->name, cmd->args, cmd->help);
	return CTL_HELP_DONE;
}

int
ctl_flag_bad(const struct ctl_cmd *cmd, int ch, char **argv, int optopt_)
{
	char flag[3] = { '-', (char)optopt_, '\0' };
	const char *name = optopt_ > 0 && optopt_ < 256 ? flag : argv[optind - 1];

	if (ch == ':')
		return ctl_usage_err(cmd, "%s: flag %s needs a value", cmd->name, name);
	return ctl_usage_err(cmd, "%s: unknown flag %s", cmd->name, name);
}

int
ctl_flag_int(const struct ctl_cmd *cmd, const char *flag, const char *value, long long min,
    long long max, long long *out)
{
	if (util_parse_int(value, min, max, out) != 0) {
		ctl_usage_err(cmd, "%s: \"%s\" is not a whole number between %lld and %lld", flag,
		    value, min, max);
		return -1;
	}
	return 0;
}

static void
ctl_signal(int sig)
{
	(void)sig;
	ctl_interrupted = 1;
}

void
ctl_signals_catch(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = ctl_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;	/* no SA_RESTART: poll(2) must return */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* ---- finding the gateway ---- */

static void
ctl_state_resolve(void)
{
	const char *s;

	if (ctl.arg_state != NULL)
		ctl.state_dir = xstrdup(ctl.arg_state);
	else if (((s = getenv("PAIA_STATE_DIR")) != NULL && *s != '\0') ||
	    ((s = getenv("PAIA_GATEWAY_STATE_DIR")) != NULL && *s != '\0'))
		ctl.state_dir = xstrdup(s);
	else if (ctl.conf != NULL)
		ctl.state_dir = xstrdup(config_get(ctl.conf, "gateway", "state_dir"));
	else
		ctl.state_dir = options_default_state_dir(1);
}

static char *
ctl_json_strdup(const cJSON *obj, const char *name)
{
	const char *s = ctl_json_str(obj, name);

	return s != NULL && *s != '\0' ? xstrdup(s) : NULL;
}

/* Read <state_dir>/embedded.json once; a missing file is not an error. */
static int
ctl_embedded_load(char **cause)
{
	cJSON *root;
	char *buf;
	size_t len;
	double pid;

	if (ctl.emb_loaded)
		return 0;
	ctl.emb_loaded = 1;
	xasprintf(&ctl.emb_path, "%s/embedded.json", ctl.state_dir);
	if (access(ctl.emb_path, F_OK) != 0)
		return 0;
	if ((buf = util_read_file(ctl.emb_path, 1024 * 1024, &len, cause)) == NULL)
		return -1;
	root = cJSON_ParseWithLength(buf, len);
	free(buf);
	if (!cJSON_IsObject(root)) {
		xasprintf(cause, "%s: not a JSON object", ctl.emb_path);
		cJSON_Delete(root);
		return -1;
	}
	ctl.emb_present = 1;
	ctl.emb_bootstrap = ctl_json_strdup(root, "bootstrap_servers");
	ctl.emb_socket = ctl_json_strdup(root, "control_socket");
	ctl.emb_topics[0] = ctl_json_strdup(root, "tasks_topic");
	ctl.emb_topics[1] = ctl_json_strdup(root, "results_topic");
	ctl.emb_topics[2] = ctl_json_strdup(root, "dlq_topic");
	if (ctl_json_num(root, "pid", &pid) == 0 && pid > 0 && pid < 1e9)
		ctl.emb_pid = (long)pid;
	cJSON_Delete(root);
	return 0;
}

int
ctl_embedded_stale(void)
{
	if (!ctl.emb_present || ctl.emb_pid <= 0)
		return 0;
	return kill((pid_t)ctl.emb_pid, 0) != 0 && errno == ESRCH;
}

int
ctl_socket_resolve(char **cause)
{
	const char *s;

	if (ctl.socket_path != NULL)
		return 0;
	if (ctl.arg_socket != NULL) {
		ctl.socket_path = xstrdup(ctl.arg_socket);
		return 0;
	}
	if (((s = getenv("PAIA_SOCKET")) != NULL && *s != '\0') ||
	    ((s = getenv("PAIA_CONTROL_SOCKET")) != NULL && *s != '\0')) {
		ctl.socket_path = xstrdup(s);
		return 0;
	}
	if (ctl.conf != NULL && (s = config_get(ctl.conf, "control", "socket")) != NULL &&
	    *s != '\0') {
		ctl.socket_path = xstrdup(s);
		return 0;
	}
	if (ctl_embedded_load(cause) != 0)
		return -1;
	if (ctl.emb_socket != NULL)
		ctl.socket_path = xstrdup(ctl.emb_socket);
	else
		xasprintf(&ctl.socket_path, "%s/control.sock", ctl.state_dir);
	return 0;
}

int
ctl_kafka_resolve(char **cause)
{
	static const char *keys[] = { "tasks_topic", "results_topic", "dlq_topic" };
	static const char *defaults[] = { "paia.tasks", "paia.results", "paia.tasks.dlq" };
	char **topics[] = { &ctl.tasks_topic, &ctl.results_topic, &ctl.dlq_topic };
	const char *s;
	size_t i;

	if (ctl.bootstrap != NULL)
		return 0;
	if (ctl_embedded_load(cause) != 0)
		return -1;
	if (ctl.arg_bootstrap != NULL) {
		ctl.bootstrap = xstrdup(ctl.arg_bootstrap);
		ctl.bootstrap_from = "-b";
	} else if (ctl.conf != NULL &&
	    (s = config_get(ctl.conf, "kafka", "bootstrap.servers")) != NULL && *s != '\0') {
		ctl.bootstrap = xstrdup(s);
		ctl.bootstrap_from = ctl.arg_config;
	} else if (ctl.emb_bootstrap != NULL) {
		if (ctl_embedded_stale()) {
			xasprintf(cause, "%s is stale: paia-gateway (pid %ld) is not running; "
			    "start it or give -b", ctl.emb_path, ctl.emb_pid);
			return -1;
		}
		ctl.bootstrap = xstrdup(ctl.emb_bootstrap);
		ctl.bootstrap_from = ctl.emb_path;
	} else if (ctl.conf != NULL) {
		xasprintf(cause, "no Kafka bootstrap servers: %s has no kafka.bootstrap.servers "
		    "and %s is not there; give -b", ctl.arg_config, ctl.emb_path);
		return -1;
	} else {
		xasprintf(cause, "no Kafka bootstrap servers: give -b or -c, or start "
		    "paia-gateway --embedded (%s not found)", ctl.emb_path);
		return -1;
	}
	for (i = 0; i < nitems(keys); i++) {
		if (ctl.conf != NULL && (s = config_get(ctl.conf, "gateway", keys[i])) != NULL &&
		    *s != '\0')
			*topics[i] = xstrdup(s);
		else if (ctl.emb_topics[i] != NULL)
			*topics[i] = xstrdup(ctl.emb_topics[i]);
		else
			*topics[i] = xstrdup(defaults[i]);
	}
	return 0;
}

/* ---- text helpers ---- */

char *
ctl_clean(const char *s)
{
	char *out = xstrdup(s), *p;

	for (p = out; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '\n' || c == '\r' || c == '\t')
			*p = ' ';
		else if (c < 0x20 || c == 0x7f)
			*p = '?';
	}
	return out;
}

const char *
ctl_json_str(const cJSON *obj, const char *name)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, name);

	return cJSON_IsString(j) ? j->valuestring : NULL;
}

int
ctl_json_num(const cJSON *obj, const char *name, double *out)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, name);

	if (!cJSON_IsNumber(j))
		return -1;
	*out = j->valuedouble;
	return 0;
}

char *
ctl_json_text(const cJSON *j)
{
	char *s, *c;
	double v;

	if (j == NULL || cJSON_IsNull(j))
		return xstrdup("-");
	if (cJSON_IsString(j))
		return ctl_clean(j->valuestring);
	if (cJSON_IsBool(j))
		return xstrdup(cJSON_IsTrue(j) ? "true" : "false");
	if (cJSON_IsNumber(j)) {
		v = j->valuedouble;
		if (v > -1e15 && v < 1e15 && (double)(long long)v == v)
			xasprintf(&s, "%lld", (long long)v);
		else
			xasprintf(&s, "%g", v);
		return s;
	}
	if ((s = cJSON_PrintUnformatted(j)) == NULL)
		return xstrdup("?");
	c = ctl_clean(s);
	cJSON_free(s);
	return c;
}

int
ctl_time_parse(const char *s, int64_t *ms)
{
	struct tm tm;
	int y, mo, d, h, mi, sec, n = 0, oh, om, sign = 1;
	int64_t frac = 0, scale = 100, off = 0;
	const char *p;
	time_t t;

	if (s == NULL)
		return -1;
	if (sscanf(s, "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 ||
	    n == 0)
		return -1;
	p = s + n;
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++) {
			frac += (*p - '0') * scale;
			scale /= 10;
		}
	}
	if (*p == 'Z' || *p == 'z')
		p++;
	else if (*p == '+' || *p == '-') {
		sign = *p == '-' ? -1 : 1;
		if (sscanf(p + 1, "%2d:%2d", &oh, &om) != 2 || strlen(p) != 6)
			return -1;
		off = sign * ((int64_t)oh * 3600 + (int64_t)om * 60) * 1000;
		p += 6;
	} else
		return -1;
	if (*p != '\0')
		return -1;
	memset(&tm, 0, sizeof tm);
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	if ((t = timegm(&tm)) == (time_t)-1)
		return -1;
	*ms = (int64_t)t * 1000 + frac - off;
	return 0;
}

char *
ctl_duration_fmt(int64_t ms, char *buf, size_t len)
{
	long long s = (long long)(ms / 1000);

	if (ms < 0)
		snprintf(buf, len, "-");
	else if (ms < 10000)
		snprintf(buf, len, "%.1fs", (double)ms / 1000);
	else if (s < 60)
		snprintf(buf, len, "%llds", s);
	else if (s < 3600)
		snprintf(buf, len, "%lldm%02llds", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%lldh%02lldm", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, len, "%lldd%02lldh", s / 86400, s % 86400 / 3600);
	return buf;
}

void
ctl_table_init(struct ctl_table *t, size_t ncols, const char *const *headers)
{
	size_t i;

	memset(t, 0, sizeof *t);
	t->ncols = ncols;
	t->width = xcalloc(ncols, sizeof *t->width);
	for (i = 0; i < ncols; i++)
		ctl_table_add(t, xstrdup(headers[i]));
}

void
ctl_table_add(struct ctl_table *t, char *owned)
{
	size_t col = t->ncells % t->ncols, len = strlen(owned);

	t->cells = xreallocarray(t->cells, t->ncells + 1, sizeof *t->cells);
	t->cells[t->ncells++] = owned;
	if (len > t->width[col])
		t->width[col] = len;
}

void
ctl_table_addf(struct ctl_table *t, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	xvasprintf(&s, fmt, ap);
	va_end(ap);
	ctl_table_add(t, s);
}

size_t
ctl_table_rows(const struct ctl_table *t)
{
	return t->ncells / t->ncols - 1;
}

void
ctl_table_flush(struct ctl_table *t, FILE *f)
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
ctl_table_print(struct ctl_table *t, FILE *f)
{
	t->printed = 0;
	ctl_table_flush(t, f);
}

void
ctl_table_free(struct ctl_table *t)
{
	size_t i;

	for (i = 0; i < t->ncells; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t->width);
	memset(t, 0, sizeof *t);
}

/* ---- main ---- */

static void
ctl_free(void)
{
	size_t i;

	config_free(ctl.conf);
	free(ctl.state_dir);
	free(ctl.emb_path);
	free(ctl.emb_bootstrap);
	free(ctl.emb_socket);
	for (i = 0; i < nitems(ctl.emb_topics); i++)
		free(ctl.emb_topics[i]);
	free(ctl.socket_path);
	free(ctl.bootstrap);
	free(ctl.tasks_topic);
	free(ctl.results_topic);
	free(ctl.dlq_topic);
	memset(&ctl, 0, sizeof ctl);
}

int
main(int argc, char **argv)
{
	const struct ctl_cmd *cmd = NULL;
	char *cause = NULL;
	size_t i;
	int ch, rc;

	opterr = 0;
	while ((ch = getopt(argc, argv, "+:S:d:c:b:hV")) != -1) {
		switch (ch) {
		case 'S':
			ctl.arg_socket = optarg;
			break;
		case 'd':
			ctl.arg_state = optarg;
			break;
		case 'c':
			ctl.arg_config = optarg;
			break;
		case 'b':
			ctl.arg_bootstrap = optarg;
			break;
		case 'h':
			ctl_usage_full(stdout);
			return 0;
		case 'V':
			printf("paiactl %s\n", PACKAGE_VERSION);
			return 0;
		case ':':
			return ctl_usage_err(NULL, "flag -%c needs a value", optopt);
		default:
			return ctl_usage_err(NULL, "unknown flag -%c", optopt);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0)
		return ctl_usage_err(NULL, "no command given (paiactl -h lists them)");
	if (strcmp(argv[0], "help") == 0) {
		ctl_usage_full(stdout);
		return 0;
	}
	for (i = 0; i < nitems(ctl_cmds); i++)
		if (strcmp(argv[0], ctl_cmds[i].name) == 0)
			cmd = &ctl_cmds[i];
	if (cmd == NULL)
		return ctl_usage_err(NULL, "unknown command: %s (paiactl -h lists them)", argv[0]);

	if (ctl.arg_config != NULL) {
		ctl.conf = config_new(options_schema, options_passthrough);
		if (config_load_file(ctl.conf, ctl.arg_config, &cause) != 0 ||
		    config_load_env(ctl.conf, environ, &cause) != 0) {
			rc = ctl_err_cause(cause);
			ctl_free();
			return rc;
		}
	}
	ctl_state_resolve();
	rc = cmd->exec(cmd, argc, argv);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		ctl_err("stdout: %s", strerror(errno));
		rc = 1;
	}
	ctl_free();
	return rc;
}
