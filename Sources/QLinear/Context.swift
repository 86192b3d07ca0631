
/// An open device ready to run QLinear kernels: the Vulkan device, the dispatch options (with the
/// cooperative-matrix self-test results) and a cache of pipelines.
///
/// Thread safety: a context may be shared by many tasks; pipeline creation is serialised by a
/// lock and queue submission by the device's lock.
public final class QLinearContext: @unchecked Sendable {
    public let device: Device
    /// Dispatch options in force (the caller's, plus any cooperative-matrix family the self-test fenced off).
    public let options: DispatchOptions
    /// Self-test outcome per cooperative-matrix family; absent = not run (unsupported or disabled).
    public let selfTest: [CoopMatFamily: String]
    /// The cooperative-matrix fragment layout the self-test probed (nil: not probed, or the device
    /// has no 16×8×16 f16 matrices; `fragmentProbeError` says why). Kernels that build fragments in
    /// registers run only where `fragmentLayout?.known` matches theirs (`DispatchOptions.fragmentLayout`).
    public let fragmentLayout: FragmentLayout?
    public let fragmentProbeError: String?
    /// The int8 fragment layout the self-test probed (16×8×32 s8; nil: not probed or not
    /// available, `int8FragmentProbeError` says why): `DispatchOptions.int8FragmentLayout`.
    public let int8FragmentLayout: FragmentLayout?
    public let int8FragmentProbeError: String?
    let pipelines: PipelineCache

    public var capabilities: Capabilities { device.capabilities }
    /// The validation layers' log, when the context was opened with validation.
    public var validation: ValidationLog? { device.instance.validation }

    /// Opens `selector` (device index or name substring; nil = the best device) and, unless
    /// `selfTest` is false, checks each cooperative-matrix type family on a small problem against
    /// a CPU computation: a family that returns wrong answers is disabled, with the reason kept.
    /// The library reads no environment variables; the CLI maps QLINEAR_DEVICE and friends here
    /// (and QLINEAR_VALIDATION=1 to `instance: InstanceOptions(validation: log)`).
    /// `int8Probe` false skips the int8 fragment probe (a driver whose compiler fails on it):
    /// `gemm_frag_i8` then never runs.
    public init(device selector: String? = nil, options: DispatchOptions = DispatchOptions(), selfTest: Bool = true,
                instance: InstanceOptions = InstanceOptions(), int8Probe: Bool = true) throws {
        self.device = try Device.open(selector, instance: instance)
        self.pipelines = PipelineCache(device: device)
        if selfTest && !options.disableCoopMat {
            let (results, fenced) = SelfTest.run(device: device, pipelines: pipelines, options: options)
            var o = options
            for (f, why) in fenced { o.brokenCoopMat[f] = why }
            var layout: FragmentLayout?, probeError: String?
            do {
                layout = try FragmentLayout.probe(QLinearContext(unchecked: device, pipelines: pipelines, options: o))
            } catch {
                probeError = "\(error)"
            }
            var layout8: FragmentLayout?, probeError8: String?
            if !int8Probe {
                probeError8 = "skipped by the caller"
            } else if o.brokenCoopMat[.s8] == nil {
                do {
                    layout8 = try FragmentLayout.probeInt8(QLinearContext(unchecked: device, pipelines: pipelines, options: o))
                } catch {
                    probeError8 = "\(error)"
                }
            } else {
                probeError8 = "s8 cooperative matrices failed the self-test"
            }
            o.fragmentLayout = layout?.known
            o.int8FragmentLayout = layout8?.knownInt8
            self.options = o
            self.selfTest = results
            self.fragmentLayout = layout; self.fragmentProbeError = probeError
            self.int8FragmentLayout = layout8; self.int8FragmentProbeError = probeError8
        } else {
            var o = options
            o.fragmentLayout = nil
            o.int8FragmentLayout = nil
            self.options = o
            self.selfTest = [:]
            let why = selfTest ? "cooperative matrices disabled" : "self-test not run"
            self.fragmentLayout = nil; self.fragmentProbeError = why
            self.int8FragmentLayout = nil; self.int8FragmentProbeError = why
        }
    }

