/*
 * storage-int.h: what storage.c (the transfer machinery: attempts,
 * retries, deadlines, streaming callbacks, http(s)://), storage-file.c
 * (file://: copies in steps from the loop) and storage-s3.c (s3://
 * objects: request building, SigV4 through libcurl, multipart uploads)
 * share inside the storage component, and
 * the pure S3 helpers the unit tests call. Nothing outside gateway/
 * storage*.c and tests/unit/ includes this file.
 * @locality: the loop thread only.
 */
#ifndef PAIA_STORAGE_INT_H
#define PAIA_STORAGE_INT_H

#include "gateway.h"

#include <curl/curl.h>
#include <openssl/evp.h>

struct event;

/* Largest response body kept in memory (S3 XML, error pages). */
#define STORAGE_RESP_MAX (64 * 1024)
/* S3 limits: parts per upload, smallest part but the last. */
#define S3_MAX_PARTS 10000
#define S3_MIN_PART ((off_t)5 * 1024 * 1024)
/* Hex sha256 of the empty string: the payload hash of a body-less request. */
#define S3_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* [storage] s3_* settings, checked once by storage_new. */
struct storage_s3_conf {
	int configured;		/* s3_endpoint or s3_access_key set */
	char *scheme;		/* "http" or "https" */
	char *host;		/* host[:port] of the endpoint */
	char *region;
	int path_style;
	char *access;		/* NULL: anonymous (unsigned) requests */
	char *secret;
	char *sigv4;		/* "aws:amz:<region>:s3" */
	off_t threshold;	/* multipart above this many bytes */
	off_t part_size;
};

/* Upload folders below storage.file_root remembered (storage-file.c). */
#define STORAGE_FILE_DIRS 64

struct storage {
	struct event_base *base;
	struct evcurl *ec;
	const struct config *conf;
	char *file_root;	/* realpath, or NULL: file:// refused */
	char *file_root_given;	/* as configured, when not its realpath, or NULL */
	int root_fd;		/* file_root opened (O_PATH), or -1 */
	long long max_download;
	long long retries;
	uint64_t bytes_in, bytes_out, nretries;
	uint64_t failures[2][STORAGE_NRESULTS];	/* [upload][result]: transfers that failed */
	unsigned long nfiles;	/* file:// uploads: unique temporary names */
	long pid;		/* file:// uploads: getpid(), asked once */
	char *dirs[STORAGE_FILE_DIRS];	/* file:// uploads: folders made lately */
	unsigned dirs_next;	/* the slot of dirs to take next */
	struct storage_s3_conf s3;
};

struct storage_s3;
struct storage_file;

struct storage_xfer {
	struct storage *s;
	int put;
	char *url;
	const char *content_type;
	CURL *easy;
	struct curl_slist *headers;
	int fd;			/* the transfer's file, owned: written (get) or read (put) */
	off_t size;		/* put: the bytes of fd to send */
	int64_t deadline_ms;	/* monotonic; 0: none */
	int64_t start_ms;
	off_t bytes;		/* moved by this attempt */
	off_t body_off;		/* upload: the file range sent */
	off_t body_len;
	int too_large;
	int shrank;		/* the file ended before the range did */
	int write_errno;	/* download: writing fd failed so */
	int running;		/* in the multi handle */
	long long attempt;	/* retries of the current request */
	struct backoff bo;
	struct event *timer;
	storage_done_cb *cb;
	void *arg;
	char *resp;		/* response body when it is not the download */
	size_t resp_len;
	char *etag;		/* ETag header of the last response */
	EVP_MD_CTX *md;		/* put: sha256 of the bytes sent so far */
	EVP_MD_CTX *md_mark;	/* put: md as the current request began */
	char sha256[65];	/* put: the final hash, once sent */
	struct storage_s3 *s3;	/* s3:// transfers */
	struct storage_file *file;	/* file:// transfers */
	char errbuf[CURL_ERROR_SIZE];
};

/* ---- storage.c, for storage-s3.c ---- */

/*
 * Reset the transfer's easy handle (creating it the first time) with the
 * options every request shares: timeouts, CA, user agent, error buffer,
 * and the streaming callbacks (downloads to x->fd, uploads from the
 * range body_off/body_len of x->fd, other bodies and the ETag header
 * kept in x->resp and x->etag). Clears the per-attempt counters.
 */
CURL *storage_easy_prepare(struct storage_xfer *x);
/* Start the prepared request in the multi handle; done runs at its end. */
void storage_easy_start(struct storage_xfer *x, void (*done)(void *, int, void *));
/*
 * A request failed with r and msg: schedule a retry (returns 1) when r is
 * transient and the current request has retries left; else return 0
 * with *final set to the message to report (msg, plus "gave up after N
 * retries" when it was retried).
 */
