import QLinear
import VulkanRuntime

/// Linear layers that read the same input (q/k/v, or gate/up), run in one GPU submission with
/// buffers and a recorded command stream kept between calls (record once per M, submit every
/// call). Built only on `LinearLayer`'s public `encode`; `forward` would allocate three buffers
/// and a command stream per layer per call.
final class LinearGroup: @unchecked Sendable {
    let layers: [LinearLayer]
    let ctx: QLinearContext
    let k: Int, act: DType

    struct Slot {
        let m: Int
        let x: Buffer
        let ys: [Buffer]
        let scratch: [LinearLayer.Scratch]
        let plans: [KernelPlan]
        /// The group's dispatches, recorded once; each call rewrites `x` and submits it again.
        let stream: CommandStream
    }
    /// Buffers for M = 1 (decode) and for the last other M.
    private var one: Slot?, other: Slot?

    init(_ layers: [LinearLayer]) throws {
        guard let first = layers.first, layers.allSatisfy({ $0.k == first.k && $0.act == first.act && $0.context === first.context }) else {
            throw QLinearError.invalidShape("a linear group needs layers with one K, activation type and context")
        }
        self.layers = layers; ctx = first.context; k = first.k; act = first.act
    }

    private func slot(m: Int) throws -> Slot {
        if m == 1, let one { return one }
        if let other, other.m == m { return other }
        let dev = ctx.device
        var plans = [KernelPlan]()
        for l in layers {
            let d = ctx.decide(l.problem(m: m))
            guard let p = d.chosen else { throw QLinearError.unsupported(d.why.joined(separator: "; ")) }
            plans.append(p)
        }
        let x = try Buffer(device: dev, size: (m * k * act.bytes + 15) / 16 * 16, placement: .host)
        let ys = try layers.map { try Buffer(device: dev, size: (m * $0.n * act.bytes + 15) / 16 * 16, placement: .host) }
        let scratch = try layers.map { try $0.makeScratch(m: m) }
        let stream = try CommandStream(device: dev, maxDispatches: plans.reduce(0) { $0 + $1.dispatches })
        for (i, l) in layers.enumerated() {
            try l.encode(stream, plan: plans[i], x: BufferBinding(x), y: BufferBinding(ys[i]), scratch: scratch[i])
        }
        let s = Slot(m: m, x: x, ys: ys, scratch: scratch, plans: plans, stream: stream)
        if m == 1 { one = s } else { other = s }
        return s
    }

    /// y_i = x·W_iᵀ for every layer i; x is [M, K] row-major.
    func run(_ x: [Float], m: Int) throws -> [[Float]] {
        guard m >= 1, x.count == m * k else { throw QLinearError.invalidShape("x has \(x.count) values, M·K = \(m)·\(k) expected") }
        if let bad = x.firstIndex(where: { !$0.isFinite }) { throw QLinearError.nonFinite("activation [\(bad / k), \(bad % k)] = \(x[bad])") }
        let s = try slot(m: m)
        switch act {
        case .f32: try s.x.write(array: x)
        case .f16:
            let h = x.map { Float16($0) }
            if let bad = h.firstIndex(where: { !$0.isFinite }) { throw QLinearError.nonFinite("activation \(x[bad]) overflows fp16 (use f32 activations)") }
            try s.x.write(array: h)
        }
        try s.stream.submitAndWait()
        return try layers.enumerated().map { i, l in
            switch act {
            case .f32: return try s.ys[i].read(as: Float.self, count: m * l.n)
            case .f16: return try s.ys[i].read(as: Float16.self, count: m * l.n).map(Float.init)
            }
        }
    }
}
