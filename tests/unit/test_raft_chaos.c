/* Randomized unit test of the Raft core: the fixture's invariants under loss,
 * duplication, reordering, partitions, slow disks, crashes and compaction. */
#include "raft_fixture.c"

#define E FX_ELECTION_MS
#define HB FX_HEARTBEAT_MS
#define N_SERVERS 5
#define SEEDS 24
#define STEPS 2500

static uint64_t next_rand(uint64_t *s)
{
    /* xorshift64* */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

static uint64_t pick(uint64_t *s, uint64_t n)
{
    return next_rand(s) % n;
}

static size_t up_count(struct fx *f)
{
    size_t c = 0;
    for (uint64_t id = 1; id <= f->n; id++)
        c += f->node[id].up;
    return c;
}

/* One round over the outbox: each message is lost, duplicated, held back for a
 * later round, or delivered. */
static void deliver_chaotic(struct fx *f, uint64_t *s)
{
    struct fx_msg *batch = f->out;
    size_t n = f->n_out;
    f->out = NULL;
    f->n_out = f->cap_out = 0;
    struct fx_msg *later = NULL;
    size_t n_later = 0, cap_later = 0;
    for (size_t i = 0; i < n; i++) {
        struct raft_message *m = &batch[i].m;
        uint64_t p = pick(s, 100);
        if (p < 20) {
            GROW(later, n_later, cap_later);
            later[n_later++] = batch[i];
            continue;
        }
        bool ok = m->to >= 1 && m->to <= f->n && f->node[m->to].up &&
                  !f->cut[m->from <= FX_MAX ? m->from : 0][m->to];
        if (p >= 30 && ok) {
            fx_step(f, m->to, m);
            if (p >= 95 && f->node[m->to].up)
                fx_step(f, m->to, m);
        }
        raft_message_clear(m);
    }
    free(batch);
    for (size_t i = 0; i < f->n_out; i++) {
        GROW(later, n_later, cap_later);
        later[n_later++] = f->out[i];
    }
    free(f->out);
    f->out = later;
    f->n_out = n_later;
    f->cap_out = cap_later;
}

static void random_step(struct fx *f, uint64_t *s, unsigned *proposals)
{
    uint64_t r = pick(s, 100);
    uint64_t id = 1 + pick(s, f->n);
    struct fx_node *n = &f->node[id];
    if (r < 30) {
        fx_tick(f, id, 1 + pick(s, 2 * HB));
    } else if (r < 62) {
        deliver_chaotic(f, s);
    } else if (r < 72) {
        uint64_t l = fx_leader(f);
        if (l) {
            char buf[32];
            snprintf(buf, sizeof(buf), "p%u", (*proposals)++);
            uint64_t index, term;
            int rc = raft_propose(fx_raft(f, l), buf, strlen(buf), &index, &term);
            ck_assert(rc == 0 || rc == BATON_EBUSY);
            fx_pump(f, l);
        }
    } else if (r < 74) {
        if (n->up && up_count(f) > 3)
            fx_crash(f, id);
    } else if (r < 78) {
        if (!n->up)
            fx_restart(f, id);
    } else if (r < 80) {
        if (n->up && !n->hold && n->applied > raft_snapshot_index(n->r))
            fx_compact(f, id, n->applied, pick(s, 3));
    } else if (r < 82) {
        uint64_t l = fx_leader(f);
        if (l)
            ck_assert_int_eq(raft_read_index(fx_raft(f, l), next_rand(s)), 0);
    } else if (r < 83) {
        uint64_t l = fx_leader(f);
        if (l) {
            int rc = raft_transfer(fx_raft(f, l), 1 + pick(s, f->n));
            ck_assert(rc == 0 || rc == BATON_EBUSY || rc == BATON_EINVAL);
            fx_pump(f, l);
        }
    } else if (r < 87) {
        if (n->up && n->hold)
            fx_release(f, id);
        else if (n->up)
            fx_hold(f, id);
    } else if (r < 89) {
        fx_cut(f, id, 1 + pick(s, f->n));
    } else if (r < 91) {
        fx_heal(f);
    }
}

/* After the storm: everything heals, and the cluster must converge. */
static void converge(struct fx *f, uint64_t seed)
{
    fx_heal(f);
    for (uint64_t id = 1; id <= f->n; id++) {
        if (!f->node[id].up)
            fx_restart(f, id);
        else if (f->node[id].hold)
            fx_release(f, id);
    }
    uint64_t l = 0;
    for (int i = 0; i < 50 && !(l = fx_leader(f)); i++)
        fx_run(f, E);
    ck_assert_msg(l != 0, "seed %" PRIu64 ": no leader after healing", seed);
    for (int i = 0; i < 20; i++) {
        l = fx_leader(f);
        uint64_t index, term;
        if (l && raft_propose(fx_raft(f, l), "final", 5, &index, &term) == 0)
            break;
        fx_run(f, E);
    }
    fx_run(f, 5 * E);
    l = fx_leader(f);
    ck_assert_msg(l != 0, "seed %" PRIu64 ": leader lost while converging", seed);
    uint64_t commit = raft_commit(fx_raft(f, l));
    for (uint64_t id = 1; id <= f->n; id++) {
        ck_assert_msg(fx_node(f, id)->applied == commit,
                      "seed %" PRIu64 ": server %" PRIu64 " applied %" PRIu64
                      " of %" PRIu64 " after healing",
                      seed, id, fx_node(f, id)->applied, commit);
        if (id != l)
            fx_assert_same_applied(f, l, id);
    }
    fx_check_log_matching(f);
}

/* The invariants of the fixture hold under every seed, and the cluster converges
 * once the network heals (Raft §5: safety always, liveness when stable). */
START_TEST(test_chaos)
{
    uint64_t seed = 1000 + (uint64_t)_i;
    uint64_t s = seed * 0x9e3779b97f4a7c15ull;
    struct raft_options o;
    fx_options(&o);
    o.seed = seed;
    o.max_inflight = 3;
    o.max_batch_entries = 4;
    o.snapshot_chunk_bytes = 64;
    struct fx f;
    fx_init(&f, N_SERVERS, &o);
    unsigned proposals = 0;
    for (int step = 0; step < STEPS; step++)
        random_step(&f, &s, &proposals);
    converge(&f, seed);
    fx_destroy(&f);
}
END_TEST

int main(void)
{
    const struct fx_case cases[] = {
        {"chaos", test_chaos, SEEDS},
    };
    return fx_main("raft_chaos", cases, sizeof(cases) / sizeof(cases[0]));
}
