#!/usr/bin/env bash
# Double-buffered (stage-first) float coopmat loop in one GPU call: conformance (coopmat check
# with the built-in table and with forced double-buffered tiles), ablations of two double-buffered
# configurations, and the fp16 sweep at M = 2048 (statistics recorded).
# Usage: bash bench/gpu_b2.sh WORKDIR TARBALL [TUNE_OPS] [TUNE_SHAPES]
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
tops=${3:-fp16}
tshapes=${4:-2048x4096x4096,2048x28672x4096}
source "$(dirname "$0")/gpu_common.sh"
step devices bash -c "qlinear devices --json > '$work/devices.json'"
step check-table timeout 90 qlinear check --kernel coopmat --out "$work/check-table.json"
step check-b2-128 timeout 60 qlinear check --kernel coopmat --tile 128x128/2x2 --buffers 2 --out "$work/check-b2-128.json"
step check-b2-k16 timeout 60 qlinear check --kernel coopmat --tile 128x256/4x4 --k-step 16 --buffers 2 --out "$work/check-b2-k16.json"
for cfg in "128x256/4x4 16" "128x128/2x2 32" "256x128/4x4 16"; do
  set -- $cfg
  for abl in 0 1 2 5; do
    name="abl-${1//\//_}-k$2-b2-a$abl"
    step "$name" timeout 60 qlinear bench --op fp16 --shape 2048x4096x4096 --kernel coopmat --tile "$1" --k-step "$2" --buffers 2 --ablate "$abl" --format json --out "$work/$name.json"
  done
done
targs=(); for o in ${tops//,/ }; do targs+=(--op "$o"); done; for s in ${tshapes//,/ }; do targs+=(--shape "$s"); done
step tune timeout "${TUNE_S:-240}" qlinear tune --kernel coopmat "${targs[@]}" --keep-base --report "$work/tune.json" --out "$work/table.json"
stop_dmon
python3 bench/summarize_runs.py "$work" > "$work/summary.txt" 2>&1
cat "$work/summary.txt"
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
