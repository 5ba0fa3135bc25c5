/*
 * console-server.c: a scripted stand-in for a gateway's control socket:
 * it holds N tasks and, to every subscriber, streams R task events a
 * second (tasks walking through their states) and a status event a
 * second, as a gateway as busy as that would (bench/console), and with
 * -g, GPU nodes (one of them stale) for the GPUs view; pods (a k8s
 * runner's: running, creating, crash-looping), a healthy VPN, the done
 * tasks' videos, and a task's log (a few lines, then its end when the
 * task is done) for their views. Requests are
 * parsed and every view encoded through proto/ (the gateway's own
 * contract code): the console cannot tell it from a gateway.
 *
 * Deterministic: task ids, games, partitions, times and GPU values
 * follow from the index and --now; only the event cadence follows the
 * clock (-r 0: no task events, for exact screens in tests/tui).
 *
 * With --old it is a gateway from before pods, vpn, videos and logs: it
 * refuses them as unknown commands, in the words proto/ refuses any.
 * With --listed its informer lists only after a connection's first pods
 * request: that one is answered "not listed yet" (no pods), then comes a
 * pods event; the pods come only to a client that asks again.
 * With --no-stop it is a gateway from before logs' stop: it refuses the
 * field as proto/ refused an unknown one, and a connection's streams of
 * tasks not done (which never end here) count against the gateway's cap
 * of 8; each request to stop is written to standard error, and the end
 * of a connection once its requests were all read.
 *
 * usage: console-server -S socket [-n tasks] [-r events/s] [-g nodes] [--now ms] [--old]
 *        [--listed] [--no-stop]
 */
#include "config.h"
#include "proto.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "common.h"

#define BS_PARTITIONS 8

struct bs_task {
	char id[32];
	enum task_state state;
	int attempt;
	int64_t timeline[TASK_NSTATES];
	int status_known;
	enum result_status status;
};

struct bs_client {
	struct bufferevent *bev;
	int subscribed;
	int pods_asked;		/* --listed: its first pods request was answered */
	size_t nfollows;	/* --no-stop: its streams that never end */
	struct bs_client *next;
};

static struct event_base *bs_base;
static struct bs_task *bs_tasks;
static size_t bs_ntasks;
static size_t bs_next;		/* the next task an event moves */
static int64_t bs_now;
static int64_t bs_started;
static struct bs_client *bs_clients;
static uint64_t bs_events;
static int bs_gpu_nodes;
static int bs_nostop;		/* --no-stop: logs' stop is an unknown field */
static int bs_old;		/* --old: pods, vpn, videos and logs are unknown */
static int bs_listed;		/* --listed: a connection's first pods answer is empty */

static void
bs_task_view(const struct bs_task *t, struct proto_task_view *v)
{
	static char dir[128], log[160], node[16], uuid[40];
	static struct proto_task_gpu gpu;
	size_t k = (size_t)(t - bs_tasks);

	memset(v, 0, sizeof *v);
	v->task_id = t->id;
	v->attempt = t->attempt;
	v->game = "catch";
	v->state = t->state;
	v->has_status = t->status_known;
	v->status = t->status;
	v->pid = t->state == TASK_RUNNING ? 4000 + (int64_t)(t - bs_tasks) : -1;
	v->partition = (int32_t)((t - bs_tasks) % BS_PARTITIONS);
	v->offset = (t - bs_tasks) / BS_PARTITIONS;
	memcpy(v->timeline, t->timeline, sizeof v->timeline);
	snprintf(dir, sizeof dir, "/var/lib/paia/tasks/%s", t->id);
	snprintf(log, sizeof log, "%s/output/log.txt", dir);
	v->dir = dir;
	v->log_path = log;
	v->duration_ms = t->timeline[TASK_COLLECTING] != 0 ?
	    t->timeline[TASK_COLLECTING] - t->timeline[TASK_RUNNING] : -1;
	/* Task k < -g holds card 0 of node k (bs_gpu_node). */
	if (k < (size_t)bs_gpu_nodes) {
		snprintf(node, sizeof node, "gpu-%c", 'a' + (int)k);
		snprintf(uuid, sizeof uuid, "GPU-%zu-0", k);
		memset(&gpu, 0, sizeof gpu);
		gpu.node = node;
		gpu.uuid = uuid;
		gpu.name = "NVIDIA L40S";
		gpu.peak_mem_mib = 12000;
		gpu.mean_util = 60 + (double)k * 10;
		gpu.samples = 12;
		gpu.first_ms = t->timeline[TASK_RECEIVED];
		gpu.last_ms = gpu.first_ms + 55000;
		v->gpus = &gpu;
		v->ngpus = 1;
	}
	if (t->state == TASK_DONE) {
		v->has_score = 1;
		v->score = (double)((t - bs_tasks) % 10);
	}
}

