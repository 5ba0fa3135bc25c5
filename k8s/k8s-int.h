/*
 * k8s-int.h: shared inside k8s/ only: the JSON scanner the decoders
 * are built on, a growable byte buffer, and the config's fields.
 */
#ifndef PAIA_K8S_INT_H
#define PAIA_K8S_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* ---- json.c: a scanner over JSON text that is not NUL-terminated ---- */

/*
 * The scanner never builds a tree: it walks an object's members, skips
 * the values a decoder does not want (strictly validating their
 * syntax, strings found with memchr) and decodes only the strings it
 * keeps. Errors set err to the offending byte and a static reason.
 */
#define KJSON_MAX_DEPTH 512

struct kjson {
	const char *start;	/* for offsets in errors */
	const char *end;
	const char *err_at;	/* first error, or NULL */
	const char *err;
};

void kjson_init(struct kjson *, const char *p, size_t len);
/* Record an error (only the first one is kept); returns NULL. */
const char *kjson_fail(struct kjson *, const char *at, const char *why);
const char *kjson_ws(const struct kjson *, const char *p);
/* Past the value at p (after whitespace), or NULL. */
const char *kjson_skip(struct kjson *, const char *p);
/* p at '"': past the closing quote, or NULL. *has_escape set if a '\\' was seen. */
const char *kjson_string_end(struct kjson *, const char *p, int *has_escape);

/*
 * Walk an object: kjson_obj_begin at '{' (moves past it), then
 * kjson_obj_next with a counter n starting at 0 gives each member's raw
 * key (between the quotes, escapes left as they are) and *pp at its
 * value. The caller consumes the value and leaves *pp past it. Returns
 * 1 for a member, 0 at the closing brace (*pp past it), -1 on error.
 */
int kjson_obj_begin(struct kjson *, const char **pp);
int kjson_obj_next(struct kjson *, const char **pp, int *n, const char **key, size_t *klen);
/* The same for arrays: 1 with *pp at the element's value, 0 past ']', -1. */
int kjson_arr_begin(struct kjson *, const char **pp);
int kjson_arr_next(struct kjson *, const char **pp, int *n);
#define KJSON_KEY(k, kl, lit) ((kl) == sizeof(lit) - 1 && memcmp((k), (lit), (kl)) == 0)

/* The byte buffer strings are decoded into. */
struct kbuf {
	char *p;
	size_t len, cap;
};
void kbuf_reserve(struct kbuf *, size_t more);
void kbuf_add(struct kbuf *, const void *, size_t);
void kbuf_free(struct kbuf *);

/*
 * Decode the string at p (at '"') onto b, NUL-terminated; returns the
 * end of the string, or NULL. *off is where it starts in b.
 */
const char *kjson_string(struct kjson *, const char *p, struct kbuf *b, size_t *off);
/* A string value into a new allocation, or NULL (not a string: error). */
const char *kjson_string_dup(struct kjson *, const char *p, char **out);
/* An integer value (no fraction or exponent), or NULL. */
const char *kjson_int(struct kjson *, const char *p, long long *out);
/* true/false, or NULL. */
const char *kjson_bool(struct kjson *, const char *p, int *out);
/* p at a value: is it null? (then *pp is moved past it) */
int kjson_null(struct kjson *, const char **pp);

/* ---- config.c ---- */

struct k8s_config {
	char *describe;
	char *server;		/* https://host:port, no trailing slash */
	char *namespace;
	unsigned char *ca;	/* PEM bundle, or NULL: system CAs */
	size_t ca_len;
	unsigned char *cert;	/* client certificate PEM */
	size_t cert_len;
	unsigned char *key;	/* client key PEM */
	size_t key_len;
	char *token;		/* static token, or last read from token_file */
	char *token_file;
	int insecure;		/* allowed and asked for */
	int recheck_ms;
	int64_t checked_ms;
	dev_t token_dev;
	ino_t token_ino;
	off_t token_size;
	struct timespec token_mtime;
};
/* Drop the cached token file state so the next call re-reads it. */
void k8s_config_token_invalidate(struct k8s_config *);

/* pod.c */
/* A Status object's fields into st via the scanner (used by the watch decoder). */
int k8s_status_scan(const char *json, size_t len, struct k8s_status *st);

#endif
