import QLinear

/// Measured ceilings of the device, used as the roofline for `qlinear bench`.
public struct Ceilings: Codable, Sendable {
    /// vkCmdCopyBuffer bandwidth, GB/s counting read + write.
    public var copyGBs: Double
    /// Streaming read bandwidth (peak_bw.comp, 16-byte loads), GB/s — the memory roof.
    public var readGBs: Double = 0
    /// Register-only cooperative-matrix loop (peak_mma.comp): fp16×fp16→fp32 TFLOP/s, int8 TOP/s.
    public var f16TFLOPs: Double?
    public var s8TOPs: Double?
    public var note: String
}

public struct BenchResult: Codable, Sendable {
    public var problem: Problem
    public var kernel: KernelKind
    public var shader: String
    public var tile: String
    public var iterations: Int
    public var medianUs: Double
    public var minUs: Double
    public var maxUs: Double
    /// 2·M·N·K / median time.
    public var tflops: Double
    /// Bytes the design must move (weights as packed, activations in and out, int8 scratch).
    public var bytes: Double
    public var gbs: Double
    /// max(FLOPs / compute ceiling, bytes / copy bandwidth): the roofline time, and its share of the measured time.
    public var rooflineUs: Double?
    public var percentOfRoofline: Double?
    public var boundBy: String?
}

