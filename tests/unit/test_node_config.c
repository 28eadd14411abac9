/* Unit tests for batond's configuration: flags, config files, cluster id. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "baton/error.h"
#include "node/config.h"

static const char *IC = "1=127.0.0.1:7201/127.0.0.1:7101,2=127.0.0.1:7202/127.0.0.1:7102,"
                        "3=127.0.0.1:7203/127.0.0.1:7103";

static void base(struct node_config *c)
{
    char why[256];
    node_config_default(c);
    ck_assert_int_eq(node_config_set(c, "id", "2", why, sizeof(why)), 0);
    ck_assert_int_eq(node_config_set(c, "data-dir", "/tmp/x", why, sizeof(why)), 0);
    ck_assert_int_eq(node_config_set(c, "initial-cluster", IC, why, sizeof(why)), 0);
}

START_TEST(test_listen_addresses_follow_initial_cluster)
{
    struct node_config c;
    char why[256];
    base(&c);
    ck_assert_int_eq(node_config_finish(&c, why, sizeof(why)), 0);
    ck_assert_uint_eq(c.n_members, 3);
    ck_assert_str_eq(c.listen_peer, "127.0.0.1:7202");
    ck_assert_str_eq(c.listen_client, "127.0.0.1:7102");
}
END_TEST

START_TEST(test_bad_values_are_rejected)
{
    struct node_config c;
    char why[256];
    node_config_default(&c);
    ck_assert_int_eq(node_config_set(&c, "id", "0", why, sizeof(why)), BATON_EINVAL);
    ck_assert_int_eq(node_config_set(&c, "id", "-3", why, sizeof(why)), BATON_EINVAL);
    ck_assert_int_eq(node_config_set(&c, "heartbeat-ms", "fast", why, sizeof(why)),
                     BATON_EINVAL);
    ck_assert_ptr_nonnull(strstr(why, "heartbeat-ms"));
    ck_assert_int_eq(node_config_set(&c, "no-such-flag", "1", why, sizeof(why)), BATON_EINVAL);
    ck_assert_ptr_nonnull(strstr(why, "unknown option"));
    ck_assert_int_eq(node_config_set(&c, "initial-cluster", "1=a", why, sizeof(why)),
                     BATON_EINVAL);
    ck_assert_int_eq(node_config_set(&c, "initial-cluster", "1=a/b,1=c/d", why, sizeof(why)),
                     BATON_EINVAL);
    ck_assert_int_eq(node_config_set(&c, "log-level", "loud", why, sizeof(why)), BATON_EINVAL);
}
END_TEST

START_TEST(test_finish_checks_the_whole)
{
    struct node_config c;
    char why[256];
    node_config_default(&c);
    ck_assert_int_eq(node_config_finish(&c, why, sizeof(why)), BATON_EINVAL);
    base(&c);
    ck_assert_int_eq(node_config_set(&c, "id", "9", why, sizeof(why)), 0);
    ck_assert_int_eq(node_config_finish(&c, why, sizeof(why)), BATON_EINVAL);
    ck_assert_ptr_nonnull(strstr(why, "not in --initial-cluster"));
    base(&c);
    ck_assert_int_eq(node_config_set(&c, "election-ms", "150", why, sizeof(why)), 0);
    ck_assert_int_eq(node_config_finish(&c, why, sizeof(why)), BATON_EINVAL);
}
END_TEST

START_TEST(test_cluster_id_ignores_member_order)
{
    struct node_config a, b;
    char why[256];
    base(&a);
    base(&b);
    ck_assert_int_eq(node_config_set(&b, "initial-cluster",
                                     "3=127.0.0.1:7203/127.0.0.1:7103,1=127.0.0.1:7201/"
                                     "127.0.0.1:7101,2=127.0.0.1:7202/127.0.0.1:7102",
                                     why, sizeof(why)),
                     0);
    ck_assert_int_eq(node_config_finish(&a, why, sizeof(why)), 0);
    ck_assert_int_eq(node_config_finish(&b, why, sizeof(why)), 0);
    ck_assert_uint_eq(node_config_cluster_id(&a), node_config_cluster_id(&b));
    ck_assert_int_eq(node_config_set(&b, "initial-cluster",
                                     "1=10.0.0.1:1/10.0.0.1:2,2=10.0.0.2:1/10.0.0.2:2,"
                                     "3=10.0.0.3:1/10.0.0.3:2",
                                     why, sizeof(why)),
                     0);
    ck_assert_int_eq(node_config_finish(&b, why, sizeof(why)), 0);
    ck_assert_uint_eq(node_config_cluster_id(&a), node_config_cluster_id(&b));
    ck_assert_int_eq(node_config_set(&b, "initial-cluster", "1=a:1/a:2,2=b:1/b:2", why,
                                     sizeof(why)),
                     0);
    ck_assert_int_eq(node_config_finish(&b, why, sizeof(why)), 0);
    ck_assert_uint_ne(node_config_cluster_id(&a), node_config_cluster_id(&b));
    ck_assert_int_eq(node_config_set(&b, "initial-cluster", IC, why, sizeof(why)), 0);
    ck_assert_int_eq(node_config_set(&b, "cluster-token", "other", why, sizeof(why)), 0);
    ck_assert_int_eq(node_config_finish(&b, why, sizeof(why)), 0);
    ck_assert_uint_ne(node_config_cluster_id(&a), node_config_cluster_id(&b));
}
END_TEST

START_TEST(test_config_file)
{
    char path[] = "/tmp/baton-config-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "# a comment\nid = 3\n  data-dir = /var/lib/baton  \n\nheartbeat-ms = 50 # fast\n"
               "initial-cluster = %s\n",
            IC);
    fclose(f);
    struct node_config c;
    char why[256];
    node_config_default(&c);
    ck_assert_int_eq(node_config_load_file(&c, path, why, sizeof(why)), 0);
    ck_assert_uint_eq(c.id, 3);
    ck_assert_str_eq(c.data_dir, "/var/lib/baton");
    ck_assert_uint_eq(c.heartbeat_ms, 50);
    f = fopen(path, "w");
    fprintf(f, "id = 3\nthis line is wrong\n");
    fclose(f);
    ck_assert_int_eq(node_config_load_file(&c, path, why, sizeof(why)), BATON_EINVAL);
    ck_assert_ptr_nonnull(strstr(why, ":2:"));
    unlink(path);
    ck_assert_int_eq(node_config_load_file(&c, path, why, sizeof(why)), BATON_EIO);
}
END_TEST

START_TEST(test_member_addr_split)
{
    char out[64];
    node_addr_client("10.0.0.1:7200/10.0.0.1:7100", out, sizeof(out));
    ck_assert_str_eq(out, "10.0.0.1:7100");
    node_addr_peer("10.0.0.1:7200/10.0.0.1:7100", out, sizeof(out));
    ck_assert_str_eq(out, "10.0.0.1:7200");
    node_addr_client("10.0.0.1:7200", out, sizeof(out));
    ck_assert_str_eq(out, "");
}
END_TEST

/* A joining node names the cluster it joins; the id it would derive from its own
 * --initial-cluster (which lists it) names another. */
