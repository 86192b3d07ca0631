#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import QLinear

// A GGUF (llama.cpp model file) reader. Layout, all little-endian:
//   magic "GGUF", version u32 (2 or 3), tensor count u64, metadata count u64,
//   metadata: key (string) + value type u32 + value,
//   tensor infos: name (string), n_dims u32, dims u64 × n_dims, type u32, offset u64,
//   padding to `general.alignment` (default 32), then the data region; each tensor's offset is
//   relative to the data region and a multiple of the alignment.
// Strings are u64 length + UTF-8 bytes. Arrays are element type u32 + count u64 + elements.
// The file is memory-mapped; nothing is read before its bounds are checked.

/// The value types of GGUF metadata.
public enum GGUFValueType: UInt32, Sendable, CaseIterable {
    case uint8 = 0, int8 = 1, uint16 = 2, int16 = 3, uint32 = 4, int32 = 5, float32 = 6, bool = 7
    case string = 8, array = 9, uint64 = 10, int64 = 11, float64 = 12

    /// Size in bytes of a fixed-size value (nil for strings and arrays).
    var fixedSize: Int? {
        switch self {
        case .uint8, .int8, .bool: return 1
        case .uint16, .int16: return 2
        case .uint32, .int32, .float32: return 4
        case .uint64, .int64, .float64: return 8
        case .string, .array: return nil
        }
    }
}

/// One GGUF metadata value.
public indirect enum GGUFValue: Sendable, Equatable, CustomStringConvertible {
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16), uint32(UInt32), int32(Int32)
    case uint64(UInt64), int64(Int64), float32(Float), float64(Double), bool(Bool), string(String)
    /// Element type and elements (all of that type; arrays of arrays are allowed).
    case array(GGUFValueType, [GGUFValue])

    /// Any integer value as `Int` (nil when not an integer or out of `Int`'s range).
    public var int: Int? {
        switch self {
        case .uint8(let v): return Int(v)
        case .int8(let v): return Int(v)
        case .uint16(let v): return Int(v)
        case .int16(let v): return Int(v)
        case .uint32(let v): return Int(v)
        case .int32(let v): return Int(v)
        case .uint64(let v): return Int(exactly: v)
        case .int64(let v): return Int(v)
        default: return nil
        }
    }

    /// Any numeric value as `Double`.
    public var double: Double? {
        switch self {
        case .float32(let v): return Double(v)
        case .float64(let v): return v
        default: return int.map(Double.init)
        }
    }

    /// The string, if this is a string value.
    public var string: String? { if case .string(let s) = self { return s }; return nil }
    /// The flag, if this is a bool value.
    public var bool: Bool? { if case .bool(let b) = self { return b }; return nil }

    /// Elements of an array of strings.
    public var strings: [String]? {
        guard case .array(.string, let a) = self else { return nil }
        return a.compactMap(\.string)
    }

    /// Elements of an array of integers.
    public var ints: [Int]? {
        guard case .array(_, let a) = self else { return nil }
        let v = a.compactMap(\.int)
        return v.count == a.count ? v : nil
    }

    /// Elements of an array of numbers.
    public var doubles: [Double]? {
        guard case .array(_, let a) = self else { return nil }
        let v = a.compactMap(\.double)
        return v.count == a.count ? v : nil
    }

    /// The value's type.
    public var type: GGUFValueType {
        switch self {
        case .uint8: return .uint8
        case .int8: return .int8
        case .uint16: return .uint16
        case .int16: return .int16
        case .uint32: return .uint32
        case .int32: return .int32
        case .uint64: return .uint64
        case .int64: return .int64
        case .float32: return .float32
        case .float64: return .float64
        case .bool: return .bool
        case .string: return .string
        case .array: return .array
        }
    }

    /// Short text: scalars in full, arrays as `[type × count]`, long strings shortened.
    public var description: String {
        switch self {
        case .string(let s): return s.count > 80 ? String(s.prefix(77)) + "…" : s
        case .array(let t, let a): return "[\(t) × \(a.count)]"
        case .float32(let v): return "\(v)"
        case .float64(let v): return "\(v)"
        case .bool(let b): return "\(b)"
        default: return int.map { "\($0)" } ?? "?"
        }
    }
}

