#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import VulkanRuntime

/// Tile configuration handed to a kernel as specialization constants.
public struct TileConfig: Codable, Sendable, Hashable, CustomStringConvertible {
    public var bm: Int, bn: Int, bk: Int
    public var workgroupSize: Int
    /// Cooperative-matrix kernels: subgroup grid and MMA shape (0 for tiled kernels).
    public var wm: Int = 0, wn: Int = 0
    public var tm: Int = 0, tn: Int = 0, tk: Int = 0
    /// Subgroup size the kernel is built for, and whether the pipeline requires it.
    public var subgroupSize: Int = 0
    public var requireSubgroupSize: Bool = false

    public var description: String {
        var s = "tile \(bm)x\(bn)x\(bk), \(workgroupSize) threads"
        if tm > 0 { s += ", \(wm)x\(wn) subgroups of \(subgroupSize)\(requireSubgroupSize ? " (required)" : ""), MMA \(tm)x\(tn)x\(tk)" }
        return s
    }

    /// Specialization constants in the order the shaders declare them (ids 0…).
    var specialization: [UInt32] {
        if tm == 0 { return [bm, bn, bk, workgroupSize].map(UInt32.init) }
        return [bm, bn, bk, workgroupSize, wm, wn, tm, tn, tk, subgroupSize].map(UInt32.init)
    }

    func sharedBytes(kind: KernelKind, op: Op) -> Int {
        switch (kind, op) {
        case (.tiled, .fp16), (.tiled, .q4gsw): return (bm + bn) * bk * 4
        case (.tiled, _): return (bm + bn) * (bk / 4) * 4
        case (.coopmat, .fp16), (.coopmat, .q4gsw): return (bm + bn) * (bk + 8) * 2 + (wm * wn) * tm * tn * 4
        case (.coopmat, _): return (bm + bn) * (bk + 16) + tm * bn * 4 + (wm * wn) * tm * tn * 4
        case (.gemv, _): return 0
        }
    }
}

/// What the dispatcher decided for one kernel kind: a runnable plan, or why not.
public struct KernelPlan: Codable, Sendable, Hashable {
    public var kernel: KernelKind
    public var shader: ShaderID
    /// The activation-quantization kernel that runs first (dq8ca ops).
    public var quantShader: ShaderID?
    public var tile: TileConfig
    /// Human-readable reasons for this plan (what was checked and found).
    public var reasons: [String]

    /// Whether the activation-quantization pass evaluates x·(1/scale) + zp in fp64 (PyTorch's way).
    public var quantizesInFP64: Bool { quantShader?.rawValue.hasPrefix("quant_act_f64") ?? false }
}

extension ShaderID: Codable {}

/// Options that change dispatch without changing the device.
public struct DispatchOptions: Sendable, Hashable {
    /// Never use cooperative matrices (QLINEAR_DISABLE_COOPMAT=1, --no-coopmat).
    public var disableCoopMat: Bool = false
    /// Cooperative-matrix type families the device self-test found broken ("f16", "s8"), with why.
    public var brokenCoopMat: [String: String] = [:]

    public init(disableCoopMat: Bool = false, brokenCoopMat: [String: String] = [:]) {
        self.disableCoopMat = disableCoopMat; self.brokenCoopMat = brokenCoopMat
    }

    /// Reads QLINEAR_DISABLE_COOPMAT from the environment.
    public static func fromEnvironment() -> DispatchOptions {
        var o = DispatchOptions()
        if let v = getenvString("QLINEAR_DISABLE_COOPMAT"), !v.isEmpty, v != "0" { o.disableCoopMat = true }
        return o
    }
}

/// The outcome of dispatch for one problem: the chosen plan, and for every kernel kind either its
/// plan or the reason it cannot run.
public struct DispatchDecision: Sendable {
    public var problem: Problem
    public var chosen: KernelPlan?
    public var candidates: [KernelKind: Result<KernelPlan, DispatchRejection>]
    public var why: [String]
}

public struct DispatchRejection: Error, Sendable, Hashable, Codable { public var reason: String }

