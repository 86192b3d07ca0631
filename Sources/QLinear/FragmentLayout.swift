import VulkanRuntime

/// Which (row, column) element `i` of invocation `lane` holds in a subgroup-scope cooperative
/// matrix. VK_KHR_cooperative_matrix leaves this to the implementation; kernels that build their
/// fragments in registers (`gemv_frag`) are written for one layout and run only where the
/// device's self-test probe (`frag_probe.comp`) found exactly that layout.
public struct FragmentLayout: Sendable, Hashable, Codable {
    /// The layouts kernels are written for.
    public enum Known: String, Sendable, Hashable, Codable {
        /// NVIDIA's mma.m16n8k16 fragments (lane = 4g + t), elements in the order the H100's driver
        /// gives them (probed 2026-11-26): A (16×16 f16) element i at row g + 8·(i >> 2), column
        /// 2t + (i & 1) + 8·((i >> 1) & 1); B (16×8 f16)
        /// at row 2t + (i & 1) + 8·(i >> 1), column g; C (16×8 f32) at row g + 8·(i >> 1),
        /// column 2t + (i & 1).
        case mma16816
    }

    public var subgroupSize: Int
    /// Per matrix (A 16×16 f16, B 16×8 f16, C 16×8 f32): per lane (32), the flat index r·cols + c
    /// of each element it holds.
    public var a: [[Int]]
    public var b: [[Int]]
    public var c: [[Int]]

    /// The known layout this is, or nil.
    public var known: Known? {
        guard subgroupSize == 32, a.count == 32, b.count == 32, c.count == 32 else { return nil }
        for lane in 0..<32 {
            let g = lane >> 2, t = lane & 3
            let ea = (0..<8).map { i in (g + 8 * (i >> 2)) * 16 + 2 * t + (i & 1) + 8 * ((i >> 1) & 1) }
            let eb = (0..<4).map { i in (2 * t + (i & 1) + 8 * (i >> 1)) * 8 + g }
            let ec = (0..<4).map { i in (g + 8 * (i >> 1)) * 8 + 2 * t + (i & 1) }
            guard a[lane] == ea, b[lane] == eb, c[lane] == ec else { return nil }
        }
        return .mma16816
    }

    /// Decodes `frag_probe.comp`'s output words.
    public init(probeWords o: [UInt32]) throws {
        guard o.count >= 4 + 3 * 512 else { throw QLinearError.invalidFormat("fragment probe: \(o.count) words") }
        subgroupSize = Int(o[0])
        var mats: [[[Int]]] = []
        for j in 0..<3 {
            let len = Int(o[1 + j])
            guard len >= 0, len <= 16 else { throw QLinearError.invalidFormat("fragment probe: matrix \(j) has \(len) elements per invocation") }
            mats.append((0..<32).map { lane in (0..<len).map { i in Int(o[4 + j * 512 + lane * 16 + i]) } })
        }
        a = mats[0]; b = mats[1]; c = mats[2]
    }

    public init(subgroupSize: Int, a: [[Int]], b: [[Int]], c: [[Int]]) {
        self.subgroupSize = subgroupSize; self.a = a; self.b = b; self.c = c
    }

    /// The layout `mma16816` describes (tests, synthetic devices).
    public static var mma16816: FragmentLayout {
        let a = (0..<32).map { l in (0..<8).map { i in ((l >> 2) + 8 * (i >> 2)) * 16 + 2 * (l & 3) + (i & 1) + 8 * ((i >> 1) & 1) } }
        let b = (0..<32).map { l in (0..<4).map { i in (2 * (l & 3) + (i & 1) + 8 * (i >> 1)) * 8 + (l >> 2) } }
        let c = (0..<32).map { l in (0..<4).map { i in ((l >> 2) + 8 * (i >> 1)) * 8 + 2 * (l & 3) + (i & 1) } }
        return FragmentLayout(subgroupSize: 32, a: a, b: b, c: c)
    }

