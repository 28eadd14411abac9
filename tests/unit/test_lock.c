/* Unit tests of the lock/lease state machine's rules (src/lock), one scenario at a time. */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lock/clock.h"
#include "lock/lock.h"

/* ck_assert() reports each passing check to the runner through a pipe, far
 * too slow for the helpers in the scale test's 260k applies; this calls into
 * Check only on failure. */
#define REQUIRE(cond)                                                                   \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            ck_abort_msg("%s:%d: %s", __FILE__, __LINE__, #cond);                       \
        }                                                                               \
    } while (0)

/* ---- Fixture: one state machine fed commands at rising indices ---------- */

static struct lock_sm *sm;
static struct lock_events ev;
static struct lock_result res;
static uint64_t idx; /* index of the last entry applied */

static void setup(void)
{
    sm = lock_sm_new();
    ck_assert_ptr_nonnull(sm);
    lock_events_init(&ev);
    memset(&res, 0, sizeof(res));
    idx = 100; /* so that ids and tokens are not small counts by accident */
}

static void teardown(void)
{
    lock_sm_free(sm);
    lock_events_close(&ev);
}

/* Applies raw bytes at the next index; returns the command's code. */
static int apply_raw(const void *p, size_t n)
{
    REQUIRE(lock_apply(sm, ++idx, p, n, &res, &ev) == 0);
    REQUIRE(lock_sm_applied(sm) == idx);
    return res.code;
}

static int apply(const struct lock_cmd *c)
{
    uint8_t buf[LOCK_CMD_MAX];
    size_t n;
    REQUIRE(lock_cmd_encode(c, buf, sizeof(buf), &n) == 0);
    return apply_raw(buf, n);
}

static uint64_t grant(uint64_t ttl)
{
    struct lock_cmd c = {.type = LOCK_CMD_LEASE_GRANT, .ttl_ms = ttl};
    REQUIRE(apply(&c) == 0);
    REQUIRE(res.lease == idx); /* the id is the entry's index */
    return res.lease;
}

static int lease_cmd(int type, uint64_t lease)
{
    struct lock_cmd c = {.type = type, .lease = lease};
    return apply(&c);
}

static int acquire(const char *name, uint64_t lease, uint64_t wait, uint64_t delay)
{
    struct lock_cmd c = {
        .type = LOCK_CMD_ACQUIRE, .lease = lease, .wait_ms = wait, .lock_delay_ms = delay};
    snprintf(c.name, sizeof(c.name), "%s", name);
    return apply(&c);
}

static int named_cmd(int type, const char *name, uint64_t lease, uint64_t since)
{
    struct lock_cmd c = {.type = type, .lease = lease, .since = since};
    snprintf(c.name, sizeof(c.name), "%s", name);
    return apply(&c);
}

static int release(const char *name, uint64_t lease)
{
    return named_cmd(LOCK_CMD_RELEASE, name, lease, 0);
}

static struct lock_info inspect(const char *name)
{
    struct lock_info info;
    ck_assert_int_eq(lock_inspect(sm, name, &info, NULL, 0), 0);
    return info;
}

/* The leases queued for name, in order, as a string like "105 107". */
static const char *queue_of(const char *name)
{
    static char out[512];
    struct lock_info info;
    struct lock_waiter w[16];
    ck_assert_int_eq(lock_inspect(sm, name, &info, w, 16), 0);
    out[0] = '\0';
    for (size_t i = 0; i < info.n_waiters && i < 16; i++) {
        ck_assert_uint_eq(w[i].position, i);
        ck_assert_str_eq(w[i].name, name);
        size_t len = strlen(out);
        snprintf(out + len, sizeof(out) - len, "%s%" PRIu64, i ? " " : "", w[i].lease);
    }
    return out;
}

/* Events as one line, "type name reason lease token ms since;" each. */
static const char *events_of(const struct lock_events *from)
{
    static char out[4096];
    out[0] = '\0';
    for (size_t i = 0; i < from->n; i++) {
        const struct lock_event *e = &from->v[i];
        size_t len = strlen(out);
        snprintf(out + len, sizeof(out) - len, "%s %s r%d l%" PRIu64 " t%" PRIu64 " ms%" PRIu64
                 " s%" PRIu64 ";", lock_event_type_name(e->type), e->name ? e->name : "-",
                 e->reason, e->lease, e->token, e->ms, e->since);
    }
    return out;
}

/* The events of the last apply. */
static const char *events(void)
{
    return events_of(&ev);
}

static void snapshot(void **p, size_t *n)
{
    ck_assert_int_eq(lock_sm_snapshot(sm, p, n), 0);
}

/* The state (not the applied index) is byte for byte what it was. */
static void assert_state(const void *before, size_t n)
{
    void *now;
    size_t m;
    snapshot(&now, &m);
    ck_assert_msg(m == n && memcmp(now, before, n) == 0, "state changed");
    free(now);
}

/* ---- Leases --------------------------------------------------------------- */

START_TEST(test_lease_grant_revoke)
{
    uint64_t a = grant(5000);
    ck_assert_str_eq(events(), "lease_granted - r0 l101 t0 ms5000 s0;");
    struct lease_info li;
    ck_assert_int_eq(lease_get(sm, a, &li), 0);
    ck_assert_uint_eq(li.ttl_ms, 5000);
    ck_assert_uint_eq(lease_count(sm), 1);
    ck_assert_int_eq(lease_cmd(LOCK_CMD_LEASE_REVOKE, a), 0);
    ck_assert_uint_eq(res.lease, a);
    ck_assert_str_eq(events(), "lease_ended - r2 l101 t0 ms0 s0;");
    ck_assert_int_eq(lease_get(sm, a, &li), BATON_EEXPIRED);
    ck_assert_uint_eq(lease_count(sm), 0);
    ck_assert_int_eq(lease_cmd(LOCK_CMD_LEASE_REVOKE, a), BATON_EEXPIRED);
    ck_assert_uint_eq(ev.n, 0);
}
END_TEST

