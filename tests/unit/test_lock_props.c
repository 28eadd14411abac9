/* Property tests of src/lock: encodings, snapshots, determinism, token order, hostile bytes. */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lock/lock.h"

#define SEEDED_DEFAULT 0x10c4ed5eedull
#include "seeded.h"

static uint64_t seed; /* of the running test, for failure messages */

/* ck_assert reports every passing check through a pipe, far too slow in
 * loops of a million steps; this calls into Check only on failure. */
#define REQUIRE(cond)                                                                   \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            ck_abort_msg("%s:%d: %s (seed %" PRIu64 ")", __FILE__, __LINE__, #cond, seed); \
        }                                                                               \
    } while (0)

/* FNV-1a 64, the snapshot's checksum, so mutated snapshots can be re-sealed
 * and reach the structural checks behind it. */
static uint64_t fnv(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ p[i]) * 0x100000001b3ull;
    }
    return h;
}

static void seal(uint8_t *p, size_t n)
{
    if (n < 12) {
        return;
    }
    uint64_t h = fnv(p, n - 8);
    for (int i = 0; i < 8; i++) {
        p[n - 8 + i] = (uint8_t)(h >> (56 - 8 * i));
    }
}

/* ---- A generator of commands aimed at the current state -------------------- */

static const char *const names[] = {"a", "b", "c", "d", "e", "queue/long-name-0123456789"};
#define N_NAMES (sizeof(names) / sizeof(names[0]))

struct pick {
    uint64_t leases[256];
    size_t n_leases;
    struct lock_waiter waits[256];
    char wait_names[256][LOCK_NAME_MAX + 1];
    size_t n_waits;
    struct lock_info delays[64];
    char delay_names[64][LOCK_NAME_MAX + 1];
    size_t n_delays;
};

static int pick_lease(const struct lease_info *info, void *arg)
{
    struct pick *p = arg;
    if (p->n_leases < 256) {
        p->leases[p->n_leases++] = info->id;
    }
    return 0;
}

static int pick_wait(const struct lock_waiter *w, void *arg)
{
    struct pick *p = arg;
    if (p->n_waits < 256) {
        snprintf(p->wait_names[p->n_waits], LOCK_NAME_MAX + 1, "%s", w->name);
        p->waits[p->n_waits++] = *w;
    }
    return 0;
}

static int pick_delay(const struct lock_info *info, void *arg)
{
    struct pick *p = arg;
    if (p->n_delays < 64) {
        snprintf(p->delay_names[p->n_delays], LOCK_NAME_MAX + 1, "%s", info->name);
        p->delays[p->n_delays++] = *info;
    }
    return 0;
}

static uint64_t some_lease(uint64_t *st, const struct pick *p)
{
    if (p->n_leases == 0 || below(st, 10) == 0) {
        return 1 + below(st, 2000); /* most likely not live */
    }
    return p->leases[below(st, p->n_leases)];
}

/* A command for the state of sm, encoded into buf (LOCK_CMD_MAX bytes), or
 * now and then garbage; returns its length. */
