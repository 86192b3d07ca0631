import VulkanRuntime

/// Storage type of activations, outputs and bias (weights have their own formats).
public enum DType: String, Codable, Sendable, CaseIterable {
    case f16, f32
    public var bytes: Int { self == .f16 ? 2 : 4 }
}

/// The linear-layer operations QLinear implements. All compute y = x·Wᵀ (+ bias).
public enum Op: String, Codable, Sendable, CaseIterable {
    /// fp16 weights, fp16/fp32 activations, fp32 accumulation.
    case fp16
    /// fp16/fp32 activations × INT4 group-symmetric weights.
    case q4gsw
    /// activations quantized per row on the GPU to int8 (asymmetric) × INT4 group-symmetric weights.
    case dq8ca_q4gsw
    /// int8 dynamic activations × INT8 per-channel symmetric weights.
    case dq8ca_q8csw

    public var usesGroups: Bool { self == .q4gsw || self == .dq8ca_q4gsw }
    public var quantizesActivations: Bool { self == .dq8ca_q4gsw || self == .dq8ca_q8csw }
}

/// Kernel families. Every op has a tiled kernel (any device), a cooperative-matrix kernel and a
/// matrix–vector kernel for decode batches (M ≤ 8).
public enum KernelKind: String, Codable, Sendable, CaseIterable {
    case tiled, coopmat, gemv
}

extension Op {
    /// The weight format this op reads.
    public var weightFormat: WeightFormat {
        switch self { case .fp16: return .f16; case .q4gsw, .dq8ca_q4gsw: return .q4; case .dq8ca_q8csw: return .q8 }
    }
    /// Whether the op multiplies floats (fp16 MMA / fp32 FMA) rather than int8.
    public var floatMath: Bool { self == .fp16 || self == .q4gsw }
    /// The cooperative-matrix type family the op's tensor-core kernel uses.
    public var coopMatFamily: CoopMatFamily { floatMath ? .f16 : .s8 }
}

/// Errors QLinear throws for bad input or an unusable device. Never a trap.
public enum QLinearError: Error, CustomStringConvertible, Sendable {
    case invalidShape(String)
    case invalidFormat(String)
    case nonFinite(String)
    case unsupported(String)
    case io(String)

    public var description: String {
        switch self {
        case .invalidShape(let s): return "invalid shape: \(s)"
        case .invalidFormat(let s): return "invalid format: \(s)"
        case .nonFinite(let s): return "non-finite input: \(s)"
        case .unsupported(let s): return "unsupported: \(s)"
        case .io(let s): return "I/O: \(s)"
        }
    }
}

/// One linear-layer problem: everything the dispatcher looks at besides the device.
public struct Problem: Codable, Sendable, Hashable, CustomStringConvertible {
    public var op: Op
    public var m: Int, n: Int, k: Int
    /// Group size along K for INT4 ops; 0 for the others (the initializer normalises it).
    public var groupSize: Int
    public var act: DType
    public var bias: Bool

    public init(op: Op, m: Int, n: Int, k: Int, groupSize: Int = 0, act: DType = .f16, bias: Bool = false) {
        self.op = op; self.m = m; self.n = n; self.k = k; self.act = act; self.bias = bias
        // Ops without groups carry 0, so a plan for (fp16, g = 128) equals the layer's (fp16, g = 0).
        self.groupSize = op.usesGroups ? groupSize : 0
    }

    public var description: String {
        "\(op.rawValue) M=\(m) N=\(n) K=\(k)\(op.usesGroups ? " g=\(groupSize)" : "") \(act.rawValue)\(bias ? " +bias" : "")"
    }

    /// Multiply-adds ×2.
    public var flops: Double { 2 * Double(m) * Double(n) * Double(k) }

