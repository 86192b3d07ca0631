#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import QLinear
@testable import QLinearIO
import QLinearLlama
import QLinearCheck

/// A tiny llama GGUF written by the test (2 layers, hidden 64, 4 query / 2 KV heads, FFN 96,
/// 98-token byte-level BPE vocabulary, tied Q8_0 embedding), every ggml type the runner reads
/// among its linears: Q4_0 (lossless to q4gsw g32), Q4_1, Q8_0, F16, F32.
enum TinyLlama {
    static let hidden = 64, ffn = 96, layers = 2, heads = 4, kvHeads = 2

    static func tmp(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("qlinear-qm-\(getpid())-\(name)").path
    }

    static var tokens: [String] {
        (33...126).map { String(Character(Unicode.Scalar(UInt8($0)))) } + ["Ġ", "Ġa", "ab", "<|im_end|>"]
    }

    /// The GGUF image (other sizes: `DeviceOpsTests`' wide variant).
    static func gguf() -> [UInt8] { gguf(hidden: hidden, ffn: ffn, layers: layers, heads: heads, kvHeads: kvHeads, ropeDim: 16) }

    static func gguf(hidden: Int, ffn: Int, layers: Int, heads: Int, kvHeads: Int, ropeDim: Int) -> [UInt8] {
        var rng = SplitMix64(seed: 77)
        func unit() -> Float { Float(Double(rng.next() >> 11) * 0x1p-53) * 2 - 1 }
        func q4_0(_ n: Int, _ k: Int) -> [UInt8] {
            (0..<(n * k / 32)).flatMap { b in q4_0Block(d: (b % 3 == 0 ? -1 : 1) * (0.01 + 0.01 * abs(unit())), q: (0..<32).map { _ in UInt8(rng.next() % 16) }) }
        }
        func q4_1(_ n: Int, _ k: Int) -> [UInt8] {
            (0..<(n * k / 32)).flatMap { _ in f16Bytes(0.004 + 0.004 * abs(unit())) + f16Bytes(-0.03 + 0.01 * unit()) + (0..<16).map { _ in UInt8(rng.next() % 256) } }
        }
        func q8_0(_ n: Int, _ k: Int, d: Float) -> [UInt8] {
            (0..<(n * k / 32)).flatMap { _ in f16Bytes(d * (0.5 + abs(unit()))) + (0..<32).map { _ in UInt8(rng.next() % 256) } }
        }
        func f16(_ count: Int, _ s: Float) -> [UInt8] { (0..<count).flatMap { _ in f16Bytes(s * unit()) } }
        func f32(_ count: Int, around c: Float, _ s: Float) -> [UInt8] { (0..<count).flatMap { _ in GGUFBuilder.u32((c + s * unit()).bitPattern) } }
        let kv = kvHeads * hidden / heads
        var g = GGUFBuilder()
        let toks = tokens
        var types = [GGUFValue](repeating: .int32(1), count: toks.count)
        types[toks.count - 1] = .int32(3)
        g.kv = [
            ("general.architecture", .string("llama")), ("general.name", .string("tiny test llama")),
            ("llama.block_count", .uint32(UInt32(layers))), ("llama.embedding_length", .uint32(UInt32(hidden))),
            ("llama.feed_forward_length", .uint32(UInt32(ffn))), ("llama.attention.head_count", .uint32(UInt32(heads))),
            ("llama.attention.head_count_kv", .uint32(UInt32(kvHeads))), ("llama.attention.layer_norm_rms_epsilon", .float32(1e-5)),
            ("llama.rope.freq_base", .float32(10000)), ("llama.context_length", .uint32(128)), ("llama.rope.dimension_count", .uint32(UInt32(ropeDim))),
            ("general.size_label", .uint64(1 << 40)), ("general.score", .float64(-0.1)), ("general.nested", .array(.array, [.array(.uint8, [.uint8(1)])])),
            ("tokenizer.ggml.model", .string("gpt2")), ("tokenizer.ggml.pre", .string("smollm")),
            ("tokenizer.ggml.tokens", .array(.string, toks.map { .string($0) })),
            ("tokenizer.ggml.merges", .array(.string, [.string("Ġ a"), .string("a b")])),
            ("tokenizer.ggml.token_type", .array(.int32, types)),
            ("tokenizer.ggml.bos_token_id", .uint32(UInt32(toks.count - 1))), ("tokenizer.ggml.eos_token_id", .uint32(UInt32(toks.count - 1))),
            ("tokenizer.ggml.add_bos_token", .bool(false)),
        ]
        var t: [(name: String, dims: [Int], type: GGMLType, data: [UInt8])] = [
            ("token_embd.weight", [hidden, toks.count], .q8_0, q8_0(toks.count, hidden, d: 0.01)),
            ("output_norm.weight", [hidden], .f32, f32(hidden, around: 1, 0.2)),
        ]
        for i in 0..<layers {
            let p = "blk.\(i)."
            t += [
                (p + "attn_norm.weight", [hidden], .f32, f32(hidden, around: 1, 0.2)),
                (p + "ffn_norm.weight", [hidden], .f32, f32(hidden, around: 1, 0.2)),
                (p + "attn_q.weight", [hidden, hidden], .q4_0, q4_0(hidden, hidden)),
                (p + "attn_k.weight", [hidden, kv], .q4_1, q4_1(kv, hidden)),
                (p + "attn_v.weight", [hidden, kv], .q8_0, q8_0(kv, hidden, d: 0.002)),
                (p + "attn_output.weight", [hidden, hidden], .f16, f16(hidden * hidden, 0.1)),
                (p + "ffn_gate.weight", [hidden, ffn], .q4_1, q4_1(ffn, hidden)),
                (p + "ffn_up.weight", [hidden, ffn], .f32, f32(hidden * ffn, around: 0, 0.1)),
                (p + "ffn_down.weight", [ffn, hidden], .q4_1, q4_1(hidden, ffn)),
            ]
        }
        g.tensors = t
        return g.build()
    }

