#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import QLinear
import VulkanRuntime

struct DeviceReport: Codable {
    var index: Int
    var capabilities: Capabilities
    var `default`: Bool
    var selfTest: [String: String]?
}

func cmdDevices(_ args: inout Args) throws {
    let json = args.flag("json")
    let sel = args.value("device")
    try args.checkUnused()
    let instance = try Instance()
    let best = try instance.select(nil)
    var reports: [DeviceReport] = []
    for d in instance.physicalDevices {
        var r = DeviceReport(index: d.index, capabilities: d.capabilities, default: d.index == best.index, selfTest: nil)
        if sel == nil || (try? instance.select(sel))?.index == d.index {
            // Self-test each device's cooperative matrices the way a real run would.
            if d.capabilities.cooperativeMatrix, let ctx = try? QLinearContext(device: String(d.index)) {
                r.selfTest = ctx.selfTest
            }
        }
        reports.append(r)
    }
    if json { print(try jsonString(reports)); return }
    for r in reports {
        let c = r.capabilities
        print("[\(r.index)] \(c.name)\(r.default ? "  (default)" : "")")
        print("    kind \(c.kind.rawValue), Vulkan \(c.apiVersion), driver \(c.driverName) \(c.driverInfo), vendor 0x\(String(c.vendorID, radix: 16)) device 0x\(String(c.deviceID, radix: 16))")
        print("    subgroup \(c.subgroupSize) (min \(c.minSubgroupSize), max \(c.maxSubgroupSize), \(c.canRequireSubgroupSize ? "can be required" : "fixed")), shared memory \(c.sharedMemoryBytes) B, workgroup ≤ \(c.maxWorkgroupInvocations)")
        print("    memory types: \(c.memoryTypes.enumerated().map { "[\($0.offset)] \($0.element)" }.joined(separator: ", "))")
        print("    storage buffer range \(c.maxStorageBufferRange) B, device-local memory \(c.deviceLocalMemoryBytes / (1 << 20)) MiB")
        print("    float16 \(yn(c.shaderFloat16)), int8 \(yn(c.shaderInt8)), 16-bit storage \(yn(c.storageBuffer16Bit)), 8-bit storage \(yn(c.storageBuffer8Bit)), integer dot product \(yn(c.integerDotProduct))\(c.integerDotProduct4x8PackedAccelerated ? " (4x8 packed accelerated)" : ""), memory model \(yn(c.vulkanMemoryModel))")
        if c.cooperativeMatrix {
            print("    cooperative matrix (VK_KHR_cooperative_matrix), \(c.coopMatConfigs.count) configurations:")
            print("      " + pad("M", 4) + pad("N", 4) + pad("K", 4) + pad("A", 6) + pad("B", 6) + pad("C", 6) + pad("result", 8) + "scope")
            for m in c.coopMatConfigs {
                print("      " + pad(String(m.m), 4) + pad(String(m.n), 4) + pad(String(m.k), 4) + pad(m.a.rawValue, 6) + pad(m.b.rawValue, 6)
                      + pad(m.c.rawValue, 6) + pad(m.result.rawValue + (m.saturating ? "sat" : ""), 8) + (m.subgroupScope ? "subgroup" : "other"))
            }
            if let st = r.selfTest {
                for (fam, res) in st.sorted(by: { $0.key < $1.key }) { print("    self-test \(fam) cooperative matrices: \(res)") }
            }
        } else {
            print("    cooperative matrix: not supported (tiled kernels only)")
        }
    }
}

func yn(_ b: Bool) -> String { b ? "yes" : "no" }

struct ExplainReport: Codable {
    var device: String
    var problem: Problem
    var chosen: KernelPlan?
    var why: [String]
    var candidates: [String: String]
}

func cmdExplain(_ args: inout Args) throws {
    let json = args.flag("json")
    guard let opName = args.value("op"), let op = Op(rawValue: opName) else { throw CLIError.usage("explain needs --op (\(Op.allCases.map(\.rawValue).joined(separator: ", ")))") }
    guard let shape = args.value("shape") else { throw CLIError.usage("explain needs --shape MxNxK") }
    let (m, n, k) = try parseShape(shape)
    let g = try args.int("group") ?? 128
    let act = try parseActs(&args).first!
    let bias = args.flag("bias")
    let ctx = try openContext(&args)
    try args.checkUnused()
    let p = Problem(op: op, m: m, n: n, k: k, groupSize: g, act: act, bias: bias)
    try p.validate()
    let d = ctx.decide(p)
    var cands: [String: String] = [:]
    for (kind, r) in d.candidates {
        switch r {
        case .success(let plan): cands[kind.rawValue] = "possible: \(plan.shader.rawValue), \(plan.tile)"
        case .failure(let why): cands[kind.rawValue] = "not possible: \(why.reason)"
        }
    }
    if json {
        print(try jsonString(ExplainReport(device: ctx.capabilities.name, problem: p, chosen: d.chosen, why: d.why, candidates: cands)))
        return
    }
    print("device: \(ctx.capabilities.name)")
    print("problem: \(p)")
    if let c = d.chosen {
        print("chosen: \(c.kernel.rawValue) — \(c.shader.rawValue)\(c.quantShader.map { " (after \($0.rawValue))" } ?? ""), \(c.tile)")
        for r in c.reasons { print("  - \(r)") }
    } else {
        print("chosen: none")
    }
    print("decision: \(d.why.joined(separator: "; "))")
    for kind in KernelKind.allCases { print("  \(kind.rawValue): \(cands[kind.rawValue] ?? "")") }
    if d.chosen == nil { throw CLIError.failed("no kernel can run this problem on this device") }
}
