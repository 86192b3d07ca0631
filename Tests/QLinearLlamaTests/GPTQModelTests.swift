#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import QLinear
import QLinearIO
import QLinearLlama
import QLinearCheck

/// GPTQ through the runner and the quantizer on the tiny llama: calibration observes every linear
/// input (host ops), `ModelQuantizer` applies the factors, the file records it and runs.
@Suite(.serialized) struct GPTQModelTests {
    static func tokens(_ n: Int, seed: UInt64) -> [Int] {
        var rng = SplitMix64(seed: seed)
        return (0..<n).map { _ in Int(rng.next() % 97) }
    }

    /// Σ over positions of |logits − reference|², every row of a prompt.
    static func logitError(_ m: LlamaModel, _ ref: [Float], _ prompt: [Int]) throws -> Double {
        m.reset()
        let y = try m.forward(prompt, allLogits: true)
        return zip(y, ref).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }
    }

    @Test func calibrateQuantizeAndRun() throws {
        let ctx = try TinyLlama.context.get()
        let g = try GGUFFile(path: TinyLlama.ggufPath)
        let tok = try BPETokenizer(gguf: g)
        let host = try LlamaModel(gguf: g, context: ctx, scheme: .fp16, ops: .host)
        let l = LlamaTools.Loaded(file: g, modelFile: nil, tokenizer: tok, model: host, loadSeconds: 0)
        let calib = Self.tokens(200, seed: 1)
        let c = try LlamaTools.calibrate(l, tokens: calib, ctx: 64)
        // 200 tokens in chunks of 64: 64, 64, 64 and a last chunk of 8 (< 16, skipped).
        #expect(c.chunks == 3 && c.tokens == 192)
        for i in 0..<TinyLlama.layers {
            for site in [LinearInputSite.attention(i), .attentionOutput(i), .ffn(i), .ffnDown(i)] { #expect(c.rows(site) == 192, "\(site)") }
        }
        #expect(c.rows(.head) == 192)
        #expect(host.linearInputObserver == nil && host.position == 0)
        let imp = c.importance()
        #expect(imp.count == 7 * TinyLlama.layers + 1 && imp["blk.0.ffn_down.weight"]?.count == TinyLlama.ffn)
        #expect(imp.values.allSatisfy { v in v.allSatisfy { $0 > 0 && $0.isFinite } })
        let f = try c.factors()
        #expect(f.count == 7 * TinyLlama.layers + 1)
        #expect(f["blk.1.ffn_down.weight"]?.k == TinyLlama.ffn && f["output.weight"]?.k == TinyLlama.hidden)
        #expect(throws: QLinearError.self) { try c.factors() }   // the sums were released

        let gptqOut = TinyLlama.tmp("gptq.safetensors"), mseOut = TinyLlama.tmp("mse.safetensors"), imOut = TinyLlama.tmp("imatrix.safetensors")
        defer { unlink(gptqOut); unlink(mseOut); unlink(imOut) }
        var oi = ModelQuantizer.Options(scheme: .q4gsw, groupSize: 32)
        oi.importance = imp
        _ = try ModelQuantizer.run(input: TinyLlama.ggufPath, output: imOut, options: oi)
        let imFile = try Safetensors.read(path: imOut)
        #expect(imFile.metadata["qlinear.imatrix"] == "13 tensors")
        #expect(imFile.metadata["qlinear.tensor.blk.0.ffn_up.weight"]?.contains("\"rule\":\"imatrix\"") == true)
        _ = try LlamaModel(file: try QLinearModelFile(path: imOut), context: ctx).forward([1, 2, 3])
        var o = ModelQuantizer.Options(scheme: .q4gsw, groupSize: 32)
        _ = try ModelQuantizer.run(input: TinyLlama.ggufPath, output: mseOut, options: o)
        o.gptq = f; o.gptqNote = "test"
        let r = try ModelQuantizer.run(input: TinyLlama.ggufPath, output: gptqOut, options: o)
        // Q4_0 tensors (attn_q) stay the lossless repack; every other linear and the head use GPTQ.
        for t in r.tensors where t.action == "quantized" {
            let expected = t.type == "Q4_0" ? "lossless Q4_0 repack" : "GPTQ"
            #expect(t.note?.contains(expected) == true, "\(t.name): \(t.note ?? "no note")")
        }
        let file = try Safetensors.read(path: gptqOut)
        #expect(file.metadata["qlinear.gptq"] == "13 tensors; test")
        #expect(file.metadata["qlinear.tensor.blk.0.ffn_up.weight"]?.contains("\"rule\":\"gptq\"") == true)
        #expect(file.metadata["qlinear.tensor.blk.0.attn_q.weight"]?.contains("\"rule\":\"lossless\"") == true)

        // Both files run; on fresh text from the same distribution, the GPTQ model's logits are
        // closer to the fp16 model's than the scale search's are.
        let gm = try LlamaModel(file: try QLinearModelFile(path: gptqOut), context: ctx)
        let mm = try LlamaModel(file: try QLinearModelFile(path: mseOut), context: ctx)
        var eg = 0.0, em = 0.0
        for seed in [7, 8, 9] as [UInt64] {
            let p = Self.tokens(48, seed: seed)
            host.reset()
            let ref = try host.forward(p, allLogits: true)
            eg += try Self.logitError(gm, ref, p)
            em += try Self.logitError(mm, ref, p)
        }
        print("tiny llama, q4gsw g32: logit error vs fp16, GPTQ \(eg), scale search \(em) (×\(eg / em))")
        #expect(eg < em, "GPTQ \(eg) vs scale search \(em)")
    }

    @Test func calibrationNeedsHostOps() throws {
        let ctx = try TinyLlama.context.get()
        let g = try GGUFFile(path: TinyLlama.ggufPath)
        let dev = try LlamaModel(gguf: g, context: ctx, scheme: .fp16)
        let l = LlamaTools.Loaded(file: g, modelFile: nil, tokenizer: try BPETokenizer(gguf: g), model: dev, loadSeconds: 0)
        #expect(throws: QLinearError.self) { try LlamaTools.calibrate(l, tokens: Self.tokens(40, seed: 1), ctx: 32) }
        dev.linearInputObserver = { _, _, _ in }
        #expect(throws: QLinearError.self) { try dev.forward([1]) }
        dev.linearInputObserver = nil
        let host = try LlamaModel(gguf: g, context: ctx, scheme: .fp16, ops: .host)
        let lh = LlamaTools.Loaded(file: g, modelFile: nil, tokenizer: try BPETokenizer(gguf: g), model: host, loadSeconds: 0)
        #expect(throws: QLinearError.self) { try LlamaTools.calibrate(lh, tokens: Self.tokens(10, seed: 1), ctx: 32) }
        #expect(throws: QLinearError.self) { try LlamaTools.calibrate(lh, tokens: Self.tokens(40, seed: 1), ctx: 8) }
    }
}
