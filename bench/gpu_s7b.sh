#!/usr/bin/env bash
# Session 7, second GPU call: (1) gemv_q4_sg with the conflict-free activation layout and K split
# over subgroups: conformance, the built-in rules at M = 1, 2, 4 (same binary), the sweep;
# (2) bisect of the q4gsw M = 32…128 regression: the float cooperative-matrix shader of
# f77aa65 (.gpu/qlinear-old) vs the current one (.gpu/qlinear) vs one change at a time reverted
# (.gpu/qlinear-cs: the epilogue's own staging array; -inl: the double-buffered loop's MMAs
# inlined; -loc: function-local accumulators in that loop), fp16 and q4gsw, built-in rules.
# Usage: bash bench/gpu_s7b.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
nk="4096x4096 6144x4096 28672x4096 4096x14336"
step devices bash -c "qlinear devices --json > '$work/devices.json'"
step check-sg timeout 90 qlinear check --op q4gsw --kernel gemv --gemv 2x128x2g --act f16 --out "$work/check-sg.json"
step check-sg2 timeout 60 qlinear check --op q4gsw --kernel gemv --gemv 1x256x2gs2 --act f16 --out "$work/check-sg2.json"
step check-sg4 timeout 60 qlinear check --op q4gsw --kernel gemv --gemv 1x512x1gs4 --act f16 --out "$work/check-sg4.json"
rargs=(); for m in 32 64; do for s in 4096x4096 4096x14336; do rargs+=(--shape "${m}x$s"); done; done
for bin in qlinear-old qlinear qlinear-cs qlinear-inl qlinear-loc; do
  step "ab-$bin" timeout 60 $bin bench --op fp16 --op q4gsw "${rargs[@]}" --format json --out "$work/ab-$bin.json"
done
dargs=(); for m in 1 2 4; do for s in $nk; do dargs+=(--shape "${m}x$s"); done; done
step decode-rules timeout 90 qlinear bench --op q4gsw "${dargs[@]}" --format json --out "$work/decode-rules.json"
step tune-sg timeout 200 qlinear tune --kernel gemv --op q4gsw --variety sg "${dargs[@]}" --report "$work/tune-sg.json" --out "$work/table-sg.json"
step stats-sg bash -c "for g in 2x256x1g 1x512x2gs2 1x512x1gs4; do qlinear explain --op q4gsw --shape 1x4096x14336 --gemv \$g --stats; done > '$work/explain-sg.txt' 2>&1"
stop_dmon
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
