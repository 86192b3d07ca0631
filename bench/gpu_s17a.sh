#!/usr/bin/env bash
# Session 17, first call: the dq8ca quantization's row parameters in fp64 and gemv_dq quantizing one
# 8-value step per thread — two binaries in one call: qlinear-A (d7de6aa: session 16's kernels, the
# long divisions) and qlinear (728af00: the new code; a third binary with only part of it did not
# fit the 64 MiB the call carries). (1) `qlinear bench` of both dq8ca ops on the four shapes at
# M = 1 and 4 (A, then C), then A and C again at M = 1 (drift);
# (2) check --kernel gemv and torch_check on the new binary; (3) gemv_dq configurations against
# today's plans: dq8ca_q8csw M = 1 at 28672×4096 (today: the column kernel and the pass) and
# dq8ca_q4gsw M = 1 at 4096² (today: 1x512x2g).
# Usage: bash bench/gpu_s17a.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
ops=(--op dq8ca_q4gsw --op dq8ca_q8csw)
m1=(); m14=()
for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do m1+=(--shape 1x$nk); m14+=(--shape 1x$nk --shape 4x$nk); done
step devices qlinear devices
step bench-A timeout 110 qlinear-A bench "${ops[@]}" "${m14[@]}" --no-read-floor --format json --out "$work/bench-A.json"
step bench-C timeout 110 qlinear bench "${ops[@]}" "${m14[@]}" --no-read-floor --format json --out "$work/bench-C.json"
step bench-A2 timeout 70 qlinear-A bench "${ops[@]}" "${m1[@]}" --no-read-floor --format json --out "$work/bench-A2.json"
step bench-C2 timeout 70 qlinear bench "${ops[@]}" "${m1[@]}" --no-read-floor --format json --out "$work/bench-C2.json"
pack
step check-gemv timeout 150 qlinear check --kernel gemv --out "$work/check-gemv.json"
step torch-check timeout 60 python3 scripts/torch_check.py --qlinear qlinear --out "$work/torch-check.json"
pack
only8=(); for g in 1x512x2g 1x512x2gp4 1x512x2gp8 1x512x2gp16 2x512x2gp8 1x512x4gp8 1x512x2gp8s4; do only8+=(--only $g); done
step tune-q8 timeout 100 qlinear tune --kernel gemv --op dq8ca_q8csw --shape 1x28672x4096 "${only8[@]}" --against-current --time-limit 90 --report "$work/tune-q8.json"
only4=(); for g in 1x512x2g 1x512x4g 2x512x2g 1x256x2g 1x512x2gp2 1x512x2gs4 1x256x4g; do only4+=(--only $g); done
step tune-q4 timeout 90 qlinear tune --kernel gemv --op dq8ca_q4gsw --shape 1x4096x4096 "${only4[@]}" --against-current --time-limit 80 --report "$work/tune-q4.json"
stop_dmon
pack && echo "packed $tarball"
cat "$steps"
