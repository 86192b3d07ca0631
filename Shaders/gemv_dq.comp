#version 450
#extension GL_GOOGLE_include_directive : require
// Fused decode kernel for the dq8ca ops (M ≤ 8): no separate quantization pass. Every workgroup
// quantizes the BM activation rows itself — per-row range, scale, zero point and 1/scale with
// quant_common.glsl, the same bits as quant_act.comp — into shared memory, then streams the
// weights as gemv_q4_sg does: each subgroup owns R consecutive output columns over the whole of K
// (lane l takes the 32-value chunks l, l + SGS, …; KS > 1: subgroup part p of KS takes p·SGS + l,
// stride KS·SGS), U chunks per column in flight, the R·BM sums reduced with subgroupAdd.
// Workgroup 0 also writes the int8 rows and their parameters (XQ, XP; as quant_act lays them out)
// so a layer sharing this one's scratch, and tests, read the same activations.
//   WEIGHT_Q4 (dq8ca_q4gsw): a 16-byte load is 32 nibbles; word q's even nibbles (w & 0x0F0F0F0F)
//     and odd nibbles ((w >> 4) & 0x0F0F0F0F) are dotted, unsigned, with the activations staged in
//     the same even/odd order, and 8·Σxq of the chunk (staged beside it) is subtracted: the chunk's
//     Σ xq·(q − 8) exactly, then × the group scale in fp32 (G % 32 == 0: one scale per chunk).
//   WEIGHT_Q8 (dq8ca_q8csw): two 16-byte loads per chunk, Σ xq·w in int32 over the whole row.
//   y = sx·(acc − zp·corr[n]) (+ bias), as gemv_int.
// Specialization: BM = rows staged (≥ M), BN = columns per workgroup (a multiple of R), BK = U =
// chunks in flight per column, WG, GS = group size (0 = pc.G), KC = chunks staged per row
// (≥ ⌈K/32⌉), R = columns per subgroup at a time, KS = subgroups splitting a column group's K,
// SGS = the subgroup size the pipeline requires (KS > 1). Push constants: K = the real K, ldx = x's
// row stride (elements), ldw = weight words per row, G = group size (q4).
#include "common.glsl"
#include "quant_common.glsl"
#include "int_dot.glsl"
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_KHR_memory_scope_semantics : require

layout(local_size_x_id = 3) in;
layout(constant_id = 0) const uint BM = 1;
layout(constant_id = 1) const uint BN = 8;
layout(constant_id = 2) const uint BK = 4;
const uint U = BK;
layout(constant_id = 3) const uint WG = 128;
layout(constant_id = 4) const uint GS = 0;
layout(constant_id = 5) const uint KC = 128;
layout(constant_id = 6) const uint R = 2;
layout(constant_id = 7) const uint KS = 1;
layout(constant_id = 8) const uint SGS = 32;

#ifdef ACT_F16
layout(binding = 0) readonly buffer XBuf { uvec4 X4[]; };
float xAt(uint i) { return unpackHalf2x16(X4[i >> 3][(i >> 1) & 3u])[i & 1u]; }
#else
layout(binding = 0) readonly buffer XBuf { vec4 X4[]; };
float xAt(uint i) { return X4[i >> 2][i & 3u]; }
#endif
layout(binding = 1) readonly buffer WBuf { uvec4 W4[]; };
layout(binding = 2) readonly buffer SBuf { float WS[]; };
layout(binding = 3) readonly buffer CorrBuf { float CORR[]; };
layout(binding = 4) readonly buffer BiasBuf { ACT_T BIAS[]; };
layout(binding = 5) writeonly buffer YBuf { ACT_T Y[]; };
layout(binding = 6) writeonly buffer XQBuf { uint XQ[]; };
layout(binding = 7) writeonly buffer XPBuf { uint XP[]; };

#ifdef WEIGHT_Q8
#define ACC_T int
#define WCH 2u
#else
#define ACC_T float
#define WCH 1u
#endif

