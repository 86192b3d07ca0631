import CVulkan
#if canImport(Glibc)
import Glibc
#endif

/// How an `Instance` is created. The default is what applications want: no layers.
///
/// The library never reads the environment; the `qlinear` CLI and the test suites map
/// `QLINEAR_VALIDATION=1` to `validation` (docs/RELIABILITY.md).
public struct InstanceOptions: Sendable {
    /// Enables VK_LAYER_KHRONOS_validation with a VK_EXT_debug_utils messenger that records every
    /// warning and error into this log. nil: no layers.
    public var validation: ValidationLog?
    /// With `validation`: also the layer's synchronization validation (hazards between recorded
    /// commands: a dispatch reading what an earlier one writes without a barrier).
    public var synchronizationValidation: Bool
    /// With `validation`: GPU-assisted validation (the layer instruments shaders to catch
    /// out-of-bounds descriptor accesses). Slow; off by default.
    public var gpuAssisted: Bool

    public init(validation: ValidationLog? = nil, synchronizationValidation: Bool = true, gpuAssisted: Bool = false) {
        self.validation = validation
        self.synchronizationValidation = synchronizationValidation
        self.gpuAssisted = gpuAssisted
    }
}

/// Messages from the Vulkan validation layers, shared by any number of instances. Thread-safe:
/// the layers call back on whichever thread made the Vulkan call.
public final class ValidationLog: Sendable {
    public enum Severity: String, Sendable { case warning, error }

    public struct Message: Sendable, CustomStringConvertible {
        public var severity: Severity
        /// The layer's message id, e.g. "VUID-vkCmdDispatch-None-02691" or "SYNC-HAZARD-READ-AFTER-WRITE".
        public var id: String
        public var text: String
        public var description: String { "Vulkan validation \(severity.rawValue): [\(id)] \(text)" }
    }

    struct State {
        var errors = 0, warnings = 0
        var messages: [Message] = []
    }
    private let state = Locked(State())
    /// Print each message to stderr as it arrives.
    public let echo: Bool
    /// The most messages kept (counting goes on).
    public let keep: Int
    private let onMessage: (@Sendable (Message) -> Void)?

    /// `onMessage` is called for every warning and error, on the thread that made the Vulkan call
    /// (tests record an issue there).
    public init(echo: Bool = true, keep: Int = 200, onMessage: (@Sendable (Message) -> Void)? = nil) {
        self.echo = echo
        self.keep = keep
        self.onMessage = onMessage
    }

    public var errorCount: Int { state.withLock { $0.errors } }
    public var warningCount: Int { state.withLock { $0.warnings } }
    /// Errors plus warnings.
    public var count: Int { state.withLock { $0.errors + $0.warnings } }
    /// The first `keep` messages.
    public var messages: [Message] { state.withLock { $0.messages } }

    /// One line per kind of message: "N × [id] first text".
    public func summary() -> String {
        let all = messages
        var order: [String] = []
        var seen: [String: (Int, Message)] = [:]
        for m in all {
            if let s = seen[m.id] { seen[m.id] = (s.0 + 1, s.1) } else { seen[m.id] = (1, m); order.append(m.id) }
        }
        let (e, w) = state.withLock { ($0.errors, $0.warnings) }
        var lines = ["Vulkan validation: \(e) error(s), \(w) warning(s)"]
        for id in order { let (n, m) = seen[id]!; lines.append("  \(n) × \(m)") }
        return lines.joined(separator: "\n")
    }

    func record(_ m: Message) {
        state.withLock { s in
            if m.severity == .error { s.errors += 1 } else { s.warnings += 1 }
            if s.messages.count < keep { s.messages.append(m) }
        }
        if echo {
            var line = m.description
            if !line.hasSuffix("\n") { line += "\n" }
            let bytes = Array(line.utf8)
            _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        }
        onMessage?(m)
    }
}

/// The messenger callback: a C function pointer, so it captures nothing; the log comes through
/// pUserData (unretained — the instance keeps its log alive).
let validationCallback: PFN_vkDebugUtilsMessengerCallbackEXT = { severity, _, data, user in
    guard let user else { return VkBool32(VK_FALSE) }
    let log = Unmanaged<ValidationLog>.fromOpaque(user).takeUnretainedValue()
    let sev: ValidationLog.Severity = severity.rawValue & VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT.rawValue != 0 ? .error : .warning
    let id = data?.pointee.pMessageIdName.map { String(cString: $0) } ?? "?"
    let text = data?.pointee.pMessage.map { String(cString: $0) } ?? ""
    log.record(ValidationLog.Message(severity: sev, id: id, text: text))
    return VkBool32(VK_FALSE)   // never abort the call: the caller sees the message, the run goes on
}

extension InstanceOptions {
    static let validationLayer = "VK_LAYER_KHRONOS_validation"

    /// Whether the Khronos validation layer is installed.
    public static var validationLayerAvailable: Bool {
        var n: UInt32 = 0
        guard vkEnumerateInstanceLayerProperties(&n, nil) == VK_SUCCESS, n > 0 else { return false }
        var props = [VkLayerProperties](repeating: VkLayerProperties(), count: Int(n))
        guard vkEnumerateInstanceLayerProperties(&n, &props) == VK_SUCCESS else { return false }
        return props.prefix(Int(n)).contains { cString($0.layerName) == validationLayer }
    }
}
