#!/usr/bin/env bash
# Large-M refinement (one GPU call): `qlinear tune --kernel coopmat` for OPS at M = 8192 on the
# suite's shapes, a table built from that report and the session's committed reports
# (docs/results/h100-tune-coopmat-*-{m2048,m512-m1024}-2026-11-26.json) with --keep-base
# --extend-up, then — with that table — the standard suite, the peers, merge and plot.
# Usage: bash bench/gpu_large_m.sh WORKDIR TARBALL [OPS]
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
ops=${3:-fp16,q4gsw}
source "$(dirname "$0")/gpu_common.sh"
stop_dmon
targs=(); for o in ${ops//,/ }; do targs+=(--op "$o"); done
for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do targs+=(--shape "8192x$nk"); done
step tune timeout 240 qlinear tune --kernel coopmat "${targs[@]}" --keep-base --report "$work/tune-m8192.json" --out "$work/table-m8192.json"
from=(); for f in docs/results/h100-tune-coopmat-*-m2048-2026-11-26.json docs/results/h100-tune-coopmat-*-m512-m1024-2026-11-26.json "$work/tune-m8192.json"; do [ -s "$f" ] && from+=(--from "$f"); done
step table qlinear tune --kernel coopmat "${from[@]}" --tuning .gpu/base-table.json --keep-base --extend-up --name nvidia-hopper --out "$work/table.json"
[ -s "$work/table.json" ] && export QLINEAR_TUNING="$work/table.json"
suite_and_peers 260
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
