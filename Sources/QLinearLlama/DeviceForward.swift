#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import QLinear
import VulkanRuntime

/// Where the runner computes the steps between the linear layers (RMSNorm, RoPE, attention with
/// its KV cache, SwiGLU, residual adds).
public enum LlamaOps: String, Sendable, CaseIterable {
    /// On the device (Shaders/llama.comp): a token's whole forward pass — every linear layer and
    /// everything between them, all layers and the LM head — is one recorded command buffer,
    /// resubmitted per call with only the input rows and the position rewritten. Needs fp32
    /// activations.
    case device
    /// On the CPU in Swift, with one GPU submission per linear group (q/k/v, o, gate/up, down,
    /// head): the reference the device path is tested against, and the path for fp16
    /// activations and guard mode.
    case host
}

/// The device forward pass of a llama model: device buffers for the residual stream and every
/// intermediate, a KV cache per layer of `capacity` positions, the runner's kernels, and one
/// recorded command stream per (M, all logits or last row) — kept for M = 1 (decode) and for the
/// last other M, like `LinearGroup`.
final class DeviceForward {
    let ctx: QLinearContext
    let cfg: LlamaConfig
    let layers: [LlamaModel.Layer]
    let head: LinearLayer
    /// KV-cache positions per layer.
    let capacity: Int
    private let pipes: [RunnerShader: ComputePipeline]
    private let kc: [Buffer], vc: [Buffer]
    private let attnNorm: [Buffer], ffnNorm: [Buffer], outNorm: Buffer
    private let cosSin: Buffer
    private let params: Buffer
    private static let wg = 128

    private struct Slot {
        let m: Int, allLogits: Bool
        let input: Buffer, logits: Buffer
        let stream: CommandStream
        // Kept alive with the stream (it retains them too); listed for clarity.
        let buffers: [Buffer]
        let scratch: [LinearLayer.Scratch]
    }
    private var one: Slot?, other: Slot?

    init(context: QLinearContext, config: LlamaConfig, layers: [LlamaModel.Layer], head: LinearLayer, outputNorm: [Float],
         invFreq: [Float], capacity: Int) throws {
        ctx = context; cfg = config; self.layers = layers; self.head = head
        let dev = context.device
        guard capacity >= 1 else { throw QLinearError.invalidShape("KV-cache capacity \(capacity): at least 1 position") }
        guard cfg.headDim <= 256 else { throw QLinearError.unsupported("device ops: head size \(cfg.headDim) > 256 (use --ops host)") }
        guard cfg.heads % cfg.kvHeads == 0 else { throw QLinearError.invalidShape("\(cfg.heads) query heads are not a multiple of \(cfg.kvHeads) KV heads") }
        for l in layers {
            for lin in [l.q, l.k, l.v, l.o, l.gate, l.up, l.down] where lin.act != .f32 {
                throw QLinearError.unsupported("device ops need fp32 activations (this model's linears take \(lin.act.rawValue)): use --ops host")
            }
        }
        self.capacity = capacity
        var p = [RunnerShader: ComputePipeline]()
        for s in RunnerShader.allCases {
            let c = s.contract
            p[s] = try ComputePipeline(device: dev, name: s.rawValue, spirv: s.spirv, bindings: c.bindings, pushConstantBytes: c.pushConstantBytes,
                                       specialization: c.specConstants.map { (id: $0.id, value: UInt32($0.name == "WG" ? Self.wg : $0.defaultValue)) })
        }
        pipes = p
        let cacheBytes = try Self.kvCacheBytes(capacity: capacity, kvDim: cfg.kvHeads * cfg.headDim, layers: layers.count,
                                               deviceLocalBytes: dev.capabilities.deviceLocalMemoryBytes,
                                               maxBufferBytes: dev.capabilities.maxStorageBufferRange)
        kc = try layers.map { _ in try Buffer(device: dev, size: cacheBytes) }
        vc = try layers.map { _ in try Buffer(device: dev, size: cacheBytes) }
        func upload(_ v: [Float]) throws -> Buffer {
            let b = try Buffer(device: dev, size: max(16, v.count * 4))
            try b.write(array: v)
            return b
        }
        attnNorm = try layers.map { try upload($0.attnNorm) }
        ffnNorm = try layers.map { try upload($0.ffnNorm) }
        outNorm = try upload(outputNorm)
        // cos/sin of pos·invFreq[i] with the host path's own expressions (bit-identical tables).
        let nf = invFreq.count
        var cs = [Float](repeating: 0, count: try Checked.mul(try Checked.mul(capacity, nf, "RoPE table"), 2, "RoPE table"))
        for pos in 0..<capacity {
            for i in 0..<nf { let a = Float(pos) * invFreq[i]; cs[(pos * nf + i) * 2] = cosf(a); cs[(pos * nf + i) * 2 + 1] = sinf(a) }
        }
        cosSin = try upload(cs)
        params = try Buffer(device: dev, size: 16, placement: .host)
    }

