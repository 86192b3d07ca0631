#if canImport(Glibc)
import Glibc
#endif
import QLinear

/// `qlinear quantize`: a GGUF or safetensors file in, a QLinear safetensors file out
/// (`QLinearSafetensors`). One pass, one tensor at a time, rows in chunks: the header (every
/// offset computed from the shapes) is written first, then each tensor is read from the mapped
/// input a chunk of rows at a time, quantized and appended; its input pages are released after
/// it. Resident memory is a chunk of floats plus one tensor's scales, never the model.
public enum ModelQuantizer {
    public struct Options: Sendable {
        public var scheme: QLinearSafetensors.Scheme
        /// INT4 group size (q4gsw).
        public var groupSize: Int
        public var scaleDType: DType
        public var rule: Q4ScaleRule
        /// Regular expressions searched in tensor names: a 2-D float tensor is quantized when
        /// it matches `include` (nil = all) and not `exclude`.
        public var include: String?, exclude: String?
        /// Only these exact names are quantized (nil = any; `qlinear quantize --tensor`).
        public var only: [String]?
        /// Values per chunk of rows.
        public var chunkValues: Int
        /// q4gsw: GPTQ factors by output tensor name (`LlamaCalibration.factors`); a tensor with one
        /// is quantized with error compensation (rule "gptq"), the others with `rule`. A GGUF Q4_0
        /// tensor at group 32 stays the lossless repack.
        public var gptq: [String: GPTQFactor] = [:]
        /// Where the GPTQ statistics came from (written as `qlinear.gptq` metadata).
        public var gptqNote: String?
        /// q4gsw: per-column importance (mean x² of the layer's inputs) by output tensor name
        /// (`LlamaCalibration.importance`); a tensor with one gets the importance-weighted scale
        /// search (rule "imatrix"), unless it has a GPTQ factor.
        public var importance: [String: [Float]] = [:]
        /// imatrix: llama.cpp's weighting importance·√(σ² + w²) (true) or importance alone.
        public var importanceWeightTerm = true
        /// The LM head's own scheme (nil: `scheme`), in llama-quantize's spirit of keeping the
        /// output tensor at a higher precision: the head is `output.weight` (or `lm_head.weight` in
        /// safetensors), else a GGUF's `token_embd.weight`, written as the tied head `output.weight`.
        /// Set, the head must be quantized: an input without one, or a head that `include`,
        /// `exclude`, `only` or the group leave out, is an error rather than a silent copy.
        public var headScheme: QLinearSafetensors.Scheme?
        /// The head's scale dtype (nil: `scaleDType`; needs `headScheme`, and a scheme with scales).
        public var headScaleDType: DType?

        public init(scheme: QLinearSafetensors.Scheme, groupSize: Int = 32, scaleDType: DType = .f16, rule: Q4ScaleRule = .mse,
                    include: String? = nil, exclude: String? = nil, only: [String]? = nil, chunkValues: Int = 1 << 20) {
            self.scheme = scheme; self.groupSize = groupSize; self.scaleDType = scaleDType; self.rule = rule
            self.include = include; self.exclude = exclude; self.only = only; self.chunkValues = chunkValues
        }
    }

    /// One line of the report.
    public struct TensorResult: Codable, Sendable {
        public var index: Int, name: String
        /// PyTorch order ([N, K] for a matrix).
        public var shape: [Int]
        /// The input type (`Q4_1`, `F32`, …).
        public var type: String
        /// `quantized` or `copied`.
        public var action: String
        /// What it became: `q4gsw g32`, `q8csw`, `fp16`, or the copied dtype.
        public var to: String
        /// Why it was copied, or how it was converted (e.g. `lossless Q4_0 repack`).
        public var note: String?
        public var inputBytes: Int, outputBytes: Int
        /// ‖w − ŵ‖ / ‖w‖ over the tensor (quantized tensors).
        public var relError: Double?
        public var seconds: Double
    }

