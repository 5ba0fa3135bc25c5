/*
 * test-ledger.c: the ledger of gateway/ledger.c (docs/design.md section 4):
 * commit points with out-of-order completion and gaps in the offsets,
 * duplicates, the commit metadata and its restore after a restart or a
 * rebalance, bad metadata, the metadata size cap, several partitions.
 *
 * The property test compares the ledger with a plain model after every
 * completion. It draws its seed from the clock; set PAIA_TEST_SEED to
 * replay a failure (the seed is printed with it).
 */
#include "config.h"
#include "gateway.h"

#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

/* Restore a fresh ledger from (committed, metadata). */
static struct ledger *
restored(int32_t part, int64_t committed, const char *md)
{
	struct ledger *l = ledger_new();
	char *cause = NULL;

	if (ledger_restore(l, part, committed, md, md != NULL ? strlen(md) : 0, &cause) != 0)
		fail_msg("restore of %" PRId64 " \"%s\" failed: %s", committed,
		    md != NULL ? md : "(null)", cause != NULL ? cause : "no cause");
	assert_null(cause);
	return l;
}

static void
assert_metadata(const struct ledger *l, int32_t part, const char *want)
{
	char *md = ledger_metadata(l, part);

	assert_string_equal(md, want);
	free(md);
}

/* (a) */
static void
test_in_order(void **state)
{
	struct ledger *l = ledger_new();
	int64_t o;

	/* Nothing known yet. */
	assert_int_equal(ledger_commit_point(l, 0), -1);
	assert_int_equal(ledger_next(l, 0), -1);
	assert_int_equal(ledger_pending(l, 0), 0);
	assert_metadata(l, 0, "paia1:0:");

	for (o = 0; o < 10; o++)
		assert_int_equal(ledger_receive(l, 0, o), LEDGER_NEW);
	assert_int_equal(ledger_pending(l, 0), 10);
	assert_int_equal(ledger_next(l, 0), 10);
	assert_int_equal(ledger_commit_point(l, 0), 0);
	for (o = 0; o < 10; o++) {
		ledger_done(l, 0, o);
		assert_int_equal(ledger_commit_point(l, 0), o + 1);
		assert_int_equal(ledger_pending(l, 0), (size_t)(9 - o));
	}
	assert_metadata(l, 0, "paia1:0:");
	/* Done twice, or never received: nothing changes. */
	ledger_done(l, 0, 3);
	ledger_done(l, 0, 99);
	assert_int_equal(ledger_commit_point(l, 0), 10);
	assert_int_equal(ledger_next(l, 0), 10);
	ledger_free(l);
}

/* The encoding is stored in Kafka: it must not change by accident. */
static void
test_metadata_format(void **state)
{
	struct ledger *l = ledger_new();

	assert_int_equal(ledger_receive(l, 0, 100), LEDGER_NEW);
	assert_int_equal(ledger_receive(l, 0, 101), LEDGER_NEW);
	assert_int_equal(ledger_receive(l, 0, 102), LEDGER_NEW);
	assert_int_equal(ledger_receive(l, 0, 110), LEDGER_NEW);
	assert_metadata(l, 0, "paia1:11:0,1,1,8");
	ledger_done(l, 0, 101);
	assert_int_equal(ledger_commit_point(l, 0), 100);
	assert_metadata(l, 0, "paia1:11:0,2,8");
	ledger_done(l, 0, 100);
	assert_int_equal(ledger_commit_point(l, 0), 102);
	assert_metadata(l, 0, "paia1:9:0,8");
	ledger_done(l, 0, 110);
	assert_metadata(l, 0, "paia1:9:0");
	ledger_done(l, 0, 102);
	assert_int_equal(ledger_commit_point(l, 0), 111);
	assert_metadata(l, 0, "paia1:0:");
	ledger_free(l);
}

