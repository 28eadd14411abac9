/* Unit tests of Raft elections: pre-vote, voting rules, timeouts, stickiness, check-quorum. */
#include "raft_fixture.c"

#define E FX_ELECTION_MS
#define HB FX_HEARTBEAT_MS

static const struct fx_msg *only_resp(struct fx *f, uint64_t from, uint64_t to, int type)
{
    ck_assert_uint_eq(fx_count(f, from, to, type), 1);
    return fx_find(f, from, to, type, 0);
}

/* A follower that times out runs a pre-vote at term+1 without changing its term,
 * becomes a candidate (term+1, durable self-vote) after a pre-vote quorum, and
 * leader after a vote quorum (Raft dissertation §9.6, Raft §5.2). */
START_TEST(test_prevote_then_vote)
{
    struct fx f;
    fx_init(&f, 3, NULL);
    uint64_t t0 = raft_term(fx_raft(&f, 1));

    fx_tick(&f, 1, 2 * E);
    ck_assert_int_eq(raft_role(fx_raft(&f, 1)), RAFT_PRECANDIDATE);
    ck_assert_uint_eq(raft_term(fx_raft(&f, 1)), t0);
    ck_assert_uint_le(fx_node(&f, 1)->store.hs.term, t0);
    ck_assert_uint_eq(fx_count(&f, 1, 0, RAFT_MSG_VOTE), 0);
    ck_assert_uint_eq(fx_count(&f, 1, 2, RAFT_MSG_PREVOTE), 1);
    ck_assert_uint_eq(fx_count(&f, 1, 3, RAFT_MSG_PREVOTE), 1);
    for (size_t k = 0; k < 2; k++) {
        const struct raft_message *m = &fx_find(&f, 1, 0, RAFT_MSG_PREVOTE, k)->m;
        ck_assert_uint_eq(m->term, t0 + 1);
        ck_assert_uint_eq(m->last_log_index, 1);
        ck_assert_uint_eq(m->last_log_term, 1);
        ck_assert(!m->transfer);
    }

    int type = RAFT_MSG_PREVOTE;
    fx_deliver_if(&f, fx_pred_type, &type);
    for (uint64_t id = 2; id <= 3; id++) {
        /* Granting a pre-vote changes nothing at the voter. */
        ck_assert_uint_eq(raft_term(fx_raft(&f, id)), t0);
        ck_assert_uint_eq(raft_vote(fx_raft(&f, id)), 0);
        ck_assert_int_eq(raft_role(fx_raft(&f, id)), RAFT_FOLLOWER);
        ck_assert(!only_resp(&f, id, 1, RAFT_MSG_PREVOTE_RESP)->m.reject);
    }

    type = RAFT_MSG_PREVOTE_RESP;
    fx_deliver_if(&f, fx_pred_type, &type);
    ck_assert_int_eq(raft_role(fx_raft(&f, 1)), RAFT_CANDIDATE);
    ck_assert_uint_eq(raft_term(fx_raft(&f, 1)), t0 + 1);
    ck_assert_uint_eq(raft_vote(fx_raft(&f, 1)), 1);
    ck_assert_uint_eq(fx_node(&f, 1)->store.hs.term, t0 + 1);
    ck_assert_uint_eq(fx_node(&f, 1)->store.hs.vote, 1);
    ck_assert_uint_eq(fx_count(&f, 1, 0, RAFT_MSG_VOTE), 2);
    for (size_t k = 0; k < 2; k++) {
        const struct fx_msg *m = fx_find(&f, 1, 0, RAFT_MSG_VOTE, k);
        ck_assert_uint_eq(m->m.term, t0 + 1);
        ck_assert(m->after_persist);
        ck_assert(!m->m.transfer);
    }

    fx_settle(&f);
    ck_assert_int_eq(raft_role(fx_raft(&f, 1)), RAFT_LEADER);
    ck_assert_uint_eq(raft_term(fx_raft(&f, 1)), t0 + 1);
    for (uint64_t id = 2; id <= 3; id++) {
        ck_assert_int_eq(raft_role(fx_raft(&f, id)), RAFT_FOLLOWER);
        ck_assert_uint_eq(raft_term(fx_raft(&f, id)), t0 + 1);
        ck_assert_uint_eq(raft_leader(fx_raft(&f, id)), 1);
        ck_assert_uint_eq(raft_vote(fx_raft(&f, id)), 1);
    }
    fx_destroy(&f);
}
END_TEST

