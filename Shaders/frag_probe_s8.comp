#version 450
#extension GL_GOOGLE_include_directive : require
// Int8 fragment-layout probe (run once per device by the context's self-test where 16×8×32 s8
// cooperative matrices exist): which (row, column) each invocation's element i holds. Kernels
// that build int8 fragments in registers (gemm_i8.comp) run only where the probe found the
// layout they were written for.
// Matrices: A 16×32 s8 (use A), B 32×8 s8 (use B), C 16×8 s32 (accumulator). An int8 cannot
// hold a flat index, so A and B are each loaded twice — once holding their row numbers, once
// their column numbers — from shared words of packed bytes; C holds its flat index.
// Output O (uint): [0] SGS, [1..3] length() of A, B, C; then for matrix j (A, B, C) at
// 4 + j·512 + lane·16 + i: the flat index r·cols + c held by element i of `lane` (0xFFFFFFFF =
// none).
#include "common.glsl"
#extension GL_KHR_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_KHR_shader_subgroup_basic : require

layout(local_size_x_id = 3) in;
layout(constant_id = 3) const uint WG = 32;
layout(binding = 0) writeonly buffer OBuf { uint O[]; };

shared uint AR[128], AC[128], BR[64], BC[64];   // bytes r·cols + c of 16×32 and 32×8
shared int CI[128];

// The byte whose flat index is f of a matrix with `cols` columns: its row (rows) or column.
uint packed(uint w, uint cols, bool rows) {
    uint v = 0u;
    for (uint b = 0; b < 4u; ++b) {
        const uint f = 4u * w + b;
        v |= (rows ? f / cols : f % cols) << (8u * b);
    }
    return v;
}

void main() {
    const uint l = gl_LocalInvocationID.x;
    for (uint w = l; w < 128u; w += WG) { AR[w] = packed(w, 32u, true); AC[w] = packed(w, 32u, false); CI[w] = int(w); }
    for (uint w = l; w < 64u; w += WG) { BR[w] = packed(w, 8u, true); BC[w] = packed(w, 8u, false); }
    barrier();
    if (gl_SubgroupID != 0) return;
    const uint lane = gl_SubgroupInvocationID;
    coopmat<int8_t, gl_ScopeSubgroup, 16, 32, gl_MatrixUseA> ar, ac;
    coopmat<int8_t, gl_ScopeSubgroup, 32, 8, gl_MatrixUseB> br, bc;
    coopmat<int, gl_ScopeSubgroup, 16, 8, gl_MatrixUseAccumulator> c;
    coopMatLoad(ar, AR, 0, 8, gl_CooperativeMatrixLayoutRowMajor);
    coopMatLoad(ac, AC, 0, 8, gl_CooperativeMatrixLayoutRowMajor);
    coopMatLoad(br, BR, 0, 2, gl_CooperativeMatrixLayoutRowMajor);
    coopMatLoad(bc, BC, 0, 2, gl_CooperativeMatrixLayoutRowMajor);
    coopMatLoad(c, CI, 0, 8, gl_CooperativeMatrixLayoutRowMajor);
    if (lane == 0) {
        O[0] = gl_SubgroupSize;
        O[1] = uint(ar.length()); O[2] = uint(br.length()); O[3] = uint(c.length());
    }
    if (lane >= 32) return;
    [[unroll]] for (uint i = 0; i < 16; ++i) {
        uint va = 0xFFFFFFFFu, vb = 0xFFFFFFFFu, vc = 0xFFFFFFFFu;
        if (i < uint(ar.length())) va = uint(int(ar[i])) * 32u + uint(int(ac[i]));
        if (i < uint(br.length())) vb = uint(int(br[i])) * 8u + uint(int(bc[i]));
        if (i < uint(c.length())) vc = uint(c[i]);
        O[4 + 0 * 512 + lane * 16 + i] = va;
        O[4 + 1 * 512 + lane * 16 + i] = vb;
        O[4 + 2 * 512 + lane * 16 + i] = vc;
    }
}
