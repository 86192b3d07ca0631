#!/usr/bin/env bash
# Session 14, third call, on the new table (half-block weight loads in the q4gsw and dq8ca_q4gsw
# prefill rules): dq8ca_q4gsw at M = 4096 (not reached by gpu_s14b.sh's sweep) against the table's
# extended M = 2048 rules, a table from it (QLINEAR_TUNING, rebuilt and committed on the host); the
# full conformance sweep, torch_check, the suite and the CUDA peers; then the table's remaining
# new configurations forced on awkward shapes.
# Usage: bash bench/gpu_s14c.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
pack() { tar -czf "$tarball.tmp" -C "$(dirname "$work")" "$(basename "$work")" && mv "$tarball.tmp" "$tarball"; }
only=(); for c in 2x512x1ft64lh 2x512x1ft64lhe8 2x256x1ft64l 4x256x1ft64lh; do only+=(--only $c); done
ts=(); for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do ts+=(--shape 4096x$nk); done
step tune-dq-4096 timeout 55 qlinear tune --kernel gemv "${only[@]}" --op dq8ca_q4gsw "${ts[@]}" --against-current --time-limit 45 --report "$work/tune-dq-4096.json"
table_on_committed gemv "$work/tune-dq-4096.json"
pack
check_torch
pack
suite_and_peers 260
pack
cs=(); for s in 33x67x384 64x4097x256 100x1000x2048 257x33x512 700x131x768 1000x1000x1024 65x1x128; do cs+=(--shape $s); done
for cfg in 2x512x1ft64lhe8 2x256x1ft64lh; do
  step "check-$cfg" timeout 45 qlinear check --kernel gemv --op q4gsw --op dq8ca_q4gsw "${cs[@]}" --group 128 --group 256 --gemv "$cfg" --out "$work/check-$cfg.json"
  pack
done
stop_dmon
pack && echo "packed $tarball"
cat "$steps"
