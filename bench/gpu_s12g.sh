#!/usr/bin/env bash
# Session 12, last call (≈ 4 minutes of device time were left): the x-staged rules of s12f in the
# table — the exact configurations forced on awkward shapes (q4gsw, dq8ca_q4gsw), torch_check, and
# the suite rows those rules change, timed with the committed table.
# Usage: bash bench/gpu_s12g.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
pack() { tar -czf "$tarball.tmp" -C "$(dirname "$work")" "$(basename "$work")" && mv "$tarball.tmp" "$tarball"; }
cs=(); for s in 33x67x384 64x4097x256 100x1000x2048 128x33x512 48x131x768 65x1x128; do cs+=(--shape $s); done
for cfg in 4x128x1fw 2x256x1fws2; do
  step "check-$cfg" timeout 40 qlinear check --kernel gemv --op q4gsw --op dq8ca_q4gsw "${cs[@]}" --group 128 --group 256 --gemv "$cfg" --out "$work/check-$cfg.json"; pack
done
step torch-check timeout 50 python3 scripts/torch_check.py --qlinear qlinear --out "$work/torch-check.json"; pack
bs=(); for s in 64x28672x4096 128x28672x4096 128x4096x14336 128x4096x4096 64x4096x4096; do bs+=(--shape $s); done
step bench timeout 50 qlinear bench --op q4gsw --op dq8ca_q4gsw "${bs[@]}" --format json --out "$work/bench.json"
stop_dmon
pack && echo "packed $tarball"
cat "$steps"
