#!/usr/bin/env bash
# Session 15, last call: dq8ca_q8csw at M = 129…255 (prompts between the matrix–vector rules and
# the int8 form's first measured M = 256): a sweep of the int8 form's table configurations at
# M = 192 and 255 on the four shapes against today's plans, a table from it on top of the committed
# one (rules for M = 129…192 and 193…255 where the form won), and the evidence on that table:
# check --kernel all, torch_check, the suite and the CUDA peers.
# Usage: bash bench/gpu_s15g.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
pack() { tar -czf "$tarball.tmp" -C "$(dirname "$work")" "$(basename "$work")" && mv "$tarball.tmp" "$tarball"; }
only=(); for c in 1x512x1ft128lh 1x512x1ft64lhk256 1x256x1ft64lhk256 1x256x1ft64lh 1x512x1ft64lh; do only+=(--only $c); done
ts=(); for m in 192 255; do for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do ts+=(--shape ${m}x$nk); done; done
step tune-i8-low timeout 70 qlinear tune --kernel gemv "${only[@]}" --op dq8ca_q8csw "${ts[@]}" --against-current --time-limit 60 --report "$work/tune-i8-low.json"
table_on_committed gemv "$work/tune-i8-low.json" 129
cp "$work/table.json" "$work/results-table.json" 2>/dev/null
pack
check_torch
pack
suite_and_peers 285
stop_dmon
pack && echo "packed $tarball"
cat "$steps"
