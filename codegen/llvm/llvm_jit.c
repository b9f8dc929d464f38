/* codegen/llvm/llvm_jit.c — `kiln run --backend=llvm`: the model's module compiled in
 * process by ORC LLJIT for the host, no C compiler involved.  libkilnrt functions are
 * defined in the JIT as absolute symbols (their addresses in this process), libm and libc
 * come from the process's own symbol table. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <llvm-c/Error.h>
#include <llvm-c/LLJIT.h>
#include <llvm-c/Orc.h>
#include "llvm_int.h"
#include "util.h"

struct CgJit {
    LLVMOrcLLJITRef        jit;    /* owns the compiled code */
    const kiln_model_info *info;   /* P_info inside the JIT'd code */
};

/* The runtime and libm functions generated code may call.  KEEP-IN-SYNC(llvm-rt): every
 * name llvm_kernels.c and llvm_loops.c pass to lx_extern_fn. */
static const struct {
    const char *name;
    void (*fn)(void);
} rt_syms[] = {
    { "kiln_conv2d_f32", (void (*)(void))kiln_conv2d_f32 },
    { "kiln_maxpool2d_f32", (void (*)(void))kiln_maxpool2d_f32 },
    { "kiln_avgpool2d_f32", (void (*)(void))kiln_avgpool2d_f32 },
    { "kiln_global_avgpool_f32", (void (*)(void))kiln_global_avgpool_f32 },
    { "kiln_softmax_f32", (void (*)(void))kiln_softmax_f32 },
    { "kiln_log_softmax_f32", (void (*)(void))kiln_log_softmax_f32 },
    { "kiln_layernorm_f32", (void (*)(void))kiln_layernorm_f32 },
    { "kiln_rmsnorm_f32", (void (*)(void))kiln_rmsnorm_f32 },
    { "kiln_sgemm", (void (*)(void))kiln_sgemm },
    { "kiln_parallel_for", (void (*)(void))kiln_parallel_for },
    /* libm through this binary's references, so a static link still resolves them */
    { "expf", (void (*)(void))expf }, { "logf", (void (*)(void))logf },
    { "powf", (void (*)(void))powf }, { "erff", (void (*)(void))erff },
    { "tanhf", (void (*)(void))tanhf }, { "exp", (void (*)(void))exp },
    { "log", (void (*)(void))log },
    /* the unary math ops; llvm.floor/ceil/sin/cos become these calls where the target has
     * no instruction (llvm.roundeven's roundevenf is not C11: found in the process) */
    { "floorf", (void (*)(void))floorf }, { "ceilf", (void (*)(void))ceilf },
    { "sinf", (void (*)(void))sinf }, { "cosf", (void (*)(void))cosf },
    { "tanf", (void (*)(void))tanf }, { "asinf", (void (*)(void))asinf },
    { "acosf", (void (*)(void))acosf }, { "atanf", (void (*)(void))atanf },
    { "sinhf", (void (*)(void))sinhf }, { "coshf", (void (*)(void))coshf },
    { "asinhf", (void (*)(void))asinhf }, { "acoshf", (void (*)(void))acoshf },
    { "atanhf", (void (*)(void))atanhf },
};

/* Reports e (consumed) as an error of `what`; returns -1. */
static int
jit_error(Diag *d, LLVMErrorRef e, const char *what)
{
    char *msg = LLVMGetErrorMessage(e);
    diag_error(d, (SrcLoc){ 0 }, "internal error: LLVM JIT: %s: %s", what, msg);
    LLVMDisposeErrorMessage(msg);
    return -1;
}

static int
define_runtime(CgJit *j, Diag *d)
{
    enum { NSYM = sizeof rt_syms / sizeof *rt_syms };
    LLVMOrcCSymbolMapPair pairs[NSYM];
    for (int i = 0; i < NSYM; i++) {
        pairs[i].Name = LLVMOrcLLJITMangleAndIntern(j->jit, rt_syms[i].name);
        pairs[i].Sym.Address = (LLVMOrcExecutorAddress)(uintptr_t)rt_syms[i].fn;
        pairs[i].Sym.Flags.GenericFlags = LLVMJITSymbolGenericFlagsExported |
                                          LLVMJITSymbolGenericFlagsCallable;
        pairs[i].Sym.Flags.TargetFlags = 0;
    }
    LLVMOrcMaterializationUnitRef mu = LLVMOrcAbsoluteSymbols(pairs, NSYM);
    LLVMOrcJITDylibRef jd = LLVMOrcLLJITGetMainJITDylib(j->jit);
    LLVMErrorRef e = LLVMOrcJITDylibDefine(jd, mu);
    if (e) {
        LLVMOrcDisposeMaterializationUnit(mu);
        return jit_error(d, e, "defining the runtime symbols");
    }
    /* memcpy, memmove and anything else from the process */
    LLVMOrcDefinitionGeneratorRef gen;
    e = LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess(&gen,
            LLVMOrcLLJITGetGlobalPrefix(j->jit), NULL, NULL);
    if (e)
        return jit_error(d, e, "searching the process's symbols");
    LLVMOrcJITDylibAddGenerator(jd, gen);
    return 0;
}

