#!/usr/bin/env bash
# Refine the built-in table at the given M values with every matrix–vector variety compared in
# one sweep (column, activations-in-registers, tensor cores), then — with that table — the gemv
# conformance sweep, the standard suite (clocks recorded), the peers, merge and plot.
# Usage: bash bench/gpu_retune.sh WORKDIR TARBALL OPS MS
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
ops=${3:-q4gsw}
ms=${4:-2}
source "$(dirname "$0")/gpu_common.sh"
stop_dmon
shapes=(); for m in ${ms//,/ }; do for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do shapes+=(--shape "${m}x${nk}"); done; done
oargs=(); for o in ${ops//,/ }; do oargs+=(--op "$o"); done
step tune timeout 260 qlinear tune --kernel gemv "${oargs[@]}" "${shapes[@]}" --keep-base --report "$work/tune-report.json" --out "$work/table.json"
[ -s "$work/table.json" ] && export QLINEAR_TUNING="$work/table.json"
step check-gemv timeout 60 qlinear check --kernel gemv --out "$work/check-gemv.json"
suite_and_peers 260
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
