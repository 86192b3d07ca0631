#!/usr/bin/env bash
# Third kernel-development run: the cooperative-matrix tune at large M (big tiles incl. 4x4
# subgroup grids, K steps 16/32/64, single/double buffering) and the matrix–vector tune for q4gsw
# (fp32 and packed-fp16 candidates), each configuration checked before it is timed.
# Usage: bash bench/gpu_tune3.sh WORKDIR TARBALL [COOPMAT_MS] [GEMV_OPS]
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
coop_ms=${3:-2048}
gemv_ops=${4:-q4gsw}
mkdir -p "$work"
steps="$work/steps.txt"; : > "$steps"
step() { local name=$1; shift; local t0=$SECONDS; "$@" > "$work/$name.log" 2>&1; echo "$name rc=$? $((SECONDS - t0))s" | tee -a "$steps"; }
echo "commit $(cat .gpu/commit.txt 2>/dev/null || echo unknown); $(date -u +%Y-%m-%dT%H:%M:%SZ)" | tee -a "$steps"
dmon_pid=
if command -v nvidia-smi > /dev/null; then nvidia-smi dmon -s pc -d 1 > "$work/clocks-dmon.txt" 2>&1 & dmon_pid=$!; fi
step devices bash -c "qlinear devices && qlinear devices --json > '$work/devices.json'"
shapes=(); for m in ${coop_ms//,/ }; do for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do shapes+=(--shape "${m}x${nk}"); done; done
step tune-coopmat timeout 360 qlinear tune --kernel coopmat "${shapes[@]}" --out "$work/tuning-coopmat.json" --report "$work/tune-coopmat-report.json"
gops=(); for o in ${gemv_ops//,/ }; do gops+=(--op "$o"); done
step tune-gemv timeout 200 qlinear tune --kernel gemv "${gops[@]}" --out "$work/tuning-gemv.json" --report "$work/tune-gemv-report.json"
[ -n "$dmon_pid" ] && kill "$dmon_pid" 2> /dev/null
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
