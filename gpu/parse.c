/*
 * parse.c: what paia-gpu-probe prints, turned into struct gpu_report. The
 * answer is a run of sections, each opened by a line "@@paia NONCE NAME
 * [ARG]" (the nonce is new each round, so a process name cannot forge a
 * section): begin, query-gpu + rc, list + rc, compute-apps + rc, one
 * cgroup PID per process, display, end.
 *
 * nvidia-smi's CSV (noheader, nounits) separates fields with ", " and
 * quotes nothing: a GPU's name and a process's name may hold commas, so
 * the fields around them are counted from both ends. A value nvidia-smi
 * declines to give ("[N/A]", "[Not Supported]", "[Insufficient
 * Permissions]", ...) is kept as such, not as a number.
 *
 * Pure: no I/O, no clock. Every error names the line of the answer and,
 * for CSV, the field. Strings are made terminal-safe (control bytes and
 * invalid UTF-8 become '?').
 */
#include "config.h"
#include "gpu.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define GPU_NAME_MAX 256
#define GPU_MAX_MIGS 32
/* Lines of other output (a chatty login shell) tolerated before "begin". */
#define GPU_PREAMBLE_MAX 64

static const char *gpu_query_names[] = {
	"index", "uuid", "name", "utilization.gpu", "utilization.memory", "memory.used",
	"memory.total", "temperature.gpu", "power.draw", "power.limit", "clocks.sm", "pstate"
};
#define GPU_QUERY_NFIELDS ((int)nitems(gpu_query_names))

const char *
gpu_value_state_name(enum gpu_value_state st)
{
	switch (st) {
	case GPU_VALUE_OK:
		return "ok";
	case GPU_VALUE_NA:
		return "n/a";
	case GPU_VALUE_NOT_SUPPORTED:
		return "not supported";
	case GPU_VALUE_NO_PERMISSION:
		return "insufficient permissions";
	case GPU_VALUE_ERROR:
		return "error";
	}
	return "?";
}

const char *
gpu_display_state_name(enum gpu_display_state st)
{
	switch (st) {
	case GPU_DISPLAY_UNCHECKED:
		return "unchecked";
	case GPU_DISPLAY_UP:
		return "up";
	case GPU_DISPLAY_DOWN:
		return "down";
	case GPU_DISPLAY_UNKNOWN:
		return "unknown";
	}
	return "?";
}

/* A copy safe to print: control bytes and bytes of invalid UTF-8 become '?'. */
static char *
gpu_text(const char *s, size_t len, size_t max)
{
	char *out;
	size_t i;
	int utf8;

	if (len > max)
		len = max;
	out = xstrndup(s, len);
	len = strlen(out);	/* a NUL cuts */
	utf8 = util_utf8_valid(out, len);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)out[i];

		if (c < 0x20 || c == 0x7f || (c >= 0x80 && !utf8))
			out[i] = '?';
	}
	return out;
}

static void
gpu_fail(char **cause, int line, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	xvasprintf(&msg, fmt, ap);
	va_end(ap);
	xasprintf(cause, "line %d: %s", line, msg);
	free(msg);
}

/* Quote a field for an error message (short, printable). */
static char *
gpu_quote(const char *s, size_t len)
{
	char *t = gpu_text(s, len, 40), *q;

	xasprintf(&q, "\"%s%s\"", t, len > 40 ? "..." : "");
	free(t);
	return q;
}

/* A CSV field trimmed of spaces: [*s, *s + *len). */
struct gpu_field {
	const char *s;
	size_t len;
};

static struct gpu_field
gpu_trim(const char *s, size_t len)
{
	struct gpu_field f;

	while (len > 0 && (*s == ' ' || *s == '\t'))
		s++, len--;
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r'))
		len--;
	f.s = s;
	f.len = len;
	return f;
}

static int
gpu_field_is(struct gpu_field f, const char *word)
{
	return f.len == strlen(word) && memcmp(f.s, word, f.len) == 0;
}

/* Split a line on commas into at most max fields; the count, or max + 1 if more. */
static int
gpu_split(const char *line, size_t len, struct gpu_field *f, int max)
{
	const char *p = line, *end = line + len, *comma;
	int n = 0;

	for (;;) {
		comma = memchr(p, ',', (size_t)(end - p));
		if (n == max)
			return max + 1;
		f[n++] = gpu_trim(p, comma != NULL ? (size_t)(comma - p) : (size_t)(end - p));
		if (comma == NULL)
			return n;
		p = comma + 1;
	}
}

