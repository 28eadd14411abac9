/* The "log" database: Raft entries keyed by big-endian index; append, truncate, compact, read. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "store/internal.h"

#define ENTRY_HDR 9u /* u64 term, u8 type */

static void put_key(uint8_t b[8], uint64_t index, MDB_val *k)
{
    store_put_u64(b, index);
    k->mv_size = 8;
    k->mv_data = b;
}

static int key_index(struct store *s, const MDB_val *k, uint64_t *index)
{
    *index = 0;
    if (k->mv_size != 8)
        return store_fail(s, BATON_ECORRUPT, "log: a key of %zu bytes (not an index)",
                          k->mv_size);
    *index = store_get_u64(k->mv_data);
    if (*index == 0)
        return store_fail(s, BATON_ECORRUPT, "log: an entry at index 0");
    return 0;
}

static bool type_valid(int type)
{
    return type >= RAFT_ENTRY_NORMAL && type <= RAFT_ENTRY_CONF;
}

/* Decodes the value of entry index; copies its data only if copy is set (the
 * data pointer is otherwise left NULL: v is valid only inside the txn). */
static int decode_entry(struct store *s, uint64_t index, const MDB_val *v, struct raft_entry *e,
                        bool copy)
{
    struct store_rd r;
    const char *bad = store_rec_open(v, &r);

    memset(e, 0, sizeof *e);
    if (bad != NULL)
        return store_fail(s, BATON_ECORRUPT, "log entry %" PRIu64 ": %s", index, bad);
    e->index = index;
    e->term = store_rd_u64(&r);
    e->type = store_rd_u8(&r);
    if (r.bad)
        return store_fail(s, BATON_ECORRUPT, "log entry %" PRIu64 ": value of %zu bytes is too short",
                          index, v->mv_size);
    if (e->term == 0)
        return store_fail(s, BATON_ECORRUPT, "log entry %" PRIu64 ": term 0", index);
    if (!type_valid(e->type))
        return store_fail(s, BATON_ECORRUPT, "log entry %" PRIu64 ": unknown type %d", index,
                          e->type);
    e->data.len = r.left;
    if (copy && store_dup(r.p, r.left, &e->data.base) != 0)
        return store_fail(s, BATON_ENOMEM, "log entry %" PRIu64 ": out of memory", index);
    return 0;
}

int store_log_bounds(struct store *s, MDB_txn *txn, struct store_pos *pos)
{
    MDB_cursor *c;
    MDB_stat st;
    MDB_val k0, k1, v;
    uint64_t first, last;
    int rc;

    pos->first = pos->snap_index + 1;
    pos->last = pos->snap_index;
    if ((rc = mdb_stat(txn, s->log, &st)) != 0)
        return store_mdb_fail(s, rc, "log: stat");
    if (st.ms_entries == 0)
        return 0;
    if ((rc = mdb_cursor_open(txn, s->log, &c)) != 0)
        return store_mdb_fail(s, rc, "log: open a cursor");
    rc = mdb_cursor_get(c, &k0, &v, MDB_FIRST);
    if (rc == 0)
        rc = mdb_cursor_get(c, &k1, &v, MDB_LAST);
    mdb_cursor_close(c);
    if (rc != 0)
        return store_mdb_fail(s, rc, "log: find its ends");
    if ((rc = key_index(s, &k0, &first)) != 0 || (rc = key_index(s, &k1, &last)) != 0)
        return rc;
    /* Keys are unique and sorted, so the count equals the span iff there is no
     * hole: a full check of contiguity at the price of two lookups. */
    if (last - first != st.ms_entries - 1)
        return store_fail(s, BATON_ECORRUPT,
                          "log: %zu entries between %" PRIu64 " and %" PRIu64 ": entries are missing",
                          st.ms_entries, first, last);
    if (first > pos->snap_index + 1 || last < pos->snap_index)
        return store_fail(s, BATON_ECORRUPT,
                          "log: entries %" PRIu64 "..%" PRIu64 " do not reach the snapshot at %" PRIu64,
                          first, last, pos->snap_index);
    pos->first = first;
    pos->last = last;
    return 0;
}

static int get_entry(struct store *s, MDB_txn *txn, const struct store_pos *pos, uint64_t index,
                     struct raft_entry *e, bool copy)
{
    uint8_t b[8];
    MDB_val k, v;
    int rc;

