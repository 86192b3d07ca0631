#version 450
// (c) coopmat2 GEMM tile kernel: C[M,N] (fp16) = A[M,K] * B[N,K]^T (BT = true, the QLinear
// case) or A[M,K] * B[K,N] (BT = false, for comparison), fp16 inputs, fp32 accumulation, all
// row-major. For BT, B is "column-major" from the multiply's point of view and is read
// through a transposing tensor view. Each workgroup computes one TM x TN tile of C,
// stepping over K in TK chunks with tensor-addressed loads straight from global memory;
// staging through shared memory is left to the compiler. M % TM == N % TN == K % TK == 0.
#pragma use_vulkan_memory_model
#extension GL_KHR_memory_scope_semantics : enable
#extension GL_KHR_cooperative_matrix : enable
#extension GL_NV_cooperative_matrix2 : enable
#extension GL_EXT_shader_explicit_arithmetic_types : enable
layout(local_size_x_id = 0, local_size_y = 1, local_size_z = 1) in;
layout(constant_id = 1) const uint TM = 128;
layout(constant_id = 2) const uint TN = 128;
layout(constant_id = 3) const uint TK = 32;
layout(constant_id = 4) const bool BT = true;
layout(push_constant) uniform PC { uint M; uint N; uint K; uint p3; } pc;
layout(set = 0, binding = 0) readonly buffer InA { float16_t a[]; };
layout(set = 0, binding = 1) readonly buffer InB { float16_t b[]; };
layout(set = 0, binding = 2) writeonly buffer OutC { float16_t c[]; };

void main() {
    uint m0 = gl_WorkGroupID.y * TM;
    uint n0 = gl_WorkGroupID.x * TN;
    tensorLayoutNV<2> la = createTensorLayoutNV(2);
    la = setTensorLayoutDimensionNV(la, pc.M, pc.K);
    tensorLayoutNV<2> lb = createTensorLayoutNV(2);
    lb = BT ? setTensorLayoutDimensionNV(lb, pc.N, pc.K) : setTensorLayoutDimensionNV(lb, pc.K, pc.N);
    tensorLayoutNV<2> lc = createTensorLayoutNV(2);
    lc = setTensorLayoutDimensionNV(lc, pc.M, pc.N);
    // B tile is stored n-major (TN rows of TK); the view swaps the two coordinates so it
    // loads as a TK x TN UseB matrix.
    tensorViewNV<2, false, 1, 0> vt = createTensorViewNV(2, false, 1, 0);

    coopmat<float, gl_ScopeWorkgroup, TM, TN, gl_MatrixUseAccumulator> acc =
        coopmat<float, gl_ScopeWorkgroup, TM, TN, gl_MatrixUseAccumulator>(0.0);
    for (uint k0 = 0; k0 < pc.K; k0 += TK) {
        coopmat<float16_t, gl_ScopeWorkgroup, TM, TK, gl_MatrixUseA> ma;
        coopmat<float16_t, gl_ScopeWorkgroup, TK, TN, gl_MatrixUseB> mb;
        coopMatLoadTensorNV(ma, a, 0, sliceTensorLayoutNV(la, m0, TM, k0, TK));
        if (BT)
            coopMatLoadTensorNV(mb, b, 0, sliceTensorLayoutNV(lb, n0, TN, k0, TK), vt);
        else
            coopMatLoadTensorNV(mb, b, 0, sliceTensorLayoutNV(lb, k0, TK, n0, TN));
        acc = coopMatMulAdd(ma, mb, acc);
    }
    coopmat<float16_t, gl_ScopeWorkgroup, TM, TN, gl_MatrixUseAccumulator> out16 =
        coopmat<float16_t, gl_ScopeWorkgroup, TM, TN, gl_MatrixUseAccumulator>(acc);
    coopMatStoreTensorNV(out16, c, 0, sliceTensorLayoutNV(lc, m0, TM, n0, TN));
}
