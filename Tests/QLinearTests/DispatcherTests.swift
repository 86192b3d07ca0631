import Testing
@testable import QLinear
import QLinearCheck
import QLinearIO
import VulkanRuntime

@Suite("Dispatcher on synthetic devices")
struct DispatcherTests {
    let ops = Op.allCases

    @Test("NVIDIA-like subgroup 32: cooperative matrices for every op, MMA shape from the table")
    func nvidia() throws {
        let caps = h100Caps()
        // Pinned to the conservative default table (the measured Hopper table changes with tuning runs).
        let defaults: TuningTable? = TuningTable.builtIn.first(where: { $0.name == "default" })
        let table: TuningTable = try #require(defaults)
        let options = DispatchOptions(tuning: table)
        for op in ops {
            let d = Dispatcher.decide(Problem(op: op, m: 4096, n: 4096, k: 256, groupSize: 64, act: .f16, bias: true), caps: caps, options: options)
            let plan = try #require(d.chosen)
            #expect(plan.kernel == .coopmat)
            #expect(plan.tile.subgroupSize == 32)
            #expect(plan.tile.tm == 16 && plan.tile.tn == 16)
            #expect(plan.tile.tk == (op == .fp16 || op == .q4gsw ? 16 : 32))
            #expect(plan.tile.bm == 128 && plan.tuning == "default rule 0")   // 1024 tiles of 128x128
            let tiny = try #require(Dispatcher.decide(Problem(op: op, m: 33, n: 70, k: 256, groupSize: 64), caps: caps, options: options).chosen)
            #expect(tiny.kernel == .coopmat && tiny.tile.bm == 32 && tiny.tile.bn == 64 && tiny.tile.workgroupSize == 128)
            let mid = try #require(Dispatcher.decide(Problem(op: op, m: 512, n: 4096, k: 256, groupSize: 64), caps: caps, options: options).chosen)
            #expect(mid.kernel == .coopmat && mid.tile.bm == 64 && mid.tuning == "default rule 2")
            #expect(plan.quantShader != nil || !op.quantizesActivations)
        }
    }

    @Test("activations-in-registers decode: used where it applies, the column kernel where M, K or the device rule it out")
    func xregFallbacks() throws {
        var caps = h100Caps()
        var options = DispatchOptions()
        options.gemvConfig = GemvConfig(columns: 8, threads: 128, unroll: 8, halfMath: true, xreg: true)
        func plan(_ m: Int, _ k: Int) throws -> KernelPlan {
            try Dispatcher.plan(.gemv, Problem(op: .q4gsw, m: m, n: 4096, k: k, groupSize: 128, act: .f16), caps: caps, options: options).get()
        }
        let one = try plan(1, 4096)
        #expect(one.shader == .gemv_q4_xreg && one.tile.bm == 1 && one.tile.bk == 8 && one.tile.chunksPerThread == 1)
        // M = 5 → BM 8: 8 × 8 sums per thread > 32 → the column kernel (power-of-two columns, ≤ 32 sums).
        let five = try plan(5, 4096)
        #expect(five.shader == .gemv_q4_f16math && five.tile.bn == 4 && five.tile.bn * 5 <= 32)
        // M = 2, K = 14336 at 128 threads: 2 chunks per thread (the cap), 2 passes.
        options.gemvConfig = GemvConfig(columns: 6, threads: 128, unroll: 2, halfMath: true, xreg: true)
        let long = try plan(2, 14336)
        #expect(long.shader == .gemv_q4_xreg && long.tile.chunksPerThread == 2 && long.tile.bm == 2)
        // Without subgroup shuffles: the column kernel (6 columns → 4, a power of two).
        caps.subgroupShuffleSupport = false
        let noShuffle = try plan(2, 4096)
        #expect(noShuffle.shader == .gemv_q4_f16math && noShuffle.tile.bn == 4)
        // A configuration that can never be valid is a rejection with the reason, not a trap.
        caps.subgroupShuffleSupport = true
        options.gemvConfig = GemvConfig(columns: 6, threads: 128, unroll: 4, halfMath: true, xreg: true)
        guard case .failure(let why) = Dispatcher.plan(.gemv, Problem(op: .q4gsw, m: 1, n: 64, k: 256, groupSize: 128, act: .f16), caps: caps, options: options) else {
            Issue.record("6 columns with 4 in flight was accepted"); return
        }
        #expect(why.reason.contains("multiple of the columns in flight"))
    }