int storage_retry(struct storage_xfer *x, enum storage_result r, const char *msg, char **final);
/* Report the outcome to the owner and free the transfer. */
void storage_finish(struct storage_xfer *x, enum storage_result r, const char *error);
/* A curl error code that retrying cannot fix. */
int storage_curl_permanent(int code);
/*
 * The hash of an upload: storage_hash_begin as a request starts (back
 * to the mark: a retried request sends its bytes again), _update with
 * each chunk sent, _mark when a part is done, _final at the end.
 */
void storage_hash_begin(struct storage_xfer *x);
void storage_hash_update(struct storage_xfer *x, const void *data, size_t len);
void storage_hash_mark(struct storage_xfer *x);
void storage_hash_final(struct storage_xfer *x);
/*
 * Milliseconds left before the transfer's deadline (INT64_MAX: none; 0:
 * passed). A request is given at most this long.
 */
int64_t storage_time_left(const struct storage_xfer *x);
/* "<what>: not finished within N s (its deadline)": the STORAGE_TIMEOUT message. */
char *storage_timeout_msg(const struct storage_xfer *x, const char *what);

/* ---- storage-file.c ---- */

/* The local path of a file:// URL (checked for form, not place), or NULL with *cause. */
char *storage_file_path(const char *url, char **cause);
/*
 * path relative to the file root when it is written below it (the real
 * root or the configured one; "." for the root itself), pointing into
 * path; NULL otherwise. By the letters only: a link below may still
 * lead out, which opening it with RESOLVE_BENEATH refuses.
 */
const char *storage_file_rel(const struct storage *s, const char *path);
/* Is path, resolved as far as it exists (realpath: follows links), below the file root? */
int storage_file_resolves_below(const struct storage *s, const char *path);
/* Run (or retry) a file:// transfer: a copy in steps from the loop. */
void storage_file_attempt(struct storage_xfer *x);
void storage_file_free(struct storage_file *);

/* ---- storage-s3.c ---- */

/* Check and load the s3_* keys into s->s3; 0 or -1 with *cause. */
int storage_s3_configure(struct storage *s, char **cause);
void storage_s3_unconfigure(struct storage *s);
/* Is an s3:// URL usable here (configured, well formed)? */
int storage_s3_check_url(const struct storage *s, const char *url, char **cause);
/* Run (or retry) the current request of an s3:// transfer (set up on the first call). */
void storage_s3_attempt(struct storage_xfer *x);
void storage_s3_free(struct storage_s3 *);

/* Pure helpers (no I/O), tested by tests/unit/test-s3.c. */

/*
 * Split s3://bucket/key into an allocated bucket and key (the key may be
 * empty: a prefix at the bucket's root). The key is taken literally (no
 * percent-decoding). Refuses bad bucket names, control characters, ? and
 * #, . and .. segments and keys over 1024 bytes, naming the problem.
 */
int storage_s3_parse_url(const char *url, char **bucket, char **key, char **cause);
/* Split an endpoint http(s)://host[:port][/] into scheme and host[:port]. */
int storage_s3_parse_endpoint(const char *endpoint, char **scheme, char **host, char **cause);
/* AWS URI encoding: all but A-Z a-z 0-9 - _ . ~ (and / when keep_slash). */
char *storage_s3_encode(const char *s, int keep_slash);
/*
 * The request URL of an object: path style http://host/bucket/key or
 * virtual-hosted http://bucket.host/key, with query (may be NULL)
 * appended after '?' as given (already encoded and sorted by name).
 */
char *storage_s3_object_url(const char *scheme, const char *host, int path_style,
    const char *bucket, const char *key, const char *query);
/*
 * The text of the first <tag>...</tag> element in an XML document, with
 * the five XML entities and numeric references decoded; NULL if absent.
 */
char *storage_s3_xml_text(const char *xml, size_t len, const char *tag);
/*
 * What went wrong, from the HTTP status and an S3 error document:
 * "403 SignatureDoesNotMatch: The request signature ..." (control
 * characters dropped, the message cut at 300 bytes); "HTTP 502" when the
 * body is not an S3 error. *code (if not NULL) gets the Code, or NULL.
 */
char *storage_s3_error_text(long status, const char *body, size_t len, char **code);
/* Transient (retry) or permanent, from the status and the S3 error code. */
enum storage_result storage_s3_classify(long status, const char *code);
/*
 * Part size and count for size bytes: part_size, raised when needed so
 * that no more than S3_MAX_PARTS parts are used.
 */
void storage_s3_plan(off_t size, off_t part_size, off_t *part, uint32_t *nparts);
/* The CompleteMultipartUpload body for n parts with these ETags. */
char *storage_s3_complete_xml(char *const *etags, uint32_t n);

#endif
