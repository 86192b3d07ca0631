#!/usr/bin/env bash
# Prepared in session 11 for the next session (not run): the first GPU run of gemv_frag_xs /
# gemv_frag_dq_xs (the register-fragment kernels with the x rows staged once per workgroup in
# shared memory, XSMEM). (1) forced configurations checked on awkward shapes, M = 1…256, every op
# and dtype, groups 128 and 256; (2) the driver's statistics of two of them; (3) a sweep of the
# staged and unstaged forms at M = 64 and 128 on the suite's shapes against today's plan (a table
# from it: --keep-base --extend-down-to 33).
# Usage: bash bench/gpu_s12a.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
cs=(); for s in 1x67x384 8x4097x256 17x1000x2048 33x67x384 64x4097x256 100x1000x2048 256x33x512 48x131x768 65x1x128 40x4096x4096; do cs+=(--shape $s); done
for cfg in 2x128x1fw 1x256x2fws2 4x128x1fws4; do
  step "check-$cfg" timeout 60 qlinear check --kernel gemv "${cs[@]}" --group 128 --group 256 --gemv "$cfg" --out "$work/check-$cfg.json"
done
for cfg in 2x128x1fw 2x256x1fws2; do step "stats-$cfg" timeout 20 qlinear explain --op q4gsw --shape 128x28672x4096 --gemv "$cfg" --stats; done
ts=(); for m in 64 128; do for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do ts+=(--shape ${m}x$nk); done; done
step tune timeout 330 qlinear tune --kernel gemv --variety frag --variety fragxs --op q4gsw --op dq8ca_q4gsw "${ts[@]}" \
  --against-current --time-limit 310 --report "$work/tune-gemv-fragxs.json"
table_on_committed gemv "$work/tune-gemv-fragxs.json" 33
stop_dmon
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
