import Testing
import Foundation
@testable import QLinear
import QLinearCheck
import QLinearIO
@testable import VulkanRuntime

// The bad-input matrix (docs/RELIABILITY.md): every input a user or a file can give that is
// wrong must end in a thrown error of a specific kind with a message naming the problem — through
// the library API — or a clear message and exit status 1 (runtime) or 2 (usage) through the CLI.
// Never a trap (a signal: shell status ≥ 128), never a hang, never a write outside a buffer.
// Tiny shapes only: the whole file runs in seconds on lavapipe.

// MARK: - Helpers

/// The error's kind, as the matrix names it: the QLinearError / VulkanError case.
func errorKind(_ error: any Error) -> String {
    switch error {
    case let e as QLinearError:
        switch e {
        case .invalidShape: return "invalidShape"
        case .invalidFormat: return "invalidFormat"
        case .nonFinite: return "nonFinite"
        case .unsupported: return "unsupported"
        case .io: return "io"
        }
    case let e as VulkanError:
        switch e {
        case .call: return "vulkanCall"
        case .noDevice: return "noDevice"
        case .unsupported: return "vulkanUnsupported"
        case .outOfRange: return "outOfRange"
        }
    default: return "other \(type(of: error))"
    }
}

/// A safetensors file from a raw header (JSON text, not validated) and data bytes.
func rawSafetensors(_ header: String, data: [UInt8] = []) -> [UInt8] {
    let h = Array(header.utf8)
    var out: [UInt8] = (0..<8).map { UInt8(truncatingIfNeeded: UInt64(h.count) >> (8 * UInt64($0))) }
    out += h
    out += data
    return out
}

/// A serialized file whose tensors are given; `mutate` edits the tensors before writing.
func validInputs(op: Op = .fp16, m: Int = 2, n: Int = 3, k: Int = 32, mutate: (inout Safetensors) -> Void = { _ in }) -> [UInt8] {
    var f = Safetensors()
    let x = (0..<(m * k)).map { Float(($0 % 7) - 3) / 4 }
    f.tensors["x"] = .f32(x, shape: [m, k])
    switch op {
    case .fp16:
        f.tensors["weight"] = .f16((0..<(n * k)).map { Float(($0 % 5) - 2) / 8 }, shape: [n, k])
    case .q4gsw, .dq8ca_q4gsw:
        f.tensors["weight"] = .init(dtype: .U8, shape: [n, k / 2], data: (0..<(n * k / 2)).map { UInt8($0 % 256) })
        f.tensors["scales"] = .f32([Float](repeating: 0.25, count: n), shape: [n, 1])
    case .dq8ca_q8csw:
        f.tensors["weight"] = .init(dtype: .I8, shape: [n, k], data: (0..<(n * k)).map { UInt8($0 % 256) })
        f.tensors["scales"] = .f32([Float](repeating: 0.25, count: n), shape: [n])
    }
    mutate(&f)
    return (try? f.serialize()) ?? []
}

/// Corrupt or mutated safetensors files: (name, bytes, expected message fragment). All are
/// `invalidFormat` from `Safetensors.parse`, and exit 1 from `qlinear run` / `quantize`.
enum CorruptFiles {
    static let x4 = "\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}"
    static let cases: [(name: String, bytes: [UInt8], fragment: String)] = [
        ("empty file", [], "shorter than the 8-byte header length"),
        ("truncated header length", [4, 0, 0, 0, 0], "shorter than the 8-byte header length"),
        ("header length past EOF", [200, 0, 0, 0, 0, 0, 0, 0, 123, 34], "header length 200 does not fit a 10-byte file"),
        ("header length 2^63", [0, 0, 0, 0, 0, 0, 0, 0x80, 123, 125], "does not fit"),
        ("header length 0", [0, 0, 0, 0, 0, 0, 0, 0], "header length 0 does not fit"),
        ("non-JSON header", rawSafetensors("{x:1"), "header is not valid JSON"),
        ("JSON array header", rawSafetensors("[1,2]"), "header is not valid JSON"),
        ("non-string metadata", rawSafetensors("{\"__metadata__\":{\"a\":1}}"), "header is not valid JSON"),
        ("shape number past Int64", rawSafetensors("{\"x\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999],\"data_offsets\":[0,4]}}", data: [0, 0, 0, 0]),
         "header is not valid JSON"),
        ("overflowing shape (count)", rawSafetensors("{\"x\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]}}", data: [0, 0, 0, 0]),
         "shape [4294967296, 4294967296] overflows"),
        ("overflowing shape (count · element size)", rawSafetensors("{\"x\":{\"dtype\":\"F32\",\"shape\":[2305843009213693952],\"data_offsets\":[0,4]}}", data: [0, 0, 0, 0]),
         "at 4 bytes per element overflows"),
        ("negative dimension", rawSafetensors("{\"x\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", data: [0, 0, 0, 0]), "negative dimension"),
        ("negative offset", rawSafetensors("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", data: [0, 0, 0, 0]),
         "offsets [-4, 0] fall outside the 4-byte data region"),
        ("reversed offsets", rawSafetensors("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", data: [0, 0, 0, 0]), "fall outside"),
        ("offsets past the data", rawSafetensors("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", data: [0, 0, 0, 0]),
         "offsets [0, 8] fall outside the 4-byte data region"),
        ("offset near Int.max", rawSafetensors("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[9223372036854775803,9223372036854775807]}}", data: [0, 0, 0, 0]),
         "fall outside"),
        ("three offsets", rawSafetensors("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", data: [0, 0, 0, 0]), "fall outside"),
        ("overlapping tensors", rawSafetensors("{\(x4),\"y\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", data: [UInt8](repeating: 0, count: 8)),
         "overlap"),
        ("unknown dtype", rawSafetensors("{\"x\":{\"dtype\":\"Q9\",\"shape\":[1],\"data_offsets\":[0,4]}}", data: [0, 0, 0, 0]), "unknown dtype Q9"),
        ("shape ≠ byte count", rawSafetensors("{\"x\":{\"dtype\":\"F32\",\"shape\":[3,3],\"data_offsets\":[0,16]}}", data: [UInt8](repeating: 0, count: 16)),
         "needs 36 bytes, offsets give 16"),
        ("missing data_offsets", rawSafetensors("{\"x\":{\"dtype\":\"F32\",\"shape\":[1]}}", data: [0, 0, 0, 0]), "header is not valid JSON"),
        ("data cut short", Array(validInputs().dropLast(4)), "fall outside"),
    ]
}

