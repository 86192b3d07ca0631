// Shared definitions for QLinear compute shaders.
// Storage types: ACT_F16 selects float16_t activations/outputs/bias, otherwise float.
#extension GL_EXT_shader_explicit_arithmetic_types : require
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_control_flow_attributes : enable

#ifdef ACT_F16
#define ACT_T float16_t
#else
#define ACT_T float
#endif

// Linear-layer push constants, shared by every linear kernel:
//   M, N, K: y[M,N] = x[M,K] · W[N,K]^T (+ bias[N])
//   G: quantization group size along K (0 when the weight has no groups)
//   hasBias: 1 when bias[N] is bound and must be added
//   ldx: row stride of the activation operand, in its storage elements
//   ldw: row stride of the weight operand, in its storage words/elements
//   kSlice: split-K kernels: K values per workgroup slice along z (0 = all of K); else 0
layout(push_constant) uniform PC {
    uint M; uint N; uint K; uint G;
    uint hasBias; uint ldx; uint ldw; uint kSlice;
} pc;

// One INT4 word (8 nibbles, nibble i = k+i, stored with zero point 8) → 8 signed int8 (q − 8),
// packed 4 per word in k order: .x = k+0..3, .y = k+4..7. (A SWAR variant with byte masks was
// measured slower on the H100 than these bitfield operations.)
uvec2 widen8(uint w) {
    uvec2 r = uvec2(0u);
    [[unroll]] for (uint i = 0; i < 4; ++i) {
        r.x = bitfieldInsert(r.x, uint(int(bitfieldExtract(w, int(4 * i), 4)) - 8), int(8 * i), 8);
        r.y = bitfieldInsert(r.y, uint(int(bitfieldExtract(w, int(4 * i + 16), 4)) - 8), int(8 * i), 8);
    }
    return r;
}
