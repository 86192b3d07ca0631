import CVulkan

/// A binding of a buffer range to a descriptor slot.
public struct BufferBinding: Sendable {
    public let buffer: Buffer
    public let offset: Int
    public let size: Int?
    public init(_ buffer: Buffer, offset: Int = 0, size: Int? = nil) { self.buffer = buffer; self.offset = offset; self.size = size }
}

/// One command buffer: recorded once (dispatches, barriers, copies, GPU timestamps), then
/// submitted as many times as wanted — a model runs the same linears every token. Owns its
/// command buffer, fence, descriptor pool and query pool. Not thread-safe; submission takes the
/// device's queue lock.
///
/// States: recording → ready ⇄ pending; a wait that times out leaves it pending (wait again),
/// a lost device or failed submit makes it `lost` (unusable, every call throws). Its deinit never
/// waits forever: a stream still pending after a bounded wait leaks its Vulkan objects (and keeps the device, pipelines and buffers it recorded alive) rather
/// than free what the GPU may still use.
public final class CommandStream {
    public enum State: Sendable { case recording, ready, pending, lost }
    public private(set) var state: State = .recording
    public let device: Device
    let commandPool: VkCommandPool
    let commandBuffer: VkCommandBuffer
    let fence: VkFence
    let descriptorPool: VkDescriptorPool
    let queryPool: VkQueryPool?
    public let timestampCapacity: Int
    var recording: Bool { state == .recording }
    /// Buffers and pipelines referenced by recorded commands, kept alive as long as the stream.
    var retained: [AnyObject] = []
    var timestampsWritten = 0

    public init(device: Device, maxDispatches: Int = 64, maxBindingsPerDispatch: Int = 8, timestamps: Int = 0) throws {
        self.device = device
        let dev = device.handle
        // One command pool per stream: recording into a command buffer uses its pool, which Vulkan
        // requires to be externally synchronized, so streams recorded on different threads must
        // not share one (the validation layers' thread checker reported exactly that).
        var poolInfo = VkCommandPoolCreateInfo()
        poolInfo.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO
        poolInfo.queueFamilyIndex = device.physical.computeQueueFamily
        var cpool: VkCommandPool?
        let cpr = vkCreateCommandPool(dev, &poolInfo, nil, &cpool)
        guard cpr == VK_SUCCESS, let cpool else { throw VulkanError.call("vkCreateCommandPool", cpr.rawValue) }
        var cb: VkCommandBuffer?
        var ai = VkCommandBufferAllocateInfo()
        ai.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO
        ai.commandPool = cpool
        ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY
        ai.commandBufferCount = 1
        let r = vkAllocateCommandBuffers(dev, &ai, &cb)
        guard r == VK_SUCCESS, let cb else {
            vkDestroyCommandPool(dev, cpool, nil)
            throw VulkanError.call("vkAllocateCommandBuffers", r.rawValue)
        }
        var fi = VkFenceCreateInfo(); fi.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO
        var f: VkFence?
        let fr = vkCreateFence(dev, &fi, nil, &f)
        guard fr == VK_SUCCESS, let f else {
            vkDestroyCommandPool(dev, cpool, nil)
            throw VulkanError.call("vkCreateFence", fr.rawValue)
        }
        var size = VkDescriptorPoolSize(type: VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, descriptorCount: UInt32(max(1, maxDispatches * maxBindingsPerDispatch)))
        var pi = VkDescriptorPoolCreateInfo()
        pi.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO
        pi.maxSets = UInt32(max(1, maxDispatches))
        pi.poolSizeCount = 1
        var pool: VkDescriptorPool?
        let pr: VkResult = withUnsafePointer(to: &size) { sp in pi.pPoolSizes = sp; return vkCreateDescriptorPool(dev, &pi, nil, &pool) }
        guard pr == VK_SUCCESS, let pool else {
            vkDestroyFence(dev, f, nil); vkDestroyCommandPool(dev, cpool, nil)
            throw VulkanError.call("vkCreateDescriptorPool", pr.rawValue)
        }
        var qp: VkQueryPool?
        if timestamps > 0 {
            guard device.capabilities.timestampsSupported else {
                vkDestroyDescriptorPool(dev, pool, nil); vkDestroyFence(dev, f, nil); vkDestroyCommandPool(dev, cpool, nil)
                throw VulkanError.unsupported("the compute queue has no timestamps")
            }
            var qi = VkQueryPoolCreateInfo()
            qi.sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO
            qi.queryType = VK_QUERY_TYPE_TIMESTAMP
            qi.queryCount = UInt32(timestamps)
            let qr = vkCreateQueryPool(dev, &qi, nil, &qp)
            if qr != VK_SUCCESS {
                vkDestroyDescriptorPool(dev, pool, nil); vkDestroyFence(dev, f, nil); vkDestroyCommandPool(dev, cpool, nil)
                throw VulkanError.call("vkCreateQueryPool", qr.rawValue)
            }
            vkResetQueryPool(dev, qp, 0, UInt32(timestamps))
        }
        self.commandPool = cpool
        self.commandBuffer = cb
        self.fence = f
        self.descriptorPool = pool
        self.queryPool = qp
        self.timestampCapacity = timestamps
        var bi = VkCommandBufferBeginInfo()
        bi.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO
        bi.flags = 0
        try check(vkBeginCommandBuffer(cb, &bi), "vkBeginCommandBuffer")
    }

