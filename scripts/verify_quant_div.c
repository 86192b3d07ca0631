// Host proof for quant_common.glsl's fast divisions (recip64fast, div_fast, qScaleFast): the same
// operation sequence in IEEE double/float (x86-64 SSE2, -ffp-contract=off: every mul and add
// rounded on its own, as `precise` makes them in the shader), compared bit for bit with the long
// divisions they replace (recip64, div_rn — ported here too).
//  1. recip64fast, exhaustively: every 24-bit mantissa of the divisor, with every fp32 first
//     estimate y0 the shader's guard (|1 − d·y0| < 2⁻²⁰) lets through — so the result holds for
//     any fp32 reciprocal the device gives (Vulkan allows 2.5 ULP), not only the host's.
//  2. div_fast(a, b) against div_rn for every third b mantissa with a in a set of structured and random
//     dividends (binade edges, both signs, subnormal and huge quotients that take the fallback),
//     and for q0 off by ±1 ULP from the host's conversion (any rounding mode of the f64 → f32
//     conversion).
//  3. qScaleFast against qScale over structured and random ranges.
//  4. The whole parameter chain (scale → 1/scale → lo/scale, hi/scale) against the long one.
// Build and run: cc -O2 -ffp-contract=off scripts/verify_quant_div.c -o /tmp/vqd && /tmp/vqd
// (scripts/test.sh does). Exit status 0 only when every case matched.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