    @Test("tensor-core decode (gemv_mma): M pads to 8 or 16, split-K slices cover K, and the column kernel or a rejection where it cannot run", arguments: [1, 3, 8, 9, 16])
    func mmaGemv(m: Int) throws {
        let caps = h100Caps()
        var options = DispatchOptions()
        options.gemvConfig = GemvConfig(columns: 32, threads: 128, unroll: 2, mma: true, splitK: 4)
        for op in [Op.fp16, .q4gsw] {
            for act in [DType.f16, .f32] {
                let p = Problem(op: op, m: m, n: 4097, k: 14336, groupSize: 128, act: act, bias: true)
                let plan = try Dispatcher.plan(.gemv, p, caps: caps, options: options).get()
                #expect(plan.shader.origin.family == .gemvMmaSplitk && plan.reduceShader != nil)
                #expect(plan.tile.tn == (m <= 8 ? 8 : 16) && plan.tile.tm == 16 && plan.tile.bk == 64 && plan.tile.bn == 32)
                #expect(plan.kSlice % 64 == 0 && plan.splitK * plan.kSlice >= p.k && (plan.splitK - 1) * plan.kSlice < p.k)
                #expect(plan.tile.group == (op == .q4gsw ? 128 : 0))
            }
        }
        // dq8ca ops have no tensor-core matrix–vector kernel: the int8 column kernel (M ≤ 16), with
        // at most 32 sums per thread (columns × M).
        let dq = try Dispatcher.plan(.gemv, Problem(op: .dq8ca_q4gsw, m: m, n: 64, k: 256, groupSize: 128), caps: caps, options: options).get()
        #expect(dq.shader.origin.family == .gemvInt && dq.tile.bn * m <= 32, "\(dq.reasons)")
        // No cooperative matrices (or disabled): the column kernel for M ≤ 8, a reason above.
        var none = caps
        none.cooperativeMatrix = false
        let fallback = Dispatcher.plan(.gemv, Problem(op: .q4gsw, m: m, n: 64, k: 256, groupSize: 128), caps: none, options: options)
        if m <= 8 {
            #expect((try? fallback.get())?.shader.origin.family.maxM == 8)
        } else {
            guard case .failure(let why) = fallback else { Issue.record("M = \(m) without tensor cores got a matrix–vector plan"); return }
            #expect(why.reason.contains("M = \(m)"))
        }
        // One slice: the plain kernel.
        let short = try Dispatcher.plan(.gemv, Problem(op: .fp16, m: m, n: 64, k: 64), caps: caps, options: options).get()
        #expect(short.shader.origin.family == .gemvMma && short.splitK == 1)
        // A configuration that can never be valid is a rejection with the reason.
        options.gemvConfig = GemvConfig(columns: 48, threads: 128, unroll: 2, mma: true)
        guard case .failure(let bad) = Dispatcher.plan(.gemv, Problem(op: .fp16, m: m, n: 64, k: 64), caps: caps, options: options) else {
            Issue.record("48 columns accepted"); return
        }
        #expect(bad.reason.contains("columns 16, 32, 64 or 128"))
    }