// MARK: - Library API

/// One library call that must throw `kind` with `fragment` in its message.
struct LibCase: Sendable, CustomTestStringConvertible {
    var name: String
    var kind: String
    var fragment: String
    var body: @Sendable () throws -> Void
    var testDescription: String { name }
}

/// A tiny layer per op for the cases that need one (built once).
enum Layers {
    static let fp16: Result<LinearLayer, any Error> = Result {
        try LinearLayer(context: try Shared.ctx(), weights: .fp16(n: 4, k: 8, values: [Float16](repeating: 0.5, count: 32)), act: .f16)
    }
    static let dqf32: Result<LinearLayer, any Error> = Result {
        let w = try Q8CSWWeights.quantize([Float](repeating: 0.25, count: 2 * 8), n: 2, k: 8)
        return try LinearLayer(context: try Shared.ctx(), weights: .q8csw(w), act: .f32)
    }
    static let q4f32: Result<LinearLayer, any Error> = Result {
        let w = try Q4GSWWeights(n: 2, k: 32, groupSize: 32, packed: [UInt8](repeating: 0x98, count: 32), scales: [0.5, -0.25])
        return try LinearLayer(context: try Shared.ctx(), weights: .q4gsw(w), act: .f32)
    }
}

let tinyCaps = Capabilities(name: "synthetic tiny", kind: .integrated, subgroupSize: 32, sharedMemoryBytes: 32768,
                            maxStorageBufferRange: 1 << 20, deviceLocalMemoryBytes: 1 << 21)