static size_t gen(uint64_t *st, const struct lock_sm *sm, uint8_t *buf)
{
    static struct pick p;
    memset(&p, 0, sizeof(p));
    (void)lease_walk(sm, pick_lease, &p);
    (void)lock_waiter_walk(sm, pick_wait, &p);
    (void)lock_delay_walk(sm, pick_delay, &p);
    struct lock_cmd c = {0};
    snprintf(c.name, sizeof(c.name), "%s", names[below(st, N_NAMES)]);
    uint64_t r = below(st, 100);
    if (r < 12 || p.n_leases == 0) {
        c.type = LOCK_CMD_LEASE_GRANT;
        c.ttl_ms = 1 + below(st, 10000);
    } else if (r < 22) {
        c.type = below(st, 3) ? LOCK_CMD_LEASE_EXPIRE : LOCK_CMD_LEASE_REVOKE;
        struct lock_info info; /* end a holder more often than not */
        REQUIRE(lock_inspect(sm, c.name, &info, NULL, 0) == 0);
        c.lease = info.holder != 0 && below(st, 3) ? info.holder : some_lease(st, &p);
    } else if (r < 60) {
        c.type = LOCK_CMD_ACQUIRE;
        c.lease = some_lease(st, &p);
        c.wait_ms = below(st, 3) ? 1 + below(st, 10000) : 0;
        c.lock_delay_ms = below(st, 2) ? below(st, LOCK_DELAY_MAX_MS + 1) : 0;
    } else if (r < 75) {
        c.type = LOCK_CMD_RELEASE;
        struct lock_info info;
        REQUIRE(lock_inspect(sm, c.name, &info, NULL, 0) == 0);
        c.lease = info.holder != 0 && below(st, 3) ? info.holder : some_lease(st, &p);
        if (p.n_waits > 0 && below(st, 4) == 0) { /* a waiter gives up */
            size_t i = below(st, p.n_waits);
            c.lease = p.waits[i].lease;
            snprintf(c.name, sizeof(c.name), "%s", p.wait_names[i]);
        }
    } else if (r < 85 && p.n_waits > 0) {
        const struct lock_waiter *w = &p.waits[below(st, p.n_waits)];
        c.type = LOCK_CMD_WAIT_END;
        c.lease = w->lease;
        c.since = below(st, 5) ? w->since : 1 + below(st, 3000);
        snprintf(c.name, sizeof(c.name), "%s", p.wait_names[w - p.waits]);
    } else if (r < 93 && p.n_delays > 0) {
        size_t i = below(st, p.n_delays);
        c.type = LOCK_CMD_DELAY_END;
        c.since = below(st, 5) ? p.delays[i].delay_since : 1 + below(st, 3000);
        snprintf(c.name, sizeof(c.name), "%s", p.delay_names[i]);
    } else {
        size_t n = below(st, 24);
        for (size_t i = 0; i < n; i++) {
            buf[i] = (uint8_t)(i < 2 ? 1 + below(st, 8) : rnd(st));
        }
        return n;
    }
    size_t n;
    REQUIRE(lock_cmd_encode(&c, buf, LOCK_CMD_MAX, &n) == 0);
    return n;
}

/* ---- Comparing state machines ---------------------------------------------- */

static void snap(const struct lock_sm *s, void **p, size_t *n)
{
    REQUIRE(lock_sm_snapshot(s, p, n) == 0);
}

static void require_same_state(const struct lock_sm *x, const struct lock_sm *y)
{
    void *a, *b;
    size_t n, m;
    snap(x, &a, &n);
    snap(y, &b, &m);
    REQUIRE(n == m && memcmp(a, b, n) == 0);
    free(a);
    free(b);
}

static void require_same_result(const struct lock_result *a, const struct lock_events *ea,
                                const struct lock_result *b, const struct lock_events *eb)
{
    REQUIRE(memcmp(a, b, sizeof(*a)) == 0); /* both were zeroed by lock_apply */
    REQUIRE(ea->n == eb->n);
    for (size_t i = 0; i < ea->n; i++) {
        const struct lock_event *x = &ea->v[i], *y = &eb->v[i];
        REQUIRE(x->type == y->type && x->reason == y->reason && x->lease == y->lease);
        REQUIRE(x->token == y->token && x->ms == y->ms && x->since == y->since);
        REQUIRE((x->name == NULL) == (y->name == NULL));
        REQUIRE(x->name == NULL || strcmp(x->name, y->name) == 0);
    }
}

static struct lock_sm *fresh(void)
{
    struct lock_sm *s = lock_sm_new();
    ck_assert_ptr_nonnull(s);
    return s;
}

/* Applies steps commands, generated from x's state, to x and to y (unless
 * NULL), requiring identical results and events at every step. */
