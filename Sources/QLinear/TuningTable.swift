#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import VulkanRuntime

/// The tile shape of a cooperative-matrix configuration: output tile BM×BN per workgroup, split
/// over a WM×WN grid of subgroups.
public struct TileShape: Codable, Sendable, Hashable, CustomStringConvertible {
    public var bm: Int, bn: Int, wm: Int, wn: Int
    public init(bm: Int, bn: Int, wm: Int, wn: Int) { self.bm = bm; self.bn = bn; self.wm = wm; self.wn = wn }
    public var description: String { "\(bm)x\(bn) (\(wm)x\(wn) subgroups)" }
    public static let large = TileShape(bm: 128, bn: 128, wm: 2, wn: 4)
    public static let small = TileShape(bm: 64, bn: 64, wm: 2, wn: 2)
    public static let tiny = TileShape(bm: 32, bn: 64, wm: 2, wn: 2)
}

/// An inclusive range [min, max] in a tuning rule; nil ends are open.
public struct Bounds: Codable, Sendable, Hashable {
    public var min: Int?, max: Int?
    public init(_ min: Int?, _ max: Int?) { self.min = min; self.max = max }
    public init(from decoder: any Decoder) throws {
        var c = try decoder.unkeyedContainer()
        min = try c.decodeIfPresent(Int.self); max = try c.decodeIfPresent(Int.self)
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.unkeyedContainer()
        try c.encode(min); try c.encode(max)
    }
    func contains(_ v: Int) -> Bool { (min.map { v >= $0 } ?? true) && (max.map { v <= $0 } ?? true) }
    var text: String { "[\(min.map(String.init) ?? "")…\(max.map(String.init) ?? "")]" }
}

/// When a tuning rule applies: each present bound must hold. `tiles128` and `tiles64` count the
/// output tiles of 128×128 and 64×64 the problem has (how well a tile size fills the GPU).
public struct TuningConditions: Codable, Sendable, Hashable {
    public var m: Bounds?, n: Bounds?, k: Bounds?
    public var tiles128: Bounds?, tiles64: Bounds?
    public init(m: Bounds? = nil, n: Bounds? = nil, k: Bounds? = nil, tiles128: Bounds? = nil, tiles64: Bounds? = nil) {
        self.m = m; self.n = n; self.k = k; self.tiles128 = tiles128; self.tiles64 = tiles64
    }
    func holds(_ p: Problem) -> Bool {
        let t128 = ((p.m + 127) / 128) * ((p.n + 127) / 128)
        let t64 = ((p.m + 63) / 64) * ((p.n + 63) / 64)
        return (m?.contains(p.m) ?? true) && (n?.contains(p.n) ?? true) && (k?.contains(p.k) ?? true)
            && (tiles128?.contains(t128) ?? true) && (tiles64?.contains(t64) ?? true)
    }
    var text: String {
        var s: [String] = []
        if let m { s.append("M ∈ \(m.text)") }
        if let n { s.append("N ∈ \(n.text)") }
        if let k { s.append("K ∈ \(k.text)") }
        if let tiles128 { s.append("128x128 tiles ∈ \(tiles128.text)") }
        if let tiles64 { s.append("64x64 tiles ∈ \(tiles64.text)") }
        return s.isEmpty ? "always" : s.joined(separator: ", ")
    }
}

/// One rule: for these ops (nil = all) under these conditions, use this cooperative-matrix tile
/// and K step. The first rule whose conditions hold and whose tile fits the device is used.
public struct TuningRule: Codable, Sendable, Hashable {
    public var ops: [Op]?
    public var when: TuningConditions?
    public var tile: TileShape
    /// K values per main-loop step (float ops: 16, 32 or 64; int8 ops: 32 or 64). nil = 32.
    public var kStep: Int?
    /// Shared-memory buffers (1 or 2). nil = 2 where it fits, else 1.
    public var buffers: Int?
    /// Split-K slices (nil or 1 = none).
    public var splitK: Int?
    /// Raster group in tile rows (`TileConfig.swizzle`; nil or 1 = row by row).
    public var swizzle: Int?
    /// Float kernels: K steps of global loads in flight (`TileConfig.prefetch`; nil = 1).
    public var prefetch: Int?
    public var note: String?
    public init(ops: [Op]? = nil, when: TuningConditions? = nil, tile: TileShape, kStep: Int? = nil, buffers: Int? = nil, splitK: Int? = nil,
                swizzle: Int? = nil, prefetch: Int? = nil, note: String? = nil) {
        self.ops = ops; self.when = when; self.tile = tile; self.kStep = kStep; self.buffers = buffers; self.splitK = splitK
        self.swizzle = swizzle; self.prefetch = prefetch; self.note = note
    }
}

