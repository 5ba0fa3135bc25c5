/*
 * gpuprobe-test.c: the GPU prober and the SSH session standalone, for
 * the tests/gpu/ scripts against the real sshd nodes of tests/env/sshd.sh.
 * Prints JSON lines.
 *
 *   gpuprobe-test probe [OPTIONS] NODE...   rounds of the prober; one line
 *       per node round: {"t_ms","node","round","ok","round_ms","stale",
 *       "age_ms","gpus":[...],"procs":[...],"apps_error","display",
 *       "display_detail"}; then {"summary":{"rss_kb","hwm_kb"}}
 *   gpuprobe-test exec [OPTIONS] NODE COMMAND   one ssh_exec:
 *       {"error","exit","signal","out_len","truncated","out","err"}
 *   gpuprobe-test stream [OPTIONS] NODE COMMAND  a long-lived channel:
 *       LINES lines written to the command's stdin (then EOF), its stdout
 *       collected, reading paused for 300 ms once 200 KB came:
 *       {"error","exit","sent","received","same"}
 *
 * NODE is [name=]host:port. Options: -k known_hosts, -i key file ("-":
 * the ssh-agent), -u user, -t timeout ms, -I interval ms, -n rounds per
 * node (probe, default 1), -c answer cap, -p proc root, -d display, -a
 * accept new host keys, -L lines (stream, default 1000), -T overall
 * limit in ms (default 120000: then exit 3), -S FILE stop after the
 * first round that ends once FILE exists (probe; -n is then a minimum),
 * so a test decides when it has seen enough instead of guessing a count.
 */
#include "config.h"
#include "common.h"
#include "gpu.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>
#include <event2/event.h>

static struct event_base *base;
static int64_t t0;
static int rounds_wanted = 1;
static const char *stop_file;
static const char *key_file, *user, *known_hosts;
static int accept_new;

static void
emit(cJSON *j)
{
	char *s = cJSON_PrintUnformatted(j);

	printf("%s\n", s);
	fflush(stdout);
	free(s);
	cJSON_Delete(j);
}

static void
add_value(cJSON *o, const char *k, struct gpu_value v)
{
	if (v.state == GPU_VALUE_OK)
		cJSON_AddNumberToObject(o, k, v.v);
	else
		cJSON_AddStringToObject(o, k, gpu_value_state_name(v.state));
}

static void
add_str(cJSON *o, const char *k, const char *v)
{
	if (v != NULL)
		cJSON_AddStringToObject(o, k, v);
	else
		cJSON_AddNullToObject(o, k);
}

static long
status_kb(const char *key)
{
	char line[256];
	long kb = -1;
	size_t n = strlen(key);
	FILE *f = fopen("/proc/self/status", "r");

	while (f != NULL && fgets(line, sizeof line, f) != NULL) {
		if (strncmp(line, key, n) == 0 && line[n] == ':') {
			kb = strtol(line + n + 1, NULL, 10);
			break;
		}
	}
	if (f != NULL)
		fclose(f);
	return kb;
}

/* ---- probe ---- */

