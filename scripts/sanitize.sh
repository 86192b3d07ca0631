#!/usr/bin/env bash
# Address sanitizer over the fast suites (not run in CI): builds into .build-asan so the normal
# build is untouched. Usage: bash scripts/sanitize.sh [extra swift test args]
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --build-tests --sanitize=address --scratch-path .build-asan
# LeakSanitizer is on; only XCTest's own harness leaks are suppressed (scripts/lsan-suppressions.txt).
export LSAN_OPTIONS="suppressions=$PWD/scripts/lsan-suppressions.txt${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
# The CLI cases find the binary under .build/{debug,release}; run the library suites here.
swift test --skip-build --sanitize=address --scratch-path .build-asan \
    --filter 'BadInputLibraryTests|BadInputWaitTests|EncodeContractTests|SafetensorsTests|FormatTests|DispatcherTests' "$@"
