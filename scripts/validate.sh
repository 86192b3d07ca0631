#!/usr/bin/env bash
# The test suite and a short CLI sweep under the Khronos validation layers (with synchronization
# validation), on the already-built debug products. Any validation warning or error fails: the
# tests record each message as an issue, the CLI exits 1, and as a backstop the output is searched
# for anything the layer printed itself. Usage: bash scripts/validate.sh [extra swift test args]
set -euo pipefail
cd "$(dirname "$0")/.."
export QLINEAR_VALIDATION=1
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
swift test --skip-build "$@" >"$log" 2>&1 || status=$?
tail -n 3 "$log"
bin="$(swift build --show-bin-path)/qlinear"
"$bin" check --quick >>"$log" 2>&1 || status=$?
tail -n 1 "$log"
if grep -E "Vulkan validation (error|warning):|Validation (Error|Warning)|VUID-|SYNC-HAZARD|THREADING ERROR" "$log" >&2; then
  echo "validate: the validation layers reported the messages above" >&2
  status=1
fi
if [ "$status" != 0 ]; then
  grep -E "✘|error:" "$log" | head -n 40 >&2 || true
  echo "validate: FAILED" >&2
  exit "$status"
fi
echo "validate: test suite and qlinear check --quick clean under VK_LAYER_KHRONOS_validation (+ synchronization validation)"
