#!/usr/bin/env bash
# The tuning run on a GPU machine: devices, then `qlinear tune` for the matrix–vector and the
# cooperative-matrix kernels (each configuration checked against the reference before timing),
# with clocks and power recorded beside it. Writes WORKDIR and tars it into TARBALL.
# Usage (repository root, static qlinear on PATH): bash bench/gpu_tune.sh WORKDIR TARBALL [COOPMAT_MS]
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
coop_ms=${3:-16,64,256,2048}
source "$(dirname "$0")/gpu_common.sh"
step devices bash -c "qlinear devices && qlinear devices --json > '$work/devices.json'"
step tune-gemv timeout 270 qlinear tune --kernel gemv --out "$work/tuning-gemv.json" --report "$work/tune-gemv-report.json"
shapes=()
for m in ${coop_ms//,/ }; do for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do shapes+=(--shape "${m}x${nk}"); done; done
step tune-coopmat timeout 290 qlinear tune --kernel coopmat "${shapes[@]}" --tuning "$work/tuning-gemv.json" --out "$work/tuning-both.json" --report "$work/tune-coopmat-report.json"
stop_dmon
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
