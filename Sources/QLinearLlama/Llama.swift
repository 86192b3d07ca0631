#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import QLinear
import QLinearIO

/// How the model's linear layers run through QLinear.
public enum LlamaScheme: String, Sendable, CaseIterable {
    /// fp16 weights (every GGUF weight dequantized and rounded to fp16).
    case fp16
    /// INT4 group-symmetric weights × fp16/fp32 activations (requantized from the GGUF values;
    /// Q4_0 at group 32 is taken over losslessly).
    case q4gsw
    /// INT4 weights × int8 activations quantized per row on the GPU.
    case dq8ca_q4gsw
    /// INT8 per-channel weights × int8 dynamic activations.
    case dq8ca_q8csw

    /// The stored weight format this scheme runs on (dq8ca only changes the activation side).
    public var weightScheme: QLinearSafetensors.Scheme {
        switch self {
        case .fp16: return .fp16
        case .q4gsw, .dq8ca_q4gsw: return .q4gsw
        case .dq8ca_q8csw: return .q8csw
        }
    }

    /// The scheme a stored weight format runs with by default.
    public static func defaultScheme(for stored: QLinearSafetensors.Scheme) -> LlamaScheme {
        switch stored {
        case .fp16: return .fp16
        case .q4gsw: return .q4gsw
        case .q8csw: return .dq8ca_q8csw
        }
    }

    /// `requested` if it runs on `stored`'s format, the default for it when nil; else a clear error.
    static func resolve(requested: LlamaScheme?, stored: QLinearSafetensors.Entry, file: String, what: String, tensor: String) throws -> LlamaScheme {
        guard let r = requested else { return defaultScheme(for: stored.scheme) }
        guard r.weightScheme == stored.scheme else {
            let ok = allCases.filter { $0.weightScheme == stored.scheme }.map(\.rawValue).joined(separator: " or ")
            throw QLinearError.invalidFormat("\(what) \(r.rawValue) needs \(r.weightScheme.rawValue) weights, but \(file) stores \(tensor) as "
                                            + "\(stored.scheme.rawValue)\(stored.group.map { " (group \($0))" } ?? ""): use \(ok), or quantize the GGUF again "
                                            + "with --scheme \(r.weightScheme.rawValue)")
        }
        return r
    }

    func conversion(groupSize: Int, rule: Q4ScaleRule) -> GGUFConversion {
        switch self {
        case .fp16: return .fp16
        case .q4gsw, .dq8ca_q4gsw: return .q4gsw(groupSize: groupSize, rule: rule)
        case .dq8ca_q8csw: return .q8csw
        }
    }
}

/// Hyper-parameters of a llama-architecture model, from GGUF metadata (`llama.*`).
public struct LlamaConfig: Sendable, Equatable {
    /// Block count, embedding width, FFN width, query heads, KV heads.
    public var layers: Int, hidden: Int, ffn: Int, heads: Int, kvHeads: Int
    /// Head size, rotated dims per head, RoPE base, RMSNorm ε, vocabulary size, trained context.
    public var headDim: Int, ropeDim: Int, ropeBase: Float, eps: Float, vocab: Int, contextLength: Int

    /// Reads `llama.*` metadata; throws for other architectures or inconsistent sizes.
    public init(gguf g: GGUFFile) throws {
        let emb = try g.tensor("token_embd.weight")
        let (v, k) = try emb.matrix()
        try self.init(metadata: g.typedMetadata, embeddingShape: [v, k])
    }

