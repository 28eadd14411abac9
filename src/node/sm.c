/* The replicated state machine (placeholder state until the lock service lands). */
#include <stdlib.h>
#include <string.h>

#include "node/sm.h"

#define SM_MAGIC 0x62746e31u /* "btn1" */

void node_sm_init(struct node_sm *sm)
{
    memset(sm, 0, sizeof(*sm));
}

int node_sm_apply(struct node_sm *sm, const struct raft_entry *e)
{
    if (e->index != sm->applied + 1) {
        return BATON_EINVAL;
    }
    sm->applied = e->index;
    if (e->type == RAFT_ENTRY_NORMAL) {
        sm->commands++;
    }
    return 0;
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (56 - 8 * i));
    }
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

int node_sm_snapshot(const struct node_sm *sm, struct raft_buf *out)
{
    uint8_t *p = malloc(20);
    if (p == NULL) {
        return BATON_ENOMEM;
    }
    put_u64(p, ((uint64_t)SM_MAGIC << 32) | 1); /* magic, version 1 */
    put_u64(p + 8, sm->commands);
    memset(p + 16, 0, 4);
    out->base = p;
    out->len = 20;
    return 0;
}

int node_sm_restore(struct node_sm *sm, const void *data, size_t len, uint64_t index)
{
    const uint8_t *p = data;
    if (len != 20 || get_u64(p) != (((uint64_t)SM_MAGIC << 32) | 1)) {
        return BATON_ECORRUPT;
    }
    sm->commands = get_u64(p + 8);
    sm->applied = index;
    return 0;
}
