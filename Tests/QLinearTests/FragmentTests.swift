import Testing
@testable import QLinear
import QLinearCheck
import VulkanRuntime

/// `gemv_frag` (fp16, q4gsw) and `gemv_frag_dq` (dq8ca ops) build cooperative-matrix fragments in
/// registers for one probed layout. lavapipe has
/// no cooperative matrices, so the kernel itself runs only on the GPU (`qlinear check` with forced
/// configurations); here: the layout's recognition, the kernel's K permutation (emulated element
/// by element through the layout), the dispatcher's and encode's gates.
@Suite("Register-built fragments (gemv_frag)")
struct FragmentTests {
    @Test("the probed H100 layout is recognised; any other element order, lane order or subgroup size is not")
    func recognition() throws {
        let nv = FragmentLayout.mma16816
        #expect(nv.known == .mma16816)
        #expect(try FragmentLayout(probeWords: words(nv)) == nv)
        #expect(try FragmentLayout(probeWords: words(nv)).known == .mma16816)
        // PTX register order for A (rows before columns): a different element order.
        var ptx = nv
        ptx.a = (0..<32).map { l in (0..<8).map { i in ((l >> 2) + 8 * ((i >> 1) & 1)) * 16 + 2 * (l & 3) + (i & 1) + 8 * (i >> 2) } }
        #expect(ptx.known == nil)
        var swappedLanes = nv
        swappedLanes.b.swapAt(0, 1)
        #expect(swappedLanes.known == nil)
        var wave64 = nv
        wave64.subgroupSize = 64
        #expect(wave64.known == nil)
        #expect(throws: QLinearError.self) { try FragmentLayout(probeWords: [32, 8, 4]) }
        var bad = words(nv)
        bad[1] = 99
        #expect(throws: QLinearError.self) { try FragmentLayout(probeWords: bad) }
    }

    /// The shader's per-lane loads and element assignments, replayed on the CPU: each lane's A
    /// elements (weights of rows g, g + 8 at its 32 K values) and B elements (x row g at the same K
    /// values, offsets `bOrder` from 8q + j) are placed into 16×16 and 16×8 matrices through the
    /// layout, multiplied and summed over the 8 MMAs of a 128-value block. Returns the block's
    /// result per (row, column) read back through C's layout, and the exact Σ_k (q − 8)·x.
    func emulate(seed: UInt64, bOrder: [Int]) -> (got: [Int], want: [Int], placed: Bool) {
        var rng = SplitMix64(seed: seed)
        let layout = FragmentLayout.mma16816
        // One 16-row tile × 128 K of nibbles (q in 0…15) and 8 rows of small integer activations.
        let q = (0..<(16 * 128)).map { _ in Int(rng.next() & 15) }
        let x = (0..<(8 * 128)).map { _ in Int(rng.next() % 17) - 8 }
        // The format's words: nibble i of word j is k = 8j + i.
        func word(_ n: Int, _ j: Int) -> UInt32 {
            var w: UInt32 = 0
            for i in 0..<8 { w |= UInt32(q[n * 128 + 8 * j + i]) << UInt32(4 * i) }
            return w
        }
        func pairOf(_ w: UInt32, _ j: Int) -> (Int, Int) {   // (nibble j, nibble j + 4) − 8, as the shader's pairOf
            let lo = Int((w >> UInt32(4 * j)) & 15), hi = Int((w >> UInt32(4 * (j + 4))) & 15)
            return (lo - 8, hi - 8)
        }
        var c = [Int](repeating: 0, count: 16 * 8)
        var placed = true
        for s in 0..<8 {
            let qw = s >> 1, j = 2 * (s & 1)
            var am = [Int?](repeating: nil, count: 256), bm = [Int?](repeating: nil, count: 128)
            for lane in 0..<32 {
                let g = lane >> 2, t = lane & 3
                // The lane's 16-byte loads: words 4t … 4t + 3 of rows g and g + 8, x row g at 32t.
                let wa = word(g, 4 * t + qw), wb = word(g + 8, 4 * t + qw)
                let a0 = pairOf(wa, j), a1 = pairOf(wa, j + 1), b0 = pairOf(wb, j), b1 = pairOf(wb, j + 1)
                let aElems = [a0.0, a0.1, a1.0, a1.1, b0.0, b0.1, b1.0, b1.1]
                let xb = g * 128 + 32 * t + 8 * qw + j
                let bElems: [Int] = bOrder.map { x[xb + $0] }
                for (i, v) in aElems.enumerated() { placed = placed && am[layout.a[lane][i]] == nil; am[layout.a[lane][i]] = v }
                for (i, v) in bElems.enumerated() { placed = placed && bm[layout.b[lane][i]] == nil; bm[layout.b[lane][i]] = v }
            }
            placed = placed && !am.contains(nil) && !bm.contains(nil)
            for r in 0..<16 {
                for n in 0..<8 {
                    for k in 0..<16 {
                        let a: Int = am[r * 16 + k] ?? 0, b: Int = bm[k * 8 + n] ?? 0
                        c[r * 8 + n] += a * b
                    }
                }
            }
        }
        // C element i of lane (g, t) is row g + 8(i >> 1), column 2t + (i & 1): read back through the layout.
        var got: [Int] = [], want: [Int] = []
        for lane in 0..<32 {
            for i in 0..<4 {
                let flat = layout.c[lane][i], r = flat / 8, m = flat % 8
                placed = placed && r == (lane >> 2) + 8 * (i >> 1) && m == 2 * (lane & 3) + (i & 1)
                var ref = 0
                for k in 0..<128 { ref += (q[r * 128 + k] - 8) * x[m * 128 + k] }
                got.append(c[r * 8 + m]); want.append(ref)
            }
        }
        return (got, want, placed)
    }

    @Test("the K permutation pairs every weight with its own activation (exact integer sums)", arguments: [UInt64(1), 2, 3])
    func permutation(seed: UInt64) {
        let r = emulate(seed: seed, bOrder: [0, 4, 1, 5])   // the shader's (lo.x, hi.x, lo.y, hi.y)
        #expect(r.placed)
        #expect(r.got == r.want)
    }

    @Test("the permutation check fails for B in natural order (j, j + 1, j + 4, j + 5)")
    func permutationCanFail() {
        let r = emulate(seed: 1, bOrder: [0, 1, 4, 5])
        #expect(r.placed)
        #expect(r.got != r.want)
    }