static void
bs_status_view(struct proto_status_view *v, struct proto_partition_view *parts)
{
	size_t i;

	memset(v, 0, sizeof *v);
	v->protocol = PROTO_VERSION;
	v->instance = "bench";
	v->version = PACKAGE_VERSION;
	v->pid = getpid();
	v->uptime_s = (util_mono_ms() - bs_started) / 1000;
	v->bootstrap_servers = "127.0.0.1:9092";
	v->group_id = "paia-gateway";
	v->tasks_topic = "paia.tasks";
	v->results_topic = "paia.results";
	v->dlq_topic = "paia.tasks.dlq";
	v->max_inflight = 64;
	for (i = 0; i < bs_ntasks; i++) {
		v->states[bs_tasks[i].state]++;
		if (bs_tasks[i].status_known)
			v->totals[bs_tasks[i].status]++;
	}
	for (i = TASK_FETCHING; i <= TASK_UPLOADING; i++)
		v->inflight += v->states[i];
	v->reporting = v->states[TASK_REPORTING];
	v->tx_committed = (int64_t)bs_events / 10;
	for (i = 0; i < BS_PARTITIONS; i++) {
		parts[i].partition = (int32_t)i;
		parts[i].committed = (int64_t)(bs_ntasks / BS_PARTITIONS);
		parts[i].next = parts[i].committed;
		parts[i].high = parts[i].committed + (int64_t)(i % 3);
		parts[i].lag = (int64_t)(i % 3);
	}
	v->partitions = parts;
	v->npartitions = BS_PARTITIONS;
}

/* Node k: two cards, the first held by task k's game; node 1 stale. */
static cJSON *
bs_gpu_node(int k)
{
	struct proto_gpu_process procs[2];
	struct proto_gpu_card cards[2];
	struct proto_gpu_node n;
	char name[32], host[32], pod[48], uuid[2][40];
	int i;

	memset(&n, 0, sizeof n);
	memset(cards, 0, sizeof cards);
	memset(procs, 0, sizeof procs);
	snprintf(name, sizeof name, "gpu-%c", 'a' + k);
	snprintf(host, sizeof host, "10.0.0.%d", 11 + k);
	n.node = name;
	n.host = host;
	n.port = 22;
	n.source = "config";
	n.state = k == 1 ? PROTO_GPU_STALE : PROTO_GPU_OK;
	n.stale = k == 1 ? "ssh paia-probe@10.0.0.12:22: connect: Connection refused" : NULL;
	n.report_ms = bs_now - (k == 1 ? 30000 : 1000);
	n.age_ms = k == 1 ? 30000 : 1000;
	n.round_ms = 40;
	n.rounds_ok = 100;
	n.display = ":0";
	n.display_state = "up";
	n.display_detail = "xset answered";
	for (i = 0; i < 2; i++) {
		snprintf(uuid[i], sizeof uuid[i], "GPU-%d-%d", k, i);
		cards[i].index = i;
		cards[i].uuid = uuid[i];
		cards[i].name = "NVIDIA L40S";
		cards[i].value[PROTO_GPU_UTIL] = i == 0 ? 60 + k * 10 : 0;
		cards[i].value[PROTO_GPU_MEM_USED] = i == 0 ? 12000 : 0;
		cards[i].value[PROTO_GPU_MEM_TOTAL] = 46068;
		cards[i].value[PROTO_GPU_TEMP] = i == 0 ? 71 + k * 8 : 34;
		cards[i].value[PROTO_GPU_POWER] = i == 0 ? 250 : 30;
		cards[i].value[PROTO_GPU_POWER_LIMIT] = 350;
		cards[i].known = (1u << PROTO_GPU_UTIL) | (1u << PROTO_GPU_MEM_USED) |
		    (1u << PROTO_GPU_MEM_TOTAL) | (1u << PROTO_GPU_TEMP) | (1u << PROTO_GPU_POWER) |
		    (1u << PROTO_GPU_POWER_LIMIT);
		cards[i].pstate = i == 0 ? "P0" : "P8";
	}
	snprintf(pod, sizeof pod, "paia-%s-1", bs_tasks[(size_t)k % bs_ntasks].id);
	procs[0].pid = 41000 + k;
	procs[0].used_mib = 12000;
	procs[0].name = "python3";
	procs[0].pod_uid = "e95e5027-7bd8-474f-bc58-99d440876406";
	procs[0].container_id = "3f6c";
	procs[0].namespace = "paia";
	procs[0].pod = pod;
	procs[0].container = "game";
	procs[0].task_id = bs_tasks[(size_t)k % bs_ntasks].id;
	procs[0].attempt = 1;
	cards[0].procs = procs;
	cards[0].nprocs = 1;
	n.cards = cards;
	n.ncards = 2;
	return proto_gpu_node_encode(&n);
}

