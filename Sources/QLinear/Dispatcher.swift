import VulkanRuntime

/// Tile configuration handed to a kernel as specialization constants (by name: BM, BN, BK, WG,
/// WM, WN, TM, TN, TK, SGS — each variant takes the ones its source declares).
public struct TileConfig: Codable, Sendable, Hashable, CustomStringConvertible {
    public var bm: Int, bn: Int, bk: Int
    public var workgroupSize: Int
    /// Cooperative-matrix kernels: subgroup grid and MMA shape (0 for tiled kernels).
    public var wm: Int = 0, wn: Int = 0
    public var tm: Int = 0, tn: Int = 0, tk: Int = 0
    /// Subgroup size the kernel is built for, and whether the pipeline requires it.
    public var subgroupSize: Int = 0
    public var requireSubgroupSize: Bool = false
    /// Cooperative-matrix kernels: shared-memory buffers per operand (2 = one barrier per K step).
    public var buffers: Int = 1
    /// Matrix–vector kernels: the quantization group size, fixed at pipeline creation (0 = none).
    public var group: Int = 0
    /// `gemv_q4_xreg`: 32-value K chunks each thread owns per pass (activations in registers).
    public var chunksPerThread: Int = 0
    /// `gemv_q4_sg`: output columns per subgroup at a time (R) and 32-value chunks of each
    /// activation row staged in shared memory (KC ≥ ⌈K/32⌉).
    public var subgroupColumns: Int = 0
    public var stagedChunks: Int = 0
    /// `gemv_q4_sg`: subgroups splitting one column group's K (partial sums through shared memory).
    public var subgroupSplit: Int = 1
    /// `gemv_q4_sg`: 1 = activations read through L1 per chunk (no staging).
    public var activationsL1: Int = 0
    /// `gemv_mma` with INT4 weights: 1 when every group scale is an fp16 value, so dequantizing in
    /// packed fp16 rounds once, like the fp32 product (set by the layer when it encodes).
    public var halfScales: Int = 0
    /// `gemv_mma` and the float cooperative-matrix kernels: K steps of loads in flight (register
    /// sets; 1 or 2 for cooperative matrices).
    public var prefetch: Int = 1
    /// Cooperative-matrix kernels: workgroups walk the output in groups of this many tile rows
    /// (down M first, then along N) so a wave shares its tiles in L2; 1 = row by row.
    public var swizzle: Int = 1
    /// Cooperative-matrix kernels, diagnostics only (`qlinear bench --ablate`): leave out parts of
    /// the main loop (1 global loads, 2 MMAs, 4 shared stores and barriers) to time the rest. The
    /// results are wrong; 0 in every plan the dispatcher makes on its own.
    public var ablate: Int = 0
    /// Float cooperative-matrix kernel with INT4 weights: 1 = one 16-byte load and one group scale
    /// per 32 values (needs G, K and the K step to be multiples of 32); 0 = a word per 8 values.
    public var q4Pieces: Int = 0
    /// `gemv_frag`: 1 when M exceeds the x rows one tile covers (TN), so the grid holds ⌈M / TN⌉
    /// workgroups per row group; 0 = one tile (the tile arithmetic folds away).
    public var xTiles: Int = 0
    /// `gemm_frag`: 1 = B fragments with coopMatLoad from x rows stored in the MMAs' K order
    /// (17 uvec4 per staged row); 0 = built from permuted words (20 uvec4 per row).
    public var bLoad: Int = 0
    /// `gemm_frag`: store the next block's x rows after MMA step 1…7 of the block (0: after all 8;
    /// 8: x a block further ahead, stored at the start of the block before the one that uses them).
    public var xStoreStep: Int = 0
    /// `gemm_frag`: 1 = each block's weights loaded in two halves, four MMA steps ahead (one weight
    /// register set instead of two).
    public var weightHalves: Int = 0

    public init(bm: Int, bn: Int, bk: Int, workgroupSize: Int) {
        self.bm = bm; self.bn = bn; self.bk = bk; self.workgroupSize = workgroupSize
    }

    public var description: String {
        var s = "tile \(bm)x\(bn)x\(bk), \(workgroupSize) threads"
        if tm > 0 { s += ", \(wm)x\(wn) subgroups of \(subgroupSize)\(requireSubgroupSize ? " (required)" : ""), MMA \(tm)x\(tn)x\(tk), \(buffers == 0 ? "no shared memory (direct)" : buffers == 2 ? "double-buffered" : "single-buffered")" }
        if swizzle > 1 { s += ", raster groups of \(swizzle) tile rows" }
        if ablate != 0 { s += ", ABLATED \(ablate) (diagnostics: wrong results)" }
        return s
    }

    /// Values for the specialization constants, by the names the shaders declare.
    public var specValues: [String: Int] {
        ["BM": bm, "BN": bn, "BK": bk, "WG": workgroupSize, "WM": wm, "WN": wn, "TM": tm, "TN": tn, "TK": tk, "SGS": subgroupSize, "NBUF": buffers, "GS": group, "CPT": chunksPerThread, "R": subgroupColumns, "KC": stagedChunks, "KS": subgroupSplit, "XG": activationsL1, "HS": halfScales, "PD": prefetch, "SWZ": swizzle, "ABL": ablate, "QV": q4Pieces, "XT": xTiles, "BL": bLoad, "XE": xStoreStep, "WH": weightHalves, "XS": directStagesX ? 1 : 0]
    }

    /// The direct kernel (buffers 0) with one subgroup row (WM = 1): every subgroup needs all BM x
    /// rows, so they are staged in shared memory (two buffers of one K step in the MMAs' K order);
    /// the weights still go straight into registers.
    public var directStagesX: Bool { buffers == 0 && wm == 1 }

    func sharedBytes(kind: KernelKind, op: Op) -> Int {
        switch (kind, op.floatMath) {
        case (.tiled, true): return (bm + 4 + bn + 4) * bk * 4
        case (.tiled, false): return (bm + bn) * (bk / 4) * 4
        // Float kernels: the epilogue's staging tiles reuse the A buffers.
        case (.coopmat, true): return buffers == 0 ? (directStagesX ? 2 * bm * ((bk / 32) * 16 + 4) * 4 : 0) : max(buffers * bm * (bk + 8) * 2, (wm * wn) * tm * tn * 4) + buffers * bn * (bk + 8) * 2
        case (.coopmat, false): return buffers * (bm + bn) * (bk + 16) + 2 * tm * bn * 4 + (wm * wn) * tm * tn * 4
        case (.gemv, _): return 0
        }
    }
}

/// What the dispatcher decided for one problem and kernel kind: everything `encode` needs.
/// A plan is made for one problem (`problem`, M included) and `encode` checks it against the
/// layer and the buffers it is given.
public struct KernelPlan: Codable, Sendable, Hashable {
    public var problem: Problem
    public var kernel: KernelKind
    public var shader: ShaderID
    /// The activation-quantization kernel that runs first (dq8ca ops).
    public var quantShader: ShaderID?
    /// Its workgroup size and the 8-value steps per thread it keeps in registers
    /// (`QuantAct.config`; 0 without a quantization pass).
    public var quantThreads: Int = 0
    public var quantChunks: Int = 0
    /// The kernel quantizes the activations itself (`gemv_dq`, `gemv_frag_dqf`, `gemv_frag_dqf_xs`,
    /// `gemv_frag_dqs`): no pass, `quantShader` nil.
    public var quantFused: Bool = false
    public var tile: TileConfig
    /// Split-K (cooperative-matrix kernels): K is cut into `splitK` slices of `kSlice` values, one
    /// workgroup layer each, writing fp32 partial sums to scratch; `reduceShader` adds them (and
    /// the bias) into y. 1 / 0 / nil without split-K.
    public var splitK: Int = 1
    public var kSlice: Int = 0
    public var reduceShader: ShaderID?
    /// The tuning table and rule that chose the tile, when one did.
    public var tuning: String?
    /// Human-readable reasons for this plan (what was checked and found).
    public var reasons: [String]

    /// Dispatches one `encode` of this plan records (activation quantization, the kernel, the
    /// split-K reduction): size a `CommandStream`'s `maxDispatches` with it.
    public var dispatches: Int { (quantShader != nil ? 1 : 0) + 1 + (splitK > 1 ? 1 : 0) }

    /// Whether the activation-quantization pass evaluates x·(1/scale) + zp in fp64 (PyTorch's way).
    public var quantizesInFP64: Bool { (quantShader ?? (quantFused ? shader : nil))?.origin.defines.contains("Q_F64") ?? false }
}

/// Options that change dispatch without changing the device. The library reads no environment
/// variables: the CLI fills these from its flags and QLINEAR_* variables.
public struct DispatchOptions: Sendable, Hashable {
    /// Never use cooperative matrices (`--no-coopmat`, QLINEAR_DISABLE_COOPMAT=1 in the CLI).
    public var disableCoopMat: Bool = false
    /// Cooperative-matrix type families the device self-test found broken, with why.
    public var brokenCoopMat: [CoopMatFamily: String] = [:]
    /// Force this cooperative-matrix tile (tuning and tests), bypassing the tuning table.
    public var coopMatTile: TileShape?
    /// Force this cooperative-matrix K step (16, 32 or 64 for float ops; 32 or 64 for int8 ops).
    public var coopMatKStep: Int?
    /// Force single (1) or double (2) shared-memory buffering in cooperative-matrix kernels.
    public var coopMatBuffers: Int?
    /// Force the number of split-K slices of cooperative-matrix kernels (1 = no split).
    public var coopMatSplitK: Int?
    /// Force the raster group (tile rows) of cooperative-matrix kernels (1 = row by row).
    public var coopMatSwizzle: Int?
    /// Force the prefetch distance of float cooperative-matrix kernels: K steps of global loads
    /// in flight (1 or 2).
    public var coopMatPrefetch: Int?
    /// Diagnostics only: leave parts of the cooperative-matrix main loop out (`TileConfig.ablate`;
    /// wrong results, for timing the rest). 0 = off.
    public var coopMatAblate: Int = 0
    /// Force this matrix–vector configuration (tuning and tests), bypassing the tuning table.
    public var gemvConfig: GemvConfig?
    /// Force the activation-quantization pass's workgroup size (tests; clamped to the device).
    public var quantThreads: Int?
    /// Allow q4gsw's matrix–vector kernel to multiply in packed fp16 where its configuration says
    /// so (`GemvConfig.halfMath`; fp16 activations, shaderFloat16). false = always the fp32 kernel
    /// (`--no-f16-math`, QLINEAR_GEMV_F16_MATH=0).
    public var gemvHalfMath: Bool = true
    /// The tuning table to use; nil = the built-in table for the device (`TuningTable.forDevice`).
    public var tuning: TuningTable?
    /// The cooperative-matrix fragment layout the device's self-test probe found (set by
    /// `QLinearContext`; nil = unknown). Kernels that build fragments in registers (`gemv_frag`)
    /// run only where it is theirs. Set it by hand only for synthetic devices in tests.
    public var fragmentLayout: FragmentLayout.Known?
    /// The int8 fragment layout the self-test's int8 probe found (`gemm_frag_i8` runs only where
    /// it is `mma16832s8`); set by `QLinearContext`, by hand only for synthetic devices in tests.
    public var int8FragmentLayout: FragmentLayout.KnownInt8?

