#!/usr/bin/env bash
# Session 9, call 1: the activation-quantization pass with enough threads that each holds at most
# two 8-value steps in registers (was 256 threads looping over the row twice). (1) dq8ca ops at
# M = 1, 2, 4, 8, 16, 256, 2048 on the suite's shapes: previous binary (.gpu/qlinear-old, commit
# 2a68f46, the committed suite's) vs this one; (2) the pass's workgroup size forced to 64…1024 at
# M = 1, 8, 2048 (dq8ca_q8csw); (3) the conformance sweep and torch_check on this commit.
# Usage: bash bench/gpu_s9a.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
sh=(); for m in 1 2 4 8 16 256 2048; do for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do sh+=(--shape ${m}x$nk); done; done
step dq-old timeout 150 qlinear-old bench --op dq8ca_q4gsw --op dq8ca_q8csw "${sh[@]}" --format json --out "$work/dq-old.json"
step dq-new timeout 150 qlinear bench --op dq8ca_q4gsw --op dq8ca_q8csw "${sh[@]}" --format json --out "$work/dq-new.json"
sw=(); for m in 1 8 2048; do for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do sw+=(--shape ${m}x$nk); done; done
for t in 64 128 256 512 1024; do
  step "qt-$t" timeout 60 qlinear bench --op dq8ca_q8csw --quant-threads $t "${sw[@]}" --format json --out "$work/qt-$t.json"
done
step dq-new-again timeout 150 qlinear bench --op dq8ca_q4gsw --op dq8ca_q8csw "${sh[@]}" --format json --out "$work/dq-new-again.json"
stop_dmon
step check timeout 150 qlinear check --kernel all --out "$work/check-all-kernels.json"
step torch-check timeout 60 python3 scripts/torch_check.py --qlinear qlinear --out "$work/torch-check.json"
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
