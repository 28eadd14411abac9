/* Unit tests of single-server membership changes (Raft dissertation §4). */
#include "raft_fixture.c"

#define E FX_ELECTION_MS
#define HB FX_HEARTBEAT_MS

static const struct raft_server *member(struct fx *f, uint64_t at, uint64_t id)
{
    return raft_conf_get(raft_conf(fx_raft(f, at)), id);
}

/* Lets the cluster run until nothing changes; fails if 2 s are not enough. */
static void run_until_idle(struct fx *f)
{
    fx_run(f, 20 * HB);
}

/* ADD_VOTER: the new server joins as a learner, receives the whole log, and is
 * made a voter automatically once it has caught up (dissertation §4.2.1). */
START_TEST(test_add_voter_promoted)
{
    struct fx f;
    fx_init(&f, 3, NULL);
    fx_elect(&f, 1);
    for (int i = 0; i < 5; i++)
        fx_propose(&f, 1, "before");
    fx_settle(&f);
    fx_add_joining(&f, 4, NULL);
    ck_assert_uint_eq(raft_last_index(fx_raft(&f, 4)), 0);
    fx_cut(&f, 1, 4);

    uint64_t idx = 0;
    ck_assert_int_eq(raft_change(fx_raft(&f, 1), RAFT_CHANGE_ADD_VOTER, 4, "n4", &idx), 0);
    fx_pump(&f, 1);
    ck_assert_uint_eq(idx, raft_last_index(fx_raft(&f, 1)));
    ck_assert_int_eq(raft_entry_at(fx_raft(&f, 1), idx)->type, RAFT_ENTRY_CONF);
    ck_assert_ptr_nonnull(member(&f, 1, 4));
    ck_assert_int_eq(member(&f, 1, 4)->role, RAFT_LEARNER);
    ck_assert(member(&f, 1, 4)->promote);
    ck_assert_str_eq(member(&f, 1, 4)->addr, "n4");
    ck_assert_uint_eq(raft_conf_voters(raft_conf(fx_raft(&f, 1))), 3);

    /* Not caught up (cut off): it commits without 4 and 4 stays a learner. */
    run_until_idle(&f);
    ck_assert_uint_ge(raft_commit(fx_raft(&f, 1)), idx);
    ck_assert_int_eq(member(&f, 1, 4)->role, RAFT_LEARNER);
    ck_assert_int_ne(raft_role(fx_raft(&f, 4)), RAFT_CANDIDATE);
    ck_assert_uint_eq(fx_node(&f, 4)->sent[RAFT_MSG_PREVOTE], 0);

    fx_heal(&f);
    run_until_idle(&f);
    ck_assert_int_eq(member(&f, 1, 4)->role, RAFT_VOTER);
    ck_assert_uint_eq(raft_conf_voters(raft_conf(fx_raft(&f, 1))), 4);
    uint64_t last = raft_last_index(fx_raft(&f, 1));
    ck_assert_uint_gt(last, idx);
    ck_assert_uint_eq(raft_commit(fx_raft(&f, 1)), last);
    for (uint64_t id = 2; id <= 4; id++) {
        ck_assert_int_eq(member(&f, id, 4)->role, RAFT_VOTER);
        ck_assert_uint_eq(raft_commit(fx_raft(&f, id)), last);
        fx_assert_same_applied(&f, 1, id);
    }
    /* Four voters: a quorum is three. */
    fx_cut(&f, 1, 2);
    fx_cut(&f, 1, 3);
    uint64_t x = fx_propose(&f, 1, "needs-three");
    fx_run(&f, 3 * HB);
    ck_assert_uint_lt(raft_commit(fx_raft(&f, 1)), x);
    fx_heal(&f);
    run_until_idle(&f);
    ck_assert_uint_eq(raft_commit(fx_raft(&f, 1)), x);
    fx_destroy(&f);
}
END_TEST

