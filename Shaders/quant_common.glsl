// Dynamic per-row asymmetric int8 quantization, shared by quant_act.comp and gemv_dq.comp (see
// quant_act.comp for the semantics; both produce the same bits as the CPU reference).
#extension GL_EXT_shader_explicit_arithmetic_types : require
#ifdef Q_F64
#extension GL_EXT_shader_explicit_arithmetic_types_float64 : require
#define QINV_T double
#else
#define QINV_T float
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

// scale = max((hi − lo) / 255, FLT_EPSILON), correctly rounded.
float qScale(float lo, float hi) {
    precise float range = hi - lo;
    return max(div_rn(range, 255.0), 1.1920928955078125e-07);
}

#ifdef Q_F64
// The same bits as the long divisions above in a few dozen fp64 operations instead of 26 and 55
// dependent integer steps (those steps sat on every dq8ca dispatch's critical path, between the
// range reduction and the first quantized value). Checked on the host, bit for bit against
// div_rn / recip64, by scripts/verify_quant_div.c: recip64fast exhaustively (every divisor
// mantissa with every first estimate the guard admits), div_fast and the whole chain over sampled
// and structured cases. The Vulkan spec promises fp64 operations only fp32's precision and no
// rounding mode: like quantize1's fp64 path, this relies on IEEE round-to-nearest fp64
// mul/add/sub (H100, llvmpipe: the conformance sweep and the tests compare every int8 value and
// parameter with the CPU reference bit for bit); `precise` keeps them from being fused.

// fl64(1/s) for a normal fp32 s > 0 (other s: recip64). With d = s's 24-bit mantissa: an fp32
// estimate y0 of 1/d (Vulkan allows 2.5 ULP; the guard |1 − d·y0| < 2⁻²⁰ sends anything worse to
// the long division), one Newton step (d·y0 is exact: 24 × 24 bits) to y1 (error ≈ 2⁻⁴²), the
// residual 1 − d·y1 exactly (y1 split into 24 + 29 bits so both products are exact), a second step
// rounded once: within 2⁻⁸⁴ of 1/d, which is never nearer than 2⁻⁷⁹ to a rounding midpoint.
double recip64fast(float s) {
    if (!(s <= 3.4028234663852886e38)) return recip64(s);
    const uint us = floatBitsToUint(s);
    const int es = int((us >> 23) & 255u);
    const uint ms = (us & 0x7fffffu) | 0x800000u;
    const double d = double(ms);
    const double y0 = double(1.0 / float(ms));
    precise double e0 = 1.0LF - d * y0;
    if (!(abs(e0) < 9.5367431640625e-07LF)) return recip64(s);
    precise double y1 = y0 + y0 * e0;
    const uvec2 b1 = unpackDouble2x32(y1);
    const double yh = packDouble2x32(uvec2(b1.x & 0xE0000000u, b1.y));
    precise double yl = y1 - yh;
    precise double t = 1.0LF - d * yh;
    precise double e1 = t - d * yl;
    precise double y2 = y1 + y1 * e1;
    // 1/s = (1/d) · 2^(150 − es): a power of two, exact.
    precise double r = y2 * packDouble2x32(uvec2(0u, uint(1023 + 150 - es) << 20));
    return r;
}

// div_rn(a, b) given inv = fl64(1/b), for finite a and normal b > 0: q0 = fl32(|a|·inv) is within
// one ULP of |a|/b whatever the conversion's rounding; of q0 and its two neighbours the one with
// the smallest exact remainder |a| − q·b (24 × 24-bit products and a nearby difference: no
// rounding) is the correctly rounded quotient — never a tie, as a quotient of two fp32 values is
// never a midpoint. Quotients that are not normal floats, and b = ∞ (a scale from an overflowed
// range), take div_rn (it flushes subnormals).
float div_fast(float a, float b, double inv) {
    if (a == 0.0) return 0.0;
    if (!(b <= 3.4028234663852886e38)) return div_rn(a, b);
    precise double qd = abs(double(a)) * inv;
    const float q0 = float(qd);
    if (!(q0 >= 2.350988701644575e-38 && q0 <= 1.7014118346046923e38)) return div_rn(a, b);
    const uint u = floatBitsToUint(q0);
    const float qm = uintBitsToFloat(u - 1u), qp = uintBitsToFloat(u + 1u);
    const double A = abs(double(a)), B = double(b);
    precise double r0 = A - double(qm) * B;
    precise double r1 = A - double(q0) * B;
    precise double r2 = A - double(qp) * B;
    float q = q0;
    if (abs(r0) < abs(r1)) q = qm;
    else if (abs(r2) < abs(r1)) q = qp;
    return a < 0.0 ? -q : q;
}

