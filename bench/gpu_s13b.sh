#!/usr/bin/env bash
# Session 13, second call: the prefill-form sweep that gpu_s13a.sh could not run (the tuner's check
# case had fp32 group scales, which gemm_frag refuses since 9311706, and fp16 weights were refused
# as "not fp16-valued scales": fixed in this commit) — forced checks (fp16 now included), then
# fraggemm (36 configurations) against today's plans, q4gsw at M = 512 / 2048 and fp16 at 2048.
# Usage: bash bench/gpu_s13b.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
pack() { tar -czf "$tarball.tmp" -C "$(dirname "$work")" "$(basename "$work")" && mv "$tarball.tmp" "$tarball"; }
cs=(); for s in 33x67x384 64x4097x256 100x1000x2048 257x33x512 700x131x768 1000x1000x1024 65x1x128; do cs+=(--shape $s); done
for cfg in 2x512x1ft64le2 2x256x1ft64l; do
  step "check-$cfg" timeout 60 qlinear check --kernel gemv --op fp16 --op q4gsw "${cs[@]}" --group 128 --group 256 --gemv "$cfg" --out "$work/check-$cfg.json"
done
pack
ts=(); for s in 2048x4096x4096 512x28672x4096 2048x28672x4096 512x4096x14336 512x4096x4096 2048x4096x14336; do ts+=(--shape $s); done
step tune-q4 timeout 330 qlinear tune --kernel gemv --variety fraggemm --op q4gsw "${ts[@]}" \
  --against-current --time-limit 315 --report "$work/tune-gemm-frag-q4.json"
pack
step tune-fp16 timeout 130 qlinear tune --kernel gemv --variety fraggemm --op fp16 --shape 2048x4096x4096 --shape 2048x28672x4096 \
  --against-current --time-limit 120 --report "$work/tune-gemm-frag-fp16.json"
stop_dmon
pack && echo "packed $tarball"
cat "$steps"
