/*
 * main.c: paia-gateway(8): configuration, start-up in dependency order,
 * the loop, signals, and an orderly stop.
 *
 * One gateway per state folder: <state_dir>/gateway.lock is held with
 * flock(2) for the process's life, so a second one started on the same
 * folder stops before it touches anything (the first one's games, its
 * control socket), naming the first one's pid.
 *
 * Signals: SIGTERM and SIGINT drain (stop intake, let in-flight tasks
 * finish within gateway.grace_s, commit, exit 0; a second one stops at
 * once; the VPN tunnel goes last, once nothing needs it). SIGHUP opens
 * the log file again (after a rotation) and reads the configuration
 * again: the log settings take effect, any other change is named as
 * needing a restart.
 *
 * Every exit that can clean up does: a failed start undoes what it had
 * started, and an exit() from anywhere (fatalx) still removes the files
 * this process made (control socket, embedded.json, the lock file),
 * each only if it is still the one it made.
 */
#include "config.h"
#include "gateway.h"
#include "options.h"
#include "vpn.h"

#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <librdkafka/rdkafka.h>

extern char **environ;

/* What the command line says, kept to read the configuration again (SIGHUP). */
struct main_args {
	const char *file;
	char **opts;
	size_t nopts;
	const char *state_dir;
	int embedded;
	int verbose;
	int quiet;
};

/* The files this process made, removed by any exit if they are still its own. */
static struct main_leftover {
	char *path;
	dev_t dev;
	ino_t ino;
} main_leftovers[3];
static pid_t main_pid;
static int main_lock_fd = -1;
static char *main_lock_path;

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: paia-gateway [-c FILE] [-o SECTION.KEY=VALUE]... [--state-dir DIR]\n"
	    "                    [--embedded] [--demo N] [--check-config] [-q | -v] [-V]\n"
	    "\n"
	    "  -c, --config FILE     read paia-gateway.conf(5) from FILE\n"
	    "  -o SECTION.KEY=VALUE  set one option (repeatable; wins over file and env)\n"
	    "      --state-dir DIR   same as -o gateway.state_dir=DIR\n"
	    "      --embedded        no servers: in-process Kafka, file:// storage, local games\n"
	    "      --demo N          --embedded plus N demo tasks; print results and exit\n"
	    "      --check-config    print the effective configuration (secrets masked), exit\n"
	    "  -q, --quiet           warnings and errors only\n"
	    "  -v, --verbose         debug logging\n"
	    "  -V, --version         print the version\n");
}

/* ---- what this process leaves on disk ---- */

static void
main_leftover_add(size_t slot, const char *path)
{
	struct stat sb;

	free(main_leftovers[slot].path);
	main_leftovers[slot].path = NULL;
	if (path == NULL || lstat(path, &sb) != 0)
		return;
	main_leftovers[slot].path = xstrdup(path);
	main_leftovers[slot].dev = sb.st_dev;
	main_leftovers[slot].ino = sb.st_ino;
}

/* Remove what is still ours; forget the rest. */
static void
main_leftovers_remove(void)
{
	struct stat sb;
	size_t i;

	for (i = 0; i < nitems(main_leftovers); i++) {
		struct main_leftover *l = &main_leftovers[i];
		if (l->path != NULL && lstat(l->path, &sb) == 0 && sb.st_dev == l->dev &&
		    sb.st_ino == l->ino)
			unlink(l->path);
		free(l->path);
		l->path = NULL;
	}
	util_unlock_file(main_lock_fd, main_lock_path);
	main_lock_fd = -1;
	free(main_lock_path);
	main_lock_path = NULL;
}

/* exit() from anywhere after start-up (fatalx): not from a child, which has other business. */
static void
main_atexit(void)
{
	if (getpid() == main_pid)
		main_leftovers_remove();
}

/* ---- the configuration ---- */

static int
main_set_option(struct config *conf, const char *arg, char **cause)
{
	const char *dot = strchr(arg, '.'), *eq = strchr(arg, '=');
	char *section, *key;
	int rc;

	if (dot == NULL || eq == NULL || dot > eq) {
		xasprintf(cause, "-o %s: expected SECTION.KEY=VALUE", arg);
		return -1;
	}
	section = xstrndup(arg, (size_t)(dot - arg));
	key = xstrndup(dot + 1, (size_t)(eq - dot - 1));
	rc = config_set(conf, section, key, eq + 1, cause);
	free(section);
	free(key);
	return rc;
}