/* (b) */
static void
test_gaps(void **state)
{
	struct ledger *l = ledger_new(), *r;
	char *md;

	/* Offset 2 is a transaction marker: the consumer never sees it. */
	assert_int_equal(ledger_receive(l, 0, 0), LEDGER_NEW);
	assert_int_equal(ledger_receive(l, 0, 1), LEDGER_NEW);
	assert_int_equal(ledger_receive(l, 0, 3), LEDGER_NEW);
	assert_int_equal(ledger_receive(l, 0, 4), LEDGER_NEW);
	assert_int_equal(ledger_pending(l, 0), 4);
	ledger_done(l, 0, 1);
	assert_int_equal(ledger_commit_point(l, 0), 0);
	ledger_done(l, 0, 0);
	assert_int_equal(ledger_commit_point(l, 0), 3);	/* 2 is not waited for */

	/* A restart here skips 2 (never ours) and redoes 3 and 4. */
	md = ledger_metadata(l, 0);
	r = restored(0, 3, md);
	assert_int_equal(ledger_receive(r, 0, 2), LEDGER_DONE_BEFORE);
	assert_int_equal(ledger_receive(r, 0, 3), LEDGER_NEW);
	assert_int_equal(ledger_receive(r, 0, 4), LEDGER_NEW);
	assert_int_equal(ledger_receive(r, 0, 5), LEDGER_NEW);
	ledger_free(r);
	free(md);

	ledger_done(l, 0, 4);
	assert_int_equal(ledger_commit_point(l, 0), 3);
	ledger_done(l, 0, 3);
	assert_int_equal(ledger_commit_point(l, 0), 5);
	assert_int_equal(ledger_pending(l, 0), 0);
	assert_int_equal(ledger_next(l, 0), 5);

	/* A long gap at the start of a partition, and one between two tasks. */
	assert_int_equal(ledger_receive(l, 1, 1000), LEDGER_NEW);
	assert_int_equal(ledger_commit_point(l, 1), 1000);
	assert_int_equal(ledger_receive(l, 1, 5000), LEDGER_NEW);
	ledger_done(l, 1, 1000);
	assert_int_equal(ledger_commit_point(l, 1), 5000);
	ledger_done(l, 1, 5000);
	assert_int_equal(ledger_commit_point(l, 1), 5001);
	ledger_free(l);
}

/* ---- (c) the property test ---- */

/* splitmix64: reproducible from one seed. */
static uint64_t
rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t
rnd_below(uint64_t *s, uint64_t n)
{
	return rnd(s) % n;
}

enum { UNSEEN, RECEIVED, DONE };

struct model {
	int64_t *offs;		/* the partition's records, ascending */
	int *st;		/* UNSEEN, RECEIVED, DONE per record */
	size_t n;
	size_t nrecv;		/* records received (a prefix of offs) */
	int64_t next;		/* last received + 1 */
};

static uint64_t prop_seed;
static int prop_trial;

#define PCHECK(cond, ...)                                                              \
	do {                                                                           \
		if (!(cond)) {                                                         \
			print_error("ledger property failed: seed=%" PRIu64 " trial=%d: ", \
			    prop_seed, prop_trial);                                    \
			fail_msg(__VA_ARGS__);                                         \
		}                                                                      \
	} while (0)

/* Does the model hold offset o, and in which state? -1 if not a record. */
static int
model_state(const struct model *m, int64_t o)
{
	size_t lo = 0, hi = m->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (m->offs[mid] < o)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < m->n && m->offs[lo] == o ? m->st[lo] : -1;
}

/*
 * Compare the ledger with the model, then check what a restart from its
 * commit would see: the metadata round-trips, done offsets are skipped,
 * pending ones are redone, new ones are new. When adopt is set, the
 * restored ledger (after the consumer re-delivered everything from the
 * commit point) replaces *lp, as after a rebalance.
 */