let libraryCases: [LibCase] = [
    // Sizes and counts (overflow-checked, never a trap).
    LibCase(name: "fp16 weights with 3 values for N·K = 16", kind: "invalidFormat", fragment: "fp16 weights: 3 values, N·K = 16 expected") {
        _ = try LinearLayer(context: try Shared.ctx(), weights: .fp16(n: 4, k: 4, values: [1, 2, 3]))
    },
    LibCase(name: "fp16 weights N·K overflows", kind: "invalidShape", fragment: "overflows") {
        try LinearWeights.fp16(n: 1 << 40, k: 1 << 30, values: []).validate()
    },
    LibCase(name: "fp16 weights N = 0", kind: "invalidShape", fragment: "N and K must be ≥ 1") {
        try LinearWeights.fp16(n: 0, k: 4, values: []).validate()
    },
    LibCase(name: "Q4GSWWeights N = 2^40", kind: "invalidFormat", fragment: "packed weight has 0 bytes") {
        _ = try Q4GSWWeights(n: 1 << 40, k: 32, groupSize: 32, packed: [], scales: [])
    },
    LibCase(name: "Q4GSWWeights N·K overflows", kind: "invalidShape", fragment: "q4gsw N·K") {
        _ = try Q4GSWWeights(n: 1 << 62, k: 64, groupSize: 32, packed: [], scales: [])
    },
    LibCase(name: "Q4GSWWeights group 12", kind: "invalidShape", fragment: "positive multiple of 8 (got 12)") {
        _ = try Q4GSWWeights(n: 1, k: 48, groupSize: 12, packed: [UInt8](repeating: 0, count: 24), scales: [1, 1, 1, 1])
    },
    LibCase(name: "Q4GSWWeights K not a multiple of the group", kind: "invalidShape", fragment: "K (40) must be a multiple of the group size (32)") {
        _ = try Q4GSWWeights(n: 1, k: 40, groupSize: 32, packed: [UInt8](repeating: 0, count: 20), scales: [1])
    },
    LibCase(name: "Q4GSWWeights wrong scale count", kind: "invalidFormat", fragment: "1 scales, N·K/groupSize = 2 expected") {
        _ = try Q4GSWWeights(n: 2, k: 32, groupSize: 32, packed: [UInt8](repeating: 0, count: 32), scales: [1])
    },
    LibCase(name: "Q4GSWWeights.quantize N = 2^40", kind: "invalidShape", fragment: "0 weights, N·K") {
        _ = try Q4GSWWeights.quantize([], n: 1 << 40, k: 32, groupSize: 32)
    },
    LibCase(name: "Q4GSWWeights.quantize N·K overflows", kind: "invalidShape", fragment: "overflows") {
        _ = try Q4GSWWeights.quantize([], n: Int.max, k: 32, groupSize: 32)
    },
    LibCase(name: "Q8CSWWeights N = 2^40", kind: "invalidFormat", fragment: "q8csw: 0 values") {
        _ = try Q8CSWWeights(n: 1 << 40, k: 32, values: [], scales: [])
    },
    LibCase(name: "Q8CSWWeights.quantize N = Int.max", kind: "invalidShape", fragment: "overflows") {
        _ = try Q8CSWWeights.quantize([], n: Int.max, k: 2)
    },
    LibCase(name: "bias with the wrong count", kind: "invalidShape", fragment: "bias has 3 values, N = 4 expected") {
        _ = try LinearLayer(context: try Shared.ctx(), weights: .fp16(n: 4, k: 8, values: [Float16](repeating: 0, count: 32)), bias: [0, 0, 0])
    },
    LibCase(name: "forward with M = Int.max / 2", kind: "invalidShape", fragment: "overflows") {
        _ = try Layers.fp16.get().forward([1], m: Int.max / 2)
    },
    LibCase(name: "forward with M = 0", kind: "invalidShape", fragment: "M must be ≥ 1 (got 0)") {
        _ = try Layers.fp16.get().forward([], m: 0)
    },
    LibCase(name: "forward with M = -1", kind: "invalidShape", fragment: "negative size") {
        _ = try Layers.fp16.get().forward([], m: -1)
    },
    LibCase(name: "forward with x too short", kind: "invalidShape", fragment: "x has 7 values, M·K = 1·8 expected") {
        _ = try Layers.fp16.get().forward([Float](repeating: 0, count: 7), m: 1)
    },
    LibCase(name: "forward(bytes:) with the wrong byte count", kind: "invalidShape", fragment: "x has 15 bytes, M·K·2 = 16 expected") {
        _ = try Layers.fp16.get().forward(bytes: [UInt8](repeating: 0, count: 15), m: 1)
    },
    LibCase(name: "forward(bytes:) with M = Int.min", kind: "invalidShape", fragment: "M must be ≥ 1") {
        _ = try Layers.fp16.get().forward(bytes: [], m: Int.min)
    },
    LibCase(name: "plan for M = 0", kind: "invalidShape", fragment: "M, N, K must be ≥ 1") {
        _ = try Layers.fp16.get().plan(m: 0)
    },
    LibCase(name: "scratch for M = 0", kind: "invalidShape", fragment: "M must be ≥ 1") {
        _ = try Layers.fp16.get().makeScratch(m: 0)
    },
    LibCase(name: "inputBytes for M = Int.max", kind: "invalidShape", fragment: "overflows") {
        _ = try Layers.fp16.get().inputBytes(m: Int.max)
    },
    LibCase(name: "Problem with M·N ≥ 2^31", kind: "invalidShape", fragment: "< 2^31 elements") {
        try Problem(op: .fp16, m: Int.max, n: Int.max, k: 1).validate()
    },
    LibCase(name: "Problem dq8ca with K > 131072", kind: "invalidShape", fragment: "would overflow int32 accumulation") {
        try Problem(op: .dq8ca_q8csw, m: 1, n: 1, k: 131_080).validate()
    },
    LibCase(name: "Checked.roundUp past Int.max", kind: "invalidShape", fragment: "overflows") {
        _ = try Checked.roundUp(Int.max - 2, 8, "test")
    },
    // Device limits, checked on the capabilities before any allocation.
    LibCase(name: "Problem over maxStorageBufferRange", kind: "unsupported", fragment: "buffer fp16 weights would be 2097152 bytes, more than the device's maxStorageBufferRange (1048576 bytes)") {
        try Problem(op: .fp16, m: 1, n: 1024, k: 1024).validate(for: tinyCaps)
    },
    LibCase(name: "Problem x over maxStorageBufferRange", kind: "unsupported", fragment: "buffer x would be") {
        try Problem(op: .q4gsw, m: 1 << 20, n: 1, k: 32, groupSize: 32, act: .f32).validate(for: tinyCaps)
    },
    LibCase(name: "Problem over device memory", kind: "unsupported", fragment: "more than the device's 2097152 bytes of device-local memory") {
        try Problem(op: .fp16, m: 1000, n: 256, k: 256, act: .f32).validate(for: tinyCaps)
    },
    LibCase(name: "bench-sized fp16 problem on the real device", kind: "unsupported", fragment: "maxStorageBufferRange") {
        try Problem(op: .fp16, m: 1, n: 46340, k: 46340).validate(for: try Shared.ctx().capabilities)
    },
    // Non-finite input (policy: rejected with nonFinite).
    LibCase(name: "x with NaN", kind: "nonFinite", fragment: "x[0, 1] = nan") {
        var x = [Float](repeating: 1, count: 8); x[1] = .nan
        _ = try Layers.fp16.get().forward(x, m: 1)
    },
    LibCase(name: "x with -inf", kind: "nonFinite", fragment: "x[1, 2] = -inf") {
        var x = [Float](repeating: 1, count: 16); x[10] = -.infinity
        _ = try Layers.fp16.get().forward(x, m: 2)
    },
    LibCase(name: "x overflowing fp16 activations", kind: "nonFinite", fragment: "x[0, 3] = 100000.0 overflows fp16") {
        var x = [Float](repeating: 1, count: 8); x[3] = 1e5
        _ = try Layers.fp16.get().forward(x, m: 1)
    },
    LibCase(name: "fp16 x bytes holding NaN", kind: "nonFinite", fragment: "x[0, 2] = nan") {
        var b = [UInt8](repeating: 0, count: 16); b[4] = 0x00; b[5] = 0x7E
        _ = try Layers.fp16.get().forward(bytes: b, m: 1)
    },
    LibCase(name: "fp32 x bytes holding +inf", kind: "nonFinite", fragment: "x[0, 31] = inf") {
        var b = [UInt8](repeating: 0, count: 128); b[124...127] = [0, 0, 0x80, 0x7F]
        _ = try Layers.q4f32.get().forward(bytes: b, m: 1)
    },
    LibCase(name: "dq8ca fp32 row whose range overflows fp32", kind: "nonFinite", fragment: "x row 1: max − min (with 0 included) overflows fp32") {
        var x = [Float](repeating: 1, count: 24); x[9] = -3e38; x[13] = 2e38
        _ = try Layers.dqf32.get().forward(x, m: 3)
    },
    LibCase(name: "fp16 weights with inf", kind: "nonFinite", fragment: "fp16 weight [1, 0] is inf") {
        var v = [Float16](repeating: 0, count: 8); v[4] = .infinity
        try LinearWeights.fp16(n: 2, k: 4, values: v).validate()
    },
    LibCase(name: "q4gsw scales with inf", kind: "nonFinite", fragment: "q4gsw: scale 1 is inf") {
        _ = try Q4GSWWeights(n: 2, k: 32, groupSize: 32, packed: [UInt8](repeating: 0, count: 32), scales: [1, .infinity])
    },
    LibCase(name: "q8csw scales with NaN", kind: "nonFinite", fragment: "q8csw: scale 0 is nan") {
        _ = try Q8CSWWeights(n: 1, k: 4, values: [1, 2, 3, 4], scales: [.nan])
    },
    LibCase(name: "bias with NaN", kind: "nonFinite", fragment: "bias[2] = nan") {
        _ = try LinearLayer(context: try Shared.ctx(), weights: .fp16(n: 4, k: 8, values: [Float16](repeating: 0, count: 32)), bias: [0, 0, .nan, 0])
    },
    LibCase(name: "bias overflowing fp16", kind: "nonFinite", fragment: "bias[0] = 70000.0 overflows fp16") {
        _ = try LinearLayer(context: try Shared.ctx(), weights: .fp16(n: 4, k: 8, values: [Float16](repeating: 0, count: 32)), bias: [7e4, 0, 0, 0], act: .f16)
    },
    LibCase(name: "quantize weights with NaN", kind: "nonFinite", fragment: "weight 5 is nan") {
        var w = [Float](repeating: 1, count: 32); w[5] = .nan
        _ = try Q4GSWWeights.quantize(w, n: 1, k: 32, groupSize: 32)
    },
    LibCase(name: "quantize finite weights whose fp16 scale overflows", kind: "invalidShape", fragment: "overflows fp16 (max 65504); use fp32 scales") {
        _ = try Q8CSWWeights.quantize([Float](repeating: 1e8, count: 4), n: 1, k: 4, scaleDType: .f16)
    },
    // Buffers: ranges checked before any copy.
    LibCase(name: "Buffer.write at offset Int.max", kind: "outOfRange", fragment: "write of 4 bytes at 9223372036854775807 into a 16-byte buffer") {
        let b = try Buffer(device: try Shared.ctx().device, size: 16)
        try b.write(array: [UInt32(1)], offset: Int.max)
    },
    LibCase(name: "Buffer.write past the end", kind: "outOfRange", fragment: "write of 8 bytes at 12 into a 16-byte buffer") {
        let b = try Buffer(device: try Shared.ctx().device, size: 16)
        try b.write(array: [UInt32(1), 2], offset: 12)
    },
    LibCase(name: "Buffer.read count -1", kind: "outOfRange", fragment: "read of -1 values") {
        let b = try Buffer(device: try Shared.ctx().device, size: 16)
        _ = try b.read(as: UInt32.self, count: -1)
    },
    LibCase(name: "Buffer.read count Int.max", kind: "outOfRange", fragment: "read of 9223372036854775807 values") {
        let b = try Buffer(device: try Shared.ctx().device, size: 16)
        _ = try b.read(as: UInt32.self, count: Int.max)
    },
    LibCase(name: "Buffer.read at a negative offset", kind: "outOfRange", fragment: "at -4 from a 16-byte buffer") {
        let b = try Buffer(device: try Shared.ctx().device, size: 16)
        _ = try b.read(as: UInt8.self, count: 1, offset: -4)
    },
    LibCase(name: "Buffer of 0 bytes", kind: "outOfRange", fragment: "buffer size must be > 0") {
        _ = try Buffer(device: try Shared.ctx().device, size: 0)
    },
    LibCase(name: "Buffer of Int.max bytes", kind: "outOfRange", fragment: "exceeds the device's maxStorageBufferRange") {
        _ = try Buffer(device: try Shared.ctx().device, size: Int.max)
    },
    // Tensors built through the API (not parsed).
    LibCase(name: "Tensor.floats with shape [Int.max, 2]", kind: "invalidFormat", fragment: "element count overflows") {
        _ = try Safetensors.Tensor(dtype: .F32, shape: [Int.max, 2], data: []).floats()
    },
    LibCase(name: "Tensor.floats with shape [2^62] F32", kind: "invalidFormat", fragment: "byte count overflows") {
        _ = try Safetensors.Tensor(dtype: .F32, shape: [1 << 62], data: []).floats()
    },
    LibCase(name: "Tensor.floats with a negative dimension", kind: "invalidFormat", fragment: "negative dimension") {
        _ = try Safetensors.Tensor(dtype: .F16, shape: [-2, -2], data: [0, 0, 0, 0, 0, 0, 0, 0]).floats()
    },
    LibCase(name: "Tensor.floats with too few bytes", kind: "invalidFormat", fragment: "has 3 bytes, 4 expected") {
        _ = try Safetensors.Tensor(dtype: .F32, shape: [1], data: [0, 0, 0]).floats()
    },
    LibCase(name: "serialize a tensor with an overflowing shape", kind: "invalidFormat", fragment: "overflows") {
        _ = try Safetensors(tensors: ["x": .init(dtype: .F32, shape: [Int.max, 2], data: [])]).serialize()
    },
    LibCase(name: "Interop inputs with 3-D x", kind: "invalidShape", fragment: "x must be [M, K], got [1, 2, 3]") {
        var f = Safetensors(); f.tensors["x"] = .f32([Float](repeating: 0, count: 6), shape: [1, 2, 3])
        _ = try Interop.inputs(op: .fp16, from: f)
    },
    LibCase(name: "Interop inputs without weight", kind: "invalidFormat", fragment: "tensor \"weight\" is missing") {
        var f = Safetensors(); f.tensors["x"] = .f32([0, 0], shape: [1, 2])
        _ = try Interop.inputs(op: .fp16, from: f)
    },
    LibCase(name: "Interop inputs with an overflowing bias shape", kind: "invalidShape", fragment: "bias must have N = 3 values") {
        var f = try Safetensors.parse(validInputs())
        f.tensors["bias"] = .init(dtype: .F32, shape: [Int.max, 3], data: [])
        _ = try Interop.inputs(op: .fp16, from: f)
    },
    LibCase(name: "Interop q8 scales with an overflowing shape", kind: "invalidFormat", fragment: "scales must be F16/F32 [N]") {
        var f = try Safetensors.parse(validInputs(op: .dq8ca_q8csw))
        f.tensors["scales"] = .init(dtype: .F32, shape: [Int.max, Int.max], data: [])
        _ = try Interop.inputs(op: .dq8ca_q8csw, from: f)
    },
    // Files.
    LibCase(name: "read a missing file", kind: "io", fragment: "cannot read /nonexistent/qlinear.safetensors: No such file or directory") {
        _ = try Safetensors.read(path: "/nonexistent/qlinear.safetensors")
    },
    LibCase(name: "read a directory", kind: "io", fragment: "is a directory") {
        _ = try Safetensors.read(path: FileManager.default.temporaryDirectory.path)
    },
    LibCase(name: "write into a missing directory", kind: "io", fragment: "cannot open /nonexistent/out.safetensors for writing: No such file or directory") {
        try Safetensors().write(path: "/nonexistent/out.safetensors")
    },
]

