#!/usr/bin/env bash
# bench/run.sh: baton next to etcd on this machine — the physical floors, then every
# lockbench workload (bench/lockbench.c, the same workloads and result lines as
# ../shared/anchors/etcd/lockbench.go) against a local 3-node baton cluster at C=16
# and C=64, then the same rows from etcd's newest anchor results for comparison.
#
#   bench/run.sh [--etcd] [--no-build]
#   DUR=5s CS="16" TESTS=lock,counter bench/run.sh
#
#   --etcd      also run ../shared/anchors/etcd/run.sh (after baton's cluster is down)
#               when etcd and its lockbench are installed (../shared/anchors/etcd/setup.sh
#               installs them), and compare against that run
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
cluster() { "$repo/deploy/local-cluster.sh" "$@" --dir "$dir"; }
cleanup() { cluster down >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap cleanup EXIT

newest_etcd() { ls -1 "$anchor"/results/run-*.txt 2>/dev/null | tail -1; }
if [ "$PHYS" = 1 ]; then
  phys=$BUILD/physical
  mkdir -p "$phys"
  if [ -n "$anchor" ] && [ -f "$anchor/physical/fsync.c" ] && [ -f "$anchor/physical/pingpong.c" ] &&
    nice -n 19 cc -O2 -o "$phys/fsync" "$anchor/physical/fsync.c" 2>/dev/null &&
    nice -n 19 cc -O2 -o "$phys/pingpong" "$anchor/physical/pingpong.c" 2>/dev/null; then
    # In /tmp, as the etcd anchor measures it; the cluster's data dirs live there too.
    "$phys/fsync" /tmp 3 | tee -a "$outf"
    "$phys/pingpong" 3 64 | tee -a "$outf"
  elif [ -n "$(newest_etcd)" ]; then
    echo "# physical: floors not measured (no compiler or no anchor sources); etcd's from $(newest_etcd):" | tee -a "$outf"
    grep '^physical ' "$(newest_etcd)" | sed 's/^/# /' | tee -a "$outf"
  fi
fi

# ---- baton ----------------------------------------------------------------------------
# shellcheck disable=SC2086
cluster up 3 ${BATOND_FLAGS:+-- $BATOND_FLAGS} >&2
eps=$(cluster endpoints)
echo "# batond pids: $(cat "$dir"/node*/batond.pid | tr '\n' ' ')" >&2
for c in $CS; do
  "$lockbench" -c "$c" -d "$DUR" -warmup "$WARM" -threads "$THREADS" -endpoints "$eps" \
    -test "$TESTS" | tee -a "$outf"
done
cluster down >&2

# ---- etcd -------------------------------------------------------------------------------
etcd_file=""
if [ "$run_etcd" = 1 ]; then
  if [ -z "$anchor" ]; then
    echo "# etcd: not run: ../shared/anchors/etcd not found" | tee -a "$outf"
  elif ! command -v etcd >/dev/null || [ ! -x "$anchor/build/lockbench" ]; then
    echo "# etcd: not run: etcd or its lockbench is not installed (../shared/anchors/etcd/setup.sh installs them with apt-get)" | tee -a "$outf"
  else
    before=$(newest_etcd)
    DUR=$DUR WARM=$WARM CS=$CS PHYS=0 "$anchor/run.sh" | sed -n '/^etcd /p; /^# etcd:/p' |
      tee -a "$outf" || echo "# etcd: its run.sh failed (stderr above)" | tee -a "$outf"
    etcd_file=$(newest_etcd)
    [ "$etcd_file" != "$before" ] || etcd_file=""
  fi
fi
if [ -z "$etcd_file" ]; then
  etcd_file=$(newest_etcd)
  [ -z "$etcd_file" ] || echo "# etcd: not run now; its rows below are from $etcd_file" | tee -a "$outf"
fi

# ---- side by side ------------------------------------------------------------------------
# One row per baton line: the key figures of baton and of etcd's matching line (same test,
# same C). counter is set next to etcd's put only as the cheapest write of each.
if [ -n "$etcd_file" ]; then
  awk -v etcd="$etcd_file" '
    function kv(line, key,   n, f, i) {
      n = split(line, f, " ")
      for (i = 1; i <= n; i++) if (index(f[i], key "=") == 1) return substr(f[i], length(key) + 2)
      return "-"
    }
    BEGIN {
      while ((getline l < etcd) > 0) if (l ~ /^etcd /) { split(l, f, " "); e[f[2] " " f[3]] = l }
      printf "# %-15s %-5s %12s %12s %10s %10s %10s %10s %7s\n", "test", "C", "baton_ops/s",
             "etcd_ops/s", "baton_p50", "etcd_p50", "baton_p99", "etcd_p99", "errors"
    }
    /^baton / {
      key = $2 " " $3; ek = ($2 == "counter") ? "put " $3 : key
      el = (ek in e) ? e[ek] : ""
      name = ($2 == "counter") ? "counter|put" : $2
      printf "# %-15s %-5s %12s %12s %10s %10s %10s %10s %7s\n", name, substr($3, 3),
             kv($0, "ops_per_s"), el == "" ? "-" : kv(el, "ops_per_s"), kv($0, "p50_ms"),
             el == "" ? "-" : kv(el, "p50_ms"), kv($0, "p99_ms"), el == "" ? "-" : kv(el, "p99_ms"),
             kv($0, "errors")
    }' "$outf" >"$dir/side-by-side"
  tee -a "$outf" <"$dir/side-by-side"
fi
load_note end | tee -a "$outf"
echo "# results saved to $outf" >&2
