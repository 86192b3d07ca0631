#!/usr/bin/env bash
# Session 8, call 3: retune dq8ca_q4gsw's cooperative-matrix plans (M = 512 and 2048, the suite's
# four shapes) with the reworked INT4 path of coopmat_int.comp (16-byte loads, prefetched group
# scales). The table is built from the report on the dev machine (tune --from … --keep-base).
# Usage: bash bench/gpu_s8c.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
sh=(); for m in 512 2048; do for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do sh+=(--shape ${m}x$nk); done; done
step rules timeout 60 qlinear bench --op dq8ca_q4gsw "${sh[@]}" --format json --out "$work/rules.json"
step tune timeout 420 qlinear tune --kernel coopmat --op dq8ca_q4gsw "${sh[@]}" --report "$work/tune-dq8ca_q4gsw.json" --out "$work/table.json"
stop_dmon
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
