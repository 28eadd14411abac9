/* Unit and property tests of the G-Counter module (src/crdt). */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crdt/crdt.h"

#define SEEDED_DEFAULT 0x6a09e667f3bcc908u
#include "seeded.h"

/* Check's own ck_assert* report every passing assertion to the runner
 * through a pipe; these two only speak on failure, which keeps the loops of
 * the property tests fast. */
#define CHECK(seed, cond)                                                                  \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            ck_abort_msg("seed %" PRIu64 " (replay: BATON_TEST_SEED=%" PRIu64 "): %s",          \
                         (uint64_t)(seed), (uint64_t)(seed), #cond);                       \
        }                                                                                  \
    } while (0)
#define MUST(cond)                                                                         \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            ck_abort_msg("%s", #cond);                                                     \
        }                                                                                  \
    } while (0)
#define OK(expr)                                                                           \
    do {                                                                                   \
        int ok_err_ = (expr);                                                              \
        if (ok_err_ != 0) {                                                                \
            ck_abort_msg("%s returned %d", #expr, ok_err_);                                \
        }                                                                                  \
    } while (0)

/* ---- Helpers --------------------------------------------------------------- */

static struct crdt_set *set_new(uint64_t self, uint64_t epoch)
{
    struct crdt_set *s = NULL;
    OK(crdt_set_new(self, epoch, &s));
    MUST(s != NULL);
    return s;
}

/* Makes every change durable, as a host does once its write has synced. */
static void settle(struct crdt_set *s)
{
    struct crdt_sync sync;
    OK(crdt_sync_get(s, &sync));
    crdt_persisted(s, sync.upto);
    crdt_sync_clear(&sync);
    MUST(crdt_durable(s) == crdt_version(s));
}

static int merge_cb(const struct crdt_slot *slot, void *arg)
{
    return crdt_merge(arg, slot, 1, NULL, NULL);
}

/* dst := dst merged with every slot of src (the state-based merge). */
static void merge_state(struct crdt_set *dst, const struct crdt_set *src)
{
    OK(crdt_foreach(src, merge_cb, dst));
}

static struct crdt_set *clone(const struct crdt_set *s)
{
    struct crdt_set *c = set_new(crdt_self(s), crdt_epoch(s));
    merge_state(c, s);
    return c;
}

/* A set's content as a sorted list of "name node value" lines, for equality. */
struct dump {
    char **lines;
    size_t n;
};

static int dump_cb(const struct crdt_slot *slot, void *arg)
{
    struct dump *d = arg;
    char buf[CRDT_NAME_MAX + 64];
    snprintf(buf, sizeof(buf), "%s %" PRIu64 " %" PRIu64, slot->name, slot->node, slot->value);
    d->lines = realloc(d->lines, (d->n + 1) * sizeof(*d->lines));
    MUST(d->lines != NULL);
    d->lines[d->n] = strdup(buf);
    MUST(d->lines[d->n] != NULL);
    d->n++;
    return 0;
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static struct dump dump_of(const struct crdt_set *s)
{
    struct dump d = {0};
    OK(crdt_foreach(s, dump_cb, &d));
    if (d.n > 0) {
        qsort(d.lines, d.n, sizeof(*d.lines), str_cmp);
    }
    return d;
}

static void dump_free(struct dump *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->lines[i]);
    }
    free(d->lines);
}

static bool same_state(const struct crdt_set *a, const struct crdt_set *b)
{
    struct dump x = dump_of(a);
    struct dump y = dump_of(b);
    bool same = x.n == y.n;
    for (size_t i = 0; same && i < x.n; i++) {
        same = strcmp(x.lines[i], y.lines[i]) == 0;
    }
    dump_free(&x);
    dump_free(&y);
    return same;
}

/* Value of name, 0 for an unknown counter. */
static uint64_t value_of(const struct crdt_set *s, const char *name)
{
    uint64_t v = 99;
    int err = crdt_value(s, name, &v);
    if (err != 0 && (err != BATON_ENOTFOUND || v != 0)) {
        ck_abort_msg("crdt_value: %d", err);
    }
    return v;
}

static uint64_t slot_of(const struct crdt_set *s, const char *name, uint64_t node)
{
    uint64_t v = 99;
    int err = crdt_slot_get(s, name, node, &v);
    if (err != 0 && (err != BATON_ENOTFOUND || v != 0)) {
        ck_abort_msg("crdt_slot_get: %d", err);
    }
    return v;
}

#define POOL 8
static const char *pool_name(size_t i)
{
    static const char *names[POOL] = {"a", "b", "jobs.done", "c3", "\xff\x01 bytes",
                                      "e", "f", "g"};
    return names[i % POOL];
}

/* A random state: up to 30 slots over the name pool and nodes 1..5, values
 * below 2^56 so that no sum overflows. */
static struct crdt_set *random_state(uint64_t *rng, uint64_t self)
{
    struct crdt_set *s = set_new(self, 1);
    size_t n = below(rng, 31);
    for (size_t i = 0; i < n; i++) {
        struct crdt_slot slot = {.name = pool_name(below(rng, POOL)),
                                 .node = 1 + below(rng, 5),
                                 .value = below(rng, 4) == 0 ? 1 + below(rng, 10)
                                                             : rnd(rng) >> 8};
        OK(crdt_merge(s, &slot, 1, NULL, NULL));
    }
    return s;
}

/* Random further changes: increments of self's slots and merged slots. */
static void random_changes(uint64_t *rng, struct crdt_set *s)
{
    size_t n = below(rng, 12);
    for (size_t i = 0; i < n; i++) {
        const char *name = pool_name(below(rng, POOL));
        if (below(rng, 2) == 0) {
            OK(crdt_incr(s, name, 1 + below(rng, 1000), NULL, NULL, NULL));
        } else {
            struct crdt_slot slot = {.name = name, .node = 1 + below(rng, 5),
                                     .value = rnd(rng) >> 8};
            OK(crdt_merge(s, &slot, 1, NULL, NULL));
        }
    }
}

/* Applies every delta of src since `since` to dst, in messages cut by the
 * given budget; returns the number of messages. */
static size_t apply_deltas(struct crdt_set *dst, const struct crdt_set *src, uint64_t since,
                           size_t max_slots, size_t max_bytes)
{
    size_t msgs = 0;
    for (;;) {
        struct crdt_delta d;
        OK(crdt_delta_get(src, since, max_slots, max_bytes, &d));
        if (d.n == 0 && d.upto == since) {
            crdt_delta_clear(&d);
            return msgs;
        }
        MUST(d.upto > since);
        OK(crdt_merge(dst, d.slots, d.n, NULL, NULL));
        since = d.upto;
        msgs++;
        crdt_delta_clear(&d);
    }
}

/* ---- Merge algebra ----------------------------------------------------------- */

#define PROPERTY_RUNS 400

/* Runs prop for PROPERTY_RUNS seeds; rng starts at the seed. */
static void for_each_seed(void (*prop)(uint64_t seed, uint64_t *rng))
{
    for (uint64_t i = 0; i < PROPERTY_RUNS; i++) {
        uint64_t seed = base_seed() + i, rng = seed;
        prop(seed, &rng);
    }
}

/* A new set holding a merged with b. */
static struct crdt_set *merged(const struct crdt_set *a, const struct crdt_set *b)
{
    struct crdt_set *m = clone(a);
    merge_state(m, b);
    return m;
}

static void free_sets(struct crdt_set **sets, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        crdt_set_free(sets[i]);
    }
}
#define FREE_SETS(...)                                                                     \
    free_sets((struct crdt_set *[]){__VA_ARGS__},                                          \
              sizeof((struct crdt_set *[]){__VA_ARGS__}) / sizeof(struct crdt_set *))

static void prop_commutative(uint64_t seed, uint64_t *rng)
{
    struct crdt_set *a = random_state(rng, 1), *b = random_state(rng, 2);
    struct crdt_set *ab = merged(a, b), *ba = merged(b, a);
    CHECK(seed, same_state(ab, ba));
    FREE_SETS(a, b, ab, ba);
}

