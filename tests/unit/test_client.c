/* Unit tests of libbaton's pure pieces: endpoints, backoff with jitter, the request table, listings. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "client/internal.h"

/* ---- Endpoints ---- */

START_TEST(test_endpoints_ok)
{
    struct client_endpoints e;
    ck_assert_int_eq(client_endpoints_parse("127.0.0.1:7101", &e), 0);
    ck_assert_uint_eq(e.n, 1);
    ck_assert_str_eq(e.v[0], "127.0.0.1:7101");
    ck_assert_int_eq(client_endpoints_parse(" 127.0.0.1:1 ,[::1]:2,localhost:3", &e), 0);
    ck_assert_uint_eq(e.n, 3);
    ck_assert_str_eq(e.v[0], "127.0.0.1:1");
    ck_assert_str_eq(e.v[1], "[::1]:2");
    ck_assert_str_eq(e.v[2], "localhost:3");
}
END_TEST

START_TEST(test_endpoints_bad)
{
    struct client_endpoints e;
    const char *bad[] = {"", ",", "127.0.0.1:1,", ",127.0.0.1:1", "127.0.0.1", "host:1",
                         "127.0.0.1:x", "127.0.0.1:1,,127.0.0.1:2", "   "};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(client_endpoints_parse(bad[i], &e) == BATON_EINVAL, "'%s'", bad[i]);
        ck_assert_uint_eq(e.n, 0);
    }
    ck_assert_int_eq(client_endpoints_parse(NULL, &e), BATON_EINVAL);
}
END_TEST

START_TEST(test_endpoints_limits)
{
    struct client_endpoints e;
    size_t item = strlen("127.0.0.1:7101,");
    char *list = malloc(item * (CLIENT_ENDPOINTS_MAX + 1) + 1);
    list[0] = '\0';
    for (int i = 0; i < CLIENT_ENDPOINTS_MAX; i++) {
        strcat(list, i ? ",127.0.0.1:7101" : "127.0.0.1:7101");
    }
    ck_assert_int_eq(client_endpoints_parse(list, &e), 0);
    ck_assert_uint_eq(e.n, CLIENT_ENDPOINTS_MAX);
    strcat(list, ",127.0.0.1:7101");
    ck_assert_int_eq(client_endpoints_parse(list, &e), BATON_EINVAL);
    free(list);
    char longest[BATON_ADDR_MAX + 8];
    memset(longest, '1', sizeof(longest));
    longest[sizeof(longest) - 1] = '\0';
    ck_assert_int_eq(client_endpoints_parse(longest, &e), BATON_EINVAL);
}
END_TEST

/* ---- Backoff ---- */

START_TEST(test_backoff_bounds)
{
    uint64_t rnd = 42;
    for (unsigned attempt = 0; attempt < 80; attempt++) {
        uint64_t d = 20;
        for (unsigned i = 1; i < attempt && d < 1000; i++) {
            d *= 2;
        }
        d = d > 1000 ? 1000 : d;
        for (int k = 0; k < 200; k++) {
            uint64_t v = client_backoff_delay(attempt, 20, 1000, client_rand_next(&rnd));
            ck_assert_msg(v >= d - d / 2 && v <= d, "attempt %u: %llu not in [%llu, %llu]",
                          attempt, (unsigned long long)v, (unsigned long long)(d - d / 2),
                          (unsigned long long)d);
        }
    }
}
END_TEST

START_TEST(test_backoff_grows_and_caps)
{
    /* With the random part at its extremes the wait is exactly d/2.. and d. */
    ck_assert_uint_eq(client_backoff_delay(1, 20, 1000, 0), 10);
    ck_assert_uint_eq(client_backoff_delay(2, 20, 1000, 0), 20);
    ck_assert_uint_eq(client_backoff_delay(3, 20, 1000, 0), 40);
    ck_assert_uint_eq(client_backoff_delay(3, 20, 1000, 40), 80);
    ck_assert_uint_eq(client_backoff_delay(30, 20, 1000, 0), 500);
    ck_assert_uint_eq(client_backoff_delay(1000000, 20, 1000, 500), 1000);
    ck_assert_uint_eq(client_backoff_delay(UINT32_MAX, UINT64_MAX / 2, UINT64_MAX, 0) > 0, 1);
    ck_assert_uint_eq(client_backoff_delay(1, 0, 10, 7), 1);
    ck_assert_uint_eq(client_backoff_delay(1, 0, 0, 7), 0);
}
END_TEST

