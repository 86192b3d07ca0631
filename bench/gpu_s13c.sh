#!/usr/bin/env bash
# Session 13, third call: the sweeps for the table. (1) q4gsw: the prefill-form configurations that
# placed in gpu_s13b.sh's sweep, at every suite M from 256 to 8192 on the four shapes, against
# today's plans; (2) fp16 at M = 256…1024 on the shapes where the suite missed 0.4× cuBLAS:
# cooperative-matrix configurations and the prefill form, against today's plans.
# Usage: bash bench/gpu_s13c.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
pack() { tar -czf "$tarball.tmp" -C "$(dirname "$work")" "$(basename "$work")" && mv "$tarball.tmp" "$tarball"; }
only=(); for c in 4x256x1ft64l 2x256x1ft64l 2x256x1ft64 2x512x1ft64l 2x512x1ft64le2 1x512x1ft64 1x512x1ft64l 4x128x1ft32 4x128x1ft32l; do only+=(--only $c); done
ts=(); for m in 256 512 1024 2048 4096 8192; do for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do ts+=(--shape ${m}x$nk); done; done
step tune-q4 timeout 230 qlinear tune --kernel gemv "${only[@]}" --op q4gsw "${ts[@]}" \
  --against-current --time-limit 215 --report "$work/tune-q4-suite.json"
pack
fs=(); for s in 256x28672x4096 512x28672x4096 1024x28672x4096 256x4096x14336 512x4096x14336 1024x4096x14336 1024x6144x4096; do fs+=(--shape $s); done
step tune-fp16-coopmat timeout 170 qlinear tune --kernel coopmat --op fp16 "${fs[@]}" \
  --against-current --time-limit 160 --report "$work/tune-fp16-coopmat.json"
pack
step tune-fp16-gemm timeout 120 qlinear tune --kernel gemv --variety fraggemm --op fp16 "${fs[@]}" \
  --against-current --time-limit 110 --report "$work/tune-fp16-gemm.json"
stop_dmon
pack && echo "packed $tarball"
cat "$steps"
