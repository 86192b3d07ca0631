#!/usr/bin/env bash
# Diagnostic: how long pipeline creation + a check take for matrix–vector configurations, then the
# q4gsw gemv tune at M = 1 only (per-candidate check lines with seconds).
# Usage: bash bench/gpu_diag.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
for cfg in 8x128x4x 2x128x2h; do for m in 1 8; do
  step "check-$cfg-m$m" timeout 60 qlinear check --op q4gsw --kernel gemv --act f16 --gemv $cfg --group 128 --shape ${m}x67x512
done; done
shapes=(); for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do shapes+=(--shape "1x${nk}"); done
step tune-gemv-m1 timeout 150 qlinear tune --kernel gemv --op q4gsw "${shapes[@]}" --out "$work/tuning-gemv-m1.json" --report "$work/tune-gemv-q4gsw-m1-report.json"
stop_dmon
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
