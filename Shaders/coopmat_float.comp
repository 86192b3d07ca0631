#version 450
#extension GL_GOOGLE_include_directive : require
// Cooperative-matrix (tensor-core) kernel for float-math linear layers:
//   WEIGHT_F16: W float16 [N, ldw];  WEIGHT_Q4: W uint words [N, ldw] of 8 INT4 (zero point 8),
//   scales float [N, K/G], dequantized to fp16 while staging into shared memory.
// fp16 × fp16 MMA with fp32 accumulation. The MMA shape TM×TN×TK, the workgroup tile BM×BN×BK,
// the subgroup grid WM×WN and the shared-memory buffering NBUF are specialization constants
// chosen on the host (tuning table). Any M, N, K: tiles are zero-filled past the edges and the
// epilogue writes through a per-subgroup staging area with bounds checks (bias fused there).
//
// Main loop (docs/DESIGN.md "Cooperative-matrix kernels"):
// - the next K step's global data is fetched into registers before this step's MMAs are issued,
//   and stored to shared memory after them;
// - NBUF = 2: that store goes to the other shared buffer, so one barrier per K step suffices;
//   NBUF = 1: a second barrier guards the single buffer (less shared memory, bigger tiles);
// - a workgroup whose tile lies inside M, N and K (and whose rows are 16-byte aligned) takes
//   the interior path: no per-element bounds checks in its loads;
// - SPLITK (split-K family): workgroup z covers K range [z·kSlice, (z+1)·kSlice) (push constant
//   kSlice, a multiple of BK) and writes fp32 partial sums to P[z][M][N] without bias;
//   splitk_reduce.comp adds the slices and the bias. kSlice = 0 means the whole K.
// - each buffer is declared once, as a 16-byte vector view: a second (scalar) view of the same
//   binding halved throughput on the H100; scalar reads go through the vector view;
// - accumulators are only indexed in fully unrolled loops;
// - NBUF = 2: one barrier per step, the buffer index a variable (faster than constant-index
//   orders on the H100);
// - the epilogue's staging tiles reuse the operand buffer (no shared memory of their own);
// - PD = 2 (NBUF = 1): two K steps of global loads in flight (two register sets): a step is staged one
//   step after its loads were issued (measured on the H100: with one step in flight the loads
//   and staging alone took 245 of 314 µs at M = 2048, 4096², the MMAs alone 135);
// - NBUF = 1: the loop over K steps calls kStep twice per iteration (parities 0, 1), so
//   register-set indices are constants once inlined;
// - SWZ > 1: workgroups are walked in groups of SWZ tile rows (down M first, then along N), so a
//   wave of workgroups shares its weight and activation tiles in L2;
// - ABL (diagnostics only, results are wrong): 1 = no global loads, 2 = no MMAs, 4 = no shared
//   stores and no barriers in the loop; `qlinear bench --ablate` times the parts of the loop.
#include "common.glsl"
#extension GL_KHR_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_KHR_shader_subgroup_basic : require

layout(local_size_x_id = 3) in;
layout(constant_id = 0) const uint BM = 128;
layout(constant_id = 1) const uint BN = 64;
layout(constant_id = 2) const uint BK = 32;
layout(constant_id = 3) const uint WG = 128;
layout(constant_id = 4) const uint WM = 2;     // subgroups along M
layout(constant_id = 5) const uint WN = 2;     // subgroups along N
layout(constant_id = 6) const uint TM = 16;
layout(constant_id = 7) const uint TN = 16;
layout(constant_id = 8) const uint TK = 16;
layout(constant_id = 9) const uint SGS = 32;   // subgroup size the pipeline runs with
layout(constant_id = 10) const uint NBUF = 2;  // shared-memory buffers (1 or 2)
layout(constant_id = 11) const uint SWZ = 1;    // tile rows per raster group (1 = row by row)
layout(constant_id = 12) const uint ABL = 0;    // diagnostics: see above (0 in every real plan)
layout(constant_id = 13) const uint PD = 1;     // K steps of global loads in flight (1 or 2)
layout(constant_id = 14) const uint QV = 0;     // WEIGHT_Q4: 1 = one 16-byte load (32 values) and one
                                                // group scale per prefetch slot (the host sets it when
                                                // G, K and BK are multiples of 32); 0 = a word per 8 values

