#if canImport(Glibc)
import Glibc
#endif
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import QLinear

/// QLinear's convention for quantized weights in a safetensors file (what `qlinear quantize`
/// writes, layout version 1; docs/LLAMA.md, "QLinear safetensors"):
///
/// - A quantized linear weight `NAME` of PyTorch shape [N, K] is stored under `NAME` in the
///   source layout of its scheme — `q4gsw`: U8 [N, K/2] (low nibble = even k, zero point 8);
///   `q8csw`: I8 [N, K]; `fp16`: F16 [N, K] — and its scales (F16 or F32) under
///   `scalesName(for: NAME)`: `q4gsw` [N, K/group], `q8csw` [N]. The scales name replaces a final
///   `weight` with `scales` (`blk.0.attn_q.weight` → `blk.0.attn_q.scales`, `weight` → `scales`),
///   else appends `.scales`.
/// - `__metadata__` holds `qlinear.layout` = `"1"` and, per quantized tensor, the key
///   `qlinear.tensor.NAME` whose value is a JSON object (`Entry`): `scheme`, `shape` [N, K],
///   `group` (q4gsw), `scales` (the scales tensor's name), and optionally `source` (the type it
///   came from) and `rule` (how INT4 scales were chosen). Tensors without an entry are plain
///   tensors copied as they were.
/// - Readers validate everything: the layout version, each entry's JSON, scheme, shape, group
///   and scales against the tensors' dtypes and shapes; any mismatch is `invalidFormat`.
public enum QLinearSafetensors {
    /// The layout version this code writes. Version 2 added `qlinear.blocks.*` (GGUF block
    /// tensors kept as they are) and the typed GGUF metadata (`qlinear.gguf_types`); a version 1
    /// file is read too (it has neither).
    public static let layoutVersion = 2
    /// Layout versions this code reads.
    public static let readableLayouts = 1...2
    /// The `__metadata__` key holding the layout version.
    public static let layoutKey = "qlinear.layout"
    /// Prefix of the per-quantized-tensor entries (`qlinear.tensor.NAME`).
    public static let entryPrefix = "qlinear.tensor."
    /// Prefix of the GGUF block-tensor entries (`qlinear.blocks.NAME`, layout 2).
    public static let blocksPrefix = "qlinear.blocks."
    /// The key of the GGUF metadata types (`qlinear.gguf_types`, layout 2).
    public static let ggufTypesKey = "qlinear.gguf_types"
    /// Prefix of GGUF metadata values (`gguf.KEY`).
    public static let ggufPrefix = "gguf."

    /// Weight schemes a file can hold.
    public enum Scheme: String, Sendable, Codable, CaseIterable { case q4gsw, q8csw, fp16 }

    /// One quantized tensor's metadata.
    public struct Entry: Codable, Sendable, Equatable {
        public var scheme: Scheme
        /// [N, K].
        public var shape: [Int]
        /// INT4 group size (q4gsw only).
        public var group: Int?
        /// The scales tensor's name (q4gsw, q8csw).
        public var scales: String?
        /// The type the weights came from (e.g. `Q4_1`, `F32`), informational.
        public var source: String?
        /// How INT4 scales were chosen (`mse`, `absmax`, or `lossless` for a Q4_0 repack), informational.
        public var rule: String?

        public init(scheme: Scheme, shape: [Int], group: Int? = nil, scales: String? = nil, source: String? = nil, rule: String? = nil) {
            self.scheme = scheme; self.shape = shape; self.group = group; self.scales = scales; self.source = source; self.rule = rule
        }

        /// The metadata value (compact JSON, keys sorted).
        public func json() throws -> String {
            let e = JSONEncoder()
            e.outputFormatting = [.sortedKeys]
            return String(decoding: try e.encode(self), as: UTF8.self)
        }
    }

    /// Where `name`'s scales live.
    public static func scalesName(for name: String) -> String {
        name.hasSuffix("weight") ? String(name.dropLast(6)) + "scales" : name + ".scales"
    }

    /// Whether the file declares QLinear's layout (has `qlinear.layout` or any entry key).
    public static func isQLinear(_ f: Safetensors) -> Bool {
        f.metadata[layoutKey] != nil || f.metadata.keys.contains { $0.hasPrefix(entryPrefix) || $0.hasPrefix(blocksPrefix) || $0 == ggufTypesKey }
    }