    @Test("dispatch: every op, M ≤ 256 (past 32 in x-row tiles of 32), K and INT4 groups multiples of 128, with the probed layout; otherwise the next rule or the column kernel", arguments: [1, 5, 8, 9, 16, 17, 32, 33, 64, 97, 256])
    func dispatch(m: Int) throws {
        let caps = h100Caps()
        var options = DispatchOptions()
        options.fragmentLayout = .mma16816
        options.gemvConfig = GemvConfig(columns: 2, threads: 256, unroll: 2, splitK: 2, frag: true)
        for op in Op.allCases {
            for act in [DType.f16, .f32] {
                let p = Problem(op: op, m: m, n: 4097, k: 14336, groupSize: 128, act: act, bias: true)
                let plan = try Dispatcher.plan(.gemv, p, caps: caps, options: options).get()
                #expect(plan.shader.origin.family == (op.quantizesActivations ? .gemvFragDq : .gemvFrag) && plan.splitK == 1)
                #expect(plan.shader == ShaderID.lookup(VariantKey(family: plan.shader.origin.family, weight: op.weightFormat, act: act)))
                #expect((plan.quantShader != nil) == op.quantizesActivations && !plan.quantFused)
                #expect(plan.tile.group == (op.weightFormat == .q4 ? 128 : 0))
                #expect(plan.tile.bn == (8 / 2) * 2 * 16 && plan.tile.subgroupColumns == 2 && plan.tile.subgroupSplit == 2 && plan.tile.prefetch == 2)
                #expect(plan.tile.tm == 16 && plan.tile.tn == (m <= 8 ? 8 : m <= 16 ? 16 : 32) && plan.tile.bm == plan.tile.tn && plan.tile.tk == 16 && plan.tile.subgroupSize == 32)
                // Past one tile of x rows (M > TN) the grid holds ⌈M / TN⌉ tiles (XT = 1); else XT = 0 folds them away.
                #expect(plan.tile.xTiles == (m > plan.tile.tn ? 1 : 0) && plan.tile.specValues["XT"] == plan.tile.xTiles)
            }
        }
        // Not applicable: the column kernel (a forced configuration) and the reason — or, past
        // the column kernels' M, a rejection.
        var noLayout = options
        noLayout.fragmentLayout = nil
        for (p, o) in [(Problem(op: .q4gsw, m: m, n: 64, k: 256, groupSize: 128), noLayout),
                       (Problem(op: .q4gsw, m: m, n: 64, k: 256, groupSize: 64), options),
                       (Problem(op: .q4gsw, m: m, n: 64, k: 384, groupSize: 96), options),
                       (Problem(op: .dq8ca_q8csw, m: m, n: 64, k: 320), options),
                       (Problem(op: .dq8ca_q8csw, m: m, n: 64, k: 65536 + 128), options),
                       (Problem(op: .fp16, m: m, n: 64, k: 200), options)] {
            switch Dispatcher.plan(.gemv, p, caps: caps, options: o) {
            case .success(let plan):
                #expect(plan.shader.origin.family != .gemvFrag && plan.shader.origin.family != .gemvFragDq)
                #expect(plan.reasons.contains { $0.contains("register-fragment tensor-core kernel not applicable") })
            case .failure(let why):
                #expect(m > 8, "\(p): \(why.reason)")
            }
        }
        guard case .failure(let tooMany) = Dispatcher.plan(.gemv, Problem(op: .q4gsw, m: 257, n: 64, k: 256, groupSize: 128), caps: caps, options: options) else {
            Issue.record("M = 257 got a matrix–vector plan"); return
        }
        #expect(tooMany.reason.contains("M = 257"))
        // The grid, ⌈N / BN⌉ · ⌈M / TN⌉ workgroups, must fit the device's x limit.
        var narrow = caps
        narrow.maxWorkgroupCount[0] = (4097 + 127) / 128 * ((m + 31) / 32) - 1
        #expect((try? Dispatcher.plan(.gemv, Problem(op: .q4gsw, m: max(m, 17), n: 4097, k: 256, groupSize: 128), caps: narrow, options: options).get())?.shader.origin.family != .gemvFrag)
        var wave64 = amdCaps()
        wave64.vulkanMemoryModel = true
        #expect((try? Dispatcher.plan(.gemv, Problem(op: .q4gsw, m: m, n: 64, k: 256, groupSize: 128), caps: wave64, options: options).get())?.shader.origin.family != .gemvFrag)
        // A configuration that can never be valid is a rejection with the reason.
        options.gemvConfig = GemvConfig(columns: 3, threads: 256, unroll: 1, frag: true)
        guard case .failure(let bad) = Dispatcher.plan(.gemv, Problem(op: .q4gsw, m: m, n: 64, k: 256, groupSize: 128), caps: caps, options: options) else {
            Issue.record("3 tiles per subgroup accepted"); return
        }
        #expect(bad.reason.contains("1, 2 or 4 tiles per subgroup"))
        options.gemvConfig = GemvConfig(columns: 1, threads: 64, unroll: 1, splitK: 4, frag: true)
        guard case .failure = Dispatcher.plan(.gemv, Problem(op: .q4gsw, m: m, n: 64, k: 256, groupSize: 128), caps: caps, options: options) else {
            Issue.record("K over 4 subgroups of a 2-subgroup workgroup accepted"); return
        }
    }

    /// The plan for both dq8ca ops × both activation dtypes × fp64 or not (M rows, N = 4097,
    /// K = 4096, group 128, bias) under `options`' forced configuration, handed to `check`.
    func eachDq8caPlan(m: Int, caps: Capabilities, options: DispatchOptions, _ check: (Op, DType, Bool, KernelPlan) throws -> Void) throws {
        for op in [Op.dq8ca_q4gsw, .dq8ca_q8csw] {
            for act in [DType.f16, .f32] {
                for f64 in [true, false] {
                    var c = caps
                    c.shaderFloat64 = f64
                    let p = Problem(op: op, m: m, n: 4097, k: 4096, groupSize: 128, act: act, bias: true)
                    try check(op, act, f64, try Dispatcher.plan(.gemv, p, caps: c, options: options).get())
                }
            }
        }
    }

