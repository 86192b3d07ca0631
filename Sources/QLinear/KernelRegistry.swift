// The typed side of the kernel registry. The table itself (which variants exist, their families,
// grid rules and row limits, and each variant's bindings and constants) is generated into
// Generated/Registry.swift by scripts/build-shaders.py; this file declares the types it fills.

/// Weight storage a kernel variant reads.
public enum WeightFormat: String, Codable, Sendable, CaseIterable {
    /// fp16 [N, K].
    case f16
    /// INT4 group-symmetric (q4gsw).
    case q4
    /// INT8 per-channel symmetric (q8csw).
    case q8
}

/// Optional features a variant is compiled with.
public enum VariantFeature: String, Codable, Sendable, CaseIterable {
    /// Packed 4×8-bit integer dot products (SPV_KHR_integer_dot_product).
    case dot
    /// Activation quantization's x·(1/scale) + zp evaluated in fp64 (PyTorch's semantics).
    case fp64
}

/// Cooperative-matrix type families: the operand/accumulator types a kernel multiplies with.
public enum CoopMatFamily: String, Codable, Sendable, CaseIterable, CustomStringConvertible {
    /// f16 × f16 → f32.
    case f16
    /// s8 × s8 → s32.
    case s8
    public var description: String { self == .f16 ? "f16×f16→f32" : "s8×s8→s32" }
}

/// How a dispatch of a kernel family is sized.
public enum GridRule: String, Codable, Sendable {
    /// One workgroup per BM×BN output tile: (⌈N/BN⌉, ⌈M/BM⌉).
    case tiles
    /// One subgroup per output column, `columnsPerWorkgroup` columns per workgroup: (⌈N/cols⌉, 1).
    case columns
    /// One workgroup per row of M: (M, 1).
    case rows
    /// One invocation per output element (M·N), workgroups over a 2-D grid.
    case elements
    /// Sized by the caller (probes).
    case fixed
}

/// A typed name for one compiled variant.
public struct VariantKey: Hashable, Sendable, Codable, CustomStringConvertible {
    public var family: KernelFamily
    public var weight: WeightFormat?
    public var act: DType?
    public var mma: CoopMatFamily?
    public var features: Set<VariantFeature>

    public init(family: KernelFamily, weight: WeightFormat? = nil, act: DType? = nil, mma: CoopMatFamily? = nil, features: Set<VariantFeature> = []) {
        self.family = family; self.weight = weight; self.act = act; self.mma = mma; self.features = features
    }

    public var description: String {
        var parts = [family.rawValue]
        if let weight { parts.append("weight \(weight.rawValue)") }
        if let act { parts.append("act \(act.rawValue)") }
        if let mma { parts.append("mma \(mma.rawValue)") }
        parts += features.map(\.rawValue).sorted()
        return parts.joined(separator: ", ")
    }
}

extension ShaderID {
    /// The variant compiled for `key`, or nil when the variant table has no such combination.
    public static func lookup(_ key: VariantKey) -> ShaderID? { VariantKey.table[key] }
}

/// The host contract of a kernel variant, read from its GLSL by the generator.
public struct KernelSignature: Sendable {
    public struct Binding: Sendable, Hashable {
        public enum Access: String, Sendable { case readonly, writeonly, readwrite }
        public let index: Int
        /// The GLSL block name (what the host binds by).
        public let block: String
        /// The element type of the runtime array, as GLSL spells it for this variant.
        public let element: String
        public let access: Access
    }
    public struct SpecConstant: Sendable, Hashable {
        public let id: Int
        public let name: String
        public let defaultValue: Int
    }
    public let family: KernelFamily
    public let bindings: [Binding]
    public let pushConstantBytes: Int
    public let specConstants: [SpecConstant]
    /// The specialization constant that sets local_size_x, if any.
    public let workgroupSizeConstant: String?

    /// The binding index of `block`, or a thrown error naming what the variant has.
    public func binding(_ block: String) throws -> Int {
        guard let b = bindings.first(where: { $0.block == block }) else {
            throw QLinearError.unsupported("\(family.rawValue) has no binding \(block) (has \(bindings.map(\.block).joined(separator: ", ")))")
        }
        return b.index
    }

    /// Specialization values for every constant this variant declares, taken from `values` by
    /// name. A declared constant missing from `values` is an error (the host would otherwise run
    /// the shader with its compiled-in default silently).
    public func specialization(_ values: [String: Int]) throws -> [(id: UInt32, value: UInt32)] {
        try specConstants.map { c in
            guard let v = values[c.name] else {
                throw QLinearError.unsupported("\(family.rawValue): no value for specialization constant \(c.name) (id \(c.id))")
            }
            guard let u = UInt32(exactly: v) else {
                throw QLinearError.invalidShape("\(family.rawValue): specialization constant \(c.name) = \(v) is not a 32-bit unsigned value")
            }
            return (UInt32(c.id), u)
        }
    }
}

extension ShaderID {
    /// SPIR-V words decoded from the embedded base64.
    var spirv: [UInt32] { spirvWords(base64: base64) }
}
