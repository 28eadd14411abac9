/* Raft messages: deep copy, release, and names for logs and traces. */
#include <stdlib.h>
#include <string.h>

#include "raft/internal.h"

void raft_message_clear(struct raft_message *m)
{
    for (size_t i = 0; i < m->n_entries; i++) {
        free(m->entries[i].data.base);
    }
    free(m->entries);
    free(m->chunk.base);
    m->entries = NULL;
    m->n_entries = 0;
    m->chunk.base = NULL;
    m->chunk.len = 0;
}

int raft_message_copy(struct raft_message *dst, const struct raft_message *src)
{
    *dst = *src;
    dst->entries = NULL;
    dst->n_entries = 0;
    dst->chunk.base = NULL;
    dst->chunk.len = 0;
    if (src->n_entries > 0) {
        dst->entries = calloc(src->n_entries, sizeof(*dst->entries));
        if (dst->entries == NULL) {
            goto fail;
        }
        for (size_t i = 0; i < src->n_entries; i++) {
            if (raft_entry_copy(&dst->entries[i], &src->entries[i]) != 0) {
                goto fail;
            }
            dst->n_entries = i + 1;
        }
    }
    if (src->chunk.len > 0) {
        dst->chunk.base = malloc(src->chunk.len);
        if (dst->chunk.base == NULL) {
            goto fail;
        }
        memcpy(dst->chunk.base, src->chunk.base, src->chunk.len);
        dst->chunk.len = src->chunk.len;
    }
    return 0;
fail:
    raft_message_clear(dst);
    return BATON_ENOMEM;
}

const char *raft_msg_type_name(int type)
{
    static const char *names[] = {
        [RAFT_MSG_PREVOTE] = "prevote",
        [RAFT_MSG_PREVOTE_RESP] = "prevote_resp",
        [RAFT_MSG_VOTE] = "vote",
        [RAFT_MSG_VOTE_RESP] = "vote_resp",
        [RAFT_MSG_APPEND] = "append",
        [RAFT_MSG_APPEND_RESP] = "append_resp",
        [RAFT_MSG_HEARTBEAT] = "heartbeat",
        [RAFT_MSG_HEARTBEAT_RESP] = "heartbeat_resp",
        [RAFT_MSG_SNAPSHOT] = "snapshot",
        [RAFT_MSG_SNAPSHOT_RESP] = "snapshot_resp",
        [RAFT_MSG_TIMEOUT_NOW] = "timeout_now",
    };
    if (type < 1 || type > RAFT_MSG_TYPE_MAX) {
        return "unknown";
    }
    return names[type];
}

const char *raft_role_name(int role)
{
    switch (role) {
    case RAFT_FOLLOWER:
        return "follower";
    case RAFT_PRECANDIDATE:
        return "precandidate";
    case RAFT_CANDIDATE:
        return "candidate";
    case RAFT_LEADER:
        return "leader";
    default:
        return "unknown";
    }
}
