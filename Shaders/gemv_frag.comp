#version 450
#extension GL_GOOGLE_include_directive : require
// Tensor-core matrix–vector kernel with register-built fragments (every op, any M, K a multiple
// of 128): yᵀ = W·xᵀ, the weights as the MMA's A operand (16 rows × 16 K), the activations as B
// (16 K × 8 rows of x: M pads to 8; TN = 16 or 32: two or four B fragments, rows 8b … 8b + 7).
// M > TN: the grid holds ⌈M / TN⌉ workgroups per row group, x row tiles of TN, adjacent in
// dispatch order so the weight rows they share come from L2 the second time. Nothing is staged: each lane loads the weight and activation values its own fragment
// elements hold, straight into registers, so the main loop has no shared memory and no barrier
// (except the XSMEM and GEMM forms below, which stage x in shared memory).
// Weights: INT4 (q4gsw, dq8ca_q4gsw), fp16 (WEIGHT_F16: exact, no scales) or int8 (WEIGHT_Q8,
// dq8ca_q8csw: q exact in fp16; each block's integer sum added exactly in int32, × the row's scale
// at the end). K must be a multiple of 128 (whole blocks).
// DQ (dq8ca ops): B holds the integers xq − zp of the int8 rows quant_act.comp wrote (|·| ≤ 255,
// exact in fp16), so each 128-value block's Σ (q − 8)·(xq − zp) is an exact integer (< 2^24) in
// the fp32 accumulator; × the group scale per block, × the row's scale sx at the end.
//
// Written for the fragment layout `FragmentLayout.Known.mma16816` (lane = 4g + t): A element i
// at (row g + 8·(i >> 2), column 2t + (i & 1) + 8·((i >> 1) & 1)), B element i at (row
// 2t + (i & 1) + 8·(i >> 1), column g), C element i at (row g + 8·(i >> 1), column 2t + (i & 1)).
// The dispatcher uses this kernel only where the device's self-test probe found that layout.
//
// K permutation: a dot product does not change when K is permuted the same way in both operands.
// Per block of 128 K values (8 MMAs of 16), lane (g, t) owns K values kb + 32t … kb + 32t + 31
// of its two weight rows (g and g + 8 of the 16-row tile: one 16-byte load each, the format's
// own words) and of x rows g + 8b, b < TN / 8 (four 16-byte loads of fp16 each, two of int8). MMA s (0…7) of the block takes from word
// q = s / 2 of those 32 values the nibbles j, j + 4 (columns 2t, 2t + 1) and j + 1, j + 5
// (columns 2t + 8, 2t + 9), j = 2·(s & 1); B takes the same K values of x, so every product
// pairs a weight with its own activation. INT4 → fp16: (w & 0x000F000F) | 0x64006400 is
// f16vec2(1024 + q) (− 1032 gives q − 8 exactly; the high nibbles by an exact FMA with 1/16).
//
// Scales after the MMA: a 128-K block lies in one group (G a multiple of 128), so the 8 MMAs
// accumulate Σ (q − 8)·x exactly-rounded in fp32 into a temporary, which is scaled by the row's
// group scale (fp32) and added to the accumulator — no fp16 rounding of the weights at all.
//
// Work: subgroup sg of a workgroup takes row group sg / KS (R tiles of 16 rows) and K part
// sg % KS (blocks p, p + KS, …); PD blocks of loads are issued before their MMAs. The KS parts'
// accumulators are added in shared memory at the end (bias fused), as bit patterns in a uint array
// (float or int32 sums; no float loads of int bits); part 0 adds the other parts'. The array's
// size depends on XT (RCOMPACT below: the allocation each table rule was measured with). Edges: rows past N load row
// N − 1 and are not written; x rows ≥ M are zeros; K is a multiple of G and so of 128 (whole
// blocks); an activation row stride that is not a multiple of 16 bytes takes scalar loads.
//
// XSMEM (families gemv_frag_xs / gemv_frag_dq_xs; prepared in session 11, not yet run on a GPU):
// the workgroup stages its TN x rows once per step of KS·PD blocks in shared memory (Xs), so the
// activations come from L2 once per workgroup instead of once per subgroup; weights still go
// straight into registers. Every subgroup runs the same number of steps (barriers are uniform);
// part p of a row group takes blocks j·KS·PD + p·PD + u of step j, as without XSMEM. Xs holds, per
// x row, KS·PD blocks of 16 uvec4 (8 halves each) — the lane-t quarter's word q at slot 4q + t —
// plus 4 uvec4 of padding, so a row is 64·KS·PD + 16 words long: the two rows an 8-lane phase of
// 16-byte loads reads (g, g + 1 at t = 0…3) land on distinct banks. Blocks past K stage zeros.
//
// GEMM (family gemm_frag: fp16 and INT4 weights, any M; prefill): the register-fragment kernel
// for many x rows. K is not split (KS = 1) and one block is in flight; instead, two register sets
// of weights (block b + 1's loads issued before block b's MMAs; WH below: one set, each block in
// two halves four MMA steps ahead) and two shared buffers of the
// workgroup's TN x rows (block b + 1 loaded into registers before block b's MMAs, stored after
// them into the other buffer): one barrier per 128-K block. The x rows are stored permuted — word
// e of a lane's 8-value piece is (x[8q + e], x[8q + e + 4]) — so a B fragment's element pairs are
// whole words (no repacking per MMA). INT4 weights are multiplied by their fp16 group scale as
// they are dequantized (q − 8 exact, × scale: two fp16 roundings), so the MMAs accumulate straight
// into the accumulators (no per-block temporaries: TN = 64 fits the registers).
// With DQ (family gemm_frag_dq, dq8ca_q4gsw): the x rows are the quantization pass's int8 rows
// as xq − zp (exact in fp16), staged like x; × the row's activation scale at the end.
//
// QFUSE (with DQ; family gemv_frag_dqf, M ≤ 256 — used for decode batches): no quantization pass.
// Each workgroup first reduces its TN x rows' ranges (WG / TN threads per row, 8-value steps;
// subgroupMin/Max where a row has whole subgroups, else one partial per thread), then one thread
// per row computes the row's scale, 1/scale and zero point (quant_common.glsl: the bits
// quant_act.comp computes) into shared memory — two barriers, before the first weight load. loadX
// then quantizes its 32 fp16/fp32 values per row and block from x itself (quantize1) and forms
// xq − zp exactly as from the pass's int8 rows, so B, every sum and y are the bits gemv_frag_dq
// gives after quant_act. The first workgroup along N (its row group 0) also writes the int8 rows
// and their parameters (XQ, XP, as quant_act lays them out) for layers sharing the scratch.
// With XSMEM (family gemv_frag_dqf_xs) the x rows are quantized once per workgroup as they are
// staged, and each step's weight loads are issued before the staging (in flight meanwhile).
//
// QSYNC (with DQ; family gemv_frag_dqs, M ≤ 256 — decode batches): the quantization pass inside
// the same dispatch. Workgroups claim x rows from an atomic counter in SyncBuf, one at a time
// until none are left, quantize each exactly as quant_act.comp does (the same bits, into the same
// XQ / XP layout — the layer's scratch, so layers sharing it read them as from the pass) and
// publish it (queue-family-scope release on a second counter). Every workgroup issues its first
// blocks' weight loads, makes its claims, then waits until all M rows are published (acquire) and
// runs as gemv_frag_dq. Rows are claimed only by running workgroups, which publish before they
// wait, so a wait never depends on a workgroup that has not started (Vulkan promises no forward
// progress between workgroups; this assumes only that started ones keep running). The last
// workgroup past the wait (a third counter) resets the counters for the next dispatch.
#include "common.glsl"
#if defined(QFUSE) || defined(QSYNC)
#if !defined(DQ) || defined(GEMM) || (defined(QFUSE) && defined(QSYNC)) || (defined(QSYNC) && defined(XSMEM))
#error QFUSE and QSYNC are forms of the DQ matrix-vector kernel (not GEMM; QSYNC not staged; not both)
#endif
#include "quant_common.glsl"
#extension GL_KHR_shader_subgroup_arithmetic : require
#endif
#extension GL_KHR_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_KHR_shader_subgroup_basic : require

