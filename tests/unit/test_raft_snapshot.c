/* Unit tests of log compaction and chunked InstallSnapshot (Raft §7). */
#include "raft_fixture.c"

#define E FX_ELECTION_MS
#define HB FX_HEARTBEAT_MS
#define CHUNK 64

/* A 3-server cluster led by 1 in which 3 missed n proposals that 1 then compacted
 * away (no trailing entries); 3 is still cut off. */
static void lagging_follower(struct fx *f, int n)
{
    struct raft_options o;
    fx_options(&o);
    o.snapshot_chunk_bytes = CHUNK;
    fx_init(f, 3, &o);
    fx_elect(f, 1);
    fx_isolate(f, 3);
    char buf[32];
    for (int i = 0; i < n; i++) {
        snprintf(buf, sizeof(buf), "command-%02d", i);
        fx_propose(f, 1, buf);
    }
    fx_settle(f);
    fx_tick(f, 1, HB);
    fx_tick(f, 2, HB);
    fx_settle(f);
    uint64_t applied = fx_node(f, 1)->applied;
    ck_assert_uint_eq(applied, raft_last_index(fx_raft(f, 1)));
    fx_compact(f, 1, applied, 0);
    ck_assert_uint_eq(raft_first_index(fx_raft(f, 1)), applied + 1);
}

/* raft_compact drops the covered prefix (keeping trailing entries), the snapshot's
 * term stays known at its index, and bad requests are refused. */
START_TEST(test_compact)
{
    struct fx f;
    fx_init(&f, 3, NULL);
    fx_elect(&f, 1);
    for (int i = 0; i < 10; i++)
        fx_propose(&f, 1, "c");
    fx_settle(&f);
    fx_tick(&f, 1, HB);
    fx_settle(&f);
    struct raft *r1 = fx_raft(&f, 1), *r2 = fx_raft(&f, 2);
    uint64_t t = raft_term(r1);
    ck_assert_uint_eq(raft_commit(r2), 12);
    ck_assert_uint_eq(fx_node(&f, 2)->applied, 12);

    struct raft_snapshot_meta meta;
    ck_assert_int_eq(raft_snapshot_meta(r1, 13, &meta), BATON_EINVAL);
    ck_assert_int_eq(raft_snapshot_meta(r1, 8, &meta), 0);
    ck_assert_uint_eq(meta.index, 8);
    ck_assert_uint_eq(meta.term, t);
    ck_assert_uint_eq(raft_conf_voters(&meta.conf), 3);
    struct raft_snapshot_meta ahead = meta;
    ahead.index = 13;
    ck_assert_int_eq(raft_compact(r1, &ahead, "x", 1, 0), BATON_EINVAL);
    fx_compact(&f, 1, 8, 0);
    ck_assert_uint_eq(raft_first_index(r1), 9);
    ck_assert_uint_eq(raft_snapshot_index(r1), 8);
    ck_assert_uint_eq(raft_term_at(r1, 8), t);
    ck_assert_ptr_null(raft_entry_at(r1, 8));
    ck_assert_ptr_nonnull(raft_entry_at(r1, 9));
    ck_assert_uint_eq(raft_last_index(r1), 12);
    /* Older than the current snapshot. */
    struct raft_snapshot_meta old;
    ck_assert_int_eq(raft_snapshot_meta(r2, 5, &old), 0);
    ck_assert_int_eq(raft_compact(r1, &old, "x", 1, 0), BATON_EINVAL);

    fx_compact(&f, 2, 10, 3);
    ck_assert_uint_eq(raft_first_index(r2), 8);
    ck_assert_uint_eq(raft_snapshot_index(r2), 10);
    ck_assert_uint_eq(raft_term_at(r2, 10), t);
    ck_assert_uint_eq(raft_entry_at(r2, 8)->index, 8);

    /* The cluster goes on, and a compacted follower restarts from its snapshot. */
    fx_propose(&f, 1, "after");
    fx_settle(&f);
    fx_crash(&f, 2);
    fx_restart(&f, 2);
    ck_assert_uint_eq(raft_snapshot_index(fx_raft(&f, 2)), 10);
    ck_assert_uint_eq(raft_last_index(fx_raft(&f, 2)), 13);
    fx_run(&f, 3 * HB);
    ck_assert_uint_eq(fx_node(&f, 2)->applied, 13);
    fx_assert_same_applied(&f, 1, 2);
    fx_destroy(&f);
}
END_TEST

struct chunk_log {
    uint64_t next_offset;
    unsigned chunks;
    unsigned done;
    bool ordered;
};

static void watch_chunks(const struct raft_message *m, void *ctx)
{
    struct chunk_log *cl = ctx;
    if (m->type != RAFT_MSG_SNAPSHOT || m->to != 3)
        return;
    ck_assert_uint_le(m->chunk.len, CHUNK);
    if (m->offset != cl->next_offset)
        cl->ordered = false;
    cl->next_offset = m->offset + m->chunk.len;
    cl->chunks++;
    cl->done += m->done;
}

/* A follower behind the compacted prefix gets the snapshot in chunks, installs it
 * (its state machine then equals the leader's) and catches up with what follows. */
