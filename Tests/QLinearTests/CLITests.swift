import Testing
import Foundation
@testable import QLinear
import QLinearCheck
import QLinearIO

/// The CLI as a user meets it: bad input gives a clear message and a non-zero exit, never a trap.
@Suite("qlinear CLI", .serialized)
struct CLITests {
    static let binary: URL? = {
        var dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        for _ in 0..<2 { dir.deleteLastPathComponent() }   // Tests/QLinearTests → package root
        for config in ["debug", "release"] {
            let url = dir.appendingPathComponent(".build/\(config)/qlinear")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        return nil
    }()

    func run(_ args: [String]) throws -> (status: Int32, out: String, err: String) {
        let bin = try #require(CLITests.binary, "build the qlinear product first (swift build --build-tests builds it)")
        let p = Process()
        p.executableURL = bin
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let errText = String(decoding: e, as: UTF8.self)
        #expect(!errText.contains("Vulkan validation"), "validation layers reported:\n\(errText)")
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), errText)
    }

    /// Text inputs must be UTF-8: a binary file is a clear error before any model is loaded.
    @Test func nonUTF8TextIsRefused() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("qlinear-cli-\(getpid())-bad.txt").path
        defer { unlink(path) }
        _ = FileManager.default.createFile(atPath: path, contents: Data([0x61, 0x62, 0x63, 0xFF, 0xFE, 0x64]))
        let r = try run(["perplexity", "--model", "/nonexistent.gguf", "--file", path])
        #expect(r.status == 1 && r.err.contains("is not UTF-8 text (invalid byte at offset 3)"), "\(r.err)")
    }

    @Test("tune --from without --keep-base says on stderr how many of the base table's rules it replaced; with it, nothing")
    func tuneFromWarnsOfReplacedRules() throws {
        func meas(_ m: Int, _ bm: Int, _ us: Double) -> String {
            #"{"op":"fp16","m":\#(m),"n":4096,"k":4096,"candidate":{"kernel":"coopmat","tile":{"bm":\#(bm),"bn":128,"wm":2,"wn":2},"kStep":32,"buffers":1},"medianUs":\#(us),"minUs":\#(us),"flags":[],"status":"ok"}"#
        }
        let device = String(decoding: try JSONEncoder().encode(h100Caps()), as: UTF8.self)
        let base = TuningTable(name: "base", match: nil, provenance: "test", coopmat: [TuningRule(tile: TileShape(bm: 32, bn: 64, wm: 2, wn: 2)),
                                                                                         TuningRule(ops: [.fp16], tile: TileShape(bm: 64, bn: 64, wm: 2, wn: 2))])
        let table = String(decoding: try JSONEncoder().encode(base), as: UTF8.self)
        let report = #"{"tool":"qlinear tune","date":"test","device":\#(device),"kernel":"coopmat","measurements":[\#(meas(2048, 128, 100)),\#(meas(2048, 64, 120))],"table":\#(table)}"#
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("qlinear-cli-\(getpid())-tune")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let rp = dir.appendingPathComponent("report.json").path, bp = dir.appendingPathComponent("base.json").path
        _ = FileManager.default.createFile(atPath: rp, contents: Data(report.utf8))
        _ = FileManager.default.createFile(atPath: bp, contents: Data(table.utf8))
        let replaced = try run(["tune", "--kernel", "coopmat", "--from", rp, "--tuning", bp, "--out", dir.appendingPathComponent("t1.json").path])
        #expect(replaced.status == 0 && replaced.err.contains("of the base table's coopmat rules were replaced"), "\(replaced.err)")
        let kept = try run(["tune", "--kernel", "coopmat", "--from", rp, "--tuning", bp, "--keep-base", "--out", dir.appendingPathComponent("t2.json").path])
        #expect(kept.status == 0 && !kept.err.contains("were replaced"), "\(kept.err)")
    }

    @Test func badShapeIsAClearError() throws {
        let r = try run(["explain", "--op", "q4gsw", "--shape", "4x4x100", "--group", "32"])
        #expect(r.status == 1)
        #expect((r.out + r.err).contains("multiple of the group size"))
        let u = try run(["explain", "--op", "nope", "--shape", "4x4x4"])
        #expect(u.status == 2)
        let t = try run(["check", "--shape", "4x4"])
        #expect(t.status == 2 && t.err.contains("MxNxK"))
        let neg = try run(["check", "--op", "fp16", "--shape", "2x3x4", "--kernel", "tiled", "--seed", "-1"])
        #expect(neg.status == 0)
        let big = try run(["bench", "--op", "q4gsw", "--shape", "1x100000x100000", "--group", "128"])
        #expect(big.status == 1 && big.err.contains("2^31"))
        let typo = try run(["devices", "--jsn"])
        #expect(typo.status == 2 && typo.err.lowercased().contains("unknown option"))
    }

    @Test func checkJSONIsMachineReadable() throws {
        let r = try run(["check", "--op", "dq8ca_q4gsw", "--shape", "3x5x64", "--group", "32", "--kernel", "tiled", "--json"])
        #expect(r.status == 0)
        let obj = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any]
        #expect(obj?["failed"] as? Int == 0)
        #expect((obj?["passed"] as? Int ?? 0) >= 1)
    }

    /// `explain --stats`: the chosen kernel's pipeline statistics, or (lavapipe) a note that the
    /// device has no VK_KHR_pipeline_executable_properties; either way exit 0, in text and JSON.
    @Test func explainStats() throws {
        let caps = try Shared.ctx().capabilities
        let t = try run(["explain", "--op", "fp16", "--shape", "64x64x64", "--stats"])
        #expect(t.status == 0, "\(t.err)")
        #expect(t.out.contains(caps.pipelineStatistics ? "statistics of " : "statistics: not available"), "\(t.out)")
        let j = try run(["explain", "--op", "fp16", "--shape", "64x64x64", "--stats", "--json"])
        #expect(j.status == 0, "\(j.err)")
        let obj = try JSONSerialization.jsonObject(with: Data(j.out.utf8)) as? [String: Any]
        if caps.pipelineStatistics {
            let execs = obj?["statistics"] as? [[String: Any]]
            #expect(execs?.isEmpty == false)
            let first = (execs?.first?["statistics"] as? [[String: Any]])?.first
            #expect(first?["name"] is String && first?["format"] is String && first?["value"] != nil)
        } else {
            #expect((obj?["statisticsUnavailable"] as? String)?.contains("VK_KHR_pipeline_executable_properties") == true)
            #expect(obj?["statistics"] == nil)
        }
        // Without --stats the report is as before.
        let plain = try run(["explain", "--op", "fp16", "--shape", "64x64x64", "--json"])
        let plainObj = try JSONSerialization.jsonObject(with: Data(plain.out.utf8)) as? [String: Any]
        #expect(plainObj?["statistics"] == nil && plainObj?["statisticsUnavailable"] == nil)
    }

    /// The bench report is machine-readable and every row has its fields. No timing assertions:
    /// benchmarks are not tests.
    @Test func benchJSONHasRowFields() throws {
        let r = try run(["bench", "--quick", "--op", "q4gsw", "--op", "dq8ca_q8csw", "--format", "json"])
        #expect(r.status == 0, "\(r.err)")
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
        #expect(obj["ceilings"] is [String: Any] && obj["device"] is String && obj["bytes_note"] is String)
        let rows = try #require(obj["rows"] as? [[String: Any]])
        #expect(rows.count == 4)
        for row in rows {
            for key in ["op", "m", "n", "k", "group", "kernel", "shader", "tile", "median_us", "min_us", "max_us", "flops", "rate", "rate_unit",
                        "bytes", "gbps", "iterations", "sets", "flags", "stream_us", "stream_min_us", "stream_layers", "stream_batches", "prepare_s"] {
                #expect(row[key] != nil, "row lacks \(key)")
            }
            // Pipelines are built before the warm-up; a long build lengthens it (quick settings: to 0.05 s).
            let prepare = row["prepare_s"] as? Double ?? -1, warm = row["warmup_s"] as? Double ?? -1
            #expect(prepare >= 0 && (prepare <= 0.05 || warm >= 0.05), "prepare \(prepare) s, warm-up \(warm) s")
            // Back to back: a time per run from whole rotations of the sets, 3 submissions.
            #expect((row["stream_us"] as? Double).map { $0 > 0 } == true && row["stream_batches"] as? Int == 3)
            #expect((row["stream_layers"] as? Int).map { $0 >= 1 && $0 % (row["sets"] as? Int ?? 1) == 0 } == true)
            // Decode rows carry a same-size streaming read, timed both ways; other rows do not.
            let decode = row["m"] as? Int == 1
            #expect((row["read_floor_us"] as? Double).map { $0 > 0 } == (decode ? true : nil), "read_floor_us of M = \(row["m"] ?? "?")")
            #expect((row["read_floor_stream_us"] as? Double).map { $0 > 0 } == (decode ? true : nil))
        }
        #expect(rows.filter { $0["m"] as? Int == 1 }.count == 2)
        let noFloor = try run(["bench", "--quick", "--op", "q4gsw", "--shape", "1x64x256", "--no-read-floor", "--format", "json"])
        let nrow = try #require(((try JSONSerialization.jsonObject(with: Data(noFloor.out.utf8)) as? [String: Any])?["rows"] as? [[String: Any]])?.first)
        #expect(nrow["read_floor_us"] == nil && nrow["stream_us"] != nil)
        // A forced configuration the dispatcher cannot use here (register fragments on lavapipe) is flagged.
        for (gemv, flagged) in [("2x256x1fs2", true), ("2x128x2", false)] {
            let f = try run(["bench", "--quick", "--op", "q4gsw", "--shape", "1x64x256", "--kernel", "gemv", "--gemv", gemv, "--no-back-to-back", "--format", "json"])
            let frow = try #require(((try JSONSerialization.jsonObject(with: Data(f.out.utf8)) as? [String: Any])?["rows"] as? [[String: Any]])?.first)
            #expect(((frow["flags"] as? [String]) ?? []).contains("forced-config-not-used") == flagged, "\(gemv)")
        }
        // With rotation (several sets): whole rotations per back-to-back submission.
        let rotated = try run(["bench", "--quick", "--op", "q4gsw", "--shape", "1x64x128", "--rotate-mb", "1", "--format", "json"])
        #expect(rotated.status == 0, "\(rotated.err)")
        let rrow = try #require(((try JSONSerialization.jsonObject(with: Data(rotated.out.utf8)) as? [String: Any])?["rows"] as? [[String: Any]])?.first)
        let sets = try #require(rrow["sets"] as? Int), layers = try #require(rrow["stream_layers"] as? Int)
        #expect(sets > 1 && layers >= sets && layers % sets == 0, "\(sets) sets, \(layers) runs")
        let plain = try run(["bench", "--quick", "--op", "fp16", "--shape", "3x16x32", "--no-back-to-back", "--format", "json"])
        #expect(plain.status == 0)
        let plainRows = try #require((try JSONSerialization.jsonObject(with: Data(plain.out.utf8)) as? [String: Any])?["rows"] as? [[String: Any]])
        #expect(plainRows.count == 1 && plainRows[0]["stream_us"] == nil)
        let csv = try run(["bench", "--quick", "--op", "fp16", "--shape", "3x16x32", "--format", "csv"])
        #expect(csv.status == 0)
        let lines = csv.out.split(separator: "\n")
        #expect(lines.count == 2 && lines[0].hasPrefix("op,m,n,k,") && lines[0].hasSuffix(",stream_us,stream_min_us,read_floor_us,read_floor_stream_us"))
        #expect(try run(["bench", "--quick", "--format", "xml"]).status == 2)
        #expect(try run(["bench", "--rotate-mb", "-1"]).status == 2)
    }

    @Test func shapesFileDrivesTheSweep() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("qlinear-shapes-\(getpid()).txt").path
        try Data("# M x N x K\n5x7x64\n\n1x3x32  # decode\n".utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let r = try run(["check", "--op", "q4gsw", "--group", "32", "--act", "f32", "--shapes", path, "--json"])
        #expect(r.status == 0)
        let obj = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any]
        let results = obj?["results"] as? [[String: Any]] ?? []
        let shapes = Set(results.compactMap { ($0["problem"] as? [String: Any]).map { "\($0["m"]!)x\($0["n"]!)x\($0["k"]!)" } })
        #expect(shapes == ["5x7x64", "1x3x32"])
        try Data("5x7\n".utf8).write(to: URL(fileURLWithPath: path))
        #expect(try run(["check", "--shapes", path]).status == 2)
    }

    @Test func corruptSafetensorsFailsCleanly() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("qlinear-corrupt-\(getpid()).safetensors").path
        try Data([200, 0, 0, 0, 0, 0, 0, 0, 123, 34]).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let r = try run(["run", "--op", "q4gsw", "--inputs", path, "-o", path + ".out"])
        #expect(r.status == 1)
        #expect(r.err.contains("safetensors"))
    }

    @Test func runRoundTripsThroughSafetensors() throws {
        let dir = FileManager.default.temporaryDirectory
        let inp = dir.appendingPathComponent("qlinear-in-\(getpid()).safetensors").path
        let out = inp + ".out"
        defer { try? FileManager.default.removeItem(atPath: inp); try? FileManager.default.removeItem(atPath: out) }
        var rng = SplitMix64(seed: 42)
        let (m, n, k) = (3, 5, 64)
        let x = (0..<(m * k)).map { _ in Float(Double(rng.next() >> 11) * 0x1p-53 * 2 - 1) }
        let w = (0..<(n * k)).map { _ in Float(Double(rng.next() >> 11) * 0x1p-53 * 2 - 1) }
        let q = try Q8CSWWeights.quantize(w, n: n, k: k)
        var f = Safetensors()
        f.tensors["x"] = .f32(x, shape: [m, k])
        f.tensors["weight"] = .init(dtype: .I8, shape: [n, k], data: q.values.map { UInt8(bitPattern: $0) })
        f.tensors["scales"] = .f32(q.scales, shape: [n])
        try f.write(path: inp)
        let r = try run(["run", "--op", "dq8ca_q8csw", "--inputs", inp, "-o", out])
        #expect(r.status == 0, "\(r.err)")
        let o = try Safetensors.read(path: out)
        #expect(o.tensors["y"]?.shape == [m, n])
        #expect(o.tensors["x_q"]?.shape == [m, k] && o.tensors["x_scale"]?.shape == [m] && o.tensors["x_zero_point"]?.shape == [m])
    }

    @Test func tuneWritesATableTheDispatcherReads() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("qlinear-tune-\(getpid()).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let r = try run(["tune", "--kernel", "gemv", "--variety", "column", "--quick", "--op", "dq8ca_q8csw", "--shape", "1x32x64", "--out", path])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.err.contains("checked 32 configurations: 32 ok"))
        let table = try TuningTable.decode(Array(try Data(contentsOf: URL(fileURLWithPath: path))))
        let rules = table.gemv ?? []
        #expect(rules.contains { $0.ops == [.dq8ca_q8csw] && $0.when?.n == Bounds(32, 32) && $0.when?.k == Bounds(64, 64) })
        // The table drives dispatch: explain with it names a gemv rule of this table.
        let e = try run(["explain", "--op", "dq8ca_q8csw", "--shape", "1x32x64", "--tuning", path])
        #expect(e.status == 0 && e.out.contains("\(table.name) gemv rule 0"), "\(e.out)")
        #expect(try run(["tune", "--kernel", "tiled"]).status == 2)
        // --against-current times today's plan beside the sweep and keeps it in the report
        // (which rules follow depends on the timings: tested on fixed data in CoopMatKnobTests).
        let report = path + ".report"
        defer { try? FileManager.default.removeItem(atPath: report) }
        let a = try run(["tune", "--kernel", "gemv", "--variety", "column", "--quick", "--op", "dq8ca_q8csw", "--shape", "1x32x64", "--against-current", "--report", report])
        #expect(a.status == 0 && a.err.contains("; current: gemv_int"), "\(a.err)")
        let saved = try String(contentsOfFile: report, encoding: .utf8)
        #expect(saved.contains("\"current\" : true") || saved.contains("\"current\":true"), "report keeps the current plan's entry")
    }

    /// A sweep that runs out of its time limit still writes its report and table, with what it
    /// did not reach marked as skipped; a limit that is not a positive number of seconds is refused.
    @Test func tuneTimeLimitStillWritesTheReport() throws {
        let dir = FileManager.default.temporaryDirectory
        let report = dir.appendingPathComponent("qlinear-tune-limit-\(getpid()).json").path
        let table = dir.appendingPathComponent("qlinear-tune-limit-table-\(getpid()).json").path
        defer { try? FileManager.default.removeItem(atPath: report); try? FileManager.default.removeItem(atPath: table) }
        let r = try run(["tune", "--kernel", "gemv", "--quick", "--op", "dq8ca_q8csw", "--shape", "1x32x64", "--time-limit", "0.000001",
                         "--report", report, "--out", table])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.err.contains("time limit of"))
        let text = try String(contentsOfFile: report, encoding: .utf8)
        #expect(text.contains("skipped: time limit"))
        #expect(FileManager.default.fileExists(atPath: table))
        for bad in ["0", "-1", "1e9", "inf"] {
            #expect(try run(["tune", "--kernel", "gemv", "--quick", "--shape", "1x32x64", "--time-limit", bad]).status == 2, "--time-limit \(bad)")
        }
    }
}
