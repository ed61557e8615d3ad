#!/usr/bin/env bash
# flagraft write phase alone, optionally with a CPU profile of every node.
#   HARNESS=/tmp/etcd-bench bench/etcd/write-profile.sh [--prof DIR] [load.mjs options...]
# With --prof DIR each node runs with --cpu-prof (start-up included, a fraction
# of a second against the load) and writes DIR/CPU.*.<pid>.*.cpuprofile when it
# stops; the top functions of the leader and of the followers are printed
# (bench/idle/cpuprofile-top.mjs).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
HARNESS="${HARNESS:-/tmp/etcd-bench}"
PROF=""
if [ "${1:-}" = "--prof" ]; then PROF="$(realpath -m "$2")"; shift 2; fi
cd "$HARNESS"
mkdir -p results
trap 'node "$HERE/flagraft-cluster.mjs" stop >/dev/null 2>&1 || true' EXIT
BENCH_DIR="${FLAGRAFT_BENCH_DIR:-/tmp/flagraft-bench}"
rm -f "$BENCH_DIR"/n?.log   # the leader is found from this run's logs
if [ -n "$PROF" ]; then
  rm -rf "$PROF" && mkdir -p "$PROF"
  FLAGRAFT_BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=$PROF --cpu-prof-interval=1000" node "$HERE/flagraft-cluster.mjs" start
else
  node "$HERE/flagraft-cluster.mjs" start
fi
FLAGRAFT_BENCH_KEEP=1 node load.mjs --target "$HERE/flagraft.mjs" --phases write --label write-profile --out results/flagraft-write.json "$@" 2>&1 | tee results/flagraft-write.log
LEADER_PID=""
if [ -n "$PROF" ]; then
  # the leader: the node whose log says it became leader last
  for n in 1 2 3; do
    if grep -q '"raft: became leader"' "$BENCH_DIR/n$n.log"; then LEADER_PID="$(cat "$BENCH_DIR/n$n.pid")"; fi
  done
fi
node "$HERE/flagraft-cluster.mjs" stop
if [ -n "$PROF" ]; then
  echo "=== leader (pid $LEADER_PID) ==="
  node "$HERE/../idle/cpuprofile-top.mjs" "$PROF"/*."$LEADER_PID".*.cpuprofile --top 30
  echo "=== followers ==="
  node "$HERE/../idle/cpuprofile-top.mjs" $(ls "$PROF"/*.cpuprofile | grep -v "\.$LEADER_PID\.") --top 20
fi
