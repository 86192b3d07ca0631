#!/usr/bin/env bash
# Session 9, call 2: gemv_dq, the dq8ca decode kernel that quantizes the activations itself (no
# quantization pass, one dispatch). (1) dq8ca ops at M = 1, 2, 4, 8 on the suite's shapes with the
# committed table (int8 column kernel after the pass); (2) a gemv_dq sweep at M = 1 (four shapes)
# and M = 8 (the three K = 4096 shapes; at K = 14336 eight int8 rows do not fit 48 KB), its
# rules on top of the committed table (built here); (3) with that table: the same bench, the
# matrix–vector conformance sweep and torch_check.
# Usage: bash bench/gpu_s9b.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
sh=(); for m in 1 2 4 8; do for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do sh+=(--shape ${m}x$nk); done; done
step dq-base timeout 90 qlinear bench --op dq8ca_q4gsw --op dq8ca_q8csw "${sh[@]}" --format json --out "$work/dq-base.json"
ts=(); for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do ts+=(--shape 1x$nk); done
for nk in 4096x4096 6144x4096 28672x4096; do ts+=(--shape 8x$nk); done
step tune timeout 330 qlinear tune --kernel gemv --variety sg --op dq8ca_q4gsw --op dq8ca_q8csw "${ts[@]}" --time-limit 290 --report "$work/tune-gemv-dq.json"
table_on_committed gemv "$work/tune-gemv-dq.json"
step dq-fused timeout 90 qlinear bench --op dq8ca_q4gsw --op dq8ca_q8csw "${sh[@]}" --format json --out "$work/dq-fused.json"
stop_dmon
step check timeout 100 qlinear check --kernel gemv --out "$work/check-gemv.json"
step torch-check timeout 60 python3 scripts/torch_check.py --qlinear qlinear --out "$work/torch-check.json"
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
