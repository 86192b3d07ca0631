#if canImport(Dispatch)
import Dispatch
#endif

/// How the INT4 quantizer picks each group's scale. The stored format is the same for every rule
/// (q4gsw: w ≈ (q − 8)·scale, q − 8 ∈ [−8, 7]); only the choice of scale differs.
public enum Q4ScaleRule: String, Sendable, CaseIterable, Codable {
    /// torchao's rule: scale = max|w| / 7.5 (the range's half-width, positive).
    case absmax
    /// Error search: the scale (either sign) that minimizes the group's squared error
    /// Σ (w − scale·q)² with q = clamp(round(w / scale), −8, 7). See `Q4GSWWeights.searchScale`.
    case mse
}

extension Q4GSWWeights {
    /// Quantizes fp32 weights [N, K] group-wise with `rule`. `.absmax` is exactly
    /// `quantize(_:n:k:groupSize:scaleDType:)`; `.mse` picks each (row, group) scale with
    /// `searchScale` (rounded to `scaleDType` before q is computed, so the error it minimizes is
    /// the stored one), then q = clamp(round_half_even(w / scale), −8, 7), stored as q + 8.
    /// Rows are quantized in parallel. Same validation and errors as the absmax quantizer.
    public static func quantize(_ w: [Float], n: Int, k: Int, groupSize: Int, scaleDType: DType = .f16, rule: Q4ScaleRule) throws -> Q4GSWWeights {
        if rule == .absmax { return try quantize(w, n: n, k: k, groupSize: groupSize, scaleDType: scaleDType) }
        return try quantizeRows(w, n: n, k: k, groupSize: groupSize, scaleDType: scaleDType) { row in
            for g in 0..<row.groups {
                guard let s = searchScale(row.group(g), scaleDType: scaleDType) else { return false }
                row.store(group: g, scale: s)
            }
            return true
        }
    }

    /// One row being quantized by `quantizeRows`: its weights (which a quantizer may change as
    /// it goes, as GPTQ does), and where its scales and packed nibbles go.
    struct RowJob {
        let x: UnsafeMutableBufferPointer<Float>
        let scales: UnsafeMutablePointer<Float>
        let packed: UnsafeMutablePointer<UInt8>
        let groupSize: Int, groups: Int
        /// The weights of group g, as they are now.
        func group(_ g: Int) -> UnsafeBufferPointer<Float> {
            UnsafeBufferPointer(rebasing: UnsafeBufferPointer(x)[(g * groupSize)..<((g + 1) * groupSize)])
        }
        /// Records group g's scale and rounds its weights with it.
        func store(group g: Int, scale s: Float) {
            scales[g] = s
            for c in (g * groupSize)..<((g + 1) * groupSize) { put(c, roundClamp4(x[c] * (1 / s))) }
        }
        /// Stores column c's integer q ∈ [−8, 7] (as q + 8, low nibble for even c).
        func put(_ c: Int, _ q: Float) {
            let v = UInt8(Int(q) + 8)
            packed[c / 2] |= c % 2 == 0 ? v : v << 4
        }
    }

