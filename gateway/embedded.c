/*
 * embedded.c: the embedded default (docs/design.md section 6): librdkafka's mock
 * cluster as Kafka (a real Kafka-protocol listener on loopback, so
 * paiactl can reach it), file:// storage under the state folder, the
 * local runner with the bundled demo game, and the sample AI program
 * at <state>/demo/sample-ai.py (a file:// program for the README's first
 * tasks). embedded.json tells paiactl where everything is. --demo N
 * submits N tasks with the sample AI program and prints a summary once
 * every one has a result or a dead letter.
 *
 * The mock cluster lives in this process: its topics vanish at exit.
 */
#include "config.h"
#include "gateway.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

static rd_kafka_t *owner;
static rd_kafka_mock_cluster_t *mcluster;
static char *info_path;

static rd_kafka_t *demo_producer;
static struct event *demo_poll;
static int demo_total;
static int demo_reported;
static int demo_failed;
static int demo_finished;
static uint64_t demo_dlq_base;	/* gw->dlq_total when the demo tasks went out */
static char **demo_rows;

static void
embedded_quiet_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	if (level <= 3)
		log_warn(buf, "component=mock-cluster facility=%s", fac);
}

/*
 * <state>/demo/sample-ai.py, a copy of the installed sample program:
 * file:// programs must lie under the state folder. Missing is no error
 * (a gateway runs other programs just as well); only --demo needs it.
 */
static char *
embedded_sample_write(struct gw *gw, char **cause)
{
	char *sample, *buf, *dir, *dst;
	size_t len;

	if ((sample = bundle_find("sample-ai.py", PAIA_PKGDATADIR)) == NULL) {
		xasprintf(cause, "sample-ai.py not found in %s", PAIA_PKGDATADIR);
		return NULL;
	}
	buf = util_read_file(sample, 1024 * 1024, &len, cause);
	free(sample);
	if (buf == NULL)
		return NULL;
	xasprintf(&dir, "%s/demo", gw->state_dir);
	xasprintf(&dst, "%s/sample-ai.py", dir);
	if (util_mkdirs(dir, 0755, cause) != 0 || util_write_file(dst, buf, len, 0644, cause) != 0) {
		free(dst);
		dst = NULL;
	}
	free(dir);
	free(buf);
	return dst;
}

int
embedded_start(struct gw *gw, char **cause)
{
	rd_kafka_conf_t *kc = rd_kafka_conf_new();
	char errstr[512], *s, *game, *enc, *err = NULL;
	struct util_sigmask mask;
	const char *topics[3] = { gw->tasks_topic, gw->results_topic, gw->dlq_topic };
	int parts[3] = { 3, 1, 1 }, i;

	rd_kafka_conf_set_log_cb(kc, embedded_quiet_log);
	if ((owner = rd_kafka_new(RD_KAFKA_PRODUCER, kc, errstr, sizeof errstr)) == NULL) {
		xasprintf(cause, "embedded: %s", errstr);
		rd_kafka_conf_destroy(kc);
		return -1;
	}
	/* The mock cluster's thread must not take our signals (see util.c). */
	util_signals_block(&mask);
	mcluster = rd_kafka_mock_cluster_new(owner, 1);
	util_signals_restore(&mask);
	if (mcluster == NULL) {
		xasprintf(cause, "embedded: cannot start librdkafka's mock cluster");
		return -1;
	}
	for (i = 0; i < 3; i++) {
		if (rd_kafka_mock_topic_create(mcluster, topics[i], parts[i], 1) != 0) {
			xasprintf(cause, "embedded: cannot create topic %s", topics[i]);
			return -1;
		}
	}
	free(gw->bootstrap);
	gw->bootstrap = xstrdup(rd_kafka_mock_cluster_bootstraps(mcluster));
	config_set_default(gw->conf, "kafka", "bootstrap.servers", gw->bootstrap);
	/* The mock cluster's consumer groups answer faster with short timeouts. */
	config_set_default(gw->conf, "kafka", "session.timeout.ms", "6000");
	config_set_default(gw->conf, "storage", "file_root", gw->state_dir);
	/* A URL: percent-encoded, as a state folder may hold spaces. */
	enc = util_url_encode(gw->state_dir, 1);
	xasprintf(&s, "file://%s/results", enc);
	free(enc);
	config_set_default(gw->conf, "storage", "result_prefix", s);
	free(s);
	xasprintf(&s, "%s/results", gw->state_dir);
	util_mkdirs(s, 0755, cause);
	free(s);
	if (*config_get(gw->conf, "runner", "command") == '\0') {
		if ((game = bundle_find("paia-demo-game", PAIA_PKGLIBEXECDIR)) == NULL) {
			xasprintf(cause, "embedded: paia-demo-game not found next to paia-gateway or "
			    "in %s; set runner.command", PAIA_PKGLIBEXECDIR);
			return -1;
		}
		config_set_default(gw->conf, "runner", "command", game);
		free(game);
	}
	if ((s = embedded_sample_write(gw, &err)) == NULL) {
		log_warn("no sample program", "error=%s", log_q(err));
		free(err);
	} else
		free(s);
	log_info("embedded Kafka (librdkafka mock cluster) listening", "bootstrap=%s",
	    gw->bootstrap);
	return 0;
}

