/* The host model: one raft instance driven exactly as raft.h's ready contract says. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

static void schedule_tick(struct sim *s, struct sim_node *n)
{
    uint64_t at = s->now + sim_rng_range(&s->rng, 1, s->p.tick_max);
    sim_schedule(s, at, SIM_EV_TICK, n->id, n->incarnation, NULL);
}

/* The state machine comes back from the durable snapshot, the G-Counters from their
 * stored records; the core replays the committed entries after the snapshot once it
 * learns the commit index again. */
static void restore_sm(struct sim *s, struct sim_node *n)
{
    memset(&n->sm, 0, sizeof(n->sm));
    if (sim_service_start(s, n) != 0 || !n->d.has_snap)
        return;
    const void *lock_data = NULL;
    size_t lock_len = 0;
    if (sim_sm_decode(n->d.snap.data.base, n->d.snap.data.len, &n->sm, &lock_data,
                      &lock_len) != 0 ||
        sim_service_restore(s, n, lock_data, lock_len, n->d.snap.meta.index) != 0)
        sim_fail(s, "n%" PRIu64 ": durable snapshot does not decode", n->id);
}

void sim_node_start(struct sim *s, struct sim_node *n)
{
    struct raft_options opt = s->p.raft;
    struct raft_boot boot;
    int err = 0;

    n->incarnation++;
    opt.id = n->id;
    opt.seed = sim_mix(s->seed ^ sim_mix(n->id * 1000003u + n->incarnation));
    sim_durable_boot(&n->d, &boot);
    n->r = raft_new(&opt, &boot, s->now, &err);
    if (!n->r) {
        sim_fail(s, "n%" PRIu64 ": raft_new from durable state failed: %s", n->id,
                 baton_strerror(err));
        return;
    }
    n->state = SIM_NODE_UP;
    n->last_sync_at = s->now;
    n->seen_role = raft_role(n->r);
    n->seen_term = raft_term(n->r);
    n->seen_commit = raft_commit(n->r);
    restore_sm(s, n);
    sim_trace(s, "start n%" PRIu64 " (incarnation %" PRIu32 ", term %" PRIu64
              ", log %" PRIu64 "..%" PRIu64 ")", n->id, n->incarnation, raft_term(n->r),
              raft_first_index(n->r), raft_last_index(n->r));
    schedule_tick(s, n);
    sim_node_process(s, n);
}

void sim_node_create(struct sim *s, uint64_t id, const struct raft_entry *bootstrap,
                     uint64_t add_index, uint64_t add_term)
{
    struct sim_node *n = &s->nodes[id];
    memset(n, 0, sizeof(*n));
    n->id = id;
    n->add_index = add_index;
    n->add_term = add_term;
    if (bootstrap && sim_durable_append(&n->d, bootstrap, 1) != 0) {
        sim_fail(s, "out of memory writing the bootstrap entry");
        return;
    }
    sim_node_start(s, n);
}

static void drop_unsynced(struct sim_node *n)
{
    while (n->head) {
        struct sim_batch *b = n->head;
        n->head = b->next;
        if (b->crdt)
            crdt_sync_clear(&b->sync);
        else
            raft_ready_free(&b->rd);
        free(b);
    }
    n->tail = NULL;
}

/* A crash loses the raft instance and every batch not yet synced; the durable state
 * is exactly what completed a sync. Pending SYNC/TICK events see a new incarnation. */
void sim_node_crash(struct sim *s, struct sim_node *n)
{
    if (n->state != SIM_NODE_UP)
        return;
    raft_free(n->r);
    n->r = NULL;
    drop_unsynced(n);
    sim_service_stop(s, n);
    n->state = SIM_NODE_DOWN;
    n->incarnation++;
}

void sim_node_retire(struct sim *s, struct sim_node *n, const char *why)
{
    sim_trace(s, "retire n%" PRIu64 ": %s", n->id, why);
    sim_node_crash(s, n);
    n->state = SIM_NODE_RETIRED;
}

