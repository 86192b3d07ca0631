#version 450
#extension GL_GOOGLE_include_directive : require
// Tiled fallback for float-math linear layers, for any Vulkan 1.2 device:
//   WEIGHT_F16: W is float16 [N, ldw]
//   WEIGHT_Q4 : W is uint words [N, ldw] holding 8 INT4 values each (nibble i of word j = k 8j+i,
//               stored with zero point 8), scales float [N, K/G]
// Each workgroup computes a BM×BN tile of y with WG threads as a TY×16 grid (TY = WG/16); each
// thread owns TM×TN outputs (TM = BM/TY, TN = BN/16, multiples of 4) as 4×4 blocks spread over the
// tile, so its operands are read from shared memory as vec4s without bank conflicts (4 vec4 loads
// per 64 FMAs at 8×8). K advances by BK through shared memory, stored k-major with rows padded by
// 4 floats. Accumulation in fp32. Every global load and store is bounds-checked, so any M, N, K work.
#include "common.glsl"

layout(local_size_x_id = 3) in;
layout(constant_id = 0) const uint BM = 128;
layout(constant_id = 1) const uint BN = 128;
layout(constant_id = 2) const uint BK = 16;
layout(constant_id = 3) const uint WG = 256;
const uint TX = 16;                 // threads along N
const uint TY = WG / TX;            // threads along M
const uint TM = BM / TY;            // outputs per thread along M (multiple of 4)
const uint TN = BN / TX;
const uint RM = TM / 4;             // 4-row blocks per thread
const uint RN = TN / 4;
const uint LA = BM + 4;             // shared row stride (floats), a multiple of 4
const uint LB = BN + 4;

layout(binding = 0) readonly buffer XBuf { ACT_T X[]; };
#ifdef WEIGHT_Q4
layout(binding = 1) readonly buffer WBuf { uint W[]; };
#else
layout(binding = 1) readonly buffer WBuf { float16_t W[]; };
#endif
layout(binding = 2) readonly buffer SBuf { float S[]; };
layout(binding = 3) readonly buffer BiasBuf { ACT_T BIAS[]; };
layout(binding = 4) writeonly buffer YBuf { ACT_T Y[]; };

shared vec4 As[BK * LA / 4];
shared vec4 Bs[BK * LB / 4];

void main() {
    const uint tid = gl_LocalInvocationID.x;
    const uint m0 = gl_WorkGroupID.y * BM;
    const uint n0 = gl_WorkGroupID.x * BN;
    const uint tx = tid % TX;
    const uint ty = tid / TX;
    float acc[TM][TN];
    [[unroll]] for (uint i = 0; i < TM; ++i) [[unroll]] for (uint j = 0; j < TN; ++j) acc[i][j] = 0.0;

    for (uint k0 = 0; k0 < pc.K; k0 += BK) {
        for (uint idx = tid; idx < BM * BK; idx += WG) {
            const uint r = idx / BK, c = idx % BK;
            const uint gm = m0 + r, gk = k0 + c;
            float v = 0.0;
            if (gm < pc.M && gk < pc.K) v = float(X[gm * pc.ldx + gk]);
            const uint o = c * LA + r;
            As[o >> 2][o & 3u] = v;
        }
        for (uint idx = tid; idx < BN * BK; idx += WG) {
            const uint r = idx / BK, c = idx % BK;
            const uint gn = n0 + r, gk = k0 + c;
            float v = 0.0;
            if (gn < pc.N && gk < pc.K) {
#ifdef WEIGHT_Q4
                const uint word = W[gn * pc.ldw + gk / 8];
                const int q = int((word >> (4 * (gk % 8))) & 15u) - 8;
                v = float(q) * S[gn * (pc.K / pc.G) + gk / pc.G];
#else
                v = float(W[gn * pc.ldw + gk]);
#endif
            }
            const uint o = c * LB + r;
            Bs[o >> 2][o & 3u] = v;
        }
        barrier();
        for (uint kk = 0; kk < BK; ++kk) {
            vec4 a[RM], b[RN];
            [[unroll]] for (uint i = 0; i < RM; ++i) a[i] = As[(kk * LA + i * TY * 4 + ty * 4) >> 2];
            [[unroll]] for (uint j = 0; j < RN; ++j) b[j] = Bs[(kk * LB + j * TX * 4 + tx * 4) >> 2];
            [[unroll]] for (uint i = 0; i < TM; ++i) [[unroll]] for (uint j = 0; j < TN; ++j)
                acc[i][j] += a[i / 4][i % 4] * b[j / 4][j % 4];
        }
        barrier();
    }
    [[unroll]] for (uint i = 0; i < TM; ++i) {
        const uint gm = m0 + (i / 4) * TY * 4 + ty * 4 + i % 4;
        if (gm >= pc.M) continue;
        [[unroll]] for (uint j = 0; j < TN; ++j) {
            const uint gn = n0 + (j / 4) * TX * 4 + tx * 4 + j % 4;
            if (gn >= pc.N) continue;
            float v = acc[i][j];
            if (pc.hasBias != 0u) v += float(BIAS[gn]);
            Y[gm * pc.N + gn] = ACT_T(v);
        }
    }
}
