#!/usr/bin/env python3
"""Checks that adding a specialization constant left a shader's default path unchanged.

Usage: spirv_same_default.py --old REV --variant NAME --specs "0:1 1:16 …" [--specs …] [--new-specs "9:0"]
For each spec set, the variant's SPIR-V at git revision REV and in the working tree
(Sources/QLinear/Generated/Shaders.swift) are specialized with spirv-opt (set defaults, freeze,
fold, -O) — the new one with --new-specs added (the new constant at its default) — and their
function bodies compared instruction by instruction with operands — constants, types and
variables by what they declare (ids, names and declaration order aside). Exit 1 on a
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
    """The specialized module's function bodies, each instruction with its operands: ids declared
    before the first function (types, constants, globals) replaced by what they declare, resolved
    recursively (a constant by its type and value, a variable by its type, storage class and
    decorations), ids of the bodies numbered by first appearance. Declaration order, names and
    debug lines do not count; a different constant, type or binding does."""
    src, opt = os.path.join(tmp, "in.spv"), os.path.join(tmp, "out.spv")
    open(src, "wb").write(blob)
    r = subprocess.run(["spirv-opt", "--set-spec-const-default-value", specs, "--freeze-spec-const",
                        "--fold-spec-const-op-composite", "-O", src, "-o", opt], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"spirv-opt refused the constants \"{specs}\": {r.stderr.strip()}")
    dis = subprocess.run(["spirv-dis", "--raw-id", opt], capture_output=True, text=True, check=True).stdout.splitlines()
    dis = [l.split(";")[0].strip() for l in dis if not re.search(r"Op(Name|MemberName|Line|NoLine|String|Source\w*|ModuleProcessed)\b", l)]
    dis = [l for l in dis if l]
    start = next(i for i, l in enumerate(dis) if "OpFunction " in l)
    decl, deco = {}, {}
    for l in dis[:start]:
        t = l.split()
        if len(t) >= 3 and t[1] == "=":
            decl[t[0]] = t[2:]
        elif t[0] in ("OpDecorate", "OpMemberDecorate"):
            deco.setdefault(t[1], []).append(" ".join(t[2:]))
    memo = {}

    def canon(i, depth=0):
        if i not in decl or depth > 64:
            return i
        if i not in memo:
            op, *args = decl[i]
            parts = [canon(a, depth + 1) if a.startswith("%") else a for a in args]
            extra = sorted(deco.get(i, [])) if op in ("OpVariable", "OpTypeStruct", "OpTypeArray", "OpTypeRuntimeArray") else []
            memo[i] = f"{op}({' '.join(parts)}){extra if extra else ''}"
        return memo[i]

    local, out = {}, []
    for l in dis[start:]:
        def sub(m):
            k = m.group(0)
            if k in decl:
                return canon(k)
            local.setdefault(k, f"%L{len(local)}")
            return local[k]
        out.append(re.sub(r"%\w+", sub, l))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--old", required=True)
    ap.add_argument("--variant", action="append", required=True)
    ap.add_argument("--specs", action="append", required=True)
    ap.add_argument("--new-specs", default="")
    a = ap.parse_args()
    got = subprocess.run(["git", "show", f"{a.old}:{GEN}"], capture_output=True, text=True)
    if got.returncode != 0:
        sys.exit(f"no {GEN} at revision {a.old}: {got.stderr.strip()}")
    old = got.stdout
    new = open(GEN).read()
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        for v in a.variant:
            for s in a.specs:
                x = body_ops(spirv(old, v), s, tmp)
                merged = dict(kv.split(":") for kv in s.split())
                merged.update(dict(kv.split(":") for kv in a.new_specs.split()))   # --new-specs win
                y = body_ops(spirv(new, v), " ".join(f"{k}:{w}" for k, w in merged.items()), tmp)
                same = x == y
                bad += not same
                print(f"{v} [{s}]: {'same' if same else 'DIFFERENT'} ({len(x)} vs {len(y)} instructions)")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
