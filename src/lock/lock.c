/* Locks: acquire (try or queue), release, and the ends of waits and lock-delays. */
#include <string.h>

#include "lock/internal.h"

/* The live lease c names, or NULL with res->code set: a lease that is not
 * live holds and waits for nothing, so there is nothing to act on. */
static struct lock_lease *live_lease(const struct lock_sm *sm, const struct lock_cmd *c,
                                     struct lock_result *res)
{
    struct lock_lease *ls = lock_lease_find(sm, c->lease);
    if (ls == NULL) {
        res->code = BATON_EEXPIRED;
    }
    return ls;
}

static struct lock_rec *named(const struct lock_sm *sm, const struct lock_cmd *c)
{
    return lock_rec_find(sm, c->name, strlen(c->name));
}

static uint64_t holder_id(const struct lock_rec *lk)
{
    return lk != NULL && lk->holder != NULL ? lk->holder->id : 0;
}

/* A retried wait keeps its place in the queue but restarts: it takes the
 * retry's wait_ms, lock_delay_ms and index (its id), and WAIT_QUEUED tells
 * the leader to restart its clock. A timer for the old id is then stale. */
static void wait_retry(struct lock_sm *sm, struct lock_wait *w, const struct lock_cmd *c)
{
    w->wait_ms = c->wait_ms;
    w->lock_delay_ms = c->lock_delay_ms;
    w->since = sm->index;
    struct lock_event e = {
        .type = LOCK_EVENT_WAIT_QUEUED, .lease = w->lease->id, .ms = w->wait_ms, .since = w->since};
    lock_emit(sm, &e, w->lock);
}

void lock_do_acquire(struct lock_sm *sm, const struct lock_cmd *c, struct lock_result *res)
{
    struct lock_lease *ls = live_lease(sm, c, res);
    if (ls == NULL) {
        return;
    }
    struct lock_rec *lk = named(sm, c);
    if (lk != NULL && lk->holder == ls) {
        res->token = lk->token; /* a retried acquire: same holder, same token */
        return;
    }
    if (lk == NULL) {
        lk = sm->new_lock;
        sm->new_lock = NULL;
        lock_rec_insert(sm, lk);
    }
    if (lk->holder == NULL && lk->delay_since == 0) {
        lock_grant(sm, lk, ls, c->lock_delay_ms);
        res->token = lk->token;
        return;
    }
#ifdef BATON_LOCK_FAULT_DOUBLE_GRANT
    /* Planted bug (tests/sim proves it is caught): a try-lock takes a held lock
     * from its holder without releasing it. */
    if (c->wait_ms == 0 && lk->holder != NULL) {
        lock_link_remove(&lk->holder_link);
        lk->holder->n_held--;
        lk->holder = NULL;
        lock_grant(sm, lk, ls, c->lock_delay_ms);
        res->token = lk->token;
        return;
    }
#endif
    if (c->wait_ms == 0) {
        res->code = BATON_ELOCKED; /* a try-lock; a queued wait stays as it was */
        res->holder = holder_id(lk);
        return;
    }
    struct lock_wait *w = lock_wait_find(lk, ls);
    if (w != NULL) {
        wait_retry(sm, w, c);
        res->position = lock_wait_position(w);
    } else {
        lock_wait_add(sm, lk, ls, c);
        res->position = lk->n_waiters - 1;
    }
    res->queued = true;
    res->since = sm->index;
}

void lock_do_release(struct lock_sm *sm, const struct lock_cmd *c, struct lock_result *res)
{
    struct lock_lease *ls = live_lease(sm, c, res);
    if (ls == NULL) {
        return;
    }
    struct lock_rec *lk = named(sm, c);
    if (lk != NULL && lk->holder == ls) {
        res->token = lk->token;
        lock_unhold(sm, lk, LOCK_REASON_RELEASED);
        lock_hand_on(sm, lk);
        return;
    }
    struct lock_wait *w = lk != NULL ? lock_wait_find(lk, ls) : NULL;
    if (w != NULL) {
        lock_wait_drop(sm, w, LOCK_REASON_CANCELED);
        lock_rec_gc(sm, lk);
        res->canceled = true;
        return;
    }
    res->holder = holder_id(lk);
    res->code = res->holder != 0 ? BATON_ELOCKED : BATON_ENOTFOUND;
}

void lock_do_wait_end(struct lock_sm *sm, const struct lock_cmd *c, struct lock_result *res)
{
    struct lock_lease *ls = live_lease(sm, c, res);
    if (ls == NULL) {
        return;
    }
    struct lock_rec *lk = named(sm, c);
    struct lock_wait *w = lk != NULL ? lock_wait_find(lk, ls) : NULL;
    if (w == NULL || w->since != c->since) {
        res->code = BATON_ENOTFOUND; /* granted, canceled or retried meanwhile */
        return;
    }
    lock_wait_drop(sm, w, LOCK_REASON_WAIT_END);
    lock_rec_gc(sm, lk);
}

void lock_do_delay_end(struct lock_sm *sm, const struct lock_cmd *c, struct lock_result *res)
{
    struct lock_rec *lk = named(sm, c);
    if (lk == NULL || lk->delay_since == 0 || lk->delay_since != c->since) {
        res->code = BATON_ENOTFOUND; /* a stale timer: never cut a later delay short */
        return;
    }
    struct lock_event e = {.type = LOCK_EVENT_DELAY_ENDED, .since = lk->delay_since};
    lock_emit(sm, &e, lk);
    lk->delay_ms = 0;
    lk->delay_since = 0;
    bool waiters = lk->n_waiters > 0;
    lock_hand_on(sm, lk); /* frees lk when nobody waits */
    if (waiters) {
        res->lease = lk->holder->id;
        res->token = lk->token;
    }
}