    public init(disableCoopMat: Bool = false, brokenCoopMat: [CoopMatFamily: String] = [:], coopMatTile: TileShape? = nil,
                coopMatKStep: Int? = nil, tuning: TuningTable? = nil) {
        self.disableCoopMat = disableCoopMat; self.brokenCoopMat = brokenCoopMat
        self.coopMatTile = coopMatTile; self.coopMatKStep = coopMatKStep; self.tuning = tuning
    }
}

/// The outcome of dispatch for one problem: the chosen plan, and for every kernel kind either its
/// plan or the reason it cannot run.
public struct DispatchDecision: Sendable {
    public var problem: Problem
    public var chosen: KernelPlan?
    public var candidates: [KernelKind: Result<KernelPlan, DispatchRejection>]
    public var why: [String]
}

public struct DispatchRejection: Error, Sendable, Hashable, Codable, CustomStringConvertible {
    public var reason: String
    public var description: String { reason }
}

/// A pure function of (problem, device capabilities, options) → kernel plan, with reasons.
/// Capabilities are what the driver reported; nothing is inferred from vendor names; tile choices
/// come from a `TuningTable` (data), never from thresholds in code.
public enum Dispatcher {
    public static func decide(_ p: Problem, caps: Capabilities, options: DispatchOptions = DispatchOptions(),
                              force: KernelKind? = nil) -> DispatchDecision {
        var cands: [KernelKind: Result<KernelPlan, DispatchRejection>] = [:]
        for kind in KernelKind.allCases { cands[kind] = plan(kind, p, caps: caps, options: options) }
        var why: [String] = []
        var chosen: KernelPlan?
        if let force, let r = cands[force] {
            switch r {
            case .success(let plan): chosen = plan; why.append("\(force.rawValue) forced by the caller")
            case .failure(let r): why.append("\(force.rawValue) forced but cannot run: \(r.reason)")
            }
        } else {
            // Preference: matrix–vector for decode batches, cooperative matrix (tensor cores), tiled.
            for kind in [KernelKind.gemv, .coopmat, .tiled] {
                guard let r = cands[kind] else { continue }
                switch r {
                case .success(let plan):
                    if chosen == nil { chosen = plan; why.append("chose \(kind.rawValue)") }
                case .failure(let r):
                    if chosen == nil { why.append("\(kind.rawValue) not possible: \(r.reason)") }
                }
            }
        }
        return DispatchDecision(problem: p, chosen: chosen, candidates: cands, why: why)
    }

    /// Plan for one kernel kind, or why it cannot run.
    public static func plan(_ kind: KernelKind, _ p: Problem, caps: Capabilities, options: DispatchOptions = DispatchOptions()) -> Result<KernelPlan, DispatchRejection> {
        plan(kind, p, caps: caps, options: options, lookup: ShaderID.lookup).map { plan in
            guard plan.quantShader != nil else { return plan }
            var plan = plan
            let table = options.tuning ?? TuningTable.forDevice(caps)
            let (rule, index) = QuantAct.rule(for: p, table: table)
            let q = QuantAct.config(k: p.k, caps: caps, rule: rule, threads: options.quantThreads)
            plan.quantThreads = q.threads
            plan.quantChunks = q.chunks
            let why = options.quantThreads != nil ? "forced by the caller"
                : index.map { "\(table.name) quant rule \($0): \(rule.when?.text ?? "always"), ≤ \(rule.stepsPerThread) per thread, ≤ \(rule.maxThreads) threads" }
                ?? "no quant rule: ≤ \(rule.stepsPerThread) per thread, ≤ \(rule.maxThreads) threads"
            plan.reasons.append("activation quantization: \(q.threads) threads per row, \(q.chunks) step\(q.chunks == 1 ? "" : "s") of 8 values per thread held in registers (\(why))")
            return plan
        }
    }

