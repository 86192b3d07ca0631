#!/usr/bin/env bash
# Run once (as root) on a bare GPU machine before cm2probe if `ldconfig -p | grep libvulkan`
# prints nothing: unpacks the Vulkan loader (Debian libvulkan1) and the libglvnd libraries (the
# NVIDIA ICD, libGLX_nvidia.so.0, loads through them: without them vkCreateInstance fails with
# VK_ERROR_INCOMPATIBLE_DRIVER) from debs/ into / and refreshes ld.so's cache.
# Does nothing when libvulkan.so.1, libGLdispatch.so.0 and libGLX.so.0 are already there.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
have() { ldconfig -p | grep -q "$1 "; }
if have libvulkan.so.1 && have libGLdispatch.so.0 && have libGLX.so.0; then
    echo "gpu_setup: libvulkan.so.1 and libglvnd already present"
else
    # The .debs are not committed: the same ones travel in .gl/ (../shared/device/prepare.sh),
    # or put Debian 12's libvulkan1 and libglvnd packages into tools/cm2probe/debs/.
    n=0
    for f in "$here"/debs/*.deb "$here"/../../.gl/*.deb; do [ -e "$f" ] || continue; dpkg -x "$f" /; n=$((n + 1)); done
    [ "$n" -gt 0 ] || { echo "gpu_setup: no .deb files in tools/cm2probe/debs or .gl" >&2; exit 1; }
    ldconfig
    echo "gpu_setup: unpacked $n packages"
fi
# the driver's ICD manifest; the loader normally finds /usr/share/vulkan/icd.d/nvidia_icd.json
if [ ! -e /usr/share/vulkan/icd.d/nvidia_icd.json ] && [ -e /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
    echo "gpu_setup: export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json before running cm2probe"
fi
