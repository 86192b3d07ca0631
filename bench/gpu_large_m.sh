#!/usr/bin/env bash
# Large-M refinement (one GPU call): `qlinear tune --kernel coopmat` for OPS at M = 8192 on the
# suite's shapes, a table built from that report and the session's committed reports
# (docs/results/h100-tune-coopmat-*-{m2048,m512-m1024}-2026-11-26.json) with --keep-base
# --extend-up, then — with that table — the standard suite, the peers, merge and plot.
# Usage: bash bench/gpu_large_m.sh WORKDIR TARBALL [OPS]
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
ops=${3:-fp16,q4gsw}
source "$(dirname "$0")/gpu_common.sh"
stop_dmon
targs=(); for o in ${ops//,/ }; do targs+=(--op "$o"); done
for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do targs+=(--shape "8192x$nk"); done
step tune timeout 240 qlinear tune --kernel coopmat "${targs[@]}" --keep-base --report "$work/tune-m8192.json" --out "$work/table-m8192.json"
from=(); for f in docs/results/h100-tune-coopmat-*-m2048-2026-11-26.json docs/results/h100-tune-coopmat-*-m512-m1024-2026-11-26.json "$work/tune-m8192.json"; do [ -s "$f" ] && from+=(--from "$f"); done
step table qlinear tune --kernel coopmat "${from[@]}" --tuning .gpu/base-table.json --keep-base --extend-up --name nvidia-hopper --out "$work/table.json"
[ -s "$work/table.json" ] && export QLINEAR_TUNING="$work/table.json"
mkdir -p "$work/results"
nvidia-smi dmon -s pc -d 1 > "$work/clocks-dmon.txt" 2>&1 & dmon_pid=$!
step bench-suite timeout 260 bash -c "qlinear bench --suite --format md --out '$work/bench-suite.json' > '$work/bench-suite.md'"
stop_dmon
step peers timeout 100 python3 bench/peers/torch_peers.py --out "$work/torch-peers.json" \
  --shapes 4096x4096,6144x4096,28672x4096,4096x14336 --ms 1,2,4,8,16,32,64,128,256,512,1024,2048,4096,8192
for f in docs/results/h100-suite.json docs/results/h100.md; do [ -e "$f" ] && cp "$f" "$work/results/"; done
step merge python3 bench/merge_suite.py --bench "$work/bench-suite.json" --peers "$work/torch-peers.json" --results "$work/results" --prefix h100 --commit "$(cat .gpu/commit.txt)"
step plot python3 bench/plot_suite.py --suite "$work/results/h100-suite.json" --out "$work/results/h100-suite.png"
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
