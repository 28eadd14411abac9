#!/usr/bin/env bash
# deploy/local-cluster.sh: a cluster of real batond processes on 127.0.0.1 (DESIGN.md,
# "External contract"). Processes are tracked only through the pid files this script
# writes, and a pid is signalled only while /proc says it is still the batond started
# on that node's data dir.
#
#   up N [--dir DIR] [-- BATOND FLAGS...]   start N nodes (1..9, normally 3 or 5) and return
#                                           once a leader is elected; on a DIR that already
#                                           holds a cluster, restart its nodes on their data
#   endpoints                               print the client endpoints, comma-separated
#   kill K | stop K                         SIGKILL | SIGTERM (and wait for exit) node K
#   start K                                 restart node K on its data, with its flags from up
#   pause K | resume K                      SIGSTOP | SIGCONT node K
#   status                                  one line per node: id, pid, alive, role, term
#   down                                    stop every node it started (by pid file only)
#
# Every command takes --dir DIR (default $BATON_CLUSTER_DIR, else ./.cluster).
# Environment: BATOND, BATONCTL (default <repo>/build/batond, <repo>/build/batonctl);
# BATON_PORT_BASE (default 7100: node K serves clients on BASE+K, peers on BASE+100+K);
# BATON_UP_TIMEOUT (seconds to wait for a leader, default 15);
# BATON_STOP_TIMEOUT (seconds to wait for a stopped node to exit, default 10).
# Exit status: 0 success, 1 failure (with the reason, and log tails where useful),
# 2 usage error.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BATOND=${BATOND:-$repo/build/batond}
BATONCTL=${BATONCTL:-$repo/build/batonctl}
prog=$(basename "$0")

die() { echo "$prog: $*" >&2; exit 1; }
usage() {
  cat >&2 <<EOF
usage: $prog up N [--dir DIR] [-- BATOND FLAGS...]
       $prog endpoints | status | down  [--dir DIR]
       $prog kill K | stop K | start K | pause K | resume K  [--dir DIR]
DIR defaults to \$BATON_CLUSTER_DIR, else ./.cluster; more at the head of $0.
EOF
  exit 2
}

# ---- state: DIR/cluster.env, and per node DIR/nodeK/{args,batond.pid,batond.log,data}

node_dir() { echo "$dir/node$1"; }
pid_file() { echo "$dir/node$1/batond.pid"; }
log_file() { echo "$dir/node$1/batond.log"; }
data_dir() { echo "$dir/node$1/data"; }

load_state() {
  [ -f "$dir/cluster.env" ] || die "no cluster in $dir (run: $prog up N --dir $dir)"
  # shellcheck disable=SC1091
  . "$dir/cluster.env"
  [[ "${nodes:-}" =~ ^[1-9]$ ]] || die "$dir/cluster.env is damaged (nodes='${nodes:-}')"
}

check_node_arg() {
  [[ "${1:-}" =~ ^[1-9]$ ]] || { echo "$prog: node id wanted, got '${1:-}'" >&2; usage; }
  [ "$1" -le "$nodes" ] || die "no node $1 in $dir (the cluster has $nodes)"
}

# The state letter of a process (R, S, T, Z, ...), empty if there is no such process.
proc_state() {
  sed -n 's/^[0-9]* (.*) \([A-Za-z]\) .*/\1/p' "/proc/$1/stat" 2>/dev/null || true
}

# The pid in node K's pid file if that process is alive (running or stopped, not a
# zombie) and is the batond we started on node K's data dir; empty otherwise.
node_pid() {
  local f pid state cmdline
  f=$(pid_file "$1")
  [ -f "$f" ] || return 0
  pid=$(cat "$f" 2>/dev/null || true)
  [[ "$pid" =~ ^[0-9]+$ ]] || return 0
  state=$(proc_state "$pid")
  [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ] || return 0
  cmdline=$({ tr '\0' '\n' <"/proc/$pid/cmdline"; } 2>/dev/null || true)
  grep -qxF -- "$(data_dir "$1")" <<<"$cmdline" || return 0
  echo "$pid"
}

