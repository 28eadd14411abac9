/* Unit tests of linearizable reads by ReadIndex (Raft dissertation §6.4). */
#include "raft_fixture.c"

#define E FX_ELECTION_MS
#define HB FX_HEARTBEAT_MS

/* Gives the leader one heartbeat period to confirm its leadership. */
static void one_round(struct fx *f, uint64_t leader)
{
    fx_settle(f);
    fx_tick(f, leader, HB);
    fx_settle(f);
}

/* The read is answered with the commit index as of the request, once a majority
 * acknowledged a heartbeat round sent after it, and not before. */
START_TEST(test_read_index)
{
    struct fx f;
    fx_init(&f, 3, NULL);
    fx_elect(&f, 1);
    fx_propose(&f, 1, "w");
    fx_settle(&f);
    struct raft *r1 = fx_raft(&f, 1);
    uint64_t commit = raft_commit(r1);
    ck_assert_uint_eq(commit, 3);

    fx_isolate(&f, 1);
    ck_assert_int_eq(raft_read_index(r1, 42), 0);
    fx_pump(&f, 1);
    one_round(&f, 1);
    one_round(&f, 1);
    ck_assert_msg(fx_read_result(&f, 1, 42, NULL) < 0, "read answered without a quorum");

    fx_heal(&f);
    one_round(&f, 1);
    bool ok = false;
    ck_assert_int_eq(fx_read_result(&f, 1, 42, &ok), (long)commit);
    ck_assert(ok);

    /* Several reads, one of them issued while a write is in flight. */
    ck_assert_int_eq(raft_read_index(r1, 43), 0);
    uint64_t idx = fx_propose(&f, 1, "w2");
    ck_assert_int_eq(raft_read_index(r1, 44), 0);
    fx_pump(&f, 1);
    one_round(&f, 1);
    ck_assert_int_eq(fx_read_result(&f, 1, 43, &ok), (long)commit);
    ck_assert(ok);
    long i44 = fx_read_result(&f, 1, 44, &ok);
    ck_assert(ok);
    ck_assert_msg(i44 >= (long)commit && i44 <= (long)idx, "read 44 at %ld", i44);
    fx_destroy(&f);
}
END_TEST

/* A leader that has not yet committed an entry of its term does not know the
 * commit index: it answers only after its no-op commits (dissertation §6.4). */
START_TEST(test_read_waits_for_term_commit)
{
    struct fx f;
    fx_init(&f, 3, NULL);
    fx_tick(&f, 1, 2 * E);
    fx_settle_if(&f, fx_pred_election, NULL);
    struct raft *r1 = fx_raft(&f, 1);
    ck_assert_int_eq(raft_role(r1), RAFT_LEADER);
    ck_assert_uint_lt(raft_commit(r1), raft_last_index(r1));
    ck_assert_int_eq(raft_read_index(r1, 7), 0);
    fx_pump(&f, 1);
    int append = RAFT_MSG_APPEND;
    fx_drop_if(&f, fx_pred_type, &append);
    for (int i = 0; i < 3; i++) {
        fx_tick(&f, 1, HB);
        fx_drop_if(&f, fx_pred_type, &append);
        for (int k = 0; k < 4; k++) {
            fx_deliver(&f);
            fx_drop_if(&f, fx_pred_type, &append);
        }
    }
    ck_assert_uint_lt(raft_commit(r1), raft_last_index(r1));
    ck_assert_msg(fx_read_result(&f, 1, 7, NULL) < 0,
                  "read answered before the leader committed an entry of its term");
    for (int i = 0; i < 3 && fx_read_result(&f, 1, 7, NULL) < 0; i++)
        one_round(&f, 1);
    bool ok = false;
    ck_assert_int_eq(fx_read_result(&f, 1, 7, &ok), (long)raft_last_index(r1));
    ck_assert(ok);
    fx_destroy(&f);
}
END_TEST

/* Followers refuse; a leader that loses leadership answers pending reads !ok. */
START_TEST(test_read_not_leader)
{
    struct fx f;
    fx_init(&f, 3, NULL);
    fx_elect(&f, 1);
    ck_assert_int_eq(raft_read_index(fx_raft(&f, 2), 1), BATON_ENOTLEADER);

    fx_isolate(&f, 1);
    ck_assert_int_eq(raft_read_index(fx_raft(&f, 1), 5), 0);
    fx_pump(&f, 1);
    for (uint64_t ms = 0; ms <= 2 * E + HB; ms += HB) {
        fx_tick(&f, 1, HB);
        fx_settle(&f);
    }
    ck_assert_int_ne(raft_role(fx_raft(&f, 1)), RAFT_LEADER);
    bool ok = true;
    ck_assert_msg(fx_read_result(&f, 1, 5, &ok) >= 0, "pending read never answered");
    ck_assert(!ok);
    fx_destroy(&f);

    /* Deposed by a higher term. */
    fx_init(&f, 3, NULL);
    fx_elect(&f, 1);
    fx_isolate(&f, 1);
    ck_assert_int_eq(raft_read_index(fx_raft(&f, 1), 6), 0);
    fx_pump(&f, 1);
    struct raft_message m = fx_mk(RAFT_MSG_HEARTBEAT, 2, 1, raft_term(fx_raft(&f, 1)) + 1);
    fx_step(&f, 1, &m);
    ck_assert_int_ne(raft_role(fx_raft(&f, 1)), RAFT_LEADER);
    ck_assert_msg(fx_read_result(&f, 1, 6, &ok) >= 0, "pending read never answered");
    ck_assert(!ok);
    fx_destroy(&f);
}
END_TEST

/* A single-server cluster is its own majority: reads need no messages. */
START_TEST(test_read_single_server)
{
    struct fx f;
    fx_init(&f, 1, NULL);
    fx_elect(&f, 1);
    uint64_t x = fx_propose(&f, 1, "solo");
    ck_assert_uint_eq(raft_commit(fx_raft(&f, 1)), x);
    ck_assert_int_eq(raft_read_index(fx_raft(&f, 1), 9), 0);
    fx_pump(&f, 1);
    fx_tick(&f, 1, HB);
    bool ok = false;
    ck_assert_int_eq(fx_read_result(&f, 1, 9, &ok), (long)x);
    ck_assert(ok);
    ck_assert_uint_eq(f.n_out, 0);
    fx_destroy(&f);
}
END_TEST

int main(void)
{
    const struct fx_case cases[] = {
        {"read_index", test_read_index, 0},
        {"read_waits_for_term_commit", test_read_waits_for_term_commit, 0},
        {"read_not_leader", test_read_not_leader, 0},
        {"read_single_server", test_read_single_server, 0},
    };
    return fx_main("raft_read", cases, sizeof(cases) / sizeof(cases[0]));
}