START_TEST(test_lease_expire)
{
    uint64_t a = grant(1000);
    uint64_t b = grant(2000);
    ck_assert_int_eq(lease_cmd(LOCK_CMD_LEASE_EXPIRE, a), 0);
    ck_assert_str_eq(events(), "lease_ended - r3 l101 t0 ms0 s0;");
    ck_assert_int_eq(lease_cmd(LOCK_CMD_LEASE_EXPIRE, a), BATON_EEXPIRED);
    ck_assert_int_eq(lease_cmd(LOCK_CMD_LEASE_EXPIRE, 99999), BATON_EEXPIRED);
    struct lease_info li;
    ck_assert_int_eq(lease_get(sm, b, &li), 0);
    ck_assert_uint_eq(li.id, b);
}
END_TEST

START_TEST(test_lease_ttl_bounds)
{
    struct lock_cmd c = {.type = LOCK_CMD_LEASE_GRANT, .ttl_ms = 0};
    uint8_t buf[LOCK_CMD_MAX];
    size_t n;
    ck_assert_int_eq(lock_cmd_encode(&c, buf, sizeof(buf), &n), BATON_EINVAL);
    c.ttl_ms = LOCK_MS_MAX + 1;
    ck_assert_int_eq(lock_cmd_encode(&c, buf, sizeof(buf), &n), BATON_EINVAL);
    c.ttl_ms = LOCK_MS_MAX;
    ck_assert_int_eq(lock_cmd_encode(&c, buf, sizeof(buf), &n), 0);
    const uint8_t zero_ttl[] = {LOCK_FORMAT, LOCK_CMD_LEASE_GRANT, 0};
    ck_assert_int_eq(apply_raw(zero_ttl, sizeof(zero_ttl)), BATON_EMALFORMED);
    ck_assert_uint_eq(lease_count(sm), 0);
}
END_TEST

/* ---- Acquire and release ---------------------------------------------------- */

START_TEST(test_try_lock_free_and_held)
{
    uint64_t a = grant(5000);
    uint64_t b = grant(5000);
    ck_assert_int_eq(acquire("L", a, 0, 0), 0);
    uint64_t t = idx;
    ck_assert_uint_eq(res.token, t);
    ck_assert(!res.queued);
    ck_assert_str_eq(events(), "granted L r0 l101 t103 ms0 s0;");
    void *before;
    size_t n;
    snapshot(&before, &n);
    ck_assert_int_eq(acquire("L", b, 0, 0), BATON_ELOCKED);
    ck_assert_uint_eq(res.holder, a);
    ck_assert_uint_eq(res.token, 0);
    ck_assert_uint_eq(ev.n, 0);
    assert_state(before, n);
    free(before);
    struct lock_info info = inspect("L");
    ck_assert_uint_eq(info.holder, a);
    ck_assert_uint_eq(info.token, t);
    ck_assert_uint_eq(info.created, t);
}
END_TEST

START_TEST(test_reacquire_same_token)
{
    uint64_t a = grant(5000);
    ck_assert_int_eq(acquire("L", a, 0, 300), 0);
    uint64_t t = res.token;
    ck_assert_int_eq(acquire("L", a, 0, 0), 0);
    ck_assert_uint_eq(res.token, t);
    ck_assert_uint_eq(ev.n, 0);
    ck_assert_int_eq(acquire("L", a, 7000, 900), 0);
    ck_assert_uint_eq(res.token, t);
    ck_assert(!res.queued);
    struct lock_info info = inspect("L");
    ck_assert_uint_eq(info.token, t);
    ck_assert_uint_eq(info.holder_delay_ms, 300); /* the first acquire's */
    ck_assert_uint_eq(info.n_waiters, 0);
}
END_TEST

START_TEST(test_fifo_on_release)
{
    uint64_t a = grant(5000), b = grant(5000), c = grant(5000), d = grant(5000);
    ck_assert_int_eq(acquire("L", a, 0, 0), 0);
    uint64_t queued[] = {b, c, d};
    for (size_t i = 0; i < 3; i++) {
        ck_assert_int_eq(acquire("L", queued[i], 10000, 0), 0);
        ck_assert(res.queued);
        ck_assert_uint_eq(res.position, i);
        ck_assert_uint_eq(res.since, idx);
        ck_assert_uint_eq(res.token, 0);
    }
    ck_assert_str_eq(queue_of("L"), "102 103 104");
    uint64_t prev = inspect("L").token;
    uint64_t order[] = {b, c, d};
    uint64_t holder = a;
    for (size_t i = 0; i < 3; i++) {
        ck_assert_int_eq(release("L", holder), 0);
        ck_assert_uint_eq(ev.n, 2);
        ck_assert_int_eq(ev.v[0].type, LOCK_EVENT_RELEASED);
        ck_assert_uint_eq(ev.v[0].lease, holder);
        ck_assert_int_eq(ev.v[1].type, LOCK_EVENT_GRANTED);
        ck_assert_uint_eq(ev.v[1].lease, order[i]);
        ck_assert_uint_eq(ev.v[1].token, idx); /* the releasing entry's index */
        struct lock_info info = inspect("L");
        ck_assert_uint_eq(info.holder, order[i]);
        ck_assert_uint_eq(info.token, idx);
        ck_assert_uint_gt(info.token, prev);
        prev = info.token;
        holder = order[i];
    }
    ck_assert_int_eq(release("L", d), 0);
    ck_assert_uint_eq(lock_count(sm), 0); /* free and unwaited: forgotten */
}
END_TEST

