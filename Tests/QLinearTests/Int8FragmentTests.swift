import Testing
@testable import QLinear
import QLinearCheck
import VulkanRuntime

/// `gemm_frag_i8` (dq8ca_q8csw's prefill form with int8 MMAs): the int8 weight words as A
/// fragments in registers, for one probed int8 layout, and the x rows staged in the MMAs' K order
/// for coopMatLoad. lavapipe has no cooperative matrices, so the kernel runs only on the GPU
/// (`qlinear check --gemv …`); here: the layout's recognition, the kernel's K permutation replayed
/// element by element, the shared-memory banks, the dispatcher's and the tuner's gates.
@Suite("int8 prefill form (gemm_frag_i8)")
struct Int8FragmentTests {
    @Test("the int8 layout is recognised from the probe's words; another A or C order or subgroup size is not; B is not relied on")
    func recognition() throws {
        let nv = FragmentLayout.mma16832s8
        #expect(nv.knownInt8 == .mma16832s8)
        #expect(try FragmentLayout(probeWords: words(nv)).knownInt8 == .mma16832s8)
        // PTX register order for A (a0 … a3: rows g, g + 8 before the K halves).
        var ptx = nv
        ptx.a = (0..<32).map { l in (0..<16).map { i in ((l >> 2) + 8 * ((i >> 2) & 1)) * 32 + 4 * (l & 3) + (i & 3) + 16 * (i >> 3) } }
        #expect(ptx.knownInt8 == nil)
        var c = nv
        c.c.swapAt(3, 4)
        #expect(c.knownInt8 == nil)
        var wave64 = nv
        wave64.subgroupSize = 64
        #expect(wave64.knownInt8 == nil)
        var b = nv
        b.b = b.b.reversed()
        #expect(b.knownInt8 == .mma16832s8)
        // The f16 layout is not an int8 one and vice versa.
        #expect(FragmentLayout.mma16816.knownInt8 == nil && nv.known == nil)
    }

    /// The shader's loads, staging and fragment assembly replayed on the CPU for one block of `bk`
    /// K values: lane (g, t) holds the words of its chunk (bytes (bk/4)·t …) of weight rows g and
    /// g + 8; `storeX` puts x row r's word 4p + e (piece p) at word `pos(p, e)` of the row's staged
    /// block; coopMatLoad (column-major, one 32-byte column per x row and step) gives B(k, n) =
    /// byte k of step s's column n; A element i of a lane (through the layout) is byte i & 3 of
    /// word 2(s % 4) + ((i >> 2) & 1) of sub-block s / 4's chunk of row half i >> 3. Returns C through the C layout and the
    /// exact sums.
    func emulate(seed: UInt64, bk: Int = 128, pos: (_ p: Int, _ e: Int) -> Int) -> (got: [Int], want: [Int], placed: Bool) {
        var rng = SplitMix64(seed: seed)
        let layout = FragmentLayout.mma16832s8
        let w = (0..<(16 * bk)).map { _ in Int(Int8(truncatingIfNeeded: rng.next())) }
        let x = (0..<(8 * bk)).map { _ in Int(Int8(truncatingIfNeeded: rng.next())) }
        var staged = [[Int?]](repeating: [Int?](repeating: nil, count: bk), count: 8)
        var placed = true
        for r in 0..<8 { for p in 0..<(bk / 16) { for e in 0..<4 {
            let at = pos(p, e)
            guard at >= 0, at < bk / 4 else { placed = false; continue }
            for byte in 0..<4 {
                if staged[r][4 * at + byte] != nil { placed = false }
                staged[r][4 * at + byte] = x[r * bk + 4 * (4 * p + e) + byte]
            }
        } } }
        var cm = [Int](repeating: 0, count: 16 * 8)
        for s in 0..<(bk / 32) {
            var a = [Int?](repeating: nil, count: 16 * 32)
            for lane in 0..<32 {
                let g = lane >> 2, t = lane & 3
                for i in 0..<16 {
                    let row = g + 8 * (i >> 3), word = 2 * (s % 4) + ((i >> 2) & 1)   // of sub-block s / 4
                    let flat = layout.a[lane][i]
                    if a[flat] != nil { placed = false }
                    a[flat] = w[row * bk + 128 * (s / 4) + 32 * t + 4 * word + (i & 3)]
                }
            }
            for r in 0..<16 { for n in 0..<8 { for k in 0..<32 {
                guard let av = a[r * 32 + k], let bv = staged[n][32 * s + k] else { placed = false; continue }
                cm[r * 8 + n] += av * bv
            } } }
        }
        var got: [Int] = [], want: [Int] = []
        for lane in 0..<32 { for i in 0..<4 {
            let flat = layout.c[lane][i]
            got.append(cm[flat])
            let r = flat / 8, n = flat % 8
            want.append((0..<bk).reduce(0) { $0 + w[r * bk + $1] * x[n * bk + $1] })
        } }
        return (got, want, placed)
    }

