#!/usr/bin/env bash
# bench/run.sh: baton next to etcd on this machine — the physical floors, then every
# lockbench workload (bench/lockbench.c, the same workloads and result lines as
# ../shared/anchors/etcd/lockbench.go) against a fresh local 3-node baton cluster at
# C=16 and at C=64, and a table of baton's and etcd's figures side by side (etcd's from
# this run with --etcd, else from the newest anchor results).
#
#   bench/run.sh [--etcd] [--no-build]
#   DUR=5s CS="16" TESTS=lock,counter bench/run.sh
#
#   --etcd      also run ../shared/anchors/etcd/run.sh for each C, right after baton's
#               block at that C (baton's cluster down by then), when etcd and its
#               lockbench are installed (../shared/anchors/etcd/setup.sh installs them);
#               each such call leaves its own file in ../shared/anchors/etcd/results/
#   --no-build  use the binaries in BUILD as they are
#
# Environment: DUR (10s), WARM (1s), CS ("16 64"), TESTS
# (lock,contended,lease,keepalive,put; baton has no key/value store, so put prints a
# '#' line saying so and runs counter instead), PHYS (1: measure the floors; 0: skip),
# THREADS (lockbench uv loops, 1), BUILD (<repo>/build-bench), REV (unset: build the
# work tree; a git revision: export that commit to BUILD/src-<sha> and build it there,
# so that the figures belong to a commit), BATON_PORT_BASE (7800: clients on
# 7801..7803, peers on 7901..7903 — clear of the default 7100, bench/failover.sh's 7600,
# bench/gossip_at_rest.sh's 7700 and the tests' 27xxx/29xxx), BATOND_FLAGS (extra
# batond flags, none by default: default heartbeat and election timeouts, fsync on).
#
# Result lines (key=value) go to stdout and bench/results/run-<UTC time>.txt; the
# '#' lines are context (host, commit, what is not comparable). Builds run under
# nice -n 19. Takes about 2.5 minutes with the defaults (plus ~2.5 with --etcd).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
anchor=$(cd "$repo/../shared/anchors/etcd" 2>/dev/null && pwd || true)

run_etcd=0
build=1
for a in "$@"; do
  case "$a" in
    --etcd) run_etcd=1 ;;
    --no-build) build=0 ;;
    -h | --help) sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown argument $a (see --help)" >&2; exit 2 ;;
  esac
done

DUR=${DUR:-10s}
WARM=${WARM:-1s}
CS=${CS:-16 64}
TESTS=${TESTS:-lock,contended,lease,keepalive,put}
PHYS=${PHYS:-1}
THREADS=${THREADS:-1}
BUILD=${BUILD:-$repo/build-bench}
export BATON_PORT_BASE=${BATON_PORT_BASE:-7800}

# ---- build -------------------------------------------------------------------------
src=$repo
bin=$BUILD
if [ -n "${REV:-}" ]; then
  sha=$(git -C "$repo" rev-parse --verify "$REV^{commit}")
  src=$BUILD/src-${sha:0:12}
  bin=$BUILD/rev-${sha:0:12}
  if [ ! -f "$src/CMakeLists.txt" ]; then
    mkdir -p "$src"
    git -C "$repo" archive "$sha" | tar -x -C "$src"
  fi
fi
if [ "$build" = 1 ]; then
  {
    nice -n 19 cmake -S "$src" -B "$bin" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    nice -n 19 cmake --build "$bin" -j2 --target batond batonctl lockbench >/dev/null
  } || { echo "run.sh: build failed in $bin" >&2; exit 1; }
fi
export BATOND=$bin/batond BATONCTL=$bin/batonctl
lockbench=$bin/bench/lockbench
for b in "$BATOND" "$BATONCTL" "$lockbench"; do
  [ -x "$b" ] || { echo "run.sh: $b missing (run without --no-build)" >&2; exit 1; }
done

# ---- header ------------------------------------------------------------------------
# The machine is shared: say what else was using the CPU, so a disturbed run shows it.
load_note() {
  # top's second frame: CPU use over the last second (ps would give lifetime averages).
  echo "# load at $1: $(cut -d' ' -f1-3 /proc/loadavg); others above 10% CPU now: $(
    top -b -n 2 -d 1 -w 200 | awk '/^top -/ { frame++ } frame == 2 && $1 ~ /^[0-9]+$/ && $9 > 10 {
      printf "%s%s(pid %s, %s%%, nice %s)", sep, $12, $1, $9, $4; sep = ", " } END { if (!sep) printf "none" }')"
  if pgrep -f fault.py >/dev/null; then echo "# warning: a fault.py soak test is running"; fi
}
mkdir -p "$repo/bench/results"
outf=$repo/bench/results/run-$(date -u +%Y%m%dT%H%M%SZ).txt
if [ -n "${REV:-}" ]; then
  rev="${sha:0:12} (REV=$REV, exported)"
else
  rev="$(git -C "$repo" rev-parse --short=12 HEAD) + work tree"
  dirty=$(git -C "$repo" status --porcelain -- src include proto cmd CMakeLists.txt | wc -l)
  [ "$dirty" = 0 ] || rev+=" ($dirty uncommitted change(s) under src/include/proto/cmd)"
fi
{
  echo "# host: $(uname -srm), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
  echo "# baton: $rev, 3 nodes on 127.0.0.1 (deploy/local-cluster.sh), fsync on, default flags ${BATOND_FLAGS:-}"
  echo "# client: lockbench dur=$DUR warmup=$WARM conns=one-per-worker endpoints=all-3 threads=$THREADS"
  load_note start
} | tee "$outf"

