/*
 * test-k8s-watch.c: the watch stream decoder (k8s/watch.c) and the pod
 * model (k8s/pod.c) on a recorded stream of game pods
 * (tests/k8s/data/watch-pods.jsonl, see make-watch-sample.py there):
 * the stream split at every byte position, fed a byte at a time and in
 * random chunks must decode to the same transcript as the whole; a
 * 12 MB object; bookmarks; ERROR 410; malformed lines named by offset;
 * the pod fields checked against a full cJSON parse of the same JSON.
 *
 * Does not talk HTTP (tests/k8s/informer.sh does).
 */
#include "config.h"
#include "common.h"
#include "k8s.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <cmocka.h>

static const char *annotations_kept[] = { "paia.io/", NULL };
static const struct k8s_pod_filter filter = { annotations_kept };

struct transcript {
	char *text;
	size_t len, cap;
	int stop_after;		/* stop when this many events were seen (0: never) */
	int n;
};

static void
tr_add(struct transcript *t, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = xvasprintf(&s, fmt, ap);
	va_end(ap);
	if (t->len + (size_t)n + 1 > t->cap) {
		t->cap = (t->len + (size_t)n + 1) * 2;
		t->text = xrealloc(t->text, t->cap);
	}
	memcpy(t->text + t->len, s, (size_t)n + 1);
	t->len += (size_t)n;
	free(s);
}

#define S(x) ((x) != NULL ? (x) : "(null)")

static void
tr_pod(struct transcript *t, const struct k8s_pod *p)
{
	size_t i;

	tr_add(t, " ns=%s name=%s uid=%s rv=%s del=%s node=%s phase=%s reason=%s msg=%s "
	    "sched=%s/%s/%s", p->meta.namespace, S(p->meta.name), S(p->meta.uid),
	    S(p->meta.resource_version), S(p->meta.deletion_timestamp), S(p->node_name),
	    S(p->phase), S(p->reason), S(p->message), S(p->scheduled_status),
	    S(p->scheduled_reason), S(p->scheduled_message));
	for (i = 0; i < p->nlabels; i++)
		tr_add(t, " label[%s]=%s", p->labels[i].key, p->labels[i].value);
	for (i = 0; i < p->nannotations; i++)
		tr_add(t, " ann[%s]=%s", p->annotations[i].key, p->annotations[i].value);
	for (i = 0; i < p->ncontainers; i++) {
		const struct k8s_container_state *c = &p->containers[i];
		tr_add(t, " c[%s ready=%d restarts=%d w=%s/%s run=%d term=%d exit=%d tr=%s]",
		    S(c->name), c->ready, c->restart_count, S(c->waiting_reason),
		    S(c->waiting_message), c->running, c->terminated, c->exit_code,
		    S(c->terminated_reason));
	}
}

static int
tr_event(const struct k8s_watch_event *ev, void *arg)
{
	struct transcript *t = arg;
	struct k8s_pod *p;
	char *cause = NULL;

	tr_add(t, "%s@%llu len=%zu", k8s_event_type_name(ev->type),
	    (unsigned long long)ev->offset, ev->object_len);
	switch (ev->type) {
	case K8S_EVENT_BOOKMARK:
		tr_add(t, " rv=%s", ev->resource_version);
		break;
	case K8S_EVENT_ERROR:
		tr_add(t, " code=%d reason=%s message=%s", ev->status->code, ev->status->reason,
		    ev->status->message);
		break;
	default:
		p = k8s_pod_extract(ev->object, ev->object_len, &filter, &cause);
		if (p == NULL) {
			tr_add(t, " extract-error=%s", cause);
			free(cause);
		} else {
			tr_pod(t, p);
			k8s_pod_free(p);
		}
	}
	tr_add(t, "\n");
	t->n++;
	return t->stop_after > 0 && t->n >= t->stop_after;
}

static char *sample;
static size_t sample_len;

static int
load_sample(void **state)
{
	const char *src = getenv("SRCDIR");
	char path[4096], *cause = NULL;

	snprintf(path, sizeof path, "%s/tests/k8s/data/watch-pods.jsonl", src != NULL ? src : ".");
	sample = util_read_file(path, 16 << 20, &sample_len, &cause);
	if (sample == NULL) {
		fprintf(stderr, "%s\n", cause);
		return -1;
	}
	return 0;
}

static int
free_sample(void **state)
{
	free(sample);
	return 0;
}

