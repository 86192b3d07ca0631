#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import QLinear
import QLinearReference

/// How far a kernel's output may be from the fp64 reference, and why.
///
/// The bound is deterministic (worst case), per output element, from standard floating-point
/// error analysis with unit roundoff u32 = 2^-24 (fp32) and u16 = 2^-11 (fp16):
///   |y_gpu − y_ref| ≤ S · (r · u16 + (t + 3) · u32 + r · u16 · t · u32) + ulp_out(|y_ref|)
/// - S is the reference's magnitude: Σ_k |x_k·w_k| + |b| for float ops; for dq8ca ops
///   |sx|·Σ_g |ws_g · (Σ qx·qw − zp·Σ qw)_g| + |b| (the integer sums themselves are exact); the
///   cooperative-matrix dq8ca kernels subtract zp·Σ_g ws_g·Σqw once after the K loop, so theirs is
///   |sx|·(Σ_g |ws_g·Σ qx·qw| + |zp|·Σ_g |ws_g·Σ qw|) + |b| (ReferenceResult.splitMagnitude); the
///   matrix–vector kernel scales each 32-value chunk, so for dq8ca_q4gsw its S uses chunk sums
///   (ReferenceResult.chunkMagnitude) and t = K/32 + 1. Split-K plans (slices of whole 32-value
///   chunks, each converted and scaled on its own, then added) use the chunk magnitude and add
///   splitK + 1 to t. The prefill form for dq8ca_q4gsw (`gemm_frag_dq`) rounds each (q − 8)·scale to
///   fp16 and sums every product in fp32: S = |sx|·Σ_k |ws·qw·(qx − zp)| + |b|
///   (ReferenceResult.termMagnitude), r = 1, t = K. The int8 prefill form (`gemm_frag_i8`) sums
///   exactly in int32 and subtracts the correction at the end: for int8 weights over all of K (the
///   split magnitude, t = 2); for INT4 per 128-value block, × the scale and added in fp32 (t =
///   K/128 + 1, the chunk magnitude: a group of 256 is two blocks, and when their sums cancel the
///   group magnitude does not bound the two roundings — H100, session 15).
/// - t is the number of fp32 additions in the longest accumulation chain: K for float ops
///   (any summation order: recursive-summation bound), the number of groups for dq8ca ops.
///   The +3 covers the dequantization product, the multiply and the bias add.
/// - r counts operands rounded to fp16 before an fp16 MMA: 0 for tiled kernels (fp32 math on
///   exact inputs), +1 when fp32 activations are rounded to fp16, +1 when INT4 weights are
///   dequantized to fp16 (each rounding is ≤ u16 relative; the product of two is ≤ 2·u16);
///   +9 for q4gsw's packed-fp16 matrix–vector kernel (8 products and 7 fp16 additions per
///   8-term partial: γ_8 < 9·u16). The tensor-core matrix–vector kernel (`gemv_mma`) rounds
///   like the cooperative-matrix kernel (its packed-fp16 dequantization, used only when every
///   scale is an fp16 value, rounds the exact product once). `gemv_frag` gets the same bound,
///   which it undercuts (q − 8 is exact in fp16 and the scale is applied in fp32).
/// - ulp_out: one unit in the last place of the output type at |y_ref| (fp16 or fp32 store).
public struct Tolerance: Sendable {
    public var fp16Roundings: Int
    public var chainLength: Int

