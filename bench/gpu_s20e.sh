#!/usr/bin/env bash
# Session 20: the direct kernel's x-staged form with x loaded two steps ahead (two register sets,
# so the loads have two steps' MMAs to arrive before the store that needs them and the barrier
# after it — s20c's ablation showed the barrier exposing the loads). Forced checks on awkward
# shapes, statistics, the 16 staged configurations against today's plan at M = 2048 (4096²,
# 28672×4096), ablations of the best of s20c.
# Usage: bash bench/gpu_s20e.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
shapes=(); for s in 1x7x9 17x33x65 33x50x100 100x129x1000 129x257x333 256x256x4096 97x4096x512 300x520x4104; do shapes+=(--shape $s); done
cfgs=("128x256/1x8 64 1" "128x256/1x8 32 2" "64x256/1x4 32 1")
for c in "${cfgs[@]}"; do
  read -r t k p <<< "$c"; name=$(echo "$t-k$k-p$p" | tr '/' '_')
  step check-$name timeout 60 qlinear check --kernel coopmat --op fp16 "${shapes[@]}" --tile $t --k-step $k --prefetch $p --buffers 0 --out "$work/check-$name.json"
  step stats-$name timeout 30 qlinear explain --op fp16 --shape 2048x4096x4096 --tile $t --k-step $k --prefetch $p --buffers 0 --stats
done
pack
bshapes=(--shape 2048x4096x4096 --shape 2048x28672x4096)
step bench-current timeout 60 qlinear bench --op fp16 "${bshapes[@]}" --format json --out "$work/bench-current.json"
all=("128x256/1x8 32 1" "128x256/1x8 32 2" "128x128/1x4 32 1" "128x128/1x4 32 2" "64x256/1x4 32 1" "64x256/1x4 32 2"
     "128x128/1x8 32 1" "256x128/1x8 32 1" "256x128/1x8 32 2" "64x128/1x4 32 1"
     "128x256/1x8 64 1" "128x256/1x8 64 2" "128x128/1x4 64 1" "128x128/1x4 64 2")
for c in "${all[@]}"; do
  read -r t k p <<< "$c"; name=$(echo "$t-k$k-p$p" | tr '/' '_')
  step bench-$name timeout 40 qlinear bench --op fp16 "${bshapes[@]}" --tile $t --k-step $k --prefetch $p --buffers 0 --format json --out "$work/bench-$name.json"
done
pack
for a in 1 2 4 5; do
  step bench-ablate$a timeout 40 qlinear bench --op fp16 --shape 2048x4096x4096 --tile 128x256/1x8 --k-step 64 --prefetch 1 --buffers 0 --ablate $a --format json --out "$work/bench-ablate$a.json"
done
stop_dmon
pack && echo "packed $tarball"
cat "$steps"