    init(unchecked device: Device, pipelines: PipelineCache, options: DispatchOptions) {
        self.device = device; self.pipelines = pipelines; self.options = options; self.selfTest = [:]
        self.fragmentLayout = nil; self.fragmentProbeError = "self-test not run"
        self.int8FragmentLayout = nil; self.int8FragmentProbeError = "self-test not run"
    }

    /// The dispatcher's decision for `p` on this device with this context's options.
    public func decide(_ p: Problem, force: KernelKind? = nil) -> DispatchDecision {
        Dispatcher.decide(p, caps: capabilities, options: options, force: force)
    }

    /// A pipeline for any compiled variant with its specialization constants by name (probes,
    /// tuning, custom dispatch). Cached.
    public func pipeline(_ shader: ShaderID, specialization values: [String: Int], requiredSubgroupSize: Int? = nil,
                         fullSubgroups: Bool = false) throws -> ComputePipeline {
        try pipelines.pipeline(shader, values: values, requiredSubgroupSize: requiredSubgroupSize, fullSubgroups: fullSubgroups)
    }

    /// The driver's compile statistics (VK_KHR_pipeline_executable_properties) of the pipeline that
    /// runs `plan`'s main kernel: the same shader, specialization constants and subgroup size,
    /// compiled once more with statistics capture (cached; the pipeline dispatch uses is not
    /// touched). Names and values are driver-defined: NVIDIA reports registers and spills, Mesa
    /// instruction counts. Throws `VulkanError.unsupported` when the device cannot report them
    /// (`capabilities.pipelineStatistics` is false), e.g. on lavapipe.
    public func statistics(for plan: KernelPlan) throws -> [PipelineExecutableStatistics] {
        try pipelines.pipeline(for: plan, captureStatistics: true).statistics()
    }

    /// `statistics(for:)` of any compiled variant, with its specialization constants by name (as
    /// `pipeline(_:specialization:…)` takes them).
    public func statistics(_ shader: ShaderID, specialization values: [String: Int], requiredSubgroupSize: Int? = nil,
                           fullSubgroups: Bool = false) throws -> [PipelineExecutableStatistics] {
        try pipelines.pipeline(shader, values: values, requiredSubgroupSize: requiredSubgroupSize, fullSubgroups: fullSubgroups,
                               captureStatistics: true).statistics()
    }

    /// Statistics for reports (the tuner's measurements, say): name → value, prefixed with
    /// "executable name: " when the pipeline has several executables. nil when the device cannot
    /// report statistics; errors of a device that can are thrown.
    public func statisticsSummary(for plan: KernelPlan) throws -> [String: Double]? {
        guard capabilities.pipelineStatistics else { return nil }
        return PipelineExecutableStatistics.summary(try statistics(for: plan))
    }

    /// The tuning table the dispatcher uses on this device.
    public var tuningTable: TuningTable { options.tuning ?? TuningTable.forDevice(capabilities) }
}

/// Compiled pipelines keyed by (variant, specialization, subgroup size, full subgroups, statistics
/// capture). Pipelines are immutable once built; the cache only grows. Dispatch never asks for
/// statistics capture: a pipeline made for `QLinearContext.statistics(for:)` is a second, separate
/// entry, so the pipelines that run keep their usual creation flags.
final class PipelineCache: @unchecked Sendable {
    let device: Device
    private let cache = Locked<[String: ComputePipeline]>([:])
    init(device: Device) { self.device = device }

    /// The pipeline for `shader` with the specialization constants it declares taken from `values`.
    func pipeline(_ shader: ShaderID, values: [String: Int], requiredSubgroupSize: Int?, fullSubgroups: Bool,
                  captureStatistics: Bool = false) throws -> ComputePipeline {
        let sig = shader.signature
        let spec = try sig.specialization(values)
        let key = "\(shader.rawValue)|\(spec.map { "\($0.id)=\($0.value)" }.joined(separator: ","))|\(requiredSubgroupSize ?? 0)|\(fullSubgroups)"
            + (captureStatistics ? "|stats" : "")
        if let p = cache.withLock({ $0[key] }) { return p }
        let p = try ComputePipeline(device: device, name: shader.rawValue, spirv: shader.spirv, bindings: sig.bindings.count,
                                    pushConstantBytes: sig.pushConstantBytes, specialization: spec,
                                    requiredSubgroupSize: requiredSubgroupSize, requireFullSubgroups: fullSubgroups,
                                    captureStatistics: captureStatistics)
        cache.withLock { $0[key] = p }
        return p
    }

