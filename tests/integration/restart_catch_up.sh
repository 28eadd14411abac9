#!/usr/bin/env bash
# shellcheck disable=SC2317  # helper functions run through wait_until
# A follower killed while the log grows and is compacted catches up after a restart,
# through an InstallSnapshot once the leader no longer has the entries it lacks.
# Until client writes exist, leader changes grow the log: each new leader appends
# its term's no-op entry. Snapshots every 2 entries, none kept behind them.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
it_begin restart_catch_up

lc up 3 -- --snapshot-entries 2 --snapshot-trailing 0 >/dev/null
wait_until 10 cluster_agrees 3
l=$(leader_id)
f=$((l % 3 + 1))
f_last=$(node_get "$f" last_index)
log "leader $l; killing follower $f (last_index $f_last)"
lc kill "$f"

leader_above() {
  local x t
  x=$(leader_id) || return 1
  t=$(node_term "$x") || return 1
  [ "$t" -gt "$1" ]
}

# With f down, the two others are exactly a quorum: every restart of the leader
# forces an election, hence a new term and a new no-op entry.
for round in 1 2 3 4; do
  l=$(leader_id)
  term=$(node_term "$l")
  lc kill "$l"
  lc start "$l" >/dev/null
  wait_until 15 leader_above "$term"
  log "round $round: leader $(leader_id) at term $(node_term "$(leader_id)")"
done
l=$(leader_id)
snap=$(node_get "$l" snapshot_index)
log "leader $l: commit $(node_commit "$l"), last_index $(node_get "$l" last_index), snapshot_index $snap"
[ "$snap" -gt "$f_last" ] || fail "the leader did not compact past $f_last (snapshot_index $snap)"

lc start "$f" >/dev/null
wait_until 15 caught_up "$f"
f_snap=$(node_get "$f" snapshot_index)
log "node $f caught up: commit $(node_commit "$f"), snapshot_index $f_snap"
[ "$f_snap" -ge "$snap" ] ||
  fail "node $f caught up without the leader's snapshot (snapshot_index $f_snap < $snap)"
it_pass
