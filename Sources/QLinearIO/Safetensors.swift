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

    public struct Tensor: Sendable {
        public var dtype: DTypeName
        public var shape: [Int]
        public var data: [UInt8]
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

        public init(dtype: DTypeName, shape: [Int], data: [UInt8]) { self.dtype = dtype; self.shape = shape; self.data = data }

        /// Values as Float (F32, F16, BF16, F64 and integer types).
        public func floats() throws -> [Float] {
            let bytes = try byteCount()
            guard data.count == bytes else {
                throw QLinearError.invalidFormat("tensor \(dtype.rawValue)\(shape) has \(data.count) bytes, \(bytes) expected")
            }
            let count = bytes / dtype.size
            switch dtype {
            case .F32: return data.withUnsafeBytes { raw in (0..<count).map { Float(bitPattern: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self).littleEndian) } }
            case .F16: return data.withUnsafeBytes { raw in (0..<count).map { Float(Float16(bitPattern: raw.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self).littleEndian)) } }
            case .BF16: return data.withUnsafeBytes { raw in (0..<count).map { Float(bitPattern: UInt32(raw.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self).littleEndian) << 16) } }
            case .F64: return data.withUnsafeBytes { raw in (0..<count).map { Float(Double(bitPattern: raw.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self).littleEndian)) } }
            case .I8: return data.map { Float(Int8(bitPattern: $0)) }
            case .U8: return data.map { Float($0) }
            case .I32: return data.withUnsafeBytes { raw in (0..<count).map { Float(Int32(bitPattern: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self).littleEndian)) } }
            default: throw QLinearError.invalidFormat("cannot read \(dtype.rawValue) tensors as floats")
            }
        }

        public static func f32(_ v: [Float], shape: [Int]) -> Tensor {
            var d = [UInt8](); d.reserveCapacity(v.count * 4)
            for x in v { withUnsafeBytes(of: x.bitPattern.littleEndian) { d.append(contentsOf: $0) } }
            return Tensor(dtype: .F32, shape: shape, data: d)
        }
        public static func f16(_ v: [Float], shape: [Int]) -> Tensor {
            var d = [UInt8](); d.reserveCapacity(v.count * 2)
            for x in v { withUnsafeBytes(of: Float16(x).bitPattern.littleEndian) { d.append(contentsOf: $0) } }
            return Tensor(dtype: .F16, shape: shape, data: d)
        }
        public static func i32(_ v: [Int32], shape: [Int]) -> Tensor {
            var d = [UInt8](); d.reserveCapacity(v.count * 4)
            for x in v { withUnsafeBytes(of: x.littleEndian) { d.append(contentsOf: $0) } }
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
        guard bytes.count >= 8 else { throw QLinearError.invalidFormat("safetensors: file has \(bytes.count) bytes, shorter than the 8-byte header length") }
        var n: UInt64 = 0
        for i in 0..<8 { n |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        guard n >= 2, n <= UInt64(bytes.count - 8), n <= 100_000_000 else {
            throw QLinearError.invalidFormat("safetensors: header length \(n) does not fit a \(bytes.count)-byte file")
        }
        let headerEnd = 8 + Int(n)
        let header: Header
        do { header = try JSONDecoder().decode(Header.self, from: Data(bytes[8..<headerEnd])) } catch {
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
            let lo = headerEnd + e.data_offsets[0], hi = headerEnd + e.data_offsets[1]
            out.tensors[name] = Tensor(dtype: dt, shape: e.shape, data: Array(bytes[lo..<hi]))
        }
        // Tensors must not share bytes (the format forbids it; a writer that overlaps them is corrupt).
        extents.sort { ($0.begin, $0.name) < ($1.begin, $1.name) }
        for (a, b) in zip(extents, extents.dropFirst()) where b.begin < a.end {
            throw QLinearError.invalidFormat("safetensors: tensors \"\(a.name)\" [\(a.begin), \(a.end)) and \"\(b.name)\" [\(b.begin), \(b.end)) overlap")
        }
        return out
    }

    public static func read(path: String) throws -> Safetensors {
        try parse(try readAll(path))
    }

    /// The whole file, with errno's words for a missing file, a directory or a read error
    /// (never a Foundation error's dump).
    static func readAll(_ path: String) throws -> [UInt8] {
        var st = stat()
        guard stat(path, &st) == 0 else { throw QLinearError.io("cannot read \(path): \(String(cString: strerror(errno)))") }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw QLinearError.io("cannot read \(path): \((st.st_mode & S_IFMT) == S_IFDIR ? "is a directory" : "not a regular file")")
        }
        guard let f = fopen(path, "rb") else { throw QLinearError.io("cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { fclose(f) }
        var out: [UInt8] = []
        out.reserveCapacity(Int(st.st_size))
        var buf = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = fread(&buf, 1, buf.count, f)
            if n > 0 { out.append(contentsOf: buf[0..<n]) }
            if n < buf.count {
                if ferror(f) != 0 { throw QLinearError.io("cannot read \(path): read error") }
                break
            }
        }
        return out
    }

    /// Serializes (tensors sorted by name, data 8-byte aligned via header padding).
    public func serialize() throws -> [UInt8] {
        var entries: [(String, Entry)] = []
        var offset = 0
        let names = tensors.keys.sorted()
        for name in names {
            let t = tensors[name]!
            guard t.data.count == (try t.byteCount()) else { throw QLinearError.invalidFormat("tensor \(name): data size does not match its shape") }
            entries.append((name, Entry(dtype: t.dtype.rawValue, shape: t.shape, data_offsets: [offset, offset + t.data.count])))
            offset += t.data.count
        }
        var json = "{"
        var parts: [String] = []
        if !metadata.isEmpty {
            let m = metadata.sorted { $0.key < $1.key }.map { "\(jsonQuote($0.key)):\(jsonQuote($0.value))" }.joined(separator: ",")
            parts.append("\"__metadata__\":{\(m)}")
        }
        for (name, e) in entries {
            parts.append("\(jsonQuote(name)):{\"dtype\":\"\(e.dtype)\",\"shape\":[\(e.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(e.data_offsets[0]),\(e.data_offsets[1])]}")
        }
        json += parts.joined(separator: ",") + "}"
        var header = Array(json.utf8)
        while (8 + header.count) % 8 != 0 { header.append(0x20) }
        var out = [UInt8]()
        out.reserveCapacity(8 + header.count + offset)
        for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: UInt64(header.count) >> (8 * UInt64(i)))) }
        out += header
        for name in names { out += tensors[name]!.data }
        return out
    }

    public func write(path: String) throws {
        let bytes = try serialize()
        guard let f = fopen(path, "wb") else { throw QLinearError.io("cannot open \(path) for writing: \(String(cString: strerror(errno)))") }
        let written = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, f) }
        let closed = fclose(f)
        guard written == bytes.count, closed == 0 else { throw QLinearError.io("cannot write \(path): \(String(cString: strerror(errno)))") }
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
