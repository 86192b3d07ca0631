#!/usr/bin/env python3
"""PyTorch-eager peer of `qlinear generate` on SmolLM2-135M-Instruct.Q4_1.gguf.

The GGUF's tensors are dequantized to float32 with the `gguf` package (GGUFReader +
gguf.quants.dequantize), put into a transformers LlamaForCausalLM built from the GGUF metadata, and
cast to --dtype on --device. So the weights are the GGUF's Q4_1 values exactly; the arithmetic is
PyTorch's (fp16 or fp32 matmuls, no activation quantization).

Benchmark (default mode): prompt token ids from --prompt-ids (a JSON list of ints, no tokenizer
needed), an untimed warm-up of whole runs until at least --warmup-s seconds have passed, then
--repeats timed runs, each: one forward over the whole prompt with a fresh KV cache (prompt tokens/s),
then greedy decoding of --gen tokens one forward at a time with the KV cache (argmax on the device).
The timing follows LlamaTools.generate (Sources/QLinearLlama/Tools.swift): the first token comes
from the prompt's logits, each later one from one decode forward, and generation tokens/s is
(gen − 1) / time from the end of the prompt forward to the last token. EOS does not stop the run.
torch.cuda.synchronize() brackets every timer. The medians go to --out as JSON.

Self-test (--selftest): float32 on the CPU by default; compares logits and greedy continuations
with llama.cpp: the committed fixture Tests/Fixtures/smollm2-llamacpp.json (llama-cpp-python
0.3.36 on the same GGUF: top-20 logits at every position of 5 prompts, 32-token greedy
continuations of 10 prompts) and, where `llama_cpp` imports, a live llama-cpp-python run.

`gguf` is pure Python (needs numpy; its metadata module imports yaml, stubbed here when missing);
--pydeps DIR puts a folder made by scripts/torch_smollm2_deps.sh first on sys.path for machines
without it.

  python3 scripts/torch_smollm2.py --model M.gguf --prompt-ids bench/smollm2-prompt512.json \\
      --pydeps .gpu/pydeps --dtype float16 --out torch-smollm2.json
  python3 scripts/torch_smollm2.py --model M.gguf --selftest [--out selftest.json]
"""
import argparse
import inspect
import json
import os
import statistics
import sys
import time
import types

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURE = os.path.join(REPO, "Tests", "Fixtures", "smollm2-llamacpp.json")


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def import_gguf(pydeps):
    for d in reversed(pydeps or []):
        sys.path.insert(0, os.path.abspath(d))
    try:
        import yaml  # noqa: F401  (gguf.metadata imports it at import time; unused here)
    except ImportError:
        sys.modules["yaml"] = types.ModuleType("yaml")
    import gguf
    return gguf


# ---------------------------------------------------------------------------------------------
# GGUF → transformers


def field_value(f):
    """A metadata field's value (scalar, string, or list), for old and new gguf versions."""
    if hasattr(f, "contents"):
        return f.contents()
    import numpy as np
    vals = [f.parts[i] for i in f.data]
    out = []
    for v in vals:
        if v.dtype == np.uint8 and len(f.types) and f.types[-1].name == "STRING":
            out.append(bytes(v).decode("utf-8"))
        else:
            out.append(v.tolist()[0] if len(v) == 1 else v.tolist())
    return out[0] if len(out) == 1 and f.types[0].name != "ARRAY" else out