static void prop_associative(uint64_t seed, uint64_t *rng)
{
    struct crdt_set *a = random_state(rng, 1), *b = random_state(rng, 2);
    struct crdt_set *c = random_state(rng, 3);
    struct crdt_set *ab = merged(a, b), *left = merged(ab, c);
    struct crdt_set *bc = merged(b, c), *right = merged(a, bc);
    CHECK(seed, same_state(left, right));
    FREE_SETS(a, b, c, ab, left, bc, right);
}

static void prop_idempotent(uint64_t seed, uint64_t *rng)
{
    struct crdt_set *a = random_state(rng, 1), *b = random_state(rng, 2);
    struct crdt_set *copy = clone(a);
    uint64_t v = crdt_version(a);
    merge_state(a, copy);
    CHECK(seed, crdt_version(a) == v); /* nothing changed, so nothing to gossip */
    CHECK(seed, same_state(a, copy));
    struct crdt_set *ab = merged(a, b), *abb = merged(ab, b);
    CHECK(seed, same_state(ab, abb));
    v = crdt_version(abb);
    merge_state(abb, b);
    merge_state(abb, a);
    CHECK(seed, crdt_version(abb) == v && same_state(ab, abb));
    FREE_SETS(a, b, copy, ab, abb);
}

/* The merge is the least upper bound: every slot is the max of both sides, so
 * it is >= each, and every value is monotone under merge. */
static void prop_upper_bound(uint64_t seed, uint64_t *rng)
{
    struct crdt_set *a = random_state(rng, 1), *b = random_state(rng, 2);
    struct crdt_set *m = merged(a, b);
    for (size_t k = 0; k < POOL; k++) {
        const char *name = pool_name(k);
        for (uint64_t node = 1; node <= 5; node++) {
            uint64_t x = slot_of(a, name, node), y = slot_of(b, name, node);
            CHECK(seed, slot_of(m, name, node) == (x > y ? x : y));
        }
        CHECK(seed, value_of(m, name) >= value_of(a, name));
        CHECK(seed, value_of(m, name) >= value_of(b, name));
    }
    FREE_SETS(a, b, m);
}

/* B holds everything of A up to version v; A changes on; the delta since v
 * brings B exactly where a full merge of A would, in one message or many. */
static void prop_delta(uint64_t seed, uint64_t *rng)
{
    struct crdt_set *a = random_state(rng, 1), *b = random_state(rng, 2);
    settle(a);
    merge_state(b, a);
    uint64_t v = crdt_durable(a);
    random_changes(rng, a);
    settle(a);

    struct crdt_set *full = merged(b, a);
    struct crdt_set *one = clone(b);
    apply_deltas(one, a, v, SIZE_MAX, SIZE_MAX);
    CHECK(seed, same_state(one, full));
    struct crdt_set *many = clone(b);
    apply_deltas(many, a, v, 1 + below(rng, 3), CRDT_DELTA_MIN_BYTES + below(rng, 64));
    CHECK(seed, same_state(many, full));
    /* And since 0 is the full state. */
    struct crdt_set *empty = set_new(3, 1);
    apply_deltas(empty, a, 0, 1 + below(rng, 5), CRDT_DELTA_MIN_BYTES);
    CHECK(seed, same_state(empty, a));
    FREE_SETS(a, b, full, one, many, empty);
}

START_TEST(merge_commutative)
{
    for_each_seed(prop_commutative);
}
END_TEST

START_TEST(merge_associative)
{
    for_each_seed(prop_associative);
}
END_TEST

START_TEST(merge_idempotent)
{
    for_each_seed(prop_idempotent);
}
END_TEST

START_TEST(merge_upper_bound_and_monotone)
{
    for_each_seed(prop_upper_bound);
}
END_TEST

START_TEST(delta_equals_full_merge)
{
    for_each_seed(prop_delta);
}
END_TEST

/* ---- Increments, values, names, overflow --------------------------------------- */

START_TEST(incr_and_value)
{
    struct crdt_set *s = set_new(7, 1);
    uint64_t slot = 0, value = 0, version = 0;
    ck_assert_int_eq(crdt_value(s, "hits", &value), BATON_ENOTFOUND);
    ck_assert_uint_eq(value, 0);
    OK(crdt_incr(s, "hits", 5, &slot, &value, &version));
    ck_assert_uint_eq(slot, 5);
    ck_assert_uint_eq(value, 5);
    ck_assert_uint_eq(version, 1);
    struct crdt_slot other = {.name = "hits", .node = 3, .value = 10};
    bool changed = false;
    size_t n_changed = 0;
    OK(crdt_merge(s, &other, 1, &changed, &n_changed));
    ck_assert(changed);
    ck_assert_uint_eq(n_changed, 1);
    OK(crdt_incr(s, "hits", 2, &slot, &value, &version));
    ck_assert_uint_eq(slot, 7);
    ck_assert_uint_eq(value, 17);
    ck_assert_uint_eq(version, 3);
    /* n == 0 is a read: nothing changes. */
    OK(crdt_incr(s, "hits", 0, &slot, &value, &version));
    ck_assert_uint_eq(value, 17);
    ck_assert_uint_eq(version, 3);
    OK(crdt_incr(s, "new", 0, &slot, &value, &version));
    ck_assert_uint_eq(value, 0);
    ck_assert_uint_eq(crdt_count(s), 1);
    /* A lower or equal slot changes nothing. */
    other.value = 4;
    OK(crdt_merge(s, &other, 1, &changed, &n_changed));
    ck_assert(!changed);
    ck_assert_uint_eq(n_changed, 0);
    ck_assert_uint_eq(crdt_version(s), 3);
    ck_assert_uint_eq(value_of(s, "hits"), 17);
    crdt_set_free(s);
}
END_TEST

START_TEST(overflow_is_an_error)
{
    struct crdt_set *s = set_new(1, 1);
    uint64_t slot = 0, value = 0;
    OK(crdt_incr(s, "c", UINT64_MAX - 1, NULL, NULL, NULL));
    OK(crdt_incr(s, "c", 1, &slot, &value, NULL));
    ck_assert_uint_eq(slot, UINT64_MAX);
    uint64_t v = crdt_version(s);
    ck_assert_int_eq(crdt_incr(s, "c", 1, &slot, NULL, NULL), BATON_EOVERFLOW);
    ck_assert_int_eq(crdt_incr(s, "c", UINT64_MAX, NULL, NULL, NULL), BATON_EOVERFLOW);
    ck_assert_uint_eq(slot_of(s, "c", 1), UINT64_MAX);
    ck_assert_uint_eq(crdt_version(s), v);

    /* The sum: the local increment that would carry it past is refused... */
    OK(crdt_incr(s, "d", 10, NULL, NULL, NULL));
    struct crdt_slot big = {.name = "d", .node = 2, .value = UINT64_MAX - 20};
    OK(crdt_merge(s, &big, 1, NULL, NULL));
    OK(crdt_incr(s, "d", 10, NULL, &value, NULL));
    ck_assert_uint_eq(value, UINT64_MAX);
    ck_assert_int_eq(crdt_incr(s, "d", 1, NULL, NULL, NULL), BATON_EOVERFLOW);
    ck_assert_uint_eq(slot_of(s, "d", 1), 20);
    /* ...but a merge is never refused, and the value then reports overflow. */
    big.node = 3;
    big.value = 5;
    OK(crdt_merge(s, &big, 1, NULL, NULL));
    ck_assert_int_eq(crdt_value(s, "d", &value), BATON_EOVERFLOW);
    ck_assert_uint_eq(value, UINT64_MAX);
    ck_assert_int_eq(crdt_incr(s, "d", 1, NULL, NULL, NULL), BATON_EOVERFLOW);
    ck_assert_int_eq(crdt_incr(s, "d", 0, NULL, NULL, NULL), BATON_EOVERFLOW);
    ck_assert_uint_eq(slot_of(s, "d", 3), 5);
    crdt_set_free(s);
}
END_TEST

