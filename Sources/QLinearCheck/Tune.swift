#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import QLinear

/// One configuration `qlinear tune` tries: a matrix–vector configuration or a cooperative-matrix
/// tile and K step.
public struct TuneCandidate: Codable, Sendable, Hashable, CustomStringConvertible {
    public var kernel: KernelKind
    public var gemv: GemvConfig?
    public var tile: TileShape?
    public var kStep: Int?
    public var buffers: Int?
    public var splitK: Int?
    /// Cooperative-matrix raster group (tile rows; nil = 1).
    public var swizzle: Int?
    /// Float cooperative-matrix prefetch distance (nil = 1).
    public var prefetch: Int?

    public init(kernel: KernelKind, gemv: GemvConfig? = nil, tile: TileShape? = nil, kStep: Int? = nil, buffers: Int? = nil, splitK: Int? = nil,
                swizzle: Int? = nil, prefetch: Int? = nil) {
        self.kernel = kernel; self.gemv = gemv; self.tile = tile; self.kStep = kStep; self.buffers = buffers; self.splitK = splitK
        self.swizzle = swizzle; self.prefetch = prefetch
    }

    public var description: String {
        if let g = gemv { return "gemv \(g.compact)" }
        if let t = tile { return "coopmat \(t.bm)x\(t.bn)/\(t.wm)x\(t.wn) k\(kStep ?? 32) b\(buffers ?? 2)\((splitK ?? 1) > 1 ? " s\(splitK!)" : "")\((swizzle ?? 1) > 1 ? " r\(swizzle!)" : "")\((prefetch ?? 1) > 1 ? " p\(prefetch!)" : "")" }
        return kernel.rawValue
    }

    func options(_ base: DispatchOptions) -> DispatchOptions {
        var o = base
        o.gemvConfig = gemv
        o.coopMatTile = tile
        o.coopMatKStep = kStep
        o.coopMatBuffers = buffers
        o.coopMatSplitK = splitK
        o.coopMatSwizzle = swizzle
        o.coopMatPrefetch = prefetch
        return o
    }
}

/// Which matrix–vector kernels a gemv sweep tries: the column kernels (fp32 or packed-fp16
/// math), q4gsw's activations-in-registers and subgroup-split kernels, the tensor-core kernel
/// (fp16, q4gsw), the register-fragment kernels (every op), their x-staged form (`fragxs`,
/// M > 32), their prefill form (`fraggemm`: fp16, q4gsw and dq8ca_q4gsw, M > 32, any M) and the
/// dq8ca ops' form with the quantization inside (`fragq`: `gemv_frag_dqf`, M ≤ 32) or done by
/// inside the dispatch (`fragd`: `gemv_frag_dqs`, M ≤ 32).
public enum GemvVariety: String, CaseIterable, Codable, Sendable {
    case column, xreg, sg, mma, frag, fragxs, fraggemm, fragq, fragd
    /// What a sweep tries unless told: every variety but `fragq` (slower than the quantization
    /// pass + `gemv_frag_dq` in every case measured on the H100 — docs/results, session 18 —, so
    /// swept only when asked for) and `fragd` (the same in session 19: 11–34% slower at M = 2…16 on
    /// the four shapes, both dq8ca ops).
    public static let defaults: Set<GemvVariety> = Set(allCases).subtracting([.fragq, .fragd])
}

/// One timed (op, shape, candidate), or why it did not run.
public struct TuneMeasurement: Codable, Sendable {
    public var op: Op
    public var m: Int, n: Int, k: Int
    public var candidate: TuneCandidate
    public var medianUs: Double?
    public var minUs: Double?
    public var flags: [String]
    /// "ok", "rejected: …" (the dispatcher refused it), "wrong: …" (failed the check), "error: …".
    public var status: String
    /// The driver's statistics of the kernel's pipeline (e.g. registers per thread), where the
    /// device reports them (VK_KHR_pipeline_executable_properties); nil elsewhere.
    public var statistics: [String: Double]?
    /// `tune --against-current`: this entry times the plan the dispatcher makes today (with the
    /// base table, any kernel kind) — not a candidate; `status` names its kernel. A shape gets a
    /// rule only where the sweep's best beat it.
    public var current: Bool?

    /// Why these values cannot come from a sweep (a hand-edited or corrupt report), or nil: shapes
    /// within 1…2^31 − 1, times finite and positive, the candidate a configuration.
    public var problemWithValues: String? {
        let dims = 1...Int(Int32.max)
        guard dims.contains(m), dims.contains(n), dims.contains(k) else { return "\(op.rawValue) \(m)x\(n)x\(k): M, N and K must be 1…2^31 − 1" }
        for t in [medianUs, minUs].compactMap({ $0 }) where !(t.isFinite && t > 0 && t < 1e12) {
            return "\(op.rawValue) \(m)x\(n)x\(k): time \(t) µs is not a measurement"
        }
        if let p = candidate.gemv?.problem { return "\(op.rawValue) \(m)x\(n)x\(k): \(p)" }
        if let t = candidate.tile, ![t.bm, t.bn, t.wm, t.wn].allSatisfy({ (1...4096).contains($0) }) {
            return "\(op.rawValue) \(m)x\(n)x\(k): tile \(t) is not a configuration"
        }
        return nil
    }
}

