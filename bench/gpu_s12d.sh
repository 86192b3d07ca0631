#!/usr/bin/env bash
# Session 12, fourth call: gemm_frag's x store moved into the block (XE: after MMA step 2/4/6, so
# the next block's x loads cannot be held back to the end) — forced checks, ablation; then the
# prefill table for q4gsw: the best prefill-form configurations of s12c (and their XE forms)
# against today's plans at every suite M from 256 to 8192 on the four shapes, a table on the
# committed one (--keep-base, --extend-up, rules of M = 256 reaching down to 129).
# Usage: bash bench/gpu_s12d.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
cs=(); for s in 33x67x384 64x4097x256 100x1000x2048 257x33x512 700x131x768 1000x1000x1024 65x1x128; do cs+=(--shape $s); done
for cfg in 2x512x1ft64le4 1x256x1ft32le2; do
  step "check-$cfg" timeout 60 qlinear check --kernel gemv --op fp16 --op q4gsw "${cs[@]}" --group 128 --group 256 --gemv "$cfg" --out "$work/check-$cfg.json"
done
step stats-2x512x1ft64le4 timeout 20 qlinear explain --op q4gsw --shape 2048x4096x4096 --gemv 2x512x1ft64le4 --stats
for cfg in 2x512x1ft64l 2x512x1ft64le4; do for a in 0 1 4 5; do
  step "abl-$cfg-$a" timeout 25 qlinear bench --op q4gsw --shape 2048x4096x4096 --kernel gemv --gemv "$cfg" --ablate $a --no-back-to-back --format json --out "$work/abl-$cfg-$a.json"
done; done
only=(); for c in 2x512x1ft64l 2x512x1ft64le2 2x512x1ft64le4 2x512x1ft64le6 1x512x1ft64l 1x512x1ft64le4 2x256x1ft32l 2x256x1ft32le4 1x256x1ft32l 4x256x1ft64l; do only+=(--only $c); done
ts=(); for m in 256 512 1024 2048 4096 8192; do for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do ts+=(--shape ${m}x$nk); done; done
step tune timeout 330 qlinear tune --kernel gemv "${only[@]}" --op q4gsw "${ts[@]}" \
  --against-current --time-limit 310 --report "$work/tune-gemm-frag-q4-suite.json"
[ -s "$work/tune-gemm-frag-q4-suite.json" ] && step table qlinear tune --kernel gemv --from "$work/tune-gemm-frag-q4-suite.json" --tuning Tuning/nvidia-hopper.json \
    --keep-base --extend-up --extend-down-to 129 --name nvidia-hopper --out "$work/table.json"
stop_dmon
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
