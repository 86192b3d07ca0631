#!/usr/bin/env bash
# Session 7, last GPU call: the conformance sweep of every kernel and torch_check on the final
# code, then gemv_q4_sg reading activations through L1 with K split over 2…8 subgroups at
# 4096×14336 (M = 1, 2), forced, beside the built-in rule.
# Usage: bash bench/gpu_s7f.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
step devices bash -c "qlinear devices --json > '$work/devices.json'"
step check timeout 150 qlinear check --kernel all --out "$work/check-all-kernels.json"
step torch-check timeout 60 python3 scripts/torch_check.py --qlinear qlinear --out "$work/torch-check.json"
sh=(--shape 1x4096x14336 --shape 2x4096x14336)
step rules timeout 30 qlinear bench --op q4gsw "${sh[@]}" --format json --out "$work/ks-rules.json"
for g in 1x256x1gls2 1x256x1gls4 1x256x2gls4 1x512x1gls4 1x512x1gls8 1x512x2gls8 2x512x1gls4 1x1024x1gls8; do
  step "ks-$g" timeout 30 qlinear bench --op q4gsw "${sh[@]}" --kernel gemv --gemv "$g" --format json --out "$work/ks-$g.json"
done
step rules2 timeout 30 qlinear bench --op q4gsw "${sh[@]}" --format json --out "$work/ks-rules2.json"
stop_dmon
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
