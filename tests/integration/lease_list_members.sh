#!/usr/bin/env bash
# shellcheck disable=SC2317  # helper functions run through wait_until
# batonctl lease list and cluster members: linearizable reads served by the leader
# (any node redirects there), their lines and --json, usage errors (2) and no
# cluster (3); the list after keepalives, a revoke, an expiry and a leader SIGKILL
# (the new leader lists the same leases with its own clocks); libbaton's blocking
# baton_lease_list and baton_cluster_members (it_baton listing) agree; a list too
# big for one frame is refused.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/lib_client.sh
. "$(dirname "$0")/lib_client.sh"
it_begin lease_list_members
need_it_baton

# Without a cluster: usage errors are 2, nothing listening is 3.
# said_why TEXT: the last command's stderr says TEXT.
said_why() { grep -qF -- "$1" "$IT_DIR/last.err" || fail "no '$1' in: $(cat "$IT_DIR/last.err")"; }
expect_rc 2 "$BATONCTL" lease list extra
said_why "unexpected argument 'extra'"
expect_rc 2 "$BATONCTL" lease list --bogus
said_why "unknown flag '--bogus'"
expect_rc 2 "$BATONCTL" lease list --lease 5
expect_rc 2 "$BATONCTL" cluster members extra
said_why "unexpected argument 'extra'"
expect_rc 2 "$BATONCTL" cluster members --all
said_why "unknown flag '--all'"
expect_rc 3 "$BATONCTL" --endpoints "$(node_endpoint 1)" --timeout 300 lease list
expect_rc 3 "$BATONCTL" --endpoints "$(node_endpoint 1)" --timeout 300 cluster members
help=$("$BATONCTL" --help)
for c in "lease list" "cluster members"; do
  grep -q "  $c" <<<"$help" || fail "--help does not list $c"
done

lc up 3 >/dev/null
wait_until 10 cluster_agrees 3

# ---- cluster members: the committed configuration, the same whichever node is asked.
want_members=""
want_json=""
for k in 1 2 3; do
  peer="127.0.0.1:$((BATON_PORT_BASE + 100 + k))" client="127.0.0.1:$((BATON_PORT_BASE + k))"
  want_members+="id=$k peer=$peer client=$client role=voter"$'\n'
  want_json+="${want_json:+,}{\"id\":$k,\"peer\":\"$peer\",\"client\":\"$client\",\"role\":\"voter\"}"
done
want_members=${want_members%$'\n'}
want_json="{\"members\":[$want_json]}"
members_are() {
  local k=$1
  [ "$(ctl_at "$k" cluster members)" = "$want_members" ] &&
    [ "$(ctl_at "$k" --json cluster members)" = "$want_json" ]
}
for k in 1 2 3; do
  members_are "$k" || fail "members from node $k: $(ctl_at "$k" cluster members)"
done

# ---- lease list: nothing yet.
out=$(ctl lease list)
[ -z "$out" ] || fail "lease list on a new cluster printed '$out'"
[ "$(ctl --json lease list)" = '{"leases":[]}' ] || fail "lease list --json: $(ctl --json lease list)"

grant() {
  local out
  out=$(ctl lease grant "$1")
  [[ "$out" =~ ^lease=([0-9]+)\ ttl_ms=$1$ ]] || fail "lease grant printed '$out'"
  echo "${BASH_REMATCH[1]}"
}
A=$(grant 20000)
B=$(grant 30000)
C=$(grant 40000)
expect_rc 0 ctl lock acquire L1 --lease "$A"
expect_rc 0 ctl lock acquire L2 --lease "$A"
expect_rc 0 ctl lock acquire L3 --lease "$B"
expect_rc 0 ctl lock acquire "odd name,x" --lease "$C"
# B queues for L1 (held by A): its acquire waits in the background.
ctl --timeout 60000 lock acquire L1 --lease "$B" --wait 60000 >"$IT_DIR/b.out" 2>"$IT_DIR/b.err" &
b_pid=$!
wait_until 10 waiters_are L1 "$B"
log "leases A=$A B=$B C=$C"

# The fields of lease ID's line in a `lease list` output ($2), with remaining_ms
# replaced by R; remaining ID OUT prints remaining_ms alone.
line_of() { grep "^lease=$1 " <<<"$2" | sed -E 's/ remaining_ms=[0-9]+ / remaining_ms=R /'; }
remaining() { grep "^lease=$1 " <<<"$2" | sed -nE 's/.* remaining_ms=([0-9]+) .*/\1/p'; }
# Strips every remaining_ms of a --json listing to R.
json_r() { sed -E 's/"remaining_ms":[0-9]+/"remaining_ms":R/g'; }