    /// The GGUF written to a temporary file (once per process).
    static let ggufPath: String = {
        let p = tmp("tiny.gguf")
        _ = FileManager.default.createFile(atPath: p, contents: Data(gguf()))
        return p
    }()

    static let context: Result<QLinearContext, any Error> = Result { try QLinearContext(instance: TestValidation.instance) }
}

/// `qlinear quantize` then `generate` / `perplexity` on the quantized file: the model from QLinear
/// safetensors equals the model from the GGUF with the same scheme and group.
@Suite(.serialized) struct QuantizedModelTests {
    /// For each scheme: quantize the tiny GGUF, load both files, and compare tokenizer, config,
    /// logits of a one-token and a 6-token prompt (every position) and 8 greedy tokens — all bit
    /// for bit: both paths quantize with the same code (the same INT4 scale search, the same Q4_0
    /// repack), and the embedding is kept as its Q8_0 blocks, dequantized by the same function.
    /// q8csw is written with fp32 scales (`--scale-dtype f32`), which is what the GGUF path uses.
    @Test(arguments: LlamaScheme.allCases)
    func safetensorsEqualsGGUF(scheme: LlamaScheme) throws {
        let stored = scheme.weightScheme
        let scaleDType: DType = stored == .q8csw ? .f32 : .f16
        let out = TinyLlama.tmp("\(scheme.rawValue).safetensors")
        defer { unlink(out) }
        let r = try ModelQuantizer.run(input: TinyLlama.ggufPath, output: out, options: .init(scheme: stored, groupSize: 32, scaleDType: scaleDType))
        // 7 linears × 2 layers + the tied head quantized; the embedding kept as Q8_0 blocks.
        #expect(r.quantized == 15, "\(r.tensors.map { "\($0.name) \($0.action)" })")
        let emb = try #require(r.tensors.first { $0.name == "token_embd.weight" })
        #expect(emb.action == "copied" && emb.to == "Q8_0 blocks")
        #expect(r.tensors.first { $0.name == "output.weight" }?.note == "tied LM head, from token_embd.weight")
        let ctx = try TinyLlama.context.get()
        let g = try GGUFFile(path: TinyLlama.ggufPath)
        let fromGGUF = try LlamaModel(gguf: g, context: ctx, scheme: scheme, groupSize: 32)
        let file = try QLinearModelFile(path: out)
        #expect(try Safetensors.read(path: out).metadata["qlinear.layout"] == "2")
        let fromFile = try LlamaModel(file: file, context: ctx, scheme: scheme == LlamaScheme.defaultScheme(for: stored) ? nil : scheme)
        #expect(fromFile.scheme == scheme && fromFile.headScheme == scheme && fromFile.config == fromGGUF.config)
        let tg = try BPETokenizer(gguf: g), tf = try BPETokenizer(metadata: try file.ggufMetadata())
        #expect(tg.tokens == tf.tokens && tg.types == tf.types && tg.eos == tf.eos && tg.bos == tf.bos && tg.pre == tf.pre && tg.addBOS == tf.addBOS)
        let text = "ab Ga a!b<|im_end|>"
        #expect(tg.encode(text, addSpecial: true) == tf.encode(text, addSpecial: true))
        let a1 = try fromGGUF.forward([5]), b1 = try fromFile.forward([5])
        #expect(a1 == b1 && a1.allSatisfy(\.isFinite))
        let prompt = [7, 95, 96, 40, 3, 97]
        fromGGUF.reset(); fromFile.reset()
        let a = try fromGGUF.forward(prompt, allLogits: true), b = try fromFile.forward(prompt, allLogits: true)
        #expect(a == b)
        let la = LlamaTools.Loaded(file: g, modelFile: nil, tokenizer: tg, model: fromGGUF, loadSeconds: 0)
        let lb = LlamaTools.Loaded(file: nil, modelFile: file, tokenizer: tf, model: fromFile, loadSeconds: 0)
        let ga = try LlamaTools.generate(la, prompt: prompt, maxTokens: 8), gb = try LlamaTools.generate(lb, prompt: prompt, maxTokens: 8)
        #expect(ga.tokens == gb.tokens && !ga.tokens.isEmpty)
        // A warm-up pass (prompt + one decode step, untimed) leaves no state behind: same tokens.
        let gw = try LlamaTools.generate(la, prompt: prompt, maxTokens: 8, warmup: true)
        #expect(gw.tokens == ga.tokens && gw.warmedUp == true && ga.warmedUp == false)
        // The warm-up repeats until its time has passed (clocks), at least once, at most 200 runs.
        #expect((gw.warmupRuns ?? 0) >= 1 && (gw.warmupRuns ?? 0) <= 200 && ga.warmupRuns == nil)
        #expect((gw.warmupSeconds ?? 0) >= 0.5 || gw.warmupRuns == 200)
        let once = try LlamaTools.generate(la, prompt: prompt, maxTokens: 8, warmup: true, warmupSeconds: 0)
        #expect(once.warmupRuns == 1 && once.tokens == ga.tokens)
        #expect(throws: QLinearError.self) { try LlamaTools.generate(la, prompt: prompt, maxTokens: 8, warmup: true, warmupSeconds: -1) }
    }