/* A number or a declined value. 0, or -1 if it is neither. */
static int
gpu_value_parse(struct gpu_field f, struct gpu_value *v)
{
	char buf[64], *end;
	size_t i;
	int digits = 0, dot = 0;

	v->v = 0;
	v->state = GPU_VALUE_OK;
	if (gpu_field_is(f, "[N/A]") || gpu_field_is(f, "N/A")) {
		v->state = GPU_VALUE_NA;
		return 0;
	}
	if (gpu_field_is(f, "[Not Supported]")) {
		v->state = GPU_VALUE_NOT_SUPPORTED;
		return 0;
	}
	if (gpu_field_is(f, "[Insufficient Permissions]")) {
		v->state = GPU_VALUE_NO_PERMISSION;
		return 0;
	}
	if (f.len >= 2 && f.s[0] == '[' && f.s[f.len - 1] == ']') {
		v->state = GPU_VALUE_ERROR;	/* "[Unknown Error]", "[GPU is lost]", ... */
		return 0;
	}
	/* Plain decimals only: strtod would also take "nan", "inf", "0x1p3". */
	if (f.len == 0 || f.len >= sizeof buf)
		return -1;
	for (i = 0; i < f.len; i++) {
		if (isdigit((unsigned char)f.s[i]))
			digits++;
		else if (f.s[i] == '.' && !dot)
			dot = 1;
		else if (!(i == 0 && f.s[i] == '-'))
			return -1;
	}
	if (digits == 0)
		return -1;
	memcpy(buf, f.s, f.len);
	buf[f.len] = '\0';
	v->v = strtod(buf, &end);
	if (*end != '\0' || !isfinite(v->v))
		return -1;
	return 0;
}

static int
gpu_int_parse(struct gpu_field f, long long max, long long *out)
{
	char buf[32];

	if (f.len == 0 || f.len >= sizeof buf)
		return -1;
	memcpy(buf, f.s, f.len);
	buf[f.len] = '\0';
	return util_parse_int(buf, 0, max, out);
}

/* A GPU or MIG UUID as nvidia-smi prints it: letters, digits and '-'. */
static int
gpu_uuid_ok(struct gpu_field f)
{
	size_t i;

	if (f.len < 4 || f.len > 96)
		return 0;
	for (i = 0; i < f.len; i++) {
		if (!isalnum((unsigned char)f.s[i]) && f.s[i] != '-')
			return 0;
	}
	return 1;
}

/* Call fn for each line of text: (line, len, number); stops at a non-zero return. */
typedef int gpu_line_fn(const char *, size_t, int, void *);
static int
gpu_lines(const char *text, size_t len, int first_line, gpu_line_fn *fn, void *arg)
{
	const char *p = text, *end = text + len, *nl;
	int n = first_line, rc;

	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		rc = fn(p, nl != NULL ? (size_t)(nl - p) : (size_t)(end - p), n++, arg);
		if (rc != 0)
			return rc;
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	return 0;
}

static void
gpu_device_clear(struct gpu_device *g)
{
	size_t i;

	free(g->uuid);
	free(g->name);
	for (i = 0; i < g->nmigs; i++) {
		free(g->migs[i].profile);
		free(g->migs[i].uuid);
	}
	free(g->migs);
}

static void
gpu_process_clear(struct gpu_process *p)
{
	free(p->gpu_uuid);
	free(p->name);
	free(p->pod_uid);
	free(p->container_id);
	free(p->qos);
}

void
gpu_report_free(struct gpu_report *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->ngpus; i++)
		gpu_device_clear(&r->gpus[i]);
	free(r->gpus);
	for (i = 0; i < r->nprocs; i++)
		gpu_process_clear(&r->procs[i]);
	free(r->procs);
	free(r->apps_error);
	free(r->display_name);
	free(r->display_detail);
	free(r);
}

/* ---- --query-gpu ---- */

struct gpu_query_ctx {
	struct gpu_device **gpus;
	size_t *ngpus;
	char **cause;
};

