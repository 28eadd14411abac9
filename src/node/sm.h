/* The replicated state machine the daemon applies committed entries to. */
#ifndef BATON_NODE_SM_H
#define BATON_NODE_SM_H

#include <stdint.h>

#include "raft/raft.h"

/* Until the lock service lands (issue 4) the state is what every node must agree
 * on anyway: how far it applied and how many commands it saw. */
struct node_sm {
    uint64_t applied;
    uint64_t commands;
};

void node_sm_init(struct node_sm *sm);
/* Applies one committed entry. Entries must come in index order. */
int node_sm_apply(struct node_sm *sm, const struct raft_entry *e)
    __attribute__((warn_unused_result));
/* Serializes the state into a malloc'd buffer (caller frees out->base). */
int node_sm_snapshot(const struct node_sm *sm, struct raft_buf *out)
    __attribute__((warn_unused_result));
/* Replaces the state with a snapshot taken at index. BATON_ECORRUPT if data is
 * not one of ours. */
int node_sm_restore(struct node_sm *sm, const void *data, size_t len, uint64_t index)
    __attribute__((warn_unused_result));

#endif