static void
round_cb(struct gpu_prober *p, const struct gpu_node *n, void *arg)
{
	cJSON *j = cJSON_CreateObject(), *a, *o, *m;
	const struct gpu_report *r = n->report;
	size_t i, k, done = 0;

	cJSON_AddNumberToObject(j, "t_ms", (double)(util_mono_ms() - t0));
	cJSON_AddStringToObject(j, "node", n->name);
	cJSON_AddNumberToObject(j, "round", (double)(n->rounds_ok + n->rounds_failed));
	cJSON_AddBoolToObject(j, "ok", n->stale == NULL);
	cJSON_AddNumberToObject(j, "round_ms", (double)n->round_ms);
	add_str(j, "stale", n->stale);
	cJSON_AddNumberToObject(j, "age_ms", (double)gpu_node_age_ms(n, util_mono_ms()));
	if (r != NULL) {
		a = cJSON_AddArrayToObject(j, "gpus");
		for (i = 0; i < r->ngpus; i++) {
			const struct gpu_device *g = &r->gpus[i];

			o = cJSON_CreateObject();
			cJSON_AddNumberToObject(o, "index", g->index);
			cJSON_AddStringToObject(o, "uuid", g->uuid);
			cJSON_AddStringToObject(o, "name", g->name);
			add_value(o, "util_gpu", g->util_gpu);
			add_value(o, "util_mem", g->util_mem);
			add_value(o, "mem_used", g->mem_used);
			add_value(o, "mem_total", g->mem_total);
			add_value(o, "temp", g->temp);
			add_value(o, "power", g->power);
			add_value(o, "power_limit", g->power_limit);
			add_value(o, "clock_sm", g->clock_sm);
			cJSON_AddStringToObject(o, "pstate", g->pstate);
			m = cJSON_AddArrayToObject(o, "migs");
			for (k = 0; k < g->nmigs; k++) {
				cJSON *x = cJSON_CreateObject();

				cJSON_AddNumberToObject(x, "index", g->migs[k].index);
				cJSON_AddStringToObject(x, "profile", g->migs[k].profile);
				cJSON_AddStringToObject(x, "uuid", g->migs[k].uuid);
				cJSON_AddItemToArray(m, x);
			}
			cJSON_AddItemToArray(a, o);
		}
		a = cJSON_AddArrayToObject(j, "procs");
		for (i = 0; i < r->nprocs; i++) {
			const struct gpu_process *pr = &r->procs[i];

			o = cJSON_CreateObject();
			cJSON_AddNumberToObject(o, "pid", (double)pr->pid);
			cJSON_AddNumberToObject(o, "gpu", pr->gpu);
			cJSON_AddNumberToObject(o, "mig", pr->mig);
			add_value(o, "used_mem", pr->used_mem);
			cJSON_AddStringToObject(o, "name", pr->name);
			add_str(o, "pod_uid", pr->pod_uid);
			add_str(o, "container_id", pr->container_id);
			add_str(o, "qos", pr->qos);
			cJSON_AddItemToArray(a, o);
		}
		add_str(j, "apps_error", r->apps_error);
		cJSON_AddStringToObject(j, "display", gpu_display_state_name(r->display));
		add_str(j, "display_detail", r->display_detail);
	}
	emit(j);
	for (i = 0; i < gpu_prober_count(p); i++) {
		n = gpu_prober_node(p, i);
		if (n->rounds_ok + n->rounds_failed >= (uint64_t)rounds_wanted)
			done++;
	}
	if (done == gpu_prober_count(p) && (stop_file == NULL || access(stop_file, F_OK) == 0))
		event_base_loopexit(base, NULL);
}

/* [name=]host:port */
static int
parse_node(const char *arg, struct gpu_node_options *o, char **buf)
{
	char *s = xstrdup(arg), *eq, *colon;
	long long port;

	*buf = s;
	memset(o, 0, sizeof *o);
	if ((eq = strchr(s, '=')) != NULL) {
		*eq = '\0';
		o->name = s;
		s = eq + 1;
	}
	if ((colon = strrchr(s, ':')) == NULL || util_parse_int(colon + 1, 1, 65535, &port) != 0)
		return -1;
	*colon = '\0';
	o->host = s;
	o->port = (int)port;
	o->user = user;
	o->key_file = key_file;
	return 0;
}

static int
cmd_probe(struct gpu_options *go, int argc, char **argv)
{
	struct gpu_prober *p;
	struct gpu_node_options no;
	char *cause = NULL, *buf;
	cJSON *j, *s;
	int i;

	if ((p = gpu_prober_new(base, go, round_cb, NULL, &cause)) == NULL) {
		fprintf(stderr, "gpuprobe-test: %s\n", cause);
		free(cause);
		return 2;
	}
	for (i = 0; i < argc; i++) {
		if (parse_node(argv[i], &no, &buf) != 0 || gpu_prober_add(p, &no, &cause) != 0) {
			fprintf(stderr, "gpuprobe-test: node %s: %s\n", argv[i],
			    cause != NULL ? cause : "not [name=]host:port");
			free(cause);
			free(buf);
			gpu_prober_free(p);
			return 2;
		}
		free(buf);
	}
	gpu_prober_start(p);
	event_base_dispatch(base);
	j = cJSON_CreateObject();
	s = cJSON_AddObjectToObject(j, "summary");
	cJSON_AddNumberToObject(s, "rss_kb", (double)status_kb("VmRSS"));
	cJSON_AddNumberToObject(s, "hwm_kb", (double)status_kb("VmHWM"));
	emit(j);
	gpu_prober_free(p);
	return 0;
}

