import QLinear
import QLinearIO

/// A byte-level BPE tokenizer (GPT-2 style) built from a GGUF file's `tokenizer.ggml.*` metadata.
///
/// Encoding: special (control / user-defined) tokens are split out of the text first, when asked;
/// each remaining fragment is pre-tokenized by the rules of `tokenizer.ggml.pre` (for "smollm" and
/// the other StarCoder-like models: every numeric code point on its own, then GPT-2's split into
/// contractions, optional-space + letters, optional-space + numbers, optional-space + other
/// symbols, and whitespace runs); each piece's UTF-8 bytes are mapped to GPT-2's printable byte
/// alphabet and merged by the ranks in `tokenizer.ggml.merges`.
public struct BPETokenizer: Sendable {
    /// ggml token types.
    public enum TokenType: Int, Sendable { case undefined = 0, normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6 }

    /// Token texts in GPT-2's byte alphabet, by id.
    public let tokens: [String]
    /// Token types, by id.
    public let types: [TokenType]
    /// Begin / end of sequence ids.
    public let bos: Int?, eos: Int?
    /// `tokenizer.ggml.add_bos_token`.
    public let addBOS: Bool
    /// The pre-tokenizer name from `tokenizer.ggml.pre`.
    public let pre: String
    private let ids: [String: Int]
    private let ranks: [String: Int]
    private let specials: [(text: [UInt8], id: Int)]
    private let splitDigits: Bool
    private static let byteToChar: [Character] = {
        var map = [Character](repeating: " ", count: 256)
        var next: UInt32 = 256
        for b in 0..<256 {
            let printable = (33...126).contains(b) || (161...172).contains(b) || (174...255).contains(b)
            if printable { map[b] = Character(Unicode.Scalar(UInt8(b))) } else {
                map[b] = Character(Unicode.Scalar(next)!); next += 1
            }
        }
        return map
    }()
    private static let charToByte: [Character: UInt8] = {
        var d = [Character: UInt8]()
        for (b, c) in byteToChar.enumerated() { d[c] = UInt8(b) }
        return d
    }()

    /// Builds the tokenizer; throws if the metadata is missing or not a GPT-2 BPE vocabulary.
    public init(gguf: GGUFFile) throws {
        try self.init(metadata: gguf.typedMetadata)
    }

    /// Builds the tokenizer from GGUF `tokenizer.ggml.*` metadata (a GGUF file's, or the copy a
    /// QLinear safetensors file carries); throws if it is missing or not a GPT-2 BPE vocabulary.
    public init(metadata gguf: GGUFMetadata) throws {
        let model = try gguf.string("tokenizer.ggml.model")
        guard model == "gpt2" else { throw QLinearError.unsupported("tokenizer model \"\(model)\" (only byte-level BPE, \"gpt2\", is implemented)") }
        guard let toks = gguf["tokenizer.ggml.tokens"]?.strings, !toks.isEmpty else {
            throw QLinearError.invalidFormat("\(gguf.origin): tokenizer.ggml.tokens is missing or not an array of strings")
        }
        guard let merges = gguf["tokenizer.ggml.merges"]?.strings else {
            throw QLinearError.invalidFormat("\(gguf.origin): tokenizer.ggml.merges is missing or not an array of strings")
        }
        var types = [TokenType](repeating: .normal, count: toks.count)
        if let tt = gguf["tokenizer.ggml.token_type"]?.ints {
            guard tt.count == toks.count else { throw QLinearError.invalidFormat("\(gguf.origin): \(tt.count) token types for \(toks.count) tokens") }
            types = tt.map { TokenType(rawValue: $0) ?? .undefined }
        }
        let pre = gguf["tokenizer.ggml.pre"]?.string ?? "default"
        let known = ["smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva", "gpt-2", "gpt2", "default"]
        guard known.contains(pre) else { throw QLinearError.unsupported("pre-tokenizer \"\(pre)\" (implemented: \(known.joined(separator: ", ")))") }
        let bos = gguf["tokenizer.ggml.bos_token_id"]?.int
        let eos = gguf["tokenizer.ggml.eos_token_id"]?.int
        for (name, v) in [("bos", bos), ("eos", eos)] {
            if let v, !(0..<toks.count).contains(v) { throw QLinearError.invalidFormat("\(gguf.origin): \(name) token id \(v) is outside the vocabulary (\(toks.count))") }
        }
        try self.init(tokens: toks, types: types, merges: merges, pre: pre, bos: bos, eos: eos,
                      addBOS: gguf["tokenizer.ggml.add_bos_token"]?.bool ?? false)
    }

