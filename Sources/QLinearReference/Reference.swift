#if canImport(Dispatch)
import Dispatch
#endif

// The CPU reference: the definition of the right answer for every QLinear op.
// Everything is computed in fp64 from exactly the values the GPU sees (fp16 inputs as their
// exact values, quantized weights as integers and scales), except dynamic activation
// quantization, which is specified in fp32 and reproduced here operation by operation.

/// Result of a reference linear op: y[M,N] in fp64, and for each output the magnitude that bounds
/// floating-point error (Σ|terms|, see `QLinear.Tolerance`).
public struct ReferenceResult: Sendable {
    public var y: [Double]
    public var magnitude: [Double]
    /// dq8ca only: the magnitude when the zero-point correction is applied once at the end
    /// (|sx|·(Σ_g|ws·Σqx·qw| + |zp|·Σ_g|ws·Σqw|) + |b|), as the cooperative-matrix kernels do.
    public var splitMagnitude: [Double]? = nil
    /// dq8ca only: as `splitMagnitude`, with the integer sums scaled per 32-value chunk rather
    /// than per group (|sx|·(Σ_chunks|ws·Σqx·qw| + |zp|·Σ_g|ws·Σqw|) + |b|), as the
    /// matrix–vector kernel does.
    public var chunkMagnitude: [Double]? = nil
    /// dq8ca only: the magnitude of the individual terms, |sx|·Σ_k |ws·qw·(qx − zp)| + |b|, for a
    /// kernel that rounds each weight × scale product and sums in floating point (`gemm_frag_dq`).
    public var termMagnitude: [Double]? = nil

    public init(y: [Double], magnitude: [Double], splitMagnitude: [Double]? = nil, chunkMagnitude: [Double]? = nil, termMagnitude: [Double]? = nil) {
        self.y = y; self.magnitude = magnitude; self.splitMagnitude = splitMagnitude; self.chunkMagnitude = chunkMagnitude
        self.termMagnitude = termMagnitude
    }
}

public enum Reference {
    /// y = x·Wᵀ + b with x [M,K], w [N,K] (row-major, already in their storage precision).
    public static func linear(x: [Float], w: [Float], bias: [Float]?, m: Int, n: Int, k: Int) -> ReferenceResult {
        precondition(x.count == m * k && w.count == n * k && (bias?.count ?? n) == n)
        var y = [Double](repeating: 0, count: m * n)
        var mag = [Double](repeating: 0, count: m * n)
        let xd = x.map(Double.init), wd = w.map(Double.init)
        let bd = bias.map { $0.map(Double.init) }
        // Rows on all cores; every element is computed exactly as serially (same order of
        // additions), so the result does not depend on the number of threads.
        xd.withUnsafeBufferPointer { xp in
            wd.withUnsafeBufferPointer { wp in
                y.withUnsafeMutableBufferPointer { yp in
                    mag.withUnsafeMutableBufferPointer { mp in
                        let xs = Shared(xp.baseAddress!), ws = Shared(wp.baseAddress!)
                        let ys = SharedMutable(yp.baseAddress!), ms = SharedMutable(mp.baseAddress!)
                        eachRow(m) { i in
                            for j in 0..<n {
                                var s = 0.0, a = 0.0
                                let xr = i * k, wr = j * k
                                for kk in 0..<k {
                                    let p = xs.p[xr + kk] * ws.p[wr + kk]
                                    s += p
                                    a += abs(p)
                                }
                                if let bd { s += bd[j]; a += abs(bd[j]) }
                                ys.p[i * n + j] = s
                                ms.p[i * n + j] = a
                            }
                        }
                    }
                }
            }
        }
        return ReferenceResult(y: y, magnitude: mag)
    }

    /// Dequantizes INT4 group-symmetric weights: packed uint8 [N, K/2] (low nibble = even k,
    /// zero point 8), scales [N, K/groupSize].
    public static func dequantizeQ4(packed: [UInt8], scales: [Float], n: Int, k: Int, groupSize: Int) -> [Float] {
        var w = [Float](repeating: 0, count: n * k)
        let groups = k / groupSize
        for r in 0..<n {
            for c in 0..<k {
                let byte = packed[r * (k / 2) + c / 2]
                let q = Int(c % 2 == 0 ? byte & 15 : byte >> 4) - 8
                w[r * k + c] = Float(q) * scales[r * groups + c / groupSize]
            }
        }
        return w
    }

    /// Signed INT4 value (q − 8) at (row, col) of a packed [N, K/2] source.
    @inline(__always)
    public static func q4(_ packed: [UInt8], row: Int, col: Int, k: Int) -> Int {
        let byte = packed[row * (k / 2) + col / 2]
        return Int(col % 2 == 0 ? byte & 15 : byte >> 4) - 8
    }

