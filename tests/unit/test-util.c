/*
 * test-util.c: the stateless helpers of common/: capped exponential
 * backoff with jitter, UTF-8 validation, base64 (RFC 4648 vectors), URL
 * redaction and secret key detection for logs, integer and boolean
 * parsing, sha256 of a file, the RFC 3339 time format, URL encoding,
 * and the service manager's notify datagram (on a socket of the test's).
 *
 * Does not test evcurl (it needs a loop and a server) nor the config
 * (test-config.c).
 */
#include "config.h"
#include "common.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/socket.h>
#include <sys/un.h>

#include <cmocka.h>

/* ---- backoff ---- */

/* The ceiling the header promises: min(cap, base * 2^attempt). */
static uint64_t
expected_ceil(uint32_t base, uint32_t cap, uint32_t attempt)
{
	uint64_t c = base;
	uint32_t i;

	for (i = 0; i < attempt && c < cap; i++)
		c *= 2;
	return c > cap ? cap : c;
}

static void
test_backoff_bounds(void **state)
{
	static const struct {
		uint32_t base, cap;
	} cfg[] = {
		{ 200, 10000 }, { 1, 1000 }, { 100, 100 }, { 7, 5000 }, { 1000, 3600000 },
		{ 1, UINT32_MAX }, { 3, 4 },
	};
	uint64_t rng = 12345;
	size_t c;
	int draws = 0;

	for (c = 0; c < nitems(cfg); c++) {
		struct backoff b;
		uint32_t attempt = 0, d;
		uint64_t ceil;
		int i;

		backoff_init(&b, cfg[c].base, cfg[c].cap, 1000 + c);
		for (i = 0; i < 1500; i++) {
			/* Reset now and then, at a pseudo-random point. */
			rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
			if ((rng >> 33) % 40 == 0) {
				backoff_reset(&b);
				attempt = 0;
			}
			ceil = expected_ceil(cfg[c].base, cfg[c].cap, attempt);
			d = backoff_next(&b);
			if (d < ceil / 2 || d > ceil || d > cfg[c].cap)
				fail_msg("base %u cap %u attempt %u: delay %u outside [%llu, %llu]",
				    cfg[c].base, cfg[c].cap, attempt, d,
				    (unsigned long long)(ceil / 2), (unsigned long long)ceil);
			attempt++;
			draws++;
		}
	}
	assert_true(draws >= 10000);
}

static void
test_backoff_clamps_init(void **state)
{
	struct backoff b;
	int i;

	/* base 0 acts as 1; a cap below base is raised to base. */
	backoff_init(&b, 0, 8, 1);
	assert_in_range(backoff_next(&b), 0, 1);
	backoff_init(&b, 500, 100, 1);
	for (i = 0; i < 100; i++)
		assert_in_range(backoff_next(&b), 250, 500);
	/* A long series saturates at the cap and stays there. */
	backoff_init(&b, 10, 1000, 1);
	for (i = 0; i < 1000; i++)
		assert_true(backoff_next(&b) <= 1000);
	for (i = 0; i < 100; i++)
		assert_in_range(backoff_next(&b), 500, 1000);
}

static void
test_backoff_reset(void **state)
{
	struct backoff b;
	int i;

	backoff_init(&b, 100, 60000, 99);
	for (i = 0; i < 20; i++)
		(void)backoff_next(&b);
	assert_in_range(backoff_next(&b), 30000, 60000);
	backoff_reset(&b);
	assert_in_range(backoff_next(&b), 50, 100);
	assert_in_range(backoff_next(&b), 100, 200);
	assert_in_range(backoff_next(&b), 200, 400);
}

