#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import QLinear

/// The llama.cpp reference written by `scripts/llama_fixture.py`.
public struct LlamaFixture: Codable, Sendable {
    public struct Tokenized: Codable, Sendable { public var text: String; public var ids: [Int] }
    public struct Top: Codable, Sendable { public var ids: [Int]; public var logits: [Float] }
    public struct Logits: Codable, Sendable { public var text: String; public var ids: [Int]; public var top: [Top] }
    public struct Greedy: Codable, Sendable {
        public var text: String; public var ids: [Int]; public var continuation: [Int]; public var continuation_text: String
    }
    public struct PPL: Codable, Sendable {
        public var file: String; public var ctx: Int; public var tokens: Int; public var chunks: Int; public var scored: Int
        public var chunk_ppl: [Double]; public var ppl: Double; public var text_tokens_head: [Int]
    }
    /// Provenance: llama-cpp-python version, model file, date.
    public var llama_cpp_python: String
    public var model: String
    public var date: String
    /// Token ids per prompt; top-20 logits per position; greedy continuations; perplexity.
    public var tokenize: [Tokenized]
    public var logits: [Logits]
    public var greedy: [Greedy]
    public var perplexity: PPL

    /// Reads and decodes a fixture file.
    public static func load(_ path: String) throws -> LlamaFixture {
        guard let d = FileManager.default.contents(atPath: path) else { throw QLinearError.io("cannot read \(path)") }
        return try JSONDecoder().decode(LlamaFixture.self, from: d)
    }
}

/// QLinear against the llama.cpp fixture.
public struct LlamaComparison: Codable, Sendable {
    public struct TokenMismatch: Codable, Sendable { public var text: String; public var expected: [Int]; public var got: [Int] }
    public struct LogitsCase: Codable, Sendable {
        public var text: String; public var positions: Int; public var top1Agree: Int
        /// Largest |ours − llama.cpp| over the reference's top-20 logits, all positions.
        public var maxAbsDiffTop20: Float
        /// Same at position 0 only.
        public var maxAbsDiffFirst: Float
    }
    public struct GreedyCase: Codable, Sendable {
        public var text: String; public var identical: Bool; public var firstDifference: Int?
        public var expected: [Int]; public var got: [Int]; public var gotText: String
    }
    /// What ran: schemes, activation type, INT4 group, device, date.
    public var scheme: String, headScheme: String, act: String, groupSize: Int, device: String, date: String
    /// How INT4 scales were chosen when weights were requantized (`mse` or `absmax`), and the commit that ran.
    public var scaleRule: String?, commit: String?
    /// Prompts whose ids equal the fixture's, of all.
    public var tokenizerMatches: Int, tokenizerCases: Int
    public var tokenizerMismatches: [TokenMismatch]
    public var logits: [LogitsCase]
    /// Fraction of logit positions whose argmax equals the reference's.
    public var top1Agreement: Double
    /// Greedy continuations identical to the reference's, of all.
    public var greedyIdentical: Int, greedyCases: Int
    public var greedy: [GreedyCase]
    /// Our perplexity, the reference's, and ours / theirs − 1.
    public var perplexity: Double?, referencePerplexity: Double, perplexityRelativeDifference: Double?
    public var perplexitySeconds: Double?, perplexityTokensPerSecond: Double?, perplexityLinearShare: Double?
    /// Mean decode and prompt speeds over the greedy runs, and the linear layers' share of that time.
    public var decodeTokensPerSecond: Double, prefillTokensPerSecond: Double, decodeLinearShare: Double
}

