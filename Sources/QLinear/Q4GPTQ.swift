/// Second-order error compensation for INT4 quantization (the GPTQ method: Frantar et al., 2022),
/// for weights whose layer input statistics are known.
///
/// Given H = Σ xxᵀ over calibration inputs x of a linear layer (K × K), rounding the weights column
/// by column and moving each column's rounding error onto the columns not yet rounded — in the
/// proportions the inverse Hessian gives — minimizes the layer's output error ‖X·(W − Ŵ)ᵀ‖² far
/// better than rounding each weight alone. The stored format is plain q4gsw: only which integers
/// and scales are chosen differs. Each row is independent; a group's scale is chosen (`searchScale`,
/// the `.mse` rule) when the column walk reaches the group, from the row's weights as updated so far.
public struct GPTQFactor: Sendable {
    /// Input width K.
    public let k: Int
    /// Upper Cholesky factor U of (H + λI)⁻¹ (row-major K × K, Uᵀ·U = (H + λI)⁻¹).
    let u: [Float]
    /// Samples (rows of x) the Hessian summed.
    public let samples: Int
    /// λ actually used, relative to the mean of H's diagonal (raised ×10 when H + λI was not
    /// positive definite in floating point).
    public let dampening: Double

    /// Factors `hessian` (row-major K × K, Σ xxᵀ over `samples` input rows). Columns whose
    /// diagonal is 0 (inputs that were always 0) get H[i,i] = 1. `dampening` · mean(diag H) is
    /// added to the diagonal (GPTQ's default 0.01), raised ×10 up to 4 times if the Cholesky
    /// factorization fails. Only the lower triangle is read (H is symmetric). Throws for a wrong size
    /// or a non-finite matrix.
    public init(hessian: [Float], k: Int, samples: Int, dampening: Double = 0.01) throws {
        guard k >= 1, hessian.count == (try Checked.mul(k, k, "GPTQ Hessian K·K")) else {
            throw QLinearError.invalidShape("GPTQ: Hessian has \(hessian.count) values, K·K = \(k)·\(k) expected")
        }
        guard samples >= 1 else { throw QLinearError.invalidShape("GPTQ: the Hessian summed no samples") }
        guard dampening > 0, dampening.isFinite else { throw QLinearError.invalidShape("GPTQ: dampening \(dampening) must be > 0") }
        if let bad = hessian.firstIndex(where: { !$0.isFinite }) { throw QLinearError.nonFinite("GPTQ Hessian element \(bad) is \(hessian[bad])") }
        var h = hessian.map(Double.init)
        var meanDiag = 0.0
        for i in 0..<k {
            if h[i * k + i] <= 0 { h[i * k + i] = 1 }
            meanDiag += h[i * k + i]
        }
        meanDiag /= Double(k)
        var damp = dampening
        for attempt in 0..<5 {
            var a = h
            for i in 0..<k { a[i * k + i] += damp * meanDiag }
            if let u = Self.inverseUpperFactor(&a, k) {
                self.k = k; self.u = u; self.samples = samples; self.dampening = damp
                return
            }
            if attempt < 4 { damp *= 10 }
        }
        throw QLinearError.invalidShape("GPTQ: the Hessian is not positive definite even with dampening \(damp)")
    }

    /// In-place lower Cholesky of `a` (K × K, symmetric); false if a pivot is not positive.
    private static func cholesky(_ a: inout [Double], _ k: Int) -> Bool {
        for j in 0..<k {
            var d = a[j * k + j]
            for p in 0..<j { d -= a[j * k + p] * a[j * k + p] }
            guard d > 0, d.isFinite else { return false }
            let l = d.squareRoot()
            a[j * k + j] = l
            let inv = 1 / l
            for i in (j + 1)..<max(j + 1, k) {
                var s = a[i * k + j]
                for p in 0..<j { s -= a[i * k + p] * a[j * k + p] }
                a[i * k + j] = s * inv
            }
        }
        return true
    }

    /// U (upper, Uᵀ·U = A⁻¹) for symmetric positive definite A, or nil.
    private static func inverseUpperFactor(_ a: inout [Double], _ k: Int) -> [Float]? {
        guard cholesky(&a, k) else { return nil }
        // L⁻¹ (lower) by forward substitution, column by column.
        var li = [Double](repeating: 0, count: k * k)
        for j in 0..<k {
            li[j * k + j] = 1 / a[j * k + j]
            for i in (j + 1)..<max(j + 1, k) {
                var s = 0.0
                for p in j..<i { s -= a[i * k + p] * li[p * k + j] }
                li[i * k + j] = s / a[i * k + i]
            }
        }
        // A⁻¹ = L⁻ᵀ·L⁻¹: element (i, j) = Σ_{p ≥ max(i,j)} L⁻¹[p,i]·L⁻¹[p,j].
        var inv = [Double](repeating: 0, count: k * k)
        for i in 0..<k {
            for j in i..<k {
                var s = 0.0
                for p in j..<k { s += li[p * k + i] * li[p * k + j] }
                inv[i * k + j] = s; inv[j * k + i] = s
            }
        }
        // A⁻¹ = L2·L2ᵀ, U = L2ᵀ.
        guard cholesky(&inv, k) else { return nil }
        var u = [Float](repeating: 0, count: k * k)
        for i in 0..<k { for j in 0...i { u[j * k + i] = Float(inv[i * k + j]) } }
        return u
    }
}

extension Q4GSWWeights {
    /// Quantizes fp32 weights [N, K] to q4gsw with GPTQ error compensation (`GPTQFactor`). Per row,
    /// columns are rounded left to right; at the first column of each group the group's scale is
    /// chosen by `searchScale` from the row's current (error-updated) weights and rounded to
    /// `scaleDType`; each column's error e = (w − ŵ)/U[i,i] is subtracted as e·U[i, j] from every
    /// later column j. Same validation and errors as the other quantizers.
    public static func quantize(_ w: [Float], n: Int, k: Int, groupSize: Int, scaleDType: DType = .f16, gptq f: GPTQFactor) throws -> Q4GSWWeights {
        guard f.k == k else { throw QLinearError.invalidShape("GPTQ: the factor is for K = \(f.k), the weights have K = \(k)") }
        return try f.u.withUnsafeBufferPointer { up in
            let U = SendablePointer(up.baseAddress!)
            return try quantizeRows(w, n: n, k: k, groupSize: groupSize, scaleDType: scaleDType) { row in
                let x = row.x
                for g in 0..<row.groups {
                    let g0 = g * groupSize
                    guard let s = searchScale(row.group(g), scaleDType: scaleDType) else { return false }
                    row.scales[g] = s
                    let inv = 1 / s
                    for i in g0..<(g0 + groupSize) {
                        let qv = roundClamp4(x[i] * inv)
                        row.put(i, qv)
                        let urow = U.p + i * k
                        let e = (x[i] - qv * s) / urow[i]
                        if e != 0 { for c in (i + 1)..<max(i + 1, k) { x[c] -= e * urow[c] } }
                    }
                }
                return true
            }
        }
    }
}