static int
gpu_query_line(const char *line, size_t len, int n, void *arg)
{
	struct gpu_query_ctx *q = arg;
	struct gpu_field f[GPU_NAME_MAX / 2], name;
	struct gpu_value *vals[8];
	struct gpu_device g;
	long long idx;
	char *bad;
	int nf, i, extra;
	size_t k;

	if (gpu_trim(line, len).len == 0)
		return 0;
	nf = gpu_split(line, len, f, (int)nitems(f) - 1);
	if (nf < GPU_QUERY_NFIELDS || nf > (int)nitems(f) - 1) {
		bad = gpu_quote(line, len);
		gpu_fail(q->cause, n, "%s: %d fields, %d expected (%s)", bad, nf,
		    GPU_QUERY_NFIELDS, GPU_QUERY_FIELDS);
		free(bad);
		return -1;
	}
	/* A name with commas: fields 0-1 from the left, 3-11 from the right. */
	extra = nf - GPU_QUERY_NFIELDS;
	name.s = f[2].s;
	name.len = (size_t)(f[2 + extra].s + f[2 + extra].len - f[2].s);
	for (i = 3; i < GPU_QUERY_NFIELDS; i++)
		f[i] = f[i + extra];
	f[2] = name;

	memset(&g, 0, sizeof g);
	if (gpu_int_parse(f[0], GPU_MAX_GPUS - 1, &idx) != 0) {
		bad = gpu_quote(f[0].s, f[0].len);
		gpu_fail(q->cause, n, "field 1 (index): %s is not a GPU index (0-%d)", bad,
		    GPU_MAX_GPUS - 1);
		free(bad);
		return -1;
	}
	g.index = (int)idx;
	if (!gpu_uuid_ok(f[1])) {
		bad = gpu_quote(f[1].s, f[1].len);
		gpu_fail(q->cause, n, "field 2 (uuid): %s is not a GPU UUID", bad);
		free(bad);
		return -1;
	}
	vals[0] = &g.util_gpu;
	vals[1] = &g.util_mem;
	vals[2] = &g.mem_used;
	vals[3] = &g.mem_total;
	vals[4] = &g.temp;
	vals[5] = &g.power;
	vals[6] = &g.power_limit;
	vals[7] = &g.clock_sm;
	for (i = 0; i < 8; i++) {
		if (gpu_value_parse(f[3 + i], vals[i]) != 0) {
			bad = gpu_quote(f[3 + i].s, f[3 + i].len);
			gpu_fail(q->cause, n, "field %d (%s): %s is not a number", 4 + i,
			    gpu_query_names[3 + i], bad);
			free(bad);
			return -1;
		}
	}
	/* pstate: P0..P15, or declined. */
	if (f[11].len >= 2 && f[11].len <= 3 && f[11].s[0] == 'P' &&
	    gpu_int_parse((struct gpu_field){ f[11].s + 1, f[11].len - 1 }, 15, &idx) == 0)
		memcpy(g.pstate, f[11].s, f[11].len);
	else {
		struct gpu_value v;

		if (gpu_value_parse(f[11], &v) != 0 || v.state == GPU_VALUE_OK) {
			bad = gpu_quote(f[11].s, f[11].len);
			gpu_fail(q->cause, n, "field 12 (pstate): %s is not P0-P15", bad);
			free(bad);
			return -1;
		}
	}
	for (k = 0; k < *q->ngpus; k++) {
		const struct gpu_device *o = &(*q->gpus)[k];

		if (o->index == g.index || (strlen(o->uuid) == f[1].len &&
		    memcmp(o->uuid, f[1].s, f[1].len) == 0)) {
			gpu_fail(q->cause, n, "GPU %d (%s) listed twice", g.index, o->uuid);
			return -1;
		}
	}
	if (*q->ngpus >= GPU_MAX_GPUS) {
		gpu_fail(q->cause, n, "more than %d GPUs", GPU_MAX_GPUS);
		return -1;
	}
	g.uuid = xstrndup(f[1].s, f[1].len);
	g.name = gpu_text(f[2].s, f[2].len, GPU_NAME_MAX);
	*q->gpus = xreallocarray(*q->gpus, *q->ngpus + 1, sizeof **q->gpus);
	(*q->gpus)[(*q->ngpus)++] = g;
	return 0;
}

int
gpu_parse_query(const char *text, size_t len, int first_line, struct gpu_device **gpus,
    size_t *ngpus, char **cause)
{
	struct gpu_query_ctx q = { gpus, ngpus, cause };

	return gpu_lines(text, len, first_line, gpu_query_line, &q) == 0 ? 0 : -1;
}

/* ---- --query-compute-apps ---- */

struct gpu_apps_ctx {
	struct gpu_process **procs;
	size_t *nprocs;
	char **cause;
};