/* Election timeouts are drawn from [election_ms, 2 * election_ms) (Raft §5.2), a
 * fresh draw per election, and differ between seeds. */
START_TEST(test_timeout_range)
{
    uint64_t firsts[40];
    size_t n_firsts = 0;
    for (uint64_t seed = 1; seed <= 40; seed++) {
        struct raft_options o;
        fx_options(&o);
        o.seed = seed;
        struct fx f;
        fx_init(&f, 3, &o);
        uint64_t fired[4];
        size_t nf = 0;
        for (uint64_t ms = 1; ms <= 9 * E && nf < 4; ms++) {
            fx_tick(&f, 1, 1);
            if (fx_count(&f, 1, 0, RAFT_MSG_PREVOTE) > 0) {
                fired[nf++] = ms;
                fx_drop_all(&f);
            }
        }
        ck_assert_uint_eq(nf, 4);
        uint64_t prev = 0;
        for (size_t i = 0; i < nf; i++) {
            uint64_t d = fired[i] - prev;
            ck_assert_msg(d >= E && d <= 2 * E,
                          "seed %" PRIu64 ": election %zu after %" PRIu64 " ms, outside [%d, %d)",
                          seed, i, d, E, 2 * E);
            prev = fired[i];
        }
        firsts[n_firsts++] = fired[0];
        fx_destroy(&f);
    }
    size_t distinct = 0;
    for (size_t i = 0; i < n_firsts; i++) {
        bool seen = false;
        for (size_t j = 0; j < i; j++)
            seen = seen || firsts[j] == firsts[i];
        distinct += !seen;
    }
    ck_assert_msg(distinct >= 10, "only %zu distinct timeouts over 40 seeds", distinct);
}
END_TEST

static struct raft_message vote_req(int type, uint64_t from, uint64_t term, uint64_t lli,
                                    uint64_t llt)
{
    struct raft_message m = fx_mk(type, from, 2, term);
    m.last_log_index = lli;
    m.last_log_term = llt;
    return m;
}

/* Server 2 alone, log [1:1, 2:2, 3:2], term 3, no vote, no leader known. */
static void boot_voter(struct fx *f)
{
    static const uint64_t terms[] = {2, 2};
    struct raft_entry *log = fx_make_log(3, terms, 2);
    struct raft_hard_state hs = {3, 0};
    fx_init_empty(f);
    fx_boot(f, 2, NULL, hs, log, 3);
    fx_free_entries(log, 3);
}

/* Returns whether server 2's single response to from of type granted. */
static bool granted(struct fx *f, uint64_t from, int type)
{
    bool ok = !only_resp(f, 2, from, type)->m.reject;
    fx_drop_all(f);
    return ok;
}

/* Raft §5.4.1: a vote (and a pre-vote) goes only to a candidate whose log is at
 * least as up-to-date: compare last terms, then last indexes. */
