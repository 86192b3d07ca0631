import CVulkan

/// A storage buffer with its own memory. Device-local buffers that are not host-visible are
/// filled and read through a staging buffer.
public final class Buffer: @unchecked Sendable {
    public let device: Device
    public let handle: VkBuffer
    public let memory: VkDeviceMemory
    public let size: Int
    /// Mapped pointer when the memory is host-visible and coherent.
    let mapped: UnsafeMutableRawPointer?

    public enum Placement: Sendable { case deviceLocal, host }

    public init(device: Device, size: Int, placement: Placement = .deviceLocal) throws {
        guard size > 0 else { throw VulkanError.outOfRange("buffer size must be > 0") }
        let caps = device.capabilities
        if UInt64(size) > caps.maxStorageBufferRange {
            throw VulkanError.outOfRange("buffer of \(size) bytes exceeds the device's maxStorageBufferRange (\(caps.maxStorageBufferRange))")
        }
        self.device = device
        self.size = size
        var info = VkBufferCreateInfo()
        info.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO
        info.size = VkDeviceSize(size)
        info.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT.rawValue | VK_BUFFER_USAGE_TRANSFER_SRC_BIT.rawValue | VK_BUFFER_USAGE_TRANSFER_DST_BIT.rawValue
        info.sharingMode = VK_SHARING_MODE_EXCLUSIVE
        var buf: VkBuffer?
        try check(vkCreateBuffer(device.handle, &info, nil, &buf), "vkCreateBuffer(\(size) bytes)")
        guard let buf else { throw VulkanError.call("vkCreateBuffer", -1) }
        var req = VkMemoryRequirements()
        vkGetBufferMemoryRequirements(device.handle, buf, &req)
        let hostBits = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT.rawValue | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT.rawValue
        let localBit = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT.rawValue
        let choice: (index: UInt32, flags: UInt32)?
        switch placement {
        case .deviceLocal: choice = device.memoryType(bits: req.memoryTypeBits, required: localBit) ?? device.memoryType(bits: req.memoryTypeBits, required: 0)
        case .host: choice = device.memoryType(bits: req.memoryTypeBits, required: hostBits, preferred: VK_MEMORY_PROPERTY_HOST_CACHED_BIT.rawValue)
        }
        guard let choice else {
            vkDestroyBuffer(device.handle, buf, nil)
            throw VulkanError.unsupported("no memory type for a \(placement) buffer")
        }
        var alloc = VkMemoryAllocateInfo()
        alloc.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO
        alloc.allocationSize = req.size
        alloc.memoryTypeIndex = choice.index
        var mem: VkDeviceMemory?
        let ar = vkAllocateMemory(device.handle, &alloc, nil, &mem)
        guard ar == VK_SUCCESS, let mem else {
            vkDestroyBuffer(device.handle, buf, nil)
            throw VulkanError.call("vkAllocateMemory(\(req.size) bytes)", ar.rawValue)
        }
        let br = vkBindBufferMemory(device.handle, buf, mem, 0)
        guard br == VK_SUCCESS else {
            vkFreeMemory(device.handle, mem, nil); vkDestroyBuffer(device.handle, buf, nil)
            throw VulkanError.call("vkBindBufferMemory", br.rawValue)
        }
        var ptr: UnsafeMutableRawPointer?
        if choice.flags & hostBits == hostBits {
            let mr = vkMapMemory(device.handle, mem, 0, QLV_WHOLE_SIZE, 0, &ptr)
            guard mr == VK_SUCCESS else {
                vkFreeMemory(device.handle, mem, nil); vkDestroyBuffer(device.handle, buf, nil)
                throw VulkanError.call("vkMapMemory", mr.rawValue)
            }
        }
        self.handle = buf
        self.memory = mem
        self.mapped = ptr
    }

    deinit {
        if mapped != nil { vkUnmapMemory(device.handle, memory) }
        vkDestroyBuffer(device.handle, handle, nil)
        vkFreeMemory(device.handle, memory, nil)
    }

    public var isHostVisible: Bool { mapped != nil }

    /// Copies `bytes` into the buffer at `offset`.
    public func write(_ bytes: UnsafeRawBufferPointer, offset: Int = 0) throws {
        guard offset >= 0, offset <= size, bytes.count <= size - offset else {
            throw VulkanError.outOfRange("write of \(bytes.count) bytes at \(offset) into a \(size)-byte buffer")
        }
        guard bytes.count > 0 else { return }
        if let mapped {
            (mapped + offset).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
            return
        }
        let staging = try Buffer(device: device, size: bytes.count, placement: .host)
        try staging.write(bytes)
        try device.copy(from: staging, srcOffset: 0, to: self, dstOffset: offset, size: bytes.count)
    }

    /// Copies `count` bytes from the buffer at `offset` into `into`.
    public func read(into: UnsafeMutableRawBufferPointer, offset: Int = 0) throws {
        guard offset >= 0, offset <= size, into.count <= size - offset else {
            throw VulkanError.outOfRange("read of \(into.count) bytes at \(offset) from a \(size)-byte buffer")
        }
        guard into.count > 0 else { return }
        if let mapped {
            into.baseAddress!.copyMemory(from: mapped + offset, byteCount: into.count)
            return
        }
        let staging = try Buffer(device: device, size: into.count, placement: .host)
        try device.copy(from: self, srcOffset: offset, to: staging, dstOffset: 0, size: into.count)
        try staging.read(into: into)
    }

    public func write<T>(array: [T], offset: Int = 0) throws {
        try array.withUnsafeBytes { try write($0, offset: offset) }
    }

    public func read<T>(as: T.Type, count: Int, offset: Int = 0) throws -> [T] {
        let (bytes, o) = count.multipliedReportingOverflow(by: MemoryLayout<T>.stride)
        guard count >= 0, !o, offset >= 0, offset <= size, bytes <= size - offset else {
            throw VulkanError.outOfRange("read of \(count) values of \(MemoryLayout<T>.stride) bytes at \(offset) from a \(size)-byte buffer")
        }
        return try [T](unsafeUninitializedCapacity: count) { buf, initialized in
            try read(into: UnsafeMutableRawBufferPointer(buf), offset: offset)
            initialized = count
        }
    }
}

extension Device {
    /// A blocking buffer-to-buffer copy (used for staging).
    func copy(from src: Buffer, srcOffset: Int, to dst: Buffer, dstOffset: Int, size: Int) throws {
        let stream = try CommandStream(device: self)
        try stream.copy(from: src, srcOffset: srcOffset, to: dst, dstOffset: dstOffset, size: size)
        try stream.submitAndWait()
    }
}
