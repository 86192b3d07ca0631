// dot4(a, b): signed dot product of two words of 4 packed int8. With DOT, the device's packed
// 4×8-bit dot product (SPV_KHR_integer_dot_product, reached through GL_EXT_spirv_intrinsics since
// glslang 13 lacks GL_EXT_integer_dot_product); otherwise plain int8 multiply-adds.
#ifdef DOT
#extension GL_EXT_spirv_intrinsics : require
spirv_instruction(extensions = ["SPV_KHR_integer_dot_product"], capabilities = [6019, 6018], id = 4450)
int sdot4x8(uint a, uint b, spirv_literal uint packedFormat);
int dot4(uint a, uint b) { return sdot4x8(a, b, 0u); }
#else
int dot4(uint a, uint b) {
    return bitfieldExtract(int(a), 0, 8) * bitfieldExtract(int(b), 0, 8)
         + bitfieldExtract(int(a), 8, 8) * bitfieldExtract(int(b), 8, 8)
         + bitfieldExtract(int(a), 16, 8) * bitfieldExtract(int(b), 16, 8)
         + bitfieldExtract(int(a), 24, 8) * bitfieldExtract(int(b), 24, 8);
}
#endif
