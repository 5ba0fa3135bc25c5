/*
 * test-storage.c: the parts of gateway/storage*.c that need no server:
 * the pure S3 helpers (s3:// URL parsing, AWS URI encoding, endpoint
 * and object URL mapping in path and virtual-hosted style, XML field
 * extraction, error messages and their retry class, multipart planning,
 * the CompleteMultipartUpload body), the [storage] s3_* configuration
 * checks of storage_new, storage_check_url on s3:// and file:// URLs
 * (percent-decoding, . and .. after decoding), and the rule
 * that a transfer's callback never runs before storage_get/storage_put
 * has returned, file:// transfers (a directory, a FIFO, too large, a
 * link out of the root, an upload's hash and its atomic rename), links met
 * on the way (in a folder on the way, absolute, relative, chained, a ..
 * in the URL: never out of the root, nothing made outside) and a
 * download's deadline against a server that never answers.
 *
 * Transfers against a real S3 server are tests/s3/storage.sh's.
 */
#include "config.h"
#include "storage-int.h"
#include "options.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <event2/event.h>

/* ---- s3:// URLs ---- */

static void
test_parse_url_ok(void **state)
{
	static const struct {
		const char *url, *bucket, *key;
	} v[] = {
		{ "s3://paia-test/results/t1/1/log.txt", "paia-test", "results/t1/1/log.txt" },
		{ "s3://abc/k", "abc", "k" },
		{ "s3://my.bucket-01/a b+c/ü~*.txt", "my.bucket-01", "a b+c/ü~*.txt" },
		{ "s3://paia-test/prefix/", "paia-test", "prefix/" },
		{ "s3://paia-test/", "paia-test", "" },
		{ "s3://paia-test", "paia-test", "" },
		{ "s3://paia-test/a//b", "paia-test", "a//b" },
		{ "s3://paia-test/.hidden/..x/x..", "paia-test", ".hidden/..x/x.." },
		{ "s3://paia-test/100%25", "paia-test", "100%25" },	/* literal, not decoded */
	};
	size_t i;

	for (i = 0; i < nitems(v); i++) {
		char *b = NULL, *k = NULL, *cause = NULL;
		if (storage_s3_parse_url(v[i].url, &b, &k, &cause) != 0)
			fail_msg("%s: refused: %s", v[i].url, cause);
		assert_string_equal(b, v[i].bucket);
		assert_string_equal(k, v[i].key);
		free(b);
		free(k);
	}
}

static void
test_parse_url_bad(void **state)
{
	static const struct {
		const char *url, *why;
	} v[] = {
		{ "http://paia-test/k", "not an s3:// URL" },
		{ "s3:///key", "without a bucket" },
		{ "s3://", "without a bucket" },
		{ "s3://ab/k", "invalid bucket name" },
		{ "s3://Paia-Test/k", "invalid bucket name" },
		{ "s3://paia_test/k", "invalid bucket name" },
		{ "s3://-paia/k", "invalid bucket name" },
		{ "s3://paia-/k", "invalid bucket name" },
		{ "s3://pa..ia/k", "invalid bucket name" },
		{ "s3://pa.-ia/k", "invalid bucket name" },
		{ "s3://192.168.1.10/k", "invalid bucket name" },
		{ "s3://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/k",
		  "invalid bucket name" },
		{ "s3://user:hunter2@host/k", "invalid bucket name" },
		{ "s3://paia-test/a\tb", "control character" },
		{ "s3://paia-test/a\x7f", "control character" },
		{ "s3://paia-test/a?b=c", "must not contain ? or #" },
		{ "s3://paia-test/a#b", "must not contain ? or #" },
		{ "s3://paia-test/./a", ". or .. segments" },
		{ "s3://paia-test/a/../b", ". or .. segments" },
		{ "s3://paia-test/a/..", ". or .. segments" },
		{ "s3://paia-test/..", ". or .. segments" },
	};
	size_t i;

	for (i = 0; i < nitems(v); i++) {
		char *b = NULL, *k = NULL, *cause = NULL;
		if (storage_s3_parse_url(v[i].url, &b, &k, &cause) == 0)
			fail_msg("%s: accepted as %s / %s", v[i].url, b, k);
		if (strstr(cause, v[i].why) == NULL)
			fail_msg("%s: \"%s\" does not say \"%s\"", v[i].url, cause, v[i].why);
		/* A credential-looking bucket is never echoed. */
		assert_null(strstr(cause, "hunter2"));
		free(cause);
	}
	{
		char *long_key, *url, *b = NULL, *k = NULL, *cause = NULL;
		long_key = xmalloc(1026);
		memset(long_key, 'k', 1025);
		long_key[1025] = '\0';
		xasprintf(&url, "s3://paia-test/%s", long_key);
		assert_int_equal(storage_s3_parse_url(url, &b, &k, &cause), -1);
		assert_non_null(strstr(cause, "longer than 1024 bytes"));
		free(cause);
		url[strlen(url) - 1] = '\0';	/* 1024 bytes: fine */
		assert_int_equal(storage_s3_parse_url(url, &b, &k, &cause), 0);
		free(b);
		free(k);
		free(url);
		free(long_key);
	}
}

static void
test_encode(void **state)
{
	char *e;

	e = storage_s3_encode("a b+c/ü~*.txt", 1);
	assert_string_equal(e, "a%20b%2Bc/%C3%BC~%2A.txt");
	free(e);
	e = storage_s3_encode("a b+c/ü~*.txt", 0);
	assert_string_equal(e, "a%20b%2Bc%2F%C3%BC~%2A.txt");
	free(e);
	e = storage_s3_encode("AZaz09-_.~", 0);
	assert_string_equal(e, "AZaz09-_.~");
	free(e);
	e = storage_s3_encode("100%=&?#", 1);
	assert_string_equal(e, "100%25%3D%26%3F%23");
	free(e);
	e = storage_s3_encode("", 1);
	assert_string_equal(e, "");
	free(e);
	/* Upload ids of the base64 kind. */
	e = storage_s3_encode("VXBsb2FkSUQ+/==", 0);
	assert_string_equal(e, "VXBsb2FkSUQ%2B%2F%3D%3D");
	free(e);
}

