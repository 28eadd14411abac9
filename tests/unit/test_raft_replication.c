/* Unit tests of Raft log replication: no-op, batching, pipelining, backoff, commit. */
#include "raft_fixture.c"

#define E FX_ELECTION_MS
#define HB FX_HEARTBEAT_MS

static bool is_append_to(const struct raft_message *m, void *ctx)
{
    return m->type == RAFT_MSG_APPEND && m->to == *(const uint64_t *)ctx;
}

static bool is_append_resp_from(const struct raft_message *m, void *ctx)
{
    return m->type == RAFT_MSG_APPEND_RESP && m->from == *(const uint64_t *)ctx;
}

/* Matches the first message of a kind only (ctx: struct first_of). */
struct first_of {
    fx_pred pred;
    void *ctx;
    bool taken;
};

static bool first_match(const struct raft_message *m, void *ctx)
{
    struct first_of *fo = ctx;
    if (fo->taken || !fo->pred(m, fo->ctx))
        return false;
    fo->taken = true;
    return true;
}

/* Raft §8: a new leader appends a no-op of its term; it commits everywhere. */
START_TEST(test_noop_on_election)
{
    struct fx f;
    fx_init(&f, 3, NULL);
    fx_elect(&f, 1);
    struct raft *r1 = fx_raft(&f, 1);
    uint64_t t = raft_term(r1);
    ck_assert_uint_eq(raft_last_index(r1), 2);
    const struct raft_entry *e = raft_entry_at(r1, 2);
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(e->type, RAFT_ENTRY_NOOP);
    ck_assert_uint_eq(e->term, t);
    ck_assert_uint_eq(raft_commit(r1), 2);
    fx_tick(&f, 1, HB);
    fx_settle(&f);
    for (uint64_t id = 1; id <= 3; id++) {
        ck_assert_uint_eq(raft_last_index(fx_raft(&f, id)), 2);
        ck_assert_uint_eq(raft_term_at(fx_raft(&f, id), 2), t);
        ck_assert_uint_eq(raft_commit(fx_raft(&f, id)), 2);
        ck_assert_uint_eq(fx_node(&f, id)->applied, 2);
    }
    fx_destroy(&f);
}
END_TEST

/* Proposals get consecutive indices of the leader's term, commit and apply in
 * order everywhere; followers refuse proposals. */
START_TEST(test_proposals_consecutive)
{
    struct fx f;
    fx_init(&f, 3, NULL);
    fx_elect(&f, 1);
    char buf[16];
    for (int i = 0; i < 5; i++) {
        snprintf(buf, sizeof(buf), "cmd%d", i);
        ck_assert_uint_eq(fx_propose(&f, 1, buf), 3 + (uint64_t)i);
    }
    fx_settle(&f);
    fx_tick(&f, 1, HB);
    fx_settle(&f);
    for (uint64_t id = 1; id <= 3; id++) {
        struct fx_node *n = fx_node(&f, id);
        ck_assert_uint_eq(n->applied, 7);
        ck_assert_uint_eq(n->n_sm, 7);
        for (int i = 0; i < 5; i++) {
            snprintf(buf, sizeof(buf), "cmd%d", i);
            ck_assert_uint_eq(n->sm[2 + i].index, 3 + (uint64_t)i);
            ck_assert_int_eq(n->sm[2 + i].type, RAFT_ENTRY_NORMAL);
            ck_assert_uint_eq(n->sm[2 + i].data.len, strlen(buf));
            ck_assert(memcmp(n->sm[2 + i].data.base, buf, strlen(buf)) == 0);
        }
    }
    fx_assert_same_applied(&f, 1, 2);
    fx_assert_same_applied(&f, 1, 3);
    uint64_t index, term;
    ck_assert_int_eq(raft_propose(fx_raft(&f, 2), "x", 1, &index, &term), BATON_ENOTLEADER);
    fx_destroy(&f);
}
END_TEST

