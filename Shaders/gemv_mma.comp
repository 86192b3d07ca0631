#version 450
#extension GL_GOOGLE_include_directive : require
// Tensor-core matrix–vector kernel for decode batches (M ≤ 16), fp16 and q4gsw weights:
// yᵀ = W·xᵀ with the weights as the MMA's A operand (TM = 16 rows of W × TK) and the activations
// as B (TK × TN, TN = 8 for M ≤ 8, 16 for M ≤ 16), so a batch pads to 8 rows, not 16.
// The per-weight cost does not grow with M (the column kernels' FMAs do): M = 8 costs what M = 1
// costs once the weights stream at memory speed.
//
// Each subgroup works alone on its own shared-memory staging (subgroup barriers only, no
// workgroup barrier in the main loop). Per K step of BK values it
//   - holds in registers BN rows × BK of W (16-byte loads) and TN × BK of x, fetched PD steps
//     earlier;
//   - stores them into its staging: W row-major [n][k], x [m][k] (rows ≥ M stay zero);
//     INT4 is dequantized there: nibble pairs (k, k+4) become f16vec2 (q − 8) exactly with one
//     mask-or and one add, then × the group scale. HS = 1 (the host checked that every scale is
//     an fp16 value): one packed fp16 multiply, a single rounding of the exact product — the same
//     fp16 value the cooperative-matrix kernel gets from its fp32 product. HS = 0: fp32 product,
//     converted. The pairs leave K permuted within each 8 (k0 k4 k1 k5 k2 k6 k3 k7); x is staged
//     with the same permutation, so every dot product is unchanged;
//   - issues the loads of the step PD ahead (a ring of PD register slots: PD steps in flight per
//     subgroup), then RN = BN / 16 MMAs per TK (x's B fragment loaded once).
// The WG / SGS subgroups of a workgroup split its K range into whole steps; their 16 × TN fp32
// accumulators are added through shared memory at the end (bias fused). SPLITK: workgroup z covers
// K slice z (push constant kSlice, a multiple of BK) and writes fp32 partials P[z][M][N] without
// bias; splitk_reduce.comp adds the slices (in order) and the bias.
// Edges: columns past N load a valid row and are not written; K past the end stages zeros in x
// (and INT4 words past K read as zero points); unaligned INT4 rows (K not a multiple of 32) and
// unaligned or partial activation chunks take scalar loads.
#include "common.glsl"
#extension GL_KHR_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_KHR_shader_subgroup_basic : require

layout(local_size_x_id = 3) in;
layout(constant_id = 1) const uint BN = 32;    // weight rows (output columns) per workgroup, multiple of TM
layout(constant_id = 2) const uint BK = 64;    // K values per step, multiple of 32
layout(constant_id = 3) const uint WG = 128;   // threads; WG / SGS subgroups split K
layout(constant_id = 6) const uint TM = 16;
layout(constant_id = 7) const uint TN = 8;     // x rows the MMA covers (M padded)
layout(constant_id = 8) const uint TK = 16;
layout(constant_id = 9) const uint SGS = 32;
layout(constant_id = 11) const uint GS = 0;    // INT4 group size (0 = pc.G)
layout(constant_id = 13) const uint HS = 0;    // 1: INT4 scales are fp16 values (packed fp16 dequant)
layout(constant_id = 14) const uint PD = 1;    // prefetch depth: K steps of loads in flight per subgroup

const uint NSG = WG / SGS;
const uint RN = BN / TM;
const uint LDS4 = (BK + 8) / 8;                // staging row stride in uvec4 (16-byte padding)
const uint KC = BK / 8;                        // 8-value chunks per row per step
const uint WST = BN * LDS4;                    // weight staging per subgroup (uvec4)
const uint SST = WST + TN * LDS4;              // whole staging per subgroup
#ifdef WEIGHT_Q4
const uint LC = BK / 32;                       // 16-byte loads per weight row per step (32 values)
#else
const uint LC = BK / 8;                        // (8 halves)
#endif
const uint LW = (BN * LC + SGS - 1) / SGS;     // weight loads per lane per step
const uint LX = (TN * KC + SGS - 1) / SGS;     // activation chunks per lane per step

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

shared uvec4 St[NSG * SST];

// A ring of PD register slots (slot p holds step s with s ≡ p mod PD), indexed only with
// unrolled-loop constants so it stays in registers.
uvec4 wr[PD * LW];                             // weights of the steps in flight (raw INT4 words or fp16)
#ifdef WEIGHT_Q4
float sr[PD * LW];                             // … and their group scales (one per 32 values)
#endif
uvec4 xr[PD * LX];                             // activations of the steps in flight, 8 halves per chunk

float xAt(uint i) {
#ifdef ACT_F16
    return unpackHalf2x16(X4[i >> 3][(i >> 1) & 3u])[i & 1u];
#else
    return X4[i >> 2][i & 3u];
#endif
}

