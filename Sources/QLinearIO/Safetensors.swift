#if canImport(Glibc)
import Glibc
#endif
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import QLinear

/// A minimal safetensors reader/writer with strict bounds checks. Format: 8-byte little-endian
/// header length, a JSON header {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {…}},
/// then the data region. Every offset is checked against the file before anything is read.
public struct Safetensors: Sendable {
    public enum DTypeName: String, Sendable, CaseIterable {
        case F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL
        public var size: Int {
            switch self {
            case .F64, .I64: return 8
            case .F32, .I32: return 4
            case .F16, .BF16, .I16: return 2
            case .I8, .U8, .BOOL: return 1
            }
        }
    }

    /// One tensor: dtype, shape and its bytes — either owned (built in memory) or a view into a
    /// memory-mapped file (`Safetensors.read`), which stays mapped while any tensor refers to it.
    public struct Tensor: Sendable {
        public var dtype: DTypeName
        public var shape: [Int]
        enum Storage: Sendable {
            case owned([UInt8])
            case mapped(MappedFile, offset: Int, count: Int)
        }
        var storage: Storage

        /// The bytes (a copy when the tensor is a view into a mapped file; use `withUnsafeBytes`
        /// to read them in place).
        public var data: [UInt8] {
            get {
                switch storage {
                case .owned(let a): return a
                case .mapped: return withUnsafeBytes { Array($0) }
                }
            }
            set { storage = .owned(newValue) }
        }

        /// Number of bytes held (without copying them).
        public var storedByteCount: Int {
            switch storage {
            case .owned(let a): return a.count
            case .mapped(_, _, let count): return count
            }
        }

        /// Calls `body` with the tensor's bytes, in place (valid only inside `body`).
        public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
            switch storage {
            case .owned(let a): return try a.withUnsafeBytes(body)
            case .mapped(let f, let offset, let count):
                return try body(UnsafeRawBufferPointer(rebasing: f.buffer[offset..<(offset + count)]))
            }
        }

        /// Lets the kernel drop the resident pages of a mapped tensor (read again on access).
        public func releasePages() {
            if case .mapped(let f, let offset, let count) = storage { f.dontNeed(offset: offset, count: count) }
        }

        /// The number of elements, or -1 when a dimension is negative or the product overflows
        /// (so it never equals a real count; `elementCount()` says which).
        public var count: Int { (try? elementCount()) ?? -1 }

        /// The number of elements; throws `invalidFormat` for a negative dimension or an overflowing product.
        public func elementCount() throws -> Int {
            var r = 1
            for d in shape {
                guard d >= 0 else { throw QLinearError.invalidFormat("tensor \(dtype.rawValue)\(shape) has a negative dimension") }
                let (p, o) = r.multipliedReportingOverflow(by: d)
                guard !o else { throw QLinearError.invalidFormat("tensor \(dtype.rawValue)\(shape): the element count overflows") }
                r = p
            }
            return r
        }

        /// Bytes the shape needs at this dtype (overflow-checked).
        public func byteCount() throws -> Int {
            let (b, o) = try elementCount().multipliedReportingOverflow(by: dtype.size)
            guard !o else { throw QLinearError.invalidFormat("tensor \(dtype.rawValue)\(shape): the byte count overflows") }
            return b
        }

        public init(dtype: DTypeName, shape: [Int], data: [UInt8]) { self.dtype = dtype; self.shape = shape; self.storage = .owned(data) }
        init(dtype: DTypeName, shape: [Int], file: MappedFile, offset: Int, count: Int) {
            self.dtype = dtype; self.shape = shape; self.storage = .mapped(file, offset: offset, count: count)
        }

        /// Values as Float (F32, F16, BF16, F64 and integer types).
        public func floats() throws -> [Float] {
            let bytes = try byteCount()
            guard storedByteCount == bytes else {
                throw QLinearError.invalidFormat("tensor \(dtype.rawValue)\(shape) has \(storedByteCount) bytes, \(bytes) expected")
            }
            return try floats(elements: 0..<(bytes / dtype.size))
        }

