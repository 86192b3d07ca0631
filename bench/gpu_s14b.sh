#!/usr/bin/env bash
# Session 14, second call: half-block weight loads (h) — the winner of gpu_s14a.sh for INT4 — now
# also for fp16 weights. (1) statistics of fp16 forms; (2) 2x512x1ft64lh (and fp16 2x256x1ft64lhe8)
# forced on awkward shapes for fp16, q4gsw, dq8ca_q4gsw; (3) ablation of 2x512x1ft64lh; (4) more
# configurations for q4gsw at three shapes; (5) the sweeps for the table: q4gsw, dq8ca_q4gsw and
# fp16 at every suite M from 256 to 8192 on the four shapes, against today's plans.
# Usage: bash bench/gpu_s14b.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
pack() { tar -czf "$tarball.tmp" -C "$(dirname "$work")" "$(basename "$work")" && mv "$tarball.tmp" "$tarball"; }
for cfg in 2x256x1ft64l 2x256x1ft64lh 2x512x1ft64lh 1x512x1ft64lh 4x256x1ft64lh 2x256x1ft32lh; do
  step "stats-fp16-$cfg" timeout 20 qlinear explain --op fp16 --shape 2048x4096x4096 --gemv $cfg --stats
done
grep -H "Register Count\|Local Memory\|Shared Memory Size" "$work"/stats-*.log > "$work/stats-summary.txt"; pack
cs=(); for s in 33x67x384 64x4097x256 100x1000x2048 257x33x512 700x131x768 1000x1000x1024 65x1x128; do cs+=(--shape $s); done
step check-2x512x1ft64lh timeout 80 qlinear check --kernel gemv --op fp16 --op q4gsw --op dq8ca_q4gsw "${cs[@]}" --group 128 --group 256 --gemv 2x512x1ft64lh --out "$work/check-2x512x1ft64lh.json"
step check-fp16-2x256x1ft64lhe8 timeout 50 qlinear check --kernel gemv --op fp16 "${cs[@]}" --gemv 2x256x1ft64lhe8 --out "$work/check-fp16-2x256x1ft64lhe8.json"
pack
for a in 0 1 4 5; do
  step "abl-2x512x1ft64lh-$a" timeout 25 qlinear bench --op q4gsw --shape 2048x4096x4096 --kernel gemv --gemv 2x512x1ft64lh --ablate $a --no-back-to-back --format json --out "$work/abl-2x512x1ft64lh-$a.json"
done
pack
only=(); for c in 2x512x1ft64lh 1x512x1ft64lh 1x512x1ft64l 2x512x1ft32lh 4x512x1ft32lh 4x256x1ft32lh 1x256x1ft64lh; do only+=(--only $c); done
step explore-q4 timeout 70 qlinear tune --kernel gemv "${only[@]}" --op q4gsw --shape 2048x4096x4096 --shape 2048x28672x4096 --shape 512x4096x14336 \
  --against-current --time-limit 60 --report "$work/explore-q4.json"
pack
only=(); for c in 2x256x1ft64l 2x256x1ft64lh 2x512x1ft64lh 2x512x1ft64lhe8 4x256x1ft64lh 2x256x1ft64le8; do only+=(--only $c); done
ts=(); for m in 256 512 1024 2048 4096 8192; do for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do ts+=(--shape ${m}x$nk); done; done
step tune-q4 timeout 130 qlinear tune --kernel gemv "${only[@]}" --op q4gsw "${ts[@]}" --against-current --time-limit 120 --report "$work/tune-q4-suite.json"
pack
step tune-dq timeout 130 qlinear tune --kernel gemv "${only[@]}" --op dq8ca_q4gsw "${ts[@]}" --against-current --time-limit 120 --report "$work/tune-dq-suite.json"
pack
only=(); for c in 2x256x1ft64lh 2x512x1ft64lh 1x512x1ft64lh 4x256x1ft64lh 2x512x1ft64lhe8; do only+=(--only $c); done
step tune-fp16 timeout 130 qlinear tune --kernel gemv "${only[@]}" --op fp16 "${ts[@]}" --against-current --time-limit 120 --report "$work/tune-fp16-suite.json"
stop_dmon
pack && echo "packed $tarball"
cat "$steps"