static void
bs_send(struct bs_client *c, cJSON *j)
{
	char *s = cJSON_PrintUnformatted(j);

	evbuffer_add(bufferevent_get_output(c->bev), s, strlen(s));
	evbuffer_add(bufferevent_get_output(c->bev), "\n", 1);
	cJSON_free(s);
}

static void
bs_send_line(struct bs_client *c, char *line)
{
	evbuffer_add(bufferevent_get_output(c->bev), line, strlen(line));
	evbuffer_add(bufferevent_get_output(c->bev), "\n", 1);
	free(line);
}

/* The first three tasks' pods, as kubectl would show them (none: not listed yet). */
static void
bs_pods(cJSON *answer, int none)
{
	static const char *const status[] = { "Running", "ContainerCreating", "CrashLoopBackOff" };
	struct proto_pod_view pv[3];
	struct proto_pods p;
	char names[3][64];
	size_t i, n = bs_ntasks < 3 ? bs_ntasks : 3;

	memset(pv, 0, sizeof pv);
	for (i = 0; i < n; i++) {
		snprintf(names[i], sizeof names[i], "paia-%s-1", bs_tasks[i].id);
		pv[i].name = names[i];
		pv[i].namespace = "paia";
		pv[i].task_id = bs_tasks[i].id;
		pv[i].attempt = 1;
		pv[i].phase = i == 1 ? "Pending" : "Running";
		pv[i].status = status[i];
		pv[i].ready = i == 0 ? 1 : 0;
		pv[i].total = 1;
		pv[i].restarts = i == 2 ? 4 : 0;
		pv[i].node = i == 1 ? NULL : "gpu-node-2";
		pv[i].created_ms = bs_now - 60000 * (int64_t)(i + 1);
	}
	memset(&p, 0, sizeof p);
	p.runner = "k8s";
	p.namespace = "paia";
	p.synced = !none;
	p.pods = pv;
	p.npods = none ? 0 : n;
	proto_pods_encode(answer, &p);
}

/* A healthy tunnel, up for an hour, its route and endpoint checked. */
static cJSON *
bs_vpn(void)
{
	struct proto_vpn_check checks[2];
	struct proto_vpn_view v;

	memset(checks, 0, sizeof checks);
	checks[0].kind = PROTO_VPN_ROUTE;
	checks[0].target = "10.77.0.0/24";
	checks[0].result = PROTO_VPN_OK;
	checks[0].reason = "via tun0";
	checks[0].checked_ms = bs_now - 2000;
	checks[0].age_ms = 2000;
	checks[0].latency_ms = -1;
	checks[1] = checks[0];
	checks[1].kind = PROTO_VPN_ENDPOINT;
	checks[1].target = "10.77.0.10:443";
	checks[1].reason = "connected to 10.77.0.10:443 in 3 ms";
	checks[1].latency_ms = 3;
	memset(&v, 0, sizeof v);
	v.enabled = 1;
	v.mode = "spawn";
	v.state = PROTO_VPN_CONNECTED;
	v.since_ms = bs_now - 3600000;
	v.connected_ms = v.since_ms;
	v.openvpn_state = "CONNECTED";
	v.openvpn_detail = "SUCCESS";
	v.pid = 4711;
	v.bytes_in = 81234;
	v.bytes_out = 20480;
	v.tun_ip = "10.8.0.2";
	v.tun_dev = "tun0";
	v.healthy = 1;
	v.checks = checks;
	v.nchecks = 2;
	return proto_vpn_view_encode(&v);
}

