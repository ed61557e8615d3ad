#!/usr/bin/env bash
# flagraft with mutual TLS and without (FLAGRAFT_INSECURE=1), one right after
# the other, same harness and options: what TLS costs in writes/s, p99 and
# server CPU per write.
#   HARNESS=/tmp/etcd-bench ./run-tls-on-off.sh [load.mjs options...]   (default --phases write)
# HARNESS is a writable copy of shared/bench/etcd-baseline with `npm ci` done.
# Results: $HARNESS/results/flagraft-{tls,plain}.json and .log
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
HARNESS="${HARNESS:-/tmp/etcd-bench}"
cd "$HARNESS"
mkdir -p results
trap 'node "$HERE/flagraft-cluster.mjs" stop >/dev/null 2>&1 || true' EXIT
[ $# -eq 0 ] && set -- --phases write

for mode in tls plain; do
  echo "=== flagraft, $mode ==="
  node "$HERE/flagraft-cluster.mjs" stop
  FLAGRAFT_BENCH_TLS=$([ "$mode" = tls ] && echo 1 || echo 0) \
    node load.mjs --target "$HERE/flagraft.mjs" --label "tls-on-off-$mode" --out "results/flagraft-$mode.json" "$@" 2>&1 | tee "results/flagraft-$mode.log"
done
node "$HERE/flagraft-cluster.mjs" stop
