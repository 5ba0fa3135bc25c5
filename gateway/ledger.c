/*
 * ledger.c: which offsets of each task partition are done, when tasks
 * finish out of order (docs/design.md section 4).
 *
 * Per partition it keeps "next" (one past the highest offset accounted
 * for) and the sorted set of offsets below next that are not done yet.
 * Everything else below next is done, including offsets the consumer
 * never sees (transaction markers, compacted records). The commit point
 * is the lowest pending offset, or next when none is pending. The commit
 * metadata stores next and the pending set relative to the commit point:
 *
 *     paia1:<next - commit>:<d0>,<d1>,...    d0 = p0 - commit, di = pi - p(i-1)
 *
 * Its size grows with the number of pending offsets (bounded by the
 * in-flight limit), never with the count of done ones. After a restart,
 * offsets below next that are not listed are skipped: they were done.
 *
 * Restored pending offsets are "not received" until the consumer hands
 * them over again; received ones are in flight.
 */
#include "config.h"
#include "gateway.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

struct ledger_pending {
	int64_t offset;
	int received;
};

struct ledger_part {
	int32_t partition;
	int64_t next;		/* -1: nothing known yet */
	struct ledger_pending *pending;
	size_t npending;
	size_t cap;
};

struct ledger {
	struct ledger_part *parts;
	size_t nparts;
};

struct ledger *
ledger_new(void)
{
	return xcalloc(1, sizeof(struct ledger));
}

void
ledger_free(struct ledger *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->nparts; i++)
		free(l->parts[i].pending);
	free(l->parts);
	free(l);
}

static struct ledger_part *
ledger_find(const struct ledger *l, int32_t partition)
{
	size_t i;

	for (i = 0; i < l->nparts; i++)
		if (l->parts[i].partition == partition)
			return &l->parts[i];
	return NULL;
}

static struct ledger_part *
ledger_get(struct ledger *l, int32_t partition)
{
	struct ledger_part *p = ledger_find(l, partition);

	if (p != NULL)
		return p;
	l->parts = xreallocarray(l->parts, l->nparts + 1, sizeof *l->parts);
	p = &l->parts[l->nparts++];
	memset(p, 0, sizeof *p);
	p->partition = partition;
	p->next = -1;
	return p;
}

void
ledger_forget(struct ledger *l, int32_t partition)
{
	struct ledger_part *p = ledger_find(l, partition);
	size_t i;

	if (p == NULL)
		return;
	free(p->pending);
	i = (size_t)(p - l->parts);
	memmove(p, p + 1, (l->nparts - i - 1) * sizeof *p);
	l->nparts--;
}

/* Index of offset in the pending set, or where it would go. */
static size_t
ledger_search(const struct ledger_part *p, int64_t offset, int *found)
{
	size_t lo = 0, hi = p->npending, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (p->pending[mid].offset < offset)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < p->npending && p->pending[lo].offset == offset;
	return lo;
}

static void
ledger_insert(struct ledger_part *p, size_t at, int64_t offset, int received)
{
	if (p->npending == p->cap) {
		p->cap = p->cap == 0 ? 16 : p->cap * 2;
		p->pending = xreallocarray(p->pending, p->cap, sizeof *p->pending);
	}
	memmove(&p->pending[at + 1], &p->pending[at], (p->npending - at) * sizeof *p->pending);
	p->pending[at].offset = offset;
	p->pending[at].received = received;
	p->npending++;
}

/* A decimal in [0, max]; 0, or -1 on junk, overflow or out of range. */
static int
ledger_parse_num(const char **sp, int64_t max, int64_t *out)
{
	const char *s = *sp;
	int64_t v = 0;

	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (max - (*s - '0')) / 10)
			return -1;
		v = v * 10 + (*s - '0');
	}
	*sp = s;
	*out = v;
	return 0;
}