layout(local_size_x_id = 3) in;
layout(constant_id = 1) const uint R = 2;      // 16-row tiles per subgroup
layout(constant_id = 14) const uint PD = 1;    // 128-K blocks of loads in flight
layout(constant_id = 3) const uint WG = 128;
layout(constant_id = 4) const uint KS = 1;     // subgroups splitting one row group's K
layout(constant_id = 7) const uint TN = 8;     // x rows the MMAs cover: 8, 16 or 32 (TN / 8 B fragments)
layout(constant_id = 9) const uint SGS = 32;
layout(constant_id = 15) const uint XT = 0;
#ifdef XSMEM
const uint XROW = KS * PD * 16u + 4u;           // uvec4 per staged x row
shared uvec4 Xs[TN * XROW];
#endif    // 1: M > TN, ⌈M / TN⌉ x-row tiles along the grid; 0: one tile (M ≤ TN)
#ifdef GEMM
// BL = 1: B fragments with coopMatLoad (one load per fragment) from x rows stored in the MMAs' K
// order, 16 + 1 uvec4 per row; BL = 0: built from permuted words, 16 + 4 uvec4 per row (above).
layout(constant_id = 16) const uint BL = 0;
// XE = 1…7: the next block's x rows are stored into the other buffer after MMA step XE of this
// block (free since the last barrier), so the compiler cannot hold their loads back to the end of
// the block; 0: after all eight steps. XE = 8: x a block further ahead — block b + 1's rows,
// loaded during block b − 1, are stored at the start of block b (before its MMAs), and block
// b + 2's loads are issued then: a whole block of MMAs between a load and its store.
layout(constant_id = 17) const uint XE = 0;
// WH = 1 (INT4 and fp16 weights): each block's weights are loaded in two halves per row and lane
// (INT4: 8 bytes, fp16: two 16-byte loads) — the values of MMA steps 0…3 after step 3 of the
// previous block, those of steps 4…7 at the start of the block — four MMA steps ahead instead of
// eight, so the weights take one register set (wh / wf) instead of two; 0: a whole block ahead in
// two register sets (wr).
layout(constant_id = 18) const uint WH = 0;
#if !defined(WEIGHT_Q8)
const uint WHQ = WH;
#else
const uint WHQ = 0u;
#endif
// Diagnostics only (results are wrong): 1 = no global loads, 2 = no MMAs (nor their fragment
// loads), 4 = no shared stores and barriers.
layout(constant_id = 12) const uint ABL = 0;
const uint XRG = BL != 0u ? 17u : 20u;         // uvec4 per staged x row and buffer
shared uvec4 Xd[2u * TN * XRG];
const uint QPT = (TN * 4u + WG - 1u) / WG;     // 32-value quarters of x each invocation stages per block
const uint NSLOT = 2u;                         // weight register sets
#else
const uint NSLOT = PD;
#ifdef QSYNC
// Diagnostics only (`QLINEAR_ABLATE`): 8 = the first blocks' weights not loaded before the wait;
// 16 = a workgroup-scope barrier after the wait (no queue-family-scope fence in every invocation);
// 32 = rows published before they are quantized (results are wrong).
layout(constant_id = 12) const uint ABL = 0;
#else
const uint ABL = 0u;
#endif
#endif

const uint NB = TN / 8u;                       // B fragments per K step

const uint NSG = WG / SGS;
const uint RG = NSG / KS;                      // row groups per workgroup
const uint BN = RG * R * 16;                   // rows per workgroup

#if defined(DQ) && defined(QSYNC)
#ifdef ACT_F16
layout(binding = 0) readonly buffer XBuf { uvec4 X4[]; };
#else
layout(binding = 0) readonly buffer XBuf { vec4 X4[]; };
#endif
layout(binding = 1) readonly buffer WBuf { uvec4 W4[]; };
layout(binding = 2) readonly buffer SBuf { float S[]; };
layout(binding = 3) readonly buffer BiasBuf { ACT_T BIAS[]; };
layout(binding = 4) writeonly buffer YBuf { ACT_T Y[]; };
// Written by this dispatch's quantizing workgroups and read by all of them: coherent.
layout(binding = 5) coherent buffer XQBuf { uvec4 XQ4[]; };   // int8 rows, K / 16 uvec4 apart
layout(binding = 6) coherent buffer XPBuf { uint XP[]; };     // per row: scale bits, zero point
layout(binding = 7) coherent buffer SyncBuf { uint SYNC[]; }; // rows claimed, rows published, workgroups past the wait
#elif defined(DQ) && defined(QFUSE)
#ifdef ACT_F16
layout(binding = 0) readonly buffer XBuf { uvec4 X4[]; };
#else
layout(binding = 0) readonly buffer XBuf { vec4 X4[]; };
#endif
layout(binding = 1) readonly buffer WBuf { uvec4 W4[]; };
layout(binding = 2) readonly buffer SBuf { float S[]; };
layout(binding = 3) readonly buffer BiasBuf { ACT_T BIAS[]; };
layout(binding = 4) writeonly buffer YBuf { ACT_T Y[]; };
layout(binding = 5) writeonly buffer XQBuf { uvec4 XQW[]; };  // int8 rows, K / 16 uvec4 apart
layout(binding = 6) writeonly buffer XPBuf { uint XP[]; };     // per row: scale bits, zero point
#elif defined(DQ)
layout(binding = 0) readonly buffer XQBuf { uvec4 XQ4[]; };   // int8 rows, pc.ldx words apart
layout(binding = 1) readonly buffer XPBuf { uint XP[]; };     // per row: scale bits, zero point
layout(binding = 2) readonly buffer WBuf { uvec4 W4[]; };
layout(binding = 3) readonly buffer SBuf { float S[]; };
layout(binding = 4) readonly buffer BiasBuf { ACT_T BIAS[]; };
layout(binding = 5) writeonly buffer YBuf { ACT_T Y[]; };
#else
#ifdef ACT_F16
layout(binding = 0) readonly buffer XBuf { uvec4 X4[]; };
#else
layout(binding = 0) readonly buffer XBuf { vec4 X4[]; };
#endif
layout(binding = 1) readonly buffer WBuf { uvec4 W4[]; };
layout(binding = 2) readonly buffer SBuf { float S[]; };
layout(binding = 3) readonly buffer BiasBuf { ACT_T BIAS[]; };
layout(binding = 4) writeonly buffer YBuf { ACT_T Y[]; };
#endif

