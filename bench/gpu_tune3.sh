#!/usr/bin/env bash
# Third kernel-development run: the cooperative-matrix tune at large M (big tiles incl. 4x4
# subgroup grids, K steps 16/32/64, single/double buffering) and the matrix–vector tune for q4gsw
# (fp32 and packed-fp16 candidates), each configuration checked before it is timed.
# Usage: bash bench/gpu_tune3.sh WORKDIR TARBALL [COOPMAT_MS] [GEMV_OPS]
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
coop_ms=${3:-2048}
gemv_ops=${4:-q4gsw}
source "$(dirname "$0")/gpu_common.sh"
step devices bash -c "qlinear devices && qlinear devices --json > '$work/devices.json'"
shapes=(); for m in ${coop_ms//,/ }; do for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do shapes+=(--shape "${m}x${nk}"); done; done
step tune-coopmat timeout 360 qlinear tune --kernel coopmat "${shapes[@]}" --out "$work/tuning-coopmat.json" --report "$work/tune-coopmat-report.json"
gops=(); for o in ${gemv_ops//,/ }; do gops+=(--op "$o"); done
step tune-gemv timeout 200 qlinear tune --kernel gemv "${gops[@]}" --out "$work/tuning-gemv.json" --report "$work/tune-gemv-report.json"
stop_dmon
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