START_TEST(bad_names_and_nodes)
{
    struct crdt_set *s = NULL;
    ck_assert_int_eq(crdt_set_new(0, 1, &s), BATON_EINVAL);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(crdt_set_new(1, 0, &s), BATON_EINVAL);
    s = set_new(1, 1);
    char longest[CRDT_NAME_MAX + 1], too_long[CRDT_NAME_MAX + 2];
    memset(longest, 'x', CRDT_NAME_MAX);
    longest[CRDT_NAME_MAX] = '\0';
    memset(too_long, 'y', CRDT_NAME_MAX + 1);
    too_long[CRDT_NAME_MAX + 1] = '\0';
    const char *bad[] = {"", too_long, NULL};
    uint64_t v;
    void *data;
    size_t len;
    for (size_t i = 0; i < 3; i++) {
        ck_assert_int_eq(crdt_incr(s, bad[i], 1, NULL, NULL, NULL), BATON_EINVAL);
        ck_assert_int_eq(crdt_value(s, bad[i], &v), BATON_EINVAL);
        ck_assert_int_eq(crdt_slot_get(s, bad[i], 1, &v), BATON_EINVAL);
        ck_assert_int_eq(crdt_load_slot(s, bad[i], 1, 1), BATON_EINVAL);
        ck_assert_int_eq(crdt_record_encode(s, bad[i], &data, &len), BATON_EINVAL);
        ck_assert_int_eq(crdt_record_load(s, bad[i], "x", 1), BATON_EINVAL);
        /* One bad slot anywhere in a batch: nothing of it is merged. */
        struct crdt_slot batch[2] = {{.name = "ok", .node = 1, .value = 1},
                                     {.name = bad[i], .node = 2, .value = 1}};
        ck_assert_int_eq(crdt_merge(s, batch, 2, NULL, NULL), BATON_EINVAL);
    }
    struct crdt_slot zero = {.name = "ok", .node = 0, .value = 1};
    ck_assert_int_eq(crdt_merge(s, &zero, 1, NULL, NULL), BATON_EINVAL);
    ck_assert_int_eq(crdt_slot_get(s, "ok", 0, &v), BATON_EINVAL);
    ck_assert_int_eq(crdt_load_slot(s, "ok", 0, 1), BATON_EINVAL);
    ck_assert_uint_eq(crdt_count(s), 0);
    ck_assert_uint_eq(crdt_version(s), 0);
    OK(crdt_incr(s, longest, 1, NULL, NULL, NULL));
    ck_assert_uint_eq(value_of(s, longest), 1);
    crdt_set_free(s);
}
END_TEST

/* ---- Durability ----------------------------------------------------------------- */

static int record_count(const struct crdt_sync *sync, const char *name)
{
    int n = 0;
    for (size_t i = 0; i < sync->n; i++) {
        n += strcmp(sync->records[i].name, name) == 0;
    }
    return n;
}

START_TEST(deltas_carry_only_durable_slots)
{
    struct crdt_set *s = set_new(1, 1);
    struct crdt_delta d;
    OK(crdt_incr(s, "x", 1, NULL, NULL, NULL));
    OK(crdt_incr(s, "x", 1, NULL, NULL, NULL));
    OK(crdt_incr(s, "y", 1, NULL, NULL, NULL));
    OK(crdt_delta_get(s, 0, 100, 4096, &d));
    ck_assert_uint_eq(d.n, 0);
    ck_assert_uint_eq(d.upto, 0);
    crdt_delta_clear(&d);

    struct crdt_sync first;
    OK(crdt_sync_get(s, &first));
    ck_assert_uint_eq(first.upto, 3);
    ck_assert_uint_eq(first.n, 2); /* one record per counter, not per change */
    ck_assert_int_eq(record_count(&first, "x"), 1);
    ck_assert_int_eq(record_count(&first, "y"), 1);
    /* A hot counter: x keeps changing while the write is in flight. */
    OK(crdt_incr(s, "x", 5, NULL, NULL, NULL));
    struct crdt_sync second;
    OK(crdt_sync_get(s, &second));
    ck_assert_uint_eq(second.n, 1);
    ck_assert_int_eq(record_count(&second, "x"), 1);
    OK(crdt_incr(s, "x", 1, NULL, NULL, NULL));
    crdt_persisted(s, first.upto);
    ck_assert_uint_eq(crdt_durable(s), 3);
    /* x is gossiped at its durable value 2, not its newer pending ones. */
    OK(crdt_delta_get(s, 0, 100, 4096, &d));
    ck_assert_uint_eq(d.n, 2);
    ck_assert_uint_eq(d.upto, 3);
    for (size_t i = 0; i < d.n; i++) {
        ck_assert_uint_eq(d.slots[i].value, strcmp(d.slots[i].name, "x") == 0 ? 2 : 1);
    }
    crdt_delta_clear(&d);
    crdt_persisted(s, 1000); /* clamped to the synced mark */
    ck_assert_uint_eq(crdt_durable(s), second.upto);
    OK(crdt_delta_get(s, 3, 100, 4096, &d));
    ck_assert_uint_eq(d.n, 1);
    ck_assert_uint_eq(d.slots[0].value, 7);
    crdt_delta_clear(&d);
    crdt_sync_clear(&first);
    crdt_sync_clear(&second);

    /* A failed write: reset hands the pending changes out again. */
    struct crdt_sync again;
    OK(crdt_sync_get(s, &again));
    ck_assert_uint_eq(again.n, 1);
    crdt_sync_clear(&again);
    crdt_sync_reset(s);
    OK(crdt_sync_get(s, &again));
    ck_assert_uint_eq(again.n, 1);
    crdt_persisted(s, again.upto);
    crdt_sync_clear(&again);
    OK(crdt_sync_get(s, &again));
    ck_assert_uint_eq(again.n, 0);
    ck_assert_uint_eq(crdt_durable(s), crdt_version(s));
    crdt_sync_clear(&again);
    crdt_set_free(s);
}
END_TEST

/* Records written by crdt_sync_get() rebuild the same state at startup, and
 * what was loaded from disk is durable at once. */
START_TEST(restart_from_records)
{
    for (uint64_t i = 0; i < 100; i++) {
        uint64_t seed = base_seed() + i, rng = seed;
        struct crdt_set *a = random_state(&rng, 1);
        random_changes(&rng, a);
        struct crdt_sync sync;
        OK(crdt_sync_get(a, &sync));
        CHECK(seed, sync.n == crdt_count(a));
        struct crdt_set *b = set_new(1, 2);
        for (size_t k = 0; k < sync.n; k++) {
            OK(crdt_record_load(b, sync.records[k].name, sync.records[k].data,
                                sync.records[k].len));
            void *data;
            size_t len;
            OK(crdt_record_encode(a, sync.records[k].name, &data, &len));
            CHECK(seed, len == sync.records[k].len &&
                            memcmp(data, sync.records[k].data, len) == 0);
            free(data);
        }
        CHECK(seed, same_state(a, b));
        CHECK(seed, crdt_durable(b) == crdt_version(b));
        struct crdt_set *c = set_new(9, 1);
        CHECK(seed, apply_deltas(c, b, 0, SIZE_MAX, SIZE_MAX) == (crdt_count(b) > 0));
        CHECK(seed, same_state(b, c));
        crdt_sync_clear(&sync);
        crdt_set_free(a);
        crdt_set_free(b);
        crdt_set_free(c);
    }
}
END_TEST

/* Many changes with writes in flight, so that the change log is compacted
 * again and again: a delta since 0 is always exactly the durable state, i.e.
 * what the records of the last completed write say. */
START_TEST(compaction_keeps_what_is_needed)
{
    uint64_t seed = base_seed(), rng = seed;
    struct crdt_set *s = set_new(1, 1);
    struct crdt_set *durable = set_new(1, 1); /* rebuilt from written records */
    struct crdt_sync inflight[2];
    size_t n_inflight = 0;
    for (int step = 0; step < 30000; step++) {
        uint64_t r = below(&rng, 100);
        if (r < 70) {
            OK(crdt_incr(s, pool_name(below(&rng, 3)), 1, NULL, NULL, NULL));
        } else if (r < 80) {
            struct crdt_slot slot = {.name = pool_name(below(&rng, 4)), .node = 2,
                                     .value = (uint64_t)step};
            OK(crdt_merge(s, &slot, 1, NULL, NULL));
        } else if (r < 90 && n_inflight < 2) {
            OK(crdt_sync_get(s, &inflight[n_inflight++]));
        } else if (r < 100 && n_inflight > 0) {
            for (size_t k = 0; k < inflight[0].n; k++) {
                OK(crdt_record_load(durable, inflight[0].records[k].name,
                                    inflight[0].records[k].data, inflight[0].records[k].len));
            }
            crdt_persisted(s, inflight[0].upto);
            crdt_sync_clear(&inflight[0]);
            inflight[0] = inflight[1];
            n_inflight--;
            struct crdt_set *view = set_new(3, 1);
            apply_deltas(view, s, 0, 1 + below(&rng, 3), CRDT_DELTA_MIN_BYTES);
            CHECK(seed, same_state(view, durable));
            crdt_set_free(view);
        }
    }
    for (size_t k = 0; k < n_inflight; k++) {
        crdt_sync_clear(&inflight[k]);
    }
    crdt_set_free(s);
    crdt_set_free(durable);
}
END_TEST

