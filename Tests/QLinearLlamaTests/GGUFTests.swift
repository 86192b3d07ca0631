#if canImport(Glibc)
import Glibc
#endif
import Testing
import QLinear
@testable import QLinearIO
import QLinearCheck

/// Writes small GGUF images for the tests (little-endian, v3).
struct GGUFBuilder {
    var kv: [(String, GGUFValue)] = []
    var tensors: [(name: String, dims: [Int], type: GGMLType, data: [UInt8])] = []
    var alignment = 32
    var version: UInt32 = 3

    static func u32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
    static func u64(_ v: UInt64) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
    static func str(_ s: String) -> [UInt8] { u64(UInt64(s.utf8.count)) + Array(s.utf8) }

    static func value(_ v: GGUFValue) -> [UInt8] {
        switch v {
        case .uint8(let x): return [x]
        case .int8(let x): return [UInt8(bitPattern: x)]
        case .uint16(let x): return withUnsafeBytes(of: x.littleEndian) { Array($0) }
        case .int16(let x): return withUnsafeBytes(of: x.littleEndian) { Array($0) }
        case .uint32(let x): return u32(x)
        case .int32(let x): return u32(UInt32(bitPattern: x))
        case .uint64(let x): return u64(x)
        case .int64(let x): return u64(UInt64(bitPattern: x))
        case .float32(let x): return u32(x.bitPattern)
        case .float64(let x): return u64(x.bitPattern)
        case .bool(let b): return [b ? 1 : 0]
        case .string(let s): return str(s)
        case .array(let t, let a): return u32(t.rawValue) + u64(UInt64(a.count)) + a.flatMap(value)
        }
    }

    /// The file's bytes; each tensor's data is padded to the alignment.
    func build() -> [UInt8] {
        var b = Array("GGUF".utf8) + GGUFBuilder.u32(version) + GGUFBuilder.u64(UInt64(tensors.count)) + GGUFBuilder.u64(UInt64(kv.count))
        for (k, v) in kv { b += GGUFBuilder.str(k) + GGUFBuilder.u32(v.type.rawValue) + GGUFBuilder.value(v) }
        var offsets = [Int](), off = 0
        for t in tensors { offsets.append(off); off = (off + t.data.count + alignment - 1) / alignment * alignment }
        for (i, t) in tensors.enumerated() {
            b += GGUFBuilder.str(t.name) + GGUFBuilder.u32(UInt32(t.dims.count)) + t.dims.flatMap { GGUFBuilder.u64(UInt64($0)) }
            b += GGUFBuilder.u32(t.type.rawValue) + GGUFBuilder.u64(UInt64(offsets[i]))
        }
        while b.count % alignment != 0 { b.append(0) }
        for t in tensors {
            b += t.data
            while b.count % alignment != 0 { b.append(0) }
        }
        return b
    }
}

func f16Bytes(_ v: Float) -> [UInt8] { withUnsafeBytes(of: Float16(v).bitPattern.littleEndian) { Array($0) } }

/// A Q4_0 block: scale d, 32 values q in 0…15 (element j low nibble of byte j, j+16 high nibble).
func q4_0Block(d: Float, q: [UInt8]) -> [UInt8] {
    f16Bytes(d) + (0..<16).map { q[$0] | q[$0 + 16] << 4 }
}

