#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import QLinear
import QLinearIO
@testable import QLinearLlama
import QLinearCheck

/// The device forward (norms, RoPE + KV cache, attention, SwiGLU on the GPU, one command buffer
/// per call) against the host path (the same steps in Swift on the CPU, one submission per linear
/// group), on the tiny llama of `TinyLlama` (2 layers, 4 query / 2 KV heads of 16, RoPE on all 16
/// dimensions, tied Q8_0 head).
@Suite(.serialized) struct DeviceOpsTests {
    /// Largest |a − b| over the logits, relative to 1 + max|a|.
    static func gap(_ a: [Float], _ b: [Float]) -> Float {
        precondition(a.count == b.count)
        let scale = 1 + (a.map { abs($0) }.max() ?? 0)
        var g: Float = 0
        for i in a.indices {
            if !(a[i].isFinite && b[i].isFinite) { return .infinity }
            g = max(g, abs(a[i] - b[i]) / scale)
        }
        return g
    }

    /// Tolerance. The two paths compute the same fp32 formulas in another order: RMSNorm's sum of
    /// squares as a tree instead of left to right, attention with a running max and sum per chunk
    /// of keys instead of two passes, and the GPU may fuse a·b + c. Each is a few ulps (~1e-7
    /// relative); through 2 layers and the head the logits moved by ≤ 2.3e-7 of their scale on
    /// lavapipe (every scheme). With int8 activations (dq8ca) such a difference can move an activation across a
    /// rounding boundary: one int8 step (≈ 1/127 of the row's range) on one activation changes a
    /// logit by well under 1% of the logits' scale, hence the looser bound there.
    static func tolerance(_ s: LlamaScheme) -> Float { s.weightScheme == .q8csw || s == .dq8ca_q4gsw ? 1e-2 : 1e-4 }

    @Test(arguments: LlamaScheme.allCases)
    func deviceMatchesHost(scheme: LlamaScheme) throws {
        let ctx = try TinyLlama.context.get()
        let g = try GGUFFile(path: TinyLlama.ggufPath)
        let host = try LlamaModel(gguf: g, context: ctx, scheme: scheme, groupSize: 32, ops: .host)
        let dev = try LlamaModel(gguf: g, context: ctx, scheme: scheme, groupSize: 32)
        #expect(host.ops == .host && dev.ops == .device && dev.contextCapacity == 128)
        let tol = Self.tolerance(scheme)
        var worst: Float = 0
        func same(_ a: [Float], _ b: [Float], _ what: String) {
            let e = Self.gap(a, b)
            worst = max(worst, e)
            #expect(e <= tol, "\(scheme.rawValue) \(what): gap \(e) > \(tol)")
        }
        // A prompt with every row's logits (M = 6), decode steps (M = 1), then another chunk (M = 3)
        // and M = 6 again: each shape's recorded stream, and the slot kept for M = 1 across them.
        same(try host.forward([7, 95, 96, 40, 3, 97], allLogits: true), try dev.forward([7, 95, 96, 40, 3, 97], allLogits: true), "prompt")
        for t in [12, 50, 96] { same(try host.forward([t]), try dev.forward([t]), "decode \(t)") }
        same(try host.forward([1, 2, 3]), try dev.forward([1, 2, 3]), "chunk of 3, last row")
        same(try host.forward([4, 5, 6, 7, 8, 9], allLogits: true), try dev.forward([4, 5, 6, 7, 8, 9], allLogits: true), "second chunk of 6")
        #expect(host.position == 18 && dev.position == 18)
        // reset empties the cache: the first call's logits again.
        host.reset(); dev.reset()
        same(try host.forward([7, 95]), try dev.forward([7, 95]), "after reset")
        print("device vs host, \(scheme.rawValue): largest gap \(worst) (tolerance \(tol))")
    }

    /// Other sizes than the tiny model's: head size 160 (> the 128-thread workgroup: each thread
    /// owns two output dimensions), RoPE on 96 of the 160 dimensions (the rest copied), hidden
    /// 320 (RMSNorm's loop takes several passes), 2 query heads sharing 1 KV head.
    @Test func wideHeadsPartialRoPE() throws {
        let path = TinyLlama.tmp("wide.gguf")
        defer { unlink(path) }
        _ = FileManager.default.createFile(atPath: path, contents: Data(TinyLlama.gguf(hidden: 320, ffn: 96, layers: 1, heads: 2, kvHeads: 1, ropeDim: 96)))
        let ctx = try TinyLlama.context.get()
        let g = try GGUFFile(path: path)
        let host = try LlamaModel(gguf: g, context: ctx, scheme: .fp16, ops: .host)
        let dev = try LlamaModel(gguf: g, context: ctx, scheme: .fp16)
        #expect(dev.config.headDim == 160 && dev.config.ropeDim == 96 && dev.config.hidden == 320)
        let tol = Self.tolerance(.fp16)
        var worst: Float = 0
        let a = try host.forward([3, 14, 15, 92, 65], allLogits: true), b = try dev.forward([3, 14, 15, 92, 65], allLogits: true)
        worst = max(worst, Self.gap(a, b))
        for t in [35, 89] { worst = max(worst, Self.gap(try host.forward([t]), try dev.forward([t]))) }
        #expect(worst <= tol, "gap \(worst)")
        print("wide heads, partial RoPE: largest gap \(worst)")
        // The split matters: the same weights with RoPE on all 160 dimensions give other logits,
        // so a kernel that rotated the last 64 dimensions (or dropped them) would be caught.
        let full = TinyLlama.tmp("wide-full.gguf")
        defer { unlink(full) }
        _ = FileManager.default.createFile(atPath: full, contents: Data(TinyLlama.gguf(hidden: 320, ffn: 96, layers: 1, heads: 2, kvHeads: 1, ropeDim: 160)))
        let devFull = try LlamaModel(gguf: try GGUFFile(path: full), context: ctx, scheme: .fp16)
        #expect(Self.gap(b, try devFull.forward([3, 14, 15, 92, 65], allLogits: true)) > 100 * tol)
    }

