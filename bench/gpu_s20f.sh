#!/usr/bin/env bash
# Session 20: the dq8ca quantization pass prefetching the layer's weights into L2 with extra
# workgroups (the pass is a latency-bound chain; DRAM is idle meanwhile, and the kernel after it
# streams those weights). (1) forced checks with prefetch on awkward shapes (every kernel kind the
# dq8ca ops plan), torch_check with it; (2) both dq8ca ops at M = 2, 4, 8, 16 on the four suite
# shapes with 0, 4, 8, 16, 64 MiB of prefetch (0 = today), one bench call each, in one GPU call.
# Usage: bash bench/gpu_s20f.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
ops=(--op dq8ca_q4gsw --op dq8ca_q8csw)
shapes=(); for s in 2x97x256 3x64x768 5x130x1024 8x4096x4096 9x200x1280 16x4097x512 33x80x512 300x260x1024; do shapes+=(--shape $s); done
step check-pf8192 env QLINEAR_QUANT_PREFETCH=8192 timeout 90 qlinear check --kernel all "${ops[@]}" "${shapes[@]}" --group 128 --out "$work/check-pf8192.json"
step torch-check-pf env QLINEAR_QUANT_PREFETCH=8192 timeout 60 python3 scripts/torch_check.py --qlinear qlinear --op dq8ca_q4gsw --op dq8ca_q8csw --out "$work/torch-check-pf.json"
pack
bs=(); for m in 2 4 8 16; do for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do bs+=(--shape ${m}x$nk); done; done
for pf in 0 4096 8192 16384 65536; do
  step bench-pf$pf timeout 80 qlinear bench "${ops[@]}" "${bs[@]}" --quant-prefetch $pf --no-read-floor --format json --out "$work/bench-pf$pf.json"
  pack
done
step bench-pf0-again timeout 80 qlinear bench "${ops[@]}" "${bs[@]}" --quant-prefetch 0 --no-read-floor --format json --out "$work/bench-pf0-again.json"
stop_dmon
pack && echo "packed $tarball"
cat "$steps"