void sim_node_free(struct sim *s, struct sim_node *n)
{
    if (n->r)
        raft_free(n->r);
    n->r = NULL;
    drop_unsynced(n);
    sim_service_stop(s, n);
    sim_durable_free(&n->d);
}

static void send_msgs(struct sim *s, struct sim_node *n, const struct raft_ready *rd,
                      bool after)
{
    for (size_t i = 0; i < rd->n_msgs && !s->failed; i++) {
        bool this_after = rd->after_persist && rd->after_persist[i];
        if (this_after != after)
            continue;
        if (rd->msgs[i].from != n->id) {
            sim_fail(s, "n%" PRIu64 " emitted %s with from=%" PRIu64, n->id,
                     raft_msg_type_name(rd->msgs[i].type), rd->msgs[i].from);
            return;
        }
        sim_check_send(s, n, &rd->msgs[i]);
        sim_net_send(s, &rd->msgs[i]);
    }
}

/* Step 2 of the contract: snapshot, then truncate+append, then hard state. */
static void persist(struct sim *s, struct sim_node *n, const struct raft_ready *rd)
{
    if (rd->snapshot && sim_durable_install(&n->d, rd->snapshot) != 0) {
        sim_fail(s, "n%" PRIu64 ": ready snapshot at %" PRIu64 " is older than the durable one"
                 " at %" PRIu64 " (or out of memory)", n->id, rd->snapshot->meta.index,
                 n->d.snap.meta.index);
        return;
    }
    int rc = sim_durable_append(&n->d, rd->entries, rd->n_entries);
    if (rc == BATON_ECORRUPT) {
        sim_fail(s, "n%" PRIu64 ": ready entries start at %" PRIu64 " but the durable log"
                 " ends at %" PRIu64 " (a hole)", n->id, rd->entries[0].index,
                 sim_durable_last(&n->d));
        return;
    }
    if (rc != 0) {
        sim_fail(s, "out of memory persisting entries");
        return;
    }
    if (rd->has_hard_state) {
        sim_check_hard_state(s, n, &rd->hard_state);
        n->d.hs = rd->hard_state;
    }
}

static void install_snapshot(struct sim *s, struct sim_node *n, const struct raft_snapshot *snap)
{
    struct sim_sm sm;
    const void *lock_data = NULL;
    size_t lock_len = 0;
    if (sim_sm_decode(snap->data.base, snap->data.len, &sm, &lock_data, &lock_len) != 0 ||
        sm.applied != snap->meta.index) {
        sim_fail(s, "n%" PRIu64 ": installed snapshot %" PRIu64 "/%" PRIu64 " carries data that"
                 " does not decode to the state at that index (%zu bytes)", n->id,
                 snap->meta.index, snap->meta.term, snap->data.len);
        return;
    }
    if (sm.applied < n->sm.applied) {
        sim_fail(s, "n%" PRIu64 ": snapshot at %" PRIu64 " would roll the state machine back"
                 " from %" PRIu64, n->id, sm.applied, n->sm.applied);
        return;
    }
    if (sim_service_restore(s, n, lock_data, lock_len, snap->meta.index) != 0) {
        sim_fail(s, "n%" PRIu64 ": installed snapshot %" PRIu64 "/%" PRIu64 " carries a lock"
                 " state that lock_sm_restore refuses", n->id, snap->meta.index,
                 snap->meta.term);
        return;
    }
    sim_check_install(s, n, &snap->meta, &sm, n->svc.lock_hash);
    sim_trace(s, "n%" PRIu64 " installs snapshot %" PRIu64 "/%" PRIu64, n->id,
              snap->meta.index, snap->meta.term);
    n->sm = sm;
}

static void apply(struct sim *s, struct sim_node *n, const struct raft_entry *e)
{
    if (e->index != n->sm.applied + 1) {
        sim_fail(s, "state machine safety: n%" PRIu64 " was handed index %" PRIu64
                 " to apply after %" PRIu64 " (must be consecutive)", n->id, e->index,
                 n->sm.applied);
        return;
    }
    uint64_t h = sim_entry_hash(e);
    const struct sim_index *x = sim_history_peek(&s->h, e->index);
    bool first = !x || !x->applied;
    sim_sm_apply(&n->sm, e, h);
    sim_service_apply(s, n, e, first);
    if (!s->failed)
        sim_check_apply(s, n, e, h);
    sim_workload_applied(s, n, e);
}

