#version 450
#extension GL_GOOGLE_include_directive : require
// Matrix–vector kernel for decode-sized batches (M ≤ 8). A workgroup computes BN output columns
// for all M rows; its WG threads split K: thread t takes 16-byte weight chunks t, t + WG, … of
// each of its BN rows of W, BK chunks per column in flight before any math (so every thread has
// BK·BN independent 16-byte loads outstanding). The batch rows share each weight load; partial
// sums are reduced with subgroupAdd, then across subgroups in shared memory.
//   float math: WEIGHT_F16 (half [N, ldw], chunk = 8 values) or WEIGHT_Q4 (INT4 words [N, ldw],
//     chunk = 32 values, scales [N, K/G] applied per 8-value word), fp32 sums
//   integer math (INT_MATH, dq8ca): int8 activations from quant_act.comp, chunk = 32 values;
//     WEIGHT_Q4 (1 uvec4) scales each chunk's int sum by its group scale (G % 32 == 0),
//     WEIGHT_Q8 (2 uvec4) keeps the row's sum in int32 (exact); y = sx·(acc − zp·corr[n]) (+ bias)
//   F16_MATH (WEIGHT_Q4, ACT_F16, devices with shaderFloat16): nibble pairs become f16vec2 (q − 8)
//     exactly with one mask-or per pair ((w & 0x000F000F) | 0x64006400 = 1024 + q per half) and
//     four packed fp16 FMAs per 8 weights; the two lanes are added in fp16 and the 8-term partial
//     converted once to the fp32 sum (8 products, 7 additions: γ_8 < 9·u16 relative to Σ|x·w|
//     over the 8 terms). A thread whose fp32 sum is not finite (an fp16 partial overflowed,
//     |x| ≳ 2000) recomputes in fp32.
// Specialization: BM = rows (M), BN = columns per workgroup, BK = chunks in flight per column, WG,
// GS = the group size (divisions by it become shifts; 0 = read pc.G).
#include "common.glsl"
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require

layout(local_size_x_id = 3) in;
layout(constant_id = 0) const uint BM = 1;
layout(constant_id = 1) const uint BN = 2;
layout(constant_id = 2) const uint BK = 2;
layout(constant_id = 3) const uint WG = 128;
layout(constant_id = 4) const uint GS = 0;      // group size when known at pipeline creation (0: pc.G)

#ifdef INT_MATH
#include "int_dot.glsl"
layout(binding = 0) readonly buffer XQBuf { uvec4 XQ4[]; };
layout(binding = 1) readonly buffer XPBuf { uint XP[]; };
layout(binding = 2) readonly buffer WBuf { uvec4 W4[]; };
layout(binding = 3) readonly buffer SBuf { float WS[]; };
layout(binding = 4) readonly buffer CorrBuf { float CORR[]; };
layout(binding = 5) readonly buffer BiasBuf { ACT_T BIAS[]; };
layout(binding = 6) writeonly buffer YBuf { ACT_T Y[]; };
#ifdef WEIGHT_Q8
#define ACC_T int
#define WCHUNK 2u
#else
#define ACC_T float
#define WCHUNK 1u
#endif
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
#define ACC_T float
#define WCHUNK 1u

float xAt(uint i) {
#ifdef ACT_F16
    return unpackHalf2x16(X4[i >> 3][(i >> 1) & 3u])[i & 1u];
#else
    return X4[i >> 2][i & 3u];
#endif
}

// The 8 activations x[xb .. xb+8) (xb a multiple of 8 when `vec`), zero past K.
void x8(uint xb, uint kleft, bool vec, out float v[8]) {
    if (vec && kleft >= 8) {
#ifdef ACT_F16
        const uvec4 r = X4[xb >> 3];
        [[unroll]] for (uint h = 0; h < 4; ++h) { const vec2 p = unpackHalf2x16(r[h]); v[2 * h] = p.x; v[2 * h + 1] = p.y; }
#else
        const vec4 a = X4[xb >> 2], b = X4[(xb >> 2) + 1];
        v[0] = a.x; v[1] = a.y; v[2] = a.z; v[3] = a.w; v[4] = b.x; v[5] = b.y; v[6] = b.z; v[7] = b.w;
#endif
    } else {
        [[unroll]] for (uint i = 0; i < 8; ++i) v[i] = i < kleft ? xAt(xb + i) : 0.0;
    }
}

