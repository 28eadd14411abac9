/* Log replication: AppendEntries out and in, heartbeats, and commitment (Raft §5.3, §5.4). */
#include <stdlib.h>
#include <string.h>

#include "raft/internal.h"

struct raft_progress *raft_progress_get(struct raft *r, uint64_t id)
{
    for (size_t i = 0; i < r->n_progress; i++) {
        if (r->progress[i].id == id) {
            return &r->progress[i];
        }
    }
    return NULL;
}

void raft_progress_reset(struct raft_progress *pr, int state)
{
    pr->state = state;
    pr->probe_sent = false;
    pr->inflight_head = 0;
    pr->inflight_n = 0;
}

static bool inflight_full(const struct raft *r, const struct raft_progress *pr)
{
    return pr->inflight_n >= r->opt.max_inflight;
}

static void inflight_add(struct raft_progress *pr, uint64_t last)
{
    unsigned slot = (pr->inflight_head + pr->inflight_n) % RAFT_INFLIGHT_MAX;
    pr->inflight[slot] = last;
    pr->inflight_n++;
}

static void inflight_free_first(struct raft_progress *pr)
{
    pr->inflight_head = (pr->inflight_head + 1) % RAFT_INFLIGHT_MAX;
    pr->inflight_n--;
}

/* Frees every in-flight message the follower has acknowledged up to index. */
static void inflight_free_to(struct raft_progress *pr, uint64_t index)
{
    while (pr->inflight_n > 0 && pr->inflight[pr->inflight_head] <= index) {
        inflight_free_first(pr);
    }
}

static bool paused(const struct raft *r, const struct raft_progress *pr)
{
    switch (pr->state) {
    case PROGRESS_PROBE:
        return pr->probe_sent;
    case PROGRESS_REPLICATE:
        return inflight_full(r, pr);
    default:
        return true;
    }
}

/* Copies a batch of entries starting at next, bounded by count and bytes. */
static int batch_entries(struct raft *r, uint64_t next, struct raft_message *m)
{
    uint64_t last = raft_log_last_index(&r->log);
    if (next > last) {
        return 0;
    }
    size_t max = r->opt.max_batch_entries;
    if (last - next + 1 < max) {
        max = (size_t)(last - next + 1);
    }
    m->entries = calloc(max, sizeof(*m->entries));
    if (m->entries == NULL) {
        return BATON_ENOMEM;
    }
    size_t bytes = 0;
    for (size_t i = 0; i < max; i++) {
        const struct raft_entry *e = raft_log_get(&r->log, next + i);
        if (i > 0 && bytes + e->data.len > r->opt.max_batch_bytes) {
            break;
        }
        if (raft_entry_copy(&m->entries[i], e) != 0) {
            raft_message_clear(m);
            return BATON_ENOMEM;
        }
        m->n_entries = i + 1;
        bytes += e->data.len;
    }
    return 0;
}

static void start_snapshot(struct raft *r, struct raft_progress *pr)
{
    raft_progress_reset(pr, PROGRESS_SNAPSHOT);
    pr->snap_index = r->log.snap_index;
    pr->snap_offset = 0;
    raft_send_snapshot_chunk(r, pr);
}

void raft_send_append(struct raft *r, struct raft_progress *pr, bool allow_empty)
{
    if (pr->state == PROGRESS_SNAPSHOT || paused(r, pr)) {
        return;
    }
    uint64_t prev = pr->next - 1;
    uint64_t prev_term = raft_log_term_at(&r->log, prev);
    if ((prev_term == 0 && prev != 0) || pr->next < r->log.first) {
        start_snapshot(r, pr); /* the entries it needs are compacted away */
        return;
    }
    struct raft_message m = {
        .type = RAFT_MSG_APPEND,
        .to = pr->id,
        .prev_index = prev,
        .prev_term = prev_term,
        .commit = r->commit,
    };
    if (batch_entries(r, pr->next, &m) != 0 || (m.n_entries == 0 && !allow_empty)) {
        raft_message_clear(&m);
        return;
    }
    if (pr->state == PROGRESS_REPLICATE && m.n_entries > 0) {
        /* Pipelining: assume success and keep sending (Raft §10.2.1). */
        pr->next = m.entries[m.n_entries - 1].index + 1;
        inflight_add(pr, pr->next - 1);
    } else if (pr->state == PROGRESS_PROBE) {
        pr->probe_sent = true;
    }
    (void)raft_send(r, &m);
}