    @Test("the activation-quantization pass: threads from the table's quant rule, within the device's limits")
    func quantWorkgroup() {
        var caps = h100Caps()
        // steps = ⌈K/8⌉; threads the power of two ≥ 64 giving ≤ stepsPerThread steps each, ≤ maxThreads;
        // chunks ⌈steps/threads⌉ ≤ 4 held in registers.
        #expect(QuantAct.config(k: 40, caps: caps) == (64, 1))
        #expect(QuantAct.config(k: 4096, caps: caps) == (256, 2))              // standard: ≤ 2 each, ≤ 256
        #expect(QuantAct.config(k: 4104, caps: caps) == (256, 3))
        #expect(QuantAct.config(k: 14336, caps: caps) == (256, 4))             // 7 steps: 4 held, 3 looped
        let decode = QuantRule(stepsPerThread: 1, maxThreads: 1024)
        #expect(QuantAct.config(k: 4096, caps: caps, rule: decode) == (512, 1))
        #expect(QuantAct.config(k: 14336, caps: caps, rule: decode) == (1024, 2))
        #expect(QuantAct.config(k: 65536, caps: caps, rule: decode) == (1024, 4))
        #expect(QuantAct.config(k: 14336, caps: caps, rule: QuantRule(stepsPerThread: 0, maxThreads: 0)) == (1, 4))  // nonsense clamps, no trap
        #expect(QuantAct.config(k: 14336, caps: caps, rule: QuantRule(stepsPerThread: Int.max, maxThreads: Int.max)) == (64, 4))
        #expect(QuantAct.config(k: Int.max - 7, caps: caps, rule: QuantRule(stepsPerThread: -5, maxThreads: -1)) == (1, 4))
        #expect(QuantAct.config(k: 2056, caps: caps, threads: 32) == (32, 4))
        #expect(QuantAct.config(k: 2056, caps: caps, threads: 4096) == (1024, 1))
        caps.maxWorkgroupInvocations = 128
        #expect(QuantAct.config(k: 14336, caps: caps, rule: decode) == (128, 4))
        caps.maxWorkgroupInvocations = 1024; caps.maxWorkgroupSize = [192, 1024, 64]
        #expect(QuantAct.config(k: 14336, caps: caps, rule: decode) == (128, 4))
        // A dq8ca plan carries the pass's shape and says which rule gave it (the H100 table: one
        // step per thread for decode rows, two and ≤ 512 threads beyond M = 16); other ops have none.
        caps = h100Caps()
        let plan = try? Dispatcher.plan(.tiled, Problem(op: .dq8ca_q8csw, m: 1, n: 64, k: 14336), caps: caps).get()
        #expect(plan?.quantThreads == 1024 && plan?.quantChunks == 2)
        #expect(plan?.reasons.last?.hasPrefix("activation quantization: 1024 threads per row, 2 steps of 8 values per thread held in registers (nvidia-hopper quant rule 0") == true, "\(plan?.reasons.last ?? "")")
        let many = try? Dispatcher.plan(.tiled, Problem(op: .dq8ca_q8csw, m: 2048, n: 64, k: 14336), caps: caps).get()
        #expect(many?.quantThreads == 512 && many?.quantChunks == 4)
        var forced = DispatchOptions(); forced.quantThreads = 128
        let f = try? Dispatcher.plan(.tiled, Problem(op: .dq8ca_q8csw, m: 1, n: 64, k: 4096), caps: caps, options: forced).get()
        #expect(f?.quantThreads == 128 && f?.reasons.last?.hasSuffix("(forced by the caller)") == true)
        let fp = try? Dispatcher.plan(.tiled, Problem(op: .fp16, m: 1, n: 64, k: 64), caps: caps).get()
        #expect(fp?.quantThreads == 0)
    }

