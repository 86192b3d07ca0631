
/// Push constants shared by all linear kernels (see Shaders/common.glsl). Problem.validate keeps
/// every value below 2^31.
struct LinearPush {
    var m: Int, n: Int, k: Int, g: Int, hasBias: Bool, ldx: Int, ldw: Int
    var kSlice: Int = 0
    var words: [UInt32] { [m, n, k, g, hasBias ? 1 : 0, ldx, ldw, kSlice].map { UInt32(truncatingIfNeeded: $0) } }
}

/// Sizes of a layer's weights: what the user's format holds, and what the GPU layout stores.
public struct WeightBytes: Codable, Sendable, Hashable {
    /// The source format's bytes: fp16 values, or packed INT4/INT8 values plus scales in their
    /// stored dtype (fp16 or fp32). This is what a benchmark's bandwidth figures count.
    public var format: Int
    /// Bytes of the GPU-resident layout (rows padded, scales as fp32, per-group sums and
    /// per-channel corrections for the int8 kernels).
    public var stored: Int
}

/// A linear layer resident on the GPU: y = x·Wᵀ (+ bias) with prepacked weights.
///
/// After upload the layer holds GPU buffers and the metadata it needs — no host copy of the
/// weights. Use `forward` for a host round trip, or `plan(m:)` + `encode` to record into your own
/// `CommandStream` with your own buffers (record once, submit many times).
public final class LinearLayer: @unchecked Sendable {
    public let context: QLinearContext
    public let op: Op
    public let act: DType
    public let n: Int, k: Int, groupSize: Int
    public let hasBias: Bool
    public let weightBytes: WeightBytes
    let ldw: Int
    let wBuf: Buffer
    let sBuf: Buffer
    let sumBuf: Buffer
    let corrBuf: Buffer
    let biasBuf: Buffer
    /// Whether every INT4 group scale is exactly an fp16 value (fp16-scale formats, GGUF) with
    /// 8·|scale| finite in fp16. Then `gemv_mma` may dequantize in packed fp16 with one rounding (as
    /// the fp32 product rounded to fp16), and the prefill forms (`gemm_frag`, `gemm_frag_dq`), which
    /// multiply by the scale in fp16, may run (`plan(m:)` takes the next kernel kind otherwise, and
    /// `encode` refuses them).
    public let scalesAreHalf: Bool
    /// Whether the prefill forms may run on these weights: fp16 weights (no scales), int8 weights
    /// (`gemm_frag_i8` applies the fp32 row scale after its int32 sums), or INT4 weights whose group
    /// scales are all fp16 values (`scalesAreHalf`).
    public var prefillFormAllowed: Bool { op.weightFormat == .f16 || op.weightFormat == .q8 || (op.weightFormat == .q4 && scalesAreHalf) }
    /// What the prefill forms need of the weights (`prefillFormAllowed`), for messages.
    public static let prefillFormCondition = "the f16 prefill forms (gemm_frag, gemm_frag_dq) multiply by the group scale in fp16: they need fp16 or INT4 weights whose every group scale is an fp16 value with 8·|scale| finite in fp16 (the int8 form gemm_frag_i8 does not)"

    /// Uploads `weights` (prepacked for the kernels) and `bias` ([N], held in `act` precision).
    /// `dynamicActivations` selects the dq8ca op for INT4 weights (INT8 weights always use it).
    /// Every input is validated (sizes, finiteness, device limits) before anything is allocated.
    public init(context: QLinearContext, weights: LinearWeights, bias: [Float]? = nil, act: DType = .f16,
                dynamicActivations: Bool = false) throws {
        try weights.validate()
        self.context = context
        self.act = act
        self.n = weights.n; self.k = weights.k; self.groupSize = weights.groupSize
        switch weights {
        case .fp16: op = .fp16
        case .q4gsw: op = dynamicActivations ? .dq8ca_q4gsw : .q4gsw
        case .q8csw: op = .dq8ca_q8csw
        }
        if let bias {
            guard bias.count == n else { throw QLinearError.invalidShape("bias has \(bias.count) values, N = \(n) expected") }
            if let bad = bias.firstIndex(where: { !$0.isFinite }) { throw QLinearError.nonFinite("bias[\(bad)] = \(bias[bad])") }
            if act == .f16, let bad = bias.firstIndex(where: { !Float16($0).isFinite }) {
                throw QLinearError.nonFinite("bias[\(bad)] = \(bias[bad]) overflows fp16 (max 65504)")
            }
        }
        self.hasBias = bias != nil
        try Problem(op: op, m: 1, n: n, k: k, groupSize: groupSize, act: act).validate()
        let caps = context.capabilities
        let plan = try PackedWeights.layout(weights)
        let limit = Int(clamping: caps.maxStorageBufferRange)
        for (what, size) in [("packed weights", plan.wordBytes), ("scales", plan.scaleBytes), ("sums", plan.sumBytes)] where size > limit {
            throw QLinearError.unsupported("\(op.rawValue) N=\(n) K=\(k): \(what) need \(size) bytes, more than the device's maxStorageBufferRange (\(limit))")
        }
        let total = plan.wordBytes + plan.scaleBytes + 2 * plan.sumBytes + n * act.bytes
        if UInt64(total) > caps.deviceLocalMemoryBytes {
            throw QLinearError.unsupported("\(op.rawValue) N=\(n) K=\(k): \(total) bytes of weights exceed the device's \(caps.deviceLocalMemoryBytes) bytes of memory")
        }
        let pk = PackedWeights.pack(weights)
        // (And 8·|scale| finite in fp16: the kernels that use this multiply (q − 8) ∈ [−8, 7] by the
        // scale in fp16, which must not overflow.)
        scalesAreHalf = !pk.scales.isEmpty && pk.scales.allSatisfy { s in
            let h = Float16(s)
            return h.isFinite && Float(h) == s && Float16(8 * s).isFinite
        }
        self.ldw = pk.ldw
        self.weightBytes = WeightBytes(format: weights.formatBytes, stored: total)
        let dev = context.device
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
        if let bias { try biasBuf.write(array: act.encode(bias)) }
    }

