import Testing
import Foundation
@testable import QLinear
import QLinearCheck
@testable import VulkanRuntime

// The contracts between a caller and the library: what `encode` accepts, what the weight and
// buffer constructors reject, how a recorded stream behaves, and what the generated registry and
// the tuning tables promise. Every misuse must be a thrown error naming the numbers involved —
// never a trap — so each test pins the exact message.

/// The thrown error as the user sees it, or nil when `body` did not throw.
func thrownText(_ body: () throws -> Void) -> String? {
    do { try body(); return nil } catch { return "\(error)" }
}

/// A small q4gsw (or dq8ca_q4gsw) layer with deterministic weights.
func q4Layer(_ ctx: QLinearContext, n: Int = 8, k: Int = 32, group: Int = 32, act: DType = .f32, bias: Bool = false,
             dynamic: Bool = false, seed: UInt64 = 1) throws -> LinearLayer {
    var rng = SplitMix64(seed: seed)
    let w = (0..<(n * k)).map { _ in rng.symmetric() }
    let q = try Q4GSWWeights.quantize(w, n: n, k: k, groupSize: group)
    return try LinearLayer(context: ctx, weights: .q4gsw(q), bias: bias ? (0..<n).map { Float($0) / 8 } : nil, act: act,
                           dynamicActivations: dynamic)
}

func fp16Layer(_ ctx: QLinearContext, n: Int = 8, k: Int = 32, act: DType = .f32, seed: UInt64 = 2) throws -> LinearLayer {
    var rng = SplitMix64(seed: seed)
    let w = (0..<(n * k)).map { _ in Float16(rng.symmetric()) }
    return try LinearLayer(context: ctx, weights: .fp16(n: n, k: k, values: w), act: act)
}

/// Buffers sized exactly for `m` rows of `layer` (output rounded up to 4 bytes for host reads).
func exactBuffers(_ layer: LinearLayer, m: Int) throws -> (x: Buffer, y: Buffer) {
    let dev = layer.context.device
    return (try Buffer(device: dev, size: try layer.inputBytes(m: m)), try Buffer(device: dev, size: try layer.outputBytes(m: m)))
}

