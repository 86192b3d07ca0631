#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import QLinear

/// Measured ceilings of the device, used as the roofline for `qlinear bench`.
public struct Ceilings: Codable, Sendable {
    /// vkCmdCopyBuffer bandwidth, GB/s counting read + write.
    public var copyGBs: Double
    /// Streaming read bandwidth (peak_bw.comp, 16-byte loads), GB/s — the memory roof.
    public var readGBs: Double = 0
    /// The same loads over a 16 MiB buffer read 64 times (GPUs only): the last-level cache's
    /// bandwidth to the shader cores where that cache holds 16 MiB (the H100's L2 is 50 MB).
    public var cacheReadGBs: Double?
    /// Register-only cooperative-matrix loop (peak_mma.comp): fp16×fp16→fp32 TFLOP/s, int8 TOP/s.
    public var f16TFLOPs: Double?
    public var s8TOPs: Double?
    public var note: String
}

/// How long to warm up and time. `standard` is for a real GPU; `quick` for lavapipe and CI.
public struct BenchSettings: Codable, Sendable {
    /// Sustained work before the first case (and before the ceilings), seconds.
    public var firstWarmupS: Double
    /// Sustained work of the case itself before timing it, at least (seconds)…
    public var warmupS: Double
    /// …and at most, if two consecutive batches never agree (the case is then flagged).
    public var warmupCapS: Double
    /// Length of one warm-up batch (one submission of the recorded case), seconds.
    public var batchS: Double
    /// Two consecutive batches must agree within this fraction for the clocks to count as stable.
    public var stableTolerance: Double
    /// Timed work per case, at least (seconds of GPU time inside the timestamps).
    public var timedS: Double
    /// Timed iterations per case, at least.
    public var minIterations: Int
    /// Iterations recorded in one submission, at most.
    public var maxBatchIterations: Int
    /// Weight sets, activations and outputs rotated per case so their total exceeds this (0 = one set).
    public var rotateBytes: Int
    /// Weight sets per (op, N, K), at most.
    public var maxSets: Int
    /// Submissions of the back-to-back measurement after the timed runs (`BenchResult.streamUs`),
    /// each about half a batch long; nil or 0 = not measured (the tuner's setting).
    public var streamBatches: Int?

    public static let standard = BenchSettings(firstWarmupS: 1.0, warmupS: 0.3, warmupCapS: 1.5, batchS: 0.1, stableTolerance: 0.03,
                                               timedS: 0.1, minIterations: 10, maxBatchIterations: 4096, rotateBytes: 256 << 20, maxSets: 64)
    public static let quick = BenchSettings(firstWarmupS: 0.05, warmupS: 0.02, warmupCapS: 0.2, batchS: 0.01, stableTolerance: 0.03,
                                            timedS: 0.02, minIterations: 3, maxBatchIterations: 256, rotateBytes: 0, maxSets: 1)
}