    /// `plan` with the variant lookup given: tests pass a registry with holes to check that a
    /// variant missing from the table is a rejection with its key, never a trap.
    static func plan(_ kind: KernelKind, _ p: Problem, caps: Capabilities, options: DispatchOptions,
                     lookup: (VariantKey) -> ShaderID?) -> Result<KernelPlan, DispatchRejection> {
        func no(_ s: String) -> Result<KernelPlan, DispatchRejection> { .failure(DispatchRejection(reason: s)) }
        do { try p.validate(for: caps) } catch { return no("\(error)") }
        let needs16 = p.act == .f16 || p.op == .fp16
        if needs16 && !(caps.shaderFloat16 && caps.storageBuffer16Bit) {
            return no("fp16 data needs shaderFloat16 and storageBuffer16BitAccess, which the device lacks")
        }
        var reasons: [String] = []
        var quant: ShaderID?
        if p.op.quantizesActivations {
            if !caps.subgroupArithmetic { return no("activation quantization reduces with subgroup arithmetic, which the device lacks in compute shaders") }
            let key = VariantKey(family: .quantAct, act: p.act, features: caps.shaderFloat64 ? [.fp64] : [])
            guard let q = lookup(key) else { return no("no activation-quantization variant compiled for \(key)") }
            quant = q
            reasons.append(caps.shaderFloat64 ? "activations quantized with PyTorch's fp64 x·(1/scale) + zp"
                                              : "no shaderFloat64: activations quantized in fp32 (may differ from PyTorch by one step on near-ties)")
        }
        func variant(_ key: VariantKey) -> ShaderID? { lookup(key) }
        let dot: Set<VariantFeature> = caps.integerDotProduct ? [.dot] : []

        switch kind {
        case .gemv:
            let family: KernelFamily = p.op.floatMath ? .gemvFloat : .gemvInt
            // Past the matrix–vector kernels' M only the prefill form of the register-fragment
            // kernel (`xRows`, family gemm_frag) applies: forced, or from a rule that names it.
            let bigM = KernelFamily.gemvFrag.maxM.map { p.m > $0 } ?? false
            let bigMText = "M = \(p.m) > \(KernelFamily.gemvFrag.maxM ?? 0): the matrix–vector kernels are for decode batches"
            if bigM, options.gemvConfig.map({ $0.frag != true || $0.xRows == nil }) ?? false { return no(bigMText) }
            if !caps.subgroupArithmetic { return no("device lacks subgroup arithmetic in compute shaders") }
            if p.op == .dq8ca_q4gsw && p.groupSize % 32 != 0 { return no("group size \(p.groupSize) is not a multiple of the 32-value chunk") }
            let sgs = caps.subgroupSize
            var config = GemvConfig.standard
            var tuning: String?
            if let forced = options.gemvConfig {
                if let problem = forced.problem { return no(problem) }
                config = forced
                reasons.append("configuration forced by the caller")
            } else {
                // First matching rule wins — except that a rule naming a specialised kernel
                // (tensor-core, subgroup-split or fused, activations-in-registers) that cannot run
                // here gives way to the next matching rule, so the measured rules below it apply
                // (a forced configuration falls back to a column configuration instead, below).
                let table = options.tuning ?? TuningTable.forDevice(caps)
                for (i, rule) in (table.gemv ?? []).enumerated() {
                    if let ops = rule.ops, !ops.contains(p.op) { continue }
                    if bigM && (rule.config.frag != true || rule.config.xRows == nil) { continue }
                    if let w = rule.when, !w.holds(p) { continue }
                    let name = "\(table.name) gemv rule \(i)"
                    let why = "\(name): \(rule.when?.text ?? "always")\(rule.note.map { " (\($0))" } ?? "")"
                    let c = rule.config
                    if c.mma == true || c.sg == true || c.xreg == true || c.frag == true {
                        let r = reasons + [why]
                        let special = c.frag == true ? fragPlan(p, caps: caps, options: options, config: c, tuning: name, quant: quant, reasons: r, lookup: lookup)
                            : c.mma == true ? mmaPlan(p, caps: caps, options: options, config: c, tuning: name, quant: quant, reasons: r, lookup: lookup)
                            : c.sg == true ? sgPlan(p, caps: caps, options: options, config: c, tuning: name, quant: quant, reasons: r, lookup: lookup)
                            : xregPlan(p, caps: caps, options: options, config: c, tuning: name, quant: quant, reasons: r, lookup: lookup)
                        if let special { return special }
                        let kindName = c.frag == true ? "register-fragment tensor-core" : c.mma == true ? "tensor-core" : c.sg == true ? "subgroup-split" : "activations-in-registers"
                        reasons.append("\(why): the \(kindName) kernel is not applicable here; the next matching rule is tried")
                        continue
                    }
                    config = c
                    tuning = name
                    reasons.append(why)
                    break
                }
            }
            if bigM && (config.frag != true || config.xRows == nil) { return no(bigMText) }
            if config.frag == true {
                if let plan = fragPlan(p, caps: caps, options: options, config: config, tuning: tuning, quant: quant, reasons: reasons, lookup: lookup) { return plan }
                if bigM { return no("\(bigMText); the forced prefill-form register-fragment configuration \(config.compact) is not applicable here") }
                reasons.append("register-fragment tensor-core kernel not applicable here: the column kernel's \(GemvConfig.standard.compact) used")
                config = GemvConfig.standard
            }
            if config.mma == true {
                if let plan = mmaPlan(p, caps: caps, options: options, config: config, tuning: tuning, quant: quant, reasons: reasons, lookup: lookup) { return plan }
                reasons.append("tensor-core matrix–vector kernel not applicable here: column kernel used")
                config = GemvConfig.standard
            }
            if let maxM = family.maxM, p.m > maxM { return no("M = \(p.m) > \(maxM): the column matrix–vector kernel is for decode batches of ≤ \(maxM) rows") }
            // The int8 column kernel takes M = 9…16 only where a tuning rule (or the caller) says
            // so: elsewhere the cooperative-matrix or tiled kernels keep those sizes, as measured.
            if p.m > 8 && tuning == nil && options.gemvConfig == nil {
                return no("M = \(p.m) > 8: the int8 column kernel takes 9…16 rows only where a tuning rule covers them")
            }
            if config.sg == true {
                if let plan = sgPlan(p, caps: caps, options: options, config: config, tuning: tuning, quant: quant, reasons: reasons, lookup: lookup) { return plan }
                reasons.append("subgroup-split kernel not applicable: the column kernel's \(p.m <= 8 ? 4 : 2) × 128 × 1 used")
                // (An sg rule's columns are per subgroup: not a column-kernel configuration.)
                config = GemvConfig(columns: p.m <= 8 ? 4 : 2, threads: 128, unroll: 1, halfMath: true)
            }
            if config.xreg == true {
                if let plan = xregPlan(p, caps: caps, options: options, config: config, tuning: tuning, quant: quant, reasons: reasons, lookup: lookup) { return plan }
                reasons.append("activations-in-registers kernel not applicable: packed fp16 configuration used")
                config.xreg = nil
                config.halfMath = true
                // A power of two ≤ 8 columns and ≤ 32 sums per thread (Tuner.allowed's limit).
                var c = 8
                while c > 1 && (c > config.columns || c * p.m > 32) { c /= 2 }
                config.columns = c
                config.unroll = min(config.unroll, 2)
            }
            let wg = config.threads
            if p.m > 8 && config.columns * p.m > 32 {
                // (The int8 column kernel takes M ≤ 16: a rule written for M ≤ 8 may ask for more
                // sums per thread than the ≤ 32 Tuner.allowed keeps to.)
                var c = config.columns
                while c > 1 && c * p.m > 32 { c /= 2 }
                reasons.append("\(config.columns) columns × M = \(p.m) rows exceed 32 sums per thread: \(c) columns")
                config.columns = c
            }
            guard [1, 2, 4, 8].contains(config.columns), [1, 2, 4, 8].contains(config.unroll) else {
                return no("matrix–vector configuration \(config): columns and chunks in flight must be 1, 2, 4 or 8")
            }
            // Each thread keeps columns × chunks 16-byte loads in flight: 8 × 8 = 64 (256 registers
            // of loads) made lavapipe's compiler run for minutes and crash; the sweeps never go
            // past 8 × 2.
            guard config.columns * config.unroll <= 16 else {
                return no("matrix–vector configuration \(config): at most 16 loads in flight per thread (columns × chunks ≤ 16)")
            }
            guard sgs >= 4, wg >= sgs, wg % sgs == 0, wg <= 1024 else {
                return no("\(wg)-thread workgroups are not a multiple of the subgroup size \(sgs) (≥ 4)")
            }
            let wgLimit = caps.maxWorkgroupInvocations(requiredSubgroupSize: caps.canRequireSubgroupSize ? sgs : nil)
            if wg > wgLimit { return no("\(wg)-invocation workgroups exceed the device's \(wgLimit)") }
            var t = TileConfig(bm: p.m, bn: config.columns, bk: config.unroll, workgroupSize: wg)
            t.subgroupSize = sgs
            t.requireSubgroupSize = caps.canRequireSubgroupSize
            let shared = (wg / 4) * p.m * config.columns * 4
            if shared > caps.sharedMemoryBytes { return no("matrix–vector reduction needs \(shared) bytes of shared memory, device has \(caps.sharedMemoryBytes)") }
            let half = config.halfMath == true && p.op == .q4gsw && p.act == .f16 && caps.shaderFloat16 && options.gemvHalfMath
            let key = half ? VariantKey(family: .gemvQ4F16Math, weight: .q4, act: .f16)
                           : VariantKey(family: family, weight: p.op.weightFormat, act: p.act, features: p.op.floatMath ? [] : dot)
            guard let shader = variant(key) else { return no("no variant compiled for \(key)") }
            // The packed-fp16 kernel gets the group size as a constant (divisions become shifts);
            // the others read it from push constants, so one pipeline serves every group size
            // (pipeline compiles are slow on CPU drivers).
            if half { t.group = p.groupSize }
            reasons.append("\(config): K split over the workgroup, 16-byte weight loads, the \(p.m) row(s) share each load")
            if half { reasons.append("INT4 × fp16 in packed fp16 (8-term partials, then fp32 sums; fp32 redo on fp16 overflow)") }
            reasons.append(p.op.floatMath ? "fp32 sums, subgroup then shared-memory reduction"
                           : "int8 dot products per 32-value chunk\(dot.isEmpty ? "" : " (packed dot product)"), \(p.op == .dq8ca_q8csw ? "exact int32 row sums" : "group scale per chunk")")
            return .success(KernelPlan(problem: p, kernel: .gemv, shader: shader, quantShader: quant, tile: t, tuning: tuning, reasons: reasons))

        case .tiled:
            let big = caps.maxWorkgroupInvocations >= 256
            // Float kernel: a TY×16 thread grid with TM×TN outputs per thread in 4×4 blocks (256
            // threads: 128×128 tiles, 8×8 per thread; 128: 64×64, 8×4). Int kernel: its own layout.
            var t = p.op.floatMath ? TileConfig(bm: big ? 128 : 64, bn: big ? 128 : 64, bk: 16, workgroupSize: big ? 256 : 128)
                                   : TileConfig(bm: big ? 64 : 32, bn: 64, bk: 16, workgroupSize: big ? 256 : 128)
            reasons.append(big ? "256-thread workgroups" : "device allows only \(caps.maxWorkgroupInvocations) invocations: 128-thread workgroups")
            let key: VariantKey
            if p.op.floatMath {
                key = VariantKey(family: .tiledFloat, weight: p.op.weightFormat, act: p.act)
                reasons.append("fp32 accumulation")
            } else {
                // K step must divide the group so integer sums can be folded per group.
                let g = p.op == .dq8ca_q4gsw ? p.groupSize : 32
                guard let bk = [32, 16, 8].first(where: { g % $0 == 0 }) else { return no("group size \(g) is not a multiple of 8") }
                t.bk = bk
                key = VariantKey(family: .tiledInt, weight: p.op.weightFormat, act: p.act, features: dot)
                reasons.append(dot.isEmpty ? "no integer dot product: plain int8 multiply-adds"
                               : "packed 4x8-bit dot product (SPV_KHR_integer_dot_product\(caps.integerDotProduct4x8PackedAccelerated ? ", accelerated" : ", not reported accelerated"))")
                reasons.append("int32 accumulation, K step \(t.bk)")
            }
            guard let shader = variant(key) else { return no("no variant compiled for \(key)") }
            if t.sharedBytes(kind: .tiled, op: p.op) > caps.sharedMemoryBytes {
                return no("tiled kernel needs \(t.sharedBytes(kind: .tiled, op: p.op)) bytes of shared memory, device has \(caps.sharedMemoryBytes)")
            }
            return .success(KernelPlan(problem: p, kernel: .tiled, shader: shader, quantShader: quant, tile: t, reasons: reasons))

        case .coopmat:
            if options.disableCoopMat { return no("disabled (--no-coopmat / QLINEAR_DISABLE_COOPMAT)") }
            if !caps.cooperativeMatrix { return no("device does not support VK_KHR_cooperative_matrix") }
            if !caps.vulkanMemoryModel { return no("device lacks vulkanMemoryModel, which cooperative-matrix shaders need") }
            let family = p.op.coopMatFamily
            if let broken = options.brokenCoopMat[family] { return no("\(family) cooperative matrices failed the device self-test: \(broken)") }
            if !p.op.floatMath && !caps.shaderInt8 { return no("int8 cooperative matrices need shaderInt8") }
            let shapes = p.op.floatMath ? caps.coopMatShapes(a: .f16, b: .f16, c: .f32, result: .f32)
                                        : caps.coopMatShapes(a: .s8, b: .s8, c: .s32, result: .s32)
            if shapes.isEmpty { return no("device reports no subgroup-scope \(family) cooperative-matrix shape") }
            let allowedK = p.op.floatMath ? [16, 32, 64] : [32, 64]
            if let k = options.coopMatKStep, !allowedK.contains(k) {
                return no("K step \(k) is not one the kernel supports (\(allowedK.map(String.init).joined(separator: ", ")))")
            }
            if let b = options.coopMatBuffers, ![0, 1, 2].contains(b) { return no("shared-memory buffers must be 0, 1 or 2, got \(b)") }
            if let s = options.coopMatSplitK, !(1...64).contains(s) { return no("split-K slices must be 1…64, got \(s)") }
            if let s = options.coopMatSwizzle, !(1...64).contains(s) { return no("raster group must be 1…64 tile rows, got \(s)") }
            if let d = options.coopMatPrefetch, ![1, 2].contains(d) { return no("prefetch distance must be 1 or 2 K steps, got \(d)") }
            // (8: the direct kernel's staged form only — its loop barrier without memory semantics.)
            if !(0...7).contains(options.coopMatAblate) && !(options.coopMatAblate & ~7 == 8 && options.coopMatBuffers == 0) {
                return no("ablation flags must be 0…7 (8…15 with the direct kernel, --buffers 0), got \(options.coopMatAblate)")
            }
            let kQuantum = p.op.floatMath ? 8 : 16     // values per 16-byte shared-memory vector
            let usable = shapes.filter { s in [8, 16, 32].contains(s.m) && [8, 16, 32].contains(s.n) && s.k % kQuantum == 0 && (p.op.floatMath ? 16 : 32) % s.k == 0 }
            guard let mma = usable.max(by: { ($0.m * $0.n * $0.k, $0.n) < ($1.m * $1.n * $1.k, $1.n) }) else {
                return no("no reported shape fits the kernel (M,N ∈ {8,16,32}, K dividing \(p.op.floatMath ? 16 : 32)): \(shapes.map(\.description).joined(separator: "; "))")
            }
            if p.op == .dq8ca_q4gsw && p.groupSize % 32 != 0 {
                return no("group size \(p.groupSize) is not a multiple of the int8 K step 32")
            }
            let sgs = caps.subgroupSize
            if (mma.m * mma.n) % sgs != 0 { return no("MMA tile \(mma.m)x\(mma.n) has fewer elements than a subgroup of \(sgs)") }
            let key = VariantKey(family: p.op.floatMath ? .coopmatFloat : .coopmatInt, weight: p.op.weightFormat, act: p.act)
            guard let shader = variant(key) else { return no("no variant compiled for \(key)") }

            // buffers 0: the direct kernel (coopmat_direct: fp16 weights, no shared memory, fragments
            // built in registers for the probed layout mma16816 — MMA 16×8×16 whatever the largest
            // reported shape).
            let direct = variant(VariantKey(family: .coopmatDirect, weight: p.op.weightFormat, act: p.act))
            func directRefusal() -> String? {
                if p.op != .fp16 { return "the direct kernel (buffers 0) is for fp16 weights only, not \(p.op.rawValue)" }
                if options.fragmentLayout != .mma16816 { return "the direct kernel (buffers 0) builds fragments for the layout mma16816, which the device's self-test did not find" }
                if sgs != 32 { return "the direct kernel (buffers 0) is written for subgroups of 32, the device runs \(sgs)" }
                if !shapes.contains(where: { $0.m == 16 && $0.n == 8 && $0.k == 16 }) { return "the direct kernel (buffers 0) needs the 16×8×16 MMA, which the device does not report" }
                if direct == nil { return "no direct variant compiled for \(p.op.rawValue) × \(p.act.rawValue)" }
                return nil
            }
            func config(_ s: TileShape, _ bk: Int, _ buffers: Int) -> TileConfig {
                var t = TileConfig(bm: s.bm, bn: s.bn, bk: bk, workgroupSize: s.wm * s.wn * sgs)
                t.wm = s.wm; t.wn = s.wn; t.tm = mma.m; t.tn = mma.n; t.tk = mma.k
                if buffers == 0 { t.tm = 16; t.tn = 8; t.tk = 16 }
                t.subgroupSize = sgs; t.requireSubgroupSize = caps.canRequireSubgroupSize
                t.buffers = buffers
                return t
            }
            let chunk = p.op.floatMath ? 8 : 16      // values per 16-byte load
            func fits(_ t: TileConfig) -> String? {
                if t.bm % t.wm != 0 || t.bn % t.wn != 0 || (t.bm / t.wm) % t.tm != 0 || (t.bn / t.wn) % t.tn != 0 {
                    return "tile \(t.bm)x\(t.bn) over \(t.wm)x\(t.wn) subgroups is not a multiple of the MMA shape \(t.tm)x\(t.tn)"
                }
                if t.bk % t.tk != 0 || t.bk % chunk != 0 { return "K step \(t.bk) is not a multiple of the MMA K \(t.tk) and the \(chunk)-value load" }
                if t.buffers == 0 {
                    if let why = directRefusal() { return why }
                    if t.bk % 32 != 0 { return "the direct kernel's K step (\(t.bk)) is whole 32-value blocks" }
                    if t.sharedBytes(kind: .coopmat, op: p.op) > caps.sharedMemoryBytes { return "the direct kernel's staged x rows need \(t.sharedBytes(kind: .coopmat, op: p.op)) bytes of shared memory, device has \(caps.sharedMemoryBytes)" }
                    if directRegisters(t, sets: 1) > 240 { return "the direct kernel's \(t.bm / t.wm)×\(t.bn / t.wn) subgroup tile at K step \(t.bk) holds \(directRegisters(t, sets: 1)) registers per lane in its arrays (more than 240 would spill)" }
                    let wgLimit = caps.maxWorkgroupInvocations(requiredSubgroupSize: t.requireSubgroupSize ? t.subgroupSize : nil)
                    if t.workgroupSize > wgLimit { return "\(t.workgroupSize)-invocation workgroups exceed the device's \(wgLimit)" }
                    return nil
                }
                if p.op == .dq8ca_q4gsw && p.groupSize % t.bk != 0 { return "K step \(t.bk) does not divide the group size \(p.groupSize)" }
                // The int8 kernels read whole K steps of the zero-padded rows (K padded to 32).
                if p.op == .dq8ca_q8csw && roundUp(p.k, 32) % t.bk != 0 { return "K step \(t.bk) does not divide the padded K \(roundUp(p.k, 32))" }
                let wgLimit = caps.maxWorkgroupInvocations(requiredSubgroupSize: t.requireSubgroupSize ? t.subgroupSize : nil)
                if t.workgroupSize > wgLimit { return "\(t.workgroupSize)-invocation workgroups exceed the device's \(wgLimit)" }
                if t.sharedBytes(kind: .coopmat, op: p.op) > caps.sharedMemoryBytes { return "needs \(t.sharedBytes(kind: .coopmat, op: p.op)) bytes of shared memory, device has \(caps.sharedMemoryBytes)" }
                if max(t.bm, t.bn) * t.bk / chunk > 8 * t.workgroupSize { return "more than 8 prefetch slots per thread" }
                return nil
            }
            // What does not fit is retried with one shared buffer, then at K step 32 (less shared
            // memory), unless the caller forced that knob, before giving up on the tile.
            func fitting(_ s: TileShape, _ bk: Int, _ buffers: Int) -> (TileConfig?, String?) {
                // Tables come from files: every dimension is checked before any arithmetic on it.
                guard [s.bm, s.bn, s.wm, s.wn].allSatisfy({ (1...1024).contains($0) }) else { return (nil, "tile \(s) has a dimension outside 1…1024") }
                guard allowedK.contains(bk) else { return (nil, "K step \(bk) is not one the kernel supports (\(allowedK.map(String.init).joined(separator: ", ")))") }
                guard [0, 1, 2].contains(buffers) else { return (nil, "shared-memory buffers must be 0, 1 or 2, got \(buffers)") }
                var tries = [(bk, buffers)]
                if buffers == 2, options.coopMatBuffers == nil { tries.append((bk, 1)) }
                if bk != 32, options.coopMatKStep == nil { tries += [(32, buffers)] + (buffers == 2 && options.coopMatBuffers == nil ? [(32, 1)] : []) }
                var first: String?
                for (k, b) in tries {
                    let t = config(s, k, b)
                    guard let why = fits(t) else { return (t, nil) }
                    if first == nil { first = why }
                }
                return (nil, first)
            }
            var t: TileConfig?
            var tuning: String?
            var split = options.coopMatSplitK ?? 1
            var swizzle = options.coopMatSwizzle ?? 1
            var prefetch = options.coopMatPrefetch ?? 1
            if let forced = options.coopMatTile {
                let (c, why) = fitting(forced, options.coopMatKStep ?? 32, options.coopMatBuffers ?? 2)
                guard let c else { return no("forced tile \(forced): \(why ?? "")") }
                t = c
                reasons.append("tile \(forced) forced by the caller")
            } else {
                let table = options.tuning ?? TuningTable.forDevice(caps)
                for (i, rule) in table.coopmat.enumerated() {
                    if let ops = rule.ops, !ops.contains(p.op) { continue }
                    if let w = rule.when, !w.holds(p) { continue }
                    let (c, why) = fitting(rule.tile, options.coopMatKStep ?? rule.kStep ?? 32, options.coopMatBuffers ?? rule.buffers ?? 2)
                    guard let c else { reasons.append("tuning rule \(i) (\(rule.tile)) skipped: \(why ?? "")"); continue }
                    if let sk = rule.splitK, !(1...64).contains(sk) { reasons.append("tuning rule \(i) skipped: split-K \(sk) is not in 1…64"); continue }
                    if let sw = rule.swizzle, !(1...64).contains(sw) { reasons.append("tuning rule \(i) skipped: raster group \(sw) is not in 1…64"); continue }
                    if let d = rule.prefetch, ![1, 2].contains(d) { reasons.append("tuning rule \(i) skipped: prefetch distance \(d) is not 1 or 2"); continue }
                    if c.buffers == 0 {
                        // The direct kernel: no split-K, and its arrays within the registers with the rule's sets.
                        if (options.coopMatSplitK ?? rule.splitK ?? 1) > 1 { reasons.append("tuning rule \(i) skipped: split-K is not offered with the direct kernel (buffers 0)"); continue }
                        if directRegisters(c, sets: options.coopMatPrefetch ?? rule.prefetch ?? 1) > 240 { reasons.append("tuning rule \(i) skipped: the direct kernel's arrays would take more than 240 registers"); continue }
                    }
                    t = c
                    tuning = "\(table.name) rule \(i)"
                    if options.coopMatSplitK == nil { split = rule.splitK ?? 1 }
                    if options.coopMatSwizzle == nil { swizzle = rule.swizzle ?? 1 }
                    if options.coopMatPrefetch == nil { prefetch = rule.prefetch ?? 1 }
                    reasons.append("\(table.name) tuning rule \(i): \(rule.when?.text ?? "always") → \(rule.tile), K step \(c.bk), \(c.buffers == 0 ? "direct (no shared-memory staging of the weights)" : c.buffers == 2 ? "double-buffered" : "single-buffered")\(rule.note.map { " (\($0))" } ?? "")")
                    break
                }
            }
            guard var t else { return no("no tuning rule gives a tile that fits: \(reasons.joined(separator: "; "))") }
            t.swizzle = swizzle
            t.ablate = options.coopMatAblate
            // The int8 kernels keep one step in flight (no PD constant); float kernels 1 or 2 when
            // single-buffered (their double-buffered loop has one register set, no PD); the direct
            // kernel 1 or 2 register sets.
            t.prefetch = p.op.floatMath && t.buffers <= 1 ? prefetch : 1
            if t.prefetch > 1 { reasons.append("\(t.prefetch) K steps of global loads in flight (register sets)") }
            if t.buffers == 0, directRegisters(t, sets: t.prefetch) > 240 {
                return no("the direct kernel's \(t.bm / t.wm)×\(t.bn / t.wn) subgroup tile at K step \(t.bk) with \(t.prefetch) register sets holds \(directRegisters(t, sets: t.prefetch)) registers per lane in its arrays (more than 240 would spill)")
            }
            // 32-value INT4 loads only where every thread gets at least one per step: with fewer
            // loads than threads a quarter of them would dequantize the whole B tile (H100: 0.73–0.82×
            // at 256×128 tiles, K step 32; 1.31–1.33× at 64×64, K step 64 — bench/gpu_s8g.sh).
            if p.op == .q4gsw && p.groupSize % 32 == 0 && p.k % 32 == 0 && t.bk % 32 == 0 && t.bn * (t.bk / 32) >= t.workgroupSize {
                t.q4Pieces = 1
                reasons.append("INT4 weights: one 16-byte load and one group scale per 32 values")
            }
            if swizzle > 1 { reasons.append("workgroups walk the output in groups of \(swizzle) tile rows (L2 reuse)") }
            if options.coopMatAblate != 0 { reasons.append("ABLATED main loop (\(options.coopMatAblate)): diagnostics, the results are wrong") }
            var plan = KernelPlan(problem: p, kernel: .coopmat, shader: shader, quantShader: quant, tile: t, tuning: tuning, reasons: reasons)
            if t.buffers == 0, let direct {
                plan.shader = direct
                plan.reasons.append(t.directStagesX
                    ? "direct kernel (coopmat_direct) with x staged: the workgroup's \(t.bm) x rows in two shared buffers in the MMAs' K order (one barrier per K step), each subgroup's \(t.bn / t.wn) weight rows straight into registers (16-byte loads, layout mma16816); MMA 16×8×16"
                    : "direct kernel (coopmat_direct): no shared memory and no barrier in the loop — each lane loads the x and weight values its own fragment elements hold (16-byte loads, layout mma16816), subgroups sharing rows find them in L1; MMA 16×8×16")
                if split > 1 { return no("split-K is not offered with the direct kernel (buffers 0)") }
            }
            if split > 1 {
                // K loop length as the kernel sees it (int8 Q8: the padded K as one group), and the
                // slice alignment: the K step, and for Q4 int8 whole groups (folded per group).
                let kLoop = p.op == .dq8ca_q8csw ? roundUp(p.k, 32) : p.k
                let align = p.op == .dq8ca_q4gsw ? max(t.bk, p.groupSize) : t.bk
                let slice = roundUp((kLoop + split - 1) / split, align)
                let slices = (kLoop + slice - 1) / slice
                if slices > 1 {
                    let family: KernelFamily = p.op.floatMath ? .coopmatFloatSplitk : .coopmatIntSplitk
                    guard let sk = variant(VariantKey(family: family, weight: p.op.weightFormat, act: p.act)),
                          let red = variant(VariantKey(family: p.op.floatMath ? .splitkReduceFloat : .splitkReduceInt, act: p.act)) else {
                        return no("no split-K variant compiled for \(p.op.rawValue)")
                    }
                    if slices > caps.maxWorkgroupCount[2] { return no("\(slices) split-K slices exceed the device's \(caps.maxWorkgroupCount[2]) workgroups along z") }
                    plan.shader = sk; plan.reduceShader = red; plan.splitK = slices; plan.kSlice = slice
                    plan.reasons.append("split-K: \(slices) slices of \(slice) K values, fp32 partials reduced by a second pass")
                } else {
                    plan.reasons.append("split-K \(split) asked, but K = \(kLoop) gives one slice")
                }
            }
            reasons = plan.reasons
            reasons.append("MMA \(mma.description) from the device's cooperative-matrix properties")
            reasons.append("subgroup size \(sgs)\(caps.canRequireSubgroupSize ? " required per pipeline" : " (device default)")")
            reasons.append(p.op.floatMath ? "fp16 operands, fp32 accumulation" : "int8 operands, int32 accumulation per \(p.op == .dq8ca_q4gsw ? "group" : "row"), fp32 scaling")
            if p.m <= 8 { reasons.append("M = \(p.m) uses \(p.m) of every \(plan.tile.tm) MMA rows") }
            plan.reasons = reasons
            return .success(plan)
        }
    }
}

