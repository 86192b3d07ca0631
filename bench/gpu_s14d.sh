#!/usr/bin/env bash
# Session 14, fourth call: 16-value x pieces (q: every one of 512 invocations stages one piece,
# half the x registers; with h one set of scale registers) for the prefill form, aimed at
# 2x512x1ft64lh's 80 bytes of spills at the 128-register cap. (1) statistics; (2) forced checks on
# awkward shapes; (3) the full conformance sweep on this binary (the shader source changed);
# (4) the sweep at M = 1024, 2048 and 4096 on the four shapes, q4gsw and dq8ca_q4gsw,
# against today's plans (the committed table).
# Usage: bash bench/gpu_s14d.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
pack() { tar -czf "$tarball.tmp" -C "$(dirname "$work")" "$(basename "$work")" && mv "$tarball.tmp" "$tarball"; }
for cfg in 2x512x1ft64lh 2x512x1ft64lhq 2x512x1ft64lhqe8 2x512x1ft64lq; do
  step "stats-q4-$cfg" timeout 20 qlinear explain --op q4gsw --shape 2048x4096x4096 --gemv $cfg --stats
done
step "stats-dq-2x512x1ft64lhq" timeout 20 qlinear explain --op dq8ca_q4gsw --shape 2048x4096x4096 --gemv 2x512x1ft64lhq --stats
grep -H "Register Count\|Local Memory\|Shared Memory Size" "$work"/stats-*.log > "$work/stats-summary.txt"; pack
cs=(); for s in 33x67x384 64x4097x256 100x1000x2048 257x33x512 700x131x768 1000x1000x1024 65x1x128; do cs+=(--shape $s); done
step check-2x512x1ft64lhq timeout 70 qlinear check --kernel gemv --op fp16 --op q4gsw --op dq8ca_q4gsw "${cs[@]}" --group 128 --group 256 --gemv 2x512x1ft64lhq --out "$work/check-2x512x1ft64lhq.json"
pack
step check timeout 150 qlinear check --kernel all --out "$work/check-all-kernels.json"
pack
only=(); for c in 2x512x1ft64lh 2x512x1ft64lhq 2x512x1ft64lhqe8; do only+=(--only $c); done
ts=(); for m in 1024 2048 4096; do for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do ts+=(--shape ${m}x$nk); done; done
step tune-q4 timeout 80 qlinear tune --kernel gemv "${only[@]}" --op q4gsw "${ts[@]}" --against-current --time-limit 72 --report "$work/tune-q4-q.json"
pack
step tune-dq timeout 80 qlinear tune --kernel gemv "${only[@]}" --op dq8ca_q4gsw "${ts[@]}" --against-current --time-limit 72 --report "$work/tune-dq-q.json"
stop_dmon
pack && echo "packed $tarball"
cat "$steps"
