/* Unit tests for the ◇W failure detector, on virtual time only. */
#include <check.h>
#include <string.h>

#include "fd/detector.h"

/* Seeded randomness of the tests' own (splitmix64): the same seed replays a run. */
static uint64_t rng_next(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [lo, hi]; the modulo bias does not matter here. */
static uint64_t rng_range(uint64_t *x, uint64_t lo, uint64_t hi)
{
    return lo + rng_next(x) % (hi - lo + 1);
}

/* The seed of the running test, printed by every failure. */
static uint64_t run_seed;

/* ck_assert() reports each passing check to the runner through a pipe, which is
 * far too slow inside loops of millions of virtual events; this only calls into
 * Check on failure. */
#define REQUIRE(cond)                                                              \
    do {                                                                           \
        if (!(cond)) {                                                             \
            ck_abort_msg("%s:%d: %s (seed %llu)", __FILE__, __LINE__, #cond,       \
                         (unsigned long long)run_seed);                            \
        }                                                                          \
    } while (0)

static const uint64_t seeds[] = {1, 2, 3, 0xba70, 0xdeadbeef};
#define N_SEEDS ((int)(sizeof(seeds) / sizeof(seeds[0])))

/* Node 1 monitoring peers 2..n+1 from now on, with the given base timeout and cap
 * and the other options at their defaults (heartbeat 100, increment 250). */
static void start_with(struct fd_detector *d, unsigned timeout_ms, unsigned max_ms, size_t n,
                       uint64_t now)
{
    struct fd_options opt;
    fd_options_default(&opt, 1);
    opt.timeout_ms = timeout_ms;
    opt.timeout_max_ms = max_ms;
    ck_assert_int_eq(fd_init(d, &opt, now), 0);
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(fd_peer_add(d, 2 + i, now), 0);
    }
}

/* The same with every option at its default (timeout 500, cap 10000). */
static void start(struct fd_detector *d, size_t n, uint64_t now)
{
    start_with(d, 500, 10000, n, now);
}

static struct fd_peer stats(const struct fd_detector *d, uint64_t id)
{
    struct fd_peer p;
    REQUIRE(fd_peer_stats(d, id, &p) == 0);
    return p;
}

/* ---- options ---- */

START_TEST(test_options_validation)
{
    struct fd_options def, opt;
    struct fd_detector d;
    fd_options_default(&def, 7);
    ck_assert_uint_eq(def.self, 7);
    ck_assert_int_eq(fd_init(&d, &def, 0), 0);
    fd_close(&d);

    struct fd_options bad[6];
    for (int i = 0; i < 6; i++) {
        bad[i] = def;
    }
    bad[0].self = 0;
    bad[1].heartbeat_ms = 0;
    bad[2].timeout_ms = bad[2].heartbeat_ms; /* suspected even on a perfect network */
    bad[3].timeout_increment_ms = 0;         /* could never adapt */
    bad[4].timeout_max_ms = bad[4].timeout_ms - 1;
    bad[5].heartbeat_ms = 0;
    bad[5].timeout_ms = 0;
    for (int i = 0; i < 6; i++) {
        memset(&d, 0xab, sizeof(d));
        ck_assert_int_eq(fd_init(&d, &bad[i], 0), BATON_EINVAL);
        unsigned char *b = (unsigned char *)&d;
        for (size_t k = 0; k < sizeof(d); k++) {
            ck_assert_uint_eq(b[k], 0xab); /* untouched on failure */
        }
    }

    opt = def;
    opt.timeout_max_ms = opt.timeout_ms; /* no room to grow is allowed */
    ck_assert_int_eq(fd_init(&d, &opt, 0), 0);
}
END_TEST

/* ---- single detector: suspicion and trust ---- */