START_TEST(test_retried_wait_keeps_place)
{
    uint64_t a = grant(5000), b = grant(5000), c = grant(5000);
    ck_assert_int_eq(acquire("L", a, 0, 0), 0);
    ck_assert_int_eq(acquire("L", b, 1000, 0), 0);
    uint64_t first = res.since;
    ck_assert_int_eq(acquire("L", c, 1000, 0), 0);
    ck_assert_int_eq(acquire("L", b, 9000, 500), 0); /* the retry */
    ck_assert(res.queued);
    ck_assert_uint_eq(res.position, 0);
    ck_assert_uint_eq(res.since, idx);
    ck_assert_uint_eq(ev.n, 1);
    ck_assert_int_eq(ev.v[0].type, LOCK_EVENT_WAIT_QUEUED);
    ck_assert_uint_eq(ev.v[0].ms, 9000);
    ck_assert_uint_eq(ev.v[0].since, idx);
    ck_assert_str_eq(queue_of("L"), "102 103");
    struct lock_info info;
    struct lock_waiter w[2];
    ck_assert_int_eq(lock_inspect(sm, "L", &info, w, 2), 0);
    ck_assert_uint_eq(w[0].wait_ms, 9000);
    ck_assert_uint_eq(w[0].lock_delay_ms, 500);
    /* The timer of the first wait is stale and must not cut the retry short. */
    ck_assert_int_eq(named_cmd(LOCK_CMD_WAIT_END, "L", b, first), BATON_ENOTFOUND);
    ck_assert_str_eq(queue_of("L"), "102 103");
    /* A try-lock by a queued lease fails and leaves its wait alone. */
    ck_assert_int_eq(acquire("L", c, 0, 0), BATON_ELOCKED);
    ck_assert_str_eq(queue_of("L"), "102 103");
    ck_assert_int_eq(release("L", a), 0);
    ck_assert_uint_eq(inspect("L").holder, b);
    ck_assert_uint_eq(inspect("L").holder_delay_ms, 500);
}
END_TEST

START_TEST(test_release_rules)
{
    uint64_t a = grant(5000), b = grant(5000), c = grant(5000);
    ck_assert_int_eq(acquire("L", a, 0, 0), 0);
    ck_assert_int_eq(acquire("L", b, 1000, 0), 0);
    void *before;
    size_t n;
    snapshot(&before, &n);
    ck_assert_int_eq(release("L", c), BATON_ELOCKED); /* neither holds nor waits */
    ck_assert_uint_eq(res.holder, a);
    ck_assert_int_eq(release("M", c), BATON_ENOTFOUND); /* nobody holds M */
    ck_assert_int_eq(release("L", 77777), BATON_EEXPIRED);
    ck_assert_uint_eq(ev.n, 0);
    assert_state(before, n);
    free(before);
    ck_assert_int_eq(release("L", b), 0); /* a waiter leaves the queue */
    ck_assert(res.canceled);
    ck_assert_uint_eq(res.token, 0);
    ck_assert_str_eq(events(), "wait_ended L r5 l102 t0 ms0 s0;");
    ck_assert_str_eq(queue_of("L"), "");
    ck_assert_uint_eq(inspect("L").holder, a);
    ck_assert_int_eq(release("L", a), 0);
    ck_assert_uint_eq(lock_count(sm), 0);
}
END_TEST

/* Lease X holds L1 and L2 and waits for L3; others wait behind it. Its end
 * frees both locks to their next waiters and drops its wait, in one entry. */
static void lease_end_scenario(int type, int reason)
{
    uint64_t x = grant(5000), y = grant(5000), z = grant(5000), w = grant(5000);
    ck_assert_int_eq(acquire("L1", x, 0, 1000), 0); /* delay only counts on expiry */
    ck_assert_int_eq(acquire("L2", x, 0, 0), 0);
    ck_assert_int_eq(acquire("L3", y, 0, 0), 0);
    ck_assert_int_eq(acquire("L3", x, 5000, 0), 0);
    ck_assert_int_eq(acquire("L1", z, 5000, 0), 0);
    ck_assert_int_eq(acquire("L2", w, 5000, 0), 0);
    ck_assert_int_eq(acquire("L3", w, 5000, 0), 0);
    ck_assert_int_eq(lease_cmd(type, x), 0);
    uint64_t e = idx;
    char want[1024];
    if (reason == LOCK_REASON_EXPIRED) {
        snprintf(want, sizeof(want),
                 "lease_ended - r3 l101 t0 ms0 s0;released L1 r3 l101 t105 ms0 s0;"
                 "delay_started L1 r0 l0 t0 ms1000 s%" PRIu64 ";released L2 r3 l101 t106 ms0 s0;"
                 "granted L2 r0 l104 t%" PRIu64 " ms0 s0;wait_ended L3 r3 l101 t0 ms0 s0;", e, e);
    } else {
        snprintf(want, sizeof(want),
                 "lease_ended - r2 l101 t0 ms0 s0;released L1 r2 l101 t105 ms0 s0;"
                 "granted L1 r0 l103 t%" PRIu64 " ms0 s0;released L2 r2 l101 t106 ms0 s0;"
                 "granted L2 r0 l104 t%" PRIu64 " ms0 s0;wait_ended L3 r2 l101 t0 ms0 s0;", e, e);
    }
    ck_assert_str_eq(events(), want);
    ck_assert_uint_eq(inspect("L2").holder, w);
    ck_assert_uint_eq(inspect("L2").token, e);
    ck_assert_uint_eq(inspect("L3").holder, y);
    ck_assert_str_eq(queue_of("L3"), "104");
    struct lease_info li;
    ck_assert_int_eq(lease_get(sm, x, &li), BATON_EEXPIRED);
    ck_assert_int_eq(lease_get(sm, w, &li), 0);
    ck_assert_uint_eq(li.n_held, 1);
    ck_assert_uint_eq(li.n_waits, 1);
    ck_assert_uint_eq(inspect("L1").holder, reason == LOCK_REASON_EXPIRED ? 0 : z);
}

START_TEST(test_expiry_frees_all_in_one_entry)
{
    lease_end_scenario(LOCK_CMD_LEASE_EXPIRE, LOCK_REASON_EXPIRED);
}
END_TEST

