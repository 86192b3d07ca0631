/// The cooperative-matrix self-test run when a context opens: each type family computes a small
/// problem with its tensor-core kernel, compared against an fp64 CPU computation on exactly the
/// values the GPU saw. A family that errors or is off by more than the bound is fenced off.
/// (The full conformance comparison, with its tight per-element error model, is QLinearCheck's.)
enum SelfTest {
    /// The bound: |y − y_ref| ≤ 2^-9 · S + 2^-14, with S = Σ|terms| + |b|. Loose enough for fp16
    /// inputs, fp32 accumulation in any order and an fp16 output rounding (≤ 2^-11·S in all),
    /// tight enough that wrong tiles, zeros or garbage fail.
    static func within(_ y: Float, _ ref: Double, _ s: Double) -> Bool {
        abs(Double(y) - ref) <= s * 0x1p-9 + 0x1p-14
    }

    static func run(device: Device, pipelines: PipelineCache, options: DispatchOptions) -> (results: [CoopMatFamily: String], fenced: [CoopMatFamily: String]) {
        var results: [CoopMatFamily: String] = [:], fenced: [CoopMatFamily: String] = [:]
        // The self-test judges the device, not a diagnostic: never with the main loop ablated.
        var options = options
        options.coopMatAblate = 0
        let ctx = QLinearContext(device: device, pipelines: pipelines, options: options)
        let (m, n, k) = (48, 40, 96)
        var state: UInt64 = 0x5e1f_7e57
        func u() -> Float {   // SplitMix64 → uniform in [−1, 1)
            state &+= 0x9e37_79b9_7f4a_7c15
            var z = state
            z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
            z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
            return Float(Double((z ^ (z >> 31)) >> 11) * 0x1p-53 * 2 - 1)
        }
        for family in CoopMatFamily.allCases {
            let op: Op = family == .f16 ? .fp16 : .dq8ca_q8csw
            let p = Problem(op: op, m: m, n: n, k: k, act: .f16, bias: true)
            guard case .success = Dispatcher.plan(.coopmat, p, caps: device.capabilities, options: options) else { continue }
            do {
                let x = (0..<(m * k)).map { _ in Float(Float16(u())) }
                let bias = (0..<n).map { _ in Float(Float16(u())) }
                let weights: LinearWeights
                var wq: [Float] = [], ws: [Float] = []
                if family == .f16 {
                    let w = (0..<(n * k)).map { _ in Float16(u()) }
                    wq = w.map(Float.init)
                    weights = .fp16(n: n, k: k, values: w)
                } else {
                    let q = (0..<(n * k)).map { _ in Int8(clamping: Int((u() * 127.5).rounded(.down))) }
                    ws = (0..<n).map { _ in Float(Float16(abs(u()) * 0.01 + 0.001)) }
                    wq = q.map { Float($0) }
                    weights = .q8csw(try Q8CSWWeights(n: n, k: k, values: q, scales: ws))
                }
                let layer = try LinearLayer(context: ctx, weights: weights, bias: bias, act: .f16)
                let out = try layer.forward(x, m: m, kernel: .coopmat)
                var bad = 0, first = ""
                for i in 0..<m {
                    for j in 0..<n {
                        var ref = 0.0, s = 0.0
                        if let a = out.activations {
                            let sx = Double(a.scale[i]), zp = Double(a.zeroPoint[i])
                            for c in 0..<k {
                                let t = sx * (Double(a.q[i * k + c]) - zp) * Double(wq[j * k + c]) * Double(ws[j])
                                ref += t; s += abs(t)
                            }
                        } else {
                            for c in 0..<k { let t = Double(x[i * k + c]) * Double(wq[j * k + c]); ref += t; s += abs(t) }
                        }
                        ref += Double(bias[j]); s += abs(Double(bias[j]))
                        let y = out.y[i * n + j]
                        if !within(y, ref, s) {
                            bad += 1
                            if first.isEmpty { first = "y[\(i),\(j)] = \(y), expected \(ref)" }
                        }
                    }
                }
                if bad == 0 {
                    results[family] = "passed"
                } else {
                    results[family] = "FAILED: \(bad) of \(m * n) outputs wrong, first \(first)"
                    fenced[family] = "wrong results on a \(m)x\(n)x\(k) test (\(bad) outputs, first \(first))"
                }
            } catch {
                results[family] = "FAILED: \(error)"
                fenced[family] = "error on a small test: \(error)"
            }
        }
        return (results, fenced)
    }
}

extension QLinearContext {
    /// A context over an open device without a self-test (used by the self-test itself).
    convenience init(device: Device, pipelines: PipelineCache, options: DispatchOptions) {
        self.init(unchecked: device, pipelines: pipelines, options: options)
    }
}