/* ---- Budgets and continuation ---------------------------------------------------- */

START_TEST(delta_budget_and_continuation)
{
    uint64_t seed = base_seed(), rng = seed;
    struct crdt_set *a = set_new(1, 1);
    char name[CRDT_NAME_MAX + 1];
    for (int i = 0; i < 300; i++) {
        int len = snprintf(name, sizeof(name), "counter-%d-", i);
        size_t pad = below(&rng, 4) == 0 ? CRDT_NAME_MAX - (size_t)len : below(&rng, 20);
        memset(name + len, 'p', pad);
        name[(size_t)len + pad] = '\0';
        OK(crdt_incr(a, name, 1 + below(&rng, 100), NULL, NULL, NULL));
    }
    settle(a);
    struct crdt_delta d;
    ck_assert_int_eq(crdt_delta_get(a, 0, 0, 4096, &d), BATON_EINVAL);
    ck_assert_int_eq(crdt_delta_get(a, 0, 10, CRDT_DELTA_MIN_BYTES - 1, &d), BATON_EINVAL);

    struct crdt_set *b = set_new(2, 1);
    uint64_t since = 0;
    size_t msgs = 0, total = 0;
    for (;;) {
        size_t max_slots = 1 + below(&rng, 7);
        size_t max_bytes = CRDT_DELTA_MIN_BYTES + below(&rng, 600);
        OK(crdt_delta_get(a, since, max_slots, max_bytes, &d));
        if (d.n == 0 && d.upto == since) {
            crdt_delta_clear(&d);
            break;
        }
        void *data;
        size_t len;
        OK(crdt_delta_encode(&d, &data, &len));
        CHECK(seed, d.n >= 1 && d.n <= max_slots && len <= max_bytes && d.since == since);
        OK(crdt_merge(b, d.slots, d.n, NULL, NULL));
        total += d.n;
        since = d.upto;
        msgs++;
        free(data);
        crdt_delta_clear(&d);
        /* Changes made between messages arrive too. */
        if (msgs % 10 == 0) {
            OK(crdt_incr(a, "late", 1, NULL, NULL, NULL));
            settle(a);
        }
    }
    CHECK(seed, same_state(a, b));
    CHECK(seed, total >= 300 && msgs > 300 / 7);
    CHECK(seed, since == crdt_durable(a));
    crdt_set_free(a);
    crdt_set_free(b);
}
END_TEST

/* One full exchange a -> b through the peer bookkeeping, until a's delta to b
 * is empty; returns the number of slots sent. */
static size_t exchange(struct crdt_set *a, struct crdt_peer *a_about_b, struct crdt_set *b,
                       struct crdt_peer *b_about_a, size_t max_slots)
{
    size_t sent = 0;
    uint64_t since = a_about_b->acked;
    for (;;) {
        struct crdt_delta d;
        OK(crdt_delta_get(a, since, max_slots, 1 << 20, &d));
        if (d.n == 0 && d.upto == since) {
            crdt_delta_clear(&d);
            break;
        }
        OK(crdt_peer_receive(b, b_about_a, &d, NULL, NULL));
        sent += d.n;
        since = d.upto;
        crdt_delta_clear(&d);
    }
    settle(b);
    uint64_t epoch, have;
    crdt_peer_ack(b, b_about_a, &epoch, &have);
    crdt_peer_acked(a, a_about_b, epoch, have);
    return sent;
}

START_TEST(at_rest_gossip_is_empty)
{
    struct crdt_set *a = set_new(1, 1);
    struct crdt_set *b = set_new(2, 1);
    struct crdt_peer a_about_b, b_about_a;
    crdt_peer_init(&a_about_b);
    crdt_peer_init(&b_about_a);
    char name[32];
    for (int i = 0; i < 10000; i++) {
        snprintf(name, sizeof(name), "counter.%05d", i);
        OK(crdt_incr(a, name, (uint64_t)i + 1, NULL, NULL, NULL));
    }
    settle(a);
    ck_assert_uint_eq(exchange(a, &a_about_b, b, &b_about_a, 1000), 10000);
    ck_assert_uint_eq(a_about_b.acked, crdt_durable(a));
    ck_assert_uint_eq(crdt_count(b), 10000);
    ck_assert(same_state(a, b));

    /* At rest: nothing to send, whatever the number of counters. */
    struct crdt_delta d;
    OK(crdt_delta_get(a, a_about_b.acked, 1000, 1 << 20, &d));
    ck_assert_uint_eq(d.n, 0);
    ck_assert_uint_eq(d.upto, a_about_b.acked);
    crdt_delta_clear(&d);
    ck_assert_uint_eq(exchange(a, &a_about_b, b, &b_about_a, 1000), 0);

    /* One change: one slot. */
    OK(crdt_incr(a, "counter.04242", 1, NULL, NULL, NULL));
    settle(a);
    OK(crdt_delta_get(a, a_about_b.acked, 1000, 1 << 20, &d));
    ck_assert_uint_eq(d.n, 1);
    ck_assert_str_eq(d.slots[0].name, "counter.04242");
    ck_assert_uint_eq(d.slots[0].value, 4244);
    void *data;
    size_t len;
    OK(crdt_delta_encode(&d, &data, &len));
    ck_assert_uint_eq(len, CRDT_DELTA_HEADER_BYTES + 1 + 13 + 16);
    free(data);
    crdt_delta_clear(&d);
    ck_assert_uint_eq(exchange(a, &a_about_b, b, &b_about_a, 1000), 1);
    ck_assert_uint_eq(value_of(b, "counter.04242"), 4244);
    crdt_set_free(a);
    crdt_set_free(b);
}
END_TEST

/* ---- Peer bookkeeping -------------------------------------------------------------- */

static struct crdt_delta delta_of(const struct crdt_set *s, uint64_t since, size_t max_slots)
{
    struct crdt_delta d;
    OK(crdt_delta_get(s, since, max_slots, 1 << 20, &d));
    return d;
}