/// A pure function of (problem, device capabilities, options) → kernel plan, with reasons.
/// Capabilities are what the driver reported; nothing is inferred from vendor names.
public enum Dispatcher {
    public static func decide(_ p: Problem, caps: Capabilities, options: DispatchOptions = DispatchOptions(),
                              force: KernelKind? = nil) -> DispatchDecision {
        var cands: [KernelKind: Result<KernelPlan, DispatchRejection>] = [:]
        for kind in KernelKind.allCases { cands[kind] = plan(kind, p, caps: caps, options: options) }
        var why: [String] = []
        var chosen: KernelPlan?
        if let force {
            switch cands[force]! {
            case .success(let plan): chosen = plan; why.append("\(force.rawValue) forced by the caller")
            case .failure(let r): why.append("\(force.rawValue) forced but cannot run: \(r.reason)")
            }
        } else {
            // Preference: matrix–vector for decode batches, cooperative matrix (tensor cores), tiled.
            for kind in [KernelKind.gemv, .coopmat, .tiled] {
                switch cands[kind]! {
                case .success(let plan):
                    if chosen == nil { chosen = plan; why.append("chose \(kind.rawValue)") }
                case .failure(let r):
                    if chosen == nil { why.append("\(kind.rawValue) not possible: \(r.reason)") }
                }
            }
        }
        return DispatchDecision(problem: p, chosen: chosen, candidates: cands, why: why)
    }