    if (index < pos->first)
        return store_fail(s, BATON_ECOMPACTED, "log: entry %" PRIu64 " is compacted (first %" PRIu64 ")",
                          index, pos->first);
    if (index > pos->last)
        return store_fail(s, BATON_ENOTFOUND, "log: no entry %" PRIu64 " (last %" PRIu64 ")", index,
                          pos->last);
    put_key(b, index, &k);
    rc = mdb_get(txn, s->log, &k, &v);
    if (rc == MDB_NOTFOUND)
        return store_fail(s, BATON_ECORRUPT, "log: entry %" PRIu64 " is missing", index);
    if (rc != 0)
        return store_mdb_fail(s, rc, "log: read entry %" PRIu64, index);
    return decode_entry(s, index, &v, e, copy);
}

int store_log_term(struct store *s, MDB_txn *txn, const struct store_pos *pos, uint64_t index,
                   uint64_t *term)
{
    struct raft_entry e = {.term = 0};
    int rc;

    *term = 0;
    if (index == 0)
        return 0;
    if (index == pos->snap_index && index < pos->first) {
        *term = pos->snap_term;
        return 0;
    }
    if ((rc = get_entry(s, txn, pos, index, &e, false)) != 0)
        return rc;
    *term = e.term;
    return 0;
}

/* Deletes the entries with lo <= index <= hi. Seeks afresh after each delete:
 * simple, and deletes are few (a conflicting suffix, a compacted prefix). */
static int del_range(struct store *s, MDB_txn *txn, uint64_t lo, uint64_t hi)
{
    MDB_cursor *c;
    uint8_t b[8];
    MDB_val k, v;
    uint64_t index;
    int rc;

    if ((rc = mdb_cursor_open(txn, s->log, &c)) != 0)
        return store_mdb_fail(s, rc, "log: open a cursor");
    for (;;) {
        put_key(b, lo, &k);
        rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
        if (rc == MDB_NOTFOUND) {
            rc = 0;
            break;
        }
        if (rc != 0) {
            rc = store_mdb_fail(s, rc, "log: seek to %" PRIu64, lo);
            break;
        }
        if ((rc = key_index(s, &k, &index)) != 0 || index > hi)
            break;
        if ((rc = mdb_cursor_del(c, 0)) != 0) {
            rc = store_mdb_fail(s, rc, "log: delete entry %" PRIu64, index);
            break;
        }
    }
    mdb_cursor_close(c);
    return rc;
}

int store_log_drop(struct store *s, MDB_txn *txn, uint64_t upto)
{
    return del_range(s, txn, 0, upto);
}

int store_log_drop_all(struct store *s, MDB_txn *txn)
{
    int rc = mdb_drop(txn, s->log, 0);

    if (rc != 0)
        return store_mdb_fail(s, rc, "log: drop all entries");
    return 0;
}

int store_log_compact(struct store *s, MDB_txn *txn, struct store_pos *pos, uint64_t upto)
{
    int rc;

    if (upto > pos->snap_index)
        return store_fail(s, BATON_EINVAL,
                          "compact up to %" PRIu64 ": only entries the snapshot covers (up to %" PRIu64
                          ") may go",
                          upto, pos->snap_index);
    if (upto < pos->first)
        return 0;
    if ((rc = del_range(s, txn, pos->first, upto)) != 0)
        return rc;
    pos->first = upto + 1;
    return 0;
}

/* Checks entries against themselves and the log before anything is deleted. */
static int check_append(struct store *s, MDB_txn *txn, const struct store_pos *pos,
                        const struct raft_entry *e, size_t n)
{
    uint64_t at = e[0].index;
    uint64_t prev = 0;
    int rc;

    if (at == 0)
        return store_fail(s, BATON_EINVAL, "append at index 0");
    if (at < pos->first)
        return store_fail(s, BATON_ECOMPACTED, "append at %" PRIu64 ": the log starts at %" PRIu64,
                          at, pos->first);
    if (at > pos->last + 1)
        return store_fail(s, BATON_EINVAL, "append at %" PRIu64 " leaves a gap after %" PRIu64, at,
                          pos->last);
    if (at + n - 1 < pos->snap_index)
        return store_fail(s, BATON_EINVAL,
                          "append of %" PRIu64 "..%" PRIu64 " truncates entries the snapshot at %" PRIu64
                          " covers",
                          at, at + n - 1, pos->snap_index);
    if ((at > pos->first || at - 1 == pos->snap_index) &&
        (rc = store_log_term(s, txn, pos, at - 1, &prev)) != 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (e[i].index != at + i)
            return store_fail(s, BATON_EINVAL, "append: entry %" PRIu64 " where %" PRIu64 " belongs",
                              e[i].index, at + i);
        if (e[i].term == 0 || e[i].term < prev)
            return store_fail(s, BATON_EINVAL, "append: entry %" PRIu64 " has term %" PRIu64
                              " after term %" PRIu64, e[i].index, e[i].term, prev);
        if (!type_valid(e[i].type) || (e[i].data.len > 0 && e[i].data.base == NULL))
            return store_fail(s, BATON_EINVAL, "append: entry %" PRIu64 " is malformed", e[i].index);
        prev = e[i].term;
    }
    return 0;
}