    @Test("dispatch: the fused quantization (…fq, gemv_frag_dqf) — dq8ca ops only, no quantization pass, the fp64 variant where the device has fp64", arguments: [1, 5, 8, 16, 33])
    func fusedDispatch(m: Int) throws {
        var caps = h100Caps()
        caps.shaderFloat64 = true
        var options = DispatchOptions()
        options.fragmentLayout = .mma16816
        let config = GemvConfig(columns: 1, threads: 512, unroll: 1, splitK: 16, frag: true, fuseQuant: true)
        #expect(config.compact == "1x512x1fqs16" && config.problem == nil)
        #expect(config.description.contains("quantized inside the kernel"))
        options.gemvConfig = config
        try eachDq8caPlan(m: m, caps: caps, options: options) { op, act, f64, plan in
            #expect(plan.shader.origin.family == .gemvFragDqf && plan.shader.origin.family.quantizesInKernel)
            #expect(plan.quantFused && plan.quantShader == nil && plan.quantizesInFP64 == f64)
            #expect(plan.shader == ShaderID.lookup(VariantKey(family: .gemvFragDqf, weight: op.weightFormat, act: act, features: f64 ? [.fp64] : [])))
            #expect(plan.tile.xTiles == (m > plan.tile.tn ? 1 : 0) && plan.tile.bn == 16 && plan.tile.subgroupSplit == 16)
            #expect(plan.reasons.contains { $0.contains("quantized inside the kernel") })
        }
        // Not a form of the float ops: a forced configuration is refused with the reason.
        for op in [Op.fp16, .q4gsw] {
            guard case .failure(let why) = Dispatcher.plan(.gemv, Problem(op: op, m: m, n: 64, k: 256, groupSize: 128), caps: caps, options: options) else {
                Issue.record("\(op) accepted the fused quantization"); continue
            }
            #expect(why.reason.contains("fused quantization"))
        }
        // Without subgroup arithmetic (the prologue's range reduction) the fused form does not apply
        // (fragPlan itself: plan() refuses dq8ca ops on such a device before it runs).
        var noArith = caps
        noArith.subgroupArithmetic = false
        let p = Problem(op: .dq8ca_q4gsw, m: m, n: 64, k: 256, groupSize: 128)
        #expect(Dispatcher.fragPlan(p, caps: caps, options: options, config: config, tuning: nil, quant: nil, reasons: [], lookup: ShaderID.lookup) != nil)
        #expect(Dispatcher.fragPlan(p, caps: noArith, options: options, config: config, tuning: nil, quant: nil, reasons: [], lookup: ShaderID.lookup) == nil)
        #expect(GemvConfig(columns: 1, threads: 512, unroll: 1, frag: true, xRows: 64, fuseQuant: true).compact == "1x512x1ft64q")
        // Staged: gemv_frag_dqf_xs. Not the prefill form.
        let staged = GemvConfig(columns: 1, threads: 128, unroll: 1, splitK: 4, frag: true, xs: true, fuseQuant: true)
        #expect(staged.problem == nil && staged.compact == "1x128x1fwqs4")
        options.gemvConfig = staged
        let sp = try Dispatcher.plan(.gemv, Problem(op: .dq8ca_q8csw, m: m, n: 4097, k: 4096, act: .f16), caps: caps, options: options).get()
        #expect(sp.shader.origin.family == .gemvFragDqfXs && sp.shader.origin.family.stagesX && sp.quantFused && sp.quantShader == nil)
        #expect(GemvConfig(columns: 1, threads: 512, unroll: 1, frag: true, xRows: 64, fuseQuant: true).problem != nil)
        #expect(GemvConfig(columns: 1, threads: 512, unroll: 1, fuseQuant: true).problem != nil)
        // The prologue's arrays on top of the accumulators' slots: TN rows × (partials · 8 + 16) bytes.
        let base = Dispatcher.fragSharedBytes(workgroup: 512, tiles: 1, tn: 8, split: 16)!
        #expect(Dispatcher.fragSharedBytes(workgroup: 512, tiles: 1, tn: 8, split: 16, fused: true) == base + 8 * (2 * 8 + 16))
        let narrow = Dispatcher.fragSharedBytes(workgroup: 256, tiles: 2, tn: 32, split: 4)!
        #expect(Dispatcher.fragSharedBytes(workgroup: 256, tiles: 2, tn: 32, split: 4, fused: true) == narrow + 32 * (8 * 8 + 16))
        let xs = Dispatcher.fragSharedBytes(workgroup: 256, tiles: 2, tn: 32, split: 1, staged: 1)!
        #expect(Dispatcher.fragSharedBytes(workgroup: 256, tiles: 2, tn: 32, split: 1, staged: 1, fused: true) == xs + 32 * (8 * 8 + 16))
        #expect(Dispatcher.fragSharedBytes(workgroup: 256, tiles: 2, tn: 32, split: 1, gemm: true, fused: true) == nil)
    }