    /// Builds a tokenizer from its parts (`merges` as "left right" strings, best first).
    public init(tokens: [String], types: [TokenType], merges: [String], pre: String, bos: Int?, eos: Int?, addBOS: Bool) throws {
        guard types.count == tokens.count else { throw QLinearError.invalidFormat("\(types.count) token types for \(tokens.count) tokens") }
        self.tokens = tokens; self.types = types; self.pre = pre
        self.bos = bos; self.eos = eos; self.addBOS = addBOS
        var ids = [String: Int](minimumCapacity: tokens.count)
        for (i, t) in tokens.enumerated() where ids[t] == nil { ids[t] = i }
        self.ids = ids
        var ranks = [String: Int](minimumCapacity: merges.count)
        for (i, m) in merges.enumerated() {
            guard m.utf8.contains(UInt8(ascii: " ")) else { throw QLinearError.invalidFormat("merge \(i) \"\(m)\" has no space separator") }
            if ranks[m] == nil { ranks[m] = i }
        }
        self.ranks = ranks
        var sp = [(text: [UInt8], id: Int)]()
        for (i, t) in tokens.enumerated() where (types[i] == .control || types[i] == .userDefined) && !t.isEmpty {
            sp.append((Array(t.utf8), i))
        }
        // Longest first (ties by id), as special tokens are searched in that order.
        sp.sort { $0.text.count != $1.text.count ? $0.text.count > $1.text.count : $0.id < $1.id }
        self.specials = sp
        self.splitDigits = pre != "gpt-2" && pre != "gpt2" && pre != "default"
    }

    /// Number of tokens.
    public var vocabularySize: Int { tokens.count }

    /// Token ids for `text`. `addSpecial` prepends BOS when the model asks for it
    /// (`tokenizer.ggml.add_bos_token`); `parseSpecial` recognises control and user-defined
    /// token texts (e.g. `<|im_start|>`) in the text.
    public func encode(_ text: String, addSpecial: Bool = false, parseSpecial: Bool = true) -> [Int] {
        var out = [Int]()
        if addSpecial, addBOS, let bos { out.append(bos) }
        // Fragments: either a special token id or raw text bytes.
        enum Fragment { case token(Int), text([UInt8]) }
        var frags: [Fragment] = [.text(Array(text.utf8))]
        if parseSpecial {
            for s in specials {
                var next = [Fragment]()
                for f in frags {
                    guard case .text(let bytes) = f else { next.append(f); continue }
                    var start = 0, i = 0
                    while i + s.text.count <= bytes.count {
                        if bytes[i] == s.text[0] && Array(bytes[i..<(i + s.text.count)]) == s.text {
                            if i > start { next.append(.text(Array(bytes[start..<i]))) }
                            next.append(.token(s.id))
                            i += s.text.count; start = i
                        } else { i += 1 }
                    }
                    if start < bytes.count { next.append(.text(Array(bytes[start...]))) }
                }
                frags = next
            }
        }
        for f in frags {
            switch f {
            case .token(let id): out.append(id)
            case .text(let bytes):
                for piece in pretokenize(String(decoding: bytes, as: UTF8.self)) { bpe(piece, into: &out) }
            }
        }
        return out
    }

