import Testing
import Foundation
@testable import QLinear
import QLinearCheck
import QLinearIO

/// `qlinear quantize` / `inspect` / `run --weights` as a user meets them.
@Suite("qlinear quantize CLI", .serialized)
struct QuantizeCLITests {
    func run(_ args: [String]) throws -> (status: Int32, out: String, err: String) { try CLITests().run(args) }

    @Test func quantizeInspectRun() throws {
        let dir = FileManager.default.temporaryDirectory.path + "/qlinear-qcli-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var rng = SplitMix64(seed: 3)
        func r(_ n: Int) -> [Float] { (0..<n).map { _ in Float(Double(rng.next() >> 11) * 0x1p-53 * 2 - 1) } }
        var f = Safetensors()
        f.tensors["layers.0.q.weight"] = .f32(r(16 * 64), shape: [16, 64])
        f.tensors["layers.0.norm"] = .f32(r(64), shape: [64])
        f.tensors["head.weight"] = .f16(r(8 * 64), shape: [8, 64])
        try f.write(path: dir + "/m.safetensors")
        let q = try run(["quantize", dir + "/m.safetensors", "-o", dir + "/q.safetensors", "--scheme", "q4gsw", "--exclude", "^head"])
        #expect(q.status == 0, "\(q.err)")
        let lines = q.out.split(separator: "\n").map(String.init)
        #expect(lines.count == 4, "\(q.out)")
        #expect(lines.contains { $0.hasPrefix("[3/3] layers.0.q.weight [16, 64] F32 → q4gsw g32, size 0.00 MiB → 0.00 MiB, rel. error 0.") }, "\(q.out)")
        #expect(lines.contains { $0.hasPrefix("[1/3] head.weight [8, 64] F16 → copied as F16 (excluded)") }, "\(q.out)")
        #expect(lines.contains { $0.contains("layers.0.norm [64] F32 → copied as F32 (not 2-D)") })
        #expect(lines[3].hasPrefix("quantized 1 tensors, copied 2; size"))
        #expect(q.err.isEmpty, "no progress bar when stderr is not a terminal: \(q.err)")
        let j = try run(["quantize", dir + "/m.safetensors", "-o", dir + "/q8.safetensors", "--scheme", "q8csw", "--json"])
        #expect(j.status == 0, "\(j.err)")
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(j.out.utf8)) as? [String: Any])
        #expect(obj["quantized"] as? Int == 2 && obj["copied"] as? Int == 1 && obj["scheme"] as? String == "q8csw")
        #expect((obj["tensors"] as? [[String: Any]])?.count == 3 && obj["peakResidentBytes"] is Int)
        // inspect shows the entries; run takes the weight from the quantized file.
        let i = try run(["inspect", dir + "/q.safetensors"])
        #expect(i.status == 0 && i.out.contains("QLinear safetensors (layout 2)") && i.out.contains("→ q4gsw [16, 64] group 32, scales layers.0.q.scales F16 [16, 2], from F32, mse"), "\(i.out)")
        var x = Safetensors()
        x.tensors["x"] = .f32(r(2 * 64), shape: [2, 64])
        try x.write(path: dir + "/x.safetensors")
        let y = try run(["run", "--op", "q4gsw", "--inputs", dir + "/x.safetensors", "--weights", dir + "/q.safetensors", "--tensor", "layers.0.q.weight", "-o", dir + "/y.safetensors"])
        #expect(y.status == 0, "\(y.err)")
        #expect(try Safetensors.read(path: dir + "/y.safetensors").tensors["y"]?.shape == [2, 16])
        let wrongOp = try run(["run", "--op", "dq8ca_q8csw", "--inputs", dir + "/x.safetensors", "--weights", dir + "/q.safetensors", "--tensor", "layers.0.q.weight", "-o", dir + "/y.safetensors"])
        #expect(wrongOp.status == 1 && wrongOp.err.contains("holds q4gsw weights"), "\(wrongOp.err)")
        // Corrupt metadata: a clear error, exit 1, from inspect and run alike.
        var bad = try Safetensors.read(path: dir + "/q.safetensors")
        bad.metadata["qlinear.layout"] = "9"
        try bad.write(path: dir + "/bad.safetensors")
        for args in [["inspect", dir + "/bad.safetensors"],
                     ["run", "--op", "q4gsw", "--inputs", dir + "/x.safetensors", "--weights", dir + "/bad.safetensors", "--tensor", "layers.0.q.weight", "-o", dir + "/y.safetensors"]] {
            let e = try run(args)
            #expect(e.status == 1 && e.err.contains("layout version \"9\" is not supported"), "\(e.err)")
        }
        // Usage errors: exit 2.
        #expect(try run(["quantize", dir + "/m.safetensors", "-o", dir + "/z.safetensors"]).status == 2)                      // no scheme
        #expect(try run(["quantize", dir + "/m.safetensors", "-o", dir + "/z.safetensors", "--scheme", "q4gsw", "--include", "("]).status == 2)
        #expect(try run(["quantize", dir + "/m.safetensors", "--inputs", dir + "/m.safetensors", "-o", dir + "/z.safetensors", "--scheme", "fp16"]).status == 2)
        #expect(!FileManager.default.fileExists(atPath: dir + "/z.safetensors"))
    }

    /// `--head-scheme`: the LM head (here a checkpoint's lm_head.weight) at its own scheme, shown on
    /// its line and in the JSON; an impossible request is a clear error, exit 1 (thrown) or 2 (usage).
    @Test func headScheme() throws {
        let dir = FileManager.default.temporaryDirectory.path + "/qlinear-qcli-head-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var rng = SplitMix64(seed: 4)
        func r(_ n: Int) -> [Float] { (0..<n).map { _ in Float(Double(rng.next() >> 11) * 0x1p-53 * 2 - 1) } }
        var f = Safetensors()
        f.tensors["layers.0.q.weight"] = .f32(r(16 * 64), shape: [16, 64])
        f.tensors["lm_head.weight"] = .f32(r(24 * 64), shape: [24, 64])
        try f.write(path: dir + "/m.safetensors")
        let q = try run(["quantize", dir + "/m.safetensors", "-o", dir + "/q.safetensors", "--scheme", "q4gsw", "--head-scheme", "q8csw", "--head-scale-dtype", "f32"])
        #expect(q.status == 0, "\(q.err)")
        #expect(q.out.contains("lm_head.weight [24, 64] F32 → q8csw, size 0.01 MiB → 0.00 MiB, rel. error 0."), "\(q.out)")
        #expect(q.out.contains("layers.0.q.weight [16, 64] F32 → q4gsw g32"), "\(q.out)")
        let st = try Safetensors.read(path: dir + "/q.safetensors")
        #expect(st.tensors["lm_head.weight"]?.dtype == .I8 && st.tensors["lm_head.scales"]?.dtype == .F32 && st.tensors["layers.0.q.scales"]?.dtype == .F16)
        #expect(st.metadata["qlinear.head_scheme"] == "q8csw" && st.metadata["qlinear.head_tensor"] == "lm_head.weight")
        let j = try run(["quantize", dir + "/m.safetensors", "-o", dir + "/j.safetensors", "--scheme", "q4gsw", "--head-scheme", "fp16", "--json"])
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(j.out.utf8)) as? [String: Any], "\(j.err)")
        #expect(obj["headScheme"] as? String == "fp16" && obj["headTensor"] as? String == "lm_head.weight" && obj["scheme"] as? String == "q4gsw")
        // Thrown: the head is excluded, or the group does not divide its K — exit 1, nothing written.
        let ex = try run(["quantize", dir + "/m.safetensors", "-o", dir + "/z.safetensors", "--scheme", "q4gsw", "--head-scheme", "fp16", "--exclude", "lm_head"])
        #expect(ex.status == 1 && ex.err.contains("--head-scheme fp16: the LM head lm_head.weight would not be quantized: excluded"), "\(ex.err)")
        let g = try run(["quantize", dir + "/m.safetensors", "-o", dir + "/z.safetensors", "--scheme", "fp16", "--head-scheme", "q4gsw", "--group", "48"])
        #expect(g.status == 1 && g.err.contains("K = 64 is not a multiple of group 48"), "\(g.err)")
        // Usage errors: exit 2.
        for args in [["--head-scheme", "q5_k"], ["--head-scheme", "dq8ca_q8csw"], ["--head-scale-dtype", "f32"], ["--head-scheme", "fp16", "--head-scale-dtype", "f32"],
                     ["--head-scheme", "fp16", "--tensor", "lm_head.weight"]] {
            let e = try run(["quantize", dir + "/m.safetensors", "-o", dir + "/z.safetensors", "--scheme", "q4gsw"] + args)
            #expect(e.status == 2 && e.err.contains("head"), "\(args): \(e.status) \(e.err)")
        }
        #expect(!FileManager.default.fileExists(atPath: dir + "/z.safetensors"))
    }
}
