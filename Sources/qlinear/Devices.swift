#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import ArgumentParser
import QLinear

struct DeviceReport: Codable {
    var index: Int
    var capabilities: Capabilities
    var `default`: Bool
    var selfTest: [String: String]?
    var tuningTable: String
    /// The probed cooperative-matrix fragment layout: its name, "unknown", or why it was not probed.
    var fragmentLayout: String?
    /// The probe's raw answer (per matrix, per lane, the flat index of each element).
    var fragmentProbe: FragmentLayout?
    /// The same for the int8 probe (16×8×32 s8: `frag_probe_s8.comp`).
    var int8FragmentLayout: String?
    var int8FragmentProbe: FragmentLayout?
}

struct Devices: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List every Vulkan device and its capabilities (cooperative-matrix table and self-test included).")
    @Option(help: "Only self-test this device (index or name substring); an unknown device is an error.") var device: String?
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let instance = try Instance(options: CLIValidation.instance)
        let best = try instance.select(nil)
        let selected = try device.map { try instance.select($0) }
        var reports: [DeviceReport] = []
        for d in instance.physicalDevices {
            var r = DeviceReport(index: d.index, capabilities: d.capabilities, default: d.index == best.index, selfTest: nil,
                                 tuningTable: TuningTable.forDevice(d.capabilities).name)
            if selected == nil || selected?.index == d.index, d.capabilities.cooperativeMatrix {
                // Self-test each device's cooperative matrices the way a real run would.
                let ctx = try QLinearContext(device: String(d.index), instance: CLIValidation.instance, int8Probe: DeviceOptions.int8Probe)
                r.selfTest = Dictionary(uniqueKeysWithValues: ctx.selfTest.map { ($0.key.rawValue, $0.value) })
                r.fragmentProbe = ctx.fragmentLayout
                r.fragmentLayout = ctx.fragmentLayout.map { $0.known?.rawValue ?? "unknown (not a layout any kernel is written for)" }
                    ?? ctx.fragmentProbeError.map { "not probed: \($0)" }
                r.int8FragmentProbe = ctx.int8FragmentLayout
                r.int8FragmentLayout = ctx.int8FragmentLayout.map { $0.knownInt8?.rawValue ?? "unknown (not a layout any kernel is written for)" }
                    ?? ctx.int8FragmentProbeError.map { "not probed: \($0)" }
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
            print("    float16 \(yn(c.shaderFloat16)), int8 \(yn(c.shaderInt8)), 16-bit storage \(yn(c.storageBuffer16Bit)), 8-bit storage \(yn(c.storageBuffer8Bit)), integer dot product \(yn(c.integerDotProduct))\(c.integerDotProduct4x8PackedAccelerated ? " (4x8 packed accelerated)" : ""), fp64 \(yn(c.shaderFloat64)), memory model \(yn(c.vulkanMemoryModel)), pipeline statistics \(yn(c.pipelineStatistics))")
            print("    tuning table: \(r.tuningTable)")
            if c.cooperativeMatrix {
                print("    cooperative matrix (VK_KHR_cooperative_matrix), \(c.coopMatConfigs.count) configurations:")
                print("      " + pad("M", 4) + pad("N", 4) + pad("K", 4) + pad("A", 6) + pad("B", 6) + pad("C", 6) + pad("result", 8) + "scope")
                for m in c.coopMatConfigs {
                    print("      " + pad(String(m.m), 4) + pad(String(m.n), 4) + pad(String(m.k), 4) + pad(m.a.rawValue, 6) + pad(m.b.rawValue, 6)
                          + pad(m.c.rawValue, 6) + pad(m.result.rawValue + (m.saturating ? "sat" : ""), 8) + (m.subgroupScope ? "subgroup" : "other"))
                }
                for (fam, res) in (r.selfTest ?? [:]).sorted(by: { $0.key < $1.key }) { print("    self-test \(fam) cooperative matrices: \(res)") }
                if let f = r.fragmentLayout { print("    fragment layout (16×8×16 f16): \(f)") }
                if let f = r.int8FragmentLayout { print("    fragment layout (16×8×32 s8): \(f)") }
            } else {
                print("    cooperative matrix: not supported (tiled and matrix–vector kernels only)")
            }
        }
    }
}

