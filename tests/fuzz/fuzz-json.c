/*
 * fuzz-json.c: the strict JSON checker (common/json.c) against cJSON.
 * Whatever json_check accepts, cJSON must parse, as the same kind of
 * value, and a top-level object's members must match cJSON's children
 * one for one (names, order) with each member's span itself a JSON value
 * that passes. Whatever it refuses gets a short cause and a position
 * inside the text. Neither may crash, leak or read out of bounds.
 */
#include "config.h"
#include "common.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
fuzz_json_same_type(enum json_type t, const cJSON *j)
{
	switch (t) {
	case JSON_NULL:
		return cJSON_IsNull(j);
	case JSON_FALSE:
		return cJSON_IsFalse(j);
	case JSON_TRUE:
		return cJSON_IsTrue(j);
	case JSON_NUMBER:
		return cJSON_IsNumber(j);
	case JSON_STRING:
		return cJSON_IsString(j);
	case JSON_ARRAY:
		return cJSON_IsArray(j);
	case JSON_OBJECT:
		return cJSON_IsObject(j);
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_doc doc;
	const cJSON *c;
	cJSON *j;
	char *cause = NULL;
	size_t at = 0, i;

	if (json_check(data, size, &doc, &at, &cause) != 0) {
		assert(cause != NULL && *cause != '\0' && strlen(cause) <= 120);
		assert(at <= size);
		assert(doc.members == NULL && doc.nmembers == 0);
		free(cause);
		return 0;
	}
	assert(cause == NULL);
	assert(doc.start < doc.end && doc.end <= size);
	j = cJSON_ParseWithLength((const char *)data, size);
	assert(j != NULL);
	assert(fuzz_json_same_type(doc.type, j));
	if (doc.type == JSON_OBJECT) {
		assert((size_t)cJSON_GetArraySize(j) == doc.nmembers);
		for (i = 0, c = j->child; i < doc.nmembers; i++, c = c->next) {
			const struct json_member *m = &doc.members[i];
			assert(c != NULL && strcmp(c->string, m->name) == 0);
			assert(json_doc_member(&doc, m->name) == m);
			assert(m->name_off < m->value_off && m->value_off < m->value_end &&
			    m->value_end <= doc.end);
			assert(json_check(data + m->value_off, m->value_end - m->value_off, NULL,
			    NULL, NULL) == 0);
		}
	} else
		assert(doc.nmembers == 0);
	cJSON_Delete(j);
	json_doc_free(&doc);
	return 0;
}