#ifdef F16_MATH
// The same 8 activations as fp16 pairs (x0,x4), (x1,x5), (x2,x6), (x3,x7), matching the nibble
// pairs one mask of an INT4 word selects.
void x8h(uint xb, uint kleft, bool vec, out f16vec2 v[4]) {
    uvec4 r;
    if (vec && kleft >= 8) {
        r = X4[xb >> 3];
    } else {
        float f[8];
        [[unroll]] for (uint i = 0; i < 8; ++i) f[i] = i < kleft ? xAt(xb + i) : 0.0;
        r = uvec4(packHalf2x16(vec2(f[0], f[1])), packHalf2x16(vec2(f[2], f[3])), packHalf2x16(vec2(f[4], f[5])), packHalf2x16(vec2(f[6], f[7])));
    }
    v[0] = unpackFloat2x16((r.x & 0xFFFFu) | (r.z << 16));
    v[1] = unpackFloat2x16((r.x >> 16) | (r.z & 0xFFFF0000u));
    v[2] = unpackFloat2x16((r.y & 0xFFFFu) | (r.w << 16));
    v[3] = unpackFloat2x16((r.y >> 16) | (r.w & 0xFFFF0000u));
}
#endif
#endif

// One partial sum per (row, column) per subgroup, reduced across subgroups here.
shared ACC_T red[(WG / 4) * BM * BN];
// This thread's partial sums.
ACC_T acc[BM][BN];


