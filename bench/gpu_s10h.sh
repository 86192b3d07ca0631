#!/usr/bin/env bash
# Session 10, final evidence call (after the M ≤ 32 rules): the full conformance sweep, torch_check, the standard suite and the
# CUDA peers (merge, plot) on the final code and committed table; then decode at the sizes the
# suite skips (M = 3, 12, 24) for every op, to see the rules' ranges between the measured sizes.
# Usage: bash bench/gpu_s10f.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
check_torch_suite 280
bs=(); for m in 3 12 24; do for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do bs+=(--shape ${m}x$nk); done; done
step bench-between timeout 60 qlinear bench --op fp16 --op q4gsw --op dq8ca_q4gsw --op dq8ca_q8csw "${bs[@]}" --format json --out "$work/bench-between.json"
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
