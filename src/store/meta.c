/* The "meta" database: format version, cluster id and Raft's hard state (term, vote). */
#include <inttypes.h>
#include <string.h>

#include "store/internal.h"

static int put(struct store *s, MDB_txn *txn, const char *name, const uint8_t *b, size_t len)
{
    MDB_val k = store_key(name);
    int rc = store_rec_put(txn, s->meta, &k, b, len);

    if (rc != 0)
        return store_mdb_fail(s, rc, "meta: write %s", name);
    return 0;
}

static int put_hard_state(struct store *s, MDB_txn *txn, const struct raft_hard_state *hs)
{
    uint8_t b[16];

    store_put_u64(store_put_u64(b, hs->term), hs->vote);
    return put(s, txn, STORE_KEY_HARD_STATE, b, sizeof b);
}

/* Finds meta key name and opens its record into r; every key is mandatory. */
static int get(struct store *s, MDB_txn *txn, const char *name, struct store_rd *r)
{
    MDB_val k = store_key(name);
    MDB_val v;
    const char *bad;
    int rc = mdb_get(txn, s->meta, &k, &v);

    if (rc == MDB_NOTFOUND)
        return store_fail(s, BATON_ECORRUPT, "meta: %s is missing", name);
    if (rc != 0)
        return store_mdb_fail(s, rc, "meta: read %s", name);
    if ((bad = store_rec_open(&v, r)) != NULL)
        return store_fail(s, BATON_ECORRUPT, "meta: %s: %s", name, bad);
    return 0;
}

static int bad_length(struct store *s, const char *name)
{
    return store_fail(s, BATON_ECORRUPT, "meta: %s has the wrong length", name);
}

int store_meta_init(struct store *s, MDB_txn *txn, uint64_t cluster_id)
{
    uint8_t version[4];
    uint8_t cluster[8];
    int rc;

    memset(&s->hs, 0, sizeof s->hs);
    store_put_u32(version, STORE_FORMAT_VERSION);
    store_put_u64(cluster, cluster_id);
    if ((rc = put(s, txn, STORE_KEY_VERSION, version, sizeof version)) != 0 ||
        (rc = put(s, txn, STORE_KEY_CLUSTER, cluster, sizeof cluster)) != 0 ||
        (rc = put_hard_state(s, txn, &s->hs)) != 0)
        return rc;
    return 0;
}

/* The version is read first: a newer format may lay out everything else
 * differently, so nothing else is interpreted until it is known. */
static int check_version(struct store *s, MDB_txn *txn)
{
    struct store_rd r;
    uint32_t version;
    int rc;

    if ((rc = get(s, txn, STORE_KEY_VERSION, &r)) != 0)
        return rc;
    version = store_rd_u32(&r);
    if (store_rd_failed(&r))
        return bad_length(s, STORE_KEY_VERSION);
    if (version == 0)
        return store_fail(s, BATON_ECORRUPT, "meta: format version 0");
    if (version > STORE_FORMAT_VERSION)
        return store_fail(s, BATON_EVERSION,
                          "written by store format version %" PRIu32
                          "; this build reads versions up to %u",
                          version, STORE_FORMAT_VERSION);
    return 0;
}

int store_meta_check(struct store *s, MDB_txn *txn, uint64_t cluster_id)
{
    struct store_rd r;
    uint64_t stored;
    int rc;

    if ((rc = check_version(s, txn)) != 0)
        return rc;
    if ((rc = get(s, txn, STORE_KEY_CLUSTER, &r)) != 0)
        return rc;
    stored = store_rd_u64(&r);
    if (store_rd_failed(&r))
        return bad_length(s, STORE_KEY_CLUSTER);
    if (stored != cluster_id)
        return store_fail(s, BATON_ECLUSTER,
                          "belongs to cluster %016" PRIx64 ", not %016" PRIx64, stored,
                          cluster_id);
    if ((rc = get(s, txn, STORE_KEY_HARD_STATE, &r)) != 0)
        return rc;
    s->hs.term = store_rd_u64(&r);
    s->hs.vote = store_rd_u64(&r);
    if (store_rd_failed(&r))
        return bad_length(s, STORE_KEY_HARD_STATE);
    if (s->hs.term == 0 && s->hs.vote != 0)
        return store_fail(s, BATON_ECORRUPT, "meta: a vote (%" PRIu64 ") in term 0",
                          s->hs.vote);
    return 0;
}

/* Refuses the two hard-state changes no correct Raft server makes: its term
 * going back, and a second vote in one term (Raft §5.2: at most one vote per
 * term). Either would mean batches are persisted out of order. */
int store_meta_put_hard_state(struct store *s, MDB_txn *txn, const struct raft_hard_state *hs,
                              struct raft_hard_state *cur)
{
    int rc;

    if (hs->term < cur->term)
        return store_fail(s, BATON_EINVAL, "hard state: term %" PRIu64 " after %" PRIu64,
                          hs->term, cur->term);
    if (hs->term == cur->term && cur->vote != 0 && hs->vote != cur->vote)
        return store_fail(s, BATON_EINVAL,
                          "hard state: vote for %" PRIu64 " after %" PRIu64 " in term %" PRIu64,
                          hs->vote, cur->vote, hs->term);
    if (hs->term == 0 && hs->vote != 0)
        return store_fail(s, BATON_EINVAL, "hard state: a vote in term 0");
    if ((rc = put_hard_state(s, txn, hs)) != 0)
        return rc;
    *cur = *hs;
    return 0;
}