    /// The row-parallel driver of the INT4 quantizers: validates, then calls `body` once per row
    /// (rows in parallel chunks; each row's weights copied into a scratch row the body may
    /// modify) and assembles the weights. `body` returns false when a scale overflows.
    static func quantizeRows(_ w: [Float], n: Int, k: Int, groupSize: Int, scaleDType: DType,
                             _ body: @Sendable (RowJob) -> Bool) throws -> Q4GSWWeights {
        try validateQuantizeInput(w, n: n, k: k, groupSize: groupSize)
        let groups = k / groupSize
        var scales = [Float](repeating: 0, count: n * groups)
        var packed = [UInt8](repeating: 0, count: n * k / 2)
        // Rows are independent: each worker writes its own rows' scales and bytes.
        let failed = AtomicFlag()
        w.withUnsafeBufferPointer { wp in
            scales.withUnsafeMutableBufferPointer { sp in
                packed.withUnsafeMutableBufferPointer { pp in
                    let (W, S, P) = (SendablePointer(wp.baseAddress!), SendableMutablePointer(sp.baseAddress!), SendableMutablePointer(pp.baseAddress!))
                    let chunk = max(1, min(64, n / 16))
                    concurrentRows((n + chunk - 1) / chunk) { j in
                        var row = [Float](repeating: 0, count: k)
                        for r in (j * chunk)..<min(n, (j + 1) * chunk) {
                            let ok = row.withUnsafeMutableBufferPointer { x -> Bool in
                                for c in 0..<k { x[c] = W.p[r * k + c] }
                                return body(RowJob(x: x, scales: S.p + r * groups, packed: P.p + r * (k / 2), groupSize: groupSize, groups: groups))
                            }
                            if !ok { failed.set(); return }
                        }
                    }
                }
            }
        }
        if failed.isSet {
            throw QLinearError.invalidShape("q4gsw quantize: a group's scale overflows fp16 (max 65504); use fp32 scales (qlinear quantize --scale-dtype f32)")
        }
        return try Q4GSWWeights(n: n, k: k, groupSize: groupSize, packed: packed, scales: scales, scaleDType: scaleDType)
    }

    /// Quantizes like `rule: .mse` with each column's squared error weighted by `importance[k]`
    /// (K values ≥ 0, e.g. the mean x² of the layer's inputs over calibration text). Rows run in
    /// parallel; same format and errors.
    ///
    /// `weightTerm` (llama.cpp's form for its imatrix quantizers): column c of row r weighs
    /// importance[c]·√(σ²_r + w[r,c]²), σ²_r the row's mean w², so within a column's importance the
    /// larger weights count more; false: importance[c] alone.
    public static func quantize(_ w: [Float], n: Int, k: Int, groupSize: Int, scaleDType: DType = .f16, importance: [Float],
                                weightTerm: Bool = true) throws -> Q4GSWWeights {
        guard importance.count == k else { throw QLinearError.invalidShape("q4gsw quantize: \(importance.count) importance values, K = \(k) expected") }
        if let bad = importance.firstIndex(where: { !($0.isFinite && $0 >= 0) }) { throw QLinearError.nonFinite("importance[\(bad)] = \(importance[bad])") }
        return try quantizeRows(w, n: n, k: k, groupSize: groupSize, scaleDType: scaleDType) { row in
            var sigma2: Float = 0
            for c in 0..<k { sigma2 += row.x[c] * row.x[c] }
            sigma2 /= Float(k)
            let weights = (0..<k).map { c in weightTerm ? importance[c] * (sigma2 + row.x[c] * row.x[c]).squareRoot() : importance[c] }
            return weights.withUnsafeBufferPointer { wt in
                for g in 0..<row.groups {
                    let part = UnsafeBufferPointer(rebasing: wt[(g * groupSize)..<((g + 1) * groupSize)])
                    guard let s = searchScale(row.group(g), scaleDType: scaleDType, weights: part) else { return false }
                    row.store(group: g, scale: s)
                }
                return true
            }
        }
    }

