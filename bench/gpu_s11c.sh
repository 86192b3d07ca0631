#!/usr/bin/env bash
# Session 11, second GPU call: (1) gemv_frag against today's plan (the cooperative-matrix kernels)
# at M = 128 on the suite's shapes, every op; a table from it on top of the committed one (rules
# extended down to M = 65); (2) the standard suite with that table — now with each case also timed
# back to back (stream_us) — and the CUDA peers, now also replayed from CUDA graphs (graph_us);
# merged and plotted.
# Usage: bash bench/gpu_s11c.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
ts=(); for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do ts+=(--shape 128x$nk); done
step tune timeout 170 qlinear tune --kernel gemv --variety frag --op fp16 --op q4gsw --op dq8ca_q4gsw --op dq8ca_q8csw "${ts[@]}" \
  --against-current --time-limit 150 --report "$work/tune-gemv-frag-m128.json"
[ -s "$work/tune-gemv-frag-m128.json" ] && step table qlinear tune --kernel gemv --from "$work/tune-gemv-frag-m128.json" --tuning Tuning/nvidia-hopper.json \
    --keep-base --extend-down-to 65 --name nvidia-hopper --out "$work/table.json"
[ -s "$work/table.json" ] && export QLINEAR_TUNING="$work/table.json"
suite_and_peers 280
stop_dmon
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
