import CVulkan

/// One compile statistic a driver reports for a pipeline executable
/// (vkGetPipelineExecutableStatisticsKHR). Names, descriptions and meanings are driver-defined:
/// NVIDIA reports e.g. register counts, Mesa drivers instruction counts.
///
/// JSON: `{"name": …, "description": …, "format": "uint64", "value": 40}`, the value as a JSON
/// boolean or number of the format's type.
public struct PipelineStatistic: Codable, Sendable, Hashable {
    /// A statistic's value in the driver's format (VkPipelineExecutableStatisticFormatKHR).
    public enum Value: Sendable, Hashable, CustomStringConvertible {
        case bool(Bool)
        case int(Int64)
        case uint(UInt64)
        case float(Double)

        /// The value as a number (true = 1, false = 0).
        public var number: Double {
            switch self {
            case .bool(let b): return b ? 1 : 0
            case .int(let i): return Double(i)
            case .uint(let u): return Double(u)
            case .float(let f): return f
            }
        }

        /// The format's name, as the JSON's "format" key has it.
        public var format: String {
            switch self {
            case .bool: return "bool32"
            case .int: return "int64"
            case .uint: return "uint64"
            case .float: return "float64"
            }
        }

        public var description: String {
            switch self {
            case .bool(let b): return b ? "true" : "false"
            case .int(let i): return String(i)
            case .uint(let u): return String(u)
            case .float(let f): return String(f)
            }
        }
    }

    public var name: String
    public var description: String
    public var value: Value

    public init(name: String, description: String, value: Value) {
        self.name = name; self.description = description; self.value = value
    }

    enum CodingKeys: String, CodingKey { case name, description, format, value }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        description = try c.decode(String.self, forKey: .description)
        switch try c.decode(String.self, forKey: .format) {
        case "bool32": value = .bool(try c.decode(Bool.self, forKey: .value))
        case "int64": value = .int(try c.decode(Int64.self, forKey: .value))
        case "uint64": value = .uint(try c.decode(UInt64.self, forKey: .value))
        case "float64": value = .float(try c.decode(Double.self, forKey: .value))
        case let f:
            throw DecodingError.dataCorruptedError(forKey: .format, in: c, debugDescription: "unknown statistic format \"\(f)\" (bool32, int64, uint64 or float64)")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(description, forKey: .description)
        try c.encode(value.format, forKey: .format)
        switch value {
        case .bool(let b): try c.encode(b, forKey: .value)
        case .int(let i): try c.encode(i, forKey: .value)
        case .uint(let u): try c.encode(u, forKey: .value)
        case .float(let f): try c.encode(f, forKey: .value)
        }
    }

    init(_ s: VkPipelineExecutableStatisticKHR) {
        name = cString(s.name)
        description = cString(s.description)
        switch s.format {
        case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_BOOL32_KHR: value = .bool(s.value.b32 != 0)
        case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_INT64_KHR: value = .int(s.value.i64)
        case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_FLOAT64_KHR: value = .float(s.value.f64)
        default: value = .uint(s.value.u64)
        }
    }
}

/// One executable of a pipeline (vkGetPipelineExecutablePropertiesKHR: a compute pipeline has
/// one on most drivers) and its statistics.
public struct PipelineExecutableStatistics: Codable, Sendable, Hashable {
    /// The driver's name and description of the executable.
    public var name: String
    public var description: String
    /// The subgroup size the executable was compiled for (0 when the driver does not say).
    public var subgroupSize: Int
    public var statistics: [PipelineStatistic]

    public init(name: String, description: String, subgroupSize: Int, statistics: [PipelineStatistic]) {
        self.name = name; self.description = description; self.subgroupSize = subgroupSize; self.statistics = statistics
    }

    /// Flattens `executables` to name → value (`PipelineStatistic.Value.number`); with several
    /// executables each name is prefixed with "executable name: ".
    public static func summary(_ executables: [PipelineExecutableStatistics]) -> [String: Double] {
        var out: [String: Double] = [:]
        for e in executables {
            for s in e.statistics { out[executables.count > 1 ? "\(e.name): \(s.name)" : s.name] = s.value.number }
        }
        return out
    }

    /// The statistic called `name` (case-insensitive), if the driver reports one.
    public func statistic(_ name: String) -> PipelineStatistic? {
        let n = name.lowercased()
        return statistics.first { $0.name.lowercased() == n }
    }
}

extension ComputePipeline {
    /// The driver's statistics for each executable of this pipeline.
    ///
    /// Throws `VulkanError.unsupported` when the device lacks VK_KHR_pipeline_executable_properties
    /// or the pipeline was created without `captureStatistics` (the spec requires the flag), and
    /// `VulkanError.call` when a query fails.
    public func statistics() throws -> [PipelineExecutableStatistics] {
        guard device.enabled.pipelineStatistics else {
            throw VulkanError.unsupported("\(name): pipeline statistics need VK_KHR_pipeline_executable_properties, which \(device.capabilities.name) does not offer")
        }
        guard capturesStatistics else {
            throw VulkanError.unsupported("\(name): the pipeline was created without captureStatistics")
        }
        let dev = device.handle, pipe = pipeline
        var count: UInt32 = 0
        try check(qlv_get_pipeline_executable_properties(dev, pipe, &count, nil), "vkGetPipelineExecutablePropertiesKHR(\(name))")
        var blank = VkPipelineExecutablePropertiesKHR()
        blank.sType = VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_PROPERTIES_KHR
        var props = [VkPipelineExecutablePropertiesKHR](repeating: blank, count: Int(count))
        if count > 0 { try check(qlv_get_pipeline_executable_properties(dev, pipe, &count, &props), "vkGetPipelineExecutablePropertiesKHR(\(name))") }
        return try props.prefix(Int(count)).enumerated().map { index, p in
            var n: UInt32 = 0
            let what = "vkGetPipelineExecutableStatisticsKHR(\(name), executable \(index))"
            try check(qlv_get_pipeline_executable_statistics(dev, pipe, UInt32(index), &n, nil), what)
            var blankStat = VkPipelineExecutableStatisticKHR()
            blankStat.sType = VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_STATISTIC_KHR
            var stats = [VkPipelineExecutableStatisticKHR](repeating: blankStat, count: Int(n))
            if n > 0 { try check(qlv_get_pipeline_executable_statistics(dev, pipe, UInt32(index), &n, &stats), what) }
            return PipelineExecutableStatistics(name: cString(p.name), description: cString(p.description),
                                                subgroupSize: Int(p.subgroupSize),
                                                statistics: stats.prefix(Int(n)).map { PipelineStatistic($0) })
        }
    }
}
