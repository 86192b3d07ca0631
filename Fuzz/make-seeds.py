#!/usr/bin/env python3
"""Writes the committed seed corpus under Fuzz/corpus/<target>/ (small, valid-looking inputs the
fuzzer mutates). Deterministic; rerun after changing it. Crashers found later go in the same
directories (named crash-*) and become regression cases in Tests/."""
import json, os, struct

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")

def put(target, name, data):
    d = os.path.join(root, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())

# --- safetensors ---
def safetensors(tensors, metadata=None):
    header, data = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + data

f32 = lambda vals: struct.pack("<%df" % len(vals), *vals)
f16 = lambda vals: struct.pack("<%de" % len(vals), *vals)
put("safetensors", "x-f32", safetensors({"x": ("F32", [2, 4], f32([1, 2, 3, 4, 5, 6, 7, 8]))}))
put("safetensors", "linear-fp16", safetensors({
    "x": ("F16", [1, 8], f16([0.5] * 8)), "weight": ("F16", [2, 8], f16([1, -1] * 8)), "bias": ("F32", [2], f32([0.25, -0.25]))},
    metadata={"format": "pt"}))
put("safetensors", "linear-q4", safetensors({
    "x": ("BF16", [1, 32], b"\x80\x3f" * 32), "weight": ("U8", [2, 16], bytes(range(32))), "scales": ("F16", [2, 1], f16([0.1, -0.2]))}))
put("safetensors", "linear-q8", safetensors({
    "x": ("F32", [1, 4], f32([1, 2, 3, 4])), "weight": ("I8", [3, 4], bytes([1, 255, 2, 254, 3, 253, 4, 252, 5, 251, 6, 250])),
    "scales": ("F32", [3], f32([0.5, 0.25, 0.125]))}))
put("safetensors", "scalar-and-empty", safetensors({"s": ("F64", [], struct.pack("<d", 3.5)), "e": ("I32", [0, 3], b""),
                                                   "i": ("I64", [1], struct.pack("<q", -7))}))

# --- GGUF ---
T_U8, T_I8, T_U16, T_I16, T_U32, T_I32, T_F32, T_BOOL, T_STR, T_ARR, T_U64, T_I64, T_F64 = range(13)
def gstr(s): b = s.encode(); return struct.pack("<Q", len(b)) + b
def gval(t, v):
    if t == T_STR: return gstr(v)
    if t == T_ARR:
        et, items = v
        return struct.pack("<IQ", et, len(items)) + b"".join(gval(et, x) for x in items)
    return struct.pack({T_U8: "<B", T_I8: "<b", T_U16: "<H", T_I16: "<h", T_U32: "<I", T_I32: "<i", T_F32: "<f",
                        T_BOOL: "<?", T_U64: "<Q", T_I64: "<q", T_F64: "<d"}[t], v)
def gguf(kv, tensors, alignment=32):
    b = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kv))
    for k, t, v in kv:
        b += gstr(k) + struct.pack("<I", t) + gval(t, v)
    offs, off = [], 0
    for _, _, _, raw in tensors:
        offs.append(off); off = (off + len(raw) + alignment - 1) // alignment * alignment
    for (name, dims, gtype, _), o in zip(tensors, offs):
        b += gstr(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims) + struct.pack("<IQ", gtype, o)
    b += b"\0" * (-len(b) % alignment)
    for _, _, _, raw in tensors:
        b += raw + b"\0" * (-len(raw) % alignment)
    return b

GF32, GF16, GQ4_0, GQ4_1, GQ8_0 = 0, 1, 2, 3, 8
def q4_0(d, qs): return struct.pack("<e", d) + bytes((qs[i] & 15) | ((qs[i + 16] & 15) << 4) for i in range(16))
def q4_1(d, m, qs): return struct.pack("<ee", d, m) + bytes((qs[i] & 15) | ((qs[i + 16] & 15) << 4) for i in range(16))
def q8_0(d, qs): return struct.pack("<e", d) + bytes(q & 255 for q in qs)

# byte-level BPE vocabulary: the 256 byte characters of GPT-2, a few merges, special tokens
bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
cs, n = bs[:], 0
for b in range(256):
    if b not in bs: bs.append(b); cs.append(256 + n); n += 1
byte_chars = [chr(c) for _, c in sorted(zip(bs, cs))]
tokens = byte_chars + ["Ġt", "he", "Ġthe", "in", "<|im_start|>", "<|im_end|>", "<|endoftext|>"]
types = [6] * 256 + [1, 1, 1, 1, 3, 3, 3]
merges = ["Ġ t", "h e", "Ġt he", "i n"]
tok_kv = [("tokenizer.ggml.model", T_STR, "gpt2"), ("tokenizer.ggml.pre", T_STR, "smollm"),
          ("tokenizer.ggml.tokens", T_ARR, (T_STR, tokens)), ("tokenizer.ggml.token_type", T_ARR, (T_I32, types)),
          ("tokenizer.ggml.merges", T_ARR, (T_STR, merges)), ("tokenizer.ggml.bos_token_id", T_U32, 260),
          ("tokenizer.ggml.eos_token_id", T_U32, 261), ("tokenizer.ggml.add_bos_token", T_BOOL, False)]
