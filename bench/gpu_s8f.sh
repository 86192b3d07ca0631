#!/usr/bin/env bash
# Session 8, call 6: quant_act.comp with subgroup range reduction, the divisions after the scale
# side by side and an integer parity test (no fp64 mod per value): the full conformance sweep,
# torch_check (bit-for-bit activation quantization against PyTorch) and the quantization-pass probe
# of call 5 (dq8ca ops vs fp16 on N = 32, M = 1 and 8, K = 4096 and 14336).
# Usage: bash bench/gpu_s8f.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
probe=(--shape 1x32x4096 --shape 8x32x4096 --shape 1x32x14336 --shape 8x32x14336 --shape 1x4096x4096 --shape 1x28672x4096 --shape 1x4096x14336)
step probe timeout 60 qlinear bench --op fp16 --op dq8ca_q8csw --op dq8ca_q4gsw "${probe[@]}" --format json --out "$work/probe.json"
step check timeout 150 qlinear check --kernel all --out "$work/check-all-kernels.json"
step torch-check timeout 60 python3 scripts/torch_check.py --qlinear qlinear --out "$work/torch-check.json"
stop_dmon
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
