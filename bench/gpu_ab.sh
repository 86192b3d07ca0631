#!/usr/bin/env bash
# A/B of two qlinear binaries' cooperative-matrix kernels in one GPU call (same machine, same
# clocks): for each forced configuration, `qlinear bench` with .gpu/qlinear-old then .gpu/qlinear,
# twice, interleaved; then the new binary's ablations (bench --ablate 1, 2, 4, 5).
# Usage: bash bench/gpu_ab.sh WORKDIR TARBALL [OP] [SHAPES]
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
op=${3:-fp16}
shapes=${4:-2048x4096x4096,2048x28672x4096}
cfgs=${CFGS:-"256x128/4x4:32:1 256x128/4x2:32:1 128x128/2x2:32:1 128x128/2x2:32:2 256x128/4x2:16:2"}
ablcfgs=${ABLCFGS:-"256x128/4x2:32:1 128x128/2x2:32:1"}
source "$(dirname "$0")/gpu_common.sh"
sargs=(); for s in ${shapes//,/ }; do sargs+=(--shape "$s"); done
step devices bash -c "qlinear devices --json > '$work/devices.json'"
for rep in 1 2; do
  for cfg in $cfgs; do
    IFS=: read -r tile k b <<< "$cfg"
    for bin in qlinear-old qlinear; do
      name="ab-$bin-${tile//\//_}-k$k-b$b-r$rep"
      step "$name" timeout 60 $bin bench --op "$op" "${sargs[@]}" --kernel coopmat --tile "$tile" --k-step "$k" --buffers "$b" --format json --out "$work/$name.json"
    done
  done
done
for cfg in $ablcfgs; do
  IFS=: read -r tile k b <<< "$cfg"
  for abl in 1 2 4 5; do
    name="abl-${tile//\//_}-k$k-b$b-a$abl"
    step "$name" timeout 60 qlinear bench --op "$op" --shape "${shapes%%,*}" --kernel coopmat --tile "$tile" --k-step "$k" --buffers "$b" --ablate "$abl" --format json --out "$work/$name.json"
  done
done
stop_dmon
python3 bench/summarize_runs.py "$work" > "$work/summary.txt" 2>&1
cat "$work/summary.txt"
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
