#!/usr/bin/env bash
# shellcheck disable=SC2317,SC2016  # helpers run through wait_until; eval strings quoted
# G-Counters converge: 1,000 increments spread over the three nodes (each node's
# share through a client pinned to it), then every node reports exactly 1,000 within
# 2 s (the measured time is printed). batonctl's counter commands on the same cluster:
# incr/get output, --json, --all with the spread.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/lib_client.sh
. "$(dirname "$0")/lib_client.sh"
it_begin counters_converge
need_it_baton

lc up 3 >/dev/null
wait_until 10 cluster_agrees 3
EP=$(cluster_endpoints)

out=$("$IT_BATON" incr "$EP" hits 1000) || fail "increments: $out"
log "increments: $out"
[[ "$out" =~ ^acked=1000\ unknown=0\ failed=0 ]] || fail "not all acknowledged: $out"
for k in 1 2 3; do
  share=$(sed -n "s/.*127.0.0.1:$((BATON_PORT_BASE + k))=\([0-9]*\).*/\1/p" <<<"$out")
  [ "${share:-0}" -ge 100 ] || fail "node $k took only '${share}' of the increments: $out"
done
conv=$("$IT_BATON" converge "$EP" hits 1000 2000) || fail "no convergence within 2 s: $conv"
log "every node reports 1000: $conv"
echo "counters_converge $conv"

# batonctl: --all lists every node and the spread; a pinned incr and get agree.
out=$(ctl counter get hits --all)
[ "$(grep -c ' value=1000$' <<<"$out")" -eq 3 ] || fail "counter get --all: $out"
grep -qx "answered=3 asked=3 min=1000 max=1000 spread=0" <<<"$out" || fail "summary: $out"
json=$(ctl --json counter get hits --all)
"$PY" -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["name"] == "hits" and d["spread"] == 0 and d["answered"] == 3, d
assert sorted(n["node"] for n in d["nodes"]) == [1, 2, 3], d
assert all(n["value"] == 1000 for n in d["nodes"]), d' "$json" || fail "--all --json: $json"
# An endpoint that does not answer makes --all incomplete: exit 3, the rest shown.
expect_rc 3 "$BATONCTL" --endpoints "$EP,127.0.0.1:1" --timeout 500 counter get hits --all
grep -qx "answered=3 asked=4 min=1000 max=1000 spread=0" "$IT_DIR/last.out" ||
  fail "--all with a dead endpoint: $(cat "$IT_DIR/last.out")"
grep -q '^endpoint=127.0.0.1:1 error=' "$IT_DIR/last.out" || fail "the dead endpoint is not listed"
[ "$(ctl_at 2 counter incr hits)" = value=1001 ] || fail "incr at node 2"
[ "$(ctl_at 2 counter incr hits 9)" = value=1010 ] || fail "incr 9 at node 2"
[ "$(ctl_at 2 counter get hits)" = value=1010 ] || fail "get at node 2"
[ "$(ctl_at 2 --json counter get hits)" = '{"value":1010,"node":2}' ] || fail "get --json"
[ "$(ctl counter get never-incremented)" = value=0 ] || fail "an unknown counter is not 0"
wait_until 2 eval '[ "$(kv spread "$(ctl counter get hits --all | tail -n 1)")" = 0 ]'
[ "$(ctl_at 3 counter get hits)" = value=1010 ] || fail "node 3 did not converge to 1010"
it_pass