static void run_twins(uint64_t *st, struct lock_sm *x, struct lock_sm *y, uint64_t *index,
                      int steps)
{
    struct lock_events ex, ey;
    lock_events_init(&ex);
    lock_events_init(&ey);
    for (int i = 0; i < steps; i++) {
        uint8_t buf[LOCK_CMD_MAX];
        size_t n = gen(st, x, buf);
        *index += 1 + below(st, 3); /* other entries (no-ops, configurations) in between */
        struct lock_result rx, ry;
        REQUIRE(lock_apply(x, *index, buf, n, &rx, &ex) == 0);
        if (y != NULL) {
            REQUIRE(lock_apply(y, *index, buf, n, &ry, &ey) == 0);
            require_same_result(&rx, &ex, &ry, &ey);
        }
    }
    lock_events_close(&ex);
    lock_events_close(&ey);
}

/* ---- Invariants of any reachable state ------------------------------------ */

struct inv {
    const struct lock_sm *sm;
    size_t held;  /* sum over locks of "has a holder" */
    size_t waits; /* sum over locks of waiters */
    uint64_t last_created;
};

static int inv_lock(const struct lock_info *info, void *arg)
{
    struct inv *v = arg;
    struct lease_info li;
    REQUIRE(info->created > v->last_created); /* creation order */
    v->last_created = info->created;
    REQUIRE(info->holder != 0 || info->delay_since != 0); /* a free lock is forgotten */
    REQUIRE(info->holder == 0 || info->delay_since == 0);
    REQUIRE((info->holder == 0) == (info->token == 0));
    REQUIRE(info->holder == 0 || lease_get(v->sm, info->holder, &li) == 0);
    REQUIRE(info->token == 0 || lock_check(v->sm, info->name, info->token));
    v->held += info->holder != 0;
    struct lock_info again;
    struct lock_waiter w[64];
    REQUIRE(lock_inspect(v->sm, info->name, &again, w, 64) == 0);
    REQUIRE(again.n_waiters == info->n_waiters && again.n_waiters <= 64);
    for (size_t i = 0; i < again.n_waiters; i++) {
        REQUIRE(lease_get(v->sm, w[i].lease, &li) == 0);
        REQUIRE(w[i].lease != info->holder);
        for (size_t j = 0; j < i; j++) {
            REQUIRE(w[j].lease != w[i].lease); /* at most once in a queue */
        }
    }
    v->waits += again.n_waiters;
    return 0;
}

static int inv_lease(const struct lease_info *info, void *arg)
{
    struct inv *v = arg;
    v->held -= info->n_held; /* wraps below zero if the counts disagree */
    v->waits -= info->n_waits;
    return 0;
}

static void require_invariants(const struct lock_sm *s)
{
    struct inv v = {.sm = s};
    REQUIRE(lock_walk(s, inv_lock, &v) == 0);
    REQUIRE(lease_walk(s, inv_lease, &v) == 0);
    REQUIRE(v.held == 0 && v.waits == 0);
}

/* ---- Commands -------------------------------------------------------------- */

static void require_round_trip(const struct lock_cmd *c)
{
    uint8_t buf[LOCK_CMD_MAX], again[LOCK_CMD_MAX];
    size_t n, m;
    REQUIRE(lock_cmd_encode(c, buf, sizeof(buf), &n) == 0);
    struct lock_cmd d;
    REQUIRE(lock_cmd_decode(buf, n, &d) == 0);
    REQUIRE(memcmp(c, &d, sizeof(d)) == 0);
    REQUIRE(lock_cmd_encode(&d, again, sizeof(again), &m) == 0);
    REQUIRE(m == n && memcmp(buf, again, n) == 0);
    REQUIRE(lock_cmd_encode(c, again, n - 1, &m) == BATON_ETOOBIG && m == 0);
    for (size_t k = 0; k < n; k++) { /* every proper prefix */
        REQUIRE(lock_cmd_decode(buf, k, &d) == BATON_EMALFORMED);
        REQUIRE(d.type == 0);
    }
    buf[n] = 0; /* one trailing byte */
    REQUIRE(lock_cmd_decode(buf, n + 1, &d) == BATON_EMALFORMED);
}