// The K parts' accumulators (read only when KS > 1), slot RSLOT(rg, p) for part p of row group rg.
// Two sizes, each the one its table rules were measured with: M ≤ TN (XT = 0) declares a slot for
// every subgroup (every part stores, part 0 adds the others); M > TN (XT = 1), XSMEM and GEMM keep
// parts 1 … KS − 1 only (one word when KS = 1). The H100's compiler allocates registers by more
// than the code: with the compact array it capped several M ≤ 32 configurations at 64 / 96 / 128
// registers and spilled (2x128x1fs2 at q4gsw 16×28672×4096: 96 registers, 45.8 µs, against 105 and
// 42.2 with the full one), and with the full array it spilled the M = 33…64 rule 4x128x1f at 255
// registers (231 µs against 131) — docs/results/h100-ab-frag-spills-s11-2026-11-26.json and
// h100-frag-red-array-s12-2026-11-27.json.
#if defined(XSMEM) || defined(GEMM)
const bool RCOMPACT = true;
#else
const bool RCOMPACT = XT != 0u;
#endif
#define RSLOT(rg, p) (RCOMPACT ? (rg) * (KS - 1u) + (p) - 1u : (rg) * KS + (p))
shared uint Red[RCOMPACT ? RG * (KS - 1u) * R * NB * 4u * 32u + 1u : NSG * R * NB * 4u * 32u];

#define MatA coopmat<float16_t, gl_ScopeSubgroup, 16, 16, gl_MatrixUseA>
#define MatB coopmat<float16_t, gl_ScopeSubgroup, 16, 8, gl_MatrixUseB>
#define MatC coopmat<float, gl_ScopeSubgroup, 16, 8, gl_MatrixUseAccumulator>
#ifdef GEMM
MatC acc[R * NB];   // the accumulators (gemmBlock adds into them)
#endif

// 16-byte loads per weight row per block: the lane's 32 values.
#if defined(WEIGHT_F16)
const uint WL = 4u;
#elif defined(WEIGHT_Q8)
const uint WL = 2u;
#else
const uint WL = 1u;
#endif
uvec4 wr[NSLOT * R * 2 * WL];   // weights of rows g, g + 8 of each tile, per block in flight
float sr[NSLOT * R * 2];        // INT4: their group scales
#ifdef GEMM
uvec2 wh[2u * R * 2u];          // WH, INT4: half h (words 2h, 2h + 1) of rows g, g + 8 of each tile
uvec4 wf[2u * R * 2u * 2u];     // WH, fp16: half h (16-byte loads 2h, 2h + 1) of the same rows
uvec4 xr[QPT * 4u];             // the x quarters this invocation stages for the next block
#else
uvec4 xr[PD * NB * 4];  // 32 halves of x rows g (and g + 8) per block in flight
#endif

#if defined(DQ) && (defined(QFUSE) || defined(QSYNC))
// x[m, 8i … 8i + 8) as floats (K and the row stride pc.ldx = K are multiples of 128).
void load8(uint m, uint i, out float v[8]) {
    const uint e0 = m * pc.ldx + 8u * i;
#ifdef ACT_F16
    const uvec4 r = X4[e0 >> 3];
    [[unroll]] for (uint h = 0; h < 4u; ++h) { const vec2 p = unpackHalf2x16(r[h]); v[2u * h] = p.x; v[2u * h + 1u] = p.y; }
#else
    const vec4 a = X4[e0 >> 2], b = X4[(e0 >> 2) + 1u];
    v[0] = a.x; v[1] = a.y; v[2] = a.z; v[3] = a.w; v[4] = b.x; v[5] = b.y; v[6] = b.z; v[7] = b.w;
#endif
}

// One value's xq as a float (quantize1's integer): an estimate u = fma(v, inv32, zp) is within
// 255·2⁻²⁴ + 2·2⁻¹⁶ < 4.6·10⁻⁵ of quantize1's sum v·inv + zp (inv32's relative error on
// |v·inv| ≤ 255, at most two roundings of |u| < 512 where fma is not fused), so where u is more
// than 2⁻¹⁰ from a half-integer both round to the same integer (u − roundEven(u) is exact);
// nearer a tie, and for non-finite values, quantize1 itself. Fewer operations than quantize1's
// fp32 test, which matters where every workgroup quantizes all of its x rows (QFUSE).
float quantizeF(float v, QINV_T inv, float inv32, float zp) {
    const float u = fma(v, inv32, zp);
    const float r = roundEven(u);
    if (abs(u - r) < 0.4990234375) return clamp(r, -128.0, 127.0);
    return float(quantize1(v, inv, inv32, zp));
}

#endif

#if defined(DQ) && defined(QSYNC)
shared uint qsRow;                               // the row this workgroup claimed
shared float qsLo[NSG], qsHi[NSG];
shared float qsParam[2];                         // the row's scale and zero point
#ifdef Q_F64
shared uvec2 qsInv;
#else
shared float qsInv;
#endif

// x row `row` into XQ (16 int8 values per uvec4, in k order) and XP (scale bits, zero point), the
// bits quant_act.comp writes (K is a multiple of 128: no padding). Every invocation of the
// workgroup calls it (two barriers).
void quantizeRow(uint row) {
    const uint tid = gl_LocalInvocationIndex;
    const uint steps = pc.K / 8u;
    float lo = 0.0, hi = 0.0;                    // the range always includes 0
    for (uint i = tid; i < steps; i += WG) {
        float v[8];
        load8(row, i, v);
        [[unroll]] for (uint e = 0; e < 8u; ++e) { lo = min(lo, v[e]); hi = max(hi, v[e]); }
    }
    lo = subgroupMin(lo);
    hi = subgroupMax(hi);
    if (subgroupElect()) { qsLo[gl_SubgroupID] = lo; qsHi[gl_SubgroupID] = hi; }
    barrier();
    if (tid == 0u) {
        float a = qsLo[0], b = qsHi[0];
        for (uint s = 1; s < NSG; ++s) { a = min(a, qsLo[s]); b = max(b, qsHi[s]); }
        float scale, zp;
#ifdef Q_F64
        double inv;
        qParams(a, b, scale, inv, zp);
        qsInv = unpackDouble2x32(inv);
#else
        scale = qScale(a, b);
        qsInv = qInverse(scale);
        zp = qZeroPoint(div_rn(a, scale), div_rn(b, scale));
#endif
        qsParam[0] = scale;
        qsParam[1] = zp;
        XP[2u * row] = floatBitsToUint(scale);
        XP[2u * row + 1u] = uint(int(zp));
    }
    barrier();
    const float zp = qsParam[1];
#ifdef Q_F64
    const double inv = packDouble2x32(qsInv);
#else
    const float inv = qsInv;
#endif
    const float inv32 = float(inv);
    for (uint i = tid; i < steps / 2u; i += WG) {
        float a[8], b[8];
        load8(row, 2u * i, a);
        load8(row, 2u * i + 1u, b);
        uint q[4];
        [[unroll]] for (uint c = 0; c < 4u; ++c) {
            q[c] = 0u;
            [[unroll]] for (uint e = 0; e < 4u; ++e) {
                const uint j = 4u * c + e;
                const float x = j < 8u ? a[j] : b[j - 8u];
                q[c] |= (uint(int(quantizeF(x, inv, inv32, zp))) & 0xFFu) << (8u * e);
            }
        }
        XQ4[row * (pc.K / 16u) + i] = uvec4(q[0], q[1], q[2], q[3]);
    }
}

