import Testing
@testable import QLinear
import QLinearCheck
import VulkanRuntime

/// The direct kernel (`coopmat_direct`, gemm_direct.comp: a cooperative-matrix plan with buffers 0)
/// builds its fragments in registers for the probed layout mma16816. lavapipe has no cooperative
/// matrices, so the kernel runs only on the GPU (`qlinear check --kernel coopmat --buffers 0`);
/// here: its K permutation replayed element by element through the layout, and the dispatcher's,
/// encode's and the tuner's gates.
@Suite("Direct cooperative-matrix kernel (coopmat_direct)")
struct DirectKernelTests {
    /// The shader's loads and element assignments for one 16 x rows × 8 weight rows fragment pair
    /// over K = 32·blocks: lane (g, t) loads halves 8t … 8t + 7 of each 32-value block of x rows g,
    /// g + 8 and weight row g; MMA s of a block takes halves 4s … 4s + 3 as A elements 0…3 (row g),
    /// 4…7 (row g + 8) and as B elements 0…3 (`bOrder` permutes them). Returns y read back through
    /// C's layout and the exact Σ_k x[m, k]·w[n, k].
    func emulate(seed: UInt64, blocks: Int, bOrder: [Int]) -> (got: [Int], want: [Int], placed: Bool) {
        var rng = SplitMix64(seed: seed)
        let layout = FragmentLayout.mma16816
        let k = 32 * blocks
        let x = (0..<(16 * k)).map { _ in Int(rng.next() % 31) - 15 }
        let w = (0..<(8 * k)).map { _ in Int(rng.next() % 31) - 15 }
        var c = [Int](repeating: 0, count: 16 * 8)
        var placed = true
        for kb in 0..<blocks {
            for s in 0..<2 {
                var am = [Int?](repeating: nil, count: 256), bm = [Int?](repeating: nil, count: 128)
                for lane in 0..<32 {
                    let g = lane >> 2, t = lane & 3
                    let base = 32 * kb + 8 * t + 4 * s
                    let aElems = (0..<4).map { x[g * k + base + $0] } + (0..<4).map { x[(g + 8) * k + base + $0] }
                    let bElems = bOrder.map { w[g * k + base + $0] }
                    for (i, v) in aElems.enumerated() { placed = placed && am[layout.a[lane][i]] == nil; am[layout.a[lane][i]] = v }
                    for (i, v) in bElems.enumerated() { placed = placed && bm[layout.b[lane][i]] == nil; bm[layout.b[lane][i]] = v }
                }
                placed = placed && !am.contains(nil) && !bm.contains(nil)
                for r in 0..<16 { for n in 0..<8 { for kk in 0..<16 { c[r * 8 + n] += (am[r * 16 + kk] ?? 0) * (bm[kk * 8 + n] ?? 0) } } }
            }
        }
        var got: [Int] = [], want: [Int] = []
        for lane in 0..<32 {
            for i in 0..<4 {
                // C element i of lane (g, t): x row g + 8(i >> 1), weight row 2t + (i & 1) — as the
                // shader's epilogue writes it.
                let flat = layout.c[lane][i], m = flat / 8, n = flat % 8
                placed = placed && m == (lane >> 2) + 8 * (i >> 1) && n == 2 * (lane & 3) + (i & 1)
                var ref = 0
                for kk in 0..<k { ref += x[m * k + kk] * w[n * k + kk] }
                got.append(c[m * 8 + n]); want.append(ref)
            }
        }
        return (got, want, placed)
    }

    @Test("the K permutation pairs every x value with its own weight (exact integer sums)", arguments: [(UInt64(1), 1), (2, 2), (3, 5)])
    func permutation(seed: UInt64, blocks: Int) {
        let r = emulate(seed: seed, blocks: blocks, bOrder: [0, 1, 2, 3])
        #expect(r.placed)
        #expect(r.got == r.want)
    }

    @Test("the replay fails when B's elements are taken in another order")
    func permutationCanFail() {
        let r = emulate(seed: 1, blocks: 2, bOrder: [0, 2, 1, 3])
        #expect(r.placed)
        #expect(r.got != r.want)
    }