static uint32_t fbits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float ffrom(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static uint64_t dbits(double d) { uint64_t u; memcpy(&u, &d, 8); return u; }
static double dfrom(uint64_t u) { double d; memcpy(&d, &u, 8); return d; }

// ---- the long divisions (quant_common.glsl's div_rn and recip64, line for line) ----
static float div_rn(float a, float b) {
    if (a == 0.0f) return 0.0f;
    const uint32_t ua = fbits(a), ub = fbits(b);
    const uint32_t sgn = (ua ^ ub) & 0x80000000u;
    int ea = (int)((ua >> 23) & 255u), eb = (int)((ub >> 23) & 255u);
    uint32_t ma = ua & 0x7fffffu, mb = ub & 0x7fffffu;
    if (ea == 0) { while ((ma & 0x800000u) == 0u) { ma <<= 1; ea -= 1; } ea += 1; } else ma |= 0x800000u;
    mb |= 0x800000u;
    int e = ea - eb + 127;
    if (ma < mb) { ma <<= 1; e -= 1; }
    uint32_t q = 0u, r = ma;
    for (int i = 0; i < 26; ++i) { q <<= 1; if (r >= mb) { r -= mb; q |= 1u; } r <<= 1; }
    uint32_t mant = q >> 2;
    const uint32_t guard_ = (q >> 1) & 1u;
    const int rest = (q & 1u) != 0u || r != 0u;
    if (guard_ == 1u && (rest || (mant & 1u) == 1u)) mant += 1u;
    if (mant == 0x1000000u) { mant >>= 1; e += 1; }
    if (e >= 255) return ffrom(sgn | 0x7f800000u);
    if (e <= 0) return ffrom(sgn);
    return ffrom(sgn | ((uint32_t)e << 23) | (mant & 0x7fffffu));
}

static double recip64(float s) {
    const uint32_t us = fbits(s);
    const int es = (int)((us >> 23) & 255u);
    const uint32_t ms = (us & 0x7fffffu) | 0x800000u;
    uint32_t r = 0x800000u;
    int e = 127 - es;
    if (r < ms) { r <<= 1; e -= 1; }
    uint32_t qhi = 0u, qlo = 0u;
    for (int i = 0; i < 55; ++i) {
        qhi = (qhi << 1) | (qlo >> 31);
        qlo <<= 1;
        if (r >= ms) { r -= ms; qlo |= 1u; }
        r <<= 1;
    }
    const uint32_t guard_ = (qlo >> 1) & 1u;
    const int sticky = (qlo & 1u) != 0u || r != 0u;
    uint32_t mlo = (qlo >> 2) | (qhi << 30);
    uint32_t mhi = qhi >> 2;
    if (guard_ == 1u && (sticky || (mlo & 1u) == 1u)) { mlo += 1u; if (mlo == 0u) mhi += 1u; }
    if (mhi == (1u << 21)) { mhi = 1u << 20; mlo = 0u; e += 1; }
    return dfrom(((uint64_t)(((uint32_t)(e + 1023) << 20) | (mhi & 0xfffffu)) << 32) | mlo);
}

static float qScale(float lo, float hi) {
    const float range = hi - lo;
    const float q = div_rn(range, 255.0f);
    return q > 1.1920928955078125e-07f ? q : 1.1920928955078125e-07f;
}

// ---- the fast forms (quant_common.glsl's recip64fast, div_fast, qScaleFast) ----
// y0 is the fp32 estimate of 1/ms the shader gets from `1.0 / float(ms)`; `fell` reports the
// guard's fallback to the long division.
static double recip64fast_y0(float s, float y0f, int *fell) {
    const uint32_t us = fbits(s);
    const int es = (int)((us >> 23) & 255u);
    const uint32_t ms = (us & 0x7fffffu) | 0x800000u;
    const double d = (double)ms;
    const double y0 = (double)y0f;
    const double e0 = 1.0 - d * y0;
    if (!(fabs(e0) < 9.5367431640625e-07)) { if (fell) *fell = 1; return recip64(s); }
    const double y1 = y0 + y0 * e0;
    const uint64_t b1 = dbits(y1);
    const double yh = dfrom(b1 & ~(uint64_t)0x1FFFFFFFu);
    const double yl = y1 - yh;
    const double t = 1.0 - d * yh;
    const double e1 = t - d * yl;
    const double y2 = y1 + y1 * e1;
    return y2 * dfrom((uint64_t)(uint32_t)(1023 + 150 - es) << 52);
}

static double recip64fast(float s) {
    if (!(s <= 3.4028234663852886e38f)) return recip64(s);
    const uint32_t ms = (fbits(s) & 0x7fffffu) | 0x800000u;
    volatile float one = 1.0f;
    return recip64fast_y0(s, one / (float)ms, NULL);
}

// delta: added to q0's bits (models an f64 → f32 conversion that rounds another way).
static float div_fast_d(float a, float b, double inv, int delta, int *fell) {
    if (a == 0.0f) return 0.0f;
    if (!(b <= 3.4028234663852886e38f)) { if (fell) *fell = 1; return div_rn(a, b); }
    const double qd = fabs((double)a) * inv;
    float q0 = (float)qd;
    if (!(q0 >= 2.350988701644575e-38f && q0 <= 1.7014118346046923e38f)) { if (fell) *fell = 1; return div_rn(a, b); }
    q0 = ffrom(fbits(q0) + (uint32_t)delta);
    const uint32_t u = fbits(q0);
    const float qm = ffrom(u - 1u), qp = ffrom(u + 1u);
    const double A = fabs((double)a), B = (double)b;
    const double r0 = A - (double)qm * B;
    const double r1 = A - (double)q0 * B;
    const double r2 = A - (double)qp * B;
    float q = q0;
    if (fabs(r0) < fabs(r1)) q = qm;
    else if (fabs(r2) < fabs(r1)) q = qp;
    return a < 0.0f ? -q : q;
}

static const double QINV255 = 0x1.0101010101010p-8;   // fl64(1/255)

static float qScaleFast(float lo, float hi) {
    const float range = hi - lo;
    if (!(range <= 3.4028234663852886e38f)) return qScale(lo, hi);
    const float q = div_fast_d(range, 255.0f, QINV255, 0, NULL);
    return q > 1.1920928955078125e-07f ? q : 1.1920928955078125e-07f;
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t next32(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return (uint32_t)(rng >> 16); }

int main(void) {
    long fails = 0, cases = 0, fallbacks = 0;
    // 1. recip64fast: every mantissa, every admissible y0 (±24 ULP around the host's RN32(1/ms)).
    if (QINV255 != 1.0 / 255.0) { printf("QINV255 is not fl64(1/255)\n"); return 1; }
    for (uint32_t m = 0; m < (1u << 23); ++m) {
        const float s = ffrom((127u << 23) | m);        // ms = m | 2^23; the exponent only scales
        const float y = 1.0f / (float)(m | 0x800000u);
        const double want = recip64(s);
        for (int dlt = -24; dlt <= 24; ++dlt) {
            int fell = 0;
            const double got = recip64fast_y0(s, ffrom(fbits(y) + (uint32_t)dlt), &fell);
            if (fell) { fallbacks++; continue; }
            cases++;
            if (dbits(got) != dbits(want)) { if (fails++ < 10) printf("recip64fast m=%#x y0%+d: %a vs %a\n", m, dlt, got, want); }
        }
    }
    printf("recip64fast: %ld cases (every mantissa, admissible first estimates), %ld estimates the guard sends to the long division, %ld mismatches\n", cases, fallbacks, fails);
    // The exponent: every biased exponent with a few mantissas.
    long f2 = 0;
    for (uint32_t e = 1; e < 255; ++e) for (int j = 0; j < 64; ++j) {
        const float s = ffrom((e << 23) | (j < 2 ? (j ? 0x7fffffu : 0u) : (next32() & 0x7fffffu)));
        cases++;
        if (dbits(recip64fast(s)) != dbits(recip64(s))) { if (f2++ < 10) printf("recip64fast s=%a\n", s); }
    }
    printf("recip64fast over every exponent: %ld mismatches\n", f2);
    fails += f2;
    // 2. div_fast against div_rn: every divisor mantissa (b in [1, 2)·2^e for a few e), dividends
    //    structured and random, q0 as converted and ±1 ULP.
    long f3 = 0, c3 = 0, fb3 = 0;
    for (uint32_t m = 0; m < (1u << 23); m += 3) {
        const int eb = (int)(next32() % 220) + 20;       // 2^-107 … 2^112 (scales: 2^-23 … ~2^120)
        const float b = (m % 4096u) == 1u ? 255.0f : ffrom(((uint32_t)eb << 23) | m);   // b = 255 (qScale's) too
        const double inv = recip64(b);
        for (int j = 0; j < 6; ++j) {
            float a;
            switch (j) {
            case 0: a = ffrom(next32() & 0x7fffffffu); break;                       // any finite-or-not magnitude
            case 1: a = ffrom((fbits(b) & 0x7f800000u) + (next32() & 0x00ffffffu)); break;  // quotient near 1…4
            case 2: a = b * (float)(next32() % 256); break;                          // near integers up to 255
            case 3: a = ffrom((fbits(b) & 0x7f800000u) + (7u << 23) + (next32() & 0x7fffffu)); break; // quotient ~128…256
            case 4: a = ffrom(next32() & 0x00ffffffu); break;                        // subnormal / tiny dividends
            default: a = ffrom(fbits(b) ^ (next32() & 0x3u)); break;                  // a ≈ b
            }
            if (!(fabsf(a) <= 3.4028234663852886e38f)) continue;
            if (next32() & 1u) a = -a;
            for (int dlt = -1; dlt <= 1; ++dlt) {
                int fell = 0;
                const float got = div_fast_d(a, b, inv, dlt, &fell);
                c3++; fb3 += fell;
                const float want = div_rn(a, b);
                if (fbits(got) != fbits(want)) { if (f3++ < 10) printf("div_fast %a / %a (q0%+d): %a vs %a\n", a, b, dlt, got, want); }
                if (fell) break;
            }
        }
    }
    printf("div_fast: %ld cases, %ld through the long-division fallback, %ld mismatches\n", c3, fb3, f3);
    fails += f3;
    // 3. qScaleFast against qScale.
    long f4 = 0, c4 = 0;
    for (long i = 0; i < 20000000; ++i) {
        float lo, hi;
        const uint32_t k = next32() % 4;
        if (k == 0) { lo = -ffrom(next32() & 0x7fffffffu); hi = ffrom(next32() & 0x7fffffffu); }
        else if (k == 1) { lo = -ffrom((next32() % 40u + 100u) << 23 | (next32() & 0x7fffffu)); hi = ffrom((next32() % 40u + 100u) << 23 | (next32() & 0x7fffffu)); }
        else if (k == 2) { lo = 0.0f; hi = 255.0f * ffrom((next32() % 60u + 100u) << 23 | (next32() & 0x7fffffu)); }
        else { lo = -(float)(next32() % 65536u) / 256.0f; hi = (float)(next32() % 65536u) / 256.0f; }
        if (isnan(lo) || isnan(hi)) continue;
        c4++;
        if (fbits(qScaleFast(lo, hi)) != fbits(qScale(lo, hi))) { if (f4++ < 10) printf("qScaleFast %a %a\n", lo, hi); }
    }
    printf("qScaleFast: %ld cases, %ld mismatches\n", c4, f4);
    fails += f4;
    // 4. qParams (scale, then 1/scale, then dlo, dhi through div_fast) against the long path,
    //    ranges that overflow to ∞ included.
    long f5 = 0, c5 = 0;
    for (long i = 0; i < 4000000; ++i) {
        const uint32_t k = next32() % 3;
        float lo = k == 0 ? -ffrom(next32() & 0x7f7fffffu) : k == 1 ? -3.4028234663852886e38f : -(float)(next32() % 1000u) / 64.0f;
        float hi = k == 0 ? ffrom(next32() & 0x7f7fffffu) : k == 1 ? ffrom(0x7f000000u | (next32() & 0x7fffffu)) : (float)(next32() % 1000u) / 64.0f;
        const float sf = qScaleFast(lo, hi), so = qScale(lo, hi);
        const double invf = recip64fast(sf), invo = recip64(so);
        const float dlf = div_fast_d(lo, sf, invf, 0, NULL), dhf = div_fast_d(hi, sf, invf, 0, NULL);
        const float dlo = div_rn(lo, so), dho = div_rn(hi, so);
        c5++;
        if (fbits(sf) != fbits(so) || dbits(invf) != dbits(invo) || fbits(dlf) != fbits(dlo) || fbits(dhf) != fbits(dho)) {
            if (f5++ < 10) printf("qParams %a %a: %a %a %a %a vs %a %a %a %a\n", lo, hi, sf, invf, dlf, dhf, so, invo, dlo, dho);
        }
    }
    printf("qParams: %ld ranges (overflowing ones included), %ld mismatches\n", c5, f5);
    fails += f5;
    printf(fails ? "FAILED: %ld mismatches\n" : "all matched\n", fails);
    return fails ? 1 : 0;
}
