#!/usr/bin/env bash
# shellcheck disable=SC2317  # helper functions run through wait_until
# Waiters are served in FIFO order: three blocking acquires queue one after another
# (each seen queued by `lock inspect` before the next starts), and each release hands
# the lock to the oldest waiter only, with a larger fencing token each time.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/lib_client.sh
. "$(dirname "$0")/lib_client.sh"
it_begin lock_fifo

lc up 3 >/dev/null
wait_until 10 cluster_agrees 3

grant() {
  local out
  out=$(ctl lease grant 60000)
  [[ "$out" =~ ^lease=([0-9]+)\ ttl_ms= ]] || fail "lease grant printed '$out'"
  echo "${BASH_REMATCH[1]}"
}

holder=$(grant)
out=$(ctl lock acquire Q --lease "$holder")
[[ "$out" =~ ^token=([0-9]+)$ ]] || fail "holder's acquire printed '$out'"
last_token=${BASH_REMATCH[1]}

# Three waiters, each queued (as inspect shows) before the next one starts.
leases=() pids=() queue=""
for i in 1 2 3; do
  l=$(grant)
  ctl --timeout 5000 lock acquire Q --lease "$l" --wait 60000 >"$IT_DIR/w$i.out" \
    2>"$IT_DIR/w$i.err" &
  pids+=($!)
  leases+=("$l")
  queue+="${queue:+,}$l"
  wait_until 10 waiters_are Q "$queue"
  log "waiter $i (lease $l) queued: waiters=$queue"
done

# Release by release, the lock goes to the oldest waiter, and only to it.
prev=$holder
for i in 0 1 2; do
  expect_rc 0 ctl lock release Q --lease "$prev"
  wait_until 10 holder_is Q "${leases[$i]}"
  wait "${pids[$i]}" || fail "waiter $((i + 1)) exited $?: $(cat "$IT_DIR/w$((i + 1)).err")"
  out=$(cat "$IT_DIR/w$((i + 1)).out")
  [[ "$out" =~ ^token=([0-9]+)$ ]] || fail "waiter $((i + 1)) printed '$out'"
  tok=${BASH_REMATCH[1]}
  [ "$tok" -gt "$last_token" ] || fail "waiter $((i + 1)) got token $tok after $last_token"
  for ((j = i + 1; j < 3; j++)); do
    pid_alive "${pids[$j]}" || fail "waiter $((j + 1)) finished before waiter $((i + 1))'s turn"
  done
  rest=$(IFS=,; echo "${leases[*]:$((i + 1))}")
  waiters_are Q "$rest" || fail "after grant $((i + 1)): $(inspect Q), want waiters=$rest"
  expect_rc 0 ctl lock check Q "$tok"
  log "waiter $((i + 1)) (lease ${leases[$i]}) holds Q with token $tok; waiters=$rest"
  last_token=$tok
  prev=${leases[$i]}
done
expect_rc 0 ctl lock release Q --lease "$prev"
lock_free Q || fail "Q still held: $(inspect Q)"
it_pass