    @Test("H100 table: dq8ca decode (M = 1, and M = 2 where it won) runs gemv_dq with no quantization pass; larger M keeps the pass")
    func fusedDecodeRules() throws {
        var caps = h100Caps()
        caps.shaderFloat64 = true     // (as the H100 reports)
        let q4 = try Dispatcher.plan(.gemv, Problem(op: .dq8ca_q4gsw, m: 1, n: 4096, k: 14336, groupSize: 128), caps: caps).get()
        #expect(q4.shader == .gemv_dq_f64_q4_f16 && q4.quantFused && q4.quantShader == nil && q4.dispatches == 1 && q4.quantThreads == 0)
        #expect(q4.tuning?.hasPrefix("nvidia-hopper gemv rule") == true && q4.quantizesInFP64)
        // dq8ca_q8csw at 4096×14336 too since session 18 (1024 threads: 28.6 µs against the pass +
        // column kernel's 30.7).
        let q8 = try Dispatcher.plan(.gemv, Problem(op: .dq8ca_q8csw, m: 1, n: 4096, k: 14336), caps: caps).get()
        #expect(q8.shader == .gemv_dq_f64_q8_f16 && q8.quantFused && q8.quantShader == nil && q8.dispatches == 1 && q8.tile.workgroupSize == 1024)
        // M = 2: fused where it won (4096², 6144×4096, 4096×14336 — 1024 threads since session 18);
        // M = 4: the column kernel (this synthetic device lacks the probed fragment layout the
        // table's gemv_frag_dq rules need).
        let two = try Dispatcher.plan(.gemv, Problem(op: .dq8ca_q4gsw, m: 2, n: 4096, k: 4096, groupSize: 128), caps: caps).get()
        #expect(two.quantFused)
        let twoLong = try Dispatcher.plan(.gemv, Problem(op: .dq8ca_q4gsw, m: 2, n: 4096, k: 14336, groupSize: 128), caps: caps).get()
        #expect(twoLong.quantFused && twoLong.tile.workgroupSize == 1024)
        let four = try Dispatcher.plan(.gemv, Problem(op: .dq8ca_q4gsw, m: 4, n: 4096, k: 4096, groupSize: 128), caps: caps).get()
        #expect(four.shader.origin.family == .gemvInt && four.quantShader != nil)
        // Rows too long for 48 KB of int8 staging: the fused rule cannot apply, so the next
        // matching rule — the measured M = 1 column rule — gives the column kernel with its pass,
        // and explain says why.
        let long = try Dispatcher.plan(.gemv, Problem(op: .dq8ca_q4gsw, m: 1, n: 4096, k: 65536, groupSize: 128), caps: caps).get()
        #expect(long.shader.origin.family == .gemvInt && long.quantShader != nil && long.reasons.contains { $0.contains("subgroup-split kernel is not applicable here; the next matching rule is tried") })
        let table = TuningTable.forDevice(caps)
        let columnRule = table.gemv!.firstIndex { ($0.ops ?? [.dq8ca_q4gsw]).contains(.dq8ca_q4gsw) && $0.config.sg != true && $0.config.mma != true
            && ($0.when?.holds(Problem(op: .dq8ca_q4gsw, m: 1, n: 4096, k: 65536, groupSize: 128)) ?? true) }
        #expect(columnRule != nil && long.tuning == "nvidia-hopper gemv rule \(columnRule!)", "\(long.tuning ?? "none")")
        #expect(long.tile.bn == table.gemv![columnRule!].config.columns)
        // No integer dot product: no fused variant.
        var noDot = caps
        noDot.integerDotProduct = false
        let nd = try Dispatcher.plan(.gemv, Problem(op: .dq8ca_q4gsw, m: 1, n: 4096, k: 4096, groupSize: 128), caps: noDot).get()
        #expect(!nd.quantFused && nd.quantShader != nil)
    }

    @Test("a required subgroup size S caps workgroups at S × maxComputeWorkgroupSubgroups: the dispatcher refuses more, with the limit")
    func workgroupSubgroupLimit() throws {
        var caps = h100Caps()
        caps.maxWorkgroupInvocations = 1024
        #expect(caps.maxWorkgroupInvocations(requiredSubgroupSize: 32) == 1024)   // not reported: the plain limit
        caps.maxComputeWorkgroupSubgroups = 16
        #expect(caps.maxWorkgroupInvocations(requiredSubgroupSize: 32) == 512 && caps.maxWorkgroupInvocations(requiredSubgroupSize: nil) == 1024)
        var options = DispatchOptions()
        for (op, group) in [(Op.dq8ca_q4gsw, 128), (.q4gsw, 128)] {
            let p = Problem(op: op, m: 1, n: 64, k: 4096, groupSize: group, act: .f16)
            options.gemvConfig = GemvConfig(columns: 1, threads: 1024, unroll: 2, halfMath: true, sg: true)
            guard case .failure(let why) = Dispatcher.plan(.gemv, p, caps: caps, options: options) else {
                Issue.record("\(op): 1024 threads planned with a 512-invocation limit"); continue
            }
            #expect(why.reason.contains("over the device's 512"), "\(why.reason)")
            options.gemvConfig = GemvConfig(columns: 1, threads: 512, unroll: 2, halfMath: true, sg: true)
            #expect((try? Dispatcher.plan(.gemv, p, caps: caps, options: options).get())?.tile.workgroupSize == 512)
        }
    }

    @Test("wave64 device: 64-lane subgroups required, 16x16x16 int8 accepted")
    func amd() throws {
        let caps = amdCaps()
        for op in ops {
            let plan = try #require(Dispatcher.decide(Problem(op: op, m: 256, n: 128, k: 128, groupSize: 32), caps: caps).chosen)
            #expect(plan.kernel == .coopmat)
            #expect(plan.tile.subgroupSize == 64 && plan.tile.requireSubgroupSize)
            #expect(plan.tile.workgroupSize == 256)   // 64x64 tile, 2x2 subgroups of 64
            #expect(plan.tile.tk == 16)
        }
    }

