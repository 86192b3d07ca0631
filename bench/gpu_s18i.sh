#!/usr/bin/env bash
# Session 18, review call: the table's new 1024-thread configurations forced on the H100 at the K they
# were chosen for (the default conformance grid's shapes are smaller): gemv_dq 1x1024x2g /
# 1x1024x4g / 1x1024x1g / 1x1024x2gp8 (dq8ca ops) and gemv_q4_sg 1x1024x2g (q4gsw), M = 1…3, N odd,
# K = 4096 and 14336, groups 128 and 256, fp16 and fp32 activations.
# Usage: bash bench/gpu_s18i.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
sh=(); for s in 1x97x14336 2x4097x14336 3x33x14336 1x4097x4096 2x65x4096 3x97x4096; do sh+=(--shape $s); done
for g in 1x1024x2g 1x1024x4g 1x1024x1g 1x1024x2gp8; do
  step check-dq-$g timeout 60 qlinear check --kernel gemv --op dq8ca_q4gsw --op dq8ca_q8csw "${sh[@]}" --group 128 --group 256 --gemv $g --out "$work/check-dq-$g.json"
done
step check-q4-1x1024x2g timeout 60 qlinear check --kernel gemv --op q4gsw "${sh[@]}" --group 128 --group 256 --act f16 --gemv 1x1024x2g --out "$work/check-q4-1x1024x2g.json"
stop_dmon
pack && echo "packed $tarball"
cat "$steps"
