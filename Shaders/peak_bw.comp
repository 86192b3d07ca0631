#version 450
#extension GL_GOOGLE_include_directive : require
// Read-bandwidth probe for `qlinear bench`: a grid-stride loop of 16-byte loads over pc.M uvec4,
// folded into one word per invocation so nothing is optimised away.
#include "common.glsl"
layout(local_size_x = 256) in;
layout(binding = 0) readonly buffer ABuf { uvec4 A[]; };
layout(binding = 1) writeonly buffer OBuf { uint O[]; };
void main() {
    const uint id = gl_GlobalInvocationID.x;
    const uint stride = gl_NumWorkGroups.x * 256;
    uvec4 acc = uvec4(0);
    for (uint i = id; i < pc.M; i += stride) acc ^= A[i];
    O[id] = acc.x ^ acc.y ^ acc.z ^ acc.w;
}
