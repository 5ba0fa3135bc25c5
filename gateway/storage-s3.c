/*
 * storage-s3.c: s3://bucket/key objects on an S3-compatible endpoint
 * (storage.s3_endpoint), on the attempt and retry machinery of
 * storage.c.
 *
 * libcurl signs every request (CURLOPT_AWS_SIGV4 "aws:amz:<region>:s3",
 * the key pair as user name and password). S3 also wants the payload
 * hash in x-amz-content-sha256, which curl 7.88 does not add, so we do:
 * the hex sha256 of the file for a single PUT (hashed from the
 * transfer's descriptor before it is sent), UNSIGNED-PAYLOAD for the parts of a multipart upload, the hash
 * of the small XML body or of "" for the other requests. curl 7.88 signs
 * the path and query exactly as written, so the URLs built here are
 * already canonical: the key AWS-encoded, the query sorted by name and
 * "uploads=" rather than "uploads".
 *
 * A file above storage.multipart_threshold_mb goes up in parts of
 * storage.multipart_part_mb, one at a time, each streamed from its range
 * of the file with its own retries (CreateMultipartUpload, UploadPart,
 * CompleteMultipartUpload with the ETags); a transfer that finally fails
 * sends AbortMultipartUpload (retried like the others) before it reports
 * the failure. Memory use does not grow with the file. Downloads stream to
 * their descriptor under storage.max_download_bytes.
 *
 * It does not follow redirects (a 301's message names the endpoint to
 * use), list, copy or delete objects, or abort the upload of a transfer
 * cancelled by its owner (a bucket lifecycle rule for incomplete
 * multipart uploads cleans those). Messages name the request, bucket
 * and key, never a credential.
 */
#include "config.h"
#include "storage-int.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <openssl/evp.h>

enum s3_step { S3_GET, S3_PUT, S3_CREATE, S3_PART, S3_COMPLETE, S3_ABORT };

struct storage_s3 {
	char *bucket;
	char *key;
	char *object_url;	/* the object's endpoint URL, no query */
	enum s3_step step;
	off_t size;		/* upload: file size */
	char sha256[65];	/* single PUT: payload hash */
	off_t part_size;
	uint32_t nparts;
	uint32_t part;		/* S3_PART: 1-based */
	char **etags;
	char *upload_id;
	char *body;		/* CompleteMultipartUpload */
	enum storage_result final_r;	/* S3_ABORT: the failure to report after */
	char *final_msg;
};

/* ---- pure helpers ---- */

char *
storage_s3_encode(const char *s, int keep_slash)
{
	return util_url_encode(s, keep_slash);
}

