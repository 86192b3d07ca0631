#version 450
#extension GL_GOOGLE_include_directive : require
// Cooperative-matrix kernel for the integer linear layers (dq8ca_q4gsw, dq8ca_q8csw).
// A: int8 activations from quant_act.comp, [M, ldx words] (4 per word, rows padded with zeros).
// B: WEIGHT_Q4 — INT4 nibbles widened to int8 (q − 8) while staging into shared memory;
//    WEIGHT_Q8 — int8 words [N, ldw], rows padded with zeros.
// int8 × int8 → int32 MMA over each quantization group (the whole padded K for Q8); at each
// group end the int32 accumulators are converted and folded into fp32 accumulators with an
// element-wise product by a tile of the group's weight scales (rows replicated in shared memory):
//   acc += ws[n,g] ∘ float(Σ_k∈g qx·qw)
// The zero-point correction is hoisted out of the loop: Σ_g ws·zp·Σqw = zp[m] · corr[n] with
// corr[n] = Σ_g ws[n,g]·Σ_k∈g qw precomputed at pack time, so the epilogue writes
//   y = sx[m] · (acc − zp[m] · corr[n]) (+ bias)    with bounds checks. Shapes and tiles are
// specialization constants chosen on the host from the device's cooperative-matrix properties.
// Main loop as in coopmat_float.comp: register prefetch of the next step before the MMAs, NBUF
// shared buffers (2: one barrier per step), an interior path without bounds checks; INT4 weights
// come in one 16-byte load per 32 values; the next group's scales (one per column) are fetched
// with the step's loads and staged, replicated over TM rows, into a double-buffered tile
// alongside the step that starts their group.
// SWZ raster groups and the ABL diagnostics as in coopmat_float.comp; the shared-buffer index is a
// variable (an unrolled loop with constant indices was no faster for single buffering on the
// H100 and double buffering with constant indices was slower in the float kernel).
// SPLITK (split-K family): workgroup z covers K range [z·kSlice, (z+1)·kSlice) (kSlice a multiple
// of BK and of the group) and writes the unscaled fp32 sums (acc above) to P[z][M][N];
// splitk_reduce.comp (INT_MATH) adds the slices and applies sx, zp·corr and the bias.
#include "common.glsl"
#extension GL_KHR_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_KHR_shader_subgroup_basic : require

layout(local_size_x_id = 3) in;
layout(constant_id = 0) const uint BM = 128;
layout(constant_id = 1) const uint BN = 64;
layout(constant_id = 2) const uint BK = 32;    // k per step, in int8 values; divides G
layout(constant_id = 3) const uint WG = 128;
layout(constant_id = 4) const uint WM = 2;
layout(constant_id = 5) const uint WN = 2;
layout(constant_id = 6) const uint TM = 16;
layout(constant_id = 7) const uint TN = 16;
layout(constant_id = 8) const uint TK = 32;
layout(constant_id = 9) const uint SGS = 32;
layout(constant_id = 10) const uint NBUF = 2;  // shared-memory buffers (1 or 2)
layout(constant_id = 11) const uint SWZ = 1;    // tile rows per raster group (1 = row by row)
layout(constant_id = 12) const uint ABL = 0;    // diagnostics (coopmat_float.comp); 0 in real plans

const uint SM = BM / WM;
const uint SN = BN / WN;
const uint RM = SM / TM;
const uint RN = SN / TN;
const uint LDS = BK + 16;                       // shared row stride in bytes (16-byte multiple)
const uint LDS4 = LDS / 16;                     // … in uvec4
const uint NSG = WM * WN;
const uint KC = BK / 16;                        // 16-byte chunks per row per K step
const uint CA = BM * KC;                        // chunks per A tile
const uint CB = BN * KC;
const uint ABUF = BM * LDS4;                    // uvec4 per shared A buffer
const uint BBUF = BN * LDS4;
const uint MAXC = 8;                            // register prefetch slots per thread (host checks)
const uint FA = (CA + WG - 1) / WG;             // slots used for A, for B
#ifdef WEIGHT_Q4
const uint KQ = BK / 32;                        // 16-byte INT4 loads (32 values) per weight row per step
const uint CBL = BN * KQ;                       // B loads per step (each widens into two staged chunks)
const uint FS = (BN + WG - 1) / WG;             // next group's scales per thread (prefetched)
#else
const uint CBL = CB;
#endif
const uint FB = (CBL + WG - 1) / WG;

