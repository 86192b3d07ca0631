#version 450
// (a) KHR subgroup-scope peak: each subgroup keeps MA*NB 16x16 fp32 accumulators and loops
// coopMatMulAdd over MA A-fragments and NB B-fragments (16x16x16 fp16) loaded once into
// registers. No memory traffic inside the loop. MA and NB are compile-time defines.
#pragma use_vulkan_memory_model
#extension GL_KHR_memory_scope_semantics : enable
#extension GL_KHR_cooperative_matrix : enable
#extension GL_KHR_shader_subgroup_basic : enable
#extension GL_EXT_control_flow_attributes : enable
#extension GL_EXT_shader_explicit_arithmetic_types : enable
#ifndef MA
#define MA 2
#endif
#ifndef NB
#define NB 4
#endif
layout(local_size_x_id = 0, local_size_y = 1, local_size_z = 1) in;
layout(push_constant) uniform PC { uint iters; uint p1; uint p2; uint p3; } pc;
layout(set = 0, binding = 0) readonly buffer InA { float16_t a[]; };
layout(set = 0, binding = 1) readonly buffer InB { float16_t b[]; };
layout(set = 0, binding = 2) writeonly buffer Out { float o[]; };

#define FragA coopmat<float16_t, gl_ScopeSubgroup, 16, 16, gl_MatrixUseA>
#define FragB coopmat<float16_t, gl_ScopeSubgroup, 16, 16, gl_MatrixUseB>
#define Acc coopmat<float, gl_ScopeSubgroup, 16, 16, gl_MatrixUseAccumulator>

void main() {
    FragA fa[MA];
    FragB fb[NB];
    Acc acc[MA * NB];
    [[unroll]] for (uint i = 0; i < MA; ++i)
        coopMatLoad(fa[i], a, i * 256u, 16u, gl_CooperativeMatrixLayoutRowMajor);
    [[unroll]] for (uint j = 0; j < NB; ++j)
        coopMatLoad(fb[j], b, j * 256u, 16u, gl_CooperativeMatrixLayoutRowMajor);
    [[unroll]] for (uint k = 0; k < MA * NB; ++k)
        acc[k] = Acc(0.0);
    for (uint it = 0; it < pc.iters; ++it) {
        [[unroll]] for (uint i = 0; i < MA; ++i)
            [[unroll]] for (uint j = 0; j < NB; ++j)
                acc[i * NB + j] = coopMatMulAdd(fa[i], fb[j], acc[i * NB + j]);
    }
    Acc s = acc[0];
    [[unroll]] for (uint k = 1; k < MA * NB; ++k)
        s = s + acc[k];
    uint slot = (gl_WorkGroupID.x * gl_NumSubgroups + gl_SubgroupID) & 63u;
    coopMatStore(s, o, slot * 256u, 16u, gl_CooperativeMatrixLayoutRowMajor);
}