/* Proposals made between two raft_ready_get calls travel to a follower together,
 * at most max_batch_entries per AppendEntries. */
START_TEST(test_batching)
{
    static const unsigned batches[] = {256, 2};
    for (size_t b = 0; b < 2; b++) {
        unsigned batch = batches[b];
        struct raft_options o;
        fx_options(&o);
        o.max_batch_entries = batch;
        struct fx f;
        fx_init(&f, 3, &o);
        fx_elect(&f, 1);
        uint64_t index, term;
        for (int i = 0; i < 5; i++)
            ck_assert_int_eq(raft_propose(fx_raft(&f, 1), "abc", 3, &index, &term), 0);
        fx_pump(&f, 1);
        size_t n = fx_count(&f, 1, 2, RAFT_MSG_APPEND);
        ck_assert_uint_eq(n, batch == 256 ? 1 : 3);
        uint64_t next = 3;
        for (size_t k = 0; k < n; k++) {
            const struct raft_message *m = &fx_find(&f, 1, 2, RAFT_MSG_APPEND, k)->m;
            ck_assert_uint_le(m->n_entries, batch);
            ck_assert_uint_eq(m->prev_index, next - 1);
            for (size_t i = 0; i < m->n_entries; i++)
                ck_assert_uint_eq(m->entries[i].index, next++);
        }
        ck_assert_uint_eq(next, 8);
        fx_settle(&f);
        ck_assert_uint_eq(raft_commit(fx_raft(&f, 1)), 7);
        fx_destroy(&f);
    }
}
END_TEST

/* With max_inflight = K a follower in replicate state has at most K
 * AppendEntries outstanding; each acknowledgement frees one slot. */
START_TEST(test_pipelining)
{
    struct raft_options o;
    fx_options(&o);
    o.max_inflight = 2;
    struct fx f;
    fx_init(&f, 3, &o);
    fx_elect(&f, 1);
    fx_tick(&f, 1, HB);
    fx_settle(&f);
    for (int i = 0; i < 4; i++)
        fx_propose(&f, 1, "p");
    ck_assert_uint_eq(fx_count(&f, 1, 2, RAFT_MSG_APPEND), 2);
    ck_assert_uint_eq(fx_count(&f, 1, 3, RAFT_MSG_APPEND), 2);
    ck_assert_uint_eq(fx_find(&f, 1, 2, RAFT_MSG_APPEND, 0)->m.n_entries, 1);
    ck_assert_uint_eq(fx_find(&f, 1, 2, RAFT_MSG_APPEND, 0)->m.entries[0].index, 3);
    ck_assert_uint_eq(fx_find(&f, 1, 2, RAFT_MSG_APPEND, 1)->m.entries[0].index, 4);

    uint64_t two = 2;
    fx_deliver_if(&f, is_append_to, &two);
    ck_assert_uint_eq(fx_count(&f, 2, 1, RAFT_MSG_APPEND_RESP), 2);
    ck_assert_uint_eq(fx_count(&f, 1, 2, RAFT_MSG_APPEND), 0);
    struct first_of fo = {is_append_resp_from, &two, false};
    fx_deliver_if(&f, first_match, &fo);
    ck_assert_uint_eq(fx_count(&f, 1, 2, RAFT_MSG_APPEND), 1);
    const struct raft_message *m = &fx_find(&f, 1, 2, RAFT_MSG_APPEND, 0)->m;
    ck_assert_uint_eq(m->prev_index, 4);
    ck_assert_uint_eq(m->n_entries, 2);
    ck_assert_uint_eq(m->entries[1].index, 6);
    fx_settle(&f);
    fx_tick(&f, 1, HB);
    fx_settle(&f);
    for (uint64_t id = 1; id <= 3; id++)
        ck_assert_uint_eq(fx_node(&f, id)->applied, 6);
    fx_destroy(&f);
}
END_TEST