START_TEST(test_on_time_peer_never_suspected)
{
    /* Heartbeats every 100 ms, each up to 49 ms late: silences of at most 149 ms
     * against a 150 ms timeout. Ticked every millisecond. */
    struct fd_detector d;
    start_with(&d, 150, 10000, 1, 0);

    run_seed = seeds[_i];
    uint64_t seed = seeds[_i];
    uint64_t next_arrival = rng_range(&seed, 0, 49);
    uint64_t round = 0, arrivals = 0;
    for (uint64_t now = 0; now <= 100000; now++) {
        if (now == next_arrival) {
            REQUIRE(fd_heard(&d, 2, now) == 0);
            arrivals++;
            round++;
            next_arrival = round * 100 + rng_range(&seed, 0, 49);
        }
        REQUIRE(fd_tick(&d, now, NULL, 0) == 0);
        REQUIRE(!fd_suspected(&d, 2));
    }
    struct fd_peer p = stats(&d, 2);
    ck_assert_uint_gt(arrivals, 990);
    ck_assert_uint_eq(p.suspicions, 0);
    ck_assert_uint_eq(p.timeout_ms, 150);
    ck_assert_int_eq(fd_suspects(&d, NULL, 0), 0);
}
END_TEST

START_TEST(test_suspected_after_timeout_for_ever)
{
    struct fd_detector d;
    start(&d, 2, 1000);
    uint64_t newly[FD_MAX_PEERS];

    /* Peer 3 keeps heartbeating; peer 2 is never heard after being added. */
    ck_assert_int_eq(fd_heard(&d, 3, 1400), 0);
    ck_assert_int_eq(fd_tick(&d, 1499, newly, FD_MAX_PEERS), 0);
    ck_assert(!fd_suspected(&d, 2));
    ck_assert_int_eq(fd_tick(&d, 1500, newly, FD_MAX_PEERS), 1);
    ck_assert_uint_eq(newly[0], 2);
    ck_assert(fd_suspected(&d, 2));
    ck_assert(!fd_suspected(&d, 3));

    struct fd_peer p = stats(&d, 2);
    ck_assert(p.suspected);
    ck_assert_uint_eq(p.since_ms, 1500);
    ck_assert_uint_eq(p.suspicions, 1);
    ck_assert_uint_eq(p.false_suspicions, 0);

    /* Reported once, suspected for ever (while 3 keeps being heard). */
    for (uint64_t now = 1501; now < 1000 + 24 * 3600 * 1000ULL; now += 97) {
        REQUIRE(fd_heard(&d, 3, now) == 0);
        REQUIRE(fd_tick(&d, now, newly, FD_MAX_PEERS) == 0);
        REQUIRE(fd_suspected(&d, 2));
    }
    uint64_t s[FD_MAX_PEERS];
    ck_assert_int_eq(fd_suspects(&d, s, FD_MAX_PEERS), 1);
    ck_assert_uint_eq(s[0], 2);
    ck_assert_uint_eq(stats(&d, 2).suspicions, 1);
    ck_assert_uint_eq(stats(&d, 3).suspicions, 0);
}
END_TEST

START_TEST(test_false_suspicion_restores_trust)
{
    struct fd_detector d;
    start(&d, 1, 0);
    uint64_t newly[FD_MAX_PEERS];
    ck_assert_int_eq(fd_tick(&d, 500, newly, FD_MAX_PEERS), 1);

    ck_assert_int_eq(fd_heard(&d, 2, 800), 1); /* "trust restored" */
    ck_assert(!fd_suspected(&d, 2));
    struct fd_peer p = stats(&d, 2);
    ck_assert_uint_eq(p.false_suspicions, 1);
    ck_assert_uint_eq(p.timeout_ms, 750);
    ck_assert_uint_eq(p.last_heard_ms, 800);
    ck_assert_uint_eq(p.since_ms, 800);
    ck_assert_int_eq(fd_heard(&d, 2, 900), 0); /* already trusted */
    ck_assert_uint_eq(stats(&d, 2).false_suspicions, 1);

    /* The grown timeout is the one in force: 900 + 750. */
    ck_assert_int_eq(fd_tick(&d, 1649, newly, FD_MAX_PEERS), 0);
    ck_assert_int_eq(fd_tick(&d, 1650, newly, FD_MAX_PEERS), 1);
    ck_assert_uint_eq(stats(&d, 2).suspicions, 2);
}
END_TEST

