#version 450
#extension GL_GOOGLE_include_directive : require
// Matrix–vector kernel with K split inside one subgroup (decode, M ≤ 8), q4gsw × fp16 (F16_MATH:
// the family is checked with the packed-fp16 tolerance).
// The workgroup first stages the BM activation rows in shared memory, already paired for the
// nibble masks ((x0,x4), (x1,x5), … per 8 values, zero past K), behind one barrier; after it
// (KS = 1) there is no barrier and no shared-memory reduction. Each subgroup then owns R
// consecutive output columns (rows of W) over the whole of K: lane l takes the 32-value chunks
// l, l + SGS, … (KS > 1: subgroup part p of KS takes p·SGS + l, stride KS·SGS)
// of each, U chunks per column in flight (R·U independent 16-byte weight loads per lane, plus
// their group scales, before any math); the activations come from shared memory once per
// chunk for all R columns; the R·BM sums are reduced with subgroupAdd at the end. XG = 1: no
// staging and no barrier; each lane reads its chunks' activations through L1 (re-paired per word).
//   Math (as gemv_q4_f16math): nibble pairs become f16vec2 (q − 8) exactly with one mask-or per
//   pair ((w & 0x000F000F) | 0x64006400 = 1024 + q per half); four packed fp16 FMAs per 8 weights;
//   the two lanes added in fp16; the 8-term partial scaled by the group scale into an fp32 sum
//   (8 products, 7 additions: γ_8 < 9·u16 relative to Σ|x·w| over the 8 terms). A lane whose fp32
//   sums are not finite (an fp16 partial overflowed, |x| ≳ 2000) recomputes its share in fp32.
// Specialization: BM = rows of x staged (≥ M), BN = columns per workgroup, R = columns per
// subgroup at a time (the subgroups take the workgroup's BN/R column groups in turn, so any
// subgroup size works), U = chunks in flight per column, WG, GS = group size (0 = pc.G),
// KC = 32-value chunks staged per row (≥ ⌈K/32⌉).
#include "common.glsl"
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require

layout(local_size_x_id = 3) in;
layout(constant_id = 0) const uint BM = 1;
layout(constant_id = 1) const uint BN = 8;      // output columns per workgroup (a multiple of R)
layout(constant_id = 2) const uint BK = 4;     // chunks in flight per column (U below)
const uint U = BK;
layout(constant_id = 3) const uint WG = 128;
layout(constant_id = 4) const uint GS = 0;
layout(constant_id = 5) const uint KC = 128;
layout(constant_id = 6) const uint R = 2;       // output columns per subgroup at a time
layout(constant_id = 7) const uint KS = 1;      // subgroups splitting one column group's K
layout(constant_id = 8) const uint SGS = 32;    // subgroup size the pipeline requires (KS > 1)
layout(constant_id = 9) const uint XG = 0;      // 1: no staging, activations read through L1 per chunk

layout(binding = 0) readonly buffer XBuf { uvec4 X4[]; };
layout(binding = 1) readonly buffer WBuf { uvec4 W4[]; };
layout(binding = 2) readonly buffer SBuf { float S[]; };
layout(binding = 3) readonly buffer BiasBuf { float16_t BIAS[]; };
layout(binding = 4) writeonly buffer YBuf { float16_t Y[]; };

// Activations: row m, word q of chunk c (8 values) at XS[m·4·KC + q·KC + c] as the four nibble
// pairs' f16vec2 — word-major, so the lanes of a subgroup (consecutive chunks) read consecutive
// 16-byte slots (a chunk-major order put the 32 lanes' reads on 8 of the 32 banks).
shared uvec4 XS[XG == 0u ? BM * 4 * KC : 1];
// KS > 1: each subgroup's BM·R sums, added across the KS subgroups of a column group.
// Two sets (by pass parity), so one barrier per pass suffices.
shared float red[KS > 1 ? 2 * (WG / SGS) * BM * R : 1];

