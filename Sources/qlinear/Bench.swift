import ArgumentParser
import QLinear
import QLinearCheck

struct BenchReport: Codable {
    var tool: String = "qlinear bench"
    var date: String
    var device: String
    var driver: String
    var capabilities: Capabilities
    var settings: BenchSettings
    var bytesNote: String = "bytes = format bytes: the user's weight format (packed INT4/INT8 values + scales at their dtype, or fp16 values) + activations in + outputs; GB/s = bytes / median"
    var method: String
    var ceilings: Ceilings?
    var rows: [BenchResult]
    var notRun: [String]

    enum CodingKeys: String, CodingKey {
        case tool, date, device, driver, capabilities, settings, ceilings, rows, method
        case bytesNote = "bytes_note", notRun = "not_run"
    }
}

/// The standard suite: Llama-style projections × decode-to-prefill batch sizes.
enum Suite {
    static let nk: [(Int, Int)] = [(4096, 4096), (6144, 4096), (28672, 4096), (4096, 14336)]
    static let ms: [Int] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192]
    static let quickNK: [(Int, Int)] = [(256, 512), (384, 256)]
    static let quickMs: [Int] = [1, 2, 8, 33, 128]
    static func shapes(quick: Bool) -> [Shape] {
        (quick ? quickNK : nk).flatMap { nk in (quick ? quickMs : ms).map { Shape(m: $0, n: nk.0, k: nk.1) } }
    }
}

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "GPU-timestamped timings after a sustained warm-up, with weights rotated past the cache.",
        discussion: """
            Each case is warmed up with its own work until two consecutive ~100 ms batches agree within 3% \
            (at least 0.3 s, at most 1.5 s; 1 s of streaming work before the first case), then timed for \
            at least 100 ms (a GPU timestamp before and after each run, a barrier between runs). Weight sets, \
            activations and outputs are rotated so they total more than --rotate-mb. Progress goes to stderr. \
            Rows whose min is > 10% below the median are flagged "spread" (! in the table). Then, unless \
            --no-back-to-back, the case runs back to back (a barrier between runs as between a model's \
            layers, one timestamp before the first run and one after the last, ~50 ms per submission, 3 \
            submissions): "b2b µs" is the time per run — a model's per-layer time, without the \
            per-run timestamps' cost.
            """)
    @Option(help: "Ops (repeatable; default all).") var op: [Op] = []
    @Option(help: "Shapes MxNxK (repeatable).") var shape: [Shape] = []
    @Flag(help: "The standard suite: (N,K) ∈ 4096×4096, 6144×4096, 28672×4096, 4096×14336 × M = 1…8192 (powers of 2) × every op.")
    var suite = false
    @Flag(help: "Tiny shapes, short warm-up and timing, no rotation (lavapipe, CI).") var quick = false
    @Option(help: "INT4 group size.") var group = 128
    @Option(help: "Activation dtype: f16 or f32.") var act: DType = .f16
    @Option(help: "Kernel: tiled, coopmat, gemv, all or auto.") var kernel: KernelChoice = .auto
    @Option(help: "Timed iterations per case, at least (1…10000); timing also lasts ≥ 100 ms.") var iters: Int?
    @Option(name: .customLong("rotate-mb"), help: "Rotate weight/activation/output sets totalling more than this many MB (default 256; 0 with --quick or on a CPU device).")
    var rotateMB: Int?
    @Flag(name: .customLong("no-back-to-back"), help: "Skip the back-to-back measurement after each case's timed runs.") var noBackToBack = false
    @Flag(name: .customLong("no-read-floor"), help: "Skip timing a streaming read of each M = 1 row's bytes (read_floor_us: what no kernel moving those bytes beats here).") var noReadFloor = false
    @Option(help: "Output format: md (default), json or csv.") var format: OutputFormat?
    @Flag(help: "Same as --format json.") var json = false
    @Option(help: "Write the JSON report here too.") var out: String?
    @OptionGroup var dev: DeviceOptions

    func validate() throws {
        if let iters, iters < 1 || iters > 10_000 { throw ValidationError("--iters must be in 1…10000") }
        if let r = rotateMB, r < 0 || r > 1 << 20 { throw ValidationError("--rotate-mb must be in 0…1048576") }
        if group < 8 || group % 8 != 0 { throw ValidationError("--group must be a positive multiple of 8, got \(group)") }
        if suite && !shape.isEmpty { throw ValidationError("--suite and --shape cannot be combined") }
        if json, let f = format, f != .json { throw ValidationError("--json and --format \(f.rawValue) disagree: give one") }
    }

    struct Case { var op: Op; var shape: Shape; var kernel: KernelKind? }
    struct GroupKey: Hashable { var op: Op; var n: Int; var k: Int }

    func run() throws {
        let ops = op.isEmpty ? Op.allCases : op
        let fmtOut: OutputFormat = json ? .json : format ?? .md
        // Shape rules first, so nothing is allocated for a problem no kernel accepts.
        for o in ops { for s in shape { try Problem(op: o, m: s.m, n: s.n, k: s.k, groupSize: group, act: act).validate() } }
        let ctx = try dev.open()
        let caps = ctx.capabilities
        let cpu = caps.kind == .cpu
        let shapes: [Shape]
        if suite { shapes = Suite.shapes(quick: quick) } else if !shape.isEmpty { shapes = shape } else if quick || cpu {
            shapes = [Shape(m: 1, n: 256, k: 512), Shape(m: 64, n: 256, k: 512)]
        } else { shapes = [Shape(m: 1, n: 4096, k: 4096), Shape(m: 128, n: 4096, k: 4096), Shape(m: 2048, n: 4096, k: 4096)] }
        var settings: BenchSettings = quick ? .quick : .standard
        if let r = rotateMB { settings.rotateBytes = r << 20; if r > 0 { settings.maxSets = max(settings.maxSets, 64) } } else if cpu { settings.rotateBytes = 0 }
        if let iters { settings.minIterations = iters; settings.maxBatchIterations = max(settings.maxBatchIterations, iters) }
        settings.streamBatches = noBackToBack ? nil : 3
        let kernels: [KernelKind?] = kernel.kinds.map { $0.map { Optional($0) } } ?? [nil]
        var cases: [Case] = []
        for o in ops { for s in shapes { for k in kernels { cases.append(Case(op: o, shape: s, kernel: k)) } } }
        // Device limits next (buffer range, memory), before any weights are generated on the host.
        for c in cases {
            try Problem(op: c.op, m: c.shape.m, n: c.shape.n, k: c.shape.k, groupSize: group, act: act).validate(for: caps)
        }

        stderrPrint("device: \(caps.name) (\(caps.driverName) \(caps.driverInfo)); \(cases.count) cases")
        // CPU-side preparation (random weights, packing, upload) for every case before any warm-up, when it fits in half the device's memory.
        var keys: [GroupKey] = []
        for c in cases where !keys.contains(GroupKey(op: c.op, n: c.shape.n, k: c.shape.k)) { keys.append(GroupKey(op: c.op, n: c.shape.n, k: c.shape.k)) }
        func formatBytes(_ key: GroupKey) -> Int {
            switch key.op {
            case .fp16: return 2 * key.n * key.k
            case .q4gsw, .dq8ca_q4gsw: return key.n * key.k / 2 + 2 * key.n * (key.k / max(group, 1))
            case .dq8ca_q8csw: return key.n * key.k + 2 * key.n
            }
        }
        // GPU layout: fp32 scales and int32 sums roughly double the scale bytes; 1.5× is a safe estimate.
        let estimate = keys.reduce(0.0) { $0 + 1.5 * Double(formatBytes($1)) * Double(BenchWeights.sets(formatBytes: formatBytes($1), settings: settings)) }
        let upfront = estimate < Double(caps.deviceLocalMemoryBytes) / 2
        var prepared: [GroupKey: BenchWeights] = [:]
        let t0 = monotonicSeconds()
        func prepare(_ key: GroupKey) throws -> BenchWeights {
            if let w = prepared[key] { return w }
            let w = try BenchWeights(context: ctx, op: key.op, n: key.n, k: key.k, group: group, act: act,
                                     sets: BenchWeights.sets(formatBytes: formatBytes(key), settings: settings))
            prepared[key] = w
            return w
        }
        if upfront {
            for (i, key) in keys.enumerated() {
                stderrPrint("preparing weights \(i + 1)/\(keys.count): \(key.op.rawValue) \(key.n)x\(key.k)")
                _ = try prepare(key)
            }
            stderrPrint("prepared \(keys.count) weight groups in \(fmt(monotonicSeconds() - t0, 1)) s")
        } else {
            stderrPrint("weights for all cases (~\(Int(estimate / 1e6)) MB) exceed half the device memory: preparing each (op, N, K) just before its cases (each case still warms up)")
        }
        let pool = try ActivationPool(context: ctx, act: act, size: cpu || quick ? 1 << 20 : 16 << 20)

        stderrPrint("warming up (\(fmt(settings.firstWarmupS, 2)) s) and measuring ceilings…")
        try QLinearCheck.Bench.warmUp(ctx, seconds: settings.firstWarmupS, settings: settings)
        let ceil = try QLinearCheck.Bench.ceilings(ctx, settings: settings)
        var line = "ceilings: read \(fmt(ceil.readGBs, 0)) GB/s, copy \(fmt(ceil.copyGBs, 0)) GB/s"
        if let l2 = ceil.cacheReadGBs { line += ", cache-resident read \(fmt(l2, 0)) GB/s" }
        if let f = ceil.f16TFLOPs { line += ", fp16 MMA \(fmt(f, 1)) TFLOP/s" }
        if let s = ceil.s8TOPs { line += ", int8 MMA \(fmt(s, 1)) TOP/s" }
        stderrPrint(line)

        var rows: [BenchResult] = []
        var notRun: [String] = []
        var floors: [Int: (medianUs: Double, streamUs: Double?)] = [:]
        let width = String(cases.count).count
        for (i, c) in cases.enumerated() {
            let key = GroupKey(op: c.op, n: c.shape.n, k: c.shape.k)
            let tag = "[\(lpad(String(i + 1), width))/\(cases.count)] \(c.op.rawValue) \(c.shape) \(c.kernel?.rawValue ?? "auto")"
            do {
                let w = try prepare(key)
                var r = try QLinearCheck.Bench.run(w, m: c.shape.m, kernel: c.kernel, settings: settings, ceilings: ceil, pool: pool)
                if c.shape.m == 1 && !noReadFloor {
                    // The case is timed: a read that cannot run (memory, limits) leaves its fields
                    // empty and says why, it does not cost the row.
                    let key = Int(r.bytes)
                    do {
                        let f = try floors[key] ?? QLinearCheck.Bench.readFloor(ctx, bytes: key, settings: settings)
                        floors[key] = f
                        r.readFloorUs = f.medianUs; r.readFloorStreamUs = f.streamUs
                    } catch { stderrPrint("\(tag): the same-size read could not run: \(error)") }
                }
                rows.append(r)
                stderrPrint("\(tag) \(r.kernel.rawValue) \(r.shader): \(fmt(r.medianUs, 1)) µs (min \(fmt(r.minUs, 1)), \(r.iterations) runs, \(r.sets) sets, warm-up \(fmt(r.warmupS, 2)) s)\(r.streamUs.map { "; back to back \(fmt($0, 1)) µs" } ?? "")\(r.readFloorUs.map { "; a same-size read \(fmt($0, 1)) µs" } ?? "")\(r.readFloorStreamUs.map { " (b2b \(fmt($0, 1)))" } ?? "")\(r.flags.isEmpty ? "" : " ! " + r.flags.joined(separator: ","))")
            } catch {
                notRun.append("\(c.op.rawValue) \(c.shape) \(c.kernel?.rawValue ?? "auto"): \(error)")
                stderrPrint("\(tag): not run: \(error)")
            }
            // Free a group's weights after its last case when they were not all prepared up front.
            if !upfront, !cases[(i + 1)...].contains(where: { $0.op == key.op && $0.shape.n == key.n && $0.shape.k == key.k }) { prepared[key] = nil }
        }
        stderrPrint("\(rows.count) cases in \(fmt(monotonicSeconds() - t0, 1)) s")

        let report = BenchReport(date: nowString(), device: caps.name, driver: "\(caps.driverName) \(caps.driverInfo)", capabilities: caps, settings: settings,
                                 method: "warm-up with the case itself until two consecutive batches agree within \(fmt(100 * settings.stableTolerance, 0))% (≥ \(fmt(settings.warmupS, 2)) s, ≤ \(fmt(settings.warmupCapS, 2)) s), then ≥ \(fmt(1000 * settings.timedS, 0)) ms and ≥ \(settings.minIterations) timed runs, GPU timestamps around each run, a barrier between runs; sets rotated to exceed \(settings.rotateBytes >> 20) MB (at most \(settings.maxSets) sets: rotated_bytes says what each row rotated)\(settings.streamBatches.map { $0 > 0 ? "; back to back (stream_us): the case recorded ≈ \(fmt(500 * settings.batchS, 0)) ms of runs in one submission (whole rotations, a barrier between runs), timestamps before the first and after the last, time per run = span / runs, median of \($0) submissions" : "" } ?? "")",
                                 ceilings: ceil, rows: rows, notRun: notRun)
        if let out { try writeFile(out, try jsonString(report)) }
        switch fmtOut {
        case .json: print(try jsonString(report))
        case .csv: print(csvTable(rows), terminator: "")
        case .md: print(markdown(report), terminator: "")
        }
        if !notRun.isEmpty { throw CLIFailure("\(notRun.count) requested case(s) could not run") }
    }

    func rate(_ r: BenchResult) -> String { r.rate >= 0.01 ? fmt(r.rate, 2) : sci(r.rate) }

    func markdown(_ rep: BenchReport) -> String {
        var s = "device: \(rep.device) (\(rep.driver)), \(rep.date)\n"
        if let c = rep.ceilings {
            s += "ceilings (measured after warm-up): read \(fmt(c.readGBs, 0)) GB/s"
            if let l2 = c.cacheReadGBs { s += ", cache-resident read (16 MiB) \(fmt(l2, 0)) GB/s" }
            if let f = c.f16TFLOPs { s += ", fp16 MMA \(fmt(f, 1)) TFLOP/s" }
            if let i = c.s8TOPs { s += ", int8 MMA \(fmt(i, 1)) TOP/s" }
            s += "\n"
        }
        s += "method: \(rep.method)\n\(rep.bytesNote); dq8ca rows are TOP/s and include the activation-quantization pass; ! = min more than 10% below median; read µs (M = 1) = a streaming read of the row's bytes, timed the same way\n\n"
        s += "| op | M | N | K | kernel | shader | tile | median µs | min µs | max µs | b2b µs | read µs | TFLOP/s (TOP/s) | GB/s | % roof | flags |\n"
        s += "|---|---:|---:|---:|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n"
        for r in rep.rows {
            let bang = r.flags.contains("spread") ? " !" : ""
            s += "| \(r.op.rawValue) | \(r.m) | \(r.n) | \(r.k) | \(r.kernel.rawValue) | \(r.shader) | \(r.tile) | \(fmt(r.medianUs, 1))\(bang) | \(fmt(r.minUs, 1)) | \(fmt(r.maxUs, 1)) | \(r.streamUs.map { fmt($0, 1) } ?? "-") | \(r.readFloorUs.map { fmt($0, 1) } ?? "-") | "
            s += "\(rate(r))\(r.rateUnit == "TOP/s" ? " TOP/s" : "") | \(r.gbps >= 1 ? fmt(r.gbps, 0) : fmt(r.gbps, 2)) | \(r.pctRoofline.map { fmt($0, 1) } ?? "-") | \(r.flags.joined(separator: ",")) |\n"
        }
        if !rep.notRun.isEmpty { s += "\nnot run:\n" + rep.notRun.map { "- \($0)\n" }.joined() }
        return s
    }

    func csvTable(_ rows: [BenchResult]) -> String {
        func q(_ s: String) -> String { s.contains(",") || s.contains("\"") ? "\"" + s.replacingAll("\"", "\"\"") + "\"" : s }
        var s = "op,m,n,k,group,act,kernel,shader,tile,iterations,median_us,min_us,max_us,flops,rate,rate_unit,bytes,gbps,roofline_us,pct_roofline,bound,sets,rotated_bytes,warmup_s,warmup_stable,flags,stream_us,stream_min_us,read_floor_us,read_floor_stream_us\n"
        for r in rows {
            let f: [String] = [r.op.rawValue, "\(r.m)", "\(r.n)", "\(r.k)", "\(r.group)", r.act.rawValue, r.kernel.rawValue, r.shader, r.tile, "\(r.iterations)",
                               fmt(r.medianUs, 3), fmt(r.minUs, 3), fmt(r.maxUs, 3), "\(r.flops)", "\(r.rate)", r.rateUnit, "\(r.bytes)", "\(r.gbps)",
                               r.rooflineUs.map { fmt($0, 3) } ?? "", r.pctRoofline.map { fmt($0, 2) } ?? "", r.bound ?? "", "\(r.sets)", "\(r.rotatedBytes)",
                               fmt(r.warmupS, 3), r.warmupStable ? "true" : "false", r.flags.joined(separator: ";"),
                               r.streamUs.map { fmt($0, 3) } ?? "", r.streamMinUs.map { fmt($0, 3) } ?? "",
                               r.readFloorUs.map { fmt($0, 3) } ?? "", r.readFloorStreamUs.map { fmt($0, 3) } ?? ""]
            s += f.map(q).joined(separator: ",") + "\n"
        }
        return s
    }
}

extension String {
    func replacingAll(_ a: String, _ b: String) -> String { split(separator: Character(a), omittingEmptySubsequences: false).joined(separator: b) }
}