hidden, ffn, vocab = 32, 64, len(tokens)
llama_kv = [("general.architecture", T_STR, "llama"), ("general.name", T_STR, "fuzz-seed"),
            ("llama.block_count", T_U32, 1), ("llama.embedding_length", T_U32, hidden), ("llama.feed_forward_length", T_U32, ffn),
            ("llama.attention.head_count", T_U32, 4), ("llama.attention.head_count_kv", T_U32, 2),
            ("llama.attention.layer_norm_rms_epsilon", T_F32, 1e-5), ("llama.rope.freq_base", T_F32, 10000.0),
            ("llama.context_length", T_U32, 64), ("general.alignment", T_U32, 32)]
qs = [(i * 7) % 16 for i in range(32)]
put("gguf", "tokenizer-only", gguf(tok_kv, []))
put("gguf", "tensors-all-types", gguf([("general.architecture", T_STR, "llama"), ("x.f64", T_F64, 2.5), ("x.i64", T_I64, -3),
                                        ("x.u16", T_U16, 7), ("x.arr", T_ARR, (T_F32, [1.0, 2.0]))], [
    ("f32", [4, 2], GF32, f32([1, 2, 3, 4, 5, 6, 7, 8])),
    ("f16", [8], GF16, f16([1, -2, 3, -4, 5, -6, 7, -8])),
    ("q4_0", [32, 2], GQ4_0, q4_0(0.5, qs) + q4_0(-0.25, qs[::-1])),
    ("q4_1", [32, 1], GQ4_1, q4_1(0.5, -1.0, qs)),
    ("q8_0", [32, 2], GQ8_0, q8_0(0.1, list(range(-16, 16))) + q8_0(0.2, list(range(16, -16, -1)))),
]))
# A one-layer llama with the tokenizer: every tensor the runner looks up, small.
def mat(n, k): return (n * k // 32) * q4_0(0.01, qs)
llama_tensors = [("token_embd.weight", [hidden, vocab], GQ8_0, (vocab * hidden // 32) * q8_0(0.02, list(range(-16, 16)))),
                 ("output_norm.weight", [hidden], GF32, f32([1.0] * hidden))]
kv_dim = hidden // 4 * 2
for name, n_, k_ in [("attn_q", hidden, hidden), ("attn_k", kv_dim, hidden), ("attn_v", kv_dim, hidden), ("attn_output", hidden, hidden),
                     ("ffn_gate", ffn, hidden), ("ffn_up", ffn, hidden), ("ffn_down", hidden, ffn)]:
    llama_tensors.append((f"blk.0.{name}.weight", [k_, n_], GQ4_0, mat(n_, k_)))
llama_tensors += [("blk.0.attn_norm.weight", [hidden], GF32, f32([1.0] * hidden)), ("blk.0.ffn_norm.weight", [hidden], GF32, f32([1.0] * hidden))]
put("gguf", "llama-tiny", gguf(llama_kv + tok_kv, llama_tensors))
v2 = bytearray(gguf([("general.architecture", T_STR, "llama")], [("f32", [2], GF32, f32([1, 2]))]))
v2[4:8] = struct.pack("<I", 2)
put("gguf", "version-2", bytes(v2))

# --- tokenizer (text) ---
for i, t in enumerate(["Hello, world! The capital of France is Paris.",
                       "<|im_start|>user\nWhat is 12345 + 678?<|im_end|>\n<|im_start|>assistant\n",
                       "def f(x):\n\treturn x ** 2  # comment\n\n\n",
                       "café naïve — 日本語のテキスト 😀👍🏽 \u200b\u00a0 Ω≈ç√",
                       "   leading and trailing spaces   ", "it's they're I'LL we've 'quoted' don't",
                       "12.5% of 1,000,000 = 125000; 3.14159e-10", "\r\n\r\n\t \x0b\x0c", ""]):
    put("tokenizer", "text-%d" % i, t)

# --- tuning tables ---
repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
tdir = os.path.join(repo, "Tuning")
for fn in sorted(os.listdir(tdir)):
    if fn.endswith(".json"):
        with open(os.path.join(tdir, fn), "rb") as f:
            put("tuning", fn, f.read())
put("tuning", "small", json.dumps({"name": "t", "match": {"vendorID": 4318, "nameContains": "H1", "driverName": "x"}, "provenance": "seed",
    "gemv": [{"ops": ["q4gsw"], "when": {"m": [1, 8], "n": [None, 4096]}, "config": {"columns": 2, "threads": 128, "unroll": 2}}],
    "coopmat": [{"ops": ["fp16", "q4gsw"], "when": {"tiles128": [256, None], "k": [1, None]}, "tile": {"bm": 128, "bn": 128, "wm": 2, "wn": 4}, "kStep": 64},
                {"tile": {"bm": 64, "bn": 64, "wm": 2, "wn": 2}}]}))

# --- CLI parsers ---
for i, t in enumerate(["128x4096x4096", "1x1x1", "2048X14336X4096", "large", "small", "tiny", "128x128/2x4", "64x32/1x1",
                       "2x128x2", "8x256x1", "# shapes\n1x4096x4096\n\n128x11008x4096  # mlp\n  7x13x5\n"]):
    put("cli", "arg-%d" % i, t)
