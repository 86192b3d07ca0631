#!/usr/bin/env bash
# Session 7, third GPU call: (1) gemv_q4_sg with column groups per subgroup (pN) and batched
# staging: conformance, the sweep at M = 1, 2, 4 on the suite shapes, the built-in rules with the
# same binary; (2) the q4gsw M = 32…64 regression, next bisect step: f77aa65's float shader
# (.gpu/qlinear-old) vs the current one vs -nodead (single-buffered path, raster groups and
# ablation code removed) vs -fafb (fetch/stage as in f77aa65: one register set, plain checks).
# Usage: bash bench/gpu_s7c.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
nk="4096x4096 6144x4096 28672x4096 4096x14336"
step devices bash -c "qlinear devices --json > '$work/devices.json'"
for g in 2x256x2gp4 1x512x2gp2s2 1x256x1gp8; do
  step "check-sg-$g" timeout 60 qlinear check --op q4gsw --kernel gemv --gemv "$g" --act f16 --out "$work/check-sg-$g.json"
done
rargs=(); for m in 32 64; do for s in 4096x4096 4096x14336; do rargs+=(--shape "${m}x$s"); done; done
for bin in qlinear-old qlinear qlinear-nodead qlinear-fafb; do
  step "ab-$bin" timeout 60 $bin bench --op q4gsw "${rargs[@]}" --format json --out "$work/ab-$bin.json"
done
dargs=(); for m in 1 2 4; do for s in $nk; do dargs+=(--shape "${m}x$s"); done; done
step decode-rules timeout 90 qlinear bench --op q4gsw "${dargs[@]}" --format json --out "$work/decode-rules.json"
step tune-sg timeout 290 qlinear tune --kernel gemv --op q4gsw --variety sg "${dargs[@]}" --report "$work/tune-sg.json" --out "$work/table-sg.json"
stop_dmon
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
