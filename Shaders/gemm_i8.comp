#version 450
#extension GL_GOOGLE_include_directive : require
// Prefill with int8 tensor cores and register-built weight fragments (dq8ca_q8csw; any M, K a
// multiple of the block BK = 128 or 256): y = sx[m] · (ws[n] · Σ_k qw·xq − zp[m] · corr[n]) (+ bias[n]), the epilogue
// of coopmat_int.comp. The weights are the MMA's A operand (16 rows × 32 K, int8), the
// quantization pass's int8 rows the B operand (32 K × 8 x rows), int32 accumulators over all of K
// (per-channel weight scales: nothing to fold per block; |Σ| ≤ K·128·128 < 2^31 for K ≤ 65536).
//
// WEIGHT_Q4 (dq8ca_q4gsw, groups a multiple of 128): the INT4 words become the A operand by two
// operations per word — ((w << 4) & 0xF0F0F0F0) ^ 0x80808080 holds the even values' 16·(q − 8) as
// int8 bytes, (w & 0xF0F0F0F0) ^ 0x80808080 the odd values' — and the x bytes are regrouped the
// same way when staged; each 128-value sub-block (inside one group: groups are multiples of 128)
// sums exactly in int32 (|Σ| ≤ 128·128·128), then × the fp32 group scale / 16 into fp32
// accumulators — one rounding per sub-block, also where a group of 256 is two of them; the zero point's term
// zp[m] · corr[n] (corr = Σ_g scale·Σ(q − 8), from packing) once at the end, as coopmat_int.comp.
//
// Written for the int8 fragment layout `FragmentLayout.KnownInt8.mma16832s8` (lane = 4g + t): A
// element i at (row g + 8·(i >> 3), column 4t + (i & 3) + 16·((i >> 2) & 1)), C element i at
// (row g + 8·(i >> 1), column 2t + (i & 1)); the dispatcher uses this kernel only where the
// device's self-test probe found that layout. B comes by coopMatLoad, so its layout is the
// driver's business.
//
// K permutation (a dot product does not change when K is permuted the same way in both
// operands): a block of BK K values is BK / 128 sub-blocks of 128 (4 MMAs of 32 each); in
// sub-block j lane (g, t) owns K values 128j + 32t … 128j + 32t + 31 of its weight rows g and
// g + 8 of each 16-row tile — two 16-byte loads per row, the format's own words w0 … w7 — and MMA
// step s = 4j + s' takes words 2s' (A columns 4t … 4t + 3) and 2s' + 1 (columns 16 + 4t …): A is
// the loaded words, no conversion at all. The x rows are staged in two shared buffers in that
// order: word 8s + t + 4h of a row's block holds the row's word 32j + 8t + 2s' + h, so one
// coopMatLoad per B fragment (column-major, 32 bytes per step per row, rows BK/16 + 1 uvec4 apart:
// an 8-row phase of 16-byte reads covers 32 distinct banks) pairs every weight with its own
// activation.
//
// Work: KS subgroups share R tiles of 16 weight rows — subgroup sg takes tile group sg / KS and
// x rows (sg % KS)·TN/KS … of the workgroup's TN (TN / (8·KS) B fragments per step; M > TN:
// ⌈M / TN⌉ x-row tiles along the grid, adjacent in dispatch order). With KS > 1 each B fragment
// read from shared memory feeds R MMAs with R·TN/(8·KS) accumulators — the KS subgroups of a tile
// group load the same weight words (the second load of a word meets the first in L1). One
// barrier per block: block b + 1's x rows are loaded (16 bytes per invocation and piece) before
// block b's MMAs and stored into the other buffer after them. Weights: WH = 0, two register sets,
// block b + 1's loads issued before block b's MMAs; WH = 1, one set, each block in two halves
// (the first half's words after step BK/64 − 1 of the previous block, the second half's at the
// block's start: BK/64 MMA steps ahead).
// Edges: weight rows past N load row N − 1 and are not written; x rows ≥ M are zeros (their
// outputs are not written); K (the padded row length, a multiple of BK) is whole blocks whose
// padding is zeros in both operands.
#include "common.glsl"
#extension GL_KHR_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_KHR_shader_subgroup_basic : require

