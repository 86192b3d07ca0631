import VulkanRuntime
import QLinearReference
import Synchronization

extension ShaderID {
    /// SPIR-V words decoded from the embedded base64.
    var spirv: [UInt32] {
        let text = base64
        var bytes: [UInt8] = []
        text.withUTF8Buffer { buf in
            bytes.reserveCapacity(buf.count * 3 / 4)
            var acc: UInt32 = 0, bits = 0
            for c in buf {
                let v: UInt32
                switch c {
                case 65...90: v = UInt32(c - 65)
                case 97...122: v = UInt32(c - 71)
                case 48...57: v = UInt32(c + 4)
                case 43: v = 62
                case 47: v = 63
                default: continue   // '=' padding
                }
                acc = acc << 6 | v; bits += 6
                if bits >= 8 { bits -= 8; bytes.append(UInt8(truncatingIfNeeded: acc >> UInt32(bits))) }
            }
        }
        var words = [UInt32](repeating: 0, count: bytes.count / 4)
        for i in 0..<words.count {
            let b0 = UInt32(bytes[4 * i]), b1 = UInt32(bytes[4 * i + 1])
            let b2 = UInt32(bytes[4 * i + 2]), b3 = UInt32(bytes[4 * i + 3])
            words[i] = b0 | (b1 << 8) | (b2 << 16) | (b3 << 24)
        }
        return words
    }
}

/// An open device ready to run QLinear kernels: the Vulkan device, the dispatch options (with the
/// cooperative-matrix self-test results) and a cache of pipelines.
public final class QLinearContext: @unchecked Sendable {
    public let device: Device
    public private(set) var options: DispatchOptions
    /// Self-test outcome per cooperative-matrix family ("f16", "s8"): nil = not run (unsupported).
    public private(set) var selfTest: [String: String] = [:]
    private let pipelines = Mutex<[String: ComputePipeline]>([:])

    public var capabilities: Capabilities { device.capabilities }

    /// Opens `selector` (index or name substring; nil = QLINEAR_DEVICE or the best device) and,
    /// unless `selfTest` is false, checks each cooperative-matrix type family on a small problem
    /// against the CPU: a family that returns wrong answers is disabled, with the reason kept.
    public init(device selector: String? = nil, options: DispatchOptions = .fromEnvironment(), selfTest: Bool = true) throws {
        let sel = selector ?? getenvString("QLINEAR_DEVICE")
        self.device = try Device.open(sel)
        self.options = options
        if selfTest && !options.disableCoopMat { try runSelfTest() }
    }

    public func decide(_ p: Problem, force: KernelKind? = nil) -> DispatchDecision {
        Dispatcher.decide(p, caps: capabilities, options: options, force: force)
    }

    func pipeline(_ shader: ShaderID, tile: TileConfig, bindings: Int, quant: Bool = false) throws -> ComputePipeline {
        let spec: [UInt32] = quant ? [128] : tile.specialization
        let key = "\(shader.rawValue)|\(spec)|\(tile.requireSubgroupSize && !quant ? tile.subgroupSize : 0)"
        if let p = pipelines.withLock({ $0[key] }) { return p }
        let p = try ComputePipeline(device: device, name: shader.rawValue, spirv: shader.spirv, bindings: bindings,
                                    pushConstantBytes: 32, specialization: spec,
                                    requiredSubgroupSize: (tile.requireSubgroupSize && !quant) ? tile.subgroupSize : nil,
                                    requireFullSubgroups: tile.tm > 0 && !quant)
        pipelines.withLock { $0[key] = p }
        return p
    }

    private func runSelfTest() throws {
        let caps = capabilities
        var rng = SplitMix64(seed: 0x5e1f7e57)
        for (family, op) in [("f16", Op.fp16), ("s8", Op.dq8ca_q8csw)] {
            let p = Problem(op: op, m: 48, n: 40, k: 96, groupSize: 32, act: .f16, bias: true)
            guard case .success = Dispatcher.plan(.coopmat, p, caps: caps, options: options) else { continue }
            do {
                let c = try CheckCase.random(problem: p, rng: &rng)
                let r = try c.run(on: self, kernel: .coopmat)
                selfTest[family] = r.passed ? "passed" : "FAILED: \(r.summary)"
                if !r.passed { options.brokenCoopMat[family] = "wrong results on a \(p.m)x\(p.n)x\(p.k) test (\(r.summary))" }
            } catch {
                selfTest[family] = "FAILED: \(error)"
                options.brokenCoopMat[family] = "error on a small test: \(error)"
            }
        }
    }
}

/// Push constants shared by all linear kernels (see Shaders/common.glsl).
struct LinearPush {
    var m: Int, n: Int, k: Int, g: Int, hasBias: Bool, ldx: Int, ldw: Int
    var words: [UInt32] { [m, n, k, g, hasBias ? 1 : 0, ldx, ldw, 0].map { UInt32(truncatingIfNeeded: $0) } }
}