    /// The problem this layer computes for M rows.
    public func problem(m: Int) -> Problem {
        Problem(op: op, m: m, n: n, k: k, groupSize: groupSize, act: act, bias: hasBias)
    }

    /// The dispatcher's plan for M rows (`kernel` nil = its choice), or an error with its reasons.
    public func plan(m: Int, kernel: KernelKind? = nil) throws -> KernelPlan {
        let p = problem(m: m)
        try p.validate()
        let decision = context.decide(p, force: kernel)
        guard let plan = decision.chosen else { throw QLinearError.unsupported(decision.why.joined(separator: "; ")) }
        if plan.shader.origin.family.isPrefillForm && !plan.shader.origin.family.usesInt8Fragments && !prefillFormAllowed {
            // The prefill form rounds the scale to fp16: with scales that are not fp16 values, the
            // next kind the dispatcher would choose (a forced matrix–vector kind has none).
            let why = "\(LinearLayer.prefillFormCondition); this layer's weights are not such"
            guard kernel == nil else { throw QLinearError.unsupported("\(why) (gemv was forced)") }
            for kind in [KernelKind.coopmat, .tiled] {
                if case .success(var other)? = decision.candidates[kind] {
                    other.reasons.append("\(why): \(kind.rawValue) instead")
                    return other
                }
            }
            throw QLinearError.unsupported("\(why), and no other kernel can run: \(decision.why.joined(separator: "; "))")
        }
        return plan
    }

    /// Padded K of quantized activations (rows of int8 padded with zeros to a multiple of 32).
    var kp: Int { roundUp(k, 32) }

    /// Bytes the activation buffer must hold for M rows (kernels read 16-byte vectors, so the
    /// size is rounded up to 16).
    public func inputBytes(m: Int) throws -> Int {
        try Checked.roundUp(try Checked.mul(try Checked.mul(m, k, "M·K"), act.bytes, "activation bytes"), 16, "activation bytes")
    }

    /// Bytes the output buffer must hold for M rows.
    public func outputBytes(m: Int) throws -> Int {
        try Checked.mul(try Checked.mul(m, n, "M·N"), act.bytes, "output bytes")
    }

    /// GPU scratch a forward pass needs for up to `m` rows (int8 activations and their
    /// quantization parameters for the dq8ca ops; nothing otherwise).
    public final class Scratch: @unchecked Sendable {
        /// The most rows this scratch serves.
        public let m: Int
        let k: Int, kp: Int, act: DType
        let device: Device
        let xq: Buffer?
        let xp: Buffer?
        /// dq8ca ops: the zeroed counters `gemv_frag_dqs` synchronises its workgroups on (each
        /// dispatch leaves them zero), made on its first use (`syncCounters()`).
        private let syncBuffer = Locked<Buffer?>(nil)
        let dynamicActivations: Bool
        /// Split-K partial sums, grown on demand by `encode` (older buffers stay alive with the
        /// scratch, so streams recorded against them remain valid).
        private let partialBuffers = Locked<[Buffer]>([])
        /// Whether the last `encode` that wrote the int8 rows here did it inside its kernel
        /// (`gemv_dq`, `gemv_frag_dqf[_xs]`, `gemv_frag_dqs`), so a layer reading them through `quantizedBy` must record
        /// a barrier first.
        let quantizedInKernel = Locked<Bool>(false)
        init(layer: LinearLayer, m: Int) throws {
            guard m >= 1 else { throw QLinearError.invalidShape("scratch for M = \(m) rows: M must be ≥ 1") }
            self.m = m; self.k = layer.k; self.kp = layer.kp; self.act = layer.act; self.device = layer.context.device
            if layer.op.quantizesActivations {
                xq = try Buffer(device: layer.context.device, size: try Checked.mul(m, layer.kp, "scratch M·Kp"))
                xp = try Buffer(device: layer.context.device, size: try Checked.mul(m, 8, "scratch qparams"))
            } else { xq = nil; xp = nil }
            dynamicActivations = layer.op.quantizesActivations
        }

        /// The counters of `gemv_frag_dqs` (16 bytes, zeroed by a host write when first made).
        func syncCounters() throws -> Buffer {
            guard dynamicActivations else { throw QLinearError.invalidShape("scratch of a layer that does not quantize its activations has no counters") }
            return try syncBuffer.withLock { b in
                if let b { return b }
                let counters = try Buffer(device: device, size: 16)
                try counters.write(array: [UInt32](repeating: 0, count: 4))
                b = counters
                return counters
            }
        }

        /// A buffer of at least `bytes` for split-K partial sums.
        func partials(bytes: Int) throws -> Buffer {
            try partialBuffers.withLock { list in
                if let last = list.last, last.size >= bytes { return last }
                let b = try Buffer(device: device, size: max(bytes, 16))
                list.append(b)
                return b
            }
        }
    }

    public func makeScratch(m: Int) throws -> Scratch { try Scratch(layer: self, m: m) }

