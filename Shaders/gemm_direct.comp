#version 450
#extension GL_GOOGLE_include_directive : require
// fp16-weight GEMM on tensor cores with fragments built in registers (family coopmat_direct: a
// cooperative-matrix plan with `buffers` 0) — with WM > 1 no shared memory and no barrier at all;
// with WM = 1 (XS below) the x rows staged, one barrier per step. y[M,N] = x[M,K] · W[N,K]ᵀ (+ bias), fp32
// accumulation. Every other cooperative-matrix kernel stages a K step of both operands in shared
// memory and waits twice per step at a barrier; on the H100 those stores and barriers, which one
// workgroup per SM cannot overlap with the MMAs, cost ≈ 120 of 284 µs at 2048×4096² (docs/DESIGN.md).
// Here each lane loads exactly the values its own fragment elements hold, straight from memory
// (through L1) into registers, and builds the fragments there: subgroups of a workgroup that share
// x rows or weight rows find them in L1, and no subgroup ever waits for another.
//
// Written for the fragment layout `FragmentLayout.Known.mma16816` (lane = 4g + t): A (16×16)
// element i at (row g + 8·(i >> 2), column 2t + (i & 1) + 8·((i >> 1) & 1)), B (16×8) element i at
// (row 2t + (i & 1) + 8·(i >> 1), column g), C (16×8) element i at (row g + 8·(i >> 1), column
// 2t + (i & 1)). The dispatcher plans it only where the device's self-test found that layout.
// A = x (16 rows of M), B = W (8 rows of N as columns), C = y (16 × 8).
//
// K permutation: a dot product does not change when K is permuted the same way in both operands.
// Per 32-value block lane (g, t) owns K values kb + 8t … kb + 8t + 7 of each row it loads — one
// 16-byte load of a row, x and W alike (row-major, no repacking). MMA s (0, 1) of the block takes
// halves 4s … 4s + 3 of that load as its columns 2t, 2t + 1, 2t + 8, 2t + 9: A's elements 0…3 (row
// g) and 4…7 (row g + 8) and B's elements 0…3 are then the load's words 2s and 2s + 1 as they are.
// The pairing is the same in A and B for every lane, so every product pairs x[m, k] with W[n, k].
//
// Work: workgroup tile BM×BN (the cooperative-matrix grid and raster order, SWZ), WM×WN subgroups,
// each SM = BM/WM x rows (FA = SM/16 A fragments) × SN = BN/WN weight rows (FB = SN/8 B fragments),
// FA·FB accumulators. K steps of BK = 32·KB values; PD register sets (PD = 2: step s + 1's loads are
// issued before step s's MMAs). Edges: rows past M or N load row M − 1 / N − 1 (their results, which
// depend only on their own row, are not stored); values past K, and rows whose stride is not a
// multiple of 8, take element loads (zero past K). Bias and the conversion to y fused.
// XS = 1 (set where WM = 1: every subgroup needs all BM x rows): the x rows are staged in shared
// memory instead — two buffers of one K step each, stored in the MMAs' K order (per 16-value MMA
// half, the logical columns 2t, 2t + 1 and 2t + 8, 2t + 9 of lane t at words t and t + 4, so
// coopMatLoad gives A the same permutation the weights have), one barrier per step — while each
// subgroup still loads its own weight rows straight into registers. Each weight row then crosses
// L2 once per workgroup and x once per workgroup, as in the staged kernels, but only x is stored
// and waited for. x is loaded two steps ahead (two register sets), the next step's weights before
// this step's MMAs.
// ABL (diagnostics, wrong results): 1 no global loads in the loop, 2 no MMAs, 4 (XS) no x stores
// and barriers, 8 (XS) the loop's barrier without memory semantics (results not promised).
#include "common.glsl"
#extension GL_KHR_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_KHR_shader_subgroup_basic : require