    /// Plan for one kernel kind, or why it cannot run.
    public static func plan(_ kind: KernelKind, _ p: Problem, caps: Capabilities, options: DispatchOptions = DispatchOptions()) -> Result<KernelPlan, DispatchRejection> {
        func no(_ s: String) -> Result<KernelPlan, DispatchRejection> { .failure(DispatchRejection(reason: s)) }
        do { try p.validate() } catch { return no("\(error)") }
        let needs16 = p.act == .f16 || p.op == .fp16
        if needs16 && !(caps.shaderFloat16 && caps.storageBuffer16Bit) {
            return no("fp16 data needs shaderFloat16 and storageBuffer16BitAccess, which the device lacks")
        }
        let floatMath = p.op == .fp16 || p.op == .q4gsw
        let weightTag = p.op == .fp16 ? "f16" : (p.op == .dq8ca_q8csw ? "q8" : "q4")
        let act = p.act.rawValue
        let quant: ShaderID? = p.op.quantizesActivations
            ? ShaderID(rawValue: caps.shaderFloat64 ? "quant_act_f64_\(act)" : "quant_act_\(act)") : nil
        var reasons: [String] = []
        if p.op.quantizesActivations {
            reasons.append(caps.shaderFloat64 ? "activations quantized with PyTorch's fp64 x·(1/scale) + zp"
                                              : "no shaderFloat64: activations quantized in fp32 (may differ from PyTorch by one step on near-ties)")
        }

        switch kind {
        case .gemv:
            if p.m > 8 { return no("M = \(p.m) > 8: matrix–vector kernel is for decode batches") }
            if !caps.subgroupArithmetic { return no("device lacks subgroup arithmetic in compute shaders") }
            if p.op == .dq8ca_q4gsw && p.groupSize % 32 != 0 { return no("group size \(p.groupSize) is not a multiple of the 32-value chunk") }
            let sgs = caps.subgroupSize
            let wg = 4 * sgs
            if wg > caps.maxWorkgroupInvocations { return no("\(wg)-invocation workgroups exceed the device's \(caps.maxWorkgroupInvocations)") }
            var t = TileConfig(bm: 8, bn: 4, bk: 0, workgroupSize: wg)
            t.subgroupSize = sgs
            t.requireSubgroupSize = caps.canRequireSubgroupSize
            let shader: ShaderID
            if floatMath {
                shader = ShaderID(rawValue: "gemv_float_\(weightTag)_\(act)")!
                reasons.append("one subgroup per output column, 16-byte weight loads, fp32 sums, subgroup reduction")
            } else {
                let dot = caps.integerDotProduct
                shader = ShaderID(rawValue: dot ? "gemv_int_dot_\(weightTag)_\(act)" : "gemv_int_\(weightTag)_\(act)")!
                reasons.append("one subgroup per output column, int8 dot products per 32-value chunk\(dot ? " (packed dot product)" : "")")
            }
            reasons.append("\(p.m) row(s), 4 columns per workgroup of \(wg)")
            return .success(KernelPlan(kernel: .gemv, shader: shader, quantShader: quant, tile: t, reasons: reasons))
        case .tiled:
            let big = caps.maxWorkgroupInvocations >= 256
            var t = TileConfig(bm: big ? 64 : 32, bn: 64, bk: 16, workgroupSize: big ? 256 : 128)
            reasons.append(big ? "256-thread workgroups" : "device allows only \(caps.maxWorkgroupInvocations) invocations: 128-thread workgroups")
            let shader: ShaderID
            if floatMath {
                shader = ShaderID(rawValue: "tiled_float_\(weightTag)_\(act)")!
                reasons.append("fp32 accumulation")
            } else {
                // K step must divide the group so integer sums can be folded per group.
                let g = p.op == .dq8ca_q4gsw ? p.groupSize : 32
                t.bk = [32, 16, 8].first { g % $0 == 0 }!
                let dot = caps.integerDotProduct
                shader = ShaderID(rawValue: dot ? "tiled_int_dot_\(weightTag)_\(act)" : "tiled_int_\(weightTag)_\(act)")!
                reasons.append(dot ? "packed 4x8-bit dot product (SPV_KHR_integer_dot_product\(caps.integerDotProduct4x8PackedAccelerated ? ", accelerated" : ", not reported accelerated"))"
                                   : "no integer dot product: plain int8 multiply-adds")
                reasons.append("int32 accumulation, K step \(t.bk)")
            }
            if t.sharedBytes(kind: .tiled, op: p.op) > caps.sharedMemoryBytes {
                return no("tiled kernel needs \(t.sharedBytes(kind: .tiled, op: p.op)) bytes of shared memory, device has \(caps.sharedMemoryBytes)")
            }
            return .success(KernelPlan(kernel: .tiled, shader: shader, quantShader: quant, tile: t, reasons: reasons))

        case .coopmat:
            if options.disableCoopMat { return no("disabled (QLINEAR_DISABLE_COOPMAT / --no-coopmat)") }
            if !caps.cooperativeMatrix { return no("device does not support VK_KHR_cooperative_matrix") }
            if !caps.vulkanMemoryModel { return no("device lacks vulkanMemoryModel, which cooperative-matrix shaders need") }
            let family = floatMath ? "f16" : "s8"
            if let broken = options.brokenCoopMat[family] { return no("\(family) cooperative matrices failed the device self-test: \(broken)") }
            if !floatMath && !caps.shaderInt8 { return no("int8 cooperative matrices need shaderInt8") }
            let shapes = floatMath ? caps.coopMatShapes(a: .f16, b: .f16, c: .f32, result: .f32)
                                   : caps.coopMatShapes(a: .s8, b: .s8, c: .s32, result: .s32)
            if shapes.isEmpty {
                return no(floatMath ? "device reports no subgroup-scope f16×f16→f32 cooperative-matrix shape"
                                    : "device reports no subgroup-scope s8×s8→s32 cooperative-matrix shape")
            }
            // K step: 64 for float ops (fp16 weights on any tile, INT4 on the 128x128 tile:
            // measured faster on the H100), 32 for int8 (groups); QLINEAR_BK=32|64 overrides it
            // for float ops.
            let bkOverride = getenvString("QLINEAR_BK").flatMap(Int.init).flatMap { [32, 64].contains($0) ? $0 : nil }
            var bk = floatMath ? (bkOverride ?? 64) : 32
            let kQuantum = floatMath ? 8 : 16     // values per 16-byte shared-memory vector
            let usable = shapes.filter { s in
                [8, 16, 32].contains(s.m) && [8, 16, 32].contains(s.n) && s.k % kQuantum == 0 && bk % s.k == 0
            }
            guard let mma = usable.max(by: { ($0.m * $0.n * $0.k, $0.n) < ($1.m * $1.n * $1.k, $1.n) }) else {
                return no("no reported shape fits the kernel (M,N ∈ {8,16,32}, K dividing \(bk)): \(shapes.map(\.description).joined(separator: "; "))")
            }
            if p.op == .dq8ca_q4gsw && p.groupSize % bk != 0 {
                return no("group size \(p.groupSize) is not a multiple of the int8 K step \(bk)")
            }
            let sgs = caps.subgroupSize
            let require = caps.canRequireSubgroupSize
            if (mma.m * mma.n) % sgs != 0 { return no("MMA tile \(mma.m)x\(mma.n) has fewer elements than a subgroup of \(sgs)") }
            // Tile: 128×128 with 2×4 subgroups (each 64×32) when that still gives enough
            // workgroups to fill a large GPU, else 64×64 with 2×2 subgroups (each 32×32).
            func config(_ bm: Int, _ bn: Int, _ wm: Int, _ wn: Int) -> TileConfig {
                var t = TileConfig(bm: bm, bn: bn, bk: bk, workgroupSize: wm * wn * sgs)
                t.wm = wm; t.wn = wn; t.tm = mma.m; t.tn = mma.n; t.tk = mma.k
                t.subgroupSize = sgs; t.requireSubgroupSize = require
                return t
            }
            let chunk = floatMath ? 8 : 16      // values per 16-byte load
            func fits(_ t: TileConfig) -> String? {
                if (t.bm / t.wm) % t.tm != 0 || (t.bn / t.wn) % t.tn != 0 { return "tile \(t.bm)x\(t.bn) is not a multiple of the MMA shape" }
                if t.workgroupSize > caps.maxWorkgroupInvocations { return "\(t.workgroupSize)-invocation workgroups exceed the device's \(caps.maxWorkgroupInvocations)" }
                if t.sharedBytes(kind: .coopmat, op: p.op) > caps.sharedMemoryBytes { return "needs \(t.sharedBytes(kind: .coopmat, op: p.op)) bytes of shared memory, device has \(caps.sharedMemoryBytes)" }
                if max(t.bm, t.bn) * t.bk / chunk > 8 * t.workgroupSize { return "more than 8 prefetch slots per thread" }
                return nil
            }
            var large = config(128, 128, 2, 4), small = config(64, 64, 2, 2)
            if fits(large) != nil && bk == 64 { bk = 32; large = config(128, 128, 2, 4); small = config(64, 64, 2, 2) }
            // A 32x64 tile (2x2 subgroups of 16x32) when even 64x64 tiles leave the GPU short of work.
            let tiny = config(32, 64, 2, 2)
            let smallTiles = ((p.m + 63) / 64) * ((p.n + 63) / 64)
            let largeTiles = ((p.m + 127) / 128) * ((p.n + 127) / 128)
            var t: TileConfig
            // When the 128x128 tile wins (measured on the H100, docs/DESIGN.md): float ops from 256
            // such tiles; dq8ca_q4gsw from 64; dq8ca_q8csw from 64 up to 512 (beyond that its
            // 64x64 tile, which keeps fewer int32 accumulators live, was faster).
            // QLINEAR_TILE=large|small|tiny overrides the choice, for tuning on a new device.
            let forced = getenvString("QLINEAR_TILE")
            if forced == "large", let why = fits(large) { return no("QLINEAR_TILE=large: \(why)") }
            let wantLarge: Bool
            switch p.op {
            case .fp16, .q4gsw: wantLarge = largeTiles >= 256
            case .dq8ca_q4gsw: wantLarge = largeTiles >= 64
            case .dq8ca_q8csw: wantLarge = largeTiles >= 64 && largeTiles < 512
            }
            if forced == "large" || (forced != "small" && forced != "tiny" && wantLarge && fits(large) == nil) {
                t = large
                reasons.append("\(largeTiles) workgroups of 128x128")
            } else if forced == "tiny" || (forced != "small" && smallTiles < 256 && tiny.tm <= 16 && fits(tiny) == nil) {
                if let why = fits(tiny) { return no("QLINEAR_TILE=tiny: \(why)") }
                t = tiny
                reasons.append("only \(smallTiles) tiles of 64x64: 32x64 tiles for more workgroups")
            } else {
                if p.op == .q4gsw && bkOverride == nil && bk == 64 { bk = 32; small = config(64, 64, 2, 2) }
                if let why = fits(small) { return no(why) }
                t = small
                if forced == "small" {
                    reasons.append("64x64 tiles forced by QLINEAR_TILE")
                } else if let why = fits(large), wantLarge {
                    reasons.append("128x128 tile does not fit (\(why)): 64x64")
                } else {
                    reasons.append("only \(largeTiles) tiles of 128x128: 64x64 tiles for more workgroups")
                }
            }
            reasons.append("MMA \(mma.description) from the device's cooperative-matrix properties")
            reasons.append("subgroup size \(sgs)\(require ? " required per pipeline" : " (device default)")")
            reasons.append(floatMath ? "fp16 operands, fp32 accumulation" : "int8 operands, int32 accumulation per \(p.op == .dq8ca_q4gsw ? "group" : "row"), fp32 scaling")
            if p.m <= 8 { reasons.append("M = \(p.m) uses \(p.m) of every \(t.tm) MMA rows (no matrix-vector kernel yet)") }
            let shader = ShaderID(rawValue: "coopmat_\(floatMath ? "float" : "int")_\(weightTag)_\(act)")!
            return .success(KernelPlan(kernel: .coopmat, shader: shader, quantShader: quant, tile: t, reasons: reasons))
        }
    }
}

func getenvString(_ name: String) -> String? {
    guard let p = getenv(name) else { return nil }
    return String(cString: p)
}