@Suite("encode contracts", .serialized)
struct EncodeContractTests {
    @Test("a plan made for another M is caught by the buffer and scratch checks, with the sizes")
    func otherM() throws {
        let ctx = try Shared.ctx()
        let a = try q4Layer(ctx)
        let plan4 = try a.plan(m: 4)
        #expect(plan4.problem.m == 4)
        let one = try exactBuffers(a, m: 1), four = try exactBuffers(a, m: 4)
        let s = try CommandStream(device: ctx.device)
        #expect(thrownText { try a.encode(s, plan: plan4, x: BufferBinding(one.x), y: BufferBinding(four.y), scratch: try a.makeScratch(m: 4)) }
                == "invalid shape: x binding has 128 bytes, 512 needed")
        #expect(thrownText { try a.encode(s, plan: plan4, x: BufferBinding(four.x), y: BufferBinding(one.y), scratch: try a.makeScratch(m: 4)) }
                == "invalid shape: y binding has 32 bytes, 128 needed")
        #expect(thrownText { try a.encode(s, plan: plan4, x: BufferBinding(four.x), y: BufferBinding(four.y), scratch: try a.makeScratch(m: 1)) }
                == "invalid shape: scratch serves 1 rows, plan has M = 4")
        // A plan whose M was edited to something invalid is rejected by the problem's own rules.
        var zero = plan4
        zero.problem.m = 0
        #expect(thrownText { try a.encode(s, plan: zero, x: BufferBinding(four.x), y: BufferBinding(four.y), scratch: try a.makeScratch(m: 4)) }
                == "invalid shape: M, N, K must be ≥ 1 (got 0×8×32)")
        // Nothing was recorded by the failures: the right call still records and runs.
        try a.encode(s, plan: plan4, x: BufferBinding(four.x), y: BufferBinding(four.y), scratch: try a.makeScratch(m: 4))
        try s.submitAndWait()
    }

    @Test("a plan made for another layer (N, K, op, act, bias, group) is rejected naming both problems")
    func otherLayer() throws {
        let ctx = try Shared.ctx()
        let a = try q4Layer(ctx)
        let others = [try q4Layer(ctx, n: 12), try q4Layer(ctx, k: 64), try fp16Layer(ctx), try q4Layer(ctx, act: .f16),
                      try q4Layer(ctx, bias: true), try q4Layer(ctx, dynamic: true), try q4Layer(ctx, group: 16)]
        let big = try Buffer(device: ctx.device, size: 4096), out = try Buffer(device: ctx.device, size: 4096)
        let s = try CommandStream(device: ctx.device)
        for o in others {
            let plan = try o.plan(m: 1)
            #expect(thrownText { try a.encode(s, plan: plan, x: BufferBinding(big), y: BufferBinding(out), scratch: try a.makeScratch(m: 1)) }
                    == "invalid shape: plan was made for \(o.problem(m: 1)), this layer computes \(a.problem(m: 1))")
        }
        #expect(a.problem(m: 1).description == "q4gsw M=1 N=8 K=32 g=32 f32")
    }

    @Test("a hand-made gemv plan with one row more than its kernel's limit is rejected with the limit")
    func gemvRowLimit() throws {
        let ctx = try Shared.ctx()
        for (layer, limit) in [(try q4Layer(ctx), 8), (try q4Layer(ctx, dynamic: true), 16)] {
            var plan = try layer.plan(m: 1, kernel: .gemv)
            #expect(plan.shader.origin.family.maxM == limit)
            plan.problem.m = limit + 1
            let b = try exactBuffers(layer, m: limit + 1)
            let s = try CommandStream(device: ctx.device)
            #expect(thrownText { try layer.encode(s, plan: plan, x: BufferBinding(b.x), y: BufferBinding(b.y), scratch: try layer.makeScratch(m: limit + 1)) }
                    == "invalid shape: \(plan.shader.rawValue) handles at most M = \(limit) rows, plan has M = \(limit + 1)")
            // A plan that claims another kernel kind than its shader's is also caught.
            var wrongKind = try layer.plan(m: 1, kernel: .gemv)
            wrongKind.kernel = .tiled
            let b1 = try exactBuffers(layer, m: 1)
            #expect(thrownText { try layer.encode(s, plan: wrongKind, x: BufferBinding(b1.x), y: BufferBinding(b1.y), scratch: try layer.makeScratch(m: 1)) }
                    == "invalid shape: plan's shader \(wrongKind.shader.rawValue) is not a tiled kernel")
            // Tile dimensions of 0 would divide by zero when sizing the grid.
            var zeroTile = try layer.plan(m: 1, kernel: .tiled)
            zeroTile.tile.bn = 0
            #expect(thrownText { try layer.encode(s, plan: zeroTile, x: BufferBinding(b1.x), y: BufferBinding(b1.y), scratch: try layer.makeScratch(m: 1)) }
                    == "invalid shape: plan's tile \(zeroTile.tile.bm)x0 has a dimension below 1")
        }
    }

    /// Hand-made gemv_q4_sg plans whose numbers the shader cannot honour (huge or zero tile
    /// fields, a split that leaves partial passes, more shared memory than the device has) are
    /// refused with an error, never a trap from overflowing arithmetic.
    @Test("hostile gemv_q4_sg plans are rejected, not trapped on")
    func sgHostilePlans() throws {
        let ctx = try Shared.ctx()
        let layer = try q4Layer(ctx, act: .f16)
        var options = ctx.options
        options.gemvConfig = GemvConfig(columns: 1, threads: 4 * ctx.capabilities.subgroupSize, unroll: 1, halfMath: true, splitK: 2, sg: true)
        let good = try Dispatcher.plan(.gemv, layer.problem(m: 1), caps: ctx.capabilities, options: options).get()
        #expect(good.shader == .gemv_q4_sg, "\(good.reasons)")
        let b = try exactBuffers(layer, m: 1)
        let s = try CommandStream(device: ctx.device)
        let edits: [(inout TileConfig) -> Void] = [
            { $0.bn = Int.max / 2 }, { $0.workgroupSize = Int.max }, { $0.subgroupSplit = 0 }, { $0.subgroupSplit = 3 },
            { $0.subgroupColumns = 0 }, { $0.stagedChunks = Int.max / 3 }, { $0.bm = 9 }, { $0.bn = $0.bn + 1 },
        ]
        for edit in edits {
            var plan = good
            edit(&plan.tile)
            let text = thrownText { try layer.encode(s, plan: plan, x: BufferBinding(b.x), y: BufferBinding(b.y), scratch: try layer.makeScratch(m: 1)) }
            #expect(text?.hasPrefix("invalid shape: gemv_q4_sg") == true, "\(plan.tile): \(text ?? "accepted")")
        }
        try layer.encode(s, plan: good, x: BufferBinding(b.x), y: BufferBinding(b.y), scratch: try layer.makeScratch(m: 1))
        try s.submitAndWait()
    }

    /// QV (32-value INT4 loads) is for the float cooperative-matrix kernel with q4gsw, G, K and
    /// the K step multiples of 32: any other plan carrying it is refused before anything records.
    @Test("a plan asking for 32-value INT4 loads where they cannot run is rejected")
    func q4PiecesElsewhere() throws {
        let ctx = try Shared.ctx()
        let layer = try q4Layer(ctx, act: .f16)
        var plan = try layer.plan(m: 3, kernel: .gemv)
        plan.tile.q4Pieces = 1
        let b = try exactBuffers(layer, m: 3)
        let text = thrownText { try layer.encode(try CommandStream(device: ctx.device), plan: plan, x: BufferBinding(b.x), y: BufferBinding(b.y),
                                                 scratch: try layer.makeScratch(m: 3)) }
        #expect(text?.contains("32-value INT4 loads need q4gsw") == true, "\(text ?? "accepted")")
    }

    @Test("a dq8ca plan without its activation-quantization shader is rejected")
    func missingQuantShader() throws {
        let ctx = try Shared.ctx()
        let layer = try q4Layer(ctx, dynamic: true)
        var plan = try layer.plan(m: 2)
        #expect(plan.quantShader != nil)
        plan.quantShader = nil
        let b = try exactBuffers(layer, m: 2)
        #expect(thrownText { try layer.encode(try CommandStream(device: ctx.device), plan: plan, x: BufferBinding(b.x), y: BufferBinding(b.y),
                                              scratch: try layer.makeScratch(m: 2)) }
                == "invalid shape: dq8ca_q4gsw needs an activation-quantization shader in its plan")
    }

    @Test("x or y one byte too small, by buffer size, binding size or offset")
    func oneByteShort() throws {
        let ctx = try Shared.ctx()
        let dev = ctx.device
        let a = try q4Layer(ctx)
        #expect(try a.inputBytes(m: 1) == 128 && a.outputBytes(m: 1) == 32)
        let plan = try a.plan(m: 1)
        let scratch = try a.makeScratch(m: 1)
        let s = try CommandStream(device: dev)
        let exact = try exactBuffers(a, m: 1)
        let short = try Buffer(device: dev, size: 127), shortY = try Buffer(device: dev, size: 31), wide = try Buffer(device: dev, size: 256)
        func encode(_ x: BufferBinding, _ y: BufferBinding) -> String? {
            thrownText { try a.encode(s, plan: plan, x: x, y: y, scratch: scratch) }
        }
        #expect(encode(BufferBinding(short), BufferBinding(exact.y)) == "invalid shape: x binding has 127 bytes, 128 needed")
        #expect(encode(BufferBinding(wide, size: 127), BufferBinding(exact.y)) == "invalid shape: x binding has 127 bytes, 128 needed")
        let offsetBuffer = try Buffer(device: dev, size: 144 + 127)
        #expect(encode(BufferBinding(offsetBuffer, offset: 144), BufferBinding(exact.y)) == "invalid shape: x binding has 127 bytes, 128 needed")
        #expect(encode(BufferBinding(exact.x), BufferBinding(shortY)) == "invalid shape: y binding has 31 bytes, 32 needed")
        #expect(encode(BufferBinding(exact.x), BufferBinding(wide, size: 31)) == "invalid shape: y binding has 31 bytes, 32 needed")
        // Exact sizes, and a binding inside a larger buffer at an aligned offset, are accepted.
        #expect(encode(BufferBinding(exact.x), BufferBinding(exact.y)) == nil)
        #expect(encode(BufferBinding(wide, offset: 128), BufferBinding(wide, offset: 0, size: 32)) == nil)

        // fp16 activations: M·K·2 = 26 bytes, but kernels read 16-byte vectors, so 32 are needed.
        let h = try fp16Layer(ctx, n: 5, k: 13, act: .f16)
        #expect(try h.inputBytes(m: 1) == 32)
        let hy = try Buffer(device: dev, size: 12)
        #expect(thrownText { try h.encode(s, plan: try h.plan(m: 1), x: BufferBinding(try Buffer(device: dev, size: 31)), y: BufferBinding(hy),
                                          scratch: try h.makeScratch(m: 1)) }
                == "invalid shape: x binding has 31 bytes, 32 needed")
    }

    @Test("binding offsets outside the buffer or misaligned, and sizes that overflow, are rejected")
    func offsets() throws {
        let ctx = try Shared.ctx()
        let dev = ctx.device
        let align = ctx.capabilities.minStorageBufferOffsetAlignment
        let a = try q4Layer(ctx)
        let plan = try a.plan(m: 1)
        let scratch = try a.makeScratch(m: 1)
        let s = try CommandStream(device: dev)
        let buf = try Buffer(device: dev, size: 256), y = try Buffer(device: dev, size: 32)
        func encode(_ x: BufferBinding, _ yb: BufferBinding) -> String? {
            thrownText { try a.encode(s, plan: plan, x: x, y: yb, scratch: scratch) }
        }
        #expect(encode(BufferBinding(buf, offset: 272), BufferBinding(y))
                == "invalid shape: x binding offset 272 is outside the 256-byte buffer or not a multiple of \(align)")
        #expect(encode(BufferBinding(buf, offset: -16), BufferBinding(y))
                == "invalid shape: x binding offset -16 is outside the 256-byte buffer or not a multiple of \(align)")
        #expect(encode(BufferBinding(buf), BufferBinding(buf, offset: 256 + 64))
                == "invalid shape: y binding offset 320 is outside the 256-byte buffer or not a multiple of \(align)")
        // A size that would overflow offset + size (a trap before) and a negative size.
        #expect(encode(BufferBinding(buf, offset: 16, size: Int.max), BufferBinding(y))
                == "invalid shape: x binding [16, +\(Int.max)) exceeds its 256-byte buffer")
        #expect(encode(BufferBinding(buf, size: -1), BufferBinding(y)) == "invalid shape: x binding [0, +-1) exceeds its 256-byte buffer")
        #expect(encode(BufferBinding(buf, offset: 128, size: 129), BufferBinding(y)) == "invalid shape: x binding [128, +129) exceeds its 256-byte buffer")
        // Misaligned offsets (lavapipe requires 16; a device allowing any offset has nothing to test).
        if align > 1 {
            #expect(encode(BufferBinding(buf, offset: 1), BufferBinding(y))
                    == "invalid shape: x binding offset 1 is outside the 256-byte buffer or not a multiple of \(align)")
            #expect(encode(BufferBinding(buf), BufferBinding(buf, offset: align / 2))
                    == "invalid shape: y binding offset \(align / 2) is outside the 256-byte buffer or not a multiple of \(align)")
        }
    }

    @Test("scratch for fewer rows or for another layer's K is rejected")
    func scratch() throws {
        let ctx = try Shared.ctx()
        let a = try q4Layer(ctx, dynamic: true)
        let other = try q4Layer(ctx, k: 64, dynamic: true)
        let plan = try a.plan(m: 3)
        let b = try exactBuffers(a, m: 3)
        let s = try CommandStream(device: ctx.device)
        #expect(thrownText { try a.encode(s, plan: plan, x: BufferBinding(b.x), y: BufferBinding(b.y), scratch: try a.makeScratch(m: 2)) }
                == "invalid shape: scratch serves 2 rows, plan has M = 3")
        #expect(thrownText { try a.encode(s, plan: plan, x: BufferBinding(b.x), y: BufferBinding(b.y), scratch: try other.makeScratch(m: 3)) }
                == "invalid shape: scratch was made for a layer with K = 64, this layer has K = 32")
        #expect(thrownText { _ = try a.makeScratch(m: 0) } == "invalid shape: scratch for M = 0 rows: M must be ≥ 1")
        // More rows than the plan is fine.
        try a.encode(s, plan: plan, x: BufferBinding(b.x), y: BufferBinding(b.y), scratch: try a.makeScratch(m: 8))
        try s.submitAndWait()
    }

    @Test("buffers, streams and scratch of another device (the same GPU opened twice) are rejected")
    func otherDevice() throws {
        let ctx = try Shared.ctx()
        let ctx2 = try QLinearContext(device: nil, selfTest: false, instance: TestValidation.instance)
        #expect(ctx2.device !== ctx.device)
        let a = try q4Layer(ctx)
        let plan = try a.plan(m: 1)
        let mine = try exactBuffers(a, m: 1)
        let foreignX = try Buffer(device: ctx2.device, size: 128), foreignY = try Buffer(device: ctx2.device, size: 32)
        let s = try CommandStream(device: ctx.device)
        let scratch = try a.makeScratch(m: 1)
        #expect(thrownText { try a.encode(s, plan: plan, x: BufferBinding(foreignX), y: BufferBinding(mine.y), scratch: scratch) }
                == "invalid shape: x buffer belongs to another device")
        #expect(thrownText { try a.encode(s, plan: plan, x: BufferBinding(mine.x), y: BufferBinding(foreignY), scratch: scratch) }
                == "invalid shape: y buffer belongs to another device")
        let foreignStream = try CommandStream(device: ctx2.device)
        #expect(thrownText { try a.encode(foreignStream, plan: plan, x: BufferBinding(mine.x), y: BufferBinding(mine.y), scratch: scratch) }
                == "invalid shape: the stream belongs to another device than this layer")
        // Scratch allocated by a layer on the other device.
        let dq = try q4Layer(ctx, dynamic: true), dq2 = try q4Layer(ctx2, dynamic: true)
        let dqPlan = try dq.plan(m: 1)
        #expect(thrownText { try dq.encode(s, plan: dqPlan, x: BufferBinding(mine.x), y: BufferBinding(mine.y), scratch: try dq2.makeScratch(m: 1)) }
                == "invalid shape: scratch belongs to another device")
        #expect(s.retained.isEmpty)
        // The stream is still usable afterwards.
        try dq.encode(s, plan: dqPlan, x: BufferBinding(mine.x), y: BufferBinding(mine.y), scratch: try dq.makeScratch(m: 1))
        try s.submitAndWait()
    }

    @Test("a dq8ca encode that fails after its checks records nothing (no orphaned quantization pass)")
    func failedEncodeRecordsNothing() throws {
        let ctx = try Shared.ctx()
        let limit = ctx.capabilities.maxWorkgroupCount[0]
        // gemv runs `columns` output columns per workgroup: N = columns·limit + 1 needs limit + 1 workgroups.
        let columns = 2
        let n = columns * limit + 1
        guard n <= 1 << 20 else { return }   // a device with a huge limit: the layer would be too large to build quickly
        let w = try Q8CSWWeights(n: n, k: 8, values: [Int8](repeating: 1, count: n * 8), scales: [Float](repeating: 1, count: n))
        let layer = try LinearLayer(context: ctx, weights: .q8csw(w), act: .f32)
        var options = ctx.options
        options.gemvConfig = GemvConfig(columns: columns, threads: 4 * ctx.capabilities.subgroupSize, unroll: 1)
        let plan = try Dispatcher.plan(.gemv, layer.problem(m: 1), caps: ctx.capabilities, options: options).get()
        let b = try exactBuffers(layer, m: 1)
        let s = try CommandStream(device: ctx.device)
        #expect(thrownText { try layer.encode(s, plan: plan, x: BufferBinding(b.x), y: BufferBinding(b.y), scratch: try layer.makeScratch(m: 1)) }
                == "unsupported: \(plan.shader.rawValue): \(limit + 1)x1 workgroups exceed the device's limits \(limit)x\(ctx.capabilities.maxWorkgroupCount[1])")
        #expect(s.retained.isEmpty, "the quantization pass was recorded before the failure")
        #expect(s.state == .recording)
    }
}

