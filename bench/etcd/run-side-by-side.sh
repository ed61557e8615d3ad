#!/usr/bin/env bash
# etcd 3.4 and flagraft, one right after the other, same harness and options.
#   HARNESS=/tmp/etcd-bench ./run-side-by-side.sh [load.mjs options...]
# HARNESS is a writable copy of shared/bench/etcd-baseline with `npm ci` done.
# Results: $HARNESS/results/{etcd,flagraft}-side.json and .log
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
HARNESS="${HARNESS:-/tmp/etcd-bench}"
cd "$HARNESS"
mkdir -p results
trap './etcd-cluster.sh stop >/dev/null 2>&1 || true; node "$HERE/flagraft-cluster.mjs" stop >/dev/null 2>&1 || true' EXIT

probe_file="/tmp/fsync-probe.$$"
probe=$(dd if=/dev/zero of="$probe_file" bs=4k count=500 oflag=dsync 2>&1 | tail -n 1)
rm -f "$probe_file"
echo "fsync probe (dd 4 KiB O_DSYNC x500 in /tmp): $probe"

echo "=== etcd ==="
./etcd-cluster.sh stop
./etcd-cluster.sh start
node load.mjs --label side-by-side --out results/etcd-side.json "$@" 2>&1 | tee results/etcd-side.log
du -sb /tmp/etcd-baseline/m*.etcd 2>/dev/null || true
./etcd-cluster.sh stop

echo "=== flagraft ==="
node load.mjs --target "$HERE/flagraft.mjs" --label side-by-side --out results/flagraft-side.json "$@" 2>&1 | tee results/flagraft-side.log
node "$HERE/flagraft-cluster.mjs" du
node "$HERE/flagraft-cluster.mjs" stop
