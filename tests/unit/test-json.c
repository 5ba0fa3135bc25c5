/*
 * test-json.c: the strict JSON checker of common/json.c: a table of
 * texts it must refuse (each with the byte it must point at and words
 * its cause must hold) and of texts it must accept (each also parsed by
 * cJSON, which must agree), the spans of a top-level object's members,
 * the nesting limit at its edge, and the short form of long names in
 * causes.
 */
#include "config.h"
#include "common.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

struct bad {
	const char *text;
	size_t len;		/* 0: strlen(text) */
	size_t at;		/* errpos */
	const char *cause;	/* must appear in the cause */
};

static const struct bad bad[] = {
	/* framing */
	{ "", 0, 0, "no text" },
	{ " \t\r\n", 0, 4, "only whitespace" },
	{ "\xef\xbb\xbf{}", 0, 0, "byte order mark" },
	{ "{} x", 0, 3, "trailing data ('x') after the value" },
	{ "{}{}", 0, 2, "trailing data ('{') after the value" },
	{ "{}\0", 3, 2, "trailing data (a NUL byte) after the value" },
	{ "{\"a\":1}\x01", 0, 7, "trailing data (byte 0x01) after the value" },
	{ "\x0c{}", 0, 0, "expected a value, found byte 0x0c" },	/* form feed is not whitespace */
	{ "{\"a\":1", 0, 6, "expected ',' or '}'" },
	{ "[1,2", 0, 4, "expected ',' or ']'" },
	{ "{\"a\" 1}", 0, 5, "expected ':'" },
	{ "{'a':1}", 0, 1, "expected a name" },
	{ "{a:1}", 0, 1, "expected a name" },
	{ "{\"a\":1,}", 0, 7, "a comma before '}'" },
	{ "[1,]", 0, 3, "a comma before ']'" },
	{ "[,1]", 0, 1, "expected a value, found ','" },
	{ "{,}", 0, 1, "expected a name" },
	{ "[1 2]", 0, 3, "expected ',' or ']'" },
	{ "{\"a\":}", 0, 5, "expected a value, found '}'" },
	{ "tru", 0, 0, "expected a value" },
	{ "True", 0, 0, "expected a value" },
	{ "nul", 0, 0, "expected a value" },
	{ "undefined", 0, 0, "expected a value" },
	{ "NaN", 0, 0, "expected a value" },
	{ "[Infinity]", 0, 1, "expected a value" },
	{ "/* c */{}", 0, 0, "expected a value" },
	/* numbers */
	{ "01", 0, 0, "leading zero" },
	{ "[-01]", 0, 1, "leading zero" },
	{ "[00]", 0, 1, "leading zero" },
	{ "{\"a\":007}", 0, 5, "leading zero" },
	{ "1.", 0, 0, "digits after its '.'" },
	{ "[1.e5]", 0, 1, "digits after its '.'" },
	{ ".5", 0, 0, "start with a digit or '-'" },
	{ "[-.5]", 0, 1, "digit after '-'" },
	{ "-", 0, 0, "digit after '-'" },
	{ "+1", 0, 0, "expected a value, found '+'" },
	{ "1e", 0, 0, "exponent" },
	{ "1e+", 0, 0, "exponent" },
	{ "[1E-]", 0, 1, "exponent" },
	{ "0x10", 0, 1, "trailing data ('x') after the value" },
	{ "1.5.5", 0, 3, "trailing data ('.') after the value" },
	{ "[1 000]", 0, 3, "expected ',' or ']'" },
	/* strings */
	{ "\"abc", 0, 0, "not closed" },
	{ "[\"a\\\"]", 0, 1, "not closed" },
	{ "\"a\\", 0, 0, "not closed" },
	{ "\"a\nb\"", 0, 2, "control character 0x0a" },
	{ "\"a\tb\"", 0, 2, "control character 0x09" },
	{ "\"a\x1f\"", 0, 2, "control character 0x1f" },
	{ "\"a\0b\"", 5, 2, "control character 0x00" },
	{ "\"\\u0000\"", 0, 1, "\\u0000 (NUL)" },
	{ "{\"k\":\"a\\u0000b\"}", 0, 7, "\\u0000" },
	{ "{\"a\\u0000b\":1}", 0, 3, "\\u0000" },
	{ "[\"\\x41\"]", 0, 2, "invalid escape" },
	{ "[\"\\a\"]", 0, 2, "invalid escape" },
	{ "[\"\\'\"]", 0, 2, "invalid escape" },
	{ "[\"\\U0041\"]", 0, 2, "invalid escape" },
	{ "[\"\\u12\"]", 0, 2, "four hex digits" },
	{ "[\"\\u12G4\"]", 0, 2, "four hex digits" },
	{ "[\"\\ud800\"]", 0, 2, "lone surrogate \\ud800" },
	{ "[\"\\uDBFFx\"]", 0, 2, "lone surrogate \\udbff" },
	{ "[\"\\udc00\"]", 0, 2, "lone surrogate \\udc00" },
	{ "[\"\\ud800\\u0041\"]", 0, 2, "lone surrogate" },
	{ "[\"\\ud800\\ud800\"]", 0, 2, "lone surrogate" },
	{ "[\"\\ud800\\n\"]", 0, 2, "lone surrogate" },
	{ "[\"\xc0\xaf\"]", 0, 2, "invalid UTF-8" },		/* overlong */
	{ "[\"\xed\xa0\x80\"]", 0, 2, "invalid UTF-8" },	/* surrogate */
	{ "[\"\xf4\x90\x80\x80\"]", 0, 2, "invalid UTF-8" },	/* above U+10FFFF */
	{ "[\"\xe2\x82\"]", 0, 2, "invalid UTF-8" },		/* cut short */
	{ "[\"caf\xe9\"]", 0, 5, "invalid UTF-8" },		/* Latin-1 */
	{ "\xff", 0, 0, "byte 0xff" },
	/* duplicate names, anywhere, compared unescaped */
	{ "{\"a\":1,\"a\":2}", 0, 7, "duplicate name \"a\"" },
	{ "{\"a\":1,\"b\":2,\"a\":3,\"b\":4}", 0, 13, "duplicate name \"a\"" },
	{ "{\"b\":1,\"a\":2,\"b\":3,\"a\":4}", 0, 13, "duplicate name \"b\"" },
	{ "{\"a\":1,\"\\u0061\":2}", 0, 7, "duplicate name \"a\"" },
	{ "{\"\\/\":1,\"/\":2}", 0, 8, "duplicate name \"/\"" },
	{ "{\"\\ud83d\\ude00\":1,\"\xf0\x9f\x98\x80\":2}", 0, 18, "duplicate name \"\xf0\x9f\x98\x80\"" },
	{ "{\"p\":{\"x\":1,\"x\":2}}", 0, 12, "duplicate name \"x\"" },
	{ "[{},{\"q\":[{\"k\":1,\"k\":1}]}]", 0, 17, "duplicate name \"k\"" },
	{ "{\"\":1,\"\":2}", 0, 6, "duplicate name \"\"" },
	{ "{\"a\\\"b\":1,\"a\\\"b\":2}", 0, 10, "duplicate name \"a\\\"b\"" },
	{ "{\"\\u0001\":1,\"\\u0001\":2}", 0, 12, "duplicate name \"\\u0001\"" },
};