extension LlamaTools {
    /// Runs every comparison against `fixture` (`perplexityText` nil skips perplexity).
    public static func compare(_ l: Loaded, fixture f: LlamaFixture, perplexityText: String?, date: String, commit: String? = nil,
                               log: (String) -> Void = { _ in }) throws -> LlamaComparison {
        let tok = l.tokenizer, m = l.model
        var mism = [LlamaComparison.TokenMismatch]()
        for c in f.tokenize {
            let got = tok.encode(c.text)
            if got != c.ids { mism.append(.init(text: c.text, expected: c.ids, got: got)) }
        }
        log("tokenizer: \(f.tokenize.count - mism.count)/\(f.tokenize.count) identical")
        var lc = [LlamaComparison.LogitsCase](), agree = 0, total = 0
        for c in f.logits {
            m.reset()
            let v = m.config.vocab
            let lg = try m.forward(c.ids, allLogits: true)
            var a = 0, mx: Float = 0, first: Float = 0
            for (p, top) in c.top.enumerated() {
                let row = Array(lg[(p * v)..<((p + 1) * v)])
                if argmax(row) == top.ids[0] { a += 1 }
                for (i, id) in top.ids.enumerated() {
                    let d = abs(row[id] - top.logits[i])
                    mx = max(mx, d)
                    if p == 0 { first = max(first, d) }
                }
            }
            agree += a; total += c.top.count
            lc.append(.init(text: c.text, positions: c.top.count, top1Agree: a, maxAbsDiffTop20: mx, maxAbsDiffFirst: first))
            log("logits \"\(c.text.prefix(30))\": top-1 \(a)/\(c.top.count), max |Δ| top-20 \(fixed(Double(mx), 3))")
        }
        var gc = [LlamaComparison.GreedyCase](), same = 0
        var decTPS = 0.0, preTPS = 0.0, share = 0.0
        for c in f.greedy {
            let s = try generate(l, prompt: c.ids, maxTokens: 32)
            let diff = zip(s.tokens, c.continuation).enumerated().first { $0.element.0 != $0.element.1 }?.offset
                ?? (s.tokens.count == c.continuation.count ? nil : min(s.tokens.count, c.continuation.count))
            if diff == nil { same += 1 }
            decTPS += s.generateTokensPerSecond / Double(f.greedy.count)
            preTPS += s.promptTokensPerSecond / Double(f.greedy.count)
            share += s.linearShare / Double(f.greedy.count)
            gc.append(.init(text: c.text, identical: diff == nil, firstDifference: diff, expected: c.continuation, got: s.tokens, gotText: s.text))
            log("greedy \"\(c.text.prefix(30))\": \(diff == nil ? "identical" : "differs at \(diff!)") (\(fixed(s.generateTokensPerSecond, 2)) tok/s)")
        }
        var ppl: PerplexityResult?
        if let text = perplexityText {
            let ids = tok.encode(text, parseSpecial: false)
            if Array(ids.prefix(f.perplexity.text_tokens_head.count)) != f.perplexity.text_tokens_head || ids.count != f.perplexity.tokens {
                log("warning: the perplexity text tokenizes differently from the fixture (\(ids.count) vs \(f.perplexity.tokens) tokens)")
            }
            ppl = try perplexity(l, tokens: ids, ctx: f.perplexity.ctx) { c, p in log("perplexity chunk \(c): \(fixed(p, 4)) (llama.cpp \(fixed(f.perplexity.chunk_ppl[safe: c] ?? .nan, 4)))") }
        }
        return LlamaComparison(scheme: m.scheme.rawValue, headScheme: m.headScheme.rawValue, act: m.act.rawValue, groupSize: m.groupSize,
                               device: m.ctx.device.capabilities.name, date: date, scaleRule: m.scaleRule.rawValue, commit: commit,
                               tokenizerMatches: f.tokenize.count - mism.count, tokenizerCases: f.tokenize.count, tokenizerMismatches: mism,
                               logits: lc, top1Agreement: total > 0 ? Double(agree) / Double(total) : 0,
                               greedyIdentical: same, greedyCases: f.greedy.count, greedy: gc,
                               perplexity: ppl?.perplexity, referencePerplexity: f.perplexity.ppl,
                               perplexityRelativeDifference: ppl.map { $0.perplexity / f.perplexity.ppl - 1 },
                               perplexitySeconds: ppl?.seconds, perplexityTokensPerSecond: ppl?.tokensPerSecond, perplexityLinearShare: ppl?.linearShare,
                               decodeTokensPerSecond: decTPS, prefillTokensPerSecond: preTPS, decodeLinearShare: share)
    }
}

extension Array {
    subscript(safe i: Int) -> Element? { i >= 0 && i < count ? self[i] : nil }
}