void raft_bcast_append(struct raft *r)
{
    for (size_t i = 0; i < r->n_progress; i++) {
        struct raft_progress *pr = &r->progress[i];
        /* Keep filling the pipeline while the window allows. */
        uint64_t before;
        do {
            before = pr->next;
            raft_send_append(r, pr, false);
        } while (pr->state == PROGRESS_REPLICATE && pr->next != before &&
                 pr->next <= raft_log_last_index(&r->log));
    }
}

void raft_bcast_heartbeat(struct raft *r)
{
    r->hb_seq++;
    r->hb_sent_ms[r->hb_seq % RAFT_HB_RING] = r->now;
    r->heartbeat_deadline = r->now + r->opt.heartbeat_ms;
    for (size_t i = 0; i < r->n_progress; i++) {
        struct raft_progress *pr = &r->progress[i];
        /* Only what the follower is known to hold may be reported committed to it. */
        uint64_t commit = pr->match < r->commit ? pr->match : r->commit;
        struct raft_message m = {
            .type = RAFT_MSG_HEARTBEAT,
            .to = pr->id,
            .commit = commit,
            .read_seq = r->hb_seq,
        };
        (void)raft_send(r, &m);
    }
}

int raft_append_local(struct raft *r, int type, const void *data, size_t len, uint64_t *index)
{
    struct raft_entry e = {
        .term = r->term,
        .index = raft_log_last_index(&r->log) + 1,
        .type = type,
        .data = {.base = (void *)data, .len = len},
    };
    int rv = raft_log_append(&r->log, &e);
    if (rv != 0) {
        return rv;
    }
    raft_mark_persist(r, e.index);
    *index = e.index;
    if (type == RAFT_ENTRY_CONF) {
        raft_conf_refresh(r);
    }
    return 0;
}

static int cmp_desc(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? 1 : (x > y ? -1 : 0);
}

bool raft_maybe_commit(struct raft *r)
{
    uint64_t matches[RAFT_MAX_SERVERS];
    size_t n = 0;
    if (raft_is_voter(r)) {
        matches[n++] = r->durable_index; /* our own entries count once synced */
    }
    for (size_t i = 0; i < r->n_progress; i++) {
        if (raft_conf_is_voter(&r->conf, r->progress[i].id)) {
            matches[n++] = r->progress[i].match;
        }
    }
    size_t quorum = raft_quorum(r);
    if (n < quorum) {
        return false;
    }
    qsort(matches, n, sizeof(matches[0]), cmp_desc);
    uint64_t q = matches[quorum - 1];
#ifdef BATON_RAFT_FAULT_COMMIT_OLD_TERM
    bool counted = q > r->commit && raft_log_term_at(&r->log, q) != 0;
#else
    /* Raft §5.4.2: only entries of the current term commit by counting replicas;
     * earlier ones commit indirectly, under them (Figure 8). */
    bool counted = q > r->commit && raft_log_term_at(&r->log, q) == r->term;
#endif
    if (!counted) {
        return false;
    }
    r->commit = q;
    raft_reads_on_commit(r);
    raft_on_commit_conf(r);
    return true;
}

/* Fast backoff: skip a whole conflicting term per round trip (Raft §5.3, the
 * optimization the paper sketches, as refined in the dissertation). */
static uint64_t backoff_next(const struct raft *r, const struct raft_message *m)
{
    if (m->hint_term == 0) {
        return m->hint_index;
    }
    uint64_t i = m->index < raft_log_last_index(&r->log) ? m->index : raft_log_last_index(&r->log);
    while (i > r->log.snap_index && raft_log_term_at(&r->log, i) > m->hint_term) {
        i--;
    }
    if (i > 0 && raft_log_term_at(&r->log, i) == m->hint_term) {
        return i + 1;
    }
    return m->hint_index;
}