START_TEST(peer_have_waits_for_durability_and_gaps)
{
    struct crdt_set *a = set_new(1, 5);
    struct crdt_set *b = set_new(2, 1);
    struct crdt_peer a_about_b, b_about_a;
    crdt_peer_init(&a_about_b);
    crdt_peer_init(&b_about_a);
    uint64_t epoch, have;
    crdt_peer_ack(b, &b_about_a, &epoch, &have);
    ck_assert_uint_eq(epoch, 0); /* nothing heard yet */
    for (int i = 0; i < 4; i++) {
        OK(crdt_incr(a, pool_name((size_t)i), 1, NULL, NULL, NULL));
    }
    settle(a);
    struct crdt_delta d1 = delta_of(a, 0, 2), d2 = delta_of(a, d1.upto, 2);
    ck_assert_uint_eq(d2.upto, 4);

    /* The second half first: merged, but a gap, so have stays. */
    OK(crdt_peer_receive(b, &b_about_a, &d2, NULL, NULL));
    settle(b);
    crdt_peer_ack(b, &b_about_a, &epoch, &have);
    ck_assert_uint_eq(epoch, 5);
    ck_assert_uint_eq(have, 0);
    ck_assert_uint_eq(value_of(b, pool_name(3)), 1);
    /* The first half: contiguous, but not durable yet. */
    OK(crdt_peer_receive(b, &b_about_a, &d1, NULL, NULL));
    crdt_peer_ack(b, &b_about_a, &epoch, &have);
    ck_assert_uint_eq(have, 0);
    settle(b);
    crdt_peer_ack(b, &b_about_a, &epoch, &have);
    ck_assert_uint_eq(have, d1.upto);
    /* The resent second half (or a duplicate) closes the gap. */
    OK(crdt_peer_receive(b, &b_about_a, &d2, NULL, NULL));
    OK(crdt_peer_receive(b, &b_about_a, &d2, NULL, NULL));
    crdt_peer_ack(b, &b_about_a, &epoch, &have);
    ck_assert_uint_eq(have, 4); /* duplicates changed nothing: already durable */

    crdt_peer_acked(a, &a_about_b, epoch, have);
    ck_assert_uint_eq(a_about_b.acked, 4);
    crdt_peer_acked(a, &a_about_b, 4, 2); /* another epoch of a: stale */
    ck_assert_uint_eq(a_about_b.acked, 4);
    crdt_peer_acked(a, &a_about_b, 5, 2); /* an older ack: re-send a little */
    ck_assert_uint_eq(a_about_b.acked, 2);
    crdt_peer_acked(a, &a_about_b, 5, 99); /* past durable: nonsense */
    ck_assert_uint_eq(a_about_b.acked, 0);
    crdt_peer_acked(a, &a_about_b, 5, 4);
    crdt_peer_resync(&a_about_b);
    ck_assert_uint_eq(a_about_b.acked, 0);
    crdt_delta_clear(&d1);
    crdt_delta_clear(&d2);
    crdt_set_free(a);
    crdt_set_free(b);
}
END_TEST

/* A restart on either side falls back to a full-state exchange. */
START_TEST(peer_restarts)
{
    struct crdt_set *a = set_new(1, 1);
    struct crdt_set *b = set_new(2, 1);
    struct crdt_peer a_about_b, b_about_a;
    crdt_peer_init(&a_about_b);
    crdt_peer_init(&b_about_a);
    for (int i = 0; i < 6; i++) {
        OK(crdt_incr(a, pool_name((size_t)i), 3, NULL, NULL, NULL));
    }
    settle(a);
    ck_assert_uint_eq(exchange(a, &a_about_b, b, &b_about_a, 4), 6);

    /* b restarts: it acknowledges nothing, so a sends everything again. */
    crdt_peer_init(&b_about_a);
    uint64_t epoch, have;
    crdt_peer_ack(b, &b_about_a, &epoch, &have);
    crdt_peer_acked(a, &a_about_b, epoch, have);
    ck_assert_uint_eq(a_about_b.acked, 0);
    ck_assert_uint_eq(exchange(a, &a_about_b, b, &b_about_a, 4), 6);

    /* a restarts in a new epoch, from its records, with fewer versions than
     * b holds of its last run: b starts over from 0 of the new epoch. */
    struct crdt_set *a2 = set_new(1, 2);
    OK(crdt_load_slot(a2, pool_name(0), 1, 3));
    OK(crdt_incr(a2, pool_name(0), 1, NULL, NULL, NULL));
    settle(a2);
    ck_assert_uint_lt(crdt_durable(a2), b_about_a.have);
    struct crdt_peer a2_about_b;
    crdt_peer_init(&a2_about_b);
    crdt_peer_ack(b, &b_about_a, &epoch, &have);
    crdt_peer_acked(a2, &a2_about_b, epoch, have); /* for epoch 1: ignored */
    ck_assert_uint_eq(a2_about_b.acked, 0);
    ck_assert_uint_eq(exchange(a2, &a2_about_b, b, &b_about_a, 4), 1);
    ck_assert_uint_eq(b_about_a.epoch, 2);
    ck_assert_uint_eq(b_about_a.have, crdt_durable(a2));
    ck_assert_uint_eq(a2_about_b.acked, crdt_durable(a2));
    ck_assert_uint_eq(value_of(b, pool_name(0)), 4);

    /* A late delta of the ended run is merged but moves nothing. */
    struct crdt_delta old = delta_of(a, 0, 100);
    OK(crdt_peer_receive(b, &b_about_a, &old, NULL, NULL));
    ck_assert_uint_eq(b_about_a.epoch, 2);
    ck_assert_uint_eq(b_about_a.have, crdt_durable(a2));
    crdt_delta_clear(&old);
    ck_assert_uint_eq(value_of(b, pool_name(0)), 4);
    crdt_set_free(a);
    crdt_set_free(a2);
    crdt_set_free(b);
}
END_TEST

/* ---- Encodings ---------------------------------------------------------------------- */

START_TEST(encoding_golden_bytes)
{
    struct crdt_slot slots[1] = {{.name = "ab", .node = 0x0102, .value = 0x0a0b0c}};
    struct crdt_delta d = {.epoch = 7, .since = 1, .upto = 2, .slots = slots, .n = 1};
    static const uint8_t want[] = {
        1, 1, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0,
        0, 2, 0, 0, 0, 1, 2, 'a', 'b', 0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 0, 0x0a, 0x0b, 0x0c};
    void *data;
    size_t len;
    OK(crdt_delta_encode(&d, &data, &len));
    ck_assert_uint_eq(len, sizeof(want));
    ck_assert_mem_eq(data, want, sizeof(want));
    free(data);

    struct crdt_set *s = set_new(9, 1);
    OK(crdt_incr(s, "r", 3, NULL, NULL, NULL));
    struct crdt_slot other = {.name = "r", .node = 2, .value = 5};
    OK(crdt_merge(s, &other, 1, NULL, NULL));
    static const uint8_t rec[] = {1, 2, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0,
                                  5, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 3};
    OK(crdt_record_encode(s, "r", &data, &len));
    ck_assert_uint_eq(len, sizeof(rec));
    ck_assert_mem_eq(data, rec, sizeof(rec));
    free(data);
    ck_assert_int_eq(crdt_record_encode(s, "nope", &data, &len), BATON_ENOTFOUND);

    d.epoch = 0;
    ck_assert_int_eq(crdt_delta_encode(&d, &data, &len), BATON_EINVAL);
    d.epoch = 1;
    d.since = 3;
    ck_assert_int_eq(crdt_delta_encode(&d, &data, &len), BATON_EINVAL);
    d.since = 1;
    slots[0].node = 0;
    ck_assert_int_eq(crdt_delta_encode(&d, &data, &len), BATON_EINVAL);
    crdt_set_free(s);
}
END_TEST

static int decode_delta(const uint8_t *p, size_t len)
{
    struct crdt_delta d;
    int err = crdt_delta_decode(p, len, &d);
    if (err != 0) {
        MUST(d.slots == NULL);
        MUST(d.n == 0);
    }
    crdt_delta_clear(&d);
    return err;
}

static int decode_record(const uint8_t *p, size_t len)
{
    struct crdt_pair *pairs;
    size_t n;
    int err = crdt_record_decode(p, len, &pairs, &n);
    free(pairs);
    return err;
}

/* A valid delta of three slots, as bytes. */
static size_t sample_delta(uint8_t *buf)
{
    struct crdt_slot slots[3] = {{.name = "alpha", .node = 1, .value = 10},
                                 {.name = "b", .node = 2, .value = UINT64_MAX},
                                 {.name = "alpha", .node = 3, .value = 0}};
    struct crdt_delta d = {.epoch = 3, .since = 4, .upto = 9, .slots = slots, .n = 3};
    void *data;
    size_t len;
    OK(crdt_delta_encode(&d, &data, &len));
    memcpy(buf, data, len);
    free(data);
    return len;
}

