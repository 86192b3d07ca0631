#!/usr/bin/env bash
# Session 8, call 8: with 32-value INT4 loads only where every thread gets one (BN·BK/32 ≥ WG):
# q4gsw's cooperative-matrix conformance sweep, the table's plans at M = 128…512, and a retune of
# q4gsw at M = 128, 256, 512 on the suite's shapes (table built on the dev machine).
# Usage: bash bench/gpu_s8h.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
step check-q4 timeout 90 qlinear check --kernel coopmat --op q4gsw --out "$work/check-q4gsw.json"
sh=(); for m in 128 256 512; do for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do sh+=(--shape ${m}x$nk); done; done
step rules timeout 60 qlinear bench --op q4gsw "${sh[@]}" --format json --out "$work/rules.json"
step tune timeout 470 qlinear tune --kernel coopmat --op q4gsw "${sh[@]}" --report "$work/tune-q4gsw-mid.json" --out "$work/table.json"
stop_dmon
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