/* ---- exec and stream ---- */

static struct ssh_session *session;
static int ssh_lines = 1000;
static size_t sent, received;
static char *expect, *got;
static size_t got_len, got_alloc, expect_alloc;

/* Append to a buffer that grows geometrically. */
static void
append(char **buf, size_t *len, size_t *alloc, const char *data, size_t n)
{
	if (*len + n + 1 > *alloc) {
		*alloc = (*len + n + 1) * 2;
		*buf = xrealloc(*buf, *alloc);
	}
	memcpy(*buf + *len, data, n);
	*len += n;
	(*buf)[*len] = '\0';
}

static void
open_session(const char *node, int timeout_ms)
{
	struct gpu_node_options no;
	struct ssh_options so;
	char *buf;

	if (parse_node(node, &no, &buf) != 0) {
		fprintf(stderr, "gpuprobe-test: node %s: not [name=]host:port\n", node);
		exit(2);
	}
	memset(&so, 0, sizeof so);
	so.host = no.host;
	so.port = no.port;
	so.user = user;
	so.key_file = key_file;
	so.known_hosts = known_hosts;
	so.accept_new = accept_new;
	so.connect_timeout_ms = timeout_ms;
	so.keepalive_s = 5;
	session = ssh_session_new(base, &so, NULL, NULL);
	free(buf);
}

static void
exec_cb(struct ssh_exec_result *r, const char *error, void *arg)
{
	cJSON *j = cJSON_CreateObject();

	add_str(j, "error", error);
	cJSON_AddNumberToObject(j, "exit", r->exit_status);
	add_str(j, "signal", r->exit_signal);
	cJSON_AddNumberToObject(j, "out_len", (double)r->out_len);
	cJSON_AddBoolToObject(j, "truncated", r->out_truncated);
	cJSON_AddStringToObject(j, "out", r->out_len <= 4096 ? r->out : "(long)");
	add_str(j, "err", r->err);
	emit(j);
	event_base_loopexit(base, NULL);
}

static int paused_once;

static void
resume_cb(evutil_socket_t fd, short what, void *arg)
{
	ssh_channel_pause(arg, 0);
}

static void
stream_data_cb(struct ssh_channel *c, int stream, const char *data, size_t len, void *arg)
{
	struct timeval tv = { 0, 300000 };

	if (stream != 0)
		return;
	append(&got, &got_len, &got_alloc, data, len);
	received += len;
	/* A slow reader once: pause 300 ms; the peer waits on the SSH window. */
	if (!paused_once && received > 200000) {
		paused_once = 1;
		ssh_channel_pause(c, 1);
		event_base_once(base, -1, EV_TIMEOUT, resume_cb, c, &tv);
	}
}

static void
stream_close_cb(struct ssh_channel *c, int exit_status, const char *error, void *arg)
{
	cJSON *j = cJSON_CreateObject();

	add_str(j, "error", error);
	cJSON_AddNumberToObject(j, "exit", exit_status);
	cJSON_AddNumberToObject(j, "sent", (double)sent);
	cJSON_AddNumberToObject(j, "received", (double)received);
	cJSON_AddBoolToObject(j, "same", got != NULL && got_len == sent &&
	    memcmp(got, expect, sent) == 0);
	emit(j);
	event_base_loopexit(base, NULL);
}

