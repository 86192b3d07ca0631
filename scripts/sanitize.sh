#!/usr/bin/env bash
# Sanitizer runs over the library suites, each in its own build directory so the normal build is
# untouched. Usage: bash scripts/sanitize.sh [address|thread] [extra swift test args]
#   address (default): AddressSanitizer + LeakSanitizer into .build-asan over the fast library suites.
#   thread: ThreadSanitizer into .build-tsan over every suite except the ones that load SmolLM2
#           (single-threaded, and a minute under TSan) — the concurrency tests included. CI runs this one.
set -euo pipefail
cd "$(dirname "$0")/.."
san="${1:-address}"
[ $# -gt 0 ] && shift
case "$san" in
  address)
    swift build --build-tests --sanitize=address --scratch-path .build-asan
    # LeakSanitizer is on; only XCTest's own harness leaks are suppressed (scripts/lsan-suppressions.txt).
    export LSAN_OPTIONS="suppressions=$PWD/scripts/lsan-suppressions.txt${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
    # The CLI cases find the binary under .build/{debug,release}; run the library suites here.
    # Not ValidationTests: loading VK_LAYER_KHRONOS_validation adds ~10 KB of indirect leaks from
    # C++ allocations whose stacks end in operator new (the layer's own state, not QLinear's).
    swift test --skip-build --sanitize=address --scratch-path .build-asan \
        --filter 'BadInputLibraryTests|BadInputWaitTests|EncodeContractTests|SafetensorsTests|FormatTests|DispatcherTests|ConcurrencyTests' "$@"
    ;;
  thread)
    swift build --build-tests --sanitize=thread --scratch-path .build-tsan
    # halt_on_error: the first race fails the run with its report (exit 66).
    export TSAN_OPTIONS="halt_on_error=1${TSAN_OPTIONS:+:$TSAN_OPTIONS}"
    swift test --skip-build --sanitize=thread --scratch-path .build-tsan --skip 'SmolLM2Tests|GuardTests' "$@"
    ;;
  *) echo "usage: $0 [address|thread] [swift test args]" >&2; exit 2 ;;
esac