static void
prop_check(struct ledger **lp, int32_t part, struct model *m, int adopt)
{
	struct ledger *l = *lp, *r;
	int64_t commit = m->next, o, low;
	size_t i, pending = 0;
	char *md, *md2;
	int s;

	for (i = 0; i < m->nrecv; i++) {
		if (m->st[i] == RECEIVED) {
			if (pending == 0)
				commit = m->offs[i];
			pending++;
		}
	}
	PCHECK(ledger_commit_point(l, part) == commit, "commit point %" PRId64 ", expected %" PRId64,
	    ledger_commit_point(l, part), commit);
	PCHECK(ledger_pending(l, part) == pending, "pending %zu, expected %zu",
	    ledger_pending(l, part), pending);
	PCHECK(ledger_next(l, part) == m->next, "next %" PRId64 ", expected %" PRId64,
	    ledger_next(l, part), m->next);

	md = ledger_metadata(l, part);
	PCHECK(strlen(md) <= LEDGER_METADATA_MAX, "metadata of %zu bytes", strlen(md));
	r = restored(part, commit, md);
	md2 = ledger_metadata(r, part);
	PCHECK(strcmp(md, md2) == 0, "metadata \"%s\" restored as \"%s\"", md, md2);
	free(md2);
	PCHECK(ledger_commit_point(r, part) == commit, "restored commit point %" PRId64,
	    ledger_commit_point(r, part));
	PCHECK(ledger_next(r, part) == m->next, "restored next %" PRId64, ledger_next(r, part));
	PCHECK(ledger_pending(r, part) == 0, "restored ledger has %zu received",
	    ledger_pending(r, part));

	/* Below the commit point everything is done. */
	low = m->offs[0];
	for (o = commit - 3; o < commit; o++)
		if (o >= low)
			PCHECK(ledger_receive(r, part, o) == LEDGER_DONE_BEFORE,
			    "offset %" PRId64 " below commit %" PRId64 " not done before", o, commit);
	/*
	 * From the commit point to next, in the order a consumer reads:
	 * every record, and the first, middle and last offset of each gap
	 * between records (transaction markers; gaps can be long).
	 */
	for (i = 0; i < m->nrecv; i++) {
		int64_t gap_end = i + 1 < m->nrecv ? m->offs[i + 1] : m->next;
		int64_t probe[4];
		size_t np = 0, k;

		if (m->offs[i] < commit)
			continue;
		probe[np++] = m->offs[i];
		if (m->offs[i] + 1 < gap_end)
			probe[np++] = m->offs[i] + 1;
		if (m->offs[i] + 2 < gap_end - 1)
			probe[np++] = m->offs[i] + (gap_end - m->offs[i]) / 2;
		if (m->offs[i] + 1 < gap_end - 1)
			probe[np++] = gap_end - 1;
		for (k = 0; k < np; k++) {
			enum ledger_verdict v;
			o = probe[k];
			v = ledger_receive(r, part, o);
			s = model_state(m, o);
			if (s == RECEIVED)
				PCHECK(v == LEDGER_NEW, "pending offset %" PRId64 ": verdict %d "
				    "after restore from \"%s\"", o, v, md);
			else
				PCHECK(v == LEDGER_DONE_BEFORE, "%s offset %" PRId64 ": verdict %d "
				    "after restore from \"%s\"", s == DONE ? "done" : "gap", o, v, md);
		}
	}
	PCHECK(ledger_pending(r, part) == pending, "re-delivered pending %zu, expected %zu",
	    ledger_pending(r, part), pending);
	PCHECK(ledger_commit_point(r, part) == commit, "re-delivered commit point %" PRId64,
	    ledger_commit_point(r, part));
	if (adopt) {
		ledger_free(l);
		*lp = r;
	} else {
		/* Beyond the old next, all is new. */
		for (o = m->next; o < m->next + 3; o++)
			PCHECK(ledger_receive(r, part, o) == LEDGER_NEW, "offset %" PRId64
			    " at or above next %" PRId64 " is not new", o, m->next);
		ledger_free(r);
	}
	free(md);
}