    /// gemm_i8.comp's storeX: the piece's word e is the row's word a = 4p + e = 32j + 8t + w
    /// (sub-block j, lane t's chunk, its word w), which step 4j + w / 2 takes at word
    /// 32j + 8(w / 2) + t + 4(w & 1). (`natural`: the chunk of lane t is (bk/16)·t …, the other
    /// order a 256-value block could have used: it pairs the wrong words with the kernel's A.)
    static func shaderPos(bk: Int, natural: Bool = false) -> (Int, Int) -> Int {
        { p, e in
            let a = 4 * p + e
            if natural {
                let t = a / (bk / 16), w = a % (bk / 16)
                return 8 * (w >> 1) + t + 4 * (w & 1)
            }
            let t = (a & 31) >> 3, w = a & 7
            return 32 * (a >> 5) + 8 * (w >> 1) + t + 4 * (w & 1)
        }
    }

    @Test("the K permutation pairs every int8 weight with its own activation (exact int32 sums)", arguments: [(UInt64(1), 128), (2, 128), (3, 256), (4, 256)])
    func permutation(seed: UInt64, bk: Int) {
        let r = emulate(seed: seed, bk: bk, pos: Int8FragmentTests.shaderPos(bk: bk))
        #expect(r.placed)
        #expect(r.got == r.want)
    }

    @Test("the replay can fail: x staged in natural order does not pair with the weights")
    func permutationCanFail() {
        let r = emulate(seed: 1, pos: { p, e in 4 * p + e })
        #expect(r.placed)
        #expect(r.got != r.want)
        // … and 256-value blocks staged with the 128-value chunk size.
        let r2 = emulate(seed: 1, bk: 256, pos: Int8FragmentTests.shaderPos(bk: 256, natural: true))
        #expect(!r2.placed || r2.got != r2.want)
    }