layout(local_size_x_id = 3) in;
layout(constant_id = 1) const uint R = 2;      // 16-row tiles per subgroup
layout(constant_id = 2) const uint BK = 128;   // K values per block (one barrier each): 128 or 256
layout(constant_id = 3) const uint WG = 256;
layout(constant_id = 4) const uint KS = 1;     // subgroups sharing one tile group (splitting its x rows)
layout(constant_id = 7) const uint TN = 64;    // x rows per workgroup: 32, 64 or 128
layout(constant_id = 9) const uint SGS = 32;
layout(constant_id = 15) const uint XT = 1;    // 1: ⌈M / TN⌉ x-row tiles along the grid
layout(constant_id = 18) const uint WH = 0;    // 1: weights in half blocks, one register set (int8 weights)
// Diagnostics only (results are wrong): 1 = no global loads, 2 = no MMAs (nor their B loads),
// 4 = no shared stores and barriers.
layout(constant_id = 12) const uint ABL = 0;

const uint NB = TN / (8u * KS);                // B fragments per K step and subgroup
const uint NS = BK / 32u;                      // MMA steps per block
#ifdef WEIGHT_Q4
const uint CH = BK / 128u;                     // 16-byte loads (32 nibbles) of a lane per row and block
const uint WHQ = 0u;                           // INT4: two register sets (WH is refused by the host)
#else
const uint CH = BK / 64u;                      // 16-byte loads of a lane per row and block
const uint WHQ = WH;
#endif
const uint NSG = WG / SGS;
const uint BN = (NSG / KS) * R * 16u;          // weight rows per workgroup
const uint XRG = BK / 16u + 1u;                // uvec4 per staged x row and buffer (+ 1 padding)
const uint PR = BK / 16u;                      // 16-byte x pieces per row and block
const uint QP = (TN * PR + WG - 1u) / WG;      // x pieces each invocation stages per block
shared uvec4 Xd[2u * TN * XRG];

layout(binding = 0) readonly buffer XQBuf { uvec4 XQ4[]; };   // int8 rows, pc.ldx words apart
layout(binding = 1) readonly buffer XPBuf { uint XP[]; };     // per row: scale bits, zero point
layout(binding = 2) readonly buffer WBuf { uvec4 W4[]; };     // int8 (INT4) rows, pc.ldw words apart
layout(binding = 3) readonly buffer SBuf { float WS[]; };     // per weight row (INT4: [N, K / G])
layout(binding = 4) readonly buffer CorrBuf { float CORR[]; };
layout(binding = 5) readonly buffer BiasBuf { ACT_T BIAS[]; };
layout(binding = 6) writeonly buffer YBuf { ACT_T Y[]; };

#define MatA coopmat<int8_t, gl_ScopeSubgroup, 16, 32, gl_MatrixUseA>
#define MatB coopmat<int8_t, gl_ScopeSubgroup, 32, 8, gl_MatrixUseB>
#define MatC coopmat<int, gl_ScopeSubgroup, 16, 8, gl_MatrixUseAccumulator>
#define MatF coopmat<float, gl_ScopeSubgroup, 16, 8, gl_MatrixUseAccumulator>
#ifdef WEIGHT_Q4
MatF acc[R * NB];             // Σ over groups of scale/16 · (exact int32 sum of the group's sub-block)
float sr[2u * R * 2u * CH];   // group scales: set, tile, row half, sub-block
#else
MatC acc[R * NB];
#endif

uvec4 wr[2u * R * 2u * CH];        // WH = 0: set, tile, row half (g, g + 8), 16-byte load
uvec4 wh[2u * R * 2u * ((CH + 1u) / 2u)];  // WH = 1: half, tile, row half, 16-byte load
uvec4 xr[QP];                 // the x pieces this invocation stages for the next block

