#version 450
#extension GL_EXT_control_flow_attributes : enable
// The model runner's non-linear steps on the device (QLinearLlama's device forward): everything
// between the linear layers of a llama block, so one token's whole forward pass is one recorded
// command buffer. fp32 throughout, the same formulas as the runner's CPU path (LlamaModel's host
// ops), which is what the tests compare against. One mode per define:
//
//   RMSNORM      H[r] = X[row] · rsqrt(mean(X[row]²) + eps) · W          one workgroup per row
//   RMSNORM_ADD  X[row] += R[row] first (the residual add), then as RMSNORM; row = row0 + r
//   ROPE_KV      rotate Q in place and K into the KV cache at position pos0 + r, copy V there
//   ATTENTION    causal softmax attention of query row r, head h against cache rows 0…pos0+r
//   SWIGLU       A = G / (1 + exp(−G)) · U, elementwise
//
// pos0 (tokens already in the cache) is read from the parameter buffer P, not a push constant, so
// a recorded stream is resubmitted for every token with only P and the input rewritten.

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 128;   // a power of two (tree reductions)

#if defined(RMSNORM) || defined(RMSNORM_ADD)
layout(push_constant) uniform PC { uint D; uint row0; float eps; } pc;
layout(binding = 0) buffer XBuf { float X[]; };
layout(binding = 1) readonly buffer WBuf { float W[]; };
layout(binding = 2) writeonly buffer HBuf { float H[]; };
#ifdef RMSNORM_ADD
layout(binding = 3) readonly buffer RBuf { float R[]; };
#endif
shared float red[WG];

void main() {
    const uint t = gl_LocalInvocationID.x;
    const uint row = pc.row0 + gl_WorkGroupID.x;
    const uint xb = row * pc.D, hb = gl_WorkGroupID.x * pc.D;
    float ss = 0.0;
    for (uint j = t; j < pc.D; j += WG) {
#ifdef RMSNORM_ADD
        const float v = X[xb + j] + R[xb + j];
        X[xb + j] = v;
#else
        const float v = X[xb + j];
#endif
        ss += v * v;
    }
    red[t] = ss;
    barrier();
    for (uint w = WG / 2; w > 0; w /= 2) {
        if (t < w) red[t] += red[t + w];
        barrier();
    }
    const float s = 1.0 / sqrt(red[0] / float(pc.D) + pc.eps);
    // Each thread reads back only the X elements it wrote itself.
    for (uint j = t; j < pc.D; j += WG) H[hb + j] = X[xb + j] * s * W[j];
}
#endif

#ifdef ROPE_KV
// Q [rows, heads·hd] in place; K, V [rows, kvHeads·hd] → KC, VC [capacity, kvHeads·hd] at row
// pos0 + r. CS [capacity, nf, 2] holds cos/sin of pos·invFreq[i] computed on the host with the
// CPU path's own expressions (a GPU cos of arguments in the thousands is not accurate enough).
layout(push_constant) uniform PC { uint heads; uint kvHeads; uint hd; uint nf; uint capacity; } pc;
layout(binding = 0) buffer QBuf { float Q[]; };
layout(binding = 1) readonly buffer KBuf { float K[]; };
layout(binding = 2) readonly buffer VBuf { float V[]; };
layout(binding = 3) writeonly buffer KCBuf { float KC[]; };
layout(binding = 4) writeonly buffer VCBuf { float VC[]; };
layout(binding = 5) readonly buffer CSBuf { float CS[]; };
layout(binding = 6) readonly buffer PBuf { uint P[]; };

void main() {
    const uint t = gl_LocalInvocationID.x, r = gl_WorkGroupID.x;
    const uint pos = P[0] + r;
    if (pos >= pc.capacity) return;   // the host refuses this before submitting
    const uint cs = pos * pc.nf * 2;
    const uint qb = r * pc.heads * pc.hd;
    for (uint i = t; i < pc.heads * pc.nf; i += WG) {
        const uint h = i / pc.nf, f = i % pc.nf;
        const uint a = qb + h * pc.hd + 2 * f;
        const float c = CS[cs + 2 * f], s = CS[cs + 2 * f + 1];
        const float x0 = Q[a], x1 = Q[a + 1];
        Q[a] = x0 * c - x1 * s;
        Q[a + 1] = x0 * s + x1 * c;
    }
    const uint kvDim = pc.kvHeads * pc.hd;
    const uint kb = r * kvDim, cb = pos * kvDim;
    for (uint e = t; e < kvDim; e += WG) {
        const uint j = e % pc.hd;
        float v = K[kb + e];
        if (j < 2 * pc.nf) {
            const uint f = j / 2;
            const float c = CS[cs + 2 * f], s = CS[cs + 2 * f + 1];
            if ((j & 1u) == 0u) v = K[kb + e] * c - K[kb + e + 1] * s;
            else v = K[kb + e - 1] * s + K[kb + e] * c;
        }
        KC[cb + e] = v;
        VC[cb + e] = V[kb + e];
    }
}
#endif

