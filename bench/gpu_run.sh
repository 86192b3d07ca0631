#!/usr/bin/env bash
# The evidence run on a GPU machine (see ../shared/device/GPU.md and docs/results/README.md).
# Usage, from the repository root with the static qlinear on PATH (bash .gpu/on-gpu.sh does that):
#   bash bench/gpu_run.sh WORKDIR [TARBALL]
# Writes everything into WORKDIR and finally tars it into TARBALL (default WORKDIR.tar.gz): only a
# few files come back from the GPU machine, so put TARBALL under $OUT and WORKDIR outside it.
# Steps: devices, the conformance sweep on every kernel (full grid) → JSON, the standard bench
# suite → JSON (nvidia-smi dmon recording clocks and power beside it), the CUDA peers on the same
# shapes, merge + plot into WORKDIR/results/ (copy those files into docs/results/), and the
# PyTorch cross-check. One failing step does not stop the others; failures are listed in steps.txt.
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
mkdir -p "$work/results"
steps="$work/steps.txt"
: > "$steps"
step() {  # step NAME COMMAND...: runs, logs stdout+stderr to NAME.log, records the exit status and time
  local name=$1; shift
  local t0=$SECONDS
  "$@" > "$work/$name.log" 2>&1
  local rc=$?
  echo "$name rc=$rc $((SECONDS - t0))s" | tee -a "$steps"
  return 0
}
# Results are named after the card that made them (h100, h200, …).
prefix=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1 | grep -o 'H[0-9]\+' | tr 'A-Z' 'a-z')
prefix=${prefix:-gpu}
commit=$(cat .gpu/commit.txt 2>/dev/null || git rev-parse HEAD 2>/dev/null || echo unknown)
echo "commit $commit; $(date -u +%Y-%m-%dT%H:%M:%SZ)" | tee -a "$steps"

step devices      bash -c "qlinear devices && qlinear devices --json > '$work/devices.json'"
step check        timeout 120 qlinear check --kernel all --out "$work/check-all-kernels.json"

# The suite, with clocks and power recorded once a second beside it.
dmon_pid=
if command -v nvidia-smi > /dev/null; then
  nvidia-smi dmon -s pc -d 1 > "$work/clocks-dmon.txt" 2>&1 &
  dmon_pid=$!
fi
step bench-suite  timeout 330 bash -c "qlinear bench --suite --format md --out '$work/bench-suite.json' > '$work/bench-suite.md'"
[ -n "$dmon_pid" ] && kill "$dmon_pid" 2> /dev/null; wait "$dmon_pid" 2> /dev/null

# Same shapes and M values as the suite.
step peers        timeout 100 python3 bench/peers/torch_peers.py --out "$work/torch-peers.json" \
                    --shapes 4096x4096,6144x4096,28672x4096,4096x14336 --ms 1,2,4,8,16,32,64,128,256,512,1024,2048,4096,8192
# Merge into a copy of docs/results (so the history of an older suite file is kept), then plot.
for f in "docs/results/$prefix-suite.json" "docs/results/$prefix.md"; do [ -e "$f" ] && cp "$f" "$work/results/"; done
peers_arg=(); [ -s "$work/torch-peers.json" ] && peers_arg=(--peers "$work/torch-peers.json")
step merge        python3 bench/merge_suite.py --bench "$work/bench-suite.json" "${peers_arg[@]}" --results "$work/results" --prefix "$prefix" --commit "$commit"
step plot         python3 bench/plot_suite.py --suite "$work/results/$prefix-suite.json" --out "$work/results/$prefix-suite.png"
if [ -e .gpu/torch_check.py ]; then
  step torch-check timeout 40 python3 .gpu/torch_check.py --qlinear qlinear --out "$work/torch-check.json"
else
  step torch-check python3 scripts/torch_check.py --qlinear qlinear --out "$work/torch-check.json"
fi

tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball ($(du -h "$tarball" | cut -f1))"
cat "$steps"
