import CVulkan

/// Fixed-size C char arrays (imported as tuples) → Swift String.
func cString<T>(_ tuple: T) -> String {
    withUnsafeBytes(of: tuple) { raw in
        let bytes = raw.prefix { $0 != 0 }
        return String(decoding: bytes, as: UTF8.self)
    }
}

func versionString(_ v: UInt32) -> String { "\(v >> 22).\((v >> 12) & 0x3ff).\(v & 0xfff)" }

/// A physical device and the capabilities read from its driver.
public struct PhysicalDevice: @unchecked Sendable {
    public let index: Int
    public let handle: VkPhysicalDevice
    public let capabilities: Capabilities
    let extensions: Set<String>
    let computeQueueFamily: UInt32
    let timestampValidBits: UInt32
    let apiVersionRaw: UInt32
    /// Vulkan 1.3's maintenance4 feature (required by shaders that size workgroups with
    /// LocalSizeId, i.e. `local_size_x_id` compiled for Vulkan 1.3).
    var maintenance4 = false

    public func hasExtension(_ name: String) -> Bool { extensions.contains(name) }
}

/// The Vulkan instance. Owns the VkInstance and destroys it when released; devices made from it
/// keep it alive.
public final class Instance: @unchecked Sendable {
    public let handle: VkInstance
    public let physicalDevices: [PhysicalDevice]

    /// The validation log when the instance was created with `InstanceOptions.validation`.
    public let validation: ValidationLog?
    let messenger: VkDebugUtilsMessengerEXT?

