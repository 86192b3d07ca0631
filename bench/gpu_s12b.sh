#!/usr/bin/env bash
# Prepared in session 11 for the next session (not run): how far the register-fragment kernels are
# from the cooperative-matrix ones at the top of their range — a sweep of every op at M = 256 on the
# suite's shapes against today's plan (a table only if they win somewhere: --keep-base
# --extend-down-to 129), and the statistics of the best configurations (registers, spills).
# Usage: bash bench/gpu_s12b.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
ts=(); for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do ts+=(--shape 256x$nk); done
step tune timeout 280 qlinear tune --kernel gemv --variety frag --op fp16 --op q4gsw --op dq8ca_q4gsw --op dq8ca_q8csw "${ts[@]}" \
  --against-current --time-limit 260 --report "$work/tune-gemv-frag-m256.json"
table_on_committed gemv "$work/tune-gemv-frag-m256.json" 129
stop_dmon
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