int
ledger_restore(struct ledger *l, int32_t partition, int64_t committed, const char *md,
    size_t len, char **cause)
{
	struct ledger_part *p;
	char *copy;
	const char *s;
	int64_t span, d, at, end;

	ledger_forget(l, partition);
	p = ledger_get(l, partition);
	if (committed < 0)
		return 0;
	p->next = committed;
	if (md == NULL || len == 0)
		return 0;
	copy = xstrndup(md, len);
	if (strncmp(copy, "paia1:", 6) != 0) {
		xasprintf(cause, "partition %d: commit metadata is not ours (\"%.40s\")",
		    (int)partition, copy);
		goto bad;
	}
	/* Exactly what ledger_metadata writes, or nothing is trusted. */
	s = copy + 6;
	if (ledger_parse_num(&s, INT64_MAX - committed, &span) != 0 || *s != ':') {
		xasprintf(cause, "partition %d: bad span in commit metadata", (int)partition);
		goto bad;
	}
	s++;
	end = committed + span;
	at = committed;
	while (*s != '\0') {
		/* d0 is 0 (the commit point is pending); later deltas are > 0. */
		if (ledger_parse_num(&s, end - at, &d) != 0 || (p->npending == 0) != (d == 0) ||
		    at + d >= end || (*s != ',' && *s != '\0') || (*s == ',' && s[1] == '\0')) {
			xasprintf(cause, "partition %d: bad offset list in commit metadata",
			    (int)partition);
			goto bad;
		}
		at += d;
		ledger_insert(p, p->npending, at, 0);
		if (*s == ',')
			s++;
	}
	if (span > 0 && p->npending == 0) {
		xasprintf(cause, "partition %d: commit metadata spans offsets but lists none pending",
		    (int)partition);
		goto bad;
	}
	p->next = end;
	free(copy);
	return 0;
bad:
	free(copy);
	p->npending = 0;
	p->next = committed;
	return -1;
}

enum ledger_verdict
ledger_receive(struct ledger *l, int32_t partition, int64_t offset)
{
	struct ledger_part *p = ledger_get(l, partition);
	size_t at;
	int found;

	if (p->next < 0 || offset >= p->next) {
		/* Offsets skipped between next and this one were never ours. */
		ledger_insert(p, p->npending, offset, 1);
		p->next = offset + 1;
		return LEDGER_NEW;
	}
	at = ledger_search(p, offset, &found);
	if (!found)
		return LEDGER_DONE_BEFORE;
	if (p->pending[at].received)
		return LEDGER_DUPLICATE;
	p->pending[at].received = 1;
	return LEDGER_NEW;
}

void
ledger_done(struct ledger *l, int32_t partition, int64_t offset)
{
	struct ledger_part *p = ledger_find(l, partition);
	size_t at;
	int found;

	if (p == NULL)
		return;
	at = ledger_search(p, offset, &found);
	if (!found)
		return;
	memmove(&p->pending[at], &p->pending[at + 1], (p->npending - at - 1) * sizeof *p->pending);
	p->npending--;
}

int64_t
ledger_commit_point(const struct ledger *l, int32_t partition)
{
	const struct ledger_part *p = ledger_find(l, partition);

	if (p == NULL)
		return -1;
	return p->npending > 0 ? p->pending[0].offset : p->next;
}

size_t
ledger_pending(const struct ledger *l, int32_t partition)
{
	const struct ledger_part *p = ledger_find(l, partition);
	size_t i, n = 0;

	for (i = 0; p != NULL && i < p->npending; i++)
		n += p->pending[i].received;
	return n;
}

int64_t
ledger_next(const struct ledger *l, int32_t partition)
{
	const struct ledger_part *p = ledger_find(l, partition);

	return p != NULL ? p->next : -1;
}

char *
ledger_metadata(const struct ledger *l, int32_t partition)
{
	const struct ledger_part *p = ledger_find(l, partition);
	int64_t commit, prev;
	size_t i, len, cap;
	char *s;

	if (p == NULL || p->next < 0)
		return xstrdup("paia1:0:");
	commit = p->npending > 0 ? p->pending[0].offset : p->next;
	cap = 32 + p->npending * 21;
	s = xmalloc(cap);
	len = (size_t)snprintf(s, cap, "paia1:%" PRId64 ":", p->next - commit);
	prev = commit;
	for (i = 0; i < p->npending; i++) {
		len += (size_t)snprintf(s + len, cap - len, "%s%" PRId64, i == 0 ? "" : ",",
		    p->pending[i].offset - prev);
		prev = p->pending[i].offset;
	}
	return s;
}

int
ledger_near_cap(const struct ledger *l, int32_t partition, size_t cap)
{
	const struct ledger_part *p = ledger_find(l, partition);
	char *md;
	size_t len;

	/*
	 * Asked at every task received and every batch: encode only when the
	 * bound says it might be long ("paia1:", 20 digits, ':', then at most
	 * a comma and 20 digits a pending offset).
	 */
	if (p != NULL && 27 + p->npending * 21 + 21 + 20 < cap)
		return 0;
	md = ledger_metadata(l, partition);
	len = strlen(md);
	free(md);
	/* One more pending offset adds at most a comma and 20 digits. */
	return len + 21 + 20 >= cap;
}

size_t
ledger_partitions(const struct ledger *l, int32_t **out)
{
	size_t i;

	*out = NULL;
	if (l->nparts == 0)
		return 0;
	*out = xreallocarray(NULL, l->nparts, sizeof **out);
	for (i = 0; i < l->nparts; i++)
		(*out)[i] = l->parts[i].partition;
	return l->nparts;
}
