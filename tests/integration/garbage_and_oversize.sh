#!/usr/bin/env bash
# shellcheck disable=SC2317  # helper functions run through wait_until
# Random bytes, oversize length headers and half-sent frames, over many connections to
# both the client and the peer port of the leader: the node stays up, the cluster keeps
# a leader with all three nodes answering, and both ports still accept connections
# (a restarted follower reconnects to the victim's peer port).
#   GARBAGE_RANDOM (default 2000) random frames and GARBAGE_OVERSIZE (default 200)
#   oversize frames per port; the acceptance size is GARBAGE_RANDOM=10000
#   GARBAGE_OVERSIZE=1000 (integration.garbage_and_oversize_full runs it).
# Half-sent frames held open: 200 on the client port, 32 on the peer port. The peer
# port gets its garbage one connection at a time (--wait-close: each connection is
# half-closed and must be closed by the node before the next one): a burst of more
# pending peer connections than the node's 64 incoming slots is
# peer_listener_survives_flood's subject.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
it_begin "${GARBAGE_NAME:-garbage_and_oversize}"

lc up 3 >/dev/null
wait_until 10 cluster_agrees 3
victim=$(leader_id)
pid=$(node_pid "$victim")
client=$(node_endpoint "$victim")
peer="127.0.0.1:$((BATON_PORT_BASE + 100 + victim))"
log "victim: leader $victim (pid $pid), client port $client, peer port $peer"

start=$(now_ms)
random=${GARBAGE_RANDOM:-2000}
oversize=${GARBAGE_OVERSIZE:-200}
"$PY" "$it_here/garbage.py" --random "$random" --oversize "$oversize" --hold 200 "$client" ||
  fail "the client port of node $victim stopped accepting connections"
"$PY" "$it_here/garbage.py" --random "$random" --oversize "$oversize" --hold 32 --wait-close \
  "$peer" ||
  fail "the peer port of node $victim stopped accepting connections"
log "garbage sent in $(($(now_ms) - start)) ms"

kill -0 "$pid" 2>/dev/null || fail "node $victim (pid $pid) died"
wait_until 10 leader_id
all_answer() { [ "$(q reachable)" -eq 3 ]; }
wait_until 10 all_answer
wait_until 10 cluster_agrees 3

# The victim's peer listener must still work: a restarted follower dials it.
f=$((victim % 3 + 1))
lc kill "$f"
lc start "$f" >/dev/null
wait_until 10 trusts_all "$victim"
wait_until 10 cluster_agrees 3
kill -0 "$pid" 2>/dev/null || fail "node $victim (pid $pid) died"
log "node $victim alive; leader $(leader_id); all three answer; follower $f reconnected"
it_pass