@Suite("Weight and buffer constructors")
struct ConstructorContractTests {
    @Test("fp16 weights with the wrong value count throw, directly and through LinearLayer")
    func fp16Count() throws {
        let w = LinearWeights.fp16(n: 4, k: 4, values: [1, 2, 3])
        #expect(thrownText { try w.validate() } == "invalid format: fp16 weights: 3 values, N·K = 16 expected")
        let ctx = try Shared.ctx()
        #expect(thrownText { _ = try LinearLayer(context: ctx, weights: w) } == "invalid format: fp16 weights: 3 values, N·K = 16 expected")
        #expect(thrownText { try LinearWeights.fp16(n: 1 << 40, k: 1 << 30, values: []).validate() }
                == "invalid shape: fp16 weights N·K: 1099511627776 · 1073741824 overflows")
    }

    @Test("INT4/INT8 weights with N = 2^40 throw (sizes computed with overflow checks, no trap)")
    func hugeN() {
        let n = 1 << 40
        #expect(thrownText { _ = try Q4GSWWeights(n: n, k: 8, groupSize: 8, packed: [], scales: []) }
                == "invalid format: q4gsw: packed weight has 0 bytes, N·K/2 = 4398046511104 expected")
        #expect(thrownText { _ = try Q4GSWWeights(n: n, k: 1 << 30, groupSize: 8, packed: [], scales: []) }
                == "invalid shape: q4gsw N·K: 1099511627776 · 1073741824 overflows")
        #expect(thrownText { _ = try Q4GSWWeights.quantize([], n: n, k: 8, groupSize: 8) }
                == "invalid shape: q4gsw quantize: 0 weights, N·K = 8796093022208 expected")
        #expect(thrownText { _ = try Q8CSWWeights(n: n, k: 8, values: [], scales: []) }
                == "invalid format: q8csw: 0 values, N·K = 8796093022208 expected")
        #expect(thrownText { _ = try Q8CSWWeights(n: n, k: 1 << 30, values: [], scales: []) }
                == "invalid shape: q8csw N·K: 1099511627776 · 1073741824 overflows")
        #expect(thrownText { _ = try Q8CSWWeights.quantize([], n: n, k: 8) }
                == "invalid shape: q8csw quantize: 0 weights, N·K = 8796093022208 expected")
    }

    @Test("Buffer reads and writes outside the buffer throw")
    func bufferRanges() throws {
        let ctx = try Shared.ctx()
        let b = try Buffer(device: ctx.device, size: 16)
        #expect(thrownText { _ = try b.read(as: Float.self, count: -1) } == "out of range: read of -1 values of 4 bytes at 0 from a 16-byte buffer")
        #expect(thrownText { _ = try b.read(as: UInt8.self, count: Int.max) }
                == "out of range: read of \(Int.max) values of 1 bytes at 0 from a 16-byte buffer")
        #expect(thrownText { _ = try b.read(as: UInt64.self, count: Int.max / 4) }
                == "out of range: read of \(Int.max / 4) values of 8 bytes at 0 from a 16-byte buffer")
        #expect(thrownText { _ = try b.read(as: Float.self, count: 1, offset: 13) } == "out of range: read of 1 values of 4 bytes at 13 from a 16-byte buffer")
        #expect(thrownText { try b.write(array: [UInt32(1)], offset: Int.max) }
                == "out of range: write of 4 bytes at \(Int.max) into a 16-byte buffer")
        #expect(thrownText { try b.write(array: [UInt32(1)], offset: -1) } == "out of range: write of 4 bytes at -1 into a 16-byte buffer")
        #expect(thrownText { try b.write(array: [UInt8](repeating: 0, count: 17)) } == "out of range: write of 17 bytes at 0 into a 16-byte buffer")
        #expect(thrownText { _ = try Buffer(device: ctx.device, size: 0) } == "out of range: buffer size must be > 0")
        // In range still works and round-trips.
        try b.write(array: [UInt32(7), 9], offset: 8)
        #expect(try b.read(as: UInt32.self, count: 2, offset: 8) == [7, 9])
    }
}

