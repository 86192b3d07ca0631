import Testing
import Foundation
@testable import QLinear
import VulkanRuntime

/// Pipeline statistics (VK_KHR_pipeline_executable_properties). lavapipe does not offer the
/// extension: there the tests check the clean "unsupported" errors; on a device that does (NVIDIA,
/// RADV) they check that statistics come back.
@Suite("Pipeline statistics")
struct PipelineStatisticsTests {
    static func plan(_ ctx: QLinearContext) throws -> KernelPlan {
        try #require(ctx.decide(Problem(op: .fp16, m: 64, n: 64, k: 64, act: .f16)).chosen)
    }

    static func unsupportedReason(_ body: () throws -> Any) -> String? {
        do {
            _ = try body()
        } catch let VulkanError.unsupported(why) {
            return why
        } catch {
            Issue.record("expected VulkanError.unsupported, got \(error)")
        }
        return nil
    }

    @Test("the plan's pipeline statistics come back, or the device says it does not offer them")
    func planStatistics() throws {
        let ctx = try Shared.ctx()
        let plan = try Self.plan(ctx)
        if ctx.capabilities.pipelineStatistics {
            #expect(ctx.device.enabled.pipelineStatistics)
            let execs = try ctx.statistics(for: plan)
            #expect(!execs.isEmpty)
            #expect(execs.contains { !$0.statistics.isEmpty })
            #expect(execs.allSatisfy { e in e.statistics.allSatisfy { !$0.name.isEmpty } })
            let summary = try #require(try ctx.statisticsSummary(for: plan))
            #expect(!summary.isEmpty)
            // Captured pipelines are cached apart from the ones dispatch uses.
            let captured = try ctx.pipelines.pipeline(for: plan, captureStatistics: true)
            #expect(captured.capturesStatistics)
            #expect(try ctx.pipelines.pipeline(for: plan, captureStatistics: true) === captured)
            #expect(try ctx.pipelines.pipeline(for: plan) !== captured)
        } else {
            #expect(!ctx.device.enabled.pipelineStatistics)
            let why = try #require(Self.unsupportedReason { try ctx.statistics(for: plan) })
            #expect(why.contains("VK_KHR_pipeline_executable_properties") && why.contains(ctx.capabilities.name), "\(why)")
            #expect(try ctx.statisticsSummary(for: plan) == nil)
            // Asking for capture directly is the same clean error.
            let sig = plan.shader.signature
            let direct = Self.unsupportedReason {
                try ComputePipeline(device: ctx.device, name: "probe", spirv: plan.shader.spirv, bindings: sig.bindings.count,
                                    pushConstantBytes: sig.pushConstantBytes,
                                    specialization: try sig.specialization(plan.tile.specValues), captureStatistics: true)
            }
            #expect(direct?.contains("VK_KHR_pipeline_executable_properties") == true)
        }
    }

    @Test("a pipeline created without capture refuses statistics, never traps")
    func withoutCapture() throws {
        let ctx = try Shared.ctx()
        let pipe = try ctx.pipelines.pipeline(for: try Self.plan(ctx))
        #expect(!pipe.capturesStatistics)
        let why = try #require(Self.unsupportedReason { try pipe.statistics() })
        #expect(why.contains(ctx.capabilities.pipelineStatistics ? "without captureStatistics" : "VK_KHR_pipeline_executable_properties"), "\(why)")
    }

    @Test("capabilities JSON written before the key existed still decodes, as absent")
    func olderCapabilitiesJSON() throws {
        var c = h100Caps()
        #expect(!c.pipelineStatistics)
        c.pipelineStatisticsSupport = true
        let data = try JSONEncoder().encode(c)
        #expect(try JSONDecoder().decode(Capabilities.self, from: data).pipelineStatistics)
        var obj = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(obj.removeValue(forKey: "pipelineStatisticsSupport") as? Bool == true)
        let old = try JSONDecoder().decode(Capabilities.self, from: try JSONSerialization.data(withJSONObject: obj))
        #expect(!old.pipelineStatistics)
        #expect(old.name == c.name)
    }

    @Test("statistics keep their format through JSON")
    func statisticJSON() throws {
        let e = PipelineExecutableStatistics(name: "Compute", description: "compute shader", subgroupSize: 32, statistics: [
            PipelineStatistic(name: "Registers", description: "registers per thread", value: .uint(40)),
            PipelineStatistic(name: "Delta", description: "signed", value: .int(-3)),
            PipelineStatistic(name: "Occupancy", description: "fraction", value: .float(0.75)),
            PipelineStatistic(name: "Spills", description: "any spill", value: .bool(false)),
        ])
        let data = try JSONEncoder().encode(e)
        #expect(try JSONDecoder().decode(PipelineExecutableStatistics.self, from: data) == e)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains("\"format\":\"uint64\"") && text.contains("\"value\":40"), "\(text)")
        #expect(e.statistic("registers")?.value.number == 40)
        #expect(PipelineExecutableStatistics.summary([e]) == ["Registers": 40, "Delta": -3, "Occupancy": 0.75, "Spills": 0])
        #expect(PipelineExecutableStatistics.summary([e, e]).keys.contains("Compute: Registers"))
        let bad = Data(#"{"name":"x","description":"","format":"int128","value":1}"#.utf8)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(PipelineStatistic.self, from: bad) }
    }
}
