#!/usr/bin/env bash
# kill -9 of the leader: a different node leads at a higher term; the old leader,
# restarted on its data, rejoins as a follower and catches up to the leader's commit.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
it_begin leader_failover

lc up 3 >/dev/null
wait_until 10 cluster_agrees 3
old=$(leader_id)
term=$(node_term "$old")
log "leader $old at term $term; killing it"

t0=$(now_ms)
lc kill "$old"
wait_until 10 new_leader_above "$old" "$term"
failover=$(($(now_ms) - t0))
new=$(leader_id)
log "failover: node $new leads at term $(node_term "$new") after ${failover} ms (election-ms 500)"
echo "failover_ms=$failover"

lc start "$old" >/dev/null
wait_until 15 caught_up "$old"
role=$(node_role "$old")
[ "$role" = follower ] || fail "restarted node $old is $role, not follower"
log "node $old rejoined as follower at commit $(node_commit "$old")"
wait_until 10 cluster_agrees 3
it_pass
