#!/usr/bin/env bash
# shellcheck disable=SC2317,SC2016  # helpers run through wait_until; sh -c scripts quoted
# The acceptance run of the lock service: WORKERS (default 8) concurrent loops of
#   batonctl lock exec L -- sh -c '<append token, start, end, pid to a shared file>'
# for SECONDS (default 15; the acceptance length is 30), with the leader SIGKILLed
# twice, at about 1/3 and 2/3 of the run (and only once KILL_AFTER, default 10, holds
# were recorded since the last failover), each time restarted once a new leader is
# elected. Afterwards no two holds in the file may overlap and the tokens
# must strictly rise in the order the holds began (holds.py). Times are CLOCK_MONOTONIC
# (it_baton now). A hold whose lease was lost is marked "lost" by its SIGTERM trap.
#   LOCK_EXEC_SECONDS=30 tests/integration/lock_exec_acceptance.sh   (by hand)
# LOCK_EXEC_WORKERS and LOCK_EXEC_KILL_AFTER change the other numbers.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/lib_client.sh
. "$(dirname "$0")/lib_client.sh"
it_begin lock_exec_acceptance
need_it_baton

SECS=${LOCK_EXEC_SECONDS:-15}
KILL_AFTER=${LOCK_EXEC_KILL_AFTER:-10} # holds recorded since the last failover
WORKERS=${LOCK_EXEC_WORKERS:-8}
lc up 3 >/dev/null
wait_until 10 cluster_agrees 3
EP=$(cluster_endpoints)
FILE=$IT_DIR/holds
: >"$FILE"
export FILE IT_BATON

# What each lock exec runs: note the start, hold ~20 ms, append one line.
RECORD='s=$("$IT_BATON" now)
trap '\''echo "$BATON_FENCING_TOKEN $s $("$IT_BATON" now) $$ lost" >>"$FILE"; exit 143'\'' TERM
sleep 0.02
e=$("$IT_BATON" now)
echo "$BATON_FENCING_TOKEN $s $e $$ ok" >>"$FILE"'

worker() {
  local i=$1 end=$2 rc
  while [ "$(now_ms)" -lt "$end" ]; do
    rc=0
    "$BATONCTL" --endpoints "$EP" --timeout 5000 lock exec L --ttl 3000 -- sh -c "$RECORD" \
      2>>"$IT_DIR/worker$i.err" || rc=$?
    echo "$rc" >>"$IT_DIR/worker$i.rcs"
  done
}

holds() { wc -l <"$FILE"; }
# Kill time: at least $1 holds recorded, and at or past time $2.
kill_due() { [ "$(holds)" -ge "$1" ] && [ "$(now_ms)" -ge "$2" ]; }

start=$(now_ms)
end=$((start + SECS * 1000))
pids=()
# On the way out, stop the worker loops and the lock exec runs they started.
stop_workers() {
  local p c kids
  for p in "${pids[@]}"; do
    kids=$(ps -o pid= --ppid "$p" 2>/dev/null || true)
    kill -TERM "$p" 2>/dev/null || true # the loop first, so it starts no new run
    for c in $kids; do kill -TERM "$c" 2>/dev/null || true; done
  done
}
trap 'rc=$?; stop_workers; (exit $rc); it_cleanup' EXIT
for ((i = 0; i < WORKERS; i++)); do
  worker "$i" "$end" &
  pids+=($!)
done
for kill_no in 1 2; do
  wait_until $((SECS + 10)) kill_due $(($(holds) + KILL_AFTER)) $((start + kill_no * SECS * 1000 / 3))
  kill_leader
  log "kill $kill_no: leader $KILLED killed after $(holds) holds"
  lc start "$KILLED" >/dev/null
done
[ "$(now_ms)" -lt "$end" ] || fail "the second failover came after the run ended: too slow"
# Every run must end soon after the loops' end time: a lock exec that waits on
# after its lease is gone, or an acquire the cluster never answers, is a failure.
workers_done() {
  local p
  for p in "${pids[@]}"; do ! pid_alive "$p" || return 1; done
}
deadline=$((end + 60000))
until workers_done; do
  if [ "$(now_ms)" -ge "$deadline" ]; then
    log "lock exec runs still going 60 s after the end: $(inspect L)"
    for p in "${pids[@]}"; do ps -o pid=,etime=,args= --ppid "$p" | cut -c1-80 >&2 || true; done
    tail -n 5 "$IT_DIR"/worker*.err >&2 || true
    fail "lock exec runs did not end"
  fi
  sleep 0.1
done
for p in "${pids[@]}"; do
  wait "$p" || fail "a worker loop failed"
done
cat "$IT_DIR"/worker*.rcs | sort | uniq -c | sed 's/^ */exit status: /' >&2
bad=$(cat "$IT_DIR"/worker*.rcs | grep -cvxE '0|3' || true)
[ "$bad" -eq 0 ] || fail "$bad lock exec runs exited with something other than 0 or 3: $(cat "$IT_DIR"/worker*.err)"
summary=$("$PY" "$it_here/holds.py" "$FILE" 30) || fail "holds check failed: $summary"
log "$SECS s, $WORKERS workers, 2 leader kills: $summary"
echo "lock_exec_acceptance seconds=$SECS workers=$WORKERS $summary"
it_pass