START_TEST(test_cmd_round_trip)
{
    seed = 0;
    struct lock_cmd c;
    for (int type = 1; type <= LOCK_CMD_TYPE_MAX; type++) {
        for (int big = 0; big < 2; big++) {
            memset(&c, 0, sizeof(c));
            c.type = type;
            if (type != LOCK_CMD_LEASE_GRANT && type != LOCK_CMD_DELAY_END) {
                c.lease = big ? UINT64_MAX : 1;
            }
            if (type == LOCK_CMD_LEASE_GRANT) {
                c.ttl_ms = big ? LOCK_MS_MAX : 1;
            }
            if (type == LOCK_CMD_ACQUIRE) {
                c.wait_ms = big ? LOCK_MS_MAX : 0;
                c.lock_delay_ms = big ? LOCK_DELAY_MAX_MS : 0;
            }
            if (type == LOCK_CMD_WAIT_END || type == LOCK_CMD_DELAY_END) {
                c.since = big ? UINT64_MAX : 1;
            }
            if (type >= LOCK_CMD_ACQUIRE) {
                memset(c.name, big ? 0xff : 'x', big ? LOCK_NAME_MAX : 1);
            }
            require_round_trip(&c);
        }
    }
    uint8_t buf[LOCK_CMD_MAX];
    size_t n;
    memset(&c, 0, sizeof(c));
    c.type = LOCK_CMD_TYPE_MAX + 1;
    REQUIRE(lock_cmd_encode(&c, buf, sizeof(buf), &n) == BATON_EINVAL);
    c.type = LOCK_CMD_DELAY_END;
    strcpy(c.name, "L");
    REQUIRE(lock_cmd_encode(&c, buf, sizeof(buf), &n) == BATON_EINVAL); /* since 0 */
    ck_assert_str_eq(lock_cmd_type_name(LOCK_CMD_ACQUIRE), "acquire");
    ck_assert_str_eq(lock_cmd_type_name(99), "unknown");
}
END_TEST

START_TEST(test_cmd_varints)
{
    seed = 0;
    struct lock_cmd d;
    const uint8_t max[] = {1, LOCK_CMD_LEASE_REVOKE, 0xff, 0xff, 0xff, 0xff, 0xff,
                           0xff, 0xff, 0xff, 0xff, 0x01};
    REQUIRE(lock_cmd_decode(max, sizeof(max), &d) == 0 && d.lease == UINT64_MAX);
    const uint8_t over[] = {1, LOCK_CMD_LEASE_REVOKE, 0xff, 0xff, 0xff, 0xff, 0xff,
                            0xff, 0xff, 0xff, 0xff, 0x02};
    REQUIRE(lock_cmd_decode(over, sizeof(over), &d) == BATON_EMALFORMED);
    const uint8_t eleven[] = {1, LOCK_CMD_LEASE_REVOKE, 0x81, 0x80, 0x80, 0x80, 0x80, 0x80,
                              0x80, 0x80, 0x80, 0x80, 0x00};
    REQUIRE(lock_cmd_decode(eleven, sizeof(eleven), &d) == BATON_EMALFORMED);
    const uint8_t padded[] = {1, LOCK_CMD_LEASE_REVOKE, 0x81, 0x00};
    REQUIRE(lock_cmd_decode(padded, sizeof(padded), &d) == BATON_EMALFORMED);
    const uint8_t two[] = {1, LOCK_CMD_LEASE_REVOKE, 0x80, 0x01};
    REQUIRE(lock_cmd_decode(two, sizeof(two), &d) == 0 && d.lease == 128);
}
END_TEST

/* Hostile bytes never crash the decoder, and what it accepts re-encodes to
 * exactly the same bytes (one encoding per command). */
