#!/usr/bin/env bash
# Command two of the README: installs what is missing, checks that the committed SPIR-V matches
# the GLSL sources, builds with warnings as errors, and runs the whole test suite on the best
# Vulkan device (lavapipe when there is no GPU) under the Vulkan validation layers, runs the
# concurrency suites under ThreadSanitizer, fuzzes each parser for 20 s from the
# committed corpus, then builds and runs Examples/LinearDemo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
python3 scripts/build-shaders.py --check
# The fast fp64 divisions of the activation quantization (quant_common.glsl) against the long ones,
# bit for bit: every divisor mantissa with every first estimate the shader admits (~35 s).
mkdir -p .build
"${CC:-$(command -v cc || command -v clang)}" -O2 -ffp-contract=off -std=c11 scripts/verify_quant_div.c -o .build/verify_quant_div -lm
.build/verify_quant_div
swift build --build-tests -Xswiftc -warnings-as-errors
# The whole suite (and `qlinear check --quick`) runs once, under VK_LAYER_KHRONOS_validation: a failing
# test or any validation message fails CI (a plain second run would only repeat it).
bash scripts/validate.sh
# ThreadSanitizer (its own build in .build-tsan) over the suites that run work concurrently; the
# full-suite TSan run (8 minutes here) is `bash scripts/sanitize.sh thread`, by hand (RELIABILITY.md).
bash scripts/sanitize.sh thread --filter 'ConcurrencyTests|StreamContractTests|EncodeContractTests'
# libFuzzer (its own build in .build-fuzz): 20 s per target; QLINEAR_FUZZ_SECONDS=0 skips it.
if [ "${QLINEAR_FUZZ_SECONDS:-20}" != 0 ]; then bash scripts/fuzz.sh "${QLINEAR_FUZZ_SECONDS:-20}"; fi
# The example a library user would write: depends on the QLinear product only, builds on its own
# and checks one forward pass against a CPU loop.
swift build --package-path Examples/LinearDemo -Xswiftc -warnings-as-errors
"$(swift build --package-path Examples/LinearDemo --show-bin-path)/LinearDemo"