START_TEST(test_timeout_grows_to_cap)
{
    struct fd_detector d;
    start_with(&d, 500, 1600, 1, 0);

    const uint64_t expect[] = {500, 750, 1000, 1250, 1500, 1600, 1600, 1600};
    uint64_t heard = 0;
    for (size_t k = 0; k < sizeof(expect) / sizeof(expect[0]); k++) {
        ck_assert_uint_eq(stats(&d, 2).timeout_ms, expect[k]);
        /* Each timeout is exactly the silence that gets the peer suspected. */
        ck_assert_int_eq(fd_tick(&d, heard + expect[k] - 1, NULL, 0), 0);
        ck_assert_int_eq(fd_tick(&d, heard + expect[k], NULL, 0), 1);
        heard = heard + expect[k] + 1234; /* a long partition costs one increment */
        ck_assert_int_eq(fd_heard(&d, 2, heard), 1);
        ck_assert_uint_eq(stats(&d, 2).false_suspicions, k + 1);
    }
    ck_assert_uint_eq(stats(&d, 2).timeout_ms, 1600);
}
END_TEST

/* ---- heartbeat schedule and deadlines ---- */

START_TEST(test_heartbeat_schedule)
{
    struct fd_detector d;
    start(&d, 0, 1000);
    ck_assert(fd_heartbeat_due(&d, 1000));
    ck_assert_uint_eq(fd_next_deadline(&d), 1000);

    ck_assert_int_eq(fd_heartbeat_sent(&d, 1000), 0);
    ck_assert(!fd_heartbeat_due(&d, 1099));
    ck_assert(fd_heartbeat_due(&d, 1100));
    ck_assert_uint_eq(fd_next_deadline(&d), 1100);

    ck_assert_int_eq(fd_heartbeat_sent(&d, 1130), 0); /* late: keeps the rate */
    ck_assert_uint_eq(fd_next_deadline(&d), 1200);
    ck_assert_int_eq(fd_heartbeat_sent(&d, 1450), 0); /* a period behind: no burst */
    ck_assert_uint_eq(fd_next_deadline(&d), 1550);
    ck_assert_int_eq(fd_heartbeat_sent(&d, 1500), 0); /* early: restart from now */
    ck_assert_uint_eq(fd_next_deadline(&d), 1600);
}
END_TEST

START_TEST(test_next_deadline_includes_peers)
{
    struct fd_detector d;
    start_with(&d, 150, 10000, 0, 1000);
    ck_assert_int_eq(fd_heartbeat_sent(&d, 1000), 0);
    ck_assert_int_eq(fd_peer_add(&d, 5, 1000), 0);
    ck_assert_int_eq(fd_peer_add(&d, 4, 1020), 0);
    ck_assert_uint_eq(fd_next_deadline(&d), 1100); /* heartbeat before 1150 */
    ck_assert_int_eq(fd_heartbeat_sent(&d, 1100), 0);
    ck_assert_uint_eq(fd_next_deadline(&d), 1150); /* peer 5 runs out first */
    ck_assert_int_eq(fd_tick(&d, 1150, NULL, 0), 1);
    ck_assert_uint_eq(fd_next_deadline(&d), 1170); /* then peer 4 */
    ck_assert_int_eq(fd_heard(&d, 4, 1160), 0);
    ck_assert_uint_eq(fd_next_deadline(&d), 1200); /* suspected 5 sets no deadline */
}
END_TEST

/* ---- membership ---- */

