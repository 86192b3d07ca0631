#version 450
#extension GL_GOOGLE_include_directive : require
// Dynamic per-row (per-token) asymmetric int8 quantization of activations, with PyTorch's
// quantized_decomposed.choose_qparams_per_token_asymmetric + quantize_per_token semantics:
//   lo = min(min(x), 0), hi = max(max(x), 0)
//   scale = max((hi − lo) / 255, FLT_EPSILON)
//   dlo = lo / scale, dhi = hi / scale
//   zp = roundEven(clamp((−128 + dlo) + (127 + dhi) > 0 ? −128 − dlo : 127 − dhi, −128, 127))
//   q = clamp(roundEven(x · (1/scale) + zp), −128, 127)
// all in fp32. Divisions use div_rn (correctly rounded, in integer arithmetic) because Vulkan
// allows 2.5 ULP for fp32 division; mul/add/sub are correctly rounded by the spec and marked
// `precise` so they are never fused. The result is bit-identical to the CPU reference.
// One workgroup per row. Output: XQ[row, 0..ldw) packed 4 int8 per word (zero past K), and
// XP[2 row] = scale bits, XP[2 row + 1] = zero point (int).
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 128;

layout(binding = 0) readonly buffer XB { ACT_T X[]; };
layout(binding = 1) writeonly buffer XQB { uint XQ[]; };
layout(binding = 2) writeonly buffer XPB { uint XP[]; };

shared float smin[WG];
shared float smax[WG];
shared float sparams[2];

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

void main() {
    const uint row = gl_WorkGroupID.x;
    const uint tid = gl_LocalInvocationID.x;
    const uint base = row * pc.ldx;
    float lo = 0.0, hi = 0.0;   // the range always includes 0
    for (uint k = tid; k < pc.K; k += WG) {
        const float v = float(X[base + k]);
        lo = min(lo, v);
        hi = max(hi, v);
    }
    smin[tid] = lo;
    smax[tid] = hi;
    barrier();
    for (uint s = WG / 2; s > 0; s >>= 1) {
        if (tid < s) {
            smin[tid] = min(smin[tid], smin[tid + s]);
            smax[tid] = max(smax[tid], smax[tid + s]);
        }
        barrier();
    }
    if (tid == 0) {
        lo = smin[0];
        hi = smax[0];
        precise float range = hi - lo;
        float scale = div_rn(range, 255.0);
        scale = max(scale, 1.1920928955078125e-07);
        const float dlo = div_rn(lo, scale);
        const float dhi = div_rn(hi, scale);
        precise float zmin = -128.0 + dlo;
        precise float zmax = 127.0 + dhi;
        precise float zsum = zmin + zmax;
        precise float zfromMin = -128.0 - dlo;
        precise float zfromMax = 127.0 - dhi;
        float zp = zsum > 0.0 ? zfromMin : zfromMax;
        zp = roundEven(clamp(zp, -128.0, 127.0));
        sparams[0] = scale;
        sparams[1] = zp;
        XP[2 * row] = floatBitsToUint(scale);
        XP[2 * row + 1] = uint(int(zp));
    }
    barrier();
    const float scale = sparams[0];
    const float zp = sparams[1];
    const float inv = div_rn(1.0, scale);
    for (uint w = tid; w < pc.ldw; w += WG) {
        uint packed = 0u;
        [[unroll]] for (uint i = 0; i < 4; ++i) {
            const uint k = 4 * w + i;
            if (k < pc.K) {
                precise float t = float(X[base + k]) * inv;
                precise float u = t + zp;
                const int q = int(clamp(roundEven(u), -128.0, 127.0));
                packed |= (uint(q) & 255u) << (8 * i);
            }
        }
        XQ[row * pc.ldw + w] = packed;
    }
}
