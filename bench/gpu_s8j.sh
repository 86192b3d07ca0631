#!/usr/bin/env bash
# Session 8, SmolLM2 on the H100 (third of three calls to one warm machine: the GGUF travels in
# three parts, the first two left in /tmp/parts by the earlier calls, the last in .m3/). Builds the
# calibrated q4gsw file with an INT8 LM head on the GPU machine (`quantize --head-scheme q8csw
# --calibrate`), its perplexity as q4gsw and dq8ca_q4gsw (lavapipe gave 24.822 / 25.398), generation
# speed with `--warmup` (prompt 512 tokens of the fixture text + 128 greedy tokens) for that file and
# for fp16 / q4gsw straight from the GGUF.
# Usage: bash bench/gpu_s8j.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
model=/tmp/model.gguf
cat /tmp/parts/p0 /tmp/parts/p1 .m3/p2 > "$model"
sha256sum "$model" | tee "$work/model-sha256.txt"
grep -q "$(cut -d' ' -f1 .m3/sha256.txt)" "$work/model-sha256.txt" || { echo "model checksum mismatch"; exit 3; }
txt=Tests/Fixtures/public-domain.txt
q=/tmp/q4im-head-q8.safetensors
step quantize timeout 150 qlinear quantize "$model" -o "$q" --scheme q4gsw --group 32 --head-scheme q8csw --calibrate Tests/Fixtures/calibration-smollm2.txt
step ppl-q4gsw-im-head-q8 timeout 120 bash -c "qlinear perplexity --model '$q' --file $txt --ctx 512 --json > '$work/ppl-q4gsw-imatrix-head-q8csw.json'"
step ppl-dq8ca-im-head-q8 timeout 120 bash -c "qlinear perplexity --model '$q' --scheme dq8ca_q4gsw --file $txt --ctx 512 --json > '$work/ppl-dq8ca_q4gsw-imatrix-head-q8csw.json'"
step gen-q4gsw-im-head-q8 timeout 120 bash -c "qlinear generate --model '$q' --warmup --file $txt --prompt-tokens 512 -n 128 --json > '$work/gen-q4gsw-imatrix-head-q8csw.json'"
step gen-dq8ca-im-head-q8 timeout 120 bash -c "qlinear generate --model '$q' --scheme dq8ca_q4gsw --warmup --file $txt --prompt-tokens 512 -n 128 --json > '$work/gen-dq8ca_q4gsw-imatrix-head-q8csw.json'"
for s in fp16 q4gsw; do
  step "gen-$s-gguf" timeout 120 bash -c "qlinear generate --model '$model' --scheme $s --warmup --file $txt --prompt-tokens 512 -n 128 --json > '$work/gen-$s-gguf.json'"
done
stop_dmon
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