    /// Reads `llama.*` metadata (a GGUF file's, or the copy a QLinear safetensors file carries);
    /// `embeddingShape` is token_embd's [vocab, hidden]. Throws for other architectures or
    /// inconsistent sizes.
    public init(metadata g: GGUFMetadata, embeddingShape: [Int]) throws {
        let arch = try g.string("general.architecture")
        guard arch == "llama" else { throw QLinearError.unsupported("architecture \"\(arch)\" (only \"llama\")") }
        // Optional keys: absent → the default; present → must read as their type (a wrong type is
        // an error, not a silent default).
        func optInt(_ key: String, _ d: Int) throws -> Int { g[key] == nil ? d : try g.int(key) }
        func optDouble(_ key: String, _ d: Double) throws -> Double { g[key] == nil ? d : try g.double(key) }
        layers = try g.int("llama.block_count")
        hidden = try g.int("llama.embedding_length")
        ffn = try g.int("llama.feed_forward_length")
        heads = try g.int("llama.attention.head_count")
        kvHeads = try optInt("llama.attention.head_count_kv", heads)
        eps = Float(try optDouble("llama.attention.layer_norm_rms_epsilon", 1e-5))
        ropeBase = Float(try optDouble("llama.rope.freq_base", 10000))
        contextLength = try optInt("llama.context_length", 2048)
        guard layers >= 1, layers <= 1024, hidden >= 1, ffn >= 1, heads >= 1, kvHeads >= 1, heads % kvHeads == 0, hidden % heads == 0 else {
            throw QLinearError.invalidFormat("llama metadata is inconsistent: layers \(layers), hidden \(hidden), ffn \(ffn), heads \(heads), kv heads \(kvHeads)")
        }
        headDim = hidden / heads
        ropeDim = try optInt("llama.rope.dimension_count", headDim)
        guard ropeDim >= 0, ropeDim % 2 == 0, ropeDim <= headDim else { throw QLinearError.invalidFormat("rope dimension \(ropeDim) with head size \(headDim)") }
        guard eps.isFinite, eps > 0, eps <= 1, ropeBase.isFinite, ropeBase > 0 else {
            throw QLinearError.invalidFormat("llama metadata: RMSNorm epsilon \(eps) must be in (0, 1] and RoPE base \(ropeBase) finite and > 0")
        }
        guard embeddingShape.count == 2, embeddingShape[0] >= 1 else {
            throw QLinearError.invalidFormat("token_embd.weight has shape \(embeddingShape), [vocab, hidden] expected")
        }
        let (v, k) = (embeddingShape[0], embeddingShape[1])
        guard k == hidden else { throw QLinearError.invalidFormat("token_embd.weight has rows of \(k), hidden = \(hidden)") }
        vocab = v
    }
}

/// Where a linear layer's input is observed (`LlamaModel.linearInputObserver`): each site feeds
/// one group of linear layers that read the same rows.
public enum LinearInputSite: Sendable, Hashable {
    /// The normed rows q, k and v read (layer index).
    case attention(Int)
    /// The attention output the o projection reads.
    case attentionOutput(Int)
    /// The normed rows gate and up read.
    case ffn(Int)
    /// The SwiGLU output the down projection reads.
    case ffnDown(Int)
    /// The output-normed rows the LM head reads.
    case head

    /// The GGUF names of the weights that read this input (`headName`: the LM head's tensor).
    public func tensorNames(headName: String = "output.weight") -> [String] {
        switch self {
        case .attention(let i): return ["blk.\(i).attn_q.weight", "blk.\(i).attn_k.weight", "blk.\(i).attn_v.weight"]
        case .attentionOutput(let i): return ["blk.\(i).attn_output.weight"]
        case .ffn(let i): return ["blk.\(i).ffn_gate.weight", "blk.\(i).ffn_up.weight"]
        case .ffnDown(let i): return ["blk.\(i).ffn_down.weight"]
        case .head: return [headName]
        }
    }
}

