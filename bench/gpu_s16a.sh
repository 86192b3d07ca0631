#!/usr/bin/env bash
# Session 16, first call: the int8 prefill form with each tile group's x rows split over 2 or 4
# subgroups (`…sN`: each B fragment read from shared memory feeds R MMAs instead of one, the
# subgroups of a group load the same weight words, the second load meeting the first in L1).
# (0) `qlinear devices --json` (the refactored probes of session 15's last commits); (1) driver
# statistics; (2) forced checks on awkward shapes; (3) an ablation of 2x512x1ft128lhs2; (4) a
# sweep of the split forms against 1x512x1ft128lh / 1x512x1ft64lhk256 (the table's) and today's plans.
# Usage: bash bench/gpu_s16a.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
pack() { tar -czf "$tarball.tmp" -C "$(dirname "$work")" "$(basename "$work")" && mv "$tarball.tmp" "$tarball"; }
step devices timeout 60 qlinear devices --json
cp "$work/devices.log" "$work/devices.json" 2> /dev/null
cfgs="1x512x1ft128lh 2x512x1ft128lhs2 1x512x1ft128lhs2 2x512x1ft128lhs4 4x512x1ft128lhs4 1x256x1ft128lhs2 2x256x1ft128lhs2 4x512x1ft64lhs2 4x512x1ft64lhk256s2 2x512x1ft64lhk256s2 2x256x1ft128lhs4"
for cfg in $cfgs; do
  step "stats-$cfg" timeout 20 qlinear explain --op dq8ca_q8csw --shape 2048x4096x4096 --gemv $cfg --stats
done
grep -H "Register Count\|Local Memory\|Shared Memory Size\|rror" "$work"/stats-*.log > "$work/stats-summary.txt"; pack
cs=(); for s in 33x67x512 64x4097x256 100x1000x2048 257x33x512 700x131x768 1000x1000x1024 65x1x256 129x4096x4096; do cs+=(--shape $s); done
for cfg in 2x512x1ft128lhs2 4x512x1ft128lhs4 1x256x1ft128lhs2 4x512x1ft64lhk256s2; do
  step "check-$cfg" timeout 45 qlinear check --kernel gemv --op dq8ca_q8csw "${cs[@]}" --gemv "$cfg" --out "$work/check-$cfg.json"
  pack
done
for a in 0 1 2 4 5; do
  step "abl-2x512x1ft128lhs2-$a" timeout 25 qlinear bench --op dq8ca_q8csw --shape 2048x4096x4096 --kernel gemv --gemv 2x512x1ft128lhs2 --ablate $a --no-back-to-back --format json --out "$work/abl-2x512x1ft128lhs2-$a.json"
done
pack
only=(); for c in $cfgs 1x512x1ft64lhk256; do only+=(--only $c); done
ts=(); for s in 2048x4096x4096 2048x28672x4096 2048x4096x14336 2048x6144x4096 512x4096x4096 512x28672x4096 8192x4096x4096 256x6144x4096; do ts+=(--shape $s); done
step tune-i8 timeout 330 qlinear tune --kernel gemv "${only[@]}" --op dq8ca_q8csw "${ts[@]}" \
  --against-current --time-limit 320 --report "$work/tune-i8-s16a.json"
stop_dmon
pack && echo "packed $tarball"
cat "$steps"