    /// The quantized tensors' entries, validated against the file (empty for a file that does not
    /// declare the layout). Throws `invalidFormat` naming the key or tensor for any inconsistency.
    public static func entries(_ f: Safetensors) throws -> [String: Entry] {
        guard isQLinear(f) else { return [:] }
        guard let v = f.metadata[layoutKey] else {
            throw QLinearError.invalidFormat("QLinear safetensors: \(entryPrefix)*, \(blocksPrefix)* or \(ggufTypesKey) entries without \(layoutKey)")
        }
        guard let version = Int(v), readableLayouts.contains(version) else {
            throw QLinearError.invalidFormat("QLinear safetensors: layout version \"\(v)\" is not supported (this reader knows \(readableLayouts.map(String.init).joined(separator: ", ")))")
        }
        if version < 2, let k = f.metadata.keys.sorted().first(where: { $0.hasPrefix(blocksPrefix) || $0 == ggufTypesKey }) {
            throw QLinearError.invalidFormat("QLinear safetensors: \(k) in a layout \(version) file (layout 2 introduced it)")
        }
        var out = [String: Entry](), scalesOwner = [String: String]()
        for (key, value) in f.metadata.sorted(by: { $0.key < $1.key }) where key.hasPrefix(entryPrefix) {
            let name = String(key.dropFirst(entryPrefix.count))
            let e: Entry
            do { e = try JSONDecoder().decode(Entry.self, from: Data(value.utf8)) } catch {
                throw QLinearError.invalidFormat("QLinear safetensors: metadata \(key) is not a valid entry (\(error))")
            }
            try validate(e, name: name, in: f)
            if let s = e.scales {
                if let other = scalesOwner[s] { throw QLinearError.invalidFormat("QLinear safetensors: \(name) and \(other) share the scales tensor \"\(s)\"") }
                scalesOwner[s] = name
            }
            out[name] = e
        }
        for (s, owner) in scalesOwner where out[s] != nil {
            throw QLinearError.invalidFormat("QLinear safetensors: \"\(s)\" is both a weight and the scales of \(owner)")
        }
        for (name, _) in try blockEntries(f, checked: true) {
            if out[name] != nil || scalesOwner[name] != nil {
                throw QLinearError.invalidFormat("QLinear safetensors: \"\(name)\" has a \(blocksPrefix) entry and is also a quantized weight or scales")
            }
        }
        return out
    }

    static func validate(_ e: Entry, name: String, in f: Safetensors) throws {
        func bad(_ s: String) -> QLinearError { .invalidFormat("QLinear safetensors: \(name): \(s)") }
        guard e.shape.count == 2, e.shape[0] >= 1, e.shape[1] >= 1 else { throw bad("shape \(e.shape) is not [N, K] with N, K ≥ 1") }
        let (n, k) = (e.shape[0], e.shape[1])
        guard let t = f.tensors[name] else { throw bad("the tensor is missing") }
        func scales(_ shape: [Int]) throws -> Safetensors.Tensor {
            guard let sn = e.scales else { throw bad("\(e.scheme.rawValue) needs a scales tensor name") }
            guard let s = f.tensors[sn] else { throw bad("scales tensor \"\(sn)\" is missing") }
            guard s.dtype == .F16 || s.dtype == .F32, s.shape == shape else {
                throw bad("scales \"\(sn)\" must be F16/F32 \(shape), got \(s.dtype.rawValue)\(s.shape)")
            }
            return s
        }
        switch e.scheme {
        case .q4gsw:
            guard let g = e.group, g >= 8, g % 8 == 0, k % g == 0 else {
                throw bad("q4gsw group \(e.group.map(String.init) ?? "missing") must be a positive multiple of 8 dividing K = \(k)")
            }
            guard t.dtype == .U8, t.shape == [n, k / 2] else { throw bad("q4gsw weights must be U8 [\(n), \(k / 2)], got \(t.dtype.rawValue)\(t.shape)") }
            _ = try scales([n, k / g])
        case .q8csw:
            guard e.group == nil else { throw bad("q8csw has no group") }
            guard t.dtype == .I8, t.shape == [n, k] else { throw bad("q8csw weights must be I8 [\(n), \(k)], got \(t.dtype.rawValue)\(t.shape)") }
            _ = try scales([n])
        case .fp16:
            guard e.group == nil, e.scales == nil else { throw bad("fp16 has no group or scales") }
            guard t.dtype == .F16, t.shape == [n, k] else { throw bad("fp16 weights must be F16 [\(n), \(k)], got \(t.dtype.rawValue)\(t.shape)") }
        }
    }