// 8 activations of row m from k (zero past K) as 8 halves.
uvec4 loadX8(uint m, uint k) {
    const uint base = m * pc.ldx + k;
#ifdef ACT_F16
    if (k + 8u <= pc.K && (pc.ldx % 8u) == 0u) return X4[base >> 3];
#else
    if (k + 8u <= pc.K && (pc.ldx % 4u) == 0u) {
        const vec4 a = X4[base >> 2], b = X4[(base >> 2) + 1u];
        return uvec4(packFloat2x16(f16vec2(a.xy)), packFloat2x16(f16vec2(a.zw)), packFloat2x16(f16vec2(b.xy)), packFloat2x16(f16vec2(b.zw)));
    }
#endif
    float v[8];
    [[dont_unroll]] for (uint e = 0; e < 8u; ++e) v[e] = k + e < pc.K ? xAt(base + e) : 0.0;
    return uvec4(packFloat2x16(f16vec2(v[0], v[1])), packFloat2x16(f16vec2(v[2], v[3])),
                 packFloat2x16(f16vec2(v[4], v[5])), packFloat2x16(f16vec2(v[6], v[7])));
}

// Global → register slot p: the step at k0 for rows n0 … n0 + BN and the first M rows of x.
void fetch(uint p, uint lane, uint n0, uint k0, uint M) {
    [[unroll]] for (uint t0 = 0; t0 < LW; ++t0) {
        const uint t = p * LW + t0;
        const uint i = lane + t0 * SGS;
        if (i < BN * LC) {
            const uint n = min(n0 + i / LC, pc.N - 1u);
#ifdef WEIGHT_Q4
            const uint k = k0 + 32u * (i % LC);
            const uint grp = GS != 0u ? GS : pc.G;
            uvec4 r = uvec4(0x88888888u);                       // zero points: dequantize to 0
            if (k < pc.K) {
                if ((pc.ldw % 4u) == 0u) {
                    r = W4[(n * pc.ldw) / 4u + k / 32u];
                } else {
                    [[unroll]] for (uint q = 0; q < 4u; ++q) {
                        const uint wi = n * pc.ldw + k / 8u + q;
                        if (k + 8u * q < pc.K) r[q] = W4[wi >> 2][wi & 3u];
                    }
                }
                sr[t] = S[n * (pc.K / grp) + k / grp];
            } else {
                sr[t] = 0.0;
            }
            wr[t] = r;
#else
            const uint k = k0 + 8u * (i % LC);
            wr[t] = k < pc.K ? W4[(n * pc.ldw + k) >> 3] : uvec4(0u);   // rows padded to 8 with zeros
#endif
        }
    }
    [[unroll]] for (uint t0 = 0; t0 < LX; ++t0) {
        const uint i = lane + t0 * SGS;
        if (i < M * KC) xr[p * LX + t0] = loadX8(i / KC, k0 + 8u * (i % KC));
    }
}

#ifdef WEIGHT_Q4
// One INT4 word (k … k+7) × its scale → 8 halves in pair order (k, k+4), (k+1, k+5), …
uvec4 dequant(uint w, float s) {
    const uint w8 = w >> 8;
    const f16vec2 h0 = unpackFloat2x16((w & 0x000F000Fu) | 0x64006400u) - f16vec2(1032.0hf);
    const f16vec2 h1 = fma(unpackFloat2x16((w & 0x00F000F0u) | 0x64006400u), f16vec2(0.0625hf), f16vec2(-72.0hf));
    const f16vec2 h2 = unpackFloat2x16((w8 & 0x000F000Fu) | 0x64006400u) - f16vec2(1032.0hf);
    const f16vec2 h3 = fma(unpackFloat2x16((w8 & 0x00F000F0u) | 0x64006400u), f16vec2(0.0625hf), f16vec2(-72.0hf));
    if (HS != 0u) {
        const f16vec2 s2 = f16vec2(float16_t(s));
        return uvec4(packFloat2x16(h0 * s2), packFloat2x16(h1 * s2), packFloat2x16(h2 * s2), packFloat2x16(h3 * s2));
    }
    return uvec4(packFloat2x16(f16vec2(vec2(h0) * s)), packFloat2x16(f16vec2(vec2(h1) * s)),
                 packFloat2x16(f16vec2(vec2(h2) * s)), packFloat2x16(f16vec2(vec2(h3) * s)));
}
#endif