    /// The INT4 form replayed: lane t's word s' of sub-block j holds values 128j + 32t + 8s' … + 7
    /// (nibble i = value i); A word h of step s = 4j + s' is ((w << 4) & 0xF0F0F0F0) ^ 0x80808080
    /// (h = 0) or (w & 0xF0F0F0F0) ^ 0x80808080 (h = 1); x pairs of words are regrouped into even
    /// and odd bytes (`regroup`) before the int8 form's staging. Returns C and 16·Σ (q − 8)·x.
    func emulateQ4(seed: UInt64, bk: Int, regroup: Bool) -> (got: [Int], want: [Int]) {
        var rng = SplitMix64(seed: seed)
        let layout = FragmentLayout.mma16832s8
        let q = (0..<(16 * bk)).map { _ in Int(rng.next() & 15) }
        let x = (0..<(8 * bk)).map { _ in Int(Int8(truncatingIfNeeded: rng.next())) }
        func word(_ n: Int, _ k0: Int) -> UInt32 {   // 8 nibbles of row n from value k0
            (0..<8).reduce(UInt32(0)) { $0 | (UInt32(q[n * bk + k0 + $1]) << UInt32(4 * $1)) }
        }
        func bytes(_ w: UInt32) -> [Int] { (0..<4).map { Int(Int8(truncatingIfNeeded: w >> UInt32(8 * $0))) } }
        func xword(_ r: Int, _ a: Int) -> UInt32 {   // the x row's word a (4 int8 values)
            (0..<4).reduce(UInt32(0)) { $0 | (UInt32(UInt8(bitPattern: Int8(x[r * bk + 4 * a + $1]))) << UInt32(8 * $1)) }
        }
        var staged = [[Int]](repeating: [Int](repeating: 0, count: bk), count: 8)
        let pos = Int8FragmentTests.shaderPos(bk: bk)
        for r in 0..<8 { for p in 0..<(bk / 16) {
            var v = (0..<4).map { xword(r, 4 * p + $0) }
            if regroup {   // gemm_i8.comp's storeX for WEIGHT_Q4
                for e in stride(from: 0, to: 4, by: 2) {
                    let a = v[e], b = v[e + 1]
                    v[e] = (a & 0xFF) | ((a >> 8) & 0xFF00) | ((b << 16) & 0xFF0000) | ((b << 8) & 0xFF00_0000)
                    v[e + 1] = ((a >> 8) & 0xFF) | ((a >> 16) & 0xFF00) | ((b << 8) & 0xFF0000) | (b & 0xFF00_0000)
                }
            }
            for e in 0..<4 { for (i, b) in bytes(v[e]).enumerated() { staged[r][4 * pos(p, e) + i] = b } }
        } }
        var cm = [Int](repeating: 0, count: 16 * 8)
        for s in 0..<(bk / 32) {
            var a = [Int](repeating: 0, count: 16 * 32)
            for lane in 0..<32 {
                let g = lane >> 2, t = lane & 3
                for i in 0..<16 {
                    let row = g + 8 * (i >> 3), h = (i >> 2) & 1
                    let w = word(row, 128 * (s / 4) + 32 * t + 8 * (s % 4))
                    let aw = (h == 0 ? (w << 4) & 0xF0F0_F0F0 : w & 0xF0F0_F0F0) ^ 0x8080_8080
                    a[layout.a[lane][i]] = bytes(aw)[i & 3]
                }
            }
            for r in 0..<16 { for n in 0..<8 { for k in 0..<32 { cm[r * 8 + n] += a[r * 32 + k] * staged[n][32 * s + k] } } }
        }
        var got: [Int] = [], want: [Int] = []
        for lane in 0..<32 { for i in 0..<4 {
            let flat = layout.c[lane][i], r = flat / 8, n = flat % 8
            got.append(cm[flat])
            want.append(16 * (0..<bk).reduce(0) { $0 + (q[r * bk + $1] - 8) * x[n * bk + $1] })
        } }
        return (got, want)
    }

    @Test("INT4 as int8 bytes: 16·(q − 8) by two operations per word, x regrouped alike — exact sums", arguments: [(UInt64(5), 128), (6, 256)])
    func int4Form(seed: UInt64, bk: Int) {
        let r = emulateQ4(seed: seed, bk: bk, regroup: true)
        #expect(r.got == r.want)
        #expect(emulateQ4(seed: seed, bk: bk, regroup: false).got != r.want, "the replay can fail: x not regrouped")
    }

    @Test("staging coverage: pieceRow / pieceOf give every (row, piece) of a block to exactly one invocation slot", arguments: [(32, 128), (64, 128), (128, 128), (32, 256), (64, 256)])
    func stagingCoverage(tn: Int, bk: Int) {
        let pr = bk / 16
        var seen = Set<Int>()
        for idx in 0..<(tn * pr) {   // gemm_i8.comp: row (idx / 8) % TN, piece 8·(idx / (8·TN)) + idx % 8
            let row = (idx >> 3) % tn, piece = 8 * (idx / (8 * tn)) + (idx & 7)
            #expect(row < tn && piece < pr)
            seen.insert(row * pr + piece)
        }
        #expect(seen.count == tn * pr)
    }

    @Test("half-block weights (int8): the steps that read the first half are exactly those before the next block's first half is fetched (s < NS/2), and aWord's slot is the one fetchHalf filled", arguments: [128, 256])
    func halfBlockSchedule(bk: Int) {
        let ch = bk / 64, ns = bk / 32, half = ch / 2
        for s in 0..<ns { for h in 0..<2 {
            // aWord (WH): load u of the lane's chunk, in half u / (CH/2), slot u % (CH/2).
            let wd = 2 * (s & 3) + h, u = 2 * (s >> 2) + (wd >> 2)
            let readHalf = u / half, slot = u % half
            // fetchHalf(h') fills slot c of half h' with load h'·(CH/2) + c.
            #expect(readHalf * half + slot == u)
            // Half 0 is refilled (next block) after step NS/2 − 1, half 1 at the block's start.
            #expect((readHalf == 0) == (s < ns / 2))
        } }
    }

