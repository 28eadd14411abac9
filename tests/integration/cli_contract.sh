#!/usr/bin/env bash
# shellcheck disable=SC2317  # helper functions run through wait_until
# The external contract of batonctl and deploy/local-cluster.sh (DESIGN.md): exit
# codes, output lines, and every local-cluster.sh command on a live cluster.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
it_begin cli_contract

# expect_rc RC CMD...: CMD exits with RC (stdout and stderr discarded).
expect_rc() {
  local want=$1 rc=0
  shift
  "$@" >/dev/null 2>&1 || rc=$?
  [ "$rc" -eq "$want" ] || fail "expected exit $want, got $rc: $*"
}

# batonctl without a cluster: usage errors are 2, nothing listening is 3.
expect_rc 0 "$BATONCTL" --help
expect_rc 2 "$BATONCTL"
expect_rc 2 "$BATONCTL" bogus
expect_rc 2 "$BATONCTL" cluster
expect_rc 2 "$BATONCTL" cluster status extra
expect_rc 2 "$BATONCTL" --no-such-flag cluster status
expect_rc 2 "$BATONCTL" --timeout -5 cluster status
expect_rc 2 "$BATONCTL" --endpoints "a,,b" cluster status
expect_rc 3 "$BATONCTL" --endpoints "$(node_endpoint 1)" cluster status
BATON_ENDPOINTS=$(node_endpoint 1) expect_rc 3 "$BATONCTL" --json cluster health
help=$("$BATONCTL" --help)
grep -q "cluster status" <<<"$help" || fail "--help does not list cluster status"
grep -q "Exit codes" <<<"$help" || fail "--help does not list the exit codes"

# local-cluster.sh usage errors, and commands on a dir without a cluster.
expect_rc 2 "$LC"
expect_rc 2 "$LC" bogus
expect_rc 2 "$LC" up x
expect_rc 1 "$LC" status

lc up 3 >/dev/null
wait_until 10 cluster_agrees 3
want="127.0.0.1:$((BATON_PORT_BASE + 1)),127.0.0.1:$((BATON_PORT_BASE + 2)),127.0.0.1:$((BATON_PORT_BASE + 3))"
[ "$(lc endpoints)" = "$want" ] || fail "endpoints: '$(lc endpoints)', want '$want'"
expect_rc 2 "$LC" kill
expect_rc 1 "$LC" kill 4
expect_rc 1 "$LC" up 5

# status: one line per node with id, pid, alive, role, term.
lines=$(lc status)
[ "$(wc -l <<<"$lines")" -eq 3 ] || fail "status printed: $lines"
grep -Eq '^id=1 pid=[0-9]+ alive=yes role=(leader|follower|candidate|precandidate) term=[0-9]+$' \
  <<<"$lines" || fail "status line format: $lines"

# batonctl output: one key=value line per node, and --json agreeing with it.
st=$("$BATONCTL" --endpoints "$want" cluster status)
grep -Eq '^id=2 role=[a-z]+ term=[0-9]+ leader=[0-9]+ commit=[0-9]+ applied=[0-9]+ ' <<<"$st" ||
  fail "cluster status line format: $st"
[ "$("$BATONCTL" --endpoints "$want" cluster health | grep -c '^id=')" -eq 3 ] ||
  fail "cluster health does not show three nodes"

# pause/resume: a paused node is alive but silent; batonctl gives up at --timeout.
l=$(leader_id)
f=$((l % 3 + 1))
lc pause "$f"
st=$(lc status)
grep -q "^id=$f pid=[0-9]* alive=yes role=paused" <<<"$st" || fail "paused node: $st"
start=$(now_ms)
expect_rc 3 "$BATONCTL" --endpoints "$(node_endpoint "$f")" --timeout 500 cluster status
[ $(($(now_ms) - start)) -lt 2000 ] || fail "--timeout 500 took $(($(now_ms) - start)) ms"
expect_rc 0 "$BATONCTL" --endpoints "$want" --timeout 500 cluster status
lc resume "$f"
wait_until 10 node_answers "$f"

# stop waits for the exit; start brings the node back on its data.
lc stop "$f"
st=$(lc status)
grep -q "^id=$f pid=- alive=no" <<<"$st" || fail "stopped node: $st"
expect_rc 1 "$LC" stop "$f"
lc start "$f" >/dev/null
node_answers "$f" || fail "start returned before node $f answers"
wait_until 10 cluster_agrees 3

# down stops everything; a second down is harmless.
pids=$(cat "$BATON_CLUSTER_DIR"/node*/batond.pid)
lc down
for p in $pids; do ! pid_alive "$p" || fail "pid $p survived down"; done
lc down
st=$(lc status)
[ "$(grep -c "alive=no" <<<"$st")" -eq 3 ] || fail "after down: $st"
it_pass
