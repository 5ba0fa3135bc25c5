/*
 * proto-int.h: what the parts of proto/ share: decoded views keep the
 * parsed object alive (their strings point into it) and the arrays
 * made for them; field readers that name a field of the wrong type.
 */
#ifndef PAIA_PROTO_INT_H
#define PAIA_PROTO_INT_H

#include "proto.h"

/* What a decoded view owns: its parsed object and the arrays built for it. */
struct proto_own {
	cJSON *root;
	void *arrays[2];
};
struct proto_own *proto_own_new(cJSON *root);
void proto_own_free(void *own);

/*
 * Readers of one optional field of obj: absent (or null when nullable)
 * leaves *out as the caller set it and returns 0; the right type sets
 * it and returns 0; anything else is -1 with *cause naming the field.
 * Strings are borrowed from obj.
 */
int proto_get_str(const cJSON *obj, const char *name, const char **out, char **cause);
int proto_get_i64(const cJSON *obj, const char *name, int64_t *out, char **cause);
int proto_get_int(const cJSON *obj, const char *name, int *out, char **cause);
int proto_get_i32(const cJSON *obj, const char *name, int32_t *out, char **cause);
int proto_get_double(const cJSON *obj, const char *name, double *out, char **cause);
int proto_get_bool(const cJSON *obj, const char *name, int *out, char **cause);
/* An array field of objects: *arr NULL when absent, *n its length. */
int proto_get_array(const cJSON *obj, const char *name, const cJSON **arr, size_t *n,
    char **cause);
/* artifacts_refused: [{name, reason}] as results and TASK carry it. */
cJSON *proto_refused_encode(const struct proto_refused *, size_t n);
/* Into out[0..n) (n from proto_get_array); strings borrowed from arr. */
int proto_refused_decode(const cJSON *arr, struct proto_refused *out, char **cause);
/* A task's "gpus" array into out[0..n) (n from proto_get_array); strings borrowed. */
int proto_task_gpus_decode(const cJSON *arr, struct proto_task_gpu *out, char **cause);
/* A required field: absent is an error too. */
int proto_need(const cJSON *obj, const char *name, char **cause);
/* An RFC 3339 timestamp field into wall ms. */
int proto_get_time(const cJSON *obj, const char *name, int64_t *out, char **cause);
/* Add an RFC 3339 timestamp, or nothing when ms is 0. */
void proto_add_time(cJSON *obj, const char *name, int64_t ms);
/* Add a string, or null when s is NULL. */
void proto_add_str_or_null(cJSON *obj, const char *name, const char *s);

#endif