    @Test("staging banks: each store instruction of a warp and each 8-row phase of coopMatLoad's 16-byte reads hit 32 distinct banks", arguments: [(32, 128), (64, 128), (128, 128), (32, 256), (64, 256)])
    func banks(tn: Int, bk: Int) {
        let xrg = (bk / 16 + 1) * 4   // words per staged row: bk / 16 uvec4 + 1 padding
        let pr = bk / 16, pos = Int8FragmentTests.shaderPos(bk: bk)
        for e in 0..<4 { for first in stride(from: 0, to: tn * pr, by: 32) {
            var banks = Set<Int>()
            // gemm_i8.comp's pieceRow / pieceOf: a warp stages 4 rows × one sub-block's 8 pieces.
            for idx in first..<(first + 32) { banks.insert((((idx >> 3) % tn) * xrg + pos(8 * (idx / (8 * tn)) + (idx & 7), e)) % 32) }
            #expect(banks.count == 32)
        } }
        for s in 0..<(bk / 32) { for half in 0..<2 {
            var banks = Set<Int>()
            for r in 0..<8 { for w in 0..<4 { banks.insert((r * xrg + 8 * s + 4 * half + w) % 32) } }
            #expect(banks.count == 32)
        } }
    }

    @Test("tolerance: the int8 form rounds once per 128-value block (t = K/128 + 1 for INT4 at any group size, 2 for int8), no fp16 rounding; not gemm_frag_dq's model")
    func tolerance() {
        let p4 = Problem(op: .dq8ca_q4gsw, m: 300, n: 64, k: 4096, groupSize: 128, act: .f16)
        let i8 = Tolerance.model(problem: p4, kernel: .gemv, shader: .gemm_frag_i8_q4_f16)
        let cm = Tolerance.model(problem: p4, kernel: .coopmat, shader: .coopmat_int_q4_f16)
        #expect(i8.fp16Roundings == 0 && i8.chainLength == 4096 / 128 + 1 && i8.chainLength == cm.chainLength)
        var g256 = p4
        g256.groupSize = 256
        // (Per 128-value block, not per group: the coopmat kernel's model counts groups.)
        #expect(Tolerance.model(problem: g256, kernel: .gemv, shader: .gemm_frag_i8_q4_f16).chainLength == 4096 / 128 + 1)
        #expect(Tolerance.model(problem: g256, kernel: .coopmat, shader: .coopmat_int_q4_f16).chainLength == 4096 / 256 + 1)
        let dq = Tolerance.model(problem: p4, kernel: .gemv, shader: .gemm_frag_dq_q4_f16)
        #expect(dq.fp16Roundings == 1 && dq.chainLength == 4096)
        let p8 = Problem(op: .dq8ca_q8csw, m: 300, n: 64, k: 4096, act: .f32)
        #expect(Tolerance.model(problem: p8, kernel: .gemv, shader: .gemm_frag_i8_q8_f32).chainLength == 2)
    }