/// A llama model whose every linear layer (attention q/k/v/o, SwiGLU gate/up/down, LM head) is a
/// QLinear `LinearLayer` on the GPU. RMSNorm, RoPE, attention with a KV cache, SwiGLU and the
/// residual adds run on the device too (`ops: .device`, the default with fp32 activations: one
/// command buffer per forward call) or on the CPU in Swift (`.host`); the embedding lookup and
/// sampling are on the CPU.
///
/// RoPE follows llama.cpp's "normal" mode for the llama architecture: GGUF q/k weights are stored
/// permuted so that each head rotates adjacent pairs (2i, 2i+1) by pos·base^(−2i/ropeDim).
public final class LlamaModel: @unchecked Sendable {
    /// Hyper-parameters.
    public let config: LlamaConfig
    /// The linear layers' scheme.
    public let scheme: LlamaScheme
    /// The LM head's scheme.
    public let headScheme: LlamaScheme
    /// Activation type of every linear layer.
    public let act: DType
    /// INT4 group size (INT4 schemes).
    public let groupSize: Int
    /// How INT4 scales are chosen when weights are requantized (Q4_0 at group 32 is taken over as it is).
    public let scaleRule: Q4ScaleRule
    /// Where the steps between the linear layers run.
    public let ops: LlamaOps
    /// Positions the KV cache holds (device ops: `maxContext` or the model's context up to 4096;
    /// host ops: `maxContext` when given, else no limit — the cache grows).
    public let contextCapacity: Int?
    let ctx: QLinearContext
    private var device: DeviceForward?
    let embedding: [Float]            // [vocab, hidden], dequantized token_embd
    let outputNorm: [Float]
    struct Layer {
        let attnNorm: [Float], ffnNorm: [Float]
        let q: LinearLayer, k: LinearLayer, v: LinearLayer, o: LinearLayer
        let gate: LinearLayer, up: LinearLayer, down: LinearLayer
        // One GPU submission per group: q/k/v share their input, as do gate/up.
        let qkv: LinearGroup, oG: LinearGroup, gateUp: LinearGroup, downG: LinearGroup
        init(attnNorm: [Float], ffnNorm: [Float], q: LinearLayer, k: LinearLayer, v: LinearLayer, o: LinearLayer,
             gate: LinearLayer, up: LinearLayer, down: LinearLayer, guarded: Bool = false) throws {
            self.attnNorm = attnNorm; self.ffnNorm = ffnNorm
            self.q = q; self.k = k; self.v = v; self.o = o; self.gate = gate; self.up = up; self.down = down
            qkv = try LinearGroup([q, k, v], guarded: guarded); oG = try LinearGroup([o], guarded: guarded)
            gateUp = try LinearGroup([gate, up], guarded: guarded); downG = try LinearGroup([down], guarded: guarded)
        }
    }
    let layers: [Layer]
    let head: LinearLayer
    let headG: LinearGroup
    let invFreq: [Float]
    // KV cache: per layer [pos, kvHeads·headDim].
    var kCache: [[Float]], vCache: [[Float]]
    /// Tokens in the KV cache.
    public var position: Int { serial.withLock { _ in state.position } }
    /// Spread attention over the cores (one task per query row and head); false runs it on the
    /// calling thread (for comparisons).
    public var parallelAttention = true

    /// Seconds spent in QLinear linear layers (forward calls) and in the rest, since `resetTimers`.
    public var linearSeconds: Double { serial.withLock { _ in state.linearSeconds } }
    public var cpuSeconds: Double { serial.withLock { _ in state.cpuSeconds } }
    /// Mutable state, only touched with `serial` held: calls from several tasks are serialised
    /// (the model has one KV cache), which is what makes the `Sendable` claim true.
    private struct State { var position = 0; var linearSeconds = 0.0, cpuSeconds = 0.0 }
    private var state = State()
    private let serial = Locked<Void>(())
    /// Host ops only (calibration): called with every linear group's input rows ([m, K],
    /// row-major) before the group runs. A forward call with device ops and an observer throws.
    /// It runs on the thread that called `forward`, inside the model's lock: it must not call the
    /// model (that would deadlock).
    public var linearInputObserver: (@Sendable (LinearInputSite, [Float], Int) -> Void)? {
        get { serial.withLock { _ in observer } }
        set { serial.withLock { _ in observer = newValue } }
    }
    private var observer: (@Sendable (LinearInputSite, [Float], Int) -> Void)?
    /// Zeroes `linearSeconds` and `cpuSeconds`.
    public func resetTimers() { serial.withLock { _ in state.linearSeconds = 0; state.cpuSeconds = 0 } }

    /// Where a model's weights come from: the embedding table, 1-D vectors (norms) by name, and
    /// the linear layers by name and [N, K] (`isHead` for the LM head).
    struct WeightSource {
        let embedding: [Float]
        let vector: (String, Int) throws -> [Float]
        let linear: (String, Int, Int, _ isHead: Bool) throws -> LinearLayer
        let headName: String
        /// Whether the file holds a tensor of this name.
        let has: (String) -> Bool
    }

