import Testing
@testable import QLinear
import QLinearCheck

/// The error-search INT4 quantizer (`Q4ScaleRule.mse`): same format, never a larger error than
/// the absmax rule, group by group.
@Suite("INT4 scale search")
struct Q4ScaleSearchTests {
    /// Σ (w − (q − 8)·scale)² per (row, group) of quantized weights.
    static func groupErrors(_ q: Q4GSWWeights, _ w: [Float]) -> [Double] {
        let groups = q.k / q.groupSize
        var e = [Double](repeating: 0, count: q.n * groups)
        for r in 0..<q.n {
            for c in 0..<q.k {
                let d = Double(w[r * q.k + c]) - Double(q.q(r, c)) * Double(q.scales[r * groups + c / q.groupSize])
                e[r * groups + c / q.groupSize] += d * d
            }
        }
        return e
    }

    @Test("per group, the search's squared error is ≤ absmax's; overall clearly lower", arguments: [DType.f16, .f32])
    func neverWorse(_ scaleDType: DType) throws {
        var rng = SplitMix64(seed: 7)
        let (n, k, g) = (24, 256, 32)
        var w = [Float](repeating: 0, count: n * k)
        for r in 0..<n {
            for c in 0..<k {
                let u = Float(Double(rng.next() >> 11) * 0x1p-53) * 2 - 1
                switch r % 4 {
                case 0: w[r * k + c] = u                                   // uniform
                case 1: w[r * k + c] = u * u * u * 0.05                    // peaked, small
                case 2: w[r * k + c] = u < 0 ? u * 3 : u * 0.5             // negative-heavy (Q4_1-like offsets)
                default: w[r * k + c] = Float(Int(u * 8)) * 0.125 + 0.01   // already on a grid, offset
                }
            }
        }
        let a = try Q4GSWWeights.quantize(w, n: n, k: k, groupSize: g, scaleDType: scaleDType, rule: .absmax)
        let m = try Q4GSWWeights.quantize(w, n: n, k: k, groupSize: g, scaleDType: scaleDType, rule: .mse)
        #expect(a == (try Q4GSWWeights.quantize(w, n: n, k: k, groupSize: g, scaleDType: scaleDType)))   // absmax = the library default
        #expect(m.n == n && m.k == k && m.groupSize == g && m.scaleDType == scaleDType && m.packed.count == n * k / 2)
        if scaleDType == .f16 { #expect(m.scales.allSatisfy { Float(Float16($0)) == $0 }) }
        let ea = Self.groupErrors(a, w), em = Self.groupErrors(m, w)
        for i in 0..<ea.count { #expect(em[i] <= ea[i] * (1 + 1e-6), "group \(i): \(em[i]) > \(ea[i])") }
        let (ta, tm) = (ea.reduce(0, +), em.reduce(0, +))
        #expect(tm < 0.8 * ta, "total squared error \(tm) vs absmax \(ta)")
        // Negative scales are chosen where they help (a group whose extreme is positive).
        #expect(m.scales.contains { $0 < 0 })
    }

    @Test("an exact Q4_0-style group (values (q − 8)·d) is reproduced exactly, zero groups get FLT_EPSILON")
    func exactAndZero() throws {
        let d: Float = 0.03125
        var w = (0..<32).map { Float(($0 % 16) - 8) * d }
        w += [Float](repeating: 0, count: 32)
        let m = try Q4GSWWeights.quantize(w, n: 1, k: 64, groupSize: 32, rule: .mse)
        #expect(Self.groupErrors(m, w)[0] == 0)
        #expect(m.scales[1] == Float(Float16(Float.ulpOfOne)))
        #expect((0..<32).allSatisfy { m.q(0, 32 + $0) == 0 })
    }

    @Test("importance weights: all equal = the plain search; skewed = lower weighted error, higher plain error")
    func importanceWeighted() throws {
        var rng = SplitMix64(seed: 17)
        let (n, k, g) = (16, 128, 32)
        let w = (0..<(n * k)).map { _ in Float(Double(rng.next() >> 11) * 0x1p-53) * 2 - 1 }
        let plain = try Q4GSWWeights.quantize(w, n: n, k: k, groupSize: g, rule: .mse)
        #expect(try Q4GSWWeights.quantize(w, n: n, k: k, groupSize: g, importance: [Float](repeating: 3, count: k), weightTerm: false) == plain)
        // Every 8th column 100× more important (a transformer's outlier channels).
        let imp = (0..<k).map { $0 % 8 == 0 ? Float(100) : 1 }
        let q = try Q4GSWWeights.quantize(w, n: n, k: k, groupSize: g, importance: imp, weightTerm: false)
        func errors(_ x: Q4GSWWeights) -> (weighted: Double, plain: Double) {
            var a = 0.0, b = 0.0
            for r in 0..<n {
                for c in 0..<k {
                    let d = Double(w[r * k + c]) - Double(x.q(r, c)) * Double(x.scales[r * (k / g) + c / g])
                    a += Double(imp[c]) * d * d; b += d * d
                }
            }
            return (a, b)
        }
        let (eq, ep) = (errors(q), errors(plain))
        #expect(eq.weighted < 0.9 * ep.weighted, "weighted error \(eq.weighted) vs plain search's \(ep.weighted)")
        #expect(eq.plain > ep.plain)
        // llama.cpp's form (importance·√(σ² + w²)) is another weighting: same format, its own
        // weighted error no larger in total than the unweighted search's.
        let lw = try Q4GSWWeights.quantize(w, n: n, k: k, groupSize: g, importance: imp)
        #expect(lw.packed.count == n * k / 2 && lw != q)
        func lcppError(_ x: Q4GSWWeights) -> Double {
            var a = 0.0
            for r in 0..<n {
                let sigma2 = (0..<k).reduce(Float(0)) { $0 + w[r * k + $1] * w[r * k + $1] } / Float(k)
                for c in 0..<k {
                    let d = Double(w[r * k + c]) - Double(x.q(r, c)) * Double(x.scales[r * (k / g) + c / g])
                    a += Double(imp[c] * (sigma2 + w[r * k + c] * w[r * k + c]).squareRoot()) * d * d
                }
            }
            return a
        }
        #expect(lcppError(lw) < lcppError(plain))
        #expect(throws: QLinearError.self) { try Q4GSWWeights.quantize(w, n: n, k: k, groupSize: g, importance: [1, 2]) }
        #expect(throws: QLinearError.self) { try Q4GSWWeights.quantize(w, n: n, k: k, groupSize: g, importance: [Float](repeating: -1, count: k)) }
        #expect(throws: QLinearError.self) { try Q4GSWWeights.quantize(w, n: n, k: k, groupSize: g, importance: [Float](repeating: .nan, count: k)) }
    }

    @Test("bad input throws like the absmax quantizer")
    func badInput() {
        #expect(throws: QLinearError.self) { try Q4GSWWeights.quantize([1, 2, .nan] + [Float](repeating: 0, count: 29), n: 1, k: 32, groupSize: 32, rule: .mse) }
        #expect(throws: QLinearError.self) { try Q4GSWWeights.quantize([Float](repeating: 1, count: 40), n: 1, k: 40, groupSize: 32, rule: .mse) }
        #expect(throws: QLinearError.self) { try Q4GSWWeights.quantize([], n: Int.max, k: 32, groupSize: 32, rule: .mse) }
        #expect(throws: QLinearError.self) { try Q4GSWWeights.quantize([Float](repeating: 1e6, count: 32), n: 1, k: 32, groupSize: 32, rule: .mse) }
    }

    @Test("the libm-free rounding equals clamp(round_half_even(v), −8, 7)")
    func rounding() {
        var vals: [Float] = (-40...40).map { Float($0) / 4 } + [1e30, -1e30, .infinity, -.infinity, 0.49999997, -0.49999997, 7.4999995, -8.5000005]
        var rng = SplitMix64(seed: 1)
        for _ in 0..<10000 { vals.append(Float(Double(rng.next() >> 11) * 0x1p-53 * 40 - 20)) }
        for v in vals { #expect(roundClamp4(v) == min(max(v.rounded(.toNearestOrEven), -8), 7), "\(v)") }
    }
}
