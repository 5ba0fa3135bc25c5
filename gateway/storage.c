/*
 * storage.c: downloads of programs and models, uploads of results,
 * streamed from and to disk through the shared libcurl multi handle.
 * Schemes: file:// (confined below storage.file_root), http:// and
 * https:// (TLS verified) here; s3:// in storage-s3.c, on the attempt
 * and retry machinery of this file. Transient failures (connection,
 * timeouts, 5xx, 408, 429) are retried with capped backoff and jitter;
 * permanent ones (4xx, missing file, too large) are not.
 *
 * It does not know what a task is: callers get a callback with the
 * outcome and a message that never contains credentials. The callback
 * never runs before storage_get/storage_put has returned.
 */
#include "config.h"
#include "storage-int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>

struct storage *
storage_new(struct event_base *base, struct evcurl *ec, const struct config *conf, char **cause)
{
	struct storage *s = xcalloc(1, sizeof *s);
	const char *root = config_get(conf, "storage", "file_root");
	char buf[PATH_MAX];

	s->base = base;
	s->ec = ec;
	s->conf = conf;
	s->max_download = config_get_int(conf, "storage", "max_download_bytes");
	s->retries = config_get_int(conf, "storage", "retries");
	if (root != NULL && *root != '\0') {
		if (realpath(root, buf) == NULL) {
			xasprintf(cause, "storage.file_root %s: %s", root, strerror(errno));
			free(s);
			return NULL;
		}
		s->file_root = xstrdup(buf);
	}
	if (storage_s3_configure(s, cause) != 0) {
		storage_free(s);
		return NULL;
	}
	return s;
}

void
storage_free(struct storage *s)
{
	if (s == NULL)
		return;
	free(s->file_root);
	storage_s3_unconfigure(s);
	free(s);
}

void
storage_stats(const struct storage *s, uint64_t *in, uint64_t *out, uint64_t *retries)
{
	*in = s->bytes_in;
	*out = s->bytes_out;
	*retries = s->nretries;
}