struct ExplainReport: Codable {
    var device: String
    var problem: Problem
    var chosen: KernelPlan?
    var why: [String]
    var candidates: [String: String]
    var tuningTable: String
    /// `--stats`: the chosen kernel's pipeline statistics (driver-defined), or why there are none.
    var statistics: [PipelineExecutableStatistics]?
    var statisticsUnavailable: String?
}

struct Explain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show which kernel the dispatcher picks for a problem, and why every other kernel was or was not possible.")
    @Option(help: "The op: \(Op.allCases.map(\.rawValue).joined(separator: ", ")).") var op: Op
    @Option(help: "The problem shape MxNxK.") var shape: Shape
    @Option(help: "INT4 group size along K.") var group = 128
    @Option(help: "Activation / output dtype: f16 or f32.") var act: DType = .f16
    @Flag(help: "The layer has a bias.") var bias = false
    @OptionGroup var dev: DeviceOptions
    @Flag(help: "Print JSON.") var json = false
    @Flag(help: "Also print the chosen kernel's pipeline statistics as the driver reports them (VK_KHR_pipeline_executable_properties: registers and spills on NVIDIA, instruction counts on Mesa); a device without the extension says so.")
    var stats = false

    func validate() throws {
        if group < 8 || group % 8 != 0 { throw ValidationError("--group must be a positive multiple of 8, got \(group)") }
    }

    func run() throws {
        let p = Problem(op: op, m: shape.m, n: shape.n, k: shape.k, groupSize: group, act: act, bias: bias)
        try p.validate()
        let ctx = try dev.open()
        // Device limits (buffer range, memory) before the dispatcher: a problem that cannot be
        // allocated has no kernel, and the error says which buffer is too large.
        try p.validate(for: ctx.capabilities)
        let d = ctx.decide(p)
        var cands: [String: String] = [:]
        for (kind, r) in d.candidates {
            switch r {
            case .success(let plan): cands[kind.rawValue] = "possible: \(plan.shader.rawValue), \(plan.tile)"
            case .failure(let why): cands[kind.rawValue] = "not possible: \(why.reason)"
            }
        }
        // Statistics: a device without the extension is a note, not a failure; a query that fails
        // on a device with it is an error.
        var statistics: [PipelineExecutableStatistics]?, unavailable: String?
        if stats, let plan = d.chosen {
            if ctx.capabilities.pipelineStatistics {
                statistics = try ctx.statistics(for: plan)
            } else {
                unavailable = "\(ctx.capabilities.name) does not offer VK_KHR_pipeline_executable_properties (pipelineExecutableInfo)"
            }
        }
        if json {
            print(try jsonString(ExplainReport(device: ctx.capabilities.name, problem: p, chosen: d.chosen, why: d.why, candidates: cands,
                                               tuningTable: ctx.tuningTable.name, statistics: statistics, statisticsUnavailable: unavailable)))
        } else {
            print("device: \(ctx.capabilities.name) (tuning table \(ctx.tuningTable.name))")
            print("problem: \(p)")
            if let c = d.chosen {
                print("chosen: \(c.kernel.rawValue) — \(c.shader.rawValue)\(c.quantShader.map { " (after \($0.rawValue))" } ?? ""), \(c.tile)")
                for r in c.reasons { print("  - \(r)") }
            } else {
                print("chosen: none")
            }
            print("decision: \(d.why.joined(separator: "; "))")
            for kind in KernelKind.allCases { print("  \(kind.rawValue): \(cands[kind.rawValue] ?? "")") }
            if let unavailable { print("statistics: not available — \(unavailable)") }
            if let statistics, let c = d.chosen {
                print("statistics of \(c.shader.rawValue) (driver-defined names and values):")
                if statistics.isEmpty { print("  (the driver reports no executables)") }
                for e in statistics {
                    print("  executable \"\(e.name)\"\(e.subgroupSize > 0 ? ", subgroup \(e.subgroupSize)" : "")\(e.description.isEmpty ? "" : " — \(e.description)")")
                    let width = e.statistics.map(\.name.count).max() ?? 0
                    for s in e.statistics {
                        print("    \(pad(s.name, width + 2))\(pad(s.value.description, 10))\(s.description)")
                    }
                }
            }
        }
        if d.chosen == nil { throw CLIFailure("no kernel can run this problem on this device") }
    }
}