// The uvec4 index of the lane's 16-byte load c of tile r's row half hr in the block at kb: int8,
// c = 0 … CH − 1 is sub-block c / 2, its half c & 1; INT4 (32 nibbles per load), sub-block c.
uint rowOf(uint lane, uint n0, uint r, uint hr) { return min(n0 + 16u * r + (lane >> 2) + 8u * hr, pc.N - 1u); }

uint wordAt(uint lane, uint n0, uint r, uint hr, uint kb, uint c) {
    const uint n = rowOf(lane, n0, r, hr);
#ifdef WEIGHT_Q4
    // INT4 (words of 8 nibbles): load c is sub-block c's 32 values of the lane.
    return (n * pc.ldw + (kb + 128u * c + 32u * (lane & 3u)) / 8u) >> 2;
#else
    return ((n * pc.ldw + (kb + 128u * (c >> 1) + 32u * (lane & 3u)) / 4u) >> 2) + (c & 1u);
#endif
}

void fetch(uint slot, uint lane, uint n0, uint kb) {
    [[unroll]] for (uint r = 0; r < R; ++r) {
        [[unroll]] for (uint hr = 0; hr < 2u; ++hr) {
            [[unroll]] for (uint c = 0; c < CH; ++c) {
                wr[((slot * R + r) * 2u + hr) * CH + c] = W4[wordAt(lane, n0, r, hr, kb, c)];
#ifdef WEIGHT_Q4
                sr[((slot * R + r) * 2u + hr) * CH + c] = WS[rowOf(lane, n0, r, hr) * (pc.K / pc.G) + (kb + 128u * c) / pc.G];
#endif
            }
        }
    }
}

void fetchHalf(uint h, uint lane, uint n0, uint kb) {
#ifndef WEIGHT_Q4
    [[unroll]] for (uint r = 0; r < R; ++r) {
        [[unroll]] for (uint hr = 0; hr < 2u; ++hr) {
            [[unroll]] for (uint c = 0; c < CH / 2u; ++c) wh[((h * R + r) * 2u + hr) * (CH / 2u) + c] = W4[wordAt(lane, n0, r, hr, kb, h * (CH / 2u) + c)];
        }
    }
#endif
}

// Piece idx of a block's TN·PR 16-byte x pieces: sub-block idx / (8·TN), row (idx / 8) % TN,
// piece 8·(sub-block) + idx % 8 of the row (a warp: 4 rows × one sub-block's 8 pieces).
uint pieceRow(uint idx) { return (idx >> 3) % TN; }
uint pieceOf(uint idx) { return 8u * (idx / (8u * TN)) + (idx & 7u); }

// Block b's x pieces this invocation stages, into xr.
void loadX(uint m0, uint b) {
    [[unroll]] for (uint i = 0; i < QP; ++i) {
        const uint idx = gl_LocalInvocationIndex + i * WG;
        const uint m = m0 + pieceRow(idx);
        if (idx < TN * PR) xr[i] = m < pc.M ? XQ4[((m * pc.ldx + (BK / 4u) * b) >> 2) + pieceOf(idx)] : uvec4(0u);
    }
}

// xr into buffer buf in the MMAs' K order: the piece's word e is the row's word
// a = 4p + e = 32j + 8t + w (sub-block j, lane t's chunk, its word w), which step s = 4j + w / 2
// takes at word 8s + t + 4(w & 1).
void storeX(uint buf) {
    [[unroll]] for (uint i = 0; i < QP; ++i) {
        const uint idx = gl_LocalInvocationIndex + i * WG;
        if (idx < TN * PR) {
            const uint p = pieceOf(idx), row = (buf * TN + pieceRow(idx)) * XRG;
            uvec4 v = xr[i];
#ifdef WEIGHT_Q4
            // The INT4 A words of a pair of x words (values 8s' … 8s' + 7) hold the even values
            // (0, 2, 4, 6) and the odd ones (1, 3, 5, 7): regroup the x bytes the same way.
            [[unroll]] for (uint e = 0; e < 4u; e += 2u) {
                const uint a = v[e], b = v[e + 1u];
                v[e] = (a & 0xFFu) | ((a >> 8) & 0xFF00u) | ((b << 16) & 0xFF0000u) | ((b << 8) & 0xFF000000u);
                v[e + 1u] = ((a >> 8) & 0xFFu) | ((a >> 16) & 0xFF00u) | ((b << 8) & 0xFF0000u) | (b & 0xFF000000u);
            }
#endif
            [[unroll]] for (uint e = 0; e < 4u; ++e) {
                const uint a = 4u * p + e, t = (a & 31u) >> 3, w = a & 7u;
                const uint pos = 32u * (a >> 5) + 8u * (w >> 1) + t + 4u * (w & 1u);
                Xd[row + (pos >> 2)][pos & 3u] = v[e];
            }
        }
    }
}

