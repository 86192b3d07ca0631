#!/usr/bin/env bash
# Prepared in session 9 for the next session's first GPU call (not run yet): (1) the conformance
# sweep and torch_check on the code session 9 committed after its evidence call (M = 2 gemv_dq
# rules, encode checks, the dispatcher's next-rule fallback); (2) `tune --against-current` sweeps of
# the matrix–vector kernels for dq8ca_q4gsw at M = 4 and 8 (column and fused kinds together, ≈ 64
# candidates per shape;
# today's plan timed beside them), the table built on top of the committed one, and the dq8ca
# decode bench with it.
# Usage: bash bench/gpu_s10a.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
step devices qlinear devices --json
check_torch
ts=(); for m in 4 8; do for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do ts+=(--shape ${m}x$nk); done; done
step tune timeout 300 qlinear tune --kernel gemv --variety column --variety sg --op dq8ca_q4gsw "${ts[@]}" \
  --against-current --time-limit 270 --report "$work/tune-gemv-dq8ca-m248.json"
table_on_committed gemv "$work/tune-gemv-dq8ca-m248.json"
step dq-table timeout 60 qlinear bench --op dq8ca_q4gsw --op dq8ca_q8csw "${ts[@]}" --format json --out "$work/dq-table.json"
stop_dmon
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