// qScale with div_fast (a range that overflowed, or NaN, takes qScale).
float qScaleFast(float lo, float hi) {
    precise float range = hi - lo;
    if (!(range <= 3.4028234663852886e38)) return qScale(lo, hi);
    const double inv255 = packDouble2x32(uvec2(0x10101010u, 0x3f701010u));   // fl64(1/255)
    return max(div_fast(range, 255.0, inv255), 1.1920928955078125e-07);
}
#endif

// The zero point from dlo = lo / scale and dhi = hi / scale.
float qZeroPoint(float dlo, float dhi) {
    precise float zmin = -128.0 + dlo;
    precise float zmax = 127.0 + dhi;
    precise float zsum = zmin + zmax;
    precise float zfromMin = -128.0 - dlo;
    precise float zfromMax = 127.0 - dhi;
    const float zp = zsum > 0.0 ? zfromMin : zfromMax;
    return roundEven(clamp(zp, -128.0, 127.0));
}

// 1/scale: fl64 with Q_F64 (recip64fast: the bits of the exact long division), else correctly
// rounded fp32.
QINV_T qInverse(float scale) {
#ifdef Q_F64
    return recip64fast(scale);
#else
    return div_rn(1.0, scale);
#endif
}

// One row's parameters from its range (lo ≤ 0 ≤ hi): scale, 1/scale and the zero point. With
// Q_F64 one thread computes them all (about 40 dependent fp64 operations); without, the callers
// spread the three long divisions over three threads (qScale, div_rn, qInverse).
#ifdef Q_F64
void qParams(float lo, float hi, out float scale, out double inv, out float zp) {
    scale = qScaleFast(lo, hi);
    inv = qInverse(scale);
    zp = qZeroPoint(div_fast(lo, scale, inv), div_fast(hi, scale, inv));
}
#endif

// q = clamp(roundEven(v · inv + zp), −128, 127) for one value. With Q_F64 the sum is PyTorch's
// fp64 one; it is first estimated in fp32 (inv32 = fl32(inv)): |v·inv| ≤ 255 and |zp| ≤ 128, so
// the fp32 estimate is within 4·10⁻⁵ of the fp64 sum (inv32's relative error 2⁻²⁴ on a product
// ≤ 255, plus two roundings of half an ulp ≤ 2⁻¹⁶ each), and where it is more than 2⁻¹⁰ from a
// half-integer both round to the same integer; only values nearer a tie take the fp64 path.
int quantize1(float v, QINV_T inv, float inv32, float zp) {
#ifdef Q_F64
    precise float t32 = v * inv32;
    precise float u32 = t32 + zp;
    const float f32 = floor(u32);
    precise float fr32 = u32 - f32;
    if (abs(fr32 - 0.5) > 0.0009765625) return int(clamp(fr32 > 0.5 ? f32 + 1.0 : f32, -128.0, 127.0));
    precise double t = double(v) * inv;
    precise double u = t + double(zp);
    // Round half to even by hand: fp64 roundEven was seen to round ties down on llvmpipe; floor
    // and the exact difference u − floor(u) are reliable.
    const double fl = floor(u);
    precise double frac = u - fl;
    double r = fl;
    // |u| ≤ 383 (|x| ≤ 255·scale, |zp| ≤ 128): fl's parity from its int value (an fp64 mod is a
    // division per element); the clamp keeps the conversion defined.
    if (frac > 0.5LF || (frac == 0.5LF && (int(clamp(fl, -1024.0LF, 1024.0LF)) & 1) != 0)) r = fl + 1.0LF;
    return int(clamp(r, -128.0LF, 127.0LF));
#else
    precise float t = v * inv;
    precise float u = t + zp;
    return int(clamp(roundEven(u), -128.0, 127.0));
#endif
}