layout(binding = 0) readonly buffer XQBuf { uvec4 XQ4[]; };
layout(binding = 1) readonly buffer XPBuf { uint XP[]; };
layout(binding = 2) readonly buffer WBuf { uvec4 W4[]; };   // one view per buffer (see coopmat_float.comp)
layout(binding = 3) readonly buffer SBuf { float WS[]; };
layout(binding = 4) readonly buffer CorrBuf { float CORR[]; };
layout(binding = 5) readonly buffer BiasBuf { ACT_T BIAS[]; };
#ifdef SPLITK
layout(binding = 6) writeonly buffer PBuf { float P[]; };
#else
layout(binding = 6) writeonly buffer YBuf { ACT_T Y[]; };
#endif

shared uvec4 As[NBUF * ABUF];
shared uvec4 Bs[NBUF * BBUF];
shared float SWr[2 * TM * BN];                  // group scales (by group parity), replicated over TM rows
shared float Cs[NSG * TM * TN];                 // epilogue staging, one TM×TN tile per subgroup

// `inside`: the caller guarantees the row is in range (interior tiles). K is padded to the
// step on the host side (activation rows and weight rows are zero-padded), so k never is.
uvec4 loadA16(uint gm, uint k0, uint c, bool inside) {
    return inside || gm < pc.M ? XQ4[(gm * pc.ldx + k0 / 4) / 4 + c] : uvec4(0);
}

// Q4: piece c of the step is 32 values of row gn in one 16-byte load of raw nibbles (K is a
// multiple of the group, itself of 32, so ldw is a multiple of 4 words); rows past N read as the
// zero point 8, which widens to 0. Q8: chunk c is 16 int8 values.
uvec4 loadB16(uint gn, uint k0, uint c, bool inside) {
#ifdef WEIGHT_Q4
    if (!inside && gn >= pc.N) return uvec4(0x88888888u);
    return W4[(gn * pc.ldw + k0 / 8) / 4 + c];
#else
    if (!inside && gn >= pc.N) return uvec4(0);
    return W4[(gn * pc.ldw + k0 / 4) / 4 + c];
#endif
}

// Stores B load i of a step (as loadB16 indexed it) into shared buffer `buf`; INT4 is widened to
// int8 (q − 8) here, one load becoming two 16-value chunks.
void stageB(uint buf, uint i, uvec4 v) {
#ifdef WEIGHT_Q4
    const uint base = buf * BBUF + (i / KQ) * LDS4 + 2u * (i % KQ);
    Bs[base] = uvec4(widen8(v.x), widen8(v.y));
    Bs[base + 1u] = uvec4(widen8(v.z), widen8(v.w));
#else
    Bs[buf * BBUF + (i / KC) * LDS4 + i % KC] = v;
#endif
}
#ifdef WEIGHT_Q4
const uint BKC = KQ;                            // B loads per row per step
#else
const uint BKC = KC;
#endif


