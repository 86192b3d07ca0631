#version 450
#extension GL_GOOGLE_include_directive : require
// Ceiling probe for `qlinear bench`: each subgroup repeats coopMatMulAdd on register-resident
// fragments (8 independent accumulators), so the measured rate is the device's cooperative-matrix
// peak for the type (S8: int8×int8→int32, else fp16×fp16→fp32). pc.M = iterations.
#include "common.glsl"
#extension GL_KHR_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_KHR_shader_subgroup_basic : require

layout(local_size_x_id = 3) in;
layout(constant_id = 3) const uint WG = 256;
layout(constant_id = 6) const uint TM = 16;
layout(constant_id = 7) const uint TN = 16;
layout(constant_id = 8) const uint TK = 16;

#ifdef S8
#define AT int8_t
#define CT int
#else
#define AT float16_t
#define CT float
#endif
layout(binding = 0) writeonly buffer OBuf { CT O[]; };

void main() {
    coopmat<AT, gl_ScopeSubgroup, TM, TK, gl_MatrixUseA> a = coopmat<AT, gl_ScopeSubgroup, TM, TK, gl_MatrixUseA>(AT(1));
    coopmat<AT, gl_ScopeSubgroup, TK, TN, gl_MatrixUseB> b = coopmat<AT, gl_ScopeSubgroup, TK, TN, gl_MatrixUseB>(AT(pc.N));
    coopmat<CT, gl_ScopeSubgroup, TM, TN, gl_MatrixUseAccumulator> c[8];
    [[unroll]] for (uint j = 0; j < 8; ++j) c[j] = coopmat<CT, gl_ScopeSubgroup, TM, TN, gl_MatrixUseAccumulator>(CT(j));
    for (uint i = 0; i < pc.M; ++i) {
        [[unroll]] for (uint j = 0; j < 8; ++j) c[j] = coopMatMulAdd(a, b, c[j]);
    }
    [[unroll]] for (uint j = 1; j < 8; ++j) c[0] += c[j];
    const uint sg = gl_WorkGroupID.x * gl_NumSubgroups + gl_SubgroupID;
    coopMatStore(c[0], O, sg * TM * TN, TN, gl_CooperativeMatrixLayoutRowMajor);
}
