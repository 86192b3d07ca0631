#!/usr/bin/env bash
# Evidence run for the committed code and its built-in table (one GPU call): the full
# conformance sweep, torch_check, the standard suite (clocks recorded), the peers, merge, plot.
# Usage: bash bench/gpu_evidence.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
step devices bash -c "qlinear devices && qlinear devices --json > '$work/devices.json'"
step explain bash -c "for s in 512x4096x4096 1024x4096x14336 2048x4096x4096 8192x28672x4096; do qlinear explain --op fp16 --shape \$s; done"
step check timeout 150 qlinear check --kernel all --out "$work/check-all-kernels.json"
step torch-check timeout 60 python3 scripts/torch_check.py --qlinear qlinear --out "$work/torch-check.json"
mkdir -p "$work/results"
step bench-suite timeout 260 bash -c "qlinear bench --suite --format md --out '$work/bench-suite.json' > '$work/bench-suite.md'"
stop_dmon
step peers timeout 100 python3 bench/peers/torch_peers.py --out "$work/torch-peers.json" \
  --shapes 4096x4096,6144x4096,28672x4096,4096x14336 --ms 1,2,4,8,16,32,64,128,256,512,1024,2048,4096,8192
for f in docs/results/h100-suite.json docs/results/h100.md; do [ -e "$f" ] && cp "$f" "$work/results/"; done
step merge python3 bench/merge_suite.py --bench "$work/bench-suite.json" --peers "$work/torch-peers.json" --results "$work/results" --prefix h100 --commit "$(cat .gpu/commit.txt)"
step plot python3 bench/plot_suite.py --suite "$work/results/h100-suite.json" --out "$work/results/h100-suite.png"
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
