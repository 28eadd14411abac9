/* The lock state machine's records and the primitive changes every command is built from. */
#include <stdlib.h>
#include <string.h>

#include "lock/internal.h"

bool lock_name_valid(const char *name, size_t len)
{
    return len >= 1 && len <= LOCK_NAME_MAX && memchr(name, '\0', len) == NULL;
}

struct lock_lease *lock_lease_find(const struct lock_sm *sm, uint64_t id)
{
    uint64_t h = lock_hash_u64(id);
    for (struct lock_hnode *n = lock_htab_chain(&sm->lease_tab, h); n != NULL; n = n->next) {
        struct lock_lease *ls = LOCK_CONTAINER(n, struct lock_lease, hnode);
        if (ls->id == id) {
            return ls;
        }
    }
    return NULL;
}

struct lock_rec *lock_rec_find(const struct lock_sm *sm, const char *name, size_t len)
{
    uint64_t h = lock_hash_bytes(name, len);
    for (struct lock_hnode *n = lock_htab_chain(&sm->lock_tab, h); n != NULL; n = n->next) {
        struct lock_rec *lk = LOCK_CONTAINER(n, struct lock_rec, hnode);
        if (n->hash == h && lk->name_len == len && memcmp(lk->name, name, len) == 0) {
            return lk;
        }
    }
    return NULL;
}

struct lock_rec *lock_rec_new(const char *name, size_t len, uint64_t created)
{
    struct lock_rec *lk = calloc(1, sizeof(*lk) + len + 1);
    if (lk == NULL) {
        return NULL;
    }
    lk->hnode.hash = lock_hash_bytes(name, len);
    lock_link_init(&lk->order);
    lock_link_init(&lk->holder_link);
    lock_link_init(&lk->queue);
    lk->created = created;
    lk->name_len = len;
    memcpy(lk->name, name, len);
    lk->name[len] = '\0';
    return lk;
}

void lock_rec_insert(struct lock_sm *sm, struct lock_rec *lk)
{
    lock_htab_insert(&sm->lock_tab, &lk->hnode);
    lock_link_append(&sm->locks, &lk->order);
    sm->n_locks++;
}

void lock_rec_gc(struct lock_sm *sm, struct lock_rec *lk)
{
    if (lk->holder != NULL || lk->delay_since != 0 || lk->n_waiters > 0) {
        return;
    }
    lock_htab_remove(&sm->lock_tab, &lk->hnode);
    lock_link_remove(&lk->order);
    sm->n_locks--;
    free(lk);
}

void lock_lease_insert(struct lock_sm *sm, struct lock_lease *ls)
{
    ls->hnode.hash = lock_hash_u64(ls->id);
    lock_link_init(&ls->held);
    lock_link_init(&ls->waits);
    lock_htab_insert(&sm->lease_tab, &ls->hnode);
    lock_link_append(&sm->leases, &ls->order);
    sm->n_leases++;
}

/* The lease must hold nothing and wait for nothing any more. */
void lock_lease_destroy(struct lock_sm *sm, struct lock_lease *ls)
{
    lock_htab_remove(&sm->lease_tab, &ls->hnode);
    lock_link_remove(&ls->order);
    sm->n_leases--;
    free(ls);
}

void lock_grant(struct lock_sm *sm, struct lock_rec *lk, struct lock_lease *ls,
                uint64_t lock_delay_ms)
{
    lk->holder = ls;
#ifdef BATON_LOCK_FAULT_STALE_TOKEN
    /* Planted bug (tests/sim proves it is caught): the token is the index that
     * created the lock's record, so holders handed the lock through its queue
     * share one token. */
    lk->token = lk->created;
#else
    lk->token = sm->index; /* the fencing token: this entry's index */
#endif
    lk->holder_delay_ms = lock_delay_ms;
    lock_link_append(&ls->held, &lk->holder_link);
    ls->n_held++;
    struct lock_event e = {.type = LOCK_EVENT_GRANTED, .lease = ls->id, .token = lk->token};
    lock_emit(sm, &e, lk);
}

void lock_unhold(struct lock_sm *sm, struct lock_rec *lk, int reason)
{
    struct lock_lease *ls = lk->holder;
    struct lock_event e = {
        .type = LOCK_EVENT_RELEASED, .reason = reason, .lease = ls->id, .token = lk->token};
    lock_emit(sm, &e, lk);
    lock_link_remove(&lk->holder_link);
    ls->n_held--;
    lk->holder = NULL;
    lk->token = 0;
    lk->holder_delay_ms = 0;
}