static void
prop_trial_run(uint64_t *rs)
{
	struct ledger *l = ledger_new();
	int32_t part = (int32_t)rnd_below(rs, 8);
	struct model m;
	size_t i, ndone = 0, *recv_open, nopen = 0;
	int64_t o;
	int interleave = rnd_below(rs, 2) == 0;

	memset(&m, 0, sizeof m);
	m.n = 1 + rnd_below(rs, 300);
	m.offs = calloc(m.n, sizeof *m.offs);
	m.st = calloc(m.n, sizeof *m.st);
	recv_open = calloc(m.n, sizeof *recv_open);
	assert_non_null(m.offs);
	assert_non_null(m.st);
	assert_non_null(recv_open);

	/* Offsets with gaps: mostly dense, some markers, a few long jumps. */
	o = rnd_below(rs, 3) == 0 ? 0 : (int64_t)rnd_below(rs, 1000000000000LL);
	for (i = 0; i < m.n; i++) {
		uint64_t g = rnd_below(rs, 10);
		m.offs[i] = o;
		o += 1 + (g < 6 ? 0 : g < 9 ? (int64_t)rnd_below(rs, 3) : (int64_t)rnd_below(rs, 100000));
	}
	m.next = -1;

	/* Either all records arrive first, or arrivals and completions mix. */
	while (ndone < m.n) {
		int receive = m.nrecv < m.n &&
		    (nopen == 0 || (interleave ? rnd_below(rs, 2) == 0 : 1));

		if (receive) {
			enum ledger_verdict v = ledger_receive(l, part, m.offs[m.nrecv]);
			PCHECK(v == LEDGER_NEW, "first receive of %" PRId64 ": verdict %d",
			    m.offs[m.nrecv], v);
			m.st[m.nrecv] = RECEIVED;
			recv_open[nopen++] = m.nrecv;
			m.next = m.offs[m.nrecv] + 1;
			m.nrecv++;
			continue;
		}
		/* Complete a random open one. */
		i = rnd_below(rs, nopen);
		size_t k = recv_open[i];
		recv_open[i] = recv_open[--nopen];
		ledger_done(l, part, m.offs[k]);
		m.st[k] = DONE;
		ndone++;
		/* A duplicate delivery of a record still in flight is refused. */
		if (nopen > 0 && rnd_below(rs, 8) == 0) {
			int64_t d = m.offs[recv_open[rnd_below(rs, nopen)]];
			PCHECK(ledger_receive(l, part, d) == LEDGER_DUPLICATE,
			    "in-flight offset %" PRId64 " received twice is not a duplicate", d);
		}
		prop_check(&l, part, &m, rnd_below(rs, 16) == 0);
	}
	PCHECK(ledger_commit_point(l, part) == m.next, "all done: commit point %" PRId64
	    ", expected %" PRId64, ledger_commit_point(l, part), m.next);
	ledger_free(l);
	free(m.offs);
	free(m.st);
	free(recv_open);
}