    /// Records one forward pass of `plan` (made for this layer: `plan(m:)`): x [M,K] in `x` (act
    /// dtype, padded to 16 bytes), y [M,N] into `y`. Checks the plan against the layer, M against
    /// the kernel's limit, every buffer's size and device, and the scratch; throws with the numbers.
    ///
    /// `quantizedBy` (dq8ca ops): the scratch of another layer whose `encode` for the same x was
    /// recorded earlier in this stream — this layer then reads the int8 rows and parameters that
    /// layer's quantization pass wrote instead of recording its own (q/k/v, or gate/up, share one
    /// pass). Its layer must have this layer's K, padded K and activation dtype.
    public func encode(_ stream: CommandStream, plan: KernelPlan, x: BufferBinding, y: BufferBinding, scratch: Scratch,
                       quantizedBy shared: Scratch? = nil) throws {
        let p = plan.problem
        let m = p.m
        let mine = problem(m: m)
        guard p == mine else { throw QLinearError.invalidShape("plan was made for \(p), this layer computes \(mine)") }
        try p.validate()
        let family = plan.shader.origin.family
        let expected: Set<KernelFamily>
        switch plan.kernel {
        case .tiled: expected = [.tiledFloat, .tiledInt]
        case .coopmat: expected = plan.splitK > 1 ? [.coopmatFloatSplitk, .coopmatIntSplitk] : [.coopmatFloat, .coopmatInt, .coopmatDirect]
        case .gemv: expected = plan.splitK > 1 ? [.gemvMmaSplitk] : [.gemvFloat, .gemvInt, .gemvQ4F16Math, .gemvQ4Xreg, .gemvQ4Sg, .gemvMma, .gemvDq, .gemvFrag, .gemvFragDq, .gemvFragDqf, .gemvFragDqfXs, .gemvFragDqs, .gemvFragXs, .gemvFragDqXs, .gemmFrag, .gemmFragDq, .gemmFragI8]
        }
        guard expected.contains(family) else { throw QLinearError.invalidShape("plan's shader \(plan.shader.rawValue) is not a \(plan.kernel.rawValue) kernel") }
        if let maxM = family.maxM, m > maxM {
            throw QLinearError.invalidShape("\(plan.shader.rawValue) handles at most M = \(maxM) rows, plan has M = \(m)")
        }
        guard plan.quantShader != nil || !op.quantizesActivations || (plan.quantFused && family.quantizesInKernel) else {
            throw QLinearError.invalidShape("\(op.rawValue) needs an activation-quantization shader in its plan")
        }
        guard plan.quantFused == family.quantizesInKernel, !plan.quantFused || plan.quantShader == nil else {
            throw QLinearError.invalidShape("plan's quantFused (\(plan.quantFused)) does not match its shader \(plan.shader.rawValue)")
        }
        try check(x, "x", bytes: try inputBytes(m: m))
        try check(y, "y", bytes: try outputBytes(m: m))
        guard stream.device === context.device else { throw QLinearError.invalidShape("the stream belongs to another device than this layer") }
        guard scratch.device === context.device else { throw QLinearError.invalidShape("scratch belongs to another device") }
        guard scratch.k == k else { throw QLinearError.invalidShape("scratch was made for a layer with K = \(scratch.k), this layer has K = \(k)") }
        guard scratch.m >= m else { throw QLinearError.invalidShape("scratch serves \(scratch.m) rows, plan has M = \(m)") }
        if let shared {
            guard op.quantizesActivations, shared.xq != nil, shared.xp != nil else {
                throw QLinearError.invalidShape("quantizedBy: \(op.rawValue) does not quantize its activations, or the shared scratch has no int8 rows")
            }
            guard shared.device === context.device, shared.k == k, shared.kp == kp, shared.act == act, shared.m >= m else {
                throw QLinearError.invalidShape("quantizedBy: the shared scratch (K = \(shared.k), padded \(shared.kp), \(shared.act.rawValue), \(shared.m) rows) does not match this layer (K = \(k), padded \(kp), \(act.rawValue), M = \(m))")
            }
        }
        let quantSource = shared ?? scratch
        var t = plan.tile
        if family == .gemvMma || family == .gemvMmaSplitk {
            // The kernel stages TN rows of x, K steps of BK = 32·unroll and BN = 16·RN weight rows.
            guard [8, 16].contains(t.tn), t.tn >= m, t.tm == 16, t.tk == 16, [16, 32, 64, 128].contains(t.bn), [32, 64, 128].contains(t.bk) else {
                throw QLinearError.invalidShape("\(plan.shader.rawValue): tile \(t.bn)x\(t.bk), MMA \(t.tm)x\(t.tn)x\(t.tk) cannot compute M = \(m)")
            }
            let sgs = max(t.subgroupSize, 1)
            let shared = (t.workgroupSize / sgs) * (t.bn + t.tn) * (t.bk + 8) * 2
            guard t.workgroupSize % sgs == 0, t.workgroupSize / sgs <= 16, shared <= context.capabilities.sharedMemoryBytes else {
                throw QLinearError.invalidShape("\(plan.shader.rawValue): \(t.workgroupSize) threads in subgroups of \(sgs) need \(shared) bytes of shared memory (device: \(context.capabilities.sharedMemoryBytes))")
            }
            t.halfScales = scalesAreHalf ? 1 : 0
        }
        if family.isRegisterFragment {
            // Written for 32-lane subgroups and the mma16816 fragment layout, which this context's
            // self-test must have probed; whole 128-value blocks, one group each; the variant of
            // this layer's op and activation dtype.
            let caps = context.capabilities
            let nsg = t.workgroupSize / 32
            let dq = op.quantizesActivations
            let staged = family.stagesX
            let gemm = family.isPrefillForm
            let int8 = family == .gemmFragI8
            let sync = family.usesSyncCounters
            let fused = family.quantizesInKernel && !sync
            // (gemv_frag_dqf / gemv_frag_dqs: the fp64 variant wherever the device has fp64, as for gemv_dq.)
            let variant = ShaderID.lookup(VariantKey(family: .registerFragment(dq: dq, staged: staged, gemm: gemm, int8: int8, fused: fused, sync: sync), weight: op.weightFormat, act: act,
                                                     features: (fused || sync) && caps.shaderFloat64 ? [.fp64] : []))
            let shared = Dispatcher.fragSharedBytes(workgroup: t.workgroupSize, tiles: t.subgroupColumns, tn: t.tn, split: t.subgroupSplit, xTiles: t.xTiles != 0, staged: staged ? t.prefetch : 0, gemm: gemm, bLoad: t.bLoad != 0, int8: int8, kBlock: t.bk, fused: fused, sync: sync)
            // (gemm_frag / gemm_frag_dq: 32 or 64 x rows, gemm_frag_i8 also 128; one block in flight,
            // K not split; gemm_frag_i8 — dq8ca_q8csw, dq8ca_q4gsw where configured — B by
            // coopMatLoad, x stored after the block, 128- or 256-value blocks, the probed int8 layout.)
            if gemm && !int8 && !prefillFormAllowed {
                throw QLinearError.invalidShape("\(plan.shader.rawValue): \(LinearLayer.prefillFormCondition); this layer's weights are not such (plan with LinearLayer.plan, which picks another kernel)")
            }
            let layoutOK = int8 ? context.options.int8FragmentLayout == .mma16832s8 && t.tk == 32 && t.bLoad == 1 && t.xStoreStep == 0
                                    && [128, 256].contains(t.bk) && (op == .dq8ca_q8csw ? kp : k) % t.bk == 0
                                    && (op == .dq8ca_q8csw || (op == .dq8ca_q4gsw && t.weightHalves == 0))
                                : context.options.fragmentLayout == .mma16816 && t.tk == 16 && t.bk == 128
            let tnOK = gemm ? (int8 ? [32, 64, 128] : [32, 64]).contains(t.tn) && t.prefetch == 1 && (t.subgroupSplit == 1 || (int8 && [2, 4].contains(t.subgroupSplit) && (t.tn / 8) % t.subgroupSplit == 0)) && [0, 1].contains(t.bLoad) && (0...8).contains(t.xStoreStep) && [0, 1].contains(t.weightHalves) && (t.bLoad == 1 || (t.weightHalves == 0 && t.xStoreStep != 8)) : [8, 16, 32].contains(t.tn) && t.bLoad == 0 && t.xStoreStep == 0 && t.weightHalves == 0
            let ok = (op.weightFormat != .q4 || groupSize % 128 == 0) && (op != .dq8ca_q8csw || k <= 65536) && tnOK && t.xTiles == (m > t.tn ? 1 : 0) && t.bm == t.tn && t.tm == 16 && layoutOK && t.subgroupSize == 32
                && FragmentLayout.runsAt32(caps) && t.requireSubgroupSize == caps.canRequireSubgroupSize
                && [1, 2, 4].contains(t.subgroupColumns) && [1, 2].contains(t.prefetch) && [32, 64, 128, 256, 512].contains(t.workgroupSize)
                && t.workgroupSize <= caps.maxWorkgroupInvocations && t.workgroupSize <= caps.maxWorkgroupSize[0]
                && t.subgroupSplit >= 1 && nsg % t.subgroupSplit == 0 && t.bn == (nsg / t.subgroupSplit) * t.subgroupColumns * 16
                && k % 128 == 0 && (shared.map { $0 <= caps.sharedMemoryBytes } ?? false)
                && plan.shader == variant && plan.splitK == 1
            guard ok else {
                throw QLinearError.invalidShape("\(plan.shader.rawValue): tile \(t.bm)x\(t.bn), \(t.subgroupColumns) tiles per subgroup, \(t.workgroupSize) threads, \(t.subgroupSplit) subgroup(s) per tile group (K or x rows split) cannot compute \(op.rawValue) M = \(m), K = \(k), group \(groupSize) here (needs 32-lane subgroups, the probed fragment layout — mma16816, or mma16832s8 for the int8 form —, groups of a multiple of 128, the variant for this op and dtype)")
            }
        }
        guard t.bm >= 1, t.bn >= 1 else { throw QLinearError.invalidShape("plan's tile \(t.bm)x\(t.bn) has a dimension below 1") }
        if (family == .coopmatInt || family == .coopmatIntSplitk) && op == .dq8ca_q4gsw {
            // coopmat_int's INT4 path: 16-byte loads of 32 values and whole groups per K step.
            guard [32, 64].contains(t.bk), groupSize % 32 == 0, groupSize % t.bk == 0 else {
                throw QLinearError.invalidShape("\(plan.shader.rawValue): INT4 steps need a K step of 32 or 64 dividing the group size, a multiple of 32 (group \(groupSize), K step \(t.bk))")
            }
        }
        if t.q4Pieces != 0 {
            // 16-byte INT4 loads of 32 values with one scale each: whole groups, aligned rows.
            guard t.q4Pieces == 1, family == .coopmatFloat || family == .coopmatFloatSplitk, op == .q4gsw,
                  groupSize % 32 == 0, k % 32 == 0, t.bk % 32 == 0 else {
                throw QLinearError.invalidShape("\(plan.shader.rawValue): 32-value INT4 loads need q4gsw with group size, K and K step multiples of 32 (group \(groupSize), K = \(k), K step \(t.bk))")
            }
        }
        if family == .gemvQ4Sg {
            // The shader stages BM rows of KC chunks (64 bytes each) and gives each subgroup R of
            // the workgroup's BN columns at a time: check what the dispatcher guarantees.
            let chunks = (k + 31) / 32
            let sgs = max(t.subgroupSize, 1)
            let shape = t.bm >= m && t.bm <= 8 && (1...8).contains(t.subgroupColumns) && t.bn % t.subgroupColumns == 0 && t.bk >= 1
                && (1...16).contains(t.subgroupSplit) && (t.activationsL1 == 1 || t.stagedChunks >= chunks) && t.workgroupSize >= sgs
            // KS > 1: whole passes of WG/SGS/KS column groups (BN·KS a multiple of R·WG/SGS).
            let (bnKS, o1) = t.bn.multipliedReportingOverflow(by: max(t.subgroupSplit, 1))
            let (perPass, o2) = max(t.subgroupColumns, 1).multipliedReportingOverflow(by: t.workgroupSize / sgs)
            let split = shape && (t.subgroupSplit == 1 || (t.requireSubgroupSize && t.workgroupSize % sgs == 0 && (t.workgroupSize / sgs) % t.subgroupSplit == 0
                && !o1 && !o2 && perPass > 0 && bnKS % perPass == 0))
            let shared = Dispatcher.sgSharedBytes(m: t.bm, chunks: t.activationsL1 == 1 ? 0 : t.stagedChunks, workgroup: t.workgroupSize, subgroup: sgs,
                                                  columns: t.subgroupColumns, split: t.subgroupSplit)
            guard shape, split, let shared, shared <= context.capabilities.sharedMemoryBytes else {
                throw QLinearError.invalidShape("\(plan.shader.rawValue): tile \(t.bm)x\(t.bn)x\(t.bk), \(t.subgroupColumns) columns per subgroup, \(t.stagedChunks) staged chunks cannot compute M = \(m), K = \(k) within \(context.capabilities.sharedMemoryBytes) bytes of shared memory")
            }
        }
        if family == .gemvDq {
            // The shader stages BM int8 rows of KC chunks and gives each subgroup R of the
            // workgroup's BN columns at a time; it needs the subgroup size it was built for.
            let chunks = (k + 31) / 32
            let caps = context.capabilities
            // The shader's subgroup count (WG / SGS) sizes its reductions: the plan's subgroup
            // size must be one the device can require, the workgroup within the device's limits,
            // and the variant the one for this layer's weights and activations on this device.
            let sgs = t.subgroupSize
            guard sgs >= 1, sgs >= caps.minSubgroupSize, sgs <= caps.maxSubgroupSize, sgs & (sgs - 1) == 0,
                  t.workgroupSize >= 1, t.workgroupSize <= caps.maxWorkgroupInvocations, t.workgroupSize <= caps.maxWorkgroupSize[0] else {
                throw QLinearError.invalidShape("\(plan.shader.rawValue): subgroups of \(t.subgroupSize) (device: \(caps.minSubgroupSize)…\(caps.maxSubgroupSize)) in \(t.workgroupSize)-thread workgroups (device: ≤ \(min(caps.maxWorkgroupInvocations, caps.maxWorkgroupSize[0]))) cannot run here")
            }
            let weight: WeightFormat = op == .dq8ca_q4gsw ? .q4 : .q8
            let variants = [ShaderID.lookup(VariantKey(family: .gemvDq, weight: weight, act: act, features: [.dot])),
                            caps.shaderFloat64 ? ShaderID.lookup(VariantKey(family: .gemvDq, weight: weight, act: act, features: [.dot, .fp64])) : nil]
            guard caps.integerDotProduct, variants.contains(plan.shader) else {
                throw QLinearError.invalidShape("\(plan.shader.rawValue) is not the fused decode kernel for \(op.rawValue) with \(act.rawValue) activations on this device")
            }
            let q4 = op == .dq8ca_q4gsw
            let shape = t.bm >= m && t.bm <= 8 && (1...8).contains(t.subgroupColumns) && t.bn % t.subgroupColumns == 0 && t.bk >= 1
                && (1...16).contains(t.subgroupSplit) && t.stagedChunks >= chunks && t.workgroupSize >= sgs && t.workgroupSize % sgs == 0
                && t.requireSubgroupSize && (t.workgroupSize / sgs) % t.subgroupSplit == 0 && context.capabilities.canRequireSubgroupSize
                && (!q4 || (t.group == groupSize && groupSize % 32 == 0 && k % groupSize == 0))
            let (bnKS, o1) = t.bn.multipliedReportingOverflow(by: max(t.subgroupSplit, 1))
            let (perPass, o2) = max(t.subgroupColumns, 1).multipliedReportingOverflow(by: t.workgroupSize / sgs)
            let split = t.subgroupSplit == 1 || (!o1 && !o2 && perPass > 0 && bnKS % perPass == 0)
            let shared = Dispatcher.dqSharedBytes(m: t.bm, chunks: t.stagedChunks, workgroup: t.workgroupSize, subgroup: sgs,
                                                  columns: t.subgroupColumns, split: t.subgroupSplit, q4: q4)
            guard shape, split, let shared, shared <= context.capabilities.sharedMemoryBytes, scratch.xq != nil, scratch.xp != nil else {
                throw QLinearError.invalidShape("\(plan.shader.rawValue): tile \(t.bm)x\(t.bn)x\(t.bk), \(t.subgroupColumns) columns per subgroup, \(t.stagedChunks) staged chunks, group \(t.group) cannot compute M = \(m), K = \(k), group \(groupSize) within \(context.capabilities.sharedMemoryBytes) bytes of shared memory")
            }
        }
        if family == .coopmatDirect {
            // Fragments built in registers for the probed layout mma16816 (16×8×16, 32 lanes):
            // whole 16-row A and 8-row B fragments per subgroup, whole 32-value K blocks, the
            // variant for this layer's weights and activations, one register set or two.
            let caps = context.capabilities
            let variant = ShaderID.lookup(VariantKey(family: .coopmatDirect, weight: op.weightFormat, act: act))
            // (Every dimension within 1…1024 before any arithmetic on it: a hand-made plan is input.)
            let sane = [t.bm, t.bn, t.wm, t.wn].allSatisfy { (1...1024).contains($0) } && (1...1024).contains(t.workgroupSize)
            let ok = sane && op == .fp16 && context.options.fragmentLayout == .mma16816 && FragmentLayout.runsAt32(caps)
                && t.subgroupSize == 32 && t.requireSubgroupSize == caps.canRequireSubgroupSize && t.tm == 16 && t.tn == 8 && t.tk == 16
                && t.wm >= 1 && t.wn >= 1 && t.bm % t.wm == 0 && t.bn % t.wn == 0 && (t.bm / t.wm) % 16 == 0 && (t.bn / t.wn) % 8 == 0
                && [32, 64].contains(t.bk) && t.buffers == 0 && [1, 2].contains(t.prefetch) && (1...64).contains(t.swizzle)
                && t.sharedBytes(kind: .coopmat, op: op) <= caps.sharedMemoryBytes
                && t.workgroupSize == t.wm * t.wn * 32 && t.workgroupSize <= caps.maxWorkgroupInvocations && t.workgroupSize <= caps.maxWorkgroupSize[0]
                && Dispatcher.directRegisters(t, sets: t.prefetch) <= 240
                && plan.shader == variant && plan.splitK == 1
            guard ok else {
                throw QLinearError.invalidShape("\(plan.shader.rawValue): tile \(t.bm)x\(t.bn)x\(t.bk) over \(t.wm)x\(t.wn) subgroups of \(t.subgroupSize), MMA \(t.tm)x\(t.tn)x\(t.tk), \(t.prefetch) register set(s) cannot compute \(op.rawValue) here (needs fp16 weights, 32-lane subgroups, the probed fragment layout mma16816, subgroup tiles of whole 16×8 fragments, a K step of 32 or 64, staged x rows within shared memory, arrays within 240 registers, no split-K)")
            }
        }
        if family == .gemvQ4Xreg {
            // The shader clamps M to BM, drops columns when BK does not divide BN and reduces
            // BM·BK sums with power-of-two steps: check what the dispatcher guarantees.
            let v = t.bm * t.bk
            guard t.bm >= m, t.bk >= 1, t.bn % t.bk == 0, v <= 32, v & (v - 1) == 0, (1...2).contains(t.chunksPerThread) else {
                throw QLinearError.invalidShape("\(plan.shader.rawValue): tile \(t.bm)x\(t.bn)x\(t.bk), \(t.chunksPerThread) chunks per thread cannot compute M = \(m) (needs BM ≥ M, BK dividing BN, BM·BK a power of two ≤ 32, 1…2 chunks)")
            }
        }
        var groups: (Int, Int, Int)
        switch family.grid {
        case .tiles: groups = ((n - 1) / t.bn + 1, (m - 1) / t.bm + 1, 1)
        case .columns: groups = ((n - 1) / t.bn + 1, 1, 1)
        case .rows: groups = (m, 1, 1)
        case .elements, .fixed: throw QLinearError.unsupported("\(plan.shader.rawValue) is not a linear kernel")
        }
        if family.isRegisterFragment {
            // ⌈M / TN⌉ workgroups per row group along x (the x row tiles of one row group adjacent).
            groups.0 = try Checked.product([groups.0, (m - 1) / t.bm + 1], "register-fragment workgroups")
        }
        let limit = context.capabilities.maxWorkgroupCount
        guard groups.0 <= limit[0], groups.1 <= limit[1] else {
            throw QLinearError.unsupported("\(plan.shader.rawValue): \(groups.0)x\(groups.1) workgroups exceed the device's limits \(limit[0])x\(limit[1])")
        }
        // Split-K: slices along z, partials in scratch, a reduction pass (checked up front).
        var reducePass: (pipe: ComputePipeline, buffers: [BufferBinding], push: LinearPush, groups: (Int, Int, Int))?
        var partials: Buffer?
        if plan.splitK > 1 {
            guard plan.kernel == .coopmat || family == .gemvMmaSplitk, let red = plan.reduceShader, plan.kSlice > 0 else {
                throw QLinearError.invalidShape("split-K plan needs a cooperative-matrix or tensor-core matrix–vector kernel, a reduction shader and a K slice")
            }
            let kLoop = op == .dq8ca_q8csw ? kp : k
            guard plan.kSlice % t.bk == 0, (kLoop + plan.kSlice - 1) / plan.kSlice == plan.splitK,
                  op != .dq8ca_q4gsw || plan.kSlice % groupSize == 0 else {
                throw QLinearError.invalidShape("split-K plan: \(plan.splitK) slices of \(plan.kSlice) do not cover K = \(kLoop) in steps of \(t.bk)")
            }
            guard plan.splitK <= limit[2] else { throw QLinearError.unsupported("\(plan.splitK) split-K slices exceed the device's \(limit[2]) workgroups along z") }
            let bytes = try Checked.product([plan.splitK, m, n, 4], "split-K partials")
            guard UInt64(bytes) <= context.capabilities.maxStorageBufferRange else {
                throw QLinearError.unsupported("split-K partials need \(bytes) bytes, more than maxStorageBufferRange (\(context.capabilities.maxStorageBufferRange))")
            }
            let pbuf = try scratch.partials(bytes: bytes)
            partials = pbuf
            let total = (m * n + SplitKReduce.workgroupSize - 1) / SplitKReduce.workgroupSize
            let gx = min(total, limit[0])
            let gy = (total + gx - 1) / gx
            guard gy <= limit[1] else { throw QLinearError.unsupported("split-K reduction of \(m * n) elements exceeds the device's workgroup limits") }
            var rnamed: [String: BufferBinding] = ["PBuf": BufferBinding(pbuf), "BiasBuf": BufferBinding(biasBuf), "YBuf": y, "CorrBuf": BufferBinding(corrBuf)]
            if let xp = quantSource.xp { rnamed["XPBuf"] = BufferBinding(xp) }
            reducePass = (try context.pipelines.reducePipeline(red), try bind(red, rnamed),
                          LinearPush(m: m, n: n, k: plan.splitK, g: 0, hasBias: hasBias, ldx: 0, ldw: 0), (gx, gy, 1))
        }
        // Everything that can fail is resolved before the first command is recorded, so a failed
        // encode leaves the stream as it was.
        var named: [String: BufferBinding] = ["WBuf": BufferBinding(wBuf), "SBuf": BufferBinding(sBuf), "BiasBuf": BufferBinding(biasBuf), "YBuf": y,
                                              "SumBuf": BufferBinding(sumBuf), "CorrBuf": BufferBinding(corrBuf)]
        if let partials { named["PBuf"] = BufferBinding(partials) }
        var push: LinearPush
        var quantPass: (pipe: ComputePipeline, buffers: [BufferBinding], push: LinearPush)?
        var barrierFirst = false
        if plan.quantFused {
            // The kernel quantizes x itself and leaves the int8 rows in this layer's scratch for
            // layers that share it (gemv_dq and gemv_frag_dqf: its first workgroup along N;
            // gemv_frag_dqs: the workgroups that claim them); a shared scratch is not read.
            guard let xq = scratch.xq, let xp = scratch.xp else { throw QLinearError.invalidShape("scratch lacks int8 activation buffers") }
            named["XBuf"] = x
            named["XQBuf"] = BufferBinding(xq); named["XPBuf"] = BufferBinding(xp)
            if family.usesSyncCounters {
                // gemv_frag_dqs: its workgroups' counters (zero between dispatches: the last
                // workgroup of each dispatch resets them).
                named["SyncBuf"] = BufferBinding(try scratch.syncCounters())
            }
            push = LinearPush(m: m, n: n, k: k, g: op == .dq8ca_q4gsw ? groupSize : 0, hasBias: hasBias, ldx: k, ldw: ldw)
        } else if op.quantizesActivations {
            guard let xq = quantSource.xq, let xp = quantSource.xp, let qs = plan.quantShader else { throw QLinearError.invalidShape("scratch lacks int8 activation buffers") }
            // Rows a fused kernel wrote are written by that kernel, not by a pass this layer's
            // barrier follows: wait for it before reading them.
            if let shared { barrierFirst = shared.quantizedInKernel.withLock { $0 } }
            if shared == nil {
                let limit = QuantAct.maxThreads(context.device.capabilities)
                guard plan.quantThreads >= 1, plan.quantThreads <= limit, plan.quantChunks >= 0, plan.quantChunks <= QuantAct.maxChunks else {
                    throw QLinearError.invalidShape("plan's activation quantization (\(plan.quantThreads) threads, \(plan.quantChunks) register steps) is outside 1…\(limit) threads and 0…\(QuantAct.maxChunks) steps")
                }
                let qpipe = try context.pipelines.quantPipeline(qs, threads: plan.quantThreads, chunks: plan.quantChunks)
                let qpush = LinearPush(m: m, n: 0, k: k, g: 0, hasBias: false, ldx: k, ldw: kp / 4)
                quantPass = (qpipe, try bind(qs, ["XBuf": x, "XQBuf": BufferBinding(xq), "XPBuf": BufferBinding(xp)]), qpush)
            }
            named["XQBuf"] = BufferBinding(xq); named["XPBuf"] = BufferBinding(xp)
            // Q8: one group spanning the padded K; Q4: groups of groupSize over the real K.
            let kk = op == .dq8ca_q8csw ? kp : k
            let g = op == .dq8ca_q8csw ? kp : groupSize
            push = LinearPush(m: m, n: n, k: kk, g: g, hasBias: hasBias, ldx: kp / 4, ldw: ldw)
        } else {
            named["XBuf"] = x
            push = LinearPush(m: m, n: n, k: k, g: max(groupSize, 1), hasBias: hasBias, ldx: k, ldw: ldw)
        }
        if plan.splitK > 1 { push.kSlice = plan.kSlice }
        var tiled = plan
        tiled.tile = t
        let pipe = try context.pipelines.pipeline(for: tiled)
        let buffers = try bind(plan.shader, named)
        if barrierFirst { try stream.barrier() }
        if let q = quantPass {
            try stream.dispatch(q.pipe, buffers: q.buffers, push: q.push.words, groups: (m, 1, 1))
            try stream.barrier()
        }
        try stream.dispatch(pipe, buffers: buffers, push: push.words, groups: (groups.0, groups.1, plan.splitK))
        if let r = reducePass {
            try stream.barrier()
            try stream.dispatch(r.pipe, buffers: r.buffers, push: r.push.words, groups: r.groups)
        }
        // Who wrote this scratch's int8 rows, once everything is recorded (a failed encode leaves
        // the previous writer's flag).
        if op.quantizesActivations && shared == nil || plan.quantFused { scratch.quantizedInKernel.withLock { $0 = plan.quantFused } }
    }

