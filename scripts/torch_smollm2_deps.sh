#!/usr/bin/env bash
# Puts the pure-Python packages scripts/torch_smollm2.py needs beyond torch + transformers + numpy
# into DIR (default .gpu/pydeps), unpacked so that `--pydeps DIR` (a sys.path entry) imports them on
# a machine without network or pip: only `gguf` (GGUFReader, gguf.quants.dequantize). Its other
# requirements need nothing here: numpy comes with torch; pyyaml is imported by gguf.metadata only
# (transformers requires it; torch_smollm2.py stubs it when missing); tqdm and requests are imported
# lazily by code the script does not call. GGUF_VERSION overrides the pinned version.
#   bash scripts/torch_smollm2_deps.sh .gpu/pydeps
set -euo pipefail
dir=${1:-.gpu/pydeps}
ver=${GGUF_VERSION:-0.19.0}
py=${PYTHON:-python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$py" -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: -d "$tmp" "gguf==$ver"
rm -rf "$dir"
mkdir -p "$dir"
for w in "$tmp"/*.whl; do "$py" -m zipfile -e "$w" "$dir"; done
rm -rf "$dir"/gguf/scripts   # command-line tools (gguf-dump, …), not needed
PYTHONPATH="$dir" "$py" -c 'import sys; sys.modules.setdefault("yaml", type(sys)("yaml")); import gguf, gguf.quants; print("pydeps: gguf", gguf.__file__)' 2>/dev/null \
  || echo "pydeps: (gguf not importable with this python; fine if numpy is missing here)"
du -sh "$dir"
