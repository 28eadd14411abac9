#!/usr/bin/env bash
# shellcheck disable=SC2317  # helper functions run through wait_until
# Five nodes survive two failures (a new leader is elected and commits its term's
# first entry) but not three: two nodes out of five never elect a leader.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
it_begin five_nodes_quorum

lc up 5 >/dev/null
wait_until 10 cluster_agrees 5
l1=$(leader_id)
term1=$(node_term "$l1")
commit1=$(node_commit "$l1")

# Kill the leader and one follower: the other three must elect a new leader, whose
# no-op entry of the new term commits only with a quorum (3 of 5).
f=$((l1 % 5 + 1))
log "leader $l1 (term $term1, commit $commit1); killing it and node $f"
lc kill "$l1"
lc kill "$f"
wait_until 15 new_leader_above "$l1" "$term1"
commit_grew() {
  local l c
  l=$(leader_id) || return 1
  c=$(node_commit "$l") || return 1
  [ "$c" -gt "$commit1" ]
}
wait_until 10 commit_grew
wait_until 10 cluster_agrees 3
l2=$(leader_id)
term2=$(node_term "$l2")
log "with 3 of 5: leader $l2 at term $term2, commit $(node_commit "$l2") > $commit1"

# Kill the new leader: the two left are a minority. For a window of several
# election timeouts (election-ms 500: timeouts in [0.5 s, 1 s)), neither may claim
# leadership; and both must answer in most rounds, or the check would prove nothing
# (a round may miss one under a loaded machine).
lc kill "$l2"
rest=()
for k in 1 2 3 4 5; do [ "$k" = "$l1" ] || [ "$k" = "$f" ] || [ "$k" = "$l2" ] || rest+=("$k"); done
eps="$(node_endpoint "${rest[0]}"),$(node_endpoint "${rest[1]}")"
log "killed $l2; watching nodes ${rest[*]} for 4 s"
end=$(($(now_ms) + 4000))
rounds=0
full=0
while [ "$(now_ms)" -lt "$end" ]; do
  doc=$(status_json "$eps")
  n=$("$PY" "$it_here/status.py" no_leader <<<"$doc") || fail "leader without a quorum: $doc"
  rounds=$((rounds + 1))
  [ "$n" -ne 2 ] || full=$((full + 1))
  sleep 0.1
done
if [ "$full" -lt 5 ] || [ "$full" -lt $((rounds / 2)) ]; then
  fail "both survivors answered in only $full of $rounds status rounds"
fi
log "no leader among ${rest[*]} over $rounds status rounds ($full with both answering)"
for k in "${rest[@]}"; do
  t=$(node_term "$k")
  log "node $k: role $(node_role "$k"), term $t (was $term2 under leader $l2)"
done
it_pass