const uint SM = BM / WM;                        // rows per subgroup
const uint SN = BN / WN;                        // columns per subgroup
const uint RM = SM / TM;
const uint RN = SN / TN;
const uint LDS = BK + 8;                        // shared row stride in halves (16-byte multiple)
const uint LDS4 = LDS / 8;                      // … in uvec4
const uint NSG = WM * WN;
const uint KC = BK / 8;                         // 8-value chunks per row per K step
const uint CA = BM * KC;                        // chunks per A tile
#ifdef WEIGHT_Q4
const uint BKC = QV == 1u ? BK / 32u : KC;      // B loads per weight row per K step
#else
const uint BKC = KC;
#endif
const uint CB = BN * BKC;                       // B loads per tile
const uint ABUF = BM * LDS4;                    // uvec4 per shared A buffer
const uint BBUF = BN * LDS4;
const uint MAXC = 8;                            // register prefetch slots per thread (host checks)
const uint FA = (CA + WG - 1) / WG;             // slots used for A, for B
const uint FB = (CB + WG - 1) / WG;

#ifdef ACT_F16
layout(binding = 0) readonly buffer XBuf { uvec4 X4[]; };
#else
layout(binding = 0) readonly buffer XBuf { vec4 X4[]; };
#endif
layout(binding = 1) readonly buffer WBuf { uvec4 W4[]; };
layout(binding = 2) readonly buffer SBuf { float S[]; };
layout(binding = 3) readonly buffer BiasBuf { ACT_T BIAS[]; };
#ifdef SPLITK
layout(binding = 4) writeonly buffer PBuf { float P[]; };
#else
layout(binding = 4) writeonly buffer YBuf { ACT_T Y[]; };
#endif

// The epilogue's per-subgroup TM×TN fp32 staging tiles (NSG·TM·TN/4 uvec4) reuse As after the
// main loop, so As is at least that large.
const uint CS4 = NSG * TM * TN / 4;
shared uvec4 As[NBUF * ABUF > CS4 ? NBUF * ABUF : CS4];
shared uvec4 Bs[NBUF * BBUF];

uvec4 pack8(float v0, float v1, float v2, float v3, float v4, float v5, float v6, float v7) {
    return uvec4(packFloat2x16(f16vec2(v0, v1)), packFloat2x16(f16vec2(v2, v3)),
                 packFloat2x16(f16vec2(v4, v5)), packFloat2x16(f16vec2(v6, v7)));
}

// Activation element i (flat index) through the vector view.
float xAt(uint i) {
#ifdef ACT_F16
    const uint w = X4[i >> 3][(i >> 1) & 3u];
    return unpackHalf2x16(w)[i & 1u];
#else
    return X4[i >> 2][i & 3u];
#endif
}

// 8 consecutive activations (row gm, k = gk..gk+7) as 8 halves in a uvec4. `inside`: the
// caller guarantees gm < M, gk + 8 <= K and 16-byte aligned rows (interior tiles).
uvec4 loadX8(uint gm, uint gk, bool inside, bool vec) {
    const uint base = gm * pc.ldx + gk;
#ifdef ACT_F16
    if (inside) return X4[base / 8];
#else
    if (inside) { const vec4 a = X4[base / 4], b = X4[base / 4 + 1]; return pack8(a.x, a.y, a.z, a.w, b.x, b.y, b.z, b.w); }
#endif
    if (gm >= pc.M || gk >= pc.K) return uvec4(0);
    if (vec && gk + 8 <= pc.K) {
#ifdef ACT_F16
        return X4[base / 8];
#else
        const vec4 a = X4[base / 4], b = X4[base / 4 + 1];
        return pack8(a.x, a.y, a.z, a.w, b.x, b.y, b.z, b.w);
#endif
    }
    float v[8];
    [[unroll]] for (uint i = 0; i < 8; ++i) v[i] = gk + i < pc.K ? xAt(base + i) : 0.0;
    return pack8(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]);
}