/// The tuning harness: every configuration the shaders expose, checked against the reference on
/// a small problem first, then timed with the benchmark's method; the best per (op, shape class)
/// becomes a `TuningTable`.
public enum Tuner {
    /// Every candidate for `kernel` at M rows (`m` nil = for any M; the dispatcher rejects the
    /// ones a device cannot run). Cooperative-matrix candidates are pruned by M so a full sweep
    /// fits one GPU call: small M gets small tiles and split-K, large M big tiles and every K
    /// step and buffering.
    /// `prefillForm`: include the prefill forms (`fraggemm`; nil: with `tensorCores`);
    /// `int8Prefill`: dq8ca_q8csw's int8 form (B loaded, 128 x rows, 256-value blocks);
    /// `int8Q4`: dq8ca_q4gsw's int8 form (…i) beside its f16 form; `extraSplits`: split-K factors
    /// also offered with every cooperative-matrix tile of the mid and large M classes (the
    /// default grids split K only with small tiles); `direct`: fp16's direct kernel (buffers 0: no
    /// shared memory, fragments built in registers) with its tiles, for M past 64.
    public static func candidates(_ kernel: KernelKind, floatOps: Bool, m: Int? = nil, halfMath: Bool = false, tensorCores: Bool = false,
                                  varieties: Set<GemvVariety> = GemvVariety.defaults, prefillForm: Bool? = nil, int8Prefill: Bool = false, int8Q4: Bool = false,
                                  extraSplits: [Int] = [], direct: Bool = false) -> [TuneCandidate] {
        switch kernel {
        case .gemv:
            var out: [TuneCandidate] = []
            // q4gsw × fp16 (`halfMath`): the packed-fp16 kernels only (the fp32 one was never
            // fastest on the H200), column-split and activations-in-registers.
            // (The int8 column kernel takes M ≤ 16, the float ones M ≤ 8.)
            if varieties.contains(.column) && (m ?? 1) <= (floatOps ? 8 : 16) {
                for h in halfMath ? [true] : [false] { for c in [1, 2, 4, 8] { for t in [32, 64, 128, 256] { for u in [1, 2] {
                    out.append(TuneCandidate(kernel: .gemv, gemv: GemvConfig(columns: c, threads: t, unroll: u, halfMath: h ? true : nil)))
                } } } }
            }
            // Tensor cores (fp16, q4gsw; M ≤ 16): weight rows per workgroup, subgroups splitting
            // K, K step, split-K over workgroups (for N too small to fill the GPU). Prefetch
            // depths 2 and 4 (`GemvConfig.prefetch`) were slower than 1 in all 24 (op, M, shape)
            // cases on the H100 (docs/results/h100-tune-gemv-mma-prefetch-2026-11-26.json), so the
            // sweep leaves them out; `--gemv …mp2` still forces one.
            if tensorCores && varieties.contains(.mma) && (m ?? 1) <= 16 {
                for c in [32, 64] { for t in [64, 128, 256] { for u in [1, 2] { for sp in [1, 2, 4] {
                    out.append(TuneCandidate(kernel: .gemv, gemv: GemvConfig(columns: c, threads: t, unroll: u, mma: true, splitK: sp == 1 ? nil : sp)))
                } } } }
            }
            // Tensor cores with fragments built in registers (every op; K and INT4 groups multiples
            // of 128; M > 32 in tiles of 32 x rows): tiles per subgroup, threads, blocks in flight,
            // subgroups splitting K. Swept up to M = 256 (beyond, the cooperative-matrix kernels).
            if varieties.contains(.frag) && (m ?? 1) <= 256 {
                // (H100, session 10: 64 threads never won; 2 blocks in flight only with one tile.)
                for c in [1, 2, 4] { for t in [128, 256, 512] { for u in c == 1 ? [1, 2] : [1] { for ks in [1, 2, 4, 8, 16] where (t / 32) % ks == 0 {
                    out.append(TuneCandidate(kernel: .gemv, gemv: GemvConfig(columns: c, threads: t, unroll: u, splitK: ks == 1 ? nil : ks, frag: true)))
                } } } }
            }
            // dq8ca ops, decode batches (M ≤ 32): the same with the activation quantization inside
            // the kernel (gemv_frag_dqf; no pass). Every workgroup quantizes all of x, so fewer,
            // wider workgroups repeat it less: the grid leans to 256–512 threads.
            if !floatOps && varieties.contains(.fragq) && (m ?? 1) <= 32 {
                for c in [1, 2, 4] { for t in [128, 256, 512] { for u in c == 1 ? [1, 2] : [1] { for ks in [1, 2, 4, 8, 16] where (t / 32) % ks == 0 {
                    out.append(TuneCandidate(kernel: .gemv, gemv: GemvConfig(columns: c, threads: t, unroll: u, splitK: ks == 1 ? nil : ks, frag: true, fuseQuant: true)))
                    // Staged (once per workgroup), K split 1…4 as for fragxs.
                    if ks <= 4 { out.append(TuneCandidate(kernel: .gemv, gemv: GemvConfig(columns: c, threads: t, unroll: u, splitK: ks == 1 ? nil : ks, frag: true, xs: true, fuseQuant: true))) }
                } } } }
            }
            // dq8ca ops, decode batches (M ≤ 32): the quantization by the dispatch's first
            // workgroups (gemv_frag_dqs; one dispatch, no per-workgroup quantization work) — the
            // frag grid.
            if !floatOps && varieties.contains(.fragd) && (m ?? 1) <= 32 {
                for c in [1, 2, 4] { for t in [128, 256, 512] { for u in c == 1 ? [1, 2] : [1] { for ks in [1, 2, 4, 8, 16] where (t / 32) % ks == 0 {
                    out.append(TuneCandidate(kernel: .gemv, gemv: GemvConfig(columns: c, threads: t, unroll: u, splitK: ks == 1 ? nil : ks, frag: true, quantInDispatch: true)))
                } } } }
            }
            // The same with the x rows staged once per workgroup (M > 32, where every subgroup
            // reading all of them through L1 costs L2 bandwidth): K split 1…4 (the staged rows are
            // KS·PD blocks wide), one or two blocks in flight with one tile per subgroup.
            if varieties.contains(.fragxs) && (m ?? 1) > 32 && (m ?? 1) <= 256 {
                for c in [1, 2, 4] { for t in [128, 256, 512] { for u in c == 1 ? [1, 2] : [1] { for ks in [1, 2, 4] where (t / 32) % ks == 0 {
                    out.append(TuneCandidate(kernel: .gemv, gemv: GemvConfig(columns: c, threads: t, unroll: u, splitK: ks == 1 ? nil : ks, frag: true, xs: true)))
                } } } }
            }
            // The prefill form (gemm_frag, gemm_frag_dq; fp16, q4gsw, dq8ca_q4gsw; any M past 32): tiles per subgroup,
            // threads, x rows per workgroup (the accumulators are tiles × x rows / 8 fragments), B
            // fragments built or loaded, and with loaded ones the weights in half blocks (H100,
            // session 14: 2x512x1ft64lh best for INT4 in 22 of 24 suite cases at M ≥ 1024).
            // With `int8Prefill` (dq8ca_q8csw: gemm_frag_i8, B always by coopMatLoad) the loaded forms only.
            if (prefillForm ?? tensorCores) && varieties.contains(.fraggemm) && (m ?? 33) > 32 {
                for c in [1, 2, 4] { for t in [128, 256, 512] { for xr in [32, 64] { for (ld, wh) in int8Prefill ? [(true, false), (true, true)] : [(false, false), (true, false), (true, true)] {
                    for kb in int8Prefill ? [nil, 256] : [nil] {
                        out.append(TuneCandidate(kernel: .gemv, gemv: GemvConfig(columns: c, threads: t, unroll: 1, frag: true, xRows: xr, xLoad: ld ? true : nil, weightHalves: wh ? true : nil, kBlock: kb)))
                    }
                } } } }
                // The int8 form also takes 128 x rows (half the weight traffic through L2 per MMA;
                // one or two tiles: the accumulators are tiles × 64 registers), 128-value blocks.
                if int8Prefill {
                    for c in [1, 2] { for t in [128, 256, 512] { for wh in [false, true] {
                        out.append(TuneCandidate(kernel: .gemv, gemv: GemvConfig(columns: c, threads: t, unroll: 1, frag: true, xRows: 128, xLoad: true, weightHalves: wh ? true : nil)))
                    } } }
                    // (x rows split over subgroups, …sN: 1.2–2.4× slower than 1x512x1ft128lh in every
                    // case of session 16's sweep — not offered; `--only` times them.)
                }
                // dq8ca_q4gsw (`int8Q4`): its int8 form too (…i; whole blocks, 64 or 128 x rows,
                // 128- or 256-value blocks).
                if int8Q4 {
                    for c in [1, 2] { for t in [256, 512] { for (xr, kb) in [(64, nil), (64, 256), (128, nil)] as [(Int, Int?)] {
                        out.append(TuneCandidate(kernel: .gemv, gemv: GemvConfig(columns: c, threads: t, unroll: 1, frag: true, xRows: xr, xLoad: true, kBlock: kb, int8: true)))
                    } } }
                }
            }
            if halfMath && varieties.contains(.xreg) && (m ?? 1) <= 8 {
                let bm = m.map { $0 <= 1 ? 1 : $0 <= 2 ? 2 : $0 <= 4 ? 4 : 8 } ?? 1
                for c in [4, 8, 16, 32] { for t in [64, 128, 256, 512] { for u in [2, 4, 8] where c % u == 0 && bm * u <= 32 {
                    out.append(TuneCandidate(kernel: .gemv, gemv: GemvConfig(columns: c, threads: t, unroll: u, halfMath: true, xreg: true)))
                } } }
            }
            // K split inside one subgroup (q4gsw × fp16): columns per subgroup, threads, chunks in
            // flight per column.
            if halfMath && varieties.contains(.sg) && (m ?? 1) <= 8 {
                // (First H100 sweeps, M = 1, 2, 4: 8 chunks in flight and 64-thread workgroups were
                // slowest everywhere, 128 threads and 4 columns per subgroup never fastest at M = 1.)
                // Subgroups splitting K for M = 1; column groups per subgroup (activations staged
                // once for more columns).
                // (H100, session 18: 1024 threads won at M = 1, K = 14336 — 18.4 µs against 19.2.)
                let one = (m ?? 1) <= 1
                for c in one ? [1, 2] : [1, 2, 4, 8] { for t in one ? [256, 512, 1024] : [256, 512] { for u in one ? [1, 2, 4] : [1, 2] {
                    for ks in one ? [1, 2] : [1] { for ps in one ? [1, 2, 4, 8] : [1, 2, 4] where c * (m ?? 1) <= 32 {
                        out.append(TuneCandidate(kernel: .gemv, gemv: GemvConfig(columns: c, threads: t, unroll: u, halfMath: true, splitK: ks == 1 ? nil : ks,
                                                                                 prefetch: ps == 1 ? nil : ps, sg: true)))
                    } }
                } } }
                // Activations through L1 (no staging); K over 1 or 4 subgroups (the H100's
                // 4096×14336 rules: 2 or 4 columns per subgroup, 4 subgroups per column).
                for c in one ? [1, 2, 4] : [1, 2, 4, 8] { for t in [256, 512] { for u in [1, 2] { for ps in [1, 2] { for ks in [1, 4] where c * (m ?? 1) <= 32 {
                    out.append(TuneCandidate(kernel: .gemv, gemv: GemvConfig(columns: c, threads: t, unroll: u, halfMath: true, splitK: ks == 1 ? nil : ks,
                                                                             prefetch: ps == 1 ? nil : ps, sg: true, l1: true)))
                } } } } }
            }
            // dq8ca ops with the activations quantized inside the kernel (gemv_dq, M ≤ 8; the
            // int8 rows must fit shared memory): the sg layout. Column groups per subgroup set how
            // many workgroups repeat the quantization (16 → 112 workgroups at N = 28672).
            if !floatOps && varieties.contains(.sg) && (m ?? 1) <= 8 {
                let few = (m ?? 1) <= 2
                // (H100, session 18: 1024 threads won at M = 1, K = 14336 for both ops — 20.4 against
                // 23.0 µs and 28.6 against the pass + column kernel's 30.7 — and at M = 2 on three
                // shapes per op, at M = 3 once.)
                for c in [1, 2] { for t in few ? [512, 1024] : [256, 512, 1024] { for u in few ? [2, 4] : [1, 2] {
                    for ks in few ? [1, 4] : [1, 2] { for ps in few ? [1, 2, 4, 8, 16] : [1, 4] where c * (m ?? 1) <= 32 {
                        out.append(TuneCandidate(kernel: .gemv, gemv: GemvConfig(columns: c, threads: t, unroll: u, splitK: ks == 1 ? nil : ks,
                                                                                 prefetch: ps == 1 ? nil : ps, sg: true)))
                    } }
                } } }
                if few {
                    for ks in [1, 4] { for ps in [1, 4, 16] {
                        out.append(TuneCandidate(kernel: .gemv, gemv: GemvConfig(columns: 1, threads: 256, unroll: 4, splitK: ks == 1 ? nil : ks,
                                                                                 prefetch: ps == 1 ? nil : ps, sg: true)))
                    } }
                }
            }
            return out.filter { allowed($0, m: m) }
        case .coopmat:
            func grid(_ tiles: [TileShape], _ ks: [Int], _ bufs: [Int], _ splits: [Int], _ swizzles: [Int] = [1], _ prefetches: [Int] = [1]) -> [TuneCandidate] {
                tiles.flatMap { t in ks.flatMap { k in bufs.flatMap { b in splits.flatMap { sp in swizzles.flatMap { r in prefetches.map { d in
                    TuneCandidate(kernel: .coopmat, tile: t, kStep: k, buffers: b, splitK: sp == 1 ? nil : sp, swizzle: r == 1 ? nil : r,
                                  prefetch: d == 1 ? nil : d) } } } } } }
            }
            let small = [TileShape(bm: 32, bn: 64, wm: 2, wn: 2), TileShape(bm: 64, bn: 64, wm: 2, wn: 2), TileShape(bm: 64, bn: 128, wm: 2, wn: 2)]
            let mid = [TileShape(bm: 64, bn: 64, wm: 2, wn: 2), TileShape(bm: 128, bn: 64, wm: 2, wn: 2), TileShape(bm: 64, bn: 128, wm: 2, wn: 2),
                       TileShape(bm: 128, bn: 128, wm: 2, wn: 4), TileShape(bm: 128, bn: 128, wm: 2, wn: 2)]
            let big = [TileShape(bm: 128, bn: 128, wm: 2, wn: 4), TileShape(bm: 128, bn: 128, wm: 4, wn: 2), TileShape(bm: 128, bn: 128, wm: 2, wn: 2),
                       TileShape(bm: 128, bn: 256, wm: 2, wn: 4), TileShape(bm: 256, bn: 128, wm: 4, wn: 2),
                       TileShape(bm: 64, bn: 256, wm: 1, wn: 4), TileShape(bm: 256, bn: 64, wm: 4, wn: 1), TileShape(bm: 128, bn: 64, wm: 2, wn: 2),
                       TileShape(bm: 128, bn: 256, wm: 4, wn: 4), TileShape(bm: 256, bn: 128, wm: 4, wn: 4),
                       TileShape(bm: 192, bn: 192, wm: 3, wn: 3), TileShape(bm: 128, bn: 192, wm: 2, wn: 3), TileShape(bm: 192, bn: 128, wm: 3, wn: 2)]
            // Float kernels: one or two K steps of loads in flight (int8 kernels keep one).
            let pds = floatOps ? [1, 2] : [1]
            let forSmall = grid(small, [32, 64], [2], [1, 2, 4, 8, 16])
            let splits = extraSplits.filter { $0 > 1 }
            let forMid = grid(mid, [32, 64], [1, 2], [1], [1], pds) + grid(Array(mid.prefix(3)), [32, 64], [2], [2, 4])
                + (splits.isEmpty ? [] : grid(mid + (floatOps ? Array(big.prefix(5)) : []), [32], [1], splits, [1], pds))
            // Large M (H100, docs/results/h100-tune-coopmat-*-2026-11-26.json): K step 16 was slower
            // than 32 single-buffered, K step 64 slower still, raster groups of 8 tile rows within 1%.
            // Float kernels: K step 32 single-buffered with prefetch distance 1 and 2 (double
            // buffering, also stage-first, lost in all 52 cases it ran: h100-tune-coopmat-b2-…);
            // int8 kernels (32 bytes of K per MMA): the ten tiles that placed in the H100 sweep's
            // top eight at K steps 32 and 64, single-buffered, and two double-buffered tiles.
            let intBig = [big[4], TileShape(bm: 192, bn: 128, wm: 3, wn: 2), big[1], big[0], big[2], big[6], TileShape(bm: 128, bn: 192, wm: 2, wn: 3),
                          big[7], big[9], big[8]]
            let forBig = floatOps
                ? grid(big, [32], [1], [1] + splits, [1], pds)
                : grid(intBig, [32, 64], [1], [1]) + grid([big[0], big[1]], [32], [2], [1]) + grid(intBig, [32], [1], splits)
            // The direct kernel (fp16 weights; the dispatcher refuses it elsewhere): subgroup tiles of
            // 64×64 (one register set: 192 registers in its arrays), 64×32 / 32×64 (one or two sets),
            // 32×32 with 16 subgroups; K step 32 (64: two blocks per set); with x staged (WM = 1),
            // 32 or 64 weight rows per subgroup and 64…256 x rows.
            let forDirect = !direct || !floatOps ? [] :
                grid([TileShape(bm: 128, bn: 128, wm: 2, wn: 2), TileShape(bm: 128, bn: 256, wm: 2, wn: 4), TileShape(bm: 256, bn: 128, wm: 4, wn: 2)], [32], [0], [1])
                + grid([TileShape(bm: 128, bn: 128, wm: 2, wn: 4), TileShape(bm: 128, bn: 128, wm: 4, wn: 2), TileShape(bm: 256, bn: 128, wm: 4, wn: 4),
                        TileShape(bm: 128, bn: 256, wm: 4, wn: 4)], [32], [0], [1], [1], [1, 2])
                + grid([TileShape(bm: 128, bn: 128, wm: 2, wn: 4), TileShape(bm: 128, bn: 128, wm: 4, wn: 2)], [64], [0], [1])
                + grid([TileShape(bm: 128, bn: 128, wm: 4, wn: 4)], [32, 64], [0], [1], [1], [1, 2])
                // x staged (one subgroup row, WM = 1), weights straight into registers.
                + grid([TileShape(bm: 128, bn: 256, wm: 1, wn: 8), TileShape(bm: 128, bn: 128, wm: 1, wn: 4), TileShape(bm: 64, bn: 256, wm: 1, wn: 4),
                        TileShape(bm: 128, bn: 128, wm: 1, wn: 8), TileShape(bm: 256, bn: 128, wm: 1, wn: 8), TileShape(bm: 64, bn: 128, wm: 1, wn: 4)],
                       [32], [0], [1], [1], [1, 2])
                + grid([TileShape(bm: 128, bn: 256, wm: 1, wn: 8)], [64], [0], [1], [1], [1, 2])
                + grid([TileShape(bm: 128, bn: 128, wm: 1, wn: 4)], [64], [0], [1])
            var out: [TuneCandidate]
            switch m {
            case .some(let m) where m <= 64: out = forSmall
            case .some(let m) where m <= 512: out = forMid
            case .some: out = forBig
            case .none: out = forSmall + forMid + forBig
            }
            if (m ?? 65) > 64 { out += forDirect }
            var seen = Set<TuneCandidate>()
            return out.filter { seen.insert($0).inserted }
        case .tiled:
            return [TuneCandidate(kernel: .tiled)]
        }
    }

