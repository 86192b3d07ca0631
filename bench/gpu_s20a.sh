#!/usr/bin/env bash
# Session 20: (1) the suite and peers on the final table (session 19's split-K rule for fp16
# 1024×6144×4096 had no suite row: s19f's suite finished but the call was cut before packing);
# (2) gemv_frag_dqs (`…fd`) forced for dq8ca_q8csw at large M with many workgroups — the cases
# s19e's sweep did not reach (the fp64 CPU reference now runs rows on all cores).
# Usage: bash bench/gpu_s20a.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
suite_and_peers 400
pack
shapes=(); for s in 128x4097x512 200x4096x1024 256x8192x256 129x333x640; do shapes+=(--shape $s); done
for g in 1x512x1fds16 1x128x2fds2; do
  step check-fd-q8-$g timeout 90 qlinear check --kernel gemv --op dq8ca_q8csw "${shapes[@]}" --gemv $g --out "$work/check-fd-q8-$g.json"
  pack
done
stop_dmon
pack && echo "packed $tarball"
cat "$steps"