    /// Loads every weight from `gguf` and uploads the linear layers in `scheme`'s format.
    /// `groupSize` is the INT4 group (must divide every K: 576 for SmolLM2 allows 32 and 64).
    /// `headScheme` (nil = `scheme`) sets the LM head's format alone: SmolLM2's head is the tied
    /// Q8_0 embedding, which loses much more than the Q4_1 layers when requantized to INT4.
    /// `scaleRule` chooses INT4 scales when weights are requantized (`.mse`: the error search;
    /// `.absmax`: max|w|/7.5). `guardBuffers` (a check mode): every linear's input and outputs are
    /// fenced by poisoned guard regions, checked after each run; a kernel writing outside its
    /// output throws (`guardedRuns`).
    public convenience init(gguf g: GGUFFile, context: QLinearContext, scheme: LlamaScheme, groupSize: Int = 32, act: DType = .f32,
                            headScheme: LlamaScheme? = nil, scaleRule: Q4ScaleRule = .mse, guardBuffers: Bool = false,
                            ops: LlamaOps? = nil, maxContext: Int? = nil, progress: ((String) -> Void)? = nil) throws {
        let cfg = try LlamaConfig(gguf: g)
        let head = headScheme ?? scheme
        let source = WeightSource(
            embedding: try g.floats(try g.tensor("token_embd.weight")),
            vector: { name, n in
                let t = try g.tensor(name)
                guard t.count == n else { throw QLinearError.invalidShape("\(name) has \(t.count) values, \(n) expected") }
                return try g.floats(t)
            },
            linear: { name, n, k, isHead in
                let s = isHead ? head : scheme
                let t = try g.tensor(name)
                let (tn, tk) = try t.matrix()
                guard tn == n, tk == k else { throw QLinearError.invalidShape("\(name) is [\(tn), \(tk)] (N, K), [\(n), \(k)] expected") }
                return try LinearLayer(context: context, weights: try g.linearWeights(t, as: s.conversion(groupSize: groupSize, rule: scaleRule)),
                                       act: act, dynamicActivations: s == .dq8ca_q4gsw)
            },
            headName: g.has("output.weight") ? "output.weight" : "token_embd.weight", has: { g.has($0) })
        try self.init(config: cfg, context: context, scheme: scheme, headScheme: head, groupSize: groupSize, act: act, scaleRule: scaleRule,
                      guardBuffers: guardBuffers, ops: ops, maxContext: maxContext, progress: progress, source: source)
    }

