#!/usr/bin/env bash
# Session 13, first call: gemm_frag's register sets indexed by a literal (the block body is a
# function called with par = 0 and 1; session 12's binaries reported "Local Memory Size" = the size
# of wr + sr for every prefill-form configuration, i.e. the two-iteration loop over par was not
# unrolled and the weights went through local memory). (1) the driver's statistics, old binary
# (qlinear-old, 123a70d) and new; (2) the forced configurations checked on awkward shapes; (3) A/B
# of the table's prefill rows, old and new binary alternating; (4) ablation of the rule
# configuration; (5) the prefill-form sweep (fraggemm, 36 configurations) against today's plans.
# Usage: bash bench/gpu_s13a.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
pack() { tar -czf "$tarball.tmp" -C "$(dirname "$work")" "$(basename "$work")" && mv "$tarball.tmp" "$tarball"; }
for bin in qlinear-old qlinear; do
  for cfg in 2x512x1ft64le2 1x512x1ft64l 2x256x1ft64l 4x256x1ft64l 2x256x1ft32l 1x256x1ft32l; do
    step "stats-$bin-q4-$cfg" timeout 20 $bin explain --op q4gsw --shape 2048x4096x4096 --gemv $cfg --stats
  done
  for cfg in 1x512x1ft64l 2x256x1ft64l; do
    step "stats-$bin-fp16-$cfg" timeout 20 $bin explain --op fp16 --shape 2048x4096x4096 --gemv $cfg --stats
  done
done
grep -H "Register Count\|Local Memory\|Shared Memory Size" "$work"/stats-*.log > "$work/stats-summary.txt"; pack
cs=(); for s in 33x67x384 64x4097x256 100x1000x2048 257x33x512 700x131x768 1000x1000x1024 65x1x128; do cs+=(--shape $s); done
for cfg in 2x512x1ft64le2 2x256x1ft64l 4x256x1ft64l 1x256x1ft32l; do
  step "check-$cfg" timeout 60 qlinear check --kernel gemv --op fp16 --op q4gsw "${cs[@]}" --group 128 --group 256 --gemv "$cfg" --out "$work/check-$cfg.json"
done
pack
bs=(); for s in 512x4096x4096 2048x4096x4096 2048x28672x4096 2048x4096x14336 8192x4096x4096; do bs+=(--shape $s); done
for round in 1 2; do for bin in qlinear-old qlinear; do
  step "ab-$round-$bin" timeout 60 $bin bench --op q4gsw "${bs[@]}" --no-back-to-back --format json --out "$work/ab-$round-$bin.json"
done; done
pack
for a in 0 1 4 5; do
  step "abl-2x512x1ft64le2-$a" timeout 25 qlinear bench --op q4gsw --shape 2048x4096x4096 --kernel gemv --gemv 2x512x1ft64le2 --ablate $a --no-back-to-back --format json --out "$work/abl-2x512x1ft64le2-$a.json"
done
pack
ts=(); for s in 2048x4096x4096 512x28672x4096 2048x28672x4096 512x4096x14336 512x4096x4096 2048x4096x14336; do ts+=(--shape $s); done
step tune-q4 timeout 250 qlinear tune --kernel gemv --variety fraggemm --op q4gsw "${ts[@]}" \
  --against-current --time-limit 235 --report "$work/tune-gemm-frag-q4.json"
pack
step tune-fp16 timeout 100 qlinear tune --kernel gemv --variety fraggemm --op fp16 --shape 2048x4096x4096 --shape 2048x28672x4096 \
  --against-current --time-limit 90 --report "$work/tune-gemm-frag-fp16.json"
stop_dmon
pack && echo "packed $tarball"
cat "$steps"