// Word h (0: A columns 4t…, 1: 16 + 4t…) of step s for tile r, row half hr: word 2(s % 4) + h
// of the lane's chunk of sub-block s / 4, in its 16-byte load u.
uint aWord(uint par, uint r, uint hr, uint s, uint h) {
#ifdef WEIGHT_Q4
    // INT4 word s % 4 of sub-block s / 4 (values 8s' … 8s' + 7, nibble i = value i): h = 0 the even
    // values, h = 1 the odd ones, each byte 16·(q − 8) — exact in int8: ((nibble << 4) ^ 0x80).
    const uint w = wr[((par * R + r) * 2u + hr) * CH + (s >> 2)][s & 3u];
    return (h == 0u ? (w << 4) & 0xF0F0F0F0u : w & 0xF0F0F0F0u) ^ 0x80808080u;
#else
    const uint wd = 2u * (s & 3u) + h, u = 2u * (s >> 2) + (wd >> 2), c = wd & 3u;
    if (WHQ != 0u) return wh[(((u / (CH / 2u)) * R + r) * 2u + hr) * (CH / 2u) + u % (CH / 2u)][c];
    return wr[((par * R + r) * 2u + hr) * CH + u][c];
#endif
}

// Block bb: weights in set par (WH: wh), x in buffer par; loads block bb + 1 into the others.
// Called with a literal par (main's loop), so the register sets are indexed at compile time.
void gemmBlock(const uint par, const uint bb, const uint nb, const uint lane, const uint n0, const uint m0, const uint xb0) {
    const bool more = bb + 1u < nb;
    if (WHQ != 0u && (ABL & 1u) == 0u) fetchHalf(1u, lane, n0, BK * bb);
    if (more && (ABL & 1u) == 0u) {
        if (WHQ == 0u) fetch(1u - par, lane, n0, BK * (bb + 1u));
        loadX(m0, bb + 1u);
    }
#ifdef WEIGHT_Q4
    MatC tmp[R * NB];   // one sub-block's exact sums (inside one group), folded into acc after it
#else
#define tmp acc
#endif
    if ((ABL & 2u) == 0u)
    [[unroll]] for (uint s = 0; s < NS; ++s) {
#ifdef WEIGHT_Q4
        if ((s & 3u) == 0u) { [[unroll]] for (uint i = 0; i < R * NB; ++i) tmp[i] = MatC(0); }
#endif
        MatB bm[NB];
        [[unroll]] for (uint b = 0; b < NB; ++b)
            coopMatLoad(bm[b], Xd, (par * TN + 8u * (xb0 + b)) * XRG + 2u * s, XRG, gl_CooperativeMatrixLayoutColumnMajor);
        [[unroll]] for (uint r = 0; r < R; ++r) {
            MatA am;
            [[unroll]] for (uint e = 0; e < 4u; ++e) {
                const i8vec4 v = unpack8(int(aWord(par, r, e >> 1, s, e & 1u)));
                am[4u * e] = v.x; am[4u * e + 1u] = v.y; am[4u * e + 2u] = v.z; am[4u * e + 3u] = v.w;
            }
            [[unroll]] for (uint b = 0; b < NB; ++b) tmp[r * NB + b] = coopMatMulAdd(am, bm[b], tmp[r * NB + b]);
        }
#ifdef WEIGHT_Q4
        if ((s & 3u) == 3u) {
            // × the group scale / 16 (A held 16·(q − 8)); C element i is weight row g + 8(i >> 1).
            [[unroll]] for (uint r = 0; r < R; ++r) {
                const float s0 = sr[((par * R + r) * 2u) * CH + (s >> 2)] * 0.0625;
                const float s1 = sr[((par * R + r) * 2u + 1u) * CH + (s >> 2)] * 0.0625;
                [[unroll]] for (uint b = 0; b < NB; ++b) {
                    const uint i = r * NB + b;
                    acc[i][0] += float(tmp[i][0]) * s0; acc[i][1] += float(tmp[i][1]) * s0;
                    acc[i][2] += float(tmp[i][2]) * s1; acc[i][3] += float(tmp[i][3]) * s1;
                }
            }
        }
#endif
        // WH: the first half's words are done with; the next block's go into their place.
        if (WHQ != 0u && s + 1u == NS / 2u && more && (ABL & 1u) == 0u) fetchHalf(0u, lane, n0, BK * (bb + 1u));
    }
#ifndef WEIGHT_Q4
#undef tmp
#endif
    if (WHQ != 0u && (ABL & 2u) != 0u && more && (ABL & 1u) == 0u) fetchHalf(0u, lane, n0, BK * (bb + 1u));
    if ((ABL & 4u) == 0u) {
        if (more) storeX(1u - par);
        barrier();   // buffer 1 − par is complete; every subgroup is done with buffer par
    }
}