/* Server 1: [1:1 2:1 3:1 4:4 5:4] term 4. Server 2: [1:1 2:1 3:1 4:2 .. 7:2 8:3 9:3
 * 10:3] term 3. Server 3: [1:1] term 1. Server 1 wins term 5 (its last term is the
 * highest) with its no-op at 6. Returns with the election messages delivered. */
static void boot_divergent(struct fx *f)
{
    static const uint64_t t1[] = {1, 1, 4, 4};
    static const uint64_t t2[] = {1, 1, 2, 2, 2, 2, 3, 3, 3};
    struct raft_entry *l1 = fx_make_log(3, t1, 4), *l2 = fx_make_log(3, t2, 9);
    fx_init_empty(f);
    fx_boot(f, 1, NULL, (struct raft_hard_state){4, 0}, l1, 5);
    fx_boot(f, 2, NULL, (struct raft_hard_state){3, 0}, l2, 10);
    fx_boot(f, 3, NULL, (struct raft_hard_state){1, 0}, l1, 1);
    fx_free_entries(l1, 5);
    fx_free_entries(l2, 10);
    fx_tick(f, 1, 2 * E);
    fx_settle_if(f, fx_pred_election, NULL);
    ck_assert_int_eq(raft_role(fx_raft(f, 1)), RAFT_LEADER);
    ck_assert_uint_eq(raft_term(fx_raft(f, 1)), 5);
    ck_assert_uint_eq(raft_last_index(fx_raft(f, 1)), 6);
}

static void count_rejects(const struct raft_message *m, void *ctx)
{
    if (m->type == RAFT_MSG_APPEND_RESP && m->reject)
        (*(unsigned *)ctx)++;
}

/* A follower rejects a mismatching prev term with hints (its term at prev_index and
 * the first index of that term, or last+1 if its log is shorter); the leader skips
 * the whole conflicting term in one round trip (Raft §5.3, the optimization at its
 * end), and the follower ends with the leader's log. */
START_TEST(test_reject_fast_backoff)
{
    struct fx f;
    boot_divergent(&f);
    uint64_t two = 2, three = 3;
    fx_deliver_if(&f, is_append_to, &two);
    ck_assert_uint_ge(fx_count(&f, 2, 1, RAFT_MSG_APPEND_RESP), 1);
    for (size_t k = 0; k < fx_count(&f, 2, 1, RAFT_MSG_APPEND_RESP); k++) {
        const struct raft_message *m = &fx_find(&f, 2, 1, RAFT_MSG_APPEND_RESP, k)->m;
        ck_assert(m->reject);
        ck_assert_uint_eq(m->hint_term, 2);
        ck_assert_uint_eq(m->hint_index, 4);
    }
    fx_deliver_if(&f, is_append_resp_from, &two);
    ck_assert_uint_ge(fx_count(&f, 1, 2, RAFT_MSG_APPEND), 1);
    const struct raft_message *m = &fx_find(&f, 1, 2, RAFT_MSG_APPEND, 0)->m;
    ck_assert_msg(m->prev_index >= 1 && m->prev_index <= 3,
                  "after one rejection the leader retries at prev_index %" PRIu64
                  ", not below the conflicting term 2 (<= 3)",
                  m->prev_index);
    ck_assert_uint_eq(m->prev_term, 1);

    fx_deliver_if(&f, is_append_to, &three);
    ck_assert_uint_ge(fx_count(&f, 3, 1, RAFT_MSG_APPEND_RESP), 1);
    m = &fx_find(&f, 3, 1, RAFT_MSG_APPEND_RESP, 0)->m;
    ck_assert(m->reject);
    ck_assert_uint_eq(m->hint_term, 0);
    ck_assert_uint_eq(m->hint_index, 2);

    unsigned rejects = 0;
    f.observe = count_rejects;
    f.observe_ctx = &rejects;
    fx_settle(&f);
    ck_assert_uint_le(rejects, 1);
    fx_tick(&f, 1, HB);
    fx_settle(&f);
    for (uint64_t id = 2; id <= 3; id++) {
        ck_assert_uint_eq(raft_last_index(fx_raft(&f, id)), 6);
        fx_assert_same_log(&f, 1, id, 1, 6);
        ck_assert_uint_eq(raft_commit(fx_raft(&f, id)), 6);
    }
    fx_destroy(&f);
}
END_TEST