START_TEST(test_cmd_fuzz)
{
    seed = base_seed() + (uint64_t)_i;
    uint64_t st = seed;
    struct lock_sm *sm = fresh();
    for (int i = 0; i < 200000; i++) {
        uint8_t buf[LOCK_CMD_MAX + 8];
        size_t n;
        if (below(&st, 2)) {
            n = gen(&st, sm, buf);
            size_t flips = 1 + below(&st, 3);
            for (size_t k = 0; k < flips && n > 0; k++) {
                buf[below(&st, n)] ^= (uint8_t)(1u << below(&st, 8));
            }
        } else {
            n = below(&st, 40);
            for (size_t k = 0; k < n; k++) {
                buf[k] = (uint8_t)(k < 2 ? below(&st, 9) : rnd(&st));
            }
        }
        struct lock_cmd c;
        int rc = lock_cmd_decode(buf, n, &c);
        REQUIRE(rc == 0 || rc == BATON_EMALFORMED || rc == BATON_EVERSION);
        if (rc == 0) {
            uint8_t again[LOCK_CMD_MAX];
            size_t m;
            REQUIRE(lock_cmd_encode(&c, again, sizeof(again), &m) == 0);
            REQUIRE(m == n && memcmp(again, buf, n) == 0);
        }
    }
    lock_sm_free(sm);
}
END_TEST

/* ---- Determinism and token order ------------------------------------------ */

/* Two state machines fed the same commands stay byte-identical. */
START_TEST(test_determinism)
{
    seed = base_seed() + (uint64_t)_i;
    uint64_t st = seed;
    struct lock_sm *x = fresh(), *y = fresh();
    uint64_t index = 0;
    for (int round = 0; round < 40; round++) {
        run_twins(&st, x, y, &index, 250);
        require_same_state(x, y);
        require_invariants(x);
    }
    lock_sm_free(x);
    lock_sm_free(y);
}
END_TEST

/* Over a long random run every change of holder of a lock carries a token
 * larger than all before it, equal to the index of the entry that made it. */
START_TEST(test_tokens_rise)
{
    seed = base_seed() + 100 + (uint64_t)_i;
    uint64_t st = seed;
    struct lock_sm *sm = fresh();
    struct lock_events ev;
    lock_events_init(&ev);
    uint64_t last[N_NAMES] = {0};
    size_t grants = 0, handed = 0, delays = 0, ended[LOCK_REASON_CANCELED + 1] = {0};
    uint64_t index = 0;
    for (int i = 0; i < 30000; i++) {
        uint8_t buf[LOCK_CMD_MAX];
        size_t n = gen(&st, sm, buf);
        index += 1 + below(&st, 2);
        struct lock_result res;
        REQUIRE(lock_apply(sm, index, buf, n, &res, &ev) == 0);
        for (size_t k = 0; k < ev.n; k++) {
            const struct lock_event *e = &ev.v[k];
            size_t j = 0;
            while (e->name != NULL && j < N_NAMES && strcmp(names[j], e->name) != 0) {
                j++;
            }
            delays += e->type == LOCK_EVENT_DELAY_STARTED;
            if (e->type == LOCK_EVENT_WAIT_ENDED || e->type == LOCK_EVENT_DELAY_ENDED) {
                ended[e->type == LOCK_EVENT_DELAY_ENDED ? 0 : e->reason]++;
            }
            if (e->type != LOCK_EVENT_GRANTED) {
                continue;
            }
            handed += res.type != LOCK_CMD_ACQUIRE;
            REQUIRE(j < N_NAMES);
            REQUIRE(e->token == index && e->token > last[j]);
            REQUIRE(lock_check(sm, e->name, e->token));
            last[j] = e->token;
            grants++;
        }
        if (i % 100 == 0) {
            require_invariants(sm);
        }
    }
    /* The run exercised what it claims to: hand-offs to waiters, lock-delays
     * and their ends, and waits ended by every cause. */
    REQUIRE(grants > 2000 && handed > 500 && delays > 200 && ended[0] > 100);
    for (int reason = LOCK_REASON_REVOKED; reason <= LOCK_REASON_CANCELED; reason++) {
        REQUIRE(ended[reason] > 20);
    }
    lock_events_close(&ev);
    lock_sm_free(sm);
}
END_TEST

/* ---- Snapshots ------------------------------------------------------------- */