        /// Values of the elements `range` (flat, row-major) as Float, read in place.
        public func floats(elements range: Range<Int>) throws -> [Float] {
            guard range.lowerBound >= 0, range.upperBound <= storedByteCount / dtype.size else {
                throw QLinearError.invalidShape("elements \(range) of a \(dtype.rawValue)\(shape) tensor with \(storedByteCount) bytes")
            }
            let lo = range.lowerBound, count = range.count
            return try withUnsafeBytes { raw -> [Float] in
                switch dtype {
                case .F32: return (0..<count).map { Float(bitPattern: raw.loadUnaligned(fromByteOffset: 4 * (lo + $0), as: UInt32.self).littleEndian) }
                case .F16: return (0..<count).map { Float(Float16(bitPattern: raw.loadUnaligned(fromByteOffset: 2 * (lo + $0), as: UInt16.self).littleEndian)) }
                case .BF16: return (0..<count).map { Float(bitPattern: UInt32(raw.loadUnaligned(fromByteOffset: 2 * (lo + $0), as: UInt16.self).littleEndian) << 16) }
                case .F64: return (0..<count).map { Float(Double(bitPattern: raw.loadUnaligned(fromByteOffset: 8 * (lo + $0), as: UInt64.self).littleEndian)) }
                case .I8: return (0..<count).map { Float(Int8(bitPattern: raw[lo + $0])) }
                case .U8: return (0..<count).map { Float(raw[lo + $0]) }
                case .I32: return (0..<count).map { Float(Int32(bitPattern: raw.loadUnaligned(fromByteOffset: 4 * (lo + $0), as: UInt32.self).littleEndian)) }
                default: throw QLinearError.invalidFormat("cannot read \(dtype.rawValue) tensors as floats")
                }
            }
        }