void main() {
    const uint lane = gl_SubgroupInvocationID;
    const uint sg = gl_SubgroupID;
    const uint mt = XT != 0u ? (pc.M + TN - 1u) / TN : 1u;
    const uint n0 = (XT != 0u ? gl_WorkGroupID.x / mt : gl_WorkGroupID.x) * BN + (sg / KS) * R * 16u;
    const uint xb0 = (sg % KS) * NB;             // this subgroup's first B fragment (8 x rows each)
    const uint m0 = XT != 0u ? (gl_WorkGroupID.x % mt) * TN : 0u;
    const uint g = lane >> 2, t = lane & 3u;
    const uint nb = pc.K / BK;

#ifdef WEIGHT_Q4
    [[unroll]] for (uint i = 0; i < R * NB; ++i) acc[i] = MatF(0.0);
#else
    [[unroll]] for (uint i = 0; i < R * NB; ++i) acc[i] = MatC(0);
#endif
    if (WHQ != 0u) fetchHalf(0u, lane, n0, 0u); else fetch(0u, lane, n0, 0u);
    loadX(m0, 0u);
    storeX(0u);
    barrier();
    for (uint bp = 0; bp < nb; bp += 2u) {
        gemmBlock(0u, bp, nb, lane, n0, m0, xb0);
        if (bp + 1u < nb) gemmBlock(1u, bp + 1u, nb, lane, n0, m0, xb0);
    }

    [[unroll]] for (uint r = 0; r < R; ++r) {
        [[unroll]] for (uint b = 0; b < NB; ++b) {
            [[unroll]] for (uint i = 0; i < 4u; ++i) {
                // C element i: weight row g + 8(i >> 1) of the tile, x row 8(xb0 + b) + 2t + (i & 1) of the workgroup's TN.
                const uint n = n0 + 16u * r + g + 8u * (i >> 1);
                const uint m = m0 + 8u * (xb0 + b) + 2u * t + (i & 1u);
                if (n < pc.N && m < pc.M) {
#ifdef WEIGHT_Q4
                    const float cs = acc[r * NB + b][i];
#else
                    const float cs = WS[n] * float(acc[r * NB + b][i]);
#endif
                    const float zp = float(int(XP[2u * m + 1u]));
                    float v = uintBitsToFloat(XP[2u * m]) * (cs - zp * CORR[n]);
                    if (pc.hasBias != 0u) v += float(BIAS[n]);
                    Y[m * pc.N + n] = ACT_T(v);
                }
            }
        }
    }
}