    public struct Report: Codable, Sendable {
        public var input: String, output: String, inputFormat: String
        public var scheme: String, groupSize: Int?, scaleDType: String, rule: String?
        /// The LM head's scheme and its tensor's name in the output, when `headScheme` was given.
        public var headScheme: String?, headTensor: String?
        public var include: String?, exclude: String?
        public var tensors: [TensorResult]
        public var quantized: Int, copied: Int
        public var inputBytes: Int, outputBytes: Int, outputFileBytes: Int
        /// The largest relative error over quantized tensors.
        public var maxRelError: Double?
        public var seconds: Double
        /// Largest tensor of the input (bytes as stored) and its float size, and the process's peak
        /// resident memory (getrusage) when the run ended.
        public var largestInputTensorBytes: Int, peakResidentBytes: Int
    }

    // MARK: - Sources

    /// One input tensor, whatever the file type.
    struct Source {
        var name: String
        var shape: [Int]
        var type: String
        var bytes: Int
        /// Can be read as floats (and so quantized).
        var isFloat: Bool
        /// A GGUF Q4_0 matrix (lossless to q4gsw group 32).
        var isQ4_0 = false
        /// The dtype a copy is written in.
        var copyDType: Safetensors.DTypeName
        /// Whether the copy converts (GGUF block types → F32) rather than copying bytes.
        var copyConverts: Bool
        /// The GGUF block type (Q8_0, Q4_0, Q4_1) of a matrix that can be kept as blocks.
        var blockType: GGMLType? = nil
    }

    /// Input access common to GGUF and safetensors.
    final class Input {
        let gguf: GGUFFile?
        let st: Safetensors?
        let sources: [Source]
        let format: String
        /// Entries of an input that is already a QLinear file (copied as they are).
        let existing: [String: QLinearSafetensors.Entry]
        let ggufMetadata: [String: String]

        init(path: String) throws {
            var magic = [UInt8](repeating: 0, count: 4)
            if let f = fopen(path, "rb") { _ = fread(&magic, 1, 4, f); fclose(f) }
            if magic == Array("GGUF".utf8) {
                let g = try GGUFFile(path: path)
                gguf = g; st = nil; format = "gguf"; existing = [:]
                ggufMetadata = try QLinearSafetensors.encodeGGUFMetadata(g.metadata).metadata
                sources = g.tensors.map { t in
                    let copy: (Safetensors.DTypeName, Bool)
                    switch t.type {
                    case .f32: copy = (.F32, false)
                    case .f16: copy = (.F16, false)
                    case .bf16: copy = (.BF16, false)
                    case .f64: copy = (.F64, false)
                    case .i8: copy = (.I8, false)
                    case .i16: copy = (.I16, false)
                    case .i32: copy = (.I32, false)
                    case .i64: copy = (.I64, false)
                    default: copy = (.F32, true)
                    }
                    return Source(name: t.name, shape: Array(t.dims.reversed()), type: t.type.description, bytes: t.bytes,
                                  isFloat: t.type.isReadable, isQ4_0: t.type == .q4_0 && t.dims.count == 2,
                                  copyDType: copy.0, copyConverts: copy.1,
                                  blockType: QLinearSafetensors.blockTypes.contains(t.type) && t.dims.count == 2 ? t.type : nil)
                }
            } else {
                let f = try Safetensors.read(path: path)
                st = f; gguf = nil; format = "safetensors"; ggufMetadata = [:]
                existing = try QLinearSafetensors.entries(f)
                sources = f.tensors.keys.sorted().map { name in
                    let t = f.tensors[name]!
                    return Source(name: name, shape: t.shape, type: t.dtype.rawValue, bytes: t.storedByteCount,
                                  isFloat: [.F32, .F16, .BF16, .F64].contains(t.dtype), copyDType: t.dtype, copyConverts: false)
                }
            }
        }

        /// Rows [r0, r1) of a 2-D float tensor as Float ([rows, K]).
        func rows(_ s: Source, _ r: Range<Int>) throws -> [Float] {
            let k = s.shape[1]
            if let g = gguf { return try g.floats(try g.tensor(s.name), rows: r) }
            return try st!.require(s.name).floats(elements: (r.lowerBound * k)..<(r.upperBound * k))
        }