/// GGUF metadata values by key, with typed lookups that throw a clear error for a missing key or
/// a value of another type. Comes from a GGUF file (`GGUFFile.typedMetadata`) or from the `gguf.*`
/// metadata a QLinear safetensors file carries (`QLinearSafetensors.ggufMetadata`).
public struct GGUFMetadata: Sendable {
    /// The values by key.
    public let values: [String: GGUFValue]
    /// Where the values came from, for error messages (`GGUF`, a file name…).
    public let origin: String

    /// Wraps `values`; `origin` prefixes error messages.
    public init(_ values: [String: GGUFValue], origin: String) { self.values = values; self.origin = origin }

    /// The value of `key`, if present.
    public subscript(key: String) -> GGUFValue? { values[key] }

    private func value(_ key: String) throws -> GGUFValue {
        guard let v = values[key] else { throw QLinearError.invalidFormat("\(origin): metadata \(key) is missing") }
        return v
    }
    /// An integer value.
    public func int(_ key: String) throws -> Int {
        let v = try value(key)
        guard let i = v.int else { throw QLinearError.invalidFormat("\(origin): metadata \(key) is \(v.type), an integer expected") }
        return i
    }
    /// A numeric value (integer or float).
    public func double(_ key: String) throws -> Double {
        let v = try value(key)
        guard let d = v.double else { throw QLinearError.invalidFormat("\(origin): metadata \(key) is \(v.type), a number expected") }
        return d
    }
    /// A string value.
    public func string(_ key: String) throws -> String {
        let v = try value(key)
        guard let s = v.string else { throw QLinearError.invalidFormat("\(origin): metadata \(key) is \(v.type), a string expected") }
        return s
    }
}

/// ggml tensor types. Those QLinear can read values from: F32, F16, BF16, Q8_0, Q4_0, Q4_1;
/// the others are listed (with their block sizes) so files holding them can still be inspected.
public enum GGMLType: UInt32, Sendable, CaseIterable, CustomStringConvertible {
    case f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q5_0 = 6, q5_1 = 7, q8_0 = 8, q8_1 = 9
    case q2_k = 10, q3_k = 11, q4_k = 12, q5_k = 13, q6_k = 14, q8_k = 15
    case i8 = 24, i16 = 25, i32 = 26, i64 = 27, f64 = 28, bf16 = 30

    /// Values per block and bytes per block.
    public var block: (values: Int, bytes: Int) {
        switch self {
        case .f32: return (1, 4)
        case .f16, .bf16: return (1, 2)
        case .q4_0: return (32, 18)
        case .q4_1: return (32, 20)
        case .q5_0: return (32, 22)
        case .q5_1: return (32, 24)
        case .q8_0: return (32, 34)
        case .q8_1: return (32, 36)
        case .q2_k: return (256, 84)
        case .q3_k: return (256, 110)
        case .q4_k: return (256, 144)
        case .q5_k: return (256, 176)
        case .q6_k: return (256, 210)
        case .q8_k: return (256, 292)
        case .i8: return (1, 1)
        case .i16: return (1, 2)
        case .i32: return (1, 4)
        case .i64, .f64: return (1, 8)
        }
    }

    /// Whether `GGUFFile.floats` can dequantize this type.
    public var isReadable: Bool { [.f32, .f16, .bf16, .q8_0, .q4_0, .q4_1].contains(self) }

    /// ggml's name for the type ("Q4_0", "F16", …).
    public var description: String {
        switch self {
        case .f32: return "F32"
        case .f16: return "F16"
        case .bf16: return "BF16"
        case .f64: return "F64"
        case .i8: return "I8"
        case .i16: return "I16"
        case .i32: return "I32"
        case .i64: return "I64"
        case .q4_0: return "Q4_0"
        case .q4_1: return "Q4_1"
        case .q5_0: return "Q5_0"
        case .q5_1: return "Q5_1"
        case .q8_0: return "Q8_0"
        case .q8_1: return "Q8_1"
        case .q2_k: return "Q2_K"
        case .q3_k: return "Q3_K"
        case .q4_k: return "Q4_K"
        case .q5_k: return "Q5_K"
        case .q6_k: return "Q6_K"
        case .q8_k: return "Q8_K"
        }
    }
}