    /// More keys than the attention kernel's chunk (128 per workgroup pass): 140 prompt rows, so
    /// rows past position 127 combine two chunks with the running max and sum, then decode steps.
    @Test func longerThanOneChunk() throws {
        let ctx = try TinyLlama.context.get()
        let g = try GGUFFile(path: TinyLlama.ggufPath)
        let host = try LlamaModel(gguf: g, context: ctx, scheme: .fp16, ops: .host)
        let dev = try LlamaModel(gguf: g, context: ctx, scheme: .fp16, maxContext: 300)
        var rng = SplitMix64(seed: 5)
        let prompt = (0..<140).map { _ in Int(rng.next() % 98) }
        let tol = Self.tolerance(.fp16)
        #expect(Self.gap(try host.forward(prompt, allLogits: true), try dev.forward(prompt, allLogits: true)) <= tol)
        for t in [3, 60, 97, 11] { #expect(Self.gap(try host.forward([t]), try dev.forward([t])) <= tol) }
        #expect(dev.position == 144)
    }

    /// The comparison can fail: a one-position shift of the cache (the logits of another
    /// position) and a single logit moved by twice the tolerance are both caught.
    @Test func comparatorCanFail() throws {
        let ctx = try TinyLlama.context.get()
        let g = try GGUFFile(path: TinyLlama.ggufPath)
        let dev = try LlamaModel(gguf: g, context: ctx, scheme: .fp16)
        let a = try dev.forward([7, 95])
        let b = try dev.forward([95])   // position 2 instead of 1
        #expect(Self.gap(a, b) > Self.tolerance(.fp16))
        var c = a
        c[17] += 2 * Self.tolerance(.fp16) * (1 + a.map { abs($0) }.max()!)
        #expect(Self.gap(a, c) > Self.tolerance(.fp16))
        c[17] = .nan
        #expect(Self.gap(a, c) == .infinity)
    }

    /// A full KV cache is a clear error (nothing submitted), and the model stays usable.
    @Test func capacityIsChecked() throws {
        let ctx = try TinyLlama.context.get()
        let g = try GGUFFile(path: TinyLlama.ggufPath)
        let dev = try LlamaModel(gguf: g, context: ctx, scheme: .fp16, maxContext: 8)
        #expect(dev.contextCapacity == 8)
        let first = try dev.forward([1, 2, 3, 4, 5, 6])
        #expect(throws: QLinearError.self) { try dev.forward([7, 8, 9]) }
        #expect(dev.position == 6)
        _ = try dev.forward([7, 8])
        #expect(throws: QLinearError.self) { try dev.forward([9]) }
        dev.reset()
        #expect(try dev.forward([1, 2, 3, 4, 5, 6]) == first)
        #expect(throws: QLinearError.self) { try LlamaModel(gguf: g, context: ctx, scheme: .fp16, maxContext: 0) }
        // Host ops honour a given capacity too (and have none without one).
        let host = try LlamaModel(gguf: g, context: ctx, scheme: .fp16, ops: .host, maxContext: 8)
        #expect(host.contextCapacity == 8)
        _ = try host.forward([1, 2, 3, 4, 5, 6])
        #expect(throws: QLinearError.self) { try host.forward([7, 8, 9]) }
        #expect(host.position == 6)
        #expect(try LlamaModel(gguf: g, context: ctx, scheme: .fp16, ops: .host).contextCapacity == nil)
        // A cache larger than half the device's memory is refused before anything is allocated:
        // SmolLM2 (30 layers, 3 KV heads of 64) at 2^20 positions needs 46 GiB; an 80 GiB card
        // allows 40. 4096 positions need 180 MiB.
        let err = thrownText { _ = try DeviceForward.kvCacheBytes(capacity: 1 << 20, kvDim: 192, layers: 30, deviceLocalBytes: 80 << 30) }
        #expect(err?.contains("needs 46080 MiB, more than half the device's 81920 MiB: use a smaller --ctx-size") == true, "\(err ?? "no error")")
        #expect(try DeviceForward.kvCacheBytes(capacity: 4096, kvDim: 192, layers: 30, deviceLocalBytes: 80 << 30) == 4096 * 192 * 4)
        #expect(throws: QLinearError.self) { try DeviceForward.kvCacheBytes(capacity: Int.max / 2, kvDim: 192, layers: 30, deviceLocalBytes: .max) }
    }

    /// Device ops need fp32 activations and are not what guard mode checks: fp16 activations and
    /// guard buffers default to host ops, and asking for device ops with them is an error.
    @Test func opsChoice() throws {
        let ctx = try TinyLlama.context.get()
        let g = try GGUFFile(path: TinyLlama.ggufPath)
        #expect(try LlamaModel(gguf: g, context: ctx, scheme: .fp16, act: .f16).ops == .host)
        #expect(try LlamaModel(gguf: g, context: ctx, scheme: .fp16, guardBuffers: true).ops == .host)
        #expect(throws: QLinearError.self) { try LlamaModel(gguf: g, context: ctx, scheme: .fp16, act: .f16, ops: .device) }
        #expect(throws: QLinearError.self) { try LlamaModel(gguf: g, context: ctx, scheme: .fp16, guardBuffers: true, ops: .device) }
    }
}
