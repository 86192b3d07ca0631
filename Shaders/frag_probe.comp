#version 450
#extension GL_GOOGLE_include_directive : require
// Fragment-layout probe (run once per device by the context's self-test): which (row, column)
// each invocation's element i of a subgroup-scope cooperative matrix holds. The layout is
// implementation-defined; kernels that build fragments in registers (gemv_frag.comp) run only
// where the probe found the layout they were written for.
// Matrices: A 16×16 f16 (use A), B 16×8 f16 (use B), C 16×8 f32 (accumulator), each loaded from
// shared memory holding its own element indices (r·cols + c, exact in fp16 up to 2048).
// Output O (uint): [0] SGS, [1..3] length() of A, B, C; then for matrix j (A, B, C) at
// 4 + j·512 + lane·16 + i: the index held by element i of `lane` (0xFFFFFFFF = none).
#include "common.glsl"
#extension GL_KHR_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_KHR_shader_subgroup_basic : require

layout(local_size_x_id = 3) in;
layout(constant_id = 3) const uint WG = 32;
layout(binding = 0) writeonly buffer OBuf { uint O[]; };

shared float16_t IH[256];
shared float IF[128];

void main() {
    const uint l = gl_LocalInvocationID.x;
    for (uint i = l; i < 256; i += WG) IH[i] = float16_t(float(i));
    for (uint i = l; i < 128; i += WG) IF[i] = float(i);
    barrier();
    if (gl_SubgroupID != 0) return;
    const uint lane = gl_SubgroupInvocationID;
    coopmat<float16_t, gl_ScopeSubgroup, 16, 16, gl_MatrixUseA> a;
    coopmat<float16_t, gl_ScopeSubgroup, 16, 8, gl_MatrixUseB> b;
    coopmat<float, gl_ScopeSubgroup, 16, 8, gl_MatrixUseAccumulator> c;
    coopMatLoad(a, IH, 0, 16, gl_CooperativeMatrixLayoutRowMajor);
    coopMatLoad(b, IH, 0, 8, gl_CooperativeMatrixLayoutRowMajor);
    coopMatLoad(c, IF, 0, 8, gl_CooperativeMatrixLayoutRowMajor);
    if (lane == 0) {
        O[0] = gl_SubgroupSize;
        O[1] = uint(a.length()); O[2] = uint(b.length()); O[3] = uint(c.length());
    }
    if (lane >= 32) return;
    [[unroll]] for (uint i = 0; i < 16; ++i) {
        uint va = 0xFFFFFFFFu, vb = 0xFFFFFFFFu, vc = 0xFFFFFFFFu;
        if (i < uint(a.length())) va = uint(float(a[i]));
        if (i < uint(b.length())) vb = uint(float(b[i]));
        if (i < uint(c.length())) vc = uint(c[i]);
        O[4 + 0 * 512 + lane * 16 + i] = va;
        O[4 + 1 * 512 + lane * 16 + i] = vb;
        O[4 + 2 * 512 + lane * 16 + i] = vc;
    }
}
