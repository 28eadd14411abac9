/* Unit tests of the leader's clocks (src/lock/clock.c): random event streams checked
 * against a plain list model, and a scale run that a linear scan could not finish. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lock/clock.h"

#define SEEDED_DEFAULT 1
#include "seeded.h"

/* Check reports every passing ck_assert through a pipe; fail loudly, pass quietly. */
#define REQUIRE(cond)                                                                   \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            ck_abort_msg("%s:%d: %s (seed %llu)", __FILE__, __LINE__, #cond,            \
                         (unsigned long long)cur_seed);                                \
        }                                                                               \
    } while (0)

enum { RETRY_MS = 300, MODEL_MAX = 256 };

static uint64_t cur_seed; /* named in every failure: BATON_TEST_SEED replays it */

/* ---- the model: what the clock must do, written the obvious way ---- */

struct model_item {
    int kind;
    uint64_t lease, since, ttl, deadline, proposed;
    char name[16];
};

struct model {
    struct model_item v[MODEL_MAX];
    size_t n;
};

static uint64_t model_due_at(const struct model_item *it)
{
    return it->proposed ? it->proposed + RETRY_MS : it->deadline;
}

static struct model_item *model_find(struct model *m, int kind, uint64_t lease, const char *name)
{
    for (size_t i = 0; i < m->n; i++) {
        struct model_item *it = &m->v[i];
        if (it->kind == kind && it->lease == lease &&
            (name == NULL || strcmp(it->name, name) == 0)) {
            return it;
        }
    }
    return NULL;
}

static void model_set(struct model *m, int kind, uint64_t lease, const char *name,
                      uint64_t since, uint64_t ttl, uint64_t deadline)
{
    struct model_item *it = model_find(m, kind, lease, name);
    if (it == NULL) {
        it = &m->v[m->n++];
    }
    memset(it, 0, sizeof(*it));
    it->kind = kind;
    it->lease = lease;
    snprintf(it->name, sizeof(it->name), "%s", name ? name : "");
    it->since = since;
    it->ttl = ttl;
    it->deadline = deadline;
}

static void model_drop(struct model *m, int kind, uint64_t lease, const char *name)
{
    struct model_item *it = model_find(m, kind, lease, name);
    if (it != NULL) {
        *it = m->v[--m->n];
    }
}

/* ---- driving both ---- */

static uint64_t rng = 1;

static uint64_t pick(uint64_t n)
{
    return below(&rng, n);
}

static const char *const names[] = {"a", "b", "c", "d"};

/* One random event fed to both; returns 0, or fails the test on a mismatch. */
static void random_event(struct lock_clock *c, struct model *m, uint64_t now)
{
    struct lock_event ev = {0};
    uint64_t lease = 1 + pick(12);
    const char *name = names[pick(4)];
    uint64_t ms = 100 + pick(2000);
    uint64_t since = 1 + pick(1000);
    switch (pick(7)) {
    case 0:
        ev = (struct lock_event){.type = LOCK_EVENT_LEASE_GRANTED, .lease = lease, .ms = ms};
        model_set(m, LOCK_CLOCK_LEASE, lease, NULL, 0, ms, now + ms);
        break;
    case 1:
        ev = (struct lock_event){.type = LOCK_EVENT_LEASE_ENDED, .lease = lease};
        model_drop(m, LOCK_CLOCK_LEASE, lease, NULL);
        break;
    case 2:
        ev = (struct lock_event){.type = LOCK_EVENT_WAIT_QUEUED, .lease = lease, .ms = ms,
                                 .since = since, .name = name};
        model_set(m, LOCK_CLOCK_WAIT, lease, name, since, ms, now + ms);
        break;
    case 3:
        ev = (struct lock_event){.type = pick(2) ? LOCK_EVENT_GRANTED : LOCK_EVENT_WAIT_ENDED,
                                 .lease = lease, .name = name};
        model_drop(m, LOCK_CLOCK_WAIT, lease, name);
        break;
    case 4:
        ev = (struct lock_event){.type = LOCK_EVENT_DELAY_STARTED, .ms = ms, .since = since,
                                 .name = name};
        model_set(m, LOCK_CLOCK_DELAY, 0, name, since, ms, now + ms);
        break;
    case 5:
        ev = (struct lock_event){.type = LOCK_EVENT_DELAY_ENDED, .since = since, .name = name};
        model_drop(m, LOCK_CLOCK_DELAY, 0, name);
        break;
    default: {
        uint64_t ttl = 0;
        struct model_item *it = model_find(m, LOCK_CLOCK_LEASE, lease, NULL);
        int want = it == NULL || it->proposed ? BATON_EEXPIRED : 0;
        REQUIRE(lock_clock_keepalive(c, lease, now, &ttl) == want);
        if (want == 0) {
            REQUIRE(ttl == it->ttl);
            if (now + it->ttl > it->deadline) {
                it->deadline = now + it->ttl;
            }
        }
        return;
    }
    }
    REQUIRE(lock_clock_event(c, &ev, now) == 0);
}

static int cmd_kind(const struct lock_cmd *cmd)
{
    return cmd->type == LOCK_CMD_LEASE_EXPIRE ? LOCK_CLOCK_LEASE
           : cmd->type == LOCK_CMD_WAIT_END   ? LOCK_CLOCK_WAIT
                                              : LOCK_CLOCK_DELAY;
}

