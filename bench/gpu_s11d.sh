#!/usr/bin/env bash
# Session 11, third GPU call (evidence): (1) the launch floor, isolated and back to back (q4gsw
# 1x128x128); (2) gemv_frag_dq for dq8ca_q8csw at M = 128 against today's plan (skipped by the
# previous call's time limit) and a table from it on top of the committed one (M = 65…128);
# (3) check --kernel all and torch_check with that table; (4) the standard suite (with back-to-back
# timings) and the CUDA peers (with CUDA-graph timings), merged and plotted.
# Usage: bash bench/gpu_s11d.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
step floor timeout 30 qlinear bench --op q4gsw --op dq8ca_q4gsw --shape 1x128x128 --format json --out "$work/bench-floor.json"
ts=(); for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do ts+=(--shape 128x$nk); done
step tune timeout 90 qlinear tune --kernel gemv --variety frag --op dq8ca_q8csw "${ts[@]}" \
  --against-current --time-limit 75 --report "$work/tune-gemv-frag-m128-q8.json"
[ -s "$work/tune-gemv-frag-m128-q8.json" ] && step table qlinear tune --kernel gemv --from "$work/tune-gemv-frag-m128-q8.json" --tuning Tuning/nvidia-hopper.json \
    --keep-base --extend-down-to 65 --name nvidia-hopper --out "$work/table.json"
[ -s "$work/table.json" ] && export QLINEAR_TUNING="$work/table.json"
check_torch
suite_and_peers 240
stop_dmon
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