/* Decode data fed in the given chunk lengths (the rest in one chunk). */
static char *
decode_chunks(const char *data, size_t len, const size_t *chunks, size_t nchunks, int *rc)
{
	struct transcript t = { NULL, 0, 0, 0, 0 };
	struct k8s_watch_decoder *d = k8s_watch_decoder_new(tr_event, &t, 0);
	char *cause = NULL;
	size_t off = 0, i, n;
	int r = 0;

	tr_add(&t, "");
	for (i = 0; i <= nchunks && r == 0 && off < len; i++) {
		n = i < nchunks ? chunks[i] : len - off;
		if (n > len - off)
			n = len - off;
		r = k8s_watch_decoder_feed(d, data + off, n, &cause);
		off += n;
	}
	if (r == 0)
		r = k8s_watch_decoder_finish(d, &cause);
	if (r < 0) {
		tr_add(&t, "FAILED: %s\n", cause);
		free(cause);
	}
	*rc = r;
	k8s_watch_decoder_free(d);
	return t.text;
}

static void
test_sample_whole(void **state)
{
	char *tr;
	int rc;

	tr = decode_chunks(sample, sample_len, NULL, 0, &rc);
	assert_int_equal(rc, 0);
	/* 15 events: ADDED, 3 MODIFIED, BOOKMARK, ..., DELETED, BOOKMARK, ERROR. */
	assert_non_null(strstr(tr, "ADDED@0 "));
	assert_null(strstr(tr, "extract-error"));
	assert_non_null(strstr(tr, "sched=False/Unschedulable/0/3 nodes are available: 3 "
	    "Insufficient nvidia.com/gpu."));
	assert_non_null(strstr(tr, "ann[paia.io/game]=snake & ladders"));
	assert_null(strstr(tr, "last-applied-configuration"));
	assert_non_null(strstr(tr, "w=ImagePullBackOff/Back-off pulling image "
	    "\"registry.local/paiagym:3.2.1\": ErrImagePull: <rpc error> \xc3\xa9"));
	assert_non_null(strstr(tr, "term=1 exit=0 tr=Completed"));
	assert_non_null(strstr(tr, "term=1 exit=137 tr=OOMKilled"));
	assert_non_null(strstr(tr, "phase=Failed reason=Evicted msg=The node was low"));
	assert_non_null(strstr(tr, "ann[paia.io/game]=maze \xf0\x9f\x98\x80 <hard>"));
	assert_non_null(strstr(tr, "del=2026-11-28T10:06:00Z"));
	assert_non_null(strstr(tr, "\nDELETED@"));
	assert_non_null(strstr(tr, "BOOKMARK@"));
	assert_non_null(strstr(tr, "rv=1031\n"));
	assert_non_null(strstr(tr, "ERROR@"));
	assert_non_null(strstr(tr, "code=410 reason=Expired message=too old resource version: "
	    "1007 (1120)\n"));
	assert_null(strstr(tr, "FAILED"));
	{
		size_t lines = 0;
		const char *p;
		for (p = tr; *p != '\0'; p++)
			lines += *p == '\n';
		assert_int_equal(lines, 15);
	}
	free(tr);
}

static void
test_sample_every_split(void **state)
{
	char *whole, *tr;
	size_t i, cut[1];
	int rc;

	whole = decode_chunks(sample, sample_len, NULL, 0, &rc);
	for (i = 0; i <= sample_len; i++) {
		cut[0] = i;
		tr = decode_chunks(sample, sample_len, cut, 1, &rc);
		assert_int_equal(rc, 0);
		if (strcmp(tr, whole) != 0)
			fail_msg("split at byte %zu decodes differently", i);
		free(tr);
	}
	free(whole);
}

static void
test_sample_bytewise_and_random(void **state)
{
	char *whole, *tr;
	size_t *cuts = xcalloc(sample_len, sizeof *cuts), i, n, sum;
	uint64_t rng = 42;
	int rc, round;

	whole = decode_chunks(sample, sample_len, NULL, 0, &rc);
	for (i = 0; i < sample_len; i++)
		cuts[i] = 1;
	tr = decode_chunks(sample, sample_len, cuts, sample_len, &rc);
	assert_string_equal(tr, whole);
	free(tr);
	for (round = 0; round < 300; round++) {
		size_t maxc = round % 3 == 0 ? 8 : round % 3 == 1 ? 700 : 9000;
		for (n = 0, sum = 0; sum < sample_len; n++) {
			rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
			cuts[n] = 1 + (size_t)((rng >> 33) % maxc);
			sum += cuts[n];
		}
		tr = decode_chunks(sample, sample_len, cuts, n, &rc);
		if (strcmp(tr, whole) != 0)
			fail_msg("random chunking round %d decodes differently", round);
		free(tr);
	}
	free(cuts);
	free(whole);
}