@Suite("Bad input: library API", .serialized)
struct BadInputLibraryTests {
    @Test("each bad input throws its error kind and message", arguments: libraryCases)
    func libraryCase(_ c: LibCase) {
        do {
            try c.body()
            Issue.record("\(c.name): did not throw (expected \(c.kind): \(c.fragment))")
        } catch {
            #expect(errorKind(error) == c.kind, "\(c.name): \(error)")
            #expect("\(error)".contains(c.fragment), "\(c.name): \(error)")
        }
    }

    @Test("corrupt safetensors bytes are invalidFormat with the reason", arguments: CorruptFiles.cases.indices)
    func corruptParse(_ i: Int) {
        let c = CorruptFiles.cases[i]
        do {
            _ = try Safetensors.parse(c.bytes)
            Issue.record("\(c.name): parsed")
        } catch {
            #expect(errorKind(error) == "invalidFormat", "\(c.name): \(error)")
            #expect("\(error)".contains(c.fragment), "\(c.name): \(error)")
        }
    }

    @Test("zero-size tensors may share an offset (not an overlap)")
    func emptyTensorsShareOffsets() throws {
        let f = try Safetensors.parse(rawSafetensors("{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
                                                    data: [0, 0, 0x80, 0x3F]))
        #expect(try f.require("b").floats() == [1])
        #expect(f.tensors["a"]?.count == 0)
        #expect(Safetensors.Tensor(dtype: .U8, shape: [Int.max, 2], data: []).count == -1)
    }