// Claims x rows from the counter SYNC[0] one at a time, quantizes and publishes each (SYNC[1]),
// until none are left, then waits until all M rows are published. Every row is claimed by a
// workgroup that is running and publishes it before it waits, so no workgroup waits on a row no
// running workgroup holds, however few workgroups fit the device at once. Every invocation calls it.
void quantizeAndWait() {
    const uint tid = gl_LocalInvocationIndex;
    const uint nwg = gl_NumWorkGroups.x * gl_NumWorkGroups.y;
    for (;;) {
        if (tid == 0u) qsRow = atomicAdd(SYNC[0], 1u, gl_ScopeQueueFamily, 0, gl_SemanticsRelaxed);
        barrier();
        const uint row = qsRow;   // (invocation 0 rewrites it only after quantizeRow's barriers)
        if (row >= pc.M) break;   // (uniform)
        if ((ABL & 32u) != 0u) {
            // Diagnostics: published before it is quantized (results are wrong).
            if (tid == 0u) atomicAdd(SYNC[1], 1u, gl_ScopeQueueFamily, gl_StorageSemanticsBuffer, gl_SemanticsRelease);
            quantizeRow(row);
        } else {
            quantizeRow(row);
            // Every invocation's XQ / XP stores before the workgroup's release.
            controlBarrier(gl_ScopeWorkgroup, gl_ScopeQueueFamily, gl_StorageSemanticsBuffer | gl_StorageSemanticsShared, gl_SemanticsAcquireRelease);
            if (tid == 0u) atomicAdd(SYNC[1], 1u, gl_ScopeQueueFamily, gl_StorageSemanticsBuffer, gl_SemanticsRelease);
        }
    }
    if (tid == 0u) {
        while (atomicLoad(SYNC[1], gl_ScopeQueueFamily, gl_StorageSemanticsBuffer, gl_SemanticsAcquire) < pc.M) { }
        // The last workgroup past the wait resets the counters (every workgroup has made its last
        // claim and no one reads them again in this dispatch).
        if (atomicAdd(SYNC[2], 1u, gl_ScopeQueueFamily, gl_StorageSemanticsBuffer, gl_SemanticsAcquireRelease) == nwg - 1u) {
            atomicStore(SYNC[0], 0u, gl_ScopeQueueFamily, 0, gl_SemanticsRelaxed);
            atomicStore(SYNC[1], 0u, gl_ScopeQueueFamily, 0, gl_SemanticsRelaxed);
            atomicStore(SYNC[2], 0u, gl_ScopeQueueFamily, 0, gl_SemanticsRelaxed);
        }
    }
    // Invocation 0's acquire, passed on to the workgroup.
    if ((ABL & 16u) != 0u) barrier();   // (diagnostics: workgroup scope only; the reads are coherent)
    else controlBarrier(gl_ScopeWorkgroup, gl_ScopeQueueFamily, gl_StorageSemanticsBuffer | gl_StorageSemanticsShared, gl_SemanticsAcquireRelease);
}
#endif

#if defined(DQ) && defined(QFUSE)
// The tile's row parameters (row m0 + r at index r), computed by quantPrologue.
const uint QTPR = WG / TN;                               // threads per x row in the range pass
const uint QPART = QTPR >= SGS ? QTPR / SGS : QTPR;      // partial ranges per row
shared float qlo[TN * QPART], qhi[TN * QPART];
shared float qsc[TN], qzp[TN];
#ifdef Q_F64
shared uvec2 qinv[TN];
#else
shared float qinv[TN];
#endif
bool xqWriter = false;   // this invocation writes XQ (first workgroup along N; without XSMEM its row group 0)

// The parameters of rows m0 … m0 + TN − 1 (those < M) into qsc, qinv, qzp (the first workgroup
// along N also into XP). Every invocation calls it (two barriers).
void quantPrologue(uint m0, bool xpWriter) {
    // (Numbered by subgroup, so a row with QTPR ≥ SGS threads holds whole subgroups.)
    const uint t = gl_SubgroupID * SGS + gl_SubgroupInvocationID;
    const uint r = t / QTPR, j = t % QTPR;
    const uint m = m0 + r;
    const uint steps = pc.K / 8u;
    float lo = 0.0, hi = 0.0;                    // the range always includes 0
    if (m < pc.M) {
        // Four 16-byte loads in flight per invocation.
        for (uint i = j; i < steps; i += 4u * QTPR) {
            [[unroll]] for (uint u = 0; u < 4u; ++u) {
                if (i + u * QTPR < steps) {
                    float v[8];
                    load8(m, i + u * QTPR, v);
                    [[unroll]] for (uint e = 0; e < 8u; ++e) { lo = min(lo, v[e]); hi = max(hi, v[e]); }
                }
            }
        }
    }
    if (QTPR >= SGS) {
        // A row spans whole subgroups: reduce each, one partial per subgroup.
        lo = subgroupMin(lo);
        hi = subgroupMax(hi);
        if (subgroupElect()) { qlo[r * QPART + j / SGS] = lo; qhi[r * QPART + j / SGS] = hi; }
    } else {
        qlo[r * QPART + j] = lo;
        qhi[r * QPART + j] = hi;
    }
    barrier();
    if (t < TN && m0 + t < pc.M) {
        float a = qlo[t * QPART], b = qhi[t * QPART];
        for (uint p = 1; p < QPART; ++p) { a = min(a, qlo[t * QPART + p]); b = max(b, qhi[t * QPART + p]); }
        float scale, zp;
#ifdef Q_F64
        double inv;
        qParams(a, b, scale, inv, zp);
        qinv[t] = unpackDouble2x32(inv);
#else
        scale = qScale(a, b);
        qinv[t] = qInverse(scale);
        zp = qZeroPoint(div_rn(a, scale), div_rn(b, scale));
#endif
        qsc[t] = scale;
        qzp[t] = zp;
        if (xpWriter) { XP[2u * (m0 + t)] = floatBitsToUint(scale); XP[2u * (m0 + t) + 1u] = uint(int(zp)); }
    }
    barrier();
}