/* The scanner's pod against cJSON's full parse of the same objects. */
static void
test_pod_matches_cjson(void **state)
{
	const char *p = sample, *nl;
	int checked = 0;

	while ((nl = memchr(p, '\n', (size_t)(sample + sample_len - p))) != NULL) {
		cJSON *ev = cJSON_ParseWithLength(p, (size_t)(nl - p)), *o, *md, *st, *x;
		char *text, *cause = NULL;
		struct k8s_pod *pod;

		assert_non_null(ev);
		o = cJSON_GetObjectItem(ev, "object");
		if (strcmp(cJSON_GetObjectItem(o, "kind")->valuestring, "Pod") != 0 ||
		    strcmp(cJSON_GetObjectItem(ev, "type")->valuestring, "BOOKMARK") == 0) {
			cJSON_Delete(ev);
			p = nl + 1;
			continue;
		}
		text = cJSON_PrintUnformatted(o);
		pod = k8s_pod_extract(text, strlen(text), &filter, &cause);
		assert_non_null(pod);
		md = cJSON_GetObjectItem(o, "metadata");
		st = cJSON_GetObjectItem(o, "status");
		assert_string_equal(pod->meta.name, cJSON_GetObjectItem(md, "name")->valuestring);
		assert_string_equal(pod->meta.uid, cJSON_GetObjectItem(md, "uid")->valuestring);
		assert_string_equal(pod->meta.resource_version,
		    cJSON_GetObjectItem(md, "resourceVersion")->valuestring);
		assert_string_equal(pod->phase, cJSON_GetObjectItem(st, "phase")->valuestring);
		assert_int_equal(pod->nlabels,
		    cJSON_GetArraySize(cJSON_GetObjectItem(md, "labels")));
		assert_string_equal(k8s_pod_label(pod, "paia.io/task-id"), cJSON_GetObjectItem(
		    cJSON_GetObjectItem(md, "labels"), "paia.io/task-id")->valuestring);
		assert_string_equal(k8s_pod_annotation(pod, "paia.io/game"), cJSON_GetObjectItem(
		    cJSON_GetObjectItem(md, "annotations"), "paia.io/game")->valuestring);
		assert_null(k8s_pod_annotation(pod, "kubectl.kubernetes.io/last-applied-configuration"));
		if ((x = cJSON_GetObjectItem(cJSON_GetObjectItem(o, "spec"), "nodeName")) != NULL)
			assert_string_equal(pod->node_name, x->valuestring);
		else
			assert_null(pod->node_name);
		if ((x = cJSON_GetObjectItem(st, "containerStatuses")) != NULL)
			assert_int_equal(pod->ncontainers, cJSON_GetArraySize(x));
		k8s_pod_free(pod);
		free(text);
		cJSON_Delete(ev);
		checked++;
		p = nl + 1;
	}
	assert_int_equal(checked, 12);
}

static void
test_huge_object(void **state)
{
	struct transcript t = { NULL, 0, 0, 0, 0 };
	struct k8s_watch_decoder *d = k8s_watch_decoder_new(tr_event, &t, 0);
	size_t big = 12u << 20, len, off;
	char *ev, *cause = NULL, *p;
	int r = 0;

	/* An annotation of 12 MB inside a pod, with escapes all along. */
	ev = xmalloc(big / 8 * 11 + 4096);
	p = ev + sprintf(ev, "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"huge\","
	    "\"namespace\":\"ns\",\"resourceVersion\":\"77\",\"annotations\":{\"paia.io/blob\":\"");
	for (off = 0; off < big; off += 8) {
		memcpy(p, "ab\\u0026c\\\"", 11);
		p += 11;
	}
	p += sprintf(p, "\"}},\"status\":{\"phase\":\"Running\"}}}\n");
	len = (size_t)(p - ev);
	for (off = 0; off < len && r == 0; off += 4093)
		r = k8s_watch_decoder_feed(d, ev + off, len - off < 4093 ? len - off : 4093, &cause);
	assert_int_equal(r, 0);
	assert_int_equal(k8s_watch_decoder_finish(d, &cause), 0);
	assert_non_null(t.text);
	assert_non_null(strstr(t.text, "ADDED@0 len="));
	assert_non_null(strstr(t.text, "name=huge"));
	assert_non_null(strstr(t.text, "phase=Running"));
	assert_non_null(strstr(t.text, "ann[paia.io/blob]=ab&c\"ab&c\""));
	assert_int_equal(k8s_watch_decoder_offset(d), len);
	free(t.text);
	k8s_watch_decoder_free(d);

	/* Over a small limit: refused, naming the offset. */
	memset(&t, 0, sizeof t);
	d = k8s_watch_decoder_new(tr_event, &t, 1 << 20);
	r = 0;
	for (off = 0; off < len && r == 0; off += 65536)
		r = k8s_watch_decoder_feed(d, ev + off, len - off < 65536 ? len - off : 65536, &cause);
	assert_int_equal(r, -1);
	assert_non_null(strstr(cause, "at byte 0: event larger than the limit"));
	free(cause);
	k8s_watch_decoder_free(d);
	free(t.text);
	free(ev);
}

