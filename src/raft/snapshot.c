/* Snapshots: log compaction, and InstallSnapshot sent and received in chunks (Raft §7). */
#include <stdlib.h>
#include <string.h>

#include "raft/internal.h"

/* The configuration as of index: the latest CONF entry at or before it still in
 * the log, else the snapshot's. */
int raft_conf_at(const struct raft *r, uint64_t index, struct raft_conf *conf)
{
    for (uint64_t i = index; i > r->log.snap_index && i >= r->log.first; i--) {
        const struct raft_entry *e = raft_log_get(&r->log, i);
        if (e != NULL && e->type == RAFT_ENTRY_CONF) {
            return raft_conf_decode(e->data.base, e->data.len, conf);
        }
    }
    *conf = r->snap_conf;
    return 0;
}

int raft_snapshot_meta(const struct raft *r, uint64_t index, struct raft_snapshot_meta *meta)
{
    if (index > r->applied || index <= r->log.snap_index || raft_log_get(&r->log, index) == NULL) {
        return BATON_EINVAL;
    }
    meta->index = index;
    meta->term = raft_log_term_at(&r->log, index);
    return raft_conf_at(r, index, &meta->conf);
}

int raft_compact(struct raft *r, const struct raft_snapshot_meta *meta, const void *data,
                 size_t len, uint64_t trailing)
{
    if (meta->index > r->applied || meta->index <= r->log.snap_index ||
        raft_log_term_at(&r->log, meta->index) != meta->term) {
        return BATON_EINVAL;
    }
    void *copy = NULL;
    if (len > 0) {
        copy = malloc(len);
        if (copy == NULL) {
            return BATON_ENOMEM;
        }
        memcpy(copy, data, len);
    }
    free(r->snap_data.base);
    r->snap_data.base = copy;
    r->snap_data.len = len;
    r->snap_conf = meta->conf;
    r->log.snap_index = meta->index;
    r->log.snap_term = meta->term;
    if (meta->index > trailing) {
        raft_log_drop_prefix(&r->log, meta->index - trailing);
    }
    return 0;
}

void raft_send_snapshot_chunk(struct raft *r, struct raft_progress *pr)
{
    if (r->log.snap_index == 0) {
        return;
    }
    if (pr->snap_index != r->log.snap_index) {
        /* We compacted again meanwhile: send the newer snapshot from the start. */
        pr->snap_index = r->log.snap_index;
        pr->snap_offset = 0;
    }
    size_t total = r->snap_data.len;
    size_t off = pr->snap_offset < total ? (size_t)pr->snap_offset : total;
    size_t len = total - off < r->opt.snapshot_chunk_bytes ? total - off
                                                            : r->opt.snapshot_chunk_bytes;
    struct raft_message m = {
        .type = RAFT_MSG_SNAPSHOT,
        .to = pr->id,
        .snapshot = {.index = r->log.snap_index, .term = r->log.snap_term, .conf = r->snap_conf},
        .offset = off,
        .done = off + len == total,
    };
    /* One chunk in flight at a time: duplicated or late answers must not start
     * parallel streams of chunks. */
    pr->snap_sent = off + len;
    pr->snap_sent_ms = r->now;
    if (len > 0) {
        m.chunk.base = malloc(len);
        if (m.chunk.base == NULL) {
            return;
        }
        memcpy(m.chunk.base, (const uint8_t *)r->snap_data.base + off, len);
        m.chunk.len = len;
    }
    (void)raft_send(r, &m);
}

static int respond(struct raft *r, const struct raft_message *m, uint64_t offset, bool reject,
                   bool done)
{
    struct raft_message resp = {
        .type = RAFT_MSG_SNAPSHOT_RESP,
        .to = m->from,
        .index = m->snapshot.index,
        .offset = offset,
        .reject = reject,
        .done = done,
    };
    return raft_send(r, &resp);
}

static int buffer_chunk(struct raft_incoming_snapshot *in, const struct raft_message *m)
{
    if (in->len + m->chunk.len > in->cap) {
        size_t cap = in->cap ? in->cap : 4096;
        while (cap < in->len + m->chunk.len) {
            cap *= 2;
        }
        uint8_t *buf = realloc(in->buf, cap);
        if (buf == NULL) {
            return BATON_ENOMEM;
        }
        in->buf = buf;
        in->cap = cap;
    }
    if (m->chunk.len > 0) {
        memcpy(in->buf + in->len, m->chunk.base, m->chunk.len);
    }
    in->len += m->chunk.len;
    return 0;
}

