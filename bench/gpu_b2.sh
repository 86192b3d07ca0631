#!/usr/bin/env bash
# Double-buffered (stage-first) float coopmat loop in one GPU call: conformance (coopmat check
# with the built-in table and with forced double-buffered tiles), ablations of two double-buffered
# configurations, and the fp16 sweep at M = 2048 (statistics recorded).
# Usage: bash bench/gpu_b2.sh WORKDIR TARBALL [TUNE_OPS] [TUNE_SHAPES]
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
tops=${3:-fp16}
tshapes=${4:-2048x4096x4096,2048x28672x4096}
source "$(dirname "$0")/gpu_common.sh"
step devices bash -c "qlinear devices --json > '$work/devices.json'"
step check-table timeout 90 qlinear check --kernel coopmat --out "$work/check-table.json"
step check-b2-128 timeout 60 qlinear check --kernel coopmat --tile 128x128/2x2 --buffers 2 --out "$work/check-b2-128.json"
step check-b2-k16 timeout 60 qlinear check --kernel coopmat --tile 128x256/4x4 --k-step 16 --buffers 2 --out "$work/check-b2-k16.json"
for cfg in "128x256/4x4 16" "128x128/2x2 32" "256x128/4x4 16"; do
  set -- $cfg
  for abl in 0 1 2 5; do
    name="abl-${1//\//_}-k$2-b2-a$abl"
    step "$name" timeout 60 qlinear bench --op fp16 --shape 2048x4096x4096 --kernel coopmat --tile "$1" --k-step "$2" --buffers 2 --ablate "$abl" --format json --out "$work/$name.json"
  done
done
targs=(); for o in ${tops//,/ }; do targs+=(--op "$o"); done; for s in ${tshapes//,/ }; do targs+=(--shape "$s"); done
step tune timeout "${TUNE_S:-240}" qlinear tune --kernel coopmat "${targs[@]}" --keep-base --report "$work/tune.json" --out "$work/table.json"
stop_dmon
python3 - "$work" > "$work/summary.txt" 2>&1 <<'PY'
import json, glob, os, sys
w = sys.argv[1]
for f in ("check-table.json", "check-b2-128.json", "check-b2-k16.json"):
    try: d = json.load(open(os.path.join(w, f))); print(f, "passed", d.get("passed"), "failed", d.get("failed"))
    except Exception as e: print(f, "?", e)
for f in sorted(glob.glob(os.path.join(w, "abl-*.json"))):
    try:
        d = json.load(open(f))
        for r in d["rows"]: print(f"{os.path.basename(f):40s} median {r['median_us']:8.1f} min {r['min_us']:8.1f}")
        for r in d.get("not_run", []): print(os.path.basename(f), "NOT RUN", r)
    except Exception as e: print(f, "?", e)
try:
    ms = [m for m in json.load(open(os.path.join(w, "tune.json")))["measurements"] if m.get("medianUs")]
    ms.sort(key=lambda m: (m["op"], m["n"], m["k"], m["medianUs"]))
    for m in ms: print(f"{m['op']} {m['m']}x{m['n']}x{m['k']} {str(m['candidate']):105s} {m['medianUs']:8.1f} regs {(m.get('statistics') or {}).get('Register Count')} smem {(m.get('statistics') or {}).get('Shared Memory Size')}")
except Exception as e: print("tune", e)
PY
cat "$work/summary.txt"
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
