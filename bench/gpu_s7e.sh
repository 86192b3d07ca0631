#!/usr/bin/env bash
# Session 7, sixth GPU call: gemv_q4_sg with the activations read through L1 (…gl, no staging)
# beside the staged form: conformance of the new form, the built-in rules at M = 1, 2, and the
# subgroup-split sweep (both forms) at M = 1 and M = 2 on the suite shapes, each M its own run.
# Usage: bash bench/gpu_s7e.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
nk="4096x4096 6144x4096 28672x4096 4096x14336"
step devices bash -c "qlinear devices --json > '$work/devices.json'"
for g in 1x256x2gl 2x512x1glp2 1x256x1glp4s2; do
  step "check-sg-$g" timeout 60 qlinear check --op q4gsw --kernel gemv --gemv "$g" --act f16 --out "$work/check-sg-$g.json"
done
a1=(); for s in $nk; do a1+=(--shape "1x$s"); done
a2=(); for s in $nk; do a2+=(--shape "2x$s"); done
step decode-rules timeout 60 qlinear bench --op q4gsw "${a1[@]}" "${a2[@]}" --format json --out "$work/decode-rules.json"
step tune-m1 timeout 230 qlinear tune --kernel gemv --op q4gsw --variety sg "${a1[@]}" --report "$work/tune-m1.json"
step tune-m2 timeout 150 qlinear tune --kernel gemv --op q4gsw --variety sg "${a2[@]}" --report "$work/tune-m2.json"
stop_dmon
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
