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
