#!/usr/bin/env python3
"""Merges `qlinear bench --suite --format json` and `bench/peers/torch_peers.py` output into the
suite file and its markdown table.

Writes RESULTS/<prefix>-suite.json:
  {"device", "driver", "date", "commit",
   "ceilings": {"read_GBps", "f16_TFLOPs", "s8_TOPs"},
   "rows": [{"op", "m", "n", "k", "group", "kernel", "median_us", "min_us", "max_us", "bytes", "flops"}],
   "peers": [{"name", "m", "n", "k", "median_us", "min_us", "max_us"}]}
and RESULTS/<prefix>.md (ours vs the peers, ratio per op / shape / M). An existing suite file is
first moved to RESULTS/history/<prefix>-suite-<its date>.json (its .md beside it), so nothing is lost.

Usage: python3 bench/merge_suite.py --bench bench-suite.json [--peers torch_peers.json]
         [--results docs/results] [--prefix h100] [--commit SHA]
"""
import argparse, json, os, shutil, subprocess, sys

# Which CUDA peer a QLinear op is compared with (what a CUDA user would run for the same weights).
PEER_OF = {"fp16": "cublas_fp16", "q4gsw": "tinygemm_int4", "dq8ca_q4gsw": "tinygemm_int4", "dq8ca_q8csw": "int_mm_int8"}
PEER_NAMES = ("cublas_fp16", "tinygemm_int4", "int_mm_int8")


def git_commit():
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip() or "unknown"
    except Exception:  # noqa: BLE001 - no git on the GPU machine is normal
        return "unknown"


def load(path):
    with open(path) as f:
        return json.load(f)


def merge(bench, peers, commit):
    c = bench.get("ceilings") or {}
    out = {
        "device": bench.get("device", "unknown"),
        "driver": bench.get("driver", "unknown"),
        "date": bench.get("date", "unknown"),
        "commit": commit,
        "ceilings": {"read_GBps": c.get("readGBs"), "f16_TFLOPs": c.get("f16TFLOPs"), "s8_TOPs": c.get("s8TOPs")},
        "rows": [],
        "peers": [],
    }
    for r in bench.get("rows", []):
        out["rows"].append({k: r.get(k) for k in ("op", "m", "n", "k", "group", "kernel", "median_us", "min_us", "max_us", "bytes", "flops")})
    for p in (peers or {}).get("peers", []):
        if p.get("name") in PEER_NAMES:
            out["peers"].append({k: p.get(k) for k in ("name", "m", "n", "k", "median_us", "min_us", "max_us")})
    return out


def rate(flops, us):
    return flops / us / 1e6 if us else float("nan")