START_TEST(test_snapshot_empty)
{
    seed = 0;
    struct lock_sm *a = fresh(), *b = fresh();
    void *p;
    size_t n;
    snap(a, &p, &n);
    REQUIRE(n == 4 + 2 + 8);
    struct lock_result res;
    const uint8_t grant[] = {LOCK_FORMAT, LOCK_CMD_LEASE_GRANT, 10};
    REQUIRE(lock_apply(b, 5, grant, sizeof(grant), &res, NULL) == 0 && res.code == 0);
    REQUIRE(lease_count(b) == 1);
    REQUIRE(lock_sm_restore(b, p, n, 9) == 0); /* replaces, does not merge */
    REQUIRE(lease_count(b) == 0 && lock_sm_applied(b) == 9);
    require_same_state(a, b);
    free(p);
    lock_sm_free(a);
    lock_sm_free(b);
}
END_TEST

/* restore(snapshot(s)) == s: equal bytes, and equal behaviour from then on. */
START_TEST(test_snapshot_round_trip)
{
    seed = base_seed() + 200 + (uint64_t)_i;
    uint64_t st = seed;
    struct lock_sm *orig = fresh(), *copy = fresh();
    uint64_t index = 0;
    run_twins(&st, orig, NULL, &index, (int)below(&st, 3000));
    void *p;
    size_t n;
    snap(orig, &p, &n);
    REQUIRE(lock_sm_restore(copy, p, n, index) == 0);
    REQUIRE(lock_sm_applied(copy) == index);
    require_same_state(orig, copy);
    require_invariants(copy);
    run_twins(&st, orig, copy, &index, 2000);
    require_same_state(orig, copy);
    free(p);
    lock_sm_free(orig);
    lock_sm_free(copy);
}
END_TEST

/* Garbage into restore: never a crash, always an error, and the state
 * machine it was given is left as it was. */
START_TEST(test_restore_garbage)
{
    seed = base_seed() + 300 + (uint64_t)_i;
    uint64_t st = seed;
    struct lock_sm *sm = fresh(), *twin = fresh();
    uint64_t index = 0;
    run_twins(&st, sm, twin, &index, 300);
    uint8_t buf[512];
    for (int i = 0; i < 20000; i++) {
        size_t n = below(&st, sizeof(buf));
        for (size_t k = 0; k < n; k++) {
            buf[k] = (uint8_t)rnd(&st);
        }
        if (n >= 4 && below(&st, 2)) {
            memcpy(buf, "BLS\x01", 4);
        }
        if (below(&st, 2)) {
            seal(buf, n);
        }
        int rc = lock_sm_restore(sm, buf, n, index);
        REQUIRE(rc == BATON_ECORRUPT || rc == BATON_EVERSION);
    }
    require_same_state(sm, twin);
    REQUIRE(lock_sm_applied(sm) == index);
    lock_sm_free(sm);
    lock_sm_free(twin);
}
END_TEST

/* Valid snapshots, damaged and re-sealed: restore either refuses (leaving the
 * target alone) or accepts a state that re-encodes to exactly those bytes. */
START_TEST(test_restore_mutations)
{
    seed = base_seed() + 400 + (uint64_t)_i;
    uint64_t st = seed;
    struct lock_sm *src = fresh(), *dst = fresh(), *twin = fresh();
    uint64_t index = 0;
    for (int i = 0; i < 400; i++) {
        run_twins(&st, src, NULL, &index, 1);
        void *p;
        size_t n;
        snap(src, &p, &n);
        uint8_t *b = realloc(p, n + 16);
        ck_assert_ptr_nonnull(b);
        size_t m = n;
        int kind = (int)below(&st, 4);
        size_t at = 4 + below(&st, n - 4);
        if (kind == 0) {
            b[at] ^= (uint8_t)(1u << below(&st, 8));
        } else if (kind == 1) {
            b[at] = (uint8_t)rnd(&st);
        } else if (kind == 2 && n > 13) {
            memmove(b + at, b + at + 1, n - at - 1); /* drop a byte */
            m = n - 1;
        } else {
            memmove(b + at + 1, b + at, n - at); /* insert a byte */
            b[at] = (uint8_t)rnd(&st);
            m = n + 1;
        }
        seal(b, m);
        int rc = lock_sm_restore(dst, b, m, index + below(&st, 2));
        if (rc == 0) {
            void *q;
            size_t qn;
            snap(dst, &q, &qn);
            REQUIRE(qn == m && memcmp(q, b, m) == 0);
            require_invariants(dst);
            free(q);
            REQUIRE(lock_sm_restore(twin, b, m, lock_sm_applied(dst)) == 0);
        } else {
            REQUIRE(rc == BATON_ECORRUPT);
            require_same_state(dst, twin);
        }
        free(b);
    }
    lock_sm_free(src);
    lock_sm_free(dst);
    lock_sm_free(twin);
}
END_TEST