float acc[BM][R];

float xAt(uint i) { return unpackHalf2x16(X4[i >> 3][(i >> 1) & 3u])[i & 1u]; }

// Activations x[m, k … k + 8) (zero past K and for rows ≥ M) as the four nibble pairs' f16vec2.
uvec4 xPairs(uint m, uint k, uint M) {
    uvec4 v = uvec4(0u);
    if (m < M && k < pc.K) {
        if ((pc.ldx % 8u) == 0u && k + 8u <= pc.K) {
            v = X4[(m * pc.ldx + k) >> 3];
        } else {
            float f[8];
            [[dont_unroll]] for (uint e = 0; e < 8; ++e) f[e] = k + e < pc.K ? xAt(m * pc.ldx + k + e) : 0.0;
            v = uvec4(packHalf2x16(vec2(f[0], f[1])), packHalf2x16(vec2(f[2], f[3])),
                      packHalf2x16(vec2(f[4], f[5])), packHalf2x16(vec2(f[6], f[7])));
        }
    }
    return uvec4((v.x & 0xFFFFu) | (v.z << 16), (v.x >> 16) | (v.z & 0xFFFF0000u),
                 (v.y & 0xFFFFu) | (v.w << 16), (v.y >> 16) | (v.w & 0xFFFF0000u));
}

// Rows of W this subgroup reads (clamped to the last one; only columns < N are written).
uint rowOf(uint n0, uint r) { return min(n0 + r, pc.N - 1u); }

// The loads of chunks c0, c0 + SGS, … (U of them) of columns n0 … n0 + R.
void loadW(uint n0, uint c0, uint words, uint chunks, out uvec4 w[U][R], out float s[U][R]) {
    const bool aligned = (pc.ldw % 4u) == 0u;
    const uint grp = GS != 0u ? GS : pc.G;
    const uint ng = pc.K / grp;
    [[unroll]] for (uint u = 0; u < U; ++u) {
        const uint c = min(c0 + u * KS * gl_SubgroupSize, chunks - 1u);
        [[unroll]] for (uint r = 0; r < R; ++r) {
            const uint n = rowOf(n0, r);
            if (aligned) {
                w[u][r] = W4[(n * pc.ldw) / 4u + c];
            } else {
                uvec4 v = uvec4(0x88888888u);
                [[unroll]] for (uint q = 0; q < 4; ++q) {
                    const uint wi = n * pc.ldw + 4u * c + q;
                    if (4u * c + q < words) v[q] = W4[wi >> 2][wi & 3u];
                }
                w[u][r] = v;
            }
            s[u][r] = S[n * ng + (32u * c) / grp];
        }
    }
}

