#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import QLinear
import VulkanRuntime

let usage = """
qlinear — quantized linear layers on any Vulkan GPU

usage: qlinear <command> [options]
  devices                      every Vulkan device and its capabilities (cooperative-matrix table included)
  explain --op OP --shape MxNxK [--group G] [--act f16|f32] [--bias]
                               which kernel the dispatcher picks, and why
  check [--op OP]... [--kernel tiled|coopmat|all] [--shape MxNxK]... [--shapes FILE] [--quick]
        [--act f16|f32] [--group G]... [--seed S] [--out FILE]
                               conformance sweep against the CPU reference; exit 1 on any failure
  bench [--op OP]... [--shape MxNxK]... [--group G] [--act f16|f32] [--kernel tiled|coopmat|all]
        [--iters N] [--out FILE]
                               GPU-timestamped timings: median µs, TFLOP/s, % of roofline
  run --op OP --inputs IN.safetensors -o OUT.safetensors [--kernel tiled|coopmat] [--act f16|f32]
                               run one op on tensors from a safetensors file (names in README)
  quantize --format q4gsw|q8csw --inputs W.safetensors [--tensor weight] [--group 128] -o OUT.safetensors
                               quantize fp32/fp16/bf16 weights into QLinear/ExecuTorch source layouts
  inspect FILE.gguf [--json]   GGUF metadata and every tensor's name, type, shape and bytes
  generate --model FILE.gguf --scheme fp16|q4gsw|dq8ca_q4gsw|dq8ca_q8csw [--group G] -p PROMPT -n N [--temp T --seed S] [--json]
  perplexity --model FILE.gguf --scheme S --file TEXT [--ctx 512]
  llama-compare [--model FILE.gguf] --scheme S [--fixture Tests/Fixtures/smollm2-llamacpp.json] [--out FILE]
                               compare with llama.cpp's tokens, logits, greedy text and perplexity
common options: --device INDEX|NAME (or QLINEAR_DEVICE), --no-coopmat (or QLINEAR_DISABLE_COOPMAT=1), --json
ops: fp16, q4gsw, dq8ca_q4gsw, dq8ca_q8csw
"""

func stderrPrint(_ s: String) {
    var s = s
    if !s.hasSuffix("\n") { s += "\n" }
    let bytes = Array(s.utf8)
    _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}

func jsonString<T: Encodable>(_ v: T) throws -> String {
    let e = JSONEncoder()
    e.outputFormatting = [.prettyPrinted, .sortedKeys]
    e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    return String(decoding: try e.encode(v), as: UTF8.self)
}

func writeFile(_ path: String, _ text: String) throws {
    guard let f = fopen(path, "w") else { throw CLIError.failed("cannot open \(path) for writing") }
    defer { fclose(f) }
    fputs(text, f)
}

func openContext(_ args: inout Args) throws -> QLinearContext {
    var options = DispatchOptions.fromEnvironment()
    if args.flag("no-coopmat") { options.disableCoopMat = true }
    return try QLinearContext(device: args.value("device"), options: options)
}

func parseOps(_ args: inout Args) throws -> [Op] {
    let names = args.all("op")
    if names.isEmpty { return Op.allCases }
    return try names.map { n in
        guard let op = Op(rawValue: n) else { throw CLIError.usage("unknown op \"\(n)\" (ops: \(Op.allCases.map(\.rawValue).joined(separator: ", ")))") }
        return op
    }
}

func parseActs(_ args: inout Args) throws -> [DType] {
    guard let a = args.value("act") else { return DType.allCases }
    guard let d = DType(rawValue: a) else { throw CLIError.usage("--act must be f16 or f32") }
    return [d]
}

func parseKernels(_ args: inout Args, default def: [KernelKind]) throws -> [KernelKind] {
    guard let k = args.value("kernel") else { return def }
    if k == "all" { return KernelKind.allCases }
    if k == "auto" { return [] }
    guard let kind = KernelKind(rawValue: k) else { throw CLIError.usage("--kernel must be tiled, coopmat, all or auto") }
    return [kind]
}

let argv = Array(CommandLine.arguments.dropFirst())
// Temporary wiring until the CLI moves to swift-argument-parser: these subcommands already are
// ParsableCommands.
switch argv.first {
case "generate": Generate.main(Array(argv.dropFirst())); exit(0)
case "perplexity": Perplexity.main(Array(argv.dropFirst())); exit(0)
case "inspect": Inspect.main(Array(argv.dropFirst())); exit(0)
case "llama-compare": LlamaCompare.main(Array(argv.dropFirst())); exit(0)
default: break
}
guard let command = argv.first, command != "--help", command != "-h", command != "help" else {
    print(usage)
    exit(argv.isEmpty ? 2 : 0)
}
do {
    var args = try Args(Array(argv.dropFirst()))
    switch command {
    case "devices": try cmdDevices(&args)
    case "explain": try cmdExplain(&args)
    case "check": try cmdCheck(&args)
    case "bench": try cmdBench(&args)
    case "run": try cmdRun(&args)
    case "quantize": try cmdQuantize(&args)
    default: throw CLIError.usage("unknown command \"\(command)\"\n\n\(usage)")
    }
} catch CLIError.usage(let message) {
    stderrPrint("qlinear: \(message)")
    exit(2)
} catch let e as CLIError {
    stderrPrint("qlinear: \(e)")
    exit(1)
} catch {
    stderrPrint("qlinear: error: \(error)")
    exit(1)
}
