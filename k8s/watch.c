/*
 * watch.c: the watch stream decoder. A watch body is newline-delimited
 * JSON, one {"type": ..., "object": {...}} per line, arriving in chunks
 * cut anywhere. Lines are found with memchr over the new bytes only;
 * a line wholly inside a chunk is decoded in place, and only a line
 * split across chunks is gathered in a buffer that grows geometrically,
 * so megabyte objects cost linear time. The event's object is located
 * (its syntax checked) but not decoded: the consumer extracts what it
 * keeps. BOOKMARK events carry only metadata.resourceVersion, which is
 * decoded here; ERROR events carry a Status.
 *
 * It does not talk HTTP (informer.c feeds it) nor know any kind.
 */
#include "config.h"
#include "common.h"
#include "k8s.h"
#include "k8s-int.h"

#include <stdlib.h>
#include <string.h>

#define WATCH_MAX_LINE (128u << 20)
/* A gathering buffer above this is released after its line. */
#define WATCH_KEEP_BUF (1u << 20)

struct k8s_watch_decoder {
	k8s_watch_event_cb *cb;
	void *arg;
	size_t max_line;
	struct kbuf line;	/* the partial line, when split */
	uint64_t offset;	/* stream bytes consumed before line / data */
	int failed;
	struct kbuf rv;
};

static const char *watch_types[] = { "ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR" };

const char *
k8s_event_type_name(enum k8s_event_type t)
{
	return (size_t)t < nitems(watch_types) ? watch_types[t] : "?";
}

struct k8s_watch_decoder *
k8s_watch_decoder_new(k8s_watch_event_cb *cb, void *arg, size_t max_line)
{
	struct k8s_watch_decoder *d = xcalloc(1, sizeof *d);

	d->cb = cb;
	d->arg = arg;
	d->max_line = max_line != 0 ? max_line : WATCH_MAX_LINE;
	return d;
}

void
k8s_watch_decoder_free(struct k8s_watch_decoder *d)
{
	if (d == NULL)
		return;
	kbuf_free(&d->line);
	kbuf_free(&d->rv);
	free(d);
}

void
k8s_watch_decoder_reset(struct k8s_watch_decoder *d)
{
	d->line.len = 0;
	d->offset = 0;
	d->failed = 0;
}

uint64_t
k8s_watch_decoder_offset(const struct k8s_watch_decoder *d)
{
	return d->offset + d->line.len;
}

/* metadata.resourceVersion of a bookmark's object into d->rv. */
static const char *
watch_bookmark_rv(struct k8s_watch_decoder *d, struct kjson *j, const char *p, size_t *off)
{
	const char *k;
	size_t kl;
	int r, r2, n = 0, m = 0;

	*off = (size_t)-1;
	if (kjson_obj_begin(j, &p) != 0)
		return NULL;
	while ((r = kjson_obj_next(j, &p, &n, &k, &kl)) == 1) {
		if (!KJSON_KEY(k, kl, "metadata")) {
			if ((p = kjson_skip(j, p)) == NULL)
				return NULL;
			continue;
		}
		if (kjson_obj_begin(j, &p) != 0)
			return NULL;
		while ((r2 = kjson_obj_next(j, &p, &m, &k, &kl)) == 1) {
			if (KJSON_KEY(k, kl, "resourceVersion")) {
				d->rv.len = 0;
				p = kjson_string(j, p, &d->rv, off);
			} else
				p = kjson_skip(j, p);
			if (p == NULL)
				return NULL;
		}
		if (r2 != 0)
			return NULL;
	}
	return r == 0 ? p : NULL;
}

static int
watch_fail(struct k8s_watch_decoder *d, uint64_t off, const char *why, char **cause)
{
	d->failed = 1;
	if (cause != NULL)
		xasprintf(cause, "watch event at byte %llu: %s", (unsigned long long)off, why);
	return -1;
}

