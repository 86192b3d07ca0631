#version 450
#extension GL_GOOGLE_include_directive : require
// Matrix–vector kernel with the activations held in registers (decode, M ≤ 8), q4gsw × fp16
// (F16_MATH: the family is checked with the packed-fp16 tolerance).
// Each thread owns fixed 32-value K chunks (t, t + WG, … up to CPT of them per pass) for the whole
// workgroup: it loads its activations once, already paired for the nibble masks, and then streams
// BN rows of W through them, BK rows in flight (BK·CPT independent 16-byte loads per thread before
// any math). Nothing but weights and scales is read in the loop; the K reduction runs once per BK
// rows: a reduce-scatter across the subgroup (BM·BK values, log2 steps, half the values each),
// then shared memory across subgroups (double-buffered: one barrier per BK rows).
//   Math (as gemv_q4_f16math): nibble pairs become f16vec2 (q − 8) exactly with one mask-or per
//   pair ((w & 0x000F000F) | 0x64006400 = 1024 + q per half); four packed fp16 FMAs per 8 weights;
//   the two lanes added in fp16; the 8-term partial scaled by the group scale into an fp32 sum
//   (8 products, 7 additions: γ_8 < 9·u16 relative to Σ|x·w| over the 8 terms). A thread whose
//   fp32 sums are not finite (an fp16 partial overflowed, |x| ≳ 2000) recomputes in fp32.
// K past the last full pass (K > 32·CPT·WG) takes more passes, reloading the activations.
// Specialization: BM = rows of x (a power of two ≥ M), BN = output columns per workgroup, BK =
// columns in flight (divides BN; BM·BK a power of two), WG, GS = group size (0 = pc.G), CPT.
#include "common.glsl"
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_KHR_shader_subgroup_shuffle : require

layout(local_size_x_id = 3) in;
layout(constant_id = 0) const uint BM = 1;
layout(constant_id = 1) const uint BN = 8;
layout(constant_id = 2) const uint BK = 4;
layout(constant_id = 3) const uint WG = 128;
layout(constant_id = 4) const uint GS = 0;
layout(constant_id = 5) const uint CPT = 1;

layout(binding = 0) readonly buffer XBuf { uvec4 X4[]; };
layout(binding = 1) readonly buffer WBuf { uvec4 W4[]; };
layout(binding = 2) readonly buffer SBuf { float S[]; };
layout(binding = 3) readonly buffer BiasBuf { float16_t BIAS[]; };
layout(binding = 4) writeonly buffer YBuf { float16_t Y[]; };

const uint V = BM * BK;                 // sums per thread per row block
shared float red[2 * (WG / 4) * V];     // per subgroup (≥ 4 lanes), two blocks

f16vec2 xr[BM][CPT][16];                // this thread's activations: chunk word q, pair p at 4q + p
float acc[V];

float xAt(uint i) { return unpackHalf2x16(X4[i >> 3][(i >> 1) & 3u])[i & 1u]; }

// Loads the activations of pass `pass` (zero past K and for rows ≥ M).
void loadX(uint t, uint pass, uint M, uint chunks) {
    const bool xvec = (pc.ldx % 8u) == 0u;
    [[unroll]] for (uint i = 0; i < CPT; ++i) {
        const uint c = pass * WG * CPT + i * WG + t;
        [[unroll]] for (uint m = 0; m < BM; ++m) {
            [[unroll]] for (uint q = 0; q < 4; ++q) {
                const uint k = 32u * c + 8u * q;
                uvec4 r = uvec4(0u);
                if (m < M && c < chunks) {
                    if (xvec && k + 8u <= pc.K) {
                        r = X4[(m * pc.ldx + k) >> 3];
                    } else {
                        // Rare (unaligned rows, the tail of K): a rolled loop keeps the code small.
                        float f[8];
                        [[dont_unroll]] for (uint e = 0; e < 8; ++e) f[e] = k + e < pc.K ? xAt(m * pc.ldx + k + e) : 0.0;
                        r = uvec4(packHalf2x16(vec2(f[0], f[1])), packHalf2x16(vec2(f[2], f[3])),
                                  packHalf2x16(vec2(f[4], f[5])), packHalf2x16(vec2(f[6], f[7])));
                    }
                }
                // (x0,x4), (x1,x5), (x2,x6), (x3,x7): the pairs one nibble mask selects.
                xr[m][i][4 * q + 0] = unpackFloat2x16((r.x & 0xFFFFu) | (r.z << 16));
                xr[m][i][4 * q + 1] = unpackFloat2x16((r.x >> 16) | (r.z & 0xFFFF0000u));
                xr[m][i][4 * q + 2] = unpackFloat2x16((r.y & 0xFFFFu) | (r.w << 16));
                xr[m][i][4 * q + 3] = unpackFloat2x16((r.y >> 16) | (r.w & 0xFFFF0000u));
            }
        }
    }
}

