#!/usr/bin/env bash
# Session 15, fourth call: dq8ca_q4gsw's int8 prefill form (gemm_frag_i8_q4: INT4 as 16·(q − 8)
# int8 bytes, int8 MMAs, exact int32 sums per group × the fp32 scale). (1) the driver's
# statistics; (2) forced checks on awkward shapes, groups 128 and 256; (3) the sweep behind the
# table: 6 int8-form configurations at every suite M 256…8192 on the four shapes against today's
# plans (gemm_frag_dq, the f16 form).
# Usage: bash bench/gpu_s15d.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
pack() { tar -czf "$tarball.tmp" -C "$(dirname "$work")" "$(basename "$work")" && mv "$tarball.tmp" "$tarball"; }
for cfg in 1x512x1ft64li 2x512x1ft64li 1x512x1ft64lik256 1x256x1ft128li 1x512x1ft128li 2x256x1ft64li; do
  step "stats-$cfg" timeout 20 qlinear explain --op dq8ca_q4gsw --shape 2048x4096x4096 --gemv $cfg --stats
done
grep -H "Register Count\|Shared Memory Size\|rror" "$work"/stats-*.log > "$work/stats-summary.txt"; pack
cs=(); for s in 33x67x512 64x4097x256 100x1000x2048 257x33x512 700x131x768 1000x1000x1024 65x1x256; do cs+=(--shape $s); done
for cfg in 1x512x1ft64li 1x512x1ft64lik256 1x256x1ft128li; do
  step "check-$cfg" timeout 50 qlinear check --kernel gemv --op dq8ca_q4gsw "${cs[@]}" --group 128 --group 256 --gemv "$cfg" --out "$work/check-$cfg.json"
  pack
done
only=(); for c in 1x512x1ft64li 2x512x1ft64li 1x512x1ft64lik256 1x256x1ft128li 1x512x1ft128li 2x256x1ft64li; do only+=(--only $c); done
for ms in "256 512 1024" "2048 4096 8192"; do
  ts=(); for m in $ms; do for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do ts+=(--shape ${m}x$nk); done; done
  tag=${ms// /-}
  step "tune-q4i8-$tag" timeout 200 qlinear tune --kernel gemv "${only[@]}" --op dq8ca_q4gsw "${ts[@]}" \
    --against-current --time-limit 190 --report "$work/tune-q4i8-$tag.json"
  pack
done
stop_dmon
pack && echo "packed $tarball"
cat "$steps"