/* Decode one line [p, p+len) that starts at stream offset off. */
static int
watch_line(struct k8s_watch_decoder *d, const char *line, size_t len, uint64_t off,
    char **cause)
{
	struct k8s_watch_event ev;
	struct k8s_status st;
	struct kjson j;
	const char *p = line, *k, *type = NULL, *obj = NULL, *obj_end = NULL;
	size_t kl, typelen = 0, rvoff;
	int r, n = 0;
	char why[128];

	kjson_init(&j, line, len);
	p = kjson_ws(&j, p);
	if (p == j.end)
		return 0;	/* blank line */
	if (kjson_obj_begin(&j, &p) != 0)
		goto bad;
	while ((r = kjson_obj_next(&j, &p, &n, &k, &kl)) == 1) {
		if (KJSON_KEY(k, kl, "type")) {
			if (p >= j.end || *p != '"') {
				kjson_fail(&j, p, "type is not a string");
				goto bad;
			}
			type = p + 1;
			if ((p = kjson_string_end(&j, p, NULL)) == NULL)
				goto bad;
			typelen = (size_t)(p - 1 - type);
		} else if (KJSON_KEY(k, kl, "object")) {
			obj = p;
			if ((p = kjson_skip(&j, p)) == NULL)
				goto bad;
			obj_end = p;
		} else if ((p = kjson_skip(&j, p)) == NULL)
			goto bad;
	}
	if (r != 0)
		goto bad;
	if ((p = kjson_ws(&j, p)) != j.end) {
		kjson_fail(&j, p, "data after the event");
		goto bad;
	}
	if (type == NULL) {
		kjson_fail(&j, line, "event has no type");
		goto bad;
	}
	if (obj == NULL || *obj != '{') {
		kjson_fail(&j, obj != NULL ? obj : line, "event has no object");
		goto bad;
	}
	memset(&ev, 0, sizeof ev);
	ev.object = obj;
	ev.object_len = (size_t)(obj_end - obj);
	ev.offset = off;
	for (ev.type = 0; (size_t)ev.type < nitems(watch_types); ev.type++) {
		if (strlen(watch_types[ev.type]) == typelen &&
		    memcmp(watch_types[ev.type], type, typelen) == 0)
			break;
	}
	switch (ev.type) {
	case K8S_EVENT_ADDED:
	case K8S_EVENT_MODIFIED:
	case K8S_EVENT_DELETED:
		return d->cb(&ev, d->arg) != 0 ? 1 : 0;
	case K8S_EVENT_BOOKMARK:
		if (watch_bookmark_rv(d, &j, obj, &rvoff) == NULL)
			goto bad;
		if (rvoff == (size_t)-1) {
			kjson_fail(&j, obj, "bookmark without metadata.resourceVersion");
			goto bad;
		}
		ev.resource_version = d->rv.p + rvoff;
		return d->cb(&ev, d->arg) != 0 ? 1 : 0;
	case K8S_EVENT_ERROR:
		memset(&st, 0, sizeof st);
		if (k8s_status_scan(obj, ev.object_len, &st) != 0) {
			kjson_fail(&j, obj, "ERROR event without a Status object");
			goto bad;
		}
		ev.status = &st;
		r = d->cb(&ev, d->arg) != 0 ? 1 : 0;
		k8s_status_clear(&st);
		return r;
	default:
		kjson_fail(&j, type - 1, "unknown event type");
		goto bad;
	}
bad:
	snprintf(why, sizeof why, "%s", j.err != NULL ? j.err : "malformed");
	return watch_fail(d, off + (uint64_t)(j.err_at != NULL ? j.err_at - line : 0), why, cause);
}

int
k8s_watch_decoder_feed(struct k8s_watch_decoder *d, const char *data, size_t len, char **cause)
{
	const char *nl;
	size_t n;
	uint64_t start;
	int r;

	if (d->failed)
		return watch_fail(d, k8s_watch_decoder_offset(d), "decoder already failed", cause);
	while (len > 0) {
		nl = memchr(data, '\n', len);
		if (d->line.len == 0) {
			if (nl == NULL)
				goto partial;
			/* A whole line inside this chunk: decoded in place. */
			n = (size_t)(nl - data);
			if (n > d->max_line)
				return watch_fail(d, d->offset, "event larger than the limit", cause);
			start = d->offset;
			d->offset += n + 1;
			if ((r = watch_line(d, data, n, start, cause)) != 0)
				return r;
			data += n + 1;
			len -= n + 1;
			continue;
		}
		if (nl == NULL)
			goto partial;
		n = (size_t)(nl - data);
		if (d->line.len + n > d->max_line)
			return watch_fail(d, d->offset, "event larger than the limit", cause);
		kbuf_add(&d->line, data, n);
		data += n + 1;
		len -= n + 1;
		start = d->offset;
		d->offset += d->line.len + 1;
		n = d->line.len;
		d->line.len = 0;
		r = watch_line(d, d->line.p, n, start, cause);
		if (d->line.cap > WATCH_KEEP_BUF)
			kbuf_free(&d->line);
		if (r != 0)
			return r;
		continue;
	partial:
		if (d->line.len + len > d->max_line)
			return watch_fail(d, d->offset, "event larger than the limit", cause);
		kbuf_add(&d->line, data, len);
		break;
	}
	return 0;
}

int
k8s_watch_decoder_finish(struct k8s_watch_decoder *d, char **cause)
{
	struct kjson j;
	const char *p;
	uint64_t start;
	size_t n;
	int r;

	if (d->failed)
		return watch_fail(d, k8s_watch_decoder_offset(d), "decoder already failed", cause);
	if (d->line.len == 0)
		return 0;
	kjson_init(&j, d->line.p, d->line.len);
	p = kjson_ws(&j, d->line.p);
	if (p == j.end) {
		d->offset += d->line.len;
		d->line.len = 0;
		return 0;
	}
	/* A last event without its newline is whole only if it decodes. */
	start = d->offset;
	n = d->line.len;
	d->offset += n;
	d->line.len = 0;
	r = watch_line(d, d->line.p, n, start, cause);
	if (r < 0) {
		if (cause != NULL) {
			free(*cause);
			*cause = NULL;
		}
		return watch_fail(d, start, "stream ended inside an event", cause);
	}
	return r;
}
