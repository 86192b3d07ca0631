#!/usr/bin/env bash
# Decode-kernel iteration (one GPU call): the q4gsw matrix–vector tune at M = 1 (column and
# activations-in-registers candidates, each checked first), the table rebuilt from it and the
# committed M = 8 report, then with that table the gemv conformance sweep and q4gsw at M = 1…16.
# Usage: bash bench/gpu_decode2.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
shapes=(); for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do shapes+=(--shape "1x${nk}"); done
step tune-gemv-m1 timeout 200 qlinear tune --kernel gemv --op q4gsw "${shapes[@]}" --report "$work/tune-gemv-q4gsw-m1-report.json"
step table qlinear tune --kernel gemv --from "$work/tune-gemv-q4gsw-m1-report.json" --from docs/results/h200-tune-gemv-q4gsw-f16math-m8-2026-11-26.json --out "$work/table.json"
export QLINEAR_TUNING="$work/table.json"
step check-gemv timeout 90 qlinear check --kernel gemv --out "$work/check-gemv.json"
dshapes=(); for m in 1 2 4 8 16; do for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do dshapes+=(--shape "${m}x${nk}"); done; done
step bench-decode timeout 90 bash -c "qlinear bench --op q4gsw ${dshapes[*]} --format md --out '$work/bench-decode-q4gsw.json' > '$work/bench-decode-q4gsw.md'"
stop_dmon
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
