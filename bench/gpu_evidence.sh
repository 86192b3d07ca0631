#!/usr/bin/env bash
# Evidence run for the committed code and its built-in table (one GPU call): the full
# conformance sweep, torch_check, the standard suite (clocks recorded), the peers, merge, plot.
# Usage: bash bench/gpu_evidence.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
step devices bash -c "qlinear devices && qlinear devices --json > '$work/devices.json'"
step explain bash -c "for s in 512x4096x4096 1024x4096x14336 2048x4096x4096 8192x28672x4096; do qlinear explain --op fp16 --shape \$s; done"
check_torch_suite 260
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
