#!/usr/bin/env bash
# Three nodes elect exactly one leader, and all three agree on its id and on the term.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
it_begin three_nodes_elect_one_leader

start=$(now_ms)
lc up 3 >/dev/null
wait_until 10 cluster_agrees 3
log "leader elected and agreed on in $(($(now_ms) - start)) ms (from process start)"

doc=$(status_json)
leaders=$("$PY" "$it_here/status.py" leaders <<<"$doc" | wc -l)
[ "$leaders" -eq 1 ] || fail "expected one leader, saw $leaders"
l=$("$PY" "$it_here/status.py" leader <<<"$doc")
term=$("$PY" "$it_here/status.py" get "$l" term <<<"$doc")
for k in 1 2 3; do
  [ "$("$PY" "$it_here/status.py" get "$k" term <<<"$doc")" = "$term" ] ||
    fail "node $k is not on term $term"
  [ "$("$PY" "$it_here/status.py" get "$k" leader <<<"$doc")" = "$l" ] ||
    fail "node $k does not name $l as leader"
done
log "leader $l, term $term"
it_pass
