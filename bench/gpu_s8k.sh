#!/usr/bin/env bash
# Session 8, final call (replaces gpu_s8i's evidence): the int8 column kernel now takes M ≤ 16 where
# a tuning rule covers it (the H100 table's dq8ca M ≥ 2 rules do). (1) dq8ca ops at M = 9, 12, 16
# on the suite's shapes: previous binary (.gpu/qlinear-old: cooperative-matrix kernels there) vs
# this one (int8 column kernel); (2) a column-kernel sweep for dq8ca at M = 16, its rules added on
# top of the committed table (built here); (3) with that table: the full conformance sweep,
# torch_check, the standard suite, the peers, merge and plot.
# Usage: bash bench/gpu_s8k.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
sh=(); for m in 9 12 16; do for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do sh+=(--shape ${m}x$nk); done; done
step dq-old timeout 60 qlinear-old bench --op dq8ca_q4gsw --op dq8ca_q8csw "${sh[@]}" --format json --out "$work/dq-m9-16-old.json"
step dq-new timeout 60 qlinear bench --op dq8ca_q4gsw --op dq8ca_q8csw "${sh[@]}" --format json --out "$work/dq-m9-16-new.json"
t16=(); for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do t16+=(--shape 16x$nk); done
step tune timeout 120 qlinear tune --kernel gemv --variety column --op dq8ca_q4gsw --op dq8ca_q8csw "${t16[@]}" --report "$work/tune-gemv-dq8ca-m16.json"
table_on_committed gemv "$work/tune-gemv-dq8ca-m16.json"
check_torch_suite 240
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