START_TEST(test_revoke_frees_all_in_one_entry)
{
    lease_end_scenario(LOCK_CMD_LEASE_REVOKE, LOCK_REASON_REVOKED);
}
END_TEST

/* A restore rebuilds which locks a lease holds in lock order, not in the
 * order the lease came to hold them; its end must act (and report) the same
 * on the original and on a restored copy. */
START_TEST(test_lease_end_same_after_restore)
{
    uint64_t x = grant(5000), y = grant(5000), z = grant(5000);
    ck_assert_int_eq(acquire("A", y, 0, 0), 0);
    ck_assert_int_eq(acquire("B", y, 0, 0), 0);
    ck_assert_int_eq(acquire("C", y, 0, 0), 0);
    ck_assert_int_eq(acquire("C", x, 1000, 0), 0); /* x waits for C, B, A */
    ck_assert_int_eq(acquire("B", x, 1000, 0), 0);
    ck_assert_int_eq(acquire("A", x, 1000, 0), 0);
    ck_assert_int_eq(release("B", y), 0); /* x holds B, then A, and waits for C */
    ck_assert_int_eq(release("A", y), 0);
    ck_assert_int_eq(acquire("A", z, 1000, 0), 0);
    ck_assert_int_eq(acquire("B", z, 1000, 0), 0);
    void *p;
    size_t n;
    snapshot(&p, &n);
    struct lock_sm *copy = lock_sm_new();
    ck_assert_ptr_nonnull(copy);
    ck_assert_int_eq(lock_sm_restore(copy, p, n, idx), 0);
    free(p);
    struct lock_cmd c = {.type = LOCK_CMD_LEASE_EXPIRE, .lease = x};
    uint8_t buf[LOCK_CMD_MAX];
    ck_assert_int_eq(lock_cmd_encode(&c, buf, sizeof(buf), &n), 0);
    struct lock_events cev;
    lock_events_init(&cev);
    struct lock_result cres;
    ck_assert_int_eq(lock_apply(copy, idx + 1, buf, n, &cres, &cev), 0);
    ck_assert_int_eq(apply_raw(buf, n), 0);
    char want[1024];
    snprintf(want, sizeof(want), "%s", events());
    ck_assert_str_eq(events_of(&cev), want);
    const char *a = strstr(want, "released A"), *b = strstr(want, "released B");
    ck_assert(a != NULL && b != NULL && a < b); /* in the locks' creation order */
    lock_events_close(&cev);
    lock_sm_free(copy);
}
END_TEST

/* ---- Ends of waits and lock-delays ----------------------------------------- */

START_TEST(test_wait_end)
{
    uint64_t a = grant(5000), b = grant(5000), c = grant(5000);
    ck_assert_int_eq(acquire("L", a, 0, 0), 0);
    ck_assert_int_eq(acquire("L", b, 1000, 0), 0);
    uint64_t sb = res.since;
    ck_assert_int_eq(acquire("L", c, 1000, 0), 0);
    uint64_t sc = res.since;
    ck_assert_int_eq(named_cmd(LOCK_CMD_WAIT_END, "L", b, sb), 0);
    ck_assert_str_eq(events(), "wait_ended L r4 l102 t0 ms0 s0;");
    ck_assert_str_eq(queue_of("L"), "103");
    ck_assert_int_eq(named_cmd(LOCK_CMD_WAIT_END, "L", b, sb), BATON_ENOTFOUND);
    /* c is granted before its wait's end is applied: the end changes nothing. */
    ck_assert_int_eq(release("L", a), 0);
    ck_assert_uint_eq(inspect("L").holder, c);
    void *before;
    size_t n;
    snapshot(&before, &n);
    ck_assert_int_eq(named_cmd(LOCK_CMD_WAIT_END, "L", c, sc), BATON_ENOTFOUND);
    ck_assert_int_eq(named_cmd(LOCK_CMD_WAIT_END, "L", 424242, sc), BATON_EEXPIRED);
    ck_assert_int_eq(named_cmd(LOCK_CMD_WAIT_END, "nope", c, sc), BATON_ENOTFOUND);
    ck_assert_uint_eq(ev.n, 0);
    assert_state(before, n);
    free(before);
    ck_assert_uint_eq(inspect("L").holder, c);
}
END_TEST

START_TEST(test_lock_delay_after_expiry)
{
    uint64_t a = grant(5000), b = grant(5000), c = grant(5000);
    ck_assert_int_eq(acquire("L", a, 0, 5000), 0);
    uint64_t old = res.token;
    ck_assert_int_eq(acquire("L", b, 3000, 0), 0);
    ck_assert_int_eq(lease_cmd(LOCK_CMD_LEASE_EXPIRE, a), 0);
    uint64_t e = idx;
    struct lock_info info = inspect("L");
    ck_assert_uint_eq(info.holder, 0);
    ck_assert_uint_eq(info.token, 0);
    ck_assert_uint_eq(info.delay_ms, 5000);
    ck_assert_uint_eq(info.delay_since, e);
    ck_assert(!lock_check(sm, "L", old));
    ck_assert_int_eq(acquire("L", c, 0, 0), BATON_ELOCKED); /* nobody gets it */
    ck_assert_uint_eq(res.holder, 0);
    ck_assert_int_eq(acquire("L", c, 3000, 0), 0);
    ck_assert(res.queued);
    ck_assert_str_eq(queue_of("L"), "102 103");
    ck_assert_int_eq(named_cmd(LOCK_CMD_DELAY_END, "L", 0, e + 1), BATON_ENOTFOUND);
    ck_assert_uint_eq(inspect("L").delay_since, e);
    ck_assert_int_eq(named_cmd(LOCK_CMD_DELAY_END, "L", 0, e), 0);
    char want[256];
    snprintf(want, sizeof(want),
             "delay_ended L r0 l0 t0 ms0 s%" PRIu64 ";granted L r0 l102 t%" PRIu64 " ms0 s0;", e,
             idx);
    ck_assert_str_eq(events(), want);
    ck_assert_uint_eq(res.lease, b);
    ck_assert_uint_eq(res.token, idx);
    ck_assert_uint_eq(inspect("L").holder, b);
    ck_assert_int_eq(named_cmd(LOCK_CMD_DELAY_END, "L", 0, e), BATON_ENOTFOUND); /* stale */
}
END_TEST