extension Dispatcher {
    /// Registers the direct kernel's arrays take per lane: 4 per 16×8 accumulator, and per register
    /// set 4 per 16-byte load (two per 16-row A fragment, one per 8-row B fragment, per 32-value block).
    /// With x staged (WM = 1): the accumulators, the weight sets, two sets of the x chunks each
    /// invocation stages per step and one A fragment.
    static func directRegisters(_ t: TileConfig, sets: Int) -> Int {
        let fa = t.bm / max(t.wm, 1) / 16, fb = t.bn / max(t.wn, 1) / 8
        if t.directStagesX {
            let chunks = (t.bm * (t.bk / 32) * 4 + max(t.workgroupSize, 1) - 1) / max(t.workgroupSize, 1)
            return fa * fb * 4 + sets * (t.bk / 32) * fb * 4 + 2 * chunks * 4 + 4   // (x: two sets, two steps ahead)
        }
        return fa * fb * 4 + sets * (t.bk / 32) * (2 * fa + fb) * 4
    }

    /// The plan for `gemv_q4_xreg` (q4gsw × fp16 activations, packed fp16 math, activations in
    /// registers), or nil when it does not apply to `p` on this device (the caller then uses the
    /// packed-fp16 column kernel). A configuration that can never be valid is a failure.
    static func xregPlan(_ p: Problem, caps: Capabilities, options: DispatchOptions, config: GemvConfig, tuning: String?, quant: ShaderID?,
                         reasons: [String], lookup: (VariantKey) -> ShaderID?) -> Result<KernelPlan, DispatchRejection>? {
        func no(_ s: String) -> Result<KernelPlan, DispatchRejection> { .failure(DispatchRejection(reason: s)) }
        guard p.op == .q4gsw, p.act == .f16, p.m <= 8, caps.shaderFloat16, caps.subgroupShuffle, options.gemvHalfMath else { return nil }
        let wg = config.threads, sgs = caps.subgroupSize
        let bm = p.m <= 1 ? 1 : p.m <= 2 ? 2 : p.m <= 4 ? 4 : 8
        guard (1...64).contains(config.columns), [1, 2, 4, 8].contains(config.unroll), config.columns % config.unroll == 0 else {
            return no("matrix–vector configuration \(config): columns 1…64, a multiple of the columns in flight (1, 2, 4 or 8)")
        }
        // (With a required subgroup size the limit is also sgs × maxComputeWorkgroupSubgroups.)
        let wgLimit = caps.maxWorkgroupInvocations(requiredSubgroupSize: caps.canRequireSubgroupSize ? sgs : nil)
        guard sgs >= 4, wg >= sgs, wg % sgs == 0, wg <= 1024, wg <= wgLimit, wg <= caps.maxWorkgroupSize[0] else {
            return no("\(wg)-thread workgroups: not a multiple of the subgroup size \(sgs) (≥ 4) or over the device's \(wgLimit) (x ≤ \(caps.maxWorkgroupSize[0]))")
        }
        // Limits that depend on M fall back to the column kernel instead of failing.
        guard bm * config.unroll <= 32 else { return nil }
        let chunks = (p.k + 31) / 32
        // At most 2 chunks per thread (more passes beyond): bounds the unrolled code, which CPU
        // drivers compile slowly (lavapipe took minutes for 4 chunks × 2 rows with several passes).
        let cpt = max(1, min(2, (chunks + wg - 1) / wg))
        guard bm * cpt <= 8 else { return nil }   // more activation registers than the kernel is meant for
        let shared = 2 * (wg / 4) * bm * config.unroll * 4
        if shared > caps.sharedMemoryBytes { return nil }
        guard let shader = lookup(VariantKey(family: .gemvQ4Xreg, weight: .q4, act: .f16)) else { return nil }
        var t = TileConfig(bm: bm, bn: config.columns, bk: config.unroll, workgroupSize: wg)
        t.subgroupSize = sgs
        t.requireSubgroupSize = caps.canRequireSubgroupSize
        t.group = p.groupSize
        t.chunksPerThread = cpt
        var r = reasons
        r.append("\(config): \(cpt) chunk(s) of 32 activations per thread held in registers\((chunks + wg * cpt - 1) / (wg * cpt) > 1 ? " (K takes \((chunks + wg * cpt - 1) / (wg * cpt)) passes)" : ""), 16-byte weight loads")
        r.append("INT4 × fp16 in packed fp16 (8-term partials, then fp32 sums; fp32 redo on fp16 overflow); subgroup reduce-scatter")
        return .success(KernelPlan(problem: p, kernel: .gemv, shader: shader, quantShader: quant, tile: t, tuning: tuning, reasons: r))
    }
}

