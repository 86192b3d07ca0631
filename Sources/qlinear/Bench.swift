import QLinear
import VulkanRuntime

struct BenchReport: Codable {
    var tool: String = "qlinear bench"
    var date: String
    var device: Capabilities
    var ceilings: Ceilings?
    var results: [BenchResult]
}

func randomWeights(op: Op, n: Int, k: Int, group: Int, seed: UInt64) throws -> LinearWeights {
    var rng = SplitMix64(seed: seed)
    let w: [Float] = (0..<(n * k)).map { _ in Float(Double(rng.next() >> 11) * 0x1p-53 * 2 - 1) * 0.05 }
    switch op {
    case .fp16: return .fp16(n: n, k: k, values: w.map { Float16($0) })
    case .q4gsw, .dq8ca_q4gsw: return .q4gsw(try Q4GSWWeights.quantize(w, n: n, k: k, groupSize: group, scaleDType: .f16))
    case .dq8ca_q8csw: return .q8csw(try Q8CSWWeights.quantize(w, n: n, k: k, scaleDType: .f16))
    }
}

func cmdBench(_ args: inout Args) throws {
    let json = args.flag("json")
    let ops = try parseOps(&args)
    var shapes = try args.all("shape").map(parseShape)
    let group = try args.int("group") ?? 128
    let act = try parseActs(&args).first!
    let iters = try args.int("iters") ?? 50
    guard iters >= 1 && iters <= 10_000 else { throw CLIError.usage("--iters must be in 1…10000") }
    let out = args.value("out")
    let kernels = try parseKernels(&args, default: [])
    let ctx = try openContext(&args)
    try args.checkUnused()
    if shapes.isEmpty {
        shapes = ctx.capabilities.kind == .cpu ? [(1, 256, 512), (64, 256, 512)] : [(1, 4096, 4096), (128, 4096, 4096), (2048, 4096, 4096)]
    }
    if !json { print("device: \(ctx.capabilities.name) (\(ctx.capabilities.driverName) \(ctx.capabilities.driverInfo)); measuring ceilings…") }
    let ceil = try Bench.ceilings(ctx)
    if !json {
        var line = "ceilings: read \(fmt(ceil.readGBs, 0)) GB/s, copy \(fmt(ceil.copyGBs, 0)) GB/s"
        if let f = ceil.f16TFLOPs { line += ", fp16 MMA \(fmt(f, 1)) TFLOP/s" }
        if let s = ceil.s8TOPs { line += ", int8 MMA \(fmt(s, 1)) TOP/s" }
        print(line)
        print("  (\(ceil.note))")
        print(pad("op", 13) + pad("kernel", 9) + pad("M", 6) + pad("N", 7) + pad("K", 7) + lpad("median µs", 11) + lpad("min µs", 10) + lpad("TFLOP/s", 9) + lpad("GB/s", 8) + lpad("% roof", 8) + "  bound")
    }
    var results: [BenchResult] = []
    for op in ops {
        for (m, n, k) in shapes {
            // Shape rules first, so nothing is allocated for a problem no kernel accepts.
            try Problem(op: op, m: m, n: n, k: k, groupSize: group, act: act).validate()
            let layer = try LinearLayer(context: ctx, weights: try randomWeights(op: op, n: n, k: k, group: group, seed: 1),
                                        bias: nil, act: act, dynamicActivations: op == .dq8ca_q4gsw)
            let list: [KernelKind?] = kernels.isEmpty ? [nil] : kernels.map { Optional($0) }
            for kernel in list {
                let r: BenchResult
                do { r = try Bench.run(layer, m: m, kernel: kernel, iterations: iters, ceilings: ceil) } catch {
                    if !json { print(pad(op.rawValue, 13) + pad(kernel?.rawValue ?? "auto", 9) + pad(String(m), 6) + pad(String(n), 7) + pad(String(k), 7) + "  not run: \(error)") }
                    continue
                }
                results.append(r)
                if !json {
                    print(pad(op.rawValue, 13) + pad(r.kernel.rawValue, 9) + pad(String(m), 6) + pad(String(n), 7) + pad(String(k), 7)
                          + lpad(fmt(r.medianUs, 1), 11) + lpad(fmt(r.minUs, 1), 10) + lpad(r.tflops >= 0.01 ? fmt(r.tflops, 2) : sci(r.tflops), 9) + lpad(r.gbs >= 1 ? fmt(r.gbs, 0) : fmt(r.gbs, 2), 8)
                          + lpad(r.percentOfRoofline.map { fmt($0, 1) } ?? "-", 8) + "  " + (r.boundBy ?? ""))
                }
            }
        }
    }
    let report = BenchReport(date: nowString(), device: ctx.capabilities, ceilings: ceil, results: results)
    if let out { try writeFile(out, try jsonString(report)) }
    if json { print(try jsonString(report)) }
}
