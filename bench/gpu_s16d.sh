#!/usr/bin/env bash
# Session 16, final call: the suite (each M = 1 row with its same-size read) and the CUDA peers on
# the committed table. s16c's suite ran on a table with one wrong rule (q4gsw M = 1 at 4096×14336,
# from a sweep whose time limit left today's plan untimed — fixed in the tuner since); its
# conformance sweep and torch_check (no case of that shape) stand for these kernels.
# Usage: bash bench/gpu_s16d.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
pack() { tar -czf "$tarball.tmp" -C "$(dirname "$work")" "$(basename "$work")" && mv "$tarball.tmp" "$tarball"; }
suite_and_peers 300
stop_dmon
pack && echo "packed $tarball"
cat "$steps"