START_TEST(test_backoff_jitter_spreads)
{
    uint64_t rnd = 7, lo = UINT64_MAX, hi = 0;
    for (int k = 0; k < 1000; k++) {
        uint64_t v = client_backoff_delay(6, 20, 1000, client_rand_next(&rnd));
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    /* d = 640: values should cover most of [320, 640]. */
    ck_assert_uint_lt(lo, 340);
    ck_assert_uint_gt(hi, 620);
}
END_TEST

START_TEST(test_backoff_never_past_deadline)
{
    uint64_t at = 0;
    ck_assert_int_eq(client_backoff_at(100, 1000, 50, &at), 0);
    ck_assert_uint_eq(at, 150);
    ck_assert_int_eq(client_backoff_at(100, 1000, 900, &at), 0);
    ck_assert_uint_eq(at, 1000);
    ck_assert_int_eq(client_backoff_at(100, 1000, 5000, &at), 0);
    ck_assert_uint_eq(at, 1000);
    ck_assert_int_eq(client_backoff_at(100, 1000, UINT64_MAX, &at), 0);
    ck_assert_uint_eq(at, 1000);
    ck_assert_int_eq(client_backoff_at(1000, 1000, 0, &at), BATON_ETIMEDOUT);
    ck_assert_int_eq(client_backoff_at(2000, 1000, 0, &at), BATON_ETIMEDOUT);
    /* Any sequence of retries stays within the deadline. */
    uint64_t rnd = 1, now = 0, deadline = 5000;
    unsigned attempt = 0;
    while (client_backoff_at(now, deadline, client_backoff_delay(++attempt, 20, 1000,
                                                                 client_rand_next(&rnd)),
                             &at) == 0) {
        ck_assert_uint_le(at, deadline);
        ck_assert_uint_ge(at, now);
        now = at;
    }
    ck_assert_uint_eq(now, deadline);
}
END_TEST

/* ---- Request table ---- */

START_TEST(test_table_basic)
{
    struct util_idmap t;
    int a, b;
    util_idmap_init(&t);
    ck_assert_ptr_null(util_idmap_get(&t, 1));
    ck_assert_ptr_null(util_idmap_del(&t, 1));
    ck_assert_int_eq(util_idmap_put(&t, 1, &a), 0);
    ck_assert_int_eq(util_idmap_put(&t, 2, &b), 0);
    ck_assert_int_eq(util_idmap_put(&t, 1, &b), BATON_EINVAL);
    ck_assert_int_eq(util_idmap_put(&t, 0, &b), BATON_EINVAL);
    ck_assert_ptr_eq(util_idmap_get(&t, 1), &a);
    ck_assert_ptr_eq(util_idmap_get(&t, 2), &b);
    ck_assert_ptr_null(util_idmap_get(&t, 0));
    ck_assert_ptr_eq(util_idmap_del(&t, 1), &a);
    ck_assert_ptr_null(util_idmap_get(&t, 1));
    ck_assert_ptr_eq(util_idmap_get(&t, 2), &b);
    ck_assert_uint_eq(t.n, 1);
    util_idmap_close(&t);
}
END_TEST

/* Random puts and deletes against a plain array model: every lookup must agree,
 * which exercises growth and backward-shift deletion across wrapped probe runs. */
START_TEST(test_table_model)
{
    enum { IDS = 3000 };
    static bool present[IDS];
    memset(present, 0, sizeof(present));
    struct util_idmap t;
    util_idmap_init(&t);
    uint64_t rnd = 99;
    size_t n = 0, wrong = 0;
    /* Plain comparisons in the loop: Check's assertions are too slow for it. */
    for (int step = 0; step < 100000; step++) {
        uint64_t id = 1 + client_rand_next(&rnd) % (IDS - 1);
        void *ptr = (void *)(uintptr_t)(id * 8);
        if (present[id]) {
            wrong += util_idmap_del(&t, id) != ptr;
            present[id] = false;
            n--;
        } else {
            wrong += util_idmap_put(&t, id, ptr) != 0;
            present[id] = true;
            n++;
        }
        wrong += t.n != n;
        if (step % 997 == 0) {
            for (uint64_t k = 1; k < IDS; k++) {
                wrong += util_idmap_get(&t, k) != (present[k] ? (void *)(uintptr_t)(k * 8) : NULL);
            }
        }
    }
    ck_assert_uint_eq(wrong, 0);
    util_idmap_close(&t);
}
END_TEST

/* ---- Listings ---- */

START_TEST(test_lease_list_copy)
{
    char a[] = "a", bc[] = "b c,d", w[] = "w";
    char *locks[] = {a, bc};
    char *waits[] = {w};
    struct baton_lease_entry src[3] = {
        {.id = 7, .ttl_ms = 5000, .remaining_ms = 4000, .n_locks = 2, .locks = locks},
        {.id = 9, .ttl_ms = 6000, .remaining_ms = 0},
        {.id = 11, .ttl_ms = 7000, .remaining_ms = 6999, .n_waits = 1, .waits = waits},
    };
    struct baton_lease_entry *out = (void *)1;
    ck_assert_int_eq(baton_lease_list_copy(src, 3, &out), 0);
    a[0] = 'X'; /* the copy owns its names */
    w[0] = 'Y';
    ck_assert_uint_eq(out[0].id, 7);
    ck_assert_uint_eq(out[0].ttl_ms, 5000);
    ck_assert_uint_eq(out[0].remaining_ms, 4000);
    ck_assert_uint_eq(out[0].n_locks, 2);
    ck_assert_str_eq(out[0].locks[0], "a");
    ck_assert_str_eq(out[0].locks[1], "b c,d");
    ck_assert_uint_eq(out[0].n_waits, 0);
    ck_assert_uint_eq(out[1].id, 9);
    ck_assert_uint_eq(out[1].n_locks + out[1].n_waits, 0);
    ck_assert_uint_eq(out[2].n_waits, 1);
    ck_assert_str_eq(out[2].waits[0], "w");
    /* One block: copying the copy works the same, and one free frees all. */
    struct baton_lease_entry *again;
    ck_assert_int_eq(baton_lease_list_copy(out, 3, &again), 0);
    ck_assert_str_eq(again[0].locks[1], "b c,d");
    baton_lease_list_free(out);
    baton_lease_list_free(again);

    ck_assert_int_eq(baton_lease_list_copy(NULL, 0, &out), 0);
    ck_assert_ptr_null(out);
    ck_assert_int_eq(baton_lease_list_copy(NULL, 1, &out), BATON_EINVAL);
    ck_assert_int_eq(baton_lease_list_copy(src, 1, NULL), BATON_EINVAL);
    baton_lease_list_free(NULL);
    baton_cluster_members_free(NULL);
}
END_TEST

START_TEST(test_decode_leases)
{
    char *locks[] = {"L1", "L2"};
    Baton__LeaseInfo e[2], *ep[2] = {&e[0], &e[1]};
    baton__lease_info__init(&e[0]);
    baton__lease_info__init(&e[1]);
    e[0].lease = 3;
    e[0].ttl_ms = 5000;
    e[0].remaining_ms = 1234;
    e[0].n_locks = 2;
    e[0].locks = locks;
    e[1].lease = 6;
    e[1].ttl_ms = 8000;
    e[1].n_waits = 1;
    e[1].waits = locks;
    Baton__LeaseListResponse pb = BATON__LEASE_LIST_RESPONSE__INIT;
    struct baton_result res;
    memset(&res, 0, sizeof(res));
    ck_assert_int_eq(client_decode_leases(&pb, &res), 0); /* none */
    ck_assert_ptr_null(res.leases);
    ck_assert_uint_eq(res.n_leases, 0);
    pb.n_leases = 2;
    pb.leases = ep;
    ck_assert_int_eq(client_decode_leases(&pb, &res), 0);
    ck_assert_uint_eq(res.n_leases, 2);
    ck_assert_uint_eq(res.leases[0].id, 3);
    ck_assert_uint_eq(res.leases[0].remaining_ms, 1234);
    ck_assert_str_eq(res.leases[0].locks[1], "L2");
    ck_assert_uint_eq(res.leases[1].n_locks, 0);
    ck_assert_str_eq(res.leases[1].waits[0], "L1");
    client_result_clear(&res);
    ck_assert_ptr_null(res.leases);
    e[1].lease = 0;
    ck_assert_int_eq(client_decode_leases(&pb, &res), BATON_EMALFORMED);
    ck_assert_ptr_null(res.leases);
}
END_TEST

START_TEST(test_decode_members)
{
    Baton__Member m[2], *mp[2] = {&m[0], &m[1]};
    for (int i = 0; i < 2; i++) {
        baton__member__init(&m[i]);
        m[i].id = (uint64_t)i + 1;
        m[i].role = i == 0 ? BATON_MEMBER_VOTER : BATON_MEMBER_LEARNER;
        m[i].peer_addr = "127.0.0.1:7201";
        m[i].client_addr = i == 0 ? "127.0.0.1:7101" : "";
    }
    Baton__ClusterMembersResponse pb = BATON__CLUSTER_MEMBERS_RESPONSE__INIT;
    struct baton_result res;
    memset(&res, 0, sizeof(res));
    ck_assert_int_eq(client_decode_members(&pb, &res), BATON_EMALFORMED); /* empty */
    pb.n_members = 2;
    pb.members = mp;
    ck_assert_int_eq(client_decode_members(&pb, &res), 0);
    ck_assert_uint_eq(res.n_members, 2);
    ck_assert_uint_eq(res.members[0].id, 1);
    ck_assert_int_eq(res.members[0].role, BATON_MEMBER_VOTER);
    ck_assert_str_eq(res.members[0].client_addr, "127.0.0.1:7101");
    ck_assert_int_eq(res.members[1].role, BATON_MEMBER_LEARNER);
    ck_assert_str_eq(res.members[1].peer_addr, "127.0.0.1:7201");
    ck_assert_str_eq(res.members[1].client_addr, "");
    client_result_clear(&res);

    m[1].role = 3;
    ck_assert_int_eq(client_decode_members(&pb, &res), BATON_EMALFORMED);
    m[1].role = BATON_MEMBER_LEARNER;
    m[1].id = 0;
    ck_assert_int_eq(client_decode_members(&pb, &res), BATON_EMALFORMED);
    m[1].id = 2;
    char long_addr[BATON_ADDR_MAX + 1];
    memset(long_addr, 'x', BATON_ADDR_MAX);
    long_addr[BATON_ADDR_MAX] = '\0';
    m[1].peer_addr = long_addr;
    ck_assert_int_eq(client_decode_members(&pb, &res), BATON_EMALFORMED);
    ck_assert_ptr_null(res.members);
}
END_TEST

START_TEST(test_decode_change)
{
    Baton__Member m, *mp[1] = {&m};
    baton__member__init(&m);
    m.id = 4;
    m.role = BATON_MEMBER_LEARNER;
    m.peer_addr = "127.0.0.1:7204";
    m.client_addr = "127.0.0.1:7104";
    Baton__MemberChangeResponse pb = BATON__MEMBER_CHANGE_RESPONSE__INIT;
    pb.index = 12;
    pb.cluster_id = 0x153e828d0027701dULL;
    pb.n_members = 1;
    pb.members = mp;
    struct baton_result res;
    memset(&res, 0, sizeof(res));
    ck_assert_int_eq(client_decode_change(&pb, &res), 0);
    ck_assert_uint_eq(res.change.index, 12);
    ck_assert_uint_eq(res.change.cluster_id, 0x153e828d0027701dULL);
    ck_assert_uint_eq(res.n_members, 1);
    ck_assert_int_eq(res.members[0].role, BATON_MEMBER_LEARNER);
    ck_assert_str_eq(res.members[0].client_addr, "127.0.0.1:7104");
    client_result_clear(&res);

    /* Nothing committed at index 0, no cluster has id 0, no configuration is empty. */
    pb.index = 0;
    ck_assert_int_eq(client_decode_change(&pb, &res), BATON_EMALFORMED);
    pb.index = 12;
    pb.cluster_id = 0;
    ck_assert_int_eq(client_decode_change(&pb, &res), BATON_EMALFORMED);
    pb.cluster_id = 1;
    pb.n_members = 0;
    ck_assert_int_eq(client_decode_change(&pb, &res), BATON_EMALFORMED);
    ck_assert_ptr_null(res.members);
}
END_TEST

static Suite *client_suite(void)
{
    Suite *s = suite_create("client");
    TCase *ep = tcase_create("endpoints");
    tcase_add_test(ep, test_endpoints_ok);
    tcase_add_test(ep, test_endpoints_bad);
    tcase_add_test(ep, test_endpoints_limits);
    suite_add_tcase(s, ep);
    TCase *bo = tcase_create("backoff");
    tcase_add_test(bo, test_backoff_bounds);
    tcase_add_test(bo, test_backoff_grows_and_caps);
    tcase_add_test(bo, test_backoff_jitter_spreads);
    tcase_add_test(bo, test_backoff_never_past_deadline);
    suite_add_tcase(s, bo);
    TCase *tb = tcase_create("table");
    tcase_add_test(tb, test_table_basic);
    tcase_add_test(tb, test_table_model);
    suite_add_tcase(s, tb);
    TCase *li = tcase_create("listings");
    tcase_add_test(li, test_lease_list_copy);
    tcase_add_test(li, test_decode_leases);
    tcase_add_test(li, test_decode_members);
    tcase_add_test(li, test_decode_change);
    suite_add_tcase(s, li);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(client_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