endpoint_of() { echo "127.0.0.1:$((port_base + $1))"; }

all_endpoints() {
  local k out=""
  for ((k = 1; k <= nodes; k++)); do out+="${out:+,}$(endpoint_of "$k")"; done
  echo "$out"
}

# Waits up to $2 seconds for node $1's process to be gone; 0 if it is.
wait_gone() {
  local k=$1 deadline=$((SECONDS + $2))
  while [ -n "$(node_pid "$k")" ]; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.05
  done
}

# ---- starting

# Writes DIR/nodeK/args (one argument per line) for every node of a new cluster.
write_state() {
  local n=$1 k j initial=""
  shift
  for ((j = 1; j <= n; j++)); do
    initial+="${initial:+,}$j=127.0.0.1:$((port_base + 100 + j))/127.0.0.1:$((port_base + j))"
  done
  for ((k = 1; k <= n; k++)); do
    mkdir -p "$(node_dir "$k")"
    printf '%s\n' --id "$k" --data-dir "$(data_dir "$k")" \
      --listen-peer "127.0.0.1:$((port_base + 100 + k))" \
      --listen-client "127.0.0.1:$((port_base + k))" \
      --initial-cluster "$initial" "$@" >"$(node_dir "$k")/args"
  done
  printf 'nodes=%s\nport_base=%s\n' "$n" "$port_base" >"$dir/cluster.env"
}

start_node() {
  local k=$1 pid args=()
  pid=$(node_pid "$k")
  if [ -n "$pid" ]; then
    echo "node $k already running (pid $pid)"
    return 0
  fi
  [ -x "$BATOND" ] || die "batond not found at $BATOND (build it, or set BATOND)"
  mapfile -t args <"$(node_dir "$k")/args"
  echo "---- $(date -u +%Y-%m-%dT%H:%M:%SZ) $prog: starting node $k" >>"$(log_file "$k")"
  "$BATOND" "${args[@]}" </dev/null >>"$(log_file "$k")" 2>&1 &
  echo $! >"$(pid_file "$k")"
}

log_tails() {
  local k
  for ((k = 1; k <= nodes; k++)); do
    echo "---- node $k: $(log_file "$k") (last 15 lines)" >&2
    tail -n 15 "$(log_file "$k")" >&2 2>/dev/null || true
  done
}

# True when some node says it is the leader.
have_leader() {
  "$BATONCTL" --endpoints "$(all_endpoints)" --timeout 1000 --json cluster status 2>/dev/null |
    grep -q '"role":"leader"'
}

wait_for_leader() {
  local deadline=$((SECONDS + ${BATON_UP_TIMEOUT:-15})) k
  [ -x "$BATONCTL" ] || die "batonctl not found at $BATONCTL (build it, or set BATONCTL)"
  until have_leader; do
    for ((k = 1; k <= nodes; k++)); do
      if [ -z "$(node_pid "$k")" ]; then
        echo "$prog: node $k exited during startup" >&2
        log_tails
        exit 1
      fi
    done
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "$prog: no leader elected within ${BATON_UP_TIMEOUT:-15}s" >&2
      "$BATONCTL" --endpoints "$(all_endpoints)" --timeout 1000 cluster status >&2 || true
      log_tails
      exit 1
    fi
    sleep 0.1
  done
}

