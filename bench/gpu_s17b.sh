#!/usr/bin/env bash
# Session 17, second call: (1) gemv_dq with one row's steps held in registers (1eb1dfc, qlinear)
# against 728af00 (qlinear-C) — dq8ca_q4gsw M = 1 on the four shapes, C, D, D, C; (2) gemv_dq
# configurations against today's plans at M = 1 on the new binary: dq8ca_q8csw on the four shapes
# (today: the column kernel and the pass), dq8ca_q4gsw at 6144×4096, 28672×4096, 4096×14336.
# Usage: bash bench/gpu_s17b.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
m1=(); for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do m1+=(--shape 1x$nk); done
step bench-C timeout 60 qlinear-C bench --op dq8ca_q4gsw "${m1[@]}" --no-read-floor --format json --out "$work/bench-C.json"
step bench-D timeout 60 qlinear bench --op dq8ca_q4gsw "${m1[@]}" --no-read-floor --format json --out "$work/bench-D.json"
step bench-D2 timeout 60 qlinear bench --op dq8ca_q4gsw "${m1[@]}" --no-read-floor --format json --out "$work/bench-D2.json"
step bench-C2 timeout 60 qlinear-C bench --op dq8ca_q4gsw "${m1[@]}" --no-read-floor --format json --out "$work/bench-C2.json"
pack
only=(); for g in 1x512x2g 1x512x2gp2 1x512x2gp4 1x512x2gp8 1x512x4g 1x512x4gp4 2x512x2g 1x512x2gs4; do only+=(--only $g); done
step tune-q8 timeout 130 qlinear tune --kernel gemv --op dq8ca_q8csw "${m1[@]}" "${only[@]}" --against-current --time-limit 120 --report "$work/tune-q8.json"
pack
step tune-q4 timeout 110 qlinear tune --kernel gemv --op dq8ca_q4gsw --shape 1x6144x4096 --shape 1x28672x4096 --shape 1x4096x14336 "${only[@]}" --against-current --time-limit 100 --report "$work/tune-q4.json"
stop_dmon
pack && echo "packed $tarball"
cat "$steps"
