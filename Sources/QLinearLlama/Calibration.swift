#if canImport(Dispatch)
import Dispatch
#endif
import QLinear

/// Layer-input statistics of a llama model on calibration text, for GPTQ (`GPTQFactor`): per
/// linear-input site, H = Σ xxᵀ over every input row the site saw (K × K; only the lower triangle
/// is accumulated, which is all the factorization reads; fp32 sums). Filled by the observer under
/// the model's lock, one forward call at a time; not for concurrent use.
public final class LlamaCalibration: @unchecked Sendable {
    /// Tokens run, chunks of `ctx` (each from an empty KV cache).
    public let tokens: Int, chunks: Int, ctx: Int
    private(set) var sums: [LinearInputSite: (k: Int, h: [Float], rows: Int)] = [:]

    init(tokens: Int, chunks: Int, ctx: Int) { self.tokens = tokens; self.chunks = chunks; self.ctx = ctx }

    /// Rows seen at `site` (0 if none).
    public func rows(_ site: LinearInputSite) -> Int { sums[site]?.rows ?? 0 }

    /// Adds the rows `x` ([m, k]) to the site's sum.
    func add(_ site: LinearInputSite, _ x: [Float], m: Int) {
        let k = x.count / max(m, 1)
        var e = sums[site] ?? (k, [Float](repeating: 0, count: k * k), 0)
        precondition(e.k == k, "calibration: the width at \(site) changed")
        sums[site] = nil   // unique reference: the accumulation below does not copy the matrix
        e.h.withUnsafeMutableBufferPointer { hp in
            x.withUnsafeBufferPointer { xp in
                let H = CalibrationPointer(hp.baseAddress!), X = CalibrationConstPointer(xp.baseAddress!)
                // Rows of H in bands; band i fills H[i, 0…i] (lower triangle).
                let bands = min(k, 64)
                let work: @Sendable (Int) -> Void = { b in
                    var i = b
                    while i < k {
                        let hrow = H.p + i * k
                        for r in 0..<m {
                            let xr = X.p + r * k
                            let xi = xr[i]
                            if xi != 0 { for j in 0...i { hrow[j] += xi * xr[j] } }
                        }
                        i += bands
                    }
                }
                #if canImport(Dispatch)
                DispatchQueue.concurrentPerform(iterations: bands, execute: work)
                #else
                for b in 0..<bands { work(b) }
                #endif
            }
        }
        e.rows += m
        sums[site] = e
    }

    /// Per weight tensor name, each input column's importance: the mean x² over the calibration
    /// rows (H's diagonal / rows), floored at 1e-3 of the site's mean so no column is ignored.
    /// Does not consume the statistics.
    public func importance(headName: String = "output.weight") -> [String: [Float]] {
        var out = [String: [Float]]()
        for (site, e) in sums {
            var d = (0..<e.k).map { e.h[$0 * e.k + $0] / Float(max(e.rows, 1)) }
            let mean = d.reduce(0, +) / Float(max(e.k, 1))
            let floor = max(mean * 1e-3, Float.leastNormalMagnitude)
            for i in d.indices where !(d[i] >= floor) { d[i] = floor }
            for name in site.tensorNames(headName: headName) { out[name] = d }
        }
        return out
    }

    /// A GPTQ factor per weight tensor name (the tensors of one site share one factor):
    /// `dampening` as in `GPTQFactor.init`; `headName` names the LM head's tensor (`output.weight`,
    /// which `qlinear quantize` writes also for a head tied to the embedding). Each site's sum is
    /// released once it is factored (memory: the sums shrink as the factors grow), so this runs
    /// once; a second call throws. Factoring is O(K³) per site in fp64 on one core: seconds for
    /// K ≈ 1.5k, impractical for K ≈ 14k (an 8B model's FFN). `progress` gets (done, total) sites.
    public func factors(dampening: Double = 0.01, headName: String = "output.weight",
                        progress: (Int, Int) -> Void = { _, _ in }) throws -> [String: GPTQFactor] {
        guard !sums.isEmpty else { throw QLinearError.unsupported("no calibration statistics left (factors(…) runs once)") }
        var out = [String: GPTQFactor]()
        let sites = sums.keys.sorted { "\($0)" < "\($1)" }
        for (i, site) in sites.enumerated() {
            guard let e = sums.removeValue(forKey: site) else { continue }
            let f = try GPTQFactor(hessian: e.h, k: e.k, samples: e.rows, dampening: dampening)
            for name in site.tensorNames(headName: headName) { out[name] = f }
            progress(i + 1, sites.count)
        }
        return out
    }
}

struct CalibrationPointer: @unchecked Sendable { let p: UnsafeMutablePointer<Float>; init(_ p: UnsafeMutablePointer<Float>) { self.p = p } }
struct CalibrationConstPointer: @unchecked Sendable { let p: UnsafePointer<Float>; init(_ p: UnsafePointer<Float>) { self.p = p } }

extension LlamaTools {
    /// Runs `tokens` through the model in chunks of `ctx` (each from an empty cache, every row's
    /// logits, as `perplexity` does; a last partial chunk of ≥ 16 tokens is run too) and sums each
    /// linear input's xxᵀ. The model must use host ops (`LlamaModel(…, ops: .host)`): the inputs
    /// are observed on the CPU. `progress` gets (chunk, chunks).
    public static func calibrate(_ l: Loaded, tokens: [Int], ctx: Int, progress: (Int, Int) -> Void = { _, _ in }) throws -> LlamaCalibration {
        let m = l.model
        guard m.ops == .host else { throw QLinearError.unsupported("calibration observes the linear inputs on the CPU: load the model with host ops") }
        guard ctx >= 16 else { throw QLinearError.invalidShape("calibration chunk \(ctx): at least 16 tokens") }
        if let most = m.maxRowsWithAllLogits, min(ctx, tokens.count) > most {
            throw QLinearError.invalidShape("calibration chunk \(ctx): the logits of that many rows exceed the device's largest storage buffer; at most \(most) (--calibration-ctx)")
        }
        var starts = Array(stride(from: 0, to: tokens.count, by: ctx))
        if let last = starts.last, tokens.count - last < 16 { starts.removeLast() }
        guard !starts.isEmpty else { throw QLinearError.invalidShape("the calibration text has \(tokens.count) tokens, fewer than 16") }
        let c = LlamaCalibration(tokens: starts.reduce(0) { $0 + min(ctx, tokens.count - $1) }, chunks: starts.count, ctx: ctx)
        m.linearInputObserver = { site, x, rows in c.add(site, x, m: rows) }
        defer { m.linearInputObserver = nil }
        for (i, s) in starts.enumerated() {
            m.reset()
            _ = try m.forward(Array(tokens[s..<min(tokens.count, s + ctx)]), allLogits: true)
            progress(i + 1, starts.count)
        }
        m.reset()
        return c
    }
}