    /// Candidates kept out of sweeps and tables: matrix–vector configurations with more than 32
    /// accumulators per thread (columns × M rows), which need so many registers that their speed
    /// was erratic on the H200 (q4gsw M = 8, 8 columns: 44.8 µs in a tune, 121–188 µs medians in
    /// two suite runs, docs/results/README.md).
    public static func allowed(_ c: TuneCandidate, m: Int?) -> Bool {
        if let g = c.gemv, g.xreg != true, g.mma != true, g.sg != true, g.frag != true, let m, g.columns * m > 32 { return false }
        return true
    }

    /// Whether `plan` runs the kernel `c` names: a tensor-core or activations-in-registers
    /// candidate the dispatcher replaced by the column kernel (not applicable to the problem or
    /// device) would otherwise be timed under the wrong name.
    static func runs(_ c: TuneCandidate, _ plan: KernelPlan) -> Bool {
        guard let g = c.gemv else { return true }
        let family = plan.shader.origin.family
        if g.frag == true { return family.isRegisterFragment && family.stagesX == (g.xs == true) && family.quantizesInKernel == (g.fuseQuant == true || g.quantInDispatch == true) && family.usesSyncCounters == (g.quantInDispatch == true) && family.isPrefillForm == (g.xRows != nil) && (plan.tile.bLoad != 0) == (g.xLoad == true) && plan.tile.xStoreStep == (g.xStore ?? 0) && plan.tile.weightHalves == (g.weightHalves == true ? 1 : 0) }
        if g.mma == true { return family == .gemvMma || family == .gemvMmaSplitk }
        if g.xreg == true { return family == .gemvQ4Xreg }
        if g.sg == true { return family == .gemvQ4Sg || family == .gemvDq }
        return true
    }