    /// The buffers for `shader`'s bindings, in its order, by block name.
    private func bind(_ shader: ShaderID, _ named: [String: BufferBinding]) throws -> [BufferBinding] {
        try shader.signature.bindings.map { b in
            guard let v = named[b.block] else { throw QLinearError.unsupported("\(shader.rawValue): nothing to bind to \(b.block)") }
            return v
        }
    }

    private func check(_ b: BufferBinding, _ name: String, bytes: Int) throws {
        guard b.buffer.device === context.device else { throw QLinearError.invalidShape("\(name) buffer belongs to another device") }
        let align = context.capabilities.minStorageBufferOffsetAlignment
        guard b.offset >= 0, b.offset <= b.buffer.size, align <= 1 || b.offset % align == 0 else {
            throw QLinearError.invalidShape("\(name) binding offset \(b.offset) is outside the \(b.buffer.size)-byte buffer or not a multiple of \(align)")
        }
        let available = b.size ?? (b.buffer.size - b.offset)
        guard available >= 0, available <= b.buffer.size - b.offset else {
            throw QLinearError.invalidShape("\(name) binding [\(b.offset), +\(available)) exceeds its \(b.buffer.size)-byte buffer")
        }
        guard available >= bytes else { throw QLinearError.invalidShape("\(name) binding has \(available) bytes, \(bytes) needed") }
        guard UInt64(available) <= context.capabilities.maxStorageBufferRange else {
            throw QLinearError.unsupported("\(name) binding of \(available) bytes exceeds maxStorageBufferRange (\(context.capabilities.maxStorageBufferRange))")
        }
    }