layout(local_size_x_id = 3) in;
layout(constant_id = 0) const uint BM = 128;
layout(constant_id = 1) const uint BN = 128;
layout(constant_id = 2) const uint BK = 32;
layout(constant_id = 3) const uint WG = 256;
layout(constant_id = 4) const uint WM = 2;     // subgroups along M
layout(constant_id = 5) const uint WN = 4;     // subgroups along N
layout(constant_id = 9) const uint SGS = 32;   // subgroup size (the layout is for 32)
layout(constant_id = 11) const uint SWZ = 1;   // tile rows per raster group (1 = row by row)
layout(constant_id = 12) const uint ABL = 0;   // diagnostics (0 in every real plan)
layout(constant_id = 13) const uint PD = 1;    // register sets: 2 = the next step's loads in flight
layout(constant_id = 15) const uint XS = 0;    // 1: x staged in shared memory (WM = 1)

const uint SM = BM / WM, SN = BN / WN;
const uint FA = SM / 16u, FB = SN / 8u;
const uint KB = BK / 32u;                      // 32-value blocks per K step
const uint NSET = PD > 1u ? 2u : 1u;

#ifdef ACT_F16
layout(binding = 0) readonly buffer XBuf { uvec4 X4[]; };
#else
layout(binding = 0) readonly buffer XBuf { vec4 X4[]; };
#endif
layout(binding = 1) readonly buffer WBuf { uvec4 W4[]; };
layout(binding = 2) readonly buffer SBuf { float S[]; };
layout(binding = 3) readonly buffer BiasBuf { ACT_T BIAS[]; };
layout(binding = 4) writeonly buffer YBuf { ACT_T Y[]; };

#define MatA coopmat<float16_t, gl_ScopeSubgroup, 16, 16, gl_MatrixUseA>
#define MatB coopmat<float16_t, gl_ScopeSubgroup, 16, 8, gl_MatrixUseB>
#define MatC coopmat<float, gl_ScopeSubgroup, 16, 8, gl_MatrixUseAccumulator>

MatC acc[FA * FB];
uvec4 xr[XS != 0u ? 1u : NSET * KB * FA * 2u];   // set, block, A fragment, row half (g, g + 8)
uvec4 wr[NSET * KB * FB];        // set, block, B fragment (row g)

// XS: x staged per step, BM rows × KB blocks of 16 words (two MMA halves of 8) + 4 words of padding
// (a row is 80·KB + 16 bytes: coopMatLoad's stride is a multiple of 16 bytes and the eight rows of
// an ldmatrix phase, like the 32 stores of a warp's word, fall on distinct banks).
const uint XSROW = XS != 0u ? KB * 16u + 4u : 1u;                 // words per staged row
const uint XQ = XS != 0u ? (BM * KB * 4u + WG - 1u) / WG : 1u;   // 16-byte x chunks each invocation stages per step
shared uint Xs[XS != 0u ? 2u * BM * XSROW : 1u];
uvec4 xq[2u * XQ];   // two sets: x is loaded two steps ahead (set = the step's parity)

// Half i of a uvec4 array's halves as 16 bits (element loads for tails and unaligned rows).
#define HALF_BITS(A, i) ((A[(i) >> 3u][((i) >> 1u) & 3u] >> (16u * ((i) & 1u))) & 0xFFFFu)

// 8 halves of x row m from k (zeros past K).
uvec4 loadX8(uint m, uint k, bool vec) {
#ifdef ACT_F16
    const uint base = m * pc.ldx + k;
    if (vec && k + 8u <= pc.K) return X4[base >> 3];
    uint h[4];
    [[unroll]] for (uint e = 0; e < 4u; ++e) {
        const uint lo = k + 2u * e < pc.K ? HALF_BITS(X4, base + 2u * e) : 0u;
        const uint hi = k + 2u * e + 1u < pc.K ? HALF_BITS(X4, base + 2u * e + 1u) : 0u;
        h[e] = lo | (hi << 16);
    }
    return uvec4(h[0], h[1], h[2], h[3]);
#else
    const uint base = m * pc.ldx + k;
    if (vec && k + 8u <= pc.K) {
        const vec4 a = X4[base >> 2], b = X4[(base >> 2) + 1u];
        return uvec4(packFloat2x16(f16vec2(a.xy)), packFloat2x16(f16vec2(a.zw)),
                     packFloat2x16(f16vec2(b.xy)), packFloat2x16(f16vec2(b.zw)));
    }
    uint h[4];
    [[unroll]] for (uint e = 0; e < 4u; ++e) {
        const uint i0 = base + 2u * e, i1 = i0 + 1u;
        const float v0 = k + 2u * e < pc.K ? X4[i0 >> 2u][i0 & 3u] : 0.0;
        const float v1 = k + 2u * e + 1u < pc.K ? X4[i1 >> 2u][i1 & 3u] : 0.0;
        h[e] = packFloat2x16(f16vec2(v0, v1));
    }
    return uvec4(h[0], h[1], h[2], h[3]);
#endif
}

