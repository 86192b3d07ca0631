#!/usr/bin/env bash
# Session 20 (diagnostic): in the direct kernel's staged form, loads in flight and the per-step
# barrier together cost ≈ 160 µs more than either alone (s20c, s20e). Is it the barrier's
# acquire-release on workgroup memory? ABL 8 replaces it with an execution-only barrier (results
# not promised by the memory model — timing only), alone and with the other ablations, at
# 2048×4096²; the forced checks of the changed SPIR-V (ABL 0) again.
# Usage: bash bench/gpu_s20h.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
shapes=(); for s in 1x7x9 17x33x65 100x129x1000 129x257x333 300x520x4104; do shapes+=(--shape $s); done
step check-staged timeout 60 qlinear check --kernel coopmat --op fp16 "${shapes[@]}" --tile 128x256/1x8 --k-step 64 --prefetch 1 --buffers 0 --out "$work/check-staged.json"
step check-staged-abl8 timeout 60 qlinear check --kernel coopmat --op fp16 "${shapes[@]}" --tile 128x256/1x8 --k-step 64 --prefetch 1 --buffers 0 --ablate 8 --out "$work/check-staged-abl8.json"
step bench-current timeout 40 qlinear bench --op fp16 --shape 2048x4096x4096 --format json --out "$work/bench-current.json"
for a in 0 8 1 4; do
  step bench-abl$a timeout 40 qlinear bench --op fp16 --shape 2048x4096x4096 --tile 128x256/1x8 --k-step 64 --prefetch 1 --buffers 0 --ablate $a --format json --out "$work/bench-abl$a.json"
done
stop_dmon
pack && echo "packed $tarball"
cat "$steps"
