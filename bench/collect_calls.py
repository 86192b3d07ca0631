#!/usr/bin/env python3
"""Collect the results of GPU calls (bench/gpu_*.sh work folders) into one evidence file.

Usage: collect_calls.py --out FILE --description TEXT [--scripts S ...] NAME=FOLDER ...
Per call: commit and date (steps.txt), the steps' exit codes and seconds, the conformance sweep's and torch_check's summaries, the driver's
statistics (stats-*.log: registers, local memory — its low 32 bits —, shared memory), forced
checks (check-*.log: passed / failed cases and shaders), torch_check with a forced configuration (torch-check-*.log), ablations (abl-*.json medians), tune
reports (tune-*.json: median µs by shape and configuration, the plan before, flags), bench
reports other than the suite (bench-*.json: median, min and back-to-back µs per row) and the
fragment probes (devices.json).
"""
import argparse, glob, json, os, re


def name_of(c):
    g = c.get("gemv")
    if not g:
        return None
    s = f"{g['columns']}x{g['threads']}x{g['unroll']}"
    if g.get("frag"):
        if g.get("xRows"):
            s += f"ft{g['xRows']}" + ("l" if g.get("xLoad") else "") + ("h" if g.get("weightHalves") else "") \
                + ("i" if g.get("int8") else "") + (f"k{g['kBlock']}" if g.get("kBlock") else "") + (f"e{g['xStore']}" if g.get("xStore") else "") \
                + (f"s{g['splitK']}" if (g.get("splitK") or 1) > 1 else "")
        else:
            s += "f" + ("w" if g.get("xs") else "") + ("q" if g.get("fuseQuant") else "") + ("d" if g.get("quantInDispatch") else "") + (f"s{g['splitK']}" if g.get("splitK", 1) > 1 else "")
    elif g.get("sg"):
        s += ("gl" if g.get("l1") else "g") + (f"p{g['prefetch']}" if (g.get("prefetch") or 1) > 1 else "") \
            + (f"s{g['splitK']}" if (g.get("splitK") or 1) > 1 else "")
    return s


def call(folder):
    out = {}
    steps = open(os.path.join(folder, "steps.txt")).read().splitlines()
    m = re.match(r"commit (\w+); (\S+)", steps[0])
    out["commit"], out["date"] = (m.group(1), m.group(2)) if m else (None, None)
    out["steps"] = [s for s in steps[1:] if " rc=" in s]
    stats = {}
    for f in sorted(glob.glob(os.path.join(folder, "stats-*.log"))):
        t = open(f).read()
        row = {}
        for key in ("Register Count", "Local Memory Size", "Shared Memory Size"):
            mm = re.search(key + r"\s+(\d+)", t)
            if mm:
                v = int(mm.group(1))
                row[key] = v & 0xFFFFFFFF if key == "Local Memory Size" else v
        if row:
            stats[os.path.basename(f)[6:-4]] = row
    if stats:
        out["statistics (Local Memory Size: low 32 bits; the driver's high bits are not a size)"] = stats
    checks = {}
    for f in sorted(glob.glob(os.path.join(folder, "check-*.log"))):
        if os.path.basename(f) == "check-all-kernels.log":
            continue
        t = open(f).read()
        shaders = sorted(set(re.findall(r"(?:PASSED|FAILED)\s+\S+\s+\S+\s+(\S+)", t)))
        checks[os.path.basename(f)[6:-4]] = {"passed": t.count("PASSED"), "failed": t.count("FAILED"), "shaders": shaders}
    if checks:
        out["forced_checks"] = checks
    abl = {}
    for f in sorted(glob.glob(os.path.join(folder, "abl-*.json"))):
        d = json.load(open(f))
        r = d["rows"][0] if isinstance(d, dict) and "rows" in d else d[0]
        abl[os.path.basename(f)[4:-5]] = r.get("median_us")
    if abl:
        out["ablation_median_us (flags: 1 no global loads, 2 no MMAs, 4 no shared stores and barriers)"] = abl
    for f in sorted(glob.glob(os.path.join(folder, "tune-*.json"))):
        d = json.load(open(f))
        by = {}
        for r in d.get("measurements", []):
            key = f"{r['op']} {r['m']}x{r['n']}x{r['k']}"
            e = by.setdefault(key, {"configurations": {}})
            n = name_of(r["candidate"])
            if n:
                e["configurations"][n] = round(r["medianUs"], 1) if r.get("medianUs") else r.get("status")
            else:
                e["plan_before"] = {"status": r.get("status"), "median_us": round(r["medianUs"], 1) if r.get("medianUs") else None}
            if r.get("flags"):
                e.setdefault("flags", {})[n or "plan_before"] = r["flags"]
        out[os.path.basename(f)[:-5]] = {"device": d.get("device"), "date": d.get("date"), "median_us": by}
    # `qlinear bench` reports other than the suite (A/B comparisons): median and back-to-back µs per row.
    for f in sorted(glob.glob(os.path.join(folder, "bench-*.json"))):
        if os.path.basename(f) == "bench-suite.json":
            continue
        d = json.load(open(f))
        out[os.path.basename(f)[:-5]] = {f"{r['op']} {r['m']}x{r['n']}x{r['k']}": {
            "median_us": round(r["median_us"], 2), "min_us": round(r["min_us"], 2),
            "b2b_us": round(r["stream_us"], 2) if r.get("stream_us") else None, "shader": r.get("shader"), "tile": r.get("tile")}
            for r in d.get("rows", [])}
    for log, key in (("check.log", "check_all (qlinear check --kernel all)"), ("torch-check.log", "torch_check")):
        f = os.path.join(folder, log)
        if os.path.exists(f):
            lines = [l for l in open(f).read().splitlines() if l.strip()]
            out[key] = lines[-1] if lines else None
    # torch_check with a forced configuration (torch-check-CONFIG.log): its summary line.
    for f in sorted(glob.glob(os.path.join(folder, "torch-check-*.log"))):
        lines = [l for l in open(f).read().splitlines() if l.strip()]
        out[f"torch_check forced {os.path.basename(f)[12:-4]}"] = lines[-1] if lines else None
    dev = os.path.join(folder, "devices.json")
    if os.path.exists(dev):
        d = json.load(open(dev))
        for r in d:
            if r.get("int8FragmentLayout") or r.get("fragmentLayout"):
                out["probe"] = {"fragmentLayout": r.get("fragmentLayout"), "int8FragmentLayout": r.get("int8FragmentLayout"),
                                "int8FragmentProbe": r.get("int8FragmentProbe")}
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--description", required=True)
    ap.add_argument("--scripts", nargs="*", default=[])
    ap.add_argument("calls", nargs="+")
    a = ap.parse_args()
    res = {"device": "NVIDIA H100 80GB HBM3", "driver": "NVIDIA 580.159.04", "description": a.description, "scripts": a.scripts}
    for c in a.calls:
        name, folder = c.split("=", 1)
        res[name] = call(folder)
    res["date"] = min(v["date"] for k, v in res.items() if isinstance(v, dict) and v.get("date"))[:10]
    open(a.out, "w").write(json.dumps(res, indent=1, sort_keys=False) + "\n")


if __name__ == "__main__":
    main()
