#version 450
#extension GL_GOOGLE_include_directive : require
// Matrix–vector kernel for decode-sized batches (M ≤ 8): one subgroup per output column n, its
// lanes striding over K in 16-byte weight chunks, a subgroup reduction at the end. Weights are
// read once, with 16-byte loads; the few activation rows stay in cache.
//   float math: WEIGHT_F16 (half [N, ldw]) or WEIGHT_Q4 (INT4 words, scales [N, K/G]), fp32 sums
//   integer math (INT_MATH, dq8ca): WEIGHT_Q4 / WEIGHT_Q8 with int8 activations from quant_act.comp; int8 dot
//   products per 32-value chunk; Q4 scales each chunk's integer sum by its group scale, Q8 keeps
//   the whole row's sum in int32; y = sx·(acc − zp·corr[n]) (+ bias).
#include "common.glsl"
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require

layout(local_size_x_id = 3) in;
layout(constant_id = 3) const uint WG = 128;
const uint MAXM = 8;

#ifdef INT_MATH
#include "int_dot.glsl"
layout(binding = 0) readonly buffer XQBuf { uvec4 XQ4[]; };
layout(binding = 1) readonly buffer XPBuf { uint XP[]; };
layout(binding = 2) readonly buffer WBuf { uvec4 W4[]; };
layout(binding = 3) readonly buffer SBuf { float WS[]; };
layout(binding = 4) readonly buffer CorrBuf { float CORR[]; };
layout(binding = 5) readonly buffer BiasBuf { ACT_T BIAS[]; };
layout(binding = 6) writeonly buffer YBuf { ACT_T Y[]; };

#else
#ifdef ACT_F16
layout(binding = 0) readonly buffer XBuf { uvec4 X4[]; };
#else
layout(binding = 0) readonly buffer XBuf { vec4 X4[]; };
#endif
layout(binding = 1) readonly buffer WBuf { uvec4 W4[]; };
layout(binding = 2) readonly buffer SBuf { float S[]; };
layout(binding = 3) readonly buffer BiasBuf { ACT_T BIAS[]; };
layout(binding = 4) writeonly buffer YBuf { ACT_T Y[]; };

float xAt(uint i) {
#ifdef ACT_F16
    return unpackHalf2x16(X4[i >> 3][(i >> 1) & 3u])[i & 1u];
#else
    return X4[i >> 2][i & 3u];
#endif
}
#endif