static bool needs_disk(const struct raft_ready *rd)
{
    return rd->snapshot || rd->n_entries > 0 || rd->has_hard_state;
}

static void trace_batch(struct sim *s, struct sim_node *n, const struct raft_ready *rd)
{
    char ents[48] = "", hs[48] = "", snap[48] = "", apply[48] = "";
    if (rd->n_entries)
        snprintf(ents, sizeof(ents), " entries %" PRIu64 "..%" PRIu64, rd->entries[0].index,
                 rd->entries[rd->n_entries - 1].index);
    if (rd->has_hard_state)
        snprintf(hs, sizeof(hs), " term %" PRIu64 " vote n%" PRIu64, rd->hard_state.term,
                 rd->hard_state.vote);
    if (rd->snapshot)
        snprintf(snap, sizeof(snap), " snapshot %" PRIu64 "/%" PRIu64, rd->snapshot->meta.index,
                 rd->snapshot->meta.term);
    if (rd->n_committed)
        snprintf(apply, sizeof(apply), " apply %" PRIu64 "..%" PRIu64, rd->committed[0].index,
                 rd->committed[rd->n_committed - 1].index);
    sim_trace(s, "sync n%" PRIu64 " batch %" PRIu64 ":%s%s%s%s%s", n->id, rd->seq, snap, ents,
              hs, apply, rd->n_reads ? " answers reads" : "");
}

/* Step 3 and 4 of the contract, once the batch is durable. */
static void complete_batch(struct sim *s, struct sim_node *n, struct sim_batch *b)
{
    if (b->crdt) {
        sim_gossip_synced(s, n, b);
        crdt_sync_clear(&b->sync);
        free(b);
        return;
    }
    struct raft_ready *rd = &b->rd;
    if (s->verbose && (needs_disk(rd) || rd->n_committed || rd->n_reads))
        trace_batch(s, n, rd);
    persist(s, n, rd);
    if (!s->failed)
        send_msgs(s, n, rd, true);
    if (!s->failed && rd->snapshot)
        install_snapshot(s, n, rd->snapshot);
    for (size_t i = 0; i < rd->n_committed && !s->failed; i++)
        apply(s, n, &rd->committed[i]);
    for (size_t i = 0; i < rd->n_reads && !s->failed; i++)
        sim_workload_read_answer(s, n, &rd->reads[i]);
    if (!s->failed)
        raft_persisted(n->r, rd);
    raft_ready_free(rd);
    free(b);
}

/* Writes complete in the order they were handed to the disk, whatever they carry. */
void sim_node_enqueue(struct sim *s, struct sim_node *n, struct sim_batch *b)
{
    uint64_t at = s->now + sim_rng_range(&s->rng, 0, s->p.sync_max);
    b->sync_at = at > n->last_sync_at ? at : n->last_sync_at; /* syncs finish in order */
    n->last_sync_at = b->sync_at;
    if (n->tail)
        n->tail->next = b;
    else
        n->head = b;
    n->tail = b;
    sim_schedule(s, b->sync_at, SIM_EV_SYNC, n->id, n->incarnation, NULL);
}

/* Drains the core's pending work. A batch with nothing to write, behind no other
 * batch, completes at once: syncing nothing takes no time. */