    /// Loads a model from a QLinear safetensors file written by `qlinear quantize` from a GGUF
    /// (layout 2): the linear weights are taken as stored (no requantization), the embedding,
    /// norms and hyper-parameters come from the file's tensors and `gguf.*` metadata.
    ///
    /// `scheme` (nil: the one the stored weights imply — fp16 → `.fp16`, q4gsw → `.q4gsw`, q8csw →
    /// `.dq8ca_q8csw`) must run on the stored format: `.dq8ca_q4gsw` is allowed for q4gsw weights
    /// (it only quantizes activations), anything else that contradicts the file throws, as does a
    /// `groupSize` other than the stored group. Every layer's linears must share one format; the
    /// LM head (`output.weight`, else `token_embd.weight`) may differ, and `headScheme` follows
    /// the same rules against it (nil: `scheme` when it runs on the head's format, else the
    /// head's own default).
    public convenience init(file m: QLinearModelFile, context: QLinearContext, scheme: LlamaScheme? = nil, groupSize: Int? = nil,
                            act: DType = .f32, headScheme: LlamaScheme? = nil, guardBuffers: Bool = false,
                            ops: LlamaOps? = nil, maxContext: Int? = nil, progress: ((String) -> Void)? = nil) throws {
        let meta = try m.ggufMetadata()
        let emb = try m.floats("token_embd.weight")
        let cfg = try LlamaConfig(metadata: meta, embeddingShape: emb.shape)
        let firstName = "blk.0.attn_q.weight"
        guard let first = m.entries[firstName] else { _ = try m.weights(firstName); throw QLinearError.invalidFormat("\(m.name): \(firstName) is missing") }
        let sch = try LlamaScheme.resolve(requested: scheme, stored: first, file: m.name, what: "--scheme", tensor: firstName)
        if let g = groupSize, let sg = first.group, g != sg {
            throw QLinearError.invalidFormat("--group \(g) contradicts \(m.name), whose INT4 weights were quantized with group \(sg) (leave --group out)")
        }
        let headName = m.file.tensors["output.weight"] != nil ? "output.weight" : "token_embd.weight"
        guard let headEntry = m.entries[headName] else { _ = try m.weights(headName); throw QLinearError.invalidFormat("\(m.name): \(headName) is missing") }
        let headSch = try LlamaScheme.resolve(requested: headScheme ?? (sch.weightScheme == headEntry.scheme ? sch : nil), stored: headEntry,
                                              file: m.name, what: headScheme == nil ? "the LM head's scheme" : "--head-scheme", tensor: headName)
        if let g = groupSize, first.group == nil, let hg = headEntry.group, g != hg {
            throw QLinearError.invalidFormat("--group \(g) contradicts \(m.name), whose INT4 LM head \(headName) was quantized with group \(hg) (leave --group out)")
        }
        let source = WeightSource(
            embedding: emb.values,
            vector: { name, n in
                let (v, shape) = try m.floats(name)
                guard shape == [n] else { throw QLinearError.invalidShape("\(m.name): \(name) has shape \(shape), [\(n)] expected") }
                return v
            },
            linear: { name, n, k, isHead in
                guard let e = m.entries[name] else { _ = try m.weights(name); throw QLinearError.invalidFormat("\(m.name): \(name) is missing") }
                if !isHead && (e.scheme != first.scheme || e.group != first.group) {
                    throw QLinearError.invalidFormat("\(m.name): \(name) is \(e.scheme.rawValue)\(e.group.map { " g\($0)" } ?? ""), \(firstName) is "
                                                     + "\(first.scheme.rawValue)\(first.group.map { " g\($0)" } ?? ""): the layers' linears must share one format")
                }
                guard e.shape == [n, k] else { throw QLinearError.invalidShape("\(m.name): \(name) is \(e.shape) (N, K), [\(n), \(k)] expected") }
                return try LinearLayer(context: context, weights: try m.weights(name), act: act,
                                       dynamicActivations: (isHead ? headSch : sch) == .dq8ca_q4gsw)
            },
            headName: headName, has: { m.file.tensors[$0] != nil })
        let rule = m.file.metadata["qlinear.scale_rule"].flatMap(Q4ScaleRule.init(rawValue:)) ?? .mse
        try self.init(config: cfg, context: context, scheme: sch, headScheme: headSch, groupSize: first.group ?? headEntry.group ?? groupSize ?? 32, act: act,
                      scaleRule: rule, guardBuffers: guardBuffers, ops: ops, maxContext: maxContext, progress: progress, source: source)
    }