    /// The weights of the quantized tensor `name` (validated; scales checked finite).
    public static func weights(_ f: Safetensors, _ name: String) throws -> LinearWeights {
        let all = try entries(f)
        guard let e = all[name] else {
            throw QLinearError.invalidFormat("QLinear safetensors: no quantized tensor \"\(name)\" (have: \(all.keys.sorted().prefix(8).joined(separator: ", "))\(all.count > 8 ? ", …" : ""))")
        }
        return try weights(f, name, e)
    }

    static func weights(_ f: Safetensors, _ name: String, _ e: Entry) throws -> LinearWeights {
        let t = try f.require(name)
        let (n, k) = (e.shape[0], e.shape[1])
        switch e.scheme {
        case .q4gsw:
            let s = try f.require(e.scales ?? "")
            return .q4gsw(try Q4GSWWeights(n: n, k: k, groupSize: e.group ?? 0, packed: t.data, scales: try s.floats(), scaleDType: s.dtype == .F16 ? .f16 : .f32))
        case .q8csw:
            let s = try f.require(e.scales ?? "")
            let v = t.withUnsafeBytes { raw in raw.map { Int8(bitPattern: $0) } }
            return .q8csw(try Q8CSWWeights(n: n, k: k, values: v, scales: try s.floats(), scaleDType: s.dtype == .F16 ? .f16 : .f32))
        case .fp16:
            let v = t.withUnsafeBytes { raw in (0..<(n * k)).map { Float16(bitPattern: raw.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self).littleEndian) } }
            return .fp16(n: n, k: k, values: v)
        }
    }
}

extension LinearLayer {
    /// A layer from a QLinear safetensors file: the quantized tensor `tensor` (validated against
    /// the file's `qlinear.*` metadata) and optionally a bias tensor [N].
    public convenience init(context: QLinearContext, file: Safetensors, tensor: String, bias: String? = nil, act: DType = .f16,
                            dynamicActivations: Bool = false) throws {
        let w = try QLinearSafetensors.weights(file, tensor)
        var b: [Float]?
        if let bias {
            let bt = try file.require(bias)
            guard bt.shape == [w.n] || bt.shape == [1, w.n] else { throw QLinearError.invalidShape("bias \"\(bias)\" must be [\(w.n)], got \(bt.shape)") }
            b = try bt.floats()
        }
        try self.init(context: context, weights: w, bias: b, act: act, dynamicActivations: dynamicActivations)
    }
}

extension QLinearSafetensors {
    /// What `qlinear inspect` shows for a safetensors file.
    public struct Summary: Codable, Sendable {
        public struct TensorSummary: Codable, Sendable {
            public var name: String, dtype: String, shape: [Int], bytes: Int
            /// The QLinear entry when the tensor is a quantized weight, or the weight it holds the scales of.
            public var entry: Entry?
            public var scalesOf: String?
            /// The block entry when the tensor holds GGUF blocks (layout 2).
            public var blocks: BlockEntry?
        }
        public var file: String, format: String, fileBytes: Int
        /// The QLinear layout version (nil: a plain safetensors file).
        public var layout: Int?
        /// `__metadata__` except the per-tensor entries (shown with their tensors).
        public var metadata: [String: String]
        public var tensors: [TensorSummary]
        public var totalTensorBytes: Int
        /// Tensors per scheme (quantized) or dtype (plain).
        public var counts: [String: Int]
    }

