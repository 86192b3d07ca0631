#!/usr/bin/env bash
# Decode-kernel run (one GPU call): tune the q4gsw matrix–vector kernels (packed-fp16 column
# kernel and gemv_q4_xreg, activations in registers) at M = 1, 2, 4, 8 on the four Llama-8B shapes,
# each configuration checked before it is timed; then, with the resulting table, the gemv
# conformance sweep and every op at M = 1…16 on the suite's shapes (benchmark method: clocks
# warmed, weights rotated out of L2).
# Usage: bash bench/gpu_decode.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
step devices bash -c "qlinear devices && qlinear devices --json > '$work/devices.json'"
shapes=(); for m in 1 2 4 8; do for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do shapes+=(--shape "${m}x${nk}"); done; done
step tune-gemv timeout 300 qlinear tune --kernel gemv --op q4gsw "${shapes[@]}" --out "$work/tuning-gemv.json" --report "$work/tune-gemv-q4gsw-report.json"
export QLINEAR_TUNING="$work/tuning-gemv.json"
step explain bash -c "qlinear explain --op q4gsw --shape 1x28672x4096 && qlinear explain --op q4gsw --shape 8x4096x14336"
step check-gemv timeout 90 qlinear check --kernel gemv --out "$work/check-gemv.json"
dshapes=(); for m in 1 2 4 8 16; do for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do dshapes+=(--shape "${m}x${nk}"); done; done
step bench-decode timeout 150 bash -c "qlinear bench ${dshapes[*]} --format md --out '$work/bench-decode.json' > '$work/bench-decode.md'"
stop_dmon
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
