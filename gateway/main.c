/*
 * main.c: paia-gateway(8): configuration, start-up in dependency order,
 * the loop, and an orderly stop (SIGTERM: stop intake, let in-flight
 * tasks finish within gateway.grace_s, commit, exit 0).
 */
#include "config.h"
#include "gateway.h"
#include "options.h"

#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <librdkafka/rdkafka.h>

extern char **environ;

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: paia-gateway [-c FILE] [-o SECTION.KEY=VALUE]... [--state-dir DIR]\n"
	    "                    [--embedded] [--demo N] [--check-config] [-v] [-V]\n"
	    "\n"
	    "  -c, --config FILE     read paia-gateway.conf(5) from FILE\n"
	    "  -o SECTION.KEY=VALUE  set one option (repeatable; wins over file and env)\n"
	    "      --state-dir DIR   same as -o gateway.state_dir=DIR\n"
	    "      --embedded        no servers: in-process Kafka, file:// storage, local games\n"
	    "      --demo N          --embedded plus N demo tasks; print results and exit\n"
	    "      --check-config    print the effective configuration (secrets masked), exit\n"
	    "  -v, --verbose         debug logging\n"
	    "  -V, --version         print the version\n");
}

/* Tell systemd (Type=notify, deploy/systemd/) what the gateway is doing. */
static void
main_notify(const char *state)
{
	char *cause = NULL;

	if (notify_send(state, &cause) != 0) {
		log_warn("cannot notify the service manager", "state=%s error=%s", state,
		    log_q(cause));
		free(cause);
	}
}

