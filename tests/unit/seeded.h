/* Seeded randomness for the randomized unit tests (header only, static).
 * Every randomized test derives its seeds from BATON_TEST_SEED (or the fixed
 * default its file defines as SEEDED_DEFAULT) and its loop index, and names the
 * seed in every failure: BATON_TEST_SEED=<that seed> replays it first. */
#ifndef BATON_TESTS_SEEDED_H
#define BATON_TESTS_SEEDED_H

#include <stdint.h>
#include <stdlib.h>

static inline uint64_t base_seed(void)
{
    const char *env = getenv("BATON_TEST_SEED");
    return env != NULL ? strtoull(env, NULL, 0) : SEEDED_DEFAULT;
}

/* splitmix64 (Steele, Lea, Flood 2014). */
static inline uint64_t rnd(uint64_t *st)
{
    uint64_t z = (*st += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline uint64_t below(uint64_t *st, uint64_t n)
{
    return rnd(st) % n;
}

#endif
