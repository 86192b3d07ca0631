#!/usr/bin/env bash
# Session 8, call 5: dq8ca_q4gsw cooperative-matrix plans for M = 16, 64, 128, 256 retuned with the
# reworked INT4 path (the suite's four shapes; table built on the dev machine), and a probe of the
# activation-quantization pass's cost at decode: dq8ca ops vs fp16 on N = 32 (the linear kernel
# itself is then negligible) for M = 1, 8 and K = 4096, 14336.
# Usage: bash bench/gpu_s8e.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
probe=(--shape 1x32x4096 --shape 8x32x4096 --shape 1x32x14336 --shape 8x32x14336 --shape 1x4096x4096)
step probe timeout 60 qlinear bench --op fp16 --op dq8ca_q8csw --op dq8ca_q4gsw --op q4gsw "${probe[@]}" --format json --out "$work/probe.json"
sh=(); for m in 16 64 128 256; do for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do sh+=(--shape ${m}x$nk); done; done
step rules timeout 90 qlinear bench --op dq8ca_q4gsw "${sh[@]}" --format json --out "$work/rules.json"
step tune timeout 460 qlinear tune --kernel coopmat --op dq8ca_q4gsw "${sh[@]}" --report "$work/tune-dq8ca_q4gsw-small.json" --out "$work/table.json"
stop_dmon
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
