#!/usr/bin/env bash
# G-Counter gossip cost at rest, and convergence time after a partition heals, on a
# local 3-node cluster (deploy/local-cluster.sh, default daemon flags: heartbeats
# every 100 ms carry the gossip).
#   bench/gossip_at_rest.sh [COUNTERS [SAMPLE_S [HEAL_TRIALS]]]     (defaults 10000 10 5)
# Binaries: BATOND, BATONCTL, IT_BATON (default build/…; IT_BATON is the integration
# tests' libbaton driver, build/tests/integration/it_baton). BATON_PORT_BASE default 7700.
# gossip_bytes_sent (StatusResponse) counts the counter deltas a node sent, not the
# heartbeats that carry them (those go every 100 ms whether or not counters exist).
# Prints
#   gossip_at_rest counters=N spread_ms=T          (until every node knows every counter)
#   gossip_at_rest counters=N bytes_sent_to_spread=B1,B2,B3
#   gossip_at_rest counters=N node=K bytes=B seconds=S bytes_per_s=R   (one per node)
#   gossip_at_rest counters=N cluster_bytes_per_s=R
#   peer_wire counters=0|N bytes_per_s=R  (every byte between peers, from ss(8), before
#                                         the counters exist and at rest with them)
#   heal trial=K converged_ms=T          (2 nodes paused until the third suspects them,
#                                         100 increments on the third, resume, then the
#                                         time until all three report the exact total)
#   heal trials=N median_ms=M max_ms=X
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
counters=${1:-10000}
sample_s=${2:-10}
trials=${3:-5}
export BATOND=${BATOND:-$repo/build/batond}
export BATONCTL=${BATONCTL:-$repo/build/batonctl}
IT_BATON=${IT_BATON:-$repo/build/tests/integration/it_baton}
export BATON_PORT_BASE=${BATON_PORT_BASE:-7700}
for b in "$BATOND" "$BATONCTL" "$IT_BATON"; do
  [ -x "$b" ] || { echo "gossip_at_rest: $b not built" >&2; exit 1; }
done
dir=$(mktemp -d /tmp/baton-gossip.XXXXXX)
cluster() { "$repo/deploy/local-cluster.sh" "$@" --dir "$dir"; }
trap 'cluster down >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
ep() { echo "127.0.0.1:$((BATON_PORT_BASE + $1))"; }
now_ms() { date +%s%3N; }
field() { sed -n "s/.*$2=\([0-9]*\).*/\1/p" <<<"$1"; }
gossip_bytes() { field "$("$IT_BATON" status "$(ep "$1")")" gossip_bytes_sent; }
known() { field "$("$IT_BATON" status "$(ep "$1")")" counters; }

# until_true SECONDS CMD...: polls CMD every 100 ms; fails after SECONDS.
until_true() {
  local end=$(($(now_ms) + $1 * 1000))
  shift
  until "$@"; do
    [ "$(now_ms)" -lt "$end" ] || { echo "gossip_at_rest: timed out: $*" >&2; exit 1; }
    sleep 0.1
  done
}

# Bytes sent so far on every TCP connection between peers (one end on a peer port,
# BASE+101..103): Raft and failure-detector heartbeats with whatever gossip they carry.
peer_wire_bytes() {
  ss -tinH 2>/dev/null | awk -v lo=$((BATON_PORT_BASE + 101)) -v hi=$((BATON_PORT_BASE + 103)) '
    /^[A-Z]/ { n = split($4, a, ":"); l = a[n]; n = split($5, b, ":"); r = b[n]
               peer = (l >= lo && l <= hi) || (r >= lo && r <= hi); next }
    peer && match($0, /bytes_sent:[0-9]+/) { s += substr($0, RSTART + 11, RLENGTH - 11) }
    END { print s + 0 }'
}
# wire_rate LABEL: peer wire bytes/s over sample_s seconds.
wire_rate() {
  local w1 w2 t1 t2
  w1=$(peer_wire_bytes)
  t1=$(now_ms)
  sleep "$sample_s"
  w2=$(peer_wire_bytes)
  t2=$(now_ms)
  awk -v l="$1" -v b=$((w2 - w1)) -v ms=$((t2 - t1)) 'BEGIN {
    printf "peer_wire %s bytes_per_s=%.1f (all peer traffic: heartbeats, Raft, gossip)\n",
      l, b * 1000 / ms }'
}