    @Test("dispatch: the quantization pass inside the dispatch (…fd, gemv_frag_dqs) — dq8ca ops only, not staged, one dispatch, the counters bound", arguments: [1, 5, 8, 16, 33])
    func inDispatchQuant(m: Int) throws {
        var caps = h100Caps()
        caps.shaderFloat64 = true
        var options = DispatchOptions()
        options.fragmentLayout = .mma16816
        let config = GemvConfig(columns: 1, threads: 512, unroll: 1, splitK: 16, frag: true, quantInDispatch: true)
        #expect(config.compact == "1x512x1fds16" && config.problem == nil)
        #expect(config.description.contains("pass inside the dispatch"))
        options.gemvConfig = config
        try eachDq8caPlan(m: m, caps: caps, options: options) { op, act, f64, plan in
            let family = plan.shader.origin.family
            #expect(family == .gemvFragDqs && family.quantizesInKernel && family.usesSyncCounters && !family.stagesX)
            #expect(plan.quantFused && plan.quantShader == nil && plan.quantizesInFP64 == f64)
            #expect(plan.shader == ShaderID.lookup(VariantKey(family: .gemvFragDqs, weight: op.weightFormat, act: act, features: f64 ? [.fp64] : [])))
            #expect(plan.shader.signature.bindings.map(\.block).contains("SyncBuf"))
            #expect(plan.reasons.contains { $0.contains("claim the \(m) x row(s)") })
        }
        // Not a form of the float ops, nor staged, nor with …q: refused with the reason when forced.
        for op in [Op.fp16, .q4gsw] {
            guard case .failure(let why) = Dispatcher.plan(.gemv, Problem(op: op, m: m, n: 64, k: 256, groupSize: 128), caps: caps, options: options) else {
                Issue.record("\(op) accepted the pass inside the dispatch"); continue
            }
            #expect(why.reason.contains("pass inside the dispatch"))
        }
        #expect(GemvConfig(columns: 1, threads: 128, unroll: 1, frag: true, xs: true, quantInDispatch: true).problem != nil)
        #expect(GemvConfig(columns: 1, threads: 128, unroll: 1, frag: true, fuseQuant: true, quantInDispatch: true).problem != nil)
        #expect(GemvConfig(columns: 1, threads: 128, unroll: 1, frag: true, xRows: 64, quantInDispatch: true).problem != nil)
        #expect(GemvConfig(columns: 1, threads: 128, unroll: 1, frag: true, xRows: 64, quantInDispatch: true).compact == "1x128x1ft64d")
        #expect(GemvConfig(columns: 1, threads: 128, unroll: 1, quantInDispatch: true).problem != nil)
        // Shared memory: the accumulators' slots + the ticket, the subgroups' ranges, the parameters.
        let base = Dispatcher.fragSharedBytes(workgroup: 512, tiles: 1, tn: 8, split: 16)!
        #expect(Dispatcher.fragSharedBytes(workgroup: 512, tiles: 1, tn: 8, split: 16, sync: true) == base + 16 * 8 + 20)
        #expect(Dispatcher.fragSharedBytes(workgroup: 256, tiles: 1, tn: 8, split: 1, staged: 1, sync: true) == nil)
        // A table rule naming it for a float op gives way (no failure).
        #expect(Dispatcher.fragPlan(Problem(op: .q4gsw, m: m, n: 64, k: 256, groupSize: 128), caps: caps, options: options, config: config, tuning: "rule",
                                    quant: nil, reasons: [], lookup: ShaderID.lookup) == nil)
    }

    @Test("shared memory: a slot per subgroup at M ≤ TN; the slots of K parts 1 … KS − 1 (plus one word) with x-row tiles or staging")
    func sharedBytes() {
        #expect(Dispatcher.fragSharedBytes(workgroup: 512, tiles: 4, tn: 32, split: 1) == 16 * 4 * 4 * 128 * 4)
        #expect(Dispatcher.fragSharedBytes(workgroup: 256, tiles: 2, tn: 32, split: 2) == 8 * 2 * 4 * 128 * 4)
        #expect(Dispatcher.fragSharedBytes(workgroup: 512, tiles: 1, tn: 8, split: 16) == 16 * 1 * 1 * 128 * 4)
        // M > TN (x-row tiles): the slots of parts 1 … KS − 1 only, plus one word.
        #expect(Dispatcher.fragSharedBytes(workgroup: 256, tiles: 2, tn: 32, split: 2, xTiles: true) == 4 * 1 * 2 * 4 * 128 * 4 + 4)
        #expect(Dispatcher.fragSharedBytes(workgroup: 128, tiles: 4, tn: 32, split: 1, xTiles: true) == 4)
        #expect(Dispatcher.fragSharedBytes(workgroup: 256, tiles: 1, tn: 8, split: 3) == nil)
        #expect(Dispatcher.fragSharedBytes(workgroup: 256, tiles: Int.max / 2, tn: 32, split: 2) == nil)
    }

    /// gemv_frag_xs's staging (XSMEM in gemv_frag.comp), replayed: every staged slot written once,
    /// every lane's read returns the value the unstaged kernel loads itself for the same (x row,
    /// block, quarter, word), reads stay inside Xs, and each 8-lane phase of 16-byte reads hits 32
    /// distinct banks. The formulas are the shader's; a wrong slot order fails.
    @Test("x staged per workgroup: the slots the lanes read hold what they would load themselves, conflict-free", arguments: [(32, 1, 1), (32, 2, 1), (16, 4, 1), (32, 1, 2), (8, 4, 2)])
    func stagedX(tn: Int, ks: Int, pd: Int) {
        let xrow = ks * pd * 16 + 4, per = ks * pd * 4, nb = 3 * ks * pd - 1   // a last step with a missing block
        // What the unstaged kernel's lane loads: (x row, block, quarter t, word q) → a tag; zeros past the last block.
        func own(_ row: Int, _ block: Int, _ t: Int, _ q: Int) -> Int { block < nb ? ((row * 1000 + block) * 4 + t) * 4 + q + 1 : 0 }
        func check(slot: (Int, Int, Int) -> Int) -> Bool {   // (blk, c, tq) → index within the row
            var ok = true
            for j in 0..<((nb + ks * pd - 1) / (ks * pd)) {
                var xs = [Int?](repeating: nil, count: tn * xrow)
                for idx in 0..<(tn * per) {                      // stageX: quarters over the workgroup
                    let row = idx / per, rem = idx % per, blk = rem >> 2, tq = rem & 3
                    for c in 0..<4 {
                        let at = row * xrow + slot(blk, c, tq)
                        if xs[at] != nil { ok = false }
                        xs[at] = own(row, j * ks * pd + blk, tq, c)
                    }
                }
                for part in 0..<ks { for u in 0..<pd { for lane in 0..<32 { for b in 0..<(tn / 8) { for q in 0..<4 {
                    let g = lane >> 2, t = lane & 3
                    let at = (g + 8 * b) * xrow + (part * pd + u) * 16 + q * 4 + t   // the shader's read
                    if at >= xs.count || xs[at] != own(g + 8 * b, j * ks * pd + part * pd + u, t, q) { ok = false }
                } } } } }
            }
            return ok
        }
        #expect(check { blk, c, tq in blk * 16 + c * 4 + tq })
        #expect(!check { blk, c, tq in blk * 16 + tq * 4 + c }, "the comparison can fail")
        // Banks: an 8-lane phase (lanes 8p … 8p + 7: rows g, g + 1 at t = 0…3) of 16-byte reads.
        for b in 0..<(tn / 8) { for blk in 0..<(ks * pd) { for q in 0..<4 { for phase in 0..<4 {
            var banks = Set<Int>()
            for lane in (8 * phase)..<(8 * phase + 8) {
                let g = lane >> 2, t = lane & 3
                let word = ((g + 8 * b) * xrow + blk * 16 + q * 4 + t) * 4
                for w in 0..<4 { banks.insert((word + w) % 32) }
            }
            #expect(banks.count == 32)
        } } } }
    }

    @Test("x-staged plans: the _xs variants, their shared memory (K parts + TN·(KS·PD·16 + 4)·16 bytes) within the device's, the compact form round-trips")
    func stagedPlans() throws {
        let caps = h100Caps()
        var options = DispatchOptions()
        options.fragmentLayout = .mma16816
        options.gemvConfig = GemvConfig(columns: 2, threads: 256, unroll: 1, splitK: 2, frag: true, xs: true)
        for op in Op.allCases {
            let plan = try Dispatcher.plan(.gemv, Problem(op: op, m: 64, n: 4096, k: 4096, groupSize: 128, act: .f16), caps: caps, options: options).get()
            #expect(plan.shader.origin.family == (op.quantizesActivations ? .gemvFragDqXs : .gemvFragXs) && plan.tile.xTiles == 1)
            #expect(plan.shader.origin.defines.contains("XSMEM"))
        }
        #expect(Dispatcher.fragSharedBytes(workgroup: 256, tiles: 2, tn: 32, split: 2, staged: 1) == 4 * 1 * 2 * 4 * 128 * 4 + 4 + 32 * (2 * 16 + 4) * 16)
        // K over 4 subgroups with 2 blocks in flight stages 32 × 132 × 16 = 67 584 bytes: more than 48 KB, not planned.
        options.gemvConfig = GemvConfig(columns: 1, threads: 256, unroll: 2, splitK: 4, frag: true, xs: true)
        #expect((try? Dispatcher.plan(.gemv, Problem(op: .q4gsw, m: 64, n: 4096, k: 4096, groupSize: 128, act: .f16), caps: caps, options: options).get())?.shader.origin.family != .gemvFragXs)
        #expect(GemvConfig(columns: 2, threads: 256, unroll: 1, splitK: 2, frag: true, xs: true).compact == "2x256x1fws2")
    }

    @Test("gemm_frag's staging: the permuted words a lane reads are its B fragment's element pairs; stores and reads conflict-free", arguments: [32, 64])
    func gemmStaging(tn: Int) {
        let xrg = 20
        // Half h of x row `row`'s block: a tag.
        func x(_ row: Int, _ h: Int) -> Int { row * 1000 + h + 1 }
        // gemmStoreX's permutation of a natural 8-half piece (halves 0…7) into 4 words of 2 halves.
        func permuted(_ v: [Int]) -> [(Int, Int)] { [(v[0], v[4]), (v[1], v[5]), (v[2], v[6]), (v[3], v[7])] }
        func replay(_ perm: ([Int]) -> [(Int, Int)]) -> Bool {
            var xd = [(Int, Int)?](repeating: nil, count: tn * xrg * 4)   // words
            var ok = true
            for idx in 0..<(tn * 4) {                              // quarters over the workgroup
                let row = idx >> 2, tq = idx & 3
                for c in 0..<4 {
                    let piece = (0..<8).map { x(row, 32 * tq + 8 * c + $0) }
                    for (w, pair) in perm(piece).enumerated() {
                        let at = (row * xrg + 4 * c + tq) * 4 + w
                        if xd[at] != nil { ok = false }
                        xd[at] = pair
                    }
                }
            }
            for lane in 0..<32 { for b in 0..<(tn / 8) { for s in 0..<8 {
                let g = lane >> 2, t = lane & 3, q = s >> 1, j = 2 * (s & 1)
                let base = ((g + 8 * b) * xrg + q * 4 + t) * 4
                guard let e01 = xd[base + j], let e23 = xd[base + j + 1] else { ok = false; continue }
                // The unstaged kernel's B elements: x at the lane's K offsets 8q + j, 8q + j + 4, 8q + j + 1, 8q + j + 5.
                let row = g + 8 * b, k0 = 32 * t + 8 * q + j
                if [e01.0, e01.1, e23.0, e23.1] != [x(row, k0), x(row, k0 + 4), x(row, k0 + 1), x(row, k0 + 5)] { ok = false }
            } } }
            return ok
        }
        #expect(replay(permuted))
        #expect(!replay { v in [(v[0], v[1]), (v[2], v[3]), (v[4], v[5]), (v[6], v[7])] }, "natural order fails: the comparison can fail")
        // Banks of an 8-lane phase of 16-byte accesses: the MMA loop's reads (rows g, g + 1 × t) and
        // the stores (quarters idx … idx + 7: rows r, r + 1 × tq).
        for b in 0..<(tn / 8) { for q in 0..<4 { for phase in 0..<4 {
            var banks = Set<Int>()
            for lane in (8 * phase)..<(8 * phase + 8) {
                let word = (((lane >> 2) + 8 * b) * xrg + q * 4 + (lane & 3)) * 4
                for w in 0..<4 { banks.insert((word + w) % 32) }
            }
            #expect(banks.count == 32)
        } } }
        for first in stride(from: 0, to: tn * 4, by: 8) { for c in 0..<4 {
            var banks = Set<Int>()
            for idx in first..<(first + 8) { for w in 0..<4 { banks.insert((((idx >> 2) * xrg + 4 * c + (idx & 3)) * 4 + w) % 32) } }
            #expect(banks.count == 32)
        } }
    }

    @Test("gemm_frag's staging in the MMAs' K order (BL = 1): coopMatLoad's B elements (mma16816) are the lane's x values; stores conflict-free", arguments: [32, 64])
    func gemmStagingLoad(tn: Int) {
        let xrg = 17   // uvec4 per row: 16 + 1 padding
        func x(_ row: Int, _ h: Int) -> Int { row * 1000 + h + 1 }
        func replay(_ wordOf: (_ c: Int, _ h: Int, _ tq: Int) -> Int) -> Bool {
            var halves = [Int?](repeating: nil, count: tn * xrg * 8)
            var ok = true
            for idx in 0..<(tn * 4) {
                let row = idx >> 2, tq = idx & 3
                for c in 0..<4 {
                    let v = (0..<8).map { x(row, 32 * tq + 8 * c + $0) }
                    let w = [(v[0], v[4]), (v[1], v[5]), (v[2], v[6]), (v[3], v[7])]   // gemmStoreX's words
                    for h in 0..<4 {
                        let at = (row * xrg * 4 + wordOf(c, h, tq)) * 2
                        if halves[at] != nil || halves[at + 1] != nil { ok = false }
                        halves[at] = w[h].0; halves[at + 1] = w[h].1
                    }
                }
            }
            // coopMatLoad, column-major, stride xrg uvec4: B element i of lane (g, t) is (k = 2t + (i & 1) + 8(i >> 1), n = g).
            let layout = FragmentLayout.mma16816
            for lane in 0..<32 { for b in 0..<(tn / 8) { for s in 0..<8 {
                let g = lane >> 2, t = lane & 3, q = s >> 1, j = 2 * (s & 1)
                let got = (0..<4).map { i -> Int? in
                    let flat = layout.b[lane][i]               // row-major index into the 16 × 8 B matrix
                    let k = flat / 8, n = flat % 8
                    return halves[((8 * b + n) * xrg * 8) + 16 * s + k]
                }
                let row = g + 8 * b, k0 = 32 * t + 8 * q + j
                if got != [x(row, k0), x(row, k0 + 4), x(row, k0 + 1), x(row, k0 + 5)] { ok = false }
            } } }
            return ok
        }
        #expect(replay { c, h, tq in 8 * (2 * c + (h >> 1)) + tq + 4 * (h & 1) })
        #expect(!replay { c, h, tq in 8 * (2 * c + (h & 1)) + tq + 4 * (h >> 1) }, "the comparison can fail")
        // Stores of one piece and word over a warp's 32 quarters (8 rows × 4 quarters): 32 banks.
        for c in 0..<4 { for h in 0..<4 { for first in stride(from: 0, to: tn * 4, by: 32) {
            var banks = Set<Int>()
            for idx in first..<(first + 32) { banks.insert(((idx >> 2) * xrg * 4 + 8 * (2 * c + (h >> 1)) + (idx & 3) + 4 * (h & 1)) % 32) }
            #expect(banks.count == 32)
        } } }
    }

    @Test("gemm_frag plans: any M for fp16, q4gsw (gemm_frag) and dq8ca_q4gsw (gemm_frag_dq) where forced or a rule names it; not for dq8ca_q8csw (gemm_frag_i8's); matrix–vector rules stop at M = 256")
    func gemmPlans() throws {
        let caps = h100Caps()
        var options = DispatchOptions()
        options.fragmentLayout = .mma16816
        let gemm = GemvConfig(columns: 2, threads: 256, unroll: 1, frag: true, xRows: 64)
        #expect(gemm.compact == "2x256x1ft64" && gemm.problem == nil)
        #expect(GemvConfig(columns: 2, threads: 256, unroll: 1, frag: true, xRows: 48).problem != nil)
        // x rows split over subgroups (…s2) is a configuration of the int8 form only: a valid
        // configuration, refused by the dispatcher for the f16 forms (Int8FragmentTests.xSplitRefused);
        // a split that does not divide the 8-row fragments is never valid.
        #expect(GemvConfig(columns: 2, threads: 256, unroll: 1, splitK: 2, frag: true, xRows: 64).problem == nil)
        #expect(GemvConfig(columns: 2, threads: 256, unroll: 1, splitK: 3, frag: true, xRows: 64).problem != nil)
        #expect(GemvConfig(columns: 2, threads: 256, unroll: 1, splitK: 8, frag: true, xRows: 32).problem != nil)
        #expect(GemvConfig(columns: 2, threads: 256, unroll: 1, frag: true, xs: true, xRows: 64).problem != nil)
        #expect(GemvConfig(columns: 2, threads: 256, unroll: 1, xRows: 64).problem != nil)
        options.gemvConfig = gemm
        for op in Op.allCases { for act in [DType.f16, .f32] { for m in [33, 2048, 8191] {
            let r = Dispatcher.plan(.gemv, Problem(op: op, m: m, n: 4096, k: 4096, groupSize: 128, act: act), caps: caps, options: options)
            if op == .dq8ca_q8csw {
                if m > 256 { #expect((try? r.get()) == nil) } else { #expect((try? r.get())?.shader.origin.family.isPrefillForm != true) }
            } else {
                let plan = try r.get()
                #expect(plan.shader.origin.family == (op == .dq8ca_q4gsw ? .gemmFragDq : .gemmFrag) && plan.tile.tn == 64 && plan.tile.bm == 64 && plan.tile.xTiles == (m > 64 ? 1 : 0) && plan.tile.bn == 256)
                #expect(plan.shader.origin.defines.contains("GEMM") && plan.shader.origin.defines.contains("DQ") == (op == .dq8ca_q4gsw))
                #expect((plan.quantShader != nil) == (op == .dq8ca_q4gsw))
            }
        } } }
        // int8 weights' prefill form (gemm_frag_i8) loads B by coopMatLoad: a forced form without
        // it says so (its plans: Int8FragmentTests).
        if case .failure(let why) = Dispatcher.plan(.gemv, Problem(op: .dq8ca_q8csw, m: 2048, n: 4096, k: 4096, groupSize: 128, act: .f16), caps: caps, options: options) {
            #expect(why.reason.contains("coopMatLoad"))
        } else { Issue.record("dq8ca_q8csw with a forced prefill form building B from words was planned") }
        #expect(Dispatcher.fragSharedBytes(workgroup: 256, tiles: 2, tn: 64, split: 1, gemm: true) == 2 * 64 * 20 * 16 + 4)
        #expect(Dispatcher.fragSharedBytes(workgroup: 256, tiles: 2, tn: 64, split: 2, gemm: true) == nil)
        #expect(Dispatcher.fragSharedBytes(workgroup: 256, tiles: 2, tn: 64, split: 1, gemm: true, bLoad: true) == 2 * 64 * 17 * 16 + 4)
        #expect(GemvConfig(columns: 2, threads: 256, unroll: 1, frag: true, xRows: 64, xLoad: true).compact == "2x256x1ft64l")
        #expect(GemvConfig(columns: 2, threads: 256, unroll: 1, frag: true, xLoad: true).problem != nil)
        options.gemvConfig = GemvConfig(columns: 2, threads: 256, unroll: 1, frag: true, xRows: 64, xLoad: true)
        #expect(try Dispatcher.plan(.gemv, Problem(op: .q4gsw, m: 2048, n: 4096, k: 4096, groupSize: 128, act: .f16), caps: caps, options: options).get().tile.bLoad == 1)
        // Half-block weight loads (h) and x a block further ahead (e8).
        let halves = GemvConfig(columns: 2, threads: 256, unroll: 1, frag: true, xRows: 64, xLoad: true, xStore: 8, weightHalves: true)
        #expect(halves.compact == "2x256x1ft64lhe8" && halves.problem == nil)
        #expect(halves.description.contains("weights in half blocks") && halves.description.contains("x loaded a block further ahead"))
        #expect(GemvConfig(columns: 2, threads: 256, unroll: 1, frag: true, xRows: 64, xStore: 2).description.contains("after MMA step 2"))
        #expect(GemvConfig(columns: 2, threads: 256, unroll: 1, frag: true, weightHalves: true).problem != nil)
        #expect(GemvConfig(columns: 2, threads: 256, unroll: 1, frag: true, xRows: 64, xStore: 9).problem != nil)
        // Only the forms run on the H100: h and e8 with B by coopMatLoad (l).
        #expect(GemvConfig(columns: 2, threads: 256, unroll: 1, frag: true, xRows: 64, weightHalves: true).problem != nil)
        #expect(GemvConfig(columns: 2, threads: 256, unroll: 1, frag: true, xRows: 64, xStore: 8).problem != nil)
        #expect(GemvConfig(columns: 2, threads: 256, unroll: 1, frag: true, xRows: 64, xStore: 2).problem == nil)
        options.gemvConfig = halves
        for op in [Op.fp16, .q4gsw, .dq8ca_q4gsw] {
            let t = try Dispatcher.plan(.gemv, Problem(op: op, m: 2048, n: 4096, k: 4096, groupSize: 128, act: .f16), caps: caps, options: options).get().tile
            #expect(t.weightHalves == 1 && t.xStoreStep == 8 && t.specValues["WH"] == 1 && t.specValues["XE"] == 8)
        }
        // A configuration that can never be meant is refused when forced, not silently read in part.
        options.gemvConfig = GemvConfig(columns: 2, threads: 256, unroll: 1, frag: true, xLoad: true)
        #expect((try? Dispatcher.plan(.gemv, Problem(op: .q4gsw, m: 64, n: 4096, k: 4096, groupSize: 128, act: .f16), caps: caps, options: options).get()) == nil)
        // A forced matrix–vector configuration past M = 256 is refused, as before.
        options.gemvConfig = GemvConfig(columns: 2, threads: 256, unroll: 1, frag: true)
        #expect((try? Dispatcher.plan(.gemv, Problem(op: .q4gsw, m: 2048, n: 4096, k: 4096, groupSize: 128, act: .f16), caps: caps, options: options).get()) == nil)
        // Rules: a matrix–vector rule covering M = 2048 is passed over; the prefill-form rule applies.
        options.gemvConfig = nil
        let everyM = TuningConditions(m: Bounds(1, nil))
        options.tuning = TuningTable(name: "t", match: nil, provenance: "test", coopmat: [], gemv: [
            GemvRule(ops: [.q4gsw], when: everyM, config: GemvConfig(columns: 2, threads: 256, unroll: 1, frag: true), note: "gemv"),
            GemvRule(ops: [.q4gsw], when: TuningConditions(m: Bounds(257, nil)), config: gemm, note: "gemm")])
        let big = Dispatcher.decide(Problem(op: .q4gsw, m: 2048, n: 4096, k: 4096, groupSize: 128, act: .f16), caps: caps, options: options)
        #expect(big.chosen?.shader.origin.family == .gemmFrag)
        #expect(Dispatcher.decide(Problem(op: .q4gsw, m: 64, n: 4096, k: 4096, groupSize: 128, act: .f16), caps: caps, options: options).chosen?.shader.origin.family == .gemvFrag)
        // No rule for fp16 at M = 2048: the matrix–vector kind declines, another kernel kind runs.
        let f16 = Dispatcher.decide(Problem(op: .fp16, m: 2048, n: 4096, k: 4096, groupSize: 128, act: .f16), caps: caps, options: options)
        #expect(f16.chosen != nil && f16.chosen?.kernel != .gemv)
        // The tuner offers the prefill form for fp16 and q4gsw past 32 rows, only when asked for.
        let gemmCandidates = Tuner.candidates(.gemv, floatOps: true, m: 2048, tensorCores: true, varieties: [.fraggemm])
        #expect(gemmCandidates.count == 54)
        // A third of them load B by coopMatLoad with the weights in half blocks (H100, session 14's winner).
        let halvesLoaded = gemmCandidates.filter { c in c.gemv?.xLoad == true && c.gemv?.weightHalves == true }.count
        let halvesBuilt = gemmCandidates.filter { c in c.gemv?.weightHalves == true && c.gemv?.xLoad != true }.count
        #expect(halvesLoaded == 18 && halvesBuilt == 0)
        #expect(Tuner.candidates(.gemv, floatOps: true, m: 32, tensorCores: true, varieties: [.fraggemm]).isEmpty)
        // … and for dq8ca_q4gsw (no tensor-core matrix–vector candidates of its own) when it has the prefill form.
        #expect(Tuner.candidates(.gemv, floatOps: false, m: 2048, varieties: [.fraggemm], prefillForm: true).count == 54)
        #expect(Tuner.candidates(.gemv, floatOps: false, m: 2048, varieties: [.fraggemm]).isEmpty)
    }

    @Test("32-lane subgroups: required where the device can, or fixed at 32; a varying size that cannot be required is refused")
    func subgroupSize() throws {
        var caps = h100Caps()
        #expect(FragmentLayout.runsAt32(caps))
        var options = DispatchOptions()
        options.fragmentLayout = .mma16816
        options.gemvConfig = GemvConfig(columns: 1, threads: 128, unroll: 1, frag: true)
        let p = Problem(op: .q4gsw, m: 4, n: 256, k: 256, groupSize: 128, act: .f16)
        #expect(try Dispatcher.plan(.gemv, p, caps: caps, options: options).get().shader.origin.family == .gemvFrag)
        caps.canRequireSubgroupSize = false
        caps.minSubgroupSize = 16
        #expect(!FragmentLayout.runsAt32(caps))
        #expect(try Dispatcher.plan(.gemv, p, caps: caps, options: options).get().shader.origin.family != .gemvFrag)
        caps.minSubgroupSize = 32
        #expect(FragmentLayout.runsAt32(caps))
        let fixed = try Dispatcher.plan(.gemv, p, caps: caps, options: options).get()
        #expect(fixed.shader.origin.family == .gemvFrag && !fixed.tile.requireSubgroupSize)
        // A frag configuration's compact form has no prefetch (its blocks in flight are `unroll`).
        #expect(GemvConfig(columns: 2, threads: 256, unroll: 2, splitK: 4, prefetch: 3, frag: true).compact == "2x256x2fs4")
    }

    @Test("tune's matrix–vector candidates include the register-fragment kernel for every op up to M = 256, not above")
    func candidates() {
        for float in [true, false] {
            for m in [32, 33, 128, 256] {
                let only = Tuner.candidates(.gemv, floatOps: float, m: m)
                #expect(!only.isEmpty && only.allSatisfy { $0.gemv?.frag == true })
            }
            // The x-staged form only past 32 rows and only when asked for (variety fragxs, in "all").
            #expect(!Tuner.candidates(.gemv, floatOps: float, m: 32).contains { $0.gemv?.xs == true })
            #expect(Tuner.candidates(.gemv, floatOps: float, m: 64).contains { $0.gemv?.xs == true })
            #expect(!Tuner.candidates(.gemv, floatOps: float, m: 64, varieties: [.frag]).contains { $0.gemv?.xs == true })
            #expect(Tuner.candidates(.gemv, floatOps: float, m: 8).contains { $0.gemv?.frag == true })
            #expect(!Tuner.candidates(.gemv, floatOps: float, m: 257).contains { $0.gemv?.frag == true })
            #expect(!Tuner.candidates(.gemv, floatOps: float, m: 8, varieties: [.column]).contains { $0.gemv?.frag == true })
        }
    }

    @Test("an activations-in-registers rule never plans M > 8 (it gives way to the next rule)", arguments: [9, 16, 32])
    func xregStaysWithinEight(m: Int) throws {
        var caps = h100Caps()
        caps.subgroupShuffleSupport = true
        var options = DispatchOptions()
        options.tuning = TuningTable(name: "t", match: nil, provenance: "test", coopmat: [], gemv: [
            GemvRule(ops: [.q4gsw], config: GemvConfig(columns: 8, threads: 128, unroll: 2, halfMath: true, xreg: true), note: "xreg")])
        let r = Dispatcher.plan(.gemv, Problem(op: .q4gsw, m: m, n: 256, k: 256, groupSize: 128, act: .f16), caps: caps, options: options)
        #expect((try? r.get())?.shader.origin.family != .gemvQ4Xreg)
    }

    @Test("a table's frag rule gives way to the next matching rule where the kernel cannot run")
    func nextRule() throws {
        let caps = h100Caps()
        var options = DispatchOptions()
        options.tuning = TuningTable(name: "t", match: nil, provenance: "test", coopmat: [], gemv: [
            GemvRule(ops: [.q4gsw], when: TuningConditions(m: Bounds(1, 8)), config: GemvConfig(columns: 2, threads: 128, unroll: 1, frag: true), note: "frag"),
            GemvRule(ops: [.q4gsw], config: GemvConfig(columns: 4, threads: 64, unroll: 2, halfMath: true), note: "column")])
        let p = Problem(op: .q4gsw, m: 2, n: 4096, k: 4096, groupSize: 128, act: .f16)
        #expect(try Dispatcher.plan(.gemv, p, caps: caps, options: options).get().shader.origin.family == .gemvQ4F16Math)
        options.fragmentLayout = .mma16816
        let plan = try Dispatcher.plan(.gemv, p, caps: caps, options: options).get()
        #expect(plan.shader.origin.family == .gemvFrag && plan.tuning == "t gemv rule 0")
    }

    /// A context without the probed layout (lavapipe: no cooperative matrices) refuses a hand-made
    /// gemv_frag plan at encode, with the reason — it never records a kernel written for a layout
    /// the device was not shown to have.
    @Test("the prefill forms' weight gate: fp16 and int8 weights, or INT4 whose group scales are fp16 values with 8·|scale| finite in fp16")
    func prefillFormGate() throws {
        let ctx = try Shared.ctx()
        let n = 4, k = 128
        func q4(_ scale: Float) throws -> LinearLayer {
            let w = try Q4GSWWeights(n: n, k: k, groupSize: 128, packed: [UInt8](repeating: 0x88, count: n * k / 2),
                                     scales: [Float](repeating: scale, count: n), scaleDType: .f32)
            return try LinearLayer(context: ctx, weights: .q4gsw(w), act: .f16)
        }
        #expect(try LinearLayer(context: ctx, weights: .fp16(n: n, k: k, values: [Float16](repeating: 0.5, count: n * k)), act: .f16).prefillFormAllowed)
        #expect(try q4(0.25).prefillFormAllowed)
        #expect(try !q4(0.1).prefillFormAllowed)          // not an fp16 value
        #expect(try q4(8000).prefillFormAllowed)          // 8 · 8000 = 64000 ≤ 65504
        #expect(try !q4(8192).prefillFormAllowed)         // an fp16 value, but −8 · 8192 overflows fp16
        let q8 = try Q8CSWWeights(n: n, k: k, values: [Int8](repeating: 1, count: n * k), scales: [Float](repeating: 0.5, count: n))
        #expect(try LinearLayer(context: ctx, weights: .q8csw(q8), act: .f16).prefillFormAllowed)   // gemm_frag_i8: fp32 row scales after int32 sums
    }

    @Test func handMadePlanIsRefused() throws {
        let ctx = try Shared.ctx()
        let layer = try q4Layer(ctx, n: 32, k: 256, group: 128, act: .f16, dynamic: false, seed: 3)
        var options = DispatchOptions()
        options.fragmentLayout = .mma16816
        options.gemvConfig = GemvConfig(columns: 1, threads: 64, unroll: 1, frag: true)
        let plan = try Dispatcher.plan(.gemv, layer.problem(m: 1), caps: h100Caps(), options: options).get()
        #expect(plan.shader.origin.family == .gemvFrag)
        let xb = try Buffer(device: ctx.device, size: try layer.inputBytes(m: 1))
        let yb = try Buffer(device: ctx.device, size: try layer.outputBytes(m: 1))
        let s = try CommandStream(device: ctx.device)
        #expect(throws: QLinearError.self) { try layer.encode(s, plan: plan, x: BufferBinding(xb), y: BufferBinding(yb), scratch: try layer.makeScratch(m: 1)) }
    }
}

