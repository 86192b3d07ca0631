#!/usr/bin/env bash
# Prepared in session 10 for the next session's first GPU call (not run yet): the conformance sweep
# and torch_check on the host-side fixes committed after session 10's evidence call (32-lane
# subgroups required or fixed for the register-fragment kernels and their probe, xregPlan ≤ 8 rows,
# tune --extend-down-to), the probe's answer, and the plans of the suite's decode rows (explain) to
# show they are unchanged.
# Usage: bash bench/gpu_s11a.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
step devices qlinear devices --json
check_torch
for op in fp16 q4gsw dq8ca_q4gsw dq8ca_q8csw; do for m in 1 8 16 32; do
  step "explain-$op-$m" qlinear explain --op "$op" --shape ${m}x28672x4096 --json
done; done
stop_dmon
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
