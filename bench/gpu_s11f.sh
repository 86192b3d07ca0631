#!/usr/bin/env bash
# Session 11, fifth GPU call: gemv_frag with XT (x-row tiles only where M > TN, else folded away
# at pipeline creation). (1) A/B against 10f102f's binary (qlinear-old, session 10's shader) on the
# configurations the previous call found slower, with the driver's register / shared-memory
# statistics of both (explain --stats); (2) check --kernel all, a forced configuration on M > 32
# shapes, torch_check; (3) the suite and the peers on this commit and its committed table.
# Usage: bash bench/gpu_s11f.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
ab() {  # NAME OP SHAPE CONFIG
  for bin in qlinear-old qlinear; do
    step "stats-$1-$bin" timeout 20 $bin explain --op "$2" --shape "$3" --gemv "$4" --stats
    step "ab-$1-$bin" timeout 25 $bin bench --op "$2" --shape "$3" --kernel gemv --gemv "$4" --format json --out "$work/ab-$1-$bin.json"
  done
}
ab q4-2x128s2 q4gsw 16x28672x4096 2x128x1fs2
ab q4-1x128s4 q4gsw 16x28672x4096 1x128x1fs4
ab q4-4x256 q4gsw 16x28672x4096 4x256x1f
ab dq-2x512s16 dq8ca_q4gsw 4x4096x14336 2x512x1fs16
step stats-m64 timeout 20 qlinear explain --op q4gsw --shape 64x28672x4096 --stats
check_torch
cs=(); for s in 33x67x384 64x4097x256 100x1000x2048 256x33x512 48x131x768 65x1x128 40x4096x4096; do cs+=(--shape $s); done
step check-frag-m33 timeout 50 qlinear check --kernel gemv "${cs[@]}" --group 128 --group 256 --gemv 2x128x1fs2 --out "$work/check-frag-m33.json"
suite_and_peers 235
stop_dmon
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