#ifdef WEIGHT_Q4
// Raw INT4 word (8 values) for row gn at k = gk (a multiple of 8), and its group scale.
uint loadWRaw(uint gn, uint gk, bool inside, out float s) {
    if (!inside && (gn >= pc.N || gk >= pc.K)) { s = 0.0; return 0x88888888u; }
    const uint i = gn * pc.ldw + gk / 8;
    s = S[gn * (pc.K / pc.G) + gk / pc.G];
    return W4[i >> 2][i & 3u];
}
// QV = 1: 32 values of row gn at k = gk (a multiple of 32; K is one too, and ldw a multiple of 4
// words) in one 16-byte load, and their one group scale (G is a multiple of 32).
uvec4 loadWRaw32(uint gn, uint gk, bool inside, out float s) {
    if (!inside && (gn >= pc.N || gk >= pc.K)) { s = 0.0; return uvec4(0x88888888u); }
    s = S[gn * (pc.K / pc.G) + gk / pc.G];
    return W4[(gn * pc.ldw + gk / 8) / 4];
}
uvec4 dequant8(uint word, float s) {
    float v[8];
    [[unroll]] for (uint i = 0; i < 8; ++i) v[i] = float(int((word >> (4 * i)) & 15u) - 8) * s;
    return pack8(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]);
}
#else
uvec4 loadW8(uint gn, uint gk, bool inside, bool vec) {
    const uint base = gn * pc.ldw + gk;
    if (inside) return W4[base / 8];
    if (gn >= pc.N || gk >= pc.K) return uvec4(0);
    if (vec && gk + 8 <= pc.K) return W4[base / 8];
    float v[8];
    [[unroll]] for (uint i = 0; i < 8; ++i) {
        const uint j = base + i;
        v[i] = gk + i < pc.K ? unpackHalf2x16(W4[j >> 3][(j >> 1) & 3u])[j & 1u] : 0.0;
    }
    return pack8(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]);
}
#endif

// Register prefetch (global → registers): PD sets of one K step each; set s holds the step
// fetched at parity s (PD = 2: two steps in flight, data staged one step after it arrives).
// (Sized by PD: with PD = 1 the second set does not exist at all.)
uvec4 pa[PD * MAXC];
#ifdef WEIGHT_Q4
uvec4 pw[PD * MAXC];                            // raw INT4: .x only unless QV = 1
float ps[PD * MAXC];
#else
uvec4 pb[PD * MAXC];
#endif

// Whether prefetch slot t (element i = tid + t·WG) of this thread holds A / B data. The
// double-buffered loop keeps the plain check: the pruned form (no slots past FA/FB, no check
// when WG divides the count) made q4gsw's double-buffered split-K rules 12–16% slower on the
// H100 (docs/results/h100-coopmat-regression-bisect-2026-11-26.json).
bool slotA(uint t, uint i) { return NBUF == 2u ? i < CA : t < FA && (CA % WG == 0u || i < CA); }
bool slotB(uint t, uint i) { return NBUF == 2u ? i < CB : t < FB && (CB % WG == 0u || i < CB); }

// Step k into prefetch set s (a constant at every call site).
void fetch(const uint s, uint tid, uint m0, uint n0, uint k, bool inside, bool xvec, bool wvec) {
    if ((ABL & 1u) != 0u) return;
    [[unroll]] for (uint t = 0; t < MAXC; ++t) {
        const uint i = tid + t * WG;
        if (slotA(t, i)) pa[s * MAXC + t] = loadX8(m0 + i / KC, k + 8 * (i % KC), inside, xvec);
#ifdef WEIGHT_Q4
        if (slotB(t, i)) {
            if (QV == 1u) pw[s * MAXC + t] = loadWRaw32(n0 + i / BKC, k + 32 * (i % BKC), inside, ps[s * MAXC + t]);
            else pw[s * MAXC + t].x = loadWRaw(n0 + i / KC, k + 8 * (i % KC), inside, ps[s * MAXC + t]);
        }
#else
        if (slotB(t, i)) pb[s * MAXC + t] = loadW8(n0 + i / KC, k + 8 * (i % KC), inside, wvec);
#endif
    }
}

