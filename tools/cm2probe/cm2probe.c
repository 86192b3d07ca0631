/* cm2probe: does VK_NV_cooperative_matrix2 (workgroup-scope cooperative matrices) beat
 * subgroup-scope VK_KHR_cooperative_matrix on fp16 x fp16 -> fp32 matrix multiply?
 *
 * Loads Vulkan with dlopen("libvulkan.so.1") (no link-time Vulkan dependency), picks the first
 * discrete GPU, prints the device's cooperative-matrix property lists, then times:
 *   (a) khr_peak_MAxNB : subgroup-scope 16x16x16 coopMatMulAdd loop, operands in registers
 *   (b) cm2_peak_TMxTNxTK_wgW : workgroup-scope coopMatMulAdd loop, operands loaded once
 *   (c) cm2_gemm_TMxTNxTK_wgW_S : C = A*B^T GEMM (fp16 in, fp32 acc, fp16 out), S = M = N = K
 * Every case: >= 0.5 s of sustained dispatches to clock the GPU up, then timed dispatches
 * (timestamp queries, >= 100 ms in total). JSON on stdout, progress on stderr.
 *
 * SPIR-V is read from shaders/ next to the executable (found via /proc/self/exe).
 * Exit status: 0 all ran; 2 no usable device or KHR cooperative matrix missing;
 * 3 NV_cooperative_matrix2 (or a feature it needs) missing: the KHR part still ran;
 * 4 some case failed (see "error" fields); 5 GEMM verification failed.
 */
#define VK_NO_PROTOTYPES
#include <vulkan/vulkan.h>
#include <dlfcn.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- definitions newer than Debian 12's Vulkan headers (1.3.239) ---- */
#define ST_PD_COOPMAT_FEATURES_KHR ((VkStructureType)1000506000)
#define ST_COOPMAT_PROPERTIES_KHR ((VkStructureType)1000506001)
#define ST_PD_COOPMAT2_FEATURES_NV ((VkStructureType)1000593000)
#define ST_COOPMAT_FLEX_PROPERTIES_NV ((VkStructureType)1000593001)
#define ST_PD_COOPMAT2_PROPERTIES_NV ((VkStructureType)1000593002)

typedef struct {
    VkStructureType sType; void *pNext;
    VkBool32 cooperativeMatrix;
    VkBool32 cooperativeMatrixRobustBufferAccess;
} CoopMatFeaturesKHR;
typedef struct {
    VkStructureType sType; void *pNext;
    uint32_t MSize, NSize, KSize;
    int32_t AType, BType, CType, ResultType; /* VkComponentTypeKHR */
    VkBool32 saturatingAccumulation;
    int32_t scope;                            /* VkScopeKHR */
} CoopMatPropertiesKHR;
typedef struct {
    VkStructureType sType; void *pNext;
    VkBool32 cooperativeMatrixWorkgroupScope;
    VkBool32 cooperativeMatrixFlexibleDimensions;
    VkBool32 cooperativeMatrixReductions;
    VkBool32 cooperativeMatrixConversions;
    VkBool32 cooperativeMatrixPerElementOperations;
    VkBool32 cooperativeMatrixTensorAddressing;
    VkBool32 cooperativeMatrixBlockLoads;
} CoopMat2FeaturesNV;
typedef struct {
    VkStructureType sType; void *pNext;
    uint32_t cooperativeMatrixWorkgroupScopeMaxWorkgroupSize;
    uint32_t cooperativeMatrixFlexibleDimensionsMaxDimension;
    uint32_t cooperativeMatrixWorkgroupScopeReservedSharedMemory;
} CoopMat2PropertiesNV;
typedef struct {
    VkStructureType sType; void *pNext;
    uint32_t MGranularity, NGranularity, KGranularity;
    int32_t AType, BType, CType, ResultType;
    VkBool32 saturatingAccumulation;
    int32_t scope;
    uint32_t workgroupInvocations;
} CoopMatFlexPropertiesNV;
typedef VkResult (VKAPI_PTR *PFN_GetCoopMatPropsKHR)(VkPhysicalDevice, uint32_t *, CoopMatPropertiesKHR *);
typedef VkResult (VKAPI_PTR *PFN_GetCoopMatFlexPropsNV)(VkPhysicalDevice, uint32_t *, CoopMatFlexPropertiesNV *);

enum { CT_F16 = 0, CT_F32 = 1 };
enum { SCOPE_WORKGROUP = 2, SCOPE_SUBGROUP = 3 };

/* ---- Vulkan entry points ---- */
static PFN_vkGetInstanceProcAddr vkGetInstanceProcAddr_;
#define VKFN(X) static PFN_##X X##_;
#define INSTANCE_FNS(F) \
    F(vkEnumeratePhysicalDevices) F(vkGetPhysicalDeviceProperties) F(vkGetPhysicalDeviceProperties2) \
    F(vkGetPhysicalDeviceFeatures2) F(vkGetPhysicalDeviceQueueFamilyProperties) \
    F(vkGetPhysicalDeviceMemoryProperties) F(vkEnumerateDeviceExtensionProperties) F(vkCreateDevice) \
    F(vkGetDeviceProcAddr) F(vkDestroyInstance)
#define DEVICE_FNS(F) \
    F(vkGetDeviceQueue) F(vkCreateBuffer) F(vkGetBufferMemoryRequirements) F(vkAllocateMemory) \
    F(vkBindBufferMemory) F(vkMapMemory) F(vkUnmapMemory) F(vkCreateShaderModule) F(vkDestroyShaderModule) \
    F(vkCreateDescriptorSetLayout) F(vkCreatePipelineLayout) F(vkCreateComputePipelines) F(vkDestroyPipeline) \
    F(vkCreateDescriptorPool) F(vkAllocateDescriptorSets) F(vkUpdateDescriptorSets) F(vkCreateCommandPool) \
    F(vkAllocateCommandBuffers) F(vkBeginCommandBuffer) F(vkEndCommandBuffer) F(vkResetCommandBuffer) \
    F(vkCmdBindPipeline) F(vkCmdBindDescriptorSets) F(vkCmdPushConstants) F(vkCmdDispatch) \
    F(vkCmdPipelineBarrier) F(vkCmdWriteTimestamp) F(vkCmdResetQueryPool) F(vkCmdCopyBuffer) F(vkCmdFillBuffer) \
    F(vkCreateQueryPool) F(vkDestroyQueryPool) F(vkGetQueryPoolResults) F(vkQueueSubmit) F(vkQueueWaitIdle) \
    F(vkCreateFence) F(vkWaitForFences) F(vkResetFences) F(vkDeviceWaitIdle) F(vkDestroyDevice) \
    F(vkDestroyBuffer) F(vkFreeMemory)
INSTANCE_FNS(VKFN)
DEVICE_FNS(VKFN)
static PFN_vkCreateInstance vkCreateInstance_;
static PFN_vkEnumerateInstanceVersion vkEnumerateInstanceVersion_;
static PFN_GetCoopMatPropsKHR getCoopMatPropsKHR;
static PFN_GetCoopMatFlexPropsNV getCoopMatFlexPropsNV;

/* ---- output helpers: JSON goes to a growable buffer, printed at exit ---- */
static char *js; static size_t js_n, js_cap;
static void jp(const char *fmt, ...) {
    va_list ap; va_start(ap, fmt);
    va_list ap2; va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (js_n + (size_t)n + 1 > js_cap) {
        js_cap = (js_n + (size_t)n + 1) * 2;
        js = realloc(js, js_cap);
        if (!js) { fprintf(stderr, "out of memory\n"); exit(1); }
    }
    vsnprintf(js + js_n, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    js_n += (size_t)n;
}
static void jstr(const char *s) { /* JSON string literal */
    jp("\"");
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') jp("\\%c", *s);
        else if ((unsigned char)*s < 0x20) jp("\\u%04x", *s);
        else jp("%c", *s);
    }
    jp("\"");
}
static size_t js_flushed;
static void flush_json(void) { if (js_n > js_flushed) { fwrite(js + js_flushed, 1, js_n - js_flushed, stdout); fflush(stdout); js_flushed = js_n; } }
static int first_result = 1;
static int results_open = 0;
static void open_results(void) { if (!results_open) { jp(",\n \"results\": ["); results_open = 1; } }
static void result_begin(void) { open_results(); flush_json(); jp(first_result ? "\n  " : ",\n  "); first_result = 0; }