        public static func f32(_ v: [Float], shape: [Int]) -> Tensor {
            var d = [UInt8](); d.reserveCapacity(v.count * 4)
            for x in v { Swift.withUnsafeBytes(of: x.bitPattern.littleEndian) { d.append(contentsOf: $0) } }
            return Tensor(dtype: .F32, shape: shape, data: d)
        }
        public static func f16(_ v: [Float], shape: [Int]) -> Tensor {
            var d = [UInt8](); d.reserveCapacity(v.count * 2)
            for x in v { Swift.withUnsafeBytes(of: Float16(x).bitPattern.littleEndian) { d.append(contentsOf: $0) } }
            return Tensor(dtype: .F16, shape: shape, data: d)
        }
        public static func i32(_ v: [Int32], shape: [Int]) -> Tensor {
            var d = [UInt8](); d.reserveCapacity(v.count * 4)
            for x in v { Swift.withUnsafeBytes(of: x.littleEndian) { d.append(contentsOf: $0) } }
            return Tensor(dtype: .I32, shape: shape, data: d)
        }
    }

    public var tensors: [String: Tensor]
    public var metadata: [String: String]

    public init(tensors: [String: Tensor] = [:], metadata: [String: String] = [:]) { self.tensors = tensors; self.metadata = metadata }

    public func require(_ name: String) throws -> Tensor {
        guard let t = tensors[name] else {
            throw QLinearError.invalidFormat("tensor \"\(name)\" is missing (have: \(tensors.keys.sorted().joined(separator: ", ")))")
        }
        return t
    }

    private struct Entry: Codable {
        var dtype: String
        var shape: [Int]
        var data_offsets: [Int]
    }

    private struct Header: Decodable {
        var entries: [String: Entry] = [:]
        var metadata: [String: String] = [:]
        struct Key: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }
        init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: Key.self)
            for k in c.allKeys {
                if k.stringValue == "__metadata__" { metadata = try c.decode([String: String].self, forKey: k) }
                else { entries[k.stringValue] = try c.decode(Entry.self, forKey: k) }
            }
        }
    }

    /// Parses safetensors bytes, validating the header and every tensor's extent.
    public static func parse(_ bytes: [UInt8]) throws -> Safetensors {
        try parse(file: MappedFile(copying: bytes))
    }

    /// Parses a mapped (or copied) file. Tensors become views into `file`: nothing is copied.
    static func parse(file: MappedFile) throws -> Safetensors {
        let bytes = file.buffer
        guard bytes.count >= 8 else { throw QLinearError.invalidFormat("safetensors: file has \(bytes.count) bytes, shorter than the 8-byte header length") }
        var n: UInt64 = 0
        for i in 0..<8 { n |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        guard n >= 2, n <= UInt64(bytes.count - 8), n <= 100_000_000 else {
            throw QLinearError.invalidFormat("safetensors: header length \(n) does not fit a \(bytes.count)-byte file")
        }
        let headerEnd = 8 + Int(n)
        let header: Header
        do { header = try JSONDecoder().decode(Header.self, from: Data(UnsafeRawBufferPointer(rebasing: bytes[8..<headerEnd]))) } catch {
            throw QLinearError.invalidFormat("safetensors: header is not valid JSON of the expected form (\(error))")
        }
        let dataCount = bytes.count - headerEnd
        var out = Safetensors(metadata: header.metadata)
        var extents: [(begin: Int, end: Int, name: String)] = []
        for (name, e) in header.entries.sorted(by: { $0.key < $1.key }) {
            guard let dt = DTypeName(rawValue: e.dtype) else { throw QLinearError.invalidFormat("safetensors: tensor \"\(name)\" has unknown dtype \(e.dtype)") }
            guard e.data_offsets.count == 2, e.data_offsets[0] >= 0, e.data_offsets[0] <= e.data_offsets[1], e.data_offsets[1] <= dataCount else {
                throw QLinearError.invalidFormat("safetensors: tensor \"\(name)\" offsets \(e.data_offsets) fall outside the \(dataCount)-byte data region")
            }
            guard e.shape.allSatisfy({ $0 >= 0 }) else { throw QLinearError.invalidFormat("safetensors: tensor \"\(name)\" has a negative dimension") }
            var count = 1
            for d in e.shape {
                let (p, o) = count.multipliedReportingOverflow(by: d)
                guard !o else { throw QLinearError.invalidFormat("safetensors: tensor \"\(name)\" shape \(e.shape) overflows") }
                count = p
            }
            let (need, o) = count.multipliedReportingOverflow(by: dt.size)
            guard !o else { throw QLinearError.invalidFormat("safetensors: tensor \"\(name)\" shape \(e.shape) at \(dt.size) bytes per element overflows") }
            guard need == e.data_offsets[1] - e.data_offsets[0] else {
                throw QLinearError.invalidFormat("safetensors: tensor \"\(name)\" \(e.dtype)\(e.shape) needs \(need) bytes, offsets give \(e.data_offsets[1] - e.data_offsets[0])")
            }
            if need > 0 { extents.append((e.data_offsets[0], e.data_offsets[1], name)) }
            // headerEnd + data_offsets[1] ≤ bytes.count: checked above, so neither sum overflows.
            out.tensors[name] = Tensor(dtype: dt, shape: e.shape, file: file, offset: headerEnd + e.data_offsets[0], count: need)
        }
        // Tensors must not share bytes (the format forbids it; a writer that overlaps them is corrupt).
        extents.sort { ($0.begin, $0.name) < ($1.begin, $1.name) }
        for (a, b) in zip(extents, extents.dropFirst()) where b.begin < a.end {
            throw QLinearError.invalidFormat("safetensors: tensors \"\(a.name)\" [\(a.begin), \(a.end)) and \"\(b.name)\" [\(b.begin), \(b.end)) overlap")
        }
        return out
    }

    /// Maps `path` read-only and parses it; tensors are views into the mapping (unmapped when the
    /// last tensor referring to it is released). Errors use errno's words for a missing file,
    /// a directory or a failed map (never a Foundation error's dump).
    public static func read(path: String) throws -> Safetensors {
        var st = stat()
        guard stat(path, &st) == 0 else { throw QLinearError.io("cannot read \(path): \(String(cString: strerror(errno)))") }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw QLinearError.io("cannot read \(path): \((st.st_mode & S_IFMT) == S_IFDIR ? "is a directory" : "not a regular file")")
        }
        return try parse(file: try MappedFile(path: path))
    }

    /// The header entries in data order (names sorted, data packed from offset 0).
    func sortedEntries() throws -> [SafetensorsWriter.Entry] {
        var entries: [SafetensorsWriter.Entry] = []
        for name in tensors.keys.sorted() {
            let t = tensors[name]!
            guard t.storedByteCount == (try t.byteCount()) else { throw QLinearError.invalidFormat("tensor \(name): data size does not match its shape") }
            entries.append(.init(name: name, dtype: t.dtype, shape: t.shape))
        }
        return entries
    }

    /// Serializes (tensors sorted by name, data 8-byte aligned via header padding).
    public func serialize() throws -> [UInt8] {
        let entries = try sortedEntries()
        var out = try SafetensorsWriter.header(entries: entries, metadata: metadata).bytes
        for e in entries { tensors[e.name]!.withUnsafeBytes { out.append(contentsOf: $0) } }
        return out
    }

    /// Writes the file tensor by tensor (nothing is assembled in memory).
    public func write(path: String) throws {
        let entries = try sortedEntries()
        let w = try SafetensorsWriter(path: path, entries: entries, metadata: metadata)
        for e in entries { try tensors[e.name]!.withUnsafeBytes { try w.append($0) } }
        try w.finish()
    }
}

