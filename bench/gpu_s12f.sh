#!/usr/bin/env bash
# Session 12, information for the next session (no table is committed from it): at M = 64 and 128
# on the suite's shapes, the register-fragment kernel, its x-staged form (first sweep) and its
# prefill form against today's plans, for q4gsw and dq8ca_q4gsw (the prefill form: q4gsw only).
# Usage: bash bench/gpu_s12f.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
ts=(); for m in 128 64; do for nk in 28672x4096 4096x14336 4096x4096 6144x4096; do ts+=(--shape ${m}x$nk); done; done
step tune timeout 280 qlinear tune --kernel gemv --variety frag --variety fragxs --variety fraggemm --op q4gsw --op dq8ca_q4gsw "${ts[@]}" \
  --against-current --time-limit 265 --report "$work/tune-frag-xs-gemm-m64-128.json"
stop_dmon
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
