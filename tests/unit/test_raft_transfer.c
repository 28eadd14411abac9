/* Unit tests of leadership transfer (Raft dissertation §3.10, TimeoutNow). */
#include "raft_fixture.c"

#define E FX_ELECTION_MS
#define HB FX_HEARTBEAT_MS

struct transfer_watch {
    unsigned timeout_now;
    unsigned vote_transfer;
    unsigned vote_plain;
};

static void watch(const struct raft_message *m, void *ctx)
{
    struct transfer_watch *w = ctx;
    if (m->type == RAFT_MSG_TIMEOUT_NOW)
        w->timeout_now++;
    if (m->type == RAFT_MSG_VOTE || m->type == RAFT_MSG_PREVOTE) {
        if (m->transfer)
            w->vote_transfer++;
        else
            w->vote_plain++;
    }
}

/* The target gets TimeoutNow, campaigns at once with transfer set (overriding
 * the other followers' stickiness) and leads the next term. */
START_TEST(test_transfer_to_target)
{
    struct fx f;
    fx_init(&f, 3, NULL);
    fx_elect(&f, 1);
    fx_tick(&f, 1, HB);
    fx_settle(&f);
    uint64_t t = raft_term(fx_raft(&f, 1));
    struct transfer_watch w = {0, 0, 0};
    f.observe = watch;
    f.observe_ctx = &w;
    ck_assert_int_eq(raft_transfer(fx_raft(&f, 1), 3), 0);
    fx_pump(&f, 1);
    fx_settle(&f);
    ck_assert_uint_eq(w.timeout_now, 1);
    ck_assert_uint_ge(w.vote_transfer, 1);
    ck_assert_uint_eq(w.vote_plain, 0);
    ck_assert_int_eq(raft_role(fx_raft(&f, 3)), RAFT_LEADER);
    ck_assert_uint_eq(raft_term(fx_raft(&f, 3)), t + 1);
    ck_assert_int_eq(raft_role(fx_raft(&f, 1)), RAFT_FOLLOWER);
    ck_assert_uint_eq(raft_leader(fx_raft(&f, 1)), 3);
    ck_assert_uint_eq(raft_leader(fx_raft(&f, 2)), 3);
    uint64_t x = fx_propose(&f, 3, "x");
    fx_settle(&f);
    fx_tick(&f, 3, HB);
    fx_settle(&f);
    for (uint64_t id = 1; id <= 3; id++)
        ck_assert_uint_eq(fx_node(&f, id)->applied, x);
    fx_destroy(&f);
}
END_TEST

/* A lagging target is brought up to date first; no committed entry is lost. */
START_TEST(test_transfer_catches_up_target)
{
    struct fx f;
    fx_init(&f, 3, NULL);
    fx_elect(&f, 1);
    fx_cut(&f, 1, 3);
    uint64_t last = 0;
    for (int i = 0; i < 5; i++)
        last = fx_propose(&f, 1, "lag");
    fx_settle(&f);
    ck_assert_uint_eq(raft_commit(fx_raft(&f, 1)), last);
    ck_assert_uint_lt(raft_last_index(fx_raft(&f, 3)), last);
    fx_heal(&f);
    ck_assert_int_eq(raft_transfer(fx_raft(&f, 1), 3), 0);
    fx_pump(&f, 1);
    for (int i = 0; i < 5 && raft_role(fx_raft(&f, 3)) != RAFT_LEADER; i++) {
        fx_tick(&f, 1, HB);
        fx_settle(&f);
    }
    ck_assert_int_eq(raft_role(fx_raft(&f, 3)), RAFT_LEADER);
    ck_assert_uint_gt(raft_last_index(fx_raft(&f, 3)), last);
    fx_assert_same_log(&f, 1, 3, 1, last);
    fx_destroy(&f);
}
END_TEST

/* During a transfer the leader refuses proposals (EBUSY) and a second transfer;
 * non-voters are refused as targets; followers refuse to transfer. */
START_TEST(test_transfer_busy_invalid)
{
    struct fx f;
    fx_init(&f, 3, NULL);
    fx_elect(&f, 1);
    struct raft *r1 = fx_raft(&f, 1);
    ck_assert_int_eq(raft_transfer(r1, 9), BATON_EINVAL);
    ck_assert_int_eq(raft_transfer(fx_raft(&f, 2), 3), BATON_ENOTLEADER);
    fx_cut(&f, 1, 3);
    ck_assert_int_eq(raft_transfer(r1, 3), 0);
    fx_pump(&f, 1);
    uint64_t index, term;
    ck_assert_int_eq(raft_propose(r1, "x", 1, &index, &term), BATON_EBUSY);
    ck_assert_int_eq(raft_transfer(r1, 2), BATON_EBUSY);
    fx_destroy(&f);
}
END_TEST

/* A transfer that cannot finish within an election timeout is abandoned: the
 * leader keeps leading the same term and accepts proposals again. */
START_TEST(test_transfer_abandoned)
{
    struct fx f;
    fx_init(&f, 3, NULL);
    fx_elect(&f, 1);
    uint64_t t = raft_term(fx_raft(&f, 1));
    fx_isolate(&f, 3);
    ck_assert_int_eq(raft_transfer(fx_raft(&f, 1), 3), 0);
    fx_pump(&f, 1);
    uint64_t index, term;
    for (uint64_t ms = HB; ms <= E / 2; ms += HB) {
        fx_tick(&f, 1, HB);
        fx_tick(&f, 2, HB);
        fx_settle(&f);
    }
    ck_assert_int_eq(raft_propose(fx_raft(&f, 1), "x", 1, &index, &term), BATON_EBUSY);
    for (uint64_t ms = 0; ms <= E; ms += HB) {
        fx_tick(&f, 1, HB);
        fx_tick(&f, 2, HB);
        fx_settle(&f);
    }
    ck_assert_int_eq(raft_role(fx_raft(&f, 1)), RAFT_LEADER);
    ck_assert_uint_eq(raft_term(fx_raft(&f, 1)), t);
    uint64_t x = fx_propose(&f, 1, "after");
    fx_settle(&f);
    ck_assert_uint_eq(raft_commit(fx_raft(&f, 1)), x);
    /* The target returning later changes nothing. */
    fx_heal(&f);
    fx_run(&f, 3 * E);
    ck_assert_int_eq(raft_role(fx_raft(&f, 1)), RAFT_LEADER);
    ck_assert_uint_eq(raft_term(fx_raft(&f, 1)), t);
    fx_destroy(&f);
}
END_TEST

/* Target 0 picks the most up-to-date voter. */
START_TEST(test_transfer_any)
{
    struct fx f;
    fx_init(&f, 3, NULL);
    fx_elect(&f, 1);
    fx_cut(&f, 1, 2);
    fx_propose(&f, 1, "2 misses this");
    fx_settle(&f);
    ck_assert_int_eq(raft_transfer(fx_raft(&f, 1), 0), 0);
    fx_pump(&f, 1);
    fx_settle(&f);
    ck_assert_int_eq(raft_role(fx_raft(&f, 3)), RAFT_LEADER);
    fx_destroy(&f);
}
END_TEST

int main(void)
{
    const struct fx_case cases[] = {
        {"transfer_to_target", test_transfer_to_target, 0},
        {"transfer_catches_up_target", test_transfer_catches_up_target, 0},
        {"transfer_busy_invalid", test_transfer_busy_invalid, 0},
        {"transfer_abandoned", test_transfer_abandoned, 0},
        {"transfer_any", test_transfer_any, 0},
    };
    return fx_main("raft_transfer", cases, sizeof(cases) / sizeof(cases[0]));
}