    /// Through `LlamaTools.load` as the CLI calls it: the scheme comes from the file; a scheme,
    /// head scheme, group or scale rule that contradicts the file is a clear error.
    @Test func schemeFromTheFileAndContradictions() throws {
        let out = TinyLlama.tmp("load.safetensors")
        defer { unlink(out) }
        _ = try ModelQuantizer.run(input: TinyLlama.ggufPath, output: out, options: .init(scheme: .q4gsw, groupSize: 32))
        let l = try LlamaTools.load(path: out, instance: TestValidation.instance)
        #expect(l.model.scheme == .q4gsw && l.model.groupSize == 32 && l.file == nil && l.modelFile != nil)
        let s = try LlamaTools.generate(l, prompt: l.tokenizer.encode("ab a"), maxTokens: 4)
        #expect(s.generatedTokens >= 1)
        let cases: [(String, () throws -> Void, String)] = [
            ("fp16 on q4gsw", { _ = try LlamaTools.load(path: out, scheme: .fp16) }, "--scheme fp16 needs fp16 weights, but \(out) stores blk.0.attn_q.weight as q4gsw (group 32): use q4gsw or dq8ca_q4gsw"),
            ("dq8ca_q8csw on q4gsw", { _ = try LlamaTools.load(path: out, scheme: .dq8ca_q8csw) }, "needs q8csw weights"),
            ("head fp16", { _ = try LlamaTools.load(path: out, headScheme: .fp16) }, "--head-scheme fp16 needs fp16 weights, but \(out) stores output.weight"),
            ("group 64", { _ = try LlamaTools.load(path: out, groupSize: 64) }, "--group 64 contradicts"),
            ("scale rule", { _ = try LlamaTools.load(path: out, scaleRule: .absmax) }, "--scale-rule absmax has no effect"),
        ]
        for (name, body, fragment) in cases {
            let text = thrownText(body)
            #expect(text?.contains(fragment) == true, "\(name): \(text ?? "no error")")
        }
    }