struct good {
	const char *text;
	enum json_type type;
};

static const struct good good[] = {
	{ "{}", JSON_OBJECT },
	{ " \t\r\n{ } \r\n", JSON_OBJECT },
	{ "[]", JSON_ARRAY },
	{ "0", JSON_NUMBER },
	{ "-0", JSON_NUMBER },
	{ "-0.0", JSON_NUMBER },
	{ "[1e400]", JSON_ARRAY },
	{ "1E+2", JSON_NUMBER },
	{ "1e-2", JSON_NUMBER },
	{ "0.5e0", JSON_NUMBER },
	{ "9007199254740993", JSON_NUMBER },
	{ "-12345678901234567890123456789012345678901234567890123456789012345678901234567890",
	  JSON_NUMBER },
	{ "\"\"", JSON_STRING },
	{ "\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t\"", JSON_STRING },
	{ "\"\\u0001\\u001f\\u007f\\u00e9\\uFFFF\"", JSON_STRING },
	{ "\"\\ud83d\\ude00 \xf0\x9f\x98\x80 \xe2\x82\xac \xc3\xa9 \x7f\"", JSON_STRING },
	{ "true", JSON_TRUE },
	{ "false", JSON_FALSE },
	{ "null", JSON_NULL },
	/* the same name in different objects is fine */
	{ "{\"a\":{\"a\":{\"a\":1}},\"b\":[{\"a\":1},{\"a\":2}]}", JSON_OBJECT },
	{ "{\"a\":1,\"A\":2,\"a \":3,\"\\u0061b\":4}", JSON_OBJECT },
	{ "[[[[[[[[[[{\"k\":[]}]]]]]]]]]]", JSON_ARRAY },
};