START_TEST(test_no_delay_after_release_or_revoke)
{
    uint64_t a = grant(5000), b = grant(5000), c = grant(5000);
    ck_assert_int_eq(acquire("L", a, 0, 5000), 0);
    ck_assert_int_eq(acquire("L", b, 3000, 5000), 0);
    ck_assert_int_eq(acquire("L", c, 3000, 5000), 0);
    ck_assert_int_eq(release("L", a), 0);
    ck_assert_uint_eq(inspect("L").holder, b);
    ck_assert_int_eq(lease_cmd(LOCK_CMD_LEASE_REVOKE, b), 0);
    struct lock_info info = inspect("L");
    ck_assert_uint_eq(info.holder, c);
    ck_assert_uint_eq(info.token, idx);
    ck_assert_uint_eq(info.delay_since, 0);
}
END_TEST

START_TEST(test_delay_without_waiters)
{
    uint64_t a = grant(5000), b = grant(5000);
    ck_assert_int_eq(acquire("L", a, 0, 2000), 0);
    ck_assert_int_eq(lease_cmd(LOCK_CMD_LEASE_EXPIRE, a), 0);
    uint64_t e = idx;
    ck_assert_uint_eq(lock_count(sm), 1); /* kept while the delay runs */
    ck_assert_int_eq(acquire("L", b, 0, 0), BATON_ELOCKED);
    ck_assert_int_eq(named_cmd(LOCK_CMD_DELAY_END, "L", 0, e), 0);
    ck_assert_uint_eq(lock_count(sm), 0);
    ck_assert_uint_eq(res.token, 0);
    ck_assert_int_eq(acquire("L", b, 0, 0), 0);
    ck_assert_uint_eq(res.token, idx);
}
END_TEST

/* ---- Reads ------------------------------------------------------------------ */

START_TEST(test_check)
{
    uint64_t a = grant(5000), b = grant(5000);
    ck_assert(!lock_check(sm, "L", 0));
    ck_assert(!lock_check(sm, "L", 1));
    ck_assert_int_eq(acquire("L", a, 0, 0), 0);
    uint64_t t1 = res.token;
    ck_assert(lock_check(sm, "L", t1));
    ck_assert(!lock_check(sm, "L", t1 + 1));
    ck_assert(!lock_check(sm, "M", t1));
    ck_assert(!lock_check(sm, "", t1));
    ck_assert_int_eq(acquire("L", b, 1000, 0), 0);
    ck_assert_int_eq(release("L", a), 0);
    uint64_t t2 = inspect("L").token;
    ck_assert_uint_gt(t2, t1);
    ck_assert(!lock_check(sm, "L", t1));
    ck_assert(lock_check(sm, "L", t2));
    ck_assert_int_eq(release("L", b), 0);
    ck_assert(!lock_check(sm, "L", t2));
}
END_TEST

START_TEST(test_inspect_free_and_bad_names)
{
    struct lock_info info;
    ck_assert_int_eq(lock_inspect(sm, "free", &info, NULL, 0), 0);
    ck_assert_str_eq(info.name, "free");
    ck_assert_uint_eq(info.holder, 0);
    ck_assert_uint_eq(info.n_waiters, 0);
    ck_assert_int_eq(lock_inspect(sm, "", &info, NULL, 0), BATON_EINVAL);
    char long_name[LOCK_NAME_MAX + 2];
    memset(long_name, 'x', sizeof(long_name) - 1);
    long_name[LOCK_NAME_MAX + 1] = '\0';
    ck_assert_int_eq(lock_inspect(sm, long_name, &info, NULL, 0), BATON_EINVAL);
    long_name[LOCK_NAME_MAX] = '\0';
    ck_assert_int_eq(lock_inspect(sm, long_name, &info, NULL, 0), 0);
}
END_TEST

static int collect_lease(const struct lease_info *info, void *arg)
{
    char *out = arg;
    size_t len = strlen(out);
    snprintf(out + len, 256 - len, "%" PRIu64 " ", info->id);
    return info->id == 999 ? 7 : 0;
}

static int collect_waiter(const struct lock_waiter *w, void *arg)
{
    char *out = arg;
    size_t len = strlen(out);
    snprintf(out + len, 256 - len, "%s:%" PRIu64 ":%zu ", w->name, w->lease, w->position);
    return 0;
}

static int collect_lock(const struct lock_info *info, void *arg)
{
    char *out = arg;
    size_t len = strlen(out);
    snprintf(out + len, 256 - len, "%s ", info->name);
    return strcmp(info->name, "stop") == 0 ? -3 : 0;
}

START_TEST(test_walks)
{
    uint64_t a = grant(5000), b = grant(5000), c = grant(5000);
    ck_assert_int_eq(acquire("Z", a, 0, 100), 0);
    ck_assert_int_eq(acquire("A", b, 0, 0), 0);
    ck_assert_int_eq(acquire("Z", c, 100, 0), 0);
    ck_assert_int_eq(acquire("A", c, 100, 0), 0);
    ck_assert_int_eq(acquire("A", a, 100, 0), 0);
    char out[256] = "";
    ck_assert_int_eq(lease_walk(sm, collect_lease, out), 0);
    ck_assert_str_eq(out, "101 102 103 ");
    out[0] = '\0';
    ck_assert_int_eq(lock_walk(sm, collect_lock, out), 0);
    ck_assert_str_eq(out, "Z A "); /* creation order, not name or hash order */
    out[0] = '\0';
    ck_assert_int_eq(lock_waiter_walk(sm, collect_waiter, out), 0);
    ck_assert_str_eq(out, "Z:103:0 A:103:0 A:101:1 ");
    out[0] = '\0';
    ck_assert_int_eq(lock_delay_walk(sm, collect_lock, out), 0);
    ck_assert_str_eq(out, "");
    ck_assert_int_eq(lease_cmd(LOCK_CMD_LEASE_EXPIRE, a), 0); /* Z delayed, A wait gone */
    ck_assert_int_eq(lock_delay_walk(sm, collect_lock, out), 0);
    ck_assert_str_eq(out, "Z ");
    ck_assert_int_eq(acquire("stop", b, 0, 0), 0);
    ck_assert_int_eq(acquire("after", b, 0, 0), 0);
    out[0] = '\0';
    ck_assert_int_eq(lock_walk(sm, collect_lock, out), -3);
    ck_assert_str_eq(out, "Z A stop ");
}
END_TEST

