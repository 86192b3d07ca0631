import CVulkan

/// A compute pipeline: shader module, descriptor layout (N storage buffers at bindings 0..N-1),
/// push-constant range, specialization constants (32-bit values by constant id) and an optional
/// required subgroup size.
///
/// `captureStatistics` creates it with VK_PIPELINE_CREATE_CAPTURE_STATISTICS_BIT_KHR so that
/// `statistics()` can read the driver's compile statistics (registers, spills, instruction counts:
/// driver-defined). It is opt-in, never the default: the flag asks the driver to keep extra data
/// and may keep it from using its pipeline cache, and only diagnostics need it. It throws
/// `VulkanError.unsupported` on a device without VK_KHR_pipeline_executable_properties.
public final class ComputePipeline: @unchecked Sendable {
    public let device: Device
    public let name: String
    public let bindingCount: Int
    public let pushConstantBytes: Int
    /// Created with VK_PIPELINE_CREATE_CAPTURE_STATISTICS_BIT_KHR (`statistics()` works).
    public let capturesStatistics: Bool
    let module: VkShaderModule
    let setLayout: VkDescriptorSetLayout
    let layout: VkPipelineLayout
    let pipeline: VkPipeline

    public init(device: Device, name: String, spirv: [UInt32], bindings: Int, pushConstantBytes: Int,
                specialization: [(id: UInt32, value: UInt32)] = [], requiredSubgroupSize: Int? = nil, requireFullSubgroups: Bool = false,
                captureStatistics: Bool = false) throws {
        self.device = device
        self.name = name
        self.bindingCount = bindings
        self.pushConstantBytes = pushConstantBytes
        self.capturesStatistics = captureStatistics
        if pushConstantBytes > device.capabilities.maxPushConstantsSize {
            throw VulkanError.unsupported("\(name): \(pushConstantBytes) bytes of push constants > device limit \(device.capabilities.maxPushConstantsSize)")
        }
        if captureStatistics && !device.enabled.pipelineStatistics {
            throw VulkanError.unsupported("\(name): pipeline statistics need VK_KHR_pipeline_executable_properties, which \(device.capabilities.name) does not offer")
        }
        let dev = device.handle
        var mod: VkShaderModule?
        let mr: VkResult = spirv.withUnsafeBufferPointer { code in
            var info = VkShaderModuleCreateInfo()
            info.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO
            info.codeSize = code.count * 4
            info.pCode = code.baseAddress
            return vkCreateShaderModule(dev, &info, nil, &mod)
        }
        try check(mr, "vkCreateShaderModule(\(name))")
        guard let mod else { throw VulkanError.call("vkCreateShaderModule", -1) }

        var bindingsInfo = (0..<bindings).map { i -> VkDescriptorSetLayoutBinding in
            var b = VkDescriptorSetLayoutBinding()
            b.binding = UInt32(i)
            b.descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER
            b.descriptorCount = 1
            b.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT.rawValue
            return b
        }
        var dsl: VkDescriptorSetLayout?
        let dr: VkResult = bindingsInfo.withUnsafeMutableBufferPointer { bp in
            var info = VkDescriptorSetLayoutCreateInfo()
            info.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO
            info.bindingCount = UInt32(bp.count)
            info.pBindings = UnsafePointer(bp.baseAddress)
            return vkCreateDescriptorSetLayout(dev, &info, nil, &dsl)
        }
        guard dr == VK_SUCCESS, let dsl else {
            vkDestroyShaderModule(dev, mod, nil)
            throw VulkanError.call("vkCreateDescriptorSetLayout(\(name))", dr.rawValue)
        }
        var pl: VkPipelineLayout?
        var range = VkPushConstantRange(stageFlags: VK_SHADER_STAGE_COMPUTE_BIT.rawValue, offset: 0, size: UInt32(pushConstantBytes))
        var dslVar: VkDescriptorSetLayout? = dsl
        let lr: VkResult = withUnsafePointer(to: &dslVar) { dslp in
            withUnsafePointer(to: &range) { rp in
                var info = VkPipelineLayoutCreateInfo()
                info.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO
                info.setLayoutCount = 1
                info.pSetLayouts = dslp
                info.pushConstantRangeCount = pushConstantBytes > 0 ? 1 : 0
                info.pPushConstantRanges = pushConstantBytes > 0 ? rp : nil
                return vkCreatePipelineLayout(dev, &info, nil, &pl)
            }
        }
        guard lr == VK_SUCCESS, let pl else {
            vkDestroyDescriptorSetLayout(dev, dsl, nil); vkDestroyShaderModule(dev, mod, nil)
            throw VulkanError.call("vkCreatePipelineLayout(\(name))", lr.rawValue)
        }

        var entries = specialization.indices.map {
            VkSpecializationMapEntry(constantID: specialization[$0].id, offset: UInt32($0 * 4), size: 4)
        }
        var spec = specialization.map(\.value)
        var sg = VkPipelineShaderStageRequiredSubgroupSizeCreateInfo()
        sg.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_REQUIRED_SUBGROUP_SIZE_CREATE_INFO
        sg.requiredSubgroupSize = UInt32(requiredSubgroupSize ?? 0)
        if requiredSubgroupSize != nil && !device.enabled.subgroupSizeControl {
            throw VulkanError.unsupported("\(name): the device cannot require a subgroup size")
        }
        var pipe: VkPipeline?
        let pr: VkResult = entries.withUnsafeMutableBufferPointer { ep in
            spec.withUnsafeMutableBytes { sp in
                withUnsafeMutablePointer(to: &sg) { sgp in
                    "main".withCString { entryName in
                        var si = VkSpecializationInfo()
                        si.mapEntryCount = UInt32(ep.count)
                        si.pMapEntries = UnsafePointer(ep.baseAddress)
                        si.dataSize = sp.count
                        si.pData = UnsafeRawPointer(sp.baseAddress)
                        return withUnsafePointer(to: &si) { sip in
                            var stage = VkPipelineShaderStageCreateInfo()
                            stage.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO
                            stage.stage = VK_SHADER_STAGE_COMPUTE_BIT
                            stage.module = mod
                            stage.pName = entryName
                            stage.pSpecializationInfo = specialization.isEmpty ? nil : sip
                            if requiredSubgroupSize != nil { stage.pNext = UnsafeRawPointer(sgp) }
                            if requireFullSubgroups && device.enabled.fullSubgroups {
                                stage.flags = VK_PIPELINE_SHADER_STAGE_CREATE_REQUIRE_FULL_SUBGROUPS_BIT.rawValue
                            }
                            var info = VkComputePipelineCreateInfo()
                            info.sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO
                            info.stage = stage
                            info.layout = pl
                            if captureStatistics { info.flags = VK_PIPELINE_CREATE_CAPTURE_STATISTICS_BIT_KHR.rawValue }
                            return vkCreateComputePipelines(dev, nil, 1, &info, nil, &pipe)
                        }
                    }
                }
            }
        }
        guard pr == VK_SUCCESS, let pipe else {
            vkDestroyPipelineLayout(dev, pl, nil); vkDestroyDescriptorSetLayout(dev, dsl, nil); vkDestroyShaderModule(dev, mod, nil)
            throw VulkanError.call("vkCreateComputePipelines(\(name))", pr.rawValue)
        }
        self.module = mod
        self.setLayout = dsl
        self.layout = pl
        self.pipeline = pipe
    }

    deinit {
        let dev = device.handle
        vkDestroyPipeline(dev, pipeline, nil)
        vkDestroyPipelineLayout(dev, layout, nil)
        vkDestroyDescriptorSetLayout(dev, setLayout, nil)
        vkDestroyShaderModule(dev, module, nil)
    }
}
