#!/usr/bin/env bash
# shellcheck disable=SC2317  # helper functions run through wait_until
# Membership changes and leadership transfer from batonctl (cluster add | remove |
# transfer): a 3-node cluster holding a lease and a lock takes node 4, started by hand
# with --join on a fresh data dir; node 4 is promoted from learner to voter once caught
# up; a joiner naming another cluster is refused by the members' Hello check; an
# original node is killed and the four-node cluster still commits; node 4 takes
# the leadership (cluster transfer 4) and serves the lock state it received; the dead
# node is removed; node 4 restarts on its data without --join (and refuses it under
# another --cluster-id); the error paths and their exit codes; a removed member stops
# (exit 0); a second change while one is uncommitted is refused (exit 1); and a
# 5-node cluster shrinks to 3, its leader removing itself.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/lib_client.sh
. "$(dirname "$0")/lib_client.sh"
it_begin membership

said_why() { grep -qF -- "$1" "$IT_DIR/last.err" || fail "no '$1' in: $(cat "$IT_DIR/last.err")"; }
peer_addr() { echo "127.0.0.1:$((BATON_PORT_BASE + 100 + $1))"; }
client_addr() { echo "127.0.0.1:$((BATON_PORT_BASE + $1))"; }

# Usage errors need no cluster.
expect_rc 2 "$BATONCTL" cluster add 4 "$(peer_addr 4)"
expect_rc 2 "$BATONCTL" cluster add 0 "$(peer_addr 4)" "$(client_addr 4)"
expect_rc 2 "$BATONCTL" cluster add 4 "not-an-address" "$(client_addr 4)"
said_why "PEER_ADDR wants IPv4:PORT"
expect_rc 2 "$BATONCTL" cluster add 4 "$(peer_addr 4)" "127.0.0.1"
said_why "CLIENT_ADDR wants"
expect_rc 2 "$BATONCTL" cluster remove
expect_rc 2 "$BATONCTL" cluster remove x
expect_rc 2 "$BATONCTL" cluster transfer 1 2
expect_rc 3 "$BATONCTL" --endpoints "$(node_endpoint 1)" --timeout 300 cluster transfer
help=$("$BATONCTL" --help)
for c in "cluster add" "cluster remove" "cluster transfer"; do
  grep -q "  $c" <<<"$help" || fail "batonctl --help does not list $c"
done
bhelp=$("$BATOND" --help)
for f in --join --initial-cluster-state --cluster-id; do
  grep -q -- "  $f " <<<"$bhelp" || fail "batond --help does not list $f"
done

# An election timeout of 1 s: a leader whose followers are paused keeps leading for
# at least that long (check-quorum), room for the "change in progress" check below.
lc up 3 -- --election-ms 1000 >/dev/null
wait_until 15 cluster_agrees 3

# EPS: the client endpoints of every node that should be running.
EPS=$(cluster_endpoints)
mctl() { "$BATONCTL" --endpoints "$EPS" "$@"; }
members() { mctl --timeout 3000 cluster members 2>/dev/null; }
# member_role ID: voter, learner, or nothing when ID is not a member.
member_role() { members | sed -n "s/^id=$1 .* role=\([a-z]*\)$/\1/p"; }
role_is() { [ "$(member_role "$1")" = "$2" ]; }
member_ids() { members | sed -n 's/^id=\([0-9]*\) .*/\1/p' | tr '\n' ' '; }
ids_are() { [ "$(member_ids)" = "$1" ]; }
lead() { status_json "$EPS" | "$PY" "$it_here/status.py" leader; }
leader_is() { [ "$(lead)" = "$1" ]; }

lease=$(kv lease "$(mctl lease grant 60000)")
want_num lease "$lease" >/dev/null
token1=$(kv token "$(mctl lock acquire L1 --lease "$lease")")
want_num token "$token1" >/dev/null
log "lease $lease holds L1 (token $token1)"