/* Builds, verifies and optimises the module in a thread-safe context and hands it to the
 * JIT.  0 or -1. */
static int
add_module(CgJit *j, CgModule *m, const CgLlvmOptions *lo, LLVMTargetMachineRef tm,
           const char *triple, Diag *d)
{
    LLVMOrcThreadSafeContextRef tsc = LLVMOrcCreateNewThreadSafeContext();
    Lx x;
    lx_init(&x, m, tm, triple, LLVMOrcThreadSafeContextGetContext(tsc), d);
    int st = lx_build(&x);
    if (st == 0)
        st = lx_verify(&x);
    if (st == 0)
        st = lx_optimize(&x, tm, lo ? lo->opt_level : 2);
    if (st == 0) {
        LLVMOrcThreadSafeModuleRef tsm = LLVMOrcCreateNewThreadSafeModule(x.mod, tsc);
        x.mod = NULL;   /* owned by tsm, then by the JIT */
        LLVMErrorRef e = LLVMOrcLLJITAddLLVMIRModule(j->jit, LLVMOrcLLJITGetMainJITDylib(j->jit),
                                                     tsm);
        if (e) {
            LLVMOrcDisposeThreadSafeModule(tsm);
            st = jit_error(d, e, "adding the module");
        }
    }
    lx_free(&x);
    LLVMOrcDisposeThreadSafeContext(tsc);
    return st;
}

static int
create(CgJit *j, const CgLlvmOptions *lo, LLVMTargetMachineRef *tm, char **triple, Diag *d)
{
    CgLlvmOptions host = lo ? *lo : (CgLlvmOptions){ .opt_level = 2, .pic = 1 };
    if (host.triple) {
        diag_error(d, (SrcLoc){ 0 }, "the JIT runs on the host only, got target '%s'",
                   host.triple);
        return -1;
    }
    host.pic = 1;
    *tm = lx_target_machine(&host, triple, d);
    /* a second machine for the JIT's builder, which takes ownership of it */
    char *t2 = NULL;
    LLVMTargetMachineRef jtm = *tm ? lx_target_machine(&host, &t2, d) : NULL;
    LLVMDisposeMessage(t2);
    if (!jtm)
        return -1;
    LLVMOrcLLJITBuilderRef jb = LLVMOrcCreateLLJITBuilder();
    LLVMOrcLLJITBuilderSetJITTargetMachineBuilder(jb,
        LLVMOrcJITTargetMachineBuilderCreateFromTargetMachine(jtm));
    LLVMErrorRef e = LLVMOrcCreateLLJIT(&j->jit, jb);   /* consumes jb */
    if (e) {
        j->jit = NULL;
        return jit_error(d, e, "creating the JIT");
    }
    return define_runtime(j, d);
}

CgJit *
cg_llvm_jit_new(Graph *g, const CgOptions *o, const CgLlvmOptions *lo, Diag *d)
{
    CgOptions co = o ? *o : (CgOptions){ 0 };
    co.weights_external = 0;
    CgJit *j = calloc(1, sizeof *j);
    if (!j)
        kiln_die("out of memory");
    CgModule *m = cg_lower(g, &co, d);
    if (!m) {
        free(j);
        return NULL;
    }
    LLVMTargetMachineRef tm = NULL;
    char *triple = NULL;
    int st = create(j, lo, &tm, &triple, d);
    if (st == 0)
        st = add_module(j, m, lo, tm, triple, d);
    if (st == 0) {
        char name[256];
        snprintf(name, sizeof name, "%s_info", m->prefix);
        LLVMOrcExecutorAddress addr = 0;
        LLVMErrorRef e = LLVMOrcLLJITLookup(j->jit, &addr, name);
        if (e)
            st = jit_error(d, e, "looking up the model");
        else
            j->info = (const kiln_model_info *)(uintptr_t)addr;
    }
    if (tm)
        LLVMDisposeTargetMachine(tm);
    if (triple)
        LLVMDisposeMessage(triple);
    cg_module_free(m);
    if (st < 0) {
        cg_llvm_jit_free(j);
        return NULL;
    }
    return j;
}

const kiln_model_info *
cg_llvm_jit_info(const CgJit *j)
{
    return j->info;
}

void
cg_llvm_jit_free(CgJit *j)
{
    if (!j)
        return;
    if (j->jit) {
        LLVMErrorRef e = LLVMOrcDisposeLLJIT(j->jit);
        if (e)
            LLVMConsumeError(e);
    }
    free(j);
}