extension Dispatcher {
    /// The plan for `gemv_q4_sg` (q4gsw × fp16 activations, packed fp16 math, K split inside one
    /// subgroup, activations staged in shared memory), or nil when it does not apply to `p` on this
    /// device (the caller then uses the packed-fp16 column kernel). A configuration that can never
    /// be valid is a failure.
    static func sgPlan(_ p: Problem, caps: Capabilities, options: DispatchOptions, config: GemvConfig, tuning: String?, quant: ShaderID?,
                       reasons: [String], lookup: (VariantKey) -> ShaderID?) -> Result<KernelPlan, DispatchRejection>? {
        func no(_ s: String) -> Result<KernelPlan, DispatchRejection> { .failure(DispatchRejection(reason: s)) }
        let wg = config.threads, sgs = caps.subgroupSize
        guard [1, 2, 4, 8].contains(config.columns), [1, 2, 4, 8].contains(config.unroll) else {
            return no("matrix–vector configuration \(config): columns per subgroup and chunks in flight must be 1, 2, 4 or 8")
        }
        // (With a required subgroup size the limit is also sgs × maxComputeWorkgroupSubgroups.)
        let wgLimit = caps.maxWorkgroupInvocations(requiredSubgroupSize: caps.canRequireSubgroupSize ? sgs : nil)
        guard sgs >= 4, wg >= sgs, wg % sgs == 0, wg <= 1024, wg <= wgLimit, wg <= caps.maxWorkgroupSize[0] else {
            return no("\(wg)-thread workgroups: not a multiple of the subgroup size \(sgs) (≥ 4) or over the device's \(wgLimit) (x ≤ \(caps.maxWorkgroupSize[0]))")
        }
        let ks = config.splitK ?? 1, passes = config.prefetch ?? 1
        guard [1, 2, 4, 8, 16].contains(ks), (wg / sgs) % ks == 0, (1...16).contains(passes) else {
            return no("matrix–vector configuration \(config): subgroups per column (1, 2, 4, 8 or 16) must divide the workgroup's \(wg / sgs) subgroups; column groups per subgroup 1…16")
        }
        if p.op.quantizesActivations {
            return dqPlan(p, caps: caps, config: config, tuning: tuning, reasons: reasons, lookup: lookup)
        }
        // What depends on the problem or device falls back to the column kernel.
        guard p.op == .q4gsw, p.act == .f16, caps.shaderFloat16, caps.subgroupArithmetic, options.gemvHalfMath, p.m <= 8 else { return nil }
        guard config.columns * config.unroll <= 32, p.m * config.columns <= 32 else { return nil }   // registers
        // Several subgroups per column need the subgroup count the plan assumes.
        if ks > 1 && !caps.canRequireSubgroupSize { return nil }
        let chunks = (p.k + 31) / 32
        let l1 = config.l1 == true
        guard let shared = sgSharedBytes(m: p.m, chunks: l1 ? 0 : chunks, workgroup: wg, subgroup: sgs, columns: config.columns, split: ks),
              shared <= caps.sharedMemoryBytes else { return nil }
        guard let shader = lookup(VariantKey(family: .gemvQ4Sg, weight: .q4, act: .f16)) else { return nil }
        var t = TileConfig(bm: p.m, bn: config.columns * (wg / sgs) / ks * passes, bk: config.unroll, workgroupSize: wg)
        t.subgroupSize = sgs
        t.requireSubgroupSize = caps.canRequireSubgroupSize
        t.group = p.groupSize
        t.subgroupColumns = config.columns
        t.stagedChunks = l1 ? 0 : chunks
        t.subgroupSplit = ks
        t.activationsL1 = l1 ? 1 : 0
        var r = reasons
        r.append("\(config): \(l1 ? "activations read through L1 per chunk, no staging" : "\(p.m * chunks * 64) bytes of activations staged in shared memory once per workgroup\(ks > 1 ? "" : ", then no barrier")"); \(ks > 1 ? "\(ks) subgroups split" : "each subgroup streams") \(config.columns) column(s) over all of K, \(config.columns * config.unroll) 16-byte weight loads in flight per lane")
        r.append("INT4 × fp16 in packed fp16 (8-term partials, then fp32 sums; fp32 redo on fp16 overflow); subgroupAdd per column")
        return .success(KernelPlan(problem: p, kernel: .gemv, shader: shader, quantShader: quant, tile: t, tuning: tuning, reasons: r))
    }
}

