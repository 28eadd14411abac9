/* Leases: grant, and the end (revoke or expire) that frees every lock and wait in one entry. */
#include <stdlib.h>
#include <string.h>

#include "lock/internal.h"

void lock_do_lease_grant(struct lock_sm *sm, const struct lock_cmd *c, struct lock_result *res)
{
    struct lock_lease *ls = sm->spare_lease;
    sm->spare_lease = NULL;
    memset(ls, 0, sizeof(*ls));
    ls->id = sm->index; /* unique and the same on every node: indices only grow */
    ls->ttl_ms = c->ttl_ms;
    lock_lease_insert(sm, ls);
    res->lease = ls->id;
    res->ttl_ms = ls->ttl_ms;
    struct lock_event e = {.type = LOCK_EVENT_LEASE_GRANTED, .lease = ls->id, .ms = ls->ttl_ms};
    lock_emit(sm, &e, NULL);
}

static int by_created(const void *a, const void *b)
{
    const struct lock_end_item *x = a;
    const struct lock_end_item *y = b;
    return x->lock->created < y->lock->created ? -1 : x->lock->created > y->lock->created;
}

/* Lists every lock the lease holds or waits for into sm->scratch, sorted by
 * the locks' creation index: the end then acts, and emits its events, in an
 * order that depends on the replicated state alone (not on the order in
 * which the lease came to hold or wait, which a restore does not keep). */
int lock_prepare_lease_end(struct lock_sm *sm, const struct lock_cmd *c)
{
    struct lock_lease *ls = lock_lease_find(sm, c->lease);
    if (ls == NULL) {
        return 0;
    }
    size_t n = ls->n_held + ls->n_waits;
    if (n > sm->scratch_cap) {
        struct lock_end_item *p = realloc(sm->scratch, n * sizeof(*p));
        if (p == NULL) {
            return BATON_ENOMEM;
        }
        sm->scratch = p;
        sm->scratch_cap = n;
    }
    size_t i = 0;
    size_t name_bytes = 0;
    for (struct lock_link *l = ls->held.next; l != &ls->held; l = l->next) {
        struct lock_rec *lk = LOCK_CONTAINER(l, struct lock_rec, holder_link);
        sm->scratch[i++] = (struct lock_end_item){.lock = lk};
        name_bytes += 2 * (lk->name_len + 1); /* RELEASED, then GRANTED or DELAY_STARTED */
    }
    for (struct lock_link *l = ls->waits.next; l != &ls->waits; l = l->next) {
        struct lock_wait *w = LOCK_CONTAINER(l, struct lock_wait, lease_link);
        sm->scratch[i++] = (struct lock_end_item){.lock = w->lock, .wait = w};
        name_bytes += w->lock->name_len + 1; /* WAIT_ENDED */
    }
    if (n > 1) {
        qsort(sm->scratch, n, sizeof(*sm->scratch), by_created);
    }
    return lock_events_reserve(sm->ev, 1 + 2 * ls->n_held + ls->n_waits, name_bytes);
}

/* The holder's lease is gone. Lock-delay (Chubby §2.4) only follows an
 * expiry: the holder may not know yet that its lease is gone, while a
 * revoke, like a release, is a deliberate end. */
static void end_hold(struct lock_sm *sm, struct lock_rec *lk, int reason)
{
    uint64_t delay = lk->holder_delay_ms;
    lock_unhold(sm, lk, reason);
    if (reason == LOCK_REASON_EXPIRED && delay > 0) {
        lk->delay_ms = delay;
        lk->delay_since = sm->index;
        struct lock_event e = {
            .type = LOCK_EVENT_DELAY_STARTED, .ms = lk->delay_ms, .since = lk->delay_since};
        lock_emit(sm, &e, lk);
        return;
    }
    lock_hand_on(sm, lk);
}

void lock_do_lease_end(struct lock_sm *sm, const struct lock_cmd *c, struct lock_result *res)
{
    struct lock_lease *ls = lock_lease_find(sm, c->lease);
    if (ls == NULL) {
        res->code = BATON_EEXPIRED;
        return;
    }
    int reason = c->type == LOCK_CMD_LEASE_REVOKE ? LOCK_REASON_REVOKED : LOCK_REASON_EXPIRED;
    struct lock_event e = {.type = LOCK_EVENT_LEASE_ENDED, .reason = reason, .lease = ls->id};
    lock_emit(sm, &e, NULL);
    /* Each lock appears once in scratch (a lease never waits for a lock it
     * holds), and handing one lock on touches no other lock. */
    size_t n = ls->n_held + ls->n_waits;
    for (size_t i = 0; i < n; i++) {
        struct lock_end_item *it = &sm->scratch[i];
        if (it->wait != NULL) {
            lock_wait_drop(sm, it->wait, reason);
        } else {
            end_hold(sm, it->lock, reason);
        }
    }
    lock_lease_destroy(sm, ls);
}
