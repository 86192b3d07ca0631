#!/usr/bin/env bash
# Session 19: (1) gemv_frag_dqs after the review's fixes (rows claimed one at a time from a counter,
# so no wait depends on a workgroup that has not started; queue-family scope instead of device
# scope) forced on the awkward shapes and on large M with many workgroups (M up to 256), and timed
# at M = 2 and 8 against today's plans; (2) split-K for the fp16 cooperative-matrix kernel's large
# tiles (the default grids split K only with small tiles): fp16 at M = 512 and 1024 on the four
# shapes — below issue 9's 0.4× cuBLAS at 6144×4096 (0.36× / 0.32×) and 28672×4096 M = 1024 (0.35×);
# 128×256 tiles leave the second of two waves at 6144×4096, M = 1024 less than half full — every
# tile of the class with split-K 1, 2, 4 (`tune --offer-split`), against today's plans; a table.
# Usage: bash bench/gpu_s19e.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
ops=(--op dq8ca_q4gsw --op dq8ca_q8csw)
shapes=(); for s in 1x97x256 2x4097x512 3x64x768 5x130x1024 8x33x4096 9x200x1280 16x4097x512 17x96x256 32x50x1024 33x80x512 40x16x256 128x4097x512 200x4096x1024 256x8192x256; do shapes+=(--shape $s); done
for g in 1x512x1fds16 1x128x2fds2; do
  step check-fd-$g timeout 90 qlinear check --kernel gemv "${ops[@]}" "${shapes[@]}" --group 128 --group 256 --gemv $g --out "$work/check-fd-$g.json"
done
step torch-check-fd env QLINEAR_GEMV=1x512x1fds16 timeout 60 python3 scripts/torch_check.py --qlinear qlinear --op dq8ca_q4gsw --op dq8ca_q8csw --out "$work/torch-check-fd.json"
step bench-fd timeout 60 qlinear bench "${ops[@]}" --shape 2x4096x4096 --shape 8x4096x4096 --gemv 1x512x1fds16 --format json --out "$work/bench-fd.json"
step bench-current timeout 60 qlinear bench "${ops[@]}" --shape 2x4096x4096 --shape 8x4096x4096 --format json --out "$work/bench-current.json"
pack
s=(); for nk in 6144x4096 28672x4096 4096x14336 4096x4096; do s+=(--shape 1024x$nk --shape 512x$nk); done
step tune-fp16-split timeout 320 qlinear tune --kernel coopmat --op fp16 "${s[@]}" --offer-split 2 --offer-split 4 --against-current --time-limit 300 --report "$work/tune-fp16-split.json"
pack
table_on_committed coopmat "$work/tune-fp16-split.json"
stop_dmon
pack && echo "packed $tarball"
cat "$steps"