static int exit_code = 0;
static void finish(int code) {
    open_results();
    jp("\n ],\n \"exit_code\": %d\n}\n", code);
    flush_json();
    exit(code);
}
static void fatal(int code, const char *fmt, ...) {
    char msg[1024];
    va_list ap; va_start(ap, fmt); vsnprintf(msg, sizeof msg, fmt, ap); va_end(ap);
    fprintf(stderr, "cm2probe: %s\n", msg);
    result_begin(); jp("{\"name\": \"fatal\", \"error\": "); jstr(msg); jp("}");
    finish(code);
}

static const char *vkres(VkResult r) {
    switch (r) {
    case VK_SUCCESS: return "VK_SUCCESS";
    case VK_NOT_READY: return "VK_NOT_READY";
    case VK_TIMEOUT: return "VK_TIMEOUT";
    case VK_INCOMPLETE: return "VK_INCOMPLETE";
    case VK_ERROR_OUT_OF_HOST_MEMORY: return "VK_ERROR_OUT_OF_HOST_MEMORY";
    case VK_ERROR_OUT_OF_DEVICE_MEMORY: return "VK_ERROR_OUT_OF_DEVICE_MEMORY";
    case VK_ERROR_INITIALIZATION_FAILED: return "VK_ERROR_INITIALIZATION_FAILED";
    case VK_ERROR_DEVICE_LOST: return "VK_ERROR_DEVICE_LOST";
    case VK_ERROR_EXTENSION_NOT_PRESENT: return "VK_ERROR_EXTENSION_NOT_PRESENT";
    case VK_ERROR_FEATURE_NOT_PRESENT: return "VK_ERROR_FEATURE_NOT_PRESENT";
    case VK_ERROR_INCOMPATIBLE_DRIVER: return "VK_ERROR_INCOMPATIBLE_DRIVER";
    case VK_ERROR_UNKNOWN: return "VK_ERROR_UNKNOWN";
    case VK_ERROR_INVALID_SHADER_NV: return "VK_ERROR_INVALID_SHADER_NV";
    default: return "VkResult(other)";
    }
}
/* fatal check (setup) */
#define VK(call) do { VkResult r_ = (call); if (r_ != VK_SUCCESS) \
    fatal(1, "%s failed: %s (%d) at line %d", #call, vkres(r_), (int)r_, __LINE__); } while (0)
/* soft check inside a case: records the error and jumps to the case's cleanup label */
static char case_err[512];
#define VKC(call, label) do { VkResult r_ = (call); if (r_ != VK_SUCCESS) { \
    snprintf(case_err, sizeof case_err, "%s failed: %s (%d)", #call, vkres(r_), (int)r_); \
    if (r_ == VK_ERROR_DEVICE_LOST) { fatal(1, "%s", case_err); } goto label; } } while (0)

