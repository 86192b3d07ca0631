#!/usr/bin/env bash
# Session 10, fifth GPU call: gemv_frag for fp16 weights and gemv_frag_dq for dq8ca_q8csw.
# (1) check with forced configurations on awkward shapes for both ops; (2) sweeps at M = 1, 4, 8,
# 16 on the suite's shapes against today's plan; (3) decode M = 1…16 with the committed table and
# with the sweeps' table, in one call.
# Usage: bash bench/gpu_s10e.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
cs=(); for s in 1x1x128 3x67x384 8x4097x256 9x33x512 13x1000x2048 16x4096x4096 16x4097x14336 5x63x1024 12x131x768 2x4096x4096 4x40x200; do cs+=(--shape $s); done
for cfg in 2x128x1f 1x512x2fs16; do
  step "check-$cfg" timeout 90 qlinear check --kernel gemv --op fp16 --op dq8ca_q8csw "${cs[@]}" --gemv "$cfg" --out "$work/check-frag-$cfg.json"
done
ts=(); for m in 1 4 8 16; do for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do ts+=(--shape ${m}x$nk); done; done
step tune timeout 260 qlinear tune --kernel gemv --variety frag --op fp16 --op dq8ca_q8csw "${ts[@]}" \
  --against-current --time-limit 240 --report "$work/tune-gemv-frag-fp16-q8.json"
bs=(); for m in 1 2 4 8 12 16; do for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do bs+=(--shape ${m}x$nk); done; done
step bench-committed timeout 110 qlinear bench --op fp16 --op dq8ca_q8csw "${bs[@]}" --format json --out "$work/bench-committed.json"
table_on_committed gemv "$work/tune-gemv-frag-fp16-q8.json"
step bench-table timeout 110 qlinear bench --op fp16 --op dq8ca_q8csw "${bs[@]}" --format json --out "$work/bench-table.json"
stop_dmon
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