static void
test_backoff_jitter(void **state)
{
	struct backoff a, b;
	uint32_t x[32], y[32], lo = UINT32_MAX, hi = 0;
	int i, differ = 0;

	/* Same seed, same sequence. */
	backoff_init(&a, 1000, 1000, 42);
	backoff_init(&b, 1000, 1000, 42);
	for (i = 0; i < 32; i++) {
		x[i] = backoff_next(&a);
		y[i] = backoff_next(&b);
		assert_int_equal(x[i], y[i]);
	}
	/* Another seed, another sequence. */
	backoff_init(&b, 1000, 1000, 43);
	for (i = 0; i < 32; i++) {
		y[i] = backoff_next(&b);
		differ += x[i] != y[i];
	}
	assert_true(differ > 16);
	/* The jitter covers its range rather than sitting on one value. */
	backoff_init(&a, 1000, 1000, 7);
	for (i = 0; i < 2000; i++) {
		uint32_t d = backoff_next(&a);
		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
	}
	assert_true(lo < 550);
	assert_true(hi > 950);
}

/* ---- UTF-8 ---- */

static void
test_utf8_valid(void **state)
{
	static const struct {
		const char *name;
		const char *s;
		size_t len;
		int valid;
	} cases[] = {
		{ "empty", "", 0, 1 },
		{ "ascii", "hello", 5, 1 },
		{ "embedded NUL", "a\0b", 3, 1 },
		{ "2-byte e-acute", "\xc3\xa9", 2, 1 },
		{ "3-byte euro", "\xe2\x82\xac", 3, 1 },
		{ "4-byte emoji", "\xf0\x9f\x98\x80", 4, 1 },
		{ "U+0080 lowest 2-byte", "\xc2\x80", 2, 1 },
		{ "U+0800 lowest 3-byte", "\xe0\xa0\x80", 3, 1 },
		{ "U+D7FF below surrogates", "\xed\x9f\xbf", 3, 1 },
		{ "U+E000 above surrogates", "\xee\x80\x80", 3, 1 },
		{ "U+FFFF", "\xef\xbf\xbf", 3, 1 },
		{ "U+10000 lowest 4-byte", "\xf0\x90\x80\x80", 4, 1 },
		{ "U+10FFFF highest", "\xf4\x8f\xbf\xbf", 4, 1 },
		{ "mixed", "a\xc3\xa9z\xe2\x82\xac!", 7, 1 },
		{ "overlong NUL C0 80", "\xc0\x80", 2, 0 },
		{ "overlong slash C0 AF", "\xc0\xaf", 2, 0 },
		{ "overlong C1 BF", "\xc1\xbf", 2, 0 },
		{ "overlong 3-byte U+007F", "\xe0\x81\xbf", 3, 0 },
		{ "overlong 3-byte U+07FF", "\xe0\x9f\xbf", 3, 0 },
		{ "overlong 4-byte U+FFFF", "\xf0\x8f\xbf\xbf", 4, 0 },
		{ "surrogate U+D800", "\xed\xa0\x80", 3, 0 },
		{ "surrogate U+DFFF", "\xed\xbf\xbf", 3, 0 },
		{ "above U+10FFFF", "\xf4\x90\x80\x80", 4, 0 },
		{ "F5 lead", "\xf5\x80\x80\x80", 4, 0 },
		{ "FE", "\xfe", 1, 0 },
		{ "FF", "\xff", 1, 0 },
		{ "lone continuation", "\x80", 1, 0 },
		{ "continuation after ascii", "a\xbf", 2, 0 },
		{ "truncated 2-byte", "\xc3", 1, 0 },
		{ "truncated 3-byte", "\xe2\x82", 2, 0 },
		{ "truncated 4-byte", "\xf0\x9f\x98", 3, 0 },
		{ "lead then ascii", "\xc3" "A", 2, 0 },
		{ "3-byte cut by ascii", "\xe2\x82" "A", 3, 0 },
		/* The length bounds the check: a valid prefix of a longer buffer. */
		{ "len stops before bad byte", "ab\xff", 2, 1 },
		{ "len cuts a sequence", "\xe2\x82\xac", 2, 0 },
	};
	size_t i;

	for (i = 0; i < nitems(cases); i++) {
		int got = util_utf8_valid(cases[i].s, cases[i].len);
		if (got != cases[i].valid)
			fail_msg("%s: util_utf8_valid = %d, expected %d", cases[i].name, got,
			    cases[i].valid);
	}
}

/* ---- base64 ---- */

