#!/usr/bin/env bash
# Session 17, evidence call on the final kernels and table (a7ca2ae): the full conformance sweep,
# torch_check, then the suite (each M = 1 row with its same-size read) and the CUDA peers.
# Usage: bash bench/gpu_s17c.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
check_torch
pack
suite_and_peers 300
stop_dmon
pack && echo "packed $tarball"
cat "$steps"
