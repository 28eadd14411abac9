/* The outbox: work the core has produced since the last ready batch. */
#include <stdlib.h>
#include <string.h>

#include "raft/internal.h"

static bool is_response(int type)
{
    return type == RAFT_MSG_PREVOTE_RESP || type == RAFT_MSG_VOTE_RESP ||
           type == RAFT_MSG_APPEND_RESP || type == RAFT_MSG_HEARTBEAT_RESP ||
           type == RAFT_MSG_SNAPSHOT_RESP;
}

int raft_send(struct raft *r, struct raft_message *m)
{
    struct raft_outbox *o = &r->out;
    if (o->n_msgs == o->cap_msgs) {
        size_t cap = o->cap_msgs ? o->cap_msgs * 2 : 16;
        struct raft_message *msgs = realloc(o->msgs, cap * sizeof(*msgs));
        if (msgs == NULL) {
            raft_message_clear(m);
            return BATON_ENOMEM;
        }
        o->msgs = msgs;
        bool *after = realloc(o->after, cap * sizeof(*after));
        if (after == NULL) {
            raft_message_clear(m);
            return BATON_ENOMEM;
        }
        o->after = after;
        o->cap_msgs = cap;
    }
    m->from = r->id;
    m->term = m->term ? m->term : r->term;
    /* A response speaks for our log and hard state, so it must wait for them to
     * be durable; so must anything sent while our term or vote is not yet on disk
     * (a leader whose term is lost in a crash could vote again in that term). */
    o->after[o->n_msgs] = is_response(m->type);
    o->msgs[o->n_msgs++] = *m;
    memset(m, 0, sizeof(*m));
    return 0;
}

int raft_push_read(struct raft *r, uint64_t ctx, uint64_t index, bool ok)
{
    struct raft_outbox *o = &r->out;
    if (o->n_reads == o->cap_reads) {
        size_t cap = o->cap_reads ? o->cap_reads * 2 : 8;
        struct raft_read *reads = realloc(o->reads, cap * sizeof(*reads));
        if (reads == NULL) {
            return BATON_ENOMEM;
        }
        o->reads = reads;
        o->cap_reads = cap;
    }
    o->reads[o->n_reads++] = (struct raft_read){.ctx = ctx, .index = index, .ok = ok};
    return 0;
}

void raft_mark_persist(struct raft *r, uint64_t from_index)
{
    if (r->out.persist_from == 0 || from_index < r->out.persist_from) {
        r->out.persist_from = from_index;
    }
}

static void free_snapshot(struct raft_snapshot *s)
{
    if (s != NULL) {
        free(s->data.base);
        free(s);
    }
}

void raft_outbox_close(struct raft_outbox *o)
{
    for (size_t i = 0; i < o->n_msgs; i++) {
        raft_message_clear(&o->msgs[i]);
    }
    free(o->msgs);
    free(o->after);
    free(o->reads);
    free_snapshot(o->snapshot);
    memset(o, 0, sizeof(*o));
}

bool raft_has_ready(const struct raft *r)
{
    const struct raft_outbox *o = &r->out;
    return o->n_msgs > 0 || o->n_reads > 0 || o->persist_from != 0 || o->hs_dirty ||
           o->snapshot != NULL || o->bcast_append || o->bcast_heartbeat ||
           r->commit > r->applied;
}

static int copy_entries(const struct raft_log *l, uint64_t from, uint64_t to,
                        struct raft_entry **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (from < l->first) {
        from = l->first;
    }
    if (from > to) {
        return 0;
    }
    size_t count = (size_t)(to - from + 1);
    struct raft_entry *e = calloc(count, sizeof(*e));
    if (e == NULL) {
        return BATON_ENOMEM;
    }
    for (size_t i = 0; i < count; i++) {
        if (raft_entry_copy(&e[i], raft_log_get(l, from + i)) != 0) {
            for (size_t j = 0; j < i; j++) {
                free(e[j].data.base);
            }
            free(e);
            return BATON_ENOMEM;
        }
    }
    *out = e;
    *n = count;
    return 0;
}