/* A learner receives the log but does not count toward the quorum. */
START_TEST(test_learner_not_in_quorum)
{
    struct fx f;
    fx_init(&f, 3, NULL);
    fx_elect(&f, 1);
    fx_add_joining(&f, 4, NULL);
    uint64_t idx;
    ck_assert_int_eq(raft_change(fx_raft(&f, 1), RAFT_CHANGE_ADD_LEARNER, 4, "n4", &idx), 0);
    fx_pump(&f, 1);
    run_until_idle(&f);
    ck_assert_int_eq(member(&f, 1, 4)->role, RAFT_LEARNER);
    ck_assert(!member(&f, 1, 4)->promote);
    ck_assert_uint_eq(fx_node(&f, 4)->applied, raft_commit(fx_raft(&f, 1)));

    fx_cut(&f, 1, 2);
    fx_cut(&f, 1, 3);
    uint64_t x = fx_propose(&f, 1, "x");
    fx_run(&f, 3 * HB);
    ck_assert_uint_eq(raft_last_index(fx_raft(&f, 4)), x);
    ck_assert_uint_lt(raft_commit(fx_raft(&f, 1)), x);
    ck_assert_int_eq(member(&f, 1, 4)->role, RAFT_LEARNER);
    fx_heal(&f);
    run_until_idle(&f);
    ck_assert_uint_eq(raft_commit(fx_raft(&f, 1)), x);
    ck_assert_uint_eq(fx_node(&f, 4)->applied, x);

    /* A learner never campaigns, and a transfer to it is refused. */
    ck_assert_int_eq(raft_transfer(fx_raft(&f, 1), 4), BATON_EINVAL);
    fx_isolate(&f, 4);
    fx_run(&f, 10 * E);
    ck_assert_uint_eq(fx_node(&f, 4)->sent[RAFT_MSG_PREVOTE], 0);
    ck_assert_uint_eq(fx_node(&f, 4)->sent[RAFT_MSG_VOTE], 0);
    fx_destroy(&f);
}
END_TEST

/* One change at a time, and only once the leader committed an entry of its term;
 * changes that change nothing are refused; followers refuse. */
START_TEST(test_one_change_at_a_time)
{
    struct fx f;
    fx_init(&f, 3, NULL);
    fx_tick(&f, 1, 2 * E);
    fx_settle_if(&f, fx_pred_election, NULL);
    ck_assert_int_eq(raft_role(fx_raft(&f, 1)), RAFT_LEADER);
    uint64_t idx;
    ck_assert_int_eq(raft_change(fx_raft(&f, 1), RAFT_CHANGE_ADD_LEARNER, 4, "n4", &idx),
                     BATON_EBUSY);
    fx_settle(&f);
    fx_add_joining(&f, 4, NULL);
    fx_add_joining(&f, 5, NULL);

    ck_assert_int_eq(raft_change(fx_raft(&f, 1), RAFT_CHANGE_ADD_LEARNER, 4, "n4", &idx), 0);
    fx_pump(&f, 1);
    ck_assert_int_eq(raft_change(fx_raft(&f, 1), RAFT_CHANGE_ADD_LEARNER, 5, "n5", &idx),
                     BATON_EBUSY);
    ck_assert_int_eq(raft_change(fx_raft(&f, 1), RAFT_CHANGE_REMOVE, 3, NULL, &idx),
                     BATON_EBUSY);
    ck_assert_ptr_null(member(&f, 1, 5));
    fx_settle(&f);
    ck_assert_int_eq(raft_change(fx_raft(&f, 1), RAFT_CHANGE_ADD_LEARNER, 5, "n5", &idx), 0);
    fx_pump(&f, 1);
    fx_settle(&f);
    ck_assert_ptr_nonnull(member(&f, 1, 5));

    ck_assert_int_eq(raft_change(fx_raft(&f, 1), RAFT_CHANGE_ADD_VOTER, 2, "n2", &idx),
                     BATON_EINVAL);
    ck_assert_int_eq(raft_change(fx_raft(&f, 1), RAFT_CHANGE_REMOVE, 9, NULL, &idx),
                     BATON_EINVAL);
    ck_assert_int_eq(raft_change(fx_raft(&f, 2), RAFT_CHANGE_REMOVE, 3, NULL, &idx),
                     BATON_ENOTLEADER);
    fx_destroy(&f);

    fx_init(&f, 1, NULL);
    fx_elect(&f, 1);
    ck_assert_int_eq(raft_change(fx_raft(&f, 1), RAFT_CHANGE_REMOVE, 1, NULL, &idx),
                     BATON_EINVAL);
    fx_destroy(&f);
}
END_TEST