int
embedded_write_info(struct gw *gw, const char *control_path, char **cause)
{
	cJSON *j = cJSON_CreateObject();
	char *s;
	int rc;

	cJSON_AddStringToObject(j, "bootstrap_servers", gw->bootstrap);
	cJSON_AddStringToObject(j, "tasks_topic", gw->tasks_topic);
	cJSON_AddStringToObject(j, "results_topic", gw->results_topic);
	cJSON_AddStringToObject(j, "dlq_topic", gw->dlq_topic);
	cJSON_AddStringToObject(j, "control_socket", control_path);
	cJSON_AddStringToObject(j, "state_dir", gw->state_dir);
	cJSON_AddStringToObject(j, "storage_root", config_get(gw->conf, "storage", "file_root"));
	cJSON_AddStringToObject(j, "result_prefix", config_get(gw->conf, "storage", "result_prefix"));
	cJSON_AddNumberToObject(j, "pid", getpid());
	s = cJSON_Print(j);
	cJSON_Delete(j);
	xasprintf(&info_path, "%s/embedded.json", gw->state_dir);
	rc = util_write_file(info_path, s, strlen(s), 0644, cause);
	free(s);
	return rc;
}

void
embedded_stop(void)
{
	if (demo_poll != NULL)
		event_free(demo_poll);
	if (demo_producer != NULL)
		rd_kafka_destroy(demo_producer);
	demo_poll = NULL;
	demo_producer = NULL;
	for (int i = 0; i < demo_reported && demo_rows != NULL; i++)
		free(demo_rows[i]);
	free(demo_rows);
	demo_rows = NULL;
	if (info_path != NULL) {
		unlink(info_path);
		free(info_path);
		info_path = NULL;
	}
	if (mcluster != NULL)
		rd_kafka_mock_cluster_destroy(mcluster);
	if (owner != NULL)
		rd_kafka_destroy(owner);
	mcluster = NULL;
	owner = NULL;
}

/* ---- --demo N ---- */

static void
demo_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		log_error("demo task not delivered", "error=%s", log_q(rd_kafka_err2str(m->err)));
		task_drain(opaque, 1);
	}
}

static const char *
demo_video_url(const struct task *t)
{
	size_t i;

	for (i = 0; i < t->narts; i++)
		if (t->arts[i].uploaded && strncmp(t->arts[i].content_type, "video/", 6) == 0)
			return t->arts[i].url;
	return "-";
}

/* Every demo task has a result or a dead letter: the summary, then drain. */
static void
demo_finish(struct gw *gw, int dead)
{
	int i;

	demo_finished = 1;
	printf("\n%-14s %-10s %6s %9s  %s\n", "TASK", "STATUS", "SCORE", "DURATION", "VIDEO");
	for (i = 0; i < demo_reported; i++)
		printf("%s\n", demo_rows[i]);
	printf("\n%d tasks, %d succeeded, %d not", demo_total, demo_total - demo_failed - dead,
	    demo_failed + dead);
	if (dead > 0)
		printf(" (%d dead-lettered: paiactl -d %s results --dlq says why)", dead,
		    gw->state_dir);
	printf("; results in %s (topic %s)\n", config_get(gw->conf, "storage", "result_prefix"),
	    gw->results_topic);
	fflush(stdout);
	task_drain(gw, demo_failed + dead > 0 ? 1 : 0);
}