/// A matrix–vector configuration: output columns per workgroup, threads per workgroup (which
/// split K), and 16-byte weight chunks per column each thread loads before doing math.
public struct GemvConfig: Codable, Sendable, Hashable, CustomStringConvertible {
    public var columns: Int, threads: Int, unroll: Int
    /// q4gsw with fp16 activations: multiply in packed fp16 (`gemv_q4_f16math`). nil = false.
    public var halfMath: Bool?
    /// q4gsw with fp16 activations: `gemv_q4_xreg` — each thread keeps its K chunks' activations
    /// in registers and streams `columns` rows through them, `unroll` rows in flight (packed fp16
    /// math). nil = false.
    public var xreg: Bool?
    /// q4gsw with fp16 activations: `gemv_q4_sg` — K split inside one subgroup, activations staged
    /// once per workgroup in shared memory; `columns` = columns per subgroup at a time, `unroll` =
    /// 32-value chunks per column in flight per lane (packed fp16 math). nil = false.
    public var sg: Bool?
    /// `gemv_q4_sg`: read the activations through L1 per chunk instead of staging them in shared
    /// memory (no staging, no shared-memory limit on M·K). nil = false.
    public var l1: Bool?
    /// fp16 and q4gsw (M ≤ 16): `gemv_mma`, the tensor-core matrix–vector kernel — `columns` weight
    /// rows per workgroup (16…128), `threads` / subgroup size subgroups splitting K, K steps of
    /// 32·`unroll` values. nil = false.
    public var mma: Bool?
    /// `gemv_mma`: split K over this many workgroup layers (fp32 partials and a reduction pass);
    /// `gemv_q4_sg`: over this many subgroups of the workgroup (shared memory, one barrier);
    /// `gemv_frag`: K over this many subgroups; the int8 prefill form (`gemm_frag_i8`, with
    /// `xRows`): this many subgroups share each tile group, each taking 1/`splitK` of the x rows
    /// (1, 2 or 4). nil = 1.
    public var splitK: Int?
    /// `gemv_mma`: K steps of loads in flight per subgroup (1…4); `gemv_q4_sg`: column groups each
    /// subgroup takes in turn (1…16: the workgroup covers that many times its subgroups' columns,
    /// so the activations are staged once for all of them). nil = 1.
    public var prefetch: Int?
    /// Every op (K and INT4 groups multiples of 128; M > 32 in tiles of 32 x rows): `gemv_frag` / `gemv_frag_dq`, tensor
    /// cores with fragments built in registers from the weights and activations (no staging; dq8ca
    /// after the activation-quantization pass) — `columns` 16-row tiles per
    /// subgroup (1, 2 or 4), `threads` per workgroup, `unroll` 128-value K blocks of loads in
    /// flight (1 or 2), `splitK` subgroups splitting K (the workgroup's subgroups are row groups
    /// × K parts). Runs only where the device's probed fragment layout is the one it was written
    /// for. nil = false.
    public var frag: Bool?
    /// With `frag`: the workgroup stages its x rows once per step in shared memory
    /// (`gemv_frag_xs` / `gemv_frag_dq_xs`) instead of every subgroup loading them through L1.
    /// Prepared in session 11, not yet measured on a GPU. nil = false.
    public var xs: Bool?
    /// With `frag`: the prefill form `gemm_frag` (fp16, q4gsw; any M) or `gemm_frag_dq` (dq8ca_q4gsw) with this many x rows per
    /// workgroup tile (32 or 64), staged in two shared buffers, weights in two register sets, one
    /// barrier per 128-value K block; `unroll` 1, K not split. nil = the matrix–vector forms.
    public var xRows: Int?
    /// With `xRows`: B fragments loaded with coopMatLoad from x rows staged in the MMAs' K order
    /// (else built from permuted words). nil = false.
    public var xLoad: Bool?
    /// With `xRows`: store the next block's x rows after MMA step 1…7 of a block (nil: after all 8);
    /// 8: x a block further ahead (stored at the start of the block before the one that uses them).
    public var xStore: Int?
    /// With `xRows`: each block's weights loaded in two halves four MMA steps ahead (the int8 form:
    /// BK/64 steps, int8 weights only), one weight register set instead of two. nil = false.
    public var weightHalves: Bool?
    /// With `xRows`, the int8 prefill form only (`gemm_frag_i8`: dq8ca_q8csw, and dq8ca_q4gsw with
    /// `int8`): K values per block and barrier, 128 or 256. nil = 128.
    public var kBlock: Int?
    /// With `xRows`, dq8ca_q4gsw: the int8 prefill form (`gemm_frag_i8`: INT4 as 16·(q − 8) int8
    /// bytes, int8 MMAs, exact int32 sums per group) instead of `gemm_frag_dq`'s f16 MMAs;
    /// dq8ca_q8csw's prefill form is always the int8 one. nil = false.
    public var int8: Bool?
    /// With `frag`, the dq8ca ops' matrix–vector forms (not `xRows`): `gemv_frag_dqf` (with `xs`,
    /// `gemv_frag_dqf_xs`) — each workgroup computes its x rows' quantization parameters and
    /// quantizes the values it loads (staged: once per workgroup) — no quantization pass, one
    /// dispatch. nil = false.
    public var fuseQuant: Bool?
    /// With `frag`, the dq8ca ops' matrix–vector form (not `xs`, not `xRows`): `gemv_frag_dqs` —
    /// the quantization pass inside the same dispatch: workgroups claim the M x rows one at a time
    /// from a counter, quantize each (the pass's bits, into the layer's scratch) and publish it;
    /// every workgroup issues its first weight loads, makes its claims, waits for all M rows, then
    /// runs as `gemv_frag_dq`. One dispatch, no quantization work per workgroup. Compact form `fd`. Correct on the H100 and
    /// slower than the pass + `gemv_frag_dq` in every case measured (session 19; docs/DESIGN.md):
    /// no table rule uses it. nil = false.
    public var quantInDispatch: Bool?
    public init(columns: Int, threads: Int, unroll: Int, halfMath: Bool? = nil, xreg: Bool? = nil, mma: Bool? = nil, splitK: Int? = nil, prefetch: Int? = nil,
                sg: Bool? = nil, l1: Bool? = nil, frag: Bool? = nil, xs: Bool? = nil, xRows: Int? = nil, xLoad: Bool? = nil, xStore: Int? = nil, weightHalves: Bool? = nil,
                kBlock: Int? = nil, int8: Bool? = nil, fuseQuant: Bool? = nil, quantInDispatch: Bool? = nil) {
        self.columns = columns; self.threads = threads; self.unroll = unroll; self.halfMath = halfMath; self.xreg = xreg
        self.mma = mma; self.splitK = splitK; self.prefetch = prefetch; self.sg = sg; self.l1 = l1; self.frag = frag; self.xs = xs; self.xRows = xRows; self.xLoad = xLoad; self.xStore = xStore; self.weightHalves = weightHalves
        self.kBlock = kBlock; self.int8 = int8; self.fuseQuant = fuseQuant; self.quantInDispatch = quantInDispatch
    }
    public var description: String {
        if frag == true, let xRows { return "tensor cores, fragments built in registers, prefill form: \(columns) 16-row tile(s) per subgroup × \(threads) threads, \(xRows) x rows per workgroup staged in two buffers\(xLoad == true ? ", B fragments by coopMatLoad" : "")\(weightHalves == true ? ", weights in half blocks four MMA steps ahead" : "")\(int8 == true ? ", int8 MMAs" : "")\(kBlock.map { ", \($0)-value K blocks" } ?? "")\(xStore.map { $0 == 8 ? ", x loaded a block further ahead" : ", next x stored after MMA step \($0)" } ?? "")\((splitK ?? 1) > 1 ? ", each tile group's x rows split over \(splitK!) subgroups" : "")" }
        if frag == true { return "tensor cores, fragments built in registers: \(columns) 16-row tile(s) per subgroup × \(threads) threads, \(unroll) 128-value K block(s) in flight\((splitK ?? 1) > 1 ? ", K split over \(splitK!) subgroups" : "")\(fuseQuant == true ? ", activations quantized inside the kernel" : "")\(quantInDispatch == true ? ", the quantization pass inside the dispatch" : "")" }
        if mma == true { return "tensor cores: \(columns) columns × \(threads) threads, K step \(32 * unroll)\((prefetch ?? 1) > 1 ? ", \(prefetch!) steps in flight" : "")\((splitK ?? 1) > 1 ? ", split-K \(splitK!)" : "")" }
        if xreg == true { return "\(columns) columns × \(threads) threads, activations in registers, \(unroll) columns in flight, packed fp16 math" }
        if sg == true { return "\(columns) columns per subgroup × \(threads) threads, K split inside \((splitK ?? 1) > 1 ? "\(splitK!) subgroups" : "the subgroup"), activations \(l1 == true ? "through L1" : "in shared memory"), \(unroll) chunks in flight per column\((prefetch ?? 1) > 1 ? ", \(prefetch!) column groups per subgroup" : ""), packed fp16 math" }
        return "\(columns) columns × \(threads) threads, \(unroll) chunks in flight per column\(halfMath == true ? ", packed fp16 math" : "")"
    }
    /// The compact form the CLI and reports use: COLUMNSxTHREADSxUNROLL, then `h` (packed fp16
    /// math), `x` (activations in registers), `g` (K split inside a subgroup), `m` (tensor cores)
    /// or `f` (tensor cores, fragments in registers; `fq` with the dq8ca quantization inside, `fd` with
    /// the pass inside the dispatch, `fw` x staged per
    /// workgroup, `fwq` both, `ftN…` the prefill form); `m` and `g` take `pN` (prefetch / column
    /// groups per subgroup), `m`, `g` and `f` take `sN` (split-K).
    public var compact: String {
        "\(columns)x\(threads)x\(unroll)\(frag == true ? (xs == true ? (fuseQuant == true ? "fwq" : "fw") : xRows.map { "ft\($0)\(xLoad == true ? "l" : "")\(weightHalves == true ? "h" : "")\(int8 == true ? "i" : "")\(kBlock.map { "k\($0)" } ?? "")\(xStore.map { "e\($0)" } ?? "")\(fuseQuant == true ? "q" : "")\(quantInDispatch == true ? "d" : "")" } ?? (fuseQuant == true ? "fq" : quantInDispatch == true ? "fd" : "f")) : mma == true ? "m" : xreg == true ? "x" : sg == true ? (l1 == true ? "gl" : "g") : halfMath == true ? "h" : "")\((prefetch ?? 1) > 1 && frag != true ? "p\(prefetch!)" : "")\((splitK ?? 1) > 1 ? "s\(splitK!)" : "")"
    }
    /// The configuration used when no rule applies.
    public static let standard = GemvConfig(columns: 2, threads: 128, unroll: 2)
    /// Why this configuration can never be meant (a value outside what any kernel or the CLI's
    /// form takes), or nil. Values a kernel merely cannot run here are the dispatcher's to refuse.
    public var problem: String? {
        guard (1...128).contains(columns), (1...4096).contains(threads), (1...64).contains(unroll),
              splitK.map({ (1...64).contains($0) }) ?? true, prefetch.map({ (1...16).contains($0) }) ?? true else {
            return "matrix–vector configuration \(compact): columns 1…128, threads 1…4096, unroll 1…64, split 1…64, prefetch 1…16"
        }
        if fuseQuant == true && (frag != true || xRows != nil) { return "matrix–vector configuration \(compact): the fused quantization (q) is a form of the register-fragment matrix–vector kernel (fq, fwq; not the prefill form ftN)" }
        if quantInDispatch == true && (frag != true || xRows != nil || xs == true || fuseQuant == true) { return "matrix–vector configuration \(compact): the pass inside the dispatch (fd) is a form of the register-fragment matrix–vector kernel (not staged fw, not the prefill form ftN, not with fq)" }
        if xs == true && frag != true { return "matrix–vector configuration \(compact): xs (x staged per workgroup) is a form of the register-fragment kernel and needs frag" }
        if xStore != nil && (xRows == nil || !(1...8).contains(xStore!)) { return "matrix–vector configuration \(compact): the x store step (e) is 1…8 and a choice of the prefill form (tN)" }
        // Half-block weights and x a block ahead were verified on the H100 only with B by coopMatLoad.
        if xRows != nil && xLoad != true && (weightHalves == true || xStore == 8) { return "matrix–vector configuration \(compact): half-block weights (h) and x a block ahead (e8) need B fragments by coopMatLoad (l) — the only form checked on a GPU" }
        if weightHalves == true && xRows == nil { return "matrix–vector configuration \(compact): half-block weight loads (h) are a choice of the prefill form and need x rows per tile (tN)" }
        if xLoad == true && xRows == nil { return "matrix–vector configuration \(compact): loading B fragments (l) is a choice of the prefill form and needs x rows per tile (tN)" }
        if int8 == true && (xRows == nil || xLoad != true) { return "matrix–vector configuration \(compact): int8 MMAs (i) are a choice of the prefill form (tN) with B by coopMatLoad (l)" }
        if kBlock != nil && (xRows == nil || ![128, 256].contains(kBlock!)) { return "matrix–vector configuration \(compact): the K block (k) is 128 or 256 and a choice of the prefill form (tN)" }
        if let xRows {
            guard frag == true, xs != true, [32, 64, 128].contains(xRows), unroll == 1, [1, 2, 4].contains(splitK ?? 1), (xRows / 8) % (splitK ?? 1) == 0 else {
                return "matrix–vector configuration \(compact): the prefill form (x rows per tile \(xRows)) is a register-fragment kernel (frag, not xs) with 32, 64 or 128 x rows (128: the int8 form only), unroll 1, and its x rows split over 1, 2 or 4 subgroups (s, the int8 form only) in whole 8-row fragments"
            }
        }
        return nil
    }
}

/// A matrix–vector tuning rule: for these ops under these conditions, use this configuration.
public struct GemvRule: Codable, Sendable, Hashable {
    public var ops: [Op]?
    public var when: TuningConditions?
    public var config: GemvConfig
    public var note: String?
    public init(ops: [Op]? = nil, when: TuningConditions? = nil, config: GemvConfig, note: String? = nil) {
        self.ops = ops; self.when = when; self.config = config; self.note = note
    }
}

/// The activation-quantization pass (dq8ca ops; one workgroup per row) for a shape class: threads
/// enough that each holds at most `stepsPerThread` 8-value steps of the row, a power of two between
/// 64 and `maxThreads` (and the device's limit). Fewer threads per row suit many rows; a decode
/// row is latency-bound and wants one step per thread.
public struct QuantRule: Codable, Sendable, Hashable {
    public var when: TuningConditions?
    public var stepsPerThread: Int
    public var maxThreads: Int
    public var note: String?
    public init(when: TuningConditions? = nil, stepsPerThread: Int, maxThreads: Int, note: String? = nil) {
        self.when = when; self.stepsPerThread = stepsPerThread; self.maxThreads = maxThreads; self.note = note
    }
    /// Without a rule: two steps per thread, at most 256 threads (the pass's size before rules).
    public static let standard = QuantRule(stepsPerThread: 2, maxThreads: 256)
}

/// Which devices a table is for: every present field must match.
public struct DeviceMatch: Codable, Sendable, Hashable {
    public var vendorID: UInt32?
    public var nameContains: String?
    /// The device name contains any of these (one table for a family of cards).
    public var nameContainsAny: [String]?
    public var driverName: String?
    public init(vendorID: UInt32? = nil, nameContains: String? = nil, nameContainsAny: [String]? = nil, driverName: String? = nil) {
        self.vendorID = vendorID; self.nameContains = nameContains; self.nameContainsAny = nameContainsAny; self.driverName = driverName
    }
    func matches(_ c: Capabilities) -> Bool {
        (vendorID.map { $0 == c.vendorID } ?? true) && (nameContains.map { c.name.contains($0) } ?? true)
            && (nameContainsAny.map { $0.contains { c.name.contains($0) } } ?? true)
            && (driverName.map { $0 == c.driverName } ?? true)
    }
}

/// Kernel tuning as data: tile choices per op and shape class for one device (or the
/// conservative default). Tables live in `Tuning/*.json`, are embedded at build time by
/// scripts/build-shaders.py, and are written by `qlinear tune`.
public struct TuningTable: Codable, Sendable, Hashable {
    public var name: String
    public var match: DeviceMatch?
    /// Where the numbers come from (a results file, a date, a driver).
    public var provenance: String
    public var coopmat: [TuningRule]
    /// Matrix–vector rules (first match wins); none = `GemvConfig.standard`.
    public var gemv: [GemvRule]?
    /// Activation-quantization rules (first match wins; ops are dq8ca ones); none = `QuantRule.standard`.
    public var quant: [QuantRule]?

