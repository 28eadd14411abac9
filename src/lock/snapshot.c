/* Snapshots of the lock state: a canonical, checksummed encoding and a restore that trusts nothing. */
#include <stdlib.h>
#include <string.h>

#include "lock/internal.h"

/*
 * Layout (varints are minimal LEB128, as in commands, so equal states give
 * equal bytes and a restored state re-encodes to the bytes it came from):
 *   "BLS" | u8 format
 *   varint n_leases, then per lease in id order:  id | ttl_ms
 *   varint n_locks, then per lock in creation order:
 *     u8 name_len | name | created | holder (0 = none)
 *     [holder != 0: token | holder_delay_ms]
 *     delay_since (0 = none) [delay_since != 0: delay_ms]
 *     n_waiters, then per waiter in queue order:
 *       lease | wait_ms | lock_delay_ms | since
 *   u64 big-endian FNV-1a 64 of every byte before it
 * Which lease holds or waits for what is implied by the locks; restore
 * rebuilds the per-lease lists (their order never matters, lease.c).
 */

static const uint8_t magic[3] = {'B', 'L', 'S'};
#define HEADER_BYTES 4
#define SUM_BYTES 8

static void put_lock(struct lock_writer *w, const struct lock_rec *lk)
{
    lock_put_name(w, lk->name, lk->name_len);
    lock_put_varint(w, lk->created);
    lock_put_varint(w, lk->holder != NULL ? lk->holder->id : 0);
    if (lk->holder != NULL) {
        lock_put_varint(w, lk->token);
        lock_put_varint(w, lk->holder_delay_ms);
    }
    lock_put_varint(w, lk->delay_since);
    if (lk->delay_since != 0) {
        lock_put_varint(w, lk->delay_ms);
    }
    lock_put_varint(w, lk->n_waiters);
    for (const struct lock_link *l = lk->queue.next; l != &lk->queue; l = l->next) {
        const struct lock_wait *wt = LOCK_CONTAINER(l, const struct lock_wait, queue_link);
        lock_put_varint(w, wt->lease->id);
        lock_put_varint(w, wt->wait_ms);
        lock_put_varint(w, wt->lock_delay_ms);
        lock_put_varint(w, wt->since);
    }
}

int lock_sm_snapshot(const struct lock_sm *sm, void **data, size_t *len)
{
    *data = NULL;
    *len = 0;
    struct lock_writer w = {.grow = true};
    lock_put_bytes(&w, magic, sizeof(magic));
    lock_put_u8(&w, LOCK_FORMAT);
    lock_put_varint(&w, sm->n_leases);
    for (const struct lock_link *l = sm->leases.next; l != &sm->leases; l = l->next) {
        const struct lock_lease *ls = LOCK_CONTAINER(l, const struct lock_lease, order);
        lock_put_varint(&w, ls->id);
        lock_put_varint(&w, ls->ttl_ms);
    }
    lock_put_varint(&w, sm->n_locks);
    for (const struct lock_link *l = sm->locks.next; l != &sm->locks; l = l->next) {
        put_lock(&w, LOCK_CONTAINER(l, const struct lock_rec, order));
    }
    uint64_t sum = lock_hash_bytes(w.p, w.len);
    uint8_t be[SUM_BYTES];
    for (size_t i = 0; i < SUM_BYTES; i++) {
        be[i] = (uint8_t)(sum >> (56 - 8 * i));
    }
    lock_put_bytes(&w, be, sizeof(be));
    if (w.bad) {
        free(w.p);
        return BATON_ENOMEM;
    }
    *data = w.p;
    *len = w.len;
    return 0;
}

/* ---- Restore: every rule a state built by lock_apply keeps is checked. ---- */

struct restore {
    struct lock_reader r;
    struct lock_sm *sm; /* the state being built */
    uint64_t index;
    int err; /* first error other than a bad read (ENOMEM) */
};

static bool in(uint64_t v, uint64_t lo, uint64_t hi)
{
    return v >= lo && v <= hi;
}

