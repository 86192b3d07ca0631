#!/usr/bin/env bash
# Session 15, third call: the sweep behind dq8ca_q8csw's new table rules — the int8 prefill form's
# best configurations of gpu_s15b.sh (1x512x1ft128lh at M ≥ 2048, 1x512x1ft64lhk256 at M = 512)
# and their neighbours at every suite M from 256 to 8192 on the four shapes, against today's plans.
# Usage: bash bench/gpu_s15c.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
pack() { tar -czf "$tarball.tmp" -C "$(dirname "$work")" "$(basename "$work")" && mv "$tarball.tmp" "$tarball"; }
only=(); for c in 1x512x1ft128lh 1x512x1ft64lhk256 1x256x1ft64lh 1x512x1ft64lh 2x512x1ft64lh 1x256x1ft128lh 1x256x1ft64lhk256; do only+=(--only $c); done
for ms in "256 512 1024" "2048 4096 8192"; do
  ts=(); for m in $ms; do for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do ts+=(--shape ${m}x$nk); done; done
  tag=${ms// /-}
  step "tune-i8-$tag" timeout 250 qlinear tune --kernel gemv "${only[@]}" --op dq8ca_q8csw "${ts[@]}" \
    --against-current --time-limit 240 --report "$work/tune-i8-$tag.json"
  pack
done
stop_dmon
pack && echo "packed $tarball"
cat "$steps"