cmd_up() {
  local n=${1:-}
  [[ "$n" =~ ^[1-9]$ ]] || { echo "$prog: up wants a node count (3 or 5), got '$n'" >&2; usage; }
  shift
  port_base=${BATON_PORT_BASE:-7100}
  if ! [[ "$port_base" =~ ^[0-9]+$ ]] || [ "$port_base" -lt 1 ] ||
    [ $((port_base + 109)) -gt 65535 ]; then
    die "BATON_PORT_BASE must be a port number with room for +109, got '$port_base'"
  fi
  mkdir -p "$dir"
  if [ -f "$dir/cluster.env" ]; then
    load_state
    [ "$nodes" = "$n" ] || die "$dir holds a $nodes-node cluster, not $n (use another --dir)"
    [ $# -eq 0 ] || die "$dir holds a cluster already: its nodes restart with their saved flags"
    echo "restarting the $nodes-node cluster in $dir on its data"
  else
    write_state "$n" "$@"
    nodes=$n
  fi
  local k
  for ((k = 1; k <= nodes; k++)); do start_node "$k"; done
  wait_for_leader
  echo "cluster up: $nodes nodes, endpoints $(all_endpoints), state in $dir"
}

# ---- signalling

cmd_kill() {
  local k=$1 pid
  pid=$(node_pid "$k")
  [ -n "$pid" ] || die "node $k is not running"
  kill -KILL "$pid"
  wait_gone "$k" 5 || die "node $k (pid $pid) survived SIGKILL for 5s"
  rm -f "$(pid_file "$k")"
}

# SIGTERM to a pid, continuing it first if it is paused. Never SIGCONT after SIGTERM:
# SIGCONT discards a pending SIGSTOP, including the one ptrace(PTRACE_ATTACH) sends, and
# an ASan build's LeakSanitizer attaches to the process as it exits — a late SIGCONT
# leaves that exit waiting forever for a stop that never comes.
term_pid() {
  local pid=$1 state
  state=$(proc_state "$pid")
  if [ "$state" = T ]; then
    kill -CONT "$pid" 2>/dev/null || true
  fi
  kill -TERM "$pid" 2>/dev/null || true
}

# What a process that does not exit is doing: its threads' states and kernel wait
# channels, its tracer (at exit in an ASan build: LeakSanitizer), gdb stacks if gdb is there.
diagnose_pid() {
  local pid=$1 t
  echo "pid $pid state $(proc_state "$pid") $(grep -s '^TracerPid:' "/proc/$pid/status" | tr -s '\t' ' ')"
  for t in /proc/"$pid"/task/*; do
    [ -d "$t" ] || continue
    echo "  thread ${t##*/} state $(proc_state "$pid/task/${t##*/}") wchan $(cat "$t/wchan" 2>/dev/null)"
  done
  if command -v gdb >/dev/null; then
    timeout 30 gdb -p "$pid" -batch -ex "thread apply all bt" </dev/null 2>&1 |
      grep -E '^(#|Thread|warning: process)' || true
  fi
}

# SIGTERM and wait; a stopped (paused) process is continued so that it can exit.
stop_node() {
  local k=$1 pid
  pid=$(node_pid "$k")
  [ -n "$pid" ] || return 0
  term_pid "$pid"
  if ! wait_gone "$k" "${BATON_STOP_TIMEOUT:-10}"; then
    echo "$prog: node $k (pid $pid) did not exit within ${BATON_STOP_TIMEOUT:-10}s of SIGTERM" >&2
    diagnose_pid "$pid" >&2
    return 1
  fi
  rm -f "$(pid_file "$k")"
}

cmd_stop() {
  [ -n "$(node_pid "$1")" ] || die "node $1 is not running"
  stop_node "$1"
}

cmd_signal() {
  local k=$1 sig=$2 pid
  pid=$(node_pid "$k")
  [ -n "$pid" ] || die "node $k is not running"
  kill "-$sig" "$pid"
}

# Returns once node K answers on its client port; fails with its log tail if it exits.
cmd_start() {
  local k=$1 deadline=$((SECONDS + ${BATON_UP_TIMEOUT:-15}))
  start_node "$k"
  [ -x "$BATONCTL" ] || die "batonctl not found at $BATONCTL (build it, or set BATONCTL)"
  until "$BATONCTL" --endpoints "$(endpoint_of "$k")" --timeout 500 cluster status >/dev/null 2>&1; do
    if [ -z "$(node_pid "$k")" ]; then
      echo "$prog: node $k exited; the end of $(log_file "$k"):" >&2
      tail -n 15 "$(log_file "$k")" >&2
      exit 1
    fi
    [ "$SECONDS" -lt "$deadline" ] || die "node $k does not answer on $(endpoint_of "$k")"
    sleep 0.05
  done
}

