/* libFuzzer target: bytes on the client port -> frames -> ClientRequests -> the node's handlers. */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_node.h"

/*
 * One client connection (fuzz_node.h has the input format): frames through
 * net_frame_reader, then what client.c does with each ClientRequest, through
 * the daemon's own handlers: node_service_request (lock-name checks, lock_cmd
 * encoding, raft_propose, ReadIndex reads) and node_counters_request
 * (crdt_incr). Proposals commit at once in the default one-member cluster
 * (flag FUZZ_FLAG_ALT: a follower that answers NOT_LEADER), and apply through
 * lock_cmd_decode and lock_apply; the lease clocks run on the virtual clock,
 * so leases, waits and lock-delays run out and are proposed too.
 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_node_run(FUZZ_PORT_CLIENT, data, size);
    return 0;
}