/* Raft Figure 13, rule 7: the snapshot replaces our whole log and state machine. */
static int install(struct raft *r)
{
    struct raft_incoming_snapshot *in = &r->incoming;
    struct raft_snapshot *s = calloc(1, sizeof(*s));
    void *copy = in->len ? malloc(in->len) : NULL;
    if (s == NULL || (in->len && copy == NULL)) {
        free(s);
        free(copy);
        return BATON_ENOMEM;
    }
    s->meta = in->meta;
    s->data.base = in->buf;
    s->data.len = in->len;
    if (in->len) {
        memcpy(copy, in->buf, in->len);
    }
    free(r->snap_data.base);
    r->snap_data.base = copy;
    r->snap_data.len = in->len;
    if (r->out.snapshot != NULL) {
        free(r->out.snapshot->data.base);
        free(r->out.snapshot);
    }
    r->out.snapshot = s;
    r->out.persist_from = 0;
    raft_log_reset(&r->log, s->meta.index, s->meta.term);
    r->snap_conf = s->meta.conf;
    r->commit = r->applied = s->meta.index;
    r->durable_index = 0; /* until the snapshot itself is synced */
    raft_conf_refresh(r);
    memset(in, 0, sizeof(*in));
    return 0;
}

static bool meta_valid(const struct raft_message *m)
{
    const struct raft_snapshot_meta *meta = &m->snapshot;
    return meta->index > 0 && meta->term > 0 && meta->term <= m->term &&
           meta->conf.n <= RAFT_MAX_SERVERS && meta->conf.n > 0;
}

int raft_handle_snapshot(struct raft *r, const struct raft_message *m)
{
    if ((r->role == RAFT_LEADER && m->term == r->term) || !meta_valid(m)) {
        return 0;
    }
    raft_accept_leader(r, m);
    struct raft_incoming_snapshot *in = &r->incoming;
    if (m->snapshot.index <= r->commit ||
        raft_log_term_at(&r->log, m->snapshot.index) == m->snapshot.term) {
        /* Raft Figure 13, rule 6: we hold the entry the snapshot ends with, so we
         * hold everything before it too. Keep our log: the entries after it may
         * already have been acknowledged to the leader. */
        in->active = false;
        return respond(r, m, m->offset + m->chunk.len, false, true);
    }
    if (!in->active || in->meta.index != m->snapshot.index ||
        in->meta.term != m->snapshot.term) {
        if (m->offset != 0) {
            return respond(r, m, 0, true, false);
        }
        in->active = true;
        in->meta = m->snapshot;
        in->len = 0;
    }
    if (m->offset != in->len) {
        return respond(r, m, in->len, true, false); /* lost or duplicated chunk */
    }
    int rv = buffer_chunk(in, m);
    if (rv != 0 || !m->done) {
        return rv != 0 ? rv : respond(r, m, in->len, false, false);
    }
    uint64_t total = in->len;
    rv = install(r);
    return rv != 0 ? rv : respond(r, m, total, false, true);
}

void raft_handle_snapshot_resp(struct raft *r, const struct raft_message *m)
{
    struct raft_progress *pr = raft_progress_get(r, m->from);
    if (r->role != RAFT_LEADER || pr == NULL) {
        return;
    }
    pr->recent_active = true;
    bool current = pr->state == PROGRESS_SNAPSHOT && m->index == pr->snap_index;
    if (m->done && !m->reject && m->index <= r->log.snap_index) {
        if (m->index > pr->match) {
            pr->match = m->index;
        }
        if (current || pr->next < pr->match + 1) {
            pr->next = pr->match + 1;
            raft_progress_reset(pr, PROGRESS_PROBE);
        }
        if (raft_maybe_commit(r)) {
            r->out.bcast_append = true;
        }
        raft_transfer_check(r, pr);
        if (r->role == RAFT_LEADER) {
            raft_send_append(r, pr, true);
        }
        return;
    }
    if (!current) {
        return;
    }
    if (m->reject) {
        pr->snap_offset = m->offset; /* restart from where the follower is */
        raft_send_snapshot_chunk(r, pr);
        return;
    }
    if (m->offset > pr->snap_offset) {
        pr->snap_offset = m->offset;
    }
    if (pr->snap_offset >= pr->snap_sent) {
        raft_send_snapshot_chunk(r, pr); /* the chunk in flight arrived: next */
    }
}

void raft_snapshot_resend_stalled(struct raft *r, struct raft_progress *pr)
{
    if (r->now >= pr->snap_sent_ms + 2 * r->opt.heartbeat_ms) {
        raft_send_snapshot_chunk(r, pr);
    }
}
