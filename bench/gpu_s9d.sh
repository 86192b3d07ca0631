#!/usr/bin/env bash
# Session 9, final call: the evidence for this session's code and committed table — the full
# conformance sweep, torch_check, the standard suite and the CUDA peers, merge and plot.
# Usage: bash bench/gpu_s9d.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
check_torch_suite 280
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