/// One timed case. Field names follow llama-bench's JSON (snake_case, one flat object per row).
public struct BenchResult: Codable, Sendable {
    public var op: Op
    public var m: Int, n: Int, k: Int
    /// INT4 group size (0 for ops without groups).
    public var group: Int
    public var act: DType
    public var kernel: KernelKind
    public var shader: String
    public var tile: String
    public var iterations: Int
    public var medianUs: Double
    public var minUs: Double
    public var maxUs: Double
    /// 2·M·N·K.
    public var flops: Double
    /// flops / median time, in TFLOP/s (fp16, q4gsw) or TOP/s (dq8ca: int8 MMA).
    public var rate: Double
    public var rateUnit: String
    /// Format bytes: the user's weight format (packed values + scales at their dtype) +
    /// activations in + outputs (+ bias). Not the GPU layout's extra sums/corrections, not scratch.
    public var bytes: Double
    public var gbps: Double
    /// max(flops / compute ceiling, bytes / read bandwidth), and its share of the measured median.
    public var rooflineUs: Double?
    public var pctRoofline: Double?
    public var bound: String?
    /// Weight/activation/output sets rotated through, and their total bytes (format bytes).
    public var sets: Int
    public var rotatedBytes: Double
    /// Seconds of sustained work of this case before timing; whether two batches agreed.
    public var warmupS: Double
    public var warmupStable: Bool
    /// Seconds spent building the plan's pipelines (recording the case once, unsubmitted) before
    /// the warm-up. Over `Bench.longIdleS` the GPU sat idle meanwhile and the warm-up was at least
    /// `Bench.rewarmS` (a driver compile can take a second, and clocks fall while it runs).
    public var prepareS: Double?
    /// "spread": min is more than 10% below the median; "unstable": warm-up hit its cap;
    /// "forced-config-not-used": a forced matrix–vector configuration could not run here and the
    /// dispatcher's fallback kernel was timed (the row's shader says which).
    public var flags: [String]
    /// Back to back: the case recorded `streamLayers` times in one submission (weight sets rotated,
    /// a barrier between consecutive runs as between a model's layers), timestamps only before
    /// the first and after the last; time per run = span / runs. The median and min over
    /// `streamBatches` submissions, µs. Unlike `medianUs` (timestamps around each run), this
    /// leaves out the timestamps' own cost and overlaps each launch with the barrier before it —
    /// the per-layer time of a model's forward pass, and what CUDA peers timed over a graph of
    /// back-to-back calls measure. nil where not measured.
    public var streamUs: Double?
    public var streamMinUs: Double?
    public var streamLayers: Int?
    public var streamBatches: Int?
    /// Decode rows (M = 1; `qlinear bench` measures them after the case): a streaming read of
    /// exactly `bytes` (peak_bw.comp, 16-byte loads, buffers rotated past the cache like the
    /// case's sets, the faster of two grids), timed the same two ways — the time no kernel moving
    /// these bytes beats through this API, launch and ramp included; `medianUs` / `streamUs`
    /// over these say how far a kernel is from it. nil where not measured.
    public var readFloorUs: Double?
    public var readFloorStreamUs: Double?

    enum CodingKeys: String, CodingKey {
        case op, m, n, k, group, act, kernel, shader, tile, iterations
        case medianUs = "median_us", minUs = "min_us", maxUs = "max_us"
        case flops, rate, rateUnit = "rate_unit", bytes, gbps
        case rooflineUs = "roofline_us", pctRoofline = "pct_roofline", bound
        case sets, rotatedBytes = "rotated_bytes", warmupS = "warmup_s", warmupStable = "warmup_stable", prepareS = "prepare_s", flags
        case streamUs = "stream_us", streamMinUs = "stream_min_us", streamLayers = "stream_layers", streamBatches = "stream_batches"
        case readFloorUs = "read_floor_us", readFloorStreamUs = "read_floor_stream_us"
    }
}

/// Seconds on a monotonic clock.
public func monotonicSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

/// A recorded stream of `iterations` repetitions back to back (a barrier between them) with one
/// timestamp before the first and one after the last, resubmitted as often as wanted.
final class BackToBackStream {
    let stream: CommandStream
    let iterations: Int
    init(_ dev: Device, iterations: Int, dispatchesPerIteration: Int, _ body: (CommandStream, Int) throws -> Void) throws {
        self.iterations = iterations
        stream = try CommandStream(device: dev, maxDispatches: try Checked.add(Checked.mul(iterations, dispatchesPerIteration, "back-to-back dispatches"), 1, "back-to-back dispatches"), timestamps: 2)
        try stream.timestamp(0)
        for i in 0..<iterations {
            try body(stream, i)
            try stream.barrier()
        }
        try stream.timestamp(1)
        try stream.finish()
    }
    /// Submits, waits, and returns the time per iteration in seconds.
    func run() throws -> Double {
        try stream.submitAndWait()
        let ts = try stream.timestampsNs()
        return (ts[1] - ts[0]) * 1e-9 / Double(iterations)
    }
}