static int
storage_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * The local path of a file:// URL, or NULL with *cause. %XX escapes are
 * decoded (RFC 8089: a path with a space is file:///a%20b); a '%' not
 * followed by two hex digits stays as it is, so an operator's raw path
 * (storage.result_prefix under a state folder with a '%') still works.
 * The . and .. check is on the decoded path.
 */
static char *
storage_file_path(const struct storage *s, const char *url, char **cause)
{
	const char *p = url + strlen("file://");
	char *path, *o;
	size_t len;
	int hi, lo;

	if (strncmp(p, "localhost/", 10) == 0)
		p += 9;
	if (*p != '/') {
		xasprintf(cause, "file URL must be file:///absolute/path");
		return NULL;
	}
	if (strchr(p, '?') != NULL || strchr(p, '#') != NULL) {
		xasprintf(cause, "file URL must not contain ? or #");
		return NULL;
	}
	o = path = xmalloc(strlen(p) + 1);
	for (; *p != '\0'; p++) {
		if (*p == '%' && (hi = storage_hex(p[1])) >= 0 && (lo = storage_hex(p[2])) >= 0) {
			if ((*o++ = (char)(hi << 4 | lo)) == '\0') {
				xasprintf(cause, "file URL must not contain %%00");
				free(path);
				return NULL;
			}
			p += 2;
		} else
			*o++ = *p;
	}
	*o = '\0';
	len = strlen(path);
	if (strstr(path, "/../") != NULL || strstr(path, "/./") != NULL ||
	    (len >= 3 && strcmp(path + len - 3, "/..") == 0) ||
	    (len >= 2 && strcmp(path + len - 2, "/.") == 0)) {
		xasprintf(cause, "file URL must not contain . or .. segments");
		free(path);
		return NULL;
	}
	return path;
}

/* Is path (resolved as far as it exists) below the file root? */
static int
storage_below_root(const struct storage *s, const char *path)
{
	char buf[PATH_MAX], *copy = xstrdup(path), *slash;
	size_t n = strlen(s->file_root);
	int ok = 0;

	/* Resolve the longest existing prefix: symlinks cannot lead out. */
	for (;;) {
		if (realpath(copy, buf) != NULL) {
			ok = strncmp(buf, s->file_root, n) == 0 && (buf[n] == '/' || buf[n] == '\0');
			break;
		}
		if ((slash = strrchr(copy, '/')) == NULL || slash == copy)
			break;
		*slash = '\0';
	}
	free(copy);
	return ok;
}

int
storage_check_url(const struct storage *s, const char *url, char **cause)
{
	char *path;
	int ok;

	if (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0)
		return 0;
	if (strncmp(url, "s3://", 5) == 0)
		return storage_s3_check_url(s, url, cause);
	if (strncmp(url, "file://", 7) != 0) {
		xasprintf(cause, "unsupported URL scheme");
		return -1;
	}
	if (s->file_root == NULL) {
		xasprintf(cause, "file:// URLs are refused (storage.file_root is not set)");
		return -1;
	}
	if ((path = storage_file_path(s, url, cause)) == NULL)
		return -1;
	ok = storage_below_root(s, path);
	free(path);
	if (!ok) {
		xasprintf(cause, "file URL is outside storage.file_root (%s)", s->file_root);
		return -1;
	}
	return 0;
}


/*
 * Response bodies: a download's goes to x->fd (size-capped); any other
 * (an upload's answer, an error document) is kept in x->resp, cut at
 * STORAGE_RESP_MAX.
 */
static size_t
storage_write_cb(char *data, size_t size, size_t n, void *arg)
{
	struct storage_xfer *x = arg;
	size_t len = size * n, off = 0, keep;
	long status = 0;
	ssize_t w;

	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
	if (x->put || x->fd < 0 || status >= 400 || (x->s3 != NULL && status >= 300)) {
		keep = x->resp_len < STORAGE_RESP_MAX ? STORAGE_RESP_MAX - x->resp_len : 0;
		if (keep > len)
			keep = len;
		if (keep > 0) {
			x->resp = xrealloc(x->resp, x->resp_len + keep + 1);
			memcpy(x->resp + x->resp_len, data, keep);
			x->resp_len += keep;
			x->resp[x->resp_len] = '\0';
		}
		return len;
	}
	if (x->bytes + (off_t)len > x->s->max_download) {
		x->too_large = 1;
		return 0;
	}
	while (off < len) {
		if ((w = write(x->fd, data + off, len - off)) < 0) {
			if (errno == EINTR)
				continue;
			return 0;
		}
		off += (size_t)w;
	}
	x->bytes += (off_t)len;
	return len;
}

/* Uploads read the range [body_off, body_off + body_len) of x->fd. */
static size_t
storage_read_cb(char *buf, size_t size, size_t n, void *arg)
{
	struct storage_xfer *x = arg;
	size_t want = size * n;
	ssize_t r;

	if ((off_t)want > x->body_len - x->bytes)
		want = (size_t)(x->body_len - x->bytes);
	if (want == 0)
		return 0;
	do
		r = pread(x->fd, buf, want, x->body_off + x->bytes);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return CURL_READFUNC_ABORT;
	if (r == 0) {
		/* Shorter than announced: the server would wait for the rest. */
		x->shrank = 1;
		return CURL_READFUNC_ABORT;
	}
	x->bytes += r;
	return (size_t)r;
}

/* Keep the ETag of the last response (a 100 Continue has none). */
static size_t
storage_header_cb(char *data, size_t size, size_t n, void *arg)
{
	struct storage_xfer *x = arg;
	size_t len = size * n;
	const char *v, *end = data + len;

	if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		free(x->etag);
		x->etag = NULL;
	} else if (len > 5 && strncasecmp(data, "etag:", 5) == 0) {
		for (v = data + 5; v < end && (*v == ' ' || *v == '\t'); v++)
			;
		while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
			end--;
		free(x->etag);
		x->etag = xstrndup(v, (size_t)(end - v));
	}
	return len;
}

static void storage_attempt(struct storage_xfer *);

static void
storage_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	storage_attempt(arg);
}

void
storage_finish(struct storage_xfer *x, enum storage_result r, const char *error)
{
	storage_done_cb *cb = x->cb;
	void *arg = x->arg;

	x->cb = NULL;
	cb(x, r, error, arg);
	storage_cancel(x);
}

int
storage_curl_permanent(int code)
{
	return code == CURLE_FILE_COULDNT_READ_FILE || code == CURLE_REMOTE_FILE_NOT_FOUND ||
	    code == CURLE_UNSUPPORTED_PROTOCOL || code == CURLE_URL_MALFORMAT ||
	    code == CURLE_FILESIZE_EXCEEDED || code == CURLE_PEER_FAILED_VERIFICATION;
}

