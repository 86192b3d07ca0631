#!/usr/bin/env bash
# Session 16, second call: decode against a same-size read. (1) `qlinear bench` at M = 1 for every
# op on the four suite shapes, each row with `read_floor_us` (a streaming read of exactly its bytes,
# timed the same two ways); (2) matrix–vector sweeps at M = 1 (q4gsw and fp16 at 28672×4096 and
# 4096×14336) against today's plans.
# Usage: bash bench/gpu_s16b.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
pack() { tar -czf "$tarball.tmp" -C "$(dirname "$work")" "$(basename "$work")" && mv "$tarball.tmp" "$tarball"; }
ss=(); for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do ss+=(--shape 1x$nk); done
step bench-m1 timeout 120 qlinear bench "${ss[@]}" --format json --out "$work/bench-m1.json"
pack
step tune-q4-m1 timeout 170 qlinear tune --kernel gemv --op q4gsw --shape 1x28672x4096 --shape 1x4096x14336 --against-current --time-limit 160 --report "$work/tune-q4-m1.json"
pack
step tune-fp16-m1 timeout 110 qlinear tune --kernel gemv --op fp16 --shape 1x28672x4096 --shape 1x4096x14336 --against-current --time-limit 100 --report "$work/tune-fp16-m1.json"
stop_dmon
pack && echo "packed $tarball"
cat "$steps"