/// Writes a safetensors file in one pass without holding its tensors: the header (with every
/// tensor's offsets computed from the shapes) goes first, then each tensor's bytes are appended
/// in entry order, in as many pieces as the caller likes. The bytes go to `PATH.partial`, renamed
/// to `PATH` by `finish` once every tensor got exactly its bytes; a writer dropped before
/// `finish` (an error on the way) deletes the partial file, so `PATH` is never a truncated file.
public final class SafetensorsWriter {
    public struct Entry: Sendable, Equatable {
        public var name: String
        public var dtype: Safetensors.DTypeName
        public var shape: [Int]
        public init(name: String, dtype: Safetensors.DTypeName, shape: [Int]) { self.name = name; self.dtype = dtype; self.shape = shape }
    }

    /// The header bytes (8-byte length + JSON padded with spaces to a multiple of 8) and each
    /// entry's byte size, overflow-checked.
    static func header(entries: [Entry], metadata: [String: String]) throws -> (bytes: [UInt8], sizes: [Int]) {
        var parts: [String] = []
        if !metadata.isEmpty {
            let m = metadata.sorted { $0.key < $1.key }.map { "\(jsonQuote($0.key)):\(jsonQuote($0.value))" }.joined(separator: ",")
            parts.append("\"__metadata__\":{\(m)}")
        }
        var offset = 0, sizes: [Int] = [], seen = Set<String>()
        for e in entries {
            guard e.name != "__metadata__", seen.insert(e.name).inserted else {
                throw QLinearError.invalidFormat("safetensors: tensor name \"\(e.name)\" is reserved or used twice")
            }
            let size = try Checked.mul(try Checked.product(e.shape, "tensor \(e.name) element count"), e.dtype.size, "tensor \(e.name) bytes")
            let end = try Checked.add(offset, size, "safetensors data size")
            parts.append("\(jsonQuote(e.name)):{\"dtype\":\"\(e.dtype.rawValue)\",\"shape\":[\(e.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(end)]}")
            sizes.append(size)
            offset = end
        }
        var json = Array(("{" + parts.joined(separator: ",") + "}").utf8)
        while (8 + json.count) % 8 != 0 { json.append(0x20) }
        var out = [UInt8]()
        out.reserveCapacity(8 + json.count)
        for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: UInt64(json.count) >> (8 * UInt64(i)))) }
        return (out + json, sizes)
    }

    public let path: String
    public let entries: [Entry]
    private let sizes: [Int]
    private let partial: String
    private var file: UnsafeMutablePointer<FILE>?
    private var current = 0, writtenInCurrent = 0
    /// Bytes written so far, header included.
    public private(set) var bytesWritten = 0

    /// Creates `path` and writes the header.
    public init(path: String, entries: [Entry], metadata: [String: String]) throws {
        let (h, sizes) = try SafetensorsWriter.header(entries: entries, metadata: metadata)
        self.path = path; self.entries = entries; self.sizes = sizes
        partial = path + ".partial"
        guard let f = fopen(partial, "wb") else { throw QLinearError.io("cannot open \(path) for writing: \(String(cString: strerror(errno)))") }
        file = f
        try h.withUnsafeBytes { try raw($0) }
        skipEmpty()
    }

    private func raw(_ bytes: UnsafeRawBufferPointer) throws {
        guard bytes.count > 0 else { return }
        guard fwrite(bytes.baseAddress, 1, bytes.count, file) == bytes.count else {
            throw QLinearError.io("cannot write \(path): \(String(cString: strerror(errno)))")
        }
        bytesWritten += bytes.count
    }

    private func skipEmpty() {
        while current < sizes.count, writtenInCurrent == sizes[current] { current += 1; writtenInCurrent = 0 }
    }

    /// The entry the next bytes belong to (nil when all are complete).
    public var currentEntry: Entry? { current < entries.count ? entries[current] : nil }

    /// Appends bytes of the current tensor (a piece must not run past its end).
    public func append(_ bytes: UnsafeRawBufferPointer) throws {
        guard file != nil else { throw QLinearError.io("\(path): write after finish") }
        if bytes.isEmpty { return }
        guard current < sizes.count else { throw QLinearError.invalidShape("\(path): \(bytes.count) bytes past the last tensor") }
        guard bytes.count <= sizes[current] - writtenInCurrent else {
            throw QLinearError.invalidShape("\(path): tensor \(entries[current].name) takes \(sizes[current]) bytes; \(writtenInCurrent) written, \(bytes.count) more given")
        }
        try raw(bytes)
        writtenInCurrent += bytes.count
        skipEmpty()
    }

    public func append(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try append($0) } }

    /// Appends values as little-endian fp16 / fp32.
    public func appendF16(_ v: [Float]) throws { try append(v.map { Float16($0).bitPattern.littleEndian }.withUnsafeBytes { Array($0) }) }
    public func appendF32(_ v: [Float]) throws { try append(v.map { $0.bitPattern.littleEndian }.withUnsafeBytes { Array($0) }) }

    /// Checks that every tensor is complete and closes the file.
    public func finish() throws {
        guard let f = file else { return }
        guard current == sizes.count else {
            throw QLinearError.invalidShape("\(path): tensor \(entries[current].name) has \(writtenInCurrent) of its \(sizes[current]) bytes")
        }
        file = nil
        guard fclose(f) == 0 else { unlink(partial); throw QLinearError.io("cannot write \(path): \(String(cString: strerror(errno)))") }
        guard rename(partial, path) == 0 else {
            let why = String(cString: strerror(errno))
            unlink(partial)
            throw QLinearError.io("cannot write \(path): \(why)")
        }
    }

    deinit {
        if let f = file { fclose(f); unlink(partial) }
    }
}

private func jsonQuote(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        default:
            if u.value < 0x20 { out += "\\u" + String(repeating: "0", count: 4 - String(u.value, radix: 16).count) + String(u.value, radix: 16) }
            else { out.unicodeScalars.append(u) }
        }
    }
    return out + "\""
}
