#!/usr/bin/env bash
# shellcheck disable=SC2317  # helper functions run through wait_until
# batonctl's lock and lease contract (DESIGN.md "External contract"): output lines,
# --json, exit codes 0/1/2/3/4, and fencing tokens that rise across a leader SIGKILL.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/lib_client.sh
. "$(dirname "$0")/lib_client.sh"
it_begin lock_cli_contract

# Without a cluster: usage errors are 2, nothing listening is 3.
expect_rc 2 "$BATONCTL" lock acquire L
expect_rc 2 "$BATONCTL" lock acquire L --lease 5 --ttl 5000
expect_rc 2 "$BATONCTL" lock acquire L --ttl abc
expect_rc 2 "$BATONCTL" lock acquire --ttl 5000
expect_rc 2 "$BATONCTL" lock release L
expect_rc 2 "$BATONCTL" lock check L
expect_rc 2 "$BATONCTL" lock check L -3
expect_rc 2 "$BATONCTL" lock exec L
expect_rc 2 "$BATONCTL" lock exec L --
expect_rc 2 "$BATONCTL" lease grant
expect_rc 2 "$BATONCTL" lease grant 0
expect_rc 2 "$BATONCTL" lease keepalive x
expect_rc 2 "$BATONCTL" counter incr C 0
expect_rc 2 "$BATONCTL" counter get C --all=1
expect_rc 2 "$BATONCTL" --endpoints "$(node_endpoint 1)" lock inspect L extra
expect_rc 3 "$BATONCTL" --endpoints "$(node_endpoint 1)" --timeout 300 lock inspect L
help=$("$BATONCTL" --help)
for c in "lease grant" "lease keepalive" "lease revoke" "lock acquire" "lock release" \
  "lock inspect" "lock check" "lock exec" "counter incr" "counter get"; do
  grep -q "  $c" <<<"$help" || fail "--help does not list $c"
done

lc up 3 >/dev/null
wait_until 10 cluster_agrees 3
tokens=()

# acquire --ttl prints its own lease and a token; a second try-lock gets a definite no.
out=$(ctl lock acquire L --ttl 5000)
[[ "$out" =~ ^lease=([0-9]+)\ token=([0-9]+)$ ]] || fail "acquire --ttl printed '$out'"
lease1=${BASH_REMATCH[1]} tok1=${BASH_REMATCH[2]}
tokens+=("$tok1")
log "L held by lease $lease1 with token $tok1"
expect_rc 1 ctl lock acquire L --ttl 5000 --wait 0
expect_rc 1 ctl lock acquire L --ttl 5000 --wait 300
grep -q "not acquired\|held by another" "$IT_DIR/last.err" || fail "no reason given for exit 1"
expect_rc 0 ctl lock check L "$tok1"
[ "$(cat "$IT_DIR/last.out")" = current=true ] || fail "check printed '$(cat "$IT_DIR/last.out")'"
expect_rc 1 ctl lock check L $((tok1 + 1))
[ "$(ctl --json lock check L "$tok1")" = '{"current":true}' ] || fail "check --json"
out=$(inspect L)
[ "$out" = "name=L held=true lease=$lease1 token=$tok1 waiters=" ] || fail "inspect: '$out'"
json=$(ctl --json lock inspect L)
[ "$json" = "{\"name\":\"L\",\"held\":true,\"lease\":$lease1,\"token\":$tok1,\"waiters\":[]}" ] ||
  fail "inspect --json: $json"

# release: the token stops being current; releasing again is "not found".
expect_rc 0 ctl lock release L --lease "$lease1"
[ ! -s "$IT_DIR/last.out" ] || fail "release printed '$(cat "$IT_DIR/last.out")'"
expect_rc 1 ctl lock check L "$tok1"
[ "$(cat "$IT_DIR/last.out")" = current=false ] || fail "check after release printed something else"
expect_rc 4 ctl lock release L --lease "$lease1"
lock_free L || fail "L still held after release"

# Unknown leases are exit 4 everywhere.
expect_rc 4 ctl lock acquire L --lease 987654321
expect_rc 4 ctl lease keepalive 987654321
expect_rc 4 ctl lease revoke 987654321
expect_rc 4 ctl lock release L --lease 987654321
# A TTL under the cluster's minimum is refused as a usage error, with the reason.
expect_rc 2 ctl lease grant 10
grep -q "at least" "$IT_DIR/last.err" || fail "no minimum TTL given: $(cat "$IT_DIR/last.err")"

# lease grant / keepalive / revoke by hand, and acquire --lease.
out=$(ctl lease grant 4000)
[[ "$out" =~ ^lease=([0-9]+)\ ttl_ms=4000$ ]] || fail "lease grant printed '$out'"
lease2=${BASH_REMATCH[1]}
out=$(ctl lease keepalive "$lease2")
[[ "$out" =~ ^ttl_ms=[0-9]+$ ]] || fail "keepalive printed '$out'"
json=$(ctl --json lease grant 4000)
[[ "$json" =~ ^\{\"lease\":[0-9]+,\"ttl_ms\":4000\}$ ]] || fail "lease grant --json: $json"
out=$(ctl lock acquire L --lease "$lease2")
[[ "$out" =~ ^token=([0-9]+)$ ]] || fail "acquire --lease printed '$out'"
tok2=${BASH_REMATCH[1]}
tokens+=("$tok2")
[ "$tok2" -gt "$tok1" ] || fail "token $tok2 after $tok1"
out2=$(ctl lock acquire L --lease "$lease2")
[ "$out2" = "$out" ] || fail "a repeated acquire by the holder got '$out2', not '$out'"
expect_rc 0 ctl lease revoke "$lease2"
lock_free L || fail "revoking the holder's lease did not free L"
expect_rc 4 ctl lease keepalive "$lease2"
expect_rc 1 ctl lock check L "$tok2"

# Fencing tokens across a leader SIGKILL: the lock survives the failover, and the
# next holder's token is larger than every earlier one.
out=$(ctl lock acquire L --ttl 8000)
[[ "$out" =~ ^lease=([0-9]+)\ token=([0-9]+)$ ]] || fail "acquire printed '$out'"
lease3=${BASH_REMATCH[1]} tok3=${BASH_REMATCH[2]}
tokens+=("$tok3")
kill_leader
expect_rc 0 ctl lock check L "$tok3"
holder_is L "$lease3" || fail "holder after failover: $(inspect L)"
expect_rc 0 ctl lock release L --lease "$lease3"
out=$(ctl lock acquire L --ttl 5000)
[[ "$out" =~ ^lease=([0-9]+)\ token=([0-9]+)$ ]] || fail "acquire after failover printed '$out'"
tok4=${BASH_REMATCH[2]}
for t in "${tokens[@]}"; do
  [ "$tok4" -gt "$t" ] || fail "token $tok4 after the failover is not above earlier token $t"
done
log "tokens ${tokens[*]} then $tok4 after the failover"
lc start "$KILLED" >/dev/null
wait_until 15 caught_up "$KILLED"
it_pass
