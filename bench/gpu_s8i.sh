#!/usr/bin/env bash
# Session 8, final call: q4gsw cooperative-matrix retune at M = 16 and 64 (32-value INT4 loads now
# exist), a table built from it on top of the committed one (Tuning/nvidia-hopper.json), then —
# with that table — the full conformance sweep, torch_check, the standard suite, the peers, merge
# and plot.
# Usage: bash bench/gpu_s8i.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
sh=(); for m in 16 64; do for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do sh+=(--shape ${m}x$nk); done; done
step rules timeout 40 qlinear bench --op q4gsw "${sh[@]}" --format json --out "$work/rules-small.json"
step tune timeout 200 qlinear tune --kernel coopmat --op q4gsw "${sh[@]}" --report "$work/tune-q4gsw-small.json"
table_on_committed coopmat "$work/tune-q4gsw-small.json"
check_torch_suite 240
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