    public init(options: InstanceOptions = InstanceOptions()) throws {
        var apiVersion: UInt32 = QLV_API_VERSION_1_2
        var loaderVersion: UInt32 = 0
        if vkEnumerateInstanceVersion(&loaderVersion) == VK_SUCCESS, loaderVersion >= QLV_API_VERSION_1_3 {
            apiVersion = QLV_API_VERSION_1_3
        }
        let log = options.validation
        if log != nil && !InstanceOptions.validationLayerAvailable {
            throw VulkanError.unsupported("validation was requested but \(InstanceOptions.validationLayer) is not installed (Debian/Ubuntu: apt install vulkan-validationlayers)")
        }
        // Validation: the layer, the debug-utils messenger in the create info's chain (so instance
        // creation and destruction are covered too) and the layer's optional features.
        let layers = log != nil ? [InstanceOptions.validationLayer] : []
        let extensions = log != nil ? ["VK_EXT_debug_utils", "VK_EXT_validation_features"] : []
        var features: [VkValidationFeatureEnableEXT] = []
        if options.synchronizationValidation { features.append(VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT) }
        if options.gpuAssisted { features.append(VK_VALIDATION_FEATURE_ENABLE_GPU_ASSISTED_EXT) }
        let validationFeatures = StructCell(VkValidationFeaturesEXT())
        validationFeatures.value.sType = VK_STRUCTURE_TYPE_VALIDATION_FEATURES_EXT
        let featureList = UnsafeMutablePointer<VkValidationFeatureEnableEXT>.allocate(capacity: max(1, features.count))
        featureList.initialize(from: features, count: features.count)
        defer { featureList.deallocate() }
        validationFeatures.value.enabledValidationFeatureCount = UInt32(features.count)
        validationFeatures.value.pEnabledValidationFeatures = UnsafePointer(featureList)
        let messengerInfo = StructCell(VkDebugUtilsMessengerCreateInfoEXT())
        messengerInfo.value.sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT
        messengerInfo.value.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT.rawValue | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT.rawValue
        messengerInfo.value.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT.rawValue | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT.rawValue
            | VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT.rawValue
        messengerInfo.value.pfnUserCallback = validationCallback
        messengerInfo.value.pUserData = log.map { Unmanaged.passUnretained($0).toOpaque() }
        messengerInfo.value.pNext = UnsafeRawPointer(validationFeatures.raw)
        let names = (layers + extensions).map { name -> UnsafeMutablePointer<CChar> in
            let bytes = Array(name.utf8CString)
            let p = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count)
            p.initialize(from: bytes, count: bytes.count)
            return p
        }
        defer { names.forEach { $0.deallocate() } }
        let layerPtrs: [UnsafePointer<CChar>?] = names.prefix(layers.count).map { UnsafePointer($0) }
        let extPtrs: [UnsafePointer<CChar>?] = names.dropFirst(layers.count).map { UnsafePointer($0) }
        var instance: VkInstance?
        let result: VkResult = "qlinear".withCString { appName in
            var app = VkApplicationInfo()
            app.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO
            app.pApplicationName = appName
            app.pEngineName = appName
            app.apiVersion = apiVersion
            return withUnsafePointer(to: &app) { appPtr in
                layerPtrs.withUnsafeBufferPointer { lp in
                    extPtrs.withUnsafeBufferPointer { ep in
                        var info = VkInstanceCreateInfo()
                        info.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO
                        info.pApplicationInfo = appPtr
                        info.enabledLayerCount = UInt32(lp.count)
                        info.ppEnabledLayerNames = lp.count > 0 ? lp.baseAddress : nil
                        info.enabledExtensionCount = UInt32(ep.count)
                        info.ppEnabledExtensionNames = ep.count > 0 ? ep.baseAddress : nil
                        if log != nil { info.pNext = UnsafeRawPointer(messengerInfo.raw) }
                        return vkCreateInstance(&info, nil, &instance)
                    }
                }
            }
        }
        if result == VK_ERROR_INCOMPATIBLE_DRIVER {
            throw VulkanError.noDevice("vkCreateInstance found no Vulkan driver (VK_ERROR_INCOMPATIBLE_DRIVER); install one (e.g. mesa-vulkan-drivers for lavapipe) — see README")
        }
        try check(result, "vkCreateInstance")
        guard let instance else { throw VulkanError.noDevice("vkCreateInstance returned no instance") }
        self.handle = instance
        self.validation = log
        if log != nil {
            var m: VkDebugUtilsMessengerEXT?
            messengerInfo.value.pNext = nil   // the validation features belong to the instance's chain only
            let r = qlv_create_debug_messenger(instance, UnsafePointer(messengerInfo.pointer), &m)
            guard r == VK_SUCCESS, let m else {
                vkDestroyInstance(instance, nil)
                throw VulkanError.call("vkCreateDebugUtilsMessengerEXT", r.rawValue)
            }
            self.messenger = m
        } else {
            self.messenger = nil
        }
        var count: UInt32 = 0
        do {
            try check(vkEnumeratePhysicalDevices(instance, &count, nil), "vkEnumeratePhysicalDevices")
            var handles = [VkPhysicalDevice?](repeating: nil, count: Int(count))
            try check(vkEnumeratePhysicalDevices(instance, &count, &handles), "vkEnumeratePhysicalDevices")
            var devices: [PhysicalDevice] = []
            for (i, h) in handles.prefix(Int(count)).enumerated() {
                guard let h else { continue }
                if let d = try Instance.describe(instance: instance, device: h, index: i) { devices.append(d) }
            }
            self.physicalDevices = devices
        } catch {
            if let messenger { qlv_destroy_debug_messenger(instance, messenger) }
            vkDestroyInstance(instance, nil)
            throw error
        }
    }

    deinit {
        if let messenger { qlv_destroy_debug_messenger(handle, messenger) }
        vkDestroyInstance(handle, nil)
    }

    /// Picks a device: `selector` is an index or a case-insensitive name substring; nil picks the
    /// best kind (discrete > integrated > virtual > CPU), ties broken by device-local memory.
    public func select(_ selector: String?) throws -> PhysicalDevice {
        guard !physicalDevices.isEmpty else {
            throw VulkanError.noDevice("no Vulkan 1.2+ device with a compute queue was found")
        }
        if let s = selector?.trimmingWhitespace(), !s.isEmpty {
            if let i = Int(s) {
                guard let d = physicalDevices.first(where: { $0.index == i }) else {
                    throw VulkanError.noDevice("device index \(i) does not exist (have \(physicalDevices.map { "\($0.index): \($0.capabilities.name)" }.joined(separator: ", ")))")
                }
                return d
            }
            let needle = s.lowercased()
            guard let d = physicalDevices.first(where: { $0.capabilities.name.lowercased().contains(needle) }) else {
                throw VulkanError.noDevice("no device name contains \"\(s)\" (have \(physicalDevices.map { $0.capabilities.name }.joined(separator: ", ")))")
            }
            return d
        }
        return physicalDevices.max { a, b in
            (a.capabilities.kind.rank, a.capabilities.deviceLocalMemoryBytes, -a.index) <
                (b.capabilities.kind.rank, b.capabilities.deviceLocalMemoryBytes, -b.index)
        }!
    }

    static func describe(instance: VkInstance, device: VkPhysicalDevice, index: Int) throws -> PhysicalDevice? {
        var props = VkPhysicalDeviceProperties()
        vkGetPhysicalDeviceProperties(device, &props)
        if props.apiVersion < QLV_API_VERSION_1_2 { return nil }

        // Extensions.
        var extCount: UInt32 = 0
        try check(vkEnumerateDeviceExtensionProperties(device, nil, &extCount, nil), "vkEnumerateDeviceExtensionProperties")
        var extProps = [VkExtensionProperties](repeating: VkExtensionProperties(), count: Int(extCount))
        try check(vkEnumerateDeviceExtensionProperties(device, nil, &extCount, &extProps), "vkEnumerateDeviceExtensionProperties")
        let extensions = Set(extProps.prefix(Int(extCount)).map { cString($0.extensionName) })

        // Queue family with compute.
        var qCount: UInt32 = 0
        vkGetPhysicalDeviceQueueFamilyProperties(device, &qCount, nil)
        var qProps = [VkQueueFamilyProperties](repeating: VkQueueFamilyProperties(), count: Int(qCount))
        vkGetPhysicalDeviceQueueFamilyProperties(device, &qCount, &qProps)
        // Prefer a queue family with compute and graphics (the "universal" one, usually fastest to
        // timestamp), else any with compute.
        let computeBit = VK_QUEUE_COMPUTE_BIT.rawValue, graphicsBit = VK_QUEUE_GRAPHICS_BIT.rawValue
        let families = qProps.prefix(Int(qCount)).enumerated()
        guard let family = families.first(where: { $0.element.queueFlags & computeBit != 0 && $0.element.queueFlags & graphicsBit != 0 })
                ?? families.first(where: { $0.element.queueFlags & computeBit != 0 }) else { return nil }

        // Properties chain: subgroup (1.1), subgroup size control (1.3), driver (1.2), dot product (1.3).
        let is13 = props.apiVersion >= QLV_API_VERSION_1_3
        let hasCoopMatExt = extensions.contains("VK_KHR_cooperative_matrix")
        let hasExecPropsExt = extensions.contains("VK_KHR_pipeline_executable_properties")
        // Structure chains live in heap cells that this scope owns (no pointer escapes it).
        let p11 = StructCell(VkPhysicalDeviceVulkan11Properties()); p11.value.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_PROPERTIES
        let p12 = StructCell(VkPhysicalDeviceVulkan12Properties()); p12.value.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_PROPERTIES
        let p13 = StructCell(VkPhysicalDeviceVulkan13Properties()); p13.value.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_PROPERTIES
        let f11 = StructCell(VkPhysicalDeviceVulkan11Features()); f11.value.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES
        let f12 = StructCell(VkPhysicalDeviceVulkan12Features()); f12.value.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES
        let f13 = StructCell(VkPhysicalDeviceVulkan13Features()); f13.value.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES
        let fcm = StructCell(VkPhysicalDeviceCooperativeMatrixFeaturesKHR()); fcm.value.sType = QLV_STYPE_COOPMAT_FEATURES_KHR
        let fpe = StructCell(VkPhysicalDevicePipelineExecutablePropertiesFeaturesKHR())
        fpe.value.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PIPELINE_EXECUTABLE_PROPERTIES_FEATURES_KHR
        p11.value.pNext = p12.raw
        if is13 { p12.value.pNext = p13.raw }
        var p2 = VkPhysicalDeviceProperties2()
        p2.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2
        p2.pNext = p11.raw
        vkGetPhysicalDeviceProperties2(device, &p2)
        f11.value.pNext = f12.raw
        if is13 { f12.value.pNext = f13.raw }
        if hasCoopMatExt { if is13 { f13.value.pNext = fcm.raw } else { f12.value.pNext = fcm.raw } }
        var f2 = VkPhysicalDeviceFeatures2()
        f2.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2
        // The pipeline-executable features struct heads the chain when the extension exists.
        if hasExecPropsExt { fpe.value.pNext = f11.raw }
        f2.pNext = hasExecPropsExt ? fpe.raw : f11.raw
        vkGetPhysicalDeviceFeatures2(device, &f2)
        let hasFloat64 = f2.features.shaderFloat64 != 0
        let (p11v, p12v, p13v, f11v, f12v, f13v, fcmv) = (p11.value, p12.value, p13.value, f11.value, f12.value, f13.value, fcm.value)
        let pipelineStatistics = hasExecPropsExt && fpe.value.pipelineExecutableInfo != 0

        // Cooperative-matrix shapes.
        var configs: [CoopMatConfig] = []
        if hasCoopMatExt && fcmv.cooperativeMatrix != 0 {
            var n: UInt32 = 0
            if qlv_get_coopmat_properties(instance, device, &n, nil) == VK_SUCCESS, n > 0 {
                var entry = VkCooperativeMatrixPropertiesKHR()
                entry.sType = QLV_STYPE_COOPMAT_PROPERTIES_KHR
                var entries = [VkCooperativeMatrixPropertiesKHR](repeating: entry, count: Int(n))
                try check(qlv_get_coopmat_properties(instance, device, &n, &entries), "vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR")
                configs = entries.prefix(Int(n)).map { e in
                    CoopMatConfig(m: Int(e.MSize), n: Int(e.NSize), k: Int(e.KSize),
                                  a: ComponentType(vulkanRaw: e.AType.rawValue), b: ComponentType(vulkanRaw: e.BType.rawValue),
                                  c: ComponentType(vulkanRaw: e.CType.rawValue), result: ComponentType(vulkanRaw: e.ResultType.rawValue),
                                  saturating: e.saturatingAccumulation != 0, subgroupScope: e.scope.rawValue == 3)
                }
            }
        }

        var mem = VkPhysicalDeviceMemoryProperties()
        vkGetPhysicalDeviceMemoryProperties(device, &mem)
        var memTypes: [String] = []
        withUnsafeBytes(of: mem.memoryTypes) { traw in
            withUnsafeBytes(of: mem.memoryHeaps) { hraw in
                let types = traw.bindMemory(to: VkMemoryType.self), heaps = hraw.bindMemory(to: VkMemoryHeap.self)
                for i in 0..<Int(mem.memoryTypeCount) {
                    let f = types[i].propertyFlags
                    var names: [String] = []
                    if f & VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT.rawValue != 0 { names.append("DEVICE_LOCAL") }
                    if f & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT.rawValue != 0 { names.append("HOST_VISIBLE") }
                    if f & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT.rawValue != 0 { names.append("HOST_COHERENT") }
                    if f & VK_MEMORY_PROPERTY_HOST_CACHED_BIT.rawValue != 0 { names.append("HOST_CACHED") }
                    let h = Int(types[i].heapIndex)
                    memTypes.append("heap \(h) (\(heaps[h].size >> 20) MiB): \(names.isEmpty ? "-" : names.joined(separator: "|"))")
                }
            }
        }
        var localBytes: UInt64 = 0
        withUnsafeBytes(of: mem.memoryHeaps) { raw in
            let heaps = raw.bindMemory(to: VkMemoryHeap.self)
            for i in 0..<Int(mem.memoryHeapCount) where heaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT.rawValue != 0 {
                localBytes = max(localBytes, heaps[i].size)
            }
        }

        let kind: DeviceKind
        switch props.deviceType {
        case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: kind = .discrete
        case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: kind = .integrated
        case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: kind = .virtual
        case VK_PHYSICAL_DEVICE_TYPE_CPU: kind = .cpu
        default: kind = .other
        }
        let limits = props.limits
        let computeStage = VK_SHADER_STAGE_COMPUTE_BIT.rawValue
        let sizeControl = is13 && f13v.subgroupSizeControl != 0 && (p13v.requiredSubgroupSizeStages & computeStage) != 0
        var caps = Capabilities(
            name: cString(props.deviceName), kind: kind, vendorID: props.vendorID, deviceID: props.deviceID,
            apiVersion: versionString(props.apiVersion), driverVersion: props.driverVersion,
            driverName: cString(p12v.driverName), driverInfo: cString(p12v.driverInfo),
            subgroupSize: Int(p11v.subgroupSize),
            minSubgroupSize: is13 && p13v.minSubgroupSize > 0 ? Int(p13v.minSubgroupSize) : Int(p11v.subgroupSize),
            maxSubgroupSize: is13 && p13v.maxSubgroupSize > 0 ? Int(p13v.maxSubgroupSize) : Int(p11v.subgroupSize),
            canRequireSubgroupSize: sizeControl,
            computeFullSubgroups: is13 && f13v.computeFullSubgroups != 0,
            sharedMemoryBytes: Int(limits.maxComputeSharedMemorySize),
            maxWorkgroupInvocations: Int(limits.maxComputeWorkGroupInvocations),
            maxWorkgroupSize: [Int(limits.maxComputeWorkGroupSize.0), Int(limits.maxComputeWorkGroupSize.1), Int(limits.maxComputeWorkGroupSize.2)],
            maxWorkgroupCount: [Int(limits.maxComputeWorkGroupCount.0), Int(limits.maxComputeWorkGroupCount.1), Int(limits.maxComputeWorkGroupCount.2)],
            maxStorageBufferRange: UInt64(limits.maxStorageBufferRange),
            maxPushConstantsSize: Int(limits.maxPushConstantsSize),
            deviceLocalMemoryBytes: localBytes,
            shaderFloat16: f12v.shaderFloat16 != 0, shaderInt8: f12v.shaderInt8 != 0,
            storageBuffer8Bit: f12v.storageBuffer8BitAccess != 0, storageBuffer16Bit: f11v.storageBuffer16BitAccess != 0,
            integerDotProduct: is13 && f13v.shaderIntegerDotProduct != 0,
            integerDotProduct4x8PackedAccelerated: is13 && p13v.integerDotProduct4x8BitPackedSignedAccelerated != 0,
            vulkanMemoryModel: f12v.vulkanMemoryModel != 0,
            cooperativeMatrix: hasCoopMatExt && fcmv.cooperativeMatrix != 0,
            coopMatConfigs: configs,
            timestampPeriodNs: Double(limits.timestampPeriod),
            timestampsSupported: family.element.timestampValidBits > 0)
        caps.memoryTypes = memTypes
        caps.minStorageBufferOffsetAlignment = Int(limits.minStorageBufferOffsetAlignment)
        caps.shaderFloat64 = hasFloat64
        if is13 && p13v.maxComputeWorkgroupSubgroups > 0 { caps.maxComputeWorkgroupSubgroups = Int(p13v.maxComputeWorkgroupSubgroups) }
        caps.pipelineStatisticsSupport = pipelineStatistics
        let subgroupsInCompute = (p11v.subgroupSupportedStages & VK_SHADER_STAGE_COMPUTE_BIT.rawValue) != 0
        caps.subgroupArithmetic = (p11v.subgroupSupportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT.rawValue) != 0 && subgroupsInCompute
        caps.subgroupShuffleSupport = (p11v.subgroupSupportedOperations & VK_SUBGROUP_FEATURE_SHUFFLE_BIT.rawValue) != 0 && subgroupsInCompute
        var pd = PhysicalDevice(index: index, handle: device, capabilities: caps, extensions: extensions,
                                computeQueueFamily: UInt32(family.offset), timestampValidBits: family.element.timestampValidBits,
                                apiVersionRaw: props.apiVersion)
        pd.maintenance4 = is13 && f13v.maintenance4 != 0
        return pd
    }
}

/// A heap cell for one Vulkan structure, so chains of pNext pointers can be built without
/// overlapping inout accesses. Freed when the cell is released.
final class StructCell<T> {
    let pointer: UnsafeMutablePointer<T>
    init(_ v: T) { pointer = .allocate(capacity: 1); pointer.initialize(to: v) }
    deinit { pointer.deinitialize(count: 1); pointer.deallocate() }
    var value: T { get { pointer.pointee } set { pointer.pointee = newValue } }
    var raw: UnsafeMutableRawPointer { UnsafeMutableRawPointer(pointer) }
}

extension String {
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s = s.dropFirst() }
        while let l = s.last, l.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}
