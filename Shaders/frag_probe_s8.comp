#version 450
#extension GL_GOOGLE_include_directive : require
// Int8 fragment-layout probe (run once per device by the context's self-test where 16×8×32 s8
// cooperative matrices exist): which (row, column) each invocation's element i holds. Kernels
// that build int8 fragments in registers (gemm_i8.comp) run only where the probe found the
// layout they were written for. It uses the operations such a kernel uses — element insertion
// into A (from unpack8), s8 MMAs, int32 accumulators — and no element extraction from int8
// matrices: an int8 element cannot hold a flat index, so each element is written its lane (then
// its index i) and multiplied by 0/1 selection matrices loaded from shared memory; the int32
// products, stored row-major, say which lane and element hold each (row, column).
// A 16×32: C = A·B_p with B_p(k, n) = [k = 8p + n] gives A's columns 8p … 8p + 7 (p = 0…3).
// B 32×8: C = A_p·B with A_p(r, k) = [k = r + 16p] gives B's rows 16p … 16p + 15 (p = 0, 1).
// C 16×8: element i of lane l written 16·l + i, stored.
// Output O (uint): [0] SGS, [1..3] length() of A, B, C; then for matrix j (A, B, C) at
// 4 + j·512 + lane·16 + i: the flat index r·cols + c element i of `lane` holds (0xFFFFFFFF = none
// found).
#include "common.glsl"
#extension GL_KHR_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_KHR_shader_subgroup_basic : require

layout(local_size_x_id = 3) in;
layout(constant_id = 3) const uint WG = 32;
layout(binding = 0) writeonly buffer OBuf { uint O[]; };

// Selection matrices as bytes in uvec4 (16-byte rows/columns for coopMatLoad's stride): B_p
// column-major (column n: 32 bytes k = 0…31, 2 uvec4), A_p row-major (row r: 32 bytes, 2 uvec4).
shared uvec4 SB[4 * 16], SA[2 * 32];
shared uvec4 CS[16 * 2];   // one 16×8 int32 result, row-major (8 words = 2 uvec4 per row)

#define MatA coopmat<int8_t, gl_ScopeSubgroup, 16, 32, gl_MatrixUseA>
#define MatB coopmat<int8_t, gl_ScopeSubgroup, 32, 8, gl_MatrixUseB>
#define MatC coopmat<int, gl_ScopeSubgroup, 16, 8, gl_MatrixUseAccumulator>

// Word w (0…3) of uvec4 u of a 32-byte line holding a single 1 at byte `one` (or none).
uint selWord(uint u, uint w, uint one) { const uint b = 16u * u + 4u * w; return one >= b && one < b + 4u ? 1u << (8u * (one - b)) : 0u; }

uint cAt(uint r, uint n) { return CS[r * 2u + (n >> 2)][n & 3u]; }

void main() {
    const uint l = gl_LocalInvocationID.x;
    for (uint v = l; v < 4u * 16u; v += WG) {   // B_p column n (uvec4 u of 2): 1 at k = 8p + n
        const uint p = v / 16u, n = (v % 16u) / 2u, u = v % 2u;
        SB[v] = uvec4(selWord(u, 0u, 8u * p + n), selWord(u, 1u, 8u * p + n), selWord(u, 2u, 8u * p + n), selWord(u, 3u, 8u * p + n));
    }
    for (uint v = l; v < 2u * 32u; v += WG) {   // A_p row r (uvec4 u of 2): 1 at k = r + 16p
        const uint p = v / 32u, r = (v % 32u) / 2u, u = v % 2u;
        SA[v] = uvec4(selWord(u, 0u, r + 16u * p), selWord(u, 1u, r + 16u * p), selWord(u, 2u, r + 16u * p), selWord(u, 3u, r + 16u * p));
    }
    barrier();
    if (gl_SubgroupID != 0) return;
    const uint lane = gl_SubgroupInvocationID;
    MatA a;
    MatB b;
    MatC c;
    if (lane == 0) {
        O[0] = gl_SubgroupSize;
        O[1] = uint(a.length()); O[2] = uint(b.length()); O[3] = uint(c.length());
    }
    // A: (lane, element) codes through B_p; `code` 0: the lane, 1: the element index.
    for (uint p = 0; p < 4u; ++p) {
        MatB sel;
        coopMatLoad(sel, SB, p * 16u, 2u, gl_CooperativeMatrixLayoutColumnMajor);
        uint who[2][4];
        for (uint code = 0; code < 2u; ++code) {
            for (uint i = 0; i < uint(a.length()); ++i) a[i] = int8_t(code == 0u ? lane : i);
            c = coopMatMulAdd(a, sel, MatC(0));
            coopMatStore(c, CS, 0, 2u, gl_CooperativeMatrixLayoutRowMajor);
            subgroupMemoryBarrierShared();
            subgroupBarrier();
            // Lane l reads rows l / 2 (l < 32): columns 8p + n for n = 4(l & 1) … + 3.
            if (lane < 32u) for (uint e = 0; e < 4u; ++e) who[code][e] = cAt(lane >> 1, 4u * (lane & 1u) + e);
            subgroupBarrier();
        }
        if (lane < 32u) for (uint e = 0; e < 4u; ++e) {
            const uint r = lane >> 1, k = 8u * p + 4u * (lane & 1u) + e;
            if (who[0][e] < 32u && who[1][e] < 16u) O[4u + who[0][e] * 16u + who[1][e]] = r * 32u + k;
        }
    }
    // B: through A_p.
    for (uint p = 0; p < 2u; ++p) {
        MatA sel;
        coopMatLoad(sel, SA, p * 32u, 2u, gl_CooperativeMatrixLayoutRowMajor);
        uint who[2][4];
        for (uint code = 0; code < 2u; ++code) {
            for (uint i = 0; i < uint(b.length()); ++i) b[i] = int8_t(code == 0u ? lane : i);
            c = coopMatMulAdd(sel, b, MatC(0));
            coopMatStore(c, CS, 0, 2u, gl_CooperativeMatrixLayoutRowMajor);
            subgroupMemoryBarrierShared();
            subgroupBarrier();
            if (lane < 32u) for (uint e = 0; e < 4u; ++e) who[code][e] = cAt(lane >> 1, 4u * (lane & 1u) + e);
            subgroupBarrier();
        }
        if (lane < 32u) for (uint e = 0; e < 4u; ++e) {
            const uint k = (lane >> 1) + 16u * p, n = 4u * (lane & 1u) + e;
            if (who[0][e] < 32u && who[1][e] < 16u) O[4u + 512u + who[0][e] * 16u + who[1][e]] = k * 8u + n;
        }
    }
    // C: element i of lane l holds 16·l + i.
    for (uint i = 0; i < uint(c.length()); ++i) c[i] = int(16u * lane + i);
    coopMatStore(c, CS, 0, 2u, gl_CooperativeMatrixLayoutRowMajor);
    subgroupMemoryBarrierShared();
    subgroupBarrier();
    if (lane < 32u) for (uint e = 0; e < 4u; ++e) {
        const uint r = lane >> 1, n = 4u * (lane & 1u) + e, code = cAt(r, n);
        if (code < 512u) O[4u + 1024u + code] = r * 8u + n;
    }
}
