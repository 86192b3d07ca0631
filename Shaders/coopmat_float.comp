#version 450
#extension GL_GOOGLE_include_directive : require
// Cooperative-matrix (tensor-core) kernel for float-math linear layers:
//   WEIGHT_F16: W float16 [N, ldw];  WEIGHT_Q4: W uint words [N, ldw] of 8 INT4 (zero point 8),
//   scales float [N, K/G], dequantized to fp16 while staging into shared memory.
// fp16 × fp16 MMA with fp32 accumulation. The MMA shape TM×TN×TK, the workgroup tile BM×BN×BK
// and the subgroup grid WM×WN are specialization constants chosen on the host from the device's
// reported cooperative-matrix properties. Any M, N, K: tiles are zero-filled past the edges and
// the epilogue writes through a per-subgroup staging area with bounds checks (bias fused there).
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

layout(binding = 0) readonly buffer XB { ACT_T X[]; };
#ifdef ACT_F16
layout(binding = 0) readonly buffer XB4 { uvec4 X4[]; };
#else
layout(binding = 0) readonly buffer XB4 { vec4 X4[]; };
#endif
#ifdef WEIGHT_Q4
layout(binding = 1) readonly buffer WB { uint W[]; };
layout(binding = 1) readonly buffer WB4 { uvec4 W4[]; };
#else
layout(binding = 1) readonly buffer WB { float16_t W[]; };
layout(binding = 1) readonly buffer WB4 { uvec4 W4[]; };
#endif
layout(binding = 2) readonly buffer SB { float S[]; };
layout(binding = 3) readonly buffer BB { ACT_T BIAS[]; };
layout(binding = 4) writeonly buffer YB { ACT_T Y[]; };

shared uvec4 As[BM * LDS4];
shared uvec4 Bs[BN * LDS4];
shared float Cs[BM * BN];                       // epilogue staging, SM×SN per subgroup

// 8 consecutive activations (row gm, k = gk..gk+7) as 8 halves in a uvec4.
uvec4 loadX8(uint gm, uint gk, bool vec) {
    if (gm >= pc.M) return uvec4(0);
    if (vec && gk + 8 <= pc.K) {
#ifdef ACT_F16
        return X4[(gm * pc.ldx + gk) / 8];
#else
        const uint i = (gm * pc.ldx + gk) / 4;
        const vec4 a = X4[i], b = X4[i + 1];
        return uvec4(packFloat2x16(f16vec2(a.xy)), packFloat2x16(f16vec2(a.zw)),
                     packFloat2x16(f16vec2(b.xy)), packFloat2x16(f16vec2(b.zw)));
#endif
    }
    float16_t v[8];
    [[unroll]] for (uint i = 0; i < 8; ++i) v[i] = gk + i < pc.K ? float16_t(X[gm * pc.ldx + gk + i]) : float16_t(0.0);
    return uvec4(packFloat2x16(f16vec2(v[0], v[1])), packFloat2x16(f16vec2(v[2], v[3])),
                 packFloat2x16(f16vec2(v[4], v[5])), packFloat2x16(f16vec2(v[6], v[7])));
}

// 8 consecutive weights (row gn, k = gk..gk+7) as fp16 halves in a uvec4.
uvec4 loadW8(uint gn, uint gk, bool vec) {
    if (gn >= pc.N) return uvec4(0);
#ifdef WEIGHT_Q4
    if (gk >= pc.K) return uvec4(0);   // K is a multiple of 8 for INT4
    const uint word = W[gn * pc.ldw + gk / 8];
    const float s = S[gn * (pc.K / pc.G) + gk / pc.G];
    float v[8];
    [[unroll]] for (uint i = 0; i < 8; ++i) v[i] = float(int((word >> (4 * i)) & 15u) - 8) * s;
    return uvec4(packFloat2x16(f16vec2(v[0], v[1])), packFloat2x16(f16vec2(v[2], v[3])),
                 packFloat2x16(f16vec2(v[4], v[5])), packFloat2x16(f16vec2(v[6], v[7])));
#else
    if (vec && gk + 8 <= pc.K) return W4[(gn * pc.ldw + gk) / 8];
    float16_t v[8];
    [[unroll]] for (uint i = 0; i < 8; ++i) v[i] = gk + i < pc.K ? W[gn * pc.ldw + gk + i] : float16_t(0.0);
    return uvec4(packFloat2x16(f16vec2(v[0], v[1])), packFloat2x16(f16vec2(v[2], v[3])),
                 packFloat2x16(f16vec2(v[4], v[5])), packFloat2x16(f16vec2(v[6], v[7])));
#endif
}

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

    for (uint k0 = 0; k0 < pc.K; k0 += BK) {
        for (uint idx = tid; idx < BM * (BK / 8); idx += WG) {
            const uint r = idx / (BK / 8), c = idx % (BK / 8);
            As[r * LDS4 + c] = loadX8(m0 + r, k0 + 8 * c, xvec);
        }
        for (uint idx = tid; idx < BN * (BK / 8); idx += WG) {
            const uint r = idx / (BK / 8), c = idx % (BK / 8);
            Bs[r * LDS4 + c] = loadW8(n0 + r, k0 + 8 * c, wvec);
        }
        barrier();
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

    // Epilogue. Every accumulator is indexed only inside fully unrollable loops with no barriers
    // or inner loops: anything else lets the driver demote the accumulator array to local memory
    // (measured on the H100: 17x slower). All of this subgroup's tiles go to shared memory first,
    // then its lanes write them out with bounds checks and the bias.
    const uint cbase = sg * SM * SN;
    [[unroll]] for (uint i = 0; i < RM; ++i)
        [[unroll]] for (uint j = 0; j < RN; ++j)
            coopMatStore(acc[i * RN + j], Cs, cbase + i * TM * SN + j * TN, SN, gl_CooperativeMatrixLayoutRowMajor);
    subgroupMemoryBarrierShared();
    subgroupBarrier();
    for (uint e = lane; e < SM * SN; e += gl_SubgroupSize) {
        const uint gm = m0 + sm0 + e / SN;
        const uint gn = n0 + sn0 + e % SN;
        if (gm < pc.M && gn < pc.N) {
            float v = Cs[cbase + e];
            if (pc.hasBias != 0u) v += float(BIAS[gn]);
            Y[gm * pc.N + gn] = ACT_T(v);
        }
    }
}