/* The done tasks' videos, newest first (at most 5). */
static void
bs_videos(cJSON *answer)
{
	struct proto_video_view v;
	cJSON *arr = cJSON_AddArrayToObject(answer, "videos");
	char url[128];
	size_t i, n = 0;

	for (i = bs_ntasks; i > 0 && n < 5; i--) {
		const struct bs_task *t = &bs_tasks[i - 1];

		if (t->state != TASK_DONE)
			continue;
		snprintf(url, sizeof url, "s3://results/%s/%d/video.mp4", t->id, t->attempt);
		memset(&v, 0, sizeof v);
		v.task_id = t->id;
		v.attempt = t->attempt;
		v.game = "catch";
		v.status = "succeeded";
		v.name = "video.mp4";
		v.url = url;
		v.content_type = "video/mp4";
		v.bytes = 11431 + (int64_t)i;
		v.reported_ms = t->timeline[TASK_REPORTING] != 0 ? t->timeline[TASK_REPORTING] :
		    bs_now;
		cJSON_AddItemToArray(arr, proto_video_view_encode(&v));
		n++;
	}
}

/* A task's log after the logs answer: three lines, and its end when the task is done. */
static void
bs_log(struct bs_client *c, const struct bs_task *t)
{
	struct proto_log_chunk ch;
	struct proto_log_end e;
	char raw[512], *text;
	size_t keep;

	snprintf(raw, sizeof raw, "[demo-game] start: task %s, game catch\n"
	    "[demo-game] frame 0: ball 14,1 paddle 9 score 0\n"
	    "[demo-game] frame 1: ball 14,2 paddle 10 score 0\n", t->id);
	text = proto_log_text(raw, strlen(raw), 1, &keep);
	memset(&ch, 0, sizeof ch);
	ch.task_id = t->id;
	ch.attempt = t->attempt;
	ch.source = "file";
	ch.bytes = (int64_t)strlen(raw);
	ch.data = text;
	ch.len = strlen(text);
	bs_send_line(c, proto_event_encode(PROTO_EVENT_LOG, proto_log_chunk_encode(&ch)));
	free(text);
	if (t->state != TASK_DONE)
		return;
	memset(&e, 0, sizeof e);
	e.task_id = t->id;
	e.attempt = t->attempt;
	e.reason = PROTO_LOG_DONE;
	e.bytes = (int64_t)strlen(raw);
	bs_send_line(c, proto_event_encode(PROTO_EVENT_LOG_END, proto_log_end_encode(&e)));
}

static cJSON *
bs_ok(void)
{
	return proto_answer_ok();
}