START_TEST(test_join_and_cluster_id)
{
    struct node_config c;
    char why[256];
    uint64_t id;
    base(&c);
    ck_assert(!c.join);
    ck_assert_int_eq(node_config_set(&c, "join", "true", why, sizeof(why)), 0);
    ck_assert(c.join);
    ck_assert_int_eq(node_config_finish(&c, why, sizeof(why)), BATON_EINVAL);
    ck_assert_ptr_nonnull(strstr(why, "--join needs --cluster-id"));
    ck_assert_int_eq(node_config_set(&c, "cluster-id", "0123456789abcdef", why, sizeof(why)), 0);
    ck_assert_int_eq(node_config_finish(&c, why, sizeof(why)), 0);
    ck_assert_uint_eq(node_config_cluster_id(&c), 0x0123456789abcdefULL);
    ck_assert_uint_ne(node_config_initial_cluster_id(&c), 0x0123456789abcdefULL);

    base(&c);
    ck_assert_int_eq(node_config_set(&c, "initial-cluster-state", "existing", why, sizeof(why)),
                     0);
    ck_assert(c.join);
    ck_assert_int_eq(node_config_set(&c, "initial-cluster-state", "new", why, sizeof(why)), 0);
    ck_assert(!c.join);
    ck_assert_int_eq(node_config_set(&c, "initial-cluster-state", "old", why, sizeof(why)),
                     BATON_EINVAL);
    ck_assert_int_eq(node_config_set(&c, "join", "yes", why, sizeof(why)), BATON_EINVAL);
    ck_assert_int_eq(node_config_finish(&c, why, sizeof(why)), 0);
    ck_assert_uint_eq(node_config_cluster_id(&c), node_config_initial_cluster_id(&c));

    ck_assert_int_eq(node_cluster_id_parse("0x1F", &id), 0);
    ck_assert_uint_eq(id, 0x1f);
    ck_assert_int_eq(node_cluster_id_parse("ffffffffffffffff", &id), 0);
    ck_assert_uint_eq(id, UINT64_MAX);
    ck_assert_int_eq(node_cluster_id_parse("0", &id), BATON_EINVAL);
    ck_assert_int_eq(node_cluster_id_parse("", &id), BATON_EINVAL);
    ck_assert_int_eq(node_cluster_id_parse("0x", &id), BATON_EINVAL);
    ck_assert_int_eq(node_cluster_id_parse("12345678901234567", &id), BATON_EINVAL);
    ck_assert_int_eq(node_cluster_id_parse("12g4", &id), BATON_EINVAL);
    ck_assert_int_eq(node_cluster_id_parse("-1", &id), BATON_EINVAL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("node_config");
    TCase *tc = tcase_create("config");
    tcase_add_test(tc, test_listen_addresses_follow_initial_cluster);
    tcase_add_test(tc, test_bad_values_are_rejected);
    tcase_add_test(tc, test_finish_checks_the_whole);
    tcase_add_test(tc, test_cluster_id_ignores_member_order);
    tcase_add_test(tc, test_config_file);
    tcase_add_test(tc, test_member_addr_split);
    tcase_add_test(tc, test_join_and_cluster_id);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
