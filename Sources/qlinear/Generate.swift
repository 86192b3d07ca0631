import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif
import QLinearLlama

/// `qlinear generate`: text generation with every linear layer on QLinear.
struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Generate text from a llama GGUF model or the QLinear safetensors quantized from one.")

    @OptionGroup var options: ModelOptions
    @Option(name: .shortAndLong, help: "prompt (special tokens such as <|im_start|> are recognised)") var prompt: String?
    @Option(help: "read the prompt from this file instead") var file: String?
    @Option(help: "keep only the first N prompt tokens (for fixed-size speed runs)") var promptTokens: Int?
    @Option(name: .short, help: "tokens to generate") var n: Int = 64
    @Option(help: "temperature (0 = greedy)") var temp: Float = 0
    @Option(help: "random seed for sampling") var seed: UInt64 = 0
    @Flag(help: "wrap the prompt in the model's ChatML user/assistant template") var chat = false
    @Flag(help: "JSON output (text, tokens, timings)") var json = false
    @Flag(help: "before timing, run the prompt and one decode step (untimed) until --warmup-seconds have passed, so pipelines, recordings and buffers for both batch sizes exist and a GPU's clocks are up, as a warmed-up peer measures")
    var warmup = false
    @Option(name: .customLong("warmup-seconds"), help: "with --warmup: repeat the warm-up for at least this long (at least once; at most 200 runs)")
    var warmupSeconds: Double = 0.5

    func validate() throws {
        if (prompt == nil) == (file == nil) { throw ValidationError("give exactly one of --prompt and --file") }
        if let p = promptTokens, p < 1 { throw ValidationError("--prompt-tokens must be ≥ 1") }
        if !(warmupSeconds >= 0 && warmupSeconds.isFinite && warmupSeconds <= 60) { throw ValidationError("--warmup-seconds must be in 0…60, got \(warmupSeconds)") }
        if n < 0 { throw ValidationError("-n must be ≥ 0") }
    }

    func run() throws {
        let body = try prompt ?? readUTF8Text(file ?? "")
        let l = try options.load()
        var text = chat ? "<|im_start|>user\n\(body)<|im_end|>\n<|im_start|>assistant\n" : body
        var ids = l.tokenizer.encode(text, addSpecial: true)
        if let p = promptTokens, ids.count > p {
            ids = Array(ids.prefix(p))
            text = String(decoding: ids.flatMap { l.tokenizer.bytes(of: $0) }, as: UTF8.self)
        }
        if !json { writeOut(Array(text.utf8)) }
        let s = try LlamaTools.generate(l, prompt: ids, maxTokens: n, temp: temp, seed: seed, warmup: warmup, warmupSeconds: warmupSeconds) { bytes in
            if !json { writeOut(bytes) }
        }
        if json { print(try jsonString(s)); return }
        writeOut([10])
        let f = LlamaTools.fixed
        stderrPrint("load \(f(l.loadSeconds, 2)) s; prompt \(s.promptTokens) tokens, \(f(s.promptTokensPerSecond, 2)) tok/s; "
                    + "generation \(s.generatedTokens) tokens, \(s.generatedTokens > 1 ? f(s.generateTokensPerSecond, 2) + " tok/s" : "no decode step"); \(l.model.ops == .device ? "GPU submissions" : "linear layers") \(f(100 * s.linearShare, 1))% of the time "
                    + "(ops \(l.model.ops.rawValue), scheme \(l.model.scheme.rawValue), head \(l.model.headScheme.rawValue), act \(options.act.rawValue))")
    }
}

/// Unbuffered bytes to standard output (tokens may end inside a UTF-8 sequence).
func writeOut(_ bytes: [UInt8]) {
    _ = bytes.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
}
