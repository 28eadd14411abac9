#!/usr/bin/env bash
# bench/profile.sh: where a baton cluster spends its CPU under one lockbench workload.
#
#   bench/profile.sh TEST [C] [DUR_S]        e.g. bench/profile.sh lock 64 10
#
# Starts a fresh local 3-node cluster, runs bench/lockbench -test TEST -c C (default 64)
# for DUR_S seconds (default 10) after 1 s of warm-up, and during the window records the
# leader with `perf record -g -p PID`. Prints the lockbench line, the CPU each batond and
# lockbench used in the window (100% = one core), and perf's top symbols by self time,
# overall and by DSO (the binaries are built without frame pointers, so -g call chains
# are partial: self time is the reliable part). perf.data is kept in
# BIN/profile/TEST-cC.data for `perf report -i`.
# Environment: BIN (directory with batond, batonctl, bench/lockbench; default
# <repo>/build-bench, as built by bench/run.sh), BATON_PORT_BASE (default 7850).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
test=${1:?usage: bench/profile.sh TEST [C] [DUR_S]}
c=${2:-64}
dur=${3:-10}
BIN=${BIN:-$repo/build-bench}
export BATOND=$BIN/batond BATONCTL=$BIN/batonctl BATON_PORT_BASE=${BATON_PORT_BASE:-7850}
for b in "$BATOND" "$BATONCTL" "$BIN/bench/lockbench"; do
  [ -x "$b" ] || { echo "profile.sh: $b missing (bench/run.sh builds it)" >&2; exit 1; }
done
command -v perf >/dev/null || { echo "profile.sh: perf not installed (apt-get install linux-perf)" >&2; exit 1; }

dir=$(mktemp -d /tmp/baton-profile.XXXXXX)
cluster() { "$repo/deploy/local-cluster.sh" "$@" --dir "$dir"; }
trap 'cluster down >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
cluster up 3 >&2
leader=$(cluster status | awk '/role=leader/ { sub("pid=", "", $2); print $2 }')
[ -n "$leader" ] || { echo "profile.sh: no leader" >&2; exit 1; }
pids=$(cat "$dir"/node*/batond.pid)

# utime+stime of a pid in clock ticks.
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

mkdir -p "$BIN/profile"
data=$BIN/profile/$test-c$c.data
# perf writes its samples to tmpfs during the window: on this machine the disk's I/O
# budget is small, and perf's own writes would slow the cluster's fsyncs.
rec=$data
[ ! -d /dev/shm ] || rec=/dev/shm/baton-profile-$$.data
"$BIN/bench/lockbench" -c "$c" -d "${dur}s" -warmup 1s -endpoints "$(cluster endpoints)" \
  -test "$test" >"$dir/line" &
bench=$!
sleep 1.2
# The window: perf and the CPU counters over the same seconds, ending before lockbench does.
win=$((dur > 3 ? dur - 2 : 1))
perf record -q -g -p "$leader" -o "$rec" -- sleep "$win" 2>/dev/null &
perf=$!
declare -A t0 t1
for p in $pids $bench; do t0[$p]=$(ticks "$p"); done
start=$(date +%s.%N)
sleep "$win"
for p in $pids $bench; do t1[$p]=$(ticks "$p"); done
end=$(date +%s.%N)
wait "$perf"
[ "$rec" = "$data" ] || mv "$rec" "$data"
hz=$(getconf CLK_TCK)
for p in $pids $bench; do
  role=$([ "$p" = "$leader" ] && echo leader || { [ "$p" = "$bench" ] && echo lockbench || echo follower; })
  awk -v a="${t0[$p]}" -v b="${t1[$p]}" -v s="$start" -v e="$end" -v hz="$hz" -v r="$role" -v p="$p" \
    'BEGIN { printf "# cpu %s pid=%s cpu_pct=%.0f\n", r, p, 100 * (b - a) / hz / (e - s) }'
done
wait "$bench"
cat "$dir/line"
echo "# perf: top symbols by self time in the leader (pid $leader), $data"
perf report -i "$data" --no-children -g none --stdio --sort dso,symbol 2>/dev/null |
  grep -E '^ +[0-9]' | head -30
echo "# perf: by DSO"
perf report -i "$data" --no-children -g none --stdio --sort dso 2>/dev/null | grep -E '^ +[0-9]' | head -12