static void handle_reject(struct raft *r, struct raft_progress *pr, const struct raft_message *m)
{
    if (m->index <= pr->match) {
        return; /* stale: that index is known to match */
    }
    if (pr->state == PROGRESS_PROBE && m->index != pr->next - 1) {
        return; /* stale: not the probe we sent last */
    }
    uint64_t next = backoff_next(r, m);
    if (next > m->index) {
        next = m->index;
    }
    if (next < pr->match + 1) {
        next = pr->match + 1;
    }
    pr->next = next;
    raft_progress_reset(pr, PROGRESS_PROBE);
    raft_send_append(r, pr, true);
}

void raft_handle_append_resp(struct raft *r, const struct raft_message *m)
{
    struct raft_progress *pr = raft_progress_get(r, m->from);
    if (r->role != RAFT_LEADER || pr == NULL) {
        return;
    }
    pr->recent_active = true;
    if (m->reject) {
        handle_reject(r, pr, m);
        return;
    }
    if (m->index > raft_log_last_index(&r->log)) {
        return; /* claims entries we never sent */
    }
    if (m->index > pr->match) {
        pr->match = m->index;
        if (pr->next < pr->match + 1) {
            pr->next = pr->match + 1;
        }
        if (pr->state == PROGRESS_PROBE) {
            raft_progress_reset(pr, PROGRESS_REPLICATE);
        }
        if (raft_maybe_commit(r)) {
            r->out.bcast_append = true; /* let followers learn the new commit */
        }
    }
    pr->probe_sent = false;
    inflight_free_to(pr, m->index);
    raft_transfer_check(r, pr);
    if (r->role == RAFT_LEADER) {
        raft_send_append(r, pr, false);
    }
}

static void reject_append(struct raft *r, const struct raft_message *m)
{
    struct raft_message resp = {
        .type = RAFT_MSG_APPEND_RESP,
        .to = m->from,
        .reject = true,
        .index = m->prev_index,
    };
    uint64_t last = raft_log_last_index(&r->log);
    if (m->prev_index > last) {
        resp.hint_index = last + 1;
    } else {
        resp.hint_term = raft_log_term_at(&r->log, m->prev_index);
        uint64_t i = m->prev_index;
        while (i > r->log.first && raft_log_term_at(&r->log, i - 1) == resp.hint_term) {
            i--;
        }
        resp.hint_index = i;
    }
    (void)raft_send(r, &resp);
}

/* Terms start at 1: only the empty prefix (index 0) has term 0. */
static bool entries_well_formed(const struct raft_message *m)
{
    uint64_t prev_term = m->prev_term;
    if ((m->prev_index == 0) != (m->prev_term == 0)) {
        return false;
    }
    for (size_t i = 0; i < m->n_entries; i++) {
        const struct raft_entry *e = &m->entries[i];
        if (e->index != m->prev_index + 1 + i || e->term == 0 || e->term < prev_term ||
            e->term > m->term || e->type < RAFT_ENTRY_NORMAL || e->type > RAFT_ENTRY_CONF) {
            return false;
        }
        prev_term = e->term;
    }
    return true;
}

/* Appends the entries we do not have; truncates our suffix at the first
 * conflict (Raft §5.3). Never touches committed entries. */
