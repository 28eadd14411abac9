/* The lease listing: every live lease with the locks it holds and waits for. */
#include <stdlib.h>
#include <string.h>

#include "lock/internal.h"

void lease_list_close(struct lease_list *l)
{
    free(l->v);
    free(l->names);
    memset(l, 0, sizeof(*l));
}

struct lease_entry *lease_list_find(const struct lease_list *l, uint64_t id)
{
    size_t lo = 0, hi = l->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (l->v[mid].id == id) {
            return &l->v[mid];
        }
        if (l->v[mid].id < id) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}

/* Entries in id order, each with room for its names (counted, not yet filled). */
static int fill_leases(const struct lock_sm *sm, struct lease_list *l)
{
    size_t names = 0;
    for (const struct lock_link *k = sm->leases.next; k != &sm->leases; k = k->next) {
        const struct lock_lease *ls = LOCK_CONTAINER(k, const struct lock_lease, order);
        names += ls->n_held + ls->n_waits;
    }
    l->v = calloc(sm->n_leases + 1, sizeof(*l->v));
    l->names = calloc(names + 1, sizeof(*l->names));
    if (l->v == NULL || l->names == NULL) {
        return BATON_ENOMEM;
    }
    l->n_names = names;
    size_t off = 0;
    for (const struct lock_link *k = sm->leases.next; k != &sm->leases; k = k->next) {
        const struct lock_lease *ls = LOCK_CONTAINER(k, const struct lock_lease, order);
        struct lease_entry *e = &l->v[l->n++];
        e->id = ls->id;
        e->ttl_ms = ls->ttl_ms;
        e->held = l->names + off;
        off += ls->n_held;
        e->waits = l->names + off;
        off += ls->n_waits;
    }
    return 0;
}

/* Room for e's waits ends where the next entry's names begin. */
static size_t waits_room(const struct lease_list *l, const struct lease_entry *e)
{
    const char **end = e + 1 < l->v + l->n ? e[1].held : l->names + l->n_names;
    return (size_t)(end - e->waits);
}

int lease_list_read(const struct lock_sm *sm, struct lease_list *l)
{
    memset(l, 0, sizeof(*l));
    if (fill_leases(sm, l) != 0) {
        lease_list_close(l);
        return BATON_ENOMEM;
    }
    /* One pass over the locks in creation order puts each lease's names in that
     * order, which every node and every restore share (sm->leases is by id, so
     * the entries are sorted for lease_list_find). */
    for (const struct lock_link *k = sm->locks.next; k != &sm->locks; k = k->next) {
        const struct lock_rec *lk = LOCK_CONTAINER(k, const struct lock_rec, order);
        struct lease_entry *e = lk->holder ? lease_list_find(l, lk->holder->id) : NULL;
        /* The bounds only matter if the state broke its own invariants. */
        if (e != NULL && e->n_held < (size_t)(e->waits - e->held)) {
            e->held[e->n_held++] = lk->name;
        }
        for (const struct lock_link *q = lk->queue.next; q != &lk->queue; q = q->next) {
            const struct lock_wait *w = LOCK_CONTAINER(q, const struct lock_wait, queue_link);
            e = lease_list_find(l, w->lease->id);
            if (e != NULL && e->n_waits < waits_room(l, e)) {
                e->waits[e->n_waits++] = lk->name;
            }
        }
    }
    return 0;
}