/*
 * What the schema cannot say: kafka.group.id becomes part of the
 * transactional id and of pod labels, so it is a name too; results are
 * named below storage.result_prefix, so it has no query or fragment
 * (user information, the operator's own, is redacted where reported).
 */
static int
main_check_names(const struct config *conf, char **cause)
{
	const char *group = config_get(conf, "kafka", "group.id");
	const char *prefix = config_get(conf, "storage", "result_prefix");

	if (group != NULL && config_name_check("kafka.group.id", group, 1, 249, cause) != 0)
		return -1;
	if (strpbrk(prefix, "?#") != NULL) {
		xasprintf(cause, "storage.result_prefix must not have a query ('?') or a fragment "
		    "('#'): artifact names are appended to it");
		return -1;
	}
	return 0;
}

/* librdkafka is the judge of kafka.* keys: let it name a bad one. */
static int
main_check_kafka(const struct config *conf, char **cause)
{
	rd_kafka_conf_t *kc = rd_kafka_conf_new();
	char errstr[512];
	size_t i;

	for (i = 0; i < config_count(conf); i++) {
		struct config_entry e = config_at(conf, i);
		if (strcmp(e.section, "kafka") != 0)
			continue;
		if (rd_kafka_conf_set(kc, e.key, e.value, errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
			xasprintf(cause, "kafka.%s: %s", e.key, errstr);
			rd_kafka_conf_destroy(kc);
			return -1;
		}
	}
	rd_kafka_conf_destroy(kc);
	return 0;
}

/*
 * The configuration from defaults, the file, the environment and the
 * flags, checked as a whole: at start and again on SIGHUP. 0, or -1
 * with *cause (a configuration error).
 */
static int
main_config_load(const struct main_args *a, struct config **out, char **cause)
{
	struct config *conf = config_new(options_schema, options_passthrough);
	char *lhost, *s;
	int lport;
	size_t i;

	*out = NULL;
	if (a->embedded) {
		s = options_default_state_dir(1);
		config_set_default(conf, "gateway", "state_dir", s);
		free(s);
	}
	config_set_default(conf, "kafka", "group.id", "paia-gateway");
	if (a->file != NULL && config_load_file(conf, a->file, cause) != 0)
		goto fail;
	if (config_load_env(conf, environ, cause) != 0)
		goto fail;
	for (i = 0; i < a->nopts; i++)
		if (main_set_option(conf, a->opts[i], cause) != 0)
			goto fail;
	if (a->state_dir != NULL && config_set(conf, "gateway", "state_dir", a->state_dir,
	    cause) != 0)
		goto fail;
	if (main_check_kafka(conf, cause) != 0 || main_check_names(conf, cause) != 0 ||
	    gpus_check_config(conf, cause) != 0)
		goto fail;
	/* A listen address that cannot be one is a configuration error (2), also for --check-config. */
	if (*config_get(conf, "health", "listen") != '\0') {
		if (metrics_listen_parse(config_get(conf, "health", "listen"), &lhost, &lport,
		    cause) != 0)
			goto fail;
		free(lhost);
	}
	if (!a->embedded && (config_get(conf, "kafka", "bootstrap.servers") == NULL ||
	    *config_get(conf, "kafka", "bootstrap.servers") == '\0')) {
		*cause = xstrdup("kafka.bootstrap.servers is not set (or run with --embedded)");
		goto fail;
	}
	*out = conf;
	return 0;
fail:
	config_free(conf);
	return -1;
}

/* The log's threshold: -q and -v win over gateway.log_level. */
static void
main_log_level(const struct main_args *a, const struct config *conf)
{
	enum log_level level = LOG_LEVEL_INFO;

	if (log_level_parse(config_get(conf, "gateway", "log_level"), &level) != 0)
		level = LOG_LEVEL_INFO;
	if (a->verbose)
		level = LOG_LEVEL_DEBUG;
	else if (a->quiet)
		level = LOG_LEVEL_WARN;
	log_set_level(level);
	log_set_repeat_window((int)config_get_int(conf, "gateway", "log_repeat_s"));
}

/* Tell systemd (Type=notify, deploy/systemd/) what the gateway is doing. */
static void
main_notify(const char *state)
{
	char *cause = NULL;

	if (notify_send(state, &cause) != 0) {
		log_warn("cannot notify the service manager", "state=%s error=%s", log_q(state),
		    log_q(cause));
		free(cause);
	}
}

/* ---- signals ---- */

struct main_ctx {
	struct gw *gw;
	const struct main_args *args;
};

static void
main_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct gw *gw = ((struct main_ctx *)arg)->gw;
	static int count;

	if (++count == 1) {
		log_info("signal received, draining", "signal=%d", (int)sig);
		main_notify("STOPPING=1");
		task_drain(gw, 0);
	} else {
		log_warn("second signal: stopping now", "signal=%d", (int)sig);
		event_base_loopexit(gw->base, NULL);
	}
}