// Adds the products of loaded chunks into acc (packed fp16 or fp32 math).
void mathW(uint n0, uint c0, uint M, uint chunks, bool halfMath, uvec4 w[U][R], float s[U][R]) {
    const uint grp = GS != 0u ? GS : pc.G;
    const uint ng = pc.K / grp;
    const bool chunkGroups = (grp % 32u) == 0u;   // one scale per chunk
    [[unroll]] for (uint u = 0; u < U; ++u) {
        const uint c = c0 + u * KS * gl_SubgroupSize;
        if (c < chunks) {
            [[unroll]] for (uint q = 0; q < 4; ++q) {
                uvec4 xv[BM];
                [[unroll]] for (uint m = 0; m < BM; ++m) xv[m] = XG == 0u ? XS[m * 4u * KC + q * KC + c] : xPairs(m, 32u * c + 8u * q, M);
                const uint k = min(32u * c + 8u * q, pc.K - 1u);
                [[unroll]] for (uint r = 0; r < R; ++r) {
                    const float sq = chunkGroups ? s[u][r] : S[rowOf(n0, r) * ng + k / grp];
                    const uint w0 = w[u][r][q], w8 = w0 >> 8;
                    if (halfMath) {
                        const f16vec2 h0 = unpackFloat2x16((w0 & 0x000F000Fu) | 0x64006400u) - f16vec2(1032.0hf);
                        const f16vec2 h1 = fma(unpackFloat2x16((w0 & 0x00F000F0u) | 0x64006400u), f16vec2(0.0625hf), f16vec2(-72.0hf));
                        const f16vec2 h2 = unpackFloat2x16((w8 & 0x000F000Fu) | 0x64006400u) - f16vec2(1032.0hf);
                        const f16vec2 h3 = fma(unpackFloat2x16((w8 & 0x00F000F0u) | 0x64006400u), f16vec2(0.0625hf), f16vec2(-72.0hf));
                        [[unroll]] for (uint m = 0; m < BM; ++m) {
                            if (m < M) {
                                f16vec2 d = h0 * unpackFloat2x16(xv[m].x);
                                d = fma(h1, unpackFloat2x16(xv[m].y), d);
                                d = fma(h2, unpackFloat2x16(xv[m].z), d);
                                d = fma(h3, unpackFloat2x16(xv[m].w), d);
                                acc[m][r] += sq * float(d.x + d.y);
                            }
                        }
                    } else {
                        // (q − 8) in fp32 without conversions: 2^23 + q − (2^23 + 8), exact. Pair p
                        // holds (x_p, x_{p+4}).
                        float wv[8];
                        [[unroll]] for (uint e = 0; e < 8; ++e) wv[e] = uintBitsToFloat(0x4B000000u | ((w0 >> (4u * e)) & 15u)) - 8388616.0;
                        [[unroll]] for (uint m = 0; m < BM; ++m) {
                            if (m < M) {
                                float a = 0.0;
                                [[unroll]] for (uint p = 0; p < 4; ++p) {
                                    const vec2 x2 = vec2(unpackFloat2x16(xv[m][p]));
                                    a += x2.x * wv[p] + x2.y * wv[p + 4];
                                }
                                acc[m][r] += sq * a;
                            }
                        }
                    }
                }
            }
        }
    }
}

// This lane's share of columns n0 … n0 + R (loads, then math, U chunks at a time): chunks
// first, first + KS·SGS, …
void columns(uint n0, uint first, uint M, uint words, uint chunks, bool halfMath) {
    for (uint c0 = first; c0 < chunks; c0 += U * KS * gl_SubgroupSize) {
        uvec4 w[U][R];
        float s[U][R];
        loadW(n0, c0, words, chunks, w, s);
        mathW(n0, c0, M, chunks, halfMath, w, s);
    }
}

// Columns n0 … n0 + R for all rows: this lane's share (part `part` of KS), the fp32 redo if
// needed; the subgroup's sums end in acc (every lane holds them).
void columnGroup(uint n0, uint part, uint M, uint words, uint chunks) {
    const uint first = part * gl_SubgroupSize + gl_SubgroupInvocationID;
    [[unroll]] for (uint m = 0; m < BM; ++m) [[unroll]] for (uint r = 0; r < R; ++r) acc[m][r] = 0.0;
    columns(n0, first, M, words, chunks, true);
    bool finite = true;
    // Exponent all ones = Inf or NaN, tested on the bits: without float controls a driver may
    // assume isinf/isnan never hold and drop the redo.
    [[unroll]] for (uint m = 0; m < BM; ++m) [[unroll]] for (uint r = 0; r < R; ++r)
        finite = finite && (floatBitsToUint(acc[m][r]) & 0x7F800000u) != 0x7F800000u;
    if (!finite) {
        // An fp16 partial overflowed (the fp32 sum of finite inputs cannot): redo in fp32.
        [[unroll]] for (uint m = 0; m < BM; ++m) [[unroll]] for (uint r = 0; r < R; ++r) acc[m][r] = 0.0;
        columns(n0, first, M, words, chunks, false);
    }
    [[unroll]] for (uint m = 0; m < BM; ++m) [[unroll]] for (uint r = 0; r < R; ++r) acc[m][r] = subgroupAdd(acc[m][r]);
}