    /// Reads and validates `path` (a QLinear file's metadata must be consistent, else it throws).
    public static func inspect(path: String) throws -> Summary {
        let f = try Safetensors.read(path: path)
        let e = try entries(f)
        let b = try blockEntries(f, checked: true)
        var scalesOf = [String: String]()
        for (n, v) in e { if let s = v.scales { scalesOf[s] = n } }
        var st = stat()
        _ = stat(path, &st)
        var counts = [String: Int]()
        let ts = f.tensors.keys.sorted().map { n -> Summary.TensorSummary in
            let t = f.tensors[n]!
            if let en = e[n] { counts[en.scheme.rawValue + (en.group.map { " g\($0)" } ?? ""), default: 0] += 1 }
            else if let bl = b[n] { counts[bl.type + " blocks", default: 0] += 1 }
            else if scalesOf[n] == nil { counts[t.dtype.rawValue, default: 0] += 1 }
            return .init(name: n, dtype: t.dtype.rawValue, shape: t.shape, bytes: t.storedByteCount, entry: e[n], scalesOf: scalesOf[n], blocks: b[n])
        }
        return Summary(file: path, format: isQLinear(f) ? "QLinear safetensors" : "safetensors", fileBytes: Int(st.st_size),
                       layout: isQLinear(f) ? f.metadata[layoutKey].flatMap { Int($0) } : nil,
                       metadata: f.metadata.filter { !$0.key.hasPrefix(entryPrefix) && !$0.key.hasPrefix(blocksPrefix) },
                       tensors: ts, totalTensorBytes: ts.reduce(0) { $0 + $1.bytes }, counts: counts)
    }

    /// `inspect`'s text: metadata, then one line per tensor (scales shown with their weight).
    public static func inspectText(_ s: Summary) -> String {
        var out = "\(s.file): \(s.format)\(s.layout.map { " (layout \($0))" } ?? ""), \(s.fileBytes) bytes\n"
        out += "metadata (\(s.metadata.count)):\n"
        for (k, v) in s.metadata.sorted(by: { $0.key < $1.key }) { out += "  \(k) = \(v.count > 80 ? String(v.prefix(77)) + "…" : v)\n" }
        out += "tensors (\(s.tensors.count)):\n"
        for t in s.tensors where t.scalesOf == nil {
            out += "  \(t.name)  \(t.dtype)  [\(t.shape.map(String.init).joined(separator: ", "))]  \(t.bytes) bytes"
            if let e = t.entry {
                out += "  → \(e.scheme.rawValue) [\(e.shape.map(String.init).joined(separator: ", "))]"
                if let g = e.group { out += " group \(g)" }
                if let sc = e.scales, let st = s.tensors.first(where: { $0.name == sc }) {
                    out += ", scales \(sc) \(st.dtype) [\(st.shape.map(String.init).joined(separator: ", "))]"
                }
                if let src = e.source { out += ", from \(src)" }
                if let r = e.rule { out += ", \(r)" }
            }
            if let b = t.blocks { out += "  → \(b.type) blocks [\(b.shape.map(String.init).joined(separator: ", "))]" }
            out += "\n"
        }
        out += "total \(s.totalTensorBytes) tensor bytes; " + s.counts.sorted { $0.key < $1.key }.map { "\($0.key) × \($0.value)" }.joined(separator: ", ") + "\n"
        return out
    }
}

// MARK: - Layout 2: GGUF block tensors and GGUF metadata

extension QLinearSafetensors {
    /// A tensor kept in its GGUF block format (`qlinear.blocks.NAME`): the tensor `NAME` is U8
    /// [N, K/block·blockBytes], each row the ggml blocks of one row of the [N, K] matrix. Readers
    /// dequantize it exactly as a GGUF reader does (`floats(_:_:)`).
    public struct BlockEntry: Codable, Sendable, Equatable {
        /// The ggml type name: `Q8_0`, `Q4_0` or `Q4_1`.
        public var type: String
        /// [N, K] of the values.
        public var shape: [Int]

        /// An entry for a [N, K] matrix of ggml `type` blocks.
        public init(type: String, shape: [Int]) { self.type = type; self.shape = shape }

        /// The metadata value (compact JSON, keys sorted).
        public func json() throws -> String {
            let e = JSONEncoder()
            e.outputFormatting = [.sortedKeys]
            return String(decoding: try e.encode(self), as: UTF8.self)
        }
    }