/* Keys SIGHUP applies; every other change waits for a restart. */
static int
main_reload_key(const char *section, const char *key)
{
	return strcmp(section, "gateway") == 0 && (strcmp(key, "log_level") == 0 ||
	    strcmp(key, "log_file") == 0 || strcmp(key, "log_repeat_s") == 0);
}

/* Append "section.key" to a comma-separated list. */
static void
main_list_add(char **list, const char *section, const char *key)
{
	char *s;

	xasprintf(&s, "%s%s%s.%s", *list != NULL ? *list : "", *list != NULL ? "," : "",
	    section, key);
	free(*list);
	*list = s;
}

/*
 * SIGHUP: the log file again (logrotate moved it), then the
 * configuration again. Values the running gateway holds (topics, ids,
 * the runner, listen addresses) keep theirs until a restart: the line
 * says which keys changed and which of them took effect.
 */
static void
main_reload(struct gw *gw, const struct main_args *a)
{
	struct config *nc;
	struct config_entry e;
	const char *old;
	char *cause = NULL, *applied = NULL, *restart = NULL;
	size_t i;

	if (log_reopen(&cause) != 0) {
		log_error("SIGHUP: cannot open the log file again; writing to the old one",
		    "error=%s", log_q(cause));
		free(cause);
		cause = NULL;
	}
	if (main_config_load(a, &nc, &cause) != 0) {
		log_error("SIGHUP: the configuration is not valid; running on with the one loaded",
		    "file=%s error=%s", log_q(a->file != NULL ? a->file : "-"), log_q(cause));
		free(cause);
		return;
	}
	/* What modes set (--embedded's broker and storage) stays as it is. */
	for (i = 0; i < config_count(gw->conf); i++) {
		e = config_at(gw->conf, i);
		if (!e.user)
			config_set_default(nc, e.section, e.key, e.value);
	}
	for (i = 0; i < config_count(nc); i++) {
		e = config_at(nc, i);
		old = config_get(gw->conf, e.section, e.key);
		if (old != NULL && strcmp(old, e.value) == 0)
			continue;
		if (!main_reload_key(e.section, e.key)) {
			main_list_add(&restart, e.section, e.key);
			continue;
		}
		if (strcmp(e.key, "log_file") == 0 && log_open(e.value, &cause) != 0) {
			log_error("SIGHUP: cannot open the new log file; keeping the old one",
			    "error=%s", log_q(cause));
			free(cause);
			cause = NULL;
			continue;
		}
		config_set(gw->conf, e.section, e.key, e.value, &cause);
		free(cause);
		cause = NULL;
		main_list_add(&applied, e.section, e.key);
	}
	/* A passthrough key (kafka.*) removed from the file. */
	for (i = 0; i < config_count(gw->conf); i++) {
		e = config_at(gw->conf, i);
		if (config_get(nc, e.section, e.key) == NULL)
			main_list_add(&restart, e.section, e.key);
	}
	main_log_level(a, gw->conf);
	log_info("configuration read again (SIGHUP)", "file=%s log_file=%s applied=%s "
	    "restart_needed=%s", log_q(a->file != NULL ? a->file : "-"),
	    log_q(log_file() != NULL ? log_file() : "-"), log_q(applied != NULL ? applied : "-"),
	    log_q(restart != NULL ? restart : "-"));
	free(applied);
	free(restart);
	config_free(nc);
}

static void
main_hup_cb(evutil_socket_t sig, short what, void *arg)
{
	struct main_ctx *ctx = arg;

	main_reload(ctx->gw, ctx->args);
}