#ifndef INT_MATH
// The float-math main loop over this thread's chunks, adding into acc.
void floatLoop(uint t, uint n0, uint M, uint rowBase[BN], bool halfMath) {
#ifdef WEIGHT_Q4
    // INT4: a chunk is 4 words = 32 values; rows are K/8 words.
    const uint words = pc.K / 8u;
    const uint chunks = (words + 3u) / 4u;
    const bool aligned = (pc.ldw % 4u) == 0u;
    const uint grp = GS != 0u ? GS : pc.G;
    const uint ng = pc.K / grp;
    const bool chunkGroups = (grp % 32u) == 0u;   // one scale per chunk
#else
    // fp16: a chunk is 8 values; rows are ldw halves (K rounded up to 8, zero padded).
    const uint chunks = (pc.K + 7u) / 8u;
#endif
#ifdef ACT_F16
    const bool xvec = (pc.ldx % 8u) == 0u;
#else
    const bool xvec = (pc.ldx % 4u) == 0u;
#endif
    for (uint c0 = t; c0 < chunks; c0 += WG * BK) {
        uvec4 w[BK][BN];
        [[unroll]] for (uint u = 0; u < BK; ++u) {
            const uint c = min(c0 + u * WG, chunks - 1u);
            [[unroll]] for (uint j = 0; j < BN; ++j) {
#ifdef WEIGHT_Q4
                if (aligned) {
                    w[u][j] = W4[rowBase[j] / 4u + c];
                } else {
                    uvec4 r = uvec4(0x88888888u);
                    [[unroll]] for (uint q = 0; q < 4; ++q) {
                        const uint wi = rowBase[j] + 4u * c + q;
                        if (4u * c + q < words) r[q] = W4[wi >> 2][wi & 3u];
                    }
                    w[u][j] = r;
                }
#else
                w[u][j] = W4[rowBase[j] / 8u + c];
#endif
            }
        }
        [[unroll]] for (uint u = 0; u < BK; ++u) {
            const uint c = c0 + u * WG;
            if (c < chunks) {
#ifdef WEIGHT_Q4
            float s0[BN];
            [[unroll]] for (uint j = 0; j < BN; ++j) s0[j] = S[min(n0 + j, pc.N - 1u) * ng + min(32u * c, pc.K - 1u) / grp];
            [[unroll]] for (uint q = 0; q < 4; ++q) {
                const uint k = min(32u * c + 8u * q, pc.K - 8u);
                const bool live = 32u * c + 8u * q < pc.K;
                // (q − 8) as float without int→float conversions: 2^23 + n has n in its low
                // mantissa bits, so subtracting 2^23 + 8 is exact. The group scale multiplies
                // the 8-term dot product once.
                float s[BN];
                [[unroll]] for (uint j = 0; j < BN; ++j)
                    s[j] = live ? (chunkGroups ? s0[j] : S[min(n0 + j, pc.N - 1u) * ng + k / grp]) : 0.0;
#ifdef F16_MATH
                if (halfMath) {
                    // (q0,q4), (q1,q5), (q2,q6), (q3,q7) as f16vec2 of q − 8, exactly.
                    f16vec2 wh[BN][4];
                    [[unroll]] for (uint j = 0; j < BN; ++j) {
                        const uint w0 = w[u][j][q], w8 = w0 >> 8;
                        wh[j][0] = unpackFloat2x16((w0 & 0x000F000Fu) | 0x64006400u) - f16vec2(1032.0hf);
                        wh[j][1] = fma(unpackFloat2x16((w0 & 0x00F000F0u) | 0x64006400u), f16vec2(0.0625hf), f16vec2(-72.0hf));
                        wh[j][2] = unpackFloat2x16((w8 & 0x000F000Fu) | 0x64006400u) - f16vec2(1032.0hf);
                        wh[j][3] = fma(unpackFloat2x16((w8 & 0x00F000F0u) | 0x64006400u), f16vec2(0.0625hf), f16vec2(-72.0hf));
                    }
                    [[unroll]] for (uint m = 0; m < BM; ++m) {
                        if (m < M) {
                            f16vec2 xh[4];
                            x8h(m * pc.ldx + k, pc.K - k, xvec, xh);
                            [[unroll]] for (uint j = 0; j < BN; ++j) {
                                f16vec2 d = wh[j][0] * xh[0];
                                d = fma(wh[j][1], xh[1], d);
                                d = fma(wh[j][2], xh[2], d);
                                d = fma(wh[j][3], xh[3], d);
                                acc[m][j] += s[j] * float(d.x + d.y);
                            }
                        }
                    }
                } else
#endif
                {
                float wv[BN][8];
                [[unroll]] for (uint j = 0; j < BN; ++j)
                    [[unroll]] for (uint i = 0; i < 8; ++i)
                        wv[j][i] = uintBitsToFloat(0x4B000000u | ((w[u][j][q] >> (4u * i)) & 15u)) - 8388616.0;
                [[unroll]] for (uint m = 0; m < BM; ++m) {
                    if (m < M) {
                        float xv[8];
                        x8(m * pc.ldx + k, pc.K - k, xvec, xv);
                        [[unroll]] for (uint j = 0; j < BN; ++j) {
                            float a = 0.0;
                            [[unroll]] for (uint i = 0; i < 8; ++i) a += xv[i] * wv[j][i];
                            acc[m][j] += s[j] * a;
                        }
                    }
                }
                }
            }
#else
            const uint k = 8u * c;
            float wv[BN][8];
            [[unroll]] for (uint j = 0; j < BN; ++j)
                [[unroll]] for (uint q = 0; q < 4; ++q) { const vec2 h = unpackHalf2x16(w[u][j][q]); wv[j][2 * q] = h.x; wv[j][2 * q + 1] = h.y; }
            [[unroll]] for (uint m = 0; m < BM; ++m) {
                if (m < M) {
                    float xv[8];
                    x8(m * pc.ldx + k, pc.K - k, xvec, xv);
                    [[unroll]] for (uint j = 0; j < BN; ++j) {
                        float a = 0.0;
                        [[unroll]] for (uint i = 0; i < 8; ++i) a += xv[i] * wv[j][i];
                        acc[m][j] += a;
                    }
                }
            }
#endif
            }
        }
    }
}
#endif