static int merge_entries(struct raft *r, const struct raft_message *m)
{
    bool conf_changed = false;
    for (size_t i = 0; i < m->n_entries; i++) {
        const struct raft_entry *e = &m->entries[i];
        uint64_t have = raft_log_term_at(&r->log, e->index);
        if (e->index <= raft_log_last_index(&r->log) && have == e->term) {
            continue;
        }
        if (e->index <= r->commit) {
            return 0; /* a leader contradicting committed entries: ignore */
        }
        if (e->index <= raft_log_last_index(&r->log)) {
            raft_log_truncate_from(&r->log, e->index);
            conf_changed |= r->conf_index >= e->index;
            if (r->durable_index >= e->index) {
                r->durable_index = e->index - 1;
            }
        }
        int rv = raft_log_append(&r->log, e);
        if (rv != 0) {
            return rv;
        }
        raft_mark_persist(r, e->index);
        conf_changed |= e->type == RAFT_ENTRY_CONF;
    }
    if (conf_changed) {
        raft_conf_refresh(r);
    }
    return 0;
}

int raft_handle_append(struct raft *r, const struct raft_message *m)
{
    if (r->role == RAFT_LEADER && m->term == r->term) {
        return 0; /* impossible under election safety; never obey it */
    }
    if (!entries_well_formed(m)) {
        return 0;
    }
    raft_accept_leader(r, m);
    struct raft_message resp = {.type = RAFT_MSG_APPEND_RESP, .to = m->from};
    struct raft_message trimmed;
    if (m->prev_index < r->commit) {
        if (m->prev_index + m->n_entries <= r->commit) {
            resp.index = r->commit; /* we already hold everything up to commit */
            return raft_send(r, &resp);
        }
        /* Committed entries are the same everywhere: skip the ones we hold. */
        size_t skip = (size_t)(r->commit - m->prev_index);
        trimmed = *m;
        trimmed.prev_index = r->commit;
        trimmed.prev_term = m->entries[skip - 1].term;
        trimmed.entries = m->entries + skip;
        trimmed.n_entries = m->n_entries - skip;
        m = &trimmed;
    }
    /* raft_log_term_at() says 0 for an entry we do not hold: never a match. */
    if (m->prev_index > raft_log_last_index(&r->log) ||
        raft_log_term_at(&r->log, m->prev_index) != m->prev_term) {
        reject_append(r, m);
        return 0;
    }
    int rv = merge_entries(r, m);
    if (rv != 0) {
        return rv;
    }
    uint64_t last_new = m->prev_index + m->n_entries;
    uint64_t commit = m->commit < last_new ? m->commit : last_new;
    if (commit > r->commit) {
        r->commit = commit;
    }
    resp.index = last_new;
    return raft_send(r, &resp);
}

int raft_handle_heartbeat(struct raft *r, const struct raft_message *m)
{
    if (r->role == RAFT_LEADER && m->term == r->term) {
        return 0;
    }
    raft_accept_leader(r, m);
    uint64_t last = raft_log_last_index(&r->log);
    uint64_t commit = m->commit < last ? m->commit : last;
    if (commit > r->commit) {
        r->commit = commit;
    }
    struct raft_message resp = {
        .type = RAFT_MSG_HEARTBEAT_RESP,
        .to = m->from,
        .read_seq = m->read_seq,
    };
    return raft_send(r, &resp);
}

void raft_handle_heartbeat_resp(struct raft *r, const struct raft_message *m)
{
    struct raft_progress *pr = raft_progress_get(r, m->from);
    if (r->role != RAFT_LEADER || pr == NULL || m->read_seq > r->hb_seq) {
        return;
    }
    pr->recent_active = true;
    pr->probe_sent = false;
    if (m->read_seq > pr->read_acked) {
        pr->read_acked = m->read_seq;
        if (r->hb_seq - m->read_seq < RAFT_HB_RING) {
            pr->lease_ack_ms = r->hb_sent_ms[m->read_seq % RAFT_HB_RING];
        }
        raft_reads_on_ack(r);
    }
    if (pr->state == PROGRESS_SNAPSHOT) {
        raft_snapshot_resend_stalled(r, pr); /* the last chunk may have been lost */
        return;
    }
    if (pr->match < raft_log_last_index(&r->log)) {
        if (pr->state == PROGRESS_REPLICATE && inflight_full(r, pr)) {
            /* Free one slot so a lost message cannot stall the pipeline forever. */
            inflight_free_first(pr);
        }
        raft_send_append(r, pr, true);
    }
}