START_TEST(test_vote_log_up_to_date)
{
    struct fx f;
    boot_voter(&f);
    struct raft_message m;

    m = vote_req(RAFT_MSG_PREVOTE, 3, 4, 10, 1);
    fx_step(&f, 2, &m);
    ck_assert(!granted(&f, 3, RAFT_MSG_PREVOTE_RESP));
    m = vote_req(RAFT_MSG_PREVOTE, 3, 4, 3, 2);
    fx_step(&f, 2, &m);
    ck_assert(granted(&f, 3, RAFT_MSG_PREVOTE_RESP));
    ck_assert_uint_eq(raft_term(fx_raft(&f, 2)), 3);
    ck_assert_uint_eq(raft_vote(fx_raft(&f, 2)), 0);
    ck_assert_uint_eq(fx_node(&f, 2)->store.hs.term, 3);

    /* Longer log but older last term. */
    m = vote_req(RAFT_MSG_VOTE, 3, 4, 10, 1);
    fx_step(&f, 2, &m);
    ck_assert_uint_eq(only_resp(&f, 2, 3, RAFT_MSG_VOTE_RESP)->m.term, 4);
    ck_assert(!granted(&f, 3, RAFT_MSG_VOTE_RESP));
    ck_assert_uint_eq(raft_term(fx_raft(&f, 2)), 4);
    ck_assert_uint_eq(raft_vote(fx_raft(&f, 2)), 0);
    /* Same last term, shorter log. */
    m = vote_req(RAFT_MSG_VOTE, 3, 4, 2, 2);
    fx_step(&f, 2, &m);
    ck_assert(!granted(&f, 3, RAFT_MSG_VOTE_RESP));
    ck_assert_uint_eq(raft_vote(fx_raft(&f, 2)), 0);
    /* Equal logs: granted, durably. */
    m = vote_req(RAFT_MSG_VOTE, 3, 4, 3, 2);
    fx_step(&f, 2, &m);
    ck_assert(only_resp(&f, 2, 3, RAFT_MSG_VOTE_RESP)->after_persist);
    ck_assert(granted(&f, 3, RAFT_MSG_VOTE_RESP));
    ck_assert_uint_eq(raft_vote(fx_raft(&f, 2)), 3);
    ck_assert_uint_eq(fx_node(&f, 2)->store.hs.term, 4);
    ck_assert_uint_eq(fx_node(&f, 2)->store.hs.vote, 3);
    /* One vote per term, even for a better log; the same candidate may ask again. */
    m = vote_req(RAFT_MSG_VOTE, 1, 4, 5, 3);
    fx_step(&f, 2, &m);
    ck_assert(!granted(&f, 1, RAFT_MSG_VOTE_RESP));
    m = vote_req(RAFT_MSG_VOTE, 3, 4, 3, 2);
    fx_step(&f, 2, &m);
    ck_assert(granted(&f, 3, RAFT_MSG_VOTE_RESP));
    /* A new term frees the vote. */
    m = vote_req(RAFT_MSG_VOTE, 1, 5, 3, 3);
    fx_step(&f, 2, &m);
    ck_assert(granted(&f, 1, RAFT_MSG_VOTE_RESP));
    ck_assert_uint_eq(raft_term(fx_raft(&f, 2)), 5);
    ck_assert_uint_eq(raft_vote(fx_raft(&f, 2)), 1);
    fx_destroy(&f);
}
END_TEST

/* The vote is durable before the grant leaves, so a restart cannot vote twice in
 * one term; a grant lost with an unsynced batch never left, so it binds nothing. */
START_TEST(test_one_vote_per_term_restart)
{
    struct fx f;
    boot_voter(&f);
    struct raft_message m = vote_req(RAFT_MSG_VOTE, 3, 4, 3, 2);
    fx_step(&f, 2, &m);
    ck_assert(only_resp(&f, 2, 3, RAFT_MSG_VOTE_RESP)->after_persist);
    ck_assert(granted(&f, 3, RAFT_MSG_VOTE_RESP));
    fx_crash(&f, 2);
    fx_restart(&f, 2);
    ck_assert_uint_eq(raft_term(fx_raft(&f, 2)), 4);
    ck_assert_uint_eq(raft_vote(fx_raft(&f, 2)), 3);
    m = vote_req(RAFT_MSG_VOTE, 1, 4, 3, 2);
    fx_step(&f, 2, &m);
    ck_assert(!granted(&f, 1, RAFT_MSG_VOTE_RESP));
    fx_destroy(&f);

    boot_voter(&f);
    fx_hold(&f, 2);
    m = vote_req(RAFT_MSG_VOTE, 3, 4, 3, 2);
    fx_step(&f, 2, &m);
    for (size_t k = 0; k < fx_count(&f, 2, 3, RAFT_MSG_VOTE_RESP); k++)
        ck_assert_msg(fx_find(&f, 2, 3, RAFT_MSG_VOTE_RESP, k)->m.reject,
                      "vote granted before the vote was persisted");
    fx_drop_all(&f);
    fx_crash(&f, 2);
    fx_restart(&f, 2);
    ck_assert_uint_eq(raft_term(fx_raft(&f, 2)), 3);
    ck_assert_uint_eq(raft_vote(fx_raft(&f, 2)), 0);
    m = vote_req(RAFT_MSG_VOTE, 1, 4, 3, 2);
    fx_step(&f, 2, &m);
    ck_assert(granted(&f, 1, RAFT_MSG_VOTE_RESP));
    ck_assert_uint_eq(fx_node(&f, 2)->store.hs.vote, 1);
    fx_destroy(&f);
}
END_TEST