    deinit {
        let dev = device.handle
        if state == .pending || state == .lost {
            var f: VkFence? = fence
            let w = vkWaitForFences(dev, 1, &f, 1, 10_000_000_000)
            if w != VK_SUCCESS {
                // Still in use (or device lost): leak rather than hang or free live objects — the
                // stream's own Vulkan objects, and the device, pipelines and buffers it recorded,
                // which would otherwise be released with it while the GPU may still read or write
                // them (a forced configuration that ran past the fence timeout on lavapipe crashed
                // the process this way).
                _ = Unmanaged.passRetained(device)
                for o in retained { _ = Unmanaged.passRetained(o) }
                return
            }
        }
        if let queryPool { vkDestroyQueryPool(dev, queryPool, nil) }
        vkDestroyDescriptorPool(dev, descriptorPool, nil)
        vkDestroyFence(dev, fence, nil)
        vkDestroyCommandPool(dev, commandPool, nil)   // frees the command buffer
    }

    /// Records a dispatch of `pipeline` over `groups` workgroups with `buffers` at bindings 0… and
    /// `push` as push constants (32-bit words).
    public func dispatch(_ pipeline: ComputePipeline, buffers: [BufferBinding], push: [UInt32], groups: (Int, Int, Int)) throws {
        guard recording else { throw VulkanError.outOfRange("\(pipeline.name): dispatch recorded after the stream was finished") }
        guard pipeline.device === device else { throw VulkanError.outOfRange("\(pipeline.name): pipeline belongs to another device") }
        for b in buffers where b.buffer.device !== device { throw VulkanError.outOfRange("\(pipeline.name): a bound buffer belongs to another device") }
        // Every descriptor range must lie inside its buffer, start at an aligned offset and fit the
        // storage-buffer range limit (otherwise vkUpdateDescriptorSets is undefined behaviour).
        let align = device.capabilities.minStorageBufferOffsetAlignment
        for (i, b) in buffers.enumerated() {
            let range = b.size ?? (b.buffer.size - b.offset)
            guard b.offset >= 0, b.offset < b.buffer.size, align <= 1 || b.offset % align == 0,
                  range > 0, range <= b.buffer.size - b.offset, UInt64(range) <= device.capabilities.maxStorageBufferRange else {
                throw VulkanError.outOfRange("\(pipeline.name): binding \(i) [offset \(b.offset), \(b.size.map(String.init) ?? "whole") bytes] is not an aligned (\(align)), non-empty range inside its \(b.buffer.size)-byte buffer within maxStorageBufferRange")
            }
        }
        guard buffers.count == pipeline.bindingCount else {
            throw VulkanError.outOfRange("\(pipeline.name): \(buffers.count) buffers bound, \(pipeline.bindingCount) expected")
        }
        guard push.count * 4 == pipeline.pushConstantBytes else {
            throw VulkanError.outOfRange("\(pipeline.name): \(push.count * 4) push-constant bytes, \(pipeline.pushConstantBytes) expected")
        }
        let maxCount = device.capabilities.maxWorkgroupCount
        guard groups.0 >= 1, groups.1 >= 1, groups.2 >= 1,
              groups.0 <= maxCount[0], groups.1 <= maxCount[1], groups.2 <= maxCount[2] else {
            throw VulkanError.outOfRange("\(pipeline.name): workgroup count \(groups) outside the device's limits \(maxCount)")
        }
        let dev = device.handle
        var set: VkDescriptorSet?
        var layout: VkDescriptorSetLayout? = pipeline.setLayout
        var ai = VkDescriptorSetAllocateInfo()
        ai.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO
        ai.descriptorPool = descriptorPool
        ai.descriptorSetCount = 1
        let ar: VkResult = withUnsafePointer(to: &layout) { lp in ai.pSetLayouts = lp; return vkAllocateDescriptorSets(dev, &ai, &set) }
        try check(ar, "vkAllocateDescriptorSets(\(pipeline.name)) — too many dispatches in one stream?")
        var infos = buffers.map { b in
            VkDescriptorBufferInfo(buffer: b.buffer.handle, offset: VkDeviceSize(b.offset),
                                   range: b.size.map { VkDeviceSize($0) } ?? QLV_WHOLE_SIZE)
        }
        infos.withUnsafeMutableBufferPointer { ip in
            var writes = (0..<ip.count).map { i -> VkWriteDescriptorSet in
                var w = VkWriteDescriptorSet()
                w.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET
                w.dstSet = set
                w.dstBinding = UInt32(i)
                w.descriptorCount = 1
                w.descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER
                w.pBufferInfo = UnsafePointer(ip.baseAddress! + i)
                return w
            }
            vkUpdateDescriptorSets(dev, UInt32(writes.count), &writes, 0, nil)
        }
        vkCmdBindPipeline(commandBuffer, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline.pipeline)
        vkCmdBindDescriptorSets(commandBuffer, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline.layout, 0, 1, &set, 0, nil)
        if !push.isEmpty {
            push.withUnsafeBytes { pb in
                vkCmdPushConstants(commandBuffer, pipeline.layout, VK_SHADER_STAGE_COMPUTE_BIT.rawValue, 0, UInt32(pb.count), pb.baseAddress)
            }
        }
        vkCmdDispatch(commandBuffer, UInt32(groups.0), UInt32(groups.1), UInt32(groups.2))
        retained.append(pipeline)
        retained.append(contentsOf: buffers.map { $0.buffer as AnyObject })
    }

