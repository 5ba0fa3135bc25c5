/*
 * bench/informer.c: what the k8s informer costs.
 *
 * 1. Watch events decoded per CPU second (one core): a stream of pod
 *    events (~10 KB game pods shaped like the API server's, managed
 *    fields and all) fed in 16 KB chunks to the watch decoder, each
 *    object reduced to struct k8s_pod, as the informer does. The peer,
 *    run in the same process on the same stream, is the naive decoder:
 *    split lines, cJSON_Parse each whole event, read the same fields
 *    from the tree (what client-go's decoding amounts to).
 * 2. The RSS of this process with N pods cached in a real informer,
 *    listed (pages of 500) over HTTP from a stand-in API server in a
 *    child process.
 *
 *   bench/informer [EVENTS [PODS]]     defaults 20000 and 10000
 */
#include "config.h"
#include "common.h"
#include "k8s.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>
#include <curl/curl.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

static int64_t
cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static long
rss_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f != NULL && fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "VmRSS: %ld", &kb) == 1)
			break;
	if (f != NULL)
		fclose(f);
	return kb;
}

/* One game pod as the API server would write it, about 10 KB. */
static char *
bench_pod(unsigned i, unsigned rv, int phase)
{
	static const char *phases[] = { "Pending", "Running", "Succeeded", "Failed" };
	char env[10000], *p = env, *out;
	unsigned k;

	for (k = 0; k < 76; k++)
		p += sprintf(p, "%s{\"name\":\"PAIA_PARAM_%02u\",\"value\":\"level-%u-seed-%08x-"
		    "difficulty-hard-mode-ranked\"}", k == 0 ? "" : ",", k, k, i * 2654435761u + k);
	xasprintf(&out,
	    "{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"paia-t-%08x-1\","
	    "\"namespace\":\"bench\",\"uid\":\"%08x-2c77-4f0e-9a35-0d2c6b7e%04x\","
	    "\"resourceVersion\":\"%u\",\"creationTimestamp\":\"2026-11-28T10:00:00Z\","
	    "\"labels\":{\"app.kubernetes.io/name\":\"paiagym\",\"paia.io/attempt\":\"1\","
	    "\"paia.io/managed-by\":\"paia-gateway\",\"paia.io/task-id\":\"t-%08x\"},"
	    "\"annotations\":{\"paia.io/game\":\"snake \\u0026 ladders\",\"paia.io/result-prefix\":"
	    "\"s3://paia-results/t-%08x/\"},\"managedFields\":[{\"manager\":\"paia-gateway\","
	    "\"operation\":\"Update\",\"apiVersion\":\"v1\",\"time\":\"2026-11-28T10:00:00Z\","
	    "\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:metadata\":{\"f:labels\":{\".\":{},"
	    "\"f:paia.io/attempt\":{},\"f:paia.io/managed-by\":{},\"f:paia.io/task-id\":{}}},"
	    "\"f:spec\":{\"f:activeDeadlineSeconds\":{},\"f:containers\":{\"k:{\\\"name\\\":"
	    "\\\"game\\\"}\":{\".\":{},\"f:env\":{\".\":{}},\"f:image\":{},\"f:imagePullPolicy\":{},"
	    "\"f:name\":{},\"f:resources\":{\".\":{},\"f:limits\":{\".\":{},\"f:cpu\":{},"
	    "\"f:memory\":{},\"f:nvidia.com/gpu\":{}}},\"f:securityContext\":{\".\":{},"
	    "\"f:allowPrivilegeEscalation\":{},\"f:capabilities\":{\".\":{},\"f:drop\":{}},"
	    "\"f:runAsNonRoot\":{}},\"f:volumeMounts\":{\".\":{},\"k:{\\\"mountPath\\\":"
	    "\\\"/workspace\\\"}\":{\".\":{},\"f:mountPath\":{},\"f:name\":{},\"f:subPath\":{}}}}}}}},"
	    "{\"manager\":\"kube-scheduler\",\"operation\":\"Update\",\"apiVersion\":\"v1\","
	    "\"time\":\"2026-11-28T10:00:01Z\",\"fieldsType\":\"FieldsV1\",\"fieldsV1\":"
	    "{\"f:status\":{\"f:conditions\":{\".\":{},\"k:{\\\"type\\\":\\\"PodScheduled\\\"}\":"
	    "{\".\":{},\"f:lastProbeTime\":{},\"f:lastTransitionTime\":{},\"f:status\":{},"
	    "\"f:type\":{}}}}},\"subresource\":\"status\"}]},"
	    "\"spec\":{\"volumes\":[{\"name\":\"workspace\",\"persistentVolumeClaim\":{\"claimName\":"
	    "\"paia-tasks\"}},{\"name\":\"x11\",\"hostPath\":{\"path\":\"/tmp/.X11-unix\",\"type\":"
	    "\"Directory\"}}],\"containers\":[{\"name\":\"game\",\"image\":"
	    "\"registry.local/paiagym:3.2.1\",\"command\":[\"/opt/paiagym/run.sh\"],\"args\":"
	    "[\"--task\",\"/workspace/input\"],\"env\":[{\"name\":\"PAIA_TASK_ID\",\"value\":"
	    "\"t-%08x\"},{\"name\":\"DISPLAY\",\"value\":\":0\"},%s],\"resources\":{\"limits\":"
	    "{\"cpu\":\"4\",\"memory\":\"8Gi\",\"nvidia.com/gpu\":\"1\"},\"requests\":{\"cpu\":\"4\","
	    "\"memory\":\"8Gi\",\"nvidia.com/gpu\":\"1\"}},\"volumeMounts\":[{\"name\":\"workspace\","
	    "\"mountPath\":\"/workspace\",\"subPath\":\"tasks/t-%08x\"},{\"name\":\"x11\","
	    "\"mountPath\":\"/tmp/.X11-unix\",\"readOnly\":true}],\"terminationMessagePath\":"
	    "\"/dev/termination-log\",\"terminationMessagePolicy\":\"File\",\"imagePullPolicy\":"
	    "\"IfNotPresent\",\"securityContext\":{\"capabilities\":{\"drop\":[\"ALL\"]},"
	    "\"runAsUser\":1000,\"runAsNonRoot\":true,\"allowPrivilegeEscalation\":false}}],"
	    "\"restartPolicy\":\"Never\",\"terminationGracePeriodSeconds\":30,"
	    "\"activeDeadlineSeconds\":1800,\"dnsPolicy\":\"ClusterFirst\",\"nodeName\":"
	    "\"gpu-node-%u\",\"automountServiceAccountToken\":false,\"securityContext\":{\"fsGroup\":"
	    "1000},\"schedulerName\":\"default-scheduler\",\"tolerations\":[{\"key\":"
	    "\"nvidia.com/gpu\",\"operator\":\"Exists\",\"effect\":\"NoSchedule\"}],\"priority\":0},"
	    "\"status\":{\"phase\":\"%s\",\"conditions\":[{\"type\":\"Initialized\",\"status\":"
	    "\"True\",\"lastProbeTime\":null,\"lastTransitionTime\":\"2026-11-28T10:00:01Z\"},"
	    "{\"type\":\"Ready\",\"status\":\"True\",\"lastProbeTime\":null,\"lastTransitionTime\":"
	    "\"2026-11-28T10:00:05Z\"},{\"type\":\"PodScheduled\",\"status\":\"True\","
	    "\"lastProbeTime\":null,\"lastTransitionTime\":\"2026-11-28T10:00:01Z\"}],\"hostIP\":"
	    "\"192.0.2.12\",\"podIP\":\"10.244.2.17\",\"startTime\":\"2026-11-28T10:00:01Z\","
	    "\"containerStatuses\":[{\"name\":\"game\",\"state\":{\"running\":{\"startedAt\":"
	    "\"2026-11-28T10:00:04Z\"}},\"lastState\":{},\"ready\":true,\"restartCount\":0,"
	    "\"image\":\"registry.local/paiagym:3.2.1\",\"imageID\":\"registry.local/paiagym@"
	    "sha256:abababababababababababababababababababababababababababababababab\","
	    "\"containerID\":\"containerd://cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"
	    "cdcdcdcdcdcdcdcdcdcdcdcd\",\"started\":true}],\"qosClass\":\"Guaranteed\"}}",
	    i, i, i & 0xffff, rv, i, i, i, env, i, i % 16, phases[phase & 3]);
	return out;
}

