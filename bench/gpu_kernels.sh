#!/usr/bin/env bash
# Kernel-development run on a GPU machine (one call): conformance of the cooperative-matrix and
# matrix–vector kernels (default table, plus forced split-K / single buffering / K step 16), the
# q4gsw decode kernel in packed fp16 vs fp32, then `qlinear tune --kernel coopmat` over the
# Llama-8B shapes (every configuration checked against the reference before it is timed), with
# clocks recorded beside it. Writes WORKDIR and tars it into TARBALL.
# Usage (repository root, static qlinear on PATH): bash bench/gpu_kernels.sh WORKDIR TARBALL [COOPMAT_MS] [OPS]
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
coop_ms=${3:-16,64,256,2048}
ops=${4:-fp16,q4gsw,dq8ca_q4gsw,dq8ca_q8csw}
source "$(dirname "$0")/gpu_common.sh"
step devices bash -c "qlinear devices && qlinear devices --json > '$work/devices.json'"
step check-coopmat timeout 120 qlinear check --kernel coopmat --out "$work/check-coopmat.json"
step check-gemv timeout 60 qlinear check --kernel gemv --out "$work/check-gemv.json"
step check-split timeout 60 qlinear check --kernel coopmat --split-k 4 --group 128 --out "$work/check-coopmat-split4.json"
step check-single timeout 60 qlinear check --kernel coopmat --buffers 1 --k-step 64 --group 64 --group 128 --out "$work/check-coopmat-b1-k64.json"
step check-k16 timeout 60 qlinear check --kernel coopmat --op fp16 --op q4gsw --k-step 16 --out "$work/check-coopmat-k16.json"
dshapes=(); for m in 1 8; do for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do dshapes+=(--shape "${m}x${nk}"); done; done
step bench-q4-f16math timeout 60 qlinear bench --op q4gsw --op fp16 --kernel gemv "${dshapes[@]}" --format md --out "$work/bench-gemv-f16math.json"
step bench-q4-f32math timeout 60 qlinear bench --op q4gsw --kernel gemv --no-f16-math "${dshapes[@]}" --format md --out "$work/bench-gemv-f32math.json"
oparg=(); for o in ${ops//,/ }; do oparg+=(--op "$o"); done
shapes=(); for m in ${coop_ms//,/ }; do for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do shapes+=(--shape "${m}x${nk}"); done; done
step tune-coopmat timeout 330 qlinear tune --kernel coopmat "${oparg[@]}" "${shapes[@]}" --out "$work/tuning-coopmat.json" --report "$work/tune-coopmat-report.json"
stop_dmon
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