static void
main_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct gw *gw = arg;
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

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "state-dir", required_argument, NULL, 'S' },
		{ "embedded", no_argument, NULL, 'E' },
		{ "demo", required_argument, NULL, 'D' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct gw g;
	const char *file = NULL, *state_dir = NULL;
	char **opts = NULL, *cause = NULL, *txid = NULL, *sock = NULL, *s, host[256];
	size_t nopts = 0, i;
	int ch, check = 0, verbose = 0, demo = 0;
	long long n;
	enum log_level level;
	struct event *sigterm, *sigint;

	memset(&g, 0, sizeof g);
	while ((ch = getopt_long(argc, argv, "c:o:vVh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			file = optarg;
			break;
		case 'o':
			opts = xreallocarray(opts, nopts + 1, sizeof *opts);
			opts[nopts++] = optarg;
			break;
		case 'S':
			state_dir = optarg;
			break;
		case 'E':
			g.embedded = 1;
			break;
		case 'D':
			if (util_parse_int(optarg, 1, 100000, &n) != 0) {
				fprintf(stderr, "paia-gateway: --demo %s: expected a count from 1 to 100000\n",
				    optarg);
				return 2;
			}
			demo = (int)n;
			g.embedded = 1;
			break;
		case 'C':
			check = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'V':
			printf("paia-gateway %s (librdkafka %s, %s)\n", PACKAGE_VERSION,
			    rd_kafka_version_str(), curl_version());
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "paia-gateway: unexpected argument: %s\n", argv[optind]);
		usage(stderr);
		return 2;
	}

	g.conf = config_new(options_schema, options_passthrough);
	if (g.embedded) {
		s = options_default_state_dir(1);
		config_set_default(g.conf, "gateway", "state_dir", s);
		free(s);
	}
	config_set_default(g.conf, "kafka", "group.id", "paia-gateway");
	if (file != NULL && config_load_file(g.conf, file, &cause) != 0)
		goto config_error;
	if (config_load_env(g.conf, environ, &cause) != 0)
		goto config_error;
	for (i = 0; i < nopts; i++)
		if (main_set_option(g.conf, opts[i], &cause) != 0)
			goto config_error;
	free(opts);
	opts = NULL;
	if (state_dir != NULL && config_set(g.conf, "gateway", "state_dir", state_dir, &cause) != 0)
		goto config_error;
	if (main_check_kafka(g.conf, &cause) != 0 || main_check_names(g.conf, &cause) != 0 ||
	    gpus_check_config(g.conf, &cause) != 0)
		goto config_error;
	/* A listen address that cannot be one is a configuration error (2), also for --check-config. */
	if (*config_get(g.conf, "health", "listen") != '\0') {
		char *lhost;
		int lport;

		if (metrics_listen_parse(config_get(g.conf, "health", "listen"), &lhost, &lport,
		    &cause) != 0)
			goto config_error;
		free(lhost);
	}
	if (!g.embedded && (config_get(g.conf, "kafka", "bootstrap.servers") == NULL ||
	    *config_get(g.conf, "kafka", "bootstrap.servers") == '\0')) {
		cause = xstrdup("kafka.bootstrap.servers is not set (or run with --embedded)");
		goto config_error;
	}
	if (log_level_parse(config_get(g.conf, "gateway", "log_level"), &level) == 0)
		log_set_level(verbose ? LOG_LEVEL_DEBUG : level);
	if (check) {
		/* The storage settings too: file_root, the S3 keys and secret file. */
		struct storage *st = storage_new(NULL, NULL, g.conf, &cause);
		if (st == NULL)
			goto config_error;
		storage_free(st);
		config_dump(g.conf, stdout);
		config_free(g.conf);
		return 0;
	}

	g.state_dir = xstrdup(config_get(g.conf, "gateway", "state_dir"));
	g.tasks_topic = config_get(g.conf, "gateway", "tasks_topic");
	g.results_topic = config_get(g.conf, "gateway", "results_topic");
	g.dlq_topic = config_get(g.conf, "gateway", "dlq_topic");
	g.max_inflight = (size_t)config_get_int(g.conf, "gateway", "max_inflight");
	g.prefetch = (size_t)config_get_int(g.conf, "gateway", "prefetch");
	g.max_history = (size_t)config_get_int(g.conf, "gateway", "history");
	g.start_ms = util_now_ms();
	if (*config_get(g.conf, "gateway", "instance_id") != '\0')
		g.instance = xstrdup(config_get(g.conf, "gateway", "instance_id"));
	else {
		if (gethostname(host, sizeof host) != 0)
			snprintf(host, sizeof host, "gateway");
		host[sizeof host - 1] = '\0';
		/* It goes into log lines and the transactional id: a name, or set one. */
		if (config_name_check("the host name (gateway.instance_id is not set)", host, 1, 64,
		    &cause) != 0)
			goto config_error;
		g.instance = xstrdup(host);
	}
	xasprintf(&s, "%s/tasks", g.state_dir);
	if (util_mkdirs(s, 0750, &cause) != 0) {
		free(s);
		goto start_error;
	}
	free(s);
	g.journal_dir = claims_dir(g.conf);
	if (util_mkdirs(g.journal_dir, 0750, &cause) != 0)
		goto start_error;
	if (g.embedded && embedded_start(&g, &cause) != 0)
		goto start_error;
	g.group_id = xstrdup(config_get(g.conf, "kafka", "group.id"));
	if (g.bootstrap == NULL)
		g.bootstrap = xstrdup(config_get(g.conf, "kafka", "bootstrap.servers"));

	signal(SIGPIPE, SIG_IGN);
	/* Room for games, transfers and clients: the soft limit is often 1024. */
	util_nofile_raise();
	curl_global_init(CURL_GLOBAL_DEFAULT);
	evthread_use_pthreads();
	g.base = event_base_new();
	if (task_init(&g, &cause) != 0)
		goto start_error;
	g.ledger = ledger_new();
	g.evcurl = evcurl_new(g.base);
	if ((g.storage = storage_new(g.base, g.evcurl, g.conf, &cause)) == NULL)
		goto start_error;
	if ((g.runner = runner_new(g.base, g.evcurl, g.conf, main_runner_fatal, &g,
	    &cause)) == NULL)
		goto start_error;
	xasprintf(&txid, "%s-%s", g.group_id, g.instance);
	if ((g.committer = committer_start(g.base, g.conf, txid, outbox_answered, g.outbox,
	    &cause)) == NULL)
		goto start_error;
	if (*config_get(g.conf, "control", "socket") != '\0')
		sock = xstrdup(config_get(g.conf, "control", "socket"));
	else
		xasprintf(&sock, "%s/control.sock", g.state_dir);
	if ((g.control = control_start(g.base, g.conf, sock, &views_control_ops, &g,
	    &cause)) == NULL)
		goto start_error;
	if ((g.health = health_start(g.base, g.conf, task_position, &g, &cause)) == NULL)
		goto start_error;
	if ((g.gpus = gpus_start(&g, &cause)) == NULL && cause != NULL)
		goto start_error;
	if (*config_get(g.conf, "health", "listen") != '\0' &&
	    (g.metrics = metrics_start(&g, config_get(g.conf, "health", "listen"), &cause)) == NULL)
		goto start_error;
	if ((g.intake = intake_start(g.base, g.conf, g.tasks_topic, g.group_id, &main_intake_cbs,
	    &g, &cause)) == NULL)
		goto start_error;
	committer_set_consumer(g.committer, intake_handle(g.intake));
	if (g.embedded && embedded_write_info(&g, sock, &cause) != 0)
		goto start_error;
	if (demo > 0 && demo_start(&g, demo, &cause) != 0)
		goto start_error;
	sigterm = evsignal_new(g.base, SIGTERM, main_signal_cb, &g);
	sigint = evsignal_new(g.base, SIGINT, main_signal_cb, &g);
	evsignal_add(sigterm, NULL);
	evsignal_add(sigint, NULL);
	log_info("paia-gateway started", "version=%s instance=%s state_dir=%s transactional_id=%s "
	    "max_inflight=%zu", PACKAGE_VERSION, g.instance, log_q(g.state_dir), txid,
	    g.max_inflight);
	main_notify("READY=1");

	event_base_dispatch(g.base);

	log_info("stopping", "exit_code=%d", g.exit_code);
	event_free(sigterm);
	event_free(sigint);
	control_stop(g.control);
	g.control = NULL;
	metrics_stop(g.metrics);
	g.metrics = NULL;
	gpus_stop(g.gpus);
	g.gpus = NULL;
	committer_set_consumer(g.committer, NULL);
	intake_stop(g.intake);
	g.intake = NULL;
	health_stop(g.health);
	g.health = NULL;
	committer_stop(g.committer);
	g.committer = NULL;
	/* Tasks first: one still holding a job abandons it while its runner is there. */
	task_shutdown(&g);
	runner_free(g.runner);
	storage_free(g.storage);
	evcurl_free(g.evcurl);
	ledger_free(g.ledger);
	embedded_stop();
	event_base_free(g.base);
	curl_global_cleanup();
	free(txid);
	free(sock);
	free(g.state_dir);
	free(g.journal_dir);
	free(g.instance);
	free(g.group_id);
	free(g.bootstrap);
	config_free(g.conf);
	libevent_global_shutdown();
	log_q_release();
	return g.exit_code;

config_error:
	fprintf(stderr, "paia-gateway: %s\n", cause);
	free(cause);
	free(opts);
	config_free(g.conf);
	return 2;
start_error:
	log_error("cannot start", "error=%s", log_q(cause));
	free(cause);
	return 1;
}