static void
test_refused(void **state)
{
	size_t i, at;
	char *cause;
	int failures = 0;

	for (i = 0; i < nitems(bad); i++) {
		const struct bad *b = &bad[i];
		size_t len = b->len != 0 ? b->len : strlen(b->text);
		struct json_doc doc;

		at = 999;
		cause = NULL;
		if (json_check(b->text, len, &doc, &at, &cause) != -1) {
			print_error("case %zu %s: accepted\n", i, b->text);
			failures++;
			json_doc_free(&doc);
			continue;
		}
		if (cause == NULL || strstr(cause, b->cause) == NULL || at != b->at) {
			print_error("case %zu %s: cause \"%s\" at %zu, expected \"%s\" at %zu\n", i,
			    b->text, cause != NULL ? cause : "NULL", at, b->cause, b->at);
			failures++;
		}
		/* Causes are short: no text is repeated at length. */
		if (cause != NULL && strlen(cause) > 120) {
			print_error("case %zu: cause too long: %s\n", i, cause);
			failures++;
		}
		assert_null(doc.members);
		free(cause);
	}
	assert_int_equal(failures, 0);
}

static void
test_accepted(void **state)
{
	size_t i, at;
	char *cause;
	struct json_doc doc;
	cJSON *j;

	for (i = 0; i < nitems(good); i++) {
		cause = NULL;
		if (json_check(good[i].text, strlen(good[i].text), &doc, &at, &cause) != 0)
			fail_msg("%s refused at %zu: %s", good[i].text, at, cause);
		assert_int_equal(doc.type, good[i].type);
		/* What passes here parses in cJSON. */
		j = cJSON_ParseWithLength(good[i].text, strlen(good[i].text));
		if (j == NULL)
			fail_msg("cJSON refuses %s", good[i].text);
		cJSON_Delete(j);
		json_doc_free(&doc);
	}
	/* doc, errpos and cause are optional. */
	assert_int_equal(json_check("{}", 2, NULL, NULL, NULL), 0);
	assert_int_equal(json_check("{", 1, NULL, NULL, NULL), -1);
	assert_int_equal(json_check(NULL, 0, NULL, NULL, NULL), -1);
	/* The length ends the text, not a NUL. */
	assert_int_equal(json_check("{}GARBAGE", 2, NULL, NULL, NULL), 0);
}

static void
test_members(void **state)
{
	static const char text[] = " {\"a\" : 1 ,\"b\":{\"x\":[1,2]},\"c\\u0064\":\"s\",\"e\":9007199254740993} ";
	struct json_doc doc;
	const struct json_member *m;

	assert_int_equal(json_check(text, strlen(text), &doc, NULL, NULL), 0);
	assert_int_equal(doc.type, JSON_OBJECT);
	assert_int_equal(doc.start, 1);
	assert_int_equal(doc.end, strlen(text) - 1);
	assert_int_equal(doc.nmembers, 4);
	assert_string_equal(doc.members[0].name, "a");
	assert_int_equal(doc.members[0].name_off, 2);
	assert_memory_equal(text + doc.members[0].value_off, "1 ", 2);
	assert_int_equal(doc.members[0].value_end - doc.members[0].value_off, 1);
	m = json_doc_member(&doc, "b");
	assert_non_null(m);
	assert_int_equal(m->value_end - m->value_off, strlen("{\"x\":[1,2]}"));
	assert_memory_equal(text + m->value_off, "{\"x\":[1,2]}", m->value_end - m->value_off);
	/* Names are unescaped. */
	m = json_doc_member(&doc, "cd");
	assert_non_null(m);
	assert_memory_equal(text + m->value_off, "\"s\"", 3);
	m = json_doc_member(&doc, "e");
	assert_memory_equal(text + m->value_off, "9007199254740993", m->value_end - m->value_off);
	assert_null(json_doc_member(&doc, "x"));	/* nested names are not members */
	json_doc_free(&doc);

	/* Only a top-level object has members. */
	assert_int_equal(json_check("[{\"a\":1}]", 9, &doc, NULL, NULL), 0);
	assert_int_equal(doc.nmembers, 0);
	assert_int_equal(doc.type, JSON_ARRAY);
	json_doc_free(&doc);
}