// The weights and group scales of columns nb .. nb + BK for this thread's chunks of one pass.
void loadW(uint t, uint nb, uint pass, uint chunks, out uvec4 w[BK][CPT], out float s[BK][CPT]) {
    const uint words = pc.K / 8u;
    const bool aligned = (pc.ldw % 4u) == 0u;
    const uint grp = GS != 0u ? GS : pc.G;
    const uint ng = pc.K / grp;
    [[unroll]] for (uint j = 0; j < BK; ++j) {
        const uint n = min(nb + j, pc.N - 1u);
        [[unroll]] for (uint i = 0; i < CPT; ++i) {
            const uint c = min(pass * WG * CPT + i * WG + t, chunks - 1u);
            if (aligned) {
                w[j][i] = W4[(n * pc.ldw) / 4u + c];
            } else {
                uvec4 r = uvec4(0x88888888u);
                [[unroll]] for (uint q = 0; q < 4; ++q) {
                    const uint wi = n * pc.ldw + 4u * c + q;
                    if (4u * c + q < words) r[q] = W4[wi >> 2][wi & 3u];
                }
                w[j][i] = r;
            }
            s[j][i] = S[n * ng + (32u * c) / grp];
        }
    }
}

// Adds the products of loaded weights (columns nb .. nb + BK, one pass) into acc, in packed fp16
// or in fp32.
void mathW(uint t, uint nb, uint pass, uint M, uint chunks, bool halfMath, uvec4 w[BK][CPT], float s[BK][CPT]) {
    const uint grp = GS != 0u ? GS : pc.G;
    const uint ng = pc.K / grp;
    const bool chunkGroups = (grp % 32u) == 0u;   // one scale per chunk
    [[unroll]] for (uint j = 0; j < BK; ++j) {
        const uint n = min(nb + j, pc.N - 1u);
        [[unroll]] for (uint i = 0; i < CPT; ++i) {
            const uint c = pass * WG * CPT + i * WG + t;
            if (c < chunks) {
                [[unroll]] for (uint q = 0; q < 4; ++q) {
                    const uint k = min(32u * c + 8u * q, pc.K - 1u);
                    const float sq = chunkGroups ? s[j][i] : S[n * ng + k / grp];
                    const uint w0 = w[j][i][q], w8 = w0 >> 8;
                    if (halfMath) {
                        const f16vec2 h0 = unpackFloat2x16((w0 & 0x000F000Fu) | 0x64006400u) - f16vec2(1032.0hf);
                        const f16vec2 h1 = fma(unpackFloat2x16((w0 & 0x00F000F0u) | 0x64006400u), f16vec2(0.0625hf), f16vec2(-72.0hf));
                        const f16vec2 h2 = unpackFloat2x16((w8 & 0x000F000Fu) | 0x64006400u) - f16vec2(1032.0hf);
                        const f16vec2 h3 = fma(unpackFloat2x16((w8 & 0x00F000F0u) | 0x64006400u), f16vec2(0.0625hf), f16vec2(-72.0hf));
                        [[unroll]] for (uint m = 0; m < BM; ++m) {
                            if (m < M) {
                                f16vec2 d = h0 * xr[m][i][4 * q + 0];
                                d = fma(h1, xr[m][i][4 * q + 1], d);
                                d = fma(h2, xr[m][i][4 * q + 2], d);
                                d = fma(h3, xr[m][i][4 * q + 3], d);
                                acc[m * BK + j] += sq * float(d.x + d.y);
                            }
                        }
                    } else {
                        // (q − 8) in fp32 without conversions: 2^23 + q − (2^23 + 8), exact.
                        float wv[8];
                        [[unroll]] for (uint e = 0; e < 8; ++e) wv[e] = uintBitsToFloat(0x4B000000u | ((w0 >> (4u * e)) & 15u)) - 8388616.0;
                        [[unroll]] for (uint m = 0; m < BM; ++m) {
                            if (m < M) {
                                float a = 0.0;
                                [[unroll]] for (uint p = 0; p < 4; ++p) {
                                    const vec2 xv = vec2(xr[m][i][4 * q + p]);
                                    a += xv.x * wv[p] + xv.y * wv[p + 4];
                                }
                                acc[m * BK + j] += sq * a;
                            }
                        }
                    }
                }
            }
        }
    }
}

