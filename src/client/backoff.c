/* libbaton's retry timing: exponential backoff with jitter, clamped to the call's deadline. */
#include "client/internal.h"

uint64_t client_rand_next(uint64_t *state)
{
    uint64_t x = *state ? *state : 0x9e3779b97f4a7c15ull;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545f4914f6cdd1dull;
}

uint64_t client_backoff_delay(unsigned attempt, uint64_t base_ms, uint64_t max_ms, uint64_t rnd)
{
    uint64_t d = base_ms ? base_ms : 1;
    if (attempt == 0) {
        attempt = 1;
    }
    /* Double up to the cap without overflowing: stop as soon as d reaches it. */
    for (unsigned i = 1; i < attempt && d < max_ms; i++) {
        d = d > max_ms / 2 ? max_ms : d * 2;
    }
    if (d > max_ms) {
        d = max_ms;
    }
    /* "Equal jitter": half of the wait is fixed, so retries keep backing off, and
     * half is random, so clients that failed together do not retry together. */
    uint64_t half = d / 2;
    return (d - half) + rnd % (half + 1);
}

int client_backoff_at(uint64_t now, uint64_t deadline, uint64_t delay, uint64_t *at)
{
    if (now >= deadline) {
        return BATON_ETIMEDOUT;
    }
    *at = delay >= deadline - now ? deadline : now + delay;
    return 0;
}