START_TEST(test_snapshot_chunks)
{
    struct fx f;
    lagging_follower(&f, 20);
    uint64_t snap = raft_snapshot_index(fx_raft(&f, 1));
    struct chunk_log cl = {0, 0, 0, true};
    f.observe = watch_chunks;
    f.observe_ctx = &cl;
    fx_heal(&f);
    fx_run(&f, 2 * HB);
    ck_assert_uint_ge(cl.chunks, 3);
    ck_assert_uint_eq(cl.done, 1);
    ck_assert(cl.ordered);
    ck_assert_uint_eq(cl.next_offset, fx_node(&f, 1)->store.snap->data.len);
    struct fx_node *n3 = fx_node(&f, 3);
    ck_assert_uint_eq(n3->snapshots_installed, 1);
    ck_assert_uint_eq(raft_snapshot_index(n3->r), snap);
    ck_assert_ptr_nonnull(n3->store.snap);
    ck_assert_uint_eq(n3->store.snap->meta.index, snap);
    ck_assert_uint_eq(raft_conf_voters(raft_conf(n3->r)), 3);
    fx_assert_same_applied(&f, 1, 3);

    uint64_t idx = fx_propose(&f, 1, "after-snapshot");
    fx_settle(&f);
    fx_run(&f, 2 * HB);
    ck_assert_uint_eq(n3->applied, idx);
    ck_assert_uint_eq(raft_last_index(n3->r), idx);
    fx_assert_same_applied(&f, 1, 3);

    /* The installed snapshot survives a restart. */
    fx_crash(&f, 3);
    fx_restart(&f, 3);
    ck_assert_uint_eq(raft_snapshot_index(fx_raft(&f, 3)), snap);
    fx_run(&f, 2 * HB);
    fx_assert_same_applied(&f, 1, 3);
    fx_destroy(&f);
}
END_TEST

struct chaos {
    struct raft_message first; /* a copy of the first chunk */
    bool have_first;
    bool done;
};

/* Delivers the chunks in order, except that a later chunk arrives twice, then the
 * stale first chunk again, then the later one a third time. */
static void chaotic_transfer(struct fx *f, struct chaos *c)
{
    for (int round = 0; round < 200 && f->n_out > 0; round++) {
        struct fx_msg *batch = f->out;
        size_t n = f->n_out;
        f->out = NULL;
        f->n_out = f->cap_out = 0;
        for (size_t i = 0; i < n; i++) {
            struct raft_message *m = &batch[i].m;
            bool chunk = m->type == RAFT_MSG_SNAPSHOT && m->to == 3;
            fx_step(f, m->to, m);
            if (chunk && !c->have_first) {
                ck_assert_int_eq(raft_message_copy(&c->first, m), 0);
                c->have_first = true;
            } else if (chunk && !c->done && m->offset >= 2 * CHUNK) {
                fx_step(f, m->to, m);
                fx_step(f, m->to, &c->first);
                fx_step(f, m->to, m);
                c->done = true;
            }
            raft_message_clear(m);
        }
        free(batch);
        if (f->n_out == 0) {
            fx_tick(f, 1, HB);
            fx_tick(f, 2, HB);
            fx_tick(f, 3, HB);
        }
        if (fx_node(f, 3)->snapshots_installed && c->done)
            break;
    }
}

/* Duplicate, stale and out-of-place chunks never corrupt the snapshot. */
START_TEST(test_snapshot_stale_chunks)
{
    struct fx f;
    lagging_follower(&f, 20);
    fx_heal(&f);
    struct fx_node *n3 = fx_node(&f, 3);

    /* A chunk far beyond what was received is refused. */
    fx_tick(&f, 1, HB);
    for (int i = 0; i < 10 && fx_count(&f, 1, 3, RAFT_MSG_SNAPSHOT) == 0; i++)
        fx_deliver(&f);
    const struct fx_msg *first = fx_find(&f, 1, 3, RAFT_MSG_SNAPSHOT, 0);
    ck_assert_ptr_nonnull(first);
    struct raft_message gap = first->m;
    gap.offset = 10 * CHUNK;
    gap.done = true;
    fx_step(&f, 3, &gap);
    ck_assert_uint_eq(n3->snapshots_installed, 0);
    ck_assert_uint_eq(raft_snapshot_index(n3->r), 0);

    struct chaos c;
    memset(&c, 0, sizeof(c));
    chaotic_transfer(&f, &c);
    if (c.have_first)
        raft_message_clear(&c.first);
    ck_assert(c.done);
    fx_run(&f, 3 * HB);
    ck_assert_uint_ge(n3->snapshots_installed, 1);
    ck_assert_uint_eq(raft_snapshot_index(n3->r), raft_snapshot_index(fx_raft(&f, 1)));
    ck_assert_uint_eq(n3->store.snap->data.len, fx_node(&f, 1)->store.snap->data.len);
    ck_assert(memcmp(n3->store.snap->data.base, fx_node(&f, 1)->store.snap->data.base,
                     n3->store.snap->data.len) == 0);
    fx_assert_same_applied(&f, 1, 3);
    fx_destroy(&f);
}
END_TEST

int main(void)
{
    const struct fx_case cases[] = {
        {"compact", test_compact, 0},
        {"snapshot_chunks", test_snapshot_chunks, 0},
        {"snapshot_stale_chunks", test_snapshot_stale_chunks, 0},
    };
    return fx_main("raft_snapshot", cases, sizeof(cases) / sizeof(cases[0]));
}