    /// A small problem on which a candidate must pass the conformance comparison before it is timed.
    static func checkProblem(op: Op, m: Int, kernel: KernelKind) -> Problem {
        switch kernel {
        case .gemv: return Problem(op: op, m: m, n: 67, k: 512, groupSize: 128, act: .f16, bias: true)
        default: return Problem(op: op, m: 77, n: 131, k: 384, groupSize: 128, act: .f16, bias: true)
        }
    }

    /// Runs the sweep. `progress` gets one line per measurement. `timeLimitS`: no check or timing
    /// starts after that many seconds; what was not reached is recorded as "skipped: time limit",
    /// so a sweep that would outrun its GPU call still returns (and its report and table are
    /// written) instead of being killed with nothing saved.
    public static func run(_ ctx: QLinearContext, kernel: KernelKind, ops: [Op], shapes: [(m: Int, n: Int, k: Int)], group: Int,
                           settings: BenchSettings, varieties: Set<GemvVariety> = GemvVariety.defaults, timeLimitS: Double? = nil,
                           againstCurrent: Bool = false, only: [GemvConfig]? = nil, extraSplits: [Int] = [], direct: Bool = false,
                           progress: (String) -> Void) throws -> [TuneMeasurement] {
        let start = DispatchTime.now().uptimeNanoseconds
        var announced = false
        func outOfTime() -> Bool {
            guard let limit = timeLimitS else { return false }
            let over = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9 >= limit
            if over && !announced { announced = true; progress("time limit of \(limit) s reached: the rest is recorded as skipped") }
            return over
        }
        func candidates(_ kernel: KernelKind, floatOps: Bool, m: Int?, halfMath: Bool, op: Op) -> [TuneCandidate] {
            if kernel == .gemv, let only, !only.isEmpty { return only.map { TuneCandidate(kernel: .gemv, gemv: $0) } }
            return Tuner.candidates(kernel, floatOps: floatOps, m: m, halfMath: halfMath, tensorCores: op == .fp16 || op == .q4gsw, varieties: varieties,
                                    prefillForm: true, int8Prefill: op == .dq8ca_q8csw, int8Q4: op == .dq8ca_q4gsw, extraSplits: extraSplits, direct: direct && op == .fp16)
        }
        var out: [TuneMeasurement] = []
        // `--against-current` when the time limit leaves today's plan untimed: recorded, so the
        // table gives the case no rule.
        func untimedCurrent(_ op: Op, _ s: (m: Int, n: Int, k: Int)) -> TuneMeasurement {
            TuneMeasurement(op: op, m: s.m, n: s.n, k: s.k, candidate: TuneCandidate(kernel: kernel), medianUs: nil, minUs: nil, flags: [],
                            status: "skipped: time limit (today's plan not timed: no rule for this case)", current: true)
        }
        let pool = try ActivationPool(context: ctx, act: .f16)
        try Bench.warmUp(ctx, seconds: settings.firstWarmupS, settings: settings)
        var verdicts: [String: String] = [:]   // (op, check M, candidate) → "ok" / failure
        var rng = SplitMix64(seed: 0x7e57)
        let total = ops.count * shapes.count
        var done = 0
        // Correctness first, for every (op, check M, candidate): CPU-heavy, so it runs before any
        // timing (the GPU would cool down between checks), followed by a sustained re-warm.
        for op in ops {
            for m in Set(shapes.map { kernel == .gemv ? $0.m : 77 }).sorted() {
                var cands: [TuneCandidate] = []
                for sm in Set(shapes.map(\.m)).sorted() { for c in candidates(kernel, floatOps: op.floatMath, m: sm, halfMath: op == .q4gsw, op: op) where !cands.contains(c) { cands.append(c) } }
                for c in cands {
                    let options = c.options(ctx.options)
                    let small = checkProblem(op: op, m: m, kernel: kernel)
                    let vkey = "\(op.rawValue)|\(small.m)|\(c)"
                    if outOfTime() { verdicts[vkey] = "skipped: time limit"; continue }
                    switch Dispatcher.plan(kernel, small, caps: ctx.capabilities, options: options) {
                    case .failure(let why): verdicts[vkey] = "rejected: \(why.reason)"
                    case .success(let plan) where !Tuner.runs(c, plan):
                        verdicts[vkey] = "rejected: the dispatcher fell back to \(plan.shader.rawValue) here"
                    case .success:
                        let t0 = DispatchTime.now().uptimeNanoseconds
                        do {
                            // The prefill form runs only on fp16-valued scales (LinearLayer.plan).
                            let scales: DType? = c.gemv?.xRows != nil ? .f16 : nil
                            let r = try CheckCase.random(problem: small, rng: &rng, scales: scales).run(on: ctx, kernel: kernel, options: options)
                            verdicts[vkey] = r.passed ? "ok" : "wrong: \(r.summary)"
                        } catch { verdicts[vkey] = "error: \(error)" }
                        // Pipeline compiles dominate here: show each, so a slow one is visible.
                        let secs: Double = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
                        let verdict: String = verdicts[vkey] ?? ""
                        progress("checked \(op.rawValue) M=\(small.m) \(c.description): \(verdict) (\(fmtUs(secs)) s)")
                    }
                }
            }
        }
        progress("checked \(verdicts.count) configurations: \(verdicts.values.filter { $0 == "ok" }.count) ok, \(verdicts.values.filter { $0.hasPrefix("rejected") }.count) rejected by the dispatcher, \(verdicts.values.filter { $0.hasPrefix("wrong") || $0.hasPrefix("error") }.count) wrong\(verdicts.values.contains { $0.hasPrefix("skipped") } ? ", \(verdicts.values.filter { $0.hasPrefix("skipped") }.count) skipped" : "")")
        if !outOfTime() { try Bench.warmUp(ctx, seconds: settings.firstWarmupS, settings: settings) }
        for op in ops {
            var byNK: [String: BenchWeights] = [:]
            for s in shapes {
                done += 1
                let p = Problem(op: op, m: s.m, n: s.n, k: s.k, groupSize: group, act: .f16)
                try p.validate()
                let key = "\(s.n)x\(s.k)"
                if outOfTime() {
                    for c in candidates(kernel, floatOps: op.floatMath, m: s.m, halfMath: op == .q4gsw, op: op) {
                        out.append(TuneMeasurement(op: op, m: s.m, n: s.n, k: s.k, candidate: c, medianUs: nil, minUs: nil, flags: [], status: "skipped: time limit"))
                    }
                    if againstCurrent { out.append(untimedCurrent(op, s)) }
                    progress("[\(done)/\(total)] \(op.rawValue) \(s.m)x\(s.n)x\(s.k): skipped (time limit)")
                    continue
                }
                if byNK[key] == nil {
                    byNK = [:]   // free the previous shape's weights first
                    let probe = try Bench.randomWeights(op: op, n: s.n, k: s.k, group: group, seed: 1)
                    byNK[key] = try BenchWeights(context: ctx, op: op, n: s.n, k: s.k, group: group, act: .f16,
                                                 sets: BenchWeights.sets(formatBytes: probe.formatBytes, settings: settings))
                    // Preparing weights leaves the GPU idle: bring clocks back up before timing.
                    try Bench.warmUp(ctx, seconds: min(0.5, settings.firstWarmupS), settings: settings)
                }
                guard let weights = byNK[key] else { continue }
                let buffers = try CaseBuffers(weights, m: s.m, settings: settings, pool: pool)
                for c in candidates(kernel, floatOps: op.floatMath, m: s.m, halfMath: op == .q4gsw, op: op) {
                    var meas = TuneMeasurement(op: op, m: s.m, n: s.n, k: s.k, candidate: c, medianUs: nil, minUs: nil, flags: [], status: "ok")
                    let options = c.options(ctx.options)
                    let small = checkProblem(op: op, m: kernel == .gemv ? s.m : 77, kernel: kernel)
                    let vkey = "\(op.rawValue)|\(small.m)|\(c)"
                    let verdict = verdicts[vkey] ?? "error: not checked"   // the pre-pass covers every key
                    if verdict == "ok" && outOfTime() {
                        meas.status = "skipped: time limit"
                    } else if verdict != "ok" {
                        meas.status = verdict
                    } else {
                        switch Dispatcher.plan(kernel, p, caps: ctx.capabilities, options: options) {
                        case .failure(let why): meas.status = "rejected: \(why.reason)"
                        case .success(let plan) where !Tuner.runs(c, plan):
                            meas.status = "rejected: the dispatcher fell back to \(plan.shader.rawValue) here"
                        case .success(let plan):
                            // The statistics first: their capture pipeline compiles with the GPU
                            // idle, so a long compile gets the longer re-warm before the timing
                            // (after the timing it left the next candidate to start cold).
                            let t0 = DispatchTime.now().uptimeNanoseconds
                            meas.statistics = try? ctx.statisticsSummary(for: plan)
                            let idle = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
                            do {
                                let r = try Bench.run(weights, m: s.m, kernel: kernel, settings: settings, ceilings: nil, pool: pool,
                                                      minWarmS: idle > Bench.longIdleS ? min(Bench.rewarmS, settings.firstWarmupS) : nil, plan: plan, buffers: buffers)
                                meas.medianUs = r.medianUs; meas.minUs = r.minUs; meas.flags = r.flags
                            } catch { meas.status = "error: \(error)" }
                        }
                    }
                    out.append(meas)
                    let stats = (meas.statistics ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\(Int($0.value))" }.joined(separator: " ")
                    progress("measured \(op.rawValue) \(s.m)x\(s.n)x\(s.k) | \(c) | \(meas.medianUs.map { fmtUs($0) } ?? "-") µs | \(meas.status)\(stats.isEmpty ? "" : " | " + stats)")
                }
                let best = out.filter { $0.op == op && $0.m == s.m && $0.n == s.n && $0.k == s.k && $0.medianUs != nil && $0.current != true }
                    .min { $0.medianUs! < $1.medianUs! }
                var against = ""
                if againstCurrent && outOfTime() {
                    // Not timed: recorded, so the table gives this case no rule (a sweep cut short
                    // cannot claim it beat today's plan — session 16 committed no such rule after a
                    // time-limited sweep's best, 1.8× slower than today's plan, became one on the GPU).
                    out.append(untimedCurrent(op, s))
                    against = "; today's plan not timed (time limit): no rule"
                } else if againstCurrent {
                    // Today's plan (base table, any kernel kind), timed the same way right after.
                    var meas = TuneMeasurement(op: op, m: s.m, n: s.n, k: s.k, candidate: TuneCandidate(kernel: kernel), medianUs: nil, minUs: nil, flags: [], status: "", current: true)
                    let decision = ctx.decide(p)
                    if let plan = decision.chosen {
                        meas.candidate = TuneCandidate(kernel: plan.kernel)
                        meas.status = "current: \(plan.shader.rawValue) \(Bench.compactTile(plan.tile))\(plan.tuning.map { " (\($0))" } ?? "")"
                        do {
                            let r = try Bench.run(weights, m: s.m, kernel: nil, settings: settings, ceilings: nil, pool: pool, plan: plan, buffers: buffers)
                            meas.medianUs = r.medianUs; meas.minUs = r.minUs; meas.flags = r.flags
                        } catch { meas.status = "error: current plan: \(error)" }
                    } else { meas.status = "error: no current plan: \(decision.why.joined(separator: "; "))" }
                    out.append(meas)
                    against = "; \(meas.status) \(meas.medianUs.map { fmtUs($0) } ?? "-") µs"
                }
                progress("[\(done)/\(total)] \(op.rawValue) \(s.m)x\(s.n)x\(s.k): best \(best.map { "\($0.candidate) \(fmtUs($0.medianUs!)) µs" } ?? "none")\(against)")
            }
        }
        return out
    }

    static func fmtUs(_ v: Double) -> String {
        guard v.isFinite, abs(v) < 1e15 else { return String(v) }
        return String(Double(Int(v * 10)) / 10)
    }

    /// A tuning table from measurements: per op and measured M (covering M up to it from the
    /// previous measured M), one rule per measured (N, K) with the fastest candidate, then a
    /// fallback rule with the candidate whose geometric-mean slowdown against the best is least.
    /// Rules for the other kernel kinds are kept from `base`. Deterministic for the same data.
    /// `keepBase`: the new rules cover only the measured M range (from the smallest measured M to
    /// the largest) and the base table's rules for the same ops follow them (first match wins),
    /// so a sweep at some M values refines a table instead of replacing it. `extendUp` (with
    /// `keepBase`): each op's rules for its largest measured M also cover every larger M.
    /// `extendDownTo` (with `keepBase`): each op's rules for its smallest measured M also cover the
    /// M values from this one up (a sweep at M = 16 speaking for M = 9…16; never above that M).
    public static func table(from ms: [TuneMeasurement], kernel: KernelKind, base: TuningTable, name: String,
                             match: DeviceMatch?, provenance: String, keepBase: Bool = false, extendUp: Bool = false,
                             extendDownTo: Int? = nil) -> TuningTable {
        var coop: [TuningRule] = kernel == .coopmat ? [] : base.coopmat
        var gemv: [GemvRule] = kernel == .gemv ? [] : (base.gemv ?? [])
        // `--against-current` entries: today's plan per case. A case whose best candidate did not
        // beat it gets no rule, and its M gets no any-shape fallback rule (the sweep lost there).
        // A case whose entry has no time (time limit, error) gets no rule either: nothing says the
        // sweep beat today's plan there.
        var currentUs: [String: Double] = [:]
        var currentSeen = Set<String>()
        for c in ms where c.current == true {
            currentSeen.insert("\(c.op.rawValue)|\(c.m)|\(c.n)x\(c.k)")
            if let t = c.medianUs { currentUs["\(c.op.rawValue)|\(c.m)|\(c.n)x\(c.k)"] = t }
        }
        let ok = ms.filter { $0.medianUs != nil && $0.current != true && allowed($0.candidate, m: $0.m) }
        for op in Op.allCases {
            let mine = ok.filter { $0.op == op }
            let mValues = Array(Set(mine.map(\.m))).sorted()
            for (i, m) in mValues.enumerated() {
                let lo = i == 0 ? (keepBase ? min(max(extendDownTo ?? m, 1), m) : 1) : mValues[i - 1] + 1
                let hi: Int? = i == mValues.count - 1 && (!keepBase || extendUp) ? nil : m
                let atM = mine.filter { $0.m == m }
                let shapes = Array(Set(atM.map { "\($0.n)x\($0.k)" })).sorted()
                var bestPer: [String: Double] = [:]
                // A case of this M whose current plan went untimed — with or without candidates
                // timed — keeps any-shape rules from being written over it.
                var lostSomewhere = currentSeen.contains { $0.hasPrefix("\(op.rawValue)|\(m)|") && currentUs[$0] == nil }
                for sh in shapes {
                    let rows = atM.filter { "\($0.n)x\($0.k)" == sh }
                    guard let best = rows.min(by: { ($0.medianUs!, $0.candidate.description) < ($1.medianUs!, $1.candidate.description) }) else { continue }
                    bestPer[sh] = best.medianUs!
                    let key = "\(op.rawValue)|\(m)|\(sh)"
                    if let cur = currentUs[key], best.medianUs! >= cur { lostSomewhere = true; continue }
                    if currentSeen.contains(key) && currentUs[key] == nil { lostSomewhere = true; continue }
                    let cond = TuningConditions(m: Bounds(lo, hi), n: Bounds(best.n, best.n), k: Bounds(best.k, best.k))
                    let note = "\(fmtUs(best.medianUs!)) µs at M=\(m)"
                    if kernel == .gemv, let g = best.candidate.gemv { gemv.append(GemvRule(ops: [op], when: cond, config: g, note: note)) }
                    if kernel == .coopmat, let t = best.candidate.tile { coop.append(TuningRule(ops: [op], when: cond, tile: t, kStep: best.candidate.kStep, buffers: best.candidate.buffers, splitK: best.candidate.splitK, swizzle: best.candidate.swizzle, prefetch: best.candidate.prefetch, note: note)) }
                }
                // Fallback for other shapes at this M: least geometric-mean slowdown over the shapes measured.
                let cands = Array(Set(atM.map(\.candidate))).sorted { $0.description < $1.description }
                var bestCand: TuneCandidate?, bestScore = Double.infinity
                for c in cands {
                    var logSum = 0.0, n = 0
                    for sh in shapes {
                        guard let t = atM.first(where: { $0.candidate == c && "\($0.n)x\($0.k)" == sh })?.medianUs, let b = bestPer[sh] else { logSum = .infinity; break }
                        logSum += log(t / b); n += 1
                    }
                    let score = n > 0 ? logSum / Double(n) : .infinity
                    if score < bestScore { bestScore = score; bestCand = c }
                }
                // Refining a base table, one measured shape says nothing about the others: its
                // fallback would shadow the base's rules for every other shape at these M.
                if let c = bestCand, !lostSomewhere, !(keepBase && shapes.count < 2) {
                    let cond = TuningConditions(m: Bounds(lo, hi))
                    let note = "fallback: geometric-mean slowdown \(fmtUs(100 * (exp(bestScore) - 1)))% over \(shapes.count) shapes at M=\(m)"
                    if kernel == .gemv, let g = c.gemv { gemv.append(GemvRule(ops: [op], when: cond, config: g, note: note)) }
                    if kernel == .coopmat, let t = c.tile { coop.append(TuningRule(ops: [op], when: cond, tile: t, kStep: c.kStep, buffers: c.buffers, splitK: c.splitK, swizzle: c.swizzle, prefetch: c.prefetch, note: note)) }
                }
            }
        }
        // Ops this sweep did not measure keep their rules from `base`; so does a catch-all.
        let measured = Set(ok.map(\.op))
        func untouched(_ ops: [Op]?) -> Bool { ops.map { Set($0).isDisjoint(with: measured) } ?? false }
        if kernel == .coopmat { coop += base.coopmat.filter { keepBase || untouched($0.ops) || ($0.when == nil && $0.ops == nil) } }
        if kernel == .gemv { gemv += (base.gemv ?? []).filter { keepBase || untouched($0.ops) } }
        return TuningTable(name: name, match: match, provenance: provenance, coopmat: coop, gemv: gemv.isEmpty ? nil : gemv, quant: base.quant)
    }
}

