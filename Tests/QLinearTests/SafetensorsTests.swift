import Testing
@testable import QLinear
import QLinearCheck
import QLinearIO

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
}