// 32 activations of row m from k, quantized with the row's parameters, as 4 × 8 halves xq − zp
// (exact); rows ≥ M load row M − 1 and are zeroed (no divergent loads). xqWriter: the int8 values
// also into XQ.
void loadX(uint dst, uint m, uint k) {
    const uint row = min(m, pc.M - 1u);
    const uint lr = row % TN;                    // the tile's rows are m0 … m0 + TN − 1, m0 % TN = 0
    const uvec4 keep = uvec4(m < pc.M ? 0xFFFFFFFFu : 0u);
    const float zp = qzp[lr];
#ifdef Q_F64
    const double inv = packDouble2x32(qinv[lr]);
#else
    const float inv = qinv[lr];
#endif
    const float inv32 = float(inv);
    uint q8[8];                                  // the int8 values, four per word in k order
    [[unroll]] for (uint c = 0; c < 4u; ++c) {
        float v[8];
        load8(row, (k >> 3) + c, v);
        uint h[4];
        [[unroll]] for (uint e = 0; e < 4u; ++e) {
            const float a = quantizeF(v[2u * e], inv, inv32, zp), b = quantizeF(v[2u * e + 1u], inv, inv32, zp);
            h[e] = packFloat2x16(f16vec2(a - zp, b - zp));   // |xq − zp| ≤ 255: exact
            if (xqWriter) {
                const uint pair = (uint(int(a)) & 0xFFu) | ((uint(int(b)) & 0xFFu) << 8);
                if ((e & 1u) == 0u) q8[2u * c + (e >> 1)] = pair; else q8[2u * c + (e >> 1)] |= pair << 16;
            }
        }
        xr[dst + c] = uvec4(h[0], h[1], h[2], h[3]) & keep;
    }
    if (xqWriter && m < pc.M) {
        const uint o = (row * pc.ldx + k) >> 4;  // uvec4 of 16 int8 values
        XQW[o] = uvec4(q8[0], q8[1], q8[2], q8[3]);
        XQW[o + 1u] = uvec4(q8[4], q8[5], q8[6], q8[7]);
    }
}
#elif defined(DQ)
// 32 int8 values of row m from k as 4 × 8 halves xq − zp (exact). Rows ≥ M load row M − 1 and
// are zeroed (no divergent loads). The int8 rows are zero-padded to whole 32-value chunks.
void loadX(uint dst, uint m, uint k) {
    const uint row = min(m, pc.M - 1u);
    const uint keep = m < pc.M ? 0xFFFFFFFFu : 0u;
    const uint zp = uint(1152 + int(XP[2u * row + 1u]));   // 1024 + 128 + zp, as fp16 below
    const f16vec2 off = f16vec2(float16_t(float(zp)));
#ifdef QSYNC
    const uint base = (row * pc.K + k) >> 4;             // rows K bytes apart (pc.ldx is x's stride)
#else
    const uint base = (row * pc.ldx + k / 4u) >> 2;
#endif
    [[unroll]] for (uint h = 0; h < 2u; ++h) {
        const uvec4 v = XQ4[base + h] ^ uvec4(0x80808080u);   // u = xq + 128 in each byte
        [[unroll]] for (uint c = 0; c < 4u; ++c) {
            const uint w = v[c];
            // bytes (0, 1) and (2, 3) as f16vec2(1024 + u) − (1152 + zp) = xq − zp
            const f16vec2 p0 = unpackFloat2x16((w & 0xFFu) | ((w << 8) & 0x00FF0000u) | 0x64006400u) - off;
            const f16vec2 p1 = unpackFloat2x16(((w >> 16) & 0xFFu) | ((w >> 8) & 0x00FF0000u) | 0x64006400u) - off;
            const uint o = h * 8u + c * 2u;                           // half pair index within the 32
            xr[dst + (o >> 2)][o & 3u] = packFloat2x16(p0) & keep;
            xr[dst + (o >> 2)][(o & 3u) + 1u] = packFloat2x16(p1) & keep;
        }
    }
}
#else
float xAt(uint i) {
#ifdef ACT_F16
    return unpackHalf2x16(X4[i >> 3][(i >> 1) & 3u])[i & 1u];
#else
    return X4[i >> 2][i & 3u];
#endif
}

// 32 activations of row m from k (zeros past K or for m ≥ M) as 4 × 8 halves. Lanes of rows
// ≥ M load row M − 1 like the others and zero it afterwards, so the loads do not diverge.
void loadX(uint dst, uint m, uint k) {
    const uint base = min(m, pc.M - 1u) * pc.ldx + k;
    const uvec4 keep = uvec4(m < pc.M ? 0xFFFFFFFFu : 0u);
#ifdef ACT_F16
    if (k + 32u <= pc.K && (pc.ldx % 8u) == 0u) {
        [[unroll]] for (uint c = 0; c < 4u; ++c) xr[dst + c] = X4[(base >> 3) + c] & keep;
        return;
    }
#else
    if (k + 32u <= pc.K && (pc.ldx % 4u) == 0u) {
        [[unroll]] for (uint c = 0; c < 4u; ++c) {
            const vec4 a = X4[(base >> 2) + 2u * c], b = X4[(base >> 2) + 2u * c + 1u];
            xr[dst + c] = uvec4(packFloat2x16(f16vec2(a.xy)), packFloat2x16(f16vec2(a.zw)),
                                      packFloat2x16(f16vec2(b.xy)), packFloat2x16(f16vec2(b.zw))) & keep;
        }
        return;
    }
#endif
    [[unroll]] for (uint c = 0; c < 4u; ++c) {
        uint h[4];
        [[unroll]] for (uint e = 0; e < 4u; ++e) {
            const uint kk = k + 8u * c + 2u * e;
            const float v0 = kk < pc.K ? xAt(base + 8u * c + 2u * e) : 0.0;
            const float v1 = kk + 1u < pc.K ? xAt(base + 8u * c + 2u * e + 1u) : 0.0;
            h[e] = packFloat2x16(f16vec2(v0, v1));
        }
        xr[dst + c] = uvec4(h[0], h[1], h[2], h[3]) & keep;
    }
}

#endif

void fetch(uint slot, uint lane, uint n0, uint m0, uint kb) {
    const uint g = lane >> 2, t = lane & 3u;
    const uint k = kb + 32u * t;
    [[unroll]] for (uint r = 0; r < R; ++r) {
        [[unroll]] for (uint h = 0; h < 2u; ++h) {
            const uint n = min(n0 + 16u * r + g + 8u * h, pc.N - 1u);
            const uint wi = ((slot * R + r) * 2u + h) * WL;
            // K is a multiple of 128 (the dispatcher's condition), so rows are whole blocks and
            // every load is a 16-byte-aligned one inside the row.
#if defined(WEIGHT_F16)
            const uint base = (n * pc.ldw + k) >> 3;               // halves
            [[unroll]] for (uint c = 0; c < 4u; ++c) wr[wi + c] = W4[base + c];
#elif defined(WEIGHT_Q8)
            const uint base = (n * pc.ldw + k / 4u) >> 2;          // words of 4 int8
            [[unroll]] for (uint c = 0; c < 2u; ++c) wr[wi + c] = W4[base + c];
#else
            wr[wi] = W4[(n * pc.ldw + k / 8u) >> 2];               // words of 8 nibbles
            sr[(slot * R + r) * 2u + h] = S[n * (pc.K / pc.G) + kb / pc.G];   // one group per block
#endif
        }
    }
#if !defined(XSMEM) && !defined(GEMM) && !defined(QSYNC)
    [[unroll]] for (uint b = 0; b < NB; ++b) loadX((slot * NB + b) * 4u, m0 + g + 8u * b, k);
#endif
}

#ifdef QSYNC
// (QSYNC: fetch loads the weights only — the first blocks' before the wait —, this the lane's x
// values of one block, rows g + 8b, into slot `slot`.)
void fetchX(uint slot, uint lane, uint m0, uint kb) {
    const uint g = lane >> 2, t = lane & 3u;
    [[unroll]] for (uint b = 0; b < NB; ++b) loadX((slot * NB + b) * 4u, m0 + g + 8u * b, kb + 32u * t);
}
#endif