# ---- error paths against the cluster
expect_rc 1 mctl cluster add 1 "$(peer_addr 7)" "$(client_addr 7)"
said_why "node 1 is a member already"
expect_rc 1 mctl cluster add 7 "$(peer_addr 2)" "$(client_addr 7)"
said_why "member 2 uses $(peer_addr 2) already"
expect_rc 4 mctl cluster remove 9
said_why "node 9 is not a member"
expect_rc 4 mctl cluster transfer 9
expect_rc 2 mctl cluster add 7 "999.1.1.1:5" "$(client_addr 7)"

# ---- node 4 joins: added first (a learner at once), started afterwards.
expect_rc 0 mctl --json cluster add 4 "$(peer_addr 4)" "$(client_addr 4)"
add_json=$(cat "$IT_DIR/last.out")
log "cluster add 4: $add_json"
jget() { "$PY" -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$add_json" "$1"; }
CID=$(jget cluster_id)
IC4=$(jget initial_cluster)
[ "$(jget role)" = learner ] || fail "node 4 was added as $(jget role), not as a learner"
[[ "$CID" =~ ^[0-9a-f]{16}$ ]] || fail "cluster_id '$CID'"
grep -q "voter once it has caught up" <<<"$(jget message)" || fail "the answer does not say a promotion follows"
[ "$IC4" = "1=$(peer_addr 1)/$(client_addr 1),2=$(peer_addr 2)/$(client_addr 2),3=$(peer_addr 3)/$(client_addr 3),4=$(peer_addr 4)/$(client_addr 4)" ] ||
  fail "initial_cluster '$IC4'"
role_is 4 learner || fail "cluster members right after the add: $(members)"
expect_rc 1 mctl cluster add 4 "$(peer_addr 4)" "$(client_addr 4)"
said_why "node 4 is a member already (learner"
expect_rc 1 mctl cluster transfer 4
said_why "learner, not a voter"

N4_DIR=$IT_DIR/node4
mkdir -p "$N4_DIR"
# start4 ARGS...: batond for node 4 with its own ports; N4 is its pid.
start4() {
  "$BATOND" --id 4 --data-dir "$N4_DIR/data" --initial-cluster "$IC4" \
    --election-ms 1000 "$@" </dev/null >>"$IT_DIR/node4.log" 2>&1 &
  N4=$!
  track_pid "$N4"
}
# A joiner must name the cluster it joins.
expect_rc 2 "$BATOND" --id 4 --data-dir "$N4_DIR/data" --initial-cluster "$IC4" --join
said_why "--join needs --cluster-id"
start4 --join --cluster-id "$CID"
EPS="$EPS,$(client_addr 4)"
wait_until 20 role_is 4 voter
wait_until 10 node_answers 4
grep -q "joining cluster $CID" "$IT_DIR/node4.log" || fail "node 4 did not say it joins"
log "node 4 is a voter: $(member_ids)"

# A joiner that names another cluster (0x1234abcd) is refused by the members' Hello
# check, as any node of another cluster is.
mkdir -p "$IT_DIR/node7"
"$BATOND" --id 7 --data-dir "$IT_DIR/node7/data" --join --cluster-id 1234abcd \
  --initial-cluster "$IC4,7=$(peer_addr 7)/$(client_addr 7)" </dev/null >"$IT_DIR/node7.log" 2>&1 &
N7=$!
track_pid "$N7"
hello_refused() { grep -q "Hello from cluster 305441741," "$BATON_CLUSTER_DIR"/node*/batond.log; }
wait_until 10 hello_refused
kill -TERM "$N7"
wait "$N7" || fail "node 7 exited $? on SIGTERM"

# ---- an original node dies: four voters, three alive, the cluster still commits.
L=$(lead) || fail "no leader"
K=$L
[ "$K" != 4 ] || K=1
lc kill "$K" >/dev/null
log "killed node $K (leader was $L)"
EPS=$(for k in 1 2 3 4; do [ "$k" = "$K" ] || client_addr "$k"; done | paste -sd,)
token2=$(kv token "$(mctl --timeout 15000 lock acquire L2 --lease "$lease")")
want_num "token of L2" "$token2" >/dev/null
log "with node $K dead, lease $lease took L2 (token $token2)"

# ---- node 4 takes over and serves the state it received.
out=$(mctl --timeout 10000 cluster transfer 4) || fail "cluster transfer 4 failed"
[ "$(kv leader "$out")" = 4 ] || fail "cluster transfer 4 printed '$out'"
wait_until 10 leader_is 4
[ "$(node_role 4)" = leader ] || fail "node 4 does not say it leads"
ins=$(ctl_at 4 lock inspect L1)
{ [ "$(kv lease "$ins")" = "$lease" ] && [ "$(kv token "$ins")" = "$token1" ]; } ||
  fail "lock inspect L1 on node 4: $ins (want lease $lease token $token1)"
ins=$(ctl_at 4 lock inspect L2)
[ "$(kv token "$ins")" = "$token2" ] || fail "lock inspect L2 on node 4: $ins"
# The leader itself: at once. Any voter: the most caught-up one takes over, then back.
[ "$(kv leader "$(ctl_at 4 cluster transfer 4)")" = 4 ] || fail "transfer to the leader itself"
out=$(mctl --timeout 10000 cluster transfer) || fail "cluster transfer (any) failed"
other=$(kv leader "$out")
{ [ -n "$other" ] && [ "$other" != 4 ] && [ "$other" != "$K" ]; } ||
  fail "cluster transfer printed '$out'"
out=$(mctl --timeout 10000 --json cluster transfer 4) || fail "cluster transfer 4 (back) failed"
[[ "$out" =~ ^\{\"leader\":4,\"term\":[0-9]+\}$ ]] || fail "cluster transfer --json printed '$out'"
wait_until 10 leader_is 4

# ---- the dead node is removed: three voters left.
out=$(mctl cluster remove "$K") || fail "cluster remove $K failed"
[[ "$out" =~ ^id=$K\ index=[0-9]+$ ]] || fail "cluster remove printed '$out'"
want_ids=$(for k in 1 2 3 4; do [ "$k" = "$K" ] || printf '%s ' "$k"; done)
wait_until 5 ids_are "$want_ids"
expect_rc 4 mctl cluster remove "$K"
expect_rc 4 mctl cluster transfer "$K"

# ---- one change at a time: with both followers paused the leader cannot commit; a
# second change meanwhile is refused (exit 1), the first one's outcome is unknown (3).
F=()
for k in 1 2 3; do [ "$k" = "$K" ] || F+=("$k"); done
pause_nodes "${F[@]}"
expect_rc 3 ctl_at 4 --timeout 300 cluster add 5 "$(peer_addr 5)" "$(client_addr 5)"
said_why "outcome unknown"
expect_rc 1 ctl_at 4 --timeout 2000 cluster add 6 "$(peer_addr 6)" "$(client_addr 6)"
said_why "a membership change is in progress"
resume_nodes "${F[@]}"
# Node 5 (never started) is in or out depending on whether its entry survived: take
# it out again, once the change is decided (exit 1 while it is still in progress).
drop5() {
  local rc=0
  mctl --timeout 5000 cluster remove 5 >/dev/null 2>&1 || rc=$?
  [ "$rc" = 0 ] || [ "$rc" = 4 ]
}
wait_until 20 drop5
wait_until 10 ids_are "$want_ids"

# ---- node 4 restarts on its data: without --join (still --cluster-id: the cluster it
# joined is not the one its --initial-cluster would start), and catches up.
L=$(lead) || fail "no leader"
kill -KILL "$N4"
{ wait "$N4" || true; } 2>/dev/null
EPS=$(for k in "${F[@]}"; do client_addr "$k"; done | paste -sd,)
if [ "$L" = 4 ]; then
  wait_until 15 eval "lead >/dev/null"
fi
token3=$(kv token "$(mctl --timeout 15000 lock acquire L3 --lease "$lease")")
want_num "token of L3" "$token3" >/dev/null
# Its data dir belongs to cluster CID: another id is refused (exit 3).
rc=0
"$BATOND" --id 4 --data-dir "$N4_DIR/data" --initial-cluster "$IC4" --cluster-id 1234abcd \
  </dev/null >"$IT_DIR/wrong.out" 2>&1 || rc=$?
[ "$rc" = 3 ] || fail "node 4 under another --cluster-id exited $rc: $(cat "$IT_DIR/wrong.out")"
start4 --cluster-id "$CID"
EPS="$EPS,$(client_addr 4)"
# True when node 4 follows the leader and has its commit index (one status round).
n4_caught_up() {
  local doc l lc_ fc fl
  doc=$(status_json "$EPS")
  l=$("$PY" "$it_here/status.py" leader <<<"$doc") || return 1
  lc_=$("$PY" "$it_here/status.py" get "$l" commit <<<"$doc") || return 1
  fc=$("$PY" "$it_here/status.py" get 4 commit <<<"$doc") || return 1
  fl=$("$PY" "$it_here/status.py" get 4 leader <<<"$doc") || return 1
  [ "$fl" = "$l" ] && [ "$fc" -ge "$lc_" ]
}
wait_until 15 n4_caught_up
out=$(mctl --timeout 10000 cluster transfer 4) || fail "cluster transfer 4 after the restart"
wait_until 10 leader_is 4
ins=$(ctl_at 4 lock inspect L3)
[ "$(kv token "$ins")" = "$token3" ] || fail "lock inspect L3 on node 4: $ins"
log "node 4 restarted without --join and leads with L3 (token $token3)"

# ---- text output of an add (and the batond line for the new member, on stderr); the
# error paths of a transfer: a learner, a stranger.
expect_rc 0 mctl cluster add 6 "$(peer_addr 6)" "$(client_addr 6)"
[[ "$(cat "$IT_DIR/last.out")" =~ ^id=6\ peer=$(peer_addr 6)\ client=$(client_addr 6)\ role=learner\ index=[0-9]+\ cluster_id=$CID$ ]] ||
  fail "cluster add 6 printed '$(cat "$IT_DIR/last.out")'"
said_why "batond --id 6 --join --cluster-id $CID"
expect_rc 1 mctl cluster transfer 6
expect_rc 4 mctl cluster transfer 8
expect_rc 0 mctl cluster remove 6
wait_until 10 ids_are "$want_ids"

# ---- a removed member stops: node 4 (the leader) removes itself, exits 0, and the
# other two carry on with its state.
out=$(mctl --timeout 10000 cluster remove 4) || fail "cluster remove 4 (the leader)"
rc=0
wait_until 10 eval "! pid_alive $N4"
wait "$N4" || rc=$?
[ "$rc" = 0 ] || fail "removed node 4 exited $rc"
grep -q "removed from the cluster" "$IT_DIR/node4.log" || fail "node 4 did not log its removal"
EPS=$(for k in "${F[@]}"; do client_addr "$k"; done | paste -sd,)
wait_until 15 ids_are "${F[0]} ${F[1]} "
ins=$(mctl --timeout 10000 lock inspect L1)
[ "$(kv token "$ins")" = "$token1" ] || fail "lock inspect L1 after node 4 left: $ins"

# ---- five nodes shrink to three: a follower, then the leader itself.
lc down >/dev/null || true
rm -rf "$BATON_CLUSTER_DIR"
lc up 5 >/dev/null
wait_until 15 cluster_agrees 5
EPS=$(cluster_endpoints)
out=$(mctl --timeout 10000 cluster transfer 5) || fail "cluster transfer 5"
wait_until 10 leader_is 5
p4=$(node_pid 4)
p5=$(node_pid 5)
expect_rc 0 mctl --timeout 10000 cluster remove 4
wait_until 10 eval "! pid_alive $p4"
grep -q "removed from the cluster (leader 5 says so" "$BATON_CLUSTER_DIR/node4/batond.log" ||
  fail "node 4 did not log that leader 5 removed it"
expect_rc 0 mctl --timeout 10000 cluster remove 5
wait_until 10 eval "! pid_alive $p5"
grep -q "removed from the cluster" "$BATON_CLUSTER_DIR/node5/batond.log" ||
  fail "node 5 did not log its removal"
wait_until 15 ids_are "1 2 3 "
wait_until 15 eval "lead >/dev/null"
expect_rc 0 mctl --timeout 10000 lock acquire S --ttl 10000
[ "$(member_role 1)$(member_role 2)$(member_role 3)" = votervotervoter ] || fail "members: $(members)"
it_pass
