/* The replicated state machine the daemon applies committed entries to. */
#ifndef BATON_NODE_SM_H
#define BATON_NODE_SM_H

#include <stdint.h>

#include "lock/lock.h"
#include "raft/raft.h"

/* The lock/lease state machine plus what its last apply produced. NOOP and
 * CONF entries only move the applied index. */
struct node_sm {
    struct lock_sm *locks;
    uint64_t applied;
    bool has_result;            /* the last apply ran a command */
    struct lock_result result;  /* ... and this is its outcome */
    struct lock_events events;  /* ... and these its events */
};

/* BATON_ENOMEM. */
int node_sm_init(struct node_sm *sm) __attribute__((warn_unused_result));
void node_sm_close(struct node_sm *sm);
/* Applies one committed entry (in index order). BATON_EINVAL out of order,
 * BATON_ENOMEM: both fatal for the node (every other node applied it). */
int node_sm_apply(struct node_sm *sm, const struct raft_entry *e)
    __attribute__((warn_unused_result));
/* Serializes the state into a malloc'd buffer (caller frees out->base). */
int node_sm_snapshot(const struct node_sm *sm, struct raft_buf *out)
    __attribute__((warn_unused_result));
/* Replaces the state with a snapshot taken at index. BATON_ECORRUPT,
 * BATON_EVERSION, BATON_ENOMEM; the state is unchanged on error. */
int node_sm_restore(struct node_sm *sm, const void *data, size_t len, uint64_t index)
    __attribute__((warn_unused_result));

#endif