/* A follower deletes a conflicting suffix, durably, but never truncates on a
 * stale AppendEntries whose entries it already holds (Raft Figure 2, receiver 3). */
START_TEST(test_truncate_conflict)
{
    struct fx f;
    boot_divergent(&f);
    fx_settle(&f);
    struct fx_node *n2 = fx_node(&f, 2);
    ck_assert_uint_eq(fx_store_last(n2), 6);
    ck_assert_uint_eq(raft_last_index(n2->r), 6);
    ck_assert_ptr_null(raft_entry_at(n2->r, 7));
    ck_assert_uint_eq(raft_term_at(n2->r, 4), 4);
    ck_assert_uint_eq(raft_term_at(n2->r, 6), 5);
    for (size_t i = 0; i < n2->store.n_log; i++) {
        const struct raft_entry *d = &n2->store.log[i];
        ck_assert_uint_eq(d->term, raft_term_at(fx_raft(&f, 1), d->index));
    }

    struct raft_message m = fx_mk(RAFT_MSG_APPEND, 1, 2, 5);
    m.prev_index = 3;
    m.prev_term = 1;
    m.entries = (struct raft_entry *)raft_entry_at(fx_raft(&f, 1), 4);
    m.n_entries = 1;
    fx_step(&f, 2, &m);
    const struct fx_msg *resp = fx_last(&f, 2, 1, RAFT_MSG_APPEND_RESP);
    ck_assert_ptr_nonnull(resp);
    ck_assert(!resp->m.reject);
    ck_assert_uint_ge(resp->m.index, 4);
    ck_assert_uint_eq(raft_last_index(n2->r), 6);
    ck_assert_uint_eq(fx_store_last(n2), 6);
    ck_assert_uint_eq(raft_term_at(n2->r, 6), 5);
    fx_destroy(&f);
}
END_TEST

/* Raft §10.2.1: the leader sends AppendEntries while its own write runs, but its
 * own entry counts toward a majority only once persisted; followers acknowledge
 * only what they persisted; heartbeats carry the commit index, capped at the
 * follower's match. */
START_TEST(test_commit_after_majority_persisted)
{
    struct fx f;
    fx_init(&f, 3, NULL);
    fx_elect(&f, 1);
    fx_cut(&f, 1, 3);
    fx_hold(&f, 1);
    uint64_t idx = fx_propose(&f, 1, "x");
    const struct fx_msg *app = fx_last(&f, 1, 2, RAFT_MSG_APPEND);
    ck_assert_ptr_nonnull(app);
    ck_assert(!app->after_persist);
    fx_settle(&f);
    ck_assert_uint_eq(raft_term_at(fx_raft(&f, 2), idx), raft_term(fx_raft(&f, 1)));
    ck_assert_uint_eq(raft_commit(fx_raft(&f, 1)), idx - 1);
    fx_release(&f, 1);
    ck_assert_uint_eq(raft_commit(fx_raft(&f, 1)), idx);
    ck_assert_uint_eq(fx_node(&f, 1)->applied, idx);

    fx_drop_all(&f);
    fx_tick(&f, 1, HB);
    const struct fx_msg *hb2 = fx_last(&f, 1, 2, RAFT_MSG_HEARTBEAT);
    const struct fx_msg *hb3 = fx_last(&f, 1, 3, RAFT_MSG_HEARTBEAT);
    ck_assert_ptr_nonnull(hb2);
    ck_assert_ptr_nonnull(hb3);
    ck_assert_uint_eq(hb2->m.commit, idx);
    ck_assert_uint_le(hb3->m.commit, idx - 1);
    fx_settle(&f);
    ck_assert_uint_eq(raft_commit(fx_raft(&f, 2)), idx);
    ck_assert_uint_eq(fx_node(&f, 2)->applied, idx);

    /* A follower whose write has not synced does not acknowledge. */
    fx_heal(&f);
    fx_tick(&f, 1, HB);
    fx_settle(&f);
    ck_assert_uint_eq(raft_commit(fx_raft(&f, 3)), idx);
    fx_cut(&f, 1, 2);
    fx_hold(&f, 3);
    uint64_t idx2 = fx_propose(&f, 1, "y");
    fx_settle(&f);
    ck_assert_uint_eq(raft_term_at(fx_raft(&f, 3), idx2), raft_term(fx_raft(&f, 1)));
    ck_assert_uint_lt(raft_commit(fx_raft(&f, 1)), idx2);
    fx_release(&f, 3);
    fx_settle(&f);
    ck_assert_uint_eq(raft_commit(fx_raft(&f, 1)), idx2);
    fx_destroy(&f);
}
END_TEST

