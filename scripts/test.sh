#!/usr/bin/env bash
# Command two of the README: installs what is missing, checks that the committed SPIR-V matches
# the GLSL sources, builds with warnings as errors, and runs the whole test suite on the best
# Vulkan device (lavapipe when there is no GPU).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
python3 scripts/build-shaders.py --check
swift build --build-tests -Xswiftc -warnings-as-errors
swift test --skip-build