struct malformed_case {
	const char *stream;
	const char *error;
};

static void
test_malformed(void **state)
{
	static const struct malformed_case cases[] = {
		/* The second event starts at byte 37; its error is 37 bytes in. */
		{ "{\"type\":\"ADDED\",\"object\":{\"a\":1}}\n\n\n\n{\"type\":\"ADDED\",\"object\":"
		  "{\"metadata\":}}\n", "watch event at byte 74: value expected" },
		{ "{\"type\":\"ADDED\",\"object\":{\"a\":[1,2}}\n", "at byte 34: ',' or ']' expected" },
		{ "not json\n", "at byte 0: object expected" },
		{ "{\"type\":\"EXPLODED\",\"object\":{}}\n", "at byte 8: unknown event type" },
		{ "{\"object\":{}}\n", "at byte 0: event has no type" },
		{ "{\"type\":\"ADDED\"}\n", "at byte 0: event has no object" },
		{ "{\"type\":\"ADDED\",\"object\":{}} x\n", "at byte 29: data after the event" },
		{ "{\"type\":\"ADDED\",\"object\":{\"s\":\"abc}}\n", "unterminated string" },
		{ "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{}}}\n",
		  "bookmark without metadata.resourceVersion" },
		{ "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Pod\"}}\n",
		  "ERROR event without a Status object" },
		{ "{\"type\":\"ADDED\",\"object\":{\"a\":tru}}\n", "at byte 30: invalid literal" },
		{ "{\"type\":\"ADDED\",\"object\":{\"a\":01}}\n", "',' or '}' expected" },
		{ "{\"type\":\"ADDED\",\"object\":{\"a\":1}", "at byte 0: stream ended inside an event" },
	};
	size_t i;

	for (i = 0; i < nitems(cases); i++) {
		char *tr;
		int rc;

		tr = decode_chunks(cases[i].stream, strlen(cases[i].stream), NULL, 0, &rc);
		if (rc != -1 || strstr(tr, cases[i].error) == NULL)
			fail_msg("case %zu: rc %d, transcript %s", i, rc, tr);
		free(tr);
	}
}

static void
test_deep_nesting(void **state)
{
	size_t depth = 100000, i;
	char *s = xmalloc(depth * 2 + 64), *tr, *p = s;
	int rc;

	p += sprintf(p, "{\"type\":\"ADDED\",\"object\":{\"a\":");
	for (i = 0; i < depth; i++)
		*p++ = '[';
	for (i = 0; i < depth; i++)
		*p++ = ']';
	p += sprintf(p, "}}\n");
	tr = decode_chunks(s, (size_t)(p - s), NULL, 0, &rc);
	assert_int_equal(rc, -1);
	assert_non_null(strstr(tr, "nested too deep"));
	free(tr);
	free(s);
}

static void
test_stop_and_lenient_end(void **state)
{
	const char *two = "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"5\"}}}\r\n"
	    "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"6\"}}}";
	struct transcript t = { NULL, 0, 0, 1, 0 };
	struct k8s_watch_decoder *d = k8s_watch_decoder_new(tr_event, &t, 0);
	char *cause = NULL, *tr;
	int rc;

	/* The callback stops the decoder after one event. */
	assert_int_equal(k8s_watch_decoder_feed(d, two, strlen(two), &cause), 1);
	assert_int_equal(t.n, 1);
	k8s_watch_decoder_free(d);
	free(t.text);
	/* A last event without its newline is accepted when whole. */
	tr = decode_chunks(two, strlen(two), NULL, 0, &rc);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(tr, "rv=5\n"));
	assert_non_null(strstr(tr, "rv=6\n"));
	free(tr);
}