/* Leader 1 and follower 2 exchange heartbeats for ms. */
static void keep_alive(struct fx *f, uint64_t ms)
{
    for (uint64_t t = 0; t < ms; t += HB) {
        fx_tick(f, 1, HB);
        fx_tick(f, 2, HB);
        fx_settle(f);
    }
}

/* Dissertation §9.6: a partitioned server that keeps timing out does not raise its
 * term, so when it rejoins it does not depose the leader. */
START_TEST(test_prevote_no_disrupt)
{
    struct fx f;
    fx_init(&f, 3, NULL);
    fx_elect(&f, 1);
    uint64_t t = raft_term(fx_raft(&f, 1));
    fx_isolate(&f, 3);
    for (int i = 0; i < 6; i++) {
        fx_tick(&f, 3, 2 * E);
        keep_alive(&f, 2 * E);
        ck_assert_uint_eq(raft_term(fx_raft(&f, 3)), t);
        ck_assert_int_ne(raft_role(fx_raft(&f, 3)), RAFT_CANDIDATE);
    }
    ck_assert_uint_eq(fx_node(&f, 3)->sent[RAFT_MSG_VOTE], 0);
    ck_assert_uint_gt(fx_node(&f, 3)->sent[RAFT_MSG_PREVOTE], 0);

    fx_heal(&f);
    fx_tick(&f, 3, 2 * E);
    ck_assert_uint_eq(fx_count(&f, 3, 0, RAFT_MSG_PREVOTE), 2);
    fx_settle(&f);
    keep_alive(&f, 2 * HB);
    for (uint64_t id = 1; id <= 3; id++)
        ck_assert_uint_eq(raft_term(fx_raft(&f, id)), t);
    ck_assert_int_eq(raft_role(fx_raft(&f, 1)), RAFT_LEADER);
    ck_assert_int_eq(raft_role(fx_raft(&f, 3)), RAFT_FOLLOWER);
    ck_assert_uint_eq(raft_leader(fx_raft(&f, 3)), 1);
    ck_assert_uint_eq(fx_node(&f, 3)->sent[RAFT_MSG_VOTE], 0);
    fx_destroy(&f);
}
END_TEST

static void assert_no_grant(struct fx *f, uint64_t from, uint64_t to, int type)
{
    for (size_t k = 0; k < fx_count(f, from, to, type); k++)
        ck_assert_msg(fx_find(f, from, to, type, k)->m.reject,
                      "server %" PRIu64 " grants %s to %" PRIu64 " despite a current leader",
                      from, raft_msg_type_name(type), to);
    fx_drop_all(f);
}

/* Dissertation §4.2.3: a server that heard from a leader within the election
 * timeout neither grants (pre-)votes nor adopts the requester's term, unless the
 * request comes from a leadership transfer. */
