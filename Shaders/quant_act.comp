#version 450
#extension GL_GOOGLE_include_directive : require
// Dynamic per-row (per-token) asymmetric int8 quantization of activations, with PyTorch's
// quantized_decomposed.choose_qparams_per_token_asymmetric + quantize_per_token semantics:
//   lo = min(min(x), 0), hi = max(max(x), 0)
//   scale = max((hi − lo) / 255, FLT_EPSILON)
//   dlo = lo / scale, dhi = hi / scale
//   zp = roundEven(clamp((−128 + dlo) + (127 + dhi) > 0 ? −128 − dlo : 127 − dhi, −128, 127))
//   q = clamp(roundEven(x · (1/scale) + zp), −128, 127)
// in fp32 — except with Q_F64, where the last line is evaluated in fp64 as PyTorch does (its
// choose_qparams_per_token_asymmetric returns fp64 scales, so quantize_per_token's x·(1/scale) + zp
// runs in fp64): inv = fl64(1/scale) by exact integer division, then fp64 multiply and add.
// Divisions use div_rn (correctly rounded, in integer arithmetic) because Vulkan
// allows 2.5 ULP for fp32 division; mul/add/sub are correctly rounded by the spec and marked
// `precise` so they are never fused. The result is bit-identical to the CPU reference. The
// arithmetic lives in quant_common.glsl (shared with gemv_dq.comp); with Q_F64 each value is first
// estimated in fp32 and only values within 2⁻¹⁰ of a rounding tie take the fp64 path (same bits).
// One workgroup per row (WG up to 1024 threads, 16-byte loads; the range reduced with subgroup
// operations; with Q_F64 one thread then computes the row's parameters with quant_common.glsl's
// fp64 forms of the divisions, without it the three divisions that follow the scale run side by
// side). CH > 0: each
// thread's first CH 8-value steps (t, t + WG, …) are loaded at once, before any reduction, and
// kept in registers for the quantization pass (one load latency per pass instead of one per step
// and a second read of x); steps past CH·WG, if any, are loaded in a loop as with CH = 0. Output: XQ[row, 0..ldw) packed 4 int8 per word (zero past K), and
// XP[2 row] = scale bits, XP[2 row + 1] = zero point (int).
#include "common.glsl"
#include "quant_common.glsl"
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 128;
layout(constant_id = 1) const uint CPT = 0;     // CH: 8-value steps per thread held in registers
const uint CH = CPT;
const uint CHA = CH > 0u ? CH : 1u;

// x as 16-byte vectors (rows are padded to 16 bytes, as for every linear kernel).
#ifdef ACT_F16
layout(binding = 0) readonly buffer XBuf { uvec4 X4[]; };
float xAt(uint i) { return unpackHalf2x16(X4[i >> 3][(i >> 1) & 3u])[i & 1u]; }
#else
layout(binding = 0) readonly buffer XBuf { vec4 X4[]; };
float xAt(uint i) { return X4[i >> 2][i & 3u]; }
#endif
layout(binding = 1) writeonly buffer XQBuf { uint XQ[]; };
layout(binding = 2) writeonly buffer XPBuf { uint XP[]; };

shared float smin[WG];                          // per subgroup (at most WG of them)
shared float smax[WG];
shared float sparams[4];                        // Q_F64: scale, zp; else lo, hi, dlo, dhi
#ifdef Q_F64
shared uvec2 sinv;                              // fl64(1/scale) as two words
#else
shared float sinv;
#endif

// x[base + 8i .. 8i + 8) as floats (zero past K), vector loads when rows are 16-byte aligned.
void load8(uint base, uint i, bool vec, out float v[8]) {
    const uint k0 = 8u * i;
#ifdef ACT_F16
    if (vec && k0 + 8u <= pc.K) {
        const uvec4 r = X4[(base + k0) >> 3];
        [[unroll]] for (uint h = 0; h < 4; ++h) { const vec2 p = unpackHalf2x16(r[h]); v[2 * h] = p.x; v[2 * h + 1] = p.y; }
        return;
    }
#else
    if (vec && k0 + 8u <= pc.K) {
        const vec4 a = X4[(base + k0) >> 2], b = X4[((base + k0) >> 2) + 1u];
        v[0] = a.x; v[1] = a.y; v[2] = a.z; v[3] = a.w; v[4] = b.x; v[5] = b.y; v[6] = b.z; v[7] = b.w;
        return;
    }
#endif
    [[unroll]] for (uint e = 0; e < 8; ++e) v[e] = k0 + e < pc.K ? xAt(base + k0 + e) : 0.0;
}