START_TEST(test_peer_add_remove)
{
    struct fd_detector d;
    start(&d, 0, 0);
    ck_assert_int_eq(fd_peer_add(&d, 30, 0), 0);
    ck_assert_int_eq(fd_peer_add(&d, 10, 0), 0);
    ck_assert_int_eq(fd_peer_add(&d, 20, 0), 0);

    uint64_t ids[FD_MAX_PEERS];
    ck_assert_int_eq(fd_peers(&d, ids, FD_MAX_PEERS), 3);
    ck_assert_uint_eq(ids[0], 10);
    ck_assert_uint_eq(ids[1], 20);
    ck_assert_uint_eq(ids[2], 30);

    ck_assert_int_eq(fd_peer_remove(&d, 20), 0);
    ck_assert_int_eq(fd_peers(&d, ids, FD_MAX_PEERS), 2);
    ck_assert_uint_eq(ids[0], 10);
    ck_assert_uint_eq(ids[1], 30);
    ck_assert_int_eq(fd_heard(&d, 20, 10), BATON_ENOTFOUND);
    ck_assert_int_eq(fd_peer_remove(&d, 20), BATON_ENOTFOUND);

    /* Suspect both, restore 10 so its timeout grows, then remove 30. */
    ck_assert_int_eq(fd_tick(&d, 500, ids, FD_MAX_PEERS), 2);
    ck_assert_uint_eq(ids[0], 10);
    ck_assert_uint_eq(ids[1], 30);
    ck_assert_int_eq(fd_heard(&d, 10, 600), 1);
    ck_assert_int_eq(fd_peer_remove(&d, 30), 0);
    ck_assert_int_eq(fd_suspects(&d, ids, FD_MAX_PEERS), 0);
    ck_assert(!fd_suspected(&d, 30));

    /* Re-adding is a fresh start: trusted, base timeout, no history. */
    ck_assert_int_eq(fd_peer_remove(&d, 10), 0);
    ck_assert_int_eq(fd_peer_add(&d, 10, 700), 0);
    ck_assert_int_eq(fd_peer_add(&d, 30, 700), 0);
    struct fd_peer p = stats(&d, 10);
    ck_assert(!p.suspected);
    ck_assert_uint_eq(p.timeout_ms, 500);
    ck_assert_uint_eq(p.last_heard_ms, 700);
    ck_assert_uint_eq(p.suspicions, 0);
    ck_assert_uint_eq(p.false_suspicions, 0);
    ck_assert_int_eq(fd_tick(&d, 1199, NULL, 0), 0);
    ck_assert_int_eq(fd_tick(&d, 1200, NULL, 0), 2);

    /* The table is full at FD_MAX_PEERS, and a removal frees a slot. */
    for (uint64_t id = 100; fd_peers(&d, NULL, 0) < FD_MAX_PEERS; id++) {
        ck_assert_int_eq(fd_peer_add(&d, id, 1200), 0);
    }
    ck_assert_int_eq(fd_peer_add(&d, 99, 1200), BATON_ECONFIG);
    ck_assert_int_eq(fd_peer_remove(&d, 30), 0);
    ck_assert_int_eq(fd_peer_add(&d, 99, 1200), 0);
    ck_assert_int_eq(fd_peers(&d, ids, FD_MAX_PEERS), FD_MAX_PEERS);
    for (int i = 1; i < FD_MAX_PEERS; i++) {
        ck_assert_uint_lt(ids[i - 1], ids[i]);
    }
}
END_TEST

/* ---- bad input ---- */

static void assert_unchanged(const struct fd_detector *before, const struct fd_detector *after)
{
    ck_assert(memcmp(before, after, sizeof(*before)) == 0);
}