/// A recorded stream of `iterations` timestamped repetitions (a barrier between them), resubmitted
/// as often as wanted.
final class TimedStream {
    let stream: CommandStream
    let iterations: Int
    init(_ dev: Device, iterations: Int, dispatchesPerIteration: Int, _ body: (CommandStream, Int) throws -> Void) throws {
        self.iterations = iterations
        stream = try CommandStream(device: dev, maxDispatches: iterations * dispatchesPerIteration + 1, timestamps: 2 * iterations)
        for i in 0..<iterations {
            try stream.timestamp(2 * i)
            try body(stream, i)
            try stream.timestamp(2 * i + 1)
            try stream.barrier()
        }
        try stream.finish()
    }
    /// Submits, waits, and returns each iteration's duration in seconds.
    func run() throws -> [Double] {
        try stream.submitAndWait()
        let ts = try stream.timestampsNs()
        return (0..<iterations).map { (i: Int) -> Double in (ts[2 * i + 1] - ts[2 * i]) * 1e-9 }
    }
}

public enum Bench {
    static func median(_ v: [Double]) -> Double {
        let s = v.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    /// The outcome of a warm-up + timing loop.
    struct Timing {
        var times: [Double]
        var warmupS: Double
        var stable: Bool
    }

    /// Warms up and times one piece of work: `body(stream, i)` records iteration i. A probe sizes a
    /// batch to about `batchS`; the batch is resubmitted until two consecutive batches agree within
    /// the tolerance (after at least `minWarm` seconds, at most `capWarm`), then resubmitted until
    /// the timed iterations add up to `timedS` and `minIterations`.
    static func sustainAndTime(_ dev: Device, _ s: BenchSettings, minWarm: Double, capWarm: Double, dispatchesPerIteration: Int,
                               _ body: (CommandStream, Int) throws -> Void) throws -> Timing {
        let start = monotonicSeconds()
        let probe = try TimedStream(dev, iterations: 2, dispatchesPerIteration: dispatchesPerIteration, body)
        var per = max(try probe.run().reduce(0, +) / 2, 1e-7)
        func sized(_ per: Double) -> Int { min(s.maxBatchIterations, max(s.minIterations, Int((s.batchS / per).rounded(.up)))) }
        var batch = try TimedStream(dev, iterations: sized(per), dispatchesPerIteration: dispatchesPerIteration, body)
        var previous: Double?
        var stable = false
        while true {
            let total = try batch.run().reduce(0, +)
            let elapsed = monotonicSeconds() - start
            per = max(total / Double(batch.iterations), 1e-7)
            // A probe taken at idle clocks overestimates the time per iteration: resize once clocks rise.
            if total < 0.5 * s.batchS, batch.iterations < s.maxBatchIterations, sized(per) > batch.iterations, elapsed < capWarm {
                batch = try TimedStream(dev, iterations: sized(per), dispatchesPerIteration: dispatchesPerIteration, body)
                previous = nil
                continue
            }
            if let p = previous, elapsed >= minWarm, abs(total - p) <= s.stableTolerance * p { stable = true; break }
            if elapsed >= capWarm { break }
            previous = total
        }
        let warm = monotonicSeconds() - start
        var times: [Double] = []
        var submissions = 0
        while times.reduce(0, +) < s.timedS || times.count < s.minIterations {
            times += try batch.run()
            submissions += 1
            if submissions >= 1000 { break }
        }
        return Timing(times: times, warmupS: warm, stable: stable)
    }

    /// Keeps the GPU busy with a memory-streaming and (where there are tensor cores) an MMA loop for
    /// about `seconds`, so clocks are at their sustained level before the ceilings and the first case.
    public static func warmUp(_ ctx: QLinearContext, seconds: Double, settings: BenchSettings = .standard) throws {
        let dev = ctx.device
        let caps = ctx.capabilities
        let size = caps.kind == .cpu ? 4 << 20 : 256 << 20
        let a = try Buffer(device: dev, size: size)
        let pipe = try ctx.pipeline(.peak_bw, specialization: [:])
        let groups = caps.kind == .cpu ? 16 : 4096
        let o = try Buffer(device: dev, size: groups * 256 * 4)
        _ = try sustainAndTime(dev, settings, minWarm: seconds, capWarm: max(seconds, 3 * seconds), dispatchesPerIteration: 1) { st, _ in
            try st.dispatch(pipe, buffers: [BufferBinding(a), BufferBinding(o)], push: [UInt32(size / 16), 0, 0, 0, 0, 0, 0, 0], groups: (groups, 1, 1))
        }
    }

    /// A streaming read of exactly `bytes` (peak_bw.comp, 16-byte loads, grid-stride), timed as a
    /// case is: sustained warm-up, GPU timestamps around each run (median µs), then back to back
    /// (µs per run, nil when `settings.streamBatches` is off). Buffers of `bytes` are rotated so
    /// they total more than `settings.rotateBytes` — at most `settings.maxSets` of them, so below
    /// about rotateBytes / maxSets (4 MiB by default) the read partly comes from the L2; of two
    /// grids (1056 and 4224 workgroups of 256) the faster median counts.
    public static func readFloor(_ ctx: QLinearContext, bytes: Int, settings: BenchSettings) throws -> (medianUs: Double, streamUs: Double?) {
        let dev = ctx.device
        let words = (try Checked.add(bytes, 15, "read bytes")) / 16
        let grids = ctx.capabilities.kind == .cpu ? [16] : [1056, 4224]
        // The shader's grid-stride index is 32-bit: i + stride must not wrap past the last word.
        let maxWords = Int(UInt32.max) - grids.max()! * 256
        guard words > 0, words <= maxWords else { throw QLinearError.invalidShape("read floor: \(bytes) bytes is outside 1…\(16 * maxWords)") }
        let size = try Checked.mul(words, 16, "read bytes")
        guard UInt64(size) <= ctx.capabilities.maxStorageBufferRange else {
            throw QLinearError.unsupported("read floor: \(size) bytes is more than the device's maxStorageBufferRange (\(ctx.capabilities.maxStorageBufferRange))")
        }
        let sets = BenchWeights.sets(formatBytes: size, settings: settings)
        let bufs = try (0..<sets).map { _ in try Buffer(device: dev, size: size) }
        let pipe = try ctx.pipeline(.peak_bw, specialization: [:])
        let o = try Buffer(device: dev, size: grids.max()! * 256 * 4)
        var best: (Double, Int)?
        for g in grids {
            let t = try sustainAndTime(dev, settings, minWarm: settings.warmupS, capWarm: settings.warmupCapS, dispatchesPerIteration: 1) { st, i in
                try st.dispatch(pipe, buffers: [BufferBinding(bufs[i % sets]), BufferBinding(o)], push: [UInt32(words), 0, 0, 0, 0, 0, 0, 0], groups: (g, 1, 1))
            }
            let med = median(t.times) * 1e6
            if best == nil || med < best!.0 { best = (med, g) }
        }
        let (med, g) = best!
        guard let batches = settings.streamBatches, batches > 0 else { return (med, nil) }
        let wanted = (Int((settings.batchS / 2 / max(med * 1e-6, 1e-7)).rounded(.up)) + sets - 1) / sets * sets
        let runs = max(sets, min(settings.maxBatchIterations / sets * sets, wanted))
        let b2b = try BackToBackStream(dev, iterations: runs, dispatchesPerIteration: 1) { st, i in
            try st.dispatch(pipe, buffers: [BufferBinding(bufs[i % sets]), BufferBinding(o)], push: [UInt32(words), 0, 0, 0, 0, 0, 0, 0], groups: (g, 1, 1))
        }
        let per = try (0..<batches).map { _ in try b2b.run() * 1e6 }
        return (med, median(per))
    }

    /// Measures copy and streaming-read bandwidth and (with cooperative matrices) MMA peaks, each
    /// after its own sustained warm-up (median of ≥ `settings.timedS` of timed work).
    public static func ceilings(_ ctx: QLinearContext, settings: BenchSettings = .standard) throws -> Ceilings {
        let dev = ctx.device
        let caps = ctx.capabilities
        let size = caps.kind == .cpu ? 16 << 20 : 512 << 20
        let a = try Buffer(device: dev, size: size), b = try Buffer(device: dev, size: size)
        let warm = settings.warmupS, cap = settings.warmupCapS
        let copy = try sustainAndTime(dev, settings, minWarm: warm, capWarm: cap, dispatchesPerIteration: 1) {
            try $0.copy(from: a, srcOffset: 0, to: b, dstOffset: 0, size: size); _ = $1
        }
        var c = Ceilings(copyGBs: 2 * Double(size) / median(copy.times) / 1e9, f16TFLOPs: nil, s8TOPs: nil,
                         note: "after warm-up; copy: vkCmdCopyBuffer \(size >> 20) MiB, read+write, median of \(copy.times.count)")
        let words = size / 16
        let pipe = try ctx.pipeline(.peak_bw, specialization: [:])
        let groups = caps.kind == .cpu ? 16 : 4096
        let o = try Buffer(device: dev, size: groups * 256 * 4)
        let read = try sustainAndTime(dev, settings, minWarm: warm, capWarm: cap, dispatchesPerIteration: 1) { st, _ in
            try st.dispatch(pipe, buffers: [BufferBinding(a), BufferBinding(o)], push: [UInt32(words), 0, 0, 0, 0, 0, 0, 0], groups: (groups, 1, 1))
        }
        c.readGBs = Double(size) / median(read.times) / 1e9
        c.note += "; read: 16-byte streaming loads over \(size >> 20) MiB, median of \(read.times.count)"
        if caps.kind != .cpu {
            let small = 16 << 20, passes = 64
            let cached = try sustainAndTime(dev, settings, minWarm: warm, capWarm: cap, dispatchesPerIteration: 1) { st, _ in
                try st.dispatch(pipe, buffers: [BufferBinding(a), BufferBinding(o)], push: [UInt32(small / 16), UInt32(passes), 0, 0, 0, 0, 0, 0], groups: (groups, 1, 1))
            }
            c.cacheReadGBs = Double(small * passes) / median(cached.times) / 1e9
            c.note += "; cache read: the same loads over \(small >> 20) MiB, \(passes) passes, median of \(cached.times.count)"
        }
        for (shader, op) in [(ShaderID.peak_mma_f16, Op.fp16), (.peak_mma_s8, .dq8ca_q8csw)] {
            guard case .success(let plan) = Dispatcher.plan(.coopmat, Problem(op: op, m: 128, n: 128, k: 128), caps: caps, options: ctx.options) else { continue }
            var t = plan.tile
            t.workgroupSize = 8 * t.subgroupSize
            let mma = try ctx.pipeline(shader, specialization: t.specValues, requiredSubgroupSize: t.requireSubgroupSize ? t.subgroupSize : nil,
                                       fullSubgroups: true)
            let wg = 2112, loops = 2048
            let out = try Buffer(device: dev, size: wg * 8 * t.tm * t.tn * 4)
            let r = try sustainAndTime(dev, settings, minWarm: warm, capWarm: cap, dispatchesPerIteration: 1) { st, _ in
                try st.dispatch(mma, buffers: [BufferBinding(out)], push: [UInt32(loops), 1, 0, 0, 0, 0, 0, 0], groups: (wg, 1, 1))
            }
            let ops = Double(wg * 8 * 8 * loops) * 2 * Double(t.tm * t.tn * t.tk)
            if op == .fp16 { c.f16TFLOPs = ops / median(r.times) / 1e12 } else { c.s8TOPs = ops / median(r.times) / 1e12 }
        }
        if c.f16TFLOPs != nil || c.s8TOPs != nil {
            c.note += "; MMA: register-only coopMatMulAdd loop, 8 accumulators per subgroup, 2112 workgroups of 8 subgroups"
        }
        return c
    }

    /// Random weights in the op's format, drawn directly as packed values and scales (no float
    /// quantization pass, so 28672×4096 takes a fraction of a second in a release build).
    public static func randomWeights(op: Op, n: Int, k: Int, group: Int, seed: UInt64) throws -> LinearWeights {
        var rng = SplitMix64(seed: seed)
        let count = try Checked.mul(n, k, "N·K")
        // A random fp16 in ±[2^-e0, 2^-e0+1) with a random mantissa: finite and never subnormal.
        func half(_ bits: UInt64, exponent: UInt16) -> UInt16 { UInt16(truncatingIfNeeded: bits) & 0x83FF | exponent << 10 }
        switch op {
        case .fp16:
            var v = [Float16](repeating: 0, count: count)
            v.withUnsafeMutableBufferPointer { p in
                var i = 0
                while i < count {
                    var r = rng.next()
                    for _ in 0..<4 where i < count { p[i] = Float16(bitPattern: half(r, exponent: 10)); r >>= 16; i += 1 }  // |w| in [2^-5, 2^-4)
                }
            }
            return .fp16(n: n, k: k, values: v)
        case .q4gsw, .dq8ca_q4gsw:
            let bytes = try randomBytes(count / 2, &rng)
            let scales = (0..<(n * (k / max(group, 1)))).map { _ in Float(Float16(bitPattern: half(rng.next(), exponent: 8) & 0x7FFF)) }
            return .q4gsw(try Q4GSWWeights(n: n, k: k, groupSize: group, packed: bytes, scales: scales, scaleDType: .f16))
        case .dq8ca_q8csw:
            let bytes = try randomBytes(count, &rng)
            let scales = (0..<n).map { _ in Float(Float16(bitPattern: half(rng.next(), exponent: 6) & 0x7FFF)) }
            return .q8csw(try Q8CSWWeights(n: n, k: k, values: bytes.map { Int8(bitPattern: $0) }, scales: scales, scaleDType: .f16))
        }
    }

    static func randomBytes(_ count: Int, _ rng: inout SplitMix64) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        out.withUnsafeMutableBytes { raw in
            let words = count / 8
            let w = raw.baseAddress!.assumingMemoryBound(to: UInt64.self)   // Array storage is 16-byte aligned
            for i in 0..<words { w[i] = rng.next() }
            var r = rng.next()
            for i in (words * 8)..<count { raw[i] = UInt8(truncatingIfNeeded: r); r >>= 8 }
        }
        return out
    }

