#!/usr/bin/env bash
# Failover time: SIGKILL the leader of a local 3-node cluster (default flags) and time
# until another node reports itself leader; repeat, and print each trial and the median.
#   bench/failover.sh [TRIALS]        (default 20; uses build/batond and build/batonctl)
# Prints "failover trial=K ms=T" per trial and "failover trials=N median_ms=M max_ms=X".
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
trials=${1:-20}
export BATON_PORT_BASE=${BATON_PORT_BASE:-7600}
dir=$(mktemp -d /tmp/baton-failover.XXXXXX)
cluster() { "$repo/deploy/local-cluster.sh" "$@" --dir "$dir"; }
trap 'cluster down >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
# pyenv's python3 is a shell wrapper costing ~0.3 s a call: resolve it once.
py=$(python3 -c 'import sys; print(sys.executable)')
ctl() { "$repo/build/batonctl" --endpoints "$(cluster endpoints)" --timeout 300 --json "$@"; }

# The id of the node that says it leads with the highest term, or nothing.
leader() {
  ctl cluster status 2>/dev/null | "$py" -c '
import json, sys
nodes = [n for n in json.load(sys.stdin).get("nodes", []) if n.get("reachable")]
leaders = [n for n in nodes if n.get("role") == "leader"]
if leaders: print(max(leaders, key=lambda n: n["term"])["id"])' || true
}

now_ms() { date +%s%3N; }

cluster up 3 >/dev/null
results=()
for k in $(seq 1 "$trials"); do
  old=""
  deadline=$(( $(now_ms) + 15000 ))
  until [ -n "$old" ]; do
    old=$(leader); [ "$(now_ms)" -lt "$deadline" ] || { echo "no leader" >&2; exit 1; }
  done
  cluster kill "$old" >/dev/null
  t0=$(now_ms)
  new=""
  until [ -n "$new" ] && [ "$new" != "$old" ]; do
    new=$(leader)
    [ "$(now_ms)" -lt $(( t0 + 15000 )) ] || { echo "trial $k: no new leader" >&2; exit 1; }
  done
  t=$(( $(now_ms) - t0 ))
  echo "failover trial=$k ms=$t old=$old new=$new"
  results+=("$t")
  cluster start "$old" >/dev/null
done
printf '%s\n' "${results[@]}" | sort -n | awk '{a[NR]=$1} END {
  m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2;
  printf "failover trials=%d median_ms=%d max_ms=%d\n", NR, m, a[NR] }'
