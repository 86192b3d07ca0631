#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import QLinear
import QLinearIO
import QLinearLlama

extension QLinearSafetensors.Scheme: ExpressibleByArgument {}
/// `--format`'s values (the older spelling of `--scheme`).
enum QuantFormat: String, ExpressibleByArgument, CaseIterable { case q4gsw, q8csw }
/// `--calibration-method`.
enum CalibrationMethod: String, ExpressibleByArgument, CaseIterable { case gptq, imatrix }
/// `--imatrix-weights`.
enum ImatrixWeights: String, ExpressibleByArgument, CaseIterable { case withWeights = "with-weights", importanceOnly = "importance-only" }

/// `qlinear quantize IN -o OUT --scheme …`: llama-quantize's conventions — one line per tensor,
/// totals, a progress bar on a terminal — writing QLinear safetensors (docs/LLAMA.md).
struct Quantize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Quantize a GGUF or safetensors model into QLinear safetensors (q4gsw, q8csw or fp16 weights).",
        discussion: """
            Every 2-D float tensor (F32/F16/BF16, or GGUF Q8_0/Q4_0/Q4_1) that --include matches and \
            --exclude does not is quantized; the rest (norms, excluded tensors) is copied as it is \
            (GGUF block types dequantized to F32 exactly). GGUF Q4_0 → q4gsw with group 32 is lossless. \
            From a GGUF, the token embedding is kept as it is (block types as their blocks), a tied LM \
            head is written as output.weight, and the metadata (tokenizer included) is carried, so \
            `qlinear generate --model OUT` runs the file as stored. --head-scheme keeps the LM head at \
            another scheme than the rest (e.g. --scheme q4gsw --head-scheme q8csw or fp16). \
            Output layout: docs/LLAMA.md ("QLinear safetensors"). The older form \
            `quantize --format q4gsw --inputs W.safetensors [--tensor weight]` still works.
            """)

    @Argument(help: "Input model: GGUF or safetensors.") var input: String?
    @Option(name: [.customShort("o"), .customLong("output")], help: "Output safetensors file.") var output: String
    @Option(help: "Weight scheme: q4gsw, q8csw or fp16.") var scheme: QLinearSafetensors.Scheme?
    @Option(name: .customLong("head-scheme"), help: "The LM head's scheme (default: --scheme): fp16, q8csw or q4gsw (llama-quantize keeps the output tensor at higher precision too). The head is output.weight (safetensors: or lm_head.weight), else a GGUF's tied token_embd.weight; it must be quantized (not excluded, K a multiple of --group for q4gsw).")
    var headScheme: QLinearSafetensors.Scheme?
    @Option(name: .customLong("head-scale-dtype"), help: "The LM head's scale dtype (default: --scale-dtype; needs --head-scheme q8csw or q4gsw). f32 with --head-scheme q8csw gives the head `generate --head-scheme dq8ca_q8csw` builds from a GGUF.")
    var headScaleDType: DType?
    @Option(help: "Same as --scheme (q4gsw or q8csw), for the older form.") var format: QuantFormat?
    @Option(help: "Same as the input argument, for the older form.") var inputs: String?
    @Option(help: "Quantize only this tensor (repeatable; with --inputs the default is \"weight\").") var tensor: [String] = []
    @Option(help: "INT4 group size along K (q4gsw; must divide K, else the tensor is copied).") var group = 32
    @Option(help: "Quantize only tensors whose name matches this regular expression.") var include: String?
    @Option(help: "Do not quantize tensors whose name matches this regular expression.") var exclude: String?
    @Option(name: .customLong("scale-dtype"), help: "Scale dtype: f16 (ExecuTorch's default) or f32 (for weights whose scales overflow fp16).")
    var scaleDType: DType = .f16
    @Option(name: .customLong("scale-rule"), help: "INT4 scales: mse (per-group error search, default) or absmax (max|w|/7.5, torchao's rule).")
    var scaleRule: Q4ScaleRule = .mse
    @Option(help: "q4gsw from a llama GGUF: calibrate on this text file — the model runs it with fp16 weights (host ops) and each linear layer's input statistics steer the INT4 scales (--calibration-method).")
    var calibrate: String?
    @Option(name: .customLong("calibration-method"), help: "How --calibrate steers INT4: gptq (error compensation from Σxxᵀ) or imatrix (each column's error weighted by its mean x²).")
    var calibrationMethod: CalibrationMethod = .imatrix
    @Option(name: .customLong("imatrix-weights"), help: "imatrix: weigh column c by importance·√(σ² + w²) (with-weights, llama.cpp's form) or by importance alone (importance-only).")
    var imatrixWeights: ImatrixWeights = .withWeights
    @Option(name: .customLong("gptq-include"), help: "GPTQ only for tensors whose name matches this regular expression (the others: imatrix).")
    var gptqInclude: String?
    @Option(name: .customLong("calibration-ctx"), help: "calibration: tokens per chunk (each from an empty KV cache).") var calibrationCtx = 512
    @Option(name: .customLong("calibration-tokens"), help: "calibration: use at most this many tokens of the text (default: all).") var calibrationTokens: Int?
    @Option(name: .customLong("gptq-dampening"), help: "GPTQ: added to the Hessian's diagonal, relative to its mean.") var gptqDampening = 0.01
    @Option(help: "Vulkan device index or name (calibration runs the model).") var device: String?
    @Flag(help: "Print a JSON summary (per tensor and totals) instead of the lines.") var json = false

    func validate() throws {
        if group < 8 || group % 8 != 0 { throw ValidationError("--group must be a positive multiple of 8, got \(group)") }
        if (input == nil) == (inputs == nil) { throw ValidationError("give the input file once: `quantize IN -o OUT` (or --inputs IN)") }
        if scheme != nil && format != nil { throw ValidationError("--scheme and --format are the same option; give one") }
        if scheme == nil && format == nil { throw ValidationError("missing --scheme q4gsw|q8csw|fp16") }
        if calibrate != nil && (scheme ?? (format == .q8csw ? .q8csw : .q4gsw)) != .q4gsw && headScheme != .q4gsw {
            throw ValidationError("--calibrate applies to --scheme q4gsw (or --head-scheme q4gsw)")
        }
        if headScheme != nil && (format != nil || inputs != nil || !tensor.isEmpty) {
            throw ValidationError("--head-scheme needs the model form `quantize IN -o OUT --scheme …` (not --format, --inputs or --tensor)")
        }
        if headScaleDType != nil && headScheme == nil { throw ValidationError("--head-scale-dtype needs --head-scheme") }
        if headScaleDType != nil && headScheme == .fp16 { throw ValidationError("--head-scale-dtype: --head-scheme fp16 has no scales") }
        if calibrationCtx < 16 { throw ValidationError("--calibration-ctx must be ≥ 16, got \(calibrationCtx)") }
        if let t = calibrationTokens, t < 16 { throw ValidationError("--calibration-tokens must be ≥ 16, got \(t)") }
        if !(gptqDampening > 0 && gptqDampening.isFinite) { throw ValidationError("--gptq-dampening must be > 0, got \(gptqDampening)") }
        for (what, p) in [("--include", include), ("--exclude", exclude), ("--gptq-include", gptqInclude)] {
            if let p, (try? Regex(p)) == nil { throw ValidationError("\(what) \"\(p)\" is not a valid regular expression") }
        }
    }

    func run() throws {
        let path = input ?? inputs!
        let s: QLinearSafetensors.Scheme = scheme ?? (format == .q8csw ? .q8csw : .q4gsw)
        let only: [String]? = !tensor.isEmpty ? tensor : (inputs != nil && include == nil && exclude == nil ? ["weight"] : nil)
        var opts = ModelQuantizer.Options(scheme: s, groupSize: group, scaleDType: scaleDType, rule: scaleRule,
                                          include: include, exclude: exclude, only: only)
        opts.headScheme = headScheme
        opts.headScaleDType = headScaleDType
        if calibrate != nil, sameFile(path, output) {
            throw ValidationError("the output \(output) is the input file; write elsewhere")
        }
        if let text = calibrate { try applyCalibration(model: path, text: text, to: &opts) }
        let tty = isatty(2) == 1
        var lastBar = -1
        let r = try ModelQuantizer.run(input: path, output: output, options: opts, onTensor: { t, n in
            if tty { stderrPrint("\r\u{1B}[K", newline: false) }
            if !json { writeOut(Array((Quantize.line(t, n) + "\n").utf8)) }
        }, progress: { f, name in
            guard tty else { return }
            let pct = Int((f * 100).rounded(.down))
            if pct == lastBar && f < 1 { return }
            lastBar = pct
            let width = 30, filled = min(width, Int(f * Double(width)))
            let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
            stderrPrint("\r\u{1B}[K\(bar) \(lpad(String(pct), 3))% \(name.prefix(40))", newline: false)
            if f >= 1 { stderrPrint("\r\u{1B}[K", newline: false) }
        })
        if json { print(try jsonString(r)); return }
        if let note = opts.gptqNote { print("calibration: \(note)") }
        let mib = { (b: Int) in fmt(Double(b) / 1048576, 2) }
        print("quantized \(r.quantized) tensors, copied \(r.copied); size \(mib(r.inputBytes)) MiB → \(mib(r.outputBytes)) MiB "
              + "(file \(mib(r.outputFileBytes)) MiB)\(r.maxRelError.map { ", max rel. error \(fmt($0, 4))" } ?? ""); "
              + "\(fmt(r.seconds, 1)) s; peak resident \(mib(r.peakResidentBytes)) MiB (largest input tensor \(mib(r.largestInputTensorBytes)) MiB) → \(r.output)")
    }

    /// `[ i/ n] name [shape] type → scheme, size A MiB → B MiB, rel. error e`
    /// Whether two paths name one existing file (same device and inode).
    func sameFile(_ a: String, _ b: String) -> Bool {
        var sa = stat(), sb = stat()
        guard stat(a, &sa) == 0, stat(b, &sb) == 0 else { return false }
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino
    }

    /// Calibrates: runs the GGUF model (fp16 weights, host ops) over the text, then sets either
    /// GPTQ factors (`--calibration-method gptq`, optionally only for `--gptq-include`, the rest
    /// imatrix) or importance vectors (imatrix). Progress on stderr.
    func applyCalibration(model path: String, text: String, to opts: inout ModelQuantizer.Options) throws {
        guard LlamaTools.isGGUF(path: path) else {
            throw ValidationError("--calibrate needs a llama GGUF input (the model is run to observe its layer inputs)")
        }
        let data = try readUTF8Text(text)
        let t0 = monotonicSeconds()
        stderrPrint("calibration: loading the model with fp16 weights (host ops)…")
        let l = try LlamaTools.load(path: path, scheme: .fp16, device: device, instance: CLIValidation.instance, ops: .host, int8Probe: DeviceOptions.int8Probe)
        var tokens = l.tokenizer.encode(data, parseSpecial: false)
        if let n = calibrationTokens, tokens.count > n { tokens = Array(tokens.prefix(n)) }
        let c = try LlamaTools.calibrate(l, tokens: tokens, ctx: calibrationCtx) { i, n in stderrPrint("calibration: chunk \(i)/\(n)") }
        opts.importance = c.importance()
        opts.importanceWeightTerm = imatrixWeights == .withWeights
        if calibrationMethod == .gptq {
            var f = try c.factors(dampening: gptqDampening) { i, n in if i % 10 == 0 || i == n { stderrPrint("GPTQ: factored \(i)/\(n) layer inputs") } }
            if let inc = gptqInclude {
                let re = try Regex(inc)
                f = f.filter { (try? re.firstMatch(in: $0.key)) != nil }
            }
            opts.gptq = f
        }
        let name = text.split(separator: "/").last.map(String.init) ?? text
        opts.gptqNote = "\(calibrationMethod.rawValue) calibrated on \(c.tokens) tokens of \(name) (\(c.chunks) chunks of ≤ \(c.ctx))"
            + (calibrationMethod == .gptq ? ", dampening \(gptqDampening)" : "") + ", \(fmt(monotonicSeconds() - t0, 1)) s"
    }

    static func line(_ t: ModelQuantizer.TensorResult, _ n: Int) -> String {
        let w = String(n).count
        let mib = { (b: Int) in fmt(Double(b) / 1048576, 2) }
        var s = "[\(lpad(String(t.index), w))/\(n)] \(t.name) [\(t.shape.map(String.init).joined(separator: ", "))] \(t.type) → "
        if t.action == "quantized" {
            s += t.to + (t.note.map { " (\($0))" } ?? "")
        } else {
            s += "copied as \(t.to)" + (t.note.map { " (\($0.hasPrefix("; ") ? String($0.dropFirst(2)) : $0))" } ?? "")
        }
        s += ", size \(mib(t.inputBytes)) MiB → \(mib(t.outputBytes)) MiB"
        if let e = t.relError { s += ", rel. error \(e == 0 || e >= 0.001 ? fmt(e, 4) : sci(e))" }
        return s
    }
}