/* ---- The lease listing ------------------------------------------------------ */

/* A listing as one line: "id:ttl:held names/waited names;" per lease, and with
 * remaining time "id=ms" (or "id=-" when not clocked) when clocks is set. */
static const char *listing_of(const struct lease_list *l, bool clocks)
{
    static char out[2048];
    out[0] = '\0';
    for (size_t i = 0; i < l->n; i++) {
        const struct lease_entry *e = &l->v[i];
        size_t len = strlen(out);
        if (clocks) {
            if (e->clocked) {
                snprintf(out + len, sizeof(out) - len, "%" PRIu64 "=%" PRIu64 ";", e->id,
                         e->remaining_ms);
            } else {
                snprintf(out + len, sizeof(out) - len, "%" PRIu64 "=-;", e->id);
            }
            continue;
        }
        snprintf(out + len, sizeof(out) - len, "%" PRIu64 ":%" PRIu64 ":", e->id, e->ttl_ms);
        for (size_t k = 0; k < e->n_held; k++) {
            len = strlen(out);
            snprintf(out + len, sizeof(out) - len, "%s%s", k ? "," : "", e->held[k]);
        }
        len = strlen(out);
        snprintf(out + len, sizeof(out) - len, "/");
        for (size_t k = 0; k < e->n_waits; k++) {
            len = strlen(out);
            snprintf(out + len, sizeof(out) - len, "%s%s", k ? "," : "", e->waits[k]);
        }
        len = strlen(out);
        snprintf(out + len, sizeof(out) - len, ";");
    }
    return out;
}

static const char *list_now(struct lock_sm *from)
{
    struct lease_list l;
    ck_assert_int_eq(lease_list_read(from, &l), 0);
    const char *out = listing_of(&l, false);
    lease_list_close(&l);
    return out;
}

START_TEST(test_lease_list)
{
    ck_assert_str_eq(list_now(sm), "");
    uint64_t a = grant(5000), b = grant(6000), c = grant(7000);
    ck_assert_uint_eq(a, 101);
    ck_assert_str_eq(list_now(sm), "101:5000:/;102:6000:/;103:7000:/;");
    /* Names come in lock creation order (Z before A), not name or grant order. */
    ck_assert_int_eq(acquire("Z", a, 0, 0), 0);
    ck_assert_int_eq(acquire("A", b, 0, 0), 0);
    ck_assert_int_eq(acquire("M", a, 0, 0), 0);
    ck_assert_int_eq(acquire("A", a, 1000, 0), 0);
    ck_assert_int_eq(acquire("Z", c, 1000, 0), 0);
    ck_assert_int_eq(acquire("A", c, 1000, 0), 0);
    ck_assert_str_eq(list_now(sm), "101:5000:Z,M/A;102:6000:A/;103:7000:/Z,A;");

    /* A restored state lists the same way. */
    void *p;
    size_t n;
    snapshot(&p, &n);
    struct lock_sm *copy = lock_sm_new();
    ck_assert_ptr_nonnull(copy);
    ck_assert_int_eq(lock_sm_restore(copy, p, n, idx), 0);
    free(p);
    ck_assert_str_eq(list_now(copy), "101:5000:Z,M/A;102:6000:A/;103:7000:/Z,A;");
    lock_sm_free(copy);

    /* The end of a lease takes it off the list and hands its locks on. */
    ck_assert_int_eq(lease_cmd(LOCK_CMD_LEASE_REVOKE, b), 0); /* A goes to a */
    ck_assert_str_eq(list_now(sm), "101:5000:Z,A,M/;103:7000:/Z,A;");
    ck_assert_int_eq(lease_cmd(LOCK_CMD_LEASE_EXPIRE, a), 0); /* Z and A go to c */
    ck_assert_str_eq(list_now(sm), "103:7000:Z,A/;");

    struct lease_list l;
    ck_assert_int_eq(lease_list_read(sm, &l), 0);
    ck_assert_ptr_nonnull(lease_list_find(&l, c));
    ck_assert_ptr_null(lease_list_find(&l, a));
    ck_assert_ptr_null(lease_list_find(&l, 0));
    ck_assert(!l.v[0].clocked);
    ck_assert_uint_eq(l.v[0].remaining_ms, 0);
    lease_list_close(&l);
    ck_assert_ptr_null(l.v);
    ck_assert_uint_eq(l.n, 0);
    lease_list_close(&l); /* twice is harmless */
}
END_TEST

/* The leader's remaining time per lease: TTL + the failover grace after a start,
 * then counted down, moved by keepalives, 0 once run out; a lease the clocks do
 * not know (here: granted while they were cleared) is not clocked. */
