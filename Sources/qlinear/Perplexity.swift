import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import QLinearLlama

/// `qlinear perplexity`: perplexity of a text file, llama.cpp's method (second half of each chunk).
struct Perplexity: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Perplexity of a text file under a llama GGUF model or the QLinear safetensors quantized from one.")

    @OptionGroup var options: ModelOptions
    @Option(help: "UTF-8 text file") var file: String
    @Option(help: "chunk length in tokens") var ctx: Int = 512
    @Flag(help: "JSON output") var json = false

    func run() throws {
        let text = try readUTF8Text(file)
        var o = options
        if o.ctxSize == nil { o.ctxSize = ctx }   // device ops: a KV cache of one chunk
        let l = try o.load()
        let tokens = l.tokenizer.encode(text, parseSpecial: false)
        let r = try LlamaTools.perplexity(l, tokens: tokens, ctx: ctx) { c, p in
            if !json { stderrPrint("chunk \(c): \(LlamaTools.fixed(p, 4))") }
        }
        if json { print(try jsonString(r)); return }
        let f = LlamaTools.fixed
        print("perplexity \(f(r.perplexity, 4)) over \(r.scored) scored tokens (\(r.chunks) chunks of \(r.ctx); \(r.tokens) tokens in file); "
              + "\(f(r.tokensPerSecond, 1)) tok/s, \(l.model.ops == .device ? "GPU submissions" : "linear layers") \(f(100 * r.linearShare, 0))% of the time (ops \(l.model.ops.rawValue))")
    }
}