static void
test_base64_vectors(void **state)
{
	static const struct {
		const char *in;
		size_t len;
		const char *out;
	} v[] = {
		/* RFC 4648 section 10. */
		{ "", 0, "" },
		{ "f", 1, "Zg==" },
		{ "fo", 2, "Zm8=" },
		{ "foo", 3, "Zm9v" },
		{ "foob", 4, "Zm9vYg==" },
		{ "fooba", 5, "Zm9vYmE=" },
		{ "foobar", 6, "Zm9vYmFy" },
		/* Binary, and the two last alphabet characters. */
		{ "\x00", 1, "AA==" },
		{ "\x00\xff\xfe", 3, "AP/+" },
		{ "\xfb\xff", 2, "+/8=" },
		{ "\xff\xff\xff\xff", 4, "/////w==" },
	};
	size_t i;

	for (i = 0; i < nitems(v); i++) {
		char *s = util_base64((const unsigned char *)v[i].in, v[i].len);
		assert_string_equal(s, v[i].out);
		free(s);
	}
}

/* ---- logging helpers ---- */

static void
test_redact_url(void **state)
{
	static const struct {
		const char *in, *out;
	} v[] = {
		{ "https://example.com/a/b.py", "https://example.com/a/b.py" },
		{ "file:///srv/paia/in/p.py", "file:///srv/paia/in/p.py" },
		{ "s3://bucket/key", "s3://bucket/key" },
		{ "no scheme at all", "no scheme at all" },
		{ "", "" },
		{ "https://user:pass@example.com/x", "https://REDACTED@example.com/x" },
		{ "https://tok@example.com", "https://REDACTED@example.com" },
		{ "https://h/p.py?X-Amz-Signature=abc&X-Amz-Credential=k",
		    "https://h/p.py?REDACTED" },
		{ "https://h/p.py#frag", "https://h/p.py#REDACTED" },
		{ "https://u:p@h/p?sig=1", "https://REDACTED@h/p?REDACTED" },
		/* An @ in the path is not a credential. */
		{ "https://h/a@b", "https://h/a@b" },
	};
	size_t i;
	char *s;

	for (i = 0; i < nitems(v); i++) {
		s = log_redact_url(v[i].in);
		assert_string_equal(s, v[i].out);
		free(s);
	}
	s = log_redact_url(NULL);
	assert_string_equal(s, "");
	free(s);

	/* Whatever the exact shape, the secrets themselves never survive. */
	s = log_redact_url("https://alice:hunter2@h.example/p?token=s3cr3t#x");
	assert_null(strstr(s, "alice"));
	assert_null(strstr(s, "hunter2"));
	assert_null(strstr(s, "s3cr3t"));
	assert_non_null(strstr(s, "h.example/p"));
	free(s);
}

