#!/usr/bin/env bash
# Address sanitizer over the fast suites (not run in CI): builds into .build-asan so the normal
# build is untouched. Usage: bash scripts/sanitize.sh [extra swift test args]
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --build-tests --sanitize=address --scratch-path .build-asan
# The CLI cases find the binary under .build/{debug,release}; run the library suites here.
swift test --skip-build --sanitize=address --scratch-path .build-asan \
    --filter 'BadInputLibraryTests|BadInputWaitTests|EncodeContractTests|SafetensorsTests|FormatTests|DispatcherTests' "$@"
