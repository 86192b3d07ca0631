#!/usr/bin/env bash
# Session 13, last minutes: the prefill form loading two blocks ahead (unroll 2: three weight
# register sets, two sets of x registers; …x2ft64…) — statistics, forced checks (q4gsw, dq8ca_q4gsw),
# and a small sweep against unroll 1 and today's plans.
# Usage: bash bench/gpu_s13h.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
pack() { tar -czf "$tarball.tmp" -C "$(dirname "$work")" "$(basename "$work")" && mv "$tarball.tmp" "$tarball"; }
for cfg in 2x256x2ft64 2x256x2ft64l 1x512x2ft64 4x256x2ft64l; do
  step "stats-$cfg" timeout 20 qlinear explain --op q4gsw --shape 2048x4096x4096 --gemv $cfg --stats
done
grep -H "Register Count\|Local Memory\|Shared Memory Size" "$work"/stats-*.log > "$work/stats-summary.txt"
cs=(); for s in 33x67x384 64x4097x256 100x1000x2048 257x33x512 700x131x768 1000x1000x1024 65x1x128; do cs+=(--shape $s); done
step check-2x256x2ft64 timeout 45 qlinear check --kernel gemv --op q4gsw --op dq8ca_q4gsw "${cs[@]}" --group 128 --group 256 --gemv 2x256x2ft64 --out "$work/check-2x256x2ft64.json"
pack
only=(); for c in 2x256x1ft64 2x256x2ft64 2x256x1ft64l 2x256x2ft64l 4x256x1ft64l 4x256x2ft64l 1x512x2ft64 2x512x2ft64l; do only+=(--only $c); done
step tune timeout 110 qlinear tune --kernel gemv "${only[@]}" --op q4gsw --op dq8ca_q4gsw \
  --shape 2048x4096x4096 --shape 2048x28672x4096 --shape 512x28672x4096 --shape 2048x4096x14336 \
  --against-current --time-limit 100 --report "$work/tune-pd2.json"
stop_dmon
pack && echo "packed $tarball"
cat "$steps"