START_TEST(test_bad_input)
{
    struct fd_detector d, copy;
    start(&d, 2, 1000); /* self 1, peers 2 and 3 */
    ck_assert_int_eq(fd_tick(&d, 1500, NULL, 0), 2);
    memcpy(&copy, &d, sizeof(d));

    ck_assert_int_eq(fd_peer_add(&d, 0, 1500), BATON_EINVAL);
    ck_assert_int_eq(fd_peer_add(&d, 1, 1500), BATON_EINVAL); /* self */
    ck_assert_int_eq(fd_peer_add(&d, 2, 1500), BATON_EINVAL); /* duplicate */
    ck_assert_int_eq(fd_peer_remove(&d, 1), BATON_ENOTFOUND);
    ck_assert_int_eq(fd_peer_remove(&d, 0), BATON_ENOTFOUND);
    ck_assert_int_eq(fd_heard(&d, 0, 1500), BATON_EINVAL);
    ck_assert_int_eq(fd_heard(&d, 1, 1500), BATON_EINVAL);
    ck_assert_int_eq(fd_heard(&d, 42, 1500), BATON_ENOTFOUND);
    ck_assert_int_eq(fd_heard(&d, UINT64_MAX, 1500), BATON_ENOTFOUND);
    assert_unchanged(&copy, &d);

    /* Time going backwards is refused by every call that takes it. */
    ck_assert_int_eq(fd_heard(&d, 2, 1499), BATON_EINVAL);
    ck_assert_int_eq(fd_tick(&d, 1499, NULL, 0), BATON_EINVAL);
    ck_assert_int_eq(fd_peer_add(&d, 4, 1499), BATON_EINVAL);
    ck_assert_int_eq(fd_heartbeat_sent(&d, 1499), BATON_EINVAL);
    assert_unchanged(&copy, &d);

    /* Output arrays. */
    uint64_t out[3] = {77, 77, 77};
    ck_assert_int_eq(fd_tick(&d, 1500, NULL, 1), BATON_EINVAL);
    ck_assert_int_eq(fd_suspects(&d, NULL, 1), BATON_EINVAL);
    ck_assert_int_eq(fd_peers(&d, NULL, 1), BATON_EINVAL);
    ck_assert_int_eq(fd_suspects(&d, out, 1), 2); /* count of all, one written */
    ck_assert_uint_eq(out[0], 2);
    ck_assert_uint_eq(out[1], 77);
    ck_assert_int_eq(fd_suspects(&d, NULL, 0), 2);

    struct fd_peer p;
    memset(&p, 0x5a, sizeof(p));
    ck_assert_int_eq(fd_peer_stats(&d, 42, &p), BATON_ENOTFOUND);
    ck_assert_uint_eq(p.id, 0x5a5a5a5a5a5a5a5aULL);
    ck_assert(!fd_suspected(&d, 42));
    ck_assert(!fd_suspected(&d, 1));
    ck_assert(!fd_suspected(&d, 0));
    assert_unchanged(&copy, &d);
}
END_TEST

START_TEST(test_time_near_the_end_of_uint64)
{
    /* A deadline past UINT64_MAX saturates instead of wrapping to "long ago". */
    struct fd_detector d;
    start(&d, 1, UINT64_MAX - 10);
    ck_assert_int_eq(fd_tick(&d, UINT64_MAX - 1, NULL, 0), 0);
    ck_assert(!fd_suspected(&d, 2));
    ck_assert_uint_eq(fd_next_deadline(&d), UINT64_MAX - 10);
    ck_assert_int_eq(fd_heartbeat_sent(&d, UINT64_MAX - 1), 0);
    ck_assert_uint_eq(fd_next_deadline(&d), UINT64_MAX);
    ck_assert_int_eq(fd_tick(&d, UINT64_MAX, NULL, 0), 1);
}
END_TEST

/* ---- a cluster of detectors on a simulated network ---- */

#define SIM_NODES 5
#define SIM_QMAX 8192

struct sim_msg {
    uint64_t at;
    int from, to;
};

/* Node i has id i + 1 and monitors every other node. Each heartbeat takes a random
 * delay: until gst from [1, noisy_max] and lost with probability drop_pct, from then
 * on at most calm_max and never lost (partial synchrony with GST). After gst the
 * delay is uniform in [1, calm_max], or, with congestion set, each link is either
 * fast ([1, 50]) or congested ([calm_max - 100, calm_max]) and switches between the
 * two with probability 1/50 per message: congestion onsets are what make silences
 * close to heartbeat_ms + calm_max. */
struct sim {
    uint64_t seed;
    uint64_t gst;
    unsigned noisy_max, drop_pct, calm_max;
    bool congestion;
    int crashed; /* node index, or -1 */
    uint64_t crash_at;

    uint64_t now;
    struct fd_detector fd[SIM_NODES];
    struct sim_msg q[SIM_QMAX];
    size_t nq;

    /* What happened. */
    uint64_t false_suspicions; /* suspicions of a node that had not crashed */
    uint64_t last_false_at;
    uint64_t late_false[SIM_NODES][SIM_NODES]; /* started at >= gst + heartbeat + calm_max */
    uint64_t crashed_in_flight;                /* messages from the crashed node */
    bool congested[SIM_NODES][SIM_NODES];      /* per link, with congestion */
    bool drained;                              /* crashed; all its messages delivered */
    bool detected[SIM_NODES];                  /* i suspected it after the drain */
};