// Prefetch set s → shared buffer `buf`.
void stage(const uint s, uint tid, const uint buf) {
    [[unroll]] for (uint t = 0; t < MAXC; ++t) {
        const uint i = tid + t * WG;
        if (slotA(t, i)) As[buf * ABUF + (i / KC) * LDS4 + i % KC] = pa[s * MAXC + t];
#ifdef WEIGHT_Q4
        if (slotB(t, i)) {
            if (QV == 1u) {
                const uint b = buf * BBUF + (i / BKC) * LDS4 + 4u * (i % BKC);
                [[unroll]] for (uint j = 0; j < 4; ++j) Bs[b + j] = dequant8(pw[s * MAXC + t][j], ps[s * MAXC + t]);
            } else {
                Bs[buf * BBUF + (i / KC) * LDS4 + i % KC] = dequant8(pw[s * MAXC + t].x, ps[s * MAXC + t]);
            }
        }
#else
        if (slotB(t, i)) Bs[buf * BBUF + (i / KC) * LDS4 + i % KC] = pb[s * MAXC + t];
#endif
    }
}

// This subgroup's accumulators (module scope so kStep can update them; one per MMA tile).
coopmat<float, gl_ScopeSubgroup, TM, TN, gl_MatrixUseAccumulator> acc[RM * RN];

// This subgroup's MMAs over the K step held in shared buffer `buf`.
void mmas(uint buf, uint sm0, uint sn0) {
    [[unroll]] for (uint kk = 0; kk < BK; kk += TK) {
        coopmat<float16_t, gl_ScopeSubgroup, TM, TK, gl_MatrixUseA> a[RM];
        [[unroll]] for (uint i = 0; i < RM; ++i)
            coopMatLoad(a[i], As, buf * ABUF + (sm0 + i * TM) * LDS4 + kk / 8, LDS4, gl_CooperativeMatrixLayoutRowMajor);
        [[unroll]] for (uint j = 0; j < RN; ++j) {
            coopmat<float16_t, gl_ScopeSubgroup, TK, TN, gl_MatrixUseB> b;
            coopMatLoad(b, Bs, buf * BBUF + (sn0 + j * TN) * LDS4 + kk / 8, LDS4, gl_CooperativeMatrixLayoutColumnMajor);
            [[unroll]] for (uint i = 0; i < RM; ++i) acc[i * RN + j] = coopMatMulAdd(a[i], b, acc[i * RN + j]);
        }
    }
}

// One single-buffered K step k of parity h (a constant at both call sites): issue the loads PD
// steps ahead (into register set h % PD), the MMAs, a barrier, stage step k + BK (loaded PD − 1
// steps ago, set (h + 1) % PD), a barrier.
void kStep(const uint h, uint k, uint kEnd, uint tid, uint m0, uint n0, uint sm0, uint sn0, bool inside, bool xvec, bool wvec) {
    const uint kf = k + PD * BK;
    if (kf < kEnd) fetch(h % PD, tid, m0, n0, kf, inside, xvec, wvec);   // in flight during the MMAs
    if ((ABL & 2u) == 0u) mmas(0u, sm0, sn0);
    if ((ABL & 4u) == 0u) {
        barrier();                                  // everyone has read the single buffer
        if (k + BK < kEnd) stage((h + 1u) % PD, tid, 0u);
        barrier();                                  // the staged step is visible
    }
}

