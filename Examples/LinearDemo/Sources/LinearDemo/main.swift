// LinearDemo: quantize a small random weight to INT4 (q4gsw), run y = x·Wᵀ + b on the best Vulkan
// device, and compare with a plain CPU loop over the same dequantized weights.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import QLinear

let m = 3, n = 40, k = 256, group = 64

/// A small deterministic generator (so the demo needs nothing but the library).
struct LCG {
    var state: UInt64
    /// Uniform in [−1, 1).
    mutating func uniform() -> Float {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Float(Double(state >> 11) * 0x1p-53 * 2 - 1)
    }
}
var rng = LCG(state: 0x5eed)

do {
    let ctx = try QLinearContext()
    print("device: \(ctx.capabilities.name)")

    let w = (0..<(n * k)).map { _ in rng.uniform() }
    let bias = (0..<n).map { _ in rng.uniform() }
    let x = (0..<(m * k)).map { _ in rng.uniform() }

    let q = try Q4GSWWeights.quantize(w, n: n, k: k, groupSize: group)
    let layer = try LinearLayer(context: ctx, weights: .q4gsw(q), bias: bias, act: .f32)
    let out = try layer.forward(x, m: m)
    print("kernel: \(out.plan.kernel.rawValue) (\(out.plan.shader.rawValue), \(out.plan.tile))")

    // CPU: the same INT4 weights, dequantized as (q − 8)·scale, summed in Double.
    // Tolerance per output: the worst-case error of an fp32 dot product of K terms (products and
    // sums each rounded once, any order) plus the bias add and the final fp32 rounding,
    // (K + 3)·2^-24·(Σ|x·w| + |b|). A wrong index or scale misses it by orders of magnitude.
    var worstError = 0.0, worstRatio = 0.0
    for i in 0..<m {
        for j in 0..<n {
            var acc = Double(bias[j]), magnitude = abs(Double(bias[j]))
            for c in 0..<k {
                let term = Double(x[i * k + c]) * Double(q.q(j, c)) * Double(q.scales[j * (k / group) + c / group])
                acc += term
                magnitude += abs(term)
            }
            let bound = Double(k + 3) * 0x1p-24 * magnitude
            let error = abs(Double(out.y[i * n + j]) - acc)
            worstError = max(worstError, error)
            worstRatio = max(worstRatio, error / bound)
        }
    }
    print("max |gpu − cpu| = \(worstError), at most \(Int((worstRatio * 100).rounded(.up)))% of the bound (K + 3)·2^-24·(Σ|x·w| + |b|)")
    if worstRatio > 1 {
        print("FAIL")
        exit(1)
    }
    print("OK")
} catch {
    print("error: \(error)")
    exit(1)
}
