import Foundation
import Testing
@testable import QLinear
@testable import QLinearCheck
import VulkanRuntime

/// The cooperative-matrix knobs added for the H100 prefill work: raster groups (SWZ), prefetch
/// distance (PD), the ablation diagnostics (ABL), the epilogue's shared-memory reuse, the large-M
/// sweep and `tune --extend-up`. Synthetic devices: lavapipe has no cooperative matrices, so the
/// kernels themselves run only on the GPU machine (bench/gpu_*.sh); these tests pin the plans.
@Suite("Cooperative-matrix knobs: raster groups, prefetch distance, ablation, shared memory")
struct CoopMatKnobTests {
    func only(_ rule: TuningRule) -> DispatchOptions {
        DispatchOptions(tuning: TuningTable(name: "t", match: nil, provenance: "test", coopmat: [rule]))
    }

    @Test("a rule's raster group and prefetch distance reach the plan's specialization constants")
    func ruleKnobs() throws {
        let caps = h100Caps()
        let rule = TuningRule(tile: TileShape(bm: 128, bn: 256, wm: 4, wn: 4), kStep: 32, buffers: 1, swizzle: 8, prefetch: 2)
        let p = try Dispatcher.plan(.coopmat, Problem(op: .fp16, m: 2048, n: 4096, k: 4096), caps: caps, options: only(rule)).get()
        #expect(p.tile.bm == 128 && p.tile.bn == 256 && p.tile.buffers == 1)
        #expect(p.tile.swizzle == 8 && p.tile.prefetch == 2 && p.tile.ablate == 0)
        #expect(p.tile.specValues["SWZ"] == 8 && p.tile.specValues["PD"] == 2 && p.tile.specValues["ABL"] == 0)
        // The int8 kernels keep one K step in flight whatever the rule says.
        let intRule = TuningRule(tile: TileShape(bm: 128, bn: 128, wm: 2, wn: 2), kStep: 32, buffers: 1, swizzle: 8, prefetch: 2)
        let i = try Dispatcher.plan(.coopmat, Problem(op: .dq8ca_q8csw, m: 2048, n: 4096, k: 4096), caps: caps, options: only(intRule)).get()
        #expect(i.tile.prefetch == 1 && i.tile.swizzle == 8)
        // The double-buffered loop has one register set: PD is not a separate pipeline there.
        let b2 = TuningRule(tile: TileShape(bm: 128, bn: 128, wm: 2, wn: 2), kStep: 32, buffers: 2, prefetch: 2)
        let d = try Dispatcher.plan(.coopmat, Problem(op: .q4gsw, m: 2048, n: 4096, k: 4096, groupSize: 128), caps: caps, options: only(b2)).get()
        #expect(d.tile.buffers == 2 && d.tile.prefetch == 1)
        // Without the knobs: row-by-row raster, one step in flight.
        let plain = try Dispatcher.plan(.coopmat, Problem(op: .fp16, m: 2048, n: 4096, k: 4096), caps: caps,
                                        options: only(TuningRule(tile: TileShape(bm: 128, bn: 128, wm: 2, wn: 2)))).get()
        #expect(plain.tile.swizzle == 1 && plain.tile.prefetch == 1)
    }