/// A linear layer resident on the GPU: prepacked weights, bias, and the op it computes.
public final class LinearLayer: @unchecked Sendable {
    public let context: QLinearContext
    public let op: Op
    public let act: DType
    public let n: Int, k: Int, groupSize: Int
    public let weights: LinearWeights
    public let bias: [Float]?
    let packed: PackedWeights
    let wBuf: Buffer
    let sBuf: Buffer
    let sumBuf: Buffer
    let corrBuf: Buffer
    let biasBuf: Buffer

    /// Uploads `weights` (prepacked for the kernels) and `bias` ([N], held in `act` precision).
    /// `dynamicActivations` selects the dq8ca op for INT4 weights (INT8 weights always use it).
    public init(context: QLinearContext, weights: LinearWeights, bias: [Float]? = nil, act: DType = .f16,
                dynamicActivations: Bool = false) throws {
        self.context = context
        self.act = act
        self.n = weights.n; self.k = weights.k; self.groupSize = weights.groupSize
        self.weights = weights
        switch weights {
        case .fp16: op = .fp16
        case .q4gsw: op = dynamicActivations ? .dq8ca_q4gsw : .q4gsw
        case .q8csw: op = .dq8ca_q8csw
        }
        if let bias {
            guard bias.count == n else { throw QLinearError.invalidShape("bias has \(bias.count) values, N = \(n) expected") }
            if let bad = bias.firstIndex(where: { !$0.isFinite }) { throw QLinearError.nonFinite("bias[\(bad)] = \(bias[bad])") }
        }
        if case .fp16(_, _, let v) = weights, let bad = v.firstIndex(where: { !$0.isFinite }) {
            throw QLinearError.nonFinite("weight \(bad) is \(v[bad])")
        }
        try Problem(op: op, m: 1, n: n, k: k, groupSize: groupSize, act: act).validate()
        self.bias = bias.map { b in act == .f16 ? b.map { Float(Float16($0)) } : b }
        let dev = context.device
        let pk = PackedWeights.pack(weights)
        self.packed = pk
        wBuf = try Buffer(device: dev, size: roundUp(max(4, pk.words.count * 4), 16))
        try wBuf.write(array: pk.words)
        sBuf = try Buffer(device: dev, size: max(4, pk.scales.count * 4))
        if !pk.scales.isEmpty { try sBuf.write(array: pk.scales) }
        sumBuf = try Buffer(device: dev, size: max(4, pk.sums.count * 4))
        if !pk.sums.isEmpty { try sumBuf.write(array: pk.sums) }
        let corr = pk.correction
        corrBuf = try Buffer(device: dev, size: max(4, corr.count * 4))
        if !corr.isEmpty { try corrBuf.write(array: corr) }
        biasBuf = try Buffer(device: dev, size: roundUp(n * act.bytes, 4))
        if let b = self.bias { try biasBuf.write(array: hostEncode(b, act)) }
    }

    public func problem(m: Int) -> Problem {
        Problem(op: op, m: m, n: n, k: k, groupSize: groupSize, act: act, bias: bias != nil)
    }

    /// Padded K of quantized activations (rows of int8 padded with zeros to a multiple of 32).
    var kp: Int { roundUp(k, 32) }

    /// GPU scratch a forward pass needs for M rows.
    public final class Scratch: @unchecked Sendable {
        let xq: Buffer?
        let xp: Buffer?
        init(layer: LinearLayer, m: Int) throws {
            if layer.op.quantizesActivations {
                xq = try Buffer(device: layer.context.device, size: m * layer.kp)
                xp = try Buffer(device: layer.context.device, size: m * 8)
            } else { xq = nil; xp = nil }
        }
    }

    public func makeScratch(m: Int) throws -> Scratch { try Scratch(layer: self, m: m) }