/* A count of items of at least min_bytes each that the bytes left can hold:
 * bounds every loop and allocation by the input's size. */
static bool count_ok(const struct restore *rs, uint64_t n, size_t min_bytes)
{
    return n <= rs->r.left / min_bytes;
}

static bool restore_leases(struct restore *rs)
{
    uint64_t n = lock_get_varint(&rs->r);
    if (rs->r.bad || !count_ok(rs, n, 2)) {
        return false;
    }
    if (lock_htab_reserve(&rs->sm->lease_tab, (size_t)n) != 0) {
        rs->err = BATON_ENOMEM;
        return false;
    }
    uint64_t prev = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t id = lock_get_varint(&rs->r);
        uint64_t ttl = lock_get_varint(&rs->r);
        if (rs->r.bad || id <= prev || id > rs->index || !in(ttl, 1, LOCK_MS_MAX)) {
            return false;
        }
        struct lock_lease *ls = calloc(1, sizeof(*ls));
        if (ls == NULL) {
            rs->err = BATON_ENOMEM;
            return false;
        }
        ls->id = id;
        ls->ttl_ms = ttl;
        lock_lease_insert(rs->sm, ls);
        prev = id;
    }
    return true;
}

static bool restore_waiter(struct restore *rs, struct lock_rec *lk)
{
    uint64_t id = lock_get_varint(&rs->r);
    uint64_t wait_ms = lock_get_varint(&rs->r);
    uint64_t delay = lock_get_varint(&rs->r);
    uint64_t since = lock_get_varint(&rs->r);
    struct lock_lease *ls = lock_lease_find(rs->sm, id);
    if (rs->r.bad || ls == NULL || ls == lk->holder || !in(wait_ms, 1, LOCK_MS_MAX) ||
        delay > LOCK_DELAY_MAX_MS || since <= lk->created || since <= id || since > rs->index) {
        return false;
    }
    /* This lock's waits are the last ones added to each lease so far. */
    if (!lock_link_empty(&ls->waits) &&
        LOCK_CONTAINER(ls->waits.prev, struct lock_wait, lease_link)->lock == lk) {
        return false; /* the lease twice in one queue */
    }
    struct lock_wait *w = calloc(1, sizeof(*w));
    if (w == NULL) {
        rs->err = BATON_ENOMEM;
        return false;
    }
    *w = (struct lock_wait){.lease = ls, .lock = lk, .wait_ms = wait_ms,
                            .lock_delay_ms = delay, .since = since};
    lock_link_append(&lk->queue, &w->queue_link);
    lk->n_waiters++;
    lock_link_append(&ls->waits, &w->lease_link);
    ls->n_waits++;
    return true;
}

/* Holder and delay of lk, which is already linked into the state. */
static bool restore_holder(struct restore *rs, struct lock_rec *lk)
{
    uint64_t holder = lock_get_varint(&rs->r);
    if (holder != 0) {
        struct lock_lease *ls = lock_lease_find(rs->sm, holder);
        uint64_t token = lock_get_varint(&rs->r);
        uint64_t delay = lock_get_varint(&rs->r);
        if (ls == NULL || token < lk->created || token <= holder || token > rs->index ||
            delay > LOCK_DELAY_MAX_MS) {
            return false;
        }
        lk->holder = ls;
        lk->token = token;
        lk->holder_delay_ms = delay;
        lock_link_append(&ls->held, &lk->holder_link);
        ls->n_held++;
    }
    lk->delay_since = lock_get_varint(&rs->r);
    if (lk->delay_since != 0) {
        lk->delay_ms = lock_get_varint(&rs->r);
        if (holder != 0 || lk->delay_since <= lk->created || lk->delay_since > rs->index ||
            !in(lk->delay_ms, 1, LOCK_DELAY_MAX_MS)) {
            return false;
        }
    }
    return !rs->r.bad;
}

