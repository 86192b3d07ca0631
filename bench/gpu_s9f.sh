#!/usr/bin/env bash
# Session 9, last call: the conformance sweep and torch_check on the final code and table (the
# M = 2 gemv_dq rules and the encode checks came after the suite's call).
# Usage: bash bench/gpu_s9f.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
check_torch
m2=(); for m in 1 2; do for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do m2+=(--shape ${m}x$nk); done; done
step dq-m12 timeout 60 qlinear bench --op dq8ca_q4gsw "${m2[@]}" --format json --out "$work/dq-m12.json"
stop_dmon
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