/* ---- 1. decode ---- */

struct bench_count {
	uint64_t events, bytes, phases;
};

static const char *bench_keep[] = { "paia.io/", NULL };
static const struct k8s_pod_filter bench_filter = { bench_keep };

static int
bench_event(const struct k8s_watch_event *ev, void *arg)
{
	struct bench_count *c = arg;
	struct k8s_pod *pod;

	if ((pod = k8s_pod_extract(ev->object, ev->object_len, &bench_filter, NULL)) == NULL)
		fatalx("bench pod did not decode");
	c->events++;
	c->phases += pod->phase != NULL && pod->phase[0] == 'R';
	k8s_pod_free(pod);
	return 0;
}

/* The naive peer: each line parsed whole into a tree, the same fields read. */
static void
bench_peer(const char *s, size_t len, struct bench_count *c)
{
	const char *p = s, *nl;
	cJSON *ev, *o, *md, *st, *x;

	while ((nl = memchr(p, '\n', (size_t)(s + len - p))) != NULL) {
		if ((ev = cJSON_ParseWithLength(p, (size_t)(nl - p))) == NULL)
			fatalx("cJSON failed");
		o = cJSON_GetObjectItemCaseSensitive(ev, "object");
		md = cJSON_GetObjectItemCaseSensitive(o, "metadata");
		st = cJSON_GetObjectItemCaseSensitive(o, "status");
		x = cJSON_GetObjectItemCaseSensitive(st, "phase");
		(void)cJSON_GetObjectItemCaseSensitive(md, "name");
		(void)cJSON_GetObjectItemCaseSensitive(md, "labels");
		(void)cJSON_GetObjectItemCaseSensitive(st, "containerStatuses");
		c->phases += x != NULL && cJSON_IsString(x) && x->valuestring[0] == 'R';
		c->events++;
		cJSON_Delete(ev);
		p = nl + 1;
	}
}

