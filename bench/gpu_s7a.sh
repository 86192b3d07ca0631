#!/usr/bin/env bash
# Session 7, first GPU call: (1) the q4gsw M = 32…128 regression — built-in rules with three
# binaries (.gpu/qlinear-old: f77aa65's cooperative-matrix shaders, .gpu/qlinear-head: f11f3e7,
# .gpu/qlinear: the candidate fix), interleaved, twice; (2) the subgroup-split INT4 decode kernel
# (gemv_q4_sg): conformance, then a sweep of its configurations at M = 1, 2, 4 on the suite
# shapes, and the built-in rules' M = 1, 2, 4 with the same binary; (3) the launch floor (tiny
# shapes); (4) the tiled fallback with cooperative matrices disabled (fp16, q4gsw, M = 2048);
# (5) the float cooperative-matrix conformance sweep for the changed shader.
# Usage: bash bench/gpu_s7a.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
nk="4096x4096 6144x4096 28672x4096 4096x14336"
step devices bash -c "qlinear devices --json > '$work/devices.json'"
step check-sg timeout 90 qlinear check --op q4gsw --kernel gemv --gemv 2x128x4g --act f16 --out "$work/check-sg.json"
step check-sg1 timeout 60 qlinear check --op q4gsw --kernel gemv --gemv 1x256x8g --act f16 --out "$work/check-sg1.json"
step check-coopmat timeout 150 qlinear check --kernel coopmat --op fp16 --op q4gsw --out "$work/check-coopmat.json"
# (1) regression A/B
rargs=(); for m in 32 64 128; do for s in $nk; do rargs+=(--shape "${m}x$s"); done; done
for rep in 1 2; do
  for bin in qlinear-old qlinear-head qlinear; do
    step "ab-$bin-r$rep" timeout 90 $bin bench --op q4gsw "${rargs[@]}" --format json --out "$work/ab-$bin-r$rep.json"
  done
done
# (2) decode: built-in rules, then the sweep
dargs=(); for m in 1 2 4; do for s in $nk; do dargs+=(--shape "${m}x$s"); done; done
step decode-rules timeout 90 qlinear bench --op q4gsw "${dargs[@]}" --format json --out "$work/decode-rules.json"
step tune-sg timeout 240 qlinear tune --kernel gemv --op q4gsw --variety sg "${dargs[@]}" --report "$work/tune-sg.json" --out "$work/table-sg.json"
# (3) launch floor
step floor timeout 60 qlinear bench --op fp16 --op q4gsw --shape 1x128x128 --shape 1x4096x128 --shape 16x128x128 --format json --out "$work/floor.json"
# (4) tiled fallback
targs=(); for s in $nk; do targs+=(--shape "2048x$s"); done
step tiled timeout 90 qlinear bench --no-coopmat --kernel tiled --op fp16 --op q4gsw "${targs[@]}" --format json --out "$work/tiled.json"
step stats-sg bash -c "qlinear explain --op q4gsw --shape 1x28672x4096 --gemv 2x128x4g --stats > '$work/explain-sg.txt' 2>&1; qlinear explain --op q4gsw --shape 1x28672x4096 --stats >> '$work/explain-sg.txt' 2>&1"
stop_dmon
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