static int
gpu_apps_line(const char *line, size_t len, int n, void *arg)
{
	struct gpu_apps_ctx *a = arg;
	struct gpu_field f[4], t = gpu_trim(line, len);
	struct gpu_process p;
	const char *comma;
	long long pid;
	char *bad;
	int i;

	if (t.len == 0 || gpu_field_is(t, "No running processes found"))
		return 0;
	/* Three fields, then the name: all the rest, commas and all. */
	for (i = 0; i < 3; i++) {
		if ((comma = memchr(t.s, ',', t.len)) == NULL) {
			bad = gpu_quote(line, len);
			gpu_fail(a->cause, n, "%s: %d fields, 4 expected (%s)", bad, i + 1,
			    GPU_APPS_FIELDS);
			free(bad);
			return -1;
		}
		f[i] = gpu_trim(t.s, (size_t)(comma - t.s));
		t.len -= (size_t)(comma + 1 - t.s);
		t.s = comma + 1;
	}
	f[3] = gpu_trim(t.s, t.len);
	memset(&p, 0, sizeof p);
	if (!gpu_uuid_ok(f[0])) {
		bad = gpu_quote(f[0].s, f[0].len);
		gpu_fail(a->cause, n, "field 1 (gpu_uuid): %s is not a GPU UUID", bad);
		free(bad);
		return -1;
	}
	if (gpu_int_parse(f[1], 0x7fffffff, &pid) != 0 || pid == 0) {
		bad = gpu_quote(f[1].s, f[1].len);
		gpu_fail(a->cause, n, "field 2 (pid): %s is not a process ID", bad);
		free(bad);
		return -1;
	}
	if (gpu_value_parse(f[2], &p.used_mem) != 0) {
		bad = gpu_quote(f[2].s, f[2].len);
		gpu_fail(a->cause, n, "field 3 (used_memory): %s is not a number", bad);
		free(bad);
		return -1;
	}
	if (*a->nprocs >= GPU_MAX_PROCS) {
		gpu_fail(a->cause, n, "more than %d GPU processes", GPU_MAX_PROCS);
		return -1;
	}
	p.pid = (long)pid;
	p.gpu = p.mig = -1;
	p.gpu_uuid = xstrndup(f[0].s, f[0].len);
	p.name = gpu_text(f[3].s, f[3].len, GPU_NAME_MAX);
	*a->procs = xreallocarray(*a->procs, *a->nprocs + 1, sizeof **a->procs);
	(*a->procs)[(*a->nprocs)++] = p;
	return 0;
}

int
gpu_parse_apps(const char *text, size_t len, int first_line, struct gpu_process **procs,
    size_t *nprocs, char **cause)
{
	struct gpu_apps_ctx a = { procs, nprocs, cause };

	return gpu_lines(text, len, first_line, gpu_apps_line, &a) == 0 ? 0 : -1;
}

/* ---- nvidia-smi -L ---- */

struct gpu_list_ctx {
	struct gpu_device *gpus;
	size_t ngpus;
	struct gpu_device *cur;	/* the GPU the MIG lines below belong to */
};

/* The "(UUID: X)" at the end of a -L line. */
static int
gpu_list_uuid(struct gpu_field t, struct gpu_field *uuid)
{
	const char *p;
	size_t i;

	if (t.len < 2 || t.s[t.len - 1] != ')')
		return -1;
	for (i = t.len - 1; i > 0; i--) {
		if (t.s[i - 1] == '(')
			break;
	}
	if (i == 0)
		return -1;
	p = t.s + i;
	if ((size_t)(t.s + t.len - 1 - p) < 7 || memcmp(p, "UUID: ", 6) != 0)
		return -1;
	uuid->s = p + 6;
	uuid->len = (size_t)(t.s + t.len - 1 - uuid->s);
	return gpu_uuid_ok(*uuid) ? 0 : -1;
}

static int
gpu_list_line(const char *line, size_t len, int n, void *arg)
{
	struct gpu_list_ctx *l = arg;
	struct gpu_field t = gpu_trim(line, len), uuid, prof;
	struct gpu_device *g;
	struct gpu_mig *m;
	const char *p, *e;
	long long idx;
	size_t i;

	if (gpu_list_uuid(t, &uuid) != 0)
		return 0;
	if (t.len > 4 && memcmp(t.s, "GPU ", 4) == 0) {
		l->cur = NULL;
		for (i = 0; i < l->ngpus; i++) {
			g = &l->gpus[i];
			if (strlen(g->uuid) == uuid.len && memcmp(g->uuid, uuid.s, uuid.len) == 0)
				l->cur = g;
		}
		return 0;
	}
	/* "MIG 3g.40gb     Device  0: (UUID: MIG-...)" */
	if (l->cur == NULL || t.len < 5 || memcmp(t.s, "MIG ", 4) != 0)
		return 0;
	g = l->cur;
	p = t.s + 4;
	e = t.s + t.len;
	while (p < e && *p == ' ')
		p++;
	prof.s = p;
	while (p < e && *p != ' ')
		p++;
	prof.len = (size_t)(p - prof.s);
	while (p < e && *p == ' ')
		p++;
	if ((size_t)(e - p) < 7 || memcmp(p, "Device", 6) != 0)
		return 0;
	p += 6;
	while (p < e && *p == ' ')
		p++;
	for (i = 0; p + i < e && isdigit((unsigned char)p[i]); i++)
		;
	if (i == 0 || gpu_int_parse((struct gpu_field){ p, i }, GPU_MAX_MIGS - 1, &idx) != 0)
		return 0;
	if (g->nmigs >= GPU_MAX_MIGS || prof.len == 0)
		return 0;
	g->migs = xreallocarray(g->migs, g->nmigs + 1, sizeof *g->migs);
	m = &g->migs[g->nmigs++];
	m->index = (int)idx;
	m->profile = gpu_text(prof.s, prof.len, 32);
	m->uuid = xstrndup(uuid.s, uuid.len);
	return 0;
}

