#!/usr/bin/env bash
# Session 18, fifth call: 1024-thread workgroups for the M = 1 kernels that split K inside subgroups
# (gemv_q4_sg for q4gsw, gemv_dq for the dq8ca ops) — the sweeps' grids stop at 512 threads. The
# table's own configurations timed beside them (…g at 512) and today's plans (--against-current),
# M = 1 on the four shapes; no table is written here.
# Usage: bash bench/gpu_s18e.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
s=(); for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do s+=(--shape 1x$nk); done
onlyq=(); for g in 1x1024x1g 1x1024x2g 1x1024x4g 2x1024x1g 2x1024x2g 1x1024x1gls4 2x1024x1gls4 2x1024x1gls8 1x1024x2gls4 1x1024x2gs2 1x512x4g 2x512x1gls4; do onlyq+=(--only $g); done
step tune-q4gsw timeout 120 qlinear tune --kernel gemv --op q4gsw "${s[@]}" "${onlyq[@]}" --against-current --time-limit 110 --report "$work/tune-q4gsw-m1.json"
pack
onlyd=(); for g in 1x1024x1g 1x1024x2g 1x1024x4g 2x1024x1g 1x1024x2gp2 1x1024x2gp8 1x1024x2gs2 1x512x2g 1x512x2gp8 1x512x2gp4; do onlyd+=(--only $g); done
step tune-dq4 timeout 100 qlinear tune --kernel gemv --op dq8ca_q4gsw "${s[@]}" "${onlyd[@]}" --against-current --time-limit 90 --report "$work/tune-dq4-m1.json"
pack
step tune-dq8 timeout 100 qlinear tune --kernel gemv --op dq8ca_q8csw "${s[@]}" "${onlyd[@]}" --against-current --time-limit 90 --report "$work/tune-dq8-m1.json"
stop_dmon
pack && echo "packed $tarball"
cat "$steps"
