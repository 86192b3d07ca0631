#!/usr/bin/env bash
# Session 13, diagnostic: the driver's statistics (registers, local memory, shared memory) of the
# kernel the committed table picks for every op × suite shape × M ∈ {1, 2, 4, 8, 16, 64, 128, 256,
# 2048} — which of today's plans keep arrays in local memory (as gemm_frag did).
# Usage: bash bench/gpu_s13g.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
mkdir -p "$work/stats"
jobs=()
for op in fp16 q4gsw dq8ca_q4gsw dq8ca_q8csw; do for m in 1 2 4 8 16 64 128 256 2048; do for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do
  jobs+=("$op ${m}x$nk")
done; done; done
printf '%s\n' "${jobs[@]}" | xargs -P 8 -L 1 bash -c 'timeout 30 qlinear explain --op "$0" --shape "$1" --stats > "'"$work"'/stats/$0-$1.txt" 2>&1'
for f in "$work"/stats/*.txt; do
  b=$(basename "$f" .txt)
  sh=$(grep -m1 '^chosen:' "$f" | sed 's/^chosen: //')
  st=$(grep -A30 '^statistics of' "$f" | grep -E 'Register Count|Local Memory Size|Shared Memory Size' | awk '{print $NF=="" ? $0 : $0}' | tr -s ' ' | tr '\n' ';')
  echo "$b | $sh | $st"
done > "$work/summary.txt"
stop_dmon
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
wc -l "$work/summary.txt"