    private init(config cfg: LlamaConfig, context: QLinearContext, scheme: LlamaScheme, headScheme: LlamaScheme, groupSize: Int, act: DType,
                 scaleRule: Q4ScaleRule, guardBuffers: Bool, ops: LlamaOps?, maxContext: Int?, progress: ((String) -> Void)?,
                 source: WeightSource) throws {
        config = cfg; self.scheme = scheme; self.headScheme = headScheme; self.act = act; self.groupSize = groupSize; ctx = context
        self.scaleRule = scaleRule
        let chosen = ops ?? (act == .f32 && !guardBuffers ? .device : .host)
        if chosen == .device && act != .f32 { throw QLinearError.unsupported("--ops device needs fp32 activations (--act f32), or use --ops host") }
        if chosen == .device && guardBuffers { throw QLinearError.unsupported("guard mode checks the host path's linear groups: use --ops host with --guard-buffers") }
        if let c = maxContext, c < 1 { throw QLinearError.invalidShape("context \(c): at least 1 position") }
        self.ops = chosen
        if let c = maxContext, c > 1 << 20 { throw QLinearError.invalidShape("context \(c): at most 2^20 positions") }
        if chosen == .device && maxContext == nil && cfg.contextLength < 1 {
            throw QLinearError.invalidFormat("llama.context_length is \(cfg.contextLength): give the KV cache's size (--ctx-size)")
        }
        contextCapacity = chosen == .device ? (maxContext ?? min(cfg.contextLength, 4096)) : maxContext
        func linear(_ name: String, n: Int, k: Int) throws -> LinearLayer { try source.linear(name, n, k, false) }
        func vector(_ name: String, _ n: Int) throws -> [Float] { try source.vector(name, n) }
        guard source.embedding.count == cfg.vocab * cfg.hidden else {
            throw QLinearError.invalidShape("token_embd.weight has \(source.embedding.count) values, \(cfg.vocab) × \(cfg.hidden) expected")
        }
        embedding = source.embedding
        // A block count below the file's layers would run a truncated model without a word.
        if source.has("blk.\(cfg.layers).attn_norm.weight") || source.has("blk.\(cfg.layers).attn_q.weight") {
            throw QLinearError.invalidFormat("llama.block_count is \(cfg.layers) but the file holds tensors of layer \(cfg.layers) (blk.\(cfg.layers).*)")
        }
        outputNorm = try vector("output_norm.weight", cfg.hidden)
        let kvDim = cfg.kvHeads * cfg.headDim
        var ls = [Layer]()
        for i in 0..<cfg.layers {
            progress?("layer \(i + 1)/\(cfg.layers)")
            let p = "blk.\(i)."
            ls.append(try Layer(attnNorm: try vector(p + "attn_norm.weight", cfg.hidden), ffnNorm: try vector(p + "ffn_norm.weight", cfg.hidden),
                            q: try linear(p + "attn_q.weight", n: cfg.hidden, k: cfg.hidden),
                            k: try linear(p + "attn_k.weight", n: kvDim, k: cfg.hidden),
                            v: try linear(p + "attn_v.weight", n: kvDim, k: cfg.hidden),
                            o: try linear(p + "attn_output.weight", n: cfg.hidden, k: cfg.hidden),
                            gate: try linear(p + "ffn_gate.weight", n: cfg.ffn, k: cfg.hidden),
                            up: try linear(p + "ffn_up.weight", n: cfg.ffn, k: cfg.hidden),
                            down: try linear(p + "ffn_down.weight", n: cfg.hidden, k: cfg.ffn), guarded: guardBuffers))
        }
        layers = ls
        progress?("output")
        head = try source.linear(source.headName, cfg.vocab, cfg.hidden, true)
        headG = try LinearGroup([head], guarded: guardBuffers)
        invFreq = (0..<(cfg.ropeDim / 2)).map { powf(cfg.ropeBase, -Float(2 * $0) / Float(cfg.ropeDim)) }
        kCache = Array(repeating: [], count: cfg.layers)
        vCache = Array(repeating: [], count: cfg.layers)
        if let cap = contextCapacity {
            progress?("device ops")
            device = try DeviceForward(context: context, config: cfg, layers: ls, head: head, outputNorm: outputNorm, invFreq: invFreq, capacity: cap)
        }
    }

    /// Guard mode: linear-group runs whose guard regions were checked (0 without `guardBuffers`).
    public var guardedRuns: Int { serial.withLock { _ in guardedRunsLocked } }
    private var guardedRunsLocked: Int { layers.reduce(headG.guardedRuns) { $0 + $1.qkv.guardedRuns + $1.oG.guardedRuns + $1.gateUp.guardedRuns + $1.downG.guardedRuns } }

    /// The most rows one `forward(…, allLogits: true)` call can return on this device (the logits
    /// of all rows are one buffer), or nil when the limit is beyond any sensible call.
    public var maxRowsWithAllLogits: Int? {
        let most = Int(min(ctx.capabilities.maxStorageBufferRange, UInt64(Int.max))) / max(1, config.vocab * 4)
        return most < 1 << 20 ? most : nil
    }

    /// Empties the KV cache.
    public func reset() {
        serial.withLock { _ in resetLocked() }
    }

    private func resetLocked() {
        state.position = 0
        for i in 0..<layers.count { kCache[i].removeAll(keepingCapacity: true); vCache[i].removeAll(keepingCapacity: true) }
    }