static void
test_endpoint(void **state)
{
	static const struct {
		const char *endpoint, *scheme, *host;
	} ok[] = {
		{ "http://127.0.0.1:17070", "http", "127.0.0.1:17070" },
		{ "http://127.0.0.1:17070/", "http", "127.0.0.1:17070" },
		{ "https://s3.eu-west-1.amazonaws.com", "https", "s3.eu-west-1.amazonaws.com" },
		{ "https://[::1]:9000", "https", "[::1]:9000" },
	};
	static const char *bad[] = { "ftp://h", "127.0.0.1:17070", "http://", "http:///x",
		"http://user:pw@h", "http://h/path", "http://h/?x", "http://h?x", "http://h#f",
		"http://h h" };
	size_t i;

	for (i = 0; i < nitems(ok); i++) {
		char *scheme = NULL, *host = NULL, *cause = NULL;
		if (storage_s3_parse_endpoint(ok[i].endpoint, &scheme, &host, &cause) != 0)
			fail_msg("%s: refused: %s", ok[i].endpoint, cause);
		assert_string_equal(scheme, ok[i].scheme);
		assert_string_equal(host, ok[i].host);
		free(scheme);
		free(host);
	}
	for (i = 0; i < nitems(bad); i++) {
		char *scheme = NULL, *host = NULL, *cause = NULL;
		if (storage_s3_parse_endpoint(bad[i], &scheme, &host, &cause) == 0)
			fail_msg("%s: accepted as %s %s", bad[i], scheme, host);
		assert_non_null(strstr(cause, "storage.s3_endpoint must be"));
		assert_null(scheme);
		free(cause);
	}
}

static void
test_object_url(void **state)
{
	char *u;

	u = storage_s3_object_url("http", "127.0.0.1:17070", 1, "paia-test", "results/t 1/log.txt",
	    NULL);
	assert_string_equal(u, "http://127.0.0.1:17070/paia-test/results/t%201/log.txt");
	free(u);
	u = storage_s3_object_url("https", "s3.us-east-1.amazonaws.com", 0, "paia-test",
	    "results/log.txt", NULL);
	assert_string_equal(u, "https://paia-test.s3.us-east-1.amazonaws.com/results/log.txt");
	free(u);
	u = storage_s3_object_url("http", "h:1", 1, "bkt", "big.mp4", "uploads=");
	assert_string_equal(u, "http://h:1/bkt/big.mp4?uploads=");
	free(u);
	u = storage_s3_object_url("http", "h:1", 0, "bkt", "a/b+c", "partNumber=3&uploadId=x%2By");
	assert_string_equal(u, "http://bkt.h:1/a/b%2Bc?partNumber=3&uploadId=x%2By");
	free(u);
}

/* ---- XML and errors ---- */