    // MARK: Dynamic per-token asymmetric int8 activation quantization (dq8ca)

    /// Per-row quantization parameters and values, PyTorch's
    /// `choose_qparams_per_token_asymmetric` + `quantize_per_token` in fp32:
    ///   lo = min(min(x), 0), hi = max(max(x), 0); scale = max((hi − lo)/255, FLT_EPSILON)
    ///   dlo = lo/scale, dhi = hi/scale
    ///   zp = round(clamp((−128 + dlo) + (127 + dhi) > 0 ? −128 − dlo : 127 − dhi, −128, 127))
    ///   q = clamp(round(x · (1/scale) + zp), −128, 127)      (round = half to even)
    /// The qparams are computed in fp32. The last line runs in fp64 when `fp64` is true, as in
    /// current PyTorch (its choose_qparams_per_token_asymmetric returns fp64 scales, so
    /// quantize_per_token computes in fp64), else in fp32 (the fallback on devices without fp64).
    public static func quantizeActivations(x: [Float], m: Int, k: Int, fp64: Bool = true) -> (q: [Int8], scale: [Float], zeroPoint: [Int32]) {
        var q = [Int8](repeating: 0, count: m * k)
        var scales = [Float](repeating: 0, count: m)
        var zps = [Int32](repeating: 0, count: m)
        for i in 0..<m {
            var lo: Float = 0, hi: Float = 0
            for kk in 0..<k { let v = x[i * k + kk]; lo = Swift.min(lo, v); hi = Swift.max(hi, v) }
            let p = rowParams(lo: lo, hi: hi)
            scales[i] = p.scale
            zps[i] = Int32(p.zeroPoint)
            if fp64 {
                let inv: Double = 1 / Double(p.scale)
                let z = Double(p.zeroPoint)
                for kk in 0..<k {
                    let t = Double(x[i * k + kk]) * inv
                    let u = t + z
                    q[i * k + kk] = Int8(Swift.min(Swift.max(u.rounded(.toNearestOrEven), -128), 127))
                }
            } else {
                let inv: Float = 1 / p.scale
                for kk in 0..<k {
                    let t = x[i * k + kk] * inv
                    let u = t + p.zeroPoint
                    q[i * k + kk] = Int8(Swift.min(Swift.max(u.rounded(.toNearestOrEven), -128), 127))
                }
            }
        }
        return (q, scales, zps)
    }

    /// Scale and (integer-valued) zero point for a row whose range, widened to include 0, is [lo, hi].
    public static func rowParams(lo: Float, hi: Float) -> (scale: Float, zeroPoint: Float) {
        let eps = Float.ulpOfOne   // torch.finfo(torch.float32).eps = 2^-23
        let scale = Swift.max((hi - lo) / 255, eps)
        let dlo = lo / scale, dhi = hi / scale
        let zmin = -128 + dlo, zmax = 127 + dhi
        var zp = (zmin + zmax) > 0 ? -128 - dlo : 127 - dhi
        zp = Swift.min(Swift.max(zp, -128), 127).rounded(.toNearestOrEven)
        return (scale, zp)
    }

    // MARK: Quantized ops

    /// q4gsw: y = x · dequant(W)ᵀ + b, in fp64 from the exact dequantized weights.
    public static func q4gsw(x: [Float], packed: [UInt8], scales: [Float], bias: [Float]?, m: Int, n: Int, k: Int, groupSize: Int) -> ReferenceResult {
        let w = dequantizeQ4(packed: packed, scales: scales, n: n, k: k, groupSize: groupSize)
        return linear(x: x, w: w, bias: bias, m: m, n: n, k: k)
    }