    /// The result of a forward pass run from host memory.
    public struct Output: Sendable {
        public var y: [Float]
        public var plan: KernelPlan
        /// dq8ca ops: the int8 activations [M, K], per-row scales and zero points the GPU computed.
        public var activations: (q: [Int8], scale: [Float], zeroPoint: [Int32])?
    }

    /// Runs y = x·Wᵀ (+ bias) for x [M, K] given as Float values (rounded to `act` on upload).
    /// `kernel` nil = dispatcher's choice.
    public func forward(_ x: [Float], m: Int, kernel: KernelKind? = nil) throws -> Output {
        guard try x.count == Checked.mul(m, k, "M·K") else { throw QLinearError.invalidShape("x has \(x.count) values, M·K = \(m)·\(k) expected") }
        if let bad = x.firstIndex(where: { !$0.isFinite }) { throw QLinearError.nonFinite("x[\(bad / k), \(bad % k)] = \(x[bad])") }
        if act == .f16, let bad = x.firstIndex(where: { !Float16($0).isFinite }) {
            throw QLinearError.nonFinite("x[\(bad / k), \(bad % k)] = \(x[bad]) overflows fp16 (max 65504)")
        }
        return try forward(bytes: act.encode(x).withUnsafeBytes { Array($0.prefix(x.count * act.bytes)) }, m: m, kernel: kernel)
    }