    @Test("the dispatcher rejects a problem past the device's buffer range, naming the buffer")
    func dispatcherUsesDeviceLimits() {
        let d = Dispatcher.decide(Problem(op: .fp16, m: 1, n: 1024, k: 1024), caps: tinyCaps)
        #expect(d.chosen == nil)
        #expect(d.why.contains { $0.contains("maxStorageBufferRange (1048576 bytes)") }, "\(d.why)")
        let ok = Dispatcher.decide(Problem(op: .fp16, m: 1, n: 64, k: 64), caps: tinyCaps)
        #expect(ok.chosen != nil, "\(ok.why)")
    }

    /// GGUF Q4_0 and other converters produce negative scales; they are valid and must give
    /// w = (q − 8)·scale exactly as a CPU loop does.
    @Test("q4gsw with negative scales matches a CPU loop", arguments: [KernelKind.tiled, .gemv])
    func negativeScales(_ kernel: KernelKind) throws {
        let ctx = try Shared.ctx()
        let (m, n, k, g) = (3, 5, 64, 32)
        var rng = SplitMix64(seed: 7)
        let packed = (0..<(n * k / 2)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let scales: [Float] = (0..<(n * k / g)).map { i in (i % 2 == 0 ? -1 : 1) * Float(i + 1) / 16 }
        let w = try Q4GSWWeights(n: n, k: k, groupSize: g, packed: packed, scales: scales)
        let layer = try LinearLayer(context: ctx, weights: .q4gsw(w), act: .f32)
        let x = (0..<(m * k)).map { i in Float((i * 37) % 17 - 8) / 8 }
        let plan = try? layer.plan(m: m, kernel: kernel)
        #expect(plan != nil || kernel != .tiled, "the tiled kernel runs everywhere")
        guard plan != nil else { return }   // this device has no such kernel (KernelTests covers which)
        let out = try layer.forward(x, m: m, kernel: kernel)
        for r in 0..<m {
            for c in 0..<n {
                var ref = 0.0, mag = 0.0
                for j in 0..<k {
                    let t = Double(x[r * k + j]) * Double(w.q(c, j)) * Double(scales[c * (k / g) + j / g])
                    ref += t; mag += abs(t)
                }
                #expect(abs(Double(out.y[r * n + c]) - ref) <= mag * 1e-5 + 1e-6, "y[\(r), \(c)] = \(out.y[r * n + c]), CPU \(ref)")
            }
        }
        #expect(scales.contains { $0 < 0 })
    }

    /// fp16 outputs follow IEEE: a true value past 65504 is ±inf, and the other rows are unaffected.
    @Test("fp16 outputs that overflow are ±inf; other rows exact", arguments: [KernelKind.tiled, .gemv])
    func fp16OutputOverflow(_ kernel: KernelKind) throws {
        let ctx = try Shared.ctx()
        let (n, k) = (4, 16)
        let layer = try LinearLayer(context: ctx, weights: .fp16(n: n, k: k, values: [Float16](repeating: 256, count: n * k)), act: .f16)
        let plan = try? layer.plan(m: 3, kernel: kernel)
        #expect(plan != nil || kernel != .tiled, "the tiled kernel runs everywhere")
        guard plan != nil else { return }
        // Row 0: 16 · 256 · 64 = 262144 > 65504 → +inf; row 1: −inf; row 2: 16 · 256 · 0.5 = 2048, exact.
        let x = [Float](repeating: 64, count: k) + [Float](repeating: -64, count: k) + [Float](repeating: 0.5, count: k)
        let y = try layer.forward(x, m: 3, kernel: kernel).y
        #expect(y[0..<n].allSatisfy { $0 == .infinity }, "\(y)")
        #expect(y[n..<(2 * n)].allSatisfy { $0 == -.infinity }, "\(y)")
        #expect(y[(2 * n)...].allSatisfy { $0 == 2048 }, "\(y)")
    }
}

// MARK: - CLI

/// One invocation of the built `qlinear`: expected exit status and a message fragment.
struct CLICase: Sendable, CustomTestStringConvertible {
    var args: [String]
    var status: Int32
    var fragment: String
    var testDescription: String { args.joined(separator: " ") }
}

/// Files the CLI cases read, written once into a temporary directory.
enum CLIFiles {
    static let dir: String = {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("qlinear-badinput-\(getpid())").path
        try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        func put(_ name: String, _ bytes: [UInt8]) { _ = FileManager.default.createFile(atPath: d + "/" + name, contents: Data(bytes)) }
        for (i, c) in CorruptFiles.cases.enumerated() { put("corrupt-\(i).safetensors", c.bytes) }
        put("empty.txt", [])
        put("comments.txt", Array("# nothing\n\n".utf8))
        put("bad-shape.txt", Array("5x7x64\n5x7\n".utf8))
        put("good.safetensors", validInputs())
        put("nan-x.safetensors", validInputs { $0.tensors["x"] = .f32([1, .nan] + [Float](repeating: 0, count: 62), shape: [2, 32]) })
        put("inf-scales.safetensors", validInputs(op: .q4gsw) { $0.tensors["scales"] = .f32([1, .infinity, 1], shape: [3, 1]) })
        put("f32-weight.safetensors", validInputs { $0.tensors["weight"] = .f32([Float](repeating: 0, count: 96), shape: [3, 32]) })
        put("no-weight.safetensors", validInputs { $0.tensors["weight"] = nil })
        put("x-3d.safetensors", validInputs { $0.tensors["x"] = .f32([Float](repeating: 0, count: 64), shape: [2, 1, 32]) })
        put("huge-w.safetensors", rawSafetensors("{\"weight\":{\"dtype\":\"F32\",\"shape\":[2305843009213693952],\"data_offsets\":[0,4]}}", data: [0, 0, 0, 0]))
        put("w-big.safetensors", validInputs { $0.tensors = ["weight": .f32([Float](repeating: 1e8, count: 32), shape: [1, 32])] })
        // Found by Fuzz/fuzz-tuning: a coopmat rule with WM = 0 made the dispatcher divide by zero.
        put("tuning-wm0.json", Array(#"{"name": "t", "provenance": "fuzz", "coopmat": [{"tile": {"bm": 64, "bn": 64, "wm": 0, "wn": 2}}]}"#.utf8))
        put("w-nan.safetensors", validInputs { $0.tensors = ["weight": .f32([1, 2, .nan] + [Float](repeating: 0, count: 29), shape: [1, 32])] })
        return d
    }()
    static func path(_ name: String) -> String { dir + "/" + name }
}

let cliCases: [CLICase] = {
    func c(_ status: Int32, _ fragment: String, _ args: String...) -> CLICase { CLICase(args: args, status: status, fragment: fragment) }
    let f = CLIFiles.path
    var cases: [CLICase] = [
        // Usage errors: exit 2.
        c(2, "is invalid for '--shape <shape>'", "explain", "--op", "fp16", "--shape", "4611686018427387904x1x2"),
        c(2, "is invalid for '--shape <shape>'", "explain", "--op", "fp16", "--shape", "4xx4x4"),
        c(2, "is invalid for '--shape <shape>'", "explain", "--op", "fp16", "--shape", "+1x+8x+32"),
        c(2, "is invalid for '--shape <shape>'", "explain", "--op", "fp16", "--shape", "0x8x32"),
        c(2, "is invalid for '--shape <shape>'", "explain", "--op", "fp16", "--shape=-1x8x32"),
        c(2, "MxNxK", "explain", "--op", "fp16", "--shape", "1x8"),
        c(2, "is invalid for '--shape <shape>'", "bench", "--op", "fp16", "--shape", "1x 8x32"),
        c(2, "'--json' does not take any value", "explain", "--op", "fp16", "--shape", "1x8x32", "--json=1"),
        c(2, "'--bias' does not take any value", "explain", "--op", "fp16", "--shape", "1x8x32", "--bias=no"),
        c(2, "Please provide one of 'fp16', 'q4gsw'", "explain", "--op", "q3", "--shape", "1x8x32"),
        c(2, "'--act <act>'", "explain", "--op", "fp16", "--shape", "1x8x32", "--act", "bf16"),
        c(2, "--group must be a positive multiple of 8, got 12", "explain", "--op", "q4gsw", "--shape", "1x8x48", "--group", "12"),
        c(2, "--group must be a positive multiple of 8, got 0", "bench", "--op", "q4gsw", "--shape", "1x8x48", "--group", "0"),
        c(2, "tile \"0x0/1x1\"", "explain", "--op", "fp16", "--shape", "1x8x32", "--tile", "0x0/1x1"),
        c(2, "K step must be 16, 32 or 64, got 48", "explain", "--op", "fp16", "--shape", "1x8x32", "--k-step", "48"),
        c(2, "prefetch distance must be 1 or 2 K steps, got 3", "explain", "--op", "fp16", "--shape", "1x8x32", "--prefetch", "3"),
        c(2, "raster group must be 1…64 tile rows, got 0", "explain", "--op", "fp16", "--shape", "1x8x32", "--swizzle", "0"),
        c(2, "ablation flags must be 0…7 (1, 2, 4: the prefill forms' loads, MMAs, stores) or 8…56 in steps of 8 (8, 16, 32: gemv_frag_dqs's diagnostics), got 9", "bench", "--op", "fp16", "--shape", "1x8x32", "--ablate", "9"),
        c(2, "or 8…56 in steps of 8", "bench", "--op", "fp16", "--shape", "1x8x32", "--ablate", "64"),
        c(2, "--extend-up refines a table: it needs --keep-base", "tune", "--kernel", "coopmat", "--extend-up"),
        c(2, "--warmup-seconds must be in 0…60, got -1.0", "generate", "--model", f("missing.gguf"), "-p", "x", "--warmup", "--warmup-seconds=-1"),
        c(2, "run takes one kernel", "run", "--op", "fp16", "--kernel", "all", "--inputs", f("good.safetensors"), "-o", f("out.safetensors")),
        c(2, "check runs explicit kernels", "check", "--kernel", "auto"),
        c(2, "lists no shapes", "check", "--shapes", f("empty.txt")),
        c(2, "lists no shapes", "check", "--shapes", f("comments.txt")),
        c(2, "bad-shape.txt:2", "check", "--shapes", f("bad-shape.txt")),
        c(2, "--iters must be in 1…10000", "bench", "--iters", "0"),
        c(2, "--suite and --shape cannot be combined", "bench", "--suite", "--shape", "1x8x32"),
        c(2, "--json and --format md disagree", "bench", "--quick", "--format", "md", "--json"),
        c(2, "--report and --against-current apply to a sweep", "tune", "--kernel", "gemv", "--from", f("missing.json"), "--against-current"),
        c(2, "'--format <format>'", "quantize", "--format", "q3", "--inputs", f("w-big.safetensors"), "-o", f("q.safetensors")),
        c(2, "--group must be a positive multiple of 8, got 12", "quantize", "--format", "q4gsw", "--group", "12", "--inputs", f("w-big.safetensors"), "-o", f("q.safetensors")),
        c(2, "p must be followed by 1…16", "explain", "--op", "q4gsw", "--shape", "1x64x256", "--gemv", "1x128x1gp17"),
        c(2, "unexpected \"x\" after the g", "explain", "--op", "q4gsw", "--shape", "1x64x256", "--gemv", "1x128x1gs2x"),
        c(2, "unexpected \"wx\" after the f", "explain", "--op", "q4gsw", "--shape", "64x64x256", "--gemv", "1x128x1fs2wx"),
        c(2, "the K block (k) is 128 or 256", "explain", "--op", "dq8ca_q8csw", "--shape", "512x64x512", "--gemv", "1x512x1ft64lk200"),
        c(2, "int8 MMAs (i) are a choice of the prefill form (tN) with B by coopMatLoad (l)", "explain", "--op", "dq8ca_q4gsw", "--shape", "512x64x512", "--gemv", "1x512x1ft64i"),
        c(2, "t must be followed by 32…128", "explain", "--op", "dq8ca_q8csw", "--shape", "512x64x512", "--gemv", "1x512x1ft256l"),
        c(2, "x rows split over 1, 2 or 4 subgroups", "explain", "--op", "dq8ca_q8csw", "--shape", "512x64x512", "--gemv", "1x512x1ft128lhs3"),
        c(1, "subgroups per column (1, 2, 4, 8 or 16) must divide", "bench", "--quick", "--op", "q4gsw", "--shape", "1x64x256", "--kernel", "gemv", "--gemv", "1x128x1gs3"),
        c(2, "Unexpected argument 'frobnicate'", "frobnicate"),
        c(2, "Unknown option '--jsn'", "devices", "--jsn"),
        // Runtime errors: exit 1.
        c(1, "K (100) must be a multiple of the group size (32)", "explain", "--op", "q4gsw", "--shape", "4x4x100", "--group", "32"),
        c(1, "< 2^31 elements", "explain", "--op", "fp16", "--shape", "100000x100000x1"),
        c(1, "would overflow int32 accumulation", "explain", "--op", "dq8ca_q8csw", "--shape", "1x1x200000"),
        c(1, "maxStorageBufferRange", "explain", "--op", "fp16", "--shape", "1x46340x46340"),
        c(1, "buffer fp16 weights would be 4295161920 bytes", "bench", "--op", "fp16", "--shape", "1x46340x46340"),
        c(1, "maxStorageBufferRange", "check", "--op", "fp16", "--kernel", "tiled", "--shape", "1x46340x46340"),
        c(1, "device index 7 does not exist", "devices", "--device", "7"),
        c(1, "no device name contains \"no-such-gpu\"", "explain", "--op", "fp16", "--shape", "1x8x32", "--device", "no-such-gpu"),
        c(1, "cannot read /nonexistent/table.json", "explain", "--op", "fp16", "--shape", "1x8x32", "--tuning", "/nonexistent/table.json"),
        c(1, "coopmat rule 0 has tile 64x64/0x2, K step 32; each must be in 1…1024", "explain", "--op", "fp16", "--shape", "256x256x256", "--tuning", f("tuning-wm0.json")),
        c(1, "not a regular file", "check", "--shapes", CLIFiles.dir),
        c(1, "No such file or directory", "check", "--shapes", "/nonexistent/shapes.txt"),
        c(1, "cannot read /nonexistent/in.safetensors: No such file or directory", "run", "--op", "fp16", "--inputs", "/nonexistent/in.safetensors", "-o", f("out.safetensors")),
        c(1, "is a directory", "run", "--op", "fp16", "--inputs", CLIFiles.dir, "-o", f("out.safetensors")),
        c(1, "non-finite input: x[0, 1] = nan", "run", "--op", "fp16", "--inputs", f("nan-x.safetensors"), "-o", f("out.safetensors")),
        c(1, "non-finite input: q4gsw: scale 1 is inf", "run", "--op", "q4gsw", "--inputs", f("inf-scales.safetensors"), "-o", f("out.safetensors")),
        c(1, "fp16 weight must be F16 [N, 32]", "run", "--op", "fp16", "--inputs", f("f32-weight.safetensors"), "-o", f("out.safetensors")),
        c(1, "tensor \"weight\" is missing", "run", "--op", "fp16", "--inputs", f("no-weight.safetensors"), "-o", f("out.safetensors")),
        c(1, "x must be [M, K], got [2, 1, 32]", "run", "--op", "fp16", "--inputs", f("x-3d.safetensors"), "-o", f("out.safetensors")),
        c(1, "INT4 weight must be U8", "run", "--op", "q4gsw", "--inputs", f("good.safetensors"), "-o", f("out.safetensors")),
        c(1, "cannot open /nonexistent/out.safetensors for writing", "run", "--op", "fp16", "--inputs", f("good.safetensors"), "-o", "/nonexistent/out.safetensors"),
        c(1, "at 4 bytes per element overflows", "quantize", "--format", "q4gsw", "--inputs", f("huge-w.safetensors"), "-o", f("q.safetensors")),
        c(1, "overflows fp16 (max 65504)", "quantize", "--format", "q8csw", "--inputs", f("w-big.safetensors"), "-o", f("q.safetensors")),
        c(1, "non-finite input: weight 2 is nan", "quantize", "--format", "q8csw", "--inputs", f("w-nan.safetensors"), "-o", f("q.safetensors")),
        c(1, "1 requested case(s) could not run", "bench", "--quick", "--op", "fp16", "--shape", "9x16x32", "--kernel", "gemv"),
    ]
    for (i, k) in CorruptFiles.cases.enumerated() {
        cases.append(CLICase(args: ["run", "--op", "fp16", "--inputs", f("corrupt-\(i).safetensors"), "-o", f("out.safetensors")], status: 1, fragment: k.fragment))
    }
    return cases
}()

@Suite("Bad input: CLI", .serialized)
struct BadInputCLITests {
    /// Runs the built binary with a 60 s limit; the status is the shell's (128 + signal for a signal).
    static func run(_ args: [String]) throws -> (status: Int32, signaled: Bool, out: String, err: String, seconds: Double) {
        let bin = try #require(CLITests.binary, "build the qlinear product first (swift build --build-tests builds it)")
        let p = Process()
        p.executableURL = bin
        p.arguments = args
        var env = ProcessInfo.processInfo.environment
        env["QLINEAR_DEVICE"] = nil
        p.environment = env
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        let t0 = Date()
        try p.run()
        let watchdog = DispatchWorkItem { if p.isRunning { p.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + 60, execute: watchdog)
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        watchdog.cancel()
        let signaled = p.terminationReason == .uncaughtSignal
        return (signaled ? 128 + p.terminationStatus : p.terminationStatus, signaled,
                String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self), Date().timeIntervalSince(t0))
    }

    @Test("each bad invocation exits 1 or 2 with its message, never by a signal", arguments: cliCases)
    func cliCase(_ c: CLICase) throws {
        let r = try Self.run(c.args)
        #expect(!r.signaled && r.status < 128, "trapped: status \(r.status)\n\(r.err)")
        #expect(r.status == c.status, "exit \(r.status), expected \(c.status)\n\(r.err)")
        #expect((r.err + r.out).contains(c.fragment), "missing \"\(c.fragment)\" in:\n\(r.err)")
        #expect(!r.err.contains("CocoaError") && !r.err.contains("Fatal error"), "\(r.err)")
        #expect(!r.err.contains("Vulkan validation"), "validation layers reported:\n\(r.err)")
        #expect(r.seconds < 30, "took \(r.seconds) s")
    }

    /// The 12.7 GB problem fails on the device limit before anything is generated on the host.
    @Test("bench --shape 1x46340x46340 fails fast, before host allocation")
    func benchFailsFast() throws {
        let r = try Self.run(["bench", "--op", "fp16", "--shape", "1x46340x46340"])
        #expect(r.status == 1)
        #expect(r.seconds < 5, "took \(r.seconds) s")
        #expect(!r.err.contains("preparing weights"), "\(r.err)")
    }
}

@Suite("Bad input: waits", .serialized)
struct BadInputWaitTests {
    /// GPU waits are bounded: NaN, negative or huge timeouts never trap, and a wait that times
    /// out throws with the limit and leaves the stream pending, so a later wait still completes it.
    @Test("odd fence timeouts never trap; a timed-out wait leaves the stream pending")
    func fenceTimeouts() throws {
        let ctx = try Shared.ctx()
        let (m, n, k) = (64, 256, 512)
        let layer = try LinearLayer(context: ctx, weights: .fp16(n: n, k: k, values: [Float16](repeating: 0.25, count: n * k)), act: .f32)
        let plan = try layer.plan(m: m, kernel: .tiled)
        let x = try Buffer(device: ctx.device, size: try layer.inputBytes(m: m))
        try x.write(array: [Float](repeating: 1, count: m * k))
        let y = try Buffer(device: ctx.device, size: try layer.outputBytes(m: m))
        let scratch = try layer.makeScratch(m: m)
        let s = try CommandStream(device: ctx.device, maxDispatches: 32)
        for _ in 0..<32 { try layer.encode(s, plan: plan, x: BufferBinding(x), y: BufferBinding(y), scratch: scratch); try s.barrier() }
        try s.submit()
        var timedOut = false
        do { try s.wait(timeoutSeconds: .nan) } catch {
            timedOut = true
            #expect("\(error)".contains("GPU work did not finish in nan s"), "\(error)")
            #expect(thrownText { try s.submit() }?.contains("still pending (wait first)") == true)
        }
        if timedOut { _ = thrownText { try s.wait(timeoutSeconds: -1) } }   // a poll: done or still pending, never a trap
        try s.wait(timeoutSeconds: .infinity)
        try s.wait(timeoutSeconds: 1e300)
        #expect(try y.read(as: Float.self, count: 1) == [128])   // 512 · 0.25 · 1
    }
}