static bool alive(const struct sim *s, int i)
{
    return i != s->crashed || s->now < s->crash_at;
}

static void sim_init(struct sim *s)
{
    struct fd_options opt;
    run_seed = s->seed;
    for (int i = 0; i < SIM_NODES; i++) {
        fd_options_default(&opt, (uint64_t)i + 1);
        ck_assert_int_eq(fd_init(&s->fd[i], &opt, 0), 0);
        for (int j = 0; j < SIM_NODES; j++) {
            if (j != i) {
                ck_assert_int_eq(fd_peer_add(&s->fd[i], (uint64_t)j + 1, 0), 0);
            }
        }
    }
}

static uint64_t sim_delay(struct sim *s, int from, int to)
{
    if (s->now < s->gst) {
        return rng_range(&s->seed, 1, s->noisy_max);
    }
    if (!s->congestion) {
        return rng_range(&s->seed, 1, s->calm_max);
    }
    bool *c = &s->congested[from][to];
    *c = rng_range(&s->seed, 1, 50) == 1 ? !*c : *c;
    return *c ? rng_range(&s->seed, s->calm_max - 100, s->calm_max) : rng_range(&s->seed, 1, 50);
}

static void sim_send_round(struct sim *s, int from)
{
    bool noisy = s->now < s->gst;
    for (int to = 0; to < SIM_NODES; to++) {
        if (to == from) {
            continue;
        }
        if (noisy && rng_range(&s->seed, 1, 100) <= s->drop_pct) {
            continue;
        }
        REQUIRE(s->nq < SIM_QMAX);
        uint64_t delay = sim_delay(s, from, to);
        s->q[s->nq++] = (struct sim_msg){.at = s->now + delay, .from = from, .to = to};
        s->crashed_in_flight += from == s->crashed;
    }
}

static void sim_deliver(struct sim *s)
{
    for (size_t k = 0; k < s->nq;) {
        struct sim_msg m = s->q[k];
        if (m.at > s->now) {
            k++;
            continue;
        }
        s->q[k] = s->q[--s->nq];
        s->crashed_in_flight -= m.from == s->crashed;
        if (!alive(s, m.to)) {
            continue;
        }
        int r = fd_heard(&s->fd[m.to], (uint64_t)m.from + 1, s->now);
        REQUIRE(r >= 0);
        /* Once drained, the crashed node can never be heard, so never trusted again. */
        REQUIRE(!(r == 1 && m.from == s->crashed && s->drained));
    }
}

static void sim_record_suspicions(struct sim *s, int i, const uint64_t *newly, int n)
{
    unsigned hb = s->fd[i].opt.heartbeat_ms;
    for (int k = 0; k < n; k++) {
        int j = (int)newly[k] - 1;
        REQUIRE(j >= 0 && j < SIM_NODES && j != i);
        if (alive(s, j)) {
            s->false_suspicions++;
            s->last_false_at = s->now;
            if (s->now >= s->gst + hb + s->calm_max) {
                s->late_false[i][j]++;
            }
        }
    }
}

/* Advances to the next event (a delivery or a node's deadline) and handles it:
 * deliveries first, then each due node sends its heartbeat round and ticks. */
static void sim_step(struct sim *s)
{
    uint64_t next = UINT64_MAX;
    for (size_t k = 0; k < s->nq; k++) {
        next = s->q[k].at < next ? s->q[k].at : next;
    }
    for (int i = 0; i < SIM_NODES; i++) {
        uint64_t dl = fd_next_deadline(&s->fd[i]);
        next = alive(s, i) && dl < next ? dl : next;
    }
    if (s->crashed >= 0 && s->now < s->crash_at && s->crash_at < next) {
        next = s->crash_at; /* stop at the crash so it takes effect on time */
    }
    REQUIRE(next >= s->now);
    s->now = next;

    sim_deliver(s);
    for (int i = 0; i < SIM_NODES; i++) {
        if (!alive(s, i) || fd_next_deadline(&s->fd[i]) > s->now) {
            continue;
        }
        if (fd_heartbeat_due(&s->fd[i], s->now)) {
            sim_send_round(s, i);
            REQUIRE(fd_heartbeat_sent(&s->fd[i], s->now) == 0);
        }
        uint64_t newly[FD_MAX_PEERS];
        int n = fd_tick(&s->fd[i], s->now, newly, FD_MAX_PEERS);
        REQUIRE(n >= 0 && n < SIM_NODES);
        sim_record_suspicions(s, i, newly, n);
        REQUIRE(fd_next_deadline(&s->fd[i]) > s->now);
    }
}