    /// Shared integer core of dq8ca ops: per group g of weight scales,
    ///   y = sx · Σ_g ws[n,g] · (Σ_k∈g qx·qw − zp · Σ_k∈g qw) + b
    /// with `qw(n, k)` the signed integer weight. Exact integer sums, fp64 scaling.
    static func dq8caCore(xq: [Int8], sx: [Float], zp: [Int32], qw: (Int, Int) -> Int, ws: [Float], bias: [Float]?,
                          m: Int, n: Int, k: Int, groupSize: Int) -> ReferenceResult {
        let groups = k / groupSize
        // Per (n, g) weight sums.
        var wsum = [Int](repeating: 0, count: n * groups)
        var wq = [Int](repeating: 0, count: n * k)
        for j in 0..<n { for kk in 0..<k { let v = qw(j, kk); wq[j * k + kk] = v; wsum[j * groups + kk / groupSize] += v } }
        // Rows on all cores (each element computed exactly as serially; every one is written):
        // y, magnitude, split, chunk and term magnitudes.
        let outs = (0..<5).map { _ in UnsafeMutablePointer<Double>.allocate(capacity: max(m * n, 1)) }
        defer { for o in outs { o.deallocate() } }
        let (yo, mo, so, co, to) = (SharedMutable(outs[0]), SharedMutable(outs[1]), SharedMutable(outs[2]), SharedMutable(outs[3]), SharedMutable(outs[4]))
        let wqs = wq, wsums = wsum
        eachRow(m) { i in
            let s = Double(sx[i]), z = Int(zp[i])
            for j in 0..<n {
                var acc = 0.0, a = 0.0, a1 = 0.0, a2 = 0.0, ac = 0.0, at = 0.0
                for g in 0..<groups {
                    var isum = 0, csum = 0, tsum = 0
                    for kk in (g * groupSize)..<((g + 1) * groupSize) {
                        let p = Int(xq[i * k + kk]) * wqs[j * k + kk]
                        tsum += abs((Int(xq[i * k + kk]) - z) * wqs[j * k + kk])
                        isum += p
                        csum += p
                        if (kk + 1) % 32 == 0 || kk + 1 == (g + 1) * groupSize {
                            ac += abs(Double(ws[j * groups + g]) * Double(csum)); csum = 0
                        }
                    }
                    let t = Double(ws[j * groups + g]) * Double(isum - z * wsums[j * groups + g])
                    acc += t
                    a += abs(t)
                    a1 += abs(Double(ws[j * groups + g]) * Double(isum))
                    a2 += abs(Double(ws[j * groups + g]) * Double(wsums[j * groups + g]))
                    at += abs(Double(ws[j * groups + g])) * Double(tsum)
                }
                var v = s * acc, av = abs(s) * a, sv = abs(s) * (a1 + abs(Double(z)) * a2)
                var cv = abs(s) * (ac + abs(Double(z)) * a2), tv = abs(s) * at
                if let bias { v += Double(bias[j]); av += abs(Double(bias[j])); sv += abs(Double(bias[j])); cv += abs(Double(bias[j])); tv += abs(Double(bias[j])) }
                yo.p[i * n + j] = v
                mo.p[i * n + j] = av
                so.p[i * n + j] = sv
                co.p[i * n + j] = cv
                to.p[i * n + j] = tv
            }
        }
        let r = outs.map { Array(UnsafeBufferPointer(start: $0, count: m * n)) }
        return ReferenceResult(y: r[0], magnitude: r[1], splitMagnitude: r[2], chunkMagnitude: r[3], termMagnitude: r[4])
    }

    /// dq8ca_q4gsw from already-quantized activations.
    public static func dq8caQ4gsw(xq: [Int8], sx: [Float], zp: [Int32], packed: [UInt8], scales: [Float], bias: [Float]?,
                                  m: Int, n: Int, k: Int, groupSize: Int) -> ReferenceResult {
        dq8caCore(xq: xq, sx: sx, zp: zp, qw: { q4(packed, row: $0, col: $1, k: k) }, ws: scales, bias: bias,
                  m: m, n: n, k: k, groupSize: groupSize)
    }

    /// dq8ca_q8csw from already-quantized activations: int8 weights [N, K], one scale per row n.
    public static func dq8caQ8csw(xq: [Int8], sx: [Float], zp: [Int32], weights: [Int8], scales: [Float], bias: [Float]?,
                                  m: Int, n: Int, k: Int) -> ReferenceResult {
        dq8caCore(xq: xq, sx: sx, zp: zp, qw: { Int(weights[$0 * k + $1]) }, ws: scales, bias: bias,
                  m: m, n: n, k: k, groupSize: k)
    }
}

/// Runs `body(i)` for every row i < `count` on all cores (Dispatch's concurrentPerform, rows in
/// chunks), serially without Dispatch.
func eachRow(_ count: Int, _ body: @Sendable (Int) -> Void) {
    #if canImport(Dispatch)
    let chunk = max(1, count / 64)
    let chunks = (count + chunk - 1) / chunk
    DispatchQueue.concurrentPerform(iterations: chunks) { c in
        for i in (c * chunk)..<min(count, (c + 1) * chunk) { body(i) }
    }
    #else
    for i in 0..<count { body(i) }
    #endif
}

/// Pointers handed to row workers that read shared inputs or write disjoint elements.
struct Shared<T>: @unchecked Sendable { let p: UnsafePointer<T>; init(_ p: UnsafePointer<T>) { self.p = p } }
struct SharedMutable<T>: @unchecked Sendable { let p: UnsafeMutablePointer<T>; init(_ p: UnsafeMutablePointer<T>) { self.p = p } }
