#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import QLinear
@testable import QLinearIO
import QLinearLlama
import QLinearCheck

/// `qlinear quantize --head-scheme`: the LM head (here the tiny model's tied Q8_0 embedding) kept
/// at another scheme than the linears, as llama-quantize keeps its output tensor at higher
/// precision. The file stores the head in that scheme and runs as the GGUF loaded with the same
/// `--scheme` / `--head-scheme` / `--group` — bit for bit.
@Suite(.serialized) struct HeadSchemeTests {
    struct Case: Sendable, CustomTestStringConvertible {
        /// What `quantize` writes: the linears' scheme (and scale dtype), the head's.
        var body: QLinearSafetensors.Scheme, bodyScales: DType = .f16
        var head: QLinearSafetensors.Scheme, headScales: DType? = nil
        /// `--scheme` given when running the file (nil: from the file), and what the GGUF loader
        /// is given for the same model.
        var run: LlamaScheme?
        var gguf: LlamaScheme, ggufHead: LlamaScheme
        var testDescription: String { "\(body.rawValue) + head \(head.rawValue)\(run.map { ", run as \($0.rawValue)" } ?? "")" }
    }

    static let cases: [Case] = [
        Case(body: .q4gsw, head: .fp16, run: nil, gguf: .q4gsw, ggufHead: .fp16),
        Case(body: .q4gsw, head: .fp16, run: .dq8ca_q4gsw, gguf: .dq8ca_q4gsw, ggufHead: .fp16),
        // The GGUF loader's INT8 weights have fp32 scales: --head-scale-dtype f32 gives the same head.
        Case(body: .q4gsw, head: .q8csw, headScales: .f32, run: nil, gguf: .q4gsw, ggufHead: .dq8ca_q8csw),
        Case(body: .q4gsw, head: .q8csw, headScales: .f32, run: .dq8ca_q4gsw, gguf: .dq8ca_q4gsw, ggufHead: .dq8ca_q8csw),
        Case(body: .fp16, head: .q4gsw, run: nil, gguf: .fp16, ggufHead: .q4gsw),
        Case(body: .q8csw, bodyScales: .f32, head: .fp16, run: nil, gguf: .dq8ca_q8csw, ggufHead: .fp16),
    ]

    @Test(arguments: cases)
    func headStoredInItsSchemeAndEqualsGGUF(c: Case) throws {
        let out = TinyLlama.tmp("head-\(c.body.rawValue)-\(c.head.rawValue)-\(c.run?.rawValue ?? "").safetensors")
        defer { unlink(out) }
        var o = ModelQuantizer.Options(scheme: c.body, groupSize: 32, scaleDType: c.bodyScales)
        o.headScheme = c.head
        o.headScaleDType = c.headScales
        let r = try ModelQuantizer.run(input: TinyLlama.ggufPath, output: out, options: o)
        #expect(r.quantized == 15 && r.headScheme == c.head.rawValue && r.headTensor == "output.weight" && r.scheme == c.body.rawValue)
        let headLine = try #require(r.tensors.first { $0.name == "output.weight" })
        #expect(headLine.action == "quantized" && headLine.to == (c.head == .q4gsw ? "q4gsw g32" : c.head.rawValue)
                && headLine.note?.hasPrefix("tied LM head, from token_embd.weight") == true, "\(headLine)")
        #expect(r.tensors.filter { $0.action == "quantized" && $0.name != "output.weight" }.allSatisfy { $0.to == (c.body == .q4gsw ? "q4gsw g32" : c.body.rawValue) })

        // Stored: the head's entry, tensor dtype and scales are the head scheme's; the rest the body's.
        let st = try Safetensors.read(path: out)
        #expect(st.metadata["qlinear.head_scheme"] == c.head.rawValue && st.metadata["qlinear.scheme"] == c.body.rawValue)
        let file = try QLinearModelFile(path: out)
        let he = try #require(file.entries["output.weight"])
        #expect(he.scheme == c.head && he.shape == [98, TinyLlama.hidden] && he.group == (c.head == .q4gsw ? 32 : nil))
        let headDType: Safetensors.DTypeName = c.head == .fp16 ? .F16 : c.head == .q8csw ? .I8 : .U8
        #expect(st.tensors["output.weight"]?.dtype == headDType)
        if c.head != .fp16 {
            #expect(st.tensors["output.scales"]?.dtype == ((c.headScales ?? c.bodyScales) == .f32 ? .F32 : .F16))
        } else {
            #expect(st.tensors["output.scales"] == nil)
        }
        #expect(file.entries["blk.1.ffn_down.weight"]?.scheme == c.body)