    @Test("f16 cooperative matrices but no int8: dq8ca ops fall back to tiled, with the reason")
    func noInt8() throws {
        var caps = h100Caps()
        caps.coopMatConfigs.removeAll { $0.a == .s8 }
        let f = try #require(Dispatcher.decide(Problem(op: .q4gsw, m: 64, n: 64, k: 128, groupSize: 32), caps: caps).chosen)
        #expect(f.kernel == .coopmat)
        let d = Dispatcher.decide(Problem(op: .dq8ca_q8csw, m: 64, n: 64, k: 128), caps: caps)
        #expect(d.chosen?.kernel == .tiled)
        #expect(d.why.contains { $0.contains("s8") })
    }

    /// QV (one 16-byte INT4 load and one scale per 32 values) only for q4gsw where G, K and the K
    /// step are multiples of 32 and every thread gets at least one such load per step.
    @Test("32-value INT4 loads: chosen only where every thread gets one, and never for other ops or groups")
    func q4PiecesRule() throws {
        let caps = h100Caps()
        func qv(_ op: Op, _ tile: TileShape, _ bk: Int, group: Int = 128, k: Int = 4096) throws -> Int {
            var o = DispatchOptions()
            o.coopMatTile = tile; o.coopMatKStep = bk; o.coopMatBuffers = 1
            let p = Problem(op: op, m: 2048, n: 4096, k: k, groupSize: op == .fp16 ? 0 : group, act: .f16)
            let plan = try Dispatcher.plan(.coopmat, p, caps: caps, options: o).get()
            #expect(plan.tile.bm == tile.bm && plan.tile.bn == tile.bn && plan.tile.bk == bk, "\(plan.reasons)")
            return plan.tile.q4Pieces
        }
        #expect(try qv(.q4gsw, TileShape(bm: 64, bn: 64, wm: 2, wn: 2), 64) == 1)        // 64·2 loads ≥ 128 threads
        #expect(try qv(.q4gsw, TileShape(bm: 128, bn: 128, wm: 2, wn: 2), 32) == 1)      // 128·1 ≥ 128
        #expect(try qv(.q4gsw, TileShape(bm: 256, bn: 128, wm: 4, wn: 4), 32) == 0)      // 128 < 512 threads
        #expect(try qv(.q4gsw, TileShape(bm: 64, bn: 64, wm: 2, wn: 2), 32) == 0)        // 64 < 128
        #expect(try qv(.q4gsw, TileShape(bm: 64, bn: 64, wm: 2, wn: 2), 16) == 0)        // K step 16
        #expect(try qv(.q4gsw, TileShape(bm: 64, bn: 64, wm: 2, wn: 2), 64, group: 16, k: 4096) == 0)
        #expect(try qv(.q4gsw, TileShape(bm: 64, bn: 64, wm: 2, wn: 2), 64, group: 24, k: 4008) == 0)   // (K is a multiple of G)
        #expect(try qv(.fp16, TileShape(bm: 64, bn: 64, wm: 2, wn: 2), 64) == 0)
        // dq8ca ops need subgroup arithmetic (the activation-quantization pass reduces with it).
        var noSub = caps
        noSub.subgroupArithmetic = false
        #expect(Dispatcher.decide(Problem(op: .dq8ca_q8csw, m: 64, n: 64, k: 128), caps: noSub).chosen == nil)
        #expect(Dispatcher.decide(Problem(op: .q4gsw, m: 64, n: 64, k: 128, groupSize: 32), caps: noSub).chosen != nil)
    }