/* Raft §5.1: an AppendEntries from a deposed leader (older term) is refused with
 * the current term, leaves the log alone, and makes the old leader step down. */
START_TEST(test_stale_term_append)
{
    struct fx f;
    fx_init(&f, 3, NULL);
    fx_elect(&f, 1);
    uint64_t t = raft_term(fx_raft(&f, 1));
    fx_isolate(&f, 1);
    fx_elect(&f, 2);
    ck_assert_uint_eq(raft_term(fx_raft(&f, 2)), t + 1);
    fx_tick(&f, 2, HB);
    fx_settle(&f);
    uint64_t last3 = raft_last_index(fx_raft(&f, 3));
    ck_assert_uint_eq(raft_commit(fx_raft(&f, 3)), last3);

    ck_assert_int_eq(raft_role(fx_raft(&f, 1)), RAFT_LEADER);
    uint64_t stale = fx_propose(&f, 1, "stale");
    fx_heal(&f);
    uint64_t three = 3;
    fx_deliver_if(&f, is_append_to, &three);
    const struct fx_msg *resp = fx_last(&f, 3, 1, RAFT_MSG_APPEND_RESP);
    ck_assert_ptr_nonnull(resp);
    ck_assert(resp->m.reject);
    ck_assert_uint_eq(resp->m.term, t + 1);
    ck_assert_uint_eq(raft_term(fx_raft(&f, 3)), t + 1);
    ck_assert_uint_eq(raft_last_index(fx_raft(&f, 3)), last3);
    ck_assert_uint_eq(raft_term_at(fx_raft(&f, 3), last3), t + 1);

    fx_settle(&f);
    ck_assert_int_eq(raft_role(fx_raft(&f, 1)), RAFT_FOLLOWER);
    ck_assert_uint_eq(raft_term(fx_raft(&f, 1)), t + 1);
    fx_tick(&f, 2, HB);
    fx_settle(&f);
    ck_assert_uint_eq(raft_term_at(fx_raft(&f, 1), stale), t + 1);
    fx_assert_same_log(&f, 1, 2, 1, raft_last_index(fx_raft(&f, 2)));
    fx_assert_same_applied(&f, 1, 2);
    fx_destroy(&f);
}
END_TEST

int main(void)
{
    const struct fx_case cases[] = {
        {"noop_on_election", test_noop_on_election, 0},
        {"proposals_consecutive", test_proposals_consecutive, 0},
        {"batching", test_batching, 0},
        {"pipelining", test_pipelining, 0},
        {"reject_fast_backoff", test_reject_fast_backoff, 0},
        {"truncate_conflict", test_truncate_conflict, 0},
        {"commit_after_majority_persisted", test_commit_after_majority_persisted, 0},
        {"stale_term_append", test_stale_term_append, 0},
    };
    return fx_main("raft_replication", cases, sizeof(cases) / sizeof(cases[0]));
}
