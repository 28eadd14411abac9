# tests/integration/lib.sh: what every integration test sources. Real batond processes on
# shellcheck shell=bash
# loopback, one temp dir and one port range per test, waits by polling with deadlines.
#
# A test script does:   . "$(dirname "$0")/lib.sh"; it_begin NAME; ...; it_pass
# Environment: BATOND, BATONCTL (paths to the built binaries; ctest passes them),
# BATON_KEEP=1 keeps the temp dir of a failed test. Exit 77 means "skipped".
set -euo pipefail

it_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
it_repo=$(cd "$it_here/../.." && pwd)
LC=$it_repo/deploy/local-cluster.sh
BATOND=${BATOND:-$it_repo/build/batond}
BATONCTL=${BATONCTL:-$it_repo/build/batonctl}
export BATOND BATONCTL

log() { printf '%s %s\n' "$(date -u +%H:%M:%S.%3N)" "$*" >&2; }
fail() {
  log "FAIL: $*"
  exit 1
}
now_ms() { date +%s%3N; }

# ---- per-test setup and cleanup

# Kills (SIGKILL) every batond this test started: the ones in the cluster's pid files
# and the ones recorded in $IT_DIR/extra.pids, each only if /proc still shows it
# running from this test's dir.
it_kill_all() {
  local f pid cmdline
  for f in "$IT_DIR"/cluster/node*/batond.pid "$IT_DIR/extra.pids"; do
    [ -f "$f" ] || continue
    while read -r pid; do
      [[ "$pid" =~ ^[0-9]+$ ]] || continue
      cmdline=$({ tr '\0' '\n' <"/proc/$pid/cmdline"; } 2>/dev/null || true)
      if grep -qF -- "$IT_DIR/" <<<"$cmdline"; then
        kill -KILL "$pid" 2>/dev/null || true
      fi
    done <"$f"
  done
}