/* What versitygw answered a request signed with the wrong secret. */
static const char err403[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated "
    "does not match the signature you provided. Check your key and signing method.</Message>"
    "<AWSAccessKeyId>paia-test</AWSAccessKeyId><StringToSign>AWS4-HMAC-SHA256&#xA;x</StringToSign>"
    "<RequestId>QO3SJICM9YD6PF02</RequestId></Error>";

static void
test_xml_text(void **state)
{
	static const char init[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<InitiateMultipartUploadResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
	    "<Bucket>bk1</Bucket><Key>big</Key><UploadId>d54cc28b-ba28-4ddf-aae6-ed4c085acdea"
	    "</UploadId></InitiateMultipartUploadResult>";
	static const char ent[] = "<R><UploadIdX>no</UploadIdX><UploadId>a&amp;b&lt;c&gt;"
	    "&quot;d&apos;&#39;&#x41;&#233;&#x20AC;&bogus;&#;&#xZZ;&</UploadId><E/>"
	    "<F a=\"1\">attr</F><G></G></R>";
	char *t;

	t = storage_s3_xml_text(init, strlen(init), "UploadId");
	assert_string_equal(t, "d54cc28b-ba28-4ddf-aae6-ed4c085acdea");
	free(t);
	t = storage_s3_xml_text(init, strlen(init), "Key");
	assert_string_equal(t, "big");
	free(t);
	assert_null(storage_s3_xml_text(init, strlen(init), "ETag"));
	assert_null(storage_s3_xml_text(init, strlen(init), "Upload"));
	assert_null(storage_s3_xml_text(NULL, 0, "UploadId"));
	/* Entities and references decoded; a longer tag name is not a match. */
	t = storage_s3_xml_text(ent, strlen(ent), "UploadId");
	assert_string_equal(t, "a&b<c>\"d''A\xc3\xa9\xe2\x82\xac&bogus;&#;&#xZZ;&");
	free(t);
	t = storage_s3_xml_text(ent, strlen(ent), "E");
	assert_string_equal(t, "");
	free(t);
	t = storage_s3_xml_text(ent, strlen(ent), "F");
	assert_string_equal(t, "attr");
	free(t);
	t = storage_s3_xml_text(ent, strlen(ent), "G");
	assert_string_equal(t, "");
	free(t);
	/* Cut short: no closing tag, no '>' at all. */
	assert_null(storage_s3_xml_text("<UploadId>abc", 13, "UploadId"));
	assert_null(storage_s3_xml_text("<UploadId", 9, "UploadId"));
	/* The length is respected: nothing is read past it. */
	assert_null(storage_s3_xml_text(init, 100, "UploadId"));
	/* A reference to NUL or a surrogate is not let through. */
	t = storage_s3_xml_text("<a>x&#0;y&#xD800;z</a>", 22, "a");
	assert_string_equal(t, "x?y?z");
	free(t);
}

static void
test_error_text(void **state)
{
	char *t, *code = NULL, big[2048];
	const char *b;
	size_t n;

	t = storage_s3_error_text(403, err403, strlen(err403), &code);
	assert_string_equal(t, "403 SignatureDoesNotMatch: The request signature we calculated "
	    "does not match the signature you provided. Check your key and signing method.");
	assert_string_equal(code, "SignatureDoesNotMatch");
	free(t);
	free(code);
	t = storage_s3_error_text(502, "<html>bad gateway</html>", 24, &code);
	assert_string_equal(t, "HTTP 502");
	assert_null(code);
	free(t);
	t = storage_s3_error_text(500, NULL, 0, NULL);
	assert_string_equal(t, "HTTP 500");
	free(t);
	t = storage_s3_error_text(503, "<Error><Code>SlowDown</Code></Error>", 36, &code);
	assert_string_equal(t, "503 SlowDown");
	assert_string_equal(code, "SlowDown");
	free(t);
	free(code);
	/* A code is a word: other bytes dropped, nothing left is no code (fuzz-s3). */
	b = "<Error><Code>\x8f\x8f</Code><Message>m</Message></Error>";
	t = storage_s3_error_text(400, b, strlen(b), &code);
	assert_string_equal(t, "HTTP 400");
	assert_null(code);
	free(t);
	b = "<Error><Code>Slow Down!\n</Code></Error>";
	t = storage_s3_error_text(503, b, strlen(b), &code);
	assert_string_equal(t, "503 SlowDown");
	assert_string_equal(code, "SlowDown");
	free(t);
	free(code);
	/* Control characters dropped, long messages cut on a UTF-8 boundary. */
	n = (size_t)snprintf(big, sizeof big, "<Error><Code>X</Code><Message>a\nb\x01");
	while (n < 1500)
		n += (size_t)snprintf(big + n, sizeof big - n, "\xc3\xa9");
	n += (size_t)snprintf(big + n, sizeof big - n, "</Message></Error>");
	t = storage_s3_error_text(400, big, n, NULL);
	assert_true(strncmp(t, "400 X: a b ", 11) == 0);
	assert_true(strlen(t) <= strlen("400 X: ") + 300);
	assert_true(util_utf8_valid(t, strlen(t)));
	free(t);
}

static void
test_classify(void **state)
{
	static const struct {
		long status;
		const char *code;
		enum storage_result r;
	} v[] = {
		{ 403, "SignatureDoesNotMatch", STORAGE_PERMANENT },
		{ 403, "AccessDenied", STORAGE_PERMANENT },
		{ 404, "NoSuchKey", STORAGE_PERMANENT },
		{ 404, "NoSuchUpload", STORAGE_PERMANENT },
		{ 400, "InvalidPart", STORAGE_PERMANENT },
		{ 400, "RequestTimeout", STORAGE_TRANSIENT },
		{ 400, NULL, STORAGE_PERMANENT },
		{ 301, "PermanentRedirect", STORAGE_PERMANENT },
		{ 503, "SlowDown", STORAGE_TRANSIENT },
		{ 503, NULL, STORAGE_TRANSIENT },
		{ 500, "InternalError", STORAGE_TRANSIENT },
		{ 200, "InternalError", STORAGE_TRANSIENT },	/* CompleteMultipartUpload */
		{ 200, "InvalidPart", STORAGE_PERMANENT },
		{ 501, "NotImplemented", STORAGE_PERMANENT },
		{ 505, NULL, STORAGE_PERMANENT },
		{ 429, NULL, STORAGE_TRANSIENT },
		{ 408, NULL, STORAGE_TRANSIENT },
		{ 409, "OperationAborted", STORAGE_TRANSIENT },
		{ 409, "BucketAlreadyExists", STORAGE_PERMANENT },
	};
	size_t i;

	for (i = 0; i < nitems(v); i++)
		if (storage_s3_classify(v[i].status, v[i].code) != v[i].r)
			fail_msg("%ld %s: wrong class", v[i].status, v[i].code ? v[i].code : "-");
}

static void
test_plan(void **state)
{
	const off_t mib = 1024 * 1024;
	off_t part;
	uint32_t n;

	storage_s3_plan(200000000, 16 * mib, &part, &n);
	assert_int_equal(part, 16 * mib);
	assert_int_equal(n, 12);
	storage_s3_plan(32 * mib, 16 * mib, &part, &n);
	assert_int_equal(n, 2);
	storage_s3_plan(32 * mib + 1, 16 * mib, &part, &n);
	assert_int_equal(n, 3);
	/* Below the S3 minimum: raised to 5 MiB. */
	storage_s3_plan(100 * mib, mib, &part, &n);
	assert_int_equal(part, 5 * mib);
	assert_int_equal(n, 20);
	/* 1 TiB in 5 MiB parts would be 209716 parts: the size grows instead. */
	storage_s3_plan(1024 * 1024 * mib, 5 * mib, &part, &n);
	assert_true(n <= S3_MAX_PARTS);
	assert_true(part % mib == 0);
	assert_true((off_t)n * part >= 1024 * 1024 * mib);
	storage_s3_plan((off_t)S3_MAX_PARTS * 5 * mib, 5 * mib, &part, &n);
	assert_true(n <= S3_MAX_PARTS);
	storage_s3_plan(0, 16 * mib, &part, &n);
	assert_int_equal(n, 1);
}

static void
test_complete_xml(void **state)
{
	char e1[] = "\"f24dc4a8fc3138e6b6070a5f8d2417cc\"", e2[] = "\"a<b&c>\"";
	char *etags[] = { e1, e2 };
	char *x;

	x = storage_s3_complete_xml(etags, 2);
	assert_string_equal(x,
	    "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
	    "<Part><ETag>\"f24dc4a8fc3138e6b6070a5f8d2417cc\"</ETag><PartNumber>1</PartNumber></Part>"
	    "<Part><ETag>\"a&lt;b&amp;c&gt;\"</ETag><PartNumber>2</PartNumber></Part>"
	    "</CompleteMultipartUpload>");
	free(x);
	{
		/* Many parts: the buffer grows. */
		char **many = xcalloc(3000, sizeof *many), e3[] = "\"0123456789abcdef0123456789abcdef\"";
		size_t i;
		for (i = 0; i < 3000; i++)
			many[i] = e3;
		x = storage_s3_complete_xml(many, 3000);
		assert_non_null(strstr(x, "<PartNumber>3000</PartNumber></Part></CompleteMultipartUpload>"));
		free(x);
		free(many);
	}
}

/* ---- configuration (storage_new) ---- */

static char *
tmp_file(const char *text)
{
	const char *tmp = getenv("TMPDIR");
	char *path;
	int fd;

	xasprintf(&path, "%s/paia-test-storage-XXXXXX", tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

/* storage_new with section.key=value settings; NULL and *cause on refusal. */
static struct storage *
new_storage(struct config **confp, char **cause, ...)
{
	struct config *conf = config_new(options_schema, options_passthrough);
	const char *kv;
	char *copy, *eq, *err = NULL;
	struct storage *s;
	va_list ap;

	va_start(ap, cause);
	while ((kv = va_arg(ap, const char *)) != NULL) {
		copy = xstrdup(kv);
		eq = strchr(copy, '=');
		*eq = '\0';
		if (config_set(conf, "storage", copy, eq + 1, &err) != 0)
			fail_msg("config_set %s: %s", kv, err);
		free(copy);
	}
	va_end(ap);
	s = storage_new(NULL, NULL, conf, cause);
	*confp = conf;
	return s;
}

/* file:// URLs: %XX decoded before the root and segment checks. */
static void
test_file_url(void **state)
{
	const char *tmp = getenv("TMPDIR");
	struct config *conf;
	struct storage *s;
	char *root, *enc, *setting, *url, *cause = NULL;
	char tmpl[4096];

	snprintf(tmpl, sizeof tmpl, "%s/paia test%%zXXXXXX", tmp != NULL && *tmp != '\0' ? tmp :
	    "/tmp");
	assert_non_null(mkdtemp(tmpl));
	root = realpath(tmpl, NULL);
	assert_non_null(root);
	xasprintf(&setting, "file_root=%s", root);
	s = new_storage(&conf, &cause, setting, NULL);
	assert_non_null(s);
	enc = util_url_encode(root, 1);

	/*
	 * The root as a URL: encoded (a space is %20, '%' is %25) or raw (a
	 * '%' not followed by two hex digits stays itself: the folder's name
	 * has "%z", never a random "%4f" that would decode).
	 */
	xasprintf(&url, "file://%s/a%%20b.py", enc);
	assert_int_equal(storage_check_url(s, url, &cause), 0);
	free(url);
	xasprintf(&url, "file://%s/x.py", root);
	assert_int_equal(storage_check_url(s, url, &cause), 0);
	free(url);
	/* .. spelled %2e%2e is still .. */
	xasprintf(&url, "file://%s/%%2e%%2e/%%2E%%2E/etc/passwd", enc);
	assert_int_equal(storage_check_url(s, url, &cause), -1);
	assert_string_equal(cause, "file URL must not contain . or .. segments");
	free(cause);
	free(url);
	xasprintf(&url, "file://%s/a%%00b", enc);
	assert_int_equal(storage_check_url(s, url, &cause), -1);
	assert_string_equal(cause, "file URL must not contain %00");
	free(cause);
	free(url);
	/* Outside the root once decoded. */
	assert_int_equal(storage_check_url(s, "file:///etc%2Fpasswd", &cause), -1);
	assert_non_null(strstr(cause, "outside"));
	free(cause);

	free(enc);
	free(setting);
	storage_free(s);
	config_free(conf);
	rmdir(root);
	free(root);
}

static void
test_configure(void **state)
{
	struct config *conf;
	struct storage *s;
	char *cause = NULL, *f;

	/* Nothing set: s3:// refused by name, everything else as before. */
	s = new_storage(&conf, &cause, NULL);
	assert_non_null(s);
	assert_int_equal(storage_check_url(s, "s3://paia-test/k", &cause), -1);
	assert_string_equal(cause, "s3:// URLs need storage.s3_endpoint or storage.s3_access_key");
	free(cause);
	assert_int_equal(storage_check_url(s, "https://h/x", &cause), 0);
	storage_free(s);
	config_free(conf);

	s = new_storage(&conf, &cause, "s3_endpoint=http://127.0.0.1:17070",
	    "s3_access_key=paia-test", "s3_secret_key=hunter2", NULL);
	assert_non_null(s);
	assert_string_equal(s->s3.scheme, "http");
	assert_string_equal(s->s3.host, "127.0.0.1:17070");
	assert_string_equal(s->s3.sigv4, "aws:amz:us-east-1:s3");
	assert_int_equal(s->s3.path_style, 1);
	assert_int_equal(s->s3.threshold, 64 * 1024 * 1024);
	assert_int_equal(s->s3.part_size, 16 * 1024 * 1024);
	assert_int_equal(storage_check_url(s, "s3://paia-test/results/t1/1/", &cause), 0);
	assert_int_equal(storage_check_url(s, "s3://PAIA/k", &cause), -1);
	assert_non_null(strstr(cause, "invalid bucket name"));
	free(cause);
	storage_free(s);
	config_free(conf);

	/* No endpoint: AWS's regional one, virtual-hosted when asked. */
	s = new_storage(&conf, &cause, "s3_region=eu-west-3", "s3_path_style=false",
	    "s3_access_key=AKIA", "s3_secret_key=x", NULL);
	assert_non_null(s);
	assert_string_equal(s->s3.scheme, "https");
	assert_string_equal(s->s3.host, "s3.eu-west-3.amazonaws.com");
	assert_string_equal(s->s3.sigv4, "aws:amz:eu-west-3:s3");
	storage_free(s);
	config_free(conf);

	/* The secret from a file, trailing newline dropped. */
	f = tmp_file("from-file-secret\n");
	{
		char *kv;
		xasprintf(&kv, "s3_secret_key_file=%s", f);
		s = new_storage(&conf, &cause, "s3_access_key=paia-test", kv, NULL);
		assert_non_null(s);
		assert_string_equal(s->s3.secret, "from-file-secret");
		storage_free(s);
		config_free(conf);
		s = new_storage(&conf, &cause, "s3_access_key=paia-test", kv, "s3_secret_key=y", NULL);
		assert_null(s);
		assert_string_equal(cause,
		    "set storage.s3_secret_key or storage.s3_secret_key_file, not both");
		free(cause);
		config_free(conf);
		free(kv);
	}
	unlink(f);
	free(f);
	f = tmp_file("\n");
	{
		char *kv;
		xasprintf(&kv, "s3_secret_key_file=%s", f);
		s = new_storage(&conf, &cause, "s3_access_key=paia-test", kv, NULL);
		assert_null(s);
		assert_non_null(strstr(cause, "holds no key"));
		free(cause);
		config_free(conf);
		free(kv);
	}
	unlink(f);
	free(f);
	s = new_storage(&conf, &cause, "s3_access_key=a", "s3_secret_key_file=/nonexistent/s", NULL);
	assert_null(s);
	assert_string_equal(cause, "storage.s3_secret_key_file: open /nonexistent/s: No such file or directory");
	free(cause);
	config_free(conf);

	/* Half a key pair, bad values: refused naming the keys, never the secret. */
	s = new_storage(&conf, &cause, "s3_secret_key=hunter2", NULL);
	assert_null(s);
	assert_non_null(strstr(cause, "storage.s3_access_key and a secret key"));
	assert_null(strstr(cause, "hunter2"));
	free(cause);
	config_free(conf);
	s = new_storage(&conf, &cause, "s3_access_key=a", NULL);
	assert_null(s);
	assert_non_null(strstr(cause, "go together"));
	free(cause);
	config_free(conf);
	s = new_storage(&conf, &cause, "s3_endpoint=127.0.0.1:17070", NULL);
	assert_null(s);
	assert_non_null(strstr(cause, "storage.s3_endpoint must be"));
	free(cause);
	config_free(conf);
	s = new_storage(&conf, &cause, "s3_endpoint=http://127.0.0.1:17070", "s3_path_style=no", NULL);
	assert_null(s);
	assert_non_null(strstr(cause, "needs a host name"));
	free(cause);
	config_free(conf);
	s = new_storage(&conf, &cause, "s3_region=US East", NULL);
	assert_null(s);
	assert_non_null(strstr(cause, "storage.s3_region"));
	free(cause);
	config_free(conf);
}

/* ---- callbacks come from the loop ---- */

struct outcome {
	int called;
	int returned;		/* storage_get/put had returned when it was called */
	enum storage_result r;
	char *error;
	char sha256[65];
	struct event_base *base;
	int fd;			/* > 0: the transfer's descriptor, closed by the callback's time */
};

static void
outcome_cb(struct storage_xfer *x, enum storage_result r, const char *error, void *arg)
{
	struct outcome *o = arg;

	/* A downloaded program still open for writing could not be run (ETXTBSY). */
	if (o->fd > 0 && fcntl(o->fd, F_GETFD) != -1)
		fail_msg("the transfer's descriptor %d is still open in its callback", o->fd);
	o->called++;
	o->r = r;
	o->error = error != NULL ? xstrdup(error) : NULL;
	event_base_loopbreak(o->base);
}

/* An upload's outcome and the hash of what it sent. */
static void
upload_cb(struct storage_xfer *x, enum storage_result r, const char *error, void *arg)
{
	struct outcome *o = arg;

	if (r == STORAGE_OK)
		memcpy(o->sha256, storage_xfer_sha256(x), sizeof o->sha256);
	outcome_cb(x, r, error, arg);
}

/* A descriptor for a transfer (the transfer owns it). */
static int
open_fd(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC, 0644);

	if (fd < 0)
		fail_msg("open %s: %s", path, strerror(errno));
	return fd;
}

/* Run one transfer to its callback. */
static void
run(struct event_base *base, struct outcome *o)
{
	assert_int_equal(o->called, 0);
	event_base_dispatch(base);
	assert_int_equal(o->called, 1);
}

static void
test_callback_after_return(void **state)
{
	struct event_base *base = event_base_new();
	struct evcurl *ec = evcurl_new(base);
	struct config *conf;
	struct storage *s;
	struct outcome o;
	char *cause = NULL;
	const char *tmp = getenv("TMPDIR");
	char *url, *path;

	s = new_storage(&conf, &cause, "s3_endpoint=http://127.0.0.1:9", "s3_access_key=a",
	    "s3_secret_key=b", "retries=0", NULL);
	assert_non_null(s);
	storage_free(s);
	xasprintf(&url, "file_root=%s", tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	config_set(conf, "storage", "file_root", strchr(url, '=') + 1, &cause);
	free(url);
	s = storage_new(base, ec, conf, &cause);
	assert_non_null(s);
	xasprintf(&path, "%s/paia-test-storage-dl.%ld", tmp != NULL && *tmp != '\0' ? tmp : "/tmp",
	    (long)getpid());

	/* A download of a key that is a prefix: refused from the loop, not at once. */
	memset(&o, 0, sizeof o);
	o.base = base;
	storage_get(s, "s3://paia-test/r/", open_fd(path, O_WRONLY | O_CREAT), 0, outcome_cb, &o);
	o.returned = 1;
	run(base, &o);
	assert_int_equal(o.r, STORAGE_PERMANENT);
	assert_string_equal(o.error, "s3://paia-test/r/: no object key");
	free(o.error);

	/* Nothing listens on port 9: a transient failure naming the request. */
	memset(&o, 0, sizeof o);
	o.base = base;
	storage_get(s, "s3://paia-test/r/program.py", open_fd(path, O_WRONLY), 0, outcome_cb, &o);
	run(base, &o);
	assert_int_equal(o.r, STORAGE_TRANSIENT);
	assert_true(strncmp(o.error, "s3 GET s3://paia-test/r/program.py: ", 36) == 0);
	assert_null(strstr(o.error, "gave up"));	/* retries = 0 */
	free(o.error);

	/* Cancelled before its first attempt: no callback, nothing leaks. */
	memset(&o, 0, sizeof o);
	o.base = base;
	storage_cancel(storage_put(s, open_fd("/dev/null", O_RDONLY), 0, "s3://paia-test/r/log.txt",
	    NULL, outcome_cb, &o));
	event_base_loop(base, EVLOOP_NONBLOCK);
	assert_int_equal(o.called, 0);

	unlink(path);
	free(path);
	storage_free(s);
	config_free(conf);
	evcurl_free(ec);
	event_base_free(base);
}

/* A storage with file_root = a fresh folder, and the folder. */
static struct storage *
file_storage(struct event_base *base, struct evcurl *ec, struct config **conf, char **root,
    const char *max_download)
{
	const char *tmp = getenv("TMPDIR");
	char *cause = NULL;
	struct storage *s;

	xasprintf(root, "%s/paia-test-storage.XXXXXX", tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	assert_non_null(mkdtemp(*root));
	*conf = config_new(options_schema, options_passthrough);
	if (config_set(*conf, "storage", "file_root", *root, &cause) != 0 ||
	    config_set(*conf, "storage", "retries", "0", &cause) != 0 ||
	    config_set(*conf, "storage", "max_download_bytes", max_download, &cause) != 0)
		fail_msg("config: %s", cause);
	if ((s = storage_new(base, ec, *conf, &cause)) == NULL)
		fail_msg("storage_new: %s", cause);
	return s;
}

static void
write_text(const char *path, const char *text)
{
	char *cause = NULL;

	if (util_write_file(path, text, strlen(text), 0644, &cause) != 0)
		fail_msg("%s", cause);
}

/* Download url into the file dst through the loop: the outcome, and its message in *error. */
static enum storage_result
fetch(struct storage *s, struct event_base *base, const char *url, const char *dst,
    int64_t deadline, char **error)
{
	struct outcome o;

	memset(&o, 0, sizeof o);
	o.base = base;
	o.fd = open_fd(dst, O_WRONLY | O_CREAT | O_TRUNC);
	storage_get(s, url, o.fd, deadline, outcome_cb, &o);
	run(base, &o);
	*error = o.error;
	return o.r;
}

/* A download refused for good, saying why. */
static void
assert_fetch_refused(struct storage *s, struct event_base *base, const char *url, const char *dst,
    const char *why)
{
	char *error = NULL;

	assert_int_equal(fetch(s, base, url, dst, 0, &error), STORAGE_PERMANENT);
	if (why != NULL && strstr(error, why) == NULL)
		fail_msg("%s: \"%s\" does not say \"%s\"", url, error, why);
	free(error);
}

/* Upload four bytes of src to url: the outcome, its message in *error (NULL when OK). */
static enum storage_result
send_file(struct storage *s, struct event_base *base, const char *src, const char *url,
    char **error)
{
	struct outcome o;

	memset(&o, 0, sizeof o);
	o.base = base;
	storage_put(s, open_fd(src, O_RDONLY), 4, url, "text/plain", upload_cb, &o);
	run(base, &o);
	*error = o.error;
	return o.r;
}

/* An upload refused, saying the place leads out of the root. */
static void
assert_send_refused(struct storage *s, struct event_base *base, const char *src, const char *url)
{
	char *error = NULL;

	assert_int_not_equal(send_file(s, base, src, url, &error), STORAGE_OK);
	if (error == NULL || (strstr(error, "outside storage.file_root") == NULL &&
	    strstr(error, ". or .. segments") == NULL))
		fail_msg("%s: \"%s\" does not say it leads outside the root", url, error);
	free(error);
}

/* Does folder hold anything (a file, a folder, a temporary .part)? */
static int
has_entries(const char *folder)
{
	struct dirent *de;
	DIR *d = opendir(folder);
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* file://: copies we do ourselves, saying what is wrong. */
static void
test_file_transfers(void **state)
{
	struct event_base *base = event_base_new();
	struct evcurl *ec = evcurl_new(base);
	struct config *conf;
	struct storage *s;
	struct outcome o;
	char *root, *src, *dst, *url, *text, *error = NULL, *cause = NULL, sha[65];
	size_t len;
	int fd;

	s = file_storage(base, ec, &conf, &root, "1000");
	xasprintf(&src, "%s/program.py", root);
	xasprintf(&dst, "%s/downloaded", root);
	write_text(src, "print('hello')\n");

	/* A regular file: copied. */
	xasprintf(&url, "file://%s", src);
	assert_int_equal(fetch(s, base, url, dst, 0, &error), STORAGE_OK);
	text = util_read_file(dst, 100, &len, &cause);
	assert_string_equal(text, "print('hello')\n");
	free(text);
	/* A deadline already passed: STORAGE_TIMEOUT, not retried. */
	assert_int_equal(fetch(s, base, url, dst, util_mono_ms() - 1, &error), STORAGE_TIMEOUT);
	assert_non_null(strstr(error, "stopped at its deadline"));
	free(error);
	free(url);

	/* A directory is not a program (curl "downloaded" 0 bytes); a FIFO is never read. */
	xasprintf(&url, "file://%s", root);
	assert_fetch_refused(s, base, url, dst, "not a regular file (a directory)");
	free(url);
	xasprintf(&url, "%s/fifo", root);
	assert_int_equal(mkfifo(url, 0644), 0);
	free(url);
	xasprintf(&url, "file://%s/fifo", root);
	assert_fetch_refused(s, base, url, dst, "not a regular file (a FIFO)");
	free(url);
	/* Over storage.max_download_bytes (1000). */
	xasprintf(&text, "%s/big", root);
	fd = open_fd(text, O_WRONLY | O_CREAT | O_TRUNC);
	assert_int_equal(ftruncate(fd, 1001), 0);
	close(fd);
	free(text);
	xasprintf(&url, "file://%s/big", root);
	assert_fetch_refused(s, base, url, dst, "larger than storage.max_download_bytes (1000)");
	free(url);
	/* A link out of the root: the resolved file is outside, refused, and said so. */
	xasprintf(&text, "%s/out", root);
	assert_int_equal(symlink("/etc/hostname", text), 0);
	free(text);
	xasprintf(&url, "file://%s/out", root);
	assert_fetch_refused(s, base, url, dst, "outside storage.file_root");
	free(url);
	/* Relative, through "..": refused beneath the root as well. */
	xasprintf(&text, "%s/up", root);
	assert_int_equal(symlink("../../../../../../../../../../etc/hostname", text), 0);
	free(text);
	xasprintf(&url, "file://%s/up", root);
	assert_fetch_refused(s, base, url, dst, "outside storage.file_root");
	free(url);
	/* Links that stay below the root are followed: relative, and absolute (the slow way). */
	write_text(src, "print('hello')\n");
	xasprintf(&text, "%s/rel", root);
	assert_int_equal(symlink("program.py", text), 0);
	free(text);
	xasprintf(&text, "%s/abs", root);
	assert_int_equal(symlink(src, text), 0);
	free(text);
	xasprintf(&url, "file://%s/rel", root);
	assert_int_equal(fetch(s, base, url, dst, 0, &error), STORAGE_OK);
	free(url);
	xasprintf(&url, "file://%s/abs", root);
	assert_int_equal(fetch(s, base, url, dst, 0, &error), STORAGE_OK);
	text = util_read_file(dst, 100, &len, &cause);
	assert_string_equal(text, "print('hello')\n");
	free(text);
	free(url);
	/* Larger than one step of the loop (4 MiB): copied in several turns, whole. */
	storage_free(s);
	config_free(conf);
	assert_int_equal(util_rmtree(root), 0);
	free(root);
	s = file_storage(base, ec, &conf, &root, "100000000");
	free(src);
	free(dst);
	xasprintf(&src, "%s/program.py", root);
	xasprintf(&dst, "%s/downloaded", root);
	{
		static char block[65536];
		int k;

		memset(block, 'x', sizeof block);
		fd = open_fd(src, O_WRONLY | O_CREAT | O_TRUNC);
		for (k = 0; k < 80; k++)
			assert_int_equal(write(fd, block, sizeof block), (ssize_t)sizeof block);
		close(fd);
	}
	xasprintf(&url, "file://%s", src);
	assert_int_equal(fetch(s, base, url, dst, 0, &error), STORAGE_OK);
	assert_int_equal(util_file_size(dst), 80 * 65536);
	free(url);

	/* An upload: the first size bytes of the descriptor, hashed as sent, renamed into place. */
	write_text(src, "0123456789");
	memset(&o, 0, sizeof o);
	o.base = base;
	xasprintf(&url, "file://%s/results/t1/1/log.txt", root);
	storage_put(s, open_fd(src, O_RDONLY), 4, url, "text/plain", upload_cb, &o);
	run(base, &o);
	assert_int_equal(o.r, STORAGE_OK);
	write_text(dst, "0123");
	assert_int_equal(util_sha256_file(dst, sha, &cause), 0);
	assert_string_equal(o.sha256, sha);
	free(url);
	xasprintf(&url, "%s/results/t1/1/log.txt", root);
	text = util_read_file(url, 100, &len, &cause);
	assert_string_equal(text, "0123");
	free(text);
	free(url);

	/* A descriptor shorter than announced: permanent, no result left. */
	memset(&o, 0, sizeof o);
	o.base = base;
	xasprintf(&url, "file://%s/results/t1/1/video.mp4", root);
	storage_put(s, open_fd(src, O_RDONLY), 100, url, "video/mp4", upload_cb, &o);
	run(base, &o);
	assert_int_equal(o.r, STORAGE_PERMANENT);
	assert_non_null(strstr(o.error, "became shorter"));
	free(o.error);
	free(url);
	xasprintf(&url, "%s/results/t1/1/video.mp4", root);
	assert_int_equal(access(url, F_OK), -1);
	free(url);

	/* An upload whose folder leads out of the root through a link: refused, nothing made outside. */
	xasprintf(&text, "%s.outside", root);
	assert_int_equal(mkdir(text, 0700), 0);
	xasprintf(&url, "%s/results/t2", root);
	assert_int_equal(symlink(text, url), 0);
	free(url);
	xasprintf(&url, "file://%s/results/t2/1/log.txt", root);
	assert_send_refused(s, base, src, url);
	free(url);
	xasprintf(&url, "%s/1", text);
	assert_int_equal(access(url, F_OK), -1);
	free(url);
	assert_int_equal(util_rmtree(text), 0);
	free(text);

	assert_int_equal(util_rmtree(root), 0);
	free(root);
	free(src);
	free(dst);
	storage_free(s);
	config_free(conf);
	evcurl_free(ec);
	event_base_free(base);
}

/*
 * file:// and links met on the way (storage-file.c opens below the
 * root's descriptor, realpath only when the kernel says a link leads
 * out): no link, at the end or in a folder on the way, absolute or
 * relative, and no .. spelling, reaches a file outside the root or makes
 * one there; links that stay below the root still work.
 */
static void
test_file_links(void **state)
{
	struct event_base *base = event_base_new();
	struct evcurl *ec = evcurl_new(base);
	struct config *conf;
	struct storage *s;
	struct stat st;
	char *root, *out, *base_out, *src, *dst, *p, *url, *text, *error = NULL, *cause = NULL;
	size_t len;

	s = file_storage(base, ec, &conf, &root, "1000");
	/* A folder outside the root, next to it, with a secret and a victim. */
	xasprintf(&out, "%s.out", root);
	assert_int_equal(mkdir(out, 0700), 0);
	base_out = strrchr(out, '/') + 1;
	xasprintf(&p, "%s/secret", out);
	write_text(p, "secret\n");
	free(p);
	xasprintf(&p, "%s/victim", out);
	write_text(p, "victim\n");
	free(p);
	xasprintf(&src, "%s/program.py", root);
	write_text(src, "0123456789");
	xasprintf(&dst, "%s/downloaded", root);
	xasprintf(&p, "%s/sub", root);
	assert_int_equal(mkdir(p, 0755), 0);
	free(p);

	/* Downloads through a link in a folder on the way: absolute, then relative. */
	xasprintf(&p, "%s/sub/abs", root);
	assert_int_equal(symlink(out, p), 0);
	free(p);
	xasprintf(&url, "file://%s/sub/abs/secret", root);
	assert_fetch_refused(s, base, url, dst, "outside storage.file_root");
	free(url);
	xasprintf(&p, "%s/sub/rel", root);
	xasprintf(&text, "../../%s", base_out);
	assert_int_equal(symlink(text, p), 0);
	free(text);
	free(p);
	xasprintf(&url, "file://%s/sub/rel/secret", root);
	assert_fetch_refused(s, base, url, dst, "outside storage.file_root");
	free(url);
	/* A chain: an absolute link below the root to the link above, which leads out. */
	xasprintf(&p, "%s/hop", root);
	xasprintf(&text, "%s/sub/abs/secret", root);
	assert_int_equal(symlink(text, p), 0);
	free(text);
	free(p);
	xasprintf(&url, "file://%s/hop", root);
	assert_fetch_refused(s, base, url, dst, "outside storage.file_root");
	free(url);
	/* A .. spelled in the URL, plain or percent-encoded: refused before any open. */
	xasprintf(&url, "file://%s/../%s/secret", root, base_out);
	assert_fetch_refused(s, base, url, dst, ". or .. segments");
	free(url);
	xasprintf(&url, "file://%s/sub/%%2e%%2e/../%s/secret", root, base_out);
	assert_fetch_refused(s, base, url, dst, ". or .. segments");
	free(url);
	/* Nothing of the secret reached the download. */
	text = util_read_file(dst, 100, &len, &cause);
	assert_non_null(text);
	assert_null(strstr(text, "secret"));
	free(text);

	/* Links that leave and come back below the root, or stay below it: followed. */
	xasprintf(&p, "%s/sub/back", root);
	xasprintf(&text, "../../%s", strrchr(root, '/') + 1);
	assert_int_equal(symlink(text, p), 0);
	free(text);
	free(p);
	xasprintf(&url, "file://%s/sub/back/program.py", root);
	assert_int_equal(fetch(s, base, url, dst, 0, &error), STORAGE_OK);
	free(url);
	xasprintf(&p, "%s/sub2", root);
	xasprintf(&text, "%s/sub", root);
	assert_int_equal(symlink(text, p), 0);
	free(text);
	free(p);
	xasprintf(&p, "%s/sub/inside.py", root);
	write_text(p, "inside\n");
	free(p);
	xasprintf(&url, "file://%s/sub2/inside.py", root);
	assert_int_equal(fetch(s, base, url, dst, 0, &error), STORAGE_OK);
	text = util_read_file(dst, 100, &len, &cause);
	assert_string_equal(text, "inside\n");
	free(text);
	free(url);

	/* Uploads: a relative link out in a folder on the way, folders missing below it. */
	xasprintf(&p, "%s/results", root);
	assert_int_equal(mkdir(p, 0755), 0);
	free(p);
	xasprintf(&p, "%s/results/rel", root);
	xasprintf(&text, "../../%s", base_out);
	assert_int_equal(symlink(text, p), 0);
	free(text);
	free(p);
	xasprintf(&url, "file://%s/results/rel/t1/1/log.txt", root);
	assert_send_refused(s, base, src, url);
	free(url);
	/* The deepest folder itself a link out (nothing to make below it). */
	xasprintf(&p, "%s/results/t2", root);
	assert_int_equal(mkdir(p, 0755), 0);
	free(p);
	xasprintf(&p, "%s/results/t2/1", root);
	assert_int_equal(symlink(out, p), 0);
	free(p);
	xasprintf(&url, "file://%s/results/t2/1/log.txt", root);
	assert_send_refused(s, base, src, url);
	free(url);
	/* A .. in the URL. */
	xasprintf(&url, "file://%s/results/../../%s/log.txt", root, base_out);
	assert_send_refused(s, base, src, url);
	free(url);
	/*
	 * Folders made lately are remembered (the next upload makes only
	 * what is missing below them, no probe first): an upload makes
	 * results/k1/1; then a sibling planted as a relative link out, a
	 * remembered folder swapped for an absolute link out: refused the
	 * same; a folder someone else made meanwhile: used.
	 */
	xasprintf(&url, "file://%s/results/k1/1/log.txt", root);
	assert_int_equal(send_file(s, base, src, url, &error), STORAGE_OK);
	free(url);
	xasprintf(&p, "%s/results/k2", root);
	xasprintf(&text, "../../%s", base_out);
	assert_int_equal(symlink(text, p), 0);
	free(text);
	free(p);
	xasprintf(&url, "file://%s/results/k2/1/log.txt", root);
	assert_send_refused(s, base, src, url);
	free(url);
	xasprintf(&p, "%s/results/k1", root);
	assert_int_equal(util_rmtree(p), 0);
	assert_int_equal(symlink(out, p), 0);
	free(p);
	xasprintf(&url, "file://%s/results/k1/1/log.txt", root);
	assert_send_refused(s, base, src, url);
	free(url);
	xasprintf(&url, "file://%s/results/k1/2/log.txt", root);
	assert_send_refused(s, base, src, url);
	free(url);
	/* A remembered folder removed meanwhile: made again. */
	xasprintf(&p, "%s/results/k0", root);
	xasprintf(&url, "file://%s/1/log.txt", p);
	assert_int_equal(send_file(s, base, src, url, &error), STORAGE_OK);
	assert_int_equal(util_rmtree(p), 0);
	assert_int_equal(send_file(s, base, src, url, &error), STORAGE_OK);
	free(url);
	xasprintf(&url, "%s/1/log.txt", p);
	assert_int_equal(util_file_size(url), 4);
	free(url);
	free(p);
	xasprintf(&p, "%s/results/k3", root);
	assert_int_equal(mkdir(p, 0755), 0);
	free(p);
	xasprintf(&p, "%s/results/k3/1", root);
	assert_int_equal(mkdir(p, 0755), 0);
	free(p);
	xasprintf(&url, "file://%s/results/k3/1/log.txt", root);
	assert_int_equal(send_file(s, base, src, url, &error), STORAGE_OK);
	free(url);
	xasprintf(&p, "%s/results/k3/1/log.txt", root);
	text = util_read_file(p, 100, &len, &cause);
	assert_string_equal(text, "0123");
	free(text);
	free(p);
	/* Nothing was made outside: no folder, no result, no temporary file. */
	xasprintf(&p, "%s/t1", out);
	assert_int_equal(access(p, F_OK), -1);
	free(p);
	xasprintf(&p, "%s/log.txt", out);
	assert_int_equal(access(p, F_OK), -1);
	free(p);
	assert_int_equal(has_entries(out), 2);	/* secret and victim */

	/* The result's own name a link out: replaced by the result, the victim untouched. */
	xasprintf(&p, "%s/results/t3", root);
	assert_int_equal(mkdir(p, 0755), 0);
	free(p);
	xasprintf(&p, "%s/results/t3/log.txt", root);
	xasprintf(&text, "%s/victim", out);
	assert_int_equal(symlink(text, p), 0);
	free(text);
	xasprintf(&url, "file://%s", p);
	assert_int_equal(send_file(s, base, src, url, &error), STORAGE_OK);
	free(url);
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	text = util_read_file(p, 100, &len, &cause);
	assert_string_equal(text, "0123");
	free(text);
	free(p);
	xasprintf(&p, "%s/victim", out);
	text = util_read_file(p, 100, &len, &cause);
	assert_string_equal(text, "victim\n");
	free(text);
	free(p);
	/* An absolute link that stays below the root: the result lands where it points. */
	xasprintf(&p, "%s/results/t4", root);
	xasprintf(&text, "%s/sub", root);
	assert_int_equal(symlink(text, p), 0);
	free(text);
	free(p);
	xasprintf(&url, "file://%s/results/t4/1/log.txt", root);
	assert_int_equal(send_file(s, base, src, url, &error), STORAGE_OK);
	free(url);
	xasprintf(&p, "%s/sub/1/log.txt", root);
	text = util_read_file(p, 100, &len, &cause);
	assert_string_equal(text, "0123");
	free(text);
	free(p);

	assert_int_equal(util_rmtree(out), 0);
	assert_int_equal(util_rmtree(root), 0);
	free(out);
	free(root);
	free(src);
	free(dst);
	storage_free(s);
	config_free(conf);
	evcurl_free(ec);
	event_base_free(base);
}

/* An HTTP server that accepts and never answers: the deadline ends the download. */
static void
test_http_deadline(void **state)
{
	struct event_base *base = event_base_new();
	struct evcurl *ec = evcurl_new(base);
	struct sockaddr_in sin;
	socklen_t slen = sizeof sin;
	struct config *conf;
	struct storage *s;
	char *root, *url, *dst, *error = NULL;
	int64_t t0;
	int l;

	s = file_storage(base, ec, &conf, &root, "1000");
	l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(l, (struct sockaddr *)&sin, sizeof sin), 0);
	assert_int_equal(listen(l, 4), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&sin, &slen), 0);
	xasprintf(&url, "http://127.0.0.1:%d/slow.py", ntohs(sin.sin_port));
	xasprintf(&dst, "%s/dl", root);
	t0 = util_mono_ms();
	assert_int_equal(fetch(s, base, url, dst, t0 + 300, &error), STORAGE_TIMEOUT);
	assert_non_null(strstr(error, "stopped at its deadline, after 1 s"));
	assert_true(util_mono_ms() - t0 < 30000);
	free(error);
	close(l);
	free(url);
	free(dst);
	assert_int_equal(util_rmtree(root), 0);
	free(root);
	storage_free(s);
	config_free(conf);
	evcurl_free(ec);
	event_base_free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_url_ok),
		cmocka_unit_test(test_parse_url_bad),
		cmocka_unit_test(test_encode),
		cmocka_unit_test(test_endpoint),
		cmocka_unit_test(test_object_url),
		cmocka_unit_test(test_xml_text),
		cmocka_unit_test(test_error_text),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_plan),
		cmocka_unit_test(test_complete_xml),
		cmocka_unit_test(test_configure),
		cmocka_unit_test(test_file_url),
		cmocka_unit_test(test_callback_after_return),
		cmocka_unit_test(test_file_transfers),
		cmocka_unit_test(test_file_links),
		cmocka_unit_test(test_http_deadline),
	};
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	log_q_release();
	curl_global_cleanup();
	return rc;
}
