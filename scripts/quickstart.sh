#!/usr/bin/env bash
# Command one of the README: installs what is missing, builds qlinear (release), lists the Vulkan
# devices, and runs a quick benchmark of every op on the best device (lavapipe when there is no GPU).
set -euo pipefail
cd "$(dirname "$0")/.."
QLINEAR_SKIP_SHADER_TOOLS=1 bash scripts/setup.sh
swift build -c release --product qlinear
.build/release/qlinear devices
.build/release/qlinear bench --iters 10 "$@"