void main() {
    const uint t = gl_LocalInvocationID.x;
    const uint n0 = gl_WorkGroupID.x * BN;
    const uint M = min(pc.M, BM);
    [[unroll]] for (uint m = 0; m < BM; ++m) [[unroll]] for (uint j = 0; j < BN; ++j) acc[m][j] = ACC_T(0);
    // Columns past N (last workgroup) load row N−1 and are never stored.
    uint rowBase[BN];
    [[unroll]] for (uint j = 0; j < BN; ++j) rowBase[j] = min(n0 + j, pc.N - 1u) * pc.ldw;

#ifdef INT_MATH
    // 32-value chunks: xq rows are padded with zeros to ldx words (a multiple of 8).
    const uint chunks = (pc.K + 31u) / 32u;
#ifdef WEIGHT_Q4
    const uint grp = GS != 0u ? GS : pc.G;
    const uint ng = pc.K / grp;
#endif
    for (uint c0 = t; c0 < chunks; c0 += WG * BK) {
        uvec4 w[BK][BN][WCHUNK];
        [[unroll]] for (uint u = 0; u < BK; ++u) {
            const uint c = min(c0 + u * WG, chunks - 1u);
            [[unroll]] for (uint j = 0; j < BN; ++j) [[unroll]] for (uint h = 0; h < WCHUNK; ++h)
                w[u][j][h] = W4[rowBase[j] / 4u + WCHUNK * c + h];
        }
        [[unroll]] for (uint u = 0; u < BK; ++u) {
            const uint c = c0 + u * WG;
            // No early exit in unrolled loops (a break keeps them rolled): guard instead.
            if (c < chunks) {
            uint wq[BN][8];
            [[unroll]] for (uint j = 0; j < BN; ++j) {
#ifdef WEIGHT_Q4
                [[unroll]] for (uint q = 0; q < 4; ++q) { const uvec2 v = widen8(w[u][j][0][q]); wq[j][2 * q] = v.x; wq[j][2 * q + 1] = v.y; }
#else
                [[unroll]] for (uint q = 0; q < 4; ++q) { wq[j][q] = w[u][j][0][q]; wq[j][4 + q] = w[u][j][1][q]; }
#endif
            }
#ifdef WEIGHT_Q4
            float s[BN];
            [[unroll]] for (uint j = 0; j < BN; ++j) s[j] = WS[min(n0 + j, pc.N - 1u) * ng + (32u * c) / grp];
#endif
            [[unroll]] for (uint m = 0; m < BM; ++m) {
                if (m < M) {
                    const uint xb = (m * pc.ldx) / 4u + 2u * c;
                    const uvec4 x0 = XQ4[xb], x1 = XQ4[xb + 1u];
                    [[unroll]] for (uint j = 0; j < BN; ++j) {
                        const int isum = dot4(x0.x, wq[j][0]) + dot4(x0.y, wq[j][1]) + dot4(x0.z, wq[j][2]) + dot4(x0.w, wq[j][3])
                                       + dot4(x1.x, wq[j][4]) + dot4(x1.y, wq[j][5]) + dot4(x1.z, wq[j][6]) + dot4(x1.w, wq[j][7]);
#ifdef WEIGHT_Q4
                        acc[m][j] += s[j] * float(isum);
#else
                        acc[m][j] += isum;
#endif
                    }
                }
            }
            }
        }
    }
#else
    floatLoop(t, n0, M, rowBase, true);
#ifdef F16_MATH
    // An fp16 partial overflowed (the fp32 sum of finite inputs cannot): redo this thread in fp32.
    bool finite = true;
    // Exponent all ones = Inf or NaN, tested on the bits: without float controls a driver may
    // assume isinf/isnan never hold and drop the redo.
    [[unroll]] for (uint m = 0; m < BM; ++m) [[unroll]] for (uint j = 0; j < BN; ++j) finite = finite && (floatBitsToUint(acc[m][j]) & 0x7F800000u) != 0x7F800000u;
    if (!finite) {
        [[unroll]] for (uint m = 0; m < BM; ++m) [[unroll]] for (uint j = 0; j < BN; ++j) acc[m][j] = 0.0;
        floatLoop(t, n0, M, rowBase, false);
    }
#endif
#endif

    // Reduce: within each subgroup, then across the workgroup's subgroups.
    const uint sg = gl_SubgroupID;
    [[unroll]] for (uint m = 0; m < BM; ++m) [[unroll]] for (uint j = 0; j < BN; ++j) {
        const ACC_T v = subgroupAdd(acc[m][j]);
        if (subgroupElect()) red[sg * BM * BN + m * BN + j] = v;
    }
    barrier();
    for (uint o = t; o < BM * BN; o += WG) {
        const uint m = o / BN, j = o % BN, n = n0 + j;
        if (m >= M || n >= pc.N) continue;
        ACC_T total = red[o];
        for (uint g = 1; g < gl_NumSubgroups; ++g) total += red[g * BM * BN + o];
#ifdef INT_MATH
#ifdef WEIGHT_Q8
        const float tf = WS[n] * float(total);
#else
        const float tf = total;
#endif
        const float zp = float(int(XP[2u * m + 1u]));
        float v = uintBitsToFloat(XP[2u * m]) * (tf - zp * CORR[n]);
#else
        float v = total;
#endif
        if (pc.hasBias != 0u) v += float(BIAS[n]);
        Y[m * pc.N + n] = ACT_T(v);
    }
}