    /// The pipeline for a plan's main kernel (`captureStatistics`: the same pipeline created with
    /// statistics capture, cached apart).
    func pipeline(for plan: KernelPlan, captureStatistics: Bool = false) throws -> ComputePipeline {
        let t = plan.tile
        // A required subgroup size S limits the workgroup to S × maxComputeWorkgroupSubgroups
        // invocations (VUID-VkPipelineShaderStageCreateInfo-pNext-02756).
        let limit = device.capabilities.maxWorkgroupInvocations(requiredSubgroupSize: t.requireSubgroupSize ? t.subgroupSize : nil)
        guard t.workgroupSize <= limit else {
            throw QLinearError.unsupported("\(plan.shader.rawValue): \(t.workgroupSize)-invocation workgroups with the required subgroup size \(t.subgroupSize) exceed the device's \(limit) (subgroup size × maxComputeWorkgroupSubgroups)")
        }
        return try pipeline(plan.shader, values: t.specValues, requiredSubgroupSize: t.requireSubgroupSize ? t.subgroupSize : nil,
                            fullSubgroups: t.tm > 0 || plan.kernel == .gemv, captureStatistics: captureStatistics)
    }

    /// The activation-quantization pipeline for a plan's `quantThreads` and `quantChunks`.
    func quantPipeline(_ shader: ShaderID, threads: Int, chunks: Int) throws -> ComputePipeline {
        try pipeline(shader, values: ["WG": threads, "CPT": chunks], requiredSubgroupSize: nil, fullSubgroups: false)
    }
}

/// The activation-quantization pass's shape: one workgroup per row.
public enum QuantAct {
    /// Steps held in registers at most (8 values each: 32 floats per thread).
    public static let maxChunks = 4

    /// The largest power of two ≤ 1024 threads the device allows in one workgroup (Vulkan
    /// guarantees 128; the shader works for any size, its range reduction is per subgroup).
    static func maxThreads(_ caps: Capabilities) -> Int {
        var wg = 1024
        while wg > 1 && (wg > caps.maxWorkgroupInvocations || wg > caps.maxWorkgroupSize[0]) { wg /= 2 }
        return wg
    }

    /// Threads and register-held 8-value steps per thread for rows of `k` values under `rule`: the
    /// smallest power of two ≥ 64 that gives each thread at most `rule.stepsPerThread` steps, capped
    /// by `rule.maxThreads` and the device; the steps a thread holds in registers (≤ `maxChunks`;
    /// any beyond are loaded in a loop). `threads` forces the size (clamped to the device's limit;
    /// tests and `bench --quant-threads` use it).
    public static func config(k: Int, caps: Capabilities, rule: QuantRule = .standard, threads: Int? = nil) -> (threads: Int, chunks: Int) {
        let limit = maxThreads(caps)
        let steps = max(1, (k + 7) / 8)
        var wg: Int
        if let t = threads {
            wg = max(1, min(t, limit))
        } else {
            let per = max(1, rule.stepsPerThread)
            let cap = max(1, min(rule.maxThreads, limit))
            wg = 64
            // (per comes from a table file: the product is checked, not trapped on.)
            while wg < cap, case let (prod, over) = wg.multipliedReportingOverflow(by: per), !over, prod < steps { wg *= 2 }
            wg = min(wg, cap)
        }
        let chunks = min(maxChunks, (steps + wg - 1) / wg)
        return (wg, chunks)
    }

    /// The first rule of `table` that holds for `p` (with its index), else the standard one.
    public static func rule(for p: Problem, table: TuningTable) -> (rule: QuantRule, index: Int?) {
        for (i, r) in (table.quant ?? []).enumerated() where r.when?.holds(p) ?? true { return (r, i) }
        return (.standard, nil)
    }
}

enum SplitKReduce { static let workgroupSize = 256 }

extension PipelineCache {
    /// The split-K reduction pipeline (one invocation per output element).
    func reducePipeline(_ shader: ShaderID) throws -> ComputePipeline {
        try pipeline(shader, values: ["WG": SplitKReduce.workgroupSize], requiredSubgroupSize: nil, fullSubgroups: false)
    }
}