// 8 halves of weight row n from k (zeros past K).
uvec4 loadW8(uint n, uint k, bool vec) {
    const uint base = n * pc.ldw + k;
    if (vec && k + 8u <= pc.K) return W4[base >> 3];
    uint h[4];
    [[unroll]] for (uint e = 0; e < 4u; ++e) {
        const uint lo = k + 2u * e < pc.K ? HALF_BITS(W4, base + 2u * e) : 0u;
        const uint hi = k + 2u * e + 1u < pc.K ? HALF_BITS(W4, base + 2u * e + 1u) : 0u;
        h[e] = lo | (hi << 16);
    }
    return uvec4(h[0], h[1], h[2], h[3]);
}

// The lane's values of K step s (K values BK·s …) into register set `set`.
void fetch(const uint set, uint s, uint lane, uint xm0, uint wn0, bool xvec, bool wvec) {
    const uint g = lane >> 2, t = lane & 3u;
    [[unroll]] for (uint kb = 0; kb < KB; ++kb) {
        const uint k = BK * s + 32u * kb + 8u * t;
        if (XS == 0u)
        [[unroll]] for (uint a = 0; a < FA; ++a) {
            [[unroll]] for (uint h = 0; h < 2u; ++h) {
                const uint m = min(xm0 + 16u * a + g + 8u * h, pc.M - 1u);
                xr[((set * KB + kb) * FA + a) * 2u + h] = loadX8(m, k, xvec);
            }
        }
        [[unroll]] for (uint b = 0; b < FB; ++b) {
            const uint n = min(wn0 + 8u * b + g, pc.N - 1u);
            wr[(set * KB + kb) * FB + b] = loadW8(n, k, wvec);
        }
    }
}

// B fragment b of MMA half s2 of block kb in weight set `set`: the load's words 2·s2, 2·s2 + 1 as
// its elements 0…3.
MatB bFrag(const uint set, uint kb, uint b, uint s2) {
    const uvec4 w = wr[(set * KB + kb) * FB + b];
    const f16vec2 lo = unpackFloat2x16(w[2u * s2]), hi = unpackFloat2x16(w[2u * s2 + 1u]);
    MatB m;
    m[0] = lo.x; m[1] = lo.y; m[2] = hi.x; m[3] = hi.y;
    return m;
}

// The MMAs of register set `set`: per block two K halves (s2), FA × FB fragments each.
void mmas(const uint set) {
    [[unroll]] for (uint kb = 0; kb < KB; ++kb) {
        [[unroll]] for (uint s2 = 0; s2 < 2u; ++s2) {
            MatB bm[FB];
            [[unroll]] for (uint b = 0; b < FB; ++b) bm[b] = bFrag(set, kb, b, s2);
            [[unroll]] for (uint a = 0; a < FA; ++a) {
                const uvec4 x0 = xr[((set * KB + kb) * FA + a) * 2u];
                const uvec4 x1 = xr[((set * KB + kb) * FA + a) * 2u + 1u];
                const f16vec2 p0 = unpackFloat2x16(x0[2u * s2]), p1 = unpackFloat2x16(x0[2u * s2 + 1u]);
                const f16vec2 q0 = unpackFloat2x16(x1[2u * s2]), q1 = unpackFloat2x16(x1[2u * s2 + 1u]);
                MatA am;
                am[0] = p0.x; am[1] = p0.y; am[2] = p1.x; am[3] = p1.y;
                am[4] = q0.x; am[5] = q0.y; am[6] = q1.x; am[7] = q1.y;
                [[unroll]] for (uint b = 0; b < FB; ++b) acc[a * FB + b] = coopMatMulAdd(am, bm[b], acc[a * FB + b]);
            }
        }
    }
}