// Writes the sums of columns n0 … n0 + R (bias added), one value per lane.
void store(uint n0, uint M, float v[BM][R]) {
    const uint lane = gl_SubgroupInvocationID;
    [[unroll]] for (uint m = 0; m < BM; ++m) {
        [[unroll]] for (uint r = 0; r < R; ++r) {
            const uint n = n0 + r;
            if (lane == (m * R + r) % gl_SubgroupSize && m < M && n < pc.N)
                Y[m * pc.N + n] = float16_t(pc.hasBias != 0u ? v[m][r] + float(BIAS[n]) : v[m][r]);
        }
    }
}

void main() {
    const uint t = gl_LocalInvocationID.x;
    const uint M = min(pc.M, BM);
    const uint words = pc.K / 8u;
    const uint chunks = (words + 3u) / 4u;
    // Stage the activations, paired for the nibble masks (zero past K and for rows ≥ M): batches
    // of 8 loads per thread issued before their stores (one round trip per batch, not per load).
    const uint total = XG == 0u ? BM * 4u * KC : 0u;
    for (uint i0 = 0; i0 < total; i0 += 8u * WG) {
        uvec4 v[8];
        [[unroll]] for (uint b = 0; b < 8; ++b) {
            const uint i = i0 + b * WG + t;
            v[b] = i < total ? xPairs(i / (4u * KC), 8u * (i % (4u * KC)), M) : uvec4(0u);
        }
        [[unroll]] for (uint b = 0; b < 8; ++b) {
            const uint i = i0 + b * WG + t;
            const uint m = i / (4u * KC), j = i % (4u * KC);
            if (i < total) XS[m * 4u * KC + (j & 3u) * KC + (j >> 2)] = v[b];
        }
    }
    if (XG == 0u) barrier();

    if (KS == 1u) {
        // The subgroups take the workgroup's column groups in turn (one each when the subgroup
        // size is the one the plan assumed). No barrier follows.
        for (uint cg = gl_SubgroupID; cg < BN / R; cg += gl_NumSubgroups) {
            const uint n0 = gl_WorkGroupID.x * BN + cg * R;
            if (n0 >= pc.N) break;
            columnGroup(n0, 0u, M, words, chunks);
            store(n0, M, acc);
        }
    } else {
        // KS subgroups per column group (the pipeline requires subgroups of SGS lanes, so there
        // are WG / SGS of them), BN / (R · WG / SGS · KS) passes: partial sums through shared
        // memory, one barrier per pass.
        const uint sg = gl_SubgroupID, part = sg % KS, groups = (WG / SGS) / KS;
        const uint lane = gl_SubgroupInvocationID;
        for (uint pass = 0; pass < BN / (R * groups); ++pass) {
            const uint cg = pass * groups + sg / KS;
            const uint n0 = gl_WorkGroupID.x * BN + cg * R;
            const uint base = (pass & 1u) * (WG / SGS) * BM * R;
            columnGroup(min(n0, pc.N - 1u), part, M, words, chunks);
            [[unroll]] for (uint m = 0; m < BM; ++m) [[unroll]] for (uint r = 0; r < R; ++r)
                if (lane == (m * R + r) % gl_SubgroupSize) red[base + sg * BM * R + m * R + r] = acc[m][r];
            barrier();
            if (part == 0u && n0 < pc.N) {
                [[unroll]] for (uint m = 0; m < BM; ++m) [[unroll]] for (uint r = 0; r < R; ++r) {
                    float v = 0.0;
                    for (uint p = 0; p < KS; ++p) v += red[base + (sg + p) * BM * R + m * R + r];
                    acc[m][r] = v;
                }
                store(n0, M, acc);
            }
        }
    }
}
