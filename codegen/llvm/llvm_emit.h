/* codegen/llvm/llvm_emit.h — the LLVM emitter's public interface: object files, assembly
 * and textual LLVM IR of a model through the LLVM 19 C API, and an in-process ORC JIT.
 * It consumes the same CgModule (and loop form) as the C emitter; the object and the
 * header are ABI-identical to the C backend's, so an app links either unchanged.
 */
#ifndef KILN_LLVM_EMIT_H
#define KILN_LLVM_EMIT_H

#include <stdio.h>
#include "codegen.h"
#include "kiln_model.h"

typedef enum {
    CG_LLVM_OBJ = 0,         /* relocatable object file (ELF on the targets tested) */
    CG_LLVM_ASM,             /* target assembly text */
    CG_LLVM_IR,              /* textual LLVM IR after optimisation, kernels annotated with
                                !kiln.op metadata: op, source location, kernel index */
    CG_LLVM_COUNT
} CgLlvmEmitKind;

typedef struct {
    const char *triple;      /* target triple; NULL = the host's */
    const char *cpu;         /* -mcpu; NULL = the host CPU for the host triple, else "generic" */
    const char *features;    /* -mattr ("+avx2,-fma"); NULL = the host's for the host
                                triple, else none */
    int         opt_level;   /* 0..3: LLVMRunPasses("default<ON>") and codegen level */
    int         pic;         /* 1: position-independent code; 0: static relocation model */
    int         debug;       /* 1: DWARF line tables mapping each kernel's code to its
                                node's source line (-g) */
} CgLlvmOptions;

/* llvm_target.c */
/* Lowers g (verified, shape-inferred, memplanned), builds and verifies its LLVM module,
 * optimises it for the target and writes `kind` to out, the public header (header.c's,
 * identical to the C backend's) to h_out (NULL = none) and with o->weights_external the
 * weights to bin_out.  lo NULL = host, -O2, PIC.  Returns 0, or -1 with errors in d (bad
 * target, unsupported construct, or an internal error naming the kiln op and location);
 * out may then hold partial bytes: callers write to temporaries. */
int cg_llvm_emit(Graph *g, const CgOptions *o, const CgLlvmOptions *lo, CgLlvmEmitKind kind,
                 FILE *out, FILE *h_out, FILE *bin_out, Diag *d);

/* llvm_jit.c */
typedef struct CgJit CgJit;
/* Compiles g for the host with ORC LLJIT (in process, no C compiler).  lo NULL = -O2;
 * lo->triple must be NULL or the host's.  Weights are embedded (o->weights_external is
 * ignored).  NULL with errors in d on failure. */
CgJit *cg_llvm_jit_new(Graph *g, const CgOptions *o, const CgLlvmOptions *lo, Diag *d);
/* The compiled model's P_info (valid until cg_llvm_jit_free): ports and the run entry. */
const kiln_model_info *cg_llvm_jit_info(const CgJit *j);
void cg_llvm_jit_free(CgJit *j);   /* NULL is a no-op */

#endif
