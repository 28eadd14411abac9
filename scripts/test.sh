#!/usr/bin/env bash
# The README's test command: install what is missing, build, run the whole suite —
# once in a normal build (build/) and once under AddressSanitizer + UBSan
# (build-asan/).
#   scripts/test.sh                   both builds
#   BATON_SANITIZE=0 scripts/test.sh  the normal build only
#   BATON_SANITIZE=1 scripts/test.sh  the sanitizer build only
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
jobs=$(nproc 2>/dev/null || echo 2)

run_suite() { # DIR SANITIZE
  local dir=$1 sanitize=$2
  echo "== $dir (BATON_SANITIZE=$sanitize) =="
  cmake -S . -B "$dir" -DBATON_SANITIZE="$sanitize" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$dir" -j "$jobs"
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
  UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    ctest --test-dir "$dir" --output-on-failure -j "$jobs"
}

case "${BATON_SANITIZE:-both}" in
  0) run_suite build OFF ;;
  1) run_suite build-asan ON ;;
  *) run_suite build OFF; run_suite build-asan ON ;;
esac