const uint NSG = WG / SGS;                     // subgroups the range reduction provides for
// One row (BM = 1): thread t keeps its steps t, t + WG, … (at most 4) in registers from the range
// pass to the quantization, so each pass issues all its loads at once instead of one after another.
const uint CHS = (4u * KC + WG - 1u) / WG;
const uint CH = BM == 1u ? (CHS < 4u ? CHS : 4u) : 0u;
const uint CHA = CH > 0u ? CH : 1u;
// The int8 rows: row m, half h (words 4h … 4h + 3 of the chunk, in the kernel's order), chunk c at
// XS[(m·2 + h)·KC + c] — consecutive chunks in consecutive 16-byte slots (the lanes of a subgroup
// read consecutive chunks).
shared uvec4 XS[BM * 2 * KC];
#ifdef WEIGHT_Q4
shared int XSUM[BM * KC];                      // Σ xq over each chunk (the q − 8 correction)
#endif
shared float smin[BM * NSG];
shared float smax[BM * NSG];
shared float sscale[BM], szp[BM];
#ifndef Q_F64
shared float sdlo[BM], sdhi[BM];
#endif
#ifdef Q_F64
shared uvec2 sinv[BM];
#else
shared float sinv[BM];
#endif
shared ACC_T red[KS > 1 ? 2 * NSG * BM * R : 1];

ACC_T acc[BM][R];

// x[m, 8i .. 8i + 8) as floats, zero past K (16-byte loads when rows are aligned).
void load8(uint m, uint i, out float v[8]) {
    const uint k0 = 8u * i, base = m * pc.ldx;
#ifdef ACT_F16
    if ((pc.ldx % 8u) == 0u && k0 + 8u <= pc.K) {
        const uvec4 r = X4[(base + k0) >> 3];
        [[unroll]] for (uint h = 0; h < 4; ++h) { const vec2 p = unpackHalf2x16(r[h]); v[2 * h] = p.x; v[2 * h + 1] = p.y; }
        return;
    }
#else
    if ((pc.ldx % 4u) == 0u && k0 + 8u <= pc.K) {
        const vec4 a = X4[(base + k0) >> 2], b = X4[((base + k0) >> 2) + 1u];
        v[0] = a.x; v[1] = a.y; v[2] = a.z; v[3] = a.w; v[4] = b.x; v[5] = b.y; v[6] = b.z; v[7] = b.w;
        return;
    }
#endif
    [[unroll]] for (uint e = 0; e < 8; ++e) v[e] = k0 + e < pc.K ? xAt(base + k0 + e) : 0.0;
}

// Quantizes step st (8 values v = x[m, 8st .. 8st + 8), zero past K) of row m: half st % 2 of the
// 16-byte slot of chunk st / 4 in XS row half (st % 4) / 2, its Σ xq added to the chunk's XSUM;
// workgroup 0 also writes the two XQ words. Rows m ≥ M get zeros.
void quantStep(uint M, uint m, uint st, float v[8]) {
    const uint chunks = (pc.K + 31u) / 32u;
    const uint xqw = chunks * 8u;                  // XQ row: K padded to 32, 4 values per word
    const uint c = st / 4u, q = st % 4u;
    uint nat[2] = uint[2](0u, 0u);                 // the step's words in k order (XQ's layout)
    int sum = 0;
    if (m < M) {
        const float zp = szp[m];
#ifdef Q_F64
        const double inv = packDouble2x32(sinv[m]);
#else
        const float inv = sinv[m];
#endif
        const float inv32 = float(inv);
        [[unroll]] for (uint e = 0; e < 8; ++e) {
            if (8u * st + e < pc.K) {
                const int x = quantize1(v[e], inv, inv32, zp);
                sum += x;
                nat[e / 4u] |= (uint(x) & 255u) << (8u * (e % 4u));
            }
        }
        if (gl_WorkGroupID.x == 0u) { XQ[m * xqw + 2u * st] = nat[0]; XQ[m * xqw + 2u * st + 1u] = nat[1]; }
    }
    const uint slot = (m * 2u + q / 2u) * KC + c;
#ifdef WEIGHT_Q4
    // Word q of the weights holds k = 8q … 8q + 7; its even nibbles pair with E_q = (x0, x2,
    // x4, x6), its odd ones with O_q = (x1, x3, x5, x7) of those 8 values.
    const uint a = nat[0], b = nat[1];              // (x0 x1 x2 x3), (x4 x5 x6 x7)
    const uvec2 ord = uvec2((a & 0xFFu) | ((a >> 8) & 0xFF00u) | ((b & 0xFFu) << 16) | ((b & 0xFF0000u) << 8),
                            ((a >> 8) & 0xFFu) | ((a >> 16) & 0xFF00u) | ((b & 0xFF00u) << 8) | (b & 0xFF000000u));
    // Two threads write the two halves of one slot: glslang 13.1.1 (the version build-shaders.py
    // requires) stores a swizzled half as one OpStore per component — no read-modify-write of the
    // vector, so no race (checked in the SPIR-V; this is the form verified on the H100).
    if ((q & 1u) == 0u) XS[slot].xy = ord; else XS[slot].zw = ord;
    // Workgroup scope (shared memory): a Device-scope atomic would need vulkanMemoryModelDeviceScope
    // wherever the memory model is enabled (VUID-RuntimeSpirv-vulkanMemoryModel-06265).
    if (sum != 0) atomicAdd(XSUM[m * KC + c], sum, gl_ScopeWorkgroup, gl_StorageSemanticsNone, gl_SemanticsRelaxed);
#else
    if ((q & 1u) == 0u) XS[slot].xy = uvec2(nat[0], nat[1]); else XS[slot].zw = uvec2(nat[0], nat[1]);
#endif
}