@Suite("Reusable command streams", .serialized)
struct StreamContractTests {
    @Test("record once, submit twice: the second run recomputes the same result")
    func submitTwice() throws {
        let ctx = try Shared.ctx()
        for layer in [try q4Layer(ctx, n: 24, k: 64, bias: true), try q4Layer(ctx, n: 24, k: 64, dynamic: true)] {
            let m = 3
            var rng = SplitMix64(seed: 11)
            let x = (0..<(m * layer.k)).map { _ in rng.symmetric() }
            let b = try exactBuffers(layer, m: m)
            try b.x.write(array: layer.act.encode(x))
            let s = try CommandStream(device: ctx.device)
            #expect(s.state == .recording)
            try layer.encode(s, plan: try layer.plan(m: m), x: BufferBinding(b.x), y: BufferBinding(b.y), scratch: try layer.makeScratch(m: m))
            try s.submitAndWait()
            #expect(s.state == .ready)
            let first = try layer.act.decode(b.y, count: m * layer.n)
            // The same answer as a one-shot forward pass.
            #expect(first == (try layer.forward(x, m: m).y))
            // Poison the output so that an unchanged buffer cannot pass for a re-run.
            try b.y.write(array: [UInt32](repeating: 0x7fc0_0000, count: m * layer.n))
            #expect(try layer.act.decode(b.y, count: 1)[0].isNaN)
            try s.submit()
            #expect(s.state == .pending)
            #expect(thrownText { try s.submit() } == "out of range: stream submitted while its previous run is still pending (wait first)")
            try s.wait()
            #expect(s.state == .ready)
            #expect(try layer.act.decode(b.y, count: m * layer.n) == first)
            // New inputs in the same buffers give the new answer on a third run.
            let x2 = x.map { -$0 }
            try b.x.write(array: layer.act.encode(x2))
            try s.submitAndWait()
            #expect(try layer.act.decode(b.y, count: m * layer.n) == (try layer.forward(x2, m: m).y))
        }
    }