/* A DNS-compatible bucket name (the S3 rules for new buckets). */
static int
storage_s3_bucket_ok(const char *b, size_t len)
{
	size_t i, digits = 0;

	if (len < 3 || len > 63)
		return 0;
	for (i = 0; i < len; i++) {
		char c = b[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-'))
			return 0;
		if (c == '.' && i > 0 && (b[i - 1] == '.' || b[i - 1] == '-'))
			return 0;
		if (c == '-' && i > 0 && b[i - 1] == '.')
			return 0;
		if ((c >= '0' && c <= '9') || c == '.')
			digits++;
	}
	if (b[0] == '.' || b[0] == '-' || b[len - 1] == '.' || b[len - 1] == '-')
		return 0;
	return digits != len;	/* not an IP address */
}

int
storage_s3_parse_url(const char *url, char **bucket, char **key, char **cause)
{
	const char *b, *slash, *k, *seg;
	size_t blen, i, slen;

	if (strncmp(url, "s3://", 5) != 0) {
		xasprintf(cause, "not an s3:// URL");
		return -1;
	}
	b = url + 5;
	slash = strchr(b, '/');
	blen = slash != NULL ? (size_t)(slash - b) : strlen(b);
	k = slash != NULL ? slash + 1 : "";
	if (blen == 0) {
		xasprintf(cause, "s3:// URL without a bucket (s3://bucket/key)");
		return -1;
	}
	/* Not echoed: a malformed "bucket" may be user:password@host. */
	if (!storage_s3_bucket_ok(b, blen)) {
		xasprintf(cause, "s3:// URL with an invalid bucket name (3 to 63 lowercase letters, "
		    "digits, dots and hyphens, starting and ending with a letter or digit)");
		return -1;
	}
	if (strlen(k) > 1024) {
		xasprintf(cause, "s3:// object key longer than 1024 bytes");
		return -1;
	}
	for (i = 0; k[i] != '\0'; i++) {
		unsigned char c = (unsigned char)k[i];
		if (c < 0x20 || c == 0x7f) {
			xasprintf(cause, "s3:// object key with a control character");
			return -1;
		}
		if (c == '?' || c == '#') {
			xasprintf(cause, "s3:// URL must not contain ? or #");
			return -1;
		}
	}
	/* curl would resolve "." and ".." segments, signing another path. */
	for (seg = k; *seg != '\0'; seg += slen + (seg[slen] == '/')) {
		slen = strcspn(seg, "/");
		if ((slen == 1 && seg[0] == '.') || (slen == 2 && seg[0] == '.' && seg[1] == '.')) {
			xasprintf(cause, "s3:// object key must not contain . or .. segments");
			return -1;
		}
	}
	*bucket = xstrndup(b, blen);
	*key = xstrdup(k);
	return 0;
}

int
storage_s3_parse_endpoint(const char *endpoint, char **scheme, char **host, char **cause)
{
	const char *h, *end;
	size_t len;

	if (strncmp(endpoint, "http://", 7) == 0) {
		*scheme = xstrdup("http");
		h = endpoint + 7;
	} else if (strncmp(endpoint, "https://", 8) == 0) {
		*scheme = xstrdup("https");
		h = endpoint + 8;
	} else {
		xasprintf(cause, "storage.s3_endpoint must be http://host[:port] or https://host[:port]");
		return -1;
	}
	len = strcspn(h, "/?#");
	end = h + len;
	if (len == 0 || memchr(h, '@', len) != NULL || strpbrk(h, " \t") != NULL ||
	    (*end != '\0' && strcmp(end, "/") != 0)) {
		free(*scheme);
		*scheme = NULL;
		xasprintf(cause, "storage.s3_endpoint must be http://host[:port] or https://host[:port] "
		    "(no user, path or query)");
		return -1;
	}
	*host = xstrndup(h, len);
	return 0;
}

char *
storage_s3_object_url(const char *scheme, const char *host, int path_style, const char *bucket,
    const char *key, const char *query)
{
	char *enc = storage_s3_encode(key, 1), *url;

	if (path_style)
		xasprintf(&url, "%s://%s/%s/%s%s%s", scheme, host, bucket, enc,
		    query != NULL ? "?" : "", query != NULL ? query : "");
	else
		xasprintf(&url, "%s://%s.%s/%s%s%s", scheme, bucket, host, enc,
		    query != NULL ? "?" : "", query != NULL ? query : "");
	free(enc);
	return url;
}

/* Append code point cp as UTF-8 (a replacement '?' when it is not one). */
static size_t
storage_s3_utf8(char *out, unsigned long cp)
{
	if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
		out[0] = '?';
		return 1;
	}
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Decode XML character data s[0..len) (entities and references). */
static char *
storage_s3_xml_decode(const char *s, size_t len)
{
	static const struct {
		const char *name;
		char c;
	} ents[] = { { "lt;", '<' }, { "gt;", '>' }, { "amp;", '&' }, { "quot;", '"' },
		{ "apos;", '\'' } };
	char *out = xmalloc(len + 1);
	size_t i = 0, o = 0, k, n;

	while (i < len) {
		if (s[i] != '&') {
			out[o++] = s[i++];
			continue;
		}
		for (k = 0; k < nitems(ents); k++) {
			n = strlen(ents[k].name);
			if (len - i - 1 >= n && strncmp(s + i + 1, ents[k].name, n) == 0)
				break;
		}
		if (k < nitems(ents)) {
			out[o++] = ents[k].c;
			i += 1 + strlen(ents[k].name);
			continue;
		}
		if (i + 2 < len && s[i + 1] == '#') {
			unsigned long cp = 0;
			int hexa = s[i + 2] == 'x' || s[i + 2] == 'X';
			size_t j = i + 2 + (size_t)hexa, digits = 0;

			for (; j < len && digits < 8; j++, digits++) {
				char c = s[j];
				if (c >= '0' && c <= '9')
					cp = cp * (hexa ? 16 : 10) + (unsigned long)(c - '0');
				else if (hexa && c >= 'a' && c <= 'f')
					cp = cp * 16 + (unsigned long)(c - 'a' + 10);
				else if (hexa && c >= 'A' && c <= 'F')
					cp = cp * 16 + (unsigned long)(c - 'A' + 10);
				else
					break;
			}
			/* A reference's UTF-8 (<= 4 bytes) is never longer than it. */
			if (digits > 0 && j < len && s[j] == ';') {
				o += storage_s3_utf8(out + o, cp);
				i = j + 1;
				continue;
			}
		}
		out[o++] = s[i++];
	}
	out[o] = '\0';
	return out;
}

char *
storage_s3_xml_text(const char *xml, size_t len, const char *tag)
{
	size_t tlen = strlen(tag);
	const char *p = xml, *end = xml + len, *start, *close;
	char *closing;

	if (xml == NULL)
		return NULL;
	for (;;) {
		p = memchr(p, '<', (size_t)(end - p));
		if (p == NULL || (size_t)(end - p) < tlen + 2)
			return NULL;
		if (strncmp(p + 1, tag, tlen) == 0 &&
		    (p[1 + tlen] == '>' || p[1 + tlen] == ' ' || p[1 + tlen] == '/'))
			break;
		p++;
	}
	start = memchr(p, '>', (size_t)(end - p));
	if (start == NULL)
		return NULL;
	if (start[-1] == '/')
		return xstrdup("");	/* <Tag/> */
	start++;
	xasprintf(&closing, "</%s>", tag);
	close = memmem(start, (size_t)(end - start), closing, strlen(closing));
	free(closing);
	if (close == NULL)
		return NULL;
	return storage_s3_xml_decode(start, (size_t)(close - start));
}

/* Control characters become blanks; cut at max bytes on a UTF-8 boundary. */
static void
storage_s3_clean(char *s, size_t max)
{
	size_t i, len = strlen(s);

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			s[i] = ' ';
	if (len > max) {
		i = max;
		while (i > 0 && ((unsigned char)s[i] & 0xc0) == 0x80)
			i--;
		s[i] = '\0';
	}
}

char *
storage_s3_error_text(long status, const char *body, size_t len, char **codep)
{
	char *code = NULL, *msg = NULL, *out;

	/* S3 error documents are flat: <Error><Code/><Message/>...</Error>. */
	if (body != NULL && len > 0 && (memmem(body, len, "<Error>", 7) != NULL ||
	    memmem(body, len, "<Error ", 7) != NULL)) {
		code = storage_s3_xml_text(body, len, "Code");
		msg = storage_s3_xml_text(body, len, "Message");
	}
	if (code != NULL) {
		/* Codes are words like SlowDown: keep them to that. */
		size_t i, o = 0;
		for (i = 0; code[i] != '\0' && o < 64; i++)
			if (isalnum((unsigned char)code[i]) || code[i] == '.' || code[i] == '_' ||
			    code[i] == '-')
				code[o++] = code[i];
		code[o] = '\0';
		if (o == 0) {
			free(code);
			code = NULL;
		}
	}
	if (code != NULL) {
		if (msg != NULL) {
			storage_s3_clean(msg, 300);
			xasprintf(&out, "%ld %s: %s", status, code, msg);
		} else
			xasprintf(&out, "%ld %s", status, code);
	} else
		xasprintf(&out, "HTTP %ld", status);
	free(msg);
	if (codep != NULL)
		*codep = code;
	else
		free(code);
	return out;
}

enum storage_result
storage_s3_classify(long status, const char *code)
{
	static const char *transient[] = { "SlowDown", "RequestTimeout", "InternalError",
	    "ServiceUnavailable", "OperationAborted", "RequestTimeTooSkewed" };
	size_t i;

	if (code != NULL)
		for (i = 0; i < nitems(transient); i++)
			if (strcmp(code, transient[i]) == 0)
				return STORAGE_TRANSIENT;
	if ((status >= 500 && status != 501 && status != 505) || status == 408 || status == 429)
		return STORAGE_TRANSIENT;
	return STORAGE_PERMANENT;
}

void
storage_s3_plan(off_t size, off_t part_size, off_t *part, uint32_t *nparts)
{
	const off_t mib = 1024 * 1024;

	if (part_size < S3_MIN_PART)
		part_size = S3_MIN_PART;
	if (size / part_size >= S3_MAX_PARTS) {
		part_size = (size + S3_MAX_PARTS - 1) / S3_MAX_PARTS;
		part_size = (part_size + mib - 1) / mib * mib;
	}
	*part = part_size;
	*nparts = size <= 0 ? 1 : (uint32_t)((size + part_size - 1) / part_size);
}

char *
storage_s3_complete_xml(char *const *etags, uint32_t n)
{
	size_t cap = 128, len = 0, need;
	char *out = xmalloc(cap), *etag;
	uint32_t i;
	int w;

	len = (size_t)sprintf(out, "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
	for (i = 0; i <= n; i++) {
		if (i < n) {
			/* ETags are quoted hex; escape anyway, they come from outside. */
			const char *e = etags[i];
			size_t o = 0;
			etag = xmalloc(strlen(e) * 4 + 1);
			for (; *e != '\0'; e++) {
				if (*e == '&')
					o += (size_t)sprintf(etag + o, "&amp;");
				else if (*e == '<')
					o += (size_t)sprintf(etag + o, "&lt;");
				else if (*e == '>')
					o += (size_t)sprintf(etag + o, "&gt;");
				else
					etag[o++] = *e;
			}
			etag[o] = '\0';
		} else
			etag = NULL;
		need = len + (etag != NULL ? strlen(etag) : 0) + 96;
		if (need > cap) {
			cap = need * 2;
			out = xrealloc(out, cap);
		}
		if (etag != NULL)
			w = snprintf(out + len, cap - len,
			    "<Part><ETag>%s</ETag><PartNumber>%u</PartNumber></Part>", etag, i + 1);
		else
			w = snprintf(out + len, cap - len, "</CompleteMultipartUpload>");
		len += (size_t)w;
		free(etag);
	}
	return out;
}

/* ---- configuration ---- */

/* An IP literal host (virtual-hosted addressing cannot prefix it). */
static int
storage_s3_host_is_ip(const char *host)
{
	size_t n = strcspn(host, ":");

	if (host[0] == '[')
		return 1;
	return n > 0 && strspn(host, "0123456789.") == n;
}

int
storage_s3_configure(struct storage *s, char **cause)
{
	struct storage_s3_conf *c = &s->s3;
	const char *endpoint = config_get(s->conf, "storage", "s3_endpoint");
	const char *region = config_get(s->conf, "storage", "s3_region");
	const char *access = config_get(s->conf, "storage", "s3_access_key");
	const char *secret = config_get(s->conf, "storage", "s3_secret_key");
	const char *file = config_get(s->conf, "storage", "s3_secret_key_file");
	char *buf, *why = NULL;
	size_t len;

	memset(c, 0, sizeof *c);
	if (*region == '\0' || strspn(region, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(region)) {
		xasprintf(cause, "storage.s3_region must be a region name such as us-east-1");
		return -1;
	}
	c->region = xstrdup(region);
	xasprintf(&c->sigv4, "aws:amz:%s:s3", region);
	c->path_style = config_get_bool(s->conf, "storage", "s3_path_style");
	c->threshold = (off_t)config_get_int(s->conf, "storage", "multipart_threshold_mb") * 1024 * 1024;
	c->part_size = (off_t)config_get_int(s->conf, "storage", "multipart_part_mb") * 1024 * 1024;
	if (*endpoint != '\0') {
		if (storage_s3_parse_endpoint(endpoint, &c->scheme, &c->host, cause) != 0)
			return -1;
	} else {
		c->scheme = xstrdup("https");
		xasprintf(&c->host, "s3.%s.amazonaws.com", region);
	}
	if (!c->path_style && storage_s3_host_is_ip(c->host)) {
		xasprintf(cause, "storage.s3_path_style = false needs a host name in storage.s3_endpoint, "
		    "not an IP address");
		return -1;
	}
	if (*file != '\0') {
		if (*secret != '\0') {
			xasprintf(cause, "set storage.s3_secret_key or storage.s3_secret_key_file, not both");
			return -1;
		}
		if ((buf = util_read_file(file, 4096, &len, &why)) == NULL) {
			xasprintf(cause, "storage.s3_secret_key_file: %s", why);
			free(why);
			return -1;
		}
		while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' ||
		    buf[len - 1] == ' ' || buf[len - 1] == '\t'))
			buf[--len] = '\0';
		if (len == 0 || strlen(buf) != len) {
			xasprintf(cause, "storage.s3_secret_key_file %s holds no key", file);
			free(buf);
			return -1;
		}
		c->secret = buf;
	} else if (*secret != '\0')
		c->secret = xstrdup(secret);
	if ((*access != '\0') != (c->secret != NULL)) {
		xasprintf(cause, "storage.s3_access_key and a secret key (storage.s3_secret_key or "
		    "storage.s3_secret_key_file) go together: set both or neither");
		return -1;
	}
	if (*access != '\0')
		c->access = xstrdup(access);
	c->configured = *endpoint != '\0' || c->access != NULL;
	return 0;
}

void
storage_s3_unconfigure(struct storage *s)
{
	struct storage_s3_conf *c = &s->s3;

	free(c->scheme);
	free(c->host);
	free(c->region);
	free(c->access);
	if (c->secret != NULL) {
		explicit_bzero(c->secret, strlen(c->secret));
		free(c->secret);
	}
	free(c->sigv4);
	memset(c, 0, sizeof *c);
}

int
storage_s3_check_url(const struct storage *s, const char *url, char **cause)
{
	char *bucket, *key;

	if (!s->s3.configured) {
		xasprintf(cause, "s3:// URLs need storage.s3_endpoint or storage.s3_access_key");
		return -1;
	}
	if (storage_s3_parse_url(url, &bucket, &key, cause) != 0)
		return -1;
	free(bucket);
	free(key);
	return 0;
}

/* ---- transfers ---- */

void
storage_s3_free(struct storage_s3 *o)
{
	uint32_t i;

	if (o == NULL)
		return;
	for (i = 0; o->etags != NULL && i < o->nparts; i++)
		free(o->etags[i]);
	free(o->etags);
	free(o->bucket);
	free(o->key);
	free(o->object_url);
	free(o->upload_id);
	free(o->body);
	free(o->final_msg);
	free(o);
}

/* "s3 PUT s3://bucket/key (part 3 of 25)": what a message is about. */
static char *
storage_s3_what(const struct storage_s3 *o)
{
	char *s = NULL;

	switch (o->step) {
	case S3_GET:
		xasprintf(&s, "s3 GET s3://%s/%s", o->bucket, o->key);
		break;
	case S3_PUT:
		xasprintf(&s, "s3 PUT s3://%s/%s", o->bucket, o->key);
		break;
	case S3_CREATE:
		xasprintf(&s, "s3 POST s3://%s/%s (CreateMultipartUpload)", o->bucket, o->key);
		break;
	case S3_PART:
		xasprintf(&s, "s3 PUT s3://%s/%s (part %u of %u)", o->bucket, o->key, o->part,
		    o->nparts);
		break;
	case S3_COMPLETE:
		xasprintf(&s, "s3 POST s3://%s/%s (CompleteMultipartUpload)", o->bucket, o->key);
		break;
	case S3_ABORT:
		xasprintf(&s, "s3 DELETE s3://%s/%s (AbortMultipartUpload)", o->bucket, o->key);
		break;
	}
	return s;
}

static void
storage_s3_sha256(const char *data, size_t len, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;

	EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
	for (i = 0; i < n && i < 32; i++)
		sprintf(out + i * 2, "%02x", md[i]);
	out[64] = '\0';
}

/* Set up x->s3 on the first attempt; 0 or -1 with *cause. */
static int
storage_s3_init(struct storage_xfer *x, char **cause)
{
	struct storage *s = x->s;
	struct storage_s3 *o;
	char *bucket, *key, *why = NULL;

	if (storage_s3_check_url(s, x->url, cause) != 0 ||
	    storage_s3_parse_url(x->url, &bucket, &key, cause) != 0)
		return -1;
	o = x->s3 = xcalloc(1, sizeof *o);
	o->bucket = bucket;
	o->key = key;
	if (*key == '\0' || key[strlen(key) - 1] == '/') {
		xasprintf(cause, "s3://%s/%s: no object key", bucket, key);
		return -1;
	}
	o->object_url = storage_s3_object_url(s->s3.scheme, s->s3.host, s->s3.path_style, bucket,
	    key, NULL);
	if (!x->put) {
		o->step = S3_GET;
		return 0;
	}
	o->size = x->size;
	if (o->size > s->s3.threshold) {
		storage_s3_plan(o->size, s->s3.part_size, &o->part_size, &o->nparts);
		o->etags = xcalloc(o->nparts, sizeof *o->etags);
		o->step = S3_CREATE;
		return 0;
	}
	/* The header needs the hash before the body: one pass over the descriptor. */
	if (util_sha256_fd(x->fd, o->sha256, &why) != 0) {
		xasprintf(cause, "s3 PUT s3://%s/%s: hashing the file: %s", bucket, key, why);
		free(why);
		return -1;
	}
	o->step = S3_PUT;
	return 0;
}

static void storage_s3_done(void *, int, void *);

static void
storage_s3_header(struct storage_xfer *x, const char *name, const char *value)
{
	char *h;

	xasprintf(&h, "%s: %s", name, value);
	x->headers = curl_slist_append(x->headers, h);
	free(h);
}

void
storage_s3_attempt(struct storage_xfer *x)
{
	struct storage_s3_conf *c = &x->s->s3;
	struct storage_s3 *o;
	const char *payload = S3_EMPTY_SHA256;
	char *cause = NULL, *url = NULL, *query = NULL, *id, *what, hash[65];
	CURL *e;

	if (x->s3 == NULL && storage_s3_init(x, &cause) != 0) {
		storage_finish(x, STORAGE_PERMANENT, cause);
		free(cause);
		return;
	}
	o = x->s3;
	e = storage_easy_prepare(x);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	if (c->access != NULL) {
		curl_easy_setopt(e, CURLOPT_AWS_SIGV4, c->sigv4);
		curl_easy_setopt(e, CURLOPT_USERNAME, c->access);
		curl_easy_setopt(e, CURLOPT_PASSWORD, c->secret);
	}
	id = o->upload_id != NULL ? storage_s3_encode(o->upload_id, 0) : NULL;
	switch (o->step) {
	case S3_GET:
		curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x->s->max_download);
		break;
	case S3_PUT:
	case S3_PART:
		if (o->step == S3_PUT) {
			x->body_off = 0;
			x->body_len = o->size;
			payload = o->sha256;
		} else {
			x->body_off = (off_t)(o->part - 1) * o->part_size;
			x->body_len = o->size - x->body_off < o->part_size ?
			    o->size - x->body_off : o->part_size;
			payload = "UNSIGNED-PAYLOAD";
			xasprintf(&query, "partNumber=%u&uploadId=%s", o->part, id);
		}
		curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)x->body_len);
		curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, 512L * 1024);
		break;
	case S3_CREATE:
		query = xstrdup("uploads=");
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, 0L);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
		break;
	case S3_COMPLETE:
		if (o->body == NULL)
			o->body = storage_s3_complete_xml(o->etags, o->nparts);
		storage_s3_sha256(o->body, strlen(o->body), hash);
		payload = hash;
		xasprintf(&query, "uploadId=%s", id);
		storage_s3_header(x, "Content-Type", "application/xml");
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(o->body));
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, o->body);
		break;
	case S3_ABORT:
		xasprintf(&query, "uploadId=%s", id);
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "DELETE");
		break;
	}
	free(id);
	if (o->step == S3_PUT || o->step == S3_CREATE)
		storage_s3_header(x, "Content-Type", x->content_type != NULL ? x->content_type :
		    "application/octet-stream");
	storage_s3_header(x, "x-amz-content-sha256", payload);
	url = storage_s3_object_url(c->scheme, c->host, c->path_style, o->bucket, o->key, query);
	free(query);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->headers);
	free(url);
	what = storage_s3_what(o);
	log_debug("s3 request", "request=%s attempt=%lld", log_q(what), x->attempt);
	free(what);
	storage_easy_start(x, storage_s3_done);
}

