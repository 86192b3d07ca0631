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
// `precise` so they are never fused. The result is bit-identical to the CPU reference.
// One workgroup per row (WG up to 1024 threads, 16-byte loads; the range reduced with subgroup
// operations, the three divisions that follow the scale computed side by side). CH > 0: each
// thread's first CH 8-value steps (t, t + WG, …) are loaded at once, before any reduction, and
// kept in registers for the quantization pass (one load latency per pass instead of one per step
// and a second read of x); steps past CH·WG, if any, are loaded in a loop as with CH = 0. Output: XQ[row, 0..ldw) packed 4 int8 per word (zero past K), and
// XP[2 row] = scale bits, XP[2 row + 1] = zero point (int).
#include "common.glsl"
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 128;
layout(constant_id = 1) const uint CH = 0;      // 8-value steps per thread held in registers
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
shared float sparams[4];                        // lo, hi, dlo, dhi
#ifdef Q_F64
shared uvec2 sinv;                              // fl64(1/scale) as two words
#else
shared float sinv;
#endif

// Correctly rounded a / b for finite a and normal b > 0 (round to nearest even). Results that
// would be subnormal flush to zero: every caller either clamps them (scale) or adds them to a
// value of magnitude ≥ 127 where they vanish (dlo, dhi); 1/scale is always normal.
float div_rn(float a, float b) {
    if (a == 0.0) return 0.0;
    const uint ua = floatBitsToUint(a), ub = floatBitsToUint(b);
    const uint sgn = (ua ^ ub) & 0x80000000u;
    int ea = int((ua >> 23) & 255u);
    int eb = int((ub >> 23) & 255u);
    uint ma = ua & 0x7fffffu;
    uint mb = ub & 0x7fffffu;
    if (ea == 0) { // subnormal dividend: normalise
        while ((ma & 0x800000u) == 0u) { ma <<= 1; ea -= 1; }
        ea += 1;
    } else {
        ma |= 0x800000u;
    }
    mb |= 0x800000u;
    int e = ea - eb + 127;
    if (ma < mb) { ma <<= 1; e -= 1; }
    // ma/mb in [1, 2): 26 quotient bits = 1 integer + 23 fraction + guard + round
    uint q = 0u, r = ma;
    for (int i = 0; i < 26; ++i) {
        q <<= 1;
        if (r >= mb) { r -= mb; q |= 1u; }
        r <<= 1;
    }
    uint mant = q >> 2;
    const uint guard_ = (q >> 1) & 1u;
    const bool rest = (q & 1u) != 0u || r != 0u;
    if (guard_ == 1u && (rest || (mant & 1u) == 1u)) mant += 1u;
    if (mant == 0x1000000u) { mant >>= 1; e += 1; }
    if (e >= 255) return uintBitsToFloat(sgn | 0x7f800000u);
    if (e <= 0) return uintBitsToFloat(sgn);
    return uintBitsToFloat(sgn | (uint(e) << 23) | (mant & 0x7fffffu));
}

#ifdef Q_F64
#extension GL_EXT_shader_explicit_arithmetic_types_float64 : require
// fl64(1/s) for a normal fp32 s > 0: 55 quotient bits by long division, rounded to nearest even.
double recip64(float s) {
    const uint us = floatBitsToUint(s);
    const int es = int((us >> 23) & 255u);
    const uint ms = (us & 0x7fffffu) | 0x800000u;      // s = ms · 2^(es − 150)
    uint r = 0x800000u;                                 // 1/s = (2^23 / ms) · 2^(127 − es)
    int e = 127 - es;
    if (r < ms) { r <<= 1; e -= 1; }                    // r/ms in [1, 2)
    uint qhi = 0u, qlo = 0u;
    for (int i = 0; i < 55; ++i) {
        qhi = (qhi << 1) | (qlo >> 31);
        qlo <<= 1;
        if (r >= ms) { r -= ms; qlo |= 1u; }
        r <<= 1;
    }
    const uint guard_ = (qlo >> 1) & 1u;
    const bool sticky = (qlo & 1u) != 0u || r != 0u;
    uint mlo = (qlo >> 2) | (qhi << 30);
    uint mhi = qhi >> 2;                                // 53-bit significand, leading 1 at bit 20 of mhi
    if (guard_ == 1u && (sticky || (mlo & 1u) == 1u)) { mlo += 1u; if (mlo == 0u) mhi += 1u; }
    if (mhi == (1u << 21)) { mhi = 1u << 20; mlo = 0u; e += 1; }
    return packDouble2x32(uvec2(mlo, (uint(e + 1023) << 20) | (mhi & 0xfffffu)));
}
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

