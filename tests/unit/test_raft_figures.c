/* Unit tests replaying Figures 7 and 8 of the extended Raft paper. */
#include "raft_fixture.c"

#define E FX_ELECTION_MS
#define HB FX_HEARTBEAT_MS

/* Figure 7: the leader of term 8 and six followers (a)-(f); index 1 of every log is
 * the shared bootstrap configuration (term 1), as in the figure. */
static const uint64_t fig7_leader[] = {1, 1, 4, 4, 5, 5, 6, 6, 6};
static const uint64_t fig7_a[] = {1, 1, 4, 4, 5, 5, 6, 6};
static const uint64_t fig7_b[] = {1, 1, 4};
static const uint64_t fig7_c[] = {1, 1, 4, 4, 5, 5, 6, 6, 6, 6};
static const uint64_t fig7_d[] = {1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7};
static const uint64_t fig7_e[] = {1, 1, 4, 4, 4, 4};
static const uint64_t fig7_f[] = {1, 1, 2, 2, 2, 3, 3, 3, 3, 3};

struct fig7_log {
    const uint64_t *terms;
    size_t n;
};

#define LOG(x) {x, sizeof(x) / sizeof(x[0])}

static unsigned rejects_from[FX_MAX + 1];

static void count_rejects(const struct raft_message *m, void *ctx)
{
    (void)ctx;
    if (m->type == RAFT_MSG_APPEND_RESP && m->reject && m->from <= FX_MAX)
        rejects_from[m->from]++;
}

/* Each follower of Figure 7 ends with the leader's log (Raft §5.3): missing entries
 * are filled in, extra and conflicting ones removed, and the leader finds the point
 * of agreement in few round trips thanks to the conflicting-term hint. */
START_TEST(test_figure7)
{
    const struct fig7_log logs[] = {LOG(fig7_leader), LOG(fig7_a), LOG(fig7_b), LOG(fig7_c),
                                    LOG(fig7_d),      LOG(fig7_e), LOG(fig7_f)};
    struct fx f;
    fx_init_empty(&f);
    for (uint64_t id = 1; id <= 7; id++) {
        const struct fig7_log *l = &logs[id - 1];
        struct raft_entry *e = fx_make_log(7, l->terms, l->n);
        uint64_t term = id == 1 ? 7 : l->terms[l->n - 1];
        fx_boot(&f, id, NULL, (struct raft_hard_state){term, 0}, e, l->n + 1);
        fx_free_entries(e, l->n + 1);
    }
    memset(rejects_from, 0, sizeof(rejects_from));
    f.observe = count_rejects;
    fx_elect(&f, 1);
    struct raft *leader = fx_raft(&f, 1);
    ck_assert_uint_eq(raft_term(leader), 8);
    ck_assert_uint_eq(raft_last_index(leader), 11);
    ck_assert_uint_eq(raft_term_at(leader, 11), 8);
    fx_tick(&f, 1, HB);
    fx_settle(&f);
    for (uint64_t id = 2; id <= 7; id++) {
        ck_assert_msg(raft_last_index(fx_raft(&f, id)) == 11,
                      "follower (%c) ends at %" PRIu64, (int)('a' + id - 2),
                      raft_last_index(fx_raft(&f, id)));
        fx_assert_same_log(&f, 1, id, 1, 11);
        ck_assert_uint_eq(raft_commit(fx_raft(&f, id)), 11);
        ck_assert_uint_eq(fx_store_last(fx_node(&f, id)), 11);
        ck_assert_msg(rejects_from[id] <= 3, "follower (%c) rejected %u AppendEntries",
                      (int)('a' + id - 2), rejects_from[id]);
    }
    fx_check_log_matching(&f);
    ck_assert_uint_eq(raft_commit(leader), 11);
    fx_destroy(&f);
}
END_TEST

/* The network loses every entry from index 3 on (the rest of each message
 * arrives), so S1's term-4 entry reaches nobody. */
static void strip_index3(struct raft_message *m, void *ctx)
{
    (void)ctx;
    if (m->type != RAFT_MSG_APPEND)
        return;
    size_t keep = 0;
    while (keep < m->n_entries && m->entries[keep].index < 3)
        keep++;
    m->n_entries = keep;
    if (keep == 0)
        m->entries = NULL;
}

/* Figure 8, state (c): S1 leads term 4 with [1:1 2:2 3:4]; it has replicated
 * index 2 (term 2) to S2 and S3, so index 2 is on a majority, but its own term-4
 * entry at 3 is on S1 only. S5 (down) holds [1:1 2:3]; S4 holds [1:1]. */