/* Removing a follower shrinks the quorum to the remaining voters. */
START_TEST(test_remove_follower)
{
    struct fx f;
    fx_init(&f, 3, NULL);
    fx_elect(&f, 1);
    uint64_t idx;
    ck_assert_int_eq(raft_change(fx_raft(&f, 1), RAFT_CHANGE_REMOVE, 3, NULL, &idx), 0);
    fx_pump(&f, 1);
    ck_assert_ptr_null(member(&f, 1, 3));
    ck_assert_uint_eq(raft_conf_voters(raft_conf(fx_raft(&f, 1))), 2);
    run_until_idle(&f);
    ck_assert_uint_ge(raft_commit(fx_raft(&f, 1)), idx);
    ck_assert_ptr_null(member(&f, 1, 3));
    ck_assert_ptr_null(member(&f, 2, 3));
    ck_assert_uint_eq(raft_commit(fx_raft(&f, 2)), raft_commit(fx_raft(&f, 1)));
    ck_assert(!raft_progress(fx_raft(&f, 1), 3, &(uint64_t){0}, &(uint64_t){0}));

    /* Two voters: the leader needs 2 as well; 3's acknowledgements do not count. */
    fx_cut(&f, 1, 2);
    uint64_t x = fx_propose(&f, 1, "x");
    fx_tick(&f, 1, HB);
    fx_settle(&f);
    ck_assert_uint_lt(raft_commit(fx_raft(&f, 1)), x);
    fx_heal(&f);
    run_until_idle(&f);
    ck_assert_uint_eq(raft_commit(fx_raft(&f, 1)), x);

    /* 3 may never learn of its removal (the leader stops replicating to it); when
     * it times out it must not disrupt the cluster (dissertation §4.2.3). */
    uint64_t t = raft_term(fx_raft(&f, 1));
    fx_run(&f, 10 * E);
    ck_assert_int_eq(raft_role(fx_raft(&f, 1)), RAFT_LEADER);
    ck_assert_uint_eq(raft_term(fx_raft(&f, 1)), t);
    ck_assert_uint_eq(raft_term(fx_raft(&f, 2)), t);
    ck_assert_uint_eq(fx_node(&f, 3)->sent[RAFT_MSG_VOTE], 0);
    fx_destroy(&f);
}
END_TEST

/* A server whose configuration does not list it never starts an election. */
START_TEST(test_removed_never_campaigns)
{
    struct fx f;
    fx_init(&f, 3, NULL);
    struct raft_entry *log = fx_make_log(3, NULL, 0);
    fx_boot(&f, 4, NULL, (struct raft_hard_state){1, 0}, log, 1);
    fx_free_entries(log, 1);
    for (int i = 0; i < 20; i++) {
        fx_tick(&f, 4, E);
        ck_assert_int_eq(raft_role(fx_raft(&f, 4)), RAFT_FOLLOWER);
    }
    ck_assert_uint_eq(fx_node(&f, 4)->sent[RAFT_MSG_PREVOTE], 0);
    ck_assert_uint_eq(fx_node(&f, 4)->sent[RAFT_MSG_VOTE], 0);
    ck_assert_uint_eq(raft_term(fx_raft(&f, 4)), 1);
    fx_destroy(&f);
}
END_TEST

/* Removing the leader: it keeps leading until the change commits (without counting
 * itself), then steps down and never campaigns; the others elect a new leader
 * (dissertation §4.2.2). */
START_TEST(test_remove_leader)
{
    struct fx f;
    fx_init(&f, 3, NULL);
    fx_elect(&f, 1);
    uint64_t t = raft_term(fx_raft(&f, 1));
    uint64_t idx;
    ck_assert_int_eq(raft_change(fx_raft(&f, 1), RAFT_CHANGE_REMOVE, 1, NULL, &idx), 0);
    fx_pump(&f, 1);
    ck_assert_int_eq(raft_role(fx_raft(&f, 1)), RAFT_LEADER);
    fx_settle(&f);
    fx_tick(&f, 1, HB);
    fx_settle(&f);
    ck_assert_uint_ge(raft_commit(fx_raft(&f, 1)), idx);
    ck_assert_int_ne(raft_role(fx_raft(&f, 1)), RAFT_LEADER);

    unsigned pv = fx_node(&f, 1)->sent[RAFT_MSG_PREVOTE];
    unsigned v = fx_node(&f, 1)->sent[RAFT_MSG_VOTE];
    fx_run(&f, 10 * E);
    uint64_t l = fx_leader(&f);
    ck_assert_msg(l == 2 || l == 3, "new leader: %" PRIu64, l);
    ck_assert_uint_gt(raft_term(fx_raft(&f, l)), t);
    ck_assert_uint_eq(fx_node(&f, 1)->sent[RAFT_MSG_PREVOTE], pv);
    ck_assert_uint_eq(fx_node(&f, 1)->sent[RAFT_MSG_VOTE], v);
    uint64_t x = fx_propose(&f, l, "after");
    run_until_idle(&f);
    ck_assert_uint_eq(fx_node(&f, 2)->applied, x);
    ck_assert_uint_eq(fx_node(&f, 3)->applied, x);
    ck_assert_ptr_null(member(&f, l, 1));
    fx_destroy(&f);
}
END_TEST

