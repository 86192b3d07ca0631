#version 450
#extension GL_GOOGLE_include_directive : require
// Tiled fallback for the integer (dq8ca_*) linear layers, for any Vulkan 1.2 device.
// Activations arrive quantized by quant_act.comp: int8 packed 4 per word, [M, ldx words], with
// per-row (scale, zero point) in XP. Weights:
//   WEIGHT_Q4: uint words [N, ldw] of 8 INT4 nibbles (zero point 8), scales/sums [N, K/G]
//   WEIGHT_Q8: uint words [N, ldw] of 4 int8, scales/sums [N] (G = padded K: one group)
// Integer accumulation (int8×int8→int32) per group, then per group:
//   acc += ws[n,g] · float(Σ qx·qw − zp·Σ qw)   and at the end  y = sx · acc (+ bias)
// DOT selects the packed 4×8-bit dot product (SPV_KHR_integer_dot_product).
#include "common.glsl"
#include "int_dot.glsl"

layout(local_size_x_id = 3) in;
layout(constant_id = 0) const uint BM = 64;
layout(constant_id = 1) const uint BN = 64;
layout(constant_id = 2) const uint BK = 32;   // k values per step; divides G
layout(constant_id = 3) const uint WG = 256;
const uint TM = 4;
const uint TN = 4;
const uint BKW = BK / 4;                       // packed words per step

layout(binding = 0) readonly buffer XQBuf { uint XQ[]; };
layout(binding = 1) readonly buffer XPBuf { uint XP[]; };
layout(binding = 2) readonly buffer WBuf { uint W[]; };
layout(binding = 3) readonly buffer SBuf { float WS[]; };
layout(binding = 4) readonly buffer SumBuf { int WSUM[]; };
layout(binding = 5) readonly buffer BiasBuf { ACT_T BIAS[]; };
layout(binding = 6) writeonly buffer YBuf { ACT_T Y[]; };

shared uint As[BKW * BM];
shared uint Bs[BKW * BN];


void main() {
    const uint tid = gl_LocalInvocationID.x;
    const uint m0 = gl_WorkGroupID.y * BM;
    const uint n0 = gl_WorkGroupID.x * BN;
    const uint TX = BN / TN;
    const uint tx = tid % TX;
    const uint ty = tid / TX;
    const uint ngroups = pc.K / pc.G;
    int iacc[TM][TN];
    float facc[TM][TN];
    int zp[TM];
    [[unroll]] for (uint i = 0; i < TM; ++i) {
        const uint gm = m0 + ty + i * (BM / TM);
        zp[i] = gm < pc.M ? int(XP[2 * gm + 1]) : 0;
        [[unroll]] for (uint j = 0; j < TN; ++j) { iacc[i][j] = 0; facc[i][j] = 0.0; }
    }

    for (uint k0 = 0; k0 < pc.K; k0 += BK) {
        for (uint idx = tid; idx < BM * BKW; idx += WG) {
            const uint r = idx / BKW, c = idx % BKW;
            const uint gm = m0 + r;
            As[c * BM + r] = gm < pc.M ? XQ[gm * pc.ldx + k0 / 4 + c] : 0u;
        }
#ifdef WEIGHT_Q4
        for (uint idx = tid; idx < BN * (BKW / 2); idx += WG) {
            const uint r = idx / (BKW / 2), c = idx % (BKW / 2);
            const uint gn = n0 + r;
            const uint word = gn < pc.N ? W[gn * pc.ldw + k0 / 8 + c] : 0x88888888u;
            const uvec2 v = widen8(word);
            Bs[(2 * c) * BN + r] = v.x;
            Bs[(2 * c + 1) * BN + r] = v.y;
        }
#else
        for (uint idx = tid; idx < BN * BKW; idx += WG) {
            const uint r = idx / BKW, c = idx % BKW;
            const uint gn = n0 + r;
            Bs[c * BN + r] = gn < pc.N ? W[gn * pc.ldw + k0 / 4 + c] : 0u;
        }
#endif
        barrier();
        for (uint kw = 0; kw < BKW; ++kw) {
            uint a[TM], b[TN];
            [[unroll]] for (uint i = 0; i < TM; ++i) a[i] = As[kw * BM + ty + i * (BM / TM)];
            [[unroll]] for (uint j = 0; j < TN; ++j) b[j] = Bs[kw * BN + tx + j * TX];
            [[unroll]] for (uint i = 0; i < TM; ++i) [[unroll]] for (uint j = 0; j < TN; ++j) iacc[i][j] += dot4(a[i], b[j]);
        }
        barrier();
        if ((k0 + BK) % pc.G == 0u) {
            const uint g = k0 / pc.G;
            [[unroll]] for (uint j = 0; j < TN; ++j) {
                const uint gn = n0 + tx + j * TX;
                const float ws = gn < pc.N ? WS[gn * ngroups + g] : 0.0;
                const int wsum = gn < pc.N ? WSUM[gn * ngroups + g] : 0;
                [[unroll]] for (uint i = 0; i < TM; ++i) {
                    facc[i][j] += ws * float(iacc[i][j] - zp[i] * wsum);
                    iacc[i][j] = 0;
                }
            }
        }
    }
    [[unroll]] for (uint i = 0; i < TM; ++i) {
        const uint gm = m0 + ty + i * (BM / TM);
        if (gm >= pc.M) continue;
        const float sx = uintBitsToFloat(XP[2 * gm]);
        [[unroll]] for (uint j = 0; j < TN; ++j) {
            const uint gn = n0 + tx + j * TX;
            if (gn >= pc.N) continue;
            float v = sx * facc[i][j];
            if (pc.hasBias != 0u) v += float(BIAS[gn]);
            Y[gm * pc.N + gn] = ACT_T(v);
        }
    }
}