/* ---- Hand-built snapshots that break one rule each -------------------------- */

struct builder {
    uint8_t b[512];
    size_t n;
};

static void put(struct builder *s, uint64_t v)
{
    do {
        uint8_t x = (uint8_t)(v & 0x7f);
        v >>= 7;
        s->b[s->n++] = (uint8_t)(x | (v != 0 ? 0x80 : 0));
    } while (v != 0);
}

/* Leases 10 and 11; lock "L" created at 12, held by 10 (token 12), with 11
 * waiting since 13: valid at index 20. Each row changes one thing. */
struct shape {
    const char *what;
    int expect;
    uint64_t lease_a, lease_b, ttl;
    uint64_t created, holder, token, delay_since, delay_ms;
    uint64_t n_waiters, waiter, wait_ms, since;
    int twice; /* the lock twice */
    int extra; /* a trailing byte */
    uint64_t index;
};

static const struct shape base = {
    "valid", 0, 10, 11, 1000, 12, 10, 12, 0, 0, 1, 11, 500, 13, 0, 0, 20};

static size_t build(const struct shape *sh, uint8_t *out)
{
    struct builder s = {.n = 0};
    memcpy(s.b, "BLS\x01", 4);
    s.n = 4;
    put(&s, 2);
    put(&s, sh->lease_a);
    put(&s, sh->ttl);
    put(&s, sh->lease_b);
    put(&s, 1000);
    put(&s, sh->twice ? 2 : 1);
    for (int k = 0; k <= sh->twice; k++) {
        put(&s, 1);
        s.b[s.n++] = 'L';
        put(&s, sh->created + (uint64_t)k);
        put(&s, sh->holder);
        if (sh->holder != 0) {
            put(&s, sh->token);
            put(&s, 0);
        }
        put(&s, sh->delay_since);
        if (sh->delay_since != 0) {
            put(&s, sh->delay_ms);
        }
        put(&s, sh->n_waiters);
        for (uint64_t w = 0; w < sh->n_waiters && w < 2; w++) {
            put(&s, sh->waiter);
            put(&s, sh->wait_ms);
            put(&s, 0);
            put(&s, sh->since + w);
        }
    }
    if (sh->extra) {
        put(&s, 0);
    }
    s.n += 8;
    seal(s.b, s.n);
    memcpy(out, s.b, s.n);
    return s.n;
}

