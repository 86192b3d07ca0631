#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import QLinearIO
import QLinearLlama

/// `qlinear inspect FILE [--json]`: a GGUF file's metadata and every tensor's name, type, shape
/// and bytes; or a safetensors file's tensors, with QLinear's quantized entries validated.
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show a GGUF or (QLinear) safetensors file's metadata and tensors.")

    @Argument(help: "GGUF or safetensors file") var file: String
    @Flag(help: "JSON output") var json = false

    func run() throws {
        var magic = [UInt8](repeating: 0, count: 4)
        if let f = fopen(file, "rb") { _ = fread(&magic, 1, 4, f); fclose(f) }
        if magic == Array("GGUF".utf8) {
            if json { print(try jsonString(LlamaTools.inspect(path: file))) } else { print(try LlamaTools.inspectText(path: file), terminator: "") }
        } else {
            let s = try QLinearSafetensors.inspect(path: file)
            if json { print(try jsonString(s)) } else { print(QLinearSafetensors.inspectText(s), terminator: "") }
        }
    }
}