#ifdef GEMM
// WH: half h of block kb's weights (and with h = 0 the block's group scales, into set slot).
void fetchHalf(uint h, uint slot, uint lane, uint n0, uint kb) {
    const uint g = lane >> 2, t = lane & 3u;
    const uint k = kb + 32u * t;
    [[unroll]] for (uint r = 0; r < R; ++r) {
        [[unroll]] for (uint hr = 0; hr < 2u; ++hr) {
            const uint n = min(n0 + 16u * r + g + 8u * hr, pc.N - 1u);
#ifdef WEIGHT_F16
            const uint i = (n * pc.ldw + k) >> 3;                    // halves
            [[unroll]] for (uint c = 0; c < 2u; ++c) wf[((h * R + r) * 2u + hr) * 2u + c] = W4[i + 2u * h + c];
#else
            const uint i = (n * pc.ldw + k / 8u) >> 2;
            wh[(h * R + r) * 2u + hr] = h == 0u ? W4[i].xy : W4[i].zw;
            if (h == 0u) sr[(slot * R + r) * 2u + hr] = S[n * (pc.K / pc.G) + kb / pc.G];
#endif
        }
    }
}

// Block b's x quarters (row idx / 4, values 32·(idx % 4) …) this invocation stages, into xr.
void gemmLoadX(uint m0, uint b) {
    [[unroll]] for (uint i = 0; i < QPT; ++i) {
        const uint idx = gl_LocalInvocationIndex + i * WG;
        if (idx < TN * 4u) loadX(i * 4u, m0 + (idx >> 2), 128u * b + 32u * (idx & 3u));
    }
}

// xr into buffer buf, permuted: natural words (0,1) (2,3) (4,5) (6,7) of each 8-value piece become
// (0,4) (1,5) (2,6) (3,7). Slot of piece c of row r, quarter tq: r·XRG + 4c + tq (an 8-lane phase
// of 16-byte accesses — two rows × four quarters — covers 32 distinct banks, for these stores and
// for the MMA loop's loads alike).
void gemmStoreX(uint buf) {
    [[unroll]] for (uint i = 0; i < QPT; ++i) {
        const uint idx = gl_LocalInvocationIndex + i * WG;
        if (idx < TN * 4u) {
            [[unroll]] for (uint c = 0; c < 4u; ++c) {
                const uvec4 v = xr[i * 4u + c];
                const uvec4 w = uvec4((v.x & 0xFFFFu) | (v.z << 16), (v.x >> 16) | (v.z & 0xFFFF0000u),
                                      (v.y & 0xFFFFu) | (v.w << 16), (v.y >> 16) | (v.w & 0xFFFF0000u));
                const uint row = (buf * TN + (idx >> 2)) * XRG, tq = idx & 3u;
                if (BL != 0u) {
                    // The MMAs' K order: step s = 2c + (j / 2) holds, at K columns 2t, 2t + 1 (word
                    // 8s + t) and 2t + 8, 2t + 9 (word 8s + t + 4), lane t's words j and j + 1.
                    [[unroll]] for (uint h = 0; h < 4u; ++h) {
                        const uint word = 8u * (2u * c + (h >> 1)) + tq + 4u * (h & 1u);
                        Xd[row + (word >> 2)][word & 3u] = w[h];
                    }
                } else {
                    Xd[row + 4u * c + tq] = w;
                }
            }
        }
    }
}
#endif

#ifdef XSMEM
// Stage step j: TN x rows × KS·PD blocks, 32-value quarters spread over the workgroup (loadX into
// xr[0…3] — unused otherwise with XSMEM — then to Xs). Quarters past the last block are zeros.
void stageX(uint j, uint m0, uint nb) {
    const uint per = KS * PD * 4u;                 // quarters per row
    for (uint idx = gl_LocalInvocationIndex; idx < TN * per; idx += WG) {
        const uint row = idx / per, rem = idx % per, blk = rem >> 2, tq = rem & 3u;
        const uint b = j * KS * PD + blk;
        if (b < nb) {
            loadX(0u, m0 + row, 128u * b + 32u * tq);
        } else {
            [[unroll]] for (uint c = 0; c < 4u; ++c) xr[c] = uvec4(0u);
        }
        [[unroll]] for (uint c = 0; c < 4u; ++c) Xs[row * XROW + blk * 16u + c * 4u + tq] = xr[c];
    }
}
#endif

// Dequantized pairs of word w: (nibble j, nibble j + 4) for j = 0…3, as f16vec2 (q − 8).
f16vec2 pairOf(uint w, uint j) {
    const uint s = (j & 2u) != 0u ? w >> 8 : w;
    if ((j & 1u) == 0u) return unpackFloat2x16((s & 0x000F000Fu) | 0x64006400u) - f16vec2(1032.0hf);
    return fma(unpackFloat2x16((s & 0x00F000F0u) | 0x64006400u), f16vec2(0.0625hf), f16vec2(-72.0hf));
}

// Bytes j of words a and b (int8) as f16vec2: ((a ^ 0x80) | 0x6400) is 1024 + q + 128.
f16vec2 bytePair(uint a, uint b, uint j) {
    const uint v = ((a >> (8u * j)) & 0xFFu) | (((b >> (8u * j)) & 0xFFu) << 16);
    return unpackFloat2x16((v ^ 0x00800080u) | 0x64006400u) - f16vec2(1152.0hf);
}

// fp16: the pairs (j, j + 4) and (j + 1, j + 5) of the 8 halves in v.
void f16Pairs(uvec4 v, uint j, out f16vec2 p0, out f16vec2 p1) {
    const f16vec2 lo = unpackFloat2x16(v[j >> 1]), hi = unpackFloat2x16(v[(j >> 1) + 2u]);
    p0 = f16vec2(lo.x, hi.x);
    p1 = f16vec2(lo.y, hi.y);
}

// The A operand's two element pairs of row slot wi for MMA (q, j): the values at the lane's K
// offsets (8q + j, 8q + j + 4) and (8q + j + 1, 8q + j + 5).
void aPairs(uint wi, uint q, uint j, out f16vec2 p0, out f16vec2 p1) {
#if defined(WEIGHT_F16)
    f16Pairs(wr[wi + q], j, p0, p1);
#elif defined(WEIGHT_Q8)
    // Offsets 8q … 8q + 3 are word 2q, 8q + 4 … 8q + 7 word 2q + 1.
    const uvec4 v = wr[wi + (q >> 1)];
    const uint a = v[2u * (q & 1u)], b = v[2u * (q & 1u) + 1u];
    p0 = bytePair(a, b, j);
    p1 = bytePair(a, b, j + 1u);
#else
    p0 = pairOf(wr[wi][q], j);
    p1 = pairOf(wr[wi][q], j + 1u);
#endif
}

#ifdef GEMM
// Word q (0…3) of the lane's 32 INT4 values of tile r, row half hr (g or g + 8), block set par.
uint q4Word(uint par, uint r, uint hr, uint q) {
    if (WHQ != 0u) return wh[((q >> 1) * R + r) * 2u + hr][q & 1u];
    return wr[(par * R + r) * 2u + hr][q];
}

