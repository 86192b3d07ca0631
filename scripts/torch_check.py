#!/usr/bin/env python3
"""Independent check of `qlinear run` against PyTorch (no QLinear code in the reference loop).

For every op, kernel and a few shapes: builds inputs with PyTorch (weights quantized into the
ExecuTorch source layouts: INT4 uint8 [N, K/2] low nibble = even k, zero point 8, group scales;
INT8 [N, K] per-channel scales), writes them as safetensors, runs `qlinear run`, and compares
- for dq8ca ops: the int8 activations, scales and zero points bit for bit with PyTorch's
  quantized_decomposed.choose_qparams_per_token_asymmetric + quantize_per_token
  (inline fallback with the same formulas if those ops are not registered);
- y with the fp64 PyTorch result under the bound documented in docs/DESIGN.md.
Usage: python3 scripts/torch_check.py [--qlinear PATH] [--out results.json]
"""
import argparse, json, os, struct, subprocess, sys, tempfile, time
import numpy as np
import torch

DT = {"F32": (np.float32, 4), "F16": (np.float16, 2), "U8": (np.uint8, 1), "I8": (np.int8, 1), "I32": (np.int32, 4)}


def write_st(path, tensors):
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name])
        dt = {np.dtype(np.float32): "F32", np.dtype(np.float16): "F16", np.dtype(np.uint8): "U8", np.dtype(np.int8): "I8", np.dtype(np.int32): "I32"}[a.dtype]
        b = a.tobytes()
        header[name] = {"dtype": dt, "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b); off += len(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - (8 + len(h)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h))); f.write(h)
        for b in blobs: f.write(b)


def read_st(path):
    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    out = {}
    for name, e in header.items():
        if name == "__metadata__": out[name] = e; continue
        t, _ = DT[e["dtype"]]
        lo, hi = e["data_offsets"]
        out[name] = np.frombuffer(data[8 + n + lo: 8 + n + hi], dtype=t).reshape(e["shape"])
    return out


def qparams_torch(x32):
    """PyTorch's per-token asymmetric int8 qparams and values (fp32)."""
    try:
        import torch.ao.quantization.fx._decomposed  # noqa: F401  registers quantized_decomposed
        s, zp = torch.ops.quantized_decomposed.choose_qparams_per_token_asymmetric(x32, torch.int8)
        q = torch.ops.quantized_decomposed.quantize_per_token(x32, s, zp, -128, 127, torch.int8)
        return q, s.reshape(-1), zp.reshape(-1), "torch.ops.quantized_decomposed"
    except Exception as e:  # inline fallback, same formulas
        lo = torch.clamp(x32.amin(dim=-1, keepdim=True), max=0)
        hi = torch.clamp(x32.amax(dim=-1, keepdim=True), min=0)
        s = ((hi - lo) / 255).clamp(min=torch.finfo(torch.float32).eps)
        dlo, dhi = lo / s, hi / s
        zp = torch.where((-128 + dlo) + (127 + dhi) > 0, -128 - dlo, 127 - dhi).clamp(-128, 127).round()
        q = (x32 * (1.0 / s) + zp).round().clamp(-128, 127).to(torch.int8)
        return q, s.reshape(-1), zp.reshape(-1), f"inline ({type(e).__name__})"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--qlinear", default="qlinear")
    ap.add_argument("--out", default="torch_check.json")
    ap.add_argument("--op", action="append", help="only these ops (repeatable; default all four)")
    args = ap.parse_args()
    torch.manual_seed(20261125)
    shapes = [(1, 64, 128, 32), (7, 96, 256, 64), (33, 200, 512, 128), (130, 72, 384, 128)]
    results, failures = [], 0
    tmp = tempfile.mkdtemp()
    for op in args.op or ["fp16", "q4gsw", "dq8ca_q4gsw", "dq8ca_q8csw"]:
        for act in ["f32", "f16"]:
            for (m, n, k, g) in shapes:
                x = torch.randn(m, k) * torch.exp(torch.randn(m, 1))
                if act == "f16": x = x.half().float()
                w = torch.randn(n, k) * 0.05
                b = torch.randn(n)
                if act == "f16": b = b.half().float()
                t = {"x": x.numpy().astype(np.float16 if act == "f16" else np.float32), "bias": b.numpy().astype(np.float16 if act == "f16" else np.float32)}
                if op == "fp16":
                    wq = w.half()
                    t["weight"] = wq.numpy()
                    wd = wq.double()
                elif op in ("q4gsw", "dq8ca_q4gsw"):
                    wg = w.reshape(n, k // g, g)
                    s = (wg.abs().amax(-1) / 7.5).clamp(min=torch.finfo(torch.float32).eps).half().float()
                    q = (wg / s.unsqueeze(-1)).round().clamp(-8, 7).to(torch.int32)
                    u = (q + 8).reshape(n, k).to(torch.uint8)
                    t["weight"] = (u[:, 0::2] | (u[:, 1::2] << 4)).numpy()
                    t["scales"] = s.half().numpy()
                    wd = (q.double() * s.double().unsqueeze(-1)).reshape(n, k)
                else:
                    s = (w.abs().amax(-1) / 127.5).clamp(min=torch.finfo(torch.float32).eps).half().float()
                    q = (w / s.unsqueeze(-1)).round().clamp(-128, 127).to(torch.int8)
                    t["weight"] = q.numpy(); t["scales"] = s.half().numpy()
                    wd = q.double() * s.double().unsqueeze(-1)
                inp = os.path.join(tmp, "in.safetensors"); write_st(inp, t)
                for kernel in ["tiled", "coopmat", "gemv"]:
                    outp = os.path.join(tmp, f"out_{kernel}.safetensors")
                    r = subprocess.run([args.qlinear, "run", "--op", op, "--inputs", inp, "-o", outp, "--kernel", kernel], capture_output=True, text=True)
                    rec = {"op": op, "act": act, "m": m, "n": n, "k": k, "group": g if "q4" in op else None, "kernel": kernel}
                    if r.returncode != 0:
                        rec.update(status="error", message=(r.stderr or r.stdout).strip()[-300:])
                        if "cannot run" in rec["message"]: rec["status"] = "skipped"
                        else: failures += 1
                        results.append(rec); continue
                    o = read_st(outp)
                    y = torch.from_numpy(o["y"].astype(np.float64))
                    xd = x.double()
                    notes = []
                    if op.startswith("dq8ca"):
                        qx, sx, zx, how = qparams_torch(x.float())
                        same_q = bool(np.array_equal(o["x_q"], qx.numpy()))
                        same_s = bool(np.array_equal(o["x_scale"].view(np.uint32), sx.float().numpy().view(np.uint32)))
                        same_z = bool(np.array_equal(o["x_zero_point"], zx.numpy().astype(np.int32)))
                        rec.update(activations_bit_exact=same_q and same_s and same_z, qparams_from=how)
                        xd = (qx.double() - zx.double().unsqueeze(-1)) * sx.double().unsqueeze(-1)
                    ref = xd @ wd.T + b.double()
                    mag = xd.abs() @ wd.abs().T + b.double().abs()
                    # bound: worst case of docs/DESIGN.md with r = 2 fp16 roundings (the loosest kernel)
                    terms = k if op in ("fp16", "q4gsw") else k // (g if "q4" in op else k) + 2
                    bound = mag * (2 * 2.0 ** -11 + (terms + 3) * 2.0 ** -24) + ref.abs() * (2.0 ** -10 if act == "f16" else 2.0 ** -23)
                    err = (y - ref).abs()
                    ok = bool((err <= bound).all()) and rec.get("activations_bit_exact", True)
                    rec.update(status="passed" if ok else "failed", max_abs_err=float(err.max()), max_err_over_bound=float((err / bound).max()))
                    failures += 0 if ok else 1
                    results.append(rec)
                    print(json.dumps(rec), flush=True)
    summary = {"tool": "scripts/torch_check.py", "torch": torch.__version__, "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "passed": sum(r["status"] == "passed" for r in results), "failed": failures,
               "skipped": sum(r["status"] == "skipped" for r in results), "results": results}
    json.dump(summary, open(args.out, "w"), indent=1)
    print(f"{summary['passed']} passed, {summary['failed']} failed, {summary['skipped']} skipped")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
