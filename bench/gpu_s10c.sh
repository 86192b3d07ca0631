#!/usr/bin/env bash
# Session 10, third GPU call: gemv_frag with non-diverging activation loads (rows ≥ M load row
# M − 1 and are zeroed): its check in two forced configurations, a sweep at M = 1, 2, 4, 8 on the
# suite's shapes against today's plan (K over up to 16 subgroups), and q4gsw decode M = 1…8 with the
# committed table and with the sweep's table, in one call.
# Usage: bash bench/gpu_s10c.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
for cfg in 2x128x1f 1x512x2fs16; do
  step "check-$cfg" timeout 60 qlinear check --kernel gemv --op q4gsw --group 128 --group 256 --gemv "$cfg" --out "$work/check-frag-$cfg.json"
done
ts=(); for m in 1 2 4 8; do for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do ts+=(--shape ${m}x$nk); done; done
step tune timeout 330 qlinear tune --kernel gemv --variety frag --op q4gsw "${ts[@]}" \
  --against-current --time-limit 300 --report "$work/tune-gemv-frag.json"
bs=(); for m in 1 2 3 4 5 6 7 8; do for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do bs+=(--shape ${m}x$nk); done; done
step bench-committed timeout 100 qlinear bench --op q4gsw "${bs[@]}" --format json --out "$work/q4-committed.json"
table_on_committed gemv "$work/tune-gemv-frag.json"
step bench-table timeout 100 qlinear bench --op q4gsw "${bs[@]}" --format json --out "$work/q4-table.json"
stop_dmon
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
