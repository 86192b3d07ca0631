#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import ArgumentParser
import QLinear
import QLinearCheck

extension GemvVariety: ExpressibleByArgument {}

struct TuneReport: Codable {
    var tool = "qlinear tune"
    var date: String
    var device: Capabilities
    var kernel: KernelKind
    var measurements: [TuneMeasurement]
    var table: TuningTable
}

struct Tune: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Sweep every kernel configuration (checked against the reference first), time each with the benchmark's method, and write the best per (op, shape class) as a tuning table.",
        discussion: "Default shapes: the Llama-8B projections (N, K) ∈ (4096, 4096), (6144, 4096), (28672, 4096), (4096, 14336) at M = 1, 8 (gemv) or M = 16, 64, 256, 2048 (coopmat). Use the table with --tuning FILE, or commit it under Tuning/ to build it in.")
    @Option(help: "Kernel family to tune: gemv or coopmat.") var kernel: KernelKind
    @Option(help: "Ops (repeatable; default all).") var op: [Op] = []
    @Option(help: "Shapes MxNxK (repeatable).") var shape: [Shape] = []
    @Option(help: "INT4 group size.") var group = 128
    @Flag(help: "Tiny shapes and short timings (lavapipe).") var quick = false
    @Option(help: "Write the tuning table (JSON) here.") var out: String?
    @Option(help: "Write every measurement (JSON) here.") var report: String?
    @Option(help: "Name of the table (default: the device's built-in table name).") var name: String?
    @Option(help: "Build the table from these saved --report files instead of running (repeatable; reports of the same device, each M's candidates from one run). No GPU work.") var from: [String] = []
    @Option(help: "Matrix–vector kernels to try (repeatable: column, xreg, sg, mma, frag, fragxs, fraggemm, fragq, fragd; default all but fragq and fragd).") var variety: [GemvVariety] = []
    @Option(help: "With --kernel gemv: time only these matrix–vector configurations (repeatable, the --gemv form, e.g. 2x512x1ft64l) instead of the varieties' candidates.") var only: [String] = []
    @Option(name: .customLong("offer-split"), help: "With --kernel coopmat: also offer this split-K factor (2…16; repeatable) with every tile of the mid and large M classes (the default grids split K only with small tiles).") var offerSplit: [Int] = []
    @Flag(name: .customLong("offer-direct"), help: "With --kernel coopmat and fp16: also offer the direct kernel (buffers 0: no shared memory, fragments built in registers; needs the probed fragment layout mma16816) with its tiles for M past 64.") var offerDirect = false
    @Flag(help: "Refine the base table: new rules cover only the measured M values (smallest to largest) and the base table's rules follow them; an M measured on one shape only gets no any-shape rule.") var keepBase = false
    @Flag(name: .customLong("extend-up"), help: "With --keep-base: each op's rules for its largest measured M also cover every larger M.") var extendUp = false
    @Option(name: .customLong("extend-down-to"), help: "With --keep-base: each op's rules for its smallest measured M also cover the M values from this one up (e.g. a sweep at M = 16 for M = 9…16).") var extendDownTo: Int?
    @Flag(name: .customLong("against-current"), help: "Also time the plan the dispatcher makes today (base table, any kernel kind) for each case; a case gets a rule only where the sweep's best beat it, and an M where the sweep lost on some shape gets no any-shape fallback rule.") var againstCurrent = false
    @Option(name: .customLong("time-limit"), help: "Start no check or timing after this many seconds; the rest is recorded as skipped and the report and table are still written (budget a GPU call: a pipeline compile can take 1–2 s per candidate).") var timeLimit: Double?
    @OptionGroup var dev: DeviceOptions

    func validate() throws {
        if kernel == .tiled { throw ValidationError("tune sweeps gemv or coopmat configurations") }
        if !offerSplit.isEmpty {
            if kernel != .coopmat { throw ValidationError("--offer-split adds cooperative-matrix split-K candidates: it needs --kernel coopmat") }
            if let bad = offerSplit.first(where: { !(2...16).contains($0) }) { throw ValidationError("--offer-split must be in 2…16, got \(bad)") }
            if !from.isEmpty { throw ValidationError("--offer-split applies to a sweep, not to --from") }
        }
        if offerDirect {
            if kernel != .coopmat { throw ValidationError("--offer-direct adds cooperative-matrix candidates: it needs --kernel coopmat") }
            if !from.isEmpty { throw ValidationError("--offer-direct applies to a sweep, not to --from") }
        }
        if group < 8 || group % 8 != 0 { throw ValidationError("--group must be a positive multiple of 8, got \(group)") }
        if extendUp && !keepBase { throw ValidationError("--extend-up refines a table: it needs --keep-base") }
        if let d = extendDownTo {
            if !keepBase { throw ValidationError("--extend-down-to refines a table: it needs --keep-base") }
            if !(1...1_000_000).contains(d) { throw ValidationError("--extend-down-to must be in 1…1000000, got \(d)") }
        }
        if let t = timeLimit, !(t > 0 && t.isFinite && t <= 86_400) { throw ValidationError("--time-limit must be in (0, 86400] seconds, got \(t)") }
        if !only.isEmpty {
            if kernel != .gemv { throw ValidationError("--only names matrix–vector configurations: it needs --kernel gemv") }
            if !variety.isEmpty { throw ValidationError("--only and --variety both choose the candidates: give one") }
            if !from.isEmpty { throw ValidationError("--only applies to a sweep, not to --from") }
            for o in only { _ = try DeviceOptions.parseGemv(o) }
        }
        if timeLimit != nil && !from.isEmpty { throw ValidationError("--time-limit applies to a sweep, not to --from") }
        if !from.isEmpty && (report != nil || againstCurrent) {
            throw ValidationError("--report and --against-current apply to a sweep; --from rebuilds a table from saved reports")
        }
    }

    func run() throws {
        if !from.isEmpty { return try rebuild() }
        let ops = op.isEmpty ? Op.allCases : op
        var shapes: [(m: Int, n: Int, k: Int)] = shape.map { ($0.m, $0.n, $0.k) }
        if shapes.isEmpty {
            let nk = quick ? [(96, 256), (64, 512)] : [(4096, 4096), (6144, 4096), (28672, 4096), (4096, 14336)]
            let ms = kernel == .gemv ? [1, 8] : (quick ? [64] : [16, 64, 256, 2048])
            for m in ms { for (n, k) in nk { shapes.append((m, n, k)) } }
        }
        for o in ops { for s in shapes { try Problem(op: o, m: s.m, n: s.n, k: s.k, groupSize: group).validate() } }
        let ctx = try dev.open()
        var settings = quick ? BenchSettings.quick : BenchSettings.standard
        // One sustained warm-up at the start; the sweep itself keeps the GPU busy, so each
        // configuration needs only a short re-warm (two agreeing ~10 ms batches) and ≥ 20 ms timed.
        settings.warmupS = quick ? 0.005 : 0.02
        settings.warmupCapS = quick ? 0.02 : 0.1
        settings.batchS = quick ? 0.005 : 0.01
        settings.timedS = quick ? 0.005 : 0.02
        stderrPrint("tune: \(kernel.rawValue) on \(ctx.capabilities.name), \(ops.count) ops × \(shapes.count) shapes × ≤ \(Tuner.candidates(kernel, floatOps: true).count) candidates")
        let ms = try Tuner.run(ctx, kernel: kernel, ops: ops, shapes: shapes, group: group, settings: settings,
                               varieties: variety.isEmpty ? GemvVariety.defaults : Set(variety), timeLimitS: timeLimit,
                               againstCurrent: againstCurrent, only: try only.map { try DeviceOptions.parseGemv($0) }, extraSplits: offerSplit, direct: offerDirect) { stderrPrint($0) }
        let base = ctx.tuningTable
        let caps = ctx.capabilities
        let table = Tuner.table(from: ms, kernel: kernel, base: base, name: name ?? base.name,
                                match: base.match ?? DeviceMatch(vendorID: caps.vendorID, nameContains: caps.name),
                                provenance: "qlinear tune --kernel \(kernel.rawValue) on \(caps.name), driver \(caps.driverName) \(caps.driverInfo), \(nowString()); \(ms.filter { $0.medianUs != nil }.count) timed configurations; other kernels' rules kept from \(base.name)\(keepBase ? "; refines \(base.name) (its rules follow the new ones)" : "")\(extendDownTo.map { "; lowest measured M extended down to \($0)" } ?? "")", keepBase: keepBase, extendUp: extendUp, extendDownTo: extendDownTo)
        warnReplaced(base: base, table: table)
        if let out { try writeFile(out, try jsonString(table) + "\n") }
        if let report { try writeFile(report, try jsonString(TuneReport(date: nowString(), device: caps, kernel: kernel, measurements: ms, table: table))) }
        let wrong = ms.filter { $0.status.hasPrefix("wrong") || $0.status.hasPrefix("error") }
        print(try jsonString(table))
        for w in wrong.prefix(10) { stderrPrint("tune: \(w.op.rawValue) \(w.m)x\(w.n)x\(w.k) \(w.candidate): \(w.status)") }
        if !wrong.isEmpty { throw CLIFailure("\(wrong.count) configuration(s) gave wrong results or errors (listed above); they were excluded") }
    }

    /// The table from saved measurements: the same rule as after a sweep, so the same data gives
    /// the same table. Measurements of one (op, M) must come from one report (one GPU call).
    func rebuild() throws {
        var all: [TuneMeasurement] = []
        var owner: [String: String] = [:]
        var device: Capabilities?
        var seen = Set<String>()
        for path in from {
            guard seen.insert(path).inserted else { throw ValidationError("\(path) is given twice") }
            let r: TuneReport
            do { r = try JSONDecoder().decode(TuneReport.self, from: Data(try readFileBytes(path))) } catch let e as DecodingError {
                throw ValidationError("\(path) is not a tune report: \(e)")
            }
            if let bad = r.measurements.lazy.compactMap({ $0.problemWithValues }).first { throw ValidationError("\(path): \(bad)") }
            guard r.kernel == kernel else { throw ValidationError("\(path) is a \(r.kernel.rawValue) report, --kernel is \(kernel.rawValue)") }
            if let d = device, d.name != r.device.name || d.driverInfo != r.device.driverInfo {
                throw ValidationError("\(path) was measured on \(r.device.name) \(r.device.driverInfo), an earlier report on \(d.name) \(d.driverInfo)")
            }
            device = r.device
            for m in r.measurements {
                let key = "\(m.op.rawValue)|\(m.m)"
                if let o = owner[key], o != path { throw ValidationError("\(m.op.rawValue) at M = \(m.m) is measured in both \(o) and \(path): keep one run per (op, M)") }
                owner[key] = path
            }
            all += r.measurements
        }
        guard let caps = device else { throw ValidationError("no reports") }
        let baseTable = try dev.tuning.map { try TuningTable.decode(try readFileBytes($0)) } ?? TuningTable.forDevice(caps)
        let table = Tuner.table(from: all, kernel: kernel, base: baseTable, name: name ?? baseTable.name,
                                match: baseTable.match ?? DeviceMatch(vendorID: caps.vendorID, nameContains: caps.name),
                                provenance: "qlinear tune --kernel \(kernel.rawValue) --from \(from.map { String($0.split(separator: "/").last ?? Substring($0)) }.joined(separator: " ")) (\(caps.name), driver \(caps.driverName) \(caps.driverInfo)); \(all.filter { $0.medianUs != nil }.count) timed configurations; other kernels' rules kept from \(baseTable.name)\(keepBase ? "; refines \(baseTable.name) (its rules follow the new ones)" : "")\(extendDownTo.map { "; lowest measured M extended down to \($0)" } ?? "")", keepBase: keepBase, extendUp: extendUp, extendDownTo: extendDownTo)
        warnReplaced(base: baseTable, table: table)
        if let out { try writeFile(out, try jsonString(table) + "\n") }
        print(try jsonString(table))
    }

    /// Without --keep-base the measured ops' rules of the base table are replaced, also those for M
    /// values the sweep never measured: say how many, on stderr.
    func warnReplaced(base: TuningTable, table: TuningTable) {
        guard !keepBase else { return }
        let dropped = kernel == .gemv ? (base.gemv ?? []).filter { !(table.gemv ?? []).contains($0) }.count
                                      : base.coopmat.filter { !table.coopmat.contains($0) }.count
        if dropped > 0 {
            stderrPrint("tune: \(dropped) of the base table's \(kernel.rawValue) rules were replaced (the measured ops' rules, for every M); pass --keep-base to keep them after the new ones")
        }
    }
}