def markdown(suite, peers_raw):
    c = suite["ceilings"]
    lines = [f"# {suite['device']}: QLinear vs CUDA peers", "",
             f"{suite['driver']}; {suite['date']}; commit {suite['commit']}.",
             f"Ceilings measured by `qlinear bench` after warm-up: read {fmt(c['read_GBps'], 0)} GB/s, "
             f"fp16 MMA {fmt(c['f16_TFLOPs'], 1)} TFLOP/s, int8 MMA {fmt(c['s8_TOPs'], 1)} TOP/s."]
    if peers_raw:
        lines.append(f"Peers: PyTorch {peers_raw.get('torch', '?')} on {peers_raw.get('device', '?')} "
                     f"(cuBLAS fp16 `F.linear`, tinygemm `_weight_int4pack_mm` with bf16 activations, `torch._int_mm` for M > 16).")
    lines += ["",
              "Median of GPU-timed runs after a sustained warm-up, weights rotated past the L2 cache on both sides "
              "(bench/README.md). µs; TFLOP/s for fp16/q4gsw, TOP/s for dq8ca (ours includes the activation-quantization "
              "pass, `_int_mm` does not). **ratio = peer µs / ours µs** (> 1: QLinear is faster).", ""]
    peer = {(p["name"], p["m"], p["n"], p["k"]): p for p in suite["peers"]}
    shapes = []
    for r in suite["rows"]:
        if (r["n"], r["k"]) not in shapes:
            shapes.append((r["n"], r["k"]))
    for n, k in shapes:
        lines += [f"## N = {n}, K = {k}", "",
                  "| op | M | kernel | ours µs | min–max µs | T(FL)OP/s | peer | peer µs | peer T(FL)OP/s | ratio |",
                  "|---|---:|---|---:|---:|---:|---|---:|---:|---:|"]
        for r in sorted((r for r in suite["rows"] if (r["n"], r["k"]) == (n, k)), key=lambda r: (list(PEER_OF).index(r["op"]) if r["op"] in PEER_OF else 9, r["m"])):
            name = PEER_OF.get(r["op"], "")
            p = peer.get((name, r["m"], n, k))
            spread = "!" if r["min_us"] < 0.9 * r["median_us"] else ""
            row = [r["op"], str(r["m"]), r["kernel"], fmt(r["median_us"], 1) + spread, f"{fmt(r['min_us'], 1)}–{fmt(r['max_us'], 1)}",
                   rfmt(rate(r["flops"], r["median_us"]))]
            if p:
                row += [name, fmt(p["median_us"], 1), rfmt(rate(r["flops"], p["median_us"])), fmt(p["median_us"] / r["median_us"], 2) + "×"]
            else:
                row += [name + " (not measured)" if name else "-", "-", "-", "-"]
            lines.append("| " + " | ".join(row) + " |")
        lines.append("")
    lines.append("! = min more than 10% below the median.")
    return "\n".join(lines) + "\n"


def fmt(x, d):
    if x is None:
        return "-"
    try:
        return f"{x:.{d}f}"
    except (TypeError, ValueError):
        return str(x)


def rfmt(x):
    return f"{x:.2f}" if x >= 0.01 else f"{x:.2e}"


def keep_history(results, prefix):
    old = os.path.join(results, f"{prefix}-suite.json")
    if not os.path.exists(old):
        return
    try:
        date = str(load(old).get("date", "undated"))
    except Exception:  # noqa: BLE001 - a corrupt old file is still kept
        date = "undated"
    stamp = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in date)
    hist = os.path.join(results, "history")
    os.makedirs(hist, exist_ok=True)
    dst = os.path.join(hist, f"{prefix}-suite-{stamp}.json")
    i = 2
    while os.path.exists(dst):
        dst = os.path.join(hist, f"{prefix}-suite-{stamp}-{i}.json"); i += 1
    shutil.move(old, dst)
    md = os.path.join(results, f"{prefix}.md")
    if os.path.exists(md):
        shutil.move(md, dst[:-len(".json")] + ".md")
    print(f"kept the previous suite as {dst}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bench", required=True, help="qlinear bench --suite --format json output")
    ap.add_argument("--peers", help="torch_peers.py output (optional)")
    ap.add_argument("--results", default="docs/results")
    ap.add_argument("--prefix", default="h100")
    ap.add_argument("--commit", default=None, help="default: git rev-parse HEAD, else 'unknown'")
    a = ap.parse_args()
    bench = load(a.bench)
    peers = None
    if a.peers:
        try:
            peers = load(a.peers)
        except Exception as ex:  # noqa: BLE001 - ours alone is still worth writing
            print(f"merge_suite: peers not read ({ex}); writing ours alone", file=sys.stderr)
    suite = merge(bench, peers, a.commit or git_commit())
    os.makedirs(a.results, exist_ok=True)
    keep_history(a.results, a.prefix)
    path = os.path.join(a.results, f"{a.prefix}-suite.json")
    with open(path, "w") as f:
        json.dump(suite, f, indent=1)
    with open(os.path.join(a.results, f"{a.prefix}.md"), "w") as f:
        f.write(markdown(suite, peers))
    print(f"{len(suite['rows'])} rows, {len(suite['peers'])} peer rows -> {path}, {a.prefix}.md")


if __name__ == "__main__":
    main()