extension Dispatcher {
    /// The plan for `gemv_dq` (dq8ca ops, M ≤ 8): an `sg` configuration's layout with the
    /// activations quantized inside the kernel (no quantization pass). nil where it cannot run
    /// here (the caller falls back to the int8 column kernel with its pass).
    static func dqPlan(_ p: Problem, caps: Capabilities, config: GemvConfig, tuning: String?, reasons: [String],
                       lookup: (VariantKey) -> ShaderID?) -> Result<KernelPlan, DispatchRejection>? {
        let wg = config.threads, sgs = caps.subgroupSize
        guard p.m <= 8, config.l1 != true, caps.integerDotProduct, caps.canRequireSubgroupSize, caps.subgroupArithmetic else { return nil }
        guard p.op == .dq8ca_q8csw || (p.groupSize % 32 == 0 && p.k % p.groupSize == 0) else { return nil }
        guard config.columns * config.unroll <= 32, p.m * config.columns <= 32 else { return nil }   // registers
        let ks = config.splitK ?? 1, passes = config.prefetch ?? 1
        let chunks = (p.k + 31) / 32
        guard let shared = dqSharedBytes(m: p.m, chunks: chunks, workgroup: wg, subgroup: sgs, columns: config.columns, split: ks, q4: p.op == .dq8ca_q4gsw),
              shared <= caps.sharedMemoryBytes else { return nil }
        let features: Set<VariantFeature> = caps.shaderFloat64 ? [.dot, .fp64] : [.dot]
        guard let shader = lookup(VariantKey(family: .gemvDq, weight: p.op == .dq8ca_q4gsw ? .q4 : .q8, act: p.act, features: features)) else { return nil }
        var t = TileConfig(bm: p.m, bn: config.columns * (wg / sgs) / ks * passes, bk: config.unroll, workgroupSize: wg)
        t.subgroupSize = sgs
        t.requireSubgroupSize = true
        t.group = p.op == .dq8ca_q4gsw ? p.groupSize : 0
        t.subgroupColumns = config.columns
        t.stagedChunks = chunks
        t.subgroupSplit = ks
        var r = reasons
        r.append("\(config): activations quantized inside the kernel by every workgroup (\(p.m * chunks * 32) bytes of int8 rows in shared memory; no quantization pass, one dispatch); \(ks > 1 ? "\(ks) subgroups split" : "each subgroup streams") \(config.columns) column(s) over all of K, \(config.columns * config.unroll) weight chunks in flight per lane")
        var plan = KernelPlan(problem: p, kernel: .gemv, shader: shader, quantShader: nil, tile: t, tuning: tuning, reasons: r)
        plan.quantFused = true
        return .success(plan)
    }

    /// Shared memory `gemv_dq` declares: the int8 rows (32 bytes per chunk and row; Q4 also a
    /// chunk sum, 4 bytes), the range reduction (two floats per row and subgroup), the row
    /// parameters and, with K split over subgroups, two sets of partial sums. nil on overflow.
    static func dqSharedBytes(m: Int, chunks: Int, workgroup: Int, subgroup: Int, columns: Int, split: Int, q4: Bool) -> Int? {
        guard m >= 1, chunks >= 0, workgroup >= 1, subgroup >= 1, columns >= 1, split >= 1 else { return nil }
        let nsg = workgroup / subgroup
        return try? [Checked.product([m, chunks, q4 ? 36 : 32], ""), Checked.product([m, nsg, 8], ""), Checked.product([m, 20], ""),
                     split > 1 ? Checked.product([2, nsg, m, columns, 4], "") : 4].reduce(0) { try Checked.add($0, $1, "") }
    }

    /// Shared memory `gemv_q4_sg` declares: the staged activations (64 bytes per 32-value chunk and
    /// row; none through L1) and the partial sums (two sets of WG/SGS·M·R floats when K is split
    /// over subgroups, else one float). nil on overflow.
    static func sgSharedBytes(m: Int, chunks: Int, workgroup: Int, subgroup: Int, columns: Int, split: Int) -> Int? {
        guard m >= 0, chunks >= 0, workgroup >= 0, subgroup >= 1, columns >= 0 else { return nil }
        return try? Checked.add(Checked.product([m, chunks, 64], ""), split > 1 ? Checked.product([2, workgroup / subgroup, m, columns, 4], "") : 4, "")
    }

