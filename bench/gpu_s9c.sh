#!/usr/bin/env bash
# Session 9, call 3: gemv_dq issues each subgroup's first weight loads before it quantizes the
# activations (their latency overlaps the staging). (1) dq8ca ops at M = 1 on the suite's shapes
# with the committed table (Tuning/nvidia-hopper.json, read by both binaries): previous binary
# (.gpu/qlinear-old, commit a0b2106, no early loads) vs this one; (2) a gemv_dq sweep at M = 1
# for both ops; bench/pick_faster.py keeps only the cases where the sweep's best beat this call's
# current plan, and a table is built from those on top of the committed one.
# Usage: bash bench/gpu_s9c.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
sh=(); for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do sh+=(--shape 1x$nk); done
export QLINEAR_TUNING=Tuning/nvidia-hopper.json
step m1-old timeout 60 qlinear-old bench --op dq8ca_q4gsw --op dq8ca_q8csw "${sh[@]}" --format json --out "$work/m1-old.json"
step m1-new timeout 60 qlinear bench --op dq8ca_q4gsw --op dq8ca_q8csw "${sh[@]}" --format json --out "$work/m1-new.json"
step tune timeout 200 qlinear tune --kernel gemv --variety sg --op dq8ca_q4gsw --op dq8ca_q8csw "${sh[@]}" --time-limit 170 --report "$work/tune-gemv-dq-m1.json"
step m1-old-again timeout 60 qlinear-old bench --op dq8ca_q4gsw --op dq8ca_q8csw "${sh[@]}" --format json --out "$work/m1-old-again.json"
step m1-new-again timeout 60 qlinear bench --op dq8ca_q4gsw --op dq8ca_q8csw "${sh[@]}" --format json --out "$work/m1-new-again.json"
step pick python3 bench/pick_faster.py --tune "$work/tune-gemv-dq-m1.json" --bench "$work/m1-new.json" --out "$work/tune-picked.json"
unset QLINEAR_TUNING
table_on_committed gemv "$work/tune-picked.json"
step m1-table timeout 60 qlinear bench --op dq8ca_q4gsw --op dq8ca_q8csw "${sh[@]}" --format json --out "$work/m1-table.json"
stop_dmon
step check timeout 100 qlinear check --kernel gemv --out "$work/check-gemv.json"
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