static int
cmd_stream(const char *node, const char *command, int timeout_ms)
{
	struct ssh_channel *c;
	char *cause = NULL, line[128];
	size_t len;
	int i;

	open_session(node, timeout_ms);
	c = ssh_channel_open(session, command, stream_data_cb, stream_close_cb, NULL);
	/* Written before the session is even up: the queue waits. */
	for (i = 0; i < ssh_lines; i++) {
		len = (size_t)snprintf(line, sizeof line, "{\"seq\":%d,\"pad\":\"%040d\"}\n", i, i);
		if (ssh_channel_write(c, line, len, &cause) != 0) {
			fprintf(stderr, "gpuprobe-test: write: %s\n", cause);
			free(cause);
			return 1;
		}
		append(&expect, &sent, &expect_alloc, line, len);
	}
	ssh_channel_send_eof(c);
	event_base_dispatch(base);
	ssh_session_free(session);
	free(expect);
	free(got);
	return 0;
}

static void
limit_cb(evutil_socket_t fd, short what, void *arg)
{
	fprintf(stderr, "gpuprobe-test: overall time limit reached\n");
	exit(3);
}

int
main(int argc, char **argv)
{
	struct gpu_options go;
	struct event *limit;
	struct timeval tv;
	long long v;
	int c, rc = 2, limit_ms = 120000;
	const char *mode;

	if (argc < 2) {
		fprintf(stderr, "usage: gpuprobe-test probe|exec|stream [options] ...\n");
		return 2;
	}
	mode = argv[1];
	argv++, argc--;
	memset(&go, 0, sizeof go);
	user = getenv("USER");
	while ((c = getopt(argc, argv, "ak:i:u:t:I:n:c:p:d:L:T:S:")) != -1) {
		switch (c) {
		case 'a':
			go.accept_new_hostkeys = accept_new = 1;
			break;
		case 'k':
			go.known_hosts = known_hosts = optarg;
			break;
		case 'i':
			key_file = strcmp(optarg, "-") == 0 ? NULL : optarg;
			break;
		case 'u':
			user = optarg;
			break;
		case 't':
		case 'I':
		case 'n':
		case 'c':
		case 'L':
		case 'T':
			if (util_parse_int(optarg, 0, 1LL << 40, &v) != 0) {
				fprintf(stderr, "gpuprobe-test: -%c %s: a number\n", c, optarg);
				return 2;
			}
			if (c == 't')
				go.timeout_ms = (int)v;
			else if (c == 'I')
				go.interval_ms = (int)v;
			else if (c == 'n')
				rounds_wanted = (int)v;
			else if (c == 'c')
				go.answer_cap = (size_t)v;
			else if (c == 'L')
				ssh_lines = (int)v;
			else
				limit_ms = (int)v;
			break;
		case 'p':
			go.proc_root = optarg;
			break;
		case 'd':
			go.display = optarg;
			break;
		case 'S':
			stop_file = optarg;
			break;
		default:
			return 2;
		}
	}
	argc -= optind;
	argv += optind;
	log_set_level(LOG_LEVEL_WARN);
	base = event_base_new();
	t0 = util_mono_ms();
	limit = evtimer_new(base, limit_cb, NULL);
	tv.tv_sec = limit_ms / 1000;
	tv.tv_usec = (limit_ms % 1000) * 1000;
	evtimer_add(limit, &tv);
	if (strcmp(mode, "probe") == 0 && argc > 0)
		rc = cmd_probe(&go, argc, argv);
	else if (strcmp(mode, "exec") == 0 && argc == 2) {
		open_session(argv[0], go.timeout_ms > 0 ? go.timeout_ms : 10000);
		ssh_exec(session, argv[1], go.answer_cap > 0 ? go.answer_cap : 1 << 20,
		    go.timeout_ms > 0 ? go.timeout_ms : 10000, exec_cb, NULL);
		event_base_dispatch(base);
		ssh_session_free(session);
		rc = 0;
	} else if (strcmp(mode, "stream") == 0 && argc == 2)
		rc = cmd_stream(argv[0], argv[1], go.timeout_ms > 0 ? go.timeout_ms : 10000);
	else
		fprintf(stderr, "usage: gpuprobe-test probe|exec|stream [options] ...\n");
	event_free(limit);
	event_base_free(base);
	return rc;
}
