#!/usr/bin/env bash
# Session 16, last call: a short sweep of the subgroup-split INT4 decode kernel at M = 1 on
# 4096×14336 (77% of a same-size read in s16b) against today's plan, a table from it on top of the
# committed one (a rule only where the sweep won), and the evidence on the final code: check
# --kernel all, torch_check, the suite (now with each M = 1 row's same-size read) and the CUDA peers.
# Usage: bash bench/gpu_s16c.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
pack() { tar -czf "$tarball.tmp" -C "$(dirname "$work")" "$(basename "$work")" && mv "$tarball.tmp" "$tarball"; }
step tune-q4-m1-sg timeout 75 qlinear tune --kernel gemv --variety sg --op q4gsw --shape 1x4096x14336 --against-current --time-limit 65 --report "$work/tune-q4-m1-sg.json"
table_on_committed gemv "$work/tune-q4-m1-sg.json"
cp "$work/table.json" "$work/results-table.json" 2>/dev/null
pack
check_torch
pack
suite_and_peers 300
stop_dmon
pack && echo "packed $tarball"
cat "$steps"