    @Test("dispatch, barrier, fill, copy and timestamps after the stream finished throw")
    func recordAfterFinish() throws {
        let ctx = try Shared.ctx()
        let a = try q4Layer(ctx)
        let plan = try a.plan(m: 1)
        let b = try exactBuffers(a, m: 1)
        for submitted in [false, true] {
            let s = try CommandStream(device: ctx.device)
            try s.fill(b.x, size: 128, value: 0)
            try s.barrier()
            if submitted { try s.submitAndWait() } else { try s.finish() }
            #expect(s.state == .ready)
            #expect(thrownText { try a.encode(s, plan: plan, x: BufferBinding(b.x), y: BufferBinding(b.y), scratch: try a.makeScratch(m: 1)) }
                    == "out of range: \(plan.shader.rawValue): dispatch recorded after the stream was finished")
            #expect(thrownText { try s.barrier() } == "out of range: barrier recorded after the stream was finished")
            #expect(thrownText { try s.fill(b.x, size: 16, value: 1) } == "out of range: fill recorded after the stream was finished")
            #expect(thrownText { try s.copy(from: b.x, srcOffset: 0, to: b.y, dstOffset: 0, size: 16) } == "out of range: copy recorded after the stream was finished")
            #expect(thrownText { try s.timestamp(0) } == "out of range: timestamp slot 0 of 0")
            // Finishing again is a no-op and the stream still submits.
            try s.finish()
            try s.submitAndWait()
        }
    }
}

@Suite("Generated kernel registry")
struct RegistryContractTests {
    /// Defines that select each key field (scripts/build-shaders.py's axes).
    func definesMatch(_ key: VariantKey, _ defines: [String]) -> Bool {
        let d = Set(defines)
        if let w = key.weight, !d.contains("WEIGHT_\(w.rawValue.uppercased())") { return false }
        if key.weight == nil && d.contains(where: { $0.hasPrefix("WEIGHT_") }) { return false }
        if let a = key.act, d.contains("ACT_F16") != (a == .f16) { return false }
        if let mma = key.mma, d.contains("S8") != (mma == .s8) { return false }
        if d.contains("DOT") != key.features.contains(.dot) { return false }
        if d.contains("Q_F64") != key.features.contains(.fp64) { return false }
        return true
    }

    @Test("every key maps to a variant of its family, compiled with the key's defines")
    func keysMatchFamilies() {
        #expect(!VariantKey.table.isEmpty)
        for (key, shader) in VariantKey.table {
            #expect(shader.origin.family == key.family, "\(key) → \(shader)")
            #expect(shader.signature.family == key.family, "\(key) → \(shader)")
            #expect(definesMatch(key, shader.origin.defines), "\(key) → \(shader) \(shader.origin.defines)")
            #expect(ShaderID.lookup(key) == shader)
        }
    }

    @Test("every compiled variant is reachable from exactly one key")
    func everyShaderReachable() {
        var count: [ShaderID: Int] = [:]
        for s in VariantKey.table.values { count[s, default: 0] += 1 }
        for s in ShaderID.allCases { #expect(count[s] == 1, "\(s) is reached by \(count[s] ?? 0) keys") }
    }

    @Test("every specialization constant is one TileConfig provides, so no plan leaves one at its default")
    func specConstantsCovered() throws {
        let provided = Set(TileConfig(bm: 1, bn: 1, bk: 1, workgroupSize: 1).specValues.keys)
        for s in ShaderID.allCases {
            let sig = s.signature
            let names = Set(sig.specConstants.map(\.name))
            #expect(names.isSubset(of: provided), "\(s) declares \(names.subtracting(provided).sorted())")
            if let wg = sig.workgroupSizeConstant { #expect(names.contains(wg), "\(s): local size from \(wg)") }
            #expect(sig.bindings.map(\.index) == Array(0..<sig.bindings.count), "\(s) bindings")
        }
        // A missing value is an error naming the constant, not a silent default.
        let sig = ShaderID.tiled_float_q4_f32.signature
        #expect(thrownText { _ = try sig.specialization([:]) } == "unsupported: tiled_float: no value for specialization constant BM (id 0)")
        #expect(thrownText { _ = try sig.specialization(["BM": -1, "BN": 64, "BK": 16, "WG": 256]) }
                == "invalid shape: tiled_float: specialization constant BM = -1 is not a 32-bit unsigned value")
    }

    @Test("no kernel declares a SPIR-V capability the device is not created with (VulkanMemoryModelDeviceScope: only vulkanMemoryModel is enabled)")
    func noDeviceScopeCapability() {
        // OpCapability = opcode 17, one operand; VulkanMemoryModelDeviceScope = 5346. A shader
        // using gl_ScopeDevice declares it (session 17's gemv_dq atomic, session 19's first
        // gemv_frag_dqs) — invalid without the feature, and lavapipe never runs the coopmat ones.
        var memoryModel = 0   // shaders declaring VulkanMemoryModel (5345): the scan sees capabilities
        for s in ShaderID.allCases {
            let w = s.spirv
            var i = 5, found = false
            while i < w.count {
                let count = Int(w[i] >> 16), op = w[i] & 0xFFFF
                if count == 0 { break }
                if op == 17, i + 1 < w.count, w[i + 1] == 5346 { found = true }
                if op == 17, i + 1 < w.count, w[i + 1] == 5345 { memoryModel += 1 }
                i += count
            }
            #expect(!found, "\(s) declares VulkanMemoryModelDeviceScope")
        }
        #expect(memoryModel >= 8)
    }

    @Test("linear kernels bind only buffers encode provides and take its 32-byte push constants")
    func linearBindings() {
        let provided: Set<String> = ["XBuf", "WBuf", "SBuf", "BiasBuf", "YBuf", "SumBuf", "CorrBuf", "XQBuf", "XPBuf", "PBuf"]
        for s in ShaderID.allCases where s.origin.family.grid != .fixed {
            let blocks = Set(s.signature.bindings.map(\.block))
            // (gemv_frag_dqs also binds its workgroups' counters, which encode provides for it alone.)
            #expect(blocks.contains("SyncBuf") == s.origin.family.usesSyncCounters, "\(s): SyncBuf")
            let provided = s.origin.family.usesSyncCounters ? provided.union(["SyncBuf"]) : provided
            #expect(blocks.isSubset(of: provided), "\(s) binds \(blocks.subtracting(provided).sorted())")
            #expect(s.signature.pushConstantBytes == LinearPush(m: 0, n: 0, k: 0, g: 0, hasBias: false, ldx: 0, ldw: 0).words.count * 4)
        }
        #expect(thrownText { _ = try ShaderID.tiled_float_q4_f32.signature.binding("XQBuf") }
                == "unsupported: tiled_float has no binding XQBuf (has XBuf, WBuf, SBuf, BiasBuf, YBuf)")
    }

