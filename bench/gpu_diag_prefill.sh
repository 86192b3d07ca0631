#!/usr/bin/env bash
# Prefill diagnostics in one GPU call: ceilings (memory, cache-resident read, MMA), pipeline
# statistics of the tuned kernels (`explain --stats`), ablations (bench --ablate 1, 2, 5) of the
# best configurations, and a statistics-recording sweep of fp16 at M = 2048, 4096².
# Usage: bash bench/gpu_diag_prefill.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
step devices bash -c "qlinear devices && qlinear devices --json > '$work/devices.json'"
step ceilings timeout 60 qlinear bench --op fp16 --shape 2048x4096x4096 --format json --out "$work/ceilings-bench.json"
step explain-stats bash -c "for t in 128x256/4x4 256x128/4x4 256x128/4x2 128x128/2x2 192x192/3x3; do for p in 1 2; do echo \"== \$t p\$p\"; qlinear explain --op fp16 --shape 2048x4096x4096 --tile \$t --k-step 32 --buffers 1 --prefetch \$p --stats; done; done"
for cfg in "128x256/4x4 2" "256x128/4x4 1" "256x128/4x2 1"; do
  set -- $cfg
  for abl in 0 1 2 5; do
    name="abl-${1//\//_}-p$2-a$abl"
    step "$name" timeout 60 qlinear bench --op fp16 --shape 2048x4096x4096 --kernel coopmat --tile "$1" --k-step 32 --buffers 1 --prefetch "$2" --ablate "$abl" --format json --out "$work/$name.json"
  done
done
step tune-fp16 timeout 200 qlinear tune --kernel coopmat --op fp16 --shape 2048x4096x4096 --keep-base --report "$work/tune-fp16.json" --out "$work/table-fp16.json"
stop_dmon
python3 bench/summarize_runs.py "$work" > "$work/summary.txt" 2>&1
grep -h "ceilings" "$work/ceilings.log"; cat "$work/summary.txt"; head -60 "$work/explain-stats.log"
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
