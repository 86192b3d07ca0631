#!/usr/bin/env bash
# Session 19, first call: (1) the device's maxComputeWorkgroupSubgroups (session 18's last fix,
# never read on the H100) and `explain` for the table's 1024-thread rules; (2) the quantization pass
# inside the dispatch (gemv_frag_dqs, `…fd` configurations: the first M workgroups to start
# quantize the rows, every workgroup waits for them) forced on awkward shapes for both dq8ca ops
# (M 1…40, N odd, K multiples of 128 incl. 384 and 1280, groups 128 and 256, both activation
# dtypes; check runs each case after a run on other activations through the same scratch, so stale
# counters fail it), torch_check with one forced; (3) `…fd` configurations against today's plans at
# M = 2, 4, 8, 16 on the four shapes, both dq8ca ops (tune verifies each candidate first).
# Usage: bash bench/gpu_s19a.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
ops=(--op dq8ca_q4gsw --op dq8ca_q8csw)
step devices bash -c "qlinear devices --json > '$work/devices.json'"
for c in "q4gsw 1x4096x14336" "dq8ca_q4gsw 1x4096x14336" "dq8ca_q8csw 1x4096x14336" "dq8ca_q4gsw 2x4096x4096" "dq8ca_q8csw 2x6144x4096" "dq8ca_q8csw 3x4096x4096"; do
  set -- $c
  step "explain-$1-$2" qlinear explain --op "$1" --shape "$2"
done
pack
shapes=(); for s in 1x97x256 2x4097x512 3x64x768 5x130x1024 8x33x4096 9x200x1280 16x4097x512 17x96x256 32x50x1024 33x80x512 40x16x256; do shapes+=(--shape $s); done
for g in 1x512x1fds16 2x256x1fds4 4x128x1fd 1x128x2fds2 2x512x1fds8; do
  step check-fd-$g timeout 60 qlinear check --kernel gemv "${ops[@]}" "${shapes[@]}" --group 128 --group 256 --gemv $g --out "$work/check-fd-$g.json"
done
step torch-check-fd env QLINEAR_GEMV=1x512x1fds16 timeout 60 python3 scripts/torch_check.py --qlinear qlinear --op dq8ca_q4gsw --op dq8ca_q8csw --out "$work/torch-check-fd.json"
pack
only=(); for g in 1x512x1fds16 1x256x1fds8 2x512x1fds16 2x128x1fds4 1x512x1fds8 2x512x1fds8 4x512x1fds16 2x256x1fds4 1x128x1fds4 1x512x2fds16 2x256x1fds8; do only+=(--only $g); done
s=(); for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do s+=(--shape 2x$nk --shape 4x$nk --shape 8x$nk --shape 16x$nk); done
step tune-q4 timeout 135 qlinear tune --kernel gemv --op dq8ca_q4gsw "${s[@]}" "${only[@]}" --against-current --time-limit 125 --report "$work/tune-q4-fd.json"
pack
step tune-q8 timeout 135 qlinear tune --kernel gemv --op dq8ca_q8csw "${s[@]}" "${only[@]}" --against-current --time-limit 125 --report "$work/tune-q8-fd.json"
stop_dmon
pack && echo "packed $tarball"
cat "$steps"