    func run(_ g: LinearGroup, _ x: [Float], m: Int) throws -> [[Float]] {
        let t0 = monotonicSeconds()
        let y = try g.run(x, m: m)
        state.linearSeconds += monotonicSeconds() - t0
        return y
    }

    func rmsnorm(_ x: [Float], _ w: [Float], m: Int) -> [Float] {
        let d = config.hidden
        var out = [Float](repeating: 0, count: x.count)
        for r in 0..<m {
            var ss: Float = 0
            for j in 0..<d { ss += x[r * d + j] * x[r * d + j] }
            let s = 1 / (ss / Float(d) + config.eps).squareRoot()
            for j in 0..<d { out[r * d + j] = x[r * d + j] * s * w[j] }
        }
        return out
    }

    func rope(_ x: inout [Float], heads: Int, m: Int, pos0: Int) {
        let hd = config.headDim, nf = invFreq.count
        var cs = [Float](repeating: 0, count: 2 * nf)
        for r in 0..<m {
            let pos = Float(pos0 + r)
            // One cos/sin per frequency and row, shared by every head.
            for i in 0..<nf { let a = pos * invFreq[i]; cs[2 * i] = cosf(a); cs[2 * i + 1] = sinf(a) }
            for h in 0..<heads {
                let base = (r * heads + h) * hd
                for i in 0..<nf {
                    let c = cs[2 * i], s = cs[2 * i + 1]
                    let x0 = x[base + 2 * i], x1 = x[base + 2 * i + 1]
                    x[base + 2 * i] = x0 * c - x1 * s
                    x[base + 2 * i + 1] = x0 * s + x1 * c
                }
            }
        }
    }

    /// Causal softmax attention of `m` query rows (positions pos0…pos0+m−1) against the layer's
    /// KV cache, one task per (row, head), spread over the cores when the work is large enough.
    func attention(_ q: [Float], layer li: Int, m: Int, pos0: Int) -> [Float] {
        let cfg = config, d = cfg.hidden, hd = cfg.headDim, kvDim = cfg.kvHeads * hd
        let heads = cfg.heads, group = cfg.heads / cfg.kvHeads
        let scale = 1 / Float(hd).squareRoot()
        var att = [Float](repeating: 0, count: m * d)
        q.withUnsafeBufferPointer { Qb in
            kCache[li].withUnsafeBufferPointer { Kb in
                vCache[li].withUnsafeBufferPointer { Vb in
                    att.withUnsafeMutableBufferPointer { Ab in
                        let P = AttentionPointers(q: Qb.baseAddress!, k: Kb.baseAddress!, v: Vb.baseAddress!, out: Ab.baseAddress!)
                        let task: @Sendable (Int) -> Void = { idx in
                            let r = idx / heads, hh = idx % heads
                            let n = pos0 + r + 1   // causal: positions 0…pos0+r
                            let kh = hh / group
                            let qp = P.q + (r * heads + hh) * hd
                            var scores = [Float](repeating: 0, count: n)
                            var mx = -Float.infinity
                            for p in 0..<n {
                                let kp = P.k + p * kvDim + kh * hd
                                var s: Float = 0
                                for j in 0..<hd { s += qp[j] * kp[j] }
                                s *= scale
                                scores[p] = s
                                mx = max(mx, s)
                            }
                            var sum: Float = 0
                            for p in 0..<n { let e = expf(scores[p] - mx); scores[p] = e; sum += e }
                            let inv = 1 / sum
                            let op = P.out + r * d + hh * hd
                            for p in 0..<n {
                                let w = scores[p] * inv
                                let vp = P.v + p * kvDim + kh * hd
                                for j in 0..<hd { op[j] += w * vp[j] }
                            }
                        }
                        // Below ~64k multiply-adds per call the threads cost more than they save.
                        let work = m * heads * (pos0 + m) * hd
                        if work >= 1 << 16 && parallelAttention {
                            DispatchQueue.concurrentPerform(iterations: m * heads, execute: task)
                        } else {
                            for i in 0..<(m * heads) { task(i) }
                        }
                    }
                }
            }
        }
        return att
    }