# ---- physical floors (with no cluster running) ------------------------------------------
dir=$(mktemp -d /tmp/baton-bench.XXXXXX)
cdir=$dir/cluster
cluster() { "$repo/deploy/local-cluster.sh" "$@" --dir "$cdir"; }
cleanup() { cluster down >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap cleanup EXIT

etcd_results() { ls -1 "$anchor"/results/run-*.txt 2>/dev/null || true; }
phys=$BUILD/physical
phys_ok=0
if [ "$PHYS" = 1 ]; then
  mkdir -p "$phys"
  if [ -n "$anchor" ] && [ -f "$anchor/physical/fsync.c" ] && [ -f "$anchor/physical/pingpong.c" ] &&
    nice -n 19 cc -O2 -o "$phys/fsync" "$anchor/physical/fsync.c" 2>/dev/null &&
    nice -n 19 cc -O2 -o "$phys/pingpong" "$anchor/physical/pingpong.c" 2>/dev/null; then
    phys_ok=1
    # In /tmp, as the etcd anchor measures it; the clusters' data dirs live there too.
    "$phys/fsync" /tmp 3 | tee -a "$outf"
    "$phys/pingpong" 3 64 | tee -a "$outf"
  elif [ -n "$(etcd_results)" ]; then
    echo "# physical: floors not measured (no compiler or no anchor sources); etcd's from $(etcd_results | tail -1):" | tee -a "$outf"
    grep '^physical ' "$(etcd_results | tail -1)" | sed 's/^/# /' | tee -a "$outf"
  fi
fi
# The machine is shared and its disk is not always quiet: a short fsync check before each
# block, as '#' lines, shows what the block had to work with.
floor_check() {
  [ "$phys_ok" = 1 ] || return 0
  "$phys/fsync" /tmp 0.5 | sed -n "s/^physical fsync mode=\(overwrite\|prealloc\) dir=[^ ]* /# floor before $1: fsync \1 /p" |
    tee -a "$outf"
}

etcd_ok=0
if [ "$run_etcd" = 1 ]; then
  if [ -z "$anchor" ]; then
    echo "# etcd: not run: ../shared/anchors/etcd not found" | tee -a "$outf"
  elif ! command -v etcd >/dev/null || [ ! -x "$anchor/build/lockbench" ]; then
    echo "# etcd: not run: etcd or its lockbench is not installed (../shared/anchors/etcd/setup.sh installs them with apt-get)" | tee -a "$outf"
  else
    etcd_ok=1
  fi
fi

# ---- baton, then etcd, for each C ------------------------------------------------------------
# Interleaved so that both see the machine in the same state; each block starts a fresh
# cluster (etcd's run.sh wipes its data on start; baton gets a new data dir).
for c in $CS; do
  floor_check "baton C=$c"
  rm -rf "$cdir"
  # shellcheck disable=SC2086
  cluster up 3 ${BATOND_FLAGS:+-- $BATOND_FLAGS} >&2
  echo "# batond pids: $(cat "$cdir"/node*/batond.pid | tr '\n' ' ')" >&2
  "$lockbench" -c "$c" -d "$DUR" -warmup "$WARM" -threads "$THREADS" -endpoints "$(cluster endpoints)" \
    -test "$TESTS" | tee -a "$outf"
  cluster down >&2
  if [ "$etcd_ok" = 1 ]; then
    floor_check "etcd C=$c"
    DUR=$DUR WARM=$WARM CS=$c PHYS=0 "$anchor/run.sh" | sed -n '/^etcd /p; /^# etcd:/p' |
      tee -a "$outf" || echo "# etcd: its run.sh failed (stderr above)" | tee -a "$outf"
  fi
done

# etcd's rows: this run's, or else the newest anchor result that has each test and C.
etcd_from=$outf
if [ "$etcd_ok" = 0 ]; then
  etcd_from=$(etcd_results | tr '\n' ' ')
  [ -z "$etcd_from" ] || echo "# etcd: not run now; its rows below are the newest of $etcd_from" | tee -a "$outf"
fi

# ---- side by side ------------------------------------------------------------------------
# One row per baton line: the key figures of baton and of etcd's matching line (same test,
# same C). counter is set next to etcd's put only as the cheapest write of each.
if [ -n "$etcd_from" ]; then
  awk -v etcd="$etcd_from" '
    function kv(line, key,   n, f, i) {
      n = split(line, f, " ")
      for (i = 1; i <= n; i++) if (index(f[i], key "=") == 1) return substr(f[i], length(key) + 2)
      return "-"
    }
    BEGIN {
      nf = split(etcd, files, " ")  # oldest first: a newer file overrides
      for (i = 1; i <= nf; i++)
        while ((getline l < files[i]) > 0) if (l ~ /^etcd /) { split(l, f, " "); e[f[2] " " f[3]] = l }
      printf "# %-15s %-5s %12s %12s %10s %10s %10s %10s %7s\n", "test", "C", "baton_ops/s",
             "etcd_ops/s", "baton_p50", "etcd_p50", "baton_p99", "etcd_p99", "errors"
    }
    /^baton / {
      key = $2 " " $3; ek = ($2 == "counter") ? "put " $3 : key
      el = (ek in e) ? e[ek] : ""
      name = ($2 == "counter") ? "counter/put" : $2
      printf "# %-15s %-5s %12s %12s %10s %10s %10s %10s %7s\n", name, substr($3, 3),
             kv($0, "ops_per_s"), el == "" ? "-" : kv(el, "ops_per_s"), kv($0, "p50_ms"),
             el == "" ? "-" : kv(el, "p50_ms"), kv($0, "p99_ms"), el == "" ? "-" : kv(el, "p99_ms"),
             kv($0, "errors")
    }' "$outf" >"$dir/side-by-side"
  tee -a "$outf" <"$dir/side-by-side"
fi
load_note end | tee -a "$outf"
echo "# results saved to $outf" >&2