    func directOptions(_ tile: TileShape, kStep: Int = 32, prefetch: Int? = nil) -> DispatchOptions {
        var o = DispatchOptions()
        o.fragmentLayout = .mma16816
        o.coopMatTile = tile
        o.coopMatBuffers = 0
        o.coopMatKStep = kStep
        o.coopMatPrefetch = prefetch
        return o
    }

    @Test("dispatch: buffers 0 plans coopmat_direct for fp16 (any M, N, K; both activation dtypes): 16×8×16 MMAs, no shared memory, no split-K", arguments: [1, 17, 100, 2048])
    func plans(m: Int) throws {
        let caps = h100Caps()
        for act in [DType.f16, .f32] {
            for (n, k) in [(4096, 4096), (50, 77), (129, 1000)] {
                let p = Problem(op: .fp16, m: m, n: n, k: k, groupSize: 0, act: act)
                let plan = try Dispatcher.plan(.coopmat, p, caps: caps, options: directOptions(TileShape(bm: 128, bn: 128, wm: 2, wn: 2))).get()
                #expect(plan.shader.origin.family == .coopmatDirect)
                #expect(plan.tile.tm == 16 && plan.tile.tn == 8 && plan.tile.tk == 16 && plan.tile.buffers == 0)
                #expect(plan.tile.sharedBytes(kind: .coopmat, op: .fp16) == 0)
                #expect(plan.splitK == 1 && plan.quantShader == nil)
                #expect(plan.reasons.contains { $0.contains("direct kernel") })
            }
        }
        // Two register sets where the arrays fit (64×32 subgroup tiles), not for 64×64.
        let p = Problem(op: .fp16, m: m, n: 4096, k: 4096, groupSize: 0, act: .f16)
        #expect((try? Dispatcher.plan(.coopmat, p, caps: caps, options: directOptions(TileShape(bm: 128, bn: 128, wm: 2, wn: 4), prefetch: 2)).get())?.tile.prefetch == 2)
        #expect((try? Dispatcher.plan(.coopmat, p, caps: caps, options: directOptions(TileShape(bm: 128, bn: 128, wm: 2, wn: 2), prefetch: 2)).get()) == nil)
    }

    @Test("dispatch: the direct kernel is refused for other ops, without the probed layout, with split-K, at K step 16, and for subgroup tiles that are not whole fragments or would spill")
    func refusals() {
        let caps = h100Caps()
        let tile = TileShape(bm: 128, bn: 128, wm: 2, wn: 2)
        for op in Op.allCases where op != .fp16 {
            let p = Problem(op: op, m: 256, n: 256, k: 256, groupSize: 128, act: .f16)
            #expect((try? Dispatcher.plan(.coopmat, p, caps: caps, options: directOptions(tile)).get()) == nil)
        }
        let p = Problem(op: .fp16, m: 256, n: 256, k: 256, groupSize: 0, act: .f16)
        var noLayout = directOptions(tile)
        noLayout.fragmentLayout = nil
        #expect((try? Dispatcher.plan(.coopmat, p, caps: caps, options: noLayout).get()) == nil)
        var split = directOptions(tile)
        split.coopMatSplitK = 2
        #expect((try? Dispatcher.plan(.coopmat, p, caps: caps, options: split).get()) == nil)
        #expect((try? Dispatcher.plan(.coopmat, p, caps: caps, options: directOptions(tile, kStep: 16)).get()) == nil)
        // 40-row subgroup tiles are not whole 16-row fragments; 128×128 per subgroup: 512 accumulator registers.
        #expect((try? Dispatcher.plan(.coopmat, p, caps: caps, options: directOptions(TileShape(bm: 80, bn: 128, wm: 2, wn: 2))).get()) == nil)
        #expect((try? Dispatcher.plan(.coopmat, p, caps: caps, options: directOptions(TileShape(bm: 256, bn: 256, wm: 2, wn: 2))).get()) == nil)
        // A device without cooperative matrices never gets it.
        var lavapipe = h100Caps()
        lavapipe.cooperativeMatrix = false
        #expect((try? Dispatcher.plan(.coopmat, p, caps: lavapipe, options: directOptions(tile)).get()) == nil)
        #expect(Dispatcher.directRegisters(TileConfig(bm: 128, bn: 128, bk: 32, workgroupSize: 128).with { $0.wm = 2; $0.wn = 2 }, sets: 1) == 192)
    }