    @Test("out-of-range knobs from a table or the caller are refused with a reason, never used")
    func badKnobs() {
        let caps = h100Caps()
        let p = Problem(op: .fp16, m: 512, n: 512, k: 512)
        for rule in [TuningRule(tile: TileShape(bm: 128, bn: 128, wm: 2, wn: 2), prefetch: 3),
                     TuningRule(tile: TileShape(bm: 128, bn: 128, wm: 2, wn: 2), swizzle: 0),
                     TuningRule(tile: TileShape(bm: 128, bn: 128, wm: 2, wn: 2), swizzle: 65)] {
            guard case .failure(let why) = Dispatcher.plan(.coopmat, p, caps: caps, options: only(rule)) else {
                Issue.record("rule \(rule) was used"); continue
            }
            #expect(why.reason.contains("skipped"))
        }
        var o = DispatchOptions()
        o.coopMatPrefetch = 3
        #expect((try? Dispatcher.plan(.coopmat, p, caps: caps, options: o).get()) == nil)
        o = DispatchOptions(); o.coopMatSwizzle = 0
        #expect((try? Dispatcher.plan(.coopmat, p, caps: caps, options: o).get()) == nil)
        o = DispatchOptions(); o.coopMatAblate = 8
        #expect((try? Dispatcher.plan(.coopmat, p, caps: caps, options: o).get()) == nil)
        // Ablation is diagnostics only: never set unless asked, and said loudly when it is.
        o = DispatchOptions(); o.coopMatAblate = 5
        if case .success(let ab) = Dispatcher.plan(.coopmat, p, caps: caps, options: o) {
            #expect(ab.tile.ablate == 5 && ab.reasons.contains { $0.contains("ABLATED") } && ab.tile.description.contains("ABLATED"))
        } else { Issue.record("ablation 5 was refused") }
    }

    @Test("the epilogue's staging tiles reuse the A buffer: a 16-subgroup 128x256 tile at K step 32 fits 48 KB, double-buffered it does not")
    func sharedMemory() throws {
        let caps = h100Caps()
        var o = DispatchOptions(coopMatTile: TileShape(bm: 128, bn: 256, wm: 4, wn: 4), coopMatKStep: 32)
        o.coopMatBuffers = 1
        let p = try Dispatcher.plan(.coopmat, Problem(op: .fp16, m: 2048, n: 4096, k: 4096), caps: caps, options: o).get()
        // A: 128 rows × (32 + 8) halves × 2 bytes = 10 240, shared with the 16 fp32 16×16 staging
        // tiles (16 384); B: 256 rows × 80 bytes = 20 480.
        #expect(p.tile.sharedBytes(kind: .coopmat, op: .fp16) == 16_384 + 20_480)
        o.coopMatBuffers = 2
        guard case .failure(let why) = Dispatcher.plan(.coopmat, Problem(op: .fp16, m: 2048, n: 4096, k: 4096), caps: caps, options: o) else {
            Issue.record("a 61 KB double-buffered tile was planned on a 48 KB device"); return
        }
        #expect(why.reason.contains("shared memory"))
    }

