#!/usr/bin/env bash
# Builds and runs baton's libFuzzer targets (tests/fuzz/README.md).
#   run.sh build DIR              configure DIR with clang and -DBATON_FUZZ=ON, build the targets
#   run.sh run DIR TARGET         fuzz TARGET for a fixed number of executions from the seed corpus
#   run.sh replay DIR TARGET      run TARGET once on every seed and every regression input
#   run.sh long TARGET [SECONDS]  fuzz by hand: all cores, a corpus kept in build-fuzz/work
#   run.sh corpus DIR             regenerate tests/fuzz/corpus with fuzz_gen_corpus
# Exits 77 (skipped) when clang or its libFuzzer runtime is missing.
# FUZZ_RUNS overrides the executions of "run", FUZZ_SECONDS caps its time, FUZZ_SEED
# its seed (1 by default; 0: libFuzzer picks one).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
targets=(fuzz_frame_peer fuzz_frame_client fuzz_store_open)

usage() {
  sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

# Executions per target in "run": 10 to 15 s each on one core of the 2-core
# machine they were measured on (README.md), at most FUZZ_SECONDS (30).
default_runs() {
  case $1 in
    fuzz_frame_peer) echo 100000 ;;
    fuzz_frame_client) echo 80000 ;;
    fuzz_store_open) echo 20000 ;; # every input goes through store_open: ~1.5-2k/s
    *) echo "unknown target: $1" >&2; exit 2 ;;
  esac
}

have_libfuzzer() {
  command -v clang >/dev/null 2>&1 || { echo "clang not found (scripts/deps.sh installs it)"; return 1; }
  local tmp rc=0
  tmp=$(mktemp -d)
  printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);' \
    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { return (int)(d && n > 99); }' \
    >"$tmp/t.c"
  if ! clang -fsanitize=fuzzer,address,undefined "$tmp/t.c" -o "$tmp/t" >"$tmp/log" 2>&1; then
    echo "clang cannot link libFuzzer (package libclang-rt-dev; scripts/deps.sh installs it):"
    sed 's/^/  /' "$tmp/log" | head -5
    rc=1
  fi
  rm -rf "$tmp"
  return $rc
}

build() { # DIR
  local dir=$1
  if ! have_libfuzzer; then
    exit 77
  fi
  if [ ! -f "$dir/CMakeCache.txt" ]; then
    CC=clang cmake -S "$root" -B "$dir" -DCMAKE_C_COMPILER=clang -DBATON_FUZZ=ON \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  fi
  cmake --build "$dir" -j "$(nproc 2>/dev/null || echo 2)" \
    --target "${targets[@]}" fuzz_gen_corpus
}

binary() { # DIR TARGET
  local bin=$1/tests/fuzz/$2
  if [ ! -x "$bin" ]; then
    if ! have_libfuzzer >/dev/null; then
      echo "$2: not built and clang cannot build it; skipped" >&2
      exit 77
    fi
    echo "$bin is not built (run.sh build $1)" >&2
    exit 1
  fi
  echo "$bin"
}

check_target() {
  local t
  for t in "${targets[@]}"; do [ "$t" = "$1" ] && return 0; done
  echo "unknown target: $1 (one of: ${targets[*]})" >&2
  exit 2
}

report_crash() { # TARGET ARTIFACT_DIR BIN
  local f
  for f in "$2"/crash-* "$2"/leak-* "$2"/timeout-* "$2"/oom-*; do
    [ -e "$f" ] || continue
    echo "== $1 failed on $f"
    echo "   reproduce:  $3 $f"
    echo "   once fixed, keep it:  cp $f $here/regressions/$1/"
  done
}

run() { # DIR TARGET
  local dir=$1 t=$2 bin work art runs secs rc=0
  check_target "$t"
  bin=$(binary "$dir" "$t")
  work=$dir/fuzz-work/$t
  art=$dir/fuzz-artifacts/$t
  rm -rf "$work" "$art"
  mkdir -p "$work" "$art"
  runs=${FUZZ_RUNS:-$(default_runs "$t")}
  secs=${FUZZ_SECONDS:-30}
  # A fixed seed by default, so a CI failure replays the same way (FUZZ_SEED=0:
  # libFuzzer picks one).
  local seed=${FUZZ_SEED:-1}
  echo "$t: $runs executions (at most $secs s, seed $seed) from $here/corpus/$t"
  # New inputs go to the scratch corpus (first directory), never to the seeds.
  "$bin" -seed="$seed" -runs="$runs" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$art/" "$work" "$here/corpus/$t" \
    >"$art/log" 2>&1 || rc=$?
  grep -E '^#[0-9]+ +(INITED|DONE)|^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)|^Done' \
    "$art/log" || true
  if [ $rc -ne 0 ]; then
    tail -n 60 "$art/log"
    report_crash "$t" "$art" "$bin"
    echo "$t: FAILED (log: $art/log)"
    return 1
  fi
  echo "$t: ok"
}

replay() { # DIR TARGET
  local dir=$1 t=$2 bin
  check_target "$t"
  bin=$(binary "$dir" "$t")
  local files=()
  while IFS= read -r -d '' f; do files+=("$f"); done < <(
    find "$here/corpus/$t" "$here/regressions/$t" -type f ! -name 'README*' -print0 2>/dev/null |
      sort -z)
  echo "$t: replaying ${#files[@]} inputs"
  [ ${#files[@]} -eq 0 ] || "$bin" -timeout=10 "${files[@]}"
}

long() { # TARGET [SECONDS]
  local t=$1 secs=${2:-600} dir=$root/build-fuzz jobs bin
  check_target "$t"
  build "$dir"
  jobs=$(nproc 2>/dev/null || echo 2)
  mkdir -p "$dir/work/$t" "$dir/artifacts/$t"
  echo "$t: $secs s on $jobs workers; corpus kept in $dir/work/$t, crashes and the workers'"
  echo "  logs (fuzz-N.log) in $dir/artifacts/$t"
  bin=$(binary "$dir" "$t")
  (cd "$dir/artifacts/$t" &&
    "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
      -jobs="$jobs" -workers="$jobs" -print_final_stats=1 \
      -artifact_prefix="$dir/artifacts/$t/" "$dir/work/$t" "$here/corpus/$t")
}

corpus() { # DIR
  local gen
  gen=$1/tests/fuzz/fuzz_gen_corpus
  [ -x "$gen" ] || build "$1"
  rm -rf "$here/corpus"
  "$gen" "$here/corpus"
  find "$here/corpus" -type f | sort | sed "s|^$root/||"
}

[ $# -ge 1 ] || usage
cmd=$1
shift
case $cmd in
  build) [ $# -eq 1 ] || usage; build "$1" ;;
  run) [ $# -eq 2 ] || usage; run "$1" "$2" ;;
  replay) [ $# -eq 2 ] || usage; replay "$1" "$2" ;;
  long) [ $# -ge 1 ] || usage; long "$@" ;;
  corpus) [ $# -eq 1 ] || usage; corpus "$1" ;;
  *) usage ;;
esac
