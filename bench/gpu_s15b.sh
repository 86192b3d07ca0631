#!/usr/bin/env bash
# Session 15, second call: the int8 prefill form's new knobs — 256-value K blocks (`…k256`: one
# barrier and twice the MMAs per block, weights half a block = 4 MMA steps ahead) and 128 x rows
# per workgroup (`ft128`: half the weight traffic through L2 per MMA). (1) the driver's
# statistics; (2) forced checks on awkward shapes (K multiples of 256); (3) an ablation of
# 2x512x1ft64lh (no global loads / no MMAs / no shared stores and barriers); (4) a sweep of 16
# configurations at M = 512, 2048 and 8192 against today's plans.
# Usage: bash bench/gpu_s15b.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
pack() { tar -czf "$tarball.tmp" -C "$(dirname "$work")" "$(basename "$work")" && mv "$tarball.tmp" "$tarball"; }
for cfg in 1x512x1ft64lhk256 2x512x1ft64lhk256 1x256x1ft64lhk256 2x256x1ft64lhk256 1x512x1ft128l 1x512x1ft128lh 2x256x1ft128lh 1x256x1ft128lh; do
  step "stats-$cfg" timeout 20 qlinear explain --op dq8ca_q8csw --shape 2048x4096x4096 --gemv $cfg --stats
done
grep -H "Register Count\|Shared Memory Size\|rror" "$work"/stats-*.log > "$work/stats-summary.txt"; pack
cs=(); for s in 33x67x512 64x4097x256 100x1000x2048 257x33x512 700x131x768 1000x1000x1024 65x1x256 129x4096x4096; do cs+=(--shape $s); done
for cfg in 1x512x1ft64lhk256 2x256x1ft64lk256 1x512x1ft128lh 2x256x1ft128l; do
  step "check-$cfg" timeout 45 qlinear check --kernel gemv --op dq8ca_q8csw "${cs[@]}" --gemv "$cfg" --out "$work/check-$cfg.json"
  pack
done
for a in 0 1 2 4 5; do
  step "abl-2x512x1ft64lh-$a" timeout 25 qlinear bench --op dq8ca_q8csw --shape 2048x4096x4096 --kernel gemv --gemv 2x512x1ft64lh --ablate $a --no-back-to-back --format json --out "$work/abl-2x512x1ft64lh-$a.json"
done
pack
only=(); for c in 1x512x1ft64lh 2x512x1ft64lh 1x256x1ft64lh 2x256x1ft64lh 1x512x1ft64lhk256 2x512x1ft64lhk256 1x256x1ft64lhk256 2x256x1ft64lhk256 1x512x1ft64lk256 1x512x1ft128l 1x512x1ft128lh 2x256x1ft128lh 2x256x1ft128l 1x256x1ft128lh 2x512x1ft128lh 1x128x1ft128lh; do only+=(--only $c); done
ts=(); for s in 2048x4096x4096 2048x28672x4096 2048x4096x14336 2048x6144x4096 512x4096x4096 8192x4096x4096; do ts+=(--shape $s); done
step tune-i8 timeout 230 qlinear tune --kernel gemv "${only[@]}" --op dq8ca_q8csw "${ts[@]}" \
  --against-current --time-limit 220 --report "$work/tune-i8b.json"
stop_dmon
pack && echo "packed $tarball"
cat "$steps"
