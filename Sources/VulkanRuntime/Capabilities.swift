/// A scalar type as cooperative-matrix properties name it.
public enum ComponentType: String, Codable, Sendable, CaseIterable {
    case f16, f32, f64, s8, s16, s32, s64, u8, u16, u32, u64, bf16, other

    public init(vulkanRaw raw: UInt32) {
        switch raw {
        case 0: self = .f16
        case 1: self = .f32
        case 2: self = .f64
        case 3: self = .s8
        case 4: self = .s16
        case 5: self = .s32
        case 6: self = .s64
        case 7: self = .u8
        case 8: self = .u16
        case 9: self = .u32
        case 10: self = .u64
        case 1000141000: self = .bf16
        default: self = .other
        }
    }
}

/// One entry of vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR: an MMA shape M×N×K and its
/// A/B/C/result types. Only subgroup-scope entries are usable by our kernels.
public struct CoopMatConfig: Codable, Sendable, Hashable, CustomStringConvertible {
    public var m: Int, n: Int, k: Int
    public var a: ComponentType, b: ComponentType, c: ComponentType, result: ComponentType
    public var saturating: Bool
    public var subgroupScope: Bool

    public init(m: Int, n: Int, k: Int, a: ComponentType, b: ComponentType, c: ComponentType,
                result: ComponentType, saturating: Bool = false, subgroupScope: Bool = true) {
        self.m = m; self.n = n; self.k = k
        self.a = a; self.b = b; self.c = c; self.result = result
        self.saturating = saturating; self.subgroupScope = subgroupScope
    }

    public var description: String {
        "\(m)x\(n)x\(k) \(a.rawValue)*\(b.rawValue)+\(c.rawValue)->\(result.rawValue)\(saturating ? " sat" : "")\(subgroupScope ? "" : " (not subgroup scope)")"
    }
}

public enum DeviceKind: String, Codable, Sendable {
    case discrete, integrated, virtual, cpu, other

    /// Preference when choosing a default device: larger is better.
    public var rank: Int {
        switch self {
        case .discrete: return 4
        case .integrated: return 3
        case .virtual: return 2
        case .other: return 1
        case .cpu: return 0
        }
    }
}

/// Everything QLinear needs to know about a device, read from the driver and kept in one value.
/// It has a public memberwise-style initializer so that the dispatcher can be tested against
/// synthetic devices.
public struct Capabilities: Codable, Sendable, Hashable {
    public var name: String
    public var kind: DeviceKind
    public var vendorID: UInt32
    public var deviceID: UInt32
    public var apiVersion: String
    public var driverVersion: UInt32
    public var driverName: String
    public var driverInfo: String
    public var subgroupSize: Int
    public var minSubgroupSize: Int
    public var maxSubgroupSize: Int
    /// Whether a pipeline can require a subgroup size (subgroupSizeControl for compute).
    public var canRequireSubgroupSize: Bool
    public var computeFullSubgroups: Bool
    public var sharedMemoryBytes: Int
    public var maxWorkgroupInvocations: Int
    public var maxWorkgroupSize: [Int]
    public var maxWorkgroupCount: [Int]
    public var maxStorageBufferRange: UInt64
    public var maxPushConstantsSize: Int
    public var deviceLocalMemoryBytes: UInt64
    public var shaderFloat16: Bool
    public var shaderInt8: Bool
    public var storageBuffer8Bit: Bool
    public var storageBuffer16Bit: Bool
    public var integerDotProduct: Bool
    /// The driver says packed 4×8-bit signed dot products are accelerated (not emulated).
    public var integerDotProduct4x8PackedAccelerated: Bool
    public var vulkanMemoryModel: Bool
    public var cooperativeMatrix: Bool
    public var coopMatConfigs: [CoopMatConfig]
    public var timestampPeriodNs: Double
    public var timestampsSupported: Bool
    /// fp64 arithmetic in shaders (used to reproduce PyTorch's fp64 activation quantization).
    public var shaderFloat64: Bool = false
    /// Subgroup arithmetic (subgroupAdd …) in compute shaders.
    public var subgroupArithmetic: Bool = true
    /// Subgroup shuffles (subgroupShuffleXor …) in compute shaders (nil in reports written before
    /// it was recorded: read as supported).
    public var subgroupShuffleSupport: Bool?
    public var subgroupShuffle: Bool { subgroupShuffleSupport ?? true }
    /// maxComputeWorkgroupSubgroups (Vulkan 1.3): with a required subgroup size S a compute
    /// pipeline's workgroup may hold at most S × this many invocations (nil: not reported, e.g. in
    /// reports written before it was recorded).
    public var maxComputeWorkgroupSubgroups: Int?
    /// The most invocations a workgroup may have with `requiredSubgroupSize` (nil: none required).
    public func maxWorkgroupInvocations(requiredSubgroupSize s: Int?) -> Int {
        guard let s, let n = maxComputeWorkgroupSubgroups, s >= 1, n >= 1 else { return maxWorkgroupInvocations }
        let (p, over) = s.multipliedReportingOverflow(by: n)
        return over ? maxWorkgroupInvocations : min(maxWorkgroupInvocations, p)
    }
    /// Memory types as "heap N (size MiB): FLAGS", in the driver's order.
    public var memoryTypes: [String] = []
    /// Required alignment of a storage-buffer binding's offset (≤ 256 by the spec).
    public var minStorageBufferOffsetAlignment: Int = 256
    /// VK_KHR_pipeline_executable_properties with its `pipelineExecutableInfo` feature: pipelines
    /// created with `captureStatistics` can report the driver's compile statistics (nil in reports
    /// written before it was recorded, and on synthetic devices: read as absent).
    public var pipelineStatisticsSupport: Bool?
    public var pipelineStatistics: Bool { pipelineStatisticsSupport ?? false }