// XS: this invocation's x chunks of step s into set `set` of xq (chunk idx: row idx / (4·KB),
// block, quarter).
void loadXs(const uint set, uint s, uint m0, bool xvec) {
    [[unroll]] for (uint i = 0; i < XQ; ++i) {
        const uint idx = gl_LocalInvocationIndex + i * WG;
        if (idx < BM * KB * 4u) {
            const uint row = idx / (KB * 4u), rem = idx % (KB * 4u);
            xq[set * XQ + i] = loadX8(min(m0 + row, pc.M - 1u), BK * s + 8u * rem, xvec);
        }
    }
}

// XS: xq into buffer buf in the MMAs' K order: the chunk's words 0, 1 (halves 0–3: MMA half 0,
// columns 2t', 2t' + 1 and 2t' + 8, 2t' + 9) at words t', t' + 4 of half 0; words 2, 3 at t', t' + 4
// of half 1 (t' = the chunk's quarter of its 32-value block).
void storeXs(const uint set, uint buf) {
    [[unroll]] for (uint i = 0; i < XQ; ++i) {
        const uint idx = gl_LocalInvocationIndex + i * WG;
        if (idx < BM * KB * 4u) {
            const uint row = idx / (KB * 4u), rem = idx % (KB * 4u), kb = rem >> 2, tq = rem & 3u;
            const uint base = (buf * BM + row) * XSROW + kb * 16u + tq;
            const uvec4 v = xq[set * XQ + i];
            Xs[base] = v.x;
            Xs[base + 4u] = v.y;
            Xs[base + 8u] = v.z;
            Xs[base + 12u] = v.w;
        }
    }
}

// XS: the MMAs of step buffer buf with weight set `set`: A by coopMatLoad from the staged rows.
void mmasXs(const uint set, uint buf) {
    [[unroll]] for (uint kb = 0; kb < KB; ++kb) {
        [[unroll]] for (uint s2 = 0; s2 < 2u; ++s2) {
            MatB bm[FB];
            [[unroll]] for (uint b = 0; b < FB; ++b) bm[b] = bFrag(set, kb, b, s2);
            [[unroll]] for (uint a = 0; a < FA; ++a) {
                MatA am;
                coopMatLoad(am, Xs, (buf * BM + 16u * a) * XSROW + kb * 16u + 8u * s2, XSROW, gl_CooperativeMatrixLayoutRowMajor);
                [[unroll]] for (uint b = 0; b < FB; ++b) acc[a * FB + b] = coopMatMulAdd(am, bm[b], acc[a * FB + b]);
            }
        }
    }
}

// XS step s: buffer, x set and weight set `par` (literal): x of step s + 2 is loaded into x set
// par (free: its rows, step s's, were stored a step ago) and the next step's weights into the other
// weight set, then the MMAs, then x of step s + 1 (loaded a step ago, x set 1 − par) goes into the
// other buffer (free since the last barrier) — x has two steps' MMAs to arrive.
void kstepXs(const uint par, uint s, uint steps, uint lane, uint m0, uint wn0, bool xvec, bool wvec) {
    const bool more = s + 1u < steps;
    if ((ABL & 1u) == 0u) {
        if (s + 2u < steps) loadXs(par, s + 2u, m0, xvec);
        if (NSET == 2u) {
            if (more) fetch(1u - par, s + 1u, lane, m0, wn0, xvec, wvec);
        } else {
            fetch(0u, s, lane, m0, wn0, xvec, wvec);
        }
    }
    if ((ABL & 2u) == 0u) mmasXs(NSET == 2u ? par : 0u, par);
    if ((ABL & 4u) == 0u) {
        if (more) storeXs(1u - par, 1u - par);
        // ABL 8 (diagnostics only): an execution barrier without memory semantics — what the
        // barrier's acquire-release on workgroup memory costs beside loads in flight. The memory
        // model does not promise that the other subgroups then see the stores.
        if ((ABL & 8u) != 0u) controlBarrier(gl_ScopeWorkgroup, gl_ScopeWorkgroup, 0, 0);
        else barrier();
    }
}

