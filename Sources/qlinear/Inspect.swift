import ArgumentParser
import QLinearLlama

/// `qlinear inspect FILE [--json]`: GGUF metadata and every tensor's name, type, shape and bytes.
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show a GGUF file's metadata and tensors.")

    @Argument(help: "GGUF file") var file: String
    @Flag(help: "JSON output") var json = false

    func run() throws {
        if json { print(try jsonString(LlamaTools.inspect(path: file))) } else { print(try LlamaTools.inspectText(path: file), terminator: "") }
    }
}
