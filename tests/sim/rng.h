/* Seeded randomness for the simulation: splitmix64 to seed, xoshiro256** to draw. */
#ifndef BATON_SIM_RNG_H
#define BATON_SIM_RNG_H

#include <stdbool.h>
#include <stdint.h>

/* Everything random in a run comes from one of these, seeded from the run's seed,
 * so the same seed replays the same run. Never rand(), never the wall clock. */
struct sim_rng {
    uint64_t s[4];
};

/* splitmix64's finalizer: a cheap bijective 64-bit mixer, also used for hashing. */
static inline uint64_t sim_mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline uint64_t sim_splitmix64(uint64_t *x)
{
    *x += 0x9e3779b97f4a7c15ULL;
    return sim_mix(*x);
}

static inline void sim_rng_seed(struct sim_rng *g, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        g->s[i] = sim_splitmix64(&x);
}

static inline uint64_t sim_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* xoshiro256** (Blackman and Vigna). */
static inline uint64_t sim_rng_next(struct sim_rng *g)
{
    uint64_t *s = g->s;
    uint64_t result = sim_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = sim_rotl(s[3], 45);
    return result;
}

/* Uniform in [lo, hi] (the modulo bias is irrelevant for a test). */
static inline uint64_t sim_rng_range(struct sim_rng *g, uint64_t lo, uint64_t hi)
{
    return lo + sim_rng_next(g) % (hi - lo + 1);
}

/* True with probability per_mille / 1000. */
static inline bool sim_rng_pm(struct sim_rng *g, unsigned per_mille)
{
    return sim_rng_next(g) % 1000 < per_mille;
}

#endif
