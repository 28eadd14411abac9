#!/usr/bin/env bash
# shellcheck disable=SC2317  # helper functions run through wait_until
# More idle connections to a peer port than the node keeps incoming peer connections
# for (64), held for a second and closed: afterwards the port must accept again, so
# that a restarted peer reconnects and stops being suspected.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
it_begin peer_listener_survives_flood

lc up 3 >/dev/null
wait_until 10 cluster_agrees 3
victim=$(leader_id)
peer="127.0.0.1:$((BATON_PORT_BASE + 100 + victim))"
log "holding 100 idle connections to node $victim's peer port $peer for 1 s"
"$PY" "$it_here/garbage.py" --random 0 --oversize 0 --hold 100 --hold-ms 1000 "$peer" ||
  fail "could not open the idle connections"

# A fresh connection must be accepted and, after a frame that is not a Hello, closed.
"$PY" - "$peer" <<'PYEOF' || fail "node $victim's peer port no longer accepts connections"
import socket, sys
host, _, port = sys.argv[1].rpartition(":")
s = socket.create_connection((host, int(port)), timeout=3)
s.settimeout(3)
s.sendall(b"\x00\x00\x00\x02\x1a\x00")  # Envelope{heartbeat{}}: not a Hello
try:
    sys.exit(0 if s.recv(16) == b"" else 1)
except ConnectionResetError:
    sys.exit(0)
PYEOF

f=$((victim % 3 + 1))
lc kill "$f"
lc start "$f" >/dev/null
wait_until 10 trusts_all "$victim"
it_pass
