import QLinear
import VulkanRuntime

/// Linear layers that read the same input (q/k/v, or gate/up), run in one GPU submission with
/// buffers and a recorded command stream kept between calls (record once per M, submit every
/// call); with dq8ca ops they share one activation-quantization pass. Built only on `LinearLayer`'s public `encode`; `forward` would allocate three buffers
/// and a command stream per layer per call.
///
/// Guard mode (`guarded`, for checks): x and every y sit between two guard regions of poison
/// bytes (0xFF, at least 256 bytes and the device's offset alignment) and are bound at an offset
/// with their exact size; y is poisoned before each run. After each run the guards must be
/// intact, x unchanged and every y element written, else the run throws naming the layer.
final class LinearGroup: @unchecked Sendable {
    let layers: [LinearLayer]
    let ctx: QLinearContext
    let k: Int, act: DType
    /// Guard bytes on each side of x and y (0 = no guards).
    let guardBytes: Int
    /// Runs whose guards were checked.
    private(set) var guardedRuns = 0
    /// Tests only: called with x and the ys after the GPU run, before the guard check (to show a
    /// stray write is caught).
    var afterRun: ((Buffer, [Buffer]) throws -> Void)?

    struct Slot {
        let m: Int
        let x: Buffer
        let ys: [Buffer]
        let scratch: [LinearLayer.Scratch]
        let plans: [KernelPlan]
        let stream: CommandStream
    }
    /// Buffers for M = 1 (decode) and for the last other M.
    private var one: Slot?, other: Slot?

    init(_ layers: [LinearLayer], guarded: Bool = false) throws {
        guard let first = layers.first, layers.allSatisfy({ $0.k == first.k && $0.act == first.act && $0.context === first.context }) else {
            throw QLinearError.invalidShape("a linear group needs layers with one K, activation type and context")
        }
        self.layers = layers; ctx = first.context; k = first.k; act = first.act
        let align = max(1, first.context.capabilities.minStorageBufferOffsetAlignment)
        guardBytes = guarded ? (max(256, align) + align - 1) / align * align : 0
    }

    /// Bytes of x and of layer i's y for M rows (rounded to 16: kernels read 16-byte vectors).
    private func xBytes(_ m: Int) -> Int { (m * k * act.bytes + 15) / 16 * 16 }
    private func yBytes(_ m: Int, _ l: LinearLayer) -> Int { m * l.n * act.bytes }

    private func binding(_ b: Buffer, _ bytes: Int) -> BufferBinding {
        guardBytes > 0 ? BufferBinding(b, offset: guardBytes, size: bytes) : BufferBinding(b)
    }

    private func slot(m: Int) throws -> Slot {
        if m == 1, let one { return one }
        if let other, other.m == m { return other }
        let dev = ctx.device
        var plans = [KernelPlan]()
        for l in layers { plans.append(try l.plan(m: m)) }   // the layer's own plan (it knows its weights)
        let g = 2 * guardBytes
        let x = try Buffer(device: dev, size: xBytes(m) + g, placement: .host)
        let ys = try layers.map { try Buffer(device: dev, size: (yBytes(m, $0) + 15) / 16 * 16 + g, placement: .host) }
        let scratch = try layers.map { try $0.makeScratch(m: m) }
        let stream = try CommandStream(device: dev, maxDispatches: plans.reduce(0) { $0 + $1.dispatches })
        // dq8ca: the layers after the first read its int8 rows (one quantization pass per group).
        for (i, l) in layers.enumerated() {
            let share = i > 0 && l.op.quantizesActivations && l.op == layers[0].op
            try l.encode(stream, plan: plans[i], x: binding(x, xBytes(m)), y: binding(ys[i], yBytes(m, l)), scratch: scratch[i],
                         quantizedBy: share ? scratch[0] : nil)
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
        let xOffset = guardBytes
        switch act {
        case .f32: try s.x.write(array: x, offset: xOffset)
        case .f16:
            let h = x.map { Float16($0) }
            if let bad = h.firstIndex(where: { !$0.isFinite }) { throw QLinearError.nonFinite("activation \(x[bad]) overflows fp16 (use f32 activations)") }
            try s.x.write(array: h, offset: xOffset)
        }
        var xImage: [UInt8] = []
        if guardBytes > 0 {
            // Poison: x's guards, and all of every y buffer (guards and the region the kernel must fill).
            let poison = [UInt8](repeating: 0xFF, count: guardBytes)
            try s.x.write(array: poison, offset: 0)
            try s.x.write(array: [UInt8](repeating: 0xFF, count: s.x.size - guardBytes - xBytes(m)), offset: guardBytes + xBytes(m))
            for y in s.ys { try y.write(array: [UInt8](repeating: 0xFF, count: y.size)) }
            xImage = try s.x.read(as: UInt8.self, count: s.x.size)
        }
        try s.stream.submitAndWait()
        try afterRun?(s.x, s.ys)
        if guardBytes > 0 { try checkGuards(s, m: m, xImage: xImage) }
        return try layers.enumerated().map { i, l in
            switch act {
            case .f32: return try s.ys[i].read(as: Float.self, count: m * l.n, offset: guardBytes)
            case .f16: return try s.ys[i].read(as: Float16.self, count: m * l.n, offset: guardBytes).map(Float.init)
            }
        }
    }

    /// Guard mode: x untouched (guards and data), y's guards still poison, every y element written.
    private func checkGuards(_ s: Slot, m: Int, xImage: [UInt8]) throws {
        let names = layers.map { "\($0.op.rawValue) N=\($0.n) K=\($0.k) M=\(m)" }.joined(separator: ", ")
        let xNow = try s.x.read(as: UInt8.self, count: s.x.size)
        if let i = xNow.indices.first(where: { xNow[$0] != xImage[$0] }) {
            let region = i < guardBytes ? "its leading guard" : i >= guardBytes + xBytes(m) ? "its trailing guard" : "x itself"
            throw QLinearError.unsupported("guard check: a kernel of [\(names)] wrote into its input x (byte \(i - guardBytes) relative to x, \(region))")
        }
        for (li, l) in layers.enumerated() {
            let raw = try s.ys[li].read(as: UInt8.self, count: s.ys[li].size)
            let end = guardBytes + yBytes(m, l)
            if let i = raw[0..<guardBytes].firstIndex(where: { $0 != 0xFF }) ?? raw[end...].firstIndex(where: { $0 != 0xFF }) {
                throw QLinearError.unsupported("guard check: \(l.op.rawValue) N=\(l.n) K=\(l.k) M=\(m) wrote outside its output (byte \(i - guardBytes) relative to y, y has \(yBytes(m, l)) bytes)")
            }
            let e = act.bytes
            for j in 0..<(m * l.n) where raw[(guardBytes + j * e)..<(guardBytes + (j + 1) * e)].allSatisfy({ $0 == 0xFF }) {
                throw QLinearError.unsupported("guard check: \(l.op.rawValue) N=\(l.n) K=\(l.k) M=\(m) left y[\(j / l.n), \(j % l.n)] unwritten")
            }
        }
        guardedRuns += 1
    }
}
