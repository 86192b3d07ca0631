#!/usr/bin/env bash
# Session 15, last call, on the final kernels and table (dq8ca_q8csw's prefill rules on the int8
# form gemm_frag_i8): the full conformance sweep, torch_check, the suite and the CUDA peers (merge,
# plot); then the table's two int8-form configurations not forced before on awkward shapes.
# Usage: bash bench/gpu_s15e.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
pack() { tar -czf "$tarball.tmp" -C "$(dirname "$work")" "$(basename "$work")" && mv "$tarball.tmp" "$tarball"; }
check_torch
pack
suite_and_peers 260
pack
cs=(); for s in 33x67x512 64x4097x256 100x1000x2048 257x33x512 700x131x768 1000x1000x1024 65x1x256; do cs+=(--shape $s); done
for cfg in 1x256x1ft64lhk256 1x256x1ft64lh; do
  step "check-$cfg" timeout 40 qlinear check --kernel gemv --op dq8ca_q8csw "${cs[@]}" --gemv "$cfg" --out "$work/check-$cfg.json"
  pack
done
stop_dmon
pack && echo "packed $tarball"
cat "$steps"