/* n levels of arrays around a 0, or of objects around a 0. */
static char *
nested(size_t n, int objects)
{
	char *s = malloc(n * 6 + 2), *p = s;
	size_t i;

	assert_non_null(s);
	for (i = 0; i < n; i++) {
		if (objects) {
			memcpy(p, "{\"k\":", 5);
			p += 5;
		} else
			*p++ = '[';
	}
	*p++ = '0';
	for (i = 0; i < n; i++)
		*p++ = objects ? '}' : ']';
	*p = '\0';
	return s;
}

static void
test_depth(void **state)
{
	char *s, *cause = NULL;
	size_t at;
	int objects;

	for (objects = 0; objects <= 1; objects++) {
		s = nested(JSON_DEPTH_MAX, objects);
		assert_int_equal(json_check(s, strlen(s), NULL, NULL, NULL), 0);
		free(s);
		s = nested(JSON_DEPTH_MAX + 1, objects);
		assert_int_equal(json_check(s, strlen(s), NULL, &at, &cause), -1);
		assert_non_null(strstr(cause, "nested deeper than 64"));
		assert_int_equal(at, JSON_DEPTH_MAX * (objects ? 5 : 1));
		free(cause);
		free(s);
	}
	/* Far deeper: refused as fast, without exhausting the stack. */
	s = nested(1000000, 0);
	assert_int_equal(json_check(s, strlen(s), NULL, NULL, NULL), -1);
	free(s);
}

static void
test_long_names(void **state)
{
	char name[200], text[500], *cause = NULL;

	/* A long name is cut in the cause, and never inside a character. */
	snprintf(name, sizeof name, "%s\xc3\xa9%s", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	    "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy");
	snprintf(text, sizeof text, "{\"%s\":1,\"%s\":2}", name, name);
	assert_int_equal(json_check(text, strlen(text), NULL, NULL, &cause), -1);
	assert_non_null(strstr(cause, "duplicate name \"xxx"));
	assert_non_null(strstr(cause, "xxx\"..."));
	assert_null(strstr(cause, "\xc3"));
	assert_null(strstr(cause, "y"));
	assert_true(strlen(cause) < 100);
	free(cause);
}

static void
test_big(void **state)
{
	/* Many names in one object: duplicates are still found, quickly. */
	size_t n = 100000, i;
	char *s = malloc(n * 16 + 16), *p = s, *cause = NULL;
	size_t at;

	assert_non_null(s);
	*p++ = '{';
	for (i = 0; i < n; i++)
		p += sprintf(p, "%s\"k%zu\":%zu", i ? "," : "", i, i);
	p += sprintf(p, ",\"k%zu\":0}", n / 2);
	assert_int_equal(json_check(s, (size_t)(p - s), NULL, &at, &cause), -1);
	assert_non_null(strstr(cause, "duplicate name \"k50000\""));
	free(cause);
	/* Without the repeat it passes. */
	i = (size_t)(p - s) - strlen(",\"k50000\":0}");
	s[i] = '}';
	assert_int_equal(json_check(s, i + 1, NULL, NULL, NULL), 0);
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_accepted),
		cmocka_unit_test(test_members),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_long_names),
		cmocka_unit_test(test_big),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