    public init(name: String, match: DeviceMatch?, provenance: String, coopmat: [TuningRule], gemv: [GemvRule]? = nil, quant: [QuantRule]? = nil) {
        self.name = name; self.match = match; self.provenance = provenance; self.coopmat = coopmat; self.gemv = gemv; self.quant = quant
    }

    /// Decodes a table from JSON, with a clear error for malformed input.
    public static func decode(_ json: [UInt8]) throws -> TuningTable {
        let t: TuningTable
        do { t = try JSONDecoder().decode(TuningTable.self, from: Data(json)) } catch {
            throw QLinearError.invalidFormat("tuning table: \(error)")
        }
        if let bad = t.problem { throw QLinearError.invalidFormat("tuning table \(t.name): \(bad)") }
        return t
    }

    /// The first matrix–vector or quantization rule no kernel could ever mean (non-positive or
    /// absurd sizes), or nil.
    public var problem: String? {
        for (i, r) in (gemv ?? []).enumerated() { if let p = r.config.problem { return "gemv rule \(i): \(p)" } }
        // (Cooperative-matrix rules are checked where they are used, with the device's limits.)
        for (i, r) in (quant ?? []).enumerated() where !(1...64).contains(r.stepsPerThread) || !(1...4096).contains(r.maxThreads) {
            return "quant rule \(i): \(r.stepsPerThread) steps per thread, \(r.maxThreads) threads (1…64, 1…4096)"
        }
        return nil
    }

    /// The tables built into the library (Tuning/*.json), default last.
    public static let builtIn: [TuningTable] = EmbeddedTuning.json.compactMap { try? decode(Array($0.utf8)) }

    /// The built-in table for a device: the first whose `match` holds, else the default.
    public static func forDevice(_ caps: Capabilities) -> TuningTable {
        builtIn.first { $0.match?.matches(caps) ?? false } ?? builtIn.first { $0.match == nil } ?? .fallback
    }

    /// Used only if the embedded default failed to decode (a build defect; tests pin it).
    static let fallback = TuningTable(name: "fallback", match: nil, provenance: "built-in fallback",
                                      coopmat: [TuningRule(when: TuningConditions(tiles128: Bounds(256, nil)), tile: .large),
                                                TuningRule(when: TuningConditions(tiles64: Bounds(nil, 255)), tile: .tiny),
                                                TuningRule(tile: .small)])
}
