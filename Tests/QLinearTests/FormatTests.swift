import Testing
@testable import QLinear
import QLinearCheck
import QLinearIO
import QLinearReference

@Suite("Weight formats")
struct FormatTests {
    @Test("dq8ca reference: the term magnitude (gemm_frag_dq's bound) is |sx|·Σ_k |ws·qw·(qx − zp)| + |b|, at least the chunk magnitude, and grows with cancellation")
    func dq8caTermMagnitude() {
        // One row, one output, K = 64 (two chunks, one group): q − 8 = ±1 alternating, xq = 3, zp = 1.
        let k = 64
        var packed = [UInt8](repeating: 0, count: k / 2)
        for c in 0..<k { let q = UInt8(c % 2 == 0 ? 9 : 7); packed[c / 2] |= c % 2 == 0 ? q : q << 4 }
        let r = Reference.dq8caQ4gsw(xq: [Int8](repeating: 3, count: k), sx: [0.5], zp: [1], packed: packed, scales: [0.25],
                                     bias: [-1], m: 1, n: 1, k: k, groupSize: 64)
        // Every term is ±0.25·(3 − 1): Σ|terms| = 64·0.5, × |sx| = 16, + |b| = 17; the terms cancel (y = −1).
        #expect(r.y[0] == -1)
        #expect(r.termMagnitude?[0] == 17)
        #expect((r.chunkMagnitude?[0] ?? .infinity) < 17 && (r.termMagnitude?[0] ?? 0) >= (r.chunkMagnitude?[0] ?? .infinity))
    }

    @Test("the reference (rows on all cores) gives the bits of a serial loop, over many rows", arguments: [1, 37, 130])
    func referenceRowsParallel(m: Int) {
        let n = 29, k = 96, g = 32
        var rng = SplitMix64(seed: UInt64(m))
        func r() -> Float { Float(Double(rng.next() >> 11) * 0x1p-53 * 2 - 1) }
        let x = (0..<(m * k)).map { _ in r() }, w = (0..<(n * k)).map { _ in r() }, b = (0..<n).map { _ in r() }
        let lin = Reference.linear(x: x, w: w, bias: b, m: m, n: n, k: k)
        for i in 0..<m { for j in 0..<n {
            var s = 0.0, a = 0.0
            for kk in 0..<k { let p = Double(x[i * k + kk]) * Double(w[j * k + kk]); s += p; a += abs(p) }
            s += Double(b[j]); a += abs(Double(b[j]))
            #expect(lin.y[i * n + j] == s && lin.magnitude[i * n + j] == a, "linear [\(i),\(j)]")
        } }
        let xq = (0..<(m * k)).map { _ in Int8(truncatingIfNeeded: Int(rng.next() % 256) - 128) }
        let sx = (0..<m).map { _ in Float(rng.next() % 1000 + 1) * 1e-4 }, zp = (0..<m).map { _ in Int32(rng.next() % 256) - 128 }
        let wq = (0..<(n * k)).map { _ in Int8(truncatingIfNeeded: Int(rng.next() % 255) - 127) }
        let ws = (0..<(n * k / g)).map { _ in Float(rng.next() % 1000 + 1) * 1e-3 }
        var packed = [UInt8](repeating: 0, count: n * k / 2)
        let q4 = (0..<(n * k)).map { _ in Int(rng.next() % 16) }
        for (e, q) in q4.enumerated() { packed[e / 2] |= UInt8(q) << (e % 2 == 0 ? 0 : 4) }
        let r4 = Reference.dq8caQ4gsw(xq: xq, sx: sx, zp: zp, packed: packed, scales: ws, bias: b, m: m, n: n, k: k, groupSize: g)
        let r8 = Reference.dq8caQ8csw(xq: xq, sx: sx, zp: zp, weights: wq, scales: Array(ws.prefix(n)), bias: b, m: m, n: n, k: k)
        for i in 0..<m { for j in 0..<n {
            var acc4 = 0.0, isum8 = 0, wsum8 = 0
            for gg in 0..<(k / g) {
                var isum = 0, wsum = 0
                for kk in (gg * g)..<((gg + 1) * g) { let q = q4[j * k + kk] - 8; isum += Int(xq[i * k + kk]) * q; wsum += q }
                acc4 += Double(ws[j * (k / g) + gg]) * Double(isum - Int(zp[i]) * wsum)
            }
            for kk in 0..<k { isum8 += Int(xq[i * k + kk]) * Int(wq[j * k + kk]); wsum8 += Int(wq[j * k + kk]) }
            let y4 = Double(sx[i]) * acc4 + Double(b[j])
            let y8 = Double(sx[i]) * (Double(ws[j]) * Double(isum8 - Int(zp[i]) * wsum8)) + Double(b[j])
            #expect(r4.y[i * n + j] == y4 && r8.y[i * n + j] == y8, "dq8ca [\(i),\(j)]")
        } }
    }