static int put_entry(struct store *s, MDB_txn *txn, const struct raft_entry *e)
{
    size_t len = ENTRY_HDR + e->data.len;
    uint8_t b[8];
    uint8_t *p, *q;
    MDB_val k;
    int rc;

    put_key(b, e->index, &k);
    /* MDB_APPEND: every key from here on is past the last one, which lets LMDB
     * fill pages instead of splitting them. */
    if ((rc = store_rec_reserve(txn, s->log, &k, len, MDB_APPEND, &p)) != 0)
        return store_mdb_fail(s, rc, "log: write entry %" PRIu64, e->index);
    q = store_put_u64(p, e->term);
    *q++ = (uint8_t)e->type;
    if (e->data.len > 0)
        memcpy(q, e->data.base, e->data.len);
    store_rec_seal(p, len);
    return 0;
}

int store_log_append(struct store *s, MDB_txn *txn, struct store_pos *pos,
                     const struct raft_entry *entries, size_t n)
{
    int rc;

    if (n == 0)
        return 0;
    if ((rc = check_append(s, txn, pos, entries, n)) != 0)
        return rc;
    if (entries[0].index <= pos->last &&
        (rc = del_range(s, txn, entries[0].index, UINT64_MAX)) != 0)
        return rc;
    for (size_t i = 0; i < n; i++)
        if ((rc = put_entry(s, txn, &entries[i])) != 0)
            return rc;
    pos->last = entries[n - 1].index;
    return 0;
}

void store_entries_free(struct raft_entry *entries, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(entries[i].data.base);
    free(entries);
}

/* Walks the log in order, checking that every index follows the previous one. */
static int read_walk(struct store *s, MDB_cursor *c, const struct store_pos *pos,
                     struct raft_entry *out, size_t cap, size_t *n)
{
    MDB_val k, v;
    uint64_t index;
    int rc;

    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if ((rc = key_index(s, &k, &index)) != 0)
            return rc;
        if (*n == cap || index != pos->first + *n)
            return store_fail(s, BATON_ECORRUPT,
                              "log: entry %" PRIu64 " where %" PRIu64 " belongs (entries %" PRIu64
                              "..%" PRIu64 " expected)",
                              index, pos->first + *n, pos->first, pos->last);
        if ((rc = decode_entry(s, index, &v, &out[*n], true)) != 0)
            return rc;
        (*n)++;
    }
    if (rc != MDB_NOTFOUND)
        return store_mdb_fail(s, rc, "log: read");
    if (*n != cap)
        return store_fail(s, BATON_ECORRUPT, "log: %zu entries where %zu were expected", *n, cap);
    return 0;
}

int store_log_read_all(struct store *s, MDB_txn *txn, const struct store_pos *pos,
                       struct raft_entry **entries, size_t *n)
{
    size_t cap = (size_t)(pos->last + 1 - pos->first);
    struct raft_entry *out;
    MDB_cursor *c;
    size_t got = 0;
    int rc;

    *entries = NULL;
    *n = 0;
    if (cap == 0)
        return 0;
    if ((out = calloc(cap, sizeof *out)) == NULL)
        return store_fail(s, BATON_ENOMEM, "log: out of memory for %zu entries", cap);
    if ((rc = mdb_cursor_open(txn, s->log, &c)) != 0) {
        free(out);
        return store_mdb_fail(s, rc, "log: open a cursor");
    }
    rc = read_walk(s, c, pos, out, cap, &got);
    mdb_cursor_close(c);
    if (rc != 0) {
        store_entries_free(out, got);
        return rc;
    }
    *entries = out;
    *n = got;
    return 0;
}

int store_term_at(struct store *s, uint64_t index, uint64_t *term)
{
    MDB_txn *txn;
    int rc;

    *term = 0;
    if ((rc = store_txn_begin(s, false, &txn)) != 0)
        return rc;
    rc = store_log_term(s, txn, &s->pos, index, term);
    mdb_txn_abort(txn);
    return rc;
}

int store_entry_get(struct store *s, uint64_t index, struct raft_entry *e)
{
    MDB_txn *txn;
    int rc;

    memset(e, 0, sizeof *e);
    if ((rc = store_txn_begin(s, false, &txn)) != 0)
        return rc;
    rc = get_entry(s, txn, &s->pos, index, e, true);
    mdb_txn_abort(txn);
    return rc;
}