// Adds columns nb .. nb + BK of this thread's chunks into acc, every pass (loads and math).
void rowBlock(uint t, uint nb, uint M, uint chunks, uint passes, bool halfMath) {
    for (uint pass = 0; pass < passes; ++pass) {
        if (passes > 1u) loadX(t, pass, M, chunks);
        uvec4 w[BK][CPT];
        float s[BK][CPT];
        loadW(t, nb, pass, chunks, w, s);
        mathW(t, nb, pass, M, chunks, halfMath, w, s);
    }
}

void main() {
    const uint t = gl_LocalInvocationID.x;
    const uint M = min(pc.M, BM);
    const uint chunks = (pc.K + 31u) / 32u;
    const uint passes = (chunks + WG * CPT - 1u) / (WG * CPT);
    const uint lane = gl_SubgroupInvocationID, sg = gl_SubgroupID;
    // (Loading the next BK columns before this block's math and reduction was measured on the
    // H200: 28.2 vs 27.4 µs at 28672x4096, no gain; not kept.)
    if (passes == 1u) loadX(t, 0u, M, chunks);
    for (uint blk = 0; blk < BN / BK; ++blk) {
        const uint nb = gl_WorkGroupID.x * BN + blk * BK;
        [[unroll]] for (uint v = 0; v < V; ++v) acc[v] = 0.0;
        rowBlock(t, nb, M, chunks, passes, true);
        bool finite = true;
        // Exponent all ones = Inf or NaN, tested on the bits: without float controls a driver may
        // assume isinf/isnan never hold and drop the redo.
        [[unroll]] for (uint v = 0; v < V; ++v) finite = finite && (floatBitsToUint(acc[v]) & 0x7F800000u) != 0x7F800000u;
        if (!finite) {
            // An fp16 partial overflowed (the fp32 sum of finite inputs cannot): redo in fp32.
            [[unroll]] for (uint v = 0; v < V; ++v) acc[v] = 0.0;
            rowBlock(t, nb, M, chunks, passes, false);
        }
        // Reduce-scatter across the subgroup: each step halves the values a lane holds.
        const uint base = (blk & 1u) * (WG / 4u) * V + sg * V;
        if (V <= gl_SubgroupSize) {
            uint mask = gl_SubgroupSize, idx = 0u;
            [[unroll]] for (uint h = V >> 1; h >= 1u; h >>= 1) {
                mask >>= 1;
                const bool up = (lane & mask) != 0u;
                [[unroll]] for (uint e = 0; e < h; ++e) {
                    const float send = up ? acc[e] : acc[e + h];
                    const float keep = up ? acc[e + h] : acc[e];
                    acc[e] = keep + subgroupShuffleXor(send, mask);
                }
                if (up) idx += h;
            }
            for (mask >>= 1; mask >= 1u; mask >>= 1) acc[0] += subgroupShuffleXor(acc[0], mask);
            if ((lane & (gl_SubgroupSize / V - 1u)) == 0u) red[base + idx] = acc[0];
        } else {
            [[unroll]] for (uint v = 0; v < V; ++v) {
                const float r = subgroupAdd(acc[v]);
                if (subgroupElect()) red[base + v] = r;
            }
        }
        barrier();
        for (uint o = t; o < V; o += WG) {
            const uint m = o / BK, j = o % BK, n = nb + j;
            if (m < M && n < pc.N) {
                float total = 0.0;
                for (uint g = 0; g < gl_NumSubgroups; ++g) total += red[(blk & 1u) * (WG / 4u) * V + g * V + o];
                if (pc.hasBias != 0u) total += float(BIAS[n]);
                Y[m * pc.N + n] = float16_t(total);
            }
        }
    }
}
