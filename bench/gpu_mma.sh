#!/usr/bin/env bash
# Tensor-core matrix–vector kernel (gemv_mma, fp16 and q4gsw, M ≤ 16) in one GPU call:
# conformance with forced configurations over the check grid (M ≤ 16 runs; fp16 and fp32 scales,
# fp16/fp32 activations, groups 32/64/128, and groups 8/24 for unaligned INT4 rows), the sweep of
# its configurations at M = 2, 8, 16 on the suite's shapes (each checked before it is timed), a
# table that refines the built-in one (`--keep-base`), the gemv check with that table, and the
# decode ops at M = 1…16 on the suite's shapes with it.
# Usage: bash bench/gpu_mma.sh WORKDIR TARBALL [MS]
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
ms=${3:-2,8,16}
source "$(dirname "$0")/gpu_common.sh"
step devices bash -c "qlinear devices && qlinear devices --json > '$work/devices.json'"
for cfg in 32x128x2mp4 64x256x1mp2s4 32x64x2mp3s2 16x128x1m; do
  step "check-$cfg" timeout 120 qlinear check --kernel gemv --op fp16 --op q4gsw --gemv "$cfg" --out "$work/check-$cfg.json"
done
step check-g8-g24 timeout 90 qlinear check --kernel gemv --op q4gsw --group 8 --group 24 --gemv 32x128x2mp2s2 --out "$work/check-g8-g24.json"
shapes=(); for m in ${ms//,/ }; do for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do shapes+=(--shape "${m}x${nk}"); done; done
step tune-mma timeout 400 qlinear tune --kernel gemv --op fp16 --op q4gsw --variety mma "${shapes[@]}" --keep-base --report "$work/tune-mma-report.json" --out "$work/table.json"
if [ -s "$work/table.json" ]; then
  export QLINEAR_TUNING="$work/table.json"
  step explain bash -c "for s in 1x28672x4096 2x28672x4096 8x28672x4096 16x4096x14336; do qlinear explain --op q4gsw --shape \$s; done"
  step check-gemv-table timeout 100 qlinear check --kernel gemv --out "$work/check-gemv-table.json"
fi
dshapes=(); for m in 1 2 4 8 16; do for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do dshapes+=(--shape "${m}x${nk}"); done; done
[ -n "${BENCH_DECODE:-}" ] && step bench-decode timeout 150 bash -c "qlinear bench ${dshapes[*]} --format md --out '$work/bench-decode.json' > '$work/bench-decode.md'"
stop_dmon
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
