#!/usr/bin/env bash
# Session 12, third call: gemm_frag with B fragments loaded by coopMatLoad from x rows stored in
# the MMAs' K order (BL = 1, `…ftNl`) next to the built form: forced checks on awkward shapes, the
# driver's statistics, an ablation of both forms (q4gsw 2048×4096×4096: no global loads / no MMAs /
# no shared stores and barriers), and a sweep of all 36 prefill-form candidates against today's
# plans for q4gsw at M = 256…2048 and fp16 at two shapes.
# Usage: bash bench/gpu_s12c.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
cs=(); for s in 33x67x384 64x4097x256 100x1000x2048 257x33x512 700x131x768 1000x1000x1024 65x1x128; do cs+=(--shape $s); done
for cfg in 2x256x1ft64l 1x128x1ft32l 4x256x1ft64l; do
  step "check-$cfg" timeout 60 qlinear check --kernel gemv --op fp16 --op q4gsw "${cs[@]}" --group 128 --group 256 --gemv "$cfg" --out "$work/check-$cfg.json"
done
for cfg in 1x512x1ft64l 2x256x1ft64l 4x256x1ft64l 4x256x1ft32l 2x512x1ft64l; do
  step "stats-q4-$cfg" timeout 20 qlinear explain --op q4gsw --shape 2048x4096x4096 --gemv "$cfg" --stats
done
for cfg in 1x512x1ft64 1x512x1ft64l 4x256x1ft64l; do for a in 0 1 2 4 5 6; do
  step "abl-$cfg-$a" timeout 25 qlinear bench --op q4gsw --shape 2048x4096x4096 --kernel gemv --gemv "$cfg" --ablate $a --no-back-to-back --format json --out "$work/abl-$cfg-$a.json"
done; done
ts=(); for s in 2048x4096x4096 2048x28672x4096 2048x4096x14336 2048x6144x4096 512x4096x4096 512x28672x4096 512x4096x14336 512x6144x4096 256x4096x4096 256x28672x4096 1024x4096x4096 1024x28672x4096; do ts+=(--shape $s); done
step tune timeout 240 qlinear tune --kernel gemv --variety fraggemm --op q4gsw "${ts[@]}" \
  --against-current --time-limit 225 --report "$work/tune-gemm-frag-q4.json"
step tune-f16 timeout 70 qlinear tune --kernel gemv --variety fraggemm --op fp16 --shape 2048x4096x4096 --shape 512x4096x4096 \
  --against-current --time-limit 60 --report "$work/tune-gemm-frag-f16.json"
stop_dmon
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