    /// ggml block types a file may keep as blocks.
    public static let blockTypes: [GGMLType] = [.q8_0, .q4_0, .q4_1]

    /// The byte shape [N, K/block·blockBytes] of a [n, k] matrix of `type` blocks, or nil when K
    /// is not a whole number of blocks or the size overflows.
    static func blockByteShape(_ type: GGMLType, n: Int, k: Int) -> [Int]? {
        let (bv, bb) = type.block
        guard n >= 1, k >= 1, k % bv == 0 else { return nil }
        let (rowBytes, o1) = (k / bv).multipliedReportingOverflow(by: bb)
        guard !o1, !n.multipliedReportingOverflow(by: rowBytes).overflow else { return nil }
        return [n, rowBytes]
    }

    /// The file's block entries, validated (layout, type, shape, tensor dtype and size). Empty for
    /// a file without any.
    public static func blockEntries(_ f: Safetensors) throws -> [String: BlockEntry] {
        _ = try entries(f)   // checks the layout and that no name is both kinds
        return try blockEntries(f, checked: true)
    }

    static func blockEntries(_ f: Safetensors, checked: Bool) throws -> [String: BlockEntry] {
        var out = [String: BlockEntry]()
        for (key, value) in f.metadata.sorted(by: { $0.key < $1.key }) where key.hasPrefix(blocksPrefix) {
            let name = String(key.dropFirst(blocksPrefix.count))
            func bad(_ s: String) -> QLinearError { .invalidFormat("QLinear safetensors: \(name): \(s)") }
            let e: BlockEntry
            do { e = try JSONDecoder().decode(BlockEntry.self, from: Data(value.utf8)) } catch {
                throw QLinearError.invalidFormat("QLinear safetensors: metadata \(key) is not a valid block entry (\(error))")
            }
            guard let type = blockTypes.first(where: { $0.description == e.type }) else {
                throw bad("block type \"\(e.type)\" is not one of \(blockTypes.map(\.description).joined(separator: ", "))")
            }
            guard e.shape.count == 2, let bytes = blockByteShape(type, n: e.shape[0], k: e.shape[1]) else {
                throw bad("shape \(e.shape) is not [N, K] with N ≥ 1 and K a positive multiple of \(type.block.values) (\(type) blocks)")
            }
            guard let t = f.tensors[name] else { throw bad("the tensor is missing") }
            guard t.dtype == .U8, t.shape == bytes else { throw bad("\(type) blocks of \(e.shape) must be U8 \(bytes), got \(t.dtype.rawValue)\(t.shape)") }
            out[name] = e
        }
        return out
    }

    /// The values of the plain or block tensor `name` as Float, in row-major order, and its shape
    /// ([N, K] for a block tensor). Quantized weights are refused (they are not plain values).
    public static func floats(_ f: Safetensors, _ name: String) throws -> (values: [Float], shape: [Int]) {
        try QLinearModelFile(f).floats(name)
    }

    // MARK: GGUF metadata

    /// The `gguf.*` metadata and `qlinear.gguf_types` for GGUF `values` (layout 2): `gguf.KEY` is
    /// a string as it is, another scalar in its decimal text (`30`, `1e-05`, `true`), an array of
    /// scalars or strings a JSON array of those texts; `qlinear.gguf_types` maps each key to its
    /// type (`uint32`, `string`, `array:string`, …). Arrays of arrays are left out (none is needed
    /// by a llama model); the keys left out are returned.
    public static func encodeGGUFMetadata(_ values: [String: GGUFValue]) throws -> (metadata: [String: String], skipped: [String]) {
        var meta = [String: String](), types = [String: String](), skipped = [String]()
        for (k, v) in values.sorted(by: { $0.key < $1.key }) {
            if case .array(let et, let a) = v {
                guard et != .array else { skipped.append(k); continue }
                let texts = a.map(scalarText)
                meta[ggufPrefix + k] = String(decoding: try JSONEncoder().encode(texts), as: UTF8.self)
                types[k] = "array:\(et)"
            } else {
                meta[ggufPrefix + k] = scalarText(v)
                types[k] = "\(v.type)"
            }
        }
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        meta[ggufTypesKey] = String(decoding: try e.encode(types), as: UTF8.self)
        return (meta, skipped)
    }

