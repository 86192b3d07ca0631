#!/usr/bin/env bash
# Session 17, last call (binary c37b143, the evidence call's): with M = 1 faster, dq8ca_q4gsw M = 8
# took 1.41–1.43× its M = 1 time at 4096² / 6144×4096 (target ≤ 1.3×). gemv_dq (cheaper prologue
# since 728af00) against today's plans at M = 2, 4, 8 on the four shapes (dq8ca_q4gsw) and M = 8
# (dq8ca_q8csw); a table from both sweeps on top of the committed one (rules only where the sweep
# won), then the suite and peers on that table.
# Usage: bash bench/gpu_s17d.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
only=(); for g in 1x512x2g 1x512x1g 2x512x1g 1x256x2g 1x512x2gp2; do only+=(--only $g); done
s4=(); s8=(); for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do s4+=(--shape 2x$nk --shape 4x$nk --shape 8x$nk); s8+=(--shape 8x$nk); done
step tune-q4 timeout 110 qlinear tune --kernel gemv --op dq8ca_q4gsw "${s4[@]}" "${only[@]}" --against-current --time-limit 100 --report "$work/tune-q4-m2-8.json"
step tune-q8 timeout 45 qlinear tune --kernel gemv --op dq8ca_q8csw "${s8[@]}" "${only[@]}" --against-current --time-limit 38 --report "$work/tune-q8-m8.json"
pack
[ -s "$work/tune-q4-m2-8.json" ] && step table1 qlinear tune --kernel gemv --from "$work/tune-q4-m2-8.json" --tuning Tuning/nvidia-hopper.json --keep-base --name nvidia-hopper --out "$work/table1.json"
[ -s "$work/table1.json" ] || cp Tuning/nvidia-hopper.json "$work/table1.json"
[ -s "$work/tune-q8-m8.json" ] && step table2 qlinear tune --kernel gemv --from "$work/tune-q8-m8.json" --tuning "$work/table1.json" --keep-base --name nvidia-hopper --out "$work/table.json"
[ -s "$work/table.json" ] || cp "$work/table1.json" "$work/table.json"
export QLINEAR_TUNING="$work/table.json"
pack
suite_and_peers 300
stop_dmon
pack && echo "packed $tarball"
cat "$steps"