static void
test_key_is_secret(void **state)
{
	static const struct {
		const char *key;
		int secret;
	} v[] = {
		{ "sasl.password", 1 },
		{ "ssl.key.password", 1 },
		{ "ssl.keystore.password", 1 },
		{ "SASL.PASSWORD", 1 },
		{ "sasl.oauthbearer.client.secret", 1 },
		{ "sasl.oauthbearer.config", 1 },
		{ "api_token", 1 },
		{ "ssl.key.pem", 1 },
		{ "credentials", 1 },
		{ "bootstrap.servers", 0 },
		{ "group.id", 0 },
		{ "ssl.key.location", 0 },
		{ "ssl.keystore.location", 0 },
		{ "aws_access_key_id", 0 },
		/* Regression: an "access_key" exemption once hid these. */
		{ "aws_secret_access_key", 1 },
		{ "secret_access_key", 1 },
		{ "s3_secret_key", 1 },
		{ "s3_access_key", 1 },
		{ "S3_SECRET_KEY", 1 },
		/* A file holding a key is named, not masked. */
		{ "s3_secret_key_file", 0 },
		{ "ssl_key_file", 0 },
		{ "secret_file_name", 1 },
		{ "max_inflight", 0 },
		{ "result_prefix", 0 },
		{ "", 0 },
	};
	size_t i;
	int bad = 0;

	for (i = 0; i < nitems(v); i++) {
		int got = log_key_is_secret(v[i].key);
		if (got != v[i].secret) {
			print_error("log_key_is_secret(\"%s\") = %d, expected %d\n", v[i].key, got,
			    v[i].secret);
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}


static void
test_log_quote(void **state)
{
	char *q;

	q = log_quote("plain");
	assert_string_equal(q, "\"plain\"");
	free(q);
	q = log_quote("a \"b\" \\ c\nd\te");
	assert_string_equal(q, "\"a \\\"b\\\" \\\\ c\\nd\\x09e\"");
	free(q);
}

static void
test_log_q(void **state)
{
	const char *q[8];
	char want[16];
	int i;

	assert_string_equal(log_q(NULL), "\"\"");
	/* Eight results stay valid at once. */
	for (i = 0; i < 8; i++) {
		snprintf(want, sizeof want, "v %d", i);
		q[i] = log_q(want);
	}
	for (i = 0; i < 8; i++) {
		snprintf(want, sizeof want, "\"v %d\"", i);
		assert_string_equal(q[i], want);
	}
}

/* ---- parsing ---- */

static void
test_parse_int(void **state)
{
	static const struct {
		const char *s;
		long long min, max;
		int rc;
		long long v;
	} v[] = {
		{ "0", 0, 10, 0, 0 },
		{ "42", 0, 100, 0, 42 },
		{ "10", 1, 10, 0, 10 },
		{ "1", 1, 10, 0, 1 },
		{ "11", 1, 10, -1, 0 },
		{ "0", 1, 10, -1, 0 },
		{ "-1", 0, 10, -1, 0 },
		{ "-5", -10, 10, 0, -5 },
		{ "9223372036854775807", 0, INT64_MAX, 0, INT64_MAX },
		{ "9223372036854775808", 0, INT64_MAX, -1, 0 },
		{ "99999999999999999999", 0, INT64_MAX, -1, 0 },
		{ "", 0, 10, -1, 0 },
		{ "abc", 0, 10, -1, 0 },
		{ "5x", 0, 10, -1, 0 },
		{ "5 ", 0, 10, -1, 0 },
		{ "1.5", 0, 10, -1, 0 },
		{ "0x10", 0, 100, -1, 0 },
	};
	size_t i;
	long long out;

	for (i = 0; i < nitems(v); i++) {
		out = -12345;
		int rc = util_parse_int(v[i].s, v[i].min, v[i].max, &out);
		if (rc != v[i].rc)
			fail_msg("util_parse_int(\"%s\", %lld, %lld) = %d, expected %d", v[i].s,
			    v[i].min, v[i].max, rc, v[i].rc);
		if (rc == 0)
			assert_int_equal(out, v[i].v);
		else
			assert_int_equal(out, -12345);	/* untouched on failure */
	}
	assert_int_equal(util_parse_int(NULL, 0, 10, &out), -1);
}

static void
test_parse_bool(void **state)
{
	static const char *yes[] = { "true", "TRUE", "True", "yes", "Yes", "on", "ON", "1" };
	static const char *no[] = { "false", "FALSE", "no", "No", "off", "OFF", "0" };
	static const char *bad[] = { "", "2", "tru", "truex", "y", "n", "enable", " true" };
	size_t i;
	int b;

	for (i = 0; i < nitems(yes); i++) {
		b = -1;
		assert_int_equal(util_parse_bool(yes[i], &b), 0);
		assert_int_equal(b, 1);
	}
	for (i = 0; i < nitems(no); i++) {
		b = -1;
		assert_int_equal(util_parse_bool(no[i], &b), 0);
		assert_int_equal(b, 0);
	}
	for (i = 0; i < nitems(bad); i++) {
		b = -1;
		if (util_parse_bool(bad[i], &b) != -1)
			fail_msg("util_parse_bool(\"%s\") accepted", bad[i]);
		assert_int_equal(b, -1);
	}
}

/* ---- files ---- */

/* A temporary file holding len bytes of data; returns its path. */
static char *
tmp_file(const void *data, size_t len)
{
	const char *tmp = getenv("TMPDIR");
	char *path;
	int fd;

	assert_true(asprintf(&path, "%s/paia-test-util-XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp") > 0);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
	return path;
}

static void
test_sha256_file(void **state)
{
	static const struct {
		const char *data;
		size_t repeat;
		const char *hex;
	} v[] = {
		{ "abc", 1, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
		{ "", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
		/* One million "a": larger than the 64 KiB read buffer. */
		{ "a", 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0" },
	};
	size_t i, j, n;
	char out[65], *path, *cause = NULL, *buf;

	for (i = 0; i < nitems(v); i++) {
		n = strlen(v[i].data) * v[i].repeat;
		buf = malloc(n + 1);
		assert_non_null(buf);
		for (j = 0; j < v[i].repeat; j++)
			memcpy(buf + j * strlen(v[i].data), v[i].data, strlen(v[i].data));
		path = tmp_file(buf, n);
		memset(out, 'x', sizeof out);
		assert_int_equal(util_sha256_file(path, out, &cause), 0);
		assert_null(cause);
		assert_string_equal(out, v[i].hex);
		unlink(path);
		free(path);
		free(buf);
	}

	assert_int_equal(util_sha256_file("/nonexistent/paia-test", out, &cause), -1);
	assert_non_null(cause);
	assert_non_null(strstr(cause, "/nonexistent/paia-test"));
	free(cause);
}

static void
test_read_write_file(void **state)
{
	const char *tmp = getenv("TMPDIR");
	char *dir, *path, *cause = NULL, *s;
	size_t len;

	assert_true(asprintf(&dir, "%s/paia-test-util-dir-XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp") > 0);
	assert_non_null(mkdtemp(dir));
	assert_int_equal(asprintf(&path, "%s/a/b/c.txt", dir) > 0, 1);
	/* util_mkdirs of the parent, then an atomic write and a read back. */
	*strrchr(path, '/') = '\0';
	assert_int_equal(util_mkdirs(path, 0700, &cause), 0);
	assert_int_equal(util_mkdirs(path, 0700, &cause), 0);	/* exists: fine */
	path[strlen(path)] = '/';
	assert_int_equal(util_write_file(path, "hello\0world", 11, 0600, &cause), 0);
	assert_int_equal(util_file_size(path), 11);
	s = util_read_file(path, 100, &len, &cause);
	assert_non_null(s);
	assert_int_equal(len, 11);
	assert_memory_equal(s, "hello\0world", 12);
	free(s);
	/* Over the limit fails naming the file. */
	assert_null(util_read_file(path, 5, &len, &cause));
	assert_non_null(strstr(cause, path));
	free(cause);
	cause = NULL;
	assert_int_equal(util_rmtree(dir), 0);
	assert_int_equal(util_file_size(path), -1);
	assert_int_equal(access(dir, F_OK), -1);
	free(path);
	free(dir);
}

static void
test_time_fmt(void **state)
{
	char buf[40];

	assert_string_equal(util_time_fmt(0, buf, sizeof buf), "1970-01-01T00:00:00.000Z");
	assert_string_equal(util_time_fmt(1700000000123LL, buf, sizeof buf),
	    "2023-11-14T22:13:20.123Z");
	assert_string_equal(util_time_fmt(951782400999LL, buf, sizeof buf),
	    "2000-02-29T00:00:00.999Z");
}

/* util_find_control and util_cut: what error messages quote from outside. */
static void
test_control_and_cut(void **state)
{
	char *s;

	assert_null(util_find_control(""));
	assert_null(util_find_control("plain t\xc3\xa9xt ~"));
	assert_string_equal(util_find_control("a\tb"), "\tb");
	assert_string_equal(util_find_control("ab\x7f"), "\x7f");
	assert_string_equal(util_find_control("\x1b[2J"), "\x1b[2J");

	s = util_cut("short", 64);
	assert_string_equal(s, "short");
	free(s);
	s = util_cut("abcdef", 6);
	assert_string_equal(s, "abcdef");
	free(s);
	s = util_cut("abcdefg", 6);
	assert_string_equal(s, "abcdef...");
	free(s);
	/* Never inside a character: "ab" + 2-byte e-acute cut at 3 keeps "ab". */
	s = util_cut("ab\xc3\xa9" "cd", 3);
	assert_string_equal(s, "ab...");
	free(s);
	s = util_cut("ab\xc3\xa9" "cd", 4);
	assert_string_equal(s, "ab\xc3\xa9...");
	free(s);
}

static void
test_url_encode(void **state)
{
	char *s;

	s = util_url_encode("/tmp/a b/100%/\"x\"?#\xc3\xa9", 1);
	assert_string_equal(s, "/tmp/a%20b/100%25/%22x%22%3F%23%C3%A9");
	free(s);
	s = util_url_encode("a/b", 0);
	assert_string_equal(s, "a%2Fb");
	free(s);
}

/* A datagram socket standing in for systemd's; returns its fd. */
static int
notify_listener(struct sockaddr_un *sa, socklen_t *len, const char *name)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);

	memset(sa, 0, sizeof *sa);
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, name, strlen(name));
	if (name[0] == '@')
		sa->sun_path[0] = '\0';
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(name));
	assert_int_equal(bind(fd, (struct sockaddr *)sa, *len), 0);
	return fd;
}

static void
test_notify(void **state)
{
	const char *tmp = getenv("TMPDIR");
	struct sockaddr_un sa;
	socklen_t len;
	char path[108], buf[64], *cause = NULL;
	ssize_t n;
	int fd;

	/* Not under a notify unit: nothing to do, no error. */
	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(notify_send("READY=1", &cause), 0);

	snprintf(path, sizeof path, "%s/paia-notify-%d", tmp != NULL && *tmp != '\0' &&
	    strlen(tmp) < 60 ? tmp : "/tmp", (int)getpid());
	unlink(path);
	fd = notify_listener(&sa, &len, path);
	setenv("NOTIFY_SOCKET", path, 1);
	assert_int_equal(notify_send("READY=1", &cause), 0);
	n = recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT);
	assert_int_equal(n, 7);
	buf[n] = '\0';
	assert_string_equal(buf, "READY=1");
	close(fd);
	unlink(path);

	/* The abstract namespace, written with '@'. */
	snprintf(path, sizeof path, "@paia-notify-%d", (int)getpid());
	fd = notify_listener(&sa, &len, path);
	setenv("NOTIFY_SOCKET", path, 1);
	assert_int_equal(notify_send("STOPPING=1", &cause), 0);
	n = recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT);
	assert_int_equal(n, 10);
	close(fd);

	/* Nobody listening, or not a socket name: an error naming it. */
	setenv("NOTIFY_SOCKET", "/nonexistent/notify", 1);
	assert_int_equal(notify_send("READY=1", &cause), -1);
	assert_string_equal(cause, "NOTIFY_SOCKET /nonexistent/notify: No such file or directory");
	free(cause);
	setenv("NOTIFY_SOCKET", "relative", 1);
	assert_int_equal(notify_send("READY=1", &cause), -1);
	assert_non_null(strstr(cause, "not a socket path"));
	free(cause);
	unsetenv("NOTIFY_SOCKET");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff_bounds),
		cmocka_unit_test(test_backoff_clamps_init),
		cmocka_unit_test(test_backoff_reset),
		cmocka_unit_test(test_backoff_jitter),
		cmocka_unit_test(test_utf8_valid),
		cmocka_unit_test(test_base64_vectors),
		cmocka_unit_test(test_redact_url),
		cmocka_unit_test(test_key_is_secret),
		cmocka_unit_test(test_log_quote),
		cmocka_unit_test(test_log_q),
		cmocka_unit_test(test_parse_int),
		cmocka_unit_test(test_parse_bool),
		cmocka_unit_test(test_sha256_file),
		cmocka_unit_test(test_read_write_file),
		cmocka_unit_test(test_time_fmt),
		cmocka_unit_test(test_control_and_cut),
		cmocka_unit_test(test_url_encode),
		cmocka_unit_test(test_notify),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