int
storage_retry(struct storage_xfer *x, enum storage_result r, const char *msg, char **final)
{
	struct timeval tv;
	uint32_t ms;

	if (r == STORAGE_TRANSIENT && x->attempt < x->s->retries) {
		ms = backoff_next(&x->bo);
		log_warn("transfer failed, retrying", "url_error=%s attempt=%lld retry_in_ms=%u",
		    log_q(msg), x->attempt + 1, ms);
		x->attempt++;
		x->s->nretries++;
		tv.tv_sec = ms / 1000;
		tv.tv_usec = (ms % 1000) * 1000;
		evtimer_add(x->timer, &tv);
		return 1;
	}
	if (r == STORAGE_TRANSIENT && x->attempt > 0)
		xasprintf(final, "%s (gave up after %lld retries)", msg, x->attempt);
	else
		*final = xstrdup(msg);
	return 0;
}

/* The end of a file:// or http(s):// request. */
static void
storage_done(void *easy, int code, void *arg)
{
	struct storage_xfer *x = arg;
	enum storage_result r;
	long status = 0;
	char *msg = NULL, *u, *final;

	x->running = 0;
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	if (x->fd >= 0) {
		close(x->fd);
		x->fd = -1;
	}
	if (code == CURLE_OK && (status < 400 || strncmp(x->url, "file:", 5) == 0)) {
		if (x->put)
			x->s->bytes_out += (uint64_t)x->bytes;
		else
			x->s->bytes_in += (uint64_t)x->bytes;
		storage_finish(x, STORAGE_OK, NULL);
		return;
	}
	u = log_redact_url(x->url);
	if (x->too_large || code == CURLE_FILESIZE_EXCEEDED) {
		xasprintf(&msg, "%s is larger than storage.max_download_bytes (%lld)", u,
		    x->s->max_download);
		r = STORAGE_PERMANENT;
	} else if (x->shrank) {
		xasprintf(&msg, "%s: %s became shorter while it was being sent", u, x->path);
		r = STORAGE_PERMANENT;
	} else if (status >= 400) {
		xasprintf(&msg, "%s: HTTP %ld", u, status);
		r = ((status >= 500 && status != 501 && status != 505) || status == 408 ||
		    status == 429) ? STORAGE_TRANSIENT : STORAGE_PERMANENT;
	} else {
		xasprintf(&msg, "%s: %s", u, x->errbuf[0] != '\0' ? x->errbuf :
		    curl_easy_strerror((CURLcode)code));
		r = storage_curl_permanent(code) ? STORAGE_PERMANENT : STORAGE_TRANSIENT;
	}
	free(u);
	if (!storage_retry(x, r, msg, &final)) {
		storage_finish(x, r, final);
		free(final);
	}
	free(msg);
}

CURL *
storage_easy_prepare(struct storage_xfer *x)
{
	const struct config *conf = x->s->conf;
	const char *ca = config_get(conf, "storage", "ca_file");
	CURL *e;

	if (x->easy == NULL)
		x->easy = curl_easy_init();
	else
		curl_easy_reset(x->easy);
	e = x->easy;
	x->bytes = 0;
	x->too_large = 0;
	x->shrank = 0;
	x->errbuf[0] = '\0';
	free(x->resp);
	x->resp = NULL;
	x->resp_len = 0;
	free(x->etag);
	x->etag = NULL;
	curl_slist_free_all(x->headers);
	x->headers = NULL;
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "paia-gateway/" PACKAGE_VERSION);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, (long)config_get_int(conf, "storage",
	    "connect_timeout_s"));
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (long)config_get_int(conf, "storage",
	    "low_speed_s"));
	if (ca != NULL && *ca != '\0')
		curl_easy_setopt(e, CURLOPT_CAINFO, ca);
	curl_easy_setopt(e, CURLOPT_MAX_SEND_SPEED_LARGE,
	    (curl_off_t)config_get_int(conf, "storage", "upload_limit_kib_s") * 1024);
	curl_easy_setopt(e, CURLOPT_MAX_RECV_SPEED_LARGE,
	    (curl_off_t)config_get_int(conf, "storage", "download_limit_kib_s") * 1024);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, storage_write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_READFUNCTION, storage_read_cb);
	curl_easy_setopt(e, CURLOPT_READDATA, x);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, storage_header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
	return e;
}

