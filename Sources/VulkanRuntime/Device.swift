import CVulkan

/// Features the logical device enables: the intersection of what kernels can use and what the
/// physical device has. Kernels check these flags (not vendor names) to decide what can run.
public struct EnabledFeatures: Sendable, Hashable, Codable {
    public var float16: Bool = false
    public var int8: Bool = false
    public var storage16: Bool = false
    public var storage8: Bool = false
    public var memoryModel: Bool = false
    public var subgroupSizeControl: Bool = false
    public var fullSubgroups: Bool = false
    public var integerDotProduct: Bool = false
    public var cooperativeMatrix: Bool = false
    public var float64: Bool = false
    /// VK_KHR_pipeline_executable_properties (`pipelineExecutableInfo`): pipelines can be created
    /// with `captureStatistics` and asked for the driver's statistics.
    public var pipelineStatistics: Bool = false
}

/// A logical device with one compute queue. Owns VkDevice and keeps the instance alive.
public final class Device: @unchecked Sendable {
    public let instance: Instance
    public let physical: PhysicalDevice
    public let handle: VkDevice
    public let queue: VkQueue
    public let enabled: EnabledFeatures
    let memoryProperties: VkPhysicalDeviceMemoryProperties
    /// Serialises queue submission (Vulkan requires external sync on the queue). Each
    /// `CommandStream` has its own command and descriptor pools.
    let lock = Locked<Void>(())

    public var capabilities: Capabilities { physical.capabilities }

    public init(instance: Instance, physical: PhysicalDevice) throws {
        self.instance = instance
        self.physical = physical
        let caps = physical.capabilities
        let is13 = physical.apiVersionRaw >= QLV_API_VERSION_1_3
        var en = EnabledFeatures()
        en.float16 = caps.shaderFloat16
        en.int8 = caps.shaderInt8
        en.storage16 = caps.storageBuffer16Bit
        en.storage8 = caps.storageBuffer8Bit
        en.memoryModel = caps.vulkanMemoryModel
        en.subgroupSizeControl = caps.canRequireSubgroupSize
        en.fullSubgroups = caps.computeFullSubgroups
        en.integerDotProduct = caps.integerDotProduct
        en.cooperativeMatrix = caps.cooperativeMatrix && caps.vulkanMemoryModel
        en.float64 = caps.shaderFloat64
        en.pipelineStatistics = caps.pipelineStatistics
        self.enabled = en

        let f11 = StructCell(VkPhysicalDeviceVulkan11Features()); f11.value.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES
        let f12 = StructCell(VkPhysicalDeviceVulkan12Features()); f12.value.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES
        let f13 = StructCell(VkPhysicalDeviceVulkan13Features()); f13.value.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES
        let fcm = StructCell(VkPhysicalDeviceCooperativeMatrixFeaturesKHR()); fcm.value.sType = QLV_STYPE_COOPMAT_FEATURES_KHR
        f11.value.storageBuffer16BitAccess = en.storage16 ? 1 : 0
        f12.value.shaderFloat16 = en.float16 ? 1 : 0
        f12.value.shaderInt8 = en.int8 ? 1 : 0
        f12.value.storageBuffer8BitAccess = en.storage8 ? 1 : 0
        f12.value.vulkanMemoryModel = en.memoryModel ? 1 : 0
        f12.value.hostQueryReset = 1
        f13.value.subgroupSizeControl = en.subgroupSizeControl ? 1 : 0
        f13.value.computeFullSubgroups = en.fullSubgroups ? 1 : 0
        f13.value.shaderIntegerDotProduct = en.integerDotProduct ? 1 : 0
        // Kernels compiled for Vulkan 1.3 size their workgroups with LocalSizeId, which needs
        // maintenance4 (VUID-RuntimeSpirv-LocalSizeId-06434; found by the validation layers).
        f13.value.maintenance4 = physical.maintenance4 ? 1 : 0
        fcm.value.cooperativeMatrix = en.cooperativeMatrix ? 1 : 0
        let fpe = StructCell(VkPhysicalDevicePipelineExecutablePropertiesFeaturesKHR())
        fpe.value.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PIPELINE_EXECUTABLE_PROPERTIES_FEATURES_KHR
        fpe.value.pipelineExecutableInfo = 1
        fpe.value.pNext = f11.raw
        f11.value.pNext = f12.raw
        if is13 { f12.value.pNext = f13.raw }
        if en.cooperativeMatrix { if is13 { f13.value.pNext = fcm.raw } else { f12.value.pNext = fcm.raw } }

        var extNames: [String] = []
        if en.cooperativeMatrix { extNames.append("VK_KHR_cooperative_matrix") }
        if en.pipelineStatistics { extNames.append("VK_KHR_pipeline_executable_properties") }
        let nameCells = extNames.map { name -> UnsafeMutablePointer<CChar> in
            let bytes = Array(name.utf8CString)
            let p = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count)
            p.initialize(from: bytes, count: bytes.count)
            return p
        }
        defer { nameCells.forEach { $0.deallocate() } }
        let namePtrs: [UnsafePointer<CChar>?] = nameCells.map { UnsafePointer($0) }

