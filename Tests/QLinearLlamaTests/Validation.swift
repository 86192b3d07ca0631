import Testing
#if canImport(Glibc)
import Glibc
#endif
import QLinear

/// QLINEAR_VALIDATION=1: contexts opened by these tests run with the Vulkan validation layers;
/// each warning or error is printed and recorded as an issue (same as QLinearTests' Support.swift).
enum TestValidation {
    static let enabled: Bool = {
        guard let v = getenv("QLINEAR_VALIDATION") else { return false }
        let s = String(cString: v)
        return !s.isEmpty && s != "0"
    }()
    static let log: ValidationLog? = enabled ? ValidationLog(echo: true, onMessage: { m in Issue.record(Comment(rawValue: m.description)) }) : nil
    static var instance: InstanceOptions { InstanceOptions(validation: log) }
}