        /// Streams the tensor as stored (or, for GGUF block types unless `asBlocks`, dequantized
        /// to F32) into `w`.
        func copy(_ s: Source, to w: SafetensorsWriter, chunkBytes: Int, asBlocks: Bool = false) throws {
            if let g = gguf {
                let t = try g.tensor(s.name)
                if s.copyConverts && !asBlocks {
                    let rowLen = t.dims[0], nRows = t.count / rowLen
                    let step = max(1, chunkBytes / 4 / rowLen)
                    var r = 0
                    while r < nRows {
                        let e = min(nRows, r + step)
                        try w.appendF32(try g.floats(t, rows: r..<e))
                        r = e
                    }
                } else {
                    try g.withBytes(t) { raw in try appendChunks(raw, w, chunkBytes) }
                }
                g.releasePages(t)
            } else {
                let t = try st!.require(s.name)
                try t.withUnsafeBytes { raw in try appendChunks(raw, w, chunkBytes) }
                t.releasePages()
            }
        }

        func release(_ s: Source) {
            if let g = gguf, let t = try? g.tensor(s.name) { g.releasePages(t) }
            st?.tensors[s.name]?.releasePages()
        }
    }

    static func appendChunks(_ raw: UnsafeRawBufferPointer, _ w: SafetensorsWriter, _ chunk: Int) throws {
        var o = 0
        while o < raw.count {
            let e = min(raw.count, o + chunk)
            try w.append(UnsafeRawBufferPointer(rebasing: raw[o..<e]))
            o = e
        }
    }

    // MARK: - Plan

    /// What happens to one tensor.
    struct Plan {
        var source: Source
        /// The output tensor's name (the source's, or `output.weight` for a tied LM head).
        var name: String
        var quantize: Bool
        var note: String?
        /// Output entries (weight, then scales).
        var outputs: [SafetensorsWriter.Entry]
        var entry: QLinearSafetensors.Entry?
        /// Set when a GGUF block tensor is kept as its blocks (layout 2).
        var blocks: QLinearSafetensors.BlockEntry? = nil
        /// The scheme and scale dtype a quantized tensor is written in (the LM head's may differ).
        var scheme: QLinearSafetensors.Scheme = .fp16
        var scaleDType: DType = .f16
    }

    static func matcher(_ pattern: String?, _ what: String) throws -> ((String) -> Bool)? {
        guard let pattern else { return nil }
        let re: Regex<AnyRegexOutput>
        do { re = try Regex(pattern) } catch { throw QLinearError.invalidShape("\(what) \"\(pattern)\" is not a valid regular expression (\(error))") }
        return { name in (try? re.firstMatch(in: name)) != nil }
    }

    /// A GGUF model's token embedding and the name its tied LM head is written under.
    static let embeddingName = "token_embd.weight", tiedHeadName = "output.weight"
    /// A Hugging Face checkpoint's LM head (safetensors input).
    static let hfHeadName = "lm_head.weight"

    /// The input tensor the LM head is read from: `output.weight` (or, in safetensors,
    /// `lm_head.weight`), else a GGUF's `token_embd.weight` (tied head); nil if none.
    static func headSource(_ input: Input) -> String? {
        let names = Set(input.sources.map(\.name))
        if names.contains(tiedHeadName) { return tiedHeadName }
        if input.gguf == nil { return names.contains(hfHeadName) ? hfHeadName : nil }
        return names.contains(embeddingName) ? embeddingName : nil
    }

    /// The text of a scheme with its group (`q4gsw g32`).
    static func label(_ s: QLinearSafetensors.Scheme, _ group: Int) -> String { s == .q4gsw ? "q4gsw g\(group)" : s.rawValue }

    static func copyPlan(_ s: Source, note: String?) -> Plan {
        var note = note
        if s.copyConverts { note = (note ?? "") + "; \(s.type) dequantized to F32 exactly" }
        return Plan(source: s, name: s.name, quantize: false, note: note, outputs: [.init(name: s.name, dtype: s.copyDType, shape: s.shape)], entry: nil)
    }