static void figure8_c(struct fx *f)
{
    static const uint64_t s1[] = {2};
    static const uint64_t s5[] = {3};
    struct raft_entry *l1 = fx_make_log(5, s1, 1), *l5 = fx_make_log(5, s5, 1);
    fx_init_empty(f);
    fx_boot(f, 1, NULL, (struct raft_hard_state){3, 0}, l1, 2);
    fx_boot(f, 2, NULL, (struct raft_hard_state){3, 5}, l1, 1);
    fx_boot(f, 3, NULL, (struct raft_hard_state){3, 5}, l1, 1);
    fx_boot(f, 4, NULL, (struct raft_hard_state){3, 5}, l1, 1);
    fx_boot(f, 5, NULL, (struct raft_hard_state){3, 5}, l5, 2);
    fx_free_entries(l1, 2);
    fx_free_entries(l5, 2);
    fx_crash(f, 5);
    fx_cut(f, 1, 4);
    f->rewrite = strip_index3;
    fx_tick(f, 1, 2 * E);
    fx_settle_if(f, fx_pred_election, NULL);
    ck_assert_int_eq(raft_role(fx_raft(f, 1)), RAFT_LEADER);
    ck_assert_uint_eq(raft_term(fx_raft(f, 1)), 4);
    /* The stripped messages are acknowledged and resent for ever: run a while. */
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 20; i++)
            fx_deliver(f);
        fx_tick(f, 1, HB);
    }
    for (int i = 0; i < 20; i++)
        fx_deliver(f);
    ck_assert_uint_eq(raft_last_index(fx_raft(f, 1)), 3);
    for (uint64_t id = 2; id <= 3; id++) {
        ck_assert_uint_eq(raft_last_index(fx_raft(f, id)), 2);
        ck_assert_uint_eq(raft_term_at(fx_raft(f, id), 2), 2);
    }
    ck_assert_uint_eq(raft_last_index(fx_raft(f, 4)), 1);
}

/* Raft §5.4.2: the term-2 entry replicated on S1, S2, S3 must not be committed by
 * counting replicas; S1 crashes, S5 wins term 5 with S2, S3, S4 and overwrites it,
 * which is safe precisely because nobody committed or applied it. */
START_TEST(test_figure8_no_commit_by_counting)
{
    struct fx f;
    figure8_c(&f);
    for (uint64_t id = 1; id <= 4; id++)
        ck_assert_msg(raft_commit(fx_raft(&f, id)) <= 1,
                      "S%" PRIu64 " commits index %" PRIu64
                      " while the term-4 entry is on S1 only (Figure 8 c)",
                      id, raft_commit(fx_raft(&f, id)));
    ck_assert_uint_le(fx_node(&f, 1)->applied, 1);

    /* (d): S1 crashes, S5 returns and is elected by S2, S3, S4. */
    fx_crash(&f, 1);
    fx_heal(&f);
    f.rewrite = NULL;
    fx_drop_all(&f);
    fx_restart(&f, 5);
    fx_elect(&f, 5);
    fx_tick(&f, 5, HB);
    fx_settle(&f);
    for (uint64_t id = 2; id <= 5; id++) {
        ck_assert_uint_eq(raft_term_at(fx_raft(&f, id), 2), 3);
        ck_assert_uint_eq(raft_commit(fx_raft(&f, id)), raft_last_index(fx_raft(&f, 5)));
    }
    fx_check_log_matching(&f);
    fx_destroy(&f);
}
END_TEST

/* Figure 8 (e): once S1 replicates its term-4 entry to a majority, index 3 and with
 * it index 2 are committed, and S5 can no longer be elected. */
START_TEST(test_figure8_safe_outcome)
{
    struct fx f;
    figure8_c(&f);
    f.rewrite = NULL;
    fx_run(&f, 3 * HB);
    ck_assert_uint_eq(raft_commit(fx_raft(&f, 1)), 3);
    ck_assert_uint_eq(fx_node(&f, 1)->applied, 3);
    ck_assert_uint_eq(raft_term_at(fx_raft(&f, 2), 3), 4);
    ck_assert_uint_eq(raft_term_at(fx_raft(&f, 3), 3), 4);

    fx_crash(&f, 1);
    fx_heal(&f);
    fx_drop_all(&f);
    fx_restart(&f, 5);
    for (int i = 0; i < 40; i++) {
        fx_run(&f, E / 2);
        ck_assert_int_ne(raft_role(fx_raft(&f, 5)), RAFT_LEADER);
    }
    uint64_t l = fx_leader(&f);
    ck_assert_msg(l == 2 || l == 3, "leader after S1's crash: %" PRIu64, l);
    fx_run(&f, 3 * HB);
    for (uint64_t id = 2; id <= 5; id++) {
        ck_assert_uint_eq(raft_term_at(fx_raft(&f, id), 2), 2);
        ck_assert_uint_eq(raft_term_at(fx_raft(&f, id), 3), 4);
        ck_assert_uint_ge(fx_node(&f, id)->applied, 3);
    }
    fx_check_log_matching(&f);
    fx_destroy(&f);
}
END_TEST

int main(void)
{
    const struct fx_case cases[] = {
        {"figure7", test_figure7, 0},
        {"figure8_no_commit_by_counting", test_figure8_no_commit_by_counting, 0},
        {"figure8_safe_outcome", test_figure8_safe_outcome, 0},
    };
    return fx_main("raft_figures", cases, sizeof(cases) / sizeof(cases[0]));
}