static void
test_pod_edge_cases(void **state)
{
	/* Escapes, surrogate pairs, nulls, duplicate keys, members in any order. */
	const char *json = "{\"status\":{\"phase\":\"Pending\",\"conditions\":null,"
	    "\"containerStatuses\":[{\"state\":{\"waiting\":null,\"terminated\":{\"exitCode\":-1,"
	    "\"reason\":\"Error\"}},\"name\":\"g\",\"ready\":null}]},\"metadata\":{\"labels\":"
	    "{\"a\\/b\":\"\\ud83d\\ude00\",\"n\":null},\"name\":\"x\",\"namespace\":null,"
	    "\"deletionTimestamp\":null,\"annotations\":null,\"name\":\"y\"},\"spec\":null}";
	struct k8s_pod *p;
	char *cause = NULL;

	p = k8s_pod_extract(json, strlen(json), NULL, &cause);
	assert_non_null(p);
	assert_string_equal(p->meta.name, "y");
	assert_string_equal(p->meta.namespace, "");
	assert_null(p->meta.deletion_timestamp);
	assert_int_equal(p->nlabels, 1);
	assert_string_equal(k8s_pod_label(p, "a/b"), "\xf0\x9f\x98\x80");
	assert_int_equal(p->ncontainers, 1);
	assert_int_equal(p->containers[0].exit_code, -1);
	assert_int_equal(p->containers[0].terminated, 1);
	assert_null(p->containers[0].waiting_reason);
	k8s_pod_free(p);

	assert_null(k8s_pod_extract("{\"metadata\":{}}", 15, NULL, &cause));
	assert_non_null(strstr(cause, "metadata.name missing"));
	free(cause);
	assert_null(k8s_pod_extract("{\"metadata\":{\"name\":\"\\ud800\"}}", 29, NULL, &cause));
	assert_non_null(strstr(cause, "unpaired surrogate"));
	free(cause);
	assert_null(k8s_pod_extract("{\"metadata\":{\"name\":\"a\\u0000\"}}", 31, NULL, &cause));
	assert_non_null(strstr(cause, "NUL in string"));
	free(cause);
	assert_null(k8s_pod_extract("{\"metadata\":{\"name\":\"a\"}} {}", 28, NULL, &cause));
	assert_non_null(strstr(cause, "trailing data"));
	free(cause);
}

static void
test_status_decode(void **state)
{
	const char *forbidden = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
	    "\"status\":\"Failure\",\"message\":\"pods is forbidden: User \\\"system:serviceaccount:"
	    "paia:gw\\\" cannot watch resource \\\"pods\\\" in API group \\\"\\\" in the namespace "
	    "\\\"paia\\\"\",\"reason\":\"Forbidden\",\"details\":{\"kind\":\"pods\"},\"code\":403}";
	struct k8s_status st = { 0, NULL, NULL };

	assert_int_equal(k8s_status_decode(forbidden, strlen(forbidden), &st), 0);
	assert_int_equal(st.code, 403);
	assert_string_equal(st.reason, "Forbidden");
	assert_string_equal(st.message, "pods is forbidden: User \"system:serviceaccount:paia:gw\" "
	    "cannot watch resource \"pods\" in API group \"\" in the namespace \"paia\"");
	k8s_status_clear(&st);
	assert_int_equal(k8s_status_decode("{\"kind\":\"Pod\"}", 14, &st), -1);
	assert_int_equal(k8s_status_decode("[]", 2, &st), -1);
	assert_int_equal(k8s_status_decode("{\"code\":500}", 12, &st), 0);
	assert_int_equal(st.code, 500);
	assert_string_equal(st.message, "");
	k8s_status_clear(&st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sample_whole),
		cmocka_unit_test(test_sample_every_split),
		cmocka_unit_test(test_sample_bytewise_and_random),
		cmocka_unit_test(test_pod_matches_cjson),
		cmocka_unit_test(test_huge_object),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_stop_and_lenient_end),
		cmocka_unit_test(test_pod_edge_cases),
		cmocka_unit_test(test_status_decode),
	};

	return cmocka_run_group_tests(tests, load_sample, free_sample);
}