// Register slot p → this subgroup's staging (base): weights dequantized, x (permuted for INT4).
void stage(uint p, uint lane, uint base, uint n0, uint k0, uint M) {
    [[unroll]] for (uint t0 = 0; t0 < LW; ++t0) {
        const uint t = p * LW + t0;
        const uint i = lane + t0 * SGS;
        if (i < BN * LC) {
            const uint row = i / LC, c = i % LC;
#ifdef WEIGHT_Q4
            const uint grp = GS != 0u ? GS : pc.G;
            const uint n = min(n0 + row, pc.N - 1u);
            const uint k = k0 + 32u * c;
            [[unroll]] for (uint q = 0; q < 4u; ++q) {
                // Groups that are not a multiple of 32 values: a scale per 8-value word.
                const float s = (grp % 32u) == 0u || k + 8u * q >= pc.K ? sr[t] : S[n * (pc.K / grp) + (k + 8u * q) / grp];
                St[base + row * LDS4 + 4u * c + q] = dequant(wr[t][q], s);
            }
#else
            St[base + row * LDS4 + c] = wr[t];
#endif
        }
    }
    [[unroll]] for (uint t0 = 0; t0 < LX; ++t0) {
        const uint i = lane + t0 * SGS;
        if (i < M * KC) {
            uvec4 r = xr[p * LX + t0];
#ifdef WEIGHT_Q4
            // (x0,x4), (x1,x5), (x2,x6), (x3,x7): the order the nibble pairs were staged in.
            r = uvec4((r.x & 0xFFFFu) | (r.z << 16), (r.x >> 16) | (r.z & 0xFFFF0000u),
                      (r.y & 0xFFFFu) | (r.w << 16), (r.y >> 16) | (r.w & 0xFFFF0000u));
#endif
            St[base + WST + (i / KC) * LDS4 + i % KC] = r;
        }
    }
}

void main() {
    const uint lane = gl_SubgroupInvocationID, sg = gl_SubgroupID;
    const uint tid = gl_LocalInvocationID.x;
    const uint n0 = gl_WorkGroupID.x * BN;
    const uint M = min(pc.M, TN);
    const uint base = sg * SST;
    // This workgroup's K range (split-K slice) and this subgroup's whole steps of it.
    const uint kBeg = gl_WorkGroupID.z * pc.kSlice;
    const uint kEnd = pc.kSlice == 0u ? pc.K : min(pc.K, kBeg + pc.kSlice);
    const uint steps = kEnd > kBeg ? (kEnd - kBeg + BK - 1u) / BK : 0u;
    const uint per = (steps + NSG - 1u) / NSG;
    const uint s0 = min(sg * per, steps), s1 = min(s0 + per, steps);

    // x rows ≥ M are never written: zero them once.
    for (uint i = lane; i < TN * LDS4; i += SGS) St[base + WST + i] = uvec4(0u);

    coopmat<float, gl_ScopeSubgroup, TM, TN, gl_MatrixUseAccumulator> acc[RN];
    [[unroll]] for (uint r = 0; r < RN; ++r) acc[r] = coopmat<float, gl_ScopeSubgroup, TM, TN, gl_MatrixUseAccumulator>(0.0);

    [[unroll]] for (uint p = 0; p < PD; ++p) if (s0 + p < s1) fetch(p, lane, n0, kBeg + (s0 + p) * BK, M);
    for (uint s = s0; s < s1; s += PD) {
        [[unroll]] for (uint p = 0; p < PD; ++p) {
            const uint st = s + p;
            if (st < s1) {
                const uint k0 = kBeg + st * BK;
                subgroupMemoryBarrierShared();
                subgroupBarrier();                           // the previous step's MMAs have read the staging
                stage(p, lane, base, n0, k0, M);
                subgroupMemoryBarrierShared();
                subgroupBarrier();                           // … and this step is visible
                if (st + PD < s1) fetch(p, lane, n0, k0 + PD * BK, M);   // PD steps in flight during the MMAs
                [[unroll]] for (uint kk = 0; kk < BK; kk += TK) {
                    coopmat<float16_t, gl_ScopeSubgroup, TK, TN, gl_MatrixUseB> b;
                    coopMatLoad(b, St, base + WST + kk / 8u, LDS4, gl_CooperativeMatrixLayoutColumnMajor);
                    [[unroll]] for (uint r = 0; r < RN; ++r) {
                        coopmat<float16_t, gl_ScopeSubgroup, TM, TK, gl_MatrixUseA> a;
                        coopMatLoad(a, St, base + r * TM * LDS4 + kk / 8u, LDS4, gl_CooperativeMatrixLayoutRowMajor);
                        acc[r] = coopMatMulAdd(a, b, acc[r]);
                    }
                }
            }
        }
    }

    // Epilogue: each subgroup's accumulators (element (n, m) at n·TN + m) into its own staging,
    // then the subgroups' sums added per output.
    subgroupMemoryBarrierShared();
    subgroupBarrier();
    [[unroll]] for (uint r = 0; r < RN; ++r) coopMatStore(acc[r], St, base + r * (TM * TN / 4u), TN / 4u, gl_CooperativeMatrixLayoutRowMajor);
    barrier();
    for (uint o = tid; o < BN * M; o += WG) {
        const uint n = o % BN, m = o / BN, gn = n0 + n;
        if (gn < pc.N) {
            const uint e = n * TN + m;
            float v = 0.0;
            for (uint g = 0; g < NSG; ++g) v += uintBitsToFloat(St[g * SST + e / 4u][e % 4u]);
#ifdef SPLITK
            P[(gl_WorkGroupID.z * pc.M + m) * pc.N + gn] = v;
#else
            if (pc.hasBias != 0u) v += float(BIAS[gn]);
            Y[m * pc.N + gn] = ACT_T(v);
#endif
        }
    }
}
