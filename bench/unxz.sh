#!/usr/bin/env bash
# Unpacks .gpu/*.xz into /tmp/gpu (python's lzma: no xz binary needed on the GPU machine).
mkdir -p /tmp/gpu
for f in .gpu/*.xz; do [ -e "$f" ] || continue; b=$(basename "$f" .xz); python3 -c "import lzma,sys; open(sys.argv[2],'wb').write(lzma.open(sys.argv[1]).read())" "$f" "/tmp/gpu/$b"; chmod +x "/tmp/gpu/$b"; done