// Quantizes the M rows into XS (and XSUM); workgroup 0 also writes XQ and XP. Three phases, each
// ended by a barrier (without Q_F64 phase 2 holds one more): (1) every thread loads 8-value steps of x (one row: up to 4 held in registers, CH) and
// reduces their range; (2) one thread per
// row combines the subgroups' ranges and computes the row's parameters (with Q_F64 all of them,
// quant_common.glsl's qParams; without, the three long divisions on three threads of different
// subgroups, a third barrier between); (3) every thread quantizes 8-value steps again — one step
// per thread where K ≤ 8·WG — into its half of a chunk's 16-byte slot, and adds the step's Σ xq
// to the chunk's (shared atomics, XSUM zeroed in phase 1).
void stage(uint M) {
    const uint t = gl_LocalInvocationID.x;
    const uint steps = (pc.K + 7u) / 8u;
    const uint chunks = (pc.K + 31u) / 32u;
    const uint qsteps = 4u * chunks;               // steps padded to whole chunks
#ifdef WEIGHT_Q4
    for (uint i = t; i < BM * chunks; i += WG) XSUM[(i / chunks) * KC + i % chunks] = 0;
#endif
    // The rows' ranges (always including 0): each subgroup's, then combined per row below.
    float kv[CHA][8];                              // (CH > 0: BM = 1) steps t + c·WG, zero past K
    [[unroll]] for (uint c = 0; c < CH; ++c) {
        const uint i = t + c * WG;
        if (i < steps) load8(0u, i, kv[c]);
        else { [[unroll]] for (uint e = 0; e < 8; ++e) kv[c][e] = 0.0; }
    }
    for (uint m = 0; m < BM; ++m) {
        float lo = 0.0, hi = 0.0;
        if (m < M) {
            [[unroll]] for (uint c = 0; c < CH; ++c) {
                [[unroll]] for (uint e = 0; e < 8; ++e) { lo = min(lo, kv[c][e]); hi = max(hi, kv[c][e]); }
            }
            for (uint i = t + CH * WG; i < steps; i += WG) {
                float v[8];
                load8(m, i, v);
                [[unroll]] for (uint e = 0; e < 8; ++e) { lo = min(lo, v[e]); hi = max(hi, v[e]); }
            }
        }
        lo = subgroupMin(lo);
        hi = subgroupMax(hi);
        if (subgroupElect() && gl_SubgroupID < NSG) { smin[m * NSG + gl_SubgroupID] = lo; smax[m * NSG + gl_SubgroupID] = hi; }
    }
    barrier();
    const uint nsg = min(gl_NumSubgroups, NSG);
#ifdef Q_F64
    // Row m's parameters on thread m.
    for (uint m = t; m < M; m += WG) {
        float lo = smin[m * NSG], hi = smax[m * NSG];
        for (uint s = 1; s < nsg; ++s) { lo = min(lo, smin[m * NSG + s]); hi = max(hi, smax[m * NSG + s]); }
        float scale, zp;
        double inv;
        qParams(lo, hi, scale, inv, zp);
        sinv[m] = unpackDouble2x32(inv);
        sscale[m] = scale;
        szp[m] = zp;
        if (gl_WorkGroupID.x == 0u) { XP[2u * m] = floatBitsToUint(scale); XP[2u * m + 1u] = uint(int(zp)); }
    }
#else
    // Per row: dlo = lo/scale (job 0), dhi = hi/scale (job 1), 1/scale (job 2) — jobs 32 threads
    // apart, so with ≥ 96 threads they run side by side in different subgroups.
    for (uint j = t; j < 96u; j += WG) {
        const uint m = j % 32u, job = j / 32u;
        if (m < M) {
            float lo = smin[m * NSG], hi = smax[m * NSG];
            for (uint s = 1; s < nsg; ++s) { lo = min(lo, smin[m * NSG + s]); hi = max(hi, smax[m * NSG + s]); }
            const float scale = qScale(lo, hi);
            if (job == 0u) sdlo[m] = div_rn(lo, scale);
            else if (job == 1u) sdhi[m] = div_rn(hi, scale);
            else {
                sinv[m] = qInverse(scale);
                sscale[m] = scale;
                if (gl_WorkGroupID.x == 0u) XP[2u * m] = floatBitsToUint(scale);
            }
        }
    }
    barrier();
    for (uint m = t; m < M; m += WG) {
        szp[m] = qZeroPoint(sdlo[m], sdhi[m]);
        if (gl_WorkGroupID.x == 0u) XP[2u * m + 1u] = uint(int(szp[m]));
    }
#endif
    barrier();
    // Quantize step by step (8 values, zero past K): the held steps first, then the rest.
    [[unroll]] for (uint c = 0; c < CH; ++c) {
        const uint st = t + c * WG;
        if (st < qsteps) quantStep(M, 0u, st, kv[c]);
    }
    for (uint i = t + CH * WG; i < BM * qsteps; i += WG) {
        const uint m = i / qsteps, st = i % qsteps;
        float v[8];
        if (m < M) load8(m, st, v);
        else { [[unroll]] for (uint e = 0; e < 8; ++e) v[e] = 0.0; }
        quantStep(M, m, st, v);
    }
    barrier();
}