    /// A full compute→compute / transfer memory barrier.
    public func barrier() throws {
        guard recording else { throw VulkanError.outOfRange("barrier recorded after the stream was finished") }
        var mb = VkMemoryBarrier()
        mb.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER
        mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT.rawValue | VK_ACCESS_TRANSFER_WRITE_BIT.rawValue
        mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT.rawValue | VK_ACCESS_SHADER_WRITE_BIT.rawValue | VK_ACCESS_TRANSFER_READ_BIT.rawValue | VK_ACCESS_TRANSFER_WRITE_BIT.rawValue
        let stages = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT.rawValue | VK_PIPELINE_STAGE_TRANSFER_BIT.rawValue
        vkCmdPipelineBarrier(commandBuffer, stages, stages, 0, 1, &mb, 0, nil, 0, nil)
    }

    public func copy(from src: Buffer, srcOffset: Int, to dst: Buffer, dstOffset: Int, size: Int) throws {
        guard recording else { throw VulkanError.outOfRange("copy recorded after the stream was finished") }
        guard src.device === device, dst.device === device else { throw VulkanError.outOfRange("copy between buffers of another device") }
        guard size > 0, srcOffset >= 0, dstOffset >= 0, srcOffset <= src.size - size, dstOffset <= dst.size - size else {
            throw VulkanError.outOfRange("copy of \(size) bytes from offset \(srcOffset) of \(src.size) to offset \(dstOffset) of \(dst.size)")
        }
        var region = VkBufferCopy(srcOffset: VkDeviceSize(srcOffset), dstOffset: VkDeviceSize(dstOffset), size: VkDeviceSize(size))
        vkCmdCopyBuffer(commandBuffer, src.handle, dst.handle, 1, &region)
        retained.append(src); retained.append(dst)
    }

    /// Fills `size` bytes of `buffer` at `offset` with the 32-bit `value` (size a multiple of 4).
    public func fill(_ buffer: Buffer, offset: Int = 0, size: Int, value: UInt32) throws {
        guard recording else { throw VulkanError.outOfRange("fill recorded after the stream was finished") }
        guard buffer.device === device else { throw VulkanError.outOfRange("fill of a buffer of another device") }
        guard size > 0, size % 4 == 0, offset >= 0, offset % 4 == 0, offset <= buffer.size - size else {
            throw VulkanError.outOfRange("fill of \(size) bytes at offset \(offset) of a \(buffer.size)-byte buffer (both multiples of 4, inside the buffer)")
        }
        vkCmdFillBuffer(commandBuffer, buffer.handle, VkDeviceSize(offset), VkDeviceSize(size), value)
        retained.append(buffer)
    }

    /// Writes a GPU timestamp into slot `index` after all previous work completes.
    public func timestamp(_ index: Int) throws {
        guard recording, let queryPool, index >= 0, index < timestampCapacity else {
            throw VulkanError.outOfRange("timestamp slot \(index) of \(timestampCapacity)")
        }
        vkCmdWriteTimestamp(commandBuffer, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, queryPool, UInt32(index))
        timestampsWritten = max(timestampsWritten, index + 1)
    }