static void
bs_request(struct bs_client *c, const char *line, size_t len)
{
	struct proto_partition_view parts[BS_PARTITIONS];
	struct proto_lag_view lag[BS_PARTITIONS];
	struct proto_lag l;
	struct proto_status_view sv;
	struct proto_task_view tv;
	struct proto_request req;
	cJSON *r, *arr;
	char *cause = NULL;
	size_t i;

	if (proto_request_parse(line, len, &req, &cause) != 0) {
		bs_send_line(c, proto_answer_error(cause));
		free(cause);
		return;
	}
	if (bs_old && (req.cmd == PROTO_CMD_PODS || req.cmd == PROTO_CMD_VPN ||
	    req.cmd == PROTO_CMD_VIDEOS || req.cmd == PROTO_CMD_LOGS)) {
		xasprintf(&cause, "unknown command '%s' (status, tasks, task, requeue, cancel, "
		    "lag, subscribe, gpus)", proto_cmd_name(req.cmd));
		bs_send_line(c, proto_answer_error(cause));
		free(cause);
		proto_request_clear(&req);
		return;
	}
	r = bs_ok();
	switch (req.cmd) {
	case PROTO_CMD_STATUS:
		bs_status_view(&sv, parts);
		cJSON_AddItemToObject(r, "status", proto_status_view_encode(&sv));
		break;
	case PROTO_CMD_TASKS:
		arr = cJSON_AddArrayToObject(r, "tasks");
		for (i = 0; i < bs_ntasks; i++) {
			bs_task_view(&bs_tasks[i], &tv);
			cJSON_AddItemToArray(arr, proto_task_view_encode(&tv));
		}
		break;
	case PROTO_CMD_PODS:
		if (bs_listed && !c->pods_asked) {
			struct proto_pods_event e = { 1, bs_ntasks < 3 ? (int64_t)bs_ntasks : 3 };

			c->pods_asked = 1;
			bs_pods(r, 1);
			bs_send(c, r);
			cJSON_Delete(r);
			proto_request_clear(&req);
			if (c->subscribed)
				bs_send_line(c, proto_event_encode(PROTO_EVENT_PODS,
				    proto_pods_event_encode(&e)));
			return;
		}
		bs_pods(r, 0);
		break;
	case PROTO_CMD_VPN:
		cJSON_AddItemToObject(r, "vpn", bs_vpn());
		break;
	case PROTO_CMD_VIDEOS:
		bs_videos(r);
		break;
	case PROTO_CMD_TASK:
	case PROTO_CMD_LOGS:
		for (i = 0; i < bs_ntasks && strcmp(bs_tasks[i].id, req.id) != 0; i++)
			;
		if (i == bs_ntasks) {
			cJSON_Delete(r);
			xasprintf(&cause, "no task %s known to this gateway", req.id);
			bs_send_line(c, proto_answer_error(cause));
			free(cause);
			proto_request_clear(&req);
			return;
		}
		if (req.cmd == PROTO_CMD_LOGS && req.stop && bs_nostop) {
			fprintf(stderr, "stop %s refused\n", bs_tasks[i].id);
			cJSON_Delete(r);
			bs_send_line(c, proto_answer_error("unknown field 'stop' for 'logs' (it takes id, "
			    "follow)"));
			proto_request_clear(&req);
			return;
		}
		if (req.cmd == PROTO_CMD_LOGS && req.stop) {
			/* Its lines were all sent with the answer: nothing left to stop. */
			cJSON_AddStringToObject(r, "task_id", bs_tasks[i].id);
			cJSON_AddTrueToObject(r, "stopped");
			break;
		}
		if (req.cmd == PROTO_CMD_LOGS && bs_nostop && req.follow &&
		    bs_tasks[i].state != TASK_DONE && c->nfollows++ == 8) {
			c->nfollows--;
			cJSON_Delete(r);
			bs_send_line(c, proto_answer_error("this connection already streams 8 logs "
			    "(the most one may)"));
			proto_request_clear(&req);
			return;
		}
		if (req.cmd == PROTO_CMD_LOGS) {
			cJSON_AddStringToObject(r, "task_id", bs_tasks[i].id);
			cJSON_AddNumberToObject(r, "attempt", bs_tasks[i].attempt);
			cJSON_AddBoolToObject(r, "follow", req.follow);
			cJSON_AddStringToObject(r, "state", proto_state_name(bs_tasks[i].state));
			bs_send(c, r);
			cJSON_Delete(r);
			bs_log(c, &bs_tasks[i]);
			proto_request_clear(&req);
			return;
		}
		bs_task_view(&bs_tasks[i], &tv);
		cJSON_AddItemToObject(r, "task", proto_task_view_encode(&tv));
		break;
	case PROTO_CMD_LAG:
		memset(lag, 0, sizeof lag);
		for (i = 0; i < BS_PARTITIONS; i++) {
			lag[i].partition = (int32_t)i;
			lag[i].committed = (int64_t)(bs_ntasks / BS_PARTITIONS);
			lag[i].log_end = lag[i].committed + (int64_t)(i % 3);
			lag[i].lag = (int64_t)(i % 3);
			lag[i].status = HEALTH_OK;
			lag[i].healthy = 1;
		}
		memset(&l, 0, sizeof l);
		l.source = "gateway";
		l.healthy = 1;
		l.partitions = lag;
		l.npartitions = BS_PARTITIONS;
		proto_lag_encode_into(r, &l);
		break;
	case PROTO_CMD_SUBSCRIBE:
		c->subscribed = 1;
		break;
	case PROTO_CMD_GPUS:
		cJSON_AddBoolToObject(r, "enabled", bs_gpu_nodes > 0);
		cJSON_AddNumberToObject(r, "interval_ms", 5000);
		arr = cJSON_AddArrayToObject(r, "nodes");
		for (i = 0; i < (size_t)bs_gpu_nodes; i++)
			cJSON_AddItemToArray(arr, bs_gpu_node((int)i));
		break;
	case PROTO_CMD_REQUEUE:
	case PROTO_CMD_CANCEL:
		cJSON_AddStringToObject(r, "task_id", req.id);
		if (req.cmd == PROTO_CMD_REQUEUE)
			cJSON_AddNumberToObject(r, "attempt", 2);
		break;
	default:
		break;
	}
	bs_send(c, r);
	cJSON_Delete(r);
	proto_request_clear(&req);
}

