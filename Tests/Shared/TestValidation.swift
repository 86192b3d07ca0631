// Shared by the test targets (each links this file through a symlink in its folder).
import Testing
#if canImport(Glibc)
import Glibc
#endif
import QLinear

/// QLINEAR_VALIDATION=1 (CI's validation pass): every context the tests open runs with the Vulkan
/// validation layers, and each warning or error is printed and recorded as an issue of the test
/// that made the Vulkan call (the layer calls back on that thread). The CLI runs the tests start
/// inherit the variable and exit 1 on any message.
enum TestValidation {
    static let enabled: Bool = {
        guard let v = getenv("QLINEAR_VALIDATION") else { return false }
        let s = String(cString: v)
        return !s.isEmpty && s != "0"
    }()
    static let log: ValidationLog? = enabled ? ValidationLog(echo: true, onMessage: { m in Issue.record(Comment(rawValue: m.description)) }) : nil
    static var instance: InstanceOptions { InstanceOptions(validation: log) }
}