    /// Runs the layer on activations given as raw little-endian bytes of `act` (M·K·act.bytes
    /// bytes; fp16 activations are uploaded without widening to Float).
    public func forward(bytes: [UInt8], m: Int, kernel: KernelKind? = nil) throws -> Output {
        guard m >= 1 else { throw QLinearError.invalidShape("M must be ≥ 1 (got \(m))") }
        let need = try Checked.mul(try Checked.mul(m, k, "M·K"), act.bytes, "activation bytes")
        guard bytes.count == need else { throw QLinearError.invalidShape("x has \(bytes.count) bytes, M·K·\(act.bytes) = \(need) expected") }
        if let bad = act.firstNonFinite(bytes) { throw QLinearError.nonFinite("x[\(bad.index / k), \(bad.index % k)] = \(bad.value)") }
        if op.quantizesActivations, act == .f32, let row = DType.firstRangeOverflow(bytes, m: m, k: k) {
            throw QLinearError.nonFinite("x row \(row): max − min (with 0 included) overflows fp32, so the row's dq8ca scale (max − min)/255 would be infinite")
        }
        let plan = try plan(m: m, kernel: kernel)
        let dev = context.device
        let xb = try Buffer(device: dev, size: try inputBytes(m: m))
        try xb.write(array: bytes)
        let yb = try Buffer(device: dev, size: roundUp(try outputBytes(m: m), 4))
        let scratch = try makeScratch(m: m)
        let s = try CommandStream(device: dev)
        try encode(s, plan: plan, x: BufferBinding(xb), y: BufferBinding(yb), scratch: scratch)
        try s.submitAndWait()
        let y = try act.decode(yb, count: m * n)
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

    /// Reads back the int8 activations and qparams a dq8ca pass left in `scratch` (M rows), for checking.
    public func activations(in scratch: Scratch, m: Int) throws -> (q: [Int8], kp: Int, params: [UInt32])? {
        guard let xq = scratch.xq, let xp = scratch.xp, m >= 1, m <= scratch.m else { return nil }
        return (try xq.read(as: Int8.self, count: m * kp), kp, try xp.read(as: UInt32.self, count: 2 * m))
    }
}

extension DType {
    /// Values → the little-endian bytes of this dtype, as 32-bit words (zero-padded).
    public func encode(_ v: [Float]) -> [UInt32] {
        switch self {
        case .f32: return v.map { $0.bitPattern }
        case .f16:
            var out = [UInt32](repeating: 0, count: (v.count + 1) / 2)
            for i in 0..<v.count { out[i / 2] |= UInt32(Float16(v[i]).bitPattern) << (16 * UInt32(i % 2)) }
            return out
        }
    }