void
gpu_parse_list(const char *text, size_t len, struct gpu_device *gpus, size_t ngpus)
{
	struct gpu_list_ctx l = { gpus, ngpus, NULL };

	gpu_lines(text, len, 1, gpu_list_line, &l);
}

/* ---- /proc/PID/cgroup ---- */

void
gpu_cgroup_ref_clear(struct gpu_cgroup_ref *ref)
{
	free(ref->pod_uid);
	free(ref->container_id);
	free(ref->qos);
	memset(ref, 0, sizeof *ref);
}

/*
 * 8-4-4-4-12 hex digits with '-' (cgroupfs) or '_' (systemd): lower case
 * with '-'. A static pod's is its config hash, 32 hex digits: kept as is.
 */
static char *
gpu_pod_uid(const char *s, size_t len)
{
	static const int dash[] = { 8, 13, 18, 23 };
	char out[37];
	size_t i, d = 0;

	if (len == 32) {
		for (i = 0; i < 32; i++) {
			if (!isxdigit((unsigned char)s[i]))
				return NULL;
			out[i] = (char)tolower((unsigned char)s[i]);
		}
		out[32] = '\0';
		return xstrdup(out);
	}
	if (len != 36)
		return NULL;
	for (i = 0; i < 36; i++) {
		if (d < nitems(dash) && (int)i == dash[d]) {
			if (s[i] != '-' && s[i] != '_')
				return NULL;
			out[i] = '-';
			d++;
		} else if (isxdigit((unsigned char)s[i]))
			out[i] = (char)tolower((unsigned char)s[i]);
		else
			return NULL;
	}
	out[36] = '\0';
	return xstrdup(out);
}

/* A container's cgroup name: cri-containerd-ID.scope, crio-ID.scope, docker-ID.scope or ID. */
static char *
gpu_container_id(const char *s, size_t len)
{
	static const char *prefixes[] = { "cri-containerd-", "crio-", "docker-", "" };
	size_t i, j, plen;

	if (len > 6 && memcmp(s + len - 6, ".scope", 6) == 0)
		len -= 6;
	for (i = 0; i < nitems(prefixes); i++) {
		plen = strlen(prefixes[i]);
		if (len != plen + 64 || memcmp(s, prefixes[i], plen) != 0)
			continue;
		for (j = plen; j < len; j++) {
			if (!isxdigit((unsigned char)s[j]))
				return NULL;
		}
		return gpu_text(s + plen, 64, 64);
	}
	return NULL;
}

/* One cgroup path: a component "*kubepods*pod<UID>[.slice]", then the container. */
static int
gpu_cgroup_path(const char *path, size_t len, struct gpu_cgroup_ref *ref)
{
	const char *p = path, *e = path + len, *c, *slash, *pod, *uid;
	static const char *qos[] = { "besteffort", "burstable" };
	size_t clen, ulen, i;
	char *u = NULL;

	while (p < e) {
		while (p < e && *p == '/')
			p++;
		slash = memchr(p, '/', (size_t)(e - p));
		c = p;
		clen = slash != NULL ? (size_t)(slash - p) : (size_t)(e - p);
		p = c + clen;
		/* kubepods-burstable-pod<uid>.slice, or (cgroupfs) pod<uid> under kubepods */
		if (clen >= 3 + 32 && (pod = memmem(c, clen, "pod", 3)) != NULL) {
			for (;;) {
				uid = pod + 3;
				ulen = (size_t)(c + clen - uid);
				if (ulen > 6 && memcmp(uid + ulen - 6, ".slice", 6) == 0)
					ulen -= 6;
				if ((u = gpu_pod_uid(uid, ulen)) != NULL)
					break;
				pod = memmem(uid, (size_t)(c + clen - uid), "pod", 3);
				if (pod == NULL)
					break;
			}
			if (u == NULL || memmem(path, (size_t)(c + clen - path), "kubepods", 8) == NULL) {
				free(u);
				continue;
			}
			ref->pod_uid = u;
			ref->qos = xstrdup("guaranteed");
			for (i = 0; i < nitems(qos); i++) {
				if (memmem(path, (size_t)(c - path) + clen, qos[i], strlen(qos[i])) !=
				    NULL) {
					free(ref->qos);
					ref->qos = xstrdup(qos[i]);
				}
			}
			/* The container: the next component (crio-conmon-* is not one). */
			while (p < e && *p == '/')
				p++;
			slash = memchr(p, '/', (size_t)(e - p));
			clen = slash != NULL ? (size_t)(slash - p) : (size_t)(e - p);
			ref->container_id = gpu_container_id(p, clen);
			return 1;
		}
	}
	return 0;
}

struct gpu_cgroup_ctx {
	struct gpu_cgroup_ref *ref;
};

