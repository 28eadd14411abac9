/* The "crdt" database: G-Counter slots stored as name -> opaque bytes. */
#include <string.h>

#include "store/internal.h"

static int name_key(struct store *s, const char *name, MDB_val *k)
{
    size_t len = name != NULL ? strlen(name) : 0;

    if (len == 0 || len > STORE_CRDT_NAME_MAX)
        return store_fail(s, BATON_EINVAL, "crdt: a name must have 1 to %d bytes",
                          STORE_CRDT_NAME_MAX);
    k->mv_size = len;
    k->mv_data = (void *)name;
    return 0;
}

int store_crdt_put_txn(struct store *s, MDB_txn *txn, const struct store_crdt_put *p)
{
    MDB_val k;
    int rc;

    if ((rc = name_key(s, p->name, &k)) != 0)
        return rc;
    if (p->len > 0 && p->data == NULL)
        return store_fail(s, BATON_EINVAL, "crdt %s: %zu bytes at NULL", p->name, p->len);
    if ((rc = store_rec_put(txn, s->crdt, &k, p->data, p->len)) != 0)
        return store_mdb_fail(s, rc, "crdt %s: write", p->name);
    return 0;
}

int store_crdt_put(struct store *s, const char *name, const void *data, size_t len)
{
    struct store_crdt_put p = {.name = name, .data = data, .len = len};
    struct store_batch b;

    memset(&b, 0, sizeof b);
    b.crdt = &p;
    b.n_crdt = 1;
    return store_write(s, &b, 1);
}

int store_crdt_get(struct store *s, const char *name, void **data, size_t *len)
{
    struct store_rd r;
    MDB_txn *txn;
    MDB_val k, v;
    const char *bad;
    int rc;

    *data = NULL;
    *len = 0;
    if ((rc = name_key(s, name, &k)) != 0)
        return rc;
    if ((rc = store_txn_begin(s, false, &txn)) != 0)
        return rc;
    rc = mdb_get(txn, s->crdt, &k, &v);
    if (rc == MDB_NOTFOUND)
        rc = store_fail(s, BATON_ENOTFOUND, "crdt %s: not found", name);
    else if (rc != 0)
        rc = store_mdb_fail(s, rc, "crdt %s: read", name);
    else if ((bad = store_rec_open(&v, &r)) != NULL)
        rc = store_fail(s, BATON_ECORRUPT, "crdt %s: %s", name, bad);
    else if (store_dup(r.p, r.left, data) != 0)
        rc = store_fail(s, BATON_ENOMEM, "crdt %s: out of memory", name);
    else
        *len = r.left;
    mdb_txn_abort(txn);
    return rc;
}

/* Hands one slot to cb with its name NUL-terminated. */
static int visit(struct store *s, const MDB_val *k, const MDB_val *v, store_crdt_cb cb, void *arg)
{
    char name[STORE_CRDT_NAME_MAX + 1];
    struct store_rd r;
    const char *bad;

    if (k->mv_size == 0 || k->mv_size > STORE_CRDT_NAME_MAX ||
        memchr(k->mv_data, '\0', k->mv_size) != NULL)
        return store_fail(s, BATON_ECORRUPT, "crdt: a name of %zu bytes is not valid",
                          k->mv_size);
    memcpy(name, k->mv_data, k->mv_size);
    name[k->mv_size] = '\0';
    if ((bad = store_rec_open(v, &r)) != NULL)
        return store_fail(s, BATON_ECORRUPT, "crdt %s: %s", name, bad);
    return cb(name, r.p, r.left, arg);
}

int store_crdt_foreach(struct store *s, store_crdt_cb cb, void *arg)
{
    MDB_cursor *c;
    MDB_txn *txn;
    MDB_val k, v;
    int rc;

    if ((rc = store_txn_begin(s, false, &txn)) != 0)
        return rc;
    if ((rc = mdb_cursor_open(txn, s->crdt, &c)) != 0) {
        rc = store_mdb_fail(s, rc, "crdt: open a cursor");
        goto end_txn;
    }
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
        if ((rc = visit(s, &k, &v, cb, arg)) != 0)
            goto close_cursor;
    rc = rc == MDB_NOTFOUND ? 0 : store_mdb_fail(s, rc, "crdt: read");
close_cursor:
    mdb_cursor_close(c);
end_txn:
    mdb_txn_abort(txn);
    return rc;
}