    /// The bytes a token stands for (control tokens: none unless `special`).
    public func bytes(of id: Int, special: Bool = false) -> [UInt8] {
        guard id >= 0, id < tokens.count else { return [] }
        switch types[id] {
        case .control, .unknown, .unused: return special ? Array(tokens[id].utf8) : []
        case .userDefined: return Array(tokens[id].utf8)
        default:
            var out = [UInt8]()
            for ch in tokens[id] {
                if let b = BPETokenizer.charToByte[ch] { out.append(b) } else { out.append(contentsOf: Array(String(ch).utf8)) }
            }
            return out
        }
    }

    /// Text of a token sequence (invalid UTF-8 replaced).
    public func decode(_ ids: [Int]) -> String {
        String(decoding: ids.flatMap { bytes(of: $0) }, as: UTF8.self)
    }

    // MARK: pre-tokenizer

    enum Cls { case letter, number, space, other }

    static func cls(_ s: Unicode.Scalar) -> Cls {
        if s.properties.isWhitespace { return .space }
        switch s.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return .letter
        case .decimalNumber, .letterNumber, .otherNumber: return .number
        default: return .other
        }
    }

    /// Splits text into pre-tokens (see the type's description).
    public func pretokenize(_ text: String) -> [String] {
        let scalars = Array(text.unicodeScalars)
        var out = [String]()
        var segStart = 0
        func gpt2(_ lo: Int, _ hi: Int) {
            let cl = scalars[lo..<hi].map(BPETokenizer.cls)
            var i = lo
            func emit(_ a: Int, _ b: Int) {
                var s = String.UnicodeScalarView()
                s.append(contentsOf: scalars[a..<b]); out.append(String(s))
            }
            while i < hi {
                let c = scalars[i]
                // Contractions: 's 't 'm 'd 're 've 'll (case-sensitive).
                if c == "'" && i + 1 < hi {
                    let n1 = scalars[i + 1]
                    if n1 == "s" || n1 == "t" || n1 == "m" || n1 == "d" { emit(i, i + 2); i += 2; continue }
                    if i + 2 < hi {
                        let n2 = scalars[i + 2]
                        if (n1 == "r" && n2 == "e") || (n1 == "v" && n2 == "e") || (n1 == "l" && n2 == "l") { emit(i, i + 3); i += 3; continue }
                    }
                }
                // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`
                let j = (c == " " && i + 1 < hi) ? i + 1 : i
                let k = cl[j - lo]
                if k != .space || j != i {
                    if k == .letter || k == .number || k == .other {
                        var e = j + 1
                        while e < hi && cl[e - lo] == k { e += 1 }
                        emit(i, e); i = e; continue
                    }
                }
                // `\s+(?!\S)` then `\s+`: a whitespace run; if more than one and followed by
                // non-space, the last space is left to the next piece.
                if cl[i - lo] == .space {
                    var e = i + 1
                    while e < hi && cl[e - lo] == .space { e += 1 }
                    if e - i > 1 && e < hi { e -= 1 }
                    emit(i, e); i = e; continue
                }
                emit(i, i + 1); i += 1
            }
        }
        if splitDigits {
            for (idx, s) in scalars.enumerated() where BPETokenizer.cls(s) == .number {
                if idx > segStart { gpt2(segStart, idx) }
                out.append(String(Character(s)))
                segStart = idx + 1
            }
        }
        if segStart < scalars.count { gpt2(segStart, scalars.count) }
        return out
    }

    // MARK: BPE

    private func bpe(_ piece: String, into out: inout [Int]) {
        var syms = Array(piece.utf8).map { String(BPETokenizer.byteToChar[Int($0)]) }
        if syms.isEmpty { return }
        while syms.count > 1 {
            var best = Int.max, at = -1
            for i in 0..<(syms.count - 1) {
                if let r = ranks[syms[i] + " " + syms[i + 1]], r < best { best = r; at = i }
            }
            if at < 0 { break }
            syms[at] += syms[at + 1]
            syms.remove(at: at + 1)
        }
        for s in syms {
            if let id = ids[s] { out.append(id); continue }
            // Not in the vocabulary: fall back to one token per byte.
            for ch in s { if let id = ids[String(ch)] { out.append(id) } }
        }
    }
}