    /// The first value of little-endian `bytes` of this dtype that is NaN or ±inf, if any.
    public func firstNonFinite(_ bytes: [UInt8]) -> (index: Int, value: Float)? {
        bytes.withUnsafeBytes { raw in
            switch self {
            case .f32:
                for i in 0..<(raw.count / 4) {
                    let v = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                    if !v.isFinite { return (i, v) }
                }
            case .f16:
                for i in 0..<(raw.count / 2) {
                    let v = Float16(bitPattern: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
                    if !v.isFinite { return (i, Float(v)) }
                }
            }
            return nil
        }
    }

    /// The first of `m` rows of `k` finite fp32 values (little-endian bytes) whose range
    /// max(max x, 0) − min(min x, 0) overflows fp32, or nil. The dq8ca quantization divides that
    /// range by 255; an infinite range has no meaningful scale (the GPU's exact division and the
    /// reference would disagree), so such rows are rejected (fp16 rows cannot overflow).
    public static func firstRangeOverflow(_ bytes: [UInt8], m: Int, k: Int) -> Int? {
        bytes.withUnsafeBytes { raw in
            guard m >= 1, k >= 1, raw.count / 4 / k >= m else { return nil }
            for r in 0..<m {
                var lo: Float = 0, hi: Float = 0
                for i in (r * k)..<(r * k + k) {
                    let v = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                    lo = Swift.min(lo, v); hi = Swift.max(hi, v)
                }
                if !(hi - lo).isFinite { return r }
            }
            return nil
        }
    }

    /// `count` values of this dtype from `buffer` at byte `offset`, as Float.
    public func decode(_ b: Buffer, count: Int, offset: Int = 0) throws -> [Float] {
        switch self {
        case .f32: return try b.read(as: Float.self, count: count, offset: offset)
        case .f16: return try b.read(as: Float16.self, count: count, offset: offset).map(Float.init)
        }
    }
}
