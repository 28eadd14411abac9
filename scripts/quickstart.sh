#!/usr/bin/env bash
# The README's run command: install what is missing, build, start a local 3-node
# cluster, show every node's status, and run the lock demo against it.
# The cluster keeps running afterwards; stop it with: deploy/local-cluster.sh down
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$jobs"

cluster=deploy/local-cluster.sh
if [ -f .cluster/cluster.env ]; then
  "$cluster" down >/dev/null 2>&1 || true
fi
echo "== starting a local 3-node cluster (state in ./.cluster) =="
if ! "$cluster" up 3; then
  if [ -f .cluster/cluster.env ]; then
    echo "quickstart: ./.cluster holds the demo cluster of an earlier run, kept as it was;" >&2
    echo "quickstart: if its nodes refuse their data (another cluster id), start afresh with" >&2
    echo "quickstart:   deploy/local-cluster.sh down; rm -rf .cluster; scripts/quickstart.sh" >&2
  fi
  exit 1
fi
endpoints=$("$cluster" endpoints)
echo "== batonctl cluster status =="
build/batonctl --endpoints "$endpoints" cluster status
echo "== batonctl cluster health =="
build/batonctl --endpoints "$endpoints" cluster health
echo "== lock demo: a program embedding libbaton takes a fenced lock =="
build/lock_demo --endpoints "$endpoints" --steps 3
echo
echo "The cluster is still running: BATON_ENDPOINTS=$endpoints build/batonctl cluster status"
echo "Stop it with: deploy/local-cluster.sh down"
