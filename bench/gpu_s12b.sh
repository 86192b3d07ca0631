#!/usr/bin/env bash
# Session 12, second call: the first GPU run of gemm_frag (the register-fragment kernel's prefill
# form: x rows staged in two shared buffers, weights in two register sets, INT4 × fp16 scale as it
# is dequantized; fp16 and q4gsw, any M). (1) forced configurations checked on awkward shapes;
# (2) the driver's statistics of some; (3) the M ≤ 32 rules' and the M = 33…64 rule's statistics
# with the K-part array sized by XT (the array each was measured with) and q4gsw times; (4) a sweep
# of the prefill form against today's plans (cooperative-matrix) at M = 512 and 2048.
# Usage: bash bench/gpu_s12b.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
cs=(); for s in 33x67x384 64x4097x256 100x1000x2048 257x33x512 700x131x768 1000x1000x1024 65x1x128; do cs+=(--shape $s); done
for cfg in 2x256x1ft64 1x128x1ft32; do
  step "check-$cfg" timeout 60 qlinear check --kernel gemv --op fp16 --op q4gsw "${cs[@]}" --group 128 --group 256 --gemv "$cfg" --out "$work/check-$cfg.json"
done
for cfg in 1x256x1ft64 2x256x1ft64 4x256x1ft32 2x128x1ft64 2x512x1ft64; do
  step "stats-q4-$cfg" timeout 20 qlinear explain --op q4gsw --shape 2048x4096x4096 --gemv "$cfg" --stats
done
step stats-f16-1x256x1ft64 timeout 20 qlinear explain --op fp16 --shape 2048x4096x4096 --gemv 1x256x1ft64 --stats
step stats-m16 timeout 20 qlinear explain --op q4gsw --shape 16x28672x4096 --stats
step stats-m64 timeout 20 qlinear explain --op q4gsw --shape 64x28672x4096 --stats
bs=(); for s in 1x28672x4096 16x28672x4096 64x28672x4096 64x4096x14336 128x4096x14336; do bs+=(--shape $s); done
step bench timeout 50 qlinear bench --op q4gsw "${bs[@]}" --format json --out "$work/bench-q4.json"
ts=(); for m in 2048 512; do for nk in 4096x4096 28672x4096 4096x14336 6144x4096; do ts+=(--shape ${m}x$nk); done; done
step tune timeout 300 qlinear tune --kernel gemv --variety fraggemm --op q4gsw --op fp16 "${ts[@]}" \
  --against-current --time-limit 280 --report "$work/tune-gemm-frag.json"
stop_dmon
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
