#!/usr/bin/env bash
# Session 10, sixth GPU call: gemv_frag / gemv_frag_dq for M = 17…32 (four B fragments).
# (1) check with forced configurations on awkward shapes of M = 17…32 for every op; (2) a sweep of
# every op at M = 32 on the suite's shapes against today's plan; (3) M = 24, 32 with the committed
# table and with the sweep's, in one call.
# Usage: bash bench/gpu_s10g.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
cs=(); for s in 17x67x384 24x4097x256 32x1000x2048 32x4096x4096 20x33x512 31x131x768 32x1x128; do cs+=(--shape $s); done
for cfg in 2x128x1f 1x512x2fs16; do
  step "check-$cfg" timeout 90 qlinear check --kernel gemv "${cs[@]}" --group 128 --group 256 --gemv "$cfg" --out "$work/check-frag-$cfg.json"
done
ts=(); for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do ts+=(--shape 32x$nk); done
step tune timeout 230 qlinear tune --kernel gemv --variety frag --op fp16 --op q4gsw --op dq8ca_q4gsw --op dq8ca_q8csw "${ts[@]}" \
  --against-current --time-limit 210 --report "$work/tune-gemv-frag-m32.json"
bs=(); for m in 24 32; do for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do bs+=(--shape ${m}x$nk); done; done
step bench-committed timeout 70 qlinear bench --op fp16 --op q4gsw --op dq8ca_q4gsw --op dq8ca_q8csw "${bs[@]}" --format json --out "$work/bench-committed.json"
table_on_committed gemv "$work/tune-gemv-frag-m32.json"
step bench-table timeout 70 qlinear bench --op fp16 --op q4gsw --op dq8ca_q4gsw --op dq8ca_q8csw "${bs[@]}" --format json --out "$work/bench-table.json"
stop_dmon
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
