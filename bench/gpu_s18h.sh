#!/usr/bin/env bash
# Session 18, last call: the evidence on the final code and table (gpu_s18f.sh's four M = 1 rules and
# gpu_s18g.sh's seven M = 2/3 rules, committed): check --kernel all, torch_check, the suite and peers.
# Usage: bash bench/gpu_s18h.sh WORKDIR TARBALL
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
