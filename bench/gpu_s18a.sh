#!/usr/bin/env bash
# Session 18, first call: (1) check --kernel gemv and torch_check on the current shaders (gemv_dq's
# shared atomic at Workgroup scope since a5c71e1, never run on the H100); (2) the new fused
# quantization in the register-fragment kernel (gemv_frag_dqf, `…fq` configurations) forced on
# awkward shapes for both dq8ca ops (M 1…40, N odd, K multiples of 128 incl. 384 and 1280, groups
# 128 and 256, both activation dtypes; tiles of 8, 16 and 32 x rows, the x-row tiles past 32);
# (3) `…fq` configurations against today's plans (gemv_frag_dq after quant_act) at M = 4, 8, 16
# on the four shapes, both dq8ca ops (tune verifies each candidate before timing it).
# Usage: bash bench/gpu_s18a.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
ops=(--op dq8ca_q4gsw --op dq8ca_q8csw)
step devices qlinear devices
step check-gemv timeout 150 qlinear check --kernel gemv --out "$work/check-gemv.json"
step torch-check timeout 60 python3 scripts/torch_check.py --qlinear qlinear --out "$work/torch-check.json"
pack
shapes=(); for s in 1x97x256 2x4097x512 3x64x768 5x130x1024 8x33x4096 9x200x1280 16x4097x512 17x96x256 32x50x1024 33x80x512 40x16x256; do shapes+=(--shape $s); done
for g in 1x512x1fqs16 2x256x1fqs4 4x128x1fq 1x128x2fqs2 2x512x1fqs8; do
  step check-fused-$g timeout 60 qlinear check --kernel gemv "${ops[@]}" "${shapes[@]}" --group 128 --group 256 --gemv $g --out "$work/check-fused-$g.json"
done
pack
only=(); for g in 1x512x1fqs16 1x256x1fqs8 2x512x1fqs16 2x128x1fqs4 1x512x1fqs8 2x512x1fqs8 4x512x1fqs16 2x256x1fqs4 4x512x1fqs8 1x512x2fqs16; do only+=(--only $g); done
s=(); for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do s+=(--shape 4x$nk --shape 8x$nk --shape 16x$nk); done
step tune-q4 timeout 125 qlinear tune --kernel gemv --op dq8ca_q4gsw "${s[@]}" "${only[@]}" --against-current --time-limit 115 --report "$work/tune-q4-fq.json"
pack
step tune-q8 timeout 125 qlinear tune --kernel gemv --op dq8ca_q8csw "${s[@]}" "${only[@]}" --against-current --time-limit 115 --report "$work/tune-q8-fq.json"
stop_dmon
pack && echo "packed $tarball"
cat "$steps"