static void
test_property(void **state)
{
	const char *env = getenv("PAIA_TEST_SEED");
	uint64_t rs;

	prop_seed = env != NULL && *env != '\0' ? strtoull(env, NULL, 0) :
	    (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	for (prop_trial = 0; prop_trial < 2000; prop_trial++) {
		rs = prop_seed ^ ((uint64_t)prop_trial * 0x2545f4914f6cdd1dULL);
		prop_trial_run(&rs);
	}
}

/* (d) */
static void
test_duplicates(void **state)
{
	struct ledger *l = ledger_new(), *r;

	assert_int_equal(ledger_receive(l, 0, 5), LEDGER_NEW);
	assert_int_equal(ledger_receive(l, 0, 5), LEDGER_DUPLICATE);
	assert_int_equal(ledger_receive(l, 0, 6), LEDGER_NEW);
	assert_int_equal(ledger_receive(l, 0, 5), LEDGER_DUPLICATE);
	assert_int_equal(ledger_receive(l, 0, 6), LEDGER_DUPLICATE);
	assert_int_equal(ledger_pending(l, 0), 2);
	/* Once done it is no longer in flight: a redelivery is skipped. */
	ledger_done(l, 0, 5);
	assert_int_equal(ledger_receive(l, 0, 5), LEDGER_DONE_BEFORE);
	/* Below the first offset seen: not ours to run. */
	assert_int_equal(ledger_receive(l, 0, 4), LEDGER_DONE_BEFORE);
	assert_int_equal(ledger_pending(l, 0), 1);
	assert_int_equal(ledger_commit_point(l, 0), 6);

	/* Restored pending offsets: new once, then duplicates. */
	r = restored(0, 10, "paia1:3:0,2");
	assert_int_equal(ledger_receive(r, 0, 10), LEDGER_NEW);
	assert_int_equal(ledger_receive(r, 0, 10), LEDGER_DUPLICATE);
	assert_int_equal(ledger_receive(r, 0, 11), LEDGER_DONE_BEFORE);
	assert_int_equal(ledger_receive(r, 0, 11), LEDGER_DONE_BEFORE);
	assert_int_equal(ledger_receive(r, 0, 12), LEDGER_NEW);
	assert_int_equal(ledger_receive(r, 0, 12), LEDGER_DUPLICATE);
	assert_int_equal(ledger_receive(r, 0, 13), LEDGER_NEW);
	assert_int_equal(ledger_receive(r, 0, 13), LEDGER_DUPLICATE);
	assert_int_equal(ledger_pending(r, 0), 3);
	ledger_free(r);
	ledger_free(l);
}

static void
test_restore_good(void **state)
{
	struct ledger *l;
	char buf[64];
	char *cause = NULL;
	int64_t o;

	/* Nothing committed: everything is new. */
	l = restored(0, -1, NULL);
	assert_int_equal(ledger_commit_point(l, 0), -1);
	assert_int_equal(ledger_receive(l, 0, 0), LEDGER_NEW);
	assert_int_equal(ledger_receive(l, 0, 7), LEDGER_NEW);
	ledger_free(l);

	/* A commit without metadata (another tool's, or empty): from there on. */
	l = restored(0, 50, NULL);
	assert_int_equal(ledger_commit_point(l, 0), 50);
	assert_int_equal(ledger_receive(l, 0, 49), LEDGER_DONE_BEFORE);
	for (o = 50; o < 55; o++)
		assert_int_equal(ledger_receive(l, 0, o), LEDGER_NEW);
	ledger_free(l);
	l = restored(0, 50, "");
	assert_int_equal(ledger_receive(l, 0, 50), LEDGER_NEW);
	ledger_free(l);

	/* Metadata is bytes with a length, not a C string. */
	l = ledger_new();
	strcpy(buf, "paia1:4:0,2GARBAGE");
	assert_int_equal(ledger_restore(l, 0, 20, buf, strlen("paia1:4:0,2"), &cause), 0);
	assert_null(cause);
	assert_int_equal(ledger_next(l, 0), 24);
	assert_metadata(l, 0, "paia1:4:0,2");
	assert_int_equal(ledger_receive(l, 0, 20), LEDGER_NEW);
	assert_int_equal(ledger_receive(l, 0, 21), LEDGER_DONE_BEFORE);
	assert_int_equal(ledger_receive(l, 0, 22), LEDGER_NEW);
	assert_int_equal(ledger_receive(l, 0, 23), LEDGER_DONE_BEFORE);
	assert_int_equal(ledger_receive(l, 0, 24), LEDGER_NEW);

	/* Restoring again (a second assign) replaces what was there. */
	assert_int_equal(ledger_restore(l, 0, 30, NULL, 0, &cause), 0);
	assert_int_equal(ledger_pending(l, 0), 0);
	assert_int_equal(ledger_commit_point(l, 0), 30);
	assert_int_equal(ledger_receive(l, 0, 30), LEDGER_NEW);
	ledger_free(l);
}

/*
 * Restore bad metadata into partition 2 at committed; it must fail with
 * a cause naming the partition and restart the partition at committed.
 * Returns 0, or -1 after printing what went wrong.
 */
static int
restore_bad_one(const char *md, int64_t committed)
{
	struct ledger *l = ledger_new();
	char *cause = NULL;
	int64_t o;
	int rc, ok = 1;

	rc = ledger_restore(l, 2, committed, md, strlen(md), &cause);
	if (rc != -1 || cause == NULL) {
		print_error("metadata \"%s\" at %" PRId64 " accepted (rc %d, next %" PRId64
		    ", commit point %" PRId64 ")\n", md, committed, rc, ledger_next(l, 2),
		    ledger_commit_point(l, 2));
		ok = 0;
	} else if (strstr(cause, "partition 2") == NULL) {
		print_error("cause \"%s\" does not name partition 2\n", cause);
		ok = 0;
	}
	free(cause);
	/* The partition restarts at the committed offset: every offset is new. */
	if (ledger_commit_point(l, 2) != committed || ledger_next(l, 2) != committed ||
	    ledger_pending(l, 2) != 0) {
		print_error("after \"%s\": commit point %" PRId64 ", next %" PRId64
		    ", pending %zu; expected %" PRId64 ", %" PRId64 ", 0\n", md,
		    ledger_commit_point(l, 2), ledger_next(l, 2), ledger_pending(l, 2), committed,
		    committed);
		ok = 0;
	}
	if (committed > 0 && ledger_receive(l, 2, committed - 1) != LEDGER_DONE_BEFORE) {
		print_error("after \"%s\": offset below the commit is not done before\n", md);
		ok = 0;
	}
	for (o = committed; ok && o < committed + 10; o++) {
		if (ledger_receive(l, 2, o) != LEDGER_NEW) {
			print_error("after \"%s\": offset %" PRId64 " is not new\n", md, o);
			ok = 0;
		}
	}
	ledger_free(l);
	return ok ? 0 : -1;
}

/* (e) */
static void
test_restore_bad(void **state)
{
	static const char *bad[] = {
		"foo",
		"paia2:3:0",
		"PAIA1:3:0",
		"paia1",
		"paia1:",
		"paia1::",
		"paia1:x:0",
		"paia1:-1:",
		"paia1:3",
		"paia1:3:x",
		"paia1:3:0,x",
		"paia1:3:0,,1",
		"paia1:3:0;1",
		"paia1:3:0 1",
		"paia1:3:-1",
		"paia1:3:0,-1",
		"paia1:3:3",		/* delta out of range: p0 = commit + span */
		"paia1:3:7",
		"paia1:3:0,3",		/* p1 = commit + 3 = next */
		"paia1:3:0,1,1,1",	/* p3 = next */
		"paia1:0:0",		/* pending offsets with an empty span */
		"paia1:5:0,0",		/* zero delta after the first */
		"paia1:5:0,1,0",
		"paia1:5:0,2,0,1",
	};
	size_t i;
	int failures = 0;

	for (i = 0; i < nitems(bad); i++)
		failures += restore_bad_one(bad[i], 1000) != 0;
	assert_int_equal(failures, 0);
}

/*
 * BUG (gateway/ledger.c ledger_restore): the range checks compute
 * at + d and committed + span in int64_t without guarding against
 * overflow (strtoll also saturates at LLONG_MAX without the ERANGE
 * being looked at). A huge delta wraps at + d negative, passes
 * "at + d >= committed + span", and a negative offset is inserted as
 * pending; a huge span with no list makes next wrap negative. Signed
 * overflow is undefined: under UBSan this test aborts in ledger.c.
 */
static void
test_restore_overflow_regression(void **state)
{
	static const char *bad[] = {
		"paia1:5:0,99999999999999999999",
		"paia1:5:0,9223372036854775807",
		"paia1:5:0,9223372036854774808",	/* 1000 + d = INT64_MAX + 1 */
		"paia1:99999999999999999999:0",
		"paia1:9223372036854775807:0,9223372036854775800",
		"paia1:9223372036854775807:",		/* next beyond INT64_MAX */
		"paia1:99999999999999999999:",
	};
	size_t i;
	int failures = 0;

	for (i = 0; i < nitems(bad); i++)
		failures += restore_bad_one(bad[i], 1000) != 0;
	assert_int_equal(failures, 0);
}

/* (f) */
static void
test_near_cap(void **state)
{
	static const int64_t gaps[] = { 1, 1000, 1000000007LL, 1000000000000000LL,
	    99999999999999999LL };
	size_t g;

	for (g = 0; g < nitems(gaps); g++) {
		struct ledger *l = ledger_new();
		int64_t o = 0;
		size_t len = 0, added = 0;
		int was_near = 0;
		char *md;

		/*
		 * Ignore the advice to see where the size goes: the advice must
		 * have turned before the metadata outgrew the cap.
		 */
		for (;;) {
			if (o > INT64_MAX - gaps[g] - 1)
				break;
			was_near = ledger_near_cap(l, 0, LEDGER_METADATA_MAX);
			assert_int_equal(ledger_receive(l, 0, o), LEDGER_NEW);
			o += gaps[g];
			added++;
			md = ledger_metadata(l, 0);
			len = strlen(md);
			free(md);
			if (len > LEDGER_METADATA_MAX) {
				if (!was_near)
					fail_msg("gap %" PRId64 ": metadata grew to %zu bytes without "
					    "near_cap", gaps[g], len);
				break;
			}
		}
		ledger_free(l);

		/* A caller that stops as soon as near_cap says so stays under the cap. */
		l = ledger_new();
		o = 0;
		added = 0;
		while (!ledger_near_cap(l, 0, LEDGER_METADATA_MAX) && o <= INT64_MAX - gaps[g] - 1) {
			assert_int_equal(ledger_receive(l, 0, o), LEDGER_NEW);
			o += gaps[g];
			added++;
			md = ledger_metadata(l, 0);
			len = strlen(md);
			free(md);
			if (len > LEDGER_METADATA_MAX)
				fail_msg("gap %" PRId64 ": %zu bytes after %zu offsets", gaps[g], len,
				    added);
		}
		/* ...and the advice does not come absurdly early. */
		if (ledger_near_cap(l, 0, LEDGER_METADATA_MAX) && len < LEDGER_METADATA_MAX - 100)
			fail_msg("gap %" PRId64 ": near cap at only %zu bytes", gaps[g], len);
		/* Completing offsets, oldest and newest in turn, never makes it grow. */
		o -= gaps[g];	/* the newest pending */
		while (ledger_commit_point(l, 0) < ledger_next(l, 0)) {
			size_t before = len;
			if (added-- % 2 == 0)
				ledger_done(l, 0, ledger_commit_point(l, 0));
			else {
				ledger_done(l, 0, o);
				o -= gaps[g];
			}
			md = ledger_metadata(l, 0);
			len = strlen(md);
			free(md);
			assert_true(len <= before);
		}
		assert_int_equal(added, 0);
		ledger_free(l);
	}
}

/* (f) with random gaps, completions and a caller that obeys near_cap. */
static void
test_near_cap_random(void **state)
{
	uint64_t rs = 77;
	int trial;

	for (trial = 0; trial < 10; trial++) {
		struct ledger *l = ledger_new();
		int64_t *open = calloc(4096, sizeof *open), o = (int64_t)rnd_below(&rs, 1000);
		size_t nopen = 0, step, i;
		char *md;

		assert_non_null(open);
		for (step = 0; step < 2000; step++) {
			int near = ledger_near_cap(l, 0, LEDGER_METADATA_MAX);

			if (nopen > 0 && (rnd_below(&rs, 4) == 0 || near)) {
				i = rnd_below(&rs, nopen);
				ledger_done(l, 0, open[i]);
				open[i] = open[--nopen];
			} else if (!near) {
				o += 1 + (int64_t)(rnd_below(&rs, 2) ? rnd_below(&rs, 10) :
				    rnd_below(&rs, 1000000000000000LL));
				assert_int_equal(ledger_receive(l, 0, o), LEDGER_NEW);
				open[nopen++] = o;
			}
			md = ledger_metadata(l, 0);
			if (strlen(md) > LEDGER_METADATA_MAX)
				fail_msg("trial %d step %zu: %zu bytes of metadata", trial, step,
				    strlen(md));
			free(md);
		}
		ledger_free(l);
		free(open);
	}
}

/* (g) */
static void
test_partitions(void **state)
{
	struct ledger *l = ledger_new();
	int32_t *parts;
	size_t n;

	assert_int_equal(ledger_partitions(l, &parts), 0);
	assert_null(parts);

	assert_int_equal(ledger_receive(l, 0, 10), LEDGER_NEW);
	assert_int_equal(ledger_receive(l, 1, 10), LEDGER_NEW);
	assert_int_equal(ledger_receive(l, 2, 500), LEDGER_NEW);
	assert_int_equal(ledger_receive(l, 1, 11), LEDGER_NEW);
	assert_int_equal(ledger_receive(l, 2, 501), LEDGER_NEW);
	/* The same offset in another partition is another record. */
	assert_int_equal(ledger_receive(l, 0, 11), LEDGER_NEW);
	ledger_done(l, 1, 10);
	assert_int_equal(ledger_commit_point(l, 0), 10);
	assert_int_equal(ledger_commit_point(l, 1), 11);
	assert_int_equal(ledger_commit_point(l, 2), 500);
	assert_int_equal(ledger_pending(l, 0), 2);
	assert_int_equal(ledger_pending(l, 1), 1);
	assert_int_equal(ledger_pending(l, 2), 2);

	n = ledger_partitions(l, &parts);
	assert_int_equal(n, 3);
	assert_int_equal(parts[0], 0);
	assert_int_equal(parts[1], 1);
	assert_int_equal(parts[2], 2);
	free(parts);

	/* Revoked: partition 1 is forgotten, the others untouched. */
	ledger_forget(l, 1);
	assert_int_equal(ledger_commit_point(l, 1), -1);
	assert_int_equal(ledger_next(l, 1), -1);
	assert_int_equal(ledger_pending(l, 1), 0);
	assert_metadata(l, 1, "paia1:0:");
	assert_int_equal(ledger_commit_point(l, 0), 10);
	assert_int_equal(ledger_commit_point(l, 2), 500);
	assert_int_equal(ledger_pending(l, 0), 2);
	assert_int_equal(ledger_pending(l, 2), 2);
	assert_metadata(l, 2, "paia1:2:0,1");
	ledger_done(l, 2, 500);
	assert_int_equal(ledger_commit_point(l, 2), 501);
	n = ledger_partitions(l, &parts);
	assert_int_equal(n, 2);
	assert_int_equal(parts[0], 0);
	assert_int_equal(parts[1], 2);
	free(parts);
	/* Done on a forgotten partition is ignored; forget twice is harmless. */
	ledger_done(l, 1, 11);
	ledger_forget(l, 1);
	ledger_forget(l, 42);
	/* Assigned again: it starts afresh. */
	assert_int_equal(ledger_receive(l, 1, 10), LEDGER_NEW);
	assert_int_equal(ledger_pending(l, 1), 1);

	/* Forget the first and the last; the middle one keeps its state. */
	ledger_forget(l, 0);
	ledger_forget(l, 1);
	assert_int_equal(ledger_commit_point(l, 2), 501);
	assert_int_equal(ledger_receive(l, 2, 501), LEDGER_DUPLICATE);
	assert_int_equal(ledger_receive(l, 2, 500), LEDGER_DONE_BEFORE);
	ledger_forget(l, 2);
	assert_int_equal(ledger_partitions(l, &parts), 0);
	ledger_free(l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_in_order),
		cmocka_unit_test(test_metadata_format),
		cmocka_unit_test(test_gaps),
		cmocka_unit_test(test_property),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_restore_good),
		cmocka_unit_test(test_restore_bad),
		cmocka_unit_test(test_near_cap),
		cmocka_unit_test(test_near_cap_random),
		cmocka_unit_test(test_partitions),
		/* Known bugs last: under UBSan they abort the program. */
		cmocka_unit_test(test_restore_overflow_regression),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
