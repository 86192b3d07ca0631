import ArgumentParser
import QLinear
import QLinearCheck

struct BenchReport: Codable {
    var tool: String = "qlinear bench"
    var date: String
    var device: Capabilities
    var ceilings: Ceilings?
    var results: [BenchResult]
}

func randomWeights(op: Op, n: Int, k: Int, group: Int, seed: UInt64) throws -> LinearWeights {
    var rng = SplitMix64(seed: seed)
    let count = try Checked.mul(n, k, "N·K")
    let w: [Float] = (0..<count).map { _ in rng.symmetric() * 0.05 }
    switch op {
    case .fp16: return .fp16(n: n, k: k, values: w.map { Float16($0) })
    case .q4gsw, .dq8ca_q4gsw: return .q4gsw(try Q4GSWWeights.quantize(w, n: n, k: k, groupSize: group, scaleDType: .f16))
    case .dq8ca_q8csw: return .q8csw(try Q8CSWWeights.quantize(w, n: n, k: k, scaleDType: .f16))
    }
}

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "GPU-timestamped timings: median µs, TFLOP/s, GB/s and % of the roofline from measured ceilings.")
    @Option(help: "Ops (repeatable; default all).") var op: [Op] = []
    @Option(help: "Shapes MxNxK (repeatable).") var shape: [Shape] = []
    @Option(help: "INT4 group size.") var group = 128
    @Option(help: "Activation dtype: f16 or f32.") var act: DType = .f16
    @Option(help: "Kernel: tiled, coopmat, gemv, all or auto.") var kernel: KernelChoice = .auto
    @Option(help: "Timed iterations per case (1…10000).") var iters = 50
    @Option(help: "Write the JSON report here too.") var out: String?
    @OptionGroup var dev: DeviceOptions
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        if iters < 1 || iters > 10_000 { throw ValidationError("--iters must be in 1…10000") }
    }

    func run() throws {
        let ops = op.isEmpty ? Op.allCases : op
        // Shape rules first, so nothing is allocated for a problem no kernel accepts.
        for o in ops { for s in shape { try Problem(op: o, m: s.m, n: s.n, k: s.k, groupSize: group, act: act).validate() } }
        let ctx = try dev.open()
        let shapes = shape.isEmpty ? (ctx.capabilities.kind == .cpu ? [Shape(m: 1, n: 256, k: 512), Shape(m: 64, n: 256, k: 512)]
                                                                     : [Shape(m: 1, n: 4096, k: 4096), Shape(m: 128, n: 4096, k: 4096), Shape(m: 2048, n: 4096, k: 4096)]) : shape
        if !json { print("device: \(ctx.capabilities.name) (\(ctx.capabilities.driverName) \(ctx.capabilities.driverInfo)); measuring ceilings…") }
        let ceil = try QLinearCheck.Bench.ceilings(ctx)
        if !json {
            var line = "ceilings: read \(fmt(ceil.readGBs, 0)) GB/s, copy \(fmt(ceil.copyGBs, 0)) GB/s"
            if let f = ceil.f16TFLOPs { line += ", fp16 MMA \(fmt(f, 1)) TFLOP/s" }
            if let s = ceil.s8TOPs { line += ", int8 MMA \(fmt(s, 1)) TOP/s" }
            print(line)
            print("  (\(ceil.note))")
            print(pad("op", 13) + pad("kernel", 9) + pad("M", 6) + pad("N", 7) + pad("K", 7) + lpad("median µs", 11) + lpad("min µs", 10) + lpad("TFLOP/s", 9) + lpad("GB/s", 8) + lpad("% roof", 8) + "  bound")
        }
        var results: [BenchResult] = []
        var notRun = 0
        for o in ops {
            for s in shapes {
                let layer = try LinearLayer(context: ctx, weights: try randomWeights(op: o, n: s.n, k: s.k, group: group, seed: 1),
                                            bias: nil, act: act, dynamicActivations: o == .dq8ca_q4gsw)
                let list: [KernelKind?] = kernel.kinds.map { $0.map { Optional($0) } } ?? [nil]
                for k in list {
                    let r: BenchResult
                    do { r = try QLinearCheck.Bench.run(layer, m: s.m, kernel: k, iterations: iters, ceilings: ceil) } catch {
                        notRun += 1
                        stderrPrint("bench: \(o.rawValue) \(k?.rawValue ?? "auto") \(s): not run: \(error)")
                        continue
                    }
                    results.append(r)
                    if !json {
                        print(pad(o.rawValue, 13) + pad(r.kernel.rawValue, 9) + pad(String(s.m), 6) + pad(String(s.n), 7) + pad(String(s.k), 7)
                              + lpad(fmt(r.medianUs, 1), 11) + lpad(fmt(r.minUs, 1), 10) + lpad(r.tflops >= 0.01 ? fmt(r.tflops, 2) : sci(r.tflops), 9) + lpad(r.gbs >= 1 ? fmt(r.gbs, 0) : fmt(r.gbs, 2), 8)
                              + lpad(r.percentOfRoofline.map { fmt($0, 1) } ?? "-", 8) + "  " + (r.boundBy ?? ""))
                    }
                }
            }
        }
        let report = BenchReport(date: nowString(), device: ctx.capabilities, ceilings: ceil, results: results)
        if let out { try writeFile(out, try jsonString(report)) }
        if json { print(try jsonString(report)) }
        if notRun > 0 { throw CLIFailure("\(notRun) requested case(s) could not run") }
    }
}
