#version 450
#extension GL_GOOGLE_include_directive : require
// Cooperative-matrix (tensor-core) kernel for float-math linear layers:
//   WEIGHT_F16: W float16 [N, ldw];  WEIGHT_Q4: W uint words [N, ldw] of 8 INT4 (zero point 8),
//   scales float [N, K/G], dequantized to fp16 while staging into shared memory.
// fp16 × fp16 MMA with fp32 accumulation. The MMA shape TM×TN×TK, the workgroup tile BM×BN×BK
// and the subgroup grid WM×WN are specialization constants chosen on the host from the device's
// reported cooperative-matrix properties. Any M, N, K: tiles are zero-filled past the edges and
// the epilogue writes through a per-subgroup staging area with bounds checks (bias fused there).
//
// Speed notes (measured on the H100, docs/DESIGN.md):
// - each buffer is declared once, as a 16-byte vector view: a second (scalar) view of the same
//   binding halved throughput; scalar reads go through the vector view;
// - the next K step's global data is fetched into registers while the current step's MMAs run
//   (the load latency otherwise serialises every step);
// - accumulators are only indexed in fully unrolled loops.
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

const uint SM = BM / WM;                        // rows per subgroup
const uint SN = BN / WN;                        // columns per subgroup
const uint RM = SM / TM;
const uint RN = SN / TN;
const uint LDS = BK + 8;                        // shared row stride in halves (16-byte multiple)
const uint LDS4 = LDS / 8;                      // … in uvec4
const uint NSG = WM * WN;
const uint CA = BM * (BK / 8);                  // 8-value chunks per A tile
const uint CB = BN * (BK / 8);
const uint MAXC = 8;                            // register prefetch slots per thread (host checks)

#ifdef ACT_F16
layout(binding = 0) readonly buffer XBuf { uvec4 X4[]; };
#else
layout(binding = 0) readonly buffer XBuf { vec4 X4[]; };
#endif
layout(binding = 1) readonly buffer WBuf { uvec4 W4[]; };
layout(binding = 2) readonly buffer SBuf { float S[]; };
layout(binding = 3) readonly buffer BiasBuf { ACT_T BIAS[]; };
layout(binding = 4) writeonly buffer YBuf { ACT_T Y[]; };

shared uvec4 As[BM * LDS4];
shared uvec4 Bs[BN * LDS4];
shared float Cs[NSG * TM * TN];

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

// 8 consecutive activations (row gm, k = gk..gk+7) as 8 halves in a uvec4.
uvec4 loadX8(uint gm, uint gk, bool vec) {
    if (gm >= pc.M || gk >= pc.K) return uvec4(0);
    const uint base = gm * pc.ldx + gk;
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
uint loadWRaw(uint gn, uint gk, out float s) {
    s = 0.0;
    if (gn >= pc.N || gk >= pc.K) return 0x88888888u;
    const uint i = gn * pc.ldw + gk / 8;
    s = S[gn * (pc.K / pc.G) + gk / pc.G];
    return W4[i >> 2][i & 3u];
}
uvec4 dequant8(uint word, float s) {
    float v[8];
    [[unroll]] for (uint i = 0; i < 8; ++i) v[i] = float(int((word >> (4 * i)) & 15u) - 8) * s;
    return pack8(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]);
}
#else
uvec4 loadW8(uint gn, uint gk, bool vec) {
    if (gn >= pc.N || gk >= pc.K) return uvec4(0);
    const uint base = gn * pc.ldw + gk;
    if (vec && gk + 8 <= pc.K) return W4[base / 8];
    float v[8];
    [[unroll]] for (uint i = 0; i < 8; ++i) {
        const uint j = base + i;
        v[i] = gk + i < pc.K ? unpackHalf2x16(W4[j >> 3][(j >> 1) & 3u])[j & 1u] : 0.0;
    }
    return pack8(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]);
}
#endif

