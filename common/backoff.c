/*
 * backoff.c: capped exponential backoff with jitter ("equal jitter":
 * half the ceiling fixed, half random), so retries neither hammer a
 * recovering service nor synchronise across gateways.
 */
#include "config.h"
#include "common.h"

void
backoff_init(struct backoff *b, uint32_t base_ms, uint32_t cap_ms, uint64_t seed)
{
	b->base_ms = base_ms == 0 ? 1 : base_ms;
	b->cap_ms = cap_ms < b->base_ms ? b->base_ms : cap_ms;
	b->attempt = 0;
	b->seed = seed != 0 ? seed : 0x9e3779b97f4a7c15ULL;
}

void
backoff_reset(struct backoff *b)
{
	b->attempt = 0;
}

/* xorshift64*: small, fast, good enough for jitter. */
static uint64_t
backoff_rand(struct backoff *b)
{
	b->seed ^= b->seed >> 12;
	b->seed ^= b->seed << 25;
	b->seed ^= b->seed >> 27;
	return b->seed * 2685821657736338717ULL;
}

uint32_t
backoff_next(struct backoff *b)
{
	uint64_t ceil = b->base_ms;
	uint32_t i, half;

	for (i = 0; i < b->attempt && ceil < b->cap_ms; i++)
		ceil *= 2;
	if (ceil > b->cap_ms)
		ceil = b->cap_ms;
	if (b->attempt < 64)
		b->attempt++;
	half = (uint32_t)(ceil / 2);
	return half + (uint32_t)(backoff_rand(b) % (ceil - half + 1));
}
