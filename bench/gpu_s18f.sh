#!/usr/bin/env bash
# Session 18, last call: the evidence on the final code and table (four M = 1 rules with 1024-thread
# workgroups from gpu_s18e.sh, committed): check --kernel all, torch_check, then the standard suite
# and the CUDA peers on the committed table (merged into results/, the previous suite to history/).
# Usage: bash bench/gpu_s18f.sh WORKDIR TARBALL
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
