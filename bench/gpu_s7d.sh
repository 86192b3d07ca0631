#!/usr/bin/env bash
# Session 7, fourth GPU call: (1) the float cooperative-matrix fix (plain slot checks in the
# double-buffered loop): conformance, and an A/B against f77aa65's shader (.gpu/qlinear-old) at
# q4gsw/fp16 M = 32, 64, 128; (2) the decode table: every matrix–vector variety at M = 1 (column,
# activations in registers, subgroup-split) and M = 2 (all four), then the refined table
# (--keep-base over the built-in one) and the gemv conformance sweep with it.
# Usage: bash bench/gpu_s7d.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
nk="4096x4096 6144x4096 28672x4096 4096x14336"
step devices bash -c "qlinear devices --json > '$work/devices.json'"
step check-coopmat timeout 60 qlinear check --kernel coopmat --op fp16 --op q4gsw --out "$work/check-coopmat.json"
rargs=(); for m in 32 64 128; do for s in 4096x4096 4096x14336; do rargs+=(--shape "${m}x$s"); done; done
for bin in qlinear-old qlinear; do
  step "ab-$bin" timeout 60 $bin bench --op q4gsw --op fp16 "${rargs[@]}" --format json --out "$work/ab-$bin.json"
done
a1=(); for s in $nk; do a1+=(--shape "1x$s"); done
a2=(); for s in $nk; do a2+=(--shape "2x$s"); done
step tune-m1 timeout 200 qlinear tune --kernel gemv --op q4gsw --variety column --variety xreg --variety sg "${a1[@]}" --report "$work/tune-m1.json"
step tune-m2 timeout 180 qlinear tune --kernel gemv --op q4gsw "${a2[@]}" --report "$work/tune-m2.json"
step table timeout 30 qlinear tune --kernel gemv --from "$work/tune-m1.json" --from "$work/tune-m2.json" --keep-base --out "$work/table.json"
[ -s "$work/table.json" ] && step check-gemv timeout 90 qlinear check --kernel gemv --op q4gsw --tuning "$work/table.json" --out "$work/check-gemv.json"
stop_dmon
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