    public static func model(problem p: Problem, kernel: KernelKind, shader: ShaderID? = nil, splitK: Int = 1) -> Tolerance {
        var r = 0
        let mmaGemv = kernel == .gemv && [KernelFamily.gemvMma, .gemvMmaSplitk, .gemvFrag, .gemvFragXs, .gemmFrag].contains(shader?.origin.family)
        // gemm_frag_dq: (q − 8)·scale rounded to fp16 once (B = xq − zp is exact), all K products
        // accumulated in fp32 (no exact per-block integer).
        let prefillDq = kernel == .gemv && shader?.origin.family == .gemmFragDq
        // gemm_frag_i8: exact int32 sums (INT4: per 128-value group, then × the fp32 scale and
        // added over groups in fp32; int8: over all of K), the zero point's correction at the end
        // — the cooperative-matrix int8 kernel's arithmetic.
        let int8Prefill = kernel == .gemv && shader?.origin.family == .gemmFragI8
        if (kernel == .coopmat || mmaGemv) && (p.op == .fp16 || p.op == .q4gsw) {
            if p.act == .f32 { r += 1 }
            if p.op == .q4gsw { r += 1 }
            // (gemm_frag: (q − 8) and the scale are exact fp16 values — it runs only where every
            // scale is one — so (q − 8)·scale is one rounding, as the cooperative-matrix dequantization.)
        }
        // Packed-fp16 matrix–vector kernel: 8 products and 7 fp16 additions per 8-term partial:
        // γ_8 = 8·u16/(1 − 8·u16) < 9·u16 relative to Σ|x·w|.
        if kernel == .gemv, shader?.origin.defines.contains("F16_MATH") == true { r += 9 }
        if prefillDq { r += 1 }
        let t: Int
        switch p.op {
        case .fp16, .q4gsw: t = p.k
        case .dq8ca_q4gsw:
            switch kernel {
            case .tiled: t = p.k / p.groupSize
            case .coopmat: t = p.k / p.groupSize + 1
            // (gemm_frag_i8 scales each 128-value block: groups of 256 and more are two or more.)
            case .gemv: t = int8Prefill ? p.k / 128 + 1 : prefillDq ? p.k : (p.k + 31) / 32 + 1
            }
        case .dq8ca_q8csw: t = kernel == .tiled ? 1 : 2
        }
        // Split-K: each slice's partial is converted and scaled on its own, then the reduction
        // adds the slices (slices are whole 32-value chunks: the chunk magnitude bounds them).
        return Tolerance(fp16Roundings: r, chainLength: splitK > 1 ? t + splitK + 1 : t)
    }

    public func bound(reference y: Double, magnitude s: Double, out: DType) -> Double {
        let u32 = 0x1p-24, u16 = 0x1p-11
        // (+ r·u16·t·u32: the second-order term of an fp16 rounding followed by a t-term fp32 sum.)
        let r = Double(fp16Roundings), t = Double(chainLength)
        return s * (r * u16 + (t + 3) * u32 + r * u16 * t * u32) + ulp(abs(y), out)
    }

    func ulp(_ v: Double, _ t: DType) -> Double {
        switch t {
        case .f16: return v < 0x1p-14 ? 0x1p-24 : Double(Float16(v).ulp) * 2   // ≥ one ulp on either side of a binade edge
        case .f32: return v < 0x1p-126 ? 0x1p-149 : Double(Float(v).ulp) * 2
        }
    }
}

/// One conformance case: a problem and fresh random data for it.
public struct CheckCase: Sendable {
    public var problem: Problem
    public var x: [Float]
    public var weights: LinearWeights
    public var bias: [Float]?

    /// Fresh random data: activations uniform in ±1 with per-row ranges spread over 10^±1 (for
    /// dq8ca also one all-positive row and one all-zero row when M ≥ 3), weights from a
    /// random-normal-ish fp32 matrix quantized with the library's quantizers (fp16 scales), bias in ±1.
    /// `scales`: the INT4 group scales' dtype (nil: fp16 without bias, fp32 with bias, so both are
    /// covered across a sweep).
    public static func random(problem p: Problem, rng: inout SplitMix64, scales: DType? = nil) throws -> CheckCase {
        try p.validate()
        func u() -> Float { Float(Double(rng.next() >> 11) * 0x1p-53 * 2 - 1) }
        var x = [Float](repeating: 0, count: p.m * p.k)
        for i in 0..<p.m {
            let e = Double(u()); let rowScale = Float(pow(10.0, e))
            for j in 0..<p.k { x[i * p.k + j] = u() * rowScale }
            if p.op.quantizesActivations && p.m >= 3 {
                if i == 1 { for j in 0..<p.k { x[i * p.k + j] = abs(x[i * p.k + j]) + 0.25 } }
                if i == 2 { for j in 0..<p.k { x[i * p.k + j] = 0 } }
            }
        }
        if p.act == .f16 { x = x.map { Float(Float16($0)) } }
        let wf: [Float] = (0..<(p.n * p.k)).map { _ in (u() + u() + u()) * 0.5 }
        let weights: LinearWeights
        switch p.op {
        case .fp16: weights = .fp16(n: p.n, k: p.k, values: wf.map { Float16($0) })
        case .q4gsw, .dq8ca_q4gsw:
            // fp16 scales (what model files hold) on odd cases, fp32 on even ones: kernels that
            // treat fp16-valued scales specially (gemv_mma's packed dequantization) see both.
            weights = .q4gsw(try Q4GSWWeights.quantize(wf, n: p.n, k: p.k, groupSize: p.groupSize, scaleDType: scales ?? (p.bias ? .f32 : .f16)))
        case .dq8ca_q8csw: weights = .q8csw(try Q8CSWWeights.quantize(wf, n: p.n, k: p.k, scaleDType: .f16))
        }
        let bias: [Float]? = p.bias ? (0..<p.n).map { _ in
            let b = u(); return p.act == .f16 ? Float(Float16(b)) : b } : nil
        return CheckCase(problem: p, x: x, weights: weights, bias: bias)
    }

