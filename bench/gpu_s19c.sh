#!/usr/bin/env bash
# Session 19, final call: gemv_frag_dqs (…fd) forced on the awkward shapes again on the final
# shader (its diagnostics constant added after s19a), then the evidence on the final code —
# check --kernel all, torch_check, the suite and the CUDA peers.
# Usage: bash bench/gpu_s19c.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
ops=(--op dq8ca_q4gsw --op dq8ca_q8csw)
shapes=(); for s in 1x97x256 2x4097x512 3x64x768 5x130x1024 8x33x4096 9x200x1280 16x4097x512 17x96x256 32x50x1024 33x80x512 40x16x256; do shapes+=(--shape $s); done
for g in 1x512x1fds16 2x256x1fds4; do
  step check-fd-$g timeout 60 qlinear check --kernel gemv "${ops[@]}" "${shapes[@]}" --group 128 --group 256 --gemv $g --out "$work/check-fd-$g.json"
done
pack
check_torch_suite 260
stop_dmon
pack && echo "packed $tarball"
cat "$steps"