// Block bb of the prefill form: its weights in register set par (WH: in wh / wf, the second half
// loaded at the block's start, the next block's first half after MMA step 3), its x rows in buffer
// par; loads block bb + 1 into the other set and buffer (XE = 8: stores block bb + 1's x, loaded
// during block bb − 1, and loads block bb + 2's). A function called with a literal par (main's loop
// below), not a loop over par: the H100's compiler did not unroll a two-iteration loop around this
// body, so the register sets were indexed at run time and placed in local memory (the driver's
// "Local Memory Size" statistic equalled the size of wr and sr for every configuration, s12).
void gemmBlock(const uint par, const uint bb, const uint nb, const uint lane, const uint n0, const uint m0) {
    const uint g = lane >> 2, t = lane & 3u;
    const bool more = bb + 1u < nb;
#if !defined(WEIGHT_Q8)
    if (WHQ != 0u && (ABL & 1u) == 0u) fetchHalf(1u, par, lane, n0, 128u * bb);   // steps 4…7's words
#endif
    if (XE == 8u) {
        // Block bb + 1's x rows (in xr since block bb − 1) into the other buffer, free since the
        // last barrier; then block bb + 2's x loads and block bb + 1's weights.
        if (more && (ABL & 4u) == 0u) gemmStoreX(1u - par);
        if (bb + 2u < nb && (ABL & 1u) == 0u) gemmLoadX(m0, bb + 2u);
        if (more && (ABL & 1u) == 0u && WHQ == 0u) fetch(1u - par, lane, n0, m0, 128u * (bb + 1u));
    } else if (more && (ABL & 1u) == 0u) {
        if (WHQ == 0u) fetch(1u - par, lane, n0, m0, 128u * (bb + 1u));
        gemmLoadX(m0, bb + 1u);
    }
#ifndef WEIGHT_F16
    f16vec2 sc[R * 2u];
    [[unroll]] for (uint i = 0; i < R * 2u; ++i) sc[i] = f16vec2(float16_t(sr[par * R * 2u + i]));
#endif
    if ((ABL & 2u) == 0u)
    [[unroll]] for (uint s = 0; s < 8u; ++s) {
        const uint q = s >> 1, j = 2u * (s & 1u);
        MatB bm[NB];
        [[unroll]] for (uint b = 0; b < NB; ++b) {
            if (BL != 0u) {
                coopMatLoad(bm[b], Xd, (par * TN + 8u * b) * XRG + 2u * s, XRG, gl_CooperativeMatrixLayoutColumnMajor);
            } else {
                const uvec4 xv = Xd[(par * TN + g + 8u * b) * XRG + q * 4u + t];
                const f16vec2 e01 = unpackFloat2x16(xv[j]), e23 = unpackFloat2x16(xv[j + 1u]);
                bm[b][0] = e01.x; bm[b][1] = e01.y; bm[b][2] = e23.x; bm[b][3] = e23.y;
            }
        }
        [[unroll]] for (uint r = 0; r < R; ++r) {
            f16vec2 a0, a1, b0v, b1v;
#ifdef WEIGHT_F16
            if (WHQ != 0u) {
                f16Pairs(wf[((((q >> 1) * R + r) * 2u) * 2u) + (q & 1u)], j, a0, a1);
                f16Pairs(wf[((((q >> 1) * R + r) * 2u + 1u) * 2u) + (q & 1u)], j, b0v, b1v);
            } else {
                aPairs(((par * R + r) * 2u) * WL, q, j, a0, a1);
                aPairs(((par * R + r) * 2u + 1u) * WL, q, j, b0v, b1v);
            }
#else
            const uint w0 = q4Word(par, r, 0u, q), w1 = q4Word(par, r, 1u, q);
            a0 = pairOf(w0, j); a1 = pairOf(w0, j + 1u);
            b0v = pairOf(w1, j); b1v = pairOf(w1, j + 1u);
            a0 *= sc[2u * r]; a1 *= sc[2u * r]; b0v *= sc[2u * r + 1u]; b1v *= sc[2u * r + 1u];
#endif
            MatA am;
            am[0] = a0.x; am[1] = a0.y; am[2] = a1.x; am[3] = a1.y;
            am[4] = b0v.x; am[5] = b0v.y; am[6] = b1v.x; am[7] = b1v.y;
            [[unroll]] for (uint b = 0; b < NB; ++b) acc[r * NB + b] = coopMatMulAdd(am, bm[b], acc[r * NB + b]);
        }
        if (XE != 0u && XE < 8u && s + 1u == XE && more && (ABL & 4u) == 0u) gemmStoreX(1u - par);
#if !defined(WEIGHT_Q8)
        // WH: words 0, 1 are done with; the next block's (and its scales) go into their place.
        if (WHQ != 0u && s == 3u && more && (ABL & 1u) == 0u) fetchHalf(0u, 1u - par, lane, n0, 128u * (bb + 1u));
#endif
    }
#if !defined(WEIGHT_Q8)
    if (WHQ != 0u && (ABL & 2u) != 0u && more && (ABL & 1u) == 0u) fetchHalf(0u, 1u - par, lane, n0, 128u * (bb + 1u));
#endif
    if ((ABL & 4u) == 0u) {
        if (more && XE < 8u && (XE == 0u || (ABL & 2u) != 0u)) gemmStoreX(1u - par);
        barrier();   // buffer 1 − par is complete; every subgroup is done with buffer par
    }
}
#endif

