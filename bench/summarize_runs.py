#!/usr/bin/env python3
"""One-line-per-row summary of a GPU call's work folder (used by the bench/gpu_*.sh experiment
scripts): every `qlinear bench` JSON whose name starts with one of PREFIXES (median / min µs and
rate per row, cases that could not run), every `qlinear check` JSON named check-*.json (passed /
failed), and every tune report (tune*.json: its timed measurements sorted by op, shape and time,
with the driver's register count and shared memory where recorded).

Usage: summarize_runs.py WORKDIR [PREFIX ...]   (default prefixes: ab- abl- pd- swz8-)
"""
import glob, json, os, sys


def main():
    work = sys.argv[1]
    prefixes = tuple(sys.argv[2:]) or ("ab-", "abl-", "pd-", "swz8-")
    for f in sorted(glob.glob(os.path.join(work, "*.json"))):
        name = os.path.basename(f)
        try:
            d = json.load(open(f))
        except Exception as e:  # a step that timed out leaves a partial file
            print(f"{name}: unreadable ({e})")
            continue
        if name.startswith(prefixes) and isinstance(d, dict) and "rows" in d:
            for r in d["rows"]:
                print(f"{name:58s} {r['m']}x{r['n']}x{r['k']} median {r['median_us']:9.1f} min {r['min_us']:9.1f} "
                      f"{r.get('rate', 0):7.1f} {r.get('rate_unit', '')}")
            for r in d.get("not_run", []):
                print(f"{name:58s} NOT RUN {r}")
        elif name.startswith("check-"):
            print(f"{name}: passed {d.get('passed')} failed {d.get('failed')}")
        elif name.startswith("tune") and isinstance(d, dict) and "measurements" in d:
            ms = sorted((m for m in d["measurements"] if m.get("medianUs")),
                        key=lambda m: (m["op"], m["n"], m["k"], m["m"], m["medianUs"]))
            for m in ms:
                st = m.get("statistics") or {}
                print(f"{name}: {m['op']} {m['m']}x{m['n']}x{m['k']} {json.dumps(m['candidate'], sort_keys=True):110s} "
                      f"{m['medianUs']:9.1f} regs {st.get('Register Count')} smem {st.get('Shared Memory Size')}")


if __name__ == "__main__":
    main()
