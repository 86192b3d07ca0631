#!/usr/bin/env bash
# SmolLM2-135M on the GPU machine (one call): QLinear's runner with each scheme and the PyTorch-eager
# peer (scripts/torch_smollm2.py), the same 512-token prompt (Tests/Fixtures/public-domain.txt; the
# peer reads its ids from bench/smollm2-prompt512.json) and 128 greedy tokens; each scheme with the
# runner's device ops (one command buffer per forward call) and host ops (CPU norms/attention, one
# submission per linear group), and the fixture text's perplexity with device ops (accuracy on
# this card: lavapipe gives 23.992 for fp16).
# Usage: bash bench/gpu_smollm2.sh WORKDIR TARBALL MODEL.gguf
# The GGUF (98 MB) exceeds one call's 64 MiB carry: the caller sends it in parts over consecutive
# calls to a machine kept warm and assembles MODEL.gguf before this script runs.
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
model=${3:?model file}
source "$(dirname "$0")/gpu_common.sh"
sha256sum "$model" | tee "$work/model-sha256.txt"
for s in fp16 q4gsw dq8ca_q4gsw dq8ca_q8csw; do
  for ops in device host; do
    step "gen-$s-$ops" timeout 150 bash -c "qlinear generate --model '$model' --scheme $s --ops $ops --warmup --file Tests/Fixtures/public-domain.txt --prompt-tokens 512 -n 128 --json > '$work/smollm2-$s-$ops.json'"
  done
  step "ppl-$s" timeout 150 bash -c "qlinear perplexity --model '$model' --scheme $s --file Tests/Fixtures/public-domain.txt --ctx 512 --json > '$work/smollm2-ppl-$s.json'"
done
step torch timeout 300 python3 scripts/torch_smollm2.py --model "$model" --prompt-ids bench/smollm2-prompt512.json --pydeps .gpu/pydeps \
  --dtype float16 --out "$work/torch-smollm2.json" --compare-tokens "$work/smollm2-fp16-device.json"
stop_dmon
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