cluster up 3 >/dev/null
EP=$(cluster endpoints)
sleep 2 # past the election's own traffic
wire_rate "counters=0"
"$IT_BATON" incr "$EP" c "$counters" "$counters" >/dev/null
all_known() { for k in 1 2 3; do [ "$(known "$k")" -eq "$counters" ] || return 1; done; }
t0=$(now_ms)
until_true 120 all_known
echo "gossip_at_rest counters=$counters spread_ms=$(($(now_ms) - t0))"

# Settled: no node's gossip byte count moves for a second.
settled() {
  local a b
  a=$(for k in 1 2 3; do gossip_bytes "$k"; done)
  sleep 1
  b=$(for k in 1 2 3; do gossip_bytes "$k"; done)
  [ "$a" = "$b" ]
}
until_true 60 settled
declare -A b1
for k in 1 2 3; do b1[$k]=$(gossip_bytes "$k"); done
echo "gossip_at_rest counters=$counters bytes_sent_to_spread=${b1[1]},${b1[2]},${b1[3]} (nodes 1,2,3)"
s1=$(now_ms)
sleep "$sample_s"
s2=$(now_ms)
total=0
for k in 1 2 3; do
  b2=$(gossip_bytes "$k")
  d=$((b2 - b1[$k]))
  total=$((total + d))
  awk -v n="$counters" -v k="$k" -v b="$d" -v ms=$((s2 - s1)) 'BEGIN {
    printf "gossip_at_rest counters=%d node=%d bytes=%d seconds=%.1f bytes_per_s=%.1f\n",
      n, k, b, ms / 1000, b * 1000 / ms }'
done
awk -v n="$counters" -v b="$total" -v ms=$((s2 - s1)) 'BEGIN {
  printf "gossip_at_rest counters=%d cluster_bytes_per_s=%.1f\n", n, b * 1000 / ms }'
wire_rate "counters=$counters"

# Convergence after heal.
suspects() {
  "$BATONCTL" --endpoints "$(ep "$1")" --timeout 1000 --json cluster health 2>/dev/null |
    python3 -c '
import json, sys
d = json.load(sys.stdin)
for n in d.get("nodes", []):
    if str(n.get("id")) == sys.argv[1]:
        print(" ".join(str(p) for p in sorted(n.get("suspects", []))))' "$1"
}
suspects_both() { [ "$(suspects "$1")" = "$2 $3" ]; }
suspects_none() { [ -z "$(suspects "$1")" ]; }
results=()
total=0
for ((t = 1; t <= trials; t++)); do
  alive=$(( (t - 1) % 3 + 1 ))
  p=()
  for k in 1 2 3; do [ "$k" = "$alive" ] || p+=("$k"); done
  for k in "${p[@]}"; do cluster pause "$k" >/dev/null; done
  until_true 10 suspects_both "$alive" "${p[0]}" "${p[1]}"
  "$IT_BATON" incr "$(ep "$alive")" heal 100 >/dev/null
  total=$((total + 100))
  for k in "${p[@]}"; do cluster resume "$k" >/dev/null; done
  out=$("$IT_BATON" converge "$EP" heal "$total" 10000)
  ms=$(field "$out" converged_ms)
  [ -n "$ms" ] || { echo "gossip_at_rest: trial $t: $out" >&2; exit 1; }
  echo "heal trial=$t converged_ms=$ms"
  results+=("$ms")
  # Let the failure detectors trust everyone again before the next trial.
  until_true 20 suspects_none "$alive"
done
printf '%s\n' "${results[@]}" | sort -n | awk '{a[NR]=$1} END {
  m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2;
  printf "heal trials=%d median_ms=%d max_ms=%d\n", NR, m, a[NR] }'