    /// Random activations in `dtype` (uniform in [−1, 1)), as raw bytes.
    static func randomActivations(bytes: Int, dtype: DType, _ rng: inout SplitMix64) -> [UInt8] {
        let count = bytes / dtype.bytes
        let values: [Float] = (0..<count).map { _ in rng.symmetric() }
        return dtype.encode(values).withUnsafeBytes { Array($0.prefix(count * dtype.bytes)) }
    }
}

/// The weight sets of one (op, N, K): several layers with the same weights in distinct buffers,
/// rotated through so timed runs read weights from memory, not from the last-level cache.
public final class BenchWeights: @unchecked Sendable {
    public let op: Op
    public let n: Int, k: Int, group: Int
    public let layers: [LinearLayer]
    public init(context: QLinearContext, op: Op, n: Int, k: Int, group: Int, act: DType, sets: Int, seed: UInt64 = 1) throws {
        self.op = op; self.n = n; self.k = k; self.group = op.usesGroups ? group : 0
        let w = try Bench.randomWeights(op: op, n: n, k: k, group: group, seed: seed)
        layers = try (0..<max(1, sets)).map { _ in
            try LinearLayer(context: context, weights: w, bias: nil, act: act, dynamicActivations: op == .dq8ca_q4gsw)
        }
    }