START_TEST(test_lease_list_remaining)
{
    uint64_t a = grant(5000), b = grant(8000);
    struct lock_clock clk;
    lock_clock_init(&clk, 500);
    ck_assert_int_eq(lock_clock_start(&clk, sm, 1000, 500), 0);
    struct lease_list l;
    ck_assert_int_eq(lease_list_read(sm, &l), 0);
    lock_clock_list_remaining(&clk, &l, 1000);
    ck_assert_str_eq(listing_of(&l, true), "101=5500;102=8500;");
    lock_clock_list_remaining(&clk, &l, 3000);
    ck_assert_str_eq(listing_of(&l, true), "101=3500;102=6500;");
    uint64_t ttl;
    ck_assert_int_eq(lock_clock_keepalive(&clk, a, 3000, &ttl), 0); /* 3000 + 5000 */
    ck_assert_int_eq(lock_clock_keepalive(&clk, b, 3000, &ttl), 0); /* 3000 + 8000 */
    lock_clock_list_remaining(&clk, &l, 4000);
    ck_assert_str_eq(listing_of(&l, true), "101=4000;102=7000;");
    lock_clock_list_remaining(&clk, &l, 9000);
    ck_assert_str_eq(listing_of(&l, true), "101=0;102=2000;");
    lease_list_close(&l);

    lock_clock_clear(&clk);
    uint64_t c = grant(4000);
    ck_assert_int_eq(lock_clock_event(&clk, &ev.v[0], 9000), 0); /* c's grant only */
    ck_assert_int_eq(lease_list_read(sm, &l), 0);
    lock_clock_list_remaining(&clk, &l, 9500);
    ck_assert_uint_eq(c, 103);
    ck_assert_str_eq(listing_of(&l, true), "101=-;102=-;103=3500;");
    lease_list_close(&l);
    lock_clock_close(&clk);
}
END_TEST

/* ---- Bad input -------------------------------------------------------------- */

START_TEST(test_unknown_lease)
{
    uint64_t a = grant(5000);
    ck_assert_int_eq(acquire("L", a, 0, 0), 0);
    ck_assert_int_eq(lease_cmd(LOCK_CMD_LEASE_REVOKE, a), 0);
    uint64_t b = grant(5000);
    void *before;
    size_t n;
    snapshot(&before, &n);
    ck_assert_int_eq(acquire("L", a, 0, 0), BATON_EEXPIRED); /* revoked */
    ck_assert_int_eq(acquire("L", 5, 1000, 0), BATON_EEXPIRED); /* never granted */
    ck_assert_int_eq(acquire("M", b + 1000, 0, 0), BATON_EEXPIRED);
    ck_assert_uint_eq(ev.n, 0);
    assert_state(before, n);
    free(before);
    ck_assert_uint_eq(lock_count(sm), 0);
}
END_TEST

START_TEST(test_bad_names)
{
    struct lock_cmd c = {.type = LOCK_CMD_ACQUIRE, .lease = 1};
    uint8_t buf[LOCK_CMD_MAX];
    size_t n;
    ck_assert_int_eq(lock_cmd_encode(&c, buf, sizeof(buf), &n), BATON_EINVAL); /* empty */
    memset(c.name, 'n', sizeof(c.name)); /* 256 bytes, no NUL */
    ck_assert_int_eq(lock_cmd_encode(&c, buf, sizeof(buf), &n), BATON_EINVAL);
    c.name[LOCK_NAME_MAX] = '\0';
    ck_assert_int_eq(lock_cmd_encode(&c, buf, sizeof(buf), &n), 0);
    uint64_t a = grant(5000);
    ck_assert_int_eq(acquire("ok", a, 0, 0), 0);
    void *before;
    size_t len;
    snapshot(&before, &len);
    const uint8_t empty[] = {LOCK_FORMAT, LOCK_CMD_ACQUIRE, 0, 101, 0, 0};
    const uint8_t nul[] = {LOCK_FORMAT, LOCK_CMD_ACQUIRE, 2, 'a', 0, 101, 0, 0};
    const uint8_t short_name[] = {LOCK_FORMAT, LOCK_CMD_RELEASE, 9, 'a', 'b', 101};
    ck_assert_int_eq(apply_raw(empty, sizeof(empty)), BATON_EMALFORMED);
    ck_assert_int_eq(apply_raw(nul, sizeof(nul)), BATON_EMALFORMED);
    ck_assert_int_eq(apply_raw(short_name, sizeof(short_name)), BATON_EMALFORMED);
    ck_assert_int_eq(res.type, 0);
    ck_assert_uint_eq(ev.n, 0);
    assert_state(before, len);
    free(before);
}
END_TEST

START_TEST(test_malformed_commands)
{
    uint64_t a = grant(5000);
    ck_assert_int_eq(acquire("L", a, 0, 0), 0);
    static const struct {
        uint8_t b[12];
        size_t n;
        int code;
    } bad[] = {
        {{0}, 0, BATON_EMALFORMED},                                   /* empty */
        {{0, LOCK_CMD_LEASE_GRANT, 5}, 3, BATON_EMALFORMED},          /* format 0 */
        {{2, LOCK_CMD_LEASE_GRANT, 5}, 3, BATON_EVERSION},            /* newer */
        {{1, 0, 5}, 3, BATON_EMALFORMED},                             /* type 0 */
        {{1, 8, 5}, 3, BATON_EMALFORMED},                             /* type 8 */
        {{1, 255}, 2, BATON_EMALFORMED},                              /* type 255 */
        {{1, LOCK_CMD_LEASE_GRANT}, 2, BATON_EMALFORMED},             /* truncated */
        {{1, LOCK_CMD_LEASE_GRANT, 5, 0}, 4, BATON_EMALFORMED},       /* trailing */
        {{1, LOCK_CMD_LEASE_GRANT, 0x85, 0}, 4, BATON_EMALFORMED},    /* not minimal */
        {{1, LOCK_CMD_LEASE_REVOKE, 0}, 3, BATON_EMALFORMED},         /* lease 0 */
        {{1, LOCK_CMD_LEASE_GRANT, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
         12, BATON_EMALFORMED},                                       /* over 10 years */
        {{1, LOCK_CMD_DELAY_END, 1, 'L', 0}, 5, BATON_EMALFORMED},    /* since 0 */
        {{1, LOCK_CMD_WAIT_END, 1, 'L', 101}, 5, BATON_EMALFORMED},   /* no since */
        {{1, LOCK_CMD_ACQUIRE, 1, 'L', 101, 0, 0xe1, 0xd4, 0x03}, 9, BATON_EMALFORMED},
    };
    void *before;
    size_t n;
    snapshot(&before, &n);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(apply_raw(bad[i].b, bad[i].n) == bad[i].code, "case %zu", i);
        ck_assert_uint_eq(ev.n, 0);
        assert_state(before, n);
    }
    free(before);
    ck_assert_uint_eq(inspect("L").holder, a);
}
END_TEST