    /// Runs `tokens` through the model after what the KV cache holds and returns logits
    /// [rows, vocab]: for every token when `allLogits`, else for the last one only.
    public func forward(_ tokens: [Int], allLogits: Bool = false) throws -> [Float] {
        try serial.withLock { _ in try forwardLocked(tokens, allLogits: allLogits) }
    }

    private func forwardLocked(_ tokens: [Int], allLogits: Bool) throws -> [Float] {
        let cfg = config
        let m = tokens.count
        guard m >= 1 else { throw QLinearError.invalidShape("no tokens") }
        if let bad = tokens.first(where: { $0 < 0 || $0 >= cfg.vocab }) { throw QLinearError.invalidShape("token id \(bad) outside the vocabulary (\(cfg.vocab))") }
        let start = monotonicSeconds()
        let lin0 = state.linearSeconds
        defer { state.cpuSeconds += (monotonicSeconds() - start) - (state.linearSeconds - lin0) }
        let d = cfg.hidden
        let pos0 = state.position
        if let cap = contextCapacity, pos0 > cap - m {
            throw QLinearError.invalidShape("the KV cache holds \(cap) positions: \(pos0) used + \(m) new do not fit (load the model with a larger context: --ctx-size, `maxContext`)")
        }
        if allLogits, let most = maxRowsWithAllLogits, m > most {
            throw QLinearError.invalidShape("logits for all \(m) rows need \(m) × \(cfg.vocab) × 4 bytes, more than the device's largest storage buffer: at most \(most) rows per call (--ctx)")
        }
        var x = [Float](repeating: 0, count: m * d)
        for (r, t) in tokens.enumerated() { for j in 0..<d { x[r * d + j] = embedding[t * d + j] } }
        if let device {
            if observer != nil { throw QLinearError.unsupported("linear inputs are observed with host ops only (load the model with ops: .host)") }
            // One submission: every layer, the output norm and the head on the device. Its time
            // counts as linear time (the GPU part cannot be split without timestamps).
            let t0 = monotonicSeconds()
            let logits = try device.forward(x, m: m, pos0: pos0, allLogits: allLogits)
            state.linearSeconds += monotonicSeconds() - t0
            state.position += m
            return logits
        }
        for (li, L) in layers.enumerated() {
            let h = rmsnorm(x, L.attnNorm, m: m)
            observer?(.attention(li), h, m)
            let qkv = try run(L.qkv, h, m: m)
            var q = qkv[0], k = qkv[1]
            let v = qkv[2]
            rope(&q, heads: cfg.heads, m: m, pos0: pos0)
            rope(&k, heads: cfg.kvHeads, m: m, pos0: pos0)
            kCache[li].append(contentsOf: k)
            vCache[li].append(contentsOf: v)
            let att = attention(q, layer: li, m: m, pos0: pos0)
            observer?(.attentionOutput(li), att, m)
            let o = try run(L.oG, att, m: m)[0]
            for i in 0..<x.count { x[i] += o[i] }
            let h2 = rmsnorm(x, L.ffnNorm, m: m)
            observer?(.ffn(li), h2, m)
            let gu = try run(L.gateUp, h2, m: m)
            let gt = gu[0], up = gu[1]
            var a = [Float](repeating: 0, count: gt.count)
            for i in 0..<a.count { let gv = gt[i]; a[i] = gv / (1 + expf(-gv)) * up[i] }
            observer?(.ffnDown(li), a, m)
            let dn = try run(L.downG, a, m: m)[0]
            for i in 0..<x.count { x[i] += dn[i] }
        }
        state.position += m
        if allLogits {
            let hx = rmsnorm(x, outputNorm, m: m)
            observer?(.head, hx, m)
            return try run(headG, hx, m: m)[0]
        }
        let last = Array(x[((m - 1) * d)..<(m * d)])
        let hx = rmsnorm(last, outputNorm, m: 1)
        observer?(.head, hx, 1)
        return try run(headG, hx, m: 1)[0]
    }
}

/// The attention inputs and output, handed to concurrent tasks that write disjoint rows/heads.
struct AttentionPointers: @unchecked Sendable {
    let q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>
    let out: UnsafeMutablePointer<Float>
}

/// Monotonic seconds.
public func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}
