#!/usr/bin/env python3
"""Keeps from a `qlinear tune` report only the (op, M, N, K) cases whose best timed candidate beat
the same case in a `qlinear bench` JSON of the current table's plan (both from one GPU call), so a
table built from the result adds a rule only where the swept kernel measured faster.

    python3 bench/pick_faster.py --tune REPORT --bench BENCH --out FILTERED
"""
import argparse, json

ap = argparse.ArgumentParser()
ap.add_argument("--tune", required=True)
ap.add_argument("--bench", required=True)
ap.add_argument("--out", required=True)
a = ap.parse_args()
report = json.load(open(a.tune))
base = {(r["op"], r["m"], r["n"], r["k"]): r["median_us"] for r in json.load(open(a.bench))["rows"]}
best = {}
for m in report["measurements"]:
    if m.get("medianUs") is None:
        continue
    key = (m["op"], m["m"], m["n"], m["k"])
    best[key] = min(best.get(key, float("inf")), m["medianUs"])
keep = {k for k, v in best.items() if k in base and v < base[k]}
for k in sorted(best):
    print(f"{k}: swept best {best[k]:.1f} µs, current plan {base.get(k, float('nan')):.1f} µs -> {'rule' if k in keep else 'keep current'}")
report["measurements"] = [m for m in report["measurements"] if (m["op"], m["m"], m["n"], m["k"]) in keep]
json.dump(report, open(a.out, "w"), indent=1)