void main() {
    const uint lane = gl_SubgroupInvocationID;
    const uint sg = gl_SubgroupID;
    const uint rg = sg / KS, part = sg % KS;
    // XT = 1: workgroup x = row group block · MT + x row tile (MT = ⌈M / TN⌉). XT = 0 (M ≤ TN)
    // folds m0 to 0 at pipeline creation: no tile arithmetic and no register for it in the loop
    // (the H100's compiler then allocates registers as it did before the tiles existed; with
    // them, several configurations were capped at 64 / 96 / 128 registers and spilled into shared
    // memory, 4–10% slower — docs/results/h100-ab-frag-spills-s11-2026-11-26.json).
    const uint mt = XT != 0u ? (pc.M + TN - 1u) / TN : 1u;
    const uint n0 = (XT != 0u ? gl_WorkGroupID.x / mt : gl_WorkGroupID.x) * BN + rg * R * 16u;
    const uint m0 = XT != 0u ? (gl_WorkGroupID.x % mt) * TN : 0u;
    const uint g = lane >> 2, t = lane & 3u;
    const uint nb = (pc.K + 127u) / 128u;
#if defined(DQ) && defined(QFUSE)
    {
        const bool first = (XT != 0u ? gl_WorkGroupID.x / mt : gl_WorkGroupID.x) == 0u;
#ifdef XSMEM
        xqWriter = first;
#else
        xqWriter = first && rg == 0u;
#endif
        quantPrologue(m0, first);
    }
#endif
#if defined(DQ) && defined(QSYNC)
    // The first blocks' weights in flight, then the rows (quantized here or by other workgroups).
    if ((ABL & 8u) == 0u) {
        [[unroll]] for (uint u = 0; u < PD; ++u) {
            const uint b = part * PD + u;
            if (b < nb) fetch(u, lane, n0, m0, 128u * b);
        }
    }
    quantizeAndWait();
#endif

    // acc[r * NB + b]: tile r (16 weight rows) × x rows 8b … 8b + 7 (GEMM: declared above).
#ifndef GEMM
    MatC acc[R * NB];
#endif
    [[unroll]] for (uint i = 0; i < R * NB; ++i) acc[i] = MatC(0.0);
#ifdef WEIGHT_Q8
    ivec4 iacc[R * NB];
    [[unroll]] for (uint i = 0; i < R * NB; ++i) iacc[i] = ivec4(0);
#endif

#ifdef GEMM
#if !defined(WEIGHT_Q8)
    if (WHQ != 0u) fetchHalf(0u, 0u, lane, n0, 0u); else
#endif
    fetch(0u, lane, n0, m0, 0u);
    gemmLoadX(m0, 0u);
    gemmStoreX(0u);
    if (XE == 8u && nb > 1u) gemmLoadX(m0, 1u);   // stored at the start of block 0
    barrier();
    for (uint bp = 0; bp < nb; bp += 2u) {
        gemmBlock(0u, bp, nb, lane, n0, m0);
        if (bp + 1u < nb) gemmBlock(1u, bp + 1u, nb, lane, n0, m0);
    }
#else
#ifdef XSMEM
    const uint steps = (nb + KS * PD - 1u) / (KS * PD);
    for (uint jstep = 0; jstep < steps; ++jstep) {
        const uint b0 = jstep * KS * PD + part * PD;
#ifdef QFUSE
        // The step's weights first: in flight while the x rows are loaded and quantized.
        [[unroll]] for (uint u = 0; u < PD; ++u) {
            const uint b = b0 + u;
            if (b < nb) fetch(u, lane, n0, m0, 128u * b);
        }
#endif
        stageX(jstep, m0, nb);
        barrier();
#else
    for (uint b0 = part * PD; b0 < nb; b0 += KS * PD) {
#endif
#if defined(QSYNC)
        [[unroll]] for (uint u = 0; u < PD; ++u) {
            const uint b = b0 + u;
            if (b < nb) {
                if (b0 != part * PD || (ABL & 8u) != 0u) fetch(u, lane, n0, m0, 128u * b);   // (the first blocks' before the wait)
                fetchX(u, lane, m0, 128u * b);
            }
        }
#elif !(defined(XSMEM) && defined(QFUSE))
        [[unroll]] for (uint u = 0; u < PD; ++u) {
            const uint b = b0 + u;
            if (b < nb) fetch(u, lane, n0, m0, 128u * b);
        }
#endif
        [[unroll]] for (uint u = 0; u < PD; ++u) {
            if (b0 + u >= nb) break;
#ifdef WEIGHT_F16
#define tmp acc
#else
            MatC tmp[R * NB];
            [[unroll]] for (uint i = 0; i < R * NB; ++i) tmp[i] = MatC(0.0);
#endif
            [[unroll]] for (uint s = 0; s < 8u; ++s) {
                const uint q = s >> 1, j = 2u * (s & 1u);
                // B: x at the lane's K offsets 8q + j, 8q + j + 4, 8q + j + 1, 8q + j + 5.
                MatB bm[NB];
                [[unroll]] for (uint b = 0; b < NB; ++b) {
#ifdef XSMEM
                    const uvec4 xv = Xs[(g + 8u * b) * XROW + (part * PD + u) * 16u + q * 4u + t];
#else
                    const uvec4 xv = xr[(u * NB + b) * 4u + q];
#endif
                    const f16vec2 lo = unpackFloat2x16(xv[j >> 1]);        // (8q + j, 8q + j + 1)
                    const f16vec2 hi = unpackFloat2x16(xv[(j >> 1) + 2u]); // (8q + j + 4, 8q + j + 5)
                    bm[b][0] = lo.x; bm[b][1] = hi.x; bm[b][2] = lo.y; bm[b][3] = hi.y;
                }
                [[unroll]] for (uint r = 0; r < R; ++r) {
                    f16vec2 a0, a1, b0v, b1v;
                    aPairs(((u * R + r) * 2u) * WL, q, j, a0, a1);
                    aPairs(((u * R + r) * 2u + 1u) * WL, q, j, b0v, b1v);
                    MatA am;
                    am[0] = a0.x; am[1] = a0.y; am[2] = a1.x; am[3] = a1.y;
                    am[4] = b0v.x; am[5] = b0v.y; am[6] = b1v.x; am[7] = b1v.y;
                    [[unroll]] for (uint b = 0; b < NB; ++b) tmp[r * NB + b] = coopMatMulAdd(am, bm[b], tmp[r * NB + b]);
                }
            }
#if defined(WEIGHT_F16)
#undef tmp
#elif defined(WEIGHT_Q8)
            // An exact integer per block (|Σ| ≤ 128·128·255 < 2^24): summed exactly in int32.
            [[unroll]] for (uint i = 0; i < R * NB; ++i) {
                [[unroll]] for (uint e = 0; e < 4u; ++e) iacc[i][e] += int(tmp[i][e]);
            }
#else
            [[unroll]] for (uint r = 0; r < R; ++r) {
                const float s0 = sr[(u * R + r) * 2u], s1 = sr[(u * R + r) * 2u + 1u];
                [[unroll]] for (uint b = 0; b < NB; ++b) {
                    const uint i = r * NB + b;
                    acc[i][0] += tmp[i][0] * s0; acc[i][1] += tmp[i][1] * s0;
                    acc[i][2] += tmp[i][2] * s1; acc[i][3] += tmp[i][3] * s1;
                }
            }
#endif
        }
#ifdef XSMEM
        barrier();   // every subgroup is done with Xs before the next step overwrites it
#endif
    }
#endif // GEMM

    if (KS > 1u) {
        if (!RCOMPACT || part != 0u)   // (part 0 has no slot in the compact array)
        [[unroll]] for (uint a = 0; a < R * NB; ++a) {
            [[unroll]] for (uint i = 0; i < 4u; ++i) {
#ifdef WEIGHT_Q8
                Red[((RSLOT(rg, part) * R * NB + a) * 4u + i) * 32u + lane] = uint(iacc[a][i]);
#else
                Red[((RSLOT(rg, part) * R * NB + a) * 4u + i) * 32u + lane] = floatBitsToUint(acc[a][i]);
#endif
            }
        }
        barrier();
        if (part != 0u) return;
        [[unroll]] for (uint a = 0; a < R * NB; ++a) {
            [[unroll]] for (uint i = 0; i < 4u; ++i) {
#ifdef WEIGHT_Q8
                int v = iacc[a][i];
                for (uint p = 1; p < KS; ++p) v += int(Red[((RSLOT(rg, p) * R * NB + a) * 4u + i) * 32u + lane]);
                iacc[a][i] = v;
#else
                float v = acc[a][i];
                for (uint p = 1; p < KS; ++p) v += uintBitsToFloat(Red[((RSLOT(rg, p) * R * NB + a) * 4u + i) * 32u + lane]);
                acc[a][i] = v;
#endif
            }
        }
    }
    [[unroll]] for (uint r = 0; r < R; ++r) {
        [[unroll]] for (uint b = 0; b < NB; ++b) {
            [[unroll]] for (uint i = 0; i < 4u; ++i) {
                // C element i: weight row g + 8(i >> 1) of the tile, x row 8b + 2t + (i & 1).
                const uint n = n0 + 16u * r + g + 8u * (i >> 1);
                const uint m = m0 + 8u * b + 2u * t + (i & 1u);
                if (n < pc.N && m < pc.M) {
#ifdef WEIGHT_Q8
                    float v = S[n] * float(iacc[r * NB + b][i]);   // the row's scale
#else
                    float v = acc[r * NB + b][i];
#endif
#if defined(DQ) && defined(QFUSE)
                    v *= qsc[m - m0];
#elif defined(DQ)
                    v *= uintBitsToFloat(XP[2u * m]);
#endif
                    if (pc.hasBias != 0u) v += float(BIAS[n]);
                    Y[m * pc.N + n] = ACT_T(v);
                }
            }
        }
    }
}
