#!/usr/bin/env bash
# Session 11, fourth GPU call: (1) A/B of gemv_frag's shader before (10f102f, carried as
# qlinear-old) and after this session's change (x-row tiles, uint K-part sums) with the same
# forced configurations where the suite showed 4–10% regressions (q4gsw M = 16 at 28672x4096 with
# 2x128x1fs2; dq8ca_q4gsw M = 4 at 4096x14336 with 2x512x1fs16), alternating binaries, three rounds;
# (2) a q4gsw sweep at M = 16 on the suite's shapes against today's plan, a table from it (M = 9…16)
# and q4gsw M = 1, 16 with the committed table and with the sweep's, in one call.
# Usage: bash bench/gpu_s11e.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
for round in 1 2 3; do
  for bin in qlinear-old qlinear; do
    step "ab-$bin-$round-q4" timeout 30 $bin bench --op q4gsw --shape 16x28672x4096 --kernel gemv --gemv 2x128x1fs2 --format json --out "$work/ab-$bin-$round-q4.json"
    step "ab-$bin-$round-dq" timeout 30 $bin bench --op dq8ca_q4gsw --shape 4x4096x14336 --kernel gemv --gemv 2x512x1fs16 --format json --out "$work/ab-$bin-$round-dq.json"
  done
done
ts=(); for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do ts+=(--shape 16x$nk); done
step tune timeout 100 qlinear tune --kernel gemv --variety frag --op q4gsw "${ts[@]}" \
  --against-current --time-limit 85 --report "$work/tune-gemv-frag-q4-m16.json"
bs=(); for m in 1 16; do for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do bs+=(--shape ${m}x$nk); done; done
step bench-committed timeout 70 qlinear bench --op q4gsw "${bs[@]}" --format json --out "$work/bench-committed.json"
[ -s "$work/tune-gemv-frag-q4-m16.json" ] && step table qlinear tune --kernel gemv --from "$work/tune-gemv-frag-q4-m16.json" --tuning Tuning/nvidia-hopper.json \
    --keep-base --extend-down-to 9 --name nvidia-hopper --out "$work/table.json"
[ -s "$work/table.json" ] && export QLINEAR_TUNING="$work/table.json"
step bench-table timeout 70 qlinear bench --op q4gsw "${bs[@]}" --format json --out "$work/bench-table.json"
stop_dmon
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