/* Start the next request with a fresh retry budget. */
static void
storage_s3_next(struct storage_xfer *x)
{
	x->attempt = 0;
	backoff_reset(&x->bo);
	storage_s3_attempt(x);
}

static void
storage_s3_done(void *easy, int code, void *arg)
{
	struct storage_xfer *x = arg;
	struct storage_s3 *o = x->s3;
	enum storage_result r = STORAGE_PERMANENT;
	long status = 0;
	char *what, *msg = NULL, *ecode = NULL, *text, *final = NULL;

	x->running = 0;
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	what = storage_s3_what(o);
	if (code != CURLE_OK) {
		if (x->too_large || code == CURLE_FILESIZE_EXCEEDED) {
			xasprintf(&msg, "%s: larger than storage.max_download_bytes (%lld)", what,
			    x->s->max_download);
			r = STORAGE_PERMANENT;
		} else if (x->write_errno != 0) {
			xasprintf(&msg, "%s: writing the download: %s", what,
			    strerror(x->write_errno));
			r = STORAGE_LOCAL;
		} else if (x->shrank) {
			/* The parts were planned on the old size: no retry can help. */
			xasprintf(&msg, "%s: the file became shorter while it was being sent", what);
			r = STORAGE_PERMANENT;
		} else if (code == CURLE_OPERATION_TIMEDOUT && storage_time_left(x) == 0) {
			free(msg);
			msg = storage_timeout_msg(x, what);
			r = STORAGE_TIMEOUT;
		} else {
			xasprintf(&msg, "%s: %s", what, x->errbuf[0] != '\0' ? x->errbuf :
			    curl_easy_strerror((CURLcode)code));
			r = storage_curl_permanent(code) ? STORAGE_PERMANENT : STORAGE_TRANSIENT;
		}
	} else if (status >= 300 || (o->step == S3_COMPLETE && x->resp != NULL &&
	    strstr(x->resp, "<Error>") != NULL)) {
		/* CompleteMultipartUpload may fail after its 200 has been sent. */
		text = storage_s3_error_text(status, x->resp, x->resp_len, &ecode);
		xasprintf(&msg, "%s: %s", what, text);
		r = storage_s3_classify(status, ecode);
		free(text);
		free(ecode);
	} else {
		switch (o->step) {
		case S3_GET:
			x->s->bytes_in += (uint64_t)x->bytes;
			storage_finish(x, STORAGE_OK, NULL);
			break;
		case S3_PUT:
			storage_hash_final(x);
			x->s->bytes_out += (uint64_t)o->size;
			storage_finish(x, STORAGE_OK, NULL);
			break;
		case S3_CREATE:
			o->upload_id = storage_s3_xml_text(x->resp, x->resp_len, "UploadId");
			if (o->upload_id == NULL || *o->upload_id == '\0') {
				free(o->upload_id);
				o->upload_id = NULL;
				xasprintf(&msg, "%s: no UploadId in the answer", what);
				break;
			}
			log_debug("s3 multipart upload started", "object=%s parts=%u part_bytes=%lld",
			    log_q(o->object_url), o->nparts, (long long)o->part_size);
			o->step = S3_PART;
			o->part = 1;
			storage_s3_next(x);
			break;
		case S3_PART:
			if (x->etag == NULL || *x->etag == '\0') {
				xasprintf(&msg, "%s: no ETag in the answer", what);
				break;
			}
			o->etags[o->part - 1] = x->etag;
			x->etag = NULL;
			storage_hash_mark(x);
			x->s->bytes_out += (uint64_t)x->bytes;
			if (o->part == o->nparts)
				o->step = S3_COMPLETE;
			else
				o->part++;
			storage_s3_next(x);
			break;
		case S3_COMPLETE:
			storage_hash_final(x);
			storage_finish(x, STORAGE_OK, NULL);
			break;
		case S3_ABORT:
			log_info("multipart upload aborted", "object=%s", log_q(o->object_url));
			storage_finish(x, o->final_r, o->final_msg);
			break;
		}
		if (msg == NULL) {
			free(what);
			return;
		}
	}
	free(what);
	if (storage_retry(x, r, msg, &final)) {
		free(msg);
		return;
	}
	free(msg);
	if (o->step == S3_ABORT) {
		/* The failure being reported is the one that matters. */
		log_warn("could not abort a multipart upload", "object=%s error=%s",
		    log_q(o->object_url), log_q(final));
		free(final);
		storage_finish(x, o->final_r, o->final_msg);
		return;
	}
	if (o->upload_id != NULL) {
		o->final_r = r;
		o->final_msg = final;
		o->step = S3_ABORT;
		storage_s3_next(x);
		return;
	}
	storage_finish(x, r, final);
	free(final);
}