        // Runs as the GGUF with the same schemes: same logits, bit for bit.
        let ctx = try TinyLlama.context.get()
        let g = try GGUFFile(path: TinyLlama.ggufPath)
        let fromGGUF = try LlamaModel(gguf: g, context: ctx, scheme: c.gguf, groupSize: 32, headScheme: c.ggufHead)
        let fromFile = try LlamaModel(file: file, context: ctx, scheme: c.run)
        #expect(fromFile.scheme == c.gguf && fromFile.headScheme == c.ggufHead)
        let a1 = try fromGGUF.forward([5]), b1 = try fromFile.forward([5])
        #expect(a1 == b1 && a1.allSatisfy(\.isFinite))
        let prompt = [7, 95, 96, 40, 3, 97]
        fromGGUF.reset(); fromFile.reset()
        #expect(try fromGGUF.forward(prompt, allLogits: true) == fromFile.forward(prompt, allLogits: true))

        // Through LlamaTools.load, as generate/perplexity call it: the head scheme comes from the
        // file; one that needs another format is a clear error.
        let l = try LlamaTools.load(path: out, scheme: c.run, instance: TestValidation.instance)
        #expect(l.model.headScheme == c.ggufHead)
        let wrong: LlamaScheme = c.head == .fp16 ? .q4gsw : .fp16
        let text = thrownText { _ = try LlamaTools.load(path: out, headScheme: wrong) }
        #expect(text?.contains("--head-scheme \(wrong.rawValue) needs \(wrong.weightScheme.rawValue) weights, but \(out) stores output.weight as \(c.head.rawValue)") == true,
                "\(text ?? "no error")")
    }

    /// With imatrix calibration: the head scheme changes the head alone — every other tensor has
    /// the bytes of the file calibrated without it — and the file runs.
    @Test func calibratedWithHeadScheme() throws {
        let ctx = try TinyLlama.context.get()
        let g = try GGUFFile(path: TinyLlama.ggufPath)
        let host = try LlamaModel(gguf: g, context: ctx, scheme: .fp16, ops: .host)
        let l = LlamaTools.Loaded(file: g, modelFile: nil, tokenizer: try BPETokenizer(gguf: g), model: host, loadSeconds: 0)
        var rng = SplitMix64(seed: 5)
        let c = try LlamaTools.calibrate(l, tokens: (0..<128).map { _ in Int(rng.next() % 97) }, ctx: 64)
        let imp = c.importance()
        let plainOut = TinyLlama.tmp("im-plain.safetensors"), headOut = TinyLlama.tmp("im-head.safetensors")
        defer { unlink(plainOut); unlink(headOut) }
        var o = ModelQuantizer.Options(scheme: .q4gsw, groupSize: 32)
        o.importance = imp
        _ = try ModelQuantizer.run(input: TinyLlama.ggufPath, output: plainOut, options: o)
        o.headScheme = .q8csw
        let r = try ModelQuantizer.run(input: TinyLlama.ggufPath, output: headOut, options: o)
        #expect(r.tensors.first { $0.name == "output.weight" }?.to == "q8csw")
        let a = try Safetensors.read(path: plainOut), b = try Safetensors.read(path: headOut)
        #expect(a.metadata["qlinear.imatrix"] == "13 tensors" && b.metadata["qlinear.imatrix"] == "12 tensors")
        #expect(b.metadata["qlinear.tensor.blk.0.ffn_up.weight"]?.contains("\"rule\":\"imatrix\"") == true)
        for name in a.tensors.keys where name != "output.weight" && name != "output.scales" {
            #expect(a.tensors[name]?.data == b.tensors[name]?.data, "\(name)")
        }
        let m = try LlamaModel(file: try QLinearModelFile(path: headOut), context: ctx)
        #expect(m.scheme == .q4gsw && m.headScheme == .dq8ca_q8csw)
        #expect(try m.forward([1, 2, 3]).allSatisfy(\.isFinite))
    }

    /// A head scheme that cannot be honoured is a thrown error naming why, and no file is written.
    @Test func badCombinationsThrow() throws {
        let out = TinyLlama.tmp("head-bad.safetensors")
        defer { unlink(out) }
        func opts(_ body: QLinearSafetensors.Scheme = .q4gsw, head: QLinearSafetensors.Scheme? = .fp16, headScales: DType? = nil,
                  group: Int = 32, include: String? = nil, exclude: String? = nil) -> ModelQuantizer.Options {
            var o = ModelQuantizer.Options(scheme: body, groupSize: group, include: include, exclude: exclude)
            o.headScheme = head; o.headScaleDType = headScales
            return o
        }
        let dir = FileManager.default.temporaryDirectory.path
        let noHead = dir + "/qlinear-hs-\(getpid())-nohead.safetensors", hf = dir + "/qlinear-hs-\(getpid())-hf.safetensors"
        defer { unlink(noHead); unlink(hf) }
        var f = Safetensors()
        f.tensors["layers.0.q.weight"] = .f32([Float](repeating: 0.5, count: 8 * 64), shape: [8, 64])
        try f.write(path: noHead)
        let cases: [(String, String, ModelQuantizer.Options, String)] = [
            ("head excluded", TinyLlama.ggufPath, opts(exclude: "token_embd"),
             "--head-scheme fp16: the tied LM head (from token_embd.weight) would not be quantized: excluded"),
            ("head not included", TinyLlama.ggufPath, opts(include: "blk\\."), "the tied LM head (from token_embd.weight) would not be quantized: not included"),
            ("group does not divide the head's K", TinyLlama.ggufPath, opts(.fp16, head: .q4gsw, group: 48),
             "--head-scheme q4gsw g48: the tied LM head (from token_embd.weight) would not be quantized: K = 64 is not a multiple of group 48"),
            ("head scale dtype without head scheme", TinyLlama.ggufPath, opts(head: nil, headScales: .f32), "--head-scale-dtype needs --head-scheme"),
            ("head scale dtype for fp16", TinyLlama.ggufPath, opts(head: .fp16, headScales: .f32), "--head-scale-dtype: --head-scheme fp16 has no scales"),
            ("no head", noHead, opts(head: .q8csw), "--head-scheme q8csw: the input has no LM head (output.weight or lm_head.weight)"),
        ]
        for (name, input, o, fragment) in cases {
            let text = thrownText { _ = try ModelQuantizer.run(input: input, output: out, options: o) }
            #expect(text?.contains(fragment) == true, "\(name): \(text ?? "no error")")
            #expect(access(out, F_OK) != 0 && access(out + ".partial", F_OK) != 0, "\(name): a file was left")
        }

        // A Hugging Face checkpoint's lm_head.weight is the head there.
        f.tensors["lm_head.weight"] = .f32([Float](repeating: 0.25, count: 16 * 64), shape: [16, 64])
        try f.write(path: hf)
        let r = try ModelQuantizer.run(input: hf, output: out, options: opts(head: .q8csw))
        #expect(r.tensors.first { $0.name == "lm_head.weight" }?.to == "q8csw" && r.tensors.first { $0.name == "layers.0.q.weight" }?.to == "q4gsw g32")

        // The runner checks --group against an INT4 head when the linears have no group.
        _ = try ModelQuantizer.run(input: TinyLlama.ggufPath, output: out, options: opts(.fp16, head: .q4gsw))
        let text = thrownText { _ = try LlamaTools.load(path: out, groupSize: 64, instance: TestValidation.instance) }
        #expect(text?.contains("--group 64 contradicts \(out), whose INT4 LM head output.weight was quantized with group 32") == true, "\(text ?? "no error")")
    }
}