    /// The fp64 reference for this case (and, for dq8ca, the reference int8 activations).
    /// `quantFP64`: which activation-quantization semantics the device ran (see Reference.quantizeActivations).
    public func reference(quantFP64: Bool = true) -> (result: ReferenceResult, activations: (q: [Int8], scale: [Float], zeroPoint: [Int32])?) {
        let p = problem
        switch weights {
        case .fp16(_, _, let v):
            return (Reference.linear(x: x, w: v.map(Float.init), bias: bias, m: p.m, n: p.n, k: p.k), nil)
        case .q4gsw(let w):
            if p.op == .q4gsw {
                return (Reference.q4gsw(x: x, packed: w.packed, scales: w.scales, bias: bias, m: p.m, n: p.n, k: p.k, groupSize: w.groupSize), nil)
            }
            let a = Reference.quantizeActivations(x: x, m: p.m, k: p.k, fp64: quantFP64)
            return (Reference.dq8caQ4gsw(xq: a.q, sx: a.scale, zp: a.zeroPoint, packed: w.packed, scales: w.scales, bias: bias,
                                         m: p.m, n: p.n, k: p.k, groupSize: w.groupSize), a)
        case .q8csw(let w):
            let a = Reference.quantizeActivations(x: x, m: p.m, k: p.k, fp64: quantFP64)
            return (Reference.dq8caQ8csw(xq: a.q, sx: a.scale, zp: a.zeroPoint, weights: w.values, scales: w.scales, bias: bias,
                                         m: p.m, n: p.n, k: p.k), a)
        }
    }

