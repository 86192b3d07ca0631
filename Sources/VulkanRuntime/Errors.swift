import CVulkan

/// An error from the Vulkan runtime: a failed Vulkan call (with its VkResult) or a missing capability.
public enum VulkanError: Error, CustomStringConvertible, Sendable {
    case call(String, Int32)
    case noDevice(String)
    case unsupported(String)
    case outOfRange(String)

    public var description: String {
        switch self {
        case .call(let what, let code): return "Vulkan call \(what) failed: \(VulkanError.name(of: code)) (\(code))"
        case .noDevice(let why): return "no Vulkan device: \(why)"
        case .unsupported(let why): return "unsupported: \(why)"
        case .outOfRange(let why): return "out of range: \(why)"
        }
    }

    static func name(of code: Int32) -> String {
        switch code {
        case 1: return "VK_NOT_READY"
        case 2: return "VK_TIMEOUT"
        case -1: return "VK_ERROR_OUT_OF_HOST_MEMORY"
        case -2: return "VK_ERROR_OUT_OF_DEVICE_MEMORY"
        case -3: return "VK_ERROR_INITIALIZATION_FAILED"
        case -4: return "VK_ERROR_DEVICE_LOST"
        case -5: return "VK_ERROR_MEMORY_MAP_FAILED"
        case -6: return "VK_ERROR_LAYER_NOT_PRESENT"
        case -7: return "VK_ERROR_EXTENSION_NOT_PRESENT"
        case -8: return "VK_ERROR_FEATURE_NOT_PRESENT"
        case -9: return "VK_ERROR_INCOMPATIBLE_DRIVER"
        case -10: return "VK_ERROR_TOO_MANY_OBJECTS"
        case -11: return "VK_ERROR_FORMAT_NOT_SUPPORTED"
        case -13: return "VK_ERROR_UNKNOWN"
        default: return "VkResult"
        }
    }
}

/// Turns a VkResult into a thrown error. VK_SUCCESS passes; everything else (including the
/// positive "not ready"/"timeout" codes, which no caller here expects) throws.
@inline(__always)
func check(_ result: VkResult, _ what: @autoclosure () -> String) throws {
    if result != VK_SUCCESS { throw VulkanError.call(what(), result.rawValue) }
}
