#!/usr/bin/env bash
# Final evidence run of a kernel session (one GPU call): tune the cooperative-matrix kernels at
# the M values not yet measured, rebuild the device table from this and the session's earlier
# tune reports (`qlinear tune --from`), then run the full conformance sweep and the standard
# suite with exactly that table (QLINEAR_TUNING), and merge with the peers measured earlier on
# the same card. Writes WORKDIR (incl. the table) and tars it into TARBALL.
# Usage: bash bench/gpu_final.sh WORKDIR TARBALL REPORT_DIR PEERS_JSON [COOPMAT_MS]
#   REPORT_DIR holds coopmat-*.json and gemv-*.json tune reports (one run per (op, M)).
set -uo pipefail
work=${1:?work folder}; tarball=${2:?tarball}; reports=${3:?report folder}; peers=${4:?peers json}
coop_ms=${5:-128,512}
mkdir -p "$work/results"
steps="$work/steps.txt"; : > "$steps"
step() { local name=$1; shift; local t0=$SECONDS; "$@" > "$work/$name.log" 2>&1; echo "$name rc=$? $((SECONDS - t0))s" | tee -a "$steps"; }
prefix=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1 | grep -o 'H[0-9]\+' | tr 'A-Z' 'a-z'); prefix=${prefix:-gpu}
commit=$(cat .gpu/commit.txt 2>/dev/null || echo unknown)
echo "commit $commit; $(date -u +%Y-%m-%dT%H:%M:%SZ)" | tee -a "$steps"
dmon_pid=
if command -v nvidia-smi > /dev/null; then nvidia-smi dmon -s pc -d 1 > "$work/clocks-dmon.txt" 2>&1 & dmon_pid=$!; fi
step devices bash -c "qlinear devices && qlinear devices --json > '$work/devices.json'"
shapes=(); for m in ${coop_ms//,/ }; do for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do shapes+=(--shape "${m}x${nk}"); done; done
step tune-coopmat timeout 240 qlinear tune --kernel coopmat "${shapes[@]}" --out "$work/tuning-coopmat-new.json" --report "$work/tune-coopmat-report.json"
from=(); for f in "$reports"/coopmat-*.json "$work/tune-coopmat-report.json"; do [ -s "$f" ] && from+=(--from "$f"); done
step table-coopmat qlinear tune --kernel coopmat "${from[@]}" --out "$work/table-coopmat.json"
gfrom=(); for f in "$reports"/gemv-*.json; do [ -s "$f" ] && gfrom+=(--from "$f"); done
step table-final qlinear tune --kernel gemv "${gfrom[@]}" --tuning "$work/table-coopmat.json" --out "$work/table-final.json"
export QLINEAR_TUNING="$work/table-final.json"
step explain qlinear explain --op fp16 --shape 512x4096x4096
step check timeout 110 qlinear check --kernel all --out "$work/check-all-kernels.json"
step bench-suite timeout 220 bash -c "qlinear bench --suite --format md --out '$work/bench-suite.json' > '$work/bench-suite.md'"
[ -n "$dmon_pid" ] && kill "$dmon_pid" 2> /dev/null
step merge python3 bench/merge_suite.py --bench "$work/bench-suite.json" --peers "$peers" --results "$work/results" --prefix "$prefix" --commit "$commit"
step plot python3 bench/plot_suite.py --suite "$work/results/$prefix-suite.json" --out "$work/results/$prefix-suite.png"
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
