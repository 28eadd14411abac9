#!/usr/bin/env bash
# shellcheck disable=SC2317  # helper functions run through wait_until
# Acknowledged increments survive SIGKILL: increments spread over all nodes, then 500
# more on one node, which is SIGKILLed the moment they are acknowledged (before gossip
# may have carried them anywhere). Restarted on its data, it reports its part at
# once, and every node converges to the exact total: nothing lost, nothing doubled.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/lib_client.sh
. "$(dirname "$0")/lib_client.sh"
it_begin counters_crash
need_it_baton

lc up 3 >/dev/null
wait_until 10 cluster_agrees 3
EP=$(cluster_endpoints)
out=$("$IT_BATON" incr "$EP" crash 300) || fail "increments: $out"

victim=2
out=$("$IT_BATON" incr "$(node_endpoint $victim)" crash 500) || fail "increments on node $victim: $out"
lc kill "$victim" >/dev/null
log "node $victim SIGKILLed right after: $out"
others=$(for k in 1 3; do ctl_at "$k" counter get crash; done | tr '\n' ' ')
log "the others read: $others(gossip may not have carried everything yet)"

lc start "$victim" >/dev/null
# The victim's own 500 (and whatever share of the 300 it took) were durable on it.
own=$(kv value "$(ctl_at "$victim" counter get crash)")
want_num "node $victim after restart" "$own" >/dev/null
if [ "$own" -lt 500 ] || [ "$own" -gt 800 ]; then
  fail "node $victim reads $own after restart, want 500 to 800"
fi
conv=$("$IT_BATON" converge "$EP" crash 800 5000) || fail "no convergence to 800: $conv"
log "node $victim read $own at restart; every node reports 800: $conv"
echo "counters_crash $conv"
it_pass