it_dump() {
  local f
  log "cluster status at failure:"
  "$BATONCTL" --endpoints "$(cluster_endpoints)" --timeout 1000 cluster status >&2 || true
  for f in "$IT_DIR"/cluster/node*/batond.log "$IT_DIR"/*.log; do
    [ -f "$f" ] || continue
    echo "---- $f (last 30 lines)" >&2
    tail -n 30 "$f" >&2
  done
}

it_cleanup() {
  local rc=$?
  set +e
  [ "$rc" -eq 0 ] || [ "$rc" -eq 77 ] || it_dump
  it_kill_all
  if [ "$rc" -ne 0 ] && [ "${BATON_KEEP:-0}" = 1 ]; then
    log "kept $IT_DIR"
  else
    rm -rf "$IT_DIR"
  fi
  exit "$rc"
}

# A port base no other test is likely to use: derived from the test name, moved on
# while any of its ports (BASE+1..9 for clients, BASE+101..109 for peers) is taken.
# Kept below 32768, under Linux's default ephemeral range.
it_pick_port_base() {
  local h base try k ports
  h=$(printf '%s' "$1" | cksum | cut -d' ' -f1)
  base=$((10000 + (h % 110) * 200))
  for ((try = 0; try < 110; try++)); do
    ports=()
    for ((k = 1; k <= 9; k++)); do ports+=($((base + k)) $((base + 100 + k))); done
    if "$PY" "$it_here/ports_free.py" "${ports[@]}"; then
      echo "$base"
      return 0
    fi
    base=$((base + 200))
    [ "$base" -lt 32000 ] || base=10000
  done
  fail "no free port range found"
}

it_begin() {
  IT_NAME=$1
  command -v python3 >/dev/null || { echo "SKIP: python3 is needed (scripts/deps.sh)"; exit 77; }
  # The interpreter itself, not a wrapper (pyenv shims cost ~0.3 s per call).
  PY=$(python3 -c 'import sys; print(sys.executable)')
  [ -x "$BATOND" ] || { echo "SKIP: no batond at $BATOND"; exit 77; }
  [ -x "$BATONCTL" ] || { echo "SKIP: no batonctl at $BATONCTL"; exit 77; }
  IT_DIR=$(mktemp -d "${TMPDIR:-/tmp}/baton-it-$IT_NAME.XXXXXX")
  trap it_cleanup EXIT
  trap 'exit 130' INT TERM
  BATON_PORT_BASE=$(it_pick_port_base "$IT_NAME")
  export BATON_PORT_BASE BATON_CLUSTER_DIR=$IT_DIR/cluster
  log "$IT_NAME: dir $IT_DIR, port base $BATON_PORT_BASE"
}

it_pass() {
  log "PASS: $IT_NAME"
  exit 0
}

# ---- waiting

# wait_until DEADLINE_S CMD...: runs CMD every 100 ms until it succeeds; fails the
# test if DEADLINE_S seconds pass first.
wait_until() {
  local secs=$1 start
  shift
  start=$(now_ms)
  until "$@" >/dev/null; do
    if [ $(($(now_ms) - start)) -ge $((secs * 1000)) ]; then
      fail "timed out after ${secs}s waiting for: $*"
    fi
    sleep 0.1
  done
}

# ---- the cluster (deploy/local-cluster.sh in this test's dir and ports)

lc() { "$LC" "$@"; }
cluster_endpoints() { "$LC" endpoints 2>/dev/null || echo 127.0.0.1:1; }
node_endpoint() { echo "127.0.0.1:$((BATON_PORT_BASE + $1))"; }
node_pid() { cat "$BATON_CLUSTER_DIR/node$1/batond.pid"; }
node_args_file() { echo "$BATON_CLUSTER_DIR/node$1/args"; }

# Every node's status as JSON (unreachable nodes included, marked so).
status_json() {
  "$BATONCTL" --endpoints "${1:-$(cluster_endpoints)}" --timeout 1000 --json cluster status \
    2>/dev/null || true
}

q() { status_json | "$PY" "$it_here/status.py" "$@"; }

# Id of the node that says it leads; empty (and status 1) when none does.
leader_id() { q leader; }
cluster_agrees() { q agree "$1"; }
# node_get K FIELD: FIELD as node K reports it (asks node K only).
node_get() { status_json "$(node_endpoint "$1")" | "$PY" "$it_here/status.py" get "$1" "$2"; }
node_term() { node_get "$1" term; }
node_role() { node_get "$1" role; }
node_commit() { node_get "$1" commit; }
node_answers() { node_get "$1" id >/dev/null; }

# True when a leader other than $1 leads at a term above $2.
new_leader_above() {
  local l t
  l=$(leader_id) || return 1
  [ "$l" != "$1" ] || return 1
  t=$(node_term "$l") || return 1
  [ "$t" -gt "$2" ]
}

# True when node $1 follows the current leader and its commit index has reached the
# leader's (both read from one status round).
caught_up() {
  local doc l lc_ fc fl
  doc=$(status_json)
  l=$("$PY" "$it_here/status.py" leader <<<"$doc") || return 1
  [ "$l" != "$1" ] || return 1
  lc_=$("$PY" "$it_here/status.py" get "$l" commit <<<"$doc") || return 1
  fc=$("$PY" "$it_here/status.py" get "$1" commit <<<"$doc") || return 1
  fl=$("$PY" "$it_here/status.py" get "$1" leader <<<"$doc") || return 1
  [ "$fl" = "$l" ] && [ "$fc" -ge "$lc_" ]
}

# True when node $1 answers and suspects none of its peers (cluster health).
trusts_all() {
  local doc s
  doc=$("$BATONCTL" --endpoints "$(node_endpoint "$1")" --timeout 1000 --json cluster health \
    2>/dev/null) || return 1
  s=$("$PY" "$it_here/status.py" suspects "$1" <<<"$doc") || return 1
  [ -z "$s" ]
}

# True while process $1 runs or is stopped; a zombie (exited, not yet reaped by
# whoever inherited it) does not count.
pid_alive() {
  local st
  st=$(sed -n 's/^[0-9]* (.*) \([A-Za-z]\) .*/\1/p' "/proc/$1/stat" 2>/dev/null || true)
  [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# Records pid $1 of a batond a test started by hand, for cleanup.
track_pid() { echo "$1" >>"$IT_DIR/extra.pids"; }