START_TEST(test_leader_stickiness)
{
    struct fx f;
    fx_init(&f, 3, NULL);
    fx_elect(&f, 1);
    uint64_t t = raft_term(fx_raft(&f, 1));
    struct raft *r2 = fx_raft(&f, 2);
    uint64_t lli = raft_last_index(r2), llt = raft_last_term(r2);

    struct raft_message m = vote_req(RAFT_MSG_PREVOTE, 3, t + 1, lli, llt);
    fx_step(&f, 2, &m);
    assert_no_grant(&f, 2, 3, RAFT_MSG_PREVOTE_RESP);
    m = vote_req(RAFT_MSG_VOTE, 3, t + 1, lli, llt);
    fx_step(&f, 2, &m);
    assert_no_grant(&f, 2, 3, RAFT_MSG_VOTE_RESP);
    ck_assert_uint_eq(raft_term(fx_raft(&f, 2)), t);
    ck_assert_uint_eq(raft_vote(fx_raft(&f, 2)), 1);
    ck_assert_uint_eq(raft_leader(fx_raft(&f, 2)), 1);

    /* The leader itself does not hand out pre-votes either. */
    m = vote_req(RAFT_MSG_PREVOTE, 3, t + 1, lli, llt);
    m.to = 1;
    fx_step(&f, 1, &m);
    assert_no_grant(&f, 1, 3, RAFT_MSG_PREVOTE_RESP);
    ck_assert_int_eq(raft_role(fx_raft(&f, 1)), RAFT_LEADER);

    m = vote_req(RAFT_MSG_VOTE, 3, t + 1, lli, llt);
    m.transfer = true;
    fx_step(&f, 2, &m);
    ck_assert(granted(&f, 3, RAFT_MSG_VOTE_RESP));
    ck_assert_uint_eq(raft_term(fx_raft(&f, 2)), t + 1);
    ck_assert_uint_eq(raft_vote(fx_raft(&f, 2)), 3);
    fx_destroy(&f);

    /* Once the leader has been silent for an election timeout, pre-votes flow again. */
    fx_init(&f, 3, NULL);
    fx_elect(&f, 1);
    t = raft_term(fx_raft(&f, 1));
    fx_tick_silent(&f, 2, 2 * E);
    ck_assert_uint_eq(raft_leader(fx_raft(&f, 2)), 0);
    m = vote_req(RAFT_MSG_PREVOTE, 3, t + 1, raft_last_index(fx_raft(&f, 2)),
                 raft_last_term(fx_raft(&f, 2)));
    fx_step(&f, 2, &m);
    ck_assert(granted(&f, 3, RAFT_MSG_PREVOTE_RESP));
    fx_destroy(&f);
}
END_TEST

/* Check-quorum (dissertation §6.2): a leader that hears from no majority for an
 * election timeout loses its lease and steps down; one that does keeps leading. */
START_TEST(test_check_quorum)
{
    struct fx f;
    fx_init(&f, 3, NULL);
    fx_elect(&f, 1);
    uint64_t t = raft_term(fx_raft(&f, 1));
    fx_tick(&f, 1, HB);
    fx_settle(&f);
    ck_assert(raft_leader_lease_valid(fx_raft(&f, 1)));

    fx_isolate(&f, 1);
    for (uint64_t ms = HB; ms <= 2 * E + HB; ms += HB) {
        fx_tick(&f, 1, HB);
        fx_settle(&f);
        if (ms > E + HB)
            ck_assert_msg(!raft_leader_lease_valid(fx_raft(&f, 1)),
                          "lease still valid %" PRIu64 " ms after the last ack", ms);
    }
    ck_assert_int_eq(raft_role(fx_raft(&f, 1)), RAFT_FOLLOWER);
    ck_assert_uint_eq(raft_term(fx_raft(&f, 1)), t);
    ck_assert(!raft_leader_lease_valid(fx_raft(&f, 1)));
    fx_destroy(&f);

    fx_init(&f, 3, NULL);
    fx_elect(&f, 1);
    fx_isolate(&f, 3);
    keep_alive(&f, 6 * E);
    ck_assert_int_eq(raft_role(fx_raft(&f, 1)), RAFT_LEADER);
    ck_assert(raft_leader_lease_valid(fx_raft(&f, 1)));
    ck_assert(!raft_leader_lease_valid(fx_raft(&f, 2)));
    fx_destroy(&f);
}
END_TEST

int main(void)
{
    const struct fx_case cases[] = {
        {"prevote_then_vote", test_prevote_then_vote, 0},
        {"timeout_range", test_timeout_range, 0},
        {"vote_log_up_to_date", test_vote_log_up_to_date, 0},
        {"one_vote_per_term_restart", test_one_vote_per_term_restart, 0},
        {"prevote_no_disrupt", test_prevote_no_disrupt, 0},
        {"leader_stickiness", test_leader_stickiness, 0},
        {"check_quorum", test_check_quorum, 0},
    };
    return fx_main("raft_election", cases, sizeof(cases) / sizeof(cases[0]));
}
