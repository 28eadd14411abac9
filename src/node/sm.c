/* The replicated state machine: committed entries into the lock/lease service. */
#include <stdlib.h>
#include <string.h>

#include "node/sm.h"

int node_sm_init(struct node_sm *sm)
{
    memset(sm, 0, sizeof(*sm));
    lock_events_init(&sm->events);
    sm->locks = lock_sm_new();
    return sm->locks != NULL ? 0 : BATON_ENOMEM;
}

void node_sm_close(struct node_sm *sm)
{
    lock_sm_free(sm->locks);
    lock_events_close(&sm->events);
    memset(sm, 0, sizeof(*sm));
}

int node_sm_apply(struct node_sm *sm, const struct raft_entry *e)
{
    if (e->index != sm->applied + 1) {
        return BATON_EINVAL;
    }
    sm->has_result = false;
    sm->events.n = 0;
    if (e->type == RAFT_ENTRY_NORMAL) {
        int rv = lock_apply(sm->locks, e->index, e->data.base, e->data.len, &sm->result,
                            &sm->events);
        if (rv != 0) {
            return rv;
        }
        sm->has_result = true;
    }
    sm->applied = e->index;
    return 0;
}

int node_sm_snapshot(const struct node_sm *sm, struct raft_buf *out)
{
    return lock_sm_snapshot(sm->locks, &out->base, &out->len);
}

int node_sm_restore(struct node_sm *sm, const void *data, size_t len, uint64_t index)
{
    int rv = lock_sm_restore(sm->locks, data, len, index);
    if (rv == 0) {
        sm->applied = index;
        sm->has_result = false;
        sm->events.n = 0;
    }
    return rv;
}
