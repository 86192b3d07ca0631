#!/usr/bin/env bash
# Session 18, third call (binary 8a9c342's shaders: every variant the table uses is byte-identical to
# session 17's; this session added gemv_frag_dqf / gemv_frag_dqf_xs only). (1) The evidence on the
# final kernels: check --kernel all and torch_check. (2) The dq8ca decode batches' quantization pass
# (quant_act before gemv_frag_dq, the part of M = 8's cost that M = 1's fused kernel does not pay):
# its workgroup size forced to 64, 128, 256 and 1024 threads against the table's (512 at K = 4096,
# 1024 at 14336), M = 4, 8, 16 on the four shapes, both dq8ca ops — default first and last (drift).
# Usage: bash bench/gpu_s18c.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
check_torch
pack
ops=(--op dq8ca_q4gsw --op dq8ca_q8csw)
s=(); for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do s+=(--shape 4x$nk --shape 8x$nk --shape 16x$nk); done
step bench-default timeout 100 qlinear bench "${ops[@]}" "${s[@]}" --no-read-floor --format json --out "$work/bench-default.json"
for t in 64 128 256 1024; do
  step bench-qt$t timeout 100 qlinear bench "${ops[@]}" "${s[@]}" --no-read-floor --quant-threads $t --format json --out "$work/bench-qt$t.json"
  pack
done
step bench-default2 timeout 100 qlinear bench "${ops[@]}" "${s[@]}" --no-read-floor --format json --out "$work/bench-default2.json"
stop_dmon
pack && echo "packed $tarball"
cat "$steps"