@Suite struct GGUFTests {
    @Test func metadataOfEveryType() throws {
        var g = GGUFBuilder()
        let values: [(String, GGUFValue)] = [
            ("u8", .uint8(200)), ("i8", .int8(-5)), ("u16", .uint16(60000)), ("i16", .int16(-300)),
            ("u32", .uint32(4_000_000_000)), ("i32", .int32(-7)), ("u64", .uint64(1 << 40)), ("i64", .int64(-(1 << 40))),
            ("f32", .float32(1.5)), ("f64", .float64(-2.25)), ("b", .bool(true)), ("s", .string("héllo ✓")),
            ("arr", .array(.string, [.string("a"), .string(""), .string("ccc")])),
            ("ints", .array(.int32, [.int32(1), .int32(-2)])),
            ("nested", .array(.array, [.array(.uint8, [.uint8(1)]), .array(.uint8, [])])),
            ("general.alignment", .uint32(64)),
        ]
        g.kv = values
        g.alignment = 64
        g.tensors = [("t", [2], .f32, GGUFBuilder.u32(Float(1).bitPattern) + GGUFBuilder.u32(Float(-3).bitPattern))]
        let f = try GGUFFile(bytes: g.build())
        #expect(f.version == 3)
        #expect(f.alignment == 64)
        #expect(f.metadataKeys == values.map(\.0))
        for (k, v) in values { #expect(f.metadata[k] == v, "\(k)") }
        #expect(f.metadata["arr"]?.strings == ["a", "", "ccc"])
        #expect(f.metadata["ints"]?.ints == [1, -2])
        #expect(try f.int("u64") == 1 << 40)
        #expect(f.dataOffset % 64 == 0)
        #expect(try f.floats(f.tensor("t")) == [1, -3])
    }

    @Test func dequantizesEveryReadableType() throws {
        var g = GGUFBuilder()
        let f32: [Float] = [0.5, -1, 3.25, 1e-3]
        g.tensors.append(("f32", [4], .f32, f32.flatMap { GGUFBuilder.u32($0.bitPattern) }))
        g.tensors.append(("f16", [4], .f16, f32.flatMap(f16Bytes)))
        g.tensors.append(("bf16", [2], .bf16, [0x80, 0x3f, 0x40, 0xc0]))   // 1.0, −3.0
        let q8: [Int8] = (0..<32).map { Int8($0 * 8 - 128) }
        g.tensors.append(("q8_0", [32], .q8_0, f16Bytes(0.5) + q8.map { UInt8(bitPattern: $0) }))
        let q4: [UInt8] = (0..<32).map { UInt8($0 % 16) }
        g.tensors.append(("q4_0", [32], .q4_0, q4_0Block(d: -0.25, q: q4)))
        g.tensors.append(("q4_1", [32], .q4_1, f16Bytes(0.5) + f16Bytes(-2) + (0..<16).map { q4[$0] | q4[$0 + 16] << 4 }))
        let f = try GGUFFile(bytes: g.build())
        #expect(try f.floats(f.tensor("f32")) == f32)
        #expect(try f.floats(f.tensor("f16")) == f32.map { Float(Float16($0)) })
        #expect(try f.floats(f.tensor("bf16")) == [1, -3])
        #expect(try f.floats(f.tensor("q8_0")) == q8.map { Float($0) * 0.5 })
        #expect(try f.floats(f.tensor("q4_0")) == q4.map { Float(Int($0) - 8) * -0.25 })
        #expect(try f.floats(f.tensor("q4_1")) == q4.map { Float($0) * 0.5 - 2 })
    }

    /// Q4_0 → q4gsw (group 32) keeps every value, negative scales included.
    @Test func q4_0RepackIsLossless() throws {
        var rng = SplitMix64(seed: 7)
        let n = 6, k = 96
        var data = [UInt8]()
        for b in 0..<(n * k / 32) {
            let d = Float(Int(rng.next() % 200) - 100) / 64 + (b % 2 == 0 ? 0.01 : -0.01)
            data += q4_0Block(d: d, q: (0..<32).map { _ in UInt8(rng.next() % 16) })
        }
        var g = GGUFBuilder()
        g.tensors = [("w", [k, n], .q4_0, data)]
        let f = try GGUFFile(bytes: g.build())
        let t = try f.tensor("w")
        #expect(try t.matrix() == (n: n, k: k))
        let ref = try f.floats(t)
        guard case .q4gsw(let w) = try f.linearWeights(t, as: .q4gsw(groupSize: 32)) else { Issue.record("not q4gsw"); return }
        #expect(w.scales.contains { $0 < 0 })
        for r in 0..<n { for c in 0..<k { #expect(Float(w.q(r, c)) * w.scales[r * (k / 32) + c / 32] == ref[r * k + c]) } }
        // Other conversions keep shapes and are close.
        guard case .fp16(let fn, let fk, let v) = try f.linearWeights(t, as: .fp16) else { Issue.record("not fp16"); return }
        #expect(fn == n && fk == k && v.map(Float.init) == ref.map { Float(Float16($0)) })
        #expect(throws: QLinearError.self) { try f.linearWeights(t, as: .q4gsw(groupSize: 64)) }   // 96 % 64 ≠ 0
    }

    /// The repacked Q4_0 layer on the GPU against the dequantized GGUF values on the CPU.
    @Test func q4_0LayerOnGPU() throws {
        var rng = SplitMix64(seed: 11)
        let n = 8, k = 64, m = 3
        var data = [UInt8]()
        for b in 0..<(n * k / 32) { data += q4_0Block(d: b % 2 == 0 ? 0.03 : -0.05, q: (0..<32).map { _ in UInt8(rng.next() % 16) }) }
        var g = GGUFBuilder()
        g.tensors = [("w", [k, n], .q4_0, data)]
        let f = try GGUFFile(bytes: g.build())
        let t = try f.tensor("w")
        let w = try f.floats(t)
        let x = (0..<(m * k)).map { _ in Float(Int(rng.next() % 17) - 8) / 8 }
        let layer = try LinearLayer(context: try QLinearContext(instance: TestValidation.instance), weights: try f.linearWeights(t, as: .q4gsw(groupSize: 32)), act: .f32)
        let y = try layer.forward(x, m: m).y
        for i in 0..<m { for j in 0..<n {
            var s = 0.0
            for c in 0..<k { s += Double(x[i * k + c]) * Double(w[j * k + c]) }
            // Exact inputs (k/8 and multiples of d); fp32 accumulation of 64 terms.
            #expect(abs(Double(y[i * n + j]) - s) <= 1e-4 * max(1, abs(s)), "y[\(i),\(j)]")
        } }
    }

    @Test func everyTruncationThrows() throws {
        var g = GGUFBuilder()
        g.kv = [("s", .string("abc")), ("a", .array(.uint16, [.uint16(1), .uint16(2)]))]
        g.tensors = [("t", [32], .q8_0, [UInt8](repeating: 1, count: 34)), ("u", [8], .f32, [UInt8](repeating: 0, count: 32))]
        let full = g.build()
        _ = try GGUFFile(bytes: full)
        for len in 0..<full.count {
            // Every proper prefix must be rejected with an error, never a trap.
            #expect(throws: QLinearError.self, "prefix \(len)") { try GGUFFile(bytes: Array(full.prefix(len))) }
        }
    }

    @Test func corruptFilesThrow() throws {
        func expectBad(_ bytes: [UInt8], _ what: String) {
            #expect(throws: QLinearError.self, "\(what)") { try GGUFFile(bytes: bytes) }
        }
        var g = GGUFBuilder()
        g.kv = [("k", .uint32(1))]
        g.tensors = [("t", [4], .f32, [UInt8](repeating: 0, count: 16))]
        let good = g.build()
        _ = try GGUFFile(bytes: good)
        var b = good; b[0] = 0x47 ^ 1; expectBad(b, "magic")
        b = good; b[4] = 1; expectBad(b, "version 1")
        // Huge tensor / metadata counts.
        b = good; for i in 8..<16 { b[i] = 0xff }; expectBad(b, "tensor count")
        b = good; for i in 16..<24 { b[i] = 0xff }; expectBad(b, "kv count")
        // Key length past the end.
        b = good; for i in 24..<32 { b[i] = 0x7f }; expectBad(b, "key length")
        // Unknown value type (key "k": 8 + 1 bytes, then the type).
        b = good; b[33] = 99; expectBad(b, "value type")
        var h = GGUFBuilder()
        h.kv = [("a", .array(.uint32, [.uint32(1)]))]
        var hb = h.build()
        // Array count: after key (8+1), type (4), element type (4).
        for i in (24 + 9 + 8)..<(24 + 9 + 16) { hb[i] = 0xee }
        expectBad(hb, "array count")
        var bad = GGUFBuilder(); bad.kv = [("general.alignment", .uint32(24))]; expectBad(bad.build(), "alignment 24")
        bad = GGUFBuilder(); bad.kv = [("general.alignment", .uint32(0))]; expectBad(bad.build(), "alignment 0")
        bad = GGUFBuilder(); bad.kv = [("general.alignment", .uint64(32))]; expectBad(bad.build(), "alignment type")
        bad = GGUFBuilder(); bad.kv = [("x", .bool(true)), ("x", .bool(false))]; expectBad(bad.build(), "duplicate key")
        bad = GGUFBuilder(); bad.tensors = [("t", [4], .f32, []), ("t", [4], .f32, [])]; expectBad(bad.build(), "duplicate tensor")
        bad = GGUFBuilder(); bad.tensors = [("t", [33], .q4_0, [UInt8](repeating: 0, count: 18))]; expectBad(bad.build(), "row not a block multiple")
        bad = GGUFBuilder(); bad.tensors = [("t", [1 << 32, 1 << 32], .f32, [])]; expectBad(bad.build(), "dims overflow")
        bad = GGUFBuilder(); bad.tensors = [("t", [0], .f32, [])]; expectBad(bad.build(), "zero dim")
        bad = GGUFBuilder(); bad.tensors = [("t", [1, 1, 1, 1, 1], .f32, [0, 0, 0, 0])]; expectBad(bad.build(), "5 dims")
        bad = GGUFBuilder(); bad.kv = [("b", .uint8(0))]; var bb = bad.build(); bb[33] = 7; bb[37] = 2
        expectBad(bb, "bool byte 2")
        // Tensor type, offset: the tensor info follows the metadata.
        let infoStart = 24 + 8 + 1 + 4 + 4
        b = good; b[infoStart + 8 + 1 + 4 + 8] = 77; expectBad(b, "tensor type")
        b = good; b[infoStart + 8 + 1 + 4 + 8 + 4] = 4; expectBad(b, "misaligned offset")
        b = good; b[infoStart + 8 + 1 + 4 + 8 + 4 + 1] = 1; expectBad(b, "offset past the end")
        b = good; b[infoStart + 8] = 0xff; expectBad(b, "invalid UTF-8 name")
        // Unsupported types are listed but not dequantized.
        var k = GGUFBuilder(); k.tensors = [("t", [256], .q4_k, [UInt8](repeating: 0, count: 144))]
        let kf = try GGUFFile(bytes: k.build())
        #expect(throws: QLinearError.self) { try kf.floats(kf.tensor("t")) }
        #expect(throws: QLinearError.self) { try kf.tensor("missing") }
    }

    @Test func mapsFilesAndReportsIOErrors() throws {
        #expect(throws: QLinearError.self) { try GGUFFile(path: "/nonexistent/model.gguf") }
        #expect(throws: QLinearError.self) { try GGUFFile(path: "/tmp") }
        var g = GGUFBuilder()
        g.tensors = [("t", [2], .f32, GGUFBuilder.u32(Float(2).bitPattern) + GGUFBuilder.u32(Float(4).bitPattern))]
        let path = "/tmp/qlinear-gguf-test-\(getpid()).gguf"
        let bytes = g.build()
        guard let fp = fopen(path, "wb") else { Issue.record("cannot write \(path)"); return }
        _ = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, fp) }
        fclose(fp)
        defer { unlink(path) }
        let f = try GGUFFile(path: path)
        #expect(try f.floats(f.tensor("t")) == [2, 4])
        let empty = path + ".empty"
        fclose(fopen(empty, "wb"))
        defer { unlink(empty) }
        #expect(throws: QLinearError.self) { try GGUFFile(path: empty) }
    }
}
