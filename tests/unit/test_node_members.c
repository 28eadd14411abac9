/* Unit tests for the node's membership helpers: which peers to link to, and which changes to accept. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baton/error.h"
#include "node/config.h"
#include "node/members.h"

static const char *IC = "1=127.0.0.1:7201/127.0.0.1:7101,2=127.0.0.1:7202/127.0.0.1:7102,"
                        "3=127.0.0.1:7203/127.0.0.1:7103";

static void config(struct node_config *c, const char *id, const char *initial)
{
    char why[256];
    node_config_default(c);
    ck_assert_int_eq(node_config_set(c, "id", id, why, sizeof(why)), 0);
    ck_assert_int_eq(node_config_set(c, "data-dir", "/tmp/x", why, sizeof(why)), 0);
    ck_assert_int_eq(node_config_set(c, "initial-cluster", initial, why, sizeof(why)), 0);
    ck_assert_int_eq(node_config_finish(c, why, sizeof(why)), 0);
}

/* A configuration of servers 1..n (voters) at 10.0.0.K:7200/10.0.0.K:7100. */
static void conf_of(struct raft_conf *c, int n)
{
    memset(c, 0, sizeof(*c));
    for (int k = 1; k <= n; k++) {
        char addr[RAFT_ADDR_MAX];
        snprintf(addr, sizeof(addr), "10.0.0.%d:7200/10.0.0.%d:7100", k, k);
        ck_assert_int_eq(raft_conf_add(c, (uint64_t)k, RAFT_VOTER, addr), 0);
    }
}

static const char *link_addr(const struct node_links *l, uint64_t id)
{
    for (size_t i = 0; i < l->n; i++) {
        if (l->v[i].id == id) {
            return l->v[i].addr;
        }
    }
    return NULL;
}

/* Before any configuration (a joiner): the other members of --initial-cluster. */
START_TEST(test_plan_without_configuration)
{
    struct node_config cfg;
    struct raft_conf none;
    struct node_links l;
    memset(&none, 0, sizeof(none));
    config(&cfg, "2", IC);
    ck_assert_int_eq(node_links_plan(&cfg, &none, &none, &l), 0);
    ck_assert_uint_eq(l.n, 2);
    ck_assert_str_eq(link_addr(&l, 1), "127.0.0.1:7201");
    ck_assert_str_eq(link_addr(&l, 3), "127.0.0.1:7203");
    ck_assert_ptr_null(link_addr(&l, 2));
}
END_TEST

/* With one: its servers, at the --initial-cluster address when listed there (a proxy
 * may stand in between), else at the peer half of the configuration's address. */
START_TEST(test_plan_follows_configuration)
{
    struct node_config cfg;
    struct raft_conf latest, applied;
    struct node_links l;
    config(&cfg, "2", IC);
    conf_of(&latest, 4);
    memset(&applied, 0, sizeof(applied));
    ck_assert_int_eq(node_links_plan(&cfg, &latest, &applied, &l), 0);
    ck_assert_uint_eq(l.n, 3);
    ck_assert_str_eq(link_addr(&l, 1), "127.0.0.1:7201");
    ck_assert_str_eq(link_addr(&l, 3), "127.0.0.1:7203");
    ck_assert_str_eq(link_addr(&l, 4), "10.0.0.4:7200");
    ck_assert_ptr_null(link_addr(&l, 2));

    /* A member of --initial-cluster that the configuration no longer lists: gone. */
    ck_assert_int_eq(raft_conf_remove(&latest, 3), 0);
    ck_assert_int_eq(node_links_plan(&cfg, &latest, &applied, &l), 0);
    ck_assert_uint_eq(l.n, 2);
    ck_assert_ptr_null(link_addr(&l, 3));
}
END_TEST

/* A removal appended but not applied yet keeps its link: the leader tells the
 * removed member once the removal is applied. */
START_TEST(test_plan_keeps_removed_until_applied)
{
    struct node_config cfg;
    struct raft_conf latest, applied;
    struct node_links l;
    config(&cfg, "1", IC);
    conf_of(&applied, 3);
    latest = applied;
    ck_assert_int_eq(raft_conf_remove(&latest, 3), 0);
    ck_assert_int_eq(node_links_plan(&cfg, &latest, &applied, &l), 0);
    ck_assert_uint_eq(l.n, 2);
    ck_assert_str_eq(link_addr(&l, 3), "127.0.0.1:7203");
    applied = latest;
    ck_assert_int_eq(node_links_plan(&cfg, &latest, &applied, &l), 0);
    ck_assert_uint_eq(l.n, 1);
    ck_assert_ptr_null(link_addr(&l, 3));
}
END_TEST

START_TEST(test_plan_caps_at_table_size)
{
    struct node_config cfg;
    struct raft_conf latest, applied;
    struct node_links l;
    config(&cfg, "20", "20=127.0.0.1:1/127.0.0.1:2");
    conf_of(&latest, RAFT_MAX_SERVERS);
    conf_of(&applied, RAFT_MAX_SERVERS - 1);
    ck_assert_int_eq(node_links_plan(&cfg, &latest, &applied, &l), 0);
    ck_assert_uint_eq(l.n, NET_PEERS_MAX);
    /* One more server than links: the first ones are kept, and it says so. */
    ck_assert_int_eq(raft_conf_remove(&applied, 1), 0);
    ck_assert_int_eq(raft_conf_add(&applied, 17, RAFT_VOTER, "10.0.0.17:1/10.0.0.17:2"), 0);
    ck_assert_int_eq(node_links_plan(&cfg, &latest, &applied, &l), BATON_ECONFIG);
    ck_assert_uint_eq(l.n, NET_PEERS_MAX);
    ck_assert_ptr_null(link_addr(&l, 17));
}
END_TEST

