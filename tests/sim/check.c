/* Invariants on what enters logs and state machines: log matching, state machine safety. */
#include <inttypes.h>
#include <stdlib.h>

#include "sim.h"

/* Log matching (Raft §5.3): an (index, term) names one entry, and the entry before
 * it has one term. Checking the previous term for every entry as it enters any log
 * makes the whole prefix unique by induction. */
static void record_entry(struct sim *s, struct sim_node *n, const struct raft_entry *e,
                         uint64_t prev_term)
{
    struct sim_index *x = sim_history_at(s, e->index);
    if (!x)
        return;
    uint64_t hash = sim_entry_hash(e);
    for (uint32_t i = 0; i < x->n_v; i++) {
        struct sim_variant *v = &x->v[i];
        if (v->term != e->term)
            continue;
        if (v->hash != hash)
            sim_fail(s, "log matching: n%" PRIu64 " holds entry %" PRIu64 "/%" PRIu64
                     " with a different payload than another log's %" PRIu64 "/%" PRIu64,
                     n ? n->id : 0, e->index, e->term, e->index, e->term);
        else if (prev_term && v->prev_term && prev_term != v->prev_term)
            sim_fail(s, "log matching: n%" PRIu64 " holds %" PRIu64 "/%" PRIu64 " after an entry"
                     " of term %" PRIu64 ", another log after term %" PRIu64, n ? n->id : 0,
                     e->index, e->term, prev_term, v->prev_term);
        else if (!v->prev_term)
            v->prev_term = prev_term;
        return;
    }
    struct sim_variant *v = realloc(x->v, (x->n_v + 1) * sizeof(*v));
    if (!v) {
        sim_fail(s, "out of memory in the checker");
        return;
    }
    x->v = v;
    x->v[x->n_v++] = (struct sim_variant){e->term, hash, prev_term};
    if (e->type == RAFT_ENTRY_CONF && sim_history_add_conf(s, e->index, e->term, e) != 0)
        sim_fail(s, "n%" PRIu64 ": configuration entry %" PRIu64 "/%" PRIu64 " does not decode",
                 n ? n->id : 0, e->index, e->term);
}

/* A snapshot only ever covers committed entries that some log once held. */
static void check_snapshot_meta(struct sim *s, struct sim_node *n,
                                const struct raft_snapshot_meta *meta)
{
    const struct sim_index *x = sim_history_peek(&s->h, meta->index);
    if (x && x->committed_term && x->committed_term != meta->term)
        sim_fail(s, "n%" PRIu64 " received a snapshot at %" PRIu64 "/%" PRIu64 " but %" PRIu64
                 "/%" PRIu64 " is committed", n->id, meta->index, meta->term, meta->index,
                 x->committed_term);
    else if (!sim_history_variant(&s->h, meta->index, meta->term))
        sim_fail(s, "n%" PRIu64 " received a snapshot at %" PRIu64 "/%" PRIu64
                 ", an entry no log ever held", n->id, meta->index, meta->term);
}

/* A node in a term after the one in which index was seen committed only takes
 * entries from leaders that hold the committed entry (leader completeness), so a
 * different entry there means a committed entry is being overwritten. Stale nodes
 * in older terms may still write divergent entries there: that is legal. */
static void check_not_overwriting(struct sim *s, struct sim_node *n, const struct raft_entry *e)
{
    const struct sim_index *x = sim_history_peek(&s->h, e->index);
    if (x && x->committed_term && x->committed_term != e->term &&
        raft_term(n->r) > x->committed_obs)
        sim_fail(s, "n%" PRIu64 " (term %" PRIu64 ") writes %" PRIu64 "/%" PRIu64 " over the"
                 " committed %" PRIu64 "/%" PRIu64 " (seen committed in term %" PRIu64 ")",
                 n->id, raft_term(n->r), e->index, e->term, e->index, x->committed_term,
                 x->committed_obs);
}

void sim_check_entries(struct sim *s, struct sim_node *n, const struct raft_ready *rd)
{
    if (rd->snapshot)
        check_snapshot_meta(s, n, &rd->snapshot->meta);
    for (size_t i = 0; i < rd->n_entries && !s->failed; i++) {
        const struct raft_entry *e = &rd->entries[i];
        if (i > 0 && e->index != rd->entries[i - 1].index + 1) {
            sim_fail(s, "n%" PRIu64 ": ready entries jump from %" PRIu64 " to %" PRIu64, n->id,
                     rd->entries[i - 1].index, e->index);
            return;
        }
        uint64_t prev = i > 0 ? rd->entries[i - 1].term
                        : e->index > 1 ? raft_term_at(n->r, e->index - 1) : 0;
        if (prev > e->term) {
            sim_fail(s, "n%" PRIu64 ": log terms decrease: %" PRIu64 "/%" PRIu64
                     " follows an entry of term %" PRIu64, n->id, e->index, e->term, prev);
            return;
        }
        check_not_overwriting(s, n, e);
        record_entry(s, n, e, prev);
    }
}

void sim_check_bootstrap(struct sim *s, const struct raft_entry *e, const struct raft_conf *c)
{
    record_entry(s, NULL, e, 0);
    sim_history_commit_conf(s, e->index, c);
}

