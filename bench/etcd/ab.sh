#!/usr/bin/env bash
# Back-to-back A/B of flagraft builds (or settings) on the write phase, in one
# window, alternating, so that a shared machine's drift hits every variant
# alike. Each variant is label:tree:ENV=VALUE[,ENV=VALUE...] where tree is a
# checkout with built dist/ (its bench/etcd/flagraft.mjs starts its own nodes).
#   HARNESS=/tmp/etcd-bench bench/etcd/ab.sh main:/work/main:X=1 knob:/work/main:FLAGRAFT_X=1
# ROUNDS (2), CONCURRENCY (64) and DURATION (10 s) set the runs. One line per
# run: writes/s, p50/p99, the servers' CPU and the rest of the machine.
set -euo pipefail
HARNESS="${HARNESS:-/tmp/etcd-bench}"
ROUNDS="${ROUNDS:-2}"; CONCURRENCY="${CONCURRENCY:-64}"; DURATION="${DURATION:-10}"
[ $# -ge 1 ] || { echo "usage: $0 label:tree:ENV=VALUE[,ENV=VALUE] ..." >&2; exit 2; }
for r in $(seq 1 "$ROUNDS"); do
  for spec in "$@"; do
    IFS=: read -r label tree envs <<<"$spec"
    # shellcheck disable=SC2086
    out=$(cd "$HARNESS" && env ${envs//,/ } node load.mjs --target "$tree/bench/etcd/flagraft.mjs" --phases write \
      --duration "$DURATION" --idle-wait-s 0 --busy-retries 0 --concurrency "$CONCURRENCY" 2>&1) || true
    node "$tree/bench/etcd/flagraft-cluster.mjs" stop >/dev/null 2>&1 || true
    w=$(grep -E '^write ' <<<"$out" | sed 's/  */ /g')
    cpu=$(grep 'CPU (%' <<<"$out" | sed 's/.*servers //')
    echo "round $r $label c=$CONCURRENCY | ${w:-no result: $(tail -1 <<<"$out")} | servers $cpu | load $(cut -d' ' -f1 /proc/loadavg)"
  done
done
