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