/* Raft §5.2: one vote per term, and the term never goes back, on disk. */
void sim_check_hard_state(struct sim *s, struct sim_node *n, const struct raft_hard_state *hs)
{
    const struct raft_hard_state *old = &n->d.hs;
    if (hs->term < old->term)
        sim_fail(s, "n%" PRIu64 ": durable term goes back from %" PRIu64 " to %" PRIu64, n->id,
                 old->term, hs->term);
    else if (hs->term == old->term && old->vote && hs->vote != old->vote)
        sim_fail(s, "n%" PRIu64 " voted for n%" PRIu64 " and then n%" PRIu64 " in term %" PRIu64,
                 n->id, old->vote, hs->vote, hs->term);
}

/* State machine safety (Raft §5.4.3): every node applies the same entry at an index
 * and reaches the same state after it: the same running hash, and the same lock
 * state (compared by the hash of its canonical snapshot bytes). */
void sim_check_apply(struct sim *s, struct sim_node *n, const struct raft_entry *e,
                     uint64_t entry_hash)
{
    struct sim_index *x = sim_history_at(s, e->index);
    if (!x)
        return;
    if (x->committed_term && x->committed_term != e->term) {
        sim_fail(s, "state machine safety: n%" PRIu64 " applies %" PRIu64 "/%" PRIu64
                 " but %" PRIu64 "/%" PRIu64 " is committed", n->id, e->index, e->term,
                 e->index, x->committed_term);
        return;
    }
    if (!x->applied) {
        x->applied = true;
        x->applied_term = e->term;
        x->applied_hash = entry_hash;
        x->state_hash = n->sm.hash;
        x->lock_hash = n->svc.lock_hash;
        return;
    }
    if (x->applied_term != e->term || x->applied_hash != entry_hash)
        sim_fail(s, "state machine safety: n%" PRIu64 " applies %" PRIu64 "/%" PRIu64
                 ", another node applied %" PRIu64 "/%" PRIu64 "%s at that index", n->id,
                 e->index, e->term, e->index, x->applied_term,
                 x->applied_term == e->term ? " with a different payload" : "");
    else if (x->state_hash != n->sm.hash)
        sim_fail(s, "state machine safety: n%" PRIu64 "'s state after %" PRIu64
                 " differs from another node's", n->id, e->index);
    else if (x->lock_hash != n->svc.lock_hash)
        sim_fail(s, "state machine safety: n%" PRIu64 "'s lock state after %" PRIu64
                 " differs from another node's", n->id, e->index);
}

/* Entries that arrive through a snapshot must be the ones everybody applied. */
void sim_check_install(struct sim *s, struct sim_node *n, const struct raft_snapshot_meta *meta,
                       const struct sim_sm *sm, uint64_t lock_hash)
{
    const struct sim_index *x = sim_history_peek(&s->h, meta->index);
    if (!x || !x->applied)
        sim_fail(s, "n%" PRIu64 " installs a snapshot at %" PRIu64 "/%" PRIu64
                 " but no node ever applied that index", n->id, meta->index, meta->term);
    else if (x->applied_term != meta->term || x->state_hash != sm->hash ||
             x->lock_hash != lock_hash)
        sim_fail(s, "state machine safety: n%" PRIu64 " installs a snapshot at %" PRIu64
                 "/%" PRIu64 " whose state differs from the state applied there (%" PRIu64
                 "/%" PRIu64 ")", n->id, meta->index, meta->term, meta->index, x->applied_term);
    else
        sim_history_commit_conf(s, meta->index, &meta->conf);
}

void sim_check_compact(struct sim *s, struct sim_node *n, const struct raft_snapshot_meta *meta)
{
    const struct sim_index *x = sim_history_peek(&s->h, meta->index);
    if (meta->index != n->sm.applied || !x || !x->applied || x->applied_term != meta->term)
        sim_fail(s, "n%" PRIu64 ": raft_snapshot_meta(%" PRIu64 ") says %" PRIu64 "/%" PRIu64
                 ", not the entry applied there", n->id, n->sm.applied, meta->index,
                 meta->term);
}

/* Raft §5 and raft.h: hard state and log entries are durable before any message
 * that depends on them leaves. A granted vote must already be on disk (or a crash
 * could let the node vote twice in a term), and so must the entries an append
 * acknowledges (or the leader could count a copy that a crash loses). */
void sim_check_send(struct sim *s, struct sim_node *n, const struct raft_message *m)
{
    const struct sim_durable *d = &n->d;
    if (m->type == RAFT_MSG_VOTE_RESP && !m->reject &&
        (d->hs.term != m->term || d->hs.vote != m->to)) {
        sim_fail(s, "n%" PRIu64 " grants its term-%" PRIu64 " vote to n%" PRIu64 " before that"
                 " vote is durable (disk: term %" PRIu64 ", vote n%" PRIu64 ")", n->id, m->term,
                 m->to, d->hs.term, d->hs.vote);
        return;
    }
    if (m->type != RAFT_MSG_APPEND_RESP || m->reject)
        return;
    /* Once the node has moved to a newer term, a newer leader may already have
     * replaced the acknowledged entries in memory: only the length is comparable. */
    uint64_t term = m->term == raft_term(n->r) ? raft_term_at(n->r, m->index) : 0;
    bool durable = term ? sim_durable_has(d, m->index, term) : sim_durable_last(d) >= m->index;
    if (!durable)
        sim_fail(s, "n%" PRIu64 " acknowledges entries through %" PRIu64 " to n%" PRIu64
                 " before they are durable (disk ends at %" PRIu64 ")", n->id, m->index, m->to,
                 sim_durable_last(d));
}
