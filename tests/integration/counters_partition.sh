#!/usr/bin/env bash
# shellcheck disable=SC2317  # helper functions run through wait_until
# G-Counters stay writable under partition: with 2 of 3 nodes paused (SIGSTOP, no
# quorum, no leader for the survivor), 100 increments through batonctl on the third
# node are all acknowledged (the survivor suspecting both others, so gossip to them
# has slowed down); after SIGCONT every node reports the exact total within
# 2 s (the measured time is printed).
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/lib_client.sh
. "$(dirname "$0")/lib_client.sh"
it_begin counters_partition
need_it_baton

lc up 3 >/dev/null
wait_until 10 cluster_agrees 3
EP=$(cluster_endpoints)
out=$("$IT_BATON" incr "$EP" part 30) || fail "increments before the partition: $out"
"$IT_BATON" converge "$EP" part 30 2000 >/dev/null || fail "no convergence before the partition"

# The survivor: the leader's node, so that the paused two are a majority without it.
alive=$(leader_id)
paused=()
for k in 1 2 3; do [ "$k" = "$alive" ] || paused+=("$k"); done
pause_nodes "${paused[@]}"
# Wait until the survivor's failure detector suspects both (it then gossips to them
# only every 10th round): the heal is measured from a settled partition, not from
# heartbeats that were merely late.
suspects_paused() {
  local doc s
  doc=$("$BATONCTL" --endpoints "$(node_endpoint "$alive")" --timeout 1000 --json cluster health \
    2>/dev/null) || return 1
  s=$("$PY" "$it_here/status.py" suspects "$alive" <<<"$doc" | sort | tr '\n' ' ') || return 1
  [ "$s" = "${paused[0]} ${paused[1]} " ]
}
wait_until 10 suspects_paused
log "paused nodes ${paused[*]}, node $alive suspects them; incrementing 100 times on node $alive"
for ((i = 1; i <= 100; i++)); do
  out=$(ctl_at "$alive" --timeout 3000 counter incr part) || fail "increment $i failed"
  [ "$out" = "value=$((30 + i))" ] || fail "increment $i answered '$out', want value=$((30 + i))"
done
[ "$(ctl_at "$alive" counter get part)" = value=130 ] || fail "node $alive does not read 130"
expect_rc 3 "$BATONCTL" --endpoints "$(node_endpoint "${paused[0]}")" --timeout 300 counter get part

resume_nodes "${paused[@]}"
conv=$("$IT_BATON" converge "$EP" part 130 2000) || fail "no convergence within 2 s of resuming: $conv"
log "every node reports 130 after the resume: $conv"
echo "counters_partition $conv"
it_pass
