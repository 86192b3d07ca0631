# Sourced by the bench/gpu_*.sh run scripts: WORK must be set. Creates WORK, the step log
# WORK/steps.txt, `step NAME COMMAND…` (runs it, logs stdout+stderr to WORK/NAME.log, records exit
# status and seconds), starts `nvidia-smi dmon` into WORK/clocks-dmon.txt (`stop_dmon` ends it)
# and prints the commit under test.
mkdir -p "$work"
steps="$work/steps.txt"; : > "$steps"
step() { local name=$1; shift; local t0=$SECONDS; "$@" > "$work/$name.log" 2>&1; echo "$name rc=$? $((SECONDS - t0))s" | tee -a "$steps"; }
echo "commit $(cat .gpu/commit.txt 2>/dev/null || echo unknown); $(date -u +%Y-%m-%dT%H:%M:%SZ)" | tee -a "$steps"
dmon_pid=
if command -v nvidia-smi > /dev/null; then nvidia-smi dmon -s pc -d 1 > "$work/clocks-dmon.txt" 2>&1 & dmon_pid=$!; fi
stop_dmon() { [ -n "$dmon_pid" ] && kill "$dmon_pid" 2> /dev/null; dmon_pid=; }
# `pack`: WORK as a gzip'ed tarball at TARBALL (set before sourcing), written to a temporary name
# and renamed, so a call cut short still leaves the last complete one.
pack() { tar -czf "$tarball.tmp" -C "$(dirname "$work")" "$(basename "$work")" && mv "$tarball.tmp" "$tarball"; }
# `suite_and_peers [TIMEOUT_S]`: the standard suite (clocks recorded; a dmon already running is
# restarted), the CUDA peers, merge into WORK/results (the committed h100 files first, so the
# previous suite moves to history/) and the plot. QLINEAR_TUNING, if set, is the table used.
suite_and_peers() {
  mkdir -p "$work/results"
  stop_dmon
  if command -v nvidia-smi > /dev/null; then nvidia-smi dmon -s pc -d 1 > "$work/clocks-dmon.txt" 2>&1 & dmon_pid=$!; fi
  step bench-suite timeout "${1:-260}" bash -c "qlinear bench --suite --format md --out '$work/bench-suite.json' > '$work/bench-suite.md'"
  stop_dmon
  step peers timeout 150 python3 bench/peers/torch_peers.py --out "$work/torch-peers.json" \
    --shapes 4096x4096,6144x4096,28672x4096,4096x14336 --ms 1,2,4,8,16,32,64,128,256,512,1024,2048,4096,8192
  for f in docs/results/h100-suite.json docs/results/h100.md; do [ -e "$f" ] && cp "$f" "$work/results/"; done
  step merge python3 bench/merge_suite.py --bench "$work/bench-suite.json" --peers "$work/torch-peers.json" --results "$work/results" --prefix h100 --commit "$(cat .gpu/commit.txt)"
  step plot python3 bench/plot_suite.py --suite "$work/results/h100-suite.json" --out "$work/results/h100-suite.png"
}
# `table_on_committed KIND REPORT [EXTEND_DOWN_TO]`: a table from a sweep's REPORT (kernel KIND) on
# top of the committed Tuning/nvidia-hopper.json, built here (the smallest measured M's rules
# reaching down to EXTEND_DOWN_TO, if given); later steps use it (QLINEAR_TUNING).
table_on_committed() {
  [ -s "$2" ] && step table qlinear tune --kernel "$1" --from "$2" --tuning Tuning/nvidia-hopper.json \
    --keep-base ${3:+--extend-down-to "$3"} --name nvidia-hopper --out "$work/table.json"
  [ -s "$work/table.json" ] && export QLINEAR_TUNING="$work/table.json"
  return 0
}
# `check_torch`: the full conformance sweep and torch_check.
check_torch() {
  step check timeout 150 qlinear check --kernel all --out "$work/check-all-kernels.json"
  step torch-check timeout 60 python3 scripts/torch_check.py --qlinear qlinear --out "$work/torch-check.json"
}
# `check_torch_suite [SUITE_TIMEOUT_S]`: check_torch, then suite_and_peers — the evidence a GPU
# call commits.
check_torch_suite() {
  check_torch
  suite_and_peers "${1:-260}"
}
