/*
 * fuzz-k8s-watch.c: the watch stream decoder and the pod model on any
 * bytes. The input is decoded whole and again cut in two at a point
 * taken from its first byte: both must give the same events, or fail
 * at the same offset; every object the decoder hands over must be
 * valid JSON to cJSON, and pod extraction must either succeed or say
 * why. Nothing may crash, leak or read out of bounds.
 */
#include "config.h"
#include "common.h"
#include "k8s.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_log {
	char *text;
	size_t len;
};

static void
fuzz_log_add(struct fuzz_log *l, const char *s)
{
	size_t n = strlen(s);

	l->text = xrealloc(l->text, l->len + n + 1);
	memcpy(l->text + l->len, s, n + 1);
	l->len += n;
}

static int
fuzz_event(const struct k8s_watch_event *ev, void *arg)
{
	static const char *keep[] = { "paia.io/", "x", NULL };
	static const struct k8s_pod_filter f = { keep };
	struct fuzz_log *l = arg;
	struct k8s_pod *pod;
	char *cause = NULL, *line;
	cJSON *j;

	/* What the scanner accepted, cJSON accepts too. */
	j = cJSON_ParseWithLength(ev->object, ev->object_len);
	assert(j != NULL);
	cJSON_Delete(j);
	xasprintf(&line, "%s@%llu/%zu;", k8s_event_type_name(ev->type),
	    (unsigned long long)ev->offset, ev->object_len);
	fuzz_log_add(l, line);
	free(line);
	if (ev->type == K8S_EVENT_BOOKMARK)
		fuzz_log_add(l, ev->resource_version);
	else if (ev->type == K8S_EVENT_ERROR)
		fuzz_log_add(l, ev->status->message);
	else {
		pod = k8s_pod_extract(ev->object, ev->object_len, &f, &cause);
		assert((pod == NULL) != (cause == NULL));
		if (pod != NULL) {
			assert(pod->meta.name != NULL && *pod->meta.name != '\0');
			fuzz_log_add(l, pod->meta.name);
			k8s_pod_free(pod);
		}
		free(cause);
	}
	return 0;
}

static char *
fuzz_decode(const uint8_t *data, size_t size, size_t cut)
{
	struct fuzz_log l = { NULL, 0 };
	struct k8s_watch_decoder *d = k8s_watch_decoder_new(fuzz_event, &l, 1 << 20);
	char *cause = NULL;
	int r;

	fuzz_log_add(&l, "");
	r = k8s_watch_decoder_feed(d, (const char *)data, cut, &cause);
	if (r == 0)
		r = k8s_watch_decoder_feed(d, (const char *)data + cut, size - cut, &cause);
	if (r == 0)
		r = k8s_watch_decoder_finish(d, &cause);
	if (r < 0) {
		assert(cause != NULL && strstr(cause, "at byte ") != NULL);
		fuzz_log_add(&l, cause);
		free(cause);
	}
	k8s_watch_decoder_free(d);
	return l.text;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *a, *b;
	size_t cut = size > 0 ? (data[0] * 7919u) % (size + 1) : 0;

	a = fuzz_decode(data, size, size);
	b = fuzz_decode(data, size, cut);
	/*
	 * A split line is decoded from a copy, a whole one in place: the same
	 * events. (The size limit counts the same either way.)
	 */
	assert(strcmp(a, b) == 0);
	free(a);
	free(b);
	return 0;
}