    /// A truncated file, or one whose metadata or tensors were tampered with, is a thrown
    /// `QLinearError` naming what is wrong — never a trap.
    @Test func truncatedOrTamperedFileThrows() throws {
        let out = TinyLlama.tmp("good.safetensors"), bad = TinyLlama.tmp("bad.safetensors")
        defer { unlink(out); unlink(bad) }
        _ = try ModelQuantizer.run(input: TinyLlama.ggufPath, output: out, options: .init(scheme: .q4gsw, groupSize: 32))
        let ctx = try TinyLlama.context.get()
        func load(_ path: String) throws { _ = try LlamaModel(file: try QLinearModelFile(path: path), context: ctx) }
        try load(out)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: out)))
        var headerLen = 0
        for i in 0..<8 { headerLen |= Int(bytes[i]) << (8 * i) }
        // Cut anywhere: inside the length, the header, at its end, inside the data, one byte short.
        for cut in [0, 5, 8, headerLen / 2, 8 + headerLen, 8 + headerLen + 1000, bytes.count / 2, bytes.count - 1] {
            _ = FileManager.default.createFile(atPath: bad, contents: Data(bytes[0..<cut]))
            do { try load(bad); Issue.record("cut at \(cut): no error") } catch let e as QLinearError {
                guard case .invalidFormat = e else { Issue.record("cut at \(cut): \(e)"); continue }
            }
        }
        // Tampered metadata or tensors, each through a file on disk.
        let good = try Safetensors.read(path: out)
        let embEntry = try #require(good.metadata["qlinear.blocks.token_embd.weight"])
        let qEntry = try #require(good.metadata["qlinear.tensor.blk.1.ffn_up.weight"])
        let cases: [(String, (inout Safetensors) -> Void, String)] = [
            ("no GGUF types", { $0.metadata["qlinear.gguf_types"] = nil }, "no GGUF metadata (qlinear.gguf_types is missing)"),
            ("types not JSON", { $0.metadata["qlinear.gguf_types"] = "[" }, "qlinear.gguf_types is not a JSON object of strings"),
            ("value missing", { $0.metadata["gguf.llama.block_count"] = nil }, "llama.block_count: qlinear.gguf_types lists it but gguf.llama.block_count is missing"),
            ("value of another type", { $0.metadata["gguf.llama.block_count"] = "two" }, "llama.block_count: \"two\" is not a uint32"),
            ("unknown type", { $0.metadata["qlinear.gguf_types"] = $0.metadata["qlinear.gguf_types"]?.replacingOccurrences(of: "\"general.name\":\"string\"", with: "\"general.name\":\"quaternion\"") }, "general.name: unknown type \"quaternion\""),
            ("tokens not JSON", { $0.metadata["gguf.tokenizer.ggml.tokens"] = "[\"a\"," }, "tokenizer.ggml.tokens: array:string value is not a JSON array of strings"),
            ("token type not an int", { $0.metadata["gguf.tokenizer.ggml.token_type"] = $0.metadata["gguf.tokenizer.ggml.token_type"]?.replacingOccurrences(of: "\"3\"", with: "\"x\"") }, "element 97 \"x\" is not a int32"),
            ("too many layers", { $0.metadata["gguf.llama.block_count"] = "3" }, "blk.2.attn_norm.weight\" is missing"),
            ("too few layers", { $0.metadata["gguf.llama.block_count"] = "1" }, "llama.block_count is 1 but the file holds tensors of layer 1"),
            ("optional key of another type", { $0.metadata["qlinear.gguf_types"] = $0.metadata["qlinear.gguf_types"]?.replacingOccurrences(of: "\"llama.context_length\":\"uint32\"", with: "\"llama.context_length\":\"float32\""); $0.metadata["gguf.llama.context_length"] = "128.5" }, "llama.context_length"),
            ("epsilon above 1", { $0.metadata["gguf.llama.attention.layer_norm_rms_epsilon"] = "925353388" }, "RMSNorm epsilon 9.253534e+08 must be in (0, 1]"),
            ("block type", { $0.metadata["qlinear.blocks.token_embd.weight"] = embEntry.replacingOccurrences(of: "Q8_0", with: "Q5_K") }, "block type \"Q5_K\" is not one of Q8_0, Q4_0, Q4_1"),
            ("block shape", { $0.metadata["qlinear.blocks.token_embd.weight"] = embEntry.replacingOccurrences(of: "[98,64]", with: "[98,96]") }, "Q8_0 blocks of [98, 96] must be U8 [98, 102], got U8[98, 68]"),
            ("block shape not whole blocks", { $0.metadata["qlinear.blocks.token_embd.weight"] = embEntry.replacingOccurrences(of: "[98,64]", with: "[98,40]") }, "is not [N, K] with N ≥ 1 and K a positive multiple of 32"),
            ("block entry not JSON", { $0.metadata["qlinear.blocks.token_embd.weight"] = "{}" }, "is not a valid block entry"),
            ("blocks tensor shortened", { $0.tensors["token_embd.weight"] = .init(dtype: .U8, shape: [97, 68], data: [UInt8](repeating: 0, count: 97 * 68)) }, "must be U8 [98, 68], got U8[97, 68]"),
            ("blocks in layout 1", { $0.metadata["qlinear.layout"] = "1" }, "in a layout 1 file (layout 2 introduced it)"),
            ("layout 3", { $0.metadata["qlinear.layout"] = "3" }, "layout version \"3\" is not supported (this reader knows 1, 2)"),
            ("a linear excluded", { $0.tensors["blk.1.ffn_up.weight"] = .f32([Float](repeating: 0, count: 96 * 64), shape: [96, 64]); $0.tensors["blk.1.ffn_up.scales"] = nil; $0.metadata["qlinear.tensor.blk.1.ffn_up.weight"] = nil }, "blk.1.ffn_up.weight is stored as a plain F32 tensor, not as quantized weights"),
            ("mixed formats", { $0.tensors["blk.1.ffn_up.weight"] = .f16([Float](repeating: 0, count: 96 * 64), shape: [96, 64]); $0.tensors["blk.1.ffn_up.scales"] = nil; $0.metadata["qlinear.tensor.blk.1.ffn_up.weight"] = "{\"scheme\":\"fp16\",\"shape\":[96,64]}" }, "blk.1.ffn_up.weight is fp16, blk.0.attn_q.weight is q4gsw g32: the layers' linears must share one format"),
            ("linear of another shape", { $0.metadata["qlinear.tensor.blk.1.ffn_up.weight"] = qEntry.replacingOccurrences(of: "[96,64]", with: "[64,96]"); $0.tensors["blk.1.ffn_up.weight"] = .init(dtype: .U8, shape: [64, 48], data: [UInt8](repeating: 0x88, count: 64 * 48)); $0.tensors["blk.1.ffn_up.scales"] = .f16([Float](repeating: 1, count: 64 * 3), shape: [64, 3]) }, "blk.1.ffn_up.weight is [64, 96] (N, K), [96, 64] expected"),
            ("norm of another shape", { $0.tensors["blk.0.ffn_norm.weight"] = .f32([1, 2], shape: [2]) }, "blk.0.ffn_norm.weight has shape [2], [64] expected"),
            ("norm not float", { $0.tensors["output_norm.weight"] = .i32([Int32](repeating: 1, count: 64), shape: [64]) }, "\"output_norm.weight\" is I32, a float tensor expected"),
            ("head missing", { $0.tensors["output.weight"] = nil; $0.tensors["output.scales"] = nil; $0.metadata["qlinear.tensor.output.weight"] = nil }, "token_embd.weight is stored as a plain U8 tensor"),
            ("not llama", { $0.metadata["gguf.general.architecture"] = "gpt2" }, "architecture \"gpt2\""),
        ]
        for (name, mutate, fragment) in cases {
            var f = good
            mutate(&f)
            try f.write(path: bad)
            let text = thrownText { try load(bad); _ = try BPETokenizer(metadata: try QLinearModelFile(path: bad).ggufMetadata()) }
            #expect(text?.contains(fragment) == true, "\(name): \(text ?? "no error")")
        }
        // A GGUF-less plain safetensors file: a clear error too.
        var plain = Safetensors()
        plain.tensors["x"] = .f32([1], shape: [1])
        try plain.write(path: bad)
        #expect(thrownText { try load(bad) }?.contains("no GGUF metadata") == true)
    }
}
