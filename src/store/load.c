/* Restart: store_load() reads everything Raft needs back from disk, as copies. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "store/internal.h"

/* The log and the snapshot must tell one story: where the log holds the
 * snapshot's last entry, it has the snapshot's term. */
static int check_boot(struct store *s, const struct store_boot *boot)
{
    const struct raft_snapshot_meta *m = &boot->snapshot.meta;
    uint64_t first;

    if (!boot->has_snapshot || boot->n_entries == 0)
        return 0;
    first = boot->entries[0].index;
    if (m->index < first || m->index > boot->entries[boot->n_entries - 1].index)
        return 0;
    if (boot->entries[m->index - first].term != m->term)
        return store_fail(s, BATON_ECORRUPT,
                          "snapshot at %" PRIu64 " has term %" PRIu64
                          " but the log has term %" PRIu64 " there",
                          m->index, m->term, boot->entries[m->index - first].term);
    return 0;
}

int store_load(struct store *s, struct store_boot *boot)
{
    struct store_pos pos;
    MDB_txn *txn;
    int rc;

    memset(boot, 0, sizeof *boot);
    if ((rc = store_txn_begin(s, false, &txn)) != 0)
        return rc;
    boot->hard_state = s->hs;
    rc = store_snap_get(s, txn, &boot->has_snapshot, &boot->snapshot.meta, &boot->snapshot.data);
    if (rc != 0)
        goto fail;
    /* Recomputed rather than taken from the cache: load is where the whole
     * log is checked against what is on disk now. */
    pos.snap_index = boot->has_snapshot ? boot->snapshot.meta.index : 0;
    pos.snap_term = boot->has_snapshot ? boot->snapshot.meta.term : 0;
    if ((rc = store_log_bounds(s, txn, &pos)) != 0 ||
        (rc = store_log_read_all(s, txn, &pos, &boot->entries, &boot->n_entries)) != 0 ||
        (rc = check_boot(s, boot)) != 0)
        goto fail;
    mdb_txn_abort(txn);
    return 0;
fail:
    mdb_txn_abort(txn);
    store_boot_free(boot);
    return rc;
}

void store_boot_free(struct store_boot *boot)
{
    store_entries_free(boot->entries, boot->n_entries);
    free(boot->snapshot.data.base);
    memset(boot, 0, sizeof *boot);
}

void store_boot_view(const struct store_boot *boot, struct raft_boot *rb)
{
    memset(rb, 0, sizeof *rb);
    rb->hard_state = boot->hard_state;
    rb->snapshot = boot->has_snapshot ? &boot->snapshot : NULL;
    rb->entries = boot->entries;
    rb->n_entries = boot->n_entries;
}
