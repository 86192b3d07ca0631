#!/usr/bin/env bash
# Session 18, fourth call: gemv_frag_dqf (…fq) with its first blocks' weight loads issued before the
# quantization prologue (in flight while x's ranges are reduced) and the prologue's x loads all at
# once (8 per thread) — the strongest form of the fused kernel before it is given up. Forced checks
# (two configurations), torch_check with one forced, and 8 …fq configurations against today's plans
# at M = 4, 8, 16 on the four shapes, both dq8ca ops (as in gpu_s18b.sh).
# Usage: bash bench/gpu_s18d.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
ops=(--op dq8ca_q4gsw --op dq8ca_q8csw)
shapes=(); for s in 1x97x256 2x4097x512 3x64x768 5x130x1024 8x33x4096 9x200x1280 16x4097x512 17x96x256 32x50x1024 33x80x512 40x16x256; do shapes+=(--shape $s); done
for g in 1x512x1fqs16 1x128x2fqs2; do
  step check-fused-$g timeout 60 qlinear check --kernel gemv "${ops[@]}" "${shapes[@]}" --group 128 --group 256 --gemv $g --out "$work/check-fused-$g.json"
done
step torch-check-1x512x1fqs16 timeout 60 env QLINEAR_GEMV=1x512x1fqs16 python3 scripts/torch_check.py --qlinear qlinear --op dq8ca_q4gsw --op dq8ca_q8csw --out "$work/torch-check-1x512x1fqs16.json"
pack
only=(); for g in 1x512x1fqs16 2x512x1fqs16 1x512x1fqs8 4x512x1fqs8 2x512x1fqs8 1x256x1fqs8 2x128x1fqs4 1x512x2fqs16; do only+=(--only $g); done
s=(); for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do s+=(--shape 4x$nk --shape 8x$nk --shape 16x$nk); done
step tune-q4 timeout 150 qlinear tune --kernel gemv --op dq8ca_q4gsw "${s[@]}" "${only[@]}" --against-current --time-limit 140 --report "$work/tune-q4-fq.json"
pack
step tune-q8 timeout 150 qlinear tune --kernel gemv --op dq8ca_q8csw "${s[@]}" "${only[@]}" --against-current --time-limit 140 --report "$work/tune-q8-fq.json"
stop_dmon
pack && echo "packed $tarball"
cat "$steps"