    /// The plan quantizing the 2-D float tensor `s` into the tensor `name` (and its scales) in
    /// `scheme` (nil: `o.scheme`) with `scaleDType` scales (nil: `o.scaleDType`).
    static func quantizePlan(_ s: Source, name: String, note: String?, _ o: Options,
                             scheme: QLinearSafetensors.Scheme? = nil, scaleDType: DType? = nil) -> Plan {
        let (n, k) = (s.shape[0], s.shape[1])
        let scheme = scheme ?? o.scheme, scaleDType = scaleDType ?? o.scaleDType
        let sd: Safetensors.DTypeName = scaleDType == .f16 ? .F16 : .F32
        let sn = QLinearSafetensors.scalesName(for: name)
        func joined(_ a: String?) -> String? { [note, a].compactMap { $0 }.joined(separator: "; ").nilIfEmpty }
        var p: Plan
        switch scheme {
        case .q4gsw:
            let lossless = s.isQ4_0 && o.groupSize == 32
            // Q4_0's d is fp16: lossless in either scale dtype.
            p = Plan(source: s, name: name, quantize: true, note: joined(lossless ? "lossless Q4_0 repack" : o.gptq[name] != nil ? "GPTQ" : o.importance[name] != nil ? "imatrix" : nil),
                     outputs: [.init(name: name, dtype: .U8, shape: [n, k / 2]), .init(name: sn, dtype: sd, shape: [n, k / o.groupSize])],
                     entry: .init(scheme: .q4gsw, shape: [n, k], group: o.groupSize, scales: sn, source: s.type,
                                  rule: lossless ? "lossless" : o.gptq[name] != nil ? "gptq" : o.importance[name] != nil ? "imatrix" : o.rule.rawValue))
        case .q8csw:
            p = Plan(source: s, name: name, quantize: true, note: note,
                     outputs: [.init(name: name, dtype: .I8, shape: [n, k]), .init(name: sn, dtype: sd, shape: [n])],
                     entry: .init(scheme: .q8csw, shape: [n, k], scales: sn, source: s.type))
        case .fp16:
            p = Plan(source: s, name: name, quantize: true, note: note, outputs: [.init(name: name, dtype: .F16, shape: [n, k])],
                     entry: .init(scheme: .fp16, shape: [n, k], source: s.type))
        }
        p.scheme = scheme; p.scaleDType = scaleDType
        return p
    }

