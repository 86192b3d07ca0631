#!/usr/bin/env bash
# Second kernel-development run: conformance of split-K and the other forced paths, the
# matrix–vector tune for q4gsw/fp16 (packed-fp16 INT4 kernel), and the cooperative-matrix tune
# at the given M values (split-K candidates for small M). Writes WORKDIR, tars it into TARBALL.
# Usage: bash bench/gpu_tune2.sh WORKDIR TARBALL [COOPMAT_MS] [GEMV_OPS]
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
coop_ms=${3:-16,64,256}
gemv_ops=${4:-q4gsw}
source "$(dirname "$0")/gpu_common.sh"
step devices bash -c "qlinear devices && qlinear devices --json > '$work/devices.json'"
step check-split4 timeout 60 qlinear check --kernel coopmat --split-k 4 --group 128 --out "$work/check-coopmat-split4.json"
step check-split3 timeout 45 qlinear check --kernel coopmat --op q4gsw --op dq8ca_q4gsw --split-k 3 --k-step 64 --group 64 --out "$work/check-coopmat-split3-k64.json"
shapes=(); for m in ${coop_ms//,/ }; do for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do shapes+=(--shape "${m}x${nk}"); done; done
step tune-coopmat timeout 400 qlinear tune --kernel coopmat "${shapes[@]}" --out "$work/tuning-coopmat.json" --report "$work/tune-coopmat-report.json"
gops=(); for o in ${gemv_ops//,/ }; do gops+=(--op "$o"); done
step tune-gemv timeout 120 qlinear tune --kernel gemv "${gops[@]}" --out "$work/tuning-gemv.json" --report "$work/tune-gemv-report.json"
stop_dmon
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