    @Test("no cooperative matrices at all: tiled for every op; integer dot product chosen when present")
    func none() throws {
        var caps = Capabilities(subgroupSize: 8, cooperativeMatrix: false)
        for op in ops {
            let plan = try #require(Dispatcher.decide(Problem(op: op, m: 9, n: 5, k: 64, groupSize: 32), caps: caps).chosen)
            #expect(plan.kernel == .tiled)
            if op.quantizesActivations { #expect(plan.shader.rawValue.contains("_dot_")) }
        }
        caps.integerDotProduct = false
        let plan = try #require(Dispatcher.decide(Problem(op: .dq8ca_q8csw, m: 30, n: 5, k: 64), caps: caps).chosen)
        #expect(!plan.shader.rawValue.contains("_dot_"))
    }

    @Test("odd shared-memory and workgroup limits")
    func limits() throws {
        var caps = h100Caps()
        caps.sharedMemoryBytes = 16384
        let small = try #require(Dispatcher.decide(Problem(op: .fp16, m: 4096, n: 4096, k: 64), caps: caps).chosen)
        #expect(small.kernel == .coopmat && small.tile.bm == 64)   // 128x128 needs 28 KiB
        caps.sharedMemoryBytes = 8192
        let tiny = Dispatcher.decide(Problem(op: .fp16, m: 64, n: 64, k: 64), caps: caps)
        #expect(tiny.chosen == nil || tiny.chosen?.kernel == .tiled)
        var minimal = Capabilities(maxWorkgroupInvocations: 128, cooperativeMatrix: false)
        minimal.sharedMemoryBytes = 16384
        let t = try #require(Dispatcher.decide(Problem(op: .q4gsw, m: 9, n: 8, k: 64, groupSize: 32), caps: minimal).chosen)
        #expect(t.tile.workgroupSize == 128)
    }

    @Test("disabled by option or by a failed self-test; forced kernels")
    func options() throws {
        let caps = h100Caps()
        let p = Problem(op: .fp16, m: 64, n: 64, k: 64)
        #expect(Dispatcher.decide(p, caps: caps, options: DispatchOptions(disableCoopMat: true)).chosen?.kernel == .tiled)
        let broken = DispatchOptions(brokenCoopMat: [.f16: "junk"])
        let d = Dispatcher.decide(p, caps: caps, options: broken)
        #expect(d.chosen?.kernel == .tiled)
        #expect(d.why.joined().contains("self-test"))
        #expect(Dispatcher.decide(Problem(op: .dq8ca_q8csw, m: 64, n: 64, k: 64), caps: caps, options: broken).chosen?.kernel == .coopmat)
        #expect(Dispatcher.decide(p, caps: caps, force: .tiled).chosen?.kernel == .tiled)
        #expect(Dispatcher.decide(p, caps: Capabilities(cooperativeMatrix: false), force: .coopmat).chosen == nil)
    }

    @Test("group sizes that do not fit the int8 K step use the tiled kernel")
    func groups() throws {
        let caps = h100Caps()
        let d = Dispatcher.decide(Problem(op: .dq8ca_q4gsw, m: 64, n: 64, k: 64, groupSize: 16), caps: caps)
        #expect(d.chosen?.kernel == .tiled)
        #expect(d.chosen?.tile.bk == 16)
        #expect(Dispatcher.decide(Problem(op: .q4gsw, m: 64, n: 64, k: 64, groupSize: 16), caps: caps).chosen?.kernel == .coopmat)
    }

    @Test("a K step the int8 kernel cannot take (padded K not a multiple, group not a multiple) falls back to 32; split-K slices cover K")
    func int8KStep() throws {
        let caps = h100Caps()
        for (k, g) in [(200, 64), (131, 64), (4096, 32)] {
            for op in [Op.dq8ca_q8csw, .dq8ca_q4gsw] where op == .dq8ca_q8csw || k % g == 0 {
                var o = DispatchOptions(tuning: TuningTable(name: "t", match: nil, provenance: "test",
                                                            coopmat: [TuningRule(tile: .small, kStep: 64)], gemv: nil))
                let p = Problem(op: op, m: 100, n: 65, k: k, groupSize: g)
                let plan = try Dispatcher.plan(.coopmat, p, caps: caps, options: o).get()
                let kp = (k + 31) / 32 * 32
                let fits64 = op == .dq8ca_q8csw ? kp % 64 == 0 : g % 64 == 0
                #expect(plan.tile.bk == (fits64 ? 64 : 32), "\(op) K=\(k) G=\(g): K step \(plan.tile.bk)")
                // Forced, the K step that does not fit is refused, not silently changed.
                o.coopMatKStep = 64
                if !fits64 { #expect(throws: DispatchRejection.self) { try Dispatcher.plan(.coopmat, p, caps: caps, options: o).get() } }
                o.coopMatKStep = nil
                o.coopMatSplitK = 3
                let sp = try Dispatcher.plan(.coopmat, p, caps: caps, options: o).get()
                let kLoop = op == .dq8ca_q8csw ? kp : k
                #expect(sp.splitK == 1 || (sp.kSlice % sp.tile.bk == 0 && (sp.splitK - 1) * sp.kSlice < kLoop && sp.splitK * sp.kSlice >= kLoop))
                if op == .dq8ca_q4gsw && sp.splitK > 1 { #expect(sp.kSlice % g == 0) }
            }
        }
    }

    @Test("decode batches (M ≤ 8; fp16 and q4gsw up to 16 on the tensor-core kernel where the table says so) use the matrix–vector kernel when the device has subgroup arithmetic")
    func gemv() throws {
        var caps = h100Caps()
        for op in ops {
            let plan = try #require(Dispatcher.decide(Problem(op: op, m: 8, n: 4096, k: 4096, groupSize: 128), caps: caps).chosen)
            #expect(plan.kernel == .gemv)
            // The H100 table sends fp16 and q4gsw M = 9…16 to gemv_mma, and dq8ca (whose M ≥ 2 rules
            // cover them) to the int8 column kernel, with at most 32 sums per thread.
            let nine = Dispatcher.decide(Problem(op: op, m: 9, n: 4096, k: 4096, groupSize: 128), caps: caps).chosen
            #expect(nine?.kernel == .gemv && nine?.shader.origin.family.maxM == 16)
            if !op.floatMath { #expect(nine.map { $0.tile.bn * 9 <= 32 } == true) }
            #expect(Dispatcher.decide(Problem(op: op, m: 17, n: 4096, k: 4096, groupSize: 128), caps: caps).chosen?.kernel == .coopmat)
        }
        #expect(Dispatcher.decide(Problem(op: .dq8ca_q4gsw, m: 1, n: 64, k: 64, groupSize: 16), caps: caps).chosen?.kernel == .coopmat
                || Dispatcher.decide(Problem(op: .dq8ca_q4gsw, m: 1, n: 64, k: 64, groupSize: 16), caps: caps).chosen?.kernel == .tiled)
        caps.subgroupArithmetic = false
        #expect(Dispatcher.decide(Problem(op: .fp16, m: 1, n: 64, k: 64), caps: caps).chosen?.kernel == .coopmat)
    }

    @Test("invalid problems get no kernel and a clear reason")
    func invalid() {
        let caps = h100Caps()
        let bad = [Problem(op: .q4gsw, m: 4, n: 4, k: 100, groupSize: 32), Problem(op: .fp16, m: 0, n: 4, k: 4),
                   Problem(op: .q4gsw, m: 4, n: 4, k: 96, groupSize: 12), Problem(op: .dq8ca_q8csw, m: 1, n: 1, k: 200_000)]
        for p in bad {
            let d = Dispatcher.decide(p, caps: caps)
            #expect(d.chosen == nil, "\(p)")
            #expect(!d.why.isEmpty)
        }
    }

    @Test("fp16 data on a device without 16-bit support is refused, fp32 INT4 still runs")
    func no16() throws {
        let caps = Capabilities(shaderFloat16: false, storageBuffer16Bit: false, cooperativeMatrix: false)
        #expect(Dispatcher.decide(Problem(op: .fp16, m: 4, n: 4, k: 8, act: .f32), caps: caps).chosen == nil)
        #expect(Dispatcher.decide(Problem(op: .q4gsw, m: 4, n: 4, k: 32, groupSize: 32, act: .f32), caps: caps).chosen != nil)
    }
}

@Suite("Capabilities")
struct CapabilityTests {
    @Test func componentTypes() {
        #expect(ComponentType(vulkanRaw: 0) == .f16)
        #expect(ComponentType(vulkanRaw: 3) == .s8)
        #expect(ComponentType(vulkanRaw: 5) == .s32)
        #expect(ComponentType(vulkanRaw: 1000141000) == .bf16)
        #expect(ComponentType(vulkanRaw: 77) == .other)
    }

    @Test func shapesFilter() {
        let c = h100Caps()
        #expect(c.coopMatShapes(a: .f16, b: .f16, c: .f32, result: .f32).count == 3)
        #expect(c.coopMatShapes(a: .s8, b: .s8, c: .s32, result: .s32).map(\.k) == [32, 32])
        #expect(amdCaps().possibleSubgroupSizes == [32, 64])
    }

    @Test("the real device's capabilities are read and self-consistent")
    func realDevice() throws {
        let ctx = try Shared.ctx()
        let c = ctx.capabilities
        #expect(!c.name.isEmpty)
        #expect(c.subgroupSize >= 1 && c.minSubgroupSize <= c.subgroupSize && c.subgroupSize <= c.maxSubgroupSize)
        #expect(c.maxWorkgroupInvocations >= 128)
        #expect(c.sharedMemoryBytes >= 16384)
        #expect(c.cooperativeMatrix || c.coopMatConfigs.isEmpty)
    }
}