// Rows of W this subgroup reads (clamped to the last one; only columns < N are written).
uint rowOf(uint n0, uint r) { return min(n0 + r, pc.N - 1u); }

// This lane's share of columns n0 … n0 + R: chunks first, first + KS·SGS, …, U at a time.
void columns(uint n0, uint first, uint M, uint chunks) {
    const uint grp = GS != 0u ? GS : pc.G;
    const uint ng = grp != 0u ? pc.K / grp : 1u;
    const uint stride = KS * gl_SubgroupSize;
    for (uint c0 = first; c0 < chunks; c0 += U * stride) {
        uvec4 w[U][R][WCH];
#ifdef WEIGHT_Q4
        float s[U][R];
#endif
        [[unroll]] for (uint u = 0; u < U; ++u) {
            const uint c = min(c0 + u * stride, chunks - 1u);
            [[unroll]] for (uint r = 0; r < R; ++r) {
                const uint n = rowOf(n0, r);
                [[unroll]] for (uint h = 0; h < WCH; ++h) w[u][r][h] = W4[(n * pc.ldw) / 4u + WCH * c + h];
#ifdef WEIGHT_Q4
                s[u][r] = WS[n * ng + (32u * c) / grp];
#endif
            }
        }
        [[unroll]] for (uint u = 0; u < U; ++u) {
            const uint c = c0 + u * stride;
            if (c < chunks) {
                [[unroll]] for (uint m = 0; m < BM; ++m) {
                    if (m < M) {
                        const uvec4 x0 = XS[(m * 2u) * KC + c], x1 = XS[(m * 2u + 1u) * KC + c];
#ifdef WEIGHT_Q4
                        const int corr8 = 8 * XSUM[m * KC + c];
#endif
                        [[unroll]] for (uint r = 0; r < R; ++r) {
#ifdef WEIGHT_Q4
                            const uvec4 wv = w[u][r][0];
                            int d = dot4(x0.x, wv.x & 0x0F0F0F0Fu) + dot4(x0.y, (wv.x >> 4) & 0x0F0F0F0Fu)
                                  + dot4(x0.z, wv.y & 0x0F0F0F0Fu) + dot4(x0.w, (wv.y >> 4) & 0x0F0F0F0Fu)
                                  + dot4(x1.x, wv.z & 0x0F0F0F0Fu) + dot4(x1.y, (wv.z >> 4) & 0x0F0F0F0Fu)
                                  + dot4(x1.z, wv.w & 0x0F0F0F0Fu) + dot4(x1.w, (wv.w >> 4) & 0x0F0F0F0Fu);
                            acc[m][r] += s[u][r] * float(d - corr8);
#else
                            const uvec4 a = w[u][r][0], b = w[u][r][1];
                            acc[m][r] += dot4(x0.x, a.x) + dot4(x0.y, a.y) + dot4(x0.z, a.z) + dot4(x0.w, a.w)
                                       + dot4(x1.x, b.x) + dot4(x1.y, b.y) + dot4(x1.z, b.z) + dot4(x1.w, b.w);
#endif
                        }
                    }
                }
            }
        }
    }
}