        var dev: VkDevice?
        let family = physical.computeQueueFamily
        let priority = StructCell(Float(1))
        var qinfo = VkDeviceQueueCreateInfo()
        qinfo.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO
        qinfo.queueFamilyIndex = family
        qinfo.queueCount = 1
        qinfo.pQueuePriorities = UnsafePointer(priority.pointer)
        let qcell = StructCell(qinfo)
        var core = VkPhysicalDeviceFeatures()
        core.shaderFloat64 = en.float64 ? 1 : 0
        let coreCell = StructCell(core)
        let result: VkResult = namePtrs.withUnsafeBufferPointer { names in
            var info = VkDeviceCreateInfo()
            info.pEnabledFeatures = UnsafePointer(coreCell.pointer)
            info.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO
            // The pipeline-executable features struct heads the chain only when enabled: devices
            // without the extension see the same chain as before.
            info.pNext = UnsafeRawPointer(en.pipelineStatistics ? fpe.raw : f11.raw)
            info.queueCreateInfoCount = 1
            info.pQueueCreateInfos = UnsafePointer(qcell.pointer)
            info.enabledExtensionCount = UInt32(names.count)
            info.ppEnabledExtensionNames = names.baseAddress
            return vkCreateDevice(physical.handle, &info, nil, &dev)
        }
        try check(result, "vkCreateDevice")
        guard let dev else { throw VulkanError.noDevice("vkCreateDevice returned no device") }
        var q: VkQueue?
        vkGetDeviceQueue(dev, family, 0, &q)
        guard let q else {
            vkDestroyDevice(dev, nil)
            throw VulkanError.noDevice("vkGetDeviceQueue returned no queue")
        }
        self.handle = dev
        self.queue = q
        var mem = VkPhysicalDeviceMemoryProperties()
        vkGetPhysicalDeviceMemoryProperties(physical.handle, &mem)
        self.memoryProperties = mem
    }

    deinit {
        vkDeviceWaitIdle(handle)
        vkDestroyDevice(handle, nil)
    }

    /// Opens the device chosen by `selector` (index or name substring; nil = best) on a new
    /// instance made with `instance` options (validation layers, for tests and checks).
    public static func open(_ selector: String? = nil, instance options: InstanceOptions = InstanceOptions()) throws -> Device {
        let instance = try Instance(options: options)
        return try Device(instance: instance, physical: try instance.select(selector))
    }

    func memoryType(bits: UInt32, required: UInt32, preferred: UInt32 = 0) -> (index: UInt32, flags: UInt32)? {
        var best: (UInt32, UInt32)?
        withUnsafeBytes(of: memoryProperties.memoryTypes) { raw in
            let types = raw.bindMemory(to: VkMemoryType.self)
            for i in 0..<Int(memoryProperties.memoryTypeCount) where bits & (1 << UInt32(i)) != 0 {
                let f = types[i].propertyFlags
                guard f & required == required else { continue }
                if f & preferred == preferred { best = (UInt32(i), f); return }
                if best == nil { best = (UInt32(i), f) }
            }
        }
        return best
    }
}
