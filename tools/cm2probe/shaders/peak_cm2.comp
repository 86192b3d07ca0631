#version 450
// (b) NV coopmat2 workgroup-scope peak: one TM x TN fp32 accumulator per workgroup,
// A (TM x TK) and B (TK x TN) fp16 loaded once (tensor-addressed loads), then ITERS
// coopMatMulAdd with no memory traffic in the loop (the compiler decides where the
// workgroup-scope operands live: registers and/or shared memory). Sizes and the
// workgroup size are specialization constants.
#pragma use_vulkan_memory_model
#extension GL_KHR_memory_scope_semantics : enable
#extension GL_KHR_cooperative_matrix : enable
#extension GL_NV_cooperative_matrix2 : enable
#extension GL_EXT_shader_explicit_arithmetic_types : enable
layout(local_size_x_id = 0, local_size_y = 1, local_size_z = 1) in;
layout(constant_id = 1) const uint TM = 64;
layout(constant_id = 2) const uint TN = 64;
layout(constant_id = 3) const uint TK = 16;
layout(push_constant) uniform PC { uint iters; uint p1; uint p2; uint p3; } pc;
layout(set = 0, binding = 0) readonly buffer InA { float16_t a[]; };
layout(set = 0, binding = 1) readonly buffer InB { float16_t b[]; };
layout(set = 0, binding = 2) writeonly buffer Out { float o[]; };

void main() {
    tensorLayoutNV<2> la = createTensorLayoutNV(2);
    la = setTensorLayoutDimensionNV(la, TM, TK);
    tensorLayoutNV<2> lb = createTensorLayoutNV(2);
    lb = setTensorLayoutDimensionNV(lb, TK, TN);
    coopmat<float16_t, gl_ScopeWorkgroup, TM, TK, gl_MatrixUseA> ma;
    coopmat<float16_t, gl_ScopeWorkgroup, TK, TN, gl_MatrixUseB> mb;
    coopMatLoadTensorNV(ma, a, 0, la);
    coopMatLoadTensorNV(mb, b, 0, lb);
    coopmat<float, gl_ScopeWorkgroup, TM, TN, gl_MatrixUseAccumulator> c =
        coopmat<float, gl_ScopeWorkgroup, TM, TN, gl_MatrixUseAccumulator>(0.0);
    for (uint it = 0; it < pc.iters; ++it)
        c = coopMatMulAdd(ma, mb, c);
    tensorLayoutNV<2> lo = createTensorLayoutNV(2);
    lo = setTensorLayoutDimensionNV(lo, 16u * TM, TN);
    coopMatStoreTensorNV(c, o, 0, sliceTensorLayoutNV(lo, (gl_WorkGroupID.x & 15u) * TM, TM, 0, TN));
}