    static func plan(_ input: Input, _ o: Options) throws -> [Plan] {
        let inc = try matcher(o.include, "--include"), exc = try matcher(o.exclude, "--exclude")
        if let only = o.only {
            for n in only where !input.sources.contains(where: { $0.name == n }) {
                throw QLinearError.invalidFormat("tensor \"\(n)\" is missing (have: \(input.sources.map(\.name).prefix(12).joined(separator: ", ")))")
            }
        }
        let existingScales = Set(input.existing.values.compactMap(\.scales))
        let tiedHead = input.gguf != nil && !input.sources.contains { $0.name == tiedHeadName }
        let head = headSource(input)
        if let hs = o.headScheme {
            guard head != nil else {
                throw QLinearError.unsupported("--head-scheme \(hs.rawValue): the input has no LM head (\(tiedHeadName)"
                                               + (input.gguf == nil ? " or \(hfHeadName)" : ", or \(embeddingName) for a tied head") + ")")
            }
            if o.headScaleDType != nil && hs == .fp16 {
                throw QLinearError.unsupported("--head-scale-dtype: --head-scheme fp16 has no scales")
            }
        } else if o.headScaleDType != nil {
            throw QLinearError.unsupported("--head-scale-dtype needs --head-scheme")
        }
        var plans = [Plan]()
        for s in input.sources {
            var note: String? = nil
            var q = false
            let isHead = s.name == head
            let scheme = isHead ? (o.headScheme ?? o.scheme) : o.scheme
            if input.existing[s.name] != nil || existingScales.contains(s.name) {
                note = "already QLinear-quantized"
            } else if s.shape.count != 2 {
                note = "not 2-D"
            } else if !s.isFloat {
                note = "\(s.type) is not a float type"
            } else if let only = o.only, !only.contains(s.name) {
                note = "not selected"
            } else if let inc, !inc(s.name) {
                note = "not included"
            } else if let exc, exc(s.name) {
                note = "excluded"
            } else if scheme == .q4gsw && s.shape[1] % o.groupSize != 0 {
                note = "K = \(s.shape[1]) is not a multiple of group \(o.groupSize)"
            } else {
                q = true
            }
            // An explicit head scheme is a promise that the head is quantized: say why it cannot be.
            if isHead, let hs = o.headScheme, !q {
                let what = s.name == embeddingName ? "the tied LM head (from \(embeddingName))" : "the LM head \(s.name)"
                throw QLinearError.unsupported("--head-scheme \(label(hs, o.groupSize)): \(what) would not be quantized: \(note ?? "it is not a matrix")")
            }
            let headSch: QLinearSafetensors.Scheme? = isHead ? o.headScheme : nil, headSD: DType? = isHead ? o.headScaleDType : nil
            // A GGUF's token embedding is looked up, not multiplied: it is kept as it is (block
            // types as their blocks, exact), and when the model ties its LM head to it (no
            // output.weight) the quantized head is written as output.weight.
            if input.gguf != nil && s.name == embeddingName && s.shape.count == 2 {
                let why = "token embedding" + (note.map { ", \($0)" } ?? "")
                if let bt = s.blockType, let bytes = QLinearSafetensors.blockByteShape(bt, n: s.shape[0], k: s.shape[1]) {
                    plans.append(Plan(source: s, name: s.name, quantize: false, note: why,
                                      outputs: [.init(name: s.name, dtype: .U8, shape: bytes)], entry: nil,
                                      blocks: .init(type: bt.description, shape: s.shape)))
                } else {
                    plans.append(copyPlan(s, note: why))
                }
                if q && tiedHead {
                    plans.append(quantizePlan(s, name: tiedHeadName, note: "tied LM head, from \(embeddingName)", o, scheme: headSch, scaleDType: headSD))
                }
                continue
            }
            plans.append(q ? quantizePlan(s, name: s.name, note: nil, o, scheme: headSch, scaleDType: headSD) : copyPlan(s, note: note))
        }
        // Names must stay unique (a scales name may collide with an input tensor).
        var seen = [String: String]()
        for p in plans { for e in p.outputs {
            if let other = seen[e.name] { throw QLinearError.invalidFormat("output tensor \"\(e.name)\" (from \(p.source.name)) collides with one from \(other)") }
            seen[e.name] = p.source.name
        } }
        return plans
    }

    // MARK: - Run