START_TEST(test_index_must_rise)
{
    uint64_t a = grant(5000);
    struct lock_cmd c = {.type = LOCK_CMD_ACQUIRE, .lease = a};
    strcpy(c.name, "L");
    uint8_t buf[LOCK_CMD_MAX];
    size_t n;
    ck_assert_int_eq(lock_cmd_encode(&c, buf, sizeof(buf), &n), 0);
    ck_assert_int_eq(lock_apply(sm, idx, buf, n, &res, &ev), BATON_EINVAL);
    ck_assert_int_eq(lock_apply(sm, idx - 50, buf, n, &res, &ev), BATON_EINVAL);
    ck_assert_uint_eq(lock_sm_applied(sm), idx);
    ck_assert_uint_eq(lock_count(sm), 0);
    ck_assert_int_eq(lock_apply(sm, idx + 10, buf, n, &res, NULL), 0); /* gaps are fine */
    ck_assert_uint_eq(res.token, idx + 10);
    ck_assert_uint_eq(lock_sm_applied(sm), idx + 10);
}
END_TEST

/* ---- Scale: nothing quadratic at 100k leases and locks ------------------- */

START_TEST(test_scale)
{
    enum { N = 100000, HOT = 20000 };
    uint64_t big = grant(60000);
    char name[32];
    for (int i = 0; i < N; i++) {
        uint64_t ls = grant(60000);
        snprintf(name, sizeof(name), "lock-%d", i);
        REQUIRE(acquire(name, ls, 0, 0) == 0);
        if (i < HOT) {
            REQUIRE(acquire(name, big, 1000, 0) == 0 && res.queued);
            snprintf(name, sizeof(name), "hot-%d", i);
            REQUIRE(acquire(name, big, 0, 0) == 0);
            REQUIRE(acquire(name, ls, 1000, 0) == 0 && res.queued);
        }
    }
    ck_assert_int_eq(lease_cmd(LOCK_CMD_LEASE_REVOKE, big), 0);
    ck_assert_uint_eq(ev.n, 1 + 3 * HOT);
    ck_assert_uint_eq(lock_count(sm), N + HOT);
    ck_assert_uint_eq(inspect("hot-7").token, idx);
    void *a;
    size_t n;
    snapshot(&a, &n);
    struct lock_sm *copy = lock_sm_new();
    ck_assert_ptr_nonnull(copy);
    ck_assert_int_eq(lock_sm_restore(copy, a, n, idx), 0);
    void *b;
    size_t m;
    ck_assert_int_eq(lock_sm_snapshot(copy, &b, &m), 0);
    ck_assert(m == n && memcmp(a, b, n) == 0);
    free(a);
    free(b);
    lock_sm_free(copy);
}
END_TEST

static Suite *lock_suite(void)
{
    Suite *s = suite_create("lock");
    TCase *lease = tcase_create("lease");
    tcase_add_checked_fixture(lease, setup, teardown);
    tcase_add_test(lease, test_lease_grant_revoke);
    tcase_add_test(lease, test_lease_expire);
    tcase_add_test(lease, test_lease_ttl_bounds);
    suite_add_tcase(s, lease);

    TCase *lock = tcase_create("lock");
    tcase_add_checked_fixture(lock, setup, teardown);
    tcase_add_test(lock, test_try_lock_free_and_held);
    tcase_add_test(lock, test_reacquire_same_token);
    tcase_add_test(lock, test_fifo_on_release);
    tcase_add_test(lock, test_retried_wait_keeps_place);
    tcase_add_test(lock, test_release_rules);
    tcase_add_test(lock, test_expiry_frees_all_in_one_entry);
    tcase_add_test(lock, test_revoke_frees_all_in_one_entry);
    tcase_add_test(lock, test_lease_end_same_after_restore);
    suite_add_tcase(s, lock);

    TCase *ends = tcase_create("ends");
    tcase_add_checked_fixture(ends, setup, teardown);
    tcase_add_test(ends, test_wait_end);
    tcase_add_test(ends, test_lock_delay_after_expiry);
    tcase_add_test(ends, test_no_delay_after_release_or_revoke);
    tcase_add_test(ends, test_delay_without_waiters);
    suite_add_tcase(s, ends);

    TCase *reads = tcase_create("reads");
    tcase_add_checked_fixture(reads, setup, teardown);
    tcase_add_test(reads, test_check);
    tcase_add_test(reads, test_inspect_free_and_bad_names);
    tcase_add_test(reads, test_walks);
    tcase_add_test(reads, test_lease_list);
    tcase_add_test(reads, test_lease_list_remaining);
    suite_add_tcase(s, reads);

    TCase *bad = tcase_create("bad_input");
    tcase_add_checked_fixture(bad, setup, teardown);
    tcase_add_test(bad, test_unknown_lease);
    tcase_add_test(bad, test_bad_names);
    tcase_add_test(bad, test_malformed_commands);
    tcase_add_test(bad, test_index_must_rise);
    suite_add_tcase(s, bad);

    TCase *scale = tcase_create("scale");
    tcase_set_timeout(scale, 120);
    tcase_add_checked_fixture(scale, setup, teardown);
    tcase_add_test(scale, test_scale);
    suite_add_tcase(s, scale);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(lock_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
