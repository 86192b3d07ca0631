#!/usr/bin/env bash
# Session 18, seventh call: 1024-thread workgroups for the decode batch M = 2 (and 3) — gemv_dq for
# the dq8ca ops (the int8 rows of 2 × 14336 values fit shared memory), gemv_q4_sg for q4gsw — against
# today's plans (gemv_frag / gemv_frag_dq after the pass on most shapes) on the four shapes.
# Usage: bash bench/gpu_s18g.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
s2=(); s23=(); for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do s2+=(--shape 2x$nk); s23+=(--shape 2x$nk --shape 3x$nk); done
onlyd=(); for g in 1x1024x1g 1x1024x2g 1x1024x4g 2x1024x1g 1x1024x2gp2 1x1024x2gp8 1x512x2g 1x512x2gp8; do onlyd+=(--only $g); done
step tune-dq4 timeout 100 qlinear tune --kernel gemv --op dq8ca_q4gsw "${s23[@]}" "${onlyd[@]}" --against-current --time-limit 90 --report "$work/tune-dq4-m2.json"
pack
step tune-dq8 timeout 100 qlinear tune --kernel gemv --op dq8ca_q8csw "${s23[@]}" "${onlyd[@]}" --against-current --time-limit 90 --report "$work/tune-dq8-m2.json"
pack
onlyq=(); for g in 1x1024x1g 1x1024x2g 2x1024x1g 1x1024x1gls4 2x1024x1gls4 1x1024x2gls4 1x512x2g; do onlyq+=(--only $g); done
step tune-q4gsw timeout 90 qlinear tune --kernel gemv --op q4gsw "${s2[@]}" "${onlyq[@]}" --against-current --time-limit 80 --report "$work/tune-q4gsw-m2.json"
stop_dmon
pack && echo "packed $tarball"
cat "$steps"
