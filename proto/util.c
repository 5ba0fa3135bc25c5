/*
 * util.c: what proto/'s decoders share: typed field readers that name
 * the field a record got wrong, and the ownership of decoded views
 * (their strings point into the parsed object they keep).
 */
#include "config.h"
#include "proto-int.h"

#include <math.h>
#include <stdlib.h>

#include "common.h"

struct proto_own *
proto_own_new(cJSON *root)
{
	struct proto_own *o = xcalloc(1, sizeof *o);

	o->root = root;
	return o;
}

void
proto_own_free(void *own)
{
	struct proto_own *o = own;
	size_t i;

	if (o == NULL)
		return;
	cJSON_Delete(o->root);
	for (i = 0; i < nitems(o->arrays); i++)
		free(o->arrays[i]);
	free(o);
}

static int
proto_wrong(const char *name, const char *want, const cJSON *j, char **cause)
{
	xasprintf(cause, "field '%s' must be %s, not %s", name, want, proto_type_name(j));
	return -1;
}

int
proto_need(const cJSON *obj, const char *name, char **cause)
{
	if (cJSON_GetObjectItemCaseSensitive(obj, name) != NULL)
		return 0;
	xasprintf(cause, "field '%s' is missing", name);
	return -1;
}

int
proto_get_str(const cJSON *obj, const char *name, const char **out, char **cause)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, name);

	if (j == NULL || cJSON_IsNull(j))
		return 0;
	if (!cJSON_IsString(j))
		return proto_wrong(name, "a string", j, cause);
	*out = j->valuestring;
	return 0;
}

int
proto_get_double(const cJSON *obj, const char *name, double *out, char **cause)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, name);

	if (j == NULL || cJSON_IsNull(j))
		return 0;
	if (!cJSON_IsNumber(j) || !isfinite(j->valuedouble))
		return proto_wrong(name, "a number", j, cause);
	*out = j->valuedouble;
	return 0;
}

int
proto_get_i64(const cJSON *obj, const char *name, int64_t *out, char **cause)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, name);
	double v;

	if (j == NULL || cJSON_IsNull(j))
		return 0;
	if (!cJSON_IsNumber(j))
		return proto_wrong(name, "an integer", j, cause);
	v = j->valuedouble;
	if (v != floor(v) || fabs(v) > 9007199254740992.0) {
		xasprintf(cause, "field '%s' must be an integer of at most 2^53", name);
		return -1;
	}
	*out = (int64_t)v;
	return 0;
}

int
proto_get_int(const cJSON *obj, const char *name, int *out, char **cause)
{
	int64_t v = *out;

	if (proto_get_i64(obj, name, &v, cause) != 0)
		return -1;
	if (v < -2147483647 || v > 2147483647) {
		xasprintf(cause, "field '%s' is out of range", name);
		return -1;
	}
	*out = (int)v;
	return 0;
}

int
proto_get_i32(const cJSON *obj, const char *name, int32_t *out, char **cause)
{
	int v = *out;

	if (proto_get_int(obj, name, &v, cause) != 0)
		return -1;
	*out = v;
	return 0;
}

int
proto_get_bool(const cJSON *obj, const char *name, int *out, char **cause)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, name);

	if (j == NULL || cJSON_IsNull(j))
		return 0;
	if (!cJSON_IsBool(j))
		return proto_wrong(name, "a boolean", j, cause);
	*out = cJSON_IsTrue(j);
	return 0;
}

int
proto_get_time(const cJSON *obj, const char *name, int64_t *out, char **cause)
{
	const char *s = NULL;

	if (proto_get_str(obj, name, &s, cause) != 0)
		return -1;
	if (s == NULL)
		return 0;
	if (util_time_parse(s, out) != 0) {
		xasprintf(cause, "field '%s' is not an RFC 3339 time", name);
		return -1;
	}
	return 0;
}

void
proto_add_time(cJSON *obj, const char *name, int64_t ms)
{
	char ts[40];

	if (ms != 0)
		cJSON_AddStringToObject(obj, name, util_time_fmt(ms, ts, sizeof ts));
}

void
proto_add_str_or_null(cJSON *obj, const char *name, const char *s)
{
	if (s != NULL)
		cJSON_AddStringToObject(obj, name, s);
	else
		cJSON_AddNullToObject(obj, name);
}

int
proto_get_array(const cJSON *obj, const char *name, const cJSON **arr, size_t *n,
    char **cause)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(obj, name), *e;

	*arr = NULL;
	*n = 0;
	if (a == NULL || cJSON_IsNull(a))
		return 0;
	if (!cJSON_IsArray(a)) {
		xasprintf(cause, "field '%s' must be an array, not %s", name, proto_type_name(a));
		return -1;
	}
	cJSON_ArrayForEach(e, a) {
		if (!cJSON_IsObject(e)) {
			xasprintf(cause, "field '%s' must hold objects, not %s", name,
			    proto_type_name(e));
			return -1;
		}
		(*n)++;
	}
	*arr = a;
	return 0;
}

cJSON *
proto_refused_encode(const struct proto_refused *r, size_t n)
{
	cJSON *arr = cJSON_CreateArray(), *e;
	size_t i;

	for (i = 0; i < n; i++) {
		e = cJSON_CreateObject();
		cJSON_AddStringToObject(e, "name", r[i].name);
		cJSON_AddStringToObject(e, "reason", r[i].reason);
		cJSON_AddItemToArray(arr, e);
	}
	return arr;
}

int
proto_refused_decode(const cJSON *arr, struct proto_refused *out, char **cause)
{
	const cJSON *e;
	size_t i = 0;

	cJSON_ArrayForEach(e, arr) {
		if (proto_get_str(e, "name", &out[i].name, cause) != 0 ||
		    proto_get_str(e, "reason", &out[i].reason, cause) != 0)
			return -1;
		i++;
	}
	return 0;
}

/* A name field that must be one of a table's names. */
int
proto_get_name(const cJSON *obj, const char *field, int required,
    int (*parse)(const char *, void *), void *out, int *present, char **cause)
{
	const char *s = NULL;

	if (present != NULL)
		*present = 0;
	if ((required && proto_need(obj, field, cause) != 0) ||
	    proto_get_str(obj, field, &s, cause) != 0)
		return -1;
	if (s == NULL) {
		if (!required)
			return 0;
		xasprintf(cause, "field '%s' must not be null", field);
		return -1;
	}
	if (parse(s, out) != 0) {
		xasprintf(cause, "field '%s' is not a name this reads", field);
		return -1;
	}
	if (present != NULL)
		*present = 1;
	return 0;
}

/* An object field (absent: NULL), or -1 when of another type. */
int
proto_get_object(const cJSON *obj, const char *name, const cJSON **out, char **cause)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, name);

	*out = NULL;
	if (j == NULL || cJSON_IsNull(j))
		return 0;
	if (!cJSON_IsObject(j)) {
		xasprintf(cause, "field '%s' must be an object, not %s", name, proto_type_name(j));
		return -1;
	}
	*out = j;
	return 0;
}