    public init(name: String = "synthetic", kind: DeviceKind = .discrete, vendorID: UInt32 = 0, deviceID: UInt32 = 0,
                apiVersion: String = "1.3.0", driverVersion: UInt32 = 0, driverName: String = "", driverInfo: String = "",
                subgroupSize: Int = 32, minSubgroupSize: Int? = nil, maxSubgroupSize: Int? = nil,
                canRequireSubgroupSize: Bool = true, computeFullSubgroups: Bool = true,
                sharedMemoryBytes: Int = 49152, maxWorkgroupInvocations: Int = 1024,
                maxWorkgroupSize: [Int] = [1024, 1024, 64], maxWorkgroupCount: [Int] = [65535, 65535, 65535],
                maxStorageBufferRange: UInt64 = 1 << 32 - 1, maxPushConstantsSize: Int = 128,
                deviceLocalMemoryBytes: UInt64 = 1 << 34,
                shaderFloat16: Bool = true, shaderInt8: Bool = true, storageBuffer8Bit: Bool = true,
                storageBuffer16Bit: Bool = true, integerDotProduct: Bool = true,
                integerDotProduct4x8PackedAccelerated: Bool = true, vulkanMemoryModel: Bool = true,
                cooperativeMatrix: Bool = false, coopMatConfigs: [CoopMatConfig] = [],
                timestampPeriodNs: Double = 1, timestampsSupported: Bool = true) {
        self.name = name; self.kind = kind; self.vendorID = vendorID; self.deviceID = deviceID
        self.apiVersion = apiVersion; self.driverVersion = driverVersion
        self.driverName = driverName; self.driverInfo = driverInfo
        self.subgroupSize = subgroupSize
        self.minSubgroupSize = minSubgroupSize ?? subgroupSize
        self.maxSubgroupSize = maxSubgroupSize ?? subgroupSize
        self.canRequireSubgroupSize = canRequireSubgroupSize; self.computeFullSubgroups = computeFullSubgroups
        self.sharedMemoryBytes = sharedMemoryBytes; self.maxWorkgroupInvocations = maxWorkgroupInvocations
        self.maxWorkgroupSize = maxWorkgroupSize; self.maxWorkgroupCount = maxWorkgroupCount
        self.maxStorageBufferRange = maxStorageBufferRange; self.maxPushConstantsSize = maxPushConstantsSize
        self.deviceLocalMemoryBytes = deviceLocalMemoryBytes
        self.shaderFloat16 = shaderFloat16; self.shaderInt8 = shaderInt8
        self.storageBuffer8Bit = storageBuffer8Bit; self.storageBuffer16Bit = storageBuffer16Bit
        self.integerDotProduct = integerDotProduct
        self.integerDotProduct4x8PackedAccelerated = integerDotProduct4x8PackedAccelerated
        self.vulkanMemoryModel = vulkanMemoryModel
        self.cooperativeMatrix = cooperativeMatrix; self.coopMatConfigs = coopMatConfigs
        self.timestampPeriodNs = timestampPeriodNs; self.timestampsSupported = timestampsSupported
    }

    /// Subgroup-scope cooperative-matrix shapes with exactly these types.
    public func coopMatShapes(a: ComponentType, b: ComponentType, c: ComponentType, result: ComponentType) -> [CoopMatConfig] {
        coopMatConfigs.filter { $0.subgroupScope && $0.a == a && $0.b == b && $0.c == c && $0.result == result && !$0.saturating }
    }

    /// The subgroup sizes a pipeline can run with on this device.
    public var possibleSubgroupSizes: [Int] {
        guard canRequireSubgroupSize else { return [subgroupSize] }
        var sizes: [Int] = []
        var s = max(1, minSubgroupSize)
        while s <= maxSubgroupSize { sizes.append(s); s *= 2 }
        return sizes.isEmpty ? [subgroupSize] : sizes
    }
}