/// One tensor's description from the GGUF header.
public struct GGUFTensorInfo: Sendable, Equatable {
    /// Tensor name, e.g. `blk.0.attn_q.weight`.
    public let name: String
    /// ggml dims: `dims[0]` is the contiguous one. A GGUF matrix [K, N] is PyTorch's [N, K].
    public let dims: [Int]
    /// Storage type.
    public let type: GGMLType
    /// Offset relative to the data region.
    public let offset: Int
    /// Element count (product of dims) and byte size (checked for overflow when the file was opened).
    public let count: Int
    public let bytes: Int

    /// A 2-D tensor as a PyTorch-style matrix: n rows (output channels) of k contiguous values.
    /// Trailing dims of 1 are allowed.
    public func matrix() throws -> (n: Int, k: Int) {
        guard dims.count >= 1, dims.dropFirst(2).allSatisfy({ $0 == 1 }) else {
            throw QLinearError.invalidShape("tensor \(name) has dims \(dims), a matrix [K, N] expected")
        }
        return (dims.count > 1 ? dims[1] : 1, dims[0])
    }
}

/// A read-only memory map of a whole file; unmapped when released.
final class MappedFile: @unchecked Sendable {
    let base: UnsafeRawPointer?
    let size: Int

    init(path: String) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw QLinearError.io("cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw QLinearError.io("cannot stat \(path): \(String(cString: strerror(errno)))") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw QLinearError.io("\(path) is not a regular file") }
        size = Int(st.st_size)
        if size == 0 { base = nil; return }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw QLinearError.io("cannot map \(path): \(String(cString: strerror(errno)))")
        }
        base = UnsafeRawPointer(p)
    }

    /// In-memory bytes (used for tests and small files).
    init(copying bytes: [UInt8]) {
        size = bytes.count
        if bytes.isEmpty { base = nil; return }
        let p = UnsafeMutableRawPointer.allocate(byteCount: bytes.count, alignment: 64)
        bytes.withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        base = UnsafeRawPointer(p)
        owned = true
    }
    private var owned = false

    var buffer: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: size) }

    /// Tells the kernel the pages of [offset, offset + count) are not needed for now (they are
    /// read again from the file if touched): keeps a one-pass reader's resident memory small.
    func dontNeed(offset: Int, count: Int) {
        guard !owned, let base, count > 0, offset >= 0, offset <= size - count else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        guard page > 0 else { return }
        let lo = (offset + page - 1) / page * page, hi = (offset + count) / page * page
        if hi > lo { _ = madvise(UnsafeMutableRawPointer(mutating: base + lo), hi - lo, MADV_DONTNEED) }
    }

    deinit {
        guard let base else { return }
        if owned { UnsafeMutableRawPointer(mutating: base).deallocate() } else { munmap(UnsafeMutableRawPointer(mutating: base), size) }
    }
}

/// Bounds-checked little-endian reads from the mapped header.
struct GGUFCursor {
    let buf: UnsafeRawBufferPointer
    var pos = 0

    var remaining: Int { buf.count - pos }

    mutating func take(_ n: Int, _ what: @autoclosure () -> String) throws -> Int {
        guard n >= 0, n <= remaining else {
            throw QLinearError.invalidFormat("GGUF truncated: \(what()) needs \(n) bytes at offset \(pos), file has \(buf.count)")
        }
        let p = pos; pos += n; return p
    }

    mutating func read<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws -> T {
        let p = try take(MemoryLayout<T>.size, what())
        return T(littleEndian: buf.loadUnaligned(fromByteOffset: p, as: T.self))
    }

    mutating func count(_ what: @autoclosure () -> String, elementSize: Int) throws -> Int {
        let v = try read(UInt64.self, what())
        // Every element takes at least `elementSize` bytes, so a count past the remaining bytes is corrupt.
        guard let n = Int(exactly: v), n <= remaining / max(elementSize, 1) else {
            throw QLinearError.invalidFormat("GGUF truncated or corrupt: \(what()) = \(v) exceeds what the file (\(buf.count) bytes) can hold at offset \(pos)")
        }
        return n
    }

    mutating func string(_ what: @autoclosure () -> String) throws -> String {
        let n = try count("length of \(what())", elementSize: 1)
        let p = try take(n, what())
        guard let s = String(validating: UnsafeRawBufferPointer(rebasing: buf[p..<(p + n)]), as: UTF8.self) else {
            throw QLinearError.invalidFormat("GGUF corrupt: \(what()) at offset \(p) is not valid UTF-8")
        }
        return s
    }

