#!/usr/bin/env bash
# libFuzzer over QLinear's parsers (Fuzz/: safetensors, GGUF + what the llama runner does with a
# file, the BPE tokenizer, tuning tables + the dispatcher, the CLI's shape/tile/gemv parsers).
# Builds Fuzz/ with -sanitize=fuzzer,address into .build-fuzz, then runs each target for SECONDS
# (default 30) starting from the committed seeds in Fuzz/corpus/<target>/. New inputs go to a
# scratch corpus under .build-fuzz/corpus (not committed); a crash leaves crash-* there, fails the
# run, and should become a regression test (docs/RELIABILITY.md).
# Usage: bash scripts/fuzz.sh [SECONDS] [target…]   targets: safetensors gguf tokenizer tuning cli
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-30}"
[ $# -gt 0 ] && shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(safetensors gguf tokenizer tuning cli)
# --sanitize=fuzzer makes SwiftPM link libFuzzer's main; the compile flag must then be the single
# -sanitize=fuzzer,address (two separate -sanitize= flags: the last one wins, and
# `--sanitize=fuzzer --sanitize=address` compiled without coverage instrumentation — the fuzzer
# ran blind). ld.gold's warnings about ASan's local symbols are noise.
flags=(--package-path Fuzz --scratch-path .build-fuzz --sanitize=fuzzer -Xswiftc -sanitize=fuzzer,address)
set +e
swift build "${flags[@]}" 2>&1 | grep -v "Cannot export local symbol"
[ "${PIPESTATUS[0]}" = 0 ] || { echo "fuzz: build failed" >&2; exit 1; }
set -e
bin="$(swift build "${flags[@]}" --show-bin-path)"
# A crash's report without the Swift backtracer's own ASan noise.
export SWIFT_BACKTRACE=enable=no
status=0
for t in "${targets[@]}"; do
  [ -x "$bin/fuzz-$t" ] || { echo "fuzz: no target fuzz-$t (build failed?)" >&2; exit 1; }
  work=".build-fuzz/corpus/$t"; art=".build-fuzz/artifacts/$t/"
  mkdir -p "$work" "$art"
  log=".build-fuzz/fuzz-$t.log"
  # -rss_limit_mb: a parser that tries to allocate gigabytes for a tiny file is a bug too.
  if "$bin/fuzz-$t" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 -timeout=10 \
       -artifact_prefix="$art" -print_final_stats=1 "$work" "Fuzz/corpus/$t" >"$log" 2>&1; then
    runs=$(grep -o "stat::number_of_executed_units: *[0-9]*" "$log" | grep -o "[0-9]*$" || echo "?")
    cov=$(grep -o "cov: [0-9]*" "$log" | tail -1 || true)
    echo "fuzz-$t: ${seconds}s, $runs runs, $cov, corpus $(ls "$work" | wc -l) — no crash"
  else
    status=1
    echo "fuzz-$t: FAILED — see $log and $art" >&2
    grep -E "ERROR|SUMMARY|Fatal error|panic|==[0-9]+==|Test unit written" "$log" | head -n 20 >&2 || true
  fi
done
exit $status
