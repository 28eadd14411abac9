/* The state machine's life cycle and lock_apply: decode, allocate up front, then change. */
#include <stdlib.h>
#include <string.h>

#include "lock/internal.h"

struct lock_sm *lock_sm_new(void)
{
    struct lock_sm *sm = calloc(1, sizeof(*sm));
    if (sm == NULL) {
        return NULL;
    }
    lock_link_init(&sm->leases);
    lock_link_init(&sm->locks);
    return sm;
}

void lock_sm_free(struct lock_sm *sm)
{
    if (sm == NULL) {
        return;
    }
    lock_sm_clear(sm);
    free(sm->spare_wait);
    free(sm->spare_lease);
    free(sm->new_lock);
    free(sm->scratch);
    free(sm);
}

uint64_t lock_sm_applied(const struct lock_sm *sm)
{
    return sm->applied;
}

size_t lease_count(const struct lock_sm *sm)
{
    return sm->n_leases;
}

size_t lock_count(const struct lock_sm *sm)
{
    return sm->n_locks;
}

/* Room for a new record of the given size and one more entry in t. */
static int prepare_spare(void **spare, size_t size, struct lock_htab *t)
{
    if (*spare == NULL) {
        *spare = malloc(size);
        if (*spare == NULL) {
            return BATON_ENOMEM;
        }
    }
    return t != NULL ? lock_htab_reserve(t, t->n + 1) : 0;
}

/* Allocates everything command c may need, so that its handler cannot fail
 * half-way: an apply changes all it should or nothing. */
static int prepare(struct lock_sm *sm, const struct lock_cmd *c)
{
    size_t name_bytes = 2 * (strlen(c->name) + 1);
    void *p;
    int rc;
    switch (c->type) {
    case LOCK_CMD_LEASE_GRANT:
        p = sm->spare_lease;
        rc = prepare_spare(&p, sizeof(*sm->spare_lease), &sm->lease_tab);
        sm->spare_lease = p;
        return rc != 0 ? rc : lock_events_reserve(sm->ev, 1, 0);
    case LOCK_CMD_LEASE_REVOKE:
    case LOCK_CMD_LEASE_EXPIRE:
        return lock_prepare_lease_end(sm, c);
    case LOCK_CMD_ACQUIRE:
        p = sm->spare_wait;
        rc = prepare_spare(&p, sizeof(*sm->spare_wait), NULL);
        sm->spare_wait = p;
        if (rc == 0 && lock_rec_find(sm, c->name, strlen(c->name)) == NULL) {
            sm->new_lock = lock_rec_new(c->name, strlen(c->name), sm->index);
            rc = sm->new_lock == NULL ? BATON_ENOMEM
                                      : lock_htab_reserve(&sm->lock_tab, sm->lock_tab.n + 1);
        }
        break;
    default:
        rc = 0;
        break;
    }
    return rc != 0 ? rc : lock_events_reserve(sm->ev, 2, name_bytes);
}

static void run(struct lock_sm *sm, const struct lock_cmd *c, struct lock_result *res)
{
    switch (c->type) {
    case LOCK_CMD_LEASE_GRANT:
        lock_do_lease_grant(sm, c, res);
        break;
    case LOCK_CMD_LEASE_REVOKE:
    case LOCK_CMD_LEASE_EXPIRE:
        lock_do_lease_end(sm, c, res);
        break;
    case LOCK_CMD_ACQUIRE:
        lock_do_acquire(sm, c, res);
        break;
    case LOCK_CMD_RELEASE:
        lock_do_release(sm, c, res);
        break;
    case LOCK_CMD_WAIT_END:
        lock_do_wait_end(sm, c, res);
        break;
    case LOCK_CMD_DELAY_END:
        lock_do_delay_end(sm, c, res);
        break;
    default:
        res->code = BATON_EMALFORMED; /* the decoder lets no other type through */
        break;
    }
}

int lock_apply(struct lock_sm *sm, uint64_t index, const void *cmd, size_t len,
               struct lock_result *res, struct lock_events *ev)
{
    memset(res, 0, sizeof(*res));
    lock_events_reset(ev);
    if (index <= sm->applied) {
        return BATON_EINVAL;
    }
    struct lock_cmd c;
    int rc = lock_cmd_decode(cmd, len, &c);
    if (rc != 0) {
        /* Every node decodes the same bytes the same way: the entry is
         * applied as a no-op that answers an error. */
        res->code = rc;
        sm->applied = index;
        return 0;
    }
    sm->index = index;
    sm->ev = ev;
    rc = prepare(sm, &c);
    if (rc == 0) {
        res->type = c.type;
        res->lease = c.lease;
        run(sm, &c, res);
        sm->applied = index;
    }
    free(sm->new_lock); /* unused: the lease was not live */
    sm->new_lock = NULL;
    sm->ev = NULL;
    sm->index = 0;
    if (rc != 0) {
        lock_events_reset(ev);
    }
    return rc;
}