    /// Quantizes `input` into `output`. `onTensor` gets each result as it completes (index from 1,
    /// of `count`); `progress` the fraction of input bytes done (called often).
    public static func run(input path: String, output: String, options o: Options,
                           onTensor: (TensorResult, Int) -> Void = { _, _ in }, progress: (Double, String) -> Void = { _, _ in }) throws -> Report {
        guard o.groupSize >= 8, o.groupSize % 8 == 0 else { throw QLinearError.invalidShape("group size must be a positive multiple of 8, got \(o.groupSize)") }
        guard o.chunkValues >= 1 else { throw QLinearError.invalidShape("chunk size must be ≥ 1") }
        let t0 = monotonicNow()
        var si = stat(), so = stat()
        if stat(path, &si) == 0, stat(output, &so) == 0, si.st_dev == so.st_dev, si.st_ino == so.st_ino {
            throw QLinearError.io("the output \(output) is the input file (it is read while the output is written)")
        }
        let input = try Input(path: path)
        let plans = try plan(input, o)
        var meta = input.ggufMetadata
        if let st = input.st {
            // Plain metadata, and what layout 2 says about tensors copied as they are.
            _ = try QLinearSafetensors.blockEntries(st)
            for (k, v) in st.metadata where !k.hasPrefix("qlinear.") || k.hasPrefix(QLinearSafetensors.blocksPrefix) || k == QLinearSafetensors.ggufTypesKey {
                meta[k] = v
            }
        }
        meta[QLinearSafetensors.layoutKey] = String(QLinearSafetensors.layoutVersion)
        for (name, e) in input.existing { meta[QLinearSafetensors.entryPrefix + name] = try e.json() }
        for p in plans {
            if let e = p.entry { meta[QLinearSafetensors.entryPrefix + p.name] = try e.json() }
            if let b = p.blocks { meta[QLinearSafetensors.blocksPrefix + p.name] = try b.json() }
        }
        meta["qlinear.scheme"] = o.scheme.rawValue
        let headPlan = o.headScheme != nil ? plans.first { $0.quantize && $0.source.name == headSource(input) } : nil
        if let h = headPlan { meta["qlinear.head_scheme"] = h.scheme.rawValue; meta["qlinear.head_tensor"] = h.name }
        if o.scheme == .q4gsw || headPlan?.scheme == .q4gsw {
            meta["qlinear.group_size"] = String(o.groupSize); meta["qlinear.scale_rule"] = o.rule.rawValue
        }
        let gptqCount = plans.filter { $0.entry?.rule == "gptq" }.count
        if gptqCount > 0 { meta["qlinear.gptq"] = "\(gptqCount) tensors" + (o.gptqNote.map { "; \($0)" } ?? "") }
        let imCount = plans.filter { $0.entry?.rule == "imatrix" }.count
        if imCount > 0 { meta["qlinear.imatrix"] = "\(imCount) tensors" + (o.gptqNote.map { "; \($0)" } ?? "") }
        meta["qlinear.source_format"] = input.format
        let writer = try SafetensorsWriter(path: output, entries: plans.flatMap(\.outputs), metadata: meta)
        let totalIn = max(1, plans.reduce(0) { $0 + $1.source.bytes })
        var doneIn = 0
        var results = [TensorResult]()
        for (i, p) in plans.enumerated() {
            let ts = monotonicNow()
            let s = p.source
            progress(Double(doneIn) / Double(totalIn), s.name)
            let before = writer.bytesWritten
            var rel: Double? = nil
            if p.quantize {
                rel = try quantizeTensor(p, input, writer, o) { f in progress((Double(doneIn) + f * Double(s.bytes)) / Double(totalIn), s.name) }
                input.release(s)
            } else {
                try input.copy(s, to: writer, chunkBytes: 4 * o.chunkValues, asBlocks: p.blocks != nil)
            }
            doneIn += s.bytes
            let to = p.quantize ? label(p.scheme, o.groupSize) : p.blocks.map { "\($0.type) blocks" } ?? p.outputs[0].dtype.rawValue
            let r = TensorResult(index: i + 1, name: p.name, shape: s.shape, type: s.type, action: p.quantize ? "quantized" : "copied", to: to,
                                 note: p.note, inputBytes: s.bytes, outputBytes: writer.bytesWritten - before, relError: rel,
                                 seconds: monotonicNow() - ts)
            results.append(r)
            onTensor(r, plans.count)
        }
        try writer.finish()
        progress(1, "")
        let q = results.filter { $0.action == "quantized" }
        var ru = rusage()
        getrusage(RUSAGE_SELF.rawValue, &ru)
        let q4 = o.scheme == .q4gsw || headPlan?.scheme == .q4gsw
        return Report(input: path, output: output, inputFormat: input.format, scheme: o.scheme.rawValue,
                      groupSize: q4 ? o.groupSize : nil, scaleDType: o.scaleDType.rawValue,
                      rule: q4 ? o.rule.rawValue : nil, headScheme: headPlan?.scheme.rawValue, headTensor: headPlan?.name,
                      include: o.include, exclude: o.exclude,
                      tensors: results, quantized: q.count, copied: results.count - q.count,
                      inputBytes: results.reduce(0) { $0 + $1.inputBytes }, outputBytes: results.reduce(0) { $0 + $1.outputBytes },
                      outputFileBytes: writer.bytesWritten, maxRelError: q.compactMap(\.relError).max(), seconds: monotonicNow() - t0,
                      largestInputTensorBytes: input.sources.map(\.bytes).max() ?? 0, peakResidentBytes: Int(ru.ru_maxrss) * 1024)
    }

