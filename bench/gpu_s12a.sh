#!/usr/bin/env bash
# Session 12, first call. (1) gemv_frag with its K-part array declared for every subgroup again
# (uint; the x-staged form keeps the compact one): the driver's statistics and times of the
# configurations session 11's compact array had capped (A/B numbers in
# docs/results/h100-ab-frag-spills-s11-2026-11-26.json), q4gsw at M = 1, 16, 64 with the committed
# table; check --kernel all and a forced configuration on M > 32 shapes. (2) The first GPU run of
# gemv_frag_xs / gemv_frag_dq_xs: forced configurations checked on awkward shapes (M = 1…256, every
# op and dtype, groups 128 and 256) and the statistics of two of them.
# Usage: bash bench/gpu_s12a.sh WORKDIR TARBALL
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
ab dq4-2x512s16 dq8ca_q4gsw 8x4096x14336 2x512x1fs16
step stats-m64 timeout 20 qlinear explain --op q4gsw --shape 64x28672x4096 --stats
bs=(); for s in 1x28672x4096 16x28672x4096 64x28672x4096 1x4096x14336 16x4096x14336 64x4096x14336 16x4096x4096 16x6144x4096; do bs+=(--shape $s); done
step bench timeout 60 qlinear bench --op q4gsw "${bs[@]}" --format json --out "$work/bench-q4.json"
step check timeout 130 qlinear check --kernel all --out "$work/check-all-kernels.json"
cs=(); for s in 33x67x384 64x4097x256 100x1000x2048 256x33x512 48x131x768 65x1x128 40x4096x4096; do cs+=(--shape $s); done
step check-frag-m33 timeout 50 qlinear check --kernel gemv "${cs[@]}" --group 128 --group 256 --gemv 2x128x1fs2 --out "$work/check-frag-m33.json"
cs=(); for s in 1x67x384 8x4097x256 17x1000x2048 33x67x384 64x4097x256 100x1000x2048 256x33x512 48x131x768 65x1x128 40x4096x4096; do cs+=(--shape $s); done
for cfg in 2x128x1fw 1x256x2fws2 2x128x1fws4; do
  step "check-$cfg" timeout 50 qlinear check --kernel gemv "${cs[@]}" --group 128 --group 256 --gemv "$cfg" --out "$work/check-$cfg.json"
done
for cfg in 2x128x1fw 2x256x1fws2; do step "stats-$cfg" timeout 20 qlinear explain --op q4gsw --shape 128x28672x4096 --gemv "$cfg" --stats; done
stop_dmon
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