    static func scalarText(_ v: GGUFValue) -> String {
        switch v {
        case .string(let s): return s
        case .float32(let x): return "\(x)"
        case .float64(let x): return "\(x)"
        case .bool(let b): return b ? "true" : "false"
        case .uint64(let x): return "\(x)"
        case .int64(let x): return "\(x)"
        case .array: return ""
        default: return v.int.map(String.init) ?? ""
        }
    }

    static func parseScalar(_ type: GGUFValueType, _ s: String) -> GGUFValue? {
        switch type {
        case .uint8: return UInt8(s).map(GGUFValue.uint8)
        case .int8: return Int8(s).map(GGUFValue.int8)
        case .uint16: return UInt16(s).map(GGUFValue.uint16)
        case .int16: return Int16(s).map(GGUFValue.int16)
        case .uint32: return UInt32(s).map(GGUFValue.uint32)
        case .int32: return Int32(s).map(GGUFValue.int32)
        case .uint64: return UInt64(s).map(GGUFValue.uint64)
        case .int64: return Int64(s).map(GGUFValue.int64)
        case .float32: return Float(s).map(GGUFValue.float32)
        case .float64: return Double(s).map(GGUFValue.float64)
        case .bool: return s == "true" ? .bool(true) : s == "false" ? .bool(false) : nil
        case .string: return .string(s)
        case .array: return nil
        }
    }

    /// The GGUF metadata a layout-2 file carries (`qlinear.gguf_types` and the `gguf.*` values it
    /// lists), each value parsed back to its GGUF type. Throws `invalidFormat` naming the key for
    /// a missing value, an unknown type, or a value that does not parse as its type; and when the
    /// file has no `qlinear.gguf_types` (not quantized from a GGUF by a layout-2 writer).
    public static func ggufMetadata(_ f: Safetensors, file: String = "QLinear safetensors") throws -> GGUFMetadata {
        _ = try entries(f)
        guard let typesText = f.metadata[ggufTypesKey] else {
            throw QLinearError.invalidFormat("\(file): no GGUF metadata (\(ggufTypesKey) is missing): the file was not written by `qlinear quantize` from a GGUF "
                                             + "with layout \(layoutVersion) or later; quantize the GGUF again")
        }
        let types: [String: String]
        do { types = try JSONDecoder().decode([String: String].self, from: Data(typesText.utf8)) } catch {
            throw QLinearError.invalidFormat("\(file): \(ggufTypesKey) is not a JSON object of strings (\(error))")
        }
        let byName = Dictionary(uniqueKeysWithValues: GGUFValueType.allCases.map { ("\($0)", $0) })
        var values = [String: GGUFValue]()
        for (k, t) in types.sorted(by: { $0.key < $1.key }) {
            func bad(_ s: String) -> QLinearError { .invalidFormat("\(file): GGUF metadata \(k): \(s)") }
            guard let text = f.metadata[ggufPrefix + k] else { throw bad("\(ggufTypesKey) lists it but \(ggufPrefix)\(k) is missing") }
            if t.hasPrefix("array:") {
                guard let et = byName[String(t.dropFirst(6))], et != .array else { throw bad("unknown type \"\(t)\"") }
                let texts: [String]
                do { texts = try JSONDecoder().decode([String].self, from: Data(text.utf8)) } catch {
                    throw bad("\(t) value is not a JSON array of strings (\(error))")
                }
                var a = [GGUFValue]()
                a.reserveCapacity(texts.count)
                for (i, e) in texts.enumerated() {
                    guard let v = parseScalar(et, e) else { throw bad("element \(i) \"\(e.prefix(40))\" is not a \(et)") }
                    a.append(v)
                }
                values[k] = .array(et, a)
            } else {
                guard let ty = byName[t], ty != .array else { throw bad("unknown type \"\(t)\"") }
                guard let v = parseScalar(ty, text) else { throw bad("\"\(text.prefix(40))\" is not a \(ty)") }
                values[k] = v
            }
        }
        return GGUFMetadata(values, origin: file)
    }
}