    @Test("x staged where WM = 1: shared memory 2·BM·(16·K blocks + 4) words, the XS constant, registers without x fragments; direct (WM > 1) stays at 0 bytes")
    func stagedX() throws {
        let caps = h100Caps()
        let p = Problem(op: .fp16, m: 2048, n: 4096, k: 4096, groupSize: 0, act: .f16)
        let staged = try Dispatcher.plan(.coopmat, p, caps: caps, options: directOptions(TileShape(bm: 128, bn: 256, wm: 1, wn: 8), prefetch: 2)).get()
        #expect(staged.shader.origin.family == .coopmatDirect && staged.tile.directStagesX)
        #expect(staged.tile.specValues["XS"] == 1 && staged.tile.sharedBytes(kind: .coopmat, op: .fp16) == 2 * 128 * 20 * 4)
        #expect(Dispatcher.directRegisters(staged.tile, sets: 2) == 128 + 32 + 16 + 4)
        #expect(staged.reasons.contains { $0.contains("x staged") })
        let k64 = try Dispatcher.plan(.coopmat, p, caps: caps, options: directOptions(TileShape(bm: 128, bn: 256, wm: 1, wn: 8), kStep: 64)).get()
        #expect(k64.tile.sharedBytes(kind: .coopmat, op: .fp16) == 2 * 128 * 36 * 4)
        // 192 x rows at K step 64 need 2·192·36·4 = 55296 bytes: refused on a 48 KB device for that
        // reason alone (its arrays, 108 registers, fit).
        let tooBig = directOptions(TileShape(bm: 192, bn: 64, wm: 1, wn: 8), kStep: 64)
        var t192 = TileConfig(bm: 192, bn: 64, bk: 64, workgroupSize: 256)
        t192.wm = 1; t192.wn = 8; t192.buffers = 0
        #expect(Dispatcher.directRegisters(t192, sets: 1) <= 240)
        if case .failure(let why) = Dispatcher.plan(.coopmat, p, caps: caps, options: tooBig) {
            #expect(why.reason.contains("shared memory"))
        } else {
            Issue.record("192 staged x rows at K step 64 planned on a 48 KB device")
        }
        let direct = try Dispatcher.plan(.coopmat, p, caps: caps, options: directOptions(TileShape(bm: 128, bn: 128, wm: 2, wn: 2))).get()
        #expect(!direct.tile.directStagesX && direct.tile.specValues["XS"] == 0 && direct.tile.sharedBytes(kind: .coopmat, op: .fp16) == 0)
        // The staging order: a chunk's words 0…3 land at t', t' + 4 (MMA half 0) and 8 + t', 12 + t'
        // (half 1) — the logical K columns 2t', 2t' + 1, 2t' + 8, 2t' + 9 of each half, which is
        // where coopMatLoad's A element i of lane (g, t') (column 2t' + (i & 1) + 8·((i >> 1) & 1))
        // reads them: every half of every chunk once, each at the column the weights' permutation gives it.
        let layout = FragmentLayout.mma16816
        for half in 0..<2 {
            var seen = Set<Int>()
            for lane in 0..<32 {
                let t = lane & 3
                for i in 0..<4 {
                    let col = layout.a[lane][i] % 16          // natural column coopMatLoad reads
                    let word = 8 * half + col / 2             // staged word holding it
                    // What was stored there: chunk t' = word % 4, its word (2·half + (word % 8) / 4).
                    let tq = word % 4, w = 2 * half + (word % 8) / 4
                    let physical = 8 * tq + 2 * w + col % 2     // half within the 32-value block
                    // The weights' permutation: lane t's MMA half `half`, element i ↔ physical 8t + 4·half + i.
                    #expect(physical == 8 * t + 4 * half + i)
                    seen.insert(physical)
                }
            }
            #expect(seen.count == 16)
        }
    }