    @Test("plans: dq8ca_q8csw's forced or ruled prefill form is gemm_frag_i8 with the probed int8 layout, B by coopMatLoad and x stored after the block; otherwise refused or another kernel")
    func plans() throws {
        let caps = h100Caps()
        var options = DispatchOptions()
        options.fragmentLayout = .mma16816
        options.int8FragmentLayout = .mma16832s8
        let p = Problem(op: .dq8ca_q8csw, m: 2048, n: 4096, k: 4096, groupSize: 128, act: .f16)
        for (cfg, halves) in [(GemvConfig(columns: 2, threads: 512, unroll: 1, frag: true, xRows: 64, xLoad: true, weightHalves: true), true),
                              (GemvConfig(columns: 1, threads: 256, unroll: 1, frag: true, xRows: 32, xLoad: true), false)] {
            options.gemvConfig = cfg
            for act in [DType.f16, .f32] {
                var q = p
                q.act = act
                let plan = try Dispatcher.plan(.gemv, q, caps: caps, options: options).get()
                #expect(plan.shader.origin.family == .gemmFragI8 && plan.shader.origin.source == "gemm_i8.comp")
                #expect(plan.tile.tk == 32 && plan.tile.bLoad == 1 && plan.tile.xStoreStep == 0 && plan.tile.weightHalves == (halves ? 1 : 0))
                #expect(plan.tile.xTiles == 1 && plan.quantShader != nil && plan.reasons.contains { $0.contains("gemm_frag_i8") })
            }
        }
        #expect(Dispatcher.fragSharedBytes(workgroup: 512, tiles: 2, tn: 64, split: 1, gemm: true, bLoad: true, int8: true) == 2 * 64 * 9 * 16)
        // x stored mid-block or B built from words: refused with a reason.
        for cfg in [GemvConfig(columns: 2, threads: 512, unroll: 1, frag: true, xRows: 64, xLoad: true, xStore: 2),
                    GemvConfig(columns: 2, threads: 512, unroll: 1, frag: true, xRows: 64)] {
            options.gemvConfig = cfg
            if case .failure(let why) = Dispatcher.plan(.gemv, p, caps: caps, options: options) {
                #expect(why.reason.contains("gemm_frag_i8"))
            } else { Issue.record("\(cfg.compact) was planned for dq8ca_q8csw") }
        }
        // Without the probed int8 layout, without 16×8×32 s8 matrices, with s8 fenced off, or with
        // K past 65536 (int32 sums): not planned.
        options.gemvConfig = GemvConfig(columns: 2, threads: 512, unroll: 1, frag: true, xRows: 64, xLoad: true, weightHalves: true)
        var noLayout = options
        noLayout.int8FragmentLayout = nil
        var noShape = caps
        noShape.coopMatConfigs.removeAll { $0.a == .s8 && $0.n == 8 }
        var fenced = options
        fenced.brokenCoopMat[.s8] = "test"
        var bigK = p
        bigK.k = 65536 + 128
        for (c, o, q) in [(caps, noLayout, p), (noShape, options, p), (caps, fenced, p), (caps, options, bigK)] {
            #expect((try? Dispatcher.plan(.gemv, q, caps: c, options: o).get()) == nil)
        }
        // The f16 layout is not needed by the int8 form, nor the int8 one by the others.
        var noF16 = options
        noF16.fragmentLayout = nil
        #expect((try? Dispatcher.plan(.gemv, p, caps: caps, options: noF16).get())?.shader.origin.family == .gemmFragI8)
        let q4 = Problem(op: .q4gsw, m: 2048, n: 4096, k: 4096, groupSize: 128, act: .f16)
        #expect((try? Dispatcher.plan(.gemv, q4, caps: caps, options: noLayout).get())?.shader.origin.family == .gemmFrag)
        // dq8ca_q4gsw: the int8 form where the configuration says so (…i), whole blocks only; its
        // f16 form otherwise; int8 MMAs refused for the float ops.
        let dq4 = Problem(op: .dq8ca_q4gsw, m: 2048, n: 4096, k: 4096, groupSize: 128, act: .f16)
        options.gemvConfig = GemvConfig(columns: 1, threads: 512, unroll: 1, frag: true, xRows: 64, xLoad: true, int8: true)
        #expect(options.gemvConfig?.compact == "1x512x1ft64li" && options.gemvConfig?.problem == nil)
        let i4 = try Dispatcher.plan(.gemv, dq4, caps: caps, options: options).get()
        #expect(i4.shader == .gemm_frag_i8_q4_f16 && i4.tile.tk == 32 && i4.reasons.contains { $0.contains("16·(q − 8)") })
        var g256 = dq4
        g256.groupSize = 256
        #expect(try Dispatcher.plan(.gemv, g256, caps: caps, options: options).get().shader == .gemm_frag_i8_q4_f16)
        var g64 = dq4
        g64.groupSize = 64
        #expect((try? Dispatcher.plan(.gemv, g64, caps: caps, options: options).get()) == nil)
        #expect((try? Dispatcher.plan(.gemv, q4, caps: caps, options: options).get()) == nil)
        options.gemvConfig = GemvConfig(columns: 1, threads: 512, unroll: 1, frag: true, xRows: 64, xLoad: true, weightHalves: true, int8: true)
        #expect((try? Dispatcher.plan(.gemv, dq4, caps: caps, options: options).get()) == nil)
        options.gemvConfig = GemvConfig(columns: 1, threads: 512, unroll: 1, frag: true, xRows: 64, xLoad: true)
        #expect(try Dispatcher.plan(.gemv, dq4, caps: caps, options: options).get().shader.origin.family == .gemmFragDq)
        #expect(GemvConfig(columns: 1, threads: 512, unroll: 1, frag: true, xRows: 64, int8: true).problem != nil)
        #expect(Tuner.candidates(.gemv, floatOps: false, m: 2048, varieties: [.fraggemm], prefillForm: true, int8Q4: true).filter { $0.gemv?.int8 == true }.count == 12)
        // The tuner's int8 prefill candidates: the loaded forms only (B by coopMatLoad).
        let cands = Tuner.candidates(.gemv, floatOps: false, m: 2048, varieties: [.fraggemm], prefillForm: true, int8Prefill: true)
        func withConfig(_ g: GemvConfig?) -> DispatchOptions { var o = options; o.gemvConfig = g; return o }
        #expect(cands.count == 84 && cands.allSatisfy { $0.gemv?.xLoad == true && $0.gemv?.xStore == nil && $0.gemv?.problem == nil })
        #expect(cands.filter { $0.gemv?.kBlock == 256 }.count == 36 && cands.filter { $0.gemv?.xRows == 128 }.count == 12)
        for c in cands { #expect((try? Dispatcher.plan(.gemv, p, caps: caps, options: withConfig(c.gemv)).get()) != nil, "\(c.gemv!.compact)") }
        // 256-value blocks and 128 x rows: int8 form only, K a multiple of the block.
        options.gemvConfig = GemvConfig(columns: 1, threads: 512, unroll: 1, frag: true, xRows: 64, xLoad: true, weightHalves: true, kBlock: 256)
        #expect(options.gemvConfig?.compact == "1x512x1ft64lhk256")
        let k256 = try Dispatcher.plan(.gemv, p, caps: caps, options: options).get()
        #expect(k256.tile.bk == 256 && k256.tile.specValues["BK"] == 256 && k256.reasons.contains { $0.contains("256-value K block") })
        #expect(Dispatcher.fragSharedBytes(workgroup: 512, tiles: 1, tn: 64, split: 1, gemm: true, bLoad: true, int8: true, kBlock: 256) == 2 * 64 * 17 * 16)
        #expect((try? Dispatcher.plan(.gemv, Problem(op: .dq8ca_q8csw, m: 2048, n: 4096, k: 4096 + 128, act: .f16), caps: caps, options: options).get()) == nil)
        #expect((try? Dispatcher.plan(.gemv, q4, caps: caps, options: options).get()) == nil)
        options.gemvConfig = GemvConfig(columns: 1, threads: 512, unroll: 1, frag: true, xRows: 128, xLoad: true)
        #expect(try Dispatcher.plan(.gemv, p, caps: caps, options: options).get().tile.tn == 128)
        #expect((try? Dispatcher.plan(.gemv, q4, caps: caps, options: options).get()) == nil)
        // 128 x rows with 256-value blocks need 69 632 bytes of shared memory: over the H100's 48 KB.
        options.gemvConfig = GemvConfig(columns: 1, threads: 512, unroll: 1, frag: true, xRows: 128, xLoad: true, kBlock: 256)
        #expect((try? Dispatcher.plan(.gemv, p, caps: caps, options: options).get()) == nil)
        #expect(GemvConfig(columns: 1, threads: 512, unroll: 1, frag: true, xRows: 64, kBlock: 192).problem != nil)
        #expect(GemvConfig(columns: 1, threads: 512, unroll: 1, frag: true, kBlock: 256).problem != nil)
        // A table rule naming an int8-form choice for an op it does not fit gives way to the next
        // rule (a forced one is refused with a reason, above).
        options.gemvConfig = nil
        let everyM = TuningConditions(m: Bounds(129, nil))
        options.tuning = TuningTable(name: "t", match: nil, provenance: "test", coopmat: [], gemv: [
            GemvRule(ops: [.dq8ca_q4gsw], when: everyM, config: GemvConfig(columns: 1, threads: 512, unroll: 1, frag: true, xRows: 128, xLoad: true), note: "ft128 without i"),
            GemvRule(ops: [.dq8ca_q4gsw], when: everyM, config: GemvConfig(columns: 2, threads: 512, unroll: 1, frag: true, xRows: 64, xLoad: true, weightHalves: true), note: "f16 form")])
        #expect(Dispatcher.decide(dq4, caps: caps, options: options).chosen?.shader.origin.family == .gemmFragDq)
    }

    @Test("x rows split over subgroups (…sN, the int8 form): the plan's tile and constants; with the shader's mapping (restated here) every (weight row, x row) of the plan's BN × TN tile belongs to exactly one subgroup", arguments: [(2, 512, 128, 2), (4, 512, 128, 4), (1, 256, 128, 2), (4, 512, 64, 2), (2, 256, 64, 4)])
    func xSplit(r: Int, wg: Int, tn: Int, ks: Int) throws {
        let caps = h100Caps()
        var options = DispatchOptions()
        options.int8FragmentLayout = .mma16832s8
        options.gemvConfig = GemvConfig(columns: r, threads: wg, unroll: 1, splitK: ks, frag: true, xRows: tn, xLoad: true, weightHalves: true)
        #expect(options.gemvConfig?.compact == "\(r)x\(wg)x1ft\(tn)lhs\(ks)" && options.gemvConfig?.problem == nil)
        let plan = try Dispatcher.plan(.gemv, Problem(op: .dq8ca_q8csw, m: 2048, n: 4096, k: 4096, act: .f16), caps: caps, options: options).get()
        let t = plan.tile
        #expect(t.bn == (wg / 32 / ks) * r * 16 && t.tn == tn && t.specValues["KS"] == ks && t.specValues["R"] == r)
        #expect(plan.reasons.contains { $0.contains("split over \(ks) subgroups") })
        // The shader's mapping (gemm_i8.comp main): subgroup sg → tile group sg / KS (rows
        // (sg / KS)·R·16 …), B fragments (sg % KS)·NB … with NB = TN / (8·KS); tile r, fragment b.
        var owner = [Int](repeating: 0, count: t.bn * tn)
        let nb = tn / (8 * ks)
        for sg in 0..<(wg / 32) {
            let n0 = (sg / ks) * r * 16, xb0 = (sg % ks) * nb
            for rr in 0..<r { for b in 0..<nb { for row in 0..<16 { for col in 0..<8 {
                let n = n0 + 16 * rr + row, m = 8 * (xb0 + b) + col
                if n < t.bn && m < tn { owner[n * tn + m] += 1 }
            } } } }
        }
        #expect(owner.allSatisfy { $0 == 1 })
    }

    @Test("x rows split over subgroups: refused for the f16 prefill forms (forced: a reason; a rule gives way); splits other than 1, 2, 4 are not configurations")
    func xSplitRefused() throws {
        let caps = h100Caps()
        var options = DispatchOptions()
        options.fragmentLayout = .mma16816
        options.int8FragmentLayout = .mma16832s8
        let q4 = Problem(op: .q4gsw, m: 2048, n: 4096, k: 4096, groupSize: 128, act: .f16)
        options.gemvConfig = GemvConfig(columns: 2, threads: 512, unroll: 1, splitK: 2, frag: true, xRows: 64, xLoad: true, weightHalves: true)
        if case .failure(let why) = Dispatcher.plan(.gemv, q4, caps: caps, options: options) {
            #expect(why.reason.contains("int8 prefill form"))
        } else { Issue.record("x split planned for q4gsw") }
        options.gemvConfig = nil
        options.tuning = TuningTable(name: "t", match: nil, provenance: "test", coopmat: [], gemv: [
            GemvRule(ops: [.q4gsw], when: TuningConditions(m: Bounds(129, nil)), config: GemvConfig(columns: 2, threads: 512, unroll: 1, splitK: 2, frag: true, xRows: 64, xLoad: true, weightHalves: true), note: "split"),
            GemvRule(ops: [.q4gsw], when: TuningConditions(m: Bounds(129, nil)), config: GemvConfig(columns: 2, threads: 512, unroll: 1, frag: true, xRows: 64, xLoad: true, weightHalves: true), note: "plain")])
        #expect(Dispatcher.decide(q4, caps: caps, options: options).chosen?.tile.subgroupSplit == 1)
        for (xr, ks) in [(32, 8), (128, 3), (64, 16), (128, 8)] {
            #expect(GemvConfig(columns: 1, threads: 512, unroll: 1, splitK: ks, frag: true, xRows: xr, xLoad: true).problem != nil)
        }
    }
}
