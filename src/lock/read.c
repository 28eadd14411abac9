/* Reads of the lock state: lease_get, lock_inspect, lock_check and the walks. */
#include <string.h>

#include "lock/internal.h"

static void lease_fill(const struct lock_lease *ls, struct lease_info *info)
{
    info->id = ls->id;
    info->ttl_ms = ls->ttl_ms;
    info->n_held = ls->n_held;
    info->n_waits = ls->n_waits;
}

int lease_get(const struct lock_sm *sm, uint64_t id, struct lease_info *info)
{
    memset(info, 0, sizeof(*info));
    const struct lock_lease *ls = lock_lease_find(sm, id);
    if (ls == NULL) {
        return BATON_EEXPIRED;
    }
    lease_fill(ls, info);
    return 0;
}

static void lock_fill(const struct lock_rec *lk, struct lock_info *info)
{
    info->name = lk->name;
    info->created = lk->created;
    info->holder = lk->holder != NULL ? lk->holder->id : 0;
    info->token = lk->token;
    info->holder_delay_ms = lk->holder_delay_ms;
    info->delay_ms = lk->delay_ms;
    info->delay_since = lk->delay_since;
    info->n_waiters = lk->n_waiters;
}

static void waiter_fill(const struct lock_wait *w, size_t position, struct lock_waiter *out)
{
    out->name = w->lock->name;
    out->lease = w->lease->id;
    out->wait_ms = w->wait_ms;
    out->lock_delay_ms = w->lock_delay_ms;
    out->since = w->since;
    out->position = position;
}

int lock_inspect(const struct lock_sm *sm, const char *name, struct lock_info *info,
                 struct lock_waiter *waiters, size_t max)
{
    memset(info, 0, sizeof(*info));
    size_t len = strnlen(name, LOCK_NAME_MAX + 1);
    if (!lock_name_valid(name, len)) {
        return BATON_EINVAL;
    }
    info->name = name;
    const struct lock_rec *lk = lock_rec_find(sm, name, len);
    if (lk == NULL) {
        return 0; /* free */
    }
    lock_fill(lk, info);
    size_t i = 0;
    for (const struct lock_link *l = lk->queue.next; l != &lk->queue && i < max; l = l->next) {
        waiter_fill(LOCK_CONTAINER(l, const struct lock_wait, queue_link), i, &waiters[i]);
        i++;
    }
    return 0;
}

bool lock_check(const struct lock_sm *sm, const char *name, uint64_t token)
{
    size_t len = strnlen(name, LOCK_NAME_MAX + 1);
    if (token == 0 || !lock_name_valid(name, len)) {
        return false;
    }
    const struct lock_rec *lk = lock_rec_find(sm, name, len);
    return lk != NULL && lk->holder != NULL && lk->token == token;
}

int lease_walk(const struct lock_sm *sm, lease_walk_cb cb, void *arg)
{
    for (const struct lock_link *l = sm->leases.next; l != &sm->leases; l = l->next) {
        struct lease_info info;
        lease_fill(LOCK_CONTAINER(l, const struct lock_lease, order), &info);
        int rc = cb(&info, arg);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

static int walk_locks(const struct lock_sm *sm, bool delayed_only, lock_walk_cb cb, void *arg)
{
    for (const struct lock_link *l = sm->locks.next; l != &sm->locks; l = l->next) {
        const struct lock_rec *lk = LOCK_CONTAINER(l, const struct lock_rec, order);
        if (delayed_only && lk->delay_since == 0) {
            continue;
        }
        struct lock_info info;
        lock_fill(lk, &info);
        int rc = cb(&info, arg);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

int lock_walk(const struct lock_sm *sm, lock_walk_cb cb, void *arg)
{
    return walk_locks(sm, false, cb, arg);
}

int lock_delay_walk(const struct lock_sm *sm, lock_walk_cb cb, void *arg)
{
    return walk_locks(sm, true, cb, arg);
}

int lock_waiter_walk(const struct lock_sm *sm, lock_waiter_walk_cb cb, void *arg)
{
    for (const struct lock_link *l = sm->locks.next; l != &sm->locks; l = l->next) {
        const struct lock_rec *lk = LOCK_CONTAINER(l, const struct lock_rec, order);
        size_t pos = 0;
        for (const struct lock_link *q = lk->queue.next; q != &lk->queue; q = q->next) {
            struct lock_waiter w;
            waiter_fill(LOCK_CONTAINER(q, const struct lock_wait, queue_link), pos++, &w);
            int rc = cb(&w, arg);
            if (rc != 0) {
                return rc;
            }
        }
    }
    return 0;
}