    /// The scale for one group under the `.mse` rule, already rounded to `scaleDType` (nil if it
    /// overflows fp16). Candidates put the group's signed extreme e at position t of the grid,
    /// scale = e / t, for t ∈ {−8.5, −8.4, …, −7.0} (e on the long negative side, the scale's
    /// sign opposite to e's, as ggml's Q4_0 does with t = −8) and t ∈ {6.0, …, 7.5} (e on the
    /// positive side); each candidate's rounding q is then scored by its least-squares scale
    /// Σwq / Σq² (error Σw² − (Σwq)²/Σq²), as ggml's `make_qx_quants` does. The best is refined
    /// twice (round, least squares) and finally compared — by the exact squared error at the
    /// stored scale — with absmax/7.5 (the `.absmax` rule) and −e/8, so the result is never
    /// worse than either. An all-zero group gets FLT_EPSILON, as with `.absmax`.
    ///
    /// `weights` (one per value, ≥ 0; nil = all 1) weighs each value's squared error — an
    /// importance matrix's mean x² per input column, so the scale fits the columns whose inputs
    /// are large (llama.cpp's imatrix idea).
    public static func searchScale(_ x: UnsafeBufferPointer<Float>, scaleDType: DType = .f16, weights: UnsafeBufferPointer<Float>? = nil) -> Float? {
        var e: Float = 0
        for v in x where abs(v) > abs(e) { e = v }
        let amax = abs(e)
        func stored(_ s: Float) -> Float? {
            let r = scaleDType == .f16 ? Float(Float16(s)) : s
            return r.isFinite ? r : nil
        }
        if amax == 0 { return Float.ulpOfOne }
        // Score of the rounding at inverse scale `inv`: (Σwq)²/Σq² (larger = smaller error) and the LS scale.
        @inline(__always) func score(_ inv: Float) -> (Float, Float) {
            var sxq: Float = 0, sqq: Float = 0
            for i in 0..<x.count {
                let v = x[i], q = roundClamp4(v * inv), wt = weights?[i] ?? 1
                sxq += wt * v * q; sqq += wt * q * q
            }
            return sqq > 0 ? (sxq * sxq / sqq, sxq / sqq) : (0, 0)
        }
        @inline(__always) func sse(_ s: Float) -> Float {
            let inv = 1 / s
            var err: Float = 0
            for i in 0..<x.count {
                let v = x[i], d = v - roundClamp4(v * inv) * s
                err += (weights?[i] ?? 1) * d * d
            }
            return err
        }
        var bestScore: Float = -1, bestS: Float = 0
        for i in 0...15 {
            let (sn, s1) = score((-8.5 + 0.1 * Float(i)) / e)
            if sn > bestScore, s1 != 0 { bestScore = sn; bestS = s1 }
            let (sp, s2) = score((6.0 + 0.1 * Float(i)) / e)
            if sp > bestScore, s2 != 0 { bestScore = sp; bestS = s2 }
        }
        for _ in 0..<2 where bestS != 0 {
            let (sc, s) = score(1 / bestS)
            if sc >= bestScore, s != 0 { bestScore = sc; bestS = s } else { break }
        }
        // Exact comparison at the stored scales.
        var best: Float? = nil, bestErr = Float.infinity
        func consider(_ cand: Float) {
            guard cand != 0, let s = stored(cand), s != 0 else { return }
            let err = sse(s)
            if err < bestErr { bestErr = err; best = s }
        }
        consider(bestS); consider(max(amax / 7.5, Float.ulpOfOne)); consider(-e / 8)
        if best == nil { return stored(max(amax / 7.5, Float.ulpOfOne)) }
        return best
    }
}

/// clamp(round_half_even(v), −8, 7), without a libm call: clamping first gives the same result
/// (the bounds are integers), and for |v| ≤ 8 adding and subtracting 1.5·2^23 rounds half to even
/// in fp32. NaN is refused before quantizing.
@inline(__always) func roundClamp4(_ v: Float) -> Float {
    let c = min(max(v, -8), 7)
    return (c + 0x1.8p23) - 0x1.8p23
}

/// Runs `body(0..<count)` on all cores (Dispatch's concurrentPerform), serially without Dispatch.
func concurrentRows(_ count: Int, _ body: @Sendable (Int) -> Void) {
    #if canImport(Dispatch)
    DispatchQueue.concurrentPerform(iterations: count, execute: body)
    #else
    for i in 0..<count { body(i) }
    #endif
}

/// Raw pointers handed to concurrent workers that touch disjoint elements.
struct SendablePointer<T>: @unchecked Sendable { let p: UnsafePointer<T>; init(_ p: UnsafePointer<T>) { self.p = p } }
struct SendableMutablePointer<T>: @unchecked Sendable { let p: UnsafeMutablePointer<T>; init(_ p: UnsafeMutablePointer<T>) { self.p = p } }

/// A flag any worker may set (a serial queue guards it).
final class AtomicFlag: @unchecked Sendable {
    private var value = false
    #if canImport(Dispatch)
    private let q = DispatchQueue(label: "qlinear.flag")
    func set() { q.sync { value = true } }
    var isSet: Bool { q.sync { value } }
    #else
    func set() { value = true }
    var isSet: Bool { value }
    #endif
}
