#!/usr/bin/env bash
# shellcheck disable=SC2317  # helper functions run through wait_until
# down then up on the same dir keeps each node's term and log.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
it_begin data_survives_down_up

lc up 3 >/dev/null
wait_until 10 cluster_agrees 3
# One more election, so the log holds more than the first term's entries.
l=$(leader_id)
term=$(node_term "$l")
lc kill "$l"
lc start "$l" >/dev/null
wait_until 15 cluster_agrees 3
settled() {
  local k c
  c=$(node_commit "$(leader_id)") || return 1
  for k in 1 2 3; do [ "$(node_get "$k" last_index)" -ge "$c" ] || return 1; done
}
wait_until 10 settled
declare -A term_before last_before
for k in 1 2 3; do
  term_before[$k]=$(node_term "$k")
  last_before[$k]=$(node_get "$k" last_index)
  log "before: node $k term ${term_before[$k]} last_index ${last_before[$k]}"
done
[ "${term_before[1]}" -gt "$term" ] || fail "expected a term above $term after the election"

lc down >/dev/null
for k in 1 2 3; do ! node_answers "$k" || fail "node $k still answers after down"; done
lc up 3 >/dev/null
wait_until 10 cluster_agrees 3
for k in 1 2 3; do
  t=$(node_term "$k")
  li=$(node_get "$k" last_index)
  log "after: node $k term $t last_index $li"
  [ "$t" -ge "${term_before[$k]}" ] || fail "node $k went back from term ${term_before[$k]} to $t"
  [ "$li" -ge "${last_before[$k]}" ] ||
    fail "node $k lost log entries: last_index ${last_before[$k]} -> $li"
done
it_pass