static void
bench_decode(unsigned nevents)
{
	static const char *types[] = { "ADDED", "MODIFIED", "MODIFIED", "DELETED" };
	struct bench_count ours = { 0, 0, 0 }, peer = { 0, 0, 0 };
	struct k8s_watch_decoder *d;
	size_t len = 0, cap = 0, off, n;
	char *stream = NULL, *pod, *line, *cause = NULL;
	unsigned i, rounds;
	int64_t t0, ours_ns, peer_ns;
	double ours_rate, peer_rate;

	for (i = 0; i < nevents; i++) {
		pod = bench_pod(i % 2000, 1000 + i, (int)(i % 4));
		n = (size_t)xasprintf(&line, "{\"type\":\"%s\",\"object\":%s}\n", types[i % 4], pod);
		if (len + n > cap) {
			cap = (len + n) * 2;
			stream = xrealloc(stream, cap);
		}
		memcpy(stream + len, line, n);
		len += n;
		free(line);
		free(pod);
	}
	/* At least 2 CPU seconds each, whole passes over the stream. */
	d = k8s_watch_decoder_new(bench_event, &ours, 0);
	t0 = cpu_ns();
	for (rounds = 0; rounds == 0 || cpu_ns() - t0 < 2000000000LL; rounds++) {
		for (off = 0; off < len; off += 16384) {
			if (k8s_watch_decoder_feed(d, stream + off, len - off < 16384 ? len - off : 16384,
			    &cause) != 0)
				fatalx("decode failed: %s", cause);
		}
	}
	ours_ns = cpu_ns() - t0;
	k8s_watch_decoder_free(d);
	t0 = cpu_ns();
	for (rounds = 0; getenv("BENCH_NO_PEER") == NULL &&
	    (rounds == 0 || cpu_ns() - t0 < 2000000000LL); rounds++)
		bench_peer(stream, len, &peer);
	peer_ns = cpu_ns() - t0;
	ours_rate = (double)ours.events * 1e9 / (double)ours_ns;
	peer_rate = (double)peer.events * 1e9 / (double)peer_ns;
	printf("decode: %u events, %.1f KB per event, fed in 16 KB chunks\n", nevents,
	    (double)len / nevents / 1024);
	printf("  ours (watch decoder + k8s_pod_extract): %10.0f events/s per core  %7.1f MB/s\n",
	    ours_rate, (double)len * (double)(ours.events / nevents) / ((double)ours_ns / 1e9) / 1e6);
	printf("  peer (cJSON_Parse of each event):       %10.0f events/s per core  %7.1f MB/s\n",
	    peer_rate, (double)len * (double)(peer.events / nevents) / ((double)peer_ns / 1e9) / 1e6);
	printf("  ratio ours/peer = %.1fx\n", ours_rate / peer_rate);
	free(stream);
}

/* ---- 2. RSS of the informer cache ---- */

static unsigned bench_npods;

