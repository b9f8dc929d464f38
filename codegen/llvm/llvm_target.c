/* codegen/llvm/llvm_target.c — targets and output of the LLVM emitter: the target machine
 * (host CPU and features by default, or a cross triple with -mcpu/-mattr), the
 * default<ON> pass pipeline, and cg_llvm_emit writing an object, assembly or LLVM IR.
 * Object bytes depend only on the module and options: no paths, times or addresses. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <llvm-c/Error.h>
#include <llvm-c/Transforms/PassBuilder.h>
#include "llvm_int.h"
#include "util.h"

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void
init_targets(void)
{
    LLVMInitializeAllTargetInfos();
    LLVMInitializeAllTargets();
    LLVMInitializeAllTargetMCs();
    LLVMInitializeAllAsmPrinters();
    LLVMInitializeAllAsmParsers();
}

static LLVMCodeGenOptLevel
cg_level(int level)
{
    switch (level) {
    case 0:  return LLVMCodeGenLevelNone;
    case 1:  return LLVMCodeGenLevelLess;
    case 3:  return LLVMCodeGenLevelAggressive;
    default: return LLVMCodeGenLevelDefault;
    }
}

LLVMTargetMachineRef
lx_target_machine(const CgLlvmOptions *lo, char **triple, Diag *d)
{
    static const CgLlvmOptions defaults = { .opt_level = 2, .pic = 1 };
    if (!lo)
        lo = &defaults;
    pthread_once(&init_once, init_targets);
    int host = lo->triple == NULL;
    *triple = host ? LLVMGetDefaultTargetTriple() : LLVMNormalizeTargetTriple(lo->triple);
    LLVMTargetRef t;
    char *err = NULL;
    if (LLVMGetTargetFromTriple(*triple, &t, &err)) {
        diag_error(d, (SrcLoc){ 0 }, "unknown target '%s': %s", lo->triple ? lo->triple : *triple,
                   err ? err : "no such target");
        LLVMDisposeMessage(err);
        LLVMDisposeMessage(*triple);
        *triple = NULL;
        return NULL;
    }
    char *hcpu = host && !lo->cpu ? LLVMGetHostCPUName() : NULL;
    char *hfeat = host && !lo->features ? LLVMGetHostCPUFeatures() : NULL;
    const char *cpu = lo->cpu ? lo->cpu : hcpu ? hcpu : "generic";
    /* riscv64 Linux means rv64gc (what clang and gcc assume), whose D extension the lp64d
     * ABI below needs */
    const char *feat = lo->features ? lo->features : hfeat ? hfeat :
                       strncmp(*triple, "riscv64", 7) == 0 ? "+m,+a,+f,+d,+c" : "";
    LLVMTargetMachineRef tm = LLVMCreateTargetMachine(t, *triple, cpu, feat,
        cg_level(lo->opt_level), lo->pic ? LLVMRelocPIC : LLVMRelocStatic, LLVMCodeModelDefault);
    if (hcpu)
        LLVMDisposeMessage(hcpu);
    if (hfeat)
        LLVMDisposeMessage(hfeat);
    if (!tm) {
        diag_error(d, (SrcLoc){ 0 }, "cannot create a target machine for '%s'", *triple);
        LLVMDisposeMessage(*triple);
        *triple = NULL;
    }
    return tm;
}

int
lx_optimize(Lx *x, LLVMTargetMachineRef tm, int level)
{
    char pipeline[64];
    level = level < 0 ? 0 : level > 3 ? 3 : level;
    /* -O2/-O3 run the pipeline twice: the second round fully unrolls the short reduction
     * loops the first unrolled by 8 and hoists their loop-invariant conversions (inline
     * matmuls: ~1.25x on samples/mlp, same results bit for bit) */
    if (level >= 2)
        snprintf(pipeline, sizeof pipeline, "default<O%d>,default<O%d>", level, level);
    else
        snprintf(pipeline, sizeof pipeline, "default<O%d>", level);
    LLVMPassBuilderOptionsRef po = LLVMCreatePassBuilderOptions();
    LLVMPassBuilderOptionsSetLoopVectorization(po, level >= 2);
    LLVMPassBuilderOptionsSetSLPVectorization(po, level >= 2);
    LLVMErrorRef e = LLVMRunPasses(x->mod, pipeline, tm, po);
    LLVMDisposePassBuilderOptions(po);
    if (e) {
        char *msg = LLVMGetErrorMessage(e);
        diag_error(x->d, (SrcLoc){ 0 }, "internal error: LLVM pipeline '%s' failed: %s",
                   pipeline, msg);
        LLVMDisposeErrorMessage(msg);
        return -1;
    }
    return 0;
}