static void
bs_client_free(struct bs_client *c)
{
	struct bs_client **cp;

	for (cp = &bs_clients; *cp != NULL; cp = &(*cp)->next)
		if (*cp == c) {
			*cp = c->next;
			break;
		}
	bufferevent_free(c->bev);
	free(c);
}

static void
bs_read_cb(struct bufferevent *bev, void *arg)
{
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t len;
	char *line;

	while ((line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF)) != NULL) {
		bs_request(arg, line, len);
		free(line);
	}
}

static void
bs_event_cb(struct bufferevent *bev, short what, void *arg)
{
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		if (bs_nostop)
			fprintf(stderr, "connection closed\n");	/* its requests all answered */
		bs_client_free(arg);
	}
}

static void
bs_accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len,
    void *arg)
{
	struct bs_client *c = xcalloc(1, sizeof *c);

	c->bev = bufferevent_socket_new(bs_base, fd, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(c->bev, bs_read_cb, NULL, bs_event_cb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	c->next = bs_clients;
	bs_clients = c;
}

/* One task event: the next task takes its next state (done ones start over). */
static void
bs_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct proto_task_view tv;
	struct bs_task *t = &bs_tasks[bs_next];
	struct bs_client *c;
	char *line;
	int64_t at = bs_now + (int64_t)bs_events * 10;

	bs_next = (bs_next + 1) % bs_ntasks;
	if (t->state == TASK_DONE || t->state == TASK_FAILED) {
		memset(t->timeline, 0, sizeof t->timeline);
		t->state = TASK_RECEIVED;
		t->attempt++;
		t->status_known = 0;
	} else if (t->state == TASK_REPORTING) {
		t->state = (bs_events % 7) == 0 ? TASK_FAILED : TASK_DONE;
		t->status_known = 1;
		t->status = t->state == TASK_DONE ? RESULT_SUCCEEDED : RESULT_FAILED;
	} else
		t->state++;
	t->timeline[t->state] = at;
	bs_events++;
	bs_task_view(t, &tv);
	line = proto_event_encode(PROTO_EVENT_TASK, proto_task_view_encode(&tv));
	for (c = bs_clients; c != NULL; c = c->next)
		if (c->subscribed) {
			evbuffer_add(bufferevent_get_output(c->bev), line, strlen(line));
			evbuffer_add(bufferevent_get_output(c->bev), "\n", 1);
		}
	free(line);
}

static void
bs_status_cb(evutil_socket_t fd, short what, void *arg)
{
	struct proto_partition_view parts[BS_PARTITIONS];
	struct proto_status_view sv;
	struct bs_client *c;
	char *line;

	bs_status_view(&sv, parts);
	line = proto_event_encode(PROTO_EVENT_STATUS, proto_status_view_encode(&sv));
	for (c = bs_clients; c != NULL; c = c->next)
		if (c->subscribed) {
			evbuffer_add(bufferevent_get_output(c->bev), line, strlen(line));
			evbuffer_add(bufferevent_get_output(c->bev), "\n", 1);
		}
	free(line);
}

static void
bs_stop_cb(evutil_socket_t sig, short what, void *arg)
{
	event_base_loopbreak(bs_base);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "now", required_argument, NULL, 'N' },
		{ "old", no_argument, NULL, 'O' },
		{ "listed", no_argument, NULL, 'L' },
		{ "no-stop", no_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 }
	};
	struct sockaddr_un sa;
	struct evconnlistener *l;
	struct event *tick = NULL, *status, *sig1, *sig2;
	const char *path = NULL;
	long long n = 10000, rate = 100, now = 1796000000000LL, g = 0;
	struct timeval tv;
	size_t i;
	int ch, s;

	while ((ch = getopt_long(argc, argv, "S:n:r:g:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'S':
			path = optarg;
			break;
		case 'n':
			if (util_parse_int(optarg, 1, 10000000, &n) != 0)
				fatalx("-n: 1 to 10000000 tasks");
			break;
		case 'r':
			if (util_parse_int(optarg, 0, 100000, &rate) != 0)
				fatalx("-r: 0 to 100000 events a second");
			break;
		case 'N':
			if (util_parse_int(optarg, 1, INT64_MAX, &now) != 0)
				fatalx("--now: ms since the epoch");
			break;
		case 'O':
			bs_old = 1;
			break;
		case 'L':
			bs_listed = 1;
			break;
		case 'P':
			bs_nostop = 1;
			break;
		case 'g':
			if (util_parse_int(optarg, 0, 26, &g) != 0)
				fatalx("-g: 0 to 26 GPU nodes");
			bs_gpu_nodes = (int)g;
			break;
		default:
			fprintf(stderr, "usage: console-server -S socket [-n tasks] [-r events/s] "
			    "[-g nodes] [--now ms] [--old] [--listed] [--no-stop]\n");
			return 2;
		}
	}
	if (path == NULL || strlen(path) >= sizeof sa.sun_path)
		fatalx("-S socket: a path for the control socket");
	signal(SIGPIPE, SIG_IGN);
	bs_now = now;
	bs_started = util_mono_ms();
	bs_ntasks = (size_t)n;
	bs_tasks = xcalloc(bs_ntasks, sizeof *bs_tasks);
	for (i = 0; i < bs_ntasks; i++) {
		snprintf(bs_tasks[i].id, sizeof bs_tasks[i].id, "bench-%06zu", i);
		bs_tasks[i].attempt = 1;
		/* Spread over the states, as a busy gateway's history is. */
		bs_tasks[i].state = (enum task_state)(i % TASK_NSTATES);
		for (s = 0; s <= (int)bs_tasks[i].state; s++)
			bs_tasks[i].timeline[s] = now - 600000 + (int64_t)i * 50 + s * 700;
		if (bs_tasks[i].state == TASK_DONE || bs_tasks[i].state == TASK_FAILED) {
			bs_tasks[i].status_known = 1;
			bs_tasks[i].status = bs_tasks[i].state == TASK_DONE ? RESULT_SUCCEEDED :
			    RESULT_TIMEOUT;
		}
	}
	bs_base = event_base_new();
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	strcpy(sa.sun_path, path);
	unlink(path);
	l = evconnlistener_new_bind(bs_base, bs_accept_cb, NULL, LEV_OPT_CLOSE_ON_FREE, 16,
	    (struct sockaddr *)&sa, sizeof sa);
	if (l == NULL)
		fatalx("cannot listen on %s", path);
	if (rate > 0) {
		tv.tv_sec = 0;
		tv.tv_usec = 1000000 / rate;
		if (tv.tv_usec == 0)
			tv.tv_usec = 1;
		tick = event_new(bs_base, -1, EV_PERSIST, bs_tick_cb, NULL);
		event_add(tick, &tv);
	}
	tv.tv_sec = 1;
	tv.tv_usec = 0;
	status = event_new(bs_base, -1, EV_PERSIST, bs_status_cb, NULL);
	event_add(status, &tv);
	sig1 = evsignal_new(bs_base, SIGTERM, bs_stop_cb, NULL);
	sig2 = evsignal_new(bs_base, SIGINT, bs_stop_cb, NULL);
	event_add(sig1, NULL);
	event_add(sig2, NULL);
	event_base_dispatch(bs_base);
	while (bs_clients != NULL)
		bs_client_free(bs_clients);
	if (tick != NULL)
		event_free(tick);
	event_free(status);
	event_free(sig1);
	event_free(sig2);
	evconnlistener_free(l);
	event_base_free(bs_base);
	unlink(path);
	free(bs_tasks);
	return 0;
}