    @Test("ablation 8 (the staged form's barrier without memory semantics) is a diagnostic of the direct kernel only")
    func ablation8() {
        let caps = h100Caps()
        let p = Problem(op: .fp16, m: 256, n: 256, k: 256, groupSize: 0, act: .f16)
        var o = directOptions(TileShape(bm: 128, bn: 256, wm: 1, wn: 8))
        o.coopMatAblate = 8
        #expect((try? Dispatcher.plan(.coopmat, p, caps: caps, options: o).get())?.tile.ablate == 8)
        o.coopMatBuffers = 1
        #expect((try? Dispatcher.plan(.coopmat, p, caps: caps, options: o).get()) == nil)
        o.coopMatBuffers = 0
        o.coopMatAblate = 16
        #expect((try? Dispatcher.plan(.coopmat, p, caps: caps, options: o).get()) == nil)
    }

    @Test("tune offers the direct kernel only when asked, for fp16 past M = 64, with buffers 0")
    func candidates() {
        let plain = Tuner.candidates(.coopmat, floatOps: true, m: 2048)
        #expect(!plain.contains { $0.buffers == 0 })
        let offered = Tuner.candidates(.coopmat, floatOps: true, m: 2048, direct: true)
        #expect(offered.filter { $0.buffers == 0 }.count >= 10)
        #expect(!Tuner.candidates(.coopmat, floatOps: true, m: 64, direct: true).contains { $0.buffers == 0 })
        #expect(!Tuner.candidates(.coopmat, floatOps: false, m: 2048, direct: true).contains { $0.buffers == 0 })
        // Every direct candidate plans as the direct kernel on the H100's capabilities (none falls
        // back to another kernel in a sweep).
        let caps = h100Caps()
        let p = Problem(op: .fp16, m: 2048, n: 4096, k: 4096, groupSize: 0, act: .f16)
        for c in offered where c.buffers == 0 {
            var o = DispatchOptions()
            o.coopMatTile = c.tile; o.coopMatKStep = c.kStep; o.coopMatBuffers = c.buffers; o.coopMatPrefetch = c.prefetch
            o.fragmentLayout = .mma16816
            #expect((try? Dispatcher.plan(.coopmat, p, caps: caps, options: o).get())?.shader.origin.family == .coopmatDirect, "\(c)")
        }
    }
}

extension DirectKernelTests {
    @Test("encode refuses a hand-made direct plan here (no probed layout) and with dimensions that would overflow — a thrown error, never a trap")
    func handMadePlansAreRefused() throws {
        let ctx = try Shared.ctx()
        let layer = try fp16Layer(ctx, n: 16, k: 64, act: .f16)
        let m = 3
        var plan = try layer.plan(m: m)
        plan.kernel = .coopmat
        plan.shader = .coopmat_direct_f16_f16
        var t = TileConfig(bm: 128, bn: 128, bk: 32, workgroupSize: 128)
        t.wm = 2; t.wn = 2; t.tm = 16; t.tn = 8; t.tk = 16; t.subgroupSize = 32; t.buffers = 0
        plan.tile = t
        let xb = try Buffer(device: ctx.device, size: try layer.inputBytes(m: m))
        let yb = try Buffer(device: ctx.device, size: try layer.outputBytes(m: m))
        let scratch = try layer.makeScratch(m: m)
        for edit in [{ (p: inout KernelPlan) in }, { $0.tile.bm = 1 << 58; $0.tile.wm = 1 }, { $0.tile.wm = 1 << 40; $0.tile.wn = 1 << 40 },
                     { $0.tile.wm = 0 }, { $0.tile.bk = 48 }] as [(inout KernelPlan) -> Void] {
            var p = plan
            edit(&p)
            let s = try CommandStream(device: ctx.device)
            #expect(throws: QLinearError.self) { try layer.encode(s, plan: p, x: BufferBinding(xb), y: BufferBinding(yb), scratch: scratch) }
        }
    }
}

private extension TileConfig {
    func with(_ f: (inout TileConfig) -> Void) -> TileConfig { var t = self; f(&t); return t }
}