void
storage_easy_start(struct storage_xfer *x, void (*done)(void *, int, void *))
{
	x->running = 1;
	evcurl_add(x->s->ec, x->easy, done, x);
}

static void
storage_attempt(struct storage_xfer *x)
{
	CURL *e;
	char *cause = NULL, *path = NULL;
	off_t size;

	if (strncmp(x->url, "s3://", 5) == 0) {
		storage_s3_attempt(x);
		return;
	}
	e = storage_easy_prepare(x);
	if (x->put) {
		if (strncmp(x->url, "file://", 7) == 0 &&
		    (path = storage_file_path(x->s, x->url, &cause)) != NULL) {
			char *slash = strrchr(path, '/');
			*slash = '\0';
			if (util_mkdirs(path, 0755, &cause) != 0) {
				storage_finish(x, STORAGE_TRANSIENT, cause);
				free(cause);
				free(path);
				return;
			}
		}
		free(path);
		free(cause);
		x->fd = open(x->path, O_RDONLY | O_CLOEXEC);
	} else
		x->fd = open(x->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (x->fd < 0) {
		xasprintf(&cause, "%s: %s", x->path, strerror(errno));
		storage_finish(x, STORAGE_PERMANENT, cause);
		free(cause);
		return;
	}
	curl_easy_setopt(e, CURLOPT_URL, x->url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "file,http,https");
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	if (x->put) {
		size = util_file_size(x->path);
		x->body_off = 0;
		x->body_len = size < 0 ? 0 : size;
		curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)x->body_len);
		if (x->content_type != NULL) {
			char *h;
			xasprintf(&h, "Content-Type: %s", x->content_type);
			x->headers = curl_slist_append(NULL, h);
			free(h);
		}
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->headers);
	} else {
		curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(e, CURLOPT_MAXREDIRS, 5L);
		curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x->s->max_download);
	}
	storage_easy_start(x, storage_done);
}

static struct storage_xfer *
storage_xfer_new(struct storage *s, int put, const char *url, const char *path,
    const char *ctype, storage_done_cb *cb, void *arg)
{
	struct storage_xfer *x = xcalloc(1, sizeof *x);
	struct timeval now = { 0, 0 };

	x->s = s;
	x->put = put;
	x->url = xstrdup(url);
	x->path = xstrdup(path);
	x->content_type = ctype;
	x->fd = -1;
	x->cb = cb;
	x->arg = arg;
	backoff_init(&x->bo, (uint32_t)config_get_int(s->conf, "storage", "backoff_ms"),
	    (uint32_t)config_get_int(s->conf, "storage", "backoff_max_ms"),
	    (uint64_t)util_mono_ms() ^ (uint64_t)(uintptr_t)x);
	x->timer = evtimer_new(s->base, storage_retry_cb, x);
	/*
	 * The first attempt runs from the loop, not from here: a failure at
	 * once (a file that cannot be opened, a bad s3:// URL) must not call
	 * the owner back before it has the handle we return.
	 */
	evtimer_add(x->timer, &now);
	return x;
}

struct storage_xfer *
storage_get(struct storage *s, const char *url, const char *path, storage_done_cb *cb, void *arg)
{
	return storage_xfer_new(s, 0, url, path, NULL, cb, arg);
}

struct storage_xfer *
storage_put(struct storage *s, const char *path, const char *url, const char *ctype,
    storage_done_cb *cb, void *arg)
{
	return storage_xfer_new(s, 1, url, path, ctype, cb, arg);
}

void
storage_cancel(struct storage_xfer *x)
{
	if (x == NULL)
		return;
	if (x->easy != NULL) {
		if (x->running)
			evcurl_remove(x->s->ec, x->easy);
		curl_easy_cleanup(x->easy);
		x->easy = NULL;
	}
	if (x->timer != NULL) {
		event_free(x->timer);
		x->timer = NULL;
	}
	if (x->fd >= 0)
		close(x->fd);
	storage_s3_free(x->s3);
	curl_slist_free_all(x->headers);
	free(x->resp);
	free(x->etag);
	free(x->url);
	free(x->path);
	free(x);
}