static int
gpu_cgroup_line(const char *line, size_t len, int n, void *arg)
{
	struct gpu_cgroup_ctx *c = arg;
	const char *a, *b;

	/* "ID:controllers:path" (v1) or "0::path" (v2). */
	if ((a = memchr(line, ':', len)) == NULL)
		return 0;
	if ((b = memchr(a + 1, ':', (size_t)(line + len - a - 1))) == NULL)
		return 0;
	b++;
	len = (size_t)(line + len - b);
	while (len > 0 && (b[len - 1] == '\r' || b[len - 1] == ' '))
		len--;
	return gpu_cgroup_path(b, len, c->ref);
}

int
gpu_parse_cgroup(const char *text, size_t len, struct gpu_cgroup_ref *ref)
{
	struct gpu_cgroup_ctx c = { ref };

	memset(ref, 0, sizeof *ref);
	return gpu_lines(text, len, 1, gpu_cgroup_line, &c) == 1 ? 1 : 0;
}

/* ---- the whole answer ---- */

enum gpu_sec { SEC_NONE, SEC_QUERY, SEC_LIST, SEC_APPS, SEC_CGROUP, SEC_DISPLAY, SEC_OTHER };

struct gpu_answer {
	const char *nonce;
	size_t nonce_len;
	struct gpu_report *r;
	char **cause;
	int begun, ended, preamble;
	/* the open section */
	enum gpu_sec sec;
	const char *body;
	size_t body_len;
	int body_line;
	int header_line;
	long cgroup_pid;
	/* the sections whose exit status came */
	const char *query, *list, *apps;
	size_t query_len, list_len, apps_len;
	int query_line, apps_line, query_rc, list_rc, apps_rc;
	int have_query, have_list, have_apps;
	struct gpu_field display_arg;
	int display_line;
	const char *display;
	size_t display_len;
	int have_display;
	struct {
		long pid;
		const char *body;
		size_t len;
	} cgroups[512];		/* the script reads at most 512 */
	size_t ncgroups;
};

/* The first non-empty line of a failed command's output, for the reason. */
static char *
gpu_first_line(const char *s, size_t len)
{
	const char *nl;
	struct gpu_field t;

	while (len > 0) {
		nl = memchr(s, '\n', len);
		t = gpu_trim(s, nl != NULL ? (size_t)(nl - s) : len);
		if (t.len > 0)
			return gpu_text(t.s, t.len, 200);
		if (nl == NULL)
			break;
		len -= (size_t)(nl + 1 - s);
		s = nl + 1;
	}
	return xstrdup("no output");
}

/* Why a command of the probe failed, from its exit status and output. */
static char *
gpu_command_error(const char *what, int rc, const char *out, size_t len)
{
	char *first = gpu_first_line(out, len), *msg;

	if (rc == 124 || rc == 137)
		xasprintf(&msg, "%s did not finish in time on the node", what);
	else if (rc == 127)
		xasprintf(&msg, "%s: not found on the node (%s)", what, first);
	else
		xasprintf(&msg, "%s exited %d: %s", what, rc, first);
	free(first);
	return msg;
}

static void
gpu_answer_close_section(struct gpu_answer *a, const char *end)
{
	if (a->sec == SEC_NONE)
		return;
	if (a->body == NULL)
		a->body = end;	/* an empty section */
	a->body_len = (size_t)(end - a->body);
	switch (a->sec) {
	case SEC_CGROUP:
		if (a->cgroup_pid > 0 && a->ncgroups < nitems(a->cgroups)) {
			a->cgroups[a->ncgroups].pid = a->cgroup_pid;
			a->cgroups[a->ncgroups].body = a->body;
			a->cgroups[a->ncgroups].len = a->body_len;
			a->ncgroups++;
		}
		break;
	case SEC_DISPLAY:
		a->display = a->body;
		a->display_len = a->body_len;
		a->have_display = 1;
		break;
	default:
		break;	/* query, list, apps wait for their "rc" */
	}
	a->sec = SEC_NONE;
}

