#!/usr/bin/env bash
# Session 19: the suite and peers on the final code again — s19c's suite (after check all 1143/1143
# and torch_check 92/92 on the same commit) ran out of its 260 s step limit at case 220 of 224.
# Usage: bash bench/gpu_s19d.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
suite_and_peers 420
stop_dmon
pack && echo "packed $tarball"
cat "$steps"