void main() {
    const uint tid = gl_LocalInvocationID.x;
    const uint sg = gl_SubgroupID;
    const uint lane = gl_SubgroupInvocationID;
    const uint m0 = gl_WorkGroupID.y * BM;
    const uint n0 = gl_WorkGroupID.x * BN;
    const uint sm0 = (sg / WN) * SM;
    const uint sn0 = (sg % WN) * SN;
#ifdef ACT_F16
    const bool xvec = (pc.ldx % 8) == 0;
#else
    const bool xvec = (pc.ldx % 4) == 0;
#endif
    const bool wvec = (pc.ldw % 8) == 0;

    coopmat<float, gl_ScopeSubgroup, TM, TN, gl_MatrixUseAccumulator> acc[RM * RN];
    [[unroll]] for (uint i = 0; i < RM * RN; ++i) acc[i] = coopmat<float, gl_ScopeSubgroup, TM, TN, gl_MatrixUseAccumulator>(0.0);

    // Register prefetch of the first K step.
    uvec4 pa[MAXC];
#ifdef WEIGHT_Q4
    uint pw[MAXC];
    float ps[MAXC];
#else
    uvec4 pb[MAXC];
#endif
    [[unroll]] for (uint t = 0; t < MAXC; ++t) {
        const uint ia = tid + t * WG;
        if (ia < CA) pa[t] = loadX8(m0 + ia / (BK / 8), 8 * (ia % (BK / 8)), xvec);
        const uint ib = tid + t * WG;
#ifdef WEIGHT_Q4
        if (ib < CB) pw[t] = loadWRaw(n0 + ib / (BK / 8), 8 * (ib % (BK / 8)), ps[t]);
#else
        if (ib < CB) pb[t] = loadW8(n0 + ib / (BK / 8), 8 * (ib % (BK / 8)), wvec);
#endif
    }

    for (uint k0 = 0; k0 < pc.K; k0 += BK) {
        [[unroll]] for (uint t = 0; t < MAXC; ++t) {
            const uint i = tid + t * WG;
            if (i < CA) As[(i / (BK / 8)) * LDS4 + i % (BK / 8)] = pa[t];
#ifdef WEIGHT_Q4
            if (i < CB) Bs[(i / (BK / 8)) * LDS4 + i % (BK / 8)] = dequant8(pw[t], ps[t]);
#else
            if (i < CB) Bs[(i / (BK / 8)) * LDS4 + i % (BK / 8)] = pb[t];
#endif
        }
        barrier();
        // Fetch the next step while this one computes.
        const uint k1 = k0 + BK;
        if (k1 < pc.K) {
            [[unroll]] for (uint t = 0; t < MAXC; ++t) {
                const uint i = tid + t * WG;
                if (i < CA) pa[t] = loadX8(m0 + i / (BK / 8), k1 + 8 * (i % (BK / 8)), xvec);
#ifdef WEIGHT_Q4
                if (i < CB) pw[t] = loadWRaw(n0 + i / (BK / 8), k1 + 8 * (i % (BK / 8)), ps[t]);
#else
                if (i < CB) pb[t] = loadW8(n0 + i / (BK / 8), k1 + 8 * (i % (BK / 8)), wvec);
#endif
            }
        }
        [[unroll]] for (uint kk = 0; kk < BK; kk += TK) {
            coopmat<float16_t, gl_ScopeSubgroup, TM, TK, gl_MatrixUseA> a[RM];
            [[unroll]] for (uint i = 0; i < RM; ++i)
                coopMatLoad(a[i], As, (sm0 + i * TM) * LDS4 + kk / 8, LDS4, gl_CooperativeMatrixLayoutRowMajor);
            [[unroll]] for (uint j = 0; j < RN; ++j) {
                coopmat<float16_t, gl_ScopeSubgroup, TK, TN, gl_MatrixUseB> b;
                coopMatLoad(b, Bs, (sn0 + j * TN) * LDS4 + kk / 8, LDS4, gl_CooperativeMatrixLayoutColumnMajor);
                [[unroll]] for (uint i = 0; i < RM; ++i) acc[i * RN + j] = coopMatMulAdd(a[i], b, acc[i * RN + j]);
            }
        }
        barrier();
    }

    // Epilogue: one accumulator at a time through this subgroup's TM×TN staging tile.
    const uint cbase = sg * TM * TN;
    [[unroll]] for (uint i = 0; i < RM; ++i) {
        [[unroll]] for (uint j = 0; j < RN; ++j) {
            coopMatStore(acc[i * RN + j], Cs, cbase, TN, gl_CooperativeMatrixLayoutRowMajor);
            subgroupMemoryBarrierShared();
            subgroupBarrier();
            [[unroll]] for (uint e0 = 0; e0 < TM * TN; e0 += SGS) {
                const uint e = e0 + lane;
                const uint gm = m0 + sm0 + i * TM + e / TN;
                const uint gn = n0 + sn0 + j * TN + e % TN;
                if (e < TM * TN && gm < pc.M && gn < pc.N) {
                    float v = Cs[cbase + e];
                    if (pc.hasBias != 0u) v += float(BIAS[gn]);
                    Y[gm * pc.N + gn] = ACT_T(v);
                }
            }
            subgroupMemoryBarrierShared();
            subgroupBarrier();
        }
    }
}