/* Replication deferred from propose/read so that everything asked for between
 * two batches travels in one message per follower (batching). */
static void flush_broadcasts(struct raft *r)
{
    if (r->role == RAFT_LEADER && r->out.bcast_append) {
        raft_bcast_append(r);
    }
    if (r->role == RAFT_LEADER && r->out.bcast_heartbeat) {
        raft_bcast_heartbeat(r);
    }
    r->out.bcast_append = false;
    r->out.bcast_heartbeat = false;
}

static int fill_log_work(struct raft *r, struct raft_ready *rd)
{
    int rv = 0;
    if (r->out.persist_from != 0) {
        rv = copy_entries(&r->log, r->out.persist_from, raft_log_last_index(&r->log), &rd->entries,
                          &rd->n_entries);
        if (rv != 0) {
            return rv;
        }
    }
    if (r->commit > r->applied) {
        rv = copy_entries(&r->log, r->applied + 1, r->commit, &rd->committed, &rd->n_committed);
        if (rv != 0) {
            return rv;
        }
        r->applied = r->commit;
    }
    return 0;
}

int raft_ready_get(struct raft *r, struct raft_ready *rd)
{
    memset(rd, 0, sizeof(*rd));
    flush_broadcasts(r);
    struct raft_outbox *o = &r->out;
    rd->seq = ++r->ready_seq;
    rd->snapshot = o->snapshot;
    o->snapshot = NULL;
    if (o->hs_dirty) {
        rd->has_hard_state = true;
        rd->hard_state.term = r->term;
        rd->hard_state.vote = r->vote;
        r->hs_unsynced++;
    }
    int rv = fill_log_work(r, rd);
    if (rv != 0) {
        raft_ready_free(rd);
        return rv;
    }
    bool hs_pending = r->hs_unsynced > 0;
    for (size_t i = 0; i < o->n_msgs; i++) {
        o->after[i] = o->after[i] || hs_pending;
    }
    rd->msgs = o->msgs;
    rd->after_persist = o->after;
    rd->n_msgs = o->n_msgs;
    rd->reads = o->reads;
    rd->n_reads = o->n_reads;
    o->msgs = NULL;
    o->after = NULL;
    o->n_msgs = o->cap_msgs = 0;
    o->reads = NULL;
    o->n_reads = o->cap_reads = 0;
    o->persist_from = 0;
    o->hs_dirty = false;
    rd->role = r->role;
    rd->leader = r->leader;
    rd->term = r->term;
    return 0;
}

void raft_persisted(struct raft *r, const struct raft_ready *rd)
{
    if (rd->has_hard_state && r->hs_unsynced > 0) {
        r->hs_unsynced--;
    }
    if (rd->snapshot != NULL && rd->snapshot->meta.index > r->durable_index) {
        r->durable_index = rd->snapshot->meta.index;
    }
    if (rd->n_entries > 0) {
        const struct raft_entry *last = &rd->entries[rd->n_entries - 1];
        /* A later batch may have replaced these entries meanwhile; only an entry
         * still in our log counts (same index and term means same entry). */
        if (raft_log_term_at(&r->log, last->index) == last->term) {
            r->durable_index = last->index;
        }
    }
    if (r->role == RAFT_LEADER && raft_maybe_commit(r)) {
        r->out.bcast_append = true;
    }
}

void raft_ready_free(struct raft_ready *rd)
{
    free_snapshot(rd->snapshot);
    for (size_t i = 0; i < rd->n_entries; i++) {
        free(rd->entries[i].data.base);
    }
    free(rd->entries);
    for (size_t i = 0; i < rd->n_committed; i++) {
        free(rd->committed[i].data.base);
    }
    free(rd->committed);
    for (size_t i = 0; i < rd->n_msgs; i++) {
        raft_message_clear(&rd->msgs[i]);
    }
    free(rd->msgs);
    free(rd->after_persist);
    free(rd->reads);
    memset(rd, 0, sizeof(*rd));
}
