#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import QLinear
@testable import QLinearIO
import QLinearCheck

/// `ModelQuantizer` (`qlinear quantize`) and the QLinear safetensors convention it writes.
@Suite(.serialized) struct QuantizeTests {
    static func tmp(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("qlinear-qt-\(getpid())-\(name)").path
    }

    static func randoms(_ count: Int, seed: UInt64, scale: Float = 1) -> [Float] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { _ in (Float(Double(rng.next() >> 11) * 0x1p-53) * 2 - 1) * scale }
    }

    /// A small float model: two matrices (F32, F16), a BF16 matrix, a 1-D norm and an I32 tensor.
    static func floatModel() throws -> (path: String, a: [Float], b: [Float]) {
        let a = randoms(8 * 64, seed: 1), b = randoms(4 * 32, seed: 2, scale: 0.1)
        var f = Safetensors(metadata: ["origin": "test"])
        f.tensors["a.weight"] = .f32(a, shape: [8, 64])
        f.tensors["b.weight"] = .f16(b, shape: [4, 32])
        f.tensors["emb"] = .init(dtype: .BF16, shape: [3, 32], data: (0..<96).flatMap { i in [UInt8(0), UInt8(0x3F + (i % 2) * 0x80)] })
        f.tensors["norm"] = .f32(randoms(64, seed: 3), shape: [64])
        f.tensors["ids"] = .i32([1, 2, 3, 4], shape: [2, 2])
        let path = tmp("model.safetensors")
        try f.write(path: path)
        return (path, a, b)
    }

    @Test func roundTripQ4() throws {
        let (inp, a, b) = try Self.floatModel()
        let out = Self.tmp("q4.safetensors")
        defer { unlink(inp); unlink(out) }
        var lines = [ModelQuantizer.TensorResult]()
        // Chunks of 100 values (a row at a time) give the same bytes as whole tensors.
        let r = try ModelQuantizer.run(input: inp, output: out, options: .init(scheme: .q4gsw, groupSize: 32, chunkValues: 100)) { t, n in
            #expect(n == 5); lines.append(t)
        }
        #expect(r.quantized == 3 && r.copied == 2 && lines.count == 5)
        #expect(Set(lines.filter { $0.action == "quantized" }.map(\.name)) == ["a.weight", "b.weight", "emb"])
        #expect(lines.first { $0.name == "norm" }?.note == "not 2-D")
        #expect(lines.first { $0.name == "ids" }?.note == "I32 is not a float type")
        let f = try Safetensors.read(path: out)
        let e = try QLinearSafetensors.entries(f)
        #expect(e["a.weight"] == .init(scheme: .q4gsw, shape: [8, 64], group: 32, scales: "a.scales", source: "F32", rule: "mse"))
        #expect(f.metadata["origin"] == "test" && f.metadata["qlinear.layout"] == "2")
        guard case .q4gsw(let qa) = try QLinearSafetensors.weights(f, "a.weight") else { Issue.record("a not q4gsw"); return }
        #expect(qa == (try Q4GSWWeights.quantize(a, n: 8, k: 64, groupSize: 32, scaleDType: .f16, rule: .mse)))
        let bf = try Safetensors.Tensor.f16(b, shape: [4, 32]).floats()
        guard case .q4gsw(let qb) = try QLinearSafetensors.weights(f, "b.weight") else { Issue.record("b not q4gsw"); return }
        #expect(qb == (try Q4GSWWeights.quantize(bf, n: 4, k: 32, groupSize: 32, scaleDType: .f16, rule: .mse)))
        // The reported error is ‖w − ŵ‖/‖w‖ of the stored values.
        var err = 0.0, norm = 0.0
        for i in 0..<a.count { let d = Double(a[i]) - Double(qa.q(i / 64, i % 64)) * Double(qa.scales[i / 32]); err += d * d; norm += Double(a[i] * a[i]) }
        let rel = try #require(lines.first { $0.name == "a.weight" }?.relError)
        #expect(abs(rel - (err / norm).squareRoot()) < 1e-9)
        #expect(rel > 0.01 && rel < 0.2)
        // Copied tensors are byte-identical.
        let src = try Safetensors.read(path: inp)
        for n in ["norm", "ids"] { #expect(f.tensors[n]?.data == src.tensors[n]?.data && f.tensors[n]?.dtype == src.tensors[n]?.dtype) }
        #expect(r.outputFileBytes == Int(try FileManager.default.attributesOfItem(atPath: out)[.size] as! UInt64))
        // absmax keeps the old rule, and loses more.
        let r2 = try ModelQuantizer.run(input: inp, output: out, options: .init(scheme: .q4gsw, groupSize: 32, rule: .absmax))
        let rel2 = try #require(r2.tensors.first { $0.name == "a.weight" }?.relError)
        #expect(rel2 > rel)
        guard case .q4gsw(let qa2) = try QLinearSafetensors.weights(try Safetensors.read(path: out), "a.weight") else { Issue.record("a not q4gsw"); return }
        #expect(qa2 == (try Q4GSWWeights.quantize(a, n: 8, k: 64, groupSize: 32, scaleDType: .f16)))
    }

    @Test func q8AndFp16Schemes() throws {
        let (inp, a, _) = try Self.floatModel()
        let out = Self.tmp("q8.safetensors")
        defer { unlink(inp); unlink(out) }
        _ = try ModelQuantizer.run(input: inp, output: out, options: .init(scheme: .q8csw, scaleDType: .f32, chunkValues: 130))
        var f = try Safetensors.read(path: out)
        guard case .q8csw(let q) = try QLinearSafetensors.weights(f, "a.weight") else { Issue.record("not q8csw"); return }
        #expect(q == (try Q8CSWWeights.quantize(a, n: 8, k: 64, scaleDType: .f32)))
        #expect(f.tensors["a.scales"]?.dtype == .F32 && f.tensors["a.scales"]?.shape == [8])
        _ = try ModelQuantizer.run(input: inp, output: out, options: .init(scheme: .fp16))
        f = try Safetensors.read(path: out)
        guard case .fp16(_, _, let v) = try QLinearSafetensors.weights(f, "a.weight") else { Issue.record("not fp16"); return }
        #expect(v == a.map { Float16($0) })
        #expect(f.tensors["a.scales"] == nil)
    }

    @Test func includeExclude() throws {
        let (inp, _, b) = try Self.floatModel()
        let out = Self.tmp("ie.safetensors")
        defer { unlink(inp); unlink(out) }
        let r = try ModelQuantizer.run(input: inp, output: out, options: .init(scheme: .q4gsw, include: "weight$", exclude: "^b\\."))
        let by = Dictionary(uniqueKeysWithValues: r.tensors.map { ($0.name, $0) })
        #expect(by["a.weight"]?.action == "quantized")
        #expect(by["b.weight"]?.action == "copied" && by["b.weight"]?.note == "excluded" && by["b.weight"]?.to == "F16")
        #expect(by["emb"]?.action == "copied" && by["emb"]?.note == "not included")
        let f = try Safetensors.read(path: out)
        #expect(try f.require("b.weight").floats() == b.map { Float(Float16($0)) })
        #expect(Set(try QLinearSafetensors.entries(f).keys) == ["a.weight"])
        // Group 64 does not divide b's K = 32: copied, with the reason.
        let r64 = try ModelQuantizer.run(input: inp, output: out, options: .init(scheme: .q4gsw, groupSize: 64))
        #expect(r64.tensors.first { $0.name == "b.weight" }?.note == "K = 32 is not a multiple of group 64")
        #expect(throws: QLinearError.self) { try ModelQuantizer.run(input: inp, output: out, options: .init(scheme: .q4gsw, include: "(")) }
        #expect(throws: QLinearError.self) { try ModelQuantizer.run(input: inp, output: inp, options: .init(scheme: .q4gsw)) }   // would overwrite its input
        #expect(throws: QLinearError.self) { try ModelQuantizer.run(input: inp, output: out, options: .init(scheme: .q4gsw, only: ["nope"])) }
    }

    /// A GGUF written here: Q4_0 (lossless to q4gsw g32, negative scales), Q4_1 (requantized),
    /// Q8_0 excluded (dequantized to F32 exactly), the Q8_0 token embedding kept as its blocks (and,
    /// excluded, no tied head written), F32 1-D copied; dims reversed to [N, K].
    @Test func ggufInput() throws {
        var rng = SplitMix64(seed: 5)
        let (n, k) = (6, 64)
        var q40 = [UInt8](), q41 = [UInt8](), q80 = [UInt8]()
        for b in 0..<(n * k / 32) {
            q40 += q4_0Block(d: b % 2 == 0 ? 0.0625 : -0.03125, q: (0..<32).map { _ in UInt8(rng.next() % 16) })
            q41 += f16Bytes(0.125) + f16Bytes(-0.95) + (0..<16).map { _ in UInt8(rng.next() % 256) }
            q80 += f16Bytes(0.25) + (0..<32).map { _ in UInt8(rng.next() % 256) }
        }
        var g = GGUFBuilder()
        g.kv = [("general.architecture", .string("llama")), ("llama.block_count", .uint32(1))]
        g.tensors = [("blk.0.attn_q.weight", [k, n], .q4_0, q40), ("blk.0.ffn_up.weight", [k, n], .q4_1, q41),
                     ("token_embd.weight", [k, n], .q8_0, q80), ("blk.0.ffn_gate.weight", [k, n], .q8_0, q80), ("output_norm.weight", [k], .f32, (0..<k).flatMap { GGUFBuilder.u32(Float($0).bitPattern) })]
        let inp = Self.tmp("model.gguf"), out = Self.tmp("gguf.safetensors")
        defer { unlink(inp); unlink(out) }
        try Data(g.build()).write(to: URL(fileURLWithPath: inp))
        let r = try ModelQuantizer.run(input: inp, output: out, options: .init(scheme: .q4gsw, exclude: "token_embd|ffn_gate", chunkValues: 128))
        #expect(r.inputFormat == "gguf")
        let by = Dictionary(uniqueKeysWithValues: r.tensors.map { ($0.name, $0) })
        #expect(by["blk.0.attn_q.weight"]?.note == "lossless Q4_0 repack" && by["blk.0.attn_q.weight"]?.relError == 0)
        #expect(by["blk.0.attn_q.weight"]?.shape == [n, k])
        #expect((by["blk.0.ffn_up.weight"]?.relError ?? 0) > 0)
        #expect(by["token_embd.weight"]?.action == "copied" && by["token_embd.weight"]?.to == "Q8_0 blocks")
        #expect(by["token_embd.weight"]?.note == "token embedding, excluded" && by["output.weight"] == nil)
        #expect(by["blk.0.ffn_gate.weight"]?.action == "copied" && by["blk.0.ffn_gate.weight"]?.to == "F32")
        let gf = try GGUFFile(path: inp)
        let f = try Safetensors.read(path: out)
        #expect(f.metadata["gguf.general.architecture"] == "llama" && f.metadata["gguf.llama.block_count"] == "1")
        guard case .q4gsw(let w) = try QLinearSafetensors.weights(f, "blk.0.attn_q.weight"),
              case .q4gsw(let ref) = try gf.linearWeights(try gf.tensor("blk.0.attn_q.weight"), as: .q4gsw(groupSize: 32)) else { Issue.record("not q4gsw"); return }
        #expect(w == ref && w.scales.contains { $0 < 0 })
        #expect(try QLinearSafetensors.entries(f)["blk.0.attn_q.weight"]?.rule == "lossless")
        #expect(try f.require("blk.0.ffn_gate.weight").floats() == (try gf.floats(try gf.tensor("blk.0.ffn_gate.weight"))))
        #expect(try f.require("blk.0.ffn_gate.weight").shape == [n, k])
        let emb = try QLinearSafetensors.floats(f, "token_embd.weight")
        #expect(emb.values == (try gf.floats(try gf.tensor("token_embd.weight"))) && emb.shape == [n, k])
        #expect(try f.require("token_embd.weight").dtype == .U8 && QLinearSafetensors.blockEntries(f)["token_embd.weight"] == .init(type: "Q8_0", shape: [n, k]))
        #expect(try QLinearSafetensors.ggufMetadata(f).int("llama.block_count") == 1)
        #expect(try f.require("output_norm.weight").floats() == (0..<k).map(Float.init))
        // The layer loaded from the file computes what the GGUF's values give.
        let ctx = try QLinearContext()
        let layer = try LinearLayer(context: ctx, file: f, tensor: "blk.0.attn_q.weight", act: .f32)
        let x = Self.randoms(2 * k, seed: 9)
        let y = try layer.forward(x, m: 2).y
        let wv = try gf.floats(try gf.tensor("blk.0.attn_q.weight"))
        for i in 0..<2 { for j in 0..<n {
            var s = 0.0
            for c in 0..<k { s += Double(x[i * k + c]) * Double(wv[j * k + c]) }
            #expect(abs(Double(y[i * n + j]) - s) <= 1e-4 * max(1, abs(s)))
        } }
    }

    /// Corrupt `qlinear.*` metadata or tensors that disagree with it: `invalidFormat`, never a trap.
    @Test func corruptMetadataThrows() throws {
        let (inp, _, _) = try Self.floatModel()
        let out = Self.tmp("bad.safetensors")
        defer { unlink(inp); unlink(out) }
        _ = try ModelQuantizer.run(input: inp, output: out, options: .init(scheme: .q4gsw))
        let good = try Safetensors.read(path: out)
        #expect(try QLinearSafetensors.entries(good).count == 3)
        let key = "qlinear.tensor.a.weight"
        let entry = try #require(good.metadata[key])
        let cases: [(String, (inout Safetensors) -> Void, String)] = [
            ("layout 3", { $0.metadata["qlinear.layout"] = "3" }, "layout version \"3\" is not supported"),
            ("no layout", { $0.metadata["qlinear.layout"] = nil }, "without qlinear.layout"),
            ("entry not JSON", { $0.metadata[key] = "{" }, "is not a valid entry"),
            ("unknown scheme", { $0.metadata[key] = entry.replacingOccurrences(of: "q4gsw", with: "q5gsw") }, "is not a valid entry"),
            ("group mismatch", { $0.metadata[key] = entry.replacingOccurrences(of: "\"group\":32", with: "\"group\":64") }, "scales \"a.scales\" must be F16/F32 [8, 1]"),
            ("group not dividing K", { $0.metadata[key] = entry.replacingOccurrences(of: "\"group\":32", with: "\"group\":48") }, "group 48 must be"),
            ("shape mismatch", { $0.metadata[key] = entry.replacingOccurrences(of: "[8,64]", with: "[8,96]") }, "must be U8 [8, 48]"),
            ("1-D shape", { $0.metadata[key] = entry.replacingOccurrences(of: "[8,64]", with: "[512]") }, "is not [N, K]"),
            ("scales missing", { $0.tensors["a.scales"] = nil }, "scales tensor \"a.scales\" is missing"),
            ("scales wrong dtype", { $0.tensors["a.scales"] = .init(dtype: .U8, shape: [8, 2], data: [UInt8](repeating: 0, count: 16)) }, "must be F16/F32"),
            ("weight missing", { $0.tensors["a.weight"] = nil }, "the tensor is missing"),
            ("weight wrong dtype", { $0.tensors["a.weight"] = .init(dtype: .I8, shape: [8, 32], data: [UInt8](repeating: 0, count: 256)) }, "must be U8"),
            ("shared scales", { $0.tensors["c.weight"] = $0.tensors["a.weight"]; $0.metadata["qlinear.tensor.c.weight"] = entry }, "share the scales"),
            ("entry for a missing tensor", { $0.metadata["qlinear.tensor.ghost"] = entry }, "ghost: the tensor is missing"),
            ("fp16 with scales", { $0.metadata[key] = entry.replacingOccurrences(of: "q4gsw", with: "fp16") }, "fp16 has no group or scales"),
        ]
        for (name, mutate, fragment) in cases {
            var f = good
            mutate(&f)
            // Through a file on disk too, as a reader meets it.
            try f.write(path: out)
            let back = try Safetensors.read(path: out)
            do {
                _ = try QLinearSafetensors.weights(back, "a.weight")
                Issue.record("\(name): no error")
            } catch let e as QLinearError {
                guard case .invalidFormat = e else { Issue.record("\(name): \(e)"); continue }
                #expect("\(e)".contains(fragment), "\(name): \(e)")
            }
        }
        // Non-finite scales are refused when the weights are built.
        var f = good
        f.tensors["a.scales"] = .f16([Float](repeating: .infinity, count: 16), shape: [8, 2])
        #expect(throws: QLinearError.self) { try QLinearSafetensors.weights(f, "a.weight") }
    }
}