static int
gpu_answer_header(struct gpu_answer *a, struct gpu_field name, struct gpu_field arg, int n,
    const char *line)
{
	long long v;
	char *bad;

	if (!a->begun) {
		if (!gpu_field_is(name, "begin")) {
			gpu_fail(a->cause, n, "the answer does not start with a begin marker");
			return -1;
		}
		if (!gpu_field_is(arg, "1")) {
			bad = gpu_quote(arg.s, arg.len);
			gpu_fail(a->cause, n, "probe answer version %s, 1 expected "
			    "(is paia-gpu-probe on the node up to date?)", bad);
			free(bad);
			return -1;
		}
		a->begun = 1;
		return 0;
	}
	if (gpu_field_is(name, "rc")) {
		if (gpu_int_parse(arg, 255, &v) != 0) {
			bad = gpu_quote(arg.s, arg.len);
			gpu_fail(a->cause, n, "exit status %s is not a number", bad);
			free(bad);
			return -1;
		}
		if (a->body == NULL)
			a->body = line;
		a->body_len = (size_t)(line - a->body);
		switch (a->sec) {
		case SEC_QUERY:
			a->query = a->body, a->query_len = a->body_len;
			a->query_line = a->body_line, a->query_rc = (int)v, a->have_query = 1;
			break;
		case SEC_LIST:
			a->list = a->body, a->list_len = a->body_len;
			a->list_rc = (int)v, a->have_list = 1;
			break;
		case SEC_APPS:
			a->apps = a->body, a->apps_len = a->body_len;
			a->apps_line = a->body_line, a->apps_rc = (int)v, a->have_apps = 1;
			break;
		default:
			gpu_fail(a->cause, n, "an exit status outside a command's section");
			return -1;
		}
		a->sec = SEC_NONE;
		return 0;
	}
	gpu_answer_close_section(a, line);
	a->body = NULL;
	a->header_line = n;
	if (gpu_field_is(name, "end")) {
		a->ended = 1;
		return 1;
	}
	if (gpu_field_is(name, "query-gpu"))
		a->sec = SEC_QUERY;
	else if (gpu_field_is(name, "list"))
		a->sec = SEC_LIST;
	else if (gpu_field_is(name, "compute-apps"))
		a->sec = SEC_APPS;
	else if (gpu_field_is(name, "cgroup")) {
		a->sec = SEC_CGROUP;
		a->cgroup_pid = gpu_int_parse(arg, 0x7fffffff, &v) == 0 ? (long)v : 0;
	} else if (gpu_field_is(name, "display")) {
		a->sec = SEC_DISPLAY;
		a->display_arg = arg;
		a->display_line = n;
	} else
		a->sec = SEC_OTHER;	/* a newer script's section: skipped */
	return 0;
}

static int
gpu_answer_line(const char *line, size_t len, int n, void *arg)
{
	struct gpu_answer *a = arg;
	struct gpu_field name, rest;
	const char *p, *sp;
	char *bad;

	if (len >= 7 + a->nonce_len + 1 && memcmp(line, "@@paia ", 7) == 0 &&
	    memcmp(line + 7, a->nonce, a->nonce_len) == 0 && line[7 + a->nonce_len] == ' ') {
		p = line + 8 + a->nonce_len;
		rest = gpu_trim(p, (size_t)(line + len - p));
		sp = memchr(rest.s, ' ', rest.len);
		name.s = rest.s;
		name.len = sp != NULL ? (size_t)(sp - rest.s) : rest.len;
		rest = sp != NULL ? gpu_trim(sp + 1, (size_t)(rest.s + rest.len - sp - 1)) :
		    (struct gpu_field){ rest.s + rest.len, 0 };
		return gpu_answer_header(a, name, rest, n, line);
	}
	if (!a->begun) {
		if (++a->preamble > GPU_PREAMBLE_MAX || (len >= 7 && memcmp(line, "@@paia ", 7) == 0)) {
			bad = gpu_quote(line, len);
			gpu_fail(a->cause, n, "not a GPU probe answer (%s)%s", bad,
			    memcmp(line, "@@paia ", len < 7 ? len : 7) == 0 ?
			    ": a marker of another round" : "");
			free(bad);
			return -1;
		}
		return 0;
	}
	if (a->sec != SEC_NONE && a->body == NULL) {
		a->body = line;
		a->body_line = n;
	}
	return 0;
}

/* The display section: "socket 0|1" and "check TOOL RC" or "check none". */
static void
gpu_answer_display(struct gpu_answer *a)
{
	struct gpu_report *r = a->r;
	const char *p = a->display, *e = a->display + a->display_len, *nl;
	struct gpu_field t;
	int socket = -1, rc = -1;
	char tool[16] = "";

	r->display_name = gpu_text(a->display_arg.s, a->display_arg.len, 32);
	while (p != NULL && p < e) {
		nl = memchr(p, '\n', (size_t)(e - p));
		t = gpu_trim(p, nl != NULL ? (size_t)(nl - p) : (size_t)(e - p));
		if (gpu_field_is(t, "socket 1"))
			socket = 1;
		else if (gpu_field_is(t, "socket 0"))
			socket = 0;
		else if (t.len > 6 && memcmp(t.s, "check ", 6) == 0) {
			struct gpu_field w = gpu_trim(t.s + 6, t.len - 6);
			const char *sp = memchr(w.s, ' ', w.len);
			long long v;

			if (sp != NULL && (size_t)(sp - w.s) < sizeof tool &&
			    gpu_int_parse(gpu_trim(sp + 1, (size_t)(w.s + w.len - sp - 1)), 255,
			    &v) == 0) {
				char *safe = gpu_text(w.s, (size_t)(sp - w.s), sizeof tool - 1);

				memcpy(tool, safe, strlen(safe) + 1);
				free(safe);
				rc = (int)v;
			} else if (gpu_field_is(w, "none"))
				rc = -2;
		}
		p = nl != NULL ? nl + 1 : e;
	}
	if (rc == 0) {
		r->display = GPU_DISPLAY_UP;
		xasprintf(&r->display_detail, "%s answered", tool);
	} else if (rc > 0) {
		r->display = GPU_DISPLAY_DOWN;
		xasprintf(&r->display_detail, "%s got no answer (exit %d)%s", tool, rc,
		    socket == 0 ? "; no X socket" : "");
	} else if (socket == 1) {
		r->display = GPU_DISPLAY_UNKNOWN;
		r->display_detail = xstrdup("X socket present; no xset or xdpyinfo on the node to ask");
	} else {
		r->display = GPU_DISPLAY_DOWN;
		r->display_detail = xstrdup("no X socket");
	}
}

