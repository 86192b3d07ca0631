#!/usr/bin/env python3
"""Issue 8 and 9's targets, read from a merged suite (docs/results/h100-suite.json by default):
what each target asks, the worst case over the shapes it covers, and whether it is met.
    python3 bench/targets.py [--suite FILE]
Ratios are peer µs / ours µs (cuBLAS fp16 for every op's prefill throughput: peer FLOP rate over
ours, i.e. ours_flops/ours_us ÷ peer_flops/peer_us with the same FLOPs)."""
import argparse, json
ap = argparse.ArgumentParser()
ap.add_argument("--suite", default="docs/results/h100-suite.json")
a = ap.parse_args()
s = json.load(open(a.suite))
R = {(r["op"], r["m"], r["n"], r["k"]): r for r in s["rows"]}
P = {(p["name"], p["m"], p["n"], p["k"]): p for p in s["peers"]}
SHAPES = [(4096, 4096), (6144, 4096), (28672, 4096), (4096, 14336)]
MS = sorted({r["m"] for r in s["rows"]})
OPS = ["fp16", "q4gsw", "dq8ca_q4gsw", "dq8ca_q8csw"]
print(f"{s['device']}, {s['driver']}, {s['date']}, commit {s['commit'][:7]}")
def line(name, vals, ok, fmt="{:.2f}"):
    worst = min(vals, key=lambda v: v[0]) if ok[1] == "min" else max(vals, key=lambda v: v[0])
    met = all((v[0] >= ok[0]) if ok[1] == "min" else (v[0] <= ok[0]) for v in vals)
    print(f"{'MET ' if met else 'miss'} {name}: worst {fmt.format(worst[0])} at {worst[1]}  (range {fmt.format(min(v[0] for v in vals))}–{fmt.format(max(v[0] for v in vals))})")
    if not met:
        bad = [v for v in vals if not ((v[0] >= ok[0]) if ok[1] == "min" else (v[0] <= ok[0]))]
        print("      misses: " + ", ".join(f"{v[1]} {fmt.format(v[0])}" for v in bad))
def cublas(op, m, n, k):
    r, p = R.get((op, m, n, k)), P.get(("cublas_fp16", m, n, k))
    return p["median_us"] / r["median_us"] if r and p else None
def peer(name, op, m, n, k):
    r, p = R.get((op, m, n, k)), P.get((name, m, n, k))
    return p["median_us"] / r["median_us"] if r and p else None
# Issue 8
for m, lim in [(8, 1.3), (16, 1.6)]:
    for op in OPS:
        vals = [(R[(op, m, n, k)]["median_us"] / R[(op, 1, n, k)]["median_us"], f"{n}x{k}") for n, k in SHAPES]
        line(f"issue 8: {op} M={m} ≤ {lim}× M=1", vals, (lim, "max"))
vals = [(peer("tinygemm_int4", "q4gsw", 1, n, k), f"{n}x{k}") for n, k in [(28672, 4096), (4096, 14336)]]
line("issue 8: q4gsw M=1 ≥ 1.8× tinygemm", vals, (1.8, "min"))
for op in OPS:
    dips = []
    for n, k in SHAPES:
        for m0, m1 in zip(MS, MS[1:]):
            r0, r1 = R.get((op, m0, n, k)), R.get((op, m1, n, k))
            if r0 and r1:
                t0, t1 = r0["flops"] / r0["median_us"], r1["flops"] / r1["median_us"]
                dips.append((t1 / t0, f"{n}x{k} M={m0}→{m1}"))
    line(f"issue 8/9: {op} no dip > 10% (throughput M→next M)", dips, (0.9, "min"))
# Issue 9
for op, big, mid in [("fp16", 0.55, 0.4), ("q4gsw", 0.5, 0.35), ("dq8ca_q4gsw", 0.8, None), ("dq8ca_q8csw", 1.0, None)]:
    vals = [(cublas(op, m, n, k), f"{n}x{k} M={m}") for n, k in SHAPES for m in MS if m >= 2048 and cublas(op, m, n, k)]
    line(f"issue 9: {op} ≥ {big}× cuBLAS fp16 at M ≥ 2048", vals, (big, "min"))
    if mid:
        vals = [(cublas(op, m, n, k), f"{n}x{k} M={m}") for n, k in SHAPES for m in MS if 256 <= m <= 1024 and cublas(op, m, n, k)]
        line(f"issue 9: {op} ≥ {mid}× cuBLAS fp16 at M = 256…1024", vals, (mid, "min"))
vals = [(peer("int_mm_int8", "dq8ca_q8csw", m, n, k), f"{n}x{k} M={m}") for n, k in SHAPES for m in MS if m >= 2048 and peer("int_mm_int8", "dq8ca_q8csw", m, n, k)]
line("issue 9: dq8ca_q8csw ≥ 5× _int_mm at M ≥ 2048", vals, (5.0, "min"))
