import Testing
@testable import QLinear
import QLinearCheck

/// GPTQ (`GPTQFactor`, `Q4GSWWeights.quantize(…, gptq:)`): same format, lower output error on the
/// inputs the Hessian came from, and exactly the `.mse` rule when the inputs are uncorrelated.
@Suite("INT4 GPTQ")
struct Q4GPTQTests {
    static func unit(_ rng: inout SplitMix64) -> Float { Float(Double(rng.next() >> 11) * 0x1p-53) * 2 - 1 }

    /// Correlated inputs: x = z·A with a random mixing matrix (so the Hessian is far from diagonal),
    /// plus a few strong channels, as in a transformer's activations.
    static func inputs(rows: Int, k: Int, seed: UInt64) -> [Float] {
        let r = 8
        var fixed = SplitMix64(seed: 99)   // one mixing matrix: samples of one distribution
        let a = (0..<(r * k)).map { _ in unit(&fixed) }
        var rng = SplitMix64(seed: seed)
        var x = [Float](repeating: 0, count: rows * k)
        for i in 0..<rows {
            let z = (0..<r).map { _ in unit(&rng) }
            for c in 0..<k {
                var v: Float = 0.1 * unit(&rng)
                for p in 0..<r { v += z[p] * a[p * k + c] }
                x[i * k + c] = c % 17 == 0 ? 6 * v : v
            }
        }
        return x
    }

    static func hessian(_ x: [Float], rows: Int, k: Int) -> [Float] {
        var h = [Float](repeating: 0, count: k * k)
        for i in 0..<rows { for a in 0..<k { let xa = x[i * k + a]; for b in 0..<k { h[a * k + b] += xa * x[i * k + b] } } }
        return h
    }

    /// ‖X·(W − Ŵ)ᵀ‖² in fp64.
    static func outputError(_ x: [Float], rows: Int, _ w: [Float], _ q: Q4GSWWeights) -> Double {
        let (n, k) = (q.n, q.k)
        let groups = k / q.groupSize
        var total = 0.0
        for r in 0..<n {
            let d = (0..<k).map { c in Double(w[r * k + c]) - Double(q.q(r, c)) * Double(q.scales[r * groups + c / q.groupSize]) }
            for i in 0..<rows {
                var s = 0.0
                for c in 0..<k { s += Double(x[i * k + c]) * d[c] }
                total += s * s
            }
        }
        return total
    }

    @Test("on the calibration inputs, GPTQ's output error is well below the scale search's (g 32 and 64, K = 192)",
          arguments: [32, 64])
    func lowerOutputError(group: Int) throws {
        let (n, k, rows) = (24, 192, 400)
        var rng = SplitMix64(seed: 11)
        // Q4_1-like rows: values offset from zero, which a symmetric grid cannot hold.
        let w = (0..<(n * k)).map { i in 0.02 * Self.unit(&rng) + (i / k % 3 == 0 ? 0.01 : 0) }
        let x = Self.inputs(rows: rows, k: k, seed: 5)
        let f = try GPTQFactor(hessian: Self.hessian(x, rows: rows, k: k), k: k, samples: rows)
        let g = try Q4GSWWeights.quantize(w, n: n, k: k, groupSize: group, gptq: f)
        let m = try Q4GSWWeights.quantize(w, n: n, k: k, groupSize: group, rule: .mse)
        #expect(g.n == n && g.k == k && g.groupSize == group && g.packed.count == n * k / 2 && g.scaleDType == DType.f16)
        #expect(g.scales.allSatisfy { s in s.isFinite && s != 0 && Float(Float16(s)) == s })
        let (eg, em) = (Self.outputError(x, rows: rows, w, g), Self.outputError(x, rows: rows, w, m))
        #expect(eg < 0.3 * em, "GPTQ \(eg) vs scale search \(em)")
        // On fresh inputs from the same distribution the gain holds (it is not fitted to the samples).
        let x2 = Self.inputs(rows: rows, k: k, seed: 6)
        let (fg, fm) = (Self.outputError(x2, rows: rows, w, g), Self.outputError(x2, rows: rows, w, m))
        #expect(fg < 0.3 * fm, "fresh inputs: GPTQ \(fg) vs scale search \(fm)")
        print("GPTQ g\(group): output error ×\(eg / em) of the scale search's on the calibration inputs, ×\(fg / fm) on fresh ones")
    }