/* The rows of test_restore_rules: base, then one broken rule per row. */
static size_t restore_rows(struct shape *rows)
{
    size_t n = 0;
#define ROW(field, value, text)                                                            \
    do {                                                                                  \
        rows[n] = base;                                                                   \
        rows[n].field = (value);                                                          \
        rows[n].what = (text);                                                            \
        rows[n].expect = BATON_ECORRUPT;                                                  \
        n++;                                                                              \
    } while (0)
    rows[n++] = base;
    ROW(lease_b, 9, "lease ids not rising");
    ROW(lease_b, 10, "lease id twice");
    ROW(index, 12, "an index past the snapshot's");
    ROW(ttl, 0, "ttl 0");
    ROW(holder, 99, "holder not a lease");
    ROW(token, 11, "token before the lock existed");
    ROW(token, 21, "token past the index");
    ROW(holder, 0, "a free lock with waiters");
    ROW(waiter, 10, "the holder waits");
    ROW(waiter, 77, "waiter not a lease");
    ROW(n_waiters, 2, "a lease twice in one queue");
    ROW(n_waiters, 100, "more waiters than bytes");
    ROW(wait_ms, 0, "wait of 0 ms");
    ROW(since, 11, "wait older than its lease");
    ROW(twice, 1, "a lock twice");
    ROW(extra, 1, "trailing bytes");
    ROW(delay_since, 15, "delay while held");
    ROW(created, 0, "created 0");
#undef ROW
    rows[n] = base; /* a lock under delay alone */
    rows[n].holder = 0;
    rows[n].delay_since = 15;
    rows[n].delay_ms = 100;
    rows[n++].what = "delayed";
    rows[n] = rows[n - 1];
    rows[n].delay_ms = 0;
    rows[n].expect = BATON_ECORRUPT;
    rows[n++].what = "delay of 0 ms";
    rows[n] = rows[n - 2];
    rows[n].delay_ms = LOCK_DELAY_MAX_MS + 1;
    rows[n].expect = BATON_ECORRUPT;
    rows[n++].what = "delay too long";
    return n;
}

START_TEST(test_restore_rules)
{
    seed = 0;
    struct shape rows[32];
    size_t n = restore_rows(rows);
    struct lock_sm *sm = fresh();
    for (size_t i = 0; i < n; i++) {
        uint8_t b[512];
        size_t len = build(&rows[i], b);
        int rc = lock_sm_restore(sm, b, len, rows[i].index);
        ck_assert_msg(rc == rows[i].expect, "%s: %d", rows[i].what, rc);
        if (rc == 0) {
            void *q;
            size_t qn;
            snap(sm, &q, &qn);
            ck_assert_msg(qn == len && memcmp(q, b, len) == 0, "%s: re-encoding", rows[i].what);
            free(q);
        }
    }
    uint8_t b[512];
    size_t len = build(&base, b);
    b[5] ^= 1; /* not re-sealed */
    ck_assert_int_eq(lock_sm_restore(sm, b, len, 20), BATON_ECORRUPT);
    len = build(&base, b);
    b[3] = 2;
    ck_assert_int_eq(lock_sm_restore(sm, b, len, 20), BATON_EVERSION);
    b[3] = 0;
    ck_assert_int_eq(lock_sm_restore(sm, b, len, 20), BATON_ECORRUPT);
    b[3] = 1;
    b[0] = 'X';
    ck_assert_int_eq(lock_sm_restore(sm, b, len, 20), BATON_ECORRUPT);
    ck_assert_int_eq(lock_sm_restore(sm, b, 3, 20), BATON_ECORRUPT);
    lock_sm_free(sm);
}
END_TEST

#define LOOPS 4

static Suite *lock_props_suite(void)
{
    Suite *s = suite_create("lock_props");
    TCase *cmd = tcase_create("commands");
    tcase_set_timeout(cmd, 120);
    tcase_add_test(cmd, test_cmd_round_trip);
    tcase_add_test(cmd, test_cmd_varints);
    tcase_add_loop_test(cmd, test_cmd_fuzz, 0, 2);
    suite_add_tcase(s, cmd);

    TCase *run = tcase_create("runs");
    tcase_set_timeout(run, 240);
    tcase_add_loop_test(run, test_determinism, 0, LOOPS);
    tcase_add_loop_test(run, test_tokens_rise, 0, LOOPS);
    suite_add_tcase(s, run);

    TCase *snapshot = tcase_create("snapshots");
    tcase_set_timeout(snapshot, 240);
    tcase_add_test(snapshot, test_snapshot_empty);
    tcase_add_loop_test(snapshot, test_snapshot_round_trip, 0, 16);
    tcase_add_test(snapshot, test_restore_rules);
    tcase_add_loop_test(snapshot, test_restore_garbage, 0, LOOPS);
    tcase_add_loop_test(snapshot, test_restore_mutations, 0, LOOPS);
    suite_add_tcase(s, snapshot);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(lock_props_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
