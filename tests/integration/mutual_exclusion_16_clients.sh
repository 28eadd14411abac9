#!/usr/bin/env bash
# shellcheck disable=SC2317  # helper functions run through wait_until
# 16 clients (threads of it_baton, each with its own libbaton blocking client) contend
# for one lock through baton_lock_hold_acquire; each hold's [start, end] on
# CLOCK_MONOTONIC and its fencing token are recorded. The leader is SIGKILLed mid-run
# (and restarted), then its successor is paused (SIGSTOP) for longer than the 3 s TTL
# and resumed; holds go on after each failover. No two holds may overlap, and tokens
# must strictly rise in the order the holds began (holds.py). Holds whose lease the
# client had to count as lost are marked so and reported (it_baton: lost=).
# MUTEX_SECONDS (default 15) sets the run's length.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/lib_client.sh
. "$(dirname "$0")/lib_client.sh"
it_begin mutual_exclusion_16_clients
need_it_baton

SECS=${MUTEX_SECONDS:-15}
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
wait_until 15 caught_up "$KILLED"

# Then the new leader is paused (SIGSTOP) for longer than the TTL: its clients must
# move to the next leader, and the paused one, resumed, must not hand out anything.
old=$(leader_id) || fail "no leader to pause"
term=$(node_term "$old")
t_pause=$(now_ms)
lc pause "$old" >/dev/null
before=$(progress)
wait_until 15 new_leader_above "$old" "$term"
wait_until 20 progress_at_least $((before + 50))
wait_until 10 eval "[ \$(now_ms) -ge $((t_pause + 3500)) ]"
lc resume "$old" >/dev/null
log "leader $old paused for $(($(now_ms) - t_pause)) ms; $(progress) holds"
wait_until $((SECS + 60)) eval "! pid_alive $pid"
wait "$pid" || fail "it_baton mutex exited $?: $(cat "$IT_DIR/mutex.err")"
log "it_baton: $(cat "$IT_DIR/mutex.out")"
[ -s "$IT_DIR/mutex.err" ] && log "it_baton stderr: $(cat "$IT_DIR/mutex.err")"
summary=$("$PY" "$it_here/holds.py" "$IT_DIR/holds" 200) ||
  fail "holds check failed: $summary"
log "holds: $summary"
echo "mutual_exclusion $summary"
it_pass
