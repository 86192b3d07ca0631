import Testing
@testable import QLinear
import QLinearCheck
import VulkanRuntime

/// A layer with its data, its conformance-checked output and the bit patterns every later run
/// must reproduce (a kernel's summation order is fixed, so the same plan gives the same bits).
struct ConcurrentCase: Sendable {
    let layer: LinearLayer
    let x: [Float]
    let m: Int
    let kernel: KernelKind
    let expected: [UInt32]

    init(_ ctx: QLinearContext, _ p: Problem, seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        let cc = try CheckCase.random(problem: p, rng: &rng)
        layer = try LinearLayer(context: ctx, weights: cc.weights, bias: cc.bias, act: p.act, dynamicActivations: p.op == .dq8ca_q4gsw)
        x = cc.x; m = p.m
        kernel = try layer.plan(m: p.m).kernel
        // The serial run agrees with the fp64 reference (within Tolerance, guard bytes intact)…
        let r = try cc.run(on: ctx, kernel: kernel)
        #expect(r.status == .passed, "\(p) on \(kernel): \(r.summary)")
        // …and is the baseline for the concurrent ones.
        expected = try layer.forward(x, m: m, kernel: kernel).y.map(\.bitPattern)
    }

    /// One forward pass; the number of outputs that differ from the baseline.
    func mismatches() throws -> Int {
        let y = try layer.forward(x, m: m, kernel: kernel).y
        return zip(y, expected).filter { $0.0.bitPattern != $0.1 }.count + abs(y.count - expected.count)
    }
}

/// Problems covering every op, both activation types and all three grids a device may choose
/// (gemv for M ≤ 8, tiled otherwise on lavapipe; coopmat where the device has it).
let concurrentProblems: [Problem] = [
    Problem(op: .fp16, m: 1, n: 40, k: 96, act: .f32, bias: true),
    Problem(op: .q4gsw, m: 5, n: 24, k: 128, groupSize: 32, act: .f16),
    Problem(op: .dq8ca_q4gsw, m: 17, n: 33, k: 64, groupSize: 32, act: .f32, bias: true),
    Problem(op: .dq8ca_q8csw, m: 2, n: 48, k: 80, act: .f16),
    Problem(op: .q4gsw, m: 33, n: 70, k: 160, groupSize: 32, act: .f32, bias: true),
    Problem(op: .fp16, m: 9, n: 31, k: 40, act: .f16),
]

/// Many Swift tasks sharing contexts. Run under ThreadSanitizer by scripts/sanitize.sh and CI.
@Suite("Concurrency")
struct ConcurrencyTests {
    /// 24 tasks × 3 forward passes on one shared context: every task on its own layer of six, so
    /// four tasks share each layer, and all record, submit and wait at once.
    @Test("many tasks, one context: different layers and the same layer at once give the serial results")
    func manyTasksOneContext() async throws {
        let ctx = try Shared.ctx()
        let cases = try concurrentProblems.enumerated().map { try ConcurrentCase(ctx, $0.element, seed: 100 + UInt64($0.offset)) }
        let bad = try await withThrowingTaskGroup(of: Int.self) { group in
            for t in 0..<24 {
                let c = cases[t % cases.count]
                group.addTask { try (0..<3).reduce(0) { acc, _ in acc + (try c.mismatches()) } }
            }
            return try await group.reduce(0, +)
        }
        #expect(bad == 0, "\(bad) outputs differ from the serial run")
    }

    /// Eight tasks hammering one layer with one M (the same pipeline from the cache, the same
    /// weight buffers bound by every stream).
    @Test("eight tasks on one layer")
    func oneLayer() async throws {
        let ctx = try Shared.ctx()
        let c = try ConcurrentCase(ctx, Problem(op: .dq8ca_q4gsw, m: 3, n: 64, k: 256, groupSize: 64, act: .f32, bias: true), seed: 7)
        let bad = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<8 { group.addTask { try (0..<4).reduce(0) { acc, _ in acc + (try c.mismatches()) } } }
            return try await group.reduce(0, +)
        }
        #expect(bad == 0)
    }

    /// Tasks that record their own streams with `encode` (one plan and scratch per task, shared
    /// layer), plus pipeline-cache misses from several tasks at once (fresh contexts have an empty cache).
    @Test("two contexts opened and used at once, pipelines built concurrently")
    func twoContexts() async throws {
        let ps = Array(concurrentProblems.prefix(4))
        let results = try await withThrowingTaskGroup(of: (Int, [[UInt32]]).self) { group in
            for i in 0..<2 {
                group.addTask {
                    let ctx = try QLinearContext(instance: TestValidation.instance)
                    let layers = try ps.enumerated().map { try ConcurrentCase(ctx, $0.element, seed: 200 + UInt64($0.offset)) }
                    // Every layer's pass from two tasks at once on this context.
                    let outs = try await withThrowingTaskGroup(of: (Int, [UInt32]).self) { inner in
                        for (j, c) in layers.enumerated() {
                            for _ in 0..<2 {
                                inner.addTask {
                                    let p = try c.layer.plan(m: c.m, kernel: c.kernel)
                                    let dev = ctx.device
                                    let xb = try Buffer(device: dev, size: try c.layer.inputBytes(m: c.m))
                                    try xb.write(array: c.layer.act.encode(c.x))
                                    let yb = try Buffer(device: dev, size: (try c.layer.outputBytes(m: c.m) + 3) / 4 * 4)
                                    let s = try CommandStream(device: dev)
                                    try c.layer.encode(s, plan: p, x: BufferBinding(xb), y: BufferBinding(yb), scratch: try c.layer.makeScratch(m: c.m))
                                    for _ in 0..<3 { try s.submitAndWait() }   // recorded once, submitted many times
                                    return (j, try c.layer.act.decode(yb, count: c.m * c.layer.n).map(\.bitPattern))
                                }
                            }
                        }
                        var all = [(Int, [UInt32])]()
                        for try await r in inner { all.append(r) }
                        return all
                    }
                    for (j, y) in outs { #expect(y == layers[j].expected, "context \(i), problem \(ps[j])") }
                    return (i, layers.map(\.expected))
                }
            }
            var byContext = [Int: [[UInt32]]]()
            for try await (i, e) in group { byContext[i] = e }
            return byContext
        }
        // The two contexts (two VkInstances and VkDevices on the same GPU) agree bit for bit.
        #expect(results[0] == results[1])
    }
}
