#version 450
#extension GL_GOOGLE_include_directive : require
// Split-K reduction: y[m, n] = Σ_z P[z][m][n] (+ bias[n]) for the float ops, and for the int8
// ops (INT_MATH) y = sx[m] · (Σ_z P[z][m][n] − zp[m] · corr[n]) (+ bias[n]), as the one-pass
// coopmat_int epilogue computes it. The slices are added in order z = 0, 1, … (deterministic).
// Push constants: M, N, K = number of slices, hasBias. One invocation per output element over a
// 2-D grid of workgroups (x · WG · y covers M·N).
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 256;

layout(binding = 0) readonly buffer PBuf { float P[]; };
layout(binding = 1) readonly buffer BiasBuf { ACT_T BIAS[]; };
#ifdef INT_MATH
layout(binding = 2) readonly buffer XPBuf { uint XP[]; };
layout(binding = 3) readonly buffer CorrBuf { float CORR[]; };
layout(binding = 4) writeonly buffer YBuf { ACT_T Y[]; };
#else
layout(binding = 2) writeonly buffer YBuf { ACT_T Y[]; };
#endif

void main() {
    const uint mn = pc.M * pc.N;
    const uint i = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * WG + gl_LocalInvocationID.x;
    if (i >= mn) return;
    float v = 0.0;
    for (uint z = 0; z < pc.K; ++z) v += P[z * mn + i];
    const uint gn = i % pc.N;
#ifdef INT_MATH
    const uint gm = i / pc.N;
    const float zp = float(int(XP[2 * gm + 1]));
    v = uintBitsToFloat(XP[2 * gm]) * (v - zp * CORR[gn]);
#endif
    if (pc.hasBias != 0u) v += float(BIAS[gn]);
    Y[i] = ACT_T(v);
}
