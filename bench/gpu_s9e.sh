#!/usr/bin/env bash
# Session 9, call 5: (1) the activation-quantization pass's size at mid M, which the `quant` rules
# cover without a measurement (M = 17…2047 use the M = 2048 rule): dq8ca_q8csw at M = 32, 128, 512
# on the suite's shapes with the table's rule, then forced to 256 and 512 threads (the final
# suite's M = 512, 4096×14336 case was 0.90× session 8's); (2) a gemv_dq sweep for dq8ca_q4gsw at
# M = 2 against the current plan (bench/pick_faster.py), a table from the winners on top of the
# committed one, the M = 2 bench with it and the matrix–vector conformance sweep.
# Usage: bash bench/gpu_s9e.sh WORKDIR TARBALL
set -uo pipefail
work=${1:?work folder}
tarball=${2:-$work.tar.gz}
source "$(dirname "$0")/gpu_common.sh"
sh=(); for m in 32 128 512; do for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do sh+=(--shape ${m}x$nk); done; done
step qt-rule timeout 60 qlinear bench --op dq8ca_q8csw "${sh[@]}" --format json --out "$work/qt-rule.json"
for t in 256 512; do
  step "qt-$t" timeout 60 qlinear bench --op dq8ca_q8csw --quant-threads $t "${sh[@]}" --format json --out "$work/qt-$t.json"
done
step qt-rule-again timeout 60 qlinear bench --op dq8ca_q8csw "${sh[@]}" --format json --out "$work/qt-rule-again.json"
m2=(); for nk in 4096x4096 6144x4096 28672x4096 4096x14336; do m2+=(--shape 2x$nk); done
step m2-base timeout 60 qlinear bench --op dq8ca_q4gsw "${m2[@]}" --format json --out "$work/m2-base.json"
step tune timeout 150 qlinear tune --kernel gemv --variety sg --op dq8ca_q4gsw "${m2[@]}" --time-limit 120 --report "$work/tune-gemv-dq-m2.json"
step pick python3 bench/pick_faster.py --tune "$work/tune-gemv-dq-m2.json" --bench "$work/m2-base.json" --out "$work/tune-picked.json"
table_on_committed gemv "$work/tune-picked.json"
step m2-table timeout 60 qlinear bench --op dq8ca_q4gsw "${m2[@]}" --format json --out "$work/m2-table.json"
stop_dmon
step check timeout 100 qlinear check --kernel gemv --out "$work/check-gemv.json"
tar -czf "$tarball" -C "$(dirname "$work")" "$(basename "$work")" && echo "packed $tarball"
cat "$steps"
