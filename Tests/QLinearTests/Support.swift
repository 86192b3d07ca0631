import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import QLinear
import QLinearCheck
import QLinearIO
import VulkanRuntime

/// One Vulkan context for the whole test run (lavapipe in CI). Opening it is a test failure when
/// no device exists: the suite must not silently skip its GPU half.
enum Shared {
    static let context: Result<QLinearContext, any Error> = Result { try QLinearContext(instance: TestValidation.instance) }
    static func ctx() throws -> QLinearContext { try context.get() }
}

/// The H100's reported cooperative-matrix table (docs/results/h100-devices-2026-11-25.json).
func h100Caps() -> Capabilities {
    var c = Capabilities(name: "synthetic H100", kind: .discrete, vendorID: 0x10de, subgroupSize: 32, sharedMemoryBytes: 49152, cooperativeMatrix: true)
    for (a, cc) in [(ComponentType.f16, ComponentType.f16), (.f16, .f32)] {
        c.coopMatConfigs += [CoopMatConfig(m: 16, n: 16, k: 16, a: a, b: a, c: cc, result: cc),
                             CoopMatConfig(m: 16, n: 8, k: 16, a: a, b: a, c: cc, result: cc),
                             CoopMatConfig(m: 16, n: 8, k: 8, a: a, b: a, c: cc, result: cc)]
    }
    c.coopMatConfigs += [CoopMatConfig(m: 16, n: 16, k: 32, a: .s8, b: .s8, c: .s32, result: .s32),
                         CoopMatConfig(m: 16, n: 8, k: 32, a: .s8, b: .s8, c: .s32, result: .s32),
                         CoopMatConfig(m: 16, n: 16, k: 32, a: .u8, b: .u8, c: .u32, result: .u32),
                         CoopMatConfig(m: 16, n: 16, k: 16, a: .bf16, b: .bf16, c: .f32, result: .f32)]
    return c
}

/// An RDNA3-like device: wave64 default, 32…64 selectable, 16×16×16 shapes for f16 and int8.
func amdCaps() -> Capabilities {
    Capabilities(name: "synthetic wave64", kind: .discrete, subgroupSize: 64, minSubgroupSize: 32, maxSubgroupSize: 64,
                 sharedMemoryBytes: 65536, cooperativeMatrix: true,
                 coopMatConfigs: [CoopMatConfig(m: 16, n: 16, k: 16, a: .f16, b: .f16, c: .f32, result: .f32),
                                  CoopMatConfig(m: 16, n: 16, k: 16, a: .f16, b: .f16, c: .f16, result: .f16),
                                  CoopMatConfig(m: 16, n: 16, k: 16, a: .s8, b: .s8, c: .s32, result: .s32)])
}


/// A fragment probe's output words for a layout (frag_probe.comp's and frag_probe_s8.comp's format).
func words(_ l: FragmentLayout) -> [UInt32] {
    var o = [UInt32](repeating: 0xFFFF_FFFF, count: 4 + 3 * 512)
    o[0] = UInt32(l.subgroupSize)
    for (j, mat) in [l.a, l.b, l.c].enumerated() {
        o[1 + j] = UInt32(mat[0].count)
        for lane in 0..<32 { for (i, v) in mat[lane].enumerated() { o[4 + j * 512 + lane * 16 + i] = UInt32(v) } }
    }
    return o
}