/* riscv64 Linux passes floats in FP registers (lp64d) when the D extension is there; LLVM
 * needs the ABI as a module flag, else it defaults to soft-float lp64. */
static void
abi_flags(Lx *x, const char *triple, LLVMTargetMachineRef tm)
{
    if (strncmp(triple, "riscv64", 7) != 0)
        return;
    char *feat = LLVMGetTargetMachineFeatureString(tm);
    int hard = feat && strstr(feat, "+d") != NULL;
    LLVMDisposeMessage(feat);
    const char *abi = hard ? "lp64d" : "lp64";
    LLVMAddModuleFlag(x->mod, LLVMModuleFlagBehaviorError, "target-abi", 10,
                      LLVMMDStringInContext2(x->ctx, abi, strlen(abi)));
}

/* Writes the optimised module as kind to out. */
static int
write_out(Lx *x, LLVMTargetMachineRef tm, CgLlvmEmitKind kind, FILE *out)
{
    if (kind == CG_LLVM_IR) {
        char *s = LLVMPrintModuleToString(x->mod);
        fputs(s, out);
        LLVMDisposeMessage(s);
        return 0;
    }
    char *err = NULL;
    LLVMMemoryBufferRef buf = NULL;
    if (LLVMTargetMachineEmitToMemoryBuffer(tm, x->mod, kind == CG_LLVM_ASM ? LLVMAssemblyFile
                                            : LLVMObjectFile, &err, &buf)) {
        diag_error(x->d, (SrcLoc){ 0 }, "internal error: LLVM code generation failed: %s",
                   err ? err : "unknown error");
        LLVMDisposeMessage(err);
        return -1;
    }
    size_t n = LLVMGetBufferSize(buf);
    int st = fwrite(LLVMGetBufferStart(buf), 1, n, out) == n ? 0 : -1;
    LLVMDisposeMemoryBuffer(buf);
    if (st < 0)
        diag_error(x->d, (SrcLoc){ 0 }, "cannot write the %s output",
                   kind == CG_LLVM_ASM ? "assembly" : "object");
    return st;
}

static int
weights_bin(const CgModule *m, FILE *bin, Diag *d)
{
    static const unsigned char zero[64];
    int64_t at = 0;
    for (int i = 0; i < m->nconst; i++) {
        const CgConst *c = &m->consts[i];
        if (!c->used)
            continue;
        size_t pad = (size_t)(c->file_offset - at);
        if (fwrite(zero, 1, pad, bin) != pad ||
            fwrite(c->data, 1, (size_t)c->bytes, bin) != (size_t)c->bytes) {
            diag_error(d, (SrcLoc){ 0 }, "cannot write the weights file");
            return -1;
        }
        at = c->file_offset + c->bytes;
    }
    return 0;
}

int
cg_llvm_emit(Graph *g, const CgOptions *o, const CgLlvmOptions *lo, CgLlvmEmitKind kind,
             FILE *out, FILE *h_out, FILE *bin_out, Diag *d)
{
    int level = lo ? lo->opt_level : 2;
    if (o && o->weights_external && !bin_out) {
        diag_error(d, (SrcLoc){ 0 }, "weights_external needs a weights output file");
        return -1;
    }
    CgModule *m = cg_lower(g, o, d);
    if (!m)
        return -1;
    char *triple = NULL;
    LLVMTargetMachineRef tm = lx_target_machine(lo, &triple, d);
    if (!tm) {
        cg_module_free(m);
        return -1;
    }
    Lx x;
    lx_init(&x, m, tm, triple, NULL, d);
    x.debug = lo && lo->debug;
    abi_flags(&x, triple, tm);
    int st = lx_build(&x);
    if (st == 0)
        st = lx_verify(&x);
    if (st == 0)
        st = lx_optimize(&x, tm, level);
    if (st == 0)
        st = write_out(&x, tm, kind, out);
    if (st == 0 && h_out)
        cg_header_write(m, h_out);
    if (st == 0 && m->opt.weights_external)
        st = weights_bin(m, bin_out, d);
    if (st == 0 && (ferror(out) || (h_out && ferror(h_out)))) {
        diag_error(d, (SrcLoc){ 0 }, "cannot write the generated code");
        st = -1;
    }
    lx_free(&x);
    LLVMDisposeTargetMachine(tm);
    LLVMDisposeMessage(triple);
    cg_module_free(m);
    return st;
}