static double now_s(void) {
    struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* ---- fp16 ---- */
static uint16_t f2h(float f) {
    uint32_t x; memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u;
    int32_t e = (int32_t)((x >> 23) & 0xff) - 127 + 15;
    uint32_t m = x & 0x7fffffu;
    if (e <= 0) { /* subnormal/zero (inputs here are never tiny: flush) */
        if (e < -10) return (uint16_t)sign;
        m |= 0x800000u;
        uint32_t sh = (uint32_t)(14 - e);
        uint32_t h = m >> sh;
        if ((m >> (sh - 1)) & 1u) h++;
        return (uint16_t)(sign | h);
    }
    if (e >= 31) return (uint16_t)(sign | 0x7c00u);
    uint32_t h = sign | ((uint32_t)e << 10) | (m >> 13);
    if ((m & 0x1fffu) > 0x1000u || ((m & 0x1fffu) == 0x1000u && (h & 1u))) h++; /* RNE */
    return (uint16_t)h;
}
static double h2d(uint16_t h) {
    int e = (h >> 10) & 0x1f; int m = h & 0x3ff; double s = (h & 0x8000) ? -1.0 : 1.0;
    if (e == 0) return s * ldexp((double)m, -24);
    if (e == 31) return m ? NAN : s * INFINITY;
    return s * ldexp((double)(m | 0x400), e - 25);
}
static uint64_t rng = 0x9E3779B97F4A7C15ull;
static float frand(void) { /* uniform in [-1, 1) */
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (float)((double)(rng >> 11) * (1.0 / 9007199254740992.0) * 2.0 - 1.0);
}

/* ---- globals for the device ---- */
static VkInstance inst;
static VkPhysicalDevice pd;
static VkDevice dev;
static VkQueue queue;
static uint32_t qfam;
static VkPhysicalDeviceMemoryProperties memprops;
static VkPhysicalDeviceProperties props;
static double ts_period_ns;
static uint64_t ts_mask;
static VkDescriptorSetLayout dsl;
static VkPipelineLayout playout;
static VkDescriptorPool dpool;
static VkCommandPool cpool;
static VkCommandBuffer cmd;
static VkFence fence;
static int full_subgroups_ok;
static char exe_dir[PATH_MAX];

typedef struct { VkBuffer buf; VkDeviceMemory mem; VkDeviceSize size; void *map; } Buffer;

static int find_mem(uint32_t bits, VkMemoryPropertyFlags want) {
    for (uint32_t i = 0; i < memprops.memoryTypeCount; i++)
        if ((bits & (1u << i)) && (memprops.memoryTypes[i].propertyFlags & want) == want) return (int)i;
    return -1;
}
static VkResult make_buffer(Buffer *b, VkDeviceSize size, int host) {
    memset(b, 0, sizeof *b);
    b->size = size;
    VkBufferCreateInfo bi = { VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO };
    bi.size = size;
    bi.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
    bi.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
    VkResult r = vkCreateBuffer_(dev, &bi, NULL, &b->buf);
    if (r) return r;
    VkMemoryRequirements mr; vkGetBufferMemoryRequirements_(dev, b->buf, &mr);
    int t = host ? find_mem(mr.memoryTypeBits, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT)
                 : find_mem(mr.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
    if (t < 0) return VK_ERROR_OUT_OF_DEVICE_MEMORY;
    VkMemoryAllocateInfo ai = { VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO };
    ai.allocationSize = mr.size; ai.memoryTypeIndex = (uint32_t)t;
    r = vkAllocateMemory_(dev, &ai, NULL, &b->mem);
    if (r) return r;
    r = vkBindBufferMemory_(dev, b->buf, b->mem, 0);
    if (r) return r;
    if (host) r = vkMapMemory_(dev, b->mem, 0, VK_WHOLE_SIZE, 0, &b->map);
    return r;
}
static void free_buffer(Buffer *b) {
    if (b->map) vkUnmapMemory_(dev, b->mem);
    if (b->buf) vkDestroyBuffer_(dev, b->buf, NULL);
    if (b->mem) vkFreeMemory_(dev, b->mem, NULL);
    memset(b, 0, sizeof *b);
}

static VkResult begin_cmd(void) {
    VkResult r = vkResetCommandBuffer_(cmd, 0);
    if (r) return r;
    VkCommandBufferBeginInfo bi = { VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO };
    bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    return vkBeginCommandBuffer_(cmd, &bi);
}
static VkResult submit_wait(void) {
    VkResult r = vkEndCommandBuffer_(cmd);
    if (r) return r;
    r = vkResetFences_(dev, 1, &fence);
    if (r) return r;
    VkSubmitInfo si = { VK_STRUCTURE_TYPE_SUBMIT_INFO };
    si.commandBufferCount = 1; si.pCommandBuffers = &cmd;
    r = vkQueueSubmit_(queue, 1, &si, fence);
    if (r) return r;
    return vkWaitForFences_(dev, 1, &fence, VK_TRUE, 120ull * 1000000000ull);
}
static void barrier_compute(void) {
    VkMemoryBarrier mb = { VK_STRUCTURE_TYPE_MEMORY_BARRIER };
    mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
    mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT;
    vkCmdPipelineBarrier_(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                          VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1, &mb, 0, NULL, 0, NULL);
}

/* ---- SPIR-V ---- */
static uint32_t *load_spv(const char *name, size_t *words, char *err, size_t errn) {
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/shaders/%s", exe_dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) { snprintf(err, errn, "cannot open %s", path); return NULL; }
    fseek(f, 0, SEEK_END); long n = ftell(f); fseek(f, 0, SEEK_SET);
    if (n <= 0 || n % 4) { fclose(f); snprintf(err, errn, "bad SPIR-V size in %s", path); return NULL; }
    uint32_t *p = malloc((size_t)n);
    if (!p || fread(p, 1, (size_t)n, f) != (size_t)n) { fclose(f); free(p); snprintf(err, errn, "read %s failed", path); return NULL; }
    fclose(f);
    if (p[0] != 0x07230203u) { free(p); snprintf(err, errn, "%s is not SPIR-V", path); return NULL; }
    *words = (size_t)n / 4;
    return p;
}

/* Creates a compute pipeline; spec constants 0..nspec-1 (uint32). Returns VK_SUCCESS or error; err filled. */
static VkResult make_pipeline(const char *spv, const uint32_t *spec, uint32_t nspec, int want_full_subgroups, VkPipeline *out) {
    size_t words; char e[600];
    uint32_t *code = load_spv(spv, &words, e, sizeof e);
    if (!code) { snprintf(case_err, sizeof case_err, "%s", e); return VK_ERROR_INITIALIZATION_FAILED; }
    VkShaderModuleCreateInfo si = { VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO };
    si.codeSize = words * 4; si.pCode = code;
    VkShaderModule mod;
    VkResult r = vkCreateShaderModule_(dev, &si, NULL, &mod);
    free(code);
    if (r) { snprintf(case_err, sizeof case_err, "vkCreateShaderModule(%s): %s (%d)", spv, vkres(r), (int)r); return r; }
    VkSpecializationMapEntry ent[8];
    for (uint32_t i = 0; i < nspec; i++) { ent[i].constantID = i; ent[i].offset = 4 * i; ent[i].size = 4; }
    VkSpecializationInfo spi = { nspec, ent, 4 * nspec, spec };
    VkComputePipelineCreateInfo ci = { VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO };
    ci.stage.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO;
    ci.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
    ci.stage.module = mod;
    ci.stage.pName = "main";
    ci.stage.pSpecializationInfo = &spi;
    if (want_full_subgroups && full_subgroups_ok) ci.stage.flags = VK_PIPELINE_SHADER_STAGE_CREATE_REQUIRE_FULL_SUBGROUPS_BIT;
    ci.layout = playout;
    double t0 = now_s();
    r = vkCreateComputePipelines_(dev, VK_NULL_HANDLE, 1, &ci, NULL, out);
    vkDestroyShaderModule_(dev, mod, NULL);
    if (r) { snprintf(case_err, sizeof case_err, "vkCreateComputePipelines(%s): %s (%d)", spv, vkres(r), (int)r); return r; }
    fprintf(stderr, "  pipeline %s compiled in %.2f s\n", spv, now_s() - t0);
    return VK_SUCCESS;
}

static VkDescriptorSet make_set(Buffer *b0, Buffer *b1, Buffer *b2) {
    VkDescriptorSetAllocateInfo ai = { VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO };
    ai.descriptorPool = dpool; ai.descriptorSetCount = 1; ai.pSetLayouts = &dsl;
    VkDescriptorSet s;
    VK(vkAllocateDescriptorSets_(dev, &ai, &s));
    VkDescriptorBufferInfo bi[3] = { { b0->buf, 0, VK_WHOLE_SIZE }, { b1->buf, 0, VK_WHOLE_SIZE }, { b2->buf, 0, VK_WHOLE_SIZE } };
    VkWriteDescriptorSet w[3];
    for (int i = 0; i < 3; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET;
        w[i].dstSet = s; w[i].dstBinding = (uint32_t)i; w[i].descriptorCount = 1;
        w[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER; w[i].pBufferInfo = &bi[i];
    }
    vkUpdateDescriptorSets_(dev, 3, w, 0, NULL);
    return s;
}

/* ---- timing ---- */
typedef struct { uint32_t pc[4]; uint32_t gx, gy; } Dispatch;
static void record_dispatch(VkPipeline p, VkDescriptorSet s, const Dispatch *d) {
    vkCmdBindPipeline_(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, p);
    vkCmdBindDescriptorSets_(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, playout, 0, 1, &s, 0, NULL);
    vkCmdPushConstants_(cmd, playout, VK_SHADER_STAGE_COMPUTE_BIT, 0, 16, d->pc);
    vkCmdDispatch_(cmd, d->gx, d->gy, 1);
}
static int cmp_d(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return x < y ? -1 : x > y; }

#define MAX_REPS 2000
static VkQueryPool qpool;

/* Runs `reps` dispatches in one command buffer, each bracketed by timestamps with a barrier
 * in between, and returns per-dispatch durations in microseconds. */
static VkResult time_dispatches(VkPipeline p, VkDescriptorSet s, const Dispatch *d, int reps, double *us) {
    VkResult r = begin_cmd();
    if (r) return r;
    vkCmdResetQueryPool_(cmd, qpool, 0, 2 * (uint32_t)reps);
    for (int i = 0; i < reps; i++) {
        barrier_compute();
        vkCmdWriteTimestamp_(cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, qpool, 2 * (uint32_t)i);
        record_dispatch(p, s, d);
        vkCmdWriteTimestamp_(cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, qpool, 2 * (uint32_t)i + 1);
    }
    r = submit_wait();
    if (r) return r;
    static uint64_t q[2 * MAX_REPS];
    r = vkGetQueryPoolResults_(dev, qpool, 0, 2 * (uint32_t)reps, sizeof(uint64_t) * 2 * (size_t)reps, q, sizeof(uint64_t),
                               VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT);
    if (r) return r;
    for (int i = 0; i < reps; i++)
        us[i] = (double)((q[2 * i + 1] - q[2 * i]) & ts_mask) * ts_period_ns * 1e-3;
    return VK_SUCCESS;
}
/* Sustained dispatches (no timestamps) for at least `seconds`. */
static VkResult sustain(VkPipeline p, VkDescriptorSet s, const Dispatch *d, double disp_us, double seconds) {
    int per = (int)(50000.0 / (disp_us > 1 ? disp_us : 1)); /* ~50 ms per submit */
    if (per < 1) per = 1;
    if (per > 4000) per = 4000;
    double t0 = now_s();
    while (now_s() - t0 < seconds) {
        VkResult r = begin_cmd();
        if (r) return r;
        for (int i = 0; i < per; i++) { record_dispatch(p, s, d); barrier_compute(); }
        r = submit_wait();
        if (r) return r;
    }
    return VK_SUCCESS;
}

typedef struct { double med, mn, mx; int reps; double warm_s; } Timing;

/* iters_slot >= 0: push constant index holding the loop count, tuned so that one dispatch takes
 * about target_us. flop_per_iter: FLOPs per dispatch per unit of that push constant (or, if
 * iters_slot < 0, per dispatch). */
static VkResult measure(VkPipeline p, VkDescriptorSet s, Dispatch *d, int iters_slot, double target_us, Timing *t) {
    static double us[MAX_REPS];
    VkResult r;
    double one;
    /* first dispatch (also catches crashes early) */
    if ((r = time_dispatches(p, s, d, 1, us))) return r;
    one = us[0];
    if (iters_slot >= 0) { /* coarse calibration at idle clocks */
        for (int k = 0; k < 8 && one < 0.5 * target_us; k++) {
            double f = target_us / (one > 1 ? one : 1);
            if (f > 64) f = 64;
            uint64_t it = (uint64_t)((double)d->pc[iters_slot] * f);
            if (it > 1u << 24) it = 1u << 24;
            d->pc[iters_slot] = (uint32_t)(it ? it : 1);
            if ((r = time_dispatches(p, s, d, 1, us))) return r;
            one = us[0];
        }
    }
    double t0 = now_s();
    if ((r = sustain(p, s, d, one, 0.6))) return r;
    if (iters_slot >= 0) { /* fine calibration at boost clocks */
        if ((r = time_dispatches(p, s, d, 3, us))) return r;
        qsort(us, 3, sizeof(double), cmp_d);
        one = us[1];
        double f = target_us / (one > 1 ? one : 1);
        uint64_t it = (uint64_t)((double)d->pc[iters_slot] * f);
        if (it < 1) it = 1;
        if (it > 1u << 24) it = 1u << 24;
        d->pc[iters_slot] = (uint32_t)it;
        if ((r = sustain(p, s, d, target_us, 0.1))) return r;
        if ((r = time_dispatches(p, s, d, 1, us))) return r;
        one = us[0];
    }
    t->warm_s = now_s() - t0;
    int reps = (int)ceil(150000.0 / (one > 1 ? one : 1));
    if (reps < 10) reps = 10;
    if (reps > MAX_REPS) reps = MAX_REPS;
    if ((r = time_dispatches(p, s, d, reps, us))) return r;
    qsort(us, (size_t)reps, sizeof(double), cmp_d);
    t->reps = reps;
    t->mn = us[0]; t->mx = us[reps - 1];
    t->med = (reps & 1) ? us[reps / 2] : 0.5 * (us[reps / 2 - 1] + us[reps / 2]);
    return VK_SUCCESS;
}

static void emit_timing(const Timing *t, double flop) {
    jp(", \"flop_per_dispatch\": %.6g, \"reps\": %d, \"warmup_s\": %.2f, \"median_us\": %.2f, \"min_us\": %.2f, \"max_us\": %.2f, "
       "\"tflops_median\": %.2f, \"tflops_best\": %.2f",
       flop, t->reps, t->warm_s, t->med, t->mn, t->mx, flop / (t->med * 1e-6) * 1e-12, flop / (t->mn * 1e-6) * 1e-12);
}

/* ---- the cases ---- */
static Buffer small_a, small_b, small_out;
static VkDescriptorSet small_set;

static void run_khr_peak(int ma, int nb, uint32_t wg) {
    char spv[64], name[64];
    snprintf(spv, sizeof spv, "peak_khr_%dx%d.spv", ma, nb);
    snprintf(name, sizeof name, "khr_peak_%dx%d_wg%u", ma, nb, wg);
    fprintf(stderr, "%s\n", name);
    case_err[0] = 0;
    VkPipeline p = VK_NULL_HANDLE;
    Timing t;
    uint32_t groups = 8192;
    Dispatch d = { { 8, 0, 0, 0 }, groups, 1 };
    uint32_t spec[1] = { wg };
    VKC(make_pipeline(spv, spec, 1, 1, &p), fail);
    VKC(measure(p, small_set, &d, 0, 3000.0, &t), fail);
    double flop = 2.0 * 16 * 16 * 16 * ma * nb * (double)(wg / 32) * groups * d.pc[0];
    result_begin();
    jp("{\"name\": \"%s\", \"kind\": \"khr_subgroup_peak\", \"config\": {\"frags_a\": %d, \"frags_b\": %d, \"accumulators\": %d, "
       "\"shape\": \"16x16x16\", \"workgroup_size\": %u, \"subgroup_size_assumed\": 32, \"workgroups\": %u, \"iters\": %u}",
       name, ma, nb, ma * nb, wg, groups, d.pc[0]);
    emit_timing(&t, flop);
    jp("}");
    fprintf(stderr, "  -> %.1f TFLOP/s (median %.1f us)\n", flop / (t.med * 1e-6) * 1e-12, t.med);
    vkDestroyPipeline_(dev, p, NULL);
    return;
fail:
    fprintf(stderr, "  FAILED: %s\n", case_err);
    result_begin(); jp("{\"name\": \"%s\", \"kind\": \"khr_subgroup_peak\", \"error\": ", name); jstr(case_err); jp("}");
    if (p) vkDestroyPipeline_(dev, p, NULL);
    if (!exit_code) exit_code = 4;
}

static void run_cm2_peak(uint32_t tm, uint32_t tn, uint32_t tk, uint32_t wg) {
    char name[96];
    snprintf(name, sizeof name, "cm2_peak_%ux%ux%u_wg%u", tm, tn, tk, wg);
    fprintf(stderr, "%s\n", name);
    case_err[0] = 0;
    VkPipeline p = VK_NULL_HANDLE;
    Timing t;
    uint32_t groups = 4096;
    Dispatch d = { { 8, 0, 0, 0 }, groups, 1 };
    uint32_t spec[4] = { wg, tm, tn, tk };
    VKC(make_pipeline("peak_cm2.spv", spec, 4, 0, &p), fail);
    VKC(measure(p, small_set, &d, 0, 3000.0, &t), fail);
    double flop = 2.0 * tm * tn * tk * (double)groups * d.pc[0];
    result_begin();
    jp("{\"name\": \"%s\", \"kind\": \"cm2_workgroup_peak\", \"config\": {\"TM\": %u, \"TN\": %u, \"TK\": %u, \"workgroup_size\": %u, "
       "\"workgroups\": %u, \"iters\": %u}", name, tm, tn, tk, wg, groups, d.pc[0]);
    emit_timing(&t, flop);
    jp("}");
    fprintf(stderr, "  -> %.1f TFLOP/s (median %.1f us)\n", flop / (t.med * 1e-6) * 1e-12, t.med);
    vkDestroyPipeline_(dev, p, NULL);
    return;
fail:
    fprintf(stderr, "  FAILED: %s\n", case_err);
    result_begin(); jp("{\"name\": \"%s\", \"kind\": \"cm2_workgroup_peak\", \"error\": ", name); jstr(case_err); jp("}");
    if (p) vkDestroyPipeline_(dev, p, NULL);
    if (!exit_code) exit_code = 4;
}

/* GEMM data, shared by all GEMM cases of one size */
static Buffer g_a, g_b, g_c, g_stage;
static uint16_t *h_a, *h_b;
static uint32_t g_size;
static VkDescriptorSet g_set;

static VkResult gemm_setup(uint32_t S) {
    VkResult r;
    if (g_size == S) return VK_SUCCESS;
    if (g_size) { free_buffer(&g_a); free_buffer(&g_b); free_buffer(&g_c); free_buffer(&g_stage); free(h_a); free(h_b); g_size = 0; }
    size_t n = (size_t)S * S;
    h_a = malloc(n * 2); h_b = malloc(n * 2);
    if (!h_a || !h_b) return VK_ERROR_OUT_OF_HOST_MEMORY;
    for (size_t i = 0; i < n; i++) h_a[i] = f2h(frand());
    for (size_t i = 0; i < n; i++) h_b[i] = f2h(frand());
    if ((r = make_buffer(&g_a, n * 2, 0))) return r;
    if ((r = make_buffer(&g_b, n * 2, 0))) return r;
    if ((r = make_buffer(&g_c, n * 2, 0))) return r;
    if ((r = make_buffer(&g_stage, n * 2, 1))) return r;
    for (int which = 0; which < 2; which++) {
        memcpy(g_stage.map, which ? h_b : h_a, n * 2);
        if ((r = begin_cmd())) return r;
        VkBufferCopy c = { 0, 0, n * 2 };
        vkCmdCopyBuffer_(cmd, g_stage.buf, which ? g_b.buf : g_a.buf, 1, &c);
        if ((r = submit_wait())) return r;
    }
    g_set = make_set(&g_a, &g_b, &g_c);
    g_size = S;
    return VK_SUCCESS;
}

static int run_gemm(uint32_t S, uint32_t tm, uint32_t tn, uint32_t tk, uint32_t wg, int bt) {
    char name[96];
    snprintf(name, sizeof name, "cm2_gemm_%s_%ux%ux%u_wg%u_%u", bt ? "nt" : "nn", tm, tn, tk, wg, S);
    fprintf(stderr, "%s\n", name);
    case_err[0] = 0;
    VkPipeline p = VK_NULL_HANDLE;
    Timing t;
    int ok = 0;
    Dispatch d = { { S, S, S, 0 }, S / tn, S / tm };
    uint32_t spec[5] = { wg, tm, tn, tk, (uint32_t)bt };
    if (S % tm || S % tn || S % tk) { snprintf(case_err, sizeof case_err, "size not divisible by tile"); goto fail; }
    VKC(gemm_setup(S), fail);
    VKC(make_pipeline("gemm_cm2.spv", spec, 5, 0, &p), fail);
    /* clear C, one dispatch, read back and verify */
    VKC(begin_cmd(), fail);
    vkCmdFillBuffer_(cmd, g_c.buf, 0, VK_WHOLE_SIZE, 0x7e007e00u); /* fp16 NaN pattern: unwritten shows up */
    barrier_compute();
    record_dispatch(p, g_set, &d);
    barrier_compute();
    VkBufferCopy c = { 0, 0, (VkDeviceSize)S * S * 2 };
    vkCmdCopyBuffer_(cmd, g_c.buf, g_stage.buf, 1, &c);
    VkMemoryBarrier mb = { VK_STRUCTURE_TYPE_MEMORY_BARRIER };
    mb.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT; mb.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
    vkCmdPipelineBarrier_(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb, 0, NULL, 0, NULL);
    VKC(submit_wait(), fail);
    const uint16_t *hc = g_stage.map;
    double max_rel = 0, max_abs = 0; int checked = 0, bad = 0;
    for (int s = 0; s < 512; s++) {
        uint32_t i, j;
        if (s < 4) { i = (s & 1) ? S - 1 : 0; j = (s & 2) ? S - 1 : 0; }
        else { i = (uint32_t)((frand() * 0.5 + 0.5) * S) % S; j = (uint32_t)((frand() * 0.5 + 0.5) * S) % S; }
        double ref = 0, mag = 0;
        for (uint32_t k = 0; k < S; k++) {
            double x = h2d(h_a[(size_t)i * S + k]) * h2d(bt ? h_b[(size_t)j * S + k] : h_b[(size_t)k * S + j]);
            ref += x; mag += fabs(x);
        }
        double got = h2d(hc[(size_t)i * S + j]);
        double err = fabs(got - ref);
        /* relative to max(|ref|, mean |term| * sqrt(K)): avoids blow-up where ref ~ 0 */
        double den = fmax(fabs(ref), mag / sqrt((double)S));
        double rel = err / den;
        if (!(rel <= 1e30)) rel = INFINITY; /* NaN */
        if (rel > max_rel) max_rel = rel;
        if (!(err <= max_abs)) max_abs = err;
        if (!(rel < 2e-2)) bad++;
        checked++;
    }
    int verified = bad == 0;
    fprintf(stderr, "  verify: %d elements, max_rel_err %.3g, max_abs_err %.3g%s\n", checked, max_rel, max_abs, verified ? "" : "  MISMATCH");
    VKC(measure(p, g_set, &d, -1, 0, &t), fail);
    double flop = 2.0 * S * (double)S * S;
    result_begin();
    jp("{\"name\": \"%s\", \"kind\": \"cm2_gemm\", \"config\": {\"M\": %u, \"N\": %u, \"K\": %u, \"TM\": %u, \"TN\": %u, \"TK\": %u, "
       "\"workgroup_size\": %u, \"layout\": \"%s, fp16 in, fp32 acc, fp16 out, all row-major\"}",
       name, S, S, S, tm, tn, tk, wg, bt ? "C[M,N]=A[M,K]*B[N,K]^T" : "C[M,N]=A[M,K]*B[K,N]");
    emit_timing(&t, flop);
    jp(", \"verify\": {\"elements\": %d, \"max_rel_err\": %.3g, \"max_abs_err\": %.3g, \"ok\": %s}}", checked, max_rel, max_abs, verified ? "true" : "false");
    fprintf(stderr, "  -> %.1f TFLOP/s (median %.1f us)\n", flop / (t.med * 1e-6) * 1e-12, t.med);
    if (!verified && exit_code == 0) exit_code = 5;
    ok = 1;
    vkDestroyPipeline_(dev, p, NULL);
    return ok;
fail:
    fprintf(stderr, "  FAILED: %s\n", case_err);
    result_begin(); jp("{\"name\": \"%s\", \"kind\": \"cm2_gemm\", \"error\": ", name); jstr(case_err); jp("}");
    if (p) vkDestroyPipeline_(dev, p, NULL);
    if (!exit_code) exit_code = 4;
    return 0;
}

static const char *ctname(int32_t t) {
    switch (t) {
    case 0: return "f16"; case 1: return "f32"; case 2: return "f64"; case 3: return "s8"; case 4: return "s16";
    case 5: return "s32"; case 6: return "s64"; case 7: return "u8"; case 8: return "u16"; case 9: return "u32";
    case 10: return "u64"; case 1000141000: return "bf16"; case 1000491000: return "s8packed"; case 1000491001: return "u8packed";
    case 1000491002: return "e4m3"; case 1000491003: return "e5m2"; default: return "other";
    }
}
static const char *scname(int32_t s) {
    switch (s) { case 1: return "device"; case 2: return "workgroup"; case 3: return "subgroup"; case 5: return "queuefamily"; default: return "other"; }
}

static int has_ext(VkExtensionProperties *e, uint32_t n, const char *name) {
    for (uint32_t i = 0; i < n; i++) if (!strcmp(e[i].extensionName, name)) return 1;
    return 0;
}

int main(int argc, char **argv) {
    (void)argc;
    /* directory of the executable, for shaders/ */
    ssize_t k = readlink("/proc/self/exe", exe_dir, sizeof exe_dir - 1);
    if (k > 0) exe_dir[k] = 0; else snprintf(exe_dir, sizeof exe_dir, "%s", argv[0]);
    char *slash = strrchr(exe_dir, '/');
    if (slash) *slash = 0; else snprintf(exe_dir, sizeof exe_dir, ".");

    jp("{\n \"tool\": \"cm2probe\"");
    /* until the device is known, results array opens at the end of the header */
    void *lib = dlopen("libvulkan.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib) { fatal(2, "dlopen(libvulkan.so.1) failed: %s", dlerror()); }
    vkGetInstanceProcAddr_ = (PFN_vkGetInstanceProcAddr)dlsym(lib, "vkGetInstanceProcAddr");
    if (!vkGetInstanceProcAddr_) { fatal(2, "vkGetInstanceProcAddr not exported by libvulkan.so.1"); }
    vkCreateInstance_ = (PFN_vkCreateInstance)vkGetInstanceProcAddr_(NULL, "vkCreateInstance");
    vkEnumerateInstanceVersion_ = (PFN_vkEnumerateInstanceVersion)vkGetInstanceProcAddr_(NULL, "vkEnumerateInstanceVersion");
    uint32_t iver = VK_API_VERSION_1_0;
    if (vkEnumerateInstanceVersion_) vkEnumerateInstanceVersion_(&iver);
    if (iver < VK_API_VERSION_1_3) { fatal(2, "Vulkan loader supports only %u.%u; need 1.3", VK_VERSION_MAJOR(iver), VK_VERSION_MINOR(iver)); }

    VkApplicationInfo app = { VK_STRUCTURE_TYPE_APPLICATION_INFO };
    app.pApplicationName = "cm2probe"; app.apiVersion = VK_API_VERSION_1_3;
    VkInstanceCreateInfo ici = { VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO };
    ici.pApplicationInfo = &app;
    { VkResult r = vkCreateInstance_(&ici, NULL, &inst);
      if (r) { fatal(2, "vkCreateInstance failed: %s (%d)", vkres(r), (int)r); } }
#define LOADI(X) X##_ = (PFN_##X)vkGetInstanceProcAddr_(inst, #X); \
    if (!X##_) { fatal(2, "instance function %s missing", #X); }
    INSTANCE_FNS(LOADI)

    uint32_t npd = 0;
    { VkResult r = vkEnumeratePhysicalDevices_(inst, &npd, NULL);
      if (r || npd == 0) { fatal(2, "no Vulkan physical device (%s)", vkres(r)); } }
    VkPhysicalDevice *pds = calloc(npd, sizeof *pds);
    { VkResult r = vkEnumeratePhysicalDevices_(inst, &npd, pds);
      if (r && r != VK_INCOMPLETE) { fatal(2, "vkEnumeratePhysicalDevices: %s", vkres(r)); } }
    int pick = -1;
    for (uint32_t i = 0; i < npd; i++) {
        VkPhysicalDeviceProperties p; vkGetPhysicalDeviceProperties_(pds[i], &p);
        if (p.deviceType == VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU) { pick = (int)i; break; }
    }
    int discrete = pick >= 0;
    if (pick < 0) pick = 0; /* no discrete GPU: take the first device; the extension check decides */
    pd = pds[pick];
    vkGetPhysicalDeviceProperties_(pd, &props);
    fprintf(stderr, "device: %s (%s), api %u.%u.%u, driver 0x%x\n", props.deviceName, discrete ? "discrete" : "NOT discrete",
            VK_VERSION_MAJOR(props.apiVersion), VK_VERSION_MINOR(props.apiVersion), VK_VERSION_PATCH(props.apiVersion), props.driverVersion);
    VkPhysicalDeviceDriverProperties drvp = { VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES };
    VkPhysicalDeviceSubgroupProperties sgp = { VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES };
    sgp.pNext = &drvp;
    VkPhysicalDeviceProperties2 p2 = { VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2 };
    p2.pNext = &sgp;
    vkGetPhysicalDeviceProperties2_(pd, &p2);
    jp(",\n \"device\": "); jstr(props.deviceName);
    jp(",\n \"discrete\": %s,\n \"api_version\": \"%u.%u.%u\",\n \"driver_version_raw\": %u,\n \"driver_name\": ",
       discrete ? "true" : "false", VK_VERSION_MAJOR(props.apiVersion), VK_VERSION_MINOR(props.apiVersion),
       VK_VERSION_PATCH(props.apiVersion), props.driverVersion);
    jstr(drvp.driverName); jp(",\n \"driver_info\": "); jstr(drvp.driverInfo);
    jp(",\n \"subgroup_size\": %u,\n \"timestamp_period_ns\": %g", sgp.subgroupSize, (double)props.limits.timestampPeriod);

    uint32_t next = 0;
    VK(vkEnumerateDeviceExtensionProperties_(pd, NULL, &next, NULL));
    VkExtensionProperties *exts = calloc(next ? next : 1, sizeof *exts);
    VK(vkEnumerateDeviceExtensionProperties_(pd, NULL, &next, exts));
    int have_khr = has_ext(exts, next, "VK_KHR_cooperative_matrix");
    int have_nv2 = has_ext(exts, next, "VK_NV_cooperative_matrix2");
    jp(",\n \"VK_KHR_cooperative_matrix\": %s,\n \"VK_NV_cooperative_matrix2\": %s", have_khr ? "true" : "false", have_nv2 ? "true" : "false");
    if (props.apiVersion < VK_API_VERSION_1_3) { fatal(2, "device supports Vulkan %u.%u; need 1.3", VK_VERSION_MAJOR(props.apiVersion), VK_VERSION_MINOR(props.apiVersion)); }
    if (!have_khr) {
        fatal(2, "device '%s' lacks VK_KHR_cooperative_matrix%s; nothing to measure", props.deviceName,
              have_nv2 ? "" : " and VK_NV_cooperative_matrix2");
    }

    /* features */
    CoopMat2FeaturesNV f_nv2 = { ST_PD_COOPMAT2_FEATURES_NV };
    CoopMatFeaturesKHR f_khr = { ST_PD_COOPMAT_FEATURES_KHR };
    VkPhysicalDeviceVulkan13Features f13 = { VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES };
    VkPhysicalDeviceVulkan12Features f12 = { VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES };
    VkPhysicalDeviceVulkan11Features f11 = { VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES };
    f11.pNext = &f12; f12.pNext = &f13; f13.pNext = &f_khr; f_khr.pNext = have_nv2 ? &f_nv2 : NULL;
    VkPhysicalDeviceFeatures2 f2 = { VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2 };
    f2.pNext = &f11;
    vkGetPhysicalDeviceFeatures2_(pd, &f2);
    char missing[512] = "";
#define NEED(cond, what) if (!(cond)) { strncat(missing, " " what, sizeof missing - strlen(missing) - 1); }
    NEED(f_khr.cooperativeMatrix, "cooperativeMatrix");
    NEED(f12.shaderFloat16, "shaderFloat16");
    NEED(f11.storageBuffer16BitAccess, "storageBuffer16BitAccess");
    NEED(f12.vulkanMemoryModel, "vulkanMemoryModel");
    if (missing[0]) { fatal(2, "device lacks required features:%s", missing); }
    int nv2_ok = have_nv2 && f_nv2.cooperativeMatrixWorkgroupScope && f_nv2.cooperativeMatrixFlexibleDimensions &&
                 f_nv2.cooperativeMatrixTensorAddressing;
    char nv2_missing[256] = "";
    if (!have_nv2) snprintf(nv2_missing, sizeof nv2_missing, "extension VK_NV_cooperative_matrix2 not offered");
    else if (!nv2_ok) snprintf(nv2_missing, sizeof nv2_missing, "VK_NV_cooperative_matrix2 features missing:%s%s%s",
                               f_nv2.cooperativeMatrixWorkgroupScope ? "" : " cooperativeMatrixWorkgroupScope",
                               f_nv2.cooperativeMatrixFlexibleDimensions ? "" : " cooperativeMatrixFlexibleDimensions",
                               f_nv2.cooperativeMatrixTensorAddressing ? "" : " cooperativeMatrixTensorAddressing");
    if (have_nv2)
        jp(",\n \"coopmat2_features\": {\"workgroupScope\": %u, \"flexibleDimensions\": %u, \"reductions\": %u, \"conversions\": %u, "
           "\"perElementOperations\": %u, \"tensorAddressing\": %u, \"blockLoads\": %u}",
           f_nv2.cooperativeMatrixWorkgroupScope, f_nv2.cooperativeMatrixFlexibleDimensions, f_nv2.cooperativeMatrixReductions,
           f_nv2.cooperativeMatrixConversions, f_nv2.cooperativeMatrixPerElementOperations, f_nv2.cooperativeMatrixTensorAddressing,
           f_nv2.cooperativeMatrixBlockLoads);
    full_subgroups_ok = f13.subgroupSizeControl && f13.computeFullSubgroups;

    /* enable exactly what we use */
    VkPhysicalDeviceVulkan11Features e11 = { VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES };
    VkPhysicalDeviceVulkan12Features e12 = { VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES };
    VkPhysicalDeviceVulkan13Features e13 = { VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES };
    CoopMatFeaturesKHR e_khr = { ST_PD_COOPMAT_FEATURES_KHR };
    CoopMat2FeaturesNV e_nv2 = { ST_PD_COOPMAT2_FEATURES_NV };
    e11.storageBuffer16BitAccess = VK_TRUE;
    e12.shaderFloat16 = VK_TRUE; e12.vulkanMemoryModel = VK_TRUE;
    e12.vulkanMemoryModelDeviceScope = f12.vulkanMemoryModelDeviceScope;
    e13.subgroupSizeControl = f13.subgroupSizeControl; e13.computeFullSubgroups = f13.computeFullSubgroups;
    e13.maintenance4 = f13.maintenance4;
    e_khr.cooperativeMatrix = VK_TRUE;
    e_nv2 = f_nv2; e_nv2.sType = ST_PD_COOPMAT2_FEATURES_NV; e_nv2.pNext = NULL; /* all offered coopmat2 features */
    e11.pNext = &e12; e12.pNext = &e13; e13.pNext = &e_khr; e_khr.pNext = nv2_ok ? &e_nv2 : NULL;
    VkPhysicalDeviceFeatures2 ef = { VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2 };
    ef.pNext = &e11;

    uint32_t nq = 0;
    vkGetPhysicalDeviceQueueFamilyProperties_(pd, &nq, NULL);
    VkQueueFamilyProperties *qf = calloc(nq ? nq : 1, sizeof *qf);
    vkGetPhysicalDeviceQueueFamilyProperties_(pd, &nq, qf);
    int qpick = -1;
    for (uint32_t i = 0; i < nq; i++) /* prefer the graphics+compute family (the usual "main" queue) */
        if ((qf[i].queueFlags & VK_QUEUE_COMPUTE_BIT) && (qf[i].queueFlags & VK_QUEUE_GRAPHICS_BIT) && qf[i].timestampValidBits) { qpick = (int)i; break; }
    if (qpick < 0)
        for (uint32_t i = 0; i < nq; i++)
            if ((qf[i].queueFlags & VK_QUEUE_COMPUTE_BIT) && qf[i].timestampValidBits) { qpick = (int)i; break; }
    if (qpick < 0) { fatal(2, "no compute queue with timestamps"); }
    qfam = (uint32_t)qpick;
    ts_mask = qf[qfam].timestampValidBits >= 64 ? ~0ull : ((1ull << qf[qfam].timestampValidBits) - 1);
    ts_period_ns = props.limits.timestampPeriod;

    float prio = 1.0f;
    VkDeviceQueueCreateInfo qci = { VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO };
    qci.queueFamilyIndex = qfam; qci.queueCount = 1; qci.pQueuePriorities = &prio;
    const char *dext[2] = { "VK_KHR_cooperative_matrix", "VK_NV_cooperative_matrix2" };
    VkDeviceCreateInfo dci = { VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO };
    dci.pNext = &ef;
    dci.queueCreateInfoCount = 1; dci.pQueueCreateInfos = &qci;
    dci.enabledExtensionCount = nv2_ok ? 2 : 1; dci.ppEnabledExtensionNames = dext;
    { VkResult r = vkCreateDevice_(pd, &dci, NULL, &dev);
      if (r) { fatal(2, "vkCreateDevice failed: %s (%d)", vkres(r), (int)r); } }
#define LOADD(X) X##_ = (PFN_##X)vkGetDeviceProcAddr_(dev, #X); \
    if (!X##_) { fatal(2, "device function %s missing", #X); }
    DEVICE_FNS(LOADD)
    getCoopMatPropsKHR = (PFN_GetCoopMatPropsKHR)vkGetInstanceProcAddr_(inst, "vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR");
    if (nv2_ok) getCoopMatFlexPropsNV = (PFN_GetCoopMatFlexPropsNV)vkGetInstanceProcAddr_(inst, "vkGetPhysicalDeviceCooperativeMatrixFlexibleDimensionsPropertiesNV");
    vkGetDeviceQueue_(dev, qfam, 0, &queue);
    vkGetPhysicalDeviceMemoryProperties_(pd, &memprops);

    /* property lists */
    int khr_f16_16 = 0;
    if (getCoopMatPropsKHR) {
        uint32_t n = 0;
        VK(getCoopMatPropsKHR(pd, &n, NULL));
        CoopMatPropertiesKHR *cp = calloc(n ? n : 1, sizeof *cp);
        for (uint32_t i = 0; i < n; i++) cp[i].sType = ST_COOPMAT_PROPERTIES_KHR;
        VK(getCoopMatPropsKHR(pd, &n, cp));
        jp(",\n \"coopmat_khr_properties\": [");
        for (uint32_t i = 0; i < n; i++) {
            jp("%s\n  {\"M\": %u, \"N\": %u, \"K\": %u, \"A\": \"%s\", \"B\": \"%s\", \"C\": \"%s\", \"R\": \"%s\", \"sat\": %u, \"scope\": \"%s\"}",
               i ? "," : "", cp[i].MSize, cp[i].NSize, cp[i].KSize, ctname(cp[i].AType), ctname(cp[i].BType), ctname(cp[i].CType),
               ctname(cp[i].ResultType), cp[i].saturatingAccumulation, scname(cp[i].scope));
            if (cp[i].MSize == 16 && cp[i].NSize == 16 && cp[i].KSize == 16 && cp[i].AType == CT_F16 && cp[i].BType == CT_F16 &&
                cp[i].CType == CT_F32 && cp[i].ResultType == CT_F32 && cp[i].scope == SCOPE_SUBGROUP) khr_f16_16 = 1;
        }
        jp("\n ]");
        free(cp);
    } else {
        jp(",\n \"coopmat_khr_properties\": null");
    }
    /* workgroup sizes allowed for fp16 x fp16 -> fp32 workgroup-scope matrices */
    uint32_t wg_sizes[8]; int n_wg = 0;
    uint32_t gran[3] = { 16, 16, 16 };
    if (nv2_ok) {
        CoopMat2PropertiesNV p_nv2 = { ST_PD_COOPMAT2_PROPERTIES_NV };
        VkPhysicalDeviceProperties2 pp = { VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2 };
        pp.pNext = &p_nv2;
        vkGetPhysicalDeviceProperties2_(pd, &pp);
        jp(",\n \"coopmat2_properties\": {\"workgroupScopeMaxWorkgroupSize\": %u, \"flexibleDimensionsMaxDimension\": %u, "
           "\"workgroupScopeReservedSharedMemory\": %u}", p_nv2.cooperativeMatrixWorkgroupScopeMaxWorkgroupSize,
           p_nv2.cooperativeMatrixFlexibleDimensionsMaxDimension, p_nv2.cooperativeMatrixWorkgroupScopeReservedSharedMemory);
        if (getCoopMatFlexPropsNV) {
            uint32_t n = 0;
            VK(getCoopMatFlexPropsNV(pd, &n, NULL));
            CoopMatFlexPropertiesNV *fp = calloc(n ? n : 1, sizeof *fp);
            for (uint32_t i = 0; i < n; i++) fp[i].sType = ST_COOPMAT_FLEX_PROPERTIES_NV;
            VK(getCoopMatFlexPropsNV(pd, &n, fp));
            jp(",\n \"coopmat2_flexible_dimensions_properties\": [");
            for (uint32_t i = 0; i < n; i++) {
                jp("%s\n  {\"MGran\": %u, \"NGran\": %u, \"KGran\": %u, \"A\": \"%s\", \"B\": \"%s\", \"C\": \"%s\", \"R\": \"%s\", "
                   "\"sat\": %u, \"scope\": \"%s\", \"workgroupInvocations\": %u}",
                   i ? "," : "", fp[i].MGranularity, fp[i].NGranularity, fp[i].KGranularity, ctname(fp[i].AType), ctname(fp[i].BType),
                   ctname(fp[i].CType), ctname(fp[i].ResultType), fp[i].saturatingAccumulation, scname(fp[i].scope), fp[i].workgroupInvocations);
                if (fp[i].scope == SCOPE_WORKGROUP && fp[i].AType == CT_F16 && fp[i].BType == CT_F16 && fp[i].CType == CT_F32 &&
                    fp[i].ResultType == CT_F32 && n_wg < 8) {
                    int dup = 0;
                    for (int q = 0; q < n_wg; q++) if (wg_sizes[q] == fp[i].workgroupInvocations) dup = 1;
                    if (!dup) wg_sizes[n_wg++] = fp[i].workgroupInvocations;
                    gran[0] = fp[i].MGranularity; gran[1] = fp[i].NGranularity; gran[2] = fp[i].KGranularity;
                }
            }
            jp("\n ]");
            free(fp);
        } else {
            snprintf(nv2_missing, sizeof nv2_missing, "vkGetPhysicalDeviceCooperativeMatrixFlexibleDimensionsPropertiesNV not found");
            nv2_ok = 0;
        }
        if (nv2_ok && n_wg == 0) {
            snprintf(nv2_missing, sizeof nv2_missing, "no workgroup-scope f16*f16+f32 entry in the flexible-dimensions list");
            nv2_ok = 0;
        }
    }
    if (nv2_missing[0]) { jp(",\n \"coopmat2_missing\": "); jstr(nv2_missing); }
    open_results();
    if (!khr_f16_16) fatal(2, "no subgroup-scope 16x16x16 f16*f16+f32 entry in VkCooperativeMatrixPropertiesKHR");

    /* common objects */
    VkDescriptorSetLayoutBinding b[3];
    for (int i = 0; i < 3; i++) {
        memset(&b[i], 0, sizeof b[i]);
        b[i].binding = (uint32_t)i; b[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
        b[i].descriptorCount = 1; b[i].stageFlags = VK_SHADER_STAGE_COMPUTE_BIT;
    }
    VkDescriptorSetLayoutCreateInfo dli = { VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO };
    dli.bindingCount = 3; dli.pBindings = b;
    VK(vkCreateDescriptorSetLayout_(dev, &dli, NULL, &dsl));
    VkPushConstantRange pcr = { VK_SHADER_STAGE_COMPUTE_BIT, 0, 16 };
    VkPipelineLayoutCreateInfo pli = { VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO };
    pli.setLayoutCount = 1; pli.pSetLayouts = &dsl; pli.pushConstantRangeCount = 1; pli.pPushConstantRanges = &pcr;
    VK(vkCreatePipelineLayout_(dev, &pli, NULL, &playout));
    VkDescriptorPoolSize ps = { VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 64 };
    VkDescriptorPoolCreateInfo dpi = { VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO };
    dpi.maxSets = 16; dpi.poolSizeCount = 1; dpi.pPoolSizes = &ps;
    VK(vkCreateDescriptorPool_(dev, &dpi, NULL, &dpool));
    VkCommandPoolCreateInfo cpi = { VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO };
    cpi.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT; cpi.queueFamilyIndex = qfam;
    VK(vkCreateCommandPool_(dev, &cpi, NULL, &cpool));
    VkCommandBufferAllocateInfo cai = { VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO };
    cai.commandPool = cpool; cai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY; cai.commandBufferCount = 1;
    VK(vkAllocateCommandBuffers_(dev, &cai, &cmd));
    VkFenceCreateInfo fci = { VK_STRUCTURE_TYPE_FENCE_CREATE_INFO };
    VK(vkCreateFence_(dev, &fci, NULL, &fence));
    VkQueryPoolCreateInfo qpi = { VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO };
    qpi.queryType = VK_QUERY_TYPE_TIMESTAMP; qpi.queryCount = 2 * MAX_REPS;
    VK(vkCreateQueryPool_(dev, &qpi, NULL, &qpool));

    /* small operand buffers for the peak kernels: up to 256x64 fp16 values each */
    VK(make_buffer(&small_a, 1 << 20, 1));
    VK(make_buffer(&small_b, 1 << 20, 1));
    VK(make_buffer(&small_out, 16u * 256 * 256 * 4, 0));
    for (size_t i = 0; i < (1u << 19); i++) {
        ((uint16_t *)small_a.map)[i] = f2h(frand() * (1.0f / 64));
        ((uint16_t *)small_b.map)[i] = f2h(frand() * (1.0f / 64));
    }
    small_set = make_set(&small_a, &small_b, &small_out);

    /* (a) KHR subgroup-scope peak */
    static const int khr_cfg[][2] = { { 2, 2 }, { 2, 4 }, { 4, 4 } };
    for (unsigned i = 0; i < sizeof khr_cfg / sizeof khr_cfg[0]; i++) run_khr_peak(khr_cfg[i][0], khr_cfg[i][1], 128);
    run_khr_peak(2, 4, 256);

    if (!nv2_ok) {
        fprintf(stderr, "cm2probe: VK_NV_cooperative_matrix2 part skipped: %s\n", nv2_missing);
        result_begin(); jp("{\"name\": \"cm2\", \"error\": "); jstr(nv2_missing); jp("}");
        finish(3);
    }

    /* (b) coopmat2 workgroup-scope peak, for each allowed workgroup size */
    static const uint32_t peak_cfg[][3] = { { 64, 64, 16 }, { 64, 64, 32 }, { 128, 128, 16 }, { 128, 128, 32 },
                                            { 128, 256, 32 }, { 256, 128, 32 } };
    for (int w = 0; w < n_wg; w++)
        for (unsigned i = 0; i < sizeof peak_cfg / sizeof peak_cfg[0]; i++) {
            const uint32_t *c = peak_cfg[i];
            if (c[0] % gran[0] || c[1] % gran[1] || c[2] % gran[2]) continue;
            run_cm2_peak(c[0], c[1], c[2], wg_sizes[w]);
        }

    /* (c) GEMM */
    static const uint32_t gemm_cfg[][3] = { { 128, 128, 32 }, { 128, 128, 64 }, { 128, 256, 32 }, { 256, 128, 32 },
                                            { 128, 256, 64 }, { 64, 64, 32 } };
    /* workgroup-scope GEMM tiles need >= 128 invocations (smaller ones spill, see README) */
    for (int pass = 0; pass < 3; pass++) {
        uint32_t S = pass < 2 ? 8192 : 4096;
        int bt = pass != 1;
        for (int w = 0; w < n_wg; w++) {
            if (wg_sizes[w] < 128) continue;
            for (unsigned i = 0; i < sizeof gemm_cfg / sizeof gemm_cfg[0]; i++) {
                const uint32_t *c = gemm_cfg[i];
                if (c[0] % gran[0] || c[1] % gran[1] || c[2] % gran[2]) continue;
                run_gemm(S, c[0], c[1], c[2], wg_sizes[w], bt);
            }
        }
    }
    finish(exit_code);
    return 0;
}