/// The shader's bit tricks, replayed on every input value: they must give exactly the integers the
/// fragments need (an fp16 value is 1024 + u when its bits are 0x6400 | u, u < 1024).
@Suite("gemv_frag bit tricks")
struct FragmentBitTricks {
    /// The two fp16 halves of a 32-bit word, as Float.
    func halves(_ w: UInt32) -> (Float, Float) {
        (Float(Float16(bitPattern: UInt16(truncatingIfNeeded: w))), Float(Float16(bitPattern: UInt16(truncatingIfNeeded: w >> 16))))
    }

    @Test("INT4 pairOf: (nibble j, nibble j + 4) − 8 for every nibble pair and j = 0…3")
    func int4Pairs() {
        for lo in 0..<16 { for hi in 0..<16 { for j in 0..<4 {
            // A word whose nibble j is lo and nibble j + 4 is hi, the others a fixed pattern.
            var w: UInt32 = 0x9C3A_5E71
            w &= ~(UInt32(0xF) << UInt32(4 * j)) & ~(UInt32(0xF) << UInt32(4 * (j + 4)))
            w |= UInt32(lo) << UInt32(4 * j) | UInt32(hi) << UInt32(4 * (j + 4))
            // The shader: s = j ≥ 2 ? w >> 8 : w; even j: (s & 0x000F000F) | 0x64006400 − 1032;
            // odd j: fma((s & 0x00F000F0) | 0x64006400, 1/16, −72) (exact in fp16: 64 + q − 72).
            let s = (j & 2) != 0 ? w >> 8 : w
            let got: (Float, Float)
            if j & 1 == 0 {
                let h = halves((s & 0x000F_000F) | 0x6400_6400)
                got = (Float(Float16(h.0 - 1032)), Float(Float16(h.1 - 1032)))
            } else {
                let h = halves((s & 0x00F0_00F0) | 0x6400_6400)
                got = (Float(Float16(h.0 * 0.0625 - 72)), Float(Float16(h.1 * 0.0625 - 72)))
            }
            #expect(got.0 == Float(lo - 8) && got.1 == Float(hi - 8), "nibbles \(lo), \(hi), j = \(j)")
        } } }
    }

