// QLinear's public API includes the Vulkan runtime layer it is built on (Device, Buffer,
// BufferBinding, CommandStream, Capabilities): `LinearLayer.encode` records into a caller's
// CommandStream with the caller's Buffers. A user imports only QLinear.
@_exported import VulkanRuntime
