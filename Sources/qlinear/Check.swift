import ArgumentParser
import QLinear
import QLinearCheck

struct CheckReport: Codable {
    var tool: String = "qlinear check"
    var date: String
    var device: Capabilities
    var selfTest: [String: String]
    var passed: Int
    var failed: Int
    var skipped: Int
    var results: [CheckResult]
}

/// Which kernels a command runs: one kind, every kind, or the dispatcher's choice.
enum KernelChoice: String, ExpressibleByArgument, CaseIterable {
    case tiled, coopmat, gemv, all, auto
    var kinds: [KernelKind]? {
        switch self {
        case .all: return KernelKind.allCases
        case .auto: return nil
        case .tiled: return [.tiled]
        case .coopmat: return [.coopmat]
        case .gemv: return [.gemv]
        }
    }
}

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Conformance sweep: every op × kernel × shape × dtype × bias against the fp64 CPU reference; exit 1 on any failure.")
    @Option(help: "Ops to check (repeatable; default all): \(Op.allCases.map(\.rawValue).joined(separator: ", ")).") var op: [Op] = []
    @Option(help: "Kernels: tiled, coopmat, gemv or all.") var kernel: KernelChoice = .all
    @Option(help: "Shapes MxNxK (repeatable).") var shape: [Shape] = []
    @Option(help: "A file of shapes, one MxNxK per line (# comments).") var shapes: String?
    @Flag(help: "The lavapipe-sized grid.") var quick = false
    @Option(help: "Activation dtype (default both): f16 or f32.") var act: DType?
    @Option(help: "INT4 group sizes (repeatable; default 32, 64, 128).") var group: [Int] = []
    @Option(parsing: .unconditional, help: "Random seed (negative values wrap).") var seed: Int = 20261125
    @Option(help: "Write the JSON report here too.") var out: String?
    @OptionGroup var dev: DeviceOptions
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        if kernel == .auto { throw ValidationError("check runs explicit kernels: tiled, coopmat, gemv or all") }
        for g in group where g < 8 || g % 8 != 0 { throw ValidationError("--group must be a positive multiple of 8, got \(g)") }
    }

    func run() throws {
        var list = shape
        if let shapes { list += try readShapesFile(shapes) }
        let grid: [(Int, Int, Int)] = list.isEmpty ? (quick ? ShapeGrid.quick : ShapeGrid.full) : list.map { ($0.m, $0.n, $0.k) }
        let ops = op.isEmpty ? Op.allCases : op
        let acts = act.map { [$0] } ?? DType.allCases
        var problems: [Problem] = []
        for o in ops { problems += ShapeGrid.problems(op: o, shapes: grid, acts: acts, groups: group.isEmpty ? ShapeGrid.groupSizes : group) }
        for p in problems { try p.validate() }
        // Shapes the caller named whose K the INT4 formats round up to a whole number of groups
        // (or skip: a group more than twice K) — say so, rather than only in the table's K column.
        if !list.isEmpty {
            for o in ops where o.usesGroups {
                for (m, n, k) in grid {
                    for g in group.isEmpty ? ShapeGrid.groupSizes : group where k % g != 0 {
                        let kk = (k + g - 1) / g * g
                        stderrPrint(kk > max(k, g) * 2 && k > g
                            ? "note: \(o.rawValue) \(m)x\(n)x\(k), group \(g): skipped (K is not a multiple of the group)"
                            : "note: \(o.rawValue) \(m)x\(n)x\(k), group \(g): K is not a multiple of the group; checked with K = \(kk)")
                    }
                }
            }
        }
        let ctx = try dev.open()
        // Device limits before any host data is generated (bias adds at most N values).
        for p in problems { try p.validate(for: ctx.capabilities) }
        var rng = SplitMix64(seed: UInt64(bitPattern: Int64(seed)))
        let kernels = kernel.kinds ?? KernelKind.allCases
        let total = problems.count * kernels.count
        if !json {
            print("device: \(ctx.capabilities.name) (\(ctx.capabilities.driverName))")
            for (f, r) in ctx.selfTest.sorted(by: { $0.key.rawValue < $1.key.rawValue }) { print("self-test \(f.rawValue) cooperative matrices: \(r)") }
            print(pad("op", 13) + pad("kernel", 9) + pad("act", 5) + pad("M", 6) + pad("N", 6) + pad("K", 6) + pad("g", 5) + pad("bias", 6) + pad("result", 8) + pad("max|err|", 10) + pad("err/bound", 10) + "shader / note")
        }
        var results: [CheckResult] = []
        var done = 0
        for p in problems {
            let c = try CheckCase.random(problem: p, rng: &rng)
            for k in kernels {
                done += 1
                let r: CheckResult
                do { r = try c.run(on: ctx, kernel: k) } catch {
                    r = CheckResult(problem: p, kernel: k, shader: nil, status: .failed, maxAbsError: .nan, worstRatio: .nan, summary: "error: \(error)")
                }
                results.append(r)
                if !json {
                    print(pad(p.op.rawValue, 13) + pad(k.rawValue, 9) + pad(p.act.rawValue, 5) + pad(String(p.m), 6) + pad(String(p.n), 6) + pad(String(p.k), 6)
                          + pad(p.op.usesGroups ? String(p.groupSize) : "-", 5) + pad(p.bias ? "yes" : "no", 6)
                          + pad(r.status.rawValue.uppercased(), 8) + pad(r.status == .skipped ? "-" : sci(r.maxAbsError), 10)
                          + pad(r.status == .skipped ? "-" : fmt(r.worstRatio, 3), 10)
                          + (r.status == .passed ? (r.shader ?? "") : r.summary))
                } else if done % 20 == 0 {
                    stderrPrint("check: \(done)/\(total)")
                }
            }
        }
        let passed = results.filter { $0.status == .passed }.count
        let failed = results.filter { $0.status == .failed }.count
        let skipped = results.filter { $0.status == .skipped }.count
        let report = CheckReport(date: nowString(), device: ctx.capabilities,
                                 selfTest: Dictionary(uniqueKeysWithValues: ctx.selfTest.map { ($0.key.rawValue, $0.value) }),
                                 passed: passed, failed: failed, skipped: skipped, results: results)
        if let out { try writeFile(out, try jsonString(report)) }
        if json { print(try jsonString(report)) } else { print("\(passed) passed, \(failed) failed, \(skipped) skipped (not runnable on this device)") }
        if failed > 0 { throw ExitCode(1) }
    }
}
