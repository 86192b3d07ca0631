#!/usr/bin/env bash
# Session 13, fifth call: gemm_frag_dq, the prefill form for dq8ca_q4gsw (B = the quantization
# pass's xq − zp, exact in fp16; A = (q − 8) × the fp16 group scale) — first GPU run: the driver's
# statistics, forced checks on awkward shapes, then the q4gsw sweep's nine configurations at every
# suite M from 256 to 8192 against today's plans (coopmat_int).
# Usage: bash bench/gpu_s13e.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
pack() { tar -czf "$tarball.tmp" -C "$(dirname "$work")" "$(basename "$work")" && mv "$tarball.tmp" "$tarball"; }
for cfg in 2x256x1ft64l 4x256x1ft64l 2x512x1ft64l 1x512x1ft64; do
  step "stats-dq-$cfg" timeout 20 qlinear explain --op dq8ca_q4gsw --shape 2048x4096x4096 --gemv $cfg --stats
done
grep -H "Register Count\|Local Memory\|Shared Memory Size" "$work"/stats-dq-*.log > "$work/stats-summary.txt"
cs=(); for s in 33x67x384 64x4097x256 100x1000x2048 257x33x512 700x131x768 1000x1000x1024 65x1x128; do cs+=(--shape $s); done
for cfg in 2x256x1ft64l 4x256x1ft64l 2x512x1ft64le2 4x128x1ft32; do
  step "check-dq-$cfg" timeout 40 qlinear check --kernel gemv --op dq8ca_q4gsw "${cs[@]}" --group 128 --group 256 --gemv "$cfg" --out "$work/check-dq-$cfg.json"
done
pack
only=(); for c in 4x256x1ft64l 2x256x1ft64l 2x256x1ft64 2x512x1ft64l 2x512x1ft64le2 1x512x1ft64 1x512x1ft64l 4x128x1ft32 4x128x1ft32l; do only+=(--only $c); done
ts=(); for m in 256 512 1024 2048 4096 8192; do for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do ts+=(--shape ${m}x$nk); done; done
step tune-dq timeout 250 qlinear tune --kernel gemv "${only[@]}" --op dq8ca_q4gsw "${ts[@]}" \
  --against-current --time-limit 235 --report "$work/tune-dq-suite.json"
stop_dmon
pack && echo "packed $tarball"
cat "$steps"
