#!/usr/bin/env bash
# Refine the built-in table at the given M values with every matrix–vector variety compared in
# one sweep (column, activations-in-registers, tensor cores), then — with that table — the gemv
# conformance sweep, the standard suite (clocks recorded), the peers, merge and plot.
# Usage: bash bench/gpu_retune.sh WORKDIR TARBALL OPS MS
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
ops=${3:-q4gsw}
ms=${4:-2}
source "$(dirname "$0")/gpu_common.sh"
stop_dmon
shapes=(); for m in ${ms//,/ }; do for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do shapes+=(--shape "${m}x${nk}"); done; done
oargs=(); for o in ${ops//,/ }; do oargs+=(--op "$o"); done
step tune timeout 260 qlinear tune --kernel gemv "${oargs[@]}" "${shapes[@]}" --keep-base --report "$work/tune-report.json" --out "$work/table.json"
[ -s "$work/table.json" ] && export QLINEAR_TUNING="$work/table.json"
step check-gemv timeout 60 qlinear check --kernel gemv --out "$work/check-gemv.json"
mkdir -p "$work/results"
nvidia-smi dmon -s pc -d 1 > "$work/clocks-dmon.txt" 2>&1 & dmon_pid=$!
step bench-suite timeout 300 bash -c "qlinear bench --suite --format md --out '$work/bench-suite.json' > '$work/bench-suite.md'"
stop_dmon
step peers timeout 100 python3 bench/peers/torch_peers.py --out "$work/torch-peers.json" \
  --shapes 4096x4096,6144x4096,28672x4096,4096x14336 --ms 1,2,4,8,16,32,64,128,256,512,1024,2048,4096,8192
for f in docs/results/h100-suite.json docs/results/h100.md; do [ -e "$f" ] && cp "$f" "$work/results/"; done
step merge python3 bench/merge_suite.py --bench "$work/bench-suite.json" --peers "$work/torch-peers.json" --results "$work/results" --prefix h100 --commit "$(cat .gpu/commit.txt)"
step plot python3 bench/plot_suite.py --suite "$work/results/h100-suite.json" --out "$work/results/h100-suite.png"
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