void sim_node_process(struct sim *s, struct sim_node *n)
{
    /* As src/node/node.c's pump, after the call that changed the core and before
     * anything of the next batch applies: the service notices a new role. */
    sim_service_role(s, n);
    while (!s->failed && n->state == SIM_NODE_UP && raft_has_ready(n->r)) {
        struct sim_batch *b = calloc(1, sizeof(*b));
        if (!b) {
            sim_fail(s, "out of memory");
            return;
        }
        int rc = raft_ready_get(n->r, &b->rd);
        if (rc != 0) {
            free(b);
            sim_fail(s, "n%" PRIu64 ": raft_ready_get: %s", n->id, baton_strerror(rc));
            return;
        }
        sim_check_entries(s, n, &b->rd);
        send_msgs(s, n, &b->rd, false);
        if (!n->head && !needs_disk(&b->rd))
            complete_batch(s, n, b);
        else
            sim_node_enqueue(s, n, b);
    }
    sim_service_role(s, n);
    sim_gossip_flush(s, n);
}

/* Compaction as a real host does it: snapshot stored durably first, then the log
 * prefix dropped on disk, then the core told (raft_compact). */
static void maybe_compact(struct sim *s, struct sim_node *n)
{
    uint64_t snap = n->d.has_snap ? n->d.snap.meta.index : 0;
    if (s->failed || n->state != SIM_NODE_UP || n->sm.applied <= snap ||
        n->sm.applied - snap <= s->p.compact_every)
        return;
    for (const struct sim_batch *b = n->head; b; b = b->next)
        if (b->rd.snapshot)
            return; /* a received snapshot is on its way to disk: let it land first */
    struct raft_snapshot_meta meta;
    int rc = raft_snapshot_meta(n->r, n->sm.applied, &meta);
    if (rc != 0) {
        sim_fail(s, "n%" PRIu64 ": raft_snapshot_meta(%" PRIu64 "): %s", n->id,
                 n->sm.applied, baton_strerror(rc));
        return;
    }
    sim_check_compact(s, n, &meta);
    struct raft_buf data;
    uint64_t trailing = sim_rng_range(&s->rng, 0, s->p.trailing_max);
    if (s->failed)
        return;
    if (sim_sm_encode(&n->sm, n->svc.locks, &data) != 0) {
        sim_fail(s, "out of memory encoding a snapshot");
        return;
    }
    rc = sim_durable_compact(&n->d, &meta, &data, trailing);
    if (rc == 0)
        rc = raft_compact(n->r, &meta, data.base, data.len, trailing);
    free(data.base);
    if (rc != 0) {
        sim_fail(s, "n%" PRIu64 ": compaction at %" PRIu64 ": %s", n->id, meta.index,
                 baton_strerror(rc));
        return;
    }
    sim_trace(s, "n%" PRIu64 " compacts through %" PRIu64 " (keeps %" PRIu64 " trailing)",
              n->id, meta.index, trailing);
}

static struct sim_node *live_target(struct sim *s, const struct sim_event *ev)
{
    struct sim_node *n = sim_node_get(s, ev->node);
    if (!n || n->state != SIM_NODE_UP || n->incarnation != ev->incarnation)
        return NULL;
    return n;
}

void sim_node_on_sync(struct sim *s, const struct sim_event *ev)
{
    struct sim_node *n = live_target(s, ev);
    if (!n)
        return;
    while (!s->failed && n->head && n->head->sync_at <= s->now) {
        struct sim_batch *b = n->head;
        n->head = b->next;
        if (!n->head)
            n->tail = NULL;
        complete_batch(s, n, b);
    }
    maybe_compact(s, n);
    sim_node_process(s, n);
}

void sim_node_on_tick(struct sim *s, const struct sim_event *ev)
{
    struct sim_node *n = live_target(s, ev);
    if (!n)
        return;
    raft_tick(n->r, s->now);
    if (s->verbose && raft_has_ready(n->r))
        sim_trace(s, "tick n%" PRIu64, n->id);
    sim_service_role(s, n);
    sim_service_tick(s, n);
    sim_gossip_tick(s, n);
    sim_node_process(s, n);
    schedule_tick(s, n);
}

void sim_node_step(struct sim *s, struct sim_node *n, const struct raft_message *m)
{
    int rc = raft_step(n->r, m);
    if (rc != 0) {
        sim_fail(s, "n%" PRIu64 ": raft_step(%s): %s", n->id, raft_msg_type_name(m->type),
                 baton_strerror(rc));
        return;
    }
    sim_node_process(s, n);
}
