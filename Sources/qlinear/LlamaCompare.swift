import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import QLinearLlama

/// `qlinear llama-compare`: QLinear's llama path against the llama.cpp fixture.
struct LlamaCompare: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "llama-compare",
                                                    abstract: "Compare tokens, logits, greedy text and perplexity with llama.cpp's fixture.")

    @OptionGroup var options: ModelOptions
    @Option(help: "fixture from scripts/llama_fixture.py") var fixture = "Tests/Fixtures/smollm2-llamacpp.json"
    @Option(help: "perplexity text (the fixture's file)") var text = "Tests/Fixtures/public-domain.txt"
    @Flag(help: "skip the perplexity run") var noPerplexity = false
    @Option(help: "date recorded in the result") var date = ""
    @Option(help: "commit recorded in the result") var commit: String?
    @Option(help: "write the JSON result here") var out: String?

    func run() throws {
        let f = try LlamaFixture.load(fixture)
        let l = try options.load()
        var body: String?
        if !noPerplexity {
            guard let d = FileManager.default.contents(atPath: text) else { throw ValidationError("cannot read \(text)") }
            body = String(decoding: d, as: UTF8.self)
        }
        let r = try LlamaTools.compare(l, fixture: f, perplexityText: body, date: date, commit: commit) { stderrPrint($0) }
        let j = try jsonString(r)
        if let out { try writeFile(out, j + "\n") }
        let fx = LlamaTools.fixed
        print("scheme \(r.scheme) (INT4 scales: \(r.scaleRule ?? "-")) act \(r.act) g \(r.groupSize) on \(r.device): tokenizer \(r.tokenizerMatches)/\(r.tokenizerCases), "
              + "top-1 \(fx(100 * r.top1Agreement, 1))%, greedy \(r.greedyIdentical)/\(r.greedyCases), "
              + "ppl \(r.perplexity.map { fx($0, 4) } ?? "-") vs llama.cpp \(fx(r.referencePerplexity, 4)) "
              + "(\(r.perplexityRelativeDifference.map { fx(100 * $0, 2) } ?? "-")%), decode \(fx(r.decodeTokensPerSecond, 2)) tok/s")
    }
}