    /// Bytes of one layer's K (or V) cache. The whole cache (K and V, every layer) must fit in half
    /// the device's local memory: a clear error instead of an allocation failure (or, on a CPU
    /// device, paging) later.
    static func kvCacheBytes(capacity: Int, kvDim: Int, layers: Int, deviceLocalBytes: UInt64, maxBufferBytes: UInt64 = 1 << 32) throws -> Int {
        let bytes = try Checked.mul(try Checked.mul(capacity, kvDim, "KV-cache values"), 4, "KV-cache bytes")
        let total = try Checked.mul(try Checked.mul(bytes, 2, "KV-cache bytes"), max(1, layers), "KV-cache bytes")
        guard UInt64(bytes) <= maxBufferBytes else {
            throw QLinearError.unsupported("a KV cache of \(capacity) positions needs \(bytes >> 20) MiB per layer, more than the device's largest storage buffer (\(maxBufferBytes >> 20) MiB): use a smaller --ctx-size")
        }
        guard UInt64(total) <= deviceLocalBytes / 2 else {
            throw QLinearError.unsupported("a KV cache of \(capacity) positions needs \(total >> 20) MiB, more than half the device's \(deviceLocalBytes >> 20) MiB: use a smaller --ctx-size")
        }
        return bytes
    }

    private func plan(_ l: LinearLayer, m: Int) throws -> KernelPlan {
        try l.plan(m: m)   // (the layer's own plan: it knows its weights, e.g. whether gemm_frag may run)
    }

    private func dispatch(_ s: CommandStream, _ shader: RunnerShader, _ buffers: [Buffer], push: [UInt32], groups: (Int, Int, Int)) throws {
        try s.dispatch(pipes[shader]!, buffers: buffers.map { BufferBinding($0) }, push: push, groups: groups)
    }

