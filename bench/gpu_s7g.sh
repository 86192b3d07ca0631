#!/usr/bin/env bash
# Session 7: gemv_q4_sg through L1 with several columns per subgroup and K split over 2…8
# subgroups at 4096×14336 (M = 1, 2), forced, beside the built-in rule (before and after).
# Usage: bash bench/gpu_s7g.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
sh=(--shape 1x4096x14336 --shape 2x4096x14336)
step rules timeout 30 qlinear bench --op q4gsw "${sh[@]}" --format json --out "$work/ks-rules.json"
for g in 2x512x1gls4 2x256x1gls2 2x256x1gls4 2x512x1gls8 2x1024x1gls8 4x512x1gls4 4x512x1gls8 4x1024x1gls8 4x256x1gls4 2x512x2gls4 2x512x1glp2s4 8x512x1gls4; do
  step "ks-$g" timeout 30 qlinear bench --op q4gsw "${sh[@]}" --kernel gemv --gemv "$g" --format json --out "$work/ks-$g.json"
done
step rules2 timeout 30 qlinear bench --op q4gsw "${sh[@]}" --format json --out "$work/ks-rules2.json"
stop_dmon
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