def reverse_rope_permute(w, n_head):
    """Undo llama.cpp's converter permutation of attn_q / attn_k rows.

    The converter stores each head's rows interleaved (pairs (2i, 2i+1) rotated together, the GGML
    "normal" RoPE); transformers' Llama rotates the halves (i, i + d/2). Rows of head h are viewed
    as [d/2, 2] and transposed to [2, d/2] — the same reshape transformers' GGUF loader applies
    (n_head = head_count for q, head_count_kv for k)."""
    rows = w.shape[0]
    half = rows // n_head // 2
    return w.reshape(n_head, half, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


HF_NAMES = {
    "attn_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm",
    "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj",
}


def load_gguf(path, pydeps=None):
    """(meta dict, {hf_name: float32 numpy array}) from a llama GGUF."""
    import numpy as np
    gguf = import_gguf(pydeps)
    r = gguf.GGUFReader(path)
    meta = {}
    for k, f in r.fields.items():
        if k.startswith("tokenizer.ggml.") and k.rsplit(".", 1)[1] in ("tokens", "scores", "token_type", "merges"):
            continue
        try:
            meta[k] = field_value(f)
        except Exception:  # noqa: BLE001 — metadata we do not need
            pass
    arch = meta.get("general.architecture", "llama")
    if arch != "llama":
        raise SystemExit(f"{path}: architecture {arch!r}, only llama is supported")
    n_head = int(meta["llama.attention.head_count"])
    n_kv = int(meta.get("llama.attention.head_count_kv", n_head))
    sd = {}
    for t in r.tensors:
        shape = tuple(int(x) for x in reversed(t.shape.tolist()))  # numpy order: (out, in)
        w = gguf.quants.dequantize(t.data, t.tensor_type)
        w = np.asarray(w, dtype=np.float32).reshape(shape)
        name = t.name
        if name == "token_embd.weight":
            sd["model.embed_tokens.weight"] = w
        elif name == "output_norm.weight":
            sd["model.norm.weight"] = w
        elif name == "output.weight":
            sd["lm_head.weight"] = w
        elif name.startswith("blk."):
            _, i, kind, _ = name.split(".", 3)
            if kind not in HF_NAMES:
                raise SystemExit(f"unexpected tensor {name}")
            if kind == "attn_q":
                w = reverse_rope_permute(w, n_head)
            elif kind == "attn_k":
                w = reverse_rope_permute(w, n_kv)
            sd[f"model.layers.{int(i)}.{HF_NAMES[kind]}.weight"] = np.ascontiguousarray(w)
        elif name == "rope_freqs.weight":
            raise SystemExit("rope_freqs (rope scaling) is not supported")
        else:
            raise SystemExit(f"unexpected tensor {name}")
    return meta, sd


def build_model(path, dtype_name, device, pydeps=None, attn="sdpa"):
    import numpy as np
    import torch
    import transformers
    from transformers import LlamaConfig, LlamaForCausalLM
    t0 = time.perf_counter()
    meta, sd = load_gguf(path, pydeps)
    p = "llama."
    hidden = int(meta[p + "embedding_length"])
    n_head = int(meta[p + "attention.head_count"])
    tied = "lm_head.weight" not in sd
    cfg = dict(
        vocab_size=int(meta.get(p + "vocab_size", sd["model.embed_tokens.weight"].shape[0])),
        hidden_size=hidden,
        intermediate_size=int(meta[p + "feed_forward_length"]),
        num_hidden_layers=int(meta[p + "block_count"]),
        num_attention_heads=n_head,
        num_key_value_heads=int(meta.get(p + "attention.head_count_kv", n_head)),
        head_dim=int(meta.get(p + "rope.dimension_count", hidden // n_head)),
        max_position_embeddings=int(meta.get(p + "context_length", 2048)),
        rms_norm_eps=float(meta[p + "attention.layer_norm_rms_epsilon"]),
        rope_theta=float(meta.get(p + "rope.freq_base", 10000.0)),
        tie_word_embeddings=tied,
        hidden_act="silu", attention_bias=False, mlp_bias=False,
        bos_token_id=int(meta.get("tokenizer.ggml.bos_token_id", 1)),
        eos_token_id=int(meta.get("tokenizer.ggml.eos_token_id", 2)),
        pad_token_id=int(meta.get("tokenizer.ggml.padding_token_id", 2)),
    )
    config = LlamaConfig(**cfg)
    rp = getattr(config, "rope_parameters", None)  # transformers ≥ 5 keeps theta here
    theta = rp.get("rope_theta") if isinstance(rp, dict) else getattr(config, "rope_theta", None)
    if theta is None or abs(float(theta) - cfg["rope_theta"]) > 1e-6 * cfg["rope_theta"]:
        raise SystemExit(f"transformers {transformers.__version__} did not take rope_theta {cfg['rope_theta']} (got {theta})")
    try:
        config._attn_implementation = attn
    except Exception:  # noqa: BLE001
        pass
    model = LlamaForCausalLM(config)
    tsd = {k: torch.from_numpy(np.array(v, dtype=np.float32, copy=True)) for k, v in sd.items()}
    missing, unexpected = model.load_state_dict(tsd, strict=False)
    missing = [k for k in missing if not (tied and k == "lm_head.weight") and "rotary_emb" not in k]
    if missing or unexpected:
        raise SystemExit(f"state dict mismatch: missing {missing}, unexpected {unexpected}")
    if tied:
        model.tie_weights()
        assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
    dtype = getattr(torch, dtype_name)
    # RoPE frequencies stay float32, as in from_pretrained(torch_dtype=...) (which casts parameters,
    # not these buffers); a plain .to(float16) would round them.
    keep = {n: b.detach().clone() for n, b in model.named_buffers() if n.endswith("inv_freq")}
    model = model.to(device=device, dtype=dtype).eval()
    for n, b in keep.items():
        mod_name, _, attr = n.rpartition(".")
        setattr(model.get_submodule(mod_name), attr, b.to(device))
    info = {"config": cfg, "load_seconds": time.perf_counter() - t0, "attn_implementation": attn,
            "tensors": len(sd), "params": sum(p.numel() for p in model.parameters())}
    return model, config, info


# ---------------------------------------------------------------------------------------------
# forward passes with an explicit KV cache (transformers 4.x: past_key_values=, 5.x: cache=)


class Runner:
    def __init__(self, model, config):
        import torch
        from transformers import DynamicCache
        self.torch, self.model, self.config, self.DynamicCache = torch, model, config, DynamicCache
        params = inspect.signature(model.forward).parameters
        self.cache_kw = "cache" if "cache" in params else "past_key_values"
        self.keep_kw = next((k for k in ("logits_to_keep", "num_logits_to_keep") if k in params), None)

    def new_cache(self):
        try:
            return self.DynamicCache(config=self.config)
        except TypeError:
            return self.DynamicCache()

    def forward(self, ids, cache, last_only=True):
        kw = {self.cache_kw: cache, "use_cache": True}
        if last_only and self.keep_kw:
            kw[self.keep_kw] = 1
        out = self.model(input_ids=ids, **kw)
        return out.logits[:, -1, :] if last_only else out.logits[0]

    def run(self, prompt, gen, sync):
        """One timed run: (prompt_s, gen_s, token tensor [gen], last prompt-position logits)."""
        torch = self.torch
        cache = self.new_cache()
        sync()
        t0 = time.perf_counter()
        logits = self.forward(prompt, cache)
        sync()
        t1 = time.perf_counter()
        first_logits = logits
        toks = []
        nxt = logits.argmax(-1, keepdim=True)
        toks.append(nxt)
        for _ in range(gen - 1):
            logits = self.forward(nxt, cache)
            nxt = logits.argmax(-1, keepdim=True)
            toks.append(nxt)
        sync()
        t2 = time.perf_counter()
        return t1 - t0, t2 - t1, torch.cat(toks, dim=1)[0], first_logits[0]


def versions():
    import torch
    import transformers
    import numpy
    try:
        from importlib.metadata import version
        gv = version("gguf")
    except Exception:  # noqa: BLE001 — pydeps folder without dist-info
        gv = "unknown"
    return {"torch": torch.__version__, "transformers": transformers.__version__, "numpy": numpy.__version__, "gguf": gv}


def bench(a):
    import torch
    device = a.device or ("cuda" if torch.cuda.is_available() else "cpu")
    cuda = device.startswith("cuda")
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    prompt_ids = json.load(open(a.prompt_ids))
    if not isinstance(prompt_ids, list) or not all(isinstance(x, int) for x in prompt_ids) or not prompt_ids:
        raise SystemExit(f"{a.prompt_ids}: expected a non-empty JSON list of ints")
    model, config, info = build_model(a.model, a.dtype, device, a.pydeps, a.attn)
    log(f"loaded {a.model} in {info['load_seconds']:.1f} s ({info['params'] / 1e6:.1f} M params, {a.dtype}, {device})")
    runner = Runner(model, config)
    prompt = torch.tensor([prompt_ids], dtype=torch.long, device=device)
    with torch.inference_mode():
        t_w = time.perf_counter()
        warm = 0
        while True:
            runner.run(prompt, a.gen, sync)
            warm += 1
            if time.perf_counter() - t_w >= a.warmup_s:
                break
        warm_s = time.perf_counter() - t_w
        log(f"warm-up: {warm} runs, {warm_s:.2f} s")
        runs, token_lists, first = [], [], None
        for i in range(a.repeats):
            ps, gs, toks, fl = runner.run(prompt, a.gen, sync)
            tl = toks.tolist()
            token_lists.append(tl)
            if first is None:
                first = fl.float()
            r = {"prompt_s": ps, "generation_s": gs,
                 "prompt_tokens_per_s": len(prompt_ids) / ps,
                 "generation_tokens_per_s": (a.gen - 1) / gs if a.gen > 1 else 0.0}
            runs.append(r)
            log(f"run {i + 1}: prompt {r['prompt_tokens_per_s']:.1f} tok/s ({ps * 1e3:.2f} ms), "
                f"generation {r['generation_tokens_per_s']:.1f} tok/s ({gs * 1e3:.1f} ms)")
    top = torch.topk(first, 5)
    eos = int(config.eos_token_id) if config.eos_token_id is not None else None
    res = {
        "tool": "torch_smollm2",
        "device": torch.cuda.get_device_name() if cuda else "cpu",
        "device_kind": device,
        **versions(),
        "cuda": torch.version.cuda if cuda else None,
        "dtype": a.dtype,
        "attn_implementation": info["attn_implementation"],
        "model": os.path.basename(a.model),
        "prompt_file": a.prompt_ids,
        "prompt_tokens": len(prompt_ids),
        "generated_tokens": a.gen,
        "prompt_tokens_per_s": statistics.median(r["prompt_tokens_per_s"] for r in runs),
        "generation_tokens_per_s": statistics.median(r["generation_tokens_per_s"] for r in runs),
        "method": ("median of runs after an untimed warm-up; prompt: one forward over the prompt with a fresh "
                   "DynamicCache, logits of the last position only; generation: greedy argmax on the device, "
                   "one forward per token with the KV cache, rate = (generated_tokens - 1) / time from the end of "
                   "the prompt forward to the last token (as LlamaTools.generate); torch.cuda.synchronize around timers; "
                   "no EOS stop"),
        "warmup_runs": warm, "warmup_s": warm_s,
        "load_seconds": info["load_seconds"],
        "runs": runs,
        "tokens": token_lists[0],
        "tokens_identical_across_runs": all(t == token_lists[0] for t in token_lists),
        "eos_in_tokens": eos in token_lists[0] if eos is not None else None,
        "first_logits_top5": [{"id": int(i), "logit": float(v)} for v, i in zip(top.values.tolist(), top.indices.tolist())],
        "first_logits_top5_note": "logits at the prompt's last position (they pick the first generated token)",
    }
    if a.compare_tokens:
        ref = json.load(open(a.compare_tokens))
        rt = ref["tokens"] if isinstance(ref, dict) else ref
        n = next((i for i, (x, y) in enumerate(zip(rt, token_lists[0])) if x != y), min(len(rt), len(token_lists[0])))
        res["compare_tokens"] = {"file": a.compare_tokens, "common_prefix": n,
                                 "equal_positions": sum(x == y for x, y in zip(rt, token_lists[0])), "of": min(len(rt), len(token_lists[0]))}
        log(f"tokens vs {a.compare_tokens}: identical for the first {n}")
    out = json.dumps(res, indent=1)
    if a.out:
        os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
        with open(a.out, "w") as f:
            f.write(out + "\n")
    log(f"prompt {res['prompt_tokens_per_s']:.1f} tok/s, generation {res['generation_tokens_per_s']:.1f} tok/s (median of {a.repeats}; {res['device']}, {a.dtype})")
    if not a.out:
        print(out)


# ---------------------------------------------------------------------------------------------
# self-test against llama.cpp


def selftest(a):
    import torch
    device = a.device or "cpu"
    model, config, info = build_model(a.model, a.dtype, device, a.pydeps, a.attn)
    runner = Runner(model, config)
    log(f"loaded in {info['load_seconds']:.1f} s ({a.dtype}, {device})")
    fx = json.load(open(a.fixture))
    res = {"tool": "torch_smollm2 --selftest", **versions(), "dtype": a.dtype, "device": device,
           "fixture": os.path.relpath(a.fixture, REPO), "fixture_generator": fx.get("llama_cpp_python")}

    def all_logits(ids):
        with torch.inference_mode():
            return runner.forward(torch.tensor([ids], device=device), runner.new_cache(), last_only=False).float().cpu()

    def greedy(ids, n):
        with torch.inference_mode():
            cache = runner.new_cache()
            lg = runner.forward(torch.tensor([ids], device=device), cache)
            out = []
            for _ in range(n):
                t = int(lg.argmax(-1))
                out.append(t)
                if len(out) == n:
                    break
                lg = runner.forward(torch.tensor([[t]], device=device), cache)
            return out

    # 1. fixture: top-20 logits at every position
    pos = top1 = 0
    maxd, rel = 0.0, 0.0
    per_prompt = []
    for c in fx["logits"]:
        L = all_logits(c["ids"])
        pd, pt = 0.0, 0
        for j, t in enumerate(c["top"]):
            ref = torch.tensor(t["logits"])
            got = L[j, torch.tensor(t["ids"])]
            d = float((got - ref).abs().max())
            pd = max(pd, d)
            rel = max(rel, d / float(ref.abs().max()))
            ok = int(L[j].argmax()) == t["ids"][0]
            pt += ok
            pos += 1
        top1 += pt
        maxd = max(maxd, pd)
        per_prompt.append({"text": c["text"], "positions": len(c["top"]), "top1_agree": pt, "max_abs_diff_top20": pd,
                           "first_pos_max_abs_diff_top20": float((L[0, torch.tensor(c["top"][0]["ids"])] - torch.tensor(c["top"][0]["logits"])).abs().max()),
                           "last_pos_max_abs_diff_top20": float((L[len(c["top"]) - 1, torch.tensor(c["top"][-1]["ids"])] - torch.tensor(c["top"][-1]["logits"])).abs().max())})
    res["fixture_logits"] = {"positions": pos, "top1_agree": top1, "max_abs_diff_top20": maxd,
                             "max_rel_diff_top20": rel, "prompts": per_prompt}
    log(f"fixture logits: top-1 {top1}/{pos}, max |Δ| over top-20 {maxd:.4f} (rel. to max |logit| {100 * rel:.2f}%)")

    # 2. fixture: greedy continuations (first --greedy-n tokens of each 32-token continuation)
    n = a.greedy_n
    gres, full, agree_tok, tot_tok = [], 0, 0, 0
    for c in fx["greedy"]:
        got = greedy(c["ids"], n)
        ref = c["continuation"][:n]
        same = next((i for i, (x, y) in enumerate(zip(got, ref)) if x != y), len(ref))
        full += same == len(ref)
        agree_tok += same
        tot_tok += len(ref)
        gres.append({"text": c["text"], "identical_prefix": same, "of": len(ref)})
    res["fixture_greedy"] = {"tokens": n, "identical": full, "prompts": len(gres), "identical_prefix_tokens": agree_tok,
                             "of_tokens": tot_tok, "per_prompt": gres}
    log(f"fixture greedy ({n} tokens): {full}/{len(gres)} identical, {agree_tok}/{tot_tok} tokens before the first difference")

    # 3. live llama-cpp-python on the same GGUF (CPU), where it imports
    try:
        import llama_cpp
    except Exception as e:  # noqa: BLE001
        res["live_llama_cpp"] = f"skipped: {e}"
        log(f"live llama.cpp comparison skipped: {e}")
    else:
        import numpy as np
        llm = llama_cpp.Llama(model_path=a.model, n_ctx=512, logits_all=True, verbose=False, seed=0)
        live = []
        for text in a.prompts:
            ids = llm.tokenize(text.encode(), add_bos=False, special=True)
            llm.reset()
            llm.eval(ids)
            ref = torch.from_numpy(np.array(llm.scores[: len(ids)], dtype=np.float32))
            L = all_logits(ids)
            row = {"text": text, "tokens": len(ids)}
            for name, j in (("first", 0), ("last", len(ids) - 1)):
                top = torch.topk(ref[j], 20).indices
                row[name] = {"top1_llama": int(ref[j].argmax()), "top1_torch": int(L[j].argmax()),
                             "top1_agree": int(ref[j].argmax()) == int(L[j].argmax()),
                             "max_abs_diff_top20": float((L[j, top] - ref[j, top]).abs().max()),
                             "max_abs_diff_all": float((L[j] - ref[j]).abs().max())}
            allj = torch.topk(ref, 20, dim=-1).indices
            row["all_positions_top1_agree"] = int((L.argmax(-1) == ref.argmax(-1)).sum())
            row["all_positions_max_abs_diff_top20"] = float((L.gather(1, allj) - ref.gather(1, allj)).abs().max())
            # greedy 16 with llama.cpp
            llm.reset()
            lc = []
            for t in llm.generate(ids, temp=0.0, top_k=1, top_p=1.0, min_p=0.0, repeat_penalty=1.0, reset=True):
                lc.append(int(t))
                if len(lc) == a.live_n:
                    break
            tg = greedy(ids, a.live_n)
            row["greedy_llama"] = lc
            row["greedy_torch"] = tg
            row["greedy_identical_prefix"] = next((i for i, (x, y) in enumerate(zip(lc, tg)) if x != y), len(lc))
            row["greedy_equal_positions"] = sum(x == y for x, y in zip(lc, tg))
            k = row["greedy_identical_prefix"]
            if k < len(lc):  # how close the two picks were where the continuations part
                ctx = ids + lc[:k]
                llm.reset()
                llm.eval(ctx)
                lr = np.array(llm.scores[len(ctx) - 1], dtype=np.float32)
                tr = all_logits(ctx)[-1]
                row["divergence"] = {"at": k, "llama_token": lc[k], "torch_token": tg[k],
                                     "llama_margin": float(lr[lc[k]] - lr[tg[k]]),
                                     "torch_margin": float(tr[tg[k]] - tr[lc[k]])}
            live.append(row)
            log(f"live {text!r}: first top-1 {row['first']['top1_agree']} |Δ|top20 {row['first']['max_abs_diff_top20']:.4f}; "
                f"last top-1 {row['last']['top1_agree']} |Δ|top20 {row['last']['max_abs_diff_top20']:.4f}; "
                f"greedy {row['greedy_identical_prefix']}/{a.live_n} identical prefix"
                + (f" (parts where llama.cpp's margin is {row['divergence']['llama_margin']:.3f}, torch's {row['divergence']['torch_margin']:.3f})" if "divergence" in row else ""))
        res["live_llama_cpp"] = {"llama_cpp_python": llama_cpp.__version__, "prompts": live}
    ok = top1 >= 0.9 * pos and all(p["first_pos_max_abs_diff_top20"] < 1.5 for p in per_prompt)
    res["pass"] = ok
    out = json.dumps(res, indent=1)
    if a.out:
        with open(a.out, "w") as f:
            f.write(out + "\n")
    else:
        print(out)
    log("selftest " + ("PASSED" if ok else "FAILED"))
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="llama GGUF (SmolLM2-135M-Instruct.Q4_1.gguf)")
    ap.add_argument("--prompt-ids", help="JSON list of prompt token ids (bench/smollm2-prompt512.json)")
    ap.add_argument("--pydeps", action="append", default=[], help="folder put first on sys.path (gguf; scripts/torch_smollm2_deps.sh)")
    ap.add_argument("--dtype", default="float16", choices=["float16", "bfloat16", "float32"])
    ap.add_argument("--device", help="cuda, cuda:N or cpu (default: cuda if available; cpu for --selftest)")
    ap.add_argument("--attn", default="sdpa", choices=["sdpa", "eager"], help="transformers attention implementation")
    ap.add_argument("--gen", type=int, default=128, help="tokens to generate")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--warmup-s", type=float, default=1.0, help="untimed warm-up: whole runs until this many seconds")
    ap.add_argument("--compare-tokens", help="JSON with 'tokens' (e.g. a qlinear generate --json result): report agreement")
    ap.add_argument("--out", help="write the JSON here (default: stdout)")
    ap.add_argument("--selftest", action="store_true", help="compare with llama.cpp (fixture + live llama-cpp-python)")
    ap.add_argument("--fixture", default=FIXTURE)
    ap.add_argument("--greedy-n", type=int, default=16, help="selftest: fixture greedy tokens compared per prompt")
    ap.add_argument("--live-n", type=int, default=16, help="selftest: live greedy tokens")
    ap.add_argument("--prompts", nargs="*", default=["The capital of France is", "Once upon a time, there was a little girl who",
                                                       "def fibonacci(n):"], help="selftest: live prompts")
    a = ap.parse_args()
    if a.selftest:
        if a.dtype == "float16" and "--dtype" not in sys.argv:
            a.dtype = "float32"
        return selftest(a)
    if not a.prompt_ids:
        ap.error("--prompt-ids is required (or --selftest)")
    if a.gen < 1:
        ap.error("--gen must be >= 1")
    bench(a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