void main() {
    const uint tid = gl_LocalInvocationID.x;
    const uint sg = gl_SubgroupID;
    const uint lane = gl_SubgroupInvocationID;
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
    const uint ngroups = pc.K / pc.G;

    coopmat<int, gl_ScopeSubgroup, TM, TN, gl_MatrixUseAccumulator> iacc[RM * RN];
#ifdef WEIGHT_Q4
    coopmat<float, gl_ScopeSubgroup, TM, TN, gl_MatrixUseAccumulator> facc[RM * RN];
#endif
    [[unroll]] for (uint i = 0; i < RM * RN; ++i) {
        iacc[i] = coopmat<int, gl_ScopeSubgroup, TM, TN, gl_MatrixUseAccumulator>(0);
#ifdef WEIGHT_Q4
        facc[i] = coopmat<float, gl_ScopeSubgroup, TM, TN, gl_MatrixUseAccumulator>(0.0);
#endif
    }

    const bool inside = m0 + BM <= pc.M && n0 + BN <= pc.N;
    const uint kBeg = gl_WorkGroupID.z * pc.kSlice;
    const uint kEnd = pc.kSlice == 0u ? pc.K : min(pc.K, kBeg + pc.kSlice);
    uvec4 pa[MAXC], pb[MAXC];
    [[unroll]] for (uint t = 0; t < MAXC; ++t) {
        const uint i = tid + t * WG;
        pa[t] = uvec4(0x01010101u); pb[t] = uvec4(0x01010101u);
        if ((ABL & 1u) != 0u) continue;
        if (t < FA && (CA % WG == 0u || i < CA)) pa[t] = loadA16(m0 + i / KC, kBeg, i % KC, inside);
        if (t < FB && (CBL % WG == 0u || i < CBL)) pb[t] = loadB16(n0 + i / BKC, kBeg, i % BKC, inside);
    }
    // Stage step 0 and group 0's scales.
    [[unroll]] for (uint t = 0; t < MAXC; ++t) {
        const uint i = tid + t * WG;
        if (t < FA && (CA % WG == 0u || i < CA)) As[(i / KC) * LDS4 + i % KC] = pa[t];
        if (t < FB && (CBL % WG == 0u || i < CBL)) stageB(0u, i, pb[t]);
    }
    {
        const uint g0 = kBeg / pc.G;
        for (uint idx = tid; idx < TM * BN; idx += WG) {
            const uint gn = n0 + idx % BN;
            SWr[(g0 & 1u) * TM * BN + idx] = gn < pc.N ? WS[gn * ngroups + g0] : 0.0;
        }
    }
    barrier();

    uint buf = 0u;
    for (uint k0 = kBeg; k0 < kEnd; k0 += BK) {
        const uint k1 = k0 + BK;
        const bool more = k1 < kEnd;
        if (more && (ABL & 1u) == 0u) {
            [[unroll]] for (uint t = 0; t < MAXC; ++t) {
                const uint i = tid + t * WG;
                if (t < FA && (CA % WG == 0u || i < CA)) pa[t] = loadA16(m0 + i / KC, k1, i % KC, inside);
                if (t < FB && (CBL % WG == 0u || i < CBL)) pb[t] = loadB16(n0 + i / BKC, k1, i % BKC, inside);
            }
        }
#ifdef WEIGHT_Q4
        // The next group's scales, fetched with the step's loads (latency hidden by the MMAs),
        // one per column; staged replicated over TM rows after the MMAs.
        float psc[FS];
        if (more && k1 % pc.G == 0u) {
            const uint g = k1 / pc.G;
            [[unroll]] for (uint t = 0; t < FS; ++t) {
                const uint n = tid + t * WG;
                psc[t] = n < BN && n0 + n < pc.N ? WS[(n0 + n) * ngroups + g] : 0.0;
            }
        }
#endif
        if ((ABL & 2u) == 0u) [[unroll]] for (uint kk = 0; kk < BK; kk += TK) {
            coopmat<int8_t, gl_ScopeSubgroup, TM, TK, gl_MatrixUseA> a[RM];
            [[unroll]] for (uint i = 0; i < RM; ++i)
                coopMatLoad(a[i], As, buf * ABUF + (sm0 + i * TM) * LDS4 + kk / 16, LDS4, gl_CooperativeMatrixLayoutRowMajor);
            [[unroll]] for (uint j = 0; j < RN; ++j) {
                coopmat<int8_t, gl_ScopeSubgroup, TK, TN, gl_MatrixUseB> b;
                coopMatLoad(b, Bs, buf * BBUF + (sn0 + j * TN) * LDS4 + kk / 16, LDS4, gl_CooperativeMatrixLayoutColumnMajor);
                [[unroll]] for (uint i = 0; i < RM; ++i) iacc[i * RN + j] = coopMatMulAdd(a[i], b, iacc[i * RN + j]);
            }
        }
#ifdef WEIGHT_Q4
        if (k1 % pc.G == 0u) {
            // Last step of group g: fold its int32 sums with the group's scales.
            const uint sbase = ((k0 / pc.G) & 1u) * TM * BN;
            [[unroll]] for (uint j = 0; j < RN; ++j) {
                coopmat<float, gl_ScopeSubgroup, TM, TN, gl_MatrixUseAccumulator> s;
                coopMatLoad(s, SWr, sbase + sn0 + j * TN, BN, gl_CooperativeMatrixLayoutRowMajor);
                [[unroll]] for (uint i = 0; i < RM; ++i) {
                    facc[i * RN + j] += coopmat<float, gl_ScopeSubgroup, TM, TN, gl_MatrixUseAccumulator>(iacc[i * RN + j]) * s;
                    iacc[i * RN + j] = coopmat<int, gl_ScopeSubgroup, TM, TN, gl_MatrixUseAccumulator>(0);
                }
            }
        }
#endif
        if (NBUF == 1u && (ABL & 4u) == 0u) barrier();   // everyone has read the single buffer
        if (more) {
            buf = NBUF == 1u ? 0u : buf ^ 1u;
            if ((ABL & 4u) == 0u) [[unroll]] for (uint t = 0; t < MAXC; ++t) {
                const uint i = tid + t * WG;
                if (t < FA && (CA % WG == 0u || i < CA)) As[buf * ABUF + (i / KC) * LDS4 + i % KC] = pa[t];
                if (t < FB && (CBL % WG == 0u || i < CBL)) stageB(buf, i, pb[t]);
            }
#ifdef WEIGHT_Q4
            if (k1 % pc.G == 0u) {
                // First step of group g+1: stage its scales into the other parity.
                const uint sbase = ((k1 / pc.G) & 1u) * TM * BN;
                [[unroll]] for (uint t = 0; t < FS; ++t) {
                    const uint n = tid + t * WG;
                    if (n < BN) [[unroll]] for (uint r = 0; r < TM; ++r) SWr[sbase + r * BN + n] = psc[t];
                }
            }
#endif
        }
        if ((ABL & 4u) == 0u) barrier();            // the staged step is visible
    }

    // Epilogue: one accumulator at a time through this subgroup's TM×TN staging tile.
    const uint cbase = sg * TM * TN;
#ifdef WEIGHT_Q8
    // Q8: a single group spanning K; its scales are still staged in SWr from the first step.
    coopmat<float, gl_ScopeSubgroup, TM, TN, gl_MatrixUseAccumulator> facc[RM * RN];
    [[unroll]] for (uint j = 0; j < RN; ++j) {
        coopmat<float, gl_ScopeSubgroup, TM, TN, gl_MatrixUseAccumulator> s;
        coopMatLoad(s, SWr, sn0 + j * TN, BN, gl_CooperativeMatrixLayoutRowMajor);
        [[unroll]] for (uint i = 0; i < RM; ++i)
            facc[i * RN + j] = coopmat<float, gl_ScopeSubgroup, TM, TN, gl_MatrixUseAccumulator>(iacc[i * RN + j]) * s;
    }
#endif
    [[unroll]] for (uint i = 0; i < RM; ++i) {
        [[unroll]] for (uint j = 0; j < RN; ++j) {
            coopMatStore(facc[i * RN + j], Cs, cbase, TN, gl_CooperativeMatrixLayoutRowMajor);
            subgroupMemoryBarrierShared();
            subgroupBarrier();
            [[unroll]] for (uint e0 = 0; e0 < TM * TN; e0 += SGS) {
                const uint e = e0 + lane;
                const uint gm = m0 + sm0 + i * TM + e / TN;
                const uint gn = n0 + sn0 + j * TN + e % TN;
                if (e < TM * TN && gm < pc.M && gn < pc.N) {
#ifdef SPLITK
                    P[(gl_WorkGroupID.z * pc.M + gm) * pc.N + gn] = Cs[cbase + e];
#else
                    const float zp = float(int(XP[2 * gm + 1]));
                    float v = uintBitsToFloat(XP[2 * gm]) * (Cs[cbase + e] - zp * CORR[gn]);
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