    /// Runs the case on `context` with `kernel`, poisoning the output and surrounding it with guard
    /// bytes, and compares with the reference under `Tolerance`.
    public func run(on context: QLinearContext, kernel: KernelKind, options: DispatchOptions? = nil) throws -> CheckResult {
        let p = problem
        let decision = Dispatcher.decide(p, caps: context.capabilities, options: options ?? context.options, force: kernel)
        guard let plan = decision.chosen, plan.kernel == kernel else {
            return CheckResult(problem: p, kernel: kernel, shader: nil, status: .skipped, maxAbsError: 0, worstRatio: 0,
                               summary: decision.why.joined(separator: "; "))
        }
        let layer = try LinearLayer(context: context, weights: weights, bias: bias, act: p.act,
                                    dynamicActivations: p.op == .dq8ca_q4gsw)
        if plan.shader.origin.family.isPrefillForm && !plan.shader.origin.family.usesInt8Fragments && !layer.prefillFormAllowed {
            return CheckResult(problem: p, kernel: kernel, shader: plan.shader.rawValue, status: .skipped, maxAbsError: 0, worstRatio: 0,
                               summary: "\(LinearLayer.prefillFormCondition) (LinearLayer.plan takes another kernel for these weights)")
        }
        let dev = context.device
        let xb = try Buffer(device: dev, size: try layer.inputBytes(m: p.m))
        try xb.write(array: p.act.encode(x))
        let guardBytes = 256
        let yBytes = (p.m * p.n * p.act.bytes + 3) / 4 * 4
        let yb = try Buffer(device: dev, size: guardBytes * 2 + yBytes)
        let scratch = try layer.makeScratch(m: p.m)
        let s = try CommandStream(device: dev)
        try s.fill(yb, size: yb.size, value: 0xFFFF_FFFF)      // NaN in fp16 and fp32: never a real result
        try s.barrier()
        if plan.shader.origin.family.usesSyncCounters {
            // gemv_frag_dqs synchronises its workgroups on counters in the scratch that each
            // dispatch must leave zero: run it first on other activations (x reversed) through the
            // same scratch, so the checked run fails if it finds them set (stale rows, or a wait).
            let xd = try Buffer(device: dev, size: try layer.inputBytes(m: p.m))
            try xd.write(array: p.act.encode(Array(x.reversed())))
            let yd = try Buffer(device: dev, size: max(yBytes, 4))
            try layer.encode(s, plan: plan, x: BufferBinding(xd), y: BufferBinding(yd, offset: 0, size: p.m * p.n * p.act.bytes), scratch: scratch)
            try s.barrier()
        }
        try layer.encode(s, plan: plan, x: BufferBinding(xb), y: BufferBinding(yb, offset: guardBytes, size: p.m * p.n * p.act.bytes), scratch: scratch)
        try s.submitAndWait()

        let raw = try yb.read(as: UInt8.self, count: yb.size)
        let guardsIntact = raw[0..<guardBytes].allSatisfy { $0 == 0xFF } && raw[(guardBytes + p.m * p.n * p.act.bytes)...].allSatisfy { $0 == 0xFF }
        let y = try p.act.decode(yb, count: p.m * p.n, offset: guardBytes)
        var unwritten = 0
        for i in 0..<(p.m * p.n) {
            let o = guardBytes + i * p.act.bytes
            if raw[o] == 0xFF && raw[o + 1] == 0xFF && (p.act == .f16 || (raw[o + 2] == 0xFF && raw[o + 3] == 0xFF)) { unwritten += 1 }
        }

        let ref = reference(quantFP64: plan.quantizesInFP64)
        var activationMismatch = 0
        var firstActivation = ""
        if let a = ref.activations, let (gq, kp, gp) = try layer.activations(in: scratch, m: p.m) {
            for i in 0..<p.m {
                if gp[2 * i] != a.scale[i].bitPattern || Int32(bitPattern: gp[2 * i + 1]) != a.zeroPoint[i] { activationMismatch += 1 }
                for j in 0..<p.k where gq[i * kp + j] != a.q[i * p.k + j] {
                    activationMismatch += 1
                    if firstActivation.isEmpty {
                        firstActivation = " (first: x_q[\(i),\(j)] = \(gq[i * kp + j]), reference \(a.q[i * p.k + j]) for x = \(x[i * p.k + j]), scale \(a.scale[i]), zero point \(a.zeroPoint[i]), fp64 \(plan.quantizesInFP64))"
                    }
                }
                for j in p.k..<kp where gq[i * kp + j] != 0 { activationMismatch += 1 }
            }
        }
        let tol = Tolerance.model(problem: p, kernel: kernel, shader: plan.shader, splitK: plan.splitK)
        var maxErr = 0.0, worst = 0.0, bad = 0
        var firstBad = ""
        for i in 0..<(p.m * p.n) {
            let r = ref.result.y[i]
            let g = Double(y[i])
            let err = abs(g - r)
            // Cooperative-matrix dq8ca kernels apply the zero-point correction after the K loop.
            let mag: Double
            switch kernel {
            case .tiled: mag = ref.result.magnitude[i]
            case .coopmat: mag = (plan.splitK > 1 ? ref.result.chunkMagnitude?[i] : ref.result.splitMagnitude?[i]) ?? ref.result.magnitude[i]
            case .gemv where plan.shader.origin.family == .gemmFragDq: mag = ref.result.termMagnitude?[i] ?? ref.result.magnitude[i]
            // (gemm_frag_i8 too: int8 sums over all of K — the split magnitude —; INT4 sums scaled
            // per 128-value block, bounded by the 32-value chunk magnitude: |Σ_block| ≤ Σ_chunks |Σ|.)
            case .gemv: mag = (p.op == .dq8ca_q4gsw ? ref.result.chunkMagnitude?[i] : ref.result.splitMagnitude?[i]) ?? ref.result.magnitude[i]
            }
            let bound = tol.bound(reference: r, magnitude: mag, out: p.act)
            let ratio = err.isNaN ? .infinity : err / bound
            if !(err <= bound) {
                bad += 1
                if firstBad.isEmpty { firstBad = "y[\(i / p.n),\(i % p.n)] = \(g), reference \(r), bound \(bound)" }
            }
            maxErr = max(maxErr, err.isNaN ? .infinity : err)
            worst = max(worst, ratio)
        }
        var problems: [String] = []
        if !guardsIntact { problems.append("wrote outside the output (guard bytes changed)") }
        if unwritten > 0 { problems.append("\(unwritten) outputs never written") }
        if activationMismatch > 0 { problems.append("\(activationMismatch) int8 activations / qparams differ from the reference\(firstActivation)") }
        if bad > 0 { problems.append("\(bad) outputs out of tolerance, first \(firstBad)") }
        let status: CheckResult.Status = problems.isEmpty ? .passed : .failed
        return CheckResult(problem: p, kernel: kernel, shader: plan.shader.rawValue, status: status, maxAbsError: maxErr,
                           worstRatio: worst, summary: problems.isEmpty ? "ok" : problems.joined(separator: "; "))
    }
}