    mutating func value(_ type: GGUFValueType, _ what: String, depth: Int = 0) throws -> GGUFValue {
        switch type {
        case .uint8: return .uint8(try read(UInt8.self, what))
        case .int8: return .int8(try read(Int8.self, what))
        case .uint16: return .uint16(try read(UInt16.self, what))
        case .int16: return .int16(try read(Int16.self, what))
        case .uint32: return .uint32(try read(UInt32.self, what))
        case .int32: return .int32(try read(Int32.self, what))
        case .uint64: return .uint64(try read(UInt64.self, what))
        case .int64: return .int64(try read(Int64.self, what))
        case .float32: return .float32(Float(bitPattern: try read(UInt32.self, what)))
        case .float64: return .float64(Double(bitPattern: try read(UInt64.self, what)))
        case .bool:
            let b = try read(UInt8.self, what)
            guard b <= 1 else { throw QLinearError.invalidFormat("GGUF corrupt: \(what) is a bool with byte value \(b)") }
            return .bool(b == 1)
        case .string: return .string(try string(what))
        case .array:
            guard depth < 4 else { throw QLinearError.invalidFormat("GGUF corrupt: \(what) nests arrays more than 4 deep") }
            let raw = try read(UInt32.self, "element type of \(what)")
            guard let et = GGUFValueType(rawValue: raw) else {
                throw QLinearError.invalidFormat("GGUF corrupt: \(what) has unknown element type \(raw)")
            }
            let n = try count("element count of \(what)", elementSize: et.fixedSize ?? 8)
            var out = [GGUFValue]()
            out.reserveCapacity(n)
            for i in 0..<n { out.append(try value(et, "\(what)[\(i)]", depth: depth + 1)) }
            return .array(et, out)
        }
    }
}

/// A GGUF file opened by memory map: metadata, tensor infos, and typed access to tensor data.
public final class GGUFFile: @unchecked Sendable {
    /// GGUF version (2 or 3).
    public let version: Int
    /// Metadata in file order.
    public let metadataKeys: [String]
    /// Metadata by key.
    public let metadata: [String: GGUFValue]
    /// Tensor infos in file order.
    public let tensors: [GGUFTensorInfo]
    /// `general.alignment` (32 when absent).
    public let alignment: Int
    /// Absolute file offset of the data region.
    public let dataOffset: Int
    /// File size in bytes.
    public let fileSize: Int
    private let byName: [String: Int]
    private let file: MappedFile

    /// Maps and parses `path`. Throws `QLinearError.io` if the file cannot be opened and
    /// `.invalidFormat` if it is not a well-formed GGUF v2/v3 file (every size and offset is
    /// checked against the file before use).
    public convenience init(path: String) throws {
        try self.init(file: try MappedFile(path: path))
    }

    /// Parses a GGUF image held in memory.
    public convenience init(bytes: [UInt8]) throws {
        try self.init(file: MappedFile(copying: bytes))
    }

