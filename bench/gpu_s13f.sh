#!/usr/bin/env bash
# Session 13, last call, on the final kernels and table (q4gsw and dq8ca_q4gsw prefill-form rules):
# gemm_frag_dq's configurations forced on awkward shapes under its own bound (term magnitudes), the
# full conformance sweep, torch_check, the suite and the CUDA peers.
# Usage: bash bench/gpu_s13f.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
pack() { tar -czf "$tarball.tmp" -C "$(dirname "$work")" "$(basename "$work")" && mv "$tarball.tmp" "$tarball"; }
cs=(); for s in 33x67x384 64x4097x256 100x1000x2048 257x33x512 700x131x768 1000x1000x1024 65x1x128; do cs+=(--shape $s); done
for cfg in 2x256x1ft64 2x256x1ft64l 4x256x1ft64l 4x128x1ft32l; do
  step "check-dq-$cfg" timeout 40 qlinear check --kernel gemv --op dq8ca_q4gsw "${cs[@]}" --group 128 --group 256 --gemv "$cfg" --out "$work/check-dq-$cfg.json"
done
pack
check_torch
pack
suite_and_peers 270
pack && echo "packed $tarball"
cat "$steps"
