#!/usr/bin/env bash
# The README's run command: install what is missing, build, and show baton working.
# Until the daemon lands (batond, issue 3) this runs the deterministic cluster
# simulation: real Raft cores with crashes, partitions and message loss.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$jobs"
sim=build/tests/sim/baton-sim
echo "== one simulated 3-node run, traced (seed 1) =="
"$sim" --seed 1 --nodes 3 --verbose | tail -n 25
echo "== 100 seeds of a 5-node cluster under faults =="
"$sim" --seeds 100 --nodes 5
