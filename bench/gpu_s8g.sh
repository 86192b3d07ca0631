#!/usr/bin/env bash
# Session 8, call 7: coopmat_float's INT4 path with one 16-byte load and one group scale per 32
# values (QV = 1): conformance sweep of q4gsw's cooperative-matrix plans (table and forced split-K),
# old (.gpu/qlinear-old) vs new binary on the suite's M ≥ 16 for q4gsw, and forced large-M
# configurations with K step 64 (which the sweep leaves out for float kernels).
# Usage: bash bench/gpu_s8g.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
step check-q4 timeout 90 qlinear check --kernel coopmat --op q4gsw --out "$work/check-q4gsw.json"
step check-q4-sk timeout 60 qlinear check --kernel coopmat --op q4gsw --split-k 4 --out "$work/check-q4gsw-sk4.json"
big=(); for m in 16 64 256 1024 2048 8192; do for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do big+=(--shape ${m}x$nk); done; done
step q4-old timeout 120 qlinear-old bench --op q4gsw "${big[@]}" --format json --out "$work/q4-old.json"
step q4-new timeout 120 qlinear bench --op q4gsw "${big[@]}" --format json --out "$work/q4-new.json"
for c in "128x256/4x4 32 1 2" "128x256/4x4 64 1 1" "128x128/2x4 64 1 1" "256x128/4x4 64 1 1" "128x128/2x2 64 1 1" "128x256/2x4 64 1 1"; do
  set -- $c
  step "f-${1/\//-}-k$2-b$3-p$4" timeout 40 qlinear bench --op q4gsw --shape 2048x4096x4096 --shape 2048x28672x4096 --shape 512x4096x4096 \
    --tile $1 --k-step $2 --buffers $3 --prefetch $4 --format json --out "$work/f-${1/\//-}-k$2-b$3-p$4.json"
done
stop_dmon
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
