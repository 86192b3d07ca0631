#!/usr/bin/env bash
# Session 12, final evidence on the committed table (q4gsw prefill on gemm_frag at M ≥ 129):
# check --kernel all (the table's gemm_frag rules included), torch_check, a forced prefill-form
# configuration on awkward shapes, the suite + CUDA peers, merge and plot. The tarball is rewritten
# after every step, so a call cut short still returns what ran.
# Usage: bash bench/gpu_s12e.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
pack() { tar -czf "$tarball.tmp" -C "$(dirname "$work")" "$(basename "$work")" && mv "$tarball.tmp" "$tarball"; }
step stats-m2048 timeout 20 qlinear explain --op q4gsw --shape 2048x4096x4096 --stats
check_torch; pack
cs=(); for s in 129x67x384 256x4097x256 300x1000x2048 1000x131x768 2049x256x1024; do cs+=(--shape $s); done
step check-gemm timeout 60 qlinear check --kernel gemv --op fp16 --op q4gsw "${cs[@]}" --group 128 --group 256 --gemv 2x512x1ft64le2 --out "$work/check-gemm.json"; pack
suite_and_peers 280
stop_dmon
pack && echo "packed $tarball"
cat "$steps"