/* A server added after the leader compacted its log catches up from a snapshot
 * (whose configuration predates it) and is still promoted. */
START_TEST(test_add_voter_after_compaction)
{
    struct raft_options o;
    fx_options(&o);
    o.snapshot_chunk_bytes = 32;
    struct fx f;
    fx_init(&f, 3, &o);
    fx_elect(&f, 1);
    for (int i = 0; i < 10; i++)
        fx_propose(&f, 1, "compacted away");
    fx_settle(&f);
    fx_compact(&f, 1, fx_node(&f, 1)->applied, 0);
    fx_add_joining(&f, 4, &o);
    uint64_t idx;
    ck_assert_int_eq(raft_change(fx_raft(&f, 1), RAFT_CHANGE_ADD_VOTER, 4, "n4", &idx), 0);
    fx_pump(&f, 1);
    run_until_idle(&f);
    ck_assert_uint_eq(fx_node(&f, 4)->snapshots_installed, 1);
    ck_assert_int_eq(member(&f, 1, 4)->role, RAFT_VOTER);
    ck_assert_int_eq(member(&f, 4, 4)->role, RAFT_VOTER);
    ck_assert_uint_eq(raft_commit(fx_raft(&f, 4)), raft_last_index(fx_raft(&f, 1)));
    fx_assert_same_applied(&f, 1, 4);
    /* 4 survives a restart with the right configuration. */
    fx_crash(&f, 4);
    fx_restart(&f, 4);
    ck_assert_int_eq(member(&f, 4, 4)->role, RAFT_VOTER);
    ck_assert_uint_eq(raft_conf_voters(raft_conf(fx_raft(&f, 4))), 4);
    fx_destroy(&f);
}
END_TEST

/* raft_conf_committed: the latest configuration at or below the commit index,
 * while raft_conf already shows an uncommitted change; the same after the change
 * commits, and after a compaction has taken the configuration entry away. */
START_TEST(test_conf_committed)
{
    struct fx f;
    fx_init(&f, 3, NULL);
    fx_elect(&f, 1);
    struct raft_conf c;
    ck_assert_int_eq(raft_conf_committed(fx_raft(&f, 1), &c), 0);
    ck_assert_uint_eq(c.n, 3);

    fx_add_joining(&f, 4, NULL);
    fx_cut(&f, 1, 2);
    fx_cut(&f, 1, 3);
    uint64_t idx;
    ck_assert_int_eq(raft_change(fx_raft(&f, 1), RAFT_CHANGE_ADD_LEARNER, 4, "n4", &idx), 0);
    fx_pump(&f, 1);
    fx_run(&f, 3 * HB);
    ck_assert_uint_lt(raft_commit(fx_raft(&f, 1)), idx);
    ck_assert_ptr_nonnull(member(&f, 1, 4));
    ck_assert_int_eq(raft_conf_committed(fx_raft(&f, 1), &c), 0);
    ck_assert_uint_eq(c.n, 3);
    ck_assert_ptr_null(raft_conf_get(&c, 4));

    fx_heal(&f);
    run_until_idle(&f);
    ck_assert_uint_ge(raft_commit(fx_raft(&f, 1)), idx);
    ck_assert_int_eq(raft_conf_committed(fx_raft(&f, 1), &c), 0);
    ck_assert_uint_eq(c.n, 4);
    ck_assert_int_eq(raft_conf_get(&c, 4)->role, RAFT_LEARNER);
    ck_assert_str_eq(raft_conf_get(&c, 4)->addr, "n4");

    for (int i = 0; i < 4; i++)
        fx_propose(&f, 1, "x");
    fx_settle(&f);
    uint64_t last = raft_commit(fx_raft(&f, 1));
    fx_compact(&f, 1, last, 0);
    ck_assert_int_eq(raft_conf_committed(fx_raft(&f, 1), &c), 0);
    ck_assert_uint_eq(c.n, 4);
    fx_destroy(&f);
}
END_TEST

int main(void)
{
    const struct fx_case cases[] = {
        {"add_voter_promoted", test_add_voter_promoted, 0},
        {"learner_not_in_quorum", test_learner_not_in_quorum, 0},
        {"one_change_at_a_time", test_one_change_at_a_time, 0},
        {"remove_follower", test_remove_follower, 0},
        {"removed_never_campaigns", test_removed_never_campaigns, 0},
        {"remove_leader", test_remove_leader, 0},
        {"add_voter_after_compaction", test_add_voter_after_compaction, 0},
        {"conf_committed", test_conf_committed, 0},
    };
    return fx_main("raft_membership", cases, sizeof(cases) / sizeof(cases[0]));
}
