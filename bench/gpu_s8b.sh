#!/usr/bin/env bash
# Session 8, call 2: (a) coopmat_int's INT4 path with 16-byte weight loads and prefetched group
# scales: the conformance sweep of dq8ca_q4gsw (table plans and forced split-K), then old vs new
# binary (.gpu/qlinear-old = the previous shader) on the suite's M ≥ 16 for dq8ca_q4gsw, the
# ablations of the new kernel at M = 2048, 4096², and a few forced tiles; (b) q4gsw decode M = 4
# and 8 with forced gemv_q4_sg configurations beside the table's rules.
# Usage: bash bench/gpu_s8b.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
step check-q4int timeout 90 qlinear check --kernel coopmat --op dq8ca_q4gsw --out "$work/check-dq8ca_q4gsw.json"
step check-q4int-sk timeout 60 qlinear check --kernel coopmat --op dq8ca_q4gsw --split-k 4 --out "$work/check-dq8ca_q4gsw-sk4.json"
big=(); for m in 16 64 256 1024 2048 8192; do for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do big+=(--shape ${m}x$nk); done; done
step int-old timeout 120 qlinear-old bench --op dq8ca_q4gsw "${big[@]}" --format json --out "$work/int-old.json"
step int-new timeout 120 qlinear bench --op dq8ca_q4gsw "${big[@]}" --format json --out "$work/int-new.json"
for a in 0 1 3 5 6; do
  step "abl-$a" timeout 30 qlinear bench --op dq8ca_q4gsw --shape 2048x4096x4096 --ablate $a --format json --out "$work/abl-$a.json"
done
for t in 128x128/2x2 256x64/4x1 128x64/2x2 256x128/4x2 128x256/2x4; do
  for k in 32; do
    step "tile-${t/\//-}-k$k" timeout 30 qlinear bench --op dq8ca_q4gsw --shape 2048x4096x4096 --shape 2048x28672x4096 --tile $t --k-step $k --format json --out "$work/tile-${t/\//-}-k$k.json"
  done
done
sh=(); for m in 4 8; do for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do sh+=(--shape ${m}x$nk); done; done
step rules-m48 timeout 40 qlinear bench --op q4gsw "${sh[@]}" --format json --out "$work/rules-m48.json"
for g in 4x256x1gl 8x256x1gl 2x256x1gl 4x256x2gl 4x512x1gls4 8x512x1gls4 4x256x1g 8x256x1g; do
  step "sg-$g" timeout 40 qlinear bench --op q4gsw "${sh[@]}" --kernel gemv --gemv "$g" --format json --out "$work/sg-$g.json"
done
stop_dmon
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
