#version 450
#extension GL_GOOGLE_include_directive : require
// Read-bandwidth probe for `qlinear bench`: a grid-stride loop of 16-byte loads over pc.M uvec4,
// max(pc.N, 1) times (a buffer smaller than the last-level cache read repeatedly measures the
// cache; each pass shifted so a workgroup reads another region), folded into one word per invocation so nothing is optimised away.
#include "common.glsl"
layout(local_size_x = 256) in;
layout(binding = 0) readonly buffer ABuf { uvec4 A[]; };
layout(binding = 1) writeonly buffer OBuf { uint O[]; };
void main() {
    const uint id = gl_GlobalInvocationID.x;
    const uint stride = gl_NumWorkGroups.x * 256;
    uvec4 acc = uvec4(0);
    // Pass r starts 37·r workgroups' worth of data further on (mod pc.M), so a workgroup reads
    // another region each pass (what its SM read before is not what it reads next: no L1 hits).
    for (uint r = 0; r < max(pc.N, 1u); ++r) {
        const uint shift = (r * 37u * 256u) % max(pc.M, 1u);
        for (uint i = id; i < pc.M; i += stride) {
            uint j = i + shift;
            if (j >= pc.M) j -= pc.M;
            acc += A[j] ^ uvec4(r);
        }
    }
    O[id] = acc.x ^ acc.y ^ acc.z ^ acc.w;
}