    /// Weight sets worth preparing for these settings: enough that weights alone exceed the rotation size.
    public static func sets(formatBytes: Int, settings: BenchSettings) -> Int {
        guard settings.rotateBytes > 0, formatBytes > 0 else { return 1 }
        return max(1, min(settings.maxSets, (settings.rotateBytes + formatBytes - 1) / formatBytes + 1))
    }
}

/// GPU-resident random activations that case buffers are filled from by GPU copies (no host work per case).
public final class ActivationPool: @unchecked Sendable {
    let buffer: Buffer
    let size: Int
    public init(context: QLinearContext, act: DType, size: Int = 4 << 20) throws {
        var rng = SplitMix64(seed: 11)
        self.size = size
        buffer = try Buffer(device: context.device, size: size)
        try buffer.write(array: Bench.randomActivations(bytes: size, dtype: act, &rng))
    }
    func fill(_ dst: Buffer, bytes: Int, stream: CommandStream) throws {
        var off = 0
        while off < bytes {
            let n = min(size, bytes - off)
            try stream.copy(from: buffer, srcOffset: 0, to: dst, dstOffset: off, size: n)
            off += n
        }
    }
}

/// The rotated activation / output / scratch sets of one (weights, M) case, reusable across
/// configurations of the same case (`qlinear tune`).
public final class CaseBuffers: @unchecked Sendable {
    let sets: Int
    let xs: [Buffer], ys: [Buffer]
    let scratch: [LinearLayer.Scratch]
    let userBytes: Int
    public init(_ weights: BenchWeights, m: Int, settings: BenchSettings, pool: ActivationPool) throws {
        let first = weights.layers[0]
        let dev = first.context.device
        let p = first.problem(m: m)
        let xBytes = try first.inputBytes(m: m), yBytes = try first.outputBytes(m: m)
        userBytes = first.weightBytes.format + m * first.k * p.act.bytes + yBytes + (p.bias ? first.n * p.act.bytes : 0)
        var sets = 1
        if settings.rotateBytes > 0 { sets = min(weights.layers.count, max(1, (settings.rotateBytes + userBytes - 1) / userBytes + 1)) }
        self.sets = sets
        xs = try (0..<sets).map { _ in try Buffer(device: dev, size: xBytes) }
        ys = try (0..<sets).map { _ in try Buffer(device: dev, size: (yBytes + 3) / 4 * 4) }
        scratch = try (0..<sets).map { try weights.layers[$0].makeScratch(m: m) }
        let fill = try CommandStream(device: dev, maxDispatches: 1)
        for x in xs { try pool.fill(x, bytes: xBytes, stream: fill) }
        try fill.submitAndWait()
    }
}