    /// The plan for `gemv_frag` / `gemv_frag_dq` (every op; K a multiple of 128, INT4 groups too:
    /// tensor cores with fragments built in registers; M > 32 in tiles of 32 x rows, one workgroup
    /// per row group and tile), or nil when it does not apply to `p` on this
    /// device (the caller then tries the next rule or the column kernel). A configuration that can
    /// never be valid is a failure.
    static func fragPlan(_ p: Problem, caps: Capabilities, options: DispatchOptions, config: GemvConfig, tuning: String?, quant: ShaderID?,
                         reasons: [String], lookup: (VariantKey) -> ShaderID?) -> Result<KernelPlan, DispatchRejection>? {
        func no(_ s: String) -> Result<KernelPlan, DispatchRejection> { .failure(DispatchRejection(reason: s)) }
        let r = config.columns, wg = config.threads, pd = config.unroll, ks = config.splitK ?? 1
        guard [1, 2, 4].contains(r), [1, 2].contains(pd), [32, 64, 128, 256, 512].contains(wg), [1, 2, 4, 8, 16].contains(ks), wg / 32 >= ks, (wg / 32) % ks == 0 else {
            return no("register-fragment configuration \(config): 1, 2 or 4 tiles per subgroup, 32…512 threads (a power of two), 1 or 2 blocks in flight, K split over 1…16 subgroups dividing the workgroup's")
        }
        let dq = p.op.quantizesActivations
        let q4 = p.op.weightFormat == .q4
        let gemm = config.xRows != nil
        // dq8ca_q8csw's prefill form multiplies with int8 MMAs (gemm_frag_i8), written for the
        // probed int8 layout; every other register-fragment kernel with f16 MMAs (mma16816).
        // dq8ca_q4gsw takes it where the configuration says so (…i), with one weight register set
        // per block in flight (no …h).
        let int8 = gemm && (p.op == .dq8ca_q8csw || (p.op == .dq8ca_q4gsw && config.int8 == true))
        // (These depend on the op, so a table's rule can name them for another op: a rule gives way
        // to the next one — `tuning` names it —, a forced configuration gets the reason.)
        let forced = tuning == nil
        if config.int8 == true && gemm && !int8 {
            guard forced else { return nil }
            return no("\(config.compact): int8 MMAs (i) are a form of the dq8ca ops' prefill kernel (gemm_frag_i8), not \(p.op.rawValue)'s")
        }
        if int8 && (config.xLoad != true || (config.xStore ?? 0) != 0 || (q4 && config.weightHalves == true)) {
            guard forced else { return nil }
            return no("the int8 prefill form (gemm_frag_i8) loads B by coopMatLoad, stores x after the block and, for INT4 weights, keeps whole blocks: \(config.compact) asks for \(config.xLoad != true ? "B built from words" : config.weightHalves == true && q4 ? "INT4 weights in half blocks" : "x stored at step \(config.xStore ?? 0)") (use …l, no …e; INT4: no …h)")
        }
        if gemm && !int8 && (config.kBlock != nil || config.xRows == 128 || ks > 1) {
            guard forced else { return nil }
            return no("\(config.compact): 128 x rows, 256-value K blocks and x rows split over subgroups (s) are choices of the int8 prefill form (gemm_frag_i8: dq8ca_q8csw, and dq8ca_q4gsw with …i) only")
        }
        // The fused quantization (gemv_frag_dqf): the dq8ca ops' matrix–vector form only.
        let fused = config.fuseQuant == true
        if fused && (!dq || gemm) {
            guard forced else { return nil }
            return no("\(config.compact): the fused quantization (q) is a form of the dq8ca ops' matrix–vector kernels (not \(p.op.rawValue)\(gemm ? ", not the prefill form" : ""))")
        }
        // The quantization pass inside the dispatch (gemv_frag_dqs): the same, not staged.
        let sync = config.quantInDispatch == true
        if sync && (!dq || gemm || config.xs == true || fused) {
            guard forced else { return nil }
            return no("\(config.compact): the quantization pass inside the dispatch (d) is a form of the dq8ca ops' unstaged matrix–vector kernel (not \(p.op.rawValue)\(gemm ? ", not the prefill form" : "")\(config.xs == true ? ", not staged" : ""))")
        }
        let kBlock = config.kBlock ?? 128
        let mmaOK = int8
            ? options.brokenCoopMat[CoopMatFamily.s8] == nil && options.int8FragmentLayout == .mma16832s8 && caps.shaderInt8
                && caps.coopMatShapes(a: .s8, b: .s8, c: .s32, result: .s32).contains(where: { $0.m == 16 && $0.n == 8 && $0.k == 32 })
            : options.brokenCoopMat[CoopMatFamily.f16] == nil && options.fragmentLayout == .mma16816
                && caps.coopMatShapes(a: .f16, b: .f16, c: .f32, result: .f32).contains(where: { $0.m == 16 && $0.n == 8 && $0.k == 16 })
        // K a multiple of 128 and of the block (INT4: groups a multiple of 128, so a 128-value
        // block or sub-block lies in one group); int8: the exact int32 sums
        // of |q·(xq − zp)| ≤ 128·255 per value (|q·xq| ≤ 128·128 in the int8 form) stay below 2^31
        // for K ≤ 65536.
        // (The fused prologue reduces with subgroup arithmetic; plan() refuses dq8ca ops without
        // it before this runs — the guard is for direct callers.)
        guard !dq || quant != nil || fused || sync, !(fused || sync) || caps.subgroupArithmetic, p.k % 128 == 0, p.k % kBlock == 0, !q4 || p.groupSize % 128 == 0, p.op != .dq8ca_q8csw || p.k <= 65536,
              !options.disableCoopMat, caps.cooperativeMatrix,
              caps.vulkanMemoryModel, mmaOK,
              FragmentLayout.runsAt32(caps),
              wg <= caps.maxWorkgroupInvocations(requiredSubgroupSize: caps.canRequireSubgroupSize ? 32 : nil), wg <= caps.maxWorkgroupSize[0]
        else { return nil }
        if gemm {
            guard config.problem == nil else { return no(config.problem!) }
        }
        let tn = config.xRows ?? (p.m <= 8 ? 8 : p.m <= 16 ? 16 : 32)
        let bn = (wg / 32 / ks) * r * 16
        let staged = config.xs == true
        let family = KernelFamily.registerFragment(dq: dq, staged: staged, gemm: gemm, int8: int8, fused: fused, sync: sync)
        let features: Set<VariantFeature> = (fused || sync) && caps.shaderFloat64 ? [.fp64] : []
        guard let groups = try? Checked.product([(p.n + bn - 1) / bn, (p.m + tn - 1) / tn], ""), groups <= caps.maxWorkgroupCount[0],
              let shared = Dispatcher.fragSharedBytes(workgroup: wg, tiles: r, tn: tn, split: ks, xTiles: p.m > tn, staged: staged ? pd : 0, gemm: gemm, bLoad: config.xLoad == true, int8: int8, kBlock: kBlock, fused: fused, sync: sync), shared <= caps.sharedMemoryBytes,
              let shader = lookup(VariantKey(family: family, weight: p.op.weightFormat, act: p.act, features: features)) else { return nil }
        var t = TileConfig(bm: tn, bn: bn, bk: kBlock, workgroupSize: wg)
        t.tm = 16; t.tn = tn; t.tk = int8 ? 32 : 16
        t.subgroupSize = 32
        t.requireSubgroupSize = caps.canRequireSubgroupSize
        t.subgroupColumns = r; t.subgroupSplit = ks; t.prefetch = pd
        t.group = q4 ? p.groupSize : 0
        t.xTiles = p.m > tn ? 1 : 0
        if gemm {
            t.bLoad = config.xLoad == true ? 1 : 0
            t.xStoreStep = config.xStore ?? 0
            t.weightHalves = config.weightHalves == true ? 1 : 0
            t.ablate = options.coopMatAblate   // diagnostics only (`bench --ablate`)
        }
        if sync { t.ablate = options.coopMatAblate }   // (gemv_frag_dqs: 8, 16, 32 — see the shader)
        var rs = reasons
        if t.ablate != 0 { rs.append(sync ? "DIAGNOSTICS \(t.ablate) (gemv_frag_dqs: 8 no weight loads before the wait, 16 a workgroup-scope barrier after it, 32 rows published before they are quantized — wrong results)" : "ABLATED \(t.ablate): parts of the main loop left out (diagnostics; results are wrong)") }
        if staged { rs.append("x rows staged once per workgroup in shared memory (\(fused ? "gemv_frag_dqf_xs" : dq ? "gemv_frag_dq_xs" : "gemv_frag_xs"))") }
        if fused { rs.append("activations quantized inside the kernel (\(staged ? "gemv_frag_dqf_xs" : "gemv_frag_dqf"); no quantization pass, one dispatch): each workgroup reduces its \(min(tn, p.m)) x row(s)' ranges and computes their parameters\(features.contains(.fp64) ? " (fp64)" : "") in a prologue (two barriers), then quantizes \(staged ? "the x rows once as it stages them, each step's weight loads issued first" : "the values each lane loads")") }
        if sync { rs.append("activations quantized inside the dispatch (gemv_frag_dqs; no quantization pass, one dispatch): workgroups claim the \(p.m) x row(s) one at a time from a counter in the scratch, quantize each as the pass would\(features.contains(.fp64) ? " (fp64 parameters)" : "") and publish it; every workgroup issues its first weight loads, makes its claims, waits for all \(p.m) row(s), then reads the int8 rows as gemv_frag_dq") }
        if int8 { rs.append("int8 prefill form (gemm_frag_i8): the int8 weight words as the MMA's A operand (16 × 32, probed layout mma16832s8), the quantization pass's int8 rows as B (32 × 8, \(tn / 8) fragments: M pads to \(tn)) by coopMatLoad from two shared buffers in the MMAs' K order\(ks > 1 ? ", each tile group's x rows split over \(ks) subgroups (\(tn / 8 / ks) B fragments per subgroup and step, each feeding \(r) MMA(s))" : ""), one barrier per \(kBlock)-value K block, \(config.weightHalves == true ? "weights in one register set, each block in two halves loaded \(kBlock / 64) MMA steps ahead" : "weights in two register sets, a block ahead"); \(q4 ? "INT4 as 16·(q − 8) int8 bytes (two operations per word, x bytes regrouped alike when staged), exact int32 sums per 128-value block, × the fp32 group scale / 16 into fp32 accumulators" : "int32 sums over all of K"), then y = sx·(Σ − zp·corr)") }
        else if gemm { rs.append("prefill form (\(dq ? "gemm_frag_dq" : "gemm_frag")): \(tn) x rows per workgroup staged in two shared buffers\(config.xLoad == true ? " in the MMAs' K order, B fragments by coopMatLoad" : ", B fragments built from permuted words"), \(config.weightHalves == true ? "weights in one register set, each block in two halves loaded four MMA steps ahead" : "weights in two register sets, a block ahead")\(config.xStore == 8 ? ", x a block further ahead" : ""), one barrier per 128-value K block\(q4 ? "; INT4 × its fp16 group scale as it is dequantized" : "")") }
        if !int8 { rs.append("\(config): the weights as the MMA's A operand (16 × 16), x as B (16 × 8\(tn > 8 ? ", \(tn / 8) fragments: M pads to \(tn)" : ": M pads to 8")\(p.m > tn ? "; \((p.m + tn - 1) / tn) tiles of \(tn) x rows, one workgroup each per row group" : "")), \(staged || gemm ? "weight fragments loaded straight into registers (probed layout mma16816)" : "fragments loaded straight into registers (probed layout mma16816): no staging, no barrier in the loop")") }
        switch p.op {
        case .fp16: rs.append("fp16 operands, fp32 accumulation")
        case .q4gsw: rs.append(gemm ? "INT4 dequantized to (q − 8)·scale in fp16, fp32 accumulation" : "INT4 dequantized exactly to q − 8 in fp16, Σ (q − 8)·x accumulated in fp32 per 128-value block, then × the fp32 group scale")
        case .dq8ca_q4gsw where int8: break
        case .dq8ca_q4gsw where gemm: rs.append("int8 activations as xq − zp (exact in fp16), INT4 dequantized to (q − 8)·scale in fp16, fp32 accumulation, × the row's scale at the end")
        case .dq8ca_q4gsw: rs.append("INT4 as q − 8 and int8 activations as xq − zp, both exact in fp16: each 128-value block's Σ (q − 8)(xq − zp) is an exact integer in fp32, × the group scale, × the row's scale at the end")
        case .dq8ca_q8csw where int8: break
        case .dq8ca_q8csw: rs.append("int8 weights and xq − zp exact in fp16: each 128-value block's sum an exact integer, added in int32; × the weight row's and the activation row's scales at the end")
        }
        var plan = KernelPlan(problem: p, kernel: .gemv, shader: shader, quantShader: dq && !fused && !sync ? quant : nil, tile: t, tuning: tuning, reasons: rs)
        plan.quantFused = fused || sync
        return .success(plan)
    }

    /// Shared memory `gemv_frag` declares: the K parts' accumulators, R·(TN/8)·4·32 words per slot —
    /// a slot per subgroup, (WG/32)·R·(TN/8)·4·32 words, where M ≤ TN and nothing is staged; the
    /// slots of parts 1 … KS − 1 only plus one word, (WG/32/KS)·(KS − 1)·R·(TN/8)·4·32 + 1 words,
    /// where `xTiles` (M > TN) or `staged` (each is the size the table's rules were measured with:
    /// the H100's compiler spills registers differently with each; see gemv_frag.comp) — and, with
    /// `staged` > 0 (`gemv_frag_xs`, that many blocks in flight), the staged x rows,
    /// TN · (KS·PD·16 + 4) · 16 bytes. nil on overflow or a split that does not divide the
    /// workgroup's subgroups.
    /// `gemm` (`gemm_frag`, K not split): the two x buffers, 2 · TN · (17 with `bLoad`, else 20) · 16
    /// bytes, and one word.
    /// `int8` (`gemm_frag_i8`; `split` = subgroups sharing a tile group, dividing TN / 8): the two
    /// x buffers of int8 rows, 2 · TN · (kBlock / 16 + 1) · 16 bytes.
    /// `fused` (`gemv_frag_dqf`, staged or not; not gemm): plus the quantization prologue's arrays —
    /// two floats per row and partial range (WG/TN threads per row: one partial per subgroup where
    /// that is ≥ 32, else per thread), and per row the scale, zero point and 1/scale (8 bytes).
    static func fragSharedBytes(workgroup: Int, tiles: Int, tn: Int, split: Int, xTiles: Bool = false, staged: Int = 0, gemm: Bool = false, bLoad: Bool = false, int8: Bool = false,
                                kBlock: Int = 128, fused: Bool = false, sync: Bool = false) -> Int? {
        guard workgroup >= 0, tiles >= 0, tn >= 0, split >= 1, staged >= 0, (workgroup / 32) % split == 0, kBlock >= 16 else { return nil }
        if sync {
            // gemv_frag_dqs: the ticket, the subgroups' partial ranges, the row's parameters.
            guard !fused, !gemm, !int8, staged == 0,
                  let base = fragSharedBytes(workgroup: workgroup, tiles: tiles, tn: tn, split: split, xTiles: xTiles, kBlock: kBlock) else { return nil }
            return try? Checked.add(base, Checked.add(Checked.product([workgroup / 32, 8], ""), 20, ""), "")
        }
        if fused {
            guard !gemm, !int8, tn >= 1, workgroup >= tn,
                  let base = fragSharedBytes(workgroup: workgroup, tiles: tiles, tn: tn, split: split, xTiles: xTiles, staged: staged, kBlock: kBlock) else { return nil }
            let perRow = workgroup / tn
            let parts = perRow >= 32 ? perRow / 32 : perRow
            return try? Checked.add(base, Checked.product([tn, Checked.add(Checked.product([parts, 8], ""), 16, "")], ""), "")
        }
        if int8 { return gemm && [1, 2, 4].contains(split) && (tn / 8) % split == 0 ? try? Checked.product([2, tn, kBlock / 16 + 1, 16], "") : nil }
        if gemm { return split == 1 ? try? Checked.add(Checked.product([2, tn, bLoad ? 17 : 20, 16], ""), 4, "") : nil }
        guard staged > 0 || xTiles else { return try? Checked.product([workgroup / 32, tiles, tn / 8, 4 * 32 * 4], "") }
        return try? Checked.add(Checked.add(Checked.product([workgroup / 32 / split, split - 1, tiles, tn / 8, 4 * 32 * 4], ""), 4, ""),
                                staged > 0 ? Checked.product([tn, Checked.add(Checked.product([split, staged, 16], ""), 4, ""), 16], "") : 0, "")
    }

    /// The plan for `gemv_mma` (tensor-core matrix–vector kernel, fp16 or q4gsw weights, M ≤ 16),
    /// or nil when it does not apply to `p` on this device (the caller then uses the column kernel).
    /// A configuration that can never be valid is a failure.
    static func mmaPlan(_ p: Problem, caps: Capabilities, options: DispatchOptions, config: GemvConfig, tuning: String?, quant: ShaderID?,
                        reasons: [String], lookup: (VariantKey) -> ShaderID?) -> Result<KernelPlan, DispatchRejection>? {
        func no(_ s: String) -> Result<KernelPlan, DispatchRejection> { .failure(DispatchRejection(reason: s)) }
        let bn = config.columns, wg = config.threads, bk = 32 * config.unroll, sgs = caps.subgroupSize
        let split = config.splitK ?? 1
        let pd = config.prefetch ?? 1
        guard [16, 32, 64, 128].contains(bn), [1, 2, 4].contains(config.unroll), (1...64).contains(split), (1...4).contains(pd) else {
            return no("tensor-core matrix–vector configuration \(config): columns 16, 32, 64 or 128, K step 32·(1, 2 or 4), split-K 1…64, prefetch 1…4")
        }
        // Register slots: PD steps of this lane's weight and activation loads (16 bytes each).
        let loads = pd * ((bn * (p.op == .q4gsw ? config.unroll : 4 * config.unroll) + sgs - 1) / sgs + (16 * 4 * config.unroll + sgs - 1) / sgs)
        guard loads <= 24 else { return nil }
        guard sgs >= 8, wg >= sgs, wg % sgs == 0, wg / sgs <= 16, wg <= caps.maxWorkgroupInvocations, wg <= caps.maxWorkgroupSize[0] else {
            return no("\(wg)-thread workgroups: not 1…16 subgroups of \(sgs) or over the device's \(caps.maxWorkgroupInvocations) (x ≤ \(caps.maxWorkgroupSize[0]))")
        }
        // What depends on the problem or device falls back to the column kernel.
        guard p.op == .fp16 || p.op == .q4gsw, !options.disableCoopMat, caps.cooperativeMatrix, caps.vulkanMemoryModel,
              options.brokenCoopMat[p.op.coopMatFamily] == nil, p.m <= 16 else { return nil }
        let tn = p.m <= 8 ? 8 : 16
        let shapes = caps.coopMatShapes(a: .f16, b: .f16, c: .f32, result: .f32)
        guard shapes.contains(where: { $0.m == 16 && $0.n == tn && $0.k == 16 }), (16 * tn) % sgs == 0 else { return nil }
        let shared = (wg / sgs) * (bn + tn) * (bk + 8) * 2
        guard shared <= caps.sharedMemoryBytes else { return nil }
        let key = VariantKey(family: split > 1 ? .gemvMmaSplitk : .gemvMma, weight: p.op.weightFormat, act: p.act)
        guard let shader = lookup(key) else { return nil }
        var t = TileConfig(bm: tn, bn: bn, bk: bk, workgroupSize: wg)
        t.tm = 16; t.tn = tn; t.tk = 16
        t.subgroupSize = sgs
        t.requireSubgroupSize = caps.canRequireSubgroupSize
        t.group = p.op == .q4gsw ? p.groupSize : 0
        t.prefetch = pd
        var r = reasons
        r.append("\(config): the weights as the MMA's A operand (16 × 16), x as B (16 × \(tn)): M pads to \(tn); \(wg / sgs) subgroup(s) split K, each on its own staging, \(pd) K step(s) of loads in flight")
        r.append(p.op == .q4gsw ? "INT4 dequantized to fp16 in registers (packed fp16 when the scales are fp16 values), fp32 accumulation" : "fp16 operands, fp32 accumulation")
        var plan = KernelPlan(problem: p, kernel: .gemv, shader: shader, quantShader: quant, tile: t, tuning: tuning, reasons: r)
        if split > 1 {
            let slice = roundUp((p.k + split - 1) / split, bk)
            let slices = (p.k + slice - 1) / slice
            guard slices > 1 else {
                guard let one = lookup(VariantKey(family: .gemvMma, weight: p.op.weightFormat, act: p.act)) else { return nil }
                plan.shader = one
                plan.reasons.append("split-K \(split) asked, but K = \(p.k) gives one slice")
                return .success(plan)
            }
            guard let red = lookup(VariantKey(family: .splitkReduceFloat, act: p.act)) else { return nil }
            if slices > caps.maxWorkgroupCount[2] { return nil }
            plan.reduceShader = red; plan.splitK = slices; plan.kSlice = slice
            plan.reasons.append("split-K: \(slices) slices of \(slice) K values, fp32 partials reduced by a second pass")
        }
        return .success(plan)
    }
}
