#!/usr/bin/env bash
# Session 11, first GPU call: (a) what gpu_s11a.sh prepared — the probe, check --kernel all and
# torch_check on the host-side fixes committed after session 10's evidence call, the decode plans;
# (b) gemv_frag past M = 32 (x-row tiles of 32, ⌈M/32⌉ workgroups per row group) and its K-part
# reduction through a uint array sized for parts 1 … KS − 1: forced configurations checked on
# awkward shapes with M = 33…256, a sweep at M = 64 on the suite's shapes against today's plan
# (the cooperative-matrix kernels), and a bench of M = 33, 48, 64 with the committed table and
# with the sweep's (rules extended down to M = 33), in one call.
# Usage: bash bench/gpu_s11b.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
step devices qlinear devices --json
check_torch
for op in fp16 q4gsw dq8ca_q4gsw dq8ca_q8csw; do for m in 1 8 32; do
  step "explain-$op-$m" qlinear explain --op "$op" --shape ${m}x28672x4096 --json
done; done
cs=(); for s in 33x67x384 64x4097x256 100x1000x2048 256x33x512 48x131x768 65x1x128 40x4096x4096; do cs+=(--shape $s); done
for cfg in 2x128x1f 1x512x2fs16 4x256x1fs2; do
  step "check-$cfg" timeout 60 qlinear check --kernel gemv "${cs[@]}" --group 128 --group 256 --gemv "$cfg" --out "$work/check-frag-$cfg.json"
done
ts=(); for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do ts+=(--shape 64x$nk); done
step tune timeout 200 qlinear tune --kernel gemv --variety frag --op fp16 --op q4gsw --op dq8ca_q4gsw --op dq8ca_q8csw "${ts[@]}" \
  --against-current --time-limit 180 --report "$work/tune-gemv-frag-m64.json"
bs=(); for m in 33 48 64; do for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do bs+=(--shape ${m}x$nk); done; done
step bench-committed timeout 50 qlinear bench --op fp16 --op q4gsw --op dq8ca_q4gsw --op dq8ca_q8csw "${bs[@]}" --format json --out "$work/bench-committed.json"
[ -s "$work/tune-gemv-frag-m64.json" ] && step table qlinear tune --kernel gemv --from "$work/tune-gemv-frag-m64.json" --tuning Tuning/nvidia-hopper.json \
    --keep-base --extend-down-to 33 --name nvidia-hopper --out "$work/table.json"
[ -s "$work/table.json" ] && export QLINEAR_TUNING="$work/table.json"
step bench-table timeout 50 qlinear bench --op fp16 --op q4gsw --op dq8ca_q4gsw --op dq8ca_q8csw "${bs[@]}" --format json --out "$work/bench-table.json"
stop_dmon
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
