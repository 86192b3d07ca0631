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
//   pad0: unused (keeps the block 32 bytes)
layout(push_constant) uniform PC {
    uint M; uint N; uint K; uint G;
    uint hasBias; uint ldx; uint ldw; uint pad0;
} pc;

// One INT4 word (8 nibbles, nibble i = k+i, stored with zero point 8) → 8 signed int8 (q − 8),
// packed 4 per word in k order: .x = k+0..3, .y = k+4..7. SWAR: split even/odd nibbles into
// bytes, interleave, then subtract 8 from every byte without borrows ((v | 0x80) − 8) ^ 0x80.
uvec2 widen8(uint w) {
    const uint lo = w & 0x0F0F0F0Fu;          // bytes: n0 n2 n4 n6
    const uint hi = (w >> 4) & 0x0F0F0F0Fu;   // bytes: n1 n3 n5 n7
    const uint a = (lo & 0xFFu) | ((hi & 0xFFu) << 8) | ((lo & 0xFF00u) << 8) | ((hi & 0xFF00u) << 16);
    const uint b = ((lo >> 16) & 0xFFu) | (((hi >> 16) & 0xFFu) << 8) | ((lo >> 8) & 0xFF0000u) | (hi & 0xFF000000u);
    return uvec2(((a | 0x80808080u) - 0x08080808u) ^ 0x80808080u, ((b | 0x80808080u) - 0x08080808u) ^ 0x80808080u);
}