START_TEST(test_add_check)
{
    struct raft_conf c;
    char why[256];
    conf_of(&c, 3);
    ck_assert_int_eq(node_member_add_check(&c, 4, "10.0.0.4:7200", "10.0.0.4:7100", why,
                                           sizeof(why)), 0);
    ck_assert_int_eq(node_member_add_check(&c, 4, "[::1]:7200", "localhost:7100", why,
                                           sizeof(why)), 0);
    ck_assert_int_eq(node_member_add_check(&c, 0, "10.0.0.4:7200", "10.0.0.4:7100", why,
                                           sizeof(why)), BATON_EINVAL);
    ck_assert_int_eq(node_member_add_check(&c, 4, "host:7200", "10.0.0.4:7100", why,
                                           sizeof(why)), BATON_EINVAL);
    ck_assert_ptr_nonnull(strstr(why, "invalid peer address 'host:7200'"));
    ck_assert_int_eq(node_member_add_check(&c, 4, "10.0.0.4:7200", "10.0.0.4", why,
                                           sizeof(why)), BATON_EINVAL);
    ck_assert_ptr_nonnull(strstr(why, "invalid client address"));
    char long_addr[NODE_ADDR_MAX + 8];
    memset(long_addr, '1', sizeof(long_addr) - 1);
    long_addr[sizeof(long_addr) - 1] = '\0';
    ck_assert_int_eq(node_member_add_check(&c, 4, long_addr, "10.0.0.4:7100", why, sizeof(why)),
                     BATON_EINVAL);
    ck_assert_int_eq(node_member_add_check(&c, 4, NULL, "10.0.0.4:7100", why, sizeof(why)),
                     BATON_EINVAL);
    ck_assert_int_eq(node_member_add_check(&c, 2, "10.0.0.9:7200", "10.0.0.9:7100", why,
                                           sizeof(why)), BATON_EEXIST);
    ck_assert_ptr_nonnull(strstr(why, "node 2 is a member already (voter"));
    ck_assert_int_eq(node_member_add_check(&c, 4, "10.0.0.2:7200", "10.0.0.4:7100", why,
                                           sizeof(why)), BATON_EEXIST);
    ck_assert_ptr_nonnull(strstr(why, "member 2 uses 10.0.0.2:7200"));
    ck_assert_int_eq(node_member_add_check(&c, 4, "10.0.0.4:7200", "10.0.0.3:7100", why,
                                           sizeof(why)), BATON_EEXIST);
    conf_of(&c, RAFT_MAX_SERVERS);
    ck_assert_int_eq(node_member_add_check(&c, 99, "10.0.1.1:7200", "10.0.1.1:7100", why,
                                           sizeof(why)), BATON_ECONFIG);
}
END_TEST

START_TEST(test_remove_check)
{
    struct raft_conf c;
    char why[256];
    conf_of(&c, 2);
    ck_assert_int_eq(node_member_remove_check(&c, 2, why, sizeof(why)), 0);
    ck_assert_int_eq(node_member_remove_check(&c, 0, why, sizeof(why)), BATON_EINVAL);
    ck_assert_int_eq(node_member_remove_check(&c, 5, why, sizeof(why)), BATON_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(why, "node 5 is not a member"));
    /* One voter and a learner: the learner may go, the voter may not. */
    ck_assert_int_eq(raft_conf_remove(&c, 2), 0);
    ck_assert_int_eq(raft_conf_add(&c, 3, RAFT_LEARNER, "10.0.0.3:7200/10.0.0.3:7100"), 0);
    ck_assert_int_eq(node_member_remove_check(&c, 3, why, sizeof(why)), 0);
    ck_assert_int_eq(node_member_remove_check(&c, 1, why, sizeof(why)), BATON_ECONFIG);
    ck_assert_ptr_nonnull(strstr(why, "last voter"));
}
END_TEST

START_TEST(test_conf_equal)
{
    struct raft_conf a, b;
    conf_of(&a, 3);
    conf_of(&b, 3);
    ck_assert(raft_conf_equal(&a, &b));
    b.servers[2].role = RAFT_LEARNER;
    ck_assert(!raft_conf_equal(&a, &b));
    conf_of(&b, 3);
    b.servers[1].promote = true;
    ck_assert(!raft_conf_equal(&a, &b));
    conf_of(&b, 3);
    strcpy(b.servers[0].addr, "10.9.9.9:1/10.9.9.9:2");
    ck_assert(!raft_conf_equal(&a, &b));
    conf_of(&b, 2);
    ck_assert(!raft_conf_equal(&a, &b));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("node_members");
    TCase *pl = tcase_create("links");
    tcase_add_test(pl, test_plan_without_configuration);
    tcase_add_test(pl, test_plan_follows_configuration);
    tcase_add_test(pl, test_plan_keeps_removed_until_applied);
    tcase_add_test(pl, test_plan_caps_at_table_size);
    suite_add_tcase(s, pl);
    TCase *ch = tcase_create("changes");
    tcase_add_test(ch, test_add_check);
    tcase_add_test(ch, test_remove_check);
    tcase_add_test(ch, test_conf_equal);
    suite_add_tcase(s, ch);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