// Columns n0 … n0 + R for all rows: this lane's share (part `part` of KS); the subgroup's sums
// end in acc (every lane holds them).
void columnGroup(uint n0, uint part, uint M, uint chunks) {
    [[unroll]] for (uint m = 0; m < BM; ++m) [[unroll]] for (uint r = 0; r < R; ++r) acc[m][r] = ACC_T(0);
    columns(n0, part * gl_SubgroupSize + gl_SubgroupInvocationID, M, chunks);
    [[unroll]] for (uint m = 0; m < BM; ++m) [[unroll]] for (uint r = 0; r < R; ++r) acc[m][r] = subgroupAdd(acc[m][r]);
}

// y for columns n0 … n0 + R from their sums (one value per lane).
void store(uint n0, uint M) {
    const uint lane = gl_SubgroupInvocationID;
    [[unroll]] for (uint m = 0; m < BM; ++m) {
        [[unroll]] for (uint r = 0; r < R; ++r) {
            const uint n = n0 + r;
            if (lane == (m * R + r) % gl_SubgroupSize && m < M && n < pc.N) {
#ifdef WEIGHT_Q8
                const float tf = WS[n] * float(acc[m][r]);
#else
                const float tf = acc[m][r];
#endif
                float v = sscale[m] * (tf - szp[m] * CORR[n]);
                if (pc.hasBias != 0u) v += float(BIAS[n]);
                Y[m * pc.N + n] = ACT_T(v);
            }
        }
    }
}

void main() {
    const uint M = min(pc.M, BM);
    const uint chunks = (pc.K + 31u) / 32u;
    stage(M);
    if (KS == 1u) {
        for (uint cg = gl_SubgroupID; cg < BN / R; cg += gl_NumSubgroups) {
            const uint n0 = gl_WorkGroupID.x * BN + cg * R;
            if (n0 >= pc.N) break;
            columnGroup(n0, 0u, M, chunks);
            store(n0, M);
        }
    } else {
        const uint sg = gl_SubgroupID, part = sg % KS, groups = NSG / KS;
        const uint lane = gl_SubgroupInvocationID;
        for (uint pass = 0; pass < BN / (R * groups); ++pass) {
            const uint cg = pass * groups + sg / KS;
            const uint n0 = gl_WorkGroupID.x * BN + cg * R;
            const uint base = (pass & 1u) * NSG * BM * R;
            columnGroup(min(n0, pc.N - 1u), part, M, chunks);
            [[unroll]] for (uint m = 0; m < BM; ++m) [[unroll]] for (uint r = 0; r < R; ++r)
                if (lane == (m * R + r) % gl_SubgroupSize) red[base + sg * BM * R + m * R + r] = acc[m][r];
            barrier();
            if (part == 0u && n0 < pc.N) {
                [[unroll]] for (uint m = 0; m < BM; ++m) [[unroll]] for (uint r = 0; r < R; ++r) {
                    ACC_T v = ACC_T(0);
                    for (uint p = 0; p < KS; ++p) v += red[base + (sg + p) * BM * R + m * R + r];
                    acc[m][r] = v;
                }
                store(n0, M);
            }
        }
    }
}
