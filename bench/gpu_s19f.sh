#!/usr/bin/env bash
# Session 19, last call: the table's new fp16 rule (M = 513…1024 at 6144×4096: 128×256/4×4 tiles,
# K step 32, prefetch 2, split-K 2) forced on awkward shapes, then the suite and peers on the
# final table.
# Usage: bash bench/gpu_s19f.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
shapes=(); for s in 1x97x256 17x130x1024 130x300x4096 257x513x384 600x6144x512 1000x257x1280; do shapes+=(--shape $s); done
step check-split-tile timeout 90 qlinear check --kernel coopmat --op fp16 "${shapes[@]}" --tile 128x256/4x4 --k-step 32 --buffers 1 --prefetch 2 --split-k 2 --out "$work/check-split-tile.json"
step explain-fp16-1024x6144x4096 qlinear explain --op fp16 --shape 1024x6144x4096
pack
suite_and_peers 330
stop_dmon
pack && echo "packed $tarball"
cat "$steps"