/// A QLinear safetensors file opened for running a model: its quantized-weight and block entries
/// validated once against the tensors (`QLinearSafetensors.entries`, `blockEntries`), then read
/// by name without validating the whole file again.
public struct QLinearModelFile: Sendable {
    /// What error messages call the file (its path when opened from one).
    public let name: String
    /// The mapped file.
    public let file: Safetensors
    /// Validated quantized-weight entries by tensor name.
    public let entries: [String: QLinearSafetensors.Entry]
    /// Validated block entries by tensor name.
    public let blocks: [String: QLinearSafetensors.BlockEntry]
    private let scalesNames: Set<String>

    /// Maps `path` and validates its QLinear metadata.
    public init(path: String) throws {
        try self.init(try Safetensors.read(path: path), name: path)
    }

    /// Validates `file`'s QLinear metadata (`invalidFormat` naming the key or tensor otherwise).
    public init(_ file: Safetensors, name: String = "QLinear safetensors") throws {
        self.file = file; self.name = name
        entries = try QLinearSafetensors.entries(file)
        blocks = try QLinearSafetensors.blockEntries(file, checked: true)
        scalesNames = Set(entries.values.compactMap(\.scales))
    }

    /// The weights of the quantized tensor `tensor` (scales checked finite), or a clear error
    /// when it is missing or stored as a plain tensor.
    public func weights(_ tensor: String) throws -> LinearWeights {
        guard let e = entries[tensor] else {
            if let t = file.tensors[tensor] {
                throw QLinearError.invalidFormat("\(name): \(tensor) is stored as a plain \(t.dtype.rawValue) tensor, not as quantized weights (was it excluded when quantizing?)")
            }
            throw QLinearError.invalidFormat("\(name): the quantized weight \(tensor) is missing")
        }
        return try QLinearSafetensors.weights(file, tensor, e)
    }

    /// The values of the plain or block tensor `tensor` as Float (row-major) and its shape
    /// ([N, K] for a block tensor). Quantized weights and their scales are refused.
    public func floats(_ tensor: String) throws -> (values: [Float], shape: [Int]) {
        if entries[tensor] != nil || scalesNames.contains(tensor) {
            throw QLinearError.invalidFormat("\(name): \"\(tensor)\" is a quantized weight (or its scales), not a plain tensor")
        }
        guard let t = file.tensors[tensor] else { throw QLinearError.invalidFormat("\(name): tensor \"\(tensor)\" is missing") }
        guard let b = blocks[tensor] else {
            guard [.F32, .F16, .BF16, .F64].contains(t.dtype) else {
                throw QLinearError.invalidFormat("\(name): \"\(tensor)\" is \(t.dtype.rawValue), a float tensor expected")
            }
            return (try t.floats(), t.shape)
        }
        // Validated when opened: a known type, and the tensor holds exactly the blocks of [N, K].
        guard let type = QLinearSafetensors.blockTypes.first(where: { $0.description == b.type }),
              QLinearSafetensors.blockByteShape(type, n: b.shape[0], k: b.shape[1]) == t.shape, t.dtype == .U8 else {
            throw QLinearError.invalidFormat("\(name): \(tensor): block entry does not match the tensor")
        }
        let count = try Checked.mul(b.shape[0], b.shape[1], "\(tensor) values")
        let nBlocks = count / type.block.values
        guard t.storedByteCount == nBlocks * type.block.bytes else {
            throw QLinearError.invalidFormat("\(name): \(tensor) holds \(t.storedByteCount) bytes, \(nBlocks) \(type) blocks need \(nBlocks * type.block.bytes)")
        }
        var out = [Float](repeating: 0, count: count)
        t.withUnsafeBytes { raw in
            out.withUnsafeMutableBufferPointer { o in
                guard let src = raw.baseAddress, let dst = o.baseAddress else { return }
                GGUFFile.dequantize(type, src, nBlocks: nBlocks, into: dst)
            }
        }
        return (out, b.shape)
    }

    /// The GGUF metadata the file carries (`QLinearSafetensors.ggufMetadata`).
    public func ggufMetadata() throws -> GGUFMetadata {
        try QLinearSafetensors.ggufMetadata(file, file: name)
    }
}
