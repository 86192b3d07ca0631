#!/usr/bin/env bash
# The evidence run on a GPU machine (see ../shared/device/GPU.md and docs/results/README.md):
# devices, the full conformance sweep on every kernel, the sweep with cooperative matrices
# disabled, dispatcher explanations, benchmarks, and the PyTorch cross-check. Writes into $1.
# Run from the repository root with the static qlinear on PATH.
set -uo pipefail
out=${1:?output folder}
mkdir -p "$out"
qlinear devices | tee "$out/devices.txt"
qlinear devices --json > "$out/devices.json"
qlinear check --out "$out/check-all-kernels.json" | tail -3
QLINEAR_DISABLE_COOPMAT=1 qlinear check --kernel tiled --out "$out/check-tiled-coopmat-disabled.json" | tail -2
{
  for s in 1x4096x4096 8x28672x4096 128x4096x4096 2048x4096x4096 100x65x200; do
    for op in fp16 q4gsw dq8ca_q4gsw dq8ca_q8csw; do qlinear explain --op $op --shape $s --group 128 --bias; echo; done
  done
  qlinear explain --op dq8ca_q4gsw --shape 256x4096x4096 --group 16; echo
  QLINEAR_DISABLE_COOPMAT=1 qlinear explain --op q4gsw --shape 2048x4096x4096
} > "$out/explain.txt" 2>&1
qlinear bench --kernel all --iters 30 --shape 1x4096x4096 --shape 8x4096x4096 --shape 1x28672x4096 \
  --shape 128x4096x4096 --shape 512x4096x4096 --shape 2048x4096x4096 --out "$out/bench-all-kernels.json" | tail -80
qlinear bench --iters 20 --shape 1024x4096x4096 --shape 1024x14336x4096 --shape 1024x4096x14336 \
  --shape 2048x28672x4096 --out "$out/bench-prefill.json" | tail -20
python3 .gpu/torch_check.py --qlinear qlinear --out "$out/torch-check.json" | tail -3
