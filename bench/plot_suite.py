#!/usr/bin/env python3
"""Plots a suite file (bench/merge_suite.py output): throughput vs M, one panel per (N, K), one line
per QLinear op, CUDA peers dashed. TFLOP/s for fp16/q4gsw/peers, TOP/s for dq8ca and int_mm.

Usage: python3 bench/plot_suite.py [--suite docs/results/h100-suite.json] [--out docs/results/h100-suite.png]
"""
import argparse, json, math

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

OPS = ("fp16", "q4gsw", "dq8ca_q4gsw", "dq8ca_q8csw")
PEERS = ("cublas_fp16", "tinygemm_int4", "int_mm_int8")
COLORS = {"fp16": "tab:blue", "q4gsw": "tab:orange", "dq8ca_q4gsw": "tab:green", "dq8ca_q8csw": "tab:red",
          "cublas_fp16": "tab:blue", "tinygemm_int4": "tab:orange", "int_mm_int8": "tab:red"}


def fmt0(x):
    return f"{x:.0f}" if isinstance(x, (int, float)) else "n/a"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--suite", default="docs/results/h100-suite.json")
    ap.add_argument("--out", default="docs/results/h100-suite.png")
    a = ap.parse_args()
    s = json.load(open(a.suite))
    shapes = []
    for r in s["rows"] + s["peers"]:
        if (r["n"], r["k"]) not in shapes:
            shapes.append((r["n"], r["k"]))
    cols = 2 if len(shapes) > 1 else 1
    rows = math.ceil(len(shapes) / cols) or 1
    fig, axes = plt.subplots(rows, cols, figsize=(7 * cols, 4.5 * rows), squeeze=False)
    for idx, (n, k) in enumerate(shapes):
        ax = axes[idx // cols][idx % cols]
        for op in OPS:
            pts = sorted((r["m"], r["flops"] / r["median_us"] / 1e6) for r in s["rows"] if r["op"] == op and (r["n"], r["k"]) == (n, k) and r["median_us"])
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", color=COLORS[op], label=op, markersize=3)
        for name in PEERS:
            pts = sorted((p["m"], 2 * p["m"] * n * k / p["median_us"] / 1e6) for p in s["peers"] if p["name"] == name and (p["n"], p["k"]) == (n, k) and p["median_us"])
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], "s--", color=COLORS[name], label=name, markersize=3, alpha=0.7)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_title(f"N = {n}, K = {k}")
        ax.set_xlabel("M (rows)")
        ax.set_ylabel("TFLOP/s (TOP/s for int8)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    for idx in range(len(shapes), rows * cols):
        axes[idx // cols][idx % cols].axis("off")
    c = s.get("ceilings", {})
    fig.suptitle(f"{s.get('device')} — QLinear (solid) vs CUDA peers (dashed); {s.get('date')}, {str(s.get('commit'))[:10]}; "
                 f"ceilings {fmt0(c.get('f16_TFLOPs'))} TFLOP/s fp16, {fmt0(c.get('s8_TOPs'))} TOP/s int8", fontsize=9)
    fig.tight_layout()
    fig.savefig(a.out, dpi=110)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