/* The loop's pulse (/livez looks at it) and the summaries of repeated log lines. */
static void
main_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gw *gw = arg;

	gw->loop_beat_ms = util_mono_ms();
	log_limit_flush();
}

static void
main_runner_fatal(const char *why, void *arg)
{
	task_fatal(arg, "the runner cannot go on, stopping", why);
}

static const struct intake_cbs main_intake_cbs = {
	task_on_message,
	task_on_assigned,
	task_on_settled,
	task_on_revoked,
	task_on_fatal,
};

/* ---- start and stop ---- */

/*
 * The state folder is ours alone: another gateway on it would kill our
 * games as leftovers, take the control socket over and remove it.
 */
static int
main_lock(struct gw *g, char **cause)
{
	char *why = NULL;
	pid_t holder;

	if (util_mkdirs(g->state_dir, 0750, cause) != 0)
		return -1;
	xasprintf(&main_lock_path, "%s/gateway.lock", g->state_dir);
	if ((main_lock_fd = util_lock_file(main_lock_path, &holder, &why)) < 0) {
		if (holder > 0)
			xasprintf(cause, "state folder %s is in use by another paia-gateway (pid %ld, "
			    "lock %s): stop it first, or give this one a state folder of its own",
			    g->state_dir, (long)holder, main_lock_path);
		else
			xasprintf(cause, "state folder %s: %s", g->state_dir, why);
		free(why);
		free(main_lock_path);
		main_lock_path = NULL;
		return -1;
	}
	return 0;
}

/* Everything from the lock to the intake; -1 with *cause leaves what was made for main_stop. */
static int
main_start(struct gw *g, char **txid, char **sock, char **cause)
{
	char *s, host[256];

	g->state_dir = xstrdup(config_get(g->conf, "gateway", "state_dir"));
	g->tasks_topic = config_get(g->conf, "gateway", "tasks_topic");
	g->results_topic = config_get(g->conf, "gateway", "results_topic");
	g->dlq_topic = config_get(g->conf, "gateway", "dlq_topic");
	g->max_inflight = (size_t)config_get_int(g->conf, "gateway", "max_inflight");
	g->prefetch = (size_t)config_get_int(g->conf, "gateway", "prefetch");
	g->max_history = (size_t)config_get_int(g->conf, "gateway", "history");
	g->start_ms = util_now_ms();
	g->loop_beat_ms = util_mono_ms();
	if (*config_get(g->conf, "gateway", "instance_id") != '\0')
		g->instance = xstrdup(config_get(g->conf, "gateway", "instance_id"));
	else {
		if (gethostname(host, sizeof host) != 0)
			snprintf(host, sizeof host, "gateway");
		host[sizeof host - 1] = '\0';
		/* It goes into log lines and the transactional id: a name, or set one. */
		if (config_name_check("the host name (gateway.instance_id is not set)", host, 1, 64,
		    cause) != 0)
			return -1;
		g->instance = xstrdup(host);
	}
	if (main_lock(g, cause) != 0)
		return -1;
	main_pid = getpid();
	atexit(main_atexit);
	xasprintf(&s, "%s/tasks", g->state_dir);
	if (util_mkdirs(s, 0750, cause) != 0) {
		free(s);
		return -1;
	}
	free(s);
	g->journal_dir = claims_dir(g->conf);
	if (util_mkdirs(g->journal_dir, 0750, cause) != 0)
		return -1;
	if (g->embedded && embedded_start(g, cause) != 0)
		return -1;
	g->group_id = xstrdup(config_get(g->conf, "kafka", "group.id"));
	if (g->bootstrap == NULL)
		g->bootstrap = xstrdup(config_get(g->conf, "kafka", "bootstrap.servers"));
	/* The broker's view of the group (paiactl lag --group) then names the gateway. */
	xasprintf(&s, "paia-gateway-%s", g->instance);
	config_set_default(g->conf, "kafka", "client.id", s);
	free(s);

	/* Room for games, transfers and clients: the soft limit is often 1024. */
	util_nofile_raise();
	curl_global_init(CURL_GLOBAL_DEFAULT);
	evthread_use_pthreads();
	g->base = event_base_new();
	if (task_init(g, cause) != 0)
		return -1;
	g->ledger = ledger_new();
	g->evcurl = evcurl_new(g->base);
	if ((g->storage = storage_new(g->base, g->evcurl, g->conf, cause)) == NULL)
		return -1;
	/*
	 * The tunnel first: it comes up while the rest starts, and holds
	 * intake back until it is up when vpn.pause_intake_when_down says so.
	 */
	if ((g->tunnel = tunnel_start(g, cause)) == NULL && *cause != NULL)
		return -1;
	if ((g->runner = runner_new(g->base, g->evcurl, g->conf, main_runner_fatal, g,
	    cause)) == NULL)
		return -1;
	runner_watch_pods(g->runner, views_pod_changed, views_pods_listed, g);
	g->frames = frames_new(g->base, g->conf);
	xasprintf(txid, "%s-%s", g->group_id, g->instance);
	if ((g->committer = committer_start(g->base, g->conf, *txid, outbox_answered, g->outbox,
	    cause)) == NULL)
		return -1;
	if (*config_get(g->conf, "control", "socket") != '\0')
		*sock = xstrdup(config_get(g->conf, "control", "socket"));
	else
		xasprintf(sock, "%s/control.sock", g->state_dir);
	/* Before the socket listens: a client that reaches it finds the broker too. */
	if (g->embedded) {
		if (embedded_write_info(g, *sock, cause) != 0)
			return -1;
		xasprintf(&s, "%s/embedded.json", g->state_dir);
		main_leftover_add(0, s);
		free(s);
	}
	if ((g->control = control_start(g->base, g->conf, *sock, &views_control_ops, g,
	    cause)) == NULL)
		return -1;
	main_leftover_add(1, *sock);
	if ((g->health = health_start(g->base, g->conf, task_position, g, cause)) == NULL)
		return -1;
	if ((g->gpus = gpus_start(g, cause)) == NULL && *cause != NULL)
		return -1;
	if (*config_get(g->conf, "health", "listen") != '\0' &&
	    (g->metrics = metrics_start(g, config_get(g->conf, "health", "listen"),
	    cause)) == NULL)
		return -1;
	if ((g->intake = intake_start(g->base, g->conf, g->tasks_topic, g->group_id,
	    &main_intake_cbs, g, cause)) == NULL)
		return -1;
	committer_set_consumer(g->committer, intake_handle(g->intake));
	return 0;
}

