#!/usr/bin/env bash
# Float cooperative-matrix kernels: prefetch distance 1 vs 2 (`--prefetch`) in one GPU call.
#  1. forced configurations, each with PD 1 and 2, fp16 (and q4gsw for CFGS_Q4) at SHAPES;
#  2. ablations of the PD 2 loop (1 no global loads, 2 no MMAs) at the first shape;
#  3. conformance of PD 2 with forced tiles (single and double buffered) on the check grid;
#  4. `qlinear tune --kernel coopmat` for OPS at TUNE_SHAPES (PD 1 and 2 among the candidates).
# Usage: bash bench/gpu_prefill2.sh WORKDIR TARBALL [OPS] [TUNE_SHAPES] [TUNE_TIMEOUT_S]
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
ops=${3:-fp16}
tshapes=${4:-2048x4096x4096,2048x6144x4096,2048x28672x4096,2048x4096x14336}
tune_s=${5:-300}
shapes=${SHAPES:-2048x4096x4096,2048x28672x4096}
cfgs=${CFGS:-"256x128/4x2:32:1 256x128/4x4:32:1 128x128/2x2:32:1 128x128/2x2:32:2 256x128/4x2:16:2 128x256/2x4:32:1"}
cfgsq4=${CFGS_Q4:-"256x128/4x4:32:1 256x128/4x2:32:1"}
source "$(dirname "$0")/gpu_common.sh"
sargs=(); for s in ${shapes//,/ }; do sargs+=(--shape "$s"); done
step devices bash -c "qlinear devices --json > '$work/devices.json'"
run_cfg() { # op tile k b pd [ablate]
  local name="pd-$1-${2//\//_}-k$3-b$4-p$5${6:+-a$6}"
  step "$name" timeout 60 qlinear bench --op "$1" "${sargs[@]}" --kernel coopmat --tile "$2" --k-step "$3" --buffers "$4" --prefetch "$5" ${6:+--ablate $6} --format json --out "$work/$name.json"
}
for cfg in $cfgs; do IFS=: read -r tile k b <<< "$cfg"; for pd in 1 2; do run_cfg fp16 "$tile" "$k" "$b" "$pd"; done; done
for cfg in $cfgsq4; do IFS=: read -r tile k b <<< "$cfg"; for pd in 1 2; do run_cfg q4gsw "$tile" "$k" "$b" "$pd"; done; done
sargs=(--shape "${shapes%%,*}")
for abl in 1 2; do run_cfg fp16 256x128/4x2 32 1 2 "$abl"; run_cfg fp16 128x128/2x2 32 2 2 "$abl"; run_cfg fp16 128x128/2x2 32 2 1 "$abl"; done
step check-pd2-b1 timeout 60 qlinear check --kernel coopmat --tile 256x128/4x2 --buffers 1 --prefetch 2 --out "$work/check-pd2-b1.json"
step check-pd2-b2 timeout 60 qlinear check --kernel coopmat --tile 64x64/2x2 --buffers 2 --prefetch 2 --out "$work/check-pd2-b2.json"
targs=(); for o in ${ops//,/ }; do targs+=(--op "$o"); done; for s in ${tshapes//,/ }; do targs+=(--shape "$s"); done
[ "$tune_s" -gt 0 ] && step tune-coopmat timeout "$tune_s" qlinear tune --kernel coopmat "${targs[@]}" --keep-base --report "$work/tune-coopmat-report.json" --out "$work/table.json"
stop_dmon
python3 bench/summarize_runs.py "$work" > "$work/summary.txt" 2>&1
cat "$work/summary.txt"
grep "best" "$work/tune-coopmat.log" 2>/dev/null
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