    /// Checks the shape rules every kernel relies on; throws a clear error otherwise.
    public func validate() throws {
        guard m >= 1, n >= 1, k >= 1 else { throw QLinearError.invalidShape("M, N, K must be ≥ 1 (got \(m)×\(n)×\(k))") }
        let limit = 1 << 31
        func prod(_ a: Int, _ b: Int) -> Int { let (r, o) = a.multipliedReportingOverflow(by: b); return o ? Int.max : r }
        guard prod(m, k) < limit, prod(n, k) < limit, prod(m, n) < limit else {
            throw QLinearError.invalidShape("M·K, N·K and M·N must each be < 2^31 elements (got \(m)×\(n)×\(k))")
        }
        if op.usesGroups {
            guard groupSize >= 8, groupSize % 8 == 0 else {
                throw QLinearError.invalidShape("group size must be a positive multiple of 8 (got \(groupSize))")
            }
            guard k % groupSize == 0 else {
                throw QLinearError.invalidShape("K (\(k)) must be a multiple of the group size (\(groupSize))")
            }
        }
        if op.quantizesActivations {
            // int32 accumulation: |Σ qx·qw| ≤ 128·128·K must stay below 2^31.
            guard k <= 131_072 else { throw QLinearError.invalidShape("K = \(k) > 131072 would overflow int32 accumulation") }
        }
    }
}

extension Problem {
    /// Every GPU buffer a layer computing this problem binds, with its size in bytes (the packed
    /// weight layout of docs/DESIGN.md, activations padded to 16 bytes, int8 scratch for dq8ca),
    /// computed with overflow checks. Needs `validate()` to have passed for the sizes to be meaningful.
    public func bufferBytes() throws -> [(name: String, bytes: Int)] {
        var out: [(name: String, bytes: Int)] = []
        switch op.weightFormat {
        case .f16:
            out.append(("fp16 weights", try Checked.mul(try Checked.mul(n, try Checked.roundUp(k, 8, "fp16 row"), "N·ldw"), 2, "fp16 weight bytes")))
        case .q4:
            out.append(("INT4 weights", try Checked.mul(n, k / 2, "INT4 weight bytes")))
            let groups = try Checked.mul(n, k / Swift.max(groupSize, 1), "N·groups")
            out.append(("scales", try Checked.mul(groups, 4, "scale bytes")))
            out.append(("group sums", try Checked.mul(groups, 4, "group-sum bytes")))
            out.append(("corrections", try Checked.mul(n, 4, "correction bytes")))
        case .q8:
            out.append(("INT8 weights", try Checked.mul(n, try Checked.roundUp(k, 32, "INT8 row"), "INT8 weight bytes")))
            out.append(("scales", try Checked.mul(n, 4, "scale bytes")))
            out.append(("sums", try Checked.mul(n, 4, "sum bytes")))
            out.append(("corrections", try Checked.mul(n, 4, "correction bytes")))
        }
        out.append(("x", try Checked.roundUp(try Checked.mul(try Checked.mul(m, k, "M·K"), act.bytes, "activation bytes"), 16, "activation bytes")))
        out.append(("y", try Checked.mul(try Checked.mul(m, n, "M·N"), act.bytes, "output bytes")))
        if bias { out.append(("bias", try Checked.mul(n, act.bytes, "bias bytes"))) }
        if op.quantizesActivations {
            out.append(("int8 activations", try Checked.mul(m, try Checked.roundUp(k, 32, "Kp"), "int8 activation bytes")))
            out.append(("activation qparams", try Checked.mul(m, 8, "qparam bytes")))
        }
        return out
    }

    /// `validate()`, then the device's limits: every buffer within `maxStorageBufferRange` and all
    /// of them together within the device-local memory. Pure arithmetic on the capabilities, so
    /// callers (the dispatcher, `explain`, `bench`, `check`) run it before allocating anything.
    public func validate(for caps: Capabilities) throws {
        try validate()
        let sizes = try bufferBytes()
        for (name, bytes) in sizes where UInt64(bytes) > caps.maxStorageBufferRange {
            throw QLinearError.unsupported("\(self): buffer \(name) would be \(bytes) bytes, more than the device's maxStorageBufferRange (\(caps.maxStorageBufferRange) bytes)")
        }
        var total = 0
        for (_, bytes) in sizes { total = try Checked.add(total, bytes, "total buffer bytes") }
        if UInt64(total) > caps.deviceLocalMemoryBytes {
            throw QLinearError.unsupported("\(self): buffers need \(total) bytes in all, more than the device's \(caps.deviceLocalMemoryBytes) bytes of device-local memory")
        }
    }
}
