#!/usr/bin/env bash
# A batond told it belongs to another cluster refuses a data dir of this one: exit 3
# and a message naming the cluster. The data stays usable by its rightful node.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
it_begin wrong_cluster_refused

lc up 3 >/dev/null
wait_until 10 cluster_agrees 3
lc stop 3

mapfile -t args <"$(node_args_file 3)"
rc=0
timeout 20 "$BATOND" "${args[@]}" --cluster-token other >"$IT_DIR/alien.log" 2>&1 &
pid=$!
track_pid "$pid"
wait "$pid" || rc=$?
log "batond --cluster-token other exited $rc: $(head -c 300 "$IT_DIR/alien.log")"
[ "$rc" -eq 3 ] || fail "expected exit 3 (data dir refused), got $rc"
grep -qi cluster "$IT_DIR/alien.log" || fail "stderr does not mention the cluster"

lc start 3 >/dev/null
wait_until 10 cluster_agrees 3
it_pass