public struct CheckResult: Codable, Sendable {
    public enum Status: String, Codable, Sendable { case passed, failed, skipped }
    public var problem: Problem
    public var kernel: KernelKind
    public var shader: String?
    public var status: Status
    public var maxAbsError: Double
    /// max over outputs of |error| / bound (≤ 1 passes).
    public var worstRatio: Double
    public var summary: String
    public var passed: Bool { status == .passed }

    public init(problem: Problem, kernel: KernelKind, shader: String?, status: Status, maxAbsError: Double, worstRatio: Double, summary: String) {
        self.problem = problem; self.kernel = kernel; self.shader = shader; self.status = status
        self.maxAbsError = maxAbsError; self.worstRatio = worstRatio; self.summary = summary
    }
}

/// Built-in shape grids for `qlinear check` and the tests.
public enum ShapeGrid {
    /// (M, N, K) shapes: ExecuTorch's test shapes plus awkward ones (M = 1, 2, 3, 7, 17, 33, 100,
    /// 300; N and K not multiples of any tile; M > K; large K with small M).
    public static let full: [(Int, Int, Int)] = [
        (4, 32, 64), (4, 64, 128), (4, 128, 256), (32, 32, 64), (32, 64, 128), (32, 128, 256),
        (256, 128, 128), (64, 64, 64), (64, 64, 128), (64, 128, 256),
        (1, 1, 1), (1, 7, 13), (1, 256, 4096), (2, 40, 96), (3, 17, 5), (7, 24, 512), (13, 37, 96), (16, 9, 512), (17, 31, 33), (33, 72, 160),
        (100, 65, 200), (300, 33, 96), (129, 130, 131), (200, 100, 64), (1, 4096, 4096), (8, 1000, 2048), (2, 4097, 256),
    ]
    /// A lavapipe-sized subset (CPU Vulkan): still has M = 1, odd sizes, M > K.
    public static let quick: [(Int, Int, Int)] = [
        (1, 1, 1), (1, 7, 13), (3, 17, 5), (4, 32, 64), (7, 24, 96), (8, 9, 64), (17, 31, 33), (33, 72, 160), (100, 65, 64), (129, 70, 131),
    ]
    public static let groupSizes = [32, 64, 128]

    /// Every problem for `op` over `shapes`, adjusting K to the format's rules (INT4: K a multiple
    /// of the group size — rounded up; groups larger than K are skipped).
    public static func problems(op: Op, shapes: [(Int, Int, Int)], acts: [DType] = [.f16, .f32], groups: [Int] = groupSizes) -> [Problem] {
        var out: [Problem] = []
        for (idx, (m, n, k)) in shapes.enumerated() {
            for act in acts {
                let bias = (idx + (act == .f16 ? 0 : 1)) % 2 == 0
                if op.usesGroups {
                    for g in groups {
                        let kk = (k + g - 1) / g * g
                        if kk > max(k, g) * 2 && k > g { continue }
                        out.append(Problem(op: op, m: m, n: n, k: kk, groupSize: g, act: act, bias: bias))
                    }
                } else {
                    out.append(Problem(op: op, m: m, n: n, k: k, act: act, bias: bias))
                }
            }
        }
        // Deduplicate (K rounding can collide).
        var seen = Set<Problem>()
        return out.filter { seen.insert($0).inserted }
    }
}
