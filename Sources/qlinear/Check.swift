#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import QLinear
import VulkanRuntime

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

func nowString() -> String {
    var t = time(nil)
    var tmv = tm()
    gmtime_r(&t, &tmv)
    var buf = [CChar](repeating: 0, count: 64)
    strftime(&buf, 64, "%Y-%m-%dT%H:%M:%SZ", &tmv)
    return cArrayString(buf)
}

func readShapesFile(_ path: String) throws -> [(Int, Int, Int)] {
    guard let f = fopen(path, "r") else { throw CLIError.usage("cannot read shapes file \(path)") }
    defer { fclose(f) }
    var shapes: [(Int, Int, Int)] = []
    var line = [CChar](repeating: 0, count: 4096)
    while fgets(&line, 4096, f) != nil {
        let s = trim(String(cArrayString(line).split(separator: "#", omittingEmptySubsequences: false).first ?? ""))
        if s.isEmpty { continue }
        shapes.append(try parseShape(s))
    }
    return shapes
}

func cmdCheck(_ args: inout Args) throws {
    let json = args.flag("json")
    let ops = try parseOps(&args)
    let acts = try parseActs(&args)
    var shapes = try args.all("shape").map(parseShape)
    if let file = args.value("shapes") { shapes += try readShapesFile(file) }
    let quick = args.flag("quick")
    if shapes.isEmpty { shapes = quick ? ShapeGrid.quick : ShapeGrid.full }
    let groups = try args.all("group").map { g -> Int in
        guard let v = Int(g), v > 0 else { throw CLIError.usage("--group expects a positive integer") }
        return v
    }
    let seed = UInt64(truncatingIfNeeded: try args.int("seed") ?? 20261125)
    let out = args.value("out")
    let kernelsArg = try parseKernels(&args, default: KernelKind.allCases)
    let ctx = try openContext(&args)
    try args.checkUnused()
    var rng = SplitMix64(seed: seed)
    var results: [CheckResult] = []
    var problems: [Problem] = []
    for op in ops { problems += ShapeGrid.problems(op: op, shapes: shapes, acts: acts, groups: groups.isEmpty ? ShapeGrid.groupSizes : groups) }
    let kernels = kernelsArg.isEmpty ? KernelKind.allCases : kernelsArg
    let total = problems.count * kernels.count
    if !json {
        print("device: \(ctx.capabilities.name) (\(ctx.capabilities.driverName))")
        for (f, r) in ctx.selfTest.sorted(by: { $0.key < $1.key }) { print("self-test \(f) cooperative matrices: \(r)") }
        print(pad("op", 13) + pad("kernel", 9) + pad("act", 5) + pad("M", 6) + pad("N", 6) + pad("K", 6) + pad("g", 5) + pad("bias", 6) + pad("result", 8) + pad("max|err|", 10) + pad("err/bound", 10) + "shader / note")
    }
    var done = 0
    for p in problems {
        let c = try CheckCase.random(problem: p, rng: &rng)
        for kernel in kernels {
            done += 1
            let r: CheckResult
            do { r = try c.run(on: ctx, kernel: kernel) } catch {
                r = CheckResult(problem: p, kernel: kernel, shader: nil, status: .failed, maxAbsError: .nan, worstRatio: .nan, summary: "error: \(error)")
            }
            results.append(r)
            if !json {
                print(pad(p.op.rawValue, 13) + pad(kernel.rawValue, 9) + pad(p.act.rawValue, 5) + pad(String(p.m), 6) + pad(String(p.n), 6) + pad(String(p.k), 6)
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
    let report = CheckReport(date: nowString(), device: ctx.capabilities, selfTest: ctx.selfTest, passed: passed, failed: failed, skipped: skipped, results: results)
    if let out { try writeFile(out, try jsonString(report)) }
    if json { print(try jsonString(report)) } else { print("\(passed) passed, \(failed) failed, \(skipped) skipped (not runnable on this device)") }
    if failed > 0 { exit(1) }
}
