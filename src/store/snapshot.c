/* The "snapshot" database: the latest snapshot's metadata (with its configuration) and data. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "store/internal.h"

#define META_FIXED 28u /* u64 index, u64 term, u64 data_len, u32 conf_len */

static int get_data(struct store *s, MDB_txn *txn, uint64_t len, struct raft_buf *data)
{
    MDB_val k = store_key(STORE_KEY_SNAP_DATA);
    MDB_val v;
    struct store_rd r;
    const char *bad;
    int rc = mdb_get(txn, s->snap, &k, &v);

    if (rc == MDB_NOTFOUND)
        return store_fail(s, BATON_ECORRUPT, "snapshot: its data is missing");
    if (rc != 0)
        return store_mdb_fail(s, rc, "snapshot: read its data");
    if ((bad = store_rec_open(&v, &r)) != NULL)
        return store_fail(s, BATON_ECORRUPT, "snapshot: data: %s", bad);
    if (r.left != len)
        return store_fail(s, BATON_ECORRUPT,
                          "snapshot: data is %zu bytes, its metadata says %" PRIu64, r.left, len);
    data->len = r.left;
    if (store_dup(r.p, r.left, &data->base) != 0)
        return store_fail(s, BATON_ENOMEM, "snapshot: out of memory for %zu bytes", r.left);
    return 0;
}

int store_snap_get(struct store *s, MDB_txn *txn, bool *found, struct raft_snapshot_meta *meta,
                   struct raft_buf *data)
{
    MDB_val k = store_key(STORE_KEY_SNAP_META);
    MDB_val v;
    struct store_rd r;
    const uint8_t *conf;
    const char *bad;
    uint64_t data_len;
    uint32_t conf_len;
    int rc;

    *found = false;
    memset(meta, 0, sizeof *meta);
    if (data != NULL)
        memset(data, 0, sizeof *data);
    rc = mdb_get(txn, s->snap, &k, &v);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0)
        return store_mdb_fail(s, rc, "snapshot: read its metadata");
    if ((bad = store_rec_open(&v, &r)) != NULL)
        return store_fail(s, BATON_ECORRUPT, "snapshot: metadata: %s", bad);
    meta->index = store_rd_u64(&r);
    meta->term = store_rd_u64(&r);
    data_len = store_rd_u64(&r);
    conf_len = store_rd_u32(&r);
    conf = store_rd_bytes(&r, conf_len);
    if (store_rd_failed(&r))
        return store_fail(s, BATON_ECORRUPT, "snapshot: metadata of %zu bytes is malformed",
                          v.mv_size);
    if (meta->index == 0 || meta->term == 0)
        return store_fail(s, BATON_ECORRUPT, "snapshot: at index %" PRIu64 ", term %" PRIu64,
                          meta->index, meta->term);
    if ((rc = raft_conf_decode(conf, conf_len, &meta->conf)) != 0)
        return store_fail(s, BATON_ECORRUPT, "snapshot: its configuration does not decode (%s)",
                          baton_strerror(rc));
    if (data != NULL && (rc = get_data(s, txn, data_len, data)) != 0)
        return rc;
    *found = true;
    return 0;
}

static int put_meta(struct store *s, MDB_txn *txn, const struct raft_snapshot *snap)
{
    MDB_val k = store_key(STORE_KEY_SNAP_META);
    struct raft_buf conf = {0};
    uint8_t *p, *q;
    size_t len;
    int rc = raft_conf_encode(&snap->meta.conf, &conf);

    if (rc != 0)
        return store_fail(s, rc == BATON_ENOMEM ? BATON_ENOMEM : BATON_EINVAL,
                          "snapshot: cannot encode its configuration (%s)", baton_strerror(rc));
    if (conf.len > UINT32_MAX) {
        rc = store_fail(s, BATON_EINVAL, "snapshot: configuration of %zu bytes", conf.len);
        goto free_conf;
    }
    len = META_FIXED + conf.len;
    if ((rc = store_rec_reserve(txn, s->snap, &k, len, 0, &p)) != 0) {
        rc = store_mdb_fail(s, rc, "snapshot: write its metadata");
        goto free_conf;
    }
    q = store_put_u64(p, snap->meta.index);
    q = store_put_u64(q, snap->meta.term);
    q = store_put_u64(q, snap->data.len);
    q = store_put_u32(q, (uint32_t)conf.len);
    if (conf.len > 0)
        memcpy(q, conf.base, conf.len);
    store_rec_seal(p, len);
free_conf:
    free(conf.base);
    return rc;
}

static int put_data(struct store *s, MDB_txn *txn, const struct raft_snapshot *snap)
{
    MDB_val k = store_key(STORE_KEY_SNAP_DATA);
    int rc = store_rec_put(txn, s->snap, &k, snap->data.base, snap->data.len);

    if (rc != 0)
        return store_mdb_fail(s, rc, "snapshot: write %zu bytes of data", snap->data.len);
    return 0;
}

/* Makes the log agree with a snapshot at (index, term); see enum store_snapshot_log. */
static int adjust_log(struct store *s, MDB_txn *txn, struct store_pos *pos, uint64_t index,
                      uint64_t term, int mode)
{
    uint64_t t = 0;
    int rc;

    if (mode == STORE_LOG_KEEP) {
        if (index > pos->last)
            return store_fail(s, BATON_EINVAL,
                              "local snapshot at %" PRIu64 " is past the last entry %" PRIu64, index,
                              pos->last);
        if ((rc = store_log_term(s, txn, pos, index, &t)) != 0)
            return rc;
        if (t != term)
            return store_fail(s, BATON_EINVAL,
                              "local snapshot at %" PRIu64 " has term %" PRIu64
                              " but the log has term %" PRIu64 " there",
                              index, term, t);
        return 0;
    }
    if (mode != STORE_LOG_MATCH && mode != STORE_LOG_DISCARD)
        return store_fail(s, BATON_EINVAL, "snapshot: unknown log mode %d", mode);
    /* Raft §7: a log that holds the snapshot's last entry keeps what follows it. */
    if (mode == STORE_LOG_MATCH && index <= pos->last &&
        (rc = store_log_term(s, txn, pos, index, &t)) != 0)
        return rc;
    if (mode == STORE_LOG_MATCH && t == term) {
        if ((rc = store_log_drop(s, txn, index)) != 0)
            return rc;
        if (pos->first <= index)
            pos->first = index + 1;
        return 0;
    }
    if ((rc = store_log_drop_all(s, txn)) != 0)
        return rc;
    pos->first = index + 1;
    pos->last = index;
    return 0;
}

int store_snap_put(struct store *s, MDB_txn *txn, struct store_pos *pos,
                   const struct raft_snapshot *snap, int mode)
{
    uint64_t index = snap->meta.index;
    uint64_t term = snap->meta.term;
    int rc;

    if (index == 0 || term == 0)
        return store_fail(s, BATON_EINVAL, "snapshot at index %" PRIu64 ", term %" PRIu64, index,
                          term);
    if (index < pos->snap_index)
        return store_fail(s, BATON_EINVAL,
                          "snapshot at %" PRIu64 " is older than the stored one at %" PRIu64, index,
                          pos->snap_index);
    if (snap->data.len > 0 && snap->data.base == NULL)
        return store_fail(s, BATON_EINVAL, "snapshot: %zu bytes of data at NULL", snap->data.len);
    if ((rc = adjust_log(s, txn, pos, index, term, mode)) != 0 ||
        (rc = put_meta(s, txn, snap)) != 0 || (rc = put_data(s, txn, snap)) != 0)
        return rc;
    pos->snap_index = index;
    pos->snap_term = term;
    return 0;
}
