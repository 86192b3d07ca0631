#!/usr/bin/env bash
# Session 14, first call: two new knobs of the prefill form (gemm_frag, gemm_frag_dq). (h) INT4
# weights loaded in two 8-byte halves four MMA steps ahead — one weight register set instead of two
# (the table's best configurations are at 255 registers with spills, or at the 128-register cap of
# 512 threads with the weight sets in local memory); (e8) x a whole block ahead (stored at the start
# of the next block instead of after MMA step 2 or at the end). (1) the driver's statistics;
# (2) the new forms forced on awkward shapes; (3) sweeps of old and new configurations at
# M = 512 and 2048 on three shapes, q4gsw and dq8ca_q4gsw, against today's plans.
# Usage: bash bench/gpu_s14a.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
pack() { tar -czf "$tarball.tmp" -C "$(dirname "$work")" "$(basename "$work")" && mv "$tarball.tmp" "$tarball"; }
for cfg in 2x256x1ft64l 2x256x1ft64lh 2x256x1ft64le8 2x256x1ft64lhe8 4x256x1ft64l 4x256x1ft64lh 4x256x1ft64lhe8 2x512x1ft64le2 2x512x1ft64lhe2 2x512x1ft64lh 2x512x1ft64lhe8; do
  step "stats-q4-$cfg" timeout 20 qlinear explain --op q4gsw --shape 2048x4096x4096 --gemv $cfg --stats
done
for cfg in 2x256x1ft64lh 4x256x1ft64lh 2x512x1ft64lhe2; do
  step "stats-dq-$cfg" timeout 20 qlinear explain --op dq8ca_q4gsw --shape 2048x4096x4096 --gemv $cfg --stats
done
grep -H "Register Count\|Local Memory\|Shared Memory Size" "$work"/stats-*.log > "$work/stats-summary.txt"; pack
cs=(); for s in 33x67x384 64x4097x256 100x1000x2048 257x33x512 700x131x768 1000x1000x1024 65x1x128; do cs+=(--shape $s); done
for cfg in 2x256x1ft64lhe8 4x256x1ft64lh 2x512x1ft64lhe2 2x256x1ft64le8; do
  step "check-$cfg" timeout 60 qlinear check --kernel gemv --op q4gsw --op dq8ca_q4gsw "${cs[@]}" --group 128 --group 256 --gemv "$cfg" --out "$work/check-$cfg.json"
done
pack
only=(); for c in 4x256x1ft64l 2x256x1ft64l 2x512x1ft64le2 4x256x1ft64lh 2x256x1ft64lh 2x512x1ft64lh 2x512x1ft64lhe2 4x256x1ft64lhe2 2x256x1ft64lhe2 4x256x1ft64le8 2x256x1ft64le8 2x512x1ft64le8 4x256x1ft64lhe8 2x256x1ft64lhe8 2x512x1ft64lhe8; do only+=(--only $c); done
ts=(); for s in 512x4096x4096 2048x4096x4096 512x28672x4096 2048x28672x4096 512x4096x14336 2048x4096x14336; do ts+=(--shape $s); done
step tune-q4 timeout 170 qlinear tune --kernel gemv "${only[@]}" --op q4gsw "${ts[@]}" \
  --against-current --time-limit 160 --report "$work/tune-q4.json"
pack
step tune-dq timeout 170 qlinear tune --kernel gemv "${only[@]}" --op dq8ca_q4gsw "${ts[@]}" \
  --against-current --time-limit 160 --report "$work/tune-dq.json"
stop_dmon
pack && echo "packed $tarball"
cat "$steps"
