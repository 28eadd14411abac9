/* Translation between the core's plain structs and protobuf Envelopes on the wire. */
#ifndef BATON_NET_CODEC_H
#define BATON_NET_CODEC_H

#include "baton.pb-c.h"
#include "raft/raft.h"

/* Encodes m as one complete frame (header + Envelope{raft}). *out is malloc'd;
 * the caller frees out->base. BATON_ENOMEM, or BATON_ETOOBIG over max_frame. */
int net_encode_raft(const struct raft_message *m, size_t max_frame, struct raft_buf *out)
    __attribute__((warn_unused_result));

/* Encodes any Envelope as one complete frame; same contract as net_encode_raft. */
int net_encode_envelope(const Baton__Envelope *env, size_t max_frame, struct raft_buf *out)
    __attribute__((warn_unused_result));

/* Copies a decoded protobuf RaftMessage into m (m owns its copies; release with
 * raft_message_clear). Anything the core could not hold (unknown types, entry
 * types, more servers than RAFT_MAX_SERVERS, addresses too long) is
 * BATON_EMALFORMED; m is left empty on error. */
int net_raft_from_pb(const Baton__RaftMessage *pb, struct raft_message *m)
    __attribute__((warn_unused_result));

#endif