#ifdef Q_F64
#define INV_T double
#else
#define INV_T float
#endif
// Quantizes the 8 values v (x[8i .. 8i + 8), zero past K) of `row` into words 2i, 2i + 1 of XQ
// (only words < ldw are written).
void quantize8(uint row, uint i, float v[8], INV_T inv, float zp) {
#ifdef Q_F64
    const double zp64 = double(zp);
#endif
    uint packed[2] = uint[2](0u, 0u);
    [[unroll]] for (uint e = 0; e < 8; ++e) {
        const uint k = 8u * i + e;
        if (k < pc.K) {
#ifdef Q_F64
            precise double t = double(v[e]) * inv;
            precise double u = t + zp64;
            // Round half to even by hand: fp64 roundEven was seen to round ties down on
            // llvmpipe; floor and the exact difference u − floor(u) are reliable.
            const double fl = floor(u);
            precise double frac = u - fl;
            double r = fl;
            // |u| ≤ 383 (|x| ≤ 255·scale, |zp| ≤ 128): fl's parity from its int value (an
            // fp64 mod is a division per element); the clamp keeps the conversion defined.
            if (frac > 0.5LF || (frac == 0.5LF && (int(clamp(fl, -1024.0LF, 1024.0LF)) & 1) != 0)) r = fl + 1.0LF;
            const int q = int(clamp(r, -128.0LF, 127.0LF));
#else
            precise float t = v[e] * inv;
            precise float u = t + zp;
            const int q = int(clamp(roundEven(u), -128.0, 127.0));
#endif
            packed[e / 4u] |= (uint(q) & 255u) << (8u * (e % 4u));
        }
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
    if (tid == 0) {
        // From subgroup 0's entry: invocation 0 need not be in subgroup 0 (no full subgroups asked).
        lo = smin[0];
        hi = smax[0];
        for (uint s = 1; s < gl_NumSubgroups; ++s) { lo = min(lo, smin[s]); hi = max(hi, smax[s]); }
        sparams[0] = lo;
        sparams[1] = hi;
    }
    barrier();
    // Parameters: every thread computes the scale (the same value); then the three divisions
    // that depend only on it run side by side instead of one after another — lo/scale and
    // hi/scale on threads 0 and 1, 1/scale on the last thread (another subgroup when WG ≥ 64).
    lo = sparams[0];
    hi = sparams[1];
    precise float range = hi - lo;
    const float scale = max(div_rn(range, 255.0), 1.1920928955078125e-07);
    for (uint j = tid; j < 2u; j += WG) sparams[2u + j] = div_rn(j == 0u ? lo : hi, scale);   // (WG = 1: both)
    if (tid == WG - 1u) {
#ifdef Q_F64
        sinv = unpackDouble2x32(recip64(scale));
#else
        sinv = div_rn(1.0, scale);
#endif
    }
    barrier();
    const float dlo = sparams[2];
    const float dhi = sparams[3];
    precise float zmin = -128.0 + dlo;
    precise float zmax = 127.0 + dhi;
    precise float zsum = zmin + zmax;
    precise float zfromMin = -128.0 - dlo;
    precise float zfromMax = 127.0 - dhi;
    float zp = zsum > 0.0 ? zfromMin : zfromMax;
    zp = roundEven(clamp(zp, -128.0, 127.0));
    if (tid == 0) {
        XP[2 * row] = floatBitsToUint(scale);
        XP[2 * row + 1] = uint(int(zp));
    }
#ifdef Q_F64
    const double inv = packDouble2x32(sinv);
#else
    const float inv = sinv;
#endif
    // Quantize 8 values (two output words) per step; words past K up to ldw are zero.
    const uint wsteps = (pc.ldw + 1u) / 2u;
    [[unroll]] for (uint c = 0; c < CH; ++c) {
        const uint i = tid + c * WG;
        if (i < wsteps) quantize8(row, i, kv[c], inv, zp);
    }
    for (uint i = tid + CH * WG; i < wsteps; i += WG) {
        float v[8];
        load8(base, i, vec, v);
        quantize8(row, i, v, inv, zp);
    }
}