/* Strong completeness, checked after every step: from the moment the crashed
 * node's last message is delivered, every correct node suspects it by its timeout
 * and never stops. */
static void sim_check_completeness(struct sim *s)
{
    if (s->crashed < 0 || s->now < s->crash_at) {
        return;
    }
    s->drained = s->drained || s->crashed_in_flight == 0;
    if (!s->drained) {
        return;
    }
    uint64_t c = (uint64_t)s->crashed + 1;
    for (int i = 0; i < SIM_NODES; i++) {
        if (i == s->crashed) {
            continue;
        }
        struct fd_peer p = stats(&s->fd[i], c);
        if (s->detected[i]) {
            REQUIRE(p.suspected); /* trusts the crashed node again */
        }
        s->detected[i] = p.suspected;
        /* Never later than one timeout after the last arrival. */
        REQUIRE(p.suspected || s->now < p.last_heard_ms + p.timeout_ms);
        REQUIRE(!p.suspected || p.since_ms <= p.last_heard_ms + p.timeout_ms);
    }
}

static void sim_run(struct sim *s, uint64_t end)
{
    while (s->now < end) {
        sim_step(s);
        sim_check_completeness(s);
    }
}

/* Every correct node suspects the crashed one at the end, and no correct node. */
static void sim_check_end(const struct sim *s)
{
    for (int i = 0; i < SIM_NODES; i++) {
        if (i == s->crashed) {
            continue;
        }
        uint64_t sus[FD_MAX_PEERS];
        int n = fd_suspects(&s->fd[i], sus, FD_MAX_PEERS);
        ck_assert_int_eq(n, s->crashed >= 0 ? 1 : 0);
        if (s->crashed >= 0) {
            ck_assert_uint_eq(sus[0], (uint64_t)s->crashed + 1);
            ck_assert(s->detected[i]);
        }
    }
}

START_TEST(test_sim_crash_suspected_for_ever)
{
    /* A calm network (silences <= 100 + 50 ms against 500 ms timeouts) and node 3
     * crashing at 20.037 s: it is suspected by all four others within a timeout of
     * their last arrival from it, for the remaining half hour; nobody else ever is. */
    struct sim s = {.seed = seeds[_i], .gst = 0, .calm_max = 50, .crashed = 2,
                    .crash_at = 20037};
    sim_init(&s);
    sim_run(&s, 30 * 60 * 1000);
    ck_assert_msg(s.false_suspicions == 0, "seed %d", _i);
    sim_check_end(&s);
    for (int i = 0; i < SIM_NODES; i++) {
        if (i != s.crashed) {
            struct fd_peer p = stats(&s.fd[i], 3);
            ck_assert_uint_le(p.since_ms, s.crash_at + 50 + 500);
            ck_assert_uint_eq(p.suspicions, 1);
            ck_assert_uint_eq(p.timeout_ms, 500);
        }
    }
}
END_TEST

