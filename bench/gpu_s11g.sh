#!/usr/bin/env bash
# Prepared in session 11, NOT RUN (no device time left): apply bench/s11g-frag-red-full-size.patch
# first (`git apply`; then python3 scripts/build-shaders.py). gemv_frag with its K-part array
# declared for every subgroup again (uint), after the A/B of gpu_s11f.sh showed the smaller array
# coming with register caps and spills. (1) the same forced configurations with the driver's
# statistics; (2) q4gsw M = 1, 16, 64 with the committed table; (3) check --kernel all and a forced
# configuration on M > 32 shapes.
# Usage: bash bench/gpu_s11g.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
ab() {  # NAME OP SHAPE CONFIG
  step "stats-$1" timeout 20 qlinear explain --op "$2" --shape "$3" --gemv "$4" --stats
  step "ab-$1" timeout 25 qlinear bench --op "$2" --shape "$3" --kernel gemv --gemv "$4" --no-back-to-back --format json --out "$work/ab-$1.json"
}
ab q4-2x128s2 q4gsw 16x28672x4096 2x128x1fs2
ab q4-1x128s4 q4gsw 16x28672x4096 1x128x1fs4
ab q4-4x256 q4gsw 16x28672x4096 4x256x1f
step stats-m64 timeout 20 qlinear explain --op q4gsw --shape 64x28672x4096 --stats
bs=(); for s in 1x28672x4096 16x28672x4096 64x28672x4096 1x4096x14336 16x4096x14336 64x4096x14336 16x4096x4096 16x6144x4096; do bs+=(--shape $s); done
step bench timeout 60 qlinear bench --op q4gsw "${bs[@]}" --format json --out "$work/bench-q4.json"
step check timeout 120 qlinear check --kernel all --out "$work/check-all-kernels.json"
cs=(); for s in 33x67x384 64x4097x256 100x1000x2048 256x33x512 48x131x768 65x1x128 40x4096x4096; do cs+=(--shape $s); done
step check-frag-m33 timeout 50 qlinear check --kernel gemv "${cs[@]}" --group 128 --group 256 --gemv 2x128x1fs2 --out "$work/check-frag-m33.json"
stop_dmon
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
