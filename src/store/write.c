/* Group commit: store_write() applies batches of Raft work in one transaction and one sync. */
#include <string.h>

#include "store/internal.h"

void store_batch_from_ready(struct store_batch *b, const struct raft_ready *rd)
{
    memset(b, 0, sizeof *b);
    b->snapshot = rd->snapshot;
    b->snapshot_log = STORE_LOG_DISCARD; /* raft.h: it replaces the whole log */
    b->entries = rd->entries;
    b->n_entries = rd->n_entries;
    b->has_hard_state = rd->has_hard_state;
    b->hard_state = rd->hard_state;
}

/* Applies one batch to the transaction, tracking where the log stands in *pos
 * and the hard state in *hs; the store's own copies change only on commit. */
static int apply(struct store *s, MDB_txn *txn, const struct store_batch *b,
                 struct store_pos *pos, struct raft_hard_state *hs)
{
    int rc;

    if (b->snapshot != NULL && (rc = store_snap_put(s, txn, pos, b->snapshot, b->snapshot_log)) != 0)
        return rc;
    if (b->n_entries > 0 && b->entries == NULL)
        return store_fail(s, BATON_EINVAL, "batch: %zu entries at NULL", b->n_entries);
    if ((rc = store_log_append(s, txn, pos, b->entries, b->n_entries)) != 0)
        return rc;
    if (b->compact_upto > 0 && (rc = store_log_compact(s, txn, pos, b->compact_upto)) != 0)
        return rc;
    if (b->n_crdt > 0 && b->crdt == NULL)
        return store_fail(s, BATON_EINVAL, "batch: %zu CRDT slots at NULL", b->n_crdt);
    for (size_t i = 0; i < b->n_crdt; i++)
        if ((rc = store_crdt_put_txn(s, txn, &b->crdt[i])) != 0)
            return rc;
    if (b->has_hard_state && (rc = store_meta_put_hard_state(s, txn, &b->hard_state, hs)) != 0)
        return rc;
    return 0;
}

int store_write(struct store *s, const struct store_batch *b, size_t n)
{
    struct store_pos pos = s->pos;
    struct raft_hard_state hs = s->hs;
    MDB_txn *txn;
    int rc;

    if (n == 0)
        return 0;
    if (b == NULL)
        return store_fail(s, BATON_EINVAL, "store_write: %zu batches at NULL", n);
    if ((rc = store_txn_begin(s, true, &txn)) != 0)
        return rc;
    for (size_t i = 0; i < n; i++)
        if ((rc = apply(s, txn, &b[i], &pos, &hs)) != 0)
            goto abort;
    /* The environment syncs on commit (no MDB_NOSYNC): this is the one fsync
     * that every batch above shares. */
    rc = mdb_txn_commit(txn);
    if (rc != 0)
        return store_blame_full_disk(s, store_mdb_fail(s, rc, "commit %zu batches", n));
    s->pos = pos;
    s->hs = hs;
    return 0;
abort:
    mdb_txn_abort(txn);
    /* LMDB writes pages early when a transaction outgrows its dirty list. */
    return store_blame_full_disk(s, rc);
}

int store_compact(struct store *s, uint64_t upto)
{
    struct store_batch b;

    memset(&b, 0, sizeof b);
    b.compact_upto = upto;
    return store_write(s, &b, 1);
}
