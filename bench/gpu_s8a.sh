#!/usr/bin/env bash
# Session 8, call 1: (a) q4gsw decode M = 4 and 8: the current rules, then gemv_q4_sg sweeps
# (staged and through L1, up to 8 columns per subgroup) on the four suite shapes; (b) where the
# int8 prefill kernels spend their time: ablations (1 no global loads, 2 no MMAs, 4 no stores and
# barriers) of dq8ca_q4gsw and dq8ca_q8csw at M = 2048, 4096², with the table's plans; (c) the
# fp16 M = 128, 28672×4096 case the last suite flagged (median 761 µs, min 172.5), three times.
# Usage: bash bench/gpu_s8a.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
sh=(); for m in 4 8; do for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do sh+=(--shape ${m}x$nk); done; done
step rules-m48 timeout 60 qlinear bench --op q4gsw "${sh[@]}" --format json --out "$work/rules-m48.json"
for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do
  step "tune-sg-$nk" timeout 75 qlinear tune --kernel gemv --op q4gsw --variety sg --shape 4x$nk --shape 8x$nk \
    --report "$work/tune-sg-$nk.json" --out "$work/table-sg-$nk.json"
done
step rules-m48-after timeout 60 qlinear bench --op q4gsw "${sh[@]}" --format json --out "$work/rules-m48-after.json"
for op in dq8ca_q4gsw dq8ca_q8csw; do
  for a in 0 1 2 4 3 5 6; do
    step "abl-$op-$a" timeout 30 qlinear bench --op $op --shape 2048x4096x4096 --ablate $a --format json --out "$work/abl-$op-$a.json"
  done
done
for i in 1 2 3; do
  step "cliff-$i" timeout 30 qlinear bench --op fp16 --shape 128x28672x4096 --shape 64x28672x4096 --shape 256x28672x4096 --format json --out "$work/cliff-$i.json"
done
stop_dmon
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