START_TEST(malformed_deltas)
{
    uint8_t buf[256], bad[256];
    size_t len = sample_delta(buf);
    ck_assert_int_eq(decode_delta(buf, len), 0);
    ck_assert_int_eq(decode_delta(NULL, 0), BATON_EMALFORMED);
    for (size_t i = 0; i < len; i++) { /* every truncation */
        ck_assert_int_eq(decode_delta(buf, i), BATON_EMALFORMED);
    }
    memcpy(bad, buf, len);
    bad[len] = 0; /* a trailing byte */
    ck_assert_int_eq(decode_delta(bad, len + 1), BATON_EMALFORMED);

    struct {
        size_t at;
        uint8_t byte;
        int err;
    } cases[] = {
        {0, 0, BATON_EMALFORMED},   /* format 0 */
        {0, 2, BATON_EVERSION},     /* a newer format */
        {0, 255, BATON_EVERSION},
        {1, 2, BATON_EMALFORMED},   /* a record, not a delta */
        {1, 0, BATON_EMALFORMED},
        {9, 0, BATON_EMALFORMED},   /* epoch 0 */
        {17, 10, BATON_EMALFORMED}, /* since 10 > upto 9 */
        {26, 0xff, BATON_EMALFORMED}, /* absurd counts */
        {29, 4, BATON_EMALFORMED},
        {29, 2, BATON_EMALFORMED},  /* fewer slots than bytes */
        {30, 0, BATON_EMALFORMED},  /* empty name */
        {30, 200, BATON_EMALFORMED}, /* name longer than the message */
        {32, 0, BATON_EMALFORMED},  /* NUL inside a name */
        {43, 0, BATON_EMALFORMED},  /* node 0 */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memcpy(bad, buf, len);
        if (cases[i].at == 43) {
            memset(bad + 36, 0, 8);
        } else {
            bad[cases[i].at] = cases[i].byte;
        }
        ck_assert_msg(decode_delta(bad, len) == cases[i].err, "case %zu", i);
    }
    memcpy(bad, buf, len);
    memset(bad + 26, 0xff, 4); /* n = 2^32 - 1 with a few bytes behind it */
    ck_assert_int_eq(decode_delta(bad, len), BATON_EMALFORMED);
}
END_TEST

START_TEST(malformed_records)
{
    uint8_t rec[] = {1, 2, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0,
                     5, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 3};
    uint8_t bad[sizeof(rec) + 1];
    ck_assert_int_eq(decode_record(rec, sizeof(rec)), 0);
    for (size_t i = 0; i < sizeof(rec); i++) {
        ck_assert_int_eq(decode_record(rec, i), BATON_EMALFORMED);
    }
    memcpy(bad, rec, sizeof(rec));
    bad[sizeof(rec)] = 0;
    ck_assert_int_eq(decode_record(bad, sizeof(bad)), BATON_EMALFORMED);
    struct {
        size_t at;
        uint8_t byte;
        int err;
    } cases[] = {
        {0, 0, BATON_EMALFORMED}, {0, 9, BATON_EVERSION}, {1, 1, BATON_EMALFORMED},
        {5, 0, BATON_EMALFORMED},   /* no slots */
        {5, 3, BATON_EMALFORMED},   /* more slots than bytes */
        {2, 0x80, BATON_EMALFORMED}, /* absurd count */
        {13, 9, BATON_EMALFORMED},  /* nodes not increasing (9, 9) */
        {13, 10, BATON_EMALFORMED}, /* nodes out of order (10, 9) */
        {13, 0, BATON_EMALFORMED},  /* node 0 */
        {21, 0, BATON_EMALFORMED},  /* value 0 */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memcpy(bad, rec, sizeof(rec));
        bad[cases[i].at] = cases[i].byte;
        ck_assert_msg(decode_record(bad, sizeof(rec)) == cases[i].err, "case %zu", i);
    }
    /* A bad record loads nothing. */
    struct crdt_set *s = set_new(1, 1);
    bad[21] = 5;
    bad[37] = 0;
    ck_assert_int_eq(crdt_record_load(s, "r", bad, sizeof(rec)), BATON_EMALFORMED);
    ck_assert_uint_eq(crdt_count(s), 0);
    crdt_set_free(s);
}
END_TEST

/* A decoded delta re-encodes to the very bytes it came from. */
static void check_delta_roundtrip(uint64_t seed, const uint8_t *p, size_t len)
{
    struct crdt_delta d;
    int err = crdt_delta_decode(p, len, &d);
    CHECK(seed, err == 0 || err == BATON_EMALFORMED || err == BATON_EVERSION);
    if (err == 0) {
        void *data;
        size_t n;
        OK(crdt_delta_encode(&d, &data, &n));
        CHECK(seed, n == len && memcmp(data, p, len) == 0);
        free(data);
    }
    crdt_delta_clear(&d);
}

/* A decoded record loads into a counter whose record is the same bytes. */
static void check_record_roundtrip(uint64_t seed, const uint8_t *p, size_t len)
{
    struct crdt_set *s = set_new(1, 1);
    int err = crdt_record_load(s, "r", p, len);
    CHECK(seed, err == 0 || err == BATON_EMALFORMED || err == BATON_EVERSION);
    if (err == 0) {
        void *data;
        size_t n;
        OK(crdt_record_encode(s, "r", &data, &n));
        CHECK(seed, n == len && memcmp(data, p, len) == 0);
        free(data);
    } else {
        CHECK(seed, crdt_count(s) == 0);
    }
    crdt_set_free(s);
}

/* Random bytes, and valid messages with a few bytes changed, truncated or
 * extended: decoders answer, never crash or over-read (run under ASan). */
START_TEST(decode_fuzz)
{
    uint8_t valid[256], rec[64];
    size_t vlen = sample_delta(valid);
    struct crdt_set *s = set_new(4, 1);
    for (uint64_t node = 1; node <= 3; node++) {
        OK(crdt_load_slot(s, "r", node, node * 1000));
    }
    void *data;
    size_t rlen;
    OK(crdt_record_encode(s, "r", &data, &rlen));
    memcpy(rec, data, rlen);
    free(data);
    crdt_set_free(s);

    for (uint64_t i = 0; i < 50000; i++) {
        uint64_t seed = base_seed() + i, rng = seed;
        bool is_delta = below(&rng, 2) == 0;
        const uint8_t *base = is_delta ? valid : rec;
        size_t blen = is_delta ? vlen : rlen;
        bool random = below(&rng, 4) == 0;
        size_t len = random ? below(&rng, 80)
                            : (below(&rng, 3) == 0 ? blen - 3 + below(&rng, 7) : blen);
        /* Exactly len bytes, so that ASan sees any read past the end. */
        uint8_t *buf = malloc(len == 0 ? 1 : len);
        ck_assert_ptr_nonnull(buf);
        for (size_t k = 0; k < len; k++) {
            buf[k] = random ? (uint8_t)rnd(&rng) : (k < blen ? base[k] : (uint8_t)rnd(&rng));
        }
        if (random && len > 1 && below(&rng, 2) == 0) {
            buf[0] = 1; /* reach past the header more often */
            buf[1] = is_delta ? 1 : 2;
        }
        for (uint64_t m = random || len == 0 ? 0 : below(&rng, 4); m > 0; m--) {
            buf[below(&rng, len)] = below(&rng, 2) == 0 ? (uint8_t)rnd(&rng) : 0;
        }
        check_delta_roundtrip(seed, buf, len);
        check_record_roundtrip(seed, buf, len);
        free(buf);
    }
}
END_TEST

/* ---- Gossip simulation ----------------------------------------------------------------
 * N replicas increment a few counters, persist at random moments (several
 * writes may be in flight), gossip deltas cut by random budgets over a network
 * that drops, duplicates and reorders, acknowledge, run full-state
 * anti-entropy now and then, and crash (losing what was not durable) and
 * restart from their records in a new epoch. Checked all along: no replica
 * holds more of a node's slot than that node made durable (nothing is counted
 * twice), and values reported after durability never go down, not even across
 * a crash. At the end, with a reliable network: every replica holds exactly
 * the sum of the durable increments, and gossip falls silent. */

#define SIM_NODES 4
#define SIM_NAMES 40
#define SIM_SYNCS 3

struct sim_pending {
    uint64_t version;
    size_t name;
    uint64_t amount;
};

struct sim_node {
    struct crdt_set *set;
    struct crdt_peer peers[SIM_NODES];
    uint64_t epoch;
    void *disk[SIM_NAMES];
    size_t disk_len[SIM_NAMES];
    struct crdt_sync syncs[SIM_SYNCS]; /* writes in flight, oldest first */
    size_t n_syncs;
    struct sim_pending *pend; /* increments not durable yet */
    size_t n_pend;
    uint64_t made[SIM_NAMES]; /* durable increments of this node, by name */
    uint64_t seen[SIM_NAMES]; /* highest value reported by this node */
};