/* Serve the producer; a task refused by intake never reports, so count those too. */
static void
demo_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gw *gw = arg;
	int dead = (int)(gw->dlq_total - demo_dlq_base);

	rd_kafka_poll(demo_producer, 0);
	if (!demo_finished && dead > 0 && demo_reported + dead >= demo_total)
		demo_finish(gw, dead);
}

static void
demo_on_reported(struct task *t)
{
	struct gw *gw = t->gw;
	const cJSON *score = t->game_result != NULL ?
	    cJSON_GetObjectItemCaseSensitive(t->game_result, "score") : NULL;
	char sc[32];

	if (demo_finished || demo_reported >= demo_total)
		return;
	if (cJSON_IsNumber(score))
		snprintf(sc, sizeof sc, "%g", score->valuedouble);
	else
		snprintf(sc, sizeof sc, "-");
	if (t->status != RESULT_SUCCEEDED)
		demo_failed++;
	xasprintf(&demo_rows[demo_reported++], "%-14s %-10s %6s %8.2fs  %s", t->spec->task_id,
	    proto_status_name(t->status), sc,
	    (double)(t->ts[t->state] - t->ts[TASK_RECEIVED]) / 1000.0, demo_video_url(t));
	if (demo_reported + (int)(gw->dlq_total - demo_dlq_base) >= demo_total)
		demo_finish(gw, (int)(gw->dlq_total - demo_dlq_base));
}

/* A demo task, through the encoder paiactl submit uses. */
static char *
demo_task(const char *id, const char *program, int seed)
{
	struct proto_task t;
	char params[64];

	memset(&t, 0, sizeof t);
	snprintf(params, sizeof params, "{\"frames\":40,\"seed\":%d}", seed);
	t.task_id = (char *)id;
	t.game = (char *)"catch";
	t.program = (char *)program;
	t.params = params;
	t.timeout_s = 120;
	t.gpu = -1;
	t.attempt = 1;
	return proto_task_encode(&t);
}

int
demo_start(struct gw *gw, int n, char **cause)
{
	rd_kafka_conf_t *kc;
	char errstr[512], *dst, *enc, *url, *task, *id;
	struct timeval tv = { 0, 50000 };
	int i;

	/* embedded_start wrote it, unless sample-ai.py was not found: say why now. */
	if ((dst = embedded_sample_write(gw, cause)) == NULL) {
		xasprintf(&task, "demo: %s", *cause);
		free(*cause);
		*cause = task;
		return -1;
	}
	/* A state folder may hold spaces or '%': a URL holds neither raw. */
	enc = util_url_encode(dst, 1);
	xasprintf(&url, "file://%s", enc);
	free(enc);
	free(dst);
	kc = rd_kafka_conf_new();
	rd_kafka_conf_set(kc, "bootstrap.servers", gw->bootstrap, errstr, sizeof errstr);
	rd_kafka_conf_set_dr_msg_cb(kc, demo_dr_cb);
	rd_kafka_conf_set_opaque(kc, gw);
	if ((demo_producer = rd_kafka_new(RD_KAFKA_PRODUCER, kc, errstr, sizeof errstr)) == NULL) {
		xasprintf(cause, "demo: %s", errstr);
		rd_kafka_conf_destroy(kc);
		free(url);
		return -1;
	}
	demo_total = n;
	demo_rows = xcalloc((size_t)n, sizeof *demo_rows);
	demo_dlq_base = gw->dlq_total;
	gw->on_reported = demo_on_reported;
	for (i = 0; i < n; i++) {
		xasprintf(&id, "demo-%d", i + 1);
		task = demo_task(id, url, 1000 + i);
		rd_kafka_producev(demo_producer, RD_KAFKA_V_TOPIC(gw->tasks_topic),
		    RD_KAFKA_V_KEY(id, strlen(id)), RD_KAFKA_V_VALUE(task, strlen(task)),
		    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
		free(task);
		free(id);
	}
	free(url);
	demo_poll = event_new(gw->base, -1, EV_PERSIST, demo_poll_cb, gw);
	event_add(demo_poll, &tv);
	log_info("demo tasks submitted", "count=%d topic=%s", n, gw->tasks_topic);
	return 0;
}
