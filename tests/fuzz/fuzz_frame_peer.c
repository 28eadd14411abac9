/* libFuzzer target: bytes on the peer port -> frames -> Envelopes -> Raft and G-Counter gossip. */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_node.h"

/*
 * One peer connection to node 1 of a 3-member cluster (fuzz_node.h has the
 * input format): frames through net_frame_reader, the Hello check of the
 * peer port, then node_on_peer_envelope, the daemon's own dispatch: Raft
 * messages through net_raft_from_pb into raft_step, and the ready batches
 * they produce persisted (at once), sent (encoded, round-trip checked) and
 * applied to the lock state machine; Heartbeats through node_counters_heard
 * (crdt_delta_decode, crdt_peer_receive) into the G-Counter set.
 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_node_run(FUZZ_PORT_PEER, data, size);
    return 0;
}