/* No thundering herd: exactly the head of the queue is woken, in the same
 * entry that freed the lock, so its token is that entry's index. */
void lock_hand_on(struct lock_sm *sm, struct lock_rec *lk)
{
    if (lock_link_empty(&lk->queue)) {
        lock_rec_gc(sm, lk);
        return;
    }
    struct lock_wait *w = LOCK_CONTAINER(lk->queue.next, struct lock_wait, queue_link);
    struct lock_lease *ls = w->lease;
    uint64_t delay = w->lock_delay_ms;
    lock_wait_drop(sm, w, 0);
    lock_grant(sm, lk, ls, delay);
}

void lock_wait_add(struct lock_sm *sm, struct lock_rec *lk, struct lock_lease *ls,
                   const struct lock_cmd *c)
{
    struct lock_wait *w = sm->spare_wait;
    sm->spare_wait = NULL;
    memset(w, 0, sizeof(*w));
    w->lease = ls;
    w->lock = lk;
    w->wait_ms = c->wait_ms;
    w->lock_delay_ms = c->lock_delay_ms;
    w->since = sm->index;
    lock_link_append(&lk->queue, &w->queue_link);
    lk->n_waiters++;
    lock_link_append(&ls->waits, &w->lease_link);
    ls->n_waits++;
    struct lock_event e = {
        .type = LOCK_EVENT_WAIT_QUEUED, .lease = ls->id, .ms = w->wait_ms, .since = w->since};
    lock_emit(sm, &e, lk);
}

void lock_wait_drop(struct lock_sm *sm, struct lock_wait *w, int reason)
{
    if (reason != 0) {
        struct lock_event e = {.type = LOCK_EVENT_WAIT_ENDED, .reason = reason, .lease = w->lease->id};
        lock_emit(sm, &e, w->lock);
    }
    lock_link_remove(&w->queue_link);
    w->lock->n_waiters--;
    lock_link_remove(&w->lease_link);
    w->lease->n_waits--;
    if (sm->spare_wait == NULL) {
        sm->spare_wait = w;
    } else {
        free(w);
    }
}

struct lock_wait *lock_wait_find(const struct lock_rec *lk, const struct lock_lease *ls)
{
    /* Walk the shorter list: a lease usually waits for few locks, a hot lock
     * may have many waiters. */
    if (ls->n_waits <= lk->n_waiters) {
        for (struct lock_link *l = ls->waits.next; l != &ls->waits; l = l->next) {
            struct lock_wait *w = LOCK_CONTAINER(l, struct lock_wait, lease_link);
            if (w->lock == lk) {
                return w;
            }
        }
        return NULL;
    }
    for (struct lock_link *l = lk->queue.next; l != &lk->queue; l = l->next) {
        struct lock_wait *w = LOCK_CONTAINER(l, struct lock_wait, queue_link);
        if (w->lease == ls) {
            return w;
        }
    }
    return NULL;
}

size_t lock_wait_position(const struct lock_wait *w)
{
    size_t pos = 0;
    for (const struct lock_link *l = w->queue_link.prev; l != &w->lock->queue; l = l->prev) {
        pos++;
    }
    return pos;
}

void lock_sm_clear(struct lock_sm *sm)
{
    while (!lock_link_empty(&sm->locks)) {
        struct lock_rec *lk = LOCK_CONTAINER(sm->locks.next, struct lock_rec, order);
        while (!lock_link_empty(&lk->queue)) {
            struct lock_wait *w = LOCK_CONTAINER(lk->queue.next, struct lock_wait, queue_link);
            lock_link_remove(&w->queue_link);
            free(w);
        }
        lock_link_remove(&lk->order);
        free(lk);
    }
    while (!lock_link_empty(&sm->leases)) {
        struct lock_lease *ls = LOCK_CONTAINER(sm->leases.next, struct lock_lease, order);
        lock_link_remove(&ls->order);
        free(ls);
    }
    lock_htab_close(&sm->lock_tab);
    lock_htab_close(&sm->lease_tab);
    sm->n_locks = 0;
    sm->n_leases = 0;
}
