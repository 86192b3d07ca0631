#!/usr/bin/env bash
# Decode-kernel run (one GPU call): the q4gsw matrix–vector tune (packed-fp16 column kernel and
# gemv_q4_xreg, activations in registers) at the given M values on the four Llama-8B shapes, each
# configuration checked before it is timed; the table rebuilt from that report plus any earlier
# reports given (`qlinear tune --from`, one report per (op, M)); then, with that table, the gemv
# conformance sweep and the decode ops at M = 1…16 on the suite's shapes (benchmark method: clocks
# warmed, weights rotated out of L2).
# Usage: bash bench/gpu_decode.sh WORKDIR TARBALL [MS] [EARLIER_REPORT…]
#   MS: comma-separated M values to tune (default 1,2,4,8; a four-M sweep with its checks needs
#   > 300 s: ≈ 1.2 s of pipeline creation per checked candidate on the NVIDIA driver).
#   Session 3 ran: bash bench/gpu_decode.sh /tmp/w $OUT/w.tar.gz 1 docs/results/h200-tune-gemv-q4gsw-f16math-m8-2026-11-26.json
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
ms=${3:-1,2,4,8}
shift $(( $# < 3 ? $# : 3 ))
source "$(dirname "$0")/gpu_common.sh"
step devices bash -c "qlinear devices && qlinear devices --json > '$work/devices.json'"
shapes=(); for m in ${ms//,/ }; do for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do shapes+=(--shape "${m}x${nk}"); done; done
step tune-gemv timeout 400 qlinear tune --kernel gemv --op q4gsw "${shapes[@]}" --report "$work/tune-gemv-q4gsw-report.json"
from=(--from "$work/tune-gemv-q4gsw-report.json"); for f in "$@"; do from+=(--from "$f"); done
step table qlinear tune --kernel gemv "${from[@]}" --out "$work/table.json"
export QLINEAR_TUNING="$work/table.json"
step explain bash -c "qlinear explain --op q4gsw --shape 1x28672x4096 && qlinear explain --op q4gsw --shape 8x4096x14336"
step check-gemv timeout 90 qlinear check --kernel gemv --out "$work/check-gemv.json"
dshapes=(); for m in 1 2 4 8 16; do for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do dshapes+=(--shape "${m}x${nk}"); done; done
step bench-decode timeout 150 bash -c "qlinear bench ${dshapes[*]} --format md --out '$work/bench-decode.json' > '$work/bench-decode.md'"
stop_dmon
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