// Quantizes the 8 values v (x[8i .. 8i + 8), zero past K) of `row` into words 2i, 2i + 1 of XQ
// (only words < ldw are written).
void quantize8(uint row, uint i, float v[8], QINV_T inv, float inv32, float zp) {
    uint packed[2] = uint[2](0u, 0u);
    [[unroll]] for (uint e = 0; e < 8; ++e) {
        if (8u * i + e < pc.K) packed[e / 4u] |= (uint(quantize1(v[e], inv, inv32, zp)) & 255u) << (8u * (e % 4u));
    }
    XQ[row * pc.ldw + 2u * i] = packed[0];
    if (2u * i + 1u < pc.ldw) XQ[row * pc.ldw + 2u * i + 1u] = packed[1];
}

void main() {
    const uint row = gl_WorkGroupID.x;
    const uint tid = gl_LocalInvocationID.x;
    const uint base = row * pc.ldx;
#ifdef ACT_F16
    const bool vec = (pc.ldx % 8u) == 0u;
#else
    const bool vec = (pc.ldx % 4u) == 0u;
#endif
    // 8 values per step: one 16-byte load (fp16) per thread; with CH > 0 every load of the row is in
    // flight at once for K ≤ 8·CH·WG.
    const uint steps = (pc.K + 7u) / 8u;
    float lo = 0.0, hi = 0.0;   // the range always includes 0
    float kv[CHA][8];           // steps tid + c·WG (c < CH), zero past K
    [[unroll]] for (uint c = 0; c < CH; ++c) {
        const uint i = tid + c * WG;
        if (i < steps) {
            load8(base, i, vec, kv[c]);
        } else {
            [[unroll]] for (uint e = 0; e < 8; ++e) kv[c][e] = 0.0;
        }
    }
    [[unroll]] for (uint c = 0; c < CH; ++c) {
        [[unroll]] for (uint e = 0; e < 8; ++e) { lo = min(lo, kv[c][e]); hi = max(hi, kv[c][e]); }
    }
    for (uint i = tid + CH * WG; i < steps; i += WG) {
        float v[8];
        load8(base, i, vec, v);
        [[unroll]] for (uint e = 0; e < 8; ++e) { lo = min(lo, v[e]); hi = max(hi, v[e]); }
    }
    // The row's range: subgroup reductions, then one thread over the subgroups' results.
    lo = subgroupMin(lo);
    hi = subgroupMax(hi);
    if (subgroupElect()) { smin[gl_SubgroupID] = lo; smax[gl_SubgroupID] = hi; }
    barrier();
    // The row's parameters. With Q_F64 one thread computes them all (qParams: a few dozen fp64
    // operations) and one barrier publishes them. Without, every thread computes the scale (the
    // same value) and the three divisions that depend only on it run side by side — lo/scale and
    // hi/scale on threads 0 and 1, 1/scale on the last thread (another subgroup when WG ≥ 64).
    if (tid == 0) {
        // From subgroup 0's entry: invocation 0 need not be in subgroup 0 (no full subgroups asked).
        lo = smin[0];
        hi = smax[0];
        for (uint s = 1; s < gl_NumSubgroups; ++s) { lo = min(lo, smin[s]); hi = max(hi, smax[s]); }
#ifdef Q_F64
        float scale, zp;
        double inv;
        qParams(lo, hi, scale, inv, zp);
        sparams[0] = scale;
        sparams[1] = zp;
        sinv = unpackDouble2x32(inv);
#else
        sparams[0] = lo;
        sparams[1] = hi;
#endif
    }
    barrier();
#ifdef Q_F64
    const float scale = sparams[0];
    const float zp = sparams[1];
#else
    lo = sparams[0];
    hi = sparams[1];
    const float scale = qScale(lo, hi);
    for (uint j = tid; j < 2u; j += WG) sparams[2u + j] = div_rn(j == 0u ? lo : hi, scale);   // (WG = 1: both)
    if (tid == WG - 1u) sinv = qInverse(scale);
    barrier();
    const float zp = qZeroPoint(sparams[2], sparams[3]);
#endif
    if (tid == 0) {
        XP[2 * row] = floatBitsToUint(scale);
        XP[2 * row + 1] = uint(int(zp));
    }
#ifdef Q_F64
    const double inv = packDouble2x32(sinv);
#else
    const float inv = sinv;
#endif
    const float inv32 = float(inv);
    // Quantize 8 values (two output words) per step; words past K up to ldw are zero.
    const uint wsteps = (pc.ldw + 1u) / 2u;
    [[unroll]] for (uint c = 0; c < CH; ++c) {
        const uint i = tid + c * WG;
        if (i < wsteps) quantize8(row, i, kv[c], inv, inv32, zp);
    }
    for (uint i = tid + CH * WG; i < wsteps; i += WG) {
        float v[8];
        load8(base, i, vec, v);
        quantize8(row, i, v, inv, inv32, zp);
    }
}