    /// Whether pipelines on this device run with 32-lane subgroups, as the probe and the kernels
    /// written for `mma16816` need: a size pipelines can require (32 within min…max), or a fixed
    /// 32 (min = max = 32; a SPIR-V 1.6 module may otherwise get any size in between).
    public static func runsAt32(_ caps: Capabilities) -> Bool {
        caps.canRequireSubgroupSize ? caps.minSubgroupSize <= 32 && caps.maxSubgroupSize >= 32
                                    : caps.subgroupSize == 32 && caps.minSubgroupSize == 32 && caps.maxSubgroupSize == 32
    }

    /// Dispatches a probe pipeline (`frag_probe.comp`'s output format, one subgroup's workgroup)
    /// into a buffer pre-filled with 0xFFFFFFFF and decodes what it wrote.
    static func run(_ pipe: ComputePipeline, on ctx: QLinearContext) throws -> FragmentLayout {
        let words = 4 + 3 * 512
        let out = try Buffer(device: ctx.device, size: words * 4, placement: .deviceLocal)
        let st = try CommandStream(device: ctx.device, maxDispatches: 2)
        try st.fill(out, size: words * 4, value: 0xFFFF_FFFF)
        try st.barrier()
        try st.dispatch(pipe, buffers: [BufferBinding(out)], push: [UInt32](repeating: 0, count: 8), groups: (1, 1, 1))
        try st.finish()
        try st.submitAndWait()
        return try FragmentLayout(probeWords: try out.read(as: UInt32.self, count: words))
    }

    /// Runs the probe on `ctx`'s device (needs 16×8×16 f16 → f32 cooperative matrices), with
    /// 32-lane subgroups where the device can run them (`runsAt32`), else at its default size.
    static func probe(_ ctx: QLinearContext) throws -> FragmentLayout {
        let caps = ctx.capabilities
        guard caps.cooperativeMatrix,
              caps.coopMatShapes(a: .f16, b: .f16, c: .f32, result: .f32).contains(where: { $0.m == 16 && $0.n == 8 && $0.k == 16 })
        else { throw VulkanError.unsupported("no 16×8×16 f16→f32 cooperative matrices") }
        let sgs = runsAt32(caps) ? 32 : caps.subgroupSize
        let pipe = try ctx.pipeline(.frag_probe, specialization: ["WG": sgs], requiredSubgroupSize: caps.canRequireSubgroupSize && runsAt32(caps) ? 32 : nil,
                                    fullSubgroups: true)
        return try run(pipe, on: ctx)
    }
}

extension FragmentLayout {
    /// The int8 layouts kernels are written for.
    public enum KnownInt8: String, Sendable, Hashable, Codable {
        /// NVIDIA's mma.m16n8k32 s8 fragments (lane = 4g + t) in the order analogous to
        /// `mma16816`'s: A (16×32 s8) element i at row g + 8·(i >> 3), column
        /// 4t + (i & 3) + 16·((i >> 2) & 1); C (16×8 s32) element i at row g + 8·(i >> 1), column
        /// 2t + (i & 1). B is not part of it: `gemm_i8.comp` loads B with coopMatLoad.
        case mma16832s8
    }

    /// With this probe read as the int8 one (`frag_probe_s8.comp`: A 16×32 s8, B 32×8 s8, C 16×8
    /// s32, flat indices r·cols + c): the known int8 layout it is, or nil.
    public var knownInt8: KnownInt8? {
        let ref = FragmentLayout.mma16832s8
        guard subgroupSize == 32, a == ref.a, c == ref.c else { return nil }
        return .mma16832s8
    }

    /// The int8 layout `mma16832s8` describes (tests, synthetic devices; B as PTX orders it, which
    /// `knownInt8` does not check).
    public static var mma16832s8: FragmentLayout {
        let a = (0..<32).map { l in (0..<16).map { i in ((l >> 2) + 8 * (i >> 3)) * 32 + 4 * (l & 3) + (i & 3) + 16 * ((i >> 2) & 1) } }
        let b = (0..<32).map { l in (0..<8).map { i in (4 * (l & 3) + (i & 3) + 16 * (i >> 2)) * 8 + (l >> 2) } }
        let c = (0..<32).map { l in (0..<4).map { i in ((l >> 2) + 8 * (i >> 1)) * 8 + 2 * (l & 3) + (i & 1) } }
        return FragmentLayout(subgroupSize: 32, a: a, b: b, c: c)
    }

