#!/usr/bin/env bash
# Session 10, fourth GPU call: gemv_frag for M ≤ 16 (two B fragments past 8 rows) and for
# dq8ca_q4gsw (gemv_frag_dq: B = xq − zp from the quantization pass). (1) check with forced
# configurations on awkward shapes (M = 1…16, N = 1, odd N, K = 128…14336, groups 128 and 256) for
# both ops; (2) a sweep of dq8ca_q4gsw at M = 1, 4, 8, 16 and q4gsw at M = 16 against today's plan;
# (3) decode M = 1…16 of both ops with the committed table and with the sweep's, in one call.
# Usage: bash bench/gpu_s10d.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
cs=(); for s in 1x1x128 3x67x384 8x4097x256 9x33x512 13x1000x2048 16x4096x4096 16x4097x14336 5x63x1024 12x131x768 2x4096x4096; do cs+=(--shape $s); done
for cfg in 2x128x1f 1x512x2fs16 4x256x1fs2; do
  step "check-$cfg" timeout 90 qlinear check --kernel gemv --op q4gsw --op dq8ca_q4gsw "${cs[@]}" --group 128 --group 256 --gemv "$cfg" --out "$work/check-frag-$cfg.json"
done
ts=(); for m in 1 4 8 16; do for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do ts+=(--shape ${m}x$nk); done; done
step tune-dq timeout 200 qlinear tune --kernel gemv --variety frag --op dq8ca_q4gsw "${ts[@]}" \
  --against-current --time-limit 180 --report "$work/tune-gemv-frag-dq.json"
t16=(); for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do t16+=(--shape 16x$nk); done
step tune-q4 timeout 80 qlinear tune --kernel gemv --variety frag --op q4gsw "${t16[@]}" \
  --against-current --time-limit 60 --report "$work/tune-gemv-frag-q4-m16.json"
python3 - "$work" <<'PY'
import json, sys
w = sys.argv[1]
a = json.load(open(f"{w}/tune-gemv-frag-dq.json")); b = json.load(open(f"{w}/tune-gemv-frag-q4-m16.json"))
a["measurements"] += b["measurements"]
json.dump(a, open(f"{w}/tune-gemv-frag-both.json", "w"))
PY
bs=(); for m in 1 2 4 8 12 16; do for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do bs+=(--shape ${m}x$nk); done; done
step bench-committed timeout 120 qlinear bench --op q4gsw --op dq8ca_q4gsw "${bs[@]}" --format json --out "$work/bench-committed.json"
table_on_committed gemv "$work/tune-gemv-frag-both.json"
step bench-table timeout 120 qlinear bench --op q4gsw --op dq8ca_q4gsw "${bs[@]}" --format json --out "$work/bench-table.json"
stop_dmon
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