#ifdef ATTENTION
// One workgroup per (head h = x, query row r = y): O[r, h·hd …] = softmax(q·Kᵀ·scale) · V over the
// cache rows 0…pos0+r, streamed in chunks of WG keys with a running max and sum (each key's score
// by one thread; each output dimension owned by one thread, up to 4·WG dimensions).
layout(push_constant) uniform PC { uint heads; uint kvHeads; uint hd; float scale; } pc;
layout(binding = 0) readonly buffer QBuf { float Q[]; };
layout(binding = 1) readonly buffer KCBuf { float KC[]; };
layout(binding = 2) readonly buffer VCBuf { float VC[]; };
layout(binding = 3) writeonly buffer OBuf { float O[]; };
layout(binding = 4) readonly buffer PBuf { uint P[]; };
const uint HD_MAX = 256;
shared float qs[HD_MAX];
shared float red[WG];
shared float prob[WG];

void main() {
    const uint t = gl_LocalInvocationID.x, h = gl_WorkGroupID.x, r = gl_WorkGroupID.y;
    const uint n = P[0] + r + 1;
    const uint hd = pc.hd, kvDim = pc.kvHeads * hd;
    const uint kh = h / (pc.heads / pc.kvHeads);
    const uint qb = (r * pc.heads + h) * hd;
    for (uint j = t; j < hd; j += WG) qs[j] = Q[qb + j];
    barrier();
    // A finite "minus infinity": drivers may assume no infinities (no SignedZeroInfNanPreserve).
    const float LOWEST = -3.0e38;
    float mx = LOWEST, l = 0.0;
    float acc[4] = float[4](0.0, 0.0, 0.0, 0.0);
    for (uint c = 0; c < n; c += WG) {
        const uint p = c + t;
        float s = LOWEST;
        if (p < n) {
            const uint kb = p * kvDim + kh * hd;
            float d = 0.0;
            for (uint j = 0; j < hd; ++j) d += qs[j] * KC[kb + j];
            s = d * pc.scale;
        }
        red[t] = s;
        barrier();
        for (uint w = WG / 2; w > 0; w /= 2) {
            if (t < w) red[t] = max(red[t], red[t + w]);
            barrier();
        }
        const float mn = max(mx, red[0]);   // a real score: key c < n always exists
        const float alpha = c == 0 ? 0.0 : exp(mx - mn);
        prob[t] = p < n ? exp(s - mn) : 0.0;
        barrier();
        const uint cnt = min(WG, n - c);
        float sum = 0.0;
        for (uint i = 0; i < cnt; ++i) sum += prob[i];
        l = l * alpha + sum;
        [[unroll]] for (uint a = 0; a < 4; ++a) {
            const uint j = t + a * WG;
            if (j < hd) {
                float o = acc[a] * alpha;
                for (uint i = 0; i < cnt; ++i) o += prob[i] * VC[(c + i) * kvDim + kh * hd + j];
                acc[a] = o;
            }
        }
        mx = mn;
        barrier();   // red and prob are rewritten by the next chunk
    }
    const uint ob = (r * pc.heads + h) * hd;
    [[unroll]] for (uint a = 0; a < 4; ++a) {
        const uint j = t + a * WG;
        if (j < hd) O[ob + j] = acc[a] / l;
    }
}
#endif

#ifdef SWIGLU
layout(push_constant) uniform PC { uint count; } pc;
layout(binding = 0) readonly buffer GBuf { float G[]; };
layout(binding = 1) readonly buffer UBuf { float U[]; };
layout(binding = 2) writeonly buffer ABuf { float A[]; };

void main() {
    const uint i = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * WG + gl_LocalInvocationID.x;
    if (i >= pc.count) return;
    const float g = G[i];
    A[i] = g / (1.0 + exp(-g)) * U[i];
}
#endif