    init(file: MappedFile) throws {
        self.file = file
        fileSize = file.size
        var c = GGUFCursor(buf: file.buffer)
        let magic = try c.read(UInt32.self, "magic")
        guard magic == 0x4655_4747 else { throw QLinearError.invalidFormat("not a GGUF file (magic 0x\(String(magic, radix: 16)), \"GGUF\" expected)") }
        let v = try c.read(UInt32.self, "version")
        guard v == 2 || v == 3 else { throw QLinearError.invalidFormat("GGUF version \(v) is not supported (2 or 3)") }
        version = Int(v)
        // A tensor info is at least 8 (name) + 4 + 4 + 8 bytes; a metadata pair at least 8 + 4 + 1.
        let nTensors = try c.count("tensor count", elementSize: 24)
        let nKV = try c.count("metadata count", elementSize: 13)
        var keys = [String](), meta = [String: GGUFValue]()
        for i in 0..<nKV {
            let key = try c.string("metadata key \(i)")
            guard meta[key] == nil else { throw QLinearError.invalidFormat("GGUF corrupt: metadata key \"\(key)\" appears twice") }
            let raw = try c.read(UInt32.self, "type of \(key)")
            guard let t = GGUFValueType(rawValue: raw) else { throw QLinearError.invalidFormat("GGUF corrupt: \(key) has unknown value type \(raw)") }
            meta[key] = try c.value(t, key)
            keys.append(key)
        }
        metadataKeys = keys; metadata = meta
        var align = 32
        if let a = meta["general.alignment"] {
            guard case .uint32(let av) = a, av > 0, av.nonzeroBitCount == 1, av <= 1 << 20 else {
                throw QLinearError.invalidFormat("GGUF corrupt: general.alignment must be a uint32 power of two ≤ 2^20 (got \(a))")
            }
            align = Int(av)
        }
        alignment = align
        var infos = [GGUFTensorInfo](), index = [String: Int]()
        infos.reserveCapacity(nTensors)
        for i in 0..<nTensors {
            let name = try c.string("name of tensor \(i)")
            guard index[name] == nil else { throw QLinearError.invalidFormat("GGUF corrupt: tensor \"\(name)\" appears twice") }
            let nd = try c.read(UInt32.self, "dimension count of \(name)")
            guard nd >= 1, nd <= 4 else { throw QLinearError.invalidFormat("GGUF corrupt: tensor \(name) has \(nd) dimensions (1…4 allowed)") }
            var dims = [Int](), count = 1
            for d in 0..<Int(nd) {
                let raw = try c.read(UInt64.self, "dimension \(d) of \(name)")
                guard let dv = Int(exactly: raw), dv >= 1 else { throw QLinearError.invalidFormat("GGUF corrupt: tensor \(name) dimension \(d) is \(raw)") }
                let (p, o) = count.multipliedReportingOverflow(by: dv)
                guard !o else { throw QLinearError.invalidFormat("GGUF corrupt: tensor \(name) dims \(dims + [dv]) overflow the element count") }
                dims.append(dv); count = p
            }
            let rawType = try c.read(UInt32.self, "type of \(name)")
            guard let type = GGMLType(rawValue: rawType) else { throw QLinearError.invalidFormat("GGUF: tensor \(name) has unknown ggml type \(rawType)") }
            let rawOff = try c.read(UInt64.self, "offset of \(name)")
            let (bv, bb) = type.block
            guard dims[0] % bv == 0 else {
                throw QLinearError.invalidFormat("GGUF corrupt: tensor \(name) row length \(dims[0]) is not a multiple of the \(type) block size \(bv)")
            }
            let (bytes, o) = (count / bv).multipliedReportingOverflow(by: bb)
            guard !o, let off = Int(exactly: rawOff) else { throw QLinearError.invalidFormat("GGUF corrupt: tensor \(name) size or offset overflows") }
            guard off % align == 0 else { throw QLinearError.invalidFormat("GGUF corrupt: tensor \(name) offset \(off) is not a multiple of the alignment \(align)") }
            index[name] = infos.count
            infos.append(GGUFTensorInfo(name: name, dims: dims, type: type, offset: off, count: count, bytes: bytes))
        }
        tensors = infos; byName = index
        let (padded, o) = c.pos.addingReportingOverflow(align - 1)
        guard !o else { throw QLinearError.invalidFormat("GGUF corrupt: header size overflows") }
        dataOffset = padded / align * align
        guard dataOffset <= file.size || infos.isEmpty else {
            throw QLinearError.invalidFormat("GGUF truncated: data region starts at \(dataOffset), file has \(file.size) bytes")
        }
        let dataSize = max(0, file.size - dataOffset)
        for t in infos {
            let (end, o) = t.offset.addingReportingOverflow(t.bytes)
            guard !o, end <= dataSize else {
                throw QLinearError.invalidFormat("GGUF truncated: tensor \(t.name) (\(t.type) \(t.dims), \(t.bytes) bytes at data offset \(t.offset)) ends past the file (data region \(dataSize) bytes)")
            }
        }
    }

    /// The tensor named `name`, or a clear error listing how many tensors exist.
    public func tensor(_ name: String) throws -> GGUFTensorInfo {
        guard let i = byName[name] else { throw QLinearError.invalidFormat("GGUF: tensor \"\(name)\" is missing (\(tensors.count) tensors in file)") }
        return tensors[i]
    }

    /// Whether a tensor named `name` exists.
    public func has(_ name: String) -> Bool { byName[name] != nil }