    @Test("a key that is not compiled looks up nil, and the dispatcher turns it into a rejection")
    func missingVariant() throws {
        let absent = VariantKey(family: .tiledFloat, weight: .q8, act: .f16)
        #expect(ShaderID.lookup(absent) == nil)
        #expect(ShaderID.lookup(VariantKey(family: .gemvInt, weight: .f16, act: .f32)) == nil)
        // A registry with holes: every lookup misses. Every kernel kind is rejected with the key.
        let caps = h100Caps()
        let p = Problem(op: .q4gsw, m: 4, n: 64, k: 128, groupSize: 32, act: .f16)
        for kind in KernelKind.allCases {
            let r = Dispatcher.plan(kind, p, caps: caps, options: DispatchOptions(), lookup: { _ in nil })
            guard case .failure(let why) = r else { Issue.record("\(kind) planned without a variant"); continue }
            #expect(why.reason.hasPrefix("no variant compiled for "), "\(kind): \(why.reason)")
        }
        let dq = Problem(op: .dq8ca_q8csw, m: 4, n: 64, k: 128, act: .f32)
        let r = Dispatcher.plan(.tiled, dq, caps: caps, options: DispatchOptions(), lookup: { $0.family == .quantAct ? nil : ShaderID.lookup($0) })
        #expect(r == .failure(DispatchRejection(reason: "no activation-quantization variant compiled for quant_act, act f32\(caps.shaderFloat64 ? ", fp64" : "")")))
        // Only the missing family is lost: the rest still plans.
        let onlyTiled = Dispatcher.plan(.tiled, p, caps: caps, options: DispatchOptions(), lookup: { $0.family == .gemvFloat ? nil : ShaderID.lookup($0) })
        #expect((try? onlyTiled.get())?.shader == .tiled_float_q4_f16)
    }
}

