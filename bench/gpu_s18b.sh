#!/usr/bin/env bash
# Session 18, second call. The first (gpu_s18a.sh) found gemv_frag_dqf (…fq) correct but 1.4–3.4×
# slower than the pass + gemv_frag_dq: every workgroup quantizes all of its x rows, so the
# quantization's ALU work scales with the workgroup count. Now: (1) the staged form gemv_frag_dqf_xs
# (…fwq: x rows quantized once per workgroup as they are staged, each step's weights loaded first)
# and a cheaper per-value quantization (an fma estimate, quantize1 only near ties) in both forms;
# forced checks on awkward shapes; torch_check with the fused forms forced (activations bit-exact
# against PyTorch); (2) …fwq and …fq configurations against today's plans at M = 4, 8, 16 on the
# four shapes, both dq8ca ops.
# Usage: bash bench/gpu_s18b.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
ops=(--op dq8ca_q4gsw --op dq8ca_q8csw)
shapes=(); for s in 1x97x256 2x4097x512 3x64x768 5x130x1024 8x33x4096 9x200x1280 16x4097x512 17x96x256 32x50x1024 33x80x512 40x16x256; do shapes+=(--shape $s); done
for g in 1x512x1fqs16 2x256x1fqs4 1x128x1fwqs4 1x256x1fwq 2x512x1fwqs2 1x512x2fwqs4 4x128x1fwqs2; do
  step check-fused-$g timeout 60 qlinear check --kernel gemv "${ops[@]}" "${shapes[@]}" --group 128 --group 256 --gemv $g --out "$work/check-fused-$g.json"
done
for g in 1x512x1fqs16 1x256x1fwqs2; do
  step torch-check-$g timeout 60 env QLINEAR_GEMV=$g python3 scripts/torch_check.py --qlinear qlinear --op dq8ca_q4gsw --op dq8ca_q8csw --out "$work/torch-check-$g.json"
done
pack
only=(); for g in 1x512x1fwq 1x512x1fwqs2 1x512x1fwqs4 2x512x1fwqs4 4x512x1fwqs4 2x512x1fwqs2 1x256x1fwqs2 2x256x1fwqs4 1x512x2fwqs4 4x256x1fwqs2 1x512x1fqs16 2x512x1fqs16 4x512x1fqs8; do only+=(--only $g); done
s=(); for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do s+=(--shape 4x$nk --shape 8x$nk --shape 16x$nk); done
step tune-q4 timeout 150 qlinear tune --kernel gemv --op dq8ca_q4gsw "${s[@]}" "${only[@]}" --against-current --time-limit 140 --report "$work/tune-q4-fq.json"
pack
step tune-q8 timeout 150 qlinear tune --kernel gemv --op dq8ca_q8csw "${s[@]}" "${only[@]}" --against-current --time-limit 140 --report "$work/tune-q8-fq.json"
stop_dmon
pack && echo "packed $tarball"
cat "$steps"