    /// The metadata with typed lookups (what `LlamaConfig` and `BPETokenizer` read).
    public var typedMetadata: GGUFMetadata { GGUFMetadata(metadata, origin: "GGUF") }

    /// Metadata lookups with clear errors.
    public func int(_ key: String) throws -> Int { try typedMetadata.int(key) }
    /// A numeric metadata value (integer or float).
    public func double(_ key: String) throws -> Double { try typedMetadata.double(key) }
    /// A string metadata value.
    public func string(_ key: String) throws -> String { try typedMetadata.string(key) }

    /// Calls `body` with the raw bytes of `t` (valid only inside `body`).
    public func withBytes<R>(_ t: GGUFTensorInfo, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let start = dataOffset + t.offset
        return try body(UnsafeRawBufferPointer(rebasing: file.buffer[start..<(start + t.bytes)]))
    }

    /// Lets the kernel drop the resident pages of `t`'s data (they are mapped again on access).
    public func releasePages(_ t: GGUFTensorInfo) { file.dontNeed(offset: dataOffset + t.offset, count: t.bytes) }

    /// All values of `t` as Float (F32, F16, BF16, Q8_0, Q4_0, Q4_1), in ggml order
    /// (dims[0] fastest: for a matrix, row-major [N, K]).
    public func floats(_ t: GGUFTensorInfo) throws -> [Float] {
        try floats(t, rows: 0..<(t.count / t.dims[0]))
    }

    /// Values of rows `rows` (a row is dims[0] contiguous values) as Float.
    public func floats(_ t: GGUFTensorInfo, rows: Range<Int>) throws -> [Float] {
        guard t.type.isReadable else { throw QLinearError.unsupported("GGUF: cannot dequantize \(t.type) (tensor \(t.name)); F32, F16, BF16, Q8_0, Q4_0, Q4_1 are supported") }
        let rowLen = t.dims[0], nRows = t.count / rowLen
        guard rows.lowerBound >= 0, rows.upperBound <= nRows else { throw QLinearError.invalidShape("rows \(rows) of \(t.name), which has \(nRows)") }
        let (bv, bb) = t.type.block
        let rowBytes = rowLen / bv * bb
        var out = [Float](repeating: 0, count: rows.count * rowLen)
        withBytes(t) { raw in
            out.withUnsafeMutableBufferPointer { o in
                let src = raw.baseAddress! + rows.lowerBound * rowBytes
                let nBlocks = rows.count * rowLen / bv
                GGUFFile.dequantize(t.type, src, nBlocks: nBlocks, into: o.baseAddress!)
            }
        }
        return out
    }

    @inline(__always) static func half(_ p: UnsafeRawPointer, _ off: Int) -> Float {
        Float(Float16(bitPattern: UInt16(littleEndian: p.loadUnaligned(fromByteOffset: off, as: UInt16.self))))
    }