struct sim_msg {
    size_t from, to;
    bool is_ack;
    void *data;
    size_t len;
    uint64_t epoch, have;
};

/* What happened, so that the test can tell it exercised something. */
struct sim_stats {
    size_t delivered, dropped, duplicated, crashes, resyncs;
    uint64_t made;
};

struct sim {
    uint64_t seed, rng;
    size_t n; /* replicas: with two, no third one relays what a link lost */
    bool anti_entropy; /* periodic full-state exchanges; without them the
                        * acknowledgements alone must repair every loss */
    struct sim_stats stats;
    struct sim_node nodes[SIM_NODES];
    struct sim_msg *net;
    size_t n_net;
};

/* Many counters, so that a slot lost in transit is rarely healed by a later
 * change of the same slot: the protocol itself must resend it. */
static const char *sim_name(size_t k)
{
    static char names[SIM_NAMES][16];
    if (names[k][0] == '\0') {
        snprintf(names[k], sizeof(names[k]), "sim.%zu", k);
    }
    return names[k];
}

static size_t sim_name_index(const char *name)
{
    size_t k = (size_t)strtoul(name + 4, NULL, 10);
    MUST(k < SIM_NAMES && strcmp(name, sim_name(k)) == 0);
    return k;
}

static void sim_boot(struct sim *sim, size_t i)
{
    struct sim_node *n = &sim->nodes[i];
    n->set = set_new(i + 1, ++n->epoch);
    for (size_t k = 0; k < SIM_NAMES; k++) {
        if (n->disk[k] != NULL) {
            OK(crdt_record_load(n->set, sim_name(k), n->disk[k], n->disk_len[k]));
        }
    }
    for (size_t j = 0; j < sim->n; j++) {
        crdt_peer_init(&n->peers[j]);
    }
    CHECK(sim->seed, crdt_durable(n->set) == crdt_version(n->set));
    for (size_t k = 0; k < SIM_NAMES; k++) {
        /* Its own slots come back exactly as made durable. */
        CHECK(sim->seed, slot_of(n->set, sim_name(k), i + 1) == n->made[k]);
    }
}

/* A read the host may answer: everything up to the current version durable. */
static void sim_report(struct sim *sim, size_t i)
{
    struct sim_node *n = &sim->nodes[i];
    if (crdt_durable(n->set) != crdt_version(n->set)) {
        return;
    }
    for (size_t k = 0; k < SIM_NAMES; k++) {
        uint64_t v = value_of(n->set, sim_name(k));
        CHECK(sim->seed, v >= n->seen[k]);
        n->seen[k] = v;
    }
}

static void sim_push(struct sim *sim, struct sim_msg m)
{
    sim->net = realloc(sim->net, (sim->n_net + 1) * sizeof(*sim->net));
    MUST(sim->net != NULL);
    sim->net[sim->n_net++] = m;
}

static void sim_incr(struct sim *sim, size_t i)
{
    struct sim_node *n = &sim->nodes[i];
    /* A few hot counters, many cold ones. */
    size_t k = below(&sim->rng, 2) == 0 ? below(&sim->rng, 3) : below(&sim->rng, SIM_NAMES);
    uint64_t amount = 1 + below(&sim->rng, 1000), version;
    OK(crdt_incr(n->set, sim_name(k), amount, NULL, NULL, &version));
    n->pend = realloc(n->pend, (n->n_pend + 1) * sizeof(*n->pend));
    MUST(n->pend != NULL);
    n->pend[n->n_pend++] = (struct sim_pending){version, k, amount};
}

static void sim_sync_begin(struct sim *sim, size_t i)
{
    struct sim_node *n = &sim->nodes[i];
    if (n->n_syncs < SIM_SYNCS) {
        OK(crdt_sync_get(n->set, &n->syncs[n->n_syncs++]));
    }
}

/* The oldest write in flight reaches the disk. */
static void sim_sync_end(struct sim *sim, size_t i)
{
    struct sim_node *n = &sim->nodes[i];
    if (n->n_syncs == 0) {
        return;
    }
    struct crdt_sync *sync = &n->syncs[0];
    for (size_t r = 0; r < sync->n; r++) {
        size_t k = sim_name_index(sync->records[r].name);
        free(n->disk[k]);
        n->disk[k] = sync->records[r].data;
        n->disk_len[k] = sync->records[r].len;
        sync->records[r].data = NULL;
    }
    crdt_persisted(n->set, sync->upto);
    crdt_sync_clear(sync);
    memmove(&n->syncs[0], &n->syncs[1], --n->n_syncs * sizeof(n->syncs[0]));
    size_t kept = 0;
    for (size_t p = 0; p < n->n_pend; p++) {
        if (n->pend[p].version <= crdt_durable(n->set)) {
            n->made[n->pend[p].name] += n->pend[p].amount;
        } else {
            n->pend[kept++] = n->pend[p];
        }
    }
    n->n_pend = kept;
    sim_report(sim, i);
}

static void sim_crash(struct sim *sim, size_t i)
{
    struct sim_node *n = &sim->nodes[i];
    for (size_t s = 0; s < n->n_syncs; s++) {
        crdt_sync_clear(&n->syncs[s]);
    }
    n->n_syncs = 0;
    n->n_pend = 0; /* never acknowledged to a client: lost */
    crdt_set_free(n->set);
    sim_boot(sim, i);
    sim_report(sim, i);
}

static void sim_gossip(struct sim *sim, size_t i, size_t j)
{
    struct sim_node *n = &sim->nodes[i];
    uint64_t since = n->peers[j].acked;
    size_t chunks = 1 + below(&sim->rng, 3);
    for (size_t c = 0; c < chunks; c++) {
        struct crdt_delta d;
        OK(crdt_delta_get(n->set, since, 1 + below(&sim->rng, 4),
                          CRDT_DELTA_MIN_BYTES + below(&sim->rng, 100), &d));
        if (d.n == 0 && d.upto == since) {
            crdt_delta_clear(&d);
            return;
        }
        struct sim_msg m = {.from = i, .to = j};
        OK(crdt_delta_encode(&d, &m.data, &m.len));
        sim_push(sim, m);
        since = d.upto;
        crdt_delta_clear(&d);
    }
}

static void sim_ack(struct sim *sim, size_t i, size_t j)
{
    struct sim_msg m = {.from = i, .to = j, .is_ack = true};
    crdt_peer_ack(sim->nodes[i].set, &sim->nodes[i].peers[j], &m.epoch, &m.have);
    sim_push(sim, m);
}

static void sim_receive(struct sim *sim, const struct sim_msg *m)
{
    struct sim_node *to = &sim->nodes[m->to];
    if (m->is_ack) {
        crdt_peer_acked(to->set, &to->peers[m->from], m->epoch, m->have);
        return;
    }
    struct crdt_delta d;
    OK(crdt_delta_decode(m->data, m->len, &d));
    OK(crdt_peer_receive(to->set, &to->peers[m->from], &d, NULL, NULL));
    crdt_delta_clear(&d);
}

/* Delivers, drops or duplicates one message picked at random (reordering). */
static void sim_deliver(struct sim *sim)
{
    if (sim->n_net == 0) {
        return;
    }
    size_t at = below(&sim->rng, sim->n_net);
    uint64_t fate = below(&sim->rng, 10);
    if (fate >= 2) {
        sim_receive(sim, &sim->net[at]);
        sim->stats.delivered++;
    } else {
        sim->stats.dropped++;
    }
    if (fate == 9) {
        sim->stats.duplicated++;
        return; /* it stays in the network */
    }
    free(sim->net[at].data);
    sim->net[at] = sim->net[--sim->n_net];
}

/* No replica holds more of a node's slot than that node made durable. */
static void sim_check_slots(struct sim *sim)
{
    for (size_t i = 0; i < sim->n; i++) {
        for (size_t j = 0; j < sim->n; j++) {
            for (size_t k = 0; k < SIM_NAMES && i != j; k++) {
                CHECK(sim->seed,
                      slot_of(sim->nodes[i].set, sim_name(k), j + 1) <= sim->nodes[j].made[k]);
            }
        }
    }
}

