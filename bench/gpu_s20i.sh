#!/usr/bin/env bash
# Session 20, final code (the pass's prefetch reverted — quant_act as at 2a9c06e —, one B-fragment
# builder in gemm_direct): check --kernel all, torch_check, the direct kernel's two forms forced on
# awkward shapes and timed once more at 2048×4096² beside today's plan.
# Usage: bash bench/gpu_s20i.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
check_torch
pack
shapes=(); for s in 1x7x9 17x33x65 100x129x1000 129x257x333 300x520x4104; do shapes+=(--shape $s); done
for c in "128x128/2x2 32 1" "128x256/1x8 64 1"; do
  read -r t k p <<< "$c"; name=$(echo "$t-k$k-p$p" | tr '/' '_')
  step check-$name timeout 60 qlinear check --kernel coopmat --op fp16 "${shapes[@]}" --tile $t --k-step $k --prefetch $p --buffers 0 --out "$work/check-$name.json"
  step bench-$name timeout 40 qlinear bench --op fp16 --shape 2048x4096x4096 --tile $t --k-step $k --prefetch $p --buffers 0 --format json --out "$work/bench-$name.json"
done
step bench-current timeout 40 qlinear bench --op fp16 --shape 2048x4096x4096 --format json --out "$work/bench-current.json"
stop_dmon
pack && echo "packed $tarball"
cat "$steps"