START_TEST(test_sim_eventual_accuracy_after_noise)
{
    /* 30 s of delays up to 2 s (four timeouts) with 5% loss, node 5 crashing in the
     * middle of it; then delays of at most 300 ms. Calm silences (<= 400 ms) are
     * below even the base timeout, so after gst + 400 no correct node may be
     * suspected again, while the crashed one stays suspected by all. */
    struct sim s = {.seed = seeds[_i], .gst = 30000, .noisy_max = 2000, .drop_pct = 5,
                    .calm_max = 300, .crashed = 4, .crash_at = 12345};
    sim_init(&s);
    sim_run(&s, s.gst);
    ck_assert_msg(s.false_suspicions > 0, "seed %d: the noise caused no suspicion", _i);
    uint64_t grown = 0;
    for (int i = 0; i < SIM_NODES; i++) {
        for (int j = 0; j < SIM_NODES; j++) {
            grown += j != i && stats(&s.fd[i], (uint64_t)j + 1).timeout_ms > 500;
        }
    }
    ck_assert_uint_gt(grown, 0);

    sim_run(&s, s.gst + 20 * 60 * 1000);
    for (int i = 0; i < SIM_NODES; i++) {
        for (int j = 0; j < SIM_NODES; j++) {
            ck_assert_msg(s.late_false[i][j] == 0, "seed %d: %d suspected %d after GST", _i,
                          i + 1, j + 1);
        }
    }
    sim_check_end(&s);
}
END_TEST

START_TEST(test_sim_timeouts_adapt)
{
    /* Links that congest now and then, to delays of 800..900 ms, from the start:
     * silences reach 999 ms, twice the base timeout, so false suspicions must
     * happen. Each grows a timeout by 250 ms and none can happen once a timeout is
     * 1000, so each ordered pair is falsely suspected at most (1000 - 500) / 250 = 2
     * times (at 500 and at 750), and every congestion onset (a silence of at least
     * 100 + 800 - 50 ms) forces them: after the first few, silence for ever.
     * A crash-free 20 minutes. */
    struct sim s = {.seed = seeds[_i], .gst = 0, .calm_max = 900, .congestion = true,
                    .crashed = -1};
    sim_init(&s);
    sim_run(&s, 20 * 60 * 1000);
    uint64_t total = 0;
    for (int i = 0; i < SIM_NODES; i++) {
        for (int j = 0; j < SIM_NODES; j++) {
            if (i == j) {
                continue;
            }
            struct fd_peer p = stats(&s.fd[i], (uint64_t)j + 1);
            ck_assert_uint_eq(p.suspicions, 2);
            ck_assert_uint_eq(p.false_suspicions, 2);
            ck_assert_uint_eq(p.timeout_ms, 1000);
            total += p.suspicions;
        }
    }
    ck_assert_uint_eq(total, s.false_suspicions);
    ck_assert_msg(s.last_false_at < 2 * 60 * 1000, "seed %d: false suspicion at %llu", _i,
                  (unsigned long long)s.last_false_at);
    sim_check_end(&s);
}
END_TEST

static Suite *fd_suite(void)
{
    Suite *s = suite_create("fd");
    TCase *rules = tcase_create("rules");
    tcase_add_test(rules, test_options_validation);
    tcase_add_loop_test(rules, test_on_time_peer_never_suspected, 0, N_SEEDS);
    tcase_add_test(rules, test_suspected_after_timeout_for_ever);
    tcase_add_test(rules, test_false_suspicion_restores_trust);
    tcase_add_test(rules, test_timeout_grows_to_cap);
    suite_add_tcase(s, rules);

    TCase *schedule = tcase_create("schedule");
    tcase_add_test(schedule, test_heartbeat_schedule);
    tcase_add_test(schedule, test_next_deadline_includes_peers);
    suite_add_tcase(s, schedule);

    TCase *membership = tcase_create("membership");
    tcase_add_test(membership, test_peer_add_remove);
    suite_add_tcase(s, membership);

    TCase *input = tcase_create("bad_input");
    tcase_add_test(input, test_bad_input);
    tcase_add_test(input, test_time_near_the_end_of_uint64);
    suite_add_tcase(s, input);

    TCase *sim = tcase_create("sim");
    tcase_set_timeout(sim, 120);
    tcase_add_loop_test(sim, test_sim_crash_suspected_for_ever, 0, N_SEEDS);
    tcase_add_loop_test(sim, test_sim_eventual_accuracy_after_noise, 0, N_SEEDS);
    tcase_add_loop_test(sim, test_sim_timeouts_adapt, 0, N_SEEDS);
    suite_add_tcase(s, sim);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(fd_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
