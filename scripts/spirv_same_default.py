#!/usr/bin/env python3
"""Checks that adding a specialization constant left a shader's default path unchanged.

Usage: spirv_same_default.py --old REV --variant NAME --specs "0:1 1:16 …" [--specs …] [--new-specs "9:0"]
For each spec set, the variant's SPIR-V at git revision REV and in the working tree
(Sources/QLinear/Generated/Shaders.swift) are specialized with spirv-opt (set defaults, freeze,
fold, -O) — the new one with --new-specs added (the new constant at its default) — and their
function bodies compared opcode by opcode (ids and declaration order aside). Exit 1 on a
difference. A check for the host (no GPU): the driver compiles what it is given, but the same
specialized SPIR-V is the strongest same-code evidence available without one.
"""
import argparse, base64, re, subprocess, sys, tempfile, os

GEN = "Sources/QLinear/Generated/Shaders.swift"


def spirv(text, name):
    m = re.search(r"case \." + re.escape(name) + r': return "([A-Za-z0-9+/=]+)"', text)
    if not m:
        sys.exit(f"{name}: no such variant")
    return base64.b64decode(m.group(1))


def body_ops(blob, specs, tmp):
    src, opt = os.path.join(tmp, "in.spv"), os.path.join(tmp, "out.spv")
    open(src, "wb").write(blob)
    subprocess.run(["spirv-opt", "--set-spec-const-default-value", specs, "--freeze-spec-const",
                    "--fold-spec-const-op-composite", "-O", src, "-o", opt], check=True)
    dis = subprocess.run(["spirv-dis", "--raw-id", opt], capture_output=True, text=True, check=True).stdout.splitlines()
    start = next(i for i, l in enumerate(dis) if "OpFunction " in l)
    return [re.search(r"\b(Op\w+)", l).group(1) for l in dis[start:] if re.search(r"\bOp\w+", l)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--old", required=True)
    ap.add_argument("--variant", action="append", required=True)
    ap.add_argument("--specs", action="append", required=True)
    ap.add_argument("--new-specs", default="")
    a = ap.parse_args()
    old = subprocess.run(["git", "show", f"{a.old}:{GEN}"], capture_output=True, text=True, check=True).stdout
    new = open(GEN).read()
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        for v in a.variant:
            for s in a.specs:
                x = body_ops(spirv(old, v), s, tmp)
                y = body_ops(spirv(new, v), (s + " " + a.new_specs).strip(), tmp)
                same = x == y
                bad += not same
                print(f"{v} [{s}]: {'same' if same else 'DIFFERENT'} ({len(x)} vs {len(y)} instructions)")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
