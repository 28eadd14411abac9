#!/usr/bin/env bash
# shellcheck disable=SC2317  # helper functions run through wait_until
# 16 clients (threads of it_baton, each with its own libbaton blocking client) contend
# for one lock through baton_lock_hold_acquire; each hold's [start, end] on
# CLOCK_MONOTONIC and its fencing token are recorded. The leader is SIGKILLed mid-run
# (and restarted); holds go on after the failover. No two holds may overlap, and
# tokens must strictly rise in the order the holds began (holds.py).
# MUTEX_SECONDS (default 12) sets the run's length.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/lib_client.sh
. "$(dirname "$0")/lib_client.sh"
it_begin mutual_exclusion_16_clients
need_it_baton

SECS=${MUTEX_SECONDS:-12}
lc up 3 >/dev/null
wait_until 10 cluster_agrees 3

progress() { cat "$IT_DIR/progress" 2>/dev/null || echo 0; }
progress_at_least() { [ "$(progress)" -ge "$1" ]; }

"$IT_BATON" mutex "$(cluster_endpoints)" M 16 "$SECS" "$IT_DIR/holds" 3000 2 \
  "$IT_DIR/progress" >"$IT_DIR/mutex.out" 2>"$IT_DIR/mutex.err" &
pid=$!
wait_until 20 progress_at_least 50
before=$(progress)
kill_leader
log "leader $KILLED killed after $before holds"
wait_until 20 progress_at_least $((before + 50))
log "$(progress) holds: going on after the failover"
lc start "$KILLED" >/dev/null
wait_until $((SECS + 60)) eval "! pid_alive $pid"
wait "$pid" || fail "it_baton mutex exited $?: $(cat "$IT_DIR/mutex.err")"
log "it_baton: $(cat "$IT_DIR/mutex.out")"
[ -s "$IT_DIR/mutex.err" ] && log "it_baton stderr: $(cat "$IT_DIR/mutex.err")"
summary=$("$PY" "$it_here/holds.py" "$IT_DIR/holds" 200) ||
  fail "holds check failed: $summary"
log "holds: $summary"
echo "mutual_exclusion $summary"
it_pass