void main() {
    const uint lane = gl_SubgroupInvocationID;
    const uint L = gl_SubgroupSize;
    const uint n = gl_WorkGroupID.x * gl_NumSubgroups + gl_SubgroupID;
    if (n >= pc.N) return;   // uniform per subgroup
    const uint M = min(pc.M, MAXM);

#ifdef INT_MATH
    // 32 values per chunk: 8 int8 words of x per row; weights 1 uvec4 (Q4) or 2 (Q8).
    const uint chunks = pc.K / 32;
#ifdef WEIGHT_Q4
    const uint ngroups = pc.K / pc.G;
    float acc[MAXM];
    [[unroll]] for (uint m = 0; m < MAXM; ++m) acc[m] = 0.0;
#else
    int iacc[MAXM];
    [[unroll]] for (uint m = 0; m < MAXM; ++m) iacc[m] = 0;
#endif
    for (uint c = lane; c < chunks; c += L) {
        uint w[8];
#ifdef WEIGHT_Q4
        const uvec4 raw = W4[(n * pc.ldw) / 4 + c];
        [[unroll]] for (uint q = 0; q < 4; ++q) { const uvec2 v = widen8(raw[q]); w[2 * q] = v.x; w[2 * q + 1] = v.y; }
        const float s = WS[n * ngroups + (32 * c) / pc.G];
#else
        const uvec4 r0 = W4[(n * pc.ldw) / 4 + 2 * c], r1 = W4[(n * pc.ldw) / 4 + 2 * c + 1];
        w[0] = r0.x; w[1] = r0.y; w[2] = r0.z; w[3] = r0.w; w[4] = r1.x; w[5] = r1.y; w[6] = r1.z; w[7] = r1.w;
#endif
        [[unroll]] for (uint m = 0; m < MAXM; ++m) {
            if (m < M) {
                const uint xb = (m * pc.ldx) / 4 + 2 * c;
                const uvec4 x0 = XQ4[xb], x1 = XQ4[xb + 1];
                int isum = dot4(x0.x, w[0]) + dot4(x0.y, w[1]) + dot4(x0.z, w[2]) + dot4(x0.w, w[3])
                         + dot4(x1.x, w[4]) + dot4(x1.y, w[5]) + dot4(x1.z, w[6]) + dot4(x1.w, w[7]);
#ifdef WEIGHT_Q4
                acc[m] += s * float(isum);
#else
                iacc[m] += isum;
#endif
            }
        }
    }
    [[unroll]] for (uint m = 0; m < MAXM; ++m) {
        if (m < M) {
#ifdef WEIGHT_Q4
            const float t = subgroupAdd(acc[m]);
#else
            const float t = WS[n] * float(subgroupAdd(iacc[m]));
#endif
            if (lane == 0) {
                const float zp = float(int(XP[2 * m + 1]));
                float v = uintBitsToFloat(XP[2 * m]) * (t - zp * CORR[n]);
                if (pc.hasBias != 0u) v += float(BIAS[n]);
                Y[m * pc.N + n] = ACT_T(v);
            }
        }
    }
#else
    float acc[MAXM];
    [[unroll]] for (uint m = 0; m < MAXM; ++m) acc[m] = 0.0;
#ifdef ACT_F16
    const bool xvec = (pc.ldx % 8) == 0;
#else
    const bool xvec = (pc.ldx % 4) == 0;
#endif
#ifdef WEIGHT_Q4
    // 8 values (one word) per step; 4 consecutive words per lane when rows allow 16-byte loads.
    const uint words = pc.K / 8;
    const uint ng = pc.K / pc.G;
    for (uint c = lane * 4; c < words; c += 4 * L) {
        const uint wi = n * pc.ldw + c;
        const bool whole = c + 4 <= words && (pc.ldw % 4) == 0;
        uvec4 raw = whole ? W4[wi / 4] : uvec4(0x88888888u);
        if (!whole) [[unroll]] for (uint q = 0; q < 4; ++q) if (c + q < words) raw[q] = W4[(wi + q) >> 2][(wi + q) & 3u];
        const float s0 = S[n * ng + min(8 * c, pc.K - 1) / pc.G];
        const bool oneGroup = (8 * c) / pc.G == (8 * c + 31) / pc.G;
        [[unroll]] for (uint q = 0; q < 4; ++q) {
            // No early exit here: a break would keep the loop rolled and push raw/wv to memory.
            const uint k = min(8 * (c + q), pc.K - 8);
            const float s = (oneGroup || c + q >= words) ? s0 : S[n * ng + k / pc.G];
            const bool live = c + q < words;
            // (q − 8) as float without int→float conversions (quarter rate on some GPUs):
            // 2^23 + n has n in its low mantissa bits, so subtracting 2^23 + 8 is exact.
            // The group scale is applied once to the 8-term dot product.
            float wv[8];
            [[unroll]] for (uint i = 0; i < 8; ++i)
                wv[i] = uintBitsToFloat(0x4B000000u | ((raw[q] >> (4 * i)) & 15u)) - 8388616.0;
            const float sq = live ? s : 0.0;
            [[unroll]] for (uint m = 0; m < MAXM; ++m) {
                if (m < M) {
                    // K is a multiple of 8 for INT4, so the 8 activations are one 16-byte load
                    // (fp16) or two (fp32) whenever rows are aligned.
                    const uint xb = m * pc.ldx + k;
                    float a = 0.0;
                    if (xvec) {
#ifdef ACT_F16
                        const uvec4 xr = X4[xb / 8];
                        [[unroll]] for (uint h = 0; h < 4; ++h) { const vec2 xv = unpackHalf2x16(xr[h]); a += xv.x * wv[2 * h] + xv.y * wv[2 * h + 1]; }
#else
                        const vec4 x0 = X4[xb / 4], x1 = X4[xb / 4 + 1];
                        a = dot(x0, vec4(wv[0], wv[1], wv[2], wv[3])) + dot(x1, vec4(wv[4], wv[5], wv[6], wv[7]));
#endif
                    } else {
                        [[unroll]] for (uint i = 0; i < 8; ++i) a += xAt(xb + i) * wv[i];
                    }
                    acc[m] += sq * a;
                }
            }
        }
    }
#else
    for (uint k = 8 * lane; k < pc.K; k += 8 * L) {
        const uint wi = n * pc.ldw + k;
        float wv[8];
        if (k + 8 <= pc.K && (pc.ldw % 8) == 0) {
            const uvec4 raw = W4[wi / 8];
            [[unroll]] for (uint q = 0; q < 4; ++q) { const vec2 h = unpackHalf2x16(raw[q]); wv[2 * q] = h.x; wv[2 * q + 1] = h.y; }
        } else {
            [[unroll]] for (uint i = 0; i < 8; ++i) {
                const uint j = wi + i;
                wv[i] = k + i < pc.K ? unpackHalf2x16(W4[j >> 3][(j >> 1) & 3u])[j & 1u] : 0.0;
            }
        }
        [[unroll]] for (uint m = 0; m < MAXM; ++m) {
            if (m < M) {
                const uint xb = m * pc.ldx + k;
                float a = 0.0;
                if (xvec && k + 8 <= pc.K) {
#ifdef ACT_F16
                    const uvec4 xr = X4[xb / 8];
                    [[unroll]] for (uint q = 0; q < 4; ++q) { const vec2 h = unpackHalf2x16(xr[q]); a += h.x * wv[2 * q] + h.y * wv[2 * q + 1]; }
#else
                    const vec4 x0 = X4[xb / 4], x1 = X4[xb / 4 + 1];
                    a = dot(x0, vec4(wv[0], wv[1], wv[2], wv[3])) + dot(x1, vec4(wv[4], wv[5], wv[6], wv[7]));
#endif
                } else {
                    [[unroll]] for (uint i = 0; i < 8; ++i) if (k + i < pc.K) a += xAt(xb + i) * wv[i];
                }
                acc[m] += a;
            }
        }
    }
#endif
    [[unroll]] for (uint m = 0; m < MAXM; ++m) {
        if (m < M) {
            const float t = subgroupAdd(acc[m]);
            if (lane == 0) {
                float v = t;
                if (pc.hasBias != 0u) v += float(BIAS[n]);
                Y[m * pc.N + n] = ACT_T(v);
            }
        }
    }
#endif
}
