#!/usr/bin/env bash
# Prefill (cooperative-matrix) kernel experiments in one GPU call:
#  1. ablations — the main loop with parts left out (`--ablate`: 1 global loads, 2 MMAs, 4 shared
#     stores and barriers), timed with `qlinear bench` on fp16 M = 2048, 4096×4096 for the given
#     forced configurations: where the time of a K step goes;
#  2. a forced-configuration conformance check of the reworked loop (double buffering with
#     constant offsets, raster groups) on the check grid;
#  3. the cooperative-matrix sweep (`qlinear tune --kernel coopmat`) for OPS at the given shapes.
# Usage: bash bench/gpu_prefill.sh WORKDIR TARBALL [OPS] [SHAPES] [TUNE_TIMEOUT_S]
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
ops=${3:-fp16,q4gsw}
shapes=${4:-2048x4096x4096,2048x28672x4096}
tune_s=${5:-400}
source "$(dirname "$0")/gpu_common.sh"
step devices bash -c "qlinear devices && qlinear devices --json > '$work/devices.json'"
if [ -z "${SKIP_ABLATE:-}" ]; then
  for cfg in "256x128/4x2 32 1" "128x128/2x2 32 2" "256x128/4x2 16 2"; do
    set -- $cfg
    for abl in 0 1 2 4 5 6 3; do
      name="abl-${1//\//_}-k$2-b$3-a$abl"
      step "$name" timeout 60 qlinear bench --op fp16 --shape 2048x4096x4096 --kernel coopmat --tile "$1" --k-step "$2" --buffers "$3" --ablate "$abl" --format json --out "$work/$name.json"
    done
    step "abl-swz8-${1//\//_}-k$2-b$3" timeout 60 qlinear bench --op fp16 --shape 2048x4096x4096 --shape 2048x28672x4096 --kernel coopmat --tile "$1" --k-step "$2" --buffers "$3" --swizzle 8 --format json --out "$work/swz8-${1//\//_}-k$2-b$3.json"
  done
fi
if [ -z "${SKIP_CHECK:-}" ]; then
  step check-b2-r8 timeout 120 qlinear check --kernel coopmat --tile 128x128/2x2 --buffers 2 --swizzle 8 --out "$work/check-b2-r8.json"
  step check-b1-r4 timeout 120 qlinear check --kernel coopmat --tile 256x128/4x2 --buffers 1 --swizzle 4 --out "$work/check-b1-r4.json"
fi
targs=(); for o in ${ops//,/ }; do targs+=(--op "$o"); done; for s in ${shapes//,/ }; do targs+=(--shape "$s"); done
step tune-coopmat timeout "$tune_s" qlinear tune --kernel coopmat "${targs[@]}" --keep-base --report "$work/tune-coopmat-report.json" --out "$work/table.json"
stop_dmon
# one summary of the ablation rows
python3 bench/summarize_runs.py "$work" > "$work/ablations.txt" 2>&1
cat "$work/ablations.txt"
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
