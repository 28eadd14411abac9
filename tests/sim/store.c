/* A node's simulated stable storage: the hard state, log and snapshot that survive a crash. */
#include <stdlib.h>
#include <string.h>

#include "sim.h"

int sim_entry_copy(struct raft_entry *dst, const struct raft_entry *src)
{
    *dst = *src;
    dst->data.base = NULL;
    if (src->data.len == 0)
        return 0;
    dst->data.base = malloc(src->data.len);
    if (!dst->data.base) {
        dst->data.len = 0;
        return BATON_ENOMEM;
    }
    memcpy(dst->data.base, src->data.base, src->data.len);
    return 0;
}

static uint64_t log_first(const struct sim_log *l)
{
    return l->n ? l->e[0].index : 0;
}

static uint64_t log_last(const struct sim_log *l)
{
    return l->n ? l->e[l->n - 1].index : 0;
}

/* Keeps the first keep entries. */
static void log_truncate(struct sim_log *l, size_t keep)
{
    for (size_t i = keep; i < l->n; i++)
        free(l->e[i].data.base);
    if (keep < l->n)
        l->n = keep;
}

/* Drops every entry with index <= upto. */
static void log_drop_through(struct sim_log *l, uint64_t upto)
{
    if (l->n == 0 || upto < log_first(l))
        return;
    size_t k = upto >= log_last(l) ? l->n : (size_t)(upto - log_first(l) + 1);
    for (size_t i = 0; i < k; i++)
        free(l->e[i].data.base);
    memmove(l->e, l->e + k, (l->n - k) * sizeof(*l->e));
    l->n -= k;
}

static int log_reserve(struct sim_log *l, size_t extra)
{
    if (l->n + extra <= l->cap)
        return 0;
    size_t cap = l->cap ? l->cap : 16;
    while (cap < l->n + extra)
        cap *= 2;
    struct raft_entry *e = realloc(l->e, cap * sizeof(*e));
    if (!e)
        return BATON_ENOMEM;
    l->e = e;
    l->cap = cap;
    return 0;
}

uint64_t sim_durable_last(const struct sim_durable *d)
{
    uint64_t last = log_last(&d->log);
    if (d->has_snap && d->snap.meta.index > last)
        last = d->snap.meta.index;
    return last;
}

/* raft.h's write rule: truncate from entries[0].index, then append. A batch that
 * would leave a hole is a core bug: BATON_ECORRUPT. */
int sim_durable_append(struct sim_durable *d, const struct raft_entry *entries, size_t n)
{
    if (n == 0)
        return 0;
    uint64_t first = entries[0].index;
    if (first == 0 || first > sim_durable_last(d) + 1)
        return BATON_ECORRUPT;
    struct sim_log *l = &d->log;
    if (l->n > 0 && first <= log_first(l))
        log_truncate(l, 0);
    else if (l->n > 0 && first <= log_last(l))
        log_truncate(l, (size_t)(first - log_first(l)));
    else if (l->n > 0 && first > log_last(l) + 1)
        log_truncate(l, 0); /* the snapshot bridges the gap; keep the log contiguous */
    int rc = log_reserve(l, n);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        rc = sim_entry_copy(&l->e[l->n], &entries[i]);
        if (rc != 0)
            return rc;
        l->n++;
    }
    return 0;
}

static int snapshot_replace(struct sim_durable *d, const struct raft_snapshot_meta *meta,
                            const struct raft_buf *data)
{
    void *copy = NULL;
    if (data->len > 0) {
        copy = malloc(data->len);
        if (!copy)
            return BATON_ENOMEM;
        memcpy(copy, data->base, data->len);
    }
    free(d->snap.data.base);
    d->snap.meta = *meta;
    d->snap.data.base = copy;
    d->snap.data.len = data->len;
    d->has_snap = true;
    return 0;
}

/* A snapshot received from the leader replaces the whole stored log (raft.h, step 2).
 * BATON_EINVAL if it is older than the snapshot already on disk. */
int sim_durable_install(struct sim_durable *d, const struct raft_snapshot *snap)
{
    if (d->has_snap && snap->meta.index < d->snap.meta.index)
        return BATON_EINVAL;
    log_truncate(&d->log, 0);
    return snapshot_replace(d, &snap->meta, &snap->data);
}

/* The node's own snapshot: stored first, then the log prefix it covers is dropped,
 * keeping trailing entries behind it (as raft_compact does in memory). */
int sim_durable_compact(struct sim_durable *d, const struct raft_snapshot_meta *meta,
                        const struct raft_buf *data, uint64_t trailing)
{
    int rc = snapshot_replace(d, meta, data);
    if (rc != 0)
        return rc;
    if (meta->index > trailing)
        log_drop_through(&d->log, meta->index - trailing);
    return 0;
}

/* Whether (index, term) survives a crash of this node: in the log, or covered by
 * the snapshot (a snapshot only ever covers committed entries). */
bool sim_durable_has(const struct sim_durable *d, uint64_t index, uint64_t term)
{
    if (d->has_snap && d->snap.meta.index > index)
        return true;
    if (d->has_snap && d->snap.meta.index == index)
        return d->snap.meta.term == term;
    const struct sim_log *l = &d->log;
    if (l->n == 0 || index < log_first(l) || index > log_last(l))
        return false;
    return l->e[index - log_first(l)].term == term;
}

/* The boot record borrows from d: valid until d changes. */
void sim_durable_boot(const struct sim_durable *d, struct raft_boot *boot)
{
    memset(boot, 0, sizeof(*boot));
    boot->hard_state = d->hs;
    boot->snapshot = d->has_snap ? &d->snap : NULL;
    boot->entries = d->log.e;
    boot->n_entries = d->log.n;
}

void sim_durable_free(struct sim_durable *d)
{
    log_truncate(&d->log, 0);
    free(d->log.e);
    free(d->snap.data.base);
    for (int i = 0; i < SIM_COUNTER_NAMES; i++)
        free(d->crdt[i].base);
    memset(d, 0, sizeof(*d));
}