@Suite("Tuning tables")
struct TuningContractTests {
    @Test("the embedded tables all decode; the H100 table is picked by its match, others get the default")
    func builtIn() {
        #expect(TuningTable.builtIn.count == EmbeddedTuning.json.count, "an embedded table failed to decode")
        #expect(Set(TuningTable.builtIn.map(\.name)).isSuperset(of: ["nvidia-hopper", "default"]))
        #expect(TuningTable.builtIn.contains { $0.name == "default" && $0.match == nil })
        #expect(TuningTable.forDevice(h100Caps()).name == "nvidia-hopper")
        #expect(TuningTable.forDevice(amdCaps()).name == "default")
        var renamed = h100Caps()
        renamed.name = "synthetic A100"
        #expect(TuningTable.forDevice(renamed).name == "default")
        for t in TuningTable.builtIn { #expect(t.coopmat.last?.when == nil, "\(t.name) must end with an unconditional rule") }
    }

    @Test("malformed table JSON throws invalidFormat")
    func malformed() {
        for json in ["{", "{\"name\": \"x\"}", "{\"name\": \"x\", \"provenance\": \"p\", \"coopmat\": [{\"tile\": \"big\"}]}",
                     "{\"name\": \"x\", \"provenance\": \"p\", \"coopmat\": [{\"tile\": {\"bm\": 64, \"bn\": 64, \"wm\": 2, \"wn\": 2}, \"ops\": [\"int3\"]}]}"] {
            do {
                _ = try TuningTable.decode(Array(json.utf8))
                Issue.record("decoded \(json)")
            } catch QLinearError.invalidFormat(let s) {
                #expect(s.hasPrefix("tuning table: "), "\(s)")
            } catch {
                Issue.record("\(json): \(error)")
            }
        }
    }

    @Test("a custom table through DispatchOptions(tuning:) changes the tile, and the reasons name its rule")
    func customTable() throws {
        let caps = h100Caps()
        let p = Problem(op: .fp16, m: 4096, n: 4096, k: 256, act: .f16)
        let builtIn = try #require(Dispatcher.decide(p, caps: caps).chosen)
        #expect(builtIn.kernel == .coopmat && builtIn.tile.bm >= 64 && builtIn.tuning?.hasPrefix("nvidia-hopper rule ") == true)
        let json = """
            {"name": "mine", "provenance": "test",
             "coopmat": [
               {"ops": ["q4gsw"], "tile": {"bm": 128, "bn": 128, "wm": 2, "wn": 4}},
               {"ops": ["fp16"], "when": {"m": [1024, null], "k": [null, 512]}, "tile": {"bm": 64, "bn": 64, "wm": 2, "wn": 2}, "kStep": 64, "note": "test rule"},
               {"tile": {"bm": 128, "bn": 128, "wm": 2, "wn": 4}}
             ]}
            """
        let table = try TuningTable.decode(Array(json.utf8))
        let d = Dispatcher.decide(p, caps: caps, options: DispatchOptions(tuning: table))
        let plan = try #require(d.chosen)
        #expect(plan.kernel == .coopmat)
        #expect(plan.tile.bm == 64 && plan.tile.bn == 64 && plan.tile.bk == 64)
        #expect(plan.tuning == "mine rule 1")
        #expect(plan.reasons.contains("mine tuning rule 1: M ∈ [1024…], K ∈ […512] → 64x64 (2x2 subgroups), K step 64, double-buffered (test rule)"), "\(plan.reasons)")
        // Outside the rule's K range the next rule applies.
        var big = p
        big.k = 1024
        #expect(Dispatcher.decide(big, caps: caps, options: DispatchOptions(tuning: table)).chosen?.tuning == "mine rule 2")
        // A context's options carry the table the same way (`explain` prints its name).
        #expect(try QLinearContext(options: DispatchOptions(tuning: table), selfTest: false, instance: TestValidation.instance).tuningTable.name == "mine")
        // A rule whose tile cannot fit is skipped with the reason; no rule fitting rejects coopmat.
        let huge = TuningTable(name: "huge", match: nil, provenance: "test", coopmat: [TuningRule(tile: TileShape(bm: 512, bn: 512, wm: 4, wn: 4))])
        let r = Dispatcher.plan(.coopmat, p, caps: caps, options: DispatchOptions(tuning: huge))
        guard case .failure(let why) = r else { Issue.record("a 512x512 tile fit"); return }
        #expect(why.reason.hasPrefix("no tuning rule gives a tile that fits: tuning rule 0 (512x512 (4x4 subgroups)) skipped: "), "\(why.reason)")
        #expect(Dispatcher.decide(p, caps: caps, options: DispatchOptions(tuning: huge)).chosen?.kernel == .tiled)
    }

    @Test("qlinear explain --tuning: the CLI uses a custom table and rejects a malformed one (exit 1)")
    func cliTuning() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("qlinear-tuning-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let good = dir.appendingPathComponent("mine.json"), bad = dir.appendingPathComponent("bad.json")
        try Data(#"{"name": "mine", "provenance": "test", "coopmat": [{"tile": {"bm": 64, "bn": 64, "wm": 2, "wn": 2}}]}"#.utf8).write(to: good)
        try Data(#"{"name": "mine", "coopmat": []"#.utf8).write(to: bad)
        let cli = CLITests()
        let ok = try cli.run(["explain", "--op", "fp16", "--shape", "4x8x16", "--tuning", good.path])
        #expect(ok.status == 0, "\(ok.err)")
        #expect(ok.out.contains("(tuning table mine)"), "\(ok.out)")
        let r = try cli.run(["explain", "--op", "fp16", "--shape", "4x8x16", "--tuning", bad.path])
        #expect(r.status == 1)
        #expect(r.err.hasPrefix("qlinear: invalid format: tuning table: "), "\(r.err)")
    }
}

@Suite("Shared activation quantization", .serialized)
struct SharedQuantizationTests {
    /// Layers that read the same x (q/k/v) record one quantization pass: the second and third read
    /// the first one's int8 rows. Same results as each layer on its own, bit for bit; for M = 1
    /// (matrix–vector) and M = 5, K with and without padding, int8 and INT4 weights.
    @Test(arguments: [(1, 96), (5, 96), (1, 100), (5, 100)])
    func sameAsSeparate(m: Int, k: Int) throws {
        let ctx = try Shared.ctx()
        var rng = SplitMix64(seed: UInt64(7 * m + k))
        func q8(_ n: Int) throws -> LinearLayer {
            let w = (0..<(n * k)).map { _ in rng.symmetric() }
            return try LinearLayer(context: ctx, weights: .q8csw(try Q8CSWWeights.quantize(w, n: n, k: k)))
        }
        var layers = [try q8(24), try q8(40), try q8(8)]
        if k % 32 == 0 { layers += [try q4Layer(ctx, n: 16, k: k, act: layers[0].act, dynamic: true, seed: 3)] }   // dq8ca_q4gsw: same padded K
        let x = (0..<(m * k)).map { _ in rng.symmetric() }
        let xb = try Buffer(device: ctx.device, size: try layers[0].inputBytes(m: m))
        try xb.write(array: layers[0].act.encode(x))
        let ys = try layers.map { try Buffer(device: ctx.device, size: try $0.outputBytes(m: m)) }
        let scratch = try layers.map { try $0.makeScratch(m: m) }
        let s = try CommandStream(device: ctx.device)
        for (i, l) in layers.enumerated() {
            try l.encode(s, plan: try l.plan(m: m), x: BufferBinding(xb), y: BufferBinding(ys[i]), scratch: scratch[i],
                         quantizedBy: i == 0 ? nil : scratch[0])
        }
        try s.submitAndWait()
        for (i, l) in layers.enumerated() {
            #expect(try l.act.decode(ys[i], count: m * l.n) == (try l.forward(x, m: m).y), "layer \(i)")
        }
    }

    /// A fused first layer (gemv_dq: no pass, workgroup 0 writes the int8 rows into its scratch)
    /// shares its rows with layers that record no pass of their own — the column kernel reading
    /// them (after a barrier) and another fused layer (which quantizes x itself): every result is
    /// its own forward pass's, bit for bit.
    @Test(arguments: [1, 3])
    func fusedFirstLayer(m: Int) throws {
        let base = try Shared.ctx()
        var options = base.options
        options.gemvConfig = GemvConfig(columns: 2, threads: 2 * base.capabilities.subgroupSize, unroll: 2, sg: true)
        let fused = QLinearContext(unchecked: base.device, pipelines: base.pipelines, options: options)
        var rng = SplitMix64(seed: UInt64(90 + m))
        let k = 160
        func q8(_ ctx: QLinearContext, _ n: Int) throws -> LinearLayer {
            let w = (0..<(n * k)).map { _ in rng.symmetric() }
            return try LinearLayer(context: ctx, weights: .q8csw(try Q8CSWWeights.quantize(w, n: n, k: k)))
        }
        let layers = [try q8(fused, 24), try q8(base, 40), try q8(fused, 8)]
        let plans = try layers.map { try $0.plan(m: m) }
        #expect(plans[0].quantFused && plans[2].quantFused && !plans[1].quantFused && plans[1].quantShader != nil)
        let x = (0..<(m * k)).map { _ in rng.symmetric() }
        let xb = try Buffer(device: base.device, size: try layers[0].inputBytes(m: m))
        try xb.write(array: layers[0].act.encode(x))
        let ys = try layers.map { try Buffer(device: base.device, size: try $0.outputBytes(m: m)) }
        let scratch = try layers.map { try $0.makeScratch(m: m) }
        let s = try CommandStream(device: base.device)
        for (i, l) in layers.enumerated() {
            try l.encode(s, plan: plans[i], x: BufferBinding(xb), y: BufferBinding(ys[i]), scratch: scratch[i], quantizedBy: i == 0 ? nil : scratch[0])
        }
        try s.submitAndWait()
        #expect(scratch[0].quantizedInKernel.withLock { $0 } && scratch[2].quantizedInKernel.withLock { $0 })
        for (i, l) in layers.enumerated() {
            #expect(try l.act.decode(ys[i], count: m * l.n) == (try l.forward(x, m: m).y), "layer \(i)")
        }
        // A plan whose quantFused does not match its shader is refused before anything is recorded.
        var wrong = plans[1]
        wrong.quantFused = true
        #expect(throws: QLinearError.self) {
            try layers[1].encode(s, plan: wrong, x: BufferBinding(xb), y: BufferBinding(ys[1]), scratch: scratch[1])
        }
    }

    /// Hand-made gemv_dq plans (KernelPlan is public and Codable) that the shader could not run
    /// safely are refused with an error, never a trap or an out-of-bounds access: tile fields that
    /// overflow the shared-memory arithmetic, a subgroup size the device cannot require (the
    /// shader's reductions are sized by WG / SGS), a workgroup over the device's limit, and the
    /// variant of another weight format or activation dtype.
    @Test func handMadeFusedPlansAreRefused() throws {
        let base = try Shared.ctx()
        var options = base.options
        options.gemvConfig = GemvConfig(columns: 1, threads: 2 * base.capabilities.subgroupSize, unroll: 1, sg: true)
        let fused = QLinearContext(unchecked: base.device, pipelines: base.pipelines, options: options)
        let layer = try q4Layer(fused, n: 16, k: 128, act: .f16, dynamic: true, seed: 5)
        let m = 1
        let good = try layer.plan(m: m)
        #expect(good.quantFused)
        let xb = try Buffer(device: base.device, size: try layer.inputBytes(m: m))
        let yb = try Buffer(device: base.device, size: try layer.outputBytes(m: m))
        let scratch = try layer.makeScratch(m: m)
        func refused(_ edit: (inout KernelPlan) -> Void, _ what: String) throws {
            var p = good
            edit(&p)
            let s = try CommandStream(device: base.device)
            #expect(throws: QLinearError.self, "\(what)") { try layer.encode(s, plan: p, x: BufferBinding(xb), y: BufferBinding(yb), scratch: scratch) }
        }
        try refused({ $0.tile.subgroupColumns = 1 << 62 }, "columns overflow")
        try refused({ $0.tile.workgroupSize = 1 << 40 }, "workgroup overflow")
        try refused({ $0.tile.bm = Int.max }, "rows overflow")
        try refused({ $0.tile.subgroupSize = 0 }, "subgroup size 0")
        try refused({ $0.tile.subgroupSize = 4 * base.capabilities.maxSubgroupSize }, "subgroup size the device cannot require")
        try refused({ $0.shader = .gemv_dq_f64_q8_f16 }, "q8 variant on a q4 layer")
        try refused({ $0.shader = .gemv_dq_q4_f32 }, "f32 variant on an f16 layer")
        try refused({ $0.tile.group = 0 }, "group 0")
        // The unedited plan records and runs.
        let s = try CommandStream(device: base.device)
        try layer.encode(s, plan: good, x: BufferBinding(xb), y: BufferBinding(yb), scratch: scratch)
        try s.submitAndWait()
    }

    /// The shared pass really is read: a layer pointed at a scratch that quantized another x
    /// computes with that x (and differs from its own forward pass); mismatches are refused.
    @Test func readsTheSharedRowsAndChecksThem() throws {
        let ctx = try Shared.ctx()
        var rng = SplitMix64(seed: 41)
        let k = 64, m = 2
        let w = (0..<(16 * k)).map { _ in rng.symmetric() }
        let a = try LinearLayer(context: ctx, weights: .q8csw(try Q8CSWWeights.quantize(w, n: 16, k: k)))
        let b = try LinearLayer(context: ctx, weights: .q8csw(try Q8CSWWeights.quantize(w.reversed(), n: 16, k: k)))
        let x1 = (0..<(m * k)).map { _ in rng.symmetric() }, x2 = (0..<(m * k)).map { _ in rng.symmetric() }
        let (b1, b2) = (try Buffer(device: ctx.device, size: try a.inputBytes(m: m)), try Buffer(device: ctx.device, size: try a.inputBytes(m: m)))
        try b1.write(array: a.act.encode(x1)); try b2.write(array: a.act.encode(x2))
        let ya = try Buffer(device: ctx.device, size: try a.outputBytes(m: m)), yb = try Buffer(device: ctx.device, size: try b.outputBytes(m: m))
        let sa = try a.makeScratch(m: m), sb = try b.makeScratch(m: m)
        let s = try CommandStream(device: ctx.device)
        try a.encode(s, plan: try a.plan(m: m), x: BufferBinding(b1), y: BufferBinding(ya), scratch: sa)
        try b.encode(s, plan: try b.plan(m: m), x: BufferBinding(b2), y: BufferBinding(yb), scratch: sb, quantizedBy: sa)
        try s.submitAndWait()
        let got = try b.act.decode(yb, count: m * 16)
        #expect(got == (try b.forward(x1, m: m).y))
        #expect(got != (try b.forward(x2, m: m).y))
        // Refused: a float layer, another K, too few rows.
        let s2 = try CommandStream(device: ctx.device)
        let f = try fp16Layer(ctx, n: 8, k: k)
        let yf = try Buffer(device: ctx.device, size: try f.outputBytes(m: m))
        #expect(throws: QLinearError.self) {
            try f.encode(s2, plan: try f.plan(m: m), x: BufferBinding(b1), y: BufferBinding(yf), scratch: try f.makeScratch(m: m), quantizedBy: sa)
        }
        let other = try LinearLayer(context: ctx, weights: .q8csw(try Q8CSWWeights.quantize((0..<(16 * 96)).map { _ in rng.symmetric() }, n: 16, k: 96)))
        let xo = try Buffer(device: ctx.device, size: try other.inputBytes(m: m)), yo = try Buffer(device: ctx.device, size: try other.outputBytes(m: m))
        #expect(throws: QLinearError.self) {
            try other.encode(s2, plan: try other.plan(m: m), x: BufferBinding(xo), y: BufferBinding(yo), scratch: try other.makeScratch(m: m), quantizedBy: sa)
        }
        let small = try a.makeScratch(m: 1)
        #expect(throws: QLinearError.self) {
            try b.encode(s2, plan: try b.plan(m: m), x: BufferBinding(b2), y: BufferBinding(yb), scratch: sb, quantizedBy: small)
        }
    }
}
