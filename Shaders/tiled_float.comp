#version 450
#extension GL_GOOGLE_include_directive : require
// Tiled fallback for float-math linear layers, for any Vulkan 1.2 device:
//   WEIGHT_F16: W is float16 [N, ldw]
//   WEIGHT_Q4 : W is uint words [N, ldw] holding 8 INT4 values each (nibble i of word j = k 8j+i,
//               stored with zero point 8), scales float [N, K/G]
// Each workgroup computes a BM×BN tile of y; each thread TM×TN outputs; K advances by BK through
// shared memory. Accumulation in fp32. Every load and store is bounds-checked, so any M, N, K work.
#include "common.glsl"

layout(local_size_x_id = 3) in;
layout(constant_id = 0) const uint BM = 64;
layout(constant_id = 1) const uint BN = 64;
layout(constant_id = 2) const uint BK = 16;
layout(constant_id = 3) const uint WG = 256;
const uint TM = 4;
const uint TN = 4;

layout(binding = 0) readonly buffer XBuf { ACT_T X[]; };
#ifdef WEIGHT_Q4
layout(binding = 1) readonly buffer WBuf { uint W[]; };
#else
layout(binding = 1) readonly buffer WBuf { float16_t W[]; };
#endif
layout(binding = 2) readonly buffer SBuf { float S[]; };
layout(binding = 3) readonly buffer BiasBuf { ACT_T BIAS[]; };
layout(binding = 4) writeonly buffer YBuf { ACT_T Y[]; };

shared float As[BK * BM];
shared float Bs[BK * BN];

void main() {
    const uint tid = gl_LocalInvocationID.x;
    const uint m0 = gl_WorkGroupID.y * BM;
    const uint n0 = gl_WorkGroupID.x * BN;
    const uint TX = BN / TN;           // threads along N
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
            As[c * BM + r] = v;
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
            Bs[c * BN + r] = v;
        }
        barrier();
        for (uint kk = 0; kk < BK; ++kk) {
            float a[TM], b[TN];
            [[unroll]] for (uint i = 0; i < TM; ++i) a[i] = As[kk * BM + ty + i * (BM / TM)];
            [[unroll]] for (uint j = 0; j < TN; ++j) b[j] = Bs[kk * BN + tx + j * TX];
            [[unroll]] for (uint i = 0; i < TM; ++i) [[unroll]] for (uint j = 0; j < TN; ++j) acc[i][j] += a[i] * b[j];
        }
        barrier();
    }
    [[unroll]] for (uint i = 0; i < TM; ++i) {
        const uint gm = m0 + ty + i * (BM / TM);
        if (gm >= pc.M) continue;
        [[unroll]] for (uint j = 0; j < TN; ++j) {
            const uint gn = n0 + tx + j * TX;
            if (gn >= pc.N) continue;
            float v = acc[i][j];
            if (pc.hasBias != 0u) v += float(BIAS[gn]);
            Y[gm * pc.N + gn] = ACT_T(v);
        }
    }
}