# Nodes that ignore SIGTERM past the deadline get SIGKILL: down must leave nothing.
cmd_down() {
  local k pid rc=0
  for ((k = 1; k <= nodes; k++)); do
    pid=$(node_pid "$k")
    [ -z "$pid" ] || term_pid "$pid"
  done
  for ((k = 1; k <= nodes; k++)); do
    pid=$(node_pid "$k")
    [ -n "$pid" ] || { rm -f "$(pid_file "$k")"; continue; }
    if ! wait_gone "$k" "${BATON_STOP_TIMEOUT:-10}"; then
      echo "$prog: node $k (pid $pid) ignored SIGTERM; sending SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
      wait_gone "$k" 5 || rc=1
    fi
    [ -n "$(node_pid "$k")" ] || rm -f "$(pid_file "$k")"
  done
  return $rc
}

# ---- reporting

# "role term" of node K as it reports them, "unreachable -" if it does not answer.
node_role_term() {
  local out role term
  out=$("$BATONCTL" --endpoints "$(endpoint_of "$1")" --timeout 1000 --json cluster status \
    2>/dev/null || true)
  role=$(printf '%s' "$out" | sed -n 's/.*"role":"\([a-z]*\)".*/\1/p')
  term=$(printf '%s' "$out" | sed -n 's/.*"term":\([0-9]*\).*/\1/p')
  echo "${role:-unreachable} ${term:--}"
}

cmd_status() {
  local k pid state rt
  for ((k = 1; k <= nodes; k++)); do
    pid=$(node_pid "$k")
    if [ -z "$pid" ]; then
      echo "id=$k pid=- alive=no role=- term=-"
      continue
    fi
    state=$(proc_state "$pid")
    if [ "$state" = T ]; then
      echo "id=$k pid=$pid alive=yes role=paused term=-"
      continue
    fi
    rt=$(node_role_term "$k")
    echo "id=$k pid=$pid alive=yes role=${rt% *} term=${rt#* }"
  done
}

# ---- main

dir=${BATON_CLUSTER_DIR:-./.cluster}
args=()
while [ $# -gt 0 ]; do
  case $1 in
    --dir) [ $# -ge 2 ] || usage; dir=$2; shift 2 ;;
    --dir=*) dir=${1#--dir=}; shift ;;
    --) args+=("$@"); break ;;
    -h | --help | help) usage ;;
    *) args+=("$1"); shift ;;
  esac
done
[ ${#args[@]} -gt 0 ] || usage
set -- "${args[@]}"
cmd=$1
shift
case $cmd in
  up | endpoints | kill | stop | start | pause | resume | status | down) ;;
  *) echo "$prog: unknown command '$cmd'" >&2; usage ;;
esac
if [ "$cmd" = up ]; then
  mkdir -p "$dir"
fi
[ -d "$dir" ] || die "no cluster in $dir (run: $prog up N --dir $dir)"
dir=$(cd "$dir" && pwd)

case $cmd in
  up)
    n=${1:-}
    [ $# -gt 0 ] && shift
    [ "${1:-}" != -- ] || shift
    cmd_up "$n" "$@"
    ;;
  endpoints) [ $# -eq 0 ] || usage; load_state; all_endpoints ;;
  kill | stop | start | pause | resume)
    [ $# -eq 1 ] || usage
    load_state
    check_node_arg "$1"
    case $cmd in
      kill) cmd_kill "$1" ;;
      stop) cmd_stop "$1" ;;
      start) cmd_start "$1" ;;
      pause) cmd_signal "$1" STOP ;;
      resume) cmd_signal "$1" CONT ;;
    esac
    ;;
  status) [ $# -eq 0 ] || usage; load_state; cmd_status ;;
  down) [ $# -eq 0 ] || usage; load_state; cmd_down ;;
  *) echo "$prog: unknown command '$cmd'" >&2; usage ;;
esac