# check_remaining ID TTL OUT MAX_EXTRA: 0 < remaining_ms <= TTL + MAX_EXTRA.
check_remaining() {
  local r
  r=$(want_num "remaining_ms of lease $1" "$(remaining "$1" "$3")")
  if [ "$r" -le 0 ] || [ "$r" -gt $(($2 + $4)) ]; then
    fail "lease $1 (ttl $2): remaining_ms=$r"
  fi
}

out=$(ctl lease list)
log "lease list:"$'\n'"$out"
[ "$(wc -l <<<"$out")" -eq 3 ] || fail "three leases, got: $out"
[ "$(line_of "$A" "$out")" = "lease=$A ttl_ms=20000 remaining_ms=R locks=L1,L2 waits=-" ] ||
  fail "line of A: $(line_of "$A" "$out")"
[ "$(line_of "$B" "$out")" = "lease=$B ttl_ms=30000 remaining_ms=R locks=L3 waits=L1" ] ||
  fail "line of B: $(line_of "$B" "$out")"
[ "$(line_of "$C" "$out")" = "lease=$C ttl_ms=40000 remaining_ms=R locks=\"odd name,x\" waits=-" ] ||
  fail "line of C: $(line_of "$C" "$out")"
[ "$(head -n1 <<<"$out" | cut -d' ' -f1)" = "lease=$A" ] || fail "not in lease id order: $out"
check_remaining "$A" 20000 "$out" 0
check_remaining "$B" 30000 "$out" 0
check_remaining "$C" 40000 "$out" 0
json=$(ctl --json lease list | json_r)
want="{\"leases\":[{\"lease\":$A,\"ttl_ms\":20000,\"remaining_ms\":R,\"locks\":[\"L1\",\"L2\"],\"waits\":[]},"
want+="{\"lease\":$B,\"ttl_ms\":30000,\"remaining_ms\":R,\"locks\":[\"L3\"],\"waits\":[\"L1\"]},"
want+="{\"lease\":$C,\"ttl_ms\":40000,\"remaining_ms\":R,\"locks\":[\"odd name,x\"],\"waits\":[]}]}"
[ "$json" = "$want" ] || fail "lease list --json: $json"$'\n'"want $want"
# Any node answers it, by sending the client to the leader.
for k in 1 2 3; do
  [ "$(ctl_at "$k" lease list | cut -d' ' -f1 | tr '\n' ' ')" = "lease=$A lease=$B lease=$C " ] ||
    fail "lease list from node $k: $(ctl_at "$k" lease list)"
done

# remaining_ms counts down on the leader's clock, and a keepalive restarts it.
r_now() { remaining "$A" "$(ctl lease list)"; }
below() { [ "$(r_now)" -le "$1" ]; }
wait_until 15 below 17000
before=$(r_now)
expect_rc 0 ctl lease keepalive "$A"
after=$(r_now)
log "lease $A: remaining_ms $before before a keepalive, $after after"
[ "$after" -gt "$before" ] || fail "keepalive did not restart lease $A: $before then $after"

# A lease nobody keeps alive drops off the list when it expires.
D=$(grant 2000)
listed() { ctl lease list | grep -q "^lease=$1 "; }
listed "$D" || fail "lease $D not listed"
wait_until 15 eval "! listed $D"

# Revoking A takes it off the list; L1 goes to B, whose queued acquire returns.
expect_rc 0 ctl lease revoke "$A"
wait_until 10 eval "! pid_alive $b_pid"
wait "$b_pid" || fail "B's queued acquire exited $?: $(cat "$IT_DIR/b.err")"
[[ "$(cat "$IT_DIR/b.out")" =~ ^token=[0-9]+$ ]] || fail "B's acquire printed '$(cat "$IT_DIR/b.out")'"
out=$(ctl lease list)
[ "$(wc -l <<<"$out")" -eq 2 ] || fail "after the revoke: $out"
[ "$(line_of "$B" "$out")" = "lease=$B ttl_ms=30000 remaining_ms=R locks=L1,L3 waits=-" ] ||
  fail "line of B after the revoke: $(line_of "$B" "$out")"
