#!/usr/bin/env bash
# shellcheck disable=SC2317  # helper functions run through wait_until
# A holder whose lease is not kept alive loses the lock once its TTL has run out,
# and not before: the queued waiter gets it with a larger token, and the old token
# stops checking as current at the handover.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/lib_client.sh
. "$(dirname "$0")/lib_client.sh"
it_begin lease_expiry_frees_lock

TTL=2000
lc up 3 >/dev/null
wait_until 10 cluster_agrees 3

# The holder: a lease of TTL ms nobody keeps alive. t0 is taken before the grant is
# sent, so the lease cannot end before t0 + TTL.
t0=$(now_ms)
out=$(ctl lock acquire E --ttl "$TTL")
[[ "$out" =~ ^lease=([0-9]+)\ token=([0-9]+)$ ]] || fail "acquire printed '$out'"
a_lease=${BASH_REMATCH[1]} a_tok=${BASH_REMATCH[2]}

out=$(ctl lease grant 60000)
[[ "$out" =~ ^lease=([0-9]+) ]] || fail "lease grant printed '$out'"
b_lease=${BASH_REMATCH[1]}
ctl --timeout 20000 lock acquire E --lease "$b_lease" --wait 20000 >"$IT_DIR/b.out" \
  2>"$IT_DIR/b.err" &
b_pid=$!
wait_until 5 waiters_are E "$b_lease"
expect_rc 0 ctl lock check E "$a_tok"
holder_is E "$a_lease" || fail "holder: $(inspect E)"

# The handover: the waiter's acquire returns once A's lease has expired.
wait_until 15 eval "! pid_alive $b_pid"
t1=$(now_ms)
wait "$b_pid" || fail "waiter exited $?: $(cat "$IT_DIR/b.err")"
out=$(cat "$IT_DIR/b.out")
[[ "$out" =~ ^token=([0-9]+)$ ]] || fail "waiter printed '$out'"
b_tok=${BASH_REMATCH[1]}
log "lease $a_lease (ttl $TTL) expired; waiter got E after $((t1 - t0)) ms with token $b_tok"
[ $((t1 - t0)) -ge "$TTL" ] || fail "the lock changed hands $((t1 - t0)) ms after the grant, before the TTL"
[ "$b_tok" -gt "$a_tok" ] || fail "token $b_tok after $a_tok"
expect_rc 1 ctl lock check E "$a_tok"
expect_rc 0 ctl lock check E "$b_tok"
holder_is E "$b_lease" || fail "holder after expiry: $(inspect E)"
expect_rc 4 ctl lease keepalive "$a_lease"
expect_rc 4 ctl lock release E --lease "$a_lease"
expect_rc 0 ctl lock release E --lease "$b_lease"
it_pass