public enum Bench {
    static func median(_ v: [Double]) -> Double {
        let s = v.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    /// Records `iters` timed repetitions of `body` (a barrier between them) and returns the
    /// median duration in ns.
    static func medianNs(_ dev: Device, iters: Int, _ body: (CommandStream) throws -> Void) throws -> Double {
        let s = try CommandStream(device: dev, maxDispatches: iters + 1, timestamps: 2 * iters)
        for i in 0..<iters {
            try s.timestamp(2 * i)
            try body(s)
            try s.timestamp(2 * i + 1)
            try s.barrier()
        }
        try s.submitAndWait()
        let ts = try s.timestampsNs()
        return median((0..<iters).map { (i: Int) -> Double in ts[2 * i + 1] - ts[2 * i] })
    }

    /// Measures copy bandwidth and (where the device has cooperative matrices) MMA peaks.
    public static func ceilings(_ ctx: QLinearContext) throws -> Ceilings {
        let dev = ctx.device
        let caps = ctx.capabilities
        let size = caps.kind == .cpu ? 16 << 20 : 512 << 20
        let a = try Buffer(device: dev, size: size), b = try Buffer(device: dev, size: size)
        let iters = caps.kind == .cpu ? 3 : 20
        let copyNs = try medianNs(dev, iters: iters) { try $0.copy(from: a, srcOffset: 0, to: b, dstOffset: 0, size: size) }
        // A second, L2-sized copy for comparison (printed in the note).
        let small = 16 << 20
        let smallNs = try medianNs(dev, iters: iters) { try $0.copy(from: a, srcOffset: 0, to: b, dstOffset: 0, size: small) }
        var c = Ceilings(copyGBs: 2 * Double(size) / copyNs, f16TFLOPs: nil, s8TOPs: nil,
                         note: "copy: vkCmdCopyBuffer \(size >> 20) MiB, read+write, median of \(iters) (16 MiB: \(Int(2 * Double(small) / smallNs)) GB/s)")
        do {
            let words = size / 16
            let pipe = try ctx.pipeline(.peak_bw, specialization: [:])
            let groups = caps.kind == .cpu ? 16 : 4096
            let o = try Buffer(device: dev, size: groups * 256 * 4)
            c.readGBs = Double(size) / (try medianNs(dev, iters: iters) {
                try $0.dispatch(pipe, buffers: [BufferBinding(a), BufferBinding(o)], push: [UInt32(words), 0, 0, 0, 0, 0, 0, 0], groups: (groups, 1, 1))
            })
            c.note += "; read: 16-byte streaming loads over \(size >> 20) MiB"
        }
        for (shader, op) in [(ShaderID.peak_mma_f16, Op.fp16), (.peak_mma_s8, .dq8ca_q8csw)] {
            guard case .success(let plan) = Dispatcher.plan(.coopmat, Problem(op: op, m: 128, n: 128, k: 128), caps: caps, options: ctx.options) else { continue }
            var t = plan.tile
            t.workgroupSize = 8 * t.subgroupSize
            let pipe = try ctx.pipeline(shader, specialization: t.specValues, requiredSubgroupSize: t.requireSubgroupSize ? t.subgroupSize : nil,
                                        fullSubgroups: true)
            let groups = 2112, loops = 2048, reps = 5
            let out = try Buffer(device: dev, size: groups * 8 * t.tm * t.tn * 4)
            let ns = try medianNs(dev, iters: reps) {
                try $0.dispatch(pipe, buffers: [BufferBinding(out)], push: [UInt32(loops), 1, 0, 0, 0, 0, 0, 0], groups: (groups, 1, 1))
            }
            let ops = Double(groups * 8 * 8 * loops) * 2 * Double(t.tm * t.tn * t.tk)
            if op == .fp16 { c.f16TFLOPs = ops / ns / 1e3 } else { c.s8TOPs = ops / ns / 1e3 }
        }
        if c.f16TFLOPs != nil || c.s8TOPs != nil {
            c.note += "; MMA: register-only coopMatMulAdd loop, 8 accumulators per subgroup, 2112 workgroups of 8 subgroups"
        }
        return c
    }

    /// Times `layer` at M rows with `kernel`: warm-up, then `iterations` GPU-timestamped runs in one
    /// submission (a barrier between runs so they do not overlap). dq8ca timings include the
    /// activation-quantization pass.
    public static func run(_ layer: LinearLayer, m: Int, kernel: KernelKind?, iterations: Int, ceilings: Ceilings?) throws -> BenchResult {
        let ctx = layer.context
        let p = layer.problem(m: m)
        let plan = try layer.plan(m: m, kernel: kernel)
        let dev = ctx.device
        var rng = SplitMix64(seed: 7)
        let x: [Float] = (0..<(m * layer.k)).map { _ in Float(Double(rng.next() >> 11) * 0x1p-53 * 2 - 1) }
        let xb = try Buffer(device: dev, size: try layer.inputBytes(m: m))
        try xb.write(array: p.act.encode(x))
        let yb = try Buffer(device: dev, size: (try layer.outputBytes(m: m) + 3) / 4 * 4)
        let scratch = try layer.makeScratch(m: m)
        let warm = try CommandStream(device: dev, maxDispatches: 16)
        for _ in 0..<3 { try layer.encode(warm, plan: plan, x: BufferBinding(xb), y: BufferBinding(yb), scratch: scratch); try warm.barrier() }
        try warm.submitAndWait()
        let s = try CommandStream(device: dev, maxDispatches: 2 * iterations + 2, timestamps: 2 * iterations)
        for i in 0..<iterations {
            try s.timestamp(2 * i)
            try layer.encode(s, plan: plan, x: BufferBinding(xb), y: BufferBinding(yb), scratch: scratch)
            try s.timestamp(2 * i + 1)
            try s.barrier()
        }
        try s.submitAndWait()
        let ts = try s.timestampsNs()
        let times: [Double] = (0..<iterations).map { (i: Int) -> Double in (ts[2 * i + 1] - ts[2 * i]) / 1000 }
        let med = median(times)
        let weightBytes: Int = layer.weightBytes.format
        let xBytes: Int = m * layer.k * p.act.bytes
        let yBytes: Int = m * layer.n * p.act.bytes
        let biasBytes: Int = p.bias ? layer.n * p.act.bytes : 0
        let scratchBytes: Int = p.op.quantizesActivations ? 2 * m * ((layer.k + 31) / 32 * 32) + 16 * m : 0
        let bytes = Double(weightBytes + xBytes + yBytes + biasBytes + scratchBytes)
        var r = BenchResult(problem: p, kernel: plan.kernel, shader: plan.shader.rawValue, tile: plan.tile.description, iterations: iterations,
                            medianUs: med, minUs: times.min()!, maxUs: times.max()!, tflops: p.flops / med / 1e6,
                            bytes: bytes, gbs: bytes / med / 1e3)
        if let c = ceilings {
            let memUs = bytes / max(c.readGBs, c.copyGBs) / 1e3
            let peak = p.op.quantizesActivations ? c.s8TOPs : c.f16TFLOPs
            let compUs = peak.map { p.flops / $0 / 1e6 }
            let roof = max(memUs, compUs ?? 0)
            r.rooflineUs = roof
            r.percentOfRoofline = 100 * roof / med
            r.boundBy = (compUs ?? 0) > memUs ? "compute" : (peak == nil ? "memory (no compute ceiling measured)" : "memory")
        }
        return r
    }
}