    private func slot(m: Int, allLogits: Bool) throws -> Slot {
        if m == 1, let one, one.allLogits == allLogits { return one }
        if let other, other.m == m, other.allLogits == allLogits { return other }
        let dev = ctx.device
        let d = cfg.hidden, hd = cfg.headDim, kvDim = cfg.kvHeads * hd, ffn = cfg.ffn
        let rowsOut = allLogits ? m : 1
        func buffer(_ values: Int, _ what: String, host: Bool = false) throws -> Buffer {
            let bytes = try Checked.roundUp(try Checked.mul(values, 4, what), 16, what)
            return try Buffer(device: dev, size: bytes + 16, placement: host ? .host : .deviceLocal)
        }
        let input = try buffer(try Checked.mul(m, d, "input rows"), "input rows", host: true)
        let x = try buffer(m * d, "residual stream"), h = try buffer(m * d, "normed rows")
        let q = try buffer(m * d, "queries"), k = try buffer(m * kvDim, "keys"), v = try buffer(m * kvDim, "values")
        let att = try buffer(m * d, "attention output"), o = try buffer(m * d, "output projection")
        let g = try buffer(try Checked.mul(m, ffn, "FFN rows"), "gate"), u = try buffer(m * ffn, "up"), a = try buffer(m * ffn, "SwiGLU")
        let dn = try buffer(m * d, "down projection")
        let logits = try buffer(try Checked.mul(rowsOut, cfg.vocab, "logits"), "logits", host: true)

        var scratch = [LinearLayer.Scratch]()
        var dispatches = 4
        var linears = [(LinearLayer, KernelPlan, Buffer, Buffer)]()
        func linear(_ l: LinearLayer, _ xb: Buffer, _ yb: Buffer, rows: Int) throws -> (LinearLayer, KernelPlan, Buffer, Buffer) {
            let p = try plan(l, m: rows)
            dispatches += p.dispatches
            return (l, p, xb, yb)
        }
        for L in layers {
            linears += [try linear(L.q, h, q, rows: m), try linear(L.k, h, k, rows: m), try linear(L.v, h, v, rows: m),
                        try linear(L.o, att, o, rows: m), try linear(L.gate, h, g, rows: m), try linear(L.up, h, u, rows: m),
                        try linear(L.down, a, dn, rows: m)]
            dispatches += 5
        }
        linears.append(try linear(head, h, logits, rows: rowsOut))
        let stream = try CommandStream(device: dev, maxDispatches: dispatches, maxBindingsPerDispatch: 8)
        var li = 0
        // dq8ca: layers that read the same rows (q/k/v, gate/up) share the first one's
        // quantization pass (`encode(…, quantizedBy:)`).
        func encodeNext(sharing first: LinearLayer.Scratch? = nil) throws -> LinearLayer.Scratch {
            let (l, p, xb, yb) = linears[li]
            let rows = p.problem.m
            let sc = try l.makeScratch(m: rows)
            scratch.append(sc)
            try l.encode(stream, plan: p, x: BufferBinding(xb), y: BufferBinding(yb), scratch: sc,
                         quantizedBy: l.op.quantizesActivations ? first : nil)
            li += 1
            return sc
        }
        func encodeGroup(_ count: Int) throws {
            let first = try encodeNext()
            for _ in 1..<count { _ = try encodeNext(sharing: first) }
        }
        let eps = cfg.eps.bitPattern
        let scale = (1 / Float(hd).squareRoot()).bitPattern
        let nf = UInt32(cfg.ropeDim / 2)
        let swigluCount = m * ffn
        let swX = min(max(1, (swigluCount + Self.wg - 1) / Self.wg), 65535)
        let swY = ((swigluCount + Self.wg - 1) / Self.wg + swX - 1) / swX

        try stream.copy(from: input, srcOffset: 0, to: x, dstOffset: 0, size: m * d * 4)
        try stream.barrier()
        for (i, _) in layers.enumerated() {
            if i == 0 {
                try dispatch(stream, .llamaRmsnorm, [x, attnNorm[i], h], push: [UInt32(d), 0, eps], groups: (m, 1, 1))
            } else {
                try dispatch(stream, .llamaRmsnormAdd, [x, attnNorm[i], h, dn], push: [UInt32(d), 0, eps], groups: (m, 1, 1))
            }
            try stream.barrier()
            try encodeGroup(3)   // q, k, v
            try stream.barrier()
            try dispatch(stream, .llamaRopeKv, [q, k, v, kc[i], vc[i], cosSin, params],
                         push: [UInt32(cfg.heads), UInt32(cfg.kvHeads), UInt32(hd), nf, UInt32(capacity)], groups: (m, 1, 1))
            try stream.barrier()
            try dispatch(stream, .llamaAttention, [q, kc[i], vc[i], att, params],
                         push: [UInt32(cfg.heads), UInt32(cfg.kvHeads), UInt32(hd), scale], groups: (cfg.heads, m, 1))
            try stream.barrier()
            try encodeGroup(1)   // o
            try stream.barrier()
            try dispatch(stream, .llamaRmsnormAdd, [x, ffnNorm[i], h, o], push: [UInt32(d), 0, eps], groups: (m, 1, 1))
            try stream.barrier()
            try encodeGroup(2)   // gate, up
            try stream.barrier()
            try dispatch(stream, .llamaSwiglu, [g, u, a], push: [UInt32(swigluCount)], groups: (swX, swY, 1))
            try stream.barrier()
            try encodeGroup(1)   // down
            try stream.barrier()
        }
        // The last residual add and the output norm: every row, or only the last one.
        try dispatch(stream, .llamaRmsnormAdd, [x, outNorm, h, dn], push: [UInt32(d), UInt32(m - rowsOut), eps], groups: (rowsOut, 1, 1))
        try stream.barrier()
        try encodeGroup(1)   // head
        try stream.finish()
        let s = Slot(m: m, allLogits: allLogits, input: input, logits: logits, stream: stream,
                     buffers: [x, h, q, k, v, att, o, g, u, a, dn], scratch: scratch)
        if m == 1 { one = s } else { other = s }
        return s
    }

    /// Logits [rows, vocab] for `m` rows whose embeddings are `x` ([m, hidden]), at positions
    /// pos0…pos0+m−1 (the KV cache holds 0…pos0−1).
    func forward(_ x: [Float], m: Int, pos0: Int, allLogits: Bool) throws -> [Float] {
        guard pos0 >= 0, m >= 1, pos0 <= capacity - m else {
            throw QLinearError.invalidShape("the KV cache holds \(capacity) positions: \(pos0) used + \(m) new do not fit (load the model with a larger context: --ctx-size, `maxContext`)")
        }
        guard x.count == m * cfg.hidden else { throw QLinearError.invalidShape("\(x.count) input values, \(m) × \(cfg.hidden) expected") }
        let s = try slot(m: m, allLogits: allLogits)
        try s.input.write(array: x)
        try params.write(array: [UInt32(pos0), 0, 0, 0])
        try s.stream.submitAndWait()
        return try s.logits.read(as: Float.self, count: (allLogits ? m : 1) * cfg.vocab)
    }
}