static bool restore_lock(struct restore *rs, uint64_t prev_created)
{
    char name[LOCK_NAME_MAX + 1];
    size_t len = lock_get_name(&rs->r, name);
    uint64_t created = lock_get_varint(&rs->r);
    if (rs->r.bad || created <= prev_created || created > rs->index ||
        lock_rec_find(rs->sm, name, len) != NULL) {
        return false;
    }
    struct lock_rec *lk = lock_rec_new(name, len, created);
    if (lk == NULL) {
        rs->err = BATON_ENOMEM;
        return false;
    }
    lock_rec_insert(rs->sm, lk); /* from here on the state owns it */
    if (!restore_holder(rs, lk)) {
        return false;
    }
    uint64_t n = lock_get_varint(&rs->r);
    if (rs->r.bad || !count_ok(rs, n, 4) || (lk->holder == NULL && lk->delay_since == 0)) {
        return false; /* a free lock is never stored, and has no waiters */
    }
    for (uint64_t i = 0; i < n; i++) {
        if (!restore_waiter(rs, lk)) {
            return false;
        }
    }
    return true;
}

static bool restore_locks(struct restore *rs)
{
    uint64_t n = lock_get_varint(&rs->r);
    if (rs->r.bad || !count_ok(rs, n, 6)) {
        return false;
    }
    if (lock_htab_reserve(&rs->sm->lock_tab, (size_t)n) != 0) {
        rs->err = BATON_ENOMEM;
        return false;
    }
    uint64_t prev = 0;
    for (uint64_t i = 0; i < n; i++) {
        if (!restore_lock(rs, prev)) {
            return false;
        }
        prev = LOCK_CONTAINER(rs->sm->locks.prev, struct lock_rec, order)->created;
    }
    return true;
}

/* Checks the header and the checksum; 0 or the error to return. */
static int check_frame(const uint8_t *p, size_t len)
{
    if (len < HEADER_BYTES + SUM_BYTES || memcmp(p, magic, sizeof(magic)) != 0 ||
        p[3] == 0) {
        return BATON_ECORRUPT;
    }
    if (p[3] > LOCK_FORMAT) {
        return BATON_EVERSION;
    }
    uint64_t sum = 0;
    for (size_t i = 0; i < SUM_BYTES; i++) {
        sum = sum << 8 | p[len - SUM_BYTES + i];
    }
    return sum == lock_hash_bytes(p, len - SUM_BYTES) ? 0 : BATON_ECORRUPT;
}

/* Moves the list at src to dst (empty), leaving src empty. */
static void move_list(struct lock_link *dst, struct lock_link *src)
{
    lock_link_init(dst);
    if (!lock_link_empty(src)) {
        *dst = *src;
        dst->next->prev = dst;
        dst->prev->next = dst;
        lock_link_init(src);
    }
}

static void adopt(struct lock_sm *sm, struct lock_sm *from, uint64_t index)
{
    lock_sm_clear(sm);
    sm->lease_tab = from->lease_tab;
    sm->lock_tab = from->lock_tab;
    memset(&from->lease_tab, 0, sizeof(from->lease_tab));
    memset(&from->lock_tab, 0, sizeof(from->lock_tab));
    move_list(&sm->leases, &from->leases);
    move_list(&sm->locks, &from->locks);
    sm->n_leases = from->n_leases;
    sm->n_locks = from->n_locks;
    from->n_leases = 0;
    from->n_locks = 0;
    sm->applied = index;
}

int lock_sm_restore(struct lock_sm *sm, const void *data, size_t len, uint64_t index)
{
    int rc = check_frame(data, len);
    if (rc != 0) {
        return rc;
    }
    struct restore rs = {
        .r = {.p = (const uint8_t *)data + HEADER_BYTES, .left = len - HEADER_BYTES - SUM_BYTES},
        .sm = lock_sm_new(),
        .index = index,
    };
    if (rs.sm == NULL) {
        return BATON_ENOMEM;
    }
    bool ok = restore_leases(&rs) && restore_locks(&rs) && !rs.r.bad && rs.r.left == 0;
    if (ok) {
        adopt(sm, rs.sm, index);
    }
    lock_sm_free(rs.sm);
    return ok ? 0 : rs.err != 0 ? rs.err : BATON_ECORRUPT;
}