/* Everything due by now is proposed exactly once per retry period, and matches. */
static void check_due(struct lock_clock *c, struct model *m, uint64_t now)
{
    struct lock_cmd out[MODEL_MAX];
    size_t got = lock_clock_due(c, now, out, MODEL_MAX);
    size_t want = 0;
    for (size_t i = 0; i < m->n; i++) {
        want += model_due_at(&m->v[i]) <= now;
    }
    REQUIRE(got == want);
    for (size_t i = 0; i < got; i++) {
        int kind = cmd_kind(&out[i]);
        struct model_item *it =
            model_find(m, kind, out[i].lease, kind == LOCK_CLOCK_LEASE ? NULL : out[i].name);
        REQUIRE(it != NULL);
        REQUIRE(model_due_at(it) <= now);
        REQUIRE(out[i].since == it->since);
        it->proposed = now ? now : 1;
    }
}

static void check_next(const struct lock_clock *c, const struct model *m)
{
    uint64_t want = UINT64_MAX;
    for (size_t i = 0; i < m->n; i++) {
        uint64_t at = model_due_at(&m->v[i]);
        want = at < want ? at : want;
    }
    REQUIRE(lock_clock_next(c) == want);
}

START_TEST(test_matches_model)
{
    for (uint64_t seed = base_seed(); seed < base_seed() + 200; seed++) {
        rng = cur_seed = seed;
        struct lock_clock c;
        struct model m = {.n = 0};
        lock_clock_init(&c, RETRY_MS);
        uint64_t now = 1000;
        for (int step = 0; step < 400; step++) {
            random_event(&c, &m, now);
            check_next(&c, &m);
            if (pick(4) == 0) {
                now += pick(700);
                check_due(&c, &m, now);
                check_next(&c, &m);
            }
            if (pick(100) == 0) {
                lock_clock_clear(&c);
                m.n = 0;
            }
        }
        lock_clock_close(&c);
    }
}
END_TEST

/* With more due than fits, the earliest come first and the rest on the next call. */
START_TEST(test_due_earliest_first)
{
    struct lock_clock c;
    lock_clock_init(&c, RETRY_MS);
    for (uint64_t lease = 1; lease <= 10; lease++) {
        struct lock_event ev = {.type = LOCK_EVENT_LEASE_GRANTED, .lease = lease,
                                .ms = 1000 - lease * 10};
        ck_assert_int_eq(lock_clock_event(&c, &ev, 0), 0);
    }
    struct lock_cmd out[3];
    ck_assert_uint_eq(lock_clock_due(&c, 5000, out, 3), 3);
    ck_assert_uint_eq(out[0].lease, 10);
    ck_assert_uint_eq(out[1].lease, 9);
    ck_assert_uint_eq(out[2].lease, 8);
    ck_assert_uint_eq(lock_clock_due(&c, 5000, out, 3), 3);
    ck_assert_uint_eq(out[0].lease, 7);
    ck_assert_uint_eq(lock_clock_next(&c), 960); /* lease 4: overdue, not proposed yet */
    ck_assert_uint_eq(lock_clock_due(&c, 5000, out, 3), 3);
    ck_assert_uint_eq(lock_clock_due(&c, 5000, out, 3), 1);
    /* Proposed ones come back only after the retry period. */
    ck_assert_uint_eq(lock_clock_due(&c, 5000, out, 3), 0);
    ck_assert_uint_eq(lock_clock_next(&c), 5000 + RETRY_MS);
    lock_clock_close(&c);
}
END_TEST

/* 100,000 leases kept alive ten times each: linear lookups would take ~10^11 steps. */
START_TEST(test_many_leases)
{
    enum { LEASES = 100000, ROUNDS = 10 };
    struct lock_clock c;
    lock_clock_init(&c, RETRY_MS);
    for (uint64_t lease = 1; lease <= LEASES; lease++) {
        struct lock_event ev = {.type = LOCK_EVENT_LEASE_GRANTED, .lease = lease, .ms = 5000};
        REQUIRE(lock_clock_event(&c, &ev, lease % 1000) == 0);
    }
    uint64_t now = 1000;
    for (int r = 0; r < ROUNDS; r++, now += 1000) {
        for (uint64_t lease = 1; lease <= LEASES; lease++) {
            uint64_t ttl = 0;
            REQUIRE(lock_clock_keepalive(&c, lease, now + lease % 1000, &ttl) == 0);
        }
        REQUIRE(lock_clock_next(&c) == now + 5000);
    }
    /* Let the odd ones run out. */
    for (uint64_t lease = 2; lease <= LEASES; lease += 2) {
        uint64_t ttl = 0;
        REQUIRE(lock_clock_keepalive(&c, lease, now + 5000, &ttl) == 0);
    }
    struct lock_cmd out[64];
    size_t expired = 0, n;
    while ((n = lock_clock_due(&c, now + 5999, out, 64)) > 0) {
        for (size_t i = 0; i < n; i++) {
            REQUIRE(out[i].lease % 2 == 1);
            struct lock_event ev = {.type = LOCK_EVENT_LEASE_ENDED, .lease = out[i].lease};
            REQUIRE(lock_clock_event(&c, &ev, now + 5999) == 0);
        }
        expired += n;
    }
    ck_assert_uint_eq(expired, LEASES / 2);
    ck_assert_uint_eq(lock_clock_next(&c), now + 10000);
    lock_clock_close(&c);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("lock_clock");
    TCase *tc = tcase_create("clock");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_matches_model);
    tcase_add_test(tc, test_due_earliest_first);
    tcase_add_test(tc, test_many_leases);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
