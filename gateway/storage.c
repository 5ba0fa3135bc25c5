/*
 * storage.c: downloads of programs and models, uploads of results,
 * streamed from and to file descriptors the caller opened and checked
 * (never a path: a task folder is user-written, see taskdir.c), through
 * the shared libcurl multi handle. Schemes: http:// and https:// (TLS
 * verified) here; file:// (confined below storage.file_root) in
 * storage-file.c and s3:// in storage-s3.c, on the attempt, retry and
 * deadline machinery of this file. Transient failures (connection,
 * timeouts, 5xx, 408, 429) are retried with capped backoff and jitter;
 * permanent ones (other 3xx and 4xx, a redirect loop, a missing file,
 * too large) are not, nor failures of this host (a full disk: the
 * message says so) nor a transfer past its deadline. An upload's sha256
 * is computed from the bytes as they are sent.
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
	s->root_fd = -1;
	s->max_download = config_get_int(conf, "storage", "max_download_bytes");
	s->retries = config_get_int(conf, "storage", "retries");
	if (root != NULL && *root != '\0') {
		if (realpath(root, buf) == NULL) {
			xasprintf(cause, "storage.file_root %s: %s", root, strerror(errno));
			free(s);
			return NULL;
		}
		s->file_root = xstrdup(buf);
		/* URLs may spell the root as configured (a link to it, say). */
		if (*root == '/') {
			size_t n = strlen(root);

			while (n > 1 && root[n - 1] == '/')
				n--;
			if (strlen(buf) != n || strncmp(buf, root, n) != 0)
				s->file_root_given = xstrndup(root, n);
		}
		if ((s->root_fd = open(buf, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) {
			xasprintf(cause, "storage.file_root %s: %s", root, strerror(errno));
			free(s->file_root);
			free(s->file_root_given);
			free(s);
			return NULL;
		}
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
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < nitems(s->dirs); i++)
		free(s->dirs[i]);
	free(s->file_root);
	free(s->file_root_given);
	if (s->root_fd >= 0)
		close(s->root_fd);
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

uint64_t
storage_failures(const struct storage *s, int upload, enum storage_result r)
{
	return s->failures[upload != 0][r];
}

const char *
storage_result_name(enum storage_result r)
{
	static const char *names[] = { "ok", "permanent", "transient", "local", "timeout" };

	return (size_t)r < nitems(names) ? names[r] : "unknown";
}

/* The part of path after root, if path is root or below it by its letters. */
static const char *
storage_file_rel_to(const char *root, const char *path)
{
	size_t n = strlen(root);

	if (strncmp(path, root, n) != 0 || (path[n] != '/' && path[n] != '\0'))
		return NULL;
	if (n == 1)
		n = 0;	/* the root is "/" */
	while (path[n] == '/')
		n++;
	return path[n] != '\0' ? path + n : ".";
}

const char *
storage_file_rel(const struct storage *s, const char *path)
{
	const char *rel = storage_file_rel_to(s->file_root, path);

	if (rel == NULL && s->file_root_given != NULL)
		rel = storage_file_rel_to(s->file_root_given, path);
	return rel;
}

int
storage_file_resolves_below(const struct storage *s, const char *path)
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
	if ((path = storage_file_path(url, cause)) == NULL)
		return -1;
	/*
	 * Below the root by its letters: the transfer opens it beneath the
	 * root's descriptor (storage-file.c), which no link leaves. Else
	 * (another spelling of a place below the root): resolved here.
	 */
	ok = storage_file_rel(s, path) != NULL || storage_file_resolves_below(s, path);
	free(path);
	if (!ok) {
		xasprintf(cause, "file URL is outside storage.file_root (%s)", s->file_root);
		return -1;
	}
	return 0;
}


/*
 * Response bodies: a download's goes to x->fd (size-capped); any other
 * (an upload's answer, an error document, a redirect) is kept in
 * x->resp, cut at STORAGE_RESP_MAX.
 */