    func randomWeights(_ n: Int, _ k: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        return (0..<(n * k)).map { _ in Float(Double(rng.next() >> 11) * 0x1p-53 * 2 - 1) }
    }

    @Test("q4gsw quantizer: rule, source layout, lossless prepack round trip", arguments: [32, 64, 128, 256])
    func q4(_ g: Int) throws {
        let n = 5, k = 2 * g
        let w = randomWeights(n, k, seed: UInt64(g))
        let q = try Q4GSWWeights.quantize(w, n: n, k: k, groupSize: g, scaleDType: .f16)
        #expect(q.packed.count == n * k / 2 && q.scales.count == n * k / g)
        let deq = Reference.dequantizeQ4(packed: q.packed, scales: q.scales, n: n, k: k, groupSize: g)
        for i in 0..<(n * k) {
            let s = q.scales[(i / k) * (k / g) + (i % k) / g]
            // Round to nearest: within half a step, except values clamped at +7 (|w| ≤ 7.5·s).
            #expect(abs(deq[i] - w[i]) <= s * 0.5 + 1e-6 || w[i] > 7 * s)
            #expect(Float(Float16(s)) == s)
        }
        // Low nibble holds the even k.
        #expect(Int(q.packed[0] & 15) - 8 == q.q(0, 0) && Int(q.packed[0] >> 4) - 8 == q.q(0, 1))
        let weights = LinearWeights.q4gsw(q)
        guard case .q4gsw(let back) = try PackedWeights.pack(weights).unpack(like: weights) else { Issue.record("format changed"); return }
        #expect(back == q)
    }

    @Test("q8csw quantizer and round trip with K not a multiple of 4", arguments: [1, 5, 33, 130])
    func q8(_ k: Int) throws {
        let n = 3
        let w = randomWeights(n, k, seed: UInt64(k))
        let q = try Q8CSWWeights.quantize(w, n: n, k: k)
        for r in 0..<n { for c in 0..<k {
            #expect(abs(Float(q.values[r * k + c]) * q.scales[r] - w[r * k + c]) <= q.scales[r] * 0.5 + 1e-6)
        } }
        let weights = LinearWeights.q8csw(q)
        let packed = PackedWeights.pack(weights)
        #expect(packed.sums == (0..<n).map { r in Int32(q.values[(r * k)..<((r + 1) * k)].reduce(0) { $0 + Int($1) }) })
        guard case .q8csw(let back) = try packed.unpack(like: weights) else { Issue.record("format changed"); return }
        #expect(back == q)
    }

    @Test("fp16 prepack pads rows and unpacks losslessly")
    func fp16() throws {
        let w = randomWeights(3, 13, seed: 3).map { Float16($0) }
        let weights = LinearWeights.fp16(n: 3, k: 13, values: w)
        let packed = PackedWeights.pack(weights)
        #expect(packed.ldw == 16)
        guard case .fp16(_, _, let back) = try packed.unpack(like: weights) else { Issue.record("format changed"); return }
        #expect(back.map(\.bitPattern) == w.map(\.bitPattern))
    }

    @Test("bad formats throw clear errors")
    func bad() {
        #expect(throws: QLinearError.self) { try Q4GSWWeights(n: 2, k: 64, groupSize: 48, packed: [UInt8](repeating: 0, count: 64), scales: [1, 1]) }
        #expect(throws: QLinearError.self) { try Q4GSWWeights(n: 2, k: 64, groupSize: 32, packed: [UInt8](repeating: 0, count: 63), scales: [1, 1, 1, 1]) }
        #expect(throws: QLinearError.self) { try Q4GSWWeights(n: 2, k: 64, groupSize: 32, packed: [UInt8](repeating: 0, count: 64), scales: [1, 1, 1]) }
        #expect(throws: QLinearError.self) { try Q4GSWWeights(n: 1, k: 32, groupSize: 32, packed: [UInt8](repeating: 0, count: 16), scales: [.nan]) }
        #expect(throws: QLinearError.self) { try Q8CSWWeights(n: 2, k: 4, values: [0, 0, 0, 0, 0, 0, 0, 0], scales: [1]) }
        #expect(throws: QLinearError.self) { try Q4GSWWeights.quantize([1, 2, 3], n: 1, k: 3, groupSize: 32) }
        #expect(throws: QLinearError.self) { try Problem(op: .dq8ca_q4gsw, m: 1, n: 1, k: 100, groupSize: 32).validate() }
    }
}
