#!/usr/bin/env bash
# shellcheck disable=SC2317,SC2016  # helpers run through wait_until; sh -c scripts quoted
# lock exec end to end: CMD runs holding the lock with BATON_FENCING_TOKEN (and
# BATON_LEASE, BATON_LOCK) set; the lock is released and the lease revoked when it
# ends; its exit status is batonctl's; --wait gives up with 1; SIGTERM to batonctl
# reaches CMD. When the lease is lost — the whole cluster paused (SIGSTOP) longer
# than the TTL, so no keepalive can be acknowledged — CMD gets SIGTERM (SIGKILL
# after --grace if it ignores that), and batonctl exits 3; a lock exec still queued
# gives up (3) without running its command.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/lib_client.sh
. "$(dirname "$0")/lib_client.sh"
it_begin lock_exec

lc up 3 >/dev/null
wait_until 10 cluster_agrees 3
export BATONCTL EP
EP=$(cluster_endpoints)
D=$IT_DIR

# 1. The environment, the lock held while CMD runs, and released afterwards.
expect_rc 0 ctl lock exec X -- sh -c '
  echo "$BATON_FENCING_TOKEN $BATON_LEASE $BATON_LOCK" >"$0/env"
  "$BATONCTL" --endpoints "$EP" lock check X "$BATON_FENCING_TOKEN" >"$0/check"' "$D"
read -r tok lease name <"$D/env"
want_num token "$tok" >/dev/null
want_num lease "$lease" >/dev/null
[ "$name" = X ] || fail "BATON_LOCK=$name"
[ "$(cat "$D/check")" = current=true ] || fail "inside CMD, lock check said $(cat "$D/check")"
lock_free X || fail "X still held after lock exec: $(inspect X)"
expect_rc 4 ctl lease keepalive "$lease"
expect_rc 1 ctl lock check X "$tok"
log "lock exec ran with token $tok (lease $lease), then released and revoked"

# 2. Exit statuses: CMD's own, 128+N for a signal, 127 for a missing command.
expect_rc 7 ctl lock exec X -- sh -c 'exit 7'
expect_rc 0 ctl lock exec X -- true
expect_rc 143 ctl lock exec X -- sh -c 'kill -TERM $$'
expect_rc 127 ctl lock exec X -- /nonexistent/command
lock_free X || fail "X held after the exit-status runs: $(inspect X)"

# 3. --wait: not acquired while someone else holds X is a definite no (1), and
#    the lease it granted is not left queued.
out=$(ctl lock acquire X --ttl 20000)
[[ "$out" =~ ^lease=([0-9]+)\ token=([0-9]+)$ ]] || fail "acquire printed '$out'"
h_lease=${BASH_REMATCH[1]}
expect_rc 1 ctl lock exec X --wait 300 -- touch "$D/ran"
[ ! -e "$D/ran" ] || fail "CMD ran without the lock"
waiters_are X "" || fail "a waiter was left behind: $(inspect X)"
expect_rc 0 ctl lock release X --lease "$h_lease"

# 4. SIGTERM to batonctl is passed on; batonctl then releases and exits with CMD's status.
# (batonctl itself in the background, not the ctl function's subshell: $! is batonctl.)
"$BATONCTL" --endpoints "$EP" lock exec X -- sh -c 'trap "echo term >\"$0/term\"; exit 5" TERM
  touch "$0/ready"; while :; do sleep 0.05; done' "$D" 2>"$D/exec4.err" &
pid=$!
wait_until 10 test -e "$D/ready"
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
[ "$rc" -eq 5 ] || fail "lock exec exited $rc after SIGTERM, want CMD's 5: $(cat "$D/exec4.err")"
[ "$(cat "$D/term")" = term ] || fail "CMD did not get SIGTERM"
lock_free X || fail "X held after the interrupted exec: $(inspect X)"

# 5. Lease lost: two holders (of X and Y) and one waiter (for X) with a 2 s TTL; the
#    whole cluster is paused until both commands have been told to stop. The one
#    that ignores SIGTERM is killed after --grace 500.
rm -f "$D/ready"
"$BATONCTL" --endpoints "$EP" lock exec X --ttl 2000 -- sh -c 'trap "echo term >\"$0/lost\"; exit 0" TERM
  touch "$0/ready"; while :; do sleep 0.05; done' "$D" 2>"$D/exec5.err" &
pid_x=$!
"$BATONCTL" --endpoints "$EP" lock exec Y --ttl 2000 --grace 500 -- sh -c 'trap "" TERM
  echo $$ >"$0/ready_y"; while :; do sleep 0.05; done' "$D" 2>"$D/exec5y.err" &
pid_y=$!
wait_until 10 test -e "$D/ready"
wait_until 10 test -s "$D/ready_y"
cmd_y=$(cat "$D/ready_y")
# A third exec queues for X with no --wait limit: losing its lease while it waits
# ends the wait (exit 3) without running its command. (--timeout 1000 bounds its
# revoke while the cluster is paused.)
"$BATONCTL" --endpoints "$EP" --timeout 1000 lock exec X --ttl 2000 -- touch "$D/ran5" \
  2>"$D/exec5w.err" &
pid_w=$!
wait_until 10 eval '[ -n "$(kv waiters "$(inspect X)")" ]'
t0=$(now_ms)
pause_nodes 1 2 3
wait_until 10 test -e "$D/lost"
t_lost=$(($(now_ms) - t0))
wait_until 10 eval "! pid_alive $cmd_y"
t_killed=$(($(now_ms) - t0))
# (batonctl itself is now trying to release and revoke, and waits for the cluster.)
resume_nodes 1 2 3
log "cluster paused: X's CMD got SIGTERM after $t_lost ms, Y's CMD was gone after $t_killed ms"
# Keepalives go every TTL/3 and the lease counts as lost at the last acknowledged
# send + TTL, so CMD is told between 2/3 TTL and TTL (+ scheduling) after the pause.
[ "$t_lost" -ge 1200 ] || fail "SIGTERM $t_lost ms after the pause: before 2/3 of the TTL"
[ "$t_lost" -le 3500 ] || fail "SIGTERM $t_lost ms after the pause: long after the TTL"
rc=0
wait "$pid_x" || rc=$?
[ "$rc" -eq 3 ] || fail "lock exec X exited $rc after losing its lease, want 3: $(cat "$D/exec5.err")"
grep -q "lost" "$D/exec5.err" || fail "no word on the lost lease: $(cat "$D/exec5.err")"
rc=0
wait "$pid_y" || rc=$?
[ "$rc" -eq 3 ] || fail "lock exec Y exited $rc, want 3: $(cat "$D/exec5y.err")"
grep -q "SIGKILL" "$D/exec5y.err" || fail "Y's CMD was not SIGKILLed: $(cat "$D/exec5y.err")"
rc=0
wait "$pid_w" || rc=$?
[ "$rc" -eq 3 ] || fail "the waiter exited $rc after losing its lease, want 3: $(cat "$D/exec5w.err")"
grep -q "lost while waiting" "$D/exec5w.err" || fail "waiter: $(cat "$D/exec5w.err")"
[ ! -e "$D/ran5" ] || fail "the waiter ran its command without a live lease"
# Both leases end (revoked on the way out, or expired): the locks become free.
wait_until 15 lock_free X
wait_until 15 lock_free Y
it_pass