    /// Runs the int8 probe on `ctx`'s device (needs 16×8×32 s8 → s32 cooperative matrices and
    /// 32-lane subgroups).
    static func probeInt8(_ ctx: QLinearContext) throws -> FragmentLayout {
        let caps = ctx.capabilities
        guard caps.cooperativeMatrix, caps.shaderInt8, runsAt32(caps),
              caps.coopMatShapes(a: .s8, b: .s8, c: .s32, result: .s32).contains(where: { $0.m == 16 && $0.n == 8 && $0.k == 32 })
        else { throw VulkanError.unsupported("no 16×8×32 s8→s32 cooperative matrices at 32 lanes") }
        let pipe = try ctx.pipeline(.frag_probe_s8, specialization: ["WG": 32], requiredSubgroupSize: caps.canRequireSubgroupSize ? 32 : nil,
                                    fullSubgroups: true)
        return try run(pipe, on: ctx)
    }
}

extension KernelFamily {
    /// The register-fragment families (`gemv_frag*`, `gemm_frag`): written for the probed
    /// `mma16816` layout, x-row tiles past TN rows.
    public var isRegisterFragment: Bool {
        switch self {
        case .gemvFrag, .gemvFragDq, .gemvFragDqf, .gemvFragDqfXs, .gemvFragDqs, .gemvFragXs, .gemvFragDqXs, .gemmFrag, .gemmFragDq, .gemmFragI8: return true
        default: return false
        }
    }
    /// The register-fragment family for an op that quantizes its activations (`dq`) or not, with
    /// the x rows staged per workgroup (`staged`) or loaded by each lane; `gemm`: the prefill form
    /// (`gemm_frag`; with `dq`, `gemm_frag_dq` — the dispatcher uses it for dq8ca_q4gsw only;
    /// with `int8`, dq8ca_q8csw's int8 form `gemm_frag_i8`); `fused` (with `dq`, the matrix–vector
    /// form): `gemv_frag_dqf` (`gemv_frag_dqf_xs` staged), the activation quantization inside the kernel;
    /// `sync` (with `dq`, the matrix–vector form, not staged): `gemv_frag_dqs`, the quantization by
    /// the quantization pass inside the dispatch.
    public static func registerFragment(dq: Bool, staged: Bool, gemm: Bool = false, int8: Bool = false, fused: Bool = false, sync: Bool = false) -> KernelFamily {
        sync && dq && !gemm && !staged ? .gemvFragDqs : gemm ? (int8 ? .gemmFragI8 : dq ? .gemmFragDq : .gemmFrag) : staged ? (dq ? (fused ? .gemvFragDqfXs : .gemvFragDqXs) : .gemvFragXs) : (dq ? (fused ? .gemvFragDqf : .gemvFragDq) : .gemvFrag)
    }
    /// Whether this family quantizes the activations itself (no quantization pass before it).
    public var quantizesInKernel: Bool { self == .gemvDq || self == .gemvFragDqf || self == .gemvFragDqfXs || self == .gemvFragDqs }
    /// Whether this family's workgroups synchronise through the layer scratch's counters
    /// (`gemv_frag_dqs`: binding `SyncBuf`).
    public var usesSyncCounters: Bool { self == .gemvFragDqs }
    /// Whether this register-fragment family stages its x rows per workgroup (XSMEM).
    public var stagesX: Bool { self == .gemvFragXs || self == .gemvFragDqXs || self == .gemvFragDqfXs }
    /// The prefill form of the register-fragment kernel (`gemm_frag`, `gemm_frag_dq`, `gemm_frag_i8`).
    public var isPrefillForm: Bool { self == .gemmFrag || self == .gemmFragDq || self == .gemmFragI8 }
    /// The int8-MMA prefill form (`gemm_frag_i8`: dq8ca_q8csw, and dq8ca_q4gsw where configured):
    /// written for the probed int8 layout.
    public var usesInt8Fragments: Bool { self == .gemmFragI8 }
}