/* Undo main_start, in the reverse order, whatever of it was done. */
static void
main_stop(struct gw *g)
{
	control_stop(g->control);
	g->control = NULL;
	frames_free(g->frames);
	g->frames = NULL;
	metrics_stop(g->metrics);
	g->metrics = NULL;
	gpus_stop(g->gpus);
	g->gpus = NULL;
	if (g->committer != NULL)
		committer_set_consumer(g->committer, NULL);
	intake_stop(g->intake);
	g->intake = NULL;
	health_stop(g->health);
	g->health = NULL;
	committer_stop(g->committer);
	g->committer = NULL;
	/* Tasks first: one still holding a job abandons it while its runner is there. */
	task_shutdown(g);
	runner_free(g->runner);
	storage_free(g->storage);
	evcurl_free(g->evcurl);
	ledger_free(g->ledger);
	/* Last: uploads and reports of a draining gateway needed the tunnel. */
	tunnel_stop(g->tunnel);
	g->tunnel = NULL;
	embedded_stop();
	if (g->base != NULL) {
		event_base_free(g->base);
		curl_global_cleanup();
	}
	main_leftovers_remove();
	free(g->state_dir);
	free(g->journal_dir);
	free(g->instance);
	free(g->group_id);
	free(g->bootstrap);
	config_free(g->conf);
	if (g->base != NULL)
		libevent_global_shutdown();
	log_close();
	log_q_release();
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "state-dir", required_argument, NULL, 'S' },
		{ "embedded", no_argument, NULL, 'E' },
		{ "demo", required_argument, NULL, 'D' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct main_args a;
	struct main_ctx ctx;
	struct gw g;
	char *cause = NULL, *txid = NULL, *sock = NULL;
	int ch, check = 0, demo = 0, rc;
	long long n;
	struct event *sigterm = NULL, *sigint = NULL, *sighup = NULL, *tick = NULL;
	struct timeval second = { 1, 0 };

	/* Until the loop handles it: a SIGHUP during start-up is not a reason to die. */
	signal(SIGHUP, SIG_IGN);
	/* One thread yet: folders and files made with a mode the umask leaves whole need no chmod. */
	util_umask_note(1);
	memset(&a, 0, sizeof a);
	memset(&g, 0, sizeof g);
	while ((ch = getopt_long(argc, argv, "c:o:qvVh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			a.file = optarg;
			break;
		case 'o':
			a.opts = xreallocarray(a.opts, a.nopts + 1, sizeof *a.opts);
			a.opts[a.nopts++] = optarg;
			break;
		case 'S':
			a.state_dir = optarg;
			break;
		case 'E':
			a.embedded = 1;
			break;
		case 'D':
			if (util_parse_int(optarg, 1, 100000, &n) != 0) {
				fprintf(stderr, "paia-gateway: --demo %s: expected a count from 1 to 100000\n",
				    optarg);
				free(a.opts);
				return 2;
			}
			demo = (int)n;
			a.embedded = 1;
			break;
		case 'C':
			check = 1;
			break;
		case 'q':
			a.quiet = 1;
			break;
		case 'v':
			a.verbose = 1;
			break;
		case 'V':
			printf("paia-gateway %s (librdkafka %s, %s)\n", PACKAGE_VERSION,
			    rd_kafka_version_str(), curl_version());
			free(a.opts);
			return 0;
		case 'h':
			usage(stdout);
			free(a.opts);
			return 0;
		default:
			usage(stderr);
			free(a.opts);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "paia-gateway: unexpected argument: %s\n", argv[optind]);
		usage(stderr);
		free(a.opts);
		return 2;
	}
	if (a.quiet && a.verbose) {
		fprintf(stderr, "paia-gateway: -q and -v do not go together\n");
		free(a.opts);
		return 2;
	}

	if (main_config_load(&a, &g.conf, &cause) != 0)
		goto config_error;
	g.embedded = a.embedded;
	main_log_level(&a, g.conf);
	if (check) {
		/* The storage settings too: file_root, the S3 keys and secret file; and [vpn]. */
		struct storage *st = storage_new(NULL, NULL, g.conf, &cause);
		struct vpn_options vo;
		char *s;

		if (st == NULL)
			goto config_error;
		storage_free(st);
		if (tunnel_options(g.conf, config_get(g.conf, "gateway", "state_dir"), &vo, &s,
		    &cause) < 0)
			goto config_error;
		free(s);
		config_dump(g.conf, stdout);
		config_free(g.conf);
		free(a.opts);
		return 0;
	}
	if (log_open(config_get(g.conf, "gateway", "log_file"), &cause) != 0)
		goto config_error;

	signal(SIGPIPE, SIG_IGN);
	if (main_start(&g, &txid, &sock, &cause) != 0)
		goto start_error;
	if (demo > 0 && demo_start(&g, demo, &cause) != 0)
		goto start_error;
	ctx.gw = &g;
	ctx.args = &a;
	sigterm = evsignal_new(g.base, SIGTERM, main_signal_cb, &ctx);
	sigint = evsignal_new(g.base, SIGINT, main_signal_cb, &ctx);
	sighup = evsignal_new(g.base, SIGHUP, main_hup_cb, &ctx);
	evsignal_add(sigterm, NULL);
	evsignal_add(sigint, NULL);
	evsignal_add(sighup, NULL);
	tick = event_new(g.base, -1, EV_PERSIST, main_tick_cb, &g);
	event_add(tick, &second);
	log_info("paia-gateway started", "version=%s instance=%s state_dir=%s transactional_id=%s "
	    "max_inflight=%zu pid=%ld", log_q(PACKAGE_VERSION), log_q(g.instance),
	    log_q(g.state_dir), log_q(txid), g.max_inflight, (long)getpid());
	main_notify("READY=1");

	event_base_dispatch(g.base);

	log_info("stopping", "exit_code=%d", g.exit_code);
	rc = g.exit_code;
	goto out;

config_error:
	fprintf(stderr, "paia-gateway: %s\n", cause);
	free(cause);
	free(a.opts);
	config_free(g.conf);
	return 2;
start_error:
	log_error("cannot start", "error=%s", log_q(cause));
	free(cause);
	rc = 1;
out:
	if (tick != NULL) {
		event_free(sigterm);
		event_free(sigint);
		event_free(sighup);
		event_free(tick);
	}
	main_stop(&g);
	free(txid);
	free(sock);
	free(a.opts);
	return rc;
}
