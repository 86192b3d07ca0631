#!/usr/bin/env bash
# Session 20, final: check --kernel all and torch_check on the final binary (the quantization
# pass's optional prefetch changed quant_act's SPIR-V; off in every rule), then the suite and the
# peers on it.
# Usage: bash bench/gpu_s20g.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
check_torch
pack
suite_and_peers 380
stop_dmon
pack && echo "packed $tarball"
cat "$steps"