    static func dequantize(_ type: GGMLType, _ p: UnsafeRawPointer, nBlocks: Int, into o: UnsafeMutablePointer<Float>) {
        switch type {
        case .f32:
            for i in 0..<nBlocks { o[i] = Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
        case .f16:
            for i in 0..<nBlocks { o[i] = half(p, 2 * i) }
        case .bf16:
            for i in 0..<nBlocks { o[i] = Float(bitPattern: UInt32(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) << 16) }
        case .q8_0:
            for b in 0..<nBlocks {
                let blk = p + 34 * b
                let d = half(blk, 0)
                for j in 0..<32 { o[32 * b + j] = Float(Int8(bitPattern: blk.load(fromByteOffset: 2 + j, as: UInt8.self))) * d }
            }
        case .q4_0:
            for b in 0..<nBlocks {
                let blk = p + 18 * b
                let d = half(blk, 0)
                for j in 0..<16 {
                    let q = blk.load(fromByteOffset: 2 + j, as: UInt8.self)
                    o[32 * b + j] = Float(Int(q & 15) - 8) * d
                    o[32 * b + j + 16] = Float(Int(q >> 4) - 8) * d
                }
            }
        case .q4_1:
            for b in 0..<nBlocks {
                let blk = p + 20 * b
                let d = half(blk, 0), m = half(blk, 2)
                for j in 0..<16 {
                    let q = blk.load(fromByteOffset: 4 + j, as: UInt8.self)
                    o[32 * b + j] = Float(q & 15) * d + m
                    o[32 * b + j + 16] = Float(q >> 4) * d + m
                }
            }
        default:
            break
        }
    }
}

/// The QLinear weight format a GGUF matrix is converted to.
public enum GGUFConversion: Sendable, Equatable {
    /// fp16 [N, K]: F16 copied, other types dequantized and rounded to fp16.
    case fp16
    /// INT4 group-symmetric. Q4_0 with group 32 is repacked losslessly (same values, scale
    /// `d`, which may be negative); other types are dequantized and quantized with
    /// `Q4GSWWeights.quantize(…, rule:)` (fp16 scales; by default the error-minimizing scale search).
    case q4gsw(groupSize: Int, rule: Q4ScaleRule = .mse)
    /// INT8 per-channel symmetric: dequantized, then `Q8CSWWeights.quantize` (fp32 scales).
    case q8csw
}

extension GGUFFile {
    /// Converts a GGUF matrix (dims [K, N]) into QLinear weights [N, K].
    public func linearWeights(_ t: GGUFTensorInfo, as conversion: GGUFConversion) throws -> LinearWeights {
        let (n, k) = try t.matrix()
        switch conversion {
        case .fp16:
            var v = [Float16](repeating: 0, count: n * k)
            if t.type == .f16 {
                withBytes(t) { raw in for i in 0..<(n * k) { v[i] = Float16(bitPattern: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) } }
            } else {
                let f = try floats(t)
                for i in 0..<f.count {
                    let h = Float16(f[i])
                    guard h.isFinite else { throw QLinearError.nonFinite("\(t.name)[\(i / k), \(i % k)] = \(f[i]) does not fit in fp16") }
                    v[i] = h
                }
            }
            return .fp16(n: n, k: k, values: v)
        case .q4gsw(let g, let rule):
            guard g >= 8, g % 8 == 0, k % g == 0 else {
                throw QLinearError.invalidShape("\(t.name): K = \(k) is not a multiple of group size \(g) (which must be a multiple of 8)")
            }
            if t.type == .q4_0 && g == 32 { return .q4gsw(try q4gswFromQ4_0(t, n: n, k: k)) }
            return .q4gsw(try Q4GSWWeights.quantize(try floats(t), n: n, k: k, groupSize: g, scaleDType: .f16, rule: rule))
        case .q8csw:
            return .q8csw(try Q8CSWWeights.quantize(try floats(t), n: n, k: k))
        }
    }

    /// Lossless Q4_0 → q4gsw (group 32): GGUF block element j is the low nibble of byte j and
    /// element j+16 its high nibble; q4gsw holds k even in the low nibble and k+1 in the high one.
    /// Both store q with zero point 8, so w = (q − 8)·d in each.
    func q4gswFromQ4_0(_ t: GGUFTensorInfo, n: Int, k: Int) throws -> Q4GSWWeights {
        let (packed, scales) = q4_0Repack(t, rows: 0..<n)
        return try Q4GSWWeights(n: n, k: k, groupSize: 32, packed: packed, scales: scales, scaleDType: .f16)
    }

    /// The q4gsw bytes ([rows, K/2]) and group-32 scales ([rows, K/32]) of rows `rows` of a Q4_0
    /// matrix (rows within the tensor: the caller checks).
    public func q4_0Repack(_ t: GGUFTensorInfo, rows: Range<Int>) -> (packed: [UInt8], scales: [Float]) {
        let k = t.dims[0]
        let blocks = rows.count * k / 32, first = rows.lowerBound * k / 32
        var packed = [UInt8](repeating: 0, count: rows.count * k / 2)
        var scales = [Float](repeating: 0, count: blocks)
        withBytes(t) { raw in
            let p = raw.baseAddress! + 18 * first
            for b in 0..<blocks {
                let blk = p + 18 * b
                scales[b] = GGUFFile.half(blk, 0)
                var q = [UInt8](repeating: 0, count: 32)
                for j in 0..<16 {
                    let byte = blk.load(fromByteOffset: 2 + j, as: UInt8.self)
                    q[j] = byte & 15; q[j + 16] = byte >> 4
                }
                for e in 0..<16 { packed[16 * b + e] = q[2 * e] | q[2 * e + 1] << 4 }
            }
        }
        return (packed, scales)
    }
}