    /// Ends recording (idempotent). After this the stream can only be submitted. The last command
    /// is a device → host memory barrier: a fence makes the device's writes available, but only a
    /// dependency with the host stage and host-read access makes them visible to host reads of
    /// mapped memory (Vulkan's memory model; drivers that work without it are not obliged to).
    public func finish() throws {
        guard state == .recording else { return }
        var mb = VkMemoryBarrier()
        mb.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER
        mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT.rawValue | VK_ACCESS_TRANSFER_WRITE_BIT.rawValue
        mb.dstAccessMask = VK_ACCESS_HOST_READ_BIT.rawValue
        vkCmdPipelineBarrier(commandBuffer, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT.rawValue | VK_PIPELINE_STAGE_TRANSFER_BIT.rawValue,
                             VK_PIPELINE_STAGE_HOST_BIT.rawValue, 0, 1, &mb, 0, nil, 0, nil)
        let r = vkEndCommandBuffer(commandBuffer)
        if r != VK_SUCCESS { state = .lost }
        try check(r, "vkEndCommandBuffer")
        state = .ready
    }

    /// Submits the recorded commands (ending recording first if needed). The stream must not be
    /// pending; timestamps are reset for this run.
    public func submit() throws {
        try finish()
        switch state {
        case .ready: break
        case .pending: throw VulkanError.outOfRange("stream submitted while its previous run is still pending (wait first)")
        case .lost: throw VulkanError.outOfRange("stream is unusable after an earlier failure")
        case .recording: throw VulkanError.outOfRange("stream still recording")
        }
        let dev = device.handle
        var f: VkFence? = fence
        try check(vkResetFences(dev, 1, &f), "vkResetFences")
        if let queryPool, timestampCapacity > 0 { vkResetQueryPool(dev, queryPool, 0, UInt32(timestampCapacity)) }
        var cb: VkCommandBuffer? = commandBuffer
        var si = VkSubmitInfo()
        si.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO
        si.commandBufferCount = 1
        let r: VkResult = withUnsafePointer(to: &cb) { cbp in
            si.pCommandBuffers = cbp
            return device.lock.withLock { _ in vkQueueSubmit(device.queue, 1, &si, fence) }
        }
        if r != VK_SUCCESS { state = .lost }
        try check(r, "vkQueueSubmit")
        state = .pending
    }

    /// Waits for the pending run, at most `timeoutSeconds` (NaN or ≤ 0: poll once; +inf: 10^9 s).
    /// A timeout throws and leaves the stream pending (wait again, or drop it); a lost device makes
    /// it unusable.
    public func wait(timeoutSeconds: Double = 120) throws {
        guard state == .pending else {
            if state == .lost { throw VulkanError.outOfRange("stream is unusable after an earlier failure") }
            return
        }
        var f: VkFence? = fence
        // NaN and ≤ 0 poll; +inf and anything past 10^9 s wait 10^9 s (the conversion never traps).
        let ns = timeoutSeconds > 0 ? UInt64(min(timeoutSeconds, 1e9) * 1e9) : 0
        let w = vkWaitForFences(device.handle, 1, &f, 1, ns)
        if w == VK_TIMEOUT { throw VulkanError.call("vkWaitForFences (GPU work did not finish in \(timeoutSeconds) s)", w.rawValue) }
        if w != VK_SUCCESS { state = .lost }
        try check(w, "vkWaitForFences")
        state = .ready
    }

    /// Submits and waits (at most `timeoutSeconds`; a GPU that does not finish by then is
    /// reported as an error rather than waited on forever). May be called again to re-run.
    public func submitAndWait(timeoutSeconds: Double = 120) throws {
        try submit()
        try wait(timeoutSeconds: timeoutSeconds)
    }

    /// Timestamps written, in nanoseconds since an arbitrary origin (valid after submitAndWait).
    public func timestampsNs() throws -> [Double] {
        guard let queryPool, timestampsWritten > 0 else { return [] }
        guard state == .ready else { throw VulkanError.outOfRange("timestamps read while the stream is not finished") }
        var raw = [UInt64](repeating: 0, count: timestampsWritten)
        let r: VkResult = raw.withUnsafeMutableBytes { rb in
            vkGetQueryPoolResults(device.handle, queryPool, 0, UInt32(timestampsWritten), rb.count, rb.baseAddress, 8,
                                  VK_QUERY_RESULT_64_BIT.rawValue | VK_QUERY_RESULT_WAIT_BIT.rawValue)
        }
        try check(r, "vkGetQueryPoolResults")
        let bits = device.physical.timestampValidBits
        let mask: UInt64 = bits >= 64 ? UInt64.max : (UInt64(1) << UInt64(bits)) - 1
        return raw.map { Double($0 & mask) * device.capabilities.timestampPeriodNs }
    }
}