[ "$(line_of "$C" "$out")" = "lease=$C ttl_ms=40000 remaining_ms=R locks=\"odd name,x\" waits=-" ] ||
  fail "line of C after the revoke: $(line_of "$C" "$out")"
json=$(ctl --json lease list | json_r)
want="{\"leases\":[{\"lease\":$B,\"ttl_ms\":30000,\"remaining_ms\":R,\"locks\":[\"L1\",\"L3\"],\"waits\":[]},"
want+="{\"lease\":$C,\"ttl_ms\":40000,\"remaining_ms\":R,\"locks\":[\"odd name,x\"],\"waits\":[]}]}"
[ "$json" = "$want" ] || fail "lease list --json after the revoke: $json"

# libbaton's blocking calls give the same answers (it_baton prints names unquoted).
lib_out=$("$IT_BATON" listing "$(cluster_endpoints)") || fail "it_baton listing failed"
[ "$(line_of "$B" "$lib_out")" = "lease=$B ttl_ms=30000 remaining_ms=R locks=L1,L3 waits=-" ] ||
  fail "baton_lease_list, lease B: $(line_of "$B" "$lib_out")"
[ "$(line_of "$C" "$lib_out")" = "lease=$C ttl_ms=40000 remaining_ms=R locks=odd name,x waits=-" ] ||
  fail "baton_lease_list, lease C: $(line_of "$C" "$lib_out")"
[ "$(grep -c '^lease=' <<<"$lib_out")" -eq 2 ] || fail "baton_lease_list: $lib_out"
[ "$(sed -n 's/^member //p' <<<"$lib_out")" = "$want_members" ] ||
  fail "baton_cluster_members: $lib_out"

# The leader dies: the new one lists the same leases, its clocks restarted at
# TTL + one election timeout (500 ms, batond's default) at most: a lease is
# extended by a failover, never cut short.
kill_leader
alive=()
for k in 1 2 3; do [ "$k" = "$KILLED" ] || alive+=("$k"); done
out=$(ctl lease list)
log "lease list after the failover:"$'\n'"$out"
[ "$(wc -l <<<"$out")" -eq 2 ] || fail "after the failover: $out"
[ "$(line_of "$B" "$out")" = "lease=$B ttl_ms=30000 remaining_ms=R locks=L1,L3 waits=-" ] ||
  fail "line of B after the failover: $(line_of "$B" "$out")"
[ "$(line_of "$C" "$out")" = "lease=$C ttl_ms=40000 remaining_ms=R locks=\"odd name,x\" waits=-" ] ||
  fail "line of C after the failover: $(line_of "$C" "$out")"
check_remaining "$B" 30000 "$out" 500
check_remaining "$C" 40000 "$out" 500
[ "$(ctl --json lease list | json_r)" = "$want" ] || fail "lease list --json after the failover"
for k in "${alive[@]}"; do
  [ "$(ctl_at "$k" lease list | cut -d' ' -f1 | tr '\n' ' ')" = "lease=$B lease=$C " ] ||
    fail "lease list from node $k after the failover: $(ctl_at "$k" lease list)"
  # The dead node is still a member: membership changes only by a committed change.
  members_are "$k" || fail "members from node $k after the failover: $(ctl_at "$k" cluster members)"
done

lc start "$KILLED" >/dev/null
wait_until 15 caught_up "$KILLED"
members_are "$KILLED" || fail "members from the restarted node $KILLED"

# A list that does not fit in one frame is refused (exit 3, saying why), never cut
# short: a fresh cluster whose frames are 4 KiB, one lease holding 20 locks of 250 bytes.
lc down >/dev/null
rm -rf "$BATON_CLUSTER_DIR"
lc up 3 -- --max-frame-bytes 4096 >/dev/null
wait_until 10 cluster_agrees 3
E=$(grant 60000)
long=$(printf 'x%.0s' $(seq 1 247))
for i in $(seq 10 29); do
  expect_rc 0 ctl lock acquire "$long$i" --lease "$E"
done
expect_rc 3 ctl lease list
said_why "frame limit"
members_are 1 || fail "members on the 4 KiB cluster: $(ctl_at 1 cluster members)"
expect_rc 0 ctl lease revoke "$E"
[ "$(ctl --json lease list)" = '{"leases":[]}' ] || fail "lease list after the big lease's revoke"
it_pass
