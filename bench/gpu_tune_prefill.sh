#!/usr/bin/env bash
# Prefill tuning in one GPU call: the ceilings (memory, cache-resident read, MMA), then
# `qlinear tune --kernel coopmat` for FLOAT_OPS and INT_OPS at SHAPES (each op's sweep is its own
# step with its own report, so a step that runs out of time loses only itself).
# Usage: bash bench/gpu_tune_prefill.sh WORKDIR TARBALL [FLOAT_OPS] [INT_OPS] [SHAPES]
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
fops=${3:-fp16,q4gsw}
iops=${4:-dq8ca_q8csw,dq8ca_q4gsw}
shapes=${5:-2048x4096x4096,2048x6144x4096,2048x28672x4096,2048x4096x14336}
source "$(dirname "$0")/gpu_common.sh"
step devices bash -c "qlinear devices --json > '$work/devices.json'"
step ceilings timeout 60 qlinear bench --op fp16 --shape 2048x4096x4096 --format json --out "$work/ceilings-bench.json"
sargs=(); for s in ${shapes//,/ }; do sargs+=(--shape "$s"); done
for op in ${fops//,/ } ${iops//,/ }; do
  step "tune-$op" timeout "${TUNE_S:-200}" qlinear tune --kernel coopmat --op "$op" "${sargs[@]}" --keep-base --report "$work/tune-$op.json" --out "$work/table-$op.json"
done
stop_dmon
grep -h "ceilings" "$work/ceilings.log"
grep -h "best" "$work"/tune-*.log
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
