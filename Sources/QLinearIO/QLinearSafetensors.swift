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
    /// The layout version this code writes and reads.
    public static let layoutVersion = 1
    public static let layoutKey = "qlinear.layout"
    public static let entryPrefix = "qlinear.tensor."

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
        f.metadata[layoutKey] != nil || f.metadata.keys.contains { $0.hasPrefix(entryPrefix) }
    }

    /// The quantized tensors' entries, validated against the file (empty for a file that does not
    /// declare the layout). Throws `invalidFormat` naming the key or tensor for any inconsistency.
    public static func entries(_ f: Safetensors) throws -> [String: Entry] {
        guard isQLinear(f) else { return [:] }
        guard let v = f.metadata[layoutKey] else {
            throw QLinearError.invalidFormat("QLinear safetensors: \(entryPrefix)* entries without \(layoutKey)")
        }
        guard v == String(layoutVersion) else {
            throw QLinearError.invalidFormat("QLinear safetensors: layout version \"\(v)\" is not supported (this reader knows \(layoutVersion))")
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
        var scalesOf = [String: String]()
        for (n, v) in e { if let s = v.scales { scalesOf[s] = n } }
        var st = stat()
        _ = stat(path, &st)
        var counts = [String: Int]()
        let ts = f.tensors.keys.sorted().map { n -> Summary.TensorSummary in
            let t = f.tensors[n]!
            if let en = e[n] { counts[en.scheme.rawValue + (en.group.map { " g\($0)" } ?? ""), default: 0] += 1 }
            else if scalesOf[n] == nil { counts[t.dtype.rawValue, default: 0] += 1 }
            return .init(name: n, dtype: t.dtype.rawValue, shape: t.shape, bytes: t.storedByteCount, entry: e[n], scalesOf: scalesOf[n])
        }
        return Summary(file: path, format: isQLinear(f) ? "QLinear safetensors" : "safetensors", fileBytes: Int(st.st_size),
                       layout: isQLinear(f) ? layoutVersion : nil, metadata: f.metadata.filter { !$0.key.hasPrefix(entryPrefix) },
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
            out += "\n"
        }
        out += "total \(s.totalTensorBytes) tensor bytes; " + s.counts.sorted { $0.key < $1.key }.map { "\($0.key) × \($0.value)" }.joined(separator: ", ") + "\n"
        return out
    }
}
