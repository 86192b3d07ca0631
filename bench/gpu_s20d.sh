#!/usr/bin/env bash
# Session 20: the conformance sweep (check --kernel all) and torch_check on the final binary (the
# direct kernel family added — opt-in, no rule — and host code; every other kernel's SPIR-V and the
# table unchanged since the suite of 5272a85).
# Usage: bash bench/gpu_s20d.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
check_torch
stop_dmon
pack && echo "packed $tarball"
cat "$steps"