static size_t
storage_write_cb(char *data, size_t size, size_t n, void *arg)
{
	struct storage_xfer *x = arg;
	size_t len = size * n, off = 0, keep;
	long status = 0;
	ssize_t w;

	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
	if (x->put || status < 200 || status >= 300) {
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
		if ((w = pwrite(x->fd, data + off, len - off, x->bytes + (off_t)off)) < 0) {
			if (errno == EINTR)
				continue;
			x->write_errno = errno;
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
	storage_hash_update(x, buf, (size_t)r);
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

	/*
	 * The descriptor closed before the callback: a downloaded program
	 * still open for writing here makes its exec fail (ETXTBSY), and the
	 * callback may launch the game at once.
	 */
	if (x->fd >= 0) {
		close(x->fd);
		x->fd = -1;
	}
	x->cb = NULL;
	if (r != STORAGE_OK)
		x->s->failures[x->put != 0][r]++;
	cb(x, r, error, arg);
	storage_cancel(x);
}

int
storage_curl_permanent(int code)
{
	return code == CURLE_FILE_COULDNT_READ_FILE || code == CURLE_REMOTE_FILE_NOT_FOUND ||
	    code == CURLE_UNSUPPORTED_PROTOCOL || code == CURLE_URL_MALFORMAT ||
	    code == CURLE_FILESIZE_EXCEEDED || code == CURLE_PEER_FAILED_VERIFICATION ||
	    code == CURLE_TOO_MANY_REDIRECTS;
}

void
storage_hash_begin(struct storage_xfer *x)
{
	if (x->md == NULL) {
		x->md = EVP_MD_CTX_new();
		x->md_mark = EVP_MD_CTX_new();
		if (x->md == NULL || x->md_mark == NULL ||
		    EVP_DigestInit_ex(x->md_mark, EVP_sha256(), NULL) != 1)
			fatalx("sha256: cannot initialise digest");
	}
	if (EVP_MD_CTX_copy_ex(x->md, x->md_mark) != 1)
		fatalx("sha256: cannot copy digest");
}

void
storage_hash_update(struct storage_xfer *x, const void *data, size_t len)
{
	if (x->md != NULL)
		EVP_DigestUpdate(x->md, data, len);
}

void
storage_hash_mark(struct storage_xfer *x)
{
	if (x->md != NULL && EVP_MD_CTX_copy_ex(x->md_mark, x->md) != 1)
		fatalx("sha256: cannot copy digest");
}

void
storage_hash_final(struct storage_xfer *x)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;

	if (x->md == NULL)
		return;
	EVP_DigestFinal_ex(x->md, md, &n);
	for (i = 0; i < n && i < 32; i++)
		sprintf(x->sha256 + i * 2, "%02x", md[i]);
	x->sha256[64] = '\0';
}

const char *
storage_xfer_sha256(const struct storage_xfer *x)
{
	return x->sha256;
}

int64_t
storage_time_left(const struct storage_xfer *x)
{
	int64_t left;

	if (x->deadline_ms == 0)
		return INT64_MAX;
	left = x->deadline_ms - util_mono_ms();
	return left > 0 ? left : 0;
}

char *
storage_timeout_msg(const struct storage_xfer *x, const char *what)
{
	char *msg;

	xasprintf(&msg, "%s: stopped at its deadline, after %lld s", what,
	    (long long)((x->deadline_ms - x->start_ms + 999) / 1000));
	return msg;
}

int
storage_retry(struct storage_xfer *x, enum storage_result r, const char *msg, char **final)
{
	struct timeval tv;
	uint32_t ms;

	if (r == STORAGE_TRANSIENT && x->attempt < x->s->retries) {
		ms = backoff_next(&x->bo);
		/* No retry that could not finish before the deadline. */
		if ((int64_t)ms >= storage_time_left(x)) {
			xasprintf(final, "%s (no time left for a retry before its deadline)", msg);
			return 0;
		}
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

/* The end of an http(s):// request. */
static void
storage_done(void *easy, int code, void *arg)
{
	struct storage_xfer *x = arg;
	enum storage_result r;
	long status = 0;
	char *msg = NULL, *u, *final;

	x->running = 0;
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	if (code == CURLE_OK && status >= 200 && status < 300) {
		if (x->put) {
			storage_hash_final(x);
			x->s->bytes_out += (uint64_t)x->bytes;
		} else
			x->s->bytes_in += (uint64_t)x->bytes;
		storage_finish(x, STORAGE_OK, NULL);
		return;
	}
	u = log_redact_url(x->url);
	if (x->too_large || code == CURLE_FILESIZE_EXCEEDED) {
		xasprintf(&msg, "%s is larger than storage.max_download_bytes (%lld)", u,
		    x->s->max_download);
		r = STORAGE_PERMANENT;
	} else if (x->write_errno != 0) {
		xasprintf(&msg, "%s: writing the download: %s", u, strerror(x->write_errno));
		r = STORAGE_LOCAL;
	} else if (x->shrank) {
		xasprintf(&msg, "%s: the file became shorter while it was being sent", u);
		r = STORAGE_PERMANENT;
	} else if (code == CURLE_OPERATION_TIMEDOUT && storage_time_left(x) == 0) {
		msg = storage_timeout_msg(x, u);
		r = STORAGE_TIMEOUT;
	} else if (code == CURLE_OK) {
		/* 3xx that curl did not follow (no Location), 4xx, 5xx. */
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
	x->write_errno = 0;
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
	if (x->deadline_ms != 0)
		curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(storage_time_left(x) > 0 ?
		    storage_time_left(x) : 1));
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
	char *msg;

	if (storage_time_left(x) == 0) {
		msg = storage_timeout_msg(x, x->url);
		storage_finish(x, STORAGE_TIMEOUT, msg);
		free(msg);
		return;
	}
	if (x->put)
		storage_hash_begin(x);
	else if (ftruncate(x->fd, 0) != 0) {
		/* Each attempt writes the file from its start. */
		xasprintf(&msg, "the download's file: %s", strerror(errno));
		storage_finish(x, STORAGE_LOCAL, msg);
		free(msg);
		return;
	}
	if (strncmp(x->url, "s3://", 5) == 0) {
		storage_s3_attempt(x);
		return;
	}
	if (strncmp(x->url, "file://", 7) == 0) {
		storage_file_attempt(x);
		return;
	}
	e = storage_easy_prepare(x);
	curl_easy_setopt(e, CURLOPT_URL, x->url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	if (x->put) {
		x->body_off = 0;
		x->body_len = x->size;
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
storage_xfer_new(struct storage *s, int put, const char *url, int fd, off_t size,
    int64_t deadline_ms, const char *ctype, storage_done_cb *cb, void *arg)
{
	struct storage_xfer *x = xcalloc(1, sizeof *x);
	struct timeval now = { 0, 0 };

	x->s = s;
	x->put = put;
	x->url = xstrdup(url);
	x->fd = fd;
	x->size = size;
	x->deadline_ms = deadline_ms;
	x->start_ms = util_mono_ms();
	x->content_type = ctype;
	x->cb = cb;
	x->arg = arg;
	backoff_init(&x->bo, (uint32_t)config_get_int(s->conf, "storage", "backoff_ms"),
	    (uint32_t)config_get_int(s->conf, "storage", "backoff_max_ms"),
	    (uint64_t)util_mono_ms() ^ (uint64_t)(uintptr_t)x);
	x->timer = evtimer_new(s->base, storage_retry_cb, x);
	/*
	 * The first attempt runs from the loop, not from here: a failure at
	 * once (a bad file:// or s3:// URL) must not call the owner back
	 * before it has the handle we return.
	 */
	evtimer_add(x->timer, &now);
	return x;
}

struct storage_xfer *
storage_get(struct storage *s, const char *url, int fd, int64_t deadline_ms, storage_done_cb *cb,
    void *arg)
{
	return storage_xfer_new(s, 0, url, fd, 0, deadline_ms, NULL, cb, arg);
}

struct storage_xfer *
storage_put(struct storage *s, int fd, off_t size, const char *url, const char *ctype,
    storage_done_cb *cb, void *arg)
{
	return storage_xfer_new(s, 1, url, fd, size, 0, ctype, cb, arg);
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
	storage_file_free(x->file);
	EVP_MD_CTX_free(x->md);
	EVP_MD_CTX_free(x->md_mark);
	curl_slist_free_all(x->headers);
	free(x->resp);
	free(x->etag);
	free(x->url);
	free(x);
}