    /// Quantizes one matrix chunk by chunk into `w`; returns ‖w − ŵ‖/‖w‖.
    static func quantizeTensor(_ p: Plan, _ input: Input, _ w: SafetensorsWriter, _ o: Options, _ progress: (Double) -> Void) throws -> Double {
        let s = p.source
        let (n, k) = (s.shape[0], s.shape[1])
        let step = max(1, o.chunkValues / max(k, 1))
        var err = 0.0, norm = 0.0
        var scales = [Float]()
        var r = 0
        while r < n {
            let e = min(n, r + step), rows = e - r
            let x = try input.rows(s, r..<e)
            if let bad = x.firstIndex(where: { !$0.isFinite }) {
                throw QLinearError.nonFinite("weight \(r * k + bad) is \(x[bad]) (tensor \(s.name) [\(r + bad / k), \(bad % k)])")
            }
            var y = [Float](repeating: 0, count: x.count)   // ŵ
            do {
                switch p.scheme {
                case .q4gsw:
                    let qw: Q4GSWWeights
                    if p.entry?.rule == "lossless", let g = input.gguf {
                        let (packed, sc) = g.q4_0Repack(try g.tensor(s.name), rows: r..<e)
                        qw = try Q4GSWWeights(n: rows, k: k, groupSize: 32, packed: packed, scales: sc, scaleDType: .f16)
                    } else if let f = o.gptq[p.name] {
                        qw = try Q4GSWWeights.quantize(x, n: rows, k: k, groupSize: o.groupSize, scaleDType: p.scaleDType, gptq: f)
                    } else if let imp = o.importance[p.name] {
                        qw = try Q4GSWWeights.quantize(x, n: rows, k: k, groupSize: o.groupSize, scaleDType: p.scaleDType, importance: imp,
                                                       weightTerm: o.importanceWeightTerm)
                    } else {
                        qw = try Q4GSWWeights.quantize(x, n: rows, k: k, groupSize: o.groupSize, scaleDType: p.scaleDType, rule: o.rule)
                    }
                    try w.append(qw.packed)
                    scales += qw.scales
                    let groups = k / qw.groupSize
                    for i in 0..<rows { for c in 0..<k { y[i * k + c] = Float(qw.q(i, c)) * qw.scales[i * groups + c / qw.groupSize] } }
                case .q8csw:
                    let qw = try Q8CSWWeights.quantize(x, n: rows, k: k, scaleDType: p.scaleDType)
                    try w.append(qw.values.map { UInt8(bitPattern: $0) })
                    scales += qw.scales
                    for i in 0..<rows { for c in 0..<k { y[i * k + c] = Float(qw.values[i * k + c]) * qw.scales[i] } }
                case .fp16:
                    for i in 0..<x.count {
                        let h = Float16(x[i])
                        guard h.isFinite else { throw QLinearError.nonFinite("\(s.name)[\(r + i / k), \(i % k)] = \(x[i]) does not fit in fp16") }
                        y[i] = Float(h)
                    }
                    try w.appendF16(y)
                }
            } catch let QLinearError.invalidShape(m) {
                throw QLinearError.invalidShape("tensor \(s.name) rows \(r)..<\(e): \(m)")
            }
            for i in 0..<x.count { let d = Double(x[i]) - Double(y[i]); err += d * d; norm += Double(x[i]) * Double(x[i]) }
            r = e
            progress(Double(r) / Double(n))
        }
        if p.scheme != .fp16 {
            if p.scaleDType == .f16 { try w.appendF16(scales) } else { try w.appendF32(scales) }
        }
        return norm > 0 ? (err / norm).squareRoot() : 0
    }

    static func monotonicNow() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }
}

extension String {
    var nilIfEmpty: String? { isEmpty ? nil : self }
}