/* GET .../pods?limit=L[&continue=K]: pods K..K+L. Watches get an empty stream. */
static void
bench_serve(struct evhttp_request *req, void *arg)
{
	struct evkeyvalq q;
	struct evbuffer *b = evbuffer_new();
	const char *uri = evhttp_request_get_uri(req), *v;
	unsigned from = 0, limit = 500, i;
	char *pod;

	evhttp_parse_query(uri, &q);
	if (evhttp_find_header(&q, "watch") != NULL) {
		evhttp_clear_headers(&q);
		evhttp_send_reply(req, 200, "OK", b);
		evbuffer_free(b);
		return;
	}
	if ((v = evhttp_find_header(&q, "continue")) != NULL)
		from = (unsigned)atoi(v);
	if ((v = evhttp_find_header(&q, "limit")) != NULL)
		limit = (unsigned)atoi(v);
	evhttp_clear_headers(&q);
	evbuffer_add_printf(b, "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{"
	    "\"resourceVersion\":\"99999\"");
	if (from + limit < bench_npods)
		evbuffer_add_printf(b, ",\"continue\":\"%u\"", from + limit);
	evbuffer_add_printf(b, "},\"items\":[");
	for (i = from; i < from + limit && i < bench_npods; i++) {
		pod = bench_pod(i, 1000 + i, 1);
		evbuffer_add_printf(b, "%s%s", i == from ? "" : ",", pod);
		free(pod);
	}
	evbuffer_add_printf(b, "]}");
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	    "application/json");
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
}

static void
bench_synced(void *arg)
{
	event_base_loopbreak(arg);
}

static void
bench_fatal(const char *verb, const struct k8s_status *st, void *arg)
{
	fatalx("informer %s: %s", verb, st->message);
}

static void
bench_rss(unsigned npods)
{
	struct event_base *base;
	struct evhttp *http;
	struct evhttp_bound_socket *sock;
	struct k8s_informer_opts o;
	struct k8s_informer *inf;
	struct k8s_client *c;
	struct k8s_config *cfg;
	struct evcurl *ec;
	char *kc, *cause = NULL;
	long before, after;
	int port, status;
	pid_t pid;
	int64_t t0;

	bench_npods = npods;
	base = event_base_new();
	http = evhttp_new(base);
	if ((sock = evhttp_bind_socket_with_handle(http, "127.0.0.1", 0)) == NULL)
		fatalx("bind failed");
	{
		struct sockaddr_storage ss;
		socklen_t sl = sizeof ss;
		getsockname(evhttp_bound_socket_get_fd(sock), (struct sockaddr *)&ss, &sl);
		port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	}
	evhttp_set_gencb(http, bench_serve, NULL);
	if ((pid = fork()) == 0) {
		event_reinit(base);
		event_base_dispatch(base);
		_exit(0);
	}
	evhttp_free(http);
	event_base_free(base);

	base = event_base_new();
	ec = evcurl_new(base);
	xasprintf(&kc, "current-context: b\ncontexts:\n- name: b\n  context: {cluster: b, user: b}\n"
	    "clusters:\n- name: b\n  cluster: {server: \"http://127.0.0.1:%d\"}\nusers:\n- name: b\n"
	    "  user: {token: bench}\n", port);
	log_set_level(getenv("BENCH_DEBUG") != NULL ? LOG_LEVEL_DEBUG : LOG_LEVEL_ERROR);
	if ((cfg = k8s_config_parse_kubeconfig(kc, strlen(kc), NULL, NULL,
	    K8S_CONFIG_ALLOW_INSECURE, &cause)) == NULL)
		fatalx("%s", cause);
	free(kc);
	c = k8s_client_new(base, ec, cfg, NULL);
	memset(&o, 0, sizeof o);
	o.kind = &k8s_pod_kind;
	o.kind_arg = &bench_filter;
	o.namespace = "bench";
	o.h.synced = bench_synced;
	o.h.fatal = bench_fatal;
	o.arg = base;
	before = rss_kb();
	inf = k8s_informer_new(c, &o);
	t0 = util_mono_ms();
	k8s_informer_start(inf);
	event_base_dispatch(base);
	after = rss_kb();
	printf("informer: %zu pods cached (listed in pages of 500 in %.1f s): RSS %.1f MB "
	    "(%.1f MB before the list; %.0f bytes per pod)\n", k8s_informer_count(inf),
	    (double)(util_mono_ms() - t0) / 1000, (double)after / 1024, (double)before / 1024,
	    (double)(after - before) * 1024 / (double)k8s_informer_count(inf));
	k8s_informer_free(inf);
	k8s_client_free(c);
	evcurl_free(ec);
	event_base_free(base);
	kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
}

int
main(int argc, char **argv)
{
	unsigned nevents = argc > 1 ? (unsigned)atoi(argv[1]) : 20000;
	unsigned npods = argc > 2 ? (unsigned)atoi(argv[2]) : 10000;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	printf("bench/informer: %ld cores\n", sysconf(_SC_NPROCESSORS_ONLN));
	/* The informer first, so the decode stream does not inflate the RSS. */
	bench_rss(npods);
	bench_decode(nevents);
	curl_global_cleanup();
	return 0;
}
