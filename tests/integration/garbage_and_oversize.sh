#!/usr/bin/env bash
# shellcheck disable=SC2317  # helper functions run through wait_until
# Random bytes, oversize length headers and half-sent frames, over many connections to
# both the client and the peer port of the leader: the node stays up, the cluster keeps
# a leader with all three nodes answering, and both ports still accept connections
# (a restarted follower reconnects to the victim's peer port).
#   GARBAGE_RANDOM (default 2000) random frames and GARBAGE_OVERSIZE (default 200)
#   oversize frames per port; the acceptance size is GARBAGE_RANDOM=10000
#   GARBAGE_OVERSIZE=1000 (integration.garbage_and_oversize_full runs it).
# Each port gets the garbage twice: at full speed, connections opened as fast as the
# node takes them while 100 more hold half-sent frames; then one connection at a
# time (--wait-close: half-closed, and the node must close it before the next one),
# which proves that the node closed every bad connection itself.
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
for port in "$client" "$peer"; do
  "$PY" "$it_here/garbage.py" --random "$random" --oversize "$oversize" --hold 100 "$port" ||
    fail "$port (node $victim) stopped accepting connections"
  out=$("$PY" "$it_here/garbage.py" --random "$random" --oversize "$oversize" --hold 0 \
    --wait-close "$port") || fail "$port (node $victim) stopped accepting connections"
  echo "$out"
  sent=$(sed -n 's/.* connections=\([0-9]*\) .*/\1/p' <<<"$out")
  closed=$(sed -n 's/.* closed_by_server=\([0-9]*\) .*/\1/p' <<<"$out")
  [ "$closed" = "$sent" ] || fail "$port: the node closed only $closed of $sent bad connections"
done
log "garbage sent in $(($(now_ms) - start)) ms"

pid_alive "$pid" || fail "node $victim (pid $pid) died"
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
pid_alive "$pid" || fail "node $victim (pid $pid) died"
log "node $victim alive; leader $(leader_id); all three answer; follower $f reconnected"
it_pass