    @Test("the built-in H100 table plans every op at M = 512…8192 on the suite's shapes with legal knobs")
    func hopperTable() throws {
        let caps = h100Caps()
        for op in Op.allCases {
            for m in [512, 600, 1024, 2048, 4096, 8192] {
                for (n, k) in [(4096, 4096), (6144, 4096), (28672, 4096), (4096, 14336), (1000, 3072)] {
                    let plan = try #require(Dispatcher.decide(Problem(op: op, m: m, n: n, k: k, groupSize: 128), caps: caps).chosen)
                    #expect(plan.kernel == .coopmat)
                    #expect([1, 2].contains(plan.tile.prefetch) && plan.tile.ablate == 0 && (1...64).contains(plan.tile.swizzle))
                    if !op.floatMath || plan.tile.buffers == 2 { #expect(plan.tile.prefetch == 1) }
                    #expect(plan.tile.sharedBytes(kind: .coopmat, op: op) <= caps.sharedMemoryBytes)
                }
            }
        }
    }

    @Test("large-M sweep: float kernels at K step 32 single-buffered with prefetch 1 and 2; int8 kernels without prefetch")
    func largeMCandidates() {
        let f = Tuner.candidates(.coopmat, floatOps: true, m: 2048)
        #expect(!f.isEmpty && f.allSatisfy { $0.kStep == 32 && $0.buffers == 1 && [nil, 2].contains($0.prefetch) })
        #expect(f.contains { $0.prefetch == 2 } && f.contains { $0.prefetch == nil })
        let i = Tuner.candidates(.coopmat, floatOps: false, m: 2048)
        #expect(!i.isEmpty && i.allSatisfy { $0.prefetch == nil } && Set(i.compactMap(\.kStep)) == [32, 64])
        #expect(Set(f).count == f.count && Set(i).count == i.count)
    }

    @Test("tune --offer-split: split-K factors with every tile of the mid and large M classes; none there without it", arguments: [512, 1024, 2048])
    func offeredSplits(m: Int) {
        for floatOps in [true, false] {
            let base = Tuner.candidates(.coopmat, floatOps: floatOps, m: m)
            let more = Tuner.candidates(.coopmat, floatOps: floatOps, m: m, extraSplits: [2, 4])
            let bigTile = { (c: TuneCandidate) in (c.tile.map { $0.bm * $0.bn } ?? 0) >= 128 * 128 }
            #expect(!base.contains { bigTile($0) && ($0.splitK ?? 1) > 1 })
            #expect(more.contains { bigTile($0) && $0.splitK == 2 } && more.contains { bigTile($0) && $0.splitK == 4 })
            #expect(Set(base).isSubset(of: Set(more)) && Set(more).count == more.count)
            if floatOps && m > 512 { #expect(more.contains { $0.tile == TileShape(bm: 128, bn: 256, wm: 4, wn: 4) && $0.splitK == 2 && $0.prefetch == 2 }) }
        }
        #expect(Tuner.candidates(.coopmat, floatOps: true, m: 2048, extraSplits: [1]) == Tuner.candidates(.coopmat, floatOps: true, m: 2048))
    }

    @Test("tune --extend-up / --extend-down-to: the largest measured M's rules cover every larger M, the smallest's reach down to a given M; without them they stop at those Ms")
    func extendUp() throws {
        func meas(_ m: Int, _ n: Int, _ bm: Int, _ us: Double) -> String {
            #"{"op":"fp16","m":\#(m),"n":\#(n),"k":4096,"candidate":{"kernel":"coopmat","tile":{"bm":\#(bm),"bn":128,"wm":2,"wn":2},"kStep":32,"buffers":1},"medianUs":\#(us),"minUs":\#(us),"flags":[],"status":"ok"}"#
        }
        let json = "[" + [meas(1024, 4096, 128, 100), meas(1024, 4096, 64, 120), meas(2048, 4096, 128, 210), meas(2048, 4096, 64, 200)].joined(separator: ",") + "]"
        let ms = try JSONDecoder().decode([TuneMeasurement].self, from: Data(json.utf8))
        let base = TuningTable(name: "base", match: nil, provenance: "test", coopmat: [TuningRule(tile: TileShape(bm: 32, bn: 64, wm: 2, wn: 2))])
        let up = Tuner.table(from: ms, kernel: .coopmat, base: base, name: "t", match: nil, provenance: "test", keepBase: true, extendUp: true)
        let fixed = Tuner.table(from: ms, kernel: .coopmat, base: base, name: "t", match: nil, provenance: "test", keepBase: true)
        func topAt(_ t: TuningTable, _ m: Int) -> TuningRule? {
            t.coopmat.first { r in (r.ops ?? [.fp16]).contains(.fp16) && (r.when.map { $0.holds(Problem(op: .fp16, m: m, n: 4096, k: 4096)) } ?? true) }
        }
        #expect(topAt(up, 2048)?.tile.bm == 64 && topAt(up, 8192)?.tile.bm == 64)   // M = 2048's best, extended
        #expect(topAt(up, 1024)?.tile.bm == 128 && topAt(up, 1500)?.tile.bm == 64)
        #expect(topAt(fixed, 2048)?.tile.bm == 64 && topAt(fixed, 8192)?.tile.bm == 32)  // falls to the base rule
        #expect(topAt(up, 512)?.tile.bm == 32 && topAt(fixed, 512)?.tile.bm == 32)       // below the sweep: base
        // --extend-down-to: the smallest measured M's rules reach down to the given M, never past
        // that M's own value (a value above it is clamped), and the base rules still cover below.
        let down = Tuner.table(from: ms, kernel: .coopmat, base: base, name: "t", match: nil, provenance: "test", keepBase: true, extendDownTo: 600)
        #expect(topAt(down, 600)?.tile.bm == 128 && topAt(down, 1024)?.tile.bm == 128 && topAt(down, 599)?.tile.bm == 32)
        #expect(topAt(down, 2048)?.tile.bm == 64)
        let clamped = Tuner.table(from: ms, kernel: .coopmat, base: base, name: "t", match: nil, provenance: "test", keepBase: true, extendDownTo: 5000)
        #expect(topAt(clamped, 1023)?.tile.bm == 32 && topAt(clamped, 1024)?.tile.bm == 128)
    }

    @Test("tune --against-current: a case gets a rule only where the sweep beat today's plan; an M it lost somewhere gets no fallback")
    func againstCurrent() throws {
        func meas(_ n: Int, _ cols: Int, _ us: Double) -> String {
            #"{"op":"dq8ca_q4gsw","m":2,"n":\#(n),"k":4096,"candidate":{"kernel":"gemv","gemv":{"columns":\#(cols),"threads":512,"unroll":2,"sg":true}},"medianUs":\#(us),"minUs":\#(us),"flags":[],"status":"ok"}"#
        }
        func current(_ n: Int, _ us: Double) -> String {
            #"{"op":"dq8ca_q4gsw","m":2,"n":\#(n),"k":4096,"candidate":{"kernel":"gemv"},"medianUs":\#(us),"minUs":\#(us),"flags":[],"status":"current: gemv_int_dot_q4_f16","current":true}"#
        }
        let sweep = [meas(4096, 1, 15.9), meas(4096, 2, 17.0), meas(28672, 1, 40.0), meas(28672, 2, 37.4), meas(6144, 1, 20.0), meas(6144, 2, 19.0)]
        let base = TuningTable(name: "base", match: nil, provenance: "test", coopmat: [TuningRule(tile: .small)],
                               gemv: [GemvRule(ops: [.dq8ca_q4gsw], config: GemvConfig(columns: 2, threads: 64, unroll: 1))])
        func table(_ entries: [String]) throws -> TuningTable {
            let ms = try JSONDecoder().decode([TuneMeasurement].self, from: Data(("[" + entries.joined(separator: ",") + "]").utf8))
            return Tuner.table(from: ms, kernel: .gemv, base: base, name: "t", match: nil, provenance: "test", keepBase: true)
        }
        // Without current entries: a rule per shape and an any-shape fallback at M = 2.
        let plain = try table(sweep)
        #expect(plain.gemv!.filter { $0.when?.n != nil }.count == 3 && plain.gemv!.contains { $0.when == TuningConditions(m: Bounds(2, 2)) })
        // Today's plan was faster at 6144 (18.4 < 19.0): that shape keeps it, no fallback.
        let against = try table(sweep + [current(4096, 16.4), current(28672, 42.2), current(6144, 18.4)])
        let newRules = against.gemv!.filter { $0.when?.m == Bounds(2, 2) }
        #expect(Set(newRules.compactMap { $0.when?.n?.min }) == [4096, 28672])
        #expect(newRules.allSatisfy { $0.when?.n != nil }, "no any-shape fallback when the sweep lost somewhere")
        #expect(newRules.first { $0.when?.n == Bounds(28672, 28672) }?.config.columns == 2)
        #expect(against.gemv!.last == base.gemv!.last)   // the base rules follow
        // Today's plan not timed (a sweep cut short by its time limit, or an error): no rule for
        // that case and no fallback — the sweep's best there may be slower than today's plan.
        func untimed(_ n: Int) -> String {
            #"{"op":"dq8ca_q4gsw","m":2,"n":\#(n),"k":4096,"candidate":{"kernel":"gemv"},"flags":[],"status":"skipped: time limit","current":true}"#
        }
        let cut = try table(sweep + [current(4096, 16.4), untimed(28672), current(6144, 21.0)])
        let cutRules = cut.gemv!.filter { $0.when?.m == Bounds(2, 2) }
        #expect(Set(cutRules.compactMap { $0.when?.n?.min }) == [4096, 6144] && cutRules.allSatisfy { $0.when?.n != nil })
        // A shape skipped whole (no candidate timed either): its shape-specific rule cannot exist,
        // and no any-shape rule may cover it (two shapes alone would get one, as `two` below shows).
        let skipped = try table([meas(4096, 1, 15.9), meas(4096, 2, 17.0), meas(6144, 1, 20.0), meas(6144, 2, 19.0), untimed(28672)])
        #expect(!skipped.gemv!.contains { $0.when == TuningConditions(m: Bounds(2, 2)) })
        #expect(skipped.gemv!.filter { $0.when?.m == Bounds(2, 2) }.count == 2)
        // A one-shape sweep refining a base table gets its shape's rule but no any-shape fallback
        // (it would shadow the base's rules for every other shape); two shapes do get one.
        let one = try table([meas(4096, 1, 15.9), meas(4096, 2, 17.0)])
        #expect(one.gemv!.filter { $0.when?.m == Bounds(2, 2) }.count == 1 && one.gemv!.first?.when?.n == Bounds(4096, 4096))
        let two = try table([meas(4096, 1, 15.9), meas(4096, 2, 17.0), meas(6144, 1, 20.0), meas(6144, 2, 19.0)])
        #expect(two.gemv!.contains { $0.when == TuningConditions(m: Bounds(2, 2)) })
        // Current entries are never candidates: a faster "current" cannot become a rule itself.
        let onlyCurrent = try table([current(4096, 1.0)])
        #expect(onlyCurrent.gemv == base.gemv)
    }
}

@Suite("Tables and reports from files: values no sweep could produce are refused")
struct TableValueTests {
    @Test("a matrix–vector rule with an impossible configuration is a decode error naming the rule; the built-in tables pass")
    func tableRules() throws {
        func table(_ gemv: String, _ coop: String = #"{"tile":{"bm":64,"bn":64,"wm":2,"wn":2}}"#) -> [UInt8] {
            Array(#"{"name":"t","provenance":"test","coopmat":[\#(coop)],"gemv":[\#(gemv)]}"#.utf8)
        }
        #expect(try TuningTable.decode(table(#"{"config":{"columns":2,"threads":128,"unroll":2}}"#)).gemv?.count == 1)
        for bad in [#"{"config":{"columns":0,"threads":128,"unroll":2}}"#, #"{"config":{"columns":2,"threads":-128,"unroll":2}}"#,
                    #"{"config":{"columns":2,"threads":128,"unroll":2,"splitK":0}}"#, #"{"config":{"columns":4611686018427387904,"threads":128,"unroll":2}}"#,
                    #"{"config":{"columns":2,"threads":128,"unroll":1,"xs":true}}"#] {
            #expect(throws: QLinearError.self) { try TuningTable.decode(table(bad)) }
        }
        #expect(TuningTable.builtIn.count == EmbeddedTuning.json.count && TuningTable.builtIn.allSatisfy { $0.problem == nil })
    }

    @Test("a report's measurement with an absurd shape, time or configuration is named; times of any size print")
    func reportValues() throws {
        func meas(_ m: String, _ us: String, cols: Int = 2) throws -> TuneMeasurement {
            try JSONDecoder().decode(TuneMeasurement.self, from: Data(#"{"op":"fp16","m":\#(m),"n":64,"k":64,"candidate":{"kernel":"gemv","gemv":{"columns":\#(cols),"threads":128,"unroll":2}},"medianUs":\#(us),"minUs":\#(us),"flags":[],"status":"ok"}"#.utf8))
        }
        #expect(try meas("1", "12.5").problemWithValues == nil)
        for (m, us, cols) in [("9223372036854775807", "12.5", 2), ("0", "12.5", 2), ("1", "1e20", 2), ("1", "-5", 2), ("1", "0", 2), ("1", "12.5", 0)] {
            #expect(try meas(m, us, cols: cols).problemWithValues != nil, "m \(m), \(us) µs, \(cols) columns")
        }
        #expect(Tuner.fmtUs(1e20) == "1e+20" && Tuner.fmtUs(12.34) == "12.3" && Tuner.fmtUs(.nan) == "nan")
    }
}
