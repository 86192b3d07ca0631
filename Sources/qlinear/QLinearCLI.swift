#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import QLinear

/// The `qlinear` command. Exit codes: 0 success, 1 a runtime failure (a check that failed, a case
/// that could not run, a bad file), 2 a usage error (unknown option or value, malformed shape).
@main
struct QLinearCLI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "qlinear",
        abstract: "Quantized linear layers (y = x·Wᵀ + b) on any Vulkan GPU.",
        discussion: """
            Ops: fp16, q4gsw, dq8ca_q4gsw, dq8ca_q8csw. Kernels: tiled (any device), coopmat \
            (VK_KHR_cooperative_matrix), gemv (decode batches). Environment: QLINEAR_DEVICE, \
            QLINEAR_DISABLE_COOPMAT=1, QLINEAR_TILE, QLINEAR_BK (see each command's --help); \
            QLINEAR_INT8_PROBE=0 skips the int8 fragment probe (its kernel then never runs); \
            QLINEAR_VALIDATION=1 runs with the Vulkan validation layers and fails on any message.
            Exit status: 0 success, 1 runtime failure, 2 usage error.
            """,
        subcommands: [Devices.self, Explain.self, Check.self, Bench.self, Tune.self, Run.self, Quantize.self, Inspect.self, Generate.self, Perplexity.self, LlamaCompare.self])

    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            let status = report(error)
            if let v = CLIValidation.failures() { stderrPrint("qlinear: \(v)") }
            Glibc.exit(status)
        }
        // QLINEAR_VALIDATION=1: any validation-layer message fails the command.
        if let v = CLIValidation.failures() {
            stderrPrint("qlinear: \(v)")
            Glibc.exit(1)
        }
    }

    /// Prints `error` the way the user should see it and returns the exit status.
    static func report(_ error: any Error) -> Int32 {
        if let f = error as? CLIFailure { stderrPrint("qlinear: \(f.description)"); return 1 }
        if let q = error as? QLinearError { stderrPrint("qlinear: \(q)"); return 1 }
        if let v = error as? VulkanError { stderrPrint("qlinear: \(v)"); return 1 }
        let code = exitCode(for: error)
        let message = fullMessage(for: error)
        if code == .success {
            if !message.isEmpty { print(message) }
            return 0
        }
        if code == .validationFailure {
            stderrPrint(message.hasPrefix("Error:") || message.isEmpty ? message : "Error: \(message)")
            return 2
        }
        if let e = error as? ExitCode { return e.rawValue }
        stderrPrint("qlinear: error: \(message.isEmpty ? String(describing: error) : message)")
        return 1
    }
}
