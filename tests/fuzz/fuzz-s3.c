/*
 * fuzz-s3.c: what an S3 server (or anything posing as one) sends back,
 * and the s3:// URLs tasks carry: the XML field extraction and error
 * messages of gateway/storage-s3.c, and s3:// URL parsing.
 *
 * Properties: a field's text is never longer than the document; an error
 * message has no control characters and a bounded length; an accepted
 * URL splits into a valid bucket and a key that rebuild it, and its
 * request URL holds no byte outside the URL-safe set.
 */
#include "config.h"
#include "storage-int.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *tags[] = { "UploadId", "Code", "Message", "ETag", "Error", "Key" };

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *doc = (const char *)data;
	char *t, *code = NULL, *copy, *url, *bucket, *key, *cause = NULL, *u, *back;
	size_t i;

	for (i = 0; i < sizeof tags / sizeof tags[0]; i++) {
		t = storage_s3_xml_text(doc, size, tags[i]);
		if (t != NULL)
			assert(strlen(t) <= size);
		free(t);
	}
	t = storage_s3_error_text(size > 0 ? 100 + data[0] : 500, doc, size, &code);
	assert(strlen(t) <= 4 + 64 + 2 + 300 + 16);
	for (i = 0; t[i] != '\0'; i++)
		assert((unsigned char)t[i] >= 0x20 && t[i] != 0x7f);
	if (code != NULL)
		assert(*code != '\0' && strlen(code) <= 64);
	free(t);
	free(code);

	/* The same bytes as an s3:// URL. */
	copy = malloc(size + 1);
	memcpy(copy, data, size);
	copy[size] = '\0';
	if (asprintf(&url, "s3://%s", copy) < 0)
		abort();
	if (storage_s3_parse_url(url, &bucket, &key, &cause) == 0) {
		assert(strlen(bucket) >= 3 && strlen(bucket) <= 63);
		assert(strspn(bucket, "abcdefghijklmnopqrstuvwxyz0123456789.-") == strlen(bucket));
		assert(strchr(key, '?') == NULL && strchr(key, '#') == NULL);
		if (asprintf(&back, "s3://%s%s%s", bucket, strchr(copy, '/') != NULL ? "/" : "",
		    key) < 0)
			abort();
		assert(strcmp(back, url) == 0);
		u = storage_s3_object_url("http", "h:1", 1, bucket, key, NULL);
		for (i = 0; u[i] != '\0'; i++)
			assert(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			    "0123456789-_.~/:%", u[i]) != NULL);
		free(u);
		free(back);
		free(bucket);
		free(key);
	} else {
		assert(cause != NULL);
		free(cause);
	}
	free(url);
	free(copy);
	return 0;
}