// Step s with register set `par` (a literal at each call, so every register index is a constant):
// PD = 2 issues step s + 1's loads into the other set first; PD = 1 loads step s, then multiplies.
void kstep(const uint par, uint s, uint steps, uint lane, uint xm0, uint wn0, bool xvec, bool wvec) {
    if ((ABL & 1u) == 0u) {
        if (NSET == 2u) {
            if (s + 1u < steps) fetch(1u - par, s + 1u, lane, xm0, wn0, xvec, wvec);
        } else {
            fetch(0u, s, lane, xm0, wn0, xvec, wvec);
        }
    }
    if ((ABL & 2u) == 0u) mmas(NSET == 2u ? par : 0u);
}

void main() {
    const uint sg = gl_SubgroupID;
    const uint lane = gl_SubgroupInvocationID;
    uint tileM = gl_WorkGroupID.y, tileN = gl_WorkGroupID.x;
    if (SWZ > 1u) {
        const uint gx = gl_NumWorkGroups.x, gy = gl_NumWorkGroups.y;
        const uint lin = gl_WorkGroupID.y * gx + gl_WorkGroupID.x;
        const uint first = (lin / (SWZ * gx)) * SWZ;
        const uint rows = min(gy - first, SWZ);
        const uint r = lin % (SWZ * gx);
        tileM = first + r % rows;
        tileN = r / rows;
    }
    const uint xm0 = tileM * BM + (sg / WN) * SM;
    const uint wn0 = tileN * BN + (sg % WN) * SN;
#ifdef ACT_F16
    const bool xvec = (pc.ldx % 8u) == 0u;
#else
    const bool xvec = (pc.ldx % 4u) == 0u;
#endif
    const bool wvec = (pc.ldw % 8u) == 0u;
    const uint steps = (pc.K + BK - 1u) / BK;

    [[unroll]] for (uint i = 0; i < FA * FB; ++i) acc[i] = MatC(0.0);
    if (XS != 0u) {
        const uint m0 = tileM * BM;
        if ((ABL & 1u) != 0u) {
            [[unroll]] for (uint i = 0; i < 2u * XQ; ++i) xq[i] = uvec4(0x3c003c00u);
            [[unroll]] for (uint i = 0; i < NSET * KB * FB; ++i) wr[i] = uvec4(0x3c003c00u);
        } else {
            loadXs(0u, 0u, m0, xvec);
            if (steps > 1u) loadXs(1u, 1u, m0, xvec);
            if (NSET == 2u) fetch(0u, 0u, lane, m0, wn0, xvec, wvec);
        }
        storeXs(0u, 0u);
        barrier();
        for (uint s = 0; s < steps; s += 2u) {
            kstepXs(0u, s, steps, lane, m0, wn0, xvec, wvec);
            if (s + 1u < steps) kstepXs(1u, s + 1u, steps, lane, m0, wn0, xvec, wvec);
        }
    } else {
    if ((ABL & 1u) != 0u) {
        [[unroll]] for (uint i = 0; i < NSET * KB * FA * 2u; ++i) xr[i] = uvec4(0x3c003c00u);
        [[unroll]] for (uint i = 0; i < NSET * KB * FB; ++i) wr[i] = uvec4(0x3c003c00u);
    } else if (NSET == 2u) {
        fetch(0u, 0u, lane, xm0, wn0, xvec, wvec);
    }
    for (uint s = 0; s < steps; s += 2u) {
        kstep(0u, s, steps, lane, xm0, wn0, xvec, wvec);
        if (s + 1u < steps) kstep(1u, s + 1u, steps, lane, xm0, wn0, xvec, wvec);
    }
    }

    // C element i: x row g + 8(i >> 1) of fragment a, weight row 2t + (i & 1) of fragment b.
    const uint g = lane >> 2, t = lane & 3u;
    [[unroll]] for (uint a = 0; a < FA; ++a) {
        [[unroll]] for (uint b = 0; b < FB; ++b) {
            [[unroll]] for (uint i = 0; i < 4u; ++i) {
                const uint m = xm0 + 16u * a + g + 8u * (i >> 1);
                const uint n = wn0 + 8u * b + 2u * t + (i & 1u);
                if (m < pc.M && n < pc.N) {
                    float v = acc[a * FB + b][i];
                    if (pc.hasBias != 0u) v += float(BIAS[n]);
                    Y[m * pc.N + n] = ACT_T(v);
                }
            }
        }
    }
}