struct gpu_report *
gpu_answer_parse(const char *answer, size_t len, const char *nonce, char **cause)
{
	struct gpu_answer a;
	struct gpu_report *r = xcalloc(1, sizeof *r);
	size_t i, j, k;
	int rc;

	memset(&a, 0, sizeof a);
	a.nonce = nonce;
	a.nonce_len = strlen(nonce);
	a.r = r;
	a.cause = cause;
	rc = gpu_lines(answer, len, 1, gpu_answer_line, &a);
	if (rc < 0)
		goto fail;
	if (!a.begun) {
		xasprintf(cause, "not a GPU probe answer: no begin marker in %zu bytes", len);
		goto fail;
	}
	if (!a.ended) {
		xasprintf(cause, "the answer was cut short: no end marker (%zu bytes)", len);
		goto fail;
	}
	if (!a.have_query) {
		xasprintf(cause, "the answer has no query-gpu section");
		goto fail;
	}
	if (a.query_rc != 0) {
		*cause = gpu_command_error("nvidia-smi --query-gpu", a.query_rc, a.query,
		    a.query_len);
		goto fail;
	}
	if (gpu_parse_query(a.query, a.query_len, a.query_line, &r->gpus, &r->ngpus, cause) != 0)
		goto fail;
	if (a.have_list && a.list_rc == 0)
		gpu_parse_list(a.list, a.list_len, r->gpus, r->ngpus);
	if (!a.have_apps)
		r->apps_error = xstrdup("the answer has no compute-apps section");
	else if (a.apps_rc != 0)
		r->apps_error = gpu_command_error("nvidia-smi --query-compute-apps", a.apps_rc,
		    a.apps, a.apps_len);
	else if (gpu_parse_apps(a.apps, a.apps_len, a.apps_line, &r->procs, &r->nprocs,
	    &r->apps_error) != 0) {
		/*
		 * Process names come from users' programs: a bad line costs the
		 * process list, never the GPUs' values.
		 */
		for (i = 0; i < r->nprocs; i++)
			gpu_process_clear(&r->procs[i]);
		free(r->procs);
		r->procs = NULL;
		r->nprocs = 0;
	}
	/* Each process's GPU (or MIG device) by UUID. */
	for (i = 0; i < r->nprocs; i++) {
		struct gpu_process *p = &r->procs[i];

		for (j = 0; j < r->ngpus && p->gpu < 0; j++) {
			if (strcmp(r->gpus[j].uuid, p->gpu_uuid) == 0)
				p->gpu = (int)j;
			for (k = 0; k < r->gpus[j].nmigs; k++) {
				if (strcmp(r->gpus[j].migs[k].uuid, p->gpu_uuid) == 0) {
					p->gpu = (int)j;
					p->mig = (int)k;
				}
			}
		}
	}
	/* Each process's pod, from its cgroup. */
	for (i = 0; i < a.ncgroups; i++) {
		struct gpu_cgroup_ref ref;

		if (!gpu_parse_cgroup(a.cgroups[i].body, a.cgroups[i].len, &ref))
			continue;
		for (j = 0; j < r->nprocs; j++) {
			struct gpu_process *p = &r->procs[j];

			if (p->pid != a.cgroups[i].pid || p->pod_uid != NULL)
				continue;
			p->pod_uid = xstrdup(ref.pod_uid);
			p->container_id = ref.container_id != NULL ? xstrdup(ref.container_id) : NULL;
			p->qos = xstrdup(ref.qos);
		}
		gpu_cgroup_ref_clear(&ref);
	}
	if (a.have_display)
		gpu_answer_display(&a);
	return r;
fail:
	gpu_report_free(r);
	return NULL;
}
