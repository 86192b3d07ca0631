#!/usr/bin/env bash
# Session 15, first call: the int8 prefill form for dq8ca_q8csw (gemm_frag_i8: int8 weight words
# as A fragments in registers, 16×8×32 s8 MMAs, x staged in the MMAs' K order for coopMatLoad).
# (1) the int8 fragment probe (`qlinear devices --json`); (2) the driver's statistics of its
# configurations; (3) the form forced on awkward shapes; (4) a sweep of 16 configurations at
# M = 512 and 2048 against today's plans (the cooperative-matrix kernel) — whose `unstable` flags
# and prepare_s also show whether session 14's benchmark change (pipelines built before the
# warm-up) holds on the GPU.
# Usage: bash bench/gpu_s15a.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
pack() { tar -czf "$tarball.tmp" -C "$(dirname "$work")" "$(basename "$work")" && mv "$tarball.tmp" "$tarball"; }
step devices timeout 60 qlinear devices --json
cp "$work/devices.log" "$work/devices.json"
if ! grep -q 'int8FragmentLayout.*mma16832s8' "$work/devices.json"; then
  # The probe crashed or found another layout: the rest runs without it (the sweep's current
  # plans still show the benchmark change).
  echo "int8 layout not mma16832s8: QLINEAR_INT8_PROBE=0 from here" | tee -a "$steps"
  QLINEAR_INT8_PROBE=0 step devices-noprobe timeout 60 qlinear devices --json
  export QLINEAR_INT8_PROBE=0
fi
pack
for cfg in 2x512x1ft64lh 2x512x1ft64l 2x256x1ft64l 2x256x1ft64lh 4x256x1ft64lh 4x256x1ft64l 1x512x1ft64lh 2x256x1ft32l; do
  step "stats-$cfg" timeout 20 qlinear explain --op dq8ca_q8csw --shape 2048x4096x4096 --gemv $cfg --stats
done
grep -H "Register Count\|Local Memory\|Shared Memory Size\|gemm_frag_i8\|rror" "$work"/stats-*.log > "$work/stats-summary.txt"; pack
cs=(); for s in 33x67x384 64x4097x256 100x1000x2048 257x33x512 700x131x768 1000x1000x1024 65x1x128 129x4096x4096; do cs+=(--shape $s); done
for cfg in 2x512x1ft64lh 2x256x1ft64l 1x128x1ft32l 4x256x1ft64lh; do
  step "check-$cfg" timeout 60 qlinear check --kernel gemv --op dq8ca_q8csw "${cs[@]}" --gemv "$cfg" --out "$work/check-$cfg.json"
  pack
done
only=(); for c in 1x256x1ft64l 1x256x1ft64lh 2x256x1ft64l 2x256x1ft64lh 4x256x1ft64l 4x256x1ft64lh 1x512x1ft64l 1x512x1ft64lh 2x512x1ft64l 2x512x1ft64lh 2x256x1ft32l 2x256x1ft32lh 4x128x1ft64l 4x128x1ft64lh 2x128x1ft64l 4x512x1ft32lh; do only+=(--only $c); done
ts=(); for s in 2048x4096x4096 2048x6144x4096 2048x28672x4096 2048x4096x14336 512x4096x4096 512x28672x4096; do ts+=(--shape $s); done
step tune-i8 timeout 200 qlinear tune --kernel gemv "${only[@]}" --op dq8ca_q8csw "${ts[@]}" \
  --against-current --time-limit 190 --report "$work/tune-i8.json"
stop_dmon
pack && echo "packed $tarball"
cat "$steps"