static bool delta_has(const struct crdt_delta *d, const struct crdt_slot *slot)
{
    for (size_t k = 0; k < d->n; k++) {
        if (d->slots[k].node == slot->node && strcmp(d->slots[k].name, slot->name) == 0) {
            return true;
        }
    }
    return false;
}

/* j holds every durable slot of i last changed at or before version mark. */
static void sim_check_holds(struct sim *sim, size_t i, size_t j, uint64_t mark)
{
    const struct crdt_set *a = sim->nodes[i].set, *b = sim->nodes[j].set;
    struct crdt_delta all, newer;
    OK(crdt_delta_get(a, 0, SIZE_MAX, SIZE_MAX, &all));
    OK(crdt_delta_get(a, mark, SIZE_MAX, SIZE_MAX, &newer));
    for (size_t k = 0; k < all.n; k++) {
        const struct crdt_slot *slot = &all.slots[k];
        if (!delta_has(&newer, slot)) {
            CHECK(sim->seed, slot_of(b, slot->name, slot->node) >= slot->value);
        }
    }
    crdt_delta_clear(&all);
    crdt_delta_clear(&newer);
}

/* Acknowledgements tell the truth: what j says it holds of i, and what i
 * believes j holds of it, j does hold. */
static void sim_check_acks(struct sim *sim, size_t i, size_t j)
{
    const struct crdt_peer *inbound = &sim->nodes[j].peers[i];
    if (inbound->epoch == crdt_epoch(sim->nodes[i].set)) {
        sim_check_holds(sim, i, j, inbound->have);
    }
    sim_check_holds(sim, i, j, sim->nodes[i].peers[j].acked);
}

static void sim_step(struct sim *sim)
{
    size_t i = below(&sim->rng, sim->n);
    size_t j = (i + 1 + below(&sim->rng, sim->n - 1)) % sim->n;
    uint64_t r = below(&sim->rng, 1000);
    if (r < 200) {
        sim_incr(sim, i);
    } else if (r < 300) {
        sim_sync_begin(sim, i);
    } else if (r < 400) {
        sim_sync_end(sim, i);
    } else if (r < 550) {
        sim_gossip(sim, i, j);
    } else if (r < 650) {
        sim_ack(sim, i, j);
    } else if (r < 980) {
        sim_deliver(sim);
    } else if (r < 995) {
        if (sim->anti_entropy) {
            crdt_peer_resync(&sim->nodes[i].peers[j]);
            sim->stats.resyncs++;
        }
    } else {
        sim_crash(sim, i);
        sim->stats.crashes++;
    }
}

/* Reliable rounds until nothing is left to send; returns the rounds taken. */
static int sim_settle(struct sim *sim)
{
    for (size_t i = 0; i < sim->n; i++) {
        while (sim->nodes[i].n_syncs > 0) {
            sim_sync_end(sim, i);
        }
        sim_sync_begin(sim, i);
        sim_sync_end(sim, i);
    }
    for (int round = 1; round <= 10; round++) {
        size_t sent = 0;
        for (size_t i = 0; i < sim->n; i++) {
            for (size_t j = 0; j < sim->n; j++) {
                if (i != j) {
                    struct sim_node *a = &sim->nodes[i], *b = &sim->nodes[j];
                    sent += exchange(a->set, &a->peers[j], b->set, &b->peers[i],
                                     1 + below(&sim->rng, 4));
                }
            }
        }
        if (sent == 0) {
            return round;
        }
    }
    return 0;
}

static void sim_free(struct sim *sim)
{
    for (size_t i = 0; i < sim->n; i++) {
        struct sim_node *n = &sim->nodes[i];
        for (size_t s = 0; s < n->n_syncs; s++) {
            crdt_sync_clear(&n->syncs[s]);
        }
        for (size_t k = 0; k < SIM_NAMES; k++) {
            free(n->disk[k]);
        }
        free(n->pend);
        crdt_set_free(n->set);
    }
    for (size_t m = 0; m < sim->n_net; m++) {
        free(sim->net[m].data);
    }
    free(sim->net);
}

static struct sim_stats sim_run(uint64_t seed, int steps)
{
    /* 2 to 4 replicas, half of the runs without anti-entropy. */
    struct sim sim = {.seed = seed, .rng = seed, .n = 2 + seed % 3,
                      .anti_entropy = seed / 3 % 2 == 0};
    for (size_t i = 0; i < sim.n; i++) {
        sim_boot(&sim, i);
    }
    for (int step = 0; step < steps; step++) {
        sim_step(&sim);
        if (step % 16 == 0) {
            sim_check_slots(&sim);
            for (size_t i = 0; i < sim.n; i++) {
                for (size_t j = 0; j < sim.n; j++) {
                    if (i != j) {
                        sim_check_acks(&sim, i, j);
                    }
                }
            }
        }
    }
    int rounds = sim_settle(&sim);
    CHECK(seed, rounds > 0);
    sim_check_slots(&sim);
    for (size_t k = 0; k < SIM_NAMES; k++) {
        uint64_t total = 0;
        for (size_t j = 0; j < sim.n; j++) {
            total += sim.nodes[j].made[k];
        }
        sim.stats.made += total;
        for (size_t i = 0; i < sim.n; i++) {
            CHECK(seed, value_of(sim.nodes[i].set, sim_name(k)) == total);
            sim_report(&sim, i);
        }
    }
    for (size_t i = 1; i < sim.n; i++) {
        CHECK(seed, same_state(sim.nodes[0].set, sim.nodes[i].set));
    }
    sim_free(&sim);
    return sim.stats;
}

START_TEST(gossip_converges)
{
    struct sim_stats all = {0};
    for (uint64_t i = 0; i < 150; i++) {
        struct sim_stats st = sim_run(base_seed() + i, 3000);
        all.delivered += st.delivered;
        all.dropped += st.dropped;
        all.duplicated += st.duplicated;
        all.crashes += st.crashes;
        all.resyncs += st.resyncs;
        all.made += st.made;
        CHECK(base_seed() + i, st.made > 0 && st.delivered > 0);
    }
    /* Every fault actually happened, many times. */
    ck_assert_uint_gt(all.dropped, 1000);
    ck_assert_uint_gt(all.duplicated, 1000);
    ck_assert_uint_gt(all.crashes, 100);
    ck_assert_uint_gt(all.resyncs, 100);
}
END_TEST

/* ---- Suite ----------------------------------------------------------------------------- */

static TCase *tcase(const char *name)
{
    TCase *tc = tcase_create(name);
    tcase_set_timeout(tc, 300);
    return tc;
}

static Suite *crdt_suite(void)
{
    Suite *s = suite_create("crdt");
    TCase *algebra = tcase("merge_algebra");
    tcase_add_test(algebra, merge_commutative);
    tcase_add_test(algebra, merge_associative);
    tcase_add_test(algebra, merge_idempotent);
    tcase_add_test(algebra, merge_upper_bound_and_monotone);
    tcase_add_test(algebra, delta_equals_full_merge);
    suite_add_tcase(s, algebra);

    TCase *counters = tcase("counters");
    tcase_add_test(counters, incr_and_value);
    tcase_add_test(counters, overflow_is_an_error);
    tcase_add_test(counters, bad_names_and_nodes);
    suite_add_tcase(s, counters);

    TCase *durability = tcase("durability");
    tcase_add_test(durability, deltas_carry_only_durable_slots);
    tcase_add_test(durability, restart_from_records);
    tcase_add_test(durability, compaction_keeps_what_is_needed);
    suite_add_tcase(s, durability);

    TCase *gossip = tcase("gossip");
    tcase_add_test(gossip, delta_budget_and_continuation);
    tcase_add_test(gossip, at_rest_gossip_is_empty);
    tcase_add_test(gossip, peer_have_waits_for_durability_and_gaps);
    tcase_add_test(gossip, peer_restarts);
    tcase_add_test(gossip, gossip_converges);
    suite_add_tcase(s, gossip);

    TCase *codec = tcase("encodings");
    tcase_add_test(codec, encoding_golden_bytes);
    tcase_add_test(codec, malformed_deltas);
    tcase_add_test(codec, malformed_records);
    tcase_add_test(codec, decode_fuzz);
    suite_add_tcase(s, codec);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(crdt_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