    /// Records one forward pass: x [M,K] in `x` (act dtype), y [M,N] into `y`.
    public func encode(_ stream: CommandStream, plan: KernelPlan, m: Int, x: BufferBinding, y: BufferBinding, scratch: Scratch) throws {
        let t = plan.tile
        let groups = ((n + t.bn - 1) / t.bn, (m + t.bm - 1) / t.bm, 1)
        switch op {
        case .fp16, .q4gsw:
            let pipe = try context.pipeline(plan.shader, tile: t, bindings: 5)
            let push = LinearPush(m: m, n: n, k: k, g: max(groupSize, 1), hasBias: bias != nil, ldx: k, ldw: packed.ldw)
            try stream.dispatch(pipe, buffers: [x, BufferBinding(wBuf), BufferBinding(sBuf), BufferBinding(biasBuf), y],
                                push: push.words, groups: groups)
        case .dq8ca_q4gsw, .dq8ca_q8csw:
            guard let xq = scratch.xq, let xp = scratch.xp, let qs = plan.quantShader else { throw QLinearError.unsupported("missing scratch") }
            let qpipe = try context.pipeline(qs, tile: t, bindings: 3, quant: true)
            let qpush = LinearPush(m: m, n: 0, k: k, g: 0, hasBias: false, ldx: k, ldw: kp / 4)
            try stream.dispatch(qpipe, buffers: [x, BufferBinding(xq), BufferBinding(xp)], push: qpush.words, groups: (m, 1, 1))
            stream.barrier()
            let pipe = try context.pipeline(plan.shader, tile: t, bindings: 7)
            // Q8: one group spanning the padded K; Q4: groups of groupSize over the real K.
            let kk = op == .dq8ca_q8csw ? kp : k
            let g = op == .dq8ca_q8csw ? kp : groupSize
            let push = LinearPush(m: m, n: n, k: kk, g: g, hasBias: bias != nil, ldx: kp / 4, ldw: packed.ldw)
            try stream.dispatch(pipe, buffers: [BufferBinding(xq), BufferBinding(xp), BufferBinding(wBuf), BufferBinding(sBuf),
                                                BufferBinding(plan.kernel == .tiled ? sumBuf : corrBuf), BufferBinding(biasBuf), y],
                                push: push.words, groups: groups)
        }
    }

    /// The result of a forward pass run from host memory.
    public struct Output: Sendable {
        public var y: [Float]
        public var plan: KernelPlan
        /// dq8ca ops: the int8 activations [M, K], per-row scales and zero points the GPU computed.
        public var activations: (q: [Int8], scale: [Float], zeroPoint: [Int32])?
    }

    /// Runs y = x·Wᵀ (+ bias) for x [M, K] (values in `act` precision). `kernel` nil = dispatcher's choice.
    public func forward(_ x: [Float], m: Int, kernel: KernelKind? = nil) throws -> Output {
        guard x.count == m * k else { throw QLinearError.invalidShape("x has \(x.count) values, M·K = \(m)·\(k) = \(m * k) expected") }
        if let bad = x.firstIndex(where: { !$0.isFinite }) { throw QLinearError.nonFinite("x[\(bad / k), \(bad % k)] = \(x[bad])") }
        let decision = context.decide(problem(m: m), force: kernel)
        guard let plan = decision.chosen else { throw QLinearError.unsupported(decision.why.joined(separator: "; ")) }
        let dev = context.device
        let xb = try Buffer(device: dev, size: roundUp(m * k * act.bytes, 16))
        try xb.write(array: hostEncode(x, act))
        let yb = try Buffer(device: dev, size: roundUp(m * n * act.bytes, 4))
        let scratch = try makeScratch(m: m)
        let s = try CommandStream(device: dev)
        try encode(s, plan: plan, m: m, x: BufferBinding(xb), y: BufferBinding(yb), scratch: scratch)
        try s.submitAndWait()
        let y = try decode(yb, count: m * n, act)
        var acts: (q: [Int8], scale: [Float], zeroPoint: [Int32])?
        if let xq = scratch.xq, let xp = scratch.xp {
            let raw = try xq.read(as: Int8.self, count: m * kp)
            var q = [Int8](repeating: 0, count: m * k)
            for i in 0..<m { for j in 0..<k { q[i * k + j] = raw[i * kp + j] } }
            let p = try xp.read(as: UInt32.self, count: 2 * m)
            acts = (q, (0..<m).map { Float(bitPattern: p[2 * $0]) }, (0..<m).map { Int32(bitPattern: p[2 * $0 + 1]) })
        }
        return Output(y: y, plan: plan, activations: acts)
    }
}

/// Host values → the bytes of a `dtype` array.
func hostEncode(_ v: [Float], _ dtype: DType) -> [UInt32] {
    switch dtype {
    case .f32: return v.map { $0.bitPattern }
    case .f16:
        var out = [UInt32](repeating: 0, count: (v.count + 1) / 2)
        for i in 0..<v.count { out[i / 2] |= UInt32(Float16(v[i]).bitPattern) << (16 * UInt32(i % 2)) }
        return out
    }
}

func decode(_ b: Buffer, count: Int, _ dtype: DType, offset: Int = 0) throws -> [Float] {
    switch dtype {
    case .f32: return try b.read(as: Float.self, count: count, offset: offset)
    case .f16: return try b.read(as: Float16.self, count: count, offset: offset).map(Float.init)
    }
}

/// A small, fast, seedable generator (SplitMix64) so every test case draws fresh, reproducible data.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9e3779b97f4a7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58476d1ce4e5b9
        z = (z ^ (z >> 27)) &* 0x94d049bb133111eb
        return z ^ (z >> 31)
    }
}
