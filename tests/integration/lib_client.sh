# tests/integration/lib_client.sh: helpers of the lease, lock and counter tests, sourced
# shellcheck shell=bash
# after lib.sh. IT_BATON is the path of it_baton (ctest passes it).

IT_BATON=${IT_BATON:-$it_repo/build/tests/integration/it_baton}
export IT_BATON

# Skips the test (77) when it_baton was not built.
need_it_baton() { [ -x "$IT_BATON" ] || { echo "SKIP: no it_baton at $IT_BATON"; exit 77; }; }

# batonctl on every node of this test's cluster.
ctl() { "$BATONCTL" --endpoints "$(cluster_endpoints)" "$@"; }
# batonctl on node K alone: ctl_at K ARGS...
ctl_at() {
  local k=$1
  shift
  "$BATONCTL" --endpoints "$(node_endpoint "$k")" "$@"
}

# expect_rc RC CMD...: CMD exits with RC (its output goes to the test's log).
expect_rc() {
  local want=$1 rc=0
  shift
  "$@" >"$IT_DIR/last.out" 2>"$IT_DIR/last.err" || rc=$?
  if [ "$rc" -ne "$want" ]; then
    cat "$IT_DIR/last.out" "$IT_DIR/last.err" >&2
    fail "expected exit $want, got $rc: $*"
  fi
}

# kv KEY LINE: the value of KEY=VALUE in LINE (empty if absent).
kv() { sed -n "s/^\(.* \)\{0,1\}$1=\([^ ]*\).*/\2/p" <<<"$2"; }

# A decimal number, or the test fails saying what was expected.
want_num() {
  [[ "$2" =~ ^[0-9]+$ ]] || fail "$1: expected a number, got '$2'"
  echo "$2"
}

# Fields of `lock inspect NAME` (text): held lease token waiters.
inspect() { ctl --timeout 2000 lock inspect "$1"; }
waiters_are() { [ "$(kv waiters "$(inspect "$1")")" = "$2" ]; }
holder_is() { [ "$(kv lease "$(inspect "$1")")" = "$2" ]; }
lock_free() { [ "$(kv held "$(inspect "$1")")" = false ]; }

# Pauses (SIGSTOP) / resumes the nodes given.
pause_nodes() { local k; for k in "$@"; do lc pause "$k" >/dev/null; done; }
resume_nodes() { local k; for k in "$@"; do lc resume "$k" >/dev/null; done; }

# Kills the leader (SIGKILL) and waits for a new one at a higher term; sets KILLED to
# the old leader's id (not in a subshell: a failed wait must end the test).
kill_leader() {
  local term
  KILLED=$(leader_id) || fail "no leader to kill"
  term=$(node_term "$KILLED")
  lc kill "$KILLED" >/dev/null
  log "killed leader $KILLED (term $term)"
  wait_until 15 new_leader_above "$KILLED" "$term"
}