    @Test("only the lower triangle is read (the calibration sums only that half)")
    func lowerTriangleOnly() throws {
        let (n, k, rows) = (6, 64, 100)
        var rng = SplitMix64(seed: 21)
        let w = (0..<(n * k)).map { _ in Self.unit(&rng) }
        let full = Self.hessian(Self.inputs(rows: rows, k: k, seed: 2), rows: rows, k: k)
        var lower = full
        for a in 0..<k { for b in (a + 1)..<k { lower[a * k + b] = 0 } }
        var garbage = full
        for a in 0..<k { for b in (a + 1)..<k { garbage[a * k + b] = 1e9 } }
        let q = try Q4GSWWeights.quantize(w, n: n, k: k, groupSize: 32, gptq: try GPTQFactor(hessian: full, k: k, samples: rows))
        #expect(q == (try Q4GSWWeights.quantize(w, n: n, k: k, groupSize: 32, gptq: try GPTQFactor(hessian: lower, k: k, samples: rows))))
        #expect(q == (try Q4GSWWeights.quantize(w, n: n, k: k, groupSize: 32, gptq: try GPTQFactor(hessian: garbage, k: k, samples: rows))))
    }

    @Test("with a diagonal Hessian no error moves between columns: exactly the scale search's result")
    func diagonalIsRoundToNearest() throws {
        let (n, k) = (10, 96)
        var rng = SplitMix64(seed: 3)
        let w = (0..<(n * k)).map { _ in Self.unit(&rng) }
        var h = [Float](repeating: 0, count: k * k)
        for i in 0..<k { h[i * k + i] = 1 + Float(i % 5) }
        let f = try GPTQFactor(hessian: h, k: k, samples: 1)
        #expect(try Q4GSWWeights.quantize(w, n: n, k: k, groupSize: 32, gptq: f) == (try Q4GSWWeights.quantize(w, n: n, k: k, groupSize: 32, rule: .mse)))
    }

    @Test("dead inputs, a singular Hessian and bad input")
    func edgesAndErrors() throws {
        let k = 64
        // Rank 1 (one input direction) with dead columns: dampening makes it factorable.
        var h = [Float](repeating: 0, count: k * k)
        for a in 0..<k where a % 4 != 0 { for b in 0..<k where b % 4 != 0 { h[a * k + b] = Float(a % 7 + 1) * Float(b % 7 + 1) } }
        let f = try GPTQFactor(hessian: h, k: k, samples: 3)
        #expect(f.dampening >= 0.01 && f.k == k)
        let w = (0..<(4 * k)).map { Float($0 % 13) * 0.01 - 0.06 }
        let q = try Q4GSWWeights.quantize(w, n: 4, k: k, groupSize: 32, gptq: f)
        #expect(q.scales.allSatisfy { s in s.isFinite })
        #expect(throws: QLinearError.self) { try GPTQFactor(hessian: [1, 2, 3], k: 2, samples: 1) }
        #expect(throws: QLinearError.self) { try GPTQFactor(hessian: [1, .nan, .nan, 1], k: 2, samples: 1) }
        #expect(throws: QLinearError.self) { try GPTQFactor(hessian: [1, 0, 0, 1], k: 2, samples: 0) }
        #expect(throws: QLinearError.self) { try GPTQFactor(hessian: [1, 0, 0, 1], k: 2, samples: 1, dampening: 0) }
        // Not positive definite, even with dampening: a large negative eigenvalue.
        #expect(throws: QLinearError.self) { try GPTQFactor(hessian: [1, 1e6, 1e6, 1], k: 2, samples: 1) }
        #expect(throws: QLinearError.self) { try Q4GSWWeights.quantize(w, n: 4, k: k, groupSize: 32, gptq: try GPTQFactor(hessian: [1, 0, 0, 1], k: 2, samples: 1)) }
        #expect(throws: QLinearError.self) { try Q4GSWWeights.quantize(w, n: 4, k: k, groupSize: 24, gptq: f) }
    }
}
