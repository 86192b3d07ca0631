import Testing
@testable import QLinear
import QLinearCheck
import QLinearIO
import Foundation

@Suite("safetensors")
struct SafetensorsTests {
    @Test("round trip keeps names, dtypes, shapes and bytes")
    func roundTrip() throws {
        var f = Safetensors(metadata: ["format": "q4gsw"])
        f.tensors["x"] = .f32([1, -2.5, 3, 4, 5, 6], shape: [2, 3])
        f.tensors["scales"] = .f16([0.5, 0.25], shape: [2, 1])
        f.tensors["weight"] = .init(dtype: .U8, shape: [2, 2], data: [0x10, 0x32, 0x54, 0x76])
        let back = try Safetensors.parse(try f.serialize())
        #expect(back.metadata == ["format": "q4gsw"])
        #expect(try back.require("x").floats() == [1, -2.5, 3, 4, 5, 6])
        #expect(try back.require("scales").floats() == [0.5, 0.25])
        #expect(back.tensors["weight"]?.data == [0x10, 0x32, 0x54, 0x76])
        #expect(back.tensors["weight"]?.shape == [2, 2])
    }

    @Test("corrupt files are rejected with a clear error, never a trap")
    func corrupt() throws {
        var f = Safetensors()
        f.tensors["x"] = .f32([1, 2, 3, 4], shape: [2, 2])
        let good = try f.serialize()
        #expect(throws: QLinearError.self) { try Safetensors.parse([1, 2, 3]) }
        #expect(throws: QLinearError.self) { try Safetensors.parse(Array(good.dropLast(4))) }          // data cut short
        var huge = good; huge[0] = 0xFF; huge[1] = 0xFF; huge[5] = 0x7F
        #expect(throws: QLinearError.self) { try Safetensors.parse(huge) }                            // header length past the file
        let badJSON: [UInt8] = [4, 0, 0, 0, 0, 0, 0, 0] + Array("{x:1".utf8)
        #expect(throws: QLinearError.self) { try Safetensors.parse(badJSON) }
        let header = Array("{\"x\":{\"dtype\":\"F32\",\"shape\":[3,3],\"data_offsets\":[0,16]}}".utf8)
        let wrongSize = [UInt8(header.count), 0, 0, 0, 0, 0, 0, 0] + header + [UInt8](repeating: 0, count: 16)
        #expect(throws: QLinearError.self) { try Safetensors.parse(wrongSize) }                       // shape ≠ byte count
        let h2 = Array("{\"x\":{\"dtype\":\"Q9\",\"shape\":[1],\"data_offsets\":[0,4]}}".utf8)
        #expect(throws: QLinearError.self) { try Safetensors.parse([UInt8(h2.count), 0, 0, 0, 0, 0, 0, 0] + h2 + [0, 0, 0, 0]) }
    }

    @Test("interop inputs validate the weight layout")
    func interop() throws {
        var f = Safetensors()
        f.tensors["x"] = .f32([Float](repeating: 1, count: 2 * 64), shape: [2, 64])
        f.tensors["weight"] = .init(dtype: .U8, shape: [3, 32], data: [UInt8](repeating: 0x88, count: 96))
        f.tensors["scales"] = .f16([Float](repeating: 0.5, count: 6), shape: [3, 2])
        let inp = try Interop.inputs(op: .q4gsw, from: f)
        #expect(inp.m == 2 && inp.k == 64 && inp.weights.groupSize == 32 && inp.weights.n == 3)
        f.tensors["weight"] = .init(dtype: .U8, shape: [3, 31], data: [UInt8](repeating: 0x88, count: 93))
        #expect(throws: QLinearError.self) { try Interop.inputs(op: .q4gsw, from: f) }
        f.tensors["weight"] = .init(dtype: .U8, shape: [3, 32], data: [UInt8](repeating: 0x88, count: 96))
        f.tensors["scales"] = .f16([Float](repeating: 0.5, count: 9), shape: [3, 3])
        #expect(throws: QLinearError.self) { try Interop.inputs(op: .q4gsw, from: f) }              // 64 % 3 != 0
        f.tensors["scales"] = nil
        #expect(throws: QLinearError.self) { try Interop.inputs(op: .q4gsw, from: f) }
    }

    @Test("read maps the file: tensors are views that outlive the Safetensors value, bytes and errors unchanged")
    func mappedRead() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("qlinear-mmap-\(getpid()).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        var f = Safetensors(metadata: ["k": "v"])
        f.tensors["a"] = .f32((0..<1000).map { Float($0) / 8 }, shape: [10, 100])
        f.tensors["b"] = .init(dtype: .U8, shape: [3], data: [7, 8, 9])
        f.tensors["empty"] = .init(dtype: .F16, shape: [0, 4], data: [])
        try f.write(path: path)
        #expect(Array(try Data(contentsOf: URL(fileURLWithPath: path))) == (try f.serialize()))   // streamed write = serialize
        var t: Safetensors.Tensor? = nil
        do { t = try Safetensors.read(path: path).tensors["a"] }
        let a = try #require(t)
        #expect(a.storedByteCount == 4000)
        #expect(try a.floats(elements: 995..<1000) == [995, 996, 997, 998, 999].map { Float($0) / 8 })
        #expect(try a.floats() == (0..<1000).map { Float($0) / 8 })
        #expect(throws: QLinearError.self) { try a.floats(elements: 999..<1001) }
        let back = try Safetensors.read(path: path)
        #expect(back.tensors["b"]?.data == [7, 8, 9] && back.tensors["empty"]?.storedByteCount == 0 && back.metadata == ["k": "v"])
        // A file cut short gives the same error as before.
        let bytes = try f.serialize()
        try Data(bytes.dropLast(1)).write(to: URL(fileURLWithPath: path))
        #expect(throws: QLinearError.self) { try Safetensors.read(path: path) }
        try Data().write(to: URL(fileURLWithPath: path))
        #expect(throws: QLinearError.self) { try Safetensors.read(path: path) }
    }

    @Test("the streaming writer checks every tensor's byte count and deletes an unfinished file")
    func streamingWriter() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("qlinear-writer-\(getpid()).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            let w = try SafetensorsWriter(path: path, entries: [.init(name: "x", dtype: .F32, shape: [2]), .init(name: "y", dtype: .U8, shape: [3])], metadata: [:])
            try w.appendF32([1])
            #expect(w.currentEntry?.name == "x")
            try w.appendF32([2])
            #expect(throws: QLinearError.self) { try w.append([1, 2, 3, 4]) }        // y has 3 bytes
            try w.append([1, 2])
            #expect(throws: QLinearError.self) { try w.finish() }                   // y incomplete
        }
        #expect(!FileManager.default.fileExists(atPath: path))                     // dropped unfinished → removed
        #expect(throws: QLinearError.self) { _ = try SafetensorsWriter(path: path, entries: [.init(name: "x", dtype: .F32, shape: [Int.max, 2])], metadata: [:]) }
        #expect(throws: QLinearError.self) { _ = try SafetensorsWriter(path: path, entries: [.init(name: "x", dtype: .F32, shape: [1]), .init(name: "x", dtype: .F32, shape: [1])], metadata: [:]) }
        let w = try SafetensorsWriter(path: path, entries: [.init(name: "x", dtype: .F16, shape: [2])], metadata: ["a": "b"])
        try w.appendF16([0.5, -2])
        try w.finish()
        let r = try Safetensors.read(path: path)
        #expect(try r.require("x").floats() == [0.5, -2] && r.metadata == ["a": "b"])
    }
}