void main() {
    const uint tid = gl_LocalInvocationID.x;
    const uint sg = gl_SubgroupID;
    const uint lane = gl_SubgroupInvocationID;
    // Output tile of this workgroup (SWZ: grouped raster order, see above).
    uint tileM = gl_WorkGroupID.y, tileN = gl_WorkGroupID.x;
    if (SWZ > 1u) {
        const uint gx = gl_NumWorkGroups.x, gy = gl_NumWorkGroups.y;
        const uint lin = gl_WorkGroupID.y * gx + gl_WorkGroupID.x;
        const uint first = (lin / (SWZ * gx)) * SWZ;
        const uint rows = min(gy - first, SWZ);
        const uint r = lin % (SWZ * gx);
        tileM = first + r % rows;
        tileN = r / rows;
    }
    const uint m0 = tileM * BM;
    const uint n0 = tileN * BN;
    const uint sm0 = (sg / WN) * SM;
    const uint sn0 = (sg % WN) * SN;
#ifdef ACT_F16
    const bool xvec = (pc.ldx % 8) == 0;
#else
    const bool xvec = (pc.ldx % 4) == 0;
#endif
    const bool wvec = (pc.ldw % 8) == 0;
    // Interior tile: every load of every step is in range and 16-byte aligned (uniform).
    const bool inside = m0 + BM <= pc.M && n0 + BN <= pc.N && pc.K % BK == 0u && xvec
#ifdef WEIGHT_Q4
        && true;
#else
        && wvec;
#endif

    [[unroll]] for (uint i = 0; i < RM * RN; ++i) acc[i] = coopmat<float, gl_ScopeSubgroup, TM, TN, gl_MatrixUseAccumulator>(0.0);

    if ((ABL & 1u) != 0u) {
        [[unroll]] for (uint t = 0; t < PD * MAXC; ++t) {
            pa[t] = uvec4(0x3c003c00u);
#ifdef WEIGHT_Q4
            pw[t] = uvec4(0x99999999u); ps[t] = 1.0;
#else
            pb[t] = uvec4(0x3c003c00u);
#endif
        }
    }
    const uint kBeg = gl_WorkGroupID.z * pc.kSlice;
    const uint kEnd = pc.kSlice == 0u ? pc.K : min(pc.K, kBeg + pc.kSlice);
    fetch(0u, tid, m0, n0, kBeg, inside, xvec, wvec);
    stage(0u, tid, 0u);
    if (NBUF == 1u && PD == 2u && kBeg + BK < kEnd) fetch(1u, tid, m0, n0, kBeg + BK, inside, xvec, wvec);
    barrier();

    if (NBUF == 2u) {
        // Double buffering: load the next step, the MMAs on buffer `buf`, stage into the other
        // buffer, one barrier. The buffer index stays a variable: orders with constant indices
        // (unrolled, or staging first) measured slower on the H100 (docs/DESIGN.md).
        uint buf = 0u;
        for (uint k0 = kBeg; k0 < kEnd; k0 += BK) {
            const bool more = k0 + BK < kEnd;
            if (more) fetch(0u, tid, m0, n0, k0 + BK, inside, xvec, wvec);   // in flight during the MMAs
            if ((ABL & 2u) == 0u) mmas(buf, sm0, sn0);
            if ((ABL & 4u) == 0u) {
                if (more) stage(0u, tid, buf ^ 1u);
                barrier();                          // the staged step is visible
            }
            buf ^= 1u;
        }
    } else {
        // Two steps per iteration (parities 0 and 1), so every call of kStep has constant
        // register-set indices once inlined.
        for (uint k0 = kBeg; k0 < kEnd; k0 += 2 * BK) {
            kStep(0u, k0, kEnd, tid, m0, n0, sm0, sn0, inside, xvec, wvec);
            if (k0 + BK < kEnd) kStep(1u, k0 + BK, kEnd, tid, m0, n0, sm0, sn0, inside, xvec, wvec);
        }
    }

    // Epilogue: one accumulator at a time through this subgroup's TM×TN staging tile, which
    // reuses As (every subgroup is past its last read of the operands).
    barrier();
    const uint cbase = sg * TM * TN;
    [[unroll]] for (uint i = 0; i < RM; ++i) {
        [[unroll]] for (uint j = 0; j < RN; ++j) {
            coopMatStore(acc[i * RN + j], As, cbase / 4, TN / 4, gl_CooperativeMatrixLayoutRowMajor);
            subgroupMemoryBarrierShared();
            subgroupBarrier();
            [[unroll]] for (uint e0 = 0; e0 < TM * TN; e0 += SGS) {
                const uint e = e0 + lane;
                const uint gm = m0 + sm0 + i * TM + e / TN;
                const uint gn = n0 + sn0 + j * TN + e % TN;
                if (e < TM * TN && gm < pc.M && gn < pc.N) {
                    float v = uintBitsToFloat(As[(cbase + e) >> 2][(cbase + e) & 3u]);
#ifdef SPLITK
                    P[(gl_WorkGroupID.z * pc.M + gm) * pc.N + gn] = v;
#else
                    if (pc.hasBias != 0u) v += float(BIAS[gn]);
                    Y[gm * pc.N + gn] = ACT_T(v);
#endif
                }
            }
            subgroupMemoryBarrierShared();
            subgroupBarrier();
        }
    }
}