    @Test("int8 weights (bytePair): bytes j of two words as f16vec2(q) for every byte value")
    func int8Pairs() {
        for a in 0..<256 { for j in 0..<4 {
            let b = 255 - a
            let wa = UInt32(a) << UInt32(8 * j) | 0x1234_5678 & ~(UInt32(0xFF) << UInt32(8 * j))
            let wb = UInt32(b) << UInt32(8 * j) | 0x8765_4321 & ~(UInt32(0xFF) << UInt32(8 * j))
            let v = ((wa >> UInt32(8 * j)) & 0xFF) | (((wb >> UInt32(8 * j)) & 0xFF) << 16)
            let h = halves((v ^ 0x0080_0080) | 0x6400_6400)
            let got = (Float(Float16(h.0 - 1152)), Float(Float16(h.1 - 1152)))
            #expect(got.0 == Float(Int8(bitPattern: UInt8(a))) && got.1 == Float(Int8(bitPattern: UInt8(b))), "byte \(a), j = \(j)")
        } }
    }

    @Test("dq8ca activations: xq − zp exactly, for every int8 value and zero point")
    func activations() {
        for zp in -128...127 {
            let off = Float(Float16(Float(1152 + zp)))
            #expect(off == Float(1152 + zp))   // exact in fp16 (integers ≤ 2048)
            for base in stride(from: 0, to: 256, by: 4) {
                // One int8 word of four consecutive values, as quant_act writes them (k order).
                let bytes = (0..<4).map { UInt32((base + $0) & 0xFF) }
                let w = bytes[0] | bytes[1] << 8 | bytes[2] << 16 | bytes[3] << 24
                let u = w ^ 0x8080_8080
                let p0 = halves((u & 0xFF) | ((u << 8) & 0x00FF_0000) | 0x6400_6400)
                let p1 = halves(((u >> 16) & 0xFF) | ((u >> 8) & 0x00FF_0000) | 0x6400_6400)
                let got = [p0.0, p0.1, p1.0, p1.1].map { Float(Float16($0 - off)) }
                let want = bytes.map { Float(Int(Int8(bitPattern: UInt8($0))) - zp) }
                #expect(got == want, "zp \(zp), bytes \(bytes)")
            }
        }
    }
}
