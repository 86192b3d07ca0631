#!/usr/bin/env bash
# Session 19, second call: where gemv_frag_dqs's time goes (s19a: 11–34% slower than the pass +
# gemv_frag_dq at M = 2…16). The best …fd configuration of each shape from s19a at M = 2 and 8,
# both dq8ca ops, with the diagnostics of QLINEAR_ABLATE (8: no weight loads before the wait;
# 32: rows published before quantizing — results wrong; 64: tickets by workgroup ID, no atomic;
# 16: a workgroup-scope barrier after the wait; and sums), and today's plans in the same call.
# Usage: bash bench/gpu_s19b.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
ops=(--op dq8ca_q4gsw --op dq8ca_q8csw)
all=(); for nk in 4096x4096 6144x4096 4096x14336 28672x4096; do all+=(--shape 2x$nk --shape 8x$nk); done
step bench-current timeout 120 qlinear bench "${ops[@]}" "${all[@]}" --format json --out "$work/bench-current.json"
pack
for pair in 4096x4096:1x512x1fds16 6144x4096:1x256x1fds8 4096x14336:2x512x1fds16 28672x4096:2x256x1fds8; do
  nk=${pair%%:*}; cfg=${pair##*:}
  for abl in 0 8 16 24 32 64 72 88 96; do
    step "bench-$cfg-$nk-a$abl" env QLINEAR_ABLATE=$abl timeout 60 qlinear bench "${ops[@]}" --shape 2x$nk --shape 8x$nk --gemv $cfg --format json --out "$work/bench-$cfg-$nk-a$abl.json"
  done
  pack
done
step bench-current-2 timeout 120 qlinear bench "${ops[@]}" "${all[@]}" --format json --out "$work/bench-current-2.json"
stop_dmon
pack && echo "packed $tarball"
cat "$steps"
