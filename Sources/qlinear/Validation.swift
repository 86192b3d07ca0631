#if canImport(Glibc)
import Glibc
#endif
import QLinear

/// QLINEAR_VALIDATION=1 runs the command with the Vulkan validation layers (VK_LAYER_KHRONOS_validation
/// with synchronization validation; `gpu` adds GPU-assisted validation). Every warning or error is
/// printed to stderr as it happens, and the command then exits 1 even if it otherwise succeeded.
enum CLIValidation {
    static let mode: String? = DeviceOptions.env("QLINEAR_VALIDATION").flatMap { $0 == "0" ? nil : $0 }
    static let log: ValidationLog? = mode == nil ? nil : ValidationLog(echo: true)

    /// Options for every Vulkan instance the command creates.
    static var instance: InstanceOptions { InstanceOptions(validation: log, gpuAssisted: mode == "gpu") }

    /// After the command: nil when clean (or validation is off), else the summary to print.
    static func failures() -> String? {
        guard let log, log.count > 0 else { return nil }
        return log.summary()
    }
}