extension Bench {
    /// "BMxBNxBK" for tiled kernels, plus "/WMxWN MMA TMxTNxTK" for cooperative-matrix ones.
    public static func compactTile(_ t: TileConfig) -> String {
        var s = "\(t.bm)x\(t.bn)x\(t.bk)"
        if t.tm > 0 { s += t.wm > 0 ? "/\(t.wm)x\(t.wn) mma\(t.tm)x\(t.tn)x\(t.tk)" : " mma\(t.tm)x\(t.tn)x\(t.tk)" }
        if t.chunksPerThread > 0 { s += " cpt\(t.chunksPerThread)" }
        return s
    }

    /// Host work longer than this before a case (a pipeline build, say) counts as the GPU going idle.
    public static let longIdleS = 0.05
    /// The least warm-up after such idle time (bounded by the settings' first warm-up).
    public static let rewarmS = 0.5

    /// Times `weights` at M rows with `kernel` (nil: the dispatcher's choice): allocates rotated
    /// activation/output/scratch sets (activations filled on the GPU), records the case once,
    /// warms up with the case itself until two batches agree, then times ≥ `settings.timedS`.
    /// Everything the op needs is inside the timed region (dq8ca: the activation-quantization pass too).
    public static func run(_ weights: BenchWeights, m: Int, kernel: KernelKind?, settings: BenchSettings, ceilings: Ceilings?,
                           pool: ActivationPool, minWarmS: Double? = nil, plan forced: KernelPlan? = nil,
                           buffers: CaseBuffers? = nil) throws -> BenchResult {
        let first = weights.layers[0]
        let ctx = first.context
        let dev = ctx.device
        let p = first.problem(m: m)
        let plan = try forced ?? first.plan(m: m, kernel: kernel)
        let bufs = try buffers ?? CaseBuffers(weights, m: m, settings: settings, pool: pool)
        let sets = bufs.sets, xs = bufs.xs, ys = bufs.ys, scratch = bufs.scratch, userBytes = bufs.userBytes
        let perIteration = plan.dispatches
        // The plan's pipelines are built on first use, and a driver compile can take a second with
        // the GPU idle and its clocks falling: record the case once (never submitted) before the
        // warm-up, and after a long build warm up as after preparing weights (a tuner's short
        // re-warm alone measured a plan compiled just before it 5× slow on the H100).
        let prepareStart = monotonicSeconds()
        do {
            let dry = try CommandStream(device: dev, maxDispatches: perIteration + 2)
            try weights.layers[0].encode(dry, plan: plan, x: BufferBinding(xs[0]), y: BufferBinding(ys[0]), scratch: scratch[0])
        }
        let prepareS = monotonicSeconds() - prepareStart
        let minWarm = max(minWarmS ?? settings.warmupS, prepareS > longIdleS ? min(rewarmS, settings.firstWarmupS) : 0)
        let t = try sustainAndTime(dev, settings, minWarm: minWarm, capWarm: max(settings.warmupCapS, minWarm),
                                   dispatchesPerIteration: perIteration) { st, i in
            let j = i % sets
            try weights.layers[j].encode(st, plan: plan, x: BufferBinding(xs[j]), y: BufferBinding(ys[j]), scratch: scratch[j])
        }
        let times = t.times.map { $0 * 1e6 }
        let med = median(times), lo = times.min()!, hi = times.max()!
        let bytes = Double(userBytes)
        var flags: [String] = []
        if lo < 0.9 * med { flags.append("spread") }
        if !t.stable { flags.append("unstable") }
        // A forced matrix–vector configuration the dispatcher could not use (it fell back to a
        // column kernel): the row times another kernel than the one asked for.
        if ctx.options.gemvConfig != nil, plan.kernel == .gemv, plan.reasons.contains(where: { $0.contains("not applicable") }) {
            flags.append("forced-config-not-used")
        }
        var r = BenchResult(op: p.op, m: m, n: p.n, k: p.k, group: p.op.usesGroups ? p.groupSize : 0, act: p.act, kernel: plan.kernel,
                            shader: plan.shader.rawValue, tile: compactTile(plan.tile), iterations: times.count,
                            medianUs: med, minUs: lo, maxUs: hi, flops: p.flops, rate: p.flops / med / 1e6,
                            rateUnit: p.op.quantizesActivations ? "TOP/s" : "TFLOP/s", bytes: bytes, gbps: bytes / med / 1e3,
                            sets: sets, rotatedBytes: Double(sets * userBytes), warmupS: t.warmupS, warmupStable: t.stable, prepareS: prepareS, flags: flags)
        if let batches = settings.streamBatches, batches > 0 {
            // Back to back, right after the timed runs (clocks still warm): about half a batch of
            // runs per submission, whole rotations of the sets.
            let perRun = max(med * 1e-6, 1e-7)
            let wanted = (Int((settings.batchS / 2 / perRun).rounded(.up)) + sets - 1) / sets * sets
            let layers = max(sets, min(settings.maxBatchIterations / sets * sets, wanted))
            let b2b = try BackToBackStream(dev, iterations: layers, dispatchesPerIteration: perIteration) { st, i in
                let j = i % sets
                try weights.layers[j].encode(st, plan: plan, x: BufferBinding(xs[j]), y: BufferBinding(ys[j]), scratch: scratch[j])
            }
            let per = try (0..<batches).map { _ in try b2b.run() * 1e6 }
            r.streamUs = median(per); r.streamMinUs = per.min()
            r.streamLayers = layers; r.streamBatches = per.count
        }
        if let c = ceilings {
            let bw = c.readGBs > 0 ? c.readGBs : c.copyGBs / 2
            let memUs = bytes / bw / 1e3
            let peak = p.op.quantizesActivations ? c.s8TOPs : c.f16TFLOPs
            let compUs = peak.map { p.flops / $0 / 1e6 }
            let roof = max(memUs, compUs ?? 0)
            r.rooflineUs = roof
            r.pctRoofline = 100 * roof / med
            r.bound = (compUs ?? 0) > memUs ? "compute" : (peak == nil ? "memory (no compute ceiling)" : "memory")
        }
        return r
    }
}
